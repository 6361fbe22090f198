#!/usr/bin/env python3
"""receiver.py - the webhook receiver of bench_notify.sh, on 127.0.0.1.

    python3 receiver.py PORT accept|hang OUT

accept: answers 204 at once and notes, per message, how long after the
decision it arrived (the payload's data.time); hang: reads the request and
never answers (the server's transfer timeout ends it). On SIGTERM it writes
"messages distinct p50_ms p99_ms max_ms" to OUT.
"""
import json
import signal
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, MODE, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lags, ids = [], set()
lock = threading.Lock()


class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if MODE == "hang":
            time.sleep(3600)
            return
        now = time.time()
        try:
            t = json.loads(body)["data"]["time"]
            sent = datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError):
            sent = now
        with lock:
            lags.append((now - sent) * 1000)
            ids.add(self.headers.get("webhook-id"))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def stop(*_):
    with lock:
        v = sorted(lags)
        pick = (lambda q: v[min(len(v) - 1, int(q * len(v)))]) if v else (lambda q: 0)
        with open(OUT, "w") as f:
            f.write("%d %d %.0f %.0f %.0f\n" % (len(v), len(ids), pick(0.5), pick(0.99),
                                                 v[-1] if v else 0))
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
srv = ThreadingHTTPServer(("127.0.0.1", PORT), Hook)
srv.daemon_threads = True
print("listening", flush=True)
srv.serve_forever()
