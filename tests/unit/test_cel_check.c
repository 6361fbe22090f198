/* test_cel_check.c - the CEL checker: undeclared names, operand types,
 * objects with declared fields, result types. */
#include "cel/cel.h"

#include "test.h"

static arena A;
static cel_env *env;

static const char *const agent_fields[] = {"id", "department", "owner"};
static const cel_type *const agent_types[] = {&cel_type_string, &cel_type_string,
                                              &cel_type_string};
static const cel_type agent_type = {.kind = CEL_T_OBJECT, .field_count = 3,
                                    .fields = agent_fields, .field_types = agent_types};

static const char *const run_fields[] = {"actions", "spend"};
static const cel_type *const run_types[] = {&cel_type_int, &cel_type_double};
static const cel_type run_type = {.kind = CEL_T_OBJECT, .field_count = 2,
                                  .fields = run_fields, .field_types = run_types};
static const char *const counters_fields[] = {"run", "day"};
static const cel_type *const counters_types[] = {&run_type, &run_type};
static const cel_type counters_type = {.kind = CEL_T_OBJECT, .field_count = 2,
                                       .fields = counters_fields,
                                       .field_types = counters_types};

static void setup(void)
{
    arena_init(&A, 0);
    env = cel_env_new(&A);
    CHECK_INT(cel_env_declare(env, "agent", &agent_type), 0);
    CHECK_INT(cel_env_declare(env, "input", &cel_type_map_string_dyn), 1);
    CHECK_INT(cel_env_declare(env, "action", &cel_type_string), 2);
    CHECK_INT(cel_env_declare(env, "confidence", &cel_type_double), 3);
    CHECK_INT(cel_env_declare(env, "now", &cel_type_timestamp), 4);
    CHECK_INT(cel_env_declare(env, "counters", &counters_type), 5);
}

static cel_status compile(const char *src, cel_diag *d, const cel_program **p)
{
    const cel_program *tmp;
    return cel_compile(env, src, strlen(src), p ? p : &tmp, d);
}

static void test_declare_refuses_a_repeated_name(void)
{
    CHECK_INT(cel_env_declare(env, "agent", &cel_type_dyn), -1);
    CHECK_INT(cel_env_slot_count(env), 6);
}

static void test_undeclared_reference(void)
{
    cel_diag d;
    CHECK_INT(compile("input.amount > 1 && nobody", &d, NULL), CEL_ERR_TYPE);
    CHECK_STR(d.message, "undeclared reference to 'nobody'");
    CHECK_INT(d.line, 1);
    CHECK_INT(d.column, 21);
}

static void test_unknown_function(void)
{
    cel_diag d;
    CHECK_INT(compile("frobnicate(1)", &d, NULL), CEL_ERR_TYPE);
    CHECK_HAS(d.message, "undeclared reference to function 'frobnicate'");
    CHECK_INT(compile("size(1, 2)", &d, NULL), CEL_ERR_TYPE);
    CHECK_HAS(d.message, "'size' with 2 arguments");
}

static void test_clearly_wrong_operands(void)
{
    cel_diag d;
    CHECK_INT(compile("\"a\" + 1", &d, NULL), CEL_ERR_TYPE);
    CHECK_HAS(d.message, "'_+_' applied to '(string, int)'");
    CHECK_INT(d.column, 5);
    CHECK_INT(compile("size(1)", &d, NULL), CEL_ERR_TYPE);
    CHECK_HAS(d.message, "'size' applied to '(int)'");
    CHECK_INT(compile("1 < 'x'", &d, NULL), CEL_ERR_TYPE);
    CHECK_INT(compile("action && true", &d, NULL), CEL_ERR_TYPE);
    CHECK_INT(compile("!confidence", &d, NULL), CEL_ERR_TYPE);
    CHECK_INT(compile("action.matches('(')", &d, NULL), CEL_ERR_TYPE);
    CHECK_HAS(d.message, "invalid regular expression");
    CHECK_INT(compile("now + now", &d, NULL), CEL_ERR_TYPE);
}

static void test_dyn_operands_pass(void)
{
    cel_diag d;
    CHECK_INT(compile("input.amount + 1 > 500", &d, NULL), CEL_OK);
    CHECK_INT(compile("input.name + 'x' == 'yx'", &d, NULL), CEL_OK);
    CHECK_INT(compile("size(input.items) > 0", &d, NULL), CEL_OK);
    CHECK_INT(compile("confidence < 1", &d, NULL), CEL_OK);   /* double vs int */
    CHECK_INT(compile("action == 1", &d, NULL), CEL_OK);      /* equality is total */
}

static void test_object_fields_are_checked(void)
{
    cel_diag d;
    CHECK_INT(compile("agent.department == 'sales'", &d, NULL), CEL_OK);
    CHECK_INT(compile("agent.name == 'x'", &d, NULL), CEL_ERR_TYPE);
    CHECK_STR(d.message, "agent has no field 'name'; expected one of id, department, owner");
    CHECK_INT(d.column, 7);
    CHECK_INT(compile("counters.run.actions + 1 > 10", &d, NULL), CEL_OK);
    CHECK_INT(compile("counters.run.count > 1", &d, NULL), CEL_ERR_TYPE);
    CHECK_HAS(d.message, "counters.run has no field 'count'");
}

static void test_result_types(void)
{
    cel_diag d;
    const cel_program *p;
    CHECK_INT(compile("input.amount > 500", &d, &p), CEL_OK);
    CHECK_INT(cel_program_type(p)->kind, CEL_T_BOOL);
    CHECK_INT(compile("input.amount", &d, &p), CEL_OK);
    CHECK_INT(cel_program_type(p)->kind, CEL_T_DYN);
    CHECK_INT(compile("counters.run.spend * 2.0", &d, &p), CEL_OK);
    CHECK_INT(cel_program_type(p)->kind, CEL_T_DOUBLE);
    CHECK_INT(compile("[1, 2].map(x, x * 2)", &d, &p), CEL_OK);
    CHECK_INT(cel_program_type(p)->kind, CEL_T_LIST);
    CHECK_INT(cel_program_type(p)->elem->kind, CEL_T_INT);
    CHECK_INT(compile("now - duration('1h')", &d, &p), CEL_OK);
    CHECK_INT(cel_program_type(p)->kind, CEL_T_TIMESTAMP);
    CHECK_STR(cel_program_source(p), "now - duration('1h')");
}

static void test_macro_variables_are_scoped(void)
{
    cel_diag d;
    CHECK_INT(compile("[1].all(x, x > 0) && x > 0", &d, NULL), CEL_ERR_TYPE);
    CHECK_STR(d.message, "undeclared reference to 'x'");
    CHECK_INT(compile("[[1]].all(x, x.all(x, x > 0))", &d, NULL), CEL_OK);
    CHECK_INT(compile("[1].all(x, x + 1)", &d, NULL), CEL_ERR_TYPE);
    CHECK_HAS(d.message, "must be a bool");
}

/* Which declared variables a program refers to, as the checker resolved
 * them: a comprehension variable of the same name is not the variable. */
static bool reads(const char *src, int slot)
{
    const cel_program *p = NULL;
    cel_diag d;
    CHECK_INT(compile(src, &d, &p), CEL_OK);
    return cel_program_reads_var(p, slot);
}

static void test_program_knows_the_variables_it_reads(void)
{
    CHECK(reads("counters.day.actions < 10", 5));
    CHECK(!reads("counters.day.actions < 10", 1));
    CHECK(reads("input.amount > 1 || counters.run.spend > 2.0", 1));
    CHECK(reads("input.amount > 1 || counters.run.spend > 2.0", 5));
    CHECK(reads("has(counters.run)", 5));
    CHECK(reads("[1].exists(x, counters.day.actions > x)", 5));
    /* Read only where an evaluation may never reach it: still read. */
    CHECK(reads("true || counters.day.actions > 1", 5));
    CHECK(!reads("input.amount > 1 && action == 'x'", 5));
    CHECK(!reads("[1].all(counters, counters > 0)", 5));
    CHECK(!reads("'counters' in input", 5));
    CHECK(!cel_program_reads_var(NULL, 5));
    /* Unchecked programs resolve names the same way. */
    const cel_program *p;
    cel_diag d;
    const char *src = "counters.day.actions > 1";
    CHECK_INT(cel_compile_ex(env, src, strlen(src), CEL_COMPILE_NO_TYPE_CHECK, &p, &d),
              CEL_OK);
    CHECK(cel_program_reads_var(p, 5));
    CHECK(!cel_program_reads_var(p, 0));
}

static void test_unchecked_mode_defers_errors_to_run_time(void)
{
    const cel_program *p;
    cel_diag d;
    const char *src = "nobody || true";
    CHECK_INT(cel_compile_ex(env, src, strlen(src), CEL_COMPILE_NO_TYPE_CHECK, &p, &d),
              CEL_OK);
    arena scratch;
    arena_init(&scratch, 0);
    cel_value slots[6];
    memset(slots, 0, sizeof slots);
    cel_eval_ctx ctx = {.scratch = &scratch, .slots = slots};
    cel_value v = cel_program_eval(p, &ctx);
    CHECK(v.kind == CEL_BOOL && v.v.b);
    arena_release(&scratch);
}

int main(void)
{
    setup();
    RUN(test_declare_refuses_a_repeated_name);
    RUN(test_undeclared_reference);
    RUN(test_unknown_function);
    RUN(test_clearly_wrong_operands);
    RUN(test_dyn_operands_pass);
    RUN(test_object_fields_are_checked);
    RUN(test_result_types);
    RUN(test_macro_variables_are_scoped);
    RUN(test_unchecked_mode_defers_errors_to_run_time);
    RUN(test_program_knows_the_variables_it_reads);
    arena_release(&A);
    return TEST_DONE();
}
