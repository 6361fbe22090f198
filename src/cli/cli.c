/* cli.c - helpers the subcommands share: reading input, printing errors. */
#include "base/banned.h"

#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "charter: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = !buf || ferror(f);
    if (f != stdin)
        fclose(f);
    if (failed) {
        fprintf(stderr, "charter: cannot read '%s'\n", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void cli_print_error(const char *what, const charter_error *err)
{
    char where[600] = "";
    if (err->file[0] && err->line)
        snprintf(where, sizeof where, "%s:%u:%u: ", err->file, err->line, err->column);
    else if (err->file[0])
        snprintf(where, sizeof where, "%s: ", err->file);
    else if (err->line)
        snprintf(where, sizeof where, "%u:%u: ", err->line, err->column);
    fprintf(stderr, "%s%s: %s\n", where, what ? what : "error",
            err->message[0] ? err->message : charter_status_message(err->code));
}

int cli_exit_for(charter_status s)
{
    switch (s) {
    case CHARTER_OK:
        return CLI_OK;
    case CHARTER_E_IO:
        return CLI_IO;
    case CHARTER_E_CEL_EVAL:
    case CHARTER_E_TEST:
        return CLI_FAILED;
    default:
        return CLI_INVALID;
    }
}

int cli_wants_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 1;
        }
    }
    return 0;
}

int cli_load_charter(const char *path, charter **out)
{
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_load(path, out, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return cli_exit_for(s);
    }
    return CLI_OK;
}

int cli_option(int argc, char **argv, int *i, const char *name,
               const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "charter: option %s needs a value\n", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_option_table(int argc, char **argv, int *i, const char *const *names,
                     const char **const *slots, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        int m = cli_option(argc, argv, i, names[k], slots[k]);
        if (m)
            return m;
    }
    return 0;
}

int cli_ledger_close(charter_ledger *l, int rc)
{
    charter_error err;
    memset(&err, 0, sizeof err);
    if (charter_ledger_close(l, &err) == CHARTER_OK)
        return rc;
    cli_print_error("error: closing the ledger", &err);
    return rc == CLI_OK ? CLI_IO : rc;
}

int cli_unknown_option(const char *cmd, const char *arg)
{
    fprintf(stderr, "charter %s: unknown option '%s' (see 'charter %s --help')\n",
            cmd, arg, cmd);
    return CLI_INVALID;
}
