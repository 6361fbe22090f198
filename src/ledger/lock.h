/* lock.h - one recording process per ledger file.
 *
 * A ledger has one writer: the process that appends to it keeps the chain's
 * tail and the stop-rule counters in memory, so a second process appending
 * to the same file would fork what the first believes (and the first would
 * then refuse every decision until restarted). The writer therefore takes an
 * exclusive advisory lock, flock(2) on the sidecar file "<ledger>.lock"
 * (mode 0600), before it writes anything, and keeps it until it closes;
 * the kernel drops it when the process dies, kill -9 included. The lock
 * file holds the holder's pid and command ("<pid> <command>\n") so that a
 * refused process can say who holds the ledger.
 *
 * Readers (verify, export, replay ...) never take it: SQLite's own locking
 * lets them read beside the writer.
 *
 * flock, not fcntl: an fcntl lock belongs to the process, so a second open
 * in the same process would succeed, and closing any descriptor of the
 * file would silently drop it. A sidecar, not the database file: SQLite
 * holds fcntl locks on that one.
 */
#ifndef CHARTER_LEDGER_LOCK_H
#define CHARTER_LEDGER_LOCK_H

#include <sys/types.h>

#include "charter.h"

typedef struct ledger_lock {
    int fd;         /* the locked file; -1 when not held */
    char *path;     /* "<ledger>.lock", malloc'd */
    dev_t dev;      /* what `fd` is, to notice the file being replaced */
    ino_t ino;
} ledger_lock;

/* Takes the lock of the ledger at `ledger_path` without waiting. On
 * success *out holds it (ledger_lock_release). Errors: CHARTER_E_IO when
 * another process (or another open ledger in this one) holds it, with a
 * message naming its pid and command and what to do instead, or when the
 * lock file cannot be created or opened; CHARTER_E_NOMEM. On error *out
 * holds nothing (fd -1, path NULL). */
charter_status ledger_lock_acquire(const char *ledger_path, ledger_lock *out,
                                   charter_error *err);

/* Whether `l` still holds the ledger: "<ledger>.lock" is still the file it
 * locked. When that file was removed or replaced, takes the lock again if
 * nobody holds it (the caller must then check that nobody wrote meanwhile:
 * the chain's tail says so), else fails with CHARTER_E_IO naming the new
 * holder. */
charter_status ledger_lock_check(ledger_lock *l, charter_error *err);

/* Drops the lock (the file stays; NULL and a lock not held are fine). */
void ledger_lock_release(ledger_lock *l);

#endif
