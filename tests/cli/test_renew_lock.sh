#!/usr/bin/env bash
# Two `mqttpki renew --all --within 30d` at once: they serialise on the CA folder's lock, so every certificate
# is renewed exactly once, the index stays whole, and each file matches its index entry.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v flock >/dev/null || skip "flock(1) not installed"
command -v python3 >/dev/null || skip "python3 not installed"
command -v openssl >/dev/null || skip "openssl CLI not installed"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE
D=$MQTTPKI_DIR

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Lock Test CA"
names="d1 d2 d3 d4 d5 d6"
for n in $names; do
  expect_ok "csr $n" "$MQTTPKI" csr --new-key "$T/$n.key" --cn "$n" --out "$T/$n.csr"
  expect_ok "sign $n" "$MQTTPKI" sign "$T/$n.csr" --profile client --days 10
done

# Hold the folder lock ourselves while both renewals start, so both are certainly running at the same time
# and contending for it when we let go. --days 60 takes the renewed certificates out of the 30d window.
exec 9>"$D/.lock"
flock 9
timeout 60 "$MQTTPKI" renew --all --within 30d --days 60 >"$T/a.out" 2>"$T/a.err" &
pid_a=$!
timeout 60 "$MQTTPKI" renew --all --within 30d --days 60 >"$T/b.out" 2>"$T/b.err" &
pid_b=$!
track_pid "$pid_a"
track_pid "$pid_b"
# Both must still be waiting while we hold the lock: neither may have written anything to the index.
if kill -0 "$pid_a" 2>/dev/null || kill -0 "$pid_b" 2>/dev/null; then pass; else fail "both renewals finished while the lock was held"; fi
expect_eq "index unchanged while locked" 6 \
  "$(ca_records "$D" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['certificates']))")"
flock -u 9
exec 9>&-
rc_a=0; wait "$pid_a" || rc_a=$?
rc_b=0; wait "$pid_b" || rc_b=$?
expect_eq "first renew exit" 0 "$rc_a"
expect_eq "second renew exit" 0 "$rc_b"

renewed=$(cat "$T/a.out" "$T/b.out" | grep '^renewed ' | grep -vc '^renewed  CRL:' || true)  # certificates; the CRL lines are counted apart
not_due=$(cat "$T/a.out" "$T/b.out" | grep -c '^not due ' || true)
expect_eq "each certificate renewed exactly once" 6 "$renewed"
expect_eq "the later run found them renewed" 6 "$not_due"

# The index is valid JSON with one valid and one superseded entry per name, and each file is the valid one.
ca_records "$D" >"$T/records.json"
python3 - "$T" "$D/issued" $names <<'EOF' >"$T/check.out" 2>&1 || fail "index check: $(cat "$T/check.out")"
import json, subprocess, sys
d, issued = sys.argv[1], sys.argv[2]
index = json.load(open(f"{d}/records.json"))
certs = index["certificates"]
assert len(certs) == 12, f"expected 12 entries, got {len(certs)}"
assert len({c["serial"] for c in certs}) == 12, "a serial appears twice"
for name in sys.argv[3:]:
    mine = [c for c in certs if c["name"] == name]
    valid = [c for c in mine if c["status"] == "valid"]
    sup = [c for c in mine if c["status"] == "superseded"]
    assert len(valid) == 1 and len(sup) == 1, f"{name}: {[c['status'] for c in mine]}"
    assert sup[0]["superseded_by"] == valid[0]["serial"], f"{name}: superseded_by mismatch"
    out = subprocess.run(["openssl", "x509", "-in", f"{issued}/{name}.crt", "-noout", "-serial"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "serial=" + valid[0]["serial"], f"{name}: file {out} vs index {valid[0]['serial']}"
EOF
[ -s "$T/check.out" ] || pass
finish
