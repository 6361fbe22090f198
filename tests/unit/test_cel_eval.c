/* test_cel_eval.c - CEL evaluation: arithmetic and overflow, comparisons,
 * error absorption, maps and lists, macros, string functions, regex limits,
 * cost and memory limits. */
#include "cel/cel.h"
#include "cel/cel_int.h"

#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <time.h>

static arena A;

/* Evaluates src with variables from a JSON object (may be NULL). */
static cel_value run(const char *src, const char *vars_json, cel_status *status)
{
    const cel_map *vars = NULL;
    if (vars_json) {
        json_error_t je;
        json_t *j = json_loads(vars_json, 0, &je);
        cel_value v;
        char msg[128];
        CHECK(j && cel_value_from_json(&A, j, &v, msg, sizeof msg));
        json_decref(j);
        vars = v.v.map;
    }
    cel_value out;
    cel_diag d;
    cel_status s = cel_eval_once(&A, src, strlen(src), vars, 0, &out, &d);
    if (status)
        *status = s;
    if (s != CEL_OK && s != CEL_ERR_EVAL)
        return cel_error(arena_strdup(&A, d.message));
    return out;
}

static bool is_true(const char *src)
{
    cel_value v = run(src, NULL, NULL);
    if (v.kind != CEL_BOOL)
        fprintf(stderr, "  %s -> kind %d %s\n", src, v.kind,
                v.kind == CEL_ERROR ? v.v.error : "");
    return v.kind == CEL_BOOL && v.v.b;
}

static const char *error_of(const char *src)
{
    cel_value v = run(src, NULL, NULL);
    return v.kind == CEL_ERROR ? v.v.error : "(no error)";
}

static void test_integer_overflow_is_an_error(void)
{
    CHECK_HAS(error_of("9223372036854775807 + 1"), "overflow");
    CHECK_HAS(error_of("-9223372036854775808 - 1"), "overflow");
    CHECK_HAS(error_of("5000000000 * 5000000000"), "overflow");
    CHECK_HAS(error_of("-(-9223372036854775808)"), "overflow");
    CHECK_HAS(error_of("-9223372036854775808 / -1"), "overflow");
    CHECK_HAS(error_of("0u - 1u"), "overflow");
    CHECK_HAS(error_of("int(18446744073709551615u)"), "range");
    CHECK_HAS(error_of("int(1e99)"), "range");
    CHECK_HAS(error_of("1 / 0"), "division by zero");
    CHECK_HAS(error_of("1 % 0"), "modulus by zero");
    CHECK(is_true("7 / 2 == 3 && -7 % 3 == -1"));
}

static void test_numbers_compare_across_types(void)
{
    CHECK(is_true("1 == 1.0 && 1u == 1 && 2 > 1.5 && 1u < 2"));
    CHECK(is_true("dyn(-1) < 0u"));
    CHECK(is_true("!(0.0/0.0 == 0.0/0.0)"));
    CHECK(is_true("'a' < 'b' && b'a' < b'b' && false < true"));
    CHECK(is_true("[1, 2] == [1, 2.0] && {'a': 1} == {'a': 1u}"));
    CHECK(is_true("[1] != ['1']"));
}

static void test_logic_absorbs_errors_commutatively(void)
{
    CHECK(is_true("!(false && 1/0 == 1)"));
    CHECK(is_true("!(1/0 == 1 && false)"));
    CHECK(is_true("true || 1/0 == 1"));
    CHECK(is_true("1/0 == 1 || true"));
    CHECK_HAS(error_of("1/0 == 1 && true"), "division by zero");
    CHECK_HAS(error_of("1/0 == 1 && 2/0 == 1"), "division by zero");
    CHECK_HAS(error_of("1/0 == 1 || false"), "division by zero");
    CHECK(is_true("(1/0 == 1 ? 1 : 2) == 2 || true"));
}

static void test_maps_lists_and_missing_keys(void)
{
    cel_status s;
    cel_value v = run("input.amount > 500 && subject.tenure_years < 2",
                      "{\"input\": {\"amount\": 700}, \"subject\": {\"tenure_years\": 1}}", &s);
    CHECK(s == CEL_OK && v.kind == CEL_BOOL && v.v.b);
    v = run("input.missing", "{\"input\": {}}", &s);
    CHECK_INT(s, CEL_ERR_EVAL);
    CHECK(v.kind == CEL_ERROR);
    CHECK_STR(v.v.error, "no such key: 'missing'");
    CHECK(is_true("has({'a': 1}.a) && !has({'a': 1}.b)"));
    CHECK(is_true("'b' in {'a': 1, 'b': 2} && 2 in [1, 2] && !(3 in [1, 2])"));
    CHECK(is_true("[7, 8, 9][1u] == 8 && [7, 8, 9][2.0] == 9"));
    CHECK_HAS(error_of("[1, 2][2]"), "index out of range");
    CHECK_HAS(error_of("[1, 2][1.5]"), "not a whole number");
    CHECK_HAS(error_of("{'a': 1, 'a': 2}"), "repeated key");
    CHECK(is_true("{1: 'x', 2u: 'y'}[2] == 'y' && {1: 'x'}[1.0] == 'x'"));
    CHECK(is_true("size([1, 2, 3]) == 3 && size({'a': 1}) == 1 && [1] + [2] == [1, 2]"));
}

static void test_macros(void)
{
    CHECK(is_true("[1, 2, 3].all(x, x > 0) && ![1, 2, 3].all(x, x > 1)"));
    CHECK(is_true("[1, 2, 3].exists(x, x == 2) && ![1, 2].exists(x, x > 5)"));
    CHECK(is_true("[1, 2, 3].exists_one(x, x > 2) && ![1, 2, 3].exists_one(x, x > 1)"));
    CHECK(is_true("[1, 2, 3].map(x, x * 2) == [2, 4, 6]"));
    CHECK(is_true("[1, 2, 3, 4].map(x, x % 2 == 0, x * 10) == [20, 40]"));
    CHECK(is_true("[1, 2, 3, 4].filter(x, x > 2) == [3, 4]"));
    CHECK(is_true("{'a': 1, 'b': 2}.all(k, k in ['a', 'b'])"));
    /* all() is false when any element is false, even if another errors. */
    CHECK(is_true("![0, 1].all(x, 1 / x > 5)"));
    CHECK(is_true("[0, 1].exists(x, 1 / x == 1)"));
    CHECK_HAS(error_of("[0, 1].all(x, 1 / x == 1)"), "division by zero");
    CHECK_HAS(error_of("[0, 1].map(x, 1 / x)"), "division by zero");
    CHECK(is_true("[[1, 2], [3]].all(l, l.all(x, x > 0))"));
}

static void test_strings(void)
{
    CHECK(is_true("size('héllo') == 5 && size(b'h\\xc3\\xa9') == 3"));
    CHECK(is_true("'hello'.contains('ell') && 'hello'.startsWith('he') && 'hello'.endsWith('lo')"));
    CHECK(is_true("contains('hello', 'll') && startsWith('hello', 'h')"));
    CHECK(is_true("'ab' + 'c' == 'abc'"));
    CHECK(is_true("'user@example.com'.matches('^[a-z]+@example[.]com$')"));
    CHECK(is_true("matches('abc', 'b')"));
    CHECK(is_true("string(1.5) == '1.5' && string(-2) == '-2' && int('42') == 42"));
    CHECK(is_true("double('2.5') == 2.5 && bool('true') && !bool('0') && uint(3) == 3u"));
    CHECK_HAS(error_of("int('12a')"), "cannot convert");
    CHECK(is_true("type(1) == int && type('a') == string && type([]) == list"));
}

static void test_regex_catastrophic_backtracking_is_an_error(void)
{
    clock_t t0 = clock();
    cel_value v = run("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'.matches('(a+)+$')", NULL, NULL);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(v.kind == CEL_ERROR);
    if (v.kind == CEL_ERROR)
        CHECK_HAS(v.v.error, "match limit");
    CHECK(secs < 2.0);
    /* A dynamic pattern is compiled at run time; a bad one is an error. */
    cel_status s;
    v = run("'abc'.matches(p)", "{\"p\": \"(\"}", &s);
    CHECK_INT(s, CEL_ERR_EVAL);
    CHECK(v.kind == CEL_ERROR);
}

static void test_cost_limit_stops_exploding_macros(void)
{
    const char *ten = "[0,1,2,3,4,5,6,7,8,9]";
    char src[1024];
    snprintf(src, sizeof src,
             "%s.all(a, %s.all(b, %s.all(c, %s.all(d, %s.all(e, %s.all(f, true))))))",
             ten, ten, ten, ten, ten, ten);
    cel_value v = run(src, NULL, NULL);
    CHECK(v.kind == CEL_ERROR);
    if (v.kind == CEL_ERROR)
        CHECK_HAS(v.v.error, "cost limit");
    /* The limit can be lowered per evaluation and the cost is reported. */
    cel_env *env = cel_env_new(&A);
    const cel_program *p;
    cel_diag d;
    const char *s2 = "[1, 2, 3].map(x, x + 1)";
    CHECK_INT(cel_compile(env, s2, strlen(s2), &p, &d), CEL_OK);
    cel_eval_ctx ctx = {.scratch = &A, .slots = NULL, .cost_limit = 5};
    v = cel_program_eval(p, &ctx);
    CHECK(v.kind == CEL_ERROR);
    ctx.cost_limit = 0;
    v = cel_program_eval(p, &ctx);
    CHECK(v.kind == CEL_LIST);
    CHECK(ctx.cost_used > 3 && ctx.cost_used < 20);
    /* An error absorbed by || still ends the evaluation. */
    snprintf(src, sizeof src,
             "%s.all(a, %s.all(b, %s.all(c, %s.all(d, %s.all(e, %s.all(f, true)))))) || true",
             ten, ten, ten, ten, ten, ten);
    v = run(src, NULL, NULL);
    CHECK(v.kind == CEL_ERROR);
}

static void test_memory_limit_stops_exploding_lists(void)
{
    /* Plain string doubling: 2^30 bytes would be needed. */
    char buf[2048] = "'0123456789abcdef'";
    for (int i = 0; i < 26; i++) {
        char tmp[2048];
        int w = snprintf(tmp, sizeof tmp, "[%s].map(s, s + s)[0]", buf);
        if (w < 0 || (size_t)w >= sizeof tmp)
            break;
        memcpy(buf, tmp, strlen(tmp) + 1);
    }
    cel_value v = run(buf, NULL, NULL);
    CHECK(v.kind == CEL_ERROR);
    if (v.kind == CEL_ERROR)
        CHECK_HAS(v.v.error, "memory limit");
}

static void test_eval_once_binds_now_and_reports_errors(void)
{
    cel_value out;
    cel_diag d;
    const char *src = "now == timestamp('2026-11-24T10:00:00Z')";
    CHECK_INT(cel_eval_once(&A, src, strlen(src), NULL, 1795514400, &out, &d), CEL_OK);
    CHECK(out.kind == CEL_BOOL && out.v.b);
    src = "1 / 0";
    CHECK_INT(cel_eval_once(&A, src, strlen(src), NULL, 0, &out, &d), CEL_ERR_EVAL);
    CHECK_HAS(d.message, "division by zero");
    CHECK(out.kind == CEL_ERROR);
    src = "1 +";
    CHECK_INT(cel_eval_once(&A, src, strlen(src), NULL, 0, &out, &d), CEL_ERR_SYNTAX);
}

static void test_evaluation_errors_carry_their_position(void)
{
    cel_value out;
    cel_diag d;
    const char *src = "true &&\n  {'a': 1}.b == 1";
    CHECK_INT(cel_eval_once(&A, src, strlen(src), NULL, 0, &out, &d), CEL_ERR_EVAL);
    CHECK_STR(d.message, "no such key: 'b'");
    CHECK_INT(d.line, 2);
    CHECK_INT(d.column, 12);
    /* An absorbed error leaves no position behind. */
    cel_env *env = cel_env_new(&A);
    const cel_program *p;
    src = "1/0 == 1 || true";
    CHECK_INT(cel_compile(env, src, strlen(src), &p, &d), CEL_OK);
    cel_eval_ctx ctx = {.scratch = &A};
    out = cel_program_eval(p, &ctx);
    CHECK(out.kind == CEL_BOOL);
    CHECK_INT(ctx.error_line, 0);
}

static void test_shared_program_is_reentrant(void)
{
    cel_env *env = cel_env_new(&A);
    cel_env_declare(env, "x", &cel_type_int);
    const cel_program *p;
    cel_diag d;
    const char *src = "[1, 2, 3].map(i, i * x).exists(v, v == 3 * x) && 'ab'.matches('b$')";
    CHECK_INT(cel_compile(env, src, strlen(src), &p, &d), CEL_OK);
    arena s1, s2;
    arena_init(&s1, 0);
    arena_init(&s2, 0);
    cel_value a = cel_int(2), b = cel_int(5);
    cel_eval_ctx c1 = {.scratch = &s1, .slots = &a}, c2 = {.scratch = &s2, .slots = &b};
    for (int i = 0; i < 100; i++) {
        cel_value r1 = cel_program_eval(p, &c1), r2 = cel_program_eval(p, &c2);
        CHECK(r1.kind == CEL_BOOL && r1.v.b && r2.kind == CEL_BOOL && r2.v.b);
        arena_reset(&s1);
        arena_reset(&s2);
    }
    arena_release(&s1);
    arena_release(&s2);
}

/* `var.field OP literal` takes a shortcut in the evaluator; every case must
 * answer exactly as the general path does. */
static void test_field_literal_comparisons_match_the_general_path(void)
{
    static const char vars[] =
        "{\"x\": {\"i\": 5, \"d\": 2.5, \"s\": \"gold\", \"b\": true,"
        " \"big\": 9007199254740993}, \"n\": 3}";
    static const struct { const char *src; int want; } cases[] = {
        {"x.i > 4", 1}, {"x.i > 5", 0}, {"x.i >= 5", 1}, {"x.i < 5", 0},
        {"x.i <= 5", 1}, {"x.i == 5", 1}, {"x.i != 5", 0},
        {"x.i == 5.0", 1}, {"x.i < 5.5", 1},   /* int against double */
        {"x.d > 2.0", 1}, {"x.d == 2.5", 1}, {"x.d < 3", 1},
        {"x.s == \"gold\"", 1}, {"x.s != \"gold\"", 0}, {"x.s == \"gol\"", 0},
        {"x.s < \"silver\"", 1},             /* string ordering: general path */
        {"x.big > 9007199254740992.0", 0},     /* as CEL compares int and double */
        {"x.s == 1", 0}, {"x.s != 1", 1},       /* different kinds: not equal */
        {"x.b == true", 1}, {"x.b != true", 0}, {"x.b == false", 0},
        {"n > 2", 1}, {"n == 3", 1}, {"n < 3.5", 1}, /* a variable, no field */
        {"x.s in [\"silver\", \"gold\"]", 1}, {"x.s in [\"a\", \"b\"]", 0},
        {"x.i in [1, 5]", 1}, {"x.i in [1, 2]", 0}, {"x.i in [5.0]", 1},
        {"x.i in []", 0}, {"x.s in [1, \"gold\"]", 1},
        {"x.s == \"gold\" && x.i > 4 && x.d < 3.0", 1},
        {"x.s == \"x\" || x.i > 4", 1}, {"x.s == \"x\" || x.i > 9", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cel_value v = run(cases[i].src, vars, NULL);
        if (v.kind != CEL_BOOL || v.v.b != (cases[i].want == 1)) {
            fprintf(stderr, "  %s\n", cases[i].src);
            CHECK(false);
        }
    }
    /* A missing field or an unordered pair is still an error. */
    cel_value v = run("x.missing > 1", vars, NULL);
    CHECK(v.kind == CEL_ERROR);
    v = run("x.b > 1", vars, NULL);
    CHECK(v.kind == CEL_ERROR);
    v = run("x.s > 1", vars, NULL);
    CHECK(v.kind == CEL_ERROR);
    v = run("x.missing in [1]", vars, NULL);
    CHECK(v.kind == CEL_ERROR);
    /* ... which && and || still absorb, whichever side it is on. */
    v = run("x.missing > 1 && x.i > 100", vars, NULL);
    CHECK(v.kind == CEL_BOOL && !v.v.b);
    v = run("x.i > 100 && x.missing > 1", vars, NULL);
    CHECK(v.kind == CEL_BOOL && !v.v.b);
    v = run("x.missing > 1 || x.i > 1", vars, NULL);
    CHECK(v.kind == CEL_BOOL && v.v.b);
    v = run("x.missing > 1 && x.i > 1", vars, NULL);
    CHECK(v.kind == CEL_ERROR);
    v = run("x.missing > 1 || x.i > 100", vars, NULL);
    CHECK(v.kind == CEL_ERROR);
}

int main(void)
{
    arena_init(&A, 0);
    RUN(test_integer_overflow_is_an_error);
    RUN(test_numbers_compare_across_types);
    RUN(test_logic_absorbs_errors_commutatively);
    RUN(test_maps_lists_and_missing_keys);
    RUN(test_macros);
    RUN(test_strings);
    RUN(test_regex_catastrophic_backtracking_is_an_error);
    RUN(test_cost_limit_stops_exploding_macros);
    RUN(test_memory_limit_stops_exploding_lists);
    RUN(test_eval_once_binds_now_and_reports_errors);
    RUN(test_evaluation_errors_carry_their_position);
    RUN(test_shared_program_is_reentrant);
    RUN(test_field_literal_comparisons_match_the_general_path);
    arena_release(&A);
    return TEST_DONE();
}
