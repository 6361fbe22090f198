#!/usr/bin/env bash
# test.sh - the second README command: installs what the tests need, builds
# Charter three times (a normal build, an ASan + UBSan build, a ThreadSanitizer
# build) and runs the whole test suite on the first two and the threaded tests
# (unit and HTTP) on the third, then fuzzes briefly. Exits non-zero when any
# test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
jobs=$(nproc)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build (ASan + UBSan)"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DCHARTER_SANITIZE=ON
cmake --build build-sanitize -j"$jobs"
echo "== tests under the sanitizers"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-sanitize --output-on-failure -j"$jobs"

echo "== build (ThreadSanitizer)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHARTER_TSAN=ON
cmake --build build-tsan -j"$jobs"
echo "== unit and HTTP tests under ThreadSanitizer (a race fails the test)"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L "unit|http"

echo "== fuzzing: every harness for a short fixed time (scripts/fuzz.sh)"
bash scripts/fuzz.sh 30
