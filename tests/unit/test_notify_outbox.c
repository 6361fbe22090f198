/* test_notify_outbox.c - the outbox (src/notify/outbox.c): a message owed
 * once however often it is written, leased while in flight, retried later
 * after a failure, given up on, listed and counted; the tracked escalations
 * survive closing the file; and the webhook secrets file
 * (charter_webhook_secret_create, ntf_secrets_load).
 */
#include "notify/notify_int.h"

#include <sys/stat.h>

#include "test.h"

static char dir[256];

static sqlite3 *open_outbox(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sqlite3 *db = NULL;
    charter_error err;
    CHECK(ntf_outbox_open(path, true, &db, &err) == CHARTER_OK);
    return db;
}

static void add(sqlite3 *db, const char *id, const char *target, int64_t created,
                bool *added)
{
    ntf_message m;
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "%s", id);
    m.decision_id = "d-7";
    m.queue = "leads";
    m.event = "escalation.opened";
    m.target = target;
    m.format = "webhook";
    m.created_ms = created;
    strbuf_puts(&m.body, "{\"type\":\"escalation.opened\"}");
    CHECK(ntf_message_add(db, &m, added));
    strbuf_release(&m.body);
}

typedef struct rows {
    int n;
    char status[8][16];
    char target[8][128];
    int64_t attempts[8];
} rows;

static int take(const ntf_row *r, void *user)
{
    rows *x = user;
    if (x->n < 8) {
        snprintf(x->status[x->n], sizeof x->status[0], "%s", r->status);
        snprintf(x->target[x->n], sizeof x->target[0], "%s", r->target);
        x->attempts[x->n] = r->attempts;
    }
    x->n++;
    return 0;
}

static void test_a_message_is_owed_once(void)
{
    sqlite3 *db = open_outbox("once.outbox");
    bool added = false;
    add(db, "msg_d-7_opened_1", "http://a.example/hook", 1000, &added);
    CHECK(added);
    add(db, "msg_d-7_opened_1", "http://a.example/hook", 2000, &added);
    CHECK(!added);
    uint64_t pending = 0;
    int64_t oldest = 0;
    CHECK(ntf_pending_stats(db, &pending, &oldest));
    CHECK_INT(pending, 1);
    CHECK_INT(oldest, 1000);
    ntf_outbox_close(db);
}

static void test_lease_retry_and_give_up(void)
{
    sqlite3 *db = open_outbox("retry.outbox");
    bool added;
    add(db, "m1", "http://a.example/hook?token=s3cret", 1000, &added);
    add(db, "m2", "http://a.example/hook?token=s3cret", 1001, &added);
    add(db, "m3", "http://b.example/hook", 1002, &added);
    char **targets = NULL;
    size_t tn = 0;
    CHECK(ntf_due_targets(db, 5000, 0, &targets, &tn));
    CHECK_INT(tn, 2);
    for (size_t i = 0; i < tn; i++)
        free(targets[i]);
    free(targets);
    /* Among the two rows due first, only a's. */
    CHECK(ntf_due_targets(db, 5000, 2, &targets, &tn));
    CHECK_INT(tn, 1);
    CHECK_STR(tn ? targets[0] : "", "http://a.example/hook?token=s3cret");
    for (size_t i = 0; i < tn; i++)
        free(targets[i]);
    free(targets);
    /* One of a's two, leased: the next take gets the other, then none. */
    ntf_due due[4];
    size_t n = 0;
    CHECK(ntf_due_take(db, "http://a.example/hook?token=s3cret", 5000, 50000, 1, due, &n));
    CHECK_INT(n, 1);
    CHECK_STR(due[0].id, "m1");
    CHECK_STR(due[0].body, "{\"type\":\"escalation.opened\"}");
    ntf_due_release(&due[0]);
    CHECK(ntf_due_take(db, "http://a.example/hook?token=s3cret", 5000, 50000, 4, due, &n));
    CHECK_INT(n, 1);
    CHECK_STR(due[0].id, "m2");
    ntf_due_release(&due[0]);
    CHECK(ntf_due_take(db, "http://a.example/hook?token=s3cret", 5000, 50000, 4, due, &n));
    CHECK_INT(n, 0);
    CHECK_INT(ntf_next_due(db), 1002); /* m3, not yet taken */
    /* m1 fails: due again at its retry time; m2 is delivered; m3 given up. */
    CHECK(ntf_mark_failed(db, "m1", "HTTP 500", 7000, false));
    CHECK(ntf_mark_delivered(db, "m2", 5100));
    CHECK(ntf_mark_failed(db, "m3", "connection refused", 0, true));
    CHECK_INT(ntf_next_due(db), 7000);
    CHECK(ntf_due_take(db, "http://a.example/hook?token=s3cret", 6999, 50000, 4, due, &n));
    CHECK_INT(n, 0);
    CHECK(ntf_due_take(db, "http://a.example/hook?token=s3cret", 7000, 50000, 4, due, &n));
    CHECK_INT(n, 1);
    CHECK_INT(due[0].attempts, 1);
    ntf_due_release(&due[0]);
    rows r;
    memset(&r, 0, sizeof r);
    charter_error err;
    CHECK(ntf_outbox_list(db, NTF_FAILING, NULL, take, &r, &err) == CHARTER_OK);
    CHECK_INT(r.n, 1);
    CHECK_STR(r.target[0], "http://a.example/hook\xe2\x80\xa6"); /* the token cut */
    memset(&r, 0, sizeof r);
    CHECK(ntf_outbox_list(db, NTF_FAILED, NULL, take, &r, &err) == CHARTER_OK);
    CHECK_INT(r.n, 1);
    CHECK_STR(r.status[0], "failed");
    memset(&r, 0, sizeof r);
    CHECK(ntf_outbox_list(db, NTF_DELIVERED, "d-7", take, &r, &err) == CHARTER_OK);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.attempts[0], 1);
    memset(&r, 0, sizeof r);
    CHECK(ntf_outbox_list(db, NTF_ANY, "d-8", take, &r, &err) == CHARTER_OK);
    CHECK_INT(r.n, 0);
    /* A week later the delivered and failed rows are forgotten, the owed
     * one is not. */
    CHECK(ntf_prune(db, 1002 + NTF_KEEP_MS + 1));
    memset(&r, 0, sizeof r);
    CHECK(ntf_outbox_list(db, NTF_ANY, NULL, take, &r, &err) == CHARTER_OK);
    CHECK_INT(r.n, 1);
    CHECK_STR(r.status[0], "pending");
    ntf_outbox_close(db);
}

static void test_tracked_survives_reopening(void)
{
    sqlite3 *db = open_outbox("tracked.outbox");
    ntf_tracked a = {.seq = 9, .decision_id = "d-9", .queue = "leads", .deadline_ms = 5,
                     .reminded = 1};
    ntf_tracked b = {.seq = 3, .decision_id = "d-3", .queue = "quick", .deadline_ms = 0};
    CHECK(ntf_tracked_put(db, &a));
    CHECK(ntf_tracked_put(db, &b));
    a.reminded = 3;
    CHECK(ntf_tracked_put(db, &a));
    ntf_outbox_close(db);
    db = open_outbox("tracked.outbox");
    ntf_tracked *t = NULL;
    size_t n = 0;
    CHECK(ntf_tracked_load(db, &t, &n));
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(t[0].decision_id, "d-3");
        CHECK_STR(t[1].queue, "leads");
        CHECK_INT(t[1].reminded, 3);
    }
    ntf_tracked_free(t, n);
    CHECK(ntf_tracked_delete(db, 3));
    int64_t count = 0;
    CHECK(ntf_tracked_count(db, &count));
    CHECK_INT(count, 1);
    ntf_outbox_close(db);
}

static void test_webhook_secrets_file(void)
{
    char keys[300];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    char s1[CHARTER_WEBHOOK_SECRET_SIZE], s2[CHARTER_WEBHOOK_SECRET_SIZE];
    charter_error err;
    CHECK(charter_webhook_secret_create(keys, "leads", false, s1, &err) == CHARTER_OK);
    CHECK(!strncmp(s1, "whsec_", 6) && strlen(s1) == 6 + 44);
    CHECK(charter_webhook_secret_create(keys, "leads", false, s2, &err) ==
          CHARTER_E_DUPLICATE);
    CHECK_HAS(err.message, "--rotate");
    CHECK(charter_webhook_secret_create(keys, "quick", false, s2, &err) == CHARTER_OK);
    CHECK(charter_webhook_secret_create(keys, "bad queue", false, s2, &err) ==
          CHARTER_E_INVALID);
    char path[400];
    snprintf(path, sizeof path, "%s/webhooks.json", keys);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    ntf_secrets *s = NULL;
    CHECK(ntf_secrets_load(keys, &s, &err) == CHARTER_OK);
    CHECK(s && s->n == 2);
    const ntf_secret *k = ntf_secrets_find(s, "leads");
    CHECK(k && k->key_len == 32);
    CHECK(ntf_secrets_find(s, "nobody") == NULL);
    unsigned char before[32];
    if (k)
        memcpy(before, k->key, 32);
    ntf_secrets_free(s);
    CHECK(charter_webhook_secret_create(keys, "leads", true, s2, &err) == CHARTER_OK);
    CHECK(strcmp(s1, s2) != 0);
    CHECK(ntf_secrets_load(keys, &s, &err) == CHARTER_OK);
    k = ntf_secrets_find(s, "leads");
    CHECK(k && s->n == 2 && memcmp(before, k->key, 32) != 0);
    ntf_secrets_free(s);
    /* A damaged file is an error naming it. */
    FILE *f = fopen(path, "w");
    fputs("{\"webhooks\":[{\"queue\":\"leads\",\"secret\":\"nope\"}]}", f);
    fclose(f);
    CHECK(ntf_secrets_load(keys, &s, &err) == CHARTER_E_IO);
    CHECK_HAS(err.message, "webhooks.json: entry 1");
}

int main(void)
{
    test_dir_make("notify-outbox", dir, sizeof dir);
    RUN(test_a_message_is_owed_once);
    RUN(test_lease_retry_and_give_up);
    RUN(test_tracked_survives_reopening);
    RUN(test_webhook_secrets_file);
    test_dir_remove(dir);
    return TEST_DONE();
}
