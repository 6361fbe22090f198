/* outbox.c - the outbox: an SQLite file next to the ledger holding every
 * notification owed, delivered or given up on (`messages`), and the
 * escalations seen open (`tracked`), so that a restart, even after kill -9,
 * still owes what it had found and finds what happened while it was down.
 *
 * Each thread has a connection of its own (WAL: the readers never wait for
 * the writers). A row's id is deterministic (message.c), so writing the same
 * event twice (a pass repeated after a crash) is one row: INSERT OR IGNORE.
 */
#include "base/banned.h"

#include "notify/notify_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/fail.h"

#define BUSY_MS 5000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS messages("
    " id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, queue TEXT NOT NULL,"
    " event TEXT NOT NULL, target TEXT NOT NULL, format TEXT NOT NULL,"
    " body BLOB NOT NULL, status INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    " created_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL, delivered_ms INTEGER);"
    "CREATE INDEX IF NOT EXISTS messages_due ON messages(status, target, next_ms);"
    "CREATE INDEX IF NOT EXISTS messages_created ON messages(created_ms);"
    /* The next due row, and the due rows in order, without reading every
     * row owed: a backlog of a hundred thousand costs a round no more than
     * ten. */
    "CREATE INDEX IF NOT EXISTS messages_next ON messages(status, next_ms);"
    "CREATE TABLE IF NOT EXISTS tracked("
    " seq INTEGER PRIMARY KEY, decision_id TEXT NOT NULL, queue TEXT NOT NULL,"
    " deadline_ms INTEGER NOT NULL, reminded INTEGER NOT NULL DEFAULT 0);";

charter_status ntf_outbox_open(const char *path, bool durable, sqlite3 **out,
                               charter_error *err)
{
    sqlite3 *db = NULL;
    *out = NULL;
    if (sqlite3_open_v2(path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        charter_status st = base_fail(err, CHARTER_E_IO, "cannot open the outbox '%s': %s",
                                      path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return st;
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    const char *sync = durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"
                               : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL";
    if (sqlite3_exec(db, sync, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        charter_status st = base_fail(err, CHARTER_E_IO,
                                      "cannot set up the outbox '%s': %s (expected an "
                                      "outbox file written by charter serve, or none)",
                                      path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return CHARTER_OK;
}

void ntf_outbox_close(sqlite3 *db)
{
    sqlite3_close(db);
}

bool ntf_outbox_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    return st;
}

/* Steps a statement that returns no rows, and finalizes it. */
static bool run(sqlite3_stmt *st)
{
    if (!st)
        return false;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

/* ---- tracked ----------------------------------------------------------------- */

void ntf_tracked_free(ntf_tracked *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].decision_id);
        free(t[i].queue);
    }
    free(t);
}

bool ntf_tracked_load(sqlite3 *db, ntf_tracked **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = prep(db, "SELECT seq, decision_id, queue, deadline_ms, reminded "
                                "FROM tracked ORDER BY seq");
    if (!st)
        return false;
    ntf_tracked *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    bool ok = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? 2 * cap : 64;
            ntf_tracked *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                ok = false;
                break;
            }
            v = nv;
            cap = nc;
        }
        ntf_tracked *t = &v[len++];
        t->seq = (uint64_t)sqlite3_column_int64(st, 0);
        t->decision_id = col_dup(st, 1);
        t->queue = col_dup(st, 2);
        t->deadline_ms = sqlite3_column_int64(st, 3);
        t->reminded = (uint32_t)sqlite3_column_int64(st, 4);
        if (!t->decision_id || !t->queue) {
            ok = false;
            break;
        }
    }
    sqlite3_finalize(st);
    if (!ok || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
        ntf_tracked_free(v, len);
        return false;
    }
    *out = v;
    *n = len;
    return true;
}

bool ntf_tracked_count(sqlite3 *db, int64_t *n)
{
    sqlite3_stmt *st = prep(db, "SELECT count(*) FROM tracked");
    if (!st)
        return false;
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    *n = ok ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return ok;
}

bool ntf_tracked_put(sqlite3 *db, const ntf_tracked *t)
{
    sqlite3_stmt *st = prep(db, "INSERT OR REPLACE INTO tracked(seq, decision_id, queue, "
                                "deadline_ms, reminded) VALUES(?1, ?2, ?3, ?4, ?5)");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)t->seq);
    sqlite3_bind_text(st, 2, t->decision_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, t->queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, t->deadline_ms);
    sqlite3_bind_int64(st, 5, t->reminded);
    return run(st);
}

bool ntf_tracked_delete(sqlite3 *db, uint64_t seq)
{
    sqlite3_stmt *st = prep(db, "DELETE FROM tracked WHERE seq = ?1");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    return run(st);
}

/* ---- messages ---------------------------------------------------------------- */

bool ntf_message_add(sqlite3 *db, const ntf_message *m, bool *added)
{
    *added = false;
    sqlite3_stmt *st = prep(db, "INSERT OR IGNORE INTO messages(id, decision_id, queue, "
                                "event, target, format, body, created_ms, next_ms) "
                                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, m->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->decision_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->queue, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, m->target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, m->format, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, m->body.p ? m->body.p : "", (int)m->body.n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, m->created_ms);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return false;
    *added = sqlite3_changes(db) > 0;
    return true;
}

void ntf_due_release(ntf_due *d)
{
    free(d->id);
    free(d->decision_id);
    free(d->queue);
    free(d->event);
    free(d->target);
    free(d->format);
    free(d->body);
    memset(d, 0, sizeof *d);
}

bool ntf_due_targets(sqlite3 *db, int64_t now_ms, size_t window, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st =
        window ? prep(db, "SELECT DISTINCT target FROM (SELECT target FROM messages "
                          "WHERE status = 0 AND next_ms <= ?1 ORDER BY next_ms LIMIT ?2)")
               : prep(db, "SELECT DISTINCT target FROM messages "
                          "WHERE status = 0 AND next_ms <= ?1");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, now_ms);
    if (window)
        sqlite3_bind_int64(st, 2, (sqlite3_int64)window);
    char **v = NULL;
    size_t len = 0;
    bool ok = true;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nv = realloc(v, (len + 1) * sizeof *nv);
        if (!nv || !(nv[len] = col_dup(st, 0))) {
            if (nv)
                v = nv;
            ok = false;
            break;
        }
        v = nv;
        len++;
    }
    sqlite3_finalize(st);
    if (!ok || rc != SQLITE_DONE) {
        for (size_t i = 0; i < len; i++)
            free(v[i]);
        free(v);
        return false;
    }
    *out = v;
    *n = len;
    return true;
}

bool ntf_due_take(sqlite3 *db, const char *target, int64_t now_ms, int64_t lease_ms,
                  size_t max, ntf_due *out, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = prep(db, "SELECT id, decision_id, queue, event, target, format, "
                                "body, attempts, created_ms FROM messages "
                                "WHERE status = 0 AND target = ?1 AND next_ms <= ?2 "
                                "ORDER BY next_ms, id LIMIT ?3");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    bool ok = true;
    while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
        ntf_due *d = &out[*n];
        memset(d, 0, sizeof *d);
        d->id = col_dup(st, 0);
        d->decision_id = col_dup(st, 1);
        d->queue = col_dup(st, 2);
        d->event = col_dup(st, 3);
        d->target = col_dup(st, 4);
        d->format = col_dup(st, 5);
        int len = sqlite3_column_bytes(st, 6);
        const void *b = sqlite3_column_blob(st, 6);
        d->body = malloc((size_t)len + 1);
        if (d->body) {
            if (len)
                memcpy(d->body, b, (size_t)len);
            d->body[len] = '\0';
        }
        d->body_len = (size_t)len;
        d->attempts = sqlite3_column_int64(st, 7);
        d->created_ms = sqlite3_column_int64(st, 8);
        if (!d->id || !d->decision_id || !d->queue || !d->event || !d->target ||
            !d->format || !d->body) {
            ntf_due_release(d);
            ok = false;
            break;
        }
        (*n)++;
    }
    sqlite3_finalize(st);
    if (!ok)
        return *n > 0;
    for (size_t i = 0; i < *n; i++) {
        sqlite3_stmt *u = prep(db, "UPDATE messages SET next_ms = ?2 WHERE id = ?1");
        if (!u)
            return false;
        sqlite3_bind_text(u, 1, out[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u, 2, lease_ms);
        run(u);
    }
    return true;
}

bool ntf_mark_delivered(sqlite3 *db, const char *id, int64_t now_ms)
{
    sqlite3_stmt *st = prep(db, "UPDATE messages SET status = 1, attempts = attempts + 1, "
                                "delivered_ms = ?2, next_ms = 0 WHERE id = ?1");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    return run(st);
}

bool ntf_mark_failed(sqlite3 *db, const char *id, const char *error, int64_t next_ms,
                     bool give_up)
{
    sqlite3_stmt *st = prep(db, "UPDATE messages SET attempts = attempts + 1, "
                                "last_error = ?2, next_ms = ?3, status = ?4 WHERE id = ?1");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, give_up ? 0 : next_ms);
    sqlite3_bind_int(st, 4, give_up ? NTF_ROW_FAILED : NTF_ROW_PENDING);
    return run(st);
}

int64_t ntf_next_due(sqlite3 *db)
{
    sqlite3_stmt *st = prep(db, "SELECT min(next_ms) FROM messages WHERE status = 0");
    int64_t t = INT64_MAX;
    if (st && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
        t = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return t;
}

bool ntf_prune(sqlite3 *db, int64_t now_ms)
{
    sqlite3_stmt *st = prep(db, "DELETE FROM messages WHERE status <> 0 AND created_ms < ?1");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, now_ms - NTF_KEEP_MS);
    return run(st);
}

bool ntf_pending_stats(sqlite3 *db, uint64_t *count, int64_t *oldest_ms)
{
    *count = 0;
    *oldest_ms = 0;
    sqlite3_stmt *st = prep(db, "SELECT count(*), min(created_ms) FROM messages "
                                "WHERE status = 0");
    if (!st)
        return false;
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        *count = (uint64_t)sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            *oldest_ms = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return ok;
}

static const char *status_name(int s)
{
    return s == NTF_ROW_DELIVERED ? "delivered" : s == NTF_ROW_FAILED ? "failed" : "pending";
}

charter_status ntf_outbox_list(sqlite3 *db, ntf_status_filter status,
                               const char *decision_id, ntf_row_fn fn, void *user,
                               charter_error *err)
{
    static const char *const where[] = {
        [NTF_ANY] = "1",
        [NTF_PENDING] = "status = 0",
        [NTF_FAILING] = "status = 0 AND attempts > 0",
        [NTF_FAILED] = "status = 2",
        [NTF_DELIVERED] = "status = 1",
    };
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, decision_id, queue, event, target, format, status, attempts, "
             "last_error, next_ms, created_ms, delivered_ms FROM messages WHERE %s%s "
             "ORDER BY created_ms DESC, id DESC",
             where[status], decision_id ? " AND decision_id = ?1" : "");
    sqlite3_stmt *st = prep(db, sql);
    if (!st)
        return base_fail(err, CHARTER_E_IO, "cannot read the outbox: %s", sqlite3_errmsg(db));
    if (decision_id)
        sqlite3_bind_text(st, 1, decision_id, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char shown[512];
        const char *target = (const char *)sqlite3_column_text(st, 4);
        ntf_target_display(target ? target : "", shown, sizeof shown);
        int s = sqlite3_column_int(st, 6);
        ntf_row r = {
            .id = (const char *)sqlite3_column_text(st, 0),
            .decision_id = (const char *)sqlite3_column_text(st, 1),
            .queue = (const char *)sqlite3_column_text(st, 2),
            .event = (const char *)sqlite3_column_text(st, 3),
            .target = shown,
            .format = (const char *)sqlite3_column_text(st, 5),
            .status = status_name(s),
            .attempts = sqlite3_column_int64(st, 7),
            .last_error = (const char *)sqlite3_column_text(st, 8),
            .next_ms = s == NTF_ROW_PENDING ? sqlite3_column_int64(st, 9) : 0,
            .created_ms = sqlite3_column_int64(st, 10),
            .delivered_ms = sqlite3_column_int64(st, 11),
        };
        if (fn(&r, user))
            break;
    }
    bool ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
    charter_status cs = ok ? CHARTER_OK
                           : base_fail(err, CHARTER_E_IO, "cannot read the outbox: %s",
                                       sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return cs;
}
