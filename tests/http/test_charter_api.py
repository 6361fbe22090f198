"""test_charter_api.py - the charter for people over HTTP, against a real `charter serve`.

GET /v1/charter (the charter serving now: canonical JSON, load and check
warnings; admin, auditor, approver), POST /v1/replay (a draft uploaded as
files, replayed read-only over the server's ledger) and the alignment
report as SVG (GET /v1/report?format=svg), over the ledger that
examples/fintech-support/make-ledger.sh builds: its outcome improves while
customer satisfaction degrades, so the report must warn. A second server
fills a fresh ledger with 1,010 decisions to see a replay list 1,000 changes
and say it is truncated; a third serves a charter with a `check` warning.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CHARTER, CLI_TIMEOUT, REQUEST_TIMEOUT, Server, Checks,  # noqa: E402
                     charter_cli)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "fintech-support")
CHARTER_DIR = os.path.join(EXAMPLE, "charter")
TWO_DESKS = os.path.join(ROOT, "tests", "data", "analyses", "two-desks.yaml")
t = Checks("http_charter_api")


def draft_files(edit=None):
    """The example's charter as upload files; edit(name, text) -> text."""
    files = []
    for name in sorted(os.listdir(CHARTER_DIR)):
        if name.endswith(".yaml"):
            with open(os.path.join(CHARTER_DIR, name), encoding="utf-8") as f:
                text = f.read()
            files.append({"name": name, "text": edit(name, text) if edit else text})
    return files


def entries(ledger):
    """The ledger's entry count, as `charter verify` says it ("ok: N entries")."""
    out = charter_cli("verify", ledger).stdout
    t.check(out.startswith("ok: "), f"verify is ok: {out!r}")
    return out.split()[1] if out.startswith("ok: ") else None


def draft_folders():
    return {n for n in os.listdir("/tmp") if n.startswith("charter-replay-")}


def tighten(name, text):
    """Small refunds (35 EUR in the ledger) now need a lead: <= 250 -> <= 30."""
    if name != "support.yaml":
        return text
    text = text.replace("when: input.amount <= 250", "when: input.amount <= 30")
    return text.replace("when: input.amount > 250", "when: input.amount > 30")


def check_charter(srv):
    admin, auditor, lead, agent = (srv.tokens[k] for k in
                                   ("admin", "audrey", "lena", "support-agent"))
    for who, tok in (("admin", admin), ("auditor", auditor), ("approver", lead)):
        st, h, body = srv.call("GET", "/v1/charter", token=tok)
        t.eq(st, 200, f"an {who} reads the charter serving now")
    t.check(body["version"].startswith("sha256:") and len(body["version"]) == 71,
            f"its version: {body.get('version')!r}")
    t.eq(body["name"], "Northwind Pay", "its name")
    t.check(isinstance(body["charter"], dict) and body["charter"].get("values"),
            "the canonical charter, parsed into the answer")
    t.eq(body["warnings"], [], "the example has no warnings")
    st, _, _ = srv.call("GET", "/v1/charter", token=agent)
    t.eq(st, 403, "an agent cannot read the charter")
    st, _, _ = srv.call("GET", "/v1/charter")
    t.eq(st, 401, "nor can a caller without a key")


def check_replay(srv):
    admin, auditor, lead = srv.tokens["admin"], srv.tokens["audrey"], srv.tokens["lena"]
    before = entries(srv.ledger)
    drafts_before = draft_folders()
    st, _, r = srv.call("POST", "/v1/replay", {"files": draft_files(tighten)}, token=auditor)
    t.eq(st, 200, f"an auditor replays a draft: {r}")
    s = r["summary"]
    t.eq((s["decisions"], s["changed"], s["to_escalate"], s["to_allow"], s["to_deny"]),
         (32, 24, 24, 0, 0), "the 24 small refunds would now escalate")
    t.eq(s["unchanged"] + s["rules_changed"] + s["changed"] + s["errors"], 32,
         "every decision is accounted for")
    t.eq(len(r["changes"]), 24, "each change is listed")
    t.eq(r["truncated"], False, "not truncated")
    t.check(r["draft_version"].startswith("sha256:"), "the draft's version")
    c = r["changes"][0]
    t.eq((c["agent"], c["workflow"], c["action"], c["before"], c["after"]),
         ("support-agent", "refunds", "issue_refund", "allow", "escalate"), "a change")
    t.check(c["decision_id"].startswith("d-") and c["time"].startswith("2026-11-2"),
            f"names the decision and its time: {c}")
    t.check("rule:refund-large-needs-lead" in c["added"] and
            "rule:refund-small-notify" in c["removed"], f"added and removed rules: {c}")
    t.eq(entries(srv.ledger), before, "the replay recorded nothing")
    st, _, r = srv.call("POST", "/v1/replay", {"files": draft_files(tighten),
                                               "since": "2026-11-26"}, token=admin)
    t.eq((st, r["summary"]["decisions"], r["summary"]["changed"]), (200, 8, 6),
         "since: only the decisions from that time on")
    st, _, r = srv.call("POST", "/v1/replay", {"files": draft_files()}, token=admin)
    t.eq((st, r["summary"]["changed"], r["changes"]), (200, 0, []),
         "the serving charter as a draft changes nothing")
    st, _, _ = srv.call("POST", "/v1/replay", {"files": draft_files(tighten)}, token=lead)
    t.eq(st, 403, "an approver cannot replay")
    st, _, _ = srv.call("POST", "/v1/replay", {"files": draft_files(tighten)},
                        token=srv.tokens["support-agent"])
    t.eq(st, 403, "an agent cannot replay")

    def broken(name, text):
        return text.replace("effect: escalate", "effect: escalte", 1) \
            if name == "support.yaml" else text
    st, _, r = srv.call("POST", "/v1/replay", {"files": draft_files(broken)}, token=admin)
    t.eq(st, 422, f"a draft that does not load: {r}")
    e = (r or {}).get("error", {})
    t.eq(e.get("code"), "charter_invalid", "its code")
    line = next(i + 1 for i, l in enumerate(draft_files(broken)[-1]["text"].splitlines())
                if "escalte" in l)
    t.check(e.get("message", "").startswith(f"support.yaml:{line}:") and
            "escalte" in e.get("message", ""), f"names the uploaded file and line: {e}")
    t.check(e.get("where", "").startswith(f"support.yaml:{line}:"), f"where: {e}")
    t.check("/tmp" not in str(r) and "charter-replay" not in str(r),
            f"never the temporary path: {r}")
    st, _, r = srv.call("POST", "/v1/replay",
                        {"files": [{"name": "a.yaml", "text": "organization: [\n"}]},
                        token=admin)
    t.check(st == 422 and r["error"]["message"].startswith("a.yaml:"),
            f"a YAML syntax error names the file: {st} {r}")

    one = {"name": "x.yaml", "text": "organization: {name: X}\n"}
    for files, what in (([], "no files"),
                        ([dict(one, name="x%d.yaml" % i) for i in range(65)], "65 files"),
                        ([dict(one, name="../x.yaml")], "a name with '..' and '/'"),
                        ([dict(one, name="sub/x.yaml")], "a name with '/'"),
                        ([dict(one, name="/etc/x.yaml")], "an absolute path"),
                        ([dict(one, name="x.txt")], "not .yaml or .yml"),
                        ([dict(one, name=".x.yaml")], "a hidden file"),
                        ([one, one], "a name twice"),
                        ([{"name": "x.yaml"}], "no text"),
                        ("x.yaml", "files not an array")):
        st, _, r = srv.call("POST", "/v1/replay", {"files": files}, token=admin)
        t.check(st == 400 and r["error"]["code"] == "invalid_request",
                f"{what} -> 400: {st} {r}")
    st, _, r = srv.call("POST", "/v1/replay", {"files": [one], "since": "yesterday"},
                        token=admin)
    t.eq(st, 400, "a since that is not a time")
    t.eq(entries(srv.ledger), before, "nothing was recorded by any replay")
    t.eq(draft_folders() - drafts_before, set(), "every draft folder was removed")


def check_report_svg(srv):
    st, h, raw = srv.raw("GET", "/v1/report?format=svg",
                         headers={"Authorization": "Bearer " + srv.tokens["audrey"]})
    t.eq(st, 200, "the report as SVG")
    t.eq(h.get("content-type"), "image/svg+xml", "its content type")
    svg = raw.decode("utf-8")
    t.check(svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"'), "an SVG picture")
    t.check("WARNING: outcome improving while health degrades (2)" in svg,
            "the warning band, for the ledger built to trigger it")
    t.check("health &#39;csat&#39; degraded" in svg, "the warning's words, escaped")
    t.check(svg.index("WARNING") < svg.index("Goals: outcomes"), "the warning comes first")
    t.check("<script" not in svg and "href" not in svg, "no script, no reference")


def check_truncated():
    """Over 1,000 changes: the first 1,000 are listed, the summary counts all."""
    with Server(CHARTER_DIR, agents=["support-agent"]) as srv:
        tok, n, per = srv.tokens["support-agent"], 1010, 101

        def decide(k):
            c = http.client.HTTPConnection(srv.host, srv.port, timeout=REQUEST_TIMEOUT)
            try:
                for i in range(k * per, (k + 1) * per):
                    body = {"agent": "support-agent", "workflow": "refunds",
                            "action": "issue_refund", "confidence": 0.9, "run_id": f"r-{i}",
                            "input": {"amount": 35, "currency": "EUR", "destination": "card-1"},
                            "subject": {"customer_id": f"c-{i}", "tenure_years": 3,
                                        "original_payment_method": "card-1"}}
                    c.request("POST", "/v1/decide", json.dumps(body),
                              {"Authorization": "Bearer " + tok,
                               "Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    statuses.append(r.status)
            finally:
                c.close()
        statuses = []
        threads = [threading.Thread(target=decide, args=(k,)) for k in range(n // per)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(REQUEST_TIMEOUT)
        t.eq((len(statuses), set(statuses)), (n, {200}), "the decisions to replay")

        def no_budgets(name, text):
            """Tightened, and without the stop rules that denied past 400 a day."""
            text = tighten(name, text)
            if name == "support.yaml":
                text = text.split("    stop_rules:")[0] + "\nagents:" + \
                    text.split("\nagents:", 1)[1]
            return text
        st, _, r = srv.call("POST", "/v1/replay", {"files": draft_files(no_budgets)},
                            token=srv.tokens["admin"])
        t.eq(st, 200, f"a replay with many changes: {r if st != 200 else ''}")
        t.eq((r["summary"]["decisions"], r["summary"]["changed"], len(r["changes"]),
              r["truncated"]), (n, n, 1000, True), "1,000 listed, all counted, truncated")


def check_warnings():
    """A charter with a check warning: its code, message and file:line:col."""
    with Server(TWO_DESKS, agents=[], admins=["admin"]) as srv:
        st, _, body = srv.call("GET", "/v1/charter", token=srv.tokens["admin"])
        t.eq(st, 200, "the two-desks charter")
        w = [x for x in body["warnings"] if x["code"] == "rule-shadowed"]
        t.check(len(w) == 1 and w[0]["where"] == "two-desks.yaml:22:5" and
                "huge-refund" in w[0]["message"], f"check's rule warning: {body['warnings']}")
        code = srv.stop()
        t.eq(code, 0, f"the server stops cleanly: {srv.stderr_text()[-2000:]}")


def guarded(section, *args):
    """Runs a section; an answer of the wrong shape fails it, not the run."""
    try:
        section(*args)
    except (KeyError, TypeError, AttributeError, IndexError, StopIteration, ValueError) as e:
        t.check(False, f"{section.__name__}: an answer without the expected shape: {e!r}")


def main():
    work = tempfile.mkdtemp(prefix="charter-http-charter-")
    try:
        ledger = os.path.join(work, "northwind.ledger")
        subprocess.run(["bash", os.path.join(EXAMPLE, "make-ledger.sh"), CHARTER, ledger],
                       check=True, capture_output=True, timeout=CLI_TIMEOUT * 3)
        with Server(CHARTER_DIR, agents=["support-agent"], auditors=["audrey"],
                    approvers={"lena": ["support-leads"]}, ledger=ledger) as srv:
            for section in (check_charter, check_replay, check_report_svg):
                guarded(section, srv)
            code = srv.stop()
            t.eq(code, 0, f"the server stops cleanly: {srv.stderr_text()[-2000:]}")
        guarded(check_truncated)
        guarded(check_warnings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
