"""test_grants.py - standing approvals over HTTP (issue 15), against a real
`charter serve` on 127.0.0.1.

POST /v1/escalations/{id}/grant approves the escalation and, for the hours
given, the same kind (same queue, agent, workflow, action and rule): a later
matching escalation is approved by the grant within moments (the server's
deadline thread applies grants; the test waits on GET
/v1/escalations/{id}?wait=), recorded as approved by the grantor through
the grant; another agent's or another action's is not. Caps (max_count,
max_amount) end it; a revoked grant approves nothing more; a grant never
approves what a boundary or a budget would refuse (the escalation stays
open for a person). A queue without standing_approvals refuses grants (403
grants_not_allowed), a quorum above one refuses them (409 quorum), a
duration above the queue's max is 400. Who may: an auditor may not grant
but reads every grant; an approver of another queue may not revoke; an
approver of the grant's queue may. Every request has a timeout of its own;
the script is bounded by ctest's TIMEOUT.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHARTER = os.path.join(HERE, "data", "grants.yaml")
t = Checks("http_grants")


def decide(srv, agent, amount, action="issue_refund", workflow="refunds", run=None,
           want="escalate", **extra):
    inp = {"amount": amount}
    inp.update(extra)
    body = {"agent": agent, "workflow": workflow, "action": action, "input": inp,
            "run_id": run or "run-%d" % time.time_ns()}
    st, _, ans = srv.call("POST", "/v1/decide", body, token=srv.tokens[agent])
    t.eq((st, (ans or {}).get("decision")), (200, want),
         "%s %s %s: %r" % (agent, action, amount, ans))
    return (ans or {}).get("decision_id", "d-0")


def code(ans):
    return ((ans or {}).get("error") or {}).get("code")


def grant(srv, who, did, **body):
    st, _, ans = srv.call("POST", "/v1/escalations/%s/grant" % did, body,
                          token=srv.tokens[who])
    return st, ans or {}


def waited(srv, did, secs):
    """The escalation after waiting up to `secs` for it to be resolved."""
    st, _, esc = srv.call("GET", "/v1/escalations/%s?wait=%s" % (did, secs),
                          token=srv.tokens["lena"], timeout=secs + 20)
    t.eq(st, 200, "GET /v1/escalations/%s?wait=%s: %r" % (did, secs, esc))
    return esc or {}


def grants(srv, who, query=""):
    st, _, ans = srv.call("GET", "/v1/grants" + query, token=srv.tokens[who])
    t.eq(st, 200, "GET /v1/grants%s as %s: %r" % (query, who, ans))
    return {g["id"]: g for g in (ans or {}).get("grants", [])}


def deny(srv, did):
    srv.call("POST", "/v1/escalations/%s/resolve" % did,
             {"resolution": "deny", "note": "tidy up"}, token=srv.tokens["lena"])


def test_grant_approves_the_same_kind(srv):
    first = decide(srv, "bot-a", 300)
    st, ans = grant(srv, "lena", first, hours=2, note="bot-a's refunds are fine today")
    t.eq(st, 201, "grant: %r" % ans)
    esc, g = ans.get("escalation") or {}, ans.get("grant") or {}
    gid = g.get("id", "g-?")
    t.check(gid.startswith("g-"), "the grant has an id g-N: %r" % gid)
    t.eq((esc.get("status"), esc.get("resolved_by")), ("approved", "lena"),
         "the escalation it came from is approved")
    t.eq(g.get("scope"), {"queue": "leads", "agent": "bot-a", "workflow": "refunds",
                          "action": "issue_refund", "rule": "large-refund"},
         "the grant's scope")
    t.eq((g.get("who"), g.get("note"), g.get("decision_id"), g.get("active"),
          g.get("revoked"), g.get("max_count"), g.get("max_amount"), g.get("used_count")),
         ("lena", "bot-a's refunds are fine today", first, True, False, None, None, 0),
         "the grant as recorded")
    # A later escalation of the same kind: approved by the grant, quickly.
    t0 = time.time()
    later = decide(srv, "bot-a", 450)
    esc = waited(srv, later, 5)
    took = time.time() - t0
    t.eq((esc.get("status"), esc.get("grant"), esc.get("resolved_by")),
         ("approved", gid, "lena"), "a matching escalation is approved by the grant")
    t.check(took < 4, "within moments of opening (%.2fs)" % took)
    st, _, d = srv.call("GET", "/v1/decisions/%s" % later, token=srv.tokens["bot-a"])
    t.eq((st, d.get("decision")), (200, "allow"), "the agent reads allow")
    t.eq(grants(srv, "lena").get(gid, {}).get("used_count"), 1, "the grant counts its use")
    # Another agent, another action: not in the scope.
    other_agent = decide(srv, "bot-b", 300)
    other_action = decide(srv, "bot-a", 0, action="close_account")
    t.eq(waited(srv, other_agent, 1.5).get("status"), "open", "another agent's stays open")
    t.eq(waited(srv, other_action, 0).get("status"), "open", "another action's stays open")
    deny(srv, other_agent)
    deny(srv, other_action)
    return gid


def test_caps(srv):
    # max_count 1: one more, then no more.
    first = decide(srv, "bot-c", 200)
    st, ans = grant(srv, "lena", first, duration="1h", max_count=1)
    t.eq(st, 201, "grant with max_count 1: %r" % ans)
    gid = (ans.get("grant") or {}).get("id")
    one = decide(srv, "bot-c", 200)
    t.eq(waited(srv, one, 5).get("grant"), gid, "the first after it is approved by it")
    two = decide(srv, "bot-c", 200)
    t.eq(waited(srv, two, 1.5).get("status"), "open", "the count cap reached: stays open")
    g = grants(srv, "lena").get(gid, {})
    t.eq((g.get("used_count"), g.get("max_count"), g.get("active")), (1, 1, False),
         "the grant is used up")
    t.check(gid not in grants(srv, "lena", "?active=1"), "not listed as active")
    deny(srv, two)
    # max_amount 500: 300 fits, 300 more would not.
    first = decide(srv, "bot-d", 200)
    st, ans = grant(srv, "mia", first, hours=1, max_amount=500)
    t.eq(st, 201, "grant with max_amount 500: %r" % ans)
    gid = (ans.get("grant") or {}).get("id")
    one = decide(srv, "bot-d", 300)
    t.eq(waited(srv, one, 5).get("grant"), gid, "300 of 500 is approved by it")
    two = decide(srv, "bot-d", 300)
    t.eq(waited(srv, two, 1.5).get("status"), "open", "300 more would pass 500: stays open")
    g = grants(srv, "mia").get(gid, {})
    t.eq((g.get("used_amount"), g.get("max_amount")), (300, 500), "the amount used")
    deny(srv, two)


def test_revoke(srv, gid_a):
    first = decide(srv, "bot-e", 200)
    st, ans = grant(srv, "lena", first, hours=3)
    gid = (ans.get("grant") or {}).get("id", "g-0")
    t.eq(st, 201, "grant for bot-e")
    path = "/v1/grants/%s/revoke" % gid
    st, _, err = srv.call("POST", path, {"note": "no"}, token=srv.tokens["omar"])
    t.eq((st, code(err)), (403, "forbidden"), "an approver of another queue may not revoke")
    st, _, err = srv.call("POST", path, {"note": "no"}, token=srv.tokens["audra"])
    t.eq(st, 403, "an auditor may not revoke")
    st, _, g = srv.call("POST", path, {"note": "bot-e misbehaves"}, token=srv.tokens["mia"])
    t.eq((st, (g or {}).get("revoked"), (g or {}).get("revoked_by"), (g or {}).get("active")),
         (200, True, "mia", False), "an approver of its queue revokes it")
    t.check(bool((g or {}).get("revoked_at")), "revoked_at is set")
    st, _, err = srv.call("POST", path, {}, token=srv.tokens["lena"])
    t.eq((st, code(err)), (409, "already_revoked"), "revoking twice")
    later = decide(srv, "bot-e", 200)
    t.eq(waited(srv, later, 1.5).get("status"), "open", "a revoked grant approves nothing")
    deny(srv, later)
    st, _, err = srv.call("POST", "/v1/grants/g-999999/revoke", {}, token=srv.tokens["admin"])
    t.eq(st, 404, "no such grant")
    # The grantor revokes its own.
    st, _, g = srv.call("POST", "/v1/grants/%s/revoke" % gid_a, None, token=srv.tokens["lena"])
    t.eq((st, (g or {}).get("revoked_by")), (200, "lena"), "the grantor revokes its grant")
    # Reading: an auditor sees all, an approver of another queue none of these.
    every = grants(srv, "audra")
    t.check(gid in every and gid_a in every, "an auditor reads every grant")
    t.check(gid not in grants(srv, "audra", "?active=1"), "?active=1 leaves revoked ones out")
    t.eq(grants(srv, "omar"), {}, "omar (another queue) reads none of the leads' grants")


def test_refusals(srv):
    did = decide(srv, "bot-f", 200)
    st, ans = grant(srv, "audra", did, hours=1)
    t.eq(st, 403, "an auditor may not grant")
    st, ans = grant(srv, "omar", did, hours=1)
    t.eq((st, code(ans)), (403, "forbidden"), "an approver of another queue may not grant")
    st, ans = grant(srv, "lena", did, hours=9)
    t.eq(st, 400, "longer than the queue's max (8h): %r" % ans)
    st, ans = grant(srv, "lena", did)
    t.eq((st, code(ans)), (400, "invalid_request"), "no duration")
    st, ans = grant(srv, "lena", did, duration="soon")
    t.eq((st, code(ans)), (400, "invalid_request"), "a duration that is not one")
    t.eq(waited(srv, did, 0).get("status"), "open", "nothing recorded")
    deny(srv, did)
    pay = decide(srv, "bot-f", 10, action="pay", workflow="payouts")
    st, ans = grant(srv, "lena", pay, hours=1)
    t.eq((st, code(ans)), (403, "grants_not_allowed"), "a queue without standing_approvals")
    t.eq(waited(srv, pay, 0).get("status"), "open", "still open")
    deny(srv, pay)
    pair = decide(srv, "bot-f", 10, action="transfer", workflow="payouts")
    esc = waited(srv, pair, 0)
    t.eq(esc.get("policy", {}).get("standing_approvals_max_hours"), 8, "the policy's max")
    st, ans = grant(srv, "lena", pair, hours=1)
    t.eq((st, code(ans)), (409, "quorum"), "an escalation that needs two approvers")
    deny(srv, pair)


def rewrite(path, old, new):
    with open(path) as f:
        text = f.read()
    if old not in text:
        raise RuntimeError("%r is not in %s" % (old, path))
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def reload(srv, what):
    st, _, body = srv.call("POST", "/v1/admin/reload", token=srv.tokens["admin"])
    t.check(st == 200 and (body or {}).get("changed"), "reload: " + what)


def test_boundary(srv, charter):
    """Two escalations open; a tighter boundary (reloaded) catches one of
    them; the grant made from the other approves it, not the caught one."""
    free = decide(srv, "bot-g", 300)
    caught = decide(srv, "bot-g", 300, country="FR")
    rewrite(charter, 'when: has(input.country) && input.country == "XX"',
            "when: has(input.country)")
    reload(srv, "a boundary on every refund abroad")
    st, ans = grant(srv, "lena", free, hours=1)
    t.eq((st, (ans.get("escalation") or {}).get("status")), (201, "approved"),
         "the grant's own escalation passes the boundary")
    t.eq(waited(srv, caught, 2).get("status"), "open",
         "the grant does not approve one a boundary stops: it stays open for a person")
    st, _, err = srv.call("POST", "/v1/escalations/%s/resolve" % caught,
                          {"resolution": "approve"}, token=srv.tokens["mia"])
    t.eq((st, code(err)), (409, "boundary"), "a person's approval is refused by it too")
    deny(srv, caught)
    rewrite(charter, "when: has(input.country)",
            'when: has(input.country) && input.country == "XX"')
    reload(srv, "the boundary as it was")


def test_budget(srv):
    """An escalation at the start of a run; the run then spends its three
    actions; a grant made afterwards does not approve it (the run budget)."""
    run = "run-budget-%d" % time.time_ns()
    held = decide(srv, "bot-h", 300, run=run)
    for _ in range(3):
        decide(srv, "bot-h", 10, run=run, want="allow")
    first = decide(srv, "bot-h", 300)
    st, ans = grant(srv, "lena", first, hours=1)
    t.eq(st, 201, "grant for bot-h")
    t.eq(waited(srv, held, 2).get("status"), "open",
         "the grant does not take a run past its budget: it stays open")
    st, _, err = srv.call("POST", "/v1/escalations/%s/resolve" % held,
                          {"resolution": "approve"}, token=srv.tokens["lena"])
    t.eq((st, code(err)), (409, "stop_rule"), "nor may a person")
    deny(srv, held)


def main():
    work = tempfile.mkdtemp(prefix="charter-http-grants-")
    try:
        copy = os.path.join(work, "grants.yaml")
        shutil.copy(CHARTER, copy)
        leads = (["leads", "nogrants", "pair"], ["support-lead"])
        bots = ["bot-" + c for c in "abcdefgh"]
        with Server(copy, agents=bots,
                    approvers={"lena": leads, "mia": leads,
                               "omar": (["nogrants"], ["support-lead"])},
                    auditors=["audra"]) as srv:
            gid_a = test_grant_approves_the_same_kind(srv)
            test_caps(srv)
            test_revoke(srv, gid_a)
            test_refusals(srv)
            test_boundary(srv, copy)
            test_budget(srv)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
