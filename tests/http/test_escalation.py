"""test_escalation.py - the escalation path is never a way around the charter,
against a real `charter serve` on 127.0.0.1.

An approval is re-decided from the request as recorded, under the charter
serving now and the ledger's counters; when that denies, the approver gets a
409 saying what stopped it and the escalation stays open. A person taken off
a queue in the charter (reloaded) loses sight of it at once: the listing, the
decision read and the resolution all refuse. Every request has a timeout of
its own, and the whole script is bounded by ctest's TIMEOUT.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
t = Checks("http_escalation")


def req(amount, run=None, **input_extra):
    inp = {"amount": amount}
    inp.update(input_extra)
    return {"agent": "support-bot", "workflow": "refunds", "action": "issue_refund",
            "input": inp, "run_id": run or "run-%d" % time.time_ns()}


def rewrite(path, old, new):
    with open(path) as f:
        text = f.read()
    if old not in text:
        raise RuntimeError("%r is not in %s" % (old, path))
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def reload(srv, what):
    st, _, body = srv.call("POST", "/v1/admin/reload", token=srv.tokens["admin"])
    t.check(st == 200 and body.get("changed"), "reload: " + what)


def resolve(srv, who, decision_id, resolution):
    # A deny needs a note (400 note_required without one).
    return srv.call("POST", "/v1/escalations/%s/resolve" % decision_id,
                    {"resolution": resolution, "note": "checked: " + resolution},
                    token=srv.tokens[who])


def test_padded_approval_refused(srv, charter):
    """240,000 numbers 0.1 pad the request to 960 KB: serialized again they
    would pass the request limit; the recorded bytes are decided again."""
    bot = srv.tokens["support-bot"]
    text = '{"agent":"support-bot","workflow":"refunds","action":"issue_refund",' \
           '"run_id":"run-padded","input":{"amount":500,"pad":[%s]}}' % (
               ",".join(["0.1"] * 240000))
    t.check(900000 < len(text) < 1048576, "the padded request is under the body limit")
    st, _, esc = srv.call("POST", "/v1/decide", text, token=bot)
    t.eq((st, esc.get("decision")), (200, "escalate"), "the padded request escalates")
    rewrite(charter, 'when: has(input.country) && input.country == "XX"',
            'when: input.amount > 400')
    reload(srv, "a tighter boundary")
    st, _, err = resolve(srv, "lena", esc["decision_id"], "approve")
    t.eq(st, 409, "the approval is refused")
    code = (err or {}).get("error", {}).get("code")
    msg = (err or {}).get("error", {}).get("message", "")
    t.eq(code, "boundary", "the refusal names its kind")
    t.check("boundary 'no-foreign-refunds'" in msg and esc["decision_id"] in msg,
            "the refusal says which boundary stopped which decision: %r" % msg[:300])
    st, _, d = srv.call("GET", "/v1/decisions/%s" % esc["decision_id"], token=bot)
    t.eq((st, d["escalation"]["status"]), (200, "open"), "it stays open")
    st, _, res = resolve(srv, "lena", esc["decision_id"], "deny")
    t.eq((st, res.get("status")), (200, "denied"), "it can still be denied")
    rewrite(charter, 'when: input.amount > 400',
            'when: has(input.country) && input.country == "XX"')
    reload(srv, "the boundary as it was")


def test_budget_stops_approval(srv):
    """An escalation decided at the start of a run is approved after the run
    spent its five actions: the run budget stops it."""
    bot = srv.tokens["support-bot"]
    run = "run-budget-%d" % time.time_ns()
    st, _, esc = srv.call("POST", "/v1/decide", req(900, run), token=bot)
    t.eq(esc.get("decision"), "escalate", "escalated at the start of the run")
    for i in range(5):
        st, _, d = srv.call("POST", "/v1/decide", req(10, run), token=bot)
        t.eq(d.get("decision"), "allow", "action %d of the run" % (i + 1))
    st, _, err = resolve(srv, "lena", esc["decision_id"], "approve")
    t.eq((st, (err or {}).get("error", {}).get("code")), (409, "stop_rule"),
         "the run budget stops the approval")
    msg = (err or {}).get("error", {}).get("message", "")
    t.check("stop rule 'run-budget'" in msg,
            "the refusal names the stop rule: %r" % msg[:300])
    # Another agent's actions in a run of the same name are its own.
    other = srv.tokens["other-bot"]
    d = dict(req(10, run), agent="other-bot")
    st, _, ans = srv.call("POST", "/v1/decide", d, token=other)
    t.eq(ans.get("decision"), "allow", "another agent's run of the same name is its own")


def test_removed_approver_loses_sight(srv, charter):
    bot, lena, olaf = srv.tokens["support-bot"], srv.tokens["lena"], srv.tokens["olaf"]
    st, _, esc = srv.call("POST", "/v1/decide", req(700), token=bot)
    did = esc["decision_id"]
    st, _, lst = srv.call("GET", "/v1/escalations?queue=leads", token=lena)
    t.check(st == 200 and did in [e["decision_id"] for e in lst["escalations"]],
            "lena sees the leads queue")
    st, _, _ = srv.call("GET", "/v1/decisions/%s" % did, token=lena)
    t.eq(st, 200, "lena reads the decision")
    # The charter takes the queue from the role lena holds: olaf alone now.
    rewrite(charter, "- {id: leads, approvers: {roles: [support-lead]}",
            "- {id: leads, approvers: {members: [olaf]}")
    reload(srv, "leads approved by olaf alone")
    st, _, err = srv.call("GET", "/v1/escalations?queue=leads", token=lena)
    t.eq(st, 403, "lena may no longer list the leads queue")
    st, _, lst = srv.call("GET", "/v1/escalations?status=all", token=lena)
    t.check(st == 200 and did not in [e["decision_id"] for e in lst["escalations"]],
            "lena's listing no longer shows the leads queue")
    st, _, _ = srv.call("GET", "/v1/decisions/%s" % did, token=lena)
    t.eq(st, 403, "lena may no longer read the decision")
    st, _, _ = resolve(srv, "lena", did, "approve")
    t.eq(st, 403, "lena may no longer resolve it")
    # olaf's key is bound to queue quick only: the charter alone is not enough.
    st, _, _ = srv.call("GET", "/v1/decisions/%s" % did, token=olaf)
    t.eq(st, 403, "a member of the queue whose key is not bound to it reads nothing")
    rewrite(charter, "- {id: leads, approvers: {members: [olaf]}",
            "- {id: leads, approvers: {roles: [support-lead]}")
    reload(srv, "leads back to the support-lead role")
    st, _, _ = srv.call("GET", "/v1/decisions/%s" % did, token=lena)
    t.eq(st, 200, "restored, lena reads it again")


def main():
    work = tempfile.mkdtemp(prefix="charter-http-esc-")
    try:
        copy = os.path.join(work, "shop.yaml")
        shutil.copy(SHOP, copy)
        srv = Server(copy, agents=["support-bot", "other-bot"],
                     approvers={"lena": (["leads", "quick"], ["support-lead"]),
                                "olaf": (["quick"], ["support-lead"])})
        with srv:
            test_padded_approval_refused(srv, copy)
            test_budget_stops_approval(srv)
            test_removed_approver_loses_sight(srv, copy)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
