/* witness.h - signed checkpoint heads as JSON lines, kept outside the
 * ledger: written by the writer as it signs them (charter_ledger_options
 * .witness_path), exported by `charter checkpoints`, read back by
 * `charter verify --witness`.
 *
 * A line is {"checkpoint_every","checkpoint_ms","hash","key_id",
 * "public_key","seq","signature","time","time_ms"}: everything needed to
 * check its signature (keys.h) without the ledger.
 */
#ifndef CHARTER_LEDGER_WITNESS_H
#define CHARTER_LEDGER_WITNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "ledger/store.h"

/* Renders cp as one JSON line without the newline into buf; returns its
 * length, or 0 when it does not fit (CHARTER_CHECKPOINT_JSON_SIZE does). */
size_t ledger_checkpoint_json(const ledger_checkpoint *cp, char *buf, size_t n);

/* Parses one line (n bytes) into *out. On false, `why` (n bytes) says what
 * was found and what was expected. Checks the form, not the signature. */
bool ledger_checkpoint_parse(const char *line, size_t n, ledger_checkpoint *out,
                             char *why, size_t why_n);

/* Appends cp's line and a newline to the file or FIFO at `path` in one
 * write(2) that never blocks (opened per call, so a rotated file is
 * recreated). On false, `why` says what failed. Safe on any thread; a
 * FIFO whose reader went away fails with EPIPE, without a SIGPIPE. */
bool ledger_witness_append(const char *path, const ledger_checkpoint *cp, char *why,
                           size_t why_n);

#endif
