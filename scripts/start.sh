#!/usr/bin/env bash
# start.sh - the first README command: installs what Charter needs, builds it
# (Release) and runs the main job on the example fintech charter: validate
# it, run its tests, decide sample requests and print an agent's brief.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ex=examples/fintech-support
echo
echo "== charter check $ex/charter"
./build/charter check "$ex/charter"
echo
echo "== charter test $ex/tests"
./build/charter test "$ex/tests"
echo
for req in "$ex"/requests/*.json; do
  echo "== charter decide --charter $ex/charter $req"
  ./build/charter decide --pretty --charter "$ex/charter" "$req"
done
