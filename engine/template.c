/* Templates (see template.h).
 *
 * A compiled template is a list of parts rendered in order: literal spans of one text
 * block, variable slots, data columns, and built-in functions with their parameters
 * already parsed. Names are kept only for render-time error messages. env() is folded into
 * the literal text at compile time, so "{{env(HOST)}}/api" is static.
 *
 * Any "{{" opens a placeholder; "}}" outside one is plain text. Inside:
 *     name | source.column | function(arg, ...)
 * Arguments are bare words (anything but ',' and ')', surrounding spaces trimmed, ending
 * before a "}}") or single-quoted ('dark blue', '' for a quote). */
#include "template.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "xalloc.h"

enum part_kind {
    P_TEXT,
    P_VARIABLE,
    P_COLUMN,
    P_USER_INDEX,
    P_WORKER_INDEX,
    P_RANDOM_INT,
    P_RANDOM_CHOICE,
    P_UUID,
    P_TIME,
    P_TIME_MS,
};

typedef struct span {
    size_t off, len;
} span;

typedef struct part {
    enum part_kind kind;
    union {
        span text;                                      /* P_TEXT: in t->text */
        struct { int slot; size_t name; } var;          /* P_VARIABLE: name in t->names */
        struct { int id; size_t source; } col;          /* P_COLUMN: source in t->names */
        struct { int64_t low; uint64_t width; } range;  /* P_RANDOM_INT: high - low */
        struct { size_t first, count; } choice;         /* P_RANDOM_CHOICE: t->items */
    };
} part;

struct tpl {
    part *parts;
    size_t nparts;
    char *text;          /* literal text and random_choice items */
    size_t text_len;
    char *names;         /* NUL-terminated variable and data source names */
    span *items;         /* random_choice items, spans of text */
};

/* A parsed function argument: its value (quotes resolved) in compiler.args. */
typedef struct arg {
    const char *at;
    size_t off, len;
    bool quoted;
} arg;

typedef struct compiler {
    const char *s, *p, *end;
    const char *open;    /* the "{{" being compiled */
    const tpl_scope *scope;
    tpl *t;
    size_t parts_cap, nitems, items_cap;
    sbuf text, names;
    sbuf args;           /* argument values, each NUL-terminated */
    arg *argv;
    size_t argc, argv_cap;
    char *err;
    size_t errlen;
    size_t *err_offset;
} compiler;

__attribute__((format(printf, 3, 4)))
static bool fail(compiler *c, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->err && c->errlen)
        vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    if (c->err_offset)
        *c->err_offset = (size_t)(at - c->s);
    return false;
}

static bool unclosed(compiler *c)
{
    return fail(c, c->open, "unclosed '{{'");
}

/* "expected X, found Y" at the cursor; when no "}}" follows at all, the real problem is
 * the unclosed placeholder. */
static bool fail_expected(compiler *c, const char *what)
{
    if (!memmem(c->p, (size_t)(c->end - c->p), "}}", 2))
        return unclosed(c);
    unsigned char ch = (unsigned char)*c->p;
    if (isprint(ch))
        return fail(c, c->p, "expected %s, found '%c'", what, ch);
    return fail(c, c->p, "expected %s, found byte 0x%02X", what, ch);
}

static bool is_ident_start(char ch)
{
    return isalpha((unsigned char)ch) || ch == '_';
}

static bool is_ident(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_';
}

static bool at_close(const compiler *c)
{
    return c->end - c->p >= 2 && c->p[0] == '}' && c->p[1] == '}';
}

static void skip_spaces(compiler *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* Moves past an identifier at the cursor (which starts one) and returns its length. */
static size_t ident(compiler *c)
{
    const char *start = c->p;
    while (c->p < c->end && is_ident(*c->p))
        c->p++;
    return (size_t)(c->p - start);
}

static part *add_part(compiler *c, enum part_kind kind)
{
    tpl *t = c->t;
    if (t->nparts == c->parts_cap) {
        c->parts_cap = c->parts_cap ? 2 * c->parts_cap : 4;
        t->parts = xrealloc(t->parts, c->parts_cap * sizeof *t->parts);
    }
    part *pt = &t->parts[t->nparts++];
    memset(pt, 0, sizeof *pt);
    pt->kind = kind;
    return pt;
}

/* Literal text joins the previous literal part when the two are adjacent in the block
 * (they are unless random_choice items came between). */
static void add_text(compiler *c, const char *s, size_t len)
{
    if (!len)
        return;
    tpl *t = c->t;
    part *last = t->nparts ? &t->parts[t->nparts - 1] : NULL;
    if (last && last->kind == P_TEXT && last->text.off + last->text.len == c->text.len)
        last->text.len += len;
    else
        add_part(c, P_TEXT)->text = (span){c->text.len, len};
    sbuf_add(&c->text, s, len);
}

static size_t add_name(compiler *c, const char *name, size_t len)
{
    size_t off = c->names.len;
    sbuf_add(&c->names, name, len);
    sbuf_putc(&c->names, '\0');
    return off;
}

static bool compile_variable(compiler *c, const char *name, size_t len)
{
    if (len == 10 && !memcmp(name, "user_index", 10)) {
        add_part(c, P_USER_INDEX);
        return true;
    }
    if (len == 12 && !memcmp(name, "worker_index", 12)) {
        add_part(c, P_WORKER_INDEX);
        return true;
    }
    size_t off = add_name(c, name, len);
    const char *s = c->names.s + off;
    int slot = c->scope && c->scope->variable ? c->scope->variable(c->scope->data, s) : -1;
    if (slot < 0)
        return fail(c, name, "unknown variable \"%s\"", s);
    part *pt = add_part(c, P_VARIABLE);
    pt->var.slot = slot;
    pt->var.name = off;
    return true;
}

static bool compile_column(compiler *c, const char *source, size_t slen, const char *column,
                           size_t clen)
{
    size_t off = add_name(c, source, slen);
    char *col = xstrndup(column, clen);
    const char *src = c->names.s + off;
    int id = c->scope && c->scope->column ? c->scope->column(c->scope->data, src, col) : -1;
    bool ok = id >= 0 || fail(c, source, "unknown data column \"%s.%s\"", src, col);
    free(col);
    if (ok) {
        part *pt = add_part(c, P_COLUMN);
        pt->col.id = id;
        pt->col.source = off;
    }
    return ok;
}

static const char *arg_value(const compiler *c, size_t i)
{
    return c->args.s + c->argv[i].off;
}

static void push_arg(compiler *c, const char *at, size_t off, bool quoted)
{
    if (c->argc == c->argv_cap) {
        c->argv_cap = c->argv_cap ? 2 * c->argv_cap : 4;
        c->argv = xrealloc(c->argv, c->argv_cap * sizeof *c->argv);
    }
    c->argv[c->argc++] = (arg){at, off, c->args.len - off, quoted};
    sbuf_putc(&c->args, '\0');
}

static bool quoted_arg(compiler *c)
{
    const char *at = c->p++;
    size_t off = c->args.len;
    for (;;) {
        if (c->p == c->end)
            return fail(c, at, "unterminated quoted argument");
        if (*c->p == '\'') {
            if (c->end - c->p < 2 || c->p[1] != '\'')
                break;
            c->p++;
        }
        sbuf_putc(&c->args, *c->p++);
    }
    c->p++;
    push_arg(c, at, off, true);
    return true;
}

static bool bare_arg(compiler *c)
{
    const char *at = c->p;
    while (c->p < c->end && *c->p != ',' && *c->p != ')' && !at_close(c))
        c->p++;
    const char *stop = c->p;
    while (stop > at && (stop[-1] == ' ' || stop[-1] == '\t'))
        stop--;
    if (stop == at) {
        c->p = at;
        return fail_expected(c, "an argument");
    }
    size_t off = c->args.len;
    sbuf_add(&c->args, at, (size_t)(stop - at));
    push_arg(c, at, off, false);
    return true;
}

/* Parses "(arg, ...)" with the cursor on '('. */
static bool parse_args(compiler *c)
{
    c->argc = 0;
    sbuf_reset(&c->args);
    c->p++;
    skip_spaces(c);
    if (c->p < c->end && *c->p == ')') {
        c->p++;
        return true;
    }
    for (;;) {
        skip_spaces(c);
        if (c->p == c->end)
            return unclosed(c);
        if (!(*c->p == '\'' ? quoted_arg(c) : bare_arg(c)))
            return false;
        skip_spaces(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ')') {
            c->p++;
            return true;
        }
        return fail_expected(c, "',' or ')'");
    }
}

/* Checks the argument count: too few points at the function's name, too many at the
 * first argument too many. rule is the message's start ("env takes 1 or 2 arguments"). */
static bool check_argc(compiler *c, const char *name, size_t min, size_t max, const char *rule)
{
    if (c->argc >= min && c->argc <= max)
        return true;
    return fail(c, c->argc > max ? c->argv[max].at : name, "%s, found %zu", rule, c->argc);
}

/* A decimal int64_t: optional '-', digits, nothing else. */
static bool int_arg(compiler *c, size_t i, int64_t *v)
{
    const char *s = arg_value(c, i);
    const char *d = s + (*s == '-');
    if (c->argv[i].quoted || !*d || strspn(d, "0123456789") != strlen(d))
        return fail(c, c->argv[i].at, "random_int: expected an integer, found \"%s\"", s);
    uint64_t limit = *s == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, u = 0;
    for (; *d; d++) {
        unsigned digit = (unsigned)(*d - '0');
        if (u > (limit - digit) / 10)
            return fail(c, c->argv[i].at, "random_int: %s is out of range", s);
        u = u * 10 + digit;
    }
    *v = *s == '-' ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

static bool compile_random_int(compiler *c, const char *name)
{
    int64_t low, high;
    if (!check_argc(c, name, 2, 2, "random_int takes 2 arguments") || !int_arg(c, 0, &low) ||
        !int_arg(c, 1, &high))
        return false;
    if (low > high)
        return fail(c, c->argv[1].at,
                    "random_int: the high bound %" PRId64 " is less than the low bound %" PRId64,
                    high, low);
    part *pt = add_part(c, P_RANDOM_INT);
    pt->range.low = low;
    pt->range.width = (uint64_t)high - (uint64_t)low;
    return true;
}

static bool compile_random_choice(compiler *c, const char *name)
{
    if (!c->argc)
        return fail(c, name, "random_choice needs at least one item");
    tpl *t = c->t;
    if (c->nitems + c->argc > c->items_cap) {
        c->items_cap = 2 * (c->nitems + c->argc);
        t->items = xrealloc(t->items, c->items_cap * sizeof *t->items);
    }
    part *pt = add_part(c, P_RANDOM_CHOICE);
    pt->choice.first = c->nitems;
    pt->choice.count = c->argc;
    for (size_t i = 0; i < c->argc; i++) {
        t->items[c->nitems++] = (span){c->text.len, c->argv[i].len};
        sbuf_add(&c->text, arg_value(c, i), c->argv[i].len);
    }
    return true;
}

static bool compile_env(compiler *c, const char *name)
{
    if (!check_argc(c, name, 1, 2, "env takes 1 or 2 arguments"))
        return false;
    const char *value = getenv(arg_value(c, 0));
    if (!value && c->argc == 1)
        return fail(c, c->argv[0].at, "environment variable %s is not set", arg_value(c, 0));
    if (value)
        add_text(c, value, strlen(value));
    else
        add_text(c, arg_value(c, 1), c->argv[1].len);
    return true;
}

static bool compile_call(compiler *c, const char *name, size_t len)
{
    static const struct {
        const char *name;
        enum part_kind kind;    /* P_TEXT: compiled by its own function */
    } funcs[] = {
        {"random_int", P_RANDOM_INT}, {"random_choice", P_RANDOM_CHOICE},
        {"uuid", P_UUID},             {"time", P_TIME},
        {"time_ms", P_TIME_MS},       {"env", P_TEXT},
    };
    size_t f = 0;
    while (f < sizeof funcs / sizeof *funcs &&
           !(strlen(funcs[f].name) == len && !memcmp(funcs[f].name, name, len)))
        f++;
    if (f == sizeof funcs / sizeof *funcs)
        return fail(c, name, "unknown function \"%.*s\"", (int)len, name);
    if (!parse_args(c))
        return false;
    switch (funcs[f].kind) {
    case P_RANDOM_INT:
        return compile_random_int(c, name);
    case P_RANDOM_CHOICE:
        return compile_random_choice(c, name);
    case P_TEXT:
        return compile_env(c, name);
    default:
        if (c->argc)
            return fail(c, c->argv[0].at, "%s takes no arguments", funcs[f].name);
        add_part(c, funcs[f].kind);
        return true;
    }
}

/* Compiles one placeholder, the cursor just after its "{{". */
static bool compile_placeholder(compiler *c)
{
    /* With no "}}" after it the placeholder is unclosed, whatever it holds: say so rather
     * than what its unfinished content looks like ("{{ nope" is not an unknown variable). */
    if (!memmem(c->p, (size_t)(c->end - c->p), "}}", 2))
        return unclosed(c);
    skip_spaces(c);
    if (c->p == c->end)
        return unclosed(c);
    if (at_close(c))
        return fail(c, c->open, "empty placeholder '{{}}'");
    if (*c->p == '\'') {
        /* {{'text'}} is the text itself: how to write a literal "{{" ('' is a quote). */
        const char *at = c->p++;
        sbuf lit = SBUF_INIT;
        for (;;) {
            if (c->p == c->end) {
                sbuf_free(&lit);
                return fail(c, at, "unterminated quoted text");
            }
            if (*c->p == '\'') {
                if (c->end - c->p < 2 || c->p[1] != '\'')
                    break;
                c->p++;
            }
            sbuf_putc(&lit, *c->p++);
        }
        c->p++;
        add_text(c, sbuf_str(&lit), lit.len);
        sbuf_free(&lit);
        skip_spaces(c);
        if (!at_close(c))
            return fail_expected(c, "'}}'");
        c->p += 2;
        return true;
    }
    if (!is_ident_start(*c->p))
        return fail_expected(c, "a name or a function call after '{{'");
    const char *name = c->p;
    size_t len = ident(c);
    bool ok;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (c->p == c->end || !is_ident_start(*c->p))
            return fail_expected(c, "a column name after '.'");
        const char *column = c->p;
        size_t clen = ident(c);
        ok = compile_column(c, name, len, column, clen);
    } else {
        skip_spaces(c);
        if (c->p < c->end && *c->p == '(')
            ok = compile_call(c, name, len);
        else
            ok = compile_variable(c, name, len);
    }
    if (!ok)
        return false;
    skip_spaces(c);
    if (!at_close(c))
        return fail_expected(c, "'}}'");
    c->p += 2;
    return true;
}

static bool compile_all(compiler *c)
{
    for (;;) {
        const char *open = memmem(c->p, (size_t)(c->end - c->p), "{{", 2);
        add_text(c, c->p, (size_t)((open ? open : c->end) - c->p));
        if (!open)
            return true;
        c->open = open;
        c->p = open + 2;
        if (!compile_placeholder(c))
            return false;
    }
}

tpl *tpl_compile(const char *s, size_t len, const tpl_scope *scope, char *err, size_t errlen,
                 size_t *err_offset)
{
    if (!s)
        s = "";
    compiler c = {.s = s, .p = s, .end = s + len, .scope = scope, .err = err,
                  .errlen = errlen, .err_offset = err_offset};
    c.t = xcalloc(1, sizeof *c.t);
    bool ok = compile_all(&c);
    tpl *t = c.t;
    t->text_len = c.text.len;
    t->text = sbuf_take(&c.text);
    t->names = sbuf_take(&c.names);
    if (t->nparts)
        t->parts = xrealloc(t->parts, t->nparts * sizeof *t->parts);
    sbuf_free(&c.args);
    free(c.argv);
    if (!ok) {
        tpl_free(t);
        return NULL;
    }
    return t;
}

void tpl_free(tpl *t)
{
    if (!t)
        return;
    free(t->parts);
    free(t->text);
    free(t->names);
    free(t->items);
    free(t);
}

bool tpl_is_static(const tpl *t)
{
    return t->nparts == 0 || (t->nparts == 1 && t->parts[0].kind == P_TEXT);
}

/* A static template has no random_choice items, so its block is exactly its text. NULL
 * for a template that is not static. */
const char *tpl_static_text(const tpl *t, size_t *len)
{
    if (!tpl_is_static(t)) {
        *len = 0;
        return NULL;
    }
    *len = t->text_len;
    return t->text;
}

/* After env() folding: "{{env(EMPTY)}}{{id}}" counts as single, since its text is id's. */
bool tpl_is_single(const tpl *t)
{
    return t->nparts == 1 && t->parts[0].kind != P_TEXT;
}

static void put_u64(sbuf *out, uint64_t v)
{
    char buf[20];
    size_t i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sbuf_add(out, buf + i, sizeof buf - i);
}

static void put_i64(sbuf *out, int64_t v)
{
    if (v < 0) {
        sbuf_putc(out, '-');
        put_u64(out, 0 - (uint64_t)v);
    } else {
        put_u64(out, (uint64_t)v);
    }
}

static void put_hex(char *dst, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        dst[i] = hex[v & 15];
}

/* RFC 4122 version 4: 122 random bits, version nibble 4, variant bits 10. */
static void put_uuid(sbuf *out)
{
    uint64_t hi = (rng_next() & ~UINT64_C(0xF000)) | UINT64_C(0x4000);
    uint64_t lo = (rng_next() >> 2) | UINT64_C(0x8000000000000000);
    char buf[36];
    put_hex(buf, hi >> 32, 8);
    buf[8] = '-';
    put_hex(buf + 9, hi >> 16, 4);
    buf[13] = '-';
    put_hex(buf + 14, hi, 4);
    buf[18] = '-';
    put_hex(buf + 19, lo >> 48, 4);
    buf[23] = '-';
    put_hex(buf + 24, lo, 12);
    sbuf_add(out, buf, sizeof buf);
}

static int64_t random_in(int64_t low, uint64_t width)
{
    uint64_t r = width == UINT64_MAX ? rng_next() : rng_below(width + 1);
    return (int64_t)((uint64_t)low + r);
}

/* Appends one part; false (with err filled) when a value is missing. *json tells whether
 * the appended text is JSON. */
static bool render_part(const tpl *t, const part *pt, const tpl_ctx *ctx, sbuf *out,
                        bool *json, char *err, size_t errlen)
{
    *json = false;
    switch (pt->kind) {
    case P_TEXT:
        sbuf_add(out, t->text + pt->text.off, pt->text.len);
        return true;
    case P_VARIABLE: {
        tpl_value v = ctx->variable(ctx->data, pt->var.slot);
        if (!v.s) {
            snprintf(err, errlen, "variable \"%s\" has no value yet", t->names + pt->var.name);
            return false;
        }
        sbuf_add(out, v.s, v.len);
        *json = v.json;
        return true;
    }
    case P_COLUMN: {
        size_t len;
        bool cell_json = false;
        const char *s = ctx->column(ctx->data, pt->col.id, &len, &cell_json);
        if (!s) {
            snprintf(err, errlen, "no row of data source \"%s\" for this user",
                     t->names + pt->col.source);
            return false;
        }
        sbuf_add(out, s, len);
        *json = cell_json;
        return true;
    }
    case P_RANDOM_CHOICE: {
        const span *item = &t->items[pt->choice.first + rng_below(pt->choice.count)];
        sbuf_add(out, t->text + item->off, item->len);
        return true;
    }
    case P_UUID:
        put_uuid(out);
        return true;
    case P_USER_INDEX:
        put_u64(out, ctx->user_index);
        break;
    case P_WORKER_INDEX:
        put_u64(out, ctx->worker_index);
        break;
    case P_RANDOM_INT:
        put_i64(out, random_in(pt->range.low, pt->range.width));
        break;
    case P_TIME:
        put_i64(out, (int64_t)floor(ctx->now));
        break;
    case P_TIME_MS:
        put_i64(out, (int64_t)floor(ctx->now * 1000.0));
        break;
    }
    *json = true;
    return true;
}

/* On error nothing stays appended: out is cut back to its length on entry. */
int tpl_render(const tpl *t, const tpl_ctx *ctx, sbuf *out, bool *json_value, char *err,
               size_t errlen)
{
    size_t start = out->len;
    bool json = false;
    for (size_t i = 0; i < t->nparts; i++) {
        if (!render_part(t, &t->parts[i], ctx, out, &json, err, errlen)) {
            out->len = start;
            if (out->s)
                out->s[start] = '\0';
            if (json_value)
                *json_value = false;
            return -1;
        }
    }
    if (json_value)
        *json_value = tpl_is_single(t) && json;
    return 0;
}

/* Once per use: a variable used twice is reported twice. */
void tpl_foreach_variable(const tpl *t, void (*fn)(void *data, int slot), void *data)
{
    for (size_t i = 0; i < t->nparts; i++)
        if (t->parts[i].kind == P_VARIABLE)
            fn(data, t->parts[i].var.slot);
}
