#!/usr/bin/env bash
# Renewal for a PKI made with the seed guide's openssl commands: `renew --ca --ca-cert --ca-key` in place
# (old leaves keep verifying), and the import layout of the CA folder with `renew CERTFILE` adopting
# certificates that openssl issued.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
unset MQTTPKI_PASSPHRASE MQTTPKI_DIR
S=$T/seed
mkdir -p "$S"
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# The guide's steps 1-3, without the prompts.
(
  cd "$S"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -new -x509 -sha256 -days 365 -key ca.key -out ca.crt -subj "/C=DE/O=Home/CN=Seed CA"
  openssl ecparam -name prime256v1 -genkey -noout -out server_mqtt.key
  openssl req -new -sha256 -key server_mqtt.key -out server_mqtt.csr -subj "/O=Home/CN=mqtt.example.com"
  openssl x509 -req -in server_mqtt.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1000 -sha256
  openssl ecparam -name prime256v1 -genkey -noout -out client_mqtt.key
  openssl req -new -sha256 -key client_mqtt.key -out client_mqtt.csr -subj "/O=Home/CN=pi1"
  openssl x509 -req -in client_mqtt.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client1.crt -days 1000 -sha256
) >"$T/seed.log" 2>&1 || { cat "$T/seed.log"; fail "seed commands"; finish; exit 1; }
cp "$S/ca.crt" "$T/seed-ca-orig.crt"

# --- renew --ca on the seed's own files
expect_fail "--ca-cert without --ca-key" "give both --ca-cert FILE and --ca-key FILE" \
  "$MQTTPKI" renew --ca --ca-cert "$S/ca.crt"
expect_ok "renew --ca --ca-cert --ca-key" "$MQTTPKI" renew --ca --ca-cert "$S/ca.crt" --ca-key "$S/ca.key" --days 730
expect_match "next steps" "copy $S/ca.crt to every client" "$T/.out"
expect_eq "old ca.crt archived next to it" "$(cat "$T/seed-ca-orig.crt")" "$(cat "$S"/archive/ca-*.crt)"
if [ "$(serial_of "$S/ca.crt")" != "$(serial_of "$T/seed-ca-orig.crt")" ]; then pass; else fail "CA not renewed"; fi
expect_eq "same subject" "$(openssl x509 -in "$T/seed-ca-orig.crt" -noout -subject)" \
  "$(openssl x509 -in "$S/ca.crt" -noout -subject)"
expect_eq "same SKI" "$(openssl x509 -in "$T/seed-ca-orig.crt" -noout -ext subjectKeyIdentifier | tail -1)" \
  "$(openssl x509 -in "$S/ca.crt" -noout -ext subjectKeyIdentifier | tail -1)"
if grep -q "lifetime " "$T/.out"; then fail "--days given, but the lifetime hint shown"; else pass; fi
expect_ok "new CA lives 730 days" openssl x509 -in "$S/ca.crt" -noout -checkend $((729 * 86400))
expect_match "conforming CA extensions" "Certificate Sign, CRL Sign" <(openssl x509 -in "$S/ca.crt" -noout -ext keyUsage)
for leaf in server.crt client1.crt; do
  expect_ok "seed $leaf verifies under the renewed CA" openssl verify -CAfile "$S/ca.crt" "$S/$leaf"
done
expect_fail "a key that is not the CA's" "does not match the CA certificate" \
  "$MQTTPKI" renew --ca --ca-cert "$S/ca.crt" --ca-key "$S/client_mqtt.key"

# --- the import layout (see `mqttpki renew --help` / ca_folder.hpp), then renew the seed's leaves by file
D=$T/pki
mkdir -p "$D/private" && chmod 700 "$D/private"
cp "$S/ca.crt" "$D/" && cp "$S/ca.key" "$D/private/ca.key"
expect_ok "renew a seed client certificate by file" "$MQTTPKI" renew "$S/client1.crt" --dir "$D"
expect_match "the client's role is said" "client1.crt has no extendedKeyUsage; adopting it as a client certificate" "$T/.err"
expect_match "adopted as client1" "^renewed +client1: serial $(serial_of "$S/client1.crt") -> " "$T/.out"
expect_ok "renewed client verifies as a TLS client" \
  openssl verify -CAfile "$D/ca.crt" -purpose sslclient "$D/issued/client1.crt"
expect_eq "same key as the device's" "$(openssl pkey -in "$S/client_mqtt.key" -pubout)" \
  "$(openssl x509 -in "$D/issued/client1.crt" -noout -pubkey)"
expect_eq "same subject" "$(openssl x509 -in "$S/client1.crt" -noout -subject)" \
  "$(openssl x509 -in "$D/issued/client1.crt" -noout -subject)"
ca_records "$D" >"$T/records.json"
expect_match "the old one is in the index, superseded" "\"status\": \"superseded\"" "$T/records.json"
rc=0; "$MQTTPKI" renew "$S/client1.crt" --dir "$D" >"$T/.out" 2>&1 || rc=$?
expect_eq "renewing the same old file again fails" 1 "$rc"
expect_match "and says to renew the name" "already renewed .*renew 'client1' instead" "$T/.out"
expect_ok "by name from now on" "$MQTTPKI" renew client1 --dir "$D"

rc=0; "$MQTTPKI" renew client1 --profile server --san DNS:x.example --dir "$D" >"$T/.out" 2>"$T/.err" || rc=$?
expect_eq "--profile/--san with a NAME is a usage error, not ignored" 2 "$rc"
expect_match "and says what to do" "apply when adopting a certificate FILE.*mqttpki sign CSR --name client1" "$T/.err"

# The seed's server certificate has neither SANs nor extendedKeyUsage: its file name makes it a server (said),
# never silently a client; a server profile needs --san.
rc=0; "$MQTTPKI" renew "$S/server.crt" --name server --dir "$D" >"$T/.out" 2>"$T/.err" || rc=$?
expect_eq "server.crt without --profile: not a client, fails for the SAN" 1 "$rc"
expect_match "inferred server from the file name" "server.crt has no extendedKeyUsage; adopting it as a server certificate \(its file name says server\)" "$T/.err"
if grep -q '"name": "server"' "$D/index.json"; then fail "a failed adoption was recorded"; else pass; fi
# The seed's server certificate has neither SANs nor extendedKeyUsage: a server profile needs --san.
rc=0; "$MQTTPKI" renew "$S/server.crt" --profile server --dir "$D" >"$T/.out" 2>&1 || rc=$?
expect_eq "server without a SAN fails" 1 "$rc"
expect_match "names the SAN fix" "(SAN|subject alternative name)" "$T/.out"
expect_ok "server with --san" "$MQTTPKI" renew "$S/server.crt" --profile server --san DNS:mqtt.example.com \
  --name server --dir "$D"
expect_ok "renewed server verifies for its host name" openssl verify -CAfile "$D/ca.crt" -purpose sslserver \
  -verify_hostname mqtt.example.com "$D/issued/server.crt"

# A certificate from another CA is refused.
openssl req -new -x509 -sha256 -days 30 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$T/other.key" -out "$T/other.crt" -subj "/CN=Other" >/dev/null 2>&1
rc=0; "$MQTTPKI" renew "$T/other.crt" --dir "$D" >"$T/.out" 2>&1 || rc=$?
expect_eq "foreign certificate fails" 1 "$rc"
expect_match "says it is not ours" "was not issued by the CA" "$T/.out"
finish
