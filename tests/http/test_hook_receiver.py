"""test_hook_receiver.py - the README tour's notification, end to end: the
example charter (examples/fintech-support, its support-leads webhook moved to
a free port) served by a real `charter serve` on 127.0.0.1, and the
example's receiver (examples/fintech-support/hook-receiver.py) with the
queue's secret from `charter keys webhook`. A large refund escalates; the
receiver checks the signature and prints the item's link. A receiver given
another secret refuses the same message. Every wait is bounded.
"""
import base64
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks, charter_cli, free_port, SCALE  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "fintech-support")
REFUND = {"workflow": "refunds", "action": "issue_refund", "confidence": 0.9,
          "run_id": "chat-5531",
          "input": {"amount": 400, "currency": "EUR", "destination": "card-4242"},
          "subject": {"customer_id": "c-1001", "tenure_years": 4,
                      "original_payment_method": "card-4242"}}

t = Checks("http_hook_receiver")


class ReceiverProcess:
    """The example receiver as a child process; its lines in a queue."""

    def __init__(self, secret, port):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLE, "hook-receiver.py"), secret, str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text, timeout):
        """The first line containing `text` within `timeout` s, with the
        lines before it; None when it does not come."""
        seen = []
        until = time.time() + timeout
        while time.time() < until:
            try:
                line = self.lines.get(timeout=max(0.05, until - time.time()))
            except queue.Empty:
                break
            seen.append(line)
            if text in line:
                return seen
        return None

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


def run(secret_for_receiver, expect, what):
    d = tempfile.mkdtemp(prefix="charter-hook-")
    port = free_port()
    charter = os.path.join(d, "charter")
    shutil.copytree(os.path.join(EXAMPLE, "charter"), charter)
    path = os.path.join(charter, "support.yaml")
    with open(path) as f:
        text = f.read()
    t.check("http://127.0.0.1:9099/" in text, "the example's webhook is the tour's receiver")
    with open(path, "w") as f:
        f.write(text.replace("http://127.0.0.1:9099/", "http://127.0.0.1:%d/" % port))
    s = Server(charter, agents=["support-agent"], workdir=d,
               extra_args=["--notify-retry-base", "1s"])
    s.make_keys()
    secret = charter_cli("keys", "webhook", "--dir", s.keys, "--queue",
                         "support-leads").stdout.strip()
    t.check(secret.startswith("whsec_"), "keys webhook prints a whsec_ secret")
    rcv = ReceiverProcess(secret_for_receiver or secret, port)
    try:
        t.check(rcv.wait_for("listening on", 10 * SCALE) is not None,
                "the receiver starts")
        s.start()
        code, _, body = s.call("POST", "/v1/decide", REFUND, token=s.tokens["support-agent"])
        t.eq(code, 200, what + ": decide")
        did = body.get("decision_id") if isinstance(body, dict) else None
        t.eq(body.get("decision") if isinstance(body, dict) else None, "escalate",
             what + ": the large refund escalates")
        lines = rcv.wait_for(expect % {"id": did}, 15 * SCALE)
        t.check(lines is not None, "%s: the receiver prints %r" % (what, expect % {"id": did}))
        return lines or [], did, s
    finally:
        rcv.stop()
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


lines, did, s = run(None, "#/inbox?id=%(id)s", "signed")
t.check(any(ln.startswith("escalation.opened %s in support-leads: support-agent wants "
                          "refunds/issue_refund" % did) for ln in lines),
        "the receiver prints the opened escalation: %r" % lines[-2:])
t.check(bool(lines) and lines[-1].strip() == "open http://%s:%d/#/inbox?id=%s"
        % (s.host, s.port, did),
        "the notification links to the item in the console: %r" % lines[-1:])
# The same message checked with another queue's secret is refused.
other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
run(other, "refused msg_%(id)s", "wrong secret")
t.done()
