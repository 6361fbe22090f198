/* cmd_test.c - `charter test PATH`: run charter test files. */
#include "base/banned.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: charter test [--charter PATH] [--verbose] PATH\n"
    "\n"
    "Runs the test file PATH, or every *.test.yaml file in the directory\n"
    "PATH: each case is a request and the decision (and optionally the\n"
    "fired rules, obligations, reason and queue) it must get. Each file names\n"
    "its charter with `charter:` (relative to the file) unless --charter is\n"
    "given. Prints every failure, then 'N passed, N failed'.\n"
    "\n"
    "  --charter PATH   decide under this charter instead\n"
    "  --verbose, -v    print passing cases too\n"
    "\n"
    "Exit: 0 all passed, 1 a case failed, 2 malformed test file or charter,\n"
    "3 unreadable file.\n";

struct report_state {
    int verbose;
};

static void report(const charter_test_result *r, void *user)
{
    const struct report_state *st = user;
    if (r->passed) {
        if (st->verbose)
            printf("ok   %s:%u: %s\n", r->file, r->line, r->name);
        return;
    }
    printf("FAIL %s:%u: %s\n     %s\n", r->file, r->line, r->name,
           r->failure ? r->failure : "failed");
}

int cmd_test(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *path = NULL, *charter_path = NULL, *v;
    struct report_state st = {0};
    for (int i = 1; i < argc; i++) {
        int m = cli_option(argc, argv, &i, "--charter", &v);
        if (m < 0)
            return CLI_INVALID;
        if (m) {
            charter_path = v;
            continue;
        }
        if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v"))
            st.verbose = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_unknown_option("test", argv[i]);
        else if (!path)
            path = argv[i];
        else {
            fprintf(stderr, "charter test: one PATH expected, found '%s' too\n", argv[i]);
            return CLI_INVALID;
        }
    }
    if (!path) {
        fputs(usage, stderr);
        return CLI_INVALID;
    }
    charter *c = NULL;
    if (charter_path) {
        int rc = cli_load_charter(charter_path, &c);
        if (rc != CLI_OK)
            return rc;
    }
    size_t passed = 0, failed = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_test_run(path, c, report, &st, &passed, &failed, &err);
    charter_release(c);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return cli_exit_for(s);
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? CLI_FAILED : CLI_OK;
}
