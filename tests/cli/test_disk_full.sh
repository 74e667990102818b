#!/usr/bin/env bash
# Disk full (issue 13 item 10): on a file system with 0 to 6 free blocks, sign, renew and crl either succeed
# (records and files agree, the deploy hook runs) or fail naming disk space and change nothing (ca.db, issued/,
# crl.pem and the CRL number as before, no hook, no temp file left); with space freed they succeed. Needs root
# for a 1 MiB tmpfs.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
M="$T/small"
mkdir "$M"
mount -t tmpfs -o size=1M,mode=0755 tmpfs "$M" 2>/dev/null || skip "cannot mount a tmpfs here (needs root)"
trap 'umount "$M" 2>/dev/null || umount -l "$M" 2>/dev/null || true; _cleanup' EXIT
export MQTTPKI_DIR="$M/pki"
unset MQTTPKI_PASSPHRASE
D=$MQTTPKI_DIR

# Every valid record has its file with the same bytes, nothing is queued, no temp file is left.
agree() {
  "$PYTHON" - "$D" <<'PY'
import base64, os, sqlite3, sys
d = sys.argv[1]
db = sqlite3.connect("file:%s/ca.db?mode=ro" % d, uri=True, timeout=30)
bad = []
for name, der in db.execute("SELECT name, der FROM certificates WHERE status = 'valid' AND superseded_by IS NULL"):
    path = os.path.join(d, "issued", name + ".crt")
    if not os.path.exists(path):
        bad.append("%s: no file" % name)
        continue
    body = "".join(l for l in open(path).read().splitlines() if not l.startswith("-----"))
    if base64.b64decode(body) != der:
        bad.append("%s: file differs from the record" % name)
for (serial,) in db.execute("SELECT serial FROM files_to_write"):
    bad.append("%s still queued" % serial)
for root, _, files in os.walk(d):
    bad += ["temp file " + f for f in files if ".tmp." in f]
print("; ".join(bad) if bad else "ok")
PY
}
state() { { ca_records "$D"; cat "$D/crl.pem" "$D/issued/"*.crt; ls -a "$D" "$D/issued"; } | sha256sum; }

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Disk Full CA"
for n in a b; do expect_ok "csr $n" "$MQTTPKI" csr --new-key "$T/$n.key" --cn "$n" --out "$T/$n.csr"; done
expect_ok "sign a" "$MQTTPKI" sign "$T/a.csr" --profile client --days 90
expect_ok "crl" "$MQTTPKI" crl --days 30
expect_eq "records and files agree" ok "$(agree)"

# done_or_unchanged DESC CMD...: with the disk full but for a few blocks, CMD either succeeds with the records and
# files agreeing, or fails naming disk space with nothing changed (and then runs no hook).
hooks_run=0
done_or_unchanged() {
  local desc=$1 before; shift
  before=$(state)
  if "$@" >"$T/.out" 2>"$T/.err"; then
    expect_eq "$desc: done, records and files agree" ok "$(agree)"
    return 0
  fi
  expect_match "$desc: the error names disk space" "disk space" "$T/.err"
  expect_eq "$desc: failed, nothing changed" "$before" "$(state)"
  return 1
}
hook="echo \"\$MQTTPKI_NAME\" >> '$T/hooks'"
for free_pages in 0 1 2 3 4 5 6 8; do
  [ "$free_pages" -gt 0 ] && dd if=/dev/zero of="$M/slack" bs=4k count="$free_pages" 2>/dev/null
  dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null || true   # stops at the last free block
  rm -f "$M/slack"
  b="b$free_pages"
  expect_ok "csr $b" "$MQTTPKI" csr --new-key "$T/$b.key" --cn "$b" --out "$T/$b.csr"
  if done_or_unchanged "sign $b, $free_pages free" "$MQTTPKI" sign "$T/$b.csr" --profile client --days 90 \
    --out "$T/$b.crt"; then
    expect_eq "sign $b: the copy" "$(cat "$D/issued/$b.crt")" "$(cat "$T/$b.crt")"
  else
    expect_eq "sign $b: no copy" no "$([ -e "$T/$b.crt" ] && echo yes || echo no)"
  fi
  done_or_unchanged "renew a, $free_pages free" "$MQTTPKI" renew a --within 3650d --deploy-hook "$hook" &&
    hooks_run=$((hooks_run + 1))
  expect_eq "renew a, $free_pages free: a hook per renewal" "$hooks_run" "$(grep -c . "$T/hooks" 2>/dev/null || echo 0)"
  done_or_unchanged "crl, $free_pages free" "$MQTTPKI" crl --days 30 || true
  rm -f "$M/filler"
done

expect_ok "sign with space" "$MQTTPKI" sign "$T/b0.csr" --profile client --days 90 --force
expect_ok "renew with space" "$MQTTPKI" renew a --within 3650d --deploy-hook "$hook"
expect_eq "a hook per renewal" "$((hooks_run + 1))" "$(grep -c . "$T/hooks")"
expect_ok "crl with space" "$MQTTPKI" crl --days 30
expect_eq "records and files agree afterwards" ok "$(agree)"
finish
