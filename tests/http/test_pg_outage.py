"""test_pg_outage.py - a server on a PostgreSQL ledger fails closed while the
database is down and recovers by itself when it is back.

Against a real `charter serve` on 127.0.0.1 and a PostgreSQL of this test's
own (tests/pg/pg.sh in a temporary folder: stopping the shared fixture's
server would break the other tests running beside this one):

  - under a steady load of decisions, `pg.sh immediate` (an abrupt stop, as
    a crash) makes every decision asked while it is down the fail-closed
    deny (ledger_unavailable) with 503, and /healthz 503 with reason
    "unavailable"; nothing else (no 500, no hang);
  - after `pg.sh restart` /healthz is 200 again and decisions are recorded
    again, with no restart of charter serve;
  - every decision acknowledged (200) is in the ledger (export), and
    `charter verify` passes on the database;
  - the password of the ledger's URL is in no answer and no log line.

Every child process and request is bounded in time. Skips (exit 77) without
PostgreSQL's binaries when CHARTER_TEST_PG=skip.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CHARTER, SCALE, Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PG_SH = os.path.join(HERE, "..", "pg", "pg.sh")
SHOP = os.path.join(HERE, "data", "shop.yaml")
PASSWORD = "s3cret-never-shown"
t = Checks("http_pg_outage")


def pg(*args, timeout=120):
    p = subprocess.run([PG_SH, *args], capture_output=True, text=True,
                       timeout=timeout * SCALE)
    if p.returncode != 0:
        raise RuntimeError("pg.sh %s: %s" % (" ".join(args), p.stderr))
    return p.stdout.strip()


def cli(*args, timeout=30):
    return subprocess.run([CHARTER, *args], capture_output=True, text=True,
                          timeout=timeout * SCALE)


class Load:
    """Threads deciding one after another until stopped; every answer kept
    with the times it was asked and answered (monotonic)."""

    def __init__(self, srv, threads=4):
        self.srv = srv
        self.token = srv.tokens["support-bot"]
        self.results = []          # (t_sent, t_done, status, body)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(threads)]
        self.n = 0

    def run(self, i):
        k = 0
        while not self.stop.is_set():
            k += 1
            body = {"workflow": "refunds", "action": "issue_refund",
                    "input": {"amount": 20}, "run_id": "t%d-%d" % (i, k)}
            t0 = time.monotonic()
            try:
                st, _, ans = self.srv.call("POST", "/v1/decide", body, token=self.token,
                                           timeout=15 * SCALE)
            except Exception as e:  # noqa: BLE001 - a hang or reset is a failure
                st, ans = None, repr(e)
            with self.lock:
                self.results.append((t0, time.monotonic(), st, ans))
            time.sleep(0.02)

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for th in self.threads:
            th.join(timeout=30 * SCALE)
        return False


def health(srv):
    st, _, body = srv.call("GET", "/healthz", timeout=10 * SCALE)
    return st, body


def await_health(srv, status, within):
    deadline = time.monotonic() + within * SCALE
    st, body = health(srv)
    while st != status and time.monotonic() < deadline:
        time.sleep(0.1)
        st, body = health(srv)
    return st, body


def main():
    pgdir = tempfile.mkdtemp(prefix="charter-pg-outage-")
    try:
        url = pg("start", pgdir)
    except RuntimeError as e:
        shutil.rmtree(pgdir, ignore_errors=True)
        raise e
    if not os.path.exists(os.path.join(pgdir, "url")):  # CHARTER_TEST_PG=skip, no binaries
        print("http_pg_outage: skipped: no PostgreSQL binaries")
        shutil.rmtree(pgdir, ignore_errors=True)
        sys.exit(77)
    srv = None
    try:
        db = pg("createdb", pgdir, "outage")
        # Trust authentication ignores the password; it is there to be hidden.
        ledger = db.replace("postgresql://charter@", "postgresql://charter:%s@" % PASSWORD)
        srv = Server(SHOP, agents=["support-bot"], ledger=ledger)
        srv.extra_args = ["--state-dir", srv.dir, "--server-id", "outage-test"]
        srv.start()
        st, h = health(srv)
        t.eq(st, 200, "/healthz on a PostgreSQL ledger")
        t.eq((h.get("server"), h.get("ledger", {}).get("backend"), h.get("lease")),
             ("outage-test", "postgresql", True),
             "/healthz names the server, the backend and the lease")
        t.check(glob.glob(os.path.join(srv.dir, "charter-outage-*.outbox")),
                "the outbox is a side file in --state-dir")

        with Load(srv) as load:
            time.sleep(1.0)
            pg("immediate", pgdir)
            t_down = time.monotonic()
            time.sleep(1.5)
            st_down, h_down = await_health(srv, 503, 5)
            time.sleep(0.5)
            t_restart = time.monotonic()
            pg("restart", pgdir)
            st_up, h_up = await_health(srv, 200, 20)
            t_up = time.monotonic()
            time.sleep(1.0)

        t.eq(st_down, 503, "/healthz while the database is down")
        t.eq((h_down.get("reason"), h_down.get("ledger", {}).get("status")),
             ("unavailable", "failing"), "/healthz says the database cannot be reached")
        t.eq(st_up, 200, "/healthz is 200 again once the database is back")
        res = load.results
        statuses = {r[2] for r in res}
        t.check(statuses <= {200, 503}, "every answer is 200 or 503: %r" % (statuses - {200, 503}))
        down = [r for r in res if r[0] > t_down + 0.1 and r[1] < t_restart]
        t.check(len(down) >= 5, "decisions were asked while it was down (%d)" % len(down))
        t.check(all(r[2] == 503 and isinstance(r[3], dict) and r[3].get("decision") == "deny"
                    and r[3].get("reason") == "ledger_unavailable" for r in down),
                "every decision while it was down is the fail-closed deny with 503")
        before = [r for r in res if r[1] < t_down]
        after = [r for r in res if r[0] > t_up]
        t.check(any(r[2] == 200 for r in before), "decisions were recorded before")
        t.check(after and all(r[2] == 200 for r in after),
                "every decision after the recovery is recorded (%d)" % len(after))

        acked = {r[3]["decision_id"] for r in res if r[2] == 200}
        code = srv.stop()
        t.eq(code, 0, "charter serve stops cleanly")
        log = srv.stderr_text()
        t.check("ledger: writable again" in log, "the log says when it recovered")
        p = cli("export", ledger, "--format", "jsonl")
        t.eq(p.returncode, 0, "export from the database")
        ids = set()
        for line in p.stdout.splitlines():
            e = json.loads(line)
            if e["kind"] == "decision":
                ids.add("d-%d" % e["seq"])
        t.check(acked and acked <= ids,
                "every acknowledged decision is in the ledger (%d acknowledged, %d missing)"
                % (len(acked), len(acked - ids)))
        v = cli("verify", ledger)
        t.eq(v.returncode, 0, "charter verify passes on the database: %s" % v.stdout)
        every_text = log + json.dumps([r[3] for r in res]) + json.dumps([h, h_down, h_up]) \
            + p.stderr + v.stdout + v.stderr
        t.check(PASSWORD not in every_text, "the password is in no answer and no log line")
        t.check("***" in log, "the log shows the URL with its password hidden")
    finally:
        if srv:
            srv.kill()
            shutil.rmtree(srv.dir, ignore_errors=True)
        try:
            pg("stop", pgdir)
        finally:
            shutil.rmtree(pgdir, ignore_errors=True)
    t.done()


main()
