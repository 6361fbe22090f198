"""test_edges.py - the server's edges against a real `charter serve` on 127.0.0.1.

Raw sockets, so that what is sent is exactly what a hostile client sends:
- a decision body of 90,000 distinct keys and one duplicate is refused at
  once, and /healthz stays fast while six such bodies are in flight;
- HTTP framing (RFC 9112): a repeated Content-Length, Content-Length with
  Transfer-Encoding (and a request pipelined after it), a header name with
  a space before the colon, unknown transfer codings, two Authorization
  headers: each is refused and its connection closed at once;
- slowloris: a few hundred sockets trickling header bytes do not keep an
  agent out; headers and bodies have deadlines that count time, not
  silence; one address holds at most its share of connections.
Every loop is bounded in count and in time.
"""
import json
import os
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
t = Checks("http_edges")


def decision(amount=5, **extra):
    r = {"agent": "support-bot", "workflow": "refunds", "action": "issue_refund",
         "input": {"amount": amount}, "run_id": "run-%d" % time.time_ns()}
    r.update(extra)
    return json.dumps(r).encode()


def exchange(srv, data, wait=5.0):
    """Sends bytes on a fresh connection and reads until the server closes
    it or `wait` seconds pass. Returns (bytes read, closed, seconds)."""
    s = socket.create_connection((srv.host, srv.port), timeout=wait)
    t0 = time.time()
    got, closed = b"", False
    try:
        s.sendall(data)
        while time.time() - t0 < wait:
            s.settimeout(max(0.05, wait - (time.time() - t0)))
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except socket.timeout:
        pass
    except ConnectionError:
        closed = True
    finally:
        s.close()
    return got, closed, time.time() - t0


def status_of(data):
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def post_head(token, extra=b""):
    return (b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
            token.encode() + b"\r\nContent-Type: application/json\r\n" + extra)


# ---- one request must not stall the server --------------------------------------

def duplicate_body(n=90000):
    keys = ",".join('"%x":0' % i for i in range(n))
    return ('{"agent":"support-bot","workflow":"refunds","action":"issue_refund",'
            '"input":{%s,"%x":1}}' % (keys, n - 1)).encode()


def test_duplicate_keys(srv):
    bot = srv.tokens["support-bot"]
    body = duplicate_body()
    req = post_head(bot, b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
    got, _, secs = exchange(srv, req, wait=15)
    t.eq(status_of(got), 400, "90,000 keys and a duplicate: status")
    t.check(b"duplicate object key '15f8f'" in got, "the error names the duplicate key")
    t.check(secs < 3.0, "90,000 keys and a duplicate answered in %.2f s (expected < 3 s; "
            "every pair was compared: 12 s and more)" % secs)
    # Six at once, and /healthz meanwhile.
    results = []

    def one():
        g, _, s = exchange(srv, req, wait=20)
        results.append((status_of(g), s))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for th in threads:
        th.start()
    time.sleep(0.2)
    worst = 0.0
    for _ in range(5):
        t0 = time.time()
        got, _, _ = exchange(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                             wait=5)
        worst = max(worst, time.time() - t0)
        t.eq(status_of(got), 200, "/healthz while six such bodies are in flight")
    for th in threads:
        th.join(30)
    t.check(worst < 1.5, "/healthz took at most %.2f s beside six 90,000-key bodies "
            "(expected < 1.5 s)" % worst)
    t.eq([r[0] for r in results], [400] * 6, "each of the six is refused")


def test_large_body_decided(srv):
    """A valid decision over CHARTER_INLINE_BODY_BYTES (32 KiB) is decided on
    a worker; its answer comes back on a connection kept alive for the next."""
    bot = srv.tokens["support-bot"]
    big = decision(input={"amount": 5, "note": "x" * 100000})
    small = decision()
    data = (post_head(bot, b"Content-Length: %d\r\n\r\n" % len(big)) + big +
            post_head(bot, b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(small)) +
            small)
    got, closed, _ = exchange(srv, data, wait=10)
    t.eq(got.count(b"HTTP/1.1 200"), 2, "a 100 KB decision and the next on one connection")
    t.check(closed and got.count(b'"decision":"allow"') == 2, "both allowed")


# ---- framing -------------------------------------------------------------------------

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def framing_case(srv, what, data, statuses):
    got, closed, secs = exchange(srv, data, wait=5.0)
    st = status_of(got)
    t.check(st in statuses, "%s: status %r, expected one of %s" % (what, st, statuses))
    t.check(closed and secs < 3.0, "%s: the connection is closed at once "
            "(closed=%s after %.1f s)" % (what, closed, secs))
    t.eq(got.count(b"HTTP/1.1 "), 1, "%s: one answer, nothing pipelined after it is served"
         % what)
    return got


def test_framing(srv):
    bot, other = srv.tokens["support-bot"], srv.tokens["other-bot"]
    body = decision()
    n = len(body)
    # Each would be a 200 if the server picked one reading.
    framing_case(srv, "two different Content-Length headers",
                 post_head(bot, b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n"
                           % (n, n + 40)) + body + HEALTHZ, (400,))
    framing_case(srv, "two equal Content-Length headers",
                 post_head(bot, b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n"
                           % (n, n)) + body + HEALTHZ, (400,))
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (n, body)
    framing_case(srv, "Content-Length with Transfer-Encoding, a request pipelined after",
                 post_head(bot, b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
                           % len(chunked)) + chunked + HEALTHZ, (400,))
    framing_case(srv, "'Transfer-Encoding :' with a space before the colon",
                 post_head(bot, b"Content-Length: %d\r\nTransfer-Encoding : chunked\r\n\r\n"
                           % n) + body + HEALTHZ, (400,))
    framing_case(srv, "an unknown transfer coding (gzip)",
                 post_head(bot, b"Transfer-Encoding: gzip\r\n\r\n") + body, (400, 501))
    framing_case(srv, "an unknown transfer coding before chunked",
                 post_head(bot, b"Transfer-Encoding: gzip, chunked\r\n\r\n") + chunked,
                 (400, 501))
    framing_case(srv, "two Authorization headers",
                 post_head(bot, b"Authorization: Bearer " + other.encode() +
                           b"\r\nContent-Length: %d\r\n\r\n" % n) + body, (400,))
    # What is allowed still works, kept alive: chunked alone, then a pipelined request.
    got, _, _ = exchange(srv, post_head(bot, b"Transfer-Encoding: chunked\r\n\r\n") + chunked +
                         b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    t.eq(got.count(b"HTTP/1.1 200"), 2, "a chunked decision and a pipelined /healthz are served")


# ---- slow clients ------------------------------------------------------------------------

class Trickler:
    """`count` sockets that each send one header byte every `every` seconds,
    and reconnect when the server closes them (as a slowloris tool does),
    until stop() or `limit` seconds. Counts the closes it saw."""

    def __init__(self, srv, count, every=1.0, limit=40):
        self.addr = (srv.host, srv.port)
        self.count, self.every, self.limit = count, every, limit
        self.closed = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self, sel):
        try:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(self.addr)
            sel.register(s, selectors.EVENT_READ)
        except OSError:
            pass

    def run(self):
        sel = selectors.DefaultSelector()
        t_end = time.time() + self.limit
        for _ in range(self.count):
            self.connect(sel)
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
        sent = 0
        next_byte = time.time()
        while not self.stopping.is_set() and time.time() < t_end:
            for key, _ in sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    s.close()
                    self.closed += 1
                    self.connect(sel)
            if time.time() >= next_byte:
                byte = head[sent:sent + 1] if sent < len(head) else b"a"
                sent += 1
                for key in list(sel.get_map().values()):
                    try:
                        key.fileobj.send(byte)
                    except (BlockingIOError, OSError):
                        pass
                next_byte = time.time() + self.every
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


def agent_decides(srv, wait=5.0, tries=3):
    """A decision on a fresh connection: True when answered 200 within
    `wait` seconds, with `tries` attempts (a connection refused while full
    is tried again, as any client would)."""
    bot = srv.tokens["support-bot"]
    body = decision()
    req = post_head(bot, b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
    for _ in range(tries):
        try:
            got, _, _ = exchange(srv, req, wait=wait)
        except OSError:
            got = b""
        if status_of(got) == 200:
            return True
        time.sleep(0.2)
    return False


def test_slowloris(srv):
    """250 trickling sockets against --max-connections 64: an agent on a
    fresh connection is still answered, every time, while they trickle."""
    tr = Trickler(srv, 250, every=1.0, limit=70).start()
    try:
        time.sleep(3)
        answered = 0
        attempts = 6
        for _ in range(attempts):
            if agent_decides(srv, wait=4, tries=2):
                answered += 1
            time.sleep(0.5)
        trickling = tr.thread.is_alive()
    finally:
        tr.stop()
    t.check(trickling, "the sockets trickled all along")
    t.eq(answered, attempts, "decisions answered while 250 sockets trickle headers")
    t.check(tr.closed > 0, "trickling connections were closed to make room (%d)" % tr.closed)


def trickle_until_closed(srv, head, every, limit):
    """Sends `head`, then one byte every `every` s; seconds until the
    server closed the connection, or None within `limit` s."""
    s = socket.create_connection((srv.host, srv.port), timeout=limit)
    t0 = time.time()
    try:
        s.sendall(head)
        while time.time() - t0 < limit:
            s.settimeout(every)
            try:
                if not s.recv(4096):
                    return time.time() - t0
            except socket.timeout:
                pass
            try:
                s.send(b"a")
            except OSError:
                return time.time() - t0
    except (ConnectionError, OSError):
        return time.time() - t0
    finally:
        s.close()
    return None


def test_header_deadline(srv):
    """Never silent for a second, yet closed at the 10 s header deadline
    (the idle timeout, 30 s here, counts silence only)."""
    secs = trickle_until_closed(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                                every=0.5, limit=16)
    t.check(secs is not None and 8 <= secs <= 14,
            "a trickle of header bytes is closed at the header deadline (after %s s)"
            % (None if secs is None else "%.1f" % secs))


def test_body_deadline(srv):
    """Authenticated, headers complete, a body that trickles: closed at the
    body deadline (2 s here)."""
    bot = srv.tokens["support-bot"]
    secs = trickle_until_closed(srv, post_head(bot, b"Content-Length: 5000\r\n\r\n{"),
                                every=0.3, limit=10)
    t.check(secs is not None and 1.5 <= secs <= 5,
            "a trickling body is closed at the body deadline (after %s s)"
            % (None if secs is None else "%.1f" % secs))


def test_per_address(srv):
    """--max-connections-per-address 8: a 9th to 14th connection from one
    address is closed at once; the first eight stay until their deadline."""
    time.sleep(1.0)  # the connections of the test before are cleaned up
    socks = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(14)]
    closed = 0
    t0 = time.time()
    for s in socks:
        s.settimeout(max(0.05, 1.0 - (time.time() - t0)))
        try:
            if not s.recv(100):
                closed += 1
        except socket.timeout:
            pass
        except ConnectionError:
            closed += 1
    for s in socks:
        s.close()
    t.eq(closed, 6, "connections past 8 from one address are closed at once")
    time.sleep(0.3)
    t.check(agent_decides(srv), "an agent is served once they are gone")


def main():
    shop = SHOP
    agents = ["support-bot", "other-bot"]
    with Server(shop, agents=agents, extra_args=["--idle-timeout", "30"]) as srv:
        test_duplicate_keys(srv)
        test_large_body_decided(srv)
        test_framing(srv)
        test_header_deadline(srv)
        t.check(agent_decides(srv), "the server still decides after all that")
        t.eq(srv.stop(), 0, "a clean stop (no leak, no sanitizer report)")
    with Server(shop, agents=agents, extra_args=["--max-connections", "64"]) as srv:
        test_slowloris(srv)
        t.eq(srv.stop(), 0, "a clean stop after the slowloris")
    with Server(shop, agents=agents,
                extra_args=["--body-timeout", "2", "--header-timeout", "2",
                            "--max-connections-per-address", "8"]) as srv:
        test_body_deadline(srv)
        test_per_address(srv)
        t.eq(srv.stop(), 0, "a clean stop after the deadlines")
    t.done()


if __name__ == "__main__":
    main()
