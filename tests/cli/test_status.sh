#!/usr/bin/env bash
# mqttpki status: expired certificates first, then expiring ones, the CRL's age and nextUpdate, the CA's
# expiry, and with --broker whether the running broker (the bundled one, mutual TLS required) serves the
# current certificate. Exit 0 all well, 3 needs action; --quiet prints nothing when all is well.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v faketime >/dev/null || skip "faketime not installed"
unset MQTTPKI_PASSPHRASE
export MQTTPKI_DIR="$T/pki"
D=$MQTTPKI_DIR
status_rc() { local rc=0; "$MQTTPKI" status "$@" >"$T/.out" 2>"$T/.err" || rc=$?; echo "$rc"; }
# fake_status_rc OFFSET ARGS...: the same, with the clock moved (libfaketime)
fake_status_rc() { local off=$1 rc=0; shift; faketime -f "$off" "$MQTTPKI" status "$@" >"$T/.out" 2>"$T/.err" || rc=$?; echo "$rc"; }

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Status CA" --crl-days 20
for n in short long; do expect_ok "csr $n" "$MQTTPKI" csr --new-key "$T/$n.key" --cn "$n" --out "$T/$n.csr"; done
expect_ok "sign short" "$MQTTPKI" sign "$T/short.csr" --profile client --days 10
expect_ok "sign long" "$MQTTPKI" sign "$T/long.csr" --profile client --days 20
expect_ok "server csr" "$MQTTPKI" csr --new-key "$T/server.key" --cn localhost --san DNS:localhost --out "$T/server.csr"
expect_ok "sign server" "$MQTTPKI" sign "$T/server.csr" --name server --profile server --days 400

expect_eq "within 5d all is well" 0 "$(status_rc --within 5d)"
expect_match "CRL line" "^ok +crl .*crl.pem: number 1, 0 revoked, 0 days old, next update" "$T/.out"
expect_match "CA line" "^ok +ca .*ca.crt: \"CN=Status CA\" expires on" "$T/.out"
expect_eq "--quiet and all well: silent" "0:" "$(status_rc --within 5d --quiet):$(cat "$T/.out")"
expect_eq "within 30d: two expiring" 3 "$(status_rc)"
expect_match "short expiring" "^ACTION +certificate +short: serial .* expires on" "$T/.out"
expect_eq "expiring soonest first" "short long" "$(grep -oE '^ACTION +certificate +[a-z]+' "$T/.out" | awk '{print $3}' | xargs)"

# 15 days on: short has expired (listed first), long expires, the CRL passed three quarters of its life.
expect_eq "15 days on: action" 3 "$(fake_status_rc +15d)"
expect_eq "expired first" "short long" "$(grep -oE '^ACTION +certificate +[a-z]+' "$T/.out" | awk '{print $3}' | xargs)"
expect_match "expired says so" "short: serial .* EXPIRED on" "$T/.out"
expect_match "CRL: renewal not running" "^ACTION +crl .*next update" "$T/.out"
expect_match "CRL: says the renewal is not running" "less than a quarter of its life left" "$T/.out"
faketime -f +25d "$MQTTPKI" status --json >"$T/status.json" || true
"$PYTHON" - "$T/status.json" <<'PY' && pass || fail "status --json 25 days on"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["needs_action"] is True
crl = [i for i in j["items"] if i["what"] == "crl"][0]
assert crl["status"] == "action" and "EXPIRED" in crl["action"], crl
PY

# --broker: the bundled broker with mutual TLS required still hands out its certificate.
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
mkdir -p "$T/server"
cp "$D/issued/server.crt" "$T/server/server.crt"; cp "$T/server.key" "$T/server/server.key"
start_our_broker "$T" || fail "broker start"
expect_eq "broker serves the current one" 0 "$(status_rc --within 5d --broker "localhost:$OUR_PORT" --cafile "$D/ca.crt")"
expect_match "current" "^ok +broker .*serves server serial .* \(the current one\)" "$T/.out"
expect_ok "renew server" "$MQTTPKI" renew server
expect_eq "after a renewal the broker serves an old one" 3 "$(status_rc --within 5d --broker "localhost:$OUR_PORT")"
expect_match "old one named" "^ACTION +broker .*serves server serial .* \(superseded, current is " "$T/.out"
expect_match "says to deploy" "deploy issued/server.crt" "$T/.out"
expect_eq "unreachable broker" 3 "$(status_rc --within 5d --broker "127.0.0.1:$(free_port)")"
expect_match "unreachable" "not reachable" "$T/.out"
expect_eq "bad --broker is a usage error" 2 "$(status_rc --broker nohostport)"
finish
