/* charter_server.h - `charter serve`: the HTTP JSON API for agents,
 * approvers and dashboards, and the access keys that guard it.
 *
 * A charter_server owns a loaded charter (swapped on reload), a recording
 * ledger and an HTTP daemon (libmicrohttpd: a few event threads that never
 * wait, a decision's connection suspended while its group commit runs, and
 * workers for what may block, like a long poll waiting for a person). The
 * endpoints are in docs/http-api.md.
 *
 * Conventions are those of charter.h. The server never installs signal
 * handlers: the caller (the CLI) waits for signals and calls
 * charter_server_reload / charter_server_stop.
 */
#ifndef CHARTER_SERVER_H
#define CHARTER_SERVER_H

#include "charter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Access keys ---------------------------------------------------------
 * Bearer tokens "chk_<12 hex id>_<43 base64url secret>". The keys file
 * (DIR/access.json, mode 0600) stores for each key its id, role, name,
 * queues and roles, and a BLAKE2b hash of the secret, never the secret:
 * a token is shown once, when it is created. Tokens are checked by
 * hashing the presented secret and comparing in constant time. */

typedef enum charter_access_role {
    CHARTER_ROLE_AGENT = 0,    /* decides as one registered agent */
    CHARTER_ROLE_APPROVER = 1, /* resolves escalations of its queues */
    CHARTER_ROLE_ADMIN = 2,    /* reloads, reads everything */
    CHARTER_ROLE_PEP = 3,      /* an AuthZEN enforcement point: evaluates for
                                  any subject, every call recorded */
    CHARTER_ROLE_AUDITOR = 4   /* reads every decision, escalation, charter
                                  version and analysis; changes nothing */
} charter_access_role;

CHARTER_API const char *charter_access_role_name(charter_access_role r);

#define CHARTER_TOKEN_SIZE 64 /* a token and its NUL fit */

/* Adds a key to DIR/access.json (created, with DIR, when absent) and
 * writes its token into `token`. `name` is the agent id (agents) or the
 * person or system it is for; `queues` (approvers: at least one) and
 * `roles` (approvers: optional, matched against a queue's roles) may be
 * NULL when their count is 0. Errors: CHARTER_E_INVALID, CHARTER_E_IO. */
CHARTER_API charter_status charter_access_add(const char *dir,
                                              charter_access_role role,
                                              const char *name,
                                              const char *const *queues,
                                              size_t queue_count,
                                              const char *const *roles,
                                              size_t role_count,
                                              char token[CHARTER_TOKEN_SIZE],
                                              charter_error *err);

/* Removes the key with this id ("chk_<id>" or the bare id) from the file.
 * Errors: CHARTER_E_REF (no such key), CHARTER_E_IO. */
CHARTER_API charter_status charter_access_revoke(const char *dir, const char *id,
                                                 charter_error *err);

/* The keys file as JSON without the hashes (for `charter keys list`);
 * *out is malloc'd, the caller frees it. */
CHARTER_API charter_status charter_access_list(const char *dir, char **out,
                                               charter_error *err);

/* ---- Webhook secrets -------------------------------------------------------
 * Standard Webhooks signing secrets, one per escalation queue, in
 * DIR/webhooks.json (mode 0600, beside access.json): "whsec_" + the base64
 * of 32 random bytes. The server signs every webhook of the queue with it
 * (docs/http-api.md#notifications) and reads the file at start and reload. */

#define CHARTER_WEBHOOK_SECRET_SIZE 64 /* a secret and its NUL fit */

/* Creates the secret of queue `queue` (any id; the charter is not read) in
 * DIR/webhooks.json (created, with DIR, when absent) and writes it into
 * `secret`. With `rotate` an existing secret is replaced; without, it is
 * kept and CHARTER_E_DUPLICATE returned. Errors: CHARTER_E_INVALID,
 * CHARTER_E_DUPLICATE, CHARTER_E_IO. */
CHARTER_API charter_status charter_webhook_secret_create(const char *dir,
                                                         const char *queue,
                                                         bool rotate,
                                                         char secret[CHARTER_WEBHOOK_SECRET_SIZE],
                                                         charter_error *err);

/* ---- The server ------------------------------------------------------------ */

/* How e-mail reaches an smtp:// server (smtps:// is TLS from the start). */
typedef enum charter_smtp_tls {
    CHARTER_SMTP_TLS_REQUIRED = 0, /* STARTTLS or nothing (default) */
    CHARTER_SMTP_TLS_TRY = 1,      /* STARTTLS when offered, else plain */
    CHARTER_SMTP_TLS_OFF = 2       /* plain text (a local relay) */
} charter_smtp_tls;

typedef struct charter_server_options {
    const char *charter_path;   /* required: a file or directory */
    /* required: the ledger, a SQLite file or a PostgreSQL database (a
     * postgresql:// URI or a libpq connection string), which several
     * servers may share. The side files of a PostgreSQL ledger (search
     * index, outbox) go in $CHARTER_STATE_DIR, else the current directory
     * (`charter serve --state-dir` sets it). */
    const char *ledger_path;
    /* This server's name among those sharing a ledger: in the ledger's
     * `charter_loaded` entries, /healthz and the log. NULL:
     * "<hostname>:<pid>". */
    const char *server_id;
    const char *keys_dir;       /* required: DIR with access.json */
    const char *key_path;       /* checkpoint signing key, or NULL */
    /* With key_path: the cadence of signed checkpoints (0: the ledger's
     * defaults, 1000 entries or 10000 ms; charter_ledger_options), and a
     * file or FIFO each signed head is appended to, once durable, as a
     * witness outside the ledger (NULL: none). A head that cannot be
     * written is logged on standard error, once per change, never fatal. */
    uint64_t checkpoint_every;
    uint32_t checkpoint_ms;
    const char *witness_path;
    const char *listen;         /* "127.0.0.1:8080" (default); port 0 picks one */
    size_t max_body_bytes;      /* 0: CHARTER_MAX_REQUEST_BYTES */
    uint32_t max_header_bytes;  /* 0: 16 KiB, request line and headers */
    uint32_t idle_timeout_s;    /* 0: 30; a silent connection is closed */
    uint32_t max_wait_s;        /* 0: 60; the longest long poll */
    uint32_t max_connections;   /* 0: 1024 */
    /* Deadlines that count time, not silence: complete headers within
     * header_timeout_s of the connection's start (or of its last answer,
     * plus idle_timeout_s), a complete body within body_timeout_s of the
     * headers; the connection is closed past them. 0: 10 and 30. */
    uint32_t header_timeout_s;
    uint32_t body_timeout_s;
    uint32_t max_connections_per_address; /* 0: 256 (at most max_connections) */
    uint32_t threads;           /* event threads; 0: one per CPU */
    uint32_t expire_every_ms;   /* 0: 1000; how often deadlines are applied */
    /* Origins accepted on /mcp (browser clients); NULL: none but no Origin. */
    const char *const *allowed_origins;
    size_t allowed_origin_count;
    /* Where the server's log lines go: one line (no newline) per call, from
     * any thread. Today: each time the ledger stops being writable (with
     * why: file, SQLite's error) and each time it is writable again. NULL:
     * nowhere. `charter serve` writes them to stderr. */
    void (*log)(void *user, const char *line);
    void *log_user;
    /* The console (GET / and /console/<name>): NULL serves the files
     * embedded at build time; a directory serves its files instead, read
     * again on each request (for people editing the console). */
    const char *console_dir;
    /* Marks the session cookie Secure: set it when a TLS proxy is in front
     * (charter itself serves plain HTTP). */
    bool cookie_secure;
    /* Notifications (docs/http-api.md#notifications): the outbox file (NULL:
     * "<ledger_path>.outbox"), the base of the console links they carry
     * (NULL: "http://<the address listened on>"), the SMTP server for
     * mailto: targets (NULL: e-mail targets fail, and the start says so)
     * with its user, a file holding its password (first line), the From
     * address (NULL: charter@localhost), a CA file to verify it with (NULL:
     * the system's) and TLS; the first retry's delay (0: 5000 ms; each next
     * one doubles, at most an hour). */
    const char *outbox_path;
    const char *public_url;
    const char *smtp_url;
    const char *smtp_user;
    const char *smtp_password_file;
    const char *smtp_from;
    const char *smtp_ca;
    charter_smtp_tls smtp_tls;
    uint32_t notify_retry_base_ms;
} charter_server_options;

typedef struct charter_server charter_server;

/* Loads the charter and the keys, opens the ledger (recording the charter's
 * version, and on a shared ledger that this server now serves it), and
 * starts listening. On a shared ledger the deadlines, standing approvals
 * and notifications run on the one server holding the ledger's lease, and
 * a charter another server loads is loaded here too. On success *out is the caller's; stop it
 * with charter_server_stop. Errors name what failed: the charter
 * (file:line:col), the ledger, the keys file, or the address. */
CHARTER_API charter_status charter_server_start(const charter_server_options *opt,
                                                charter_server **out,
                                                charter_error *err);

/* The address it listens on, "127.0.0.1:PORT" (the real port when 0 was
 * asked for). Lives as long as the server. */
CHARTER_API const char *charter_server_address(const charter_server *s);

/* Loads the charter (and the keys file) again. A charter that fails to load
 * is refused with its error and the running one keeps serving; a new
 * version is recorded in the ledger (on a shared ledger with a
 * `charter_loaded` entry, so the other servers load it too). *version (may be NULL) receives the
 * version now serving (lives as long as that charter serves). */
CHARTER_API charter_status charter_server_reload(charter_server *s,
                                                 const char **version,
                                                 charter_error *err);

/* Graceful stop: stops accepting, wakes long polls, lets requests in flight
 * finish, flushes and closes the ledger, frees the server. */
CHARTER_API charter_status charter_server_stop(charter_server *s,
                                               charter_error *err);

#ifdef __cplusplus
}
#endif
#endif
