/* main.c - the `charter` command: dispatches to one subcommand per file. */
#include "base/banned.h"

#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"check", cmd_check, "load and validate a charter, print its version and warnings"},
    {"test", cmd_test, "run charter test files (request -> expected decision)"},
    {"decide", cmd_decide, "decide one request against a charter"},
    {"eval", cmd_eval, "evaluate one CEL expression"},
    {"brief", cmd_brief, "render an agent's brief as Markdown"},
    {"verify", cmd_verify, "verify a ledger's hash chain and signed checkpoints"},
    {"checkpoints", cmd_checkpoints, "export a ledger's signed checkpoint heads (a witness)"},
    {"export", cmd_export, "export ledger entries as JSON lines"},
    {"replay", cmd_replay, "list recorded decisions a new charter would change"},
    {"outcome", cmd_outcome, "record an outcome report in a ledger"},
    {"ledger", cmd_ledger, "copy a ledger between SQLite and PostgreSQL (ledger copy)"},
    {"keys", cmd_keys, "create signing and access keys"},
    {"serve", cmd_serve, "serve the HTTP API (decide, escalations, outcomes, AuthZEN)"},
    {"mcp", cmd_mcp, "serve MCP over stdio to an agent (tools, resources)"},
    {"report", cmd_report, "alignment report: goals, escalations, agents, values"},
    {"map", cmd_map, "readiness map: workflows by autonomy, evidence to move them"},
    {"consistency", cmd_consistency, "situations two workflows decide differently"},
    {"shadow", cmd_shadow, "AI-service traffic from unregistered agents in egress logs"},
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: charter <command> [options]\n"
            "\n"
            "Charter is the intent layer for autonomous AI agents: it decides\n"
            "allow, deny or escalate for every action an agent asks about,\n"
            "from the charter your organization writes.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Run 'charter <command> --help' for a command's options.\n"
            "Exit codes: 0 success, 1 a check or test failed, 2 invalid input\n"
            "or usage, 3 a file could not be read. See docs/cli.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_INVALID;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("charter 0.1.0\n");
        return CLI_OK;
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "charter: unknown command '%s'; expected one of", name);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(stderr, "%s %s", i ? "," : "", commands[i].name);
    fprintf(stderr, "\n");
    return CLI_INVALID;
}
