/* authzen.h - the OpenID AuthZEN Authorization API 1.0 mapped onto Charter
 * (src/server).
 *
 * authzen.c holds the three HTTP handlers declared in server.h; this header
 * is the part they share with tests: turning an AuthZEN evaluation into a
 * Charter decision request, a Charter answer into an AuthZEN decision, and
 * the batch rules (defaults, evaluation semantics) and discovery document.
 * Everything here works on jansson values only: no I/O, no server state,
 * so it can be tested without a running server. docs/authzen.md is the
 * user-facing description of the mapping.
 *
 * Ownership: functions returning json_t * return a new reference the caller
 * releases with json_decref; NULL means the input was refused (the message
 * buffer says why) or memory ran out (the message is AUTHZEN_NOMEM).
 */
#ifndef CHARTER_SERVER_AUTHZEN_H
#define CHARTER_SERVER_AUTHZEN_H

#include <stdbool.h>
#include <stddef.h>

struct json_t;

#define AUTHZEN_MSG_SIZE 1024 /* as charter_error.message */
#define AUTHZEN_NOMEM "out of memory" /* the message when memory ran out */

/* The three evaluation semantics of options.evaluations_semantic. */
typedef enum authzen_semantic {
    AUTHZEN_EXECUTE_ALL = 0,        /* the default */
    AUTHZEN_DENY_ON_FIRST_DENY,
    AUTHZEN_PERMIT_ON_FIRST_PERMIT
} authzen_semantic;

/* Checks one evaluation (an object with subject, action, resource and
 * optional context, as the specification requires them) and builds the
 * Charter decision request for it:
 *   agent    <- subject.id          workflow <- resource.type
 *   action   <- action.name         input    <- action.properties
 *   subject  <- {type, id, properties} of the resource
 *   context  <- context, plus context.authzen = {subject, resource, action}
 * Unknown members are ignored; a member sent as null counts as absent.
 * Returns the request, or NULL with `msg` saying what is wrong. */
struct json_t *authzen_request_build(const struct json_t *evaluation,
                                     char msg[AUTHZEN_MSG_SIZE]);

/* The evaluation `item` of a batch completed with the request's defaults:
 * each of subject, action, resource and context that `item` has wins as a
 * whole; otherwise the top-level one of `batch` is used. Returns a new
 * object, or NULL when out of memory. */
struct json_t *authzen_merge(const struct json_t *batch, const struct json_t *item);

/* Reads options.evaluations_semantic of a batch request (absent options or
 * member: execute_all). Returns false with `msg` for a bad value. */
bool authzen_semantic_parse(const struct json_t *batch, authzen_semantic *out,
                            char msg[AUTHZEN_MSG_SIZE]);

/* Whether a batch under `sem` stops after an evaluation that decided
 * `decision` (an evaluation error counts as false). */
bool authzen_batch_stops(authzen_semantic sem, bool decision);

/* The AuthZEN response for a Charter answer (the JSON object that
 * charter_ledger_decide returns): "decision" is true only for allow; the
 * context carries the decision id, time, reason, explanation, what fired,
 * the values at stake, the charter version, the obligations of an allow
 * (obligations profile, type "custom") and, for an escalation, the ticket,
 * queue, deadline and the obligations that apply once approved. */
struct json_t *authzen_response_build(const struct json_t *answer);

/* A refused evaluation inside a batch: {"decision": false, "context":
 * {"error": {"status": STATUS, "message": MESSAGE}}}. */
struct json_t *authzen_response_error(int status, const char *message);

/* Writes the policy decision point identifier ("http://HOST" or, behind a
 * proxy that says so, "https://HOST") into `out`. `host` is the request's
 * Host header (NULL: `fallback`, the address the server listens on);
 * `proto` its X-Forwarded-Proto (NULL, "http" or "https"). Returns false
 * with `msg` for a Host that is not a host name, IP literal and port. */
bool authzen_base_url(const char *host, const char *proto, const char *fallback,
                      char *out, size_t n, char msg[AUTHZEN_MSG_SIZE]);

/* The discovery document (GET /.well-known/authzen-configuration) for a
 * policy decision point identifier. */
struct json_t *authzen_metadata_build(const char *base_url);

#endif
