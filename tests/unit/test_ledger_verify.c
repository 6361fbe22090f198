/* test_ledger_verify.c - tampering with a real ledger file, each way an
 * attacker (or a bad disk) could, and expecting verify to name the first
 * entry affected.
 *
 * Every test builds a ledger of 50 entries with a signed checkpoint every 10
 * (and the final one at close, at 50), changes it with plain SQL through
 * SQLite, and runs charter_ledger_verify. The last part plays the careful
 * forger of issue 13: a rewrite whose checkpoints are deleted, rows where
 * the walk does not look, a tail cut off with its checkpoints (caught by a
 * witness kept outside the ledger).
 */
#include "test.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "ledger/chain.h"
#include "ledger/keys.h"
#include "ledger/store.h"

#define ENTRIES 50

static char tmpdir[256], path[512], keyfile[512], pubfile[512], witness[512];

static void append_outcomes(charter_ledger *l, int from, int to)
{
    for (int i = from; i <= to; i++) {
        charter_outcome o = {.workflow = "refunds", .from_ms = 0, .to_ms = 1000,
                             .metric = "churn", .value = i};
        CHECK_INT(charter_ledger_outcome(l, &o, NULL, NULL), CHARTER_OK);
    }
}

/* Builds the ledger; with a key (checkpoint_every > 0) the writer also
 * appends each checkpoint head to `witness`. */
static void build_ledger(uint64_t checkpoint_every)
{
    test_dir_make("ledger-verify", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
    char keydir[300], kid[CHARTER_KEY_ID_SIZE];
    snprintf(keydir, sizeof keydir, "%s/keys", tmpdir);
    snprintf(keyfile, sizeof keyfile, "%s/ledger.key", keydir);
    snprintf(pubfile, sizeof pubfile, "%s/ledger.pub", keydir);
    snprintf(witness, sizeof witness, "%s/witness.jsonl", tmpdir);
    CHECK_INT(charter_keys_init(keydir, kid, NULL), CHARTER_OK);
    charter_ledger_options opt = {.key_path = checkpoint_every ? keyfile : NULL,
                                  .checkpoint_every = checkpoint_every,
                                  .witness_path = witness};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, NULL), CHARTER_OK);
    append_outcomes(l, 1, ENTRIES);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
}

static void remove_dir(void)
{
    test_dir_remove(tmpdir);
}

static void sql(const char *stmt)
{
    sqlite3 *db;
    char *msg = NULL;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, stmt, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sql failed: %s: %s\n", stmt, msg ? msg : "?");
    CHECK_INT(rc, SQLITE_OK);
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* What a careful forger does: recompute prev_hash and hash of the entries
 * from..to (to 0: the end), so the chain itself is consistent again. */
static void rehash_range(uint64_t from, uint64_t to)
{
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *sel, *upd, *prev;
    sqlite3_prepare_v2(db, "SELECT seq,time_ms,kind,payload FROM entries WHERE seq >= ?"
                           " AND seq <= ? ORDER BY seq", -1, &sel, NULL);
    sqlite3_prepare_v2(db, "UPDATE entries SET prev_hash=?, hash=? WHERE seq=?", -1,
                       &upd, NULL);
    sqlite3_prepare_v2(db, "SELECT hash FROM entries WHERE seq=?", -1, &prev, NULL);
    unsigned char ph[32] = {0};
    sqlite3_bind_int64(prev, 1, (sqlite3_int64)from - 1);
    if (sqlite3_step(prev) == SQLITE_ROW)
        memcpy(ph, sqlite3_column_blob(prev, 0), 32);
    sqlite3_finalize(prev);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_bind_int64(sel, 1, (sqlite3_int64)from);
    sqlite3_bind_int64(sel, 2, to ? (sqlite3_int64)to : INT64_MAX);
    while (sqlite3_step(sel) == SQLITE_ROW) {
        ledger_entry e = {.seq = (uint64_t)sqlite3_column_int64(sel, 0),
                          .time_ms = sqlite3_column_int64(sel, 1),
                          .kind = (const char *)sqlite3_column_text(sel, 2),
                          .payload = (const char *)sqlite3_column_text(sel, 3),
                          .payload_len = (size_t)sqlite3_column_bytes(sel, 3)};
        memcpy(e.prev_hash, ph, 32);
        ledger_entry_hash(&e, e.hash);
        sqlite3_bind_blob(upd, 1, e.prev_hash, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(upd, 2, e.hash, 32, SQLITE_TRANSIENT);
        sqlite3_bind_int64(upd, 3, (sqlite3_int64)e.seq);
        CHECK_INT(sqlite3_step(upd), SQLITE_DONE);
        sqlite3_reset(upd);
        memcpy(ph, e.hash, 32);
    }
    sqlite3_reset(sel);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    sqlite3_close(db);
}

static void rehash_from(uint64_t from)
{
    rehash_range(from, 0);
}

static charter_ledger_report verify(const char *pub)
{
    charter_ledger_report r;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_verify(path, pub, &r, &err);
    if (st != CHARTER_OK)
        fprintf(stderr, "verify: %s\n", err.message);
    CHECK_INT(st, CHARTER_OK);
    return r;
}

#define CHECK_CAUGHT(r, seq, what)                                           \
    do {                                                                     \
        CHECK(!(r).ok);                                                      \
        CHECK_INT((r).first_bad_seq, seq);                                   \
        CHECK_STR((r).problem, what);                                        \
    } while (0)

static void test_intact_ledger_verifies_with_its_checkpoints(void)
{
    build_ledger(10);
    charter_ledger_report r = verify(pubfile);
    CHECK(r.ok);
    CHECK_INT(r.entries, ENTRIES);
    CHECK_INT(r.last_seq, ENTRIES);
    CHECK_INT(r.checkpoints, 5);
    CHECK_INT(r.proven_seq, ENTRIES);
    CHECK(!r.keys_from_ledger);
    r = verify(NULL);
    CHECK(r.ok);
    CHECK(r.keys_from_ledger);
    remove_dir();
}

static void test_altered_payload_is_caught_at_its_seq(void)
{
    build_ledger(10);
    sql("UPDATE entries SET payload = replace(payload, '\"value\":17', '\"value\":71')"
        " WHERE seq = 17");
    CHECK_CAUGHT(verify(pubfile), 17, "altered");
    remove_dir();
}

static void test_altered_time_is_caught(void)
{
    build_ledger(10);
    sql("UPDATE entries SET time_ms = time_ms + 1 WHERE seq = 3");
    CHECK_CAUGHT(verify(pubfile), 3, "altered");
    remove_dir();
}

static void test_removed_entry_is_caught(void)
{
    build_ledger(10);
    sql("DELETE FROM entries WHERE seq = 23");
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 23, "removed");
    CHECK_HAS(r.message, "entry 23 is missing");
    remove_dir();
}

static void test_removed_entries_with_renumbering_are_caught(void)
{
    build_ledger(10);
    sql("DELETE FROM entries WHERE seq = 33;"
        "UPDATE entries SET seq = seq - 1 WHERE seq > 33");
    /* Entry 34 now sits at 33: its hash covered seq 34. */
    CHECK_CAUGHT(verify(pubfile), 33, "altered");
    remove_dir();
}

static void test_inserted_entry_is_caught(void)
{
    build_ledger(10);
    /* Make room at 30 and put a forged row there. */
    sql("UPDATE entries SET seq = seq + 1000 WHERE seq >= 30;"
        "UPDATE entries SET seq = seq - 999 WHERE seq >= 1000;"
        "INSERT INTO entries(seq,time_ms,kind,payload,prev_hash,hash)"
        " SELECT 30, time_ms, kind, replace(payload, '\"value\":29', '\"value\":1e6'),"
        " hash, hash FROM entries WHERE seq = 29");
    CHECK_CAUGHT(verify(pubfile), 30, "altered");
    remove_dir();
}

static void test_inserted_entry_with_a_valid_hash_is_caught_after_it(void)
{
    build_ledger(10);
    sql("UPDATE entries SET seq = seq + 1000 WHERE seq >= 30;"
        "UPDATE entries SET seq = seq - 999 WHERE seq >= 1000;"
        "INSERT INTO entries(seq,time_ms,kind,payload,prev_hash,hash)"
        " SELECT 30, time_ms, kind, payload, hash, hash FROM entries WHERE seq = 29");
    rehash_from(30);
    /* The whole tail is consistent again; the checkpoint at 30 was signed
     * over the original entry 30, so everything after checkpoint 20 is
     * suspect. */
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 21, "rewritten");
    CHECK_HAS(r.message, "21..30");
    remove_dir();
}

static void test_appended_forged_entry_is_caught(void)
{
    build_ledger(10);
    sql("INSERT INTO entries(seq,time_ms,kind,payload,prev_hash,hash)"
        " SELECT 51, time_ms, kind, payload, hash, hash FROM entries WHERE seq = 50");
    CHECK_CAUGHT(verify(pubfile), 51, "altered");
    remove_dir();
}

static void test_swapped_entries_are_caught(void)
{
    build_ledger(10);
    sql("UPDATE entries SET seq = -12 WHERE seq = 12;"
        "UPDATE entries SET seq = 12 WHERE seq = 13;"
        "UPDATE entries SET seq = 13 WHERE seq = -12");
    CHECK_CAUGHT(verify(pubfile), 12, "altered");
    remove_dir();
}

static void test_swapped_contents_are_caught(void)
{
    build_ledger(10);
    /* Swap two payloads, keeping seqs and hashes where they were. */
    sql("UPDATE entries SET payload = (SELECT payload FROM entries e2 WHERE"
        " e2.seq = 83 - entries.seq) WHERE seq IN (41, 42)");
    CHECK_CAUGHT(verify(pubfile), 41, "altered");
    remove_dir();
}

static void test_altered_and_rehashed_entry_breaks_the_next_link(void)
{
    build_ledger(10);
    sql("UPDATE entries SET payload = replace(payload, '\"value\":30', '\"value\":3')"
        " WHERE seq = 30");
    rehash_range(30, 30);
    charter_ledger_report r = verify(pubfile);
    /* 30 is consistent in itself (and checked before its checkpoint is), so
     * the first thing that fails is 30's checkpoint: 21..30 rewritten. */
    CHECK_CAUGHT(r, 21, "rewritten");
    remove_dir();
    build_ledger(0);
    sql("UPDATE entries SET payload = replace(payload, '\"value\":30', '\"value\":3')"
        " WHERE seq = 30");
    rehash_range(30, 30);
    r = verify(NULL);
    CHECK_CAUGHT(r, 31, "broken_link");
    CHECK_HAS(r.message, "entry 30 was altered and re-hashed");
    remove_dir();
}

static void test_full_rewrite_without_checkpoints_is_not_provable(void)
{
    build_ledger(0);
    /* The documented limit: with no signed checkpoint, a forger who
     * re-hashes the whole tail leaves a consistent chain. */
    sql("UPDATE entries SET payload = replace(payload, '\"value\":25', '\"value\":52')"
        " WHERE seq = 25");
    rehash_from(25);
    charter_ledger_report r = verify(NULL);
    CHECK(r.ok);
    CHECK_INT(r.checkpoints, 0);
    remove_dir();
}

static void test_rewritten_entry_is_caught_by_the_checkpoint(void)
{
    build_ledger(10);
    sql("UPDATE entries SET payload = replace(payload, '\"value\":25', '\"value\":52')"
        " WHERE seq = 25");
    rehash_from(25);
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 21, "rewritten");
    CHECK_INT(r.proven_seq, 20);
    remove_dir();
}

static void test_truncated_tail_is_caught_by_a_checkpoint(void)
{
    build_ledger(10);
    sql("DELETE FROM entries WHERE seq > 44");
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 45, "truncated");
    CHECK_HAS(r.message, "45..50");
    CHECK_INT(r.last_seq, 44);
    remove_dir();
}

static void test_truncation_that_also_removes_checkpoints_is_not_provable(void)
{
    build_ledger(10);
    /* The documented limit: cut entries and the checkpoints covering them. */
    sql("DELETE FROM entries WHERE seq > 40; DELETE FROM checkpoints WHERE seq > 40");
    charter_ledger_report r = verify(pubfile);
    CHECK(r.ok);
    CHECK_INT(r.last_seq, 40);
    CHECK_INT(r.proven_seq, 40);
    remove_dir();
}

static void test_forged_checkpoint_signature_is_caught(void)
{
    build_ledger(10);
    sql("UPDATE checkpoints SET signature = zeroblob(64) WHERE seq = 20");
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 20, "bad_signature");
    r = verify(NULL);
    CHECK_CAUGHT(r, 20, "bad_signature");
    remove_dir();
}

static void test_checkpoint_with_altered_hash_is_caught(void)
{
    build_ledger(10);
    sql("UPDATE checkpoints SET hash = (SELECT hash FROM entries WHERE seq = 29)"
        " WHERE seq = 30");
    CHECK_CAUGHT(verify(pubfile), 30, "bad_signature");
    remove_dir();
}

/* Re-signs checkpoint `seq` over the entry hash now stored there, with a
 * key of the forger's own (recorded in the ledger as the checkpoint's key). */
static void resign_checkpoint(uint64_t seq)
{
    ledger_key k;
    unsigned char seed[32] = {7};
    crypto_sign_seed_keypair(k.pk, k.sk, seed);
    ledger_key_id(k.pk, k.id);
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT hash, time_ms FROM entries WHERE seq = ?", -1, &st,
                       NULL);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    ledger_checkpoint cp = {.seq = seq, .time_ms = sqlite3_column_int64(st, 1)};
    memcpy(cp.hash, sqlite3_column_blob(st, 0), 32);
    sqlite3_finalize(st);
    /* The cadence the row records is signed too. */
    sqlite3_prepare_v2(db, "SELECT checkpoint_every, checkpoint_ms FROM checkpoints"
                           " WHERE seq = ?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    cp.checkpoint_every = (uint64_t)sqlite3_column_int64(st, 0);
    cp.checkpoint_ms = (uint32_t)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    ledger_checkpoint_sign(&k, &cp);
    sqlite3_prepare_v2(db, "UPDATE checkpoints SET hash=?, signature=?, key_id=?, "
                           "public_key=?, time_ms=? WHERE seq = ?", -1, &st, NULL);
    sqlite3_bind_blob(st, 1, cp.hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, cp.signature, 64, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cp.key_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, cp.public_key, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, cp.time_ms);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)seq);
    CHECK_INT(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_checkpoint_signed_by_another_key_is_caught_with_the_real_key(void)
{
    build_ledger(10);
    resign_checkpoint(20);
    CHECK_CAUGHT(verify(pubfile), 20, "wrong_key");
    /* Without the public key, a checkpoint re-signed by any key that the
     * ledger itself names passes: the documented reason to pass --key. */
    CHECK(verify(NULL).ok);
    remove_dir();
}

static void test_rewrite_with_a_resigned_checkpoint_is_caught(void)
{
    build_ledger(10);
    sql("UPDATE entries SET payload = replace(payload, '\"value\":15', '\"value\":0')"
        " WHERE seq = 15");
    rehash_from(15);
    resign_checkpoint(20);
    /* With the real key checkpoint 20 does not count, and checkpoint 30
     * proves that entries after checkpoint 10 were rewritten. */
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 11, "rewritten");
    CHECK_INT(r.proven_seq, 10);
    /* Without it, checkpoint 20 is taken at its word, and 30 still catches
     * the rewrite of what follows. */
    CHECK_CAUGHT(verify(NULL), 21, "rewritten");
    remove_dir();
}

static void test_unknown_kind_is_reported_as_malformed(void)
{
    build_ledger(0);
    sql("UPDATE entries SET kind = 'note' WHERE seq = 9");
    CHECK_CAUGHT(verify(NULL), 9, "malformed");
    remove_dir();
}

/* A "charter_loaded" entry (a server of a shared ledger says it serves a
 * version) must name a version a charter entry before it records. */
static void test_charter_loaded_must_name_a_recorded_version(void)
{
    build_ledger(0);
    charter *c = NULL;
    CHECK_INT(charter_load(CHARTER_SOURCE_DIR "/tests/data/engine/policy.yaml", &c, NULL),
              CHARTER_OK);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_record_charter(l, c, NULL, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    char stmt[1024];
    const char *row =
        "INSERT INTO entries(seq, time_ms, kind, payload, prev_hash, hash) VALUES (%d, 1,"
        " 'charter_loaded', '{\"name\":\"\",\"server\":\"host-a:1\",\"time\":"
        "\"2026-11-24T10:00:00Z\",\"time_ms\":1,\"version\":\"%s\"}', zeroblob(32),"
        " zeroblob(32))";
    snprintf(stmt, sizeof stmt, row, ENTRIES + 2, charter_version(c));
    sql(stmt);
    rehash_from(ENTRIES + 2);
    charter_ledger_report r = verify(NULL);
    CHECK(r.ok); /* names the charter entry at ENTRIES + 1 */
    snprintf(stmt, sizeof stmt, row, ENTRIES + 3, "sha256:0000");
    sql(stmt);
    rehash_from(ENTRIES + 3);
    r = verify(NULL);
    CHECK_CAUGHT(r, ENTRIES + 3, "malformed");
    CHECK(strstr(r.message, "sha256:0000") != NULL);
    charter_release(c);
    remove_dir();
}

static void test_earliest_problem_wins(void)
{
    build_ledger(10);
    sql("UPDATE entries SET payload = replace(payload, '\"value\":40', '\"value\":4')"
        " WHERE seq = 40; DELETE FROM entries WHERE seq = 8");
    CHECK_CAUGHT(verify(pubfile), 8, "removed");
    remove_dir();
}

/* ---- A careful forger (issue 13) ---------------------------------------- */

static void test_rewrite_with_every_checkpoint_deleted_fails_with_a_key(void)
{
    build_ledger(10);
    /* Edit an entry, recompute the whole chain, delete every checkpoint. */
    sql("UPDATE entries SET payload = replace(payload, '\"value\":25', '\"value\":52')"
        " WHERE seq = 25");
    rehash_from(25);
    sql("DELETE FROM checkpoints");
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 1, "uncovered");
    CHECK_HAS(r.message, "no checkpoint signed with the given key covers any of the 50");
    /* Without the key, nothing says checkpoints were ever written. */
    CHECK(verify(NULL).ok);
    remove_dir();
}

static void test_rewrite_with_later_checkpoints_deleted_fails_with_a_key(void)
{
    build_ledger(10);
    sql("UPDATE entries SET payload = replace(payload, '\"value\":25', '\"value\":52')"
        " WHERE seq = 25");
    rehash_from(25);
    sql("DELETE FROM checkpoints WHERE seq > 20");
    /* 30 entries after the checkpoint at 20; the writer signs every 10. */
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 30, "uncovered");
    CHECK_HAS(r.message, "at least every 10 entries");
    CHECK_HAS(r.message, "no checkpoint follows (the ledger ends at 50)");
    CHECK_INT(r.proven_seq, 20);
    remove_dir();
}

static void test_too_sparse_checkpoints_fail_with_a_key(void)
{
    build_ledger(10);
    sql("DELETE FROM checkpoints WHERE seq IN (20, 30)");
    /* Entries 11..40 have one checkpoint at 40: the 11th of them is one
     * more than the writer lets pass. */
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 21, "uncovered");
    CHECK_HAS(r.message, "the next checkpoint is at seq 40");
    CHECK(verify(NULL).ok);
    remove_dir();
}

static void test_a_crash_tail_passes_and_a_stale_one_fails(void)
{
    build_ledger(10);
    /* What a crash after entry 49 leaves: 9 entries after the checkpoint
     * at 40, recorded within the cadence's 10 s. */
    sql("DELETE FROM entries WHERE seq = 50; DELETE FROM checkpoints WHERE seq = 50");
    charter_ledger_report r = verify(pubfile);
    CHECK(r.ok);
    CHECK_INT(r.proven_seq, 40);
    CHECK_INT(r.last_seq, 49);
    /* A tail entry recorded a minute after that checkpoint would have been
     * covered by one. */
    sql("UPDATE entries SET time_ms = time_ms + 60000 WHERE seq >= 45");
    rehash_from(45);
    r = verify(pubfile);
    CHECK_CAUGHT(r, 45, "uncovered");
    CHECK_HAS(r.message, "within 10000 ms of the last");
    remove_dir();
}

static void test_too_long_a_tail_fails_even_when_recent(void)
{
    build_ledger(10);
    sql("DELETE FROM checkpoints WHERE seq = 50");
    /* 10 entries after the checkpoint at 40: the 10th needed one. */
    CHECK_CAUGHT(verify(pubfile), 50, "uncovered");
    remove_dir();
}

static void test_rows_outside_the_chain_are_counted(void)
{
    build_ledger(10);
    sql("INSERT INTO entries(seq,time_ms,kind,payload,prev_hash,hash)"
        " SELECT 0, time_ms, kind, payload, prev_hash, hash FROM entries WHERE seq = 7");
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 0, "unaccounted");
    CHECK_HAS(r.message, "holds 51 rows (seq 0..50) but 50 entries were walked");
    CHECK_CAUGHT(verify(NULL), 0, "unaccounted");
    sql("UPDATE entries SET seq = -1 WHERE seq = 0");
    r = verify(pubfile);
    CHECK_CAUGHT(r, 0, "unaccounted");
    CHECK_HAS(r.message, "holds 51 rows (seq -1..50)");
    remove_dir();
}

static void test_checkpoint_rows_outside_the_chain_are_counted(void)
{
    build_ledger(10);
    /* Seq 0 names no entry: the walk never meets it. */
    sql("INSERT INTO checkpoints SELECT 0, hash, signature, key_id, public_key, time_ms,"
        " checkpoint_every, checkpoint_ms FROM checkpoints WHERE seq = 10");
    charter_ledger_report r = verify(pubfile);
    CHECK_CAUGHT(r, 0, "unaccounted");
    CHECK_HAS(r.message, "checkpoints table holds a row at seq 0");
    sql("UPDATE checkpoints SET seq = -3 WHERE seq = 0");
    r = verify(pubfile);
    CHECK_CAUGHT(r, 0, "unaccounted");
    CHECK_HAS(r.message, "checkpoints table holds a row at seq -3");
    remove_dir();
}

static void test_reopened_ledger_with_another_cadence_verifies(void)
{
    build_ledger(10);
    /* A crash tail (47..50 uncovered), then a writer with another cadence:
     * it covers the tail and re-signs its own cadence before writing. */
    sql("DELETE FROM checkpoints WHERE seq = 50");
    charter_ledger_options opt = {.key_path = keyfile, .checkpoint_every = 25,
                                  .witness_path = witness};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, NULL), CHARTER_OK);
    append_outcomes(l, 51, 60);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_ledger_report r = verify(pubfile);
    CHECK(r.ok);
    if (!r.ok)
        fprintf(stderr, "verify: %s\n", r.message);
    CHECK_INT(r.last_seq, 60);
    CHECK_INT(r.proven_seq, 60);
    remove_dir();
}

/* ---- A witness outside the ledger ---------------------------------------- */

static charter_ledger_report verify_witness(const char *pub, const char *file)
{
    charter_verify_options opt = {.public_key_path = pub, .witness_path = file};
    charter_ledger_report r;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_verify_with(path, &opt, &r, &err);
    if (st != CHARTER_OK)
        fprintf(stderr, "verify: %s\n", err.message);
    CHECK_INT(st, CHARTER_OK);
    return r;
}

static int export_head(const charter_checkpoint *cp, void *user)
{
    char line[CHARTER_CHECKPOINT_JSON_SIZE];
    size_t n = charter_checkpoint_json(cp, line, sizeof line);
    CHECK(n > 0);
    fprintf(user, "%s\n", line);
    return 0;
}

static char *slurp(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_witness_round_trip_catches_a_cut_tail(void)
{
    build_ledger(10);
    /* The writer's witness and an export of the heads say the same. */
    char exported[600];
    snprintf(exported, sizeof exported, "%s/exported.jsonl", tmpdir);
    FILE *f = fopen(exported, "w");
    CHECK_INT(charter_ledger_checkpoints(path, 1, export_head, f, NULL), CHARTER_OK);
    fclose(f);
    char *a = slurp(witness), *b = slurp(exported);
    CHECK(a && b && *a);
    CHECK_STR(a, b);
    CHECK_HAS(a, "\"seq\":50,\"signature\":\"");
    free(a);
    free(b);
    /* A good ledger passes every level. */
    CHECK(verify(NULL).ok);
    CHECK(verify(pubfile).ok);
    charter_ledger_report r = verify_witness(pubfile, witness);
    CHECK(r.ok);
    CHECK_INT(r.witnessed, 5);
    CHECK_INT(r.witness_seq, 50);
    CHECK(verify_witness(NULL, exported).ok);
    /* Cut the tail after the witnessed head at 40, with its checkpoints:
     * the file alone is a valid shorter ledger ... */
    sql("DELETE FROM entries WHERE seq > 40; DELETE FROM checkpoints WHERE seq > 40");
    CHECK(verify(pubfile).ok);
    /* ... the witness knows better. */
    r = verify_witness(pubfile, witness);
    CHECK_CAUGHT(r, 41, "truncated");
    CHECK_HAS(r.message, "witnessed head seq 50 is not in the ledger; it ends at 40");
    CHECK_CAUGHT(verify_witness(NULL, exported), 41, "truncated");
    remove_dir();
}

static void test_witness_catches_a_rewrite_without_the_key(void)
{
    build_ledger(10);
    sql("UPDATE entries SET payload = replace(payload, '\"value\":25', '\"value\":52')"
        " WHERE seq = 25");
    rehash_from(25);
    sql("DELETE FROM checkpoints");
    CHECK(verify(NULL).ok);
    charter_ledger_report r = verify_witness(NULL, witness);
    CHECK_CAUGHT(r, 21, "rewritten");
    CHECK_HAS(r.message, "witnessed head at seq 30 (witness line 3)");
    CHECK_INT(r.proven_seq, 20);
    remove_dir();
}

static void test_witness_lines_that_do_not_verify_fail(void)
{
    build_ledger(10);
    char *text = slurp(witness);
    CHECK(text != NULL);
    /* Point the head at seq 30 at entry 29's hash: the signature breaks. */
    char *line = text ? strstr(text, "\"seq\":30") : NULL;
    char *hash = line ? strstr(line - 150 > text ? line - 150 : text, "\"hash\":\"") : NULL;
    CHECK(hash != NULL);
    if (hash)
        hash[8] = hash[8] == '0' ? '1' : '0';
    FILE *f = fopen(witness, "w");
    fputs(text ? text : "", f);
    fputs("not a head\n", f);
    fclose(f);
    free(text);
    charter_ledger_report r = verify_witness(pubfile, witness);
    CHECK(!r.ok);
    CHECK_STR(r.problem, "bad_witness");
    CHECK_HAS(r.message, "line 6 is not a checkpoint head");
    /* A witness that cannot be read is an error, not a verdict. */
    charter_verify_options opt = {.public_key_path = pubfile,
                                  .witness_path = "/nonexistent/witness"};
    CHECK_INT(charter_ledger_verify_with(path, &opt, &r, NULL), CHARTER_E_IO);
    remove_dir();
}

typedef struct witness_log {
    int failing, recovered;
    char last[512];
} witness_log;

static void note_witness(const char *problem, void *user)
{
    witness_log *w = user;
    if (problem) {
        w->failing++;
        snprintf(w->last, sizeof w->last, "%s", problem);
    } else {
        w->recovered++;
    }
}

static void test_witness_that_cannot_be_written_is_reported_not_fatal(void)
{
    build_ledger(5);
    /* A FIFO nobody reads: the write would block, so it fails at once. */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/witness.fifo", tmpdir);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    witness_log log = {0};
    charter_ledger_options opt = {.key_path = keyfile, .checkpoint_every = 5,
                                  .witness_path = fifo, .witness_status = note_witness,
                                  .witness_user = &log};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, NULL), CHARTER_OK);
    append_outcomes(l, 51, 70);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(log.failing, 1); /* once, not once per head */
    CHECK_INT(log.recovered, 0);
    CHECK_HAS(log.last, "witness.fifo");
    charter_ledger_report r = verify(pubfile);
    CHECK(r.ok);
    CHECK_INT(r.last_seq, 70);
    CHECK_INT(r.proven_seq, 70);
    remove_dir();
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_intact_ledger_verifies_with_its_checkpoints);
    RUN(test_altered_payload_is_caught_at_its_seq);
    RUN(test_altered_time_is_caught);
    RUN(test_removed_entry_is_caught);
    RUN(test_removed_entries_with_renumbering_are_caught);
    RUN(test_inserted_entry_is_caught);
    RUN(test_inserted_entry_with_a_valid_hash_is_caught_after_it);
    RUN(test_appended_forged_entry_is_caught);
    RUN(test_swapped_entries_are_caught);
    RUN(test_swapped_contents_are_caught);
    RUN(test_altered_and_rehashed_entry_breaks_the_next_link);
    RUN(test_full_rewrite_without_checkpoints_is_not_provable);
    RUN(test_rewritten_entry_is_caught_by_the_checkpoint);
    RUN(test_truncated_tail_is_caught_by_a_checkpoint);
    RUN(test_truncation_that_also_removes_checkpoints_is_not_provable);
    RUN(test_forged_checkpoint_signature_is_caught);
    RUN(test_checkpoint_with_altered_hash_is_caught);
    RUN(test_checkpoint_signed_by_another_key_is_caught_with_the_real_key);
    RUN(test_rewrite_with_a_resigned_checkpoint_is_caught);
    RUN(test_unknown_kind_is_reported_as_malformed);
    RUN(test_charter_loaded_must_name_a_recorded_version);
    RUN(test_earliest_problem_wins);
    RUN(test_rewrite_with_every_checkpoint_deleted_fails_with_a_key);
    RUN(test_rewrite_with_later_checkpoints_deleted_fails_with_a_key);
    RUN(test_too_sparse_checkpoints_fail_with_a_key);
    RUN(test_a_crash_tail_passes_and_a_stale_one_fails);
    RUN(test_too_long_a_tail_fails_even_when_recent);
    RUN(test_rows_outside_the_chain_are_counted);
    RUN(test_checkpoint_rows_outside_the_chain_are_counted);
    RUN(test_reopened_ledger_with_another_cadence_verifies);
    RUN(test_witness_round_trip_catches_a_cut_tail);
    RUN(test_witness_catches_a_rewrite_without_the_key);
    RUN(test_witness_lines_that_do_not_verify_fail);
    RUN(test_witness_that_cannot_be_written_is_reported_not_fatal);
    return TEST_DONE();
}
