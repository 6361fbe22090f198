#!/usr/bin/env bash
# fuzz.sh [SECONDS] - builds Charter with clang, libFuzzer, ASan and UBSan in
# build-fuzz/, replays the committed corpus (fuzz/corpus/) and then fuzzes
# every harness of fuzz/ for SECONDS each (default 60), one after the other.
# Exits non-zero on any crash, leak, timeout or sanitizer report; the input
# that caused it is kept in build-fuzz/fuzz/artifacts/<harness>/.
# Needs clang and libclang-rt (scripts/deps.sh test). See docs/security.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
jobs="${JOBS:-$(nproc)}"
cc="${CC_FUZZ:-clang}"

echo "== build (clang, libFuzzer, ASan + UBSan) in build-fuzz"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER="$cc" -DCHARTER_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHARTER_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build build-fuzz -j"$jobs"
echo "== the committed corpus under the sanitizers"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-fuzz -L fuzz-replay --output-on-failure
echo "== fuzzing, ${seconds} s per harness"
cmake --build build-fuzz --target fuzz
