/* cmd_decide.c - `charter decide --charter PATH [REQUEST|-]`: one decision,
 * recorded in a ledger with --ledger FILE. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter decide --charter PATH [--pretty] [--ledger LEDGER [--key KEY]]\n"
    "                      [REQUEST | FILE | -]\n"
    "\n"
    "Decides one request and prints the answer as JSON: the decision\n"
    "(allow, deny or escalate), the reason, every rule and boundary that\n"
    "fired, the values at stake in rank order, obligations, the escalation\n"
    "queue and deadline, and the charter version.\n"
    "\n"
    "REQUEST is the JSON text itself (when it starts with '{'), a file\n"
    "holding it, or '-' (the default) for standard input. The request format\n"
    "is in docs/charter-reference.md (agent, workflow, action, input,\n"
    "subject, context, rationale, confidence, run_id, counters, time).\n"
    "\n"
    "  --charter PATH   the charter (YAML file or directory); required\n"
    "  --pretty         indent the JSON answer\n"
    "  --ledger LEDGER  record the decision in this ledger, a SQLite file\n"
    "                   (created when absent) or a PostgreSQL database\n"
    "                   (postgresql://...); the answer gets a \"decision_id\" and the\n"
    "                   stop-rule counters come from the ledger, not the request.\n"
    "                   Refused while another process (a 'charter serve')\n"
    "                   records into that file: ask that server instead\n"
    "  --key KEY        sign a ledger checkpoint with this secret key\n"
    "                   (from 'charter keys init')\n"
    "\n"
    "When the ledger cannot be written the answer is a deny with reason\n"
    "\"ledger_unavailable\" and the exit code is 3.\n"
    "\n"
    "Exit: 0 decided (whatever the decision), 2 invalid charter or request,\n"
    "3 unreadable file or unavailable ledger.\n";

static void print_answer(const char *json, size_t n, int pretty)
{
    if (pretty) {
        json_t *j = json_loadb(json, n, 0, NULL);
        char *out = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        printf("%s\n", out ? out : json);
        free(out);
        json_decref(j);
    } else {
        printf("%.*s\n", (int)n, json);
    }
}

/* Decides through the ledger: recorded, or a deny when it cannot be. */
static int decide_recorded(const char *ledger, const char *key, const charter *c,
                           const char *text, size_t len, int pretty)
{
    charter_ledger_options opt = {.key_path = key};
    charter_ledger *l = NULL;
    charter_decider *d = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    char *answer = NULL;
    size_t n = 0;
    int rc;
    charter_status s = charter_ledger_open(ledger, &opt, &l, &err);
    if (s == CHARTER_OK && (s = charter_decider_new(&d)) == CHARTER_OK)
        s = charter_ledger_decide(l, d, c, text, len, charter_now_ms(), &answer, &n, &err);
    else if (s == CHARTER_E_IO)
        answer = charter_ledger_unavailable_answer(c, charter_now_ms(), &n);
    if (answer)
        print_answer(answer, n, pretty);
    if (s != CHARTER_OK)
        cli_print_error(s == CHARTER_E_IO     ? "error: ledger unavailable"
                        : s == CHARTER_E_NOMEM ? "error"
                                               : "error: invalid request",
                        &err);
    rc = cli_exit_for(s);
    rc = cli_ledger_close(l, rc);
    charter_decider_free(d);
    free(answer);
    return rc;
}

int cmd_decide(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *path = NULL, *reqarg = NULL, *ledger = NULL, *key = NULL, *v;
    int pretty = 0;
    for (int i = 1; i < argc; i++) {
        int m = cli_option(argc, argv, &i, "--charter", &v);
        if (m < 0)
            return CLI_INVALID;
        if (m) {
            path = v;
            continue;
        }
        if ((m = cli_option(argc, argv, &i, "--ledger", &v)) < 0)
            return CLI_INVALID;
        if (m) {
            ledger = v;
            continue;
        }
        if ((m = cli_option(argc, argv, &i, "--key", &v)) < 0)
            return CLI_INVALID;
        if (m) {
            key = v;
            continue;
        }
        if (!strcmp(argv[i], "--pretty"))
            pretty = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_unknown_option("decide", argv[i]);
        else if (!reqarg)
            reqarg = argv[i];
        else {
            fprintf(stderr, "charter decide: one REQUEST expected, found '%s' too\n", argv[i]);
            return CLI_INVALID;
        }
    }
    if (!path) {
        fprintf(stderr, "charter decide: --charter PATH is required\n");
        return CLI_INVALID;
    }
    if (key && !ledger) {
        fprintf(stderr, "charter decide: --key signs ledger checkpoints; it needs --ledger LEDGER\n");
        return CLI_INVALID;
    }
    char *text;
    size_t len;
    if (reqarg && reqarg[0] == '{') {
        len = strlen(reqarg);
        text = malloc(len + 1);
        if (text)
            memcpy(text, reqarg, len + 1);
    } else {
        text = cli_read_file(reqarg ? reqarg : "-", &len);
        if (!text)
            return CLI_IO;
    }
    if (!text)
        return CLI_IO;

    charter *c = NULL;
    int rc = cli_load_charter(path, &c);
    if (rc != CLI_OK) {
        free(text);
        return rc;
    }
    if (ledger) {
        rc = decide_recorded(ledger, key, c, text, len, pretty);
        charter_release(c);
        free(text);
        return rc;
    }
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_request *req = NULL;
    charter_decider *d = NULL;
    charter_status s = charter_request_parse(text, len, &req, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error: invalid request", &err);
        rc = cli_exit_for(s);
        goto done;
    }
    s = charter_decider_new(&d);
    const charter_decision *dec = NULL;
    if (s == CHARTER_OK)
        s = charter_decide(d, c, req, charter_now_ms(), &dec, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        rc = cli_exit_for(s);
        goto done;
    }
    size_t n;
    const char *json = charter_decision_json(d, dec, &n);
    if (!json) {
        fprintf(stderr, "charter decide: out of memory\n");
        rc = CLI_INVALID;
        goto done;
    }
    print_answer(json, n, pretty);
    rc = CLI_OK;
done:
    charter_decider_free(d);
    charter_request_free(req);
    charter_release(c);
    free(text);
    return rc;
}
