#!/usr/bin/env bash
# Crash safety of the CA folder: `sign`, `renew NAME`, `renew --all`, `revoke` and `crl` killed with SIGKILL at
# a random moment (0 ms up to the duration of one uninterrupted run, at least 0-30 ms, so every step is hit),
# 500 times or 120 s, and the folder checked after each kill against what ca_folder.hpp and index.hpp promise
# (an issuance is one SQLite transaction holding the record, the certificate's bytes and the file to write;
# issued/NAME.crt is written after the commit, and the next writer writes what a killed one did not):
#   - ca.db passes `PRAGMA integrity_check`; no serial twice; the CA key and certificate are unchanged;
#   - every issued/*.crt parses (`openssl x509`) and is the certificate of a record for that file (no file
#     without its record), and after a run that was not killed every file holds its newest record's bytes
#     (no record without its file) and nothing is left to write;
#   - every serial a completed run reported (acknowledged) is in the database: no lost issuance;
#   - crl.pem's CRL number was committed before the file was written;
#   - no file is torn: only hidden temp files of atomic writes (".NAME.tmp.PID.N.X") of a killed process may
#     be left, never under a real name, and the next run removes them.
# Then 8 `sign` and 8 `renew` processes at once on one folder: all succeed, every serial once.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "needs the openssl CLI"
unset MQTTPKI_PASSPHRASE
export MQTTPKI_DIR="$T/pki"
ITERATIONS=${CRASH_ITERATIONS:-500}
BUDGET=${CRASH_SECONDS:-120}  # stop early (still passing) when this many seconds are used

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Crash CA"
expect_ok "csr" "$MQTTPKI" csr --new-key dev.key --cn dev --out dev.csr
for i in 0 1 2; do expect_ok "sign n$i" "$MQTTPKI" sign dev.csr --profile client --name "n$i"; done
key_sum=$(sha256sum <pki/private/ca.key)

cat >crash.py <<'PY'
import glob, hashlib, json, os, random, re, sqlite3, subprocess, sys, time

def db_rows(errors):
    """The certificates in ca.db (id order), and the serials still to be written, or None."""
    try:
        db = sqlite3.connect("file:pki/ca.db?mode=ro", uri=True, timeout=30)
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            errors.append("ca.db fails PRAGMA integrity_check")
        rows = db.execute("SELECT id, serial, name, file, status, der FROM certificates ORDER BY id").fetchall()
        pending = {r[0] for r in db.execute("SELECT serial FROM files_to_write")}
        crl_number = db.execute("SELECT value FROM counters WHERE name = 'crl_number'").fetchone()[0]
        db.close()
        return rows, pending, crl_number
    except Exception as e:
        errors.append("ca.db cannot be read: %s" % e)
        return None

def der_of(path, state, errors):
    raw = open(path, "rb").read()
    key = hashlib.sha256(raw).hexdigest()
    if key not in state["der"]:  # these bytes were parsed by openssl before
        r = subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"], capture_output=True)
        if r.returncode != 0:
            errors.append("%s does not parse with openssl x509 (torn?)" % path)
            return None
        state["der"][key] = r.stdout.hex()
    return bytes.fromhex(state["der"][key])

def check_files(rows, pending, killed, state, errors):
    newest = {}
    for r in rows:
        newest[r[3]] = r
    ders = {}
    for r in rows:
        ders.setdefault(r[3], set()).add(bytes(r[5]) if r[5] is not None else b"")
    for path in sorted(glob.glob("pki/issued/*")):
        rel = path[len("pki/"):]
        if not path.endswith(".crt"):
            errors.append("unexpected file %s" % rel)
            continue
        der = der_of(path, state, errors)
        if der is None:
            continue
        if der not in ders.get(rel, set()):
            errors.append("%s is not the certificate of any record for that file" % rel)
        elif not killed and newest[rel][5] is not None and bytes(newest[rel][5]) != der:
            errors.append("%s is not its newest record %s after a completed run" % (rel, newest[rel][1]))
    if not killed:
        if pending:
            errors.append("files still to write after a completed run: %s" % sorted(pending))
        for rel, r in newest.items():
            if not os.path.exists("pki/" + rel):
                errors.append("%s (serial %s) is missing after a completed run" % (rel, r[1]))

def check_crl(crl_number, errors):
    if not os.path.exists("pki/crl.pem"):
        return
    r = subprocess.run(["openssl", "crl", "-in", "pki/crl.pem", "-noout", "-crlnumber"], capture_output=True, text=True)
    if r.returncode != 0:
        errors.append("crl.pem does not parse (torn?)")
        return
    number = int(r.stdout.strip().split("=")[1], 16)
    if number > crl_number:
        errors.append("crl.pem has CRL number %d, above the committed %d" % (number, crl_number))

def check(state, killed):
    """The folder against the promises above; updates state; returns a list of errors."""
    errors = []
    got = db_rows(errors)
    if got is None:
        return errors
    rows, pending, crl_number = got
    serials = [r[1] for r in rows]
    if len(set(serials)) != len(serials):
        errors.append("a serial appears twice in the database")
    lost = set(state["acknowledged"]) - set(serials)
    if lost:
        errors.append("acknowledged serials missing from the database: %s" % sorted(lost))
    check_files(rows, pending, killed, state, errors)
    check_crl(crl_number, errors)
    temps = set(state["temps"])
    for path in set(glob.glob("pki/.*") + glob.glob("pki/*/.*")):
        base = os.path.basename(path)
        if base == ".lock":
            continue
        if not re.fullmatch(r"\.(crl\.pem|[A-Za-z0-9_@.-]+\.crt)\.tmp\.\d+\.\d+\.[0-9a-f]+", base):
            errors.append("unexpected hidden file %s" % path)
        elif not killed:  # the run took the lock, and CaFolder::lock() removes a dead writer's temp files
            errors.append("temp file %s still there after a run that was not killed" % path)
        temps.add(path)
    state["temps"] = sorted(temps)
    state["entries"] = len(rows)
    return errors

def load_state(path):
    return json.load(open(path)) if os.path.exists(path) else {"der": {}, "acknowledged": [], "temps": []}

def command(n, names):
    r = random.random()
    if r < 0.35:  # a fresh NAME
        names.append("k%d" % n)
        return ["sign", "dev.csr", "--profile", "client", "--name", names[-1]]
    if r < 0.7:
        return ["renew", random.choice(names)]
    if r < 0.8:  # many renewals in one run, committed in batches
        return ["renew", "--all"]
    if r < 0.9:
        return ["revoke", random.choice(names[3:] or names)]
    return ["crl"]

def storm(mqttpki, iterations, budget, window, key_sum, ca_sum):
    state = load_state("state.json")
    names = ["n0", "n1", "n2"]
    kills = completed = 0
    t0 = time.monotonic()
    n = 0
    for n in range(1, iterations + 1):
        if time.monotonic() - t0 > budget:
            print("time budget used after %d iterations" % (n - 1))
            n -= 1
            break
        argv = [mqttpki] + command(n, names)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ms = random.randint(0, window)
        time.sleep(ms / 1000)
        p.kill()
        out = p.stdout.read().decode(errors="replace")
        rc = p.wait()
        killed = rc == -9  # the kill may come after a normal exit; the status says which happened
        kills += killed
        completed += not killed
        if rc == 0:  # acknowledged: what it reported issued must stay
            state["acknowledged"] += re.findall(r"\(serial ([0-9A-F]+)\)", out) + re.findall(r"-> ([0-9A-F]+),", out)
        errors = check(state, killed)
        for f, want in (("pki/private/ca.key", key_sum), ("pki/ca.crt", ca_sum)):
            if hashlib.sha256(open(f, "rb").read()).hexdigest() != want:
                errors.append("%s changed" % f)
        if errors:
            print("FAIL: iteration %d (%s after %d ms, %s): %s"
                  % (n, "killed" if killed else "exit %d" % rc, ms, " ".join(argv[1:4]), "; ".join(errors)))
            return 1
    json.dump(state, open("state.json", "w"))
    print("%d iterations: %d killed, %d completed; %d entries, %d acknowledged serials kept, %d temp files seen"
          % (n, kills, completed, state["entries"], len(set(state["acknowledged"])), len(state["temps"])))
    if kills < 10:
        print("FAIL: only %d runs were killed; the test did not exercise crashes" % kills)
        return 1
    return 0

if sys.argv[1] == "storm":
    sys.exit(storm(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]))
state = load_state("state.json")
errors = check(state, False)
json.dump(state, open("state.json", "w"))
print("; ".join(errors) if errors else "consistent")
sys.exit(1 if errors else 0)
PY

# Calibrate: kill anywhere from the start to past the end of a typical run (at least 0-30 ms).
start=$(date +%s%N)
expect_ok "calibration sign" "$MQTTPKI" sign dev.csr --profile client --name calib
window=$((($(date +%s%N) - start) / 1000000))
[ "$window" -ge 30 ] || window=30
echo "killing at random between 0 and ${window} ms after start"
expect_ok "folder consistent before the crashes" "$PYTHON" crash.py check
if "$PYTHON" crash.py storm "$MQTTPKI" "$ITERATIONS" "$BUDGET" "$window" \
    "$(sha256sum <pki/private/ca.key | cut -d' ' -f1)" "$(sha256sum <pki/ca.crt | cut -d' ' -f1)" >storm.out 2>&1; then
  pass
else
  fail "$(cat storm.out)"
fi
cat storm.out

# After the storm the CA still works, and the first command after a kill left nothing to repair by hand.
expect_ok "sign after the crashes" "$MQTTPKI" sign dev.csr --profile client --name after --out after.crt
expect_ok "folder consistent after one command" "$PYTHON" crash.py check
expect_ok "renew after the crashes" "$MQTTPKI" renew after
expect_ok "renew --all after the crashes" "$MQTTPKI" renew --all
expect_ok "list after the crashes" "$MQTTPKI" list
expect_ok "after.crt verifies" openssl verify -x509_strict -purpose sslclient -CAfile pki/ca.crt after.crt
expect_ok "folder consistent after the follow-up runs" "$PYTHON" crash.py check

# Concurrency: 8 sign and 8 renew at once (of 8 fresh names), serialised by the folder lock.
for i in 1 2 3 4 5 6 7 8; do expect_ok "sign r$i" "$MQTTPKI" sign dev.csr --profile client --name "r$i"; done
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$MQTTPKI" sign dev.csr --profile client --name "c$i" >"c$i.out" 2>"c$i.err" &
  pids+=("$!:sign c$i:c$i")
  "$MQTTPKI" renew "r$i" >"r$i.out" 2>"r$i.err" &
  pids+=("$!:renew r$i:r$i")
done
for p in "${pids[@]}"; do
  IFS=: read -r pid what log <<<"$p"
  if wait "$pid"; then pass; else fail "concurrent $what failed: $(cat "$log.err")"; fi
done
expect_ok "index consistent after 16 concurrent runs" "$PYTHON" crash.py check
expect_ok "16 more entries, all serials distinct" "$PYTHON" -c '
import sqlite3
db = sqlite3.connect("pki/ca.db")
d = [dict(zip(("serial", "name", "status", "superseded_by"), r))
     for r in db.execute("SELECT serial, name, status, superseded_by FROM certificates ORDER BY id")]
assert len({c["serial"] for c in d}) == len(d)
assert sum(1 for c in d if c["name"] in {"c%d" % i for i in range(1, 9)}) == 8
for i in range(1, 9):
    rs = [c for c in d if c["name"] == "r%d" % i]
    assert [c["status"] for c in rs] == ["superseded", "valid"], rs
    assert rs[0]["superseded_by"] == rs[1]["serial"]
'
[ "$(sha256sum <pki/private/ca.key)" = "$key_sum" ] && pass || fail "CA key changed"
finish
