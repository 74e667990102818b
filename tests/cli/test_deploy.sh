#!/usr/bin/env bash
# export-pem --bundle without a CA folder (--cafile/--cert), --owner/--group (root only: key 0640 for the
# group), `mqttpki deploy` (atomic, only-if-changed, --reload once), deploy hooks with MQTTPKI_KIND and a
# scrubbed environment, init-ca's empty CRL, the CRL half-life rule of `renew --all --within`.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
unset MQTTPKI_PASSPHRASE
export MQTTPKI_DIR="$T/ca/pki"
mkdir -p "$T/ca" "$T/server"

# CA host: init-ca writes an empty, valid CRL.
expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Deploy CA" --crl-days 8
expect_ok "empty CRL verifies" openssl crl -in "$MQTTPKI_DIR/crl.pem" -CAfile "$MQTTPKI_DIR/ca.crt" -noout
expect_eq "empty CRL revokes nothing" "0" "$(openssl crl -in "$MQTTPKI_DIR/crl.pem" -noout -text | grep -c 'Serial Number' || true)"

# Server host: key and CSR stay in $T/server; only the CSR goes to the CA, only certificates come back.
expect_ok "server csr" "$MQTTPKI" csr --new-key "$T/server/server.key" --cn mqtt.example.com --san DNS:mqtt.example.com --out "$T/server/server.csr"
expect_ok "sign" "$MQTTPKI" sign "$T/server/server.csr" --name server --profile server --days 30
cp "$MQTTPKI_DIR/issued/server.crt" "$MQTTPKI_DIR/ca.crt" "$MQTTPKI_DIR/crl.pem" "$T/server/"

# --- export-pem --bundle on a host without a CA folder
cd "$T/server"
expect_fail "bundle by --name without a CA folder says what to give" "no CA folder .*--cafile ca.crt --cert server.crt" \
  env MQTTPKI_DIR=pki "$MQTTPKI" export-pem --bundle mosquitto --name server --key server.key --out-dir mc
expect_ok "bundle from files" env MQTTPKI_DIR=pki "$MQTTPKI" export-pem --bundle mosquitto --cafile ca.crt --cert server.crt --key server.key --out-dir mc
expect_ok "bundle files" test -s mc/ca.crt -a -s mc/server.crt -a -s mc/server.key
expect_eq "bundle key 0600" "600" "$(file_mode mc/server.key)"
expect_ok "node-red bundle from files" "$MQTTPKI" export-pem --bundle node-red --cafile ca.crt --cert server.crt --name srv --out-dir nr
expect_ok "node-red names" test -s nr/ca_cert.pem -a -s nr/srv_cert.pem
expect_fail "--cafile without --cert" "--cafile needs --cert" "$MQTTPKI" export-pem --bundle mosquitto --cafile ca.crt --out-dir x
if [ "$(id -u)" = 0 ]; then
  expect_ok "bundle for a service group" "$MQTTPKI" export-pem --bundle mosquitto --cafile ca.crt --cert server.crt --key server.key --out-dir mg --owner root --group nogroup
  expect_eq "key 0640" "640" "$(file_mode mg/server.key)"
  expect_eq "key group" "root:nogroup" "$(stat -c %U:%G mg/server.key)"
  expect_eq "new folder 0750" "750" "$(file_mode mg)"
  expect_eq "certificate 0644" "644" "$(file_mode mg/server.crt)"
  chmod 0755 "$T" "$T/server"
  expect_fail "--group refused when not root" "only root can do: run it with sudo" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$MQTTPKI" export-pem --bundle mosquitto --cafile ca.crt --cert server.crt --out-dir /tmp/never-$$ --group nogroup
  expect_eq "nothing written when refused" "no" "$([ -e /tmp/never-$$ ] && echo yes || echo no)"
fi
expect_fail "unknown group" "--group no-such-group: no such group" "$MQTTPKI" export-pem --bundle mosquitto --cafile ca.crt --cert server.crt --out-dir y --group no-such-group

# --- deploy: first install, then no change, then a change
cat >reload.sh <<'SH'
#!/bin/sh
echo reload >>"$(dirname "$0")/reloads"
env | grep '^MQTTPKI_' >>"$(dirname "$0")/reload-env" || true
SH
chmod +x reload.sh
expect_ok "deploy" "$MQTTPKI" deploy --to etc --cafile ca.crt --cert server.crt --key server.key --crl crl.pem --reload "$T/server/reload.sh"
expect_match "installed the four" "installed etc/server.crt" "$T/.out"
expect_ok "deployed files" test -s etc/ca.crt -a -s etc/server.crt -a -s etc/server.key -a -s etc/crl.pem
expect_eq "deployed key 0600" "600" "$(file_mode etc/server.key)"
expect_eq "reloaded once" "1" "$(wc -l <reloads)"
expect_ok "deploy again" "$MQTTPKI" deploy --to etc --cafile ca.crt --cert server.crt --key server.key --crl crl.pem --reload "$T/server/reload.sh"
expect_match "unchanged" "unchanged etc/server.crt" "$T/.out"
expect_eq "no reload when nothing changed" "1" "$(wc -l <reloads)"
expect_ok "other-key cert" "$MQTTPKI" csr --new-key other.key --cn other --out other.csr
(cd "$T/ca" && "$MQTTPKI" sign "$T/server/other.csr" --name other --profile client >/dev/null 2>&1)
cp "$MQTTPKI_DIR/issued/other.crt" other.crt
expect_fail "a certificate that does not match the installed key is refused" "does not match other.crt; nothing installed|etc/server.key does not match" \
  "$MQTTPKI" deploy --to etc --name server --cert other.crt
expect_eq "refused deploy left the certificate" "$(cat server.crt)" "$(cat etc/server.crt)"
expect_fail "nothing to deploy" "nothing to deploy" "$MQTTPKI" deploy --to etc
if [ "$(id -u)" = 0 ]; then
  expect_ok "deploy again for a group: nothing changed" "$MQTTPKI" deploy --to etc --cafile ca.crt --cert server.crt --key server.key --group nogroup --reload "$T/server/reload.sh"
  expect_eq "the key now 0640 for the group" "640:nogroup" "$(stat -c %a:%G etc/server.key)"
  expect_eq "no reload for a mode change" "1" "$(wc -l <reloads)"
  expect_ok "back to 0600" "$MQTTPKI" deploy --to etc --cafile ca.crt --cert server.crt --key server.key
fi

# --- renew with the deploy hook: certificate and CRL, MQTTPKI_KIND, no passphrase in the hook
cd "$T/ca"
hook="mqttpki_bin=$MQTTPKI; \"\$mqttpki_bin\" deploy --to $T/server/etc --name server --reload $T/server/reload.sh"
expect_ok "revoke other" "$MQTTPKI" revoke other
expect_match "revoke says what to run next" "mqttpki deploy --to .* --crl .*crl.pem" "$T/.err"
rm -f "$T/server/reload-env"
expect_ok "renew --all with hook" env MQTTPKI_PASSPHRASE=not-for-hooks "$MQTTPKI" renew --all --within 60d --deploy-hook "$hook"
expect_match "server renewed" "^renewed  server" "$T/.out"
expect_match "CRL re-issued (a revoked certificate was missing)" "^renewed  CRL" "$T/.out"
expect_eq "the deployed certificate is the renewed one" "$(openssl x509 -in "$MQTTPKI_DIR/issued/server.crt" -noout -serial)" \
  "$(openssl x509 -in "$T/server/etc/server.crt" -noout -serial)"
expect_eq "the deployed CRL is the new one" "$(cat "$MQTTPKI_DIR/crl.pem")" "$(cat "$T/server/etc/crl.pem")"
expect_ok "deployed CRL names the revoked one" openssl verify -crl_check -CRLfile "$T/server/etc/crl.pem" -CAfile "$T/server/etc/ca.crt" "$T/server/etc/server.crt"
expect_eq "reloaded once per changed hook run (certificate, CRL)" "3" "$(wc -l <"$T/server/reloads")"
if grep -q PASSPHRASE "$T/server/reload-env"; then fail "passphrase reached a hook"; else pass; fi

# The CRL rule: not re-issued while more than half its life remains; re-issued after (faketime).
expect_ok "renew again: nothing due" "$MQTTPKI" renew --all --within 1d --deploy-hook "$hook"
if grep -q "renewed  CRL" "$T/.out"; then fail "CRL re-issued with most of its life left"; else pass; fi
if command -v faketime >/dev/null; then
  expect_ok "5 days later" faketime -f +5d "$MQTTPKI" renew --all --within 1d --deploy-hook "$hook"
  expect_match "CRL re-issued past half its life" "^renewed  CRL" "$T/.out"
  expect_eq "and deployed" "$(cat "$MQTTPKI_DIR/crl.pem")" "$(cat "$T/server/etc/crl.pem")"
  # list --expiring lists a certificate that has already expired (not "nothing expires").
  expect_ok "list --expiring 40 days on" faketime -f +40d "$MQTTPKI" list --expiring 30d
  expect_match "expired server listed" "^server .* expired " "$T/.out"
fi
finish
