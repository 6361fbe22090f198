/* jspan.c - field look-ups in JSON text (jspan.h).
 *
 * Skipping a value is a scan for its end: strings to the closing quote
 * (minding backslashes), objects and arrays by counting brackets outside
 * strings, scalars to the next delimiter. Depth is counted, not recursed,
 * so no input can exhaust the stack.
 */
#include "base/banned.h"

#include "base/jspan.h"
#include "base/utf8.h"
#include "base/civil.h"

#include <stdint.h>

static size_t skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    return i;
}

/* Index just past the string starting at p[i] == '"', or 0 on error. A
 * quote ends the string unless an odd number of backslashes precede it. */
static size_t skip_string(const char *p, size_t i, size_t n)
{
    for (i++; i < n;) {
        const char *q = memchr(p + i, '"', n - i);
        if (!q)
            return 0;
        size_t at = (size_t)(q - p), slashes = 0;
        while (at - slashes > i && p[at - slashes - 1] == '\\')
            slashes++;
        if (slashes % 2 == 0)
            return at + 1;
        i = at + 1;
    }
    return 0;
}

/* Index just past the value starting at p[i], or 0 on error. */
static size_t skip_value(const char *p, size_t i, size_t n)
{
    if (i >= n)
        return 0;
    if (p[i] == '"')
        return skip_string(p, i, n);
    if (p[i] == '{' || p[i] == '[') {
        size_t depth = 0;
        while (i < n) {
            char ch = p[i];
            if (ch == '"') {
                if (!(i = skip_string(p, i, n)))
                    return 0;
                continue;
            }
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return 0;
    }
    size_t start = i;
    while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' &&
           p[i] != '\n' && p[i] != '\r' && p[i] != '\t')
        i++;
    return i > start ? i : 0;
}

bool jspan_value(const char *p, size_t n, jspan *out)
{
    size_t i = skip_ws(p, 0, n);
    size_t end = skip_value(p, i, n);
    if (!end)
        return false;
    *out = (jspan){p + i, end - i};
    return true;
}

size_t jspan_fields(jspan obj, const char *const *keys, size_t nkeys, jspan *out)
{
    const char *p = obj.p;
    size_t n = obj.n, found = 0;
    for (size_t k = 0; k < nkeys; k++)
        out[k] = (jspan){NULL, 0};
    if (n < 2 || p[0] != '{')
        return 0;
    size_t i = skip_ws(p, 1, n);
    while (i < n && p[i] == '"' && found < nkeys) {
        size_t kend = skip_string(p, i, n);
        if (!kend)
            return found;
        size_t klen = kend - i - 2, which = nkeys;
        const char *key = p + i + 1;
        for (size_t k = 0; k < nkeys && which == nkeys; k++)
            if (!out[k].p && keys[k][0] == key[0] && !strncmp(key, keys[k], klen) &&
                keys[k][klen] == '\0')
                which = k;
        i = skip_ws(p, kend, n);
        if (i >= n || p[i] != ':')
            return found;
        i = skip_ws(p, i + 1, n);
        size_t vend = skip_value(p, i, n);
        if (!vend)
            return found;
        if (which < nkeys) {
            out[which] = (jspan){p + i, vend - i};
            found++;
        }
        i = skip_ws(p, vend, n);
        if (i < n && p[i] == ',')
            i = skip_ws(p, i + 1, n);
        else
            break;
    }
    return found;
}

bool jspan_get(jspan obj, const char *key, jspan *out)
{
    const char *keys[1] = {key};
    return jspan_fields(obj, keys, 1, out) == 1;
}

bool jspan_next(jspan arr, size_t *pos, jspan *item)
{
    const char *p = arr.p;
    size_t n = arr.n;
    if (n < 2 || p[0] != '[')
        return false;
    size_t i = skip_ws(p, *pos ? *pos : 1, n);
    if (i < n && p[i] == ',')
        i = skip_ws(p, i + 1, n);
    if (i >= n || p[i] == ']')
        return false;
    size_t end = skip_value(p, i, n);
    if (!end)
        return false;
    *item = (jspan){p + i, end - i};
    *pos = end;
    return true;
}

static bool read_hex4(const char *p, size_t left, unsigned *out)
{
    if (left < 4)
        return false;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int d = base_hex_digit(p[k]);
        if (d < 0)
            return false;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return true;
}

/* Decodes the escape at p[i] == '\\' into o; advances *i past it. */
static size_t decode_escape(const char *p, size_t *i, size_t end, char *o)
{
    char e = p[*i + 1];
    *i += 2;
    switch (e) {
    case 'n': *o = '\n'; return 1;
    case 't': *o = '\t'; return 1;
    case 'r': *o = '\r'; return 1;
    case 'b': *o = '\b'; return 1;
    case 'f': *o = '\f'; return 1;
    case 'u': break;
    default: *o = e; return 1; /* \" \\ \/ */
    }
    unsigned cp;
    if (!read_hex4(p + *i, end - *i, &cp))
        return 0;
    *i += 4;
    if (cp >= 0xD800 && cp < 0xDC00 && *i + 6 <= end && p[*i] == '\\' && p[*i + 1] == 'u') {
        unsigned lo;
        if (read_hex4(p + *i + 2, end - *i - 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            *i += 6;
        }
    }
    return utf8_encode(o, cp);
}

bool jspan_str(jspan v, char *buf, size_t cap, const char **s, size_t *len)
{
    if (v.n < 2 || v.p[0] != '"' || v.p[v.n - 1] != '"')
        return false;
    const char *body = v.p + 1;
    size_t blen = v.n - 2;
    if (!memchr(body, '\\', blen)) {
        *s = body;
        *len = blen;
        return true;
    }
    size_t o = 0, i = 1, end = v.n - 1;
    while (i < end) {
        if (o + 5 > cap)
            return false;
        if (v.p[i] != '\\') {
            buf[o++] = v.p[i++];
            continue;
        }
        size_t k = decode_escape(v.p, &i, end, buf + o);
        if (!k)
            return false;
        o += k;
    }
    buf[o] = '\0';
    *s = buf;
    *len = o;
    return true;
}

bool jspan_num(jspan v, double *out)
{
    /* Whole numbers (times, counts) without strtod. */
    if (v.n && v.n < 16) {
        size_t i = v.p[0] == '-';
        uint64_t x = 0;
        while (i < v.n && v.p[i] >= '0' && v.p[i] <= '9')
            x = x * 10 + (uint64_t)(v.p[i++] - '0');
        if (i == v.n && v.n > (size_t)(v.p[0] == '-')) {
            *out = v.p[0] == '-' ? -(double)x : (double)x;
            return true;
        }
    }
    char tmp[64];
    if (v.n == 0 || v.n >= sizeof tmp || !(v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')))
        return false;
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end)
        return false;
    *out = d;
    return true;
}

bool jspan_is_null(jspan v)
{
    return v.n == 4 && !memcmp(v.p, "null", 4);
}

bool jspan_is_true(jspan v)
{
    return v.n == 4 && !memcmp(v.p, "true", 4);
}

bool jspan_str_eq(jspan v, const char *lit)
{
    size_t n = strlen(lit);
    return v.n == n + 2 && v.p[0] == '"' && !memcmp(v.p + 1, lit, n);
}
