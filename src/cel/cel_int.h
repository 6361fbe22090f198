/* cel_int.h - internals shared by the CEL modules (not part of cel.h).
 *
 * The syntax tree: one node struct for every kind, the kinds generated from
 * CEL_OP_LIST so names used in messages ("_+_", "size") and the enum never
 * drift apart. The parser builds the tree with macros expanded, the checker
 * resolves identifiers to variable slots or comprehension locals and fills in
 * types, the evaluator walks it.
 */
#ifndef CHARTER_CEL_INT_H
#define CHARTER_CEL_INT_H

#include "cel/cel.h"

#include <stdarg.h>

/* X(kind, display name). The F_ kinds are built-in functions; CALL is a
 * function the parser did not recognise (the checker rejects it; unchecked
 * programs fail at run time with "unbound function"). */
#define CEL_OP_LIST(X)                                                       \
    X(LIT, "literal")                                                        \
    X(IDENT, "identifier")                                                   \
    X(VAR, "variable")                                                       \
    X(LOCAL, "comprehension variable")                                       \
    X(SELECT, "_._")                                                         \
    X(HAS, "has")                                                            \
    X(INDEX, "_[_]")                                                         \
    X(LIST, "list")                                                          \
    X(MAP, "map")                                                            \
    X(COND, "_?_:_")                                                         \
    X(AND, "_&&_")                                                           \
    X(OR, "_||_")                                                            \
    X(NOT, "!_")                                                             \
    X(NEG, "-_")                                                             \
    X(ADD, "_+_")                                                            \
    X(SUB, "_-_")                                                            \
    X(MUL, "_*_")                                                            \
    X(DIV, "_/_")                                                            \
    X(MOD, "_%_")                                                            \
    X(EQ, "_==_")                                                            \
    X(NE, "_!=_")                                                            \
    X(LT, "_<_")                                                             \
    X(LE, "_<=_")                                                            \
    X(GT, "_>_")                                                             \
    X(GE, "_>=_")                                                            \
    X(IN, "@in")                                                             \
    X(ALL, "all")                                                            \
    X(EXISTS, "exists")                                                      \
    X(EXISTS_ONE, "exists_one")                                              \
    X(MAP_MACRO, "map")                                                      \
    X(FILTER, "filter")                                                      \
    X(CALL, "call")                                                          \
    X(F_SIZE, "size")                                                        \
    X(F_CONTAINS, "contains")                                                \
    X(F_STARTS_WITH, "startsWith")                                           \
    X(F_ENDS_WITH, "endsWith")                                               \
    X(F_MATCHES, "matches")                                                  \
    X(F_INT, "int")                                                          \
    X(F_UINT, "uint")                                                        \
    X(F_DOUBLE, "double")                                                    \
    X(F_STRING, "string")                                                    \
    X(F_BOOL, "bool")                                                        \
    X(F_BYTES, "bytes")                                                      \
    X(F_DYN, "dyn")                                                          \
    X(F_TYPE, "type")                                                        \
    X(F_TIMESTAMP, "timestamp")                                              \
    X(F_DURATION, "duration")                                                \
    X(F_GET_FULL_YEAR, "getFullYear")                                        \
    X(F_GET_MONTH, "getMonth")                                               \
    X(F_GET_DATE, "getDate")                                                 \
    X(F_GET_DAY_OF_MONTH, "getDayOfMonth")                                   \
    X(F_GET_DAY_OF_WEEK, "getDayOfWeek")                                     \
    X(F_GET_DAY_OF_YEAR, "getDayOfYear")                                     \
    X(F_GET_HOURS, "getHours")                                               \
    X(F_GET_MINUTES, "getMinutes")                                           \
    X(F_GET_SECONDS, "getSeconds")                                           \
    X(F_GET_MILLISECONDS, "getMilliseconds")

typedef enum cel_op {
#define CEL_OP_ENUM_(k, s) CEL_OP_##k,
    CEL_OP_LIST(CEL_OP_ENUM_)
#undef CEL_OP_ENUM_
    CEL_OP_COUNT_
} cel_op;

/* "_+_", "size", ... */
const char *cel_op_name(cel_op op);

enum {
    CEL_NODE_METHOD = 1u,     /* call written as receiver.fn(...): args[0] is the receiver */
    CEL_NODE_INT_MIN = 2u,    /* LIT 9223372036854775808 waiting for its unary minus */
    CEL_NODE_FIELD_LIT = 4u,  /* a comparison `var.field OP literal`: the evaluator
                                 tries a shortcut first (set after checking) */
    CEL_NODE_FAST_LOGIC = 8u  /* && or || over FIELD_LIT / FAST_LOGIC operands only */
};

typedef struct cel_node cel_node;
struct cel_node {
    uint16_t op;                 /* cel_op */
    uint16_t flags;              /* CEL_NODE_* */
    uint32_t nargs;              /* LIST: items; MAP: 2 * entries; CALL/F_*: args */
    uint32_t line, col;          /* 1-based, where the node's token starts */
    int32_t slot;                /* VAR: env slot; LOCAL and macros: local index */
    uint32_t height;             /* 1 + the tallest operand's height */
    const cel_type *type;        /* filled by the checker */
    cel_node *a, *b, *c;         /* operands; macros: a range, b body, c filter */
    cel_node **args;             /* LIST, MAP (k0, v0, k1, ...), calls */
    const char *name;            /* IDENT, SELECT/HAS field, CALL, macro variable */
    size_t name_n;
    cel_value lit;               /* LIT; SELECT/HAS: the field as a string */
    const void *aux;             /* F_MATCHES: compiled literal pattern */
};

/* ---- Lexer (cel_lex.c) ---------------------------------------------------- */

#define CEL_TOKEN_LIST(X)                                                    \
    X(EOF, "end of expression")                                              \
    X(ERROR, "invalid token")                                                \
    X(INT, "integer")                                                        \
    X(UINT, "unsigned integer")                                              \
    X(DOUBLE, "number")                                                      \
    X(STRING, "string")                                                      \
    X(BYTES, "bytes")                                                        \
    X(IDENT, "identifier")                                                   \
    X(QIDENT, "quoted identifier")                                           \
    X(TRUE, "'true'")                                                        \
    X(FALSE, "'false'")                                                      \
    X(NULL, "'null'")                                                        \
    X(IN, "'in'")                                                            \
    X(LPAREN, "'('")                                                         \
    X(RPAREN, "')'")                                                         \
    X(LBRACKET, "'['")                                                       \
    X(RBRACKET, "']'")                                                       \
    X(LBRACE, "'{'")                                                         \
    X(RBRACE, "'}'")                                                         \
    X(DOT, "'.'")                                                            \
    X(COMMA, "','")                                                          \
    X(COLON, "':'")                                                          \
    X(QUESTION, "'?'")                                                       \
    X(NOT, "'!'")                                                            \
    X(MINUS, "'-'")                                                          \
    X(PLUS, "'+'")                                                           \
    X(STAR, "'*'")                                                           \
    X(SLASH, "'/'")                                                          \
    X(PERCENT, "'%'")                                                        \
    X(LT, "'<'")                                                             \
    X(LE, "'<='")                                                            \
    X(GT, "'>'")                                                             \
    X(GE, "'>='")                                                            \
    X(EQ, "'=='")                                                            \
    X(NE, "'!='")                                                            \
    X(AND, "'&&'")                                                           \
    X(OR, "'||'")

typedef enum cel_tok_kind {
#define CEL_TOK_ENUM_(k, s) CEL_TOK_##k,
    CEL_TOKEN_LIST(CEL_TOK_ENUM_)
#undef CEL_TOK_ENUM_
    CEL_TOK_COUNT_
} cel_tok_kind;

const char *cel_tok_name(cel_tok_kind k);

typedef struct cel_token {
    cel_tok_kind kind;
    const char *p;          /* start in the source */
    size_t n;               /* length in the source */
    uint32_t line, col;
    /* Decoded value: INT/UINT/DOUBLE numbers; STRING/BYTES/QIDENT text in
     * the lexer's arena. ERROR: message. */
    union {
        uint64_t u;         /* INT holds the magnitude (the sign is an operator) */
        double d;
        struct { const char *p; size_t n; } s;
        const char *error;
    } v;
} cel_token;

typedef struct cel_lexer {
    const char *src, *end, *cur;
    uint32_t line;
    const char *line_start;
    arena *a;
} cel_lexer;

void cel_lex_init(cel_lexer *lx, arena *a, const char *src, size_t n);
/* Next token; CEL_TOK_ERROR carries a message (arena) and position. */
cel_token cel_lex_next(cel_lexer *lx);

/* ---- Parser (cel_parse.c) ------------------------------------------------- */

/* Parses src into a tree in `a`. On failure returns NULL with diag filled
 * (CEL_ERR_SYNTAX, CEL_ERR_LIMIT or CEL_ERR_NOMEM). */
cel_node *cel_parse(arena *a, const char *src, size_t n, cel_diag *diag);

/* ---- Checker (cel_check.c) ------------------------------------------------ */

enum {
    CEL_CHECK_TYPES = 1u     /* report operand type mismatches (else only resolve) */
};

/* Resolves identifiers against env (declared variables, comprehension
 * variables, type names), fills node types and compiles literal regexes.
 * Returns CEL_OK or fills diag. *max_locals receives the comprehension
 * nesting the evaluator must provide; *vars the declared variables the
 * tree refers to (CEL_OP_VAR nodes): bit `slot` for slots 0..62, bit 63
 * for any slot from 63 on. */
cel_status cel_check(cel_env *env, cel_node *root, unsigned flags,
                     unsigned *max_locals, uint64_t *vars, cel_diag *diag);

/* Environment internals, used by the checker. */
int cel_env_lookup(const cel_env *env, const char *name, size_t n,
                   const cel_type **type);

#define CEL_MAX_LOCALS 64u   /* nested comprehensions in one expression */

/* ---- Programs (cel_env.c, run by cel_eval.c) ------------------------------- */

struct cel_program {
    const cel_node *root;
    const cel_type *type;
    const char *source;
    unsigned max_locals;     /* comprehension nesting */
    size_t nslots;           /* variables declared when it was compiled */
    uint64_t vars;           /* the declared variables it refers to (cel_check) */
};

/* ---- Values (cel_value.c) ------------------------------------------------- */

/* Ordering for <, <=, >, >= (numeric across int/uint/double): sets *cmp to
 * -1/0/1 and returns true, or false when a and b are not ordered against
 * each other (different kinds, lists, maps, NaN). */
bool cel_value_compare(const cel_value *a, const cel_value *b, int *cmp);
enum {
    CEL_MAP_ADOPT = 1u     /* keys/values already live in the arena: no copy */
};
/* cel_map_build with a reason on failure ("repeated key in map",
 * "unsupported map key type double ...", "out of memory"; static text).
 * When a key repeats an earlier one and `repeat` is not NULL, *repeat is
 * its position in keys (SIZE_MAX for any other outcome), so a caller can
 * name it; the repeat is found while sorting, in N log N. */
const cel_map *cel_map_build_ex(arena *a, size_t n, const cel_value *keys,
                                const cel_value *values, unsigned flags,
                                const char **why, size_t *repeat);
/* Finds key (numeric keys match across int/uint/double); NULL if absent. */
const cel_value *cel_map_find(const cel_map *m, const cel_value *key);
/* "int", "list", "google.protobuf.Timestamp", ... */
const char *cel_kind_type_name(cel_kind k);
/* An error value whose message is formatted in a (static fallback text
 * when a is out of memory). */
cel_value cel_error_fmt(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline cel_value cel_error(const char *msg)
{
    cel_value v = {.kind = CEL_ERROR};
    v.v.error = msg;
    return v;
}
/* Appends a debugging/display form of v (CEL literal syntax) to buf.
 * Returns false if it did not fit (buf is still NUL-terminated). */
bool cel_value_format(const cel_value *v, char *buf, size_t len);
/* Number of Unicode code points in valid UTF-8 text. */
size_t cel_utf8_count(const char *p, size_t n);
bool cel_utf8_valid(const char *p, size_t n);
/* Formats a double the way CEL's string() does (shortest round trip). */
void cel_double_format(double d, char *buf, size_t len);

/* ---- Time (cel_time.c) ---------------------------------------------------- */

#define CEL_TS_MIN_SEC (-62135596800LL)    /* 0001-01-01T00:00:00Z */
#define CEL_TS_MAX_SEC (253402300799LL)    /* 9999-12-31T23:59:59Z */
/* Durations are int64 nanoseconds (about 292 years), as in Go and cel-go;
 * the conformance suite expects ts - ts beyond that to be a range error. */
#define CEL_DUR_MAX_NS INT64_MAX

bool cel_ts_in_range(int64_t sec, int32_t nsec);
bool cel_dur_in_range(int64_t sec, int32_t nsec);
/* RFC 3339 text to a timestamp; false with a message on bad text or range. */
bool cel_ts_parse(const char *p, size_t n, int64_t *sec, int32_t *nsec,
                  const char **why);
/* "2009-02-13T23:31:30.5Z" (fraction trimmed). buf >= 40 bytes. */
void cel_ts_format(int64_t sec, int32_t nsec, char *buf, size_t len);
/* "1h30m", "1.5s", "-20ms" ... (Go duration syntax). */
bool cel_dur_parse(const char *p, size_t n, int64_t *sec, int32_t *nsec,
                   const char **why);
/* "1.5s", "3600s". */
void cel_dur_format(int64_t sec, int32_t nsec, char *buf, size_t len);
/* ADD or SUB on timestamps/durations (ts+dur, dur+ts, dur+dur, ts-ts,
 * ts-dur, dur-dur; the caller checked the kinds): the result or a range
 * error. */
cel_value cel_time_arith(cel_op op, const cel_value *a, const cel_value *b);
/* Accessors getFullYear ... getMilliseconds on a timestamp in timezone tz
 * (NULL/empty = UTC; "+05:30", "-02:00", "02:00" or an IANA name).
 * Returns an int or an error value. */
cel_value cel_ts_part(arena *a, cel_op op, int64_t sec, int32_t nsec,
                      const char *tz, size_t tz_n);
/* Duration accessors getHours/getMinutes/getSeconds/getMilliseconds. */
cel_value cel_dur_part(cel_op op, int64_t sec, int32_t nsec);

/* ---- Regex (cel_regex.c) -------------------------------------------------- */

/* Compiles a pattern into `a` (NULL and *why on a bad pattern). The result is
 * immutable and may be shared between threads. */
const void *cel_regex_compile(arena *a, const char *pat, size_t n,
                              const char **why);

/* Match memory of one evaluation (zero it before the first match). */
typedef struct cel_regex_state {
    void *mc, *md;
} cel_regex_state;

/* Matches s against the pattern (unanchored search). Returns a bool value or
 * an error value (bad pattern, match/depth/heap limit). `re` may be NULL:
 * then pat is compiled in `a`. */
cel_value cel_regex_match(arena *a, cel_regex_state *st, const void *re,
                          const char *pat, size_t pat_n, const char *s,
                          size_t n);

#endif
