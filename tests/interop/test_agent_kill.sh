#!/usr/bin/env bash
# Crash safety of the renewal agent's issuance (issue 15's kill test, for issue 12's agent): devices renew over
# MQTT (our broker) while the agent is killed with SIGKILL at a random moment, AGENT_KILLS times (default 40).
# After each kill the CA folder must hold what store promises (test_crash_safety.sh checks the same for the CLI):
#   - ca.db passes `PRAGMA integrity_check`, no serial twice, at most one valid certificate per NAME;
#   - every certificate a device installed (an acknowledged issuance) is in ca.db: no lost issuance;
#   - after the next writer, every issued/NAME.crt holds its NAME's newest record and nothing is left to write.
# Then, with the agent running undisturbed, every device renews again.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
KILLS=${AGENT_KILLS:-40}
DEVICES=(d1 d2 d3 d4 d5 d6)
unset MQTTPKI_PASSPHRASE
make_pki "$T" ca-agent "${DEVICES[@]}" >/dev/null 2>&1 || { fail "make_pki"; finish; }
start_our_broker "$T" || { fail "broker"; finish; }
D=$T/pki

agent() {
  "$MQTTPKI" agent --broker "127.0.0.1:$OUR_PORT" --cafile "$D/ca.crt" --cert "$T/ca-agent/ca-agent.crt" \
    --key "$T/ca-agent/ca-agent.key" --per-name-per-hour 1000 2>>"$T/agent.log" &
  AGENT_PID=$!
}
device() {  # device NAME WAIT
  "$MQTTPKI" renew --via "127.0.0.1:$OUR_PORT" --cafile "$D/ca.crt" --cert "$T/$1/$1.crt" --key "$T/$1/$1.key" \
    --wait "$2" >>"$T/devices.log" 2>&1
}

cat >"$T/check.py" <<'PY'
import glob, os, sqlite3, subprocess, sys
pki, devices, settled = sys.argv[1], sys.argv[3:], sys.argv[2] == "settled"
db = sqlite3.connect("file:%s/ca.db?mode=ro" % pki, uri=True, timeout=30)
errors = []
if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
    errors.append("integrity_check fails")
rows = db.execute("SELECT serial, name, status, der, file FROM certificates ORDER BY id").fetchall()
serials = [r[0] for r in rows]
if len(serials) != len(set(serials)):
    errors.append("a serial twice")
for name in set(r[1] for r in rows):
    valid = [r for r in rows if r[1] == name and r[2] == "valid"]
    if len(valid) > 1:
        errors.append("%s has %d valid certificates" % (name, len(valid)))
known = set(serials)
root = os.path.dirname(pki)
for d in devices:
    out = subprocess.run(["openssl", "x509", "-in", "%s/%s/%s.crt" % (root, d, d), "-noout", "-serial"],
                         capture_output=True, text=True).stdout.strip().split("=")[-1]
    if out not in known:
        errors.append("%s installed serial %s, which ca.db does not hold (lost issuance)" % (d, out))
if settled:
    if db.execute("SELECT COUNT(*) FROM files_to_write").fetchone()[0]:
        errors.append("files still to write after a writer ran")
    for serial, name, status, der, f in rows:
        if status == "valid" and f.startswith("issued/"):
            on_disk = subprocess.run(["openssl", "x509", "-in", os.path.join(pki, f), "-outform", "DER"],
                                     capture_output=True).stdout
            if on_disk != der:
                errors.append("%s does not hold %s's current certificate %s" % (f, name, serial))
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY

kills=0 installed=0
for ((i = 0; i < KILLS; i++)); do
  agent
  n=${DEVICES[$((RANDOM % ${#DEVICES[@]}))]}
  before=$(sha256sum <"$T/$n/$n.crt")
  device "$n" 2 &
  dev=$!
  sleep "0.$(printf '%03d' $((RANDOM % 400)))"  # the kill's moment: random, not a wait for anything
  kill -KILL "$AGENT_PID" 2>/dev/null && kills=$((kills + 1))
  wait "$AGENT_PID" 2>/dev/null || true
  wait "$dev" || true
  [ "$(sha256sum <"$T/$n/$n.crt")" != "$before" ] && installed=$((installed + 1))
  if ! python3 "$T/check.py" "$D" killed "${DEVICES[@]}" >"$T/check.out"; then
    fail "after kill $i: $(cat "$T/check.out")"
    break
  fi
done
echo "agent killed $kills times; devices installed $installed renewals in between"
# The next writer writes what a killed agent committed but did not write.
expect_ok "a writer after the kills" "$MQTTPKI" crl
python3 "$T/check.py" "$D" settled "${DEVICES[@]}" >"$T/check.out" && pass || fail "settled: $(cat "$T/check.out")"
agent
track_pid "$AGENT_PID"
for n in "${DEVICES[@]}"; do expect_ok "$n renews after the kills" device "$n" 20; done
python3 "$T/check.py" "$D" settled "${DEVICES[@]}" >"$T/check.out" && pass || fail "after renewals: $(cat "$T/check.out")"
finish
