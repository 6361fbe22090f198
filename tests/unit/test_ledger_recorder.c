/* test_ledger_recorder.c - deciding through the ledger: what is recorded,
 * stop-rule counters that survive a restart, escalation resolutions,
 * failing closed, concurrency, and replay against a new charter.
 */
#include "test.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "ledger/recorder.h"

static const char charter_a[] =
    "charter: 1\n"
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    department: support\n"
    "    owner: ana@tiny.example\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund]\n"
    "    escalate_to: leads\n"
    "    stop_rules:\n"
    "      - id: run-budget\n"
    "        max_actions_per_run: 3\n"
    "        message: Three refunds per run.\n"
    "      - id: day-budget\n"
    "        spend: input.amount\n"
    "        max_spend_per_day: 1000\n"
    "        message: Daily refund budget spent.\n"
    "agents:\n"
    "  - {id: support-bot, department: support, owner: ana@tiny.example,"
    " workflows: [refunds]}\n"
    "rules:\n"
    "  - id: large-refund\n"
    "    workflows: [refunds]\n"
    "    actions: [issue_refund]\n"
    "    when: input.amount > THRESHOLD\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: Large refunds need a lead.\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n";

static char tmpdir[256], path[512];

static void fresh_dir(void)
{
    test_dir_make("ledger-rec", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
}

static void remove_dir(void)
{
    test_dir_remove(tmpdir);
}

/* The test charter with the large-refund threshold set. */
static charter *load_charter(int threshold)
{
    char yaml[sizeof charter_a + 16], num[16];
    snprintf(num, sizeof num, "%d", threshold);
    const char *at = strstr(charter_a, "THRESHOLD");
    size_t head = (size_t)(at - charter_a);
    snprintf(yaml, sizeof yaml, "%.*s%s%s", (int)head, charter_a, num,
             at + strlen("THRESHOLD"));
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("test.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot load the test charter: %s\n", err.message);
        exit(1);
    }
    return c;
}

typedef struct answer {
    charter_status status;
    char decision[16], reason[64], id[32];
    char *json;
    char error[1024]; /* err.message: what the caller logs */
} answer;

static answer decide(charter_ledger *l, charter_decider *d, const charter *c,
                     const char *request)
{
    answer a;
    memset(&a, 0, sizeof a);
    size_t n = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    a.status = charter_ledger_decide(l, d, c, request, strlen(request),
                                     charter_now_ms(), &a.json, &n, &err);
    snprintf(a.error, sizeof a.error, "%s", err.message);
    json_t *j = a.json ? json_loads(a.json, 0, NULL) : NULL;
    const char *s;
    if ((s = json_string_value(json_object_get(j, "decision"))))
        snprintf(a.decision, sizeof a.decision, "%s", s);
    if ((s = json_string_value(json_object_get(j, "reason"))))
        snprintf(a.reason, sizeof a.reason, "%s", s);
    if ((s = json_string_value(json_object_get(j, "decision_id"))))
        snprintf(a.id, sizeof a.id, "%s", s);
    json_decref(j);
    return a;
}

static void answer_free(answer *a)
{
    free(a->json);
    a->json = NULL;
}

static char *refund(int amount, const char *run_id, const char *extra)
{
    static _Thread_local char buf[512]; /* one per deciding thread */
    snprintf(buf, sizeof buf,
             "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":"
             "\"issue_refund\",\"input\":{\"amount\":%d}%s%s%s%s}",
             amount, run_id ? ",\"run_id\":\"" : "", run_id ? run_id : "",
             run_id ? "\"" : "", extra ? extra : "");
    return buf;
}

static char *query_text(const char *sql)
{
    sqlite3 *db;
    char *out = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            out = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

static void test_decision_is_recorded_after_its_charter_version(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    answer a = decide(l, d, c, refund(20, "run-1", NULL));
    CHECK_INT(a.status, CHARTER_OK);
    CHECK_STR(a.decision, "allow");
    CHECK_STR(a.id, "d-2");
    CHECK(a.json && !strncmp(a.json, "{\"decision_id\":\"d-2\",\"decision\":", 32));
    answer_free(&a);
    a = decide(l, d, c, refund(30, "run-1", NULL));
    CHECK_STR(a.id, "d-3"); /* the version is recorded once */
    answer_free(&a);
    charter *c2 = load_charter(100);
    a = decide(l, d, c2, refund(30, "run-2", NULL));
    CHECK_STR(a.id, "d-5"); /* a new version: its charter entry is 4 */
    answer_free(&a);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);

    char *kind1 = query_text("SELECT kind FROM entries WHERE seq = 1");
    char *kind4 = query_text("SELECT kind FROM entries WHERE seq = 4");
    char *version = query_text("SELECT json_extract(payload, '$.version') FROM entries"
                               " WHERE seq = 1");
    char *req = query_text("SELECT json_extract(payload, '$.counters.run.actions')"
                           " FROM entries WHERE seq = 3");
    char *agent = query_text("SELECT json_extract(payload, '$.request.agent')"
                             " FROM entries WHERE seq = 3");
    char *latency = query_text("SELECT json_extract(payload, '$.latency_us') FROM entries"
                               " WHERE seq = 2");
    CHECK_STR(kind1, "charter");
    CHECK_STR(kind4, "charter");
    CHECK_STR(version, charter_version(c));
    CHECK_STR(req, "1"); /* the counters the decision was made with */
    CHECK_STR(agent, "support-bot"); /* the request as sent */
    free(agent);
    CHECK(latency != NULL);
    free(kind1);
    free(kind4);
    free(version);
    free(req);
    free(latency);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, 5);
    charter_release(c);
    charter_release(c2);
    charter_decider_free(d);
    remove_dir();
}

static void test_invalid_request_is_refused_and_not_recorded(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    answer a = decide(l, d, c, "{\"agent\":");
    CHECK_INT(a.status, CHARTER_E_JSON);
    CHECK(a.json == NULL);
    a = decide(l, d, c, "[1,2]");
    CHECK_INT(a.status, CHARTER_E_REQUEST);
    a = decide(l, d, c, "{\"agent\":\"support-bot\",\"workflow\":\"refunds\"}");
    CHECK_INT(a.status, CHARTER_E_REQUEST);
    a = decide(l, d, c, refund(5, NULL, ",\"bogus\":1"));
    CHECK_INT(a.status, CHARTER_E_REQUEST);
    a = decide(l, d, c, refund(5, NULL, NULL));
    CHECK_STR(a.id, "d-2");
    answer_free(&a);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_release(c);
    charter_decider_free(d);
    remove_dir();
}

static void test_ledger_counters_replace_the_request_counters(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    /* The agent claims a fresh run each time; the ledger knows better. */
    const char *lie = ",\"counters\":{\"run\":{\"actions\":0,\"spend\":0},"
                      "\"day\":{\"actions\":0,\"spend\":0}}";
    for (int i = 0; i < 3; i++) {
        answer a = decide(l, d, c, refund(10, "run-7", lie));
        CHECK_STR(a.decision, "allow");
        answer_free(&a);
    }
    answer a = decide(l, d, c, refund(10, "run-7", lie));
    CHECK_STR(a.decision, "deny");
    CHECK_STR(a.reason, "stop_rule");
    CHECK(a.json && strstr(a.json, "run-budget"));
    answer_free(&a);
    /* And a run that claims to be exhausted is not. */
    const char *spent = ",\"counters\":{\"run\":{\"actions\":99,\"spend\":0},"
                        "\"day\":{\"actions\":0,\"spend\":0}}";
    a = decide(l, d, c, refund(10, "run-8", spent));
    CHECK_STR(a.decision, "allow");
    answer_free(&a);
    charter_counters cnt;
    charter_ledger_counters(l, "support-bot", "run-7", charter_now_ms(), &cnt);
    CHECK_INT(cnt.run_actions, 3); /* the deny did not count */
    CHECK_INT(cnt.day_actions, 4);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    /* Replay decides with the ledger's counters too: the fourth refund of
     * run-7 stays denied although the agent claimed a fresh run. */
    charter_replay_summary sum;
    CHECK_INT(charter_ledger_replay(path, c, 0, NULL, NULL, &sum, NULL), CHARTER_OK);
    CHECK_INT(sum.decisions, 5);
    CHECK_INT(sum.changed, 0);
    CHECK_INT(sum.unchanged, 5);
    charter_release(c);
    charter_decider_free(d);
    remove_dir();
}

static void test_counters_are_rebuilt_when_the_ledger_reopens(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    for (int i = 0; i < 3; i++) {
        answer a = decide(l, d, c, refund(10, "run-9", NULL));
        answer_free(&a);
    }
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    charter_counters cnt;
    charter_ledger_counters(l, "support-bot", "run-9", charter_now_ms(), &cnt);
    CHECK_INT(cnt.run_actions, 3);
    CHECK_INT(cnt.day_actions, 3);
    answer a = decide(l, d, c, refund(10, "run-9", NULL));
    CHECK_STR(a.decision, "deny");
    CHECK_STR(a.reason, "stop_rule");
    answer_free(&a);
    /* The day counter is per UTC day of the decision time. */
    a = decide(l, d, c, refund(10, "run-10", ",\"time\":\"2020-01-01T12:00:00Z\""));
    CHECK_STR(a.decision, "allow");
    answer_free(&a);
    int64_t old = 0;
    charter_time_parse("2020-01-01T23:59:59Z", &old);
    charter_ledger_counters(l, "support-bot", NULL, old, &cnt);
    CHECK_INT(cnt.day_actions, 1);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_release(c);
    charter_decider_free(d);
    remove_dir();
}

/* The state is rebuilt from the entries' text: strings with JSON escapes
 * (a run id with quotes, a backslash and a non-ASCII letter; a note over
 * several lines) come back decoded, as the decisions were made with them. */
static int take_note(const charter_escalation *e, void *user)
{
    snprintf(user, 128, "%s|%s|%s", e->run_id, e->resolved_by ? e->resolved_by : "",
             e->note ? e->note : "(none)");
    return 1;
}

static void test_rebuild_decodes_escaped_strings(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    const char *run = "r \\\"\\u00e9\\\" \\\\ x"; /* JSON text of: r "é" \ x */
    const char *decoded = "r \"\xc3\xa9\" \\ x";
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    answer a = decide(l, d, c, refund(10, run, NULL));
    CHECK_STR(a.decision, "allow");
    answer_free(&a);
    answer esc = decide(l, d, c, refund(300, run, NULL));
    CHECK_STR(esc.decision, "escalate");
    charter_error err;
    CHECK_INT(charter_ledger_resolve(l, c, esc.id, "lead \"Ana\"", CHARTER_RESOLVE_APPROVE,
                                     "line one\nline \"two\"\t\xc3\xa9", 0, NULL, &err),
              CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    charter_counters cnt;
    charter_ledger_counters(l, "support-bot", decoded, charter_now_ms(), &cnt);
    CHECK_INT(cnt.run_actions, 2); /* the allow and the approved escalation */
    CHECK(cnt.run_spend == 310);
    char got[128] = "";
    CHECK_INT(charter_ledger_escalation(l, esc.id, 0, take_note, got, &err), CHARTER_OK);
    char want[128];
    snprintf(want, sizeof want, "%s|%s|%s", decoded, "lead \"Ana\"",
             "line one\nline \"two\"\t\xc3\xa9");
    CHECK_STR(got, want);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    answer_free(&esc);
    charter_release(c);
    charter_decider_free(d);
    remove_dir();
}

static void test_spend_counts_against_the_day_budget(void)
{
    fresh_dir();
    charter *c = load_charter(2000);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    answer a = decide(l, d, c, refund(600, "s-1", NULL));
    CHECK_STR(a.decision, "allow");
    answer_free(&a);
    charter_counters cnt;
    charter_ledger_counters(l, "support-bot", "s-1", charter_now_ms(), &cnt);
    CHECK(cnt.day_spend == 600);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    a = decide(l, d, c, refund(600, "s-2", NULL));
    CHECK_STR(a.decision, "deny"); /* 600 + 600 > 1000, after a restart */
    CHECK_STR(a.reason, "stop_rule");
    answer_free(&a);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_release(c);
    charter_decider_free(d);
    remove_dir();
}

static void test_escalation_counts_once_approved_and_resolves_once(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    answer esc = decide(l, d, c, refund(300, "run-e", NULL));
    CHECK_STR(esc.decision, "escalate");
    answer esc2 = decide(l, d, c, refund(400, "run-e", NULL));
    answer ok = decide(l, d, c, refund(10, "run-e", NULL));
    charter_counters cnt;
    charter_ledger_counters(l, "support-bot", "run-e", charter_now_ms(), &cnt);
    CHECK_INT(cnt.run_actions, 1);
    charter_error err;
    charter_resolve_result done;
    CHECK_INT(charter_ledger_resolve(l, c, esc.id, "lead@tiny.example",
                                     CHARTER_RESOLVE_APPROVE, "ok, loyal customer", 0,
                                     &done, &err), CHARTER_OK);
    CHECK(done.seq > 0);
    CHECK_INT(charter_ledger_resolve(l, c, esc2.id, "lead@tiny.example",
                                     CHARTER_RESOLVE_DENY, "no", 0, NULL, &err),
              CHARTER_OK);
    charter_ledger_counters(l, "support-bot", "run-e", charter_now_ms(), &cnt);
    CHECK_INT(cnt.run_actions, 2); /* the approval counts, the denial not */
    CHECK_INT(charter_ledger_resolve(l, c, esc.id, "x", CHARTER_RESOLVE_DENY, NULL, 0,
                                     NULL, &err), CHARTER_E_DUPLICATE);
    CHECK_HAS(err.message, "already resolved");
    CHECK_INT(charter_ledger_resolve(l, c, ok.id, "x", CHARTER_RESOLVE_DENY, NULL, 0,
                                     NULL, &err), CHARTER_E_REF);
    CHECK_HAS(err.message, "not escalated");
    CHECK_INT(charter_ledger_resolve(l, c, "d-999", "x", CHARTER_RESOLVE_DENY, NULL, 0,
                                     NULL, &err), CHARTER_E_REF);
    CHECK_INT(charter_ledger_resolve(l, c, esc2.id, "", CHARTER_RESOLVE_DENY, NULL, 0,
                                     NULL, &err), CHARTER_E_INVALID);
    charter_outcome o = {.decision_id = esc.id, .metric = "customer_complaint",
                         .value = 1, .note = "came back angry"};
    CHECK_INT(charter_ledger_outcome(l, &o, NULL, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    /* After a restart: still resolved, still counted. */
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    charter_ledger_counters(l, "support-bot", "run-e", charter_now_ms(), &cnt);
    CHECK_INT(cnt.run_actions, 2);
    CHECK_INT(charter_ledger_resolve(l, c, esc2.id, "x", CHARTER_RESOLVE_APPROVE, NULL, 0,
                                     NULL, &err), CHARTER_E_DUPLICATE);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    answer_free(&esc);
    answer_free(&esc2);
    answer_free(&ok);
    charter_release(c);
    charter_decider_free(d);
    remove_dir();
}

static void test_unwritable_ledger_gives_a_deny_and_records_nothing(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger_options opt = {.busy_timeout_ms = 50};
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, &opt, &l, NULL), CHARTER_OK);
    answer a = decide(l, d, c, refund(10, "run-x", NULL));
    CHECK_STR(a.decision, "allow");
    answer_free(&a);
    /* Another connection holds the write lock: the ledger is unavailable. */
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    a = decide(l, d, c, refund(10, "run-x", NULL));
    CHECK_INT(a.status, CHARTER_E_IO);
    CHECK_STR(a.decision, "deny");
    CHECK_STR(a.reason, "ledger_unavailable");
    CHECK_STR(a.id, "");
    /* The agent is told the decision could not be recorded, and nothing of
     * the file or of SQLite; the caller's error has the details to log. */
    CHECK(a.json && strstr(a.json, "could not be recorded"));
    CHECK(a.json && !strstr(a.json, "locked") && !strstr(a.json, path) &&
          !strstr(a.json, "sqlite") && !strstr(a.json, "ledger.db"));
    CHECK_HAS(a.error, "locked");
    CHECK_HAS(a.error, path);
    answer_free(&a);
    charter_ledger_health h;
    charter_ledger_health_get(l, &h);
    CHECK(!h.ok);
    CHECK_STR(h.reason, "busy");
    CHECK_HAS(h.message, "locked");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    /* The lock is gone: the writer notices by itself, with no decision. */
    for (int i = 0; i < 100 && (charter_ledger_health_get(l, &h), !h.ok); i++)
        usleep(20 * 1000);
    CHECK(h.ok);
    CHECK(h.reason == NULL);
    /* The failed decision did not count and left no entry. */
    charter_counters cnt;
    charter_ledger_counters(l, "support-bot", "run-x", charter_now_ms(), &cnt);
    CHECK_INT(cnt.run_actions, 1);
    a = decide(l, d, c, refund(10, "run-x", NULL));
    CHECK_STR(a.id, "d-3");
    answer_free(&a);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_release(c);
    charter_decider_free(d);
    remove_dir();
}

static void test_full_disk_gives_a_deny(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    ledger_store_config cfg = {.max_pages = 30};
    charter_ledger *l = NULL;
    CHECK_INT(ledger_open_with(path, NULL, &cfg, &l, NULL), CHARTER_OK);
    int allowed = 0, unavailable = 0;
    for (int i = 0; i < 300 && !unavailable; i++) {
        answer a = decide(l, d, c, refund(10, NULL, NULL));
        if (a.status == CHARTER_OK)
            allowed++;
        else if (a.status == CHARTER_E_IO && !strcmp(a.reason, "ledger_unavailable"))
            unavailable++;
        answer_free(&a);
    }
    CHECK(allowed > 0);
    CHECK_INT(unavailable, 1);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, allowed + 1); /* + the charter entry */
    charter_release(c);
    charter_decider_free(d);
    remove_dir();
}

/* The disk fills up under a running ledger, then space comes back: the
 * ledger denies while it cannot write (ledger_unavailable, nothing counted),
 * and records again once it can, without being reopened. The "disk" is the
 * file-size limit (RLIMIT_FSIZE: writes past it fail with EFBIG, as they
 * fail with ENOSPC on a full disk), set in a child process so the rest of
 * the tests keep theirs. */
static int full_disk_then_recovery(void)
{
    signal(SIGXFSZ, SIG_IGN);
    charter *c = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    if (charter_ledger_open(path, NULL, &l, NULL) != CHARTER_OK)
        return 10;
    answer a = decide(l, d, c, refund(10, "run-f", NULL));
    int bad = strcmp(a.decision, "allow") != 0;
    answer_free(&a);
    /* No file may grow past what the ledger's files hold now. */
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct stat st_db, st_wal;
    if (bad || stat(path, &st_db) != 0 || stat(wal, &st_wal) != 0)
        return 11;
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    struct rlimit full = {.rlim_cur = (rlim_t)(st_db.st_size > st_wal.st_size
                                                   ? st_db.st_size : st_wal.st_size),
                          .rlim_max = rl.rlim_max};
    if (setrlimit(RLIMIT_FSIZE, &full) != 0)
        return 12;
    int allowed = 1, unavailable = 0;
    for (int i = 0; i < 200 && !unavailable; i++) {
        a = decide(l, d, c, refund(10, "run-f", NULL));
        if (a.status == CHARTER_OK && !strcmp(a.decision, "allow"))
            allowed++;
        else if (a.status == CHARTER_E_IO && !strcmp(a.decision, "deny") &&
                 !strcmp(a.reason, "ledger_unavailable") && !strcmp(a.id, "")) {
            unavailable++;
            json_t *j = json_loads(a.json, 0, NULL);
            printf("full after %d decisions: %s\n", allowed,
                   json_string_value(json_object_get(j, "explanation")));
            json_decref(j);
        }
        else
            bad = 1;
        answer_free(&a);
    }
    if (bad || !unavailable)
        return 13;
    /* Still full: still denied, and nothing was counted. */
    a = decide(l, d, c, refund(10, "run-f", NULL));
    bad = a.status != CHARTER_E_IO || strcmp(a.reason, "ledger_unavailable") != 0;
    answer_free(&a);
    charter_counters cnt;
    charter_ledger_counters(l, "support-bot", "run-f", charter_now_ms(), &cnt);
    if (bad || cnt.run_actions != allowed)
        return 14;
    /* Space again: the next decision is recorded. */
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 15;
    a = decide(l, d, c, refund(10, "run-f2", NULL));
    bad = a.status != CHARTER_OK || strcmp(a.decision, "allow") != 0 || !a.id[0];
    answer_free(&a);
    if (bad)
        return 16;
    allowed++;
    if (charter_ledger_close(l, NULL) != CHARTER_OK)
        return 17;
    charter_ledger_report r;
    if (charter_ledger_verify(path, NULL, &r, NULL) != CHARTER_OK || !r.ok ||
        r.entries != (uint64_t)allowed + 1) /* + the charter entry */
        return 18;
    charter_release(c);
    charter_decider_free(d);
    return 0;
}

static void test_full_disk_fails_closed_then_recovers(void)
{
    fresh_dir();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = full_disk_then_recovery();
        fflush(stdout);
        _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
    remove_dir();
}

typedef struct decider_thread {
    charter_ledger *l;
    const charter *c;
    int allowed, denied, failed;
    char ids[100][32];
} decider_thread;

static void *decide_many(void *arg)
{
    decider_thread *t = arg;
    charter_decider *d = NULL;
    charter_decider_new(&d);
    for (int i = 0; i < 100; i++) {
        answer a = decide(t->l, d, t->c, refund(10, "shared-run", NULL));
        if (a.status != CHARTER_OK)
            t->failed++;
        else if (!strcmp(a.decision, "allow"))
            t->allowed++;
        else
            t->denied++;
        snprintf(t->ids[i], sizeof t->ids[i], "%s", a.id);
        answer_free(&a);
    }
    charter_decider_free(d);
    return NULL;
}

static void test_concurrent_decisions_share_one_budget_and_all_are_recorded(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    enum { THREADS = 8 };
    static decider_thread t[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].l = l;
        t[i].c = c;
        pthread_create(&th[i], NULL, decide_many, &t[i]);
    }
    int allowed = 0, denied = 0, failed = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        allowed += t[i].allowed;
        denied += t[i].denied;
        failed += t[i].failed;
    }
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    CHECK_INT(failed, 0);
    CHECK_INT(allowed, 3); /* max_actions_per_run: 3, however many threads */
    CHECK_INT(denied, THREADS * 100 - 3);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    CHECK_INT(r.entries, THREADS * 100 + 1);
    charter_release(c);
    remove_dir();
}

/* Deciding without waiting: many decisions queued from one thread before
 * any is durable, each called back once, then settled. */
typedef struct waiting {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
} waiting;

static void on_ready(void *user)
{
    waiting *w = user;
    pthread_mutex_lock(&w->mu);
    w->ready++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int count_open(const charter_escalation *e, void *user)
{
    (void)e;
    (*(int *)user)++;
    return 0;
}

static void test_decisions_begun_without_waiting_are_called_back_and_recorded(void)
{
    fresh_dir();
    charter *c = load_charter(200);
    charter_ledger *l = NULL;
    charter_decider *d = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(charter_decider_new(&d), CHARTER_OK);
    enum { N = 50 };
    waiting w = {.ready = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    charter_ledger_ticket *t[N];
    int begun = 0;
    for (int i = 0; i < N; i++) {
        /* Of every five: four small refunds in one run (the fourth is over
         * max_actions_per_run: 3, so the counters must count decisions still
         * queued, not yet durable) and a large one, escalated. */
        char run[16];
        snprintf(run, sizeof run, "%c%d", i % 5 == 4 ? 'e' : 'r', i / 5);
        const char *req = refund(i % 5 == 4 ? 500 : 10, run, NULL);
        charter_request *r = NULL;
        CHECK_INT(charter_request_parse(req, strlen(req), &r, NULL), CHARTER_OK);
        char *early = NULL;
        size_t n = 0;
        t[i] = NULL;
        charter_status st = charter_ledger_decide_begin(l, d, c, r, req, strlen(req),
                                                        charter_now_ms(), on_ready, &w,
                                                        &t[i], &early, &n, NULL);
        charter_request_free(r);
        CHECK_INT(st, CHARTER_OK);
        CHECK(t[i] != NULL);
        CHECK(early == NULL);
        if (t[i])
            begun++;
    }
    pthread_mutex_lock(&w.mu);
    while (w.ready < begun)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    int allowed = 0, denied = 0, escalated = 0, ids = 0;
    for (int i = 0; i < N; i++) {
        if (!t[i])
            continue;
        char *ans = NULL;
        size_t n = 0;
        CHECK_INT(charter_ledger_decide_end(t[i], &ans, &n, NULL), CHARTER_OK);
        CHECK(ans && n == strlen(ans));
        ids += ans && !strncmp(ans, "{\"decision_id\":\"d-", 18);
        allowed += ans && strstr(ans, "\"decision\":\"allow\"") != NULL;
        denied += ans && strstr(ans, "\"decision\":\"deny\"") != NULL;
        escalated += ans && strstr(ans, "\"decision\":\"escalate\"") != NULL;
        free(ans);
    }
    CHECK_INT(w.ready, N);
    CHECK_INT(ids, N);
    CHECK_INT(allowed, 3 * N / 5);
    CHECK_INT(denied, N / 5);
    CHECK_INT(escalated, N / 5);
    /* Settling opened the escalations. */
    int open = 0;
    CHECK_INT(charter_ledger_escalations(l, NULL, true, count_open, &open, NULL), CHARTER_OK);
    CHECK_INT(open, N / 5);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    charter_ledger_report rep;
    CHECK_INT(charter_ledger_verify(path, NULL, &rep, NULL), CHARTER_OK);
    CHECK(rep.ok);
    CHECK_INT(rep.entries, N + 1); /* and the charter version */
    charter_decider_free(d);
    charter_release(c);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    remove_dir();
}

typedef struct changes {
    int n;
    char line[4][200];
} changes;

static int on_change(const charter_replay_change *ch, void *user)
{
    changes *cs = user;
    if (cs->n < 4) {
        snprintf(cs->line[cs->n], sizeof cs->line[cs->n], "%s %s->%s %s+%s",
                 ch->decision_id, charter_effect_name(ch->before),
                 charter_effect_name(ch->after), ch->after_reason,
                 ch->added_count ? ch->added[0] : "");
    }
    cs->n++;
    return 0;
}

static void test_replay_lists_the_decisions_a_new_charter_changes(void)
{
    fresh_dir();
    charter *old = load_charter(200);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    int amounts[] = {20, 100, 300};
    for (int i = 0; i < 3; i++) {
        answer a = decide(l, d, old, refund(amounts[i], NULL, NULL));
        answer_free(&a);
    }
    charter_outcome o = {.workflow = "refunds", .from_ms = 0, .to_ms = 1, .metric = "m"};
    CHECK_INT(charter_ledger_outcome(l, &o, NULL, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);

    charter *stricter = load_charter(50);
    changes cs = {0};
    charter_replay_summary sum;
    CHECK_INT(charter_ledger_replay(path, stricter, 0, on_change, &cs, &sum, NULL),
              CHARTER_OK);
    CHECK_INT(sum.decisions, 3);
    CHECK_INT(sum.changed, 1);
    CHECK_INT(sum.to_escalate, 1);
    CHECK_INT(sum.unchanged, 2);
    CHECK_INT(sum.errors, 0);
    CHECK_INT(cs.n, 1);
    CHECK_STR(cs.line[0], "d-3 allow->escalate rule+rule:large-refund");
    /* Replaying under the same charter changes nothing. */
    CHECK_INT(charter_ledger_replay(path, old, 0, on_change, &cs, &sum, NULL), CHARTER_OK);
    CHECK_INT(sum.changed, 0);
    CHECK_INT(sum.unchanged, 3);
    /* --since after every decision: nothing replayed. */
    CHECK_INT(charter_ledger_replay(path, stricter, charter_now_ms() + 60000, NULL, NULL,
                                    &sum, NULL), CHARTER_OK);
    CHECK_INT(sum.decisions, 0);
    charter_release(old);
    charter_release(stricter);
    charter_decider_free(d);
    remove_dir();
}

int main(void)
{
    RUN(test_decision_is_recorded_after_its_charter_version);
    RUN(test_invalid_request_is_refused_and_not_recorded);
    RUN(test_ledger_counters_replace_the_request_counters);
    RUN(test_counters_are_rebuilt_when_the_ledger_reopens);
    RUN(test_rebuild_decodes_escaped_strings);
    RUN(test_spend_counts_against_the_day_budget);
    RUN(test_escalation_counts_once_approved_and_resolves_once);
    RUN(test_unwritable_ledger_gives_a_deny_and_records_nothing);
    RUN(test_full_disk_gives_a_deny);
    RUN(test_full_disk_fails_closed_then_recovers);
    RUN(test_concurrent_decisions_share_one_budget_and_all_are_recorded);
    RUN(test_replay_lists_the_decisions_a_new_charter_changes);
    RUN(test_decisions_begun_without_waiting_are_called_back_and_recorded);
    return TEST_DONE();
}
