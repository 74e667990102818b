#!/usr/bin/env bash
# Renewal over MQTT from the command line: wrong or missing options of `agent`, `renew --via` and `crl --via`
# get one clear line and the usage exit code (2), or exit 1 naming the file; nothing is written.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
unset MQTTPKI_PASSPHRASE
export MQTTPKI_DIR="$T/pki"
expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Via CA"
expect_ok "csr" "$MQTTPKI" csr --new-key "$T/pi1.key" --cn pi1 --out "$T/pi1.csr"
expect_ok "sign" "$MQTTPKI" sign "$T/pi1.csr" --profile client --out "$T/pi1.crt"
expect_ok "other key" "$MQTTPKI" gen-key --out "$T/other.key"
CA=$T/pki/ca.crt
usage() {  # usage DESC PATTERN ARGS...: exit 2 and PATTERN on stderr
  local desc=$1 pattern=$2 rc=0; shift 2
  "$MQTTPKI" "$@" >"$T/.out" 2>"$T/.err" || rc=$?
  expect_eq "$desc: exit 2" 2 "$rc"
  expect_match "$desc: says why" "$pattern" "$T/.err"
}
usage "address without a port" "write it as HOST:PORT" renew --via host --cafile "$CA" --cert "$T/pi1.crt" --key "$T/pi1.key"
usage "port out of range" "write it as HOST:PORT" renew --via host:70000 --cafile "$CA" --cert "$T/pi1.crt" --key "$T/pi1.key"
usage "no TLS identity" "needs --cafile CA, --cert FILE and --key FILE" renew --via localhost:8883
usage "--via with --all" "takes no NAMEs, --all" renew --via localhost:8883 --cafile "$CA" --cert "$T/pi1.crt" --key "$T/pi1.key" --all
usage "--rekey without a CSR or --via" "--rekey needs the fresh CSR" renew pi1 --rekey
usage "agent without --broker" "--broker is required" agent --cafile "$CA"
usage "a prefix with a wildcard" "a topic prefix is" agent --broker localhost:8883 --cafile "$CA" --cert "$T/pi1.crt" --key "$T/pi1.key" --prefix 'a/#'
usage "crl --via without --out" "--via needs --out FILE" crl --via localhost:8883 --cafile "$CA" --cert "$T/pi1.crt" --key "$T/pi1.key"
usage "--deploy-hook on the CA host's crl" "--deploy-hook goes with --via" crl --deploy-hook true
expect_fail "a key that is not the certificate's" "other.key does not belong to .*pi1.crt" \
  "$MQTTPKI" renew --via 127.0.0.1:1 --cafile "$CA" --cert "$T/pi1.crt" --key "$T/other.key"
expect_fail "a missing certificate file" "nope.crt" \
  "$MQTTPKI" renew --via 127.0.0.1:1 --cafile "$CA" --cert "$T/nope.crt" --key "$T/pi1.key"
expect_fail "the agent without a CA folder" "no CA in $T/none" \
  "$MQTTPKI" agent --broker 127.0.0.1:1 --cafile "$CA" --cert "$T/pi1.crt" --key "$T/pi1.key" --dir "$T/none"
[ ! -e "$T/pi1.key.next" ] && pass || fail "a refused run left pi1.key.next"
finish
