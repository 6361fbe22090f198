#!/usr/bin/env bash
# bench_http.sh - decisions per second over HTTP, every one durably recorded,
# beside this machine's loopback ceiling measured in the same run: nginx
# returning a fixed 200-byte JSON body. Both are driven by wrk with 64
# keep-alive connections for the same duration; p50/p99 latency from wrk.
# Then AuthZEN batches of 100 evaluations (4 connections) on the same
# server: evaluations per second and the latency of a whole batch. Last, how
# late the server applied the deadlines that passed meanwhile (the test
# charter's "quick" queue has a 1-second SLA; deadlines.py).
#
#   bash bench/http/bench_http.sh [SECONDS]      (default 10)
#
# Installs wrk, nginx-light and python3 from Debian, builds Charter (Release) in
# build-release/, and uses only 127.0.0.1. Prints one line per target and
# the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=64
threads=2
export DEBIAN_FRONTEND=noninteractive
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null || ! command -v python3 >/dev/null; then
  apt-get update -q >/dev/null &&
    apt-get install -y -q --no-install-recommends wrk nginx-light python3 >/dev/null
fi
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target charter_cli >/dev/null
bin=$PWD/build-release/charter
work=$(mktemp -d /tmp/charter-bench-http-XXXXXX)
cleanup() {
  [ -n "${nginx_pid:-}" ] && kill "$nginx_pid" 2>/dev/null || true
  [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wrk's summary -> "rps p50 p99"
summarize() {
  awk '/Requests\/sec/ {rps=$2}
       /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
       /Non-2xx/ {non2xx=$NF}
       END {printf "%s %s %s %s\n", rps, p50, p99, (non2xx==""?0:non2xx)}'
}

# ---- the ceiling: nginx, fixed 200-byte JSON body ----
body=$(printf '{"decision_id":"d-1","decision":"allow","reason":"default","explanation":"%s"}' \
       "$(head -c 124 /dev/zero | tr '\0' 'x')")
[ "${#body}" -eq 200 ] || { echo "body is ${#body} bytes, expected 200" >&2; exit 1; }
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGX
worker_processes $threads;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:18181;
    location / { default_type application/json; return 200 '$body'; }
  }
}
NGX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
sleep 1
read -r n_rps n_p50 n_p99 n_bad < <(wrk -t$threads -c$conns -d"${secs}s" --latency \
    http://127.0.0.1:18181/ | summarize)
kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=

# ---- charter serve: varied decide requests, durable ----
tok=$("$bin" keys agent --dir "$work/keys" --agent support-bot 2>/dev/null)
pep=$("$bin" keys pep --dir "$work/keys" --name bench-gateway 2>/dev/null)
"$bin" keys init --dir "$work/keys" >/dev/null 2>&1
"$bin" serve --charter tests/http/data/shop.yaml --ledger "$work/ledger.db" \
    --keys "$work/keys" --key "$work/keys/ledger.key" --listen 127.0.0.1:18182 \
    > "$work/serve.out" 2> "$work/serve.err" &
srv_pid=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
read -r c_rps c_p50 c_p99 c_bad < <(CHARTER_TOKEN=$tok wrk -t$threads -c$conns -d"${secs}s" \
    --latency -s bench/http/decide.lua http://127.0.0.1:18182 | summarize)
read -r a_rps a_p50 a_p99 a_bad < <(CHARTER_PEP_TOKEN=$pep wrk -t1 -c4 -d"${secs}s" \
    --latency -s bench/http/authzen_batch.lua http://127.0.0.1:18182 | summarize)
answered=$(curl -s http://127.0.0.1:18182/metrics | awk '/^charter_decisions_total/ {s+=$2} END {print s}')
batches=$(curl -s http://127.0.0.1:18182/metrics | awk '/^charter_ledger_commit_batch_size_(sum|count)/ {v[$1]=$2} END {if (v["charter_ledger_commit_batch_size_count"]>0) printf "%.1f", v["charter_ledger_commit_batch_size_sum"]/v["charter_ledger_commit_batch_size_count"]; else print "-"}')
kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=
recorded=$("$bin" export "$work/ledger.db" --format jsonl | grep -c '"kind":"decision"' || true)
verify=$("$bin" verify "$work/ledger.db" --key "$work/keys/ledger.pub" | head -1)
deadlines=$("$bin" export "$work/ledger.db" --format jsonl | python3 bench/http/deadlines.py)

printf '%-34s %12s %10s %10s %8s\n' "target ($conns conns, ${secs}s)" "req/s" "p50" "p99" "non-2xx"
printf '%-34s %12s %10s %10s %8s\n' "nginx fixed 200-byte JSON" "$n_rps" "$n_p50" "$n_p99" "$n_bad"
printf '%-34s %12s %10s %10s %8s\n' "charter serve POST /v1/decide" "$c_rps" "$c_p50" "$c_p99" "$c_bad"
awk -v c="$c_rps" -v n="$n_rps" 'BEGIN {printf "ratio charter/nginx: %.2f (target >= 0.50)\n", c/n}'
printf '%-34s %12s %10s %10s %8s\n' "AuthZEN batches of 100 (4 conns)" \
    "$(awk -v r="$a_rps" 'BEGIN {printf "%.0f", r * 100}') ev/s" "$a_p50" "$a_p99" "$a_bad"
echo "decisions answered: $answered; recorded in the ledger: $recorded; mean commit batch: $batches entries; verify: $verify"
echo "escalations with a 1-second SLA, $deadlines"
