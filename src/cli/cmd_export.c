/* cmd_export.c - `charter export FILE --format jsonl`: one JSON object per
 * ledger entry, for a SIEM or a data warehouse. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter export LEDGER --format jsonl [--since T] [--until T]\n"
    "\n"
    "Prints every ledger entry recorded at or after --since and before\n"
    "--until, oldest first, one JSON object per line:\n"
    "  {\"hash\", \"kind\", \"payload\", \"prev_hash\", \"seq\", \"time\", \"time_ms\"}\n"
    "kind is charter, decision, escalation_approval, escalation_resolved,\n"
    "escalation_moved, grant, grant_revoked or outcome; payload is the\n"
    "entry's content (docs/ledger.md). T is RFC 3339\n"
    "(2026-11-24T10:00:00Z), a date (2026-11-24) or Unix milliseconds.\n"
    "Export does not verify: run 'charter verify' for that.\n"
    "LEDGER is a SQLite file or a PostgreSQL database (postgresql://USER@HOST/DB\n"
    "or a libpq connection string; docs/deployment.md).\n"
    "\n"
    "Exit: 0 exported, 2 usage, 3 the ledger cannot be read.\n";

static int print_entry(const charter_ledger_entry *e, void *user)
{
    char *line = NULL;
    size_t n = 0;
    if (charter_ledger_entry_json(e, &line, &n) != CHARTER_OK) {
        *(int *)user = 1;
        return 1;
    }
    fwrite(line, 1, n, stdout);
    fputc('\n', stdout);
    free(line);
    return 0;
}

static int time_option(const char *name, const char *value, int64_t *out)
{
    if (charter_time_parse(value, out))
        return 0;
    fprintf(stderr, "charter export: %s expects RFC 3339 (2026-11-24T10:00:00Z), a date "
                    "or Unix milliseconds, found '%s'\n", name, value);
    return -1;
}

int cmd_export(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *file = NULL, *format = NULL, *v;
    int64_t since = INT64_MIN, until = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_option(argc, argv, &i, "--format", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            format = v;
        } else if ((m = cli_option(argc, argv, &i, "--since", &v)) != 0) {
            if (m < 0 || time_option("--since", v, &since) < 0)
                return CLI_INVALID;
        } else if ((m = cli_option(argc, argv, &i, "--until", &v)) != 0) {
            if (m < 0 || time_option("--until", v, &until) < 0)
                return CLI_INVALID;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_unknown_option("export", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "charter export: one LEDGER expected, found '%s' too\n", argv[i]);
            return CLI_INVALID;
        }
    }
    if (!file) {
        fprintf(stderr, "charter export: the LEDGER (a file or a postgresql:// URL) is required\n");
        return CLI_INVALID;
    }
    if (!format || strcmp(format, "jsonl")) {
        fprintf(stderr, "charter export: --format expects jsonl, found '%s'\n",
                format ? format : "");
        return CLI_INVALID;
    }
    charter_error err;
    memset(&err, 0, sizeof err);
    int failed = 0;
    charter_status s = charter_ledger_scan(file, since, until, print_entry, &failed, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return cli_exit_for(s);
    }
    if (failed) {
        fprintf(stderr, "charter export: out of memory\n");
        return CLI_IO;
    }
    return CLI_OK;
}
