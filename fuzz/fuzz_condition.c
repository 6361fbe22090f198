/* fuzz_condition.c - a CEL condition the way a charter carries it: the
 * input is the `when` of a rule (and of a stop rule) in a small charter,
 * compiled against the charter's typed environment (agent, workflow,
 * input, counters, now ...) by charter_load_string, then evaluated by the
 * real decider, with its scratch-memory and cost limits, for two requests.
 * fuzz_cel reaches the parser and evaluator with untyped variables; this
 * harness reaches the checker's object types and the decision path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "fuzz.h"

/* 2026-11-24T10:00:00Z */
#define FUZZ_NOW_MS INT64_C(1795514400000)

static const char head[] =
    "organization: {name: Fuzz, purpose: Test conditions.}\n"
    "values:\n"
    "  - {id: trust, statement: Be trusted.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    owner: o\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund]\n"
    "    stop_rules:\n"
    "      - {id: budget, spend: input.amount, max_spend_per_day: 1000, message: m}\n"
    "      - id: stop\n"
    "        message: m\n"
    "        when: \"";
static const char middle[] =
    "\"\n"
    "agents:\n"
    "  - {id: bot, owner: o, workflows: [refunds]}\n"
    "rules:\n"
    "  - id: fuzzed\n"
    "    effect: escalate\n"
    "    protects: trust\n"
    "    message: m\n"
    "    when: \"";
static const char tail[] =
    "\"\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [lead]}, sla: 4h, on_timeout: deny}\n";

static const char *const requests[] = {
    "{\"agent\":\"bot\",\"workflow\":\"refunds\",\"action\":\"issue_refund\","
    "\"input\":{\"amount\":400,\"currency\":\"EUR\",\"tags\":[\"vip\",\"eu\"],"
    "\"when\":\"2026-11-24T09:00:00Z\",\"items\":[1,2,3]},"
    "\"subject\":{\"customer_id\":\"c-1\",\"tenure_years\":4},"
    "\"context\":{\"channel\":\"chat\"},\"rationale\":\"Double charge\","
    "\"confidence\":0.9,\"run_id\":\"r-1\","
    "\"counters\":{\"run\":{\"actions\":1,\"spend\":40},\"day\":{\"actions\":3,\"spend\":500}}}",
    "{\"agent\":\"bot\",\"workflow\":\"refunds\",\"action\":\"issue_refund\","
    "\"input\":{\"amount\":-1.5e300,\"currency\":null,\"tags\":[]},"
    "\"time\":\"1970-01-01T00:00:00Z\"}",
};

/* Appends `data` as the inside of a YAML double-quoted scalar. */
static size_t quote(char *out, const uint8_t *data, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        uint8_t ch = data[i];
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            n += (size_t)snprintf(out + n, 7, "\\u%04x", ch);
        } else {
            out[n++] = (char)ch;
        }
    }
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *yaml = malloc(sizeof head + sizeof middle + sizeof tail + 12 * size);
    if (!yaml)
        abort();
    size_t n = 0;
    memcpy(yaml + n, head, sizeof head - 1);
    n += sizeof head - 1;
    n += quote(yaml + n, data, size);
    memcpy(yaml + n, middle, sizeof middle - 1);
    n += sizeof middle - 1;
    n += quote(yaml + n, data, size);
    memcpy(yaml + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;

    charter *c = NULL;
    charter_error err;
    charter_status s = charter_load_string("fuzz.yaml", yaml, n, &c, &err);
    free(yaml);
    if (s != CHARTER_OK) {
        if (c != NULL)
            abort();
        return 0;
    }
    charter_decider *d = NULL;
    if (charter_decider_new(&d) != CHARTER_OK)
        abort();
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        charter_request *r = NULL;
        if (charter_request_parse(requests[i], strlen(requests[i]), &r, &err) != CHARTER_OK)
            abort();
        const charter_decision *dec = NULL;
        if (charter_decide(d, c, r, FUZZ_NOW_MS, &dec, &err) != CHARTER_OK)
            abort();
        size_t len = 0;
        if (!charter_decision_json(d, dec, &len))
            abort();
        charter_request_free(r);
    }
    charter_decider_free(d);
    charter_release(c);
    return 0;
}
