/* chain.c - canonical entry bytes and the SHA-256 hash chain (chain.h). */
#include "base/banned.h"

#include "ledger/chain.h"
#include "base/civil.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The envelope around the payload, in two parts, so hashing needs no copy. */
static size_t envelope_head(const ledger_entry *e, char *buf, size_t n)
{
    int k = snprintf(buf, n, "{\"kind\":\"%s\",\"payload\":", e->kind);
    return k < 0 ? 0 : (size_t)k;
}

static size_t envelope_tail(const ledger_entry *e, char *buf, size_t n)
{
    int k = snprintf(buf, n, ",\"seq\":%" PRIu64 ",\"time_ms\":%" PRId64 "}",
                     e->seq, e->time_ms);
    return k < 0 ? 0 : (size_t)k;
}

/* SHA-256 comes from OpenSSL's libcrypto, which uses the CPU's SHA
 * instructions where there are some (about four times libsodium's speed on
 * a 1.5 KB entry, and the writer hashes every entry on its one thread);
 * libsodium computes the same digest when OpenSSL cannot (out of memory). */
void ledger_entry_hash(const ledger_entry *e, unsigned char out[LEDGER_HASH_SIZE])
{
    char head[96], tail[96];
    size_t hn = envelope_head(e, head, sizeof head);
    size_t tn = envelope_tail(e, tail, sizeof tail);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
              EVP_DigestUpdate(ctx, e->prev_hash, LEDGER_HASH_SIZE) &&
              EVP_DigestUpdate(ctx, head, hn) &&
              EVP_DigestUpdate(ctx, e->payload, e->payload_len) &&
              EVP_DigestUpdate(ctx, tail, tn) && EVP_DigestFinal_ex(ctx, out, &len) &&
              len == LEDGER_HASH_SIZE;
    EVP_MD_CTX_free(ctx);
    if (ok)
        return;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, e->prev_hash, LEDGER_HASH_SIZE);
    crypto_hash_sha256_update(&st, (const unsigned char *)head, hn);
    crypto_hash_sha256_update(&st, (const unsigned char *)e->payload, e->payload_len);
    crypto_hash_sha256_update(&st, (const unsigned char *)tail, tn);
    crypto_hash_sha256_final(&st, out);
}

char *ledger_entry_canonical(const ledger_entry *e, size_t *len)
{
    char head[96], tail[96];
    size_t hn = envelope_head(e, head, sizeof head);
    size_t tn = envelope_tail(e, tail, sizeof tail);
    char *out = malloc(hn + e->payload_len + tn + 1);
    if (!out)
        return NULL;
    memcpy(out, head, hn);
    memcpy(out + hn, e->payload, e->payload_len);
    memcpy(out + hn + e->payload_len, tail, tn);
    out[hn + e->payload_len + tn] = '\0';
    if (len)
        *len = hn + e->payload_len + tn;
    return out;
}

void ledger_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool ledger_unhex(const char *s, unsigned char *out, size_t n)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    for (size_t i = 0; i < n; i++) {
        int hi = base_hex_digit(s[2 * i]);
        int lo = hi < 0 ? -1 : base_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    for (s += 2 * n; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

void ledger_decision_id(uint64_t seq, char out[32])
{
    snprintf(out, 32, "d-%" PRIu64, seq);
}

bool ledger_seq_id_parse(const char *id, char prefix, uint64_t *seq)
{
    if (!id || id[0] != prefix || id[1] != '-' || id[2] < '1' || id[2] > '9')
        return false;
    uint64_t v = 0;
    for (const char *p = id + 2; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *seq = v;
    return true;
}

bool ledger_decision_id_parse(const char *id, uint64_t *seq)
{
    return ledger_seq_id_parse(id, 'd', seq);
}
