"""test_ledger_copy.py - `charter ledger copy SRC DST` through the real binary.

  - SQLite -> SQLite: the copy holds the same rows byte for byte, `charter
    verify --key` says the same on both, a destination that is not empty is
    refused (exit 2), --help answers;
  - with `pg` as argument (CHARTER_TEST_PG_DIR: the CTest fixture's
    PostgreSQL): SQLite -> PostgreSQL -> SQLite, verify on each says the same
    as on the source, the round trip's rows are the source's byte for byte,
    the last hash printed is the same at every step, and the password of a
    URL is never printed.

Every child process is bounded in time.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile
import shutil
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CHARTER, SCALE, Checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PG_SH = os.path.join(HERE, "..", "pg", "pg.sh")
SHOP = os.path.join(HERE, "data", "shop.yaml")
PG = len(sys.argv) > 1 and sys.argv[1] == "pg"
PASSWORD = "pw-never-printed"
t = Checks("cli_ledger_copy_pg" if PG else "cli_ledger_copy")


def run(*args, timeout=30):
    return subprocess.run([CHARTER, *args], capture_output=True, text=True,
                          timeout=timeout * SCALE)


def rows(path):
    """Every entry and checkpoint of a SQLite ledger, as stored."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        e = db.execute("SELECT seq, time_ms, kind, CAST(payload AS BLOB), prev_hash, hash "
                       "FROM entries ORDER BY seq").fetchall()
        c = db.execute("SELECT seq, hash, signature, key_id, public_key, time_ms, "
                       "checkpoint_every, checkpoint_ms FROM checkpoints "
                       "ORDER BY seq, rowid").fetchall()
    finally:
        db.close()
    return e, c


def copied_hash(out):
    """The last hash of "copied N entries and M checkpoints; last hash H"."""
    first = out.splitlines()[0] if out else ""
    return first.rsplit(" ", 1)[-1] if first.startswith("copied ") else None


def make_source(d):
    keys = os.path.join(d, "keys")
    run("keys", "init", "--dir", keys)
    src = os.path.join(d, "src.db")
    for i in range(12):
        amount = 500 if i % 4 == 0 else 20  # some escalate
        p = run("decide", "--charter", SHOP, "--ledger", src, "--key",
                os.path.join(keys, "ledger.key"),
                '{"agent":"support-bot","workflow":"refunds","action":"issue_refund",'
                '"input":{"amount":%d},"run_id":"r%d"}' % (amount, i))
        if p.returncode != 0:
            raise RuntimeError("decide: " + p.stderr)
    return src, os.path.join(keys, "ledger.pub")


def test_sqlite_to_sqlite(d, src, pub):
    dst = os.path.join(d, "copy.db")
    p = run("ledger", "copy", src, dst, "--key", pub)
    t.eq(p.returncode, 0, "copy SQLite -> SQLite: %s" % p.stderr)
    t.check(p.stdout.startswith("copied 13 entries and "),
            "it says what it copied: %r" % p.stdout)
    t.check("verified: 13 entries" in p.stdout, "and that the copy verifies")
    t.eq(rows(dst), rows(src), "the copy holds the source's rows byte for byte")
    a, b = run("verify", src, "--key", pub), run("verify", dst, "--key", pub)
    t.eq((b.returncode, b.stdout), (a.returncode, a.stdout),
         "verify says the same on the copy as on the source")
    again = run("ledger", "copy", src, dst)
    t.eq(again.returncode, 2, "a destination that is not empty is refused")
    t.check("is not empty" in again.stderr, "and it says why: %r" % again.stderr)
    t.eq(rows(dst), rows(src), "the refused copy changed nothing")
    h = run("ledger", "copy", "--help")
    t.eq(h.returncode, 0, "ledger copy --help")
    t.check(h.stdout.startswith("usage: charter ledger copy SRC DST"), "--help prints the usage")
    t.eq(run("ledger").returncode, 2, "'charter ledger' alone asks for a subcommand")
    t.eq(run("ledger", "copy", src).returncode, 2, "copy needs SRC and DST")


def test_round_trip_through_postgresql(d, src, pub):
    pgdir = os.environ.get("CHARTER_TEST_PG_DIR")
    if not pgdir or not os.path.exists(os.path.join(pgdir, "url")):
        print("cli_ledger_copy_pg: skipped: no PostgreSQL (CHARTER_TEST_PG_DIR)")
        sys.exit(77)
    name = "copy_%d_%d" % (os.getpid(), int(time.time() * 1000) % 1000000)
    p = subprocess.run([PG_SH, "createdb", pgdir, name], capture_output=True, text=True,
                       timeout=60 * SCALE)
    t.eq(p.returncode, 0, "createdb: %s" % p.stderr)
    url = p.stdout.strip().replace("postgresql://charter@",
                                   "postgresql://charter:%s@" % PASSWORD)
    back = os.path.join(d, "back.db")
    to_pg = run("ledger", "copy", src, url, "--key", pub)
    t.eq(to_pg.returncode, 0, "copy SQLite -> PostgreSQL: %s" % to_pg.stderr)
    from_pg = run("ledger", "copy", url, back, "--key", pub)
    t.eq(from_pg.returncode, 0, "copy PostgreSQL -> SQLite: %s" % from_pg.stderr)
    want = run("verify", src, "--key", pub)
    on_pg = run("verify", url, "--key", pub)
    on_back = run("verify", back, "--key", pub)
    t.eq(want.returncode, 0, "the source verifies")
    t.eq((on_pg.returncode, on_pg.stdout), (0, want.stdout),
         "verify on PostgreSQL says what it says on the source")
    t.eq((on_back.returncode, on_back.stdout), (0, want.stdout),
         "verify on the round trip's file says the same")
    h = copied_hash(to_pg.stdout)
    t.check(h and len(h) == 64 and h == copied_hash(from_pg.stdout),
            "the same last hash at both steps: %r %r" % (to_pg.stdout, from_pg.stdout))
    t.eq(rows(back), rows(src), "the round trip's rows are the source's byte for byte")
    refused = run("ledger", "copy", src, url)
    t.eq(refused.returncode, 2, "a PostgreSQL destination that is not empty is refused")
    t.check("***" in refused.stderr, "the URL is shown with its password hidden: %r"
            % refused.stderr)
    every = "".join(x.stdout + x.stderr for x in (to_pg, from_pg, on_pg, refused))
    t.check(PASSWORD not in every, "the password is never printed")


def main():
    d = tempfile.mkdtemp(prefix="charter-copy-")
    try:
        src, pub = make_source(d)
        if PG:
            test_round_trip_through_postgresql(d, src, pub)
        else:
            test_sqlite_to_sqlite(d, src, pub)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    t.done()


main()
