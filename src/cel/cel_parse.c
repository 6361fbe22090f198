/* cel_parse.c - CEL syntax tree from tokens, macros expanded.
 *
 * Recursive descent over the grammar of the language definition:
 *   Expr     = Or ["?" Or ":" Expr]
 *   Or       = And {"||" And}          And = Rel {"&&" Rel}
 *   Rel      = Add {relop Add}         Add = Mul {("+"|"-") Mul}
 *   Mul      = Unary {("*"|"/"|"%") Unary}
 *   Unary    = Member | "!" {"!"} Member | "-" {"-"} Member
 *   Member   = Primary {"." IDENT ["(" args ")"] | "[" Expr "]"}
 *   Primary  = ["."] IDENT ["(" args ")"] | "(" Expr ")" | list | map | literal
 * Two limits keep every later recursive walk bounded: the parser's own
 * nesting (parentheses, brackets, calls) and the height of the tree it builds
 * are both at most CEL_MAX_PARSE_DEPTH. Chains of && and || are built as
 * balanced trees (as other CEL implementations do), so long chains of those
 * stay shallow; a long chain of + is refused with CEL_ERR_LIMIT.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "cel/cel_int.h"

#include <string.h>

typedef struct parser {
    cel_lexer lx;
    cel_token tok;          /* current token */
    arena *a;
    cel_diag *diag;
    unsigned depth;
    bool failed;
} parser;

static void fail_at(parser *ps, cel_status code, uint32_t line, uint32_t col,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void fail_at(parser *ps, cel_status code, uint32_t line, uint32_t col,
                    const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    ps->diag->code = code;
    ps->diag->line = line;
    ps->diag->column = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->diag->message, sizeof ps->diag->message, fmt, ap);
    va_end(ap);
}

static void advance(parser *ps)
{
    ps->tok = cel_lex_next(&ps->lx);
    if (ps->tok.kind == CEL_TOK_ERROR)
        fail_at(ps, CEL_ERR_SYNTAX, ps->tok.line, ps->tok.col, "%s",
                ps->tok.v.error);
}

static void fail_expected(parser *ps, const char *what)
{
    const cel_token *t = &ps->tok;
    if (t->kind == CEL_TOK_EOF)
        fail_at(ps, CEL_ERR_SYNTAX, t->line, t->col,
                "found end of expression, expected %s", what);
    else
        fail_at(ps, CEL_ERR_SYNTAX, t->line, t->col, "found '%.*s', expected %s",
                (int)(t->n > 40 ? 40 : t->n), t->p, what);
}

static bool expect(parser *ps, cel_tok_kind k)
{
    if (ps->failed)
        return false;
    if (ps->tok.kind != k) {
        fail_expected(ps, cel_tok_name(k));
        return false;
    }
    advance(ps);
    return !ps->failed;
}

static cel_node *node_new(parser *ps, cel_op op, const cel_token *at)
{
    cel_node *n = arena_calloc(ps->a, 1, sizeof *n);
    if (!n) {
        fail_at(ps, CEL_ERR_NOMEM, at->line, at->col, "out of memory");
        return NULL;
    }
    n->op = (uint16_t)op;
    n->line = at->line;
    n->col = at->col;
    n->slot = -1;
    n->height = 1;
    return n;
}

/* Sets n's height from its operands; fails past the depth limit. */
static cel_node *finish(parser *ps, cel_node *n)
{
    if (!n)
        return NULL;
    uint32_t h = 0;
    const cel_node *kids[3] = {n->a, n->b, n->c};
    for (int i = 0; i < 3; i++)
        if (kids[i] && kids[i]->height > h)
            h = kids[i]->height;
    for (uint32_t i = 0; i < n->nargs; i++)
        if (n->args[i] && n->args[i]->height > h)
            h = n->args[i]->height;
    n->height = h + 1;
    if (n->height > CEL_MAX_PARSE_DEPTH) {
        fail_at(ps, CEL_ERR_LIMIT, n->line, n->col,
                "expression nests deeper than %u levels (CEL_MAX_PARSE_DEPTH); "
                "split it or use a macro such as exists()",
                (unsigned)CEL_MAX_PARSE_DEPTH);
        return NULL;
    }
    return n;
}

static cel_node *binary(parser *ps, cel_op op, const cel_token *at,
                        cel_node *l, cel_node *r)
{
    if (!l || !r)
        return NULL;
    cel_node *n = node_new(ps, op, at);
    if (!n)
        return NULL;
    n->a = l;
    n->b = r;
    return finish(ps, n);
}

static cel_node *parse_expr(parser *ps);

/* Argument or element list up to `close`; returns a count and an array. */
static bool parse_list(parser *ps, cel_tok_kind close, cel_node ***out,
                       uint32_t *count)
{
    size_t cap = 4, n = 0;
    cel_node **items = arena_alloc(ps->a, cap * sizeof *items);
    if (!items) {
        fail_at(ps, CEL_ERR_NOMEM, ps->tok.line, ps->tok.col, "out of memory");
        return false;
    }
    while (!ps->failed && ps->tok.kind != close) {
        cel_node *e = parse_expr(ps);
        if (!e)
            return false;
        if (n == cap) {
            cel_node **bigger = arena_alloc(ps->a, cap * 2 * sizeof *items);
            if (!bigger) {
                fail_at(ps, CEL_ERR_NOMEM, ps->tok.line, ps->tok.col, "out of memory");
                return false;
            }
            memcpy(bigger, items, n * sizeof *items);
            items = bigger;
            cap *= 2;
        }
        items[n++] = e;
        if (ps->tok.kind != CEL_TOK_COMMA)
            break;
        advance(ps);
    }
    if (ps->failed)
        return false;
    if (ps->tok.kind != close) {
        char what[64];
        snprintf(what, sizeof what, "',' or %s", cel_tok_name(close));
        fail_expected(ps, what);
        return false;
    }
    advance(ps);
    *out = items;
    *count = (uint32_t)n;
    return !ps->failed;
}

/* ---- Functions and macros ------------------------------------------------ */

/* Which built-ins exist and how they may be called: as f(args) with gmin..gmax
 * arguments, as recv.f(args) with mmin..mmax (NO = not in that form). */
#define NO 255
static const struct fn_def {
    cel_op op;
    uint8_t gmin, gmax, mmin, mmax;
} fn_defs[] = {
    {CEL_OP_F_SIZE, 1, 1, 0, 0},
    {CEL_OP_F_CONTAINS, 2, 2, 1, 1},
    {CEL_OP_F_STARTS_WITH, 2, 2, 1, 1},
    {CEL_OP_F_ENDS_WITH, 2, 2, 1, 1},
    {CEL_OP_F_MATCHES, 2, 2, 1, 1},
    {CEL_OP_F_INT, 1, 1, NO, NO},
    {CEL_OP_F_UINT, 1, 1, NO, NO},
    {CEL_OP_F_DOUBLE, 1, 1, NO, NO},
    {CEL_OP_F_STRING, 1, 1, NO, NO},
    {CEL_OP_F_BOOL, 1, 1, NO, NO},
    {CEL_OP_F_BYTES, 1, 1, NO, NO},
    {CEL_OP_F_DYN, 1, 1, NO, NO},
    {CEL_OP_F_TYPE, 1, 1, NO, NO},
    {CEL_OP_F_TIMESTAMP, 1, 1, NO, NO},
    {CEL_OP_F_DURATION, 1, 1, NO, NO},
    {CEL_OP_F_GET_FULL_YEAR, NO, NO, 0, 1},
    {CEL_OP_F_GET_MONTH, NO, NO, 0, 1},
    {CEL_OP_F_GET_DATE, NO, NO, 0, 1},
    {CEL_OP_F_GET_DAY_OF_MONTH, NO, NO, 0, 1},
    {CEL_OP_F_GET_DAY_OF_WEEK, NO, NO, 0, 1},
    {CEL_OP_F_GET_DAY_OF_YEAR, NO, NO, 0, 1},
    {CEL_OP_F_GET_HOURS, NO, NO, 0, 1},
    {CEL_OP_F_GET_MINUTES, NO, NO, 0, 1},
    {CEL_OP_F_GET_SECONDS, NO, NO, 0, 1},
    {CEL_OP_F_GET_MILLISECONDS, NO, NO, 0, 1},
};

static bool name_is(const char *p, size_t n, const char *s)
{
    return strlen(s) == n && !memcmp(p, s, n);
}

/* The built-in called `name` with nargs arguments (receiver excluded), or
 * CEL_OP_CALL when none fits. */
static cel_op fn_resolve(const char *name, size_t n, bool method, uint32_t nargs)
{
    for (size_t i = 0; i < sizeof fn_defs / sizeof fn_defs[0]; i++) {
        const struct fn_def *f = &fn_defs[i];
        if (!name_is(name, n, cel_op_name(f->op)))
            continue;
        uint8_t lo = method ? f->mmin : f->gmin, hi = method ? f->mmax : f->gmax;
        if (lo != NO && nargs >= lo && nargs <= hi)
            return f->op;
    }
    return CEL_OP_CALL;
}

static cel_node *make_call(parser *ps, const cel_token *at, const char *name,
                           size_t name_n, cel_node *recv, cel_node **args,
                           uint32_t nargs)
{
    cel_node *n = node_new(ps, CEL_OP_CALL, at);
    if (!n)
        return NULL;
    n->name = name;
    n->name_n = name_n;
    if (recv) {
        cel_node **all = arena_alloc(ps->a, (nargs + 1) * sizeof *all);
        if (!all) {
            fail_at(ps, CEL_ERR_NOMEM, at->line, at->col, "out of memory");
            return NULL;
        }
        all[0] = recv;
        if (nargs)
            memcpy(all + 1, args, nargs * sizeof *args);
        n->args = all;
        n->nargs = nargs + 1;
        n->flags |= CEL_NODE_METHOD;
    } else {
        n->args = args;
        n->nargs = nargs;
    }
    n->op = (uint16_t)fn_resolve(name, name_n, recv != NULL, nargs);
    return finish(ps, n);
}

static const struct { const char *name; cel_op op; uint32_t nargs; } macros[] = {
    {"all", CEL_OP_ALL, 2},           {"exists", CEL_OP_EXISTS, 2},
    {"exists_one", CEL_OP_EXISTS_ONE, 2}, {"map", CEL_OP_MAP_MACRO, 2},
    {"map", CEL_OP_MAP_MACRO, 3},     {"filter", CEL_OP_FILTER, 2},
};

/* recv.all(x, p) and friends; returns NULL without failing when the call is
 * not a macro (then *is_macro is false). */
static cel_node *try_macro(parser *ps, const cel_token *at, const char *name,
                           size_t name_n, cel_node *recv, cel_node **args,
                           uint32_t nargs, bool *is_macro)
{
    *is_macro = false;
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        if (!name_is(name, name_n, macros[i].name) || macros[i].nargs != nargs)
            continue;
        *is_macro = true;
        cel_node *v = args[0];
        if (v->op != CEL_OP_IDENT) {
            fail_at(ps, CEL_ERR_SYNTAX, v->line, v->col,
                    "the first argument of %s() must be a variable name",
                    macros[i].name);
            return NULL;
        }
        cel_node *n = node_new(ps, macros[i].op, at);
        if (!n)
            return NULL;
        n->name = v->name;
        n->name_n = v->name_n;
        n->a = recv;
        if (nargs == 3) {
            n->c = args[1];   /* filter */
            n->b = args[2];   /* transform */
        } else {
            n->b = args[1];
        }
        return finish(ps, n);
    }
    return NULL;
}

static cel_node *make_has(parser *ps, const cel_token *at, cel_node **args,
                          uint32_t nargs)
{
    if (nargs != 1 || args[0]->op != CEL_OP_SELECT) {
        fail_at(ps, CEL_ERR_SYNTAX, at->line, at->col,
                "has() expects one field selection such as has(m.f)");
        return NULL;
    }
    cel_node *sel = args[0];
    sel->op = CEL_OP_HAS;
    sel->line = at->line;
    sel->col = at->col;
    return sel;
}

/* ---- Grammar ------------------------------------------------------------- */

static cel_node *literal(parser *ps, cel_value v)
{
    cel_node *n = node_new(ps, CEL_OP_LIT, &ps->tok);
    if (!n)
        return NULL;
    n->lit = v;
    advance(ps);
    return n;
}

static cel_node *parse_map_literal(parser *ps, const cel_token *at)
{
    size_t cap = 8, n = 0;
    cel_node **items = arena_alloc(ps->a, cap * sizeof *items);
    if (!items) {
        fail_at(ps, CEL_ERR_NOMEM, at->line, at->col, "out of memory");
        return NULL;
    }
    while (!ps->failed && ps->tok.kind != CEL_TOK_RBRACE) {
        cel_node *k = parse_expr(ps);
        if (!k || !expect(ps, CEL_TOK_COLON))
            return NULL;
        cel_node *v = parse_expr(ps);
        if (!v)
            return NULL;
        if (n + 2 > cap) {
            cel_node **bigger = arena_alloc(ps->a, cap * 2 * sizeof *items);
            if (!bigger) {
                fail_at(ps, CEL_ERR_NOMEM, at->line, at->col, "out of memory");
                return NULL;
            }
            memcpy(bigger, items, n * sizeof *items);
            items = bigger;
            cap *= 2;
        }
        items[n++] = k;
        items[n++] = v;
        if (ps->tok.kind != CEL_TOK_COMMA)
            break;
        advance(ps);
    }
    if (ps->failed)
        return NULL;
    if (ps->tok.kind != CEL_TOK_RBRACE) {
        fail_expected(ps, "',' or '}'");
        return NULL;
    }
    advance(ps);
    cel_node *m = node_new(ps, CEL_OP_MAP, at);
    if (!m)
        return NULL;
    m->args = items;
    m->nargs = (uint32_t)n;
    return finish(ps, m);
}

static cel_node *parse_primary(parser *ps)
{
    cel_token t = ps->tok;
    switch (t.kind) {
    case CEL_TOK_INT: {
        cel_node *n = literal(ps, cel_int((int64_t)t.v.u));
        if (n && t.v.u > (uint64_t)INT64_MAX) {
            if (t.v.u != (uint64_t)INT64_MAX + 1) {
                fail_at(ps, CEL_ERR_SYNTAX, t.line, t.col,
                        "integer literal %.*s is out of range (at most "
                        "9223372036854775807; use a 'u' suffix for uint)",
                        (int)t.n, t.p);
                return NULL;
            }
            n->lit = cel_int(INT64_MIN);
            n->flags |= CEL_NODE_INT_MIN;
        }
        return n;
    }
    case CEL_TOK_UINT: return literal(ps, cel_uint(t.v.u));
    case CEL_TOK_DOUBLE: return literal(ps, cel_double(t.v.d));
    case CEL_TOK_STRING: return literal(ps, cel_string(t.v.s.p, t.v.s.n));
    case CEL_TOK_BYTES: {
        cel_value v = cel_string(t.v.s.p, t.v.s.n);
        v.kind = CEL_BYTES;
        return literal(ps, v);
    }
    case CEL_TOK_TRUE: return literal(ps, cel_bool(true));
    case CEL_TOK_FALSE: return literal(ps, cel_bool(false));
    case CEL_TOK_NULL: return literal(ps, cel_null());
    case CEL_TOK_LPAREN: {
        advance(ps);
        cel_node *e = parse_expr(ps);
        if (!e || !expect(ps, CEL_TOK_RPAREN))
            return NULL;
        return e;
    }
    case CEL_TOK_LBRACKET: {
        advance(ps);
        cel_node *n = node_new(ps, CEL_OP_LIST, &t);
        if (!n || !parse_list(ps, CEL_TOK_RBRACKET, &n->args, &n->nargs))
            return NULL;
        return finish(ps, n);
    }
    case CEL_TOK_LBRACE:
        advance(ps);
        return parse_map_literal(ps, &t);
    case CEL_TOK_DOT:
        /* A leading dot names the root scope: .x is x. */
        advance(ps);
        if (ps->tok.kind != CEL_TOK_IDENT) {
            fail_expected(ps, "an identifier after '.'");
            return NULL;
        }
        t = ps->tok;
        /* fall through */
    case CEL_TOK_IDENT: {
        advance(ps);
        if (ps->failed)
            return NULL;
        if (ps->tok.kind == CEL_TOK_LPAREN) {
            cel_token lp = ps->tok;
            advance(ps);
            cel_node **args = NULL;
            uint32_t nargs = 0;
            if (!parse_list(ps, CEL_TOK_RPAREN, &args, &nargs))
                return NULL;
            if (name_is(t.p, t.n, "has"))
                return make_has(ps, &t, args, nargs);
            (void)lp;
            return make_call(ps, &t, t.p, t.n, NULL, args, nargs);
        }
        if (ps->tok.kind == CEL_TOK_LBRACE) {
            fail_at(ps, CEL_ERR_SYNTAX, ps->tok.line, ps->tok.col,
                    "message construction '%.*s{...}' is not supported "
                    "(Charter has no protocol buffer types)", (int)t.n, t.p);
            return NULL;
        }
        cel_node *n = node_new(ps, CEL_OP_IDENT, &t);
        if (!n)
            return NULL;
        n->name = t.p;
        n->name_n = t.n;
        return n;
    }
    case CEL_TOK_EOF:
    default:
        if (!ps->failed)
            fail_expected(ps, "an expression");
        return NULL;
    }
}

static cel_node *parse_member(parser *ps)
{
    cel_node *e = parse_primary(ps);
    while (e && !ps->failed) {
        cel_token t = ps->tok;
        if (t.kind == CEL_TOK_DOT) {
            advance(ps);
            cel_token f = ps->tok;
            if (f.kind != CEL_TOK_IDENT && f.kind != CEL_TOK_QIDENT) {
                fail_expected(ps, "a field or method name after '.'");
                return NULL;
            }
            advance(ps);
            if (ps->failed)
                return NULL;
            const char *name = f.kind == CEL_TOK_QIDENT ? f.v.s.p : f.p;
            size_t name_n = f.kind == CEL_TOK_QIDENT ? f.v.s.n : f.n;
            if (f.kind == CEL_TOK_IDENT && ps->tok.kind == CEL_TOK_LPAREN) {
                advance(ps);
                cel_node **args = NULL;
                uint32_t nargs = 0;
                if (!parse_list(ps, CEL_TOK_RPAREN, &args, &nargs))
                    return NULL;
                bool is_macro;
                cel_node *m = try_macro(ps, &f, name, name_n, e, args, nargs, &is_macro);
                if (is_macro) {
                    e = m;
                    continue;
                }
                e = make_call(ps, &f, name, name_n, e, args, nargs);
                continue;
            }
            if (ps->tok.kind == CEL_TOK_LBRACE) {
                fail_at(ps, CEL_ERR_SYNTAX, ps->tok.line, ps->tok.col,
                        "message construction is not supported "
                        "(Charter has no protocol buffer types)");
                return NULL;
            }
            cel_node *n = node_new(ps, CEL_OP_SELECT, &f);
            if (!n)
                return NULL;
            n->a = e;
            n->name = name;
            n->name_n = name_n;
            n->lit = cel_string(name, name_n);
            e = finish(ps, n);
        } else if (t.kind == CEL_TOK_LBRACKET) {
            advance(ps);
            cel_node *idx = parse_expr(ps);
            if (!idx || !expect(ps, CEL_TOK_RBRACKET))
                return NULL;
            e = binary(ps, CEL_OP_INDEX, &t, e, idx);
        } else {
            break;
        }
    }
    return ps->failed ? NULL : e;
}

static cel_node *parse_unary(parser *ps)
{
    cel_token t = ps->tok;
    if (t.kind != CEL_TOK_NOT && t.kind != CEL_TOK_MINUS)
        return parse_member(ps);
    /* Count the run of identical prefix operators, then apply them (each
     * node gets the position of the run's first operator). */
    unsigned count = 0;
    while (ps->tok.kind == t.kind) {
        if (count >= CEL_MAX_PARSE_DEPTH) {
            fail_at(ps, CEL_ERR_LIMIT, t.line, t.col,
                    "more than %u prefix operators in a row (CEL_MAX_PARSE_DEPTH)",
                    (unsigned)CEL_MAX_PARSE_DEPTH);
            return NULL;
        }
        count++;
        advance(ps);
        if (ps->failed)
            return NULL;
    }
    cel_node *e = parse_member(ps);
    while (e && count > 0) {
        count--;
        if (t.kind == CEL_TOK_MINUS && e->op == CEL_OP_LIT && e->lit.kind == CEL_INT &&
            (e->flags & CEL_NODE_INT_MIN)) {
            e->flags &= (uint16_t)~CEL_NODE_INT_MIN;   /* -9223372036854775808 */
            e->line = t.line;
            e->col = t.col;
            continue;
        }
        cel_node *n = node_new(ps, t.kind == CEL_TOK_NOT ? CEL_OP_NOT : CEL_OP_NEG, &t);
        if (!n)
            return NULL;
        n->a = e;
        e = finish(ps, n);
    }
    return e;
}

static cel_op binop_of(cel_tok_kind k, int level)
{
    switch (level) {
    case 0: /* relations */
        switch (k) {
        case CEL_TOK_LT: return CEL_OP_LT;
        case CEL_TOK_LE: return CEL_OP_LE;
        case CEL_TOK_GT: return CEL_OP_GT;
        case CEL_TOK_GE: return CEL_OP_GE;
        case CEL_TOK_EQ: return CEL_OP_EQ;
        case CEL_TOK_NE: return CEL_OP_NE;
        case CEL_TOK_IN: return CEL_OP_IN;
        default: return CEL_OP_COUNT_;
        }
    case 1:
        return k == CEL_TOK_PLUS ? CEL_OP_ADD : k == CEL_TOK_MINUS ? CEL_OP_SUB
                                                                  : CEL_OP_COUNT_;
    default:
        return k == CEL_TOK_STAR ? CEL_OP_MUL : k == CEL_TOK_SLASH ? CEL_OP_DIV
               : k == CEL_TOK_PERCENT ? CEL_OP_MOD : CEL_OP_COUNT_;
    }
}

/* Left-associative binary levels: 0 relations, 1 additive, 2 multiplicative. */
static cel_node *parse_binary(parser *ps, int level)
{
    cel_node *l = level == 2 ? parse_unary(ps) : parse_binary(ps, level + 1);
    while (l && !ps->failed) {
        cel_op op = binop_of(ps->tok.kind, level);
        if (op == CEL_OP_COUNT_)
            break;
        cel_token t = ps->tok;
        advance(ps);
        cel_node *r = level == 2 ? parse_unary(ps) : parse_binary(ps, level + 1);
        l = binary(ps, op, &t, l, r);
    }
    return ps->failed ? NULL : l;
}

/* Builds a balanced tree over terms[lo..hi) joined by op. */
static cel_node *balance(parser *ps, cel_op op, cel_node **terms,
                         cel_token *toks, size_t lo, size_t hi)
{
    if (hi - lo == 1)
        return terms[lo];
    size_t mid = lo + (hi - lo) / 2;
    cel_node *l = balance(ps, op, terms, toks, lo, mid);
    cel_node *r = balance(ps, op, terms, toks, mid, hi);
    return binary(ps, op, &toks[mid], l, r);
}

/* Or (level 0) and And (level 1): a chain of terms, balanced. */
static cel_node *parse_logic(parser *ps, int level)
{
    cel_tok_kind k = level == 0 ? CEL_TOK_OR : CEL_TOK_AND;
    cel_op op = level == 0 ? CEL_OP_OR : CEL_OP_AND;
    cel_node *first = level == 0 ? parse_logic(ps, 1) : parse_binary(ps, 0);
    if (!first || ps->tok.kind != k)
        return ps->failed ? NULL : first;
    size_t cap = 8, n = 0;
    cel_node **terms = arena_alloc(ps->a, cap * sizeof *terms);
    cel_token *toks = arena_alloc(ps->a, cap * sizeof *toks);
    if (!terms || !toks) {
        fail_at(ps, CEL_ERR_NOMEM, first->line, first->col, "out of memory");
        return NULL;
    }
    terms[n++] = first;
    while (!ps->failed && ps->tok.kind == k) {
        cel_token t = ps->tok;
        advance(ps);
        cel_node *e = level == 0 ? parse_logic(ps, 1) : parse_binary(ps, 0);
        if (!e)
            return NULL;
        if (n == cap) {
            cel_node **bt = arena_alloc(ps->a, cap * 2 * sizeof *terms);
            cel_token *bk = arena_alloc(ps->a, cap * 2 * sizeof *toks);
            if (!bt || !bk) {
                fail_at(ps, CEL_ERR_NOMEM, t.line, t.col, "out of memory");
                return NULL;
            }
            memcpy(bt, terms, n * sizeof *terms);
            memcpy(bk, toks, n * sizeof *toks);
            terms = bt;
            toks = bk;
            cap *= 2;
        }
        toks[n] = t;
        terms[n++] = e;
    }
    if (ps->failed)
        return NULL;
    return balance(ps, op, terms, toks, 0, n);
}

static cel_node *parse_expr(parser *ps)
{
    if (++ps->depth > CEL_MAX_PARSE_DEPTH) {
        fail_at(ps, CEL_ERR_LIMIT, ps->tok.line, ps->tok.col,
                "expression nests deeper than %u levels (CEL_MAX_PARSE_DEPTH)",
                (unsigned)CEL_MAX_PARSE_DEPTH);
        return NULL;
    }
    cel_node *e = parse_logic(ps, 0);
    if (e && ps->tok.kind == CEL_TOK_QUESTION) {
        cel_token t = ps->tok;
        advance(ps);
        cel_node *then = parse_logic(ps, 0);
        if (!then || !expect(ps, CEL_TOK_COLON)) {
            ps->depth--;
            return NULL;
        }
        cel_node *otherwise = parse_expr(ps);
        if (!otherwise) {
            ps->depth--;
            return NULL;
        }
        cel_node *n = node_new(ps, CEL_OP_COND, &t);
        if (n) {
            n->a = e;
            n->b = then;
            n->c = otherwise;
        }
        e = finish(ps, n);
    }
    ps->depth--;
    return ps->failed ? NULL : e;
}

cel_node *cel_parse(arena *a, const char *src, size_t n, cel_diag *diag)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.a = a;
    ps.diag = diag;
    if (n > CEL_MAX_EXPR_BYTES) {
        fail_at(&ps, CEL_ERR_LIMIT, 1, 1,
                "expression is %zu bytes long, over the limit of %u "
                "(CEL_MAX_EXPR_BYTES)", n, (unsigned)CEL_MAX_EXPR_BYTES);
        return NULL;
    }
    cel_lex_init(&ps.lx, a, src, n);
    advance(&ps);
    if (ps.failed)
        return NULL;
    cel_node *root = parse_expr(&ps);
    if (!root)
        return NULL;
    if (ps.tok.kind != CEL_TOK_EOF) {
        fail_expected(&ps, "an operator or the end of the expression");
        return NULL;
    }
    return root;
}
