/* fuzz_cel.c - the CEL lexer, parser, checker and evaluator.
 *
 * Input: a CEL expression, optionally followed by a NUL byte and a JSON
 * object of variables. The expression goes through both paths an outsider
 * can reach: charter_eval (type-checked, variables read by jansson) and an
 * unchecked compile (CEL_COMPILE_NO_TYPE_CHECK, variables read by Charter's
 * own JSON parser), so the evaluator also meets the operand types the
 * checker would have refused. */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/limits.h"
#include "cel/cel.h"
#include "charter.h"
#include "fuzz.h"

/* 2026-11-24T10:00:00Z: a fixed `now`, so a finding replays. */
#define FUZZ_NOW_MS INT64_C(1795514400000)

static const char default_vars[] =
    "{\"input\":{\"amount\":250,\"currency\":\"EUR\",\"tags\":[\"a\",\"b\"],"
    "\"rate\":0.5,\"when\":\"2026-11-24T10:00:00Z\",\"nested\":{\"k\":[1,2,3]}},"
    "\"subject\":{\"tenure_years\":4,\"name\":\"Ada\"},\"n\":-7,\"big\":18446744073709551615,"
    "\"ok\":true,\"nothing\":null}";

static void eval_unchecked(const char *expr, size_t n, const char *vars,
                           size_t vars_n)
{
    arena a;
    arena_init(&a, 0);
    cel_value top;
    cel_json_error jerr;
    if (!cel_json_parse(&a, vars, vars_n, CHARTER_MAX_JSON_DEPTH, &top, &jerr) ||
        top.kind != CEL_MAP)
        goto done;
    cel_env *env = cel_env_new(&a);
    if (!env)
        goto done;
    const cel_map *m = top.v.map;
    cel_value *slots = arena_calloc(&a, m->n + 1, sizeof *slots);
    if (!slots)
        goto done;
    for (size_t i = 0; i < m->n; i++) {
        char *name = arena_strndup(&a, m->keys[i].v.s.p, m->keys[i].v.s.n);
        int slot = name ? cel_env_declare(env, name, &cel_type_dyn) : -1;
        if (slot >= 0)
            slots[slot] = m->values[i];
    }
    int now = cel_env_declare(env, "now", &cel_type_timestamp);
    if (now >= 0) {
        slots[now].kind = CEL_TIMESTAMP;
        slots[now].v.t.sec = FUZZ_NOW_MS / 1000;
    }
    const cel_program *p = NULL;
    cel_diag diag;
    if (cel_compile_ex(env, expr, n, CEL_COMPILE_NO_TYPE_CHECK, &p, &diag) != CEL_OK)
        goto done;
    arena scratch;
    arena_init(&scratch, 0);
    scratch.limit = CEL_MAX_EVAL_BYTES;
    cel_eval_ctx ctx = {.scratch = &scratch, .slots = slots};
    cel_value v = cel_program_eval(p, &ctx);
    if (v.kind == CEL_ERROR && !v.v.error)
        abort();
    arena_release(&scratch);
done:
    arena_release(&a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t expr_n = nul ? (size_t)(nul - text) : size;
    const char *vars = nul ? nul + 1 : default_vars;
    size_t vars_n = nul ? size - expr_n - 1 : sizeof default_vars - 1;

    /* charter_eval takes C strings. */
    char *expr = malloc(expr_n + 1);
    char *vars_z = malloc(vars_n + 1);
    if (!expr || !vars_z)
        abort();
    memcpy(expr, text, expr_n);
    expr[expr_n] = '\0';
    memcpy(vars_z, vars, vars_n);
    vars_z[vars_n] = '\0';

    char *out = NULL;
    charter_error err;
    charter_status s = charter_eval(expr, vars_z, FUZZ_NOW_MS, &out, &err);
    if ((s == CHARTER_OK) != (out != NULL))
        abort();
    free(out);

    eval_unchecked(expr, expr_n, vars, vars_n);
    free(expr);
    free(vars_z);
    return 0;
}
