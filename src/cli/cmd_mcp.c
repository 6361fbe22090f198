/* cmd_mcp.c - `charter mcp`: the MCP server over stdio, for an agent
 * launched locally. One JSON-RPC message per line on standard input, one
 * reply per line on standard output, logs on standard error; ends cleanly
 * at end of input. The protocol is src/mcp (mcp.h). */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_ledger.h"
#include "base/limits.h"
#include "mcp/mcp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: charter mcp --charter PATH --ledger LEDGER --agent ID [--key KEY]\n"
    "                   [--max-wait SECONDS]\n"
    "\n"
    "Serves the Model Context Protocol over stdio, for an agent launched\n"
    "locally (its MCP client starts this command): JSON-RPC messages, one per\n"
    "line, on standard input; replies on standard output; logs on standard\n"
    "error. Ends at end of input. Speaks MCP revisions 2026-07-28 and\n"
    "2025-11-25 (and 2025-06-18).\n"
    "\n"
    "Tools: check_action (a decision, recorded in the ledger exactly like\n"
    "'charter decide --ledger'), await_approval, report_outcome, get_brief.\n"
    "Resources: charter://values, charter://boundaries. See docs/mcp.md.\n"
    "\n"
    "  --charter PATH      the charter (YAML file or directory); required\n"
    "  --ledger LEDGER     the ledger every decision is recorded in: a SQLite\n"
    "                      file (created when absent) or a PostgreSQL database\n"
    "                      (postgresql://...); required\n"
    "  --agent ID          the agent this connection acts for; a call naming\n"
    "                      another agent is refused; required\n"
    "  --key KEY           sign ledger checkpoints with this secret key\n"
    "                      (from 'charter keys init')\n"
    "  --max-wait SECONDS  the longest await_approval waits (default 30)\n"
    "\n"
    "A SQLite ledger has one writer: while 'charter serve' (or another\n"
    "'charter mcp') records into the file this command is refused at once;\n"
    "connect the agent to that server's /mcp endpoint instead.\n"
    "\n"
    "Exit: 0 at end of input, 2 invalid arguments or charter, 3 unreadable\n"
    "file, unavailable ledger or a closed standard output.\n";

typedef struct mcp_args {
    const char *charter, *ledger, *agent, *key, *max_wait;
} mcp_args;

static int parse_args(int argc, char **argv, mcp_args *a)
{
    static const char *const names[] = {"--charter", "--ledger", "--agent", "--key",
                                        "--max-wait"};
    const char **slots[] = {&a->charter, &a->ledger, &a->agent, &a->key, &a->max_wait};
    for (int i = 1; i < argc; i++) {
        int m = cli_option_table(argc, argv, &i, names, slots, sizeof names / sizeof names[0]);
        if (m < 0)
            return CLI_INVALID;
        if (!m)
            return cli_unknown_option("mcp", argv[i]);
    }
    if (!a->charter || !a->ledger || !a->agent) {
        fprintf(stderr, "charter mcp: --charter PATH, --ledger LEDGER and --agent ID are "
                        "required\n");
        return CLI_INVALID;
    }
    return CLI_OK;
}

static charter *the_charter(void *user)
{
    return charter_retain(user);
}

/* Reads one line without its newline into *buf. Keeps at most `keep`
 * bytes of it (a longer line is read to its end, and its first `keep`
 * bytes are enough for mcp_handle to refuse it as too large), so no input
 * makes the buffer grow past `keep`. Returns the bytes kept, or -1 at end of
 * input or on a read error or out of memory. */
static ssize_t read_line(FILE *in, char **buf, size_t *cap, size_t keep)
{
    size_t n = 0;
    int c;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (n == keep)
            continue;
        if (n + 1 >= *cap) {
            size_t want = *cap ? *cap * 2 : 4096;
            if (want > keep + 1)
                want = keep + 1;
            char *bigger = realloc(*buf, want);
            if (!bigger)
                return -1;
            *buf = bigger;
            *cap = want;
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && (n == 0 || ferror(in)))
        return -1;
    return (ssize_t)n;
}

/* An agent the charter does not register is a shadow agent: every action
 * it asks about is denied. Say so at once rather than at the first deny. */
static void warn_if_unregistered(const charter *c, const char *agent)
{
    char *brief = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    if (charter_brief(c, agent, NULL, &brief, &err) == CHARTER_E_REF)
        fprintf(stderr, "charter mcp: warning: %s; every action it asks about will be "
                        "denied (shadow agent)\n", err.message);
    free(brief);
}

/* Reads messages until end of input; returns the exit code. */
/* The agent is told only "could not be recorded"; stderr (the operator's)
 * learns why, once per change. */
static void log_health(void *user, const charter_ledger_health *h)
{
    (void)user;
    if (h->ok)
        fprintf(stderr, "charter mcp: ledger: writable again\n");
    else
        fprintf(stderr, "charter mcp: ledger: cannot be written (%s): %s\n", h->reason,
                h->message);
}

static int serve(mcp_server *s, const char *agent)
{
    mcp_conn conn;
    mcp_conn_init(&conn);
    mcp_call call = {.agent = agent, .conn = &conn, .http = NULL};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = CLI_OK;
    while ((n = read_line(stdin, &line, &cap, MCP_MAX_MESSAGE_BYTES + 1)) >= 0) {
        while (n > 0 && line[n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        mcp_reply r;
        mcp_handle(s, &call, line, (size_t)n, &r);
        if (r.error_code)
            fprintf(stderr, "charter mcp: answered error %d\n", r.error_code);
        if (r.body && (fwrite(r.body, 1, r.len, stdout) != r.len || fputc('\n', stdout) == EOF ||
                       fflush(stdout) != 0)) {
            fprintf(stderr, "charter mcp: cannot write to standard output: %s\n",
                    strerror(errno));
            free(r.body);
            rc = CLI_IO;
            break;
        }
        if (!r.body && r.error_code)
            fprintf(stderr, "charter mcp: out of memory answering a message\n");
        free(r.body);
    }
    free(line);
    return rc;
}

int cmd_mcp(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    mcp_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    mcp_config cfg = {.charter = the_charter};
    if (a.max_wait) {
        char *end;
        errno = 0;
        long v = strtol(a.max_wait, &end, 10);
        if (errno || *end || end == a.max_wait || v < 0 || v > 300) {
            fprintf(stderr, "charter mcp: --max-wait expects seconds from 0 to 300, found "
                            "'%s'\n", a.max_wait);
            return CLI_INVALID;
        }
        cfg.max_wait_ms = (uint32_t)v * 1000;
    }
    charter *c = NULL;
    if ((rc = cli_load_charter(a.charter, &c)) != CLI_OK)
        return rc;
    charter_ledger_options opt = {.key_path = a.key, .on_health = log_health};
    charter_ledger *l = NULL;
    mcp_server *s = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_open(a.ledger, &opt, &l, &err);
    if (st != CHARTER_OK) {
        cli_print_error("error: ledger unavailable", &err);
        charter_release(c);
        return cli_exit_for(st);
    }
    cfg.charter_user = c;
    cfg.ledger = l;
    if ((st = mcp_server_new(&cfg, &s, &err)) != CHARTER_OK) {
        cli_print_error("error", &err);
        rc = cli_exit_for(st);
    } else {
        /* A client that goes away must end us through EOF or EPIPE, not kill
         * us in the middle of a ledger write. */
        signal(SIGPIPE, SIG_IGN);
        fprintf(stderr, "charter mcp: serving agent '%s' under charter '%s' (%s) over stdio\n",
                a.agent, charter_name(c), charter_version(c));
        warn_if_unregistered(c, a.agent);
        rc = serve(s, a.agent);
    }
    mcp_server_free(s);
    rc = cli_ledger_close(l, rc);
    charter_release(c);
    return rc;
}
