#!/usr/bin/env bash
# bench_pg.sh - durable decisions per second over HTTP with the ledger in
# SQLite, in PostgreSQL, and in PostgreSQL shared by two servers: the same
# varied /v1/decide load as bench_http.sh (decide.lua, wrk, 64 keep-alive
# connections, every decision durable before it is answered), in the same
# run, three times:
#
#   sqlite  one `charter serve` on a SQLite file (the embedded default)
#   pg1     one `charter serve` on a PostgreSQL database
#   pg2     two `charter serve` on one PostgreSQL database, the load split
#           between them (two wrk, 32 connections each, at once; the same
#           agent on both, each wrk with runs of its own)
#   pg2x    the same, but each server's load is for an agent of its own
#           (support-bot on one, other-bot on the other): no decision of one
#           server reads counters the other changes, so none is decided
#           again; the difference to pg2 is what such conflicts cost
#
# For each: decisions per second, per server CPU-second (utime + stime of
# the charter processes from /proc/PID/stat over the run), p99 latency, the
# PostgreSQL backends' CPU over the run (the postmaster's children, from
# /proc) and its commits per second (pg_stat_database.xact_commit), the
# mean entries per ledger commit (charter_ledger_commit_batch_size from
# /metrics), and whether every answered decision is in the ledger and the
# ledger verifies. Then the ratios pg1/sqlite and pg2/sqlite.
#
#   bash bench/pg/bench_pg.sh [SECONDS]      (default 10)
#
# Needs PostgreSQL's server binaries (Debian `postgresql`) and libpq
# (`libpq-dev`, to build Charter); installs wrk when absent; builds Charter
# (Release) in build-release/; starts its own PostgreSQL with tests/pg/pg.sh
# in a temporary folder (fsync and synchronous_commit on) and stops it at
# the end. Uses only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=64
export DEBIAN_FRONTEND=noninteractive
if ! command -v wrk >/dev/null || ! command -v psql >/dev/null; then
  apt-get update -q >/dev/null &&
    apt-get install -y -q --no-install-recommends wrk postgresql-client >/dev/null
fi
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target charter_cli >/dev/null
bin=$PWD/build-release/charter
work=$(mktemp -d /tmp/charter-bench-pg-XXXXXX)
chmod 755 "$work"  # pg.sh runs PostgreSQL as the user postgres, in $work/pg
pgdir=$work/pg
pids=()
pg_started=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$pg_started" ] && bash tests/pg/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)

bash tests/pg/pg.sh start "$pgdir" > "$work/pg.out"
pg_started=1

ticks() { local s=0 p; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$s"; }
# The postmaster and every process it started (backends, checkpointer,
# WAL writer...): their CPU is what PostgreSQL spent.
pg_pids() {
  local pm
  pm=$(head -1 "$(find "$pgdir" -name postmaster.pid | head -1)")
  echo "$pm" $(ps -o pid= --ppid "$pm")
}
pg_ticks() { ticks $(pg_pids); }
commits() { psql "$1" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
metric_sum() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m {s += $2} END {print s + 0}'; }
# decisions answered (allow, deny, escalate: not the 503s)
answered_by() { curl -s "$1/metrics" | awk '/^charter_decisions_total/ && !/ledger_unavailable/ {s += $2} END {print s + 0}'; }
# wrk's summary -> "rps p99"
summarize() { awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}'; }

"$bin" keys init --dir "$work/keys" >/dev/null 2>&1
tok=$("$bin" keys agent --dir "$work/keys" --agent support-bot 2>/dev/null)
tok2=$("$bin" keys agent --dir "$work/keys" --agent other-bot 2>/dev/null)

# serve NAME LEDGER PORT -> starts one server, its pid in $srv
serve() {
  local name=$1 ledger=$2 port=$3
  mkdir -p "$work/$name"
  CHARTER_STATE_DIR=$work/$name "$bin" serve --charter tests/http/data/shop.yaml \
      --ledger "$ledger" --keys "$work/keys" --key "$work/keys/ledger.key" \
      --server-id "$name" --listen "127.0.0.1:$port" \
      > "$work/$name/serve.out" 2> "$work/$name/serve.err" &
  srv=$!
  pids+=("$srv")
  for _ in $(seq 100); do grep -q listening "$work/$name/serve.out" 2>/dev/null && return; sleep 0.1; done
  echo "charter serve $name did not start: $(cat "$work/$name/serve.err")" >&2
  exit 1
}

# run MODE LEDGER PORT... -> prints the row; one server per port, the
# connections split evenly between them. With split_agents=1 the second
# server's load is other-bot's.
split_agents=0
run() {
  local mode=$1 ledger=$2; shift 2
  local ports=("$@") srvs=() k=0 port
  for port in "${ports[@]}"; do
    k=$((k + 1))
    serve "$mode-$k" "$ledger" "$port"
    srvs+=("$srv")
  done
  local per=$((conns / ${#ports[@]})) threads=$((2 / ${#ports[@]}))
  [ "$threads" -ge 1 ] || threads=1
  local c0 p0 x0=0 x1=0 c1 p1
  case "$ledger" in postgres*) x0=$(commits "$ledger") ;; esac
  c0=$(ticks "${srvs[@]}"); p0=$(pg_ticks)
  local loads=()
  k=0
  for port in "${ports[@]}"; do
    k=$((k + 1))
    local t=$tok a=support-bot
    if [ "$split_agents" = 1 ] && [ "$k" = 2 ]; then t=$tok2; a=other-bot; fi
    CHARTER_TOKEN=$t CHARTER_AGENT=$a CHARTER_RUN_PREFIX="s$k-" wrk -t"$threads" -c"$per" -d"${secs}s" --latency \
        -s bench/http/decide.lua "http://127.0.0.1:$port" > "$work/$mode.wrk$k" &
    loads+=($!)
  done
  wait "${loads[@]}"
  c1=$(ticks "${srvs[@]}"); p1=$(pg_ticks)
  case "$ledger" in postgres*) x1=$(commits "$ledger") ;; esac
  local rps=0 p99="" r p answered=0 bsum=0 bcount=0
  k=0
  for port in "${ports[@]}"; do
    k=$((k + 1))
    read -r r p < <(summarize < "$work/$mode.wrk$k")
    rps=$(echo "$rps + $r" | bc)
    p99="$p99${p99:+/}$p"
    answered=$((answered + $(answered_by "http://127.0.0.1:$port")))
    bsum=$(echo "$bsum + $(metric_sum "http://127.0.0.1:$port" charter_ledger_commit_batch_size_sum)" | bc)
    bcount=$(echo "$bcount + $(metric_sum "http://127.0.0.1:$port" charter_ledger_commit_batch_size_count)" | bc)
  done
  for p in "${srvs[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null || true; done
  local cpu pgcpu recorded verify
  cpu=$(echo "scale=3; ($c1 - $c0) / $hz" | bc)
  pgcpu=$(echo "scale=3; ($p1 - $p0) / $hz" | bc)
  recorded=$("$bin" export "$ledger" --format jsonl | grep -c '"kind":"decision"' || true)
  verify=$("$bin" verify "$ledger" --key "$work/keys/ledger.pub" >/dev/null 2>&1 && echo ok || echo FAILED)
  local per_cpu commits_s batch
  per_cpu=$(echo "$answered / $cpu" | bc)
  commits_s=$( [ "$x1" -gt 0 ] && echo "($x1 - $x0) / $secs" | bc || echo -)
  batch=$( [ "$(echo "$bcount > 0" | bc)" = 1 ] && echo "scale=1; $bsum / $bcount" | bc || echo -)
  printf '%-7s %9.0f %11s %12s %7s %9s %9s %8s %10s %s\n' "$mode" "$rps" "$per_cpu" "$p99" \
      "$cpu" "$pgcpu" "$commits_s" "$batch" "$answered/$recorded" "$verify"
  echo "$rps" > "$work/$mode.rps"
  echo "$per_cpu" > "$work/$mode.cpu"
}

url1=$(bash tests/pg/pg.sh createdb "$pgdir" bench_one | tail -1)
url2=$(bash tests/pg/pg.sh createdb "$pgdir" bench_two | tail -1)
url3=$(bash tests/pg/pg.sh createdb "$pgdir" bench_two_agents | tail -1)
echo "decisions over HTTP ($conns conns, ${secs}s each, the same load; every answer durable)"
printf '%-7s %9s %11s %12s %7s %9s %9s %8s %10s %s\n' mode "req/s" "req/cpu-s" "p99" \
    "srv-cpu" "pg-cpu" "commits/s" "batch" "ans/rec" verify
run sqlite "$work/ledger.db" 18195
run pg1 "$url1" 18196
run pg2 "$url2" 18197 18198
split_agents=1 run pg2x "$url3" 18199 18200
awk -v s="$(cat "$work/sqlite.rps")" -v p1="$(cat "$work/pg1.rps")" -v p2="$(cat "$work/pg2.rps")" \
    -v sc="$(cat "$work/sqlite.cpu")" -v c1="$(cat "$work/pg1.cpu")" -v c2="$(cat "$work/pg2.cpu")" \
    -v px="$(cat "$work/pg2x.rps")" \
    'BEGIN {printf "ratio pg1/sqlite: %.2f req/s, %.2f req/cpu-s; pg2/sqlite: %.2f req/s, %.2f req/cpu-s; pg2/pg1: %.2f req/s; pg2x/pg1: %.2f req/s\n",
            p1/s, c1/sc, p2/s, c2/sc, p2/p1, px/p1}'
