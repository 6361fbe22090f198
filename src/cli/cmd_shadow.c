/* cmd_shadow.c - `charter shadow LOGFILE... --charter PATH`: AI-service
 * traffic from sources that are not registered agents. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_analyses.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter shadow LOGFILE... --charter PATH [--hosts FILE]\n"
    "                      [--known SOURCE]... [--ledger LEDGER] [--format text|json|md]\n"
    "\n"
    "Reads egress logs (JSON Lines with a source, a destination host and a\n"
    "time; nginx \"combined\" access logs; Squid native access logs; '-' is\n"
    "standard input) and lists traffic to AI services (model APIs; the list is\n"
    "in docs/analyses.md) from sources that are not registered agents: source,\n"
    "service, hosts, first and last seen, request count.\n"
    "  --hosts FILE     more AI-service hosts, one 'HOST [SERVICE]' per line\n"
    "                   ('*.example.com' matches sub-domains)\n"
    "  --known SOURCE   a source that belongs to a registered agent (an address,\n"
    "                   a service account); agent ids are known already\n"
    "  --ledger LEDGER  also list decision requests from unregistered agents\n"
    "                   (a SQLite file or postgresql:// URL)\n"
    "\n"
    "Exit: 0 no shadow traffic, 1 shadow traffic found, 2 invalid usage,\n"
    "charter or hosts file, 3 unreadable log or ledger.\n";

int cmd_shadow(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *path = NULL, *v;
    charter_shadow_options o = {0};
    const char **logs = calloc((size_t)argc + 1, sizeof *logs);
    const char **known = calloc((size_t)argc + 1, sizeof *known);
    size_t nlogs = 0;
    int format = CHARTER_FORMAT_TEXT, rc = (logs && known) ? CLI_OK : CLI_IO;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        int m;
        if (cli_analysis_option(argc, argv, &i, "shadow", CLI_FORMATS_TABLES, &path, &format,
                                &rc)) {
            continue;
        } else if ((m = cli_option(argc, argv, &i, "--hosts", &v)) != 0) {
            rc = m < 0 ? CLI_INVALID : CLI_OK;
            o.hosts_path = v;
        } else if ((m = cli_option(argc, argv, &i, "--known", &v)) != 0) {
            rc = m < 0 ? CLI_INVALID : CLI_OK;
            known[o.known_source_count++] = v;
        } else if ((m = cli_option(argc, argv, &i, "--ledger", &v)) != 0) {
            rc = m < 0 ? CLI_INVALID : CLI_OK;
            o.ledger_path = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = cli_unknown_option("shadow", argv[i]);
        } else {
            logs[nlogs++] = argv[i];
        }
    }
    if (rc == CLI_OK && (!path || (!nlogs && !o.ledger_path))) {
        fprintf(stderr, "charter shadow: --charter PATH and at least one LOGFILE (or "
                        "--ledger) are required\n");
        rc = CLI_INVALID;
    }
    charter *c = NULL;
    if (rc == CLI_OK)
        rc = cli_load_charter(path, &c);
    char *json = NULL;
    if (rc == CLI_OK) {
        o.known_sources = known;
        charter_error err;
        memset(&err, 0, sizeof err);
        charter_status s = charter_shadow(c, logs, nlogs, &o, &json, &err);
        if (s != CHARTER_OK) {
            cli_print_error("error", &err);
            rc = cli_exit_for(s);
        }
    }
    charter_release(c);
    free(logs);
    free(known);
    if (rc != CLI_OK)
        return rc;
    json_t *j = json_loads(json, 0, NULL);
    int found = json_array_size(json_object_get(j, "shadow")) > 0 ||
                json_array_size(json_object_get(j, "ledger")) > 0;
    json_decref(j);
    rc = cli_analysis_print("shadow", json, format);
    return rc == CLI_OK && found ? CLI_FAILED : rc;
}
