/* jspan.h - reading fields out of JSON text without building a tree.
 *
 * The analyses stream over a ledger of millions of entries, each a JSON
 * payload of about a kilobyte of which they need a dozen fields. Parsing
 * every payload into a jansson tree costs more than everything else put
 * together, so they find the fields in the text instead: a span is a slice
 * of the payload holding one JSON value, and looking a key up skips over
 * the values before it without decoding them. The text must be valid JSON
 * (the ledger stores what jansson wrote or accepted); on anything else the
 * look-ups return false rather than reading past the span.
 *
 * Nothing here allocates. Spans point into the caller's text.
 */
#ifndef CHARTER_BASE_JSPAN_H
#define CHARTER_BASE_JSPAN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct jspan {
    const char *p; /* first byte of the value ('{', '"', a digit ...) */
    size_t n;      /* its length; 0 for "absent" */
} jspan;

/* The span of the whole value at the start of p[0..n) (white space
 * skipped), or false. */
bool jspan_value(const char *p, size_t n, jspan *out);
/* The value of `key` in the object `obj`, or false (absent, or `obj` is not
 * an object). */
bool jspan_get(jspan obj, const char *key, jspan *out);
/* One pass over `obj` for several keys: out[k] is the value of keys[k], or
 * {NULL, 0} when absent. Returns how many were found. Stops scanning once
 * all are found. */
size_t jspan_fields(jspan obj, const char *const *keys, size_t nkeys, jspan *out);
/* Iterates an array: start with *pos = 0; each call yields the next item.
 * False at the end or when `arr` is not an array. */
bool jspan_next(jspan arr, size_t *pos, jspan *item);
/* A string value's text. Without escapes, *s points into the span;
 * with escapes it is decoded into buf (cap bytes; false when too small).
 * *len excludes the NUL that ends buf (the span itself is not
 * NUL-terminated: use *len). */
bool jspan_str(jspan v, char *buf, size_t cap, const char **s, size_t *len);
/* A number value. */
bool jspan_num(jspan v, double *out);
bool jspan_is_null(jspan v);
bool jspan_is_true(jspan v);
/* The string value equals `lit` (no escapes involved). */
bool jspan_str_eq(jspan v, const char *lit);

#endif
