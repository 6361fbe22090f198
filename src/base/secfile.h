/* secfile.h - the small files that hold secrets or their hashes (the access
 * keys, the webhook secrets): written whole or not at all, readable only by
 * their owner, and the names they may hold.
 */
#ifndef CHARTER_BASE_SECFILE_H
#define CHARTER_BASE_SECFILE_H

#include <stdbool.h>

#include "charter.h"

/* Writes `text` and a newline to `path` atomically (a temporary file beside
 * it, fsync, rename), mode 0600; creates `dir`, the folder `path` is in,
 * with mode 0700 when absent. The text stays the caller's (a caller holding
 * a secret wipes it). Errors: CHARTER_E_IO, saying which file and why. */
charter_status base_secfile_write(const char *dir, const char *path, const char *text,
                                  charter_error *err);

/* Whether `s` may be a name in such a file (a key's name, a queue or role
 * id): 1..CHARTER_MAX_ID_BYTES bytes, none of them a space, a control
 * character, '"' or '\\'. */
bool base_secfile_name_ok(const char *s);

#endif
