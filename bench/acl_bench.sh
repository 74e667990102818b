#!/usr/bin/env bash
# ACL benchmark: QoS 0 messages/s through our `mqttpki broker` and Mosquitto 2.0, each with and without the same
# 1,000-line acl_file, in one run, with the same clients (mosquitto_pub -l feeding N lines, mosquitto_sub -C
# counting them) on plain TCP on 127.0.0.1 with the same password_file (made by mosquitto_passwd), so the ACL is
# the only difference between the two runs of a broker. Each round measures the four brokers back to back.
#
# The ACL: 990 lines of user blocks for 495 other devices, the logger's block (its first line a denial, so its
# every check walks the denial pass) and 7 patterns (5 denying); the publishing device has no user block, so each publish
# is allowed by the last pattern, after the denying ones (Mosquitto substitutes every pattern for each check).
# Every message is checked twice: write for the publisher, read for the subscriber. The clients often bound the
# rate, so the broker's CPU time per message (utime+stime from /proc) is shown too.
#
# Usage: bench/acl_bench.sh [MQTTPKI_BINARY]   (default: build/apps/mqttpki/mqttpki; build it Release)
# Environment: MSGS (QoS 0 messages per run, default 50000), ROUNDS (default 3; the table shows the median).
here=$(cd "$(dirname "$0")" && pwd)
MQTTPKI=$(realpath "${1:-$here/../build/apps/mqttpki/mqttpki}")
MQTTPKI_SOURCE_DIR=$(cd "$here/.." && pwd)
# The tests' helpers: a temp folder $T (the working folder, removed at exit with the brokers: track_pid),
# free_port, wait_port.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
MSGS=${MSGS:-50000}
ROUNDS=${ROUNDS:-3}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
die() { echo "acl_bench: $*" >&2; exit 1; }
[ -x "$MQTTPKI" ] || die "$MQTTPKI not found; build it: cmake --build build --target mqttpki"
[ -x "$MOSQUITTO" ] || die "mosquitto not found (apt-get install mosquitto)"
for c in mosquitto_pub mosquitto_sub mosquitto_passwd; do command -v $c >/dev/null || die "$c not found"; done
W=$T
now() { date +%s.%N; }
. "$here/sub_wait.sh"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

mosquitto_passwd -c -b pw dev0007 dev-pw
mosquitto_passwd -b pw logger logger-pw
{
  for i in $(seq 1 5); do echo "pattern deny sensors/%u/private$i/#"; done
  echo "pattern read commands/%u/#"
  echo "pattern write sensors/%u/#"
  echo "user logger"
  echo "topic deny sensors/+/private/#"
  echo "topic read sensors/#"
  for i in $(seq 1000 1494); do printf 'user dev%04d\ntopic write sensors/dev%04d/#\n' "$i" "$i"; done
} >acl
lines=$(grep -cv '^#' acl)
[ "$lines" -eq 1000 ] || die "the generated ACL has $lines lines, not 1000"

declare -A PORT PID
start() {  # start NAME ours|mosq ACL(yes|no)
  local port
  port=$(free_port)
  PORT[$1]=$port
  {
    [ "$2" = mosq ] && printf 'user %s\npersistence false\nlog_dest stderr\n' "$(id -un)"
    printf 'listener %s 127.0.0.1\npassword_file %s/pw\n' "$port" "$W"
    [ "$3" = yes ] && printf 'acl_file %s/acl\n' "$W"
  } >"$1.conf"
  if [ "$2" = mosq ]; then "$MOSQUITTO" -c "$1.conf" >"$1.log" 2>&1 & else "$MQTTPKI" broker --config "$1.conf" >"$1.out" 2>"$1.log" & fi
  track_pid "$!"
  PID[$1]=$!
  wait_port "$port" || die "$1 did not start: $(cat "$1.log")"
}
start ours ours no
start ours_acl ours yes
start mosq mosq no
start mosq_acl mosq yes

declare -A R
PUB=(-u dev0007 -P dev-pw)
SUB=(-u logger -P logger-pw)
seq -f "%016.0f" "$MSGS" >lines.txt
# throughput NAME: the subscriber first gets a retained "ready" message (so it is subscribed), then
# mosquitto_pub -l publishes MSGS lines; the time runs from the first line to the last arrival.
throughput() {
  local b=$1 sub i t0 t1 got
  mosquitto_pub -h 127.0.0.1 -p "${PORT[$b]}" "${PUB[@]}" -t sensors/dev0007/ready -m ready -r -q 1
  : >sub.out
  mosquitto_sub -h 127.0.0.1 -p "${PORT[$b]}" "${SUB[@]}" -t 'sensors/#' -C $((MSGS + 1)) -W 120 >sub.out 2>sub.err &
  sub=$!
  for ((i = 0; i < 400; i++)); do [ -s sub.out ] && break; sleep 0.01; done
  [ -s sub.out ] || die "$b: the subscriber never got the ready message: $(cat sub.err)"
  local c0
  c0=$(cpu_s "${PID[$b]}")
  t0=$(now)
  mosquitto_pub -h 127.0.0.1 -p "${PORT[$b]}" "${PUB[@]}" -t sensors/dev0007/t -q 0 -l <lines.txt
  await_subscriber "$sub" "$MSGS" sub.out
  got=$GOT
  t1=$T1
  R[us.$b]+=" $(awk -v c="$(cpu_s "${PID[$b]}")" -v c0="$c0" -v n="$MSGS" 'BEGIN { printf "%.2f", (c - c0) * 1e6 / n }')"
  mosquitto_pub -h 127.0.0.1 -p "${PORT[$b]}" "${PUB[@]}" -t sensors/dev0007/ready -r -n -q 1
  R[lost.$b]=$((${R[lost.$b]:-0} + MSGS - got))
  R[q0.$b]+=" $(awk -v n="$got" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.0f", n / (z - a) }')"
  echo "  $b: $got of $MSGS QoS 0 messages in $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }') s"
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), Linux $(uname -r)"
echo "versions: $("$MQTTPKI" --version 2>/dev/null | head -n 1), $("$MOSQUITTO" -h 2>&1 | head -n 1)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); ACL: $lines lines"
for ((round = 1; round <= ROUNDS; round++)); do
  echo "== round $round of $ROUNDS"
  for b in ours ours_acl mosq mosq_acl; do throughput "$b"; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
med() { echo "${R[q0.$1]}" | median; }
us() { echo "${R[us.$1]}" | median; }
for b in ours ours_acl mosq mosq_acl; do
  echo "rounds $b: ${R[q0.$b]} msg/s; ${R[us.$b]} broker CPU us/msg (dropped ${R[lost.$b]})"
done
printf '%-40s %12s %12s %16s\n' "QoS 0 messages/s (median of $ROUNDS)" "ours" "mosquitto" "ours/mosquitto"
printf '%-40s %12s %12s %16s\n' "no ACL" "$(med ours)" "$(med mosq)" "$(ratio "$(med ours)" "$(med mosq)")"
printf '%-40s %12s %12s %16s\n' "1,000-line ACL" "$(med ours_acl)" "$(med mosq_acl)" \
  "$(ratio "$(med ours_acl)" "$(med mosq_acl)")"
printf '%-40s %12s %12s\n' "with ACL / without" "$(ratio "$(med ours_acl)" "$(med ours)")" \
  "$(ratio "$(med mosq_acl)" "$(med mosq)")"
printf '%-40s %12s %12s %16s\n' "broker CPU us per message, no ACL" "$(us ours)" "$(us mosq)" "$(ratio "$(us ours)" "$(us mosq)")"
printf '%-40s %12s %12s %16s\n' "broker CPU us per message, ACL" "$(us ours_acl)" "$(us mosq_acl)" \
  "$(ratio "$(us ours_acl)" "$(us mosq_acl)")"
