/* cel_eval.c - evaluates a checked CEL tree.
 *
 * A tree walk: the tree's height is at most CEL_MAX_PARSE_DEPTH (the parser
 * refuses taller ones), so the recursion is bounded. Each node visited costs
 * one step (macro bodies are visited once per element); past the cost limit,
 * or past CEL_MAX_EVAL_BYTES of scratch memory, the evaluation aborts with an
 * error that nothing can absorb. Scratch memory is used only to build
 * strings, lists and maps; reading variables and comparing allocates nothing.
 *
 * Errors are values (CEL_ERROR) and propagate, except where the language
 * definition absorbs them: false && error is false, true || error is true,
 * all() is false if any element gives false, exists() true if any gives true.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "cel/cel_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rare or bulky paths stay out of line so the hot dispatcher keeps a small
 * stack frame. */
#define NOINLINE __attribute__((noinline))

typedef struct ev {
    arena *a;
    const cel_value *slots;
    cel_value *locals;
    uint64_t cost, limit;
    size_t bytes_base;        /* scratch total when the evaluation began */
    bool aborted;
    cel_value abort_value;
    /* Error positions are found by evaluating a second time with tracking
     * on (evaluation has no side effects), so the first, ordinary pass pays
     * nothing for them. */
    bool track_errors;
    const char *err_msg;      /* the newest error seen, and where it arose */
    const cel_node *err_node;
    cel_regex_state re;
} ev;


/* ---- Helpers ----------------------------------------------------------------- */

static cel_value abort_with(ev *e, const char *msg)
{
    if (!e->aborted) {
        e->aborted = true;
        e->abort_value = cel_error(msg);
        e->limit = 0;   /* every later step fails the cost check at once */
    }
    return e->abort_value;
}

static cel_value eval_slow(const cel_node *n, ev *e);
static cel_value eval_tracked(const cel_node *n, ev *e);

/* Booleans are copied from constants: building one on the stack (a byte
 * store, then a wide copy into the return slot) stalls store forwarding and
 * cost a third of a typical condition's time. */
static const cel_value k_true = {.kind = CEL_BOOL, .v.b = true};
static const cel_value k_false = {.kind = CEL_BOOL, .v.b = false};

static inline cel_value bool_value(bool b)
{
    return b ? k_true : k_false;
}

/* Leaves (literals and variables) inline; the rest through eval_slow. One
 * comparison per step covers both the cost limit and an earlier abort. */
static inline cel_value eval(const cel_node *n, ev *e)
{
    if (__builtin_expect(++e->cost > e->limit, 0))
        return e->aborted ? e->abort_value
                          : abort_with(e, "evaluation exceeded its cost limit "
                                          "(too many steps; CEL_MAX_EVAL_COST)");
    switch ((cel_op)n->op) {
    case CEL_OP_LIT: return n->lit;
    case CEL_OP_VAR: return e->slots[n->slot];
    case CEL_OP_LOCAL: return e->locals[n->slot];
    default:
        if (__builtin_expect(!e->track_errors, 1))
            return eval_slow(n, e);   /* a tail call: no copy of the result */
        return eval_tracked(n, e);
    }
}

static void *ev_alloc(ev *e, size_t n)
{
    if (e->a->total - e->bytes_base + n > CEL_MAX_EVAL_BYTES) {
        abort_with(e, "evaluation exceeded its memory limit (CEL_MAX_EVAL_BYTES); "
                      "the expression builds too much data");
        return NULL;
    }
    void *p = arena_alloc(e->a, n);
    if (!p)
        abort_with(e, "out of memory during evaluation");
    return p;
}

static const char *kname(const cel_value *v)
{
    return cel_kind_type_name(v->kind);
}

static NOINLINE cel_value no_overload1(ev *e, const cel_node *n, const cel_value *a)
{
    return cel_error_fmt(e->a, "no such overload: '%s' applied to (%s)",
                         cel_op_name((cel_op)n->op), kname(a));
}

static NOINLINE cel_value no_overload2(ev *e, const cel_node *n, const cel_value *a,
                              const cel_value *b)
{
    return cel_error_fmt(e->a, "no such overload: '%s' applied to (%s, %s)",
                         cel_op_name((cel_op)n->op), kname(a), kname(b));
}

static cel_value overflow(void)
{
    return cel_error("integer overflow");
}

static cel_value make_string(ev *e, cel_kind kind, const char *a, size_t an,
                             const char *b, size_t bn)
{
    char *p = ev_alloc(e, an + bn + 1);
    if (!p)
        return e->abort_value;
    if (an)
        memcpy(p, a, an);
    if (bn)
        memcpy(p + an, b, bn);
    p[an + bn] = '\0';
    cel_value v = cel_string(p, an + bn);
    v.kind = kind;
    return v;
}

static cel_value list_value(const cel_list *l)
{
    cel_value v = {.kind = CEL_LIST};
    v.v.list = l;
    return v;
}

static cel_value make_list(ev *e, const cel_value *items, size_t n)
{
    cel_list *l = ev_alloc(e, sizeof *l);
    if (!l)
        return e->abort_value;
    l->n = n;
    l->items = items;
    return list_value(l);
}

/* ---- Arithmetic -------------------------------------------------------------- */

static cel_value eval_add(ev *e, const cel_node *n, const cel_value *l,
                          const cel_value *r)
{
    if (l->kind == r->kind) {
        switch (l->kind) {
        case CEL_INT: {
            int64_t x;
            if (__builtin_add_overflow(l->v.i, r->v.i, &x))
                return overflow();
            return cel_int(x);
        }
        case CEL_UINT: {
            uint64_t x;
            if (__builtin_add_overflow(l->v.u, r->v.u, &x))
                return overflow();
            return cel_uint(x);
        }
        case CEL_DOUBLE:
            return cel_double(l->v.d + r->v.d);
        case CEL_STRING:
        case CEL_BYTES:
            if (r->v.s.n == 0)
                return *l;
            if (l->v.s.n == 0)
                return *r;
            return make_string(e, l->kind, l->v.s.p, l->v.s.n, r->v.s.p, r->v.s.n);
        case CEL_LIST: {
            const cel_list *x = l->v.list, *y = r->v.list;
            if (y->n == 0)
                return *l;
            if (x->n == 0)
                return *r;
            cel_value *items = ev_alloc(e, (x->n + y->n) * sizeof *items);
            if (!items)
                return e->abort_value;
            memcpy(items, x->items, x->n * sizeof *items);
            memcpy(items + x->n, y->items, y->n * sizeof *items);
            return make_list(e, items, x->n + y->n);
        }
        case CEL_DURATION:
            return cel_time_arith(CEL_OP_ADD, l, r);
        default:
            break;
        }
    }
    if ((l->kind == CEL_TIMESTAMP && r->kind == CEL_DURATION) ||
        (l->kind == CEL_DURATION && r->kind == CEL_TIMESTAMP))
        return cel_time_arith(CEL_OP_ADD, l, r);
    return no_overload2(e, n, l, r);
}

static NOINLINE cel_value eval_arith(ev *e, const cel_node *n, const cel_value *l,
                            const cel_value *r)
{
    cel_op op = (cel_op)n->op;
    if (op == CEL_OP_ADD)
        return eval_add(e, n, l, r);
    if (l->kind != r->kind) {
        if (op == CEL_OP_SUB && l->kind == CEL_TIMESTAMP && r->kind == CEL_DURATION)
            return cel_time_arith(op, l, r);
        return no_overload2(e, n, l, r);
    }
    switch (l->kind) {
    case CEL_INT: {
        int64_t a = l->v.i, b = r->v.i, x;
        switch (op) {
        case CEL_OP_SUB:
            if (__builtin_sub_overflow(a, b, &x))
                return overflow();
            return cel_int(x);
        case CEL_OP_MUL:
            if (__builtin_mul_overflow(a, b, &x))
                return overflow();
            return cel_int(x);
        case CEL_OP_DIV:
            if (b == 0)
                return cel_error("division by zero");
            if (a == INT64_MIN && b == -1)
                return overflow();
            return cel_int(a / b);
        default: /* MOD */
            if (b == 0)
                return cel_error("modulus by zero");
            if (a == INT64_MIN && b == -1)
                return overflow();
            return cel_int(a % b);
        }
    }
    case CEL_UINT: {
        uint64_t a = l->v.u, b = r->v.u, x;
        switch (op) {
        case CEL_OP_SUB:
            if (__builtin_sub_overflow(a, b, &x))
                return overflow();
            return cel_uint(x);
        case CEL_OP_MUL:
            if (__builtin_mul_overflow(a, b, &x))
                return overflow();
            return cel_uint(x);
        case CEL_OP_DIV:
            if (b == 0)
                return cel_error("division by zero");
            return cel_uint(a / b);
        default:
            if (b == 0)
                return cel_error("modulus by zero");
            return cel_uint(a % b);
        }
    }
    case CEL_DOUBLE:
        switch (op) {
        case CEL_OP_SUB: return cel_double(l->v.d - r->v.d);
        case CEL_OP_MUL: return cel_double(l->v.d * r->v.d);
        case CEL_OP_DIV: return cel_double(l->v.d / r->v.d);
        default: return no_overload2(e, n, l, r);
        }
    case CEL_TIMESTAMP:
    case CEL_DURATION:
        if (op == CEL_OP_SUB)
            return cel_time_arith(op, l, r);
        return no_overload2(e, n, l, r);
    default:
        return no_overload2(e, n, l, r);
    }
}

/* ---- Access ------------------------------------------------------------------ */

static NOINLINE cel_value no_such_key(ev *e, const cel_value *key)
{
    if (key->kind == CEL_STRING)
        return cel_error_fmt(e->a, "no such key: '%.*s'",
                             (int)(key->v.s.n > 200 ? 200 : key->v.s.n), key->v.s.p);
    char buf[128];
    cel_value_format(key, buf, sizeof buf);
    return cel_error_fmt(e->a, "no such key: %s", buf);
}

static NOINLINE cel_value eval_index(ev *e, const cel_node *n, const cel_value *c,
                            const cel_value *k)
{
    if (c->kind == CEL_LIST) {
        int64_t i;
        if (k->kind == CEL_INT)
            i = k->v.i;
        else if (k->kind == CEL_UINT)
            i = k->v.u > INT64_MAX ? INT64_MAX : (int64_t)k->v.u;
        else if (k->kind == CEL_DOUBLE && k->v.d == trunc(k->v.d) &&
                 fabs(k->v.d) < 9.2e18)
            i = (int64_t)k->v.d;
        else if (k->kind == CEL_DOUBLE)
            return cel_error_fmt(e->a, "invalid_argument: list index %g is not "
                                 "a whole number", k->v.d);
        else
            return cel_error_fmt(e->a, "invalid_argument: list index must be an "
                                 "int; found %s", kname(k));
        if (i < 0 || (uint64_t)i >= c->v.list->n)
            return cel_error_fmt(e->a, "invalid_argument: index out of range: "
                                 "%lld (list has %zu elements)", (long long)i,
                                 c->v.list->n);
        return c->v.list->items[i];
    }
    if (c->kind == CEL_MAP) {
        const cel_value *v = cel_map_find(c->v.map, k);
        return v ? *v : no_such_key(e, k);
    }
    return no_overload2(e, n, c, k);
}

static NOINLINE cel_value eval_in(ev *e, const cel_node *n, const cel_value *x,
                         const cel_value *c)
{
    if (c->kind == CEL_LIST) {
        for (size_t i = 0; i < c->v.list->n; i++)
            if (cel_value_equal(x, &c->v.list->items[i]))
                return bool_value(true);
        return bool_value(false);
    }
    if (c->kind == CEL_MAP)
        return bool_value(cel_map_find(c->v.map, x) != NULL);
    return no_overload2(e, n, x, c);
}

/* ---- Logic ------------------------------------------------------------------- */

/* && (stop = false) and || (stop = true), commutative over errors. */
static cel_value eval_logic(ev *e, const cel_node *n, bool stop)
{
    cel_value l = eval(n->a, e);
    if (l.kind == CEL_BOOL && l.v.b == stop)
        return l;
    cel_value r = eval(n->b, e);
    if (r.kind == CEL_BOOL && r.v.b == stop)
        return r;
    if (l.kind == CEL_BOOL && r.kind == CEL_BOOL)
        return bool_value(!stop);
    if (l.kind == CEL_ERROR)
        return l;
    if (r.kind == CEL_ERROR)
        return r;
    return no_overload2(e, n, &l, &r);
}

static NOINLINE cel_value eval_compare(ev *e, const cel_node *n, const cel_value *l,
                              const cel_value *r)
{
    int c;
    if (!cel_value_compare(l, r, &c)) {
        bool numbers = (l->kind == CEL_INT || l->kind == CEL_UINT || l->kind == CEL_DOUBLE) &&
                       (r->kind == CEL_INT || r->kind == CEL_UINT || r->kind == CEL_DOUBLE);
        if (numbers)
            return bool_value(false);   /* NaN is unordered */
        return no_overload2(e, n, l, r);
    }
    switch ((cel_op)n->op) {
    case CEL_OP_LT: return bool_value(c < 0);
    case CEL_OP_LE: return bool_value(c <= 0);
    case CEL_OP_GT: return bool_value(c > 0);
    default: return bool_value(c >= 0);
    }
}

/* ---- Macros ------------------------------------------------------------------ */

static NOINLINE cel_value eval_macro(ev *e, const cel_node *n)
{
    cel_value range = eval(n->a, e);
    if (range.kind == CEL_ERROR)
        return range;
    const cel_value *items;
    size_t count;
    if (range.kind == CEL_LIST) {
        items = range.v.list->items;
        count = range.v.list->n;
    } else if (range.kind == CEL_MAP) {
        items = range.v.map->keys;
        count = range.v.map->n;
    } else {
        return cel_error_fmt(e->a, "no such overload: %s() applies to a list or "
                             "a map; found %s", cel_op_name((cel_op)n->op),
                             kname(&range));
    }
    cel_op op = (cel_op)n->op;
    cel_value *slot = &e->locals[n->slot];
    cel_value *out = NULL;
    size_t nout = 0;
    if (op == CEL_OP_MAP_MACRO || op == CEL_OP_FILTER) {
        out = ev_alloc(e, (count ? count : 1) * sizeof *out);
        if (!out)
            return e->abort_value;
    }
    cel_value err = {.kind = CEL_NULL};
    size_t matches = 0;
    for (size_t i = 0; i < count; i++) {
        if (e->aborted)
            return e->abort_value;
        *slot = items[i];
        if (op == CEL_OP_MAP_MACRO) {
            if (n->c) {
                cel_value f = eval(n->c, e);
                if (f.kind == CEL_ERROR)
                    return f;
                if (f.kind != CEL_BOOL)
                    return no_overload1(e, n, &f);
                if (!f.v.b)
                    continue;
            }
            cel_value v = eval(n->b, e);
            if (v.kind == CEL_ERROR)
                return v;
            out[nout++] = v;
            continue;
        }
        cel_value p = eval(n->b, e);
        if (p.kind == CEL_ERROR) {
            if (op == CEL_OP_ALL || op == CEL_OP_EXISTS) {
                if (err.kind != CEL_ERROR)
                    err = p;
                continue;
            }
            return p;
        }
        if (p.kind != CEL_BOOL) {
            cel_value bad = no_overload1(e, n, &p);
            if (op == CEL_OP_ALL || op == CEL_OP_EXISTS) {
                if (err.kind != CEL_ERROR)
                    err = bad;
                continue;
            }
            return bad;
        }
        switch (op) {
        case CEL_OP_ALL:
            if (!p.v.b)
                return bool_value(false);
            break;
        case CEL_OP_EXISTS:
            if (p.v.b)
                return bool_value(true);
            break;
        case CEL_OP_EXISTS_ONE:
            matches += p.v.b;
            break;
        default: /* FILTER */
            if (p.v.b)
                out[nout++] = items[i];
            break;
        }
    }
    switch (op) {
    case CEL_OP_ALL: return err.kind == CEL_ERROR ? err : bool_value(true);
    case CEL_OP_EXISTS: return err.kind == CEL_ERROR ? err : bool_value(false);
    case CEL_OP_EXISTS_ONE: return bool_value(matches == 1);
    default: return make_list(e, out, nout);
    }
}

/* ---- Functions --------------------------------------------------------------- */

static bool find_sub(const char *h, size_t hn, const char *s, size_t sn)
{
    if (sn == 0)
        return true;
    if (sn > hn)
        return false;
    for (size_t i = 0; i + sn <= hn; i++)
        if (h[i] == s[0] && !memcmp(h + i, s, sn))
            return true;
    return false;
}

/* Copies a string value NUL-terminated into buf for strto*; false if long. */
static bool cstr(const cel_value *v, char *buf, size_t len)
{
    if (v->v.s.n >= len || memchr(v->v.s.p, '\0', v->v.s.n))
        return false;
    memcpy(buf, v->v.s.p, v->v.s.n);
    buf[v->v.s.n] = '\0';
    return true;
}

static cel_value conv_error(ev *e, const cel_value *v, const char *to)
{
    if (v->kind == CEL_STRING)
        return cel_error_fmt(e->a, "Type conversion error: cannot convert string "
                             "'%.*s' to %s", (int)(v->v.s.n > 100 ? 100 : v->v.s.n),
                             v->v.s.p, to);
    return cel_error_fmt(e->a, "range error: cannot convert %s to %s", kname(v), to);
}

static cel_value to_int(ev *e, const cel_value *v)
{
    switch (v->kind) {
    case CEL_INT: return *v;
    case CEL_UINT:
        if (v->v.u > INT64_MAX)
            return conv_error(e, v, "int");
        return cel_int((int64_t)v->v.u);
    case CEL_DOUBLE:
        if (!(v->v.d > -9223372036854775808.0 && v->v.d < 9223372036854775808.0))
            return conv_error(e, v, "int");
        return cel_int((int64_t)v->v.d);
    case CEL_STRING: {
        char buf[64], *end;
        if (!cstr(v, buf, sizeof buf) || !buf[0])
            return conv_error(e, v, "int");
        errno = 0;
        long long x = strtoll(buf, &end, 10);
        if (errno || *end)
            return conv_error(e, v, "int");
        return cel_int(x);
    }
    case CEL_TIMESTAMP: return cel_int(v->v.t.sec);
    default: return cel_error_fmt(e->a, "no such overload: int(%s)", kname(v));
    }
}

static cel_value to_uint(ev *e, const cel_value *v)
{
    switch (v->kind) {
    case CEL_UINT: return *v;
    case CEL_INT:
        if (v->v.i < 0)
            return conv_error(e, v, "uint");
        return cel_uint((uint64_t)v->v.i);
    case CEL_DOUBLE:
        if (!(v->v.d > -1.0 && v->v.d < 18446744073709551616.0))
            return conv_error(e, v, "uint");
        return cel_uint((uint64_t)v->v.d);
    case CEL_STRING: {
        char buf[64], *end;
        if (!cstr(v, buf, sizeof buf) || !buf[0] || buf[0] == '-' || buf[0] == ' ')
            return conv_error(e, v, "uint");
        errno = 0;
        unsigned long long x = strtoull(buf, &end, 10);
        if (errno || *end)
            return conv_error(e, v, "uint");
        return cel_uint(x);
    }
    default: return cel_error_fmt(e->a, "no such overload: uint(%s)", kname(v));
    }
}

static cel_value to_double(ev *e, const cel_value *v)
{
    switch (v->kind) {
    case CEL_DOUBLE: return *v;
    case CEL_INT: return cel_double((double)v->v.i);
    case CEL_UINT: return cel_double((double)v->v.u);
    case CEL_STRING: {
        char buf[512], *end;
        if (!cstr(v, buf, sizeof buf) || !buf[0] || buf[0] == ' ')
            return conv_error(e, v, "double");
        double d = strtod(buf, &end);
        if (*end)
            return conv_error(e, v, "double");
        return cel_double(d);
    }
    default: return cel_error_fmt(e->a, "no such overload: double(%s)", kname(v));
    }
}

static cel_value copy_text(ev *e, const char *s)
{
    return make_string(e, CEL_STRING, s, strlen(s), NULL, 0);
}

static cel_value to_string(ev *e, const cel_value *v)
{
    char buf[64];
    switch (v->kind) {
    case CEL_STRING: return *v;
    case CEL_BOOL: return cel_string(v->v.b ? "true" : "false", v->v.b ? 4 : 5);
    case CEL_INT:
        snprintf(buf, sizeof buf, "%lld", (long long)v->v.i);
        return copy_text(e, buf);
    case CEL_UINT:
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->v.u);
        return copy_text(e, buf);
    case CEL_DOUBLE:
        cel_double_format(v->v.d, buf, sizeof buf);
        return copy_text(e, buf);
    case CEL_BYTES:
        if (!cel_utf8_valid(v->v.s.p, v->v.s.n))
            return cel_error("invalid UTF-8: bytes cannot be converted to a string");
        return cel_string(v->v.s.p, v->v.s.n);
    case CEL_TIMESTAMP:
        cel_ts_format(v->v.t.sec, v->v.t.nsec, buf, sizeof buf);
        return copy_text(e, buf);
    case CEL_DURATION:
        cel_dur_format(v->v.t.sec, v->v.t.nsec, buf, sizeof buf);
        return copy_text(e, buf);
    default: return cel_error_fmt(e->a, "no such overload: string(%s)", kname(v));
    }
}

static cel_value to_bool(ev *e, const cel_value *v)
{
    if (v->kind == CEL_BOOL)
        return *v;
    if (v->kind == CEL_STRING) {
        static const char *const yes[] = {"1", "t", "true", "TRUE", "True", NULL};
        static const char *const no[] = {"0", "f", "false", "FALSE", "False", NULL};
        for (int i = 0; yes[i]; i++) {
            if (strlen(yes[i]) == v->v.s.n && !memcmp(yes[i], v->v.s.p, v->v.s.n))
                return bool_value(true);
            if (strlen(no[i]) == v->v.s.n && !memcmp(no[i], v->v.s.p, v->v.s.n))
                return bool_value(false);
        }
        return conv_error(e, v, "bool");
    }
    return cel_error_fmt(e->a, "no such overload: bool(%s)", kname(v));
}

static cel_value to_timestamp(ev *e, const cel_value *v)
{
    cel_value r = {.kind = CEL_TIMESTAMP};
    const char *why;
    switch (v->kind) {
    case CEL_TIMESTAMP: return *v;
    case CEL_INT:
        if (!cel_ts_in_range(v->v.i, 0))
            return cel_error_fmt(e->a, "range error: timestamp(%lld) is out of range "
                                 "(years 0001 to 9999)", (long long)v->v.i);
        r.v.t.sec = v->v.i;
        return r;
    case CEL_STRING:
        if (!cel_ts_parse(v->v.s.p, v->v.s.n, &r.v.t.sec, &r.v.t.nsec, &why))
            return cel_error_fmt(e->a, "cannot convert '%.*s' to a timestamp: %s",
                                 (int)(v->v.s.n > 100 ? 100 : v->v.s.n), v->v.s.p, why);
        return r;
    default: return cel_error_fmt(e->a, "no such overload: timestamp(%s)", kname(v));
    }
}

static cel_value to_duration(ev *e, const cel_value *v)
{
    cel_value r = {.kind = CEL_DURATION};
    const char *why;
    switch (v->kind) {
    case CEL_DURATION: return *v;
    case CEL_STRING:
        if (!cel_dur_parse(v->v.s.p, v->v.s.n, &r.v.t.sec, &r.v.t.nsec, &why))
            return cel_error_fmt(e->a, "cannot convert '%.*s' to a duration: %s",
                                 (int)(v->v.s.n > 100 ? 100 : v->v.s.n), v->v.s.p, why);
        return r;
    default: return cel_error_fmt(e->a, "no such overload: duration(%s)", kname(v));
    }
}

static cel_value eval_string_fn(ev *e, const cel_node *n, const cel_value *s,
                                const cel_value *x)
{
    if (s->kind != CEL_STRING || x->kind != CEL_STRING)
        return no_overload2(e, n, s, x);
    const char *h = s->v.s.p, *p = x->v.s.p;
    size_t hn = s->v.s.n, pn = x->v.s.n;
    switch ((cel_op)n->op) {
    case CEL_OP_F_CONTAINS: return bool_value(find_sub(h, hn, p, pn));
    case CEL_OP_F_STARTS_WITH: return bool_value(pn <= hn && !memcmp(h, p, pn));
    case CEL_OP_F_ENDS_WITH: return bool_value(pn <= hn && !memcmp(h + hn - pn, p, pn));
    default:
        return cel_regex_match(e->a, &e->re, n->aux, p, pn, h, hn);
    }
}

static NOINLINE cel_value eval_call(ev *e, const cel_node *n)
{
    cel_value args[3];
    uint32_t na = n->nargs;
    if (n->op == CEL_OP_CALL) {
        for (uint32_t i = 0; i < na; i++) {
            cel_value v = eval(n->args[i], e);
            if (v.kind == CEL_ERROR)
                return v;
        }
        return cel_error_fmt(e->a, "unbound function '%.*s'", (int)n->name_n, n->name);
    }
    if (na > 3)
        return cel_error("too many arguments");
    for (uint32_t i = 0; i < na; i++) {
        args[i] = eval(n->args[i], e);
        if (args[i].kind == CEL_ERROR)
            return args[i];
    }
    const cel_value *a0 = &args[0];
    switch ((cel_op)n->op) {
    case CEL_OP_F_SIZE:
        switch (a0->kind) {
        case CEL_STRING: return cel_int((int64_t)cel_utf8_count(a0->v.s.p, a0->v.s.n));
        case CEL_BYTES: return cel_int((int64_t)a0->v.s.n);
        case CEL_LIST: return cel_int((int64_t)a0->v.list->n);
        case CEL_MAP: return cel_int((int64_t)a0->v.map->n);
        default: return no_overload1(e, n, a0);
        }
    case CEL_OP_F_CONTAINS:
    case CEL_OP_F_STARTS_WITH:
    case CEL_OP_F_ENDS_WITH:
    case CEL_OP_F_MATCHES:
        return eval_string_fn(e, n, &args[0], &args[1]);
    case CEL_OP_F_INT: return to_int(e, a0);
    case CEL_OP_F_UINT: return to_uint(e, a0);
    case CEL_OP_F_DOUBLE: return to_double(e, a0);
    case CEL_OP_F_STRING: return to_string(e, a0);
    case CEL_OP_F_BOOL: return to_bool(e, a0);
    case CEL_OP_F_BYTES:
        if (a0->kind == CEL_BYTES)
            return *a0;
        if (a0->kind == CEL_STRING) {
            cel_value b = *a0;
            b.kind = CEL_BYTES;
            return b;
        }
        return no_overload1(e, n, a0);
    case CEL_OP_F_DYN: return *a0;
    case CEL_OP_F_TYPE: {
        cel_value t = {.kind = CEL_TYPE};
        t.v.type_name = cel_kind_type_name(a0->kind);
        return t;
    }
    case CEL_OP_F_TIMESTAMP: return to_timestamp(e, a0);
    case CEL_OP_F_DURATION: return to_duration(e, a0);
    default: /* accessors */
        if (a0->kind == CEL_TIMESTAMP) {
            const char *tz = NULL;
            size_t tz_n = 0;
            if (na == 2) {
                if (args[1].kind != CEL_STRING)
                    return no_overload2(e, n, a0, &args[1]);
                tz = args[1].v.s.p;
                tz_n = args[1].v.s.n;
            }
            return cel_ts_part(e->a, (cel_op)n->op, a0->v.t.sec, a0->v.t.nsec, tz, tz_n);
        }
        if (a0->kind == CEL_DURATION && na == 1)
            return cel_dur_part((cel_op)n->op, a0->v.t.sec, a0->v.t.nsec);
        return no_overload1(e, n, a0);
    }
}

/* ---- Literals ---------------------------------------------------------------- */

static NOINLINE cel_value eval_list(ev *e, const cel_node *n)
{
    if (n->nargs == 0) {
        static const cel_list empty = {0, NULL};
        return list_value(&empty);
    }
    cel_value *items = ev_alloc(e, n->nargs * sizeof *items);
    if (!items)
        return e->abort_value;
    for (uint32_t i = 0; i < n->nargs; i++) {
        items[i] = eval(n->args[i], e);
        if (items[i].kind == CEL_ERROR)
            return items[i];
    }
    return make_list(e, items, n->nargs);
}

static NOINLINE cel_value eval_map(ev *e, const cel_node *n)
{
    size_t count = n->nargs / 2;
    cel_value *keys = ev_alloc(e, (count ? count : 1) * sizeof *keys);
    cel_value *vals = ev_alloc(e, (count ? count : 1) * sizeof *vals);
    if (!keys || !vals)
        return e->abort_value;
    for (size_t i = 0; i < count; i++) {
        keys[i] = eval(n->args[2 * i], e);
        if (keys[i].kind == CEL_ERROR)
            return keys[i];
        vals[i] = eval(n->args[2 * i + 1], e);
        if (vals[i].kind == CEL_ERROR)
            return vals[i];
    }
    const char *why = NULL;
    if (e->a->total - e->bytes_base + count * 24 > CEL_MAX_EVAL_BYTES)
        return abort_with(e, "evaluation exceeded its memory limit (CEL_MAX_EVAL_BYTES)");
    const cel_map *m = cel_map_build_ex(e->a, count, keys, vals, CEL_MAP_ADOPT, &why, NULL);
    if (!m)
        return cel_error_fmt(e->a, "invalid map literal: %s", why);
    cel_value v = {.kind = CEL_MAP};
    v.v.map = m;
    return v;
}

/* ---- The walk ------------------------------------------------------------------ */

/* Same-kind comparison for the shortcut: sets *c (-1/0/1) and returns true
 * when the answer is plain (int, double without NaN, string, bool). */
static bool fast_cmp(const cel_value *v, const cel_value *lit, bool ordered, int *c)
{
    if (v->kind != lit->kind)
        return false;
    switch (v->kind) {
    case CEL_INT:
        *c = (v->v.i > lit->v.i) - (v->v.i < lit->v.i);
        return true;
    case CEL_DOUBLE:
        if (isnan(v->v.d) || isnan(lit->v.d))
            return false;
        *c = (v->v.d > lit->v.d) - (v->v.d < lit->v.d);
        return true;
    case CEL_STRING:
        if (ordered)
            return false;
        *c = v->v.s.n != lit->v.s.n || memcmp(v->v.s.p, lit->v.s.p, v->v.s.n) != 0;
        return true;
    case CEL_BOOL:
        if (ordered)
            return false;
        *c = v->v.b != lit->v.b;
        return true;
    default:
        return false;
    }
}

/* The shortcut for CEL_NODE_FIELD_LIT: `var OP literal`, `var.field OP
 * literal` or `var.field in [literals]`, when the field is there and every
 * comparison is between values of one kind with a plain answer. Anything
 * else (a missing field, a map that is not one, NaN, int against double, a
 * list of mixed kinds) returns false and takes the general path, which
 * gives the same answer or error it always did. */
static bool field_literal(ev *e, const cel_node *n, cel_value *out)
{
    const cel_node *a = n->a;
    const cel_value *v;
    if (a->op == CEL_OP_VAR) {
        v = &e->slots[a->slot];
    } else {
        const cel_value *m = &e->slots[a->a->slot];
        if (m->kind != CEL_MAP)
            return false;
        v = cel_map_get_str(m->v.map, a->name, a->name_n);
        if (!v)
            return false;
    }
    const cel_value *lit = &n->b->lit;
    bool r = false;
    int c;
    if (n->op == CEL_OP_IN) {
        const cel_list *l = lit->v.list;
        for (size_t i = 0; i < l->n; i++) {
            if (!fast_cmp(v, &l->items[i], false, &c))
                return false;
            if (c == 0) {
                r = true;
                break;
            }
        }
    } else {
        bool ordered = n->op != CEL_OP_EQ && n->op != CEL_OP_NE;
        if (!fast_cmp(v, lit, ordered, &c))
            return false;
        switch ((cel_op)n->op) {
        case CEL_OP_EQ: r = c == 0; break;
        case CEL_OP_NE: r = c != 0; break;
        case CEL_OP_LT: r = c < 0; break;
        case CEL_OP_LE: r = c <= 0; break;
        case CEL_OP_GT: r = c > 0; break;
        default: r = c >= 0; break;
        }
    }
    e->cost += 3; /* the operand nodes the general path would have walked */
    *out = bool_value(r);
    return true;
}

/* A FIELD_LIT / FAST_LOGIC tree: 1 true, 0 false, -1 when some comparison
 * needs the general path. && is false as soon as one side is false and ||
 * true as soon as one side is true, whatever the other side would give, as
 * CEL's error-absorbing logic says; anything else undecided is -1. */
static int fast_logic(const cel_node *n, ev *e)
{
    if (n->flags & CEL_NODE_FIELD_LIT) {
        cel_value v;
        return field_literal(e, n, &v) ? v.v.b : -1;
    }
    int stop = n->op == CEL_OP_OR; /* the value that decides alone */
    int l = fast_logic(n->a, e);
    if (l == stop)
        return stop;
    int r = fast_logic(n->b, e);
    if (r == stop)
        return stop;
    return l < 0 || r < 0 ? -1 : !stop;
}

static cel_value eval_slow(const cel_node *n, ev *e)
{
    cel_value l, r;
    switch ((cel_op)n->op) {
    case CEL_OP_LIT:
        return n->lit;
    case CEL_OP_VAR:
        return e->slots[n->slot];
    case CEL_OP_LOCAL:
        return e->locals[n->slot];
    case CEL_OP_SELECT:
    case CEL_OP_HAS: {
        l = eval(n->a, e);
        if (l.kind == CEL_ERROR)
            return l;
        if (l.kind != CEL_MAP)
            return cel_error_fmt(e->a, "no such overload: cannot select field '%.*s' "
                                 "from %s", (int)n->name_n, n->name, kname(&l));
        const cel_value *v = cel_map_get_str(l.v.map, n->name, n->name_n);
        if (n->op == CEL_OP_HAS)
            return bool_value(v != NULL);
        return v ? *v : no_such_key(e, &n->lit);
    }
    case CEL_OP_INDEX:
        l = eval(n->a, e);
        if (l.kind == CEL_ERROR)
            return l;
        r = eval(n->b, e);
        if (r.kind == CEL_ERROR)
            return r;
        return eval_index(e, n, &l, &r);
    case CEL_OP_LIST:
        return eval_list(e, n);
    case CEL_OP_MAP:
        return eval_map(e, n);
    case CEL_OP_COND:
        l = eval(n->a, e);
        if (l.kind == CEL_ERROR)
            return l;
        if (l.kind != CEL_BOOL)
            return no_overload1(e, n, &l);
        return eval(l.v.b ? n->b : n->c, e);
    case CEL_OP_AND:
        return eval_logic(e, n, false);
    case CEL_OP_OR:
        return eval_logic(e, n, true);
    case CEL_OP_NOT:
        l = eval(n->a, e);
        if (l.kind == CEL_ERROR)
            return l;
        if (l.kind != CEL_BOOL)
            return no_overload1(e, n, &l);
        return bool_value(!l.v.b);
    case CEL_OP_NEG:
        l = eval(n->a, e);
        if (l.kind == CEL_INT) {
            if (l.v.i == INT64_MIN)
                return overflow();
            return cel_int(-l.v.i);
        }
        if (l.kind == CEL_DOUBLE)
            return cel_double(-l.v.d);
        if (l.kind == CEL_ERROR)
            return l;
        return no_overload1(e, n, &l);
    case CEL_OP_ADD:
    case CEL_OP_SUB:
    case CEL_OP_MUL:
    case CEL_OP_DIV:
    case CEL_OP_MOD:
        l = eval(n->a, e);
        if (l.kind == CEL_ERROR)
            return l;
        r = eval(n->b, e);
        if (r.kind == CEL_ERROR)
            return r;
        return eval_arith(e, n, &l, &r);
    case CEL_OP_EQ:
    case CEL_OP_NE:
        if ((n->flags & CEL_NODE_FIELD_LIT) && field_literal(e, n, &l))
            return l;
        l = eval(n->a, e);
        if (l.kind == CEL_ERROR)
            return l;
        r = eval(n->b, e);
        if (r.kind == CEL_ERROR)
            return r;
        return bool_value(cel_value_equal(&l, &r) == (n->op == CEL_OP_EQ));
    case CEL_OP_LT:
    case CEL_OP_LE:
    case CEL_OP_GT:
    case CEL_OP_GE:
        if ((n->flags & CEL_NODE_FIELD_LIT) && field_literal(e, n, &l))
            return l;
        l = eval(n->a, e);
        if (l.kind == CEL_ERROR)
            return l;
        r = eval(n->b, e);
        if (r.kind == CEL_ERROR)
            return r;
        /* The common case first: int against int. */
        if (l.kind == CEL_INT && r.kind == CEL_INT) {
            switch ((cel_op)n->op) {
            case CEL_OP_LT: return bool_value(l.v.i < r.v.i);
            case CEL_OP_LE: return bool_value(l.v.i <= r.v.i);
            case CEL_OP_GT: return bool_value(l.v.i > r.v.i);
            default: return bool_value(l.v.i >= r.v.i);
            }
        }
        return eval_compare(e, n, &l, &r);
    case CEL_OP_IN:
        if ((n->flags & CEL_NODE_FIELD_LIT) && field_literal(e, n, &l))
            return l;
        l = eval(n->a, e);
        if (l.kind == CEL_ERROR)
            return l;
        r = eval(n->b, e);
        if (r.kind == CEL_ERROR)
            return r;
        return eval_in(e, n, &l, &r);
    case CEL_OP_ALL:
    case CEL_OP_EXISTS:
    case CEL_OP_EXISTS_ONE:
    case CEL_OP_MAP_MACRO:
    case CEL_OP_FILTER:
        return eval_macro(e, n);
    case CEL_OP_IDENT:
        return cel_error_fmt(e->a, "undeclared reference to '%.*s'", (int)n->name_n,
                             n->name);
    default:
        return eval_call(e, n);
    }
}

/* eval_slow, remembering the node where each new error value arose: an
 * error passed up unchanged keeps its message pointer. */
static NOINLINE cel_value eval_tracked(const cel_node *n, ev *e)
{
    cel_value v = eval_slow(n, e);
    if (v.kind == CEL_ERROR && v.v.error != e->err_msg) {
        e->err_msg = v.v.error;
        e->err_node = n;
    }
    return v;
}

static cel_value eval_root(const cel_program *p, ev *e)
{
    cel_value v = eval(p->root, e);
    return e->aborted ? e->abort_value : v;
}

cel_value cel_program_eval(const cel_program *p, cel_eval_ctx *ctx)
{
    ev e;
    if (p && ctx->slots && p->root->op == CEL_OP_SELECT && p->root->a->op == CEL_OP_VAR) {
        /* `input.amount`, as a stop rule's spend is usually written. */
        const cel_value *m = &ctx->slots[p->root->a->slot];
        const cel_value *v = m->kind == CEL_MAP
                                 ? cel_map_get_str(m->v.map, p->root->name, p->root->name_n)
                                 : NULL;
        if (v) {
            ctx->cost_used = 3;
            ctx->error_line = ctx->error_column = 0;
            return *v;
        }
    }
    if (p && ctx->slots && (p->root->flags & (CEL_NODE_FIELD_LIT | CEL_NODE_FAST_LOGIC))) {
        e.slots = ctx->slots;
        e.cost = 0;
        int r = fast_logic(p->root, &e);
        if (r >= 0) {
            ctx->cost_used = e.cost;
            ctx->error_line = ctx->error_column = 0;
            return bool_value(r);
        }
    }
    /* Field by field: this runs once per condition, and clearing the whole
     * struct cost more than the fields it needs. abort_value is read only
     * once aborted is set. */
    e.locals = NULL;
    e.cost = 0;
    e.aborted = false;
    e.track_errors = false;
    e.err_msg = NULL;
    e.err_node = NULL;
    e.re.mc = e.re.md = NULL;
    ctx->cost_used = 0;
    ctx->error_line = ctx->error_column = 0;
    if (!p || !ctx->scratch || (!ctx->slots && p->nslots > 0))
        return cel_error("no program, scratch arena or variable values given");
    e.a = ctx->scratch;
    e.slots = ctx->slots;
    e.limit = ctx->cost_limit ? ctx->cost_limit : CEL_MAX_EVAL_COST;
    e.bytes_base = ctx->scratch->total;
    if (p->max_locals > 0) {
        /* Comprehension variables: one slot per nesting level. */
        e.locals = arena_alloc(e.a, p->max_locals * sizeof *e.locals);
        if (!e.locals)
            return cel_error("out of memory during evaluation");
    }
    cel_value v = eval_root(p, &e);
    ctx->cost_used = e.cost;
    if (v.kind == CEL_ERROR && !e.aborted) {
        /* Again, tracking where the error arose (limits cannot be hit: the
         * first pass stayed within them). */
        ev again = e;
        again.cost = 0;
        again.limit = e.limit;
        again.track_errors = true;
        again.err_msg = NULL;
        again.err_node = NULL;
        cel_value w = eval_root(p, &again);
        if (w.kind == CEL_ERROR && again.err_node && w.v.error == again.err_msg) {
            ctx->error_line = again.err_node->line;
            ctx->error_column = again.err_node->col;
        }
    }
    return v;
}
