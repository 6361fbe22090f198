/* copy.c - moving a whole ledger from one store to another (copy.h).
 *
 * One pass over the source inside its snapshot: the checkpoints are read
 * first (a few per thousand entries), then the entries stream through a
 * batch that is appended to the destination when it holds
 * LEDGER_COPY_BATCH entries or ends at a checkpoint's seq, the checkpoint
 * in the same transaction. The batch's strings live in an arena reset
 * after each append, so memory stays that of one batch however long the
 * ledger.
 */
#include "base/banned.h"

#include "ledger/copy.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

#define NAME_BYTES 512

typedef struct cp_array {
    ledger_checkpoint *v;
    size_t n, cap;
    bool failed;
} cp_array;

typedef struct copier {
    ledger_store *src, *dst;
    char src_name[NAME_BYTES], dst_name[NAME_BYTES];
    cp_array cps;
    size_t next_cp;                /* the first checkpoint not yet written */
    ledger_entry batch[LEDGER_COPY_BATCH];
    size_t n;
    arena strings;
    uint64_t last_seq, total;
    unsigned char last_hash[LEDGER_HASH_SIZE];
    uint64_t committed_seq, checkpoints_written;
    ledger_copy_progress_fn progress;
    void *user;
    charter_status st;
    charter_error *err;
} copier;

static int take_checkpoint(const ledger_checkpoint *c, void *user)
{
    cp_array *a = user;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        ledger_checkpoint *v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->failed = true;
            return 1;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = *c;
    return 0;
}

/* Appends the batch (possibly empty) and `cp` (or NULL) in one transaction. */
static bool flush(copier *c, const ledger_checkpoint *cp)
{
    if (!c->n && !cp)
        return true;
    charter_error e;
    memset(&e, 0, sizeof e);
    charter_status st = c->dst->ops->append(c->dst, c->batch, c->n, cp, &e);
    if (st != CHARTER_OK) {
        c->st = ledger_fail(c->err, st,
                            "cannot write to '%s': %s; it holds the entries copied before "
                            "(1 to %llu): empty it (a new file or database) and copy again",
                            c->dst_name, e.message, (unsigned long long)c->committed_seq);
        return false;
    }
    if (c->n)
        c->committed_seq = c->batch[c->n - 1].seq;
    if (cp)
        c->checkpoints_written++;
    c->n = 0;
    arena_reset(&c->strings);
    if (c->progress)
        c->progress(c->user, c->committed_seq, c->total);
    return true;
}

/* Writes every checkpoint not yet written whose seq is at most `seq`, the
 * first with the batch. */
static bool flush_checkpoints_through(copier *c, uint64_t seq)
{
    while (c->next_cp < c->cps.n && c->cps.v[c->next_cp].seq <= seq) {
        if (!flush(c, &c->cps.v[c->next_cp]))
            return false;
        c->next_cp++;
    }
    return true;
}

static int copy_entry(const ledger_entry *e, void *user)
{
    copier *c = user;
    if (e->seq != c->last_seq + 1) {
        c->st = ledger_fail(c->err, CHARTER_E_INVALID,
                            "'%s': entry %llu follows entry %llu: the chain has a gap, "
                            "and a copy would not prove what the source proves ('charter "
                            "verify' on it says more)",
                            c->src_name, (unsigned long long)e->seq,
                            (unsigned long long)c->last_seq);
        return 1;
    }
    /* Checkpoints at a seq before this entry (only seq 0 can be) go with
     * what came before. */
    if (!flush_checkpoints_through(c, e->seq - 1))
        return 1;
    ledger_entry *b = &c->batch[c->n];
    *b = *e;
    b->kind = arena_strdup(&c->strings, e->kind);
    b->payload = arena_strndup(&c->strings, e->payload, e->payload_len);
    if (!b->kind || !b->payload) {
        c->st = ledger_fail(c->err, CHARTER_E_NOMEM, "out of memory copying entry %llu",
                            (unsigned long long)e->seq);
        return 1;
    }
    c->n++;
    c->last_seq = e->seq;
    memcpy(c->last_hash, e->hash, LEDGER_HASH_SIZE);
    if (c->next_cp < c->cps.n && c->cps.v[c->next_cp].seq == e->seq) {
        if (!flush(c, &c->cps.v[c->next_cp]))
            return 1;
        c->next_cp++;
        return flush_checkpoints_through(c, e->seq) ? 0 : 1;
    }
    if (c->n == LEDGER_COPY_BATCH && !flush(c, NULL))
        return 1;
    return 0;
}

static charter_status open_both(copier *c, const char *src, const char *dst,
                                charter_error *err)
{
    ledger_store_config rd = {.mode = LEDGER_OPEN_READ, .busy_timeout_ms = 5000};
    ledger_store_config wr = {.mode = LEDGER_OPEN_WRITE, .busy_timeout_ms = 5000};
    charter_error e;
    memset(&e, 0, sizeof e);
    charter_status st = ledger_store_open(src, &rd, &c->src, &e);
    if (st != CHARTER_OK)
        return ledger_fail(err, st, "cannot open the source '%s': %s", c->src_name,
                           e.message);
    if ((st = ledger_store_open(dst, &wr, &c->dst, &e)) != CHARTER_OK)
        return ledger_fail(err, st, "cannot open the destination '%s': %s", c->dst_name,
                           e.message);
    ledger_tally t;
    if ((st = c->dst->ops->tally(c->dst, &t, &e)) != CHARTER_OK)
        return ledger_fail(err, st, "cannot read the destination '%s': %s", c->dst_name,
                           e.message);
    if (t.entries || t.checkpoints)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "the destination '%s' is not empty (%llu entries, %llu "
                           "checkpoints); expected an empty ledger (a new file or an "
                           "empty database)",
                           c->dst_name, (unsigned long long)t.entries,
                           (unsigned long long)t.checkpoints);
    return CHARTER_OK;
}

/* Reads the source (in its snapshot) into the destination. */
static charter_status copy_all(copier *c, charter_error *err)
{
    charter_error e;
    memset(&e, 0, sizeof e);
    ledger_tally t;
    ledger_store *s = c->src;
    charter_status st;
    if ((st = s->ops->snapshot_begin(s, &e)) != CHARTER_OK ||
        (st = s->ops->tally(s, &t, &e)) != CHARTER_OK ||
        (st = s->ops->checkpoints(s, take_checkpoint, &c->cps, &e)) != CHARTER_OK)
        return ledger_fail(err, st, "cannot read the source '%s': %s", c->src_name,
                           e.message);
    if (c->cps.failed)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory reading the checkpoints");
    c->total = t.entries;
    if ((st = s->ops->read(s, 1, copy_entry, c, &e)) != CHARTER_OK && c->st == CHARTER_OK)
        return ledger_fail(err, st, "cannot read the source '%s': %s", c->src_name,
                           e.message);
    if (c->st != CHARTER_OK)
        return c->st;
    if (c->last_seq != t.entries)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "'%s' holds %llu entry rows but its chain from seq 1 has %llu: "
                           "a copy would not prove what the source proves ('charter "
                           "verify' on it says which rows)",
                           c->src_name, (unsigned long long)t.entries,
                           (unsigned long long)c->last_seq);
    if (!flush(c, NULL) || !flush_checkpoints_through(c, UINT64_MAX))
        return c->st;
    return CHARTER_OK;
}

/* Reads the destination back: the same counts and the same last hash. */
static charter_status compare(copier *c, ledger_copy_result *out, charter_error *err)
{
    charter_error e;
    memset(&e, 0, sizeof e);
    ledger_tally t;
    ledger_entry last;
    bool found = false;
    charter_status st;
    memset(&last, 0, sizeof last);
    if ((st = c->dst->ops->tally(c->dst, &t, &e)) != CHARTER_OK ||
        (st = c->dst->ops->last(c->dst, &last, &found, &e)) != CHARTER_OK)
        return ledger_fail(err, st, "cannot read the copy back from '%s': %s",
                           c->dst_name, e.message);
    if (t.entries != c->last_seq || t.checkpoints != c->cps.n ||
        (found ? last.seq : 0) != c->last_seq ||
        (found && memcmp(last.hash, c->last_hash, LEDGER_HASH_SIZE)))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "the copy in '%s' differs from the source: it holds %llu "
                           "entries and %llu checkpoints ending at seq %llu; expected "
                           "%llu and %zu ending at seq %llu with the source's last hash",
                           c->dst_name, (unsigned long long)t.entries,
                           (unsigned long long)t.checkpoints,
                           (unsigned long long)(found ? last.seq : 0),
                           (unsigned long long)c->last_seq, c->cps.n,
                           (unsigned long long)c->last_seq);
    out->entries = c->last_seq;
    out->checkpoints = c->cps.n;
    memcpy(out->last_hash, c->last_hash, LEDGER_HASH_SIZE);
    return CHARTER_OK;
}

charter_status ledger_copy(const char *src, const char *dst,
                           ledger_copy_progress_fn progress, void *user,
                           ledger_copy_result *out, charter_error *err)
{
    memset(out, 0, sizeof *out);
    copier *c = calloc(1, sizeof *c);
    if (!c)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory");
    c->progress = progress;
    c->user = user;
    c->err = err;
    ledger_path_display(src, c->src_name, sizeof c->src_name);
    ledger_path_display(dst, c->dst_name, sizeof c->dst_name);
    arena_init(&c->strings, 256 * 1024);
    charter_status st = open_both(c, src, dst, err);
    if (st == CHARTER_OK)
        st = copy_all(c, err);
    if (c->src)
        c->src->ops->snapshot_end(c->src);
    if (st == CHARTER_OK)
        st = compare(c, out, err);
    ledger_store_close(c->src);
    ledger_store_close(c->dst);
    arena_release(&c->strings);
    free(c->cps.v);
    free(c);
    return st;
}
