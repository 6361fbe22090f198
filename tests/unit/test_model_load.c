/* test_model_load.c - loading charters into the model, and every kind of
 * load error with its code and file:line:column. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "charter/load.h"
#include "test.h"

#define DATA CHARTER_SOURCE_DIR "/tests/data/charters/"

/* Lines 1-9 of most error cases; what a case adds starts at line 10. */
#define BASE                                                                 \
    "organization: {name: T}\n"                                              \
    "values:\n"                                                              \
    "  - id: v\n"                                                            \
    "    statement: S.\n"                                                    \
    "workflows:\n"                                                           \
    "  - id: w\n"                                                            \
    "    owner: o\n"                                                         \
    "    autonomy: agent-ready\n"                                            \
    "    actions: [a, b]\n"

static charter *load(const char *yaml, charter_error *err)
{
    charter *c = NULL;
    charter_status s = ch_load_string("t.yaml", yaml, strlen(yaml), &c, err);
    if (s != CHARTER_OK && c)
        return NULL;
    return c;
}

/* Loads `yaml`, expecting the error `code` at line:col (col 0: any) with
 * `needle` in the message. Returns whether all matched, printing the
 * error when not. */
static bool fails_with(const char *yaml, charter_status code, unsigned line,
                       unsigned col, const char *needle)
{
    charter_error err;
    charter *c = NULL;
    charter_status s = ch_load_string("t.yaml", yaml, strlen(yaml), &c, &err);
    bool ok = s == code && c == NULL && err.code == code && err.line == line &&
              (col == 0 || err.column == col) && strstr(err.message, needle) &&
              strcmp(err.file, "t.yaml") == 0;
    if (!ok)
        fprintf(stderr, "  got %d at %s:%u:%u: %s\n  expected %d at %u:%u with '%s'\n",
                (int)s, err.file, err.line, err.column, err.message, (int)code, line,
                col, needle);
    ch_charter_free(c);
    return ok;
}

static void test_good_charter_loads_into_the_model(void)
{
    charter *c = NULL;
    charter_error err;
    CHECK_INT(ch_load_path(DATA "good/shop.yaml", &c, &err), CHARTER_OK);
    if (!c) {
        fprintf(stderr, "  %s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
        return;
    }
    CHECK_INT(atomic_load(&c->refs), 1);
    CHECK(c->index == NULL);
    CHECK(c->env != NULL);
    CHECK_STR(c->name, "Tiny Shop");
    CHECK_STR(c->context, "We compete on trust, not on price.");
    CHECK_INT(c->value_count, 2);
    CHECK_STR(c->values[0].id, "customer-trust");
    CHECK_INT(c->values[1].rank, 1);
    CHECK_INT(c->values[0].metrics.n, 2);
    CHECK_STR(c->values[0].metrics.v[0], "repeat_purchase_rate");
    CHECK_INT(c->values[0].pos.line, 8);
    CHECK_INT(c->values[0].pos.column, 5);

    /* Goals: serves in rank order; outcome and health defaults. */
    const ch_goal *g = ch_find_goal(c, "happy-returns");
    CHECK(g != NULL);
    CHECK_INT(g->serves_count, 2);
    CHECK_STR(g->serves[0]->id, "customer-trust");
    CHECK_INT(g->outcome_count, 2);
    CHECK_INT(g->outcomes[0].direction, CH_DECREASE);
    CHECK_INT(g->outcomes[1].direction, CH_INCREASE);
    CHECK(g->outcomes[1].target == 0.95);
    CHECK_INT(g->health_count, 2);
    /* Sorted by metric. */
    CHECK_STR(g->health[0].metric, "complaint_rate");
    CHECK(!g->health[0].has_min && g->health[0].has_max && g->health[0].max == 0.02);
    CHECK(g->health[1].has_min && !g->health[1].has_max && g->health[1].min == 4.2);

    /* Workflows sorted by id, defaults by autonomy. */
    CHECK_INT(c->workflow_count, 3);
    CHECK_STR(c->workflows[0].id, "closures");
    CHECK_STR(c->workflows[1].id, "goodwill");
    CHECK_STR(c->workflows[2].id, "refunds");
    const ch_workflow *w = ch_find_workflow(c, "refunds");
    CHECK(w == &c->workflows[2]);
    CHECK_INT(w->autonomy, CH_AGENT_READY);
    CHECK_INT(w->default_effect, CHARTER_ALLOW);
    CHECK(!w->has_explicit_default);
    CHECK_INT(ch_find_workflow(c, "closures")->default_effect, CHARTER_DENY);
    CHECK_INT(ch_find_workflow(c, "goodwill")->default_effect, CHARTER_DENY);
    CHECK(ch_find_workflow(c, "goodwill")->has_explicit_default);
    CHECK_STR(w->actions.v[0], "issue_refund");
    CHECK(ch_workflow_has_action(w, "lookup_order"));
    CHECK(!ch_workflow_has_action(w, "close_account"));
    CHECK_INT(w->goal_count, 1);
    CHECK(w->goals[0] == g);
    CHECK_STR(w->escalate_to->id, "leads");
    CHECK_INT(w->attr_count, 4);
    CHECK_STR(w->attrs[0].key, "blast_radius");
    CHECK_STR(w->attrs[3].key, "volume");
    CHECK_STR(w->attrs[3].value, "120");
    CHECK_INT(w->stop_rule_count, 1);
    const ch_stop_rule *sr = &w->stop_rules[0];
    CHECK_STR(sr->id, "refund-budget");
    CHECK_INT(sr->max_actions_per_run, 20);
    CHECK_INT(sr->max_actions_per_day, -1);
    CHECK(sr->max_spend_per_day == 1000.5);
    CHECK(sr->max_spend_per_run < 0);
    CHECK(sr->spend != NULL);
    CHECK(sr->when == NULL);
    CHECK_STR(sr->message, "Daily refund budget spent.");
    CHECK_STR(w->pos.file, DATA "good/shop.yaml");
    CHECK_INT(w->pos.line, 24);

    const ch_agent *a = ch_find_agent(c, "support-bot");
    CHECK(a != NULL);
    CHECK_INT(a->workflow_count, 3);
    CHECK(ch_agent_has_workflow(a, w));
    CHECK(ch_find_agent(c, "nobody") == NULL);

    /* Rules: boundaries first, then rules, each by id; order is the index. */
    CHECK_INT(c->rule_count, 3);
    CHECK_INT(c->rules[0].kind, CH_BOUNDARY);
    CHECK_STR(c->rules[0].id, "refund-cap");
    CHECK_INT(c->rules[0].effect, CHARTER_DENY);
    CHECK_STR(c->rules[0].source, "Card scheme contract 4.2");
    CHECK_STR(c->rules[1].id, "large-refund");
    CHECK_STR(c->rules[2].id, "quick-small-refund");
    for (size_t i = 0; i < c->rule_count; i++)
        CHECK_INT(c->rules[i].order, i);
    const ch_rule *lr = &c->rules[1];
    CHECK_INT(lr->effect, CHARTER_ESCALATE);
    CHECK(lr->protects == &c->values[0]);
    CHECK_INT(lr->obligations.n, 2);
    CHECK_STR(lr->obligations.v[0], "notify_customer");
    CHECK_STR(lr->escalate_to->id, "managers");
    CHECK_INT(lr->workflow_count, 1);
    CHECK(lr->workflows[0] == w);
    CHECK(lr->when != NULL);

    /* Queues sorted by id; the default is the one named. */
    CHECK_INT(c->queue_count, 2);
    const ch_queue *leads = ch_find_queue(c, "leads");
    CHECK(c->default_queue == leads);
    CHECK_INT(leads->sla_ms, 4 * 3600 * 1000);
    CHECK_INT(leads->on_timeout, CH_TIMEOUT_NEXT);
    CHECK(leads->next == ch_find_queue(c, "managers"));
    CHECK_INT(leads->roles.n, 1);
    CHECK_STR(leads->members.v[0], "ana@tiny.example");
    CHECK_INT(ch_find_queue(c, "managers")->sla_ms, 90 * 60 * 1000);
    CHECK_STR(ch_find_queue(c, "managers")->notify, "https://hooks.tiny.example/charter");

    CHECK(ch_find_value(c, "speed") == &c->values[1]);
    CHECK(ch_find_value(c, "nope") == NULL);
    CHECK_STR(ch_autonomy_name(CH_AGENT_AUGMENTED), "agent-augmented");
    CHECK(strncmp(c->version, "sha256:", 7) == 0);
    ch_charter_free(c);
}

static void test_default_queue_is_the_first_queue(void)
{
    charter_error err;
    charter *c = load(BASE "escalation:\n  queues:\n    - id: zed\n    - id: alpha\n", &err);
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_STR(c->default_queue->id, "zed");
    CHECK_INT(c->default_queue->on_timeout, CH_TIMEOUT_DENY);
    CHECK_INT(c->default_queue->sla_ms, 0);
    ch_charter_free(c);
    ch_charter_free(NULL);
}

static void test_unknown_key_names_key_place_and_expected(void)
{
    CHECK(fails_with(BASE "rules:\n  - id: r\n    efect: deny\n    message: m\n",
                     CHARTER_E_SCHEMA, 12, 5,
                     "unknown key 'efect' in rule; expected one of id, workflows, actions, "
                     "when, effect, protects, message, obligations, escalate_to"));
    CHECK(fails_with(BASE "polices: []\n", CHARTER_E_SCHEMA, 10, 1,
                     "unknown key 'polices' in the top level"));
    CHECK(fails_with(BASE "    autonmy: agent-ready\n", CHARTER_E_SCHEMA, 10, 5,
                     "unknown key 'autonmy' in workflow"));
}

static void test_wrong_types(void)
{
    CHECK(fails_with(BASE "agents:\n  - id: g\n    workflows: {w: 1}\n", CHARTER_E_SCHEMA,
                     12, 16, "expected a list of strings, found a mapping"));
    CHECK(fails_with(BASE "rules: {id: r}\n", CHARTER_E_SCHEMA, 10, 8,
                     "'rules': expected a list, found a mapping"));
    CHECK(fails_with(BASE "goals:\n  - just-a-string\n", CHARTER_E_SCHEMA, 11, 5,
                     "expected a mapping, found 'just-a-string'"));
    CHECK(fails_with(BASE "    stop_rules:\n      - id: s\n        max_actions_per_run: many\n",
                     CHARTER_E_SCHEMA, 12, 30, "expected a whole number, 0 or more, found 'many'"));
    CHECK(fails_with(BASE "    stop_rules:\n      - id: s\n        max_actions_per_run: '5'\n",
                     CHARTER_E_SCHEMA, 12, 30, "found '5'"));
    CHECK(fails_with(BASE "goals:\n  - id: g\n    objective: o\n    outcomes:\n"
                          "      - {metric: m, target: [1]}\n",
                     CHARTER_E_SCHEMA, 14, 29, "expected a number, found a list"));
    CHECK(fails_with("organization: {name: T}\nvalues:\n  - id: v\n    statement: {a: b}\n",
                     CHARTER_E_SCHEMA, 4, 16, "expected a string, found a mapping"));
    CHECK(fails_with(BASE "charter: 2\n", CHARTER_E_SCHEMA, 10, 10, "expected 1, found '2'"));
    CHECK(fails_with(BASE "    readiness: {reversibility: [x]}\n", CHARTER_E_SCHEMA, 10, 32,
                     "expected a scalar"));
}

static void test_missing_required_keys(void)
{
    CHECK(fails_with(BASE "rules:\n  - id: r\n    message: m\n", CHARTER_E_SCHEMA, 11, 5,
                     "missing required key 'effect' in rule 'r'"));
    CHECK(fails_with(BASE "rules:\n  - effect: deny\n    message: m\n", CHARTER_E_SCHEMA, 11,
                     5, "missing required key 'id' in rule"));
    CHECK(fails_with("values: [{id: v, statement: s}]\n", CHARTER_E_SCHEMA, 1, 1,
                     "missing required key 'organization'"));
    CHECK(fails_with("organization: {name: T}\n", CHARTER_E_SCHEMA, 1, 1,
                     "missing required key 'values'"));
    CHECK(fails_with(BASE "boundaries:\n  - id: b\n    message: m\n", CHARTER_E_SCHEMA, 11,
                     5, "missing required key 'source' in boundary 'b'"));
    CHECK(fails_with(BASE "  - id: x\n    autonomy: human-only\n", CHARTER_E_SCHEMA, 10, 5,
                     "missing required key 'actions' in workflow 'x'"));
    CHECK(fails_with(BASE "    stop_rules:\n      - id: s\n        message: m\n",
                     CHARTER_E_SCHEMA, 11, 9, "sets no limit"));
    CHECK(fails_with(BASE "goals:\n  - id: g\n    objective: o\n"
                          "    health: [{metric: m, min: 1}, {metric: m, max: 2}]\n",
                     CHARTER_E_DUPLICATE, 13, 35, "health metric 'm' listed twice in goal 'g': "
                     "first at t.yaml:13:14"));
    CHECK(fails_with(BASE "goals:\n  - id: g\n    objective: o\n    health: [{metric: m}]\n",
                     CHARTER_E_SCHEMA, 13, 14, "sets no limit"));
}

static void test_bad_enum_values(void)
{
    CHECK(fails_with(BASE "rules:\n  - id: r\n    effect: alow\n    message: m\n",
                     CHARTER_E_SCHEMA, 12, 13,
                     "expected one of allow, deny, escalate; found 'alow'"));
    CHECK(fails_with(BASE "  - id: x\n    autonomy: agent_ready\n    actions: [a]\n",
                     CHARTER_E_SCHEMA, 11, 15,
                     "expected one of agent-ready, agent-augmented, human-only; found "
                     "'agent_ready'"));
    CHECK(fails_with(BASE "    readiness: {reversibility: maybe}\n", CHARTER_E_SCHEMA, 10, 32,
                     "found 'maybe'"));
    CHECK(fails_with(BASE "escalation:\n  queues:\n    - id: q\n      on_timeout: wait\n",
                     CHARTER_E_SCHEMA, 13, 19, "expected one of deny, allow, next; found 'wait'"));
    CHECK(fails_with(BASE "escalation:\n  queues:\n    - id: q\n      sla: 4 hours\n",
                     CHARTER_E_SCHEMA, 13, 12, "expected a duration"));
}

static void test_duplicate_ids_name_both_places(void)
{
    CHECK(fails_with(BASE "  - id: w\n    autonomy: human-only\n    actions: [c]\n",
                     CHARTER_E_DUPLICATE, 10, 5,
                     "duplicate workflow id 'w': first defined at t.yaml:6:5"));
    CHECK(fails_with(BASE "boundaries:\n  - {id: x, source: s, message: m}\n"
                          "rules:\n  - {id: x, effect: deny, message: m}\n",
                     CHARTER_E_DUPLICATE, 13, 5, "first defined at t.yaml:11:5"));
    CHECK(fails_with(BASE "    actions: [a]\n", CHARTER_E_YAML, 10, 5, "duplicate key 'actions'"));
    CHECK(fails_with(BASE "  - id: x\n    autonomy: human-only\n    actions: [c, d, c]\n",
                     CHARTER_E_SCHEMA, 12, 21, "lists 'c' twice"));
}

static void test_duplicate_across_files_names_both_files(void)
{
    charter *c = NULL;
    charter_error err;
    CHECK_INT(ch_load_path(DATA "bad/dup-dir", &c, &err), CHARTER_E_DUPLICATE);
    CHECK(c == NULL);
    CHECK_STR(err.file, DATA "bad/dup-dir/b.yaml");
    CHECK_INT(err.line, 6);
    CHECK_INT(err.column, 5);
    CHECK_HAS(err.message, "duplicate workflow id 'refunds': first defined at " DATA
                           "bad/dup-dir/a.yaml:6:5");
    CHECK_INT(ch_load_path(DATA "bad/org-twice", &c, &err), CHARTER_E_DUPLICATE);
    CHECK_STR(err.file, DATA "bad/org-twice/b.yaml");
    CHECK_INT(err.line, 3);
    CHECK_HAS(err.message, "organization defined again: first defined at " DATA
                           "bad/org-twice/a.yaml:1:15");
}

static void test_undefined_references(void)
{
    CHECK(fails_with(BASE "agents:\n  - id: bot\n    workflows: [w, nowhere]\n",
                     CHARTER_E_REF, 12, 20, "undefined workflow 'nowhere'; expected one of w"));
    CHECK(fails_with(BASE "rules:\n  - {id: r, effect: deny, message: m, protects: vv}\n",
                     CHARTER_E_REF, 11, 49, "undefined value 'vv'; expected one of v"));
    CHECK(fails_with(BASE "    goals: [g1]\n", CHARTER_E_REF, 10, 13,
                     "undefined goal 'g1'; no goal is defined"));
    CHECK(fails_with(BASE "    escalate_to: leads\n", CHARTER_E_REF, 10, 18,
                     "undefined queue 'leads'"));
    CHECK(fails_with(BASE "goals:\n  - {id: g, objective: o, serves: [trust]}\n",
                     CHARTER_E_REF, 11, 36, "undefined value 'trust'"));
    CHECK(fails_with(BASE "escalation:\n  default: nobody\n  queues: [{id: q}]\n",
                     CHARTER_E_REF, 11, 12, "undefined queue 'nobody'"));
    CHECK(fails_with(BASE "escalation:\n  queues: [{id: q, on_timeout: next, next: r}]\n",
                     CHARTER_E_REF, 11, 44, "undefined queue 'r'"));
    CHECK(fails_with(BASE "rules:\n  - {id: r, effect: deny, message: m, workflows: [w], "
                          "actions: [isue_refund]}\n",
                     CHARTER_E_REF, 11, 65,
                     "'isue_refund', which is not an action of workflow 'w'; expected one "
                     "of a, b"));
    CHECK(fails_with(BASE "rules:\n  - {id: r, effect: deny, message: m, actions: [zz]}\n",
                     CHARTER_E_REF, 11, 49, "not an action of any workflow"));
}

static void test_queue_consistency(void)
{
    CHECK(fails_with(BASE "escalation:\n  queues:\n    - {id: a, on_timeout: next, next: b}\n"
                          "    - {id: b, on_timeout: next, next: a}\n",
                     CHARTER_E_SCHEMA, 12, 7, "in a loop"));
    CHECK(fails_with(BASE "escalation:\n  queues: [{id: q, on_timeout: next}]\n",
                     CHARTER_E_SCHEMA, 11, 12, "no 'next'"));
    CHECK(fails_with(BASE "escalation:\n  queues: [{id: q, next: q}]\n", CHARTER_E_SCHEMA, 11,
                     26, "expected 'next' only with on_timeout: next"));
    CHECK(fails_with(BASE "escalation:\n  queues: [{id: q, notify: ftp://x}]\n",
                     CHARTER_E_SCHEMA, 11, 28, "expected an http:// or https:// URL"));
    CHECK(fails_with(BASE "escalation:\n  queues: [{id: q}]\n"
                          "rules:\n  - {id: r, effect: allow, message: m, escalate_to: q}\n",
                     CHARTER_E_SCHEMA, 13, 53, "expected it only on rules with effect escalate"));
}

/* The keys of a queue's notifications and approval policy (issue 15). */
#define QUEUES BASE "escalation:\n  queues:\n"

static const ch_queue *queue_of(const charter *c, const char *id)
{
    for (size_t i = 0; c && i < c->queue_count; i++)
        if (strcmp(c->queues[i].id, id) == 0)
            return &c->queues[i];
    return NULL;
}

static void test_queue_policy_defaults(void)
{
    charter_error err;
    charter *c = load(QUEUES "    - {id: plain}\n"
                             "    - {id: timed, sla: 4h, notify: 'https://h.example/x'}\n",
                      &err);
    CHECK(c != NULL);
    if (!c)
        return;
    const ch_queue *p = queue_of(c, "plain"), *t = queue_of(c, "timed");
    CHECK(p && t);
    if (!p || !t) {
        ch_charter_free(c);
        return;
    }
    CHECK(p->notify == NULL);
    CHECK_INT(p->notify_count, 0);
    CHECK_INT(p->reminder_count, 0); /* no SLA: no reminders */
    CHECK_INT(p->quorum, 1);
    CHECK(p->quorum_when == NULL);
    CHECK_INT(p->require_note, CH_NOTE_DENY);
    CHECK(!p->self_approval);
    CHECK_INT(p->grant_max_ms, 0);
    CHECK_STR(t->notify, "https://h.example/x");
    CHECK_INT(t->notify_count, 1);
    if (t->notify_count == 1)
        CHECK_INT(t->notify_targets[0].format, CH_NOTIFY_WEBHOOK);
    CHECK_INT(t->reminder_count, 2);
    CHECK(t->reminders[0] == 0.5 && t->reminders[1] == 0.9);
    ch_charter_free(c);
}

static void test_queue_policy_keys_load(void)
{
    charter_error err;
    charter *c = load(QUEUES
                      "    - id: leads\n"
                      "      approvers: {roles: [lead]}\n"
                      "      sla: 4h\n"
                      "      notify:\n"
                      "        - https://hooks.example.com/charter\n"
                      "        - {url: 'https://hooks.slack.com/services/T0/B0/x', format: slack}\n"
                      "        - mailto:leads@example.com\n"
                      "        - {url: 'http://h.example/w'}\n"
                      "      reminders: [25%, 50%, 87.5%]\n"
                      "      quorum: {count: 2, when: input.amount > 5000}\n"
                      "      require_note: always\n"
                      "      self_approval: true\n"
                      "      standing_approvals: {max: 8h}\n"
                      "    - {id: pair, sla: 1h, reminders: [], quorum: 3}\n",
                      &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
        return;
    }
    const ch_queue *q = queue_of(c, "leads"), *p = queue_of(c, "pair");
    CHECK(q && p);
    if (!q || !p) {
        ch_charter_free(c);
        return;
    }
    CHECK_INT(q->notify_count, 4);
    CHECK_STR(q->notify, "https://hooks.example.com/charter");
    CHECK_INT(q->notify_targets[0].format, CH_NOTIFY_WEBHOOK);
    CHECK_STR(q->notify_targets[1].url, "https://hooks.slack.com/services/T0/B0/x");
    CHECK_INT(q->notify_targets[1].format, CH_NOTIFY_SLACK);
    CHECK_STR(q->notify_targets[2].url, "mailto:leads@example.com");
    CHECK_INT(q->notify_targets[2].format, CH_NOTIFY_EMAIL);
    CHECK_INT(q->notify_targets[3].format, CH_NOTIFY_WEBHOOK);
    CHECK_INT(q->reminder_count, 3);
    CHECK(q->reminders[0] == 0.25 && q->reminders[1] == 0.5 && q->reminders[2] == 0.875);
    CHECK_INT(q->quorum, 2);
    CHECK(q->quorum_when != NULL);
    if (q->quorum_when)
        CHECK_STR(cel_program_source(q->quorum_when), "input.amount > 5000");
    CHECK_INT(q->require_note, CH_NOTE_ALWAYS);
    CHECK(q->self_approval);
    CHECK_INT(q->grant_max_ms, 8 * 3600 * 1000);
    CHECK_INT(p->reminder_count, 0); /* [] : none, even with an SLA */
    CHECK_INT(p->quorum, 3);
    CHECK(p->quorum_when == NULL);
    ch_charter_free(c);
}

/* Every error names the queue, the key, what was found and what was
 * expected, at the offending node (line 12 is the queue's line). */
static void test_queue_policy_errors(void)
{
    /* notify */
    CHECK(fails_with(QUEUES "    - {id: q, notify: ftp://x}\n", CHARTER_E_SCHEMA, 12, 23,
                     "'notify' in queue 'q': expected an http:// or https:// URL, or mailto: "
                     "and an e-mail address; found 'ftp://x'"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: []}\n", CHARTER_E_SCHEMA, 12, 23,
                     "'notify' in queue 'q': expected 1 to 16 targets, found 0"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: [mailto:nobody]}\n", CHARTER_E_SCHEMA, 12,
                     24, "expected an http:// or https:// URL, or mailto: and an e-mail "
                         "address; found 'mailto:nobody'"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: ['mailto:a@b.example?cc=c@d.example']}\n",
                     CHARTER_E_SCHEMA, 12, 0, "found 'mailto:a@b.example?cc=c@d.example'"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: [{url: 'mailto:a@b.example', format: slack}]}\n",
                     CHARTER_E_SCHEMA, 12, 0,
                     "'notify' in queue 'q': expected an http:// or https:// URL (format "
                     "slack: the incoming webhook's URL); found 'mailto:a@b.example'"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: [{url: 'https://x.example', format: email}]}\n",
                     CHARTER_E_SCHEMA, 12, 0, "expected mailto: and one e-mail address "
                                              "(format email)"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: [{url: 'https://x.example', format: sms}]}\n",
                     CHARTER_E_SCHEMA, 12, 0,
                     "'format' in a 'notify' target of queue 'q': expected one of webhook, "
                     "slack, email; found 'sms'"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: [{format: slack}]}\n", CHARTER_E_SCHEMA, 12,
                     0, "missing required key 'url' in a 'notify' target of queue 'q'"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: [{url: 'https://x.example', to: me}]}\n",
                     CHARTER_E_SCHEMA, 12, 0, "unknown key 'to' in notify target; expected "
                                              "one of url, format"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: ['https://a.example/x y']}\n",
                     CHARTER_E_SCHEMA, 12, 0, "without spaces"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: [[https://a.example]]}\n", CHARTER_E_SCHEMA,
                     12, 0, "expected a URL (http://, https:// or mailto:) or a mapping "
                            "{url, format}, found a list"));
    CHECK(fails_with(QUEUES "    - {id: q, notify: ['https://a.example', 'https://a.example']}\n",
                     CHARTER_E_SCHEMA, 12, 0, "lists 'https://a.example' twice"));
    CHECK(fails_with(QUEUES "    - id: q\n      notify: [https://a.example/1, https://a.example/2,"
                     " https://a.example/3, https://a.example/4, https://a.example/5,"
                     " https://a.example/6, https://a.example/7, https://a.example/8,"
                     " https://a.example/9, https://a.example/10, https://a.example/11,"
                     " https://a.example/12, https://a.example/13, https://a.example/14,"
                     " https://a.example/15, https://a.example/16, https://a.example/17]\n",
                     CHARTER_E_SCHEMA, 13, 15, "expected 1 to 16 targets, found 17"));
    /* reminders */
    CHECK(fails_with(QUEUES "    - {id: q, reminders: [50%]}\n", CHARTER_E_SCHEMA, 12, 26,
                     "'reminders' in queue 'q', which has no 'sla'"));
    CHECK(fails_with(QUEUES "    - {id: q, sla: 1h, reminders: 50%}\n", CHARTER_E_SCHEMA, 12, 35,
                     "'reminders' in queue 'q': expected a list, found '50%'"));
    CHECK(fails_with(QUEUES "    - {id: q, sla: 1h, reminders: [0.5]}\n", CHARTER_E_SCHEMA, 12,
                     36, "'reminders' in queue 'q': expected a share of the SLA such as 50% "
                         "(more than 0%, less than 100%), found '0.5'"));
    CHECK(fails_with(QUEUES "    - {id: q, sla: 1h, reminders: [100%]}\n", CHARTER_E_SCHEMA, 12,
                     36, "found '100%'"));
    CHECK(fails_with(QUEUES "    - {id: q, sla: 1h, reminders: [0%]}\n", CHARTER_E_SCHEMA, 12,
                     36, "found '0%'"));
    CHECK(fails_with(QUEUES "    - {id: q, sla: 1h, reminders: [90%, 50%]}\n",
                     CHARTER_E_SCHEMA, 12, 41,
                     "'reminders' in queue 'q': '50%' after '90%'; expected distinct shares "
                     "in ascending order"));
    CHECK(fails_with(QUEUES "    - {id: q, sla: 1h, reminders: [50%, 50%]}\n",
                     CHARTER_E_SCHEMA, 12, 41, "expected distinct shares"));
    CHECK(fails_with(QUEUES "    - {id: q, sla: 1h, reminders: [1%, 2%, 3%, 4%, 5%, 6%, 7%, 8%,"
                     " 9%]}\n", CHARTER_E_SCHEMA, 12, 35,
                     "'reminders' in queue 'q': expected at most 8, found 9"));
    /* quorum */
    CHECK(fails_with(QUEUES "    - {id: q, quorum: 0}\n", CHARTER_E_SCHEMA, 12, 23,
                     "'quorum' in queue 'q': expected a whole number of approvals from 1 to "
                     "10 or a mapping {count, when}, found '0'"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: 11}\n", CHARTER_E_SCHEMA, 12, 23,
                     "found '11'"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: two}\n", CHARTER_E_SCHEMA, 12, 23,
                     "found 'two'"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: [2]}\n", CHARTER_E_SCHEMA, 12, 23,
                     "found a list"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: {when: 'true'}}\n", CHARTER_E_SCHEMA, 12,
                     23, "missing required key 'count' in 'quorum' of queue 'q'"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: {count: 2, if: 'true'}}\n",
                     CHARTER_E_SCHEMA, 12, 34,
                     "unknown key 'if' in quorum; expected one of count, when"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: {count: 12, when: 'true'}}\n",
                     CHARTER_E_SCHEMA, 12, 31, "'count' of 'quorum' in queue 'q': expected a "
                                               "whole number of approvals from 1 to 10, found "
                                               "'12'"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: {count: 1, when: 'true'}}\n",
                     CHARTER_E_SCHEMA, 12, 31, "has count 1 and a 'when'"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: {count: 2, when: 'input.amount +'}}\n",
                     CHARTER_E_CEL_SYNTAX, 12, 0, "in 'when' of 'quorum' of queue 'q'"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: {count: 2, when: 'input.amount + 1'}}\n",
                     CHARTER_E_CEL_TYPE, 12, 0, "CEL type error in 'when' of 'quorum' of "
                                                "queue 'q': the condition must be a bool"));
    /* require_note, self_approval, standing_approvals */
    CHECK(fails_with(QUEUES "    - {id: q, require_note: never}\n", CHARTER_E_SCHEMA, 12, 29,
                     "'require_note' in queue 'q': expected one of deny, always; found "
                     "'never'"));
    CHECK(fails_with(QUEUES "    - {id: q, self_approval: maybe}\n", CHARTER_E_SCHEMA, 12, 30,
                     "'self_approval' in queue 'q': expected true or false, found 'maybe'"));
    CHECK(fails_with(QUEUES "    - {id: q, standing_approvals: 8h}\n", CHARTER_E_SCHEMA, 12,
                     35, "'standing_approvals' of queue 'q': expected a mapping, found '8h'"));
    CHECK(fails_with(QUEUES "    - {id: q, standing_approvals: {}}\n", CHARTER_E_SCHEMA, 12,
                     35, "missing required key 'max' in 'standing_approvals' of queue 'q'"));
    CHECK(fails_with(QUEUES "    - {id: q, standing_approvals: {max: 8h, min: 1h}}\n",
                     CHARTER_E_SCHEMA, 12, 0, "unknown key 'min' in standing_approvals"));
    CHECK(fails_with(QUEUES "    - {id: q, standing_approvals: {max: 31d}}\n", CHARTER_E_SCHEMA,
                     12, 41, "'max' in 'standing_approvals' of queue 'q': expected a duration "
                             "longer than 0 and at most 30d, such as 8h or 1d; found '31d'"));
    CHECK(fails_with(QUEUES "    - {id: q, standing_approvals: {max: 0h}}\n", CHARTER_E_SCHEMA,
                     12, 41, "found '0h'"));
    CHECK(fails_with(QUEUES "    - {id: q, standing_approvals: {max: soon}}\n", CHARTER_E_SCHEMA,
                     12, 41, "found 'soon'"));
    CHECK(fails_with(QUEUES "    - {id: q, quorum: 2, sla: 1h, escalate: yes}\n",
                     CHARTER_E_SCHEMA, 12, 0,
                     "unknown key 'escalate' in queue; expected one of id, description, "
                     "approvers, sla, on_timeout, next, notify, reminders, quorum, "
                     "require_note, self_approval, standing_approvals"));
}

/* What a decision in each workflow may read of the stop-rule counters:
 * the run's and the day's that its stop rules limit, both when any CEL
 * program of the charter refers to `counters`, none otherwise. */
#define COUNTERS_BASE                                                        \
    BASE                                                                     \
    "  - id: x\n"                                                            \
    "    owner: o\n"                                                         \
    "    autonomy: agent-ready\n"                                            \
    "    actions: [a]\n"

static unsigned reads_of(const char *yaml, const char *workflow, bool *charter_reads)
{
    charter_error err;
    charter *c = load(yaml, &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
        return 99;
    }
    unsigned r = ch_counter_reads(c, workflow);
    *charter_reads = c->reads_counters;
    ch_charter_free(c);
    return r;
}

static void test_counter_reads_follow_limits_and_conditions(void)
{
    bool any;
    /* No stop rule, no condition on counters: reads none. */
    CHECK_INT(reads_of(COUNTERS_BASE, "w", &any), 0);
    CHECK(!any);
    CHECK_INT(reads_of(COUNTERS_BASE, "nowhere", &any), 0);
    /* Per-run limits read the run's counters only; per-day the day's;
     * only in their own workflow. */
    const char *run = COUNTERS_BASE
        "    stop_rules:\n"
        "      - {id: s, max_actions_per_run: 3}\n";
    CHECK_INT(reads_of(run, "x", &any), CH_READS_RUN);
    CHECK_INT(reads_of(run, "w", &any), 0);
    CHECK(!any);
    const char *spend_run = COUNTERS_BASE
        "    stop_rules:\n"
        "      - {id: s, spend: input.amount, max_spend_per_run: 30}\n";
    CHECK_INT(reads_of(spend_run, "x", &any), CH_READS_RUN);
    const char *day = COUNTERS_BASE
        "    stop_rules:\n"
        "      - {id: s, max_spend_per_day: 100, spend: input.amount}\n"
        "      - {id: t, max_actions_per_run: 3}\n";
    CHECK_INT(reads_of(day, "x", &any), CH_READS_RUN | CH_READS_DAY);
    /* A spend with no spend limit, a `when` on the input: no counter. */
    const char *no_limit = COUNTERS_BASE
        "    stop_rules:\n"
        "      - {id: s, spend: input.amount, when: 'input.amount > 100'}\n";
    CHECK_INT(reads_of(no_limit, "x", &any), 0);
    CHECK(!any);
    /* A rule's condition reading counters, anywhere: every workflow reads
     * both (and so does an unknown one). */
    const char *rule = COUNTERS_BASE
        "rules:\n"
        "  - {id: r, workflows: [x], when: 'counters.day.actions >= 5', effect: deny, "
        "message: M.}\n";
    CHECK_INT(reads_of(rule, "w", &any), CH_READS_RUN | CH_READS_DAY);
    CHECK(any);
    CHECK_INT(reads_of(rule, "nowhere", &any), CH_READS_RUN | CH_READS_DAY);
    /* A stop rule's `when` or `spend` reading counters. */
    const char *when = COUNTERS_BASE
        "    stop_rules:\n"
        "      - {id: s, when: 'counters.run.actions > 2'}\n";
    CHECK_INT(reads_of(when, "w", &any), CH_READS_RUN | CH_READS_DAY);
    const char *spend = COUNTERS_BASE
        "    stop_rules:\n"
        "      - {id: s, spend: 'counters.day.spend / 10.0', max_spend_per_run: 5}\n";
    CHECK_INT(reads_of(spend, "x", &any), CH_READS_RUN | CH_READS_DAY);
    /* A comprehension variable named counters is not the variable. */
    const char *shadow = COUNTERS_BASE
        "rules:\n"
        "  - {id: r, when: '[1].all(counters, counters > 0)', effect: deny, message: M.}\n";
    CHECK_INT(reads_of(shadow, "x", &any), 0);
    CHECK(!any);
}

static void test_limits(void)
{
    char yaml[1024];
    char id[CHARTER_MAX_ID_BYTES + 2];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    snprintf(yaml, sizeof yaml, BASE "agents:\n  - id: %s\n    workflows: [w]\n", id);
    CHECK(fails_with(yaml, CHARTER_E_LIMIT, 11, 9, "the limit is 128 bytes"));
    id[CHARTER_MAX_ID_BYTES] = '\0';
    snprintf(yaml, sizeof yaml, BASE "agents:\n  - id: %s\n    workflows: [w]\n", id);
    charter_error err;
    charter *c = load(yaml, &err);
    CHECK(c != NULL);
    ch_charter_free(c);
}

static void test_cel_errors_point_into_the_file(void)
{
    /* A syntax error at the end of a plain scalar: line exact, column past
     * the start of the expression (col 11) and within it. */
    charter_error err;
    const char *yaml = BASE "rules:\n  - id: r\n    effect: deny\n    message: m\n"
                            "    when: input.amount >\n";
    charter *c = load(yaml, &err);
    CHECK(c == NULL);
    CHECK_INT(err.code, CHARTER_E_CEL_SYNTAX);
    CHECK_INT(err.line, 14);
    CHECK(err.column >= 11 && err.column <= 26);
    CHECK_HAS(err.message, "CEL syntax error");
    /* An undeclared field: a type error, on the right line of a literal
     * block. */
    yaml = BASE "rules:\n  - id: r\n    effect: deny\n    message: m\n"
                "    when: |\n      action == 'a' &&\n        agent.name == 'x'\n";
    c = load(yaml, &err);
    CHECK(c == NULL);
    CHECK_INT(err.code, CHARTER_E_CEL_TYPE);
    CHECK_INT(err.line, 16);
    CHECK(err.column >= 9 && err.column <= 25);
    CHECK_HAS(err.message, "CEL type error");
    /* A condition that is not a bool. */
    CHECK(fails_with(BASE "rules:\n  - {id: r, effect: deny, message: m, when: '1'}\n",
                     CHARTER_E_CEL_TYPE, 11, 46, "condition must be a bool, found int"));
    CHECK(fails_with(BASE "boundaries:\n  - {id: r, source: s, message: m, when: 1 >}\n",
                     CHARTER_E_CEL_SYNTAX, 11, 0, "CEL syntax error"));
}

static void test_missing_path_is_an_io_error(void)
{
    charter *c = NULL;
    charter_error err;
    CHECK_INT(ch_load_path(DATA "nope.yaml", &c, &err), CHARTER_E_IO);
    CHECK(c == NULL);
    CHECK_HAS(err.file, "nope.yaml");
    CHECK_INT(ch_load_path(DATA "good", &c, &err), CHARTER_OK);
    CHECK(c != NULL);
    ch_charter_free(c);
}

/* Every prefix of a good charter either loads or fails with a position:
 * a truncated file never crashes the loader or loses its place. */
static void test_every_prefix_loads_or_fails_cleanly(void)
{
    FILE *f = fopen(DATA "good/shop.yaml", "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    char text[8192];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    size_t ok = 0, failed = 0;
    for (size_t len = 0; len <= n; len++) {
        charter *c = NULL;
        charter_error err;
        charter_status s = ch_load_string("p.yaml", text, len, &c, &err);
        if (s == CHARTER_OK) {
            ok++;
            CHECK(c != NULL);
        } else {
            failed++;
            CHECK(c == NULL);
            CHECK(err.code == s && err.message[0]);
            CHECK(err.line > 0 && err.column > 0);
            if (err.line == 0)
                fprintf(stderr, "  prefix %zu: %s\n", len, err.message);
        }
        ch_charter_free(c);
    }
    CHECK(ok > 0 && failed > 0);
}

static void test_empty_directory_is_an_io_error(void)
{
    char dir[] = "/tmp/charter-empty-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    charter *c = NULL;
    charter_error err;
    CHECK_INT(ch_load_path(dir, &c, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "no charter files");
    CHECK_STR(err.file, dir);
    rmdir(dir);
}

int main(void)
{
    RUN(test_good_charter_loads_into_the_model);
    RUN(test_default_queue_is_the_first_queue);
    RUN(test_unknown_key_names_key_place_and_expected);
    RUN(test_wrong_types);
    RUN(test_missing_required_keys);
    RUN(test_bad_enum_values);
    RUN(test_duplicate_ids_name_both_places);
    RUN(test_duplicate_across_files_names_both_files);
    RUN(test_undefined_references);
    RUN(test_queue_consistency);
    RUN(test_queue_policy_defaults);
    RUN(test_queue_policy_keys_load);
    RUN(test_queue_policy_errors);
    RUN(test_limits);
    RUN(test_counter_reads_follow_limits_and_conditions);
    RUN(test_cel_errors_point_into_the_file);
    RUN(test_missing_path_is_an_io_error);
    RUN(test_every_prefix_loads_or_fails_cleanly);
    RUN(test_empty_directory_is_an_io_error);
    return TEST_DONE();
}
