/* cmd_outcome.c - `charter outcome FILE ...`: record an outcome report. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter outcome LEDGER (--decision ID | --workflow W --from T --to T)\n"
    "                         --metric M --value V [--note TEXT] [--key KEY]\n"
    "\n"
    "Records an outcome in the ledger LEDGER: tied to one decision (the\n"
    "customer came back angry after d-42) or to a workflow over a time\n"
    "window (refund churn in November). T is RFC 3339, a date or Unix\n"
    "milliseconds; V a number. --key signs a checkpoint with the secret key\n"
    "from 'charter keys init'. Prints the new entry's seq.\n"
    "LEDGER is a SQLite file or a PostgreSQL database (postgresql://USER@HOST/DB\n"
    "or a libpq connection string; docs/deployment.md).\n"
    "\n"
    "  charter outcome ledger.db --decision d-42 --metric complaint --value 1\n"
    "  charter outcome ledger.db --workflow refunds --from 2026-11-01 \\\n"
    "      --to 2026-12-01 --metric churn --value 0.031\n"
    "\n"
    "Exit: 0 recorded, 2 invalid arguments or unknown decision, 3 the ledger\n"
    "cannot be written.\n";

typedef struct outcome_args {
    const char *file, *key, *from, *to, *value;
    charter_outcome o;
} outcome_args;

static int parse_args(int argc, char **argv, outcome_args *a)
{
    static const char *const names[] = {"--decision", "--workflow", "--from", "--to",
                                        "--metric",   "--value",    "--note", "--key"};
    const char **slots[] = {&a->o.decision_id, &a->o.workflow, &a->from, &a->to,
                            &a->o.metric, &a->value, &a->o.note, &a->key};
    for (int i = 1; i < argc; i++) {
        int m = cli_option_table(argc, argv, &i, names, slots, sizeof names / sizeof names[0]);
        if (m < 0)
            return CLI_INVALID;
        if (m)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_unknown_option("outcome", argv[i]);
        if (a->file) {
            fprintf(stderr, "charter outcome: one LEDGER expected, found '%s' too\n", argv[i]);
            return CLI_INVALID;
        }
        a->file = argv[i];
    }
    return CLI_OK;
}

static int check_args(outcome_args *a)
{
    if (!a->file || !a->o.metric || !a->value) {
        fprintf(stderr, "charter outcome: LEDGER, --metric and --value are required\n");
        return CLI_INVALID;
    }
    char *end;
    errno = 0;
    a->o.value = strtod(a->value, &end);
    if (errno || *end || end == a->value || !isfinite(a->o.value)) {
        fprintf(stderr, "charter outcome: --value expects a number, found '%s'\n", a->value);
        return CLI_INVALID;
    }
    if (a->o.workflow) {
        if (!a->from || !a->to) {
            fprintf(stderr, "charter outcome: --workflow needs --from T and --to T\n");
            return CLI_INVALID;
        }
        if (!charter_time_parse(a->from, &a->o.from_ms) ||
            !charter_time_parse(a->to, &a->o.to_ms)) {
            fprintf(stderr, "charter outcome: --from and --to expect RFC 3339, a date or "
                            "Unix milliseconds, found '%s' and '%s'\n", a->from, a->to);
            return CLI_INVALID;
        }
    } else if (a->from || a->to) {
        fprintf(stderr, "charter outcome: --from and --to go with --workflow\n");
        return CLI_INVALID;
    }
    return CLI_OK;
}

int cmd_outcome(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    outcome_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc == CLI_OK)
        rc = check_args(&a);
    if (rc != CLI_OK)
        return rc;
    charter_ledger_options opt = {.key_path = a.key};
    charter_ledger *l = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    uint64_t seq = 0;
    charter_status s = charter_ledger_open(a.file, &opt, &l, &err);
    if (s == CHARTER_OK)
        s = charter_ledger_outcome(l, &a.o, &seq, &err);
    if (s != CHARTER_OK)
        cli_print_error("error", &err);
    charter_error cerr;
    memset(&cerr, 0, sizeof cerr);
    if (charter_ledger_close(l, &cerr) != CHARTER_OK && s == CHARTER_OK) {
        cli_print_error("error: closing the ledger", &cerr);
        s = CHARTER_E_IO;
    }
    if (s != CHARTER_OK)
        return cli_exit_for(s);
    printf("recorded outcome as entry %llu\n", (unsigned long long)seq);
    return CLI_OK;
}
