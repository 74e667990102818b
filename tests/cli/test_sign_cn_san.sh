#!/usr/bin/env bash
# Server profile: a CN that is a host name or IP address joins the SAN when missing (clients check only the
# SAN); a CN that is neither gives a warning when other SANs exist, and the old refusal when none do.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE
sans_of() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | tr -d ' '; }
expect_ok "init-ca" "$MQTTPKI" init-ca --cn "CN SAN CA"

expect_ok "csr: CN host, other SAN" "$MQTTPKI" csr --new-key a.key --cn mqtt.example.com --san DNS:broker.lan --out a.csr
expect_ok "sign a" "$MQTTPKI" sign a.csr --profile server --name a
expect_match "says it added the CN" "added DNS:mqtt.example.com to the SAN" "$T/.err"
expect_eq "CN joined the SAN" "DNS:broker.lan,DNS:mqtt.example.com" "$(sans_of pki/issued/a.crt)"

expect_ok "csr: CN IP, no SAN" "$MQTTPKI" csr --new-key b.key --cn 192.0.2.7 --out b.csr
expect_ok "sign b (the CN is the only name)" "$MQTTPKI" sign b.csr --profile server --name b
expect_eq "IP SAN from the CN" "IPAddress:192.0.2.7" "$(sans_of pki/issued/b.crt)"
expect_ok "openssl checks the IP" openssl verify -CAfile pki/ca.crt -verify_ip 192.0.2.7 pki/issued/b.crt

expect_ok "csr: CN in SAN already" "$MQTTPKI" csr --new-key c.key --cn mqtt.example.com --san DNS:mqtt.example.com --out c.csr
expect_ok "sign c" "$MQTTPKI" sign c.csr --profile server --name c
if grep -q "added" "$T/.err"; then fail "nothing to add, but said so"; else pass; fi
expect_eq "no duplicate" "DNS:mqtt.example.com" "$(sans_of pki/issued/c.crt)"

expect_ok "csr: label CN, other SAN" "$MQTTPKI" csr --new-key d.key --cn "Living room broker" --san DNS:broker.lan --out d.csr
expect_ok "sign d" "$MQTTPKI" sign d.csr --profile server --name d
expect_match "warning for a CN that is not a name" "warning: the CN 'Living room broker' is not a host name" "$T/.err"
expect_eq "SAN as asked" "DNS:broker.lan" "$(sans_of pki/issued/d.crt)"

expect_ok "client: CN never added" "$MQTTPKI" csr --new-key e.key --cn pi1.example.com --out e.csr
expect_ok "sign e as client" "$MQTTPKI" sign e.csr --profile client --name e
if openssl x509 -in pki/issued/e.crt -noout -text | grep -q "DNS:pi1.example.com"; then fail "client got a SAN"; else pass; fi
finish
