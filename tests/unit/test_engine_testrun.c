/* test_engine_testrun.c - charter_test_run: counting, failure text, and
 * malformed test files refused with their position. */
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "test.h"

#define DATA CHARTER_SOURCE_DIR "/tests/data/engine"

typedef struct seen {
    int calls;
    char failures[8][1024];
    char names[8][128];
    unsigned lines[8];
    int nfail;
} seen;

static void record(const charter_test_result *r, void *user)
{
    seen *s = user;
    s->calls++;
    CHECK(r->file != NULL && r->name != NULL);
    CHECK(r->passed == (r->failure == NULL));
    if (!r->passed && s->nfail < 8) {
        snprintf(s->failures[s->nfail], sizeof s->failures[0], "%s", r->failure);
        snprintf(s->names[s->nfail], sizeof s->names[0], "%s", r->name);
        s->lines[s->nfail] = r->line;
        s->nfail++;
    }
}

static charter_status run(const char *path, const charter *c, seen *s, size_t *passed,
                          size_t *failed, charter_error *err)
{
    memset(s, 0, sizeof *s);
    memset(err, 0, sizeof *err);
    return charter_test_run(path, c, record, s, passed, failed, err);
}

static void test_passing_file(void)
{
    seen s;
    size_t passed = 9, failed = 9;
    charter_error err;
    charter_status st = run(DATA "/tests/pass.test.yaml", NULL, &s, &passed, &failed, &err);
    CHECK_INT(st, CHARTER_OK);
    if (st != CHARTER_OK)
        fprintf(stderr, "%s\n", err.message);
    CHECK_INT(passed, 3);
    CHECK_INT(failed, 0);
    CHECK_INT(s.calls, 3);
    for (int i = 0; i < s.nfail; i++)
        fprintf(stderr, "unexpected failure: %s: %s\n", s.names[i], s.failures[i]);
}

static void test_failures_say_expected_and_got(void)
{
    seen s;
    size_t passed = 0, failed = 0;
    charter_error err;
    CHECK_INT(run(DATA "/tests/fail.test.yaml", NULL, &s, &passed, &failed, &err), CHARTER_OK);
    CHECK_INT(passed, 1);
    CHECK_INT(failed, 3);
    CHECK_INT(s.nfail, 3);
    CHECK_STR(s.names[0], "wrong decision");
    CHECK_HAS(s.failures[0], "expected allow, got deny");
    CHECK_HAS(s.failures[0], "fired: [refund-cap]");
    CHECK_INT(s.lines[0], 4);
    CHECK_HAS(s.failures[1], "expected queue managers, got leads");
    CHECK_HAS(s.failures[1], "expected obligations [notify_customer], got []");
    CHECK_HAS(s.failures[2], "invalid request");
    CHECK_HAS(s.failures[2], "colour");
}

static void test_directory_runs_every_file_in_order(void)
{
    seen s;
    size_t passed = 0, failed = 0;
    charter_error err;
    CHECK_INT(run(DATA "/tests/", NULL, &s, &passed, &failed, &err), CHARTER_OK);
    CHECK_INT(passed, 4);
    CHECK_INT(failed, 3);
    CHECK_INT(s.calls, 7);
}

static void test_given_charter_overrides_the_file(void)
{
    static const char yaml[] =
        "organization: {name: Other}\n"
        "values:\n  - {id: v, statement: S}\n"
        "workflows:\n  - {id: refunds, owner: o, autonomy: agent-ready, default: deny,"
        " actions: [issue_refund]}\n"
        "agents:\n  - {id: support-bot, workflows: [refunds]}\n";
    charter *c = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_load_string("other.yaml", yaml, sizeof yaml - 1, &c, &err), CHARTER_OK);
    if (!c)
        return;
    seen s;
    size_t passed = 0, failed = 0;
    CHECK_INT(run(DATA "/tests/pass.test.yaml", c, &s, &passed, &failed, &err), CHARTER_OK);
    /* Only the shadow agent case still holds under the other charter. */
    CHECK_INT(passed, 1);
    CHECK_INT(failed, 2);
    charter_release(c);
}

static void test_malformed_files_are_errors(void)
{
    seen s;
    size_t passed = 0, failed = 0;
    charter_error err;
    CHECK_INT(run(DATA "/bad/unknown-key.test.yaml", NULL, &s, &passed, &failed, &err),
              CHARTER_E_SCHEMA);
    CHECK_HAS(err.message, "decison");
    CHECK_INT(err.line, 5);
    CHECK_HAS(err.file, "unknown-key.test.yaml");
    CHECK_INT(run(DATA "/bad/bad-decision.test.yaml", NULL, &s, &passed, &failed, &err),
              CHARTER_E_SCHEMA);
    CHECK_HAS(err.message, "alow");
    CHECK_INT(err.line, 6);
    CHECK_INT(run(DATA "/bad/bad-reason.test.yaml", NULL, &s, &passed, &failed, &err),
              CHARTER_E_SCHEMA);
    CHECK_HAS(err.message, "found 'defualt'");
    CHECK_HAS(err.message, "augmented_requires_approval");
    CHECK_INT(err.line, 5);
    CHECK_INT(run(DATA "/bad/no-charter.test.yaml", NULL, &s, &passed, &failed, &err),
              CHARTER_E_SCHEMA);
    CHECK_HAS(err.message, "charter");
    CHECK_INT(s.calls, 0);
    CHECK_INT(run(DATA "/nowhere.test.yaml", NULL, &s, &passed, &failed, &err), CHARTER_E_IO);
}

int main(void)
{
    RUN(test_passing_file);
    RUN(test_failures_say_expected_and_got);
    RUN(test_directory_runs_every_file_in_order);
    RUN(test_given_charter_overrides_the_file);
    RUN(test_malformed_files_are_errors);
    return TEST_DONE();
}
