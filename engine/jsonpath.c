/* JSON paths (see jsonpath.h).
 *
 * jpath_each walks the document once with a recursive-descent scanner that descends only
 * where the path leads and skips (and validates) everything else, strictly by RFC 8259
 * except that lone \u surrogates pass (they decode to U+FFFD). A document that is
 * malformed anywhere, too deep (JSON_MAX_DEPTH) or followed by anything but whitespace has
 * no match at all: so that fn never sees a match from a body that later turns out broken,
 * the first walk only validates and remembers up to WALK_KEEP matches; when there were
 * more, a second walk delivers them. A negative index counts its array's elements first,
 * then walks it again to the element.
 *
 * [*] takes every element of an array and every member value of an object. */
#include "jsonpath.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "xalloc.h"

#define JPATH_MAX_STEPS 32

enum step_kind { ST_KEY, ST_INDEX, ST_ANY };

typedef struct step {
    enum step_kind kind;
    long index;               /* ST_INDEX; negative: from the end */
    size_t key, key_len;      /* ST_KEY: decoded, in keys */
} step;

struct jpath {
    unsigned nsteps;
    step steps[JPATH_MAX_STEPS];
    char *keys;               /* decoded keys, after text in the same block */
    char text[];
};

/* ---- compiling ------------------------------------------------------------------------ */

static jpath *compile_fail(jpath *p, char *err, size_t errlen, size_t *err_offset,
                           size_t offset, const char *msg)
{
    free(p);
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    if (err_offset)
        *err_offset = offset;
    return NULL;
}

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$';
}

static bool is_name(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '-';
}

/* Parses a quoted key at *s (on the quote) into keys + *klen; returns NULL or a message. */
static const char *quoted_key(const char **s, char *key, size_t *klen, const char **where)
{
    const char *q = *s;
    char quote = *q++;
    size_t n = 0;
    while (*q != quote) {
        if (!*q) {
            *where = *s;
            return "unterminated quoted key";
        }
        if (*q == '\\' && q[1]) {
            if (q[1] != '"' && q[1] != '\'' && q[1] != '\\') {
                *where = q;
                return "invalid escape in a quoted key (only \\\", \\' and \\\\)";
            }
            q++;
        }
        key[n++] = *q++;
    }
    q++;
    if (*q != ']') {
        *where = q;
        return "expected ']' after the quoted key";
    }
    *s = q + 1;
    *klen = n;
    return NULL;
}

/* Parses "n]" or "-n]" at *s. */
static const char *index_step(const char **s, long *index, const char **where)
{
    const char *q = *s;
    bool neg = *q == '-';
    q += neg;
    if (*q < '0' || *q > '9') {
        *where = q;
        return "expected a digit in the index";
    }
    long v = 0;
    for (; *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (*q - '0');
        if (v > INT32_MAX) {
            *where = *s;
            return "index out of range";
        }
    }
    if (neg && v == 0) {
        *where = *s;
        return "index out of range";
    }
    if (*q != ']') {
        *where = q;
        return "expected ']' after the index";
    }
    *s = q + 1;
    *index = neg ? -v : v;
    return NULL;
}

/* One step at s (on '.' or '['); fills st and moves s past it. */
static const char *parse_step(const char **s, step *st, char *keys, size_t *keys_len,
                              const char **where)
{
    const char *q = *s;
    if (*q == '.') {
        q++;
        if (!is_name_start(*q)) {
            *where = q;
            return "expected a member name after '.'";
        }
        const char *name = q;
        while (is_name(*q))
            q++;
        *st = (step){.kind = ST_KEY, .key = *keys_len, .key_len = (size_t)(q - name)};
        memcpy(keys + *keys_len, name, st->key_len);
        *keys_len += st->key_len;
        *s = q;
        return NULL;
    }
    q++;
    if (*q == '"' || *q == '\'') {
        *st = (step){.kind = ST_KEY, .key = *keys_len};
        const char *msg = quoted_key(&q, keys + *keys_len, &st->key_len, where);
        *keys_len += st->key_len;
        *s = q;
        return msg;
    }
    if (*q == '*') {
        if (q[1] != ']') {
            *where = q + 1;
            return "expected ']' after '*'";
        }
        *st = (step){.kind = ST_ANY};
        *s = q + 2;
        return NULL;
    }
    if (*q == '-' || (*q >= '0' && *q <= '9')) {
        *st = (step){.kind = ST_INDEX};
        const char *msg = index_step(&q, &st->index, where);
        *s = q;
        return msg;
    }
    *where = q;
    return "expected an index, '*' or a quoted key after '['";
}

jpath *jpath_compile(const char *s, char *err, size_t errlen, size_t *err_offset)
{
    size_t n = strlen(s);
    /* Decoded keys are never longer than the path text. */
    jpath *p = xcalloc(1, sizeof *p + 2 * (n + 1));
    memcpy(p->text, s, n + 1);
    p->keys = p->text + n + 1;
    if (*s != '$')
        return compile_fail(p, err, errlen, err_offset, 0, "a path starts with '$'");
    const char *q = s + 1, *where = s;
    const char *after = "expected '.' or '[' after '$'";
    size_t keys_len = 0;
    while (*q) {
        if (*q != '.' && *q != '[')
            return compile_fail(p, err, errlen, err_offset, (size_t)(q - s), after);
        if (p->nsteps == JPATH_MAX_STEPS)
            return compile_fail(p, err, errlen, err_offset, (size_t)(q - s),
                                "a path has at most 32 steps");
        bool member = *q == '.';
        const char *msg = parse_step(&q, &p->steps[p->nsteps++], p->keys, &keys_len, &where);
        if (msg)
            return compile_fail(p, err, errlen, err_offset, (size_t)(where - s), msg);
        after = member ? "expected '.' or '[' after the member name"
                       : "expected '.' or '[' after ']'";
    }
    return p;
}

void jpath_free(jpath *p)
{
    free(p);
}

const char *jpath_text(const jpath *p)
{
    return p->text;
}

/* ---- strings -------------------------------------------------------------------------- */

static int hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static int utf8(uint32_t u, char *out)
{
    if (u < 0x80) {
        out[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (char)(0xC0 | u >> 6);
        out[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (char)(0xE0 | u >> 12);
        out[1] = (char)(0x80 | (u >> 6 & 0x3F));
        out[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | u >> 18);
    out[1] = (char)(0x80 | (u >> 12 & 0x3F));
    out[2] = (char)(0x80 | (u >> 6 & 0x3F));
    out[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

/* Decodes the \u escape at p (backslash included), joining a surrogate pair; a lone
 * surrogate becomes U+FFFD. Returns the bytes written to out, 0 when malformed. */
static int unicode_escape(const char **pp, const char *end, char *out)
{
    const char *p = *pp;
    int u = hex4(p + 2, end);
    if (u < 0)
        return 0;
    p += 6;
    uint32_t cp = (uint32_t)u;
    if (u >= 0xD800 && u <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
        int lo = hex4(p + 2, end);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((uint32_t)(u - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
            p += 6;
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;
    *pp = p;
    return utf8(cp, out);
}

/* Decodes one character of a string body at *pp (not the closing quote) into out: the
 * number of bytes (1 to 4), or 0 for a control character or a bad escape. */
static int string_char(const char **pp, const char *end, char *out)
{
    const char *p = *pp;
    unsigned char c = (unsigned char)*p;
    if (c < 0x20)
        return 0;
    if (c != '\\') {
        out[0] = (char)c;
        *pp = p + 1;
        return 1;
    }
    if (end - p < 2)
        return 0;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e = p[1] ? strchr(from, p[1]) : NULL;
    if (e) {
        out[0] = to[e - from];
        *pp = p + 2;
        return 1;
    }
    if (p[1] == 'u')
        return unicode_escape(pp, end, out);
    return 0;
}

/* A string at *pp (on its opening quote): moves past the closing quote. *escaped tells
 * whether the body holds escapes. */
static bool scan_string(const char **pp, const char *end, bool *escaped)
{
    const char *p = *pp + 1;
    char tmp[4];
    *escaped = false;
    for (;;) {
        while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            p++;
        if (p == end)
            return false;
        if (*p == '"')
            break;
        if (*p != '\\' || !string_char(&p, end, tmp))
            return false;
        *escaped = true;
    }
    *pp = p + 1;
    return true;
}

/* Whether the (valid) string body [p, end) decodes to key. */
static bool key_equals(const char *p, const char *end, bool escaped, const char *key,
                       size_t key_len)
{
    if (!escaped)
        return (size_t)(end - p) == key_len && !memcmp(p, key, key_len);
    size_t k = 0;
    char c[4];
    while (p < end) {
        int n = string_char(&p, end, c);
        if (k + (size_t)n > key_len || memcmp(key + k, c, (size_t)n))
            return false;
        k += (size_t)n;
    }
    return k == key_len;
}

/* ---- the walker ----------------------------------------------------------------------- */

#define WALK_KEEP 8
#define SKIP UINT_MAX   /* step number of a value that is only skipped */

typedef struct walker {
    const char *p, *end;
    const jpath *path;
    bool deliver;       /* second walk: call fn instead of keeping matches */
    bool (*fn)(void *data, const jmatch *m);
    void *data;
    size_t found;
    jmatch kept[WALK_KEEP];
} walker;

static bool value(walker *w, unsigned i, unsigned depth);

static bool is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static void skip_ws(walker *w)
{
    while (w->p < w->end && is_ws(*w->p))
        w->p++;
}

static bool at(const walker *w, char c)
{
    return w->p < w->end && *w->p == c;
}

static bool digits(walker *w)
{
    const char *start = w->p;
    while (w->p < w->end && *w->p >= '0' && *w->p <= '9')
        w->p++;
    return w->p > start;
}

static bool number(walker *w)
{
    if (at(w, '-'))
        w->p++;
    if (at(w, '0'))
        w->p++;
    else if (!digits(w))
        return false;
    if (at(w, '.')) {
        w->p++;
        if (!digits(w))
            return false;
    }
    if (at(w, 'e') || at(w, 'E')) {
        w->p++;
        if (at(w, '+') || at(w, '-'))
            w->p++;
        if (!digits(w))
            return false;
    }
    return true;
}

static bool literal(walker *w, const char *word, size_t len)
{
    if ((size_t)(w->end - w->p) < len || memcmp(w->p, word, len))
        return false;
    w->p += len;
    return true;
}

/* The step a container at step i applies, or NULL when it is only skipped. */
static const step *step_at(const walker *w, unsigned i)
{
    return i == SKIP ? NULL : &w->path->steps[i];
}

static bool object(walker *w, unsigned i, unsigned depth)
{
    const step *st = step_at(w, i);
    w->p++;
    skip_ws(w);
    if (at(w, '}')) {
        w->p++;
        return true;
    }
    for (;;) {
        const char *key = w->p + 1;
        bool escaped;
        if (!at(w, '"') || !scan_string(&w->p, w->end, &escaped))
            return false;
        bool hit = st && (st->kind == ST_ANY ||
                          (st->kind == ST_KEY && key_equals(key, w->p - 1, escaped,
                                                            w->path->keys + st->key,
                                                            st->key_len)));
        skip_ws(w);
        if (!at(w, ':'))
            return false;
        w->p++;
        if (!value(w, hit ? i + 1 : SKIP, depth + 1))
            return false;
        skip_ws(w);
        if (at(w, '}')) {
            w->p++;
            return true;
        }
        if (!at(w, ','))
            return false;
        w->p++;
        skip_ws(w);
    }
}

/* Element numbers for elements(): none of them, or all of them, takes the next step. */
#define NO_ELEMENT (SIZE_MAX - 1)
#define ALL_ELEMENTS SIZE_MAX

/* The array at w->p: element number target (or NO_ELEMENT, ALL_ELEMENTS) walks on with
 * step i + 1, the others are skipped. Counts the elements into *count. */
static bool elements(walker *w, unsigned i, size_t target, unsigned depth, size_t *count)
{
    w->p++;
    skip_ws(w);
    *count = 0;
    if (at(w, ']')) {
        w->p++;
        return true;
    }
    for (size_t n = 0;; n++) {
        bool hit = target == ALL_ELEMENTS || n == target;
        if (!value(w, hit ? i + 1 : SKIP, depth + 1))
            return false;
        skip_ws(w);
        if (at(w, ']')) {
            w->p++;
            *count = n + 1;
            return true;
        }
        if (!at(w, ','))
            return false;
        w->p++;
    }
}

static bool array(walker *w, unsigned i, unsigned depth)
{
    const step *st = step_at(w, i);
    size_t n, target = NO_ELEMENT;
    if (st && st->kind == ST_ANY) {
        target = ALL_ELEMENTS;
    } else if (st && st->kind == ST_INDEX && st->index >= 0) {
        target = (size_t)st->index;
    } else if (st && st->kind == ST_INDEX) {
        const char *start = w->p;
        if (!elements(w, SKIP, NO_ELEMENT, depth, &n))
            return false;
        if ((size_t)-st->index > n)
            return true;
        target = n - (size_t)-st->index;
        w->p = start;
    }
    return elements(w, i, target, depth, &n);
}

static bool match(walker *w, const char *start, enum jvalue_kind kind)
{
    jmatch m = {start, (size_t)(w->p - start), kind};
    if (w->deliver) {
        w->found++;
        return w->fn(w->data, &m);
    }
    if (w->found < WALK_KEEP)
        w->kept[w->found] = m;
    w->found++;
    return true;
}

static enum jvalue_kind kind_of(char c)
{
    switch (c) {
    case '{':
        return JV_OBJECT;
    case '[':
        return JV_ARRAY;
    case '"':
        return JV_STRING;
    case 't':
    case 'f':
        return JV_BOOL;
    case 'n':
        return JV_NULL;
    default:
        return JV_NUMBER;
    }
}

/* The value at w->p (after whitespace): walks step i onwards (i == nsteps: a match; SKIP:
 * nothing to find, and w->path may be NULL). Returns false when the text is malformed or
 * fn asked to stop. */
static bool value(walker *w, unsigned i, unsigned depth)
{
    skip_ws(w);
    if (w->p == w->end)
        return false;
    const char *start = w->p;
    bool here = i != SKIP && i == w->path->nsteps;
    unsigned next = here ? SKIP : i;
    bool ok, escaped;
    switch (*w->p) {
    case '{':
        ok = depth < JSON_MAX_DEPTH && object(w, next, depth);
        break;
    case '[':
        ok = depth < JSON_MAX_DEPTH && array(w, next, depth);
        break;
    case '"':
        ok = scan_string(&w->p, w->end, &escaped);
        break;
    case 't':
        ok = literal(w, "true", 4);
        break;
    case 'f':
        ok = literal(w, "false", 5);
        break;
    case 'n':
        ok = literal(w, "null", 4);
        break;
    default:
        ok = number(w);
        break;
    }
    return ok && (!here || match(w, start, kind_of(*start)));
}

/* Walks the whole document from step first (SKIP: only validates); false when it is not
 * one JSON value or fn stopped. */
static bool walk(walker *w, const char *doc, size_t len, unsigned first)
{
    w->p = doc;
    w->end = doc + len;
    if (!value(w, first, 0))
        return false;
    skip_ws(w);
    return w->p == w->end;
}

size_t jpath_each(const jpath *p, const char *doc, size_t len,
                  bool (*fn)(void *data, const jmatch *m), void *data)
{
    if (!doc)
        return 0;
    /* Some servers start JSON with a UTF-8 byte order mark; json_parse and
     * python-requests' .json() skip it, so checks must see past it too. */
    if (len >= 3 && memcmp(doc, "\xEF\xBB\xBF", 3) == 0) {
        doc += 3;
        len -= 3;
    }
    walker w = {.path = p, .fn = fn, .data = data};
    if (!walk(&w, doc, len, 0))
        return 0;
    if (w.found > WALK_KEEP) {
        w.deliver = true;
        w.found = 0;
        walk(&w, doc, len, 0);
        return w.found;
    }
    for (size_t i = 0; i < w.found; i++)
        if (!fn(data, &w.kept[i]))
            return i + 1;
    return w.found;
}

/* ---- values --------------------------------------------------------------------------- */

bool jpath_value(const jmatch *m, sbuf *out)
{
    if (m->kind != JV_STRING) {
        sbuf_add(out, m->text, m->len);
        return true;
    }
    const char *p = m->text, *end = m->text + m->len;
    bool escaped;
    if (!m->len || *p != '"' || !scan_string(&p, end, &escaped) || p != end)
        return false;
    p = m->text + 1;
    end--;
    if (!escaped) {
        sbuf_add(out, p, (size_t)(end - p));
        return true;
    }
    while (p < end) {
        char c[4];
        int n = string_char(&p, end, c);
        sbuf_add(out, c, (size_t)n);
    }
    return true;
}

/* Trims whitespace around the one JSON value that [*s, *s + *len) must hold. */
static bool one_value(const char **s, size_t *len)
{
    walker w = {0};
    if (!*s || !walk(&w, *s, *len, SKIP))
        return false;
    const char *end = *s + *len;
    while (is_ws(**s))
        (*s)++;
    while (is_ws(end[-1]))
        end--;
    *len = (size_t)(end - *s);
    return true;
}

static double number_value(const char *s, size_t len)
{
    char buf[64];
    if (len < sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        return strtod(buf, NULL);
    }
    char *copy = xstrndup(s, len);
    double d = strtod(copy, NULL);
    free(copy);
    return d;
}

/* Reads a valid string body one decoded byte at a time. */
typedef struct decoder {
    const char *p, *end;
    char buf[4];
    int n, i;
} decoder;

static int decoded_byte(decoder *d)
{
    if (d->i == d->n) {
        if (d->p == d->end)
            return -1;
        d->n = string_char(&d->p, d->end, d->buf);
        d->i = 0;
    }
    return (unsigned char)d->buf[d->i++];
}

static bool strings_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    decoder x = {a + 1, a + alen - 1, {0}, 0, 0}, y = {b + 1, b + blen - 1, {0}, 0, 0};
    int c;
    do {
        c = decoded_byte(&x);
        if (c != decoded_byte(&y))
            return false;
    } while (c >= 0);
    return true;
}

/* Reads valid JSON text one byte at a time, leaving out whitespace outside strings. */
typedef struct compactor {
    const char *p, *end;
    bool in_string, escape;
} compactor;

static int compact_byte(compactor *c)
{
    while (c->p < c->end) {
        char ch = *c->p++;
        if (c->in_string) {
            if (c->escape)
                c->escape = false;
            else if (ch == '\\')
                c->escape = true;
            else if (ch == '"')
                c->in_string = false;
            return (unsigned char)ch;
        }
        if (is_ws(ch))
            continue;
        c->in_string = ch == '"';
        return (unsigned char)ch;
    }
    return -1;
}

static bool compact_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    compactor x = {a, a + alen, false, false}, y = {b, b + blen, false, false};
    int c;
    do {
        c = compact_byte(&x);
        if (c != compact_byte(&y))
            return false;
    } while (c >= 0);
    return true;
}

/* The match's kind is read from its text, which must be one valid JSON value too. */
bool jpath_equals(const jmatch *m, const char *lit, size_t lit_len)
{
    const char *a = m->text, *b = lit;
    size_t alen = m->len, blen = lit_len;
    if (!one_value(&a, &alen) || !one_value(&b, &blen))
        return false;
    enum jvalue_kind kind = kind_of(*a);
    if (kind != kind_of(*b))
        return false;
    switch (kind) {
    case JV_NULL:
        return true;
    case JV_BOOL:
        return *a == *b;
    case JV_NUMBER:
        return number_value(a, alen) == number_value(b, blen);
    case JV_STRING:
        return strings_equal(a, alen, b, blen);
    default:
        return compact_equal(a, alen, b, blen);
    }
}
