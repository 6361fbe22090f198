/* cmd_map.c - `charter map --charter PATH [--ledger FILE]`: the readiness
 * map. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_analyses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter map --charter PATH [--ledger LEDGER] [--format text|json|md|svg]\n"
    "\n"
    "The readiness map: every workflow in its autonomy class (agent-ready,\n"
    "agent-augmented, human-only) with its readiness attributes and risk flags.\n"
    "With --ledger, also the evidence to move it and a recommendation:\n"
    "  promote    an agent-augmented workflow whose escalations people approve\n"
    "             almost always, with enough cases, while its health holds\n"
    "  step-back  an agent-ready workflow with a breached health limit or\n"
    "             rising boundary hits\n"
    "  review     an agent-ready workflow whose attributes flag it (irreversible,\n"
    "             high regulatory exposure, high blast radius, restricted data)\n"
    "  keep       everything else\n"
    "Thresholds come from the charter's `readiness` section (docs/analyses.md).\n"
    "--format svg draws the map as a picture: three columns, one card per\n"
    "workflow, colored by recommendation.\n"
    "LEDGER is a SQLite file or a PostgreSQL database (postgresql://USER@HOST/DB\n"
    "or a libpq connection string; docs/deployment.md).\n"
    "\n"
    "Exit: 0 mapped, 2 invalid usage or charter, 3 unreadable ledger.\n";

int cmd_map(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *ledger = NULL, *path = NULL, *v;
    int format = CHARTER_FORMAT_TEXT, rc = CLI_OK;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        int m;
        if (cli_analysis_option(argc, argv, &i, "map", CLI_FORMATS_WITH_SVG, &path, &format,
                                &rc)) {
            continue;
        } else if ((m = cli_option(argc, argv, &i, "--ledger", &v)) != 0) {
            rc = m < 0 ? CLI_INVALID : CLI_OK;
            ledger = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = cli_unknown_option("map", argv[i]);
        } else {
            fprintf(stderr, "charter map: unexpected argument '%s'\n", argv[i]);
            rc = CLI_INVALID;
        }
    }
    charter *c = NULL;
    if (rc != CLI_OK || (rc = cli_analysis_charter("map", path, &c)) != CLI_OK)
        return rc;
    char *json = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_readiness_map(c, ledger, &json, &err);
    charter_release(c);
    return cli_analysis_output("map", s, &err, json, format);
}
