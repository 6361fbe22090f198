/* authzen_map.c - AuthZEN evaluations to Charter decision requests and
 * Charter answers back to AuthZEN decisions (see authzen.h).
 *
 * The mapping is deliberately plain so a policy author can predict it: the
 * AuthZEN subject is the acting agent, the resource type names the
 * workflow, the action name is the action, the action's properties are its
 * input and the resource is what the action affects. Everything the caller
 * sent also travels, verbatim, under context.authzen, so a CEL condition can
 * read any property and the ledger records the evaluation as it was asked.
 */
#include "base/banned.h"

#include "server/authzen.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void say(char msg[AUTHZEN_MSG_SIZE], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(char msg[AUTHZEN_MSG_SIZE], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, AUTHZEN_MSG_SIZE, fmt, ap);
    va_end(ap);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* A member that may be absent: null counts as absent. */
static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* A required non-empty string `where.key`, or NULL with msg. */
static const char *need_string(const json_t *obj, const char *where, const char *key,
                               char msg[AUTHZEN_MSG_SIZE])
{
    const json_t *v = member(obj, key);
    if (!v) {
        say(msg, "'%s.%s' is required", where, key);
        return NULL;
    }
    if (!json_is_string(v) || !json_string_length(v)) {
        say(msg, "'%s.%s' must be a non-empty string, found %s", where, key,
            json_is_string(v) ? "an empty string" : json_kind(v));
        return NULL;
    }
    return json_string_value(v);
}

/* An optional object `where.key` as a new reference ({} when absent), or
 * NULL with msg. */
static json_t *optional_object(const json_t *obj, const char *where, const char *key,
                               char msg[AUTHZEN_MSG_SIZE])
{
    const json_t *v = member(obj, key);
    if (!v)
        return json_object();
    if (!json_is_object(v)) {
        if (where)
            say(msg, "'%s.%s' must be an object, found %s", where, key, json_kind(v));
        else
            say(msg, "'%s' must be an object, found %s", key, json_kind(v));
        return NULL;
    }
    return json_deep_copy(v);
}

/* A required entity (subject, resource, action) as an object, or NULL. */
static const json_t *need_entity(const json_t *ev, const char *key,
                                 char msg[AUTHZEN_MSG_SIZE])
{
    const json_t *v = member(ev, key);
    if (!v) {
        say(msg, "'%s' is required", key);
        return NULL;
    }
    if (!json_is_object(v)) {
        say(msg, "'%s' must be an object, found %s", key, json_kind(v));
        return NULL;
    }
    return v;
}

/* {type, id, properties} of a subject or resource, checked; or NULL. */
static json_t *typed_entity(const json_t *ev, const char *key, char msg[AUTHZEN_MSG_SIZE])
{
    const json_t *e = need_entity(ev, key, msg);
    if (!e)
        return NULL;
    const char *type = need_string(e, key, "type", msg);
    const char *id = type ? need_string(e, key, "id", msg) : NULL;
    if (!id)
        return NULL;
    json_t *props = optional_object(e, key, "properties", msg);
    if (!props)
        return NULL;
    return json_pack("{s:s,s:s,s:o}", "type", type, "id", id, "properties", props);
}

static json_t *action_entity(const json_t *ev, char msg[AUTHZEN_MSG_SIZE])
{
    const json_t *a = need_entity(ev, "action", msg);
    if (!a)
        return NULL;
    const char *name = need_string(a, "action", "name", msg);
    if (!name)
        return NULL;
    json_t *props = optional_object(a, "action", "properties", msg);
    if (!props)
        return NULL;
    return json_pack("{s:s,s:o}", "name", name, "properties", props);
}

json_t *authzen_request_build(const json_t *evaluation, char msg[AUTHZEN_MSG_SIZE])
{
    msg[0] = '\0';
    if (!json_is_object(evaluation)) {
        say(msg, "an evaluation must be an object, found %s", json_kind(evaluation));
        return NULL;
    }
    json_t *subject = NULL, *resource = NULL, *action = NULL, *context = NULL;
    json_t *req = NULL;
    if (!(subject = typed_entity(evaluation, "subject", msg)) ||
        !(action = action_entity(evaluation, msg)) ||
        !(resource = typed_entity(evaluation, "resource", msg)) ||
        !(context = optional_object(evaluation, NULL, "context", msg)))
        goto done;
    if (json_object_get(context, "authzen")) {
        say(msg, "'context.authzen' is reserved: Charter puts the evaluation's "
                 "subject, resource and action there");
        goto done;
    }
    json_t *authzen = json_pack("{s:O,s:O,s:O}", "subject", subject, "resource", resource,
                                "action", action);
    if (!authzen || json_object_set_new(context, "authzen", authzen))
        goto nomem;
    req = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O}",
                    "agent", json_object_get(subject, "id"),
                    "workflow", json_object_get(resource, "type"),
                    "action", json_object_get(action, "name"),
                    "input", json_object_get(action, "properties"),
                    "subject", resource,
                    "context", context);
    if (!req)
        goto nomem;
    goto done;
nomem:
    say(msg, AUTHZEN_NOMEM);
done:
    json_decref(subject);
    json_decref(resource);
    json_decref(action);
    json_decref(context);
    return req;
}

json_t *authzen_merge(const json_t *batch, const json_t *item)
{
    static const char *const keys[] = {"subject", "action", "resource", "context"};
    json_t *out = json_deep_copy(item);
    if (!out)
        return NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *d = member(batch, keys[i]);
        if (member(out, keys[i]) || !d)
            continue;
        if (json_object_set_new(out, keys[i], json_deep_copy(d))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

bool authzen_semantic_parse(const json_t *batch, authzen_semantic *out,
                            char msg[AUTHZEN_MSG_SIZE])
{
    static const char *const names[] = {"execute_all", "deny_on_first_deny",
                                        "permit_on_first_permit"};
    *out = AUTHZEN_EXECUTE_ALL;
    const json_t *options = member(batch, "options");
    if (!options)
        return true;
    if (!json_is_object(options)) {
        say(msg, "'options' must be an object, found %s", json_kind(options));
        return false;
    }
    const json_t *sem = member(options, "evaluations_semantic");
    if (!sem)
        return true;
    for (size_t i = 0; json_is_string(sem) && i < sizeof names / sizeof names[0]; i++) {
        if (!strcmp(json_string_value(sem), names[i])) {
            *out = (authzen_semantic)i;
            return true;
        }
    }
    if (json_is_string(sem))
        say(msg, "'options.evaluations_semantic' must be one of execute_all, "
                 "deny_on_first_deny, permit_on_first_permit; found '%.64s'",
            json_string_value(sem));
    else
        say(msg, "'options.evaluations_semantic' must be a string, found %s",
            json_kind(sem));
    return false;
}

bool authzen_batch_stops(authzen_semantic sem, bool decision)
{
    return (sem == AUTHZEN_DENY_ON_FIRST_DENY && !decision) ||
           (sem == AUTHZEN_PERMIT_ON_FIRST_PERMIT && decision);
}

/* Charter's obligation names as obligations-profile objects. */
static json_t *obligation_list(const json_t *names)
{
    json_t *list = json_array();
    size_t i;
    const json_t *name;
    json_array_foreach(names, i, name) {
        char id[32];
        snprintf(id, sizeof id, "obl-%zu", i + 1);
        json_t *o = json_pack("{s:s,s:s,s:{s:O}}", "id", id, "type", "custom",
                              "properties", "name", name);
        if (!list || json_array_append_new(list, o)) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* Copies answer[from] into ctx[to] when the answer has it. */
static int carry(json_t *ctx, const char *to, const json_t *answer, const char *from)
{
    json_t *v = json_object_get(answer, from);
    return v ? json_object_set(ctx, to, v) : 0;
}

json_t *authzen_response_build(const json_t *answer)
{
    const char *effect = json_string_value(json_object_get(answer, "decision"));
    bool allowed = effect && !strcmp(effect, "allow");
    bool escalated = effect && !strcmp(effect, "escalate");
    json_t *ctx = json_object();
    if (!ctx)
        return NULL;
    const json_t *obligations = json_object_get(answer, "obligations");
    bool has_obligations = json_array_size(obligations) > 0;
    const char *explanation = json_string_value(json_object_get(answer, "explanation"));
    int bad = carry(ctx, "evaluation_id", answer, "decision_id") |
              carry(ctx, "evaluated_at", answer, "time") |
              carry(ctx, "reason", answer, "reason") |
              carry(ctx, "charter_decision", answer, "decision");
    if (explanation)
        bad |= json_object_set_new(ctx, "reason_admin", json_pack("{s:s}", "en", explanation));
    bad |= carry(ctx, "fired", answer, "fired") | carry(ctx, "values", answer, "values") |
           carry(ctx, "charter_version", answer, "charter_version") |
           carry(ctx, "shadow", answer, "shadow");
    /* An allow is conditional on its obligations (the PEP must deny when it
     * cannot fulfil one); an escalation's apply only once a person approves,
     * so they travel with the ticket instead of binding the PEP now. */
    if (allowed && has_obligations)
        bad |= json_object_set_new(ctx, "obligations", obligation_list(obligations));
    if (escalated) {
        const json_t *esc = json_object_get(answer, "escalation");
        json_t *e = json_pack("{s:O?,s:O?,s:O?}", "ticket",
                              json_object_get(answer, "decision_id"), "queue",
                              json_object_get(esc, "queue"), "deadline",
                              json_object_get(esc, "deadline"));
        if (e && has_obligations)
            bad |= json_object_set_new(e, "obligations", obligation_list(obligations));
        bad |= json_object_set_new(ctx, "escalation", e);
    }
    json_t *out = bad ? NULL : json_pack("{s:b,s:o}", "decision", allowed, "context", ctx);
    if (!out && bad)
        json_decref(ctx);
    return out;
}

json_t *authzen_response_error(int status, const char *message)
{
    return json_pack("{s:b,s:{s:{s:i,s:s}}}", "decision", 0, "context", "error", "status",
                     status, "message", message);
}

/* A Host header: a name or IPv4 address of letters, digits, '.', '-' and
 * '_', or an IPv6 literal in brackets, then an optional ':' and port. */
static bool host_is_valid(const char *h)
{
    size_t n = strlen(h), i = 0;
    if (!n || n > 255)
        return false;
    if (h[0] == '[') {
        for (i = 1; i < n && h[i] != ']'; i++)
            if (!strchr("0123456789abcdefABCDEF:.", h[i]))
                return false;
        if (i == n || i == 1)
            return false;
        i++;
    } else {
        for (; i < n && h[i] != ':'; i++)
            if (!(h[i] >= 'a' && h[i] <= 'z') && !(h[i] >= 'A' && h[i] <= 'Z') &&
                !(h[i] >= '0' && h[i] <= '9') && !strchr(".-_", h[i]))
                return false;
        if (i == 0)
            return false;
    }
    if (i == n)
        return true;
    if (h[i] != ':' || i + 1 == n || n - i - 1 > 5)
        return false;
    for (i++; i < n; i++)
        if (h[i] < '0' || h[i] > '9')
            return false;
    return true;
}

bool authzen_base_url(const char *host, const char *proto, const char *fallback,
                      char *out, size_t n, char msg[AUTHZEN_MSG_SIZE])
{
    const char *h = host ? host : fallback;
    if (!h || !host_is_valid(h)) {
        say(msg, "the Host header must be a host name or address with an optional "
                 "port, found '%.64s'", h ? h : "");
        return false;
    }
    const char *scheme = "http";
    if (proto) {
        if (strcmp(proto, "http") && strcmp(proto, "https")) {
            say(msg, "X-Forwarded-Proto must be http or https, found '%.32s'", proto);
            return false;
        }
        scheme = proto;
    }
    int w = snprintf(out, n, "%s://%s", scheme, h);
    if (w < 0 || (size_t)w >= n) {
        say(msg, "the Host header is too long");
        return false;
    }
    return true;
}

json_t *authzen_metadata_build(const char *base_url)
{
    char eval[512], evals[512];
    snprintf(eval, sizeof eval, "%s/access/v1/evaluation", base_url);
    snprintf(evals, sizeof evals, "%s/access/v1/evaluations", base_url);
    /* Search endpoints are not offered: their absence tells a PEP so. */
    return json_pack("{s:s,s:s,s:s,s:[s]}", "policy_decision_point", base_url,
                     "access_evaluation_endpoint", eval, "access_evaluations_endpoint",
                     evals, "supported_obligations", "custom");
}
