/* cel_env.c - environments (declared variables), compilation into programs,
 * and one-shot evaluation for `charter eval`.
 *
 * cel_compile runs the pipeline: parse (cel_parse.c) then check
 * (cel_check.c); the program keeps the checked tree, which cel_eval.c walks.
 * Everything lives in the env's arena.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "cel/cel_int.h"

#include <string.h>

struct cel_env {
    arena *a;
    size_t n, cap;
    const char **names;
    size_t *name_lens;
    const cel_type **types;
};

cel_env *cel_env_new(arena *a)
{
    cel_env *env = arena_calloc(a, 1, sizeof *env);
    if (env)
        env->a = a;
    return env;
}

int cel_env_lookup(const cel_env *env, const char *name, size_t n,
                   const cel_type **type)
{
    for (size_t i = 0; i < env->n; i++) {
        if (env->name_lens[i] == n && !memcmp(env->names[i], name, n)) {
            if (type)
                *type = env->types[i];
            return (int)i;
        }
    }
    return -1;
}

int cel_env_declare(cel_env *env, const char *name, const cel_type *type)
{
    if (!env || !name)
        return -1;
    size_t len = strlen(name);
    if (cel_env_lookup(env, name, len, NULL) >= 0)
        return -1;
    if (env->n == env->cap) {
        size_t cap = env->cap ? env->cap * 2 : 16;
        const char **names = arena_alloc(env->a, cap * sizeof *names);
        size_t *lens = arena_alloc(env->a, cap * sizeof *lens);
        const cel_type **types = arena_alloc(env->a, cap * sizeof *types);
        if (!names || !lens || !types)
            return -1;
        if (env->n) {
            memcpy(names, env->names, env->n * sizeof *names);
            memcpy(lens, env->name_lens, env->n * sizeof *lens);
            memcpy(types, env->types, env->n * sizeof *types);
        }
        env->names = names;
        env->name_lens = lens;
        env->types = types;
        env->cap = cap;
    }
    const char *copy = arena_strndup(env->a, name, len);
    if (!copy)
        return -1;
    env->names[env->n] = copy;
    env->name_lens[env->n] = len;
    env->types[env->n] = type ? type : &cel_type_dyn;
    return (int)env->n++;
}

size_t cel_env_slot_count(const cel_env *env)
{
    return env ? env->n : 0;
}

arena *cel_env_arena(cel_env *env)
{
    return env->a;
}

static void diag_set(cel_diag *diag, cel_status code, const char *msg)
{
    if (!diag)
        return;
    diag->code = code;
    diag->line = 0;
    diag->column = 0;
    snprintf(diag->message, sizeof diag->message, "%s", msg);
}

cel_status cel_compile_ex(cel_env *env, const char *src, size_t n,
                          unsigned flags, const cel_program **out,
                          cel_diag *diag)
{
    cel_diag scratch_diag;
    if (!diag)
        diag = &scratch_diag;
    memset(diag, 0, sizeof *diag);
    *out = NULL;
    if (!env || !src) {
        diag_set(diag, CEL_ERR_SYNTAX, "no expression given");
        return CEL_ERR_SYNTAX;
    }
    cel_node *root = cel_parse(env->a, src, n, diag);
    if (!root)
        return diag->code ? diag->code : CEL_ERR_SYNTAX;
    unsigned max_locals = 0;
    uint64_t vars = 0;
    unsigned check_flags = (flags & CEL_COMPILE_NO_TYPE_CHECK) ? 0 : CEL_CHECK_TYPES;
    cel_status s = cel_check(env, root, check_flags, &max_locals, &vars, diag);
    if (s != CEL_OK)
        return s;
    cel_program *p = arena_calloc(env->a, 1, sizeof *p);
    char *text = arena_strndup(env->a, src, n);
    if (!p || !text) {
        diag_set(diag, CEL_ERR_NOMEM, "out of memory compiling an expression");
        return CEL_ERR_NOMEM;
    }
    p->root = root;
    p->type = root->type ? root->type : &cel_type_dyn;
    p->source = text;
    p->max_locals = max_locals;
    p->nslots = env->n;
    p->vars = vars;
    *out = p;
    return CEL_OK;
}

cel_status cel_compile(cel_env *env, const char *src, size_t n,
                       const cel_program **out, cel_diag *diag)
{
    return cel_compile_ex(env, src, n, 0, out, diag);
}

const cel_type *cel_program_type(const cel_program *p)
{
    return p ? p->type : &cel_type_dyn;
}

const char *cel_program_source(const cel_program *p)
{
    return p ? p->source : "";
}

bool cel_program_reads_var(const cel_program *p, int slot)
{
    if (!p || slot < 0)
        return false;
    return (p->vars & (slot < 63 ? UINT64_C(1) << slot : UINT64_C(1) << 63)) != 0;
}

cel_status cel_eval_once(arena *a, const char *src, size_t n,
                         const cel_map *vars, int64_t now_sec,
                         cel_value *out, cel_diag *diag)
{
    cel_diag scratch_diag;
    if (!diag)
        diag = &scratch_diag;
    memset(diag, 0, sizeof *diag);
    *out = cel_null();
    cel_env *env = cel_env_new(a);
    if (!env) {
        diag_set(diag, CEL_ERR_NOMEM, "out of memory");
        return CEL_ERR_NOMEM;
    }
    size_t nvars = vars ? vars->n : 0;
    cel_value *slots = arena_calloc(a, nvars + 1, sizeof *slots);
    if (!slots) {
        diag_set(diag, CEL_ERR_NOMEM, "out of memory");
        return CEL_ERR_NOMEM;
    }
    for (size_t i = 0; i < nvars; i++) {
        const cel_value *k = &vars->keys[i];
        if (k->kind != CEL_STRING)
            continue;
        char *name = arena_strndup(a, k->v.s.p, k->v.s.n);
        if (!name) {
            diag_set(diag, CEL_ERR_NOMEM, "out of memory");
            return CEL_ERR_NOMEM;
        }
        int slot = cel_env_declare(env, name, &cel_type_dyn);
        if (slot >= 0)
            slots[slot] = vars->values[i];
    }
    /* `now` unless the variables bind it themselves. */
    int slot = cel_env_declare(env, "now", &cel_type_timestamp);
    if (slot >= 0) {
        slots[slot].kind = CEL_TIMESTAMP;
        slots[slot].v.t.sec = now_sec;
        slots[slot].v.t.nsec = 0;
    }
    const cel_program *p = NULL;
    cel_status s = cel_compile(env, src, n, &p, diag);
    if (s != CEL_OK)
        return s;
    cel_eval_ctx ctx = {.scratch = a, .slots = slots};
    *out = cel_program_eval(p, &ctx);
    if (out->kind == CEL_ERROR) {
        diag_set(diag, CEL_ERR_EVAL, out->v.error);
        diag->line = ctx.error_line;
        diag->column = ctx.error_column;
        return CEL_ERR_EVAL;
    }
    return CEL_OK;
}
