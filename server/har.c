/* HAR import (see har.h).
 *
 * Two passes: the first reads every entry of log.entries into a `hreq`, or counts why it
 * is left out; the second picks the host, groups the kept requests into tasks and writes
 * the scenario. The scenario is first written compactly with json_writer, then parsed back
 * and pretty-printed, so the text is valid JSON by construction and the layout is decided
 * in one place.
 *
 * Every string that becomes a template in cicada (URL, header values, JSON string values,
 * form values, raw bodies) is written with each "{{" as {{'{{'}}, the template syntax's
 * literal, so recorded text is sent as it was recorded and never read as a template. */
#include "har.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "request.h"
#include "xalloc.h"

/* Pauses longer than THINK_MIN seconds between two requests of a page become think
 * steps, rounded to tenths and capped at THINK_MAX_TENTHS. */
#define THINK_MIN 0.5
#define THINK_MAX_TENTHS 100
/* Deepest request body written as "json": the scenario nests it 8 levels down, and the
 * loader's parser stops at JSON_MAX_DEPTH. Deeper bodies are sent as text. */
#define BODY_MAX_DEPTH (JSON_MAX_DEPTH - 16)
/* Objects and arrays that fit on a line this wide stay on one line. */
#define LINE_WIDTH 100

enum har_body { B_NONE, B_JSON, B_FORM, B_RAW, B_LOST };

typedef struct pair {
    char *name, *value;         /* NUL-terminated, valid UTF-8 without NUL */
} pair;

typedef struct pairs {
    pair *v;
    int n;
} pairs;

/* One request to replay. */
typedef struct hreq {
    int entry;                  /* 1-based index in log.entries */
    char *method;               /* upper case */
    char *origin;               /* "scheme://host[:port]", lower case, no default port */
    char *rel;                  /* path and query, starting with '/' */
    const char *pageref;        /* in the HAR document; NULL: none */
    double t;                   /* start, seconds since the epoch, when has_t */
    bool has_t;
    pairs headers;
    enum har_body body;
    pairs form;                 /* B_FORM */
    bool form_repeats;          /* a name occurs twice: written as [name, value] pairs */
    bool json_braces;           /* a string in the JSON body holds "{{" */
    const char *text;           /* B_JSON (valid JSON text) and B_RAW; in the document */
    size_t text_len;
    char *lost;                 /* B_LOST: the step's description (owned) */
} hreq;

typedef struct htask {
    const char *pageref;        /* NULL: the entries without a page */
    char *name;
    int *reqs;                  /* indexes into conv.reqs, in recorded order */
    int n;
} htask;

typedef struct conv {
    const char *path;
    const har_opts *o;
    har_report *rep;
    char *err;
    size_t errlen;
    const json_value *pages;    /* log.pages, or NULL */
    hreq *reqs;
    int n;
    htask *tasks;
    int ntasks;
    char **redirects;           /* absolute URLs a kept request redirects to */
    int nredirects;
    char date[11];              /* "YYYY-MM-DD" of the first dated entry, or "" */
} conv;

/* ---- errors and warnings ------------------------------------------------------------- */

/* Writes "path[:line:col]: [entry N: ]message" into the caller's buffer, the position
 * being v's (none for NULL), on one line whatever the input held. Returns -1. */
__attribute__((format(printf, 4, 5)))
static int conv_fail(conv *c, const json_value *v, int entry, const char *fmt, ...)
{
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, c->path);
    if (v)
        sbuf_printf(&b, ":%u:%u", v->line, v->col);
    sbuf_puts(&b, ": ");
    if (entry)
        sbuf_printf(&b, "entry %d: ", entry);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (c->err && c->errlen) {
        snprintf(c->err, c->errlen, "%s", sbuf_str(&b));
        for (char *p = c->err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    }
    sbuf_free(&b);
    return -1;
}

__attribute__((format(printf, 3, 4)))
static void warn(conv *c, int entry, const char *fmt, ...)
{
    sbuf *w = &c->rep->warnings;
    size_t start = w->len;
    sbuf_printf(w, "%s: entry %d: ", c->path, entry);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(w, fmt, ap);
    va_end(ap);
    for (size_t i = start; i < w->len; i++)
        if ((unsigned char)w->s[i] < 0x20 || w->s[i] == 0x7f)
            w->s[i] = '?';
    sbuf_putc(w, '\n');
}

/* ---- small helpers ------------------------------------------------------------------- */

static const char *str_of(const json_value *v)
{
    return v && v->type == JSON_STRING ? v->str.s : NULL;
}

static bool has_braces(const char *s, size_t n)
{
    return n >= 2 && memmem(s, n, "{{", 2) != NULL;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char ch = s[i];
        size_t len = ch < 0x80 ? 1 : (ch & 0xE0) == 0xC0 ? 2 : (ch & 0xF0) == 0xE0 ? 3
                                     : (ch & 0xF8) == 0xF0 ? 4 : 0;
        if (ch == 0 || len == 0 || i + len > n || (len == 2 && ch < 0xC2) ||
            (len == 4 && ch > 0xF4))
            return false;
        uint32_t cp = len == 1 ? ch : ch & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += len;
    }
    return true;
}

static void pairs_add(pairs *p, const char *name, size_t nlen, const char *value, size_t vlen)
{
    p->v = xrealloc(p->v, (size_t)(p->n + 1) * sizeof *p->v);
    p->v[p->n].name = xstrndup(name, nlen);
    p->v[p->n].value = xstrndup(value, vlen);
    p->n++;
}

static void pairs_free(pairs *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

static void hreq_free(hreq *r)
{
    free(r->method);
    free(r->origin);
    free(r->rel);
    pairs_free(&r->headers);
    pairs_free(&r->form);
    free(r->lost);
}

/* ---- dates --------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n decimal digits at *p, moved past. */
static bool digits(const char **p, int n, long *out)
{
    long v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return false;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return true;
}

/* An ISO 8601 date and time as HAR writes it ("2024-03-05T10:15:30.123+01:00", "...Z"),
 * in seconds since the epoch. No zone counts as UTC: only differences matter here. */
static bool parse_time(const char *s, double *out)
{
    long y, mo, d, h, mi, sec, zh = 0, zm = 0;
    double frac = 0;
    const char *p = s;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d) || (*p != 'T' && *p != ' ') || !(++p, digits(&p, 2, &h)) ||
        *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' || !digits(&p, 2, &sec))
        return false;
    if (*p == '.' || *p == ',') {
        double scale = 0.1;
        if (!isdigit((unsigned char)*++p))
            return false;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        if (!digits(&p, 2, &zh))
            return false;
        if (*p == ':')
            p++;
        if (*p && !digits(&p, 2, &zm))
            return false;
        zh *= sign;
        zm *= sign;
    } else if (*p == 'Z') {
        p++;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 60)
        return false;
    *out = (double)days_from_civil(y, mo, d) * 86400 + (double)(h * 3600 + mi * 60 + sec) +
           frac - (double)(zh * 3600 + zm * 60);
    return true;
}

/* ---- URLs ---------------------------------------------------------------------------- */

enum { URL_OK, URL_OTHER, URL_RELATIVE, URL_NO_HOST };

/* URL_OK for http(s) (*slen: the scheme's length), URL_OTHER for another scheme (data:,
 * blob:, ws: ...), URL_RELATIVE for no scheme. */
static int url_scheme(const char *url, size_t *slen)
{
    *slen = strncasecmp(url, "http://", 7) == 0    ? 4
            : strncasecmp(url, "https://", 8) == 0 ? 5
                                                   : 0;
    if (*slen)
        return URL_OK;
    const char *p = url;
    if (!isalpha((unsigned char)*p))
        return URL_RELATIVE;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return *p == ':' ? URL_OTHER : URL_RELATIVE;
}

/* Splits an absolute http(s) URL into its origin (scheme and host in lower case, default
 * port dropped) and its path and query (fragment dropped; spaces, controls and non-ASCII
 * bytes percent-encoded, as a browser sends them). *origin and *rel are new strings only
 * when URL_OK is returned. */
static int split_url(const char *url, char **origin, char **rel)
{
    size_t slen;
    int kind = url_scheme(url, &slen);
    if (kind != URL_OK)
        return kind;
    const char *auth = url + slen + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', alen);
    const char *host = at ? at + 1 : auth, *aend = auth + alen;
    if (host == aend || *host == ':')
        return URL_NO_HOST;
    for (const char *p = auth; p < aend; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return URL_NO_HOST;
    /* the port's colon comes after an IPv6 literal's "]" */
    const char *close = *host == '[' ? memchr(host, ']', (size_t)(aend - host)) : NULL;
    const char *from = close ? close : host;
    const char *colon = memrchr(from, ':', (size_t)(aend - from));
    const char *hend = colon ? colon : aend;
    const char *port = colon ? colon + 1 : aend;
    size_t plen = (size_t)(aend - port);

    sbuf o = SBUF_INIT;
    for (size_t i = 0; i < slen; i++)
        sbuf_putc(&o, (char)tolower((unsigned char)url[i]));
    sbuf_puts(&o, "://");
    sbuf_add(&o, auth, (size_t)(host - auth));
    for (const char *p = host; p < hend; p++)
        sbuf_putc(&o, (char)tolower((unsigned char)*p));
    bool dflt = plen == 0 || (slen == 4 && plen == 2 && memcmp(port, "80", 2) == 0) ||
                (slen == 5 && plen == 3 && memcmp(port, "443", 3) == 0);
    if (!dflt) {
        sbuf_putc(&o, ':');
        sbuf_add(&o, port, plen);
    }
    *origin = sbuf_take(&o);

    static const char hex[] = "0123456789ABCDEF";
    sbuf r = SBUF_INIT;
    if (*aend != '/')
        sbuf_putc(&r, '/');
    for (const char *p = aend; *p && *p != '#'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch >= 0x7f) {
            sbuf_putc(&r, '%');
            sbuf_putc(&r, hex[ch >> 4]);
            sbuf_putc(&r, hex[ch & 15]);
        } else {
            sbuf_putc(&r, (char)ch);
        }
    }
    *rel = sbuf_take(&r);
    return URL_OK;
}

/* The absolute URL a redirect leads to, from its Location as recorded (absolute, "//host",
 * "/path" or relative to the redirecting request's directory); NULL when unusable. */
static char *redirect_target(const hreq *r, const char *loc)
{
    char *origin, *rel;
    size_t slen;
    sbuf b = SBUF_INIT;
    if (strncmp(loc, "//", 2) == 0) {
        sbuf_add(&b, r->origin, (size_t)(strstr(r->origin, "//") - r->origin));
        sbuf_puts(&b, loc);
    } else if (*loc == '/' || *loc == '?') {
        sbuf_puts(&b, r->origin);
        if (*loc == '?')
            sbuf_add(&b, r->rel, strcspn(r->rel, "?"));
        sbuf_puts(&b, loc);
    } else if (url_scheme(loc, &slen) == URL_RELATIVE) {
        size_t dir = strcspn(r->rel, "?");
        while (dir > 0 && r->rel[dir - 1] != '/')
            dir--;
        sbuf_printf(&b, "%s%.*s%s", r->origin, (int)dir, r->rel, loc);
    } else {
        sbuf_puts(&b, loc);
    }
    char *out = NULL;
    if (split_url(sbuf_str(&b), &origin, &rel) == URL_OK) {
        sbuf_reset(&b);
        sbuf_printf(&b, "%s%s", origin, rel);
        out = sbuf_take(&b);
        free(origin);
        free(rel);
    }
    sbuf_free(&b);
    return out;
}

/* ---- what is left out ---------------------------------------------------------------- */

static bool static_path(const char *rel)
{
    static const char *const exts[] = {
        "js", "mjs", "css", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif",
        "woff", "woff2", "ttf", "otf", "eot", "map", "mp4", "webm"};
    size_t n = strcspn(rel, "?");
    size_t dot = n;
    while (dot > 0 && rel[dot - 1] != '.' && rel[dot - 1] != '/')
        dot--;
    if (dot == 0 || rel[dot - 1] != '.')
        return false;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (strlen(exts[i]) == n - dot && strncasecmp(rel + dot, exts[i], n - dot) == 0)
            return true;
    return false;
}

static bool static_mime(const json_value *entry)
{
    const char *m = str_of(json_get(json_get(json_get(entry, "response"), "content"),
                                    "mimeType"));
    if (!m)
        return false;
    while (*m == ' ')
        m++;
    size_t n = strcspn(m, "; ");
    static const char *const types[] = {"text/css", "application/javascript",
                                        "text/javascript"};
    if ((n > 6 && strncasecmp(m, "image/", 6) == 0) ||
        (n > 5 && strncasecmp(m, "font/", 5) == 0))
        return true;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strlen(types[i]) == n && strncasecmp(m, types[i], n) == 0)
            return true;
    return false;
}

/* A request the replay makes by itself: a kept request before it redirects here. */
static bool followed_redirect(conv *c, const hreq *r)
{
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%s%s", r->origin, r->rel);
    bool found = false;
    for (int i = 0; i < c->nredirects && !found; i++) {
        if (strcmp(c->redirects[i], sbuf_str(&b)) == 0) {
            free(c->redirects[i]);
            c->redirects[i] = c->redirects[--c->nredirects];
            found = true;
        }
    }
    sbuf_free(&b);
    return found;
}

/* Remembers where a replayed request's redirect leads (cicada follows redirects). */
static void note_redirect(conv *c, const hreq *r, const json_value *entry)
{
    const json_value *resp = json_get(entry, "response"), *st = json_get(resp, "status");
    const char *loc = str_of(json_get(resp, "redirectURL"));
    if (!st || st->type != JSON_NUMBER || !st->num.is_int || !loc || !*loc)
        return;
    int64_t s = st->num.i;
    if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308)
        return;
    char *target = redirect_target(r, loc);
    if (!target)
        return;
    c->redirects = xrealloc(c->redirects, (size_t)(c->nredirects + 1) * sizeof *c->redirects);
    c->redirects[c->nredirects++] = target;
}

/* ---- headers ------------------------------------------------------------------------- */

static bool header_kept(const char *name, bool has_body)
{
    return strcasecmp(name, "accept") == 0 || strcasecmp(name, "authorization") == 0 ||
           strncasecmp(name, "x-", 2) == 0 ||
           (has_body && strcasecmp(name, "content-type") == 0);
}

/* A header name (never empty here: it starts like one of the kept names). */
static bool token(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch))
            return false;
    }
    return true;
}

/* The kept headers; a name given twice gets its values joined with ", " (RFC 9110). */
static void read_headers(conv *c, hreq *r, const json_value *hs)
{
    bool has_body = r->body != B_NONE && r->body != B_LOST;
    for (size_t i = 0; hs && hs->type == JSON_ARRAY && i < hs->arr.count; i++) {
        const json_value *h = &hs->arr.items[i], *nv = json_get(h, "name"),
                         *vv = json_get(h, "value");
        if (!nv || nv->type != JSON_STRING || !vv || vv->type != JSON_STRING ||
            !header_kept(nv->str.s, has_body))
            continue;
        if (!token(nv->str.s, nv->str.len)) {
            warn(c, r->entry, "header \"%.100s\" left out: not a valid header name",
                 nv->str.s);
            continue;
        }
        if (memchr(vv->str.s, '\r', vv->str.len) || memchr(vv->str.s, '\n', vv->str.len) ||
            memchr(vv->str.s, '\0', vv->str.len)) {
            warn(c, r->entry, "header \"%s\" left out: its value has a line break or NUL",
                 nv->str.s);
            continue;
        }
        int k = 0;
        while (k < r->headers.n && strcasecmp(r->headers.v[k].name, nv->str.s) != 0)
            k++;
        if (k == r->headers.n) {
            pairs_add(&r->headers, nv->str.s, nv->str.len, vv->str.s, vv->str.len);
            continue;
        }
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "%s, %s", r->headers.v[k].value, vv->str.s);
        free(r->headers.v[k].value);
        r->headers.v[k].value = sbuf_take(&b);
    }
}

/* ---- bodies -------------------------------------------------------------------------- */

static int hexval(char ch)
{
    return isdigit((unsigned char)ch) ? ch - '0'
           : isxdigit((unsigned char)ch) ? tolower((unsigned char)ch) - 'a' + 10 : -1;
}

/* Form decoding: '+' is a space, %XX a byte. */
static void form_decode(sbuf *b, const char *s, size_t n)
{
    sbuf_reset(b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            sbuf_putc(b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            sbuf_putc(b, s[i] == '+' ? ' ' : s[i]);
        }
    }
}

/* Parses a urlencoded body into decoded pairs. False when a decoded name or value is not
 * text (invalid UTF-8 or NUL): the body is then replayed as recorded. */
static bool parse_form(const char *s, size_t n, pairs *out)
{
    sbuf name = SBUF_INIT, value = SBUF_INIT;
    bool ok = true;
    for (size_t i = 0; i < n && ok;) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t len = amp ? (size_t)(amp - (s + i)) : n - i;
        const char *eq = memchr(s + i, '=', len);
        size_t nlen = eq ? (size_t)(eq - (s + i)) : len;
        if (len) {
            form_decode(&name, s + i, nlen);
            form_decode(&value, eq ? eq + 1 : "", eq ? len - nlen - 1 : 0);
            ok = valid_utf8((const unsigned char *)sbuf_str(&name), name.len) &&
                 valid_utf8((const unsigned char *)sbuf_str(&value), value.len);
            if (ok)
                pairs_add(out, sbuf_str(&name), name.len, sbuf_str(&value), value.len);
        }
        i += len + 1;
    }
    sbuf_free(&name);
    sbuf_free(&value);
    if (!ok || out->n == 0)
        pairs_free(out);
    return ok && out->n > 0;
}

/* Pairs from postData.params (as given: without text there is nothing to decode). */
static bool params_form(const json_value *params, pairs *out)
{
    for (size_t i = 0; params && params->type == JSON_ARRAY && i < params->arr.count; i++) {
        const json_value *nv = json_get(&params->arr.items[i], "name"),
                         *vv = json_get(&params->arr.items[i], "value");
        if (!nv || nv->type != JSON_STRING || !valid_utf8((const unsigned char *)nv->str.s,
                                                          nv->str.len))
            continue;
        bool text = vv && vv->type == JSON_STRING &&
                    valid_utf8((const unsigned char *)vv->str.s, vv->str.len);
        pairs_add(out, nv->str.s, nv->str.len, text ? vv->str.s : "", text ? vv->str.len : 0);
    }
    return out->n > 0;
}

static bool form_repeats(const pairs *p)
{
    for (int i = 0; i < p->n; i++)
        for (int k = 0; k < i; k++)
            if (strcmp(p->v[i].name, p->v[k].name) == 0)
                return true;
    return false;
}

static size_t json_depth(const json_value *v)
{
    size_t d = 0, n = v->type == JSON_ARRAY ? v->arr.count
                      : v->type == JSON_OBJECT ? v->obj.count : 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = json_depth(v->type == JSON_ARRAY ? &v->arr.items[i]
                                                    : &v->obj.members[i].value);
        if (k > d)
            d = k;
    }
    return d + (v->type == JSON_ARRAY || v->type == JSON_OBJECT);
}

/* A string value (not a key) anywhere in v holds "{{". */
static bool json_braces(const json_value *v)
{
    if (v->type == JSON_STRING)
        return has_braces(v->str.s, v->str.len);
    size_t n = v->type == JSON_ARRAY ? v->arr.count : v->type == JSON_OBJECT ? v->obj.count : 0;
    for (size_t i = 0; i < n; i++)
        if (json_braces(v->type == JSON_ARRAY ? &v->arr.items[i] : &v->obj.members[i].value))
            return true;
    return false;
}

/* Text that is a JSON document the scenario can hold as "json". *braces: a string in it
 * holds "{{". */
static bool json_body(const char *s, size_t n, bool *braces)
{
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        return false;
    json_value *v = json_parse(s, n, 0, NULL);
    bool ok = v && json_depth(v) <= BODY_MAX_DEPTH;
    *braces = ok && json_braces(v);
    json_free(v);
    return ok;
}

static void body_text(hreq *r, enum har_body kind, const json_value *tv)
{
    r->body = kind;
    r->text = tv->str.s;
    r->text_len = tv->str.len;
}

/* The step's description for a body the HAR file does not hold. */
static char *lost_body(const char *mime)
{
    sbuf d = SBUF_INIT;
    size_t mlen = strcspn(mime, ";");
    while (mlen && mime[mlen - 1] == ' ')
        mlen--;
    sbuf_puts(&d, "The request body");
    if (mlen)
        sbuf_printf(&d, " (%.*s)", (int)mlen, mime);
    sbuf_puts(&d, " is not in the HAR file: add it as \"body\" or \"form\".");
    return sbuf_take(&d);
}

/* Reads postData into r->body: JSON, a form, text, or a body the file lacks. */
static void read_body(hreq *r, const json_value *pd)
{
    if (!pd || pd->type != JSON_OBJECT)
        return;
    const char *mime = str_of(json_get(pd, "mimeType"));
    const json_value *tv = json_get(pd, "text"), *params = json_get(pd, "params");
    bool has_params = params && params->type == JSON_ARRAY && params->arr.count;
    bool text = tv && tv->type == JSON_STRING && tv->str.len;
    mime = mime ? mime : "";
    if (tv && tv->type == JSON_STRING && !text && !has_params)
        return; /* an empty body, recorded as such */
    if (text && strcasestr(mime, "json") && json_body(tv->str.s, tv->str.len, &r->json_braces)) {
        body_text(r, B_JSON, tv);
        return;
    }
    /* Text first: Chrome's params are the text split at '&' and '=', still encoded. */
    if (strncasecmp(mime, "application/x-www-form-urlencoded", 33) == 0 &&
        (text ? parse_form(tv->str.s, tv->str.len, &r->form) : params_form(params, &r->form))) {
        r->body = B_FORM;
        r->form_repeats = form_repeats(&r->form);
    } else if (text) {
        body_text(r, B_RAW, tv);
    } else {
        r->body = B_LOST;
        r->lost = lost_body(mime);
    }
}

/* ---- pass 1: entries ----------------------------------------------------------------- */

/* Fills r from the entry's request; -1 on a malformed entry, 1 when it is left out. */
static int read_request(conv *c, const json_value *e, hreq *r)
{
    const json_value *req = json_get(e, "request"), *url, *mv;
    if (e->type != JSON_OBJECT)
        return conv_fail(c, e, r->entry, "not an object");
    if (!req || req->type != JSON_OBJECT)
        return conv_fail(c, req ? req : e, r->entry, "no \"request\" object");
    if (!(url = json_get(req, "url")) || url->type != JSON_STRING)
        return conv_fail(c, url ? url : req, r->entry, "request has no \"url\"");
    switch (split_url(url->str.s, &r->origin, &r->rel)) {
    case URL_OTHER:
        c->rep->other_skipped++;
        return 1;
    case URL_RELATIVE:
        return conv_fail(c, url, r->entry, "\"%.200s\" is not an absolute URL", url->str.s);
    case URL_NO_HOST:
        return conv_fail(c, url, r->entry, "URL \"%.200s\" has no valid host", url->str.s);
    }
    mv = json_get(req, "method");
    if (mv && mv->type != JSON_STRING)
        return conv_fail(c, mv, r->entry, "request \"method\" must be a string");
    if (mv && !request_method_ok(mv->str.s))
        return conv_fail(c, mv, r->entry, "\"%.40s\" is not an HTTP method", mv->str.s);
    r->method = xstrdup(mv ? mv->str.s : "GET");
    for (char *p = r->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    r->pageref = str_of(json_get(e, "pageref"));
    if (r->pageref && !*r->pageref)
        r->pageref = NULL;
    return 0;
}

static void read_time(conv *c, const json_value *e, hreq *r)
{
    const char *t = str_of(json_get(e, "startedDateTime"));
    if (!t)
        return;
    r->has_t = parse_time(t, &r->t);
    if (!r->has_t)
        warn(c, r->entry, "startedDateTime \"%.60s\" is not an ISO 8601 date and time: no "
             "pause recorded before this request", t);
    else if (!c->date[0])
        memcpy(c->date, t, 10);
}

/* Reads one entry: kept (0, c->n grows), left out (0) or malformed (-1). */
static int read_entry(conv *c, const json_value *e, int index)
{
    hreq r = {.entry = index};
    int rc = read_request(c, e, &r);
    if (rc) {
        hreq_free(&r);
        return rc < 0 ? -1 : 0;
    }
    read_time(c, e, &r);
    if (followed_redirect(c, &r)) {
        c->rep->redirects_skipped++;
        note_redirect(c, &r, e);
        hreq_free(&r);
        return 0;
    }
    if (!c->o->keep_static && (static_path(r.rel) || static_mime(e))) {
        c->rep->static_skipped++;
        hreq_free(&r);
        return 0;
    }
    const json_value *req = json_get(e, "request");
    read_body(&r, json_get(req, "postData"));
    read_headers(c, &r, json_get(req, "headers"));
    note_redirect(c, &r, e);
    c->reqs = xrealloc(c->reqs, (size_t)(c->n + 1) * sizeof *c->reqs);
    c->reqs[c->n++] = r;
    return 0;
}

static int read_har(conv *c, const json_value *root)
{
    const json_value *log = json_get(root, "log");
    if (!log || log->type != JSON_OBJECT)
        return conv_fail(c, log ? log : root, 0, "not a HAR file: no \"log\" object");
    const json_value *entries = json_get(log, "entries");
    if (!entries || entries->type != JSON_ARRAY)
        return conv_fail(c, entries ? entries : log, 0,
                         "not a HAR file: \"log\" has no \"entries\" array");
    c->pages = json_get(log, "pages");
    for (size_t i = 0; i < entries->arr.count; i++)
        if (read_entry(c, &entries->arr.items[i], (int)i + 1))
            return -1;
    return 0;
}

/* ---- pass 2: host, tasks, names ------------------------------------------------------ */

/* The most frequent origin; the first seen among equals. */
static const char *pick_host(const conv *c)
{
    const char **origins = xcalloc((size_t)c->n, sizeof *origins);
    int *counts = xcalloc((size_t)c->n, sizeof *counts), norigins = 0, best = 0;
    for (int i = 0; i < c->n; i++) {
        int k = 0;
        while (k < norigins && strcmp(origins[k], c->reqs[i].origin) != 0)
            k++;
        if (k == norigins)
            origins[norigins++] = c->reqs[i].origin;
        counts[k]++;
    }
    for (int k = 1; k < norigins; k++)
        if (counts[k] > counts[best])
            best = k;
    const char *host = origins[best];
    free(origins);
    free(counts);
    return host;
}

static bool task_name_taken(const conv *c, const char *name)
{
    for (int i = 0; i < c->ntasks; i++)
        if (c->tasks[i].name && strcmp(c->tasks[i].name, name) == 0)
            return true;
    return false;
}

/* The page's title (else its id), control characters made spaces, made unique. */
static char *task_name(const conv *c, const char *pageref)
{
    const char *title = NULL;
    for (size_t i = 0; pageref && c->pages && c->pages->type == JSON_ARRAY &&
                       i < c->pages->arr.count && !title; i++) {
        const json_value *pg = &c->pages->arr.items[i];
        const char *id = str_of(json_get(pg, "id"));
        if (id && strcmp(id, pageref) == 0)
            title = str_of(json_get(pg, "title"));
    }
    if (!title || !*title)
        title = pageref ? pageref : "requests";
    char *base = xstrdup(title);
    for (char *p = base; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (!task_name_taken(c, base))
        return base;
    sbuf b = SBUF_INIT;
    for (int k = 2;; k++) {
        sbuf_reset(&b);
        sbuf_printf(&b, "%s (%d)", base, k);
        if (!task_name_taken(c, sbuf_str(&b)))
            break;
    }
    free(base);
    return sbuf_take(&b);
}

/* Tasks in the order of their first request; requests in recorded order. */
static void group_tasks(conv *c)
{
    for (int i = 0; i < c->n; i++) {
        const char *ref = c->reqs[i].pageref;
        int t = 0;
        while (t < c->ntasks && !(ref ? c->tasks[t].pageref && !strcmp(c->tasks[t].pageref, ref)
                                      : !c->tasks[t].pageref))
            t++;
        if (t == c->ntasks) {
            c->tasks = xrealloc(c->tasks, (size_t)(c->ntasks + 1) * sizeof *c->tasks);
            c->tasks[t] = (htask){.pageref = ref};
            c->tasks[t].name = task_name(c, ref);
            c->ntasks++;
        }
        htask *tk = &c->tasks[t];
        tk->reqs = xrealloc(tk->reqs, (size_t)(tk->n + 1) * sizeof *tk->reqs);
        tk->reqs[tk->n++] = i;
    }
}

static bool all_of(const char *s, size_t n, int (*pred)(int))
{
    for (size_t i = 0; i < n; i++)
        if (!pred((unsigned char)s[i]))
            return false;
    return n > 0;
}

/* A path segment that names one object rather than a kind: digits, a UUID, a long hex
 * string, or a long mix of letters and digits. */
static bool id_like(const char *s, size_t n)
{
    if (all_of(s, n, isdigit) || (n >= 16 && all_of(s, n, isxdigit)))
        return true;
    if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' &&
        all_of(s, 8, isxdigit) && all_of(s + 9, 4, isxdigit) && all_of(s + 14, 4, isxdigit) &&
        all_of(s + 19, 4, isxdigit) && all_of(s + 24, 12, isxdigit))
        return true;
    bool alpha = false, digit = false;
    for (size_t i = 0; i < n; i++) {
        alpha |= isalpha((unsigned char)s[i]) != 0;
        digit |= isdigit((unsigned char)s[i]) != 0;
    }
    return n >= 12 && alpha && digit && all_of(s, n, isalnum);
}

/* The statistics name: the path with identifier-like segments as "[id]", without the
 * query. NULL when that is the default name (nothing replaced and no query). */
static char *request_name(const char *rel)
{
    size_t plen = strcspn(rel, "?");
    bool replaced = false;
    sbuf b = SBUF_INIT;
    for (size_t i = 0; i < plen;) {
        size_t len = strcspn(rel + i, "/?");
        if (id_like(rel + i, len)) {
            sbuf_puts(&b, "[id]");
            replaced = true;
        } else {
            sbuf_add(&b, rel + i, len);
        }
        i += len;
        if (i < plen) {
            sbuf_putc(&b, '/');
            i++;
        }
    }
    if (!replaced && !rel[plen]) {
        sbuf_free(&b);
        return NULL;
    }
    return sbuf_take(&b);
}

/* ---- writing ------------------------------------------------------------------------- */

/* A string cicada reads as a template, with each "{{" written as the literal {{'{{'}}. */
static void put_text(json_writer *w, const char *s, size_t n)
{
    if (!has_braces(s, n)) {
        json_put_stringn(w, s, n);
        return;
    }
    sbuf t = SBUF_INIT;
    const char *end = s + n, *p;
    for (; (p = memmem(s, (size_t)(end - s), "{{", 2)); s = p + 2) {
        sbuf_add(&t, s, (size_t)(p - s));
        sbuf_puts(&t, "{{'{{'}}");
    }
    sbuf_add(&t, s, (size_t)(end - s));
    json_put_stringn(w, t.s, t.len);
    sbuf_free(&t);
}

/* A JSON body whose strings hold "{{": the same document with put_text's literals. */
static void put_json_text(json_writer *w, const json_value *v)
{
    switch (v->type) {
    case JSON_STRING:
        put_text(w, v->str.s, v->str.len);
        break;
    case JSON_ARRAY:
        json_begin_array(w);
        for (size_t i = 0; i < v->arr.count; i++)
            put_json_text(w, &v->arr.items[i]);
        json_end_array(w);
        break;
    case JSON_OBJECT:
        json_begin_object(w);
        for (size_t i = 0; i < v->obj.count; i++) {
            json_key(w, v->obj.members[i].key);
            put_json_text(w, &v->obj.members[i].value);
        }
        json_end_object(w);
        break;
    default: {
        sbuf t = SBUF_INIT;
        json_write_value(&t, v);
        json_put_raw(w, t.s, t.len);
        sbuf_free(&t);
    }
    }
}

static void put_pairs(json_writer *w, const pairs *p, bool as_pairs)
{
    if (as_pairs) {
        json_begin_array(w);
        for (int i = 0; i < p->n; i++) {
            json_begin_array(w);
            json_put_string(w, p->v[i].name);
            put_text(w, p->v[i].value, strlen(p->v[i].value));
            json_end_array(w);
        }
        json_end_array(w);
        return;
    }
    json_begin_object(w);
    for (int i = 0; i < p->n; i++) {
        json_key(w, p->v[i].name);
        put_text(w, p->v[i].value, strlen(p->v[i].value));
    }
    json_end_object(w);
}

static void put_request(json_writer *w, const hreq *r, const char *host)
{
    json_key(w, "request");
    json_begin_object(w);
    json_key(w, "method");
    json_put_string(w, r->method);
    json_key(w, "url");
    sbuf u = SBUF_INIT;
    sbuf_printf(&u, "%s%s", strcmp(r->origin, host) == 0 ? "" : r->origin, r->rel);
    put_text(w, u.s, u.len);
    char *name = request_name(r->rel);
    /* The statistics name of a URL with literals would be the URL as written. */
    if (!name && has_braces(u.s, u.len))
        name = xstrdup(r->rel);
    sbuf_free(&u);
    if (name) {
        json_key(w, "name");
        json_put_string(w, name);
        free(name);
    }
    if (r->headers.n) {
        json_key(w, "headers");
        put_pairs(w, &r->headers, false);
    }
    switch (r->body) {
    case B_JSON:
        json_key(w, "json");
        if (r->json_braces) {
            json_value *v = json_parse(r->text, r->text_len, 0, NULL);
            put_json_text(w, v);
            json_free(v);
        } else {
            json_put_raw(w, r->text, r->text_len);
        }
        break;
    case B_FORM:
        json_key(w, "form");
        put_pairs(w, &r->form, r->form_repeats);
        break;
    case B_RAW:
        json_key(w, "body");
        put_text(w, r->text, r->text_len);
        break;
    default:
        break;
    }
    json_end_object(w);
}

static void put_task(json_writer *w, const conv *c, const htask *t, const char *host)
{
    json_begin_object(w);
    json_key(w, "name");
    json_put_string(w, t->name);
    json_key(w, "steps");
    json_begin_array(w);
    const hreq *prev = NULL; /* the last request with a start time */
    for (int i = 0; i < t->n; i++) {
        const hreq *r = &c->reqs[t->reqs[i]];
        if (prev && r->has_t && r->t - prev->t > THINK_MIN) {
            long tenths = lround((r->t - prev->t) * 10);
            if (tenths > THINK_MAX_TENTHS)
                tenths = THINK_MAX_TENTHS;
            char num[32];
            int len = snprintf(num, sizeof num, "%ld.%ld", tenths / 10, tenths % 10);
            json_begin_object(w);
            json_key(w, "think");
            json_put_raw(w, num, (size_t)len);
            json_end_object(w);
        }
        json_begin_object(w);
        if (r->lost) {
            json_key(w, "description");
            json_put_string(w, r->lost);
        }
        put_request(w, r, host);
        json_end_object(w);
        if (r->has_t)
            prev = r;
    }
    json_end_array(w);
    json_end_object(w);
}

static void put_scenario(sbuf *b, const conv *c, const char *host)
{
    json_writer w;
    json_writer_init(&w, b);
    json_begin_object(&w);
    json_key(&w, "description");
    sbuf d = SBUF_INIT;
    sbuf_printf(&d, "Recorded from %s", c->path);
    if (c->date[0])
        sbuf_printf(&d, " on %s", c->date);
    sbuf_puts(&d, " (cicada --from-har).");
    json_put_string(&w, sbuf_str(&d));
    sbuf_free(&d);
    json_key(&w, "host");
    json_put_string(&w, host);
    json_key(&w, "users");
    json_begin_array(&w);
    json_begin_object(&w);
    json_key(&w, "name");
    json_put_string(&w, "Recorded");
    json_key(&w, "weight");
    json_put_int(&w, 1);
    json_key(&w, "wait_time");
    json_put_raw(&w, "{\"between\":[1,3]}", 17);
    json_key(&w, "sequential");
    json_put_bool(&w, true);
    json_key(&w, "tasks");
    json_begin_array(&w);
    for (int i = 0; i < c->ntasks; i++)
        put_task(&w, c, &c->tasks[i], host);
    json_end_array(&w);
    json_end_object(&w);
    json_end_array(&w);
    json_end_object(&w);
}

/* ---- pretty printing ----------------------------------------------------------------- */

static bool is_container(const json_value *v)
{
    return v->type == JSON_ARRAY || v->type == JSON_OBJECT;
}

/* Writes v on one line into b, giving up (false) once b is longer than max or at an array
 * of arrays or objects (a list of steps, of pairs: one item a line reads better). */
static bool one_line(sbuf *b, const json_value *v, size_t max)
{
    if (v->type == JSON_STRING) {
        if (v->str.len > max)
            return false;
        json_write_string_flags(b, v->str.s, v->str.len, 0);
    } else if (v->type == JSON_ARRAY) {
        sbuf_putc(b, '[');
        for (size_t i = 0; i < v->arr.count; i++) {
            if (is_container(&v->arr.items[i]))
                return false;
            if (i)
                sbuf_puts(b, ", ");
            if (!one_line(b, &v->arr.items[i], max))
                return false;
        }
        sbuf_putc(b, ']');
    } else if (v->type == JSON_OBJECT) {
        sbuf_putc(b, '{');
        for (size_t i = 0; i < v->obj.count; i++) {
            const json_member *m = &v->obj.members[i];
            if (i)
                sbuf_puts(b, ", ");
            json_write_string_flags(b, m->key, m->key_len, 0);
            sbuf_puts(b, ": ");
            if (b->len > max || !one_line(b, &m->value, max))
                return false;
        }
        sbuf_putc(b, '}');
    } else {
        json_write_value(b, v);
    }
    return b->len <= max;
}

static void newline(sbuf *out, int indent)
{
    sbuf_putc(out, '\n');
    for (int i = 0; i < indent; i++)
        sbuf_putc(out, ' ');
}

/* Writes v at column col of a line indented by indent: on one line when it fits, else one
 * item a line, two spaces deeper. */
static void pretty(sbuf *out, sbuf *scratch, const json_value *v, int indent, size_t col)
{
    size_t n = v->type == JSON_ARRAY ? v->arr.count : v->type == JSON_OBJECT ? v->obj.count : 0;
    sbuf_reset(scratch);
    if (!n || (col < LINE_WIDTH && one_line(scratch, v, LINE_WIDTH - col))) {
        if (!n)
            json_write_value(out, v);
        else
            sbuf_add(out, scratch->s, scratch->len);
        return;
    }
    sbuf_putc(out, v->type == JSON_ARRAY ? '[' : '{');
    for (size_t i = 0; i < n; i++) {
        newline(out, indent + 2);
        size_t line = out->len - (size_t)(indent + 2);
        const json_value *item = &v->arr.items[i];
        if (v->type == JSON_OBJECT) {
            const json_member *m = &v->obj.members[i];
            json_write_string_flags(out, m->key, m->key_len, 0);
            sbuf_puts(out, ": ");
            item = &m->value;
        }
        pretty(out, scratch, item, indent + 2, out->len - line);
        if (i + 1 < n)
            sbuf_putc(out, ',');
    }
    newline(out, indent);
    sbuf_putc(out, v->type == JSON_ARRAY ? ']' : '}');
}

/* ---- entry points -------------------------------------------------------------------- */

static void plural(sbuf *b, bool *first, int n, const char *one, const char *many,
                   const char *tail)
{
    if (!n)
        return;
    sbuf_printf(b, "%s%d %s%s", *first ? "" : ", ", n, n == 1 ? one : many, tail);
    *first = false;
}

/* "8 static assets (--har-static keeps them), 1 non-HTTP URL"; false when none. */
static bool left_out(const har_report *rep, sbuf *b)
{
    bool first = true;
    plural(b, &first, rep->static_skipped, "static asset", "static assets",
           " (--har-static keeps them)");
    plural(b, &first, rep->other_skipped, "non-HTTP URL", "non-HTTP URLs", "");
    plural(b, &first, rep->redirects_skipped, "request the replay makes by following a redirect",
           "requests the replay makes by following redirects", "");
    return !first;
}

void har_summary(const har_report *rep, sbuf *out)
{
    sbuf_printf(out, "wrote %d request%s in %d task%s", rep->requests,
                rep->requests == 1 ? "" : "s", rep->tasks, rep->tasks == 1 ? "" : "s");
    size_t at = out->len;
    sbuf_puts(out, "; left out ");
    if (!left_out(rep, out)) {
        out->len = at;
        out->s[at] = '\0';
    }
}

static void conv_free(conv *c)
{
    for (int i = 0; i < c->n; i++)
        hreq_free(&c->reqs[i]);
    free(c->reqs);
    for (int i = 0; i < c->ntasks; i++) {
        free(c->tasks[i].name);
        free(c->tasks[i].reqs);
    }
    free(c->tasks);
    for (int i = 0; i < c->nredirects; i++)
        free(c->redirects[i]);
    free(c->redirects);
}

static char *write_scenario(conv *c)
{
    const char *host = pick_host(c);
    group_tasks(c);
    c->rep->requests = c->n;
    c->rep->tasks = c->ntasks;
    sbuf compact = SBUF_INIT, out = SBUF_INIT, scratch = SBUF_INIT;
    put_scenario(&compact, c, host);
    json_value *doc = json_parse(compact.s, compact.len, 0, NULL);
    pretty(&out, &scratch, doc, 0, 0);
    sbuf_putc(&out, '\n');
    json_free(doc);
    sbuf_free(&compact);
    sbuf_free(&scratch);
    return sbuf_take(&out);
}

char *har_convert(const char *path, const har_opts *o, har_report *rep, char *err,
                  size_t errlen)
{
    static const har_opts defaults = {0};
    memset(rep, 0, sizeof *rep);
    conv c = {.path = path, .o = o ? o : &defaults, .rep = rep, .err = err, .errlen = errlen};
    json_error je;
    json_value *root = json_parse_file(path, JSON_ALLOW_DUPLICATE_KEYS, &je);
    char *text = NULL;
    if (!root) {
        json_value at = {.line = je.line, .col = je.col}; /* line 0: could not read */
        conv_fail(&c, je.line ? &at : NULL, 0, "%s", je.msg);
    } else if (read_har(&c, root) == 0) {
        if (c.n) {
            text = write_scenario(&c);
        } else {
            sbuf why = SBUF_INIT;
            if (left_out(rep, &why))
                conv_fail(&c, NULL, 0, "no requests to replay; left out %s", sbuf_str(&why));
            else
                conv_fail(&c, NULL, 0, "no requests to replay: log.entries is empty");
            sbuf_free(&why);
        }
    }
    conv_free(&c);
    json_free(root);
    return text;
}

void har_report_free(har_report *rep)
{
    sbuf_free(&rep->warnings);
    memset(rep, 0, sizeof *rep);
}
