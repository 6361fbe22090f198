/* canon.c - the canonical JSON of a charter and its version.
 *
 * The canonical form is the model written as JSON: every key always
 * present (null when not given, defaults filled in), keys sorted by byte
 * order, no whitespace, numbers in one spelling (integers without a
 * fraction, other numbers in the shortest form that reads back exactly),
 * strings with only '"', '\\' and control characters escaped. The model is
 * already order-normalised by the loader (sets and id-keyed lists sorted,
 * values in rank order), so the same charter split differently over files,
 * with other key order, quoting or comments, gives the same bytes. The
 * version is "sha256:" and the hex SHA-256 of those bytes. Keys added to
 * the format later (a queue's reminders, quorum, require_note,
 * self_approval, standing_approvals) are the exception to "always
 * present": each appears only when it differs from its default, so the
 * charters written before them keep their versions.
 * See "The version" in docs/charter-reference.md.
 */
#include "base/banned.h"

#include "charter/build.h"

#include "base/strbuf.h"

#include <jansson.h>
#include <math.h>
#include <sodium.h>

/* ---- Building the JSON tree ---------------------------------------------- */

/* Every builder returns a new reference or NULL on memory failure; a NULL
 * child makes its parent fail (jansson's *_new setters steal and check). */

static json_t *jstr(const char *s)
{
    return s ? json_stringn_nocheck(s, strlen(s)) : json_null();
}

static json_t *jnum(double d)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

static json_t *jstrs(const ch_strs *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < v->n; i++) {
        if (json_array_append_new(a, jstr(v->v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* A condition's source without surrounding white space (a block scalar's
 * final newline is not part of the condition). */
static json_t *jcond(const cel_program *p)
{
    if (!p)
        return json_null();
    const char *s = cel_program_source(p);
    if (!s)
        return json_null();
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1]))
        n--;
    while (n && strchr(" \t\r\n", *s)) {
        s++;
        n--;
    }
    return json_stringn_nocheck(s, n);
}

/* Sets key in o; on failure drops o and returns NULL. */
static json_t *put(json_t *o, const char *key, json_t *v)
{
    if (!o) {
        json_decref(v);
        return NULL;
    }
    if (!v || json_object_set_new(o, key, v) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *push(json_t *a, json_t *v)
{
    if (!a) {
        json_decref(v);
        return NULL;
    }
    if (!v || json_array_append_new(a, v) != 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static const char *effect_name(charter_effect e)
{
    return e == CHARTER_ALLOW ? "allow" : e == CHARTER_DENY ? "deny" : "escalate";
}

static json_t *canon_values(const charter *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->value_count; i++) {
        const ch_value *v = &c->values[i];
        json_t *o = json_object();
        o = put(o, "id", jstr(v->id));
        o = put(o, "statement", jstr(v->statement));
        o = put(o, "metrics", jstrs(&v->metrics));
        a = push(a, o);
    }
    return a;
}

static json_t *canon_goals(const charter *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->goal_count; i++) {
        const ch_goal *g = &c->goals[i];
        json_t *serves = json_array(), *outcomes = json_array(), *health = json_array();
        for (size_t j = 0; j < g->serves_count; j++)
            serves = push(serves, jstr(g->serves[j]->id));
        for (size_t j = 0; j < g->outcome_count; j++) {
            const ch_outcome *oc = &g->outcomes[j];
            json_t *o = json_object();
            o = put(o, "metric", jstr(oc->metric));
            o = put(o, "target", jnum(oc->target));
            o = put(o, "direction",
                    jstr(oc->direction == CH_DECREASE ? "decrease" : "increase"));
            outcomes = push(outcomes, o);
        }
        for (size_t j = 0; j < g->health_count; j++) {
            const ch_health *h = &g->health[j];
            json_t *o = json_object();
            o = put(o, "metric", jstr(h->metric));
            o = put(o, "min", h->has_min ? jnum(h->min) : json_null());
            o = put(o, "max", h->has_max ? jnum(h->max) : json_null());
            health = push(health, o);
        }
        json_t *o = json_object();
        o = put(o, "id", jstr(g->id));
        o = put(o, "objective", jstr(g->objective));
        o = put(o, "serves", serves);
        o = put(o, "outcomes", outcomes);
        o = put(o, "health", health);
        a = push(a, o);
    }
    return a;
}

static json_t *canon_stop_rule(const ch_stop_rule *r)
{
    json_t *o = json_object();
    o = put(o, "id", jstr(r->id));
    o = put(o, "max_actions_per_run", r->max_actions_per_run < 0
                                          ? json_null()
                                          : json_integer(r->max_actions_per_run));
    o = put(o, "max_actions_per_day", r->max_actions_per_day < 0
                                          ? json_null()
                                          : json_integer(r->max_actions_per_day));
    o = put(o, "max_spend_per_run",
            r->max_spend_per_run < 0 ? json_null() : jnum(r->max_spend_per_run));
    o = put(o, "max_spend_per_day",
            r->max_spend_per_day < 0 ? json_null() : jnum(r->max_spend_per_day));
    o = put(o, "spend", jcond(r->spend));
    o = put(o, "when", jcond(r->when));
    o = put(o, "message", jstr(r->message));
    return o;
}

static json_t *canon_workflows(const charter *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->workflow_count; i++) {
        const ch_workflow *w = &c->workflows[i];
        json_t *goals = json_array(), *readiness = json_object(), *stops = json_array();
        for (size_t j = 0; j < w->goal_count; j++)
            goals = push(goals, jstr(w->goals[j]->id));
        for (size_t j = 0; j < w->attr_count; j++)
            readiness = put(readiness, w->attrs[j].key, jstr(w->attrs[j].value));
        for (size_t j = 0; j < w->stop_rule_count; j++)
            stops = push(stops, canon_stop_rule(&w->stop_rules[j]));
        json_t *o = json_object();
        o = put(o, "id", jstr(w->id));
        o = put(o, "department", jstr(w->department));
        o = put(o, "owner", jstr(w->owner));
        o = put(o, "description", jstr(w->description));
        o = put(o, "autonomy", jstr(ch_autonomy_name(w->autonomy)));
        o = put(o, "default", jstr(effect_name(w->default_effect)));
        o = put(o, "goals", goals);
        o = put(o, "actions", jstrs(&w->actions));
        o = put(o, "escalate_to", jstr(w->escalate_to ? w->escalate_to->id : NULL));
        o = put(o, "readiness", readiness);
        o = put(o, "stop_rules", stops);
        a = push(a, o);
    }
    return a;
}

static json_t *canon_agents(const charter *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->agent_count; i++) {
        const ch_agent *ag = &c->agents[i];
        json_t *wfs = json_array();
        for (size_t j = 0; j < ag->workflow_count; j++)
            wfs = push(wfs, jstr(ag->workflows[j]->id));
        json_t *o = json_object();
        o = put(o, "id", jstr(ag->id));
        o = put(o, "department", jstr(ag->department));
        o = put(o, "owner", jstr(ag->owner));
        o = put(o, "description", jstr(ag->description));
        o = put(o, "workflows", wfs);
        a = push(a, o);
    }
    return a;
}

static json_t *canon_rule(const ch_rule *r)
{
    json_t *wfs = json_array();
    for (size_t j = 0; j < r->workflow_count; j++)
        wfs = push(wfs, jstr(r->workflows[j]->id));
    json_t *o = json_object();
    o = put(o, "id", jstr(r->id));
    o = put(o, "workflows", wfs);
    o = put(o, "actions", jstrs(&r->actions));
    o = put(o, "when", jcond(r->when));
    o = put(o, "protects", jstr(r->protects ? r->protects->id : NULL));
    o = put(o, "message", jstr(r->message));
    if (r->kind == CH_BOUNDARY) {
        o = put(o, "source", jstr(r->source));
    } else {
        o = put(o, "effect", jstr(effect_name(r->effect)));
        o = put(o, "obligations", jstrs(&r->obligations));
        o = put(o, "escalate_to", jstr(r->escalate_to ? r->escalate_to->id : NULL));
    }
    return o;
}

/* `notify` as written before there were lists: one webhook target is its
 * URL as a string; otherwise a list of {url, format}. */
static json_t *canon_notify(const ch_queue *q)
{
    static const char *const formats[] = {"webhook", "slack", "email"};
    if (q->notify_count == 0)
        return jstr(q->notify);
    if (q->notify_count == 1 && q->notify_targets[0].format == CH_NOTIFY_WEBHOOK)
        return jstr(q->notify_targets[0].url);
    json_t *a = json_array();
    for (size_t i = 0; i < q->notify_count; i++) {
        json_t *t = json_object();
        t = put(t, "url", jstr(q->notify_targets[i].url));
        t = put(t, "format", jstr(formats[q->notify_targets[i].format]));
        a = push(a, t);
    }
    return a;
}

static bool reminders_are_default(const ch_queue *q)
{
    static const double dflt[] = CH_REMINDERS_DEFAULT;
    if (!q->sla_ms)
        return q->reminder_count == 0;
    if (q->reminder_count != sizeof dflt / sizeof dflt[0])
        return false;
    for (size_t i = 0; i < q->reminder_count; i++)
        if (q->reminders[i] != dflt[i])
            return false;
    return true;
}

/* The keys added with approval policies and reminders, each only when it
 * differs from its default, so charters without them keep their versions. */
static json_t *canon_queue_policy(json_t *o, const ch_queue *q)
{
    if (!reminders_are_default(q)) {
        json_t *a = json_array();
        for (size_t i = 0; i < q->reminder_count; i++)
            a = push(a, jnum(q->reminders[i]));
        o = put(o, "reminders", a);
    }
    if (q->quorum != 1 || q->quorum_when) {
        json_t *quorum = json_integer(q->quorum);
        if (q->quorum_when) {
            json_t *m = json_object();
            m = put(m, "count", quorum);
            quorum = put(m, "when", jcond(q->quorum_when));
        }
        o = put(o, "quorum", quorum);
    }
    if (q->require_note != CH_NOTE_DENY)
        o = put(o, "require_note", jstr("always"));
    if (q->self_approval)
        o = put(o, "self_approval", json_true());
    if (q->grant_max_ms > 0) {
        json_t *m = json_object();
        m = put(m, "max_ms", json_integer(q->grant_max_ms));
        o = put(o, "standing_approvals", m);
    }
    return o;
}

static json_t *canon_escalation(const charter *c)
{
    static const char *const timeouts[] = {"deny", "allow", "next"};
    json_t *queues = json_array();
    for (size_t i = 0; i < c->queue_count; i++) {
        const ch_queue *q = &c->queues[i];
        json_t *ap = json_object();
        ap = put(ap, "roles", jstrs(&q->roles));
        ap = put(ap, "members", jstrs(&q->members));
        json_t *o = json_object();
        o = put(o, "id", jstr(q->id));
        o = put(o, "description", jstr(q->description));
        o = put(o, "approvers", ap);
        o = put(o, "sla_ms", json_integer(q->sla_ms));
        o = put(o, "on_timeout", jstr(timeouts[q->on_timeout]));
        o = put(o, "next", jstr(q->next ? q->next->id : NULL));
        o = put(o, "notify", canon_notify(q));
        o = canon_queue_policy(o, q);
        queues = push(queues, o);
    }
    json_t *o = json_object();
    o = put(o, "default", jstr(c->default_queue ? c->default_queue->id : NULL));
    o = put(o, "queues", queues);
    return o;
}

static json_t *canon_tree(const charter *c)
{
    json_t *org = json_object();
    org = put(org, "name", jstr(c->name));
    org = put(org, "purpose", jstr(c->purpose));
    org = put(org, "context", jstr(c->context));
    json_t *boundaries = json_array(), *rules = json_array();
    for (size_t i = 0; i < c->rule_count; i++) {
        const ch_rule *r = &c->rules[i];
        if (r->kind == CH_BOUNDARY)
            boundaries = push(boundaries, canon_rule(r));
        else
            rules = push(rules, canon_rule(r));
    }
    json_t *o = json_object();
    o = put(o, "charter", json_integer(1));
    o = put(o, "organization", org);
    o = put(o, "values", canon_values(c));
    o = put(o, "goals", canon_goals(c));
    o = put(o, "workflows", canon_workflows(c));
    o = put(o, "agents", canon_agents(c));
    o = put(o, "boundaries", boundaries);
    o = put(o, "rules", rules);
    o = put(o, "escalation", canon_escalation(c));
    /* Only when written, so charters without it keep their versions. */
    if (c->readiness.is_set) {
        json_t *r = json_object();
        r = put(r, "min_cases", json_integer(c->readiness.min_cases));
        r = put(r, "promote_approval", jnum(c->readiness.promote_approval));
        r = put(r, "boundary_rise", jnum(c->readiness.boundary_rise));
        o = put(o, "readiness", r);
    }
    return o;
}

/* ---- Writing it deterministically ---------------------------------------- */

static void put_str(strbuf *b, const char *s, size_t n)
{
    strbuf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        strbuf_add(b, s + run, i - run);
        run = i + 1;
        char esc[8];
        switch (ch) {
        case '"': strbuf_add(b, "\\\"", 2); break;
        case '\\': strbuf_add(b, "\\\\", 2); break;
        case '\n': strbuf_add(b, "\\n", 2); break;
        case '\r': strbuf_add(b, "\\r", 2); break;
        case '\t': strbuf_add(b, "\\t", 2); break;
        case '\b': strbuf_add(b, "\\b", 2); break;
        case '\f': strbuf_add(b, "\\f", 2); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            strbuf_add(b, esc, 6);
        }
    }
    strbuf_add(b, s + run, n - run);
    strbuf_add(b, "\"", 1);
}

/* The shortest %g spelling that reads back as the same double. */
static void put_real(strbuf *b, double d)
{
    char s[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, d);
        if (strtod(s, NULL) == d)
            break;
    }
    strbuf_add(b, s, strlen(s));
}

static int cmp_key(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The tree has the fixed, shallow shape built above. */
static void put_json(strbuf *b, const json_t *j)
{
    char num[32];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(j);
        const char **keys = malloc((n ? n : 1) * sizeof *keys);
        if (!keys) {
            b->failed = true;
            return;
        }
        size_t k = 0;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v) keys[k++] = key;
        qsort(keys, n, sizeof *keys, cmp_key);
        strbuf_add(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf_add(b, ",", 1);
            put_str(b, keys[i], strlen(keys[i]));
            strbuf_add(b, ":", 1);
            put_json(b, json_object_get(j, keys[i]));
        }
        strbuf_add(b, "}", 1);
        free(keys);
        break;
    }
    case JSON_ARRAY:
        strbuf_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                strbuf_add(b, ",", 1);
            put_json(b, json_array_get(j, i));
        }
        strbuf_add(b, "]", 1);
        break;
    case JSON_STRING:
        put_str(b, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
        strbuf_add(b, num, strlen(num));
        break;
    case JSON_REAL:
        put_real(b, json_real_value(j));
        break;
    case JSON_TRUE:
        strbuf_add(b, "true", 4);
        break;
    case JSON_FALSE:
        strbuf_add(b, "false", 5);
        break;
    case JSON_NULL:
        strbuf_add(b, "null", 4);
        break;
    }
}

charter_status ch_canon_build(charter *c, charter_error *err)
{
    json_t *tree = canon_tree(c);
    strbuf b = {0};
    if (tree)
        put_json(&b, tree);
    json_decref(tree);
    char *canonical = NULL, *version = NULL;
    if (tree && !b.failed && b.p) {
        /* SHA-256 is pure computation in libsodium; it needs no sodium_init. */
        unsigned char hash[crypto_hash_sha256_BYTES];
        char hex[crypto_hash_sha256_BYTES * 2 + 1];
        crypto_hash_sha256(hash, (const unsigned char *)b.p, b.n);
        sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
        canonical = arena_strndup(&c->mem, b.p, b.n);
        version = arena_printf(&c->mem, "sha256:%s", hex);
    }
    free(b.p);
    if (!canonical || !version) {
        ch_yaml_error(err, CHARTER_E_NOMEM, NULL, "out of memory writing the canonical form");
        return CHARTER_E_NOMEM;
    }
    c->canonical = canonical;
    c->canonical_len = b.n;
    c->version = version;
    return CHARTER_OK;
}
