/* cmd_keys.c - `charter keys init --dir DIR`: the key that signs ledger
 * checkpoints. */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: charter keys init --dir DIR\n"
    "\n"
    "Creates an Ed25519 key pair that signs ledger checkpoints:\n"
    "DIR/ledger.key (secret, mode 0600) and DIR/ledger.pub (public). DIR is\n"
    "created when absent; an existing key is never overwritten. Prints the\n"
    "key id. Give the secret key to whatever records decisions\n"
    "(--key DIR/ledger.key) and the public key to whoever verifies\n"
    "(charter verify --key DIR/ledger.pub).\n"
    "\n"
    "Exit: 0 created, 2 usage or a key already there, 3 cannot write.\n";

int cmd_keys(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    if (argc < 2 || strcmp(argv[1], "init")) {
        fprintf(stderr, "charter keys: expected 'init', found '%s' (see 'charter keys "
                        "--help')\n", argc < 2 ? "" : argv[1]);
        return CLI_INVALID;
    }
    const char *dir = NULL, *v;
    for (int i = 2; i < argc; i++) {
        int m = cli_option(argc, argv, &i, "--dir", &v);
        if (m < 0)
            return CLI_INVALID;
        if (m)
            dir = v;
        else
            return cli_unknown_option("keys init", argv[i]);
    }
    if (!dir) {
        fprintf(stderr, "charter keys init: --dir DIR is required\n");
        return CLI_INVALID;
    }
    char id[CHARTER_KEY_ID_SIZE];
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_keys_init(dir, id, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return s == CHARTER_E_IO ? CLI_IO : CLI_INVALID;
    }
    printf("%s\n", id);
    fprintf(stderr, "secret key: %s/ledger.key (keep it private)\n"
                    "public key: %s/ledger.pub\n", dir, dir);
    return CLI_OK;
}
