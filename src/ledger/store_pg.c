/* store_pg.c - the shared ledger backend: one PostgreSQL database that
 * several Charter servers append to.
 *
 * The schema (in the connection's schema, `public` by default), created on
 * the first open for writing under an advisory lock, so two servers
 * starting at once do not trip over each other:
 *
 *   charter_meta(key, value)           format = 1, application = charter-ledger
 *   charter_entries(seq PRIMARY KEY, time_ms, kind, payload, prev_hash, hash)
 *   charter_checkpoints(seq, hash, signature, key_id, public_key, time_ms,
 *                       checkpoint_every, checkpoint_ms, id)
 *
 * An append is one transaction, sent in one round trip (libpq's pipeline
 * mode): BEGIN, pg_advisory_xact_lock(chain key) (the chain lock: appends
 * by all servers form one order), the tail check and the entries in one
 * multi-row INSERT (arrays as parameters, unnest), the checkpoint, NOTIFY
 * charter_ledger, COMMIT, which releases the lock.
 * With synchronous_commit on, COMMIT returns once the server has the
 * transaction on disk (and on its synchronous standbys when it has any).
 * A writer that must see what others appended before it decides what to
 * write uses append_begin, reads inside the transaction, then append.
 *
 * A lost connection (the server restarted, the backend was terminated) is
 * noticed at the start of the next operation and reset then; operations
 * that change nothing are tried once more after a reset.
 */
#include "base/banned.h"

#include "ledger/store.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "ledger/pg_conn.h"

#define PG_FORMAT "1"
#define PG_APPLICATION "charter-ledger"
#define PG_READ_CHUNK 10000

typedef struct pg_store {
    ledger_store base;
    PGconn *conn;
    char *path;
    char shown[512];  /* the path without its password */
    bool writable;
    bool in_append;   /* append_begin's transaction is open */
    bool in_snapshot;
    uint64_t begin_tail;
    char lost[sizeof ((charter_error *)0)->message]; /* why the last reconnect failed */
} pg_store;

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS charter_meta("
    " key text PRIMARY KEY,"
    " value text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS charter_entries("
    " seq bigint PRIMARY KEY,"
    " time_ms bigint NOT NULL,"
    " kind text NOT NULL,"
    " payload text NOT NULL,"
    " prev_hash bytea NOT NULL,"
    " hash bytea NOT NULL);"
    "CREATE TABLE IF NOT EXISTS charter_checkpoints("
    " seq bigint NOT NULL,"
    " hash bytea NOT NULL,"
    " signature bytea NOT NULL,"
    " key_id text NOT NULL,"
    " public_key bytea NOT NULL,"
    " time_ms bigint NOT NULL,"
    " checkpoint_every bigint NOT NULL DEFAULT 0,"
    " checkpoint_ms bigint NOT NULL DEFAULT 0,"
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);"
    "CREATE INDEX IF NOT EXISTS charter_checkpoints_seq ON charter_checkpoints(seq, id);"
    "INSERT INTO charter_meta(key, value) VALUES ('format', '" PG_FORMAT "'),"
    " ('application', '" PG_APPLICATION "') ON CONFLICT (key) DO NOTHING;";

/* A writer that holds the chain lock and then stops (paused, its host cut
 * off) would hold every other server up: the server ends a transaction
 * idle for 30 s, which releases the lock. */
static const char writer_session_sql[] = "SET idle_in_transaction_session_timeout TO '30s'";

/* Fails with the server's message; sets the problem. r may be NULL. */
static charter_status pg_fail(pg_store *s, const PGresult *r, charter_error *err,
                              const char *doing)
{
    char msg[512];
    s->base.problem = ledger_pg_problem(s->conn, r);
    if (!r && s->lost[0] && PQstatus(s->conn) != CONNECTION_OK)
        return ledger_fail(err, CHARTER_E_IO, "%s: %s", doing, s->lost);
    return ledger_fail(err, CHARTER_E_IO, "ledger '%s': %s: %s", s->shown, doing,
                       ledger_pg_message(s->conn, r, msg, sizeof msg));
}

static bool ok_result(const PGresult *r)
{
    ExecStatusType t = PQresultStatus(r);
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* Before an operation outside a transaction: notices a connection the
 * server closed meanwhile (its farewell waits in the socket) and resets a
 * lost one. False when it is still lost. */
static bool pg_ensure(pg_store *s)
{
    if (s->in_append || s->in_snapshot)
        return PQstatus(s->conn) == CONNECTION_OK;
    bool usable = PQstatus(s->conn) == CONNECTION_OK &&
                  PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF;
    if (usable) {
        /* Whatever arrived while idle (a notice, the FATAL of a terminated
         * session, the end of the stream) is read until the socket is
         * quiet: the end is what makes the status BAD. */
        for (int i = 0; i < 8; i++) {
            struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};
            if (poll(&pfd, 1, 0) <= 0 || !PQconsumeInput(s->conn))
                break;
            (void)PQisBusy(s->conn);
        }
        PGnotify *nt;
        while ((nt = PQnotifies(s->conn)))
            PQfreemem(nt);
        if (PQstatus(s->conn) == CONNECTION_OK)
            return true;
    }
    /* A new connection (not PQreset: it would keep a pipeline's state). */
    charter_error err = {0};
    ledger_problem problem;
    PGconn *c = ledger_pg_connect(s->path, s->shown, &err, &problem);
    if (!c) {
        snprintf(s->lost, sizeof s->lost, "%s", err.message);
        return false;
    }
    PGresult *r = PQexec(c, s->writable ? writer_session_sql
                                        : "SET default_transaction_read_only TO on");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        snprintf(s->lost, sizeof s->lost, "cannot set up the session");
        PQfinish(c);
        return false;
    }
    PQfinish(s->conn);
    s->conn = c;
    s->lost[0] = 0;
    return true;
}

/* Runs sql (no parameters) on a connection ensured first; an operation
 * that changes nothing tries once more after a reset when the connection
 * was lost. Returns the last result (caller clears) or NULL. */
/* Whether `r` holds rows; when not, fails as pg_fail does (the status in
 * *st) and frees `r`. */
static bool pg_rows(pg_store *s, PGresult *r, charter_error *err, const char *doing,
                    charter_status *st)
{
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return true;
    *st = pg_fail(s, r, err, doing);
    PQclear(r);
    return false;
}

static PGresult *pg_exec_retry(pg_store *s, const char *sql, bool retry)
{
    if (!pg_ensure(s))
        return NULL;
    PGresult *r = PQexec(s->conn, sql);
    if (retry && !ok_result(r) && PQstatus(s->conn) != CONNECTION_OK && !s->in_append &&
        !s->in_snapshot) {
        PQclear(r);
        if (!pg_ensure(s))
            return NULL;
        r = PQexec(s->conn, sql);
    }
    return r;
}

static PGresult *pg_params(pg_store *s, const char *sql, int n, const char *const *v)
{
    return PQexecParams(s->conn, sql, n, NULL, v, NULL, NULL, 0);
}

static void pg_rollback(pg_store *s)
{
    if (PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF) {
        /* Half read: drop it (the server rolls the transaction back); the
         * next operation connects anew. */
        PQfinish(s->conn);
        s->conn = NULL;
    }
    if (PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(s->conn, "ROLLBACK");
        PQclear(r);
    }
    s->in_append = false;
}

static void pg_close(ledger_store *base)
{
    pg_store *s = (pg_store *)base;
    if (!s)
        return;
    PQfinish(s->conn);
    free(s->path);
    free(s);
}

/* "\x0a1b..." (bytea's text form) -> n bytes; zeros when it is not that. */
static void copy_hex(unsigned char *dst, size_t n, const char *v)
{
    memset(dst, 0, n);
    if (!v || v[0] != '\\' || v[1] != 'x')
        return;
    v += 2;
    for (size_t i = 0; i < n && v[0] && v[1]; i++, v += 2) {
        int hi = v[0] <= '9' ? v[0] - '0' : (v[0] | 32) - 'a' + 10;
        int lo = v[1] <= '9' ? v[1] - '0' : (v[1] | 32) - 'a' + 10;
        dst[i] = (unsigned char)(hi << 4 | lo);
    }
}

static void put_hex(strbuf *b, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[2 * 64];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 <= sizeof tmp; i++) {
        tmp[k++] = digits[p[i] >> 4];
        tmp[k++] = digits[p[i] & 15];
    }
    strbuf_add(b, tmp, k);
}

static int64_t get_int(const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* charter_meta must say our format and application. tables: whether the
 * meta table exists at all. */
static charter_status check_format(pg_store *s, bool *tables, charter_error *err)
{
    PGresult *r = PQexec(s->conn, "SELECT to_regclass('charter_meta') IS NOT NULL,"
                                  " to_regclass('charter_entries') IS NOT NULL,"
                                  " to_regclass('charter_checkpoints') IS NOT NULL");
    charter_status st;
    if (!pg_rows(s, r, err, "cannot read the schema", &st))
        return st;
    bool meta = !strcmp(PQgetvalue(r, 0, 0), "t");
    bool all = meta && !strcmp(PQgetvalue(r, 0, 1), "t") && !strcmp(PQgetvalue(r, 0, 2), "t");
    PQclear(r);
    *tables = meta;
    if (!meta)
        return CHARTER_OK;
    r = PQexec(s->conn, "SELECT"
                        " (SELECT value FROM charter_meta WHERE key = 'format'),"
                        " (SELECT value FROM charter_meta WHERE key = 'application')");
    if (!pg_rows(s, r, err, "cannot read charter_meta", &st))
        return st;
    char format[32], app[64];
    snprintf(format, sizeof format, "%s", PQgetisnull(r, 0, 0) ? "(none)" : PQgetvalue(r, 0, 0));
    snprintf(app, sizeof app, "%s", PQgetisnull(r, 0, 1) ? "(none)" : PQgetvalue(r, 0, 1));
    PQclear(r);
    if (strcmp(app, PG_APPLICATION))
        return ledger_fail(err, CHARTER_E_IO,
                           "database '%s' is not a Charter ledger: its charter_meta says "
                           "application '%s', expected '" PG_APPLICATION "'",
                           s->shown, app);
    if (strcmp(format, PG_FORMAT))
        return ledger_fail(err, CHARTER_E_IO,
                           "ledger '%s' has format %s; this build reads format " PG_FORMAT,
                           s->shown, format);
    if (!all && !s->writable)
        return ledger_fail(err, CHARTER_E_IO,
                           "ledger '%s' has charter_meta but not charter_entries and "
                           "charter_checkpoints: expected a complete Charter ledger",
                           s->shown);
    return CHARTER_OK;
}

/* Entries are UTF-8 text kept byte for byte: a database in another
 * encoding would convert them (or refuse some), so it is refused. */
static charter_status check_encoding(pg_store *s, charter_error *err)
{
    const char *enc = PQparameterStatus(s->conn, "server_encoding");
    if (enc && (!strcmp(enc, "UTF8") || !strcmp(enc, "SQL_ASCII")))
        return CHARTER_OK;
    return ledger_fail(err, CHARTER_E_IO,
                       "ledger '%s': the database's encoding is %s, expected UTF8 "
                       "(CREATE DATABASE ... ENCODING 'UTF8')",
                       s->shown, enc ? enc : "unknown");
}

static charter_status create_schema(pg_store *s, charter_error *err)
{
    /* Under a lock: CREATE TABLE IF NOT EXISTS alone is not safe against a
     * second server creating the same table at the same moment. */
    char sql[128];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)",
             (long long)LEDGER_PG_SCHEMA_KEY);
    PGresult *r = PQexec(s->conn, sql);
    if (!ok_result(r)) {
        charter_status st = pg_fail(s, r, err, "cannot lock to create the schema");
        PQclear(r);
        pg_rollback(s);
        return st;
    }
    PQclear(r);
    bool tables;
    charter_status st = check_format(s, &tables, err);
    if (st != CHARTER_OK) {
        pg_rollback(s);
        return st;
    }
    r = PQexec(s->conn, schema_sql);
    if (!ok_result(r)) {
        st = pg_fail(s, r, err, "cannot create the schema");
        PQclear(r);
        pg_rollback(s);
        return st;
    }
    PQclear(r);
    r = PQexec(s->conn, "COMMIT");
    if (!ok_result(r) || strcmp(PQcmdStatus(r), "COMMIT")) {
        st = pg_fail(s, r, err, "cannot commit the schema");
        PQclear(r);
        pg_rollback(s);
        return st;
    }
    PQclear(r);
    return check_format(s, &tables, err);
}

static charter_status writer_session(pg_store *s, charter_error *err)
{
    PGresult *r = PQexec(s->conn, writer_session_sql);
    charter_status st = CHARTER_OK;
    if (!ok_result(r))
        st = pg_fail(s, r, err, "cannot set up the session");
    PQclear(r);
    return st;
}

static charter_status pg_open(const char *path, const ledger_store_config *cfg,
                              ledger_store **out, charter_error *err)
{
    *out = NULL;
    pg_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory opening a ledger");
    }
    s->base.ops = &ledger_pg_ops;
    s->writable = cfg->mode == LEDGER_OPEN_WRITE;
    ledger_path_display(path, s->shown, sizeof s->shown);
    ledger_problem problem;
    s->conn = ledger_pg_connect(path, s->shown, err, &problem);
    if (!s->conn) {
        pg_close(&s->base);
        return CHARTER_E_IO;
    }
    charter_status st;
    bool tables = false;
    if (s->writable) {
        st = check_encoding(s, err);
        if (st == CHARTER_OK)
            st = create_schema(s, err);
        if (st == CHARTER_OK)
            st = writer_session(s, err);
    } else {
        st = check_format(s, &tables, err);
        if (st == CHARTER_OK && !tables)
            st = ledger_fail(err, CHARTER_E_IO,
                             "database '%s' is not a Charter ledger (no charter_meta "
                             "table): expected a Charter ledger", s->shown);
        if (st == CHARTER_OK) {
            PGresult *r = PQexec(s->conn, "SET default_transaction_read_only TO on");
            if (!ok_result(r))
                st = pg_fail(s, r, err, "cannot set up the session");
            PQclear(r);
        }
    }
    if (st != CHARTER_OK) {
        pg_close(&s->base);
        return st;
    }
    s->base.problem = LEDGER_PROBLEM_NONE;
    *out = &s->base;
    return CHARTER_OK;
}

static charter_status need_writable(pg_store *s, charter_error *err)
{
    if (s->writable)
        return CHARTER_OK;
    s->base.problem = LEDGER_PROBLEM_READ_ONLY;
    return ledger_fail(err, CHARTER_E_IO, "ledger '%s' is open read-only", s->shown);
}

/* The tail in a result of (seq, time_ms, prev_hash, hash) rows: 0 rows is
 * an empty ledger. */
static void tail_of(const PGresult *r, ledger_entry *tail)
{
    memset(tail, 0, sizeof *tail);
    if (PQntuples(r) < 1)
        return;
    tail->seq = (uint64_t)get_int(r, 0, 0);
    tail->time_ms = get_int(r, 0, 1);
    copy_hex(tail->prev_hash, LEDGER_HASH_SIZE, PQgetvalue(r, 0, 2));
    copy_hex(tail->hash, LEDGER_HASH_SIZE, PQgetvalue(r, 0, 3));
}

/* append_begin's one round trip: the transaction, the chain lock, the tail. */
static const char *begin_text(char *buf, size_t n)
{
    snprintf(buf, n,
             "BEGIN; SELECT pg_advisory_xact_lock(%lld);"
             " SELECT seq, time_ms, prev_hash, hash FROM charter_entries"
             " ORDER BY seq DESC LIMIT 1",
             (long long)LEDGER_PG_CHAIN_KEY);
    return buf;
}

static charter_status pg_append_begin(ledger_store *base, ledger_entry *tail,
                                      charter_error *err)
{
    pg_store *s = (pg_store *)base;
    base->problem = LEDGER_PROBLEM_NONE;
    charter_status st = need_writable(s, err);
    if (st != CHARTER_OK)
        return st;
    if (s->in_append)
        pg_rollback(s);
    char sql[256];
    /* Nothing is written before the lock is held: safe to try again. */
    PGresult *r = pg_exec_retry(s, begin_text(sql, sizeof sql), true);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = pg_fail(s, r, err, "cannot start an append");
        PQclear(r);
        pg_rollback(s);
        return st;
    }
    tail_of(r, tail);
    PQclear(r);
    s->begin_tail = tail->seq;
    s->in_append = true;
    return CHARTER_OK;
}

static void pg_append_abort(ledger_store *base)
{
    pg_rollback((pg_store *)base);
}

/* An array literal's element: "text" with " and \ escaped. */
static void put_array_text(strbuf *b, const char *p, size_t n)
{
    strbuf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            strbuf_add(b, p + run, i - run);
            strbuf_add(b, "\\", 1);
            run = i;
        }
    }
    strbuf_add(b, p + run, n - run);
    strbuf_add(b, "\"", 1);
}

static void put_array_bytea(strbuf *b, const unsigned char *p, size_t n)
{
    strbuf_add(b, "\"\\\\x", 4);
    put_hex(b, p, n);
    strbuf_add(b, "\"", 1);
}

/* The statements of one append, sent together (libpq's pipeline mode): one
 * round trip from BEGIN to COMMIT. */
typedef enum step_kind { STEP_BEGIN, STEP_LOCK, STEP_ENTRIES, STEP_CHECKPOINT,
                         STEP_NOTIFY, STEP_COMMIT } step_kind;

static const char entries_sql[] =
    "INSERT INTO charter_entries(seq, time_ms, kind, payload, prev_hash, hash)"
    " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],"
    " $5::bytea[], $6::bytea[])"
    " WHERE (SELECT coalesce(max(seq), 0) FROM charter_entries) = $7::bigint";

/* The checkpoint goes in only when the entries did (the statements after a
 * refused INSERT still run: a mismatched tail inserts no row, it is no
 * error); $9 is the batch's last seq, or NULL for a checkpoint alone. */
static const char checkpoint_sql[] =
    "INSERT INTO charter_checkpoints(seq, hash, signature, key_id, public_key,"
    " time_ms, checkpoint_every, checkpoint_ms)"
    " SELECT $1::bigint, $2::bytea, $3::bytea, $4::text, $5::bytea, $6::bigint,"
    " $7::bigint, $8::bigint"
    " WHERE $9::bigint IS NULL OR"
    " (SELECT coalesce(max(seq), 0) FROM charter_entries) = $9::bigint";

/* e[0..n) as the six array literals entries_sql takes. */
static bool entry_arrays(const ledger_entry *e, size_t n, strbuf col[6])
{
    for (int c = 0; c < 6; c++)
        strbuf_add(&col[c], "{", 1);
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? "," : "";
        strbuf_printf(&col[0], "%s%" PRIu64, sep, e[i].seq);
        strbuf_printf(&col[1], "%s%" PRId64, sep, e[i].time_ms);
        strbuf_puts(&col[2], sep);
        put_array_text(&col[2], e[i].kind, strlen(e[i].kind));
        strbuf_puts(&col[3], sep);
        put_array_text(&col[3], e[i].payload, e[i].payload_len);
        strbuf_puts(&col[4], sep);
        put_array_bytea(&col[4], e[i].prev_hash, LEDGER_HASH_SIZE);
        strbuf_puts(&col[5], sep);
        put_array_bytea(&col[5], e[i].hash, LEDGER_HASH_SIZE);
    }
    bool failed = false;
    for (int c = 0; c < 6; c++) {
        strbuf_add(&col[c], "}", 1);
        failed |= col[c].failed;
    }
    return !failed;
}

/* Sends the steps, then reads their answers. Returns the first failed
 * result (the caller clears it) in *bad with its step in *bad_step, and
 * the rows the INSERT of entries wrote in *inserted. False when the
 * pipeline could not be sent or read (the connection is then lost). */
typedef struct append_plan {
    step_kind steps[6];
    int nsteps;
    const char *entry_v[7];
    const char *cp_v[9];
    int cp_len[9], cp_fmt[9];
} append_plan;

static bool send_step(PGconn *c, const append_plan *p, step_kind k)
{
    char sql[96];
    switch (k) {
    case STEP_BEGIN:
        return PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    case STEP_LOCK:
        snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)",
                 (long long)LEDGER_PG_CHAIN_KEY);
        return PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
    case STEP_ENTRIES:
        return PQsendQueryParams(c, entries_sql, 7, NULL, p->entry_v, NULL, NULL, 0);
    case STEP_CHECKPOINT:
        return PQsendQueryParams(c, checkpoint_sql, 9, NULL, p->cp_v, p->cp_len, p->cp_fmt,
                                 0);
    case STEP_NOTIFY:
        return PQsendQueryParams(c, "NOTIFY " LEDGER_PG_CHANNEL, 0, NULL, NULL, NULL, NULL, 0);
    case STEP_COMMIT:
        return PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
    }
    return false;
}

static bool run_plan(PGconn *c, const append_plan *p, PGresult **bad, step_kind *bad_step,
                     uint64_t *inserted, bool *committed)
{
    *bad = NULL;
    *inserted = 0;
    *committed = false;
    if (!PQenterPipelineMode(c))
        return false;
    bool sent = true;
    for (int i = 0; i < p->nsteps && sent; i++)
        sent = send_step(c, p, p->steps[i]);
    if (!sent || !PQpipelineSync(c))
        return false;
    /* Each step answers a result then NULL; an aborted pipeline answers
     * PGRES_PIPELINE_ABORTED for the steps after the failed one; the sync
     * answers PGRES_PIPELINE_SYNC last. NULLs are bounded, in case the
     * connection breaks on the way. */
    int step = 0, nulls = 0;
    for (;;) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (PQstatus(c) != CONNECTION_OK || ++nulls > 2 * p->nsteps + 2)
                return false;
            continue;
        }
        ExecStatusType t = PQresultStatus(r);
        if (t == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        step_kind k = step < p->nsteps ? p->steps[step] : STEP_COMMIT;
        step++;
        if (t == PGRES_FATAL_ERROR && !*bad) {
            *bad = r;
            *bad_step = k;
            r = NULL;
        } else if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
            if (k == STEP_ENTRIES)
                *inserted = strtoull(PQcmdTuples(r), NULL, 10);
            /* A COMMIT that could not commit answers "ROLLBACK". */
            if (k == STEP_COMMIT)
                *committed = !strcmp(PQcmdStatus(r), "COMMIT");
        }
        PQclear(r);
        if (PQstatus(c) != CONNECTION_OK)
            return false;
    }
    return PQexitPipelineMode(c) == 1;
}

static charter_status pg_append(ledger_store *base, const ledger_entry *e, size_t n,
                                const ledger_checkpoint *cp, charter_error *err)
{
    pg_store *s = (pg_store *)base;
    base->problem = LEDGER_PROBLEM_NONE;
    charter_status st = need_writable(s, err);
    if (st != CHARTER_OK)
        return st;
    if (s->in_append && n > 0 && e[0].seq != s->begin_tail + 1) {
        pg_rollback(s);
        base->problem = LEDGER_PROBLEM_TAIL_CHANGED;
        return ledger_fail(err, CHARTER_E_IO,
                           "ledger '%s': the last entry is %" PRIu64 ", expected %" PRIu64
                           ": the append does not follow the tail",
                           s->shown, s->begin_tail, e[0].seq - 1);
    }
    if (!s->in_append && !pg_ensure(s))
        return pg_fail(s, NULL, err, "cannot start an append");

    append_plan p = {.nsteps = 0};
    strbuf col[6] = {{0}};
    char expect[24], seq[24], time_ms[24], every[24], ms[24], last[24];
    if (!s->in_append) {
        p.steps[p.nsteps++] = STEP_BEGIN;
        p.steps[p.nsteps++] = STEP_LOCK;
    }
    if (n > 0) {
        if (!entry_arrays(e, n, col)) {
            for (int c = 0; c < 6; c++)
                strbuf_release(&col[c]);
            pg_rollback(s);
            base->problem = LEDGER_PROBLEM_IO;
            return ledger_fail(err, CHARTER_E_NOMEM,
                               "out of memory appending to ledger '%s'", s->shown);
        }
        snprintf(expect, sizeof expect, "%" PRIu64, e[0].seq - 1);
        for (int c = 0; c < 6; c++)
            p.entry_v[c] = col[c].p;
        p.entry_v[6] = expect;
        p.steps[p.nsteps++] = STEP_ENTRIES;
    }
    if (cp) {
        snprintf(seq, sizeof seq, "%" PRIu64, cp->seq);
        snprintf(time_ms, sizeof time_ms, "%" PRId64, cp->time_ms);
        snprintf(every, sizeof every, "%" PRIu64, cp->checkpoint_every);
        snprintf(ms, sizeof ms, "%" PRIu32, cp->checkpoint_ms);
        snprintf(last, sizeof last, "%" PRIu64, n > 0 ? e[n - 1].seq : 0);
        const char *v[9] = {seq, (const char *)cp->hash, (const char *)cp->signature,
                            cp->key_id, (const char *)cp->public_key, time_ms, every, ms,
                            n > 0 ? last : NULL};
        int len[9] = {0, LEDGER_HASH_SIZE, LEDGER_SIG_SIZE, 0, LEDGER_PK_SIZE, 0, 0, 0, 0};
        int fmt[9] = {0, 1, 1, 0, 1, 0, 0, 0, 0};
        memcpy(p.cp_v, v, sizeof v);
        memcpy(p.cp_len, len, sizeof len);
        memcpy(p.cp_fmt, fmt, sizeof fmt);
        p.steps[p.nsteps++] = STEP_CHECKPOINT;
    }
    if (n > 0 || cp)
        p.steps[p.nsteps++] = STEP_NOTIFY;
    p.steps[p.nsteps++] = STEP_COMMIT;

    PGresult *bad = NULL;
    step_kind bad_step = STEP_COMMIT;
    uint64_t inserted = 0;
    bool committed = false;
    bool ran = run_plan(s->conn, &p, &bad, &bad_step, &inserted, &committed);
    for (int c = 0; c < 6; c++)
        strbuf_release(&col[c]);
    if (!ran || PQstatus(s->conn) != CONNECTION_OK) {
        /* Lost on the way: if the COMMIT reached the server, it may have
         * committed. */
        st = pg_fail(s, bad, err,
                     "the connection was lost during an append (whether it was committed "
                     "is known only by reading the tail again)");
        if (!base->problem || base->problem == LEDGER_PROBLEM_IO)
            base->problem = PQstatus(s->conn) == CONNECTION_OK ? LEDGER_PROBLEM_IO
                                                               : LEDGER_PROBLEM_UNAVAILABLE;
    } else if (bad) {
        static const char *const doing[] = {"cannot start an append", "cannot take the chain lock",
                                            "cannot append entries", "cannot append a checkpoint",
                                            "cannot notify", "cannot commit"};
        st = pg_fail(s, bad, err, doing[bad_step]);
        if (bad_step == STEP_ENTRIES && base->problem == LEDGER_PROBLEM_TAIL_CHANGED)
            st = ledger_fail(err, CHARTER_E_IO,
                             "ledger '%s': entry %" PRIu64 " is there already: another "
                             "process is writing to this ledger",
                             s->shown, e[0].seq);
    } else if (n > 0 && inserted != n) {
        /* The tail was not e[0].seq - 1: nothing of the batch was written
         * (its checkpoint neither), the empty transaction committed. */
        base->problem = LEDGER_PROBLEM_TAIL_CHANGED;
        st = ledger_fail(err, CHARTER_E_IO,
                         "ledger '%s': the last entry is not %" PRIu64 " as expected: "
                         "another process is writing to this ledger",
                         s->shown, e[0].seq - 1);
    } else if (!committed) {
        base->problem = LEDGER_PROBLEM_IO;
        st = ledger_fail(err, CHARTER_E_IO, "ledger '%s': the commit was rolled back",
                         s->shown);
    }
    PQclear(bad);
    if (st == CHARTER_OK)
        s->in_append = false;
    else
        pg_rollback(s);
    return st;
}

static charter_status pg_read(ledger_store *base, uint64_t from_seq, ledger_entry_fn fn,
                              void *user, charter_error *err)
{
    pg_store *s = (pg_store *)base;
    if (!pg_ensure(s))
        return pg_fail(s, NULL, err, "cannot read entries");
    uint64_t next = from_seq;
    char limit[24];
    snprintf(limit, sizeof limit, "%d", PG_READ_CHUNK);
    /* In chunks, so millions of entries are never in memory at once; in a
     * snapshot or an append's transaction every chunk sees the same state,
     * outside one an append is whole or absent, so the walk has no gap. */
    for (;;) {
        char from[24];
        snprintf(from, sizeof from, "%" PRIu64, next);
        const char *v[2] = {from, limit};
        PGresult *r = pg_params(s,
                                "SELECT seq, time_ms, kind, payload, prev_hash, hash"
                                " FROM charter_entries WHERE seq >= $1::bigint"
                                " ORDER BY seq LIMIT $2::bigint",
                                2, v);
        charter_status st;
        if (!pg_rows(s, r, err, "cannot read entries", &st))
            return st;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            ledger_entry e;
            e.seq = (uint64_t)get_int(r, i, 0);
            e.time_ms = get_int(r, i, 1);
            e.kind = PQgetvalue(r, i, 2);
            e.payload = PQgetvalue(r, i, 3);
            e.payload_len = (size_t)PQgetlength(r, i, 3);
            copy_hex(e.prev_hash, LEDGER_HASH_SIZE, PQgetvalue(r, i, 4));
            copy_hex(e.hash, LEDGER_HASH_SIZE, PQgetvalue(r, i, 5));
            next = e.seq + 1;
            if (fn(&e, user)) {
                PQclear(r);
                return CHARTER_OK;
            }
        }
        PQclear(r);
        if (rows < PG_READ_CHUNK)
            return CHARTER_OK;
    }
}

static charter_status pg_last(ledger_store *base, ledger_entry *out, bool *found,
                              charter_error *err)
{
    pg_store *s = (pg_store *)base;
    memset(out, 0, sizeof *out);
    *found = false;
    PGresult *r = pg_exec_retry(s,
                                "SELECT seq, time_ms, prev_hash, hash FROM charter_entries"
                                " ORDER BY seq DESC LIMIT 1",
                                true);
    charter_status st;
    if (!pg_rows(s, r, err, "cannot read the last entry", &st))
        return st;
    tail_of(r, out);
    *found = PQntuples(r) > 0;
    PQclear(r);
    return CHARTER_OK;
}

static charter_status pg_checkpoints(ledger_store *base, ledger_checkpoint_fn fn,
                                     void *user, charter_error *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r = pg_exec_retry(s,
                                "SELECT seq, hash, signature, key_id, public_key, time_ms,"
                                " checkpoint_every, checkpoint_ms FROM charter_checkpoints"
                                " ORDER BY seq, id",
                                true);
    charter_status st;
    if (!pg_rows(s, r, err, "cannot read checkpoints", &st))
        return st;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        ledger_checkpoint c;
        memset(&c, 0, sizeof c);
        c.seq = (uint64_t)get_int(r, i, 0);
        copy_hex(c.hash, LEDGER_HASH_SIZE, PQgetvalue(r, i, 1));
        copy_hex(c.signature, LEDGER_SIG_SIZE, PQgetvalue(r, i, 2));
        snprintf(c.key_id, sizeof c.key_id, "%s", PQgetvalue(r, i, 3));
        copy_hex(c.public_key, LEDGER_PK_SIZE, PQgetvalue(r, i, 4));
        c.time_ms = get_int(r, i, 5);
        int64_t every = get_int(r, i, 6), ms = get_int(r, i, 7);
        c.checkpoint_every = every > 0 ? (uint64_t)every : 0;
        c.checkpoint_ms = ms > 0 && ms <= UINT32_MAX ? (uint32_t)ms : 0;
        if (fn(&c, user))
            break;
    }
    PQclear(r);
    return CHARTER_OK;
}

static charter_status pg_check(ledger_store *base, uint64_t last_seq,
                               const unsigned char last_hash[LEDGER_HASH_SIZE],
                               ledger_check_mode mode, charter_error *err)
{
    pg_store *s = (pg_store *)base;
    (void)last_seq;
    (void)last_hash;
    base->problem = LEDGER_PROBLEM_NONE;
    charter_status st = need_writable(s, err);
    if (st != CHARTER_OK)
        return st;
    if (s->in_append)
        pg_rollback(s);
    /* WRITE: a transaction that writes (the same value over charter_meta's
     * format row) and commits, so the server proves it can still put a
     * commit on disk, not just answer. */
    const char *sql = mode == LEDGER_CHECK_WRITE
                          ? "BEGIN; UPDATE charter_meta SET value = value WHERE key = 'format';"
                            " COMMIT"
                          : "SELECT 1";
    PGresult *r = pg_exec_retry(s, sql, true);
    if (!ok_result(r) ||
        (mode == LEDGER_CHECK_WRITE && strcmp(PQcmdStatus(r), "COMMIT"))) {
        st = pg_fail(s, r, err, mode == LEDGER_CHECK_WRITE ? "cannot commit" : "no answer");
        if (!base->problem)
            base->problem = LEDGER_PROBLEM_IO;
        PQclear(r);
        pg_rollback(s);
        return st;
    }
    PQclear(r);
    return CHARTER_OK;
}

int ledger_pg_synchronous_commit(ledger_store *base, char *buf, size_t n)
{
    if (!base || base->ops != &ledger_pg_ops || !n)
        return -1;
    pg_store *s = (pg_store *)base;
    PGresult *r = pg_exec_retry(s, "SHOW synchronous_commit", true);
    int rc = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        snprintf(buf, n, "%s", PQgetvalue(r, 0, 0));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static charter_status pg_tally(ledger_store *base, ledger_tally *out, charter_error *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r = pg_exec_retry(
        s,
        "SELECT e.n, e.lo, e.hi, c.n, c.lo, c.hi FROM"
        " (SELECT count(*) n, coalesce(min(seq), 0) lo, coalesce(max(seq), 0) hi"
        "  FROM charter_entries) e,"
        " (SELECT count(*) n, coalesce(min(seq), 0) lo, coalesce(max(seq), 0) hi"
        "  FROM charter_checkpoints) c",
        true);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        charter_status st = pg_fail(s, r, err, "cannot count rows");
        PQclear(r);
        return st;
    }
    *out = (ledger_tally){.entries = (uint64_t)get_int(r, 0, 0),
                          .entries_min = get_int(r, 0, 1),
                          .entries_max = get_int(r, 0, 2),
                          .checkpoints = (uint64_t)get_int(r, 0, 3),
                          .checkpoints_min = get_int(r, 0, 4),
                          .checkpoints_max = get_int(r, 0, 5)};
    PQclear(r);
    return CHARTER_OK;
}

static charter_status pg_snapshot_begin(ledger_store *base, charter_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->in_append)
        pg_rollback(s);
    PGresult *r = pg_exec_retry(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", true);
    if (!ok_result(r)) {
        charter_status st = pg_fail(s, r, err, "cannot start reading");
        PQclear(r);
        return st;
    }
    PQclear(r);
    s->in_snapshot = true;
    return CHARTER_OK;
}

static void pg_snapshot_end(ledger_store *base)
{
    pg_store *s = (pg_store *)base;
    if (s->in_snapshot)
        pg_rollback(s);
    s->in_snapshot = false;
}

const ledger_store_ops ledger_pg_ops = {
    .name = "postgresql",
    .shared = true,
    .open = pg_open,
    .append = pg_append,
    .append_begin = pg_append_begin,
    .append_abort = pg_append_abort,
    .read = pg_read,
    .last = pg_last,
    .checkpoints = pg_checkpoints,
    .check = pg_check,
    .tally = pg_tally,
    .snapshot_begin = pg_snapshot_begin,
    .snapshot_end = pg_snapshot_end,
    .close = pg_close,
};
