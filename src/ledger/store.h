/* store.h - the ledger's storage interface.
 *
 * Everything above this file (the writer, verify, replay, export) talks to
 * storage through one small table of function pointers, so that a second
 * backend (PostgreSQL, for several Charter servers on one ledger) plugs in
 * without touching its callers. A backend stores two things, append-only:
 * entries (seq, time, kind, payload, prev_hash, hash) and signed checkpoints.
 * It computes nothing: hashes and signatures come from chain.c and keys.c.
 *
 * Two backends: a SQLite file (store_sqlite.c: one writer process) and a
 * PostgreSQL database (store_pg.c: several processes append, each batch
 * under a chain lock; ops.shared says which). ledger_store_open picks one
 * by the path's form (ledger_path_is_pg).
 *
 * Thread safety: one ledger_store is used by one thread at a time (the
 * writer owns the recording connection; readers open their own).
 */
#ifndef CHARTER_LEDGER_STORE_H
#define CHARTER_LEDGER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "charter.h"
#include "charter_ledger.h"

#define LEDGER_HASH_SIZE 32
#define LEDGER_SIG_SIZE 64
#define LEDGER_PK_SIZE 32

/* One entry. In a callback, pointers live until the callback returns. */
typedef struct ledger_entry {
    uint64_t seq;            /* 1, 2, 3 ... without gaps */
    int64_t time_ms;
    const char *kind;
    const char *payload;     /* canonical JSON text, not NUL-terminated */
    size_t payload_len;
    unsigned char prev_hash[LEDGER_HASH_SIZE];
    unsigned char hash[LEDGER_HASH_SIZE];
} ledger_entry;

/* A signed checkpoint: "the entry at `seq` has hash `hash`", and the
 * cadence its writer checkpoints at (signed with the rest, keys.h; both 0
 * in a checkpoint of format 1, which did not record it). */
typedef struct ledger_checkpoint {
    uint64_t seq;
    unsigned char hash[LEDGER_HASH_SIZE];
    unsigned char signature[LEDGER_SIG_SIZE];
    char key_id[CHARTER_KEY_ID_SIZE];
    unsigned char public_key[LEDGER_PK_SIZE];
    int64_t time_ms;
    uint64_t checkpoint_every;
    uint32_t checkpoint_ms;
} ledger_checkpoint;

/* What the tables hold, counted by the store itself (not by walking), so
 * verify can tell whether its walk read every row: rows at seq 0 or below
 * are never read by a walk from seq 1. min/max are 0 for an empty table. */
typedef struct ledger_tally {
    uint64_t entries;
    int64_t entries_min, entries_max;
    uint64_t checkpoints;
    int64_t checkpoints_min, checkpoints_max;
} ledger_tally;

typedef enum ledger_open_mode {
    LEDGER_OPEN_READ = 0,  /* the file must exist */
    LEDGER_OPEN_WRITE = 1  /* created when absent (mode 0600), and held
                              exclusively until closed (lock.h): a second
                              store opened for writing on the same file,
                              in this process or another, is refused */
} ledger_open_mode;

/* Why the last operation on a store failed (ledger_store.problem), so the
 * writer can say what is wrong in a word (charter_ledger_health.reason). */
typedef enum ledger_problem {
    LEDGER_PROBLEM_NONE = 0,
    LEDGER_PROBLEM_DISK_FULL,     /* no space (or a file-size limit) */
    LEDGER_PROBLEM_BUSY,          /* another connection holds SQLite's lock */
    LEDGER_PROBLEM_LOCK_LOST,     /* the writer's lock file was taken away */
    LEDGER_PROBLEM_FILE_REPLACED, /* the path no longer names the file opened */
    LEDGER_PROBLEM_TAIL_CHANGED,  /* the last entry is not the one written */
    LEDGER_PROBLEM_READ_ONLY,     /* the file cannot be written */
    LEDGER_PROBLEM_IO,            /* anything else */
    LEDGER_PROBLEM_UNAVAILABLE    /* the database cannot be reached (PostgreSQL) */
} ledger_problem;

/* "disk_full", "busy", ... ; NULL for LEDGER_PROBLEM_NONE. */
const char *ledger_problem_name(ledger_problem p);

/* How hard ledger_store_ops.check looks. */
typedef enum ledger_check_mode {
    LEDGER_CHECK_READ = 0, /* files, lock and tail, without writing */
    LEDGER_CHECK_WRITE = 1 /* the same, then a commit that changes no entry */
} ledger_check_mode;

typedef struct ledger_store_config {
    ledger_open_mode mode;
    uint32_t busy_timeout_ms;
    /* Test hook: cap the database size at this many pages (0: no cap), so
     * tests can make the "disk" full. */
    uint32_t max_pages;
} ledger_store_config;

/* Returns 0 to go on, nonzero to stop. */
typedef int (*ledger_entry_fn)(const ledger_entry *e, void *user);
typedef int (*ledger_checkpoint_fn)(const ledger_checkpoint *c, void *user);

typedef struct ledger_store ledger_store;

typedef struct ledger_store_ops {
    const char *name;
    /* Several processes may append to one ledger (PostgreSQL); false for
     * SQLite. A shared store's tail moves under its writer: appends go
     * through append_begin, and check ignores last_seq/last_hash. */
    bool shared;
    charter_status (*open)(const char *path, const ledger_store_config *cfg,
                           ledger_store **out, charter_error *err);
    /* Appends entries e[0..n) (their seqs must follow the last stored seq
     * without a gap) and, when cp != NULL, a checkpoint, in ONE transaction
     * that is durable on disk before this returns. All or nothing: on error
     * nothing of the call remains. n may be 0 (a checkpoint alone). */
    charter_status (*append)(ledger_store *s, const ledger_entry *e, size_t n,
                             const ledger_checkpoint *cp, charter_error *err);
    /* Shared stores only (NULL otherwise). Starts an append: opens a
     * transaction on the store's connection, takes the chain lock (held
     * until append commits or append_abort), and reads the last entry into
     * *tail (tail->seq 0: empty; kind and payload not filled). Inside it,
     * read() reads in the same transaction (entries other processes
     * appended). Then append() inserts and COMMITs (it checks e[0].seq ==
     * tail->seq + 1; n 0 with cp NULL just commits), or append_abort rolls
     * back. append() without a preceding append_begin does all of it in
     * one call, as for SQLite. On failure append_begin leaves no
     * transaction open. An append whose connection was lost at COMMIT
     * (problem UNAVAILABLE) may have been committed all the same: the
     * next append_begin's tail says. */
    charter_status (*append_begin)(ledger_store *s, ledger_entry *tail,
                                   charter_error *err);
    void (*append_abort)(ledger_store *s);
    /* Calls fn for every entry with seq >= from_seq, in seq order. */
    charter_status (*read)(ledger_store *s, uint64_t from_seq,
                           ledger_entry_fn fn, void *user, charter_error *err);
    /* The entry with the highest seq; *found is false for an empty ledger.
     * out->kind and out->payload are not filled. */
    charter_status (*last)(ledger_store *s, ledger_entry *out, bool *found,
                           charter_error *err);
    /* Calls fn for every checkpoint in seq order. */
    charter_status (*checkpoints)(ledger_store *s, ledger_checkpoint_fn fn,
                                  void *user, charter_error *err);
    /* (Shared stores: last_seq and last_hash are ignored, since others
     * append; READ checks the server answers, reconnecting once when the
     * connection was lost; WRITE that it commits a transaction.)
     * Whether a store open for writing can still append after the entry
     * (last_seq, last_hash) the caller wrote last (last_seq 0: an empty
     * ledger): its files are the ones it opened, it still holds the ledger
     * exclusively, nobody else appended, and with LEDGER_CHECK_WRITE a
     * commit (a write and a sync that add nothing) goes through. The writer
     * calls it to notice trouble while idle and to notice recovery. */
    charter_status (*check)(ledger_store *s, uint64_t last_seq,
                            const unsigned char last_hash[LEDGER_HASH_SIZE],
                            ledger_check_mode mode, charter_error *err);
    /* Counts the rows of every table that holds entries or refers to them. */
    charter_status (*tally)(ledger_store *s, ledger_tally *out, charter_error *err);
    /* Reads between snapshot_begin and snapshot_end all see the same state
     * of the ledger, whatever a writer appends meanwhile (verify compares
     * counts, checkpoints and entries, which must agree). */
    charter_status (*snapshot_begin)(ledger_store *s, charter_error *err);
    void (*snapshot_end)(ledger_store *s);
    void (*close)(ledger_store *s);
} ledger_store_ops;

/* Every backend's handle starts with this. */
struct ledger_store {
    const ledger_store_ops *ops;
    /* Set by append and check: why the last call failed (NONE after one
     * that succeeded). */
    ledger_problem problem;
};

extern const ledger_store_ops ledger_sqlite_ops;
extern const ledger_store_ops ledger_pg_ops;

/* The SQLite backend's PRAGMA synchronous on this store's connection
 * (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA), or -1 (for tests: a recording
 * connection must report 2). */
int ledger_sqlite_synchronous(ledger_store *s);

/* The PostgreSQL backend's `SHOW synchronous_commit` on this store's
 * connection, copied into buf (n bytes); -1 when it cannot be read (for
 * tests: it must say "on"). */
int ledger_pg_synchronous_commit(ledger_store *s, char *buf, size_t n);

/* Whether a ledger path names a PostgreSQL database rather than a SQLite
 * file: a libpq URI (postgresql://, postgres://) or a connection string
 * (key=value pairs with dbname= or host=). */
bool ledger_path_is_pg(const char *path);

/* Writes path into buf (n bytes, always NUL-terminated when n > 0) with any
 * password replaced by "***" (a URI's user:password@ or a password=
 * key), for messages and logs. Long paths are cut. */
void ledger_path_display(const char *path, char *buf, size_t n);

/* Where a ledger's local side files go (outbox, search index, ...): a
 * SQLite ledger's are next to it, "<path><suffix>"; a PostgreSQL ledger's
 * in dir (NULL or "": the current directory) as
 * "<dir>/charter-<db>-<8 hex of a hash of the path without password><suffix>"
 * (<db> the database name, characters other than [A-Za-z0-9_.-] as '_').
 * Returns 0, or -1 when it does not fit in n bytes. */
int ledger_sidecar_in(const char *ledger, const char *dir, const char *suffix,
                      char *buf, size_t n);
/* ledger_sidecar_in with dir = $CHARTER_STATE_DIR (the contract of issue
 * 16 names the variable; `serve --state-dir` sets it for the process). */
int ledger_sidecar(const char *ledger, const char *suffix, char *buf, size_t n);

/* Opens the backend a path names (ledger_path_is_pg: PostgreSQL, else
 * SQLite). Messages name the path without its password. */
charter_status ledger_store_open(const char *path, const ledger_store_config *cfg,
                                 ledger_store **out, charter_error *err);
void ledger_store_close(ledger_store *s);

/* Fills err (may be NULL) with code and a printf message; returns code. */
charter_status ledger_fail(charter_error *err, charter_status code,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
