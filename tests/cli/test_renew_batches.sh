#!/usr/bin/env bash
# `renew --all` over more certificates than one batch (500 per transaction): the next batch is planned and
# signed on helper threads while the previous one is written and committed. Every due certificate is renewed
# exactly once, the output is in the order of first issuance, and each file holds the serial the output names.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v python3 >/dev/null || skip "python3 not installed"
command -v openssl >/dev/null || skip "openssl CLI not installed"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Batch Test CA"
expect_ok "csr" "$MQTTPKI" csr --new-key "$T/dev.key" --cn dev --out "$T/dev.csr"
# 1,001 NAMEs: the first 600 expire within 30 days (batch 1 and part of batch 2), the rest later.
for i in $(seq -w 0 1000); do
  days=100
  [ "$((10#$i))" -lt 600 ] && days=10
  "$MQTTPKI" sign "$T/dev.csr" --profile client --name "n$i" --days "$days" >/dev/null 2>"$T/sign.err" ||
    fail "sign n$i: $(cat "$T/sign.err")"
done

"$MQTTPKI" renew --all --within 30d --days 60 --quiet --json >"$T/out" 2>"$T/err" || fail "renew --all: $(head -c 600 "$T/err")"
"$MQTTPKI" renew --all --within 30d --quiet >"$T/again.out" 2>&1 || fail "second renew --all: $(cat "$T/again.out")"
expect_eq "second run: nothing due, nothing printed" "" "$(cat "$T/again.out")"

"$MQTTPKI" list --json >"$T/list.json"
"$MQTTPKI" renew --all --within 30d --json >"$T/third.json"
if python3 - "$T/out" "$T/list.json" "$T/pki" <<'PY'; then pass; else fail "the renewals do not match the records (see above)"; fi
import json, os, subprocess, sys
items = json.load(open(sys.argv[1]))["certificates"]
records = json.load(open(sys.argv[2]))
errors = []
if [c["name"] for c in items] != ["n%04d" % i for i in range(1001)]:
    errors.append("items: expected n0000..n1000 in order of first issuance, got %d starting %s"
                  % (len(items), [c["name"] for c in items[:3]]))
if [c["status"] for c in items] != ["renewed"] * 600 + ["not due"] * 401:
    errors.append("expected n0000..n0599 renewed and the rest not due: %s"
                  % [(c["name"], c["status"], c.get("message")) for c in items if c["status"] == "failed"][:2])
renewed = [c for c in items if c["status"] == "renewed"]
serials = [c["new_serial"] for c in renewed]
if len(set(serials)) != len(serials):
    errors.append("a serial was issued twice")
valid = {r["name"]: r for r in records if r["status"] == "valid"}
superseded = {r["serial"]: r for r in records if r["status"] == "superseded"}
if len(valid) != 1001 or len(superseded) != 600:
    errors.append("expected 1001 valid and 600 superseded records, got %d and %d" % (len(valid), len(superseded)))
for c in renewed:
    old = superseded.get(c["old_serial"])
    if old is None or old["superseded_by"] != c["new_serial"]:
        errors.append("%s: old serial %s not superseded by %s" % (c["name"], c["old_serial"], c["new_serial"]))
    if valid.get(c["name"], {}).get("serial") != c["new_serial"]:
        errors.append("%s: the valid record is not the renewal %s" % (c["name"], c["new_serial"]))
for name in ("n0000", "n0499", "n0500", "n0599"):  # each side of the batch boundary: the file is the renewal
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", os.path.join(sys.argv[3], "issued", name + ".crt")],
                         capture_output=True, text=True).stdout.strip()
    want = next(c["new_serial"] for c in renewed if c["name"] == name)
    if out != "serial=" + want:
        errors.append("%s: issued file has %s, the renewal is %s" % (name, out, want))
leftovers = [f for f in os.listdir(os.path.join(sys.argv[3], "issued")) if f.startswith(".")]
if leftovers:
    errors.append("temp files left: %s" % leftovers[:3])
for e in errors[:10]:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
PY
expect_eq "third run (in JSON): nothing due" "0" \
  "$(python3 -c "import json,sys; print(sum(c['status'] != 'not due' for c in json.load(open(sys.argv[1]))['certificates']))" "$T/third.json")"
finish
