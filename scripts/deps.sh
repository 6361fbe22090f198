#!/usr/bin/env bash
# deps.sh - installs the Debian 12 packages Charter builds with (libpq-dev
# for the PostgreSQL ledger, Python 3 for the example's webhook receiver in
# the README tour); with the argument "test", also what the test suite needs
# (postgresql for the test server tests/pg/pg.sh starts, curl for the HTTP tests,
# python3-aiosmtpd for the e-mail test's SMTP sink, openssl for its certificate,
# clang for the fuzzers, Python 3 for the HTTP tests, Node.js for the MCP
# peers and the console's browser tests, Debian's chromium for the latter).
# Run as root (or with sudo available). Safe to run again.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential cmake pkg-config ca-certificates
      libyaml-dev libjansson-dev libsodium-dev libssl-dev libpcre2-dev
      libsqlite3-dev libpq-dev libmicrohttpd-dev libcurl4-openssl-dev python3)
if [ "${1:-}" = test ]; then
  pkgs+=(postgresql curl clang libclang-rt-14-dev python3 python3-aiosmtpd openssl chromium)
  # Node.js for the MCP peers: Debian's nodejs + npm, unless a Node.js that
  # already carries npm is installed (its package conflicts with Debian's npm).
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${pkgs[@]}"
