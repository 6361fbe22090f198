/* test_base_jspan.c - field look-ups in JSON text: keys found past nested
 * values and strings with escaped quotes, several keys in one pass, arrays,
 * escapes decoded, and malformed or truncated text refused without reading
 * past the span. */
#include "test.h"

#include "base/jspan.h"

static jspan span(const char *s)
{
    jspan v;
    if (!jspan_value(s, strlen(s), &v))
        v = (jspan){NULL, 0};
    return v;
}

static const char *str(jspan v, char *buf, size_t cap)
{
    const char *s;
    size_t n;
    static char out[256];
    if (!jspan_str(v, buf, cap, &s, &n) || n >= sizeof out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

static void test_key_after_nested_values_and_tricky_strings(void)
{
    jspan o = span(" {\"a\":{\"x\":[1,{\"y\":\"}\"}]},\"b\":\"say \\\"hi\\\" \\\\\",\"c\" : 42 } ");
    jspan v;
    char buf[64];
    CHECK(o.p && o.p[0] == '{');
    CHECK(jspan_get(o, "c", &v));
    double d = 0;
    CHECK(jspan_num(v, &d) && d == 42);
    CHECK(jspan_get(o, "b", &v));
    CHECK_STR(str(v, buf, sizeof buf), "say \"hi\" \\");
    CHECK(jspan_get(o, "a", &v));
    CHECK(v.n == 19);
    CHECK(!jspan_get(o, "x", &v)); /* only top-level keys */
    CHECK(!jspan_get(o, "", &v));
}

static void test_several_keys_in_one_pass(void)
{
    static const char *const keys[] = {"time_ms", "answer", "missing"};
    jspan o = span("{\"answer\":{\"decision\":\"allow\"},\"request\":{},\"time_ms\":17}"), f[3];
    CHECK_INT(jspan_fields(o, keys, 3, f), 2);
    CHECK(jspan_str_eq(f[0], "17") == false);
    double d = 0;
    CHECK(jspan_num(f[0], &d) && d == 17);
    jspan dec;
    CHECK(jspan_get(f[1], "decision", &dec) && jspan_str_eq(dec, "allow"));
    CHECK(f[2].p == NULL && f[2].n == 0);
}

static void test_arrays_and_scalars(void)
{
    jspan a = span("[ {\"id\":\"r1\"} , \"s\", null, true, -1.5e2 ]"), it;
    size_t pos = 0, n = 0;
    double d = 0;
    while (jspan_next(a, &pos, &it)) {
        n++;
        if (n == 3)
            CHECK(jspan_is_null(it));
        if (n == 4)
            CHECK(jspan_is_true(it));
        if (n == 5)
            CHECK(jspan_num(it, &d) && d == -150);
    }
    CHECK_INT(n, 5);
    pos = 0;
    CHECK(!jspan_next(span("[]"), &pos, &it));
    pos = 0;
    CHECK(!jspan_next(span("{}"), &pos, &it)); /* not an array */
}

static void test_escapes_decoded(void)
{
    char buf[64];
    CHECK_STR(str(span("\"caf\\u00e9 \\ud83d\\ude00 \\n\""), buf, sizeof buf),
              "caf\xc3\xa9 \xf0\x9f\x98\x80 \n");
    char tiny[4];
    CHECK(str(span("\"a\\tbcdef\""), tiny, sizeof tiny) == NULL); /* does not fit */
    CHECK(str(span("\"bad \\u12\""), buf, sizeof buf) == NULL);
}

static void test_malformed_text_is_refused(void)
{
    jspan v;
    CHECK(!jspan_value("{\"a\":\"open", 10, &v));
    CHECK(!jspan_value("[1,2", 4, &v));
    CHECK(!jspan_value("", 0, &v));
    /* A truncated span: the look-up stops at its end. */
    const char *text = "{\"a\":1,\"b\":2}";
    jspan cut = {text, 8};
    CHECK(jspan_get(cut, "a", &v));
    CHECK(!jspan_get(cut, "b", &v));
    CHECK(!jspan_get(span("{\"a\" 1}"), "a", &v));
    CHECK(!jspan_num(span("\"12\""), &(double){0}));
}

int main(void)
{
    RUN(test_key_after_nested_values_and_tricky_strings);
    RUN(test_several_keys_in_one_pass);
    RUN(test_arrays_and_scalars);
    RUN(test_escapes_decoded);
    RUN(test_malformed_text_is_refused);
    return TEST_DONE();
}
