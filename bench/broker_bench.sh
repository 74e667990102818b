#!/usr/bin/env bash
# Broker benchmark: our `mqttpki broker` against Mosquitto 2.0 on the same machine, in one run, with the same
# independent clients, both with mutual TLS on 127.0.0.1 and the same certificates (made by mqttpki):
#   1. mutual-TLS handshakes/s          openssl s_time -new (a fresh full handshake per connection)
#   2. QoS 0 and QoS 1 messages/s       mosquitto_pub -l feeding N lines, mosquitto_sub -C counting them
#   3. publish -> receive latency       bench/mqtt_bench_client.py latency (median, p99; QoS 0; the broker
#                                       and the client pinned to separate cores, the same for both brokers)
#   4. broker CPU seconds               /proc/PID/stat utime+stime, per phase and for the whole run
#   5. RSS with idle TLS connections    bench/mqtt_bench_client.py idle (1,000, then 5,000 if ulimit -n allows)
# Each figure is measured for our broker and then Mosquitto, back to back, so machine load hits both alike.
# Ratios are ours/mosquitto; for lower-is-better figures (latency, CPU, RSS) a ratio below 1 favours ours.
#
# Usage: bench/broker_bench.sh [MQTTPKI_BINARY]   (default: build/apps/mqttpki/mqttpki)
# Environment: MSGS (QoS 0 messages, default 50000), MSGS1 (QoS 1 messages, default 10000),
#   ROUNDS (default 3; the table shows the median round), HS_SECONDS (s_time duration, default 3),
#   LAT_COUNT (latency samples per round, default 1000),
#   IDLE (idle connection steps, default 1000,5000), QUEUE (max_queued_messages for both brokers, default
#   MSGS1 + 1000: nothing dropped), MOSQ_NODELAY (Mosquitto's set_tcp_nodelay, default
#   false as in its defaults; ours does not set TCP_NODELAY either), PHASES (the phases to run, default
#   "hs q0 q1 lat idle"; e.g. PHASES=q0 measures only QoS 0 throughput). Takes about 2.5 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MQTTPKI=${1:-$here/../build/apps/mqttpki/mqttpki}
MQTTPKI=$(realpath "$MQTTPKI")
MSGS=${MSGS:-50000}
MSGS1=${MSGS1:-10000}
HS_SECONDS=${HS_SECONDS:-3}
ROUNDS=${ROUNDS:-3}
LAT_COUNT=${LAT_COUNT:-1000}
IDLE=${IDLE:-1000,5000}
PHASES=" ${PHASES:-hs q0 q1 lat idle} "
runs() { [[ "$PHASES" == *" $1 "* ]]; }
# Both brokers hold at most 1,000 QoS 1 messages per subscriber by default and drop the rest when the
# subscriber falls behind, which then depends on how the scheduler treats mosquitto_sub. By default the
# benchmark lets both hold a whole round, so the QoS 1 figure is a lossless delivery rate; QUEUE=1000 measures
# the brokers' defaults.
QUEUE=${QUEUE:-$((MSGS1 + 1000))}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
die() { echo "broker_bench: $*" >&2; exit 1; }
[ -x "$MQTTPKI" ] || die "$MQTTPKI not found; build it: cmake --build build --target mqttpki"
[ -x "$MOSQUITTO" ] || die "mosquitto not found (apt-get install mosquitto)"
for c in mosquitto_pub mosquitto_sub openssl; do command -v $c >/dev/null || die "$c not found"; done

# 5,000 idle connections need a descriptor each in the broker and in the client
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt 5200 ]; then IDLE=1000; fi

W=$(mktemp -d "${TMPDIR:-/tmp}/broker-bench.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
cd "$W"

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() {
  local i
  for ((i = 0; i < 200; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
now() { date +%s.%N; }
. "$here/sub_wait.sh"
# cpu_s PID: utime+stime in seconds
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

# --- certificates, made by mqttpki
export MQTTPKI_DIR=$W/pki
"$MQTTPKI" init-ca --cn "bench CA" >/dev/null 2>&1
"$MQTTPKI" csr --new-key server.key --cn localhost --san DNS:localhost --san IP:127.0.0.1 --out server.csr >/dev/null
"$MQTTPKI" sign server.csr --profile server --name server --out server.crt >/dev/null
"$MQTTPKI" csr --new-key client.key --cn bench --out client.csr >/dev/null
"$MQTTPKI" sign client.csr --profile client --name bench --out client.crt >/dev/null
CA=$MQTTPKI_DIR/ca.crt

# --- the brokers: ours, and Mosquitto with the same files and the same policy
OURS_PORT=$(free_port)
cat >ours.conf <<EOF
listener $OURS_PORT 127.0.0.1
cafile $CA
certfile $W/server.crt
keyfile $W/server.key
require_certificate true
use_identity_as_username true
max_connections 10000
max_queued_messages $QUEUE
EOF
"$MQTTPKI" broker --config ours.conf >ours.out 2>ours.log &
OURS_PID=$!
pids+=("$OURS_PID")
MOSQ_PORT=$(free_port)
cat >mosquitto.conf <<EOF
per_listener_settings false
listener $MOSQ_PORT 127.0.0.1
cafile $CA
certfile $W/server.crt
keyfile $W/server.key
require_certificate true
use_identity_as_username true
allow_anonymous false
persistence false
log_dest stderr
user $(id -un)
set_tcp_nodelay ${MOSQ_NODELAY:-false}
max_queued_messages $QUEUE
EOF
"$MOSQUITTO" -c mosquitto.conf >mosquitto.log 2>&1 &
MOSQ_PID=$!
pids+=("$MOSQ_PID")
wait_port "$OURS_PORT" || die "our broker did not start: $(cat ours.log)"
wait_port "$MOSQ_PORT" || die "mosquitto did not start: $(cat mosquitto.log)"

declare -A R  # R[figure.ours], R[figure.mosq]
declare -A PORT=([ours]=$OURS_PORT [mosq]=$MOSQ_PORT)
declare -A PID=([ours]=$OURS_PID [mosq]=$MOSQ_PID)
declare -A CPU0
for b in ours mosq; do CPU0[$b]=$(cpu_s "${PID[$b]}"); done
TLS_ARGS() { echo "-h 127.0.0.1 -p ${PORT[$1]} --cafile $CA --cert $W/client.crt --key $W/client.key"; }

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), Linux $(uname -r)"
echo "versions: $("$MQTTPKI" --version 2>/dev/null | head -n 1), $("$MOSQUITTO" -h 2>&1 | head -n 1), $(openssl version)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); mosquitto set_tcp_nodelay ${MOSQ_NODELAY:-false}; max_queued_messages $QUEUE (both)"

# phase NAME: note CPU per broker at the start of a phase
# phase_cpu NAME / phase_cpu_end NAME: add the broker CPU seconds between the two to R[cpu_NAME.*]
phase_cpu() { for b in ours mosq; do R[cpu0_$1.$b]=$(cpu_s "${PID[$b]}"); done; }
phase_cpu_end() {
  for b in ours mosq; do
    R[cpu_$1.$b]=$(awk -v a="$(cpu_s "${PID[$b]}")" -v b0="${R[cpu0_$1.$b]}" -v s="${R[cpu_$1.$b]:-0}" \
      'BEGIN { printf "%.2f", s + a - b0 }')
  done
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
spread() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { printf "%s..%s", v[1], v[NR] }'; }

# 1. handshakes/s
handshakes() {  # handshakes BROKER
  local b=$1 t0 t1 out n
  t0=$(now)
  out=$(openssl s_time -connect "127.0.0.1:${PORT[$b]}" -CAfile "$CA" -cert client.crt -key client.key -new \
    -time "$HS_SECONDS" 2>/dev/null | grep -m1 'connections in' || true)
  t1=$(now)
  n=$(echo "$out" | awk '{print $1}')
  R[hsn.$b]=$((${R[hsn.$b]:-0} + ${n:-0}))
  R[hs.$b]+=" $(awk -v n="${n:-0}" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.0f", n / (z - a) }')"
  echo "  $b: ${n:-0} handshakes in $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }') s"
}

# 2. messages/s: the subscriber first receives a retained "ready" message (so it is subscribed), then
# mosquitto_pub -l publishes N lines; the time runs from the first line sent to the subscriber's exit.
throughput() {  # throughput BROKER QOS N
  local b=$1 q=$2 n=$3
  # shellcheck disable=SC2046
  mosquitto_pub $(TLS_ARGS "$b") -t bench/ready -m ready -r -q 1
  seq -f "%016.0f" "$n" >lines.txt
  : >sub.out
  # shellcheck disable=SC2046
  mosquitto_sub $(TLS_ARGS "$b") -i "tp-sub-$q" -t bench/ready -t bench/data -q "$q" -C $((n + 1)) -W 120 \
    >sub.out 2>sub.err &
  local sub=$! i
  for ((i = 0; i < 400; i++)); do [ -s sub.out ] && break; sleep 0.01; done
  local t0 t1 got=0
  t0=$(now)
  # shellcheck disable=SC2046
  mosquitto_pub $(TLS_ARGS "$b") -i "tp-pub-$q" -t bench/data -q "$q" -l <lines.txt
  # The subscriber exits after N messages; if the broker dropped some (a full queue), the run is timed to the
  # last arrival.
  await_subscriber "$sub" "$n" sub.out
  got=$GOT
  t1=$T1
  # shellcheck disable=SC2046
  mosquitto_pub $(TLS_ARGS "$b") -t bench/ready -r -n -q 1  # clear the retained message
  R[lost$q.$b]=$((${R[lost$q.$b]:-0} + n - got))
  echo "  $b: $got of $n QoS $q messages in $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }') s" \
    "($((n - got)) dropped by the broker)"
  R[q$q.$b]+=" $(awk -v n="$got" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.0f", n / (z - a) }')"
}
latency() {  # latency BROKER
  local b=$1 out
  # With 2+ cores the broker runs on the last core and the client on the others while latency is measured,
  # the same placement for both brokers: otherwise whether they share a core (and the cost of waking an idle
  # virtual CPU) changes from round to round and moves whole rounds between ~55 and ~150 us.
  local cores last pin=()
  cores=$(nproc)
  if [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then
    last=$((cores - 1))
    taskset -pc "$last" "${PID[$b]}" >/dev/null
    pin=(taskset -c "0-$((last - 1))")
  fi
  out=$("${pin[@]}" "$PYTHON" "$here/mqtt_bench_client.py" latency 127.0.0.1 "${PORT[$b]}" "$CA" client.crt client.key "$LAT_COUNT")
  [ "${#pin[@]}" -eq 0 ] || taskset -pc "0-$last" "${PID[$b]}" >/dev/null
  echo "  $b: $out"
  R[lat50.$b]+=" $(echo "$out" | sed -n 's/.*median=\([0-9.]*\).*/\1/p')"
  R[lat99.$b]+=" $(echo "$out" | sed -n 's/.*p99=\([0-9.]*\).*/\1/p')"
}

# Rounds: each figure for ours, then Mosquitto, ROUNDS times; the table shows the median round.
for ((round = 1; round <= ROUNDS; round++)); do
  echo "== round $round of $ROUNDS"
  if runs hs; then
    echo "-- 1. mutual-TLS handshakes (openssl s_time -new -time $HS_SECONDS)"
    phase_cpu hs
    for b in ours mosq; do handshakes "$b"; done
    phase_cpu_end hs
  fi
  runs q0 || runs q1 && echo "-- 2. messages/s over TLS, 16-byte payloads (mosquitto_pub -l | broker | mosquitto_sub -C)"
  if runs q0; then
    phase_cpu q0
    for b in ours mosq; do throughput "$b" 0 "$MSGS"; done
    phase_cpu_end q0
  fi
  if runs q1; then
    phase_cpu q1
    for b in ours mosq; do throughput "$b" 1 "$MSGS1"; done
    phase_cpu_end q1
  fi
  if runs lat; then
    echo "-- 3. publish -> receive latency, QoS 0, one message at a time ($LAT_COUNT samples)"
    phase_cpu lat
    for b in ours mosq; do latency "$b"; done
    phase_cpu_end lat
  fi
done

# 5. idle connections (before the CPU total, which covers phases 1-3 and this one)
if runs idle; then
  echo "== 5. broker RSS with idle mutual-TLS MQTT connections (steps $IDLE)"
  phase_cpu idle
  for b in ours mosq; do
    R[rss0.$b]=$(rss_kib "${PID[$b]}")
    R[anon0.$b]=$(awk '/^RssAnon:/ { print $2 }' "/proc/${PID[$b]}/status")
    out=$("$PYTHON" "$here/mqtt_bench_client.py" idle 127.0.0.1 "${PORT[$b]}" "$CA" client.crt client.key \
      "${PID[$b]}" "$IDLE")
    echo "  $b: before: ${R[rss0.$b]} KiB"
    echo "$out" | sed 's/^/  '"$b"': /'
    while read -r _ nfield rfield afield _; do
      R[rss_${nfield#n=}.$b]=${rfield#rss=}
      R[anon_${nfield#n=}.$b]=${afield#anon=}
    done <<<"$out"
    sleep 1
  done
  phase_cpu_end idle
fi

for b in ours mosq; do
  R[cpu.$b]=$(awk -v a="$(cpu_s "${PID[$b]}")" -v b0="${CPU0[$b]}" 'BEGIN { printf "%.2f", a - b0 }')
  R[rss_end.$b]=$(rss_kib "${PID[$b]}")
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
row() { printf '%-44s %12s %12s %16s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")$4"; }
med() { echo "${R[$1]:-}" | median; }
for f in hs q0 q1 lat50 lat99; do
  for b in ours mosq; do echo "rounds $f.$b: ${R[$f.$b]:-} (median $(med "$f.$b"), range $(echo "${R[$f.$b]:-}" | spread))"; done
done
echo
printf '%-44s %12s %12s %16s\n' "figure (median of $ROUNDS rounds)" "ours" "mosquitto" "ours/mosquitto"
row "mutual-TLS handshakes/s" "$(med hs.ours)" "$(med hs.mosq)" ""
row "QoS 0 messages/s ($MSGS per round)" "$(med q0.ours)" "$(med q0.mosq)" ""
row "QoS 1 messages/s ($MSGS1 per round)" "$(med q1.ours)" "$(med q1.mosq)" ""
row "QoS 0 messages dropped" "${R[lost0.ours]:-}" "${R[lost0.mosq]:-}" " (lower)"
row "QoS 1 messages dropped (queue full)" "${R[lost1.ours]:-}" "${R[lost1.mosq]:-}" " (lower)"
row "latency median, us" "$(med lat50.ours)" "$(med lat50.mosq)" " (lower)"
row "latency p99, us" "$(med lat99.ours)" "$(med lat99.mosq)" " (lower)"
row "CPU ms per handshake" \
  "$(awk -v c="${R[cpu_hs.ours]:-}" -v n="${R[hsn.ours]:-}" 'BEGIN { if (n) printf "%.3f", c * 1000 / n }')" \
  "$(awk -v c="${R[cpu_hs.mosq]:-}" -v n="${R[hsn.mosq]:-}" 'BEGIN { if (n) printf "%.3f", c * 1000 / n }')" " (lower)"
row "CPU s, QoS 0 messages (all rounds)" "${R[cpu_q0.ours]:-}" "${R[cpu_q0.mosq]:-}" " (lower)"
row "CPU s, QoS 1 messages (all rounds)" "${R[cpu_q1.ours]:-}" "${R[cpu_q1.mosq]:-}" " (lower)"
row "CPU s, latency (all rounds)" "${R[cpu_lat.ours]:-}" "${R[cpu_lat.mosq]:-}" " (lower)"
row "CPU s, idle connections" "${R[cpu_idle.ours]:-}" "${R[cpu_idle.mosq]:-}" " (lower)"
row "CPU s, whole run" "${R[cpu.ours]:-}" "${R[cpu.mosq]:-}" " (lower)"
row "RSS KiB before idle connections" "${R[rss0.ours]:-}" "${R[rss0.mosq]:-}" " (lower)"
row "  of it private (RssAnon)" "${R[anon0.ours]:-}" "${R[anon0.mosq]:-}" " (lower)"
for n in ${IDLE//,/ }; do
  [ -n "${R[rss_$n.ours]:-}" ] && [ -n "${R[rss_$n.mosq]:-}" ] || continue
  row "RSS KiB with $n idle TLS connections" "${R[rss_$n.ours]:-}" "${R[rss_$n.mosq]:-}" " (lower)"
  row "  of it private (RssAnon)" "${R[anon_$n.ours]:-}" "${R[anon_$n.mosq]:-}" " (lower)"
  row "  KiB per idle connection" \
    "$(awk -v a="${R[rss_$n.ours]:-}" -v z="${R[rss0.ours]:-}" -v n="$n" 'BEGIN { printf "%.1f", (a - z) / n }')" \
    "$(awk -v a="${R[rss_$n.mosq]:-}" -v z="${R[rss0.mosq]:-}" -v n="$n" 'BEGIN { printf "%.1f", (a - z) / n }')" " (lower)"
done
