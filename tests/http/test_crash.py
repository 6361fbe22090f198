"""test_crash.py - kill -9 under load loses nothing.

Several rounds: start `charter serve` on one ledger, drive it with
concurrent agents (decisions, some escalated) and an approver resolving
escalations, SIGKILL it at a random moment, restart it on the same ledger,
and check that

  - every decision that was answered 200 is in the ledger with the answer
    the agent got,
  - every resolution that was answered 200 is there too,
  - escalations still open came back open (with their queue),
  - stop-rule counters came back: a run that used up its budget before the
    kill is still out of budget after it,
  - the ledger verifies (checked with the server stopped, every round).

Loopback only; each round is bounded (a few seconds of load).
"""
import os
import random
import signal
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks, charter_cli, new_ledger  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
ROUNDS = int(os.environ.get("CHARTER_CRASH_ROUNDS", "5"))
t = Checks("http_crash")
rng = random.Random(20261125)


class Load:
    """Agents deciding and an approver resolving until stopped."""

    def __init__(self, srv, round_no):
        self.srv = srv
        self.round = round_no
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}          # decision id -> decision
        self.resolved = {}       # decision id -> "approved" | "denied"
        self.open = []           # escalated ids not (yet) resolved by us
        self.threads = []

    def agent(self, k):
        n = 0
        while not self.stop.is_set():
            n += 1
            amount = 500 if n % 3 == 0 else 10
            body = {"agent": "support-bot", "workflow": "refunds",
                    "action": "issue_refund", "input": {"amount": amount},
                    "run_id": "r%d-a%d-%d" % (self.round, k, n // 4)}
            try:
                st, _, ans = self.srv.call("POST", "/v1/decide", body,
                                           token=self.srv.tokens["support-bot"], timeout=5)
            except (OSError, ValueError):
                return  # the server died under us: unacknowledged
            if st == 200:
                with self.lock:
                    self.acked[ans["decision_id"]] = ans["decision"]
                    if ans["decision"] == "escalate":
                        self.open.append(ans["decision_id"])

    def approver(self):
        while not self.stop.is_set():
            with self.lock:
                did = self.open.pop(0) if self.open else None
            if not did:
                time.sleep(0.005)
                continue
            res = rng.choice(["approve", "deny"])
            try:
                st, _, _ = self.srv.call("POST", "/v1/escalations/%s/resolve" % did,
                                         {"resolution": res, "note": "crash test"},
                                         token=self.srv.tokens["lena"],
                                         timeout=5)
            except (OSError, ValueError):
                # In flight when the server died: it may or may not have
                # been recorded, so it is neither open nor resolved for us.
                return
            with self.lock:
                if st == 200:
                    self.resolved[did] = "approved" if res == "approve" else "denied"
                else:
                    self.open.append(did)

    def start(self):
        for k in range(6):
            th = threading.Thread(target=self.agent, args=(k,), daemon=True)
            th.start()
            self.threads.append(th)
        th = threading.Thread(target=self.approver, daemon=True)
        th.start()
        self.threads.append(th)

    def join(self):
        self.stop.set()
        for th in self.threads:
            th.join(10)


def exhaust_budget(srv, run_id):
    """Five allowed actions use up the run's budget; the sixth is denied."""
    for i in range(5):
        st, _, a = srv.call("POST", "/v1/decide",
                            {"agent": "support-bot", "workflow": "refunds",
                             "action": "issue_refund", "input": {"amount": 1},
                             "run_id": run_id}, token=srv.tokens["support-bot"])
        if st != 200 or a["decision"] != "allow":
            return False
    return True


def main():
    work = tempfile.mkdtemp(prefix="charter-crash-")
    ledger = new_ledger(work)  # a SQLite file, or a PostgreSQL database (_pg)
    keys_made = None
    try:
        for rnd in range(ROUNDS):
            srv = Server(SHOP, agents=["support-bot"],
                         approvers={"lena": (["leads", "quick"], ["support-lead"])},
                         ledger=ledger, workdir=work)
            if keys_made:
                srv.tokens = keys_made
            srv.start()
            keys_made = srv.tokens
            budget_run = "budget-%d" % rnd
            t.check(exhaust_budget(srv, budget_run), "round %d: budget used up" % rnd)
            load = Load(srv, rnd)
            load.start()
            time.sleep(rng.uniform(0.3, 1.5))
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait(10)
            load.join()

            v = charter_cli("verify", ledger, check=False)
            t.eq(v.returncode, 0, "round %d: the ledger verifies after kill -9 (%s)"
                 % (rnd, v.stdout.strip() or v.stderr.strip()))

            srv2 = Server(SHOP, ledger=ledger, workdir=work, agents=[])
            srv2.tokens = keys_made
            srv2.start()
            admin = keys_made["admin"]
            missing, wrong = [], []
            for did, decision in load.acked.items():
                st, _, got = srv2.call("GET", "/v1/decisions/" + did, token=admin)
                if st != 200:
                    missing.append(did)
                elif got["answer"]["decision"] != decision:
                    wrong.append(did)
            t.check(load.acked, "round %d: decisions were acknowledged before the kill" % rnd)
            t.eq(missing, [], "round %d: every acknowledged decision survived (%d)"
                 % (rnd, len(load.acked)))
            t.eq(wrong, [], "round %d: with the answer the agent got" % rnd)
            lost = []
            for did, status in load.resolved.items():
                st, _, got = srv2.call("GET", "/v1/decisions/" + did, token=admin)
                if st != 200 or (got.get("escalation") or {}).get("status") != status:
                    lost.append(did)
            t.eq(lost, [], "round %d: every acknowledged resolution survived (%d)"
                 % (rnd, len(load.resolved)))
            open_now = set()
            after = ""
            for _ in range(1000):  # every page of the open queue
                st, _, lst = srv2.call("GET", "/v1/escalations?status=open" + after,
                                       token=admin)
                open_now |= {e["decision_id"] for e in lst["escalations"]}
                if not lst.get("next"):
                    break
                after = "&after=" + lst["next"]
            reopened = [d for d in load.open if d in load.acked and d not in load.resolved]
            t.check(all(d in open_now for d in reopened),
                    "round %d: open escalations came back (%d)" % (rnd, len(reopened)))
            st, _, a = srv2.call("POST", "/v1/decide",
                                 {"agent": "support-bot", "workflow": "refunds",
                                  "action": "issue_refund", "input": {"amount": 1},
                                  "run_id": budget_run}, token=keys_made["support-bot"])
            t.eq((a or {}).get("reason"), "stop_rule",
                 "round %d: the run's budget is still used up after the restart" % rnd)
            t.eq(srv2.stop(), 0, "round %d: clean stop after the restart" % rnd)
        v = charter_cli("verify", ledger, check=False)
        t.eq(v.returncode, 0, "the ledger verifies at the end: " + v.stdout.strip())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
