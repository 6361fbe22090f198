/* schema.h - typed reading of charter YAML nodes (internal to the loader).
 *
 * Each function reads one key of a mapping, checks its type and fills the
 * charter_error with the node's position and a message saying what was
 * found and what was expected. Strings are copied into `mem` (the charter's
 * arena), so the YAML tree may be freed after loading.
 */
#ifndef CHARTER_SCHEMA_H
#define CHARTER_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "charter/model.h"
#include "charter/yaml.h"

typedef struct ch_schema {
    arena *mem;
    charter_error *err;
} ch_schema;

enum {
    CH_OPTIONAL = 0,
    CH_REQUIRED = 1,   /* absent or null is an error */
    CH_SET = 2         /* string list: sorted, a repeated item is an error */
};

/* "a mapping", "a list", "null" or the scalar quoted: for "found ..." */
const char *ch_schema_describe(const ch_yaml_node *n, char *buf, size_t n_buf);

/* Every key of `map` is one of `allowed` (NULL-terminated); else
 * "unknown key 'k' in <what>; expected one of a, b, c". */
charter_status ch_schema_keys(ch_schema *s, const ch_yaml_node *map,
                              const char *what, const char *const *allowed);
/* `n` is a mapping; else "<what>: expected a mapping, found ...". */
charter_status ch_schema_need_map(ch_schema *s, const ch_yaml_node *n,
                                  const char *what);
/* The error for a required key that is absent, at the mapping. */
charter_status ch_schema_missing(ch_schema *s, const ch_yaml_node *map,
                                 const char *key, const char *what);

/* A string (any non-null scalar). Absent or null optional: *out = NULL.
 * *at (may be NULL) receives the value node or NULL. */
charter_status ch_schema_str(ch_schema *s, const ch_yaml_node *map,
                             const char *key, const char *what, int flags,
                             const char **out, const ch_yaml_node **at);
/* A list of strings (absent or null: empty). With CH_SET sorted by byte
 * order and free of repeats. *at receives the list node or NULL. */
charter_status ch_schema_strs(ch_schema *s, const ch_yaml_node *map,
                              const char *key, const char *what, int flags,
                              ch_strs *out, const ch_yaml_node **at);
/* A list node (absent or null: *out = NULL). */
charter_status ch_schema_list(ch_schema *s, const ch_yaml_node *map,
                              const char *key, const char *what, int flags,
                              const ch_yaml_node **out);
/* One of `names` (NULL-terminated); *out is its index, or `dflt` when
 * absent and optional. */
charter_status ch_schema_enum(ch_schema *s, const ch_yaml_node *map,
                              const char *key, const char *what,
                              const char *const *names, int flags, int dflt,
                              int *out);
/* A non-negative integer; *out = -1 when absent and optional. */
charter_status ch_schema_count(ch_schema *s, const ch_yaml_node *map,
                               const char *key, const char *what, int flags,
                               int64_t *out);
/* A finite number; *has = false when absent and optional. */
charter_status ch_schema_number(ch_schema *s, const ch_yaml_node *map,
                                const char *key, const char *what, int flags,
                                double *out, bool *has);
/* A boolean (true or false); *out = dflt when absent or null. */
charter_status ch_schema_bool(ch_schema *s, const ch_yaml_node *map,
                              const char *key, const char *what, bool dflt,
                              bool *out);
/* A non-null scalar node holding a string (for ids read from lists). */
charter_status ch_schema_scalar(ch_schema *s, const ch_yaml_node *n,
                                const char *key, const char *what,
                                const char *expected);

#endif
