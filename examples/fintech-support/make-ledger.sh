#!/usr/bin/env bash
# make-ledger.sh [CHARTER_BIN [LEDGER]] - a small ledger of Northwind Pay's
# support agent over four days (23-26 November 2026), made with the
# `charter` command alone, for trying `charter report` and `charter map`:
# every day small refunds (allowed), a 400 EUR refund (escalated to the team
# leads), a refund to a different card (denied by the AML boundary), and the
# day's outcome reports for the `resolve-fast-keep-trust` goal: resolution
# time falls from 5.5 to 3.6 hours while satisfaction and repeat contacts
# get worse every day.
set -eu
bin=${1:-./build/charter}
ledger=${2:-northwind.ledger}
dir=$(cd "$(dirname "$0")" && pwd)
charter="$dir/charter"
rm -f "$ledger" "$ledger-wal" "$ledger-shm"

decide() { # day amount destination run
  "$bin" decide --charter "$charter" --ledger "$ledger" \
    "{\"agent\":\"support-agent\",\"workflow\":\"refunds\",\"action\":\"issue_refund\",
      \"input\":{\"amount\":$2,\"currency\":\"EUR\",\"destination\":\"$3\"},
      \"subject\":{\"customer_id\":\"c-$4\",\"tenure_years\":3,\"original_payment_method\":\"card-1\"},
      \"confidence\":0.9,\"run_id\":\"chat-$4\",\"time\":\"2026-11-$1T10:00:00Z\"}" > /dev/null
}

outcome() { # day metric value
  "$bin" outcome "$ledger" --workflow refunds --from "2026-11-$1" \
    --to "2026-11-$(( $1 + 1 ))" --metric "$2" --value "$3" > /dev/null
}

day=23
for r in "5.5 4.6 0.05" "4.8 4.5 0.06" "4.1 4.35 0.07" "3.6 4.2 0.09"; do
  set -- $r
  for i in 1 2 3 4 5 6; do decide $day 35 card-1 "$day$i"; done
  decide $day 400 card-1 "${day}7"
  decide $day 120 card-9 "${day}8"
  outcome $day resolution_time_hours "$1"
  outcome $day csat "$2"
  outcome $day repeat_contact_rate "$3"
  outcome $day monthly_churn_rate 0.012
  day=$(( day + 1 ))
done
echo "$ledger: 32 decisions and 16 outcome reports"
