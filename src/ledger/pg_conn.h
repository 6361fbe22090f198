/* pg_conn.h - what the PostgreSQL parts of the ledger share (store_pg.c,
 * pg_shared.c): opening a libpq connection to a ledger path, bounded waits,
 * and turning a failure into a message and a ledger_problem.
 *
 * Internal to src/ledger; callers outside use store.h and pg_shared.h.
 */
#ifndef CHARTER_LEDGER_PG_CONN_H
#define CHARTER_LEDGER_PG_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger/store.h"

/* The advisory lock keys (one 64-bit key each, per database): the chain
 * lock every append holds until it commits, the lock that makes creating
 * the schema race-safe, and the lease of the one-at-a-time work. */
#define LEDGER_PG_CHAIN_KEY 0x43484c4701LL  /* "CHLG" 1 */
#define LEDGER_PG_SCHEMA_KEY 0x43484c4702LL
#define LEDGER_PG_LEASE_KEY 0x43484c4703LL

/* The channel appends NOTIFY. */
#define LEDGER_PG_CHANNEL "charter_ledger"

/* Opens a connection to a ledger path (a URI or a connection string; its
 * own settings win over the defaults: connect_timeout 5 s,
 * application_name charter) and prepares the session (synchronous_commit
 * on, notices not printed). Blocks up to the connect timeout. On failure
 * returns NULL with err filled (the path shown without its password) and
 * *problem set (UNAVAILABLE when the server cannot be reached). */
PGconn *ledger_pg_connect(const char *path, const char *display, charter_error *err,
                          ledger_problem *problem);

/* Like ledger_pg_connect but returns by deadline_us (base_mono_us) at the
 * latest, and at once when wake_fd (or -1) becomes readable. NULL when it
 * did not connect (no message). */
PGconn *ledger_pg_connect_until(const char *path, int64_t deadline_us, int wake_fd);

/* After a connect or a reset: synchronous_commit on, quiet notices.
 * False when the session cannot be set up. */
bool ledger_pg_session(PGconn *c);

/* Runs one SQL text (no parameters) and returns its last result, or NULL
 * when it did not finish by deadline_us (the connection is then closed
 * and *c set NULL: the server ends the session and releases its locks). */
PGresult *ledger_pg_exec_until(PGconn **c, const char *sql, int64_t deadline_us);

/* What a failed result (or a lost connection when r is NULL) means. */
ledger_problem ledger_pg_problem(PGconn *c, const PGresult *r);

/* The server's message for r (or the connection's), one line, without
 * the trailing newline, in buf. */
const char *ledger_pg_message(PGconn *c, const PGresult *r, char *buf, size_t n);

#endif
