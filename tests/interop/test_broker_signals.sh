#!/bin/bash
# OUR broker's signals: SIGHUP reloads certfile/keyfile/cafile/crlfile for new connections while a
# connected subscriber stays; a failed reload keeps the old material and says why; SIGTERM stops cleanly.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
sh "$MQTTPKI_SOURCE_DIR/tests/interop/make_test_certs.sh" "$T/c" >/dev/null
C=$T/c
cp "$C/server.crt" "$T/live.crt"
cp "$C/server.key" "$T/live.key"
cp "$C/ca.crt" "$T/live-ca.crt"
"$MQTTPKI" broker --port 0 --cafile "$T/live-ca.crt" --certfile "$T/live.crt" --keyfile "$T/live.key" \
  --require-certificate >"$T/broker.out" 2>"$T/broker.log" &
broker=$!
track_pid $broker
for _ in $(seq 100); do grep -qs "listening on" "$T/broker.out" && break; sleep 0.05; done
PORT=$(listening_port "$T/broker.out")
[ -n "$PORT" ] || { echo "broker did not start: $(cat "$T/broker.log")"; exit 1; }
# wait_log TEXT: bounded wait for a broker log line
wait_log() { for _ in $(seq 200); do grep -qF -- "$1" "$T/broker.log" && return 0; sleep 0.05; done; return 1; }

# a subscriber connected before the reload, trusting the original CA
timeout 15 "$MQTTPKI" sub -h localhost -p "$PORT" --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" \
  -t news -q 1 -C 1 >"$T/sub.out" 2>"$T/sub.err" &
sub=$!
track_pid $sub
for _ in $(seq 200); do grep -qs "subscribed to" "$T/sub.err" && break; sleep 0.05; done
expect_match "subscriber ready" "subscribed to news" "$T/sub.err"

# new server certificate from the other CA, which also becomes the client CA
cp "$C/other-server.crt" "$T/live.crt"
cp "$C/other-server.key" "$T/live.key"
cp "$C/other-ca.crt" "$T/live-ca.crt"
kill -HUP $broker
wait_log "reloaded certfile, keyfile, cafile and crlfile" || fail "no reload line: $(cat "$T/broker.log")"
expect_fail "old CA no longer matches the broker" "server certificate 'localhost' is not signed by" \
  timeout 10 "$MQTTPKI" pub -h localhost -p "$PORT" --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" -t x -m y
expect_ok "a client of the new CA publishes" timeout 10 "$MQTTPKI" pub -h localhost -p "$PORT" \
  --cafile "$C/other-ca.crt" --cert "$C/other-client.crt" --key "$C/other-client.key" -t news -m "after reload" -q 1
wait $sub || fail "the subscriber connected before the reload lost its connection: $(cat "$T/sub.err")"
expect_eq "subscriber still connected and received" "after reload" "$(cat "$T/sub.out")"

# a broken key: the reload fails, the previous material stays in use
echo "not a key" >"$T/live.key"
kill -HUP $broker
wait_log "reload failed, keeping the previous TLS material" || fail "no failed-reload line: $(cat "$T/broker.log")"
expect_match "failed reload names the file" "reload failed, keeping the previous TLS material: keyfile $T/live\.key" "$T/broker.log"
expect_ok "still serving with the previous material" timeout 10 "$MQTTPKI" pub -h localhost -p "$PORT" \
  --cafile "$C/other-ca.crt" --cert "$C/other-client.crt" --key "$C/other-client.key" -t news -m again -q 1

kill -TERM $broker
rc=0
timeout 10 tail --pid=$broker -f /dev/null || fail "broker did not stop on SIGTERM"
wait $broker || rc=$?
expect_eq "SIGTERM exit code" 0 "$rc"
expect_match "SIGTERM logged" "SIGTERM: stopping" "$T/broker.log"
finish
