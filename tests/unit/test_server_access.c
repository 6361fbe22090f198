/* test_server_access.c - who a key is and what it may do, asked of the
 * server's own functions (src/server/access.c, api_decide.c) without HTTP:
 * a bearer token finds its key only with that key's secret; an agent key
 * decides only as its own agent (srv_key_may_decide_as, which /v1/decide
 * and the AuthZEN endpoints ask); an approver key reaches a queue only when
 * it is bound to that queue AND the charter serving accepts it there
 * (api_approver_of), so a person taken off a queue in the charter loses it
 * at the next reload. Keys are made with charter_access_add in a temporary
 * folder and read back with srv_keys_load, as `charter serve` reads them. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "charter.h"
#include "charter_server.h"
#include "server/server.h"
#include "test.h"

static char keys_dir[64];

/* The queues: leads take a role, quick takes one member by name, open
 * lists neither (it accepts whoever the keys file binds to it). */
static const char CHARTER_YAML[] =
    "charter: 1\n"
    "organization: {name: Test Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - {id: refunds, department: support, owner: ana@shop.example,\n"
    "     autonomy: agent-ready, actions: [issue_refund], escalate_to: leads}\n"
    "agents:\n"
    "  - {id: support-bot, department: support, owner: ana@shop.example,\n"
    "     workflows: [refunds]}\n"
    "rules:\n"
    "  - {id: large, workflows: [refunds], actions: [issue_refund],\n"
    "     when: input.amount > 100, effect: escalate, protects: trust,\n"
    "     message: Large refunds need a lead.}\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n"
    "    - {id: quick, approvers: {members: [olaf]}, sla: 1h, on_timeout: deny}\n"
    "    - {id: open, sla: 1h, on_timeout: deny}\n";

static charter *load(const char *yaml)
{
    charter *c = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    if (charter_load_string("access.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK)
        fprintf(stderr, "test charter refused: %s\n", err.message);
    return c;
}

/* Adds a key to keys_dir; its token in `token` ("" on failure). */
static void add_key(charter_access_role role, const char *name, const char *const *queues,
                    size_t nq, const char *const *roles, size_t nr,
                    char token[CHARTER_TOKEN_SIZE])
{
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_access_add(keys_dir, role, name, queues, nq, roles, nr, token, &err),
              CHARTER_OK);
}

static srv_keys *keys_load(void)
{
    srv_keys *ks = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(srv_keys_load(keys_dir, &ks, &err), CHARTER_OK);
    return ks;
}

/* ---- Tokens ------------------------------------------------------------------ */

static void test_a_token_finds_its_key_only_with_its_secret(void)
{
    char bot[CHARTER_TOKEN_SIZE], pep[CHARTER_TOKEN_SIZE];
    add_key(CHARTER_ROLE_AGENT, "support-bot", NULL, 0, NULL, 0, bot);
    add_key(CHARTER_ROLE_PEP, "gateway", NULL, 0, NULL, 0, pep);
    srv_keys *ks = keys_load();
    if (!ks)
        return;
    const srv_key *k = srv_keys_check(ks, bot);
    CHECK(k != NULL);
    if (k) {
        CHECK_STR(k->name, "support-bot");
        CHECK_INT(k->role, CHARTER_ROLE_AGENT);
    }
    k = srv_keys_check(ks, pep);
    CHECK(k != NULL && k->role == CHARTER_ROLE_PEP);

    /* chk_<12 hex id>_<secret>: the same id with another secret, another
     * key's id with this secret, and malformed tokens find nothing. */
    char forged[CHARTER_TOKEN_SIZE];
    snprintf(forged, sizeof forged, "%s", bot);
    size_t last = strlen(forged) - 1;
    forged[last] = forged[last] == 'A' ? 'B' : 'A';
    CHECK(srv_keys_check(ks, forged) == NULL);
    snprintf(forged, sizeof forged, "%.16s%s", pep, bot + 16);
    CHECK(srv_keys_check(ks, forged) == NULL);
    snprintf(forged, sizeof forged, "%.17s", bot);
    CHECK(srv_keys_check(ks, forged) == NULL);
    CHECK(srv_keys_check(ks, bot + 4) == NULL); /* without "chk_" */
    CHECK(srv_keys_check(ks, "") == NULL);
    CHECK(srv_keys_check(ks, NULL) == NULL);
    CHECK(srv_keys_check(NULL, bot) == NULL);
    srv_keys_release(ks);
}

/* ---- Agent identity ------------------------------------------------------------ */

static void test_an_agent_key_decides_only_as_its_own_agent(void)
{
    char bot[CHARTER_TOKEN_SIZE], bot2[CHARTER_TOKEN_SIZE], pep[CHARTER_TOKEN_SIZE];
    char adm[CHARTER_TOKEN_SIZE], lena[CHARTER_TOKEN_SIZE];
    const char *leads[] = {"leads"};
    add_key(CHARTER_ROLE_AGENT, "support-bot", NULL, 0, NULL, 0, bot);
    add_key(CHARTER_ROLE_AGENT, "support-bot-2", NULL, 0, NULL, 0, bot2);
    add_key(CHARTER_ROLE_PEP, "gateway", NULL, 0, NULL, 0, pep);
    add_key(CHARTER_ROLE_ADMIN, "support-bot-admin", NULL, 0, NULL, 0, adm);
    add_key(CHARTER_ROLE_APPROVER, "lena", leads, 1, NULL, 0, lena);
    srv_keys *ks = keys_load();
    if (!ks)
        return;
    const srv_key *k = srv_keys_check(ks, bot);
    CHECK(k != NULL);
    CHECK(srv_key_may_decide_as(k, "support-bot"));
    CHECK(srv_key_may_decide_as(k, NULL)); /* the request names no agent: the key's */
    CHECK(!srv_key_may_decide_as(k, "other-bot"));
    CHECK(!srv_key_may_decide_as(k, "support-bot-2")); /* the key's name is a prefix */
    CHECK(!srv_key_may_decide_as(k, "support"));       /* a prefix of the key's name */
    CHECK(!srv_key_may_decide_as(k, "support-bot "));
    CHECK(!srv_key_may_decide_as(k, "Support-Bot"));
    CHECK(!srv_key_may_decide_as(k, ""));

    k = srv_keys_check(ks, bot2);
    CHECK(k != NULL);
    CHECK(srv_key_may_decide_as(k, "support-bot-2"));
    CHECK(!srv_key_may_decide_as(k, "support-bot"));

    /* An enforcement point asks for anyone; people and admins never decide,
     * not even under their own name. */
    k = srv_keys_check(ks, pep);
    CHECK(k != NULL);
    CHECK(srv_key_may_decide_as(k, "support-bot"));
    CHECK(srv_key_may_decide_as(k, "anyone-at-all"));
    k = srv_keys_check(ks, adm);
    CHECK(k != NULL);
    CHECK(!srv_key_may_decide_as(k, "support-bot-admin"));
    CHECK(!srv_key_may_decide_as(k, NULL));
    k = srv_keys_check(ks, lena);
    CHECK(k != NULL);
    CHECK(!srv_key_may_decide_as(k, "lena"));
    CHECK(!srv_key_may_decide_as(k, NULL));
    CHECK(!srv_key_may_decide_as(NULL, "support-bot"));
    CHECK(!srv_key_may_decide_as(NULL, NULL));
    srv_keys_release(ks);
}

/* ---- The approver's queue binding ---------------------------------------------- */

static void test_an_approver_key_reaches_only_queues_it_is_bound_to_and_the_charter_grants(void)
{
    charter *c = load(CHARTER_YAML);
    if (!c)
        return;
    char lena[CHARTER_TOKEN_SIZE], olaf[CHARTER_TOKEN_SIZE], mia[CHARTER_TOKEN_SIZE];
    char tom[CHARTER_TOKEN_SIZE], bot[CHARTER_TOKEN_SIZE];
    const char *leads[] = {"leads"}, *quick_leads[] = {"quick", "leads"};
    const char *quick[] = {"quick"}, *lead_role[] = {"support-lead"};
    const char *near_role[] = {"support-leads", "support"};
    add_key(CHARTER_ROLE_APPROVER, "lena", leads, 1, lead_role, 1, lena);
    add_key(CHARTER_ROLE_APPROVER, "olaf", quick_leads, 2, NULL, 0, olaf);
    add_key(CHARTER_ROLE_APPROVER, "mia", leads, 1, near_role, 2, mia);
    add_key(CHARTER_ROLE_APPROVER, "tom", quick, 1, lead_role, 1, tom);
    add_key(CHARTER_ROLE_AGENT, "support-bot", NULL, 0, NULL, 0, bot);
    srv_keys *ks = keys_load();
    if (!ks) {
        charter_release(c);
        return;
    }
    const srv_key *L = srv_keys_check(ks, lena), *O = srv_keys_check(ks, olaf);
    const srv_key *M = srv_keys_check(ks, mia), *T = srv_keys_check(ks, tom);
    const srv_key *B = srv_keys_check(ks, bot);
    CHECK(L && O && M && T && B);
    if (!L || !O || !M || !T || !B) {
        srv_keys_release(ks);
        charter_release(c);
        return;
    }

    /* The binding in the keys file, exact names only. */
    CHECK(api_key_has_queue(L, "leads"));
    CHECK(!api_key_has_queue(L, "lead"));
    CHECK(!api_key_has_queue(L, "leads2"));
    CHECK(!api_key_has_queue(L, "quick"));
    CHECK(!api_key_has_queue(L, NULL));
    CHECK(api_key_has_queue(O, "quick") && api_key_has_queue(O, "leads"));
    CHECK(!api_key_has_queue(B, "leads"));

    /* What the charter accepts, by role or by name. */
    CHECK(charter_queue_approver(c, "leads", "x", lead_role, 1));
    CHECK(!charter_queue_approver(c, "leads", "x", near_role, 2));
    CHECK(!charter_queue_approver(c, "leads", "x", NULL, 0));
    CHECK(charter_queue_approver(c, "quick", "olaf", NULL, 0));
    CHECK(!charter_queue_approver(c, "quick", "olaf2", NULL, 0));
    CHECK(!charter_queue_approver(c, "quick", "tom", lead_role, 1));
    CHECK(charter_queue_approver(c, "open", "anyone", NULL, 0));
    CHECK(!charter_queue_approver(c, "nowhere", "olaf", lead_role, 1));
    CHECK(!charter_queue_approver(c, NULL, "olaf", lead_role, 1));
    CHECK(!charter_queue_approver(NULL, "leads", "olaf", lead_role, 1));

    /* Both at once: bound and accepted. */
    CHECK(api_approver_of(L, c, "leads"));   /* bound, holds the role */
    CHECK(!api_approver_of(L, c, "open"));   /* the charter accepts anyone, not bound */
    CHECK(!api_approver_of(L, c, "quick"));  /* neither */
    CHECK(api_approver_of(O, c, "quick"));   /* bound, a member by name */
    CHECK(!api_approver_of(O, c, "leads"));  /* bound, the charter does not accept him */
    CHECK(!api_approver_of(M, c, "leads"));  /* bound, roles that only look alike */
    CHECK(!api_approver_of(T, c, "quick"));  /* bound, a role quick does not take */
    CHECK(!api_approver_of(L, c, "nowhere"));
    CHECK(!api_approver_of(B, c, "leads"));  /* an agent key is no approver */

    /* A key of another role that somehow carries a queue is still no
     * approver: the role is checked, not only the list. */
    srv_key forged = *L;
    forged.role = CHARTER_ROLE_ADMIN;
    CHECK(!api_approver_of(&forged, c, "leads"));
    forged.role = CHARTER_ROLE_AGENT;
    CHECK(!api_approver_of(&forged, c, "leads"));

    /* The charter is reloaded with leads taken from support-lead: lena's key
     * is still bound to leads, and reaches it no more. */
    char *tightened = malloc(sizeof CHARTER_YAML + 16);
    if (tightened) {
        snprintf(tightened, sizeof CHARTER_YAML + 16, "%s", CHARTER_YAML);
        char *role = strstr(tightened, "roles: [support-lead]");
        CHECK(role != NULL);
        if (role)
            memcpy(role, "roles: [senior-lead] ", 21);
        charter *c2 = load(tightened);
        CHECK(c2 != NULL);
        if (c2) {
            CHECK(!api_approver_of(L, c2, "leads"));
            CHECK(api_approver_of(O, c2, "quick"));
            charter_release(c2);
        }
        free(tightened);
    }
    srv_keys_release(ks);
    charter_release(c);
}

int main(void)
{
    snprintf(keys_dir, sizeof keys_dir, "/tmp/charter-access-XXXXXX");
    if (!mkdtemp(keys_dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* One keys file; each test adds its own keys to it. */
    RUN(test_a_token_finds_its_key_only_with_its_secret);
    RUN(test_an_agent_key_decides_only_as_its_own_agent);
    RUN(test_an_approver_key_reaches_only_queues_it_is_bound_to_and_the_charter_grants);
    char path[128];
    snprintf(path, sizeof path, "%s/access.json", keys_dir);
    unlink(path);
    rmdir(keys_dir);
    return TEST_DONE();
}
