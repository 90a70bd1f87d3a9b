#include "json.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt.h"
#include "xalloc.h"

typedef unsigned char uchar;

/* ---- UTF-8 ---------------------------------------------------------------------------- */

/* Length (1-4) of the well-formed UTF-8 sequence at p, or 0 if it is not one: a stray
 * continuation byte, an overlong form, a surrogate, a code point above U+10FFFF, or a
 * sequence cut short by the end of the input. */
static size_t utf8_len(const uchar *p, size_t avail)
{
    uchar c = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Code point of a well-formed sequence of n bytes. */
static uint32_t utf8_decode(const uchar *p, size_t n)
{
    static const uchar lead_mask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t cp = p[0] & lead_mask[n];
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3F);
    return cp;
}

static size_t utf8_encode(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- document arena ------------------------------------------------------------------- */

/* Values are bump-allocated from chunks that double in size up to ARENA_MAX_CHUNK, so a
 * document costs a handful of mallocs and json_free is one walk down the chunk list. */
#define ARENA_FIRST_CHUNK 4096
#define ARENA_MAX_CHUNK (8u << 20)

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

typedef struct json_doc {
    chunk *chunks;
    json_value root;
} json_doc;

static void *arena_alloc(json_doc *doc, size_t n, size_t align)
{
    chunk *c = doc->chunks;
    size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (!c || at > c->cap || c->cap - at < n) {
        size_t cap = c ? c->cap * 2 : ARENA_FIRST_CHUNK;
        if (cap > ARENA_MAX_CHUNK)
            cap = ARENA_MAX_CHUNK;
        if (cap < n)
            cap = n;
        c = xmalloc(sizeof *c + cap);
        c->used = 0;
        c->cap = cap;
        c->next = doc->chunks;
        doc->chunks = c;
        at = 0;
    }
    c->used = at + n;
    return (char *)c->data + at;
}

static void *arena_copy(json_doc *doc, const void *p, size_t n)
{
    void *q = arena_alloc(doc, n, _Alignof(max_align_t));
    memcpy(q, p, n);
    return q;
}

static void doc_free(json_doc *doc)
{
    chunk *c = doc->chunks;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

void json_free(json_value *root)
{
    if (root)
        doc_free((json_doc *)((char *)root - offsetof(json_doc, root)));
}

/* ---- parser state and errors ---------------------------------------------------------- */

typedef struct parser {
    const uchar *p, *end;
    unsigned line;
    const uchar *line_start;
    /* Column cache: col is the column of col_pos. Positions are asked for in increasing
     * order, so counting on from the last one keeps a minified one-line file linear. */
    const uchar *col_pos;
    unsigned col;
    unsigned flags;
    unsigned depth;
    json_doc *doc;
    /* Items and members of the containers being parsed, innermost last; a container
     * moves its own into the arena when it closes. */
    sbuf stack;
    json_error *err;
} parser;

static unsigned column(parser *ps, const uchar *pos)
{
    if (pos < ps->col_pos) {
        ps->col_pos = ps->line_start;
        ps->col = 1;
    }
    unsigned col = ps->col;
    for (const uchar *q = ps->col_pos; q < pos; q++)
        col += (*q & 0xC0) != 0x80;
    ps->col_pos = pos;
    ps->col = col;
    return col;
}

__attribute__((format(printf, 4, 5)))
static bool fail_pos(parser *ps, unsigned line, unsigned col, const char *fmt, ...)
{
    if (ps->err) {
        ps->err->line = line;
        ps->err->col = col;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
        va_end(ap);
    }
    return false;
}

#define fail_at(ps, pos, ...) fail_pos((ps), (ps)->line, column((ps), (pos)), __VA_ARGS__)

/* Names the character at pos for a message: 'x', '“' (U+201C), U+0007. Returns false
 * when pos does not start a valid UTF-8 sequence. */
static bool describe(const uchar *pos, const uchar *end, char *out, size_t outlen)
{
    size_t n = utf8_len(pos, (size_t)(end - pos));
    if (!n)
        return false;
    if (*pos == '\'')
        snprintf(out, outlen, "\"'\"");
    else if (*pos > 0x20 && *pos < 0x7F)
        snprintf(out, outlen, "'%c'", *pos);
    else if (*pos < 0x80)
        snprintf(out, outlen, "U+%04X", *pos);
    else
        snprintf(out, outlen, "'%.*s' (U+%04" PRIX32 ")", (int)n, (const char *)pos,
                 utf8_decode(pos, n));
    return true;
}

static bool fail_eof(parser *ps)
{
    return fail_at(ps, ps->end, "unexpected end of input");
}

/* The error for a character that does not fit where it is: expected says what would. */
static bool fail_unexpected(parser *ps, const uchar *pos, const char *expected)
{
    if (pos >= ps->end)
        return fail_eof(ps);
    if (*pos == '/' && pos + 1 < ps->end && (pos[1] == '/' || pos[1] == '*'))
        return fail_at(ps, pos, "comments are not allowed in JSON");
    char what[48];
    if (!describe(pos, ps->end, what, sizeof what))
        return fail_at(ps, pos, "invalid UTF-8");
    return fail_at(ps, pos, "%s, found %s", expected, what);
}

static void skip_ws(parser *ps)
{
    const uchar *q = ps->p;
    while (q < ps->end) {
        if (*q == ' ' || *q == '\t' || *q == '\r') {
            q++;
        } else if (*q == '\n') {
            q++;
            ps->line++;
            ps->line_start = ps->col_pos = q;
            ps->col = 1;
        } else {
            break;
        }
    }
    ps->p = q;
}

/* True if the next byte is c (consumed). */
static bool eat(parser *ps, uchar c)
{
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

static bool starts_with(const uchar *p, const uchar *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

/* ---- strings -------------------------------------------------------------------------- */

static int hex_digit(uchar c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads the four hex digits of the \u escape whose backslash is at bs. */
static bool read_hex4(parser *ps, const uchar *bs, const uchar *open, uint32_t *u)
{
    *u = 0;
    for (int i = 2; i < 6; i++) {
        if (bs + i >= ps->end)
            return fail_at(ps, open, "unterminated string");
        int h = hex_digit(bs[i]);
        if (h < 0)
            return fail_at(ps, bs, "invalid \\u escape: expected 4 hex digits");
        *u = *u << 4 | (uint32_t)h;
    }
    return true;
}

static bool is_high_surrogate(uint32_t u)
{
    return u >= 0xD800 && u <= 0xDBFF;
}

static bool is_low_surrogate(uint32_t u)
{
    return u >= 0xDC00 && u <= 0xDFFF;
}

/* Checks the escape whose backslash is at *q and moves *q past it. A high surrogate must
 * be followed by a \u low surrogate, and a low one must follow a high one. */
static bool scan_escape(parser *ps, const uchar **q, const uchar *open)
{
    const uchar *bs = *q;
    uint32_t u, lo;
    if (bs + 1 >= ps->end)
        return fail_at(ps, open, "unterminated string");
    switch (bs[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        *q = bs + 2;
        return true;
    case 'u':
        if (!read_hex4(ps, bs, open, &u))
            return false;
        if (is_high_surrogate(u) && bs + 7 < ps->end && bs[6] == '\\' && bs[7] == 'u') {
            if (!read_hex4(ps, bs + 6, open, &lo))
                return false;
            if (is_low_surrogate(lo)) {
                *q = bs + 12;
                return true;
            }
        }
        if (is_high_surrogate(u) || is_low_surrogate(u))
            return fail_at(ps, bs, "invalid \\u escape: lone surrogate \\u%04" PRIX32, u);
        *q = bs + 6;
        return true;
    default:
        if (bs[1] > 0x20 && bs[1] < 0x7F)
            return fail_at(ps, bs, "invalid escape \\%c", bs[1]);
        return fail_at(ps, bs, "invalid escape sequence");
    }
}

/* Validates the string whose opening quote is at open: sets *close to its closing quote
 * and *escaped when it holds escapes that need decoding. */
static bool scan_string(parser *ps, const uchar *open, const uchar **close, bool *escaped)
{
    const uchar *q = open + 1, *end = ps->end;
    *escaped = false;
    for (;;) {
        while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
            q++;
        if (q >= end)
            return fail_at(ps, open, "unterminated string");
        if (*q == '"') {
            *close = q;
            return true;
        }
        if (*q == '\\') {
            *escaped = true;
            if (!scan_escape(ps, &q, open))
                return false;
        } else if (*q < 0x20) {
            return fail_at(ps, q, "unescaped control character U+%04X in string", *q);
        } else {
            size_t n = utf8_len(q, (size_t)(end - q));
            if (!n)
                return fail_at(ps, q, "invalid UTF-8");
            q += n;
        }
    }
}

static uint32_t hex4(const uchar *p)
{
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u = u << 4 | (uint32_t)hex_digit(p[i]);
    return u;
}

/* Copies a string that scan_string accepted into the arena, decoding escapes. The result
 * is never longer than the source, whose length bounds the allocation. */
static const char *decode_string(parser *ps, const uchar *open, const uchar *close,
                                 bool escaped, size_t *len)
{
    size_t raw = (size_t)(close - open - 1);
    char *out = arena_alloc(ps->doc, raw + 1, 1), *o = out;
    if (!escaped) {
        memcpy(out, open + 1, raw);
        out[raw] = '\0';
        *len = raw;
        return out;
    }
    for (const uchar *q = open + 1; q < close;) {
        if (*q != '\\') {
            *o++ = (char)*q++;
            continue;
        }
        uint32_t cp;
        switch (q[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            cp = hex4(q + 2);
            if (is_high_surrogate(cp)) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(q + 8) - 0xDC00);
                q += 6;
            }
            o += utf8_encode(o, cp);
            q += 4;
            break;
        default: *o++ = (char)q[1]; break;
        }
        q += 2;
    }
    *o = '\0';
    *len = (size_t)(o - out);
    return out;
}

/* Parses the string at ps->p (its opening quote) into the arena. */
static bool parse_string(parser *ps, const char **s, size_t *len)
{
    const uchar *open = ps->p, *close = NULL;
    bool escaped;
    if (!scan_string(ps, open, &close, &escaped))
        return false;
    *s = decode_string(ps, open, close, escaped, len);
    ps->p = close + 1;
    return true;
}

/* ---- numbers and literals ------------------------------------------------------------- */

static bool is_digit(const uchar *p, const uchar *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

static const uchar *skip_digits(const uchar *p, const uchar *end)
{
    while (is_digit(p, end))
        p++;
    return p;
}

/* Parses an integer literal ("-123") into *out if it fits int64_t. */
static bool parse_int64(const char *text, int64_t *out)
{
    bool neg = *text == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (const char *p = text + neg; *p; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (limit - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool parse_number(parser *ps, json_value *v)
{
    const uchar *start = ps->p, *q = start, *end = ps->end;
    bool integral = true;
    if (*q == '-')
        q++;
    if (is_digit(q, end) && *q == '0') {
        if (is_digit(++q, end))
            return fail_at(ps, q - 1, "leading zeros are not allowed");
    } else if (is_digit(q, end)) {
        q = skip_digits(q, end);
    } else if (starts_with(q, end, "Infinity")) {
        return fail_at(ps, start, "NaN and Infinity are not allowed in JSON");
    } else {
        return fail_unexpected(ps, q, "expected a digit after '-'");
    }
    if (q < end && *q == '.') {
        integral = false;
        if (!is_digit(++q, end))
            return fail_unexpected(ps, q, "expected a digit after '.'");
        q = skip_digits(q, end);
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        integral = false;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (!is_digit(q, end))
            return fail_unexpected(ps, q, "expected a digit in the exponent");
        q = skip_digits(q, end);
    }
    size_t n = (size_t)(q - start);
    char *text = arena_alloc(ps->doc, n + 1, 1);
    memcpy(text, start, n);
    text[n] = '\0';
    v->type = JSON_NUMBER;
    v->num.d = strtod(text, NULL);
    if (isinf(v->num.d))
        return fail_at(ps, start, "number out of range");
    v->num.text = text;
    v->num.i = 0;
    v->num.is_int = integral && parse_int64(text, &v->num.i);
    ps->p = q;
    return true;
}

static bool parse_literal(parser *ps, json_value *v, const char *word, json_type type)
{
    size_t n = strlen(word), avail = (size_t)(ps->end - ps->p);
    if (avail < n && memcmp(ps->p, word, avail) == 0)
        return fail_eof(ps);
    if (avail < n || memcmp(ps->p, word, n) != 0)
        return fail_at(ps, ps->p, "invalid literal, expected true, false or null");
    v->type = type;
    ps->p += n;
    return true;
}

/* ---- containers ----------------------------------------------------------------------- */

static bool parse_value(parser *ps, json_value *v);

static bool enter(parser *ps)
{
    if (ps->depth == JSON_MAX_DEPTH)
        return fail_at(ps, ps->p, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    ps->depth++;
    ps->p++;
    return true;
}

/* Moves the n elements of the closing container (from offset base of the stack) into the
 * arena. */
static void *pop_elements(parser *ps, size_t base, size_t n, size_t size)
{
    void *items = n ? arena_copy(ps->doc, ps->stack.s + base, n * size) : NULL;
    ps->stack.len = base;
    ps->depth--;
    return items;
}

static bool parse_array(parser *ps, json_value *v)
{
    if (!enter(ps))
        return false;
    size_t base = ps->stack.len, n = 0;
    skip_ws(ps);
    if (!eat(ps, ']')) {
        for (;;) {
            json_value item;
            if (!parse_value(ps, &item))
                return false;
            sbuf_add(&ps->stack, &item, sizeof item);
            n++;
            skip_ws(ps);
            if (eat(ps, ']'))
                break;
            if (!eat(ps, ','))
                return fail_unexpected(ps, ps->p, "expected ',' or ']' after array element");
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ']')
                return fail_at(ps, ps->p, "trailing comma before ']'");
        }
    }
    v->type = JSON_ARRAY;
    v->arr.count = n;
    v->arr.items = pop_elements(ps, base, n, sizeof(json_value));
    return true;
}

/* Duplicate-key detection. Small objects compare keys linearly; from KEYSET_MIN members
 * on, an open-addressing table of member indexes keeps big objects linear too. */
#define KEYSET_MIN 16

typedef struct keyset {
    uint32_t *slots;      /* member index + 1; 0 = empty */
    size_t cap;           /* power of two */
} keyset;

static uint64_t hash_key(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uchar)s[i]) * 1099511628211u;
    return h;
}

static bool same_key(const json_member *m, const char *key, size_t len)
{
    return m->key_len == len && memcmp(m->key, key, len) == 0;
}

/* Finds key among ms[0..n-1] through the table, or inserts index n for it. */
static bool keyset_check(keyset *ks, const json_member *ms, size_t n, const char *key,
                         size_t len)
{
    size_t mask = ks->cap - 1, i = hash_key(key, len) & mask;
    for (; ks->slots[i]; i = (i + 1) & mask)
        if (same_key(&ms[ks->slots[i] - 1], key, len))
            return true;
    ks->slots[i] = (uint32_t)n + 1;
    return false;
}

static void keyset_grow(keyset *ks, const json_member *ms, size_t n)
{
    free(ks->slots);
    ks->cap = ks->cap ? ks->cap * 2 : 4 * KEYSET_MIN;
    ks->slots = xcalloc(ks->cap, sizeof *ks->slots);
    for (size_t i = 0; i < n; i++)
        keyset_check(ks, ms, i, ms[i].key, ms[i].key_len);
}

/* True if the object whose members so far are ms[0..n-1] already has key; otherwise
 * the key is remembered as member n. */
static bool has_key(keyset *ks, const json_member *ms, size_t n, const char *key,
                    size_t len)
{
    if (n < KEYSET_MIN) {
        for (size_t i = 0; i < n; i++)
            if (same_key(&ms[i], key, len))
                return true;
        return false;
    }
    if ((n + 1) * 2 > ks->cap)
        keyset_grow(ks, ms, n);
    return keyset_check(ks, ms, n, key, len);
}

static bool fail_duplicate(parser *ps, const json_member *m)
{
    /* Long keys are cut to keep the message one readable line. */
    enum { SHOWN = 40 };
    sbuf shown = SBUF_INIT;
    json_write_string(&shown, m->key, m->key_len < SHOWN ? m->key_len : SHOWN);
    bool ok = fail_pos(ps, m->line, m->col, "duplicate key %s%s", sbuf_str(&shown),
                       m->key_len > SHOWN ? " (cut)" : "");
    sbuf_free(&shown);
    return ok;
}

static bool parse_member(parser *ps, json_member *m, size_t base, size_t n, keyset *ks)
{
    m->line = ps->line;
    m->col = column(ps, ps->p);
    if (!parse_string(ps, &m->key, &m->key_len))
        return false;
    const json_member *siblings = n ? (const json_member *)(ps->stack.s + base) : NULL;
    if (!(ps->flags & JSON_ALLOW_DUPLICATE_KEYS) &&
        has_key(ks, siblings, n, m->key, m->key_len))
        return fail_duplicate(ps, m);
    skip_ws(ps);
    if (!eat(ps, ':'))
        return fail_unexpected(ps, ps->p, "expected ':' after object key");
    return parse_value(ps, &m->value);
}

static bool parse_members(parser *ps, json_value *v, keyset *ks)
{
    size_t base = ps->stack.len, n = 0;
    skip_ws(ps);
    if (!eat(ps, '}')) {
        for (;;) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail_unexpected(ps, ps->p, n ? "expected a string key after ','"
                                                    : "expected a string key or '}'");
            json_member m;
            if (!parse_member(ps, &m, base, n, ks))
                return false;
            sbuf_add(&ps->stack, &m, sizeof m);
            n++;
            skip_ws(ps);
            if (eat(ps, '}'))
                break;
            if (!eat(ps, ','))
                return fail_unexpected(ps, ps->p, "expected ',' or '}' after object member");
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == '}')
                return fail_at(ps, ps->p, "trailing comma before '}'");
        }
    }
    v->type = JSON_OBJECT;
    v->obj.count = n;
    v->obj.members = pop_elements(ps, base, n, sizeof(json_member));
    return true;
}

static bool parse_object(parser *ps, json_value *v)
{
    if (!enter(ps))
        return false;
    keyset ks = {NULL, 0};
    bool ok = parse_members(ps, v, &ks);
    free(ks.slots);
    return ok;
}

/* Recursion is bounded by JSON_MAX_DEPTH, so the C stack stays small. */
static bool parse_value(parser *ps, json_value *v)
{
    skip_ws(ps);
    const uchar *q = ps->p;
    if (q >= ps->end)
        return fail_eof(ps);
    memset(v, 0, sizeof *v);
    v->line = ps->line;
    v->col = column(ps, q);
    switch (*q) {
    case '{':
        return parse_object(ps, v);
    case '[':
        return parse_array(ps, v);
    case '"':
        v->type = JSON_STRING;
        return parse_string(ps, &v->str.s, &v->str.len);
    case 't':
        return parse_literal(ps, v, "true", JSON_TRUE);
    case 'f':
        return parse_literal(ps, v, "false", JSON_FALSE);
    case 'n':
        return parse_literal(ps, v, "null", JSON_NULL);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(ps, v);
    default:
        if (starts_with(q, ps->end, "NaN") || starts_with(q, ps->end, "Infinity"))
            return fail_at(ps, q, "NaN and Infinity are not allowed in JSON");
        if ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z')
            return fail_at(ps, q, "invalid literal, expected true, false or null");
        return fail_unexpected(ps, q, "expected a value");
    }
}

json_value *json_parse(const char *text, size_t len, unsigned flags, json_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!text) {
        text = "";
        len = 0;
    }
    parser ps = {
        .p = (const uchar *)text,
        .end = (const uchar *)text + len,
        .line = 1,
        .col = 1,
        .flags = flags,
        .doc = xcalloc(1, sizeof(json_doc)),
        .stack = SBUF_INIT,
        .err = err,
    };
    if (starts_with(ps.p, ps.end, "\xEF\xBB\xBF"))
        ps.p += 3;
    ps.line_start = ps.col_pos = ps.p;

    bool ok = parse_value(&ps, &ps.doc->root);
    if (ok) {
        skip_ws(&ps);
        if (ps.p < ps.end)
            ok = fail_at(&ps, ps.p, "trailing characters after the JSON value");
    }
    sbuf_free(&ps.stack);
    if (!ok) {
        doc_free(ps.doc);
        return NULL;
    }
    return &ps.doc->root;
}

json_value *json_parse_file(const char *path, unsigned flags, json_error *err)
{
    FILE *f = fopen(path, "rb");
    sbuf text = SBUF_INIT;
    int error = f ? 0 : errno;
    char chunk_buf[65536];
    while (f) {
        size_t n = fread(chunk_buf, 1, sizeof chunk_buf, f);
        sbuf_add(&text, chunk_buf, n);
        if (n < sizeof chunk_buf) {
            if (ferror(f))
                error = errno ? errno : EIO;
            break;
        }
    }
    if (f)
        fclose(f);
    json_value *root = NULL;
    if (error) {
        if (err) {
            err->line = err->col = 0;
            snprintf(err->msg, sizeof err->msg, "cannot read: %s", strerror(error));
        }
    } else {
        root = json_parse(text.s, text.len, flags, err);
    }
    sbuf_free(&text);
    return root;
}

/* ---- access --------------------------------------------------------------------------- */

const json_value *json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    size_t len = strlen(key);
    for (size_t i = obj->obj.count; i-- > 0;)
        if (same_key(&obj->obj.members[i], key, len))
            return &obj->obj.members[i].value;
    return NULL;
}

const json_member *json_member_at(const json_value *obj, size_t i)
{
    if (!obj || obj->type != JSON_OBJECT || i >= obj->obj.count)
        return NULL;
    return &obj->obj.members[i];
}

const char *json_type_name(json_type type)
{
    switch (type) {
    case JSON_NULL: return "null";
    case JSON_FALSE: case JSON_TRUE: return "boolean";
    case JSON_NUMBER: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "unknown";
}

/* ---- writing -------------------------------------------------------------------------- */

static void put_u16(sbuf *b, unsigned u)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = {'\\', 'u', hex[(u >> 12) & 15], hex[(u >> 8) & 15], hex[(u >> 4) & 15],
                   hex[u & 15]};
    sbuf_add(b, esc, sizeof esc);
}

void json_write_string_flags(sbuf *b, const char *s, size_t len, unsigned flags)
{
    bool html = flags & JSON_W_HTML, ascii = flags & JSON_W_ASCII;
    sbuf_reserve(b, len + 2);
    sbuf_putc(b, '"');
    const uchar *p = (const uchar *)s, *end = len ? p + len : p;
    while (p < end) {
        const uchar *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\' &&
               !(html && (*p == '<' || *p == '>' || *p == '&')))
            p++;
        sbuf_add(b, run, (size_t)(p - run));
        if (p >= end)
            break;
        uchar c = *p;
        if (c >= 0x80) {
            size_t n = utf8_len(p, (size_t)(end - p));
            if (!n) {
                if (ascii)
                    put_u16(b, 0xFFFD);
                else
                    sbuf_add(b, "\xEF\xBF\xBD", 3);
                p++;
                continue;
            }
            if (ascii) {
                /* As Python's json.dumps(ensure_ascii=True): \uXXXX, surrogate pairs
                 * above the BMP. */
                unsigned cp = utf8_decode(p, n);
                if (cp >= 0x10000) {
                    cp -= 0x10000;
                    put_u16(b, 0xD800 | (cp >> 10));
                    put_u16(b, 0xDC00 | (cp & 0x3FF));
                } else {
                    put_u16(b, cp);
                }
            } else {
                sbuf_add(b, p, n);
            }
            p += n;
            continue;
        }
        p++;
        switch (c) {
        case '"': sbuf_add(b, "\\\"", 2); break;
        case '\\': sbuf_add(b, "\\\\", 2); break;
        case '<': put_u16(b, '<'); break;
        case '>': put_u16(b, '>'); break;
        case '&': put_u16(b, '&'); break;
        case '\b': sbuf_add(b, "\\b", 2); break;
        case '\f': sbuf_add(b, "\\f", 2); break;
        case '\n': sbuf_add(b, "\\n", 2); break;
        case '\r': sbuf_add(b, "\\r", 2); break;
        case '\t': sbuf_add(b, "\\t", 2); break;
        default: put_u16(b, c);
        }
    }
    sbuf_putc(b, '"');
}

void json_write_string(sbuf *b, const char *s, size_t len)
{
    json_write_string_flags(b, s, len, JSON_W_HTML);
}

void json_write_value(sbuf *b, const json_value *v)
{
    switch (v->type) {
    case JSON_NULL: sbuf_add(b, "null", 4); break;
    case JSON_FALSE: sbuf_add(b, "false", 5); break;
    case JSON_TRUE: sbuf_add(b, "true", 4); break;
    case JSON_NUMBER: sbuf_puts(b, v->num.text); break;
    case JSON_STRING: json_write_string_flags(b, v->str.s, v->str.len, 0); break;
    case JSON_ARRAY:
        sbuf_putc(b, '[');
        for (size_t i = 0; i < v->arr.count; i++) {
            if (i)
                sbuf_putc(b, ',');
            json_write_value(b, &v->arr.items[i]);
        }
        sbuf_putc(b, ']');
        break;
    case JSON_OBJECT:
        sbuf_putc(b, '{');
        for (size_t i = 0; i < v->obj.count; i++) {
            const json_member *m = &v->obj.members[i];
            if (i)
                sbuf_putc(b, ',');
            json_write_string_flags(b, m->key, m->key_len, 0);
            sbuf_putc(b, ':');
            json_write_value(b, &m->value);
        }
        sbuf_putc(b, '}');
        break;
    }
}

void json_writer_init(json_writer *w, sbuf *b)
{
    *w = (json_writer){.b = b};
}

static uint64_t level_bit(const json_writer *w)
{
    return (uint64_t)1 << (w->depth - 1);
}

/* Writes the ',' that separates this element from the previous one at its level. */
static void separate(json_writer *w)
{
    if (w->nonempty & level_bit(w))
        sbuf_putc(w->b, ',');
    else
        w->nonempty |= level_bit(w);
}

static void before_value(json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    assert(!(w->objects & level_bit(w)) && "a value in an object needs json_key first");
    separate(w);
}

static void begin(json_writer *w, char open, bool object)
{
    before_value(w);
    assert(w->depth < JSON_WRITER_MAX_DEPTH);
    sbuf_putc(w->b, open);
    w->depth++;
    w->nonempty &= ~level_bit(w);
    if (object)
        w->objects |= level_bit(w);
    else
        w->objects &= ~level_bit(w);
}

static void end(json_writer *w, char close, bool object)
{
    assert(w->depth > 0 && !w->after_key);
    assert(!!(w->objects & level_bit(w)) == object);
    (void)object;
    w->depth--;
    sbuf_putc(w->b, close);
}

void json_begin_object(json_writer *w)
{
    begin(w, '{', true);
}

void json_end_object(json_writer *w)
{
    end(w, '}', true);
}

void json_begin_array(json_writer *w)
{
    begin(w, '[', false);
}

void json_end_array(json_writer *w)
{
    end(w, ']', false);
}

void json_key(json_writer *w, const char *key)
{
    assert(w->depth > 0 && (w->objects & level_bit(w)) && !w->after_key);
    separate(w);
    json_write_string(w->b, key, strlen(key));
    sbuf_putc(w->b, ':');
    w->after_key = true;
}

void json_put_string(json_writer *w, const char *s)
{
    json_put_stringn(w, s, strlen(s));
}

void json_put_stringn(json_writer *w, const char *s, size_t len)
{
    before_value(w);
    json_write_string(w->b, s, len);
}

/* Decimal digits of v (and a minus sign) into b, without printf: a stats answer writes
 * tens of thousands of integers. */
static void put_digits(sbuf *b, uint64_t v, bool negative)
{
    char buf[24], *o = buf + sizeof buf;
    do {
        *--o = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (negative)
        *--o = '-';
    sbuf_add(b, o, (size_t)(buf + sizeof buf - o));
}

void json_put_int(json_writer *w, int64_t v)
{
    before_value(w);
    /* The magnitude in unsigned arithmetic, so INT64_MIN does not overflow. */
    put_digits(w->b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void json_put_uint(json_writer *w, uint64_t v)
{
    before_value(w);
    put_digits(w->b, v, false);
}

void json_put_double(json_writer *w, double v)
{
    before_value(w);
    if (!isfinite(v)) {
        sbuf_add(w->b, "null", 4);
        return;
    }
    char buf[NUMFMT_REPR_SIZE];
    sbuf_add(w->b, buf, numfmt_repr(buf, v));
}

void json_put_decimal(json_writer *w, double v, int decimals)
{
    static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (decimals < 1)
        decimals = 1;
    if (decimals > 9)
        decimals = 9;
    double scale = pow10[decimals];
    /* Outside what an integer holds exactly, the general (slower) form. */
    if (!isfinite(v) || fabs(v) * scale >= 9e15) {
        json_put_double(w, v);
        return;
    }
    before_value(w);
    uint64_t x = (uint64_t)llround(fabs(v) * scale), unit = (uint64_t)scale;
    uint64_t ip = x / unit, fp = x % unit;
    char buf[48], *o = buf + sizeof buf;
    /* fraction, written backwards, trailing zeros dropped but one digit kept */
    int digits = decimals;
    while (digits > 1 && fp % 10 == 0) {
        fp /= 10;
        digits--;
    }
    for (int i = 0; i < digits; i++) {
        *--o = (char)('0' + fp % 10);
        fp /= 10;
    }
    *--o = '.';
    do {
        *--o = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    if (v < 0 && x)
        *--o = '-';
    sbuf_add(w->b, o, (size_t)(buf + sizeof buf - o));
}

void json_put_bool(json_writer *w, bool v)
{
    before_value(w);
    sbuf_puts(w->b, v ? "true" : "false");
}

void json_put_null(json_writer *w)
{
    before_value(w);
    sbuf_add(w->b, "null", 4);
}

void json_put_raw(json_writer *w, const char *json, size_t len)
{
    before_value(w);
    sbuf_add(w->b, json, len);
}
