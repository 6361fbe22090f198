/* cmd_checkpoints.c - `charter checkpoints FILE [--since SEQ] [--out FILE]`:
 * the ledger's signed checkpoint heads as JSON lines, a witness to keep
 * outside the ledger (docs/ledger.md, "A witness outside the ledger"). */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: charter checkpoints LEDGER [--since SEQ] [--out FILE]\n"
    "\n"
    "Prints the ledger's signed checkpoint heads, oldest first, one JSON\n"
    "object per line:\n"
    "  {\"checkpoint_every\", \"checkpoint_ms\", \"hash\", \"key_id\", \"public_key\",\n"
    "   \"seq\", \"signature\", \"time\", \"time_ms\"}\n"
    "Each says \"entry seq has this hash\", signed: everything needed to check\n"
    "the signature without the ledger. Keep them where the ledger's writer\n"
    "cannot change them (a WORM bucket, a SIEM, another host); later,\n"
    "'charter verify LEDGER --key PUB --witness HEADS' proves the ledger still\n"
    "holds every one, so a tail cut off with its checkpoints is caught.\n"
    "'charter serve --witness FILE' appends each head as it is signed.\n"
    "The heads are listed as stored: run 'charter verify' to check them.\n"
    "LEDGER is a SQLite file or a PostgreSQL database (postgresql://USER@HOST/DB\n"
    "or a libpq connection string; docs/deployment.md).\n"
    "\n"
    "  --since SEQ   only heads at seq SEQ or later (append to a witness\n"
    "                you keep: --since the next seq after its last line)\n"
    "  --out FILE    write to FILE (replaced, synced) instead of stdout\n"
    "\n"
    "Exit: 0 written, 2 usage, 3 the ledger cannot be read or FILE written.\n";

typedef struct out {
    FILE *f;
    int failed;
} out;

static int print_head(const charter_checkpoint *cp, void *user)
{
    out *o = user;
    char line[CHARTER_CHECKPOINT_JSON_SIZE];
    size_t n = charter_checkpoint_json(cp, line, sizeof line);
    if (n == 0 || fwrite(line, 1, n, o->f) != n || fputc('\n', o->f) == EOF) {
        o->failed = 1;
        return 1;
    }
    return 0;
}

static int parse_seq(const char *v, uint64_t *seq)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-') {
        fprintf(stderr, "charter checkpoints: --since expects a seq (1, 2, 3 ...), "
                        "found '%s'\n", v);
        return -1;
    }
    *seq = n;
    return 0;
}

int cmd_checkpoints(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *file = NULL, *out_path = NULL, *v;
    uint64_t since = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_option(argc, argv, &i, "--since", &v)) != 0) {
            if (m < 0 || parse_seq(v, &since) < 0)
                return CLI_INVALID;
        } else if ((m = cli_option(argc, argv, &i, "--out", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            out_path = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_unknown_option("checkpoints", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "charter checkpoints: one LEDGER expected, found '%s' too\n",
                    argv[i]);
            return CLI_INVALID;
        }
    }
    if (!file) {
        fprintf(stderr, "charter checkpoints: the LEDGER (a file or a postgresql:// URL) is required\n");
        return CLI_INVALID;
    }
    out o = {.f = stdout};
    if (out_path && !(o.f = fopen(out_path, "w"))) {
        fprintf(stderr, "charter checkpoints: cannot create '%s': %s\n", out_path,
                strerror(errno));
        return CLI_IO;
    }
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_ledger_checkpoints(file, since, print_head, &o, &err);
    int rc = CLI_OK;
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        rc = cli_exit_for(s);
    }
    bool write_failed = o.failed || fflush(o.f) != 0 ||
                        (out_path && fsync(fileno(o.f)) != 0);
    if (out_path && fclose(o.f) != 0)
        write_failed = true;
    if (write_failed && rc == CLI_OK) {
        fprintf(stderr, "charter checkpoints: cannot write %s: %s\n",
                out_path ? out_path : "standard output", strerror(errno));
        rc = CLI_IO;
    }
    return rc;
}
