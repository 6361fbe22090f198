/* test_server_grant.c - the server's deadline thread applies standing
 * approvals as escalations change, not only on its tick: a real
 * charter_server (on 127.0.0.1, port picked by the kernel) with a tick of a
 * minute, a grant made through the library on the server's own ledger, and
 * escalations that a grant matches approved within moments, both those
 * open when it is made and one that opens later. Stopping the server is
 * prompt although the thread's tick is a minute away.
 *
 * The queue's standing_approvals max is set on the serving charter (as
 * test_ledger_grant.c does), so this does not depend on the loader's
 * reading of the new queue keys; the HTTP endpoints for grants belong to
 * the API (tests/http).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "charter.h"
#include "charter_ledger.h"
#include "charter_server.h"
#include "charter/model.h"
#include "server/server.h"
#include "test.h"

static const char CHARTER_YAML[] =
    "charter: 1\n"
    "organization: {name: Test Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - {id: refunds, owner: ana@shop.example,\n"
    "     autonomy: agent-ready, actions: [issue_refund], escalate_to: leads}\n"
    "agents:\n"
    "  - {id: support-bot, owner: ana@shop.example, workflows: [refunds]}\n"
    "rules:\n"
    "  - {id: large, workflows: [refunds], actions: [issue_refund],\n"
    "     when: input.amount > 100, effect: escalate, protects: trust,\n"
    "     message: Large refunds need a lead.}\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n";

#define HOUR 3600000LL

static char dir[256];

static void escalate(charter_server *s, const charter *c, char id[32])
{
    const char *req = "{\"agent\":\"support-bot\",\"workflow\":\"refunds\","
                      "\"action\":\"issue_refund\",\"input\":{\"amount\":500}}";
    charter_decider *d = NULL;
    charter_decider_new(&d);
    char *ans = NULL;
    size_t n = 0;
    charter_error err;
    CHECK_INT(charter_ledger_decide(s->ledger, d, c, req, strlen(req), charter_now_ms(),
                                    &ans, &n, &err),
              CHARTER_OK);
    id[0] = '\0';
    const char *p = ans ? strstr(ans, "\"decision_id\":\"") : NULL;
    if (p)
        snprintf(id, 32, "%.*s", (int)strcspn(p + 15, "\""), p + 15);
    CHECK(ans && strstr(ans, "\"decision\":\"escalate\""));
    free(ans);
    charter_decider_free(d);
}

/* Lena, the grantor of these tests, is an approver of queue leads (a grant
 * outlives no grantor: the server revokes those whose grantor has no such
 * key). Her key's id into key_id (size 32) when not NULL. */
static void add_lena(const char *keys, char *key_id)
{
    static const char *const queues[] = {"leads"}, *const roles[] = {"support-lead"};
    char token[CHARTER_TOKEN_SIZE];
    charter_error err;
    CHECK_INT(charter_access_add(keys, CHARTER_ROLE_APPROVER, "lena", queues, 1, roles, 1,
                                 token, &err),
              CHARTER_OK);
    if (key_id) /* "chk_<id>_<secret>" */
        snprintf(key_id, 32, "%.*s", (int)strcspn(token + 4, "_"), token + 4);
}

static int take_status(const charter_escalation *e, void *user)
{
    *(charter_escalation_status *)user = e->status;
    return 1;
}

/* Waits up to 5 s for `id` to be resolved; the status then, and in *ms how
 * long it took. */
static charter_escalation_status wait_resolved(charter_server *s, const char *id,
                                               int64_t *ms)
{
    charter_escalation_status st = CHARTER_ESC_OPEN;
    int64_t t0 = charter_now_ms();
    CHECK_INT(charter_ledger_escalation(s->ledger, id, 5000, take_status, &st, NULL),
              CHARTER_OK);
    *ms = charter_now_ms() - t0;
    return st;
}

/* Starts a server (tick a minute away) on ledger DIR/<name>.db, with keys
 * in DIR/<name>-keys (an admin, and Lena: her key's id into lena_key when
 * not NULL) and the keys folder's path into keys (size 512); *c is the
 * charter serving, its queue leads allowing standing approvals of up to 8
 * hours. NULL (a failed check) when it does not start. */
static charter_server *server_start(const char *name, char *keys, char *lena_key,
                                    charter **c)
{
    char charter_path[512], ledger_path[512], token[CHARTER_TOKEN_SIZE];
    snprintf(charter_path, sizeof charter_path, "%s/charter.yaml", dir);
    snprintf(ledger_path, sizeof ledger_path, "%s/%s.db", dir, name);
    snprintf(keys, 512, "%s/%s-keys", dir, name);
    FILE *f = fopen(charter_path, "w");
    fputs(CHARTER_YAML, f);
    fclose(f);
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_access_add(keys, CHARTER_ROLE_ADMIN, "root", NULL, 0, NULL, 0, token,
                                 &err),
              CHARTER_OK);
    add_lena(keys, lena_key);
    charter_server_options opt = {.charter_path = charter_path, .ledger_path = ledger_path,
                                  .keys_dir = keys, .listen = "127.0.0.1:0",
                                  .threads = 1, .expire_every_ms = 60000};
    charter_server *s = NULL;
    if (charter_server_start(&opt, &s, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot start the server: %s\n", err.message);
        CHECK(0);
        return NULL;
    }
    *c = srv_charter(s);
    ((ch_queue *)ch_find_queue(*c, "leads"))->grant_max_ms = 8 * HOUR;
    return s;
}

static void test_deadline_thread_applies_grants_on_change(void)
{
    char keys[512];
    charter *c = NULL;
    charter_server *s = server_start("ledger", keys, NULL, &c);
    if (!s)
        return;
    charter_error err;
    memset(&err, 0, sizeof err);

    char d1[32], d2[32], d3[32], gid[32];
    escalate(s, c, d1);
    escalate(s, c, d2); /* open when the grant is made */
    charter_grant_request g = {.duration_ms = HOUR, .note = "same today"};
    CHECK_INT(charter_ledger_grant(s->ledger, c, d1, "lena", &g, 0, NULL, gid, &err),
              CHARTER_OK);
    int64_t ms = 0;
    CHECK_INT(wait_resolved(s, d2, &ms), CHARTER_ESC_APPROVED);
    CHECK(ms < 2000); /* the tick is a minute away */

    escalate(s, c, d3); /* opened later */
    CHECK_INT(wait_resolved(s, d3, &ms), CHARTER_ESC_APPROVED);
    CHECK(ms < 2000);
    charter_release(c);

    int64_t t0 = charter_now_ms();
    CHECK_INT(charter_server_stop(s, &err), CHARTER_OK);
    CHECK(charter_now_ms() - t0 < 5000);
}

/* Agents escalating from several threads at once while the deadline
 * thread applies a grant capped at 20: exactly 20 are approved by it, the
 * rest stay open, and the grant's count says 20. */
typedef struct burst {
    charter_server *s;
    const charter *c;
    char ids[25][32];
} burst;

static void *escalate_many(void *arg)
{
    burst *b = arg;
    for (int i = 0; i < 25; i++)
        escalate(b->s, b->c, b->ids[i]);
    return NULL;
}

typedef struct counted {
    int approved, open;
} counted;

static int count_status(const charter_escalation *e, void *user)
{
    counted *n = user;
    if (e->status == CHARTER_ESC_APPROVED && e->grant_id)
        n->approved++;
    else if (e->status == CHARTER_ESC_OPEN)
        n->open++;
    return 0;
}

static int take_used(const charter_grant *g, void *user)
{
    *(int64_t *)user = g->used_count;
    return 1;
}

static void test_concurrent_escalations_respect_the_cap(void)
{
    char keys[512];
    charter *c = NULL;
    charter_server *s = server_start("burst", keys, NULL, &c);
    if (!s)
        return;
    charter_error err;
    memset(&err, 0, sizeof err);
    char d1[32], gid[32];
    escalate(s, c, d1);
    charter_grant_request g = {.duration_ms = HOUR, .max_count = 20};
    CHECK_INT(charter_ledger_grant(s->ledger, c, d1, "lena", &g, 0, NULL, gid, &err),
              CHARTER_OK);
    burst b[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        b[i] = (burst){.s = s, .c = c};
        pthread_create(&th[i], NULL, escalate_many, &b[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* The last changes are applied within moments; wait for quiet. */
    int64_t used = 0;
    for (int tries = 0; tries < 500 && used < 20; tries++) {
        usleep(10 * 1000);
        charter_ledger_grants(s->ledger, false, charter_now_ms(), take_used, &used, NULL);
    }
    usleep(100 * 1000);
    charter_ledger_grants(s->ledger, false, charter_now_ms(), take_used, &used, NULL);
    CHECK_INT(used, 20);
    counted n = {0, 0};
    CHECK_INT(charter_ledger_escalations(s->ledger, NULL, false, count_status, &n, NULL),
              CHARTER_OK);
    CHECK_INT(n.approved, 20);
    CHECK_INT(n.open, 80);
    charter_release(c);
    CHECK_INT(charter_server_stop(s, &err), CHARTER_OK);
}

/* The grantor's key is revoked and the server reloads: the server revokes
 * her grant in the ledger (by "charter serve", saying why) before it
 * approves anything more in her name, so the next matching escalation
 * stays open for a person. */
static int take_grant(const charter_grant *g, void *user)
{
    charter_grant *out = user;
    out->revoked = g->revoked;
    out->revoked_ms = g->revoked_ms;
    static char by[64];
    snprintf(by, sizeof by, "%s", g->revoked_by ? g->revoked_by : "");
    out->revoked_by = by;
    return 1;
}

static void test_grant_ends_with_its_grantors_key(void)
{
    char lena[32];
    char keys[512];
    charter *c = NULL;
    charter_server *s = server_start("orphan", keys, lena, &c);
    if (!s)
        return;
    charter_error err;
    memset(&err, 0, sizeof err);
    char d1[32], d2[32], d3[32], gid[32];
    escalate(s, c, d1);
    charter_grant_request g = {.duration_ms = HOUR};
    CHECK_INT(charter_ledger_grant(s->ledger, c, d1, "lena", &g, 0, NULL, gid, &err),
              CHARTER_OK);
    int64_t ms = 0;
    escalate(s, c, d2); /* while her key stands: approved by the grant */
    CHECK_INT(wait_resolved(s, d2, &ms), CHARTER_ESC_APPROVED);

    CHECK_INT(charter_access_revoke(keys, lena, &err), CHARTER_OK);
    CHECK_INT(charter_server_reload(s, NULL, &err), CHARTER_OK);
    charter_release(c);
    c = srv_charter(s);
    ((ch_queue *)ch_find_queue(c, "leads"))->grant_max_ms = 8 * HOUR;
    escalate(s, c, d3);
    charter_escalation_status st = CHARTER_ESC_OPEN;
    CHECK_INT(charter_ledger_escalation(s->ledger, d3, 700, take_status, &st, NULL),
              CHARTER_OK);
    CHECK_INT(st, CHARTER_ESC_OPEN);
    charter_grant got;
    memset(&got, 0, sizeof got);
    CHECK_INT(charter_ledger_grants(s->ledger, false, charter_now_ms(), take_grant, &got,
                                    NULL),
              CHARTER_OK);
    CHECK(got.revoked);
    CHECK_STR(got.revoked_by ? got.revoked_by : "", "charter serve");
    charter_release(c);
    CHECK_INT(charter_server_stop(s, &err), CHARTER_OK);
}

int main(void)
{
    test_dir_make("server-grant", dir, sizeof dir);
    RUN(test_deadline_thread_applies_grants_on_change);
    RUN(test_concurrent_escalations_respect_the_cap);
    RUN(test_grant_ends_with_its_grantors_key);
    test_dir_remove(dir);
    return TEST_DONE();
}
