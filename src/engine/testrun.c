/* testrun.c - charter_test_run: the charter's own tests (*.test.yaml).
 *
 * A test file names its charter and lists requests with the decision each
 * must get (format in docs/charter-reference.md, "Charter tests"). Cases are
 * decided at the file's `time:` when it has one, else at a fixed time, so a
 * test never depends on the clock; a request may carry its own `time`.
 * A malformed test file is an error of the call; a case whose request is
 * invalid is a failed case (the failure says why) and the run goes on.
 */
#include "base/banned.h"

#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "charter/yaml.h"
#include "engine/request.h"

/* Cases run at this time unless the file or the request says otherwise. */
static const char default_time[] = "2026-01-01T00:00:00Z";

static charter_status run_fail(charter_error *err, charter_status code,
                               const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static charter_status run_fail(charter_error *err, charter_status code,
                               const char *file, const char *fmt, ...)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = code;
        if (file)
            snprintf(err->file, sizeof err->file, "%s", file);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- Expectations -------------------------------------------------------- */

typedef struct expect {
    charter_effect decision;
    const char *reason;                 /* or NULL: not checked */
    const ch_yaml_node *fired;          /* SEQ, or NULL */
    const ch_yaml_node *obligations;    /* SEQ, or NULL */
    bool has_queue;
    const char *queue;                  /* NULL: expects none */
} expect;

static bool effect_parse(const char *s, charter_effect *out)
{
    if (!strcmp(s, "allow"))
        *out = CHARTER_ALLOW;
    else if (!strcmp(s, "deny"))
        *out = CHARTER_DENY;
    else if (!strcmp(s, "escalate"))
        *out = CHARTER_ESCALATE;
    else
        return false;
    return true;
}

/* The reasons a decision gives (charter.h, charter_decision.reason). */
static const char *const reasons[] = {
    "unknown_agent", "unknown_workflow", "workflow_not_granted",
    "action_not_in_workflow", "human_only", "augmented_requires_approval",
    "boundary", "stop_rule", "rule", "default",
};
static const char reasons_text[] =
    "unknown_agent, unknown_workflow, workflow_not_granted, "
    "action_not_in_workflow, human_only, augmented_requires_approval, "
    "boundary, stop_rule, rule, default";

static bool is_reason(const char *s)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (!strcmp(s, reasons[i]))
            return true;
    return false;
}

static charter_status seq_of_strings(const ch_yaml_node *n, const char *key,
                                     charter_error *err)
{
    if (n->kind != CH_YAML_SEQ) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, n,
                      "'%s' must be a list of ids, found a %s", key,
                      n->kind == CH_YAML_MAP ? "mapping" : "scalar");
        return CHARTER_E_SCHEMA;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->kind != CH_YAML_SCALAR) {
            ch_yaml_error(err, CHARTER_E_SCHEMA, n->items[i],
                          "'%s' must list ids (strings), found a %s", key,
                          n->items[i]->kind == CH_YAML_MAP ? "mapping" : "list");
            return CHARTER_E_SCHEMA;
        }
    }
    return CHARTER_OK;
}

static charter_status expect_parse(const ch_yaml_node *n, expect *e,
                                   charter_error *err)
{
    memset(e, 0, sizeof *e);
    if (n->kind != CH_YAML_MAP) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, n,
                      "'expect' must be a mapping with at least 'decision'");
        return CHARTER_E_SCHEMA;
    }
    bool has_decision = false;
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->str;
        const ch_yaml_node *v = n->values[i];
        if (!strcmp(k, "decision")) {
            if (v->kind != CH_YAML_SCALAR || !effect_parse(v->str, &e->decision)) {
                ch_yaml_error(err, CHARTER_E_SCHEMA, v,
                              "expected one of allow, deny, escalate; found '%s'",
                              v->kind == CH_YAML_SCALAR ? v->str : "a collection");
                return CHARTER_E_SCHEMA;
            }
            has_decision = true;
        } else if (!strcmp(k, "reason")) {
            if (v->kind != CH_YAML_SCALAR || !is_reason(v->str)) {
                ch_yaml_error(err, CHARTER_E_SCHEMA, v,
                              "expected one of %s; found '%s'", reasons_text,
                              v->kind == CH_YAML_SCALAR ? v->str : "a collection");
                return CHARTER_E_SCHEMA;
            }
            e->reason = v->str;
        } else if (!strcmp(k, "fired") || !strcmp(k, "obligations")) {
            charter_status s = seq_of_strings(v, k, err);
            if (s != CHARTER_OK)
                return s;
            if (k[0] == 'f')
                e->fired = v;
            else
                e->obligations = v;
        } else if (!strcmp(k, "queue")) {
            if (v->kind != CH_YAML_SCALAR) {
                ch_yaml_error(err, CHARTER_E_SCHEMA, v, "'queue' must be a queue id or null");
                return CHARTER_E_SCHEMA;
            }
            e->has_queue = true;
            e->queue = ch_yaml_is_null(v) ? NULL : v->str;
        } else {
            ch_yaml_error(err, CHARTER_E_SCHEMA, n->keys[i],
                          "unknown key '%s' in 'expect'; expected decision, reason, "
                          "fired, obligations or queue", k);
            return CHARTER_E_SCHEMA;
        }
    }
    if (!has_decision) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, n, "'expect' has no 'decision'");
        return CHARTER_E_SCHEMA;
    }
    return CHARTER_OK;
}

/* ---- Comparing ---------------------------------------------------------------- */

typedef struct text {
    arena *a;
    char *p;
    size_t n;
} text;

static void text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    size_t add = (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1;
    char *p = arena_alloc(t->a, t->n + add + 1);
    if (!p)
        return;
    if (t->n)
        memcpy(p, t->p, t->n);
    memcpy(p + t->n, buf, add);
    t->n += add;
    p[t->n] = '\0';
    t->p = p;
}

static void text_list(text *t, const char *const *v, size_t n)
{
    text_add(t, "[");
    for (size_t i = 0; i < n; i++)
        text_add(t, "%s%s", i ? ", " : "", v[i]);
    text_add(t, "]");
}

static void text_fired(text *t, const charter_decision *dec)
{
    text_add(t, "[");
    for (size_t i = 0; i < dec->fired_count; i++)
        text_add(t, "%s%s", i ? ", " : "", dec->fired[i].id);
    text_add(t, "]");
}

static void text_seq(text *t, const ch_yaml_node *seq)
{
    text_add(t, "[");
    for (size_t i = 0; i < seq->n; i++)
        text_add(t, "%s%s", i ? ", " : "", seq->items[i]->str);
    text_add(t, "]");
}

/* Same ids as a set, counting repeats: each expected id matches one got. */
static bool same_ids(const ch_yaml_node *want, const char *const *got, size_t n,
                     arena *a)
{
    if (want->n != n)
        return false;
    bool *used = arena_calloc(a, n ? n : 1, sizeof *used);
    if (!used)
        return false;
    for (size_t i = 0; i < want->n; i++) {
        size_t k = 0;
        while (k < n && (used[k] || strcmp(got[k], want->items[i]->str) != 0))
            k++;
        if (k == n)
            return false;
        used[k] = true;
    }
    return true;
}

/* NULL when the decision meets the expectation, else what differed. */
static const char *compare(arena *a, const expect *e, const charter_decision *dec)
{
    text t = {.a = a};
    if (dec->effect != e->decision) {
        text_add(&t, "expected %s, got %s (reason %s); fired: ",
                 charter_effect_name(e->decision), charter_effect_name(dec->effect),
                 dec->reason);
        text_fired(&t, dec);
    }
    if (e->reason && strcmp(e->reason, dec->reason) != 0)
        text_add(&t, "%sexpected reason %s, got %s", t.n ? "; " : "", e->reason,
                 dec->reason);
    if (e->fired) {
        const char **ids = arena_alloc(a, (dec->fired_count ? dec->fired_count : 1) *
                                              sizeof *ids);
        for (size_t i = 0; ids && i < dec->fired_count; i++)
            ids[i] = dec->fired[i].id;
        if (!ids || !same_ids(e->fired, ids, dec->fired_count, a)) {
            text_add(&t, "%sexpected fired ", t.n ? "; " : "");
            text_seq(&t, e->fired);
            text_add(&t, ", got ");
            text_fired(&t, dec);
        }
    }
    if (e->obligations &&
        !same_ids(e->obligations, dec->obligations, dec->obligation_count, a)) {
        text_add(&t, "%sexpected obligations ", t.n ? "; " : "");
        text_seq(&t, e->obligations);
        text_add(&t, ", got ");
        text_list(&t, dec->obligations, dec->obligation_count);
    }
    if (e->has_queue) {
        bool same = (!e->queue && !dec->queue) ||
                    (e->queue && dec->queue && !strcmp(e->queue, dec->queue));
        if (!same)
            text_add(&t, "%sexpected queue %s, got %s", t.n ? "; " : "",
                     e->queue ? e->queue : "none", dec->queue ? dec->queue : "none");
    }
    if (!t.n)
        return NULL;
    return t.p ? t.p : "the decision differs from the expectation";
}

/* ---- Running a file ---------------------------------------------------------- */

typedef struct run {
    charter_test_report_fn report;
    void *user;
    size_t *passed, *failed;
    charter_decider *d;
} run;

static charter_status case_run(run *r, arena *a, const charter *c, const char *file,
                               const ch_yaml_node *item, int64_t time_ms,
                               charter_error *err)
{
    if (item->kind != CH_YAML_MAP) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, item,
                      "each test must be a mapping with name, request and expect");
        return CHARTER_E_SCHEMA;
    }
    const ch_yaml_node *name = NULL, *request = NULL, *expect_node = NULL;
    for (size_t i = 0; i < item->n; i++) {
        const char *k = item->keys[i]->str;
        if (!strcmp(k, "name"))
            name = item->values[i];
        else if (!strcmp(k, "request"))
            request = item->values[i];
        else if (!strcmp(k, "expect"))
            expect_node = item->values[i];
        else {
            ch_yaml_error(err, CHARTER_E_SCHEMA, item->keys[i],
                          "unknown key '%s' in a test; expected name, request or expect", k);
            return CHARTER_E_SCHEMA;
        }
    }
    if (!name || name->kind != CH_YAML_SCALAR || !request || !expect_node) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, item,
                      "a test needs a 'name' (string), a 'request' and an 'expect'; "
                      "this one has no %s",
                      !name || name->kind != CH_YAML_SCALAR ? "name"
                      : !request                            ? "request"
                                                            : "expect");
        return CHARTER_E_SCHEMA;
    }
    expect e;
    charter_status s = expect_parse(expect_node, &e, err);
    if (s != CHARTER_OK)
        return s;

    charter_test_result res = {.file = file, .line = item->line, .name = name->str};
    json_t *j = ch_yaml_to_json(request);
    if (!j)
        return run_fail(err, CHARTER_E_NOMEM, file, "out of memory converting a request");
    charter_request *req = NULL;
    charter_error rerr;
    memset(&rerr, 0, sizeof rerr);
    s = ch_request_from_json(j, &req, &rerr);
    json_decref(j);
    if (s == CHARTER_E_NOMEM)
        return run_fail(err, s, file, "out of memory reading a request");
    if (s != CHARTER_OK) {
        res.failure = arena_printf(a, "invalid request (line %u): %s", request->line,
                                   rerr.message);
    } else {
        const charter_decision *dec = NULL;
        s = charter_decide(r->d, c, req, time_ms, &dec, err);
        if (s != CHARTER_OK) {
            charter_request_free(req);
            return s;
        }
        res.failure = compare(a, &e, dec);
        res.passed = res.failure == NULL;
        charter_request_free(req);
    }
    if (!res.passed && !res.failure)
        res.failure = "the case failed";
    if (res.passed)
        (*r->passed)++;
    else
        (*r->failed)++;
    if (r->report)
        r->report(&res, r->user);
    return CHARTER_OK;
}

/* The charter a test file names, relative to the file. */
static charter_status charter_of(const char *file, const ch_yaml_node *v,
                                 charter **out, charter_error *err)
{
    if (v->kind != CH_YAML_SCALAR || !v->len) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, v,
                      "'charter' must be the path of the charter, relative to this file");
        return CHARTER_E_SCHEMA;
    }
    const char *slash = strrchr(file, '/');
    char path[4096];
    int n;
    if (v->str[0] == '/' || !slash)
        n = snprintf(path, sizeof path, "%s", v->str);
    else
        n = snprintf(path, sizeof path, "%.*s/%s", (int)(slash - file), file, v->str);
    if (n < 0 || (size_t)n >= sizeof path)
        return run_fail(err, CHARTER_E_IO, file, "the charter path is too long");
    return charter_load(path, out, err);
}

static charter_status file_run(run *r, const char *file, const charter *given,
                               charter_error *err)
{
    arena a;
    arena_init(&a, 0);
    charter *own = NULL;
    ch_yaml_node *root = NULL;
    charter_status s = ch_yaml_parse_file(&a, file, &root, err);
    if (s != CHARTER_OK)
        goto done;
    if (root->kind != CH_YAML_MAP) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, root,
                      "a test file must be a mapping with 'charter' and 'tests'");
        s = CHARTER_E_SCHEMA;
        goto done;
    }
    const ch_yaml_node *charter_node = NULL, *tests = NULL, *time_node = NULL;
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->str;
        if (!strcmp(k, "charter"))
            charter_node = root->values[i];
        else if (!strcmp(k, "tests"))
            tests = root->values[i];
        else if (!strcmp(k, "time"))
            time_node = root->values[i];
        else {
            ch_yaml_error(err, CHARTER_E_SCHEMA, root->keys[i],
                          "unknown key '%s' in a test file; expected charter, tests "
                          "or time", k);
            s = CHARTER_E_SCHEMA;
            goto done;
        }
    }
    if (!tests || tests->kind != CH_YAML_SEQ) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, tests ? tests : root,
                      "a test file needs 'tests', a list of cases");
        s = CHARTER_E_SCHEMA;
        goto done;
    }
    int64_t time_ms = 0;
    const char *ts = time_node ? time_node->str : default_time;
    if ((time_node && time_node->kind != CH_YAML_SCALAR) ||
        !ch_time_parse(ts, strlen(ts), &time_ms)) {
        ch_yaml_error(err, CHARTER_E_SCHEMA, time_node,
                      "'time' must be an RFC 3339 time such as 2026-11-24T10:00:00Z");
        s = CHARTER_E_SCHEMA;
        goto done;
    }
    const charter *c = given;
    if (!c) {
        if (!charter_node) {
            s = run_fail(err, CHARTER_E_SCHEMA, file,
                         "the test file names no 'charter' and none was given");
            goto done;
        }
        s = charter_of(file, charter_node, &own, err);
        if (s != CHARTER_OK)
            goto done;
        c = own;
    }
    for (size_t i = 0; i < tests->n; i++) {
        s = case_run(r, &a, c, file, tests->items[i], time_ms, err);
        if (s != CHARTER_OK)
            goto done;
    }
done:
    charter_release(own);
    arena_release(&a);
    return s;
}

static bool is_test_file(const char *name)
{
    static const char *const suffixes[] = {".test.yaml", ".test.yml"};
    size_t n = strlen(name);
    for (size_t i = 0; i < 2; i++) {
        size_t m = strlen(suffixes[i]);
        if (n > m && !strcmp(name + n - m, suffixes[i]))
            return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static charter_status dir_run(run *r, const char *dir, const charter *c,
                              charter_error *err)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return run_fail(err, CHARTER_E_IO, dir, "cannot open the test directory");
    size_t n = 0, cap = 0;
    char **names = NULL;
    charter_status s = CHARTER_OK;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (!is_test_file(de->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **p = realloc(names, ncap * sizeof *p);
            if (!p) {
                s = CHARTER_E_NOMEM;
                break;
            }
            names = p;
            cap = ncap;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n]) {
            s = CHARTER_E_NOMEM;
            break;
        }
        snprintf(names[n], len, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(dh);
    if (s != CHARTER_OK)
        run_fail(err, s, dir, "out of memory listing the test directory");
    else if (!n)
        s = run_fail(err, CHARTER_E_IO, dir,
                     "no *.test.yaml files in the directory");
    else
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && s == CHARTER_OK; i++)
        s = file_run(r, names[i], c, err);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return s;
}

charter_status charter_test_run(const char *path, const charter *c,
                                charter_test_report_fn report, void *user,
                                size_t *passed, size_t *failed, charter_error *err)
{
    size_t p0 = 0, f0 = 0;
    if (!passed)
        passed = &p0;
    if (!failed)
        failed = &f0;
    *passed = *failed = 0;
    if (!path)
        return run_fail(err, CHARTER_E_INVALID, NULL, "charter_test_run: path is NULL");
    struct stat st;
    if (stat(path, &st) != 0)
        return run_fail(err, CHARTER_E_IO, path, "cannot read the test file or directory");
    run r = {.report = report, .user = user, .passed = passed, .failed = failed};
    charter_status s = charter_decider_new(&r.d);
    if (s != CHARTER_OK)
        return run_fail(err, s, path, "out of memory");
    if (S_ISDIR(st.st_mode)) {
        /* Strip trailing slashes so reported paths read well. */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            dir[--n] = '\0';
        s = dir_run(&r, dir, c, err);
    } else {
        s = file_run(&r, path, c, err);
    }
    charter_decider_free(r.d);
    return s;
}
