/* cel_json.c - JSON (jansson) to CEL values and back.
 *
 * JSON integers stay CEL ints (jansson keeps the lexical distinction between
 * 3 and 3.0), reals become doubles, objects maps with string keys (built with
 * cel_map_build, so lookups are binary searches). Nesting is limited by
 * CHARTER_MAX_JSON_DEPTH; the recursion is bounded by that limit.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "base/utf8.h"
#include "cel/cel_int.h"
#include "base/civil.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool from_json(arena *a, const json_t *j, cel_value *out, unsigned depth,
                      char *msg, size_t msg_len)
{
    if (depth > CHARTER_MAX_JSON_DEPTH) {
        snprintf(msg, msg_len, "JSON nests deeper than %u levels "
                 "(CHARTER_MAX_JSON_DEPTH)", (unsigned)CHARTER_MAX_JSON_DEPTH);
        return false;
    }
    switch (json_typeof(j)) {
    case JSON_NULL:
        *out = cel_null();
        return true;
    case JSON_TRUE:
        *out = cel_bool(true);
        return true;
    case JSON_FALSE:
        *out = cel_bool(false);
        return true;
    case JSON_INTEGER:
        *out = cel_int((int64_t)json_integer_value(j));
        return true;
    case JSON_REAL:
        *out = cel_double(json_real_value(j));
        return true;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        char *p = arena_strndup(a, json_string_value(j), n);
        if (!p)
            break;
        *out = cel_string(p, n);
        return true;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        cel_list *l = arena_alloc(a, sizeof *l);
        cel_value *items = arena_alloc(a, (n ? n : 1) * sizeof *items);
        if (!l || !items)
            break;
        for (size_t i = 0; i < n; i++)
            if (!from_json(a, json_array_get(j, i), &items[i], depth + 1, msg, msg_len))
                return false;
        l->n = n;
        l->items = items;
        out->kind = CEL_LIST;
        out->v.list = l;
        return true;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        cel_value *keys = arena_alloc(a, (n ? n : 1) * sizeof *keys);
        cel_value *vals = arena_alloc(a, (n ? n : 1) * sizeof *vals);
        if (!keys || !vals)
            break;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            size_t kn = strlen(k);
            char *kp = arena_strndup(a, k, kn);
            if (!kp)
                goto nomem;
            keys[i] = cel_string(kp, kn);
            if (!from_json(a, v, &vals[i], depth + 1, msg, msg_len))
                return false;
            i++;
        }
        const char *why = NULL;
        const cel_map *m = cel_map_build_ex(a, i, keys, vals, CEL_MAP_ADOPT, &why, NULL);
        if (!m) {
            snprintf(msg, msg_len, "cannot convert a JSON object: %s", why);
            return false;
        }
        out->kind = CEL_MAP;
        out->v.map = m;
        return true;
    }
    }
nomem:
    snprintf(msg, msg_len, "out of memory converting JSON");
    return false;
}

bool cel_value_from_json(arena *a, const struct json_t *j, cel_value *out,
                         char *msg, size_t msg_len)
{
    if (!j) {
        snprintf(msg, msg_len, "no JSON value given");
        return false;
    }
    return from_json(a, j, out, 0, msg, msg_len);
}

static json_t *to_json(const cel_value *v, unsigned depth)
{
    char buf[64];
    if (depth > 256)
        return NULL;
    switch (v->kind) {
    case CEL_NULL: return json_null();
    case CEL_BOOL: return json_boolean(v->v.b);
    case CEL_INT: return json_integer((json_int_t)v->v.i);
    case CEL_UINT:
        if (v->v.u <= (uint64_t)INT64_MAX)
            return json_integer((json_int_t)v->v.u);
        return json_real((double)v->v.u);
    case CEL_DOUBLE:
        if (isnan(v->v.d))
            return json_string("NaN");
        if (isinf(v->v.d))
            return json_string(v->v.d > 0 ? "Infinity" : "-Infinity");
        return json_real(v->v.d);
    case CEL_STRING: return json_stringn(v->v.s.p, v->v.s.n);
    case CEL_BYTES: {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = v->v.s.n, outn = (n + 2) / 3 * 4;
        char *s = malloc(outn + 1);
        if (!s)
            return NULL;
        const unsigned char *p = (const unsigned char *)v->v.s.p;
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t w = (uint32_t)p[i] << 16;
            if (i + 1 < n)
                w |= (uint32_t)p[i + 1] << 8;
            if (i + 2 < n)
                w |= p[i + 2];
            s[o++] = b64[(w >> 18) & 63];
            s[o++] = b64[(w >> 12) & 63];
            s[o++] = i + 1 < n ? b64[(w >> 6) & 63] : '=';
            s[o++] = i + 2 < n ? b64[w & 63] : '=';
        }
        json_t *r = json_stringn(s, o);
        free(s);
        return r;
    }
    case CEL_TIMESTAMP:
        cel_ts_format(v->v.t.sec, v->v.t.nsec, buf, sizeof buf);
        return json_string(buf);
    case CEL_DURATION:
        cel_dur_format(v->v.t.sec, v->v.t.nsec, buf, sizeof buf);
        return json_string(buf);
    case CEL_TYPE: return json_string(v->v.type_name);
    case CEL_LIST: {
        json_t *arr = json_array();
        if (!arr)
            return NULL;
        for (size_t i = 0; i < v->v.list->n; i++) {
            json_t *item = to_json(&v->v.list->items[i], depth + 1);
            if (!item || json_array_append_new(arr, item)) {
                json_decref(arr);
                return NULL;
            }
        }
        return arr;
    }
    case CEL_MAP: {
        json_t *obj = json_object();
        if (!obj)
            return NULL;
        const cel_map *m = v->v.map;
        for (size_t i = 0; i < m->n; i++) {
            const cel_value *k = &m->keys[i];
            char kb[64];
            const char *kp = kb;
            size_t kn;
            if (k->kind == CEL_STRING) {
                kp = k->v.s.p;
                kn = k->v.s.n;
            } else if (k->kind == CEL_BOOL) {
                kn = (size_t)snprintf(kb, sizeof kb, "%s", k->v.b ? "true" : "false");
            } else if (k->kind == CEL_INT) {
                kn = (size_t)snprintf(kb, sizeof kb, "%lld", (long long)k->v.i);
            } else if (k->kind == CEL_UINT) {
                kn = (size_t)snprintf(kb, sizeof kb, "%llu", (unsigned long long)k->v.u);
            } else {
                json_decref(obj);
                return NULL;
            }
            json_t *item = to_json(&m->values[i], depth + 1);
            if (!item || json_object_setn_new(obj, kp, kn, item)) {
                json_decref(obj);
                return NULL;
            }
        }
        return obj;
    }
    case CEL_ERROR:
        return NULL;
    }
    return NULL;
}

json_t *cel_value_to_json(const cel_value *v)
{
    return to_json(v, 0);
}

/* ---- Parsing JSON text straight into values ------------------------------ */

/* The parser reads text once and builds values in the arena, with no tree
 * in between: the decision path parses every request, and going through a
 * general JSON library's tree cost more than deciding. The children of the
 * containers being read wait on one growable stack (`st`) until their
 * container closes; then they are copied into the arena in one piece. */
typedef struct jp {
    arena *a;
    const char *s, *p, *end;
    unsigned max_depth;
    cel_value *st;          /* pending children: (key, value) pairs for maps */
    size_t st_n, st_cap;
    bool st_heap;           /* st was malloc'd (else it is the caller's) */
    cel_json_error *e;
} jp;

static bool jp_fail(jp *j, bool limit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool jp_fail(jp *j, bool limit, const char *fmt, ...)
{
    cel_json_error *e = j->e;
    if (e->msg[0])
        return false; /* the first error stands */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->limit = limit;
    e->line = 1;
    e->column = 1;
    for (const char *q = j->s; q < j->p && q < j->end; q++) {
        if (*q == '\n') {
            e->line++;
            e->column = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            e->column++; /* columns count characters, not bytes */
        }
    }
    return false;
}

static void jp_ws(jp *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool jp_push(jp *j, cel_value v)
{
    if (j->st_n == j->st_cap) {
        size_t cap = 2 * j->st_cap;
        cel_value *st = j->st_heap ? realloc(j->st, cap * sizeof *st)
                                   : malloc(cap * sizeof *st);
        if (!st)
            return jp_fail(j, false, "out of memory reading JSON");
        if (!j->st_heap)
            memcpy(st, j->st, j->st_n * sizeof *st);
        j->st = st;
        j->st_cap = cap;
        j->st_heap = true;
    }
    j->st[j->st_n++] = v;
    return true;
}

static int jp_hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = base_hex_digit(c);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A string, *j->p == '"'. The result is NUL-terminated in the arena. */
static bool jp_string(jp *j, cel_value *out)
{
    const char *start = ++j->p, *q = start;
    unsigned char high = 0; /* any byte >= 0x80 seen: UTF-8 to validate */
    /* Eight bytes at a time while none is '"', '\\' or a control byte
     * (the usual bit tricks: a byte is zero / below n). */
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t seen = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (j->end - q >= 8) {
        uint64_t x;
        memcpy(&x, q, 8);
        uint64_t qt = x ^ (ones * '"'), bs = x ^ (ones * '\\');
        uint64_t stop = (((qt - ones) & ~qt) | ((bs - ones) & ~bs) |
                         ((x - ones * 0x20) & ~x)) & highs;
        if (stop) {
            /* A borrow can only flag bytes after a true stop byte, so the
             * lowest flagged byte is the first real one. */
            unsigned k = (unsigned)__builtin_ctzll(stop) / 8;
            if (k)
                seen |= x & (~0ull >> (64 - 8 * k));
            q += k;
            break;
        }
        seen |= x;
        q += 8;
    }
#endif
    if (seen & highs)
        high = 0x80;
    while (q < j->end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"' || c == '\\' || c < 0x20)
            break;
        high |= c;
        q++;
    }
    if (q < j->end && *q == '"') { /* no escapes: the common case */
        size_t n = (size_t)(q - start);
        if ((high & 0x80) && !cel_utf8_valid(start, n))
            return jp_fail(j, false, "invalid UTF-8 in a string");
        if (n > CHARTER_MAX_STRING_BYTES)
            return jp_fail(j, true, "a string is %zu bytes long; the limit is %u", n,
                           (unsigned)CHARTER_MAX_STRING_BYTES);
        char *p = arena_alloc(j->a, n + 1);
        if (!p)
            return jp_fail(j, false, "out of memory reading JSON");
        memcpy(p, start, n);
        p[n] = '\0';
        j->p = q + 1;
        *out = cel_string(p, n);
        return true;
    }
    /* With escapes: decoding never makes the text longer. */
    const char *close = q;
    while (close < j->end && *close != '"') {
        if (*close == '\\' && close + 1 < j->end)
            close++;
        close++;
    }
    if (close >= j->end) {
        j->p = j->end;
        return jp_fail(j, false, "unterminated string");
    }
    char *buf = arena_alloc(j->a, (size_t)(close - start) + 1);
    if (!buf)
        return jp_fail(j, false, "out of memory reading JSON");
    size_t n = 0;
    const char *p = start;
    while (p < close) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) {
            j->p = p;
            return jp_fail(j, false, "control character in a string (escape it)");
        }
        if (c != '\\') {
            const char *run = p;
            while (p < close && *p != '\\' && (unsigned char)*p >= 0x20)
                p++;
            if (!cel_utf8_valid(run, (size_t)(p - run))) {
                j->p = run;
                return jp_fail(j, false, "invalid UTF-8 in a string");
            }
            memcpy(buf + n, run, (size_t)(p - run));
            n += (size_t)(p - run);
            continue;
        }
        j->p = p;
        char esc = p[1];
        p += 2;
        switch (esc) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            int hi = close - p >= 4 ? jp_hex4(p) : -1;
            if (hi < 0)
                return jp_fail(j, false, "\\u must be followed by four hex digits");
            p += 4;
            uint32_t cp = (uint32_t)hi;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int lo = close - p >= 6 && p[0] == '\\' && p[1] == 'u' ? jp_hex4(p + 2) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return jp_fail(j, false, "a \\u surrogate must come in a pair");
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return jp_fail(j, false, "a \\u surrogate must come in a pair");
            } else if (cp == 0) {
                return jp_fail(j, false, "\\u0000 is not allowed in a string");
            }
            n += utf8_encode(buf + n, cp);
            break;
        }
        default:
            return jp_fail(j, false, "invalid escape in a string");
        }
    }
    if (n > CHARTER_MAX_STRING_BYTES)
        return jp_fail(j, true, "a string is %zu bytes long; the limit is %u", n,
                       (unsigned)CHARTER_MAX_STRING_BYTES);
    buf[n] = '\0';
    j->p = close + 1;
    *out = cel_string(buf, n);
    return true;
}

static bool jp_number(jp *j, cel_value *out)
{
    const char *start = j->p, *p = j->p;
    bool neg = false, real = false;
    if (p < j->end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= j->end || *p < '0' || *p > '9')
        return jp_fail(j, false, "invalid number");
    uint64_t mag = 0;
    bool big = false;
    if (*p == '0') {
        p++;
    } else {
        for (; p < j->end && *p >= '0' && *p <= '9'; p++) {
            unsigned d = (unsigned)(*p - '0');
            if (mag > (UINT64_MAX - d) / 10)
                big = true;
            else
                mag = mag * 10 + d;
        }
    }
    if (p < j->end && *p == '.') {
        real = true;
        p++;
        if (p >= j->end || *p < '0' || *p > '9')
            return jp_fail(j, false, "invalid number: digits must follow '.'");
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < j->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= j->end || *p < '0' || *p > '9')
            return jp_fail(j, false, "invalid number: digits must follow the exponent");
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (!real) {
        if (big || mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            return jp_fail(j, false, "integer out of range (64-bit signed)");
        *out = cel_int(neg ? (int64_t)(0 - mag) : (int64_t)mag);
        j->p = p;
        return true;
    }
    size_t n = (size_t)(p - start);
    char small[64];
    char *text = n < sizeof small ? small : arena_alloc(j->a, n + 1);
    if (!text)
        return jp_fail(j, false, "out of memory reading JSON");
    memcpy(text, start, n);
    text[n] = '\0';
    double d = strtod(text, NULL);
    if (isinf(d))
        return jp_fail(j, false, "number out of range (double)");
    *out = cel_double(d);
    j->p = p;
    return true;
}

static bool jp_value(jp *j, cel_value *out, unsigned depth);

static bool jp_container(jp *j, cel_value *out, unsigned depth)
{
    bool is_map = *j->p == '{';
    char close = is_map ? '}' : ']';
    if (depth > j->max_depth)
        return jp_fail(j, true, "JSON nests deeper than %u levels", j->max_depth);
    j->p++;
    size_t base = j->st_n;
    jp_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
    } else {
        for (;;) {
            cel_value k, v;
            jp_ws(j);
            if (is_map) {
                if (j->p >= j->end || *j->p != '"')
                    return jp_fail(j, false, "expected a string key in an object");
                if (!jp_string(j, &k) || !jp_push(j, k))
                    return false;
                jp_ws(j);
                if (j->p >= j->end || *j->p != ':')
                    return jp_fail(j, false, "expected ':' after an object key");
                j->p++;
                jp_ws(j);
            }
            if (!jp_value(j, &v, depth + 1) || !jp_push(j, v))
                return false;
            jp_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                break;
            }
            return jp_fail(j, false, "expected ',' or '%c'", close);
        }
    }
    size_t count = j->st_n - base;
    if (!is_map) {
        cel_list *l = arena_alloc(j->a, sizeof *l);
        cel_value *items = count ? arena_memdup(j->a, j->st + base, count * sizeof *items)
                                 : arena_alloc(j->a, sizeof *items);
        if (!l || !items)
            return jp_fail(j, false, "out of memory reading JSON");
        l->n = count;
        l->items = items;
        out->kind = CEL_LIST;
        out->v.list = l;
        j->st_n = base;
        return true;
    }
    size_t n = count / 2;
    cel_value *keys = arena_alloc(j->a, (n ? n : 1) * sizeof *keys);
    cel_value *vals = arena_alloc(j->a, (n ? n : 1) * sizeof *vals);
    if (!keys || !vals)
        return jp_fail(j, false, "out of memory reading JSON");
    for (size_t i = 0; i < n; i++) {
        keys[i] = j->st[base + 2 * i];
        vals[i] = j->st[base + 2 * i + 1];
    }
    j->st_n = base;
    const char *why = NULL;
    size_t repeat;
    const cel_map *m = cel_map_build_ex(j->a, n, keys, vals, CEL_MAP_ADOPT, &why, &repeat);
    if (!m) {
        /* The repeat comes from the map's sort: a body of N keys and one
         * duplicate costs N log N here, never a search of every pair. */
        if (repeat < n)
            return jp_fail(j, false, "duplicate object key '%.100s'", keys[repeat].v.s.p);
        return jp_fail(j, false, "cannot build an object: %s", why);
    }
    out->kind = CEL_MAP;
    out->v.map = m;
    return true;
}

static bool jp_literal(jp *j, const char *word, cel_value v, cel_value *out)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return jp_fail(j, false, "invalid token (expected a JSON value)");
    j->p += n;
    *out = v;
    return true;
}

static bool jp_value(jp *j, cel_value *out, unsigned depth)
{
    jp_ws(j);
    if (j->p >= j->end)
        return jp_fail(j, false, "unexpected end of JSON text");
    switch (*j->p) {
    case '{':
    case '[': return jp_container(j, out, depth);
    case '"': return jp_string(j, out);
    case 't': return jp_literal(j, "true", cel_bool(true), out);
    case 'f': return jp_literal(j, "false", cel_bool(false), out);
    case 'n': return jp_literal(j, "null", cel_null(), out);
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            return jp_number(j, out);
        return jp_fail(j, false, "invalid token (expected a JSON value)");
    }
}

bool cel_json_parse(arena *a, const char *text, size_t n, unsigned max_depth,
                    cel_value *out, cel_json_error *e)
{
    memset(e, 0, sizeof *e);
    cel_value stack[64];
    jp j = {.a = a, .s = text, .p = text, .end = text + n, .max_depth = max_depth,
            .st = stack, .st_cap = sizeof stack / sizeof stack[0], .e = e};
    bool ok = jp_value(&j, out, 1);
    if (ok) {
        jp_ws(&j);
        if (j.p != j.end)
            ok = jp_fail(&j, false, "unexpected text after the JSON value");
    }
    if (j.st_heap)
        free(j.st);
    return ok;
}
