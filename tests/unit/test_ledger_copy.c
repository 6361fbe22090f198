/* test_ledger_copy.c - ledger_copy (src/ledger/copy.c) between SQLite
 * files: every entry and checkpoint arrives byte for byte, across batch
 * boundaries and with checkpoints at any seq; a real recorded ledger
 * verifies the same after the copy; a destination that is not empty and a
 * source that is not a chain from seq 1 are refused. The PostgreSQL round
 * trip is tests/http/test_ledger_copy.py.
 */
#include "test.h"

#include <sqlite3.h>

#include "charter_ledger.h"
#include "ledger/chain.h"
#include "ledger/copy.h"
#include "ledger/store.h"

static char tmpdir[256];

static void path_in(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static ledger_store *open_store(const char *path, ledger_open_mode mode)
{
    ledger_store_config cfg = {.mode = mode};
    ledger_store *s = NULL;
    charter_error err;
    if (ledger_store_open(path, &cfg, &s, &err) != CHARTER_OK) {
        fprintf(stderr, "open %s: %s\n", path, err.message);
        return NULL;
    }
    return s;
}

/* Writes n chained entries (payloads of varying length and content) and
 * made-up checkpoints at the given seqs (0 and past the end included), in
 * several appends as a writer would. */
static void write_ledger(const char *path, uint64_t n, const uint64_t *cp_seqs, size_t ncp)
{
    ledger_store *s = open_store(path, LEDGER_OPEN_WRITE);
    CHECK(s != NULL);
    if (!s)
        return;
    unsigned char prev[LEDGER_HASH_SIZE] = {0};
    static char payloads[64][128];
    ledger_entry batch[64];
    size_t nb = 0, next_cp = 0;
    for (uint64_t seq = 1; seq <= n || next_cp < ncp; seq++) {
        ledger_checkpoint cp, *with = NULL;
        if (seq <= n) {
            ledger_entry *e = &batch[nb];
            snprintf(payloads[nb], sizeof payloads[nb],
                     "{\"n\":%llu,\"pad\":\"\xc3\xa9%.*s\"}", (unsigned long long)seq,
                     (int)(seq % 50), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            *e = (ledger_entry){.seq = seq, .time_ms = 1700000000000LL + (int64_t)seq,
                                .kind = seq % 3 ? "outcome" : "decision",
                                .payload = payloads[nb],
                                .payload_len = strlen(payloads[nb])};
            memcpy(e->prev_hash, prev, LEDGER_HASH_SIZE);
            ledger_entry_hash(e, e->hash);
            memcpy(prev, e->hash, LEDGER_HASH_SIZE);
            nb++;
        }
        if (next_cp < ncp && cp_seqs[next_cp] <= seq) {
            memset(&cp, 0, sizeof cp);
            cp.seq = cp_seqs[next_cp];
            for (size_t i = 0; i < LEDGER_HASH_SIZE; i++)
                cp.hash[i] = (unsigned char)(cp.seq + i);
            for (size_t i = 0; i < LEDGER_SIG_SIZE; i++)
                cp.signature[i] = (unsigned char)(7 * next_cp + i);
            for (size_t i = 0; i < LEDGER_PK_SIZE; i++)
                cp.public_key[i] = (unsigned char)(3 * i);
            snprintf(cp.key_id, sizeof cp.key_id, "ed25519:%016zx", next_cp);
            cp.time_ms = 1700000000000LL + (int64_t)next_cp;
            cp.checkpoint_every = 100 + next_cp;
            cp.checkpoint_ms = (uint32_t)(5000 + next_cp);
            with = &cp;
            next_cp++;
        }
        if (nb == 64 || with || seq >= n) {
            charter_error err;
            CHECK_INT(s->ops->append(s, batch, nb, with, &err), CHARTER_OK);
            nb = 0;
        }
    }
    ledger_store_close(s);
}

/* Everything a store holds, as text, for comparing two stores. */
static int dump_entry(const ledger_entry *e, void *user)
{
    FILE *f = user;
    char h[2 * LEDGER_HASH_SIZE + 1], p[2 * LEDGER_HASH_SIZE + 1];
    ledger_hex(e->hash, LEDGER_HASH_SIZE, h);
    ledger_hex(e->prev_hash, LEDGER_HASH_SIZE, p);
    fprintf(f, "%llu %lld %s %zu:", (unsigned long long)e->seq, (long long)e->time_ms,
            e->kind, e->payload_len);
    fwrite(e->payload, 1, e->payload_len, f);
    fprintf(f, " %s %s\n", p, h);
    return 0;
}

static int dump_checkpoint(const ledger_checkpoint *c, void *user)
{
    FILE *f = user;
    char h[2 * LEDGER_HASH_SIZE + 1], sig[2 * LEDGER_SIG_SIZE + 1], pk[2 * LEDGER_PK_SIZE + 1];
    ledger_hex(c->hash, LEDGER_HASH_SIZE, h);
    ledger_hex(c->signature, LEDGER_SIG_SIZE, sig);
    ledger_hex(c->public_key, LEDGER_PK_SIZE, pk);
    fprintf(f, "cp %llu %s %s %s %s %lld %llu %u\n", (unsigned long long)c->seq, h, sig,
            c->key_id, pk, (long long)c->time_ms, (unsigned long long)c->checkpoint_every,
            c->checkpoint_ms);
    return 0;
}

/* The store's content as malloc'd text (caller frees), or NULL. */
static char *dump(const char *path)
{
    ledger_store *s = open_store(path, LEDGER_OPEN_READ);
    if (!s)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    charter_error err;
    CHECK_INT(s->ops->read(s, 0, dump_entry, f, &err), CHARTER_OK);
    CHECK_INT(s->ops->checkpoints(s, dump_checkpoint, f, &err), CHARTER_OK);
    fclose(f);
    ledger_store_close(s);
    return text;
}

static void sql(const char *path, const char *statement)
{
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, statement, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* ---- The tests -------------------------------------------------------------- */

static void test_every_row_arrives_byte_for_byte(void)
{
    char src[512], dst[512];
    path_in("big.db", src, sizeof src);
    path_in("big-copy.db", dst, sizeof dst);
    /* Batches end at 1000, 2000 and at each checkpoint: one at seq 0, two at
     * 1000, one each side of a batch's end, one at the end and one past it. */
    static const uint64_t cps[] = {0, 1, 999, 1000, 1000, 1001, 1700, 2500, 2600};
    write_ledger(src, 2500, cps, sizeof cps / sizeof cps[0]);
    ledger_copy_result r;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(ledger_copy(src, dst, NULL, NULL, &r, &err), CHARTER_OK);
    CHECK_INT(r.entries, 2500);
    CHECK_INT(r.checkpoints, sizeof cps / sizeof cps[0]);
    char *a = dump(src), *b = dump(dst);
    CHECK(a && b && strlen(a) > 2500 * 60);
    CHECK(a && b && !strcmp(a, b));
    free(a);
    free(b);
}

typedef struct seen_progress {
    uint64_t last, total, calls;
} seen_progress;

static void on_progress(void *user, uint64_t copied, uint64_t total)
{
    seen_progress *p = user;
    CHECK(copied >= p->last);
    p->last = copied;
    p->total = total;
    p->calls++;
}

static void test_a_recorded_ledger_verifies_the_same(void)
{
    char src[512], dst[512], keys[512], key[600], pub[600];
    path_in("rec.db", src, sizeof src);
    path_in("rec-copy.db", dst, sizeof dst);
    path_in("keys", keys, sizeof keys);
    snprintf(key, sizeof key, "%s/ledger.key", keys);
    snprintf(pub, sizeof pub, "%s/ledger.pub", keys);
    charter_error err;
    memset(&err, 0, sizeof err);
    char key_id[CHARTER_KEY_ID_SIZE];
    CHECK_INT(charter_keys_init(keys, key_id, &err), CHARTER_OK);
    charter_ledger_options o = {.key_path = key, .checkpoint_every = 3};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(src, &o, &l, &err), CHARTER_OK);
    for (int i = 0; l && i < 20; i++) {
        charter_outcome oc = {.workflow = "refunds", .from_ms = 1000, .to_ms = 2000,
                              .metric = "m", .value = i};
        CHECK_INT(charter_ledger_outcome(l, &oc, NULL, &err), CHARTER_OK);
    }
    CHECK_INT(charter_ledger_close(l, &err), CHARTER_OK);
    seen_progress p = {0};
    ledger_copy_result r;
    CHECK_INT(ledger_copy(src, dst, on_progress, &p, &r, &err), CHARTER_OK);
    CHECK_INT(r.entries, 20);
    CHECK(r.checkpoints >= 6);
    CHECK(p.calls >= 1);
    CHECK_INT(p.last, 20);
    CHECK_INT(p.total, 20);
    charter_verify_options vo = {.public_key_path = pub};
    charter_ledger_report a, b;
    CHECK_INT(charter_ledger_verify_with(src, &vo, &a, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_verify_with(dst, &vo, &b, &err), CHARTER_OK);
    CHECK(a.ok && b.ok);
    CHECK_INT(b.entries, a.entries);
    CHECK_INT(b.checkpoints, a.checkpoints);
    CHECK_INT(b.proven_seq, a.proven_seq);
    ledger_store *s = open_store(dst, LEDGER_OPEN_READ);
    ledger_entry last;
    bool found = false;
    CHECK(s && s->ops->last(s, &last, &found, &err) == CHARTER_OK && found);
    CHECK(found && !memcmp(last.hash, r.last_hash, LEDGER_HASH_SIZE));
    ledger_store_close(s);
}

static void test_an_empty_ledger_copies_to_an_empty_ledger(void)
{
    char src[512], dst[512];
    path_in("empty.db", src, sizeof src);
    path_in("empty-copy.db", dst, sizeof dst);
    ledger_store_close(open_store(src, LEDGER_OPEN_WRITE));
    ledger_copy_result r;
    charter_error err;
    CHECK_INT(ledger_copy(src, dst, NULL, NULL, &r, &err), CHARTER_OK);
    CHECK_INT(r.entries, 0);
    CHECK_INT(r.checkpoints, 0);
}

static void test_a_destination_with_entries_is_refused(void)
{
    char src[512], dst[512];
    path_in("a.db", src, sizeof src);
    path_in("b.db", dst, sizeof dst);
    write_ledger(src, 5, NULL, 0);
    write_ledger(dst, 1, NULL, 0);
    char *before = dump(dst);
    ledger_copy_result r;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(ledger_copy(src, dst, NULL, NULL, &r, &err), CHARTER_E_INVALID);
    CHECK_HAS(err.message, "is not empty (1 entries, 0 checkpoints)");
    char *after = dump(dst);
    CHECK(before && after && !strcmp(before, after));
    free(before);
    free(after);
}

static void test_a_source_with_a_gap_is_refused(void)
{
    char src[512], dst[512];
    path_in("gap.db", src, sizeof src);
    path_in("gap-copy.db", dst, sizeof dst);
    write_ledger(src, 10, NULL, 0);
    sql(src, "DELETE FROM entries WHERE seq = 6");
    ledger_copy_result r;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(ledger_copy(src, dst, NULL, NULL, &r, &err), CHARTER_E_INVALID);
    CHECK_HAS(err.message, "entry 7 follows entry 5: the chain has a gap");
}

static void test_a_source_with_rows_off_the_chain_is_refused(void)
{
    char src[512], dst[512];
    path_in("off.db", src, sizeof src);
    path_in("off-copy.db", dst, sizeof dst);
    write_ledger(src, 4, NULL, 0);
    /* A row at seq 0: a walk from seq 1 never meets it, verify calls it
     * unaccounted; a copy that dropped it would verify clean. */
    sql(src, "INSERT INTO entries(seq,time_ms,kind,payload,prev_hash,hash) "
             "VALUES (0, 1, 'outcome', '{}', zeroblob(32), zeroblob(32))");
    ledger_copy_result r;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(ledger_copy(src, dst, NULL, NULL, &r, &err), CHARTER_E_INVALID);
    CHECK_HAS(err.message, "holds 5 entry rows but its chain from seq 1 has 4");
}

int main(void)
{
    test_dir_make("ledger-copy", tmpdir, sizeof tmpdir);
    RUN(test_every_row_arrives_byte_for_byte);
    RUN(test_a_recorded_ledger_verifies_the_same);
    RUN(test_an_empty_ledger_copies_to_an_empty_ledger);
    RUN(test_a_destination_with_entries_is_refused);
    RUN(test_a_source_with_a_gap_is_refused);
    RUN(test_a_source_with_rows_off_the_chain_is_refused);
    test_dir_remove(tmpdir);
    return TEST_DONE();
}
