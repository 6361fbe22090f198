/* pg_shared.h - what several Charter servers on one PostgreSQL ledger
 * share besides the entries: a watch that wakes a server when any server
 * appended (LISTEN/NOTIFY), and the lease that lets one server at a time
 * do the one-at-a-time work (deadlines, grants, notifications).
 *
 * Both hold a connection of their own. For a SQLite ledger both are
 * no-ops: ledger_watch_open gives NULL (and CHARTER_OK), the functions
 * accept NULL, and a NULL lease always holds.
 */
#ifndef CHARTER_LEDGER_PG_SHARED_H
#define CHARTER_LEDGER_PG_SHARED_H

#include <stdbool.h>

#include "charter.h"

/* Watches a shared ledger for appends by anyone: its own connection,
 * LISTEN charter_ledger. *out is NULL for a SQLite path (nothing to
 * watch). Fails (CHARTER_E_IO) when the database cannot be reached.
 * Close with ledger_watch_close. */
typedef struct ledger_watch ledger_watch;
charter_status ledger_watch_open(const char *path, ledger_watch **out, charter_error *err);
/* Waits up to timeout_ms: 1 a notification came (all pending ones are
 * consumed; also after a reconnect, since notifications may have been
 * missed while it was lost), 0 timeout (or interrupted), -1 the
 * connection is lost (it reconnects on the next call, waiting up to
 * timeout_ms; while it cannot, the call takes timeout_ms and answers -1,
 * so a loop over it does not spin). NULL: sleeps nothing, returns 0. One
 * thread waits. */
int ledger_watch_wait(ledger_watch *w, int timeout_ms);
/* Wakes a ledger_watch_wait in progress (from another thread) so its owner
 * can stop: it returns 0 at once, and so does the next one if none was in
 * progress. */
void ledger_watch_interrupt(ledger_watch *w);
void ledger_watch_close(ledger_watch *w);

/* The lease for the one-at-a-time work: its own connection,
 * pg_try_advisory_lock on the lease key. *out is NULL for a SQLite path.
 * Opening never fails for an unreachable database (the lease is then not
 * held until it can be taken); CHARTER_E_NOMEM only. */
typedef struct ledger_lease ledger_lease;
charter_status ledger_lease_open(const char *path, ledger_lease **out, charter_error *err);
/* Whether this process holds the lease now: takes it when free; checks the
 * connection is alive when held (a lost connection means lost: reconnect
 * and try again). Never blocks longer than ~1 s. NULL: true. One thread
 * calls it. */
bool ledger_lease_hold(ledger_lease *l);
/* Releases (closes the connection). NULL: nothing. */
void ledger_lease_close(ledger_lease *l);

#endif
