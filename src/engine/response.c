/* response.c - charter_decision_json: a decision as one JSON object.
 *
 * Written by hand into the decider's buffer (no JSON library on the hot
 * path). The shape is the one in docs/charter-reference.md ("Deciding"):
 * every key is always present, with null where there is nothing to say, so
 * a reader can rely on the shape.
 */
#include "base/banned.h"

#include "engine/decide.h"

#include <stdlib.h>
#include <string.h>

#include "engine/request.h"

typedef struct outbuf {
    charter_decider *d;
    size_t n;
    bool failed;
} outbuf;

static bool reserve_slow(outbuf *b, size_t more)
{
    if (b->failed)
        return false;
    charter_decider *d = b->d;
    size_t cap = d->out_cap ? d->out_cap : 1024;
    while (cap < b->n + more + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(d->out, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    d->out = p;
    d->out_cap = cap;
    return true;
}

/* Room for `more` bytes and a NUL. */
static inline bool reserve(outbuf *b, size_t more)
{
    if (b->n + more + 1 <= b->d->out_cap)
        return !b->failed;
    return reserve_slow(b, more);
}

static inline void put(outbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->d->out + b->n, s, n);
    b->n += n;
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* 1 for the bytes a JSON string cannot hold as they are (control
 * characters, the quote, the backslash) and for the terminating NUL, so one
 * pass over a string finds both its escapes and its end. */
static const unsigned char stop_byte[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
    [0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
    [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
    [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
    [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* A JSON string: quotes, backslashes and control characters escaped; UTF-8
 * passes through (every string here is valid UTF-8: the charter's from the
 * YAML parser, the request's from the JSON parser). Runs of plain bytes are
 * copied at once, since escapes are rare. */
static void put_str(outbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(b, "\"", 1);
    for (;;) {
        const char *q = s;
        while (!stop_byte[(unsigned char)*q])
            q++;
        put(b, s, (size_t)(q - s));
        unsigned char ch = (unsigned char)*q;
        if (!ch)
            break;
        char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
        size_t n = 2;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default: n = 6;
        }
        put(b, esc, n);
        s = q + 1;
    }
    put(b, "\"", 1);
}

static void put_str_or_null(outbuf *b, const char *s)
{
    if (s)
        put_str(b, s);
    else
        PUT_LIT(b, "null");
}

static void put_time(outbuf *b, int64_t ms)
{
    char t[40];
    size_t n = ch_time_format(ms, t);
    put(b, "\"", 1);
    put(b, t, n);
    put(b, "\"", 1);
}

static void put_str_list(outbuf *b, const char *const *v, size_t n)
{
    put(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(b, ",", 1);
        put_str(b, v[i]);
    }
    put(b, "]", 1);
}

static void put_fired(outbuf *b, const charter_fired *f)
{
    PUT_LIT(b, "{\"kind\":");
    put_str(b, f->kind);
    PUT_LIT(b, ",\"id\":");
    put_str(b, f->id);
    PUT_LIT(b, ",\"effect\":");
    put_str(b, charter_effect_name(f->effect));
    PUT_LIT(b, ",\"value\":");
    put_str_or_null(b, f->value);
    PUT_LIT(b, ",\"message\":");
    put_str(b, f->message ? f->message : "");
    if (f->error) {
        PUT_LIT(b, ",\"error\":");
        put_str(b, f->error);
    }
    put(b, "}", 1);
}

const char *charter_decision_json(charter_decider *d,
                                  const charter_decision *dec, size_t *len)
{
    if (len)
        *len = 0;
    if (!d || !dec)
        return NULL;
    outbuf b = {.d = d};
    PUT_LIT(&b, "{\"decision\":");
    put_str(&b, charter_effect_name(dec->effect));
    PUT_LIT(&b, ",\"reason\":");
    put_str(&b, dec->reason ? dec->reason : "");
    PUT_LIT(&b, ",\"explanation\":");
    put_str(&b, dec->explanation ? dec->explanation : "");
    PUT_LIT(&b, ",\"fired\":[");
    for (size_t i = 0; i < dec->fired_count; i++) {
        if (i)
            put(&b, ",", 1);
        put_fired(&b, &dec->fired[i]);
    }
    PUT_LIT(&b, "],\"values\":");
    put_str_list(&b, dec->values, dec->value_count);
    PUT_LIT(&b, ",\"obligations\":");
    put_str_list(&b, dec->obligations, dec->obligation_count);
    PUT_LIT(&b, ",\"escalation\":");
    if (dec->effect == CHARTER_ESCALATE) {
        PUT_LIT(&b, "{\"queue\":");
        put_str_or_null(&b, dec->queue);
        PUT_LIT(&b, ",\"deadline\":");
        if (dec->deadline_ms)
            put_time(&b, dec->deadline_ms);
        else
            PUT_LIT(&b, "null");
        put(&b, "}", 1);
    } else {
        PUT_LIT(&b, "null");
    }
    PUT_LIT(&b, ",\"charter_version\":");
    put_str_or_null(&b, dec->charter_version);
    PUT_LIT(&b, ",\"time\":");
    put_time(&b, dec->time_ms);
    if (dec->is_shadow)
        PUT_LIT(&b, ",\"shadow\":true}");
    else
        PUT_LIT(&b, ",\"shadow\":false}");
    if (b.failed || !reserve(&b, 0))
        return NULL;
    d->out[b.n] = '\0';
    if (len)
        *len = b.n;
    return d->out;
}
