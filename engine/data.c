/* Test data sources (data.h).
 *
 * Formats, beyond what data.h says:
 * - CSV is strict RFC 4180: a quote may only open a field and, doubled, stand inside a
 *   quoted one; CRLF or LF ends a line (a lone CR is text); a leading UTF-8 BOM and blank
 *   lines at the end are skipped; column names must be non-empty and unique.
 * - JSON lines: blank lines are skipped but counted for line numbers. The columns are the
 *   keys in order of first appearance over the whole file (every worker sees the same
 *   columns); a line that lacks a key has an empty string there (json false). Strings are
 *   decoded; other values are kept as compact JSON text (numbers exactly as written).
 *
 * Layout: every cell of the kept rows sits in one block, each followed by a NUL, row by
 * row; off[r * columns + c] is where cell (r, c) starts and the next offset (there is one
 * past the last cell) gives its length. A row costs its text plus one offset per cell.
 *
 * CSV is decoded in place in the buffer the file was read into (a decoded cell and its
 * NUL never need more bytes than the raw field and its separator), so loading needs about
 * the file's size. JSON lines cannot be placed before every key is known, so their cells
 * wait in a scratch buffer and are laid out once at the end; a file so sparse that the
 * table would be far larger than the file is refused. Both are linear: column names are
 * found through a hash table. */
#include "data.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "json.h"
#include "rng.h"
#include "sbuf.h"
#include "xalloc.h"

/* A growable array of sizes (offsets, indexes). */
typedef struct sizes {
    size_t *v;
    size_t n, cap;
} sizes;

static void sizes_push(sizes *a, size_t x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

/* Column names in order, with a hash index so that checking a header for repeats and
 * matching the keys of every JSON line stay constant-time per name. */
typedef struct colset {
    sbuf names;          /* each name followed by a NUL (names may hold NULs themselves) */
    sizes off;           /* where name i starts in names */
    size_t *slot;        /* open addressing: column index + 1, or 0 when empty */
    size_t nslots;       /* a power of two, more than twice the number of names */
} colset;

struct data_source {
    char *name;
    enum data_mode mode;
    enum data_exhausted on_exhausted;
    colset cols;
    size_t rows;
    char *text;          /* the cells, each followed by a NUL */
    size_t *off;         /* rows * columns + 1 offsets into text */
    unsigned char *json; /* a bit per cell: JSON text, not a string; NULL for CSV */
    size_t cursor;       /* sequential: the next row */
    size_t *ring;        /* unique: the free rows, longest free first */
    size_t ring_head, ring_count;
    bool *held;          /* unique: held[r] while a user has row r */
};

/* ---- column names --------------------------------------------------------------------- */

static size_t name_hash(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037u;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return (size_t)h;
}

static const char *colset_name(const colset *s, size_t i, size_t *len)
{
    size_t end = i + 1 < s->off.n ? s->off.v[i + 1] : s->names.len;
    *len = end - s->off.v[i] - 1;
    return s->names.s + s->off.v[i];
}

/* The index of the column called name (len bytes), or -1. */
static long colset_find(const colset *s, const char *name, size_t len)
{
    if (!s->nslots)
        return -1;
    for (size_t h = name_hash(name, len);; h++) {
        size_t v = s->slot[h & (s->nslots - 1)];
        if (!v)
            return -1;
        size_t vlen;
        const char *vname = colset_name(s, v - 1, &vlen);
        if (vlen == len && memcmp(vname, name, len) == 0)
            return (long)(v - 1);
    }
}

static void colset_place(colset *s, size_t i)
{
    size_t len;
    const char *name = colset_name(s, i, &len);
    size_t h = name_hash(name, len);
    while (s->slot[h & (s->nslots - 1)])
        h++;
    s->slot[h & (s->nslots - 1)] = i + 1;
}

/* Adds a name that is not in the set yet; returns its index. */
static size_t colset_add(colset *s, const char *name, size_t len)
{
    sizes_push(&s->off, s->names.len);
    sbuf_add(&s->names, name, len);
    sbuf_putc(&s->names, '\0');
    size_t n = s->off.n;
    if (2 * n < s->nslots) {
        colset_place(s, n - 1);
        return n - 1;
    }
    s->nslots = s->nslots ? 2 * s->nslots : 16;
    free(s->slot);
    s->slot = xcalloc(s->nslots, sizeof *s->slot);
    for (size_t i = 0; i < n; i++)
        colset_place(s, i);
    return n - 1;
}

static void colset_free(colset *s)
{
    sbuf_free(&s->names);
    free(s->off.v);
    free(s->slot);
}

/* ---- loading -------------------------------------------------------------------------- */

typedef struct loader {
    const char *path;
    char *err;
    size_t errlen;
    unsigned worker, workers;
    size_t total;        /* data rows seen in the file, this worker's or not */
    size_t limit;        /* most cells a JSON-lines file may expand to */
    data_source *d;
} loader;

/* Writes "path:line:col: message" to the error buffer, leaving out col when it is 0 and
 * line too when that is 0. */
static void vfail(const loader *l, unsigned line, unsigned col, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (col)
        snprintf(l->err, l->errlen, "%s:%u:%u: %s", l->path, line, col, msg);
    else if (line)
        snprintf(l->err, l->errlen, "%s:%u: %s", l->path, line, msg);
    else
        snprintf(l->err, l->errlen, "%s: %s", l->path, msg);
}

/* Sets "path:line: message" ("path: message" when line is 0); returns false. */
static bool fail(const loader *l, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(const loader *l, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(l, line, 0, fmt, ap);
    va_end(ap);
    return false;
}

/* Sets "path:line:col: message"; returns false. */
static bool fail_at(const loader *l, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail_at(const loader *l, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(l, line, col, fmt, ap);
    va_end(ap);
    return false;
}

/* Counts a data row and tells whether it is this worker's. */
static bool keep_row(loader *l)
{
    bool keep = l->total++ % l->workers == l->worker;
    if (keep)
        l->d->rows++;
    return keep;
}

/* The checks every format shares once the whole file is read. */
static bool check_rows(const loader *l)
{
    if (!l->total)
        return fail(l, 0, "no rows");
    if (!l->d->cols.off.n)
        return fail(l, 0, "no columns");
    if (!l->d->rows)
        return fail(l, 0, "no rows for worker %u of %u (the file has %zu)", l->worker,
                    l->workers, l->total);
    return true;
}

/* The whole file in a block of *len bytes plus a NUL, or NULL with the error set. */
static char *read_all(const loader *l, size_t *len)
{
    FILE *f = fopen(l->path, "rb");
    if (!f) {
        fail(l, 0, "cannot read: %s", strerror(errno));
        return NULL;
    }
    sbuf b = SBUF_INIT;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0)
        sbuf_reserve(&b, (size_t)st.st_size);
    char chunk[65536];
    int error = 0;
    for (;;) {
        size_t n = fread(chunk, 1, sizeof chunk, f);
        sbuf_add(&b, chunk, n);
        if (n < sizeof chunk) {
            if (ferror(f))
                error = errno ? errno : EIO;
            break;
        }
    }
    fclose(f);
    if (error) {
        sbuf_free(&b);
        fail(l, 0, "cannot read: %s", strerror(error));
        return NULL;
    }
    *len = b.len;
    return sbuf_take(&b);
}

/* ---- CSV ------------------------------------------------------------------------------ */

typedef struct csv_parser {
    loader *l;
    char *text;          /* the file; cells are written over it, w never passes p */
    const char *p, *end;
    char *w;
    unsigned line;
    sizes off;           /* start of each cell written so far */
} csv_parser;

static bool csv_quoted(csv_parser *c)
{
    unsigned first = c->line;
    c->p++;
    for (;;) {
        if (c->p == c->end)
            return fail(c->l, first, "unterminated quoted field");
        char ch = *c->p++;
        if (ch == '"') {
            if (c->p == c->end || *c->p != '"')
                break;
            c->p++;
        } else if (ch == '\n') {
            c->line++;
        }
        *c->w++ = ch;
    }
    if (c->p == c->end || *c->p == ',' || *c->p == '\n' ||
        (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n'))
        return true;
    return fail(c->l, c->line, "text after the closing quote of a field");
}

/* Decodes the field at p into w, leaving p at the ',', the line end or the end of the
 * input. */
static bool csv_field(csv_parser *c)
{
    if (c->p < c->end && *c->p == '"') {
        if (!csv_quoted(c))
            return false;
    } else {
        char *start = c->w;
        while (c->p < c->end && *c->p != ',' && *c->p != '\n') {
            if (*c->p == '"')
                return fail(c->l, c->line, "quote in an unquoted field (quote the whole "
                                           "field and double the quotes in it)");
            *c->w++ = *c->p++;
        }
        if (c->p < c->end && *c->p == '\n' && c->w > start && c->w[-1] == '\r')
            c->w--;   /* the CR of a CRLF */
    }
    return true;
}

/* Parses one record (several lines when quoted fields hold newlines); *n gets its number
 * of fields. */
static bool csv_row(csv_parser *c, size_t *n)
{
    for (*n = 1;; ++*n) {
        sizes_push(&c->off, (size_t)(c->w - c->text));
        if (!csv_field(c))
            return false;
        if (c->p == c->end) {
            *c->w++ = '\0';
            return true;
        }
        /* The NUL may take the separator's place, so it is read first. */
        char ch = *c->p++;
        *c->w++ = '\0';
        if (ch == ',')
            continue;
        if (ch == '\r')
            c->p++;   /* csv_field saw the '\n' after it */
        c->line++;
        return true;
    }
}

static bool csv_header(csv_parser *c)
{
    colset *cols = &c->l->d->cols;
    size_t n;
    if (!csv_row(c, &n))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *name = c->text + c->off.v[i];
        size_t end = i + 1 < n ? c->off.v[i + 1] : (size_t)(c->w - c->text);
        size_t len = end - c->off.v[i] - 1;
        if (!len)
            return fail(c->l, 1, "column %zu of the header has no name", i + 1);
        /* Templates name columns with C strings: a name holding a NUL could never be
         * reached, and two that differ only after it would look the same. */
        if (memchr(name, '\0', len))
            return fail(c->l, 1, "column %zu of the header holds a NUL byte", i + 1);
        long dup = colset_find(cols, name, len);
        if (dup >= 0)
            return fail(c->l, 1, "column \"%s\" appears twice in the header (columns %ld "
                        "and %zu)", name, dup + 1, i + 1);
        colset_add(cols, name, len);
    }
    c->off.n = 0;
    c->w = c->text;
    return true;
}

static bool csv_rows(csv_parser *c)
{
    size_t columns = c->l->d->cols.off.n;
    while (c->p < c->end) {
        unsigned line = c->line;
        size_t first = c->off.n, n;
        char *row = c->w;
        if (!csv_row(c, &n))
            return false;
        if (n != columns)
            return fail(c->l, line, "row has %zu field%s, the header has %zu", n,
                        n == 1 ? "" : "s", columns);
        if (!keep_row(c->l)) {
            c->off.n = first;
            c->w = row;
        }
    }
    return true;
}

/* Takes text (len bytes, NUL-terminated); it becomes the cell block or is freed. */
static bool load_csv(loader *l, char *text, size_t len)
{
    csv_parser c = {.l = l, .text = text, .p = text, .end = text + len, .w = text, .line = 1};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;
    while (c.end > c.p && (c.end[-1] == '\n' || c.end[-1] == '\r'))
        c.end--;   /* blank lines at the end */
    bool ok = c.p == c.end ? fail(l, 0, "no rows")
                           : csv_header(&c) && csv_rows(&c) && check_rows(l);
    if (!ok) {
        free(text);
        free(c.off.v);
        return false;
    }
    size_t used = (size_t)(c.w - text);
    sizes_push(&c.off, used);
    l->d->text = xrealloc(text, used);
    l->d->off = xrealloc(c.off.v, c.off.n * sizeof *c.off.v);
    return true;
}

/* ---- JSON lines ----------------------------------------------------------------------- */

/* A cell of a kept row, waiting until every column is known. */
typedef struct pending {
    size_t col, off, len;
    bool json;
} pending;

typedef struct jsonl {
    loader *l;
    sbuf cells;          /* the cells' text, each followed by a NUL */
    pending *v;
    size_t n, cap;
    sizes row_start;     /* first pending cell of each kept row */
} jsonl;

static bool blank(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            return false;
    return true;
}

static const char *a_type(json_type t)
{
    switch (t) {
    case JSON_NULL:
        return "null";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_NUMBER:
        return "a number";
    default:
        return "a boolean";
    }
}

static void jsonl_cell(jsonl *j, size_t col, const json_value *v)
{
    if (j->n == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 64;
        j->v = xrealloc(j->v, j->cap * sizeof *j->v);
    }
    pending *p = &j->v[j->n++];
    p->col = col;
    p->off = j->cells.len;
    p->json = v->type != JSON_STRING;
    if (p->json)
        json_write_value(&j->cells, v);
    else
        sbuf_add(&j->cells, v->str.s, v->str.len);
    p->len = j->cells.len - p->off;
    sbuf_putc(&j->cells, '\0');
}

static bool jsonl_line(jsonl *j, const char *s, size_t len, unsigned line)
{
    colset *cols = &j->l->d->cols;
    json_error je;
    json_value *v = json_parse(s, len, 0, &je);
    if (!v)
        return fail_at(j->l, line, je.col, "%s", je.msg);
    if (v->type != JSON_OBJECT) {
        json_type t = v->type;
        json_free(v);
        return fail(j->l, line, "expected a JSON object, found %s", a_type(t));
    }
    bool keep = keep_row(j->l);
    if (keep)
        sizes_push(&j->row_start, j->n);
    for (size_t i = 0; i < v->obj.count; i++) {
        const json_member *m = &v->obj.members[i];
        if (memchr(m->key, '\0', m->key_len)) {   /* as a CSV header's NUL */
            unsigned col = m->col;
            json_free(v);
            return fail_at(j->l, line, col, "key holds a NUL byte (\\u0000)");
        }
        long col = colset_find(cols, m->key, m->key_len);
        if (col < 0)
            col = (long)colset_add(cols, m->key, m->key_len);
        if (keep)
            jsonl_cell(j, (size_t)col, &m->value);
    }
    json_free(v);
    return true;
}

/* Lays the pending cells out row by row in column order, an empty string for each key a
 * line lacks. */
static void jsonl_layout(jsonl *j)
{
    data_source *d = j->l->d;
    size_t columns = d->cols.off.n, cells = d->rows * columns;
    d->text = xmalloc(j->cells.len + (cells - j->n));
    d->off = xmalloc((cells + 1) * sizeof *d->off);
    d->json = xcalloc(cells / 8 + 1, 1);
    size_t *at = xmalloc(columns * sizeof *at);   /* pending index of each column, or n */
    for (size_t c = 0; c < columns; c++)
        at[c] = j->n;
    sizes_push(&j->row_start, j->n);
    size_t w = 0;
    for (size_t r = 0; r < d->rows; r++) {
        for (size_t k = j->row_start.v[r]; k < j->row_start.v[r + 1]; k++)
            at[j->v[k].col] = k;
        for (size_t c = 0, i = r * columns; c < columns; c++, i++) {
            d->off[i] = w;
            if (at[c] == j->n) {
                d->text[w++] = '\0';
                continue;
            }
            const pending *p = &j->v[at[c]];
            memcpy(d->text + w, j->cells.s + p->off, p->len + 1);
            w += p->len + 1;
            if (p->json)
                d->json[i / 8] |= (unsigned char)(1u << (i % 8));
            at[c] = j->n;
        }
    }
    d->off[cells] = w;
    free(at);
}

/* Takes text (len bytes); frees it. */
static bool load_jsonl(loader *l, char *text, size_t len)
{
    jsonl j = {.l = l};
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    bool ok = true;
    for (unsigned line = 1; ok && p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (!blank(p, eol))
            ok = jsonl_line(&j, p, (size_t)(eol - p), line);
        p = eol + 1;
    }
    free(text);
    ok = ok && check_rows(l);
    size_t columns = l->d->cols.off.n;
    if (ok && l->d->rows > l->limit / columns)
        ok = fail(l, 0, "%zu rows by %zu columns is too sparse to load (most lines lack "
                  "most keys)", l->d->rows, columns);
    if (ok)
        jsonl_layout(&j);
    sbuf_free(&j.cells);
    free(j.v);
    free(j.row_start.v);
    return ok;
}

/* ---- the source ----------------------------------------------------------------------- */

static const char *extension(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) ? dot : "";
}

static void unique_init(data_source *d)
{
    d->ring = xmalloc(d->rows * sizeof *d->ring);
    for (size_t r = 0; r < d->rows; r++)
        d->ring[r] = r;
    d->ring_count = d->rows;
    d->held = xcalloc(d->rows, sizeof *d->held);
}

data_source *data_load(const char *name, const char *path, enum data_mode mode,
                       enum data_exhausted on_exhausted, unsigned worker, unsigned workers,
                       char *err, size_t errlen)
{
    data_source *d = xcalloc(1, sizeof *d);
    d->name = xstrdup(name);
    d->mode = mode;
    d->on_exhausted = on_exhausted;
    loader l = {.path = path, .err = err, .errlen = errlen, .worker = worker,
                .workers = workers, .d = d};
    const char *ext = extension(path);
    bool csv = strcasecmp(ext, ".csv") == 0;
    bool ok = true;
    if (!csv && strcasecmp(ext, ".jsonl") != 0 && strcasecmp(ext, ".ndjson") != 0)
        ok = fail(&l, 0, "unknown data file type (expected .csv, .jsonl or .ndjson)");
    else if (worker >= workers)
        ok = fail(&l, 0, "worker %u is out of range for %u workers", worker, workers);
    size_t len = 0;
    char *text = ok ? read_all(&l, &len) : NULL;
    l.limit = 16 * len + (1u << 20);
    ok = text && (csv ? load_csv(&l, text, len) : load_jsonl(&l, text, len));
    if (!ok) {
        data_free(d);
        return NULL;
    }
    if (mode == DATA_UNIQUE)
        unique_init(d);
    return d;
}

void data_free(data_source *d)
{
    if (!d)
        return;
    free(d->name);
    colset_free(&d->cols);
    free(d->text);
    free(d->off);
    free(d->json);
    free(d->ring);
    free(d->held);
    free(d);
}

const char *data_name(const data_source *d)
{
    return d->name;
}

size_t data_rows(const data_source *d)
{
    return d->rows;
}

enum data_mode data_mode_of(const data_source *d)
{
    return d->mode;
}

enum data_exhausted data_on_exhausted(const data_source *d)
{
    return d->on_exhausted;
}

int data_column(const data_source *d, const char *name)
{
    return (int)colset_find(&d->cols, name, strlen(name));
}

size_t data_columns(const data_source *d)
{
    return d->cols.off.n;
}

const char *data_column_name(const data_source *d, size_t c)
{
    assert(c < d->cols.off.n);
    size_t len;
    return colset_name(&d->cols, c, &len);
}

long data_take(data_source *d)
{
    switch (d->mode) {
    case DATA_SEQUENTIAL:
        if (d->cursor == d->rows) {
            if (d->on_exhausted != DATA_RECYCLE)
                return -1;
            d->cursor = 0;
        }
        return (long)d->cursor++;
    case DATA_RANDOM:
        return (long)rng_below(d->rows);
    case DATA_UNIQUE:
        break;
    }
    if (!d->ring_count)
        return -1;
    size_t r = d->ring[d->ring_head];
    d->ring_head = (d->ring_head + 1) % d->rows;
    d->ring_count--;
    d->held[r] = true;
    return (long)r;
}

/* A row that is not held (released twice, never taken) is ignored, so a double release
 * cannot put a row in the ring twice and hand it to two users. */
void data_release(data_source *d, long row)
{
    if (d->mode != DATA_UNIQUE || row < 0 || (size_t)row >= d->rows || !d->held[row])
        return;
    d->held[row] = false;
    d->ring[(d->ring_head + d->ring_count) % d->rows] = (size_t)row;
    d->ring_count++;
}

const char *data_cell(const data_source *d, long r, size_t c, size_t *len, bool *json)
{
    size_t columns = d->cols.off.n;
    assert(r >= 0 && (size_t)r < d->rows && c < columns);
    size_t i = (size_t)r * columns + c;
    if (len)
        *len = d->off[i + 1] - d->off[i] - 1;
    if (json)
        *json = d->json && (d->json[i / 8] >> (i % 8) & 1);
    return d->text + d->off[i];
}

size_t data_held(const data_source *d)
{
    return d->mode == DATA_UNIQUE ? d->rows - d->ring_count : 0;
}
