/* test_ledger_store_pg.c - the PostgreSQL ledger backend (store_pg.c), the
 * watch and the lease (pg_shared.c), and the path helpers of store.h,
 * against the real PostgreSQL the CTest fixture "pg" starts
 * (tests/pg/pg.sh; its folder in $CHARTER_TEST_PG_DIR).
 *
 * Every test makes a database of its own, so the file runs next to the
 * other PostgreSQL tests. Without a server and with CHARTER_TEST_PG=skip
 * it skips (exit 77).
 */
#include "test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "base/thread.h"
#include "ledger/chain.h"
#include "ledger/pg_shared.h"
#include "ledger/store.h"

static char server_url[512]; /* postgresql://charter@127.0.0.1:PORT/postgres */
static char tmpdir[256];
static int db_count;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The url of database `name` on the test server. */
static void db_url(const char *name, char *out, size_t n)
{
    const char *slash = strrchr(server_url, '/');
    snprintf(out, n, "%.*s/%s", (int)(slash - server_url), server_url, name);
}

/* Runs sql on database `name` (NULL: postgres); true when it succeeded. */
static bool admin_exec(const char *name, const char *sql)
{
    char url[600];
    db_url(name ? name : "postgres", url, sizeof url);
    PGconn *c = PQconnectdb(url);
    bool ok = false;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "admin: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stderr, "admin: cannot connect: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok;
}

/* One integer answer of sql on database `name`, or -1. */
static long long admin_int(const char *name, const char *sql)
{
    char url[600];
    db_url(name, url, sizeof url);
    PGconn *c = PQconnectdb(url);
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

/* A fresh database; its name in name, its url in url. */
static void fresh_db(char *name, size_t nn, char *url, size_t un)
{
    snprintf(name, nn, "t_store_%ld_%d", (long)getpid(), ++db_count);
    char sql[200];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (!admin_exec(NULL, sql)) {
        fprintf(stderr, "cannot create database %s\n", name);
        exit(1);
    }
    db_url(name, url, un);
}

static void drop_db(const char *name)
{
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin_exec(NULL, sql);
}

/* Ends every session on database `name` but the caller's. */
static int terminate_sessions(const char *name)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE datname = '%s' AND pid <> pg_backend_pid()",
             name);
    return (int)admin_int("postgres", sql);
}

static void make_entries(ledger_entry *e, size_t n, uint64_t first,
                         const unsigned char *prev, const char *const *payloads)
{
    for (size_t i = 0; i < n; i++) {
        e[i] = (ledger_entry){.seq = first + i, .time_ms = 1000 + (int64_t)i,
                              .kind = i % 2 ? "decision" : "outcome",
                              .payload = payloads[i], .payload_len = strlen(payloads[i])};
        memcpy(e[i].prev_hash, i ? e[i - 1].hash : prev, LEDGER_HASH_SIZE);
        ledger_entry_hash(&e[i], e[i].hash);
    }
}

static ledger_store *open_store(const char *path, ledger_open_mode mode)
{
    ledger_store_config cfg = {.mode = mode};
    ledger_store *s = NULL;
    charter_error err = {0};
    if (ledger_store_open(path, &cfg, &s, &err) != CHARTER_OK)
        fprintf(stderr, "open %s: %s\n", path, err.message);
    return s;
}

/* ---- Round trips equal to SQLite's ---------------------------------------- */

/* Everything a walk of a store sees, as one text, to compare two stores. */
typedef struct dump {
    char *text;
    size_t n, cap;
    uint64_t count, next_seq;
    bool in_order;
} dump;

static void dump_add(dump *d, const char *s, size_t n)
{
    if (d->n + n + 1 > d->cap) {
        d->cap = (d->n + n + 1) * 2;
        d->text = realloc(d->text, d->cap);
    }
    memcpy(d->text + d->n, s, n);
    d->n += n;
    d->text[d->n] = 0;
}

static int dump_entry(const ledger_entry *e, void *user)
{
    dump *d = user;
    char head[256], ph[65], h[65];
    ledger_hex(e->prev_hash, LEDGER_HASH_SIZE, ph);
    ledger_hex(e->hash, LEDGER_HASH_SIZE, h);
    snprintf(head, sizeof head, "%llu %lld %s %s %s ", (unsigned long long)e->seq,
             (long long)e->time_ms, e->kind, ph, h);
    dump_add(d, head, strlen(head));
    dump_add(d, e->payload, e->payload_len);
    dump_add(d, "\n", 1);
    if (d->count && e->seq != d->next_seq)
        d->in_order = false;
    d->next_seq = e->seq + 1;
    d->count++;
    return 0;
}

static int dump_checkpoint(const ledger_checkpoint *c, void *user)
{
    dump *d = user;
    char line[512], h[65], sig[129], pk[65];
    ledger_hex(c->hash, LEDGER_HASH_SIZE, h);
    ledger_hex(c->signature, LEDGER_SIG_SIZE, sig);
    ledger_hex(c->public_key, LEDGER_PK_SIZE, pk);
    snprintf(line, sizeof line, "cp %llu %s %s %s %s %lld %llu %u\n",
             (unsigned long long)c->seq, h, sig, c->key_id, pk, (long long)c->time_ms,
             (unsigned long long)c->checkpoint_every, c->checkpoint_ms);
    dump_add(d, line, strlen(line));
    return 0;
}

static void dump_store(ledger_store *s, dump *d)
{
    *d = (dump){.in_order = true};
    dump_add(d, "", 0);
    CHECK_INT(s->ops->read(s, 1, dump_entry, d, NULL), CHARTER_OK);
    CHECK_INT(s->ops->checkpoints(s, dump_checkpoint, d, NULL), CHARTER_OK);
    ledger_entry last;
    bool found;
    CHECK_INT(s->ops->last(s, &last, &found, NULL), CHARTER_OK);
    ledger_tally t;
    CHECK_INT(s->ops->tally(s, &t, NULL), CHARTER_OK);
    char line[256], h[65];
    ledger_hex(last.hash, LEDGER_HASH_SIZE, h);
    snprintf(line, sizeof line, "last %d %llu %s tally %llu %lld %lld %llu %lld %lld\n",
             found, (unsigned long long)last.seq, h, (unsigned long long)t.entries,
             (long long)t.entries_min, (long long)t.entries_max,
             (unsigned long long)t.checkpoints, (long long)t.checkpoints_min,
             (long long)t.checkpoints_max);
    dump_add(d, line, strlen(line));
}

static void fill_checkpoint(ledger_checkpoint *cp, uint64_t seq, const unsigned char *hash,
                            int salt)
{
    memset(cp, 0, sizeof *cp);
    cp->seq = seq;
    memcpy(cp->hash, hash, LEDGER_HASH_SIZE);
    for (int i = 0; i < LEDGER_SIG_SIZE; i++)
        cp->signature[i] = (unsigned char)(i * 7 + salt);
    for (int i = 0; i < LEDGER_PK_SIZE; i++)
        cp->public_key[i] = (unsigned char)(255 - i - salt);
    snprintf(cp->key_id, sizeof cp->key_id, "ed25519:k%d", salt);
    cp->time_ms = 5000 + salt;
    cp->checkpoint_every = 1000;
    cp->checkpoint_ms = 250;
}

static void test_round_trips_equal_sqlite(void)
{
    char name[64], url[600], file[600];
    fresh_db(name, sizeof name, url, sizeof url);
    test_dir_make("store-pg", tmpdir, sizeof tmpdir);
    snprintf(file, sizeof file, "%s/ledger.db", tmpdir);
    ledger_store *pg = open_store(url, LEDGER_OPEN_WRITE);
    ledger_store *sq = open_store(file, LEDGER_OPEN_WRITE);
    CHECK(pg && sq);
    if (!pg || !sq)
        goto out;
    CHECK(pg->ops->shared);
    CHECK(!sq->ops->shared);
    CHECK_STR(pg->ops->name, "postgresql");
    /* Payloads with what array literals, COPY and text encoding must keep. */
    const char *p[] = {"{\"a\":1}",
                       "{\"q\":\"say \\\"hi\\\" \\\\ back\"}",
                       "{\"u\":\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
                       "{\"l\":[1,2,{\"b\":null}],\"s\":\"a,b}{c\"}",
                       "{\"nl\":\"line\\nnext\",\"tab\":\"\t\",\"real\":\"x\ny\"}",
                       "{}",
                       "{\"k\":\"NULL\"}"};
    enum { N = sizeof p / sizeof p[0] };
    ledger_entry e[N];
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    make_entries(e, 4, 1, zero, p);
    make_entries(e + 4, N - 4, 5, e[3].hash, p + 4);
    ledger_checkpoint cp1, cp2, cp3;
    fill_checkpoint(&cp1, 4, e[3].hash, 1);
    fill_checkpoint(&cp2, N, e[N - 1].hash, 2);
    fill_checkpoint(&cp3, N, e[N - 1].hash, 3); /* two at one seq keep their order */
    ledger_store *both[2] = {sq, pg};
    for (int i = 0; i < 2; i++) {
        ledger_store *s = both[i];
        CHECK_INT(s->ops->append(s, e, 4, &cp1, NULL), CHARTER_OK);
        CHECK_INT(s->ops->append(s, e + 4, N - 4, NULL, NULL), CHARTER_OK);
        CHECK_INT(s->ops->append(s, NULL, 0, &cp2, NULL), CHARTER_OK);
        CHECK_INT(s->ops->append(s, NULL, 0, &cp3, NULL), CHARTER_OK);
        CHECK_INT(s->problem, LEDGER_PROBLEM_NONE);
    }
    dump a, b;
    dump_store(sq, &a);
    dump_store(pg, &b);
    CHECK_INT(b.count, N);
    CHECK(b.in_order);
    CHECK_STR(b.text, a.text);
    free(a.text);
    free(b.text);

    /* The same through a store opened for reading, and from a later seq. */
    ledger_store *r = open_store(url, LEDGER_OPEN_READ);
    CHECK(r != NULL);
    if (r) {
        dump c;
        dump_store(r, &c);
        dump_store(sq, &a);
        CHECK_STR(c.text, a.text);
        free(a.text);
        free(c.text);
        dump d = {.in_order = true};
        CHECK_INT(r->ops->read(r, 6, dump_entry, &d, NULL), CHARTER_OK);
        CHECK_INT(d.count, N - 5);
        free(d.text);
        /* A reader does not write. */
        CHECK(r->ops->append(r, e, 1, NULL, NULL) != CHARTER_OK);
        CHECK_INT(r->problem, LEDGER_PROBLEM_READ_ONLY);
        ledger_store_close(r);
    }
out:
    ledger_store_close(pg);
    ledger_store_close(sq);
    test_dir_remove(tmpdir);
    drop_db(name);
}

/* A walk longer than one read chunk (10000 rows) sees every entry once, in
 * order, and stops when asked. */
typedef struct walk {
    uint64_t count, next;
    bool in_order;
    uint64_t stop_at;
} walk;

static int walk_entry(const ledger_entry *e, void *user)
{
    walk *w = user;
    if (e->seq != w->next)
        w->in_order = false;
    w->next = e->seq + 1;
    w->count++;
    return w->stop_at && e->seq == w->stop_at;
}

static void test_long_reads_stream_in_chunks(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    ledger_store *s = open_store(url, LEDGER_OPEN_WRITE);
    CHECK(s != NULL);
    if (!s)
        goto out;
    enum { N = 23456 };
    ledger_entry *e = calloc(N, sizeof *e);
    static const char *const pl[1] = {"{\"n\":\"entry\"}"};
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    for (size_t i = 0; i < N; i++)
        make_entries(&e[i], 1, i + 1, i ? e[i - 1].hash : zero, pl);
    CHECK_INT(s->ops->append(s, e, 20000, NULL, NULL), CHARTER_OK);
    CHECK_INT(s->ops->append(s, e + 20000, N - 20000, NULL, NULL), CHARTER_OK);
    walk w = {.next = 1, .in_order = true};
    CHECK_INT(s->ops->read(s, 1, walk_entry, &w, NULL), CHARTER_OK);
    CHECK_INT(w.count, N);
    CHECK(w.in_order);
    walk w2 = {.next = 9000, .in_order = true, .stop_at = 19500};
    CHECK_INT(s->ops->read(s, 9000, walk_entry, &w2, NULL), CHARTER_OK);
    CHECK_INT(w2.count, 19500 - 9000 + 1);
    CHECK(w2.in_order);
    free(e);
    ledger_store_close(s);
out:
    drop_db(name);
}

/* ---- Format, refusals ---------------------------------------------------- */

static void test_refuses_other_formats_and_non_ledgers(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    charter_error err = {0};
    ledger_store_config rd = {.mode = LEDGER_OPEN_READ}, wr = {.mode = LEDGER_OPEN_WRITE};
    ledger_store *s = NULL;

    /* A database without the tables is not a ledger to read ... */
    CHECK_INT(ledger_store_open(url, &rd, &s, &err), CHARTER_E_IO);
    CHECK(s == NULL);
    CHECK_HAS(err.message, "not a Charter ledger");
    CHECK(!strstr(err.message, "format"));

    /* ... and a ledger of another format is refused, read or write. */
    CHECK(admin_exec(name, "CREATE TABLE charter_meta(key text PRIMARY KEY, value text);"
                           "INSERT INTO charter_meta VALUES ('format', '99'),"
                           " ('application', 'charter-ledger')"));
    CHECK_INT(ledger_store_open(url, &wr, &s, &err), CHARTER_E_IO);
    CHECK(s == NULL);
    CHECK_HAS(err.message, "format 99");
    CHECK_HAS(err.message, "this build reads format 1");
    CHECK_INT(ledger_store_open(url, &rd, &s, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "format 99");
    /* Refused means untouched: no tables were created beside it. */
    CHECK_INT(admin_int(name, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'charter_%'"),
              1);

    /* Another application's charter_meta. */
    CHECK(admin_exec(name, "UPDATE charter_meta SET value = '1' WHERE key = 'format';"
                           "UPDATE charter_meta SET value = 'other' WHERE key = 'application'"));
    CHECK_INT(ledger_store_open(url, &wr, &s, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "application 'other'");

    /* The error names the database without its password. */
    char secret_url[700];
    snprintf(secret_url, sizeof secret_url, "%s", url);
    char *at = strstr(secret_url, "charter@");
    if (at) {
        char rest[700];
        snprintf(rest, sizeof rest, "%s", at + strlen("charter@"));
        snprintf(at, sizeof secret_url - (size_t)(at - secret_url), "charter:hunter2@%s", rest);
    }
    CHECK_INT(ledger_store_open(secret_url, &wr, &s, &err), CHARTER_E_IO);
    CHECK(!strstr(err.message, "hunter2"));
    CHECK_HAS(err.message, "charter:***@");
    drop_db(name);

    /* A database that would convert the entries' text. */
    char lname[80], lurl[600], sql[300];
    snprintf(lname, sizeof lname, "t_store_%ld_latin1", (long)getpid());
    snprintf(sql, sizeof sql,
             "CREATE DATABASE %s ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C'"
             " LC_CTYPE 'C'", lname);
    CHECK(admin_exec(NULL, sql));
    db_url(lname, lurl, sizeof lurl);
    CHECK_INT(ledger_store_open(lurl, &wr, &s, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "encoding is LATIN1, expected UTF8");
    drop_db(lname);

    /* Nothing listening: unavailable, said without the password. */
    CHECK_INT(ledger_store_open("postgresql://charter:hunter2@127.0.0.1:1/x", &wr, &s, &err),
              CHARTER_E_IO);
    CHECK_HAS(err.message, "cannot connect");
    CHECK(!strstr(err.message, "hunter2"));
}

static void test_schema_is_created_by_two_writers_at_once(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    enum { K = 4 };
    pid_t kids[K];
    for (int i = 0; i < K; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            ledger_store *s = open_store(url, LEDGER_OPEN_WRITE);
            _exit(s ? 0 : 1);
        }
    }
    for (int i = 0; i < K; i++) {
        int status = -1;
        waitpid(kids[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_INT(admin_int(name, "SELECT count(*) FROM charter_meta"), 2);
    drop_db(name);
}

/* ---- Appends: the chain lock and the tail ---------------------------------- */

typedef struct begin_arg {
    ledger_store *s;
    ledger_entry tail;
    charter_status st;
    atomic_bool done;
} begin_arg;

static void *begin_thread(void *p)
{
    begin_arg *a = p;
    a->st = a->s->ops->append_begin(a->s, &a->tail, NULL);
    atomic_store(&a->done, true);
    return NULL;
}

static void test_append_begin_waits_for_the_other_writer(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    ledger_store *a = open_store(url, LEDGER_OPEN_WRITE);
    ledger_store *b = open_store(url, LEDGER_OPEN_WRITE);
    CHECK(a && b);
    if (!a || !b)
        goto out;
    CHECK(a->ops->append_begin != NULL && a->ops->append_abort != NULL);
    ledger_entry tail;
    CHECK_INT(a->ops->append_begin(a, &tail, NULL), CHARTER_OK);
    CHECK_INT(tail.seq, 0);

    begin_arg arg = {.s = b};
    pthread_t t;
    pthread_create(&t, NULL, begin_thread, &arg);
    sleep_ms(400);
    CHECK(!atomic_load(&arg.done)); /* the chain lock is a's */

    const char *p[] = {"{\"by\":\"a\"}", "{\"by\":\"a2\"}"};
    ledger_entry e[2];
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    make_entries(e, 2, 1, zero, p);
    CHECK_INT(a->ops->append(a, e, 2, NULL, NULL), CHARTER_OK);
    for (int i = 0; i < 100 && !atomic_load(&arg.done); i++)
        sleep_ms(50);
    CHECK(atomic_load(&arg.done));
    pthread_join(t, NULL);
    CHECK_INT(arg.st, CHARTER_OK);
    CHECK_INT(arg.tail.seq, 2);
    CHECK(!memcmp(arg.tail.hash, e[1].hash, LEDGER_HASH_SIZE));
    CHECK(!memcmp(arg.tail.prev_hash, e[0].hash, LEDGER_HASH_SIZE));

    /* Inside b's transaction, reads see what a appended. */
    walk w = {.next = 1, .in_order = true};
    CHECK_INT(b->ops->read(b, 1, walk_entry, &w, NULL), CHARTER_OK);
    CHECK_INT(w.count, 2);

    /* a waits for b now; b aborts, a goes on. */
    begin_arg arg2 = {.s = a};
    pthread_create(&t, NULL, begin_thread, &arg2);
    sleep_ms(300);
    CHECK(!atomic_load(&arg2.done));
    b->ops->append_abort(b);
    for (int i = 0; i < 100 && !atomic_load(&arg2.done); i++)
        sleep_ms(50);
    CHECK(atomic_load(&arg2.done));
    pthread_join(t, NULL);
    CHECK_INT(arg2.st, CHARTER_OK);
    CHECK_INT(arg2.tail.seq, 2);
    /* A begun append that does not follow the tail is refused, and rolled back. */
    const char *p3[] = {"{\"by\":\"a3\"}"};
    ledger_entry e3[1];
    make_entries(e3, 1, 4, e[1].hash, p3);
    CHECK(a->ops->append(a, e3, 1, NULL, NULL) != CHARTER_OK);
    CHECK_INT(a->problem, LEDGER_PROBLEM_TAIL_CHANGED);
    /* The lock is free again: b appends at once. */
    make_entries(e3, 1, 3, e[1].hash, p3);
    CHECK_INT(b->ops->append(b, e3, 1, NULL, NULL), CHARTER_OK);
    /* Checkpoint-only and empty commits in a begun append. */
    ledger_checkpoint cp;
    fill_checkpoint(&cp, 3, e3[0].hash, 9);
    CHECK_INT(a->ops->append_begin(a, &tail, NULL), CHARTER_OK);
    CHECK_INT(tail.seq, 3);
    CHECK_INT(a->ops->append(a, NULL, 0, &cp, NULL), CHARTER_OK);
    CHECK_INT(a->ops->append_begin(a, &tail, NULL), CHARTER_OK);
    CHECK_INT(a->ops->append(a, NULL, 0, NULL, NULL), CHARTER_OK);
    ledger_tally t2;
    CHECK_INT(a->ops->tally(a, &t2, NULL), CHARTER_OK);
    CHECK_INT(t2.entries, 3);
    CHECK_INT(t2.checkpoints, 1);
out:
    ledger_store_close(a);
    ledger_store_close(b);
    drop_db(name);
}

static void test_append_with_a_wrong_seq_is_refused(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    ledger_store *s = open_store(url, LEDGER_OPEN_WRITE);
    CHECK(s != NULL);
    if (!s)
        goto out;
    const char *p[] = {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"};
    ledger_entry e[3];
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    make_entries(e, 3, 1, zero, p);
    CHECK_INT(s->ops->append(s, e, 2, NULL, NULL), CHARTER_OK);
    charter_error err = {0};
    ledger_checkpoint cp;
    fill_checkpoint(&cp, 3, e[2].hash, 4);
    /* A gap (seq 3 expected, 4 given) ... */
    ledger_entry gap[1];
    make_entries(gap, 1, 4, e[1].hash, p);
    CHECK_INT(s->ops->append(s, gap, 1, &cp, &err), CHARTER_E_IO);
    CHECK_INT(s->problem, LEDGER_PROBLEM_TAIL_CHANGED);
    CHECK_HAS(err.message, "another process");
    /* ... and an overlap (seq 2 again) leave nothing behind, checkpoint included. */
    CHECK_INT(s->ops->append(s, e + 1, 2, &cp, &err), CHARTER_E_IO);
    CHECK_INT(s->problem, LEDGER_PROBLEM_TAIL_CHANGED);
    ledger_tally t;
    CHECK_INT(s->ops->tally(s, &t, NULL), CHARTER_OK);
    CHECK_INT(t.entries, 2);
    CHECK_INT(t.checkpoints, 0);
    /* The right seq still goes. */
    CHECK_INT(s->ops->append(s, e + 2, 1, &cp, NULL), CHARTER_OK);
    CHECK_INT(s->problem, LEDGER_PROBLEM_NONE);
    ledger_store_close(s);
out:
    drop_db(name);
}

static void test_synchronous_commit_is_on(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    /* Even where the database's default says otherwise. */
    char sql[200];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s SET synchronous_commit = off", name);
    CHECK(admin_exec(NULL, sql));
    CHECK_INT(admin_int(name, "SELECT (current_setting('synchronous_commit') = 'off')::int"),
              1);
    ledger_store *s = open_store(url, LEDGER_OPEN_WRITE);
    CHECK(s != NULL);
    char v[32] = "";
    CHECK_INT(ledger_pg_synchronous_commit(s, v, sizeof v), 0);
    CHECK_STR(v, "on");
    ledger_store_close(s);
    /* A stronger setting (a synchronous standby's remote_apply) is kept. */
    snprintf(sql, sizeof sql, "ALTER DATABASE %s SET synchronous_commit = remote_apply",
             name);
    CHECK(admin_exec(NULL, sql));
    s = open_store(url, LEDGER_OPEN_WRITE);
    CHECK(s != NULL);
    CHECK_INT(ledger_pg_synchronous_commit(s, v, sizeof v), 0);
    CHECK_STR(v, "remote_apply");
    ledger_store_close(s);
    drop_db(name);
}

/* ---- A lost connection ------------------------------------------------------ */

static void test_a_lost_connection_is_reset_at_the_next_call(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    ledger_store *s = open_store(url, LEDGER_OPEN_WRITE);
    CHECK(s != NULL);
    if (!s)
        goto out;
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    CHECK_INT(s->ops->check(s, 0, zero, LEDGER_CHECK_WRITE, NULL), CHARTER_OK);

    CHECK_INT(terminate_sessions(name), 1);
    sleep_ms(100);
    charter_error err = {0};
    CHECK_INT(s->ops->check(s, 0, zero, LEDGER_CHECK_READ, &err), CHARTER_OK);
    CHECK_INT(s->problem, LEDGER_PROBLEM_NONE);
    CHECK_INT(terminate_sessions(name), 1);
    sleep_ms(100);
    CHECK_INT(s->ops->check(s, 0, zero, LEDGER_CHECK_WRITE, &err), CHARTER_OK);

    /* An append after the connection was lost goes through on a new one. */
    const char *p[] = {"{\"a\":1}"};
    ledger_entry e[1];
    make_entries(e, 1, 1, zero, p);
    CHECK_INT(terminate_sessions(name), 1);
    sleep_ms(100);
    CHECK_INT(s->ops->append(s, e, 1, NULL, &err), CHARTER_OK);
    CHECK_INT(terminate_sessions(name), 1);
    sleep_ms(100);
    ledger_entry tail;
    CHECK_INT(s->ops->append_begin(s, &tail, &err), CHARTER_OK);
    CHECK_INT(tail.seq, 1);
    s->ops->append_abort(s);

    /* While the database refuses connections: unavailable, and the
     * session comes back when it accepts them again. */
    char sql[200];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", name);
    CHECK(admin_exec(NULL, sql));
    CHECK_INT(terminate_sessions(name), 1);
    sleep_ms(100);
    CHECK(s->ops->check(s, 0, zero, LEDGER_CHECK_WRITE, &err) != CHARTER_OK);
    CHECK_INT(s->problem, LEDGER_PROBLEM_UNAVAILABLE);
    CHECK_STR(ledger_problem_name(s->problem), "unavailable");
    ledger_entry e2[1];
    make_entries(e2, 1, 2, e[0].hash, p);
    CHECK(s->ops->append(s, e2, 1, NULL, &err) != CHARTER_OK);
    CHECK_INT(s->problem, LEDGER_PROBLEM_UNAVAILABLE);
    snprintf(sql, sizeof sql, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", name);
    CHECK(admin_exec(NULL, sql));
    CHECK_INT(s->ops->check(s, 0, zero, LEDGER_CHECK_WRITE, &err), CHARTER_OK);
    CHECK_INT(s->problem, LEDGER_PROBLEM_NONE);
    CHECK_INT(s->ops->append(s, e2, 1, NULL, &err), CHARTER_OK);
    ledger_store_close(s);
out:
    drop_db(name);
}

/* ---- Snapshots -------------------------------------------------------------- */

static void test_a_snapshot_does_not_see_later_appends(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    ledger_store *w = open_store(url, LEDGER_OPEN_WRITE);
    ledger_store *r = open_store(url, LEDGER_OPEN_READ);
    CHECK(w && r);
    if (!w || !r)
        goto out;
    const char *p[] = {"{\"a\":1}", "{\"a\":2}"};
    ledger_entry e[2];
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    make_entries(e, 2, 1, zero, p);
    CHECK_INT(w->ops->append(w, e, 1, NULL, NULL), CHARTER_OK);
    CHECK_INT(r->ops->snapshot_begin(r, NULL), CHARTER_OK);
    ledger_tally t;
    CHECK_INT(r->ops->tally(r, &t, NULL), CHARTER_OK);
    CHECK_INT(t.entries, 1);
    CHECK_INT(w->ops->append(w, e + 1, 1, NULL, NULL), CHARTER_OK);
    CHECK_INT(r->ops->tally(r, &t, NULL), CHARTER_OK);
    CHECK_INT(t.entries, 1);
    walk wk = {.next = 1, .in_order = true};
    CHECK_INT(r->ops->read(r, 1, walk_entry, &wk, NULL), CHARTER_OK);
    CHECK_INT(wk.count, 1);
    r->ops->snapshot_end(r);
    CHECK_INT(r->ops->tally(r, &t, NULL), CHARTER_OK);
    CHECK_INT(t.entries, 2);
out:
    ledger_store_close(w);
    ledger_store_close(r);
    drop_db(name);
}

/* ---- The watch and the lease ------------------------------------------------ */

typedef struct interrupt_arg {
    ledger_watch *w;
} interrupt_arg;

static void *interrupt_later(void *p)
{
    interrupt_arg *a = p;
    sleep_ms(200);
    ledger_watch_interrupt(a->w);
    return NULL;
}

static void test_watch_wakes_on_an_append_by_another_store(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    ledger_store *s = open_store(url, LEDGER_OPEN_WRITE);
    ledger_watch *w = NULL;
    CHECK_INT(ledger_watch_open(url, &w, NULL), CHARTER_OK);
    CHECK(s && w);
    if (!s || !w)
        goto out;
    /* Nothing appended: a timeout, after about the time asked. */
    int64_t t0 = base_mono_us();
    CHECK_INT(ledger_watch_wait(w, 300), 0);
    int64_t waited = base_mono_us() - t0;
    CHECK(waited >= 250 * 1000 && waited < 3000 * 1000);

    const char *p[] = {"{\"a\":1}", "{\"a\":2}"};
    ledger_entry e[2];
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    make_entries(e, 2, 1, zero, p);
    CHECK_INT(s->ops->append(s, e, 1, NULL, NULL), CHARTER_OK);
    CHECK_INT(ledger_watch_wait(w, 5000), 1);
    /* Consumed: the next wait times out. */
    CHECK_INT(ledger_watch_wait(w, 200), 0);

    /* A begun append notifies at its commit. */
    ledger_entry tail;
    CHECK_INT(s->ops->append_begin(s, &tail, NULL), CHARTER_OK);
    CHECK_INT(s->ops->append(s, e + 1, 1, NULL, NULL), CHARTER_OK);
    CHECK_INT(ledger_watch_wait(w, 5000), 1);

    /* Interrupted from another thread: returns at once. */
    interrupt_arg ia = {w};
    pthread_t t;
    pthread_create(&t, NULL, interrupt_later, &ia);
    t0 = base_mono_us();
    CHECK_INT(ledger_watch_wait(w, 10000), 0);
    CHECK(base_mono_us() - t0 < 5000 * 1000);
    pthread_join(t, NULL);

    /* Its connection killed: -1 (or a timeout), then back, waking once. */
    CHECK(terminate_sessions(name) >= 2);
    int rc = ledger_watch_wait(w, 2000);
    CHECK(rc == -1 || rc == 1);
    if (rc == -1)
        CHECK_INT(ledger_watch_wait(w, 5000), 1);
    CHECK_INT(ledger_watch_wait(w, 200), 0);
    ledger_entry e3[1];
    const char *p3[] = {"{\"a\":3}"};
    make_entries(e3, 1, 3, e[1].hash, p3);
    CHECK_INT(s->ops->append(s, e3, 1, NULL, NULL), CHARTER_OK);
    CHECK_INT(ledger_watch_wait(w, 5000), 1);
out:
    ledger_watch_close(w);
    ledger_store_close(s);
    drop_db(name);
}

static void test_watch_and_lease_are_no_ops_for_sqlite(void)
{
    ledger_watch *w = (ledger_watch *)1;
    CHECK_INT(ledger_watch_open("/tmp/no-such-dir/ledger.db", &w, NULL), CHARTER_OK);
    CHECK(w == NULL);
    CHECK_INT(ledger_watch_wait(NULL, 10), 0);
    ledger_watch_interrupt(NULL);
    ledger_watch_close(NULL);
    ledger_lease *l = (ledger_lease *)1;
    CHECK_INT(ledger_lease_open("ledger.db", &l, NULL), CHARTER_OK);
    CHECK(l == NULL);
    CHECK(ledger_lease_hold(NULL));
    ledger_lease_close(NULL);
}

/* Calls hold until it says true, up to ms; returns the time it took (ms)
 * or -1. */
static int64_t hold_within(ledger_lease *l, int ms)
{
    int64_t t0 = base_mono_us();
    while (base_mono_us() - t0 < (int64_t)ms * 1000) {
        if (ledger_lease_hold(l))
            return (base_mono_us() - t0) / 1000;
        sleep_ms(100);
    }
    return -1;
}

static void test_lease_is_held_by_one_and_taken_over(void)
{
    char name[64], url[600];
    fresh_db(name, sizeof name, url, sizeof url);
    ledger_lease *a = NULL, *b = NULL, *c = NULL;
    CHECK_INT(ledger_lease_open(url, &a, NULL), CHARTER_OK);
    CHECK_INT(ledger_lease_open(url, &b, NULL), CHARTER_OK);
    CHECK(a && b);
    CHECK(ledger_lease_hold(a));
    CHECK(!ledger_lease_hold(b));
    CHECK(ledger_lease_hold(a)); /* still */
    CHECK(!ledger_lease_hold(b));

    /* The holder closes: the other takes it at its next call. */
    ledger_lease_close(a);
    int64_t took = hold_within(b, 1500);
    CHECK(took >= 0);

    /* The holder's backend dies: another takes it within ~1.5 s, and the
     * old holder knows it lost it. */
    CHECK_INT(ledger_lease_open(url, &c, NULL), CHARTER_OK);
    CHECK(!ledger_lease_hold(c));
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'"
             " AND granted AND classid = %lld AND objid = %lld"
             /* this test's database only: tests running beside it hold
              * the same key in theirs */
             " AND database = (SELECT oid FROM pg_database"
             " WHERE datname = current_database())",
             (long long)(0x43484c4703LL >> 32), (long long)(0x43484c4703LL & 0xffffffffLL));
    CHECK_INT(admin_int(name, sql), 1);
    took = hold_within(c, 1500);
    CHECK(took >= 0);
    CHECK(!ledger_lease_hold(b));
    ledger_lease_close(b);
    ledger_lease_close(c);

    /* A database that cannot be reached: not held, within about a second. */
    ledger_lease *d = NULL;
    CHECK_INT(ledger_lease_open("postgresql://charter@127.0.0.1:1/x", &d, NULL), CHARTER_OK);
    int64_t t0 = base_mono_us();
    CHECK(!ledger_lease_hold(d));
    CHECK(base_mono_us() - t0 < 1500 * 1000);
    ledger_lease_close(d);
    drop_db(name);
}

/* ---- A server stopped abruptly and started again ---------------------------- */

/* Runs "pg.sh CMD DIR" (a private server: the shared one stays up for the
 * tests running next to this one); true when it exits 0. */
static bool pg_sh(const char *cmd, const char *dir)
{
    char line[1200];
    snprintf(line, sizeof line, "'%s/tests/pg/pg.sh' %s '%s' >/dev/null", CHARTER_SOURCE_DIR,
             cmd, dir);
    return system(line) == 0;
}

static void test_a_server_back_from_an_immediate_stop_is_used_again(void)
{
    char dir[256], url[600] = "", file[300];
    test_dir_make("store-pg-own", dir, sizeof dir);
    chmod(dir, 0755); /* run as root, the server's user must reach pg/ */
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/pg");
    CHECK(pg_sh("start", dir));
    snprintf(file, sizeof file, "%s/url", dir);
    FILE *f = fopen(file, "r");
    if (f) {
        if (!fgets(url, sizeof url, f))
            url[0] = 0;
        fclose(f);
    }
    url[strcspn(url, "\r\n")] = 0;
    ledger_store *s = url[0] ? open_store(url, LEDGER_OPEN_WRITE) : NULL;
    ledger_watch *w = NULL;
    ledger_lease *l = NULL;
    CHECK(s != NULL);
    if (!s)
        goto out;
    CHECK_INT(ledger_watch_open(url, &w, NULL), CHARTER_OK);
    CHECK_INT(ledger_lease_open(url, &l, NULL), CHARTER_OK);
    CHECK(ledger_lease_hold(l));
    const char *p[] = {"{\"a\":1}", "{\"a\":2}"};
    ledger_entry e[2];
    unsigned char zero[LEDGER_HASH_SIZE] = {0};
    make_entries(e, 2, 1, zero, p);
    CHECK_INT(s->ops->append(s, e, 1, NULL, NULL), CHARTER_OK);
    CHECK_INT(ledger_watch_wait(w, 5000), 1);

    CHECK(pg_sh("immediate", dir));
    charter_error err = {0};
    CHECK(s->ops->check(s, 0, zero, LEDGER_CHECK_WRITE, &err) != CHARTER_OK);
    CHECK_INT(s->problem, LEDGER_PROBLEM_UNAVAILABLE);
    CHECK(s->ops->append(s, e + 1, 1, NULL, &err) != CHARTER_OK);
    CHECK_INT(s->problem, LEDGER_PROBLEM_UNAVAILABLE);
    CHECK_INT(ledger_watch_wait(w, 1000), -1);
    /* While it is down, a wait takes its time (a watching thread does not
     * spin), and says lost. */
    int64_t t0 = base_mono_us();
    CHECK_INT(ledger_watch_wait(w, 400), -1);
    CHECK(base_mono_us() - t0 >= 350 * 1000);
    t0 = base_mono_us();
    CHECK(!ledger_lease_hold(l));
    CHECK(base_mono_us() - t0 < 1500 * 1000);

    CHECK(pg_sh("restart", dir));
    CHECK_INT(s->ops->check(s, 0, zero, LEDGER_CHECK_WRITE, &err), CHARTER_OK);
    CHECK_INT(s->problem, LEDGER_PROBLEM_NONE);
    CHECK_INT(s->ops->append(s, e + 1, 1, NULL, &err), CHARTER_OK);
    int rc = ledger_watch_wait(w, 5000); /* back: 1 (a reconnect wakes too) */
    CHECK_INT(rc, 1);
    CHECK(hold_within(l, 3000) >= 0);
    ledger_tally t;
    CHECK_INT(s->ops->tally(s, &t, NULL), CHARTER_OK);
    CHECK_INT(t.entries, 2); /* the acknowledged entry survived the crash */
out:
    ledger_watch_close(w);
    ledger_lease_close(l);
    ledger_store_close(s);
    CHECK(pg_sh("stop", dir));
    dir[strlen(dir) - 3] = 0;
    test_dir_remove(dir);
}

/* ---- Paths ------------------------------------------------------------------ */

static void test_paths_display_sidecar_and_dispatch(void)
{
    CHECK(ledger_path_is_pg("postgresql://h/db"));
    CHECK(ledger_path_is_pg("postgres://h/db"));
    CHECK(ledger_path_is_pg("host=127.0.0.1 dbname=x"));
    CHECK(ledger_path_is_pg("dbname=x"));
    CHECK(!ledger_path_is_pg("ledger.db"));
    CHECK(!ledger_path_is_pg("/var/lib/charter/host.db"));
    CHECK(!ledger_path_is_pg("postgresql.db"));

    char buf[256];
    ledger_path_display("postgresql://u:s3cret@db.example:5432/charter?sslmode=require", buf,
                        sizeof buf);
    CHECK_STR(buf, "postgresql://u:***@db.example:5432/charter?sslmode=require");
    ledger_path_display("postgres://u@h/db?password=s3cret&sslmode=require", buf, sizeof buf);
    CHECK_STR(buf, "postgres://u@h/db?password=***&sslmode=require");
    ledger_path_display("host=h password=s3cret dbname=d", buf, sizeof buf);
    CHECK_STR(buf, "host=h password=*** dbname=d");
    ledger_path_display("host=h password = 'a \\' s3cret' dbname=d", buf, sizeof buf);
    CHECK_STR(buf, "host=h password = *** dbname=d");
    ledger_path_display("postgresql://h/db", buf, sizeof buf);
    CHECK_STR(buf, "postgresql://h/db");
    ledger_path_display("/var/ledger.db", buf, sizeof buf);
    CHECK_STR(buf, "/var/ledger.db");
    char small[12];
    ledger_path_display("postgresql://u:s3cret@h/db", small, sizeof small);
    CHECK_STR(small, "postgresql:");

    CHECK_INT(ledger_sidecar_in("/var/l.db", "/state", ".outbox", buf, sizeof buf), 0);
    CHECK_STR(buf, "/var/l.db.outbox");
    CHECK_INT(ledger_sidecar_in("postgresql://u:one@h/charter", "/state", ".outbox", buf,
                                sizeof buf), 0);
    CHECK(!strncmp(buf, "/state/charter-charter-", 23));
    CHECK_INT(strlen(buf), strlen("/state/charter-charter-12345678.outbox"));
    CHECK(!strcmp(buf + strlen(buf) - 7, ".outbox"));
    char other[256];
    /* Another password: the same files; another database: others. */
    CHECK_INT(ledger_sidecar_in("postgresql://u:two@h/charter", "/state/", ".outbox", other,
                                sizeof other), 0);
    CHECK_STR(other, buf);
    CHECK_INT(ledger_sidecar_in("postgresql://u:two@h2/charter", "/state", ".outbox", other,
                                sizeof other), 0);
    CHECK(strcmp(other, buf) != 0);
    CHECK_INT(ledger_sidecar_in("host=h dbname='my db' password=x", NULL, ".index", other,
                                sizeof other), 0);
    CHECK(!strncmp(other, "charter-my_db-", 14));
    CHECK(!strstr(other, "/"));
    CHECK_INT(ledger_sidecar_in("/var/l.db", NULL, ".outbox", small, sizeof small), -1);
    setenv("CHARTER_STATE_DIR", "/st", 1);
    CHECK_INT(ledger_sidecar("postgresql://h/db", ".x", buf, sizeof buf), 0);
    CHECK(!strncmp(buf, "/st/charter-db-", 15));
    unsetenv("CHARTER_STATE_DIR");
    CHECK_INT(ledger_sidecar("postgresql://h/db", ".x", buf, sizeof buf), 0);
    CHECK(!strncmp(buf, "charter-db-", 11));
}

int main(void)
{
    RUN(test_paths_display_sidecar_and_dispatch);
    RUN(test_watch_and_lease_are_no_ops_for_sqlite);
    const char *dir = getenv("CHARTER_TEST_PG_DIR");
    const char *mode = getenv("CHARTER_TEST_PG");
    bool skip_ok = mode && !strcmp(mode, "skip");
    char file[600];
    snprintf(file, sizeof file, "%s/url", dir ? dir : "");
    FILE *f = dir ? fopen(file, "r") : NULL;
    if (!f || !fgets(server_url, sizeof server_url, f)) {
        if (f)
            fclose(f);
        fprintf(stderr, "no test PostgreSQL: %s%s (tests/pg/pg.sh start DIR)\n",
                dir ? "cannot read " : "CHARTER_TEST_PG_DIR is not set",
                dir ? file : "");
        if (skip_ok) {
            printf("skipped: CHARTER_TEST_PG=skip\n");
            return 77;
        }
        return 1;
    }
    fclose(f);
    server_url[strcspn(server_url, "\r\n")] = 0;
    RUN(test_round_trips_equal_sqlite);
    RUN(test_long_reads_stream_in_chunks);
    RUN(test_refuses_other_formats_and_non_ledgers);
    RUN(test_schema_is_created_by_two_writers_at_once);
    RUN(test_append_begin_waits_for_the_other_writer);
    RUN(test_append_with_a_wrong_seq_is_refused);
    RUN(test_synchronous_commit_is_on);
    RUN(test_a_lost_connection_is_reset_at_the_next_call);
    RUN(test_a_snapshot_does_not_see_later_appends);
    RUN(test_watch_wakes_on_an_append_by_another_store);
    RUN(test_lease_is_held_by_one_and_taken_over);
    RUN(test_a_server_back_from_an_immediate_stop_is_used_again);
    return TEST_DONE();
}
