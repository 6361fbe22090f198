/* verify.c - walking a ledger to prove nothing was altered, removed,
 * inserted or reordered (charter_ledger_verify).
 *
 * Everything is read in one snapshot of the file (a writer may be
 * appending). The walk reads every entry in seq order and checks, for each:
 * that its seq follows the previous one (a gap is a removal), that its hash
 * is SHA-256(prev_hash || canonical bytes) (a mismatch is an alteration, or
 * an entry moved to another seq, since the seq is hashed), and that its
 * prev_hash is the previous entry's hash (a break is an insertion, a removal
 * with renumbering, a reordering, or an alteration that re-hashed one entry).
 * Checkpoint signatures are checked first; each checkpoint whose signature
 * holds must then name the hash the walk finds at its seq (a mismatch means
 * the entries since the previous checkpoint were rewritten, hashes and all),
 * and a checkpoint past the last entry proves the tail was cut off.
 *
 * Then what a careful forger could otherwise slip past:
 *  - the rows the store counts must be the rows walked (a row at seq 0 or
 *    below is never read by a walk from seq 1);
 *  - with a public key, the entries must be covered by checkpoints at the
 *    cadence those checkpoints sign (cadence_*, below): deleting the
 *    checkpoints after a rewrite leaves entries no writer with the key
 *    would have left uncovered;
 *  - with a witness, every head signed and kept outside the ledger must
 *    still be in it, with its hash.
 * What this cannot prove is in docs/ledger.md.
 */
#include "base/banned.h"

#include "charter_ledger.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "base/jspan.h"
#include "ledger/chain.h"
#include "ledger/grant.h"
#include "ledger/keys.h"
#include "ledger/store.h"
#include "ledger/witness.h"

/* The cadence a checkpoint of format 1 (which did not sign one) is held
 * to: the writer's defaults, the strictest reading of an unknown cadence. */
#define DEFAULT_EVERY 1000
#define DEFAULT_MS 10000

typedef struct cp_list {
    ledger_checkpoint *v;
    size_t n, cap;
    bool failed;
} cp_list;

/* A witnessed head and the line it came from. */
typedef struct head {
    ledger_checkpoint cp;
    size_t line;
} head;

typedef struct head_list {
    head *v;
    size_t n, cap;
} head_list;

/* The valid checkpoints at one seq, as the cadence check sees them: the
 * latest signed time and the cadence the latest one signs. */
typedef struct cp_group {
    uint64_t seq;
    int64_t time_ms;
    uint64_t every;
    uint32_t ms;
} cp_group;

/* One problem found, to report the first by seq. */
typedef struct finding {
    bool found;
    uint64_t seq;
    char problem[32];
    char message[1024];
} finding;

typedef struct walk {
    charter_ledger_report *r;
    const cp_list *cps;
    const bool *cp_valid;       /* per checkpoint: its signature verified */
    size_t next_cp;
    const head_list *heads;     /* sorted by seq */
    const bool *head_valid;
    size_t next_head;
    uint64_t expect;
    unsigned char prev[LEDGER_HASH_SIZE];
    uint64_t prev_cp_seq;       /* last checkpoint (or head) the walk confirmed */
    finding problem;            /* the first problem found by the walk */
    /* The cadence check (with a public key only). The current gap runs
     * from the checkpoint at gap_a (0: none yet) to groups[next_group]
     * (or, past the last group, to the end: the tail). */
    bool cadence;
    const cp_group *groups;
    size_t group_count, next_group;
    uint64_t gap_a;
    int64_t gap_a_time;
    uint64_t lim_every;
    uint32_t lim_ms;
    uint64_t gap_items;         /* entries of the gap other than charter */
    uint64_t over_seq;          /* first entry past the count, or 0 */
    uint64_t late_seq;          /* first entry past the time, or 0 */
    int64_t late_time;
    /* The seqs of the "grant" entries walked so far (a bit each): an
     * approval by a grant must name one recorded before it. */
    unsigned char *grant_bits;
    size_t grant_bytes;
    bool grant_oom;
    bool late_uniform;          /* every entry since late_seq has late_time */
    /* The versions of the "charter" entries walked so far: a
     * "charter_loaded" entry must name one recorded before it. */
    char **versions;
    size_t version_n, version_cap;
    bool version_oom;
} walk;

static void note(finding *f, uint64_t seq, const char *problem, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Keeps the earliest finding by seq (the first one noted on a tie). */
static void note(finding *f, uint64_t seq, const char *problem, const char *fmt, ...)
{
    if (f->found && f->seq <= seq)
        return;
    f->found = true;
    f->seq = seq;
    snprintf(f->problem, sizeof f->problem, "%s", problem);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
}

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

static bool known_kind(const char *k)
{
    return !strcmp(k, "decision") || !strcmp(k, "charter") ||
           !strcmp(k, "escalation_resolved") || !strcmp(k, "escalation_moved") ||
           !strcmp(k, "escalation_approval") || !strcmp(k, "outcome") ||
           !strcmp(k, "grant") || !strcmp(k, "grant_revoked") ||
           !strcmp(k, "charter_loaded");
}

/* A JSON string field of an entry's payload into buf ("" when absent). */
static const char *payload_str(const ledger_entry *e, const char *key, char *buf, size_t n)
{
    jspan p, v;
    const char *str;
    size_t len;
    buf[0] = '\0';
    if (jspan_value(e->payload, e->payload_len, &p) && p.p[0] == '{' &&
        jspan_get(p, key, &v) && v.p[0] == '"' && jspan_str(v, buf, n, &str, &len) &&
        len < n) {
        memmove(buf, str, len);
        buf[len] = '\0';
    }
    return buf;
}

/* Charter versions: a "charter" entry's is noted; a "charter_loaded"
 * entry (a server of a shared ledger said it serves a version) must name
 * one noted before it. */
static bool version_entry_ok(walk *w, const ledger_entry *e)
{
    bool is_charter = !strcmp(e->kind, "charter");
    if (!is_charter && strcmp(e->kind, "charter_loaded"))
        return true;
    char v[256];
    payload_str(e, "version", v, sizeof v);
    if (is_charter) {
        if (w->version_oom || !*v)
            return true;
        if (w->version_n == w->version_cap) {
            size_t cap = w->version_cap ? 2 * w->version_cap : 8;
            char **n = realloc(w->versions, cap * sizeof *n);
            if (!n) {
                w->version_oom = true;
                return true;
            }
            w->versions = n;
            w->version_cap = cap;
        }
        if (!(w->versions[w->version_n] = strdup(v)))
            w->version_oom = true;
        else
            w->version_n++;
        return true;
    }
    if (w->version_oom)
        return true;
    for (size_t i = 0; i < w->version_n && *v; i++)
        if (!strcmp(w->versions[i], v))
            return true;
    note(&w->problem, e->seq, "malformed",
         "entry %" PRIu64 " (charter_loaded) says a server loaded charter version "
         "'%.80s', but no earlier charter entry records that version", e->seq,
         *v ? v : "(none)");
    return false;
}

static void versions_free(walk *w)
{
    for (size_t i = 0; i < w->version_n; i++)
        free(w->versions[i]);
    free(w->versions);
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
            note(&w->problem, w->prev_cp_seq + 1, "rewritten",
                 "entry %" PRIu64 "'s hash differs from the one signed in the "
                 "checkpoint at seq %" PRIu64 ": entries %" PRIu64 "..%" PRIu64
                 " were rewritten (altered, removed or inserted, with their hashes "
                 "recomputed) after that checkpoint was signed",
                 seq, seq, w->prev_cp_seq + 1, seq);
            return false;
        }
        w->prev_cp_seq = seq;
        w->r->proven_seq = seq;
    }
    return true;
}

/* Witnessed heads at this seq (valid ones) must carry the hash found here. */
static bool check_heads_at(walk *w, uint64_t seq, const unsigned char *hash)
{
    while (w->heads && w->next_head < w->heads->n &&
           w->heads->v[w->next_head].cp.seq <= seq) {
        size_t i = w->next_head++;
        const head *h = &w->heads->v[i];
        if (h->cp.seq != seq || !w->head_valid[i])
            continue;
        if (memcmp(h->cp.hash, hash, LEDGER_HASH_SIZE) != 0) {
            note(&w->problem, w->prev_cp_seq + 1, "rewritten",
                 "entry %" PRIu64 "'s hash differs from the witnessed head at seq "
                 "%" PRIu64 " (witness line %zu): entries %" PRIu64 "..%" PRIu64
                 " were rewritten after that head was signed and witnessed",
                 seq, seq, h->line, w->prev_cp_seq + 1, seq);
            return false;
        }
        w->r->witnessed++;
        w->prev_cp_seq = seq;
        if (seq > w->r->proven_seq)
            w->r->proven_seq = seq;
    }
    return true;
}

/* ---- Cadence ---------------------------------------------------------------
 * What a writer with the key promises (writer.h): a batch that brings the
 * ledger `every` entries past the last checkpoint, or whose entries are
 * recorded `ms` or more after that checkpoint's signed time, carries a
 * checkpoint, and a batch holds no more appends than the count has room
 * for. So, for the checkpoints at seqs a < b:
 *  - (a, b] holds at most `every` entries other than charter entries (a
 *    new charter version's entry rides along with the append it precedes);
 *  - an entry of (a, b] recorded `ms` or more after a's time belongs to
 *    b's own batch: it and every entry after it up to b share one time_ms;
 *  - after the last checkpoint (the tail a crash leaves), there are fewer
 *    than `every` entries, all recorded less than `ms` after its time.
 * Between two checkpoints the larger of their two cadences counts (a
 * restart may change it); the tail is held to the last checkpoint's, which
 * a restarting writer re-signs first when its own differs. Before the
 * first checkpoint only the count applies: there is no signed time yet. */

static uint64_t cp_every(uint64_t every)
{
    return every ? every : DEFAULT_EVERY;
}

static uint32_t cp_ms(uint32_t ms)
{
    return ms ? ms : DEFAULT_MS;
}

/* Starts the gap after the checkpoint group at index g (SIZE_MAX: before
 * the first). */
static void cadence_gap(walk *w, size_t g)
{
    const cp_group *a = g == SIZE_MAX ? NULL : &w->groups[g];
    const cp_group *b = g + 1 < w->group_count ? &w->groups[g + 1] : NULL;
    w->next_group = g + 1;
    w->gap_a = a ? a->seq : 0;
    w->gap_a_time = a ? a->time_ms : 0;
    uint64_t ea = a ? cp_every(a->every) : 0, eb = b ? cp_every(b->every) : 0;
    uint32_t ma = a ? cp_ms(a->ms) : 0, mb = b ? cp_ms(b->ms) : 0;
    w->lim_every = ea > eb ? ea : eb;
    w->lim_ms = ma > mb ? ma : mb;
    w->gap_items = 0;
    w->over_seq = 0;
    w->late_seq = 0;
}

static void cadence_late(walk *w, uint64_t bad_seq, bool by_time, uint64_t upto)
{
    char next[96];
    if (upto)
        snprintf(next, sizeof next, "the next checkpoint is at seq %" PRIu64, upto);
    else
        snprintf(next, sizeof next, "no checkpoint follows (the ledger ends at %" PRIu64
                 ")", w->r->last_seq);
    if (by_time)
        note(&w->problem, bad_seq, "uncovered",
             "entry %" PRIu64 " was recorded %" PRId64 " ms after the checkpoint at seq "
             "%" PRIu64 ", but the writer signs one within %" PRIu32 " ms of the last "
             "and %s: checkpoints were deleted, or entries were written or rewritten "
             "without the key", bad_seq, w->late_time - w->gap_a_time, w->gap_a,
             w->lim_ms, next);
    else
        note(&w->problem, bad_seq, "uncovered",
             "entry %" PRIu64 " lies past %s%.0" PRIu64 " by more entries than the "
             "writer lets pass without a checkpoint (it signs one at least every "
             "%" PRIu64 " entries) and %s: checkpoints were deleted, or entries were "
             "written or rewritten without the key", bad_seq,
             w->gap_a ? "the checkpoint at seq " : "the start of the ledger", w->gap_a,
             w->lim_every, next);
}

/* Called for each entry that passed every other check. */
static bool cadence_entry(walk *w, const ledger_entry *e)
{
    if (!w->cadence)
        return true;
    bool tail = w->next_group >= w->group_count;
    if (strcmp(e->kind, "charter") != 0)
        w->gap_items++;
    if (!w->over_seq && (tail ? e->seq - w->gap_a >= w->lim_every
                              : w->gap_items > w->lim_every))
        w->over_seq = e->seq;
    if (!w->late_seq && w->gap_a && e->time_ms - w->gap_a_time >= (int64_t)w->lim_ms) {
        w->late_seq = e->seq;
        w->late_time = e->time_ms;
        w->late_uniform = true;
    } else if (w->late_seq && e->time_ms != w->late_time) {
        w->late_uniform = false;
    }
    if (tail || w->groups[w->next_group].seq != e->seq)
        return true;
    /* e closes the gap. */
    if (w->over_seq) {
        cadence_late(w, w->over_seq, false, e->seq);
        return false;
    }
    if (w->late_seq && !w->late_uniform) {
        cadence_late(w, w->late_seq, true, e->seq);
        return false;
    }
    cadence_gap(w, w->next_group);
    return true;
}

/* After a complete walk: the tail after the last checkpoint. */
static void cadence_end(walk *w)
{
    if (!w->cadence || w->r->entries == 0 || w->next_group < w->group_count)
        return; /* a checkpoint past the end: reported as a truncation */
    if (w->group_count == 0) {
        note(&w->problem, 1, "uncovered",
             "no checkpoint signed with the given key covers any of the %" PRIu64
             " entries: a writer with the key signs one after at most its first "
             "checkpoint_every entries or checkpoint_ms; checkpoints were deleted, or "
             "the ledger was written without the key", w->r->entries);
        return;
    }
    if (w->over_seq && (!w->late_seq || w->over_seq <= w->late_seq))
        cadence_late(w, w->over_seq, false, 0);
    else if (w->late_seq)
        cadence_late(w, w->late_seq, true, 0);
}

/* The valid checkpoints grouped by seq, seq >= 1, in order. */
static cp_group *cadence_groups(const cp_list *cps, const bool *valid, size_t *count)
{
    cp_group *g = calloc(cps->n + 1, sizeof *g);
    size_t n = 0;
    if (!g)
        return NULL;
    for (size_t i = 0; i < cps->n; i++) {
        const ledger_checkpoint *cp = &cps->v[i];
        if (!valid[i] || cp->seq == 0 || cp->seq > INT64_MAX)
            continue;
        if (!n || g[n - 1].seq != cp->seq)
            g[n++] = (cp_group){.seq = cp->seq, .time_ms = INT64_MIN};
        if (cp->time_ms >= g[n - 1].time_ms) {
            g[n - 1].time_ms = cp->time_ms;
            g[n - 1].every = cp->checkpoint_every;
            g[n - 1].ms = cp->checkpoint_ms;
        }
    }
    *count = n;
    return g;
}

/* Notes a "grant" entry; an "escalation_resolved" entry with a "grant"
 * field must name an earlier one (grant ids are "g-<seq>"). false: noted
 * as a problem. Out of memory skips the check (grant_oom) rather than
 * report a ledger wrong. */
static bool grant_entry_ok(walk *w, const ledger_entry *e)
{
    bool is_grant = !strcmp(e->kind, "grant");
    if (!is_grant && strcmp(e->kind, "escalation_resolved"))
        return true;
    if (is_grant) {
        size_t byte = (size_t)(e->seq / 8);
        if (byte >= w->grant_bytes && !w->grant_oom) {
            size_t n = w->grant_bytes ? w->grant_bytes : 1024;
            while (n <= byte)
                n *= 2;
            unsigned char *b = realloc(w->grant_bits, n);
            if (!b) {
                w->grant_oom = true;
                return true;
            }
            memset(b + w->grant_bytes, 0, n - w->grant_bytes);
            w->grant_bits = b;
            w->grant_bytes = n;
        }
        if (!w->grant_oom)
            w->grant_bits[byte] |= (unsigned char)(1u << (e->seq % 8));
        return true;
    }
    jspan p, g;
    if (w->grant_oom || !jspan_value(e->payload, e->payload_len, &p) ||
        !jspan_get(p, "grant", &g))
        return true;
    char id[40];
    const char *str = "";
    size_t len = 0;
    uint64_t gseq = 0;
    bool named = g.p[0] == '"' && jspan_str(g, id, sizeof id, &str, &len) &&
                 len < sizeof id;
    if (named) {
        memmove(id, str, len);
        id[len] = '\0';
        named = ledger_grant_id_parse(id, &gseq);
    }
    if (named && gseq < e->seq && (size_t)(gseq / 8) < w->grant_bytes &&
        (w->grant_bits[gseq / 8] >> (gseq % 8)) & 1u)
        return true;
    note(&w->problem, e->seq, "malformed",
         "entry %" PRIu64 " (escalation_resolved) says a standing approval approved it, "
         "but its \"grant\" (%.40s) names no earlier grant entry", e->seq,
         named ? id : "not a grant id");
    return false;
}

static int walk_entry(const ledger_entry *e, void *user)
{
    walk *w = user;
    uint64_t s = e->seq;
    if (e->seq != w->expect) {
        if (e->seq == w->expect + 1)
            note(&w->problem, w->expect, "removed",
                 "entry %" PRIu64 " is missing (the next entry is %" PRIu64 "): it was "
                 "removed", w->expect, s);
        else
            note(&w->problem, w->expect, "removed",
                 "entries %" PRIu64 "..%" PRIu64 " are missing (the next entry is %" PRIu64
                 "): they were removed", w->expect, s - 1, s);
        return 1;
    }
    if (!known_kind(e->kind)) {
        note(&w->problem, e->seq, "malformed",
             "entry %" PRIu64 " has kind '%.40s'; expected charter, decision, "
             "escalation_resolved, escalation_approval, escalation_moved, outcome, "
             "grant, grant_revoked or charter_loaded", s, e->kind);
        return 1;
    }
    unsigned char h[LEDGER_HASH_SIZE];
    ledger_entry_hash(e, h);
    if (memcmp(h, e->hash, LEDGER_HASH_SIZE) != 0) {
        note(&w->problem, e->seq, "altered",
             "entry %" PRIu64 " (%s) does not match its hash: its content, time or "
             "kind was altered, or it was moved here from another seq", s, e->kind);
        return 1;
    }
    if (memcmp(e->prev_hash, w->prev, LEDGER_HASH_SIZE) != 0) {
        note(&w->problem, e->seq, "broken_link",
             "entry %" PRIu64 " does not follow entry %" PRIu64 " (its prev_hash is not "
             "that entry's hash): an entry was inserted, removed or reordered here, "
             "or entry %" PRIu64 " was altered and re-hashed", s, s - 1, s - 1);
        return 1;
    }
    if (!strcmp(e->kind, "charter") && !charter_entry_ok(e)) {
        note(&w->problem, e->seq, "malformed",
             "entry %" PRIu64 " (charter): the recorded charter content does not hash "
             "to the version it names", s);
        return 1;
    }
    if (!grant_entry_ok(w, e) || !version_entry_ok(w, e))
        return 1;
    if (!check_checkpoints_at(w, e->seq, e->hash) || !check_heads_at(w, e->seq, e->hash))
        return 1;
    memcpy(w->prev, e->hash, LEDGER_HASH_SIZE);
    w->expect++;
    w->r->entries++;
    w->r->last_seq = e->seq;
    return cadence_entry(w, e) ? 0 : 1;
}

/* Checks every checkpoint's signature (valid[i] tells which verified) and
 * notes the first that does not. */
static void check_signatures(const cp_list *cps, const unsigned char *pk,
                             const char *key_id, bool *valid,
                             charter_ledger_report *r, finding *f)
{
    bool noted = false;
    for (size_t i = 0; i < cps->n; i++) {
        const ledger_checkpoint *cp = &cps->v[i];
        char id[CHARTER_KEY_ID_SIZE];
        if (pk) {
            valid[i] = !strcmp(cp->key_id, key_id) && ledger_checkpoint_verify(cp, pk);
            if (!valid[i] && !noted) {
                noted = true;
                if (strcmp(cp->key_id, key_id) != 0)
                    note(f, cp->seq, "wrong_key",
                         "the checkpoint at seq %" PRIu64 " is signed by key %s; "
                         "expected %s", cp->seq, cp->key_id, key_id);
                else
                    note(f, cp->seq, "bad_signature",
                         "the checkpoint at seq %" PRIu64 " has a signature that does "
                         "not verify with key %s: it was forged or altered",
                         cp->seq, key_id);
            }
        } else {
            ledger_key_id(cp->public_key, id);
            valid[i] = !strcmp(id, cp->key_id) &&
                       ledger_checkpoint_verify(cp, cp->public_key);
            if (!valid[i] && !noted) {
                noted = true;
                note(f, cp->seq, "bad_signature",
                     "the checkpoint at seq %" PRIu64 " has a signature that does not "
                     "verify with the key it names (%s): it was forged or altered",
                     cp->seq, cp->key_id);
            }
        }
        if (valid[i])
            r->checkpoints++;
    }
}

/* ---- Witness ---------------------------------------------------------------*/

static int head_cmp(const void *a, const void *b)
{
    const head *x = a, *y = b;
    if (x->cp.seq != y->cp.seq)
        return x->cp.seq < y->cp.seq ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static bool heads_push(head_list *l, const ledger_checkpoint *cp, size_t line)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        head *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (head){.cp = *cp, .line = line};
    return true;
}

/* Reads the witness file: one head per line (blank lines skipped). A line
 * that is not a head is a finding (the witness is damaged or forged), not
 * an error; a file that cannot be read is. */
static charter_status read_witness(const char *path, head_list *out, finding *f,
                                   charter_error *err)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return ledger_fail(err, CHARTER_E_IO, "cannot open witness '%s': %s", path,
                           strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    charter_status st = CHARTER_OK;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
                         line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        if (n == 0)
            continue;
        ledger_checkpoint cp;
        char why[256];
        if (!ledger_checkpoint_parse(line, (size_t)n, &cp, why, sizeof why)) {
            note(f, 0, "bad_witness", "witness '%s' line %zu is not a checkpoint head: %s",
                 path, lineno, why);
            continue;
        }
        if (!heads_push(out, &cp, lineno)) {
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory reading the witness");
            break;
        }
    }
    if (st == CHARTER_OK && ferror(fp))
        st = ledger_fail(err, CHARTER_E_IO, "cannot read witness '%s'", path);
    free(line);
    fclose(fp);
    if (st == CHARTER_OK && out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, head_cmp);
    return st;
}

/* Each head must be signed by the given key (or, without one, by the key
 * it names). */
static void check_heads(const head_list *heads, const unsigned char *pk,
                        const char *key_id, bool *valid, charter_ledger_report *r,
                        finding *f)
{
    for (size_t i = 0; i < heads->n; i++) {
        const head *h = &heads->v[i];
        char id[CHARTER_KEY_ID_SIZE];
        ledger_key_id(h->cp.public_key, id);
        const unsigned char *with = pk ? pk : h->cp.public_key;
        const char *with_id = pk ? key_id : id;
        valid[i] = !strcmp(h->cp.key_id, with_id) && ledger_checkpoint_verify(&h->cp, with);
        if (!valid[i])
            note(f, h->cp.seq, "bad_witness",
                 "the witnessed head at seq %" PRIu64 " (witness line %zu) %s: the "
                 "witness was altered, or is not this ledger's", h->cp.seq, h->line,
                 strcmp(h->cp.key_id, with_id)
                     ? "is signed by another key than the one given"
                     : "has a signature that does not verify");
        else if (h->cp.seq > r->witness_seq)
            r->witness_seq = h->cp.seq;
    }
}

/* ---- The whole check -------------------------------------------------------*/

/* "entry 5" or "entries 5..7". */
static void seq_range(uint64_t from, uint64_t to, char *buf, size_t n)
{
    if (from == to)
        snprintf(buf, n, "entry %" PRIu64, from);
    else
        snprintf(buf, n, "entries %" PRIu64 "..%" PRIu64, from, to);
}

/* A checkpoint row at seq 0 or below names no entry: the walk never meets
 * it (noted before the signatures: that it is there is the problem). */
static void check_checkpoint_rows(const ledger_tally *t, finding *f)
{
    if (t->checkpoints > 0 && t->checkpoints_min < 1)
        note(f, 0, "unaccounted",
             "the checkpoints table holds a row at seq %" PRId64 ": a checkpoint names "
             "an entry, and entries start at seq 1; it was inserted",
             t->checkpoints_min);
}

/* Every entry row the store counts must be one the walk read: rows at seq
 * 0 or below are never read by a walk from seq 1. */
static void check_entry_rows(const ledger_tally *t, const charter_ledger_report *r,
                             bool walked_all, finding *f)
{
    if (t->entries == 0)
        return;
    if (t->entries_min < 1 ||
        (walked_all && (t->entries != r->entries ||
                        (uint64_t)t->entries_max != r->last_seq)))
        note(f, 0, "unaccounted",
             "the entries table holds %" PRIu64 " rows (seq %" PRId64 "..%" PRId64 ") "
             "but %" PRIu64 " entries were walked from seq 1: rows %s lie outside the "
             "chain, where no reader looks; they were inserted", t->entries,
             t->entries_min, t->entries_max, r->entries,
             t->entries_min < 1 ? "at seq 0 or below" : "the walk did not meet");
}

charter_status charter_ledger_verify_with(const char *path,
                                          const charter_verify_options *opt,
                                          charter_ledger_report *out,
                                          charter_error *err)
{
    if (!out)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_verify: out is NULL");
    memset(out, 0, sizeof *out);
    charter_verify_options none = {0};
    if (!opt)
        opt = &none;
    if (sodium_init() < 0)
        return ledger_fail(err, CHARTER_E_NOMEM, "libsodium failed to initialize");
    unsigned char pk[LEDGER_PK_SIZE];
    char key_id[CHARTER_KEY_ID_SIZE] = "";
    charter_status st;
    if (opt->public_key_path) {
        if ((st = ledger_key_load_public(opt->public_key_path, pk, err)) != CHARTER_OK)
            return st;
        ledger_key_id(pk, key_id);
    }
    out->keys_from_ledger = !opt->public_key_path;
    finding first = {0};
    head_list heads = {0};
    if (opt->witness_path &&
        (st = read_witness(opt->witness_path, &heads, &first, err)) != CHARTER_OK) {
        free(heads.v);
        return st;
    }
    ledger_store_config cfg = {.mode = LEDGER_OPEN_READ};
    ledger_store *s = NULL;
    if ((st = ledger_store_open(path, &cfg, &s, err)) != CHARTER_OK) {
        free(heads.v);
        return st;
    }
    cp_list cps = {0};
    bool *valid = NULL, *head_valid = NULL;
    cp_group *groups = NULL;
    size_t group_count = 0;
    ledger_tally tally;
    if ((st = s->ops->snapshot_begin(s, err)) != CHARTER_OK ||
        (st = s->ops->tally(s, &tally, err)) != CHARTER_OK ||
        (st = s->ops->checkpoints(s, collect_checkpoint, &cps, err)) != CHARTER_OK)
        goto done;
    if (cps.failed || !(valid = calloc(cps.n + 1, sizeof *valid)) ||
        !(head_valid = calloc(heads.n + 1, sizeof *head_valid))) {
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory verifying");
        goto done;
    }
    const unsigned char *key = opt->public_key_path ? pk : NULL;
    check_checkpoint_rows(&tally, &first);
    check_signatures(&cps, key, key_id, valid, out, &first);
    check_heads(&heads, key, key_id, head_valid, out, &first);
    if (key && !(groups = cadence_groups(&cps, valid, &group_count))) {
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory verifying");
        goto done;
    }
    walk w = {.r = out, .cps = &cps, .cp_valid = valid, .heads = &heads,
              .head_valid = head_valid, .expect = 1, .cadence = key != NULL,
              .groups = groups, .group_count = group_count};
    if (w.cadence)
        cadence_gap(&w, SIZE_MAX);
    if ((st = s->ops->read(s, 1, walk_entry, &w, err)) != CHARTER_OK) {
        free(w.grant_bits);
        versions_free(&w);
        goto done;
    }
    bool walked_all = !w.problem.found;
    if (walked_all) {
        /* A valid checkpoint, or witnessed head, past the end proves the
         * tail was cut off. */
        uint64_t trunc_cp = 0;
        for (size_t i = 0; i < cps.n; i++)
            if (valid[i] && cps.v[i].seq > out->last_seq && cps.v[i].seq > trunc_cp &&
                cps.v[i].seq <= INT64_MAX)
                trunc_cp = cps.v[i].seq;
        char cut[64];
        if (trunc_cp) {
            seq_range(out->last_seq + 1, trunc_cp, cut, sizeof cut);
            note(&w.problem, out->last_seq + 1, "truncated",
                 "the ledger ends at entry %" PRIu64 " but a signed checkpoint covers "
                 "entries up to %" PRIu64 ": %s (at least) were cut off the end",
                 out->last_seq, trunc_cp, cut);
        }
        if (out->witness_seq > out->last_seq) {
            seq_range(out->last_seq + 1, out->witness_seq, cut, sizeof cut);
            note(&w.problem, out->last_seq + 1, "truncated",
                 "witnessed head seq %" PRIu64 " is not in the ledger; it ends at "
                 "%" PRIu64 ": %s (at least) were cut off the end, with any checkpoint "
                 "that covered them", out->witness_seq, out->last_seq, cut);
        }
        cadence_end(&w);
    }
    check_entry_rows(&tally, out, walked_all, &first);
    if (w.problem.found)
        note(&first, w.problem.seq, w.problem.problem, "%s", w.problem.message);
    if (first.found) {
        out->first_bad_seq = first.seq;
        memcpy(out->problem, first.problem, sizeof out->problem);
        memcpy(out->message, first.message, sizeof out->message);
    } else {
        out->ok = true;
    }
    free(w.grant_bits);
    versions_free(&w);
done:
    s->ops->snapshot_end(s);
    free(groups);
    free(head_valid);
    free(valid);
    free(cps.v);
    free(heads.v);
    ledger_store_close(s);
    return st;
}

charter_status charter_ledger_verify(const char *path, const char *public_key_path,
                                     charter_ledger_report *out, charter_error *err)
{
    charter_verify_options opt = {.public_key_path = public_key_path};
    return charter_ledger_verify_with(path, &opt, out, err);
}
