#!/usr/bin/env bash
# `mqttpki broker` flags: --tls-version minimum, handshake and CONNECT timeouts, refusals of bad combinations.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
make_pki "$T" pi1 2>/dev/null
C=(--cafile "$T/pki/ca.crt" --certfile "$T/server/server.crt" --keyfile "$T/server/server.key" --require-certificate)

# start_broker NAME ARGS...: the broker on an ephemeral 127.0.0.1 port; sets PORT.
start_broker() {
  local name=$1; shift
  "$MQTTPKI" broker --port 0 --bind 127.0.0.1 "$@" >"$T/$name.out" 2>"$T/$name.log" &
  track_pid $!
  PORT=""
  for _ in $(seq 1 200); do
    PORT=$(listening_port "$T/$name.out")
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  fail "$name did not start: $(cat "$T/$name.log")"
  return 1
}
CLIENT=(-CAfile "$T/pki/ca.crt" -cert "$T/pi1/pi1.crt" -key "$T/pi1/pi1.key" -verify_return_error)

start_broker v13 "${C[@]}" --tls-version tlsv1.3
expect_ok "TLS 1.3 client accepted with --tls-version tlsv1.3" \
  sh -c "echo | timeout 10 openssl s_client -connect 127.0.0.1:$PORT -tls1_3 $(printf '%q ' "${CLIENT[@]}") -brief"
expect_fail "TLS 1.2 client refused with --tls-version tlsv1.3" "alert|error|fail" \
  sh -c "echo | timeout 10 openssl s_client -connect 127.0.0.1:$PORT -tls1_2 $(printf '%q ' "${CLIENT[@]}") -brief"

start_broker fast "${C[@]}" --handshake-timeout 1 --connect-timeout 1
expect_ok "a silent connection is closed after --handshake-timeout 1 (well before the 10 s default)" "$PYTHON" - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
start = time.monotonic()
assert s.recv(1) == b"", "expected the broker to close the silent connection"
elapsed = time.monotonic() - start
assert elapsed < 6, f"closed after {elapsed:.1f} s"
PY

expect_fail "unknown TLS version" "tls-version" "$MQTTPKI" broker "${C[@]}" --tls-version tlsv1.0
expect_fail "--tls-version with --config" "exclude each other" \
  "$MQTTPKI" broker --config "$T/none.conf" --tls-version tlsv1.3
expect_fail "timeout out of range" "handshake-timeout" "$MQTTPKI" broker "${C[@]}" --handshake-timeout 0
finish
