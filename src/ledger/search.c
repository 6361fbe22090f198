/* search.c - the derived search index `<ledger>.search` (search.h): the
 * indexer that follows a ledger into it, and the queries that read it.
 *
 * The index is an SQLite file of its own (WAL, synchronous=NORMAL: it is
 * derived, and a crash costs at most a re-index of the last chunk, never
 * the ledger's durability). Its header carries application_id "CHSX" and
 * user_version SEARCH_FORMAT; any other file at that path is removed and
 * built again. `meta` holds how far it has got (`through`) and the hash of
 * that entry, so an index of another ledger (a ledger deleted and started
 * again under the same name) is noticed and rebuilt rather than mixed in.
 *
 * Payloads are read with jspan (fields picked out of the text), as the
 * ledger's own rebuild does: a million entries index in seconds, not the
 * minutes a tree per payload would take.
 */
#include "base/banned.h"

#include "ledger/search.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jspan.h"
#include "base/strbuf.h"
#include "charter_ledger.h"
#include "ledger/store.h"

#define SEARCH_APP_ID 0x43485358 /* "CHSX" */
#define SEARCH_FORMAT 1
#define SEARCH_CHUNK 4096        /* entries per index transaction */
#define SEARCH_BUSY_MS 2000
#define SEARCH_HOUR_MS 3600000LL

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE charters(id INTEGER PRIMARY KEY, version TEXT NOT NULL UNIQUE,"
    " name TEXT, seq INTEGER NOT NULL, time_ms INTEGER NOT NULL);"
    "CREATE TABLE decisions(seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
    " agent TEXT NOT NULL, workflow TEXT NOT NULL, action TEXT NOT NULL,"
    " answered INTEGER NOT NULL, final INTEGER NOT NULL, status INTEGER,"
    " reason TEXT NOT NULL, run_id TEXT NOT NULL, charter INTEGER,"
    " shadow INTEGER NOT NULL, queue TEXT, rules TEXT NOT NULL);"
    "CREATE INDEX decisions_agent ON decisions(agent, seq, time_ms);"
    "CREATE INDEX decisions_workflow ON decisions(workflow, seq, time_ms);"
    "CREATE INDEX decisions_run ON decisions(run_id, seq);"
    "CREATE INDEX decisions_final ON decisions(final, seq, time_ms);"
    "CREATE INDEX decisions_status ON decisions(status, seq, time_ms)"
    " WHERE status IS NOT NULL;"
    "CREATE TABLE fired(id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,"
    " PRIMARY KEY(id, seq)) WITHOUT ROWID;"
    "CREATE TABLE events(decision INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " event TEXT NOT NULL, time_ms INTEGER NOT NULL, queue TEXT, who TEXT, note TEXT);"
    "CREATE INDEX events_decision ON events(decision, seq);"
    "CREATE TABLE outcomes(decision INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " metric TEXT NOT NULL, value REAL NOT NULL, note TEXT, time_ms INTEGER NOT NULL);"
    "CREATE INDEX outcomes_decision ON outcomes(decision, seq);"
    /* Escalations per fired id, hour of the decision and status, kept as
     * they open and resolve: a rule's history is a sum over a few hundred
     * rows, not a walk over every escalation it ever fired in. */
    "CREATE TABLE rule_hours(id TEXT NOT NULL, hour INTEGER NOT NULL,"
    " status INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(id, hour, status))"
    " WITHOUT ROWID;";

enum {
    ST_DECISION, ST_FIRED, ST_ESCALATED, ST_RESOLVE, ST_RESOLVE_EVENT, ST_MOVE,
    ST_MOVE_EVENT, ST_OUTCOME, ST_CHARTER, ST_FIND_CHARTER, ST_META, ST_RULE_HOUR, ST_ESCALATION, ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_DECISION] = "INSERT OR REPLACE INTO decisions(seq,time_ms,agent,workflow,action,"
                    "answered,final,status,reason,run_id,charter,shadow,queue,rules)"
                    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_FIRED] = "INSERT OR IGNORE INTO fired(id,seq,kind) VALUES(?,?,?)",
    [ST_ESCALATED] = "INSERT INTO events(decision,seq,event,time_ms,queue)"
                     " VALUES(?1,?1,'escalated',?2,?3)",
    [ST_RESOLVE] = "UPDATE decisions SET status=?2, final=?3 WHERE seq=?1"
                   " AND status IS NOT NULL",
    [ST_RESOLVE_EVENT] = "INSERT INTO events(decision,seq,event,time_ms,queue,who,note)"
                         " SELECT ?1,?2,?3,?4,queue,?5,?6 FROM decisions"
                         " WHERE seq=?1 AND status IS NOT NULL",
    [ST_MOVE] = "UPDATE decisions SET queue=?2 WHERE seq=?1 AND status IS NOT NULL",
    [ST_MOVE_EVENT] = "INSERT INTO events(decision,seq,event,time_ms,queue,note)"
                      " SELECT ?1,?2,'moved',?3,?4,?5 FROM decisions"
                      " WHERE seq=?1 AND status IS NOT NULL",
    [ST_OUTCOME] = "INSERT INTO outcomes(decision,seq,metric,value,note,time_ms)"
                   " SELECT ?1,?2,?3,?4,?5,?6 FROM decisions WHERE seq=?1",
    [ST_CHARTER] = "INSERT OR IGNORE INTO charters(version,name,seq,time_ms)"
                   " VALUES(?,?,?,?)",
    [ST_FIND_CHARTER] = "SELECT id FROM charters WHERE version=?",
    [ST_META] = "INSERT OR REPLACE INTO meta(key,value) VALUES('through',?1),('hash',?2)",
    [ST_RULE_HOUR] = "INSERT INTO rule_hours(id,hour,status,n) VALUES(?,?,?,?)"
                     " ON CONFLICT(id,hour,status) DO UPDATE SET n = n + excluded.n",
    [ST_ESCALATION] = "SELECT status, time_ms, rules FROM decisions WHERE seq=?"
                      " AND status IS NOT NULL",
};

/* A growing buffer a decoded JSON string lands in. */
typedef struct scratch {
    char *p;
    size_t cap;
} scratch;

enum { SC_AGENT, SC_WORKFLOW, SC_ACTION, SC_RUN, SC_REASON, SC_QUEUE, SC_WHO, SC_NOTE,
       SC_VERSION, SC_NAME, SC_ID, SC_KIND, SC_COUNT };

struct ledger_search {
    char *ledger_path, *path;
    sqlite3 *db;
    dev_t dev;
    ino_t ino;
    sqlite3_stmt *st[ST_COUNT];
    ledger_store *ledger;          /* read-only; opened by the first update */
    uint64_t through;
    unsigned char hash[LEDGER_HASH_SIZE];
    char version[96];              /* the charter version last looked up */
    int64_t version_id;
    scratch sc[SC_COUNT];
    strbuf rules;
};

/* ---- Helpers ------------------------------------------------------------------- */

/* `<ledger>.search` next to a SQLite ledger; a PostgreSQL ledger's in the
 * state folder (ledger_sidecar). */
static char *index_path(const char *ledger_path)
{
    size_t n = strlen(ledger_path) + 512;
    char *p = malloc(n);
    if (p && ledger_sidecar(ledger_path, LEDGER_SEARCH_SUFFIX, p, n) != 0) {
        free(p);
        p = NULL;
    }
    return p;
}

static charter_status db_fail(sqlite3 *db, const char *path, charter_error *err,
                              const char *doing)
{
    return ledger_fail(err, CHARTER_E_IO, "search index '%s': %s: %s (sqlite %d)", path,
                       doing, db ? sqlite3_errmsg(db) : "out of memory",
                       db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM);
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The string value of `v` (NUL-terminated, in `sc`), or "" when `v` is not
 * a string. */
static const char *span_text(jspan v, scratch *sc)
{
    if (!v.n || *v.p != '"')
        return "";
    if (sc->cap < v.n + 1) {
        char *p = realloc(sc->p, v.n + 1);
        if (!p)
            return "";
        sc->p = p;
        sc->cap = v.n + 1;
    }
    const char *s;
    size_t len;
    if (!jspan_str(v, sc->p, sc->cap, &s, &len))
        return "";
    if (s != sc->p)
        memmove(sc->p, s, len);
    sc->p[len] = '\0';
    return sc->p;
}

static int64_t span_int(jspan v)
{
    double d = 0;
    return v.n && jspan_num(v, &d) ? (int64_t)d : 0;
}

static int effect_of(jspan v)
{
    if (jspan_str_eq(v, "allow"))
        return CHARTER_ALLOW;
    if (jspan_str_eq(v, "escalate"))
        return CHARTER_ESCALATE;
    return CHARTER_DENY;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, jspan v, scratch *sc)
{
    if (!v.n || jspan_is_null(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, span_text(v, sc), -1, SQLITE_TRANSIENT);
}

static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* ---- Opening, and rebuilding from nothing ------------------------------------------ */

static void index_close_db(ledger_search *x)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(x->st[i]);
        x->st[i] = NULL;
    }
    sqlite3_close(x->db);
    x->db = NULL;
}

static void remove_files(const char *path)
{
    char side[4096];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Opens the file at x->path as an index, creating its schema in an empty
 * file. *foreign is set when the file is something else (or unreadable):
 * the caller removes it and tries again. */
static charter_status index_open_db(ledger_search *x, bool *foreign, charter_error *err)
{
    *foreign = false;
    int fd = open(x->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ledger_fail(err, CHARTER_E_IO, "cannot create the search index '%s': %s",
                           x->path, strerror(errno));
    struct stat st;
    int sr = fstat(fd, &st);
    close(fd);
    if (sr != 0)
        return ledger_fail(err, CHARTER_E_IO, "cannot read the search index '%s': %s",
                           x->path, strerror(errno));
    x->dev = st.st_dev;
    x->ino = st.st_ino;
    if (sqlite3_open_v2(x->path, &x->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return db_fail(x->db, x->path, err, "cannot open");
    sqlite3_extended_result_codes(x->db, 1);
    sqlite3_busy_timeout(x->db, SEARCH_BUSY_MS);
    int64_t app = 0, ver = 0, tables = 0;
    if (pragma_int(x->db, "PRAGMA application_id", &app) != SQLITE_OK ||
        pragma_int(x->db, "PRAGMA user_version", &ver) != SQLITE_OK ||
        pragma_int(x->db, "SELECT count(*) FROM sqlite_master", &tables) != SQLITE_OK) {
        *foreign = true;
        return ledger_fail(err, CHARTER_E_IO, "'%s' is not a search index: %s", x->path,
                           sqlite3_errmsg(x->db));
    }
    if (tables && (app != SEARCH_APP_ID || ver != SEARCH_FORMAT)) {
        *foreign = true;
        return ledger_fail(err, CHARTER_E_IO,
                           "'%s' is not a search index of format %d (application_id "
                           "%lld, user_version %lld)",
                           x->path, SEARCH_FORMAT, (long long)app, (long long)ver);
    }
    if (sqlite3_exec(x->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
                     NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(x->db, x->path, err, "cannot switch to WAL mode");
    if (!tables) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
                 SEARCH_APP_ID, SEARCH_FORMAT);
        if (sqlite3_exec(x->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(x->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(x->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(x->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            charter_status s = db_fail(x->db, x->path, err, "cannot create the schema");
            sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
            return s;
        }
    }
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(x->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &x->st[i],
                               NULL) != SQLITE_OK) {
            *foreign = true; /* tables of another shape */
            return db_fail(x->db, x->path, err, "cannot prepare statements");
        }
    /* How far it has got. */
    x->through = 0;
    memset(x->hash, 0, sizeof x->hash);
    sqlite3_stmt *m;
    if (sqlite3_prepare_v2(x->db, "SELECT key, value FROM meta", -1, &m, NULL) !=
        SQLITE_OK) {
        *foreign = true;
        return db_fail(x->db, x->path, err, "cannot read how far it has got");
    }
    while (sqlite3_step(m) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(m, 0);
        if (k && !strcmp(k, "through"))
            x->through = (uint64_t)sqlite3_column_int64(m, 1);
        else if (k && !strcmp(k, "hash") &&
                 sqlite3_column_bytes(m, 1) == LEDGER_HASH_SIZE)
            memcpy(x->hash, sqlite3_column_blob(m, 1), LEDGER_HASH_SIZE);
    }
    sqlite3_finalize(m);
    x->version[0] = '\0';
    x->version_id = 0;
    return CHARTER_OK;
}

/* Throws the file away and starts an empty index. */
static charter_status index_rebuild(ledger_search *x, charter_error *err)
{
    index_close_db(x);
    remove_files(x->path);
    bool foreign;
    charter_status st = index_open_db(x, &foreign, err);
    if (st != CHARTER_OK)
        index_close_db(x);
    return st;
}

charter_status ledger_search_open(const char *ledger_path, ledger_search **out,
                                  bool *rebuilt, charter_error *err)
{
    *out = NULL;
    if (rebuilt)
        *rebuilt = false;
    ledger_search *x = calloc(1, sizeof *x);
    if (!x || !(x->ledger_path = strdup(ledger_path)) ||
        !(x->path = index_path(ledger_path))) {
        ledger_search_close(x);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory opening the search index");
    }
    bool foreign = false;
    charter_status st = index_open_db(x, &foreign, err);
    if (st != CHARTER_OK && foreign) {
        if (rebuilt)
            *rebuilt = true;
        st = index_rebuild(x, err);
    }
    if (st != CHARTER_OK) {
        ledger_search_close(x);
        return st;
    }
    *out = x;
    return CHARTER_OK;
}

void ledger_search_close(ledger_search *x)
{
    if (!x)
        return;
    index_close_db(x);
    ledger_store_close(x->ledger);
    for (int i = 0; i < SC_COUNT; i++)
        free(x->sc[i].p);
    strbuf_release(&x->rules);
    free(x->ledger_path);
    free(x->path);
    free(x);
}

/* ---- Indexing one entry ---------------------------------------------------------- */

static int64_t charter_id(ledger_search *x, const char *version, uint64_t seq,
                          int64_t time_ms)
{
    if (!*version)
        return 0;
    if (x->version_id && !strcmp(version, x->version))
        return x->version_id;
    sqlite3_stmt *f = x->st[ST_FIND_CHARTER];
    sqlite3_bind_text(f, 1, version, -1, SQLITE_STATIC);
    int64_t id = 0;
    if (sqlite3_step(f) == SQLITE_ROW)
        id = sqlite3_column_int64(f, 0);
    sqlite3_reset(f);
    sqlite3_clear_bindings(f);
    if (!id) {
        /* A decision under a version with no entry of its own (a ledger
         * written before versions were recorded): known from here on. */
        sqlite3_stmt *c = x->st[ST_CHARTER];
        sqlite3_bind_text(c, 1, version, -1, SQLITE_STATIC);
        sqlite3_bind_null(c, 2);
        sqlite3_bind_int64(c, 3, (sqlite3_int64)seq);
        sqlite3_bind_int64(c, 4, time_ms);
        if (run(c) != SQLITE_OK)
            return 0;
        id = sqlite3_last_insert_rowid(x->db);
    }
    snprintf(x->version, sizeof x->version, "%s", version);
    x->version_id = id;
    return id;
}

/* Adds n to the (id, hour, status) count of every id in `rules` (a JSON
 * array of strings). */
static int count_rules(ledger_search *x, const char *rules, size_t len, int64_t time_ms,
                       int status, int n)
{
    jspan arr, id;
    size_t pos = 0;
    if (!jspan_value(rules, len, &arr))
        return 0;
    int64_t hour = time_ms >= 0 ? time_ms / SEARCH_HOUR_MS
                                : -((-time_ms + SEARCH_HOUR_MS - 1) / SEARCH_HOUR_MS);
    sqlite3_stmt *h = x->st[ST_RULE_HOUR];
    while (jspan_next(arr, &pos, &id)) {
        sqlite3_bind_text(h, 1, span_text(id, &x->sc[SC_ID]), -1, SQLITE_STATIC);
        sqlite3_bind_int64(h, 2, hour);
        sqlite3_bind_int(h, 3, status);
        sqlite3_bind_int(h, 4, n);
        if (run(h) != SQLITE_OK)
            return -1;
    }
    return 0;
}

static int index_decision(ledger_search *x, const ledger_entry *e, jspan p)
{
    static const char *const top[] = {"answer", "charter_version", "request", "time_ms"};
    static const char *const rq[] = {"agent", "workflow", "action", "run_id"};
    static const char *const an[] = {"decision", "reason", "fired", "escalation", "shadow"};
    jspan t[4], r[4], a[5];
    jspan_fields(p, top, 4, t);
    jspan_fields(t[2], rq, 4, r);
    jspan_fields(t[0], an, 5, a);
    int answered = effect_of(a[0]);
    int64_t time_ms = t[3].n ? span_int(t[3]) : e->time_ms;
    int64_t cid = charter_id(x, span_text(t[1], &x->sc[SC_VERSION]), e->seq, e->time_ms);
    /* The fired ids, as the JSON strings they are in the payload. */
    strbuf *rules = &x->rules;
    rules->n = 0;
    strbuf_add(rules, "[", 1);
    size_t pos = 0, count = 0;
    jspan item;
    sqlite3_stmt *fs = x->st[ST_FIRED];
    while (jspan_next(a[2], &pos, &item)) {
        jspan id, kind;
        if (!jspan_get(item, "id", &id) || *id.p != '"')
            continue;
        if (!jspan_get(item, "kind", &kind))
            kind = (jspan){0};
        if (count++)
            strbuf_add(rules, ",", 1);
        strbuf_add(rules, id.p, id.n);
        sqlite3_bind_text(fs, 1, span_text(id, &x->sc[SC_ID]), -1, SQLITE_STATIC);
        sqlite3_bind_int64(fs, 2, (sqlite3_int64)e->seq);
        sqlite3_bind_text(fs, 3, span_text(kind, &x->sc[SC_KIND]), -1, SQLITE_STATIC);
        if (run(fs) != SQLITE_OK)
            return -1;
    }
    strbuf_add(rules, "]", 1);
    if (rules->failed)
        return -1;
    jspan queue = {0};
    if (answered == CHARTER_ESCALATE && a[3].n && !jspan_is_null(a[3]))
        jspan_get(a[3], "queue", &queue);
    sqlite3_stmt *d = x->st[ST_DECISION];
    sqlite3_bind_int64(d, 1, (sqlite3_int64)e->seq);
    sqlite3_bind_int64(d, 2, time_ms);
    sqlite3_bind_text(d, 3, span_text(r[0], &x->sc[SC_AGENT]), -1, SQLITE_STATIC);
    sqlite3_bind_text(d, 4, span_text(r[1], &x->sc[SC_WORKFLOW]), -1, SQLITE_STATIC);
    sqlite3_bind_text(d, 5, span_text(r[2], &x->sc[SC_ACTION]), -1, SQLITE_STATIC);
    sqlite3_bind_int(d, 6, answered);
    sqlite3_bind_int(d, 7, answered);
    if (answered == CHARTER_ESCALATE)
        sqlite3_bind_int(d, 8, LEDGER_SEARCH_OPEN);
    else
        sqlite3_bind_null(d, 8);
    sqlite3_bind_text(d, 9, span_text(a[1], &x->sc[SC_REASON]), -1, SQLITE_STATIC);
    sqlite3_bind_text(d, 10, span_text(r[3], &x->sc[SC_RUN]), -1, SQLITE_STATIC);
    if (cid)
        sqlite3_bind_int64(d, 11, cid);
    else
        sqlite3_bind_null(d, 11);
    sqlite3_bind_int(d, 12, a[4].n && jspan_is_true(a[4]));
    if (queue.n)
        sqlite3_bind_text(d, 13, span_text(queue, &x->sc[SC_QUEUE]), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(d, 13);
    sqlite3_bind_text(d, 14, rules->p, (int)rules->n, SQLITE_STATIC);
    if (run(d) != SQLITE_OK)
        return -1;
    if (answered == CHARTER_ESCALATE) {
        sqlite3_stmt *ev = x->st[ST_ESCALATED];
        sqlite3_bind_int64(ev, 1, (sqlite3_int64)e->seq);
        sqlite3_bind_int64(ev, 2, time_ms);
        if (queue.n)
            sqlite3_bind_text(ev, 3, span_text(queue, &x->sc[SC_QUEUE]), -1,
                              SQLITE_STATIC);
        if (run(ev) != SQLITE_OK ||
            count_rules(x, rules->p, rules->n, time_ms, LEDGER_SEARCH_OPEN, 1))
            return -1;
    }
    return 0;
}

static bool decision_seq(jspan v, scratch *sc, uint64_t *seq)
{
    return v.n && charter_decision_id_parse(span_text(v, sc), seq);
}

static int index_resolved(ledger_search *x, const ledger_entry *e, jspan p)
{
    static const char *const k[] = {"decision_id", "who", "resolution", "note", "time_ms",
                                    "timeout", "grant"};
    jspan f[7];
    jspan_fields(p, k, 7, f);
    uint64_t dseq;
    if (!decision_seq(f[0], &x->sc[SC_ID], &dseq))
        return 0;
    bool approve = jspan_str_eq(f[2], "approve");
    bool timeout = f[5].n && jspan_is_true(f[5]);
    int status = timeout ? LEDGER_SEARCH_TIMED_OUT
                         : approve ? LEDGER_SEARCH_APPROVED : LEDGER_SEARCH_DENIED;
    /* Its fired ids move from the old status's count to the new one's. */
    sqlite3_stmt *q = x->st[ST_ESCALATION];
    sqlite3_bind_int64(q, 1, (sqlite3_int64)dseq);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        int old = sqlite3_column_int(q, 0);
        int64_t time_ms = sqlite3_column_int64(q, 1);
        x->rules.n = 0;
        strbuf_add(&x->rules, (const char *)sqlite3_column_text(q, 2),
                   (size_t)sqlite3_column_bytes(q, 2));
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        if (x->rules.failed || count_rules(x, x->rules.p, x->rules.n, time_ms, old, -1) ||
            count_rules(x, x->rules.p, x->rules.n, time_ms, status, 1))
            return -1;
    } else {
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        if (rc != SQLITE_DONE)
            return -1;
    }
    sqlite3_stmt *u = x->st[ST_RESOLVE];
    sqlite3_bind_int64(u, 1, (sqlite3_int64)dseq);
    sqlite3_bind_int(u, 2, status);
    sqlite3_bind_int(u, 3, approve ? CHARTER_ALLOW : CHARTER_DENY);
    if (run(u) != SQLITE_OK)
        return -1;
    sqlite3_stmt *ev = x->st[ST_RESOLVE_EVENT];
    sqlite3_bind_int64(ev, 1, (sqlite3_int64)dseq);
    sqlite3_bind_int64(ev, 2, (sqlite3_int64)e->seq);
    sqlite3_bind_text(ev, 3, ledger_search_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(ev, 4, f[4].n ? span_int(f[4]) : e->time_ms);
    bind_text_or_null(ev, 5, f[1], &x->sc[SC_WHO]);
    if (f[6].n && *f[6].p == '"') { /* approved by a standing approval: say which */
        char note[512];
        int n = snprintf(note, sizeof note, "by standing approval %s",
                         span_text(f[6], &x->sc[SC_NAME]));
        if (f[3].n && !jspan_is_null(f[3]) && n > 0 && (size_t)n < sizeof note)
            snprintf(note + n, sizeof note - (size_t)n, ": %s",
                     span_text(f[3], &x->sc[SC_NOTE]));
        sqlite3_bind_text(ev, 6, note, -1, SQLITE_TRANSIENT);
    } else {
        bind_text_or_null(ev, 6, f[3], &x->sc[SC_NOTE]);
    }
    return run(ev) == SQLITE_OK ? 0 : -1;
}

static int index_moved(ledger_search *x, const ledger_entry *e, jspan p)
{
    static const char *const k[] = {"decision_id", "from", "to", "time_ms"};
    jspan f[4];
    jspan_fields(p, k, 4, f);
    uint64_t dseq;
    if (!decision_seq(f[0], &x->sc[SC_ID], &dseq))
        return 0;
    const char *to = span_text(f[2], &x->sc[SC_QUEUE]);
    sqlite3_stmt *u = x->st[ST_MOVE];
    sqlite3_bind_int64(u, 1, (sqlite3_int64)dseq);
    sqlite3_bind_text(u, 2, to, -1, SQLITE_STATIC);
    if (run(u) != SQLITE_OK)
        return -1;
    char note[256];
    snprintf(note, sizeof note, "deadline of queue %s passed",
             span_text(f[1], &x->sc[SC_WHO]));
    sqlite3_stmt *ev = x->st[ST_MOVE_EVENT];
    sqlite3_bind_int64(ev, 1, (sqlite3_int64)dseq);
    sqlite3_bind_int64(ev, 2, (sqlite3_int64)e->seq);
    sqlite3_bind_int64(ev, 3, f[3].n ? span_int(f[3]) : e->time_ms);
    sqlite3_bind_text(ev, 4, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(ev, 5, note, -1, SQLITE_TRANSIENT);
    return run(ev) == SQLITE_OK ? 0 : -1;
}

/* A standing approval made ("granted", on the escalation it came from) or
 * revoked ("grant_revoked", the same escalation: the entry names it). */
static int index_grant(ledger_search *x, const ledger_entry *e, jspan p, bool revoked)
{
    static const char *const k[] = {"decision_id", "who", "note", "time_ms",
                                    "expires", "grant_id"};
    jspan f[6];
    jspan_fields(p, k, 6, f);
    uint64_t dseq;
    if (!decision_seq(f[0], &x->sc[SC_ID], &dseq))
        return 0;
    char note[512], gid[32];
    if (revoked)
        snprintf(gid, sizeof gid, "%s", span_text(f[5], &x->sc[SC_NAME]));
    else
        snprintf(gid, sizeof gid, "g-%" PRIu64, e->seq);
    int n = revoked ? snprintf(note, sizeof note, "standing approval %s revoked", gid)
                    : snprintf(note, sizeof note, "standing approval %s until %s", gid,
                               span_text(f[4], &x->sc[SC_NAME]));
    if (f[2].n && !jspan_is_null(f[2]) && n > 0 && (size_t)n < sizeof note)
        snprintf(note + n, sizeof note - (size_t)n, ": %s",
                 span_text(f[2], &x->sc[SC_NOTE]));
    sqlite3_stmt *ev = x->st[ST_RESOLVE_EVENT];
    sqlite3_bind_int64(ev, 1, (sqlite3_int64)dseq);
    sqlite3_bind_int64(ev, 2, (sqlite3_int64)e->seq);
    sqlite3_bind_text(ev, 3, revoked ? "grant_revoked" : "granted", -1, SQLITE_STATIC);
    sqlite3_bind_int64(ev, 4, f[3].n ? span_int(f[3]) : e->time_ms);
    bind_text_or_null(ev, 5, f[1], &x->sc[SC_WHO]);
    sqlite3_bind_text(ev, 6, note, -1, SQLITE_TRANSIENT);
    return run(ev) == SQLITE_OK ? 0 : -1;
}

static int index_outcome(ledger_search *x, const ledger_entry *e, jspan p)
{
    static const char *const k[] = {"decision_id", "metric", "value", "note", "time_ms"};
    jspan f[5];
    jspan_fields(p, k, 5, f);
    uint64_t dseq;
    if (!decision_seq(f[0], &x->sc[SC_ID], &dseq))
        return 0; /* a workflow's outcome: not tied to a decision */
    double value = 0;
    if (f[2].n)
        jspan_num(f[2], &value);
    sqlite3_stmt *o = x->st[ST_OUTCOME];
    sqlite3_bind_int64(o, 1, (sqlite3_int64)dseq);
    sqlite3_bind_int64(o, 2, (sqlite3_int64)e->seq);
    sqlite3_bind_text(o, 3, span_text(f[1], &x->sc[SC_NAME]), -1, SQLITE_STATIC);
    sqlite3_bind_double(o, 4, value);
    bind_text_or_null(o, 5, f[3], &x->sc[SC_NOTE]);
    sqlite3_bind_int64(o, 6, f[4].n ? span_int(f[4]) : e->time_ms);
    return run(o) == SQLITE_OK ? 0 : -1;
}

static int index_charter(ledger_search *x, const ledger_entry *e, jspan p)
{
    static const char *const k[] = {"name", "version"};
    jspan f[2];
    jspan_fields(p, k, 2, f);
    sqlite3_stmt *c = x->st[ST_CHARTER];
    sqlite3_bind_text(c, 1, span_text(f[1], &x->sc[SC_VERSION]), -1, SQLITE_STATIC);
    bind_text_or_null(c, 2, f[0], &x->sc[SC_NAME]);
    sqlite3_bind_int64(c, 3, (sqlite3_int64)e->seq);
    sqlite3_bind_int64(c, 4, e->time_ms);
    x->version_id = 0; /* looked up again at the next decision */
    return run(c) == SQLITE_OK ? 0 : -1;
}

/* ---- Following the ledger ----------------------------------------------------------- */

typedef struct chunk {
    ledger_search *x;
    uint64_t left;          /* entries this chunk may still index */
    uint64_t indexed;
    bool check_first;       /* the first entry read is `through`: compare its hash */
    bool mismatch;          /* it is not the entry indexed last: another ledger */
    bool failed;
} chunk;

static int chunk_entry(const ledger_entry *e, void *user)
{
    chunk *c = user;
    ledger_search *x = c->x;
    if (c->check_first) {
        c->check_first = false;
        if (e->seq != x->through || memcmp(e->hash, x->hash, LEDGER_HASH_SIZE)) {
            c->mismatch = true;
            return 1;
        }
        return 0;
    }
    if (e->seq != x->through + 1) { /* a gap: not the ledger indexed so far */
        c->mismatch = true;
        return 1;
    }
    jspan p;
    int rc = 0;
    if (jspan_value(e->payload, e->payload_len, &p) && *p.p == '{') {
        if (!strcmp(e->kind, "decision"))
            rc = index_decision(x, e, p);
        else if (!strcmp(e->kind, "escalation_resolved"))
            rc = index_resolved(x, e, p);
        else if (!strcmp(e->kind, "escalation_moved"))
            rc = index_moved(x, e, p);
        else if (!strcmp(e->kind, "outcome"))
            rc = index_outcome(x, e, p);
        else if (!strcmp(e->kind, "grant") || !strcmp(e->kind, "grant_revoked"))
            rc = index_grant(x, e, p, e->kind[5] == '_');
        else if (!strcmp(e->kind, "charter"))
            rc = index_charter(x, e, p);
    }
    if (rc) {
        c->failed = true;
        return 1;
    }
    x->through = e->seq;
    memcpy(x->hash, e->hash, LEDGER_HASH_SIZE);
    c->indexed++;
    return --c->left == 0;
}

/* The index file is still the one opened (not deleted or replaced). */
static bool index_file_same(const ledger_search *x)
{
    struct stat st;
    return stat(x->path, &st) == 0 && st.st_dev == x->dev && st.st_ino == x->ino;
}

static bool is_damage(sqlite3 *db)
{
    int rc = sqlite3_extended_errcode(db) & 0xff;
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

/* One transaction: up to SEARCH_CHUNK entries from the ledger. */
static charter_status index_chunk(ledger_search *x, uint64_t max, chunk *c,
                                  charter_error *err)
{
    *c = (chunk){.x = x, .left = max < SEARCH_CHUNK ? max : SEARCH_CHUNK,
                 .check_first = x->through > 0};
    if (sqlite3_exec(x->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(x->db, x->path, err, "cannot start a transaction");
    uint64_t through0 = x->through;
    unsigned char hash0[LEDGER_HASH_SIZE];
    memcpy(hash0, x->hash, sizeof hash0);
    charter_status st = x->ledger->ops->read(x->ledger, x->through ? x->through : 1,
                                             chunk_entry, c, err);
    if (st == CHARTER_OK && c->failed)
        st = db_fail(x->db, x->path, err, "cannot index an entry");
    if (st == CHARTER_OK && c->indexed) {
        sqlite3_stmt *m = x->st[ST_META];
        sqlite3_bind_int64(m, 1, (sqlite3_int64)x->through);
        sqlite3_bind_blob(m, 2, x->hash, LEDGER_HASH_SIZE, SQLITE_STATIC);
        if (run(m) != SQLITE_OK)
            st = db_fail(x->db, x->path, err, "cannot record how far it has got");
    }
    if (st == CHARTER_OK && sqlite3_exec(x->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        st = db_fail(x->db, x->path, err, "cannot commit");
    if (st != CHARTER_OK) {
        sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
        x->through = through0;
        memcpy(x->hash, hash0, sizeof hash0);
        x->version_id = 0;
    }
    return st;
}

charter_status ledger_search_update(ledger_search *x, uint64_t max, ledger_search_step *out,
                                    charter_error *err)
{
    ledger_search_step step = {0};
    charter_status st = CHARTER_OK;
    if (!x->db || !index_file_same(x)) {
        /* Deleted or replaced under us (or a rebuild failed before). */
        step.rebuilt = true;
        if ((st = index_rebuild(x, err)) != CHARTER_OK)
            goto done;
    }
    if (!x->ledger) {
        ledger_store_config cfg = {.mode = LEDGER_OPEN_READ,
                                   .busy_timeout_ms = SEARCH_BUSY_MS};
        if ((st = ledger_store_open(x->ledger_path, &cfg, &x->ledger, err)) != CHARTER_OK)
            goto done;
    }
    ledger_entry last;
    bool found;
    if ((st = x->ledger->ops->last(x->ledger, &last, &found, err)) != CHARTER_OK)
        goto done;
    step.ledger_seq = found ? last.seq : 0;
    if (x->through > step.ledger_seq ||
        (x->through && x->through == step.ledger_seq &&
         memcmp(last.hash, x->hash, LEDGER_HASH_SIZE))) {
        step.rebuilt = true; /* another (or a shorter) ledger now */
        if ((st = index_rebuild(x, err)) != CHARTER_OK)
            goto done;
    }
    while (x->through < step.ledger_seq && (!max || step.indexed < max)) {
        chunk c;
        st = index_chunk(x, max ? max - step.indexed : UINT64_MAX, &c, err);
        if (st != CHARTER_OK) {
            if (is_damage(x->db)) {
                step.rebuilt = true;
                st = index_rebuild(x, err);
            }
            goto done;
        }
        step.indexed += c.indexed;
        if (c.mismatch) {
            step.rebuilt = true;
            if ((st = index_rebuild(x, err)) != CHARTER_OK)
                goto done;
            continue;
        }
        if (!c.indexed)
            break; /* nothing new after all */
    }
done:
    step.through = x->through;
    if (out)
        *out = step;
    return st;
}

/* ---- Reading ------------------------------------------------------------------------ */

const char *ledger_search_status_name(ledger_search_status s)
{
    switch (s) {
    case LEDGER_SEARCH_OPEN:
        return "open";
    case LEDGER_SEARCH_APPROVED:
        return "approved";
    case LEDGER_SEARCH_DENIED:
        return "denied";
    case LEDGER_SEARCH_TIMED_OUT:
        return "timed_out";
    default:
        return NULL;
    }
}

void ledger_search_filter_init(ledger_search_filter *f)
{
    memset(f, 0, sizeof *f);
    f->decision = -1;
    f->status = -2;
}

/* A connection of the caller's own to the index, read-only, inside one
 * read transaction (so `through` and the rows agree). */
static charter_status reader_open(const char *ledger_path, sqlite3 **out,
                                  charter_error *err)
{
    *out = NULL;
    char *path = index_path(ledger_path);
    if (!path)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory");
    sqlite3 *db = NULL;
    charter_status st = CHARTER_OK;
    /* Read-write without create: a missing index is an error, not a new
     * empty file, and WAL needs to map the -shm; query_only forbids
     * writes all the same. */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK) {
        st = db_fail(db, path, err, "cannot open");
        sqlite3_close(db);
        free(path);
        return st;
    }
    sqlite3_busy_timeout(db, SEARCH_BUSY_MS);
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        st = db_fail(db, path, err, "cannot start reading");
        sqlite3_close(db);
        free(path);
        return st;
    }
    free(path);
    *out = db;
    return CHARTER_OK;
}

static void reader_close(sqlite3 *db)
{
    if (!db)
        return;
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
}

static charter_status reader_fail(sqlite3 *db, const char *ledger_path,
                                  charter_error *err, const char *doing)
{
    char shown[512];
    ledger_path_display(ledger_path, shown, sizeof shown);
    return ledger_fail(err, CHARTER_E_IO, "search index of '%s': %s: %s", shown, doing,
                       sqlite3_errmsg(db));
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

static const char *col_text_or_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? NULL
               : (const char *)sqlite3_column_text(st, i);
}

/* Which column leads the search: the most selective filter that has an
 * index. The others are written `+column` so that the planner keeps to it
 * (it has no statistics to choose by), and a page is then a walk down one
 * index from `before`, however deep. */
enum { DRIVE_NONE, DRIVE_RULE, DRIVE_RUN, DRIVE_AGENT, DRIVE_WORKFLOW, DRIVE_STATUS,
       DRIVE_FINAL };

static int choose_driver(const ledger_search_filter *f)
{
    if (f->rule)
        return DRIVE_RULE;
    if (f->run_id)
        return DRIVE_RUN;
    if (f->agent)
        return DRIVE_AGENT;
    if (f->workflow)
        return DRIVE_WORKFLOW;
    if (f->status >= LEDGER_SEARCH_OPEN)
        return DRIVE_STATUS;
    if (f->decision >= 0)
        return DRIVE_FINAL;
    return DRIVE_NONE;
}

static void build_query(const ledger_search_filter *f, strbuf *q)
{
    int drive = choose_driver(f);
    const char *key = drive == DRIVE_RULE ? "f.seq" : "d.seq";
    strbuf_puts(q, "SELECT d.seq, d.time_ms, d.agent, d.workflow, d.action, d.answered,"
                   " d.final, d.status, d.reason, d.run_id,"
                   " (SELECT version FROM charters WHERE id = d.charter), d.shadow, d.rules");
    if (drive == DRIVE_RULE)
        strbuf_puts(q, " FROM fired AS f CROSS JOIN decisions AS d ON d.seq = f.seq"
                       " WHERE f.id = :rule");
    else
        strbuf_puts(q, " FROM decisions AS d WHERE 1");
    strbuf_printf(q, " AND %s < :before", key);
    if (f->run_id)
        strbuf_printf(q, " AND %sd.run_id = :run", drive == DRIVE_RUN ? "" : "+");
    if (f->agent)
        strbuf_printf(q, " AND %sd.agent = :agent", drive == DRIVE_AGENT ? "" : "+");
    if (f->workflow)
        strbuf_printf(q, " AND %sd.workflow = :workflow", drive == DRIVE_WORKFLOW ? "" : "+");
    if (f->status >= LEDGER_SEARCH_OPEN)
        strbuf_printf(q, " AND %sd.status = :status", drive == DRIVE_STATUS ? "" : "+");
    if (f->decision >= 0)
        strbuf_printf(q, " AND %sd.final = :final", drive == DRIVE_FINAL ? "" : "+");
    if (f->action)
        strbuf_puts(q, " AND +d.action = :action");
    if (f->reason)
        strbuf_puts(q, " AND +d.reason = :reason");
    if (f->since_ms)
        strbuf_puts(q, " AND +d.time_ms >= :since");
    if (f->until_ms)
        strbuf_puts(q, " AND +d.time_ms < :until");
    strbuf_printf(q, " ORDER BY %s DESC LIMIT :limit", key);
}

static void bind_name_text(sqlite3_stmt *st, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i && v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bind_name_int(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i)
        sqlite3_bind_int64(st, i, v);
}

static charter_status read_through(sqlite3 *db, const char *ledger_path, uint64_t *out,
                                   charter_error *err)
{
    int64_t v = 0;
    int rc = pragma_int(db, "SELECT coalesce((SELECT value FROM meta WHERE key = 'through'), 0)",
                        &v);
    if (rc != SQLITE_OK)
        return reader_fail(db, ledger_path, err, "cannot read how far it has got");
    *out = (uint64_t)v;
    return CHARTER_OK;
}

charter_status ledger_search_decisions(const char *ledger_path,
                                       const ledger_search_filter *f,
                                       ledger_search_row_fn fn, void *user,
                                       ledger_search_position *pos, charter_error *err)
{
    sqlite3 *db;
    charter_status st = reader_open(ledger_path, &db, err);
    if (st != CHARTER_OK)
        return st;
    uint64_t through = 0;
    if ((st = read_through(db, ledger_path, &through, err)) != CHARTER_OK)
        goto done;
    if (pos)
        pos->indexed_through = through;
    strbuf q = {0};
    build_query(f, &q);
    sqlite3_stmt *s = NULL;
    if (q.failed || sqlite3_prepare_v2(db, q.p, -1, &s, NULL) != SQLITE_OK) {
        strbuf_release(&q);
        st = reader_fail(db, ledger_path, err, "cannot search");
        goto done;
    }
    strbuf_release(&q);
    bind_name_text(s, ":rule", f->rule);
    bind_name_int(s, ":before", f->before ? (int64_t)f->before : INT64_MAX);
    bind_name_text(s, ":run", f->run_id);
    bind_name_text(s, ":agent", f->agent);
    bind_name_text(s, ":workflow", f->workflow);
    bind_name_int(s, ":status", f->status);
    bind_name_int(s, ":final", f->decision);
    bind_name_text(s, ":action", f->action);
    bind_name_text(s, ":reason", f->reason);
    bind_name_int(s, ":since", f->since_ms);
    bind_name_int(s, ":until", f->until_ms);
    bind_name_int(s, ":limit", f->limit ? (int64_t)f->limit : -1);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ledger_search_row r = {
            .seq = (uint64_t)sqlite3_column_int64(s, 0),
            .time_ms = sqlite3_column_int64(s, 1),
            .agent = col_text(s, 2),
            .workflow = col_text(s, 3),
            .action = col_text(s, 4),
            .answered = (charter_effect)sqlite3_column_int(s, 5),
            .final = (charter_effect)sqlite3_column_int(s, 6),
            .status = sqlite3_column_type(s, 7) == SQLITE_NULL
                          ? LEDGER_SEARCH_NONE
                          : (ledger_search_status)sqlite3_column_int(s, 7),
            .reason = col_text(s, 8),
            .run_id = col_text(s, 9),
            .charter_version = col_text(s, 10),
            .shadow = sqlite3_column_int(s, 11) != 0,
            .rules_json = col_text(s, 12),
        };
        if (fn(&r, user)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        st = reader_fail(db, ledger_path, err, "cannot search");
    sqlite3_finalize(s);
done:
    reader_close(db);
    return st;
}

charter_status ledger_search_charters(const char *ledger_path, ledger_search_charter_fn fn,
                                      void *user, charter_error *err)
{
    sqlite3 *db;
    charter_status st = reader_open(ledger_path, &db, err);
    if (st != CHARTER_OK)
        return st;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT version, name, seq, time_ms FROM charters"
                               " ORDER BY seq DESC", -1, &s, NULL) != SQLITE_OK) {
        st = reader_fail(db, ledger_path, err, "cannot list charter versions");
        reader_close(db);
        return st;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ledger_search_charter c = {.version = col_text(s, 0), .name = col_text(s, 1),
                                   .seq = (uint64_t)sqlite3_column_int64(s, 2),
                                   .time_ms = sqlite3_column_int64(s, 3)};
        if (fn(&c, user)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        st = reader_fail(db, ledger_path, err, "cannot list charter versions");
    sqlite3_finalize(s);
    reader_close(db);
    return st;
}

typedef struct charter_read {
    uint64_t seq;
    char *text;
    size_t len;
    bool found, nomem;
} charter_read;

static int take_canonical(const ledger_entry *e, void *user)
{
    charter_read *r = user;
    jspan p, c;
    if (e->seq != r->seq || strcmp(e->kind, "charter") ||
        !jspan_value(e->payload, e->payload_len, &p) || !jspan_get(p, "canonical", &c) ||
        *c.p != '"')
        return 1;
    scratch sc = {0};
    const char *s = span_text(c, &sc);
    if (s != sc.p) { /* out of memory (the text is a valid string) */
        free(sc.p);
        r->nomem = true;
        return 1;
    }
    r->len = strlen(s);
    r->text = sc.p;
    r->found = true;
    return 1;
}

charter_status ledger_search_charter_text(const char *ledger_path, const char *version,
                                          char **out, size_t *len, charter_error *err)
{
    *out = NULL;
    sqlite3 *db;
    charter_status st = reader_open(ledger_path, &db, err);
    if (st != CHARTER_OK)
        return st;
    sqlite3_stmt *s;
    int64_t seq = 0;
    bool has_entry = false;
    if (sqlite3_prepare_v2(db, "SELECT seq, name IS NOT NULL FROM charters WHERE version = ?",
                           -1, &s, NULL) != SQLITE_OK) {
        st = reader_fail(db, ledger_path, err, "cannot look the version up");
        reader_close(db);
        return st;
    }
    sqlite3_bind_text(s, 1, version, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        seq = sqlite3_column_int64(s, 0);
        has_entry = sqlite3_column_int(s, 1) != 0;
    }
    sqlite3_finalize(s);
    reader_close(db);
    if (!seq || !has_entry)
        return ledger_fail(err, CHARTER_E_REF,
                           "no charter version '%.100s' is recorded in the ledger", version);
    ledger_store_config cfg = {.mode = LEDGER_OPEN_READ, .busy_timeout_ms = SEARCH_BUSY_MS};
    ledger_store *ls;
    if ((st = ledger_store_open(ledger_path, &cfg, &ls, err)) != CHARTER_OK)
        return st;
    charter_read r = {.seq = (uint64_t)seq};
    st = ls->ops->read(ls, r.seq, take_canonical, &r, err);
    ledger_store_close(ls);
    if (st != CHARTER_OK) {
        free(r.text);
        return st;
    }
    if (r.nomem)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory reading a charter");
    if (!r.found)
        return ledger_fail(err, CHARTER_E_REF,
                           "entry %lld of the ledger is not the charter '%.100s' the search "
                           "index says it is (rebuild the index)",
                           (long long)seq, version);
    *out = r.text;
    if (len)
        *len = r.len;
    return CHARTER_OK;
}

charter_status ledger_search_rule_history(const char *ledger_path, const char *rule,
                                          int64_t since_ms, ledger_search_rule_counts *out,
                                          charter_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3 *db;
    charter_status st = reader_open(ledger_path, &db, err);
    if (st != CHARTER_OK)
        return st;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT status, sum(n) FROM rule_hours WHERE id = ?1"
                               " AND hour >= ?2 GROUP BY status", -1, &s, NULL) !=
        SQLITE_OK) {
        st = reader_fail(db, ledger_path, err, "cannot count a rule's escalations");
        reader_close(db);
        return st;
    }
    sqlite3_bind_text(s, 1, rule, -1, SQLITE_STATIC);
    /* By the hour: the hour since_ms falls in counts whole. */
    sqlite3_bind_int64(s, 2, since_ms >= 0 ? since_ms / SEARCH_HOUR_MS
                                           : -((-since_ms + SEARCH_HOUR_MS - 1) /
                                               SEARCH_HOUR_MS));
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        uint64_t n = (uint64_t)sqlite3_column_int64(s, 1);
        out->escalated += n;
        switch (sqlite3_column_int(s, 0)) {
        case LEDGER_SEARCH_OPEN:
            out->open += n;
            break;
        case LEDGER_SEARCH_APPROVED:
            out->approved += n;
            break;
        case LEDGER_SEARCH_DENIED:
            out->denied += n;
            break;
        default:
            out->timed_out += n;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        st = reader_fail(db, ledger_path, err, "cannot count a rule's escalations");
    sqlite3_finalize(s);
    reader_close(db);
    return st;
}

charter_status ledger_search_decision_events(const char *ledger_path, uint64_t seq,
                                             ledger_search_event_fn fn, void *user,
                                             charter_error *err)
{
    sqlite3 *db;
    charter_status st = reader_open(ledger_path, &db, err);
    if (st != CHARTER_OK)
        return st;
    static const char *const sql[2] = {
        "SELECT event, time_ms, queue, who, note, NULL, 0 FROM events"
        " WHERE decision = ? ORDER BY seq",
        "SELECT 'outcome', time_ms, NULL, NULL, note, metric, value FROM outcomes"
        " WHERE decision = ? ORDER BY seq"};
    bool stop = false;
    for (int q = 0; q < 2 && !stop && st == CHARTER_OK; q++) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db, sql[q], -1, &s, NULL) != SQLITE_OK) {
            st = reader_fail(db, ledger_path, err, "cannot read a decision's history");
            break;
        }
        sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            ledger_search_event e = {.event = col_text(s, 0),
                                     .time_ms = sqlite3_column_int64(s, 1),
                                     .queue = col_text_or_null(s, 2),
                                     .by = col_text_or_null(s, 3),
                                     .note = col_text_or_null(s, 4),
                                     .metric = col_text_or_null(s, 5),
                                     .value = sqlite3_column_double(s, 6)};
            if (fn(&e, user)) {
                stop = true;
                rc = SQLITE_DONE;
                break;
            }
        }
        if (rc != SQLITE_DONE)
            st = reader_fail(db, ledger_path, err, "cannot read a decision's history");
        sqlite3_finalize(s);
    }
    reader_close(db);
    return st;
}
