"""browse.py - the console's calls against a running `charter serve`, for
bench_console.sh: their latency, or a browsing client looping over them.

    python3 browse.py latency PORT [N]      p50/p95 of each call (N samples, default 40)
    python3 browse.py loop PORT SECONDS [PAUSE]
                                            a client calling them in turn, PAUSE
                                            seconds apart (default 0), for SECONDS

With CHARTER_BENCH_SERVER_PID set, latency also prints the server's CPU
time per call (from /proc). Tokens come from the environment: CHARTER_APPROVER_TOKEN (the inbox: an
approver of every queue) and CHARTER_AUDITOR_TOKEN (decisions). The ledger is
bench_console_ledger's: agents agent-00 .. agent-23, decisions over the 30
days before it was built. A call answered 404 is an endpoint this build does
not have: it is printed "not available" and left out of the loop. Standard
library only; 127.0.0.1 only.
"""
import http.client
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone

APPROVER = os.environ.get("CHARTER_APPROVER_TOKEN", "")
AUDITOR = os.environ.get("CHARTER_AUDITOR_TOKEN", "")
DEEP_PAGES = 20          # the deep page is the one after following `next` this often
PAGE = 50


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def get(self, path, token):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request("GET", path, headers={"Authorization": "Bearer " + token})
                r = self.conn.getresponse()
                body = r.read()
                return r.status, body
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt:
                    raise
        return 0, b""


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def search_path(before=None):
    now = datetime.now(timezone.utc)
    since, until = rfc3339(now - timedelta(days=20)), rfc3339(now - timedelta(days=10))
    p = "/v1/decisions?agent=agent-07&since=%s&until=%s&limit=%d" % (since, until, PAGE)
    return p + ("&before=" + before if before else "")


def deep_path(c):
    """Follows `next` DEEP_PAGES times; the path of the page reached, or None."""
    path = search_path()
    for _ in range(DEEP_PAGES):
        st, body = c.get(path, AUDITOR)
        if st != 200:
            return None
        nxt = json.loads(body).get("next")
        if not nxt:
            return None
        path = search_path(nxt)
    return path


def decision_path():
    return "/v1/decisions/d-%d" % random.randint(2, 1000000)


def calls(c):
    """(name, token, path-maker) of each console call this server answers."""
    out = [("inbox: escalations?detail=1&sort=deadline&limit=100", APPROVER,
            lambda: "/v1/escalations?detail=1&sort=deadline&limit=100"),
           ("decision search, first page", AUDITOR, search_path)]
    st, _ = c.get(search_path(), AUDITOR)
    deep = deep_path(c) if st == 200 else None
    out.append(("decision search, page %d" % (DEEP_PAGES + 1), AUDITOR,
                (lambda: deep) if deep else (lambda: None)))
    out.append(("a decision's page /v1/decisions/d-N", AUDITOR, decision_path))
    return out


def server_cpu():
    """The server's CPU seconds so far (user + system), or None."""
    pid = os.environ.get("CHARTER_BENCH_SERVER_PID")
    try:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


def latency(port, n):
    c = Client(port)
    for name, token, make in calls(c):
        path = make()
        if path is None or (make is not decision_path and c.get(path, token)[0] == 404):
            print("%-52s not available" % name)
            continue
        ts, bad = [], 0
        cpu0 = server_cpu()
        for _ in range(n):
            path = make()
            t0 = time.perf_counter()
            st, _ = c.get(path, token)
            ts.append(time.perf_counter() - t0)
            bad += st != 200
        cpu1 = server_cpu()
        ts.sort()
        cpu = " server CPU %5.1f ms/call" % ((cpu1 - cpu0) / n * 1e3) if cpu0 is not None else ""
        print("%-52s p50 %7.1f ms  p95 %7.1f ms %s (%d calls, %d not 200)" % (
            name, ts[len(ts) // 2] * 1e3, ts[min(len(ts) - 1, int(len(ts) * 0.95))] * 1e3,
            cpu, len(ts), bad))
        sys.stdout.flush()


def loop(port, secs, pause):
    c = Client(port)
    avail = []
    for name, token, make in calls(c):
        path = make()
        if path is not None and (make is decision_path or c.get(path, token)[0] != 404):
            avail.append((token, make))
    end = time.time() + secs
    n = 0
    while time.time() < end:
        for token, make in avail:
            c.get(make(), token)
            n += 1
            if pause:
                time.sleep(pause)
    print(n)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "latency":
        latency(port, int(sys.argv[3]) if len(sys.argv) > 3 else 40)
    elif mode == "loop":
        loop(port, float(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0)
    else:
        sys.exit("usage: browse.py latency PORT [N] | loop PORT SECONDS [PAUSE]")


if __name__ == "__main__":
    main()
