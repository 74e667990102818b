#!/bin/bash
# A refused TLS client learns why: the broker sends its alert and only then closes, even when the client
# has already sent more (a TLS 1.3 client considers its handshake done and sends CONNECT before the broker
# has checked its certificate). Closing with those bytes unread would send a RST, and the client would see
# an EOF or a reset instead of "certificate revoked". Five rounds each with openssl s_client (data sent at
# once after its handshake) and with `mqttpki pub`, against the bundled broker on 127.0.0.1 with a CRL.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
command -v openssl >/dev/null || skip "openssl CLI needed"

make_pki "$T/p" good gone
P=$T/p
expect_ok "revoke gone" "$MQTTPKI" revoke gone
expect_ok "crl" "$MQTTPKI" crl --days 30 --out "$T/crl.pem"
"$MQTTPKI" broker --port 0 --bind 127.0.0.1 --cafile "$P/pki/ca.crt" --certfile "$P/server/server.crt" \
  --keyfile "$P/server/server.key" --require-certificate --crlfile "$T/crl.pem" \
  >"$T/broker.out" 2>"$T/broker.log" &
track_pid $!
PORT=""
for _ in $(seq 200); do
  PORT=$(listening_port "$T/broker.out")
  [ -n "$PORT" ] && break
  sleep 0.05
done
[ -n "$PORT" ] || { echo "broker did not start: $(cat "$T/broker.log")"; exit 1; }

for round in 1 2 3 4 5; do
  # An MQTT CONNECT's first bytes and more, written as soon as s_client's handshake is done; -ign_eof keeps
  # it reading until the broker closes.
  printf '\020\014\000\004MQTTxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' |
    timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$P/pki/ca.crt" \
      -cert "$P/gone/gone.crt" -key "$P/gone/gone.key" -ign_eof >"$T/s_client.$round" 2>&1
  expect_match "s_client round $round sees the alert" "alert certificate revoked" "$T/s_client.$round"
  "$MQTTPKI" pub -h localhost -p "$PORT" --cafile "$P/pki/ca.crt" --cert "$P/gone/gone.crt" \
    --key "$P/gone/gone.key" -t t -m x >"$T/pub.$round" 2>&1
  expect_match "mqttpki pub round $round names the revocation" "broker refused our client certificate: it is revoked" \
    "$T/pub.$round"
done
expect_ok "a good client still gets in" "$MQTTPKI" pub -h localhost -p "$PORT" --cafile "$P/pki/ca.crt" \
  --cert "$P/good/good.crt" --key "$P/good/good.key" -t t -m x
expect_match "broker logs the revocation" "client certificate 'gone' \(serial [0-9A-F]+\) is revoked by" "$T/broker.log"
finish
