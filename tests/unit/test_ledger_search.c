/* test_ledger_search.c - the derived search index `<ledger>.search`
 * (src/ledger/search.h): built from a real ledger in a scratch folder,
 * followed as the ledger grows, rebuilt when deleted, foreign or of another
 * ledger; filters, keyset paging, rule matches, escalation status after
 * approval, denial, timeout and a move, outcomes, charter versions.
 */
#include "test.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "ledger/search.h"

#include "tiny_queues.h"


#define T0 1795000000000LL
#define MIN 60000LL

static char tmpdir[256], path[512], index_file[600];

static charter *load(void)
{
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("s.yaml", tiny_queues_yaml, strlen(tiny_queues_yaml), &c, &err) !=
        CHARTER_OK) {
        fprintf(stderr, "cannot load the test charter: %s\n", err.message);
        exit(1);
    }
    return c;
}

static charter_ledger *open_ledger(void)
{
    charter_ledger *l = NULL;
    charter_error err;
    if (charter_ledger_open(path, NULL, &l, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, err.message);
        exit(1);
    }
    return l;
}

/* Decides at T0 + minute minutes; the id goes to id (32 bytes). */
static void decide(charter_ledger *l, const charter *c, const char *agent,
                   const char *action, int amount, int minute, char id[32])
{
    char req[256];
    snprintf(req, sizeof req,
             "{\"agent\":\"%s\",\"workflow\":\"refunds\",\"action\":\"%s\","
             "\"input\":{\"amount\":%d},\"run_id\":\"run-%d\"}",
             agent, action, amount, minute);
    charter_decider *d;
    charter_decider_new(&d);
    char *ans = NULL;
    size_t n;
    charter_error err;
    CHECK_INT(charter_ledger_decide(l, d, c, req, strlen(req), T0 + minute * MIN, &ans, &n,
                                    &err),
              CHARTER_OK);
    json_t *j = json_loads(ans, 0, NULL);
    snprintf(id, 32, "%s", json_string_value(json_object_get(j, "decision_id")));
    json_decref(j);
    free(ans);
    charter_decider_free(d);
}

/* The ledger every test starts from, decision ids in ids[]:
 *  0 small refund (allow)            minute 0
 *  1 large refund, approved          minute 1
 *  2 large refund, denied            minute 2
 *  3 close account, moved to tier2   minute 3
 *  4 waive fee, timed out -> allow   minute 4
 *  5 ghost-bot refund (shadow deny)  minute 5
 *  6 small refund (allow)            minute 6
 * and an outcome reported for 1. */
static char ids[7][32];

static void make_ledger(void)
{
    test_dir_make("search", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/l.ledger", tmpdir);
    snprintf(index_file, sizeof index_file, "%s%s", path, LEDGER_SEARCH_SUFFIX);
    charter *c = load();
    charter_ledger *l = open_ledger();
    decide(l, c, "support-bot", "issue_refund", 20, 0, ids[0]);
    decide(l, c, "support-bot", "issue_refund", 500, 1, ids[1]);
    decide(l, c, "support-bot", "issue_refund", 700, 2, ids[2]);
    decide(l, c, "support-bot", "close_account", 0, 3, ids[3]);
    decide(l, c, "support-bot", "waive_fee", 0, 4, ids[4]);
    decide(l, c, "ghost-bot", "issue_refund", 20, 5, ids[5]);
    decide(l, c, "support-bot", "issue_refund", 30, 6, ids[6]);
    charter_error err;
    CHECK_INT(charter_ledger_resolve(l, c, ids[1], "lena", CHARTER_RESOLVE_APPROVE, "fine",
                                     T0 + 10 * MIN, NULL, &err),
              CHARTER_OK);
    CHECK_INT(charter_ledger_resolve(l, c, ids[2], "omar", CHARTER_RESOLVE_DENY, "too much",
                                     T0 + 11 * MIN, NULL, &err),
              CHARTER_OK);
    size_t n = 0;
    /* lenient (30 min) times out with allow; tier1 (1 h) moves to tier2. */
    CHECK_INT(charter_ledger_expire(l, c, T0 + 70 * MIN, &n, &err), CHARTER_OK);
    CHECK_INT(n, 2);
    charter_outcome o = {.decision_id = ids[1], .metric = "complaint", .value = 1,
                         .note = "called back", .time_ms = T0 + 20 * MIN};
    CHECK_INT(charter_ledger_outcome(l, &o, NULL, &err), CHARTER_OK);
    charter_ledger_close(l, NULL);
    charter_release(c);
}

static ledger_search *index_all(ledger_search_step *step)
{
    ledger_search *x = NULL;
    charter_error err;
    CHECK_INT(ledger_search_open(path, &x, NULL, &err), CHARTER_OK);
    if (!x) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    CHECK_INT(ledger_search_update(x, 0, step, &err), CHARTER_OK);
    return x;
}

/* What a search returned, in order. */
typedef struct found {
    int n;
    uint64_t seq[64];
    int final[64], answered[64], status[64];
    char rules[64][128];
    char version[80];
    bool shadow[64];
} found;

static int collect(const ledger_search_row *r, void *user)
{
    found *f = user;
    if (f->n < 64) {
        f->seq[f->n] = r->seq;
        f->final[f->n] = r->final;
        f->answered[f->n] = r->answered;
        f->status[f->n] = r->status;
        f->shadow[f->n] = r->shadow;
        snprintf(f->rules[f->n], sizeof f->rules[0], "%s", r->rules_json);
        snprintf(f->version, sizeof f->version, "%s", r->charter_version);
    }
    f->n++;
    return 0;
}

static found search(const ledger_search_filter *flt, uint64_t *through)
{
    found f;
    memset(&f, 0, sizeof f);
    ledger_search_position pos = {0};
    charter_error err;
    CHECK_INT(ledger_search_decisions(path, flt, collect, &f, &pos, &err), CHARTER_OK);
    if (through)
        *through = pos.indexed_through;
    return f;
}

static uint64_t seq_of(const char *id)
{
    uint64_t s = 0;
    charter_decision_id_parse(id, &s);
    return s;
}

static void test_builds_every_decision_newest_first(void)
{
    make_ledger();
    ledger_search_step step;
    ledger_search *x = index_all(&step);
    CHECK(step.indexed > 7);
    CHECK_INT(step.through, step.ledger_seq);
    struct stat st;
    CHECK_INT(stat(index_file, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    uint64_t through = 0;
    found all = search(&f, &through);
    CHECK_INT(all.n, 7);
    CHECK_INT(through, step.ledger_seq);
    CHECK_INT(all.seq[0], seq_of(ids[6]));
    CHECK_INT(all.seq[6], seq_of(ids[0]));
    CHECK_HAS(all.version, "sha256:");
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_escalation_status_after_resolution_and_timeout(void)
{
    make_ledger();
    ledger_search *x = index_all(NULL);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    found all = search(&f, NULL);
    /* newest first: 6 5 4 3 2 1 0 */
    CHECK_INT(all.status[5], LEDGER_SEARCH_APPROVED); /* 1 */
    CHECK_INT(all.final[5], CHARTER_ALLOW);
    CHECK_INT(all.answered[5], CHARTER_ESCALATE);
    CHECK_INT(all.status[4], LEDGER_SEARCH_DENIED);   /* 2 */
    CHECK_INT(all.final[4], CHARTER_DENY);
    CHECK_INT(all.status[3], LEDGER_SEARCH_OPEN);     /* 3: moved, still open */
    CHECK_INT(all.final[3], CHARTER_ESCALATE);
    CHECK_INT(all.status[2], LEDGER_SEARCH_TIMED_OUT); /* 4: on_timeout allow */
    CHECK_INT(all.final[2], CHARTER_ALLOW);
    CHECK_INT(all.status[1], LEDGER_SEARCH_NONE);     /* 5 */
    CHECK(all.shadow[1]);
    CHECK_INT(all.final[1], CHARTER_DENY);
    CHECK_INT(all.status[0], LEDGER_SEARCH_NONE);

    f.status = LEDGER_SEARCH_TIMED_OUT;
    found t = search(&f, NULL);
    CHECK_INT(t.n, 1);
    CHECK_INT(t.seq[0], seq_of(ids[4]));
    ledger_search_filter_init(&f);
    f.decision = CHARTER_ALLOW; /* final: the approved and the timed-out too */
    found a = search(&f, NULL);
    CHECK_INT(a.n, 4);
    ledger_search_filter_init(&f);
    f.decision = CHARTER_ESCALATE;
    found e = search(&f, NULL);
    CHECK_INT(e.n, 1);
    CHECK_INT(e.seq[0], seq_of(ids[3]));
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_filters_combine(void)
{
    make_ledger();
    ledger_search *x = index_all(NULL);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    f.agent = "support-bot";
    CHECK_INT(search(&f, NULL).n, 6);
    f.action = "issue_refund";
    CHECK_INT(search(&f, NULL).n, 4);
    f.since_ms = T0 + 1 * MIN;
    f.until_ms = T0 + 6 * MIN; /* [1, 6): decisions 1 and 2 */
    found r = search(&f, NULL);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.seq[0], seq_of(ids[2]));
    f.reason = "rule";
    CHECK_INT(search(&f, NULL).n, 2);
    f.reason = "boundary";
    CHECK_INT(search(&f, NULL).n, 0);
    ledger_search_filter_init(&f);
    f.run_id = "run-3";
    found run = search(&f, NULL);
    CHECK_INT(run.n, 1);
    CHECK_INT(run.seq[0], seq_of(ids[3]));
    ledger_search_filter_init(&f);
    f.agent = "ghost-bot";
    f.workflow = "refunds";
    CHECK_INT(search(&f, NULL).n, 1);
    f.workflow = "nope";
    CHECK_INT(search(&f, NULL).n, 0);
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_rule_matches_any_fired_id(void)
{
    make_ledger();
    ledger_search *x = index_all(NULL);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    f.rule = "large-refund";
    found r = search(&f, NULL);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.seq[0], seq_of(ids[2]));
    CHECK_INT(r.seq[1], seq_of(ids[1]));
    CHECK_STR(r.rules[0], "[\"large-refund\"]");
    f.status = LEDGER_SEARCH_APPROVED;
    found ap = search(&f, NULL);
    CHECK_INT(ap.n, 1);
    CHECK_INT(ap.seq[0], seq_of(ids[1]));
    ledger_search_rule_counts rc;
    charter_error err;
    CHECK_INT(ledger_search_rule_history(path, "large-refund", T0, &rc, &err), CHARTER_OK);
    CHECK_INT(rc.escalated, 2);
    CHECK_INT(rc.approved, 1);
    CHECK_INT(rc.denied, 1);
    CHECK_INT(rc.timed_out, 0);
    CHECK_INT(rc.open, 0);
    CHECK_INT(ledger_search_rule_history(path, "fees", T0, &rc, &err), CHARTER_OK);
    CHECK_INT(rc.escalated, 1);
    CHECK_INT(rc.timed_out, 1);
    CHECK_INT(ledger_search_rule_history(path, "closing", T0, &rc, &err), CHARTER_OK);
    CHECK_INT(rc.open, 1);
    /* Outside the window: nothing. */
    CHECK_INT(ledger_search_rule_history(path, "large-refund", T0 + 60 * MIN, &rc, &err),
              CHARTER_OK);
    CHECK_INT(rc.escalated, 0);
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_keyset_paging_reaches_the_end_once(void)
{
    make_ledger();
    ledger_search *x = index_all(NULL);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    f.limit = 3;
    uint64_t seen[16];
    int total = 0, pages = 0;
    for (;;) {
        found p = search(&f, NULL);
        pages++;
        for (int i = 0; i < p.n; i++) {
            CHECK(total == 0 || p.seq[i] < seen[total - 1]);
            seen[total++] = p.seq[i];
        }
        if (p.n < 3 || pages > 5)
            break;
        f.before = p.seq[p.n - 1];
    }
    CHECK_INT(total, 7);
    CHECK_INT(pages, 3);
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

typedef struct history {
    int n;
    char line[16][200];
} history;

static int take_event(const ledger_search_event *e, void *user)
{
    history *h = user;
    if (h->n < 16)
        snprintf(h->line[h->n], sizeof h->line[0], "%s %s %s %s %s", e->event,
                 e->queue ? e->queue : "-", e->by ? e->by : "-", e->note ? e->note : "-",
                 e->metric ? e->metric : "-");
    h->n++;
    return 0;
}

static void test_history_and_outcomes_of_a_decision(void)
{
    make_ledger();
    ledger_search *x = index_all(NULL);
    charter_error err;
    history h = {0};
    CHECK_INT(ledger_search_decision_events(path, seq_of(ids[1]), take_event, &h, &err),
              CHARTER_OK);
    CHECK_INT(h.n, 3);
    CHECK_STR(h.line[0], "escalated leads - - -");
    CHECK_STR(h.line[1], "approved leads lena fine -");
    CHECK_STR(h.line[2], "outcome - - called back complaint");
    memset(&h, 0, sizeof h);
    CHECK_INT(ledger_search_decision_events(path, seq_of(ids[3]), take_event, &h, &err),
              CHARTER_OK);
    CHECK_INT(h.n, 2);
    CHECK_STR(h.line[0], "escalated tier1 - - -");
    CHECK_HAS(h.line[1], "moved tier2");
    memset(&h, 0, sizeof h);
    CHECK_INT(ledger_search_decision_events(path, seq_of(ids[4]), take_event, &h, &err),
              CHARTER_OK);
    CHECK_INT(h.n, 2);
    CHECK_HAS(h.line[1], "timed_out lenient timeout");
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static int take_version(const ledger_search_charter *c, void *user)
{
    snprintf(user, 100, "%s", c->version);
    return 0;
}

static void test_charter_versions_and_their_text(void)
{
    make_ledger();
    ledger_search *x = index_all(NULL);
    char version[100] = "";
    charter_error err;
    CHECK_INT(ledger_search_charters(path, take_version, version, &err), CHARTER_OK);
    CHECK_HAS(version, "sha256:");
    char *text = NULL;
    size_t len = 0;
    CHECK_INT(ledger_search_charter_text(path, version, &text, &len, &err), CHARTER_OK);
    CHECK(text && len > 10 && text[0] == '{');
    CHECK_HAS(text, "large-refund");
    free(text);
    CHECK_INT(ledger_search_charter_text(path, "sha256:nope", &text, &len, &err),
              CHARTER_E_REF);
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_follows_a_growing_ledger(void)
{
    make_ledger();
    ledger_search_step step;
    ledger_search *x = NULL;
    charter_error err;
    CHECK_INT(ledger_search_open(path, &x, NULL, &err), CHARTER_OK);
    /* A little at a time, as the server's thread may. */
    CHECK_INT(ledger_search_update(x, 2, &step, &err), CHARTER_OK);
    CHECK_INT(step.indexed, 2);
    CHECK_INT(step.through, 2);
    CHECK(step.ledger_seq > 2);
    CHECK_INT(ledger_search_update(x, 0, &step, &err), CHARTER_OK);
    uint64_t before = step.through;
    CHECK_INT(step.through, step.ledger_seq);
    CHECK_INT(ledger_search_update(x, 0, &step, &err), CHARTER_OK);
    CHECK_INT(step.indexed, 0);
    /* The ledger grows while the index is open. */
    charter *c = load();
    charter_ledger *l = open_ledger();
    char id[32];
    decide(l, c, "support-bot", "issue_refund", 900, 30, id);
    CHECK_INT(charter_ledger_resolve(l, c, id, "lena", CHARTER_RESOLVE_DENY, "no",
                                     T0 + 31 * MIN, NULL, &err),
              CHARTER_OK);
    CHECK_INT(ledger_search_update(x, 0, &step, &err), CHARTER_OK);
    CHECK(!step.rebuilt);
    CHECK_INT(step.indexed, 2);
    CHECK(step.through > before);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    f.rule = "large-refund";
    f.status = LEDGER_SEARCH_DENIED;
    found r = search(&f, NULL);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.seq[0], seq_of(id));
    charter_ledger_close(l, NULL);
    charter_release(c);
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_rebuilt_after_deletion(void)
{
    make_ledger();
    ledger_search_step step;
    ledger_search *x = index_all(&step);
    uint64_t last = step.through;
    /* Deleted while open: the next update starts a new file. */
    unlink(index_file);
    charter_error err;
    CHECK_INT(ledger_search_update(x, 0, &step, &err), CHARTER_OK);
    CHECK(step.rebuilt);
    CHECK_INT(step.through, last);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    CHECK_INT(search(&f, NULL).n, 7);
    ledger_search_close(x);
    /* Deleted while closed: opened empty, then built again. */
    unlink(index_file);
    x = index_all(&step);
    CHECK_INT(step.indexed, last);
    CHECK_INT(search(&f, NULL).n, 7);
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_foreign_file_is_replaced(void)
{
    make_ledger();
    FILE *fp = fopen(index_file, "w");
    fputs("this is not an SQLite file, it just sits where the index goes\n", fp);
    fclose(fp);
    ledger_search *x = NULL;
    bool rebuilt = false;
    charter_error err;
    CHECK_INT(ledger_search_open(path, &x, &rebuilt, &err), CHARTER_OK);
    CHECK(rebuilt);
    ledger_search_step step;
    CHECK_INT(ledger_search_update(x, 0, &step, &err), CHARTER_OK);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    CHECK_INT(search(&f, NULL).n, 7);
    ledger_search_close(x);
    /* An SQLite file of something else (tables, another application_id). */
    unlink(index_file);
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(index_file, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "PRAGMA application_id=7; CREATE TABLE notes(x);", NULL, NULL,
                           NULL),
              SQLITE_OK);
    sqlite3_close(db);
    rebuilt = false;
    CHECK_INT(ledger_search_open(path, &x, &rebuilt, &err), CHARTER_OK);
    CHECK(rebuilt);
    CHECK_INT(ledger_search_update(x, 0, &step, &err), CHARTER_OK);
    CHECK_INT(search(&f, NULL).n, 7);
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_index_of_another_ledger_is_rebuilt(void)
{
    make_ledger();
    ledger_search_step step;
    ledger_search *x = index_all(&step);
    ledger_search_close(x);
    /* A new ledger under the same name, longer than the old one. */
    char cmd[1700];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", path, path, path);
    CHECK_INT(system(cmd), 0);
    charter *c = load();
    charter_ledger *l = open_ledger();
    char id[32];
    for (int i = 0; i < 15; i++)
        decide(l, c, "other-bot", "issue_refund", 10, i, id);
    charter_ledger_close(l, NULL);
    charter_release(c);
    charter_error err;
    CHECK_INT(ledger_search_open(path, &x, NULL, &err), CHARTER_OK);
    CHECK_INT(ledger_search_update(x, 0, &step, &err), CHARTER_OK);
    CHECK(step.rebuilt);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    CHECK_INT(search(&f, NULL).n, 15);
    f.agent = "support-bot";
    CHECK_INT(search(&f, NULL).n, 0);
    ledger_search_close(x);
    test_dir_remove(tmpdir);
}

static void test_no_index_is_an_error(void)
{
    test_dir_make("search", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/none.ledger", tmpdir);
    ledger_search_filter f;
    ledger_search_filter_init(&f);
    found r;
    memset(&r, 0, sizeof r);
    charter_error err;
    CHECK_INT(ledger_search_decisions(path, &f, collect, &r, NULL, &err), CHARTER_E_IO);
    CHECK_INT(access(tmpdir, F_OK), 0);
    snprintf(index_file, sizeof index_file, "%s%s", path, LEDGER_SEARCH_SUFFIX);
    CHECK(access(index_file, F_OK) != 0); /* a reader creates nothing */
    test_dir_remove(tmpdir);
}

int main(void)
{
    RUN(test_builds_every_decision_newest_first);
    RUN(test_escalation_status_after_resolution_and_timeout);
    RUN(test_filters_combine);
    RUN(test_rule_matches_any_fired_id);
    RUN(test_keyset_paging_reaches_the_end_once);
    RUN(test_history_and_outcomes_of_a_decision);
    RUN(test_charter_versions_and_their_text);
    RUN(test_follows_a_growing_ledger);
    RUN(test_rebuilt_after_deletion);
    RUN(test_foreign_file_is_replaced);
    RUN(test_index_of_another_ledger_is_rebuilt);
    RUN(test_no_index_is_an_error);
    return TEST_DONE();
}
