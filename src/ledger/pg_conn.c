/* pg_conn.c - opening libpq connections to a ledger and reading what a
 * failure means (pg_conn.h).
 */
#include "base/banned.h"

#include "ledger/pg_conn.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "base/thread.h"

/* The user's connection string comes last (expand_dbname), so its own
 * settings win over ours. Keepalives: a server that vanished without
 * closing the connection (a host lost, a cable cut) is noticed in about
 * 25 s instead of the system's two hours. */
static const char *const conn_keys[] = {"connect_timeout",  "application_name",
                                        "keepalives_idle",  "keepalives_interval",
                                        "keepalives_count", "dbname",
                                        NULL};
#define CONN_VALUES(path) {"5", "charter", "10", "5", "3", path, NULL}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

bool ledger_pg_session(PGconn *c)
{
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    /* UTF-8 on the wire whatever PGCLIENTENCODING says: payloads are
     * stored and read back byte for byte. */
    PGresult *r = PQexec(c, "SET client_min_messages TO warning;"
                            " SET client_encoding TO 'UTF8'");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    /* A commit is on disk before it returns: 'off' and 'local' become
     * 'on' (which also waits for synchronous standbys when there are
     * any); a stronger setting of the database or role (remote_apply,
     * remote_write) is kept. */
    if (ok) {
        r = PQexec(c, "SELECT set_config('synchronous_commit', 'on', false)"
                      " WHERE current_setting('synchronous_commit') IN ('off', 'local')");
        ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
    }
    return ok;
}

PGconn *ledger_pg_connect(const char *path, const char *display, charter_error *err,
                          ledger_problem *problem)
{
    const char *values[] = CONN_VALUES(path);
    PGconn *c = PQconnectdbParams(conn_keys, values, 1);
    char msg[512];
    if (!c) {
        *problem = LEDGER_PROBLEM_IO;
        ledger_fail(err, CHARTER_E_NOMEM, "out of memory connecting to ledger '%s'",
                    display);
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        *problem = LEDGER_PROBLEM_UNAVAILABLE;
        ledger_fail(err, CHARTER_E_IO, "cannot connect to ledger '%s': %s", display,
                    ledger_pg_message(c, NULL, msg, sizeof msg));
        PQfinish(c);
        return NULL;
    }
    if (!ledger_pg_session(c)) {
        *problem = ledger_pg_problem(c, NULL);
        ledger_fail(err, CHARTER_E_IO, "ledger '%s': cannot set up the session: %s",
                    display, ledger_pg_message(c, NULL, msg, sizeof msg));
        PQfinish(c);
        return NULL;
    }
    *problem = LEDGER_PROBLEM_NONE;
    return c;
}

/* Waits for fd to be ready (events), until deadline_us or wake_fd. 1
 * ready, 0 timeout or woken. */
static int wait_fd(int fd, short events, int64_t deadline_us, int wake_fd)
{
    for (;;) {
        int64_t left = deadline_us - base_mono_us();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = {{.fd = fd, .events = events},
                              {.fd = wake_fd, .events = POLLIN}};
        int rc = poll(p, wake_fd >= 0 ? 2 : 1, (int)((left + 999) / 1000));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return 0;
        if (wake_fd >= 0 && p[1].revents)
            return 0;
        return 1;
    }
}

PGconn *ledger_pg_connect_until(const char *path, int64_t deadline_us, int wake_fd)
{
    const char *values[] = CONN_VALUES(path);
    PGconn *c = PQconnectStartParams(conn_keys, values, 1);
    if (!c || PQstatus(c) == CONNECTION_BAD) {
        PQfinish(c);
        return NULL;
    }
    PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
    for (;;) {
        if (ps == PGRES_POLLING_OK)
            break;
        if (ps == PGRES_POLLING_FAILED) {
            PQfinish(c);
            return NULL;
        }
        short ev = ps == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (!wait_fd(PQsocket(c), ev, deadline_us, wake_fd)) {
            PQfinish(c);
            return NULL;
        }
        ps = PQconnectPoll(c);
    }
    if (!ledger_pg_session(c)) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

PGresult *ledger_pg_exec_until(PGconn **cp, const char *sql, int64_t deadline_us)
{
    PGconn *c = *cp;
    if (!c || !PQsendQuery(c, sql))
        return NULL;
    PGresult *last = NULL;
    for (;;) {
        while (!PQisBusy(c)) {
            PGresult *r = PQgetResult(c);
            if (!r)
                return last;
            PQclear(last);
            last = r;
        }
        if (!wait_fd(PQsocket(c), POLLIN, deadline_us, -1) || !PQconsumeInput(c)) {
            bool timed_out = PQstatus(c) == CONNECTION_OK;
            PQclear(last);
            if (timed_out) {
                PQfinish(c);
                *cp = NULL;
            }
            return NULL;
        }
    }
}

ledger_problem ledger_pg_problem(PGconn *c, const PGresult *r)
{
    if (!c || PQstatus(c) != CONNECTION_OK)
        return LEDGER_PROBLEM_UNAVAILABLE;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return LEDGER_PROBLEM_IO;
    if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
        !strcmp(state, "57P03"))
        return LEDGER_PROBLEM_UNAVAILABLE;
    if (!strcmp(state, "53100"))
        return LEDGER_PROBLEM_DISK_FULL;
    if (!strcmp(state, "25006") || !strcmp(state, "42501"))
        return LEDGER_PROBLEM_READ_ONLY;
    if (!strcmp(state, "40P01") || !strcmp(state, "55P03") || !strcmp(state, "40001"))
        return LEDGER_PROBLEM_BUSY;
    if (!strcmp(state, "23505"))
        return LEDGER_PROBLEM_TAIL_CHANGED;
    return LEDGER_PROBLEM_IO;
}

const char *ledger_pg_message(PGconn *c, const PGresult *r, char *buf, size_t n)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = c ? PQerrorMessage(c) : "";
    if (!m || !*m)
        m = "no answer from the server";
    /* One line: libpq's messages end in a newline and may carry several. */
    size_t j = 0;
    for (size_t i = 0; m[i] && j + 1 < n; i++) {
        char ch = m[i] == '\n' || m[i] == '\r' ? ' ' : m[i];
        if (ch == ' ' && (j == 0 || buf[j - 1] == ' '))
            continue;
        buf[j++] = ch;
    }
    while (j > 0 && buf[j - 1] == ' ')
        j--;
    if (n)
        buf[j] = 0;
    return buf;
}
