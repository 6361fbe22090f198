/* verify.c - walking a ledger to prove nothing was altered, removed,
 * inserted or reordered (charter_ledger_verify).
 *
 * The walk reads every entry in seq order and checks, for each: that its seq
 * follows the previous one (a gap is a removal), that its hash is
 * SHA-256(prev_hash || canonical bytes) (a mismatch is an alteration, or an
 * entry moved to another seq, since the seq is hashed), and that its
 * prev_hash is the previous entry's hash (a break is an insertion, a removal
 * with renumbering, a reordering, or an alteration that re-hashed one entry).
 * Checkpoint signatures are checked first; each checkpoint whose signature
 * holds must then name the hash the walk finds at its seq (a mismatch means
 * the entries since the previous checkpoint were rewritten, hashes and all),
 * and a checkpoint past the last entry proves the tail was cut off.
 * What this cannot prove is in docs/ledger.md.
 */
#include "base/banned.h"

#include "charter_ledger.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/chain.h"
#include "ledger/keys.h"
#include "ledger/store.h"

typedef struct cp_list {
    ledger_checkpoint *v;
    size_t n, cap;
    bool failed;
} cp_list;

typedef struct walk {
    charter_ledger_report *r;
    const cp_list *cps;
    const bool *cp_valid;       /* per checkpoint: its signature verified */
    size_t next_cp;
    uint64_t expect;
    unsigned char prev[LEDGER_HASH_SIZE];
    uint64_t prev_cp_seq;       /* last checkpoint the walk confirmed */
    uint64_t bad_seq;           /* first problem found by the walk, or 0 */
    char problem[32];
    char message[1024];
} walk;

static int collect_checkpoint(const ledger_checkpoint *cp, void *user)
{
    cp_list *l = user;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        ledger_checkpoint *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->failed = true;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *cp;
    return 0;
}

static void walk_problem(walk *w, uint64_t seq, const char *problem,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void walk_problem(walk *w, uint64_t seq, const char *problem,
                         const char *fmt, ...)
{
    w->bad_seq = seq;
    snprintf(w->problem, sizeof w->problem, "%s", problem);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->message, sizeof w->message, fmt, ap);
    va_end(ap);
}

static bool known_kind(const char *k)
{
    return !strcmp(k, "decision") || !strcmp(k, "charter") ||
           !strcmp(k, "escalation_resolved") || !strcmp(k, "escalation_moved") ||
           !strcmp(k, "outcome");
}

/* A charter entry's content must hash to the version it claims. */
static bool charter_entry_ok(const ledger_entry *e)
{
    json_t *j = json_loadb(e->payload, e->payload_len, 0, NULL);
    const char *canon = json_string_value(json_object_get(j, "canonical"));
    const char *version = json_string_value(json_object_get(j, "version"));
    bool ok = false;
    if (canon && version && !strncmp(version, "sha256:", 7)) {
        unsigned char h[crypto_hash_sha256_BYTES];
        char hex[2 * crypto_hash_sha256_BYTES + 1];
        crypto_hash_sha256(h, (const unsigned char *)canon,
                           json_string_length(json_object_get(j, "canonical")));
        ledger_hex(h, sizeof h, hex);
        ok = !strcmp(version + 7, hex);
    }
    json_decref(j);
    return ok;
}

/* Checkpoints at this seq (valid ones) must carry the hash found here. */
static bool check_checkpoints_at(walk *w, uint64_t seq, const unsigned char *hash)
{
    while (w->next_cp < w->cps->n && w->cps->v[w->next_cp].seq <= seq) {
        size_t i = w->next_cp++;
        const ledger_checkpoint *cp = &w->cps->v[i];
        if (cp->seq != seq || !w->cp_valid[i])
            continue;
        if (memcmp(cp->hash, hash, LEDGER_HASH_SIZE) != 0) {
            walk_problem(w, w->prev_cp_seq + 1, "rewritten",
                         "entry %llu's hash differs from the one signed in the "
                         "checkpoint at seq %llu: entries %llu..%llu were rewritten "
                         "(altered, removed or inserted, with their hashes "
                         "recomputed) after that checkpoint was signed",
                         (unsigned long long)seq, (unsigned long long)seq,
                         (unsigned long long)(w->prev_cp_seq + 1),
                         (unsigned long long)seq);
            return false;
        }
        w->prev_cp_seq = seq;
        w->r->proven_seq = seq;
    }
    return true;
}

static int walk_entry(const ledger_entry *e, void *user)
{
    walk *w = user;
    unsigned long long s = (unsigned long long)e->seq;
    if (e->seq != w->expect) {
        unsigned long long from = (unsigned long long)w->expect;
        if (e->seq == w->expect + 1)
            walk_problem(w, w->expect, "removed",
                         "entry %llu is missing (the next entry is %llu): it was removed",
                         from, s);
        else
            walk_problem(w, w->expect, "removed",
                         "entries %llu..%llu are missing (the next entry is %llu): they "
                         "were removed", from, s - 1, s);
        return 1;
    }
    if (!known_kind(e->kind)) {
        walk_problem(w, e->seq, "malformed",
                     "entry %llu has kind '%.40s'; expected charter, decision, "
                     "escalation_resolved, escalation_moved or outcome", s, e->kind);
        return 1;
    }
    unsigned char h[LEDGER_HASH_SIZE];
    ledger_entry_hash(e, h);
    if (memcmp(h, e->hash, LEDGER_HASH_SIZE) != 0) {
        walk_problem(w, e->seq, "altered",
                     "entry %llu (%s) does not match its hash: its content, time or "
                     "kind was altered, or it was moved here from another seq", s,
                     e->kind);
        return 1;
    }
    if (memcmp(e->prev_hash, w->prev, LEDGER_HASH_SIZE) != 0) {
        walk_problem(w, e->seq, "broken_link",
                     "entry %llu does not follow entry %llu (its prev_hash is not that "
                     "entry's hash): an entry was inserted, removed or reordered here, "
                     "or entry %llu was altered and re-hashed", s, s - 1, s - 1);
        return 1;
    }
    if (!strcmp(e->kind, "charter") && !charter_entry_ok(e)) {
        walk_problem(w, e->seq, "malformed",
                     "entry %llu (charter): the recorded charter content does not hash "
                     "to the version it names", s);
        return 1;
    }
    if (!check_checkpoints_at(w, e->seq, e->hash))
        return 1;
    memcpy(w->prev, e->hash, LEDGER_HASH_SIZE);
    w->expect++;
    w->r->entries++;
    w->r->last_seq = e->seq;
    return 0;
}

/* Checks every checkpoint's signature; returns the first bad one's index or
 * cps->n. valid[i] tells which verified. */
static size_t check_signatures(const cp_list *cps, const unsigned char *pk,
                               const char *key_id, bool *valid,
                               charter_ledger_report *r)
{
    size_t first_bad = cps->n;
    for (size_t i = 0; i < cps->n; i++) {
        const ledger_checkpoint *cp = &cps->v[i];
        char id[CHARTER_KEY_ID_SIZE];
        if (pk) {
            valid[i] = !strcmp(cp->key_id, key_id) && ledger_checkpoint_verify(cp, pk);
            if (!valid[i] && first_bad == cps->n) {
                first_bad = i;
                bool wrong = strcmp(cp->key_id, key_id) != 0;
                snprintf(r->problem, sizeof r->problem, "%s",
                         wrong ? "wrong_key" : "bad_signature");
                snprintf(r->message, sizeof r->message,
                         wrong ? "the checkpoint at seq %llu is signed by key %s; "
                                 "expected %s"
                               : "the checkpoint at seq %llu has a signature that "
                                 "does not verify with key %s%.0s: it was forged or "
                                 "altered",
                         (unsigned long long)cp->seq, wrong ? cp->key_id : key_id,
                         key_id);
            }
        } else {
            ledger_key_id(cp->public_key, id);
            valid[i] = !strcmp(id, cp->key_id) &&
                       ledger_checkpoint_verify(cp, cp->public_key);
            if (!valid[i] && first_bad == cps->n) {
                first_bad = i;
                snprintf(r->problem, sizeof r->problem, "bad_signature");
                snprintf(r->message, sizeof r->message,
                         "the checkpoint at seq %llu has a signature that does not "
                         "verify with the key it names (%s): it was forged or altered",
                         (unsigned long long)cp->seq, cp->key_id);
            }
        }
        if (valid[i])
            r->checkpoints++;
    }
    return first_bad;
}

charter_status charter_ledger_verify(const char *path, const char *public_key_path,
                                     charter_ledger_report *out, charter_error *err)
{
    if (!out)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_verify: out is NULL");
    memset(out, 0, sizeof *out);
    if (sodium_init() < 0)
        return ledger_fail(err, CHARTER_E_NOMEM, "libsodium failed to initialize");
    unsigned char pk[LEDGER_PK_SIZE];
    char key_id[CHARTER_KEY_ID_SIZE] = "";
    charter_status st;
    if (public_key_path) {
        if ((st = ledger_key_load_public(public_key_path, pk, err)) != CHARTER_OK)
            return st;
        ledger_key_id(pk, key_id);
    }
    out->keys_from_ledger = !public_key_path;
    ledger_store_config cfg = {.mode = LEDGER_OPEN_READ};
    ledger_store *s = NULL;
    if ((st = ledger_store_open(path, &cfg, &s, err)) != CHARTER_OK)
        return st;
    cp_list cps = {0};
    bool *valid = NULL;
    st = s->ops->checkpoints(s, collect_checkpoint, &cps, err);
    if (st == CHARTER_OK && cps.failed)
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory reading checkpoints");
    if (st == CHARTER_OK && !(valid = calloc(cps.n + 1, sizeof *valid)))
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory verifying");
    if (st != CHARTER_OK)
        goto done;
    size_t bad_cp = check_signatures(&cps, public_key_path ? pk : NULL, key_id, valid, out);
    char sig_problem[32], sig_message[1024];
    memcpy(sig_problem, out->problem, sizeof sig_problem);
    memcpy(sig_message, out->message, sizeof sig_message);
    walk w = {.r = out, .cps = &cps, .cp_valid = valid, .expect = 1};
    if ((st = s->ops->read(s, 1, walk_entry, &w, err)) != CHARTER_OK)
        goto done;
    /* A valid checkpoint past the end proves the tail was cut off. */
    uint64_t trunc_seq = 0, trunc_cp = 0;
    if (!w.bad_seq) {
        for (size_t i = 0; i < cps.n; i++)
            if (valid[i] && cps.v[i].seq > out->last_seq && cps.v[i].seq > trunc_cp)
                trunc_cp = cps.v[i].seq;
        if (trunc_cp)
            trunc_seq = out->last_seq + 1;
    }
    /* Report the first problem by seq. */
    uint64_t sig_seq = bad_cp < cps.n ? cps.v[bad_cp].seq : 0;
    uint64_t entry_seq = w.bad_seq ? w.bad_seq : trunc_seq;
    if (sig_seq && (!entry_seq || sig_seq <= entry_seq)) {
        out->first_bad_seq = sig_seq;
        memcpy(out->problem, sig_problem, sizeof out->problem);
        memcpy(out->message, sig_message, sizeof out->message);
    } else if (w.bad_seq) {
        out->first_bad_seq = w.bad_seq;
        memcpy(out->problem, w.problem, sizeof out->problem);
        memcpy(out->message, w.message, sizeof out->message);
    } else if (trunc_seq) {
        out->first_bad_seq = trunc_seq;
        snprintf(out->problem, sizeof out->problem, "truncated");
        snprintf(out->message, sizeof out->message,
                 "the ledger ends at entry %llu but a signed checkpoint covers entries "
                 "up to %llu: entries %llu..%llu (at least) were cut off the end",
                 (unsigned long long)out->last_seq, (unsigned long long)trunc_cp,
                 (unsigned long long)trunc_seq, (unsigned long long)trunc_cp);
    } else {
        out->ok = true;
        out->problem[0] = '\0';
        out->message[0] = '\0';
    }
done:
    free(valid);
    free(cps.v);
    ledger_store_close(s);
    return st;
}
