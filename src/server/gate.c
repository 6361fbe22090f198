/* gate.c - who may hold a connection, and for how long (server.h).
 *
 * libmicrohttpd's idle timeout counts silence, so a client that sends one
 * header byte every few seconds keeps its connection for ever, and a
 * thousand such clients keep everyone else out (slowloris). The gate keeps
 * a record of every connection and gives each request deadlines that
 * count time: its headers complete within header_us of the connection's
 * start (or of its last answer plus the idle timeout, on a kept-alive
 * connection), its body within body_us of its headers. A thread checks the
 * deadlines a few times a second and closes the connections past them.
 *
 * Connections that have not shown a valid key (headers still coming, a
 * public route, a refused token) are "unproven"; they may hold at most
 * `unproven_cap` slots. A new connection past that closes the oldest
 * unproven one, so the rest of --max-connections stays a reserve for
 * requests a key has made, and a newcomer is never kept out by old
 * trickling sockets.
 *
 * Closing is shutdown(fd, SHUT_RDWR): libmicrohttpd's event thread then
 * reads the end of the stream and closes the connection itself. A record
 * is removed (srv_gate_closed) before libmicrohttpd closes its socket,
 * under the same lock that shutdown is called with, so the descriptor shut
 * down is always still that connection's, never a reused number.
 */
#include "base/banned.h"

#include "server/server.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "base/limits.h"
#include "base/thread.h"

enum { GATE_UNPROVEN, GATE_READING, GATE_BUSY, GATE_SHUT };

struct srv_gate_conn {
    struct srv_gate_conn *prev, *next; /* in the list of its state */
    int fd;
    int state;
    int64_t deadline_us;               /* UNPROVEN and READING only */
};

typedef struct gate_list {
    srv_gate_conn *head, *tail;        /* oldest first */
    size_t count;
} gate_list;

struct srv_gate {
    pthread_mutex_t mu;                /* guards everything below */
    pthread_cond_t wake;
    gate_list unproven, reading;
    srv_gate_options opt;
    size_t unproven_cap;
    bool stopping;
    pthread_t thread;
    bool started;
};

static void list_push(gate_list *l, srv_gate_conn *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->count++;
}

static void list_remove(gate_list *l, srv_gate_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    l->count--;
}

static gate_list *list_of(srv_gate *g, int state)
{
    return state == GATE_UNPROVEN ? &g->unproven : state == GATE_READING ? &g->reading
                                                                         : NULL;
}

/* Moves c to `state` (mu held); a connection shut down stays shut. */
static void move(srv_gate *g, srv_gate_conn *c, int state, int64_t deadline_us)
{
    if (c->state == GATE_SHUT)
        return;
    gate_list *from = list_of(g, c->state), *to = list_of(g, state);
    if (from)
        list_remove(from, c);
    c->state = state;
    c->deadline_us = deadline_us;
    if (to)
        list_push(to, c);
}

static void shut(srv_gate *g, srv_gate_conn *c)
{
    move(g, c, GATE_SHUT, 0);
    shutdown(c->fd, SHUT_RDWR);
}

static void sweep(srv_gate *g, gate_list *l, int64_t now)
{
    srv_gate_conn *c = l->head;
    while (c) {
        srv_gate_conn *next = c->next;
        if (now >= c->deadline_us)
            shut(g, c);
        c = next;
    }
}

static void *gate_main(void *arg)
{
    srv_gate *g = arg;
    base_thread_name("charter-gate");
    /* A quarter of the shortest deadline, within 50 ms .. 1 s: a
     * connection is closed at most that long after its deadline. */
    int64_t tick = (g->opt.header_us < g->opt.body_us ? g->opt.header_us
                                                      : g->opt.body_us) / 4;
    tick = tick < 50000 ? 50000 : tick > 1000000 ? 1000000 : tick;
    pthread_mutex_lock(&g->mu);
    while (!g->stopping) {
        int64_t now = base_mono_us();
        sweep(g, &g->unproven, now);
        sweep(g, &g->reading, now);
        struct timespec until;
        base_time_after(CLOCK_MONOTONIC, tick, &until);
        pthread_cond_timedwait(&g->wake, &g->mu, &until);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

charter_status srv_gate_new(const srv_gate_options *opt, srv_gate **out)
{
    *out = NULL;
    srv_gate *g = calloc(1, sizeof *g);
    if (!g)
        return CHARTER_E_NOMEM;
    g->opt = *opt;
    size_t reserve = opt->max_connections / CHARTER_CONNECTION_RESERVE_DIVISOR;
    if (reserve < 1)
        reserve = 1;
    g->unproven_cap = opt->max_connections > reserve ? opt->max_connections - reserve : 1;
    base_mutex_init_hot(&g->mu); /* taken a few times by every request */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, gate_main, g) != 0) {
        srv_gate_free(g);
        return CHARTER_E_NOMEM;
    }
    g->started = true;
    *out = g;
    return CHARTER_OK;
}

static void gate_stop(srv_gate *g)
{
    if (!g || !g->started)
        return;
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    g->started = false;
}

void srv_gate_free(srv_gate *g)
{
    if (!g)
        return;
    gate_stop(g);
    /* Every connection was closed (srv_gate_closed) before this. */
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->wake);
    free(g);
}

srv_gate_conn *srv_gate_opened(srv_gate *g, int fd)
{
    srv_gate_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->state = GATE_BUSY; /* in no list until moved */
    pthread_mutex_lock(&g->mu);
    if (g->unproven.count >= g->unproven_cap && g->unproven.head)
        shut(g, g->unproven.head); /* the oldest makes room */
    move(g, c, GATE_UNPROVEN, base_mono_us() + g->opt.header_us);
    pthread_mutex_unlock(&g->mu);
    return c;
}

void srv_gate_headers(srv_gate *g, srv_gate_conn *c, bool has_key)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->mu);
    int64_t deadline = base_mono_us() + g->opt.body_us;
    if (has_key)
        move(g, c, GATE_READING, deadline);
    else if (c->state == GATE_UNPROVEN)
        c->deadline_us = deadline; /* stays where it is, oldest first */
    pthread_mutex_unlock(&g->mu);
}

void srv_gate_request(srv_gate *g, srv_gate_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->mu);
    move(g, c, GATE_BUSY, 0);
    pthread_mutex_unlock(&g->mu);
}

void srv_gate_answered(srv_gate *g, srv_gate_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->mu);
    /* A kept-alive connection may wait for its next request as long as
     * the idle timeout allows; its headers then have header_us. */
    move(g, c, GATE_UNPROVEN, base_mono_us() + g->opt.idle_us + g->opt.header_us);
    pthread_mutex_unlock(&g->mu);
}

void srv_gate_closed(srv_gate *g, srv_gate_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->mu);
    gate_list *l = list_of(g, c->state);
    if (l)
        list_remove(l, c);
    pthread_mutex_unlock(&g->mu);
    free(c);
}
