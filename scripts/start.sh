#!/usr/bin/env bash
# start.sh - the first README command: installs what Charter needs, builds it
# (Release), checks and tests the example fintech charter, and starts the
# main job: `charter serve` on it, with an embedded SQLite ledger, on
# 127.0.0.1:8080 (CHARTER_LISTEN overrides). Keys and the ledger live in
# ./charter-data (created on the first run; the tokens are printed then and
# kept in charter-data/tokens.txt, mode 0600). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ex=examples/fintech-support
bin=./build/charter
echo
echo "== charter check $ex/charter"
"$bin" check "$ex/charter"
echo
echo "== charter test $ex/tests"
"$bin" test "$ex/tests"

data=charter-data
if [ ! -f "$data/keys/access.json" ]; then
  mkdir -p "$data"
  "$bin" keys init --dir "$data/keys" >/dev/null
  umask 077
  {
    echo "AGENT_TOKEN=$("$bin" keys agent --dir "$data/keys" --agent support-agent 2>/dev/null)"
    echo "APPROVER_TOKEN=$("$bin" keys approver --dir "$data/keys" \
        --name lena.park@northwindpay.example --queue support-leads \
        --queue support-managers --role support-lead 2>/dev/null)"
    echo "ADMIN_TOKEN=$("$bin" keys admin --dir "$data/keys" --name ops 2>/dev/null)"
    echo "AUDITOR_TOKEN=$("$bin" keys auditor --dir "$data/keys" --name audit 2>/dev/null)"
  } > "$data/tokens.txt"
  echo
  echo "== access tokens (kept in $data/tokens.txt; only their hashes are in $data/keys)"
  cat "$data/tokens.txt"
fi
# The secret that signs support-leads' webhook notifications (the README
# tour's receiver checks it); made once, kept with the tokens.
if [ ! -f "$data/keys/webhooks.json" ]; then
  umask 077
  echo "WEBHOOK_SECRET=$("$bin" keys webhook --dir "$data/keys" --queue support-leads \
      2>/dev/null)" >> "$data/tokens.txt"
  echo
  echo "== the support-leads webhook's secret (also kept in $data/tokens.txt)"
  grep '^WEBHOOK_SECRET=' "$data/tokens.txt"
fi
echo
echo "== charter serve: the console is at http://${CHARTER_LISTEN:-127.0.0.1:8080}/ (sign in"
echo "   with a token above); the README's tour shows what to send it; Ctrl-C stops it"
exec "$bin" serve --charter "$ex/charter" --ledger "$data/ledger.db" \
  --keys "$data/keys" --key "$data/keys/ledger.key" \
  --listen "${CHARTER_LISTEN:-127.0.0.1:8080}"
