/* pg_shared.c - the watch (LISTEN/NOTIFY) and the lease (a session
 * advisory lock) of a shared ledger (pg_shared.h).
 */
#include "base/banned.h"

#include "ledger/pg_shared.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/thread.h"
#include "ledger/pg_conn.h"
#include "ledger/store.h"

struct ledger_watch {
    PGconn *conn;  /* NULL while lost */
    char *path;
    int wake;      /* eventfd: ledger_watch_interrupt */
};

static bool watch_listen(PGconn *c)
{
    PGresult *r = PQexec(c, "LISTEN " LEDGER_PG_CHANNEL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

charter_status ledger_watch_open(const char *path, ledger_watch **out, charter_error *err)
{
    *out = NULL;
    if (!ledger_path_is_pg(path))
        return CHARTER_OK;
    ledger_watch *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory watching a ledger");
    }
    w->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->wake < 0) {
        charter_status st = ledger_fail(err, CHARTER_E_IO, "cannot watch a ledger: eventfd: %s",
                                        strerror(errno));
        free(w->path);
        free(w);
        return st;
    }
    char shown[512];
    ledger_path_display(path, shown, sizeof shown);
    ledger_problem problem;
    w->conn = ledger_pg_connect(path, shown, err, &problem);
    if (w->conn && !watch_listen(w->conn)) {
        char msg[256];
        ledger_fail(err, CHARTER_E_IO, "ledger '%s': cannot LISTEN: %s", shown,
                    ledger_pg_message(w->conn, NULL, msg, sizeof msg));
        PQfinish(w->conn);
        w->conn = NULL;
    }
    if (!w->conn) {
        close(w->wake);
        free(w->path);
        free(w);
        return CHARTER_E_IO;
    }
    *out = w;
    return CHARTER_OK;
}

/* Consumes what the interrupt left: true when there was something. */
static bool take_wake(ledger_watch *w)
{
    uint64_t v;
    return read(w->wake, &v, sizeof v) == (ssize_t)sizeof v;
}

/* Frees every pending notification: true when there was one. */
static bool drain(PGconn *c)
{
    bool any = false;
    PGnotify *n;
    while ((n = PQnotifies(c))) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

int ledger_watch_wait(ledger_watch *w, int timeout_ms)
{
    if (!w)
        return 0;
    int64_t deadline = base_mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    if (take_wake(w))
        return 0;
    if (!w->conn) {
        w->conn = ledger_pg_connect_until(w->path, deadline, w->wake);
        if (w->conn && !watch_listen(w->conn)) {
            PQfinish(w->conn);
            w->conn = NULL;
        }
        if (!w->conn) {
            /* Still lost: the rest of the time passes here, so a caller
             * that loops on the watch does not spin while the server is
             * down. */
            int64_t left = deadline - base_mono_us();
            struct pollfd p = {.fd = w->wake, .events = POLLIN};
            if (left > 0)
                poll(&p, 1, (int)((left + 999) / 1000));
            return take_wake(w) ? 0 : -1;
        }
        return 1; /* what was appended while it was lost was not notified */
    }
    for (;;) {
        if (!PQconsumeInput(w->conn) || PQstatus(w->conn) != CONNECTION_OK) {
            PQfinish(w->conn);
            w->conn = NULL;
            return -1;
        }
        if (drain(w->conn))
            return 1;
        int64_t left = deadline - base_mono_us();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = {{.fd = PQsocket(w->conn), .events = POLLIN},
                              {.fd = w->wake, .events = POLLIN}};
        int rc = poll(p, 2, (int)((left + 999) / 1000));
        if (rc < 0 && errno != EINTR)
            return 0;
        if (p[1].revents) {
            take_wake(w);
            return 0;
        }
    }
}

void ledger_watch_interrupt(ledger_watch *w)
{
    if (!w)
        return;
    uint64_t one = 1;
    ssize_t rc = write(w->wake, &one, sizeof one);
    (void)rc; /* the counter is full only if it was woken 2^64 times */
}

void ledger_watch_close(ledger_watch *w)
{
    if (!w)
        return;
    PQfinish(w->conn);
    close(w->wake);
    free(w->path);
    free(w);
}

struct ledger_lease {
    PGconn *conn; /* NULL while lost */
    char *path;
    bool held;
};

charter_status ledger_lease_open(const char *path, ledger_lease **out, charter_error *err)
{
    *out = NULL;
    if (!ledger_path_is_pg(path))
        return CHARTER_OK;
    ledger_lease *l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        free(l);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory opening a lease");
    }
    *out = l;
    return CHARTER_OK;
}

bool ledger_lease_hold(ledger_lease *l)
{
    if (!l)
        return true;
    int64_t deadline = base_mono_us() + 900 * 1000;
    if (l->conn && l->held) {
        /* Alive: the session, and with it the lock, is still ours. */
        PGresult *r = ledger_pg_exec_until(&l->conn, "SELECT 1", deadline);
        bool alive = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (alive)
            return true;
        l->held = false;
        PQfinish(l->conn);
        l->conn = NULL;
    }
    if (l->conn && PQstatus(l->conn) != CONNECTION_OK) {
        PQfinish(l->conn);
        l->conn = NULL;
    }
    if (!l->conn)
        l->conn = ledger_pg_connect_until(l->path, deadline, -1);
    if (!l->conn)
        return false;
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%lld)", (long long)LEDGER_PG_LEASE_KEY);
    PGresult *r = ledger_pg_exec_until(&l->conn, sql, deadline);
    l->held = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
              !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (!l->held && l->conn && PQstatus(l->conn) != CONNECTION_OK) {
        PQfinish(l->conn);
        l->conn = NULL;
    }
    return l->held;
}

void ledger_lease_close(ledger_lease *l)
{
    if (!l)
        return;
    PQfinish(l->conn); /* ends the session: the server releases the lock */
    free(l->path);
    free(l);
}
