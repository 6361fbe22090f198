/* reads.h - which request field a condition's node names (reads.c): the
 * one reading of CEL trees that the inbox (charter_condition_reads) and
 * the consistency analysis (analyses/probe.c) share.
 *
 * A field is a chain of selections (or literal-string indexes) on the
 * `input`, `subject` or `context` variable, or `confidence` itself:
 * `input.amount`, `subject["tenure_years"]`. Keys point into the
 * program's tree and live as long as it does.
 */
#ifndef CHARTER_ENGINE_READS_H
#define CHARTER_ENGINE_READS_H

#include <stdbool.h>
#include <stddef.h>

#include "cel/cel_int.h"

#define CH_FIELD_MAX_KEYS 8

typedef struct ch_field_path {
    int slot;                            /* CH_SLOT_INPUT ... CH_SLOT_CONFIDENCE */
    const char *keys[CH_FIELD_MAX_KEYS]; /* outermost variable first */
    size_t lens[CH_FIELD_MAX_KEYS];
    size_t nkeys;                        /* 0: the variable itself */
} ch_field_path;

/* Fills *p when node `n` is a field (a request variable, with at most
 * CH_FIELD_MAX_KEYS keys; `confidence` takes none). With `with_has`, the
 * outermost step may also be a has() test: has(input.card) reads
 * input.card. False otherwise. */
bool ch_field_path_of(const cel_node *n, bool with_has, ch_field_path *p);

/* "input", "subject", "context", "confidence"; NULL for another slot. */
const char *ch_slot_name(int slot);

#endif
