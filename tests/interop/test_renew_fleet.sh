#!/usr/bin/env bash
# 100 devices renew over MQTT at once through a real Mosquitto (mutual TLS, use_identity_as_username, the
# mosquitto-acl renewal lane) with one `mqttpki agent`. Three folders stand for three hosts: the CA host
# ($T/pki, $T/ca-agent), the broker ($T/server, $T/mosq) and the devices ($T/devices/devNNN). Each device makes
# its key and CSR in its own folder; only the CSR goes to the CA host and only certificates come back.
# The agent runs with --rate 1000: its default (50 requests/s, bursts of 50) would, by design, leave some of
# 100 simultaneous requests unanswered (exit 5, picked up by the next cron run); this test is about every
# renewal going through at once, so the limit is raised rather than making devices retry.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
unset MQTTPKI_PASSPHRASE
N=100
make_pki "$T" ca-agent
D=$T/devices
mkdir -p -m 700 "$D"
names=()
for ((i = 0; i < N; i++)); do
  n=$(printf 'dev%03d' "$i")
  names+=("$n")
  mkdir -p -m 700 "$D/$n"
  "$MQTTPKI" csr --new-key "$D/$n/$n.key" --cn "$n" --out "$D/$n/$n.csr" >/dev/null
  cp "$D/$n/$n.csr" "$T/pki/$n.csr"  # the CSR travels to the CA host ...
  "$MQTTPKI" sign "$T/pki/$n.csr" --profile client --name "$n" >/dev/null
  cp "$T/pki/issued/$n.crt" "$D/$n/$n.crt"  # ... and the certificate and the CA certificate come back
  cp "$T/pki/ca.crt" "$D/$n/ca.crt"
  openssl x509 -noout -serial -in "$D/$n/$n.crt" >"$D/$n/old-serial"
done
expect_eq "no device key on the CA host (only the CA's and the agent's)" "$T/pki/private/ca.key" \
  "$(grep -rl 'PRIVATE KEY' "$T/pki" | sort | tr '\n' ' ' | sed 's/ $//')"

"$MQTTPKI" template mosquitto-acl --set agent=ca-agent --out "$T/acl"
start_template_mosquitto "$T" "acl_file $T/acl" || { fail "mosquitto did not start: $(cat "$T/mosquitto.log")"; finish; exit 1; }
start_agent "$T/agent.log" "$MOSQ_TLS" --cafile "$T/pki/ca.crt" --cert "$T/ca-agent/ca-agent.crt" \
  --key "$T/ca-agent/ca-agent.key" --rate 1000 || { fail "agent"; finish; exit 1; }

# All at once, each bounded (--wait, and timeout as a backstop); then every exit status is collected.
start=$(date +%s%N)
pids=()
for n in "${names[@]}"; do
  timeout 150 "$MQTTPKI" renew --via "127.0.0.1:$MOSQ_TLS" --cafile "$D/$n/ca.crt" --cert "$D/$n/$n.crt" \
    --key "$D/$n/$n.key" --wait 120 --timeout 60 >"$D/$n/out" 2>"$D/$n/err" &
  pids+=($!)
done
failed=0
for ((i = 0; i < N; i++)); do
  if ! wait "${pids[$i]}"; then
    failed=$((failed + 1))
    echo "${names[$i]}: $(cat "$D/${names[$i]}/err")" >&2
  fi
done
echo "$N renewals over MQTT at once: $((($(date +%s%N) - start) / 1000000)) ms"
expect_eq "every device renewed (exit 0)" "0" "$failed"

bad=0
for n in "${names[@]}"; do
  grep -q "^renewed $n: serial" "$D/$n/out" || { bad=$((bad + 1)); echo "$n: $(cat "$D/$n/out" "$D/$n/err")" >&2; continue; }
  openssl verify -CAfile "$T/pki/ca.crt" "$D/$n/$n.crt" >/dev/null 2>&1 || { bad=$((bad + 1)); echo "$n: does not chain" >&2; }
  [ "$(openssl x509 -noout -pubkey -in "$D/$n/$n.crt")" = "$(openssl pkey -pubout -in "$D/$n/$n.key")" ] ||
    { bad=$((bad + 1)); echo "$n: certificate and key differ" >&2; }
  [ "$(openssl x509 -noout -serial -in "$D/$n/$n.crt")" != "$(cat "$D/$n/old-serial")" ] ||
    { bad=$((bad + 1)); echo "$n: same serial as before" >&2; }
  openssl x509 -noout -serial -in "$D/$n/$n.crt" | sed 's/^serial=//' >"$D/$n/new-serial"
done
expect_eq "every new certificate chains, carries the device's key and a new serial" "0" "$bad"
expect_eq "one decision per device, all renewals" "$N 0" \
  "$(grep -c '^[^ ]* renewed dev' "$T/agent.log") $(grep -c '^[^ ]* \(refused\|error\) ' "$T/agent.log" || true)"

# The CA's records: per device one superseded certificate pointing at one valid one, the one the device holds;
# no serial twice.
"$MQTTPKI" list --json >"$T/list.json"
expect_ok "the index is consistent" "$PYTHON" - "$T/list.json" "$D" "$N" <<'PY'
import collections, json, sys
certs, devices, n = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
serials = [c["serial"] for c in certs]
assert len(serials) == len(set(serials)), "a serial appears twice"
by_name = collections.defaultdict(list)
for c in certs:
    by_name[c["name"]].append(c)
fleet = {k: v for k, v in by_name.items() if k.startswith("dev")}
assert len(fleet) == n, len(fleet)
for name, cs in fleet.items():
    status = sorted(c["status"] for c in cs)
    assert status == ["superseded", "valid"], (name, status)
    old, new = sorted(cs, key=lambda c: c["status"] == "valid")
    assert old["superseded_by"] == new["serial"], (name, old, new)
    held = open("%s/%s/new-serial" % (devices, name)).read().strip()
    assert held == new["serial"], (name, held, new["serial"])
print("%d devices: %d superseded + %d valid, %d distinct serials" % (n, n, n, len(serials)))
PY
cat "$T/.out"
finish
