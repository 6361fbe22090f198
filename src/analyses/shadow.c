/* shadow.c - shadow agents (charter_shadow): AI-service traffic from
 * sources that are not registered agents, and decision requests from
 * unregistered agents in a ledger.
 *
 * A log line counts when its destination host is on the list of AI
 * services (the built-in list below, extended with --hosts) and its source
 * is neither an agent id of the charter nor a known source the caller
 * names. Sources are compared case-insensitively. Counting keeps one record
 * per (source, service), so memory does not grow with the logs' length.
 */
#include "base/banned.h"

#include "charter_analyses.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>

#include "analyses/egress.h"
#include "base/jspan.h"
#include "analyses/render.h"
#include "base/limits.h"
#include "charter/model.h"
#include "charter_ledger.h"

/* Model APIs and AI platforms. "*" matches any run of characters (one
 * star per pattern). Documented in docs/analyses.md. */
static const char *const builtin_hosts[][2] = {
    {"api.openai.com", "OpenAI"},
    {"*.openai.azure.com", "Azure OpenAI"},
    {"api.anthropic.com", "Anthropic"},
    {"generativelanguage.googleapis.com", "Google Gemini"},
    {"*aiplatform.googleapis.com", "Google Vertex AI"},
    {"bedrock-runtime.*.amazonaws.com", "Amazon Bedrock"},
    {"api.mistral.ai", "Mistral"},
    {"api.cohere.ai", "Cohere"},
    {"api.cohere.com", "Cohere"},
    {"api.groq.com", "Groq"},
    {"api.together.xyz", "Together AI"},
    {"api.perplexity.ai", "Perplexity"},
    {"api.deepseek.com", "DeepSeek"},
    {"openrouter.ai", "OpenRouter"},
    {"api.x.ai", "xAI"},
    {"api-inference.huggingface.co", "Hugging Face"},
    {"router.huggingface.co", "Hugging Face"},
    {"api.fireworks.ai", "Fireworks AI"},
    {"api.replicate.com", "Replicate"},
    {"api.ai21.com", "AI21 Labs"},
};

typedef struct host_rule {
    char *pattern, *service;
} host_rule;

typedef struct shadow_run {
    const charter *c;
    const charter_shadow_options *opt;
    host_rule *rules;
    size_t nrules, cap;
    json_t *found;        /* "source\x1fservice" -> record */
    json_t *registered;   /* same, for registered sources */
    json_t *logs;
    json_t *ledger;       /* agent -> record */
} shadow_run;

static bool glob_match(const char *pat, const char *s)
{
    const char *star = strchr(pat, '*');
    if (!star)
        return !strcmp(pat, s);
    size_t pre = (size_t)(star - pat), post = strlen(star + 1), n = strlen(s);
    return n >= pre + post && !strncmp(s, pat, pre) && !strcmp(s + n - post, star + 1);
}

static const char *service_of(const shadow_run *sr, const char *host)
{
    /* Caller's hosts first, so a file can rename a built-in service. */
    for (size_t i = 0; i < sr->nrules; i++)
        if (glob_match(sr->rules[i].pattern, host))
            return sr->rules[i].service;
    for (size_t i = 0; i < sizeof builtin_hosts / sizeof builtin_hosts[0]; i++)
        if (glob_match(builtin_hosts[i][0], host))
            return builtin_hosts[i][1];
    return NULL;
}

static bool is_registered(const shadow_run *sr, const char *source)
{
    for (size_t i = 0; i < sr->c->agent_count; i++)
        if (!strcasecmp(sr->c->agents[i].id, source))
            return true;
    for (size_t i = 0; sr->opt && i < sr->opt->known_source_count; i++)
        if (!strcasecmp(sr->opt->known_sources[i], source))
            return true;
    return false;
}

static char *dup_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        for (size_t i = 0; i < n; i++)
            p[i] = (char)tolower((unsigned char)s[i]);
        p[n] = '\0';
    }
    return p;
}

/* Reads the next line of f into buf (cap bytes, CHARTER_MAX_LOG_LINE_BYTES
 * + 2) without its line break. A longer line is consumed to its end and
 * returned empty with *too_long set. False at the end of the file. */
static bool next_line(FILE *f, char *buf, size_t cap, size_t *len, bool *too_long)
{
    *too_long = false;
    if (!fgets(buf, (int)cap, f))
        return false;
    size_t n = strlen(buf);
    if (n && buf[n - 1] != '\n' && !feof(f)) {
        int ch;
        while ((ch = fgetc(f)) != EOF && ch != '\n')
            ;
        *too_long = true;
        n = 0;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *len = n;
    return true;
}

static charter_status read_hosts(shadow_run *sr, const char *path, charter_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return base_fail(err, CHARTER_E_IO, "cannot open hosts file '%s': %s", path,
                       strerror(errno));
    char *line = malloc(CHARTER_MAX_LOG_LINE_BYTES + 2);
    size_t len;
    bool too_long;
    unsigned lineno = 0;
    charter_status st = line ? CHARTER_OK : base_fail(err, CHARTER_E_NOMEM, "out of memory");
    while (st == CHARTER_OK &&
           next_line(f, line, CHARTER_MAX_LOG_LINE_BYTES + 2, &len, &too_long)) {
        lineno++;
        if (too_long) {
            st = base_fail(err, CHARTER_E_LIMIT, "%s:%u: line longer than %u bytes", path, lineno,
                         CHARTER_MAX_LOG_LINE_BYTES);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue;
        char *e = p;
        while (*e && !isspace((unsigned char)*e))
            e++;
        size_t plen = (size_t)(e - p);
        char *svc = e;
        while (isspace((unsigned char)*svc))
            svc++;
        size_t slen = strlen(svc);
        while (slen && isspace((unsigned char)svc[slen - 1]))
            slen--;
        const char *star = memchr(p, '*', plen);
        if (star && memchr(star + 1, '*', plen - (size_t)(star - p) - 1)) {
            st = base_fail(err, CHARTER_E_INVALID, "%s:%u: expected a host pattern with at most "
                         "one '*', found '%.*s'", path, lineno, (int)plen, p);
            if (err)
                snprintf(err->file, sizeof err->file, "%s", path), err->line = lineno;
            break;
        }
        if (sr->nrules == sr->cap) {
            size_t nc = sr->cap ? sr->cap * 2 : 16;
            host_rule *v = realloc(sr->rules, nc * sizeof *v);
            if (!v) {
                st = base_fail(err, CHARTER_E_NOMEM, "out of memory");
                break;
            }
            sr->rules = v;
            sr->cap = nc;
        }
        host_rule *r = &sr->rules[sr->nrules];
        r->pattern = dup_range(p, plen);
        r->service = slen ? malloc(slen + 1) : dup_range(p, plen);
        if (r->service && slen) {
            memcpy(r->service, svc, slen);
            r->service[slen] = '\0';
        }
        if (!r->pattern || !r->service) {
            free(r->pattern);
            free(r->service);
            st = base_fail(err, CHARTER_E_NOMEM, "out of memory");
            break;
        }
        sr->nrules++;
    }
    free(line);
    fclose(f);
    return st;
}

static json_t *time_json(int64_t ms)
{
    char buf[40];
    if (!ms)
        return json_null();
    charter_time_format(ms, buf);
    return json_string(buf);
}

/* Adds one request to a (key -> record) table. */
static void count_into(json_t *table, const char *key, const char *source,
                       const char *service, const char *host, int64_t t)
{
    json_t *r = json_object_get(table, key);
    if (!r) {
        r = json_pack("{s:s,s:s,s:{},s:I,s:I,s:i}", "source", source, "service", service,
                      "hosts", "first_ms", (json_int_t)t, "last_ms", (json_int_t)t,
                      "requests", 0);
        json_object_set_new(table, key, r);
    }
    if (!r)
        return;
    json_object_set_new(json_object_get(r, "hosts"), host, json_true());
    json_int_t first = json_integer_value(json_object_get(r, "first_ms"));
    json_int_t last = json_integer_value(json_object_get(r, "last_ms"));
    if (t && (!first || t < first))
        json_object_set_new(r, "first_ms", json_integer(t));
    if (t > last)
        json_object_set_new(r, "last_ms", json_integer(t));
    json_object_set_new(r, "requests",
                        json_integer(json_integer_value(json_object_get(r, "requests")) + 1));
}

static charter_status read_log(shadow_run *sr, const char *path, charter_error *err)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return base_fail(err, CHARTER_E_IO, "cannot open log '%s': %s", path, strerror(errno));
    char *line = malloc(CHARTER_MAX_LOG_LINE_BYTES + 2);
    size_t n;
    bool too_long;
    json_int_t lines = 0, recognized = 0, ai = 0, shadow = 0;
    while (line && next_line(f, line, CHARTER_MAX_LOG_LINE_BYTES + 2, &n, &too_long)) {
        if (!n && !too_long)
            continue;
        lines++;
        egress_line el;
        if (too_long || !egress_parse(line, n, &el))
            continue;
        recognized++;
        const char *svc = service_of(sr, el.host);
        if (!svc)
            continue;
        ai++;
        char key[600];
        snprintf(key, sizeof key, "%s\x1f%s", el.source, svc);
        bool known = is_registered(sr, el.source);
        shadow += !known;
        count_into(known ? sr->registered : sr->found, key, el.source, svc, el.host,
                   el.time_ms);
    }
    bool failed = !line || ferror(f);
    free(line);
    if (f != stdin)
        fclose(f);
    if (failed)
        return base_fail(err, CHARTER_E_IO, "cannot read log '%s'", path);
    json_array_append_new(sr->logs, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "path", path,
                                              "lines", lines, "recognized", recognized,
                                              "unrecognized", lines - recognized,
                                              "ai_requests", ai, "shadow_requests", shadow));
    return CHARTER_OK;
}

/* ---- Ledger: decisions of unregistered agents --------------------------------- */

static int shadow_entry(const charter_ledger_entry *e, void *user)
{
    shadow_run *sr = user;
    if (strcmp(e->kind, "decision"))
        return 0;
    jspan payload = {e->payload, e->payload_len}, ans, req, v;
    if (!jspan_get(payload, "answer", &ans) || !jspan_get(ans, "reason", &v) ||
        !jspan_str_eq(v, "unknown_agent") || !jspan_get(payload, "request", &req))
        return 0;
    char abuf[256], wbuf[256], agent[256], wf[256];
    const char *s;
    size_t n;
    if (!jspan_get(req, "agent", &v) || !jspan_str(v, abuf, sizeof abuf, &s, &n) ||
        n >= sizeof agent)
        return 0;
    memcpy(agent, s, n);
    agent[n] = '\0';
    wf[0] = '\0';
    if (jspan_get(req, "workflow", &v) && jspan_str(v, wbuf, sizeof wbuf, &s, &n) &&
        n < sizeof wf) {
        memcpy(wf, s, n);
        wf[n] = '\0';
    }
    double t = (double)e->time_ms;
    if (jspan_get(payload, "time_ms", &v))
        jspan_num(v, &t);
    json_t *r = json_object_get(sr->ledger, agent);
    if (!r) {
        r = json_pack("{s:s,s:i,s:I,s:I,s:{}}", "agent", agent, "requests", 0,
                      "first_ms", (json_int_t)t, "last_ms", (json_int_t)t, "workflows");
        json_object_set_new(sr->ledger, agent, r);
    }
    if (!r)
        return 1;
    json_object_set_new(r, "requests",
                        json_integer(json_integer_value(json_object_get(r, "requests")) + 1));
    if ((json_int_t)t > json_integer_value(json_object_get(r, "last_ms")))
        json_object_set_new(r, "last_ms", json_integer((json_int_t)t));
    if (*wf)
        json_object_set_new(json_object_get(r, "workflows"), wf, json_true());
    return 0;
}

/* ---- Output --------------------------------------------------------------------- */

/* Records as a list, most requests first, then by key; times as RFC 3339. */
static json_t *records(json_t *table, const char *set_key)
{
    json_t *list = json_array(), *r;
    const char *key;
    json_object_foreach(table, key, r) {
        json_t *o = json_deep_copy(r);
        json_object_set_new(o, "first_seen",
                            time_json(json_integer_value(json_object_get(r, "first_ms"))));
        json_object_set_new(o, "last_seen",
                            time_json(json_integer_value(json_object_get(r, "last_ms"))));
        json_object_del(o, "first_ms");
        json_object_del(o, "last_ms");
        json_object_set_new(o, set_key,
                            an_sorted_keys(json_incref(json_object_get(r, set_key))));
        json_int_t n = json_integer_value(json_object_get(r, "requests"));
        size_t at = json_array_size(list);
        for (size_t i = 0; i < json_array_size(list); i++) {
            const json_t *other = json_array_get(list, i);
            json_int_t m = json_integer_value(json_object_get(other, "requests"));
            if (n > m) {
                at = i;
                break;
            }
        }
        json_array_insert_new(list, at, o);
    }
    return list;
}

charter_status charter_shadow(const charter *c, const char *const *paths, size_t n,
                              const charter_shadow_options *opt, char **json_out,
                              charter_error *err)
{
    if (!c || (!paths && n) || !json_out)
        return base_fail(err, CHARTER_E_INVALID,
                       "charter_shadow: a charter, the logs and an output are required");
    *json_out = NULL;
    shadow_run sr = {.c = c, .opt = opt, .found = json_object(), .registered = json_object(),
                     .logs = json_array(), .ledger = json_object()};
    charter_status st = CHARTER_OK;
    if (!sr.found || !sr.registered || !sr.logs || !sr.ledger)
        st = base_fail(err, CHARTER_E_NOMEM, "out of memory");
    if (st == CHARTER_OK && opt && opt->hosts_path)
        st = read_hosts(&sr, opt->hosts_path, err);
    for (size_t i = 0; st == CHARTER_OK && i < n; i++)
        st = read_log(&sr, paths[i], err);
    if (st == CHARTER_OK && opt && opt->ledger_path)
        st = charter_ledger_scan(opt->ledger_path, INT64_MIN, 0, shadow_entry, &sr, err);
    if (st == CHARTER_OK) {
        json_t *r = json_object();
        json_object_set_new(r, "analysis", json_string("shadow"));
        json_object_set_new(r, "organization", json_string(c->name));
        json_object_set_new(r, "charter_version", json_string(c->version));
        json_object_set_new(r, "services", json_integer((json_int_t)(sr.nrules +
                            sizeof builtin_hosts / sizeof builtin_hosts[0])));
        json_object_set_new(r, "logs", json_incref(sr.logs));
        json_object_set_new(r, "shadow", records(sr.found, "hosts"));
        json_object_set_new(r, "registered", records(sr.registered, "hosts"));
        json_object_set_new(r, "ledger", opt && opt->ledger_path
                                              ? records(sr.ledger, "workflows") : json_null());
        *json_out = an_json_dump(r, AN_JSON_COMPACT);
        json_decref(r);
        if (!*json_out)
            st = base_fail(err, CHARTER_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < sr.nrules; i++) {
        free(sr.rules[i].pattern);
        free(sr.rules[i].service);
    }
    free(sr.rules);
    json_decref(sr.found);
    json_decref(sr.registered);
    json_decref(sr.logs);
    json_decref(sr.ledger);
    return st;
}

/* ---- Printing ------------------------------------------------------------------- */

static void print_records(const json_t *list, const char *who, const char *set_key,
                          charter_format fmt, strbuf *out)
{
    const char *head[] = {who, set_key[0] == 'h' ? "service" : "workflows",
                          set_key[0] == 'h' ? "hosts" : "requests", "first seen", "last seen",
                          set_key[0] == 'h' ? "requests" : ""};
    size_t cols = set_key[0] == 'h' ? 6 : 5;
    an_table t;
    an_table_init(&t, cols, head);
    const json_t *r;
    size_t i;
    json_array_foreach(list, i, r) {
        char set[512], num[32];
        an_join(json_object_get(r, set_key), set, sizeof set);
        an_fmt_num(json_object_get(r, "requests"), num);
        const char *first = json_string_value(json_object_get(r, "first_seen"));
        const char *last = json_string_value(json_object_get(r, "last_seen"));
        const char *hrow[] = {an_jstr(r, "source"), an_jstr(r, "service"), set,
                              first ? first : "-", last ? last : "-", num};
        const char *lrow[] = {an_jstr(r, "agent"), *set ? set : "-", num, first ? first : "-",
                              last ? last : "-"};
        an_table_row(&t, cols == 6 ? hrow : lrow);
    }
    an_table_print(&t, fmt, out);
    an_table_release(&t);
}

charter_status an_shadow_render(const json_t *r, charter_format fmt, strbuf *out)
{
    const json_t *logs = json_object_get(r, "logs"), *l;
    size_t i;
    strbuf_printf(out, "%sShadow agents: %s\n", fmt == CHARTER_FORMAT_MD ? "# " : "",
                  an_jstr(r, "organization"));
    if (fmt == CHARTER_FORMAT_MD)
        strbuf_puts(out, "\n");
    json_array_foreach(logs, i, l)
        strbuf_printf(out, "%s%s: %lld lines, %lld unrecognized, %lld to AI services, %lld "
                      "from unregistered sources\n", fmt == CHARTER_FORMAT_MD ? "- " : "",
                      an_jstr(l, "path"), an_jint(l, "lines"), an_jint(l, "unrecognized"),
                      an_jint(l, "ai_requests"), an_jint(l, "shadow_requests"));
    const json_t *sh = json_object_get(r, "shadow");
    an_heading(out, fmt, "AI-service traffic from sources that are not registered agents");
    if (json_array_size(sh))
        print_records(sh, "source", "hosts", fmt, out);
    else
        strbuf_puts(out, "None.\n");
    const json_t *reg = json_object_get(r, "registered");
    if (json_array_size(reg)) {
        an_heading(out, fmt, "AI-service traffic from registered agents (for comparison)");
        print_records(reg, "source", "hosts", fmt, out);
    }
    const json_t *led = json_object_get(r, "ledger");
    if (json_is_array(led)) {
        an_heading(out, fmt, "Decision requests from unregistered agents (ledger)");
        if (json_array_size(led))
            print_records(led, "agent", "workflows", fmt, out);
        else
            strbuf_puts(out, "None.\n");
    }
    return out->failed ? CHARTER_E_NOMEM : CHARTER_OK;
}
