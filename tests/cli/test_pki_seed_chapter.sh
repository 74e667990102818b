#!/usr/bin/env bash
# The seed guide's certificate chapter, done with mqttpki as a user would: a CA, a server key+CSR signed with
# a SAN, a client key+CSR signed, the Node-RED and Mosquitto bundles; file modes; list and inspect output.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE

printf 'correct horse battery staple\n' >ca.pass
chmod 600 ca.pass

# Step 1: the CA
expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Home MQTT CA" --org Home --country DE --passphrase-file ca.pass
expect_match "init-ca says what it made" "pki/ca.crt" "$T/.out"
expect_match "init-ca says the key is encrypted" "encrypted" "$T/.out"
expect_eq "private/ is 0700" 700 "$(file_mode pki/private)"
expect_eq "ca.key is 0600" 600 "$(file_mode pki/private/ca.key)"
expect_eq "ca.crt is 0644" 644 "$(file_mode pki/ca.crt)"
expect_match "CA key is encrypted PKCS#8" "BEGIN ENCRYPTED PRIVATE KEY" pki/private/ca.key
ca_records pki >records.json
expect_ok "the CA's records start empty" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["certificates"]==[]' records.json
expect_ok "openssl reads the CA" openssl x509 -in pki/ca.crt -noout -text
openssl x509 -in pki/ca.crt -noout -text >ca.txt
expect_match "CA is CA:TRUE, pathlen 0" "CA:TRUE, pathlen:0" ca.txt
expect_match "CA subject" "CN *= *Home MQTT CA" ca.txt

# Step 2: server key and CSR on the server, signed at the CA with a SAN
mkdir server client
expect_ok "server csr --new-key" "$MQTTPKI" csr --new-key server/server_mqtt.key --cn mqtt.example.com \
  --san DNS:mqtt.example.com --san IP:127.0.0.1 --out server/server_mqtt.csr
expect_eq "server key is 0600" 600 "$(file_mode server/server_mqtt.key)"
expect_match "server key is PKCS#8" "BEGIN PRIVATE KEY" server/server_mqtt.key
expect_ok "openssl verifies the CSR" openssl req -in server/server_mqtt.csr -noout -verify
expect_ok "sign server" "$MQTTPKI" sign server/server_mqtt.csr --profile server --days 1000 --out server/server_mqtt.crt \
  --passphrase-file ca.pass
expect_match "sign names the issued file" "pki/issued/mqtt.example.com.crt" "$T/.out"
expect_eq "issued copy equals --out" "$(cat pki/issued/mqtt.example.com.crt)" "$(cat server/server_mqtt.crt)"
expect_ok "server cert verifies as sslserver" openssl verify -x509_strict -purpose sslserver -CAfile pki/ca.crt \
  server/server_mqtt.crt
openssl x509 -in server/server_mqtt.crt -noout -ext subjectAltName,extendedKeyUsage >server.ext
expect_match "server SAN DNS" "DNS:mqtt.example.com" server.ext
expect_match "server SAN IP" "IP Address:127.0.0.1" server.ext
expect_match "server EKU" "TLS Web Server Authentication" server.ext

# Step 3: client key (gen-key) and CSR, signed with the passphrase from the environment
expect_ok "gen-key" "$MQTTPKI" gen-key --out client/client_mqtt.key
expect_eq "client key is 0600" 600 "$(file_mode client/client_mqtt.key)"
expect_ok "client csr" "$MQTTPKI" csr --key client/client_mqtt.key --cn pi1 --out client/client_mqtt.csr
MQTTPKI_PASSPHRASE="correct horse battery staple" expect_ok "sign client (env passphrase)" \
  "$MQTTPKI" sign client/client_mqtt.csr --profile client --out client/client1.crt
expect_ok "client cert verifies as sslclient" openssl verify -x509_strict -purpose sslclient -CAfile pki/ca.crt \
  client/client1.crt
openssl x509 -in client/client1.crt -noout -subject -ext extendedKeyUsage >client.ext
expect_match "client CN is the MQTT user name" "CN *= *pi1" client.ext
expect_match "client EKU" "TLS Web Client Authentication" client.ext

# csr default --out is CN.csr
expect_ok "csr default out" bash -c 'cd client && "$0" csr --key client_mqtt.key --cn pi2' "$MQTTPKI"
expect_ok "default CSR name is CN.csr" test -f client/pi2.csr

# Step 4: files for Node-RED and Mosquitto
expect_ok "node-red bundle" "$MQTTPKI" export-pem --bundle node-red --name pi1 --key client/client_mqtt.key \
  --out-dir nodered
expect_match "bundle warns the key is unencrypted" "UNENCRYPTED" "$T/.err"
for f in ca_cert.pem pi1_cert.pem pi1_key.pem; do expect_ok "node-red $f exists" test -s "nodered/$f"; done
expect_eq "node-red key 0600" 600 "$(file_mode nodered/pi1_key.pem)"
expect_eq "node-red cert is the issued one" "$(cat pki/issued/pi1.crt)" "$(cat nodered/pi1_cert.pem)"
expect_ok "node-red ca_cert equals ca.crt" cmp nodered/ca_cert.pem pki/ca.crt
expect_ok "node-red cert verifies" openssl verify -CAfile nodered/ca_cert.pem nodered/pi1_cert.pem
expect_ok "node-red key matches the cert" bash -c \
  'cmp <(openssl pkey -in nodered/pi1_key.pem -pubout) <(openssl x509 -in nodered/pi1_cert.pem -noout -pubkey)'
expect_fail "bundle refuses to overwrite" "exists; use --force" \
  "$MQTTPKI" export-pem --bundle node-red --name pi1 --key client/client_mqtt.key --out-dir nodered
expect_ok "bundle --force overwrites" "$MQTTPKI" export-pem --bundle node-red --name pi1 \
  --key client/client_mqtt.key --out-dir nodered --force
expect_ok "mosquitto bundle" "$MQTTPKI" export-pem --bundle mosquitto --name mqtt.example.com \
  --key server/server_mqtt.key --out-dir mosq
for f in ca.crt mqtt.example.com.crt mqtt.example.com.key; do expect_ok "mosquitto $f exists" test -s "mosq/$f"; done
expect_eq "mosquitto key 0600" 600 "$(file_mode mosq/mqtt.example.com.key)"
expect_fail "bundle: key of another cert refused" "does not match" \
  "$MQTTPKI" export-pem --bundle mosquitto --name pi1 --key server/server_mqtt.key --out-dir mosq2
expect_ok "refused bundle wrote nothing" test ! -e mosq2/pi1.crt

# export-pem of a SEC1 key (the seed's `openssl ecparam -genkey`) gives PKCS#8, 0600
openssl ecparam -name prime256v1 -genkey -noout -out sec1.key 2>/dev/null
expect_ok "export-pem SEC1 key" "$MQTTPKI" export-pem sec1.key --out sec1_key.pem
expect_match "export-pem warns" "UNENCRYPTED" "$T/.err"
expect_match "export-pem key is PKCS#8" "BEGIN PRIVATE KEY" sec1_key.pem
expect_eq "export-pem key 0600" 600 "$(file_mode sec1_key.pem)"
expect_ok "same key" bash -c 'cmp <(openssl pkey -in sec1.key -pubout) <(openssl pkey -in sec1_key.pem -pubout)'
expect_ok "gen-key encrypted" "$MQTTPKI" gen-key --out enc.key --key-type p384 --passphrase-file ca.pass
expect_match "encrypted PKCS#8" "BEGIN ENCRYPTED PRIVATE KEY" enc.key
expect_ok "export-pem encrypted PKCS#8 with its passphrase" "$MQTTPKI" export-pem enc.key --passphrase-file ca.pass \
  --out enc_plain.pem
expect_match "decrypted to PKCS#8" "BEGIN PRIVATE KEY" enc_plain.pem
expect_ok "openssl reads the decrypted key" openssl pkey -in enc_plain.pem -noout
openssl pkey -in sec1.key -outform DER -out sec1.der
expect_ok "export-pem DER key" "$MQTTPKI" export-pem sec1.der --out sec1_from_der.pem
expect_ok "DER key -> same PKCS#8 PEM" cmp sec1_from_der.pem sec1_key.pem
openssl x509 -in pki/ca.crt -outform DER -out ca.der
expect_ok "export-pem DER cert" "$MQTTPKI" export-pem ca.der --out ca_from_der.pem
expect_ok "DER -> PEM is the same certificate" cmp ca_from_der.pem pki/ca.crt
expect_ok "export-pem CSR to stdout" "$MQTTPKI" export-pem client/client_mqtt.csr
expect_match "CSR PEM" "BEGIN CERTIFICATE REQUEST" "$T/.out"

# list and inspect
expect_ok "list" "$MQTTPKI" list
expect_match "list shows pi1 valid" "^pi1 .* client +valid" "$T/.out"
expect_match "list shows the server" "^mqtt.example.com .* server +valid" "$T/.out"
expect_ok "list --json" "$MQTTPKI" list --json
cp "$T/.out" list.json
expect_ok "list --json is an array of 2" python3 -c '
import json,sys; rows=json.load(open(sys.argv[1]))
assert len(rows)==2, rows
assert {r["name"] for r in rows}=={"pi1","mqtt.example.com"}
days={r["name"]: r["days_left"] for r in rows if r["status"]=="valid"}
assert 998<=days["mqtt.example.com"]<=1000 and 363<=days["pi1"]<=365, days' list.json
expect_ok "list --expiring 400d" "$MQTTPKI" list --expiring 400d --json
cp "$T/.out" expiring.json
expect_ok "only the 365-day client expires within 400d" python3 -c '
import json,sys; rows=json.load(open(sys.argv[1])); assert [r["name"] for r in rows]==["pi1"], rows' expiring.json
expect_fail "list --expiring bad" "--expiring" "$MQTTPKI" list --expiring soon

expect_ok "inspect cert" "$MQTTPKI" inspect server/server_mqtt.crt
expect_match "inspect: SAN" "DNS:mqtt.example.com" "$T/.out"
expect_match "inspect: days left" "days left" "$T/.out"
expect_ok "inspect cert --json" "$MQTTPKI" inspect --json client/client1.crt
cp "$T/.out" cert.json
expect_ok "inspect json keys" python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
assert d["kind"]=="certificate" and d["subject"].startswith("CN=pi1") and d["is_ca"] is False
assert "clientAuth" in d["extended_key_usage"] and d["key_type"]=="EC P-256"
for k in ("issuer","serial","not_before","not_after","days_left","sans","key_usage","fingerprint_sha256"): assert k in d, k' cert.json
expect_ok "inspect csr --json" "$MQTTPKI" inspect --json server/server_mqtt.csr
cp "$T/.out" csr.json
expect_ok "csr json" python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
assert d["kind"]=="csr" and d["signature_valid"] is True and "DNS:mqtt.example.com" in d["sans"]' csr.json
expect_ok "inspect key" "$MQTTPKI" inspect --json client/client_mqtt.key
cp "$T/.out" key.json
expect_ok "key json has no secret" python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"]=="private_key" and d["key_type"]=="EC P-256"
assert "PRIVATE" not in open(sys.argv[1]).read()' key.json
expect_ok "inspect encrypted CA key without passphrase" "$MQTTPKI" inspect pki/private/ca.key
expect_match "encrypted: yes" "encrypted +yes" "$T/.out"

# --help shows an example for every PKI command
for c in init-ca gen-key csr sign export-pem inspect list; do
  expect_ok "$c --help" "$MQTTPKI" "$c" --help
  expect_match "$c --help has an example" "mqttpki $c" "$T/.out"
done
finish
