/* limits.h - every limit Charter puts on outside input, in one place.
 *
 * A parser counts its depth as it descends and refuses input past these
 * numbers with CHARTER_E_LIMIT and a message naming the limit. Raising one is
 * a deliberate change to this file, documented in docs/security.md.
 */
#ifndef CHARTER_BASE_LIMITS_H
#define CHARTER_BASE_LIMITS_H

/* Charter files (YAML). */
#define CHARTER_MAX_FILE_BYTES      (16u * 1024u * 1024u) /* one YAML file */
#define CHARTER_MAX_FILES           4096u   /* files in a charter directory */
#define CHARTER_MAX_YAML_DEPTH      64u     /* nesting of mappings/sequences */
#define CHARTER_MAX_YAML_NODES      4000000u /* nodes after alias expansion */
#define CHARTER_MAX_YAML_ALIASES    10000u  /* alias references per file */
#define CHARTER_MAX_RULES           200000u /* rules + boundaries per charter */
#define CHARTER_MAX_ID_BYTES        128u    /* any id */

/* CEL. */
#define CEL_MAX_EXPR_BYTES          (64u * 1024u) /* one expression's source */
#define CEL_MAX_PARSE_DEPTH         200u    /* nesting of the syntax tree */
#define CEL_MAX_EVAL_COST           1000000u /* steps of one evaluation */
#define CEL_MAX_EVAL_BYTES          (16u * 1024u * 1024u) /* scratch memory of one evaluation */
#define CEL_MAX_REGEX_BYTES         4096u   /* one regular expression pattern */
#define CEL_REGEX_MATCH_LIMIT       100000u /* PCRE2 match limit per match */
#define CEL_REGEX_DEPTH_LIMIT       1000u   /* PCRE2 backtracking depth limit */

/* Decision requests (JSON). */
#define CHARTER_MAX_REQUEST_BYTES   (1024u * 1024u)
#define CHARTER_MAX_JSON_DEPTH      64u
#define CHARTER_MAX_STRING_BYTES    (256u * 1024u)

/* HTTP connections (src/server/gate.c, http.c). The idle timeout counts
 * silence only; these count time, so a client sending a byte now and then
 * cannot hold a connection. Each is the default of a `serve` option. */
#define CHARTER_HEADER_DEADLINE_S   10u     /* accept (or the last answer) to complete headers */
#define CHARTER_BODY_DEADLINE_S     30u     /* complete headers to complete body */
#define CHARTER_MAX_CONNECTIONS_PER_ADDRESS 256u /* open at once from one client address */
/* Connections not yet known to be a key's (headers still coming, or not
 * authenticated) may hold all but 1/DIVISOR of --max-connections (the
 * reserve, at least one); past that the oldest of them is closed. */
#define CHARTER_CONNECTION_RESERVE_DIVISOR 8u
/* A body larger than this is parsed and decided on a worker, never on an
 * event thread that other connections wait for. */
#define CHARTER_INLINE_BODY_BYTES   (32u * 1024u)

/* AuthZEN (src/server/authzen.c). */
#define CHARTER_MAX_AUTHZEN_EVALUATIONS 1000u /* evaluations in one batch */
/* MCP (src/mcp). */
#define MCP_MAX_MESSAGE_BYTES       (CHARTER_MAX_REQUEST_BYTES + 64u * 1024u) /* one JSON-RPC message */
#define MCP_MAX_WAIT_MS             300000u /* the longest await_approval may wait */
/* Egress logs and host lists read by `charter shadow`: a longer line is
 * skipped (counted as unrecognized), never held whole. */
#define CHARTER_MAX_LOG_LINE_BYTES  (64u * 1024u)
/* Console sign-ins (`charter serve`): sessions held in memory at once (one
 * more drops the oldest), their absolute lifetime, and the largest file
 * served from --console-dir. */
#define CHARTER_MAX_SESSIONS        10000u
#define CHARTER_MAX_SESSIONS_PER_KEY 100u   /* of one key (its oldest dropped) */
#define CHARTER_SESSION_LIFETIME_S  28800u  /* 8 hours */
#define CHARTER_MAX_CONSOLE_FILE_BYTES (8u * 1024u * 1024u)

/* Searching decisions (src/server/api_search.c): a page holds at most
 * CHARTER_MAX_SEARCH_LIMIT decisions; an export (format=jsonl|csv) at most
 * CHARTER_MAX_EXPORT_ROWS, and says where to go on when there are more. */
#define CHARTER_MAX_SEARCH_LIMIT    1000u
#define CHARTER_MAX_EXPORT_ROWS     100000u

#endif
