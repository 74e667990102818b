#!/usr/bin/env bash
# `mqttpki sign` wall time, as a user or a provisioning script sees it: one process per certificate (start,
# CA key and index loading, CSR parsing, issuing, atomic writes), into a fresh CA folder.
# With BASELINE (another mqttpki binary, e.g. built from an older commit), both run alternately into their own
# CA folders, so a busy machine disturbs both alike; the medians and their ratio are printed.
# Usage: [BASELINE=OTHER_MQTTPKI] bench/sign_latency.sh [BUILD_DIR] [COUNT]   (defaults: build, 40)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
count=${2:-40}
mqttpki="$build/apps/mqttpki/mqttpki"
[ -x "$mqttpki" ] || { echo "sign_latency: $mqttpki not found; build it: cmake --build $build --target mqttpki" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sign-latency.XXXXXX")
trap 'rm -rf "$work"' EXIT

# t CMD...: wall milliseconds of one run, stdout and stderr discarded (a failure stops the benchmark)
t() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'; }

setup() {  # BINARY DIR: a CA folder and a CSR
  MQTTPKI_DIR="$2" "$1" init-ca --cn "Bench CA" >/dev/null 2>&1
  "$1" csr --new-key "$2.key" --cn bench-dev --out "$2.csr" >/dev/null
}
setup "$mqttpki" "$work/this"
[ -z "${BASELINE:-}" ] || setup "$BASELINE" "$work/base"
for i in $(seq 1 "$count"); do
  MQTTPKI_DIR="$work/this" t "$mqttpki" sign "$work/this.csr" --profile client --name "dev-$i" >>"$work/this.ms"
  [ -z "${BASELINE:-}" ] ||
    MQTTPKI_DIR="$work/base" t "$BASELINE" sign "$work/base.csr" --profile client --name "dev-$i" >>"$work/base.ms"
done
this=$(median <"$work/this.ms")
echo "mqttpki sign, median of $count: $this ms"
if [ -n "${BASELINE:-}" ]; then
  base=$(median <"$work/base.ms")
  echo "BASELINE sign, median of $count: $base ms (this build takes $(awk -v a="$this" -v b="$base" 'BEGIN { printf "%.2f", a / b }')x the baseline's time)"
fi
