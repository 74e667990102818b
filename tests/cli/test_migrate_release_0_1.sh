#!/usr/bin/env bash
# A CA folder made by mqttpki 0.1 (index.json with a journal, one record torn by a kill; tests/data/release-0.1)
# keeps working: the first command moves its records into ca.db (the old files to backup/), and list, renew,
# revoke, crl and sign then work on it as on a new folder.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
unset MQTTPKI_PASSPHRASE
cp -r "$MQTTPKI_SOURCE_DIR/tests/data/release-0.1/pki" "$T/pki"
chmod 700 "$T/pki/private"
export MQTTPKI_DIR="$T/pki"

expect_ok "list migrates and lists the four certificates" "$MQTTPKI" list --json
cp "$T/.out" "$T/list.json"
expect_ok "the same four, with their status" python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))["certificates"]
assert [(r["serial"], r["status"]) for r in rows] == [(c["serial"], c["status"]) for c in want], rows
' "$T/list.json" "$MQTTPKI_SOURCE_DIR/tests/data/release-0.1/expected-index.json"
expect_eq "index.json moved away" "no" "$([ -e "$T/pki/index.json" ] && echo yes || echo no)"
expect_ok "index.json and the journal kept in backup/" sh -c "ls '$T'/pki/backup/*/index.json '$T'/pki/backup/*/index.journal"
expect_ok "the server renews" "$MQTTPKI" renew server
expect_match "renewed from the migrated record" "^renewed +server: serial 7FF3975E17DD9CB5B1F230C1377011DD9654B021 -> " "$T/.out"
expect_ok "the renewed certificate verifies" openssl verify -x509_strict -purpose sslserver -CAfile "$T/pki/ca.crt" "$T/pki/issued/server.crt"
expect_ok "revoke pi1" "$MQTTPKI" revoke pi1
expect_ok "crl" "$MQTTPKI" crl
expect_match "the CRL number goes on from 0.1's" "CRL number 2," "$T/.out"
"$MQTTPKI" csr --new-key "$T/pi3.key" --cn pi3 --out "$T/pi3.csr" >/dev/null 2>&1
expect_ok "sign a new device" "$MQTTPKI" sign "$T/pi3.csr" --profile client
ca_records "$T/pki" >"$T/records.json"
expect_ok "six records (4 migrated, a renewal, a new device), serials distinct" python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["certificates"]
assert len(c) == 6 and len({x["serial"] for x in c}) == 6, len(c)
' "$T/records.json"
finish
