/* chain.h - the hash chain: an entry's canonical bytes and its hash.
 *
 * The canonical bytes of an entry are the JSON object
 *   {"kind":"<kind>","payload":<payload>,"seq":<seq>,"time_ms":<time_ms>}
 * with no spaces (keys in sorted order, as jansson's JSON_SORT_KEYS |
 * JSON_COMPACT would write it; the payload is itself such canonical JSON).
 * Its hash is SHA-256(prev_hash || canonical bytes), where prev_hash is the
 * previous entry's hash, or 32 zero bytes for seq 1. Changing any byte of an
 * entry, its seq or its position changes its hash and breaks the next link.
 */
#ifndef CHARTER_LEDGER_CHAIN_H
#define CHARTER_LEDGER_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/store.h"

/* Computes e->hash from e->prev_hash and the other fields. */
void ledger_entry_hash(const ledger_entry *e, unsigned char out[LEDGER_HASH_SIZE]);

/* The canonical bytes of an entry, malloc'd (caller frees), or NULL. */
char *ledger_entry_canonical(const ledger_entry *e, size_t *len);

/* Lowercase hex of n bytes into out (2n+1 bytes with the NUL). */
void ledger_hex(const unsigned char *p, size_t n, char *out);
/* Parses exactly 2n hex digits (surrounding whitespace allowed). */
bool ledger_unhex(const char *s, unsigned char *out, size_t n);

/* "<prefix>-<seq>" (no sign, no leading zero, seq >= 1) -> seq: the ids of
 * decisions (d-) and grants (g-). False for anything else. */
bool ledger_seq_id_parse(const char *id, char prefix, uint64_t *seq);
/* "d-<seq>" <-> seq. Parse returns false for anything else. */
void ledger_decision_id(uint64_t seq, char out[32]);
bool ledger_decision_id_parse(const char *id, uint64_t *seq);

#endif
