/* cmd_check.c - `charter check PATH`: load, validate, print version and
 * warnings. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_analyses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter check [--strict] [--quiet] PATH\n"
    "\n"
    "Loads the charter at PATH (a YAML file or a directory of them),\n"
    "validates every key, reference and CEL condition, and prints its\n"
    "version, what it holds and its warnings (a value no rule protects, a\n"
    "workflow with no owner, an agent-ready irreversible workflow with no\n"
    "rule or boundary on it, a rule a boundary or deny rule always pre-empts,\n"
    "...). Errors read file:line:column: message.\n"
    "\n"
    "  --strict   exit 1 when there are warnings\n"
    "  --quiet    print errors and warnings only\n"
    "\n"
    "Exit: 0 valid, 1 warnings with --strict, 2 invalid, 3 unreadable.\n";

int cmd_check(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *path = NULL;
    int strict = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--strict"))
            strict = 1;
        else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q"))
            quiet = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_unknown_option("check", argv[i]);
        else if (!path)
            path = argv[i];
        else {
            fprintf(stderr, "charter check: one PATH expected, found '%s' too\n", argv[i]);
            return CLI_INVALID;
        }
    }
    if (!path) {
        fputs(usage, stderr);
        return CLI_INVALID;
    }
    charter *c = NULL;
    int rc = cli_load_charter(path, &c);
    if (rc != CLI_OK)
        return rc;

    size_t nmodel = charter_warning_count(c), nrules = 0;
    charter_diag *rules = NULL;
    charter_error err;
    if (charter_rule_warnings(c, &rules, &nrules, &err) != CHARTER_OK) {
        cli_print_error("error", &err);
        charter_release(c);
        return cli_exit_for(err.code);
    }
    size_t nwarn = nmodel + nrules;
    for (size_t i = 0; i < nwarn; i++) {
        const charter_diag *d = i < nmodel ? charter_warning(c, i) : &rules[i - nmodel];
        if (d->file && d->file[0])
            fprintf(stderr, "%s:%u:%u: warning: %s [%s]\n", d->file, d->line,
                    d->column, d->message, d->code);
        else
            fprintf(stderr, "warning: %s [%s]\n", d->message, d->code);
    }
    free(rules);
    if (!quiet) {
        charter_stats st;
        charter_get_stats(c, &st);
        printf("ok: %s\n", charter_name(c));
        printf("version: %s\n", charter_version(c));
        printf("%zu values, %zu goals, %zu workflows, %zu agents, "
               "%zu boundaries, %zu rules, %zu queues; %zu warning%s\n",
               st.values, st.goals, st.workflows, st.agents, st.boundaries,
               st.rules, st.queues, nwarn, nwarn == 1 ? "" : "s");
    }
    charter_release(c);
    return (strict && nwarn) ? CLI_FAILED : CLI_OK;
}
