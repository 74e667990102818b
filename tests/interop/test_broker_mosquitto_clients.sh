#!/bin/bash
# mosquitto_pub / mosquitto_sub against OUR broker over mutual TLS: QoS 0/1/2, retained messages, and
# the refused cases (client certificate from another CA, no client certificate) with the broker's reasons.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null || skip "mosquitto-clients not installed"
sh "$MQTTPKI_SOURCE_DIR/tests/interop/make_test_certs.sh" "$T/c" >/dev/null
C=$T/c

# start our broker on an ephemeral port; sets PORT from its "listening on 127.0.0.1:PORT (tls)" line
"$MQTTPKI" broker --port 0 --cafile "$C/ca.crt" --certfile "$C/server.crt" --keyfile "$C/server.key" \
  --require-certificate >"$T/broker.out" 2>"$T/broker.log" &
track_pid $!
for _ in $(seq 100); do grep -q "listening on" "$T/broker.out" && break; sleep 0.05; done
PORT=$(listening_port "$T/broker.out")
[ -n "$PORT" ] || { echo "broker did not start: $(cat "$T/broker.log")"; exit 1; }

TLS=(-h localhost -p "$PORT" --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key")

# a subscriber in debug mode: "Subscribed (mid" tells when the subscription is active
timeout 10 stdbuf -oL mosquitto_sub "${TLS[@]}" -i sub1 -q 2 -t 'interop/#' -v -C 3 -d >"$T/sub.out" 2>&1 &
sub_pid=$!
track_pid $sub_pid
for _ in $(seq 200); do grep -qs "Subscribed (mid" "$T/sub.out" && break; sleep 0.05; done
expect_match "mosquitto_sub subscribed" "Subscribed \(mid: 1\): 2" "$T/sub.out"
for q in 0 1 2; do
  expect_ok "mosquitto_pub QoS $q" timeout 10 mosquitto_pub "${TLS[@]}" -t "interop/q$q" -m "hello $q" -q "$q"
done
wait $sub_pid || fail "mosquitto_sub did not receive 3 messages: $(cat "$T/sub.out")"
expect_match "QoS 0 message" "^interop/q0 hello 0$" "$T/sub.out"
expect_match "QoS 1 message" "^interop/q1 hello 1$" "$T/sub.out"
expect_match "QoS 2 message" "^interop/q2 hello 2$" "$T/sub.out"
expect_match "QoS 1 delivered at QoS 1" "received PUBLISH \(d0, q1, r0" "$T/sub.out"
expect_match "QoS 2 delivered at QoS 2 with PUBREL/PUBCOMP" "sending PUBCOMP" "$T/sub.out"

# retained
expect_ok "retained publish" timeout 10 mosquitto_pub "${TLS[@]}" -t status/pi1 -m online -r -q 1
timeout 10 mosquitto_sub "${TLS[@]}" -t 'status/#' -v -C 1 -d >"$T/ret.out" 2>&1 || fail "no retained message: $(cat "$T/ret.out")"
expect_match "retained message" "^status/pi1 online$" "$T/ret.out"
expect_match "retain flag set" "received PUBLISH \(d0, q0, r1" "$T/ret.out"

# our own pub/sub interoperate with mosquitto's on our broker
timeout 10 "$MQTTPKI" sub "${TLS[@]}" -t 'ours/#' -v -C 1 -q 1 >"$T/oursub.out" 2>"$T/oursub.err" &
oursub=$!
track_pid $oursub
for _ in $(seq 200); do grep -qs "subscribed to" "$T/oursub.err" && break; sleep 0.05; done
expect_ok "mosquitto_pub to our sub" timeout 10 mosquitto_pub "${TLS[@]}" -t ours/x -m "from mosquitto" -q 1
wait $oursub || fail "our sub failed: $(cat "$T/oursub.err")"
expect_eq "our sub output" "ours/x from mosquitto" "$(cat "$T/oursub.out")"

# our pub -f FILE and -n (empty message), received by mosquitto_sub
printf 'line one\nline two' >"$T/payload.txt"
timeout 10 stdbuf -oL mosquitto_sub "${TLS[@]}" -t 'f/#' -v -C 2 -d >"$T/fsub.out" 2>&1 &
fsub=$!
track_pid $fsub
for _ in $(seq 200); do grep -qs "Subscribed (mid" "$T/fsub.out" && break; sleep 0.05; done
expect_ok "our pub -f" timeout 10 "$MQTTPKI" pub "${TLS[@]}" -t f/file -f "$T/payload.txt" -q 1
expect_ok "our pub -n" timeout 10 "$MQTTPKI" pub "${TLS[@]}" -t f/null -n -q 2
wait $fsub || fail "mosquitto_sub -C 2: $(cat "$T/fsub.out")"
expect_match "file payload" "received PUBLISH \(d0, q0, r0, m0, 'f/file', \.\.\. \(17 bytes\)\)" "$T/fsub.out"
expect_match "empty payload" "received PUBLISH \(d0, q0, r0, m0, 'f/null', \.\.\. \(0 bytes\)\)" "$T/fsub.out"
expect_fail "sub -W gives up" "timed out after 1 s with 0 of 1 messages \(-W\)" \
  timeout 10 "$MQTTPKI" sub "${TLS[@]}" -t nothing/here -C 1 -W 1
expect_fail "pub without a message" "say what to publish" "$MQTTPKI" pub "${TLS[@]}" -t x
expect_fail "pub -m and -n together" "excludes" "$MQTTPKI" pub "${TLS[@]}" -t x -m a -n

# refused: a client certificate from another CA, and no client certificate. The broker sends OpenSSL's TLS
# alert before closing; libmosquitto reports an alert it reads as EPROTO ("Protocol error"), or "The
# connection was lost" when the close wins the race. The broker's reasons are checked below.
expect_fail "client cert from another CA" "connection was lost|TLS error|Protocol error" timeout 10 mosquitto_pub -h localhost -p "$PORT" \
  --cafile "$C/ca.crt" --cert "$C/other-client.crt" --key "$C/other-client.key" -t x -m y -q 1
expect_fail "no client cert" "connection was lost|TLS error|Protocol error" timeout 10 mosquitto_pub -h localhost -p "$PORT" --cafile "$C/ca.crt" -t x -m y -q 1
for _ in $(seq 100); do grep -q "no client certificate presented" "$T/broker.log" && break; sleep 0.05; done
expect_match "broker logs the wrong CA" "refused TLS handshake from 127\.0\.0\.1:[0-9]+ on tls:$PORT: client certificate 'intruder' is not signed by" "$T/broker.log"
expect_match "broker logs the missing certificate" "no client certificate presented \(this listener has require_certificate true\)" "$T/broker.log"
expect_match "broker logs CN, TLS version and cipher" "CN=pi1 TLSv1\.[23] [A-Z0-9_-]+" "$T/broker.log"
# mosquitto_pub checks our host name too
expect_fail "mosquitto_pub with the wrong CA" "TLS error" timeout 10 mosquitto_pub -h localhost -p "$PORT" \
  --cafile "$C/other-ca.crt" --cert "$C/client.crt" --key "$C/client.key" -t x -m y
finish
