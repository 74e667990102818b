#!/usr/bin/env bash
# Every benchmark, in one command: builds a Release tree with the benchmark targets, then runs
#   1. bench/pki_bench.sh     issuing from CSRs vs `openssl speed ecdsap256` and the seed guide's openssl loop
#   2. bench/index_bench.sh   list / renew over a CA folder of N certificates (default 10,000)
#   3. bench/broker_bench.sh  our broker vs Mosquitto: handshakes, QoS 0/1, latency, CPU, idle RSS
#   4. bench/acl_bench.sh     our broker vs Mosquitto with and without a 1,000-line acl_file (QoS 0)
#   5. bench/renew_mqtt_bench.sh  renewal over MQTT through Mosquitto: renewals/s, agent CPU per renewal vs its floor
# and prints each one's output with the machine, the commit, the date and the load, so that the whole log can go
# next to the figures in docs/benchmarks.md. Each script prints ratios against a baseline it measures in the
# same run. Run it when nothing else runs: the clients and the brokers share the machine's cores.
#
# Usage: bench/run_all.sh [BUILD_DIR]        (default: build-bench; about 5 minutes on 2 cores after the build)
# Environment: PKI_COUNT (1000), SEED_COUNT (100), INDEX_N (10000), and the broker knobs of broker_bench.sh
# (MSGS, MSGS1, ROUNDS, IDLE, QUEUE, ...). Needs what the three scripts need: the openssl CLI, mosquitto,
# mosquitto_pub/mosquitto_sub and python3 (tools/install-deps.sh --test installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build-bench}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMQTTPKI_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target mqttpki bench_pki bench_index bench_renew_floor >/dev/null

section() { printf '\n######## %s (%s, load %s)\n' "$1" "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ { print $2 " GB RAM" }'), Linux $(uname -r)"
echo "mqttpki: $("$build/apps/mqttpki/mqttpki" --version | head -n 1), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), Release build in $build"
echo "openssl: $(openssl version)"

section "1. PKI: issuing from CSRs"
"$here/pki_bench.sh" "$build" "${PKI_COUNT:-1000}" "${SEED_COUNT:-100}"

section "2. PKI: a CA folder of ${INDEX_N:-10000} certificates"
"$here/index_bench.sh" "$build" "${INDEX_N:-10000}"

section "3. Broker vs Mosquitto"
"$here/broker_bench.sh" "$build/apps/mqttpki/mqttpki"

section "4. Broker vs Mosquitto with a 1,000-line ACL"
"$here/acl_bench.sh" "$build/apps/mqttpki/mqttpki"

section "5. Renewal over MQTT through Mosquitto"
"$here/renew_mqtt_bench.sh" "$build"

section "done"
