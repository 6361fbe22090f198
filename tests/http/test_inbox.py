"""test_inbox.py - the inbox API (GET /v1/escalations extended, issue 14)
against a real `charter serve` on 127.0.0.1.

Sorting by deadline across queues with different SLAs and paging it with
offset=, the workflow/agent/resolved_by=me filters, detail=1 (the recorded
request and answer, the fields the fired rules read, the values in the
charter's rank order, what happens at the deadline), total and version, the
long poll on the version (returns at a new escalation, or at its wait
limit), a deny without a note refused, and the 409 after a deadline saying
what was applied. Every request has a timeout of its own; the script is
bounded by ctest's TIMEOUT.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHARTER = os.path.join(HERE, "data", "inbox.yaml")
t = Checks("http_inbox")


def refund(amount, **extra):
    r = {"agent": "support-bot", "workflow": "refunds", "action": "issue_refund",
         "input": {"amount": amount}, "run_id": "run-%d" % time.time_ns()}
    r.update(extra)
    return r


def payout(amount):
    return {"agent": "other-bot", "workflow": "payouts", "action": "pay",
            "input": {"amount": amount}, "run_id": "run-%d" % time.time_ns()}


def decide(srv, body, who):
    st, _, ans = srv.call("POST", "/v1/decide", body, token=srv.tokens[who])
    t.eq((st, ans.get("decision")), (200, "escalate"), "decided escalate: %r" % (ans,))
    return ans["decision_id"]


def inbox(srv, who, query="", timeout=30):
    st, _, body = srv.call("GET", "/v1/escalations" + query, token=srv.tokens[who],
                           timeout=timeout)
    if st != 200:
        t.check(False, "GET /v1/escalations%s as %s: %s %r" % (query, who, st, body))
        return {"escalations": [], "total": None, "version": None}
    return body


def ids(body):
    return [e["decision_id"] for e in body["escalations"]]


def resolve(srv, who, did, resolution, note=None):
    body = {"resolution": resolution}
    if note is not None:
        body["note"] = note
    return srv.call("POST", "/v1/escalations/%s/resolve" % did, body, token=srv.tokens[who])


def test_sort_filters_detail(srv):
    v0 = inbox(srv, "mia")["version"]
    t.check(isinstance(v0, int), "the answer carries a version: %r" % v0)
    # A 4 h queue first, then a 2 h one: the later decision is due first.
    d_refund = decide(srv, refund(500, subject={"tenure_days": 5}), "support-bot")
    v1 = inbox(srv, "mia")["version"]
    t.check(v1 > v0, "a new escalation bumps the version (%r -> %r)" % (v0, v1))
    d_payout = decide(srv, payout(70), "other-bot")
    by_dl = inbox(srv, "mia", "?sort=deadline")
    t.eq(ids(by_dl), [d_payout, d_refund], "sort=deadline: the 2 h queue's first")
    t.eq(by_dl["total"], 2, "total")
    t.eq(ids(inbox(srv, "mia")), [d_refund, d_payout], "default: decision order")
    # Paging sort=deadline with offset.
    p1 = inbox(srv, "mia", "?sort=deadline&limit=1")
    p2 = inbox(srv, "mia", "?sort=deadline&limit=1&offset=1")
    t.eq((ids(p1), p1.get("next_offset"), p1["total"]), ([d_payout], 1, 2), "first page")
    t.eq((ids(p2), p2.get("next_offset"), p2["total"]), ([d_refund], None, 2), "second page")
    st, _, err = srv.call("GET", "/v1/escalations?sort=deadline&after=" + d_refund,
                          token=srv.tokens["mia"])
    t.eq(st, 400, "after= with sort=deadline is refused (offset= pages it)")
    # Filters.
    t.eq(ids(inbox(srv, "mia", "?workflow=payouts")), [d_payout], "workflow filter")
    t.eq(ids(inbox(srv, "mia", "?agent=support-bot")), [d_refund], "agent filter")
    f = inbox(srv, "mia", "?agent=support-bot&workflow=payouts")
    t.eq((ids(f), f["total"]), ([], 0), "filters combine")
    # Queues: lena sees only leads; the auditor sees every queue.
    t.eq(ids(inbox(srv, "lena")), [d_refund], "an approver sees only its queues")
    t.eq(ids(inbox(srv, "audra", "?sort=deadline")), [d_payout, d_refund],
         "an auditor sees every queue")
    # Detail.
    d = inbox(srv, "mia", "?detail=1&sort=deadline")["escalations"]
    t.eq(len(d), 2, "detail lists both")
    pay, ref = d[0], d[1]
    t.eq(ref["request"]["input"], {"amount": 500}, "detail: the recorded request")
    t.eq(ref["request"]["subject"], {"tenure_days": 5}, "detail: the request's subject")
    fired = [f["id"] for f in ref["answer"].get("fired", [])]
    t.check("explanation" in ref["answer"] and
            sorted(fired) == ["refund-large", "refund-new-customer"],
            "detail: the recorded answer with what fired: %r" % fired)
    reads_of = {"refund-large": ["input.amount", "input.destination"],
                "refund-new-customer": ["subject.tenure_days"]}
    t.eq(ref["reads"], [f for rule in fired for f in reads_of.get(rule, [])],
         "reads: the fields the fired rules' conditions read, first fired first")
    t.check("input.amount" in ref["reads"], "reads names input.amount")
    t.eq(pay["reads"], ["input.amount"], "reads of the payout rule")
    t.eq([(v["id"], v["rank"]) for v in ref["values_ranked"]],
         [("customer-trust", 1), ("cost-discipline", 2)], "values in the charter's rank order")
    t.eq(ref["values_ranked"][0]["statement"], "Customers can rely on us.", "value statement")
    t.eq((ref["on_timeout"], pay["on_timeout"]), ("deny", "next"), "on_timeout per queue")
    plain = inbox(srv, "mia")["escalations"][0]
    t.check("request" not in plain and "reads" not in plain, "no detail unless asked")
    return d_refund, d_payout


def test_resolve(srv, d_refund, d_payout):
    for note, what in ((None, "no note"), ("", "an empty note"), ("   ", "only spaces")):
        st, _, err = resolve(srv, "mia", d_payout, "deny", note)
        t.eq((st, (err or {}).get("error", {}).get("code")), (400, "note_required"),
             "deny with %s" % what)
    t.eq(inbox(srv, "mia", "?workflow=payouts")["total"], 1, "still open after the refusals")
    v = inbox(srv, "mia")["version"]
    st, _, res = resolve(srv, "mia", d_refund, "approve", "long-standing customer")
    t.eq((st, res.get("status")), (200, "approved"), "approve without... with a note")
    v2 = inbox(srv, "mia")["version"]
    t.check(v2 > v, "a resolution bumps the version (%r -> %r)" % (v, v2))
    st, _, res = resolve(srv, "mia", d_payout, "deny", "not in the budget")
    t.eq(st, 200, "deny with a note")
    mine = inbox(srv, "mia", "?resolved_by=me")
    t.eq((ids(mine), mine["total"]), ([d_refund, d_payout], 2),
         "resolved_by=me: what this person resolved")
    t.eq(mine["escalations"][0]["resolved_by"], "mia", "resolved by mia")
    t.eq(ids(inbox(srv, "lena", "?resolved_by=me")), [], "lena resolved nothing")
    t.eq(ids(inbox(srv, "mia", "?resolved_by=me&status=open")), [],
         "resolved_by=me with status=open: none")
    st, _, err = resolve(srv, "mia", d_refund, "deny", "changed my mind")
    msg = (err or {}).get("error", {}).get("message", "")
    t.eq((st, err["error"]["code"]), (409, "already_resolved"), "resolving twice")
    t.check("approved by mia at " in msg and "long-standing customer" in msg,
            "the 409 says who resolved it, when and why: %r" % msg)


def test_long_poll(srv):
    v = inbox(srv, "mia")["version"]
    # Nothing happens: the poll answers at its wait limit, version unchanged.
    t0 = time.time()
    quiet = inbox(srv, "mia", "?wait=1&version=%d" % v)
    took = time.time() - t0
    t.check(0.8 < took < 4, "an idle long poll returns at its wait limit (%.2fs)" % took)
    t.eq(quiet["version"], v, "idle long poll: same version")
    # A version already old answers at once.
    t0 = time.time()
    inbox(srv, "mia", "?wait=10&version=%d" % (v + 1000))
    t.check(time.time() - t0 < 1.5, "a different version answers at once")
    # A new escalation ends the wait.
    got = {}

    def poll():
        got["r"] = inbox(srv, "mia", "?wait=20&version=%d&sort=deadline" % v, timeout=40)
        got["t"] = time.time()

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(1.0)
    t_new = time.time()
    did = decide(srv, refund(300), "support-bot")
    th.join(30)
    t.check("r" in got and got["t"] - t_new < 1.5,
            "the long poll returns within ~1 s of a new escalation (%.2fs)" %
            (got.get("t", 99) - t_new))
    r = got.get("r", {"escalations": [], "version": v})
    t.check(r["version"] > v and did in ids(r), "it carries the new escalation and version")
    st, _, err = srv.call("GET", "/v1/escalations?wait=5", token=srv.tokens["mia"])
    t.eq(st, 400, "wait= without version= is refused")
    resolve(srv, "mia", did, "deny", "tidy up")


def test_timeout_conflict(srv):
    did = decide(srv, dict(refund(1), action="close_account"), "support-bot")
    d = inbox(srv, "lena", "?detail=1&workflow=refunds")["escalations"]
    t.eq([e["on_timeout"] for e in d if e["decision_id"] == did], ["deny"],
         "on_timeout of the quick queue")
    v = inbox(srv, "lena")["version"]
    st, _, polled = srv.call("GET", "/v1/decisions/%s?wait=10" % did,
                             token=srv.tokens["lena"], timeout=20)
    t.check(st == 200 and polled["escalation"].get("timed_out"), "the deadline passed")
    t.check(inbox(srv, "lena")["version"] > v, "a timeout bumps the version")
    st, _, err = resolve(srv, "lena", did, "approve", "too late")
    msg = (err or {}).get("error", {}).get("message", "")
    t.eq((st, (err or {}).get("error", {}).get("code")), (409, "already_resolved"),
         "resolving after the deadline")
    t.check("timed out at its deadline" in msg and "denied" in msg,
            "the 409 says it timed out and what was applied: %r" % msg)


def main():
    with Server(CHARTER, agents=["support-bot", "other-bot"],
                approvers={"mia": (["leads", "finance"], ["support-lead", "finance-lead"]),
                           "lena": (["leads", "quick"], ["support-lead"])},
                auditors=["audra"]) as srv:
        d_refund, d_payout = test_sort_filters_detail(srv)
        test_resolve(srv, d_refund, d_payout)
        test_long_poll(srv)
        test_timeout_conflict(srv)
    t.done()


if __name__ == "__main__":
    main()
