/* test_model_yaml.c - the YAML reader: positions, scalars, limits. */
#include <jansson.h>
#include <stdlib.h>
#include <time.h>

#include "base/limits.h"
#include "charter/yaml.h"
#include "test.h"

static charter_status parse(arena *a, const char *text, ch_yaml_node **root,
                            charter_error *err)
{
    return ch_yaml_parse(a, "t.yaml", text, strlen(text), root, err);
}

static void test_positions_are_one_based(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "a: 1\nb:\n  - x\n  - {c: d}\n", &r, &err), CHARTER_OK);
    CHECK_INT(r->kind, CH_YAML_MAP);
    CHECK_INT(r->n, 2);
    CHECK_INT(r->keys[0]->line, 1);
    CHECK_INT(r->keys[0]->column, 1);
    const ch_yaml_node *b = ch_yaml_get(r, "b");
    CHECK(b && b->kind == CH_YAML_SEQ && b->n == 2);
    CHECK_INT(b->items[0]->line, 3);
    CHECK_INT(b->items[0]->column, 5);
    CHECK_INT(b->items[1]->kind, CH_YAML_MAP);
    CHECK_INT(b->items[1]->column, 5);
    CHECK_STR(b->items[1]->file, "t.yaml");
    CHECK(ch_yaml_get(r, "zz") == NULL);
    arena_release(&a);
}

static void test_scalar_styles_and_text_start(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    const char *text = "p: plain\n"
                       "s: 'single'\n"
                       "d: \"dou\\tble\"\n"
                       "l: |\n"
                       "    line one\n"
                       "    line two\n"
                       "f: >\n"
                       "\n"
                       "   folded\n";
    CHECK_INT(parse(&a, text, &r, &err), CHARTER_OK);
    const ch_yaml_node *p = ch_yaml_get(r, "p"), *s = ch_yaml_get(r, "s"),
                       *d = ch_yaml_get(r, "d"), *l = ch_yaml_get(r, "l"),
                       *f = ch_yaml_get(r, "f");
    CHECK(p->is_plain && p->style == CH_YAML_PLAIN && p->text_column == 4);
    CHECK(!s->is_plain && s->style == CH_YAML_SINGLE_QUOTED);
    CHECK_INT(s->text_column, 5);
    CHECK_STR(d->str, "dou\tble");
    CHECK_INT(d->style, CH_YAML_DOUBLE_QUOTED);
    CHECK_INT(l->style, CH_YAML_LITERAL);
    CHECK_STR(l->str, "line one\nline two\n");
    CHECK_INT(l->line, 4);
    CHECK_INT(l->text_line, 5);
    CHECK_INT(l->text_column, 5);
    CHECK_INT(f->style, CH_YAML_FOLDED);
    CHECK_INT(f->text_line, 9);
    CHECK_INT(f->text_column, 4);
    CHECK(!p->is_multiline);
    arena_release(&a);
}

static void test_plain_scalars_follow_the_core_schema(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "[12, -7, 0x1f, 0o17, 1.5, .5e1, true, False, ~, null, '5', yes, 1e999]",
                    &r, &err), CHARTER_OK);
    long long i;
    double d;
    bool b;
    CHECK(ch_yaml_as_int(r->items[0], &i) && i == 12);
    CHECK(ch_yaml_as_int(r->items[1], &i) && i == -7);
    CHECK(ch_yaml_as_int(r->items[2], &i) && i == 31);
    CHECK(ch_yaml_as_int(r->items[3], &i) && i == 15);
    CHECK(!ch_yaml_as_int(r->items[4], &i));
    CHECK(ch_yaml_as_double(r->items[4], &d) && d == 1.5);
    CHECK(ch_yaml_as_double(r->items[5], &d) && d == 5.0);
    CHECK(ch_yaml_as_bool(r->items[6], &b) && b);
    CHECK(ch_yaml_as_bool(r->items[7], &b) && !b);
    CHECK(ch_yaml_is_null(r->items[8]));
    CHECK(ch_yaml_is_null(r->items[9]));
    CHECK(!ch_yaml_as_int(r->items[10], &i));   /* quoted: a string */
    CHECK(!ch_yaml_as_bool(r->items[11], &b));  /* YAML 1.2: "yes" is a string */
    CHECK(!ch_yaml_as_double(r->items[12], &d)); /* out of range */
    arena_release(&a);
}

static void test_duplicate_key_is_an_error_at_the_second(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "a: 1\nb: 2\na: 3\n", &r, &err), CHARTER_E_YAML);
    CHECK_INT(err.line, 3);
    CHECK_INT(err.column, 1);
    CHECK_STR(err.file, "t.yaml");
    CHECK_HAS(err.message, "duplicate key 'a'");
    CHECK_HAS(err.message, "line 1");
    arena_release(&a);
}

static void test_second_document_is_refused(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "a: 1\n---\nb: 2\n", &r, &err), CHARTER_E_YAML);
    CHECK_INT(err.line, 2);
    CHECK_HAS(err.message, "one document");
    arena_release(&a);
}

static void test_empty_document_is_an_empty_mapping(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "# only a comment\n", &r, &err), CHARTER_OK);
    CHECK(r && r->kind == CH_YAML_MAP && r->n == 0);
    CHECK_INT(parse(&a, "---\n", &r, &err), CHARTER_OK);
    CHECK(r && r->kind == CH_YAML_MAP && r->n == 0);
    arena_release(&a);
}

static void test_malformed_yaml_names_the_place(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "a: 1\nb: [1, 2\nc: 3\n", &r, &err), CHARTER_E_YAML);
    CHECK(err.line >= 2);
    CHECK_HAS(err.message, "malformed YAML");
    arena_release(&a);
}

static void test_deep_nesting_is_refused(void)
{
    arena a;
    arena_init(&a, 0);
    char text[1000];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        text[n++] = '[';
    for (int i = 0; i < 100; i++)
        text[n++] = ']';
    text[n] = '\0';
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, text, &r, &err), CHARTER_E_LIMIT);
    CHECK_INT(err.line, 1);
    CHECK_INT(err.column, CHARTER_MAX_YAML_DEPTH + 1);
    CHECK_HAS(err.message, "deeper");
    /* Exactly the limit is fine. */
    n = 0;
    for (unsigned i = 0; i < CHARTER_MAX_YAML_DEPTH; i++)
        text[n++] = '[';
    for (unsigned i = 0; i < CHARTER_MAX_YAML_DEPTH; i++)
        text[n++] = ']';
    text[n] = '\0';
    CHECK_INT(parse(&a, text, &r, &err), CHARTER_OK);
    arena_release(&a);
}

static void test_alias_cannot_nest_past_the_depth_limit(void)
{
    arena a;
    arena_init(&a, 0);
    char text[2000];
    size_t n = 0;
    /* An anchored list 40 deep, used inside another 40 deep. */
    n += (size_t)snprintf(text + n, sizeof text - n, "- &deep ");
    for (int i = 0; i < 40; i++)
        text[n++] = '[';
    for (int i = 0; i < 40; i++)
        text[n++] = ']';
    n += (size_t)snprintf(text + n, sizeof text - n, "\n- ");
    for (int i = 0; i < 40; i++)
        text[n++] = '[';
    n += (size_t)snprintf(text + n, sizeof text - n, "*deep");
    for (int i = 0; i < 40; i++)
        text[n++] = ']';
    text[n++] = '\n';
    text[n] = '\0';
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, text, &r, &err), CHARTER_E_LIMIT);
    CHECK_HAS(err.message, "deeper");
    arena_release(&a);
}

static void test_aliases_share_the_anchored_node(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "a: &x {k: [1, 2]}\nb: *x\nc: &s str\nd: *s\n", &r, &err),
              CHARTER_OK);
    CHECK(ch_yaml_get(r, "a") == ch_yaml_get(r, "b"));
    CHECK_STR(ch_yaml_get(r, "d")->str, "str");
    json_t *j = ch_yaml_to_json(r);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    CHECK_STR(s, "{\"a\":{\"k\":[1,2]},\"b\":{\"k\":[1,2]},\"c\":\"str\",\"d\":\"str\"}");
    free(s);
    json_decref(j);
    arena_release(&a);
}

static void test_undefined_or_recursive_alias_is_an_error(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "a: *nope\n", &r, &err), CHARTER_E_YAML);
    CHECK_HAS(err.message, "nope");
    /* An anchor is usable only once its node is complete. */
    CHECK_INT(parse(&a, "a: &x [1, *x]\n", &r, &err), CHARTER_E_YAML);
    arena_release(&a);
}

static void test_alias_bomb_is_refused_quickly(void)
{
    arena a;
    arena_init(&a, 0);
    const char *bomb =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    ch_yaml_node *r;
    charter_error err;
    clock_t t0 = clock();
    CHECK_INT(parse(&a, bomb, &r, &err), CHARTER_E_LIMIT);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_HAS(err.message, "refusing to expand");
    CHECK(err.line >= 7);
    /* Refused while reading, not after expanding: far below a second. */
    CHECK(secs < 1.0);
    CHECK(arena_alloc(&a, 0) != NULL);
    arena_release(&a);
}

static void test_too_many_aliases_are_refused(void)
{
    arena a;
    arena_init(&a, 0);
    size_t cap = 16 + (CHARTER_MAX_YAML_ALIASES + 1) * 4;
    char *text = malloc(cap);
    size_t n = (size_t)snprintf(text, cap, "- &s x\n- [");
    for (unsigned i = 0; i <= CHARTER_MAX_YAML_ALIASES; i++)
        n += (size_t)snprintf(text + n, cap - n, "*s,");
    text[n - 1] = ']';
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(ch_yaml_parse(&a, "t.yaml", text, n, &r, &err), CHARTER_E_LIMIT);
    CHECK_HAS(err.message, "aliases");
    free(text);
    arena_release(&a);
}

static void test_nul_in_a_string_is_refused(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "a: \"x\\0y\"\n", &r, &err), CHARTER_E_YAML);
    CHECK_INT(err.line, 1);
    CHECK_INT(err.column, 4);
    arena_release(&a);
}

static void test_file_size_limit(void)
{
    arena a;
    arena_init(&a, 0);
    size_t n = CHARTER_MAX_FILE_BYTES + 1;
    char *text = malloc(n);
    memset(text, '#', n);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(ch_yaml_parse(&a, "big.yaml", text, n, &r, &err), CHARTER_E_LIMIT);
    CHECK_HAS(err.message, "limit");
    free(text);
    arena_release(&a);
}

static void test_missing_file_is_an_io_error(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(ch_yaml_parse_file(&a, "/nonexistent/x.yaml", &r, &err), CHARTER_E_IO);
    CHECK_STR(err.file, "/nonexistent/x.yaml");
    CHECK_HAS(err.message, "cannot open");
    CHECK_INT(ch_yaml_parse_file(&a, CHARTER_SOURCE_DIR "/tests/data/charters/good/shop.yaml",
                                 &r, &err), CHARTER_OK);
    CHECK(ch_yaml_get(r, "organization") != NULL);
    arena_release(&a);
}

static void test_to_json_types(void)
{
    arena a;
    arena_init(&a, 0);
    ch_yaml_node *r;
    charter_error err;
    CHECK_INT(parse(&a, "{i: 3, d: 2.5, t: true, n: null, s: '3', e: ''}", &r, &err),
              CHARTER_OK);
    json_t *j = ch_yaml_to_json(r);
    CHECK(json_is_integer(json_object_get(j, "i")));
    CHECK(json_is_real(json_object_get(j, "d")));
    CHECK(json_is_true(json_object_get(j, "t")));
    CHECK(json_is_null(json_object_get(j, "n")));
    CHECK_STR(json_string_value(json_object_get(j, "s")), "3");
    CHECK_STR(json_string_value(json_object_get(j, "e")), "");
    json_decref(j);
    arena_release(&a);
}

int main(void)
{
    RUN(test_positions_are_one_based);
    RUN(test_scalar_styles_and_text_start);
    RUN(test_plain_scalars_follow_the_core_schema);
    RUN(test_duplicate_key_is_an_error_at_the_second);
    RUN(test_second_document_is_refused);
    RUN(test_empty_document_is_an_empty_mapping);
    RUN(test_malformed_yaml_names_the_place);
    RUN(test_deep_nesting_is_refused);
    RUN(test_alias_cannot_nest_past_the_depth_limit);
    RUN(test_aliases_share_the_anchored_node);
    RUN(test_undefined_or_recursive_alias_is_an_error);
    RUN(test_alias_bomb_is_refused_quickly);
    RUN(test_too_many_aliases_are_refused);
    RUN(test_nul_in_a_string_is_refused);
    RUN(test_file_size_limit);
    RUN(test_missing_file_is_an_io_error);
    RUN(test_to_json_types);
    return TEST_DONE();
}
