"""test_notify.py - escalations reach people: webhooks from a real `charter
serve` on 127.0.0.1 to receivers in this process (harness.Receiver).

- a receiver that verifies the Standard Webhooks signature, fails twice and
  then accepts: exactly one logical delivery, every retry with the same id;
- a receiver that hangs: 200 decisions still finish within a generous bound,
  at most a few transfers wait on it, and another queue's receiver still gets
  its message;
- kill -9 after the escalation is recorded and before delivery (the receiver
  down), restart with the receiver up: delivered;
- a failing receiver shows in /metrics and GET /v1/notifications, its URL's
  credentials cut;
- reminders at the SLA's shares, a move to the next queue, a timeout.

Only single-URL `notify:` is used here (the loader of today reads it); Slack
and e-mail targets are in test_notify_formats.py. Every wait is bounded.
"""
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Server, Checks, Receiver, charter_cli, free_port,  # noqa: E402
                     webhook_signature_ok, SCALE)
import json  # noqa: E402

t = Checks("http_notify")

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
    actions: [issue_refund, close_account]
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
  - id: closing
    workflows: [refunds]
    actions: [close_account]
    when: 'true'
    effect: escalate
    escalate_to: %(close_queue)s
    protects: cost-discipline
    message: Closing an account needs a person.
escalation:
  queues:
%(queues)s
"""


def write_charter(d, queues, close_queue="leads"):
    path = os.path.join(d, "charter.yaml")
    with open(path, "w") as f:
        f.write(CHARTER % {"queues": queues, "close_queue": close_queue})
    return path


def decide(srv, action="issue_refund", amount=500):
    st, _, body = srv.call("POST", "/v1/decide", {
        "agent": "support-bot", "workflow": "refunds", "action": action,
        "input": {"amount": amount}, "run_id": "run-%d" % time.time_ns()},
        token=srv.tokens["support-bot"])
    return st, body


def events_of(reqs, decision_id=None):
    out = []
    for path, headers, body, status in reqs:
        try:
            j = json.loads(body)
        except ValueError:
            continue
        if decision_id and j.get("data", {}).get("decision_id") != decision_id:
            continue
        out.append((j.get("type"), j, headers, status, path, body))
    return out


def test_retries_same_id():
    """Fails twice, then accepts: one logical delivery, the same webhook-id
    and a valid signature on every attempt."""
    d = tempfile.mkdtemp(prefix="charter-notify-")
    with Receiver(lambda n, p, h, b: 500 if n <= 2 else 200) as rcv:
        charter = write_charter(d, "    - {id: leads, approvers: {roles: [support-lead]}, "
                                   "sla: 4h, on_timeout: deny, notify: '%s/hook'}" % rcv.url)
        srv = Server(charter, agents=["support-bot"],
                     approvers={"lena": (["leads"], ["support-lead"])}, auditors=["audra"],
                     extra_args=["--notify-retry-base", "200ms",
                                 "--public-url", "https://charter.example/"],
                     workdir=d)
        srv.make_keys()
        secret = charter_cli("keys", "webhook", "--dir", srv.keys, "--queue", "leads").stdout.strip()
        t.check(re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret), "a whsec_ secret: %r" % secret)
        mode = os.stat(os.path.join(srv.keys, "webhooks.json")).st_mode & 0o777
        t.eq(mode, 0o600, "webhooks.json is private")
        again = charter_cli("keys", "webhook", "--dir", srv.keys, "--queue", "leads", check=False)
        t.check(again.returncode == 2 and "--rotate" in again.stderr,
                "a second secret without --rotate is refused: %r" % again.stderr)
        with srv:
            st, esc = decide(srv)
            t.eq((st, esc.get("decision")), (200, "escalate"), "the refund escalates")
            did = esc["decision_id"]
            ok = rcv.wait_for(lambda r: any(s == 200 for _, _, _, s in r), 15)
            t.check(ok, "the third attempt is accepted")
            time.sleep(1.0)  # a fourth attempt would come within the backoff
            ev = events_of(rcv.requests, did)
            t.eq([(e[0], e[3]) for e in ev],
                 [("escalation.opened", 500), ("escalation.opened", 500),
                  ("escalation.opened", 200)],
                 "three attempts of the one opened event, the last accepted")
            ids = {e[2].get("webhook-id") for e in ev}
            t.check(len(ids) == 1 and None not in ids,
                    "every attempt has the same webhook-id: %r" % ids)
            t.check(ev and all(webhook_signature_ok(secret, e[2], e[5]) for e in ev),
                    "every attempt is signed with the secret")
            t.check(all(abs(int(e[2]["webhook-timestamp"]) - time.time()) < 60 for e in ev),
                    "webhook-timestamp is now, in unix seconds")
            data = ev[0][1]["data"]
            t.eq((data["decision_id"], data["queue"], data["agent"], data["workflow"],
                  data["action"], data["status"]),
                 (did, "leads", "support-bot", "refunds", "issue_refund", "open"),
                 "the payload names the escalation")
            t.eq(data["link"], "https://charter.example/#/inbox?id=%s" % did,
                 "the payload links to the item in the console")
            t.check(re.match(r"\d{4}-\d\d-\d\dT", ev[0][1]["timestamp"] or "") and
                    data["deadline"], "timestamp and deadline are RFC 3339")
            # The resolution is notified too, signed.
            st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % did,
                                {"resolution": "approve", "note": "fine"},
                                token=srv.tokens["lena"])
            t.eq(st, 200, "lena approves")
            ok = rcv.wait_for(lambda r: any(e[0] == "escalation.resolved"
                                            for e in events_of(r, did)), 10)
            res = [e for e in events_of(rcv.requests, did) if e[0] == "escalation.resolved"]
            t.check(ok and res[0][1]["data"]["status"] == "approved" and
                    res[0][1]["data"]["resolved_by"] == "lena" and
                    res[0][1]["data"]["note"] == "fine", "the resolution is notified")
            t.check(res and res[0][2]["webhook-id"] not in ids, "with an id of its own")
            # The outbox as the API shows it.
            st, _, body = srv.call("GET", "/v1/notifications?decision=%s" % did,
                                   token=srv.tokens["audra"])
            rows = (body or {}).get("notifications", [])
            opened = [r for r in rows if r["event"] == "escalation.opened"]
            t.check(st == 200 and opened and opened[0]["status"] == "delivered" and
                    opened[0]["attempts"] == 3 and opened[0]["id"] == list(ids)[0] and
                    opened[0]["last_error"] == "HTTP 500" and opened[0]["delivered"],
                    "GET /v1/notifications: delivered after 3 attempts: %r" % rows)
            # The receiver has the message a moment before the server reads
            # its answer and counts the delivery: look for up to three seconds.
            until = time.time() + 3 * SCALE
            while True:
                st, _, m = srv.raw("GET", "/metrics")
                text = m.decode()
                counted = (re.search(r"^charter_notifications_delivered_total [2-9]", text,
                                     re.M) and
                           re.search(r"^charter_notification_attempts_failed_total 2$", text,
                                     re.M))
                if counted or time.time() > until:
                    break
                time.sleep(0.1)
            t.check(counted, "metrics count the deliveries and the failed attempts")
            code = srv.stop()
            t.eq(code, 0, "the server stops cleanly: %s" % srv.stderr_text()[-2000:])
    shutil.rmtree(d, ignore_errors=True)


def test_hanging_receiver():
    """A receiver that never answers holds up neither decisions nor the
    other queue's receiver."""
    d = tempfile.mkdtemp(prefix="charter-notify-")
    hang = Receiver(lambda n, p, h, b: "hang")
    fine = Receiver()
    try:
        charter = write_charter(d, (
            "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, "
            "on_timeout: deny, notify: '%s/hook'}\n"
            "    - {id: closers, approvers: {roles: [support-lead]}, sla: 4h, "
            "on_timeout: deny, notify: '%s/hook'}") % (hang.url, fine.url),
            close_queue="closers")
        with Server(charter, agents=["support-bot"], workdir=d,
                    extra_args=["--notify-retry-base", "200ms"]) as srv:
            st, first = decide(srv)
            t.check(hang.wait_for(lambda r: hang.hanging > 0, 10) or hang.hanging > 0,
                    "the first webhook hangs")
            t0 = time.time()
            n_ok = 0
            for i in range(200):
                st, body = decide(srv)
                n_ok += st == 200 and body.get("decision") == "escalate"
            took = time.time() - t0
            t.eq(n_ok, 200, "200 escalating decisions answered")
            # Each takes a few ms; a decision waiting on the receiver would
            # take the 10 s transfer timeout.
            t.check(took < 8 * SCALE, "200 decisions took %.2fs while the receiver hangs" % took)
            st, close = decide(srv, action="close_account")
            t.eq(close.get("decision"), "escalate", "closing escalates to the other queue")
            ok = fine.wait_for(lambda r: any(e[1]["data"]["decision_id"] == close["decision_id"]
                                             for e in events_of(r)), 10)
            t.check(ok, "the other queue's receiver gets its message while one hangs")
            t.check(hang.max_hanging <= 4,
                    "at most 4 transfers wait on the hanging receiver (%d)" % hang.max_hanging)
            code = srv.stop()   # with transfers still in flight
            t.eq(code, 0, "the server stops cleanly: %s" % srv.stderr_text()[-2000:])
            hang.release()
    finally:
        hang.close()
        fine.close()
        shutil.rmtree(d, ignore_errors=True)


def test_kill9_then_delivered():
    """Recorded, not delivered (the receiver down), kill -9; the restart
    delivers it once the receiver is up."""
    d = tempfile.mkdtemp(prefix="charter-notify-")
    port = free_port()
    charter = write_charter(d, "    - {id: leads, approvers: {roles: [support-lead]}, "
                               "sla: 4h, on_timeout: deny, notify: 'http://127.0.0.1:%d/hook'}"
                            % port)
    srv = Server(charter, agents=["support-bot"], auditors=["audra"], workdir=d,
                 extra_args=["--notify-retry-base", "200ms"])
    rcv = None
    try:
        srv.start()
        st, a = decide(srv)
        deadline = time.time() + 10 * SCALE
        rows = []
        while time.time() < deadline:
            st, _, body = srv.call("GET", "/v1/notifications?decision=%s" % a["decision_id"],
                                   token=srv.tokens["audra"])
            rows = (body or {}).get("notifications", [])
            if rows and rows[0]["attempts"] >= 1:
                break
            time.sleep(0.1)
        t.check(rows and rows[0]["status"] == "pending" and rows[0]["attempts"] >= 1 and
                rows[0]["last_error"], "owed and failing while the receiver is down: %r" % rows)
        st, b = decide(srv)          # killed before its pass may have run
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=10)
        rcv = Receiver(port=port)
        srv.start()
        for x in (a, b):
            ok = rcv.wait_for(lambda r, x=x: any(e[0] == "escalation.opened" and
                                                 e[1]["data"]["decision_id"] == x["decision_id"]
                                                 for e in events_of(r)), 10)
            t.check(ok, "%s is delivered after the restart" % x["decision_id"])
        opened_a = [e for e in events_of(rcv.requests, a["decision_id"])]
        t.eq(len(opened_a), 1, "once")
    finally:
        srv.stop()
        srv.kill()
        if rcv:
            rcv.close()
        shutil.rmtree(d, ignore_errors=True)


def test_failures_visible():
    """A receiver that answers 500: /metrics and /v1/notifications say so;
    its credentials are not shown; an approver of another queue sees none."""
    d = tempfile.mkdtemp(prefix="charter-notify-")
    with Receiver(lambda n, p, h, b: 500) as rcv:
        url = "http://hook:s3cret@127.0.0.1:%d/hooks/abc/def?token=t0ken" % rcv.port
        charter = write_charter(d, (
            "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, "
            "on_timeout: deny, notify: '%s'}\n"
            "    - {id: closers, approvers: {roles: [closer]}, sla: 4h, on_timeout: deny}")
            % url, close_queue="closers")
        with Server(charter, agents=["support-bot"], auditors=["audra"], workdir=d,
                    approvers={"lena": (["leads"], ["support-lead"]),
                               "omar": (["closers"], ["closer"])},
                    extra_args=["--notify-retry-base", "200ms"]) as srv:
            st, a = decide(srv)
            ok = rcv.wait_for(lambda r: len(r) >= 2, 10)
            t.check(ok, "the receiver is tried again")
            st, _, body = srv.call("GET", "/v1/notifications?status=failing",
                                   token=srv.tokens["audra"])
            rows = (body or {}).get("notifications", [])
            t.check(st == 200 and body["failing"] >= 1 and rows and
                    rows[0]["last_error"] == "HTTP 500" and rows[0]["status"] == "pending" and
                    rows[0]["next_attempt"] and rows[0]["format"] == "webhook" and
                    rows[0]["queue"] == "leads",
                    "the failing notification is listed: %r" % body)
            shown = json.dumps(body)
            t.check("s3cret" not in shown and "t0ken" not in shown and "def" not in shown,
                    "its URL's credentials are cut: %r" % (rows[0]["target"] if rows else None))
            t.check(rows and rows[0]["target"].startswith("http://127.0.0.1:%d/hooks/" % rcv.port),
                    "the target shows its host and first path segment")
            st, _, body = srv.call("GET", "/v1/notifications", token=srv.tokens["lena"])
            t.check(st == 200 and body["notifications"] and body["failing"] >= 1,
                    "lena (approver of leads) sees it")
            st, _, body = srv.call("GET", "/v1/notifications", token=srv.tokens["omar"])
            t.check(st == 200 and body["notifications"] == [] and body["failing"] == 0,
                    "omar (approver of another queue) sees none")
            st, _, body = srv.call("GET", "/v1/notifications?status=nope",
                                   token=srv.tokens["audra"])
            t.eq(st, 400, "an unknown status is refused")
            st, _, body = srv.call("GET", "/v1/notifications", token=srv.tokens["support-bot"])
            t.eq(st, 403, "an agent key may not read notifications")
            # What is owed is counted once a second: look for up to three.
            until = time.time() + 3 * SCALE
            while True:
                st, _, m = srv.raw("GET", "/metrics")
                text = m.decode()
                failed = re.search(r"^charter_notification_attempts_failed_total (\d+)$",
                                   text, re.M)
                pending = re.search(r"^charter_notifications_pending (\d+)$", text, re.M)
                oldest = re.search(r"^charter_notification_oldest_pending_seconds ([\d.]+)$",
                                   text, re.M)
                shown = (failed and int(failed.group(1)) >= 1 and pending and
                         int(pending.group(1)) >= 1 and oldest and float(oldest.group(1)) > 0)
                if shown or time.time() > until:
                    break
                time.sleep(0.1)
            t.check(shown, "/metrics shows the failures and what is owed")
            t.check(re.search(r"^charter_notifications_failed_total 0$", text, re.M),
                    "nothing given up on yet")
    shutil.rmtree(d, ignore_errors=True)


def test_reminders_move_timeout():
    """Reminders at 50% and 90% of a 4 s SLA, then the move to the next
    queue (its targets); a queue denying on timeout sends timed_out."""
    d = tempfile.mkdtemp(prefix="charter-notify-")
    with Receiver() as rcv:
        charter = write_charter(d, (
            "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4s, "
            "on_timeout: next, next: seniors, notify: '%s/leads'}\n"
            "    - {id: seniors, approvers: {roles: [support-lead]}, sla: 4h, "
            "on_timeout: deny, notify: '%s/seniors'}\n"
            "    - {id: closers, approvers: {roles: [support-lead]}, sla: 3s, "
            "on_timeout: deny, notify: '%s/closers'}") % (rcv.url, rcv.url, rcv.url),
            close_queue="closers")
        with Server(charter, agents=["support-bot"], workdir=d) as srv:
            st, a = decide(srv)
            st, c = decide(srv, action="close_account")
            ok = rcv.wait_for(lambda r: any(e[0] == "escalation.moved"
                                            for e in events_of(r, a["decision_id"])) and
                              any(e[0] == "escalation.timed_out"
                                  for e in events_of(r, c["decision_id"])), 15)
            t.check(ok, "the move and the timeout are notified")
            seq = [(e[0], e[1]["data"]["reminder"], e[4]) for e in
                   events_of(rcv.requests, a["decision_id"])]
            t.eq(seq, [("escalation.opened", None, "/leads"),
                       ("escalation.reminder", "50%", "/leads"),
                       ("escalation.reminder", "90%", "/leads"),
                       ("escalation.moved", None, "/seniors")],
                 "opened, reminders at 50% and 90%, moved to the next queue's target")
            seq = [(e[0], e[1]["data"]["status"], e[4]) for e in
                   events_of(rcv.requests, c["decision_id"])]
            t.eq(seq, [("escalation.opened", "open", "/closers"),
                       ("escalation.reminder", "open", "/closers"),
                       ("escalation.reminder", "open", "/closers"),
                       ("escalation.timed_out", "denied", "/closers")],
                 "a timeout that denies")
            sent = [e[1]["timestamp"] for e in events_of(rcv.requests, a["decision_id"])]
            t.check(sent == sorted(sent), "in order")
            code = srv.stop()
            t.eq(code, 0, "the server stops cleanly: %s" % srv.stderr_text()[-2000:])
    shutil.rmtree(d, ignore_errors=True)


for test in (test_retries_same_id, test_failures_visible, test_reminders_move_timeout,
             test_kill9_then_delivered, test_hanging_receiver):
    try:
        test()
    except Exception as e:  # a crash is a failure, the next test still runs
        import traceback
        traceback.print_exc()
        t.check(False, "%s raised %r" % (test.__name__, e))
t.done()
