/* store.c - what is common to the ledger's backends: which one a path
 * names, how a path is shown (never with its password), where a ledger's
 * local side files go, and the problem names.
 */
#include "base/banned.h"

#include "ledger/store.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

const char *ledger_problem_name(ledger_problem p)
{
    static const char *const names[] = {NULL,        "disk_full",     "busy",
                                        "lock_lost", "file_replaced", "tail_changed",
                                        "read_only", "io_error",      "unavailable"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "io_error";
}

static bool has_prefix(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

bool ledger_path_is_pg(const char *path)
{
    if (!path)
        return false;
    if (has_prefix(path, "postgresql://") || has_prefix(path, "postgres://"))
        return true;
    return strchr(path, '=') && (strstr(path, "dbname=") || strstr(path, "host="));
}

/* Appends s[0..len) to buf at *j, cutting at n - 1. */
static void put(char *buf, size_t n, size_t *j, const char *s, size_t len)
{
    for (size_t i = 0; i < len && *j + 1 < n; i++)
        buf[(*j)++] = s[i];
}

/* Where a `password` key starts a value at path[i] ("password=" in a
 * connection string or a URI's query): returns the index of the value,
 * or 0. */
static size_t password_value_at(const char *path, size_t i)
{
    if (i > 0 && !isspace((unsigned char)path[i - 1]) && path[i - 1] != '?' &&
        path[i - 1] != '&')
        return 0;
    if (strncmp(path + i, "password", 8))
        return 0;
    size_t k = i + 8;
    while (path[k] == ' ' || path[k] == '\t')
        k++;
    if (path[k] != '=')
        return 0;
    k++;
    while (path[k] == ' ' || path[k] == '\t')
        k++;
    return k;
}

/* The end of the value starting at path[k]: quoted ('...' with \' and \\)
 * or up to white space (connection string), or up to '&' or '#' (URI). */
static size_t value_end(const char *path, size_t k, bool uri)
{
    if (!uri && path[k] == '\'') {
        k++;
        while (path[k] && path[k] != '\'') {
            if (path[k] == '\\' && path[k + 1])
                k++;
            k++;
        }
        return path[k] ? k + 1 : k;
    }
    while (path[k] && (uri ? path[k] != '&' && path[k] != '#'
                           : !isspace((unsigned char)path[k])))
        k++;
    return k;
}

void ledger_path_display(const char *path, char *buf, size_t n)
{
    if (!n)
        return;
    size_t j = 0;
    if (!path)
        path = "";
    bool uri = has_prefix(path, "postgresql://") || has_prefix(path, "postgres://");
    size_t i = 0;
    if (uri) {
        /* userinfo: between "//" and the last '@' before the host ends. */
        size_t start = strstr(path, "//") - path + 2;
        size_t end = start + strcspn(path + start, "/?#");
        size_t at = 0;
        for (size_t k = start; k < end; k++)
            if (path[k] == '@')
                at = k;
        if (at) {
            size_t colon = start + strcspn(path + start, ":");
            if (colon < at) {
                put(buf, n, &j, path, colon + 1);
                put(buf, n, &j, "***", 3);
                i = at;
            }
        }
    }
    while (path[i]) {
        size_t k = password_value_at(path, i);
        if (k) {
            put(buf, n, &j, path + i, k - i);
            put(buf, n, &j, "***", 3);
            i = value_end(path, k, uri);
            continue;
        }
        put(buf, n, &j, path + i, 1);
        i++;
    }
    buf[j] = 0;
}

int ledger_sidecar_in(const char *ledger, const char *dir, const char *suffix,
                      char *buf, size_t n)
{
    if (!suffix)
        suffix = "";
    int w;
    if (!ledger_path_is_pg(ledger)) {
        w = snprintf(buf, n, "%s%s", ledger, suffix);
        return w < 0 || (size_t)w >= n ? -1 : 0;
    }
    /* The hash is of the path as shown, so a password change keeps the
     * side files; FNV-1a, 32 bits: a name, not a secret. */
    char shown[2048];
    ledger_path_display(ledger, shown, sizeof shown);
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)shown; *p; p++)
        h = (h ^ *p) * 16777619u;
    char db[64] = "postgres";
    PQconninfoOption *opts = PQconninfoParse(ledger, NULL);
    if (opts) {
        const char *name = NULL, *user = NULL;
        for (PQconninfoOption *o = opts; o->keyword; o++) {
            if (!strcmp(o->keyword, "dbname") && o->val && *o->val)
                name = o->val;
            if (!strcmp(o->keyword, "user") && o->val && *o->val)
                user = o->val;
        }
        if (!name)
            name = user; /* libpq's default database is the user's name */
        if (name) {
            size_t k = 0;
            for (; name[k] && k + 1 < sizeof db; k++)
                db[k] = isalnum((unsigned char)name[k]) || strchr("_.-", name[k])
                            ? name[k] : '_';
            db[k] = 0;
        }
        PQconninfoFree(opts);
    }
    if (dir && *dir)
        w = snprintf(buf, n, "%s%s" "charter-%s-%08x%s", dir,
                     dir[strlen(dir) - 1] == '/' ? "" : "/", db, h, suffix);
    else
        w = snprintf(buf, n, "charter-%s-%08x%s", db, h, suffix);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int ledger_sidecar(const char *ledger, const char *suffix, char *buf, size_t n)
{
    return ledger_sidecar_in(ledger, getenv("CHARTER_STATE_DIR"), suffix, buf, n);
}

charter_status ledger_store_open(const char *path, const ledger_store_config *cfg,
                                 ledger_store **out, charter_error *err)
{
    if (ledger_path_is_pg(path))
        return ledger_pg_ops.open(path, cfg, out, err);
    return ledger_sqlite_ops.open(path, cfg, out, err);
}

void ledger_store_close(ledger_store *s)
{
    if (s)
        s->ops->close(s);
}
