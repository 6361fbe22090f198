/* test_ledger_sync.c - every acknowledged commit was synced to disk.
 *
 * A kill -9 keeps the page cache, so a crash test cannot tell a commit that
 * reached the disk from one that sits in memory: with SQLite's synchronous
 * set to OFF every other test still passes. This one counts instead. A VFS
 * shim, registered as SQLite's default before any ledger opens, wraps the
 * real one and counts xSync calls on each kind of file; the recorder's
 * connection must report synchronous=FULL, and each batch the writer
 * acknowledges must have synced the WAL at least once.
 */
#include "test.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "ledger/recorder.h"
#include "ledger/store.h"

/* ---- The shim: the default VFS, counting syncs --------------------------- */

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static _Atomic long wal_syncs, db_syncs;

typedef struct shim_file {
    sqlite3_file base;  /* pMethods: shim_io */
    int flags;          /* SQLITE_OPEN_MAIN_DB, SQLITE_OPEN_WAL ... */
    sqlite3_file *real; /* right after this struct, szOsFile of the real VFS */
} shim_file;

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((shim_file *)f)->real;
}

static int shim_close(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
}
static int shim_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return real_of(f)->pMethods->xRead(real_of(f), b, n, o);
}
static int shim_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    return real_of(f)->pMethods->xWrite(real_of(f), b, n, o);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
    int kind = ((shim_file *)f)->flags;
    if (kind & SQLITE_OPEN_WAL)
        atomic_fetch_add(&wal_syncs, 1);
    else if (kind & SQLITE_OPEN_MAIN_DB)
        atomic_fetch_add(&db_syncs, 1);
    return real_of(f)->pMethods->xSync(real_of(f), flags);
}
static int shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
static int shim_lock(sqlite3_file *f, int l)
{
    return real_of(f)->pMethods->xLock(real_of(f), l);
}
static int shim_unlock(sqlite3_file *f, int l)
{
    return real_of(f)->pMethods->xUnlock(real_of(f), l);
}
static int shim_check_lock(sqlite3_file *f, int *out)
{
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
static int shim_fcntl(sqlite3_file *f, int op, void *arg)
{
    return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
static int shim_sector(sqlite3_file *f)
{
    return real_of(f)->pMethods->xSectorSize(real_of(f));
}
static int shim_device(sqlite3_file *f)
{
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
static int shim_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
    return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, extend, pp);
}
static int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
    real_of(f)->pMethods->xShmBarrier(real_of(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
    return real_of(f)->pMethods->xShmUnmap(real_of(f), del);
}
static int shim_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
    return real_of(f)->pMethods->xFetch(real_of(f), o, n, pp);
}
static int shim_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
    return real_of(f)->pMethods->xUnfetch(real_of(f), o, p);
}

static const sqlite3_io_methods shim_io = {
    3,          shim_close,      shim_read,      shim_write,      shim_truncate,
    shim_sync,  shim_size,       shim_lock,      shim_unlock,     shim_check_lock,
    shim_fcntl, shim_sector,     shim_device,    shim_shm_map,    shim_shm_lock,
    shim_shm_barrier, shim_shm_unmap, shim_fetch, shim_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                     int *out_flags)
{
    (void)vfs;
    shim_file *s = (shim_file *)f;
    s->flags = flags;
    s->real = (sqlite3_file *)(s + 1);
    s->real->pMethods = NULL;
    int rc = real_vfs->xOpen(real_vfs, name, s->real, flags, out_flags);
    /* SQLite calls xClose whenever pMethods is set, even after a failed
     * open; shim_close passes it on only when the real file was opened. */
    f->pMethods = &shim_io;
    return rc;
}

static int shim_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int shim_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int shim_full_path(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static int shim_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}
static int shim_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}
static int shim_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, out);
}
static int shim_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xGetLastError(real_vfs, n, out);
}
static int shim_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void shim_install(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    shim_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(shim_file) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = "charter-sync-counter",
        .xOpen = shim_open,
        .xDelete = shim_delete,
        .xAccess = shim_access,
        .xFullPathname = shim_full_path,
        .xRandomness = shim_randomness,
        .xSleep = shim_sleep,
        .xCurrentTime = shim_time,
        .xGetLastError = shim_last_error,
        .xCurrentTimeInt64 = shim_time64,
    };
    if (sqlite3_vfs_register(&shim_vfs, 1) != SQLITE_OK) {
        fprintf(stderr, "cannot register the VFS shim\n");
        exit(1);
    }
}

/* ---- The tests ------------------------------------------------------------ */

static char tmpdir[256];
static char path[512];

static void fresh_dir(void)
{
    test_dir_make("ledger-sync", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
}

static void remove_dir(void)
{
    test_dir_remove(tmpdir);
}

static charter_status add_outcome(charter_ledger *l, double v)
{
    charter_outcome o = {.workflow = "refunds", .from_ms = 1000, .to_ms = 2000,
                         .metric = "m", .value = v};
    return charter_ledger_outcome(l, &o, NULL, NULL);
}

static void test_the_recording_connection_is_synchronous_full(void)
{
    fresh_dir();
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(ledger_sqlite_synchronous(l->store), 2); /* FULL */
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    remove_dir();
}

/* One append at a time: each is a batch of its own, acknowledged only once
 * its commit synced the WAL. */
static void test_each_acknowledged_batch_synced_the_wal(void)
{
    fresh_dir();
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    long before = atomic_load(&wal_syncs);
    enum { N = 40 };
    for (int i = 0; i < N; i++)
        CHECK_INT(add_outcome(l, i), CHARTER_OK);
    long synced = atomic_load(&wal_syncs) - before;
    charter_ledger_stats st;
    charter_ledger_stats_get(l, &st);
    CHECK_INT(st.entries, N);
    CHECK(st.batches >= 1);
    if (synced < (long)st.batches)
        fprintf(stderr, "%ld WAL syncs for %llu acknowledged batches\n", synced,
                (unsigned long long)st.batches);
    CHECK(synced >= (long)st.batches);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    remove_dir();
}

/* The same under concurrency: group commit batches callers, and every
 * batch still syncs. */
typedef struct worker {
    charter_ledger *l;
    int ok;
} worker;

static void *append_many(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 50; i++)
        w->ok += add_outcome(w->l, i) == CHARTER_OK;
    return NULL;
}

static void test_concurrent_batches_each_synced_the_wal(void)
{
    fresh_dir();
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    long before = atomic_load(&wal_syncs);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.l = l};
        pthread_create(&t[i], NULL, append_many, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    long synced = atomic_load(&wal_syncs) - before;
    charter_ledger_stats st;
    charter_ledger_stats_get(l, &st);
    CHECK_INT(w[0].ok + w[1].ok + w[2].ok + w[3].ok, 200);
    CHECK_INT(st.entries, 200);
    CHECK(synced >= (long)st.batches);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    remove_dir();
}

int main(void)
{
    shim_install();
    RUN(test_the_recording_connection_is_synchronous_full);
    RUN(test_each_acknowledged_batch_synced_the_wal);
    RUN(test_concurrent_batches_each_synced_the_wal);
    return TEST_DONE();
}
