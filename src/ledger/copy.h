/* copy.h - moving a whole ledger from one store to another (`charter ledger
 * copy`): SQLite to PostgreSQL and back, or between two of a kind.
 *
 * The entries and the signed checkpoints are copied as stored, byte for
 * byte (seq, time, kind, payload, both hashes; every field of a
 * checkpoint), in seq order, so the destination proves with `charter
 * verify` exactly what the source proves: nothing is hashed or signed
 * again. The source is read in one snapshot (a server may go on appending
 * to it: the copy ends where the snapshot does). The destination must be
 * empty; entries go in batches of LEDGER_COPY_BATCH, one transaction each,
 * and a checkpoint goes in the transaction of the batch that ends at its
 * seq. Afterwards the destination is read back: its row counts and its
 * last hash must be the source's.
 */
#ifndef CHARTER_LEDGER_COPY_H
#define CHARTER_LEDGER_COPY_H

#include <stdint.h>

#include "ledger/store.h"

#define LEDGER_COPY_BATCH 1000

typedef struct ledger_copy_result {
    uint64_t entries;              /* copied (the source's last seq) */
    uint64_t checkpoints;
    unsigned char last_hash[LEDGER_HASH_SIZE]; /* zeros for an empty ledger */
} ledger_copy_result;

/* Called after each batch committed: `copied` entries of `total`. */
typedef void (*ledger_copy_progress_fn)(void *user, uint64_t copied, uint64_t total);

/* Copies ledger `src` (opened read-only) into ledger `dst` (created when
 * absent, opened for writing: a SQLite file must not be held by another
 * writer). Paths are either kind (ledger_path_is_pg). `progress` may be
 * NULL. Errors: CHARTER_E_IO (a store cannot be opened, read or written;
 * a copy cut short leaves the batches committed so far in dst, and the
 * message says so), CHARTER_E_INVALID (dst is not empty; the source's
 * rows do not form a chain from seq 1 without gaps; the copy read back
 * differs). Messages name paths without passwords. */
charter_status ledger_copy(const char *src, const char *dst,
                           ledger_copy_progress_fn progress, void *user,
                           ledger_copy_result *out, charter_error *err);

#endif
