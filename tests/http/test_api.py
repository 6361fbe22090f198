"""test_api.py - the HTTP API against a real `charter serve` on 127.0.0.1.

Each section starts what it needs through harness.Server and checks real
answers: deciding, long-polling an escalation while a person approves it,
the queue, deadlines, outcomes, briefs, reloads (endpoint and SIGHUP),
metrics, every auth refusal, limits and malformed input, slow clients,
failing closed when the ledger is locked, and a clean SIGTERM after which
a restart finds the open escalations again.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks, charter_cli, pg_skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
t = Checks("http_api")


def req(action="issue_refund", amount=20, **extra):
    r = {"agent": "support-bot", "workflow": "refunds", "action": action,
         "input": {"amount": amount}, "run_id": "run-%d" % time.time_ns()}
    r.update(extra)
    return r


def server(**kw):
    kw.setdefault("agents", ["support-bot", "other-bot"])
    kw.setdefault("approvers", {"lena": (["leads", "quick"], ["support-lead"]),
                                "olaf": (["quick"], ["support-lead"])})
    kw.setdefault("auditors", ["audra"])
    return Server(SHOP, **kw)


def test_decide_and_decisions(srv):
    bot = srv.tokens["support-bot"]
    st, h, body = srv.call("POST", "/v1/decide", req(amount=20), token=bot,
                           headers={"X-Request-ID": "abc-123"})
    t.eq(st, 200, "small refund status")
    t.eq(body["decision"], "allow", "small refund allowed")
    t.eq(h.get("x-request-id"), "abc-123", "X-Request-ID echoed")
    t.check(body["decision_id"].startswith("d-"), "answer carries a decision id")
    # The agent is taken from the key when the request does not name one.
    r = req(amount=5)
    del r["agent"]
    st, _, b2 = srv.call("POST", "/v1/decide", r, token=bot)
    t.eq((st, b2.get("decision")), (200, "allow"), "request without agent decides as the key")
    # A claimed time is ignored: the server's clock decides.
    st, _, b3 = srv.call("POST", "/v1/decide", req(amount=5, time="2001-01-01T00:00:00Z"),
                         token=bot)
    t.check(st == 200 and not b3["time"].startswith("2001"), "a claimed time is ignored")
    st, _, body = srv.call("POST", "/v1/decide", req(amount=20, input={"amount": 20,
                                                                       "country": "XX"}),
                           token=bot)
    t.eq((body["decision"], body["reason"]), ("deny", "boundary"), "boundary denies")
    st, _, got = srv.call("GET", "/v1/decisions/" + b2["decision_id"], token=bot)
    t.eq(st, 200, "agent reads its decision")
    t.eq(got["decision"], "allow", "recorded decision")
    t.eq(got["request"]["agent"], "support-bot", "recorded request")
    st, _, _ = srv.call("GET", "/v1/decisions/" + b2["decision_id"],
                        token=srv.tokens["other-bot"])
    t.eq(st, 403, "another agent cannot read it")
    st, _, _ = srv.call("GET", "/v1/decisions/d-99999", token=srv.tokens["admin"])
    t.eq(st, 404, "unknown decision")
    st, _, _ = srv.call("GET", "/v1/decisions/x", token=srv.tokens["admin"])
    t.eq(st, 404, "malformed decision id")


def test_escalation_flow(srv):
    bot, lena, olaf = srv.tokens["support-bot"], srv.tokens["lena"], srv.tokens["olaf"]
    st, _, esc = srv.call("POST", "/v1/decide", req(amount=500), token=bot)
    t.eq(esc["decision"], "escalate", "large refund escalates")
    did = esc["decision_id"]
    t.eq(esc["escalation"]["queue"], "leads", "queue named")
    st, _, lst = srv.call("GET", "/v1/escalations?queue=leads", token=lena)
    t.check(st == 200 and did in [e["decision_id"] for e in lst["escalations"]],
            "approver lists the open escalation")
    st, _, _ = srv.call("GET", "/v1/escalations?queue=leads", token=olaf)
    t.eq(st, 403, "approver of another queue cannot list leads")
    st, _, _ = srv.call("GET", "/v1/escalations?status=bogus", token=lena)
    t.eq(st, 400, "bad status filter")
    st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % did,
                        {"resolution": "approve"}, token=olaf)
    t.eq(st, 403, "approver of another queue cannot resolve")
    st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % did,
                        {"resolution": "maybe"}, token=lena)
    t.eq(st, 400, "bad resolution")

    # Many agents long-poll at once (more than the server has event
    # threads): each waits on a worker, decisions keep being answered
    # meanwhile, and one resolution ends every wait.
    st, _, many = srv.call("POST", "/v1/decide", req(amount=300), token=bot)
    polls = []

    def poll_many():
        polls.append(srv.call("GET", "/v1/decisions/%s?wait=20" % many["decision_id"],
                              token=bot, timeout=30))

    crowd = [threading.Thread(target=poll_many) for _ in range(24)]
    for th in crowd:
        th.start()
    time.sleep(0.5)
    t0 = time.time()
    answered = [srv.call("POST", "/v1/decide", req(amount=1), token=bot)[0]
                for _ in range(20)]
    t.check(answered == [200] * 20 and time.time() - t0 < 5,
            "decisions answered while 24 long polls wait")
    st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % many["decision_id"],
                        {"resolution": "deny", "note": "not now"}, token=lena)
    for th in crowd:
        th.join(30)
    t.check(len(polls) == 24 and all(p[0] == 200 and p[2]["decision"] == "deny"
                                     and p[2]["final"] for p in polls),
            "every long poll learns the resolution")

    # The agent long-polls; a person approves meanwhile; the agent learns it.
    result = {}

    def wait():
        result["t0"] = time.time()
        result["r"] = srv.call("GET", "/v1/decisions/%s?wait=20" % did, token=bot,
                               timeout=30)
        result["t1"] = time.time()

    th = threading.Thread(target=wait)
    th.start()
    time.sleep(0.5)
    st, _, res = srv.call("POST", "/v1/escalations/%s/resolve" % did,
                          {"resolution": "approve", "note": "customer of 9 years"},
                          token=lena)
    th.join(30)
    t.eq(st, 200, "approver resolves")
    t.eq(res["status"], "approved", "resolution status")
    st2, _, polled = result["r"]
    t.eq(st2, 200, "long poll answered")
    t.eq(polled["decision"], "allow", "agent learns the approval")
    t.check(polled["final"], "final after approval")
    t.eq(polled["escalation"]["resolved_by"], "lena", "who approved")
    t.check(result["t1"] - result["t0"] < 10, "long poll returned at the resolution")
    st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % did,
                        {"resolution": "deny", "note": "not now"}, token=lena)
    t.eq(st, 409, "resolving twice is a conflict")
    st, _, small = srv.call("POST", "/v1/decide", req(amount=1), token=bot)
    st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % small["decision_id"],
                        {"resolution": "approve"}, token=lena)
    t.eq(st, 404, "an allowed decision has no escalation")
    # A wait that nobody ends returns the open state after its time.
    st, _, esc2 = srv.call("POST", "/v1/decide", req(amount=300), token=bot)
    t0 = time.time()
    st, _, polled = srv.call("GET", "/v1/decisions/%s?wait=1" % esc2["decision_id"],
                             token=bot)
    t.check(st == 200 and polled["decision"] == "escalate" and not polled["final"],
            "unanswered long poll returns pending")
    t.check(0.8 < time.time() - t0 < 5, "long poll waited about its time")
    return esc2["decision_id"]


def test_deadline(srv):
    bot = srv.tokens["support-bot"]
    st, _, esc = srv.call("POST", "/v1/decide", req(action="close_account"), token=bot)
    t.eq(esc["escalation"]["queue"], "quick", "quick queue")
    st, _, polled = srv.call("GET", "/v1/decisions/%s?wait=6" % esc["decision_id"],
                             token=bot, timeout=15)
    t.eq(polled["decision"], "deny", "deadline passed: on_timeout deny")
    t.check(polled["escalation"].get("timed_out") is True, "marked timed out")
    t.eq(polled["escalation"].get("resolved_by"), "timeout", "resolved by the timeout")


def test_boundary_not_approvable(srv, charter_copy):
    bot, lena, admin = srv.tokens["support-bot"], srv.tokens["lena"], srv.tokens["admin"]
    st, _, esc = srv.call("POST", "/v1/decide",
                          req(amount=900, input={"amount": 900, "country": "YY"}), token=bot)
    t.eq(esc["decision"], "escalate", "escalated before the new boundary")
    with open(charter_copy) as f:
        text = f.read()
    with open(charter_copy, "w") as f:
        f.write(text.replace('input.country == "XX"', 'input.country in ["XX", "YY"]'))
    st, _, rl = srv.call("POST", "/v1/admin/reload", token=admin)
    t.check(st == 200 and rl["changed"], "reload with a new boundary")
    st, _, err = srv.call("POST", "/v1/escalations/%s/resolve" % esc["decision_id"],
                          {"resolution": "approve"}, token=lena)
    t.eq((st, err["error"]["code"]), (409, "boundary"), "a boundary cannot be approved away")
    st, _, res = srv.call("POST", "/v1/escalations/%s/resolve" % esc["decision_id"],
                          {"resolution": "deny", "note": "not now"}, token=lena)
    t.eq((st, res["status"]), (200, "denied"), "it can still be denied")


def test_reload(srv, charter_copy):
    admin = srv.tokens["admin"]
    st, _, h0 = srv.call("GET", "/healthz")
    backend = "postgresql" if os.environ.get("CHARTER_TEST_LEDGER") == "pg" else "sqlite"
    t.eq((h0.get("server"), h0.get("ledger", {}).get("backend"), h0.get("lease")),
         ("%s:%d" % (socket.gethostname(), srv.proc.pid), backend, True),
         "/healthz names this server (HOSTNAME:PID), the ledger's backend, the lease")
    with open(charter_copy) as f:
        good = f.read()
    with open(charter_copy, "w") as f:
        f.write(good.replace("effect: escalate", "effect: sometimes", 1))
    st, _, err = srv.call("POST", "/v1/admin/reload", token=admin)
    t.eq(st, 422, "a charter that fails to load is refused")
    t.check("shop.yaml:" in err["error"]["message"], "the refusal names file:line")
    st, _, h1 = srv.call("GET", "/healthz")
    t.eq(h1["charter_version"], h0["charter_version"], "the running charter keeps serving")
    st, _, d = srv.call("POST", "/v1/decide", req(amount=2), token=srv.tokens["support-bot"])
    t.eq(d["decision"], "allow", "still deciding after a refused reload")
    with open(charter_copy, "w") as f:
        f.write(good.replace("input.amount > 100", "input.amount > 150"))
    srv.signal(signal.SIGHUP)
    deadline = time.time() + 10
    h2 = h1
    while time.time() < deadline and h2["charter_version"] == h1["charter_version"]:
        time.sleep(0.1)
        _, _, h2 = srv.call("GET", "/healthz")
    t.check(h2["charter_version"] != h1["charter_version"], "SIGHUP reloads")
    st, _, _ = srv.call("POST", "/v1/admin/reload", token=srv.tokens["support-bot"])
    t.eq(st, 403, "an agent cannot reload")


def test_outcomes_and_brief(srv):
    bot, other, admin = (srv.tokens["support-bot"], srv.tokens["other-bot"],
                         srv.tokens["admin"])
    _, _, d = srv.call("POST", "/v1/decide", req(amount=3), token=bot)
    st, _, o = srv.call("POST", "/v1/outcomes", {"decision_id": d["decision_id"],
                                                 "metric": "complaint", "value": 1},
                        token=bot)
    t.eq(st, 201, "agent reports an outcome of its decision")
    st, _, _ = srv.call("POST", "/v1/outcomes", {"decision_id": d["decision_id"],
                                                 "metric": "complaint", "value": 1},
                        token=other)
    t.eq(st, 403, "another agent cannot report on it")
    st, _, _ = srv.call("POST", "/v1/outcomes",
                        {"workflow": "refunds", "from": "2026-11-01T00:00:00Z",
                         "to": "2026-12-01T00:00:00Z", "metric": "churn", "value": 0.02},
                        token=admin)
    t.eq(st, 201, "admin reports a workflow outcome")
    st, _, _ = srv.call("POST", "/v1/outcomes", {"metric": "churn"}, token=admin)
    t.eq(st, 400, "an outcome without value or target")
    st, h, brief = srv.call("GET", "/v1/brief", token=bot)
    t.check(st == 200 and "support-bot" in brief and
            h["content-type"].startswith("text/markdown"), "agent reads its brief")
    st, _, _ = srv.call("GET", "/v1/brief?agent=other-bot", token=bot)
    t.eq(st, 403, "an agent cannot read another's brief")
    st, _, _ = srv.call("GET", "/v1/brief?agent=nobody", token=admin)
    t.eq(st, 404, "brief of an unknown agent")


def test_auth_and_input(srv):
    bot, lena = srv.tokens["support-bot"], srv.tokens["lena"]
    st, h, e = srv.call("POST", "/v1/decide", req())
    t.eq((st, e["error"]["code"]), (401, "unauthenticated"), "no token")
    t.check("bearer" in h.get("www-authenticate", "").lower(), "WWW-Authenticate")
    st, _, _ = srv.call("POST", "/v1/decide", req(), token=bot[:-4] + "AAAA")
    t.eq(st, 401, "a wrong secret")
    st, _, _ = srv.call("POST", "/v1/decide", req(), token="chk_000000000000_x")
    t.eq(st, 401, "an unknown key")
    st, _, e = srv.call("POST", "/v1/decide", req(agent="other-bot"), token=bot)
    t.eq((st, e["error"]["code"]), (403, "agent_mismatch"), "deciding as another agent")
    st, _, _ = srv.call("POST", "/v1/decide", req(), token=lena)
    t.eq(st, 403, "an approver cannot decide")
    st, _, _ = srv.call("GET", "/v1/escalations", token=bot)
    t.eq(st, 403, "an agent cannot list escalations")
    st, _, e = srv.call("POST", "/v1/decide", "{not json", token=bot)
    t.eq((st, e["error"]["code"]), (400, "malformed_json"), "malformed JSON")
    st, _, e = srv.call("POST", "/v1/decide", "", token=bot)
    t.eq(st, 400, "empty body")
    st, _, e = srv.call("POST", "/v1/decide", "[1,2]", token=bot)
    t.eq(st, 400, "a JSON array")
    st, _, e = srv.call("POST", "/v1/decide", "[" * 5000 + "]" * 5000, token=bot)
    t.eq((st, e["error"]["code"]), (400, "too_deep"), "nesting thousands deep")
    st, _, e = srv.call("POST", "/v1/decide", req(workflow=None), token=bot)
    t.eq(st, 400, "an invalid request")
    st, _, e = srv.call("POST", "/v1/decide", req(bogus_field=1), token=bot)
    t.eq(st, 400, "an unknown request field")
    st, _, e = srv.call("POST", "/v1/decide",
                        req(input={"amount": 1, "blob": "x" * (2 << 20)}), token=bot)
    t.eq((st, e["error"]["code"]), (413, "too_large"), "a body over the limit")
    st, _, e = srv.call("POST", "/v1/decide", b'{"agent":"support-bot","workflow":"\xff\xfe"}',
                        token=bot)
    t.eq(st, 400, "invalid UTF-8")
    st, h, _ = srv.raw("GET", "/v1/decide")
    t.eq(st, 405, "wrong method")
    t.check("POST" in h.get("allow", ""), "Allow header")
    st, _, _ = srv.raw("GET", "/v1/nothing")
    t.eq(st, 404, "unknown path")
    try:
        st, _, _ = srv.raw("GET", "/healthz", headers={"X-Big": "a" * 40000})
    except (ConnectionError, OSError):
        st = "closed"
    t.eq(st, 431, "oversized headers refused")
    # Faults in the HTTP framing: answered by the HTTP library, connection closed.
    t.eq(raw_status(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"), 400,
         "a malformed header line")
    t.eq(raw_status(srv, b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"), 505,
         "an unsupported HTTP version")
    t.eq(raw_status(srv, b"POST /v1/decide HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"), 400,
         "a malformed chunked body")
    # Bad input changed nothing: every decision so far is in a verifying ledger.
    st, _, m = srv.call("GET", "/metrics")
    t.check("charter_decisions_total" in m, "metrics text")


def raw_status(srv, data):
    """Sends bytes on a fresh connection; the status of the answer, or
    None when the server closed without one."""
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(data)
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                return None
            head += chunk
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def test_slow_client(srv):
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    s.sendall(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\n")  # never finishes
    t0 = time.time()
    try:
        data = s.recv(100)
    except (ConnectionError, socket.timeout):
        data = b""
    closed_after = time.time() - t0
    s.close()
    t.check(data == b"" and closed_after < 8, "a half-open client is dropped (%.1fs)"
            % closed_after)


def test_abandoned_requests(srv):
    """Clients that send a decision and hang up before the answer: each
    decision the ledger recorded is still settled (its escalation is open
    in the server), and nothing stays counted in flight (the clean stop at
    the end waits for that)."""
    bot = srv.tokens["support-bot"]
    body = json.dumps(req(amount=300)).encode()
    head = ("POST /v1/decide HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (bot, len(body))).encode()
    for _ in range(30):
        s = socket.create_connection((srv.host, srv.port), timeout=10)
        s.sendall(head + body)
        s.close()
    time.sleep(1.5)
    st, _, _ = srv.call("POST", "/v1/decide", req(amount=1), token=bot)
    t.eq(st, 200, "the server answers after 30 abandoned decisions")


def settled_escalations(srv):
    st, _, lst = srv.call("GET", "/v1/escalations?status=all", token=srv.tokens["admin"])
    return {e["decision_id"] for e in lst.get("escalations", [])}


def test_escalation_pages(srv):
    """The listing comes in pages: following `next` gives every escalation
    once, in decision order, each page at most `limit` long."""
    admin = srv.tokens["admin"]
    st, _, whole = srv.call("GET", "/v1/escalations?status=all", token=admin)
    want = [e["decision_id"] for e in whole["escalations"]]
    t.check(st == 200 and len(want) > 30 and "next" not in whole,
            "one page holds them all under the default limit (%d)" % len(want))
    got, after, pages, longest = [], None, 0, 0
    while pages < 100:
        q = "/v1/escalations?status=all&limit=7" + ("&after=" + after if after else "")
        st, _, page = srv.call("GET", q, token=admin)
        if st != 200:
            break
        pages += 1
        ids = [e["decision_id"] for e in page["escalations"]]
        longest = max(longest, len(ids))
        got += ids
        after = page.get("next")
        if not after:
            break
        t.check(after == ids[-1], "next is the page's last decision id")
    t.eq(got, want, "pages of 7 give every escalation once, in order")
    t.check(longest == 7 and pages == (len(want) + 6) // 7, "pages are full but the last")
    for bad in ("limit=0", "limit=10001", "limit=x", "after=x", "after=d-"):
        st, _, e = srv.call("GET", "/v1/escalations?" + bad, token=admin)
        t.eq((st, (e or {}).get("error", {}).get("code")), (400, "invalid_request"), bad)


def test_metrics(srv):
    st, h, m = srv.call("GET", "/metrics")
    t.eq(st, 200, "metrics")
    t.check(h["content-type"].startswith("text/plain"), "prometheus content type")
    for name in ("charter_decisions_total{result=\"allow\"}",
                 "charter_decision_seconds_bucket{le=\"+Inf\"}",
                 "charter_escalations_open", "charter_ledger_commit_batch_size_bucket"):
        t.check(name in m, "metric %s" % name)
    allow = [l for l in m.splitlines() if l.startswith('charter_decisions_total{result="allow"}')]
    t.check(allow and int(allow[0].split()[-1]) > 0, "allow counter counts")
    # Conflicts with other servers: none for a server alone on its ledger.
    t.check("\ncharter_ledger_conflicts_total 0\n" in m, "no conflicts on one server")


def test_analyses(srv):
    admin, bot = srv.tokens["admin"], srv.tokens["support-bot"]
    st, _, rep = srv.call("GET", "/v1/report?by=week", token=admin)
    t.eq(st, 200, "report over HTTP")
    t.eq(rep.get("analysis"), "report", "the report's JSON, as the command prints it")
    agents = json.dumps(rep.get("agents", rep))
    t.check("support-bot" in agents, "the report counts the decisions made here")
    st, h, md = srv.call("GET", "/v1/report?format=md", token=admin)
    t.check(st == 200 and h["content-type"].startswith("text/markdown"), "report as Markdown")
    st, _, m = srv.call("GET", "/v1/map", token=admin)
    t.check(st == 200 and m.get("analysis") == "map", "readiness map over HTTP")
    st, h, svg = srv.call("GET", "/v1/map?format=svg", token=admin)
    t.check(st == 200 and h["content-type"] == "image/svg+xml" and "<svg" in svg,
            "readiness map as SVG")
    st, _, c = srv.call("GET", "/v1/consistency", token=admin)
    t.check(st == 200 and c.get("analysis") == "consistency", "consistency over HTTP")
    st, _, _ = srv.call("GET", "/v1/report", token=bot)
    t.eq(st, 403, "an agent cannot read the report")
    st, _, _ = srv.call("GET", "/v1/report?by=year", token=admin)
    t.eq(st, 400, "a bad period")
    st, _, _ = srv.call("GET", "/v1/map?format=svgz", token=admin)
    t.eq(st, 400, "a bad format")


def test_auditor(srv):
    """An auditor key reads everything and changes nothing."""
    audra, bot = srv.tokens["audra"], srv.tokens["support-bot"]
    st, _, esc = srv.call("POST", "/v1/decide", req(amount=500), token=bot)
    did = esc["decision_id"]
    st, _, d = srv.call("GET", "/v1/decisions/" + did, token=audra)
    t.check(st == 200 and d["decision_id"] == did, "an auditor reads any decision")
    st, _, lst = srv.call("GET", "/v1/escalations?status=all", token=audra)
    t.check(st == 200 and did in [e["decision_id"] for e in lst["escalations"]],
            "an auditor lists every queue's escalations")
    for path in ("/v1/report", "/v1/map", "/v1/consistency"):
        st, _, _ = srv.call("GET", path, token=audra)
        t.eq(st, 200, "an auditor reads " + path)
    st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % did,
                        {"resolution": "approve", "note": "x"}, token=audra)
    t.eq(st, 403, "an auditor cannot resolve")
    st, _, _ = srv.call("POST", "/v1/decide", req(), token=audra)
    t.eq(st, 403, "an auditor cannot decide")
    st, _, _ = srv.call("POST", "/v1/admin/reload", token=audra)
    t.eq(st, 403, "an auditor cannot reload")
    st, _, _ = srv.call("POST", "/v1/outcomes", {"decision_id": did, "metric": "m",
                                                 "value": 1}, token=audra)
    t.eq(st, 403, "an auditor cannot report outcomes")
    st, _, _ = srv.call("POST", "/access/v1/evaluation", {}, token=audra)
    t.eq(st, 403, "an auditor cannot evaluate")


def test_ledger_locked():
    """The ledger cannot be written: decide answers a 503 deny, then recovers."""
    if pg_skip(t, "test_ledger_locked", "it holds SQLite's write lock with BEGIN EXCLUSIVE; "
               "on PostgreSQL, test_multi_crash.py stops the database under load instead"):
        return
    with server(extra_args=[]) as srv:
        bot = srv.tokens["support-bot"]
        srv.call("POST", "/v1/decide", req(amount=1), token=bot)
        db = sqlite3.connect(srv.ledger, timeout=1, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        st, _, body = srv.call("POST", "/v1/decide", req(amount=2), token=bot, timeout=30)
        t.eq(st, 503, "ledger locked: 503")
        t.eq((body["decision"], body["reason"]), ("deny", "ledger_unavailable"),
             "fail closed with a deny")
        db.execute("ROLLBACK")
        db.close()
        st, _, body = srv.call("POST", "/v1/decide", req(amount=3), token=bot)
        t.eq((st, body["decision"]), (200, "allow"), "recovers once the ledger is free")


def test_restart(workdir):
    """SIGTERM exits 0; a restart finds the open escalation and counts."""
    shop = os.path.join(workdir, "shop.yaml")
    shutil.copy(SHOP, shop)
    srv = Server(shop, agents=["support-bot"], approvers={"lena": (["leads"], ["support-lead"])},
                 workdir=workdir).start()
    bot = srv.tokens["support-bot"]
    _, _, esc = srv.call("POST", "/v1/decide", req(amount=700), token=bot)
    code = srv.stop()
    t.eq(code, 0, "SIGTERM exits 0")
    srv2 = Server(shop, workdir=workdir).start()
    srv2.tokens = srv.tokens
    st, _, lst = srv2.call("GET", "/v1/escalations?queue=leads", token=srv.tokens["lena"])
    ids = [e["decision_id"] for e in lst.get("escalations", [])]
    t.check(esc["decision_id"] in ids, "the open escalation is back after a restart")
    srv2.stop()
    v = charter_cli("verify", srv.ledger, check=False)
    t.eq(v.returncode, 0, "the ledger verifies after the restart")


def main():
    work = tempfile.mkdtemp(prefix="charter-http-test-")
    try:
        copy = os.path.join(work, "shop.yaml")
        shutil.copy(SHOP, copy)
        srv = Server(copy, agents=["support-bot", "other-bot"],
                     approvers={"lena": (["leads", "quick"], ["support-lead"]),
                                "olaf": (["quick"], ["support-lead"])},
                     auditors=["audra"],
                     extra_args=["--max-body", "1048576", "--idle-timeout", "2"])
        with srv:
            test_decide_and_decisions(srv)
            test_escalation_flow(srv)
            test_deadline(srv)
            test_outcomes_and_brief(srv)
            test_auth_and_input(srv)
            test_slow_client(srv)
            test_abandoned_requests(srv)
            test_escalation_pages(srv)
            test_metrics(srv)
            test_analyses(srv)
            test_auditor(srv)
            test_boundary_not_approvable(srv, copy)
            test_reload(srv, copy)
            ledger = srv.ledger
            settled = settled_escalations(srv)
            code = srv.stop()
            t.eq(code, 0, "clean stop")
            v = charter_cli("verify", ledger, check=False)
            t.eq(v.returncode, 0, "the ledger verifies: " + v.stdout.strip())
            exp = charter_cli("export", ledger, "--format", "jsonl").stdout.splitlines()
            kinds = [json.loads(l)["kind"] for l in exp]
            t.check(kinds.count("charter") >= 2, "reloaded charter versions are recorded")
            t.check("escalation_resolved" in kinds, "resolutions are recorded")
            t.check("outcome" in kinds, "outcomes are recorded")
            recorded = {"d-%d" % json.loads(l)["seq"] for l in exp
                        if json.loads(l)["kind"] == "decision"
                        and json.loads(l)["payload"]["answer"]["decision"] == "escalate"}
            t.check(len(recorded) > 30 and recorded <= settled,
                    "every recorded escalation is known to the server, abandoned "
                    "ones too (%d recorded, %d missing)"
                    % (len(recorded), len(recorded - settled)))
        test_ledger_locked()
        rdir = os.path.join(work, "restart")
        os.makedirs(rdir)
        test_restart(rdir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
