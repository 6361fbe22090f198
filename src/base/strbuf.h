/* strbuf.h - a growing, NUL-terminated string for building output text
 * (answers, payloads, canonical JSON, reports, metrics).
 *
 * A strbuf is embedded by its owner and starts zeroed ({0}). Appends never
 * fail loudly: the first allocation failure sets `failed` and later appends
 * do nothing, so a writer appends freely and checks once at the end.
 * Ownership: `p` is malloc'd; strbuf_release frees it, or the owner takes
 * it (and must then free it).
 */
#ifndef CHARTER_BASE_STRBUF_H
#define CHARTER_BASE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
    char *p;       /* NULL until the first append; always NUL-terminated after */
    size_t n, cap;
    bool failed;   /* an allocation failed: the contents are incomplete */
} strbuf;

void strbuf_add(strbuf *b, const char *s, size_t n);
void strbuf_puts(strbuf *b, const char *s);
void strbuf_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees the text and zeroes the buffer. */
void strbuf_release(strbuf *b);

#endif
