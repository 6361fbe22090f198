"""harness.py - start a real `charter serve` on 127.0.0.1 for a test, talk to it, stop it.

Every HTTP test uses this: it makes a temporary directory with a fresh ledger
and keys (created with `charter keys ...`, so the CLI path is exercised too),
starts the server on a port the kernel picks, reads the address it prints,
and stops it with SIGTERM at the end (SIGKILL only if it does not stop within
the time limit). Requests go only to 127.0.0.1 and are bounded in time.

Every wait on a child process is bounded: command-line calls, the server's
start and stop, each request (times CHARTER_TEST_TIMEOUT_SCALE, which the
sanitizer builds set). Under ctest, Checks also starts a watchdog from
CHARTER_TEST_TIMEOUT (the test's own TIMEOUT): shortly before it, every
server still running is killed and the test fails with a message saying so,
rather than being killed by ctest with its children left behind.

    with Server(charter_path, agents=["support-agent"],
                approvers={"lena": ["support-leads"]}) as srv:
        status, headers, body = srv.call("POST", "/v1/decide", {...},
                                         token=srv.tokens["support-agent"])

With CHARTER_TEST_LEDGER=pg (the `<name>_pg` ctest variants, docs/deployment.md)
the same tests run on PostgreSQL: every Server without an explicit ledger gets a
database of its own from `tests/pg/pg.sh createdb $CHARTER_TEST_PG_DIR NAME` (a
Server given a workdir keeps one database per workdir, remembered in
WORKDIR/ledger.url, so a restart in the same workdir finds its ledger again),
and its side files (outbox, search index) go to its own directory through
CHARTER_STATE_DIR. new_ledger(dir) gives a test that names its ledger a fresh
one of the mode's kind; pg_skip() prints why a SQLite-only part is skipped.
Server.sibling() starts a second server on the same ledger, keys and charter
(several servers on one PostgreSQL ledger: tests/http/test_multi*.py).
"""
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CHARTER = os.environ.get("CHARTER_BIN", "charter")
SCALE = int(os.environ.get("CHARTER_TEST_TIMEOUT_SCALE") or 1)
REQUEST_TIMEOUT = 30 * SCALE
CLI_TIMEOUT = 20 * SCALE

# The servers started and not yet stopped, for the watchdog.
_running = set()
_running_lock = threading.Lock()

# ---- the ledger's backend: SQLite (default) or PostgreSQL ---------------------
HERE = os.path.dirname(os.path.abspath(__file__))
PG_SH = os.path.join(HERE, "..", "pg", "pg.sh")
PG_MODE = os.environ.get("CHARTER_TEST_LEDGER", "sqlite") == "pg"
_db_numbers = itertools.count(1)


def pg_dir():
    """The test PostgreSQL's folder (the ctest fixture `pg`, tests/pg/pg.sh).
    Exits 77 (ctest: skipped) when CHARTER_TEST_PG=skip and there is none;
    fails otherwise."""
    d = os.environ.get("CHARTER_TEST_PG_DIR")
    if d and os.path.exists(os.path.join(d, "url")):
        return d
    if os.environ.get("CHARTER_TEST_PG") == "skip":
        print("SKIP: no test PostgreSQL (CHARTER_TEST_PG=skip)", flush=True)
        sys.exit(77)
    raise RuntimeError("CHARTER_TEST_PG_DIR=%r has no running test PostgreSQL "
                       "(expected DIR/url from `tests/pg/pg.sh start DIR`, the "
                       "ctest fixture pg_start)" % d)


def pg_sh(*args, timeout=None):
    """Runs tests/pg/pg.sh ARGS (bounded); returns its stdout's last line."""
    p = subprocess.run(["bash", PG_SH, *args], capture_output=True, text=True,
                       timeout=timeout or 60 * SCALE)
    if p.returncode != 0:
        raise RuntimeError("tests/pg/pg.sh %s exited %d: %s%s"
                           % (" ".join(args), p.returncode, p.stdout, p.stderr))
    lines = p.stdout.strip().splitlines()
    return lines[-1].strip() if lines else ""


def pg_createdb(tag="t", directory=None):
    """A new, empty database on the test PostgreSQL (`directory`: another one
    than the fixture's); returns its URL. Names are unique per process, so
    tests run in parallel."""
    script = re.sub(r"[^a-z0-9]+", "_", os.path.basename(sys.argv[0]).lower())
    name = "ch_%s_%s_%d_%d" % (script[:20], re.sub(r"[^a-z0-9]", "", tag.lower())[:12],
                               os.getpid(), next(_db_numbers))
    return pg_sh("createdb", directory or pg_dir(), name)


def new_ledger(directory, name="ledger.db"):
    """A fresh ledger for a test that names its ledger: the SQLite file
    directory/name, or in PG mode a new database (its URL kept in
    directory/name.url, so asking again for the same place gives the same
    database)."""
    if not PG_MODE:
        return os.path.join(directory, name)
    remembered = os.path.join(directory, name + ".url")
    if os.path.exists(remembered):
        with open(remembered) as f:
            return f.read().strip()
    url = pg_createdb(os.path.splitext(name)[0])
    with open(remembered, "w") as f:
        f.write(url + "\n")
    return url


def pg_skip(t, what, why):
    """In PG mode: prints that `what` is skipped and why, returns True (the
    caller skips it). With SQLite: False."""
    if PG_MODE:
        print("SKIP %s (PostgreSQL ledger): %s: %s" % (t.name, what, why), flush=True)
    return PG_MODE


def is_pg(ledger):
    return ledger.startswith(("postgresql://", "postgres://")) or (
        "=" in ledger and ("dbname=" in ledger or "host=" in ledger))


def charter_cli(*args, check=True):
    p = subprocess.run([CHARTER, *args], capture_output=True, text=True,
                       timeout=CLI_TIMEOUT)
    if check and p.returncode != 0:
        raise RuntimeError(f"charter {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


class Server:
    """One `charter serve`. keys: a keys folder to use as it is (another
    server's; default DIR/keys, made by make_keys). sign: `charter keys init`
    in the keys folder and sign checkpoints with its ledger.key (--key).
    server_id: --server-id. state_dir: where a PostgreSQL ledger's side files
    go (CHARTER_STATE_DIR; default this server's DIR)."""

    def __init__(self, charter, agents=(), approvers=None, admins=("admin",),
                 peps=(), extra_args=(), ledger=None, workdir=None, auditors=(),
                 keys=None, sign=False, server_id=None, state_dir=None):
        self.charter = charter
        self.agents = list(agents)
        self.approvers = dict(approvers or {})
        self.admins = list(admins)
        self.peps = list(peps)
        self.auditors = list(auditors)
        self.extra_args = list(extra_args)
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="charter-http-")
        if ledger:
            self.ledger = ledger
        elif PG_MODE and self.own_dir:
            self.ledger = pg_createdb("srv")
        else:
            self.ledger = new_ledger(self.dir)
        self.keys = keys or os.path.join(self.dir, "keys")
        self.sign = sign
        self.server_id = server_id
        self.state_dir = state_dir or self.dir
        self.tokens = {}
        self.proc = None
        self.host = "127.0.0.1"
        self.port = None

    # ---- keys -------------------------------------------------------------
    def make_keys(self):
        if self.sign and not os.path.exists(os.path.join(self.keys, "ledger.key")):
            charter_cli("keys", "init", "--dir", self.keys)
        if os.path.exists(os.path.join(self.keys, "access.json")):
            return
        for a in self.agents:
            self.tokens[a] = charter_cli("keys", "agent", "--dir", self.keys,
                                         "--agent", a).stdout.strip()
        for name, spec in self.approvers.items():
            queues, roles = (spec, []) if isinstance(spec, list) else spec
            args = ["keys", "approver", "--dir", self.keys, "--name", name]
            for q in queues:
                args += ["--queue", q]
            for r in roles:
                args += ["--role", r]
            self.tokens[name] = charter_cli(*args).stdout.strip()
        for a in self.admins:
            self.tokens[a] = charter_cli("keys", "admin", "--dir", self.keys,
                                         "--name", a).stdout.strip()
        for p in self.peps:
            self.tokens[p] = charter_cli("keys", "pep", "--dir", self.keys,
                                         "--name", p).stdout.strip()
        for a in self.auditors:
            self.tokens[a] = charter_cli("keys", "auditor", "--dir", self.keys,
                                         "--name", a).stdout.strip()

    # ---- life cycle ---------------------------------------------------------
    def start(self, timeout=10 * SCALE):
        self.make_keys()
        cmd = [CHARTER, "serve", "--charter", self.charter, "--ledger", self.ledger,
               "--keys", self.keys, "--listen", "127.0.0.1:0"]
        if self.sign:
            cmd += ["--key", os.path.join(self.keys, "ledger.key")]
        if self.server_id:
            cmd += ["--server-id", self.server_id]
        cmd += self.extra_args
        env = None
        if is_pg(self.ledger):
            env = dict(os.environ, CHARTER_STATE_DIR=self.state_dir)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        with _running_lock:
            _running.add(self.proc)
        # readline() blocks: a server that prints nothing is killed at the
        # deadline, which ends the read.
        timer = threading.Timer(timeout, self.proc.kill)
        timer.daemon = True
        timer.start()
        deadline = time.time() + timeout
        line = ""
        try:
            while time.time() < deadline:
                line = self.proc.stdout.readline()
                if not line:
                    break
                if line.startswith("listening on "):
                    addr = line.split("listening on ", 1)[1].strip()
                    addr = addr.replace("http://", "")
                    self.host, port = addr.rsplit(":", 1)
                    self.port = int(port)
                    return self
        finally:
            timer.cancel()
        try:  # stdout closed: it is exiting; its stderr says why
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        err = self.proc.stderr.read() if self.proc.poll() is not None else ""
        self.kill()
        raise RuntimeError(f"charter serve did not start within {timeout}s: {line!r} {err}")

    def stop(self, timeout=20 * SCALE):
        """SIGTERM, wait; returns the exit code (SIGKILL after the timeout)."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("charter serve did not stop within %ss of SIGTERM" % timeout)
        with _running_lock:
            _running.discard(self.proc)
        return code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        with _running_lock:
            _running.discard(self.proc)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def side_file(self, suffix):
        """Where this server keeps a side file of its ledger (".search",
        ".outbox"): next to a SQLite file; for a PostgreSQL ledger in its
        state directory, as charter-<database>-<hash><suffix>."""
        if not is_pg(self.ledger):
            return self.ledger + suffix
        import glob
        found = glob.glob(os.path.join(self.state_dir, "charter-*" + suffix))
        if len(found) != 1:
            raise RuntimeError("expected one %s file in %s, found %r"
                               % (suffix, self.state_dir, found))
        return found[0]

    def sibling(self, charter=None, server_id=None, extra_args=None):
        """A second server (not started) on this one's ledger, keys folder
        (tokens included) and ledger key, with a directory of its own for its
        side files; `charter` another copy of the charter (default: the same
        path). Several servers on one ledger need a PostgreSQL ledger."""
        other = Server(charter or self.charter, admins=(), ledger=self.ledger,
                       keys=self.keys, sign=self.sign, server_id=server_id,
                       extra_args=self.extra_args if extra_args is None else extra_args)
        other.tokens = dict(self.tokens)
        return other

    def healthz(self, timeout=10):
        """GET /healthz -> (status, body dict, or {} when it did not answer)."""
        try:
            st, _, body = self.call("GET", "/healthz", timeout=timeout)
        except OSError:
            return None, {}
        return st, body if isinstance(body, dict) else {}

    def stderr_text(self):
        return self.proc.stderr.read() if self.proc and self.proc.poll() is not None else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.kill()
            if self.own_dir:
                shutil.rmtree(self.dir, ignore_errors=True)
        return False

    # ---- requests ---------------------------------------------------------------
    def raw(self, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT):
        """Sends bytes as they are; returns (status, headers dict lower-cased, bytes)."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            try:
                c.request(method, path, body=body, headers=headers or {})
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (413) before it has read the whole
                # body and close; its answer is still there to read.
                pass
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def call(self, method, path, body=None, token=None, headers=None,
             timeout=REQUEST_TIMEOUT):
        """JSON in, JSON out: returns (status, headers, parsed body or None)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        status, rh, raw = self.raw(method, path, data, h, timeout)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return status, rh, parsed


def _watchdog(name, limit):
    """At `limit` seconds: kill every server still running, fail the test."""
    print(f"FAIL {name}: still running after {limit:.0f}s, shortly before its ctest "
          f"TIMEOUT (CHARTER_TEST_TIMEOUT); killing its servers", flush=True)
    with _running_lock:
        for proc in list(_running):
            if proc.poll() is None:
                proc.kill()
    os._exit(1)


class Checks:
    """Counts checks; prints failures; ends with the 'N passed, N failed' line.

    Under ctest it also starts the watchdog: the test fails (exit 1, its
    servers killed) a few seconds before CHARTER_TEST_TIMEOUT."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        total = float(os.environ.get("CHARTER_TEST_TIMEOUT") or 0)
        if total > 0:
            limit = max(total - 5, total * 0.8)
            dog = threading.Timer(limit, _watchdog, (name, limit))
            dog.daemon = True
            dog.start()

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {self.name}: {what}", flush=True)
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, f"{what}: got {got!r}, expected {want!r}")

    def done(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


# ---- Notification receivers (tests/http/test_notify*.py) ---------------------

def webhook_signature_ok(secret, headers, body):
    """Verifies a Standard Webhooks signature: HMAC-SHA256 with the key of
    `secret` ("whsec_<base64>") over "id.timestamp.body", any of the
    space-separated "v1,<base64>" values of webhook-signature."""
    import base64
    import hashlib
    import hmac
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = ("%s.%s." % (headers.get("webhook-id"), headers.get("webhook-timestamp"))
              ).encode() + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    got = [s.split(",", 1)[1] for s in (headers.get("webhook-signature") or "").split()
           if s.startswith("v1,")]
    return any(hmac.compare_digest(want, g) for g in got)


class Receiver:
    """A webhook receiver on 127.0.0.1 in a thread of this process.

    behaviour(n, path, headers, body) -> HTTP status, or "hang" (the request
    waits until release() or until the client closes; `hanging` counts those
    waiting, `max_hanging` the most at once); n counts requests from 1. Every request is kept
    in `requests` as (path, headers lower-cased, body bytes, status answered).
    port=None: a port the kernel picks; a given port is bound with
    SO_REUSEADDR (a receiver that comes up where one was down)."""

    def __init__(self, behaviour=None, port=None):
        import http.server
        import socketserver
        self.behaviour = behaviour or (lambda n, path, headers, body: 200)
        self.requests = []
        self.lock = threading.Condition()
        self.hanging = 0
        self.max_hanging = 0
        self.released = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with outer.lock:
                    count = len(outer.requests) + 1
                what = outer.behaviour(count, self.path, headers, body)
                if what == "hang":
                    with outer.lock:
                        outer.hanging += 1
                        outer.max_hanging = max(outer.max_hanging, outer.hanging)
                    # Until released, or the client gives up (closes).
                    import select
                    import socket
                    deadline = time.time() + 60
                    while not outer.released.is_set() and time.time() < deadline:
                        r, _, _ = select.select([self.connection], [], [], 0.1)
                        if r and not self.connection.recv(1, socket.MSG_PEEK):
                            break
                    with outer.lock:
                        outer.hanging -= 1
                    what = 200
                with outer.lock:
                    outer.requests.append((self.path, headers, body, what))
                    outer.lock.notify_all()
                try:
                    self.send_response(what)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        class Srv(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Srv(("127.0.0.1", port or 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, pred, timeout):
        """Waits (bounded) until pred(requests) is true; returns whether it was."""
        deadline = time.time() + timeout * SCALE
        with self.lock:
            while not pred(self.requests):
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.lock.wait(left)
            return True

    def release(self):
        self.released.set()

    def close(self):
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def free_port():
    """A port nothing listens on now (for a receiver that is down)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
