"""test_writer.py - one writer per ledger, and a server that says when it cannot write.

Against a real `charter serve` on 127.0.0.1:

  - while it runs, `charter decide --ledger`, `charter outcome` and `charter mcp`
    on its ledger fail at once, naming the server's pid and command and
    pointing at the HTTP API; the server goes on deciding (before the fix
    they succeeded, and every later /v1/decide answered 503 until a restart);
  - read-only commands (verify, export, report, replay, map) work beside it;
  - /healthz answers 503 with a reason while the ledger cannot be written
    (another process changed its tail; the file was moved away) and 200 again
    once the cause is undone, with no restart and no traffic;
  - the fail-closed deny agents get names neither the ledger file nor
    SQLite's error; the server's log (stderr) has the details, one line per
    change of state.

Every child process and request is bounded in time.
"""
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CHARTER, Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
CHILD_TIMEOUT = 10  # seconds; a refusal must come at once
t = Checks("http_writer")


def req(amount=20):
    return {"agent": "support-bot", "workflow": "refunds", "action": "issue_refund",
            "input": {"amount": amount}, "run_id": "run-%d" % time.time_ns()}


def run(*args, stdin=None):
    """Runs the CLI; returns (exit code, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([CHARTER, *args], input=stdin, capture_output=True, text=True,
                           timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "", "timed out", CHILD_TIMEOUT
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


def health(srv):
    st, _, body = srv.call("GET", "/healthz", timeout=10)
    return st, body


def await_health(srv, status, within=6.0):
    """Polls /healthz until it answers `status` (no other traffic)."""
    deadline = time.monotonic() + within
    st, body = health(srv)
    while st != status and time.monotonic() < deadline:
        time.sleep(0.1)
        st, body = health(srv)
    return st, body


def secret_free(text, srv):
    """The answer shows none of the storage's details."""
    low = text.lower()
    return (srv.ledger not in text and srv.dir not in text and "ledger.db" not in low
            and "sqlite" not in low and "another process" not in low)


def test_second_writers_are_refused(srv):
    bot = srv.tokens["support-bot"]
    st, _, ans = srv.call("POST", "/v1/decide", req(), token=bot)
    t.eq((st, ans.get("decision")), (200, "allow"), "the server decides")
    pid = "pid %d" % srv.proc.pid

    code, out, err, secs = run("decide", "--charter", SHOP, "--ledger", srv.ledger,
                               json.dumps(req()))
    t.eq(code, 3, "charter decide --ledger beside the server exits 3")
    t.check(secs < 5, "and at once (%.1f s)" % secs)
    t.check(pid in err and "serve" in err, "it names the holder's pid and command: " + err)
    t.check("POST /v1/decide" in err, "it says to use the HTTP API instead")
    t.check('"ledger_unavailable"' in out and secret_free(out, srv),
            "its deny names no file and no SQLite text: " + out)

    code, _, err, secs = run("outcome", srv.ledger, "--workflow", "refunds", "--from",
                             "2026-01-01", "--to", "2026-02-01", "--metric", "m",
                             "--value", "1")
    t.eq(code, 3, "charter outcome beside the server exits 3")
    t.check(pid in err and secs < 5, "naming the server, at once: " + err)

    code, _, err, secs = run("mcp", "--charter", SHOP, "--ledger", srv.ledger, "--agent",
                             "support-bot", stdin="")
    t.eq(code, 3, "charter mcp beside the server exits 3")
    t.check(pid in err and "/mcp" in err and secs < 5, "naming the server, at once: " + err)

    st, _, ans = srv.call("POST", "/v1/decide", req(), token=bot)
    t.eq((st, ans.get("decision")), (200, "allow"), "the server still decides afterwards")
    t.eq(health(srv)[0], 200, "and is healthy")

    code, out, err, _ = run("verify", srv.ledger)
    t.eq(code, 0, "verify works beside the server: " + out + err)
    code, out, _, _ = run("export", srv.ledger, "--format", "jsonl")
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    t.check(code == 0 and kinds.count("decision") == 2,
            "export works beside the server and sees both decisions")
    code, _, err, _ = run("report", srv.ledger, "--format", "json")
    t.eq(code, 0, "report works beside the server: " + err)
    code, _, err, _ = run("replay", srv.ledger, "--charter", SHOP)
    t.eq(code, 0, "replay works beside the server: " + err)
    code, _, err, _ = run("map", "--charter", SHOP, "--ledger", srv.ledger)
    t.eq(code, 0, "map works beside the server: " + err)


def test_health_tells_the_truth(srv):
    bot = srv.tokens["support-bot"]
    st, body = health(srv)
    t.eq((st, body.get("status")), (200, "ok"), "healthy at first")

    # Another process appends behind the server's back.
    db = sqlite3.connect(srv.ledger, timeout=5, isolation_level=None)
    last = db.execute("SELECT max(seq) FROM entries").fetchone()[0]
    db.execute("INSERT INTO entries VALUES(?, 0, 'outcome', '{}', x'00', x'00')", (last + 1,))
    st, body = await_health(srv, 503)
    t.eq((st, body.get("status"), body.get("reason")), (503, "failing", "tail_changed"),
         "/healthz says the tail changed, without a single decision")
    # ledger.backend names the kind of store ("sqlite"), not an error of it.
    shown = dict(body, ledger={k: v for k, v in body.get("ledger", {}).items()
                               if k != "backend"})
    t.check(secret_free(json.dumps(shown), srv), "/healthz names no file: %r" % body)
    st, _, ans = srv.call("POST", "/v1/decide", req(), token=bot)
    t.eq((st, ans.get("decision"), ans.get("reason")), (503, "deny", "ledger_unavailable"),
         "decide fails closed")
    raw = json.dumps(ans)
    t.check("could not be recorded" in ans.get("explanation", ""),
            "the deny says the decision could not be recorded")
    t.check(secret_free(raw, srv), "the deny names no file and no SQLite text: " + raw)
    st, _, err = srv.call("POST", "/v1/outcomes", {"workflow": "refunds", "from":
                                                   "2026-01-01T00:00:00Z", "to":
                                                   "2026-02-01T00:00:00Z", "metric": "m",
                                                   "value": 1}, token=bot)
    t.eq(st, 503, "an outcome is refused too")
    t.check(secret_free(json.dumps(err), srv), "naming no file: %r" % err)
    db.execute("DELETE FROM entries WHERE seq = ?", (last + 1,))
    db.close()
    st, body = await_health(srv, 200)
    t.eq((st, body.get("status")), (200, "ok"), "it recovers by itself once the tail is back")
    st, _, ans = srv.call("POST", "/v1/decide", req(), token=bot)
    t.eq((st, ans.get("decision")), (200, "allow"), "and records again")

    # The file is moved away: writes would go to a file nobody reads.
    moved = srv.ledger + ".moved"
    os.rename(srv.ledger, moved)
    st, body = await_health(srv, 503)
    t.eq((st, body.get("reason")), (503, "file_replaced"), "/healthz says the file is gone")
    os.rename(moved, srv.ledger)
    st, body = await_health(srv, 200)
    t.eq(st, 200, "and recovers once it is back")
    st, _, ans = srv.call("POST", "/v1/decide", req(), token=bot)
    t.eq((st, ans.get("decision")), (200, "allow"), "decisions are recorded again")


def main():
    srv = Server(SHOP, agents=["support-bot"])
    try:
        with srv:
            test_second_writers_are_refused(srv)
            test_health_tells_the_truth(srv)
            code = srv.stop(timeout=20)
            t.eq(code, 0, "clean stop")
            log = srv.proc.stderr.read()
            failing = [line for line in log.splitlines() if "cannot be written" in line]
            back = [line for line in log.splitlines() if "writable again" in line]
            t.eq(len(failing), 2, "each failure is logged once:\n" + log)
            t.eq(len(back), 2, "each recovery is logged once")
            t.check(failing and "tail_changed" in failing[0] and srv.ledger in failing[0],
                    "the log has the details: " + (failing[0] if failing else ""))
            code, out, err, _ = run("verify", srv.ledger)
            t.eq(code, 0, "the ledger verifies: " + out + err)
    finally:
        srv.kill()
    t.done()


if __name__ == "__main__":
    main()
