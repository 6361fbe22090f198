/* cel.h - Charter's Common Expression Language: values, types, compiler and
 * evaluator. The module's only interface to the rest of Charter.
 *
 * Pipeline: cel_lex.c (tokens) -> cel_parse.c (syntax tree, macros expanded)
 * -> cel_check.c (types against a cel_env) -> cel_eval.c (tree evaluation
 * with a cost limit). cel_value.c holds values, equality, ordering and
 * formatting; cel_json.c converts between JSON (jansson) and values;
 * cel_time.c timestamps and durations; cel_regex.c `matches` (PCRE2 with
 * match limits, so no pattern can backtrack forever).
 *
 * Memory: a cel_env and every program compiled in it live in the arena given
 * to cel_env_new; they are immutable after compilation and may be shared
 * between threads. Evaluation allocates only in the scratch arena of its
 * cel_eval_ctx; result values live until that arena is reset.
 */
#ifndef CHARTER_CEL_H
#define CHARTER_CEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

/* ---- Types (for the checker) ---------------------------------------------- */

typedef enum cel_type_kind {
    CEL_T_DYN,       /* unknown until run time */
    CEL_T_NULL,
    CEL_T_BOOL,
    CEL_T_INT,
    CEL_T_UINT,
    CEL_T_DOUBLE,
    CEL_T_STRING,
    CEL_T_BYTES,
    CEL_T_LIST,      /* elem */
    CEL_T_MAP,       /* key, elem */
    CEL_T_TIMESTAMP,
    CEL_T_DURATION,
    CEL_T_TYPE,
    CEL_T_OBJECT     /* a map with declared fields (fields/field_types) */
} cel_type_kind;

typedef struct cel_type cel_type;
struct cel_type {
    cel_type_kind kind;
    const cel_type *key;         /* CEL_T_MAP */
    const cel_type *elem;        /* CEL_T_LIST, CEL_T_MAP value */
    /* CEL_T_OBJECT: a map(string, dyn) whose listed fields are known. A
     * selection of an unlisted field is a type error at compile time; at
     * run time an object is an ordinary map value. */
    size_t field_count;
    const char *const *fields;
    const cel_type *const *field_types;
};

/* Shared immutable instances of the simple types. */
extern const cel_type cel_type_dyn, cel_type_null, cel_type_bool,
    cel_type_int, cel_type_uint, cel_type_double, cel_type_string,
    cel_type_bytes, cel_type_timestamp, cel_type_duration,
    cel_type_list_dyn, cel_type_map_string_dyn;

/* ---- Values ------------------------------------------------------------- */

typedef enum cel_kind {
    CEL_NULL,
    CEL_BOOL,
    CEL_INT,
    CEL_UINT,
    CEL_DOUBLE,
    CEL_STRING,
    CEL_BYTES,
    CEL_LIST,
    CEL_MAP,
    CEL_TIMESTAMP,
    CEL_DURATION,
    CEL_TYPE,
    CEL_ERROR
} cel_kind;

typedef struct cel_value cel_value;
typedef struct cel_list cel_list;
typedef struct cel_map cel_map;

struct cel_value {
    cel_kind kind;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct { const char *p; size_t n; } s;    /* STRING (UTF-8), BYTES */
        const cel_list *list;
        const cel_map *map;
        struct { int64_t sec; int32_t nsec; } t;  /* TIMESTAMP (Unix), DURATION */
        const char *type_name;                    /* TYPE */
        const char *error;                        /* ERROR: message */
    } v;
};

struct cel_list {
    size_t n;
    const cel_value *items;
};

/* Keys are bool, int, uint or string. Lookups of string keys in maps built
 * by cel_map_build are O(log n) (sorted index); maps are small in practice. */
struct cel_map {
    size_t n;
    const cel_value *keys;
    const cel_value *values;
    /* Set by cel_map_build: key positions in key order, so string keys are
     * found by binary search. NULL (a map built by hand): linear search. */
    const uint32_t *index;
};

static inline cel_value cel_null(void) { cel_value v = {.kind = CEL_NULL}; return v; }
static inline cel_value cel_bool(bool b) { cel_value v = {.kind = CEL_BOOL, .v.b = b}; return v; }
static inline cel_value cel_int(int64_t i) { cel_value v = {.kind = CEL_INT, .v.i = i}; return v; }
static inline cel_value cel_uint(uint64_t u) { cel_value v = {.kind = CEL_UINT, .v.u = u}; return v; }
static inline cel_value cel_double(double d) { cel_value v = {.kind = CEL_DOUBLE, .v.d = d}; return v; }
static inline cel_value cel_string(const char *p, size_t n) { cel_value v = {.kind = CEL_STRING}; v.v.s.p = p; v.v.s.n = n; return v; }

/* Builds a map value in `a` from n key/value pairs (copied). Returns NULL on
 * memory failure or when a key repeats. */
const cel_map *cel_map_build(arena *a, size_t n, const cel_value *keys,
                             const cel_value *values);
/* Looks a string key up; NULL when absent. */
const cel_value *cel_map_get_str(const cel_map *m, const char *key, size_t n);

/* CEL equality (numeric across int/uint/double as the spec defines). */
bool cel_value_equal(const cel_value *a, const cel_value *b);

/* ---- JSON <-> values (jansson) ------------------------------------------- */

struct json_t;
/* JSON integers become int (uint if above INT64_MAX), reals double, objects
 * maps with string keys. Copies strings into `a`. Returns false and fills
 * `msg` on depth over CHARTER_MAX_JSON_DEPTH or memory failure. */
bool cel_value_from_json(arena *a, const struct json_t *j, cel_value *out,
                         char *msg, size_t msg_len);
/* Where JSON text failed to parse: what, and the 1-based line and column
 * (in characters) of the offending text. `limit` is set when a limit (depth,
 * string length) was passed rather than the syntax broken. */
typedef struct cel_json_error {
    char msg[160];
    unsigned line, column;
    bool limit;
} cel_json_error;
/* Parses JSON text (RFC 8259) straight into values in `a`, with the same
 * mapping as cel_value_from_json: integers without fraction or exponent are
 * int (out of the 64-bit range: an error), other numbers double, objects
 * maps with string keys (a repeated key is an error). Strings must be valid
 * UTF-8 without \u0000 and at most CHARTER_MAX_STRING_BYTES long; nesting
 * deeper than max_depth levels (the outermost value is level 1) is refused.
 * Returns false with *e filled on any error. */
bool cel_json_parse(arena *a, const char *text, size_t n, unsigned max_depth,
                    cel_value *out, cel_json_error *e);
/* New jansson reference (caller decrefs), or NULL for values with no JSON
 * form (errors). Timestamps become RFC 3339 strings, durations "1.5s",
 * bytes base64, uint and int JSON integers, maps with non-string keys use
 * the key's string form. */
struct json_t *cel_value_to_json(const cel_value *v);

/* ---- Environment and compilation ---------------------------------------- */

typedef struct cel_env cel_env;

/* A new environment in `a` (which outlives it and its programs). NULL on
 * memory failure. */
cel_env *cel_env_new(arena *a);
/* Declares a variable and returns its slot (0, 1, ...), or -1 on memory
 * failure or a repeated name. `type` must outlive the env. */
int cel_env_declare(cel_env *env, const char *name, const cel_type *type);
size_t cel_env_slot_count(const cel_env *env);
/* Arena of the env, for building types that live as long as it. */
arena *cel_env_arena(cel_env *env);

typedef enum cel_status {
    CEL_OK = 0,
    CEL_ERR_SYNTAX,
    CEL_ERR_TYPE,
    CEL_ERR_EVAL,
    CEL_ERR_LIMIT,
    CEL_ERR_NOMEM
} cel_status;

/* Where and why compilation failed; line/column are 1-based within the
 * expression source. */
typedef struct cel_diag {
    cel_status code;
    unsigned line, column;
    char message[512];
} cel_diag;

typedef struct cel_program cel_program;

/* Parses and checks `src` against `env`. On success *out is a program living
 * in the env's arena. Unknown variables, unknown functions and clearly wrong
 * operand types are CEL_ERR_TYPE; malformed text CEL_ERR_SYNTAX; source over
 * CEL_MAX_EXPR_BYTES or nesting over CEL_MAX_PARSE_DEPTH CEL_ERR_LIMIT. */
cel_status cel_compile(cel_env *env, const char *src, size_t n,
                       const cel_program **out, cel_diag *diag);

/* Options for cel_compile_ex. */
typedef enum cel_compile_flags {
    /* Resolve names only: operand type mismatches, undeclared variables and
     * unknown functions become evaluation errors instead of CEL_ERR_TYPE
     * (the conformance suite's disable_check mode). */
    CEL_COMPILE_NO_TYPE_CHECK = 1u
} cel_compile_flags;

/* cel_compile with cel_compile_flags. */
cel_status cel_compile_ex(cel_env *env, const char *src, size_t n,
                          unsigned flags, const cel_program **out,
                          cel_diag *diag);

/* The statically known result type (CEL_T_DYN when not known). */
const cel_type *cel_program_type(const cel_program *p);
/* The source text it was compiled from. */
const char *cel_program_source(const cel_program *p);
/* Whether the program refers to the declared variable of `slot` anywhere
 * in its tree, as the checker resolved its names (a comprehension variable
 * of the same name is not the variable). Exact for slots below 63; from 63
 * on, true when it refers to any of them. False for a NULL program. Says
 * nothing of whether an evaluation reaches the reference: callers that
 * must not miss a read use it as "may read". */
bool cel_program_reads_var(const cel_program *p, int slot);

/* ---- Evaluation --------------------------------------------------------- */

typedef struct cel_eval_ctx {
    arena *scratch;           /* results and temporaries */
    const cel_value *slots;   /* one value per declared variable (`now` is an
                                 ordinary variable of type timestamp) */
    uint64_t cost_limit;      /* 0 = CEL_MAX_EVAL_COST */
    uint64_t cost_used;       /* out: steps taken */
    unsigned error_line;      /* out: when the result is an error, where in */
    unsigned error_column;    /*      the source it arose (0 if unknown) */
} cel_eval_ctx;

/* Evaluates a program. Always returns a value: an evaluation error is a
 * CEL_ERROR value whose message says what went wrong (no such key, overflow,
 * division by zero, cost limit exceeded, regex limit ...). */
cel_value cel_program_eval(const cel_program *p, cel_eval_ctx *ctx);

/* One-shot evaluation for `charter eval` and tests: declares `now`
 * (timestamp, bound to now_sec) and each key of `vars` (may be NULL) as dyn,
 * compiles and evaluates. A result that is a CEL_ERROR returns CEL_ERR_EVAL
 * with the message in diag and the value in *out. */
cel_status cel_eval_once(arena *a, const char *src, size_t n,
                         const cel_map *vars, int64_t now_sec,
                         cel_value *out, cel_diag *diag);

#endif
