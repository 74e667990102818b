#!/usr/bin/env bash
# The README's test command: install dependencies (Debian 12), build with warnings as errors, run every test.
#   tools/test.sh                 normal build in ./build
#   tools/test.sh --sanitize      AddressSanitizer + UndefinedBehaviorSanitizer build in ./build-asan
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
extra=()
if [ "${1:-}" = "--sanitize" ]; then
  build=build-asan
  extra=(-DMQTTPKI_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug)
fi
tools/install-deps.sh --test
cmake -S . -B "$build" -DMQTTPKI_WERROR=ON "${extra[@]}"
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
