/* yaml.c - YAML text to a ch_yaml_node tree (see yaml.h).
 *
 * Built on libyaml's event parser: events arrive in document order and a
 * stack of open containers collects their children. The parser never
 * recurses, counts nesting as it goes, and counts every node an alias would
 * expand to, so deep or explosive input is refused while it is being read.
 * Aliases share the anchored node (the tree is a DAG); an anchor becomes
 * usable only once its node is complete, so no node can contain itself.
 */
#include "base/banned.h"

#include "charter/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "base/limits.h"

void ch_yaml_error(charter_error *err, charter_status code,
                   const ch_yaml_node *at, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    err->line = at ? at->line : 0;
    err->column = at ? at->column : 0;
    snprintf(err->file, sizeof err->file, "%s", at && at->file ? at->file : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* ---- Parsing ------------------------------------------------------------ */

typedef struct anchor_slot {
    const char *name;          /* NULL: empty */
    const ch_yaml_node *node;
    size_t weight;             /* nodes it expands to */
    unsigned height;           /* nesting levels it adds */
} anchor_slot;

typedef struct frame {
    ch_yaml_node *node;
    size_t child_base;         /* first child in builder.kids */
    size_t start_count;        /* builder.nodes before this node */
    unsigned height;           /* 1 + the highest child so far */
    char *anchor;              /* malloc'd, or NULL */
} frame;

typedef struct builder {
    arena *a;
    const char *file;
    const char *text;
    size_t n;
    charter_error *err;
    ch_yaml_node **kids;       /* children of the open containers */
    size_t kid_n, kid_cap;
    frame frames[CHARTER_MAX_YAML_DEPTH];
    size_t depth;
    anchor_slot *anchors;      /* open addressing, power-of-two capacity */
    size_t anchor_n, anchor_cap;
    size_t nodes, aliases;
    size_t *line_starts;       /* byte offset of each line, built lazily */
    size_t line_count;
    ch_yaml_node *root;
} builder;

static charter_status fail_at(builder *b, charter_status code, unsigned line,
                              unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static charter_status fail_at(builder *b, charter_status code, unsigned line,
                              unsigned column, const char *fmt, ...)
{
    if (b->err) {
        b->err->code = code;
        b->err->line = line;
        b->err->column = column;
        snprintf(b->err->file, sizeof b->err->file, "%s", b->file);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err->message, sizeof b->err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static charter_status fail_nomem(builder *b)
{
    return fail_at(b, CHARTER_E_NOMEM, 0, 0, "out of memory while reading YAML");
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static anchor_slot *anchor_find(builder *b, const char *name)
{
    if (!b->anchor_cap)
        return NULL;
    size_t mask = b->anchor_cap - 1;
    for (size_t i = (size_t)hash_str(name) & mask;; i = (i + 1) & mask) {
        if (!b->anchors[i].name || strcmp(b->anchors[i].name, name) == 0)
            return &b->anchors[i];
    }
}

static bool anchor_grow(builder *b)
{
    size_t cap = b->anchor_cap ? b->anchor_cap * 2 : 64;
    anchor_slot *old = b->anchors;
    size_t old_cap = b->anchor_cap;
    b->anchors = calloc(cap, sizeof *b->anchors);
    if (!b->anchors) {
        b->anchors = old;
        return false;
    }
    b->anchor_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].name)
            *anchor_find(b, old[i].name) = old[i];
    }
    free(old);
    return true;
}

/* Records a completed anchored node. A redefined anchor replaces the old
 * one for later aliases, as YAML specifies. Takes `name` (malloc'd). */
static charter_status anchor_define(builder *b, char *name,
                                    const ch_yaml_node *node, size_t weight,
                                    unsigned height)
{
    if ((b->anchor_n + 1) * 2 > b->anchor_cap && !anchor_grow(b)) {
        free(name);
        return fail_nomem(b);
    }
    anchor_slot *s = anchor_find(b, name);
    if (s->name) {
        free(name);
    } else {
        s->name = name;
        b->anchor_n++;
    }
    s->node = node;
    s->weight = weight;
    s->height = height;
    return CHARTER_OK;
}

static char *dup_anchor(builder *b, const yaml_char_t *anchor)
{
    if (!anchor)
        return NULL;
    size_t len = strlen((const char *)anchor);
    char *p = malloc(len + 1);
    if (p)
        memcpy(p, anchor, len + 1);
    return p;
}

static charter_status count_node(builder *b, size_t weight, const yaml_mark_t *m)
{
    if (weight > CHARTER_MAX_YAML_NODES - b->nodes)
        return fail_at(b, CHARTER_E_LIMIT, (unsigned)m->line + 1,
                       (unsigned)m->column + 1,
                       "the document expands to more than %u nodes (aliases "
                       "included); refusing to expand it",
                       CHARTER_MAX_YAML_NODES);
    b->nodes += weight;
    return CHARTER_OK;
}

static charter_status add_child(builder *b, ch_yaml_node *node, unsigned height)
{
    if (b->depth == 0) {
        b->root = node;
        return CHARTER_OK;
    }
    if (b->kid_n == b->kid_cap) {
        size_t cap = b->kid_cap ? b->kid_cap * 2 : 256;
        ch_yaml_node **k = realloc(b->kids, cap * sizeof *k);
        if (!k)
            return fail_nomem(b);
        b->kids = k;
        b->kid_cap = cap;
    }
    b->kids[b->kid_n++] = node;
    frame *f = &b->frames[b->depth - 1];
    if (height + 1 > f->height)
        f->height = height + 1;
    return CHARTER_OK;
}

static ch_yaml_node *node_new(builder *b, ch_yaml_kind kind, const yaml_mark_t *m)
{
    ch_yaml_node *node = arena_calloc(b->a, 1, sizeof *node);
    if (!node)
        return NULL;
    node->kind = kind;
    node->line = (unsigned)m->line + 1;
    node->column = (unsigned)m->column + 1;
    node->file = b->file;
    node->str = "";
    return node;
}

static bool build_line_starts(builder *b)
{
    size_t count = 1;
    for (size_t i = 0; i < b->n; i++)
        count += b->text[i] == '\n';
    b->line_starts = malloc(count * sizeof *b->line_starts);
    if (!b->line_starts)
        return false;
    size_t k = 0;
    b->line_starts[k++] = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->text[i] == '\n')
            b->line_starts[k++] = i + 1;
    }
    b->line_count = count;
    return true;
}

/* The first content line of a block scalar whose indicator is on 0-based
 * line `line`: its 1-based line and the column where its text starts. */
static bool block_text_start(builder *b, size_t line, unsigned *out_line,
                             unsigned *out_col)
{
    if (!b->line_starts && !build_line_starts(b))
        return false;
    for (size_t l = line + 1; l < b->line_count; l++) {
        size_t i = b->line_starts[l];
        size_t indent = 0;
        while (i + indent < b->n && b->text[i + indent] == ' ')
            indent++;
        size_t j = i + indent;
        if (j < b->n && b->text[j] != '\n' && b->text[j] != '\r') {
            *out_line = (unsigned)l + 1;
            *out_col = (unsigned)indent + 1;
            return true;
        }
    }
    *out_line = (unsigned)line + 1;
    *out_col = 1;
    return true;
}

static charter_status on_scalar(builder *b, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    charter_status s = count_node(b, 1, m);
    if (s != CHARTER_OK)
        return s;
    ch_yaml_node *node = node_new(b, CH_YAML_SCALAR, m);
    if (!node)
        return fail_nomem(b);
    const char *val = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(val, '\0', len))
        return fail_at(b, CHARTER_E_YAML, node->line, node->column,
                       "a NUL character inside a string; expected text "
                       "without NUL characters");
    node->str = arena_strndup(b->a, val, len);
    if (!node->str)
        return fail_nomem(b);
    node->len = len;
    node->text_line = node->line;
    node->text_column = node->column;
    node->is_multiline = ev->end_mark.line != m->line;
    switch (ev->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
        node->style = CH_YAML_SINGLE_QUOTED;
        node->text_column++;
        break;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        node->style = CH_YAML_DOUBLE_QUOTED;
        node->text_column++;
        break;
    case YAML_LITERAL_SCALAR_STYLE:
    case YAML_FOLDED_SCALAR_STYLE:
        node->style = ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE
                          ? CH_YAML_LITERAL : CH_YAML_FOLDED;
        if (!block_text_start(b, m->line, &node->text_line, &node->text_column))
            return fail_nomem(b);
        break;
    default:
        node->style = CH_YAML_PLAIN;
        break;
    }
    /* An explicit !!str tag makes a plain scalar a string. */
    const char *tag = (const char *)ev->data.scalar.tag;
    node->is_plain = node->style == CH_YAML_PLAIN &&
                     !(tag && strcmp(tag, YAML_STR_TAG) == 0);
    if (ev->data.scalar.anchor) {
        char *name = dup_anchor(b, ev->data.scalar.anchor);
        if (!name)
            return fail_nomem(b);
        s = anchor_define(b, name, node, 1, 0);
        if (s != CHARTER_OK)
            return s;
    }
    return add_child(b, node, 0);
}

static charter_status on_alias(builder *b, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    unsigned line = (unsigned)m->line + 1, col = (unsigned)m->column + 1;
    if (++b->aliases > CHARTER_MAX_YAML_ALIASES)
        return fail_at(b, CHARTER_E_LIMIT, line, col,
                       "more than %u aliases in one file", CHARTER_MAX_YAML_ALIASES);
    const char *name = (const char *)ev->data.alias.anchor;
    anchor_slot *a = anchor_find(b, name);
    if (!a || !a->name)
        return fail_at(b, CHARTER_E_YAML, line, col,
                       "alias '*%s' names no complete anchor defined before it; "
                       "expected an anchor '&%s' earlier in the file", name, name);
    if (b->depth + a->height > CHARTER_MAX_YAML_DEPTH)
        return fail_at(b, CHARTER_E_LIMIT, line, col,
                       "alias '*%s' nests deeper than %u levels", name,
                       CHARTER_MAX_YAML_DEPTH);
    charter_status s = count_node(b, a->weight, m);
    if (s != CHARTER_OK)
        return s;
    return add_child(b, (ch_yaml_node *)a->node, a->height);
}

static charter_status on_start(builder *b, const yaml_event_t *ev, ch_yaml_kind kind)
{
    const yaml_mark_t *m = &ev->start_mark;
    if (b->depth >= CHARTER_MAX_YAML_DEPTH)
        return fail_at(b, CHARTER_E_LIMIT, (unsigned)m->line + 1,
                       (unsigned)m->column + 1,
                       "YAML nested deeper than %u levels", CHARTER_MAX_YAML_DEPTH);
    size_t start = b->nodes;
    charter_status s = count_node(b, 1, m);
    if (s != CHARTER_OK)
        return s;
    ch_yaml_node *node = node_new(b, kind, m);
    if (!node)
        return fail_nomem(b);
    const yaml_char_t *anchor = kind == CH_YAML_MAP ? ev->data.mapping_start.anchor
                                                    : ev->data.sequence_start.anchor;
    char *name = NULL;
    if (anchor && !(name = dup_anchor(b, anchor)))
        return fail_nomem(b);
    frame *f = &b->frames[b->depth++];
    f->node = node;
    f->child_base = b->kid_n;
    f->start_count = start;
    f->height = 1;
    f->anchor = name;
    return CHARTER_OK;
}

static int cmp_key(const void *x, const void *y)
{
    const ch_yaml_node *a = *(ch_yaml_node *const *)x;
    const ch_yaml_node *b = *(ch_yaml_node *const *)y;
    int c = strcmp(a->str, b->str);
    if (c)
        return c;
    /* Equal keys: file order, so the second is reported. */
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->column < b->column ? -1 : a->column > b->column;
}

static charter_status check_keys(builder *b, ch_yaml_node *map)
{
    for (size_t i = 0; i < map->n; i++) {
        const ch_yaml_node *k = map->keys[i];
        if (k->kind != CH_YAML_SCALAR)
            return fail_at(b, CHARTER_E_YAML, k->line, k->column,
                           "a mapping key must be a string; found a %s",
                           k->kind == CH_YAML_MAP ? "mapping" : "sequence");
    }
    if (map->n < 2)
        return CHARTER_OK;
    ch_yaml_node **sorted = malloc(map->n * sizeof *sorted);
    if (!sorted)
        return fail_nomem(b);
    memcpy(sorted, map->keys, map->n * sizeof *sorted);
    qsort(sorted, map->n, sizeof *sorted, cmp_key);
    charter_status s = CHARTER_OK;
    for (size_t i = 1; i < map->n; i++) {
        if (strcmp(sorted[i - 1]->str, sorted[i]->str) == 0) {
            s = fail_at(b, CHARTER_E_YAML, sorted[i]->line, sorted[i]->column,
                        "duplicate key '%s' in a mapping: first at line %u "
                        "column %u; expected each key once",
                        sorted[i]->str, sorted[i - 1]->line, sorted[i - 1]->column);
            break;
        }
    }
    free(sorted);
    return s;
}

static charter_status on_end(builder *b)
{
    frame *f = &b->frames[--b->depth];
    ch_yaml_node *node = f->node;
    size_t count = b->kid_n - f->child_base;
    /* No kids array before the first child: NULL + 0 is undefined. */
    ch_yaml_node **kids = b->kids ? b->kids + f->child_base : NULL;
    charter_status s = CHARTER_OK;
    if (node->kind == CH_YAML_SEQ) {
        node->n = count;
        node->items = arena_memdup(b->a, kids, count * sizeof *kids);
        if (!node->items)
            s = fail_nomem(b);
    } else {
        node->n = count / 2;
        node->keys = arena_alloc(b->a, node->n * sizeof *kids);
        node->values = arena_alloc(b->a, node->n * sizeof *kids);
        if (!node->keys || !node->values) {
            s = fail_nomem(b);
        } else {
            for (size_t i = 0; i < node->n; i++) {
                node->keys[i] = kids[2 * i];
                node->values[i] = kids[2 * i + 1];
            }
            s = check_keys(b, node);
        }
    }
    b->kid_n = f->child_base;
    char *name = f->anchor;
    f->anchor = NULL;
    if (s != CHARTER_OK) {
        free(name);
        return s;
    }
    if (name) {
        s = anchor_define(b, name, node, b->nodes - f->start_count, f->height);
        if (s != CHARTER_OK)
            return s;
    }
    return add_child(b, node, f->height);
}

static charter_status parse_error(builder *b, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return fail_nomem(b);
    unsigned line = (unsigned)p->problem_mark.line + 1;
    unsigned col = (unsigned)p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR) {
        line = 0;
        col = 0;
    }
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->context)
        return fail_at(b, CHARTER_E_YAML, line, col,
                       "malformed YAML: %s %s (line %u column %u)", p->context,
                       problem, (unsigned)p->context_mark.line + 1,
                       (unsigned)p->context_mark.column + 1);
    if (p->error == YAML_READER_ERROR)
        return fail_at(b, CHARTER_E_YAML, line, col,
                       "malformed YAML: %s at byte %zu", problem, p->problem_offset);
    return fail_at(b, CHARTER_E_YAML, line, col, "malformed YAML: %s", problem);
}

static charter_status run_parser(builder *b, yaml_parser_t *p)
{
    bool done = false;
    unsigned documents = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return parse_error(b, p);
        charter_status s = CHARTER_OK;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                s = fail_at(b, CHARTER_E_YAML, (unsigned)ev.start_mark.line + 1,
                            (unsigned)ev.start_mark.column + 1,
                            "a second YAML document; expected one document per file");
            break;
        case YAML_SCALAR_EVENT:
            s = on_scalar(b, &ev);
            break;
        case YAML_ALIAS_EVENT:
            s = on_alias(b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            s = on_start(b, &ev, CH_YAML_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            s = on_start(b, &ev, CH_YAML_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            s = on_end(b);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (s != CHARTER_OK)
            return s;
    }
    return CHARTER_OK;
}

static void builder_release(builder *b)
{
    for (size_t i = 0; i < b->depth; i++)
        free(b->frames[i].anchor);
    for (size_t i = 0; i < b->anchor_cap; i++)
        free((char *)b->anchors[i].name);
    free(b->anchors);
    free(b->kids);
    free(b->line_starts);
}

charter_status ch_yaml_parse(arena *a, const char *file, const char *text,
                             size_t n, ch_yaml_node **root, charter_error *err)
{
    *root = NULL;
    builder b = {.a = a, .file = file ? file : "", .text = text, .n = n, .err = err};
    if (n > CHARTER_MAX_FILE_BYTES)
        return fail_at(&b, CHARTER_E_LIMIT, 0, 0,
                       "the YAML text is %zu bytes; the limit is %u bytes", n,
                       CHARTER_MAX_FILE_BYTES);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return fail_nomem(&b);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    charter_status s = run_parser(&b, &p);
    yaml_parser_delete(&p);
    builder_release(&b);
    if (s != CHARTER_OK)
        return s;
    ch_yaml_node *r = b.root;
    if (!r || (r->kind == CH_YAML_SCALAR && ch_yaml_is_null(r))) {
        /* An empty document is an empty mapping. */
        yaml_mark_t start = {0};
        r = node_new(&b, CH_YAML_MAP, &start);
        if (!r)
            return fail_nomem(&b);
    }
    *root = r;
    return CHARTER_OK;
}

charter_status ch_yaml_parse_file(arena *a, const char *path,
                                  ch_yaml_node **root, charter_error *err)
{
    *root = NULL;
    builder b = {.file = path, .err = err};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_at(&b, CHARTER_E_IO, 0, 0, "cannot open '%s': %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail_at(&b, CHARTER_E_IO, 0, 0,
                       "cannot read '%s': expected a regular file", path);
    }
    if ((uintmax_t)st.st_size > CHARTER_MAX_FILE_BYTES) {
        close(fd);
        return fail_at(&b, CHARTER_E_LIMIT, 0, 0,
                       "'%s' is %jd bytes; the limit is %u bytes", path,
                       (intmax_t)st.st_size, CHARTER_MAX_FILE_BYTES);
    }
    /* Read at most limit + 1 bytes, in case the file grew since fstat. */
    size_t cap = (size_t)st.st_size + 1;
    char *buf = arena_alloc(a, cap + 1);
    if (!buf) {
        close(fd);
        return fail_nomem(&b);
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return fail_at(&b, CHARTER_E_IO, 0, 0, "cannot read '%s': %s", path,
                           strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got > (size_t)st.st_size)
        return fail_at(&b, CHARTER_E_IO, 0, 0,
                       "'%s' changed while it was being read", path);
    buf[got] = '\0';
    return ch_yaml_parse(a, path, buf, got, root, err);
}

/* ---- Reading nodes ------------------------------------------------------ */

const ch_yaml_node *ch_yaml_get(const ch_yaml_node *map, const char *key)
{
    if (!map || map->kind != CH_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i]->str, key) == 0)
            return map->values[i];
    }
    return NULL;
}

static bool is_plain_scalar(const ch_yaml_node *n)
{
    return n && n->kind == CH_YAML_SCALAR && n->is_plain;
}

static bool str_in(const char *s, const char *const *set)
{
    for (; *set; set++) {
        if (strcmp(s, *set) == 0)
            return true;
    }
    return false;
}

bool ch_yaml_is_null(const ch_yaml_node *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    return is_plain_scalar(n) && str_in(n->str, nulls);
}

bool ch_yaml_as_bool(const ch_yaml_node *n, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", NULL};
    static const char *const no[] = {"false", "False", "FALSE", NULL};
    if (!is_plain_scalar(n))
        return false;
    if (str_in(n->str, yes)) {
        *out = true;
        return true;
    }
    if (str_in(n->str, no)) {
        *out = false;
        return true;
    }
    return false;
}

static bool all_digits(const char *s, int base)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        int c = (unsigned char)*s;
        bool ok = base == 16 ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                                (c >= 'A' && c <= 'F'))
                             : (c >= '0' && c < '0' + base);
        if (!ok)
            return false;
    }
    return true;
}

bool ch_yaml_as_int(const ch_yaml_node *n, long long *out)
{
    if (!is_plain_scalar(n))
        return false;
    const char *s = n->str;
    int base = 10;
    const char *digits = s;
    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        base = s[1] == 'o' ? 8 : 16;
        digits = s + 2;
    } else if (s[0] == '-' || s[0] == '+') {
        digits = s + 1;
    }
    if (!all_digits(digits, base))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(base == 10 ? s : digits, &end, base);
    if (errno == ERANGE || *end)
        return false;
    *out = v;
    return true;
}

/* [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_decimal(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    size_t lead = 0, frac = 0;
    while (*s >= '0' && *s <= '9') {
        s++;
        lead++;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            s++;
            frac++;
        }
    }
    if (lead == 0 && frac == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

bool ch_yaml_as_double(const ch_yaml_node *n, double *out)
{
    static const char *const inf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf",
                                      "+.INF", NULL};
    static const char *const ninf[] = {"-.inf", "-.Inf", "-.INF", NULL};
    static const char *const nan_[] = {".nan", ".NaN", ".NAN", NULL};
    if (!is_plain_scalar(n))
        return false;
    long long i;
    if (ch_yaml_as_int(n, &i)) {
        *out = (double)i;
        return true;
    }
    if (str_in(n->str, inf)) {
        *out = INFINITY;
        return true;
    }
    if (str_in(n->str, ninf)) {
        *out = -INFINITY;
        return true;
    }
    if (str_in(n->str, nan_)) {
        *out = NAN;
        return true;
    }
    if (!is_decimal(n->str))
        return false;
    errno = 0;
    char *end;
    double d = strtod(n->str, &end);
    if (*end || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *scalar_to_json(const ch_yaml_node *n)
{
    if (n->is_plain) {
        bool b;
        long long i;
        double d;
        if (ch_yaml_is_null(n))
            return json_null();
        if (ch_yaml_as_bool(n, &b))
            return json_boolean(b);
        if (ch_yaml_as_int(n, &i))
            return json_integer(i);
        if (ch_yaml_as_double(n, &d) && isfinite(d))
            return json_real(d);
    }
    return json_stringn(n->str, n->len);
}

/* Depth is bounded by CHARTER_MAX_YAML_DEPTH (aliases included), so this
 * recursion is too. */
json_t *ch_yaml_to_json(const ch_yaml_node *n)
{
    if (n->kind == CH_YAML_SCALAR)
        return scalar_to_json(n);
    json_t *out = n->kind == CH_YAML_SEQ ? json_array() : json_object();
    if (!out)
        return NULL;
    for (size_t i = 0; i < n->n; i++) {
        json_t *v = ch_yaml_to_json(n->kind == CH_YAML_SEQ ? n->items[i] : n->values[i]);
        int rc = !v ? -1
                 : n->kind == CH_YAML_SEQ ? json_array_append_new(out, v)
                                         : json_object_set_new(out, n->keys[i]->str, v);
        if (rc != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
