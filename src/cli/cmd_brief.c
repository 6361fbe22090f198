/* cmd_brief.c - `charter brief`: the intent an agent needs, as Markdown for
 * its system prompt. */
#include "base/banned.h"

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter brief --charter PATH --agent AGENT [--workflow WORKFLOW]\n"
    "\n"
    "Prints the agent's brief as Markdown: the organization's purpose, the\n"
    "ranked values, the goals of its workflows with their health limits, the\n"
    "boundaries that apply to it, its budgets, and when it must escalate and\n"
    "to whom. Without --workflow, every workflow the agent is granted.\n"
    "\n"
    "Exit: 0 printed, 2 unknown agent or workflow, invalid charter,\n"
    "3 unreadable file.\n";

int cmd_brief(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *path = NULL, *agent = NULL, *workflow = NULL, *v;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_option(argc, argv, &i, "--charter", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            path = v;
        } else if ((m = cli_option(argc, argv, &i, "--agent", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            agent = v;
        } else if ((m = cli_option(argc, argv, &i, "--workflow", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            workflow = v;
        } else if (argv[i][0] == '-') {
            return cli_unknown_option("brief", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "charter brief: unexpected argument '%s'\n", argv[i]);
            return CLI_INVALID;
        }
    }
    if (!path || !agent) {
        fprintf(stderr, "charter brief: --charter PATH and --agent AGENT are required\n");
        return CLI_INVALID;
    }
    charter *c = NULL;
    int rc = cli_load_charter(path, &c);
    if (rc != CLI_OK)
        return rc;
    char *md = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_brief(c, agent, workflow, &md, &err);
    charter_release(c);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return cli_exit_for(s);
    }
    fputs(md, stdout);
    free(md);
    return CLI_OK;
}
