/* load.c - charter YAML files to a `struct charter` (see load.h).
 *
 * Loading runs in passes so that references can point anywhere, in any file:
 *  1. read every file (yaml.c) and collect the items of each section, in
 *     load order (files by name, items by position);
 *  2. per kind, sort the ids (duplicates are then neighbours, reported with
 *     both places) and fix each item's final slot: goals, workflows, agents
 *     and queues are kept sorted by id, values in rank (file) order, rules
 *     as boundaries then rules, each sorted by id;
 *  3. decode each item into its slot, resolving references through the
 *     sorted id tables and compiling CEL (cond.c);
 *  4. canonical JSON and version (canon.c), warnings (warn.c).
 * The YAML trees live in a temporary arena freed at the end; the model
 * lives in the charter's own arena.
 */
#include "base/banned.h"

#include "charter/load.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "base/limits.h"
#include "charter/build.h"
#include "charter/schema.h"
#include "charter/yaml.h"

/* ---- Collected items and id tables -------------------------------------- */

typedef struct item {
    const ch_yaml_node *node;   /* the item's mapping */
    const char *id;             /* in the YAML tree */
} item;

typedef struct vec {
    item *v;
    size_t n, cap;
} vec;

typedef struct idref {
    const char *id;
    size_t seq;                 /* load order */
} idref;

/* Sorted ids of one kind, and each item's final index by load order. */
typedef struct idtab {
    const char *kind;           /* "workflow" ... for messages */
    idref *v;
    size_t n;
    size_t *slot;
} idtab;

typedef struct loader {
    charter *c;
    arena tmp;                  /* YAML trees */
    ch_schema s;
    charter_error *err;
    const ch_yaml_node *first_root;
    const ch_yaml_node *org, *values_list, *default_queue, *readiness;
    vec values, goals, workflows, agents, boundaries, rules, queues;
    vec all_rules;              /* boundaries, then rules (load order each) */
    idtab t_value, t_goal, t_workflow, t_agent, t_rule, t_queue;
    const char **all_actions;   /* every workflow action, sorted */
    size_t all_action_count;
} loader;

static charter_status nomem(loader *L)
{
    ch_yaml_error(L->err, CHARTER_E_NOMEM, NULL, "out of memory while loading the charter");
    return CHARTER_E_NOMEM;
}

static charter_status vec_push(loader *L, vec *v, const ch_yaml_node *node, const char *id)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        item *p = realloc(v->v, cap * sizeof *p);
        if (!p)
            return nomem(L);
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = (item){node, id};
    return CHARTER_OK;
}

static void vec_free(vec *v)
{
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

static void idtab_free(idtab *t)
{
    free(t->v);
    free(t->slot);
    t->v = NULL;
    t->slot = NULL;
}

static int cmp_idref(const void *x, const void *y)
{
    const idref *a = x, *b = y;
    int c = strcmp(a->id, b->id);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static charter_status duplicate(loader *L, const char *kind, const ch_yaml_node *second,
                                const ch_yaml_node *first, const char *id)
{
    ch_yaml_error(L->err, CHARTER_E_DUPLICATE, second,
                  "duplicate %s id '%s': first defined at %s:%u:%u; expected each "
                  "id once", kind, id, first->file, first->line, first->column);
    return CHARTER_E_DUPLICATE;
}

/* Sorts the ids of `v`, refuses duplicates, and sets slot[seq] to the
 * sorted position (by_id) or to seq (load order). */
static charter_status idtab_build(loader *L, const vec *v, const char *kind,
                                  bool by_id, idtab *t)
{
    t->kind = kind;
    t->n = v->n;
    t->v = malloc((v->n ? v->n : 1) * sizeof *t->v);
    t->slot = malloc((v->n ? v->n : 1) * sizeof *t->slot);
    if (!t->v || !t->slot)
        return nomem(L);
    for (size_t i = 0; i < v->n; i++)
        t->v[i] = (idref){v->v[i].id, i};
    qsort(t->v, v->n, sizeof *t->v, cmp_idref);
    for (size_t k = 0; k < v->n; k++) {
        if (k > 0 && strcmp(t->v[k - 1].id, t->v[k].id) == 0)
            return duplicate(L, kind, v->v[t->v[k].seq].node,
                             v->v[t->v[k - 1].seq].node, t->v[k].id);
        t->slot[t->v[k].seq] = by_id ? k : t->v[k].seq;
    }
    return CHARTER_OK;
}

/* Final index of `id`, or -1. */
static long idtab_find(const idtab *t, const char *id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->v[mid].id, id);
        if (c == 0)
            return (long)t->slot[t->v[mid].seq];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* "a, b, c" of the first ids of t, for "expected one of". */
static void id_list(const idtab *t, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    size_t shown = t->n < 8 ? t->n : 8;
    for (size_t i = 0; i < shown && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", t->v[i].id);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (t->n > shown && used < n)
        snprintf(buf + used, n - used, ", ... (%zu in all)", t->n);
}

/* Resolves the scalar `at` against t; *out is the final index. */
static charter_status resolve(loader *L, const idtab *t, const ch_yaml_node *at,
                              const char *key, const char *what, size_t *out)
{
    long i = idtab_find(t, at->str);
    if (i >= 0) {
        *out = (size_t)i;
        return CHARTER_OK;
    }
    char list[600];
    id_list(t, list, sizeof list);
    if (t->n == 0)
        ch_yaml_error(L->err, CHARTER_E_REF, at,
                      "'%s' in %s names undefined %s '%s'; no %s is defined", key,
                      what, t->kind, at->str, t->kind);
    else
        ch_yaml_error(L->err, CHARTER_E_REF, at,
                      "'%s' in %s names undefined %s '%s'; expected one of %s", key,
                      what, t->kind, at->str, list);
    return CHARTER_E_REF;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static bool strs_has(const char *const *v, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid], s);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int cmp_ptr(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t)*(const void *const *)x;
    uintptr_t b = (uintptr_t)*(const void *const *)y;
    return a < b ? -1 : a > b;
}

/* A list of ids of one kind (`key` in `map`), resolved to pointers into
 * `base` (elements of `size` bytes), sorted by address, which is id order
 * for kinds sorted by id and rank order for values. */
static charter_status resolve_set(loader *L, const ch_yaml_node *map, const char *key,
                                  const char *what, int flags, const idtab *t,
                                  const void *base, size_t size, size_t *count,
                                  const void *const **out)
{
    ch_strs ids;
    const ch_yaml_node *list;
    charter_status s = ch_schema_strs(&L->s, map, key, what, flags | CH_SET, &ids, &list);
    if (s != CHARTER_OK)
        return s;
    const void **v = arena_alloc(&L->c->mem, ids.n * sizeof *v);
    if (!v)
        return nomem(L);
    for (size_t i = 0; i < ids.n; i++) {
        size_t idx = 0;
        s = resolve(L, t, list->items[i], key, what, &idx);
        if (s != CHARTER_OK)
            return s;
        v[i] = (const char *)base + idx * size;
    }
    qsort(v, ids.n, sizeof *v, cmp_ptr);
    *count = ids.n;
    *out = v;
    return CHARTER_OK;
}

/* ---- Reading files ------------------------------------------------------- */

static charter_status check_id(loader *L, const ch_yaml_node *item_node, const char *kind,
                               const char **out)
{
    const ch_yaml_node *id = ch_yaml_get(item_node, "id");
    if (!id || ch_yaml_is_null(id))
        return ch_schema_missing(&L->s, item_node, "id", kind);
    charter_status s = ch_schema_scalar(&L->s, id, "id", kind, "a string");
    if (s != CHARTER_OK)
        return s;
    if (id->len > CHARTER_MAX_ID_BYTES) {
        ch_yaml_error(L->err, CHARTER_E_LIMIT, id,
                      "%s id '%.40s...' is %zu bytes long; the limit is %u bytes",
                      kind, id->str, id->len, CHARTER_MAX_ID_BYTES);
        return CHARTER_E_LIMIT;
    }
    *out = id->str;
    return CHARTER_OK;
}

/* Appends the items of the list `list` (the section `key`) to v. */
static charter_status collect(loader *L, const ch_yaml_node *list, const char *key,
                              const char *kind, vec *v)
{
    if (ch_yaml_is_null(list))
        return CHARTER_OK;
    if (list->kind != CH_YAML_SEQ) {
        char buf[80];
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, list, "'%s': expected a list, found %s",
                      key, ch_schema_describe(list, buf, sizeof buf));
        return CHARTER_E_SCHEMA;
    }
    for (size_t i = 0; i < list->n; i++) {
        const ch_yaml_node *it = list->items[i];
        char what[64];
        snprintf(what, sizeof what, "an item of '%s'", key);
        charter_status s = ch_schema_need_map(&L->s, it, what);
        const char *id = NULL;
        if (s == CHARTER_OK)
            s = check_id(L, it, kind, &id);
        if (s == CHARTER_OK)
            s = vec_push(L, v, it, id);
        if (s != CHARTER_OK)
            return s;
    }
    return CHARTER_OK;
}

/* `what` may be given in one file only. */
static charter_status once(loader *L, const ch_yaml_node **seen, const ch_yaml_node *n,
                           const char *what)
{
    if (*seen) {
        ch_yaml_error(L->err, CHARTER_E_DUPLICATE, n,
                      "%s defined again: first defined at %s:%u:%u; expected it in "
                      "one file only", what, (*seen)->file, (*seen)->line,
                      (*seen)->column);
        return CHARTER_E_DUPLICATE;
    }
    *seen = n;
    return CHARTER_OK;
}

static charter_status collect_escalation(loader *L, const ch_yaml_node *esc)
{
    static const char *const keys[] = {"default", "queues", NULL};
    if (ch_yaml_is_null(esc))
        return CHARTER_OK;
    charter_status s = ch_schema_need_map(&L->s, esc, "'escalation'");
    if (s == CHARTER_OK)
        s = ch_schema_keys(&L->s, esc, "escalation", keys);
    if (s != CHARTER_OK)
        return s;
    const ch_yaml_node *def = ch_yaml_get(esc, "default");
    if (def && !ch_yaml_is_null(def)) {
        s = ch_schema_scalar(&L->s, def, "default", "escalation", "a queue id");
        if (s == CHARTER_OK)
            s = once(L, &L->default_queue, def, "escalation.default");
        if (s != CHARTER_OK)
            return s;
    }
    const ch_yaml_node *queues = ch_yaml_get(esc, "queues");
    return queues ? collect(L, queues, "queues", "queue", &L->queues) : CHARTER_OK;
}

static charter_status collect_root(loader *L, const ch_yaml_node *root)
{
    static const char *const keys[] = {"charter", "organization", "values", "goals",
                                       "workflows", "agents", "boundaries", "rules",
                                       "escalation", "readiness", NULL};
    charter_status s = ch_schema_need_map(&L->s, root, "the top level of a charter file");
    if (s == CHARTER_OK)
        s = ch_schema_keys(&L->s, root, "the top level", keys);
    if (s != CHARTER_OK)
        return s;
    if (!L->first_root)
        L->first_root = root;
    const ch_yaml_node *fmt = ch_yaml_get(root, "charter");
    long long version;
    if (fmt && !(ch_yaml_as_int(fmt, &version) && version == 1)) {
        char buf[80];
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, fmt,
                      "'charter' (the format version): expected 1, found %s",
                      ch_schema_describe(fmt, buf, sizeof buf));
        return CHARTER_E_SCHEMA;
    }
    for (size_t i = 0; i < root->n && s == CHARTER_OK; i++) {
        const char *k = root->keys[i]->str;
        const ch_yaml_node *v = root->values[i];
        if (strcmp(k, "organization") == 0)
            s = once(L, &L->org, v, "organization");
        else if (strcmp(k, "values") == 0) {
            s = once(L, &L->values_list, v, "values");
            if (s == CHARTER_OK)
                s = collect(L, v, k, "value", &L->values);
        } else if (strcmp(k, "goals") == 0)
            s = collect(L, v, k, "goal", &L->goals);
        else if (strcmp(k, "workflows") == 0)
            s = collect(L, v, k, "workflow", &L->workflows);
        else if (strcmp(k, "agents") == 0)
            s = collect(L, v, k, "agent", &L->agents);
        else if (strcmp(k, "boundaries") == 0)
            s = collect(L, v, k, "boundary", &L->boundaries);
        else if (strcmp(k, "rules") == 0)
            s = collect(L, v, k, "rule", &L->rules);
        else if (strcmp(k, "escalation") == 0)
            s = collect_escalation(L, v);
        else if (strcmp(k, "readiness") == 0 && !ch_yaml_is_null(v))
            s = once(L, &L->readiness, v, "readiness");
    }
    return s;
}

/* ---- Decoding ------------------------------------------------------------ */

static const char *const effect_names[] = {"allow", "deny", "escalate", NULL};
static const charter_effect effect_of[] = {CHARTER_ALLOW, CHARTER_DENY, CHARTER_ESCALATE};
static const char *const autonomy_names[] = {"agent-ready", "agent-augmented",
                                             "human-only", NULL};

static charter_status decode_org(loader *L)
{
    static const char *const keys[] = {"name", "purpose", "context", NULL};
    if (!L->org)
        return ch_schema_missing(&L->s, L->first_root, "organization",
                                 "the charter (in any of its files)");
    charter_status s = ch_schema_need_map(&L->s, L->org, "'organization'");
    if (s == CHARTER_OK)
        s = ch_schema_keys(&L->s, L->org, "organization", keys);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, L->org, "name", "organization", CH_REQUIRED,
                          &L->c->name, NULL);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, L->org, "purpose", "organization", 0, &L->c->purpose, NULL);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, L->org, "context", "organization", 0, &L->c->context, NULL);
    return s;
}

/* The readiness map's thresholds: each optional, defaults in model.h. */
static charter_status decode_readiness_policy(loader *L)
{
    static const char *const keys[] = {"min_cases", "promote_approval", "boundary_rise",
                                       NULL};
    ch_readiness_policy *p = &L->c->readiness;
    p->min_cases = CH_READINESS_MIN_CASES;
    p->promote_approval = CH_READINESS_PROMOTE_APPROVAL;
    p->boundary_rise = CH_READINESS_BOUNDARY_RISE;
    if (!L->readiness)
        return CHARTER_OK;
    p->is_set = true;
    const char *what = "'readiness'";
    charter_status s = ch_schema_need_map(&L->s, L->readiness, what);
    if (s == CHARTER_OK)
        s = ch_schema_keys(&L->s, L->readiness, "readiness", keys);
    int64_t cases = -1;
    double num;
    bool has;
    if (s == CHARTER_OK)
        s = ch_schema_count(&L->s, L->readiness, "min_cases", what, 0, &cases);
    if (s == CHARTER_OK && cases >= 0)
        p->min_cases = cases;
    if (s == CHARTER_OK)
        s = ch_schema_number(&L->s, L->readiness, "promote_approval", what, 0, &num, &has);
    if (s == CHARTER_OK && has) {
        if (num < 0 || num > 1) {
            ch_yaml_error(L->err, CHARTER_E_SCHEMA,
                          ch_yaml_get(L->readiness, "promote_approval"),
                          "'promote_approval' is a share of approved escalations; "
                          "expected a number from 0 to 1, found %g", num);
            return CHARTER_E_SCHEMA;
        }
        p->promote_approval = num;
    }
    if (s == CHARTER_OK)
        s = ch_schema_number(&L->s, L->readiness, "boundary_rise", what, 0, &num, &has);
    if (s == CHARTER_OK && has) {
        if (num < 1) {
            ch_yaml_error(L->err, CHARTER_E_SCHEMA, ch_yaml_get(L->readiness, "boundary_rise"),
                          "'boundary_rise' is how many times the boundary-hit rate must "
                          "grow; expected a number of at least 1, found %g", num);
            return CHARTER_E_SCHEMA;
        }
        p->boundary_rise = num;
    }
    return s;
}

static ch_pos pos_of(const ch_yaml_node *n)
{
    return (ch_pos){n->file, n->line, n->column};
}

static charter_status decode_values(loader *L)
{
    static const char *const keys[] = {"id", "statement", "metrics", NULL};
    if (!L->values_list)
        return ch_schema_missing(&L->s, L->first_root, "values",
                                 "the charter (in any of its files)");
    ch_value *out = arena_calloc(&L->c->mem, L->values.n, sizeof *out);
    if (!out)
        return nomem(L);
    for (size_t i = 0; i < L->values.n; i++) {
        const ch_yaml_node *n = L->values.v[i].node;
        ch_value *v = &out[i];
        char what[200];
        snprintf(what, sizeof what, "value '%s'", L->values.v[i].id);
        charter_status s = ch_schema_keys(&L->s, n, "value", keys);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "id", what, CH_REQUIRED, &v->id, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "statement", what, CH_REQUIRED, &v->statement, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_strs(&L->s, n, "metrics", what, 0, &v->metrics, NULL);
        if (s != CHARTER_OK)
            return s;
        v->rank = (unsigned)i;
        v->pos = pos_of(n);
    }
    L->c->values = out;
    L->c->value_count = L->values.n;
    return CHARTER_OK;
}

/* Outcomes and health metrics are kept sorted by metric (their order
 * carries no meaning); a metric listed twice is refused. */
static int pos_cmp(ch_pos a, ch_pos b)
{
    if (a.line != b.line)
        return a.line < b.line ? -1 : 1;
    return a.column < b.column ? -1 : a.column > b.column;
}

static int cmp_outcome(const void *x, const void *y)
{
    const ch_outcome *a = x, *b = y;
    int c = strcmp(a->metric, b->metric);
    return c ? c : pos_cmp(a->pos, b->pos);
}

static int cmp_health(const void *x, const void *y)
{
    const ch_health *a = x, *b = y;
    int c = strcmp(a->metric, b->metric);
    return c ? c : pos_cmp(a->pos, b->pos);
}

static charter_status metric_twice(loader *L, const char *kind, const char *metric,
                                   const char *what, ch_pos first, ch_pos second)
{
    ch_yaml_node at = {.file = second.file, .line = second.line, .column = second.column};
    ch_yaml_error(L->err, CHARTER_E_DUPLICATE, &at,
                  "%s '%s' listed twice in %s: first at %s:%u:%u; expected each metric "
                  "once", kind, metric, what, first.file, first.line, first.column);
    return CHARTER_E_DUPLICATE;
}

static charter_status decode_outcomes(loader *L, const ch_yaml_node *map, const char *what,
                                      ch_goal *g)
{
    static const char *const keys[] = {"metric", "target", "direction", NULL};
    static const char *const dirs[] = {"increase", "decrease", NULL};
    const ch_yaml_node *list;
    charter_status s = ch_schema_list(&L->s, map, "outcomes", what, 0, &list);
    if (s != CHARTER_OK || !list)
        return s;
    ch_outcome *out = arena_calloc(&L->c->mem, list->n, sizeof *out);
    if (!out)
        return nomem(L);
    for (size_t i = 0; i < list->n; i++) {
        const ch_yaml_node *n = list->items[i];
        char w[240];
        snprintf(w, sizeof w, "an outcome of %s", what);
        s = ch_schema_need_map(&L->s, n, w);
        if (s == CHARTER_OK)
            s = ch_schema_keys(&L->s, n, "outcome", keys);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "metric", w, CH_REQUIRED, &out[i].metric, NULL);
        bool has;
        if (s == CHARTER_OK)
            s = ch_schema_number(&L->s, n, "target", w, CH_REQUIRED, &out[i].target, &has);
        int dir = 0;
        if (s == CHARTER_OK)
            s = ch_schema_enum(&L->s, n, "direction", w, dirs, 0, 0, &dir);
        if (s != CHARTER_OK)
            return s;
        out[i].direction = dir ? CH_DECREASE : CH_INCREASE;
        out[i].pos = pos_of(n);
    }
    qsort(out, list->n, sizeof *out, cmp_outcome);
    for (size_t i = 1; i < list->n; i++) {
        if (strcmp(out[i - 1].metric, out[i].metric) == 0)
            return metric_twice(L, "outcome", out[i].metric, what, out[i - 1].pos,
                                out[i].pos);
    }
    g->outcomes = out;
    g->outcome_count = list->n;
    return CHARTER_OK;
}

static charter_status decode_health(loader *L, const ch_yaml_node *map, const char *what,
                                    ch_goal *g)
{
    static const char *const keys[] = {"metric", "min", "max", NULL};
    const ch_yaml_node *list;
    charter_status s = ch_schema_list(&L->s, map, "health", what, 0, &list);
    if (s != CHARTER_OK || !list)
        return s;
    ch_health *out = arena_calloc(&L->c->mem, list->n, sizeof *out);
    if (!out)
        return nomem(L);
    for (size_t i = 0; i < list->n; i++) {
        const ch_yaml_node *n = list->items[i];
        ch_health *h = &out[i];
        char w[240];
        snprintf(w, sizeof w, "a health metric of %s", what);
        s = ch_schema_need_map(&L->s, n, w);
        if (s == CHARTER_OK)
            s = ch_schema_keys(&L->s, n, "health metric", keys);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "metric", w, CH_REQUIRED, &h->metric, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_number(&L->s, n, "min", w, 0, &h->min, &h->has_min);
        if (s == CHARTER_OK)
            s = ch_schema_number(&L->s, n, "max", w, 0, &h->max, &h->has_max);
        if (s != CHARTER_OK)
            return s;
        if (!h->has_min && !h->has_max) {
            ch_yaml_error(L->err, CHARTER_E_SCHEMA, n,
                          "health metric '%s' of %s sets no limit; expected 'min', "
                          "'max' or both", h->metric, what);
            return CHARTER_E_SCHEMA;
        }
        if (h->has_min && h->has_max && h->min > h->max) {
            ch_yaml_error(L->err, CHARTER_E_SCHEMA, n,
                          "health metric '%s' of %s has min %g above max %g; "
                          "expected min <= max", h->metric, what, h->min, h->max);
            return CHARTER_E_SCHEMA;
        }
        h->pos = pos_of(n);
    }
    qsort(out, list->n, sizeof *out, cmp_health);
    for (size_t i = 1; i < list->n; i++) {
        if (strcmp(out[i - 1].metric, out[i].metric) == 0)
            return metric_twice(L, "health metric", out[i].metric, what, out[i - 1].pos,
                                out[i].pos);
    }
    g->health = out;
    g->health_count = list->n;
    return CHARTER_OK;
}

static charter_status decode_goals(loader *L)
{
    static const char *const keys[] = {"id", "objective", "serves", "outcomes",
                                       "health", NULL};
    ch_goal *out = arena_calloc(&L->c->mem, L->goals.n, sizeof *out);
    if (!out)
        return nomem(L);
    L->c->goals = out;
    L->c->goal_count = L->goals.n;
    for (size_t i = 0; i < L->goals.n; i++) {
        const ch_yaml_node *n = L->goals.v[i].node;
        ch_goal *g = &out[L->t_goal.slot[i]];
        char what[200];
        snprintf(what, sizeof what, "goal '%s'", L->goals.v[i].id);
        charter_status s = ch_schema_keys(&L->s, n, "goal", keys);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "id", what, CH_REQUIRED, &g->id, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "objective", what, CH_REQUIRED, &g->objective, NULL);
        if (s == CHARTER_OK)
            s = resolve_set(L, n, "serves", what, 0, &L->t_value, L->c->values,
                            sizeof(ch_value), &g->serves_count,
                            (const void *const **)&g->serves);
        if (s == CHARTER_OK)
            s = decode_outcomes(L, n, what, g);
        if (s == CHARTER_OK)
            s = decode_health(L, n, what, g);
        if (s != CHARTER_OK)
            return s;
        g->pos = pos_of(n);
    }
    return CHARTER_OK;
}

/* Known readiness attributes and their allowed values (NULL: a number). */
typedef struct readiness_key {
    const char *key;
    const char *const *values;
} readiness_key;

static const char *const rev_values[] = {"reversible", "partially-reversible",
                                         "irreversible", NULL};
static const char *const blast_values[] = {"low", "medium", "high", NULL};
static const char *const exposure_values[] = {"none", "low", "medium", "high", NULL};
static const char *const sensitivity_values[] = {"public", "internal", "confidential",
                                                 "restricted", NULL};
static const readiness_key readiness_keys[] = {
    {"reversibility", rev_values},
    {"blast_radius", blast_values},
    {"regulatory_exposure", exposure_values},
    {"volume", NULL},
    {"data_sensitivity", sensitivity_values},
};

static int cmp_attr(const void *x, const void *y)
{
    return strcmp(((const ch_attr *)x)->key, ((const ch_attr *)y)->key);
}

static charter_status decode_readiness(loader *L, const ch_yaml_node *map, const char *what,
                                       ch_workflow *w)
{
    const ch_yaml_node *r = ch_yaml_get(map, "readiness");
    w->attrs = arena_alloc(&L->c->mem, 0);
    if (!r || ch_yaml_is_null(r))
        return CHARTER_OK;
    char rwhat[240];
    snprintf(rwhat, sizeof rwhat, "'readiness' of %s", what);
    charter_status s = ch_schema_need_map(&L->s, r, rwhat);
    if (s != CHARTER_OK)
        return s;
    ch_attr *attrs = arena_calloc(&L->c->mem, r->n, sizeof *attrs);
    if (!attrs)
        return nomem(L);
    for (size_t i = 0; i < r->n; i++) {
        const ch_yaml_node *k = r->keys[i], *v = r->values[i];
        s = ch_schema_scalar(&L->s, v, k->str, rwhat, "a scalar (a word or a number)");
        if (s != CHARTER_OK)
            return s;
        for (size_t j = 0; j < sizeof readiness_keys / sizeof readiness_keys[0]; j++) {
            const readiness_key *rk = &readiness_keys[j];
            if (strcmp(rk->key, k->str) != 0)
                continue;
            int idx;
            double num;
            bool has;
            if (rk->values)
                s = ch_schema_enum(&L->s, r, k->str, rwhat, rk->values, 0, 0, &idx);
            else
                s = ch_schema_number(&L->s, r, k->str, rwhat, 0, &num, &has);
            if (s != CHARTER_OK)
                return s;
        }
        attrs[i].key = arena_strdup(&L->c->mem, k->str);
        attrs[i].value = arena_strndup(&L->c->mem, v->str, v->len);
        if (!attrs[i].key || !attrs[i].value)
            return nomem(L);
    }
    qsort(attrs, r->n, sizeof *attrs, cmp_attr);
    w->attrs = attrs;
    w->attr_count = r->n;
    return CHARTER_OK;
}

static charter_status decode_stop_rule(loader *L, const ch_yaml_node *n, const char *what,
                                       ch_stop_rule *r)
{
    static const char *const keys[] = {"id", "max_actions_per_run", "max_actions_per_day",
                                       "max_spend_per_run", "max_spend_per_day", "spend",
                                       "when", "message", NULL};
    char w[300];
    snprintf(w, sizeof w, "stop rule '%s' of %s", ch_yaml_get(n, "id")->str, what);
    bool has_run = false, has_day = false;
    const ch_yaml_node *spend = NULL, *when = NULL;
    charter_status s = ch_schema_keys(&L->s, n, "stop rule", keys);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "id", w, CH_REQUIRED, &r->id, NULL);
    if (s == CHARTER_OK)
        s = ch_schema_count(&L->s, n, "max_actions_per_run", w, 0, &r->max_actions_per_run);
    if (s == CHARTER_OK)
        s = ch_schema_count(&L->s, n, "max_actions_per_day", w, 0, &r->max_actions_per_day);
    if (s == CHARTER_OK)
        s = ch_schema_number(&L->s, n, "max_spend_per_run", w, 0, &r->max_spend_per_run,
                             &has_run);
    if (s == CHARTER_OK)
        s = ch_schema_number(&L->s, n, "max_spend_per_day", w, 0, &r->max_spend_per_day,
                             &has_day);
    const char *text;
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "spend", w, 0, &text, &spend);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "when", w, 0, &text, &when);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "message", w, 0, &r->message, NULL);
    if (s != CHARTER_OK)
        return s;
    if ((has_run && r->max_spend_per_run < 0) || (has_day && r->max_spend_per_day < 0)) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, n,
                      "%s has a negative spend limit; expected 0 or more", w);
        return CHARTER_E_SCHEMA;
    }
    if (!has_run)
        r->max_spend_per_run = -1;
    if (!has_day)
        r->max_spend_per_day = -1;
    if (r->max_actions_per_run < 0 && r->max_actions_per_day < 0 && !has_run && !has_day &&
        !when) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, n,
                      "%s sets no limit; expected at least one of max_actions_per_run, "
                      "max_actions_per_day, max_spend_per_run, max_spend_per_day, when", w);
        return CHARTER_E_SCHEMA;
    }
    if (spend)
        s = ch_cond_compile(L->c, spend, CH_COND_SPEND, "spend", w, &r->spend, L->err);
    if (s == CHARTER_OK && when)
        s = ch_cond_compile(L->c, when, CH_COND_WHEN, "when", w, &r->when, L->err);
    if (s != CHARTER_OK)
        return s;
    r->pos = pos_of(n);
    return CHARTER_OK;
}

static charter_status decode_stop_rules(loader *L, const ch_yaml_node *map, const char *what,
                                        ch_workflow *w)
{
    const ch_yaml_node *list;
    charter_status s = ch_schema_list(&L->s, map, "stop_rules", what, 0, &list);
    w->stop_rules = arena_alloc(&L->c->mem, 0);
    if (s != CHARTER_OK || !list)
        return s;
    vec items = {0};
    idtab t = {0};
    for (size_t i = 0; i < list->n && s == CHARTER_OK; i++) {
        const ch_yaml_node *n = list->items[i];
        char w2[240];
        snprintf(w2, sizeof w2, "a stop rule of %s", what);
        const char *id = NULL;
        s = ch_schema_need_map(&L->s, n, w2);
        if (s == CHARTER_OK)
            s = check_id(L, n, "stop rule", &id);
        if (s == CHARTER_OK)
            s = vec_push(L, &items, n, id);
    }
    if (s == CHARTER_OK)
        s = idtab_build(L, &items, "stop rule", false, &t);
    ch_stop_rule *out = NULL;
    if (s == CHARTER_OK && !(out = arena_calloc(&L->c->mem, list->n, sizeof *out)))
        s = nomem(L);
    for (size_t i = 0; i < list->n && s == CHARTER_OK; i++) {
        s = decode_stop_rule(L, list->items[i], what, &out[i]);
        if (s == CHARTER_OK && !ch_yaml_get(list->items[i], "message")) {
            out[i].message = arena_printf(&L->c->mem, "Stop rule '%s' of workflow '%s' "
                                          "reached its limit.", out[i].id, w->id);
            if (!out[i].message)
                s = nomem(L);
        }
    }
    vec_free(&items);
    idtab_free(&t);
    if (s != CHARTER_OK)
        return s;
    w->stop_rules = out;
    w->stop_rule_count = list->n;
    return CHARTER_OK;
}

static charter_status decode_queue_ref(loader *L, const ch_yaml_node *map, const char *key,
                                       const char *what, const ch_queue **out)
{
    const char *text;
    const ch_yaml_node *at;
    *out = NULL;
    charter_status s = ch_schema_str(&L->s, map, key, what, 0, &text, &at);
    if (s != CHARTER_OK || !at)
        return s;
    size_t idx = 0;
    s = resolve(L, &L->t_queue, at, key, what, &idx);
    if (s == CHARTER_OK)
        *out = &L->c->queues[idx];
    return s;
}

static charter_status decode_workflows(loader *L)
{
    static const char *const keys[] = {"id", "department", "owner", "description",
                                       "autonomy", "goals", "actions", "default",
                                       "escalate_to", "readiness", "stop_rules", NULL};
    static const charter_effect autonomy_default[] = {CHARTER_ALLOW, CHARTER_ESCALATE,
                                                      CHARTER_DENY};
    ch_workflow *out = arena_calloc(&L->c->mem, L->workflows.n, sizeof *out);
    if (!out)
        return nomem(L);
    L->c->workflows = out;
    L->c->workflow_count = L->workflows.n;
    size_t action_total = 0;
    for (size_t i = 0; i < L->workflows.n; i++) {
        const ch_yaml_node *n = L->workflows.v[i].node;
        ch_workflow *w = &out[L->t_workflow.slot[i]];
        char what[200];
        snprintf(what, sizeof what, "workflow '%s'", L->workflows.v[i].id);
        int autonomy = 0, dflt = -1;
        charter_status s = ch_schema_keys(&L->s, n, "workflow", keys);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "id", what, CH_REQUIRED, &w->id, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "department", what, 0, &w->department, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "owner", what, 0, &w->owner, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "description", what, 0, &w->description, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_enum(&L->s, n, "autonomy", what, autonomy_names, CH_REQUIRED, 0,
                               &autonomy);
        if (s == CHARTER_OK)
            s = resolve_set(L, n, "goals", what, 0, &L->t_goal, L->c->goals,
                            sizeof(ch_goal), &w->goal_count,
                            (const void *const **)&w->goals);
        if (s == CHARTER_OK)
            s = ch_schema_strs(&L->s, n, "actions", what, CH_REQUIRED | CH_SET,
                               &w->actions, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_enum(&L->s, n, "default", what, effect_names, 0, -1, &dflt);
        if (s == CHARTER_OK)
            s = decode_queue_ref(L, n, "escalate_to", what, &w->escalate_to);
        if (s == CHARTER_OK)
            s = decode_readiness(L, n, what, w);
        if (s == CHARTER_OK)
            s = decode_stop_rules(L, n, what, w);
        if (s != CHARTER_OK)
            return s;
        w->autonomy = (ch_autonomy)autonomy;
        w->has_explicit_default = dflt >= 0;
        w->default_effect = dflt >= 0 ? effect_of[dflt] : autonomy_default[autonomy];
        w->pos = pos_of(n);
        action_total += w->actions.n;
    }
    /* Every action of every workflow, for checking rule selectors. */
    const char **all = arena_alloc(&L->tmp, action_total * sizeof *all);
    if (!all)
        return nomem(L);
    size_t k = 0;
    for (size_t i = 0; i < L->workflows.n; i++) {
        for (size_t j = 0; j < out[i].actions.n; j++)
            all[k++] = out[i].actions.v[j];
    }
    qsort(all, k, sizeof *all, cmp_str);
    L->all_actions = all;
    L->all_action_count = k;
    return CHARTER_OK;
}

static charter_status decode_agents(loader *L)
{
    static const char *const keys[] = {"id", "department", "owner", "description",
                                       "workflows", NULL};
    ch_agent *out = arena_calloc(&L->c->mem, L->agents.n, sizeof *out);
    if (!out)
        return nomem(L);
    L->c->agents = out;
    L->c->agent_count = L->agents.n;
    for (size_t i = 0; i < L->agents.n; i++) {
        const ch_yaml_node *n = L->agents.v[i].node;
        ch_agent *a = &out[L->t_agent.slot[i]];
        char what[200];
        snprintf(what, sizeof what, "agent '%s'", L->agents.v[i].id);
        charter_status s = ch_schema_keys(&L->s, n, "agent", keys);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "id", what, CH_REQUIRED, &a->id, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "department", what, 0, &a->department, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "owner", what, 0, &a->owner, NULL);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, n, "description", what, 0, &a->description, NULL);
        if (s == CHARTER_OK)
            s = resolve_set(L, n, "workflows", what, CH_REQUIRED, &L->t_workflow,
                            L->c->workflows, sizeof(ch_workflow), &a->workflow_count,
                            (const void *const **)&a->workflows);
        if (s != CHARTER_OK)
            return s;
        a->pos = pos_of(n);
    }
    return CHARTER_OK;
}

static void strs_list(const ch_strs *v, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    size_t shown = v->n < 8 ? v->n : 8;
    for (size_t i = 0; i < shown && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", v->v[i]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (v->n > shown && used < n)
        snprintf(buf + used, n - used, ", ... (%zu in all)", v->n);
}

/* A selector's actions must exist in a selected workflow (or, with no
 * workflow selected, in some workflow): a misspelt action would otherwise
 * silently disable the rule. */
static charter_status check_rule_actions(loader *L, const ch_yaml_node *list,
                                         const char *what, const ch_rule *r)
{
    if (!list)
        return CHARTER_OK;
    for (size_t i = 0; i < list->n; i++) {
        const ch_yaml_node *a = list->items[i];
        bool found = false;
        for (size_t j = 0; j < r->workflow_count && !found; j++)
            found = strs_has(r->workflows[j]->actions.v, r->workflows[j]->actions.n, a->str);
        if (r->workflow_count == 0)
            found = strs_has(L->all_actions, L->all_action_count, a->str);
        if (found)
            continue;
        char list_buf[600];
        if (r->workflow_count == 1) {
            strs_list(&r->workflows[0]->actions, list_buf, sizeof list_buf);
            ch_yaml_error(L->err, CHARTER_E_REF, a,
                          "'actions' in %s names '%s', which is not an action of "
                          "workflow '%s'; expected one of %s", what, a->str,
                          r->workflows[0]->id, list_buf);
        } else {
            ch_yaml_error(L->err, CHARTER_E_REF, a,
                          "'actions' in %s names '%s', which is not an action of %s; "
                          "expected an action listed in a workflow's 'actions'", what,
                          a->str, r->workflow_count ? "any selected workflow"
                                                     : "any workflow");
        }
        return CHARTER_E_REF;
    }
    return CHARTER_OK;
}

static charter_status decode_rule(loader *L, const item *it, ch_rule_kind kind, ch_rule *r)
{
    static const char *const rule_keys[] = {"id", "workflows", "actions", "when", "effect",
                                            "protects", "message", "obligations",
                                            "escalate_to", NULL};
    static const char *const boundary_keys[] = {"id", "source", "message", "workflows",
                                                "actions", "when", "protects", NULL};
    const ch_yaml_node *n = it->node;
    bool is_rule = kind == CH_RULE;
    char what[200];
    snprintf(what, sizeof what, "%s '%s'", is_rule ? "rule" : "boundary", it->id);
    r->kind = kind;
    const ch_yaml_node *actions = NULL, *when = NULL, *protects = NULL;
    const char *text;
    int effect = 1;
    charter_status s = ch_schema_keys(&L->s, n, is_rule ? "rule" : "boundary",
                                      is_rule ? rule_keys : boundary_keys);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "id", what, CH_REQUIRED, &r->id, NULL);
    if (s == CHARTER_OK && !is_rule)
        s = ch_schema_str(&L->s, n, "source", what, CH_REQUIRED, &r->source, NULL);
    if (s == CHARTER_OK && is_rule)
        s = ch_schema_enum(&L->s, n, "effect", what, effect_names, CH_REQUIRED, 0, &effect);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "message", what, CH_REQUIRED, &r->message, NULL);
    if (s == CHARTER_OK)
        s = resolve_set(L, n, "workflows", what, 0, &L->t_workflow, L->c->workflows,
                        sizeof(ch_workflow), &r->workflow_count,
                        (const void *const **)&r->workflows);
    if (s == CHARTER_OK)
        s = ch_schema_strs(&L->s, n, "actions", what, CH_SET, &r->actions, &actions);
    if (s == CHARTER_OK)
        s = check_rule_actions(L, actions, what, r);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "protects", what, 0, &text, &protects);
    if (s == CHARTER_OK && protects) {
        size_t idx = 0;
        s = resolve(L, &L->t_value, protects, "protects", what, &idx);
        if (s == CHARTER_OK)
            r->protects = &L->c->values[idx];
    }
    if (s == CHARTER_OK)
        s = ch_schema_strs(&L->s, n, "obligations", what, 0, &r->obligations, NULL);
    if (s == CHARTER_OK)
        s = decode_queue_ref(L, n, "escalate_to", what, &r->escalate_to);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "when", what, 0, &text, &when);
    if (s != CHARTER_OK)
        return s;
    r->effect = effect_of[effect];
    if (r->escalate_to && r->effect != CHARTER_ESCALATE) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, ch_yaml_get(n, "escalate_to"),
                      "'escalate_to' in %s, whose effect is %s; expected it only on "
                      "rules with effect escalate", what, effect_names[effect]);
        return CHARTER_E_SCHEMA;
    }
    if (when)
        s = ch_cond_compile(L->c, when, CH_COND_WHEN, "when", what, &r->when, L->err);
    r->pos = pos_of(n);
    return s;
}

static charter_status decode_rules(loader *L)
{
    ch_rule *out = arena_calloc(&L->c->mem, L->all_rules.n, sizeof *out);
    if (!out)
        return nomem(L);
    L->c->rules = out;
    L->c->rule_count = L->all_rules.n;
    size_t nb = L->boundaries.n;
    for (size_t i = 0; i < L->all_rules.n; i++) {
        size_t slot = L->t_rule.slot[i];
        charter_status s = decode_rule(L, &L->all_rules.v[i],
                                       i < nb ? CH_BOUNDARY : CH_RULE, &out[slot]);
        if (s != CHARTER_OK)
            return s;
        out[slot].order = (unsigned)slot;
    }
    return CHARTER_OK;
}

/* "90s", "30m", "4h", "2d", "1h30m", "500ms" -> milliseconds. */
static bool parse_duration(const char *s, int64_t *out)
{
    const int64_t max = INT64_C(100) * 366 * 86400 * 1000; /* a century */
    int64_t total = 0;
    if (!*s)
        return false;
    while (*s) {
        if (!(*s >= '0' && *s <= '9'))
            return false;
        int64_t v = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (*s++ - '0');
            if (v > max)
                return false;
        }
        int64_t unit;
        if (s[0] == 'm' && s[1] == 's') {
            unit = 1;
            s += 2;
        } else if (*s == 's') {
            unit = 1000;
            s++;
        } else if (*s == 'm') {
            unit = 60 * 1000;
            s++;
        } else if (*s == 'h') {
            unit = 3600 * 1000;
            s++;
        } else if (*s == 'd') {
            unit = 86400 * 1000;
            s++;
        } else {
            return false;
        }
        if (v > (max - total) / unit)
            return false;
        total += v * unit;
    }
    *out = total;
    return true;
}

/* ---- A queue's notification targets and approval policy ------------------ */

/* A URL the notifier can hand to libcurl as it is: no white space or
 * control characters (they would end up in a request line or a header). */
static bool is_clean_url(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    return true;
}

static bool is_http_url(const char *s)
{
    return (strncmp(s, "http://", 7) == 0 && s[7]) || (strncmp(s, "https://", 8) == 0 && s[8]);
}

/* "mailto:" and one address: local@domain, without the extras mailto URLs
 * allow (several addresses, ?subject=...). */
static bool is_mailto(const char *s)
{
    if (strncmp(s, "mailto:", 7) != 0)
        return false;
    const char *addr = s + 7, *at = strchr(addr, '@');
    return at && at > addr && at[1] && !strchr(at + 1, '@') && !strpbrk(addr, ",;?&<>()\"");
}

static const char *const notify_formats[] = {"webhook", "slack", "email", NULL};

/* One target: a string (its format from the scheme) or {url, format}. */
static charter_status decode_notify_target(loader *L, const ch_yaml_node *t, const char *what,
                                           ch_notify_target *out)
{
    static const char *const keys[] = {"url", "format", NULL};
    const ch_yaml_node *url_at = t;
    const char *url = NULL;
    int format = -1;
    charter_status s = CHARTER_OK;
    char twhat[260];
    snprintf(twhat, sizeof twhat, "a 'notify' target of %s", what);
    if (t->kind == CH_YAML_MAP) {
        s = ch_schema_keys(&L->s, t, "notify target", keys);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, t, "url", twhat, CH_REQUIRED, &url, &url_at);
        if (s == CHARTER_OK)
            s = ch_schema_enum(&L->s, t, "format", twhat, notify_formats, 0, -1, &format);
    } else if (t->kind == CH_YAML_SCALAR && !ch_yaml_is_null(t)) {
        url = arena_strndup(&L->c->mem, t->str, t->len);
        if (!url)
            return nomem(L);
    } else {
        char buf[80];
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, t,
                      "'notify' in %s: expected a URL (http://, https:// or mailto:) or a "
                      "mapping {url, format}, found %s", what,
                      ch_schema_describe(t, buf, sizeof buf));
        return CHARTER_E_SCHEMA;
    }
    if (s != CHARTER_OK)
        return s;
    bool http = is_http_url(url), mail = is_mailto(url);
    if (format < 0)
        format = mail ? CH_NOTIFY_EMAIL : CH_NOTIFY_WEBHOOK;
    const char *expected = NULL;
    if (!is_clean_url(url))
        expected = format == CH_NOTIFY_EMAIL ? "mailto: and one e-mail address, without "
                                               "spaces"
                                             : "an http:// or https:// URL without spaces";
    else if (format == CH_NOTIFY_EMAIL && !mail)
        expected = "mailto: and one e-mail address (format email), such as "
                   "mailto:team@example.com";
    else if (format != CH_NOTIFY_EMAIL && !http)
        expected = format == CH_NOTIFY_SLACK
                       ? "an http:// or https:// URL (format slack: the incoming webhook's URL)"
                       : "an http:// or https:// URL, or mailto: and an e-mail address";
    if (expected) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, url_at, "'notify' in %s: expected %s; found '%s'",
                      what, expected, url);
        return CHARTER_E_SCHEMA;
    }
    out->url = url;
    out->format = (ch_notify_format)format;
    return CHARTER_OK;
}

/* `notify`: one target or a list of 1..CH_NOTIFY_MAX distinct targets. */
static charter_status decode_notify(loader *L, const ch_yaml_node *n, const char *what,
                                    ch_queue *q)
{
    const ch_yaml_node *v = ch_yaml_get(n, "notify");
    if (!v || ch_yaml_is_null(v))
        return CHARTER_OK;
    bool is_list = v->kind == CH_YAML_SEQ;
    size_t count = is_list ? v->n : 1;
    if (is_list && (count == 0 || count > CH_NOTIFY_MAX)) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, v,
                      "'notify' in %s: expected 1 to %d targets, found %zu", what,
                      CH_NOTIFY_MAX, count);
        return CHARTER_E_SCHEMA;
    }
    ch_notify_target *t = arena_calloc(&L->c->mem, count, sizeof *t);
    if (!t)
        return nomem(L);
    for (size_t i = 0; i < count; i++) {
        const ch_yaml_node *at = is_list ? v->items[i] : v;
        charter_status s = decode_notify_target(L, at, what, &t[i]);
        if (s != CHARTER_OK)
            return s;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(t[j].url, t[i].url) == 0) {
                ch_yaml_error(L->err, CHARTER_E_SCHEMA, at,
                              "'notify' in %s lists '%s' twice; expected each target once",
                              what, t[i].url);
                return CHARTER_E_SCHEMA;
            }
        }
    }
    q->notify = t[0].url;
    q->notify_targets = t;
    q->notify_count = count;
    return CHARTER_OK;
}

/* "50%", "12.5%" -> 0.5, 0.125; false unless 0 < N < 100. */
static bool parse_share(const char *s, double *out)
{
    const char *p = s;
    if (!(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (p[0] != '%' || p[1] || p - s > 12)
        return false;
    double pct = strtod(s, NULL);
    if (!(pct > 0 && pct < 100))
        return false;
    *out = pct / 100.0;
    return true;
}

/* `reminders`: ascending shares of the SLA; the defaults when absent. */
static charter_status decode_reminders(loader *L, const ch_yaml_node *n, const char *what,
                                       ch_queue *q)
{
    static const double dflt[] = CH_REMINDERS_DEFAULT;
    const ch_yaml_node *list;
    charter_status s = ch_schema_list(&L->s, n, "reminders", what, 0, &list);
    if (s != CHARTER_OK)
        return s;
    if (list && !q->sla_ms) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, list,
                      "'reminders' in %s, which has no 'sla': reminders are shares of the "
                      "SLA; expected an 'sla' with them, or no 'reminders'", what);
        return CHARTER_E_SCHEMA;
    }
    if (!list) {
        q->reminder_count = 0;
        if (q->sla_ms) {
            q->reminder_count = sizeof dflt / sizeof dflt[0];
            memcpy(q->reminders, dflt, sizeof dflt);
        }
        return CHARTER_OK;
    }
    if (list->n > CH_REMINDERS_MAX) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, list,
                      "'reminders' in %s: expected at most %d, found %zu", what,
                      CH_REMINDERS_MAX, list->n);
        return CHARTER_E_SCHEMA;
    }
    for (size_t i = 0; i < list->n; i++) {
        const ch_yaml_node *it = list->items[i];
        double share = 0;
        char buf[80];
        if (it->kind != CH_YAML_SCALAR || !parse_share(it->str, &share)) {
            ch_yaml_error(L->err, CHARTER_E_SCHEMA, it,
                          "'reminders' in %s: expected a share of the SLA such as 50%% "
                          "(more than 0%%, less than 100%%), found %s", what,
                          ch_schema_describe(it, buf, sizeof buf));
            return CHARTER_E_SCHEMA;
        }
        if (i > 0 && share <= q->reminders[i - 1]) {
            ch_yaml_error(L->err, CHARTER_E_SCHEMA, it,
                          "'reminders' in %s: '%s' after '%s'; expected distinct shares "
                          "in ascending order", what, it->str, list->items[i - 1]->str);
            return CHARTER_E_SCHEMA;
        }
        q->reminders[i] = share;
    }
    q->reminder_count = list->n;
    return CHARTER_OK;
}

/* `quorum`: a count, or {count, when} (`when` a condition on the request,
 * compiled like a rule's). */
static charter_status decode_quorum(loader *L, const ch_yaml_node *n, const char *what,
                                    ch_queue *q)
{
    static const char *const keys[] = {"count", "when", NULL};
    q->quorum = 1;
    q->quorum_when = NULL;
    const ch_yaml_node *v = ch_yaml_get(n, "quorum");
    if (!v || ch_yaml_is_null(v))
        return CHARTER_OK;
    char qwhat[240];
    snprintf(qwhat, sizeof qwhat, "'quorum' of %s", what);
    const ch_yaml_node *count_at = v, *when = NULL;
    if (v->kind == CH_YAML_MAP) {
        const char *text;
        charter_status s = ch_schema_keys(&L->s, v, "quorum", keys);
        if (s == CHARTER_OK && !(count_at = ch_yaml_get(v, "count")))
            s = ch_schema_missing(&L->s, v, "count", qwhat);
        if (s == CHARTER_OK)
            s = ch_schema_str(&L->s, v, "when", qwhat, 0, &text, &when);
        if (s != CHARTER_OK)
            return s;
    }
    long long count;
    if (count_at->kind != CH_YAML_SCALAR || !ch_yaml_as_int(count_at, &count) || count < 1 ||
        count > CH_QUORUM_MAX) {
        char buf[80];
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, count_at,
                      "%s in %s: expected a whole number of approvals from 1 to %d%s, "
                      "found %s", v == count_at ? "'quorum'" : "'count' of 'quorum'", what,
                      CH_QUORUM_MAX, v == count_at ? " or a mapping {count, when}" : "",
                      ch_schema_describe(count_at, buf, sizeof buf));
        return CHARTER_E_SCHEMA;
    }
    if (when && count == 1) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, count_at,
                      "%s has count 1 and a 'when': one approval is needed whatever 'when' "
                      "says; expected count 2 or more", qwhat);
        return CHARTER_E_SCHEMA;
    }
    q->quorum = count;
    if (when)
        return ch_cond_compile(L->c, when, CH_COND_WHEN, "when", qwhat, &q->quorum_when,
                               L->err);
    return CHARTER_OK;
}

/* `standing_approvals: {max: DURATION}`: how long a standing approval given
 * from this queue may last; absent: none may be given. */
static charter_status decode_standing(loader *L, const ch_yaml_node *n, const char *what,
                                      ch_queue *q)
{
    static const char *const keys[] = {"max", NULL};
    q->grant_max_ms = 0;
    const ch_yaml_node *v = ch_yaml_get(n, "standing_approvals");
    if (!v || ch_yaml_is_null(v))
        return CHARTER_OK;
    char swhat[240];
    snprintf(swhat, sizeof swhat, "'standing_approvals' of %s", what);
    const char *max = NULL;
    const ch_yaml_node *max_at = NULL;
    charter_status s = ch_schema_need_map(&L->s, v, swhat);
    if (s == CHARTER_OK)
        s = ch_schema_keys(&L->s, v, "standing_approvals", keys);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, v, "max", swhat, CH_REQUIRED, &max, &max_at);
    if (s != CHARTER_OK)
        return s;
    int64_t ms = 0;
    if (!parse_duration(max, &ms) || ms <= 0 || ms > CH_GRANT_MAX_MS) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, max_at,
                      "'max' in %s: expected a duration longer than 0 and at most 30d, such "
                      "as 8h or 1d; found '%s'", swhat, max);
        return CHARTER_E_SCHEMA;
    }
    q->grant_max_ms = ms;
    return CHARTER_OK;
}

static charter_status decode_queue(loader *L, const item *it, ch_queue *q)
{
    static const char *const keys[] = {"id", "description", "approvers", "sla",
                                       "on_timeout", "next", "notify", "reminders",
                                       "quorum", "require_note", "self_approval",
                                       "standing_approvals", NULL};
    static const char *const note_policies[] = {"deny", "always", NULL};
    static const char *const approver_keys[] = {"roles", "members", NULL};
    static const char *const timeouts[] = {"deny", "allow", "next", NULL};
    const ch_yaml_node *n = it->node;
    char what[200];
    snprintf(what, sizeof what, "queue '%s'", it->id);
    const char *sla = NULL, *text;
    const ch_yaml_node *sla_at = NULL, *next_at = NULL;
    int on_timeout = 0, note = 0;
    charter_status s = ch_schema_keys(&L->s, n, "queue", keys);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "id", what, CH_REQUIRED, &q->id, NULL);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "description", what, 0, &q->description, NULL);
    const ch_yaml_node *ap = ch_yaml_get(n, "approvers");
    char awhat[240];
    snprintf(awhat, sizeof awhat, "'approvers' of %s", what);
    if (s == CHARTER_OK && ap && !ch_yaml_is_null(ap)) {
        s = ch_schema_need_map(&L->s, ap, awhat);
        if (s == CHARTER_OK)
            s = ch_schema_keys(&L->s, ap, "approvers", approver_keys);
    } else {
        ap = NULL;
    }
    if (s == CHARTER_OK)
        s = ch_schema_strs(&L->s, ap, "roles", awhat, CH_SET, &q->roles, NULL);
    if (s == CHARTER_OK)
        s = ch_schema_strs(&L->s, ap, "members", awhat, CH_SET, &q->members, NULL);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "sla", what, 0, &sla, &sla_at);
    if (s == CHARTER_OK && sla && !parse_duration(sla, &q->sla_ms)) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, sla_at,
                      "'sla' in %s: expected a duration such as 90s, 30m, 4h, 2d or "
                      "1h30m; found '%s'", what, sla);
        s = CHARTER_E_SCHEMA;
    }
    if (s == CHARTER_OK)
        s = ch_schema_enum(&L->s, n, "on_timeout", what, timeouts, 0, 0, &on_timeout);
    if (s == CHARTER_OK)
        s = ch_schema_str(&L->s, n, "next", what, 0, &text, &next_at);
    if (s == CHARTER_OK)
        s = decode_notify(L, n, what, q);
    if (s == CHARTER_OK)
        s = decode_reminders(L, n, what, q);
    if (s == CHARTER_OK)
        s = decode_quorum(L, n, what, q);
    if (s == CHARTER_OK)
        s = ch_schema_enum(&L->s, n, "require_note", what, note_policies, 0, 0, &note);
    if (s == CHARTER_OK)
        s = ch_schema_bool(&L->s, n, "self_approval", what, false, &q->self_approval);
    if (s == CHARTER_OK)
        s = decode_standing(L, n, what, q);
    if (s != CHARTER_OK)
        return s;
    q->require_note = note ? CH_NOTE_ALWAYS : CH_NOTE_DENY;
    q->on_timeout = (ch_on_timeout)on_timeout;
    if (q->on_timeout == CH_TIMEOUT_NEXT && !next_at) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, n,
                      "%s has on_timeout next but no 'next'; expected the id of the "
                      "queue to pass to", what);
        return CHARTER_E_SCHEMA;
    }
    if (next_at && q->on_timeout != CH_TIMEOUT_NEXT) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, next_at,
                      "'next' in %s, whose on_timeout is %s; expected 'next' only "
                      "with on_timeout: next", what, timeouts[on_timeout]);
        return CHARTER_E_SCHEMA;
    }
    if (next_at) {
        size_t idx = 0;
        s = resolve(L, &L->t_queue, next_at, "next", what, &idx);
        if (s != CHARTER_OK)
            return s;
        q->next = &L->c->queues[idx];
    }
    q->pos = pos_of(n);
    return CHARTER_OK;
}

/* A chain of `next` queues must end (it is followed on every timeout). */
static charter_status check_queue_cycles(loader *L)
{
    size_t n = L->c->queue_count;
    size_t *walk = calloc(n ? n : 1, sizeof *walk); /* 0: not seen; else walk + 1 */
    if (!walk)
        return nomem(L);
    charter_status s = CHARTER_OK;
    for (size_t i = 0; i < n && s == CHARTER_OK; i++) {
        const ch_queue *q = &L->c->queues[i];
        while (q && walk[q - L->c->queues] == 0) {
            walk[q - L->c->queues] = i + 1;
            q = q->next;
        }
        if (q && walk[q - L->c->queues] == i + 1) {
            ch_yaml_node at = {.file = q->pos.file, .line = q->pos.line,
                               .column = q->pos.column};
            ch_yaml_error(L->err, CHARTER_E_SCHEMA, &at,
                          "queue '%s' passes escalations on in a loop via 'next' back "
                          "to itself; expected the chain of 'next' queues to end", q->id);
            s = CHARTER_E_SCHEMA;
        }
    }
    free(walk);
    return s;
}

static charter_status decode_queues(loader *L)
{
    ch_queue *out = arena_calloc(&L->c->mem, L->queues.n, sizeof *out);
    if (!out)
        return nomem(L);
    L->c->queues = out;
    L->c->queue_count = L->queues.n;
    for (size_t i = 0; i < L->queues.n; i++) {
        charter_status s = decode_queue(L, &L->queues.v[i], &out[L->t_queue.slot[i]]);
        if (s != CHARTER_OK)
            return s;
    }
    if (L->default_queue) {
        size_t idx = 0;
        charter_status s = resolve(L, &L->t_queue, L->default_queue, "default",
                                   "escalation", &idx);
        if (s != CHARTER_OK)
            return s;
        L->c->default_queue = &out[idx];
    } else if (L->queues.n) {
        L->c->default_queue = &out[L->t_queue.slot[0]];
    }
    return check_queue_cycles(L);
}

/* ---- The passes ---------------------------------------------------------- */

static charter_status build_tables(loader *L)
{
    size_t nb = L->boundaries.n, total = nb + L->rules.n;
    if (total > CHARTER_MAX_RULES) {
        const item *past = nb > CHARTER_MAX_RULES ? &L->boundaries.v[CHARTER_MAX_RULES]
                                                  : &L->rules.v[CHARTER_MAX_RULES - nb];
        ch_yaml_error(L->err, CHARTER_E_LIMIT, past->node,
                      "the charter has %zu rules and boundaries; the limit is %u",
                      total, CHARTER_MAX_RULES);
        return CHARTER_E_LIMIT;
    }
    for (size_t i = 0; i < nb; i++) {
        if (vec_push(L, &L->all_rules, L->boundaries.v[i].node, L->boundaries.v[i].id))
            return CHARTER_E_NOMEM;
    }
    for (size_t i = 0; i < L->rules.n; i++) {
        if (vec_push(L, &L->all_rules, L->rules.v[i].node, L->rules.v[i].id))
            return CHARTER_E_NOMEM;
    }
    charter_status s = idtab_build(L, &L->values, "value", false, &L->t_value);
    if (s == CHARTER_OK)
        s = idtab_build(L, &L->goals, "goal", true, &L->t_goal);
    if (s == CHARTER_OK)
        s = idtab_build(L, &L->workflows, "workflow", true, &L->t_workflow);
    if (s == CHARTER_OK)
        s = idtab_build(L, &L->agents, "agent", true, &L->t_agent);
    if (s == CHARTER_OK)
        s = idtab_build(L, &L->queues, "queue", true, &L->t_queue);
    if (s == CHARTER_OK)
        s = idtab_build(L, &L->all_rules, "rule or boundary", true, &L->t_rule);
    if (s != CHARTER_OK)
        return s;
    /* Rules and boundaries share one id space; in the model boundaries come
     * first, then rules, each in id order. */
    size_t bi = 0, ri = nb;
    for (size_t k = 0; k < L->t_rule.n; k++) {
        size_t seq = L->t_rule.v[k].seq;
        L->t_rule.slot[seq] = seq < nb ? bi++ : ri++;
    }
    return CHARTER_OK;
}

/* What the decisions of each workflow may read of the stop-rule counters
 * (ch_workflow.counter_reads): the run's and the day's counters its stop
 * rules limit, and both when any CEL program of the charter refers to
 * `counters` (every condition has been compiled by now). */
static void mark_counter_reads(loader *L)
{
    charter *c = L->c;
    /* The workflows were allocated writable in decode_workflows. */
    ch_workflow *ws = (ch_workflow *)c->workflows;
    for (size_t i = 0; i < c->workflow_count; i++) {
        unsigned reads = c->reads_counters ? CH_READS_RUN | CH_READS_DAY : 0;
        for (size_t k = 0; k < ws[i].stop_rule_count; k++) {
            const ch_stop_rule *sr = &ws[i].stop_rules[k];
            if (sr->max_actions_per_run >= 0 || sr->max_spend_per_run >= 0)
                reads |= CH_READS_RUN;
            if (sr->max_actions_per_day >= 0 || sr->max_spend_per_day >= 0)
                reads |= CH_READS_DAY;
        }
        ws[i].counter_reads = reads;
    }
}

static charter_status build(loader *L)
{
    if (!L->first_root) {
        ch_yaml_error(L->err, CHARTER_E_SCHEMA, NULL, "no charter content; expected "
                      "organization and values");
        return CHARTER_E_SCHEMA;
    }
    charter_status s = build_tables(L);
    if (s == CHARTER_OK)
        s = ch_cond_env_new(L->c, L->err);
    if (s == CHARTER_OK)
        s = decode_org(L);
    if (s == CHARTER_OK)
        s = decode_values(L);
    if (s == CHARTER_OK)
        s = decode_goals(L);
    if (s == CHARTER_OK)
        s = decode_queues(L);
    if (s == CHARTER_OK)
        s = decode_workflows(L);
    if (s == CHARTER_OK)
        s = decode_agents(L);
    if (s == CHARTER_OK)
        s = decode_rules(L);
    if (s == CHARTER_OK)
        s = decode_readiness_policy(L);
    if (s == CHARTER_OK)
        mark_counter_reads(L);
    if (s == CHARTER_OK)
        s = ch_canon_build(L->c, L->err);
    if (s == CHARTER_OK)
        s = ch_warn_collect(L->c, L->err);
    return s;
}

static charter_status loader_init(loader *L, charter_error *err)
{
    memset(L, 0, sizeof *L);
    if (err)
        memset(err, 0, sizeof *err);
    L->err = err;
    L->c = calloc(1, sizeof *L->c);
    if (!L->c)
        return nomem(L);
    atomic_init(&L->c->refs, 1);
    arena_init(&L->c->mem, 64u * 1024u);
    arena_init(&L->tmp, 64u * 1024u);
    L->s.mem = &L->c->mem;
    L->s.err = err;
    return CHARTER_OK;
}

static charter_status loader_finish(loader *L, charter_status s, charter **out)
{
    vec *vecs[] = {&L->values, &L->goals, &L->workflows, &L->agents, &L->boundaries,
                   &L->rules, &L->queues, &L->all_rules};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        vec_free(vecs[i]);
    idtab *tabs[] = {&L->t_value, &L->t_goal, &L->t_workflow, &L->t_agent, &L->t_rule,
                     &L->t_queue};
    for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++)
        idtab_free(tabs[i]);
    arena_release(&L->tmp);
    if (s != CHARTER_OK) {
        ch_charter_free(L->c);
        *out = NULL;
        return s;
    }
    *out = L->c;
    return CHARTER_OK;
}

static charter_status load_file(loader *L, const char *path)
{
    ch_yaml_node *root;
    charter_status s = ch_yaml_parse_file(&L->tmp, path, &root, L->err);
    return s == CHARTER_OK ? collect_root(L, root) : s;
}

static bool is_charter_file(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.')
        return false;
    bool yaml = (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
                (n > 4 && strcmp(name + n - 4, ".yml") == 0);
    bool test = (n > 10 && strcmp(name + n - 10, ".test.yaml") == 0) ||
                (n > 9 && strcmp(name + n - 9, ".test.yml") == 0);
    return yaml && !test;
}

static charter_status load_dir(loader *L, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        ch_yaml_error(L->err, CHARTER_E_IO, NULL, "cannot open directory '%s': %s", dir,
                      strerror(errno));
        return CHARTER_E_IO;
    }
    const char **names = NULL;
    size_t n = 0, cap = 0;
    charter_status s = CHARTER_OK;
    struct dirent *e;
    while (s == CHARTER_OK && (e = readdir(d))) {
        if (!is_charter_file(e->d_name))
            continue;
        const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
        char *path = arena_printf(&L->c->mem, "%s%s%s", dir, sep, e->d_name);
        struct stat st;
        if (!path) {
            s = nomem(L);
        } else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        } else if (n == CHARTER_MAX_FILES) {
            ch_yaml_error(L->err, CHARTER_E_LIMIT, NULL,
                          "'%s' holds more than %u charter files", dir, CHARTER_MAX_FILES);
            s = CHARTER_E_LIMIT;
        } else {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                const char **p = realloc(names, cap * sizeof *p);
                if (!p) {
                    s = nomem(L);
                    break;
                }
                names = p;
            }
            names[n++] = path;
        }
    }
    closedir(d);
    if (s == CHARTER_OK && n == 0) {
        ch_yaml_error(L->err, CHARTER_E_IO, NULL,
                      "no charter files in '%s'; expected *.yaml or *.yml files", dir);
        s = CHARTER_E_IO;
    }
    if (s == CHARTER_OK)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && s == CHARTER_OK; i++)
        s = load_file(L, names[i]);
    free(names);
    if (s != CHARTER_OK && L->err && !L->err->file[0] && s == CHARTER_E_IO)
        snprintf(L->err->file, sizeof L->err->file, "%s", dir);
    return s;
}

charter_status ch_load_path(const char *path, charter **out, charter_error *err)
{
    loader L;
    *out = NULL;
    charter_status s = loader_init(&L, err);
    if (s != CHARTER_OK)
        return loader_finish(&L, s, out);
    struct stat st;
    if (stat(path, &st) != 0) {
        ch_yaml_error(err, CHARTER_E_IO, NULL, "cannot open '%s': %s", path,
                      strerror(errno));
        if (err)
            snprintf(err->file, sizeof err->file, "%s", path);
        return loader_finish(&L, CHARTER_E_IO, out);
    }
    if (S_ISDIR(st.st_mode)) {
        s = load_dir(&L, path);
    } else {
        const char *file = arena_strdup(&L.c->mem, path);
        s = file ? load_file(&L, file) : nomem(&L);
    }
    if (s == CHARTER_OK)
        s = build(&L);
    return loader_finish(&L, s, out);
}

charter_status ch_load_string(const char *name, const char *yaml, size_t n,
                              charter **out, charter_error *err)
{
    loader L;
    *out = NULL;
    charter_status s = loader_init(&L, err);
    if (s != CHARTER_OK)
        return loader_finish(&L, s, out);
    const char *file = arena_strdup(&L.c->mem, name ? name : "");
    ch_yaml_node *root = NULL;
    if (!file)
        s = nomem(&L);
    if (s == CHARTER_OK)
        s = ch_yaml_parse(&L.tmp, file, yaml, n, &root, err);
    if (s == CHARTER_OK)
        s = collect_root(&L, root);
    if (s == CHARTER_OK)
        s = build(&L);
    return loader_finish(&L, s, out);
}

void ch_charter_free(charter *c)
{
    if (!c)
        return;
    arena_release(&c->mem);
    free(c);
}
