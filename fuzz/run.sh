#!/usr/bin/env bash
# run.sh - runs libFuzzer harnesses one after the other, each for a fixed
# time, and fails on the first crash, leak, timeout or sanitizer report.
#
# Usage: fuzz/run.sh BIN_DIR SECONDS NAME...
#   BIN_DIR   the build folder holding fuzz_<NAME> (build-fuzz/fuzz)
#   SECONDS   how long each harness runs
# Each harness reads the committed seeds (fuzz/corpus/NAME, never written)
# and keeps what it finds in BIN_DIR/corpus/NAME, so a longer run goes on
# from the last one. A crashing input is saved as BIN_DIR/artifacts/NAME/*;
# copy it into fuzz/corpus/NAME/ once fixed, as a regression test.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"; seconds="$2"; shift 2
status=0
for name in "$@"; do
  exe="$bin/fuzz_$name"
  work="$bin/corpus/$name"
  artifacts="$bin/artifacts/$name"
  log="$bin/fuzz_$name.log"
  mkdir -p "$work" "$artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -f "$here/$name.dict" ] && args+=(-dict="$here/$name.dict")
  [ -f "$here/$name.options" ] && while read -r opt; do
    [ -n "$opt" ] && [ "${opt#\#}" = "$opt" ] && args+=("$opt")
  done < "$here/$name.options"
  echo "== fuzz_$name for ${seconds}s (log: $log)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    nice -n 19 "$exe" "${args[@]}" "$work" "$here/corpus/$name" > "$log" 2>&1
  rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$log" | sed 's/^/   /'
  if [ $rc -ne 0 ]; then
    echo "!! fuzz_$name failed (exit $rc); the report:"
    grep -E -A40 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|ALARM|Test unit written' "$log" | head -80
    status=1
  fi
done
exit $status
