/* test_text.h - a growing text buffer for tests that generate large inputs
 * (charters of thousands of rules, requests of thousands of keys).
 * test_text_add appends printf-style and aborts when memory runs out; the
 * caller frees t.p. */
#ifndef CHARTER_TEST_TEXT_H
#define CHARTER_TEST_TEXT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct test_text {
    char *p;
    size_t n, cap;
} test_text;

static void test_text_add(test_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void test_text_add(test_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (w < 0)
        abort();
    if (t->cap - t->n <= (size_t)w) {
        size_t cap = t->cap ? t->cap : 1 << 16;
        while (cap - t->n <= (size_t)w)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p)
            abort();
        t->p = p;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)w;
}

#endif
