/* witness.c - checkpoint heads as JSON lines (witness.h), and listing them
 * (charter_ledger_checkpoints, charter_checkpoint_json). */
#include "base/banned.h"

#include "ledger/witness.h"
#include "ledger/chain.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

size_t ledger_checkpoint_json(const ledger_checkpoint *cp, char *buf, size_t n)
{
    char hash[2 * LEDGER_HASH_SIZE + 1], pk[2 * LEDGER_PK_SIZE + 1],
        sig[2 * LEDGER_SIG_SIZE + 1], t[40];
    ledger_hex(cp->hash, LEDGER_HASH_SIZE, hash);
    ledger_hex(cp->public_key, LEDGER_PK_SIZE, pk);
    ledger_hex(cp->signature, LEDGER_SIG_SIZE, sig);
    charter_time_format(cp->time_ms, t);
    /* The key id comes from the file and may hold anything: jansson
     * escapes it. */
    json_t *kid = json_string(cp->key_id);
    char *kid_text = kid ? json_dumps(kid, JSON_ENCODE_ANY) : NULL;
    json_decref(kid);
    if (!kid_text)
        return 0;
    int k = snprintf(buf, n,
                     "{\"checkpoint_every\":%" PRIu64 ",\"checkpoint_ms\":%" PRIu32
                     ",\"hash\":\"%s\",\"key_id\":%s,\"public_key\":\"%s\",\"seq\":%" PRIu64
                     ",\"signature\":\"%s\",\"time\":\"%s\",\"time_ms\":%" PRId64 "}",
                     cp->checkpoint_every, cp->checkpoint_ms, hash, kid_text, pk, cp->seq,
                     sig, t, cp->time_ms);
    free(kid_text);
    return k < 0 || (size_t)k >= n ? 0 : (size_t)k;
}

static bool hex_field(json_t *j, const char *name, unsigned char *out, size_t n,
                      char *why, size_t why_n)
{
    const char *s = json_string_value(json_object_get(j, name));
    if (s && strlen(s) == 2 * n && ledger_unhex(s, out, n))
        return true;
    snprintf(why, why_n, "\"%s\" must be %zu hex digits", name, 2 * n);
    return false;
}

static bool uint_field(json_t *j, const char *name, bool required, uint64_t max,
                       uint64_t *out, char *why, size_t why_n)
{
    json_t *v = json_object_get(j, name);
    *out = 0;
    if (!v && !required)
        return true;
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        (uint64_t)json_integer_value(v) <= max) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    snprintf(why, why_n, "\"%s\" must be an integer from 0 to %" PRIu64 "%s", name,
             max, required ? "" : " (or absent)");
    return false;
}

bool ledger_checkpoint_parse(const char *line, size_t n, ledger_checkpoint *out,
                             char *why, size_t why_n)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        snprintf(why, why_n, "expected one JSON object, found %s",
                 j ? "another JSON value" : jerr.text);
        json_decref(j);
        return false;
    }
    uint64_t seq, time_ms, every, ms;
    const char *kid = json_string_value(json_object_get(j, "key_id"));
    bool ok = uint_field(j, "seq", true, INT64_MAX, &seq, why, why_n) &&
              uint_field(j, "time_ms", true, INT64_MAX, &time_ms, why, why_n) &&
              uint_field(j, "checkpoint_every", false, INT64_MAX, &every, why, why_n) &&
              uint_field(j, "checkpoint_ms", false, UINT32_MAX, &ms, why, why_n) &&
              hex_field(j, "hash", out->hash, LEDGER_HASH_SIZE, why, why_n) &&
              hex_field(j, "public_key", out->public_key, LEDGER_PK_SIZE, why, why_n) &&
              hex_field(j, "signature", out->signature, LEDGER_SIG_SIZE, why, why_n);
    if (ok && (!kid || strlen(kid) >= sizeof out->key_id)) {
        snprintf(why, why_n, "\"key_id\" must be a key id such as \"ed25519:<16 hex>\"");
        ok = false;
    }
    if (ok && seq == 0) {
        snprintf(why, why_n, "\"seq\" must be 1 or more (entries start at 1)");
        ok = false;
    }
    if (ok) {
        out->seq = seq;
        out->time_ms = (int64_t)time_ms;
        out->checkpoint_every = every;
        out->checkpoint_ms = (uint32_t)ms;
        snprintf(out->key_id, sizeof out->key_id, "%s", kid);
    }
    json_decref(j);
    return ok;
}

bool ledger_witness_append(const char *path, const ledger_checkpoint *cp, char *why,
                           size_t why_n)
{
    char line[CHARTER_CHECKPOINT_JSON_SIZE + 1];
    size_t n = ledger_checkpoint_json(cp, line, sizeof line - 1);
    if (n == 0) {
        snprintf(why, why_n, "witness '%s': cannot render the head at seq %" PRIu64,
                 path, cp->seq);
        return false;
    }
    line[n++] = '\n';
    /* O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) and a full
     * one fails (EAGAIN) instead of stalling every decision behind it. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, why_n, "witness '%s': cannot open: %s", path, strerror(errno));
        return false;
    }
    /* A reader that went away would raise SIGPIPE: blocked on this thread
     * for the write, then taken back if this write raised it. */
    sigset_t pipe_only, old, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t w = write(fd, line, n);
    int e = errno;
    if (w < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(fd);
    if (w == (ssize_t)n)
        return true;
    if (w < 0)
        snprintf(why, why_n, "witness '%s': cannot write the head at seq %" PRIu64 ": %s",
                 path, cp->seq, strerror(e));
    else
        snprintf(why, why_n, "witness '%s': wrote %zd of %zu bytes of the head at seq "
                 "%" PRIu64, path, w, n, cp->seq);
    return false;
}

/* ---- Public: listing and rendering --------------------------------------- */

static void to_public(const ledger_checkpoint *in, charter_checkpoint *out)
{
    memset(out, 0, sizeof *out);
    out->seq = in->seq;
    memcpy(out->hash, in->hash, sizeof out->hash);
    out->time_ms = in->time_ms;
    snprintf(out->key_id, sizeof out->key_id, "%s", in->key_id);
    memcpy(out->public_key, in->public_key, sizeof out->public_key);
    memcpy(out->signature, in->signature, sizeof out->signature);
    out->checkpoint_every = in->checkpoint_every;
    out->checkpoint_ms = in->checkpoint_ms;
}

static void from_public(const charter_checkpoint *in, ledger_checkpoint *out)
{
    memset(out, 0, sizeof *out);
    out->seq = in->seq;
    memcpy(out->hash, in->hash, sizeof out->hash);
    out->time_ms = in->time_ms;
    snprintf(out->key_id, sizeof out->key_id, "%s", in->key_id);
    memcpy(out->public_key, in->public_key, sizeof out->public_key);
    memcpy(out->signature, in->signature, sizeof out->signature);
    out->checkpoint_every = in->checkpoint_every;
    out->checkpoint_ms = in->checkpoint_ms;
}

size_t charter_checkpoint_json(const charter_checkpoint *cp, char *buf, size_t n)
{
    if (!cp || !buf)
        return 0;
    ledger_checkpoint c;
    from_public(cp, &c);
    return ledger_checkpoint_json(&c, buf, n);
}

typedef struct listing {
    uint64_t since;
    charter_checkpoint_fn fn;
    void *user;
} listing;

static int list_one(const ledger_checkpoint *cp, void *user)
{
    listing *l = user;
    if (cp->seq < l->since)
        return 0;
    charter_checkpoint pub;
    to_public(cp, &pub);
    return l->fn(&pub, l->user);
}

charter_status charter_ledger_checkpoints(const char *path, uint64_t since_seq,
                                          charter_checkpoint_fn fn, void *user,
                                          charter_error *err)
{
    if (!path || !fn)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_checkpoints: a path and a callback are required");
    ledger_store_config cfg = {.mode = LEDGER_OPEN_READ};
    ledger_store *s = NULL;
    charter_status st = ledger_store_open(path, &cfg, &s, err);
    if (st != CHARTER_OK)
        return st;
    listing l = {.since = since_seq, .fn = fn, .user = user};
    st = s->ops->checkpoints(s, list_one, &l, err);
    ledger_store_close(s);
    return st;
}
