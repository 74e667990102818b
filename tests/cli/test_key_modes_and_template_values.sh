#!/usr/bin/env bash
# Issue 13 items 15 and 17: the CA key, DIR/private and the CA passphrase file open to group or others are
# warned about; a private key file open to group or others is warned about wherever it is used (csr --key,
# export-pem, inspect, verify), and template --set values are checked by kind: a cron hour field cannot carry
# a command, a path cannot carry a space into a cron line or a systemd unit, host and user names are names.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE

expect_ok "gen-key" "$MQTTPKI" gen-key --out "$T/k.key"
expect_eq "gen-key writes 0600" 600 "$(file_mode "$T/k.key")"
expect_ok "csr with a 0600 key" "$MQTTPKI" csr --key "$T/k.key" --cn dev --out "$T/a.csr"
expect_eq "no warning for a 0600 key" "" "$(cat "$T/.err")"
chmod 644 "$T/k.key"
loose="warning: $T/k.key is readable by group or others \(mode 0644\); run chmod 600 $T/k.key"
expect_ok "csr with a 0644 key" "$MQTTPKI" csr --key "$T/k.key" --cn dev --out "$T/b.csr" --force
expect_match "csr warns" "^mqttpki csr: $loose" "$T/.err"
expect_ok "export-pem of a 0644 key" "$MQTTPKI" export-pem "$T/k.key" --out "$T/k.pem"
expect_match "export-pem warns" "^mqttpki export-pem: $loose" "$T/.err"
expect_ok "inspect of a 0644 key" "$MQTTPKI" inspect "$T/k.key"
expect_match "inspect warns" "^mqttpki inspect: $loose" "$T/.err"
chmod 640 "$T/k.key"
expect_ok "inspect of a 0640 key" "$MQTTPKI" inspect "$T/k.key"
expect_match "group bits warn too" "mode 0640\); run chmod 600" "$T/.err"
"$MQTTPKI" verify --broker 127.0.0.1:1 --cafile "$T/a.csr" --cert "$T/a.csr" --key "$T/k.key" --timeout 1 \
  >/dev/null 2>"$T/verify.err" || true
expect_match "verify --key warns" "^mqttpki verify: warning: $T/k.key is readable" "$T/verify.err"

# --- the CA key, DIR/private and the passphrase file, as sign uses them
expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Modes CA"
expect_ok "sign with tight modes" "$MQTTPKI" sign "$T/a.csr" --profile client --name a1
expect_eq "no warning with 0600/0700" "" "$(grep warning "$T/.err" || true)"
chmod 644 "$T/pki/private/ca.key"
chmod 755 "$T/pki/private"
printf 'unused\n' >"$T/ca.pass"
chmod 644 "$T/ca.pass"
expect_ok "sign with loose modes" "$MQTTPKI" sign "$T/a.csr" --profile client --name a2 --passphrase-file "$T/ca.pass"
expect_match "CA key warning" "^mqttpki sign: warning: $T/pki/private/ca.key is readable by group or others \(mode 0644\); run chmod 600 $T/pki/private/ca.key" "$T/.err"
expect_match "private/ warning" "^mqttpki sign: warning: $T/pki/private is open by group or others \(mode 0755\); run chmod 700 $T/pki/private" "$T/.err"
expect_match "passphrase file warning" "^mqttpki sign: warning: $T/ca.pass is readable by group or others \(mode 0644\); run chmod 600" "$T/.err"

# --- item 17: help texts say where Ed25519 and IP SANs fail
expect_ok "gen-key --help" "$MQTTPKI" gen-key --help
expect_match "Ed25519 and mbedTLS 2.x" "ed25519 \(Ed25519: mbedTLS 2.x devices such as the ESP32 .*cannot verify it" "$T/.out"
expect_ok "csr --help" "$MQTTPKI" csr --help
expect_match "IP SANs and mbedTLS 2.28" "prefer DNS names: mbedTLS 2.28 \(ESP32, many devices\) does not match IP SANs" "$T/.out"
expect_ok "sign --help" "$MQTTPKI" sign --help
expect_match "sign: IP SANs and mbedTLS 2.28" "does not match IP SANs" "$T/.out"

# --- template values
cron_attack='*/1 * * * * root rm -rf / #'
expect_fail "a command in the cron hour" "^mqttpki template: error: --set hour=.*: a cron hour field is 0-23" \
  "$MQTTPKI" template cron-renew --set "hour=$cron_attack"
expect_fail "hour 24" "a cron hour field is 0-23" "$MQTTPKI" template cron-renew --set hour=24
for h in 3 '*/6' 1-5 3,15 '0-23/2' '*'; do
  expect_ok "hour $h" "$MQTTPKI" template cron-renew --set "hour=$h"
  cp "$T/.out" "$T/cron"
  expect_ok "hour $h lands in the line" grep -qxF -- "17 $h * * * root mqttpki renew --all --within 30d --quiet --deploy-hook 'mqttpki deploy --to /etc/mosquitto/certs --name server --group mosquitto --reload \"systemctl reload mosquitto\"'" "$T/cron"
done
expect_fail "a path with a space (cron)" "--set passphrase_file=/etc/my ca.pass: a path here is .*no spaces" \
  "$MQTTPKI" template cron-renew --set "passphrase_file=/etc/my ca.pass"
expect_fail "a path with a space (systemd)" "--set ca_dir=/var/lib/my ca: a path here" \
  "$MQTTPKI" template systemd-renew.service --set "ca_dir=/var/lib/my ca"
expect_fail "a path with a space (mosquitto)" "--set cert_dir=/etc/mos certs: a path here" \
  "$MQTTPKI" template mosquitto-tls --set "cert_dir=/etc/mos certs"
expect_fail "a user with a space" "--set user=root evil: a user name" \
  "$MQTTPKI" template cron-renew --set "user=root evil"
expect_fail "a quote in the hook" "--set deploy_hook=.*: the hook lands in single quotes" \
  "$MQTTPKI" template cron-renew --set "deploy_hook=x'; rm -rf / #"
expect_fail "a % in the cron hook" "no ' % or" "$MQTTPKI" template cron-renew --set "deploy_hook=date +%s"
expect_ok "double quotes in the hook, as in the default" "$MQTTPKI" template cron-renew \
  --set 'deploy_hook=mqttpki deploy --to /etc/mosquitto/certs --reload "systemctl reload mosquitto"'
expect_fail "crl_days 0" "--set crl_days=0: a number of days from 1 to 3650" \
  "$MQTTPKI" template cron-renew --set crl_days=0
expect_fail "a tab" "cannot contain a line break or other control character" \
  "$MQTTPKI" template mosquitto-tls --set "server_name=a	b"
expect_ok "a quoted JSON value may hold a space" "$MQTTPKI" template node-red-tls --set "cert_dir=/home/pi/my certs"
expect_match "escaped into the JSON" '"/home/pi/my certs/' "$T/.out"
expect_ok "paths with - . _ +" "$MQTTPKI" template cron-renew --set passphrase_file=/etc/mqtt-pki/ca_1.pass+ \
  --set ca_dir=/srv/ca.d --set user=mqtt-pki
expect_match "the path lands" "--passphrase-file /etc/mqtt-pki/ca_1.pass\+ " "$T/.out"
finish
