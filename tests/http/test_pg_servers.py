"""test_pg_servers.py - two `charter serve` on one PostgreSQL ledger: which
charter each serves, and which one holds the lease.

Against two real servers on 127.0.0.1 and a database of the CTest fixture's
PostgreSQL (CHARTER_TEST_PG_DIR):

  - each /healthz names its server (--server-id), the backend postgresql, and
    exactly one of them says it holds the lease;
  - a reload (SIGHUP) on A with a new charter: B serves the new version
    within seconds, though B's own charter file still holds the old one (B
    loads it from the ledger's `charter` entry), and B's log says so; B's
    decisions follow the new charter;
  - a run's stop-rule budget holds across both servers deciding at once
    (decisions the other made stale are decided again), every answer 200;
  - only the lease holder writes notifications (an escalation opened on
    either server is in its outbox, in no other);
  - kill -9 of the lease holder: the other takes the lease within seconds,
    and writes the notifications from then on;
  - a third server started with the old charter file makes both serve the
    old version again (the last start or reload wins).

Every wait is bounded; skips (77) without the fixture's PostgreSQL.
"""
import os
import shutil
import collections
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SCALE, Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PG_SH = os.path.join(HERE, "..", "pg", "pg.sh")
SHOP = os.path.join(HERE, "data", "shop.yaml")
HOOK = "http://127.0.0.1:9/hook"  # the discard port: refused at once
t = Checks("http_pg_servers")


def health(srv):
    st, _, body = srv.call("GET", "/healthz", timeout=10 * SCALE)
    return body if st == 200 else {}


def wait_for(cond, within):
    deadline = time.monotonic() + within * SCALE
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def lease_gauge(srv):
    st, _, text = srv.call("GET", "/metrics", timeout=10 * SCALE)
    for line in (text if st == 200 and isinstance(text, str) else "").splitlines():
        if line.startswith("charter_lease_held "):
            return int(line.split()[1])
    return None


def notifications(srv, decision_id):
    st, _, body = srv.call("GET", "/v1/notifications?decision=%s" % decision_id,
                           token=srv.tokens["admin"], timeout=10 * SCALE)
    return body.get("notifications") if st == 200 else None


def refund(srv, amount):
    st, _, ans = srv.call("POST", "/v1/decide",
                          {"workflow": "refunds", "action": "issue_refund",
                           "input": {"amount": amount}, "run_id": "r%d" % time.time_ns()},
                          token=srv.tokens["support-bot"])
    return st, ans.get("decision") if isinstance(ans, dict) else ans


def main():
    pgdir = os.environ.get("CHARTER_TEST_PG_DIR")
    if not pgdir or not os.path.exists(os.path.join(pgdir, "url")):
        print("http_pg_servers: skipped: no PostgreSQL (CHARTER_TEST_PG_DIR)")
        sys.exit(77)
    name = "servers_%d_%d" % (os.getpid(), int(time.time() * 1000) % 1000000)
    url = subprocess.run([PG_SH, "createdb", pgdir, name], capture_output=True, text=True,
                         check=True, timeout=60 * SCALE).stdout.strip()
    d = tempfile.mkdtemp(prefix="charter-servers-")
    servers = []
    try:
        a_file, b_file = os.path.join(d, "a.yaml"), os.path.join(d, "b.yaml")
        with open(SHOP) as f:
            shop = f.read()
        # A notification target nobody listens at: what is owed stays in the
        # outbox of the server that wrote it.
        notifying = shop.replace("sla: 4h, on_timeout: deny}",
                                 "sla: 4h, on_timeout: deny, notify: '%s'}" % HOOK)
        for path in (a_file, b_file):
            with open(path, "w") as f:
                f.write(notifying)
        keys = os.path.join(d, "keys")

        def server(charter_file, sid):
            srv = Server(charter_file, agents=["support-bot"], ledger=url,
                         workdir=os.path.join(d, sid))
            os.makedirs(srv.dir, exist_ok=True)
            srv.keys = keys  # one keys file for every server
            srv.extra_args = ["--state-dir", srv.dir, "--server-id", sid]
            servers.append(srv)
            srv.start()
            if not srv.tokens:
                srv.tokens = servers[0].tokens
            return srv

        a = server(a_file, "A")
        b = server(b_file, "B")
        ha, hb = health(a), health(b)
        t.eq((ha.get("server"), hb.get("server")), ("A", "B"), "each /healthz names its server")
        t.eq((ha["ledger"]["backend"], hb["ledger"]["backend"]), ("postgresql", "postgresql"),
             "and the backend")
        leases = wait_for(lambda: [h["lease"] for h in (health(a), health(b))]
                          if sum(h.get("lease", False) for h in (health(a), health(b))) == 1
                          else None, 5)
        t.check(leases and sum(leases) == 1, "exactly one holds the lease: %r" % (leases,))
        gauges = [lease_gauge(x) for x in (a, b)]
        t.eq(sorted(gauges), [0, 1], "/metrics says the same (charter_lease_held)")
        old = ha["charter_version"]
        # Both servers deciding for one agent and run at once: decisions the
        # other server made stale are decided again (on a worker, not an
        # event thread) and the run's budget of 5 holds across both.
        answers = collections.Counter()
        lock = threading.Lock()

        def spend(srv, run):
            for _ in range(6):
                st, _, ans = srv.call("POST", "/v1/decide",
                                      {"workflow": "refunds", "action": "issue_refund",
                                       "input": {"amount": 1}, "run_id": run},
                                      token=a.tokens["support-bot"])
                with lock:
                    answers[(run, st, ans.get("decision") if isinstance(ans, dict) else ans)] += 1
        for run in ("budget-1", "budget-2"):
            threads = [threading.Thread(target=spend, args=(srv, run)) for srv in (a, b) * 3]
            for th in threads:
                th.start()
            for th in threads:
                th.join(timeout=60 * SCALE)
        t.eq(sorted(answers.items()),
             sorted({(r, 200, "allow"): 5 for r in ("budget-1", "budget-2")}.items() |
                    {(r, 200, "deny"): 31 for r in ("budget-1", "budget-2")}.items()),
             "a run's budget of 5 holds across two servers, every answer 200")
        st, _, esc = b.call("POST", "/v1/decide",
                            {"workflow": "refunds", "action": "issue_refund",
                             "input": {"amount": 120}, "run_id": "esc"},
                            token=b.tokens["support-bot"])
        t.eq((st, esc.get("decision")), (200, "escalate"),
             "B escalates a refund of 120 (over 100)")
        holder, other = (a, b) if health(a).get("lease") else (b, a)
        owed = wait_for(lambda: notifications(holder, esc["decision_id"]), 10)
        t.check(owed, "the lease holder writes the notification of an escalation opened "
                      "on either server")
        t.eq(notifications(other, esc["decision_id"]), [],
             "the other server writes none (each would send it otherwise)")

        with open(a_file) as f:
            text = f.read()
        with open(a_file, "w") as f:
            f.write(text.replace("input.amount > 100", "input.amount > 150"))
        a.signal(signal.SIGHUP)
        new = wait_for(lambda: health(a).get("charter_version") != old and
                       health(a).get("charter_version"), 10)
        t.check(new and new != old, "SIGHUP reloads A")
        got = wait_for(lambda: health(b).get("charter_version") == new, 10)
        t.check(got, "B serves A's new version (its own file still holds the old one)")
        t.eq(refund(b, 120), (200, "allow"), "B decides under the new charter")

        holder, other = (a, b) if health(a).get("lease") else (b, a)
        holder.kill()
        took = wait_for(lambda: health(other).get("lease"), 8)
        t.check(took, "the other server takes the lease after kill -9 of its holder")
        again = wait_for(lambda: notifications(other, esc["decision_id"]), 10)
        t.check(again, "and writes the notifications from then on")
        t.eq([n["id"] for n in again or []], [n["id"] for n in owed or []],
             "with the same ids, so receivers de-duplicate what both wrote")

        c = server(b_file, "C")
        back = wait_for(lambda: health(other).get("charter_version") == old and
                        health(c).get("charter_version") == old, 10)
        t.check(back, "a server started with the old file makes the others serve it again")

        for srv in servers:
            if srv.proc.poll() is None:
                t.eq(srv.stop(), 0, "server %s stops cleanly" % srv.extra_args[-1])
        log = b.stderr_text()
        t.check("charter: now serving %s (loaded by A)" % new in log,
                "B's log says it serves the version A loaded: %r" % log[-600:])
    finally:
        for srv in servers:
            srv.kill()
        shutil.rmtree(d, ignore_errors=True)
    t.done()


main()
