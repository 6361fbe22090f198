"""test_notify_formats.py - a queue's Slack and e-mail targets, from a real
`charter serve` on 127.0.0.1: the Slack target receives Slack's
incoming-webhook JSON (summary, deadline, a button to the console item),
unsigned; the mailto: target's e-mail reaches a local SMTP sink
(smtp_sink.py, Debian's python3-aiosmtpd under /usr/bin/python3) through
STARTTLS (a self-signed certificate made with the openssl CLI, trusted
with --smtp-ca) and AUTH (--smtp-user, --smtp-password-file).

A missing aiosmtpd or openssl command is a failure, not a skip: the test
command installs both (scripts/deps.sh test).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Server, Checks, Receiver, charter_cli, free_port,  # noqa: E402
                     SCALE, CLI_TIMEOUT)

HERE = os.path.dirname(os.path.abspath(__file__))
SYS_PYTHON = "/usr/bin/python3"

CHARTER = """
charter: 1
organization: {name: Test Shop, purpose: Sell tea and keep customers.}
values:
  - {id: cost-discipline, statement: Money is spent with care.}
workflows:
  - id: refunds
    department: support
    owner: ana@shop.example
    autonomy: agent-ready
    actions: [issue_refund]
    escalate_to: leads
agents:
  - {id: support-bot, department: support, owner: ana@shop.example, workflows: [refunds]}
rules:
  - id: large-refund
    workflows: [refunds]
    actions: [issue_refund]
    when: input.amount > 100
    effect: escalate
    protects: cost-discipline
    message: Large refunds need a lead.
escalation:
  queues:
    - id: leads
      approvers: {roles: [support-lead]}
      sla: 4h
      on_timeout: deny
      notify:
        - {url: "%s/services/T0/B0/x", format: slack}
        - mailto:leads@shop.example
"""


def fail(why):
    print("http_notify_formats: FAILED: %s" % why, flush=True)
    sys.exit(1)


def main():
    d = tempfile.mkdtemp(prefix="charter-notify-fmt-")
    rcv = Receiver()
    charter = os.path.join(d, "charter.yaml")
    with open(charter, "w") as f:
        f.write(CHARTER % rcv.url)
    probe = charter_cli("check", charter, check=False)
    if probe.returncode != 0:
        rcv.close()
        shutil.rmtree(d, ignore_errors=True)
        fail("the charter with a list of notify targets does not load: "
             + probe.stderr.strip()[:300])
    if subprocess.run([SYS_PYTHON, "-c", "import aiosmtpd"], capture_output=True,
                      timeout=CLI_TIMEOUT).returncode != 0:
        fail("%s lacks aiosmtpd (Debian: python3-aiosmtpd)" % SYS_PYTHON)
    if not shutil.which("openssl"):
        fail("no openssl command to make the SMTP sink's certificate")
    t = Checks("http_notify_formats")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   capture_output=True, check=True, timeout=CLI_TIMEOUT)
    pwfile = os.path.join(d, "smtp-password")
    with open(pwfile, "w") as f:
        f.write("s3cret-pw\n")
    port = free_port()
    sink = subprocess.Popen([SYS_PYTHON, os.path.join(HERE, "smtp_sink.py"), str(port), cert,
                             key, "charter", "s3cret-pw"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    mails = []
    ready = threading.Event()
    cv = threading.Condition()

    def read_sink():
        for line in sink.stdout:
            j = json.loads(line)
            if "port" in j:
                ready.set()
                continue
            with cv:
                mails.append(j)
                cv.notify_all()

    threading.Thread(target=read_sink, daemon=True).start()
    try:
        t.check(ready.wait(10 * SCALE), "the SMTP sink starts")
        srv = Server(charter, agents=["support-bot"], auditors=["audra"], workdir=d,
                     extra_args=["--smtp", "smtp://127.0.0.1:%d" % port,
                                 "--smtp-user", "charter", "--smtp-password-file", pwfile,
                                 "--smtp-from", "charter@shop.example", "--smtp-ca", cert,
                                 "--public-url", "https://charter.example",
                                 "--notify-retry-base", "200ms"])
        with srv:
            st, _, esc = srv.call("POST", "/v1/decide", {
                "agent": "support-bot", "workflow": "refunds", "action": "issue_refund",
                "input": {"amount": 500}, "run_id": "run-1"}, token=srv.tokens["support-bot"])
            t.eq((st, esc.get("decision")), (200, "escalate"), "the refund escalates")
            did = esc["decision_id"]
            link = "https://charter.example/#/inbox?id=%s" % did
            # Slack
            ok = rcv.wait_for(lambda r: len(r) >= 1, 10)
            t.check(ok, "the Slack target receives a message")
            if ok:
                path, headers, body, _ = rcv.requests[0]
                msg = json.loads(body)
                t.eq(path, "/services/T0/B0/x", "posted to the hook's URL")
                t.check(did in msg.get("text", ""), "a summary text: %r" % msg.get("text"))
                blocks = msg.get("blocks", [])
                t.check(len(blocks) == 2 and blocks[0]["type"] == "section" and
                        "Deadline:" in blocks[0]["text"]["text"], "a section with the deadline")
                button = blocks[1]["elements"][0] if len(blocks) == 2 else {}
                t.check(blocks and blocks[1]["type"] == "actions" and
                        button.get("type") == "button" and button.get("url") == link,
                        "a button to the console item: %r" % button)
                t.check("webhook-signature" not in headers, "Slack messages are not signed")
            # E-mail
            with cv:
                got = cv.wait_for(lambda: mails, 15 * SCALE)
            t.check(got, "the SMTP sink receives the e-mail (STARTTLS and AUTH required)")
            if got:
                m = mails[0]
                t.eq((m["from"], m["to"], m["user"]),
                     ("charter@shop.example", ["leads@shop.example"], "charter"),
                     "envelope and the authenticated user")
                t.check(re.search(r"^Subject: \[Charter\] .*%s" % re.escape(did), m["data"], re.M),
                        "the subject names the escalation")
                t.check(link in m["data"] and "Deadline:" in m["data"],
                        "the body has the deadline and the link")
            # The sink has the message once DATA ends; the outbox marks it
            # delivered when the SMTP session closes, moments later.
            until = time.time() + 10 * SCALE
            while True:
                st, _, body = srv.call("GET", "/v1/notifications?decision=%s" % did,
                                       token=srv.tokens["audra"])
                rows = {r["format"]: r for r in (body or {}).get("notifications", [])}
                if time.time() > until or all(
                        rows.get(f, {}).get("status") == "delivered" for f in ("slack", "email")):
                    break
                time.sleep(0.05)
            t.check(rows.get("slack", {}).get("status") == "delivered" and
                    rows.get("email", {}).get("status") == "delivered",
                    "both delivered: %r" % rows)
            t.eq(rows.get("slack", {}).get("target"), "http://127.0.0.1:%d/services/\u2026"
                 % rcv.port, "the Slack hook's path (its credential) is cut")
            t.eq(rows.get("email", {}).get("target"), "mailto:leads@shop.example",
                 "the address is shown")
    finally:
        sink.stdin.close()
        try:
            sink.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sink.kill()
        rcv.close()
        shutil.rmtree(d, ignore_errors=True)
    t.done()


main()
