#!/usr/bin/env bash
# mqttpki renew: --within windows (the cron mode), --all, --quiet, --json, deploy hooks and their environment,
# explicit NAMEs, --days, --rekey, and the CA itself (old leaves keep verifying under `openssl verify`).
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
command -v python3 >/dev/null || skip "python3 not installed"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE
D=$MQTTPKI_DIR
echo "correct horse battery staple" >"$T/pass"

# issue NAME PROFILE DAYS [csr args...]: a fresh key and CSR for NAME, signed by the CA.
issue() {
  local name=$1 profile=$2 days=$3
  shift 3
  "$MQTTPKI" csr --new-key "$T/$name.key" --cn "$name" --out "$T/$name.csr" "$@" >/dev/null &&
    "$MQTTPKI" sign "$T/$name.csr" --profile "$profile" --days "$days" --passphrase-file "$T/pass" >/dev/null
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
pubkey_of() { openssl x509 -in "$1" -noout -pubkey; }
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

expect_ok "init-ca with an encrypted key" "$MQTTPKI" init-ca --cn "Renew Test CA" --days 730 --passphrase-file "$T/pass"
expect_ok "server, 10 days" issue server server 10 --san DNS:localhost
expect_ok "pi1, 10 days" issue pi1 client 10
expect_ok "pi2, 365 days" issue pi2 client 365
cp "$D/issued/server.crt" "$T/server-orig.crt"
cp "$D/issued/pi1.crt" "$T/pi1-orig.crt"
index_before=$(ca_records "$D" | sha256sum)

# --- nothing due within 5 days: a no-op that does not even need the CA key's passphrase
expect_ok "renew --within 5d" "$MQTTPKI" renew --all --within 5d
expect_match "server not due" "^not due +server: expires on .* \(in 9 days\), not within 5d" "$T/.out"
expect_match "pi2 not due" "^not due +pi2:" "$T/.out"
expect_eq "three lines" 3 "$(wc -l <"$T/.out")"
expect_ok "renew --within 5d --quiet" "$MQTTPKI" renew --all --within 5d --quiet
expect_eq "quiet: nothing on stdout" "" "$(cat "$T/.out")"
expect_eq "quiet: nothing on stderr" "" "$(cat "$T/.err")"
expect_eq "index untouched" "$index_before" "$(ca_records "$D" | sha256sum)"

# --- within 30 days: server and pi1 are renewed, the hook runs once for each
hook='echo "$MQTTPKI_NAME|$MQTTPKI_SERIAL|$MQTTPKI_CERT|$MQTTPKI_CA" >>"'$T'/hooks.log"; echo hook-output-for-$MQTTPKI_NAME'
expect_ok "renew --within 30d" "$MQTTPKI" renew --all --within 30d --passphrase-file "$T/pass" --deploy-hook "$hook"
cp "$T/.err" "$T/renew30.err"
expect_match "server renewed" "^renewed +server: serial $(serial_of "$T/server-orig.crt") -> [0-9A-F]+, valid until" "$T/.out"
expect_match "pi1 renewed" "^renewed +pi1:" "$T/.out"
expect_match "pi2 not due" "^not due +pi2:" "$T/.out"
expect_match "hook output goes to stderr" "hook-output-for-server" "$T/.err"
if grep -q hook-output "$T/.out"; then fail "hook output leaked into stdout"; else pass; fi
expect_eq "hook ran once per renewed certificate" 2 "$(grep -c '^[^|]' "$T/hooks.log")"
expect_eq "none for the CRL init-ca wrote: more than half its life left" 0 "$(grep -c '^|' "$T/hooks.log")"
new_serial=$(serial_of "$D/issued/server.crt")
expect_ok "hook saw server's new serial and paths" \
  grep -qx "server|$new_serial|$D/issued/server.crt|$D/ca.crt" "$T/hooks.log"
expect_eq "same key for server" "$(pubkey_of "$T/server-orig.crt")" "$(pubkey_of "$D/issued/server.crt")"
expect_eq "same subject" "$(openssl x509 -in "$T/server-orig.crt" -noout -subject)" \
  "$(openssl x509 -in "$D/issued/server.crt" -noout -subject)"
expect_match "SAN kept" "DNS:localhost" <(openssl x509 -in "$D/issued/server.crt" -noout -ext subjectAltName)
expect_ok "renewed server verifies" openssl verify -CAfile "$D/ca.crt" -purpose sslserver "$D/issued/server.crt"
expect_ok "renewed pi1 verifies as client" openssl verify -CAfile "$D/ca.crt" -purpose sslclient "$D/issued/pi1.crt"
expect_ok "the device key still matches" \
  test "$(openssl pkey -in "$T/pi1.key" -pubout)" = "$(pubkey_of "$D/issued/pi1.crt")"
expect_eq "old server marked superseded by the new serial" "superseded $new_serial" \
  "$(ca_records "$D" >"$T/records.json"; json_get "$T/records.json" "' '.join([[c['status'], c.get('superseded_by','')] for c in d['certificates'] if c['serial']=='$(serial_of "$T/server-orig.crt")'][0])")"
expect_eq "five index entries" 5 "$(json_get "$T/records.json" "len(d['certificates'])")"
# The original validity length (10 days) is kept.
expect_ok "new server lives about 10 days" openssl x509 -in "$D/issued/server.crt" -noout -checkend $((9 * 86400))
if openssl x509 -in "$D/issued/server.crt" -noout -checkend $((11 * 86400)) >/dev/null; then
  fail "renewed server lives longer than the original 10 days"
else pass; fi
expect_match "short validity vs window warned" "no longer than the 30d renewal window" "$T/renew30.err"

# --- --json
expect_ok "renew --json" "$MQTTPKI" renew pi2 --within 5d --json
cp "$T/.out" "$T/r.json"
expect_eq "json status" "not due" "$(json_get "$T/r.json" "d['certificates'][0]['status']")"
expect_eq "json name" "pi2" "$(json_get "$T/r.json" "d['certificates'][0]['name']")"
expect_ok "renew pi2 --days 5 --json" "$MQTTPKI" renew pi2 --days 5 --json --passphrase-file "$T/pass"
cp "$T/.out" "$T/r2.json"
expect_eq "json renewed" "renewed" "$(json_get "$T/r2.json" "d['certificates'][0]['status']")"
expect_eq "json new serial is the file's" "$(serial_of "$D/issued/pi2.crt")" \
  "$(json_get "$T/r2.json" "d['certificates'][0]['new_serial']")"
if openssl x509 -in "$D/issued/pi2.crt" -noout -checkend $((6 * 86400)) >/dev/null; then
  fail "--days 5 not applied"
else pass; fi

# --- a failing hook: reported, non-zero exit, but the renewal stays
before=$(serial_of "$D/issued/pi1.crt")
expect_fail "failing hook" "deploy hook for pi1 exited with status 3; the renewal itself stands" \
  "$MQTTPKI" renew pi1 --passphrase-file "$T/pass" --deploy-hook 'exit 3'
after=$(serial_of "$D/issued/pi1.crt")
if [ "$before" != "$after" ]; then pass; else fail "renewal undone by the failing hook"; fi
expect_eq "index current serial is the file's" "$after" \
  "$(ca_records "$D" >"$T/records.json"; json_get "$T/records.json" "[c['serial'] for c in d['certificates'] if c['name']=='pi1' and c['status']=='valid'][0]")"

# --- errors: unknown NAME, bad --within, no target, encrypted key without passphrase
rc=0; "$MQTTPKI" renew nobody --passphrase-file "$T/pass" >"$T/.out" 2>"$T/.err" || rc=$?
expect_eq "unknown name exits 1" 1 "$rc"
expect_match "unknown name line" "^failed +nobody: no valid certificate named 'nobody'" "$T/.out"
rc=0; "$MQTTPKI" renew --all --within 3x >/dev/null 2>"$T/.err" || rc=$?
expect_eq "bad --within is a usage error" 2 "$rc"
expect_match "bad --within names the flag" "--within '3x'" "$T/.err"
expect_fail "no target" "nothing to renew" "$MQTTPKI" renew
expect_fail "due but no passphrase" "ca.key: the CA key is encrypted; give its passphrase with --passphrase-file" \
  "$MQTTPKI" renew pi1
expect_ok "passphrase from the environment" env MQTTPKI_PASSPHRASE="correct horse battery staple" \
  "$MQTTPKI" renew pi1
if grep -q "correct horse" "$T/.out" "$T/.err"; then fail "passphrase printed"; else pass; fi

# --- --rekey: a fresh CSR with a new key for an existing name
expect_ok "new key csr" "$MQTTPKI" csr --new-key "$T/pi1-new.key" --cn pi1 --out "$T/pi1-new.csr"
expect_ok "renew --rekey" "$MQTTPKI" renew pi1 --rekey "$T/pi1-new.csr" --passphrase-file "$T/pass"
expect_eq "rekeyed certificate carries the new key" "$(openssl pkey -in "$T/pi1-new.key" -pubout)" \
  "$(pubkey_of "$D/issued/pi1.crt")"
expect_fail "--rekey needs one name" "exactly one NAME" "$MQTTPKI" renew --all --rekey "$T/pi1-new.csr"

# --- the CA itself: same key, subject and SKI; the old ca.crt archived; old leaves verify under the new one
old_ca_serial=$(serial_of "$D/ca.crt")
old_ski=$(openssl x509 -in "$D/ca.crt" -noout -ext subjectKeyIdentifier | tail -1)
cp "$D/ca.crt" "$T/ca-orig.crt"
expect_ok "renew --ca" "$MQTTPKI" renew --ca --days 1000 --passphrase-file "$T/pass" \
  --deploy-hook 'echo "$MQTTPKI_NAME $MQTTPKI_CERT" >"'$T'/ca-hook.log"'
expect_match "says what comes next" "copy .*ca.crt to every client and to the broker" "$T/.out"
expect_match "says reload" "reload the broker" "$T/.out"
expect_eq "archived copy is the old ca.crt" "$(cat "$T/ca-orig.crt")" "$(cat "$D"/archive/ca-*.crt)"
expect_eq "archive file mode" 644 "$(file_mode "$D"/archive/ca-*.crt)"
if [ "$(serial_of "$D/ca.crt")" != "$old_ca_serial" ]; then pass; else fail "CA serial unchanged"; fi
expect_eq "same SKI" "$old_ski" "$(openssl x509 -in "$D/ca.crt" -noout -ext subjectKeyIdentifier | tail -1)"
expect_eq "same subject" "$(openssl x509 -in "$T/ca-orig.crt" -noout -subject)" \
  "$(openssl x509 -in "$D/ca.crt" -noout -subject)"
expect_ok "new CA lives 1000 days" openssl x509 -in "$D/ca.crt" -noout -checkend $((999 * 86400))
expect_eq "CA hook" "ca $D/ca.crt" "$(cat "$T/ca-hook.log")"
for leaf in "$T/server-orig.crt" "$T/pi1-orig.crt" "$D/issued/server.crt" "$D/issued/pi2.crt"; do
  expect_ok "old leaf $(basename "$leaf") verifies under the renewed CA" openssl verify -CAfile "$D/ca.crt" "$leaf"
done
expect_ok "renew after the CA renewal" "$MQTTPKI" renew server --passphrase-file "$T/pass"
expect_ok "and that one verifies under the old ca.crt too" openssl verify -CAfile "$T/ca-orig.crt" "$D/issued/server.crt"
expect_fail "--ca with a NAME" "--ca renews only the CA" "$MQTTPKI" renew --ca server
expect_fail "--ca-cert without --ca" "go with --ca" "$MQTTPKI" renew --all --ca-cert "$D/ca.crt"

# --- a CA that expires within the cron window: the leaf cannot gain anything, so the run fails with the fix
D2=$T/short
expect_ok "short-lived CA" "$MQTTPKI" init-ca --cn "Short CA" --days 20 --dir "$D2"
expect_ok "leaf capped at the CA's end" "$MQTTPKI" sign "$T/pi2.csr" --profile client --days 90 --name pi9 --dir "$D2"
rc=0; "$MQTTPKI" renew --all --within 30d --dir "$D2" >"$T/.out" 2>"$T/.err" || rc=$?
expect_eq "cron run fails while the CA is the limit" 1 "$rc"
expect_match "failed line names the fix" "^failed +pi9: the CA certificate .* renew the CA first with .mqttpki renew --ca." "$T/.out"
expect_match "CA expiry warned" "warning: the CA certificate $D2/ca.crt expires on .*: run .mqttpki renew --ca." "$T/.err"
expect_ok "renew the CA" "$MQTTPKI" renew --ca --days 365 --dir "$D2"
expect_ok "then the cron run renews the leaf" "$MQTTPKI" renew --all --within 30d --days 90 --dir "$D2"
expect_match "pi9 renewed" "^renewed +pi9:" "$T/.out"
if grep -q "warning: the CA certificate" "$T/.err"; then fail "CA warning after renewing the CA"; else pass; fi

expect_ok "help documents the hook environment" "$MQTTPKI" renew --help
for v in MQTTPKI_NAME MQTTPKI_CERT MQTTPKI_CA MQTTPKI_SERIAL "Exit status"; do
  expect_match "help mentions $v" "$v" "$T/.out"
done
finish
