/* keys.h - Ed25519 keys that sign ledger checkpoints.
 *
 * `charter keys init --dir DIR` writes DIR/ledger.key (the 32-byte seed in
 * hex, one line, mode 0600) and DIR/ledger.pub (the 32-byte public key in
 * hex, one line). A key's id is "ed25519:" + the first 8 bytes of
 * SHA-256(public key) in hex.
 *
 * A checkpoint's signature covers the bytes
 *   "charter-ledger-checkpoint/2\n" +
 *   {"checkpoint_every":<n>,"checkpoint_ms":<ms>,"hash":"<hex>",
 *    "key_id":"<id>","seq":<seq>,"time_ms":<ms>}
 * where checkpoint_every/checkpoint_ms are the cadence of the writer that
 * signed it (what verify --key holds the ledger to). Checkpoints written
 * before the cadence was recorded (both 0) were signed over
 *   "charter-ledger-checkpoint/1\n" +
 *   {"hash":"<hex>","key_id":"<id>","seq":<seq>,"time_ms":<ms>}
 */
#ifndef CHARTER_LEDGER_KEYS_H
#define CHARTER_LEDGER_KEYS_H

#include <stdbool.h>

#include "ledger/store.h"

typedef struct ledger_key {
    unsigned char sk[64]; /* libsodium secret key (seed || public key) */
    unsigned char pk[LEDGER_PK_SIZE];
    char id[CHARTER_KEY_ID_SIZE];
} ledger_key;

void ledger_key_id(const unsigned char pk[LEDGER_PK_SIZE],
                   char out[CHARTER_KEY_ID_SIZE]);

/* Reads a secret key file. Errors: CHARTER_E_IO, CHARTER_E_INVALID. */
charter_status ledger_key_load_secret(const char *path, ledger_key *out,
                                      charter_error *err);
/* Reads a public key file into pk. */
charter_status ledger_key_load_public(const char *path,
                                      unsigned char pk[LEDGER_PK_SIZE],
                                      charter_error *err);
/* Wipes the secret. */
void ledger_key_wipe(ledger_key *k);

/* Fills cp->signature, key_id and public_key (cp->seq, hash, time_ms and
 * the cadence set). */
void ledger_checkpoint_sign(const ledger_key *k, ledger_checkpoint *cp);
/* True when cp->signature is a valid signature by pk of cp's fields. */
bool ledger_checkpoint_verify(const ledger_checkpoint *cp,
                              const unsigned char pk[LEDGER_PK_SIZE]);

#endif
