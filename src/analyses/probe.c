/* probe.c - fields, constants and generated cases (probe.h).
 *
 * Reads compiled conditions' syntax trees (cel_int.h): a field is a chain of
 * selections (or literal-string indexes) on the `input`, `subject` or
 * `context` variable, or the `confidence` variable itself.
 */
#include "base/banned.h"

#include "analyses/probe.h"

#include <math.h>

#include "cel/cel_int.h"
#include "engine/reads.h"

#define NEUTRAL_STRING "example"
#define OTHER_STRING "(none of the named)"

void probe_set_init(probe_set *s, size_t max_cases)
{
    memset(s, 0, sizeof *s);
    s->max_cases = max_cases;
}

void probe_set_release(probe_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        json_decref(s->fields[i].values);
    free(s->fields);
    free(s->idx);
    memset(s, 0, sizeof *s);
}

/* ---- Reading trees -------------------------------------------------------- */

/* A field as ch_field_path_of reads it (has() tests are not fields here:
 * the field a has() tests gets no candidate values of its own), with keys
 * short enough for a probe_field. */
typedef ch_field_path path;

static bool path_of(const cel_node *n, path *p)
{
    if (!ch_field_path_of(n, false, p))
        return false;
    for (size_t k = 0; k < p->nkeys; k++)
        if (p->lens[k] >= CHARTER_MAX_ID_BYTES)
            return false;
    return true;
}

/* A usable field: `confidence`, or a variable with at least one key. */
static bool is_field(const path *p)
{
    return p->slot == CH_SLOT_CONFIDENCE || p->nkeys > 0;
}

static bool literal_of(const cel_node *n, json_t **out)
{
    if (!n)
        return false;
    bool neg = false;
    if (n->op == CEL_OP_NEG && n->a && n->a->op == CEL_OP_LIT) {
        neg = true;
        n = n->a;
    }
    if (n->op != CEL_OP_LIT)
        return false;
    const cel_value *v = &n->lit;
    switch (v->kind) {
    case CEL_INT:
        *out = json_integer(neg ? -v->v.i : v->v.i);
        return true;
    case CEL_UINT:
        *out = json_integer(neg ? -(json_int_t)v->v.u : (json_int_t)v->v.u);
        return true;
    case CEL_DOUBLE:
        *out = json_real(neg ? -v->v.d : v->v.d);
        return true;
    case CEL_STRING:
        *out = neg ? NULL : json_stringn(v->v.s.p, v->v.s.n);
        return *out != NULL;
    case CEL_BOOL:
        *out = neg ? NULL : json_boolean(v->v.b);
        return *out != NULL;
    default:
        return false;
    }
}

static probe_field *field_get(probe_set *s, const path *p)
{
    for (size_t i = 0; i < s->n; i++) {
        probe_field *f = &s->fields[i];
        if (f->slot != p->slot || f->nkeys != p->nkeys)
            continue;
        bool same = true;
        for (size_t k = 0; k < p->nkeys && same; k++)
            same = strlen(f->keys[k]) == p->lens[k] &&
                   !memcmp(f->keys[k], p->keys[k], p->lens[k]);
        if (same)
            return f;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        probe_field *v = realloc(s->fields, cap * sizeof *v);
        if (!v) {
            s->failed = true;
            return NULL;
        }
        s->fields = v;
        s->cap = cap;
    }
    probe_field *f = &s->fields[s->n];
    memset(f, 0, sizeof *f);
    f->slot = p->slot;
    f->nkeys = p->nkeys;
    size_t used = (size_t)snprintf(f->name, sizeof f->name, "%s", ch_slot_name(p->slot));
    for (size_t k = 0; k < p->nkeys; k++) {
        memcpy(f->keys[k], p->keys[k], p->lens[k]);
        f->keys[k][p->lens[k]] = '\0';
        if (used < sizeof f->name)
            used += (size_t)snprintf(f->name + used, sizeof f->name - used, ".%s", f->keys[k]);
    }
    if (!(f->values = json_array())) {
        s->failed = true;
        return NULL;
    }
    s->n++;
    return f;
}

static bool has_value(const json_t *values, const json_t *v)
{
    size_t i;
    json_t *x;
    json_array_foreach(values, i, x) {
        if (json_is_number(x) && json_is_number(v) &&
            json_number_value(x) == json_number_value(v) &&
            json_is_integer(x) == json_is_integer(v))
            return true;
        if (!json_is_number(x) && json_equal(x, v))
            return true;
    }
    return false;
}

static void add_value(probe_set *s, probe_field *f, json_t *v)
{
    if (!v) {
        s->failed = true;
        return;
    }
    if (has_value(f->values, v))
        json_decref(v);
    else if (json_array_append_new(f->values, v))
        s->failed = true;
}

/* The candidates a constant brings: around a number, the string itself and
 * one no rule names, both booleans. */
static void add_constant(probe_set *s, const path *p, json_t *lit)
{
    probe_field *f = field_get(s, p);
    if (!f) {
        json_decref(lit);
        return;
    }
    if (json_is_number(lit)) {
        double k = json_number_value(lit);
        bool whole = json_is_integer(lit) || k == floor(k);
        double step = whole ? 1 : 0.01;
        for (int d = -1; d <= 1; d++) {
            double x = k + d * step;
            if (p->slot == CH_SLOT_CONFIDENCE && (x < 0 || x > 1))
                continue;
            add_value(s, f, json_is_integer(lit) ? json_integer((json_int_t)x) : json_real(x));
        }
    } else if (json_is_string(lit)) {
        add_value(s, f, json_string(OTHER_STRING));
        add_value(s, f, json_incref(lit));
    } else {
        add_value(s, f, json_false());
        add_value(s, f, json_true());
    }
    json_decref(lit);
}

static void walk(probe_set *s, const cel_node *n, bool boolean_position);

static void walk_children(probe_set *s, const cel_node *n, bool logic)
{
    walk(s, n->a, logic);
    walk(s, n->b, logic);
    walk(s, n->c, false);
    for (uint32_t i = 0; n->args && i < n->nargs; i++)
        walk(s, n->args[i], false);
}

static void walk(probe_set *s, const cel_node *n, bool boolean_position)
{
    if (!n || s->failed)
        return;
    path p;
    if (path_of(n, &p)) {
        if (!is_field(&p))
            return;
        if (boolean_position)
            add_constant(s, &p, json_true());
        else
            field_get(s, &p);
        return;
    }
    json_t *lit = NULL;
    switch (n->op) {
    case CEL_OP_EQ: case CEL_OP_NE: case CEL_OP_LT:
    case CEL_OP_LE: case CEL_OP_GT: case CEL_OP_GE:
        if (path_of(n->a, &p) && is_field(&p) && literal_of(n->b, &lit))
            add_constant(s, &p, lit);
        else if (path_of(n->b, &p) && is_field(&p) && literal_of(n->a, &lit))
            add_constant(s, &p, lit);
        break;
    case CEL_OP_IN:
        if (path_of(n->a, &p) && is_field(&p) && n->b && n->b->op == CEL_OP_LIST)
            for (uint32_t i = 0; i < n->b->nargs; i++)
                if (literal_of(n->b->args[i], &lit))
                    add_constant(s, &p, lit);
        break;
    default:
        break;
    }
    bool logic = n->op == CEL_OP_AND || n->op == CEL_OP_OR || n->op == CEL_OP_NOT;
    if (n->op == CEL_OP_COND) {
        walk(s, n->a, true);
        walk(s, n->b, false);
        walk(s, n->c, false);
        return;
    }
    walk_children(s, n, logic);
}

void probe_add_program(probe_set *s, const cel_program *p)
{
    if (p)
        walk(s, p->root, true);
}

/* ---- Does a condition read a field ----------------------------------------- */

static bool reads(const probe_field *f, const cel_node *n)
{
    if (!n)
        return false;
    path p;
    if (path_of(n, &p)) {
        if (p.slot != f->slot || p.nkeys < f->nkeys)
            return false;
        for (size_t k = 0; k < f->nkeys; k++)
            if (strlen(f->keys[k]) != p.lens[k] || memcmp(f->keys[k], p.keys[k], p.lens[k]))
                return false;
        return true;
    }
    if (reads(f, n->a) || reads(f, n->b) || reads(f, n->c))
        return true;
    for (uint32_t i = 0; n->args && i < n->nargs; i++)
        if (reads(f, n->args[i]))
            return true;
    return false;
}

bool probe_reads(const probe_field *f, const cel_program *p)
{
    return p && reads(f, p->root);
}

/* ---- Cases ------------------------------------------------------------------ */

static size_t ncand(const probe_set *s, size_t f)
{
    size_t n = json_array_size(s->fields[f].values);
    return n ? n : 1;
}

static size_t count_all(const probe_set *s)
{
    size_t total = 1;
    for (size_t f = 0; f < s->n; f++) {
        if (total > s->max_cases)
            return SIZE_MAX;
        total *= ncand(s, f);
    }
    return total;
}

static size_t count_pairs(const probe_set *s)
{
    size_t total = 1;
    for (size_t a = 0; a < s->n; a++)
        for (size_t b = a + 1; b < s->n; b++)
            total += ncand(s, a) * ncand(s, b) - 1;
    return total;
}

static size_t count_single(const probe_set *s)
{
    size_t total = 1;
    for (size_t f = 0; f < s->n; f++)
        total += ncand(s, f) - 1;
    return total;
}

size_t probe_case_count(const probe_set *s)
{
    switch (s->mode) {
    case PROBE_ALL: return count_all(s);
    case PROBE_PAIRS: return count_pairs(s);
    default: return count_single(s);
    }
}

void probe_start(probe_set *s)
{
    for (size_t f = 0; f < s->n; f++)
        if (!json_array_size(s->fields[f].values))
            add_value(s, &s->fields[f], json_string(NEUTRAL_STRING));
    if (count_all(s) <= s->max_cases)
        s->mode = PROBE_ALL;
    else if (count_pairs(s) <= s->max_cases)
        s->mode = PROBE_PAIRS;
    else
        s->mode = PROBE_SINGLE;
    free(s->idx);
    s->idx = calloc(s->n ? s->n : 1, sizeof *s->idx);
    s->failed = s->failed || !s->idx;
    s->started = false;
    s->done = s->failed;
    s->pair_a = 0;
    s->pair_b = 1;
    s->single = 0;
}

/* Mixed-radix increment of idx over fields [0, n); false on wrap-around. */
static bool bump_all(probe_set *s)
{
    for (size_t f = 0; f < s->n; f++) {
        if (++s->idx[f] < ncand(s, f))
            return true;
        s->idx[f] = 0;
    }
    return false;
}

/* Pairs: for each pair (a, b), every combination except both at baseline
 * (the baseline case comes once, first). */
static bool bump_pairs(probe_set *s)
{
    while (s->pair_a < s->n) {
        if (s->pair_b >= s->n) {
            s->pair_a++;
            s->pair_b = s->pair_a + 1;
            continue;
        }
        size_t a = s->pair_a, b = s->pair_b;
        if (++s->idx[a] >= ncand(s, a)) {
            s->idx[a] = 0;
            if (++s->idx[b] >= ncand(s, b)) {
                s->idx[b] = 0;
                s->pair_b++;
                continue;
            }
        }
        if (s->idx[a] || s->idx[b])
            return true;
    }
    return false;
}

static bool bump_single(probe_set *s)
{
    while (s->single < s->n) {
        if (++s->idx[s->single] < ncand(s, s->single))
            return true;
        s->idx[s->single++] = 0;
    }
    return false;
}

bool probe_next(probe_set *s)
{
    if (s->done)
        return false;
    if (!s->started) {
        s->started = true;
        return true; /* the baseline */
    }
    bool more = s->mode == PROBE_ALL ? bump_all(s)
                : s->mode == PROBE_PAIRS ? bump_pairs(s) : bump_single(s);
    s->done = !more;
    return more;
}

size_t probe_distance(const probe_set *s)
{
    size_t d = 0;
    for (size_t f = 0; f < s->n; f++)
        d += s->idx[f] != 0;
    return d;
}

void probe_apply(const probe_set *s, size_t f, json_t *request)
{
    const probe_field *pf = &s->fields[f];
    json_t *v = json_array_get(pf->values, s->idx[f]);
    if (pf->slot == CH_SLOT_CONFIDENCE) {
        if (json_is_number(v))
            json_object_set_new(request, "confidence", json_real(json_number_value(v)));
        return;
    }
    json_t *o = request;
    const char *key = ch_slot_name(pf->slot);
    for (size_t k = 0; k <= pf->nkeys; k++) {
        if (k == pf->nkeys) {
            json_object_set(o, key, v);
            return;
        }
        json_t *next = json_object_get(o, key);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(o, key, next);
        }
        o = next;
        key = pf->keys[k];
    }
}
