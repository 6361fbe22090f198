/* cli.h - what the `charter` subcommands share.
 *
 * The command line is a table of subcommands (main.c), one file each
 * (cmd_*.c), built on the public header include/charter.h only.
 *
 * Exit codes, the same for every command (docs/cli.md):
 *   0  success (a decision was made, the charter is valid, all tests pass)
 *   1  the thing checked failed: a test failed, an evaluation error,
 *      `check --strict` with warnings
 *   2  invalid input or usage: a charter that does not load, a malformed
 *      request or expression, an unknown option
 *   3  a file could not be read or written
 */
#ifndef CHARTER_CLI_H
#define CHARTER_CLI_H

#include <stddef.h>

#include "charter.h"
#include "charter_ledger.h"

enum {
    CLI_OK = 0,
    CLI_FAILED = 1,
    CLI_INVALID = 2,
    CLI_IO = 3
};

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;
} cli_command;

int cmd_check(int argc, char **argv);
int cmd_decide(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_brief(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_checkpoints(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_outcome(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_consistency(int argc, char **argv);
int cmd_shadow(int argc, char **argv);
int cmd_ledger(int argc, char **argv);

/* Reads a whole file ("-" is standard input) into a malloc'd, NUL-terminated
 * buffer; the caller frees it. Returns NULL (after printing why) on failure. */
char *cli_read_file(const char *path, size_t *len);

/* Prints "charter: file:line:col: error: message" to stderr. */
void cli_print_error(const char *what, const charter_error *err);

/* The exit code for a failed library call. */
int cli_exit_for(charter_status s);

/* Prints `usage` to stdout when argv holds -h/--help and returns 1 (the
 * caller then exits 0); 0 otherwise. */
int cli_wants_help(int argc, char **argv, const char *usage);

/* Matches argv[*i] against option `name` ("--charter VALUE" or
 * "--charter=VALUE"). Returns 1 and sets *value (advancing *i past a
 * separate value) on a match, 0 when argv[*i] is another argument, and -1
 * after printing an error when the value is missing. */
int cli_option(int argc, char **argv, int *i, const char *name,
               const char **value);

/* cli_option over a table: matches argv[*i] against names[k] (k < n) and
 * stores the value in *slots[k]. Returns 1 on a match, 0 when argv[*i] is
 * none of them, -1 after printing an error. */
int cli_option_table(int argc, char **argv, int *i, const char *const *names,
                     const char **const *slots, size_t n);

/* Closes a ledger opened for recording (NULL is fine), printing why when
 * that fails. Returns rc, or CLI_IO when closing failed and rc was CLI_OK. */
int cli_ledger_close(charter_ledger *l, int rc);

/* Prints "charter CMD: unknown option 'X'" and returns CLI_INVALID. */
int cli_unknown_option(const char *cmd, const char *arg);

/* The analysis commands (cli_analysis.c): parses a --format value ("text",
 * "json", "md", and "svg" for CLI_FORMATS_WITH_SVG), printing an error and
 * returning CLI_INVALID otherwise; then prints an analysis result (JSON
 * from include/charter_analyses.h, freed here) in that format. */
typedef enum cli_formats { CLI_FORMATS_TABLES, CLI_FORMATS_WITH_SVG } cli_formats;
int cli_format_parse(const char *cmd, const char *value, cli_formats allowed, int *format);
int cli_analysis_print(const char *cmd, char *json, int format);
/* The options every analysis command takes: --charter PATH and --format F.
 * Returns 1 when argv[*i] was one of them (setting *rc to CLI_INVALID on a
 * bad value), 0 otherwise. */
int cli_analysis_option(int argc, char **argv, int *i, const char *cmd, cli_formats allowed,
                        const char **charter_path, int *format, int *rc);
/* Loads the charter an analysis command requires: prints that --charter is
 * required when path is NULL. */
int cli_analysis_charter(const char *cmd, const char *path, charter **out);
/* After an analysis call: prints err and returns its exit code when s is
 * not CHARTER_OK, else prints the result (freeing json). */
int cli_analysis_output(const char *cmd, charter_status s, const charter_error *err,
                        char *json, int format);

/* Loads a charter, printing the error on failure. */
int cli_load_charter(const char *path, charter **out);

#endif
