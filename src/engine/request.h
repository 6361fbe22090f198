/* request.h - a parsed decision request (struct charter_request).
 *
 * A request is parsed from JSON once (charter_request_parse, or
 * ch_request_from_json for the charter test runner) and converted to the CEL
 * values conditions read, in the request's own arena, so deciding it needs
 * no JSON work and no allocation beyond the decider's scratch arena. The
 * names it is looked up by are hashed at parse time with ch_hash.
 * A request is independent of any charter and immutable once parsed.
 */
#ifndef CHARTER_ENGINE_REQUEST_H
#define CHARTER_ENGINE_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "charter.h"
#include "base/arena.h"
#include "cel/cel.h"

typedef struct ch_str {
    const char *p;   /* NUL-terminated */
    size_t n;
} ch_str;

struct charter_request {
    arena mem;
    ch_str agent, workflow, action, rationale, run_id;
    uint64_t agent_hash, workflow_hash, action_hash;
    double confidence;             /* 0 when not sent */
    bool has_time;
    int64_t time_ms;               /* when has_time */
    int64_t run_actions, day_actions;
    double run_spend, day_spend;
    cel_value input, subject, context; /* maps (empty when not sent) */
    cel_value counters;            /* object: run/day -> actions, spend */
};

struct json_t;
/* Builds a request from parsed JSON (`j` must be an object). Checks types,
 * required and unknown keys, and nesting depth. Errors: CHARTER_E_REQUEST,
 * CHARTER_E_LIMIT, CHARTER_E_NOMEM; err->message says what was found and
 * what was expected. On success *out is owned by the caller
 * (charter_request_free). */
charter_status ch_request_from_json(const struct json_t *j,
                                    charter_request **out, charter_error *err);

/* Replaces the request's stop-rule counters (the ones its JSON carried, if
 * any) with these, as the ledger does when it decides or replays. Errors:
 * CHARTER_E_NOMEM. */
charter_status ch_request_set_counters(charter_request *r, int64_t run_actions,
                                       double run_spend, int64_t day_actions,
                                       double day_spend);

/* Parses an RFC 3339 date-time ("2026-11-24T10:00:00Z",
 * "2026-11-24T11:00:00.250+01:00") into Unix milliseconds. */
bool ch_time_parse(const char *s, size_t n, int64_t *out_ms);
/* Formats Unix milliseconds as RFC 3339 in UTC ("2026-11-24T10:00:00Z",
 * with ".mmm" only when the milliseconds are not zero). buf holds at least
 * 32 bytes; returns the length written. */
size_t ch_time_format(int64_t ms, char *buf);

#endif
