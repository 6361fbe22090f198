"""test_multi.py - two `charter serve` on one PostgreSQL ledger (issue 16).

Both servers run on 127.0.0.1 against one database of the test PostgreSQL
(the ctest fixture `pg`, tests/pg/pg.sh), with one keys folder and one
ledger key, each with its own copy of the charter (tests/http/data/multi.yaml)
and its own --server-id. The cases, in order:

  - /healthz names each server, its backend and the charter version, and
    exactly one of them holds the lease;
  - one chain whichever server appended: decisions sent to both at once get
    distinct ids, seqs are gapless, every acknowledged decision is there with
    the answer its agent got, and `charter verify --key` passes;
  - two people resolving one escalation at once, one on each server: one 200
    and one 409, and one resolution in the ledger;
  - a run budget of 5 and a day budget of 1000 (100 a payout), decided at
    once on both servers: exactly 5 and 10 allowed, in the answers and in
    the ledger;
  - an agent's long poll on B returns when the escalation is resolved on A,
    and the inbox's long poll on B when A opens a new escalation;
  - a charter reloaded on A: B's /healthz shows the new version and B
    decides under it (B's own file is unchanged);
  - a 1-second deadline is applied once (one timeout resolution); after kill
    -9 of the lease holder, the other takes the lease and applies the next
    deadline.

Every wait has a deadline; the whole script takes well under a minute.
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
from harness import SCALE, Checks, Server, charter_cli, pg_createdb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHARTER = os.path.join(HERE, "data", "multi.yaml")
t = Checks("http_multi")
APPROVERS = {"lena": (["leads", "quick"], ["support-lead"]),
             "olaf": (["leads", "quick"], ["support-lead"])}


def wait_until(pred, timeout, step=0.1):
    """Polls pred() until it is true (returns its value) or timeout seconds."""
    deadline = time.time() + timeout * SCALE
    while True:
        got = pred()
        if got or time.time() >= deadline:
            return got
        time.sleep(step)


def refund(amount, run_id, action="issue_refund"):
    return {"agent": "support-bot", "workflow": "refunds", "action": action,
            "input": {"amount": amount}, "run_id": run_id}


def decide(srv, body, who="support-bot"):
    try:
        st, _, ans = srv.call("POST", "/v1/decide", body, token=srv.tokens[who], timeout=10)
    except OSError as e:
        return None, {"error": str(e)}
    return st, ans if isinstance(ans, dict) else {}


def escalate(srv, action="issue_refund"):
    st, ans = decide(srv, refund(500, "esc-%d" % time.time_ns(), action))
    ok = t.eq((st, ans.get("decision")), (200, "escalate"), "escalated on %s: %r"
              % (srv.server_id, ans))
    return ans["decision_id"] if ok else None


def sees_open(srv, did):
    """srv knows escalation did (caught up with the other server's append)."""
    st, _, body = srv.call("GET", "/v1/escalations/" + did, token=srv.tokens["lena"],
                           timeout=5)
    return st == 200 and (body or {}).get("status") == "open"


def export(srv):
    out = charter_cli("export", srv.ledger, "--format", "jsonl").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def at_once(calls):
    """Runs each callable in a thread of its own, released together by a
    barrier; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, fn):
        try:
            barrier.wait(10)
        except threading.BrokenBarrierError:
            pass
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn), daemon=True)
               for i, fn in enumerate(calls)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30 * SCALE)
    return results


def test_healthz(a, b):
    sa, ha = a.healthz()
    sb, hb = b.healthz()
    t.eq((sa, sb), (200, 200), "both servers are healthy")
    t.eq((ha.get("server"), hb.get("server")), ("srv-a", "srv-b"), "/healthz names the server")
    t.eq(((ha.get("ledger") or {}).get("backend"), (hb.get("ledger") or {}).get("backend")),
         ("postgresql", "postgresql"), "/healthz: the ledger's backend")
    t.check(ha.get("charter_version") and ha.get("charter_version") == hb.get("charter_version"),
            "both serve one charter version: %r %r" % (ha.get("charter_version"),
                                                         hb.get("charter_version")))
    def one_lease():
        got = [a.healthz()[1].get("lease"), b.healthz()[1].get("lease")]
        return got if got.count(True) == 1 else None
    leases = wait_until(one_lease, 5)
    t.check(leases and sorted(leases) == [False, True],
            "exactly one server holds the lease: %r" % (leases,))


def test_one_chain(a, b):
    acked = {}
    other = []
    lock = threading.Lock()

    def agent(srv, k):
        for n in range(25):
            amount = 500 if n % 5 == 0 else 10
            st, ans = decide(srv, refund(amount, "chain-%s-%d-%d" % (srv.server_id, k, n // 4)))
            if st != 200:
                with lock:
                    other.append((srv.server_id, st, ans.get("reason") or ans.get("error")))
            if st == 200:
                with lock:
                    acked.setdefault(ans["decision_id"], []).append((srv.server_id,
                                                                    ans["decision"]))

    threads = [threading.Thread(target=agent, args=(srv, k), daemon=True)
               for srv in (a, b) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60 * SCALE)
    # One agent deciding on both servers at once: each server's entries
    # change the counters the other's decisions read, so some are decided
    # again; none may end as a 503 (16 conflicts in a row).
    t.eq(sum(len(v) for v in acked.values()), 200,
         "every decision of one agent on both servers at once answered 200, none "
         "given up after repeated conflicts (not: %r)" % other[:5])
    t.eq([d for d, v in acked.items() if len(v) > 1], [],
         "no decision id was given twice (one chain, not two)")
    servers = {v[0][0] for v in acked.values()}
    t.eq(servers, {"srv-a", "srv-b"}, "both servers decided")
    entries = export(a)
    seqs = [e["seq"] for e in entries]
    t.eq(seqs, list(range(1, len(seqs) + 1)), "seqs are gapless, in one order")
    by_id = {"d-%d" % e["seq"]: e for e in entries if e["kind"] == "decision"}
    missing = [d for d in acked if d not in by_id]
    t.eq(missing, [], "every acknowledged decision is in the ledger")
    wrong = [d for d, v in acked.items() if d in by_id
             and by_id[d]["payload"]["answer"]["decision"] != v[0][1]]
    t.eq(wrong, [], "with the answer the agent got")
    v = charter_cli("verify", a.ledger, "--key", os.path.join(a.keys, "ledger.pub"), check=False)
    t.eq(v.returncode, 0, "the shared ledger verifies with the servers running: "
         + (v.stdout + v.stderr).strip())


def test_resolve_race(a, b):
    ids = []
    for i in range(5):
        did = escalate(a if i % 2 == 0 else b)
        if not did:
            continue
        other = b if i % 2 == 0 else a
        t.check(wait_until(lambda: sees_open(other, did), 5),
                "%s sees %s, opened on the other server" % (other.server_id, did))

        def resolve(srv, who, did=did):
            def call():
                try:
                    return srv.call("POST", "/v1/escalations/%s/resolve" % did,
                                    {"resolution": "approve", "note": "race"},
                                    token=srv.tokens[who], timeout=15)[::2]
                except OSError as e:
                    return (None, str(e))
            return call
        got = at_once([resolve(a, "lena"), resolve(b, "olaf")])
        codes = sorted((g or (None,))[0] or 0 for g in got)
        t.eq(codes, [200, 409], "resolving %s at once on both servers: one 200, one 409 (%r)"
             % (did, got))
        ids.append(did)
    entries = export(a)
    for did in ids:
        n = sum(1 for e in entries if e["kind"] == "escalation_resolved"
                and e["payload"].get("decision_id") == did)
        t.eq(n, 1, "one resolution of %s in the ledger" % did)


def test_budgets(a, b):
    entries_before = len(export(a))
    for rnd in range(3):
        run_id = "budget-%d-%d" % (rnd, time.time_ns())
        calls = [(lambda srv=srv: decide(srv, refund(1, run_id)))
                 for srv in (a, b) for _ in range(6)]
        got = at_once(calls)
        allowed = sum(1 for st, ans in got if st == 200 and ans.get("decision") == "allow")
        stopped = sum(1 for st, ans in got if st == 200 and ans.get("reason") == "stop_rule")
        t.eq(allowed, 5, "run budget of 5, 12 decisions at once on two servers: 5 allowed")
        t.eq(allowed + stopped, 12, "the others denied by the stop rule: %r"
             % [(st, ans.get("reason")) for st, ans in got])
    calls = [(lambda srv=srv: decide(srv, {"agent": "pay-bot", "workflow": "payouts",
                                           "action": "pay", "input": {"amount": 100},
                                           "run_id": "pay-%d" % time.time_ns()}, "pay-bot"))
             for srv in (a, b) for _ in range(8)]
    got = at_once(calls)
    allowed = sum(1 for st, ans in got if st == 200 and ans.get("decision") == "allow")
    t.eq(allowed, 10, "day budget of 1000 at 100 a payout, 16 at once on two servers: "
         "10 allowed (%r)" % [(st, ans.get("decision"), ans.get("reason")) for st, ans in got])
    new = export(a)[entries_before:]
    spent = sum(e["payload"].get("spend", 0) for e in new if e["kind"] == "decision"
                and e["payload"]["request"].get("agent") == "pay-bot"
                and e["payload"]["answer"]["decision"] == "allow")
    t.eq(spent, 1000, "the ledger's allowed payouts spend exactly the day budget")


def test_long_poll(a, b):
    did = escalate(a)
    if not did:
        return
    t.check(wait_until(lambda: sees_open(b, did), 5), "B sees A's escalation")
    got = {}

    def poll():
        try:
            got["r"] = b.call("GET", "/v1/decisions/%s?wait=20" % did,
                              token=b.tokens["support-bot"], timeout=40)
        except OSError as e:
            got["r"] = (None, None, {"error": str(e)})
        got["t"] = time.time()

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    st, _, res = a.call("POST", "/v1/escalations/%s/resolve" % did,
                        {"resolution": "approve", "note": "poll"}, token=a.tokens["lena"])
    t.eq(st, 200, "resolved on A")
    th.join(30 * SCALE)
    st, _, body = got.get("r", (None, None, None))
    body = body or {}
    t.eq((st, body.get("decision"), body.get("final")), (200, "allow", True),
         "the agent's long poll on B returns the approval made on A")
    t.check(got.get("t", 1e18) - t0 < 10 * SCALE,
            "... when it was made, not at the end of its wait (%.1fs)"
            % (got.get("t", 1e18) - t0))
    # The inbox's long poll on B: a new escalation on A ends it.
    st, _, inbox = b.call("GET", "/v1/escalations", token=b.tokens["lena"])
    v = (inbox or {}).get("version")
    res = {}

    def poll_inbox():
        res["r"] = b.call("GET", "/v1/escalations?wait=20&version=%s" % v,
                          token=b.tokens["lena"], timeout=40)
        res["t"] = time.time()

    th = threading.Thread(target=poll_inbox, daemon=True)
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    new = escalate(a)
    th.join(30 * SCALE)
    st, _, body = res.get("r", (None, None, None))
    t.check(st == 200 and new in [e["decision_id"] for e in (body or {}).get("escalations", [])]
            and res.get("t", 1e18) - t0 < 10 * SCALE,
            "the inbox's long poll on B returns with A's new escalation (%r)" % (st,))


def test_reload(a, b, a_charter):
    v1 = a.healthz()[1].get("charter_version")
    with open(a_charter) as f:
        text = f.read()
    with open(a_charter, "w") as f:
        f.write(text.replace("when: input.amount > 100", "when: input.amount > 50"))
    st, _, r = a.call("POST", "/v1/admin/reload", token=a.tokens["admin"])
    t.eq((st, (r or {}).get("changed")), (200, True), "reloaded on A: %r" % (r,))
    v2 = (r or {}).get("version")
    t.check(v2 and v2 != v1, "a new version on A")
    seen = wait_until(lambda: b.healthz()[1].get("charter_version") == v2, 10)
    t.check(seen, "B's /healthz shows the version reloaded on A (%r, expected %r)"
            % (b.healthz()[1].get("charter_version"), v2))
    st, ans = decide(b, refund(70, "reload-%d" % time.time_ns()))
    t.eq((st, ans.get("decision"), ans.get("charter_version")), (200, "escalate", v2),
         "B decides under the charter loaded on A (its own file says 100)")


def timed_out_once(srv, did):
    st, _, body = srv.call("GET", "/v1/decisions/%s?wait=15" % did,
                           token=srv.tokens["support-bot"], timeout=30)
    esc = (body or {}).get("escalation") or {}
    return st == 200 and esc.get("timed_out") is True


def test_deadlines_and_lease(a, b):
    ids = [d for d in (escalate(srv, "close_account") for srv in (a, b, a, b)) if d]
    for did in ids:
        t.check(timed_out_once(b, did), "the 1 s deadline of %s was applied" % did)
    time.sleep(2.5)  # a second application, if any, would be there by now
    entries = export(a)
    for did in ids:
        n = sum(1 for e in entries if e["kind"] == "escalation_resolved"
                and e["payload"].get("decision_id") == did)
        t.eq(n, 1, "the deadline of %s applied once, by one server" % did)
    holder, other = (a, b) if a.healthz()[1].get("lease") else (b, a)
    t.check(holder.healthz()[1].get("lease") is True, "%s holds the lease" % holder.server_id)
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(10)
    t.check(wait_until(lambda: other.healthz()[1].get("lease") is True, 10),
            "%s takes the lease after kill -9 of %s" % (other.server_id, holder.server_id))
    did = escalate(other, "close_account")
    if not did:
        return other
    t.check(timed_out_once(other, did),
            "%s applies the next deadline (%s)" % (other.server_id, did))
    time.sleep(2.5)
    n = sum(1 for e in export(other) if e["kind"] == "escalation_resolved"
            and e["payload"].get("decision_id") == did)
    t.eq(n, 1, "applied once")
    return other


def main():
    work = tempfile.mkdtemp(prefix="charter-multi-")
    servers = []
    try:
        ledger = pg_createdb("multi")
        a_charter = os.path.join(work, "a.yaml")
        b_charter = os.path.join(work, "b.yaml")
        shutil.copy(CHARTER, a_charter)
        shutil.copy(CHARTER, b_charter)
        os.makedirs(os.path.join(work, "a"))
        a = Server(a_charter, agents=["support-bot", "pay-bot"], approvers=APPROVERS,
                   ledger=ledger, workdir=os.path.join(work, "a"), sign=True,
                   server_id="srv-a")
        servers.append(a)
        a.start()
        b = a.sibling(b_charter, server_id="srv-b")
        servers.append(b)
        b.start()
        test_healthz(a, b)
        test_one_chain(a, b)
        test_resolve_race(a, b)
        test_budgets(a, b)
        test_long_poll(a, b)
        test_reload(a, b, a_charter)
        survivor = test_deadlines_and_lease(a, b)
        t.eq(survivor.stop(), 0, "the survivor stops cleanly")
        v = charter_cli("verify", ledger, "--key", os.path.join(a.keys, "ledger.pub"),
                        check=False)
        t.eq(v.returncode, 0, "the ledger verifies at the end: " + (v.stdout + v.stderr).strip())
    finally:
        for s in servers:
            s.kill()
            if s.own_dir:
                shutil.rmtree(s.dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
