#!/usr/bin/env bash
# Adopting an easy-rsa CA made by easy-rsa's own commands: its leaves carry an authorityKeyIdentifier with the
# CA's issuer and serial, so after `renew --ca` OpenSSL refuses them; mqttpki names exactly those and
# `renew FILE` re-issues them with a key-id-only AKI that verifies under the renewed CA.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
EASYRSA=$(command -v easyrsa || echo /usr/share/easy-rsa/easyrsa)
[ -x "$EASYRSA" ] || skip "easy-rsa not installed (apt-get install easy-rsa)"
command -v openssl >/dev/null || skip "openssl CLI not installed"
unset MQTTPKI_PASSPHRASE MQTTPKI_DIR
export EASYRSA_BATCH=1 EASYRSA_PKI="$T/pki"
{ "$EASYRSA" init-pki && EASYRSA_REQ_CN="Easy CA" "$EASYRSA" build-ca nopass && "$EASYRSA" build-server-full mqtt.example.com nopass &&
  "$EASYRSA" build-client-full pi1 nopass; } >"$T/easyrsa.log" 2>&1 || { fail "easy-rsa: $(tail -5 "$T/easyrsa.log")"; finish; }
D=$T/pki
expect_match "easy-rsa leaves name the CA's serial" "serial:" <(openssl x509 -in "$D/issued/pi1.crt" -noout -ext authorityKeyIdentifier)
cp "$D/issued/pi1.crt" "$T/pi1-easyrsa.crt"

expect_ok "renew --ca on the easy-rsa folder" "$MQTTPKI" renew --ca --dir "$D"
expect_match "names the server leaf" "re-issue $D/issued/mqtt.example.com.crt .*mqttpki renew $D/issued/mqtt.example.com.crt" "$T/.out"
expect_match "names the client leaf" "re-issue $D/issued/pi1.crt " "$T/.out"
expect_eq "only those two" 2 "$(grep -c '^  re-issue ' "$T/.out")"
expect_fail "and rightly: OpenSSL refuses them under the new CA" "error" openssl verify -CAfile "$D/ca.crt" "$T/pi1-easyrsa.crt"

for leaf in mqtt.example.com pi1; do
  expect_ok "re-issue $leaf" "$MQTTPKI" renew "$D/issued/$leaf.crt" --dir "$D"
  expect_ok "$leaf verifies under the renewed CA" openssl verify -CAfile "$D/ca.crt" "$D/issued/$leaf.crt"
done
expect_ok "server keeps its role" openssl verify -CAfile "$D/ca.crt" -purpose sslserver -verify_hostname mqtt.example.com "$D/issued/mqtt.example.com.crt"
expect_ok "a second renew --ca" "$MQTTPKI" renew --ca --dir "$D" --days 3650
if grep -q "re-issue" "$T/.out"; then fail "leaves with key-id AKIs reported: $(cat "$T/.out")"; else pass; fi
if grep -q "lifetime " "$T/.out"; then fail "--days given, lifetime hint shown"; else pass; fi
for leaf in mqtt.example.com pi1; do
  expect_ok "$leaf still verifies after the second CA renewal" openssl verify -CAfile "$D/ca.crt" "$D/issued/$leaf.crt"
done
finish
