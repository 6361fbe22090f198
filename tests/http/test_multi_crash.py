"""test_multi_crash.py - two `charter serve` on one PostgreSQL ledger lose
nothing when one of them, or PostgreSQL itself, dies under load (issue 16).

The script starts a PostgreSQL of its own (tests/pg/pg.sh start in a
temporary folder: it stops it abruptly, which the shared ctest fixture must
not see) and runs two cases, each with two servers on a fresh database, one
keys folder and one ledger key, agents deciding on both and an approver
resolving escalations on both:

  - kill -9 one server under load: the other keeps answering (decisions
    acknowledged after the kill), every acknowledged decision and resolution
    is in the ledger with the answer that was given, seqs are gapless, and
    `charter verify --key` passes;
  - `pg.sh immediate` (PostgreSQL stopped with -m immediate) under load: while
    it is down no decision is acknowledged, the servers answer 503 with a
    deny (ledger_unavailable) and /healthz is 503; after `pg.sh restart` both
    serve again without a restart of their own, and nothing acknowledged
    before, during or after is missing from the ledger, which verifies.

Every wait has a deadline; loopback only.
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SCALE, Checks, Server, charter_cli, pg_createdb, pg_dir,  # noqa: E402
                     pg_sh)

HERE = os.path.dirname(os.path.abspath(__file__))
CHARTER = os.path.join(HERE, "data", "multi.yaml")
t = Checks("http_multi_crash")
APPROVERS = {"lena": (["leads", "quick"], ["support-lead"])}


def wait_until(pred, timeout, step=0.1):
    deadline = time.time() + timeout * SCALE
    while True:
        got = pred()
        if got or time.time() >= deadline:
            return got
        time.sleep(step)


class Load:
    """Agents deciding on every server, an approver resolving on every
    server, until stopped. Each answer is kept with when its request started
    and ended."""

    def __init__(self, servers, tag):
        self.servers = servers
        self.tag = tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers = []        # (server_id, start, end, status, body)
        self.resolved = {}       # decision id -> "approved" | "denied"
        self.open = []
        self.threads = []

    def agent(self, srv, k):
        n = 0
        while not self.stop.is_set():
            n += 1
            body = {"agent": "support-bot", "workflow": "refunds", "action": "issue_refund",
                    "input": {"amount": 500 if n % 4 == 0 else 10},
                    "run_id": "%s-%s-%d-%d" % (self.tag, srv.server_id, k, n // 4)}
            t0 = time.time()
            try:
                st, _, ans = srv.call("POST", "/v1/decide", body,
                                      token=srv.tokens["support-bot"], timeout=5)
            except (OSError, ValueError):
                st, ans = None, None
                if srv.proc.poll() is not None:
                    return  # this server died: its requests are unacknowledged
                time.sleep(0.05)
            with self.lock:
                self.answers.append((srv.server_id, t0, time.time(), st,
                                     ans if isinstance(ans, dict) else {}))
                if st == 200 and ans.get("decision") == "escalate":
                    self.open.append(ans["decision_id"])
            if st != 200:
                time.sleep(0.02)

    def approver(self):
        n = 0
        while not self.stop.is_set():
            with self.lock:
                did = self.open.pop(0) if self.open else None
            if not did:
                time.sleep(0.01)
                continue
            n += 1
            live = [s for s in self.servers if s.proc.poll() is None]
            if not live:
                return
            srv = live[n % len(live)]
            res = "approve" if n % 2 else "deny"
            try:
                st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % did,
                                    {"resolution": res, "note": "crash test"},
                                    token=srv.tokens["lena"], timeout=5)
            except (OSError, ValueError):
                continue  # may or may not be recorded: neither open nor resolved
            with self.lock:
                if st == 200:
                    self.resolved[did] = "approved" if res == "approve" else "denied"
                elif st == 409:
                    pass  # not open on that server (yet): leave it
                else:
                    self.open.append(did)

    def start(self):
        for srv in self.servers:
            for k in range(3):
                th = threading.Thread(target=self.agent, args=(srv, k), daemon=True)
                th.start()
                self.threads.append(th)
        th = threading.Thread(target=self.approver, daemon=True)
        th.start()
        self.threads.append(th)

    def join(self):
        self.stop.set()
        for th in self.threads:
            th.join(15 * SCALE)

    def acked(self):
        """decision id -> decision, for every 200."""
        return {b["decision_id"]: b["decision"] for (_, _, _, st, b) in self.answers
                if st == 200}


def check_ledger(what, srv, load):
    """Every acknowledged decision and resolution is in the ledger as
    answered; seqs gapless; verify --key passes."""
    out = charter_cli("export", srv.ledger, "--format", "jsonl").stdout
    entries = [json.loads(line) for line in out.splitlines() if line.strip()]
    seqs = [e["seq"] for e in entries]
    t.eq(seqs, list(range(1, len(seqs) + 1)), "%s: seqs are gapless" % what)
    decisions = {"d-%d" % e["seq"]: e["payload"]["answer"]["decision"]
                 for e in entries if e["kind"] == "decision"}
    acked = load.acked()
    t.check(len(acked) > 0, "%s: decisions were acknowledged (%d)" % (what, len(acked)))
    missing = [d for d in acked if d not in decisions]
    t.eq(missing, [], "%s: every acknowledged decision is in the ledger (%d)"
         % (what, len(acked)))
    wrong = [d for d, v in acked.items() if d in decisions and decisions[d] != v]
    t.eq(wrong, [], "%s: with the answer the agent got" % what)
    resolutions = {}
    for e in entries:
        if e["kind"] == "escalation_resolved":
            resolutions.setdefault(e["payload"]["decision_id"], []).append(
                e["payload"]["resolution"])
    lost = [d for d, how in load.resolved.items()
            if resolutions.get(d) != [{"approved": "approve", "denied": "deny"}[how]]]
    t.eq(lost, [], "%s: every acknowledged resolution is in the ledger, once (%d)"
         % (what, len(load.resolved)))
    v = charter_cli("verify", srv.ledger, "--key", os.path.join(srv.keys, "ledger.pub"),
                    check=False)
    t.eq(v.returncode, 0, "%s: the ledger verifies: %s" % (what, (v.stdout + v.stderr).strip()))


def pair(work, name, pgdir):
    d = os.path.join(work, name)
    os.makedirs(d)
    a = Server(CHARTER, agents=["support-bot"], approvers=APPROVERS,
               ledger=pg_createdb(name, pgdir), workdir=d, sign=True,
               server_id=name + "-a")
    a.start()
    b = a.sibling(server_id=name + "-b")
    b.start()
    return a, b


def test_kill_one(work, pgdir, servers):
    a, b = pair(work, "kill", pgdir)
    servers += [a, b]
    load = Load([a, b], "kill")
    load.start()
    time.sleep(1.5)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    t_kill = time.time()
    time.sleep(2.0)
    load.join()
    after = [x for x in load.answers if x[0] == b.server_id and x[1] > t_kill]
    ok_after = [x for x in after if x[3] == 200]
    t.check(len(ok_after) > 0 and len(ok_after) >= 0.9 * len(after),
            "B keeps serving after kill -9 of A: %d of %d answered 200"
            % (len(ok_after), len(after)))
    st, _ = b.healthz()
    t.eq(st, 200, "B is healthy after A's death")
    t.eq(b.stop(), 0, "B stops cleanly")
    check_ledger("kill -9 of one server", b, load)


def test_pg_immediate(work, pgdir, servers):
    a, b = pair(work, "immediate", pgdir)
    servers += [a, b]
    load = Load([a, b], "imm")
    load.start()
    time.sleep(1.5)
    pg_sh("immediate", pgdir)
    t_down = time.time()
    time.sleep(2.0)
    health_down = [a.healthz()[0], b.healthz()[0]]
    t_up = time.time()
    pg_sh("restart", pgdir)
    # Both serve again, without a restart of their own.

    def decides(srv):
        try:
            st, _, _ = srv.call("POST", "/v1/decide",
                                {"agent": "support-bot", "workflow": "refunds",
                                 "action": "issue_refund", "input": {"amount": 1},
                                 "run_id": "probe-%d" % time.time_ns()},
                                token=srv.tokens["support-bot"], timeout=5)
        except OSError:
            return False
        return st == 200

    def serving():
        return all(srv.healthz()[0] == 200 and decides(srv) for srv in (a, b))
    back = wait_until(serving, 20, step=0.3)
    time.sleep(1.0)
    load.join()
    t.eq(health_down, [503, 503], "/healthz of both is 503 while PostgreSQL is down")
    down = [x for x in load.answers if x[1] > t_down + 0.2 and x[2] < t_up]
    acked_down = [x for x in down if x[3] == 200]
    t.eq(len(acked_down), 0, "no decision is acknowledged while PostgreSQL is down (%d were)"
         % len(acked_down))
    denied = [x for x in down if x[3] == 503 and x[4].get("decision") == "deny"
              and x[4].get("reason") == "ledger_unavailable"]
    t.check(denied and len(denied) == len([x for x in down if x[3] is not None]),
            "while down the servers answer 503 with a deny (ledger_unavailable): %d of %d"
            % (len(denied), len(down)))
    t.check(back, "both servers serve again after `pg.sh restart`")
    later = [x for x in load.answers if x[1] > t_up and x[3] == 200]
    t.check(later or back, "decisions acknowledged after the restart (%d)" % len(later))
    t.eq((a.stop(), b.stop()), (0, 0), "both stop cleanly")
    check_ledger("PostgreSQL stopped with -m immediate", a, load)


def main():
    pg_dir()  # skipped (77) without the test PostgreSQL, as the other _pg tests
    work = tempfile.mkdtemp(prefix="charter-multi-crash-")
    os.chmod(work, 0o755)  # pg.sh runs PostgreSQL as the user postgres, in work/pg
    pgdir = os.path.join(work, "pg")
    servers = []
    started = False
    try:
        pg_sh("start", pgdir)
        started = True
        test_kill_one(work, pgdir, servers)
        test_pg_immediate(work, pgdir, servers)
    finally:
        for s in servers:
            s.kill()
            if s.own_dir:
                shutil.rmtree(s.dir, ignore_errors=True)
        if started:
            try:
                pg_sh("stop", pgdir)
            except (RuntimeError, OSError) as e:
                print("pg.sh stop %s: %s" % (pgdir, e), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
