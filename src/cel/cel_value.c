/* cel_value.c - CEL values: equality, ordering, maps, formatting.
 *
 * Numbers compare across int, uint and double by their mathematical value
 * (the language definition's heterogeneous equality), exactly: no
 * conversion through double loses precision. Maps keep insertion order for
 * iteration and a sorted index for lookups.
 */
#include "base/banned.h"

#include "cel/cel_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
#define CEL_OP_NAME_(k, s) s,
    CEL_OP_LIST(CEL_OP_NAME_)
#undef CEL_OP_NAME_
};

const char *cel_op_name(cel_op op)
{
    return (unsigned)op < CEL_OP_COUNT_ ? op_names[op] : "?";
}

const char *cel_kind_type_name(cel_kind k)
{
    switch (k) {
    case CEL_NULL: return "null_type";
    case CEL_BOOL: return "bool";
    case CEL_INT: return "int";
    case CEL_UINT: return "uint";
    case CEL_DOUBLE: return "double";
    case CEL_STRING: return "string";
    case CEL_BYTES: return "bytes";
    case CEL_LIST: return "list";
    case CEL_MAP: return "map";
    case CEL_TIMESTAMP: return "google.protobuf.Timestamp";
    case CEL_DURATION: return "google.protobuf.Duration";
    case CEL_TYPE: return "type";
    case CEL_ERROR: return "error";
    }
    return "unknown";
}

cel_value cel_error_fmt(arena *a, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    const char *msg = a ? arena_strdup(a, buf) : NULL;
    return cel_error(msg ? msg : "evaluation error (out of memory while "
                                 "formatting the message)");
}

/* ---- UTF-8 ---------------------------------------------------------------- */

bool cel_utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return false;
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

size_t cel_utf8_count(const char *p, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80)
            count++;
    return count;
}

/* ---- Numbers ------------------------------------------------------------- */


static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }
static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* int or uint against double compares in double precision, as other CEL
 * implementations do (so 9223372036854775807 == 9223372036854775808.0);
 * 2 when d is NaN. */
static int cmp_double(double a, double b)
{
    if (isnan(a) || isnan(b))
        return 2;
    return (a > b) - (a < b);
}

static bool is_number(cel_kind k)
{
    return k == CEL_INT || k == CEL_UINT || k == CEL_DOUBLE;
}

/* -1/0/1, or 2 when unordered (NaN). */
static int cmp_numbers(const cel_value *a, const cel_value *b)
{
    switch (a->kind) {
    case CEL_INT:
        if (b->kind == CEL_INT)
            return cmp_i64(a->v.i, b->v.i);
        if (b->kind == CEL_UINT)
            return a->v.i < 0 ? -1 : cmp_u64((uint64_t)a->v.i, b->v.u);
        return cmp_double((double)a->v.i, b->v.d);
    case CEL_UINT:
        if (b->kind == CEL_UINT)
            return cmp_u64(a->v.u, b->v.u);
        if (b->kind == CEL_INT)
            return b->v.i < 0 ? 1 : cmp_u64(a->v.u, (uint64_t)b->v.i);
        return cmp_double((double)a->v.u, b->v.d);
    default:
        return cmp_double(a->v.d, b->kind == CEL_DOUBLE ? b->v.d
                                  : b->kind == CEL_INT ? (double)b->v.i
                                                       : (double)b->v.u);
    }
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c < 0 ? -1 : 1;
    return (an > bn) - (an < bn);
}

static int cmp_time(const cel_value *a, const cel_value *b)
{
    int c = cmp_i64(a->v.t.sec, b->v.t.sec);
    return c ? c : cmp_i64(a->v.t.nsec, b->v.t.nsec);
}

bool cel_value_compare(const cel_value *a, const cel_value *b, int *cmp)
{
    if (is_number(a->kind) && is_number(b->kind)) {
        int c = cmp_numbers(a, b);
        if (c == 2)
            return false;
        *cmp = c;
        return true;
    }
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case CEL_BOOL:
        *cmp = (int)a->v.b - (int)b->v.b;
        return true;
    case CEL_STRING:
    case CEL_BYTES:
        *cmp = cmp_bytes(a->v.s.p, a->v.s.n, b->v.s.p, b->v.s.n);
        return true;
    case CEL_TIMESTAMP:
    case CEL_DURATION:
        *cmp = cmp_time(a, b);
        return true;
    default:
        return false;
    }
}

bool cel_value_equal(const cel_value *a, const cel_value *b)
{
    if (is_number(a->kind) && is_number(b->kind))
        return cmp_numbers(a, b) == 0;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case CEL_NULL:
        return true;
    case CEL_BOOL:
        return a->v.b == b->v.b;
    case CEL_STRING:
    case CEL_BYTES:
        return a->v.s.n == b->v.s.n && !memcmp(a->v.s.p, b->v.s.p, a->v.s.n);
    case CEL_TIMESTAMP:
    case CEL_DURATION:
        return a->v.t.sec == b->v.t.sec && a->v.t.nsec == b->v.t.nsec;
    case CEL_TYPE:
        return !strcmp(a->v.type_name, b->v.type_name);
    case CEL_LIST: {
        const cel_list *x = a->v.list, *y = b->v.list;
        if (x->n != y->n)
            return false;
        for (size_t i = 0; i < x->n; i++)
            if (!cel_value_equal(&x->items[i], &y->items[i]))
                return false;
        return true;
    }
    case CEL_MAP: {
        const cel_map *x = a->v.map, *y = b->v.map;
        if (x->n != y->n)
            return false;
        for (size_t i = 0; i < x->n; i++) {
            const cel_value *w = cel_map_find(y, &x->keys[i]);
            if (!w || !cel_value_equal(&x->values[i], w))
                return false;
        }
        return true;
    }
    default:
        return false;
    }
}

/* ---- Maps ---------------------------------------------------------------- */

/* Key order for the index: bools, then numbers (by value), then strings. */
static int key_rank(cel_kind k)
{
    return k == CEL_BOOL ? 0 : k == CEL_STRING ? 2 : 1;
}

/* Byte order of two strings, as cmp_bytes, for the short keys of maps: a
 * loop the compiler keeps inline beats a call to memcmp. */
static inline int cmp_short(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    return (an > bn) - (an < bn);
}

static int key_cmp(const cel_value *a, const cel_value *b)
{
    if (a->kind == CEL_STRING && b->kind == CEL_STRING)
        return cmp_short(a->v.s.p, a->v.s.n, b->v.s.p, b->v.s.n);
    int ra = key_rank(a->kind), rb = key_rank(b->kind);
    if (ra != rb)
        return ra - rb;
    int c = 0;
    if (!cel_value_compare(a, b, &c))
        return 0;
    return c;
}

typedef struct key_ref {
    const cel_value *key;
    uint32_t pos;
} key_ref;

static int key_ref_cmp(const void *x, const void *y)
{
    const key_ref *a = x, *b = y;
    int c = key_cmp(a->key, b->key);
    return c ? c : (a->pos > b->pos) - (a->pos < b->pos);
}

const cel_map *cel_map_build_ex(arena *a, size_t n, const cel_value *keys,
                                const cel_value *values, unsigned flags,
                                const char **why, size_t *repeat)
{
    static const char *const oom = "out of memory";
    if (repeat)
        *repeat = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        cel_kind k = keys[i].kind;
        if (k != CEL_BOOL && k != CEL_INT && k != CEL_UINT && k != CEL_STRING) {
            *why = k == CEL_DOUBLE ? "unsupported map key type double (keys "
                                     "are bool, int, uint or string)"
                                   : "unsupported map key type (keys are bool, "
                                     "int, uint or string)";
            return NULL;
        }
    }
    if (n > UINT32_MAX) {
        *why = "map too large";
        return NULL;
    }
    cel_map *m = arena_alloc(a, sizeof *m);
    uint32_t *index = arena_alloc(a, (n ? n : 1) * sizeof *index);
    if (!m || !index) {
        *why = oom;
        return NULL;
    }
    static const cel_value none[1];
    if (n == 0) {
        m->keys = m->values = none;   /* never dereferenced: n is 0 */
    } else if (flags & CEL_MAP_ADOPT) {
        m->keys = keys;
        m->values = values;
    } else {
        cel_value *k = arena_memdup(a, keys, n * sizeof *keys);
        cel_value *v = arena_memdup(a, values, n * sizeof *values);
        if (!k || !v) {
            *why = oom;
            return NULL;
        }
        m->keys = k;
        m->values = v;
    }
    m->n = n;
    if (n <= 16) {
        /* Maps read from requests are small: an insertion sort of the
         * positions, with no scratch array, beats qsort. */
        for (size_t i = 0; i < n; i++) {
            size_t k = i;
            while (k > 0 && key_cmp(&m->keys[index[k - 1]], &m->keys[i]) > 0) {
                index[k] = index[k - 1];
                k--;
            }
            index[k] = (uint32_t)i;
        }
        for (size_t i = 1; i < n; i++) {
            if (key_cmp(&m->keys[index[i - 1]], &m->keys[index[i]]) == 0) {
                *why = "repeated key in map";
                if (repeat) /* the later of the two: the sort is stable */
                    *repeat = index[i];
                return NULL;
            }
        }
        m->index = index;
        return m;
    }
    key_ref *refs = arena_alloc(a, n * sizeof *refs);
    if (!refs) {
        *why = oom;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        refs[i].key = &m->keys[i];
        refs[i].pos = (uint32_t)i;
    }
    qsort(refs, n, sizeof *refs, key_ref_cmp);
    for (size_t i = 0; i < n; i++) {
        index[i] = refs[i].pos;
        if (i > 0 && key_cmp(refs[i - 1].key, refs[i].key) == 0) {
            /* Equal keys sort by position: refs[i] is the repeat. Found in
             * the sort, so a map of N keys is refused in N log N steps. */
            *why = "repeated key in map";
            if (repeat)
                *repeat = refs[i].pos;
            return NULL;
        }
    }
    m->index = index;
    return m;
}

const cel_map *cel_map_build(arena *a, size_t n, const cel_value *keys,
                             const cel_value *values)
{
    const char *why;
    return cel_map_build_ex(a, n, keys, values, 0, &why, NULL);
}

const cel_value *cel_map_get_str(const cel_map *m, const char *key, size_t n)
{
    if (!m)
        return NULL;
    if (m->index && m->n > 8) {
        size_t lo = 0, hi = m->n;
        /* Strings sort last: binary search over the whole index works since
         * every non-string key ranks below any string. */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const cel_value *k = &m->keys[m->index[mid]];
            int c;
            if (k->kind != CEL_STRING)
                c = -1;
            else
                c = cmp_short(k->v.s.p, k->v.s.n, key, n);
            if (c == 0)
                return &m->values[m->index[mid]];
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return NULL;
    }
    /* A small map (or one built by hand): a scan that rejects most keys by
     * their length and first byte costs less than a binary search. */
    for (size_t i = 0; i < m->n; i++) {
        const cel_value *k = &m->keys[i];
        if (k->kind == CEL_STRING && k->v.s.n == n &&
            (n == 0 || (k->v.s.p[0] == key[0] && !cmp_short(k->v.s.p, n, key, n))))
            return &m->values[i];
    }
    return NULL;
}

const cel_value *cel_map_find(const cel_map *m, const cel_value *key)
{
    if (key->kind == CEL_STRING)
        return cel_map_get_str(m, key->v.s.p, key->v.s.n);
    if (key->kind != CEL_BOOL && !is_number(key->kind))
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (m->keys[i].kind != CEL_STRING && cel_value_equal(&m->keys[i], key))
            return &m->values[i];
    return NULL;
}

/* ---- Formatting ---------------------------------------------------------- */

void cel_double_format(double d, char *buf, size_t len)
{
    if (isnan(d)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, len, d > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
}

typedef struct fmt_buf {
    char *p;
    size_t len, used;
    bool overflow;
} fmt_buf;

static void put(fmt_buf *f, const char *s, size_t n)
{
    if (f->used + n >= f->len) {
        f->overflow = true;
        n = f->used + 1 < f->len ? f->len - f->used - 1 : 0;
    }
    memcpy(f->p + f->used, s, n);
    f->used += n;
    f->p[f->used] = '\0';
}

static void puts_(fmt_buf *f, const char *s) { put(f, s, strlen(s)); }

static void put_quoted(fmt_buf *f, const char *s, size_t n, bool is_bytes)
{
    puts_(f, is_bytes ? "b\"" : "\"");
    for (size_t i = 0; i < n && !f->overflow; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(f, esc, 2);
        } else if (c == '\n') {
            puts_(f, "\\n");
        } else if (c < 0x20 || c == 0x7f || (is_bytes && c >= 0x80)) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            puts_(f, esc);
        } else {
            put(f, (const char *)&c, 1);
        }
    }
    puts_(f, "\"");
}

static void format_value(fmt_buf *f, const cel_value *v, int depth)
{
    char tmp[64];
    if (depth > 64) {
        puts_(f, "...");
        return;
    }
    switch (v->kind) {
    case CEL_NULL: puts_(f, "null"); break;
    case CEL_BOOL: puts_(f, v->v.b ? "true" : "false"); break;
    case CEL_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->v.i);
        puts_(f, tmp);
        break;
    case CEL_UINT:
        snprintf(tmp, sizeof tmp, "%lluu", (unsigned long long)v->v.u);
        puts_(f, tmp);
        break;
    case CEL_DOUBLE:
        cel_double_format(v->v.d, tmp, sizeof tmp);
        puts_(f, tmp);
        if (isfinite(v->v.d) && !strpbrk(tmp, ".e"))
            puts_(f, ".0");
        break;
    case CEL_STRING: put_quoted(f, v->v.s.p, v->v.s.n, false); break;
    case CEL_BYTES: put_quoted(f, v->v.s.p, v->v.s.n, true); break;
    case CEL_LIST:
        puts_(f, "[");
        for (size_t i = 0; i < v->v.list->n && !f->overflow; i++) {
            if (i)
                puts_(f, ", ");
            format_value(f, &v->v.list->items[i], depth + 1);
        }
        puts_(f, "]");
        break;
    case CEL_MAP:
        puts_(f, "{");
        for (size_t i = 0; i < v->v.map->n && !f->overflow; i++) {
            if (i)
                puts_(f, ", ");
            format_value(f, &v->v.map->keys[i], depth + 1);
            puts_(f, ": ");
            format_value(f, &v->v.map->values[i], depth + 1);
        }
        puts_(f, "}");
        break;
    case CEL_TIMESTAMP:
        cel_ts_format(v->v.t.sec, v->v.t.nsec, tmp, sizeof tmp);
        puts_(f, "timestamp(\"");
        puts_(f, tmp);
        puts_(f, "\")");
        break;
    case CEL_DURATION:
        cel_dur_format(v->v.t.sec, v->v.t.nsec, tmp, sizeof tmp);
        puts_(f, "duration(\"");
        puts_(f, tmp);
        puts_(f, "\")");
        break;
    case CEL_TYPE: puts_(f, v->v.type_name); break;
    case CEL_ERROR:
        puts_(f, "error(");
        puts_(f, v->v.error);
        puts_(f, ")");
        break;
    }
}

bool cel_value_format(const cel_value *v, char *buf, size_t len)
{
    if (!len)
        return false;
    fmt_buf f = {buf, len, 0, false};
    buf[0] = '\0';
    format_value(&f, v, 0);
    return !f.overflow;
}
