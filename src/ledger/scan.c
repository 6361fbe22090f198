/* scan.c - reading a ledger in order, for export and analyses
 * (charter_ledger_scan, charter_ledger_entry_json).
 *
 * Reading checks nothing: run charter_ledger_verify first when the
 * entries' integrity matters.
 */
#include "base/banned.h"

#include "charter_ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/chain.h"
#include "ledger/store.h"

typedef struct scan {
    int64_t since, until;
    charter_ledger_entry_fn fn;
    void *user;
} scan;

static int scan_entry(const ledger_entry *e, void *user)
{
    scan *sc = user;
    if (e->time_ms < sc->since || (sc->until && e->time_ms >= sc->until))
        return 0;
    charter_ledger_entry pe = {.seq = e->seq, .time_ms = e->time_ms, .kind = e->kind,
                               .payload = e->payload, .payload_len = e->payload_len};
    memcpy(pe.prev_hash, e->prev_hash, CHARTER_HASH_SIZE);
    memcpy(pe.hash, e->hash, CHARTER_HASH_SIZE);
    return sc->fn(&pe, sc->user);
}

charter_status charter_ledger_scan(const char *path, int64_t since_ms, int64_t until_ms,
                                   charter_ledger_entry_fn fn, void *user,
                                   charter_error *err)
{
    if (!path || !fn)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_scan: a path and a callback are required");
    ledger_store_config cfg = {.mode = LEDGER_OPEN_READ};
    ledger_store *s = NULL;
    charter_status st = ledger_store_open(path, &cfg, &s, err);
    if (st != CHARTER_OK)
        return st;
    scan sc = {.since = since_ms, .until = until_ms, .fn = fn, .user = user};
    st = s->ops->read(s, 1, scan_entry, &sc, err);
    ledger_store_close(s);
    return st;
}

charter_status charter_ledger_entry_json(const charter_ledger_entry *e, char **out,
                                         size_t *len)
{
    if (!e || !out)
        return CHARTER_E_INVALID;
    char hash[2 * CHARTER_HASH_SIZE + 1], prev[2 * CHARTER_HASH_SIZE + 1], t[40];
    ledger_hex(e->hash, CHARTER_HASH_SIZE, hash);
    ledger_hex(e->prev_hash, CHARTER_HASH_SIZE, prev);
    charter_time_format(e->time_ms, t);
    char head[256], tail[512];
    int hn = snprintf(head, sizeof head,
                      "{\"hash\":\"%s\",\"kind\":\"%.40s\",\"payload\":", hash, e->kind);
    int tn = snprintf(tail, sizeof tail,
                      ",\"prev_hash\":\"%s\",\"seq\":%" PRIu64 ",\"time\":\"%s\","
                      "\"time_ms\":%" PRId64 "}", prev, e->seq, t, e->time_ms);
    if (hn < 0 || tn < 0)
        return CHARTER_E_INVALID;
    size_t n = (size_t)hn + e->payload_len + (size_t)tn;
    char *s = malloc(n + 1);
    if (!s)
        return CHARTER_E_NOMEM;
    memcpy(s, head, (size_t)hn);
    memcpy(s + hn, e->payload, e->payload_len);
    /* A decision payload keeps the request exactly as sent, line breaks
     * included. JSON strings cannot hold a raw line break, so every one is
     * white space between tokens: a space keeps the export one line. */
    for (size_t i = (size_t)hn; i < (size_t)hn + e->payload_len; i++)
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
    memcpy(s + (size_t)hn + e->payload_len, tail, (size_t)tn);
    s[n] = '\0';
    *out = s;
    if (len)
        *len = n;
    return CHARTER_OK;
}
