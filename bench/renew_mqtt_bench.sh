#!/usr/bin/env bash
# Renewal over MQTT (issue 12), end to end through Mosquitto on this machine:
#   1. renewals/s: N devices (default 200) run `mqttpki renew --via` at once through a real Mosquitto 2.0 (mutual
#      TLS, use_identity_as_username) to one `mqttpki agent`; wall time from the first start to the last exit.
#      Every device must exit 0 (a failure stops the benchmark). ROUNDS rounds (default 3): each renews the
#      certificate the previous round installed.
#   2. the agent's CPU per renewal: /proc/PID/stat utime+stime of the agent before and after each round, / N;
#      the same for Mosquitto, and for the device processes (this shell's waited children: cutime+cstime).
#   3. the agent alone: it stops, the N devices ask (their requests queue in Mosquitto for its persistent session;
#      they exit 5), it starts again and drains the queue: N / time from its start to its N-th renewal, and its
#      CPU per renewal. Then the devices run again and each installs its retained answer (exit 0).
#   4. the floor, in the same run: bench_renew_floor (CPU per CMS verify + CSR verify + sign in one process,
#      nothing else), and the ratio agent CPU per renewal / floor.
# The agent runs with --rate 100000 --per-name-per-hour 1000 so that its limits (by default 50 requests/s,
# 6 per NAME per hour) do not shape the figure. On a 2-core machine the N device processes, Mosquitto and the
# agent share the cores: renewals/s is the whole system's, the CPU figures are per process.
# Usage: [N=200] [ROUNDS=3] bench/renew_mqtt_bench.sh [BUILD_DIR]     (default: build; use a Release build)
here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath "${1:-$here/../build}")
MQTTPKI=$build/apps/mqttpki/mqttpki
MQTTPKI_SOURCE_DIR=$(cd "$here/.." && pwd)
FLOOR=$build/bench/bench_renew_floor
# The tests' helpers: a temp folder $T (the working folder, removed at exit with the processes: track_pid),
# free_port; start_agent.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
N=${N:-200}
ROUNDS=${ROUNDS:-3}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
die() { echo "renew_mqtt_bench: $*" >&2; exit 1; }
[ -x "$MQTTPKI" ] && [ -x "$FLOOR" ] ||
  die "build it first: cmake --build $build --target mqttpki bench_renew_floor"
[ -x "$MOSQUITTO" ] || die "mosquitto not found (apt-get install mosquitto)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
W=$T
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }          # utime+stime
child_ticks() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$1/stat"; }    # cutime+cstime
HZ=$(getconf CLK_TCK)
ms_per() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { printf "%.3f", 1000 * t / hz / n }'; }

# The CA host (pki/, ca-agent/), the broker (server/) and N devices (dev/NAME/), each key made where it is used.
make_pki "$W" ca-agent
names=()
for ((i = 0; i < N; i++)); do
  n=$(printf 'dev%04d' "$i")
  names+=("$n")
  mkdir -p "dev/$n"
  "$MQTTPKI" csr --new-key "dev/$n/key.pem" --cn "$n" --out "dev/$n/csr.pem" >/dev/null
  "$MQTTPKI" sign "dev/$n/csr.pem" --profile client --name "$n" --out "dev/$n/cert.pem" >/dev/null 2>&1
done
CA=$MQTTPKI_DIR/ca.crt

PORT=$(free_port)
cat >mosquitto.conf <<CONF
user $(id -un)
listener $PORT 127.0.0.1
cafile $CA
certfile $W/server/server.crt
keyfile $W/server/server.key
require_certificate true
use_identity_as_username true
max_queued_messages $((N + 1000))
CONF
"$MOSQUITTO" -c mosquitto.conf >mosquitto.log 2>&1 &
MOSQ=$!
track_pid "$MOSQ"
wait_port "$PORT" 10 || die "mosquitto did not start: $(cat mosquitto.log)"
start_agent agent.log "$PORT" --cafile "$CA" --cert ca-agent/ca-agent.crt --key ca-agent/ca-agent.key --rate 100000 \
  --per-name-per-hour 1000 || die "the agent did not connect"
AGENT=$AGENT_PID

# all_devices WAIT: every device runs `renew --via --wait WAIT` at once; prints how many exited 0, 5, other.
all_devices() {
  local n p rc ok=0 queued=0 other=0
  devs=()
  for n in "${names[@]}"; do
    timeout 300 "$MQTTPKI" renew --via "127.0.0.1:$PORT" --cafile "$CA" --cert "dev/$n/cert.pem" --key "dev/$n/key.pem" \
      --wait "$1" --timeout 60 >"dev/$n/out" 2>"dev/$n/err" &
    devs+=($!)
  done
  for p in "${devs[@]}"; do
    wait "$p" && rc=0 || rc=$?
    case $rc in 0) ok=$((ok + 1)) ;; 5) queued=$((queued + 1)) ;; *) other=$((other + 1)) ;; esac
  done
  echo "$ok $queued $other"
}
echo "renew_mqtt_bench: $N devices renew over MQTT at once through Mosquitto ($("$MOSQUITTO" -h | head -n 1)), $ROUNDS rounds"
rates=() agent_ms=()
for ((r = 1; r <= ROUNDS; r++)); do
  a0=$(ticks "$AGENT") m0=$(ticks "$MOSQ") c0=$(child_ticks $$)
  t0=$(date +%s%N)
  got=$(all_devices 240)
  t1=$(date +%s%N)
  a1=$(ticks "$AGENT") m1=$(ticks "$MOSQ") c1=$(child_ticks $$)
  [ "$got" = "$N 0 0" ] || die "round $r: exit 0, 5, other: $got, e.g. $(cat dev/*/err | head -n 3)"
  rate=$(awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
  rates+=("$rate")
  agent_ms+=("$(ms_per $((a1 - a0)) "$N")")
  echo "  round $r: $N renewed in $(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }') s = $rate renewals/s;" \
    "CPU ms per renewal: agent ${agent_ms[-1]}, mosquitto $(ms_per $((m1 - m0)) "$N"), device process $(ms_per $((c1 - c0)) "$N")"
done
[ "$(grep -c ' renewed dev' agent.log)" -eq $((N * ROUNDS)) ] || die "the agent's log does not show $((N * ROUNDS)) renewals"

kill -TERM "$AGENT" && wait "$AGENT" 2>/dev/null || true
[ "$(all_devices 1)" = "0 $N 0" ] || die "with the agent stopped, not every device's request was queued (exit 5)"
t0=$(date +%s%N)
start_agent agent2.log "$PORT" --cafile "$CA" --cert ca-agent/ca-agent.crt --key ca-agent/ca-agent.key --rate 100000 \
  --per-name-per-hour 1000 || die "the agent did not connect again"
for ((i = 0; i < 60000; i++)); do [ "$(grep -c ' renewed dev' agent2.log)" -ge "$N" ] && break; sleep 0.01; done
t1=$(date +%s%N)
[ "$(grep -c ' renewed dev' agent2.log)" -eq "$N" ] || die "the agent did not drain the $N queued requests"
drain_rate=$(awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
drain_ms=$(ms_per "$(ticks "$AGENT_PID")" "$N")
[ "$(all_devices 30)" = "$N 0 0" ] || die "not every device installed its retained answer"
echo "  agent alone: drained $N queued requests in $(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }') s" \
  "(from its start) = $drain_rate renewals/s; agent CPU $drain_ms ms per renewal (its start included);" \
  "then every device installed its retained answer"
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

floor_out=$("$FLOOR" 500)
echo "$floor_out" | grep -v '='
floor_us=$(echo "$floor_out" | sed -n 's/^floor_us_per_renewal=//p')
rate_med=$(median "${rates[@]}")
agent_med=$(median "${agent_ms[@]}")
echo "median of $ROUNDS rounds: $rate_med renewals/s end to end; agent CPU $agent_med ms per renewal"
awk -v a="$agent_med" -v f="$floor_us" 'BEGIN { printf "ratio agent CPU per renewal / floor (%.3f ms): %.2f\n", f / 1000, a * 1000 / f }'
awk -v a="$drain_ms" -v f="$floor_us" 'BEGIN { printf "ratio agent CPU per renewal while draining / floor: %.2f\n", a * 1000 / f }'
