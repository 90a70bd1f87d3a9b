#include "request.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sbuf.h"
#include "xalloc.h"

/* ---- templates ---------------------------------------------------------------------- */

static int scope_variable(void *data, const char *name)
{
    const iscope *s = data;
    for (int i = 0; i < s->nvars; i++)
        if (strcmp(s->vars[i], name) == 0)
            return i;
    return -1;
}

static int scope_column(void *data, const char *source, const char *column)
{
    const iscope *s = data;
    for (int i = 0; i < s->nsources; i++)
        if (strcmp(data_name(s->sources[i]), source) == 0) {
            int c = data_column(s->sources[i], column);
            return c < 0 ? -1 : (i << 16) | c;
        }
    return -1;
}

int request_tpl(jck *c, const json_value *v, iscope *scope, tpl **out)
{
    tpl_scope ts = {scope, scope_variable, scope_column};
    char err[256];
    size_t off = 0;
    *out = tpl_compile(v->str.s, v->str.len, &ts, err, sizeof err, &off);
    if (!*out)
        return jck_fail(c, v->line, jck_string_col(v, off), "%s", err);
    return 0;
}

/* A scalar value as a template: strings may hold placeholders, numbers and booleans are
 * their text. */
static int scalar_tpl(jck *c, const json_value *v, const char *what, iscope *scope, tpl **out)
{
    if (v->type == JSON_STRING)
        return request_tpl(c, v, scope, out);
    const char *s;
    size_t n;
    if (jck_scalar_text(c, v, what, &s, &n))
        return -1;
    tpl_scope ts = {scope, scope_variable, scope_column};
    char err[64];
    size_t off;
    *out = tpl_compile(s, n, &ts, err, sizeof err, &off);
    return *out ? 0 : jck_fail(c, v->line, v->col, "%s", err);
}

/* ---- URLs --------------------------------------------------------------------------- */

static bool valid_url_text(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* Query parameters from an object, or an array of [name, value] pairs (repeated names). */
typedef struct pairs {
    const json_value **names;   /* string values or member keys */
    const char **keys;
    const json_value **values;
    int n;
} pairs;

static int collect_pairs(jck *c, const json_value *v, const char *key, pairs *p)
{
    p->n = 0;
    if (v->type == JSON_OBJECT) {
        p->keys = xcalloc(v->obj.count + 1, sizeof *p->keys);
        p->values = xcalloc(v->obj.count + 1, sizeof *p->values);
        for (size_t i = 0; i < v->obj.count; i++) {
            p->keys[p->n] = v->obj.members[i].key;
            p->values[p->n++] = &v->obj.members[i].value;
        }
        return 0;
    }
    if (v->type != JSON_ARRAY)
        return jck_wrong_type(c, v, key, "an object or an array of [name, value] pairs");
    p->keys = xcalloc(v->arr.count + 1, sizeof *p->keys);
    p->values = xcalloc(v->arr.count + 1, sizeof *p->values);
    for (size_t i = 0; i < v->arr.count; i++) {
        const json_value *pr = &v->arr.items[i];
        if (pr->type != JSON_ARRAY || pr->arr.count != 2)
            return jck_fail(c, pr->line, pr->col,
                            "each item of \"%s\" must be a [name, value] pair", key);
        const char *ks;
        size_t kn;
        if (jck_scalar_text(c, &pr->arr.items[0], "a name", &ks, &kn))
            return -1;
        p->keys[p->n] = ks;
        p->values[p->n++] = &pr->arr.items[1];
    }
    return 0;
}

static void free_pairs(pairs *p)
{
    free(p->keys);
    free(p->values);
}

/* Puts encoded parameters into a static URL: after an existing query (or its bare '?'),
 * and before a fragment, as python-requests does. */
static void join_query(sbuf *u, const char *params, size_t n)
{
    char *url = sbuf_take(u);
    size_t end = strcspn(url, "#");
    const char *q = memchr(url, '?', end);
    sbuf_add(u, url, end);
    if (!q)
        sbuf_putc(u, '?');
    else if (q + 1 < url + end)
        sbuf_putc(u, '&');
    sbuf_add(u, params, n);
    sbuf_puts(u, url + end);
    free(url);
}

/* Compiles pairs into templates (all of them, when any is templated or `keep` asks) or
 * encodes them into `encoded` when all are static. */
static int compile_pairs(jck *c, const pairs *p, const char *what, iscope *scope, bool keep,
                         tpl_pair **out, int *nout, sbuf *encoded)
{
    tpl_pair *tp = xcalloc((size_t)p->n + 1, sizeof *tp);
    bool dynamic = false;
    int rc = 0;
    for (int i = 0; i < p->n && rc == 0; i++) {
        tp[i].name = xstrdup(p->keys[i]);
        rc = scalar_tpl(c, p->values[i], what, scope, &tp[i].value);
        if (rc == 0 && !tpl_is_static(tp[i].value))
            dynamic = true;
    }
    dynamic |= keep;
    if (rc == 0 && !dynamic) {
        for (int i = 0; i < p->n; i++) {
            char last = encoded->len ? sbuf_str(encoded)[encoded->len - 1] : '?';
            if (last != '?' && last != '&')
                sbuf_putc(encoded, '&');
            interp_urlencode(encoded, tp[i].name, strlen(tp[i].name));
            sbuf_putc(encoded, '=');
            size_t n;
            const char *s = tpl_static_text(tp[i].value, &n);
            interp_urlencode(encoded, s, n);
        }
    }
    if (rc || !dynamic) {
        for (int i = 0; i < p->n; i++) {
            free(tp[i].name);
            tpl_free(tp[i].value);
        }
        free(tp);
        return rc;
    }
    *out = tp;
    *nout = p->n;
    return 0;
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

int request_check_headers(jck *c, const json_value *h)
{
    if (h->type != JSON_OBJECT)
        return jck_wrong_type(c, h, "headers", "an object of header names and values");
    for (size_t i = 0; i < h->obj.count; i++) {
        const json_member *m = &h->obj.members[i];
        if (!header_name_ok(m->key, m->key_len))
            return jck_fail(c, m->line, m->col, "\"%s\" is not a valid header name", m->key);
        const char *s;
        size_t n;
        if (jck_scalar_text(c, &m->value, "a header value", &s, &n))
            return -1;
        if (memchr(s, '\r', n) || memchr(s, '\n', n) || memchr(s, '\0', n))
            return jck_fail(c, m->value.line, m->value.col,
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

/* One header of the merged set: static ones join the shared list, templated ones become
 * per-request entries. */
static int add_merged_header(jck *c, const json_member *m, iscope *scope, bool from_class,
                             req_step *r)
{
    tpl *t;
    if (scalar_tpl(c, &m->value, "a header value", scope, &t))
        return -1;
    if (tpl_is_static(t)) {
        size_t n;
        const char *s = tpl_static_text(t, &n);
        r->headers = add_header(r->headers, m->key, s, n);
        tpl_free(t);
        return 0;
    }
    r->dyn_headers = xrealloc(r->dyn_headers, (size_t)(r->ndyn_headers + 1) * sizeof *r->dyn_headers);
    r->dyn_headers[r->ndyn_headers].name = xstrdup(m->key);
    r->dyn_headers[r->ndyn_headers].value = t;
    /* "Authorization: Bearer {{token}}" on a class must not break the login that
     * captures the token: until then the header is simply not sent. */
    r->dyn_headers[r->ndyn_headers].optional = from_class;
    r->ndyn_headers++;
    return 0;
}

/* Class headers, then step headers (which win by case-insensitive name), then the
 * content type the body implies when neither gave one. */
static int build_headers(jck *c, const json_value *cls, const json_value *own,
                         const char *content_type, bool has_body, iscope *scope, req_step *r)
{
    if (cls)
        for (size_t i = 0; i < cls->obj.count; i++)
            if (!has_header(own, cls->obj.members[i].key) &&
                add_merged_header(c, &cls->obj.members[i], scope, true, r))
                return -1;
    if (own)
        for (size_t i = 0; i < own->obj.count; i++)
            if (add_merged_header(c, &own->obj.members[i], scope, false, r))
                return -1;
    if (has_body) {
        if (!has_header(cls, "Content-Type") && !has_header(own, "Content-Type")) {
            if (content_type)
                r->headers = add_header(r->headers, "Content-Type", content_type,
                                        strlen(content_type));
            else if (!(r->headers = curl_slist_append(r->headers, "Content-Type:")))
                xoom(); /* a raw body is sent without curl's form content type */
        }
        if (!has_header(cls, "Expect") && !has_header(own, "Expect") &&
            !(r->headers = curl_slist_append(r->headers, "Expect:")))
            xoom();
    }
    return 0;
}

/* ---- bodies ------------------------------------------------------------------------- */

typedef struct jbody {
    jck *c;
    iscope *scope;
    sbuf text;
    json_hole *holes;
    int nholes;
} jbody;

/* Writes v as compact JSON, leaving holes where strings hold placeholders. */
static int json_template(jbody *jb, const json_value *v)
{
    switch (v->type) {
    case JSON_STRING: {
        if (!memmem(v->str.s, v->str.len, "{{", 2)) {
            json_write_string_flags(&jb->text, v->str.s, v->str.len, 0);
            return 0;
        }
        tpl *t;
        if (request_tpl(jb->c, v, jb->scope, &t))
            return -1;
        if (tpl_is_static(t)) {
            size_t n;
            const char *s = tpl_static_text(t, &n);
            json_write_string_flags(&jb->text, s, n, 0);
            tpl_free(t);
            return 0;
        }
        bool typed = tpl_is_single(t);
        if (!typed)
            sbuf_putc(&jb->text, '"');
        jb->holes = xrealloc(jb->holes, (size_t)(jb->nholes + 1) * sizeof *jb->holes);
        jb->holes[jb->nholes++] = (json_hole){jb->text.len, t, typed};
        if (!typed)
            sbuf_putc(&jb->text, '"');
        return 0;
    }
    case JSON_ARRAY:
        sbuf_putc(&jb->text, '[');
        for (size_t i = 0; i < v->arr.count; i++) {
            if (i)
                sbuf_putc(&jb->text, ',');
            if (json_template(jb, &v->arr.items[i]))
                return -1;
        }
        sbuf_putc(&jb->text, ']');
        return 0;
    case JSON_OBJECT:
        sbuf_putc(&jb->text, '{');
        for (size_t i = 0; i < v->obj.count; i++) {
            const json_member *m = &v->obj.members[i];
            if (i)
                sbuf_putc(&jb->text, ',');
            json_write_string_flags(&jb->text, m->key, m->key_len, 0);
            sbuf_putc(&jb->text, ':');
            if (json_template(jb, &m->value))
                return -1;
        }
        sbuf_putc(&jb->text, '}');
        return 0;
    default:
        json_write_value(&jb->text, v);
        return 0;
    }
}

static int compile_body(jck *c, const json_value *v, iscope *scope, req_step *r,
                        const char **ctype)
{
    const json_value *jv = json_get(v, "json"), *fv = json_get(v, "form"),
                     *bv = json_get(v, "body");
    if ((jv != NULL) + (fv != NULL) + (bv != NULL) > 1) {
        const json_value *second = bv ? bv : fv;
        return jck_fail(c, second->line, second->col,
                        "a request takes only one of \"json\", \"form\" and \"body\"");
    }
    if (jv) {
        *ctype = "application/json";
        jbody jb = {c, scope, SBUF_INIT, NULL, 0};
        if (json_template(&jb, jv)) {
            for (int i = 0; i < jb.nholes; i++)
                tpl_free(jb.holes[i].t);
            free(jb.holes);
            sbuf_free(&jb.text);
            return -1;
        }
        if (jb.nholes) {
            r->body_kind = BODY_JSON;
            r->holes = jb.holes;
            r->nholes = jb.nholes;
            r->json_text = sbuf_take(&jb.text);
        } else {
            r->body_len = jb.text.len;
            r->body = sbuf_take(&jb.text);
        }
        return 0;
    }
    if (fv) {
        *ctype = "application/x-www-form-urlencoded";
        pairs p = {0};
        sbuf enc = SBUF_INIT;
        int rc = collect_pairs(c, fv, "form", &p);
        if (rc == 0)
            rc = compile_pairs(c, &p, "a form value", scope, false, &r->form, &r->nform, &enc);
        free_pairs(&p);
        if (rc == 0 && r->form)
            r->body_kind = BODY_FORM;
        else if (rc == 0) {
            r->body_len = enc.len;
            r->body = sbuf_take(&enc);
        }
        sbuf_free(&enc);
        return rc;
    }
    if (bv) {
        if (bv->type != JSON_STRING)
            return jck_wrong_type(c, bv, "body", "a string");
        tpl *t;
        if (request_tpl(c, bv, scope, &t))
            return -1;
        if (tpl_is_static(t)) {
            size_t n;
            const char *s = tpl_static_text(t, &n);
            r->body = xmemdup(s, n + 1);
            r->body[n] = '\0';
            r->body_len = n;
            tpl_free(t);
        } else {
            r->body_kind = BODY_RAW;
            r->raw_tpl = t;
        }
    }
    return 0;
}

/* ---- checks ------------------------------------------------------------------------- */

static int compile_regex(jck *c, const json_value *v, regex_t *re)
{
    if (v->type != JSON_STRING)
        return jck_wrong_type(c, v, "matches", "a regular expression (a string)");
    int rc = regcomp(re, v->str.s, REG_EXTENDED);
    if (rc) {
        char msg[200];
        regerror(rc, re, msg, sizeof msg);
        regfree(re);
        return jck_fail(c, v->line, v->col, "bad regular expression \"%s\": %s", v->str.s,
                        msg);
    }
    return 0;
}

static check *new_check(req_step *r, enum check_kind kind)
{
    r->checks = xrealloc(r->checks, (size_t)(r->nchecks + 1) * sizeof *r->checks);
    check *k = &r->checks[r->nchecks++];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    return k;
}

static char *printf_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_new(const char *fmt, ...)
{
    sbuf b = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    return sbuf_take(&b);
}

static int check_status(jck *c, const json_value *v, req_step *r)
{
    check *k = new_check(r, CHECK_STATUS);
    r->has_status_check = true;
    const json_value *items = v;
    size_t n = 1;
    if (v->type == JSON_ARRAY) {
        n = v->arr.count;
        items = v->arr.items;
        if (!n)
            return jck_fail(c, v->line, v->col, "\"status\" needs at least one code");
    }
    k->statuses = xcalloc(n, sizeof *k->statuses);
    sbuf label = SBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const json_value *s = &items[i];
        if (s->type != JSON_NUMBER || !s->num.is_int || s->num.i < 100 || s->num.i > 599) {
            sbuf_free(&label);
            return jck_fail(c, s->line, s->col, "a status must be a code from 100 to 599");
        }
        k->statuses[k->nstatuses++] = (long)s->num.i;
        sbuf_printf(&label, "%s%lld", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                    (long long)s->num.i);
    }
    k->label = sbuf_take(&label);
    return 0;
}

static int check_strings(jck *c, const json_value *v, const char *key, req_step *r,
                         enum check_kind kind)
{
    const json_value *items = v;
    size_t n = 1;
    if (v->type == JSON_ARRAY) {
        items = v->arr.items;
        n = v->arr.count;
    }
    for (size_t i = 0; i < n; i++) {
        const json_value *s = &items[i];
        if (s->type != JSON_STRING || !s->str.len)
            return jck_wrong_type(c, s, key, "a non-empty string or a list of them");
        check *k = new_check(r, kind);
        k->text = xmemdup(s->str.s, s->str.len + 1);
        k->len = s->str.len;
        k->label = printf_new("body %s \"%.100s\"",
                              kind == CHECK_BODY_CONTAINS ? "lacks" : "contains", s->str.s);
    }
    r->needs_body = true;
    return 0;
}

/* {"equals": v} | {"exists": bool} | {"matches": "re"} or a shorthand: anything else means
 * equals (JSON) or matches (headers). */
static int expectation(jck *c, const json_value *v, bool json, check *k, const char *what)
{
    static const char *const keys[] = {"equals", "exists", "matches", NULL};
    const json_value *e = v;
    const char *op = json ? "equals" : "matches";
    if (v->type == JSON_OBJECT) {
        if (jck_keys(c, v, "check", keys))
            return -1;
        if (v->obj.count != 1)
            return jck_fail(c, v->line, v->col,
                            "a check takes one of \"equals\", \"exists\" or \"matches\"");
        op = v->obj.members[0].key;
        e = &v->obj.members[0].value;
    }
    if (strcmp(op, "exists") == 0) {
        if (e->type != JSON_TRUE && e->type != JSON_FALSE)
            return jck_wrong_type(c, e, "exists", "true or false");
        k->op = e->type == JSON_TRUE ? CHECK_EXISTS : CHECK_ABSENT;
        k->label = printf_new("%s %s", what, k->op == CHECK_EXISTS ? "missing" : "present");
        return 0;
    }
    if (strcmp(op, "matches") == 0) {
        if (compile_regex(c, e, &k->re))
            return -1;
        k->has_re = true;
        k->op = CHECK_MATCHES;
        k->label = printf_new("%s does not match %.100s", what, e->str.s);
        return 0;
    }
    k->op = CHECK_EQUALS;
    sbuf b = SBUF_INIT;
    if (json) {
        json_write_value(&b, e);
    } else {
        const char *s;
        size_t n;
        if (jck_scalar_text(c, e, "a header value", &s, &n)) {
            sbuf_free(&b);
            return -1;
        }
        sbuf_add(&b, s, n);
    }
    k->len = b.len;
    k->text = sbuf_take(&b);
    k->label = printf_new("%s is not %.100s", what, k->text);
    return 0;
}

static int compile_check(jck *c, const json_value *v, req_step *r)
{
    static const char *const keys[] = {"status", "body_contains", "body_not_contains", "json",
                                       "headers", "max_time", NULL};
    if (v->type != JSON_OBJECT)
        return jck_wrong_type(c, v, "check", "an object");
    if (jck_keys(c, v, "check", keys))
        return -1;
    const json_value *x;
    if ((x = json_get(v, "status")) && check_status(c, x, r))
        return -1;
    if ((x = json_get(v, "body_contains")) &&
        check_strings(c, x, "body_contains", r, CHECK_BODY_CONTAINS))
        return -1;
    if ((x = json_get(v, "body_not_contains")) &&
        check_strings(c, x, "body_not_contains", r, CHECK_BODY_NOT_CONTAINS))
        return -1;
    if ((x = json_get(v, "json"))) {
        if (x->type != JSON_OBJECT || !x->obj.count)
            return jck_wrong_type(c, x, "json", "an object of JSON paths and expectations");
        for (size_t i = 0; i < x->obj.count; i++) {
            const json_member *m = &x->obj.members[i];
            check *k = new_check(r, CHECK_JSON);
            char err[200];
            size_t off = 0;
            if (!(k->path = jpath_compile(m->key, err, sizeof err, &off)))
                return jck_fail(c, m->line, m->col + 1 + (unsigned)off, "bad JSON path: %s",
                                err);
            if (expectation(c, &m->value, true, k, m->key))
                return -1;
        }
        r->needs_body = true;
    }
    if ((x = json_get(v, "headers"))) {
        if (x->type != JSON_OBJECT || !x->obj.count)
            return jck_wrong_type(c, x, "headers", "an object of header names and expectations");
        for (size_t i = 0; i < x->obj.count; i++) {
            const json_member *m = &x->obj.members[i];
            check *k = new_check(r, CHECK_HEADER);
            k->header = xstrdup(m->key);
            char what[160];
            snprintf(what, sizeof what, "header %.100s", m->key);
            if (expectation(c, &m->value, false, k, what))
                return -1;
        }
    }
    if ((x = json_get(v, "max_time"))) {
        double t;
        if (jck_number_value(c, x, "max_time", 0, true, &t))
            return -1;
        check *k = new_check(r, CHECK_MAX_TIME);
        k->max_us = (int64_t)llround(t * 1e6);
        /* No measured time in the text: failures must group. */
        k->label = printf_new("slower than %g s", t);
    }
    return 0;
}

/* ---- captures ----------------------------------------------------------------------- */

static int compile_capture(jck *c, const json_member *m, iscope *scope, req_step *r)
{
    static const char *const keys[] = {"json", "pick", "header", "regex", "group", "cookie",
                                       "status", "default", "required", NULL};
    const json_value *v = &m->value;
    r->captures = xrealloc(r->captures, (size_t)(r->ncaptures + 1) * sizeof *r->captures);
    capture *k = &r->captures[r->ncaptures++];
    memset(k, 0, sizeof *k);
    k->var = xstrdup(m->key);
    k->slot = scope_variable(scope, m->key);
    k->required = true;
    if (v->type == JSON_STRING) {
        /* "token": "$.token" is a JSON path capture */
        k->kind = CAPTURE_JSON;
        char err[200];
        size_t off = 0;
        if (!(k->path = jpath_compile(v->str.s, err, sizeof err, &off)))
            return jck_fail(c, v->line, jck_string_col(v, off), "bad JSON path: %s", err);
        r->needs_body = true;
        return 0;
    }
    if (v->type != JSON_OBJECT)
        return jck_wrong_type(c, v, m->key, "a JSON path or an object such as {\"header\": ...}");
    if (jck_keys(c, v, "capture", keys))
        return -1;
    int sources = 0;
    const json_value *x;
    if ((x = json_get(v, "json"))) {
        sources++;
        k->kind = CAPTURE_JSON;
        if (x->type != JSON_STRING)
            return jck_wrong_type(c, x, "json", "a JSON path");
        char err[200];
        size_t off = 0;
        if (!(k->path = jpath_compile(x->str.s, err, sizeof err, &off)))
            return jck_fail(c, x->line, jck_string_col(x, off), "bad JSON path: %s", err);
        r->needs_body = true;
        static const char *const picks[] = {"first", "last", "random", NULL};
        int pick = 0;
        if (jck_choice(c, v, "pick", picks, &pick))
            return -1;
        k->pick = (enum capture_pick)pick;
    } else if (json_get(v, "pick")) {
        x = json_get(v, "pick");
        return jck_fail(c, x->line, x->col, "\"pick\" goes with a \"json\" capture");
    }
    const char *s = NULL;
    if (jck_string(c, v, "header", &s))
        return -1;
    if (s) {
        sources++;
        k->kind = CAPTURE_HEADER;
        k->name = xstrdup(s);
    }
    s = NULL;
    if (jck_string(c, v, "cookie", &s))
        return -1;
    if (s) {
        sources++;
        k->kind = CAPTURE_COOKIE;
        k->name = xstrdup(s);
    }
    if ((x = json_get(v, "regex"))) {
        sources++;
        k->kind = CAPTURE_REGEX;
        if (compile_regex(c, x, &k->re))
            return -1;
        k->has_re = true;
        long group = 1;
        if (jck_int(c, v, "group", 0, 9, &group))
            return -1;
        if ((size_t)group > k->re.re_nsub)
            return jck_fail(c, x->line, x->col, "the regular expression has no group %ld",
                            group);
        k->group = (int)group;
        r->needs_body = true;
    } else if ((x = json_get(v, "group"))) {
        return jck_fail(c, x->line, x->col, "\"group\" goes with a \"regex\" capture");
    }
    if ((x = json_get(v, "status"))) {
        sources++;
        if (x->type != JSON_TRUE)
            return jck_fail(c, x->line, x->col, "\"status\" capture must be true");
        k->kind = CAPTURE_STATUS;
    }
    if (sources != 1)
        return jck_fail(c, v->line, v->col,
                        "a capture takes exactly one of \"json\", \"header\", \"regex\", "
                        "\"cookie\" or \"status\"");
    if ((x = json_get(v, "default"))) {
        const char *d;
        size_t n;
        if (jck_scalar_text(c, x, "\"default\"", &d, &n))
            return -1;
        k->def = xmemdup(d, n + 1);
        k->def[n] = '\0';
        k->def_len = n;
        k->required = false;
    }
    if (jck_bool(c, v, "required", &k->required))
        return -1;
    return 0;
}

void request_capture_names(const json_value *v, void (*fn)(void *data, const char *name),
                           void *data)
{
    const json_value *cap = v->type == JSON_OBJECT ? json_get(v, "capture") : NULL;
    if (!cap || cap->type != JSON_OBJECT)
        return;
    for (size_t i = 0; i < cap->obj.count; i++)
        fn(data, cap->obj.members[i].key);
}

/* ---- HTTP options ------------------------------------------------------------------- */

void request_opts_free(http_opts *o)
{
    if (!o)
        return;
    free((char *)o->client_cert);
    free((char *)o->client_key);
    free((char *)o->userpwd);
    free(o);
}

static char *file_path(jck *c, const json_value *v, const char *base_dir)
{
    if (v->type != JSON_STRING || !v->str.len) {
        jck_wrong_type(c, v, "client_cert", "a file path");
        return NULL;
    }
    /* Certificates are read when the file loads, so they are the same for every user: a
     * placeholder would be taken as part of the file's name. */
    const char *t = memmem(v->str.s, v->str.len, "{{", 2);
    if (t) {
        jck_fail(c, v->line, jck_string_col(v, (size_t)(t - v->str.s)),
                 "\"client_cert\" takes a file path, not a template: certificates are "
                 "checked when the file loads");
        return NULL;
    }
    return jck_file(c, v, v->str.s, base_dir);
}

static bool has_placeholder(const json_value *v)
{
    return v->type == JSON_STRING && memmem(v->str.s, v->str.len, "{{", 2);
}

/* True when a basic_auth value (already checked by request_opts) holds placeholders. */
static bool auth_templated(const json_value *a)
{
    if (a->type == JSON_ARRAY)
        return has_placeholder(&a->arr.items[0]) || has_placeholder(&a->arr.items[1]);
    return has_placeholder(a);
}

int request_opts(jck *c, const json_value *obj, const http_opts *inherit,
                 const char *base_dir, http_opts **out)
{
    *out = NULL;
    const json_value *ver = json_get(obj, "http_version"), *verify = json_get(obj, "verify_tls"),
                     *cert = json_get(obj, "client_cert"), *auth = json_get(obj, "basic_auth");
    if (!ver && !verify && !cert && !auth)
        return 0;
    http_opts *o = xcalloc(1, sizeof *o);
    o->version = 1;
    if (inherit) {
        o->version = inherit->version;
        o->insecure = inherit->insecure;
        o->client_cert = inherit->client_cert ? xstrdup(inherit->client_cert) : NULL;
        o->client_key = inherit->client_key ? xstrdup(inherit->client_key) : NULL;
        o->userpwd = inherit->userpwd ? xstrdup(inherit->userpwd) : NULL;
    }
    *out = o;
    if (ver) {
        const char *s;
        size_t n;
        if (jck_scalar_text(c, ver, "\"http_version\"", &s, &n))
            return -1;
        if ((n == 3 && memcmp(s, "1.1", 3) == 0) || (n == 1 && s[0] == '1'))
            o->version = 1;
        else if (n == 1 && s[0] == '2')
            o->version = 2;
        else
            return jck_fail(c, ver->line, ver->col, "\"http_version\" must be \"1.1\" or \"2\"");
    }
    if (verify) {
        bool v = true;
        if (jck_bool(c, obj, "verify_tls", &v))
            return -1;
        o->insecure = !v;
    }
    if (cert) {
        const json_value *cv = cert, *kv = NULL;
        if (cert->type == JSON_OBJECT) {
            static const char *const keys[] = {"cert", "key", NULL};
            if (jck_keys(c, cert, "client_cert", keys))
                return -1;
            cv = json_get(cert, "cert");
            kv = json_get(cert, "key");
            if (!cv)
                return jck_fail(c, cert->line, cert->col, "\"client_cert\" needs \"cert\"");
        }
        free((char *)o->client_cert);
        free((char *)o->client_key);
        o->client_key = NULL;
        if (!(o->client_cert = file_path(c, cv, base_dir)))
            return -1;
        if (kv && !(o->client_key = file_path(c, kv, base_dir)))
            return -1;
    }
    if (auth) {
        sbuf up = SBUF_INIT;
        if (auth->type == JSON_ARRAY && auth->arr.count == 2 &&
            auth->arr.items[0].type == JSON_STRING && auth->arr.items[1].type == JSON_STRING) {
            sbuf_printf(&up, "%s:%s", auth->arr.items[0].str.s, auth->arr.items[1].str.s);
        } else if (auth->type == JSON_STRING && strchr(auth->str.s, ':')) {
            sbuf_puts(&up, auth->str.s);
        } else {
            sbuf_free(&up);
            return jck_wrong_type(c, auth, "basic_auth",
                                  "[\"user\", \"password\"] or \"user:password\"");
        }
        free((char *)o->userpwd);
        o->userpwd = NULL;
        /* Templated: every request renders its own (request_compile). */
        if (auth_templated(auth))
            sbuf_free(&up);
        else
            o->userpwd = sbuf_take(&up);
    }
    return 0;
}

/* A templated basic_auth as the request's own templates (names checked against the
 * class's scope, here at load). */
static int compile_auth(jck *c, const json_value *a, iscope *scope, req_step *r)
{
    if (a->type == JSON_STRING) {
        if (request_tpl(c, a, scope, &r->auth[0]))
            return -1;
    } else if (request_tpl(c, &a->arr.items[0], scope, &r->auth[0]) ||
               request_tpl(c, &a->arr.items[1], scope, &r->auth[1])) {
        return -1;
    }
    if (!tpl_is_static(r->auth[0]) || (r->auth[1] && !tpl_is_static(r->auth[1])))
        return 0;
    /* Folded at load ({{env(PASSWORD)}}): the request's own options say it once. */
    sbuf up = SBUF_INIT;
    for (int i = 0; i < 2 && r->auth[i]; i++) {
        size_t n;
        const char *t = tpl_static_text(r->auth[i], &n);
        if (i)
            sbuf_putc(&up, ':');
        sbuf_add(&up, t, n);
        tpl_free(r->auth[i]);
        r->auth[i] = NULL;
    }
    if (a->type == JSON_STRING && !memchr(sbuf_str(&up), ':', up.len)) {
        sbuf_free(&up);
        return jck_fail(c, a->line, a->col,
                        "\"basic_auth\" has no ':' between the user and the password");
    }
    if (!r->own_opts) {
        http_opts *o = xcalloc(1, sizeof *o);
        *o = r->opts ? *r->opts : (http_opts){.version = 1};
        o->client_cert = o->client_cert ? xstrdup(o->client_cert) : NULL;
        o->client_key = o->client_key ? xstrdup(o->client_key) : NULL;
        r->own_opts = o;
        r->opts = o;
    }
    free((char *)r->own_opts->userpwd);
    r->own_opts->userpwd = sbuf_take(&up);
    return 0;
}

/* ---- the request -------------------------------------------------------------------- */

static const char *const request_keys[] = {
    "method", "url", "name", "query", "headers", "json", "form", "body", "timeout",
    "redirects", "connection", "check", "capture", "on_failure", "http_version",
    "verify_tls", "client_cert", "basic_auth", NULL};

bool request_method_ok(const char *m)
{
    if (!*m || strlen(m) > 32)
        return false;
    for (const char *p = m; *p; p++)
        if (!isalpha((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

/* Query parameters as the file writes them ("?q={{term}}&page=2"), for a default name. */
static void query_as_written(sbuf *t, const json_value *q, bool first)
{
    size_t n = q->type == JSON_OBJECT ? q->obj.count : q->arr.count;
    for (size_t i = 0; i < n; i++) {
        const char *k, *val;
        size_t kn, vn;
        if (q->type == JSON_OBJECT) {
            k = q->obj.members[i].key;
            kn = q->obj.members[i].key_len;
            if (!jck_scalar(&q->obj.members[i].value, &val, &vn))
                continue;
        } else if (!jck_scalar(&q->arr.items[i].arr.items[0], &k, &kn) ||
                   !jck_scalar(&q->arr.items[i].arr.items[1], &val, &vn)) {
            continue;
        }
        sbuf_putc(t, first && i == 0 ? '?' : '&');
        sbuf_add(t, k, kn);
        sbuf_putc(t, '=');
        sbuf_add(t, val, vn);
    }
}

/* Locust's default name with templates left as written: the path and query of the URL. */
static char *template_name(const char *url)
{
    const char *p = url;
    size_t n = strcspn(p, "#");
    if (interp_is_absolute(p)) {
        p = strstr(p, "://") + 3;
        p += strcspn(p, "/?#");
        n = strcspn(p, "#");
        if (*p != '/') {
            /* "http://h?q" asks for "/?q", as the static URL's name says. */
            char *s = xmalloc(n + 2);
            s[0] = '/';
            memcpy(s + 1, p, n);
            s[n + 1] = '\0';
            return s;
        }
    }
    return xstrndup(p, n);
}

int request_compile(jck *c, const json_value *v, const request_defaults *d, iscope *scope,
                    req_step *r)
{
    const char *method = "GET", *url = NULL, *name = NULL;
    const json_value *headers = NULL, *query = NULL, *url_v = v;
    r->timeout_ms = d->timeout_ms;
    r->follow = d->follow;
    r->conn = d->conn;
    r->opts = d->opts;
    r->on_failure = d->on_failure;
    char *short_method = NULL;
    int rc = -1;
    sbuf u = SBUF_INIT;

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
        static const char *const failures[] = {"continue", "end_task", "stop_user", NULL};
        int on_failure = (int)r->on_failure;
        if (jck_keys(c, v, "request", request_keys) || jck_string(c, v, "method", &method) ||
            jck_string(c, v, "url", &url) || jck_string(c, v, "name", &name) ||
            jck_bool(c, v, "redirects", &r->follow) ||
            jck_choice(c, v, "on_failure", failures, &on_failure))
            goto out;
        r->on_failure = (enum on_failure)on_failure;
        double t = -1;
        if (jck_number(c, v, "timeout", 0, true, &t))
            goto out;
        if (t > 0)
            r->timeout_ms = t * 1000 > (double)LONG_MAX / 2 ? LONG_MAX / 2 : (long)ceil(t * 1000);
        static const char *const conns[] = {"user", "shared", "request", NULL};
        int conn = r->conn == HTTP_CONN_USER ? 0 : r->conn == HTTP_CONN_SHARED ? 1 : 2;
        if (jck_choice(c, v, "connection", conns, &conn))
            goto out;
        r->conn = conn == 0 ? HTTP_CONN_USER : conn == 1 ? HTTP_CONN_SHARED : HTTP_CONN_REQUEST;
        http_opts *own = NULL;
        if (request_opts(c, v, d->opts, d->base_dir, &own)) {
            request_opts_free(own);
            goto out;
        }
        if (own) {
            r->own_opts = own;
            r->opts = own;
        }
        if (!url) {
            jck_fail(c, v->line, v->col, "request needs a \"url\"");
            goto out;
        }
        url_v = json_get(v, "url");
        headers = json_get(v, "headers");
        query = json_get(v, "query");
        if (headers && request_check_headers(c, headers))
            goto out;
    } else {
        jck_wrong_type(c, v, "request", "an object or a \"METHOD /url\" string");
        goto out;
    }

    if (!request_method_ok(method)) {
        const json_value *mv = v->type == JSON_OBJECT ? json_get(v, "method") : v;
        jck_fail(c, mv->line, mv->col, "\"%s\" is not an HTTP method", method);
        goto out;
    }
    if (!valid_url_text(url) && !memmem(url, strlen(url), "{{", 2)) {
        jck_fail(c, url_v->line, url_v->col, "\"url\" must be non-empty and without spaces");
        goto out;
    }
    r->method = xstrdup(method);
    for (char *p = r->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);

    /* The URL: a template when it has placeholders (in the "METHOD URL" form too: braces
     * sent as written would surprise anyone who wrote them). */
    if (strstr(url, "{{")) {
        if (v->type == JSON_OBJECT) {
            if (request_tpl(c, url_v, scope, &r->url_tpl))
                goto out;
        } else {
            tpl_scope ts = {scope, scope_variable, scope_column};
            char terr[256];
            size_t off = 0, at = (size_t)(url - v->str.s);
            if (!(r->url_tpl = tpl_compile(url, strlen(url), &ts, terr, sizeof terr, &off))) {
                jck_fail(c, v->line, jck_string_col(v, at + off), "%s", terr);
                goto out;
            }
        }
        if (tpl_is_static(r->url_tpl)) {
            size_t n;
            const char *s = tpl_static_text(r->url_tpl, &n);
            sbuf_add(&u, s, n);
            tpl_free(r->url_tpl);
            r->url_tpl = NULL;
        }
    }
    if (!r->url_tpl && !u.len)
        sbuf_puts(&u, url);
    if (!r->url_tpl && !valid_url_text(sbuf_str(&u))) {
        jck_fail(c, url_v->line, url_v->col, "\"url\" must be non-empty and without spaces");
        goto out;
    }
    if (query) {
        pairs p = {0};
        sbuf enc = SBUF_INIT;
        int qrc = collect_pairs(c, query, "query", &p);
        /* With a templated URL every parameter is rendered with it. */
        if (qrc == 0)
            qrc = compile_pairs(c, &p, "a query value", scope, r->url_tpl != NULL, &r->query,
                                &r->nquery, &enc);
        free_pairs(&p);
        if (qrc) {
            sbuf_free(&enc);
            goto out;
        }
        if (!r->query && !r->url_tpl && enc.len)
            join_query(&u, sbuf_str(&enc), enc.len);
        sbuf_free(&enc);
    }
    r->url = r->url_tpl ? xstrdup(url) : sbuf_take(&u);
    if (name) {
        if (!*name) {
            const json_value *nv = json_get(v, "name");
            jck_fail(c, nv->line, nv->col, "request \"name\" must not be empty");
            goto out;
        }
        r->name = xstrdup(name);
        r->name_explicit = true;
    }

    const char *ctype = NULL;
    if (v->type == JSON_OBJECT && compile_body(c, v, scope, r, &ctype))
        goto out;
    /* A POST without a body still goes out as one (Content-Length: 0): like requests,
     * without curl's form content type. */
    bool has_body = r->body || r->body_kind != BODY_NONE || strcmp(r->method, "POST") == 0;
    if (build_headers(c, d->headers, headers, ctype, has_body, scope, r))
        goto out;
    /* basic_auth with placeholders, the request's own or else its class's (which, like a
     * class header, is left out while a variable it names has no value yet). */
    const json_value *auth = v->type == JSON_OBJECT ? json_get(v, "basic_auth") : NULL;
    r->auth_optional = !auth;
    if (!auth)
        auth = d->basic_auth;
    if (auth && auth_templated(auth) && compile_auth(c, auth, scope, r))
        goto out;

    if (v->type == JSON_OBJECT) {
        const json_value *x;
        if ((x = json_get(v, "check")) && compile_check(c, x, r))
            goto out;
        if ((x = json_get(v, "capture"))) {
            if (x->type != JSON_OBJECT) {
                jck_wrong_type(c, x, "capture", "an object of variable names");
                goto out;
            }
            for (size_t i = 0; i < x->obj.count; i++)
                if (compile_capture(c, &x->obj.members[i], scope, r))
                    goto out;
        }
    }
    r->dynamic = r->url_tpl || r->query || r->ndyn_headers || r->body_kind != BODY_NONE ||
                 r->auth[0];
    if (r->dynamic && !r->name) {
        /* The default name of a templated request is its URL as written: the statistics
         * group every rendering of it, as Locust users do with name=. */
        sbuf t = SBUF_INIT;
        char *path = template_name(url);
        sbuf_puts(&t, path);
        free(path);
        if (query)
            query_as_written(&t, query, !strchr(url, '?'));
        r->name = sbuf_take(&t);
        r->name_explicit = true;
    }
    rc = 0;
out:
    sbuf_free(&u);
    free(short_method);
    return rc;
}
