#!/usr/bin/env bash
# bench_console.sh - the console's calls over a ledger of a million decisions
# (issue 14's "How fast"), and what browsing costs the agents' decisions.
#
#   bash bench/console/bench_console.sh [SECONDS]      (default 10)
#
# 1. Builds (once; reused while the file exists, delete it to rebuild) a
#    ledger of $CHARTER_BENCH_DECISIONS decisions (default 1,000,000; one in
#    a hundred escalated and left open, so 10,000 open) with
#    bench_console_ledger (console_ledger.c: decide_begin/_end in batches of
#    2,048 from one thread), at $CHARTER_BENCH_LEDGER (default
#    $TMPDIR/charter-bench-console.ledger), printing progress. Each run works
#    on a copy, so the decisions it adds do not pile up.
# 2. Starts `charter serve` on the copy (127.0.0.1:18190) and prints p50/p95
#    of the inbox (GET /v1/escalations?detail=1&sort=deadline&limit=100 with
#    10,000 open), the decision search (first page, and the page reached by
#    following `next` 20 times) and a decision's page (browse.py; an
#    endpoint this build lacks prints "not available").
# 3. Measures POST /v1/decide with wrk (2 threads, 64 connections, SECONDS)
#    alone, then while one browsing client loops over those calls
#    (browse.py loop, $CHARTER_BENCH_PAUSE seconds between calls, default
#    0.5: a brisk person; 0 is back to back, a stress case), twice each, alternating, and prints the ratio of the
#    rates (target >= 0.90), with the server's CPU time per decision in each
#    kind of run (from /proc/PID/stat). Step 2 prints each console call's
#    own server CPU time, steadier than any rate on a machine shared with
#    other work.
#    It also prints how long wrk would take to build the ledger at the
#    decide rate it measured, beside the builder's time.
#
# Installs wrk from Debian if missing, builds Charter (Release) in
# build-release/, and uses only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
decisions=${CHARTER_BENCH_DECISIONS:-1000000}
ledger=${CHARTER_BENCH_LEDGER:-${TMPDIR:-/tmp}/charter-bench-console.ledger}
pause=${CHARTER_BENCH_PAUSE:-0.5}
port=18190
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null
fi
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 --target charter_cli bench_console_ledger >/dev/null
bin=$PWD/build-release/charter
charter=bench/console/console.yaml
work=$(mktemp -d /tmp/charter-bench-console-XXXXXX)
cleanup() {
  [ -n "${browse_pid:-}" ] && kill "$browse_pid" 2>/dev/null || true
  [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. the ledger ----
if [ ! -f "$ledger" ]; then
  echo "building $ledger ($decisions decisions):"
  t0=$(date +%s.%N)
  ./build-release/bench/bench_console_ledger "$charter" "$ledger" "$decisions"
  echo "$(date +%s.%N) - $t0" | bc > "$ledger.build-seconds"
else
  echo "reusing $ledger (delete it to rebuild)"
fi
build_s=$(cat "$ledger.build-seconds" 2>/dev/null || true)
cp "$ledger" "$work/ledger.db"

# ---- 2. the server and the console's calls ----
tok=$("$bin" keys agent --dir "$work/keys" --agent agent-00 2>/dev/null)
export CHARTER_APPROVER_TOKEN=$("$bin" keys approver --dir "$work/keys" --name mia \
    --queue leads --queue finance --role support-lead --role finance-lead 2>/dev/null)
export CHARTER_AUDITOR_TOKEN=$("$bin" keys auditor --dir "$work/keys" --name audra 2>/dev/null)
t0=$(date +%s.%N)
"$bin" serve --charter "$charter" --ledger "$work/ledger.db" --keys "$work/keys" \
    --listen 127.0.0.1:$port > "$work/serve.out" 2> "$work/serve.err" &
srv_pid=$!
for _ in $(seq 1200); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$work/serve.out" || { echo "charter serve did not start:"; cat "$work/serve.err"; exit 1; }
printf 'charter serve listening after %.1f s (rebuilding its state from the ledger)\n' \
    "$(echo "$(date +%s.%N) - $t0" | bc)"
open=$(curl -s -H "Authorization: Bearer $CHARTER_APPROVER_TOKEN" \
    "http://127.0.0.1:$port/v1/escalations?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "open escalations: $open"
# The search index (<ledger>.search) is built by the server's indexer from
# the ledger; the search figures are taken once it has caught up.
t0=$(date +%s.%N)
for _ in $(seq 3000); do
  st=$(curl -s -H "Authorization: Bearer $CHARTER_AUDITOR_TOKEN" \
      "http://127.0.0.1:$port/v1/decisions?limit=1" | python3 -c '
import json, sys
try:
    b = json.load(sys.stdin)
    print("%d %d" % (b["indexed_through"], b["ledger_seq"]))
except Exception:
    print("-")')
  case $st in
    -) break ;;                             # no search on this build
    *) set -- $st; [ "$1" -ge "$2" ] && break ;;
  esac
  sleep 0.2
done
[ "$st" != - ] && printf 'search index caught up with the ledger (%s entries) in %.1f s\n' \
    "${st% *}" "$(echo "$(date +%s.%N) - $t0" | bc)"
CHARTER_BENCH_SERVER_PID=$srv_pid python3 bench/console/browse.py latency $port 40

# ---- 3. /v1/decide alone and while someone browses ----
cpu_ticks() { awk '{print $14 + $15}' "/proc/$srv_pid/stat"; }
hz=$(getconf CLK_TCK)
# decide_run -> "req/s requests server-cpu-seconds p99"
decide_run() {
  local c0 c1 out
  c0=$(cpu_ticks)
  out=$(CHARTER_TOKEN=$tok wrk -t2 -c64 -d"${secs}s" --latency -s bench/console/decide.lua \
        "http://127.0.0.1:$port")
  c1=$(cpu_ticks)
  echo "$out" | awk -v c="$((c1 - c0))" -v hz="$hz" '
    /Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} / requests in / {n=$1}
    END {printf "%.0f %d %.2f %s\n", rps, n, c / hz, p99}'
}
# Alone and browsing, twice each, alternating: the machine's other load
# drifts, and alternating spreads the drift over both.
sum_a=0; sum_b=0; n_a=0; cpu_a=0; n_b=0; cpu_b=0; calls=0
echo "browsing: one client, ${pause} s between calls"
printf '%-40s %8s %10s %12s %9s\n' "POST /v1/decide (wrk, 64 conns, ${secs}s)" "req/s" "decisions" "server CPU" "p99"
for round in 1 2; do
  read -r rps n cpu p99 < <(decide_run)
  printf '%-40s %8s %10s %10s s %9s\n' "alone ($round)" "$rps" "$n" "$cpu" "$p99"
  sum_a=$((sum_a + rps)); n_a=$((n_a + n)); cpu_a=$(echo "$cpu_a + $cpu" | bc)
  python3 bench/console/browse.py loop $port "$((secs + 2))" "$pause" > "$work/browse.out" &
  browse_pid=$!
  sleep 1
  read -r rps n cpu p99 < <(decide_run)
  wait "$browse_pid"; browse_pid=
  c=$(cat "$work/browse.out")
  printf '%-40s %8s %10s %10s s %9s\n' "while one client browses ($round: $c calls)" "$rps" "$n" "$cpu" "$p99"
  sum_b=$((sum_b + rps)); n_b=$((n_b + n)); cpu_b=$(echo "$cpu_b + $cpu" | bc); calls=$((calls + c))
done
awk -v a="$sum_a" -v b="$sum_b" 'BEGIN {printf "ratio browsing/alone (req/s, both rounds): %.2f (target >= 0.90)\n", b/a}'
# What the browsing left to the decisions: the server's CPU per decision
# in each kind of run (a browsing client that slowed the decide path itself,
# not only by taking CPU, would show here).
awk -v na="$n_a" -v ca="$cpu_a" -v nb="$n_b" -v cb="$cpu_b" -v calls="$calls" 'BEGIN {
  printf "server CPU per decision: %.0f us alone, %.0f us while browsing (%d browsing calls, CPU included)\n",
         ca / na * 1e6, cb / nb * 1e6, calls }'
[ -n "$build_s" ] && printf 'ledger built in %.0f s by bench_console_ledger; wrk at %s decisions/s would take %.0f s\n' \
    "$build_s" "$((sum_a / 2))" "$(echo "$decisions / ($sum_a / 2)" | bc -l)"
exit 0
