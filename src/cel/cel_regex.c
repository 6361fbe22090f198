/* cel_regex.c - `matches` with PCRE2, bounded.
 *
 * The CEL specification names RE2 (linear time); Charter uses PCRE2, whose
 * backtracking can take exponential time, so every match runs with the
 * match, depth and heap limits of limits.h: a pattern that would backtrack
 * forever ends the match with an evaluation error instead.
 *
 * Memory: compiled patterns are allocated in an arena through a PCRE2
 * general context whose free does nothing (the arena frees everything at
 * once); a literal pattern is compiled once, into the env arena, by the
 * checker. Matching memory comes from the evaluation's scratch arena through
 * a per-evaluation cel_regex_state, so a shared compiled pattern is never
 * written to and may be used by many threads.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "cel/cel_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string.h>

#define REGEX_HEAP_LIMIT_KIB 8192u

static void *arena_malloc_fn(PCRE2_SIZE n, void *data)
{
    return arena_alloc((arena *)data, n);
}

static void arena_free_fn(void *p, void *data)
{
    (void)p;
    (void)data;
}

static pcre2_code *compile_in(arena *a, const char *pat, size_t n,
                              const char **why)
{
    if (n > CEL_MAX_REGEX_BYTES) {
        *why = arena_printf(a, "regular expression is %zu bytes long, over the "
                            "limit of %u (CEL_MAX_REGEX_BYTES)", n,
                            (unsigned)CEL_MAX_REGEX_BYTES);
        return NULL;
    }
    pcre2_general_context *gc = pcre2_general_context_create(arena_malloc_fn,
                                                             arena_free_fn, a);
    pcre2_compile_context *cc = gc ? pcre2_compile_context_create(gc) : NULL;
    if (!cc) {
        *why = "out of memory compiling a regular expression";
        return NULL;
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, n, PCRE2_UTF, &err, &off, cc);
    if (!re) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(err, msg, sizeof msg) < 0)
            memcpy(msg, "invalid pattern", sizeof "invalid pattern");
        *why = arena_printf(a, "invalid regular expression '%.*s': %s at "
                            "offset %zu", (int)(n > 80 ? 80 : n), pat,
                            (const char *)msg, (size_t)off);
        if (!*why)
            *why = "invalid regular expression";
    }
    return re;
}

const void *cel_regex_compile(arena *a, const char *pat, size_t n,
                              const char **why)
{
    return compile_in(a, pat, n, why);
}

/* Lazily creates the per-evaluation match context and match data. */
static bool state_ready(arena *a, cel_regex_state *st)
{
    if (st->md)
        return true;
    pcre2_general_context *gc = pcre2_general_context_create(arena_malloc_fn,
                                                             arena_free_fn, a);
    if (!gc)
        return false;
    pcre2_match_context *mc = pcre2_match_context_create(gc);
    pcre2_match_data *md = pcre2_match_data_create(1, gc);
    if (!mc || !md)
        return false;
    pcre2_set_match_limit(mc, CEL_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(mc, CEL_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(mc, REGEX_HEAP_LIMIT_KIB);
    st->mc = mc;
    st->md = md;
    return true;
}

cel_value cel_regex_match(arena *a, cel_regex_state *st, const void *re,
                          const char *pat, size_t pat_n, const char *s, size_t n)
{
    const char *why = NULL;
    const pcre2_code *code = re;
    if (!code) {
        code = compile_in(a, pat, pat_n, &why);
        if (!code)
            return cel_error(why ? why : "invalid regular expression");
    }
    if (!state_ready(a, st))
        return cel_error("out of memory preparing a regular expression match");
    int rc = pcre2_match(code, (PCRE2_SPTR)s, n, 0, 0, st->md, st->mc);
    if (rc >= 0)
        return cel_bool(true);
    if (rc == PCRE2_ERROR_NOMATCH)
        return cel_bool(false);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT)
        return cel_error_fmt(a, "regular expression '%.*s' exceeded its match "
                             "limit (too much backtracking; simplify the "
                             "pattern, e.g. avoid nested quantifiers like (a+)+)",
                             (int)(pat_n > 80 ? 80 : pat_n), pat);
    PCRE2_UCHAR msg[160];
    if (pcre2_get_error_message(rc, msg, sizeof msg) < 0)
        memcpy(msg, "match failed", sizeof "match failed");
    return cel_error_fmt(a, "regular expression match failed: %s",
                         (const char *)msg);
}
