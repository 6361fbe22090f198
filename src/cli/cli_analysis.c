/* cli_analysis.c - what the analysis commands (report, map, consistency,
 * shadow) share: the --format option and printing a result. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_analyses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_format_parse(const char *cmd, const char *value, cli_formats allowed, int *format)
{
    charter_format f;
    bool svg_ok = allowed == CLI_FORMATS_WITH_SVG;
    if (!charter_format_parse(value, &f) || (f == CHARTER_FORMAT_SVG && !svg_ok)) {
        fprintf(stderr, "charter %s: --format expects text, json or md%s; found '%s'\n", cmd,
                svg_ok ? " or svg" : "", value);
        return CLI_INVALID;
    }
    *format = (int)f;
    return CLI_OK;
}

int cli_analysis_option(int argc, char **argv, int *i, const char *cmd, cli_formats allowed,
                        const char **charter_path, int *format, int *rc)
{
    const char *v;
    int m;
    if ((m = cli_option(argc, argv, i, "--charter", &v)) != 0) {
        *rc = m < 0 ? CLI_INVALID : CLI_OK;
        *charter_path = v;
        return 1;
    }
    if ((m = cli_option(argc, argv, i, "--format", &v)) != 0) {
        *rc = m < 0 ? CLI_INVALID : cli_format_parse(cmd, v, allowed, format);
        return 1;
    }
    return 0;
}

int cli_analysis_charter(const char *cmd, const char *path, charter **out)
{
    if (!path) {
        fprintf(stderr, "charter %s: --charter PATH is required\n", cmd);
        return CLI_INVALID;
    }
    return cli_load_charter(path, out);
}

int cli_analysis_output(const char *cmd, charter_status s, const charter_error *err,
                        char *json, int format)
{
    if (s != CHARTER_OK) {
        cli_print_error("error", err);
        return cli_exit_for(s);
    }
    return cli_analysis_print(cmd, json, format);
}

int cli_analysis_print(const char *cmd, char *json, int format)
{
    char *text = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_analysis_render(json, strlen(json), (charter_format)format,
                                               &text, &err);
    free(json);
    if (s != CHARTER_OK) {
        fprintf(stderr, "charter %s: %s\n", cmd, err.message);
        return cli_exit_for(s);
    }
    fputs(text, stdout);
    free(text);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "charter %s: cannot write the output\n", cmd);
        return CLI_IO;
    }
    return CLI_OK;
}
