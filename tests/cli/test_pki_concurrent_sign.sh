#!/usr/bin/env bash
# 8 `sign` processes at once on one CA folder: the folder lock serialises them, so the records end with 8
# entries and 8 distinct serials. Then 16 writers (8 sign, 8 renew) and 16 readers (8 list, 8 list --json) at
# once: all succeed, every reader sees a consistent snapshot, and no "database is locked" reaches the user.
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

# 16 writers and 16 readers at once.
export MQTTPKI_PASSPHRASE=concurrency
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$MQTTPKI" sign "dev$i.csr" --profile client --name "more$i" >"w$i.out" 2>"w$i.err" &
  pids+=("$!:w$i")
  "$MQTTPKI" renew "dev$i" >"r$i.out" 2>"r$i.err" &
  pids+=("$!:r$i")
  "$MQTTPKI" list >"l$i.out" 2>"l$i.err" &
  pids+=("$!:l$i")
  "$MQTTPKI" list --json >"j$i.out" 2>"j$i.err" &
  pids+=("$!:j$i")
done
for p in "${pids[@]}"; do
  IFS=: read -r pid log <<<"$p"
  if wait "$pid"; then pass; else fail "concurrent $log failed: $(cat "$log.err")"; fi
done
expect_eq "no 'locked' message reached anyone" "" "$(cat ./*.err | grep -i 'locked' || true)"
for i in 1 2 3 4 5 6 7 8; do
  expect_ok "list $i saw a consistent snapshot" python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
serials = [r["serial"] for r in rows]
assert len(serials) == len(set(serials)) and 8 <= len(rows) <= 24, len(rows)
valid = [r["name"] for r in rows if r["status"] == "valid"]
assert len(valid) == len(set(valid)), valid   # never two valid certificates of one NAME
' "j$i.out"
done
ca_records pki >records.json
expect_ok "24 entries: 8 signed, 8 renewed (old ones superseded)" python3 -c '
import json
certs = json.load(open("records.json"))["certificates"]
assert len(certs) == 24 and len({c["serial"] for c in certs}) == 24, len(certs)
assert sum(c["status"] == "superseded" for c in certs) == 8
'
finish
