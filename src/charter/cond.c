/* cond.c - the CEL environment of a charter and the compilation of its
 * conditions (`when`) and stop-rule `spend` expressions. It notes whether
 * any of them reads the stop-rule counters (charter.reads_counters): a
 * ledger several servers share checks a decision against only the
 * counters it may have read (ch_counter_reads).
 *
 * Every condition is compiled and type-checked when the charter loads, so a
 * typo in a condition is a load error at its file position, never a rule
 * that silently fails at decision time.
 */
#include "base/banned.h"

#include "charter/build.h"

/* The declared variables (enum ch_slot). These are immutable type
 * descriptions shared by every charter. */
static const char *const agent_fields[] = {"id", "department", "owner"};
static const cel_type *const agent_field_types[] = {&cel_type_string, &cel_type_string,
                                                    &cel_type_string};
static const cel_type agent_type = {
    .kind = CEL_T_OBJECT, .field_count = 3, .fields = agent_fields,
    .field_types = agent_field_types};

static const char *const workflow_fields[] = {"id", "department", "owner", "autonomy"};
static const cel_type *const workflow_field_types[] = {
    &cel_type_string, &cel_type_string, &cel_type_string, &cel_type_string};
static const cel_type workflow_type = {
    .kind = CEL_T_OBJECT, .field_count = 4, .fields = workflow_fields,
    .field_types = workflow_field_types};

static const char *const counter_fields[] = {"actions", "spend"};
static const cel_type *const counter_field_types[] = {&cel_type_int, &cel_type_double};
static const cel_type counter_type = {
    .kind = CEL_T_OBJECT, .field_count = 2, .fields = counter_fields,
    .field_types = counter_field_types};

static const char *const counters_fields[] = {"run", "day"};
static const cel_type *const counters_field_types[] = {&counter_type, &counter_type};
static const cel_type counters_type = {
    .kind = CEL_T_OBJECT, .field_count = 2, .fields = counters_fields,
    .field_types = counters_field_types};

typedef struct slot_decl {
    const char *name;
    const cel_type *type;
} slot_decl;

static const slot_decl slots[CH_SLOT_COUNT_] = {
    [CH_SLOT_AGENT] = {"agent", &agent_type},
    [CH_SLOT_WORKFLOW] = {"workflow", &workflow_type},
    [CH_SLOT_ACTION] = {"action", &cel_type_string},
    [CH_SLOT_INPUT] = {"input", &cel_type_map_string_dyn},
    [CH_SLOT_SUBJECT] = {"subject", &cel_type_map_string_dyn},
    [CH_SLOT_CONTEXT] = {"context", &cel_type_map_string_dyn},
    [CH_SLOT_RATIONALE] = {"rationale", &cel_type_string},
    [CH_SLOT_CONFIDENCE] = {"confidence", &cel_type_double},
    [CH_SLOT_RUN_ID] = {"run_id", &cel_type_string},
    [CH_SLOT_COUNTERS] = {"counters", &counters_type},
    [CH_SLOT_NOW] = {"now", &cel_type_timestamp},
};

charter_status ch_cond_env_new(charter *c, charter_error *err)
{
    c->env = cel_env_new(&c->mem);
    if (!c->env) {
        ch_yaml_error(err, CHARTER_E_NOMEM, NULL, "out of memory creating the CEL environment");
        return CHARTER_E_NOMEM;
    }
    for (int i = 0; i < CH_SLOT_COUNT_; i++) {
        if (cel_env_declare(c->env, slots[i].name, slots[i].type) != i) {
            ch_yaml_error(err, CHARTER_E_NOMEM, NULL,
                          "cannot declare CEL variable '%s'", slots[i].name);
            return CHARTER_E_NOMEM;
        }
    }
    return CHARTER_OK;
}

static const char *type_name(const cel_type *t)
{
    switch (t ? t->kind : CEL_T_DYN) {
    case CEL_T_DYN: return "dyn";
    case CEL_T_NULL: return "null";
    case CEL_T_BOOL: return "bool";
    case CEL_T_INT: return "int";
    case CEL_T_UINT: return "uint";
    case CEL_T_DOUBLE: return "double";
    case CEL_T_STRING: return "string";
    case CEL_T_BYTES: return "bytes";
    case CEL_T_LIST: return "list";
    case CEL_T_MAP: return "map";
    case CEL_T_TIMESTAMP: return "timestamp";
    case CEL_T_DURATION: return "duration";
    case CEL_T_TYPE: return "type";
    case CEL_T_OBJECT: return "object";
    }
    return "unknown";
}

/* Maps a position inside the expression (1-based; 0 unknown) to the file.
 * Exact for single-line scalars and literal blocks; for folded text the
 * lines were joined, so the best known point is the start of the text.
 * Returns false when the position is not exact. */
static bool file_position(const ch_yaml_node *n, unsigned line, unsigned col,
                          unsigned *out_line, unsigned *out_col)
{
    *out_line = n->text_line ? n->text_line : n->line;
    *out_col = n->text_column ? n->text_column : n->column;
    if (line == 0 || col == 0)
        return false;
    if (n->style == CH_YAML_LITERAL) {
        *out_line += line - 1;
        *out_col += col - 1;
        return true;
    }
    if (n->is_multiline || n->style == CH_YAML_FOLDED || line != 1)
        return false;
    *out_col += col - 1;
    return true;
}

static charter_status code_of(cel_status s)
{
    switch (s) {
    case CEL_ERR_SYNTAX: return CHARTER_E_CEL_SYNTAX;
    case CEL_ERR_TYPE: return CHARTER_E_CEL_TYPE;
    case CEL_ERR_LIMIT: return CHARTER_E_LIMIT;
    case CEL_ERR_NOMEM: return CHARTER_E_NOMEM;
    default: return CHARTER_E_CEL_SYNTAX;
    }
}

static const char *prefix_of(cel_status s)
{
    switch (s) {
    case CEL_ERR_TYPE: return "CEL type error";
    case CEL_ERR_LIMIT: return "CEL limit exceeded";
    case CEL_ERR_NOMEM: return "out of memory compiling CEL";
    default: return "CEL syntax error";
    }
}

charter_status ch_cond_compile(charter *c, const ch_yaml_node *expr,
                               ch_cond_kind kind, const char *key,
                               const char *what, const cel_program **out,
                               charter_error *err)
{
    *out = NULL;
    /* The program may keep its source: give it a copy in the charter. */
    const char *src = arena_strndup(&c->mem, expr->str, expr->len);
    if (!src) {
        ch_yaml_error(err, CHARTER_E_NOMEM, expr, "out of memory");
        return CHARTER_E_NOMEM;
    }
    cel_diag d;
    memset(&d, 0, sizeof d);
    const cel_program *p = NULL;
    cel_status st = cel_compile(c->env, src, expr->len, &p, &d);
    if (st != CEL_OK) {
        charter_status code = code_of(st);
        unsigned line, col;
        bool exact = file_position(expr, d.line, d.column, &line, &col);
        ch_yaml_error(err, code, expr, "%s in '%s' of %s: %s", prefix_of(st), key, what,
                      d.message[0] ? d.message : "invalid expression");
        if (err) {
            err->line = line;
            err->column = col;
            if (!exact && d.line && d.column) {
                size_t used = strlen(err->message);
                snprintf(err->message + used, sizeof err->message - used,
                         " (at line %u, column %u of the expression)", d.line, d.column);
            }
        }
        return code;
    }
    const cel_type *t = cel_program_type(p);
    cel_type_kind k = t ? t->kind : CEL_T_DYN;
    bool ok = k == CEL_T_DYN ||
              (kind == CH_COND_WHEN ? k == CEL_T_BOOL
                                    : (k == CEL_T_INT || k == CEL_T_UINT || k == CEL_T_DOUBLE));
    if (!ok) {
        unsigned line, col;
        file_position(expr, 1, 1, &line, &col);
        ch_yaml_error(err, CHARTER_E_CEL_TYPE, expr,
                      "CEL type error in '%s' of %s: %s must be %s, found %s", key, what,
                      kind == CH_COND_WHEN ? "the condition" : "the spend",
                      kind == CH_COND_WHEN ? "a bool" : "a number", type_name(t));
        if (err) {
            err->line = line;
            err->column = col;
        }
        return CHARTER_E_CEL_TYPE;
    }
    if (cel_program_reads_var(p, CH_SLOT_COUNTERS))
        c->reads_counters = true;
    *out = p;
    return CHARTER_OK;
}
