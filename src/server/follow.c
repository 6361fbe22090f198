/* follow.c - serving the charter another server loaded (a shared ledger).
 *
 * Every server of a PostgreSQL ledger records, when it starts or reloads,
 * a `charter_loaded` entry naming the version it now serves (after the
 * `charter` entry holding that version's canonical JSON). The ledger calls
 * the others' on_charter_loaded with the version, on its writer thread,
 * which must not wait: srv_follow_note only writes it down. The deadline
 * thread (server.c) calls srv_follow_run on its next tick (within about a
 * second), which reads the `charter` entry from the ledger, turns its
 * canonical JSON back into a source the loader reads (below; the version
 * computed again must match) and swaps it in as a reload would, without
 * recording anything. A version that cannot be loaded (a charter this
 * build does not understand, say) leaves the one serving in place: the log
 * says so once, and /healthz until another version is loaded.
 */
#include "base/banned.h"

#include "server/server.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/store.h"

/* How far back from the tail the `charter` entry is looked for first: it
 * is recorded just before its `charter_loaded` entry, so a full read is
 * needed only for a version recorded long ago. */
#define FOLLOW_TAIL_WINDOW 4096
/* How long a version whose entry cannot be read (the database down) is
 * tried again before it counts as failed. */
#define FOLLOW_RETRY_MS (60 * 1000)

void srv_follow_init(srv_follow *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
}

void srv_follow_release(srv_follow *f)
{
    pthread_mutex_destroy(&f->mu);
}

void srv_follow_note(void *user, const char *version)
{
    srv *s = user;
    pthread_mutex_lock(&s->follow.mu);
    if (strcmp(s->follow.pending, version)) {
        snprintf(s->follow.pending, sizeof s->follow.pending, "%s", version);
        s->follow.since_ms = charter_now_ms();
    }
    pthread_mutex_unlock(&s->follow.mu);
}

bool srv_follow_failed(srv *s, char *version, size_t vn, char *why, size_t wn)
{
    pthread_mutex_lock(&s->follow.mu);
    bool failed = s->follow.failed[0] != '\0';
    snprintf(version, vn, "%s", s->follow.failed_version);
    snprintf(why, wn, "%s", s->follow.failed);
    pthread_mutex_unlock(&s->follow.mu);
    return failed;
}

/* ---- Reading the version's `charter` entry ---------------------------------- */

typedef struct finder {
    const char *version;
    uint64_t stop_at;              /* 0: read to the end */
    char *canonical;
    size_t len;
    bool nomem;
    char server[256];              /* who loaded it last ("": not seen) */
} finder;

/* The `charter` entry of the version (the first one), and the server of
 * the last `charter_loaded` entry naming it. */
static int find_charter(const ledger_entry *e, void *user)
{
    finder *f = user;
    if (f->stop_at && e->seq >= f->stop_at)
        return 1;
    bool loaded = !strcmp(e->kind, "charter_loaded");
    if (!loaded && (strcmp(e->kind, "charter") || f->canonical))
        return 0;
    json_t *p = json_loadb(e->payload, e->payload_len, 0, NULL);
    const char *v = json_string_value(json_object_get(p, "version"));
    if (!v || strcmp(v, f->version)) {
        json_decref(p);
        return 0;
    }
    json_t *canon = json_object_get(p, "canonical");
    const char *server = json_string_value(json_object_get(p, "server"));
    if (loaded && server) {
        snprintf(f->server, sizeof f->server, "%s", server);
    } else if (!loaded && json_is_string(canon)) {
        f->len = json_string_length(canon);
        f->canonical = malloc(f->len + 1);
        if (f->canonical) {
            memcpy(f->canonical, json_string_value(canon), f->len);
            f->canonical[f->len] = '\0';
        } else {
            f->nomem = true;
        }
    }
    json_decref(p);
    return f->nomem;
}

/* The canonical JSON of `version` from the ledger into *out (malloc'd), and
 * who loaded it into by (n bytes; "" when the ledger does not say). */
static charter_status read_version(srv *s, const char *version, char **out, size_t *len,
                                   char *by, size_t n, charter_error *err)
{
    ledger_store_config cfg = {.mode = LEDGER_OPEN_READ, .busy_timeout_ms = 1000};
    ledger_store *ls = NULL;
    charter_status st = ledger_store_open(s->ledger_path, &cfg, &ls, err);
    if (st != CHARTER_OK)
        return st;
    uint64_t last = charter_ledger_last_seq(s->ledger);
    uint64_t from = last > FOLLOW_TAIL_WINDOW ? last - FOLLOW_TAIL_WINDOW : 1;
    finder f = {.version = version};
    st = ls->ops->read(ls, from, find_charter, &f, err);
    if (st == CHARTER_OK && !f.canonical && !f.nomem && from > 1) {
        f.stop_at = from;
        st = ls->ops->read(ls, 1, find_charter, &f, err);
    }
    ledger_store_close(ls);
    snprintf(by, n, "%s", f.server);
    if (st == CHARTER_OK && f.nomem)
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory reading a charter");
    if (st == CHARTER_OK && !f.canonical)
        st = ledger_fail(err, CHARTER_E_REF,
                         "the ledger holds no charter entry for version %s", version);
    if (st != CHARTER_OK) {
        free(f.canonical);
        return st;
    }
    *out = f.canonical;
    *len = f.len;
    return CHARTER_OK;
}

/* ---- From the canonical form back to a charter ------------------------------
 * The canonical JSON is the model written out (canon.c), not the source
 * format the loader reads: every key is present (null when not given),
 * durations are integers of milliseconds under a name ending in "_ms" (a
 * queue's `sla`, a standing approval's `max`), and a workflow's readiness
 * attributes are their scalars' text. Undoing those three gives a source
 * (JSON is YAML) that loads as the same model; the version computed again
 * must be the one asked for, or nothing is swapped. */

/* A readiness attribute's text as the YAML scalar it was written as. */
static json_t *scalar_of(json_t *v)
{
    const char *t = json_string_value(v);
    if (t) {
        json_t *x = json_loads(t, JSON_DECODE_ANY, NULL);
        if (x && (json_is_number(x) || json_is_boolean(x)))
            return x;
        json_decref(x);
    }
    return json_incref(v);
}

static json_t *to_source(json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!a || json_array_append_new(a, to_source(x)) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (!json_is_object(v))
        return json_incref(v);
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        size_t n = strlen(k);
        json_t *y = NULL;
        char key[128];
        snprintf(key, sizeof key, "%s", k);
        if (json_is_null(x)) {
            continue;
        } else if (n > 3 && n < sizeof key && !strcmp(k + n - 3, "_ms") &&
                   json_is_integer(x)) {
            if (!json_integer_value(x))
                continue; /* 0: none */
            key[n - 3] = '\0';
            char ms[32];
            snprintf(ms, sizeof ms, "%lldms", (long long)json_integer_value(x));
            y = json_string(ms);
        } else if (!strcmp(k, "readiness") && json_is_object(x)) {
            y = json_object();
            const char *ak;
            json_t *av;
            json_object_foreach(x, ak, av)
            {
                if (y)
                    json_object_set_new(y, ak, scalar_of(av));
            }
        } else {
            y = to_source(x);
        }
        if (!o || !y || json_object_set_new(o, key, y) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

charter_status srv_charter_from_canonical(const char *version, const char *text,
                                          size_t len, charter **out, charter_error *err)
{
    *out = NULL;
    json_t *canon = json_loadb(text, len, 0, NULL);
    json_t *src = canon ? to_source(canon) : NULL;
    json_decref(canon);
    if (!src)
        return ledger_fail(err, canon ? CHARTER_E_NOMEM : CHARTER_E_INVALID,
                           "the ledger's charter %s is not JSON (or out of memory)", version);
    /* Numbers come back as written when printed with 15 digits (a
     * readiness attribute keeps its text: 0.1, not 0.10000000000000001);
     * one whose shortest form needs more takes all 17. */
    static const size_t precision[] = {JSON_REAL_PRECISION(15), 0};
    charter_status st = CHARTER_E_NOMEM;
    for (size_t i = 0; i < sizeof precision / sizeof precision[0]; i++) {
        char *yaml = json_dumps(src, JSON_COMPACT | JSON_PRESERVE_ORDER | precision[i]);
        if (!yaml) {
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory loading a charter");
            break;
        }
        st = charter_load_string(version, yaml, strlen(yaml), out, err);
        free(yaml);
        if (st != CHARTER_OK || !strcmp(charter_version(*out), version))
            break;
        st = ledger_fail(err, CHARTER_E_INVALID,
                         "the ledger's charter %s loads here as version %s (a charter "
                         "format this build reads differently)",
                         version, charter_version(*out));
        charter_release(*out);
        *out = NULL;
    }
    json_decref(src);
    return st;
}

/* The version from the ledger; failing that, this server's own charter
 * files when they hold that very version (servers deployed with the same
 * files, one of them reloaded first). */
static charter_status load_version(srv *s, const char *version, charter **out,
                                   char *by, size_t n, charter_error *err)
{
    char *text = NULL;
    size_t len = 0;
    charter_status st = read_version(s, version, &text, &len, by, n, err);
    if (st == CHARTER_E_IO)
        return st; /* tried again on the next tick */
    if (st == CHARTER_OK) {
        st = srv_charter_from_canonical(version, text, len, out, err);
        free(text);
        if (st == CHARTER_OK)
            return st;
    }
    charter *own = NULL;
    charter_error ferr;
    memset(&ferr, 0, sizeof ferr);
    if (charter_load(s->charter_path, &own, &ferr) == CHARTER_OK &&
        !strcmp(charter_version(own), version)) {
        *out = own;
        return CHARTER_OK;
    }
    charter_release(own);
    return st;
}

/* Forgets `version` as pending (unless a newer one came meanwhile) and
 * notes the outcome: why (NULL: loaded). */
static void settle(srv *s, const char *version, const char *why)
{
    pthread_mutex_lock(&s->follow.mu);
    if (!strcmp(s->follow.pending, version))
        s->follow.pending[0] = '\0';
    snprintf(s->follow.failed_version, sizeof s->follow.failed_version, "%s",
             why ? version : "");
    snprintf(s->follow.failed, sizeof s->follow.failed, "%s", why ? why : "");
    pthread_mutex_unlock(&s->follow.mu);
}

void srv_follow_run(srv *s)
{
    char version[sizeof s->follow.pending];
    pthread_mutex_lock(&s->follow.mu);
    snprintf(version, sizeof version, "%s", s->follow.pending);
    int64_t since = s->follow.since_ms;
    pthread_mutex_unlock(&s->follow.mu);
    if (!version[0])
        return;
    charter *now = srv_charter(s);
    bool same = !strcmp(charter_version(now), version);
    charter_release(now);
    if (same) {
        settle(s, version, NULL);
        return;
    }
    charter *c = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    char by[256] = "";
    charter_status st = load_version(s, version, &c, by, sizeof by, &err);
    if (st == CHARTER_E_IO && charter_now_ms() - since < FOLLOW_RETRY_MS)
        return; /* the database may be back on the next tick */
    if (st != CHARTER_OK) {
        char msg[1200];
        charter_error_format(&err, msg, sizeof msg);
        now = srv_charter(s);
        srv_log(s, "charter: %s%s%s serves %s, which cannot be loaded here: %s; this "
                   "server keeps serving %s",
                by[0] ? "server '" : "another server", by, by[0] ? "'" : "", version, msg,
                charter_version(now));
        charter_release(now);
        settle(s, version, msg);
        return;
    }
    srv_swap(s, c, NULL, NULL);
    srv_log(s, "charter: now serving %s (loaded by %s)", version,
            by[0] ? by : "another server of the ledger");
    settle(s, version, NULL);
}
