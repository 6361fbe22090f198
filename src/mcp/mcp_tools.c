/* mcp_tools.c - the MCP tools: check_action, await_approval, report_outcome,
 * get_brief. Their descriptions are written for the model that reads them:
 * when to call each tool and what its answer means.
 *
 * Arguments are checked here against the same rules as the input schemas
 * (required, types, ranges, no unknown keys) and against the caller's
 * identity: a call that breaks them is a protocol error (-32602, as the
 * schema's InvalidParamsError says of invalid tool arguments) and touches
 * nothing. What only the ledger can tell (no such decision, not escalated,
 * another agent's decision, an unknown workflow) is a tool execution error
 * (isError), which the model reads and can correct, as the tools page of
 * the specification asks; it touches nothing either.
 */
#include "base/banned.h"

#include "mcp/mcp_int.h"

#include <math.h>

static const char tools_json[] =
    "["
    "{\"name\":\"check_action\",\"title\":\"Check an action before doing it\","
    "\"description\":\"Ask Charter whether you may perform an action, BEFORE you perform it. "
    "Call this before every consequential action: anything that moves money, changes a record, "
    "contacts a customer, buys something or cannot easily be undone. Name the workflow and "
    "action as your brief (get_brief) names them, and give the action's real input (amounts, "
    "ids), the subject it affects and your rationale. The answer is binding. decision "
    "'allow': proceed, and carry out every item in obligations. 'deny': do not perform the "
    "action and do not retry it in another form; explanation says why, tell the person you "
    "work for. 'escalate': a person must approve first; do not act yet, call await_approval "
    "with decision_id. guidance says what to do next in one paragraph. Every call is recorded "
    "in the ledger under its decision_id.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"workflow\":{\"type\":\"string\",\"description\":\"The workflow the action belongs to, "
    "as named in your brief (e.g. refunds).\"},"
    "\"action\":{\"type\":\"string\",\"description\":\"The action you intend to perform, as "
    "named in your brief (e.g. issue_refund).\"},"
    "\"input\":{\"type\":\"object\",\"description\":\"The action's parameters exactly as you "
    "would execute them (e.g. {\\\"amount\\\": 120, \\\"currency\\\": \\\"EUR\\\"}); rules "
    "read these values.\"},"
    "\"subject\":{\"type\":\"object\",\"description\":\"Who or what the action affects (e.g. "
    "{\\\"customer_id\\\": \\\"c-1\\\", \\\"tenure_years\\\": 4}).\"},"
    "\"context\":{\"type\":\"object\",\"description\":\"Anything else about the situation the "
    "rules may need (e.g. {\\\"channel\\\": \\\"chat\\\"}).\"},"
    "\"rationale\":{\"type\":\"string\",\"description\":\"Why you want to do this, in one or "
    "two sentences; recorded for the people who review decisions.\"},"
    "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1,\"description\":\"How "
    "sure you are that this action is right, from 0 to 1.\"},"
    "\"run_id\":{\"type\":\"string\",\"description\":\"The id of your current task; per-run "
    "budgets and action limits are counted by it. Use one id for every action of a task.\"},"
    "\"agent\":{\"type\":\"string\",\"description\":\"Your agent id. Optional: your connection "
    "identifies you, and naming another agent is refused.\"}},"
    "\"required\":[\"workflow\",\"action\"],\"additionalProperties\":false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"decision_id\":{\"type\":\"string\",\"description\":\"The ledger's id of this decision "
    "(d-N).\"},"
    "\"decision\":{\"type\":\"string\",\"enum\":[\"allow\",\"deny\",\"escalate\"]},"
    "\"reason\":{\"type\":\"string\",\"description\":\"Why, as a stable code: rule, boundary, "
    "stop_rule, default, unknown_agent, unknown_workflow, workflow_not_granted, "
    "action_not_in_workflow, human_only, augmented_requires_approval, ledger_unavailable.\"},"
    "\"explanation\":{\"type\":\"string\"},"
    "\"fired\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"values\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"The "
    "values at stake, most important first.\"},"
    "\"obligations\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":"
    "\"What you must do if you proceed.\"},"
    "\"escalation\":{\"type\":[\"object\",\"null\"],\"description\":\"For escalate: the queue "
    "of approvers and the deadline.\"},"
    "\"charter_version\":{\"type\":\"string\"},"
    "\"time\":{\"type\":\"string\"},"
    "\"shadow\":{\"type\":\"boolean\"},"
    "\"guidance\":{\"type\":\"string\",\"description\":\"What to do next.\"}},"
    "\"required\":[\"decision\",\"reason\",\"explanation\",\"guidance\"]},"
    "\"annotations\":{\"title\":\"Check an action before doing it\",\"readOnlyHint\":false,"
    "\"destructiveHint\":false,\"idempotentHint\":false,\"openWorldHint\":false}},"

    "{\"name\":\"await_approval\",\"title\":\"Wait for a person's approval\","
    "\"description\":\"Wait for a person to approve or deny an action that check_action "
    "escalated. Pass that answer's decision_id. Returns as soon as the escalation is "
    "resolved, or after wait_seconds with status 'open'. status 'approved': you may now "
    "perform the action exactly as you described it, with its obligations. 'denied': do not "
    "perform it; note says why. 'open': still waiting; do not act; call await_approval again, "
    "or tell the person you work for that approval is pending. When the deadline passes, the "
    "approvers' queue applies its timeout rule (deny, allow, or the next queue). You can only "
    "wait for your own escalations.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"decision_id\":{\"type\":\"string\",\"pattern\":\"^d-[0-9]+$\",\"description\":\"The "
    "decision_id check_action returned with decision 'escalate'.\"},"
    "\"wait_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":30,\"description\":\"How "
    "long to wait for a resolution before returning 'open' (0: just look).\"}},"
    "\"required\":[\"decision_id\"],\"additionalProperties\":false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"decision_id\":{\"type\":\"string\"},"
    "\"status\":{\"type\":\"string\",\"enum\":[\"open\",\"approved\",\"denied\"]},"
    "\"decision\":{\"type\":\"string\",\"enum\":[\"allow\",\"deny\",\"escalate\"],"
    "\"description\":\"What you may do now: allow once approved, deny once denied, escalate "
    "(not yet) while open.\"},"
    "\"queue\":{\"type\":\"string\"},"
    "\"deadline\":{\"type\":[\"string\",\"null\"]},"
    "\"resolved_by\":{\"type\":[\"string\",\"null\"]},"
    "\"note\":{\"type\":[\"string\",\"null\"]},"
    "\"timed_out\":{\"type\":\"boolean\",\"description\":\"The deadline passed and the "
    "queue's timeout rule decided.\"},"
    "\"guidance\":{\"type\":\"string\"}},"
    "\"required\":[\"decision_id\",\"status\",\"decision\",\"guidance\"]},"
    "\"annotations\":{\"title\":\"Wait for a person's approval\",\"readOnlyHint\":true,"
    "\"idempotentHint\":true,\"openWorldHint\":false}},"

    "{\"name\":\"report_outcome\",\"title\":\"Report what came of an action\","
    "\"description\":\"Report what came of an action you took after check_action: the "
    "customer complained, the refund was reversed, the ticket reopened, the customer came "
    "back. Give the decision_id, a metric (the charter's goals name the metrics that matter, "
    "e.g. csat, complaint, refund_reversed) and a number. Outcomes feed the report that tells "
    "whether agents serve what the organization values: report bad outcomes as faithfully as "
    "good ones. You can only report on your own decisions.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"decision_id\":{\"type\":\"string\",\"pattern\":\"^d-[0-9]+$\",\"description\":\"The "
    "decision the outcome belongs to.\"},"
    "\"metric\":{\"type\":\"string\",\"minLength\":1,\"description\":\"What was measured, "
    "e.g. complaint.\"},"
    "\"value\":{\"type\":\"number\",\"description\":\"The measurement, e.g. 1 for one "
    "complaint.\"},"
    "\"note\":{\"type\":\"string\",\"description\":\"What happened, in a sentence.\"}},"
    "\"required\":[\"decision_id\",\"metric\",\"value\"],\"additionalProperties\":false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"recorded\":{\"type\":\"boolean\"},"
    "\"entry\":{\"type\":\"integer\",\"description\":\"The ledger entry's sequence number.\"},"
    "\"decision_id\":{\"type\":\"string\"},"
    "\"metric\":{\"type\":\"string\"},"
    "\"value\":{\"type\":\"number\"}},"
    "\"required\":[\"recorded\",\"entry\",\"decision_id\",\"metric\",\"value\"]},"
    "\"annotations\":{\"title\":\"Report what came of an action\",\"readOnlyHint\":false,"
    "\"destructiveHint\":false,\"idempotentHint\":false,\"openWorldHint\":false}},"

    "{\"name\":\"get_brief\",\"title\":\"Get your brief\","
    "\"description\":\"Get your brief, in Markdown: the organization's purpose, its values in "
    "rank order, your goals and what must not degrade while you pursue them, the workflows "
    "and actions you may use, the hard boundaries you must never cross, and when you must "
    "escalate. Read it at the start of a task, and whenever you are unsure which workflow or "
    "action name to give check_action. Pass workflow to narrow it to one workflow.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"workflow\":{\"type\":\"string\",\"description\":\"Only this workflow (optional).\"}},"
    "\"additionalProperties\":false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"agent\":{\"type\":\"string\"},"
    "\"workflow\":{\"type\":[\"string\",\"null\"]},"
    "\"charter_version\":{\"type\":\"string\"},"
    "\"brief\":{\"type\":\"string\",\"description\":\"The brief, in Markdown.\"}},"
    "\"required\":[\"agent\",\"brief\"]},"
    "\"annotations\":{\"title\":\"Get your brief\",\"readOnlyHint\":true,"
    "\"idempotentHint\":true,\"openWorldHint\":false}}"
    "]";

json_t *mcp_tools_list(const mcp_ctx *x, mcp_err *e)
{
    json_t *tools = json_loads(tools_json, 0, NULL);
    if (!tools)
        return mcp_fail(e, MCP_INTERNAL_ERROR, "the tool list does not parse");
    /* await_approval's bound is the server's. */
    json_t *ws = json_object_get(
        json_object_get(json_object_get(json_array_get(tools, 1), "inputSchema"),
                        "properties"),
        "wait_seconds");
    json_object_set_new(ws, "maximum", json_integer(x->s->cfg.max_wait_ms / 1000));
    return json_pack("{s:o}", "tools", tools);
}

/* ---- Arguments ------------------------------------------------------------ */

/* Refuses keys of `args` that are not in `known` (NULL-terminated). */
static bool only_known(json_t *args, const char *tool, const char *const *known,
                       mcp_err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok) {
            char list[256] = "";
            size_t n = 0;
            for (size_t i = 0; known[i]; i++)
                n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0,
                                      "%s%s", i ? ", " : "", known[i]);
            mcp_fail(e, MCP_INVALID_PARAMS,
                     "%s: unknown argument '%.100s'; expected only %s", tool, k, list);
            return false;
        }
    }
    return true;
}

/* A string argument: required or optional. */
static bool arg_string(json_t *args, const char *tool, const char *key, bool required,
                       const char **out, mcp_err *e)
{
    json_t *v = json_object_get(args, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            mcp_fail(e, MCP_INVALID_PARAMS, "%s: argument '%s' (a string) is required",
                     tool, key);
        return !required;
    }
    if (!json_is_string(v) || !json_string_length(v)) {
        mcp_fail(e, MCP_INVALID_PARAMS, "%s: argument '%s' must be a non-empty string",
                 tool, key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool is_decision_id(const char *s)
{
    if (strncmp(s, "d-", 2) || !s[2])
        return false;
    for (const char *p = s + 2; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static bool arg_decision_id(json_t *args, const char *tool, const char **out, mcp_err *e)
{
    if (!arg_string(args, tool, "decision_id", true, out, e))
        return false;
    if (!is_decision_id(*out)) {
        mcp_fail(e, MCP_INVALID_PARAMS,
                 "%s: decision_id must look like d-42 (from check_action), found '%.60s'",
                 tool, *out);
        return false;
    }
    return true;
}

/* The caller may act only as itself. */
static bool caller_known(const mcp_ctx *x, const char *tool, mcp_err *e)
{
    if (x->agent)
        return true;
    mcp_fail(e, MCP_INVALID_PARAMS,
             "%s: this connection has no agent identity; run 'charter mcp --agent ID' or "
             "use an agent's key",
             tool);
    return false;
}

/* The result of a tool call: structured content, and the same as text. */
static json_t *tool_result(json_t *structured, const char *text)
{
    if (!structured)
        return NULL;
    char *dump = text ? NULL : json_dumps(structured, JSON_COMPACT);
    json_t *r = json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text", "text",
                          text ? text : dump ? dump : "", "structuredContent", structured,
                          "isError", 0);
    free(dump);
    return r;
}

static charter *current_charter(const mcp_ctx *x, mcp_err *e)
{
    charter *c = x->s->cfg.charter(x->s->cfg.charter_user);
    if (!c)
        mcp_fail(e, MCP_INTERNAL_ERROR, "no charter is loaded");
    return c;
}

static void fmt_time(int64_t ms, char buf[32])
{
    charter_time_format(ms, buf);
}

/* ---- check_action --------------------------------------------------------- */

static const char *const check_keys[] = {"workflow", "action",     "input",  "subject",
                                         "context",  "rationale",  "confidence",
                                         "run_id",   "agent",      NULL};

/* Builds the decision request (the HTTP body an agent would send) from the
 * arguments, or NULL after filling e. */
static char *check_request(const mcp_ctx *x, json_t *args, mcp_err *e)
{
    const char *T = "check_action", *s;
    if (!only_known(args, T, check_keys, e) || !caller_known(x, T, e))
        return NULL;
    if (!arg_string(args, T, "agent", false, &s, e))
        return NULL;
    if (s && strcmp(s, x->agent)) {
        mcp_fail(e, MCP_INVALID_PARAMS,
                 "check_action: you are agent '%.100s' and can only ask for yourself, not "
                 "for '%.100s'",
                 x->agent, s);
        return NULL;
    }
    json_t *rq = json_pack("{s:s}", "agent", x->agent);
    const char *strings[] = {"workflow", "action", "rationale", "run_id"};
    for (size_t i = 0; rq && i < 4; i++) {
        if (!arg_string(args, T, strings[i], i < 2, &s, e))
            goto fail;
        if (s)
            json_object_set_new(rq, strings[i], json_string(s));
    }
    const char *objects[] = {"input", "subject", "context"};
    for (size_t i = 0; rq && i < 3; i++) {
        json_t *v = json_object_get(args, objects[i]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_object(v)) {
            mcp_fail(e, MCP_INVALID_PARAMS, "check_action: argument '%s' must be an object",
                     objects[i]);
            goto fail;
        }
        json_object_set(rq, objects[i], v);
    }
    json_t *conf = json_object_get(args, "confidence");
    if (conf && !json_is_null(conf)) {
        double c = json_number_value(conf);
        if (!json_is_number(conf) || !(c >= 0 && c <= 1)) {
            mcp_fail(e, MCP_INVALID_PARAMS,
                     "check_action: confidence must be a number from 0 to 1");
            goto fail;
        }
        json_object_set(rq, "confidence", conf);
    }
    char *text = rq ? json_dumps(rq, JSON_COMPACT) : NULL;
    json_decref(rq);
    if (!text)
        mcp_fail(e, MCP_INTERNAL_ERROR, "out of memory");
    return text;
fail:
    json_decref(rq);
    return NULL;
}

/* One paragraph on what to do next, for the model. */
static char *guidance(json_t *answer)
{
    const char *decision = json_string_value(json_object_get(answer, "decision"));
    const char *reason = json_string_value(json_object_get(answer, "reason"));
    const char *expl = json_string_value(json_object_get(answer, "explanation"));
    const char *id = json_string_value(json_object_get(answer, "decision_id"));
    char buf[2048];
    decision = decision ? decision : "deny";
    reason = reason ? reason : "";
    expl = expl ? expl : "";
    if (!strcmp(decision, "allow")) {
        json_t *ob = json_object_get(answer, "obligations");
        char obs[768] = "";
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(ob) && n < sizeof obs; i++)
            n += (size_t)snprintf(obs + n, sizeof obs - n, "%s%s", i ? ", " : "",
                                  json_string_value(json_array_get(ob, i)));
        snprintf(buf, sizeof buf,
                 "Allowed: you may perform this action now, exactly as described.%s%s%s "
                 "Afterwards, report what came of it with report_outcome (decision_id %s).",
                 n ? " You must also do the following: " : "", obs, n ? "." : "",
                 id ? id : "above");
    } else if (!strcmp(decision, "escalate")) {
        json_t *esc = json_object_get(answer, "escalation");
        const char *q = json_string_value(json_object_get(esc, "queue"));
        const char *dl = json_string_value(json_object_get(esc, "deadline"));
        snprintf(buf, sizeof buf,
                 "Needs a person's approval: do NOT perform this action yet. %s Call "
                 "await_approval with decision_id %s to wait for the approvers%s%s%s%s; "
                 "proceed only if it returns status approved. Meanwhile you may tell the "
                 "person you work for that approval is pending.",
                 expl, id ? id : "(none: the decision was not recorded)", q ? " of queue " : "",
                 q ? q : "", dl ? ", deadline " : "", dl ? dl : "");
    } else if (!strcmp(reason, "ledger_unavailable")) {
        snprintf(buf, sizeof buf,
                 "Denied because Charter could not record the decision: do NOT perform the "
                 "action. Try check_action again later; if it keeps failing, stop and tell "
                 "the person you work for.");
    } else if (!strcmp(reason, "unknown_workflow") || !strcmp(reason, "action_not_in_workflow") ||
               !strcmp(reason, "workflow_not_granted") || !strcmp(reason, "unknown_agent")) {
        snprintf(buf, sizeof buf,
                 "Denied: do NOT perform this action. %s Read get_brief for the workflows "
                 "and actions you may use; if none fits, this is not yours to do: hand it to "
                 "a person.",
                 expl);
    } else if (!strcmp(reason, "stop_rule")) {
        snprintf(buf, sizeof buf,
                 "Denied: do NOT perform this action. %s A limit on how much you may do has "
                 "been reached; do not work around it by splitting or rephrasing the action. "
                 "Tell the person you work for.",
                 expl);
    } else {
        snprintf(buf, sizeof buf,
                 "Denied: do NOT perform this action, and do not retry it in another form. %s "
                 "Tell the person you work for why, and offer what you can do instead.",
                 expl);
    }
    return strdup(buf);
}

static json_t *answer_result(const char *answer, size_t n, mcp_err *e)
{
    json_t *a = json_loadb(answer, n, 0, NULL);
    char *g = a ? guidance(a) : NULL;
    if (!a || !g) {
        json_decref(a);
        free(g);
        return mcp_fail(e, MCP_INTERNAL_ERROR, "cannot read the decision's answer");
    }
    json_object_set_new(a, "guidance", json_string(g));
    free(g);
    return tool_result(a, NULL);
}

static json_t *check_action(const mcp_ctx *x, json_t *args, mcp_err *e)
{
    char *text = check_request(x, args, e);
    if (!text)
        return NULL;
    charter *c = current_charter(x, e);
    charter_decider *d = NULL;
    char *answer = NULL;
    size_t n = 0;
    json_t *result = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    if (!c)
        goto done;
    charter_decider *use = x->s->cfg.decider ? x->s->cfg.decider(x->s->cfg.decider_user) : NULL;
    if (!use && charter_decider_new(&d) != CHARTER_OK) {
        mcp_fail(e, MCP_INTERNAL_ERROR, "out of memory");
        goto done;
    }
    charter_status st = charter_ledger_decide(x->s->cfg.ledger, use ? use : d, c, text,
                                              strlen(text), charter_now_ms(), &answer, &n, &err);
    /* A decision that lost its race with other servers of a shared ledger
     * too often is not recorded: the same fail-closed deny. */
    if (!answer && st == CHARTER_E_CONFLICT)
        answer = charter_ledger_unavailable_answer(c, charter_now_ms(), &n);
    if (answer) /* decided, or the fail-closed deny of an unwritable ledger */
        result = answer_result(answer, n, e);
    else if (st == CHARTER_E_NOMEM)
        mcp_fail(e, MCP_INTERNAL_ERROR, "out of memory");
    else
        mcp_fail(e, MCP_INVALID_PARAMS, "check_action: invalid request: %.600s",
                 err.message[0] ? err.message : charter_status_message(st));
done:
    free(answer);
    charter_decider_free(d);
    charter_release(c);
    free(text);
    return result;
}

/* ---- await_approval ------------------------------------------------------- */

typedef struct esc_copy {
    bool found;
    char *agent, *queue, *resolved_by, *note;
    int64_t deadline_ms;
    charter_escalation_status status;
    bool timed_out;
} esc_copy;

static void esc_clear(esc_copy *c)
{
    free(c->agent);
    free(c->queue);
    free(c->resolved_by);
    free(c->note);
    memset(c, 0, sizeof *c);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Runs with the ledger's state locked: copy, nothing else. */
static int esc_take(const charter_escalation *es, void *user)
{
    esc_copy *c = user;
    esc_clear(c);
    c->found = true;
    c->agent = dup_or_null(es->agent);
    c->queue = dup_or_null(es->queue);
    c->resolved_by = dup_or_null(es->resolved_by);
    c->note = dup_or_null(es->note);
    c->deadline_ms = es->deadline_ms;
    c->status = es->status;
    c->timed_out = es->timed_out;
    return 0;
}

/* Applies deadlines under the current charter, then reads the escalation
 * (waiting up to wait_ms while it is open). */
static bool esc_read(const mcp_ctx *x, const char *id, uint32_t wait_ms, esc_copy *out,
                     mcp_err *e)
{
    charter_error err;
    memset(&err, 0, sizeof err);
    charter *c = current_charter(x, e);
    if (!c)
        return false;
    charter_status st = charter_ledger_expire(x->s->cfg.ledger, c, charter_now_ms(), NULL, &err);
    charter_release(c);
    if (st != CHARTER_OK) {
        /* An unwritable ledger's message names its file: not for agents. */
        mcp_fail(e, MCP_INTERNAL_ERROR, "await_approval: cannot apply deadlines: %.600s",
                 st == CHARTER_E_IO ? "the ledger cannot be written now; try again later"
                                    : err.message);
        return false;
    }
    st = charter_ledger_escalation(x->s->cfg.ledger, id, wait_ms, esc_take, out, &err);
    if (st == CHARTER_E_REF || st == CHARTER_E_INVALID || (st == CHARTER_OK && !out->found)) {
        mcp_fail(e, MCP_TOOL_ERROR,
                 "await_approval: %s is not an escalated decision (only a check_action "
                 "answer with decision 'escalate' can be awaited)",
                 id);
        return false;
    }
    if (st != CHARTER_OK) {
        mcp_fail(e, MCP_INTERNAL_ERROR, "await_approval: %.600s",
                 st == CHARTER_E_IO ? "the ledger cannot be read now; try again later"
                                    : err.message);
        return false;
    }
    return true;
}

static json_t *esc_result(const char *id, const esc_copy *c)
{
    const char *status = c->status == CHARTER_ESC_APPROVED ? "approved"
                         : c->status == CHARTER_ESC_DENIED ? "denied"
                                                           : "open";
    const char *decision = c->status == CHARTER_ESC_APPROVED ? "allow"
                           : c->status == CHARTER_ESC_DENIED ? "deny"
                                                             : "escalate";
    char dl[32] = "", g[1024];
    if (c->deadline_ms)
        fmt_time(c->deadline_ms, dl);
    if (c->status == CHARTER_ESC_APPROVED)
        snprintf(g, sizeof g,
                 "Approved%s%s: you may now perform the action exactly as you described it "
                 "in check_action, with its obligations. Afterwards report what came of it "
                 "with report_outcome (decision_id %s).",
                 c->timed_out ? " by the queue's timeout rule" : " by ",
                 c->timed_out ? "" : (c->resolved_by ? c->resolved_by : "an approver"), id);
    else if (c->status == CHARTER_ESC_DENIED)
        snprintf(g, sizeof g,
                 "Denied%s: do NOT perform the action, and do not retry it in another form. "
                 "%s%s Tell the person you work for.",
                 c->timed_out ? " because nobody approved it before the deadline" : "",
                 c->note ? "The approver's note: " : "", c->note ? c->note : "");
    else
        snprintf(g, sizeof g,
                 "Still waiting for a person in queue %s%s%s: do NOT perform the action yet. "
                 "Call await_approval again to keep waiting, or tell the person you work for "
                 "that approval is pending.",
                 c->queue ? c->queue : "(none)", dl[0] ? ", deadline " : "", dl);
    json_t *r = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:b, s:s}", "decision_id", id,
                          "status", status, "decision", decision, "queue", c->queue,
                          "deadline", dl[0] ? json_string(dl) : json_null(), "resolved_by",
                          c->resolved_by ? json_string(c->resolved_by) : json_null(), "note",
                          c->note ? json_string(c->note) : json_null(), "timed_out",
                          c->timed_out, "guidance", g);
    return tool_result(r, NULL);
}

static json_t *await_approval(const mcp_ctx *x, json_t *args, mcp_err *e)
{
    static const char *const keys[] = {"decision_id", "wait_seconds", NULL};
    const char *T = "await_approval", *id;
    if (!only_known(args, T, keys, e) || !caller_known(x, T, e) ||
        !arg_decision_id(args, T, &id, e))
        return NULL;
    uint32_t max_s = x->s->cfg.max_wait_ms / 1000, wait_s = max_s;
    json_t *w = json_object_get(args, "wait_seconds");
    if (w && !json_is_null(w)) {
        if (!json_is_integer(w) || json_integer_value(w) < 0 ||
            json_integer_value(w) > (json_int_t)max_s)
            return mcp_fail(e, MCP_INVALID_PARAMS,
                            "await_approval: wait_seconds must be an integer from 0 to %u",
                            max_s);
        wait_s = (uint32_t)json_integer_value(w);
    }
    esc_copy c = {0};
    json_t *r = NULL;
    /* Look first without waiting: whose it is decides whether we may wait. */
    if (!esc_read(x, id, 0, &c, e))
        goto done;
    if (!c.agent || strcmp(c.agent, x->agent)) {
        mcp_fail(e, MCP_TOOL_ERROR,
                 "await_approval: %s is not one of your decisions (you are agent '%.100s')",
                 id, x->agent);
        goto done;
    }
    if (c.status == CHARTER_ESC_OPEN && wait_s > 0) {
        int64_t until = charter_now_ms() + (int64_t)wait_s * 1000;
        if (c.deadline_ms && c.deadline_ms < until)
            until = c.deadline_ms; /* wake at the deadline to apply it */
        int64_t left = until - charter_now_ms();
        if (left > 0 && !esc_read(x, id, (uint32_t)left, &c, e))
            goto done;
        if (c.status == CHARTER_ESC_OPEN && !esc_read(x, id, 0, &c, e))
            goto done;
    }
    r = esc_result(id, &c);
done:
    esc_clear(&c);
    return r;
}

/* ---- report_outcome -------------------------------------------------------- */

/* Whether decision `id` was made for `agent`; fills e when not. */
static bool decision_is_callers(const mcp_ctx *x, const char *tool, const char *id, mcp_err *e)
{
    char *payload = NULL;
    size_t n = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_decision(x->s->cfg.ledger, id, &payload, &n, &err);
    if (st == CHARTER_E_REF || st == CHARTER_E_INVALID) {
        mcp_fail(e, MCP_TOOL_ERROR, "%s: no decision %s in the ledger", tool, id);
        return false;
    }
    if (st != CHARTER_OK) {
        mcp_fail(e, MCP_INTERNAL_ERROR, "%s: %.600s", tool,
                 st == CHARTER_E_IO ? "the ledger cannot be read now; try again later"
                                    : err.message);
        return false;
    }
    json_t *p = json_loadb(payload, n, 0, NULL);
    free(payload);
    const char *who = json_string_value(json_object_get(json_object_get(p, "request"), "agent"));
    bool mine = who && !strcmp(who, x->agent);
    json_decref(p);
    if (!mine)
        mcp_fail(e, MCP_TOOL_ERROR,
                 "%s: %s is not one of your decisions (you are agent '%.100s')", tool, id,
                 x->agent);
    return mine;
}

static json_t *report_outcome(const mcp_ctx *x, json_t *args, mcp_err *e)
{
    static const char *const keys[] = {"decision_id", "metric", "value", "note", NULL};
    const char *T = "report_outcome";
    charter_outcome o;
    memset(&o, 0, sizeof o);
    if (!only_known(args, T, keys, e) || !caller_known(x, T, e) ||
        !arg_decision_id(args, T, &o.decision_id, e) ||
        !arg_string(args, T, "metric", true, &o.metric, e) ||
        !arg_string(args, T, "note", false, &o.note, e))
        return NULL;
    json_t *v = json_object_get(args, "value");
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return mcp_fail(e, MCP_INVALID_PARAMS, "report_outcome: value (a number) is required");
    o.value = json_number_value(v);
    if (!decision_is_callers(x, T, o.decision_id, e))
        return NULL;
    uint64_t seq = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_outcome(x->s->cfg.ledger, &o, &seq, &err);
    if (st == CHARTER_E_INVALID || st == CHARTER_E_REF)
        return mcp_fail(e, MCP_TOOL_ERROR, "report_outcome: %.600s", err.message);
    if (st != CHARTER_OK)
        return mcp_fail(e, MCP_INTERNAL_ERROR, "report_outcome: the outcome could not "
                        "be recorded; try again later");
    json_t *r = json_pack("{s:b, s:I, s:s, s:s, s:f}", "recorded", 1, "entry",
                          (json_int_t)seq, "decision_id", o.decision_id, "metric", o.metric,
                          "value", o.value);
    return tool_result(r, NULL);
}

/* ---- get_brief -------------------------------------------------------------- */

static json_t *get_brief(const mcp_ctx *x, json_t *args, mcp_err *e)
{
    static const char *const keys[] = {"workflow", NULL};
    const char *T = "get_brief", *wf;
    if (!only_known(args, T, keys, e) || !caller_known(x, T, e) ||
        !arg_string(args, T, "workflow", false, &wf, e))
        return NULL;
    charter *c = current_charter(x, e);
    if (!c)
        return NULL;
    char *brief = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_brief(c, x->agent, wf, &brief, &err);
    json_t *r = NULL;
    if (st == CHARTER_OK)
        r = json_pack("{s:s, s:o, s:s, s:s}", "agent", x->agent, "workflow",
                      wf ? json_string(wf) : json_null(), "charter_version",
                      charter_version(c), "brief", brief);
    else
        mcp_fail(e, st == CHARTER_E_NOMEM ? MCP_INTERNAL_ERROR : MCP_TOOL_ERROR,
                 "get_brief: %.600s", err.message);
    json_t *out = r ? tool_result(r, brief) : NULL;
    free(brief);
    charter_release(c);
    return out;
}

/* ---- tools/call ------------------------------------------------------------- */

json_t *mcp_tools_call(const mcp_ctx *x, json_t *params, mcp_err *e)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    if (!name)
        return mcp_fail(e, MCP_INVALID_PARAMS, "tools/call needs params.name (a string)");
    json_t *args = json_object_get(params, "arguments");
    json_t *empty = NULL;
    if (!args || json_is_null(args))
        args = empty = json_object();
    if (!json_is_object(args))
        return mcp_fail(e, MCP_INVALID_PARAMS, "tools/call: arguments must be an object");
    json_t *r;
    if (!strcmp(name, "check_action"))
        r = check_action(x, args, e);
    else if (!strcmp(name, "await_approval"))
        r = await_approval(x, args, e);
    else if (!strcmp(name, "report_outcome"))
        r = report_outcome(x, args, e);
    else if (!strcmp(name, "get_brief"))
        r = get_brief(x, args, e);
    else
        r = mcp_fail(e, MCP_INVALID_PARAMS,
                     "Unknown tool '%.100s'; the tools are check_action, await_approval, "
                     "report_outcome and get_brief",
                     name);
    json_decref(empty);
    if (!r && e->code == MCP_TOOL_ERROR) {
        r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", e->message,
                      "isError", 1);
        if (!r)
            mcp_fail(e, MCP_INTERNAL_ERROR, "out of memory");
    }
    return r;
}
