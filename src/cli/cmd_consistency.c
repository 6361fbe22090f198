/* cmd_consistency.c - `charter consistency --charter PATH`: situations two
 * workflows decide differently. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_analyses.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter consistency --charter PATH [--format text|json|md]\n"
    "\n"
    "Where the same action is allowed in more than one workflow (or\n"
    "department), finds concrete situations decided differently: builds\n"
    "requests at, just below and just above every constant the conditions\n"
    "compare a field with (and with each string they name), decides each under\n"
    "every such workflow, and lists the disagreements, each with a minimal\n"
    "example request and the rules that cause it. Differences that come only\n"
    "from the workflows' autonomy classes are listed apart. Also lists rules\n"
    "that never decide because a boundary or a deny rule always comes first.\n"
    "\n"
    "Exit: 0 no disagreement, 1 disagreements found, 2 invalid usage or\n"
    "charter.\n";

int cmd_consistency(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *path = NULL;
    int format = CHARTER_FORMAT_TEXT, rc = CLI_OK;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        if (cli_analysis_option(argc, argv, &i, "consistency", CLI_FORMATS_TABLES, &path,
                                &format, &rc)) {
            continue;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = cli_unknown_option("consistency", argv[i]);
        } else {
            fprintf(stderr, "charter consistency: unexpected argument '%s'\n", argv[i]);
            rc = CLI_INVALID;
        }
    }
    charter *c = NULL;
    if (rc != CLI_OK || (rc = cli_analysis_charter("consistency", path, &c)) != CLI_OK)
        return rc;
    char *json = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_consistency(c, &json, &err);
    charter_release(c);
    json_t *j = s == CHARTER_OK ? json_loads(json, 0, NULL) : NULL;
    size_t found = json_array_size(json_object_get(j, "disagreements"));
    json_decref(j);
    rc = cli_analysis_output("consistency", s, &err, json, format);
    return rc == CLI_OK && found ? CLI_FAILED : rc;
}
