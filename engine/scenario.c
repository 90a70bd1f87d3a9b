#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "interp.h"
#include "json.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

/* What the scenario keeps per class (uclass.data). */
typedef struct sclass {
    char *file;             /* the file the class came from */
    char *file_host;        /* that file's top-level "host", or NULL */
    program on_start, on_stop;
    program *progs;         /* one per task, file order */
    utask *all_tasks;       /* before tag filtering */
    int nall_tasks;
} sclass;

/* Compilation context: where we are, and the class defaults steps inherit. */
typedef struct ctx {
    const char *path;
    char *err;
    size_t errlen;
    const json_value *class_headers;
    long class_timeout_ms;
    bool class_redirects;
    enum http_conn_mode class_conn;
} ctx;

/* ---- errors ------------------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static int fail(ctx *c, unsigned line, unsigned col,
                                                      const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "%s:%u:%u: ", c->path, line, col);
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *article(json_type t)
{
    return t == JSON_ARRAY || t == JSON_OBJECT ? "an" : "a";
}

static int wrong_type(ctx *c, const json_value *v, const char *key, const char *want)
{
    return fail(c, v->line, v->col, "\"%s\" must be %s, not %s %s", key, want,
                article(v->type), json_type_name(v->type));
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

/* Every key of obj must be in allowed (NULL-terminated); typos get a suggestion. */
static int check_keys(ctx *c, const json_value *obj, const char *what,
                      const char *const *allowed)
{
    for (size_t i = 0; i < obj->obj.count; i++) {
        const json_member *m = &obj->obj.members[i];
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (m->key_len == strlen(*a) && memcmp(m->key, *a, m->key_len) == 0)
                ok = true;
        if (ok)
            continue;
        const char *best = NULL;
        size_t best_d = 3;
        for (const char *const *a = allowed; *a; a++) {
            size_t d = edit_distance(m->key, *a);
            if (d < best_d) {
                best_d = d;
                best = *a;
            }
        }
        if (best)
            return fail(c, m->line, m->col, "unknown key \"%s\" in %s (did you mean \"%s\"?)",
                        m->key, what, best);
        sbuf b = SBUF_INIT;
        for (const char *const *a = allowed; *a; a++)
            sbuf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
        fail(c, m->line, m->col, "unknown key \"%s\" in %s (expected one of: %s)", m->key,
             what, sbuf_str(&b));
        sbuf_free(&b);
        return -1;
    }
    return 0;
}

/* ---- typed getters (absent keys leave *out alone) ----------------------------------- */

static int get_string(ctx *c, const json_value *obj, const char *key, const char **out)
{
    const json_value *v = json_get(obj, key);
    if (!v)
        return 0;
    if (v->type != JSON_STRING)
        return wrong_type(c, v, key, "a string");
    if (strlen(v->str.s) != v->str.len)
        return fail(c, v->line, v->col, "\"%s\" must not contain NUL characters", key);
    *out = v->str.s;
    return 0;
}

static int get_int(ctx *c, const json_value *obj, const char *key, long lo, long hi,
                   long *out)
{
    const json_value *v = json_get(obj, key);
    if (!v)
        return 0;
    if (v->type != JSON_NUMBER || !v->num.is_int)
        return wrong_type(c, v, key, "an integer");
    if (v->num.i < lo || v->num.i > hi)
        return fail(c, v->line, v->col, "\"%s\" must be between %ld and %ld, not %s", key, lo,
                    hi, v->num.text);
    *out = (long)v->num.i;
    return 0;
}

/* A number >= lo (> lo when strict). */
static int num_value(ctx *c, const json_value *v, const char *key, double lo, bool strict,
                     double *out)
{
    if (v->type != JSON_NUMBER)
        return wrong_type(c, v, key, "a number");
    double d = v->num.d;
    if (strict ? !(d > lo) : !(d >= lo))
        return fail(c, v->line, v->col, "\"%s\" must be %s %g, not %s", key,
                    strict ? "greater than" : "at least", lo, v->num.text);
    *out = d;
    return 0;
}

static int get_number(ctx *c, const json_value *obj, const char *key, double lo, bool strict,
                      double *out)
{
    const json_value *v = json_get(obj, key);
    return v ? num_value(c, v, key, lo, strict, out) : 0;
}

static int get_bool(ctx *c, const json_value *obj, const char *key, bool *out)
{
    const json_value *v = json_get(obj, key);
    if (!v)
        return 0;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE)
        return wrong_type(c, v, key, "true or false");
    *out = v->type == JSON_TRUE;
    return 0;
}

static int get_conn(ctx *c, const json_value *obj, enum http_conn_mode *out)
{
    const char *s = NULL;
    if (get_string(c, obj, "connection", &s))
        return -1;
    if (!s)
        return 0;
    if (strcmp(s, "user") == 0)
        *out = HTTP_CONN_USER;
    else if (strcmp(s, "shared") == 0)
        *out = HTTP_CONN_SHARED;
    else if (strcmp(s, "request") == 0)
        *out = HTTP_CONN_REQUEST;
    else {
        const json_value *v = json_get(obj, "connection");
        return fail(c, v->line, v->col,
                    "\"connection\" must be \"user\", \"shared\" or \"request\", not \"%s\"", s);
    }
    return 0;
}

/* Timeouts are seconds in the file, whole milliseconds (at least 1) for curl. */
static int get_timeout(ctx *c, const json_value *obj, long *ms)
{
    double t = -1;
    if (get_number(c, obj, "timeout", 0, true, &t))
        return -1;
    if (t > 0)
        *ms = t * 1000 > (double)LONG_MAX / 2 ? LONG_MAX / 2 : (long)ceil(t * 1000);
    return 0;
}

/* ---- URLs and bodies ---------------------------------------------------------------- */

/* application/x-www-form-urlencoded, as python-requests encodes params and form data. */
static void urlencode(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isalnum(ch) || ch == '_' || ch == '.' || ch == '-' || ch == '~')
            sbuf_putc(b, (char)ch);
        else if (ch == ' ')
            sbuf_putc(b, '+');
        else {
            sbuf_putc(b, '%');
            sbuf_putc(b, hex[ch >> 4]);
            sbuf_putc(b, hex[ch & 15]);
        }
    }
}

/* A scalar as text: strings as they are, numbers as written, booleans "true"/"false".
 * Returns false for arrays, objects and null. */
static bool scalar(const json_value *v, const char **s, size_t *n)
{
    switch (v->type) {
    case JSON_STRING:
        *s = v->str.s;
        *n = v->str.len;
        return true;
    case JSON_NUMBER:
        *s = v->num.text;
        *n = strlen(v->num.text);
        return true;
    case JSON_TRUE:
        *s = "true";
        *n = 4;
        return true;
    case JSON_FALSE:
        *s = "false";
        *n = 5;
        return true;
    default:
        return false;
    }
}

static int scalar_text(ctx *c, const json_value *v, const char *what, const char **s,
                       size_t *n)
{
    if (scalar(v, s, n))
        return 0;
    return fail(c, v->line, v->col, "%s must be a string, number or boolean, not %s %s", what,
                article(v->type), json_type_name(v->type));
}

/* Appends key=value pairs, '&'-separated, from an object or from an array of [key, value]
 * pairs (for repeated keys). */
static int encode_pairs(ctx *c, const json_value *v, const char *key, sbuf *b)
{
    if (v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->obj.count; i++) {
            const json_member *m = &v->obj.members[i];
            const char *s;
            size_t n;
            if (scalar_text(c, &m->value, "a value", &s, &n))
                return -1;
            if (b->len)
                sbuf_putc(b, '&');
            urlencode(b, m->key, m->key_len);
            sbuf_putc(b, '=');
            urlencode(b, s, n);
        }
        return 0;
    }
    if (v->type != JSON_ARRAY)
        return wrong_type(c, v, key, "an object or an array of [name, value] pairs");
    for (size_t i = 0; i < v->arr.count; i++) {
        const json_value *p = &v->arr.items[i];
        if (p->type != JSON_ARRAY || p->arr.count != 2)
            return fail(c, p->line, p->col, "each item of \"%s\" must be a [name, value] pair",
                        key);
        const char *ks, *vs;
        size_t kn, vn;
        if (scalar_text(c, &p->arr.items[0], "a name", &ks, &kn) ||
            scalar_text(c, &p->arr.items[1], "a value", &vs, &vn))
            return -1;
        if (b->len)
            sbuf_putc(b, '&');
        urlencode(b, ks, kn);
        sbuf_putc(b, '=');
        urlencode(b, vs, vn);
    }
    return 0;
}

/* url with the query pairs added as python-requests adds params: after an existing query
 * with '&' (after a bare '?' with nothing), before any fragment. Returns a new string, or
 * NULL after an error. */
static char *with_query(ctx *c, const char *url, const json_value *query)
{
    sbuf params = SBUF_INIT;
    if (encode_pairs(c, query, "query", &params)) {
        sbuf_free(&params);
        return NULL;
    }
    size_t end = strcspn(url, "#");
    const char *q = memchr(url, '?', end);
    sbuf u = SBUF_INIT;
    sbuf_add(&u, url, end);
    if (params.len) {
        if (!q)
            sbuf_putc(&u, '?');
        else if (q + 1 < url + end)
            sbuf_putc(&u, '&');
        sbuf_add(&u, params.s, params.len);
    }
    sbuf_puts(&u, url + end);
    sbuf_free(&params);
    return sbuf_take(&u);
}

static bool valid_url_text(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* A base URL needs a host name: "http://:80" and "http://user@/" have none. */
static bool valid_host(const char *h)
{
    if (!interp_is_absolute(h) || !valid_url_text(h))
        return false;
    const char *p = strstr(h, "://") + 3;
    size_t authority = strcspn(p, "/?#");
    const char *at = memchr(p, '@', authority);
    if (at) {
        authority -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (authority && *p == '[')
        return authority > 2 && memchr(p, ']', authority) != NULL;
    size_t name = strcspn(p, ":/?#");
    return name > 0 && name <= authority;
}

/* ---- headers ------------------------------------------------------------------------ */

static bool header_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch))
            return false;
    }
    return true;
}

static int check_headers(ctx *c, const json_value *h)
{
    if (h->type != JSON_OBJECT)
        return wrong_type(c, h, "headers", "an object of header names and values");
    for (size_t i = 0; i < h->obj.count; i++) {
        const json_member *m = &h->obj.members[i];
        if (!header_name_ok(m->key, m->key_len))
            return fail(c, m->line, m->col, "\"%s\" is not a valid header name", m->key);
        const char *s;
        size_t n;
        if (scalar_text(c, &m->value, "a header value", &s, &n))
            return -1;
        if (memchr(s, '\r', n) || memchr(s, '\n', n) || memchr(s, '\0', n))
            return fail(c, m->value.line, m->value.col,
                        "header value must not contain line breaks or NUL");
    }
    return 0;
}

static bool has_header(const json_value *h, const char *name)
{
    if (!h)
        return false;
    for (size_t i = 0; i < h->obj.count; i++)
        if (strcasecmp(h->obj.members[i].key, name) == 0)
            return true;
    return false;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value,
                                     size_t vlen)
{
    sbuf b = SBUF_INIT;
    /* curl sends "Name;" as an empty header and drops "Name:" entirely. */
    if (vlen == 0)
        sbuf_printf(&b, "%s;", name);
    else {
        sbuf_printf(&b, "%s: ", name);
        sbuf_add(&b, value, vlen);
    }
    struct curl_slist *n = curl_slist_append(l, sbuf_str(&b));
    sbuf_free(&b);
    if (!n)
        xoom();
    return n;
}

/* Class headers, then step headers (which win by case-insensitive name), then the
 * content type the body implies when neither gave one. */
static struct curl_slist *build_headers(const json_value *cls, const json_value *own,
                                        const char *content_type, bool has_body)
{
    struct curl_slist *l = NULL;
    const char *s;
    size_t n;
    /* Both objects were checked by check_headers: every value is a scalar. */
    if (cls)
        for (size_t i = 0; i < cls->obj.count; i++) {
            const json_member *m = &cls->obj.members[i];
            if (!has_header(own, m->key) && scalar(&m->value, &s, &n))
                l = add_header(l, m->key, s, n);
        }
    if (own)
        for (size_t i = 0; i < own->obj.count; i++) {
            const json_member *m = &own->obj.members[i];
            if (scalar(&m->value, &s, &n))
                l = add_header(l, m->key, s, n);
        }
    if (has_body) {
        if (!has_header(cls, "Content-Type") && !has_header(own, "Content-Type")) {
            if (content_type)
                l = add_header(l, "Content-Type", content_type, strlen(content_type));
            else if (!(l = curl_slist_append(l, "Content-Type:")))
                xoom(); /* a raw body is sent without curl's form content type */
        }
        if (!has_header(cls, "Expect") && !has_header(own, "Expect") &&
            !(l = curl_slist_append(l, "Expect:")))
            xoom();
    }
    return l;
}

/* ---- steps -------------------------------------------------------------------------- */

static const char *const request_keys[] = {"method", "url", "name", "query", "headers",
                                           "json", "form", "body", "timeout", "redirects",
                                           "connection", NULL};

static bool method_ok(const char *m)
{
    if (!*m || strlen(m) > 32)
        return false;
    for (const char *p = m; *p; p++)
        if (!isalpha((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

static int compile_request(ctx *c, const json_value *v, req_step *r)
{
    const char *method = "GET", *url = NULL, *name = NULL;
    const json_value *headers = NULL, *query = NULL, *url_v = v;
    r->timeout_ms = c->class_timeout_ms;
    r->follow = c->class_redirects;
    r->conn = c->class_conn;
    char *short_method = NULL;

    if (v->type == JSON_STRING) {
        /* "GET /path" or "/path" */
        const char *sp = strchr(v->str.s, ' ');
        if (sp) {
            short_method = xstrndup(v->str.s, (size_t)(sp - v->str.s));
            method = short_method;
            url = sp + 1;
            while (*url == ' ')
                url++;
        } else {
            url = v->str.s;
        }
    } else if (v->type == JSON_OBJECT) {
        if (check_keys(c, v, "request", request_keys) || get_string(c, v, "method", &method) ||
            get_string(c, v, "url", &url) || get_string(c, v, "name", &name) ||
            get_timeout(c, v, &r->timeout_ms) || get_bool(c, v, "redirects", &r->follow) ||
            get_conn(c, v, &r->conn))
            return -1;
        if (!url)
            return fail(c, v->line, v->col, "request needs a \"url\"");
        url_v = json_get(v, "url");
        headers = json_get(v, "headers");
        query = json_get(v, "query");
        if (headers && check_headers(c, headers))
            return -1;
    } else {
        return wrong_type(c, v, "request", "an object or a \"METHOD /url\" string");
    }

    int rc = -1;
    if (!method_ok(method)) {
        const json_value *mv = v->type == JSON_OBJECT ? json_get(v, "method") : v;
        fail(c, mv->line, mv->col, "\"%s\" is not an HTTP method", method);
        goto out;
    }
    if (!valid_url_text(url)) {
        fail(c, url_v->line, url_v->col, "\"url\" must be non-empty and without spaces");
        goto out;
    }
    r->method = xstrdup(method);
    for (char *p = r->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);

    if (!query) {
        r->url = xstrdup(url);
    } else if (!(r->url = with_query(c, url, query))) {
        goto out;
    }
    if (name) {
        if (!*name) {
            const json_value *nv = json_get(v, "name");
            fail(c, nv->line, nv->col, "request \"name\" must not be empty");
            goto out;
        }
        r->name = xstrdup(name);
        r->name_explicit = true;
    }

    const json_value *jv = v->type == JSON_OBJECT ? json_get(v, "json") : NULL;
    const json_value *fv = v->type == JSON_OBJECT ? json_get(v, "form") : NULL;
    const json_value *bv = v->type == JSON_OBJECT ? json_get(v, "body") : NULL;
    if ((jv != NULL) + (fv != NULL) + (bv != NULL) > 1) {
        const json_value *second = bv ? bv : fv;
        fail(c, second->line, second->col,
             "a request takes only one of \"json\", \"form\" and \"body\"");
        goto out;
    }
    const char *ctype = NULL;
    sbuf body = SBUF_INIT;
    if (jv) {
        json_write_value(&body, jv);
        ctype = "application/json";
    } else if (fv) {
        if (fv->type != JSON_OBJECT && fv->type != JSON_ARRAY) {
            wrong_type(c, fv, "form", "an object or an array of [name, value] pairs");
            goto out;
        }
        if (encode_pairs(c, fv, "form", &body)) {
            sbuf_free(&body);
            goto out;
        }
        ctype = "application/x-www-form-urlencoded";
    } else if (bv) {
        if (bv->type != JSON_STRING) {
            wrong_type(c, bv, "body", "a string");
            goto out;
        }
        sbuf_add(&body, bv->str.s, bv->str.len);
    }
    if (jv || fv || bv) {
        r->body_len = body.len;
        r->body = sbuf_take(&body);
    }
    r->headers = build_headers(c->class_headers, headers, ctype, r->body != NULL);
    rc = 0;
out:
    free(short_method);
    return rc;
}

static int compile_between(ctx *c, const json_value *a, wait_spec *w)
{
    if (a->type != JSON_ARRAY || a->arr.count != 2)
        return fail(c, a->line, a->col, "\"between\" must be [min, max] in seconds");
    w->kind = WAIT_BETWEEN;
    if (num_value(c, &a->arr.items[0], "min", 0, false, &w->a) ||
        num_value(c, &a->arr.items[1], "max", 0, false, &w->b))
        return -1;
    if (w->b < w->a)
        return fail(c, a->line, a->col, "\"between\": max (%g) is less than min (%g)", w->b,
                    w->a);
    return 0;
}

static int compile_think(ctx *c, const json_value *v, wait_spec *w)
{
    if (v->type == JSON_NUMBER) {
        w->kind = WAIT_CONSTANT;
        return num_value(c, v, "think", 0, false, &w->a);
    }
    if (v->type != JSON_OBJECT)
        return wrong_type(c, v, "think", "a number of seconds or {\"between\": [min, max]}");
    static const char *const keys[] = {"constant", "between", NULL};
    if (check_keys(c, v, "think", keys))
        return -1;
    if (v->obj.count != 1)
        return fail(c, v->line, v->col, "\"think\" takes exactly one of \"constant\" or \"between\"");
    const json_member *m = &v->obj.members[0];
    if (strcmp(m->key, "constant") == 0) {
        w->kind = WAIT_CONSTANT;
        return num_value(c, &m->value, "constant", 0, false, &w->a);
    }
    return compile_between(c, &m->value, w);
}

/* key names the array in errors: "steps", "on_start" or "on_stop". */
static int compile_steps(ctx *c, const json_value *arr, const char *key, program *p,
                         const char *where)
{
    if (arr->type != JSON_ARRAY)
        return wrong_type(c, arr, key, "an array of steps");
    p->n = (int)arr->arr.count;
    p->steps = xcalloc(arr->arr.count ? arr->arr.count : 1, sizeof *p->steps);
    static const char *const step_keys[] = {"request", "think", "description", NULL};
    for (size_t i = 0; i < arr->arr.count; i++) {
        const json_value *sv = &arr->arr.items[i];
        step *s = &p->steps[i];
        sbuf w = SBUF_INIT;
        sbuf_printf(&w, "%s:%u:%u (%s, step %zu)", c->path, sv->line, sv->col, where, i + 1);
        s->where = sbuf_take(&w);
        if (sv->type != JSON_OBJECT)
            return wrong_type(c, sv, "step", "an object such as {\"request\": ...}");
        if (check_keys(c, sv, "step", step_keys))
            return -1;
        const json_value *req = json_get(sv, "request"), *think = json_get(sv, "think");
        const char *desc = NULL;
        if (get_string(c, sv, "description", &desc))
            return -1;
        if (!req == !think)
            return fail(c, sv->line, sv->col,
                        "a step needs exactly one action: \"request\" or \"think\"");
        if (req) {
            s->kind = STEP_REQUEST;
            if (compile_request(c, req, &s->r))
                return -1;
        } else {
            s->kind = STEP_THINK;
            if (compile_think(c, think, &s->think))
                return -1;
        }
    }
    return 0;
}

/* ---- classes and tasks -------------------------------------------------------------- */

static int compile_wait(ctx *c, const json_value *v, wait_spec *w)
{
    if (v->type == JSON_NUMBER) {
        w->kind = WAIT_CONSTANT;
        return num_value(c, v, "wait_time", 0, false, &w->a);
    }
    if (v->type != JSON_OBJECT)
        return wrong_type(c, v, "wait_time",
                          "a number or one of {\"constant\": s}, {\"between\": [min, max]}, "
                          "{\"constant_pacing\": s}, {\"constant_throughput\": n}");
    static const char *const keys[] = {"constant", "between", "constant_pacing",
                                       "constant_throughput", NULL};
    if (check_keys(c, v, "wait_time", keys))
        return -1;
    if (v->obj.count != 1)
        return fail(c, v->line, v->col, "\"wait_time\" takes exactly one kind of wait");
    const json_member *m = &v->obj.members[0];
    if (strcmp(m->key, "between") == 0)
        return compile_between(c, &m->value, w);
    if (strcmp(m->key, "constant") == 0) {
        w->kind = WAIT_CONSTANT;
        return num_value(c, &m->value, "constant", 0, false, &w->a);
    }
    w->kind = strcmp(m->key, "constant_pacing") == 0 ? WAIT_PACING : WAIT_THROUGHPUT;
    return num_value(c, &m->value, m->key, 0, true, &w->a);
}

static bool name_ok(const char *s)
{
    if (!*s || strlen(s) > 200)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
            return false;
    return true;
}

/* Locust names a task after its function; ours default to the first request. */
static char *default_task_name(const program *p, int index)
{
    for (int i = 0; i < p->n; i++)
        if (p->steps[i].kind == STEP_REQUEST) {
            const req_step *r = &p->steps[i].r;
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "%s %s", r->method, r->name ? r->name : r->url);
            return sbuf_take(&b);
        }
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "task %d", index + 1);
    return sbuf_take(&b);
}

static int compile_task(ctx *c, const json_value *tv, const char *cls, int index, utask *t,
                        program *p)
{
    static const char *const keys[] = {"name", "description", "weight", "tags", "steps",
                                       "request", NULL};
    if (tv->type != JSON_OBJECT)
        return wrong_type(c, tv, "task", "an object");
    if (check_keys(c, tv, "task", keys))
        return -1;
    const char *name = NULL, *desc = NULL;
    long weight = 1;
    if (get_string(c, tv, "name", &name) || get_string(c, tv, "description", &desc) ||
        get_int(c, tv, "weight", 1, 1000000, &weight))
        return -1;
    if (name && !*name) {
        const json_value *nv = json_get(tv, "name");
        return fail(c, nv->line, nv->col, "task \"name\" must not be empty");
    }
    t->weight = (int)weight;
    const json_value *tags = json_get(tv, "tags");
    if (tags) {
        if (tags->type != JSON_ARRAY)
            return wrong_type(c, tags, "tags", "an array of strings");
        t->tags = xcalloc(tags->arr.count + 1, sizeof *t->tags);
        for (size_t i = 0; i < tags->arr.count; i++) {
            const json_value *g = &tags->arr.items[i];
            if (g->type != JSON_STRING)
                return wrong_type(c, g, "tags", "an array of strings");
            if (!g->str.len || strlen(g->str.s) != g->str.len)
                return fail(c, g->line, g->col, "a tag must be a non-empty string without NUL");
            t->tags[t->ntags++] = xstrdup(g->str.s);
        }
    }
    const json_value *steps = json_get(tv, "steps"), *req = json_get(tv, "request");
    if (!steps == !req)
        return fail(c, tv->line, tv->col, "a task needs \"steps\" or a single \"request\"");
    sbuf where = SBUF_INIT;
    if (name)
        sbuf_printf(&where, "user class \"%s\", task \"%s\"", cls, name);
    else
        sbuf_printf(&where, "user class \"%s\", task %d", cls, index + 1);
    int rc;
    if (steps) {
        rc = compile_steps(c, steps, "steps", p, sbuf_str(&where));
        if (rc == 0 && p->n == 0)
            rc = fail(c, steps->line, steps->col, "a task needs at least one step");
    } else {
        p->n = 1;
        p->steps = xcalloc(1, sizeof *p->steps);
        p->steps[0].kind = STEP_REQUEST;
        sbuf w = SBUF_INIT;
        sbuf_printf(&w, "%s:%u:%u (%s)", c->path, req->line, req->col, sbuf_str(&where));
        p->steps[0].where = sbuf_take(&w);
        rc = compile_request(c, req, &p->steps[0].r);
    }
    sbuf_free(&where);
    if (rc)
        return -1;
    t->name = name ? xstrdup(name) : default_task_name(p, index);
    t->fn = interp_run;
    t->data = p;
    return 0;
}

static const char *const class_keys[] = {"name", "description", "weight", "fixed_count", "host",
                                         "headers", "wait_time", "sequential", "timeout",
                                         "redirects", "connection", "on_start", "on_stop",
                                         "tasks", NULL};

static int compile_class(ctx *c, const json_value *cv, const char *file_host, uclass *u)
{
    sclass *sc = xcalloc(1, sizeof *sc);
    u->data = sc;
    sc->file = xstrdup(c->path);
    sc->file_host = file_host ? xstrdup(file_host) : NULL;
    if (cv->type != JSON_OBJECT)
        return wrong_type(c, cv, "user class", "an object");
    if (check_keys(c, cv, "user class", class_keys))
        return -1;
    const char *name = NULL, *host = NULL, *desc = NULL;
    long weight = 1, fixed = 0;
    c->class_timeout_ms = (long)(SCENARIO_DEFAULT_TIMEOUT * 1000);
    if (get_string(c, cv, "name", &name) || get_string(c, cv, "description", &desc) ||
        get_int(c, cv, "weight", 0, 1000000, &weight) ||
        get_int(c, cv, "fixed_count", 0, 10000000, &fixed) || get_string(c, cv, "host", &host) ||
        get_bool(c, cv, "sequential", &u->sequential) ||
        get_timeout(c, cv, &c->class_timeout_ms) ||
        get_bool(c, cv, "redirects", &c->class_redirects) || get_conn(c, cv, &c->class_conn))
        return -1;
    if (!name)
        return fail(c, cv->line, cv->col, "user class needs a \"name\"");
    if (!name_ok(name)) {
        const json_value *nv = json_get(cv, "name");
        return fail(c, nv->line, nv->col,
                    "user class name \"%s\" may only hold letters, digits, '_', '-' and '.'",
                    name);
    }
    u->name = xstrdup(name);
    u->weight = (int)weight;
    u->fixed_count = (int)fixed;
    if (host) {
        if (!valid_host(host)) {
            const json_value *hv = json_get(cv, "host");
            return fail(c, hv->line, hv->col,
                        "\"host\" must be a base URL such as \"http://127.0.0.1:8080\"");
        }
        u->host = xstrdup(host);
    }
    const json_value *wv = json_get(cv, "wait_time");
    if (wv && compile_wait(c, wv, &u->wait))
        return -1;
    c->class_headers = json_get(cv, "headers");
    if (c->class_headers && check_headers(c, c->class_headers))
        return -1;

    sbuf where = SBUF_INIT;
    int rc = 0;
    const json_value *on_start = json_get(cv, "on_start"), *on_stop = json_get(cv, "on_stop");
    if (on_start) {
        sbuf_printf(&where, "user class \"%s\", on_start", name);
        rc = compile_steps(c, on_start, "on_start", &sc->on_start, sbuf_str(&where));
        u->on_start = (utask){.name = xstrdup("on_start"), .weight = 1, .fn = interp_run,
                              .data = &sc->on_start};
    }
    if (rc == 0 && on_stop) {
        sbuf_reset(&where);
        sbuf_printf(&where, "user class \"%s\", on_stop", name);
        rc = compile_steps(c, on_stop, "on_stop", &sc->on_stop, sbuf_str(&where));
        u->on_stop = (utask){.name = xstrdup("on_stop"), .weight = 1, .fn = interp_run,
                             .data = &sc->on_stop};
    }
    sbuf_free(&where);
    if (rc)
        return -1;

    const json_value *tasks = json_get(cv, "tasks");
    if (!tasks)
        return fail(c, cv->line, cv->col, "user class \"%s\" needs \"tasks\"", name);
    if (tasks->type != JSON_ARRAY || tasks->arr.count == 0)
        return fail(c, tasks->line, tasks->col, "\"tasks\" must be a non-empty array of tasks");
    size_t n = tasks->arr.count;
    sc->progs = xcalloc(n, sizeof *sc->progs);
    sc->all_tasks = xcalloc(n, sizeof *sc->all_tasks);
    for (size_t i = 0; i < n; i++) {
        sc->nall_tasks = (int)i + 1;
        if (compile_task(c, &tasks->arr.items[i], name, (int)i, &sc->all_tasks[i],
                         &sc->progs[i]))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(sc->all_tasks[j].name, sc->all_tasks[i].name) == 0) {
                const json_value *tv = &tasks->arr.items[i];
                return fail(c, tv->line, tv->col,
                            "two tasks of user class \"%s\" are named \"%s\"; give them "
                            "distinct \"name\"s", name, sc->all_tasks[i].name);
            }
    }
    return 0;
}

static void free_task(utask *t)
{
    free(t->name);
    for (int i = 0; i < t->ntags; i++)
        free(t->tags[i]);
    free(t->tags);
}

static void free_class(uclass *u)
{
    sclass *sc = u->data;
    free(u->name);
    free(u->host);
    free(u->tasks);
    free_task(&u->on_start);
    free_task(&u->on_stop);
    user_class_release(u);
    if (!sc)
        return;
    interp_free(&sc->on_start);
    interp_free(&sc->on_stop);
    for (int i = 0; i < sc->nall_tasks; i++) {
        free_task(&sc->all_tasks[i]);
        interp_free(&sc->progs[i]);
    }
    free(sc->all_tasks);
    free(sc->progs);
    free(sc->file);
    free(sc->file_host);
    free(sc);
}

void scenario_free(scenario *sc)
{
    if (!sc)
        return;
    for (int i = 0; i < sc->nall; i++)
        free_class(&sc->all[i]);
    free(sc->all);
    free(sc->run);
    free(sc->files);
    free(sc);
}

/* ---- loading ------------------------------------------------------------------------ */

static int load_file(const char *path, scenario *sc, char *err, size_t errlen)
{
    json_error je;
    json_value *doc = json_parse_file(path, 0, &je);
    if (!doc) {
        if (je.line == 0 && access(path, F_OK) != 0)
            snprintf(err, errlen, "Could not find '%s'. See --help for available options.",
                     path);
        else if (je.line == 0)
            snprintf(err, errlen, "%s: %s", path, je.msg);
        else
            snprintf(err, errlen, "%s:%u:%u: %s", path, je.line, je.col, je.msg);
        return -1;
    }
    ctx c = {.path = path, .err = err, .errlen = errlen};
    int rc = -1;
    static const char *const top_keys[] = {"description", "host", "users", NULL};
    const char *host = NULL, *desc = NULL;
    const json_value *users;
    if (doc->type != JSON_OBJECT) {
        wrong_type(&c, doc, "scenario", "an object with \"users\"");
        goto out;
    }
    if (check_keys(&c, doc, "scenario", top_keys) || get_string(&c, doc, "host", &host) ||
        get_string(&c, doc, "description", &desc))
        goto out;
    if (host && !valid_host(host)) {
        const json_value *hv = json_get(doc, "host");
        fail(&c, hv->line, hv->col, "\"host\" must be a base URL such as \"http://127.0.0.1:8080\"");
        goto out;
    }
    users = json_get(doc, "users");
    if (!users) {
        fail(&c, doc->line, doc->col, "scenario needs \"users\": a list of user classes");
        goto out;
    }
    if (users->type != JSON_ARRAY || users->arr.count == 0) {
        fail(&c, users->line, users->col, "\"users\" must be a non-empty array of user classes");
        goto out;
    }
    for (size_t i = 0; i < users->arr.count; i++) {
        const json_value *cv = &users->arr.items[i];
        sc->all = xrealloc(sc->all, (size_t)(sc->nall + 1) * sizeof *sc->all);
        uclass *u = &sc->all[sc->nall++];
        memset(u, 0, sizeof *u);
        c.class_headers = NULL;
        c.class_redirects = true;
        c.class_conn = HTTP_CONN_USER;
        if (compile_class(&c, cv, host, u))
            goto out;
        for (int j = 0; j < sc->nall - 1; j++)
            if (strcmp(sc->all[j].name, u->name) == 0) {
                const sclass *other = sc->all[j].data;
                fail(&c, cv->line, cv->col, "user class \"%s\" is already defined in %s",
                     u->name, other->file);
                goto out;
            }
    }
    rc = 0;
out:
    json_free(doc);
    return rc;
}

static bool has_any_tag(const utask *t, char **tags, int n)
{
    for (int i = 0; i < t->ntags; i++)
        for (int j = 0; j < n; j++)
            if (strcmp(t->tags[i], tags[j]) == 0)
                return true;
    return false;
}

/* Applies -T/-E and --equal-weights to a class's task list. */
static void filter_tasks(uclass *u, const scenario_opts *o)
{
    sclass *sc = u->data;
    free(u->tasks);
    u->tasks = xcalloc((size_t)sc->nall_tasks, sizeof *u->tasks);
    u->ntasks = 0;
    for (int i = 0; i < sc->nall_tasks; i++) {
        const utask *t = &sc->all_tasks[i];
        if (o->ntags && !has_any_tag(t, o->tags, o->ntags))
            continue;
        if (o->nexclude_tags && has_any_tag(t, o->exclude_tags, o->nexclude_tags))
            continue;
        u->tasks[u->ntasks] = *t;
        if (o->equal_weights)
            u->tasks[u->ntasks].weight = 1;
        u->ntasks++;
    }
}

static int select_classes(scenario *sc, const scenario_opts *o, char *err, size_t errlen)
{
    sbuf unknown = SBUF_INIT;
    for (int i = 0; i < o->nclasses; i++) {
        bool found = false;
        for (int j = 0; j < sc->nall; j++)
            found |= strcmp(sc->all[j].name, o->classes[i]) == 0;
        if (!found)
            sbuf_printf(&unknown, "%s%s", unknown.len ? ", " : "", o->classes[i]);
    }
    if (unknown.len) {
        snprintf(err, errlen, "Unknown User(s): %s", sbuf_str(&unknown));
        sbuf_free(&unknown);
        return -1;
    }
    sc->run = xcalloc((size_t)sc->nall, sizeof *sc->run);
    for (int j = 0; j < sc->nall; j++) {
        uclass *u = &sc->all[j];
        bool chosen = o->nclasses == 0;
        for (int i = 0; i < o->nclasses; i++)
            chosen |= strcmp(u->name, o->classes[i]) == 0;
        if (!chosen)
            continue;
        filter_tasks(u, o);
        if (u->ntasks == 0) {
            log_warning("cicada.main",
                        "User class %s had no tasks left after filtering by tags; it will "
                        "not run", u->name);
            continue;
        }
        if (u->weight == 0 && u->fixed_count == 0)
            continue; /* Locust drops these too, before --equal-weights applies */
        if (o->equal_weights)
            u->weight = 1;
        user_class_prepare(u);
        sc->run[sc->nrun++] = u;
    }
    if (sc->nrun == 0) {
        bool filtered = o->ntags || o->nexclude_tags;
        snprintf(err, errlen, "%s",
                 filtered ? "No tasks left to run after filtering by --tags/--exclude-tags."
                          : "There are no users with weight > 0.");
        return -1;
    }
    return 0;
}

scenario *scenario_load(const char *paths, const scenario_opts *o, char *err, size_t errlen)
{
    scenario *sc = xcalloc(1, sizeof *sc);
    sc->files = xstrdup(paths);
    char *list = xstrdup(paths);
    int rc = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p && rc == 0;
         p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ')
            p++;
        rc = load_file(p, sc, err, errlen);
    }
    free(list);
    if (rc == 0 && sc->nall == 0) {
        snprintf(err, errlen, "No User class found!");
        rc = -1;
    }
    if (rc == 0)
        rc = select_classes(sc, o, err, errlen);
    if (rc) {
        scenario_free(sc);
        return NULL;
    }
    return sc;
}

static const char *class_host(const uclass *u, const char *override)
{
    const sclass *sc = u->data;
    return override ? override : u->host ? u->host : sc->file_host;
}

int scenario_resolve(scenario *sc, const char *host_override, char *err, size_t errlen)
{
    if (host_override && !valid_host(host_override)) {
        snprintf(err, errlen,
                 "--host \"%s\" must be a base URL such as \"http://127.0.0.1:8080\"",
                 host_override);
        return -1;
    }
    for (int i = 0; i < sc->nrun; i++) {
        uclass *u = sc->run[i];
        sclass *c = u->data;
        const char *host = class_host(u, host_override);
        if (interp_resolve(&c->on_start, host, err, errlen) ||
            interp_resolve(&c->on_stop, host, err, errlen))
            return -1;
        for (int t = 0; t < c->nall_tasks; t++)
            if (interp_resolve(&c->progs[t], host, err, errlen))
                return -1;
    }
    return 0;
}

const char *scenario_host(const scenario *sc, const char *host_override)
{
    if (host_override)
        return host_override;
    const char *common = NULL;
    for (int i = 0; i < sc->nrun; i++) {
        const char *h = class_host(sc->run[i], NULL);
        if (!h || (common && strcmp(common, h) != 0))
            return NULL;
        common = h;
    }
    return common;
}

char *scenario_find(const char *arg, bool is_default, char *err, size_t errlen)
{
    if (!is_default)
        return xstrdup(arg);
    char *dir = getcwd(NULL, 0);
    if (!dir)
        xoom();
    for (;;) {
        sbuf p = SBUF_INIT;
        sbuf_printf(&p, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", arg);
        if (access(sbuf_str(&p), R_OK) == 0) {
            free(dir);
            /* Shown in reports: the plain name when it is right here. */
            char *cwd = getcwd(NULL, 0);
            char *found = sbuf_take(&p);
            if (cwd && strlen(found) > strlen(cwd) &&
                strncmp(found, cwd, strlen(cwd)) == 0 && found[strlen(cwd)] == '/' &&
                !strchr(found + strlen(cwd) + 1, '/')) {
                char *plain = xstrdup(found + strlen(cwd) + 1);
                free(found);
                found = plain;
            }
            free(cwd);
            return found;
        }
        sbuf_free(&p);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            if (strcmp(dir, "/") == 0)
                break;
            dir[1] = '\0';
            continue;
        }
        *slash = '\0';
    }
    free(dir);
    snprintf(err, errlen, "Could not find '%s'. See --help for available options.", arg);
    return NULL;
}
