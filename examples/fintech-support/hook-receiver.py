#!/usr/bin/env python3
"""hook-receiver.py - a webhook receiver for the README's tour: listens on
127.0.0.1 (port 9099 unless given), checks each notification's Standard
Webhooks signature with the queue's secret (from `charter keys webhook`),
and prints what arrived. Standard library only; a receiver in production
would use a Standard Webhooks library the same way.

    python3 examples/fintech-support/hook-receiver.py whsec_... [PORT]
"""
import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_S = 300  # refuse messages stamped more than 5 minutes off


def verify(secret, msg_id, stamp, body, signatures):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], want)
               for s in signatures.split())


class Hook(BaseHTTPRequestHandler):
    secret = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        msg_id = self.headers.get("webhook-id", "")
        stamp = self.headers.get("webhook-timestamp", "0")
        ok = (verify(self.secret, msg_id, stamp, body,
                     self.headers.get("webhook-signature", ""))
              and abs(time.time() - int(stamp)) <= TOLERANCE_S)
        self.send_response(204 if ok else 401)
        self.end_headers()
        if not ok:
            print(f"refused {msg_id or 'a message'}: bad or missing signature", flush=True)
            return
        event = json.loads(body)
        d = event.get("data", {})
        print(f"{event.get('type')} {d.get('decision_id')} in {d.get('queue')}: "
              f"{d.get('agent')} wants {d.get('workflow')}/{d.get('action')}; "
              f"deadline {d.get('deadline')}\n  open {d.get('link')}", flush=True)

    def log_message(self, *args):
        pass


def main():
    if len(sys.argv) < 2 or not sys.argv[1].startswith("whsec_"):
        sys.exit("usage: hook-receiver.py whsec_SECRET [PORT]")
    Hook.secret = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 9099
    print(f"listening on http://127.0.0.1:{port}/", flush=True)
    HTTPServer(("127.0.0.1", port), Hook).serve_forever()


if __name__ == "__main__":
    main()
