/* cmd_report.c - `charter report LEDGER`: the alignment report. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_analyses.h"
#include "charter_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter report LEDGER [--charter PATH] [--since T] [--until T]\n"
    "                      [--by day|week] [--format text|json|md|svg]\n"
    "\n"
    "The alignment report over the ledger LEDGER: for every goal, each outcome\n"
    "metric against its target and each health metric against its limit, per\n"
    "period, with its trend; a WARNING when an outcome improves while a health\n"
    "metric of the same goal degrades over the same periods, naming the\n"
    "workflows and agents involved; per escalation queue and rule, how often\n"
    "people approved, denied or let the deadline pass and how long they took;\n"
    "per agent its decision mix, boundary and stop-rule hits and shadow\n"
    "activity; per value how often its rules fired and were overruled.\n"
    "\n"
    "--charter gives the goals (default: the last charter version recorded in\n"
    "the ledger). --since/--until select entries recorded in [T, U) (RFC 3339,\n"
    "a date or Unix milliseconds). Figures are explained in docs/analyses.md.\n"
    "LEDGER is a SQLite file or a PostgreSQL database (postgresql://USER@HOST/DB\n"
    "or a libpq connection string; docs/deployment.md).\n"
    "\n"
    "--format svg draws the report as one picture, 1280 wide: the warnings in\n"
    "a red band first, a line chart per goal metric with its target (dashed)\n"
    "or limits (hatched beyond), bars of how people resolved each rule's and\n"
    "queue's escalations, and each agent's decision mix.\n"
    "\n"
    "Exit: 0 reported (warnings included), 2 invalid usage or charter,\n"
    "3 the ledger cannot be read.\n";

static int time_option(const char *name, const char *v, int64_t *out)
{
    if (charter_time_parse(v, out))
        return CLI_OK;
    fprintf(stderr, "charter report: %s expects RFC 3339, a date or Unix milliseconds, "
                    "found '%s'\n", name, v);
    return CLI_INVALID;
}

int cmd_report(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *file = NULL, *path = NULL, *v;
    charter_report_options o = {.since_ms = INT64_MIN, .until_ms = 0, .by = CHARTER_PERIOD_DAY};
    int format = CHARTER_FORMAT_TEXT, rc = CLI_OK;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        int m;
        if (cli_analysis_option(argc, argv, &i, "report", CLI_FORMATS_WITH_SVG, &path, &format,
                                &rc)) {
            continue;
        } else if ((m = cli_option(argc, argv, &i, "--since", &v)) != 0) {
            rc = m < 0 ? CLI_INVALID : time_option("--since", v, &o.since_ms);
        } else if ((m = cli_option(argc, argv, &i, "--until", &v)) != 0) {
            rc = m < 0 ? CLI_INVALID : time_option("--until", v, &o.until_ms);
        } else if ((m = cli_option(argc, argv, &i, "--by", &v)) != 0) {
            if (m < 0)
                rc = CLI_INVALID;
            else if (!strcmp(v, "day") || !strcmp(v, "week"))
                o.by = v[0] == 'w' ? CHARTER_PERIOD_WEEK : CHARTER_PERIOD_DAY;
            else {
                fprintf(stderr, "charter report: --by expects day or week, found '%s'\n", v);
                rc = CLI_INVALID;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = cli_unknown_option("report", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "charter report: one LEDGER expected, found '%s' too\n", argv[i]);
            rc = CLI_INVALID;
        }
    }
    if (rc != CLI_OK)
        return rc;
    if (!file) {
        fputs(usage, stderr);
        return CLI_INVALID;
    }
    charter *c = NULL;
    if (path && (rc = cli_load_charter(path, &c)) != CLI_OK)
        return rc;
    char *json = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_report(file, c, &o, &json, &err);
    charter_release(c);
    return cli_analysis_output("report", s, &err, json, format);
}
