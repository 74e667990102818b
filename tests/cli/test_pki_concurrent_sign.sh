#!/usr/bin/env bash
# 8 `sign` processes at once on one CA folder: the folder lock serialises them, so the index ends with 8
# entries, 8 distinct serials, and stays valid JSON.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE
printf 'concurrency\n' >ca.pass

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Busy CA" --passphrase-file ca.pass
for i in 1 2 3 4 5 6 7 8; do
  expect_ok "csr $i" "$MQTTPKI" csr --new-key "dev$i.key" --cn "dev$i" --out "dev$i.csr"
done
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$MQTTPKI" sign "dev$i.csr" --profile client --passphrase-file ca.pass --out "dev$i.crt" \
    >"sign$i.out" 2>"sign$i.err" &
  pids+=("$!")
done
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then pass; else fail "sign $((i + 1)) failed: $(cat "sign$((i + 1)).err")"; fi
done
ca_records pki >records.json
expect_ok "index: 8 entries, 8 distinct serials, each matching its file" python3 -c '
import json, subprocess
d = json.load(open("records.json"))
certs = d["certificates"]
assert len(certs) == 8, len(certs)
serials = {c["serial"] for c in certs}
assert len(serials) == 8, serials
assert {c["name"] for c in certs} == {"dev%d" % i for i in range(1, 9)}
for c in certs:
    out = subprocess.run(["openssl", "x509", "-in", "pki/" + c["file"], "-noout", "-serial"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "serial=" + c["serial"], (out, c["serial"])
'
for i in 1 2 3 4 5 6 7 8; do
  expect_ok "dev$i verifies" openssl verify -x509_strict -purpose sslclient -CAfile pki/ca.crt "dev$i.crt"
done
expect_eq "no temp files left" "" "$(find pki -name '.*.tmp.*')"
finish
