#!/usr/bin/env bash
# Usage errors (unknown command or flag, missing value, out-of-range value): exit 2 and exactly one line on
# stderr, "mqttpki CMD: error: ...", with the nearest command for a mistyped one. Help and version exit 0.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
export MQTTPKI_DIR="$T/pki"

# usage_error DESC PATTERN ARGS...: exit 2, one stderr line matching PATTERN, nothing on stdout.
usage_error() {
  local desc=$1 pattern=$2 rc=0; shift 2
  "$MQTTPKI" "$@" >"$T/.out" 2>"$T/.err" || rc=$?
  expect_eq "$desc: exit status" 2 "$rc"
  expect_eq "$desc: one line on stderr" 1 "$(wc -l <"$T/.err")"
  expect_match "$desc: message" "$pattern" "$T/.err"
  expect_eq "$desc: nothing on stdout" 0 "$(wc -c <"$T/.out")"
}

usage_error "mistyped command" '^mqttpki sgin: error: unknown command; did you mean `sign`\?$' sgin x.csr
usage_error "mistyped command 2" 'did you mean `renew`\?$' renw --all
usage_error "mistyped command 3" 'did you mean `init-ca`\?$' initca
usage_error "far from every command" '^mqttpki frobnicate: error: unknown command; see `mqttpki --help`' frobnicate
usage_error "no command" '^mqttpki: error: .*subcommand' 
usage_error "unknown flag" '^mqttpki renew: error: .*--bogus.*; see `mqttpki renew --help`$' renew --all --bogus
usage_error "missing value" '^mqttpki sign: error: .*--days' sign x.csr --days
usage_error "out of range" '^mqttpki renew: error: .*--days.*36500' renew --all --days 0
usage_error "not a number" '^mqttpki init-ca: error: .*--days' init-ca --cn X --days many
usage_error "not a member" '^mqttpki export-pem: error: .*--bundle' export-pem --bundle apache --out-dir d

expect_ok "--help exits 0" "$MQTTPKI" --help
expect_match "--help lists commands" "sign" "$T/.out"
expect_ok "command --help exits 0" "$MQTTPKI" renew --help
expect_ok "--version exits 0" "$MQTTPKI" --version
expect_eq "nothing was created" "no" "$([ -e "$T/pki" ] && echo yes || echo no)"
finish
