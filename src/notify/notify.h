/* notify.h - notifications: who learns that an escalation opened, is due
 * soon, moved, timed out or was resolved (src/notify; the server's view).
 *
 * Two threads of their own, above the ledger's public API and below the
 * server:
 *
 *   events   (notifier.c) waits on the ledger's escalation version
 *            (charter_ledger_escalations_wait, at most ~5 passes a second),
 *            compares the open escalations with the `tracked` table of the
 *            outbox and writes what is owed, one row per (event, target),
 *            into the outbox in one durable transaction, before anything is
 *            attempted. It never touches a decision's path: it reads the
 *            ledger like an inbox does.
 *   delivery (deliver.c) sends what is due with libcurl's multi interface
 *            (several transfers at once, each bounded in time, a few per
 *            target so a hanging receiver holds up only itself), marks
 *            each delivered, or counts the failure and retries later with
 *            exponential backoff and the same id, giving up after 24 hours.
 *
 * The outbox (outbox.c) is an SQLite file next to the ledger,
 * `<ledger>.outbox` (for a PostgreSQL ledger, where ledger_sidecar says:
 * each server has its own; only the one holding the ledger's lease writes
 * new messages, opt.lease_held). The formats (message.c) are Standard Webhooks JSON
 * (signed with the queue's secret from DIR/webhooks.json, secrets.c),
 * Slack's incoming-webhook JSON and a plain-text e-mail.
 *
 * Thread safety: every function may be called from any thread; ntf_stop
 * once, last.
 */
#ifndef CHARTER_NOTIFY_H
#define CHARTER_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "charter.h"
#include "charter_ledger.h"
#include "charter_server.h"

/* Per transfer: the longest an attempt may take, connecting included. */
#define NTF_TRANSFER_TIMEOUT_MS 10000
/* Transfers at once: in all, and to one target (its URL). */
#define NTF_MAX_TRANSFERS 64
#define NTF_MAX_PER_TARGET 4
/* Retries back off from the options' base to this, and stop this long
 * after the message was created (status failed). */
#define NTF_RETRY_CAP_MS (3600 * 1000)
#define NTF_GIVE_UP_MS (24 * 3600 * 1000)
/* Delivered and failed rows are kept this long (receivers de-duplicate on
 * the id; the console shows recent failures). */
#define NTF_KEEP_MS (7LL * 24 * 3600 * 1000)
/* At most this many passes of the events thread a second. */
#define NTF_MIN_PASS_MS 200

typedef struct ntf ntf;

typedef struct ntf_options {
    const char *outbox_path;       /* required */
    const char *keys_dir;          /* DIR/webhooks.json; required */
    const char *public_url;        /* base of console links; required */
    const char *smtp_url;          /* smtp://host:port or smtps://; NULL: no e-mail */
    const char *smtp_user;         /* or NULL */
    const char *smtp_password_file;/* read once at ntf_new; or NULL */
    const char *smtp_from;         /* envelope and From: address; NULL: charter@localhost */
    const char *smtp_ca;           /* CA file for the SMTP server's certificate, or NULL */
    charter_smtp_tls smtp_tls;
    uint32_t retry_base_ms;        /* 0: 5000 */
    /* The charter serving now, retained (the caller releases it). */
    charter *(*charter_get)(void *user);
    void *charter_user;
    /* One log line, any thread (the server's log), or NULL. */
    void (*log)(void *user, const char *line);
    void *log_user;
    /* Whether this server writes notifications now (several servers of one
     * ledger: the one holding its lease does; asked before each pass of
     * the events thread, never waits). NULL: always. The delivery thread
     * delivers what this outbox holds either way. */
    bool (*lease_held)(void *user);
    void *lease_user;
} ntf_options;

/* Opens (creating) the outbox, reads the webhook secrets and the SMTP
 * password. The threads do not run until ntf_start. *out is the caller's;
 * free with ntf_stop. Errors: CHARTER_E_IO (the outbox or a file),
 * CHARTER_E_INVALID (options), CHARTER_E_NOMEM. */
charter_status ntf_new(charter_ledger *l, const ntf_options *opt, ntf **out,
                       charter_error *err);
/* Starts the two threads. */
charter_status ntf_start(ntf *n, charter_error *err);
/* Stops the threads (transfers in flight are abandoned: they stay owed and
 * go again after a restart), closes the outbox, frees `n`. NULL: no-op.
 * Call before the ledger closes. */
void ntf_stop(ntf *n);

/* Reads DIR/webhooks.json again (the server's reload). A file that cannot
 * be read keeps the secrets in use and returns the error. */
charter_status ntf_reload_secrets(ntf *n, charter_error *err);
/* Logs one line per queue of `c` with a webhook target but no secret (its
 * webhooks go unsigned) and per e-mail target without --smtp. */
void ntf_warn_unsigned(ntf *n, const charter *c);

/* For /metrics (never waits on the outbox). Counters count since ntf_new;
 * pending and its oldest are as the delivery thread counted them, at most
 * about a second ago. */
typedef struct ntf_stats {
    uint64_t delivered;            /* messages delivered */
    uint64_t attempts_failed;      /* attempts that failed (each retry counts) */
    uint64_t failed;               /* messages given up on */
    uint64_t pending;              /* owed now */
    double oldest_pending_s;       /* age of the oldest owed, 0 when none */
} ntf_stats;
void ntf_stats_get(ntf *n, ntf_stats *out);

/* One outbox row as GET /v1/notifications shows it. Strings live for the
 * callback. `target` is already cut for display (ntf_target_display). */
typedef struct ntf_row {
    const char *id, *decision_id, *queue, *event, *target, *format;
    const char *status;            /* pending | delivered | failed */
    int64_t attempts;
    const char *last_error;        /* or NULL */
    int64_t next_ms, created_ms, delivered_ms; /* 0: none */
} ntf_row;
typedef int (*ntf_row_fn)(const ntf_row *r, void *user); /* nonzero stops */

typedef enum ntf_status_filter {
    NTF_ANY, NTF_PENDING, NTF_FAILING, NTF_FAILED, NTF_DELIVERED
} ntf_status_filter;

/* Calls fn for the rows matching `status` and `decision_id` (NULL: any),
 * newest first. Errors: CHARTER_E_IO. */
charter_status ntf_list(ntf *n, ntf_status_filter status, const char *decision_id,
                        ntf_row_fn fn, void *user, charter_error *err);

/* `url` as it may be shown: userinfo, query and fragment cut, and only the
 * first segment of the path kept ("https://hooks.slack.com/services/…"):
 * a hook's URL is often its credential. mailto: addresses are kept. */
void ntf_target_display(const char *url, char *out, size_t size);

#endif
