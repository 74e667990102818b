#!/usr/bin/env bash
# Fleet-scale PKI benchmark: a CA folder with N issued certificates (default 10,000), then the commands cron and
# people run over it. Targets (issue 6): `list` and a no-op `renew --within` under one second.
# Usage: bench/index_bench.sh [BUILD_DIR] [N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
n=${2:-10000}
for b in "$build/bench/bench_index" "$build/apps/mqttpki/mqttpki"; do
  [ -x "$b" ] || { echo "index_bench: $b not found; build it: cmake --build $build --target bench_index mqttpki" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/index-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export MQTTPKI_DIR="$work/pki"
mqttpki="$build/apps/mqttpki/mqttpki"

# t CMD...: wall seconds of one run, stdout discarded
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'; }

echo "== building a CA folder with $n client certificates (each: P-256 key generation + issue + verify + atomic write)"
"$build/bench/bench_index" "$MQTTPKI_DIR" "$n"
echo
printf '%-52s %8s\n' "command over $n certificates" "seconds"
printf '%-52s %8s\n' "mqttpki list" "$(t "$mqttpki" list)"
printf '%-52s %8s\n' "mqttpki list --expiring 30d --json" "$(t "$mqttpki" list --expiring 30d --json)"
printf '%-52s %8s\n' "mqttpki renew --all --within 1d (nothing due: cron)" "$(t "$mqttpki" renew --all --within 1d --quiet)"
due=$("$mqttpki" list --expiring 45d --json | grep -c '"serial"' || true)
s=$(t "$mqttpki" renew --all --within 45d --quiet)
printf '%-52s %8s  (%d renewed: %s certificates/s)\n' "mqttpki renew --all --within 45d" "$s" "$due" \
  "$(awk -v n="$due" -v s="$s" 'BEGIN { printf "%.0f", n / s }')"
