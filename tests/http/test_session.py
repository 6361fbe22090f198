"""test_session.py - console sign-in by session cookie, CSRF, and the console's
files and security headers, against a real `charter serve` on 127.0.0.1.

A person signs in with an approver, admin or auditor token (POST /v1/session)
and gets an HttpOnly, SameSite=Strict cookie and a CSRF token; agent and pep
keys are refused. A request with the cookie reads what its key may read and no
more; one that changes something needs X-CSRF-Token and, when it has an Origin,
this server's own. Sign-out, and a revoked key after a reload, end the session.
The console's files (GET /, /console/NAME) and SVG pictures carry their
Content-Security-Policy, every answer nosniff. A connection made with a live
cookie leaves the unproven connections, as one made with a bearer token does. Every request has a timeout of
its own, and the whole script is bounded by ctest's TIMEOUT.
"""
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks, charter_cli  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
t = Checks("http_session")

CONSOLE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
COOKIE_RE = re.compile(r"charter_session=([A-Za-z0-9_-]{43}); Path=/; HttpOnly; "
                       r"SameSite=Strict; Max-Age=28800")


def sign_in(srv, who, headers=None):
    """POST /v1/session with the token of `who`: (status, headers, body, cookie)."""
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    st, rh, raw = srv.raw("POST", "/v1/session",
                          json.dumps({"token": srv.tokens.get(who, who)}), h)
    body = json.loads(raw) if raw else None
    m = COOKIE_RE.fullmatch(rh.get("set-cookie", ""))
    return st, rh, body, m.group(1) if m else None


def with_cookie(srv, method, path, cookie, body=None, csrf=None, headers=None):
    h = {"Cookie": "charter_session=" + cookie}
    if csrf:
        h["X-CSRF-Token"] = csrf
    h.update(headers or {})
    return srv.call(method, path, body, headers=h)


def code(body):
    return (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None


def test_sign_in(srv):
    st, rh, body, cookie = sign_in(srv, "lena")
    t.eq(st, 200, "an approver signs in")
    t.check(cookie is not None, "the cookie is exactly charter_session=<43 chars>; Path=/; "
            "HttpOnly; SameSite=Strict; Max-Age=28800: %r" % rh.get("set-cookie"))
    who = (body or {}).get("who", {})
    t.eq((who.get("name"), who.get("role"), who.get("queues")),
         ("lena", "approver", ["leads", "quick"]), "who is the approver")
    t.eq(who.get("key_id"), srv.tokens["lena"][4:16], "who names the key id")
    t.check(re.fullmatch(r"[A-Za-z0-9_-]{43}", (body or {}).get("csrf", "")),
            "a csrf token of 43 base64url characters")
    t.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
                         (body or {}).get("expires", "")), "expires is RFC 3339")
    t.eq(rh.get("x-content-type-options"), "nosniff", "a JSON answer carries nosniff")
    for who_ in ("admin", "audrey"):
        st, _, body2, c2 = sign_in(srv, who_)
        t.check(st == 200 and c2, "%s signs in: %s %r" % (who_, st, body2))
    for who_ in ("support-bot", "gate"):
        st, rh2, body2, c2 = sign_in(srv, who_)
        t.eq((st, code(body2), c2, "set-cookie" in rh2), (403, "forbidden", None, False),
             "a %s key is refused (the console is for people)" % who_)
    st, _, body2, c2 = sign_in(srv, "chk_000000000000_" + "A" * 43)
    t.eq((st, code(body2), c2), (401, "unauthenticated", None), "an unknown token: 401")
    st, _, body2 = srv.call("POST", "/v1/session", {"nope": 1})
    t.eq((st, code(body2)), (400, "invalid_request"), "no token: 400")
    st, _, body2, c2 = sign_in(srv, "lena", {"Origin": "http://evil.example"})
    t.eq((st, code(body2), c2), (403, "csrf", None), "a sign-in from another site: 403 csrf")
    return cookie, body["csrf"]


def test_reads(srv, cookie, csrf):
    st, _, body = with_cookie(srv, "GET", "/v1/session", cookie)
    t.eq((st, (body or {}).get("csrf"), (body or {}).get("who", {}).get("name")),
         (200, csrf, "lena"), "GET /v1/session answers the session again")
    st, _, body = srv.call("GET", "/v1/session")
    t.eq((st, code(body)), (401, "unauthenticated"), "GET /v1/session without a cookie: 401")
    st, _, body = with_cookie(srv, "GET", "/v1/escalations?status=all", cookie)
    t.check(st == 200 and "escalations" in (body or {}),
            "the approver's cookie lists its escalations: %s %r" % (st, body))
    st, _, body = with_cookie(srv, "GET", "/v1/report", cookie)
    t.eq((st, code(body)), (403, "forbidden"), "the approver's cookie cannot read the report")
    st, _, body = with_cookie(srv, "GET", "/v1/escalations", "x" * 43)
    t.eq((st, code(body)), (401, "unauthenticated"), "an unknown cookie: 401")
    st, _, body = srv.call("GET", "/v1/escalations", token="chk_000000000000_" + "A" * 43,
                           headers={"Cookie": "charter_session=" + cookie})
    t.eq(st, 401, "a wrong bearer token is not rescued by a cookie")


def test_csrf(srv, cookie, csrf):
    st, _, esc = srv.call("POST", "/v1/decide",
                          {"agent": "support-bot", "workflow": "refunds",
                           "action": "issue_refund", "input": {"amount": 500},
                           "run_id": "run-session"}, token=srv.tokens["support-bot"])
    t.eq((st, (esc or {}).get("decision")), (200, "escalate"), "an escalation to resolve")
    path = "/v1/escalations/%s/resolve" % esc["decision_id"]
    note = {"resolution": "approve", "note": "checked"}
    st, _, body = with_cookie(srv, "POST", path, cookie, note)
    t.eq((st, code(body)), (403, "csrf"), "a POST with the cookie and no X-CSRF-Token")
    st, _, body = with_cookie(srv, "POST", path, cookie, note, csrf="A" * 43)
    t.eq((st, code(body)), (403, "csrf"), "a POST with a wrong X-CSRF-Token")
    st, _, body = with_cookie(srv, "POST", path, cookie, note, csrf=csrf,
                              headers={"Origin": "http://evil.example"})
    t.eq((st, code(body)), (403, "csrf"), "a POST from another Origin")
    st, _, body = with_cookie(srv, "POST", path, cookie, note, csrf=csrf,
                              headers={"Origin": "http://127.0.0.1:%d" % srv.port})
    t.eq((st, (body or {}).get("status")), (200, "approved"),
         "the right token and Origin resolve the escalation: %r" % body)
    st, _, d = srv.call("GET", "/v1/decisions/%s" % esc["decision_id"],
                        token=srv.tokens["admin"])
    t.eq(((d or {}).get("escalation") or {}).get("resolved_by"), "lena",
         "resolved as the session's key")


def test_sign_out(srv, cookie, csrf):
    st, _, body = with_cookie(srv, "DELETE", "/v1/session", cookie)
    t.eq((st, code(body)), (403, "csrf"), "sign-out needs the CSRF header")
    st, rh, _ = srv.raw("DELETE", "/v1/session", None,
                        {"Cookie": "charter_session=" + cookie, "X-CSRF-Token": csrf})
    t.eq(st, 204, "sign-out: 204")
    t.eq(rh.get("set-cookie"), "charter_session=; Path=/; HttpOnly; SameSite=Strict; "
         "Max-Age=0", "sign-out clears the cookie")
    st, _, body = with_cookie(srv, "GET", "/v1/escalations", cookie)
    t.eq((st, code(body)), (401, "unauthenticated"), "the cookie is dead after sign-out")
    st, _, body = with_cookie(srv, "GET", "/v1/session", cookie)
    t.eq(st, 401, "GET /v1/session after sign-out: 401")


def test_revoked(srv):
    st, _, body, cookie = sign_in(srv, "audrey")
    st, _, body = with_cookie(srv, "GET", "/v1/report", cookie)
    t.eq(st, 200, "the auditor's cookie reads the report")
    charter_cli("keys", "revoke", "--dir", srv.keys, srv.tokens["audrey"][:16])
    st, _, body = with_cookie(srv, "GET", "/v1/report", cookie)
    t.eq(st, 200, "the session lives until the reload")
    st, _, body = srv.call("POST", "/v1/admin/reload", token=srv.tokens["admin"])
    t.eq(st, 200, "reload")
    st, _, body = with_cookie(srv, "GET", "/v1/report", cookie)
    t.eq((st, code(body)), (401, "unauthenticated"), "a revoked key's session ends at reload")
    st, _, body = with_cookie(srv, "GET", "/v1/session", cookie)
    t.eq(st, 401, "GET /v1/session of a revoked key: 401")


def check_console_headers(rh, what):
    t.eq(rh.get("content-security-policy"), CONSOLE_CSP, what + ": the console's CSP")
    t.eq(rh.get("x-content-type-options"), "nosniff", what + ": nosniff")
    t.eq(rh.get("referrer-policy"), "no-referrer", what + ": Referrer-Policy")
    t.eq(rh.get("x-frame-options"), "DENY", what + ": X-Frame-Options")
    t.eq(rh.get("cache-control"), "no-cache", what + ": Cache-Control")


def test_console_files(srv, web):
    st, rh, raw = srv.raw("GET", "/")
    t.eq((st, rh.get("content-type"), raw), (200, "text/html; charset=utf-8",
         b"<!doctype html><title>test</title>\n"), "GET / is DIR/index.html")
    check_console_headers(rh, "GET /")
    st, rh, raw = srv.raw("GET", "/console/app.css")
    t.eq((st, rh.get("content-type"), raw), (200, "text/css; charset=utf-8",
         b"body { color: black; }\n"), "GET /console/app.css")
    check_console_headers(rh, "GET /console/app.css")
    etag = rh.get("etag")
    st, rh2, raw = srv.raw("GET", "/console/app.css", headers={"If-None-Match": etag or "x"})
    t.eq((st, raw), (304, b""), "If-None-Match with its ETag: 304")
    with open(os.path.join(web, "app.css"), "w") as f:
        f.write("body { color: navy; }\n")
    st, rh, raw = srv.raw("GET", "/console/app.css", headers={"If-None-Match": etag or "x"})
    t.eq((st, raw), (200, b"body { color: navy; }\n"), "--console-dir reads each request")
    st, rh, raw = srv.raw("HEAD", "/")
    t.eq((st, raw, rh.get("content-security-policy")), (200, b"", CONSOLE_CSP), "HEAD /")
    for bad in ("/console/../x", "/console/..%2Fx", "/console/a/b.css", "/console/.env",
                "/console/nope.css", "/console/notes.txt", "/console/"):
        st, _, _ = srv.raw("GET", bad)
        t.eq(st, 404, "GET %s" % bad)
    st, rh, raw = srv.raw("GET", "/v1/map?format=svg",
                          headers={"Authorization": "Bearer " + srv.tokens["admin"]})
    t.eq((st, rh.get("content-type", "").split(";")[0]), (200, "image/svg+xml"), "the map as SVG")
    t.eq(rh.get("content-security-policy"), SVG_CSP, "an SVG answer carries its CSP")
    t.eq(rh.get("x-content-type-options"), "nosniff", "an SVG answer carries nosniff")
    st, rh, _ = srv.raw("GET", "/healthz")
    t.eq(rh.get("x-content-type-options"), "nosniff", "/healthz carries nosniff")


def held_through_crowd(srv, cookie, csrf, crowd=15):
    """Sends a resolve's headers with the cookie and half its body, then opens
    `crowd` silent connections (the server allows 16, 2 kept for requests
    made with a key); returns the status line once the body is finished, or
    None when the server closed the connection as the oldest unproven one."""
    body = json.dumps({"resolution": "approve", "note": "x" * 40}).encode()
    head = ("POST /v1/escalations/d-999/resolve HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Cookie: charter_session=%s\r\nX-CSRF-Token: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (srv.port, cookie, csrf, len(body))).encode()
    a = socket.create_connection((srv.host, srv.port), timeout=10)
    others = []
    try:
        a.sendall(head + body[:10])
        time.sleep(0.3)
        for _ in range(crowd):
            others.append(socket.create_connection((srv.host, srv.port), timeout=10))
            time.sleep(0.05)
        time.sleep(0.3)
        try:
            a.sendall(body[10:])
            data = a.recv(200)
        except OSError:
            return None
        return data.split(b"\r\n", 1)[0] if data else None
    finally:
        a.close()
        for o in others:
            o.close()


def test_gate_counts_sessions():
    """A connection whose request carries a live session cookie leaves the
    unproven connections as a bearer token's does: a crowd of silent
    connections does not close it while its body comes."""
    with Server(SHOP, approvers={"lena": (["leads"], ["support-lead"])},
                extra_args=["--max-connections", "16"]) as srv:
        st, _, body, cookie = sign_in(srv, "lena")
        line = held_through_crowd(srv, cookie, body["csrf"])
        t.check(line is not None and b" 404 " in line,
                "a cookie's connection outlives the crowd and is answered: %r" % line)
        time.sleep(0.3)
        line = held_through_crowd(srv, "x" * 43, body["csrf"])
        t.eq(line, None, "a connection with an unknown cookie is closed for the crowd")


def main():
    tmp = tempfile.mkdtemp(prefix="charter-session-")
    try:
        web = os.path.join(tmp, "web")
        os.mkdir(web)
        with open(os.path.join(web, "index.html"), "w") as f:
            f.write("<!doctype html><title>test</title>\n")
        with open(os.path.join(web, "app.css"), "w") as f:
            f.write("body { color: black; }\n")
        with open(os.path.join(web, "notes.txt"), "w") as f:
            f.write("not served\n")
        with open(os.path.join(tmp, "x"), "w") as f:
            f.write("outside the folder\n")
        srv = Server(SHOP, agents=["support-bot"], peps=["gate"], auditors=["audrey"],
                     approvers={"lena": (["leads", "quick"], ["support-lead"])},
                     extra_args=["--console-dir", web])
        with srv:
            cookie, csrf = test_sign_in(srv)
            test_reads(srv, cookie, csrf)
            test_csrf(srv, cookie, csrf)
            test_sign_out(srv, cookie, csrf)
            test_revoked(srv)
            test_console_files(srv, web)
            t.eq(srv.stop(), 0, "the server stops cleanly (no sanitizer report)")
        # The files built in, and a Secure cookie for a server behind TLS.
        with Server(SHOP, approvers={"lena": (["leads"], ["support-lead"])},
                    extra_args=["--cookie-secure"]) as srv2:
            st, rh, raw = srv2.raw("GET", "/")
            t.check(st == 200 and raw.lower().startswith(b"<!doctype html"),
                    "GET / answers the embedded index.html: %s %r" % (st, raw[:40]))
            check_console_headers(rh, "embedded GET /")
            st, rh, _, _ = sign_in(srv2, "lena")
            t.check(st == 200 and rh.get("set-cookie", "").endswith("; Max-Age=28800; Secure"),
                    "--cookie-secure marks the cookie Secure: %r" % rh.get("set-cookie"))
            t.eq(srv2.stop(), 0, "the second server stops cleanly")
        test_gate_counts_sessions()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
