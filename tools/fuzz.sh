#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time each (default 60 s):
#   tools/fuzz.sh [SECONDS] [TARGET...]        e.g. tools/fuzz.sh 60   or   tools/fuzz.sh 300 fuzz_pem_loaders
# Builds with clang in ./build-fuzz (-DMQTTPKI_FUZZ=ON; needs clang and libFuzzer: on Debian 12
# `apt-get install clang libclang-rt-14-dev`). Each target starts from tests/fuzz/corpus/TARGET and
# tests/fuzz/regressions/TARGET; new inputs go to build-fuzz/fuzz-corpus/TARGET (the checked-in corpus is not
# touched) and crashes to build-fuzz/fuzz-artifacts/TARGET/. Exit 1 if any target found a crash, leak or
# timeout. A crash becomes a regression: copy the artifact to tests/fuzz/regressions/TARGET/ and fix the bug;
# the CTest tests fuzz.replay.* replay those folders in every build.
# Environment: CXX (default clang++), JOBS (default 2), FUZZ_BUILD (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
all=(fuzz_pem_loaders fuzz_config fuzz_parsers fuzz_auth_files fuzz_mqtt_decode fuzz_broker_core)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
build=${FUZZ_BUILD:-build-fuzz}
cxx=${CXX:-clang++}
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found; apt-get install clang libclang-rt-14-dev" >&2; exit 2; }
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/p.cpp"
"$cxx" -fsanitize=fuzzer,address "$probe/p.cpp" -o "$probe/p" 2>/dev/null ||
  { echo "fuzz.sh: $cxx cannot link libFuzzer; apt-get install libclang-rt-14-dev (Debian 12)" >&2; exit 2; }

cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DMQTTPKI_FUZZ=ON -DMQTTPKI_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]}"

failed=()
for t in "${targets[@]}"; do
  work="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  mkdir -p "$work" "$artifacts"
  seeds=()
  for d in "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t"; do [ -d "$d" ] && seeds+=("$d"); done
  echo "== $t: ${seconds}s"
  # -rss_limit_mb and -timeout: a slow or memory-hungry input is a finding too (e.g. a huge KDF cost).
  if "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "${seeds[@]}" 2>"$build/fuzz-$t.log"; then
    grep -E '^stat::number_of_executed_units|^Done' "$build/fuzz-$t.log" || true
  else
    failed+=("$t")
    echo "fuzz.sh: $t FAILED; see $build/fuzz-$t.log and $artifacts/" >&2
    grep -E 'ERROR|SUMMARY|Test unit written' "$build/fuzz-$t.log" >&2 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no findings"
