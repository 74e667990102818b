#!/usr/bin/env bash
# Our CRL in a real Mosquitto: CA, server and two clients made with mqttpki, one client revoked, `mqttpki crl`,
# then Mosquitto (crlfile) accepts the good client and refuses the revoked one. Also: a renewed client keeps
# working, and a client whose renewed and superseded certificates are both revoked is refused with either.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || skip "mosquitto not installed"
command -v mosquitto_pub >/dev/null || skip "mosquitto_pub (mosquitto-clients) not installed"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE
D=$MQTTPKI_DIR
# Mosquitto started as root switches to the user named by 'user' (default 'mosquitto', who cannot read our
# 0700 temp folder); naming ourselves keeps the current user, and is a no-op when not root.
ME=$(id -un)

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "CRL Interop CA"
expect_ok "server csr" "$MQTTPKI" csr --new-key "$T/server.key" --cn localhost --san DNS:localhost \
  --san IP:127.0.0.1 --out "$T/server.csr"
expect_ok "server sign" "$MQTTPKI" sign "$T/server.csr" --profile server --name server
for n in alice mallory; do
  expect_ok "$n csr" "$MQTTPKI" csr --new-key "$T/$n.key" --cn "$n" --out "$T/$n.csr"
  expect_ok "$n sign" "$MQTTPKI" sign "$T/$n.csr" --profile client
done
# alice renews (same key): her old certificate is superseded but still valid; mallory renews too.
cp "$D/issued/alice.crt" "$T/alice-old.crt"
cp "$D/issued/mallory.crt" "$T/mallory-old.crt"
expect_ok "renew alice and mallory" "$MQTTPKI" renew alice mallory
# First a CRL with nothing revoked: everyone gets in, so the later refusal is the revocation's doing.
expect_ok "empty crl" "$MQTTPKI" crl --days 30 --out "$T/mosquitto-crl.pem"

PORT=$(free_port)
cat >"$T/mosquitto.conf" <<CONF
user $ME
log_dest stderr
log_type error
log_type warning
log_type notice
per_listener_settings false
listener $PORT 127.0.0.1
cafile $D/ca.crt
certfile $D/issued/server.crt
keyfile $T/server.key
require_certificate true
use_identity_as_username true
crlfile $T/mosquitto-crl.pem
tls_version tlsv1.2
CONF
MOSQ_PID=
# Mosquitto reads crlfile when it starts, so each new CRL means a restart (a reload in production).
start_mosquitto() {
  "$MOSQUITTO" -c "$T/mosquitto.conf" >"$T/mosquitto.log" 2>&1 &
  MOSQ_PID=$!
  track_pid "$MOSQ_PID"
  if ! wait_port "$PORT" 10; then
    fail "mosquitto did not listen on $PORT: $(cat "$T/mosquitto.log")"
    finish
    exit 1
  fi
}
stop_mosquitto() {
  kill "$MOSQ_PID" 2>/dev/null || true
  wait "$MOSQ_PID" 2>/dev/null || true
}

# pub CERT KEY: publish one QoS 1 message (waits for the PUBACK, so success means the broker let us in).
pub() {
  timeout 10 mosquitto_pub -h localhost -p "$PORT" --cafile "$D/ca.crt" --cert "$1" --key "$2" \
    -t crl/test -m hello -q 1 -i "crl-test-$RANDOM"
}
start_mosquitto
expect_ok "before revocation: mallory accepted" pub "$D/issued/mallory.crt" "$T/mallory.key"
expect_ok "before revocation: mallory's superseded certificate accepted" pub "$T/mallory-old.crt" "$T/mallory.key"
stop_mosquitto

expect_ok "revoke mallory" "$MQTTPKI" revoke mallory --reason keyCompromise
expect_ok "crl" "$MQTTPKI" crl --days 30 --out "$T/mosquitto-crl.pem"
start_mosquitto
expect_ok "good client (renewed) accepted" pub "$D/issued/alice.crt" "$T/alice.key"
expect_ok "good client's superseded certificate still accepted" pub "$T/alice-old.crt" "$T/alice.key"
if pub "$D/issued/mallory.crt" "$T/mallory.key" >"$T/m.out" 2>&1; then
  fail "revoked client accepted by mosquitto"
else
  pass
fi
if pub "$T/mallory-old.crt" "$T/mallory.key" >"$T/m2.out" 2>&1; then
  fail "revoked client's superseded certificate accepted by mosquitto"
else
  pass
fi
expect_match "mosquitto refused the handshake" "certificate verify failed" "$T/mosquitto.log"
expect_ok "good client still accepted afterwards" pub "$D/issued/alice.crt" "$T/alice.key"
stop_mosquitto
finish
