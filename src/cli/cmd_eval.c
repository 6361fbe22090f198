/* cmd_eval.c - `charter eval 'EXPR' [--vars FILE|JSON]`: one CEL expression,
 * for authors debugging their conditions. */
#include "base/banned.h"

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter eval [--vars FILE|JSON] [--now RFC3339] [--] EXPR\n"
    "\n"
    "Evaluates one CEL expression and prints the result as JSON. Variables\n"
    "come from --vars: a JSON object given inline (starting with '{') or a\n"
    "file holding one; each key becomes a variable. `now` is the current\n"
    "time unless --now sets it.\n"
    "\n"
    "  charter eval '1 + 2 * 3'\n"
    "  charter eval 'input.amount > 500' --vars '{\"input\": {\"amount\": 700}}'\n"
    "\n"
    "Exit: 0 evaluated, 1 evaluation error (printed as 'error: ...' on\n"
    "stderr), 2 syntax or type error, 3 unreadable --vars file.\n";

/* Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fff]Z" into Unix ms via CEL itself,
 * so there is one timestamp parser in the project. */
static int parse_now(const char *text, int64_t *out)
{
    char expr[256];
    int n = snprintf(expr, sizeof expr, "int(timestamp('%s')) * 1000", text);
    if (n < 0 || (size_t)n >= sizeof expr || strchr(text, '\''))
        return -1;
    char *json = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    if (charter_eval(expr, NULL, 0, &json, &err) != CHARTER_OK)
        return -1;
    char *end;
    long long ms = strtoll(json, &end, 10);
    int bad = (*end != '\0');
    free(json);
    if (bad)
        return -1;
    *out = ms;
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *expr = NULL, *vars = NULL, *now_arg = NULL, *v;
    int only_args = 0;
    for (int i = 1; i < argc; i++) {
        if (!only_args) {
            int m = cli_option(argc, argv, &i, "--vars", &v);
            if (m < 0)
                return CLI_INVALID;
            if (m) {
                vars = v;
                continue;
            }
            m = cli_option(argc, argv, &i, "--now", &v);
            if (m < 0)
                return CLI_INVALID;
            if (m) {
                now_arg = v;
                continue;
            }
            if (!strcmp(argv[i], "--")) {
                only_args = 1;
                continue;
            }
            if (argv[i][0] == '-' && argv[i][1] == '-')
                return cli_unknown_option("eval", argv[i]);
        }
        if (expr) {
            fprintf(stderr, "charter eval: one EXPR expected, found '%s' too "
                            "(quote the expression)\n", argv[i]);
            return CLI_INVALID;
        }
        expr = argv[i];
    }
    if (!expr) {
        fputs(usage, stderr);
        return CLI_INVALID;
    }
    int64_t now = charter_now_ms();
    if (now_arg && parse_now(now_arg, &now) != 0) {
        fprintf(stderr, "charter eval: --now expects an RFC 3339 time such as "
                        "2026-11-24T10:00:00Z, found '%s'\n", now_arg);
        return CLI_INVALID;
    }
    char *vars_text = NULL;
    if (vars && vars[0] != '{') {
        vars_text = cli_read_file(vars, NULL);
        if (!vars_text)
            return CLI_IO;
    }
    char *out = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_eval(expr, vars_text ? vars_text : vars, now, &out, &err);
    free(vars_text);
    if (s != CHARTER_OK) {
        if (err.line)
            fprintf(stderr, "error: %u:%u: %s\n", err.line, err.column, err.message);
        else
            fprintf(stderr, "error: %s\n", err.message[0] ? err.message : charter_status_message(s));
        return s == CHARTER_E_CEL_EVAL ? CLI_FAILED
               : s == CHARTER_E_IO   ? CLI_IO
                                     : CLI_INVALID;
    }
    printf("%s\n", out);
    free(out);
    return CLI_OK;
}
