/* yaml.h - YAML text to a small node tree with source positions (libyaml).
 *
 * Used by the charter loader and by the charter test runner. Aliases are
 * expanded by sharing the anchored node, but every expansion counts against
 * CHARTER_MAX_YAML_NODES, so an alias bomb is refused with CHARTER_E_LIMIT
 * instead of being walked. Depth is limited by CHARTER_MAX_YAML_DEPTH.
 * Memory: every node and string lives in the arena given to ch_yaml_parse.
 */
#ifndef CHARTER_YAML_H
#define CHARTER_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "charter.h"
#include "base/arena.h"

typedef enum ch_yaml_kind { CH_YAML_SCALAR, CH_YAML_SEQ, CH_YAML_MAP } ch_yaml_kind;

/* How a scalar was written. */
typedef enum ch_yaml_style {
    CH_YAML_PLAIN,
    CH_YAML_SINGLE_QUOTED,
    CH_YAML_DOUBLE_QUOTED,
    CH_YAML_LITERAL,           /* | */
    CH_YAML_FOLDED             /* > */
} ch_yaml_style;

typedef struct ch_yaml_node ch_yaml_node;
struct ch_yaml_node {
    ch_yaml_kind kind;
    unsigned line, column;     /* 1-based */
    const char *file;          /* as given to ch_yaml_parse */
    /* SCALAR */
    const char *str;           /* NUL-terminated; len excludes the NUL */
    size_t len;
    bool is_plain;             /* unquoted: may be a number, bool or null */
    ch_yaml_style style;
    /* Where the scalar's text begins: after the opening quote, or at the
     * first content line of a block scalar (for mapping CEL positions).
     * is_multiline: the source text spans several lines. */
    unsigned text_line, text_column;
    bool is_multiline;
    /* SEQ: items[0..n); MAP: keys[0..n) with values[0..n), in file order.
     * A key repeated in one mapping is an error at parse time. */
    size_t n;
    ch_yaml_node **items;
    ch_yaml_node **keys;
    ch_yaml_node **values;
};

/* Parses one YAML document (an empty document gives an empty mapping).
 * Errors (CHARTER_E_YAML, CHARTER_E_LIMIT, CHARTER_E_NOMEM) name
 * file:line:column. */
charter_status ch_yaml_parse(arena *a, const char *file, const char *text,
                             size_t n, ch_yaml_node **root, charter_error *err);

/* Reads a whole file (at most CHARTER_MAX_FILE_BYTES) into the arena and
 * parses it. */
charter_status ch_yaml_parse_file(arena *a, const char *path,
                                  ch_yaml_node **root, charter_error *err);

/* The value of `key` in a mapping, or NULL. */
const ch_yaml_node *ch_yaml_get(const ch_yaml_node *map, const char *key);

/* Plain-scalar interpretation (YAML 1.2 core schema). */
bool ch_yaml_is_null(const ch_yaml_node *n);
bool ch_yaml_as_bool(const ch_yaml_node *n, bool *out);
bool ch_yaml_as_int(const ch_yaml_node *n, long long *out);
bool ch_yaml_as_double(const ch_yaml_node *n, double *out);

/* Converts a node to JSON (plain scalars become numbers, booleans and null
 * where they read as such). New reference; NULL on memory failure. */
struct json_t;
struct json_t *ch_yaml_to_json(const ch_yaml_node *n);

/* Fills err with code, the node's position and a printf-style message. */
void ch_yaml_error(charter_error *err, charter_status code,
                   const ch_yaml_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
