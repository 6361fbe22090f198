/* test_ledger_store.c - the SQLite store, the hash chain, group commit,
 * keys and failure behaviour of the ledger, against real files.
 *
 * These tests record outcome entries (they need no charter); decisions are
 * in test_ledger_recorder.c, tampering in test_ledger_verify.c.
 */
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "ledger/chain.h"
#include "ledger/keys.h"
#include "ledger/recorder.h"
#include "ledger/store.h"

static char tmpdir[256];
static char path[512];

static void fresh_dir(void)
{
    test_dir_make("ledger-store", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
}

static void remove_dir(void)
{
    test_dir_remove(tmpdir);
}

static charter_status add_outcome(charter_ledger *l, const char *metric, double v,
                                  uint64_t *seq)
{
    charter_outcome o = {.workflow = "refunds", .from_ms = 1000, .to_ms = 2000,
                         .metric = metric, .value = v, .note = "test"};
    return charter_ledger_outcome(l, &o, seq, NULL);
}

static int64_t count_rows(const char *table)
{
    sqlite3 *db;
    int64_t n = -1;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* ---- The store interface directly ---------------------------------------- */

typedef struct collected {
    uint64_t seqs[16];
    char payloads[16][64];
    size_t n;
} collected;

static int collect(const ledger_entry *e, void *user)
{
    collected *c = user;
    if (c->n < 16) {
        c->seqs[c->n] = e->seq;
        snprintf(c->payloads[c->n], 64, "%.*s", (int)e->payload_len, e->payload);
        c->n++;
    }
    return 0;
}

static void make_entries(ledger_entry *e, size_t n, uint64_t first,
                         const unsigned char *prev, const char *const *payloads)
{
    for (size_t i = 0; i < n; i++) {
        e[i] = (ledger_entry){.seq = first + i, .time_ms = 1000 + (int64_t)i,
                              .kind = "outcome", .payload = payloads[i],
                              .payload_len = strlen(payloads[i])};
        memcpy(e[i].prev_hash, i ? e[i - 1].hash : prev, LEDGER_HASH_SIZE);
        ledger_entry_hash(&e[i], e[i].hash);
    }
}

static void test_store_appends_and_reads_back_in_order(void)
{
    fresh_dir();
    ledger_store_config cfg = {.mode = LEDGER_OPEN_WRITE};
    ledger_store *s = NULL;
    CHECK_INT(ledger_store_open(path, &cfg, &s, NULL), CHARTER_OK);
    const char *p[] = {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"};
    ledger_entry e[3];
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    make_entries(e, 3, 1, zero, p);
    CHECK_INT(s->ops->append(s, e, 3, NULL, NULL), CHARTER_OK);
    ledger_store_close(s);

    cfg.mode = LEDGER_OPEN_READ;
    CHECK_INT(ledger_store_open(path, &cfg, &s, NULL), CHARTER_OK);
    collected c = {0};
    CHECK_INT(s->ops->read(s, 2, collect, &c, NULL), CHARTER_OK);
    CHECK_INT(c.n, 2);
    CHECK_INT(c.seqs[0], 2);
    CHECK_STR(c.payloads[1], "{\"a\":3}");
    ledger_entry last;
    bool found = false;
    CHECK_INT(s->ops->last(s, &last, &found, NULL), CHARTER_OK);
    CHECK(found);
    CHECK_INT(last.seq, 3);
    CHECK(!memcmp(last.hash, e[2].hash, LEDGER_HASH_SIZE));
    CHECK(!memcmp(last.prev_hash, e[1].hash, LEDGER_HASH_SIZE));
    ledger_store_close(s);
    remove_dir();
}

static void test_store_refuses_a_gap_and_keeps_nothing_of_the_batch(void)
{
    fresh_dir();
    ledger_store_config cfg = {.mode = LEDGER_OPEN_WRITE};
    ledger_store *s = NULL;
    CHECK_INT(ledger_store_open(path, &cfg, &s, NULL), CHARTER_OK);
    const char *p[] = {"{\"a\":1}", "{\"a\":2}"};
    ledger_entry e[2];
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    make_entries(e, 2, 5, zero, p);
    charter_error err;
    CHECK_INT(s->ops->append(s, e, 2, NULL, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "another process");
    ledger_store_close(s);
    CHECK_INT(count_rows("entries"), 0);
    remove_dir();
}

static void test_store_refuses_a_file_that_is_not_a_ledger(void)
{
    fresh_dir();
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    charter_ledger *l = NULL;
    charter_error err;
    CHECK_INT(charter_ledger_open(path, NULL, &l, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "not a Charter ledger");
    CHECK(l == NULL);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, &err), CHARTER_E_IO);
    snprintf(path, sizeof path, "%s/absent.db", tmpdir);
    CHECK_INT(charter_ledger_verify(path, NULL, &r, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "absent.db");
    remove_dir();
}

static void test_chain_canonical_bytes_are_sorted_compact_json(void)
{
    ledger_entry e = {.seq = 7, .time_ms = 42, .kind = "outcome",
                      .payload = "{\"metric\":\"m\"}", .payload_len = 14};
    size_t n;
    char *c = ledger_entry_canonical(&e, &n);
    CHECK_STR(c, "{\"kind\":\"outcome\",\"payload\":{\"metric\":\"m\"},\"seq\":7,"
                 "\"time_ms\":42}");
    CHECK_INT(n, strlen(c));
    /* hash = SHA-256(prev || canonical): a different prev gives another. */
    unsigned char h1[32], h2[32];
    ledger_entry_hash(&e, h1);
    e.prev_hash[0] = 1;
    ledger_entry_hash(&e, h2);
    CHECK(memcmp(h1, h2, 32) != 0);
    free(c);
}

static void test_decision_ids_round_trip(void)
{
    char id[32];
    uint64_t seq = 0;
    ledger_decision_id(12345, id);
    CHECK_STR(id, "d-12345");
    CHECK(ledger_decision_id_parse(id, &seq));
    CHECK_INT(seq, 12345);
    CHECK(!ledger_decision_id_parse("d-0", &seq));
    CHECK(!ledger_decision_id_parse("d-12x", &seq));
    CHECK(!ledger_decision_id_parse("x-1", &seq));
    CHECK(!ledger_decision_id_parse("d-99999999999999999999999", &seq));
}

static void test_time_parse_accepts_rfc3339_dates_and_ms(void)
{
    int64_t t = 0;
    CHECK(charter_time_parse("2026-11-24T10:00:00Z", &t));
    CHECK_INT(t, 1795514400000LL);
    CHECK(charter_time_parse("2026-11-24", &t));
    CHECK_INT(t, 1795478400000LL);
    CHECK(charter_time_parse("1795514400000", &t));
    CHECK_INT(t, 1795514400000LL);
    CHECK(!charter_time_parse("yesterday", &t));
    CHECK(!charter_time_parse("", &t));
    char buf[40];
    charter_time_format(1795514400000LL, buf);
    CHECK_STR(buf, "2026-11-24T10:00:00Z");
}

/* ---- Recording ------------------------------------------------------------ */

static void test_outcomes_get_consecutive_seqs_and_verify(void)
{
    fresh_dir();
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    uint64_t s1 = 0, s2 = 0;
    CHECK_INT(add_outcome(l, "churn", 0.1, &s1), CHARTER_OK);
    CHECK_INT(add_outcome(l, "churn", 0.2, &s2), CHARTER_OK);
    CHECK_INT(s1, 1);
    CHECK_INT(s2, 2);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    /* Reopening continues the chain. */
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "churn", 0.3, &s1), CHARTER_OK);
    CHECK_INT(s1, 3);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, 3);
    CHECK_INT(r.checkpoints, 0);
    remove_dir();
}

static void test_outcome_arguments_are_checked(void)
{
    fresh_dir();
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    charter_error err;
    charter_outcome o = {.metric = "churn", .value = 1};
    CHECK_INT(charter_ledger_outcome(l, &o, NULL, &err), CHARTER_E_INVALID);
    CHECK_HAS(err.message, "exactly one");
    o.decision_id = "d-9";
    CHECK_INT(charter_ledger_outcome(l, &o, NULL, &err), CHARTER_E_REF);
    CHECK_HAS(err.message, "d-9");
    o.decision_id = "nine";
    CHECK_INT(charter_ledger_outcome(l, &o, NULL, &err), CHARTER_E_INVALID);
    o.decision_id = NULL;
    o.workflow = "refunds";
    o.from_ms = 5;
    o.to_ms = 5;
    CHECK_INT(charter_ledger_outcome(l, &o, NULL, &err), CHARTER_E_INVALID);
    CHECK_HAS(err.message, "window");
    o.to_ms = 6;
    o.metric = NULL;
    CHECK_INT(charter_ledger_outcome(l, &o, NULL, &err), CHARTER_E_INVALID);
    /* A deny is checked against the charter too (its note policy). */
    CHECK_INT(charter_ledger_resolve(l, NULL, "d-1", "ana", CHARTER_RESOLVE_DENY, NULL, 0,
                                     NULL, &err), CHARTER_E_INVALID);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(count_rows("entries"), 0);
    remove_dir();
}

typedef struct worker {
    charter_ledger *l;
    int n;
    uint64_t seqs[500];
    int failures;
} worker;

static void *append_many(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        if (add_outcome(w->l, "load", i, &w->seqs[i]) != CHARTER_OK)
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_appends_from_8_threads_are_all_durable_and_chained(void)
{
    fresh_dir();
    char key_dir[300];
    snprintf(key_dir, sizeof key_dir, "%s/keys", tmpdir);
    char kid[CHARTER_KEY_ID_SIZE], keyfile[320], pubfile[320];
    CHECK_INT(charter_keys_init(key_dir, kid, NULL), CHARTER_OK);
    snprintf(keyfile, sizeof keyfile, "%s/ledger.key", key_dir);
    snprintf(pubfile, sizeof pubfile, "%s/ledger.pub", key_dir);
    charter_ledger_options opt = {.key_path = keyfile, .checkpoint_every = 100};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, NULL), CHARTER_OK);
    enum { THREADS = 8, EACH = 500 };
    static worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.l = l, .n = EACH};
        pthread_create(&t[i], NULL, append_many, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    /* Every acknowledged seq is distinct and present. */
    static unsigned char seen[THREADS * EACH + 1];
    memset(seen, 0, sizeof seen);
    int failures = 0, dup = 0;
    for (int i = 0; i < THREADS; i++) {
        failures += w[i].failures;
        for (int k = 0; k < EACH; k++) {
            uint64_t s = w[i].seqs[k];
            if (s < 1 || s > THREADS * EACH || seen[s]++)
                dup++;
        }
    }
    CHECK_INT(failures, 0);
    CHECK_INT(dup, 0);
    CHECK_INT(count_rows("entries"), THREADS * EACH);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, pubfile, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.last_seq, THREADS * EACH);
    CHECK_INT(r.proven_seq, THREADS * EACH); /* the final checkpoint at close */
    /* One at the end of each batch that reaches 100 entries since the last. */
    CHECK(r.checkpoints >= THREADS * EACH / 200);
    remove_dir();
}

static void test_checkpoint_is_written_after_the_time_interval(void)
{
    fresh_dir();
    char key_dir[300], keyfile[320], kid[CHARTER_KEY_ID_SIZE];
    snprintf(key_dir, sizeof key_dir, "%s/keys", tmpdir);
    CHECK_INT(charter_keys_init(key_dir, kid, NULL), CHARTER_OK);
    snprintf(keyfile, sizeof keyfile, "%s/ledger.key", key_dir);
    charter_ledger_options opt = {.key_path = keyfile, .checkpoint_every = 1000000,
                                  .checkpoint_ms = 50};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "x", 1, NULL), CHARTER_OK);
    int64_t rows = 0;
    for (int i = 0; i < 100 && rows == 0; i++) {
        usleep(20000);
        rows = count_rows("checkpoints");
    }
    CHECK_INT(rows, 1); /* while still open: the timer wrote it */
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(count_rows("checkpoints"), 1); /* nothing new to cover at close */
    remove_dir();
}

static void test_keys_init_writes_a_private_key_and_refuses_to_overwrite(void)
{
    fresh_dir();
    char key_dir[300], keyfile[320], kid[CHARTER_KEY_ID_SIZE], kid2[CHARTER_KEY_ID_SIZE];
    snprintf(key_dir, sizeof key_dir, "%s/keys", tmpdir);
    CHECK_INT(charter_keys_init(key_dir, kid, NULL), CHARTER_OK);
    CHECK(!strncmp(kid, "ed25519:", 8));
    CHECK_INT(strlen(kid), 24);
    snprintf(keyfile, sizeof keyfile, "%s/ledger.key", key_dir);
    struct stat st;
    CHECK_INT(stat(keyfile, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    ledger_key k;
    CHECK_INT(ledger_key_load_secret(keyfile, &k, NULL), CHARTER_OK);
    CHECK_STR(k.id, kid);
    charter_error err;
    CHECK_INT(charter_keys_init(key_dir, kid2, &err), CHARTER_E_DUPLICATE);
    CHECK_HAS(err.message, "refusing to overwrite");
    /* A damaged key file is refused when a ledger opens with it. */
    FILE *f = fopen(keyfile, "w");
    fputs("not hex\n", f);
    fclose(f);
    charter_ledger_options opt = {.key_path = keyfile};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, &err), CHARTER_E_INVALID);
    CHECK_HAS(err.message, "hex digits");
    remove_dir();
}

/* ---- Failing closed -------------------------------------------------------- */

/* Opens the ledger for recording and expects a read-only refusal. Returns 0
 * when that happened. */
static int expect_read_only_refusal(void)
{
    charter_ledger *l = NULL;
    charter_error err;
    charter_status st = charter_ledger_open(path, NULL, &l, &err);
    if (st == CHARTER_OK) {
        charter_ledger_close(l, NULL);
        return 1;
    }
    return st == CHARTER_E_IO && strstr(err.message, "read-only") ? 0 : 2;
}

static void test_read_only_ledger_file_fails_closed_at_open_then_recovers(void)
{
    fresh_dir();
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "x", 1, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(chmod(path, 0444), 0);
    CHECK_INT(chmod(tmpdir, 0555), 0);
    if (geteuid() != 0) {
        CHECK_INT(expect_read_only_refusal(), 0);
    } else {
        /* Root writes through file modes: try as an unprivileged user. */
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(3);
            _exit(expect_read_only_refusal());
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status));
        CHECK_INT(WEXITSTATUS(status), 0);
    }
    chmod(tmpdir, 0700);
    chmod(path, 0644);
    CHECK_INT(count_rows("entries"), 1);
    /* Writable again: the ledger opens and records where it left off. */
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "x", 2, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(count_rows("entries"), 2);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    remove_dir();
}

static void test_full_disk_rolls_back_and_reports_unavailable(void)
{
    fresh_dir();
    /* A page cap makes the database "full" after a few hundred entries. */
    ledger_store_config cfg = {.max_pages = 40};
    charter_ledger *l = NULL;
    CHECK_INT(ledger_open_with(path, NULL, &cfg, &l, NULL), CHARTER_OK);
    char note[2000];
    memset(note, 'n', sizeof note - 1);
    note[sizeof note - 1] = '\0';
    int ok = 0, failed = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    for (int i = 0; i < 200; i++) {
        charter_outcome o = {.workflow = "w", .from_ms = 1, .to_ms = 2,
                             .metric = "m", .value = i, .note = note};
        if (charter_ledger_outcome(l, &o, NULL, &err) == CHARTER_OK)
            ok++;
        else
            failed++;
    }
    CHECK(ok > 0);
    CHECK(failed > 0);
    CHECK_HAS(err.message, "full");
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    /* Exactly the acknowledged entries are there, and they verify. */
    CHECK_INT(count_rows("entries"), ok);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    remove_dir();
}

static void test_locked_ledger_fails_the_append_then_recovers(void)
{
    fresh_dir();
    charter_ledger_options opt = {.busy_timeout_ms = 100};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "x", 1, NULL), CHARTER_OK);
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    charter_error err;
    CHECK_INT(charter_ledger_outcome(l, &(charter_outcome){.workflow = "w", .from_ms = 1,
                                                           .to_ms = 2, .metric = "m"},
                                     NULL, &err),
              CHARTER_E_IO);
    CHECK_HAS(err.message, "locked");
    CHECK_INT(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    uint64_t seq = 0;
    CHECK_INT(add_outcome(l, "x", 2, &seq), CHARTER_OK);
    CHECK_INT(seq, 2); /* the failed append left no trace */
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, 2);
    remove_dir();
}

/* ---- One writer per ledger -------------------------------------------------- */

static int count_entry(const charter_ledger_entry *e, void *user);

/* A second recording open fails at once and names who holds the ledger,
 * in this process or another; readers read beside the writer. */
static void test_second_writer_is_refused_and_named_while_readers_read(void)
{
    fresh_dir();
    charter_ledger *a = NULL, *b = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &a, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(a, "x", 1, NULL), CHARTER_OK);
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_ledger_open(path, NULL, &b, &err), CHARTER_E_IO);
    CHECK(b == NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    CHECK_HAS(err.message, pid);
    CHECK_HAS(err.message, "test_ledger_store"); /* the holder's command */
    CHECK_HAS(err.message, "POST /v1/decide");   /* what to do instead */
    /* Another process is refused the same way, naming this one. */
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        charter_ledger *c = NULL;
        charter_error cerr;
        memset(&cerr, 0, sizeof cerr);
        charter_status st = charter_ledger_open(path, NULL, &c, &cerr);
        _exit(st == CHARTER_E_IO && strstr(cerr.message, pid) ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Read-only work goes on beside the writer. */
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, 1);
    int n = 0;
    CHECK_INT(charter_ledger_scan(path, 0, 0, count_entry, &n, NULL), CHARTER_OK);
    CHECK_INT(n, 1);
    CHECK_INT(add_outcome(a, "x", 2, NULL), CHARTER_OK);
    /* Closed, the ledger can be opened again. */
    CHECK_INT(charter_ledger_close(a, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_open(path, NULL, &b, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(b, "x", 3, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(b, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, 3);
    remove_dir();
}

/* The lock dies with its process, kill -9 included. */
static void test_the_lock_dies_with_its_holder(void)
{
    fresh_dir();
    int ready[2];
    CHECK_INT(pipe(ready), 0);
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        charter_ledger *c = NULL;
        if (charter_ledger_open(path, NULL, &c, NULL) != CHARTER_OK)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(ready[1]);
    char x;
    CHECK_INT(read(ready[0], &x, 1), 1);
    close(ready[0]);
    charter_ledger *l = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_ledger_open(path, NULL, &l, &err), CHARTER_E_IO);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)child);
    CHECK_HAS(err.message, pid);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "x", 1, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    remove_dir();
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

/* Whatever the umask lets through, the ledger's files and the key folder
 * are their owner's alone. */
static void test_ledger_files_and_keys_are_private_under_umask_022(void)
{
    fresh_dir();
    mode_t old = umask(022);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "x", 1, NULL), CHARTER_OK);
    const char *suffix[] = {"", "-wal", "-shm", ".lock"};
    for (size_t i = 0; i < 4; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        if (mode_of(p) != 0600)
            fprintf(stderr, "%s has mode %o\n", p, (unsigned)mode_of(p));
        CHECK_INT(mode_of(p), 0600);
    }
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    char keys[600], key[700];
    snprintf(keys, sizeof keys, "%s/keys", tmpdir);
    char id[CHARTER_KEY_ID_SIZE];
    CHECK_INT(charter_keys_init(keys, id, NULL), CHARTER_OK);
    CHECK_INT(mode_of(keys), 0700);
    snprintf(key, sizeof key, "%s/ledger.key", keys);
    CHECK_INT(mode_of(key), 0600);
    umask(old);
    remove_dir();
}

/* ---- Health ------------------------------------------------------------------ */

typedef struct transitions {
    pthread_mutex_t mu;
    int failing, ok;
    char last_reason[32];
} transitions;

static void on_health(void *user, const charter_ledger_health *h)
{
    transitions *t = user;
    pthread_mutex_lock(&t->mu);
    if (h->ok)
        t->ok++;
    else
        t->failing++;
    snprintf(t->last_reason, sizeof t->last_reason, "%s", h->reason ? h->reason : "");
    pthread_mutex_unlock(&t->mu);
}

/* Waits up to 5 s for the ledger's health to be `ok`; returns its reason
 * ("" when ok). */
static const char *await_health(charter_ledger *l, bool ok, charter_ledger_health *h)
{
    for (int i = 0; i < 250; i++) {
        charter_ledger_health_get(l, h);
        if (h->ok == ok)
            break;
        usleep(20 * 1000);
    }
    return h->reason ? h->reason : "";
}

/* Without a single append, the writer notices that its file was moved away
 * and that another process changed the tail, reports each change once, and
 * recovers by itself when the cause is undone. */
static void test_health_follows_the_file_and_the_tail_and_recovers(void)
{
    fresh_dir();
    transitions t = {.mu = PTHREAD_MUTEX_INITIALIZER};
    charter_ledger_options opt = {.on_health = on_health, .health_user = &t};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "x", 1, NULL), CHARTER_OK);
    charter_ledger_health h;
    charter_ledger_health_get(l, &h);
    CHECK(h.ok);
    /* The file moved away: what is written would not be in the ledger. */
    char moved[600];
    snprintf(moved, sizeof moved, "%s.moved", path);
    CHECK_INT(rename(path, moved), 0);
    CHECK_STR(await_health(l, false, &h), "file_replaced");
    CHECK_HAS(h.message, path);
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(add_outcome(l, "x", 2, NULL), CHARTER_E_IO);
    CHECK_INT(rename(moved, path), 0);
    CHECK_STR(await_health(l, true, &h), "");
    CHECK_INT(add_outcome(l, "x", 3, NULL), CHARTER_OK);
    /* Another process appends a row behind the writer's back. */
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "INSERT INTO entries VALUES(3,0,'outcome','{}',x'00',x'00')",
                           NULL, NULL, NULL), SQLITE_OK);
    CHECK_STR(await_health(l, false, &h), "tail_changed");
    CHECK_INT(sqlite3_exec(db, "DELETE FROM entries WHERE seq=3", NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    CHECK_STR(await_health(l, true, &h), "");
    CHECK_INT(add_outcome(l, "x", 4, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    pthread_mutex_lock(&t.mu);
    CHECK_INT(t.failing, 2); /* once per change, not once per check */
    CHECK_INT(t.ok, 2);
    pthread_mutex_unlock(&t.mu);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, 3);
    remove_dir();
}

/* Someone deletes the lock file: a second writer can then open the ledger
 * (advisory locks cannot stop that), and the first notices that it lost the
 * ledger and stops writing; once the second is gone it takes it back. */
static void test_a_lost_lock_stops_the_writer_until_it_is_taken_back(void)
{
    fresh_dir();
    charter_ledger *a = NULL, *b = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &a, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(a, "x", 1, NULL), CHARTER_OK);
    char lock[600];
    snprintf(lock, sizeof lock, "%s.lock", path);
    CHECK_INT(unlink(lock), 0);
    CHECK_INT(charter_ledger_open(path, NULL, &b, NULL), CHARTER_OK);
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_outcome o = {.workflow = "w", .from_ms = 1, .to_ms = 2, .metric = "m"};
    CHECK_INT(charter_ledger_outcome(a, &o, NULL, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "lock file");
    charter_ledger_health h;
    charter_ledger_health_get(a, &h);
    CHECK_STR(h.reason, "lock_lost");
    CHECK_INT(charter_ledger_close(b, NULL), CHARTER_OK);
    CHECK_STR(await_health(a, true, &h), "");
    CHECK_INT(add_outcome(a, "x", 2, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(a, NULL), CHARTER_OK);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, 2);
    remove_dir();
}

static int count_entry(const charter_ledger_entry *e, void *user)
{
    char *json = NULL;
    if (charter_ledger_entry_json(e, &json, NULL) == CHARTER_OK && strstr(json, "\"seq\":"))
        ++*(int *)user;
    free(json);
    return 0;
}

static void test_scan_filters_by_time(void)
{
    fresh_dir();
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(add_outcome(l, "x", 1, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    int n = 0;
    CHECK_INT(charter_ledger_scan(path, 0, 0, count_entry, &n, NULL), CHARTER_OK);
    CHECK_INT(n, 1);
    n = 0;
    int64_t future = charter_now_ms() + 3600000;
    CHECK_INT(charter_ledger_scan(path, future, 0, count_entry, &n, NULL), CHARTER_OK);
    CHECK_INT(n, 0);
    CHECK_INT(charter_ledger_scan(path, 0, 1000, count_entry, &n, NULL), CHARTER_OK);
    CHECK_INT(n, 0);
    remove_dir();
}

int main(void)
{
    RUN(test_store_appends_and_reads_back_in_order);
    RUN(test_store_refuses_a_gap_and_keeps_nothing_of_the_batch);
    RUN(test_store_refuses_a_file_that_is_not_a_ledger);
    RUN(test_chain_canonical_bytes_are_sorted_compact_json);
    RUN(test_decision_ids_round_trip);
    RUN(test_time_parse_accepts_rfc3339_dates_and_ms);
    RUN(test_outcomes_get_consecutive_seqs_and_verify);
    RUN(test_outcome_arguments_are_checked);
    RUN(test_concurrent_appends_from_8_threads_are_all_durable_and_chained);
    RUN(test_checkpoint_is_written_after_the_time_interval);
    RUN(test_keys_init_writes_a_private_key_and_refuses_to_overwrite);
    RUN(test_read_only_ledger_file_fails_closed_at_open_then_recovers);
    RUN(test_full_disk_rolls_back_and_reports_unavailable);
    RUN(test_locked_ledger_fails_the_append_then_recovers);
    RUN(test_second_writer_is_refused_and_named_while_readers_read);
    RUN(test_the_lock_dies_with_its_holder);
    RUN(test_ledger_files_and_keys_are_private_under_umask_022);
    RUN(test_health_follows_the_file_and_the_tail_and_recovers);
    RUN(test_a_lost_lock_stops_the_writer_until_it_is_taken_back);
    RUN(test_scan_filters_by_time);
    return TEST_DONE();
}
