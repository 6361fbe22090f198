/* cel_check.c - resolves names and checks types of a parsed CEL tree.
 *
 * Identifiers become variable slots (declared in the cel_env), comprehension
 * locals (macro variables, by nesting depth) or type names. Every node gets a
 * static type; dyn stands for "known at run time only" and satisfies every
 * operand check, so only clearly wrong programs ("a" + 1, size(1), 1 < "x",
 * agent.name on an object without that field) are refused here. Checks are
 * deliberately lenient where the language definition's run-time semantics
 * are well defined (== and != between any two values, numeric comparison
 * across int, uint and double).
 *
 * Without CEL_CHECK_TYPES only names are resolved; an undeclared variable or
 * function then fails at run time, as the conformance suite's disable_check
 * cases expect.
 */
#include "base/banned.h"

#include "cel/cel_int.h"

#include <string.h>

const cel_type cel_type_dyn = {.kind = CEL_T_DYN};
const cel_type cel_type_null = {.kind = CEL_T_NULL};
const cel_type cel_type_bool = {.kind = CEL_T_BOOL};
const cel_type cel_type_int = {.kind = CEL_T_INT};
const cel_type cel_type_uint = {.kind = CEL_T_UINT};
const cel_type cel_type_double = {.kind = CEL_T_DOUBLE};
const cel_type cel_type_string = {.kind = CEL_T_STRING};
const cel_type cel_type_bytes = {.kind = CEL_T_BYTES};
const cel_type cel_type_timestamp = {.kind = CEL_T_TIMESTAMP};
const cel_type cel_type_duration = {.kind = CEL_T_DURATION};
const cel_type cel_type_list_dyn = {.kind = CEL_T_LIST, .elem = &cel_type_dyn};
const cel_type cel_type_map_string_dyn = {.kind = CEL_T_MAP, .key = &cel_type_string,
                                          .elem = &cel_type_dyn};
static const cel_type type_type = {.kind = CEL_T_TYPE};
static const cel_type map_dyn_dyn = {.kind = CEL_T_MAP, .key = &cel_type_dyn,
                                     .elem = &cel_type_dyn};

typedef struct checker {
    cel_env *env;
    arena *a;
    cel_diag *diag;
    bool strict;                              /* CEL_CHECK_TYPES */
    unsigned nlocals, max_locals;
    uint64_t vars;                            /* declared variables referred to */
    const char *local_name[CEL_MAX_LOCALS];
    size_t local_len[CEL_MAX_LOCALS];
    const cel_type *local_type[CEL_MAX_LOCALS];
} checker;

/* ---- Types --------------------------------------------------------------- */

/* snprintf whose truncation is intended (messages are cut, never overrun). */
static void text(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void text(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static bool is_dyn(const cel_type *t) { return t->kind == CEL_T_DYN; }

static bool is_num(const cel_type *t)
{
    return t->kind == CEL_T_INT || t->kind == CEL_T_UINT || t->kind == CEL_T_DOUBLE;
}

static bool is_mapish(const cel_type *t)
{
    return t->kind == CEL_T_MAP || t->kind == CEL_T_OBJECT;
}

/* Appends a readable type name: "int", "list(string)", "map(string, dyn)". */
static void type_str(const cel_type *t, char *buf, size_t len)
{
    static const char *const names[] = {
        "dyn", "null_type", "bool", "int", "uint", "double", "string", "bytes",
        "list", "map", "google.protobuf.Timestamp", "google.protobuf.Duration",
        "type", "object"};
    char k[96], v[96];
    switch (t->kind) {
    case CEL_T_LIST:
        type_str(t->elem ? t->elem : &cel_type_dyn, v, sizeof v);
        text(buf, len, "list(%s)", v);
        return;
    case CEL_T_MAP:
        type_str(t->key ? t->key : &cel_type_dyn, k, sizeof k);
        type_str(t->elem ? t->elem : &cel_type_dyn, v, sizeof v);
        text(buf, len, "map(%s, %s)", k, v);
        return;
    default:
        snprintf(buf, len, "%s", names[t->kind]);
    }
}

static bool same_type(const cel_type *a, const cel_type *b)
{
    if (a == b)
        return true;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case CEL_T_LIST:
        return same_type(a->elem ? a->elem : &cel_type_dyn,
                         b->elem ? b->elem : &cel_type_dyn);
    case CEL_T_MAP:
        return same_type(a->key ? a->key : &cel_type_dyn, b->key ? b->key : &cel_type_dyn) &&
               same_type(a->elem ? a->elem : &cel_type_dyn,
                         b->elem ? b->elem : &cel_type_dyn);
    case CEL_T_OBJECT:
        return false;
    default:
        return true;
    }
}

static const cel_type *list_of(checker *ck, const cel_type *elem)
{
    if (is_dyn(elem))
        return &cel_type_list_dyn;
    cel_type *t = arena_calloc(ck->a, 1, sizeof *t);
    if (!t)
        return &cel_type_list_dyn;
    t->kind = CEL_T_LIST;
    t->elem = elem;
    return t;
}

static const cel_type *map_of(checker *ck, const cel_type *key, const cel_type *elem)
{
    if (is_dyn(key) && is_dyn(elem))
        return &map_dyn_dyn;
    cel_type *t = arena_calloc(ck->a, 1, sizeof *t);
    if (!t)
        return &map_dyn_dyn;
    t->kind = CEL_T_MAP;
    t->key = key;
    t->elem = elem;
    return t;
}

static const cel_type *elem_of(const cel_type *t)
{
    return t->elem ? t->elem : &cel_type_dyn;
}

/* ---- Diagnostics ----------------------------------------------------------- */

static const cel_type *fail(checker *ck, const cel_node *n, cel_status code,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static const cel_type *fail(checker *ck, const cel_node *n, cel_status code,
                            const char *fmt, ...)
{
    ck->diag->code = code;
    ck->diag->line = n->line;
    ck->diag->column = n->col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ck->diag->message, sizeof ck->diag->message, fmt, ap);
    va_end(ap);
    return NULL;
}

/* An operand type mismatch: an error when checking types, else dyn. */
static const cel_type *no_overload(checker *ck, const cel_node *n,
                                   const cel_type *const *args, unsigned nargs,
                                   const char *expected)
{
    if (!ck->strict)
        return &cel_type_dyn;
    char list[256] = "", t[96];
    size_t used = 0;
    for (unsigned i = 0; i < nargs; i++) {
        type_str(args[i], t, sizeof t);
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", t);
        if (w < 0 || (size_t)w >= sizeof list - used)
            break;
        used += (size_t)w;
    }
    return fail(ck, n, CEL_ERR_TYPE,
                "found no matching overload for '%s' applied to '(%s)'; expected %s",
                cel_op_name((cel_op)n->op), list, expected);
}

/* ---- Operators ----------------------------------------------------------- */

static const cel_type *check(checker *ck, cel_node *n);

static const cel_type *check_arith(checker *ck, cel_node *n, const cel_type *l,
                                   const cel_type *r)
{
    const cel_type *args[2] = {l, r};
    cel_op op = (cel_op)n->op;
    if (is_dyn(l) || is_dyn(r)) {
        /* Keep the known side's type where the result type cannot differ. */
        const cel_type *k = is_dyn(l) ? r : l;
        if (is_dyn(k))
            return &cel_type_dyn;
        if (op == CEL_OP_ADD && (k->kind == CEL_T_TIMESTAMP || k->kind == CEL_T_DURATION))
            return &cel_type_dyn;
        if (op == CEL_OP_SUB && (k->kind == CEL_T_TIMESTAMP || k->kind == CEL_T_DURATION))
            return &cel_type_dyn;
        bool ok = is_num(k) || (op == CEL_OP_ADD && (k->kind == CEL_T_STRING ||
                                                     k->kind == CEL_T_BYTES ||
                                                     k->kind == CEL_T_LIST));
        if (op == CEL_OP_MOD && k->kind == CEL_T_DOUBLE)
            ok = false;
        if (!ok)
            return no_overload(ck, n, args, 2, "numbers (or strings, bytes, lists, "
                               "timestamps and durations for +)");
        return k->kind == CEL_T_LIST ? &cel_type_list_dyn : k;
    }
    cel_type_kind a = l->kind, b = r->kind;
    if (a == b && (a == CEL_T_INT || a == CEL_T_UINT))
        return l;
    if (a == b && a == CEL_T_DOUBLE && op != CEL_OP_MOD)
        return l;
    if (op == CEL_OP_ADD) {
        if (a == b && (a == CEL_T_STRING || a == CEL_T_BYTES))
            return l;
        if (a == CEL_T_LIST && b == CEL_T_LIST)
            return same_type(l, r) ? l : &cel_type_list_dyn;
        if ((a == CEL_T_TIMESTAMP && b == CEL_T_DURATION) ||
            (a == CEL_T_DURATION && b == CEL_T_TIMESTAMP))
            return &cel_type_timestamp;
        if (a == CEL_T_DURATION && b == CEL_T_DURATION)
            return &cel_type_duration;
    }
    if (op == CEL_OP_SUB) {
        if (a == CEL_T_TIMESTAMP && b == CEL_T_TIMESTAMP)
            return &cel_type_duration;
        if (a == CEL_T_TIMESTAMP && b == CEL_T_DURATION)
            return &cel_type_timestamp;
        if (a == CEL_T_DURATION && b == CEL_T_DURATION)
            return &cel_type_duration;
    }
    const char *expected =
        op == CEL_OP_MOD ? "two ints or two uints"
        : op == CEL_OP_ADD ? "two operands of the same type (int, uint, double, "
                             "string, bytes or list), or a timestamp and a duration"
        : op == CEL_OP_SUB ? "two operands of the same numeric type (int, uint, "
                             "double), two timestamps, or a timestamp or duration "
                             "minus a duration"
                           : "two operands of the same numeric type (int, uint, double)";
    return no_overload(ck, n, args, 2, expected);
}

static const cel_type *check_compare(checker *ck, cel_node *n, const cel_type *l,
                                     const cel_type *r)
{
    const cel_type *args[2] = {l, r};
    if (is_dyn(l) || is_dyn(r)) {
        const cel_type *k = is_dyn(l) ? r : l;
        cel_type_kind kk = k->kind;
        if (kk == CEL_T_LIST || kk == CEL_T_MAP || kk == CEL_T_OBJECT ||
            kk == CEL_T_NULL || kk == CEL_T_TYPE)
            return no_overload(ck, n, args, 2, "two numbers, strings, bytes, "
                               "bools, timestamps or durations");
        return &cel_type_bool;
    }
    if (is_num(l) && is_num(r))
        return &cel_type_bool;
    cel_type_kind k = l->kind;
    if (k == r->kind && (k == CEL_T_STRING || k == CEL_T_BYTES || k == CEL_T_BOOL ||
                         k == CEL_T_TIMESTAMP || k == CEL_T_DURATION))
        return &cel_type_bool;
    return no_overload(ck, n, args, 2, "two numbers, or two strings, bytes, "
                       "bools, timestamps or durations");
}

/* "agent", "counters.run": the operand's source path, for messages. */
static void path_of(const cel_node *n, char *buf, size_t len)
{
    if (n->op == CEL_OP_VAR || n->op == CEL_OP_IDENT || n->op == CEL_OP_LOCAL) {
        snprintf(buf, len, "%.*s", (int)n->name_n, n->name);
    } else if (n->op == CEL_OP_SELECT) {
        char inner[200];
        path_of(n->a, inner, sizeof inner);
        text(buf, len, "%s.%.*s", inner, (int)n->name_n, n->name);
    } else {
        snprintf(buf, len, "object");
    }
}

static const cel_type *check_field(checker *ck, cel_node *n, const cel_type *t)
{
    if (is_dyn(t))
        return &cel_type_dyn;
    if (t->kind == CEL_T_OBJECT) {
        for (size_t i = 0; i < t->field_count; i++)
            if (strlen(t->fields[i]) == n->name_n &&
                !memcmp(t->fields[i], n->name, n->name_n))
                return (t->field_types && t->field_types[i]) ? t->field_types[i]
                                                             : &cel_type_dyn;
        if (!ck->strict)
            return &cel_type_dyn;
        char path[200], fields[300] = "";
        path_of(n->a, path, sizeof path);
        size_t used = 0;
        for (size_t i = 0; i < t->field_count; i++) {
            int w = snprintf(fields + used, sizeof fields - used, "%s%s",
                             i ? ", " : "", t->fields[i]);
            if (w < 0 || (size_t)w >= sizeof fields - used)
                break;
            used += (size_t)w;
        }
        return fail(ck, n, CEL_ERR_TYPE, "%s has no field '%.*s'; expected one of %s",
                    path, (int)n->name_n, n->name, fields);
    }
    if (t->kind == CEL_T_MAP) {
        const cel_type *k = t->key ? t->key : &cel_type_dyn;
        if (is_dyn(k) || k->kind == CEL_T_STRING)
            return elem_of(t);
    }
    if (!ck->strict)
        return &cel_type_dyn;
    char ts[96];
    type_str(t, ts, sizeof ts);
    return fail(ck, n, CEL_ERR_TYPE, "cannot select field '%.*s' from a value of "
                "type %s; expected a map or an object", (int)n->name_n, n->name, ts);
}

static const cel_type *check_index(checker *ck, cel_node *n, const cel_type *t,
                                   const cel_type *i)
{
    const cel_type *args[2] = {t, i};
    if (is_dyn(t))
        return &cel_type_dyn;
    if (t->kind == CEL_T_LIST) {
        if (is_dyn(i) || is_num(i))
            return elem_of(t);
        return no_overload(ck, n, args, 2, "a list index of type int");
    }
    if (t->kind == CEL_T_OBJECT)
        return &cel_type_dyn;
    if (t->kind == CEL_T_MAP) {
        const cel_type *k = t->key ? t->key : &cel_type_dyn;
        if (is_dyn(i) || is_dyn(k) || same_type(i, k) || (is_num(i) && is_num(k)))
            return elem_of(t);
        return no_overload(ck, n, args, 2, "a key of the map's key type");
    }
    return no_overload(ck, n, args, 2, "a list or a map to index");
}

/* ---- Identifiers and macros ---------------------------------------------- */

static const char *const type_idents[] = {
    "int", "uint", "double", "bool", "string", "bytes", "list", "map",
    "null_type", "type", NULL};

static const cel_type *check_ident(checker *ck, cel_node *n)
{
    for (unsigned i = ck->nlocals; i-- > 0;) {
        if (ck->local_len[i] == n->name_n && !memcmp(ck->local_name[i], n->name, n->name_n)) {
            n->op = CEL_OP_LOCAL;
            n->slot = (int32_t)i;
            return ck->local_type[i];
        }
    }
    const cel_type *t = NULL;
    int slot = cel_env_lookup(ck->env, n->name, n->name_n, &t);
    if (slot >= 0) {
        n->op = CEL_OP_VAR;
        n->slot = slot;
        ck->vars |= slot < 63 ? UINT64_C(1) << slot : UINT64_C(1) << 63;
        return t ? t : &cel_type_dyn;
    }
    for (size_t i = 0; type_idents[i]; i++) {
        if (strlen(type_idents[i]) == n->name_n && !memcmp(type_idents[i], n->name, n->name_n)) {
            n->op = CEL_OP_LIT;
            n->lit.kind = CEL_TYPE;
            n->lit.v.type_name = type_idents[i];
            return &type_type;
        }
    }
    if (ck->strict)
        return fail(ck, n, CEL_ERR_TYPE, "undeclared reference to '%.*s'",
                    (int)n->name_n, n->name);
    n->op = CEL_OP_LIT;
    char *msg = arena_printf(ck->a, "undeclared reference to '%.*s'",
                             (int)n->name_n, n->name);
    n->lit = cel_error(msg ? msg : "undeclared reference");
    return &cel_type_dyn;
}

/* google.protobuf.Timestamp and google.protobuf.Duration name types (when
 * `google` is not a variable); the select chain becomes a type literal. */
static bool qualified_type_name(checker *ck, cel_node *n)
{
    static const char *const names[] = {"google.protobuf.Timestamp",
                                        "google.protobuf.Duration"};
    const cel_node *root = n;
    while (root->op == CEL_OP_SELECT)
        root = root->a;
    if (root->op != CEL_OP_IDENT || cel_env_lookup(ck->env, root->name, root->name_n, NULL) >= 0)
        return false;
    for (unsigned i = 0; i < ck->nlocals; i++)
        if (ck->local_len[i] == root->name_n &&
            !memcmp(ck->local_name[i], root->name, root->name_n))
            return false;
    char path[64];
    path_of(n, path, sizeof path);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcmp(path, names[i])) {
            n->op = CEL_OP_LIT;
            n->lit.kind = CEL_TYPE;
            n->lit.v.type_name = names[i];
            return true;
        }
    }
    return false;
}

static const cel_type *check_macro(checker *ck, cel_node *n)
{
    const cel_type *range = check(ck, n->a);
    if (!range)
        return NULL;
    const cel_type *var;
    if (is_dyn(range))
        var = &cel_type_dyn;
    else if (range->kind == CEL_T_LIST)
        var = elem_of(range);
    else if (range->kind == CEL_T_MAP)
        var = range->key ? range->key : &cel_type_dyn;
    else if (range->kind == CEL_T_OBJECT)
        var = &cel_type_string;
    else if (ck->strict) {
        char ts[96];
        type_str(range, ts, sizeof ts);
        return fail(ck, n, CEL_ERR_TYPE, "%s() applies to a list or a map; "
                    "found %s", cel_op_name((cel_op)n->op), ts);
    } else
        var = &cel_type_dyn;
    if (ck->nlocals >= CEL_MAX_LOCALS)
        return fail(ck, n, CEL_ERR_LIMIT, "more than %u nested macros",
                    (unsigned)CEL_MAX_LOCALS);
    unsigned slot = ck->nlocals++;
    if (ck->nlocals > ck->max_locals)
        ck->max_locals = ck->nlocals;
    ck->local_name[slot] = n->name;
    ck->local_len[slot] = n->name_n;
    ck->local_type[slot] = var;
    n->slot = (int32_t)slot;
    const cel_type *filter = n->c ? check(ck, n->c) : &cel_type_bool;
    const cel_type *body = filter ? check(ck, n->b) : NULL;
    ck->nlocals--;
    if (!body)
        return NULL;
    cel_op op = (cel_op)n->op;
    const cel_node *pred = op == CEL_OP_MAP_MACRO ? n->c : n->b;
    const cel_type *pt = op == CEL_OP_MAP_MACRO ? filter : body;
    if (pred && ck->strict && !is_dyn(pt) && pt->kind != CEL_T_BOOL) {
        char ts[96];
        type_str(pt, ts, sizeof ts);
        return fail(ck, pred, CEL_ERR_TYPE, "the condition of %s() must be a bool; "
                    "found %s", cel_op_name(op), ts);
    }
    switch (op) {
    case CEL_OP_MAP_MACRO: return list_of(ck, body);
    case CEL_OP_FILTER: return list_of(ck, var);
    default: return &cel_type_bool;
    }
}

/* ---- Functions ------------------------------------------------------------- */

static bool kind_in(const cel_type *t, unsigned mask)
{
    return is_dyn(t) || (mask & (1u << t->kind));
}

#define K(k) (1u << CEL_T_##k)

static const cel_type *check_call(checker *ck, cel_node *n)
{
    const cel_type *args[8];
    unsigned na = n->nargs < 8 ? n->nargs : 8;
    for (uint32_t i = 0; i < n->nargs; i++) {
        const cel_type *t = check(ck, n->args[i]);
        if (!t)
            return NULL;
        if (i < 8)
            args[i] = t;
    }
    cel_op op = (cel_op)n->op;
    const cel_type *a0 = na > 0 ? args[0] : &cel_type_dyn;
    switch (op) {
    case CEL_OP_CALL: {
        if (!ck->strict)
            return &cel_type_dyn;
        for (int k = CEL_OP_F_SIZE; k < CEL_OP_COUNT_; k++) {
            const char *name = cel_op_name((cel_op)k);
            if (strlen(name) == n->name_n && !memcmp(name, n->name, n->name_n))
                return fail(ck, n, CEL_ERR_TYPE, "found no matching overload for "
                            "'%s' with %u argument%s%s", name,
                            (unsigned)(n->nargs - ((n->flags & CEL_NODE_METHOD) ? 1 : 0)),
                            n->nargs == 1 ? "" : "s",
                            (n->flags & CEL_NODE_METHOD) ? " as a method" : "");
        }
        return fail(ck, n, CEL_ERR_TYPE, "undeclared reference to function '%.*s'",
                    (int)n->name_n, n->name);
    }
    case CEL_OP_F_SIZE:
        if (!kind_in(a0, K(STRING) | K(BYTES) | K(LIST) | K(MAP) | K(OBJECT)))
            return no_overload(ck, n, args, na, "a string, bytes, list or map");
        return &cel_type_int;
    case CEL_OP_F_CONTAINS:
    case CEL_OP_F_STARTS_WITH:
    case CEL_OP_F_ENDS_WITH:
    case CEL_OP_F_MATCHES:
        if (!kind_in(args[0], K(STRING)) || !kind_in(args[1], K(STRING)))
            return no_overload(ck, n, args, na, "two strings");
        if (op == CEL_OP_F_MATCHES && n->args[1]->op == CEL_OP_LIT &&
            n->args[1]->lit.kind == CEL_STRING) {
            const char *why = NULL;
            const cel_value *pat = &n->args[1]->lit;
            n->aux = cel_regex_compile(ck->a, pat->v.s.p, pat->v.s.n, &why);
            if (!n->aux && ck->strict)
                return fail(ck, n->args[1], CEL_ERR_TYPE, "%s",
                            why ? why : "invalid regular expression");
        }
        return &cel_type_bool;
    case CEL_OP_F_INT:
        if (!kind_in(a0, K(INT) | K(UINT) | K(DOUBLE) | K(STRING) | K(TIMESTAMP)))
            return no_overload(ck, n, args, na, "an int, uint, double, string or timestamp");
        return &cel_type_int;
    case CEL_OP_F_UINT:
        if (!kind_in(a0, K(INT) | K(UINT) | K(DOUBLE) | K(STRING)))
            return no_overload(ck, n, args, na, "an int, uint, double or string");
        return &cel_type_uint;
    case CEL_OP_F_DOUBLE:
        if (!kind_in(a0, K(INT) | K(UINT) | K(DOUBLE) | K(STRING)))
            return no_overload(ck, n, args, na, "an int, uint, double or string");
        return &cel_type_double;
    case CEL_OP_F_STRING:
        if (!kind_in(a0, K(INT) | K(UINT) | K(DOUBLE) | K(STRING) | K(BYTES) |
                             K(BOOL) | K(TIMESTAMP) | K(DURATION)))
            return no_overload(ck, n, args, na, "a scalar value");
        return &cel_type_string;
    case CEL_OP_F_BOOL:
        if (!kind_in(a0, K(BOOL) | K(STRING)))
            return no_overload(ck, n, args, na, "a bool or a string");
        return &cel_type_bool;
    case CEL_OP_F_BYTES:
        if (!kind_in(a0, K(BYTES) | K(STRING)))
            return no_overload(ck, n, args, na, "bytes or a string");
        return &cel_type_bytes;
    case CEL_OP_F_DYN:
        return &cel_type_dyn;
    case CEL_OP_F_TYPE:
        return &type_type;
    case CEL_OP_F_TIMESTAMP:
        if (!kind_in(a0, K(STRING) | K(INT) | K(TIMESTAMP)))
            return no_overload(ck, n, args, na, "an RFC 3339 string or Unix seconds");
        return &cel_type_timestamp;
    case CEL_OP_F_DURATION:
        if (!kind_in(a0, K(STRING) | K(DURATION)))
            return no_overload(ck, n, args, na, "a string such as \"1h30m\"");
        return &cel_type_duration;
    default: /* timestamp and duration accessors */
        if (na == 2 && !kind_in(args[1], K(STRING)))
            return no_overload(ck, n, args, na, "a time zone string");
        if (!kind_in(a0, K(TIMESTAMP) | K(DURATION)))
            return no_overload(ck, n, args, na, "a timestamp or a duration");
        if (a0->kind == CEL_T_DURATION &&
            (na == 2 || (op != CEL_OP_F_GET_HOURS && op != CEL_OP_F_GET_MINUTES &&
                         op != CEL_OP_F_GET_SECONDS && op != CEL_OP_F_GET_MILLISECONDS)))
            return no_overload(ck, n, args, na, "a timestamp");
        return &cel_type_int;
    }
}

#undef K

/* ---- The walk --------------------------------------------------------------- */

static const cel_type *join(const cel_type *a, const cel_type *b)
{
    return same_type(a, b) ? a : &cel_type_dyn;
}

static const cel_type *check_node(checker *ck, cel_node *n)
{
    const cel_type *l, *r;
    switch ((cel_op)n->op) {
    case CEL_OP_LIT:
        if (n->flags & CEL_NODE_INT_MIN)
            return fail(ck, n, CEL_ERR_SYNTAX, "integer literal 9223372036854775808 "
                        "is out of range (at most 9223372036854775807)");
        switch (n->lit.kind) {
        case CEL_NULL: return &cel_type_null;
        case CEL_BOOL: return &cel_type_bool;
        case CEL_INT: return &cel_type_int;
        case CEL_UINT: return &cel_type_uint;
        case CEL_DOUBLE: return &cel_type_double;
        case CEL_STRING: return &cel_type_string;
        case CEL_BYTES: return &cel_type_bytes;
        case CEL_TYPE: return &type_type;
        default: return &cel_type_dyn;
        }
    case CEL_OP_IDENT:
        return check_ident(ck, n);
    case CEL_OP_VAR:
    case CEL_OP_LOCAL:
        return &cel_type_dyn;   /* already resolved (not reached) */
    case CEL_OP_SELECT:
        if (qualified_type_name(ck, n))
            return &type_type;
        if (!(l = check(ck, n->a)))
            return NULL;
        return check_field(ck, n, l);
    case CEL_OP_HAS:
        if (!(l = check(ck, n->a)))
            return NULL;
        if (!is_dyn(l) && !is_mapish(l)) {
            const cel_type *args[1] = {l};
            return no_overload(ck, n, args, 1, "a map or an object") ? &cel_type_bool : NULL;
        }
        return &cel_type_bool;
    case CEL_OP_INDEX:
        if (!(l = check(ck, n->a)) || !(r = check(ck, n->b)))
            return NULL;
        return check_index(ck, n, l, r);
    case CEL_OP_LIST: {
        const cel_type *elem = NULL;
        for (uint32_t i = 0; i < n->nargs; i++) {
            const cel_type *t = check(ck, n->args[i]);
            if (!t)
                return NULL;
            elem = elem ? join(elem, t) : t;
        }
        return list_of(ck, elem ? elem : &cel_type_dyn);
    }
    case CEL_OP_MAP: {
        const cel_type *kt = NULL, *vt = NULL;
        for (uint32_t i = 0; i < n->nargs; i += 2) {
            const cel_type *k = check(ck, n->args[i]);
            const cel_type *v = k ? check(ck, n->args[i + 1]) : NULL;
            if (!v)
                return NULL;
            if (ck->strict && !is_dyn(k) && k->kind != CEL_T_BOOL && k->kind != CEL_T_INT &&
                k->kind != CEL_T_UINT && k->kind != CEL_T_STRING) {
                char ts[96];
                type_str(k, ts, sizeof ts);
                return fail(ck, n->args[i], CEL_ERR_TYPE, "unsupported map key type "
                            "%s; expected bool, int, uint or string", ts);
            }
            kt = kt ? join(kt, k) : k;
            vt = vt ? join(vt, v) : v;
        }
        return map_of(ck, kt ? kt : &cel_type_dyn, vt ? vt : &cel_type_dyn);
    }
    case CEL_OP_COND: {
        const cel_type *c = check(ck, n->a);
        if (!c || !(l = check(ck, n->b)) || !(r = check(ck, n->c)))
            return NULL;
        if (!is_dyn(c) && c->kind != CEL_T_BOOL) {
            const cel_type *args[3] = {c, l, r};
            if (!no_overload(ck, n, args, 3, "a bool condition"))
                return NULL;
        }
        return join(l, r);
    }
    case CEL_OP_AND:
    case CEL_OP_OR:
        if (!(l = check(ck, n->a)) || !(r = check(ck, n->b)))
            return NULL;
        if ((!is_dyn(l) && l->kind != CEL_T_BOOL) || (!is_dyn(r) && r->kind != CEL_T_BOOL)) {
            const cel_type *args[2] = {l, r};
            if (!no_overload(ck, n, args, 2, "two bools"))
                return NULL;
        }
        return &cel_type_bool;
    case CEL_OP_NOT:
        if (!(l = check(ck, n->a)))
            return NULL;
        if (!is_dyn(l) && l->kind != CEL_T_BOOL && !no_overload(ck, n, &l, 1, "a bool"))
            return NULL;
        return &cel_type_bool;
    case CEL_OP_NEG:
        if (!(l = check(ck, n->a)))
            return NULL;
        if (!is_dyn(l) && l->kind != CEL_T_INT && l->kind != CEL_T_DOUBLE)
            return no_overload(ck, n, &l, 1, "an int or a double");
        return l;
    case CEL_OP_ADD:
    case CEL_OP_SUB:
    case CEL_OP_MUL:
    case CEL_OP_DIV:
    case CEL_OP_MOD:
        if (!(l = check(ck, n->a)) || !(r = check(ck, n->b)))
            return NULL;
        return check_arith(ck, n, l, r);
    case CEL_OP_EQ:
    case CEL_OP_NE:
        if (!(l = check(ck, n->a)) || !(r = check(ck, n->b)))
            return NULL;
        return &cel_type_bool;
    case CEL_OP_LT:
    case CEL_OP_LE:
    case CEL_OP_GT:
    case CEL_OP_GE:
        if (!(l = check(ck, n->a)) || !(r = check(ck, n->b)))
            return NULL;
        return check_compare(ck, n, l, r);
    case CEL_OP_IN:
        if (!(l = check(ck, n->a)) || !(r = check(ck, n->b)))
            return NULL;
        if (!is_dyn(r) && r->kind != CEL_T_LIST && !is_mapish(r)) {
            const cel_type *args[2] = {l, r};
            if (!no_overload(ck, n, args, 2, "a list or a map on the right of 'in'"))
                return NULL;
        }
        return &cel_type_bool;
    case CEL_OP_ALL:
    case CEL_OP_EXISTS:
    case CEL_OP_EXISTS_ONE:
    case CEL_OP_MAP_MACRO:
    case CEL_OP_FILTER:
        return check_macro(ck, n);
    default:
        return check_call(ck, n);
    }
}

/* A list or map literal made only of literals becomes one literal value,
 * built once in the env arena instead of at every evaluation. */
static void fold_literal(checker *ck, cel_node *n)
{
    for (uint32_t i = 0; i < n->nargs; i++)
        if (n->args[i]->op != CEL_OP_LIT || n->args[i]->lit.kind == CEL_ERROR)
            return;
    size_t count = n->op == CEL_OP_LIST ? n->nargs : n->nargs / 2;
    cel_value *a = arena_alloc(ck->a, (count ? count : 1) * sizeof *a);
    cel_value *b = arena_alloc(ck->a, (count ? count : 1) * sizeof *b);
    if (!a || !b)
        return;
    cel_value v;
    if (n->op == CEL_OP_LIST) {
        cel_list *l = arena_alloc(ck->a, sizeof *l);
        if (!l)
            return;
        for (size_t i = 0; i < count; i++)
            a[i] = n->args[i]->lit;
        l->n = count;
        l->items = a;
        v.kind = CEL_LIST;
        v.v.list = l;
    } else {
        for (size_t i = 0; i < count; i++) {
            a[i] = n->args[2 * i]->lit;
            b[i] = n->args[2 * i + 1]->lit;
        }
        const char *why;
        const cel_map *m = cel_map_build_ex(ck->a, count, a, b, CEL_MAP_ADOPT, &why, NULL);
        if (!m)
            return;   /* a repeated key: reported when evaluated */
        v.kind = CEL_MAP;
        v.v.map = m;
    }
    n->op = CEL_OP_LIT;
    n->lit = v;
}

static const cel_type *check(checker *ck, cel_node *n)
{
    const cel_type *t = check_node(ck, n);
    if (t) {
        n->type = t;
        if (n->op == CEL_OP_LIST || n->op == CEL_OP_MAP)
            fold_literal(ck, n);
    }
    return t;
}

/* Marks comparisons of a variable's field with a literal (`input.amount >
 * 500`, `subject.tier == "gold"`), the most common shape of a policy
 * condition, and the && / || trees made only of them, so the evaluator can
 * decide them without its general machinery. Recursion is bounded by the
 * height limit checked above. */
static void mark_field_literals(cel_node *n)
{
    if (!n)
        return;
    mark_field_literals(n->a);
    mark_field_literals(n->b);
    mark_field_literals(n->c);
    for (uint32_t i = 0; n->args && i < n->nargs; i++)
        mark_field_literals(n->args[i]);
    const unsigned fast = CEL_NODE_FIELD_LIT | CEL_NODE_FAST_LOGIC;
    switch ((cel_op)n->op) {
    case CEL_OP_AND:
    case CEL_OP_OR:
        if (n->a && n->b && (n->a->flags & fast) && (n->b->flags & fast))
            n->flags |= CEL_NODE_FAST_LOGIC;
        break;
    case CEL_OP_EQ:
    case CEL_OP_NE:
    case CEL_OP_LT:
    case CEL_OP_LE:
    case CEL_OP_GT:
    case CEL_OP_GE:
    case CEL_OP_IN: {
        const cel_node *a = n->a, *b = n->b;
        bool operand = a && (a->op == CEL_OP_VAR ||
                             (a->op == CEL_OP_SELECT && a->a && a->a->op == CEL_OP_VAR));
        cel_kind k = b && b->op == CEL_OP_LIT ? b->lit.kind : CEL_ERROR;
        bool literal = n->op == CEL_OP_IN ? k == CEL_LIST
                                          : k == CEL_INT || k == CEL_DOUBLE ||
                                                k == CEL_STRING || k == CEL_BOOL;
        if (operand && literal)
            n->flags |= CEL_NODE_FIELD_LIT;
        break;
    }
    default:
        break;
    }
}

cel_status cel_check(cel_env *env, cel_node *root, unsigned flags,
                     unsigned *max_locals, uint64_t *vars, cel_diag *diag)
{
    checker ck;
    memset(&ck, 0, sizeof ck);
    ck.env = env;
    ck.a = cel_env_arena(env);
    ck.diag = diag;
    ck.strict = (flags & CEL_CHECK_TYPES) != 0;
    if (!check(&ck, root))
        return diag->code;
    mark_field_literals(root);
    *max_locals = ck.max_locals;
    *vars = ck.vars;
    return CEL_OK;
}
