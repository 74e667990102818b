#!/usr/bin/env bash
# mqttpki revoke and crl: revoking a NAME takes its superseded certificates too, the CRL is v2 with a CRL
# number and AKI and passes `openssl crl -verify`, `openssl verify -crl_check` refuses the revoked client,
# and `renew --all --within` re-issues a CRL whose nextUpdate comes within the window.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE
D=$MQTTPKI_DIR
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Revoke Test CA"
for n in good bad; do
  expect_ok "csr $n" "$MQTTPKI" csr --new-key "$T/$n.key" --cn "$n" --out "$T/$n.csr"
  expect_ok "sign $n" "$MQTTPKI" sign "$T/$n.csr" --profile client --days 90
done
cp "$D/issued/bad.crt" "$T/bad-1.crt"
expect_ok "renew bad (the old one is superseded, still valid)" "$MQTTPKI" renew bad
cp "$D/issued/bad.crt" "$T/bad-2.crt"

# --- a CRL with nothing revoked yet (init-ca wrote number 1, empty)
expect_ok "empty crl" "$MQTTPKI" crl
expect_match "crl summary" "wrote $D/crl.pem: CRL number 2, 0 revoked, next update" "$T/.out"
expect_ok "empty crl verifies" openssl crl -in "$D/crl.pem" -CAfile "$D/ca.crt" -noout
expect_ok "bad verifies before revocation" \
  openssl verify -crl_check -CRLfile "$D/crl.pem" -CAfile "$D/ca.crt" "$T/bad-2.crt"

# --- revoke by NAME: both of bad's certificates
expect_ok "revoke bad" "$MQTTPKI" revoke bad --reason keyCompromise
expect_match "revoked the renewed one" "^revoked +bad serial $(serial_of "$T/bad-2.crt") \(keyCompromise" "$T/.out"
expect_match "revoked the superseded one" "^revoked +bad serial $(serial_of "$T/bad-1.crt") " "$T/.out"
expect_match "reminds to run crl" "mqttpki crl" "$T/.err"
expect_ok "revoke bad again" "$MQTTPKI" revoke bad
expect_match "already revoked" "^already revoked +bad serial" "$T/.out"
expect_fail "unknown target" "'nobody' is neither a certificate name nor a serial" "$MQTTPKI" revoke nobody
expect_fail "bad reason" "--reason 'because': use keyCompromise" "$MQTTPKI" revoke good --reason because

mkdir -p "$T/copy"
expect_ok "crl --days 10 --out" "$MQTTPKI" crl --days 10 --out "$T/copy/crl.pem"
expect_match "second CRL" "CRL number 3, 2 revoked" "$T/.out"
expect_eq "--out is a copy" "$(cat "$D/crl.pem")" "$(cat "$T/copy/crl.pem")"
expect_eq "crl.pem mode" 644 "$(file_mode "$D/crl.pem")"
expect_ok "crl verifies with the CA" openssl crl -in "$D/crl.pem" -CAfile "$D/ca.crt" -noout
openssl crl -in "$D/crl.pem" -noout -text >"$T/crl.txt"
expect_match "v2" "Version 2" "$T/crl.txt"
expect_match "CRL number" "X509v3 CRL Number" "$T/crl.txt"
expect_match "AKI" "X509v3 Authority Key Identifier" "$T/crl.txt"
expect_match "reason" "Key Compromise" "$T/crl.txt"
expect_match "bad-1 listed" "$(serial_of "$T/bad-1.crt")" "$T/crl.txt"
expect_match "bad-2 listed" "$(serial_of "$T/bad-2.crt")" "$T/crl.txt"
if grep -q "$(serial_of "$D/issued/good.crt")" "$T/crl.txt"; then fail "good is listed"; else pass; fi
expect_eq "index crl_number" 3 "$(ca_records "$D" | python3 -c "import json,sys; print(json.load(sys.stdin)['crl_number'])")"

for f in "$T/bad-1.crt" "$T/bad-2.crt"; do
  expect_fail "$(basename "$f") refused with the CRL" "certificate revoked" \
    openssl verify -crl_check -CRLfile "$D/crl.pem" -CAfile "$D/ca.crt" "$f"
done
expect_ok "good accepted with the CRL" openssl verify -crl_check -CRLfile "$D/crl.pem" -CAfile "$D/ca.crt" "$D/issued/good.crt"

# --- by serial, colon-separated lower case as `openssl x509 -serial` users may paste it
good_serial=$(serial_of "$D/issued/good.crt")
colons=$(echo "$good_serial" | tr 'A-F' 'a-f' | sed 's/../&:/g; s/:$//')
expect_ok "revoke by serial" "$MQTTPKI" revoke "$colons" --reason cessationOfOperation --json
expect_match "json lists it" "\"serial\": \"$good_serial\"" "$T/.out"
expect_ok "renew --all with everything revoked: only the CRL" "$MQTTPKI" renew --all --within 30d
expect_eq "only the CRL line" "renewed  CRL: number 4, 3 revoked" "$(cut -d, -f1-2 "$T/.out")"

# --- the CRL's nextUpdate: renew --all --within re-issues it once less than half its lifetime remains
expect_ok "crl for 10 days" "$MQTTPKI" crl --days 10
expect_ok "within 5d: CRL not due" "$MQTTPKI" renew --all --within 5d --quiet
expect_eq "nothing printed" "" "$(cat "$T/.out")"
expect_ok "within 30d: a fresh CRL is not due either (the rule is its half-life, not the window)" \
  "$MQTTPKI" renew --all --within 30d --quiet
expect_eq "nothing printed" "" "$(cat "$T/.out")"
# The checks below run on the clock of the re-issue (6 days on with faketime).
CLOCK=() offset_days=0
if command -v faketime >/dev/null; then
  expect_ok "4 days on: still more than half left" faketime -f +4d "$MQTTPKI" renew --all --within 1d --quiet
  expect_eq "nothing printed" "" "$(cat "$T/.out")"
  CLOCK=(faketime -f +6d) offset_days=6
  expect_ok "6 days on: less than half left, re-issued" "${CLOCK[@]}" "$MQTTPKI" renew --all --within 1d
else
  expect_ok "no faketime: without a window it is always re-issued" "$MQTTPKI" renew --all
fi
expect_match "says so" "^renewed +CRL: number 6, 3 revoked, next update" "$T/.out"
expect_ok "list" "${CLOCK[@]}" "$MQTTPKI" list
expect_match "list shows the CRL's next update" "^CRL $D/crl.pem: number 6, 3 revoked, next update .* \((9|10) days left\)" "$T/.out"
expect_match "list shows revoked entries" "revoked" "$T/.out"
expect_ok "inspect the CRL" "${CLOCK[@]}" "$MQTTPKI" inspect "$D/crl.pem"
expect_match "inspect: next update" "^  next update   .* \((9|10) days left\)" "$T/.out"
expect_match "inspect: number" "^  number        6$" "$T/.out"
expect_ok "inspect the CRL --json" "$MQTTPKI" inspect "$D/crl.pem" --json
expect_eq "inspect json: revoked count" 3 "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["revoked"]))' <"$T/.out")"
expect_ok "the re-issued CRL keeps its 10-day length" \
  openssl crl -in "$D/crl.pem" -noout -nextupdate
next=$(openssl crl -in "$D/crl.pem" -noout -nextupdate | cut -d= -f2)
days_left=$(( ($(date -d "$next" +%s) - $(date +%s) - offset_days * 86400) / 86400 ))
if [ "$days_left" -ge 9 ] && [ "$days_left" -le 10 ]; then pass; else fail "re-issued CRL: $days_left days, expected 10"; fi
expect_ok "revoked cert stays refused under the re-issued CRL" test -n "$(openssl verify -crl_check -CRLfile "$D/crl.pem" -CAfile "$D/ca.crt" "$T/bad-2.crt" 2>&1 | grep 'certificate revoked')"
# A damaged crl.pem: the certificate renewals still run, the CRL is reported failed with the fix.
echo "garbage" >"$D/crl.pem"
rc=0; "$MQTTPKI" renew --all --within 30d >"$T/.out" 2>"$T/.err" || rc=$?
expect_eq "damaged CRL makes the run fail" 1 "$rc"
expect_match "and names the file and the fix" "^failed +CRL: $D/crl.pem: .*mqttpki crl" "$T/.out"
expect_ok "mqttpki crl repairs it" "$MQTTPKI" crl
finish
