/* cel_conformance.c - runs the CEL project's conformance cases (converted to
 * plain JSON, see ../shared/conformance/cel/README.txt) against Charter's CEL.
 *
 *   cel_conformance CONFORMANCE.json [KNOWN_FAILURES.txt] [-v]
 *
 * Every runnable case must pass: one planted bug (`<=` on ints answering as
 * `<`, `startsWith` as `contains`) fails a handful of the 900 cases, so a
 * pass rate threshold would hide it. The only exceptions are the cases
 * named in KNOWN_FAILURES.txt (tests/cel_known_failures.txt), one a line:
 *
 *   file/section/name  why it fails (one line)
 *
 * ('#' starts a comment). A listed case that passes, or a listed name that
 * is not a runnable case, also fails the run: the list says what fails
 * today, nothing more, so a fix removes its line.
 *
 * Prints the pass rate per file and overall and every failing case (name,
 * expression, what we got, what was expected). Exits 0 when every case
 * passes or is a listed known failure, 1 otherwise, 77 (ctest's SKIP) when
 * the conformance file is absent. Bindings use the README's number
 * convention (an integer literal is an int, a literal with a fraction or
 * exponent a double), which jansson keeps apart by lexical form;
 * typed_bindings/typed_expected are used when present because they are
 * exact (uint, bytes, NaN, timestamps ...); skip:true cases they make
 * runnable ("typed extras") must pass too.
 */
#include "cel/cel.h"
#include "cel/cel_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct file_stat {
    char name[64];
    int run, passed;
} file_stat;

/* ---- Known failures ------------------------------------------------------ */

#define KNOWN_MAX 64

typedef struct known_failure {
    char name[200];  /* file/section/name */
    bool seen;       /* a runnable case has this name */
    bool passed;     /* ... and it passed */
} known_failure;

typedef struct known_list {
    known_failure item[KNOWN_MAX];
    size_t n;
} known_list;

/* Reads KNOWN_FAILURES.txt into `k`. A line is "file/section/name reason";
 * a line without a reason, a duplicate or more than KNOWN_MAX entries is an
 * error: false, with what was found on stderr. */
static bool known_load(const char *path, known_list *k)
{
    k->n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot read the known failures list: %s\n", path,
                strerror(errno));
        return false;
    }
    char line[1024];
    bool ok = true;
    for (int lineno = 1; ok && fgets(line, sizeof line, f); lineno++) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
            continue;
        size_t name_n = strcspn(p, " \t\r\n");
        const char *reason = p + name_n;
        while (*reason == ' ' || *reason == '\t')
            reason++;
        if (!*reason || *reason == '\n' || *reason == '\r') {
            fprintf(stderr, "%s:%d: expected \"file/section/name  reason\", found no "
                    "reason after '%.*s'\n", path, lineno, (int)name_n, p);
            ok = false;
        } else if (name_n >= sizeof k->item[0].name || k->n == KNOWN_MAX) {
            fprintf(stderr, "%s:%d: a name over %zu bytes or more than %d entries; the "
                    "list is meant to stay short\n", path, lineno,
                    sizeof k->item[0].name - 1, KNOWN_MAX);
            ok = false;
        } else {
            known_failure *e = &k->item[k->n];
            memset(e, 0, sizeof *e);
            memcpy(e->name, p, name_n);
            for (size_t i = 0; i < k->n; i++)
                if (!strcmp(k->item[i].name, e->name)) {
                    fprintf(stderr, "%s:%d: '%s' is listed twice\n", path, lineno, e->name);
                    ok = false;
                }
            k->n++;
        }
    }
    fclose(f);
    return ok;
}

static known_failure *known_find(known_list *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->item[i].name, name))
            return &k->item[i];
    return NULL;
}

/* ---- Expected values ----------------------------------------------------- */

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Typed form {"int":"1"} ... to a value; false if unsupported. */
static bool typed_value(arena *a, const json_t *j, cel_value *out)
{
    if (!json_is_object(j) || json_object_size(j) != 1)
        return false;
    const char *k = json_object_iter_key(json_object_iter((json_t *)j));
    const json_t *v = json_object_get(j, k);
    if (!strcmp(k, "int") && json_is_string(v)) {
        errno = 0;
        *out = cel_int(strtoll(json_string_value(v), NULL, 10));
        return errno == 0;
    }
    if (!strcmp(k, "uint") && json_is_string(v)) {
        errno = 0;
        *out = cel_uint(strtoull(json_string_value(v), NULL, 10));
        return errno == 0;
    }
    if (!strcmp(k, "double")) {
        if (json_is_number(v)) {
            *out = cel_double(json_number_value(v));
            return true;
        }
        const char *s = json_string_value(v);
        if (!s)
            return false;
        *out = cel_double(!strcmp(s, "NaN") ? NAN : !strcmp(s, "-Infinity") ? -INFINITY
                                                                             : INFINITY);
        return true;
    }
    if (!strcmp(k, "string") && json_is_string(v)) {
        *out = cel_string(json_string_value(v), json_string_length(v));
        return true;
    }
    if (!strcmp(k, "bool") && json_is_boolean(v)) {
        *out = cel_bool(json_is_true(v));
        return true;
    }
    if (!strcmp(k, "null")) {
        *out = cel_null();
        return true;
    }
    if (!strcmp(k, "bytes_b64") && json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s), o = 0;
        char *buf = arena_alloc(a, n + 1);
        if (!buf)
            return false;
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n; i++) {
            int x = b64_val(s[i]);
            if (x < 0)
                continue;
            acc = (acc << 6) | (uint32_t)x;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                buf[o++] = (char)((acc >> bits) & 0xFF);
            }
        }
        out->kind = CEL_BYTES;
        out->v.s.p = buf;
        out->v.s.n = o;
        return true;
    }
    if (!strcmp(k, "list") && json_is_array(v)) {
        size_t n = json_array_size(v);
        cel_value *items = arena_alloc(a, (n ? n : 1) * sizeof *items);
        cel_list *l = arena_alloc(a, sizeof *l);
        if (!items || !l)
            return false;
        for (size_t i = 0; i < n; i++)
            if (!typed_value(a, json_array_get(v, i), &items[i]))
                return false;
        l->n = n;
        l->items = items;
        out->kind = CEL_LIST;
        out->v.list = l;
        return true;
    }
    if (!strcmp(k, "map") && json_is_array(v)) {
        size_t n = json_array_size(v);
        cel_value *keys = arena_alloc(a, (n ? n : 1) * sizeof *keys);
        cel_value *vals = arena_alloc(a, (n ? n : 1) * sizeof *vals);
        if (!keys || !vals)
            return false;
        for (size_t i = 0; i < n; i++) {
            const json_t *pair = json_array_get(v, i);
            if (!typed_value(a, json_array_get(pair, 0), &keys[i]) ||
                !typed_value(a, json_array_get(pair, 1), &vals[i]))
                return false;
        }
        const cel_map *m = cel_map_build(a, n, keys, vals);
        if (!m)
            return false;
        out->kind = CEL_MAP;
        out->v.map = m;
        return true;
    }
    if (!strcmp(k, "duration") && json_is_string(v)) {
        const char *why;
        out->kind = CEL_DURATION;
        return cel_dur_parse(json_string_value(v), json_string_length(v),
                             &out->v.t.sec, &out->v.t.nsec, &why);
    }
    if (!strcmp(k, "timestamp") && json_is_string(v)) {
        const char *why;
        out->kind = CEL_TIMESTAMP;
        return cel_ts_parse(json_string_value(v), json_string_length(v),
                            &out->v.t.sec, &out->v.t.nsec, &why);
    }
    if (!strcmp(k, "type") && json_is_string(v)) {
        static const char *const names[] = {
            "int", "uint", "double", "bool", "string", "bytes", "list", "map",
            "null_type", "type", "google.protobuf.Timestamp",
            "google.protobuf.Duration", NULL};
        for (int i = 0; names[i]; i++) {
            if (!strcmp(names[i], json_string_value(v))) {
                out->kind = CEL_TYPE;
                out->v.type_name = names[i];
                return true;
            }
        }
        return false;
    }
    return false;
}

/* Exact equality: kinds must match (1 is not 1.0 here), NaN equals NaN. */
static bool same_value(const cel_value *a, const cel_value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case CEL_DOUBLE:
        if (isnan(a->v.d) && isnan(b->v.d))
            return true;
        return a->v.d == b->v.d && signbit(a->v.d) == signbit(b->v.d);
    case CEL_LIST:
        if (a->v.list->n != b->v.list->n)
            return false;
        for (size_t i = 0; i < a->v.list->n; i++)
            if (!same_value(&a->v.list->items[i], &b->v.list->items[i]))
                return false;
        return true;
    case CEL_MAP:
        if (a->v.map->n != b->v.map->n)
            return false;
        for (size_t i = 0; i < a->v.map->n; i++) {
            const cel_value *k = &a->v.map->keys[i];
            const cel_value *w = NULL;
            for (size_t j = 0; j < b->v.map->n && !w; j++)
                if (same_value(k, &b->v.map->keys[j]))
                    w = &b->v.map->values[j];
            if (!w || !same_value(&a->v.map->values[i], w))
                return false;
        }
        return true;
    default:
        return cel_value_equal(a, b);
    }
}

/* ---- Declarations ------------------------------------------------------------ */

static const cel_type *parse_type(arena *a, const char *s)
{
    static const struct { const char *name; const cel_type *t; } simple[] = {
        {"int", &cel_type_int}, {"uint", &cel_type_uint},
        {"double", &cel_type_double}, {"bool", &cel_type_bool},
        {"string", &cel_type_string}, {"bytes", &cel_type_bytes},
        {"null_type", &cel_type_null}, {"dyn", &cel_type_dyn},
        {"google.protobuf.Timestamp", &cel_type_timestamp},
        {"google.protobuf.Duration", &cel_type_duration}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (!strcmp(s, simple[i].name))
            return simple[i].t;
    size_t n = strlen(s);
    if (!strncmp(s, "list(", 5) && s[n - 1] == ')') {
        char inner[128];
        snprintf(inner, sizeof inner, "%.*s", (int)(n - 6), s + 5);
        cel_type *t = arena_calloc(a, 1, sizeof *t);
        t->kind = CEL_T_LIST;
        t->elem = parse_type(a, inner);
        return t;
    }
    if (!strncmp(s, "map(", 4) && s[n - 1] == ')') {
        const char *comma = strchr(s, ',');
        if (!comma)
            return &cel_type_dyn;
        char k[128], v[128];
        snprintf(k, sizeof k, "%.*s", (int)(comma - s - 4), s + 4);
        const char *vs = comma + 1;
        while (*vs == ' ')
            vs++;
        snprintf(v, sizeof v, "%.*s", (int)(s + n - 1 - vs), vs);
        cel_type *t = arena_calloc(a, 1, sizeof *t);
        t->kind = CEL_T_MAP;
        t->key = parse_type(a, k);
        t->elem = parse_type(a, v);
        return t;
    }
    return &cel_type_dyn;
}

/* ---- One case -------------------------------------------------------------------- */

typedef struct outcome {
    bool is_error;
    cel_value value;
    char message[600];
} outcome;

static void run_case(arena *a, const json_t *c, outcome *out)
{
    memset(out, 0, sizeof *out);
    cel_env *env = cel_env_new(a);
    const json_t *bindings = json_object_get(c, "bindings");
    const json_t *typed = json_object_get(c, "typed_bindings");
    const json_t *tenv = json_object_get(c, "type_env");
    size_t nb = json_object_size(bindings) + json_object_size(tenv) + 1;
    cel_value *slots = arena_calloc(a, nb, sizeof *slots);
    const char *name;
    json_t *jv;
    json_object_foreach((json_t *)tenv, name, jv) {
        if (json_is_string(jv))
            cel_env_declare(env, name, parse_type(a, json_string_value(jv)));
    }
    json_object_foreach((json_t *)bindings, name, jv) {
        int slot = cel_env_declare(env, name, &cel_type_dyn);
        if (slot < 0) {
            const cel_type *t;
            slot = cel_env_lookup(env, name, strlen(name), &t);
        }
        const json_t *tv = typed ? json_object_get(typed, name) : NULL;
        cel_value v;
        char msg[256];
        if (tv && typed_value(a, tv, &v)) {
            slots[slot] = v;
        } else if (cel_value_from_json(a, jv, &v, msg, sizeof msg)) {
            slots[slot] = v;
        } else {
            out->is_error = true;
            snprintf(out->message, sizeof out->message, "binding %s: %s", name, msg);
            return;
        }
    }
    const json_t *flags = json_object_get(c, "flags");
    unsigned cflags = json_is_true(json_object_get(flags, "disable_check"))
                          ? CEL_COMPILE_NO_TYPE_CHECK : 0;
    const char *expr = json_string_value(json_object_get(c, "expr"));
    size_t expr_n = json_string_length(json_object_get(c, "expr"));
    const cel_program *p = NULL;
    cel_diag diag;
    if (cel_compile_ex(env, expr, expr_n, cflags, &p, &diag) != CEL_OK) {
        out->is_error = true;
        snprintf(out->message, sizeof out->message, "compile %u:%u: %s", diag.line,
                 diag.column, diag.message);
        return;
    }
    cel_eval_ctx ctx = {.scratch = a, .slots = slots};
    out->value = cel_program_eval(p, &ctx);
    if (out->value.kind == CEL_ERROR) {
        out->is_error = true;
        snprintf(out->message, sizeof out->message, "eval: %s", out->value.v.error);
    }
}

/* Expected value of a case, false if it cannot be represented. */
static bool expected_value(arena *a, const json_t *c, cel_value *v)
{
    const json_t *typed = json_object_get(c, "typed_expected");
    if (typed)
        return typed_value(a, typed, v);
    const json_t *e = json_object_get(c, "expected");
    char msg[256];
    return cel_value_from_json(a, json_object_get(e, "value"), v, msg, sizeof msg);
}

/* A skip:true case whose only obstacles are values plain JSON cannot carry
 * (uint, bytes, NaN/infinity, type values, a duration binding): the typed_*
 * fields represent them exactly, so it can run here. Proto messages cannot. */
static bool typed_runnable(const json_t *c)
{
    static const char *const ok[] = {"uint", "bytes", "double_nan_or_inf",
                                     "type_value", "duration_value", NULL};
    const json_t *reasons = json_object_get(c, "skip_reasons");
    size_t i;
    json_t *r;
    json_array_foreach(reasons, i, r) {
        bool known = false;
        for (int k = 0; ok[k]; k++)
            known = known || (json_is_string(r) && !strcmp(json_string_value(r), ok[k]));
        if (!known)
            return false;
    }
    const json_t *exp = json_object_get(c, "expected");
    return json_object_get(c, "typed_expected") || json_object_get(exp, "error");
}

int main(int argc, char **argv)
{
    const char *path = NULL, *known_path = NULL;
    bool verbose = false;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "-v"))
            verbose = true;
        else if (!path)
            path = argv[k];
        else if (!known_path)
            known_path = argv[k];
        else {
            fprintf(stderr, "usage: cel_conformance CONFORMANCE.json "
                            "[KNOWN_FAILURES.txt] [-v]; found an extra '%s'\n", argv[k]);
            return 2;
        }
    }
    if (!path)
        path = "../shared/conformance/cel/conformance.json";
    if (access(path, R_OK) != 0) {
        printf("skipped: conformance folder absent (%s)\n", path);
        return 77;
    }
    known_list known;
    known.n = 0;
    if (known_path && !known_load(known_path, &known))
        return 1;
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!json_is_array(root)) {
        fprintf(stderr, "%s:%d: cannot read conformance cases: %s\n", path, jerr.line,
                jerr.text);
        return 1;
    }
    file_stat files[64];
    size_t nfiles = 0;
    int run = 0, passed = 0, skipped = 0, extra_run = 0, extra_passed = 0;
    int unexpected = 0, expected_failures = 0;
    arena a;
    arena_init(&a, 0);
    size_t i;
    json_t *c;
    json_array_foreach(root, i, c) {
        bool extra = false;
        if (json_is_true(json_object_get(c, "skip"))) {
            if (!typed_runnable(c)) {
                skipped++;
                continue;
            }
            extra = true;
        }
        const char *file = json_string_value(json_object_get(c, "file"));
        file_stat *fs = NULL;
        for (size_t k = 0; k < nfiles; k++)
            if (!strcmp(files[k].name, file))
                fs = &files[k];
        if (!fs && nfiles < 64) {
            fs = &files[nfiles++];
            snprintf(fs->name, sizeof fs->name, "%s", file);
            fs->run = fs->passed = 0;
        }
        arena_reset(&a);
        outcome got;
        run_case(&a, c, &got);
        const json_t *exp = json_object_get(c, "expected");
        bool want_error = json_object_get(exp, "error") != NULL;
        bool ok;
        char want_text[700], got_text[700];
        cel_value want = cel_null();
        if (want_error) {
            ok = got.is_error;
            snprintf(want_text, sizeof want_text, "error (%s)",
                     json_string_value(json_object_get(exp, "message"))
                         ? json_string_value(json_object_get(exp, "message")) : "");
        } else if (!expected_value(&a, c, &want)) {
            ok = false;
            snprintf(want_text, sizeof want_text, "(unrepresentable expected value)");
        } else {
            ok = !got.is_error && same_value(&got.value, &want);
            cel_value_format(&want, want_text, sizeof want_text);
        }
        if (got.is_error)
            snprintf(got_text, sizeof got_text, "error (%s)", got.message);
        else
            cel_value_format(&got.value, got_text, sizeof got_text);
        if (extra) {
            extra_run++;
            extra_passed += ok;
        } else {
            run++;
            if (fs)
                fs->run++;
        }
        char case_name[200];
        snprintf(case_name, sizeof case_name, "%s/%s/%s", file,
                 json_string_value(json_object_get(c, "section")),
                 json_string_value(json_object_get(c, "name")));
        known_failure *listed = known_find(&known, case_name);
        if (listed) {
            listed->seen = true;
            listed->passed = ok;
        }
        if (ok) {
            if (!extra)
                passed++;
            if (fs && !extra)
                fs->passed++;
            if (verbose)
                printf("PASS %s\n", case_name);
        } else {
            if (listed)
                expected_failures++;
            else
                unexpected++;
            printf("%s %s\n  expr:     %s\n  got:      %s\n  expected: %s\n",
                   listed ? "KNOWN" : "FAIL", case_name,
                   json_string_value(json_object_get(c, "expr")), got_text, want_text);
        }
    }
    arena_release(&a);
    json_decref(root);
    printf("\n%-14s %7s %7s %8s\n", "file", "passed", "run", "rate");
    for (size_t k = 0; k < nfiles; k++)
        printf("%-14s %7d %7d %7.1f%%\n", files[k].name, files[k].passed, files[k].run,
               files[k].run ? 100.0 * files[k].passed / files[k].run : 0.0);
    double rate = run ? 100.0 * passed / run : 0.0;
    printf("%-14s %7d %7d %7.1f%%   (%d skipped as unrunnable)\n", "overall", passed, run,
           rate, skipped);
    printf("typed extras   %7d %7d          (skip:true cases made runnable by "
           "typed_bindings/typed_expected; not in the rate above)\n",
           extra_passed, extra_run);
    int stale = 0;
    for (size_t k = 0; k < known.n; k++) {
        if (!known.item[k].seen) {
            printf("STALE %s is listed in %s but is not a runnable case; remove its "
                   "line\n", known.item[k].name, known_path);
            stale++;
        } else if (known.item[k].passed) {
            printf("FIXED %s is listed in %s but passes now; remove its line\n",
                   known.item[k].name, known_path);
            stale++;
        }
    }
    printf("%d failing case(s) not in the known failures list, %d known failure(s), "
           "%d stale entr%s in the list\n", unexpected, expected_failures, stale,
           stale == 1 ? "y" : "ies");
    return unexpected || stale ? 1 : 0;
}
