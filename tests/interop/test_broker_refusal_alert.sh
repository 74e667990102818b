#!/bin/bash
# A refused TLS client learns why: the broker sends its alert and only then closes, even when the client
# has already sent more (a TLS 1.3 client considers its handshake done and sends CONNECT before the broker
# has checked its certificate). Closing with those bytes unread would send a RST, and the client would see
# an EOF or a reset instead of "certificate revoked". Five rounds each with a Python probe (the alert, then
# FIN, never RST), openssl s_client (data sent at once after its handshake) and `mqttpki pub`, against the
# bundled broker on 127.0.0.1 with a CRL.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
command -v openssl >/dev/null || skip "openssl CLI needed"

make_pki "$T/p" good gone
P=$T/p
expect_ok "revoke gone" "$MQTTPKI" revoke gone
expect_ok "crl" "$MQTTPKI" crl --days 30 --out "$T/crl.pem"
run_broker "$T/broker" --cafile "$P/pki/ca.crt" --certfile "$P/server/server.crt" --keyfile "$P/server/server.key" \
  --require-certificate --crlfile "$T/crl.pem" || exit 1
PORT=$BROKER_PORT

# A TLS 1.3 client that sends a CONNECT right after its side of the handshake, then reads to the end: it must
# get the alert and then an orderly close (FIN). Closing with the CONNECT unread sent a RST instead, which
# (depending on timing, and on real networks while the alert still waits in the send queue) destroys the
# alert, or even fails the client's own write with "connection reset".
cat >"$T/probe.py" <<'PYEOF2'
import socket, ssl, sys
port, ca, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.load_verify_locations(ca)
c.load_cert_chain(crt, key)
raw = socket.create_connection(("127.0.0.1", port), timeout=5)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = c.wrap_bio(inc, out, server_hostname="localhost")
alert, ending = None, None
try:
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(out.read())
            data = raw.recv(65536)
            if not data:
                raise EOFError
            inc.write(data)
    raw.sendall(out.read())
    obj.write(b"\x10\x0c\x00\x04MQTT" + b"x" * 64)
    raw.sendall(out.read())
    while ending is None:
        data = raw.recv(65536)
        if not data:
            ending = "eof"
            break
        inc.write(data)
        try:
            obj.read(1024)
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as e:
            alert = e.reason
except ConnectionResetError:
    ending = "reset"
except EOFError:
    ending = "eof during the handshake"
print(f"alert={alert} ending={ending}")
PYEOF2

for round in $(seq ${ROUNDS:-5}); do
  "$PYTHON" "$T/probe.py" "$PORT" "$P/pki/ca.crt" "$P/gone/gone.crt" "$P/gone/gone.key" >"$T/probe.$round" 2>&1 || true
  expect_match "probe round $round: the alert, then an orderly close (not a reset)" \
    "^alert=SSLV3_ALERT_CERTIFICATE_REVOKED ending=eof$" "$T/probe.$round"
  # An MQTT CONNECT's first bytes and more, written as soon as s_client's handshake is done; -ign_eof keeps
  # it reading until the broker closes.
  printf '\020\014\000\004MQTTxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' |
    timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$P/pki/ca.crt" \
      -cert "$P/gone/gone.crt" -key "$P/gone/gone.key" -ign_eof >"$T/s_client.$round" 2>&1 || true
  expect_match "s_client round $round sees the alert" "alert certificate revoked" "$T/s_client.$round"
  "$MQTTPKI" pub -h localhost -p "$PORT" --cafile "$P/pki/ca.crt" --cert "$P/gone/gone.crt" \
    --key "$P/gone/gone.key" -t t -m x >"$T/pub.$round" 2>&1 || true
  expect_match "mqttpki pub round $round names the revocation" "broker refused our client certificate: it is revoked" \
    "$T/pub.$round"
done
expect_ok "a good client still gets in" "$MQTTPKI" pub -h localhost -p "$PORT" --cafile "$P/pki/ca.crt" \
  --cert "$P/good/good.crt" --key "$P/good/good.key" -t t -m x
expect_match "broker logs the revocation" "client certificate 'gone' \(serial [0-9A-F]+\) is revoked by" "$T/broker.log"
finish
