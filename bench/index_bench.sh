#!/usr/bin/env bash
# Fleet-scale PKI benchmark over the CA's records (DIR/ca.db): the commands cron and people run over a CA folder
# with N issued certificates (default 10,000), and `sign` into a folder with BIG (default 100,000) against one
# with 10. Targets: `list` of BIG under 1 s; `sign` into BIG within 1.5x of `sign` into 10 (median of 7 each,
# interleaved); `renew --all` over N due certificates at least 3x the rate of the index.json release.
# Usage: [BASELINE_BUILD=OTHER_BUILD_DIR] bench/index_bench.sh [BUILD_DIR] [N] [BIG]
# With BASELINE_BUILD (a build folder of an older commit, with bench_index and mqttpki built), the same
# mass renewal runs with its binary on a folder its own bench_index built (same certificates, same expiry
# spread), right after ours, and the ratio is printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
n=${2:-10000}
big=${3:-100000}
for b in "$build/bench/bench_index" "$build/apps/mqttpki/mqttpki"; do
  [ -x "$b" ] || { echo "index_bench: $b not found; build it: cmake --build $build --target bench_index mqttpki" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/index-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mqttpki="$build/apps/mqttpki/mqttpki"

# t CMD...: wall seconds of one run, stdout discarded
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "== a CA folder with $n client certificates (each: P-256 key generation + issue through the issuance path)"
"$build/bench/bench_index" "$work/pki" "$n"
# The build leaves tens of MB of dirty pages; while they drain, every fsync waits behind them, which would be
# charged to whatever command runs first. Drain them now.
sync
export MQTTPKI_DIR="$work/pki"
echo
printf '%-56s %8s\n' "command over $n certificates" "seconds"
printf '%-56s %8s\n' "mqttpki list" "$(t "$mqttpki" list)"
printf '%-56s %8s\n' "mqttpki list --expiring 30d --json" "$(t "$mqttpki" list --expiring 30d --json)"
printf '%-56s %8s\n' "mqttpki renew --all --within 1d (nothing due: cron)" "$(t "$mqttpki" renew --all --within 1d --quiet)"
s=$(t "$mqttpki" renew --all --quiet)
rate=$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.0f", n / s }')
printf '%-56s %8s  (%d renewed: %s certificates/s)\n' "mqttpki renew --all (every one due)" "$s" "$n" "$rate"
renewed=$("$mqttpki" list --json | grep -c '"superseded"' || true)
[ "$renewed" -eq "$n" ] || { echo "index_bench: expected $n superseded certificates, found $renewed" >&2; exit 1; }
if [ -n "${BASELINE_BUILD:-}" ]; then
  "$BASELINE_BUILD/bench/bench_index" "$work/pki-baseline" "$n" >/dev/null
  sync
  b=$(MQTTPKI_DIR="$work/pki-baseline" t "$BASELINE_BUILD/apps/mqttpki/mqttpki" renew --all --quiet)
  brate=$(awk -v n="$n" -v s="$b" 'BEGIN { printf "%.0f", n / s }')
  printf '%-56s %8s  (%d renewed: %s certificates/s; this build: %sx)\n' "BASELINE renew --all (every one due)" \
    "$b" "$n" "$brate" "$(ratio "$b" "$s")"
  rm -rf "$work/pki-baseline"
fi
rm -rf "$work/pki"

echo
echo "== sign into a CA with 10 certificates and into one with $big"
"$build/bench/bench_index" "$work/small" 10 >/dev/null
"$build/bench/bench_index" "$work/big" "$big"
sync
printf '%-56s %8s\n' "mqttpki list over $big" "$(MQTTPKI_DIR="$work/big" t "$mqttpki" list)"
"$mqttpki" csr --new-key "$work/dev.key" --cn bench-dev --out "$work/dev.csr" >/dev/null 2>&1
: >"$work/small.times"
: >"$work/big.times"
for i in 1 2 3 4 5 6 7; do  # interleaved, so a neighbour's load hits both alike
  MQTTPKI_DIR="$work/small" t "$mqttpki" sign "$work/dev.csr" --profile client --name "bench-new-$i" >>"$work/small.times"
  echo >>"$work/small.times"
  MQTTPKI_DIR="$work/big" t "$mqttpki" sign "$work/dev.csr" --profile client --name "bench-new-$i" >>"$work/big.times"
  echo >>"$work/big.times"
done
small_med=$(median <"$work/small.times")
big_med=$(median <"$work/big.times")
printf '%-56s %8s  (runs: %s)\n' "mqttpki sign into 10 (median of 7)" "$small_med" "$(tr '\n' ' ' <"$work/small.times")"
printf '%-56s %8s  (runs: %s)\n' "mqttpki sign into $big (median of 7)" "$big_med" "$(tr '\n' ' ' <"$work/big.times")"
printf 'sign_big_over_small=%s\n' "$(ratio "$big_med" "$small_med")"
n_signed=$(MQTTPKI_DIR="$work/big" "$mqttpki" list --json | grep -c '"bench-new-' || true)
[ "$n_signed" -eq 7 ] || { echo "index_bench: expected 7 signed bench-new-* certificates, found $n_signed" >&2; exit 1; }
