/* cmd_serve.c - `charter serve`: the HTTP API, until SIGTERM.
 *
 * Signals are handled here, not in the library: every thread starts with
 * SIGTERM, SIGINT and SIGHUP blocked, and the main thread waits for them
 * with sigwait: SIGHUP reloads the charter (and the keys), SIGTERM and
 * SIGINT stop gracefully.
 */
#include "base/banned.h"

#include "cli/cli.h"
#include "charter_server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: charter serve --charter PATH --ledger LEDGER --keys DIR [options]\n"
    "\n"
    "Serves the HTTP JSON API (docs/http-api.md): agents decide, approvers\n"
    "work the escalation queue, systems report outcomes, AuthZEN enforcement\n"
    "points evaluate, Prometheus scrapes /metrics. Every decision is durable\n"
    "in the ledger before it is answered.\n"
    "\n"
    "options:\n"
    "  --charter PATH      the charter (file or directory)\n"
    "  --ledger LEDGER     the ledger: a SQLite file (created when absent) or a\n"
    "                      PostgreSQL database (postgresql://USER@HOST:PORT/DB\n"
    "                      or a libpq connection string), which several\n"
    "                      servers may share (docs/deployment.md)\n"
    "  --keys DIR          access keys (DIR/access.json, from 'charter keys')\n"
    "  --key FILE          checkpoint signing key (from 'charter keys init')\n"
    "  --checkpoint-every N  sign a checkpoint every N entries (default 1000)\n"
    "  --checkpoint-ms MS    ... or once MS ms have passed (default 10000)\n"
    "  --witness FILE      append each signed checkpoint head to FILE (or a\n"
    "                      FIFO) as a JSON line, a witness to keep outside the\n"
    "                      ledger (docs/ledger.md); a head that cannot be\n"
    "                      written is logged, never fatal. Needs --key\n"
    "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8080;\n"
    "                      port 0 picks a free one)\n"
    "  --max-body BYTES    largest request body (default 1048576)\n"
    "  --max-wait SECONDS  longest long poll (default 60)\n"
    "  --idle-timeout SECONDS  close silent connections (default 30)\n"
    "  --threads N         event threads serving connections (default: one\n"
    "                      per CPU; blocking requests get workers of their own)\n"
    "  --max-connections N connections open at once (default 1024); 1/8 of\n"
    "                      them is kept for requests made with a valid key\n"
    "  --max-connections-per-address N  connections from one client address\n"
    "                      (default 256, at most --max-connections)\n"
    "  --header-timeout SECONDS  time to send complete headers, counted from\n"
    "                      the connection's start, however slowly they come\n"
    "                      (default 10)\n"
    "  --body-timeout SECONDS    time to send the body once the headers are\n"
    "                      in (default 30)\n"
    "  --allow-origin ORIGIN   accept this Origin on /mcp (repeatable)\n"
    "  --console-dir DIR   serve the console (GET /, /console/NAME) from DIR,\n"
    "                      read again on each request, instead of the files\n"
    "                      built into charter (for people editing it)\n"
    "  --server-id NAME    this server's name among those sharing a ledger, in\n"
    "                      the ledger, /healthz and the log (default\n"
    "                      HOSTNAME:PID)\n"
    "  --state-dir DIR     where the side files of a PostgreSQL ledger go (its\n"
    "                      search index and outbox; created when absent;\n"
    "                      default $CHARTER_STATE_DIR, else the current\n"
    "                      directory)\n"
    "  --cookie-secure     mark the console's session cookie Secure: set it\n"
    "                      when a TLS proxy is in front (charter serves plain\n"
    "                      HTTP, and a browser keeps a Secure cookie only\n"
    "                      over HTTPS)\n"
    "\n"
    "notifications (docs/http-api.md#notifications): a queue's `notify`\n"
    "targets get webhooks, Slack messages or e-mail when an escalation opens,\n"
    "at reminders, when it moves, times out or is resolved; owed messages wait\n"
    "in an outbox and are retried until delivered (24 hours at most):\n"
    "  --outbox FILE       the outbox (default: the ledger's path + .outbox;\n"
    "                      for PostgreSQL, a file in --state-dir)\n"
    "  --public-url URL    base of the console links they carry (default\n"
    "                      http://HOST:PORT as listened on)\n"
    "  --smtp URL          SMTP server for mailto: targets: smtp://HOST:PORT\n"
    "                      (STARTTLS required, see --smtp-tls) or smtps://\n"
    "  --smtp-user USER    ... its user, and a file holding its password on\n"
    "  --smtp-password-file FILE  the first line\n"
    "  --smtp-from ADDRESS the sender (default charter@localhost)\n"
    "  --smtp-ca FILE      CA certificates to verify the SMTP server with\n"
    "  --smtp-tls required|try|off  STARTTLS on smtp:// (default required)\n"
    "  --notify-retry-base DURATION  the first retry's delay, doubling on\n"
    "                      each next one up to 1h (default 5s; e.g. 200ms)\n"
    "Webhooks are signed with the queue's secret from DIR/webhooks.json\n"
    "('charter keys webhook'); a queue without one sends them unsigned, and\n"
    "the start says so.\n"
    "\n"
    "People sign in to the console at http://HOST:PORT/ with an approver,\n"
    "admin or auditor token (sessions live in memory, 8 hours at most).\n"
    "Prints 'listening on http://HOST:PORT' once it accepts requests.\n"
    "SIGHUP reloads the charter and keys (a charter that fails to load is\n"
    "refused and the running one keeps serving); SIGTERM or SIGINT stops\n"
    "accepting, finishes requests in flight, flushes the ledger, exits 0.\n"
    "\n"
    "The server holds a SQLite ledger exclusively: while it runs, 'charter\n"
    "decide --ledger', 'charter outcome' and 'charter mcp' on the same file are\n"
    "refused (use the HTTP API); verify, export, report, map and replay work.\n"
    "A PostgreSQL ledger is shared: several servers (and those commands) record\n"
    "into it at once; one server at a time, the lease holder, applies deadlines\n"
    "and standing approvals and writes notifications, and a charter one server\n"
    "loads (start, SIGHUP) the others serve too.\n"
    "GET /healthz answers 503 while the ledger cannot be written; each change\n"
    "is logged once on stderr, with why.\n"
    "\n"
    "Exit: 0 stopped cleanly, 2 invalid options or charter, 3 cannot open the\n"
    "ledger (or another process holds it), keys or address.\n";

static int parse_uint(const char *opt, const char *v, unsigned long max,
                      unsigned long *out)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (!*v || *end || n == 0 || n > max) {
        fprintf(stderr, "charter serve: %s expects a number from 1 to %lu, found '%s'\n",
                opt, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

#define MAX_ORIGINS 16

/* A duration: "250ms", "5s", "2m", or a number of milliseconds. */
static int parse_duration_ms(const char *opt, const char *v, unsigned long *out)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    unsigned long mul = !strcmp(end, "ms") || !*end ? 1 : !strcmp(end, "s") ? 1000
                        : !strcmp(end, "m")                                  ? 60000
                                                                             : 0;
    if (!*v || end == v || !mul || n == 0 || n > 3600000ul / mul) {
        fprintf(stderr, "charter serve: %s expects a duration from 1ms to 1h such as "
                        "'200ms', '5s' or '2m'; found '%s'\n", opt, v);
        return -1;
    }
    *out = n * mul;
    return 0;
}

/* The server's log: stderr, one line each, with the time. */
static void log_line(void *user, const char *line)
{
    (void)user;
    char t[40];
    charter_time_format(charter_now_ms(), t);
    fprintf(stderr, "charter serve: %s %s\n", t, line);
    fflush(stderr);
}

int cmd_serve(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    charter_server_options o;
    memset(&o, 0, sizeof o);
    const char *origins[MAX_ORIGINS];
    size_t origin_count = 0;
    const char *state_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        unsigned long n;
        int m;
        if ((m = cli_option(argc, argv, &i, "--charter", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.charter_path = v;
        } else if ((m = cli_option(argc, argv, &i, "--ledger", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.ledger_path = v;
        } else if ((m = cli_option(argc, argv, &i, "--keys", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.keys_dir = v;
        } else if ((m = cli_option(argc, argv, &i, "--key", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.key_path = v;
        } else if ((m = cli_option(argc, argv, &i, "--witness", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.witness_path = v;
        } else if ((m = cli_option(argc, argv, &i, "--checkpoint-every", &v)) != 0) {
            if (m < 0 || parse_uint("--checkpoint-every", v, 1000000, &n))
                return CLI_INVALID;
            o.checkpoint_every = n;
        } else if ((m = cli_option(argc, argv, &i, "--checkpoint-ms", &v)) != 0) {
            if (m < 0 || parse_uint("--checkpoint-ms", v, 86400000, &n))
                return CLI_INVALID;
            o.checkpoint_ms = (uint32_t)n;
        } else if ((m = cli_option(argc, argv, &i, "--listen", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.listen = v;
        } else if ((m = cli_option(argc, argv, &i, "--max-body", &v)) != 0) {
            if (m < 0 || parse_uint("--max-body", v, 64ul << 20, &n))
                return CLI_INVALID;
            o.max_body_bytes = n;
        } else if ((m = cli_option(argc, argv, &i, "--max-wait", &v)) != 0) {
            if (m < 0 || parse_uint("--max-wait", v, 3600, &n))
                return CLI_INVALID;
            o.max_wait_s = (uint32_t)n;
        } else if ((m = cli_option(argc, argv, &i, "--idle-timeout", &v)) != 0) {
            if (m < 0 || parse_uint("--idle-timeout", v, 3600, &n))
                return CLI_INVALID;
            o.idle_timeout_s = (uint32_t)n;
        } else if ((m = cli_option(argc, argv, &i, "--threads", &v)) != 0) {
            if (m < 0 || parse_uint("--threads", v, 64, &n))
                return CLI_INVALID;
            o.threads = (uint32_t)n;
        } else if ((m = cli_option(argc, argv, &i, "--max-connections", &v)) != 0) {
            if (m < 0 || parse_uint("--max-connections", v, 65536, &n))
                return CLI_INVALID;
            o.max_connections = (uint32_t)n;
        } else if ((m = cli_option(argc, argv, &i, "--max-connections-per-address", &v)) != 0) {
            if (m < 0 || parse_uint("--max-connections-per-address", v, 65536, &n))
                return CLI_INVALID;
            o.max_connections_per_address = (uint32_t)n;
        } else if ((m = cli_option(argc, argv, &i, "--header-timeout", &v)) != 0) {
            if (m < 0 || parse_uint("--header-timeout", v, 3600, &n))
                return CLI_INVALID;
            o.header_timeout_s = (uint32_t)n;
        } else if ((m = cli_option(argc, argv, &i, "--body-timeout", &v)) != 0) {
            if (m < 0 || parse_uint("--body-timeout", v, 3600, &n))
                return CLI_INVALID;
            o.body_timeout_s = (uint32_t)n;
        } else if ((m = cli_option(argc, argv, &i, "--server-id", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            if (!*v || strlen(v) > 200 || strpbrk(v, "\r\n\"")) {
                fprintf(stderr, "charter serve: --server-id expects a name of 1 to 200 "
                                "characters without quotes or line breaks; found '%s'\n", v);
                return CLI_INVALID;
            }
            o.server_id = v;
        } else if ((m = cli_option(argc, argv, &i, "--state-dir", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            state_dir = v;
        } else if ((m = cli_option(argc, argv, &i, "--console-dir", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.console_dir = v;
        } else if ((m = cli_option(argc, argv, &i, "--outbox", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.outbox_path = v;
        } else if ((m = cli_option(argc, argv, &i, "--public-url", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
                fprintf(stderr, "charter serve: --public-url expects an http:// or https:// "
                                "URL; found '%s'\n", v);
                return CLI_INVALID;
            }
            o.public_url = v;
        } else if ((m = cli_option(argc, argv, &i, "--smtp", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            if (strncmp(v, "smtp://", 7) && strncmp(v, "smtps://", 8)) {
                fprintf(stderr, "charter serve: --smtp expects smtp://HOST:PORT or "
                                "smtps://HOST:PORT; found '%s'\n", v);
                return CLI_INVALID;
            }
            o.smtp_url = v;
        } else if ((m = cli_option(argc, argv, &i, "--smtp-user", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.smtp_user = v;
        } else if ((m = cli_option(argc, argv, &i, "--smtp-password-file", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.smtp_password_file = v;
        } else if ((m = cli_option(argc, argv, &i, "--smtp-from", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            if (strpbrk(v, "<>\r\n ") || !strchr(v, '@')) {
                fprintf(stderr, "charter serve: --smtp-from expects an address such as "
                                "charter@example.com; found '%s'\n", v);
                return CLI_INVALID;
            }
            o.smtp_from = v;
        } else if ((m = cli_option(argc, argv, &i, "--smtp-ca", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            o.smtp_ca = v;
        } else if ((m = cli_option(argc, argv, &i, "--smtp-tls", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            if (!strcmp(v, "required"))
                o.smtp_tls = CHARTER_SMTP_TLS_REQUIRED;
            else if (!strcmp(v, "try"))
                o.smtp_tls = CHARTER_SMTP_TLS_TRY;
            else if (!strcmp(v, "off"))
                o.smtp_tls = CHARTER_SMTP_TLS_OFF;
            else {
                fprintf(stderr, "charter serve: --smtp-tls expects required, try or off; "
                                "found '%s'\n", v);
                return CLI_INVALID;
            }
        } else if ((m = cli_option(argc, argv, &i, "--notify-retry-base", &v)) != 0) {
            if (m < 0 || parse_duration_ms("--notify-retry-base", v, &n))
                return CLI_INVALID;
            o.notify_retry_base_ms = (uint32_t)n;
        } else if (!strcmp(argv[i], "--cookie-secure")) {
            o.cookie_secure = true;
        } else if ((m = cli_option(argc, argv, &i, "--allow-origin", &v)) != 0) {
            if (m < 0)
                return CLI_INVALID;
            if (origin_count == MAX_ORIGINS) {
                fprintf(stderr, "charter serve: at most %d --allow-origin\n", MAX_ORIGINS);
                return CLI_INVALID;
            }
            origins[origin_count++] = v;
        } else {
            return cli_unknown_option("serve", argv[i]);
        }
    }
    if (!o.charter_path || !o.ledger_path || !o.keys_dir) {
        fprintf(stderr, "charter serve: --charter, --ledger and --keys are required "
                        "(see 'charter serve --help')\n");
        return CLI_INVALID;
    }
    if ((o.witness_path || o.checkpoint_every || o.checkpoint_ms) && !o.key_path) {
        fprintf(stderr, "charter serve: --witness, --checkpoint-every and --checkpoint-ms "
                        "need --key (checkpoints are signed with it)\n");
        return CLI_INVALID;
    }
    /* The library finds a PostgreSQL ledger's side files through
     * $CHARTER_STATE_DIR (ledger_sidecar): the option sets it for this
     * process. */
    if (state_dir && mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "charter serve: cannot create --state-dir '%s': %s\n", state_dir,
                strerror(errno));
        return CLI_IO;
    }
    if (state_dir && setenv("CHARTER_STATE_DIR", state_dir, 1) != 0) {
        fprintf(stderr, "charter serve: cannot set --state-dir '%s'\n", state_dir);
        return CLI_INVALID;
    }
    o.allowed_origins = origins;
    o.allowed_origin_count = origin_count;
    o.log = log_line;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by every thread */
    signal(SIGPIPE, SIG_IGN);

    charter_server *srv = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_server_start(&o, &srv, &err);
    if (st != CHARTER_OK) {
        cli_print_error("error", &err);
        return st == CHARTER_E_IO ? CLI_IO : CLI_INVALID;
    }
    printf("listening on http://%s\n", charter_server_address(srv));
    fflush(stdout);
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            const char *version = NULL;
            if (charter_server_reload(srv, &version, &err) == CHARTER_OK) {
                fprintf(stderr, "charter serve: reloaded; serving %s\n", version);
            } else {
                cli_print_error("reload refused, the running charter keeps serving", &err);
            }
            continue;
        }
        break;
    }
    fprintf(stderr, "charter serve: stopping\n");
    st = charter_server_stop(srv, &err);
    if (st != CHARTER_OK) {
        cli_print_error("error closing the ledger", &err);
        return CLI_IO;
    }
    return CLI_OK;
}
