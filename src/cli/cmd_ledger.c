/* cmd_ledger.c - `charter ledger copy SRC DST [--key PUB]`: moves a ledger
 * between SQLite and PostgreSQL (or between two of a kind) with its chain
 * and signed checkpoints intact, then proves it with verify.
 *
 * The copying itself is src/ledger/copy.c; this file parses the command,
 * prints progress and the result, and verifies the copy.
 */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"

#include <stdio.h>
#include <string.h>

#include "base/thread.h"
#include "ledger/chain.h"
#include "ledger/copy.h"

#define PROGRESS_US (2 * 1000 * 1000)

static const char usage[] =
    "usage: charter ledger copy SRC DST [--key PUB]\n"
    "\n"
    "Copies every entry and signed checkpoint of ledger SRC into ledger DST,\n"
    "byte for byte and in seq order, so that 'charter verify DST' proves what\n"
    "'charter verify SRC' proves. Either may be a SQLite file or a PostgreSQL\n"
    "database (postgresql://USER@HOST:PORT/DB or a libpq connection string);\n"
    "DST is created when absent and must be empty. SRC is read in one\n"
    "snapshot: a server may go on recording to it, and the copy ends where\n"
    "the snapshot does. Entries go in batches of 1000, one transaction each;\n"
    "a long copy prints its progress on stderr every 2 s. Then DST is read\n"
    "back (the same counts, the same last hash) and verified; prints\n"
    "'copied N entries and M checkpoints; last hash HEX'.\n"
    "\n"
    "  --key PUB  verify DST with this public key (DIR/ledger.pub), as\n"
    "             'charter verify DST --key PUB' does\n"
    "\n"
    "Exit: 0 copied and verified, 1 the copy does not verify, 2 usage, DST not\n"
    "empty or SRC not a chain from seq 1, 3 a ledger cannot be opened, read or\n"
    "written (a copy cut short leaves what was committed in DST).\n";

typedef struct progress {
    int64_t next_us;
    bool printed;
} progress;

static void print_progress(void *user, uint64_t copied, uint64_t total)
{
    progress *p = user;
    int64_t now = base_mono_us();
    if (now < p->next_us)
        return;
    p->next_us = now + PROGRESS_US;
    fprintf(stderr, "charter ledger copy: %llu of %llu entries copied\n",
            (unsigned long long)copied, (unsigned long long)total);
    p->printed = true;
}

/* Verifies the copy; when it fails, says whether the source fails the same
 * way (then the copy is faithful, and the source was already broken). */
static int verify_copy(const char *src, const char *dst, const char *key)
{
    charter_verify_options opt = {.public_key_path = key};
    charter_ledger_report r;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_ledger_verify_with(dst, &opt, &r, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error: verifying the copy", &err);
        return cli_exit_for(s);
    }
    if (r.ok) {
        printf("verified: %llu entries, %llu signed checkpoints%s, proven up to seq %llu\n",
               (unsigned long long)r.entries, (unsigned long long)r.checkpoints,
               key ? " (with the given key)" : "", (unsigned long long)r.proven_seq);
        return CLI_OK;
    }
    printf("the copy does not verify: %s: %s\n", r.problem, r.message);
    charter_ledger_report o;
    memset(&err, 0, sizeof err);
    if (charter_ledger_verify_with(src, &opt, &o, &err) == CHARTER_OK && !o.ok &&
        !strcmp(o.problem, r.problem) && o.first_bad_seq == r.first_bad_seq)
        printf("the source fails the same way (%s at seq %llu): the copy is faithful\n",
               o.problem, (unsigned long long)o.first_bad_seq);
    return CLI_FAILED;
}

static int ledger_copy_cmd(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL}, *key = NULL;
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        int m = cli_option(argc, argv, &i, "--key", &key);
        if (m < 0)
            return CLI_INVALID;
        if (m)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_unknown_option("ledger copy", argv[i]);
        if (n == 2) {
            fprintf(stderr, "charter ledger copy: SRC and DST expected, found '%s' too\n",
                    argv[i]);
            return CLI_INVALID;
        }
        paths[n++] = argv[i];
    }
    if (n != 2) {
        fprintf(stderr, "charter ledger copy: SRC and DST are required (see 'charter "
                        "ledger copy --help')\n");
        return CLI_INVALID;
    }
    progress p = {.next_us = base_mono_us() + PROGRESS_US};
    ledger_copy_result r;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = ledger_copy(paths[0], paths[1], print_progress, &p, &r, &err);
    if (s != CHARTER_OK) {
        cli_print_error("error", &err);
        return cli_exit_for(s);
    }
    char hex[2 * LEDGER_HASH_SIZE + 1];
    ledger_hex(r.last_hash, LEDGER_HASH_SIZE, hex);
    printf("copied %llu entries and %llu checkpoints; last hash %s\n",
           (unsigned long long)r.entries, (unsigned long long)r.checkpoints, hex);
    fflush(stdout);
    return verify_copy(paths[0], paths[1], key);
}

int cmd_ledger(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "copy")) {
        if (cli_wants_help(argc - 1, argv + 1, usage))
            return CLI_OK;
        return ledger_copy_cmd(argc - 1, argv + 1);
    }
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    fprintf(stderr, "charter ledger: expected a subcommand: copy (see 'charter ledger "
                    "--help'); found %s%s%s\n", argc >= 2 ? "'" : "",
            argc >= 2 ? argv[1] : "none", argc >= 2 ? "'" : "");
    return CLI_INVALID;
}
