"""test_search.py - searching decisions through the derived index, against a
real `charter serve` on 127.0.0.1.

GET /v1/decisions filters (agent, rule, status, decision, reason, run id,
time), pages to the end with `next`, exports the filtered set as CSV (cells
protected against spreadsheet formulas) and JSON lines; an auditor may
search, an agent and an approver may not; GET /v1/charters lists every
recorded version and GET /v1/charters/{version} returns one; GET
/v1/rules/history counts a rule's escalations after approve, deny and a
timeout; GET /v1/decisions/{id} carries the history, outcomes and charter
version. The index deleted while the server is stopped is built again.
Every request has a timeout of its own; ctest's TIMEOUT bounds the whole.
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CHARTER, CLI_TIMEOUT, Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
t = Checks("http_search")

FORMULA_RUN = '=HYPERLINK("http://evil.example","click")'


def decide(srv, agent, amount, action="issue_refund", run=None, **extra):
    body = {"agent": agent, "workflow": "refunds", "action": action,
            "input": dict({"amount": amount}, **extra),
            "run_id": run or "run-%d" % time.time_ns()}
    st, _, ans = srv.call("POST", "/v1/decide", body, token=srv.tokens[agent])
    if st != 200:
        raise RuntimeError("decide: %s %s" % (st, ans))
    return ans


def search(srv, query="", who="aud"):
    return srv.call("GET", "/v1/decisions" + query, token=srv.tokens[who])


def wait_indexed(srv, want, what, status_settled=True):
    """Polls until the index holds `want` decisions (and, with
    status_settled, no escalation of the `quick` queue is still open)."""
    deadline = time.time() + 15
    body = None
    while time.time() < deadline:
        st, _, body = search(srv, "?limit=1000")
        if st == 200 and body["count"] == want and body["indexed_through"] == body["ledger_seq"]:
            if not status_settled or not any(
                    d["status"] == "open" and "closing" in d["rules"] for d in body["decisions"]):
                return body
        time.sleep(0.1)
    t.check(False, "%s: the index did not reach %d decisions: %r" % (what, want, body))
    return body


def ids(body):
    return [d["decision_id"] for d in body["decisions"]]


def fill(srv):
    """Ten decisions: returns the ids worth naming."""
    n = {}
    for i in range(3):
        decide(srv, "support-bot", 10 + i)
    n["approved"] = decide(srv, "support-bot", 500)["decision_id"]
    n["denied"] = decide(srv, "support-bot", 600)["decision_id"]
    n["boundary"] = decide(srv, "support-bot", 20, country="XX")["decision_id"]
    n["closing"] = decide(srv, "support-bot", 0, action="close_account")["decision_id"]
    decide(srv, "other-bot", 5, run="run-other")
    decide(srv, "other-bot", 6, run="run-other")
    n["formula"] = decide(srv, "other-bot", 7, run=FORMULA_RUN)["decision_id"]
    lena = srv.tokens["lena"]
    st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % n["approved"],
                        {"resolution": "approve", "note": "regular customer"}, token=lena)
    t.eq(st, 200, "lena approves the 500 refund")
    st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % n["denied"],
                        {"resolution": "deny", "note": "too much"}, token=lena)
    t.eq(st, 200, "lena denies the 600 refund")
    st, _, _ = srv.call("POST", "/v1/outcomes",
                        {"decision_id": n["approved"], "metric": "complaint", "value": 1,
                         "note": "called back"}, token=srv.tokens["admin"])
    t.eq(st, 201, "an outcome for the approved refund")
    return n


def test_filters(srv, n, all_ids):
    st, _, b = search(srv, "?agent=other-bot")
    t.eq((st, b["count"]), (200, 3), "agent=other-bot")
    st, _, b = search(srv, "?rule=large-refund")
    t.eq(ids(b), [n["denied"], n["approved"]], "rule=large-refund, newest first")
    st, _, b = search(srv, "?rule=no-foreign-refunds")
    t.eq(ids(b), [n["boundary"]], "rule matches a boundary id too")
    st, _, b = search(srv, "?status=approved")
    t.eq(ids(b), [n["approved"]], "status=approved")
    d = b["decisions"][0]
    t.eq((d["decision"], d["answered"], d["rules"], d["reason"]),
         ("allow", "escalate", ["large-refund"], "rule"), "an approved escalation reads allow")
    t.check(d["charter_version"].startswith("sha256:"), "a row has its charter version")
    st, _, b = search(srv, "?status=timed_out")
    t.eq(ids(b), [n["closing"]], "status=timed_out: the quick queue's 1 s deadline")
    st, _, b = search(srv, "?decision=deny")
    t.eq(sorted(ids(b)), sorted([n["denied"], n["boundary"], n["closing"]]),
         "decision=deny is the final effect")
    st, _, b = search(srv, "?decision=deny&reason=boundary")
    t.eq(ids(b), [n["boundary"]], "decision and reason combine")
    st, _, b = search(srv, "?run_id=run-other")
    t.eq(b["count"], 2, "run_id")
    st, _, b = search(srv, "?agent=support-bot&workflow=refunds&action=close_account")
    t.eq(ids(b), [n["closing"]], "agent, workflow and action combine")
    st, _, b = search(srv, "?since=2100-01-01")
    t.eq((st, b["count"]), (200, 0), "since in the future: nothing")
    st, _, b = search(srv, "?since=2020-01-01&until=2100-01-01")
    t.eq(b["count"], len(all_ids), "a window around now: everything")


def test_paging(srv, all_ids):
    seen, q, pages = [], "?limit=3", 0
    while True:
        st, _, b = search(srv, q)
        pages += 1
        if st != 200 or pages > 10:
            break
        seen += ids(b)
        if "next" not in b:
            break
        t.eq(b["next"], b["decisions"][-1]["decision_id"], "next is the page's last id")
        q = "?limit=3&before=" + b["next"]
    t.eq(seen, all_ids, "paging with next reaches the end once, in order")
    t.eq(pages, 4, "ten decisions in pages of three")
    st, _, b = search(srv, "?agent=support-bot&limit=2&before=" + all_ids[2])
    t.check(st == 200 and all(int(i[2:]) < int(all_ids[2][2:]) for i in ids(b)),
            "before= keeps to older decisions")


def test_bad_values(srv):
    for q, word in [("?decision=maybe", "allow, escalate or deny"),
                    ("?status=closed", "open, approved, denied or timed_out"),
                    ("?limit=0", "from 1 to 1000"), ("?limit=1001", "from 1 to 1000"),
                    ("?limit=ten", "whole number"), ("?before=7", "d-N"),
                    ("?since=yesterday", "RFC 3339"), ("?format=xml", "jsonl or csv")]:
        st, _, b = search(srv, q)
        msg = (b or {}).get("error", {}).get("message", "")
        t.check(st == 400 and b["error"]["code"] == "invalid_request" and word in msg,
                "%s -> 400 saying what was expected: %s %r" % (q, st, msg))
    st, _, b = srv.call("GET", "/v1/rules/history?rule=large-refund&days=0",
                        token=srv.tokens["admin"])
    t.eq(st, 400, "days=0 is refused")
    st, _, b = srv.call("GET", "/v1/rules/history", token=srv.tokens["admin"])
    t.eq(st, 400, "rule is required")


def test_export(srv, n, all_ids):
    st, h, raw = srv.raw("GET", "/v1/decisions?format=csv",
                         headers={"Authorization": "Bearer " + srv.tokens["aud"]})
    t.check(st == 200 and h.get("content-type", "").startswith("text/csv"),
            "csv export: %s %s" % (st, h.get("content-type")))
    t.check("attachment" in h.get("content-disposition", ""), "csv is a download")
    rows = list(csv.reader(io.StringIO(raw.decode())))
    t.eq(rows[0][:6], ["decision_id", "time", "agent", "workflow", "action", "decision"],
         "csv header")
    t.eq([r[0] for r in rows[1:]], all_ids, "csv holds the whole set, newest first")
    col = rows[0].index("run_id")
    formula = [r for r in rows if r[0] == n["formula"]][0]
    t.eq(formula[col], "'" + FORMULA_RUN, "a cell starting with = gets a leading '")
    t.check(not any(c and c[0] in "=+-@" for r in rows for c in r),
            "no cell of the CSV starts a formula")
    rules = rows[0].index("rules")
    approved = [r for r in rows if r[0] == n["approved"]][0]
    t.eq(approved[rules], "large-refund", "rules joined in one cell")
    st, h, raw = srv.raw("GET", "/v1/decisions?format=jsonl&agent=other-bot",
                         headers={"Authorization": "Bearer " + srv.tokens["admin"]})
    lines = [json.loads(x) for x in raw.decode().splitlines()]
    t.eq((st, len(lines)), (200, 3), "jsonl export of a filter")
    t.eq(lines[0]["decision_id"], n["formula"], "jsonl objects are the search's")
    t.eq(lines[0]["run_id"], FORMULA_RUN, "jsonl keeps values as they are")


def test_roles(srv):
    st, _, _ = search(srv, "", who="admin")
    t.eq(st, 200, "an admin searches")
    st, _, _ = search(srv, "", who="support-bot")
    t.eq(st, 403, "an agent may not search")
    st, _, _ = search(srv, "", who="lena")
    t.eq(st, 403, "an approver may not search every decision")
    st, _, _ = srv.call("GET", "/v1/decisions")
    t.eq(st, 401, "no key, no search")
    st, _, _ = srv.call("GET", "/v1/charters", token=srv.tokens["support-bot"])
    t.eq(st, 403, "an agent does not list charter versions")
    st, _, _ = srv.call("GET", "/v1/rules/history?rule=large-refund",
                        token=srv.tokens["support-bot"])
    t.eq(st, 403, "an agent does not read a rule's history")


def test_rule_history(srv):
    for who in ("lena", "aud", "admin"):
        st, _, b = srv.call("GET", "/v1/rules/history?rule=large-refund&days=30",
                            token=srv.tokens[who])
        t.eq((st, b), (200, {"rule": "large-refund", "days": 30, "escalated": 2,
                             "approved": 1, "denied": 1, "timed_out": 0, "open": 0}),
             "large-refund's history as %s" % who)
    st, _, b = srv.call("GET", "/v1/rules/history?rule=closing",
                        token=srv.tokens["lena"])
    t.eq((st, b["days"], b["escalated"], b["timed_out"]), (200, 30, 1, 1),
         "closing timed out once (days defaults to 30)")


def test_decision_page(srv, n):
    st, _, d = srv.call("GET", "/v1/decisions/" + n["approved"], token=srv.tokens["aud"])
    t.eq(st, 200, "the auditor reads the approved decision")
    t.check(d.get("charter_version", "").startswith("sha256:"), "it has its charter version")
    hist = [(e["event"], e.get("queue"), e.get("by"), e.get("note")) for e in d.get("history", [])]
    t.eq(hist, [("escalated", "leads", None, None),
                ("approved", "leads", "lena", "regular customer")], "its history")
    outs = [(o["metric"], o["value"], o["note"]) for o in d.get("outcomes", [])]
    t.eq(outs, [("complaint", 1.0, "called back")], "its outcomes")
    st, _, d = srv.call("GET", "/v1/decisions/" + n["closing"], token=srv.tokens["admin"])
    t.eq([e["event"] for e in d.get("history", [])], ["escalated", "timed_out"],
         "a timed-out escalation's history")
    st, _, d = srv.call("GET", "/v1/decisions/" + n["boundary"], token=srv.tokens["admin"])
    t.check("history" not in d and d.get("outcomes") == [],
            "a decision that was not escalated has outcomes but no history")


def test_charters(srv, charter):
    st, _, b = srv.call("GET", "/v1/charters", token=srv.tokens["lena"])
    t.eq((st, len(b["charters"])), (200, 1), "one version recorded")
    first = b["charters"][0]
    t.check(first["current"] and first["version"].startswith("sha256:") and
            first["name"] == "Test Shop" and first["seq"] >= 1, "it is current: %r" % first)
    with open(charter) as f:
        text = f.read()
    with open(charter, "w") as f:
        f.write(text.replace("Large refunds need a lead.", "Large refunds need a lead, now."))
    st, _, r = srv.call("POST", "/v1/admin/reload", token=srv.tokens["admin"])
    t.eq(st, 200, "reload a changed charter")
    deadline = time.time() + 10
    while time.time() < deadline:
        st, _, b = srv.call("GET", "/v1/charters", token=srv.tokens["aud"])
        if len(b["charters"]) == 2:
            break
        time.sleep(0.1)
    t.eq(len(b["charters"]), 2, "two versions once the new one is recorded")
    t.check(b["charters"][0]["current"] and not b["charters"][1]["current"] and
            b["charters"][1]["version"] == first["version"], "newest first, current marked")
    st, _, one = srv.call("GET", "/v1/charters/" + first["version"], token=srv.tokens["aud"])
    t.eq(st, 200, "one version")
    t.eq(one.get("version"), first["version"], "its version")
    msgs = [r.get("message") for r in one.get("charter", {}).get("rules", [])]
    t.check("Large refunds need a lead." in msgs, "the recorded canonical charter: %r" % msgs)
    st, _, _ = srv.call("GET", "/v1/charters/sha256:0000", token=srv.tokens["aud"])
    t.eq(st, 404, "an unknown version")
    st, _, _ = srv.call("GET", "/v1/charters/latest", token=srv.tokens["aud"])
    t.eq(st, 400, "not a version")


def main():
    work = tempfile.mkdtemp(prefix="charter-http-search-")
    try:
        copy = os.path.join(work, "shop.yaml")
        shutil.copy(SHOP, copy)
        srv = Server(copy, agents=["support-bot", "other-bot"], auditors=["aud"],
                     approvers={"lena": (["leads", "quick"], ["support-lead"])})
        with srv:
            n = fill(srv)
            body = wait_indexed(srv, 10, "after filling")
            all_ids = ids(body)
            t.eq(len(all_ids), 10, "ten decisions indexed")
            test_filters(srv, n, all_ids)
            test_paging(srv, all_ids)
            test_bad_values(srv)
            test_export(srv, n, all_ids)
            test_roles(srv)
            test_rule_history(srv)
            test_decision_page(srv, n)
            index = srv.side_file(".search")
            t.eq(os.stat(index).st_mode & 0o777, 0o600, "the index file is 0600")
            # Deleted while the server is stopped: built again at start.
            srv.stop()
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(index + suffix):
                    os.unlink(index + suffix)
            srv.start()
            again = wait_indexed(srv, 10, "after a restart without the index")
            t.eq(ids(again), all_ids, "the rebuilt index finds the same decisions")
            test_charters(srv, copy)
            p = subprocess.run([CHARTER, "verify", srv.ledger], capture_output=True,
                               text=True, timeout=CLI_TIMEOUT)
            t.eq(p.returncode, 0, "verify passes beside the index: %s" % p.stdout[-200:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
