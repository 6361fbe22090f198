#!/usr/bin/env bash
# run_cases.sh CHARTER_BIN CASES_DIR - runs the command-line cases.
#
# Each case is a folder under CASES_DIR holding:
#   cmd               the arguments to `charter`, one line, shell words
#                     (run from the repository root with bash's word rules;
#                     "$tmp" is a scratch folder of this run, for files a
#                     case writes, so checkouts side by side never share one)
#   stdin             optional: fed to standard input
#   exit              the expected exit code (default 0)
#   stdout            optional: standard output must equal this exactly
#   stdout.contains   optional: each line must appear in standard output
#   stderr.contains   optional: each line must appear in standard error
# Adding a case is adding a folder. Prints one line per failure and
# "N passed, N failed" last; exits 1 when a case failed.
#
# Each case runs under `timeout`: a case still running after 5 seconds
# (times CHARTER_TEST_TIMEOUT_SCALE, which the sanitizer builds set) is
# killed and fails as "timed out", so a hang costs seconds, not the suite.
# Under ctest (CHARTER_TEST_TIMEOUT set) a case that might not end before
# ctest's own limit is not started: the rest are reported as not run.
set -u
bin=$1
cases=$2
limit=$((5 * ${CHARTER_TEST_TIMEOUT_SCALE:-1}))
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for dir in "$cases"/*/; do
  name=$(basename "$dir")
  [ -f "$dir/cmd" ] || continue
  if [ -n "${CHARTER_TEST_TIMEOUT:-}" ] &&
     [ $((SECONDS + limit + 3)) -gt "$CHARTER_TEST_TIMEOUT" ]; then
    failed=$((failed + 1))
    echo "FAIL out of time after ${SECONDS}s (CHARTER_TEST_TIMEOUT=$CHARTER_TEST_TIMEOUT): $name and the cases after it were not run"
    break
  fi
  eval "args=($(cat "$dir/cmd"))"
  want_exit=0
  [ -f "$dir/exit" ] && want_exit=$(tr -d '[:space:]' < "$dir/exit")
  if [ -f "$dir/stdin" ]; then
    timeout -k 2 "$limit" "$bin" "${args[@]}" < "$dir/stdin" > "$tmp/out" 2> "$tmp/err"
  else
    timeout -k 2 "$limit" "$bin" "${args[@]}" < /dev/null > "$tmp/out" 2> "$tmp/err"
  fi
  got_exit=$?
  why=""
  if [ "$got_exit" = 124 ] || [ "$got_exit" = 137 ]; then
    why="timed out: still running after ${limit}s, killed"
  elif [ "$got_exit" != "$want_exit" ]; then
    why="exit $got_exit, expected $want_exit"
  fi
  if [ -z "$why" ] && [ -f "$dir/stdout" ] && ! cmp -s "$dir/stdout" "$tmp/out"; then
    why="stdout differs: $(diff "$dir/stdout" "$tmp/out" | head -5 | tr '\n' ' ')"
  fi
  for stream in stdout stderr; do
    f="$dir/$stream.contains"
    [ -z "$why" ] && [ -f "$f" ] || continue
    src="$tmp/out"; [ "$stream" = stderr ] && src="$tmp/err"
    while IFS= read -r line || [ -n "$line" ]; do
      [ -n "$line" ] || continue
      if ! grep -qF -- "$line" "$src"; then
        why="$stream lacks: $line"
        break
      fi
    done < "$f"
  done
  if [ -z "$why" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: $why"
    echo "  stdout: $(head -c 400 "$tmp/out" | tr '\n' ' ')"
    echo "  stderr: $(head -c 400 "$tmp/err" | tr '\n' ' ')"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
