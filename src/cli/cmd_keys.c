/* cmd_keys.c - `charter keys`: the key that signs ledger checkpoints
 * (init), the access keys of `charter serve` (agent, approver, admin,
 * pep, auditor, list, revoke) and the queues' webhook signing secrets
 * (webhook). */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"
#include "charter_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter keys init --dir DIR\n"
    "       charter keys agent --dir DIR --agent AGENT_ID\n"
    "       charter keys approver --dir DIR --name NAME --queue QUEUE [--queue Q2 ...]\n"
    "                             [--role ROLE ...]\n"
    "       charter keys admin --dir DIR --name NAME\n"
    "       charter keys pep --dir DIR --name NAME\n"
    "       charter keys auditor --dir DIR --name NAME\n"
    "       charter keys list --dir DIR\n"
    "       charter keys revoke --dir DIR KEY_ID\n"
    "       charter keys webhook --dir DIR --queue QUEUE [--rotate]\n"
    "\n"
    "init creates an Ed25519 key pair that signs ledger checkpoints:\n"
    "DIR/ledger.key (secret, mode 0600) and DIR/ledger.pub (public). DIR is\n"
    "created when absent; an existing key is never overwritten. Prints the\n"
    "key id. Give the secret key to whatever records decisions\n"
    "(--key DIR/ledger.key) and the public key to whoever verifies\n"
    "(charter verify --key DIR/ledger.pub).\n"
    "\n"
    "agent, approver, admin, pep and auditor add an access key for 'charter serve' to\n"
    "DIR/access.json and print its bearer token once (only a hash is stored):\n"
    "  agent     decides as that one registered agent, reads its own decisions\n"
    "  approver  resolves escalations of the given queues (the charter's queue\n"
    "            must also accept NAME as a member or one of its --role)\n"
    "  admin     reloads the charter, reads every decision and escalation\n"
    "  pep       an AuthZEN enforcement point: evaluates for any subject\n"
    "  auditor   reads every decision, escalation, charter version and\n"
    "            analysis (architects, auditors); changes nothing\n"
    "list prints the keys without their hashes; revoke removes one (a running\n"
    "server forgets it on its next reload, SIGHUP).\n"
    "\n"
    "webhook creates the Standard Webhooks signing secret (whsec_...) of an\n"
    "escalation queue in DIR/webhooks.json (mode 0600) and prints it once:\n"
    "give it to the receiver, which verifies each webhook's signature with it.\n"
    "A queue has one secret; --rotate replaces it (the old one stops working\n"
    "at the server's next start or reload).\n"
    "\n"
    "Exit: 0 done, 2 usage or a key already there, 3 cannot read or write.\n";

#define MAX_LIST 32

static int keys_init(const char *dir)
{
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

static int keys_webhook(int argc, char **argv)
{
    const char *dir = NULL, *queue = NULL, *v;
    bool rotate = false;
    for (int i = 2; i < argc; i++) {
        int m;
        if ((m = cli_option(argc, argv, &i, "--dir", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            dir = v;
        } else if ((m = cli_option(argc, argv, &i, "--queue", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            queue = v;
        } else if (!strcmp(argv[i], "--rotate")) {
            rotate = true;
        } else {
            return cli_unknown_option("keys webhook", argv[i]);
        }
    }
    if (!dir || !queue) {
        fprintf(stderr, "charter keys webhook: --dir DIR and --queue QUEUE are required\n");
        return CLI_INVALID;
    }
    char secret[CHARTER_WEBHOOK_SECRET_SIZE];
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_webhook_secret_create(dir, queue, rotate, secret, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return s == CHARTER_E_IO ? CLI_IO : CLI_INVALID;
    }
    printf("%s\n", secret);
    fprintf(stderr, "webhook secret for queue '%s' %s in %s/webhooks.json; it is shown only "
                    "now (a running server reads it on its next reload, SIGHUP)\n",
            queue, rotate ? "set" : "added", dir);
    return CLI_OK;
}

static int role_of(const char *verb, charter_access_role *r)
{
    static const struct {
        const char *verb;
        charter_access_role role;
    } verbs[] = {{"agent", CHARTER_ROLE_AGENT},
                 {"approver", CHARTER_ROLE_APPROVER},
                 {"admin", CHARTER_ROLE_ADMIN},
                 {"pep", CHARTER_ROLE_PEP},
                 {"auditor", CHARTER_ROLE_AUDITOR}};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(verb, verbs[i].verb)) {
            *r = verbs[i].role;
            return 1;
        }
    return 0;
}

int cmd_keys(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    const char *verb = argc >= 2 ? argv[1] : "";
    if (!strcmp(verb, "webhook"))
        return keys_webhook(argc, argv);
    charter_access_role role = CHARTER_ROLE_AGENT;
    bool is_role = role_of(verb, &role);
    if (strcmp(verb, "init") && strcmp(verb, "list") && strcmp(verb, "revoke") &&
        !is_role) {
        fprintf(stderr, "charter keys: expected init, agent, approver, admin, pep, auditor, "
                        "list, revoke or webhook; found '%s' (see 'charter keys --help')\n",
                verb);
        return CLI_INVALID;
    }
    const char *dir = NULL, *name = NULL, *revoke_id = NULL, *v;
    const char *queues[MAX_LIST], *roles[MAX_LIST];
    size_t nq = 0, nr = 0;
    for (int i = 2; i < argc; i++) {
        int m;
        if ((m = cli_option(argc, argv, &i, "--dir", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            dir = v;
        } else if (is_role && (m = cli_option(argc, argv, &i,
                                              role == CHARTER_ROLE_AGENT ? "--agent"
                                                                          : "--name",
                                              &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            name = v;
        } else if (role == CHARTER_ROLE_APPROVER && is_role &&
                   (m = cli_option(argc, argv, &i, "--queue", &v)) != 0) {
            if (m < 0 || nq == MAX_LIST)
                return CLI_INVALID;
            queues[nq++] = v;
        } else if (role == CHARTER_ROLE_APPROVER && is_role &&
                   (m = cli_option(argc, argv, &i, "--role", &v)) != 0) {
            if (m < 0 || nr == MAX_LIST)
                return CLI_INVALID;
            roles[nr++] = v;
        } else if (!strcmp(verb, "revoke") && argv[i][0] != '-' && !revoke_id) {
            revoke_id = argv[i];
        } else {
            char cmd[32];
            snprintf(cmd, sizeof cmd, "keys %s", verb);
            return cli_unknown_option(cmd, argv[i]);
        }
    }
    if (!dir) {
        fprintf(stderr, "charter keys %s: --dir DIR is required\n", verb);
        return CLI_INVALID;
    }
    if (!strcmp(verb, "init"))
        return keys_init(dir);
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s;
    if (!strcmp(verb, "list")) {
        char *text = NULL;
        if ((s = charter_access_list(dir, &text, &err)) == CHARTER_OK)
            printf("%s\n", text);
        free(text);
    } else if (!strcmp(verb, "revoke")) {
        if (!revoke_id) {
            fprintf(stderr, "charter keys revoke: expected the key id to revoke\n");
            return CLI_INVALID;
        }
        if ((s = charter_access_revoke(dir, revoke_id, &err)) == CHARTER_OK)
            fprintf(stderr, "revoked %s\n", revoke_id);
    } else {
        if (!name) {
            fprintf(stderr, "charter keys %s: %s is required\n", verb,
                    role == CHARTER_ROLE_AGENT ? "--agent AGENT_ID" : "--name NAME");
            return CLI_INVALID;
        }
        char token[CHARTER_TOKEN_SIZE];
        s = charter_access_add(dir, role, name, queues, nq, roles, nr, token, &err);
        if (s == CHARTER_OK) {
            printf("%s\n", token);
            fprintf(stderr, "%s key for '%s' added to %s/access.json; the token above is "
                            "shown only now\n", verb, name, dir);
        }
    }
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return s == CHARTER_E_IO ? CLI_IO : CLI_INVALID;
    }
    return CLI_OK;
}
