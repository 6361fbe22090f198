"""test_authzen.py - the AuthZEN Authorization API 1.0 endpoints of `charter serve`.

Runs, against a real server per set (harness.py), every evaluation and batch
case of the working group's data in the conformance folder (given as the
first argument or AUTHZEN_CONFORMANCE_DIR; the test is SKIPPED, exit 77,
when it is absent):

  certification  certification_cases.json (the scenario's request cases,
                 200 and 400) under tests/http/authzen/certification.yaml,
                 plus the checks the scenario states in prose: non-JSON,
                 empty body and wrong Content-Type are 400, X-Request-ID is
                 echoed, a repeated request gets the same decision, discovery.
                 The search cases (c-4) are counted as skipped: Charter
                 offers no search endpoints.
  todo           interop/authzen-todo-backend decisions (draft 02 = 1.0
                 format) under todo.yaml
  gateway        interop/authzen-api-gateways decisions under gateway.yaml
  charter        what Charter adds (extras.yaml): obligations, escalations,
                 boundaries, shadow agents, agent keys, batch semantics, the
                 ledger recording every evaluation.

Prints the pass counts per set and ends with the 'N passed, N failed' line.
"""
import json
import os
import socket
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CHARTER, Checks, Server, pg_skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "authzen")
EVAL = "/access/v1/evaluation"
EVALS = "/access/v1/evaluations"
CONFIG = "/.well-known/authzen-configuration"

checks = Checks("authzen")
per_set = {}


def count(set_name, ok, what):
    passed, failed = per_set.get(set_name, (0, 0))
    per_set[set_name] = (passed + 1, failed) if ok else (passed, failed + 1)
    return checks.check(ok, f"[{set_name}] {what}")


def decisions_of(body):
    """The decision(s) of a response: a bool, a list of bools, or None."""
    if not isinstance(body, dict):
        return None
    if "evaluations" in body:
        ev = body["evaluations"]
        if not isinstance(ev, list) or not all(isinstance(e, dict) for e in ev):
            return None
        return [e.get("decision") for e in ev]
    return body.get("decision")


def well_formed(body):
    """Every decision is a boolean (the response schema's one requirement)."""
    d = decisions_of(body)
    if isinstance(d, list):
        return all(isinstance(x, bool) for x in d)
    return isinstance(d, bool)


def raw_template(text):
    """An expected_body_raw with <boolean>/<context> placeholders as JSON, the
    placeholders as None (anything of the right shape)."""
    t = text.replace("<boolean>", "null").replace("<context>", "null")
    try:
        return json.loads(t)
    except ValueError:
        return None


def matches_template(got, want):
    """`got` decisions fit the template: same count, fixed values equal."""
    g, w = decisions_of(got), decisions_of(want)
    if isinstance(w, list):
        return isinstance(g, list) and len(g) == len(w) and all(
            x is None or x == y for x, y in zip(w, g))
    return w is None or g == w


def stopped_cleanly(set_name, srv):
    """SIGTERM ends the server with 0 (a sanitizer build exits otherwise on
    a leak or memory error)."""
    code = srv.stop()
    count(set_name, code == 0, f"server stopped with {code}: {srv.stderr_text()[-2000:]}")


# ---- certification ------------------------------------------------------------------

def run_certification(base):
    cases = json.load(open(os.path.join(base, "certification_cases.json")))["cases"]
    skipped = [c for c in cases if "/search/" in c["endpoint"]]
    run = [c for c in cases if "/search/" not in c["endpoint"]]
    print(f"certification: {len(run)} evaluation cases; {len(skipped)} search cases "
          f"skipped (search endpoints are not offered)", flush=True)
    with Server(os.path.join(FIXTURES, "certification.yaml"), peps=["pep"]) as srv:
        tok = srv.tokens["pep"]
        for c in run:
            what = f"{c['section']} {c['title']} ({c['label']})"
            if "request" not in c:
                count("certification", False, f"{what}: no JSON request in the data")
                continue
            status, _, body = srv.call("POST", c["endpoint"], c["request"], token=tok)
            ok = status == c["expected_status"]
            if ok and status == 200:
                ok = well_formed(body)
                if c["match"] == "exact_decisions" and c.get("expected_body") is not None:
                    ok = ok and decisions_of(body) == decisions_of(c["expected_body"])
                elif c.get("expected_body_raw"):
                    tpl = raw_template(c["expected_body_raw"])
                    ok = ok and tpl is not None and matches_template(body, tpl)
            if ok and status == 400:
                ok = isinstance(body, dict) and "error" in body
            count("certification", ok,
                  f"{what}: got {status} {json.dumps(body)[:300]}, expected "
                  f"{c['expected_status']} {json.dumps(c.get('expected_body'))}")
        certification_prose(srv, tok)
        stopped_cleanly("certification", srv)


def certification_prose(srv, tok):
    ok_req = {"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"},
              "resource": {"type": "record", "id": "record-1"}}
    text = json.dumps(ok_req)
    auth = {"Authorization": "Bearer " + tok}
    for path in (EVAL, EVALS):
        # c-2-4-3 non-JSON, c-2-4-4 empty body, c-2-4-5 wrong Content-Type
        s, _, _ = srv.raw("POST", path, b"subject=alice&action=read",
                          {**auth, "Content-Type": "application/json"})
        count("certification", s == 400, f"{path} non-JSON body: got {s}, expected 400")
        s, _, _ = srv.raw("POST", path, b"", {**auth, "Content-Type": "application/json"})
        count("certification", s == 400, f"{path} empty body: got {s}, expected 400")
        s, _, _ = srv.raw("POST", path, text.encode(), {**auth, "Content-Type": "text/plain"})
        count("certification", s == 400, f"{path} text/plain body: got {s}, expected 400")
        s, _, _ = srv.raw("POST", path, text.encode(), auth)
        count("certification", s == 400, f"{path} no Content-Type: got {s}, expected 400")
        s, _, b = srv.call("POST", path, ok_req, token=tok,
                           headers={"Content-Type": "application/json; charset=utf-8"})
        count("certification", s == 200 and isinstance(b, dict) and b.get("decision") is True,
              f"{path} with charset parameter: got {s} {b}")
        # c-2-5 X-Request-ID echoed
        rid = "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"
        s, h, _ = srv.call("POST", path, ok_req, token=tok, headers={"X-Request-ID": rid})
        count("certification", s == 200 and h.get("x-request-id") == rid,
              f"{path} X-Request-ID echoed: got {s} {h.get('x-request-id')!r}")
    # c-2-6 idempotency: the same request, the same decision, every time
    for req, want in ((ok_req, True),
                      ({**ok_req, "subject": {"type": "user", "id": "bob"},
                        "action": {"name": "write"}}, False)):
        got = [srv.call("POST", EVAL, req, token=tok)[2].get("decision") for _ in range(3)]
        count("certification", got == [want] * 3, f"idempotent {req}: got {got}")
    # c-6 discovery
    s, h, meta = srv.call("GET", CONFIG)
    base = f"http://{srv.host}:{srv.port}"
    count("certification", s == 200 and h.get("content-type", "").startswith("application/json"),
          f"discovery: got {s} {h.get('content-type')}")
    meta = meta if isinstance(meta, dict) else {}
    count("certification", meta.get("policy_decision_point") == base,
          f"discovery policy_decision_point: got {meta.get('policy_decision_point')!r}, "
          f"expected {base!r}")
    count("certification", meta.get("access_evaluation_endpoint") == base + EVAL,
          f"discovery access_evaluation_endpoint: got {meta.get('access_evaluation_endpoint')!r}")
    count("certification", meta.get("access_evaluations_endpoint") == base + EVALS,
          f"discovery access_evaluations_endpoint: got "
          f"{meta.get('access_evaluations_endpoint')!r}")
    count("certification", not any(k.startswith("search_") for k in meta),
          f"discovery offers no search endpoint: {sorted(meta)}")
    # The endpoints it names are the ones that answer.
    s, _, b = srv.call("POST", EVAL, ok_req, token=tok)
    count("certification", s == 200 and b.get("decision") is True,
          f"the advertised evaluation endpoint answers: {s} {b}")
    s, _, _ = srv.raw("GET", CONFIG, headers={"Host": "evil.example/x"})
    count("certification", s == 400, f"discovery with a malformed Host: got {s}, expected 400")
    s, _, m = srv.call("GET", CONFIG, headers={"X-Forwarded-Proto": "https"})
    count("certification", s == 200 and isinstance(m, dict) and
          m.get("policy_decision_point") == f"https://{srv.host}:{srv.port}",
          f"discovery behind a TLS proxy: got {s} {m}")
    # HTTP/1.0 without Host: the address the server listens on.
    with socket.create_connection((srv.host, srv.port), timeout=30) as sock:
        sock.sendall(f"GET {CONFIG} HTTP/1.0\r\n\r\n".encode())
        raw = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        m = json.loads(body)
    except ValueError:
        m = {}
    count("certification", head.split(b" ")[1:2] == [b"200"] and
          m.get("policy_decision_point") == base,
          f"discovery without a Host header: {head[:40]!r} {m}")


# ---- interop sets ---------------------------------------------------------------

def run_interop(set_name, charter, data):
    d = json.load(open(data))
    with Server(os.path.join(FIXTURES, charter), peps=["pep"]) as srv:
        tok = srv.tokens["pep"]
        for c in d.get("evaluation", []):
            s, _, b = srv.call("POST", EVAL, c["request"], token=tok)
            got = b.get("decision") if isinstance(b, dict) else None
            count(set_name, s == 200 and got is c["expected"],
                  f"{json.dumps(c['request'])}: got {s} {got}, expected {c['expected']}")
        for c in d.get("evaluations", []):
            s, _, b = srv.call("POST", EVALS, c["request"], token=tok)
            want = [e["decision"] for e in c["expected"]]
            got = decisions_of(b)
            count(set_name, s == 200 and got == want,
                  f"batch {json.dumps(c['request'])[:200]}: got {s} {got}, expected {want}")
        stopped_cleanly(set_name, srv)


# ---- Charter's own terms ------------------------------------------------------------

def refund(agent, amount, **extra):
    r = {"subject": {"type": "agent", "id": agent},
         "action": {"name": "issue_refund", "properties": {"amount": amount}},
         "resource": {"type": "refunds", "id": "order-1"}}
    r.update(extra)
    return r


def ledger_locked(srv, pep, batch):
    """The ledger cannot be written: fail closed, as /v1/decide does; nothing
    of it is recorded."""
    s_name = "charter"
    db = sqlite3.connect(srv.ledger, timeout=1, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        s, _, b = srv.call("POST", EVAL, refund("support-bot", 20), token=pep, timeout=60)
        ctx = (b or {}).get("context", {}) if isinstance(b, dict) else {}
        count(s_name, s == 503 and b.get("decision") is False
              and ctx.get("reason") == "ledger_unavailable" and "obligations" not in ctx,
              f"ledger locked, single evaluation: got {s} {b}, expected 503 false")
        s, _, b = srv.call("POST", EVALS, dict(batch, evaluations=batch["evaluations"][:1]),
                           token=pep, timeout=60)
        ev = (b or {}).get("evaluations", [{}]) if isinstance(b, dict) else [{}]
        count(s_name, s == 200 and decisions_of(b) == [False]
              and ev[0].get("context", {}).get("reason") == "ledger_unavailable",
              f"ledger locked, batch: got {s} {b}, expected 200 [false]")
    finally:
        db.execute("ROLLBACK")
        db.close()
    s, _, b = srv.call("POST", EVAL, refund("support-bot", 20), token=pep)
    count(s_name, s == 200 and b.get("decision") is True, f"recovers: {s} {b}")
    return b.get("context", {}).get("evaluation_id") if isinstance(b, dict) else None


def run_charter_terms():
    s_name = "charter"
    with Server(os.path.join(FIXTURES, "extras.yaml"), agents=["support-bot"],
                approvers={"lena": ["support-leads"]}, peps=["pep"]) as srv:
        pep, bot = srv.tokens["pep"], srv.tokens["support-bot"]
        ids = []

        s, _, b = srv.call("POST", EVAL, refund("support-bot", 20), token=pep)
        ctx = b.get("context", {}) if isinstance(b, dict) else {}
        ids.append(ctx.get("evaluation_id"))
        count(s_name, s == 200 and b.get("decision") is True, f"small refund allowed: {s} {b}")
        count(s_name, ctx.get("obligations") == [
            {"id": "obl-1", "type": "custom", "properties": {"name": "notify_customer"}}],
            f"allow carries its obligation: {ctx.get('obligations')}")
        count(s_name, ctx.get("reason") == "rule" and ctx.get("charter_decision") == "allow"
              and [f.get("id") for f in ctx.get("fired", [])] == ["small-refund"]
              and ctx.get("values") == ["customer-trust"]
              and str(ctx.get("charter_version", "")).startswith("sha256:")
              and ctx.get("reason_admin", {}).get("en", "").startswith("Small refunds"),
              f"allow context: {ctx}")

        s, _, b = srv.call("POST", EVAL, refund("support-bot", 500), token=pep)
        ctx = b.get("context", {}) if isinstance(b, dict) else {}
        esc = ctx.get("escalation", {})
        ids.append(ctx.get("evaluation_id"))
        count(s_name, s == 200 and b.get("decision") is False
              and ctx.get("charter_decision") == "escalate",
              f"large refund escalated, so false: {s} {b}")
        count(s_name, esc.get("ticket") == ctx.get("evaluation_id") and esc.get("ticket")
              and esc.get("queue") == "support-leads"
              and str(esc.get("deadline", "")).endswith("Z")
              and esc.get("obligations", [{}])[0].get("properties") == {"name": "attach_receipt"}
              and "obligations" not in ctx,
              f"escalation context: {ctx}")
        # The ticket is the real escalation: the approver's queue lists it.
        s, _, q = srv.call("GET", "/v1/escalations", token=srv.tokens["lena"])
        listed = json.dumps(q) if s == 200 else ""
        count(s_name, esc.get("ticket") and f'"{esc.get("ticket")}"' in listed,
              f"the ticket is in the approver's queue: {s} {listed[:300]}")

        s, _, b = srv.call("POST", EVAL, refund("support-bot", 20000), token=pep)
        ctx = b.get("context", {}) if isinstance(b, dict) else {}
        ids.append(ctx.get("evaluation_id"))
        count(s_name, s == 200 and b.get("decision") is False and ctx.get("reason") == "boundary"
              and "obligations" not in ctx, f"boundary denies: {s} {b}")

        s, _, b = srv.call("POST", EVAL, refund("ghost-bot", 20), token=pep)
        ctx = b.get("context", {}) if isinstance(b, dict) else {}
        ids.append(ctx.get("evaluation_id"))
        count(s_name, s == 200 and b.get("decision") is False
              and ctx.get("reason") == "unknown_agent" and ctx.get("shadow") is True,
              f"unknown subject is a shadow agent, denied: {s} {b}")

        # Callers: an agent key evaluates only as itself; others are refused.
        s, _, b = srv.call("POST", EVAL, refund("support-bot", 20), token=bot)
        ids.append((b or {}).get("context", {}).get("evaluation_id"))
        count(s_name, s == 200 and b.get("decision") is True, f"agent key as itself: {s} {b}")
        s, _, b = srv.call("POST", EVAL, refund("other-bot", 20), token=bot)
        count(s_name, s == 403, f"agent key for another subject: got {s} {b}, expected 403")
        s, _, b = srv.call("POST", EVALS, {"action": refund("x", 1)["action"],
                                           "resource": refund("x", 1)["resource"],
                                           "evaluations": [
                                               {"subject": {"type": "agent", "id": "support-bot"}},
                                               {"subject": {"type": "agent", "id": "other-bot"}}]},
                           token=bot)
        count(s_name, s == 403, f"agent key batch with another subject: got {s}, expected 403")
        s, _, _ = srv.call("POST", EVAL, refund("support-bot", 20))
        count(s_name, s == 401, f"no token: got {s}, expected 401")
        for who in ("lena", "admin"):
            s, _, _ = srv.call("POST", EVAL, refund("support-bot", 20), token=srv.tokens[who])
            count(s_name, s == 403, f"{who}'s key may not evaluate: got {s}, expected 403")
        s, _, _ = srv.call("GET", EVAL, token=pep)
        count(s_name, s == 405, f"GET on the evaluation endpoint: got {s}, expected 405")

        # Batch semantics: [allow, escalate(false), allow].
        batch = {"subject": {"type": "agent", "id": "support-bot"},
                 "resource": {"type": "refunds", "id": "order-1"},
                 "action": {"name": "issue_refund"},
                 "evaluations": [{"action": {"name": "issue_refund", "properties": {"amount": a}}}
                                 for a in (10, 500, 30)]}
        expect = {"execute_all": [True, False, True], "deny_on_first_deny": [True, False],
                  "permit_on_first_permit": [True], None: [True, False, True]}
        for sem, want in expect.items():
            body = dict(batch, options={"evaluations_semantic": sem}) if sem else batch
            s, _, b = srv.call("POST", EVALS, body, token=pep)
            count(s_name, s == 200 and decisions_of(b) == want,
                  f"semantic {sem}: got {s} {decisions_of(b)}, expected {want}")
            if s == 200:
                ids += [e.get("context", {}).get("evaluation_id") for e in b["evaluations"]]
        body = dict(batch, evaluations=[{"action": {"name": "issue_refund",
                                                    "properties": {"amount": 500}}},
                                        {"action": {"name": "issue_refund",
                                                    "properties": {"amount": 5}}}],
                    options={"evaluations_semantic": "permit_on_first_permit"})
        s, _, b = srv.call("POST", EVALS, body, token=pep)
        count(s_name, s == 200 and decisions_of(b) == [False, True],
              f"permit_on_first_permit runs past a false: {s} {decisions_of(b)}")
        if s == 200:
            ids += [e.get("context", {}).get("evaluation_id") for e in b["evaluations"]]
        # An invalid evaluation counts as a deny and stops deny_on_first_deny.
        body = dict(batch, evaluations=[{"resource": {"type": "refunds"}}, {}],
                    options={"evaluations_semantic": "deny_on_first_deny"})
        s, _, b = srv.call("POST", EVALS, body, token=pep)
        ev = (b or {}).get("evaluations", [{}])
        count(s_name, s == 200 and decisions_of(b) == [False]
              and ev[0].get("context", {}).get("error", {}).get("status") == 400
              and "resource.id" in ev[0].get("context", {}).get("error", {}).get("message", ""),
              f"invalid evaluation in a batch: {s} {b}")
        for bad, what in (({"evaluations": "x"}, "evaluations not an array"),
                          (dict(batch, options={"evaluations_semantic": "most"}),
                           "unknown semantic"),
                          (dict(batch, options=[]), "options not an object"),
                          (dict(batch, subject="support-bot"), "default subject not an object"),
                          (dict(batch, evaluations=[1]), "evaluation not an object"),
                          (dict(batch, evaluations=[{}] * 1001), "more than 1000 evaluations"),
                          (refund("support-bot", 1, context={"authzen": {}}),
                           "context.authzen is reserved")):
            s, _, b = srv.call("POST", EVALS, bad, token=pep)
            count(s_name, s == 400 and isinstance(b, dict) and "error" in b,
                  f"batch with {what}: got {s} {str(b)[:200]}, expected 400")
        s, _, b = srv.call("POST", EVAL, [refund("support-bot", 1)], token=pep)
        count(s_name, s == 400, f"an array body: got {s}, expected 400")

        # A batch's evaluations do not each wait for a commit of their own:
        # they are decided one after the other while the writer commits what
        # is queued (here about a dozen commits; one per evaluation before).
        commits = commit_count(srv)
        body = dict(batch, evaluations=[{"action": {"name": "issue_refund",
                                                    "properties": {"amount": 1 + i % 40}}}
                                        for i in range(200)])
        s, _, b = srv.call("POST", EVALS, body, token=pep)
        count(s_name, s == 200 and decisions_of(b) == [True] * 200,
              f"a batch of 200: got {s} {str(b)[:200]}")
        if s == 200:
            ids += [e.get("context", {}).get("evaluation_id") for e in b["evaluations"]]
        commits = commit_count(srv) - commits
        count(s_name, 1 <= commits < 200,
              f"a batch of 200 evaluations took {commits} ledger commits: one each")

        if not pg_skip(checks, "ledger_locked", "it holds SQLite's write lock with BEGIN "
                       "EXCLUSIVE; on PostgreSQL the database's outage is tested by "
                       "test_multi_crash.py and test_pg_outage.py"):
            ids.append(ledger_locked(srv, pep, batch))
        ledger = srv.ledger
        stopped_cleanly(s_name, srv)
        # Every evaluation is in the ledger, as a Charter decision request.
        p = subprocess.run([CHARTER, "export", ledger, "--format", "jsonl"],
                           capture_output=True, text=True, timeout=60)
        entries = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        recorded = {}
        for e in entries:
            if e.get("kind") == "decision":
                recorded[e["seq"]] = e["payload"]
        want_ids = [i for i in ids if i]
        count(s_name, p.returncode == 0 and len(want_ids) == len(ids)
              and len(recorded) == len(ids),
              f"ledger holds every evaluation: {len(recorded)} decisions, "
              f"{len(ids)} evaluations ({len(want_ids)} with an id)")
        first = next(iter(recorded.values()), {})
        req = first.get("request", {})
        count(s_name, req.get("agent") == "support-bot" and req.get("workflow") == "refunds"
              and req.get("context", {}).get("authzen", {}).get("resource", {}).get("id")
              == "order-1", f"recorded request is the mapped evaluation: {req}")
        v = subprocess.run([CHARTER, "verify", ledger], capture_output=True, text=True,
                           timeout=60)
        count(s_name, v.returncode == 0, f"ledger verifies: {v.stdout} {v.stderr}")


def commit_count(srv):
    """The ledger's group commits so far, from /metrics."""
    _, _, text = srv.raw("GET", "/metrics")
    for line in text.decode().splitlines():
        if line.startswith("charter_ledger_commit_batch_size_count "):
            return int(line.split()[1])
    return -1


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AUTHZEN_CONFORMANCE_DIR", "")
    if not base or not os.path.isfile(os.path.join(base, "certification_cases.json")):
        print(f"SKIPPED: the AuthZEN conformance folder is absent ({base or 'not given'})")
        sys.exit(77)
    run_certification(base)
    interop = os.path.join(base, "interop")
    run_interop("todo", "todo.yaml", os.path.join(
        interop, "authzen-todo-backend/test/decisions-authorization-api-1_0-02.json"))
    run_interop("gateway", "gateway.yaml", os.path.join(
        interop, "authzen-api-gateways/test-harness/test/decisions.json"))
    run_charter_terms()
    for name, (p, f) in per_set.items():
        print(f"{name}: {p} passed, {f} failed", flush=True)
    checks.done()


if __name__ == "__main__":
    main()
