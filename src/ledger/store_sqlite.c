/* store_sqlite.c - the embedded ledger backend: one SQLite file.
 *
 * WAL mode with synchronous=FULL: a commit returns once the WAL is synced,
 * so an acknowledged append survives a crash of the process or the machine,
 * and readers (verify, export) never block the writer. A store opened for
 * writing creates the file with mode 0600 (the -wal and -shm files SQLite
 * makes take the same mode) and holds the ledger exclusively (lock.h); each
 * append first checks that the path still names the file it opened and
 * that the lock is still its own. The schema:
 *
 *   entries(seq INTEGER PRIMARY KEY, time_ms, kind, payload, prev_hash, hash)
 *   checkpoints(seq, hash, signature, key_id, public_key, time_ms,
 *               checkpoint_every, checkpoint_ms)
 *
 * application_id marks the file as a Charter ledger and user_version is the
 * format version, so a wrong file is refused rather than written into.
 * Format 2 added the checkpoints' cadence columns (0 in rows of format 1);
 * a format 1 file is read as it is and upgraded when opened for writing.
 */
#include "base/banned.h"

#include "ledger/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/lock.h"

#define LEDGER_APP_ID 0x43484c47 /* "CHLG" */
#define LEDGER_FORMAT 2
#define LEDGER_FORMAT_OLDEST 1

typedef struct sqlite_store {
    ledger_store base;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *insert_entry, *insert_checkpoint, *last_seq, *tail;
    sqlite3_stmt *begin, *commit, *rollback;
    ledger_lock lock;   /* held while open for writing */
    dev_t dev;          /* the file opened for writing */
    ino_t ino;
    bool in_snapshot;
} sqlite_store;

static ledger_problem problem_of(sqlite3 *db)
{
    int code = sqlite3_extended_errcode(db);
    int sys = sqlite3_system_errno(db);
    switch (code & 0xff) {
    case SQLITE_FULL:
        return LEDGER_PROBLEM_DISK_FULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LEDGER_PROBLEM_BUSY;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return LEDGER_PROBLEM_READ_ONLY;
    default:
        if (sys == ENOSPC || sys == EDQUOT || sys == EFBIG)
            return LEDGER_PROBLEM_DISK_FULL;
        return LEDGER_PROBLEM_IO;
    }
}

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS entries("
    " seq INTEGER PRIMARY KEY,"
    " time_ms INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS checkpoints("
    " seq INTEGER NOT NULL,"
    " hash BLOB NOT NULL,"
    " signature BLOB NOT NULL,"
    " key_id TEXT NOT NULL,"
    " public_key BLOB NOT NULL,"
    " time_ms INTEGER NOT NULL,"
    " checkpoint_every INTEGER NOT NULL DEFAULT 0,"
    " checkpoint_ms INTEGER NOT NULL DEFAULT 0);";

/* Format 1 -> 2: the checkpoints' cadence (keys.h signs it). */
static const char upgrade_sql[] =
    "ALTER TABLE checkpoints ADD COLUMN checkpoint_every INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE checkpoints ADD COLUMN checkpoint_ms INTEGER NOT NULL DEFAULT 0;";

static charter_status db_fail(sqlite_store *s, charter_error *err,
                              const char *doing)
{
    int code = sqlite3_extended_errcode(s->db);
    s->base.problem = problem_of(s->db);
    return ledger_fail(err, CHARTER_E_IO, "ledger '%s': %s: %s (sqlite %d)",
                       s->path, doing, sqlite3_errmsg(s->db), code);
}

static int prepare(sqlite_store *s, const char *sql, sqlite3_stmt **out)
{
    return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
                              NULL);
}

static int exec(sqlite_store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

static int pragma_int(sqlite_store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
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

static void sqlite_close(ledger_store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    if (!s)
        return;
    sqlite3_finalize(s->insert_entry);
    sqlite3_finalize(s->insert_checkpoint);
    sqlite3_finalize(s->last_seq);
    sqlite3_finalize(s->tail);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->rollback);
    sqlite3_close(s->db);
    ledger_lock_release(&s->lock); /* after the last write */
    free(s->path);
    free(s);
}

/* Creates the file a writer opens, when absent, readable by its owner only
 * (SQLite would make it 0644 less the umask; its -wal and -shm files copy
 * the database file's mode). An existing file keeps its mode. */
static charter_status create_private(const char *path, charter_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
        return CHARTER_OK;
    if (fd < 0)
        return ledger_fail(err, CHARTER_E_IO, "cannot create ledger '%s': %s", path,
                           strerror(errno));
    close(fd);
    return CHARTER_OK;
}

/* The path still names the file opened, and the lock is still ours. */
static charter_status check_identity(sqlite_store *s, charter_error *err)
{
    struct stat st;
    bool gone = stat(s->path, &st) != 0;
    if (gone || st.st_dev != s->dev || st.st_ino != s->ino) {
        s->base.problem = LEDGER_PROBLEM_FILE_REPLACED;
        return ledger_fail(err, CHARTER_E_IO,
                           "ledger '%s' was %s while open: what is written now would not "
                           "be in the file that path names",
                           s->path, gone ? "removed or moved" : "replaced");
    }
    if (ledger_lock_check(&s->lock, err) != CHARTER_OK) {
        s->base.problem = LEDGER_PROBLEM_LOCK_LOST;
        return CHARTER_E_IO;
    }
    return CHARTER_OK;
}

/* A file that has tables must carry our application_id; an empty file (or
 * a new one) becomes a ledger when opened for writing. */
static charter_status check_format(sqlite_store *s, ledger_open_mode mode,
                                   charter_error *err)
{
    int64_t app = 0, ver = 0, tables = 0;
    if (pragma_int(s, "PRAGMA application_id", &app) != SQLITE_OK ||
        pragma_int(s, "PRAGMA user_version", &ver) != SQLITE_OK ||
        pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables) != SQLITE_OK)
        return db_fail(s, err, "cannot read the file header");
    if (tables == 0 && app == 0) {
        if (mode == LEDGER_OPEN_READ)
            return ledger_fail(err, CHARTER_E_IO,
                               "'%s' is empty: expected a Charter ledger", s->path);
        return CHARTER_OK;
    }
    if (app != LEDGER_APP_ID)
        return ledger_fail(err, CHARTER_E_IO,
                           "'%s' is an SQLite file but not a Charter ledger "
                           "(application_id %lld, expected %d)",
                           s->path, (long long)app, LEDGER_APP_ID);
    if (ver < LEDGER_FORMAT_OLDEST || ver > LEDGER_FORMAT)
        return ledger_fail(err, CHARTER_E_IO,
                           "ledger '%s' has format %lld; this build reads formats "
                           "%d to %d", s->path, (long long)ver, LEDGER_FORMAT_OLDEST,
                           LEDGER_FORMAT);
    return CHARTER_OK;
}

static charter_status create_schema(sqlite_store *s, charter_error *err)
{
    char sql[256];
    if (exec(s, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_fail(s, err, "cannot start creating the schema");
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             LEDGER_APP_ID, LEDGER_FORMAT);
    int64_t has_cadence = 0;
    if (exec(s, schema_sql) != SQLITE_OK ||
        pragma_int(s, "SELECT count(*) FROM pragma_table_info('checkpoints')"
                      " WHERE name = 'checkpoint_every'", &has_cadence) != SQLITE_OK ||
        (!has_cadence && exec(s, upgrade_sql) != SQLITE_OK) ||
        exec(s, sql) != SQLITE_OK) {
        charter_status st = db_fail(s, err, "cannot create the schema");
        exec(s, "ROLLBACK");
        return st;
    }
    if (exec(s, "COMMIT") != SQLITE_OK) {
        charter_status st = db_fail(s, err, "cannot create the schema");
        exec(s, "ROLLBACK");
        return st;
    }
    return CHARTER_OK;
}

static charter_status sqlite_open(const char *path, const ledger_store_config *cfg,
                                  ledger_store **out, charter_error *err)
{
    *out = NULL;
    if (cfg->mode == LEDGER_OPEN_READ) {
        struct stat st;
        if (stat(path, &st) != 0)
            return ledger_fail(err, CHARTER_E_IO, "cannot open ledger '%s': %s",
                               path, strerror(errno));
    } else {
        charter_status cst = create_private(path, err);
        if (cst != CHARTER_OK)
            return cst;
    }
    sqlite_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory opening a ledger");
    }
    s->base.ops = &ledger_sqlite_ops;
    s->lock.fd = -1;
    int flags = SQLITE_OPEN_NOMUTEX |
                (cfg->mode == LEDGER_OPEN_WRITE
                     ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                     : SQLITE_OPEN_READONLY);
    charter_status st = CHARTER_OK;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        st = db_fail(s, err, "cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, cfg->busy_timeout_ms ? (int)cfg->busy_timeout_ms
                                                     : 5000);
    if (cfg->mode == LEDGER_OPEN_WRITE) {
        /* A read-only file opens "read-write" in SQLite and fails only at
         * the first write; refuse it here so recording fails closed early. */
        if (sqlite3_db_readonly(s->db, "main") == 1) {
            st = ledger_fail(err, CHARTER_E_IO,
                             "ledger '%s' is read-only: cannot record", path);
            goto fail;
        }
        /* Exclusive before the first write (the WAL switch is one). */
        if ((st = ledger_lock_acquire(path, &s->lock, err)) != CHARTER_OK)
            goto fail;
        struct stat fst;
        if (stat(path, &fst) != 0) {
            st = ledger_fail(err, CHARTER_E_IO, "cannot open ledger '%s': %s", path,
                             strerror(errno));
            goto fail;
        }
        s->dev = fst.st_dev;
        s->ino = fst.st_ino;
        int64_t mode_ok = 0;
        sqlite3_stmt *jm;
        if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &jm, NULL) ==
                SQLITE_OK &&
            sqlite3_step(jm) == SQLITE_ROW)
            mode_ok = !strcmp((const char *)sqlite3_column_text(jm, 0), "wal");
        sqlite3_finalize(jm);
        if (!mode_ok) {
            st = db_fail(s, err, "cannot switch to WAL mode");
            goto fail;
        }
        if (exec(s, "PRAGMA synchronous=FULL") != SQLITE_OK) {
            st = db_fail(s, err, "cannot set synchronous=FULL");
            goto fail;
        }
    }
    if ((st = check_format(s, cfg->mode, err)) != CHARTER_OK)
        goto fail;
    if (cfg->mode == LEDGER_OPEN_WRITE && (st = create_schema(s, err)) != CHARTER_OK)
        goto fail;
    if (cfg->max_pages) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA max_page_count=%u", cfg->max_pages);
        exec(s, sql);
    }
    if (cfg->mode == LEDGER_OPEN_WRITE &&
        (prepare(s, "INSERT INTO entries(seq,time_ms,kind,payload,prev_hash,hash)"
                    " VALUES(?,?,?,?,?,?)", &s->insert_entry) != SQLITE_OK ||
         prepare(s, "INSERT INTO checkpoints(seq,hash,signature,key_id,public_key,"
                    "time_ms,checkpoint_every,checkpoint_ms) VALUES(?,?,?,?,?,?,?,?)",
                 &s->insert_checkpoint) != SQLITE_OK ||
         prepare(s, "SELECT max(seq) FROM entries", &s->last_seq) != SQLITE_OK ||
         prepare(s, "SELECT seq,hash FROM entries ORDER BY seq DESC LIMIT 1",
                 &s->tail) != SQLITE_OK ||
         prepare(s, "BEGIN IMMEDIATE", &s->begin) != SQLITE_OK ||
         prepare(s, "COMMIT", &s->commit) != SQLITE_OK ||
         prepare(s, "ROLLBACK", &s->rollback) != SQLITE_OK)) {
        st = db_fail(s, err, "cannot prepare statements");
        goto fail;
    }
    *out = &s->base;
    return CHARTER_OK;
fail:
    sqlite_close(&s->base);
    return st;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void rollback(sqlite_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        step_done(s->rollback);
}

static charter_status sqlite_append(ledger_store *base, const ledger_entry *e,
                                    size_t n, const ledger_checkpoint *cp,
                                    charter_error *err)
{
    sqlite_store *s = (sqlite_store *)base;
    base->problem = LEDGER_PROBLEM_NONE;
    if (!s->insert_entry) {
        base->problem = LEDGER_PROBLEM_READ_ONLY;
        return ledger_fail(err, CHARTER_E_IO, "ledger '%s' is open read-only", s->path);
    }
    if (step_done(s->begin) != SQLITE_OK)
        return db_fail(s, err, "cannot start a transaction");
    /* Under SQLite's write lock: nothing can change between this and the
     * commit but by someone ignoring both locks. */
    charter_status ist = check_identity(s, err);
    if (ist != CHARTER_OK) {
        rollback(s);
        return ist;
    }
    /* The caller's idea of the last seq must still hold: another process
     * appending to the same file would otherwise fork the chain. */
    if (n > 0) {
        int64_t last = 0;
        int rc = sqlite3_step(s->last_seq);
        if (rc == SQLITE_ROW)
            last = sqlite3_column_int64(s->last_seq, 0);
        sqlite3_reset(s->last_seq);
        if (rc != SQLITE_ROW) {
            charter_status st = db_fail(s, err, "cannot read the last entry");
            rollback(s);
            return st;
        }
        if ((uint64_t)last + 1 != e[0].seq) {
            rollback(s);
            base->problem = LEDGER_PROBLEM_TAIL_CHANGED;
            return ledger_fail(err, CHARTER_E_IO,
                               "ledger '%s': the last entry is %lld, expected %llu: "
                               "another process is writing to this ledger",
                               s->path, (long long)last,
                               (unsigned long long)(e[0].seq - 1));
        }
    }
    sqlite3_stmt *ins = s->insert_entry;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)e[i].seq);
        sqlite3_bind_int64(ins, 2, e[i].time_ms);
        sqlite3_bind_text(ins, 3, e[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, e[i].payload, (int)e[i].payload_len, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 5, e[i].prev_hash, LEDGER_HASH_SIZE, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 6, e[i].hash, LEDGER_HASH_SIZE, SQLITE_STATIC);
        if (step_done(ins) != SQLITE_OK) {
            charter_status st = db_fail(s, err, "cannot append an entry");
            sqlite3_clear_bindings(ins);
            rollback(s);
            return st;
        }
    }
    sqlite3_clear_bindings(ins);
    if (cp) {
        sqlite3_stmt *c = s->insert_checkpoint;
        sqlite3_bind_int64(c, 1, (sqlite3_int64)cp->seq);
        sqlite3_bind_blob(c, 2, cp->hash, LEDGER_HASH_SIZE, SQLITE_STATIC);
        sqlite3_bind_blob(c, 3, cp->signature, LEDGER_SIG_SIZE, SQLITE_STATIC);
        sqlite3_bind_text(c, 4, cp->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(c, 5, cp->public_key, LEDGER_PK_SIZE, SQLITE_STATIC);
        sqlite3_bind_int64(c, 6, cp->time_ms);
        sqlite3_bind_int64(c, 7, (sqlite3_int64)cp->checkpoint_every);
        sqlite3_bind_int64(c, 8, (sqlite3_int64)cp->checkpoint_ms);
        int rc = step_done(c);
        sqlite3_clear_bindings(c);
        if (rc != SQLITE_OK) {
            charter_status st = db_fail(s, err, "cannot append a checkpoint");
            rollback(s);
            return st;
        }
    }
    if (step_done(s->commit) != SQLITE_OK) {
        charter_status st = db_fail(s, err, "cannot commit");
        rollback(s);
        return st;
    }
    return CHARTER_OK;
}

static void copy_blob(unsigned char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const void *p = sqlite3_column_blob(st, col);
    int len = sqlite3_column_bytes(st, col);
    memset(dst, 0, n);
    if (p)
        memcpy(dst, p, (size_t)len < n ? (size_t)len : n);
}

static charter_status sqlite_read(ledger_store *base, uint64_t from_seq,
                                  ledger_entry_fn fn, void *user,
                                  charter_error *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq,time_ms,kind,payload,prev_hash,hash FROM entries"
                           " WHERE seq >= ? ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot read entries");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)from_seq);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ledger_entry e;
        e.seq = (uint64_t)sqlite3_column_int64(st, 0);
        e.time_ms = sqlite3_column_int64(st, 1);
        const char *kind = (const char *)sqlite3_column_text(st, 2);
        e.kind = kind ? kind : "";
        const char *payload = (const char *)sqlite3_column_text(st, 3);
        e.payload = payload ? payload : "";
        e.payload_len = (size_t)sqlite3_column_bytes(st, 3);
        copy_blob(e.prev_hash, LEDGER_HASH_SIZE, st, 4);
        copy_blob(e.hash, LEDGER_HASH_SIZE, st, 5);
        if (fn(&e, user)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    charter_status res = CHARTER_OK;
    if (rc != SQLITE_DONE)
        res = db_fail(s, err, "cannot read entries");
    sqlite3_finalize(st);
    return res;
}

static charter_status sqlite_last(ledger_store *base, ledger_entry *out,
                                  bool *found, charter_error *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    *found = false;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq,time_ms,prev_hash,hash FROM entries"
                           " ORDER BY seq DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot read the last entry");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->seq = (uint64_t)sqlite3_column_int64(st, 0);
        out->time_ms = sqlite3_column_int64(st, 1);
        copy_blob(out->prev_hash, LEDGER_HASH_SIZE, st, 2);
        copy_blob(out->hash, LEDGER_HASH_SIZE, st, 3);
        *found = true;
        rc = SQLITE_DONE;
    }
    charter_status res = CHARTER_OK;
    if (rc != SQLITE_DONE)
        res = db_fail(s, err, "cannot read the last entry");
    sqlite3_finalize(st);
    return res;
}

static charter_status sqlite_checkpoints(ledger_store *base, ledger_checkpoint_fn fn,
                                         void *user, charter_error *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    /* A file of format 1 opened read-only has no cadence columns. */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq,hash,signature,key_id,public_key,time_ms,"
                           "checkpoint_every,checkpoint_ms"
                           " FROM checkpoints ORDER BY seq, rowid", -1, &st,
                           NULL) != SQLITE_OK &&
        sqlite3_prepare_v2(s->db,
                           "SELECT seq,hash,signature,key_id,public_key,time_ms,0,0"
                           " FROM checkpoints ORDER BY seq, rowid", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot read checkpoints");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ledger_checkpoint c;
        memset(&c, 0, sizeof c);
        c.seq = (uint64_t)sqlite3_column_int64(st, 0);
        copy_blob(c.hash, LEDGER_HASH_SIZE, st, 1);
        copy_blob(c.signature, LEDGER_SIG_SIZE, st, 2);
        const char *kid = (const char *)sqlite3_column_text(st, 3);
        snprintf(c.key_id, sizeof c.key_id, "%s", kid ? kid : "");
        copy_blob(c.public_key, LEDGER_PK_SIZE, st, 4);
        c.time_ms = sqlite3_column_int64(st, 5);
        int64_t every = sqlite3_column_int64(st, 6), ms = sqlite3_column_int64(st, 7);
        /* Out of range reads as "not recorded", whose signature then fails. */
        c.checkpoint_every = every > 0 ? (uint64_t)every : 0;
        c.checkpoint_ms = ms > 0 && ms <= UINT32_MAX ? (uint32_t)ms : 0;
        if (fn(&c, user)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    charter_status res = CHARTER_OK;
    if (rc != SQLITE_DONE)
        res = db_fail(s, err, "cannot read checkpoints");
    sqlite3_finalize(st);
    return res;
}

/* The last entry is (last_seq, last_hash), or the ledger is empty and
 * last_seq is 0. */
static charter_status check_tail(sqlite_store *s, uint64_t last_seq,
                                 const unsigned char last_hash[LEDGER_HASH_SIZE],
                                 charter_error *err)
{
    int rc = sqlite3_step(s->tail);
    uint64_t seq = 0;
    bool same_hash = true;
    if (rc == SQLITE_ROW) {
        seq = (uint64_t)sqlite3_column_int64(s->tail, 0);
        const void *h = sqlite3_column_blob(s->tail, 1);
        same_hash = h && sqlite3_column_bytes(s->tail, 1) == LEDGER_HASH_SIZE &&
                    !memcmp(h, last_hash, LEDGER_HASH_SIZE);
    }
    sqlite3_reset(s->tail);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, err, "cannot read the last entry");
    if (seq == last_seq && (seq == 0 || same_hash))
        return CHARTER_OK;
    s->base.problem = LEDGER_PROBLEM_TAIL_CHANGED;
    if (seq != last_seq)
        return ledger_fail(err, CHARTER_E_IO,
                           "ledger '%s': the last entry is %llu, expected %llu: another "
                           "process has changed this ledger",
                           s->path, (unsigned long long)seq, (unsigned long long)last_seq);
    return ledger_fail(err, CHARTER_E_IO,
                       "ledger '%s': entry %llu is not the one this process wrote: another "
                       "process has changed this ledger",
                       s->path, (unsigned long long)seq);
}

static charter_status sqlite_check(ledger_store *base, uint64_t last_seq,
                                   const unsigned char last_hash[LEDGER_HASH_SIZE],
                                   ledger_check_mode mode, charter_error *err)
{
    sqlite_store *s = (sqlite_store *)base;
    base->problem = LEDGER_PROBLEM_NONE;
    if (!s->insert_entry) {
        base->problem = LEDGER_PROBLEM_READ_ONLY;
        return ledger_fail(err, CHARTER_E_IO, "ledger '%s' is open read-only", s->path);
    }
    bool write = mode == LEDGER_CHECK_WRITE;
    if (write && step_done(s->begin) != SQLITE_OK)
        return db_fail(s, err, "cannot start a transaction");
    charter_status st = check_identity(s, err);
    if (st == CHARTER_OK)
        st = check_tail(s, last_seq, last_hash, err);
    if (st == CHARTER_OK && write) {
        /* Rewriting the header's application_id (the same value) dirties
         * page 1: the commit appends a frame to the WAL and syncs it, as an
         * append would, and adds nothing. */
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d", LEDGER_APP_ID);
        if (exec(s, sql) != SQLITE_OK)
            st = db_fail(s, err, "cannot write");
        else if (step_done(s->commit) != SQLITE_OK)
            st = db_fail(s, err, "cannot commit");
    }
    if (write)
        rollback(s);
    return st;
}

int ledger_sqlite_synchronous(ledger_store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    int64_t v = -1;
    if (!s || pragma_int(s, "PRAGMA synchronous", &v) != SQLITE_OK)
        return -1;
    return (int)v;
}

static charter_status sqlite_tally(ledger_store *base, ledger_tally *out,
                                   charter_error *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const sql[2] = {
        "SELECT count(*), coalesce(min(seq),0), coalesce(max(seq),0) FROM entries",
        "SELECT count(*), coalesce(min(seq),0), coalesce(max(seq),0) FROM checkpoints"};
    int64_t v[2][3];
    for (int t = 0; t < 2; t++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, sql[t], -1, &st, NULL) != SQLITE_OK)
            return db_fail(s, err, "cannot count rows");
        int rc = sqlite3_step(st);
        for (int i = 0; i < 3; i++)
            v[t][i] = rc == SQLITE_ROW ? sqlite3_column_int64(st, i) : 0;
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
            return db_fail(s, err, "cannot count rows");
    }
    *out = (ledger_tally){.entries = (uint64_t)v[0][0], .entries_min = v[0][1],
                          .entries_max = v[0][2], .checkpoints = (uint64_t)v[1][0],
                          .checkpoints_min = v[1][1], .checkpoints_max = v[1][2]};
    return CHARTER_OK;
}

/* A read transaction: in WAL mode its first read fixes the snapshot every
 * later read of the transaction sees. */
static charter_status sqlite_snapshot_begin(ledger_store *base, charter_error *err)
{
    sqlite_store *s = (sqlite_store *)base;
    int64_t ignored;
    if (exec(s, "BEGIN") != SQLITE_OK)
        return db_fail(s, err, "cannot start reading");
    s->in_snapshot = true;
    if (pragma_int(s, "SELECT count(*) FROM checkpoints", &ignored) != SQLITE_OK)
        return db_fail(s, err, "cannot start reading");
    return CHARTER_OK;
}

static void sqlite_snapshot_end(ledger_store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    if (s->in_snapshot && !sqlite3_get_autocommit(s->db))
        exec(s, "ROLLBACK");
    s->in_snapshot = false;
}

const ledger_store_ops ledger_sqlite_ops = {
    .name = "sqlite",
    .shared = false,
    .open = sqlite_open,
    .append = sqlite_append,
    .read = sqlite_read,
    .last = sqlite_last,
    .checkpoints = sqlite_checkpoints,
    .check = sqlite_check,
    .tally = sqlite_tally,
    .snapshot_begin = sqlite_snapshot_begin,
    .snapshot_end = sqlite_snapshot_end,
    .close = sqlite_close,
};
