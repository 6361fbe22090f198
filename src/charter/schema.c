/* schema.c - typed reading of charter YAML nodes; see schema.h. */
#include "base/banned.h"

#include "charter/schema.h"

#include <math.h>
#include <stdlib.h>

const char *ch_schema_describe(const ch_yaml_node *n, char *buf, size_t n_buf)
{
    if (!n)
        return "nothing";
    if (n->kind == CH_YAML_MAP)
        return "a mapping";
    if (n->kind == CH_YAML_SEQ)
        return "a list";
    if (ch_yaml_is_null(n))
        return "null";
    if (n->len > 60)
        snprintf(buf, n_buf, "'%.57s...'", n->str);
    else
        snprintf(buf, n_buf, "'%s'", n->str);
    return buf;
}

static charter_status type_error(ch_schema *s, const ch_yaml_node *at,
                                 const char *key, const char *what,
                                 const char *expected)
{
    char buf[80];
    const char *found = ch_schema_describe(at, buf, sizeof buf);
    if (key)
        ch_yaml_error(s->err, CHARTER_E_SCHEMA, at,
                      "'%s' in %s: expected %s, found %s", key, what, expected, found);
    else
        ch_yaml_error(s->err, CHARTER_E_SCHEMA, at, "%s: expected %s, found %s",
                      what, expected, found);
    return CHARTER_E_SCHEMA;
}

charter_status ch_schema_keys(ch_schema *s, const ch_yaml_node *map,
                              const char *what, const char *const *allowed)
{
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i]->str;
        const char *const *a = allowed;
        while (*a && strcmp(*a, k) != 0)
            a++;
        if (*a)
            continue;
        char list[512];
        size_t used = 0;
        list[0] = '\0';
        for (a = allowed; *a && used < sizeof list; a++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s",
                             a == allowed ? "" : ", ", *a);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        char buf[80];
        ch_yaml_error(s->err, CHARTER_E_SCHEMA, map->keys[i],
                      "unknown key %s in %s; expected one of %s",
                      ch_schema_describe(map->keys[i], buf, sizeof buf), what, list);
        return CHARTER_E_SCHEMA;
    }
    return CHARTER_OK;
}

charter_status ch_schema_need_map(ch_schema *s, const ch_yaml_node *n,
                                  const char *what)
{
    if (n->kind == CH_YAML_MAP)
        return CHARTER_OK;
    return type_error(s, n, NULL, what, "a mapping");
}

charter_status ch_schema_missing(ch_schema *s, const ch_yaml_node *map,
                                 const char *key, const char *what)
{
    ch_yaml_error(s->err, CHARTER_E_SCHEMA, map,
                  "missing required key '%s' in %s", key, what);
    return CHARTER_E_SCHEMA;
}

/* The value of `key`, NULL when absent or null. */
static const ch_yaml_node *lookup(const ch_yaml_node *map, const char *key)
{
    const ch_yaml_node *n = ch_yaml_get(map, key);
    return n && ch_yaml_is_null(n) ? NULL : n;
}

charter_status ch_schema_scalar(ch_schema *s, const ch_yaml_node *n,
                                const char *key, const char *what,
                                const char *expected)
{
    if (n->kind != CH_YAML_SCALAR || ch_yaml_is_null(n))
        return type_error(s, n, key, what, expected);
    if (n->len == 0) {
        ch_yaml_error(s->err, CHARTER_E_SCHEMA, n,
                      "'%s' in %s: expected %s, found an empty string", key, what,
                      expected);
        return CHARTER_E_SCHEMA;
    }
    return CHARTER_OK;
}

charter_status ch_schema_str(ch_schema *s, const ch_yaml_node *map,
                             const char *key, const char *what, int flags,
                             const char **out, const ch_yaml_node **at)
{
    *out = NULL;
    const ch_yaml_node *n = lookup(map, key);
    if (at)
        *at = n;
    if (!n)
        return (flags & CH_REQUIRED) ? ch_schema_missing(s, map, key, what) : CHARTER_OK;
    if (n->kind != CH_YAML_SCALAR)
        return type_error(s, n, key, what, "a string");
    *out = arena_strndup(s->mem, n->str, n->len);
    if (!*out) {
        ch_yaml_error(s->err, CHARTER_E_NOMEM, n, "out of memory");
        return CHARTER_E_NOMEM;
    }
    return CHARTER_OK;
}

static int cmp_node_str(const void *x, const void *y)
{
    const ch_yaml_node *a = *(const ch_yaml_node *const *)x;
    const ch_yaml_node *b = *(const ch_yaml_node *const *)y;
    int c = strcmp(a->str, b->str);
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->column < b->column ? -1 : a->column > b->column;
}

charter_status ch_schema_list(ch_schema *s, const ch_yaml_node *map,
                              const char *key, const char *what, int flags,
                              const ch_yaml_node **out)
{
    *out = lookup(map, key);
    if (!*out)
        return (flags & CH_REQUIRED) ? ch_schema_missing(s, map, key, what) : CHARTER_OK;
    if ((*out)->kind != CH_YAML_SEQ)
        return type_error(s, *out, key, what, "a list");
    return CHARTER_OK;
}

charter_status ch_schema_strs(ch_schema *s, const ch_yaml_node *map,
                              const char *key, const char *what, int flags,
                              ch_strs *out, const ch_yaml_node **at)
{
    out->n = 0;
    out->v = NULL;
    const ch_yaml_node *n = lookup(map, key);
    if (at)
        *at = n;
    if (!n) {
        if (flags & CH_REQUIRED)
            return ch_schema_missing(s, map, key, what);
        out->v = arena_alloc(s->mem, 0);
        return CHARTER_OK;
    }
    if (n->kind != CH_YAML_SEQ)
        return type_error(s, n, key, what, "a list of strings");
    for (size_t i = 0; i < n->n; i++) {
        const ch_yaml_node *it = n->items[i];
        if (it->kind != CH_YAML_SCALAR || ch_yaml_is_null(it))
            return type_error(s, it, key, what, "a list of strings");
        if (it->len == 0)
            return type_error(s, it, key, what, "a list of non-empty strings");
    }
    const ch_yaml_node **items = malloc((n->n ? n->n : 1) * sizeof *items);
    const char **v = arena_alloc(s->mem, n->n * sizeof *v);
    if (!items || !v) {
        free(items);
        ch_yaml_error(s->err, CHARTER_E_NOMEM, n, "out of memory");
        return CHARTER_E_NOMEM;
    }
    memcpy(items, n->items, n->n * sizeof *items);
    if (flags & CH_SET) {
        qsort(items, n->n, sizeof *items, cmp_node_str);
        for (size_t i = 1; i < n->n; i++) {
            if (strcmp(items[i - 1]->str, items[i]->str) == 0) {
                ch_yaml_error(s->err, CHARTER_E_SCHEMA, items[i],
                              "'%s' in %s lists '%s' twice; expected each item once",
                              key, what, items[i]->str);
                free(items);
                return CHARTER_E_SCHEMA;
            }
        }
    }
    for (size_t i = 0; i < n->n; i++) {
        v[i] = arena_strndup(s->mem, items[i]->str, items[i]->len);
        if (!v[i]) {
            free(items);
            ch_yaml_error(s->err, CHARTER_E_NOMEM, n, "out of memory");
            return CHARTER_E_NOMEM;
        }
    }
    free(items);
    out->n = n->n;
    out->v = v;
    return CHARTER_OK;
}

charter_status ch_schema_enum(ch_schema *s, const ch_yaml_node *map,
                              const char *key, const char *what,
                              const char *const *names, int flags, int dflt,
                              int *out)
{
    *out = dflt;
    const ch_yaml_node *n = lookup(map, key);
    if (!n)
        return (flags & CH_REQUIRED) ? ch_schema_missing(s, map, key, what) : CHARTER_OK;
    char list[256];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; names[i]; i++) {
        if (n->kind == CH_YAML_SCALAR && strcmp(n->str, names[i]) == 0) {
            *out = i;
            return CHARTER_OK;
        }
        if (used < sizeof list) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                             names[i]);
            if (w > 0)
                used += (size_t)w;
        }
    }
    char buf[80];
    ch_yaml_error(s->err, CHARTER_E_SCHEMA, n,
                  "'%s' in %s: expected one of %s; found %s", key, what, list,
                  ch_schema_describe(n, buf, sizeof buf));
    return CHARTER_E_SCHEMA;
}

charter_status ch_schema_count(ch_schema *s, const ch_yaml_node *map,
                               const char *key, const char *what, int flags,
                               int64_t *out)
{
    *out = -1;
    const ch_yaml_node *n = lookup(map, key);
    if (!n)
        return (flags & CH_REQUIRED) ? ch_schema_missing(s, map, key, what) : CHARTER_OK;
    long long v;
    if (n->kind != CH_YAML_SCALAR || !ch_yaml_as_int(n, &v) || v < 0)
        return type_error(s, n, key, what, "a whole number, 0 or more");
    *out = v;
    return CHARTER_OK;
}

charter_status ch_schema_number(ch_schema *s, const ch_yaml_node *map,
                                const char *key, const char *what, int flags,
                                double *out, bool *has)
{
    *out = 0;
    *has = false;
    const ch_yaml_node *n = lookup(map, key);
    if (!n)
        return (flags & CH_REQUIRED) ? ch_schema_missing(s, map, key, what) : CHARTER_OK;
    double v;
    if (n->kind != CH_YAML_SCALAR || !ch_yaml_as_double(n, &v) || !isfinite(v))
        return type_error(s, n, key, what, "a number");
    *out = v;
    *has = true;
    return CHARTER_OK;
}

charter_status ch_schema_bool(ch_schema *s, const ch_yaml_node *map,
                              const char *key, const char *what, bool dflt,
                              bool *out)
{
    *out = dflt;
    const ch_yaml_node *n = lookup(map, key);
    if (!n)
        return CHARTER_OK;
    if (n->kind != CH_YAML_SCALAR || !ch_yaml_as_bool(n, out))
        return type_error(s, n, key, what, "true or false");
    return CHARTER_OK;
}
