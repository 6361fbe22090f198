/* cel_lex.c - CEL tokens from source text.
 *
 * The parser pulls one token at a time. Literals are decoded here (numbers
 * to their values, strings and bytes with every CEL escape to their bytes in
 * the parse arena), so the parser only builds the tree. Each token carries
 * its line and column, which end up in the nodes and in every message.
 */
#include "base/banned.h"

#include "base/utf8.h"
#include "cel/cel_int.h"
#include "base/civil.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const tok_names[] = {
#define CEL_TOK_NAME_(k, s) s,
    CEL_TOKEN_LIST(CEL_TOK_NAME_)
#undef CEL_TOK_NAME_
};

const char *cel_tok_name(cel_tok_kind k)
{
    return (unsigned)k < CEL_TOK_COUNT_ ? tok_names[k] : "token";
}

void cel_lex_init(cel_lexer *lx, arena *a, const char *src, size_t n)
{
    lx->src = src;
    lx->cur = src;
    lx->end = src + n;
    lx->line = 1;
    lx->line_start = src;
    lx->a = a;
}

static uint32_t col_of(const cel_lexer *lx, const char *p)
{
    return (uint32_t)(p - lx->line_start) + 1;
}

static cel_token tok_error(cel_lexer *lx, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cel_token tok_error(cel_lexer *lx, const char *at, const char *fmt, ...)
{
    cel_token t = {.kind = CEL_TOK_ERROR, .p = at, .n = 1};
    t.line = lx->line;
    t.col = col_of(lx, at);
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t.v.error = arena_strdup(lx->a, buf);
    if (!t.v.error)
        t.v.error = "out of memory";
    return t;
}

static void skip_space(cel_lexer *lx)
{
    while (lx->cur < lx->end) {
        char c = *lx->cur;
        if (c == '\n') {
            lx->cur++;
            lx->line++;
            lx->line_start = lx->cur;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->cur++;
        } else if (c == '/' && lx->cur + 1 < lx->end && lx->cur[1] == '/') {
            while (lx->cur < lx->end && *lx->cur != '\n')
                lx->cur++;
        } else {
            break;
        }
    }
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static const char *const reserved[] = {
    "as", "break", "const", "continue", "else", "for", "function", "if",
    "import", "let", "loop", "package", "namespace", "return", "var",
    "void", "while", NULL};

static cel_token lex_ident(cel_lexer *lx, cel_token t)
{
    const char *p = lx->cur;
    while (p < lx->end && (is_ident_start(*p) || is_digit(*p)))
        p++;
    t.n = (size_t)(p - lx->cur);
    lx->cur = p;
    t.kind = CEL_TOK_IDENT;
    static const struct { const char *w; cel_tok_kind k; } kw[] = {
        {"true", CEL_TOK_TRUE}, {"false", CEL_TOK_FALSE},
        {"null", CEL_TOK_NULL}, {"in", CEL_TOK_IN}};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i].w) == t.n && !memcmp(kw[i].w, t.p, t.n))
            t.kind = kw[i].k;
    for (size_t i = 0; reserved[i]; i++)
        if (strlen(reserved[i]) == t.n && !memcmp(reserved[i], t.p, t.n))
            return tok_error(lx, t.p, "reserved word '%s' cannot be used as "
                             "an identifier", reserved[i]);
    return t;
}

static cel_token lex_number(cel_lexer *lx, cel_token t)
{
    const char *p = lx->cur;
    if (p + 1 < lx->end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        uint64_t v = 0;
        const char *digits = p;
        while (p < lx->end && base_hex_digit(*p) >= 0) {
            if (v > (UINT64_MAX >> 4))
                return tok_error(lx, t.p, "integer literal out of range");
            v = (v << 4) | (uint64_t)base_hex_digit(*p);
            p++;
        }
        if (p == digits)
            return tok_error(lx, t.p, "expected hex digits after '0x'");
        t.kind = CEL_TOK_INT;
        if (p < lx->end && (*p == 'u' || *p == 'U')) {
            t.kind = CEL_TOK_UINT;
            p++;
        }
        t.v.u = v;
        t.n = (size_t)(p - t.p);
        lx->cur = p;
        return t;
    }
    while (p < lx->end && is_digit(*p))
        p++;
    bool is_double = false;
    if (p + 1 < lx->end && *p == '.' && is_digit(p[1])) {
        is_double = true;
        p++;
        while (p < lx->end && is_digit(*p))
            p++;
    }
    if (p < lx->end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        if (q < lx->end && (*q == '+' || *q == '-'))
            q++;
        if (q < lx->end && is_digit(*q)) {
            is_double = true;
            p = q;
            while (p < lx->end && is_digit(*p))
                p++;
        }
    }
    char buf[400];
    size_t len = (size_t)(p - t.p);
    if (len >= sizeof buf)
        return tok_error(lx, t.p, "number literal too long (%zu characters)", len);
    memcpy(buf, t.p, len);
    buf[len] = '\0';
    if (is_double) {
        errno = 0;
        t.v.d = strtod(buf, NULL);
        t.kind = CEL_TOK_DOUBLE;
    } else {
        errno = 0;
        unsigned long long v = strtoull(buf, NULL, 10);
        if (errno == ERANGE)
            return tok_error(lx, t.p, "integer literal %s out of range", buf);
        t.v.u = v;
        t.kind = CEL_TOK_INT;
        if (p < lx->end && (*p == 'u' || *p == 'U')) {
            t.kind = CEL_TOK_UINT;
            p++;
        }
    }
    t.n = (size_t)(p - t.p);
    lx->cur = p;
    return t;
}

/* Decodes one escape starting after the backslash at *pp into out; returns
 * the bytes written or -1 with *why. */
static int decode_escape(const char **pp, const char *end, bool is_bytes,
                         char *out, const char **why)
{
    const char *p = *pp;
    if (p >= end) {
        *why = "unfinished escape sequence";
        return -1;
    }
    char c = *p++;
    int n = 1;
    switch (c) {
    case 'a': out[0] = '\a'; break;
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'v': out[0] = '\v'; break;
    case '\\': case '\'': case '"': case '`': case '?': out[0] = c; break;
    case 'x': case 'X': case 'u': case 'U': {
        int digits = (c == 'x' || c == 'X') ? 2 : c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int i = 0; i < digits; i++) {
            if (p >= end || base_hex_digit(*p) < 0) {
                *why = "escape sequence needs more hex digits";
                return -1;
            }
            cp = cp * 16 + (uint32_t)base_hex_digit(*p++);
        }
        if (digits == 2) {
            if (is_bytes)
                out[0] = (char)cp;
            else
                n = (int)utf8_encode(out, cp);
            break;
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            *why = "escape sequence is not a valid Unicode code point";
            return -1;
        }
        n = (int)utf8_encode(out, cp);
        break;
    }
    case '0': case '1': case '2': case '3': {
        uint32_t v = (uint32_t)(c - '0');
        for (int i = 0; i < 2; i++) {
            if (p >= end || *p < '0' || *p > '7') {
                *why = "octal escape needs three digits";
                return -1;
            }
            v = v * 8 + (uint32_t)(*p++ - '0');
        }
        if (is_bytes)
            out[0] = (char)v;
        else
            n = (int)utf8_encode(out, v);
        break;
    }
    default:
        *why = "unknown escape sequence";
        return -1;
    }
    *pp = p;
    return n;
}

static cel_token lex_string(cel_lexer *lx, cel_token t, bool is_raw,
                            bool is_bytes)
{
    const char *p = lx->cur;
    char q = *p;
    bool triple = (lx->end - p >= 3 && p[1] == q && p[2] == q);
    p += triple ? 3 : 1;
    const char *body = p;
    /* Decoded text is never longer than the source text. */
    char *out = arena_alloc(lx->a, (size_t)(lx->end - body) + 1);
    if (!out)
        return tok_error(lx, t.p, "out of memory");
    size_t n = 0;
    uint32_t line = lx->line;
    const char *line_start = lx->line_start;
    for (;;) {
        if (p >= lx->end)
            return tok_error(lx, t.p, "string literal is not terminated "
                             "(expected closing %s)", triple ? "triple quote" : "quote");
        char c = *p;
        if (c == q && (!triple || (lx->end - p >= 3 && p[1] == q && p[2] == q))) {
            p += triple ? 3 : 1;
            break;
        }
        if (c == '\n') {
            if (!triple)
                return tok_error(lx, t.p, "newline in a string literal (use "
                                 "\\n or a triple-quoted string)");
            line++;
            line_start = p + 1;
        }
        if (c == '\\' && !is_raw) {
            const char *at = p;
            p++;
            const char *why = NULL;
            int k = decode_escape(&p, lx->end, is_bytes, out + n, &why);
            if (k < 0)
                return tok_error(lx, at, "%s", why);
            n += (size_t)k;
            continue;
        }
        out[n++] = c;
        p++;
    }
    out[n] = '\0';
    if (!is_bytes && !cel_utf8_valid(out, n))
        return tok_error(lx, t.p, "string literal is not valid UTF-8");
    lx->cur = p;
    lx->line = line;
    lx->line_start = line_start;
    t.kind = is_bytes ? CEL_TOK_BYTES : CEL_TOK_STRING;
    t.n = (size_t)(p - t.p);
    t.v.s.p = out;
    t.v.s.n = n;
    return t;
}

static cel_token lex_quoted_ident(cel_lexer *lx, cel_token t)
{
    const char *p = lx->cur + 1;
    const char *start = p;
    while (p < lx->end && *p != '`' && *p != '\n')
        p++;
    if (p >= lx->end || *p != '`')
        return tok_error(lx, t.p, "quoted identifier is not terminated "
                         "(expected a closing backtick)");
    if (p == start)
        return tok_error(lx, t.p, "empty quoted identifier");
    t.kind = CEL_TOK_QIDENT;
    t.v.s.p = arena_strndup(lx->a, start, (size_t)(p - start));
    if (!t.v.s.p)
        return tok_error(lx, t.p, "out of memory");
    t.v.s.n = (size_t)(p - start);
    lx->cur = p + 1;
    t.n = (size_t)(lx->cur - t.p);
    return t;
}

/* String prefixes: r, b, rb, br in any case. Returns the prefix length or 0. */
static size_t string_prefix(const char *p, const char *end, bool *raw,
                            bool *bytes)
{
    *raw = *bytes = false;
    size_t i = 0;
    while (i < 2 && p + i < end) {
        char c = p[i];
        if ((c == 'r' || c == 'R') && !*raw)
            *raw = true;
        else if ((c == 'b' || c == 'B') && !*bytes)
            *bytes = true;
        else
            break;
        i++;
    }
    if (i > 0 && p + i < end && (p[i] == '"' || p[i] == '\''))
        return i;
    *raw = *bytes = false;
    return 0;
}

cel_token cel_lex_next(cel_lexer *lx)
{
    skip_space(lx);
    cel_token t = {.kind = CEL_TOK_EOF, .p = lx->cur, .n = 0};
    t.line = lx->line;
    t.col = col_of(lx, lx->cur);
    if (lx->cur >= lx->end)
        return t;
    const char *p = lx->cur;
    char c = *p;
    bool raw, bytes;
    size_t pre = string_prefix(p, lx->end, &raw, &bytes);
    if (pre) {
        lx->cur += pre;
        return lex_string(lx, t, raw, bytes);
    }
    if (c == '"' || c == '\'')
        return lex_string(lx, t, false, false);
    if (is_ident_start(c))
        return lex_ident(lx, t);
    if (is_digit(c) || (c == '.' && p + 1 < lx->end && is_digit(p[1])))
        return lex_number(lx, t);
    if (c == '`')
        return lex_quoted_ident(lx, t);
    char d = (p + 1 < lx->end) ? p[1] : '\0';
    t.n = 1;
    switch (c) {
    case '(': t.kind = CEL_TOK_LPAREN; break;
    case ')': t.kind = CEL_TOK_RPAREN; break;
    case '[': t.kind = CEL_TOK_LBRACKET; break;
    case ']': t.kind = CEL_TOK_RBRACKET; break;
    case '{': t.kind = CEL_TOK_LBRACE; break;
    case '}': t.kind = CEL_TOK_RBRACE; break;
    case '.': t.kind = CEL_TOK_DOT; break;
    case ',': t.kind = CEL_TOK_COMMA; break;
    case ':': t.kind = CEL_TOK_COLON; break;
    case '?': t.kind = CEL_TOK_QUESTION; break;
    case '+': t.kind = CEL_TOK_PLUS; break;
    case '-': t.kind = CEL_TOK_MINUS; break;
    case '*': t.kind = CEL_TOK_STAR; break;
    case '/': t.kind = CEL_TOK_SLASH; break;
    case '%': t.kind = CEL_TOK_PERCENT; break;
    case '!':
        t.kind = d == '=' ? CEL_TOK_NE : CEL_TOK_NOT;
        break;
    case '<':
        t.kind = d == '=' ? CEL_TOK_LE : CEL_TOK_LT;
        break;
    case '>':
        t.kind = d == '=' ? CEL_TOK_GE : CEL_TOK_GT;
        break;
    case '=':
        if (d != '=')
            return tok_error(lx, p, "found '=', expected '==' (CEL has no "
                             "assignment)");
        t.kind = CEL_TOK_EQ;
        break;
    case '&':
        if (d != '&')
            return tok_error(lx, p, "found '&', expected '&&'");
        t.kind = CEL_TOK_AND;
        break;
    case '|':
        if (d != '|')
            return tok_error(lx, p, "found '|', expected '||'");
        t.kind = CEL_TOK_OR;
        break;
    default:
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            return tok_error(lx, p, "unexpected character '%c'", c);
        return tok_error(lx, p, "unexpected character (byte 0x%02x)",
                         (unsigned)(unsigned char)c);
    }
    if (t.kind == CEL_TOK_NE || t.kind == CEL_TOK_LE || t.kind == CEL_TOK_GE ||
        t.kind == CEL_TOK_EQ || t.kind == CEL_TOK_AND || t.kind == CEL_TOK_OR)
        t.n = 2;
    lx->cur += t.n;
    return t;
}
