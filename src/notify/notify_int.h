/* notify_int.h - what the files of src/notify share: the ntf handle, the
 * outbox's statements (outbox.c), the formats (message.c), the secrets
 * (secrets.c) and the two threads (notifier.c, deliver.c).
 */
#ifndef CHARTER_NOTIFY_INT_H
#define CHARTER_NOTIFY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>

#include "notify/notify.h"
#include "charter/model.h"
#include "base/strbuf.h"

/* ---- Secrets (secrets.c) ----------------------------------------------------- */

#define NTF_KEY_MAX 64

typedef struct ntf_secret {
    char *queue;
    unsigned char key[NTF_KEY_MAX];
    size_t key_len;
} ntf_secret;

typedef struct ntf_secrets {
    ntf_secret *v;
    size_t n;
} ntf_secrets;

/* Reads DIR/webhooks.json (absent: no secrets) into *out (the caller's;
 * ntf_secrets_free). Errors: CHARTER_E_IO naming the file and what is
 * wrong in it. */
charter_status ntf_secrets_load(const char *dir, ntf_secrets **out, charter_error *err);
void ntf_secrets_free(ntf_secrets *s);
/* The secret of `queue`, or NULL. */
const ntf_secret *ntf_secrets_find(const ntf_secrets *s, const char *queue);

/* ---- The handle --------------------------------------------------------------- */

struct ntf {
    ntf_options opt;               /* strings point to the copies below */
    char *outbox_path, *keys_dir, *public_url, *smtp_url, *smtp_user, *smtp_from,
        *smtp_ca, *smtp_password;
    charter_ledger *ledger;

    sqlite3 *db_read;              /* listings and stats, under read_mu */
    pthread_mutex_t read_mu;

    pthread_mutex_t secrets_mu;    /* guards `secrets` (swapped on reload) */
    ntf_secrets *secrets;

    void *multi;                   /* CURLM*, the delivery thread's; wakeable */

    pthread_mutex_t mu;            /* guards stopping; cv wakes the events thread */
    pthread_cond_t cv;
    bool stopping;
    pthread_t events_thread, deliver_thread;
    bool events_started, deliver_started;

    _Atomic uint64_t delivered, attempts_failed, gave_up;
    /* What is owed, as the delivery thread last counted it (at most a
     * second ago): /metrics reads these, never the outbox, so a scrape on
     * an event thread cannot wait behind a listing. */
    _Atomic uint64_t pending;
    _Atomic int64_t oldest_pending_ms;
};

void ntf_log(ntf *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wakes the delivery thread (new rows, or stopping). */
void ntf_deliver_wake(ntf *n);
void *ntf_events_main(void *arg);
void *ntf_deliver_main(void *arg);

/* ---- The outbox (outbox.c) ----------------------------------------------------
 * Status of a row: */
enum { NTF_ROW_PENDING = 0, NTF_ROW_DELIVERED = 1, NTF_ROW_FAILED = 2 };

/* Opens the outbox file (creating its tables); `durable`: every commit
 * reaches the disk (synchronous=FULL) before it returns. */
charter_status ntf_outbox_open(const char *path, bool durable, sqlite3 **out,
                               charter_error *err);
void ntf_outbox_close(sqlite3 *db);
bool ntf_outbox_exec(sqlite3 *db, const char *sql);

/* An escalation seen open (the `tracked` table). */
typedef struct ntf_tracked {
    uint64_t seq;
    char *decision_id, *queue;
    int64_t deadline_ms;
    uint32_t reminded;             /* bit i: reminder i of its queue was owed */
} ntf_tracked;

/* Every tracked row by seq into *out (malloc'd; ntf_tracked_free). */
bool ntf_tracked_load(sqlite3 *db, ntf_tracked **out, size_t *n);
void ntf_tracked_free(ntf_tracked *t, size_t n);
bool ntf_tracked_count(sqlite3 *db, int64_t *n);
bool ntf_tracked_put(sqlite3 *db, const ntf_tracked *t);
bool ntf_tracked_delete(sqlite3 *db, uint64_t seq);

/* A message owed (one event to one target). */
typedef struct ntf_message {
    char id[200];
    const char *decision_id, *queue, *event, *target, *format;
    strbuf body;
    int64_t created_ms;
} ntf_message;
/* INSERT OR IGNORE; *added: whether the row is new. */
bool ntf_message_add(sqlite3 *db, const ntf_message *m, bool *added);

/* A row being delivered (deliver.c). */
typedef struct ntf_due {
    char *id, *decision_id, *queue, *event, *target, *format;
    char *body;
    size_t body_len;
    int64_t attempts, created_ms;
} ntf_due;
void ntf_due_release(ntf_due *d); /* frees the strings */
/* The targets that have rows due at now_ms: among the `window` rows due
 * first (0: among all of them, which reads every row due); *out malloc'd
 * strings. */
bool ntf_due_targets(sqlite3 *db, int64_t now_ms, size_t window, char ***out, size_t *n);
/* Up to `max` rows due for `target`, oldest first, each leased until
 * lease_ms (its next_ms moved there, so it is not picked again while in
 * flight; after a crash it is due again then). */
bool ntf_due_take(sqlite3 *db, const char *target, int64_t now_ms, int64_t lease_ms,
                  size_t max, ntf_due *out, size_t *n);
bool ntf_mark_delivered(sqlite3 *db, const char *id, int64_t now_ms);
/* One failed attempt: attempts + 1, the error, retry at next_ms, or status
 * failed when `give_up`. */
bool ntf_mark_failed(sqlite3 *db, const char *id, const char *error, int64_t next_ms,
                     bool give_up);
/* The earliest next_ms of a pending row (INT64_MAX: none). */
int64_t ntf_next_due(sqlite3 *db);
/* Forgets delivered and failed rows older than now_ms - NTF_KEEP_MS. */
bool ntf_prune(sqlite3 *db, int64_t now_ms);
/* Pending rows and the creation time of the oldest (0: none). */
bool ntf_pending_stats(sqlite3 *db, uint64_t *count, int64_t *oldest_ms);
charter_status ntf_outbox_list(sqlite3 *db, ntf_status_filter status,
                               const char *decision_id, ntf_row_fn fn, void *user,
                               charter_error *err);

/* ---- Formats (message.c) ------------------------------------------------------ */

typedef enum ntf_event_kind {
    NTF_OPENED, NTF_REMINDER, NTF_MOVED, NTF_TIMED_OUT, NTF_RESOLVED
} ntf_event_kind;

/* What happened to an escalation, for the formats. */
typedef struct ntf_event {
    ntf_event_kind kind;
    const charter_escalation *e;
    const char *queue;             /* the queue whose targets get it */
    double share;                  /* NTF_REMINDER: the share of the SLA */
    int64_t now_ms;
} ntf_event;

/* "escalation.opened" ... */
const char *ntf_event_type(ntf_event_kind k);
const char *ntf_format_name(ch_notify_format f);

/* Fills m (id, event, format, body) for event `ev` to target `t`; the
 * caller sets nothing else but releases m->body. False when out of memory. */
bool ntf_message_build(const ntf_event *ev, const ch_notify_target *t,
                       const char *public_url, const char *smtp_from, ntf_message *m);

/* The Standard Webhooks signature "v1,<base64>" of id.timestamp.body. */
void ntf_sign(const unsigned char *key, size_t key_len, const char *id, int64_t ts,
              const char *body, size_t body_len, char *out, size_t size);

/* The targets of queue `q`: its list, or (a charter loaded before the
 * list existed) its one `notify` URL as a webhook. Returns the count;
 * *out points into q or to `one`. */
size_t ntf_queue_targets(const ch_queue *q, ch_notify_target *one,
                         const ch_notify_target **out);
/* Its reminder shares (the defaults under the same fallback). */
size_t ntf_queue_reminders(const ch_queue *q, const double **out);

#endif
