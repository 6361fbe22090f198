/* cmd_verify.c - `charter verify FILE [--key PUB] [--witness HEADS]`: prove
 * a ledger was not altered, removed from, inserted into, reordered or cut
 * short. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: charter verify LEDGER [--key PUB] [--witness HEADS] [--quiet]\n"
    "\n"
    "Walks the whole ledger: every entry's hash, every link to the entry\n"
    "before it, every signed checkpoint, and every row of the file. Reports\n"
    "the first entry that was altered, removed, inserted or reordered, and a\n"
    "tail cut off after a checkpoint. What each level proves: docs/ledger.md.\n"
    "LEDGER is a SQLite file or a PostgreSQL database (postgresql://USER@HOST/DB\n"
    "or a libpq connection string; docs/deployment.md).\n"
    "\n"
    "  --key PUB       the public key checkpoints must be signed with\n"
    "                  (DIR/ledger.pub from 'charter keys init'); the entries\n"
    "                  must then be covered by checkpoints at the cadence they\n"
    "                  sign (a ledger without any fails). Without it,\n"
    "                  signatures are checked against the keys the ledger\n"
    "                  names, which proves consistency but not who signed\n"
    "  --witness HEADS checkpoint heads kept outside the ledger (JSON lines\n"
    "                  from 'charter checkpoints' or 'charter serve --witness'):\n"
    "                  the ledger must still hold every one, same seq, same hash\n"
    "  --quiet         print nothing when the ledger verifies\n"
    "\n"
    "Exit: 0 everything verifies, 1 it does not (the first problem is\n"
    "printed), 3 the ledger or the witness cannot be read.\n";

int cmd_verify(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *file = NULL, *key = NULL, *witness = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        static const char *const names[] = {"--key", "--witness"};
        const char **const slots[] = {&key, &witness};
        int m = cli_option_table(argc, argv, &i, names, slots, 2);
        if (m < 0)
            return CLI_INVALID;
        if (m)
            continue;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_unknown_option("verify", argv[i]);
        else if (!file)
            file = argv[i];
        else {
            fprintf(stderr, "charter verify: one LEDGER expected, found '%s' too\n", argv[i]);
            return CLI_INVALID;
        }
    }
    if (!file) {
        fprintf(stderr, "charter verify: the LEDGER (a file or a postgresql:// URL) is required\n");
        return CLI_INVALID;
    }
    charter_ledger_report r;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_verify_options opt = {.public_key_path = key, .witness_path = witness};
    charter_status s = charter_ledger_verify_with(file, &opt, &r, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return cli_exit_for(s);
    }
    if (!r.ok) {
        printf("FAILED: %s: %s\n", r.problem, r.message);
        if (r.first_bad_seq)
            printf("first bad entry: %llu; %llu entries walked\n",
                   (unsigned long long)r.first_bad_seq, (unsigned long long)r.entries);
        else
            printf("the problem lies outside the chain; %llu entries walked\n",
                   (unsigned long long)r.entries);
        return CLI_FAILED;
    }
    if (quiet)
        return CLI_OK;
    printf("ok: %llu entries, last seq %llu\n", (unsigned long long)r.entries,
           (unsigned long long)r.last_seq);
    if (r.checkpoints == 0 && r.witnessed == 0) {
        printf("no signed checkpoints: the chain is consistent, but neither who wrote "
               "it nor where it ended can be proven\n");
        return CLI_OK;
    }
    printf("%llu signed checkpoints verified%s; proven up to seq %llu\n",
           (unsigned long long)r.checkpoints,
           r.keys_from_ledger ? " (against the keys the ledger names: pass --key to "
                                "prove the signer)"
                              : " with the given key",
           (unsigned long long)r.proven_seq);
    if (r.last_seq > r.proven_seq)
        printf("%llu entries after seq %llu are chained but not yet covered by a "
               "checkpoint%s\n", (unsigned long long)(r.last_seq - r.proven_seq),
               (unsigned long long)r.proven_seq,
               key ? " (within the writer's cadence: the tail a crash leaves)" : "");
    if (witness)
        printf("witness: %llu heads held, up to seq %llu\n",
               (unsigned long long)r.witnessed, (unsigned long long)r.witness_seq);
    return CLI_OK;
}
