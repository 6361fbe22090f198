#!/usr/bin/env bash
# bench_notify.sh - what notifications cost a decision, and how fast they
# go out. The same varied /v1/decide load as bench_http.sh (decide.lua, wrk,
# 64 keep-alive connections, every decision durable; a share of them
# escalate) against `charter serve` three times:
#
#   none    the test charter as it is: its queues notify nobody
#   accept  both queues notify a local receiver that answers at once
#   hang    the same receiver, but it never answers (a dead receiver)
#
# For each: decisions per second, per server CPU-second (utime + stime from
# /proc/PID/stat over the run), p99 latency; then the escalations and the
# notifications the outbox owed, and for `accept` the time the outbox took
# to drain after the load stopped and how long after its decision each
# message reached the receiver (p50/p99/max). The ratios accept/none and
# hang/none say what notifications cost the decisions.
#
#   bash bench/notify/bench_notify.sh [SECONDS]      (default 10)
#
# Installs wrk and python3 from Debian, builds Charter (Release) in
# build-release/, and uses only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=64
threads=2
export DEBIAN_FRONTEND=noninteractive
if ! command -v wrk >/dev/null || ! command -v python3 >/dev/null; then
  apt-get update -q >/dev/null &&
    apt-get install -y -q --no-install-recommends wrk python3 >/dev/null
fi
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target charter_cli >/dev/null
bin=$PWD/build-release/charter
work=$(mktemp -d /tmp/charter-bench-notify-XXXXXX)
srv_pid=; rcv_pid=
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
  [ -n "$rcv_pid" ] && kill "$rcv_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
rport=18190
sport=18191
base=http://127.0.0.1:$sport

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() { curl -s "$base/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# wrk's summary -> "rps p99"
summarize() { awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}'; }

# run MODE -> prints the row
run() {
  local mode=$1 dir=$work/$1
  mkdir -p "$dir"
  if [ "$mode" = none ]; then
    cp tests/http/data/shop.yaml "$dir/charter.yaml"
  else
    sed "s|on_timeout: deny}|on_timeout: deny, notify: \"http://127.0.0.1:$rport/hook\"}|" \
        tests/http/data/shop.yaml > "$dir/charter.yaml"
    grep -q "notify:" "$dir/charter.yaml" || { echo "no queue got a notify" >&2; exit 1; }
    python3 bench/notify/receiver.py "$rport" "$mode" "$dir/receiver.out" > "$dir/rcv.log" &
    rcv_pid=$!
    for _ in $(seq 50); do grep -q listening "$dir/rcv.log" 2>/dev/null && break; sleep 0.1; done
  fi
  "$bin" keys init --dir "$dir/keys" >/dev/null 2>&1
  local tok
  tok=$("$bin" keys agent --dir "$dir/keys" --agent support-bot 2>/dev/null)
  "$bin" keys webhook --dir "$dir/keys" --queue leads >/dev/null 2>&1
  "$bin" keys webhook --dir "$dir/keys" --queue quick >/dev/null 2>&1
  "$bin" serve --charter "$dir/charter.yaml" --ledger "$dir/ledger.db" \
      --keys "$dir/keys" --key "$dir/keys/ledger.key" --listen "127.0.0.1:$sport" \
      --notify-retry-base 1s > "$dir/serve.out" 2> "$dir/serve.err" &
  srv_pid=$!
  for _ in $(seq 50); do grep -q listening "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
  local c0 c1 rps p99 answered esc
  c0=$(cpu_ticks "$srv_pid")
  read -r rps p99 < <(CHARTER_TOKEN=$tok wrk -t$threads -c$conns -d"${secs}s" --latency \
      -s bench/http/decide.lua "$base" | summarize)
  c1=$(cpu_ticks "$srv_pid")
  answered=$(curl -s "$base/metrics" | awk '/^charter_decisions_total/ {s+=$2} END {print s}')
  esc=$(metric 'charter_decisions_total{result="escalate"}')
  local drain=- owed=0 pending=0 t0
  if [ "$mode" != none ]; then
    t0=$(date +%s.%N)
    if [ "$mode" = accept ]; then
      for _ in $(seq 600); do
        pending=$(metric charter_notifications_pending)
        [ "${pending:-1}" = 0 ] && break
        sleep 0.1
      done
      drain=$(echo "$(date +%s.%N) - $t0" | bc | awk '{printf "%.1f s", $1}')
    else
      sleep 1
    fi
    pending=$(metric charter_notifications_pending)
    owed=$(( $(metric charter_notifications_delivered_total) + pending ))
  fi
  kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=
  local got="-"
  if [ -n "$rcv_pid" ]; then
    kill -TERM "$rcv_pid"; wait "$rcv_pid" 2>/dev/null || true; rcv_pid=
    [ "$mode" = accept ] && got=$(cat "$dir/receiver.out")
  fi
  local cpu
  cpu=$(echo "scale=3; ($c1 - $c0) / $hz" | bc)
  printf '%-7s %9s %11s %8s %9s %8s %9s %8s %s\n' "$mode" "$rps" \
      "$(echo "$answered / $cpu" | bc)" "$p99" "${esc:-0}" "$owed" "${pending:-0}" "$drain" "$got"
  echo "$rps" > "$work/$mode.rps"
  echo "$(echo "$answered / $cpu" | bc)" > "$work/$mode.cpu"
}

echo "decisions over HTTP ($conns conns, ${secs}s each); received = messages distinct-ids lag-p50/p99/max ms"
printf '%-7s %9s %11s %8s %9s %8s %9s %8s %s\n' mode "req/s" "req/cpu-s" p99 \
    escalated owed pending drain received
run none
run accept
run hang
awk -v n="$(cat "$work/none.rps")" -v a="$(cat "$work/accept.rps")" \
    -v h="$(cat "$work/hang.rps")" -v nc="$(cat "$work/none.cpu")" \
    -v ac="$(cat "$work/accept.cpu")" -v hc="$(cat "$work/hang.cpu")" \
    'BEGIN {printf "ratio accept/none: %.2f req/s, %.2f req/cpu-s; hang/none: %.2f req/s, %.2f req/cpu-s\n",
            a/n, ac/nc, h/n, hc/nc}'
