"""test_policies.py - a queue's approval policy over HTTP (issue 15): quorum,
notes and self-approval, against a real `charter serve` on 127.0.0.1.

Quorum: with `quorum: {count: 2, when: "input.amount > 5000"}` a large
payout needs two distinct approvers (the first approval is 202 and leaves it
open, the same approver again is 409 already_approved, one deny denies), a
small one needs one; `quorum: 2` needs two whatever the amount. Notes:
`require_note: always` refuses an approval without a note (400
note_required), the default refuses only a deny without one. Self-approval:
the agent's owner approving is 403 self_approval (a deny by the owner is
fine), unless the queue says `self_approval: true`. The escalation JSON
carries approvals, approvals_needed and, in the single view and with
detail=1, the policy and whether this approver may approve. Every request
has a timeout of its own; the script is bounded by ctest's TIMEOUT.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHARTER = os.path.join(HERE, "data", "policies.yaml")
t = Checks("http_policies")


def decide(srv, action, amount):
    body = {"agent": "pay-bot", "workflow": "payouts", "action": action,
            "input": {"amount": amount}, "run_id": "run-%d" % time.time_ns()}
    st, _, ans = srv.call("POST", "/v1/decide", body, token=srv.tokens["pay-bot"])
    t.eq((st, (ans or {}).get("decision")), (200, "escalate"),
         "%s %s escalates: %r" % (action, amount, ans))
    return (ans or {}).get("decision_id", "d-0")


def resolve(srv, who, did, resolution, note=None):
    body = {"resolution": resolution}
    if note is not None:
        body["note"] = note
    st, _, ans = srv.call("POST", "/v1/escalations/%s/resolve" % did, body,
                          token=srv.tokens[who])
    return st, ans or {}


def code(ans):
    return (ans.get("error") or {}).get("code")


def view(srv, who, did):
    st, _, esc = srv.call("GET", "/v1/escalations/%s" % did, token=srv.tokens[who])
    t.eq(st, 200, "GET /v1/escalations/%s as %s: %r" % (did, who, esc))
    return esc if st == 200 else {}


def who_approved(esc):
    return [a.get("who") for a in esc.get("approvals") or []]


def test_quorum(srv):
    did = decide(srv, "pay", 9000)
    esc = view(srv, "lena", did)
    t.eq((esc.get("approvals_needed"), esc.get("approvals")), (2, []),
         "a payout over 5000 needs two approvals, none yet")
    t.eq(esc.get("policy"), {"quorum": 2, "require_note": "deny", "self_approval": False,
                             "standing_approvals_max_hours": None},
         "the single view carries the queue's policy")
    t.eq((esc.get("may_approve"), esc.get("may_approve_why")), (True, None),
         "lena may approve")
    st, ans = resolve(srv, "lena", did, "approve", "looks right")
    t.eq((st, ans.get("status"), who_approved(ans), ans.get("approvals_needed")),
         (202, "open", ["lena"], 2), "the first approval is recorded; it stays open")
    st, ans = resolve(srv, "lena", did, "approve", "me again")
    t.eq((st, code(ans)), (409, "already_approved"), "the same approver twice")
    t.check(did in (ans.get("error") or {}).get("message", ""),
            "the message names the decision: %r" % ans)
    esc = view(srv, "lena", did)
    t.eq((esc.get("may_approve"), bool(esc.get("may_approve_why"))), (False, True),
         "lena may not approve again, and is told why")
    t.eq(view(srv, "mia", did).get("may_approve"), True, "mia may approve")
    # The listing shows the vote so far too.
    st, _, lst = srv.call("GET", "/v1/escalations?detail=1", token=srv.tokens["mia"])
    mine = [e for e in (lst or {}).get("escalations", []) if e["decision_id"] == did]
    t.check(st == 200 and len(mine) == 1 and who_approved(mine[0]) == ["lena"] and
            mine[0].get("approvals_needed") == 2 and
            mine[0].get("policy", {}).get("quorum") == 2,
            "the inbox with detail=1 shows approvals, approvals_needed, policy: %r" % mine)
    st, ans = resolve(srv, "mia", did, "approve")
    t.eq((st, ans.get("status"), who_approved(ans)), (200, "approved", ["lena", "mia"]),
         "the second distinct approver approves it; both are named")
    st, _, d = srv.call("GET", "/v1/decisions/%s" % did, token=srv.tokens["pay-bot"])
    t.eq((st, d.get("decision"), d.get("final")), (200, "allow", True),
         "the agent reads allow")
    # One deny denies, even after an approval.
    did = decide(srv, "pay", 7000)
    st, ans = resolve(srv, "mia", did, "approve")
    t.eq((st, ans.get("status")), (202, "open"), "one approval of two")
    st, ans = resolve(srv, "lena", did, "deny", "supplier not verified")
    t.eq((st, ans.get("status"), ans.get("resolved_by")), (200, "denied", "lena"),
         "one deny denies")
    # The `when`: a small payout needs one approval.
    did = decide(srv, "pay", 300)
    t.eq(view(srv, "lena", did).get("approvals_needed"), 1, "a payout of 300 needs one")
    st, ans = resolve(srv, "lena", did, "approve")
    t.eq((st, ans.get("status")), (200, "approved"), "one approval approves a small payout")
    # A plain quorum: two, whatever the amount.
    did = decide(srv, "transfer", 5)
    st, ans = resolve(srv, "mia", did, "approve")
    t.eq((st, ans.get("status"), ans.get("approvals_needed")), (202, "open", 2),
         "quorum: 2 needs two even for 5")
    st, ans = resolve(srv, "lena", did, "approve")
    t.eq((st, ans.get("status")), (200, "approved"), "two approvers approve the transfer")


def test_notes(srv):
    did = decide(srv, "refund", 50)
    esc = view(srv, "lena", did)
    t.eq(esc.get("policy", {}).get("require_note"), "always", "policy: note always")
    for note, what in ((None, "no note"), ("", "an empty note"), ("  \t", "a blank note")):
        st, ans = resolve(srv, "lena", did, "approve", note)
        t.eq((st, code(ans)), (400, "note_required"),
             "require_note always: approving with %s" % what)
    t.eq(view(srv, "lena", did).get("status"), "open", "still open after the refusals")
    st, ans = resolve(srv, "lena", did, "approve", "supplier refund agreed by phone")
    t.eq((st, ans.get("status"), ans.get("note")),
         (200, "approved", "supplier refund agreed by phone"), "approving with a note")
    # The default (require_note: deny): a deny needs a note, an approval not.
    did = decide(srv, "pay", 200)
    st, ans = resolve(srv, "lena", did, "deny")
    t.eq((st, code(ans)), (400, "note_required"), "require_note deny: a deny without a note")
    st, ans = resolve(srv, "lena", did, "approve")
    t.eq((st, ans.get("status")), (200, "approved"), "an approval needs no note there")


def test_self_approval(srv):
    did = decide(srv, "pay", 400)
    esc = view(srv, "omar", did)
    t.eq(esc.get("may_approve"), False, "omar owns pay-bot: may not approve")
    t.check("omar" in (esc.get("may_approve_why") or ""),
            "and is told why: %r" % esc.get("may_approve_why"))
    t.eq(view(srv, "audra", did).get("may_approve", "absent"), "absent",
         "an auditor's view has no may_approve")
    st, ans = resolve(srv, "omar", did, "approve", "my own bot, fine")
    t.eq((st, code(ans)), (403, "self_approval"), "the owner approving")
    t.eq(view(srv, "lena", did).get("status"), "open", "still open")
    st, ans = resolve(srv, "omar", did, "deny", "not this one")
    t.eq((st, ans.get("status")), (200, "denied"), "the owner may deny")
    # The owners queue allows it.
    did = decide(srv, "close", 0)
    esc = view(srv, "omar", did)
    t.eq((esc.get("policy", {}).get("self_approval"), esc.get("may_approve")), (True, True),
         "self_approval: true")
    st, ans = resolve(srv, "omar", did, "approve")
    t.eq((st, ans.get("status"), ans.get("resolved_by")), (200, "approved", "omar"),
         "the owner approves where the queue allows it")


def main():
    role = ["finance-lead"]
    queues = ["finance", "strict", "owners", "pair"]
    with Server(CHARTER, agents=["pay-bot"],
                approvers={"lena": (queues, role), "mia": (queues, role),
                           "omar": (queues, role)},
                auditors=["audra"]) as srv:
        test_quorum(srv)
        test_notes(srv)
        test_self_approval(srv)
    t.done()


if __name__ == "__main__":
    main()
