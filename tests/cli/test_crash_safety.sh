#!/usr/bin/env bash
# Crash safety of the CA folder: `sign`, `renew NAME` and `renew --all` killed with SIGKILL at a random moment (0 ms up to the
# duration of one uninterrupted run, at least 0-30 ms, so every step is hit), 200 times or 35 s, and
# the folder checked after each kill against what lib/store/include/mqttpki/store/ca_folder.hpp promises
# (record_issued: 1. index.journal gains one fsync'd record with the entry, the journal; 2. issued/NAME.crt
# is written atomically; then compact(): index.json rewritten atomically, index.journal removed). The index
# is index.json with index.journal's records applied, as index.hpp describes (applied here independently):
#   - index.json parses; every journal line but the last parses, and a torn last line (no newline, or not
#     JSON) is left only by a killed run; no serial appears twice; the CA key and certificate are
#     byte-for-byte unchanged;
#   - after a run that was not killed there is no index.journal (the command compacted it into index.json);
#   - an entry replaced by a later one for the same file is no longer valid (superseded in the same record);
#   - every issued/*.crt parses (`openssl x509`) and is an index entry for that file (same sha256);
#   - an index entry whose certificate is not on disk is allowed only as the newest entry of its file (a kill
#     between steps 1 and 2), at most one more per killed run, and never for a run that exited by itself;
#   - no file is torn: besides the above, only hidden temp files of atomic writes (".NAME.tmp.PID.N.X") of
#     a killed process may be left, never under a real name, and the next run removes them (as documented).
# Then 8 `sign` and 8 `renew` processes at once on one folder (8 concurrent signs alone are in
# test_pki_concurrent_sign.sh): all succeed, the index has every serial once.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "needs the openssl CLI"
unset MQTTPKI_PASSPHRASE
export MQTTPKI_DIR="$T/pki"
ITERATIONS=${CRASH_ITERATIONS:-200}
BUDGET=${CRASH_SECONDS:-35}  # stop early (still passing) when this many seconds are used

expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Crash CA"
expect_ok "csr" "$MQTTPKI" csr --new-key dev.key --cn dev --out dev.csr
for i in 0 1 2; do expect_ok "sign n$i" "$MQTTPKI" sign dev.csr --profile client --name "n$i"; done
key_sum=$(sha256sum <pki/private/ca.key)

cat >crash.py <<'PY'
import glob, hashlib, json, os, random, re, subprocess, sys, time

def fp(data):
    return ":".join("%02X" % b for b in hashlib.sha256(data).digest())

def load_index(killed, errors, stats=None):
    """index.json with index.journal applied (index.hpp), or None when it cannot be read."""
    try:
        index = json.load(open("pki/index.json"))
    except Exception as e:
        errors.append("index.json does not parse: %s" % e)
        return None
    entries = index["certificates"]
    if not os.path.exists("pki/index.journal"):
        return entries
    if not killed:
        errors.append("index.journal still there after a run that was not killed (no compaction?)")
    data = open("pki/index.journal", "rb").read()
    if stats is not None:
        stats["journals"] = stats.get("journals", 0) + 1
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if last and line == b"":
            break  # the file ends with a newline
        try:
            if last:
                raise ValueError("no newline at the end")
            record = json.loads(line)
        except ValueError as e:
            if i < len(lines) - 2 or (i == len(lines) - 2 and lines[-1] != b""):
                errors.append("index.journal line %d is damaged and not the last: %s" % (i + 1, e))
            elif not killed:
                errors.append("index.journal ends in a torn record after a run that was not killed")
            elif stats is not None:
                stats["torn"] = stats.get("torn", 0) + 1
            break
        drops = set(record.get("drop", []))
        entries = [e for e in entries if e["serial"] not in drops]
        pos = {e["serial"]: n for n, e in enumerate(entries)}
        for e in record.get("put", []):
            if e["serial"] in pos:
                entries[pos[e["serial"]]] = e
            else:
                pos[e["serial"]] = len(entries)
                entries.append(e)
    return entries

def check(state, killed):
    """The folder against ca_folder.hpp's promises; updates state; returns a list of errors."""
    errors = []
    entries = load_index(killed, errors, state.setdefault("journal", {}))
    if entries is None:
        return errors
    serials = [e["serial"] for e in entries]
    if len(set(serials)) != len(serials):
        errors.append("a serial appears twice in the index")
    by_file = {}
    for e in entries:
        by_file.setdefault(e["file"], []).append(e)
    on_disk = {}
    for path in sorted(glob.glob("pki/issued/*")):
        rel = path[len("pki/"):]
        if not path.endswith(".crt"):
            errors.append("unexpected file %s" % rel)
            continue
        raw = hashlib.sha256(open(path, "rb").read()).hexdigest()
        if raw in state["der"]:  # these bytes were parsed by openssl before
            sha = state["der"][raw]
        else:
            r = subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"], capture_output=True)
            if r.returncode != 0:
                errors.append("%s does not parse with openssl x509 (torn?)" % rel)
                continue
            sha = state["der"][raw] = fp(r.stdout)
        on_disk[rel] = sha
        if not any(e["sha256"] == sha for e in by_file.get(rel, [])):
            errors.append("%s (sha256 %s) is not in the index under that file" % (rel, sha))
    # Entries after the one on disk were recorded (step 1) but their file never written (step 2). An earlier
    # such entry may be repaired later (sign --force), so only new ones are counted.
    unwritten = set()
    for f, es in by_file.items():
        pos = max((i for i, e in enumerate(es) if e["sha256"] == on_disk.get(f)), default=-1)
        unwritten |= {e["serial"] for e in es[pos + 1:]}
        # The entry a later one replaced was marked superseded in the same index write (record_issued step 1).
        for e in es[:pos]:
            if e["status"] == "valid":
                errors.append("%s: entry %s is still valid though %s replaced it" % (f, e["serial"], es[pos]["serial"]))
    new = sorted(unwritten - set(state["unwritten"]))
    if len(new) > (1 if killed else 0):
        errors.append("%d new index entries without their file after a %s run: %s"
                      % (len(new), "killed" if killed else "completed", new))
    state["unwritten"] = sorted(unwritten)
    # Hidden files: the folder lock, and temp files of atomic writes that only a killed run may leave.
    temps = set(state["temps"])
    for path in set(glob.glob("pki/.*") + glob.glob("pki/*/.*")):
        base = os.path.basename(path)
        if base == ".lock":
            continue
        if not re.fullmatch(r"\.(index\.json|[A-Za-z0-9_@.-]+\.crt)\.tmp\.\d+\.\d+\.[0-9a-f]+", base):
            errors.append("unexpected hidden file %s" % path)
        elif not killed:  # the run took the lock, and CaFolder::lock() removes a dead writer's temp files
            errors.append("temp file %s still there after a run that was not killed" % path)
        temps.add(path)
    state["temps"] = sorted(temps)
    return errors

def load_state(path):
    return json.load(open(path)) if os.path.exists(path) else {"der": {}, "unwritten": [], "temps": []}

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
        r = random.random()
        if r < 0.45:  # a fresh NAME, or a renewal of any NAME so far (which may fail, see above)
            names.append("k%d" % n)
            argv = [mqttpki, "sign", "dev.csr", "--profile", "client", "--name", names[-1]]
        elif r < 0.9:
            argv = [mqttpki, "renew", random.choice(names)]
        else:  # many renewals in one run, one journal record each: still at most one entry without its file
            argv = [mqttpki, "renew", "--all"]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ms = random.randint(0, window)
        time.sleep(ms / 1000)
        p.kill()
        rc = p.wait()
        killed = rc == -9  # the kill may come after a normal exit; the status says which happened
        kills += killed
        completed += not killed
        errors = check(state, killed)
        for f, want in (("pki/private/ca.key", key_sum), ("pki/ca.crt", ca_sum)):
            if hashlib.sha256(open(f, "rb").read()).hexdigest() != want:
                errors.append("%s changed" % f)
        if errors:
            print("FAIL: iteration %d (%s after %d ms, %s): %s"
                  % (n, "killed" if killed else "exit %d" % rc, ms, " ".join(argv[1:4]), "; ".join(errors)))
            return 1
    json.dump(state, open("state.json", "w"))
    print("%d iterations: %d killed, %d completed; %d entries, %d without their file, %d temp files seen; "
          "a killed run left index.journal %d times, a torn last record %d times"
          % (n, kills, completed, len(load_index(True, [])), len(state["unwritten"]), len(state["temps"]),
             state["journal"].get("journals", 0), state["journal"].get("torn", 0)))
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

# Calibrate: kill anywhere from the start to the end of a typical run (at least 0-30 ms).
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

# After the storm the CA still works: sign, renew, list, and (as ca_folder.hpp says) a re-run of sign with
# --force repairs a NAME whose certificate was never written.
expect_ok "sign after the crashes" "$MQTTPKI" sign dev.csr --profile client --name after --out after.crt
expect_ok "renew after the crashes" "$MQTTPKI" renew after
expect_ok "list after the crashes" "$MQTTPKI" list
expect_ok "after.crt verifies" openssl verify -x509_strict -purpose sslclient -CAfile pki/ca.crt after.crt
repaired=0
for serial in $("$PYTHON" -c 'import json; print(" ".join(json.load(open("state.json"))["unwritten"]))'); do
  name=$("$PYTHON" -c 'import json,sys; print([e["name"] for e in json.load(open("pki/index.json"))["certificates"] if e["serial"] == sys.argv[1]][0])' "$serial")
  expect_ok "sign --force re-issues $name (entry $serial without its file)" \
    "$MQTTPKI" sign dev.csr --profile client --name "$name" --force
  expect_ok "renew $name after the repair" "$MQTTPKI" renew "$name"
  repaired=$((repaired + 1))
  [ "$repaired" -lt 3 ] || break
done
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
import json, sys
d = json.load(open("pki/index.json"))["certificates"]
assert len({c["serial"] for c in d}) == len(d)
assert sum(1 for c in d if c["name"] in {"c%d" % i for i in range(1, 9)}) == 8
for i in range(1, 9):
    rs = [c for c in d if c["name"] == "r%d" % i]
    assert [c["status"] for c in rs] == ["superseded", "valid"], rs
    assert rs[0]["superseded_by"] == rs[1]["serial"]
'
[ "$(sha256sum <pki/private/ca.key)" = "$key_sum" ] && pass || fail "CA key changed"
finish
