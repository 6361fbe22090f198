/* test_ledger_export.c - an exported entry is one line of valid JSON, even
 * when the recorded request was sent pretty-printed over several lines.
 */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "charter_ledger.h"

static const char charter_yaml[] =
    "charter: 1\n"
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - {id: refunds, department: support, owner: ana@tiny.example,\n"
    "     autonomy: agent-ready, actions: [issue_refund]}\n"
    "agents:\n"
    "  - {id: support-bot, department: support, owner: ana@tiny.example,"
    " workflows: [refunds]}\n";

/* Line breaks between tokens and, escaped, inside a string. */
static const char request[] =
    "{\n  \"agent\": \"support-bot\",\r\n  \"workflow\": \"refunds\",\n"
    "  \"action\": \"issue_refund\",\n"
    "  \"rationale\": \"line one\\nline two\"\n}\n";

typedef struct seen {
    int entries, valid, one_line;
    char rationale[64];
} seen;

static int on_entry(const charter_ledger_entry *e, void *user)
{
    seen *s = user;
    char *text = NULL;
    size_t n = 0;
    if (charter_ledger_entry_json(e, &text, &n) != CHARTER_OK)
        return 1;
    s->entries++;
    if (!memchr(text, '\n', n) && !memchr(text, '\r', n))
        s->one_line++;
    json_error_t jerr;
    json_t *j = json_loadb(text, n, 0, &jerr);
    if (j) {
        s->valid++;
        const char *r = json_string_value(
            json_object_get(json_object_get(json_object_get(j, "payload"), "request"),
                            "rationale"));
        if (r)
            snprintf(s->rationale, sizeof s->rationale, "%s", r);
        json_decref(j);
    }
    free(text);
    return 0;
}

static void test_multiline_request_exports_as_one_line(void)
{
    char dir[] = "/tmp/charter-ledger-export-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/ledger.db", dir);

    charter *c = NULL;
    CHECK_INT(charter_load_string("shop.yaml", charter_yaml, sizeof charter_yaml - 1, &c, NULL),
              CHARTER_OK);
    charter_decider *d = NULL;
    CHECK_INT(charter_decider_new(&d), CHARTER_OK);
    charter_ledger *l = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    char *answer = NULL;
    size_t alen = 0;
    CHECK_INT(charter_ledger_decide(l, d, c, request, sizeof request - 1, charter_now_ms(),
                                    &answer, &alen, NULL),
              CHARTER_OK);
    free(answer);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);

    seen s = {0};
    CHECK_INT(charter_ledger_scan(path, 0, 0, on_entry, &s, NULL), CHARTER_OK);
    CHECK_INT(s.entries, 2); /* the charter version, then the decision */
    CHECK_INT(s.valid, 2);
    CHECK_INT(s.one_line, 2);
    CHECK_STR(s.rationale, "line one\nline two");

    charter_decider_free(d);
    charter_release(c);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    RUN(test_multiline_request_exports_as_one_line);
    return TEST_DONE();
}
