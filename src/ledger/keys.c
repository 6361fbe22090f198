/* keys.c - key files, key ids and checkpoint signatures (keys.h). */
#include "base/banned.h"

#include "ledger/keys.h"
#include "ledger/chain.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECKPOINT_DOMAIN_1 "charter-ledger-checkpoint/1\n"
#define CHECKPOINT_DOMAIN_2 "charter-ledger-checkpoint/2\n"

void ledger_key_id(const unsigned char pk[LEDGER_PK_SIZE],
                   char out[CHARTER_KEY_ID_SIZE])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[17];
    crypto_hash_sha256(h, pk, LEDGER_PK_SIZE);
    ledger_hex(h, 8, hex);
    snprintf(out, CHARTER_KEY_ID_SIZE, "ed25519:%s", hex);
}

/* Reads one short line of hex from a key file. */
static charter_status read_hex_file(const char *path, const char *what,
                                    unsigned char *out, size_t n,
                                    charter_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ledger_fail(err, CHARTER_E_IO, "cannot open %s '%s': %s", what,
                           path, strerror(errno));
    char line[256];
    size_t got = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[got] = '\0';
    bool ok = ledger_unhex(line, out, n);
    sodium_memzero(line, sizeof line);
    if (!ok)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "%s '%s': expected %zu hex digits on one line "
                           "(written by 'charter keys init')", what, path, 2 * n);
    return CHARTER_OK;
}

charter_status ledger_key_load_secret(const char *path, ledger_key *out,
                                      charter_error *err)
{
    if (sodium_init() < 0)
        return ledger_fail(err, CHARTER_E_NOMEM, "libsodium failed to initialize");
    unsigned char seed[crypto_sign_SEEDBYTES];
    charter_status st = read_hex_file(path, "secret key", seed, sizeof seed, err);
    if (st != CHARTER_OK)
        return st;
    crypto_sign_seed_keypair(out->pk, out->sk, seed);
    sodium_memzero(seed, sizeof seed);
    ledger_key_id(out->pk, out->id);
    return CHARTER_OK;
}

charter_status ledger_key_load_public(const char *path,
                                      unsigned char pk[LEDGER_PK_SIZE],
                                      charter_error *err)
{
    return read_hex_file(path, "public key", pk, LEDGER_PK_SIZE, err);
}

void ledger_key_wipe(ledger_key *k)
{
    sodium_memzero(k, sizeof *k);
}

/* A checkpoint that records its cadence is signed in format 2; one without
 * (written before the cadence was recorded) is checked in format 1. */
static size_t checkpoint_message(const ledger_checkpoint *cp, char *buf, size_t n)
{
    char hex[2 * LEDGER_HASH_SIZE + 1];
    ledger_hex(cp->hash, LEDGER_HASH_SIZE, hex);
    int k;
    if (cp->checkpoint_every || cp->checkpoint_ms)
        k = snprintf(buf, n,
                     CHECKPOINT_DOMAIN_2 "{\"checkpoint_every\":%" PRIu64 ","
                     "\"checkpoint_ms\":%" PRIu32 ",\"hash\":\"%s\",\"key_id\":\"%s\","
                     "\"seq\":%" PRIu64 ",\"time_ms\":%" PRId64 "}",
                     cp->checkpoint_every, cp->checkpoint_ms, hex, cp->key_id,
                     cp->seq, cp->time_ms);
    else
        k = snprintf(buf, n,
                     CHECKPOINT_DOMAIN_1 "{\"hash\":\"%s\",\"key_id\":\"%s\","
                     "\"seq\":%" PRIu64 ",\"time_ms\":%" PRId64 "}",
                     hex, cp->key_id, cp->seq, cp->time_ms);
    return k < 0 || (size_t)k >= n ? 0 : (size_t)k;
}

void ledger_checkpoint_sign(const ledger_key *k, ledger_checkpoint *cp)
{
    char msg[512];
    snprintf(cp->key_id, sizeof cp->key_id, "%s", k->id);
    memcpy(cp->public_key, k->pk, LEDGER_PK_SIZE);
    size_t n = checkpoint_message(cp, msg, sizeof msg);
    crypto_sign_detached(cp->signature, NULL, (const unsigned char *)msg, n, k->sk);
}

bool ledger_checkpoint_verify(const ledger_checkpoint *cp,
                              const unsigned char pk[LEDGER_PK_SIZE])
{
    char msg[512];
    size_t n = checkpoint_message(cp, msg, sizeof msg);
    if (n == 0 || sodium_init() < 0)
        return false;
    return crypto_sign_verify_detached(cp->signature, (const unsigned char *)msg,
                                       n, pk) == 0;
}

/* Writes `text` to a new file (O_EXCL) with `mode`. */
static charter_status write_new_file(const char *path, const char *text, mode_t mode,
                                     charter_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return ledger_fail(err, errno == EEXIST ? CHARTER_E_DUPLICATE : CHARTER_E_IO,
                           "cannot create '%s': %s%s", path, strerror(errno),
                           errno == EEXIST ? " (refusing to overwrite a key)" : "");
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int sync_rc = fsync(fd);
    int close_rc = close(fd);
    if (w != (ssize_t)n || sync_rc != 0 || close_rc != 0) {
        unlink(path);
        return ledger_fail(err, CHARTER_E_IO, "cannot write '%s': %s", path,
                           strerror(errno));
    }
    return CHARTER_OK;
}

charter_status charter_keys_init(const char *dir, char key_id[CHARTER_KEY_ID_SIZE],
                                 charter_error *err)
{
    if (!dir || !*dir)
        return ledger_fail(err, CHARTER_E_INVALID, "a key directory is required");
    if (sodium_init() < 0)
        return ledger_fail(err, CHARTER_E_NOMEM, "libsodium failed to initialize");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return ledger_fail(err, CHARTER_E_IO, "cannot create directory '%s': %s",
                           dir, strerror(errno));
    char skpath[4096], pkpath[4096];
    snprintf(skpath, sizeof skpath, "%s/ledger.key", dir);
    snprintf(pkpath, sizeof pkpath, "%s/ledger.pub", dir);
    if (access(skpath, F_OK) == 0 || access(pkpath, F_OK) == 0)
        return ledger_fail(err, CHARTER_E_DUPLICATE,
                           "'%s' already holds a ledger key; refusing to overwrite it",
                           dir);
    unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
        sk[crypto_sign_SECRETKEYBYTES];
    char line[2 * crypto_sign_SEEDBYTES + 2];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    ledger_hex(seed, sizeof seed, line);
    size_t n = strlen(line);
    line[n] = '\n';
    line[n + 1] = '\0';
    charter_status st = write_new_file(skpath, line, 0600, err);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(line, sizeof line);
    if (st != CHARTER_OK)
        return st;
    char pkline[2 * LEDGER_PK_SIZE + 2];
    ledger_hex(pk, LEDGER_PK_SIZE, pkline);
    n = strlen(pkline);
    pkline[n] = '\n';
    pkline[n + 1] = '\0';
    st = write_new_file(pkpath, pkline, 0644, err);
    if (st != CHARTER_OK) {
        unlink(skpath);
        return st;
    }
    ledger_key_id(pk, key_id);
    return CHARTER_OK;
}
