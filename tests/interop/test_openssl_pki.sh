#!/usr/bin/env bash
# mqttpki and the openssl CLI, both ways: openssl-made CSRs (the seed guide's commands) signed by mqttpki, a
# seed-style openssl CA used through the CA folder layout, an mqttpki CSR signed by `openssl x509 -req`,
# `openssl verify -x509_strict -purpose` of every profile and key type, and a mutual-TLS handshake between
# `openssl s_server` and `openssl s_client` with verification on, using mqttpki certificates.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
unset MQTTPKI_PASSPHRASE MQTTPKI_DIR
command -v openssl >/dev/null || skip "openssl CLI not installed"

# --- 1. CSRs made with the seed guide's openssl commands, signed by mqttpki
expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Interop CA" --org Home --dir ca
openssl ecparam -name prime256v1 -genkey -noout -out server_mqtt.key
openssl req -new -sha256 -key server_mqtt.key -out server_mqtt.csr -subj "/C=DE/O=Home/CN=localhost"
openssl ecparam -name prime256v1 -genkey -noout -out client_mqtt.key
openssl req -new -sha256 -key client_mqtt.key -out client_mqtt.csr -subj "/C=DE/O=Home/CN=pi1/emailAddress=pi@example.com"
expect_ok "mqttpki csr from the seed's SEC1 key" "$MQTTPKI" csr --key server_mqtt.key --cn localhost \
  --san DNS:localhost --out mqttpki_server.csr
expect_ok "openssl verifies that CSR" openssl req -in mqttpki_server.csr -noout -verify
expect_eq "same public key as the SEC1 key" "$(openssl pkey -in server_mqtt.key -pubout)" \
  "$(openssl req -in mqttpki_server.csr -noout -pubkey)"
expect_ok "sign openssl server CSR" "$MQTTPKI" sign server_mqtt.csr --profile server --dir ca \
  --san DNS:localhost --san IP:127.0.0.1 --days 1000 --out server.crt
expect_ok "sign openssl client CSR" "$MQTTPKI" sign client_mqtt.csr --profile client --dir ca --out client1.crt
expect_ok "server: openssl verify -x509_strict sslserver" \
  openssl verify -x509_strict -purpose sslserver -CAfile ca/ca.crt server.crt
expect_ok "client: openssl verify -x509_strict sslclient" \
  openssl verify -x509_strict -purpose sslclient -CAfile ca/ca.crt client1.crt
expect_fail "server certificate is not a client certificate" "(unsupported|unsuitable) certificate purpose" \
  openssl verify -x509_strict -purpose sslclient -CAfile ca/ca.crt server.crt
expect_fail "client certificate is not a server certificate" "(unsupported|unsuitable) certificate purpose" \
  openssl verify -x509_strict -purpose sslserver -CAfile ca/ca.crt client1.crt
expect_match "client keeps the CSR's subject" "CN *= *pi1" <(openssl x509 -in client1.crt -noout -subject)

# --- 2. every CA key type x every profile verifies strictly
for kt in p256 p384 ed25519; do
  expect_ok "init-ca $kt" "$MQTTPKI" init-ca --cn "CA $kt" --key-type "$kt" --dir "ca-$kt"
  expect_ok "leaf csr $kt" "$MQTTPKI" csr --new-key "leaf-$kt.key" --key-type "$kt" --cn "leaf-$kt" \
    --san DNS:localhost --out "leaf-$kt.csr"
  expect_ok "sign server $kt" "$MQTTPKI" sign "leaf-$kt.csr" --profile server --dir "ca-$kt" --name "s-$kt" --out "s-$kt.crt"
  expect_ok "sign client $kt" "$MQTTPKI" sign "leaf-$kt.csr" --profile client --dir "ca-$kt" --name "c-$kt" --out "c-$kt.crt"
  expect_ok "verify CA $kt itself" openssl verify -x509_strict -CAfile "ca-$kt/ca.crt" "ca-$kt/ca.crt"
  expect_ok "verify server $kt" openssl verify -x509_strict -purpose sslserver -verify_hostname localhost \
    -CAfile "ca-$kt/ca.crt" "s-$kt.crt"
  expect_ok "verify client $kt" openssl verify -x509_strict -purpose sslclient -CAfile "ca-$kt/ca.crt" "c-$kt.crt"
done

# --- 3. a seed-style CA (openssl ecparam + req -x509) used through the CA folder layout
openssl ecparam -name prime256v1 -genkey -noout -out seed_ca.key
openssl req -new -x509 -sha256 -days 365 -key seed_ca.key -out seed_ca.crt -subj "/C=DE/O=Home/CN=Seed CA"
mkdir -p seed/private seed/issued && chmod 700 seed/private
cp seed_ca.crt seed/ca.crt && cp seed_ca.key seed/private/ca.key && chmod 600 seed/private/ca.key
# openssl's default v3_ca has no keyUsage, which strict X.509 requires of a CA: mqttpki says how to fix it.
expect_fail "seed CA without keyUsage is refused with the fix" "seed/ca.crt has no keyUsage.*renew --ca" \
  "$MQTTPKI" sign client_mqtt.csr --profile client --dir seed
if "$MQTTPKI" renew --help >/dev/null 2>&1; then
  expect_ok "renew --ca makes the seed CA conforming (same key)" "$MQTTPKI" renew --ca --dir seed
  expect_ok "seed CA signs" "$MQTTPKI" sign client_mqtt.csr --profile client --dir seed --out seed_client.crt
  expect_ok "verifies under the renewed seed CA" \
    openssl verify -x509_strict -purpose sslclient -CAfile seed/ca.crt seed_client.crt
  expect_ok "verifies under the ORIGINAL seed CA certificate too (same key and name)" \
    openssl verify -purpose sslclient -CAfile seed_ca.crt seed_client.crt
fi

# --- 4. an mqttpki CSR signed by `openssl x509 -req` (the seed's step 2.3), read back by mqttpki
expect_ok "mqttpki csr" "$MQTTPKI" csr --new-key node.key --cn node1 --san DNS:node1.local --out node.csr
expect_ok "openssl accepts the mqttpki CSR" openssl req -in node.csr -noout -verify
printf 'extendedKeyUsage = clientAuth\nkeyUsage = critical, digitalSignature\nbasicConstraints = CA:FALSE\n' >ext.cnf
expect_ok "openssl x509 -req signs it with the mqttpki CA key" openssl x509 -req -in node.csr -CA ca/ca.crt \
  -CAkey ca/private/ca.key -CAcreateserial -out node.crt -days 1000 -sha256 -extfile ext.cnf -copy_extensions copy
expect_ok "the openssl-signed certificate verifies" openssl verify -purpose sslclient -CAfile ca/ca.crt node.crt
expect_ok "mqttpki inspects it" "$MQTTPKI" inspect --json node.crt
cp "$T/.out" node.json
expect_ok "inspect sees the CSR's SAN and clientAuth" python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
assert d["sans"]==["DNS:node1.local"], d["sans"]; assert "clientAuth" in d["extended_key_usage"]
assert d["issuer"].startswith("CN=Interop CA")' node.json
expect_ok "export-pem of the openssl SEC1 key" "$MQTTPKI" export-pem client_mqtt.key --out client_key.pem
expect_ok "openssl reads the exported key" openssl pkey -in client_key.pem -noout

# --- 5. mutual TLS: openssl s_server and s_client with mqttpki certificates, verification on both sides
start_server() {  # start_server LOG: one connection, client certificate required
  local log=$1
  port=$(free_port)
  # stdin is a FIFO held open read-write: s_server ends a connection when its stdin reaches EOF
  [ -p "$T/srv.fifo" ] || { mkfifo "$T/srv.fifo" && exec 3<>"$T/srv.fifo"; }
  timeout 30 openssl s_server -accept "127.0.0.1:$port" -naccept 1 -cert server.crt -key server_mqtt.key \
    -CAfile ca/ca.crt -Verify 1 -verify_return_error -x509_strict -purpose sslclient <&3 >"$log" 2>&1 &
  track_pid $!
  server_pid=$!
  # s_server prints ACCEPT once it listens (connecting to probe would use up -naccept 1)
  local i
  for ((i = 0; i < 200; i++)); do grep -q '^ACCEPT' "$log" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
client() {  # client CERT KEY HOST
  echo "hello from s_client" | timeout 20 openssl s_client -connect "127.0.0.1:$port" -servername "$3" \
    -CAfile ca/ca.crt -verify_return_error -verify_hostname "$3" -x509_strict -purpose sslserver \
    -cert "$1" -key "$2" -brief
}
if start_server srv1.log; then pass; else fail "s_server did not start: $(cat srv1.log)"; fi
expect_ok "s_client handshake with verification" client client1.crt client_mqtt.key localhost
expect_match "client verified the server" "Verification: OK" "$T/.err"
wait "$server_pid" || true
expect_match "server saw the client certificate" "CN *= *pi1" srv1.log
expect_match "server got the data" "hello from s_client" srv1.log

if start_server srv2.log; then pass; else fail "s_server did not start: $(cat srv2.log)"; fi
expect_fail "wrong host name is refused by the client" "verify error|hostname mismatch|Verification error" \
  client client1.crt client_mqtt.key wrong.example
wait "$server_pid" || true

expect_ok "a client from another CA" "$MQTTPKI" csr --new-key stranger.key --cn stranger --out stranger.csr
expect_ok "signed by another CA" "$MQTTPKI" sign stranger.csr --profile client --dir ca-p256 --out stranger.crt
if start_server srv3.log; then pass; else fail "s_server did not start: $(cat srv3.log)"; fi
client stranger.crt stranger.key localhost >stranger.out 2>&1 || true
wait "$server_pid" || true
expect_match "server refuses a client certificate from another CA" "unable to get local issuer|verify error" srv3.log
finish
