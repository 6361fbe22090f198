"""deadlines.py - how late the server applied escalation deadlines, from a
ledger export (bench/http/bench_http.sh): for every escalation resolved by
its deadline, the resolution's time minus the deadline the decision gave.

    charter export LEDGER --format jsonl | python3 bench/http/deadlines.py
"""
import json
import sys
from datetime import datetime


def ms(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


deadline = {}
late = []
for line in sys.stdin:
    e = json.loads(line)
    p = e["payload"]
    if e["kind"] == "decision":
        esc = p.get("answer", {}).get("escalation") or {}
        if esc.get("deadline"):
            deadline["d-%d" % e["seq"]] = ms(esc["deadline"])
    elif e["kind"] == "escalation_resolved" and p.get("timeout"):
        due = deadline.get(p["decision_id"])
        if due is not None:
            late.append(p["time_ms"] - due)
late.sort()
if late:
    pick = lambda q: late[min(len(late) - 1, int(len(late) * q))]
    print("deadlines applied: %d; late by p50 %d ms, p99 %d ms, max %d ms"
          % (len(late), pick(0.5), pick(0.99), late[-1]))
else:
    print("deadlines applied: 0")
