"""test_copy_served.py - `charter ledger copy` moves a ledger that a server
made between SQLite and PostgreSQL with its chain and signed checkpoints
intact (issue 16; test_ledger_copy.py covers the command's own cases).

A real `charter serve` on a SQLite file records decisions, escalations, a
resolution, an outcome and a reload (two charter versions), signing a
checkpoint every 7 entries and one at its clean stop. Then, on the test
PostgreSQL (the ctest fixture `pg`):

  - SQLite -> PostgreSQL -> SQLite, and PostgreSQL -> PostgreSQL: each copy
    says "copied N entries and M checkpoints; last hash H" with the source's
    N and last hash, `charter verify --key` passes on every copy with the
    same entries and checkpoints as the original, and `charter export` of
    every copy is the original's, byte for byte;
  - a copy into a ledger that is not empty is refused (exit 2) and changes
    nothing;
  - a password in the PostgreSQL URI is never printed;
  - a server serves the copy: it starts on the PostgreSQL copy and knows the
    escalation left open.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CLI_TIMEOUT, CHARTER, Checks, Server, charter_cli, pg_createdb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
t = Checks("http_ledger_copy_pg")


def run(*args):
    p = subprocess.run([CHARTER, *args], capture_output=True, text=True,
                       timeout=CLI_TIMEOUT * 3)
    return p.returncode, p.stdout, p.stderr


def make_ledger(work):
    """A SQLite ledger with every kind of entry the server writes; returns
    (ledger, keys dir, the open escalation's id, the admin's token)."""
    shop = os.path.join(work, "shop.yaml")
    shutil.copy(SHOP, shop)
    os.makedirs(os.path.join(work, "srv"))
    srv = Server(shop, agents=["support-bot"], approvers={"lena": (["leads"], ["support-lead"])},
                 ledger=os.path.join(work, "source.db"), workdir=os.path.join(work, "srv"),
                 sign=True, extra_args=["--checkpoint-every", "7"])
    with srv:
        bot = srv.tokens["support-bot"]
        ids = []
        for i in range(30):
            st, _, a = srv.call("POST", "/v1/decide",
                                {"workflow": "refunds", "action": "issue_refund",
                                 "input": {"amount": 500 if i % 5 == 0 else 10},
                                 "run_id": "copy-%d" % (i // 4)}, token=bot)
            t.eq(st, 200, "decision %d recorded" % i)
            ids.append((a["decision_id"], a["decision"]))
        escalated = [d for d, how in ids if how == "escalate"]
        st, _, _ = srv.call("POST", "/v1/escalations/%s/resolve" % escalated[0],
                            {"resolution": "approve", "note": "copy"}, token=srv.tokens["lena"])
        t.eq(st, 200, "a resolution recorded")
        st, _, _ = srv.call("POST", "/v1/outcomes", {"decision_id": ids[1][0], "metric": "m",
                                                     "value": 1}, token=bot)
        t.check(st in (200, 201), "an outcome recorded: %r" % st)
        with open(shop) as f:
            text = f.read()
        with open(shop, "w") as f:
            f.write(text.replace("input.amount > 100", "input.amount > 90"))
        st, _, r = srv.call("POST", "/v1/admin/reload", token=srv.tokens["admin"])
        t.eq((st, (r or {}).get("changed")), (200, True), "a second charter version")
        t.eq(srv.stop(), 0, "the server stops cleanly (a last checkpoint)")
    return srv.ledger, srv.keys, escalated[-1], srv.tokens["admin"]


def verified(ledger, pub):
    code, out, err = run("verify", ledger, "--key", pub)
    m = re.search(r"ok: (\d+) entries", out)
    return code, (out + err).strip(), int(m.group(1)) if m else None


def copy(src, dst, pub, what):
    code, out, err = run("ledger", "copy", src, dst, "--key", pub)
    t.eq(code, 0, "%s: copied and verified (%s)" % (what, (out + err).strip()))
    m = re.search(r"copied (\d+) entries and (\d+) checkpoints; last hash ([0-9a-f]{64})", out)
    t.check(m, "%s: says what it copied: %r" % (what, out))
    return (int(m.group(1)), int(m.group(2)), m.group(3)) if m else (None, None, None)


def export(ledger):
    return charter_cli("export", ledger, "--format", "jsonl").stdout


def main():
    work = tempfile.mkdtemp(prefix="charter-copy-")
    try:
        code, out, _ = run("ledger", "copy", "--help")
        t.check(code == 0 and "usage: charter ledger copy" in out, "ledger copy --help answers")
        source, keys, open_id, adm = make_ledger(work)
        pub = os.path.join(keys, "ledger.pub")
        code, msg, n = verified(source, pub)
        t.eq(code, 0, "the source verifies: " + msg)
        original = export(source)
        lines = original.splitlines()
        last_hash = re.search(r'"hash":"([0-9a-f]{64})"', lines[-1]).group(1)
        kinds = {re.search(r'"kind":"([a-z_]+)"', l).group(1) for l in lines}
        t.check({"charter", "decision", "escalation_resolved", "outcome"} <= kinds,
                "the source holds every kind of entry: %r" % sorted(kinds))
        cps = charter_cli("checkpoints", source).stdout.strip().splitlines()
        t.check(len(cps) >= 4, "the source has signed checkpoints (%d)" % len(cps))

        pg_url = pg_createdb("copy")
        # The password is ignored (trust on loopback) and must never be printed.
        with_pw = pg_url.replace("charter@", "charter:s3cret-pw@", 1)
        got = copy(source, with_pw, pub, "SQLite -> PostgreSQL")
        t.eq(got[0], len(lines), "every entry copied")
        t.eq(got[2], last_hash, "the same last hash")
        code, out, err = run("ledger", "copy", source, with_pw, "--key", pub)
        t.check(code == 2 and "empty" in (out + err), "a copy into a ledger that is not "
                "empty is refused (exit 2): %d %r" % (code, (out + err).strip()))
        t.check("s3cret-pw" not in out + err, "the password is never printed: %r" % (out + err))
        code, msg, n_pg = verified(pg_url, pub)
        t.eq((code, n_pg), (0, n), "the PostgreSQL copy verifies as the source: " + msg)
        t.eq(export(pg_url), original, "the PostgreSQL copy exports as the source, byte for byte")

        back = os.path.join(work, "back.db")
        got = copy(pg_url, back, pub, "PostgreSQL -> SQLite")
        t.eq((got[0], got[2]), (len(lines), last_hash), "PostgreSQL -> SQLite: all, same tail")
        code, msg, n_back = verified(back, pub)
        t.eq((code, n_back), (0, n), "the SQLite copy verifies: " + msg)
        t.eq(export(back), original, "the round trip exports as the source, byte for byte")
        t.eq(charter_cli("checkpoints", back).stdout.strip().splitlines(), cps,
             "the signed checkpoints came back as they were")

        pg2 = pg_createdb("copy2")
        got = copy(pg_url, pg2, pub, "PostgreSQL -> PostgreSQL")
        t.eq(export(pg2), original, "PostgreSQL -> PostgreSQL: the same entries")

        os.makedirs(os.path.join(work, "srv2"))
        srv = Server(os.path.join(work, "shop.yaml"), agents=[], ledger=pg_url,
                     workdir=os.path.join(work, "srv2"), keys=keys, sign=True)
        with srv:
            st, _, body = srv.call("GET", "/v1/decisions/" + open_id, token=adm)
            t.eq((st, ((body or {}).get("escalation") or {}).get("status")), (200, "open"),
                 "a server on the PostgreSQL copy knows the escalation left open")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
