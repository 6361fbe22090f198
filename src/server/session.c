/* session.c - console sign-ins: the session store and /v1/session.
 *
 * A person signs in with an approver, admin or auditor token (POST
 * /v1/session); the server answers with a session cookie (256 random bits,
 * base64url) and a CSRF token of the session's own. The store keeps, per
 * session, only a BLAKE2b-256 hash of its id, the key id it stands for, its
 * CSRF token and its expiry; a request's cookie is hashed, found by that
 * hash and compared in constant time. Which key a session is, and its
 * role, is looked up at each request in the keys loaded now (http.c), so a
 * key revoked and reloaded ends its sessions.
 *
 * The store is a ring of `max` slots in creation order (every session has
 * the same lifetime, so that is also expiry order) with a chained hash
 * index over it: creating a session when the ring is full drops the
 * oldest; expired sessions at the ring's head are dropped as new ones are
 * made. One key holds at most `max_per_key` of them (its oldest goes).
 * One mutex guards it; finding is O(1) on average, signing in scans.
 */
#include "base/banned.h"

#include "server/server.h"

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"

#define NONE UINT32_MAX

typedef struct slot {
    bool used;
    uint32_t next;                  /* the next slot in its hash chain */
    struct srv_session_view v;
} slot;

struct srv_sessions {
    pthread_mutex_t mu;
    slot *slots;
    size_t cap;                     /* the ring: slots[(head + i) % cap], i < count */
    size_t head, count;
    uint32_t *buckets;
    size_t bucket_mask;
    int64_t lifetime_ms;
    size_t max_per_key;
};

charter_status srv_sessions_new(size_t max, size_t max_per_key, int64_t lifetime_ms,
                                srv_sessions **out)
{
    *out = NULL;
    if (!max || !max_per_key || max >= NONE || sodium_init() < 0)
        return CHARTER_E_INVALID;
    srv_sessions *ss = calloc(1, sizeof *ss);
    size_t nb = 16;
    while (nb < max)
        nb *= 2;
    if (ss) {
        ss->slots = calloc(max, sizeof *ss->slots);
        ss->buckets = malloc(nb * sizeof *ss->buckets);
    }
    if (!ss || !ss->slots || !ss->buckets) {
        if (ss) {
            free(ss->slots);
            free(ss->buckets);
        }
        free(ss);
        return CHARTER_E_NOMEM;
    }
    for (size_t i = 0; i < nb; i++)
        ss->buckets[i] = NONE;
    ss->bucket_mask = nb - 1;
    ss->cap = max;
    ss->max_per_key = max_per_key;
    ss->lifetime_ms = lifetime_ms;
    pthread_mutex_init(&ss->mu, NULL);
    *out = ss;
    return CHARTER_OK;
}

void srv_sessions_free(srv_sessions *ss)
{
    if (!ss)
        return;
    sodium_memzero(ss->slots, ss->cap * sizeof *ss->slots);
    free(ss->slots);
    free(ss->buckets);
    pthread_mutex_destroy(&ss->mu);
    free(ss);
}

static size_t bucket_of(const srv_sessions *ss, const unsigned char hash[32])
{
    uint32_t b;
    memcpy(&b, hash, sizeof b);
    return b & ss->bucket_mask;
}

/* Takes slot i out of its chain (mu held). */
static void unlink_slot(srv_sessions *ss, uint32_t i)
{
    slot *sl = &ss->slots[i];
    if (!sl->used)
        return;
    uint32_t *p = &ss->buckets[bucket_of(ss, sl->v.id_hash)];
    while (*p != NONE && *p != i)
        p = &ss->slots[*p].next;
    if (*p == i)
        *p = sl->next;
    sodium_memzero(sl, sizeof *sl);
}

/* Drops the ring's head (mu held). */
static void drop_oldest(srv_sessions *ss)
{
    unlink_slot(ss, (uint32_t)ss->head);
    ss->head = (ss->head + 1) % ss->cap;
    ss->count--;
}

static void hash_id(const char *id, size_t n, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)id, n, NULL, 0);
}

static void random_b64(char out[SRV_SESSION_ID_CHARS + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, SRV_SESSION_ID_CHARS + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

bool srv_session_create(srv_sessions *ss, const char *key_id, int64_t now_ms,
                        char id[SRV_SESSION_ID_CHARS + 1], struct srv_session_view *view)
{
    slot fresh = {.used = true};
    random_b64(id);
    hash_id(id, SRV_SESSION_ID_CHARS, fresh.v.id_hash);
    snprintf(fresh.v.key_id, sizeof fresh.v.key_id, "%s", key_id);
    random_b64(fresh.v.csrf);
    fresh.v.expires_ms = now_ms + ss->lifetime_ms;
    pthread_mutex_lock(&ss->mu);
    while (ss->count && (!ss->slots[ss->head].used ||
                         ss->slots[ss->head].v.expires_ms <= now_ms))
        drop_oldest(ss); /* expired, or ended: a hole */
    /* One key holds at most max_per_key sessions: its oldest goes, so one
     * person signing in again and again cannot push everyone else out.
     * (A scan, on sign-in only.) */
    size_t mine = 0, oldest = SIZE_MAX;
    for (size_t k = 0; k < ss->count; k++) {
        size_t i = (ss->head + k) % ss->cap;
        if (ss->slots[i].used && !strcmp(ss->slots[i].v.key_id, fresh.v.key_id)) {
            if (oldest == SIZE_MAX)
                oldest = i;
            mine++;
        }
    }
    if (mine >= ss->max_per_key)
        unlink_slot(ss, (uint32_t)oldest);
    if (ss->count == ss->cap)
        drop_oldest(ss);
    uint32_t i = (uint32_t)((ss->head + ss->count) % ss->cap);
    size_t b = bucket_of(ss, fresh.v.id_hash);
    fresh.next = ss->buckets[b];
    ss->slots[i] = fresh;
    ss->buckets[b] = i;
    ss->count++;
    pthread_mutex_unlock(&ss->mu);
    *view = fresh.v;
    sodium_memzero(&fresh, sizeof fresh);
    return true;
}

bool srv_session_find(srv_sessions *ss, const char *id, int64_t now_ms,
                      struct srv_session_view *view)
{
    if (!ss || !id || strlen(id) != SRV_SESSION_ID_CHARS)
        return false;
    unsigned char h[32];
    hash_id(id, SRV_SESSION_ID_CHARS, h);
    bool found = false;
    pthread_mutex_lock(&ss->mu);
    for (uint32_t i = ss->buckets[bucket_of(ss, h)]; i != NONE; i = ss->slots[i].next) {
        const slot *sl = &ss->slots[i];
        if (sodium_memcmp(sl->v.id_hash, h, sizeof h) == 0) {
            found = sl->v.expires_ms > now_ms;
            if (found)
                *view = sl->v;
            break;
        }
    }
    pthread_mutex_unlock(&ss->mu);
    return found;
}

void srv_session_end(srv_sessions *ss, const unsigned char id_hash[32])
{
    pthread_mutex_lock(&ss->mu);
    for (uint32_t i = ss->buckets[bucket_of(ss, id_hash)]; i != NONE;
         i = ss->slots[i].next)
        if (sodium_memcmp(ss->slots[i].v.id_hash, id_hash, 32) == 0) {
            unlink_slot(ss, i); /* a hole in the ring until the head passes it */
            break;
        }
    pthread_mutex_unlock(&ss->mu);
}

size_t srv_sessions_count(srv_sessions *ss)
{
    pthread_mutex_lock(&ss->mu);
    size_t n = 0;
    for (size_t i = 0; i < ss->count; i++)
        n += ss->slots[(ss->head + i) % ss->cap].used;
    pthread_mutex_unlock(&ss->mu);
    return n;
}

/* ---- /v1/session ----------------------------------------------------------------- */

/* The session's answer: who, its CSRF token and when it ends. */
static json_t *session_json(const srv_key *k, const struct srv_session_view *v)
{
    char expires[40];
    charter_time_format(v->expires_ms, expires);
    json_t *queues = json_array();
    for (size_t i = 0; queues && i < k->queue_count; i++)
        json_array_append_new(queues, json_string(k->queues[i]));
    return json_pack("{s:{s:s,s:s,s:s,s:o},s:s,s:s}", "who", "name", k->name, "role",
                     charter_access_role_name(k->role), "key_id", k->id, "queues",
                     queues ? queues : json_array(), "csrf", v->csrf, "expires",
                     expires);
}

static void set_cookie(const srv_request *rq, srv_response *rs, const char *value,
                       unsigned max_age)
{
    char cookie[160];
    snprintf(cookie, sizeof cookie, SRV_SESSION_COOKIE "=%s; Path=/; HttpOnly; "
             "SameSite=Strict; Max-Age=%u%s", value, max_age,
             rq->s->opt.cookie_secure ? "; Secure" : "");
    srv_add_header(rs, MHD_HTTP_HEADER_SET_COOKIE, cookie);
}

void api_session_create(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    /* A sign-in from another site's page (login CSRF) is refused. */
    if (!srv_origin_same(rq)) {
        srv_reply_error(rs, 403, "csrf", "the request's Origin is not this server's: "
                        "expected http://<Host> or https://<Host>, as the console sends");
        return;
    }
    json_t *j = srv_body_object(rq, rs);
    if (!j)
        return;
    const char *token = json_string_value(json_object_get(j, "token"));
    if (!token) {
        json_decref(j);
        srv_reply_error(rs, 400, "invalid_request", "expected {\"token\":\"chk_...\"}, a "
                        "token from 'charter keys'");
        return;
    }
    srv *s = rq->s;
    pthread_mutex_lock(&s->swap_mu);
    srv_keys *ks = srv_keys_retain(s->keys);
    pthread_mutex_unlock(&s->swap_mu);
    const srv_key *k = srv_keys_check(ks, token);
    json_decref(j);
    if (!k) {
        srv_reply_error(rs, 401, "unauthenticated", "the token is not one of this "
                        "server's keys (revoked, or mistyped); expected a token from "
                        "'charter keys'");
    } else if (k->role != CHARTER_ROLE_APPROVER && k->role != CHARTER_ROLE_ADMIN &&
               k->role != CHARTER_ROLE_AUDITOR) {
        srv_reply_error(rs, 403, "forbidden", "the console is for people: found a %s key; "
                        "expected an approver, admin or auditor key",
                        charter_access_role_name(k->role));
    } else {
        char id[SRV_SESSION_ID_CHARS + 1];
        struct srv_session_view v;
        srv_session_create(s->sessions, k->id, charter_now_ms(), id, &v);
        set_cookie(rq, rs, id, (unsigned)(s->sessions->lifetime_ms / 1000));
        sodium_memzero(id, sizeof id);
        srv_reply_json(rs, 200, session_json(k, &v));
    }
    srv_keys_release(ks);
}

void api_session_get(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    if (!rq->who || !rq->by_cookie) {
        srv_reply_error(rs, 401, "unauthenticated", "no live session: sign in with "
                        "POST /v1/session {\"token\":\"chk_...\"}");
        return;
    }
    srv_reply_json(rs, 200, session_json(rq->who, &rq->session));
}

void api_session_delete(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    if (!rq->who || !rq->by_cookie) {
        srv_reply_error(rs, 401, "unauthenticated", "no live session to end");
        return;
    }
    if (!srv_csrf_ok(rq, rs))
        return;
    srv_session_end(rq->s->sessions, rq->session.id_hash);
    set_cookie(rq, rs, "", 0);
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
    rs->status = 204;
}
