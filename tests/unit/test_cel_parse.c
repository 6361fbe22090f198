/* test_cel_parse.c - the CEL lexer and parser: literals, escapes, syntax
 * errors with their positions, and the limits on size and depth. */
#include "cel/cel.h"
#include "cel/cel_int.h"
#include "base/limits.h"

#include "test.h"

#include <stdlib.h>

static arena A;

/* Compiles src with no variables; returns the status and fills diag. */
static cel_status compile(const char *src, cel_diag *diag)
{
    cel_env *env = cel_env_new(&A);
    const cel_program *p;
    return cel_compile(env, src, strlen(src), &p, diag);
}

static cel_value eval(const char *src)
{
    cel_value v;
    cel_diag d;
    cel_eval_once(&A, src, strlen(src), NULL, 0, &v, &d);
    return v;
}

static void test_int_literals_decimal_hex_and_minimum(void)
{
    CHECK_INT(eval("42").v.i, 42);
    CHECK_INT(eval("0x1F").v.i, 31);
    cel_value v = eval("-9223372036854775808");
    CHECK(v.kind == CEL_INT && v.v.i == INT64_MIN);
    v = eval("18446744073709551615u");
    CHECK(v.kind == CEL_UINT && v.v.u == UINT64_MAX);
    cel_diag d;
    CHECK_INT(compile("9223372036854775808", &d), CEL_ERR_SYNTAX);
    CHECK_HAS(d.message, "out of range");
}

static void test_double_literals(void)
{
    cel_value v = eval("1.5e3");
    CHECK(v.kind == CEL_DOUBLE && v.v.d == 1500.0);
    v = eval(".25");
    CHECK(v.kind == CEL_DOUBLE && v.v.d == 0.25);
}

static void test_string_escapes_raw_and_triple_quoted(void)
{
    cel_value v = eval("'a\\tb\\n\\x41\\101\\u00e9\\U0001F431'");
    CHECK(v.kind == CEL_STRING);
    CHECK_INT(v.v.s.n, 6 + 2 + 4);   /* a\tb\nAA, e-acute, cat */
    CHECK(!memcmp(v.v.s.p, "a\tb\nAA\xc3\xa9\xf0\x9f\x90\xb1", v.v.s.n));
    v = eval("r'a\\nb'");
    CHECK(v.kind == CEL_STRING && v.v.s.n == 4 && !memcmp(v.v.s.p, "a\\nb", 4));
    v = eval("'''two\nlines'''");
    CHECK(v.kind == CEL_STRING && v.v.s.n == 9);
    v = eval("b'\\xff\\000'");
    CHECK(v.kind == CEL_BYTES && v.v.s.n == 2 && (unsigned char)v.v.s.p[0] == 0xff);
}

static void test_syntax_error_reports_line_and_column(void)
{
    cel_diag d;
    CHECK_INT(compile("1 +", &d), CEL_ERR_SYNTAX);
    CHECK_INT(d.line, 1);
    CHECK_INT(d.column, 4);
    CHECK_HAS(d.message, "expected an expression");
    CHECK_INT(compile("a &&\n  b ) c", &d), CEL_ERR_SYNTAX);
    CHECK_INT(d.line, 2);
    CHECK_INT(d.column, 5);
    CHECK_HAS(d.message, "found ')'");
}

static void test_unterminated_string_and_bad_escape(void)
{
    cel_diag d;
    CHECK_INT(compile("  'abc", &d), CEL_ERR_SYNTAX);
    CHECK_INT(d.column, 3);
    CHECK_HAS(d.message, "not terminated");
    CHECK_INT(compile("'\\q'", &d), CEL_ERR_SYNTAX);
    CHECK_HAS(d.message, "escape");
}

static void test_single_equals_and_reserved_words_are_errors(void)
{
    cel_diag d;
    CHECK_INT(compile("a = 1", &d), CEL_ERR_SYNTAX);
    CHECK_HAS(d.message, "'=='");
    CHECK_INT(compile("if", &d), CEL_ERR_SYNTAX);
    CHECK_HAS(d.message, "reserved");
}

static void test_macro_needs_a_variable_name(void)
{
    cel_diag d;
    CHECK_INT(compile("[1].all(1, true)", &d), CEL_ERR_SYNTAX);
    CHECK_HAS(d.message, "variable name");
    CHECK_INT(compile("has(1)", &d), CEL_ERR_SYNTAX);
    CHECK_HAS(d.message, "has()");
}

static void test_deep_nesting_is_a_limit_error(void)
{
    size_t n = CEL_MAX_PARSE_DEPTH + 10;
    char *src = malloc(2 * n + 2);
    memset(src, '(', n);
    src[n] = '1';
    memset(src + n + 1, ')', n);
    src[2 * n + 1] = '\0';
    cel_diag d;
    CHECK_INT(compile(src, &d), CEL_ERR_LIMIT);
    CHECK_HAS(d.message, "CEL_MAX_PARSE_DEPTH");
    free(src);
}

static void test_long_flat_chains(void)
{
    /* 5000 additions: refused with a limit error, never a crash. */
    size_t terms = 5000;
    char *src = malloc(terms * 2 + 1);
    for (size_t i = 0; i < terms; i++) {
        src[2 * i] = '1';
        src[2 * i + 1] = '+';
    }
    src[terms * 2 - 1] = '\0';
    cel_diag d;
    CHECK_INT(compile(src, &d), CEL_ERR_LIMIT);
    free(src);
    /* 3000 && terms: built balanced, so handled. */
    size_t n = 3000;
    char *chain = malloc(n * 8 + 8);
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(chain + used, 9, "true && ");
    memcpy(chain + used, "true", 5);
    cel_value v = eval(chain);
    CHECK(v.kind == CEL_BOOL && v.v.b);
    free(chain);
}

static void test_expression_over_the_byte_limit(void)
{
    size_t n = CEL_MAX_EXPR_BYTES + 1;
    char *src = malloc(n + 1);
    memset(src, ' ', n);
    src[0] = '1';
    src[n] = '\0';
    cel_diag d;
    CHECK_INT(compile(src, &d), CEL_ERR_LIMIT);
    CHECK_HAS(d.message, "CEL_MAX_EXPR_BYTES");
    free(src);
}

static void test_comments_and_quoted_fields(void)
{
    cel_value v = eval("// leading comment\n{'a-b': 3}.`a-b` // trailing");
    CHECK(v.kind == CEL_INT && v.v.i == 3);
}

int main(void)
{
    arena_init(&A, 0);
    RUN(test_int_literals_decimal_hex_and_minimum);
    RUN(test_double_literals);
    RUN(test_string_escapes_raw_and_triple_quoted);
    RUN(test_syntax_error_reports_line_and_column);
    RUN(test_unterminated_string_and_bad_escape);
    RUN(test_single_equals_and_reserved_words_are_errors);
    RUN(test_macro_needs_a_variable_name);
    RUN(test_deep_nesting_is_a_limit_error);
    RUN(test_long_flat_chains);
    RUN(test_expression_over_the_byte_limit);
    RUN(test_comments_and_quoted_fields);
    arena_release(&A);
    return TEST_DONE();
}
