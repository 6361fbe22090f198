"""test_limits.py - the default body limit of `charter serve`, on every endpoint that takes a body.

The server is started WITHOUT --max-body, so what is tested is the default
(the other HTTP tests pass --max-body, or send bodies so large that another
limit refuses them too, and would not notice a default 64 times too big).
On each POST endpoint (/v1/decide, /v1/escalations/{id}/resolve,
/v1/outcomes, /v1/admin/reload, /access/v1/evaluation,
/access/v1/evaluations, /mcp) a valid body padded with spaces to one byte
over the default is refused with 413 `too_large` naming the limit, whether
the size is announced by Content-Length or only found while reading a
chunked body; the same body padded to exactly the default is answered as
usual (not refused for its size).

The default is written here deliberately, once: DEFAULT_MAX_BODY is the
figure the documentation promises (docs/http-api.md, docs/security.md) and
`charter serve --help` prints, and the test checks that all three still say
it. Reading it from the code or the help instead would let a changed default
pass unnoticed; here any change must be made in the code, the help, the
docs and this line together.
"""
import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks, charter_cli, REQUEST_TIMEOUT  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHOP = os.path.join(HERE, "data", "shop.yaml")
DEFAULT_MAX_BODY = 1048576  # 1 MiB
t = Checks("http_limits")


def padded(obj, size):
    """obj as JSON followed by spaces up to exactly `size` bytes."""
    text = json.dumps(obj).encode()
    assert len(text) <= size
    return text + b" " * (size - len(text))


def send(srv, path, body, headers, chunked):
    """POSTs `body` with Content-Length, or chunked (64 KiB chunks, no
    Content-Length). Returns (status, parsed JSON body or text)."""
    c = http.client.HTTPConnection(srv.host, srv.port, timeout=REQUEST_TIMEOUT)
    try:
        h = dict(headers)
        try:
            if chunked:
                h["Transfer-Encoding"] = "chunked"
                chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
                c.request("POST", path, body=chunks, headers=h, encode_chunked=True)
            else:
                c.request("POST", path, body=body, headers=h)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (413) before the whole body was sent
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw.decode("utf-8", "replace")
    finally:
        c.close()


def refused_for_size(status, body):
    if status != 413 or not isinstance(body, dict):
        return False
    e = body.get("error") or {}
    return (e.get("code") == "too_large" and "request body" in e.get("message", "")
            and str(DEFAULT_MAX_BODY) in e.get("message", ""))


def test_documented_default():
    """The figure tested is the one the help and the docs state."""
    help_text = charter_cli("serve", "--help").stdout
    t.check(re.search(r"--max-body BYTES\s+largest request body \(default %d\)"
                      % DEFAULT_MAX_BODY, help_text),
            "charter serve --help states the default of %d bytes" % DEFAULT_MAX_BODY)
    with open(os.path.join(ROOT, "docs", "http-api.md"), encoding="utf-8") as f:
        t.check("`too_large` (body over `--max-body`, default 1 MiB)" in f.read(),
                "docs/http-api.md states the default of 1 MiB")
    with open(os.path.join(ROOT, "docs", "security.md"), encoding="utf-8") as f:
        t.check("| request body | 1 MiB (`--max-body`) |" in f.read(),
                "docs/security.md states the default of 1 MiB")


def endpoints(srv):
    """(name, path, JSON body, headers, status of a normal answer), one per
    endpoint that takes a body; each call gets fresh ids where it needs them."""
    bot, lena = srv.tokens["support-bot"], srv.tokens["lena"]
    admin, pep = srv.tokens["admin"], srv.tokens["gateway"]
    auth = lambda tok: {"Authorization": "Bearer " + tok,  # noqa: E731
                        "Content-Type": "application/json"}

    def decide(amount):
        st, _, d = srv.call("POST", "/v1/decide", {
            "agent": "support-bot", "workflow": "refunds", "action": "issue_refund",
            "input": {"amount": amount}, "run_id": "run-%d" % time.time_ns()}, token=bot)
        t.eq(st, 200, "setup decision")
        return d["decision_id"]

    evaluation = {"subject": {"type": "agent", "id": "support-bot"},
                  "action": {"name": "issue_refund", "properties": {"amount": 20}},
                  "resource": {"type": "refunds", "id": "r-1"}}
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}
    mcp_headers = dict(auth(bot), **{"Accept": "application/json, text/event-stream",
                                     "MCP-Protocol-Version": "2026-07-28",
                                     "Mcp-Method": "tools/list"})
    yield ("decide", "/v1/decide",
           {"agent": "support-bot", "workflow": "refunds", "action": "issue_refund",
            "input": {"amount": 5}, "run_id": "run-%d" % time.time_ns()}, auth(bot), 200)
    yield ("resolve", "/v1/escalations/%s/resolve" % decide(500),
           {"resolution": "deny", "note": "padded"}, auth(lena), 200)
    yield ("outcomes", "/v1/outcomes",
           {"decision_id": decide(3), "metric": "csat", "value": 5}, auth(bot), 201)
    yield ("reload", "/v1/admin/reload", {}, auth(admin), 200)
    yield ("authzen evaluation", "/access/v1/evaluation", evaluation, auth(pep), 200)
    yield ("authzen evaluations", "/access/v1/evaluations", {"evaluations": [evaluation]},
           auth(pep), 200)
    yield ("mcp", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                           "params": {"_meta": meta}}, mcp_headers, 200)


def test_default_limit(srv):
    for framing in ("content-length", "chunked"):
        chunked = framing == "chunked"
        for name, path, obj, headers, ok in endpoints(srv):
            st, body = send(srv, path, padded(obj, DEFAULT_MAX_BODY + 1), headers, chunked)
            t.check(refused_for_size(st, body),
                    "%s (%s): a body of %d bytes is refused with 413 too_large naming the "
                    "limit of %d bytes; got %s %s" % (name, framing, DEFAULT_MAX_BODY + 1,
                                                      DEFAULT_MAX_BODY, st, str(body)[:300]))
        # Fresh ids: a refusal above that did not happen must not spoil these.
        for name, path, obj, headers, ok in endpoints(srv):
            st, body = send(srv, path, padded(obj, DEFAULT_MAX_BODY), headers, chunked)
            t.eq(st, ok, "%s (%s): a body of exactly %d bytes is answered as usual (%s)"
                 % (name, framing, DEFAULT_MAX_BODY, str(body)[:300]))


def main():
    test_documented_default()
    srv = Server(SHOP, agents=["support-bot"],
                 approvers={"lena": (["leads"], ["support-lead"])},
                 peps=["gateway"])
    with srv:  # no --max-body: the default is what is tested
        t.check("--max-body" not in srv.extra_args, "the server runs with its default limit")
        test_default_limit(srv)
    t.done()


if __name__ == "__main__":
    main()
