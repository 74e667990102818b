#!/usr/bin/env bash
# The mosquitto-acl template's renewal lane (`--set agent=ca-agent`) in a real Mosquitto (the mosquitto-tls
# template, use_identity_as_username) and in our broker (the same acl_file): the agent and devices pi1, pi2 renew
# over MQTT through it, and pi1 can neither ask on pi2's request topic, nor read pi2's answer, nor forge pi2's
# answer or the CRL; the clients are mosquitto_pub/mosquitto_sub. (Without the acl_file line, five of these
# checks fail: the forgeries and the read go through.)
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
command -v mosquitto_sub >/dev/null || skip "mosquitto_sub (mosquitto-clients) not installed"
unset MQTTPKI_PASSPHRASE
make_pki "$T" pi1 pi2 ca-agent
"$MQTTPKI" template mosquitto-acl --set agent=ca-agent --out "$T/acl"
P=mqttpki/v1
serial() { openssl x509 -noout -serial -in "$1"; }

# lane_checks NAME PORT: the checks against the broker on 127.0.0.1:PORT, with an agent of its own.
lane_checks() {
local B=$1 PORT=$2
start_agent "$T/agent-$B.log" "$PORT" --cafile "$T/pki/ca.crt" --cert "$T/ca-agent/ca-agent.crt" \
  --key "$T/ca-agent/ca-agent.key" || { fail "$B: agent"; return; }
as() { local n=$1; shift; "$@" -h 127.0.0.1 -p "$PORT" --cafile "$T/pki/ca.crt" --cert "$T/$n/$n.crt" --key "$T/$n/$n.key"; }
renew() { local n=$1; shift; "$MQTTPKI" renew --via "127.0.0.1:$PORT" --cafile "$T/pki/ca.crt" --cert "$T/$n/$n.crt" \
  --key "$T/$n/$n.key" --wait 20 "$@"; }

pi2_before=$(serial "$T/pi2/pi2.crt")
expect_ok "$B: pi2 renews over MQTT through the ACL" renew pi2
expect_match "$B: pi2 got a new certificate" "^renewed pi2: serial" "$T/.out"

# pi1 asks on pi2's topic (Mosquitto acknowledges and drops it), then renews itself. The agent handles one
# subscription's messages in order, so once pi1's own renewal is answered a delivered forgery would be logged.
expect_ok "$B: pi1's publish on pi2's request topic is acknowledged" as pi1 timeout 10 mosquitto_pub -q 1 \
  -t "$P/renew/pi2/request" -m "forged by pi1"
expect_ok "$B: pi1 renews over MQTT" renew pi1 --rekey
expect_match "$B: pi1 got a new certificate and key" "^renewed pi1 with a new key" "$T/.out"
expect_ok "$B: pi1's new certificate chains" openssl verify -CAfile "$T/pki/ca.crt" "$T/pi1/pi1.crt"
expect_eq "$B: pi1's new key is its certificate's" "$(openssl x509 -noout -pubkey -in "$T/pi1/pi1.crt")" \
  "$(openssl pkey -pubout -in "$T/pi1/pi1.key")"
expect_eq "$B: the agent decided on pi2 once (its own request)" "1" "$(grep -c ' pi2[ :(]' "$T/agent-$B.log" || true)"
if grep -q "forged\|pi2.*garbage\|pi2.*not a CMS" "$T/agent-$B.log"; then fail "$B: pi1's forgery reached the agent: $(cat "$T/agent-$B.log")"; else pass; fi
expect_eq "$B: pi2's certificate renewed once" "1" "$("$MQTTPKI" list --json | "$PYTHON" -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin) if c["name"] == "pi2" and c["status"] == "valid"))')"
[ "$(serial "$T/pi2/pi2.crt")" != "$pi2_before" ] && pass || fail "$B: pi2's file was not renewed"

# Reading: pi2 reads its retained answer; pi1 subscribing to it gets nothing (the subscription is granted, the
# retained message is not delivered); everyone reads the CRL.
expect_ok "$B: pi2 reads its retained answer" as pi2 timeout 10 mosquitto_sub -t "$P/renew/pi2/response" -C 1 -W 5
expect_match "$B: the answer carries a certificate" '"certificate"' "$T/.out"
if as pi1 timeout 10 mosquitto_sub -t "$P/renew/pi2/response" -C 1 -W 2 >"$T/leak" 2>&1; then
  fail "$B: pi1 read pi2's answer: $(head -c 200 "$T/leak")"
elif grep -q certificate "$T/leak"; then fail "$B: pi1 read pi2's answer"; else pass; fi
expect_ok "$B: pi1 reads the CRL" as pi1 timeout 10 mosquitto_sub -t "$P/crl" -C 1 -W 5
expect_match "$B: it is the CA's CRL" "BEGIN X509 CRL" "$T/.out"

# Writing: pi1's retained forgeries of pi2's answer and of the CRL are dropped; the agent's stay.
expect_ok "$B: pi1 publishes a forged answer for pi2" as pi1 timeout 10 mosquitto_pub -q 1 -r -t "$P/renew/pi2/response" -m forged
expect_ok "$B: pi1 publishes a forged CRL" as pi1 timeout 10 mosquitto_pub -q 1 -r -t "$P/crl" -m forged
expect_ok "$B: pi2 reads its answer again" as pi2 timeout 10 mosquitto_sub -t "$P/renew/pi2/response" -C 1 -W 5
expect_match "$B: still the agent's answer" '"certificate"' "$T/.out"
expect_ok "$B: pi2 reads the CRL" as pi2 timeout 10 mosquitto_sub -t "$P/crl" -C 1 -W 5
expect_match "$B: still the CA's CRL" "BEGIN X509 CRL" "$T/.out"
kill "$AGENT_PID" && wait "$AGENT_PID" 2>/dev/null || true
}

start_template_mosquitto "$T" "acl_file $T/acl" || { fail "mosquitto did not start: $(cat "$T/mosquitto.log")"; finish; exit 1; }
lane_checks mosquitto "$MOSQ_TLS"

OURS=$(free_port)
cat >"$T/ours.conf" <<CONF
listener $OURS 127.0.0.1
cafile $T/pki/ca.crt
certfile $T/server/server.crt
keyfile $T/server/server.key
require_certificate true
use_identity_as_username true
acl_file $T/acl
CONF
"$MQTTPKI" broker --config "$T/ours.conf" >"$T/ours.out" 2>"$T/ours.log" &
track_pid $!
wait_port "$OURS" 10 || { fail "our broker did not start: $(cat "$T/ours.log")"; finish; exit 1; }
lane_checks ours "$OURS"
finish
