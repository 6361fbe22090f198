/* test_cel_json.c - JSON to CEL values and back, and maps built from it. */
#include "cel/cel.h"
#include "cel/cel_int.h"

#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <time.h>

static arena A;

static cel_value from(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    cel_value v = cel_null();
    char msg[128];
    CHECK(j != NULL);
    CHECK(cel_value_from_json(&A, j, &v, msg, sizeof msg));
    json_decref(j);
    return v;
}

static void test_numbers_keep_their_kind(void)
{
    cel_value v = from("[1, 1.0, -9223372036854775808, 1e3]");
    CHECK(v.kind == CEL_LIST && v.v.list->n == 4);
    CHECK(v.v.list->items[0].kind == CEL_INT);
    CHECK(v.v.list->items[1].kind == CEL_DOUBLE);
    CHECK(v.v.list->items[2].kind == CEL_INT && v.v.list->items[2].v.i == INT64_MIN);
    CHECK(v.v.list->items[3].kind == CEL_DOUBLE);
}

static void test_objects_become_maps_with_lookup(void)
{
    cel_value v = from("{\"b\": true, \"a\": null, \"c\": {\"d\": \"x\"}}");
    CHECK(v.kind == CEL_MAP && v.v.map->n == 3);
    const cel_value *c = cel_map_get_str(v.v.map, "c", 1);
    CHECK(c && c->kind == CEL_MAP);
    const cel_value *d = c ? cel_map_get_str(c->v.map, "d", 1) : NULL;
    CHECK(d && d->kind == CEL_STRING && d->v.s.n == 1 && d->v.s.p[0] == 'x');
    CHECK(cel_map_get_str(v.v.map, "zz", 2) == NULL);
    CHECK(cel_map_get_str(v.v.map, "a", 1)->kind == CEL_NULL);
}

static void test_round_trip(void)
{
    const char *text = "{\"a\": [1, 2.5, \"s\", true, null], \"b\": {\"c\": -3}}";
    cel_value v = from(text);
    json_t *back = cel_value_to_json(&v);
    json_error_t je;
    json_t *orig = json_loads(text, 0, &je);
    CHECK(back && json_equal(back, orig));
    json_decref(back);
    json_decref(orig);
}

static void test_special_values_to_json(void)
{
    cel_value out;
    cel_diag d;
    const char *src = "[timestamp('2026-01-02T03:04:05Z'), duration('1.5s'), b'hi', 5u, "
                      "{1: 'one'}]";
    CHECK_INT(cel_eval_once(&A, src, strlen(src), NULL, 0, &out, &d), CEL_OK);
    json_t *j = cel_value_to_json(&out);
    char *s = json_dumps(j, JSON_COMPACT);
    CHECK_STR(s, "[\"2026-01-02T03:04:05Z\",\"1.5s\",\"aGk=\",5,{\"1\":\"one\"}]");
    free(s);
    json_decref(j);
    cel_value err = cel_error("x");
    CHECK(cel_value_to_json(&err) == NULL);
}

static void test_depth_limit(void)
{
    char text[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        text[n++] = '[';
    for (int i = 0; i < 100; i++)
        text[n++] = ']';
    text[n] = '\0';
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    cel_value v;
    char msg[128];
    CHECK(!cel_value_from_json(&A, j, &v, msg, sizeof msg));
    CHECK_HAS(msg, "CHARTER_MAX_JSON_DEPTH");
    json_decref(j);
}

static void test_map_build_refuses_repeated_keys(void)
{
    cel_value keys[2] = {cel_string("k", 1), cel_string("k", 1)};
    cel_value vals[2] = {cel_int(1), cel_int(2)};
    CHECK(cel_map_build(&A, 2, keys, vals) == NULL);
    keys[1] = cel_string("j", 1);
    const cel_map *m = cel_map_build(&A, 2, keys, vals);
    CHECK(m && m->n == 2);
    CHECK(m && cel_map_get_str(m, "j", 1)->v.i == 2);
    /* A map built by hand (no index) is searched linearly. */
    cel_map hand = {2, keys, vals, NULL};
    CHECK(cel_map_get_str(&hand, "k", 1)->v.i == 1);
}

static void test_map_build_names_the_repeated_key(void)
{
    /* Both the small-map path (insertion sort) and the large one (qsort)
     * give the position of the later of two equal keys. */
    cel_value keys[40], vals[40];
    char names[40][4];
    for (size_t n = 3; n <= 40; n += 37) {
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "k%zu", i);
            keys[i] = cel_string(names[i], strlen(names[i]));
            vals[i] = cel_int((int64_t)i);
        }
        keys[n - 1] = keys[1];
        const char *why = NULL;
        size_t repeat = 0;
        CHECK(cel_map_build_ex(&A, n, keys, vals, 0, &why, &repeat) == NULL);
        CHECK_INT(repeat, n - 1);
        CHECK_HAS(why, "repeated key");
        keys[n - 1] = cel_string("zz", 2);
        CHECK(cel_map_build_ex(&A, n, keys, vals, 0, &why, &repeat) != NULL);
        CHECK(repeat == SIZE_MAX);
    }
}

/* ---- cel_json_parse: JSON text straight into values ---------------------- */

static bool parse_text(arena *a, const char *text, cel_value *out, cel_json_error *e)
{
    return cel_json_parse(a, text, strlen(text), 64, out, e);
}

static void test_parse_values_and_kinds(void)
{
    arena a;
    arena_init(&a, 1024);
    cel_value v;
    cel_json_error e;
    CHECK(parse_text(&a, " {\"n\": -42, \"d\": 2.5e1, \"z\": 0, \"b\": [true, false, null],"
                         " \"s\": \"x\", \"o\": {}} ", &v, &e));
    CHECK_INT(v.kind, CEL_MAP);
    const cel_value *n = cel_map_get_str(v.v.map, "n", 1);
    CHECK(n && n->kind == CEL_INT && n->v.i == -42);
    const cel_value *d = cel_map_get_str(v.v.map, "d", 1);
    CHECK(d && d->kind == CEL_DOUBLE && d->v.d == 25.0);
    const cel_value *b = cel_map_get_str(v.v.map, "b", 1);
    CHECK(b && b->kind == CEL_LIST && b->v.list->n == 3 &&
          b->v.list->items[2].kind == CEL_NULL);
    const cel_value *o = cel_map_get_str(v.v.map, "o", 1);
    CHECK(o && o->kind == CEL_MAP && o->v.map->n == 0);
    CHECK(parse_text(&a, "-9223372036854775808", &v, &e));
    CHECK(v.kind == CEL_INT && v.v.i == INT64_MIN);
    CHECK(parse_text(&a, "[]", &v, &e) && v.kind == CEL_LIST && v.v.list->n == 0);
    arena_release(&a);
}

static void test_parse_string_escapes(void)
{
    arena a;
    arena_init(&a, 1024);
    cel_value v;
    cel_json_error e;
    CHECK(parse_text(&a, "\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\"", &v, &e));
    CHECK_INT(v.kind, CEL_STRING);
    CHECK_STR(v.v.s.p, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK_INT((long long)v.v.s.n, 18);
    CHECK(parse_text(&a, "\"caf\xc3\xa9\"", &v, &e) && v.v.s.n == 5);
    /* Longer strings are scanned eight bytes at a time: what lies on either
     * side of a word boundary must still be seen. */
    CHECK(parse_text(&a, "\"abcdefghij\xc3\xa9klmnopqrstuvwxyz0123\"", &v, &e) &&
          v.v.s.n == 32);
    CHECK(parse_text(&a, "[\"0123456\",\"abcdefgh\",\"\"]", &v, &e) &&
          v.kind == CEL_LIST && v.v.list->n == 3 && v.v.list->items[1].v.s.n == 8);
    CHECK(!parse_text(&a, "\"abcdefghijkl\xffmnop\"", &v, &e));
    CHECK(!parse_text(&a, "\"abcdefghi\x01jklmnop\"", &v, &e));
    CHECK(!parse_text(&a, "\"abcdefghijklmnopqrstu", &v, &e));
    arena_release(&a);
}

static void refused_json(const char *text, const char *want, bool limit)
{
    arena a;
    arena_init(&a, 1024);
    cel_value v;
    cel_json_error e;
    CHECK(!parse_text(&a, text, &v, &e));
    CHECK_HAS(e.msg, want);
    CHECK(e.limit == limit);
    arena_release(&a);
}

static void test_parse_refusals(void)
{
    refused_json("", "unexpected end", false);
    refused_json("{\"a\":1,}", "expected a string key", false);
    refused_json("{\"a\":1 \"b\":2}", "expected ','", false);
    refused_json("[1,2", "expected ','", false);
    refused_json("{\"a\":1,\"a\":2}", "duplicate object key 'a'", false);
    refused_json("\"\xff\"", "invalid UTF-8", false);
    refused_json("\"\xc0\xaf\"", "invalid UTF-8", false); /* overlong '/' */
    refused_json("\"a\\u0000b\"", "\\u0000", false);
    refused_json("\"\\ud800\"", "surrogate", false);
    refused_json("\"\\udc00x\"", "surrogate", false);
    refused_json("\"\\x\"", "invalid escape", false);
    refused_json("\"tab\there\"", "control character", false);
    refused_json("\"open", "unterminated", false);
    refused_json("9223372036854775808", "out of range", false);
    refused_json("-9223372036854775809", "out of range", false);
    refused_json("1e400", "out of range", false);
    refused_json("01", "unexpected text", false);
    refused_json("1.", "digits must follow", false);
    refused_json("NaN", "invalid token", false);
    refused_json("tru", "invalid token", false);
    refused_json("{} x", "unexpected text", false);
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    refused_json(deep, "deeper than 64", true);
    deep[1] = '\0'; /* 64 levels are fine */
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    arena a;
    arena_init(&a, 1024);
    cel_value v;
    cel_json_error e;
    CHECK(parse_text(&a, deep, &v, &e));
    arena_release(&a);
}

/* An object of N distinct keys and one repeat of the last is refused in
 * N log N: 100,000 keys took minutes when every pair was compared. The
 * bound is generous (a sanitizer build takes well under a second). */
static void test_parse_duplicate_key_is_found_in_n_log_n(void)
{
    enum { KEYS = 100000 };
    size_t cap = (size_t)KEYS * 16 + 64, n = 0;
    char *text = malloc(cap);
    CHECK(text != NULL);
    if (!text)
        return;
    text[n++] = '{';
    for (int i = 0; i < KEYS; i++)
        n += (size_t)snprintf(text + n, cap - n, "\"%x\":%d,", i, i);
    n += (size_t)snprintf(text + n, cap - n, "\"%x\":0}", KEYS - 1);
    arena a;
    arena_init(&a, 0);
    cel_value v;
    cel_json_error e;
    clock_t t0 = clock();
    CHECK(!cel_json_parse(&a, text, n, 64, &v, &e));
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_HAS(e.msg, "duplicate object key '1869f'"); /* 99999 */
    if (secs >= 3.0) {
        fprintf(stderr, "  refusing %d keys took %.1f s of CPU; expected well under 3 s\n",
                KEYS, secs);
        CHECK(secs < 3.0);
    }
    arena_release(&a);
    free(text);
}

static void test_parse_error_position(void)
{
    arena a;
    arena_init(&a, 1024);
    cel_value v;
    cel_json_error e;
    CHECK(!parse_text(&a, "{\n  \"\xc3\xa9t\xc3\xa9\": tru\n}", &v, &e));
    CHECK_INT(e.line, 2);
    CHECK_INT(e.column, 10); /* characters, not bytes */
    arena_release(&a);
}

int main(void)
{
    arena_init(&A, 0);
    RUN(test_numbers_keep_their_kind);
    RUN(test_objects_become_maps_with_lookup);
    RUN(test_round_trip);
    RUN(test_special_values_to_json);
    RUN(test_depth_limit);
    RUN(test_map_build_refuses_repeated_keys);
    RUN(test_map_build_names_the_repeated_key);
    RUN(test_parse_values_and_kinds);
    RUN(test_parse_string_escapes);
    RUN(test_parse_refusals);
    RUN(test_parse_duplicate_key_is_found_in_n_log_n);
    RUN(test_parse_error_position);
    arena_release(&A);
    return TEST_DONE();
}
