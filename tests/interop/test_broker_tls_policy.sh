#!/bin/bash
# OUR broker's TLS policy seen by the openssl CLI: TLS 1.2 only with ECDHE + AEAD ciphers, TLS 1.1 and
# static-RSA key exchange refused (with the reason logged), 'tls_version tlsv1.3' refuses TLS 1.2.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
sh "$MQTTPKI_SOURCE_DIR/tests/interop/make_test_certs.sh" "$T/c" >/dev/null
C=$T/c

# start_broker NAME ARGS...: sets PORT from the "listening on" line
start_broker() {
  local name=$1
  shift
  "$MQTTPKI" broker "$@" >"$T/$name.out" 2>"$T/$name.log" &
  track_pid $!
  for _ in $(seq 100); do grep -qs "listening on" "$T/$name.out" && break; sleep 0.05; done
  PORT=$(listening_port "$T/$name.out")
  [ -n "$PORT" ] || { echo "broker $name did not start: $(cat "$T/$name.log")"; exit 1; }
}
wait_log() { for _ in $(seq 200); do grep -qE -- "$2" "$T/$1.log" && return 0; sleep 0.05; done; return 1; }
s_client() { timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$C/ca.crt" \
  -cert "$C/client.crt" -key "$C/client.key" "$@" </dev/null; }

start_broker b12 --port 0 --cafile "$C/ca.crt" --certfile "$C/server.crt" --keyfile "$C/server.key" --require-certificate
s_client -tls1_2 >"$T/tls12.out" 2>&1 || true
expect_match "TLS 1.2 accepted" "Protocol *: TLSv1\.2" "$T/tls12.out"
expect_match "TLS 1.2 cipher is ECDHE with AEAD" "Cipher *: ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)" "$T/tls12.out"
expect_match "no compression" "Compression: NONE" "$T/tls12.out"
expect_match "verified" "Verify return code: 0 \(ok\)" "$T/tls12.out"
s_client >"$T/tls13.out" 2>&1 || true
expect_match "TLS 1.3 by default" "New, TLSv1\.3, Cipher is TLS_" "$T/tls13.out"

expect_fail "TLS 1.1 refused" "." s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
wait_log b12 "no common TLS version or cipher" || fail "TLS 1.1 refusal not logged: $(cat "$T/b12.log")"
expect_fail "static RSA key exchange refused" "." s_client -tls1_2 -cipher AES128-GCM-SHA256
wait_log b12 "no shared cipher" || fail "cipher refusal not logged: $(cat "$T/b12.log")"

printf 'listener 0 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\ntls_version tlsv1.3\nrequire_certificate true\n' \
  "$C/ca.crt" "$C/server.crt" "$C/server.key" >"$T/b13.conf"
start_broker b13 --config "$T/b13.conf"
expect_fail "tls_version tlsv1.3 refuses TLS 1.2" "." s_client -tls1_2
wait_log b13 "no common TLS version or cipher" || fail "TLS 1.2 refusal not logged: $(cat "$T/b13.log")"
s_client >"$T/b13.out" 2>&1 || true
expect_match "tls_version tlsv1.3 accepts TLS 1.3" "New, TLSv1\.3, Cipher is TLS_" "$T/b13.out"
finish
