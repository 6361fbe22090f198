/* utf8.h - writing a Unicode code point as UTF-8, for the decoders of
 * escapes (CEL string literals, JSON text, ledger payloads). */
#ifndef CHARTER_BASE_UTF8_H
#define CHARTER_BASE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Writes cp (at most 0x10FFFF; the caller rejects surrogates and larger
 * values where it must) as 1 to 4 bytes at out; returns how many. */
size_t utf8_encode(char *out, uint32_t cp);

#endif
