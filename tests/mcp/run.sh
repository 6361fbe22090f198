#!/bin/sh
# run.sh TEST.mjs - runs one MCP peer test with Node's test runner, after
# installing this folder's packages from package-lock.json (npm ci, only when
# the lock changed since the last install). Exits 77 (ctest: skipped) when
# Node.js or npm is absent.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: Node.js and npm are needed for the MCP peer tests (scripts/deps.sh test installs them)"
  exit 77
fi
stamp="$dir/node_modules/.charter-lock.sha256"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
(
  flock 9
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
) 9>"${TMPDIR:-/tmp}/charter-mcp-npm.lock"
exec node --test --test-reporter=spec "$dir/$1"
