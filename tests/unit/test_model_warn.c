/* test_model_warn.c - `charter check` warnings: codes, places, and the
 * cases that must not warn. */
#include "charter/load.h"
#include "test.h"

#define DATA CHARTER_SOURCE_DIR "/tests/data/charters/"

static charter *load_text(const char *yaml)
{
    charter *c = NULL;
    charter_error err;
    if (ch_load_string("w.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK)
        fprintf(stderr, "  %s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
    return c;
}

/* The warning with `code` about the item at `line`, or NULL. */
static const charter_diag *find(const charter *c, const char *code, unsigned line)
{
    for (size_t i = 0; i < c->warning_count; i++) {
        const charter_diag *d = &c->warnings[i];
        if (strcmp(d->code, code) == 0 && d->line == line)
            return d;
    }
    return NULL;
}

static size_t count(const charter *c, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < c->warning_count; i++)
        n += strcmp(c->warnings[i].code, code) == 0;
    return n;
}

static const char warned[] =
    "organization: {name: Warned}\n"                           /* 1 */
    "values:\n"                                                /* 2 */
    "  - id: trust\n"                                          /* 3 */
    "    statement: Nobody protects this value.\n"             /* 4 */
    "  - id: speed\n"                                          /* 5 */
    "    statement: Protected by a rule.\n"                    /* 6 */
    "goals:\n"                                                 /* 7 */
    "  - id: fast\n"                                           /* 8 */
    "    objective: Close tickets fast.\n"                     /* 9 */
    "    outcomes: [{metric: hours, target: 2, direction: decrease}]\n" /* 10 */
    "workflows:\n"                                             /* 11 */
    "  - id: deploys\n"                                        /* 12 */
    "    autonomy: agent-ready\n"                              /* 13 */
    "    actions: [deploy]\n"                                  /* 14 */
    "    readiness: {reversibility: irreversible}\n"           /* 15 */
    "  - id: tickets\n"                                        /* 16 */
    "    owner: ops@example.com\n"                             /* 17 */
    "    autonomy: agent-ready\n"                              /* 18 */
    "    actions: [close]\n"                                   /* 19 */
    "agents:\n"                                                /* 20 */
    "  - id: bot\n"                                            /* 21 */
    "    workflows: [deploys, tickets]\n"                      /* 22 */
    "rules:\n"                                                 /* 23 */
    "  - id: free-rule\n"                                      /* 24 */
    "    workflows: [deploys]\n"                               /* 25 */
    "    effect: allow\n"                                      /* 26 */
    "    message: An allow rule is no control.\n"              /* 27 */
    "  - id: fast-close\n"                                     /* 28 */
    "    workflows: [tickets]\n"                               /* 29 */
    "    effect: escalate\n"                                   /* 30 */
    "    protects: speed\n"                                    /* 31 */
    "    message: m\n"                                         /* 32 */
    "escalation:\n"                                            /* 33 */
    "  queues:\n"                                              /* 34 */
    "    - id: first\n"                                        /* 35 */
    "    - id: forgotten\n";                                   /* 36 */

static void test_each_warning_names_its_item(void)
{
    charter *c = load_text(warned);
    CHECK(c != NULL);
    if (!c)
        return;
    const charter_diag *d = find(c, "value-unprotected", 3);
    CHECK(d != NULL);
    if (d) {
        CHECK_STR(d->file, "w.yaml");
        CHECK_INT(d->column, 5);
        CHECK_HAS(d->message, "value 'trust'");
    }
    CHECK_INT(count(c, "value-unprotected"), 1);
    CHECK(find(c, "goal-no-health", 8) != NULL);
    CHECK(find(c, "workflow-no-owner", 12) != NULL);
    CHECK_INT(count(c, "workflow-no-owner"), 1);
    d = find(c, "irreversible-unguarded", 12);
    CHECK(d != NULL);
    if (d)
        CHECK_HAS(d->message, "workflow 'deploys' is agent-ready and irreversible");
    CHECK(find(c, "agent-no-owner", 21) != NULL);
    CHECK(find(c, "rule-no-value", 24) != NULL);
    CHECK_INT(count(c, "rule-no-value"), 1);
    CHECK(find(c, "queue-unused", 36) != NULL);
    CHECK_INT(count(c, "queue-unused"), 1); /* "first" is the default */
    CHECK_INT(c->warning_count, 7);
    ch_charter_free(c);
}

static void test_a_control_silences_the_irreversible_warning(void)
{
    static const char *const controls[] = {
        "rules: [{id: r, workflows: [deploys], effect: deny, message: m, protects: v}]\n",
        "rules: [{id: r, effect: escalate, message: m, protects: v}]\n", /* every workflow */
        "boundaries: [{id: b, source: s, message: m, workflows: [deploys], protects: v}]\n",
        "",
    };
    for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "organization: {name: T}\n"
                 "values: [{id: v, statement: S.}]\n"
                 "workflows:\n"
                 "  - id: deploys\n"
                 "    owner: o\n"
                 "    autonomy: agent-ready\n"
                 "    actions: [deploy]\n"
                 "    readiness: {reversibility: irreversible}\n"
                 "%s%s",
                 controls[i],
                 controls[i][0] ? ""
                                : "    stop_rules: [{id: s, max_actions_per_day: 3}]\n");
        charter *c = load_text(yaml);
        CHECK(c != NULL);
        if (c)
            CHECK_INT(count(c, "irreversible-unguarded"), 0);
        ch_charter_free(c);
    }
}

/* A quorum that the listed members cannot reach, and standing approvals
 * that a quorum above one always rules out; neither when roles, a `when`,
 * or enough members make them possible. */
static void test_queue_policy_warnings(void)
{
    charter *c = load_text("organization: {name: T}\n"                                 /* 1 */
                           "values: [{id: v, statement: S.}]\n"                        /* 2 */
                           "rules: [{id: r, effect: deny, message: m, protects: v}]\n" /* 3 */
                           "escalation:\n"                                             /* 4 */
                           "  queues:\n"                                               /* 5 */
                           "    - {id: a, approvers: {members: [x, y]}, quorum: 3}\n"  /* 6 */
                           "    - {id: b, approvers: {members: [x, y]}, quorum: 2}\n"  /* 7 */
                           "    - {id: c, approvers: {roles: [r], members: [x]}, quorum: 3}\n"
                           "    - {id: d, approvers: {roles: [r]}, quorum: 2,\n"       /* 9 */
                           "       standing_approvals: {max: 8h}}\n"                   /* 10 */
                           "    - {id: e, approvers: {roles: [r]}, standing_approvals: {max: 8h},\n"
                           "       quorum: {count: 2, when: input.amount > 100}}\n");  /* 12 */
    CHECK(c != NULL);
    if (!c)
        return;
    const charter_diag *d = find(c, "quorum-unreachable", 6);
    CHECK(d != NULL);
    if (d)
        CHECK_HAS(d->message, "queue 'a' needs 3 approvals but lists 2 members and no roles");
    CHECK_INT(count(c, "quorum-unreachable"), 1);
    d = find(c, "standing-never-applies", 9);
    CHECK(d != NULL);
    if (d)
        CHECK_HAS(d->message, "queue 'd' allows standing approvals but every escalation needs "
                              "2 approvals");
    CHECK_INT(count(c, "standing-never-applies"), 1);
    ch_charter_free(c);
}

static void test_complete_charter_has_no_warnings(void)
{
    charter *c = NULL;
    charter_error err;
    CHECK_INT(ch_load_path(DATA "good/shop.yaml", &c, &err), CHARTER_OK);
    if (!c)
        return;
    for (size_t i = 0; i < c->warning_count; i++)
        fprintf(stderr, "  unexpected: %s %s\n", c->warnings[i].code, c->warnings[i].message);
    CHECK_INT(c->warning_count, 0);
    ch_charter_free(c);
}

int main(void)
{
    RUN(test_each_warning_names_its_item);
    RUN(test_a_control_silences_the_irreversible_warning);
    RUN(test_queue_policy_warnings);
    RUN(test_complete_charter_has_no_warnings);
    return TEST_DONE();
}
