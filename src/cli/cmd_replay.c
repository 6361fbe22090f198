/* cmd_replay.c - `charter replay FILE --charter NEW`: which recorded
 * decisions a new charter version would decide differently. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: charter replay LEDGER --charter NEW [--since T]\n"
    "\n"
    "Re-decides every decision recorded in the ledger LEDGER under the charter\n"
    "NEW, each at its original time with the counters it was decided with,\n"
    "and lists every decision whose outcome changes:\n"
    "  d-42 2026-11-24T10:00:00Z support-bot refunds/issue_refund:\n"
    "      allow -> escalate (rule) +rule:large-refund\n"
    "(+ what fires now and did not before, - what no longer fires), then a\n"
    "summary count. Run it before a new charter version goes live.\n"
    "T (decision time) is RFC 3339, a date or Unix milliseconds.\n"
    "LEDGER is a SQLite file or a PostgreSQL database (postgresql://USER@HOST/DB\n"
    "or a libpq connection string; docs/deployment.md).\n"
    "\n"
    "Exit: 0 replayed (whatever changed), 2 invalid charter or usage,\n"
    "3 the ledger cannot be read.\n";

static int print_change(const charter_replay_change *ch, void *user)
{
    char t[40];
    charter_time_format(ch->time_ms, t);
    printf("%s %s %s %s/%s:\n    %s -> %s (%s)", ch->decision_id, t, ch->agent,
           ch->workflow, ch->action, charter_effect_name(ch->before),
           charter_effect_name(ch->after), ch->after_reason);
    for (size_t i = 0; i < ch->added_count; i++)
        printf(" +%s", ch->added[i]);
    for (size_t i = 0; i < ch->removed_count; i++)
        printf(" -%s", ch->removed[i]);
    printf("\n");
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *file = NULL, *path = NULL, *v;
    int64_t since = INT64_MIN;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_option(argc, argv, &i, "--charter", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            path = v;
        } else if ((m = cli_option(argc, argv, &i, "--since", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            if (!charter_time_parse(v, &since)) {
                fprintf(stderr, "charter replay: --since expects RFC 3339, a date or "
                                "Unix milliseconds, found '%s'\n", v);
                return CLI_INVALID;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_unknown_option("replay", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "charter replay: one LEDGER expected, found '%s' too\n", argv[i]);
            return CLI_INVALID;
        }
    }
    if (!file || !path) {
        fprintf(stderr, "charter replay: the LEDGER and --charter NEW are required\n");
        return CLI_INVALID;
    }
    charter *c = NULL;
    int rc = cli_load_charter(path, &c);
    if (rc != CLI_OK)
        return rc;
    charter_replay_summary sum;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_ledger_replay(file, c, since, print_change, NULL, &sum, &err);
    charter_release(c);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return cli_exit_for(s);
    }
    printf("replayed %llu decisions: %llu would change (%llu to allow, %llu to "
           "escalate, %llu to deny), %llu same decision by other rules, %llu "
           "unchanged",
           (unsigned long long)sum.decisions, (unsigned long long)sum.changed,
           (unsigned long long)sum.to_allow, (unsigned long long)sum.to_escalate,
           (unsigned long long)sum.to_deny, (unsigned long long)sum.rules_changed,
           (unsigned long long)sum.unchanged);
    if (sum.errors)
        printf(", %llu could not be replayed", (unsigned long long)sum.errors);
    printf("\n");
    return CLI_OK;
}
