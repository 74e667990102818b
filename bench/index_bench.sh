#!/usr/bin/env bash
# Fleet-scale PKI benchmark: a CA folder with N issued certificates (default 10,000), then the commands cron and
# people run over it. Targets (issue 6): `list` and a no-op `renew --within` under one second.
# Usage: [BASELINE=OTHER_MQTTPKI] bench/index_bench.sh [BUILD_DIR] [N]
# With BASELINE (e.g. a binary built from an older commit), the mass renewal is also run with it, on a copy of
# the same folder right after, and the ratio printed.
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
# The build leaves tens of MB of dirty pages; while they drain, every fsync waits behind them (a disk cache flush
# waits for the queued writes), which would be charged to whatever command runs first. Drain them now.
sync
echo
printf '%-52s %8s\n' "command over $n certificates" "seconds"
printf '%-52s %8s\n' "mqttpki list" "$(t "$mqttpki" list)"
printf '%-52s %8s\n' "mqttpki list --expiring 30d --json" "$(t "$mqttpki" list --expiring 30d --json)"
printf '%-52s %8s\n' "mqttpki renew --all --within 1d (nothing due: cron)" "$(t "$mqttpki" renew --all --within 1d --quiet)"
due=$("$mqttpki" list --expiring 45d --json | grep -c '"serial"' || true)
[ -z "${BASELINE:-}" ] || { cp -a "$MQTTPKI_DIR" "$work/pki-baseline" && sync; }
s=$(t "$mqttpki" renew --all --within 45d --quiet)
printf '%-52s %8s  (%d renewed: %s certificates/s)\n' "mqttpki renew --all --within 45d" "$s" "$due" \
  "$(awk -v n="$due" -v s="$s" 'BEGIN { printf "%.0f", n / s }')"
if [ -n "${BASELINE:-}" ]; then
  b=$(MQTTPKI_DIR="$work/pki-baseline" t "$BASELINE" renew --all --within 45d --quiet)
  printf '%-52s %8s  (%d renewed: %s certificates/s; this build is %sx faster)\n' "BASELINE renew --all --within 45d" \
    "$b" "$due" "$(awk -v n="$due" -v s="$b" 'BEGIN { printf "%.1f", n / s }')" \
    "$(awk -v a="$s" -v b="$b" 'BEGIN { printf "%.0f", b / a }')"
fi
# Fleet issuance as a script does it: one `mqttpki sign` process per device into the large folder.
"$mqttpki" csr --new-key "$work/dev.key" --cn bench-dev --out "$work/dev.csr" >/dev/null 2>&1
s=$(t sh -c 'for i in 1 2 3 4 5; do "$1" sign "$2" --profile client --name "bench-new-$i" || exit 1; done' sh "$mqttpki" "$work/dev.csr")
printf '%-52s %8s\n' "mqttpki sign (one new device; mean of 5)" "$(awk -v s="$s" 'BEGIN { printf "%.3f", s / 5 }')"
if [ -n "${BASELINE:-}" ]; then
  b=$(MQTTPKI_DIR="$work/pki-baseline" t sh -c 'for i in 1 2 3 4 5; do "$1" sign "$2" --profile client --name "bench-new-$i" || exit 1; done' sh "$BASELINE" "$work/dev.csr")
  printf '%-52s %8s\n' "BASELINE sign (one new device; mean of 5)" "$(awk -v s="$b" 'BEGIN { printf "%.3f", s / 5 }')"
fi
n_signed=$("$mqttpki" list --json | grep -c '"bench-new-' || true)
[ "$n_signed" -eq 5 ] || { echo "index_bench: expected 5 signed bench-new-* certificates, found $n_signed" >&2; exit 1; }
