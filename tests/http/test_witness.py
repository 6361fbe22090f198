"""test_witness.py - `charter serve --witness`: each signed checkpoint head
reaches a file outside the ledger as it is signed, and `charter verify
--witness` holds the ledger to it.

The server signs a checkpoint every 3 entries; after each answered decision
the witness file must already hold every head signed so far (the head is
written before the batch's callers are woken). After a graceful stop (the
final checkpoint), the heads equal `charter checkpoints`, verify --key
--witness passes, and a tail cut off together with its checkpoints fails.
Loopback only; every child process has a timeout.
"""
import json
import os
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Checks, charter_cli  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "data", "shop.yaml")
t = Checks("http_witness")


def heads(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    work = tempfile.mkdtemp(prefix="charter-witness-")
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


def run(work):
    sign = os.path.join(work, "sign")
    charter_cli("keys", "init", "--dir", sign)
    key, pub = os.path.join(sign, "ledger.key"), os.path.join(sign, "ledger.pub")
    witness = os.path.join(work, "witness.jsonl")
    ledger = os.path.join(work, "ledger.db")

    p = charter_cli("serve", "--charter", SHOP, "--ledger", ledger, "--keys", work,
                    "--witness", witness, check=False)
    t.eq(p.returncode, 2, "--witness without --key is refused")
    t.check("need --key" in p.stderr, "and says why: " + p.stderr.strip())

    srv = Server(SHOP, agents=["support-bot"], ledger=ledger, workdir=work,
                 extra_args=["--key", key, "--checkpoint-every", "3",
                             "--checkpoint-ms", "600000", "--witness", witness])
    with srv:
        # Entry 1 is the charter version, recorded at start.
        grown = []
        for n in range(10):
            body = {"agent": "support-bot", "workflow": "refunds",
                    "action": "issue_refund", "input": {"amount": 10},
                    "run_id": "w-%d" % n}
            st, _, ans = srv.call("POST", "/v1/decide", body,
                                  token=srv.tokens["support-bot"], timeout=10)
            t.eq(st, 200, "decision %d answered" % n)
            grown.append(len(heads(witness)))
        # Seqs 2..11: checkpoints at 3, 6, 9, written as they are signed.
        t.eq(grown, [0, 1, 1, 1, 2, 2, 2, 3, 3, 3], "witness lines after each decision")
        running = heads(witness)
        t.eq([h["seq"] for h in running], [3, 6, 9], "heads witnessed while serving")
        for h in running:
            t.check(set(h) >= {"seq", "hash", "signature", "key_id", "public_key",
                               "time_ms", "checkpoint_every", "checkpoint_ms"},
                    "a head carries what its signature needs: %s" % sorted(h))
            t.eq((h["checkpoint_every"], h["checkpoint_ms"]), (3, 600000),
                 "the head signs the cadence")
    t.eq(srv.proc.returncode, 0, "server stopped cleanly")
    final = heads(witness)
    t.eq([h["seq"] for h in final], [3, 6, 9, 11], "the final checkpoint is witnessed")

    exported = charter_cli("checkpoints", ledger).stdout
    with open(witness) as f:
        t.eq(exported, f.read(), "charter checkpoints prints the same heads")

    v = charter_cli("verify", ledger, "--key", pub, "--witness", witness, check=False)
    t.eq(v.returncode, 0, "verify --key --witness passes: " + v.stdout + v.stderr)
    t.check("witness: 4 heads held, up to seq 11" in v.stdout, "verify says so: " + v.stdout)

    # Cut the tail after seq 6 with its checkpoints: the file alone still
    # verifies, the witness does not.
    db = sqlite3.connect(ledger)
    db.execute("DELETE FROM entries WHERE seq > 6")
    db.execute("DELETE FROM checkpoints WHERE seq > 6")
    db.commit()
    db.close()
    v = charter_cli("verify", ledger, "--key", pub, check=False)
    t.eq(v.returncode, 0, "the cut ledger alone verifies: " + v.stdout)
    v = charter_cli("verify", ledger, "--key", pub, "--witness", witness, check=False)
    t.eq(v.returncode, 1, "with the witness it does not")
    t.check("witnessed head seq 11 is not in the ledger; it ends at 6" in v.stdout,
            "and says what was cut: " + v.stdout)


if __name__ == "__main__":
    main()
