#include "interp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"
#include "rng.h"
#include "xalloc.h"

/* Response bodies kept for checks and captures are cut here: a hostile target cannot make
 * a user hold more. */
#define BODY_LIMIT (16u * 1024 * 1024)

/* ---- URLs --------------------------------------------------------------------------- */

bool interp_is_absolute(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

void interp_join_url_to(sbuf *out, const char *host, const char *path, size_t pl)
{
    if (interp_is_absolute(path) || !host) {
        sbuf_add(out, path, pl);
        return;
    }
    size_t hl = strlen(host);
    if (hl && host[hl - 1] == '/' && path[0] == '/')
        hl--;
    bool slash = path[0] != '/' && path[0] != '?' && path[0] != '\0' &&
                 !(hl && host[hl - 1] == '/');
    sbuf_add(out, host, hl);
    if (slash)
        sbuf_putc(out, '/');
    sbuf_add(out, path, pl);
}

char *interp_join_url(const char *host, const char *path)
{
    sbuf b = SBUF_INIT;
    interp_join_url_to(&b, host, path, strlen(path));
    return sbuf_take(&b);
}

void interp_urlencode(sbuf *b, const char *s, size_t n)
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

/* Link-local IPv6 literal ([fe80::...]): connection affinity must not touch its scope. */
bool interp_link_local(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    /* Skip user information ("user:pass@") before the host. */
    const char *at = strchr(p, '@'), *slash = p + strcspn(p, "/?#");
    if (at && at < slash)
        p = at + 1;
    if (*p != '[')
        return false;
    p++;
    return strncasecmp(p, "fe8", 3) == 0 || strncasecmp(p, "fe9", 3) == 0 ||
           strncasecmp(p, "fea", 3) == 0 || strncasecmp(p, "feb", 3) == 0;
}

/* Locust HttpUser's default name: the path and query of the URL actually requested. */
static char *path_url(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return xstrdup(url);
    p += 3;
    p += strcspn(p, "/?#");
    if (*p == '\0' || *p == '#')
        return xstrdup("/");
    if (*p == '?') {
        size_t n = strcspn(p, "#");
        char *s = xmalloc(n + 2);
        s[0] = '/';
        memcpy(s + 1, p, n);
        s[n + 1] = '\0';
        return s;
    }
    return xstrndup(p, strcspn(p, "#"));
}

int interp_resolve(program *p, const char *host, char *err, size_t errlen)
{
    for (int i = 0; i < p->n; i++) {
        step *s = &p->steps[i];
        if (s->kind != STEP_REQUEST)
            continue;
        req_step *r = &s->r;
        if (!interp_is_absolute(r->url) && !host) {
            snprintf(err, errlen,
                     "%s: relative URL \"%s\" but no host: set \"host\" in the scenario or "
                     "its user class, or use --host", s->where, r->url);
            return -1;
        }
        free(r->host);
        r->host = host ? xstrdup(host) : NULL;
        free(r->abs_url);
        r->abs_url = interp_join_url(host, r->url);
        if (!r->name_explicit) {
            char *name = path_url(r->abs_url);
            if (r->name && strcmp(r->name, name) == 0) {
                free(name);
            } else {
                free(r->name);
                r->name = name;
                r->entry = NULL;
            }
        }
        r->req.method = r->method;
        r->req.kind = strcmp(r->method, "GET") == 0    ? HTTP_GET
                      : strcmp(r->method, "HEAD") == 0 ? HTTP_HEAD
                      : strcmp(r->method, "POST") == 0 ? HTTP_POST
                                                       : HTTP_OTHER;
        r->req.url = r->abs_url;
        r->req.headers = r->headers;
        r->req.body = r->body;
        r->req.body_len = r->body_len;
        r->req.timeout_ms = r->timeout_ms;
        r->req.follow = r->follow;
        r->req.link_local = interp_link_local(r->abs_url);
        r->req.dynamic = r->dynamic;
        r->req.conn = r->conn;
        r->req.opts = r->opts;
        http_req_parse(&r->req);
    }
    return 0;
}

/* ---- freeing ------------------------------------------------------------------------ */

static void free_pairs(tpl_pair *p, int n)
{
    for (int i = 0; i < n; i++) {
        free(p[i].name);
        tpl_free(p[i].value);
    }
    free(p);
}

static void free_request(req_step *r)
{
    http_req_unparse(&r->req);
    free(r->method);
    free(r->url);
    free(r->name);
    free(r->body);
    free(r->host);
    free(r->abs_url);
    curl_slist_free_all(r->headers);
    tpl_free(r->url_tpl);
    free_pairs(r->query, r->nquery);
    free_pairs(r->dyn_headers, r->ndyn_headers);
    tpl_free(r->raw_tpl);
    free(r->json_text);
    for (int i = 0; i < r->nholes; i++)
        tpl_free(r->holes[i].t);
    free(r->holes);
    free_pairs(r->form, r->nform);
    tpl_free(r->auth[0]);
    tpl_free(r->auth[1]);
    for (int i = 0; i < r->nchecks; i++) {
        check *c = &r->checks[i];
        free(c->statuses);
        free(c->text);
        free(c->header);
        jpath_free(c->path);
        if (c->has_re)
            regfree(&c->re);
        free(c->label);
    }
    free(r->checks);
    for (int i = 0; i < r->ncaptures; i++) {
        capture *c = &r->captures[i];
        free(c->var);
        jpath_free(c->path);
        free(c->name);
        if (c->has_re)
            regfree(&c->re);
        free(c->def);
    }
    free(r->captures);
    if (r->own_opts) {
        free((char *)r->own_opts->client_cert);
        free((char *)r->own_opts->client_key);
        free((char *)r->own_opts->userpwd);
        free(r->own_opts);
    }
}

void interp_free(program *p)
{
    for (int i = 0; i < p->n; i++) {
        step *s = &p->steps[i];
        free(s->where);
        if (s->kind == STEP_REQUEST)
            free_request(&s->r);
    }
    free(p->steps);
    p->steps = NULL;
    p->n = 0;
}

void interp_scope_free(iscope *s)
{
    for (int i = 0; i < s->nvars; i++) {
        free(s->vars[i]);
        free((char *)s->initial[i].s);
    }
    free(s->vars);
    free(s->initial);
    free(s->sources);
    free(s->per_task);
    memset(s, 0, sizeof *s);
}

/* ---- per-user state ----------------------------------------------------------------- */

typedef struct uvar {
    sbuf v;
    bool set, json;
} uvar;

typedef struct ustate {
    const iscope *scope;
    uvar *vars;
    long *rows;                 /* per source: the row held, or -1 */
    uint32_t *row_task;         /* per source: the task the row was taken for */
    uint32_t task;              /* tasks started (per-task rows) */
    bool data_stop;             /* a source ran out and this user must stop */
    sbuf url, body, resp, text;
    sbuf hdr_text;              /* "Name: value\0" strings of templated headers */
    struct curl_slist *hdr_nodes;
    size_t *hdr_offs;           /* where each rendered header starts in hdr_text */
    int nhdr_nodes;             /* capacity of both */
    sbuf auth;                  /* templated basic_auth: "user\0password\0" */
    http_opts auth_opts;        /* the step's options with that user and password */
    http_req req;
} ustate;

static ustate *state_of(user *u, const iscope *scope)
{
    ustate *st = u->vars;
    if (st)
        return st;
    st = xcalloc(1, sizeof *st);
    st->scope = scope;
    if (scope->nvars) {
        st->vars = xcalloc((size_t)scope->nvars, sizeof *st->vars);
        for (int i = 0; i < scope->nvars; i++)
            if (scope->initial[i].s) {
                sbuf_add(&st->vars[i].v, scope->initial[i].s, scope->initial[i].len);
                st->vars[i].set = true;
                st->vars[i].json = scope->initial[i].json;
            }
    }
    if (scope->nsources) {
        st->rows = xmalloc((size_t)scope->nsources * sizeof *st->rows);
        st->row_task = xcalloc((size_t)scope->nsources, sizeof *st->row_task);
        for (int i = 0; i < scope->nsources; i++)
            st->rows[i] = -1;
    }
    u->vars = st;
    return st;
}

void interp_user_cleanup(user *u)
{
    ustate *st = u->vars;
    if (!st)
        return;
    for (int i = 0; i < st->scope->nsources; i++)
        if (st->rows[i] >= 0)
            data_release(st->scope->sources[i], st->rows[i]);
    for (int i = 0; i < st->scope->nvars; i++)
        sbuf_free(&st->vars[i].v);
    free(st->vars);
    free(st->rows);
    free(st->row_task);
    sbuf_free(&st->url);
    sbuf_free(&st->body);
    sbuf_free(&st->resp);
    sbuf_free(&st->text);
    sbuf_free(&st->hdr_text);
    sbuf_free(&st->auth);
    free(st->hdr_nodes);
    free(st->hdr_offs);
    free(st);
    u->vars = NULL;
}

/* ---- rendering ---------------------------------------------------------------------- */

typedef struct render {
    user *u;
    ustate *st;
} render;

static tpl_value var_value(void *data, int slot)
{
    render *r = data;
    const uvar *v = &r->st->vars[slot];
    return (tpl_value){v->set ? sbuf_str(&v->v) : NULL, v->v.len, v->json};
}

/* The user's row of source `src`: taken the first time it is needed (again for each task
 * with "per": "task"). */
static long row_of(render *r, int src)
{
    ustate *st = r->st;
    const iscope *sc = st->scope;
    data_source *d = sc->sources[src];
    if (st->rows[src] >= 0 && (!sc->per_task[src] || st->row_task[src] == st->task))
        return st->rows[src];
    if (st->rows[src] >= 0)
        data_release(d, st->rows[src]);
    st->rows[src] = data_take(d);
    st->row_task[src] = st->task;
    if (st->rows[src] >= 0)
        return st->rows[src];
    /* Out of rows: say so once per source, then act as the file asks. */
    static const data_source *warned[64];
    bool seen = false;
    for (size_t i = 0; i < sizeof warned / sizeof warned[0] && warned[i]; i++)
        seen |= warned[i] == d;
    if (!seen) {
        for (size_t i = 0; i < sizeof warned / sizeof warned[0]; i++)
            if (!warned[i]) {
                warned[i] = d;
                break;
            }
    }
    enum data_exhausted how = data_on_exhausted(d);
    if (!seen)
        log_warning("cicada.data", "data source \"%s\" has no row left: %s", data_name(d),
                    how == DATA_STOP_TEST ? "stopping the test" : "users that need one stop");
    if (how == DATA_STOP_TEST && sc->stop_test)
        sc->stop_test(sc->stop_test_data, "test data ran out");
    st->data_stop = true;
    return -1;
}

static const char *column_value(void *data, int id, size_t *len, bool *json)
{
    render *r = data;
    int src = id >> 16, col = id & 0xffff;
    long row = row_of(r, src);
    if (row < 0)
        return NULL;
    return data_cell(r->st->scope->sources[src], row, (size_t)col, len, json);
}

static tpl_ctx ctx_of(render *r)
{
    return (tpl_ctx){
        .data = r,
        .variable = var_value,
        .column = column_value,
        .user_index = r->u->index,
        .worker_index = r->st->scope->worker_index,
        .now = user_now(r->u),
    };
}

/* Renders a value and form-encodes it onto out. */
static int render_encoded(const tpl *t, const tpl_ctx *ctx, sbuf *out, sbuf *tmp, char *err,
                          size_t errlen)
{
    sbuf_reset(tmp);
    if (tpl_render(t, ctx, tmp, NULL, err, errlen))
        return -1;
    interp_urlencode(out, sbuf_str(tmp), tmp->len);
    return 0;
}

static int render_url(const req_step *q, const tpl_ctx *ctx, ustate *st, char *err,
                      size_t errlen)
{
    sbuf *url = &st->url;
    sbuf_reset(url);
    sbuf_reset(&st->text);
    if (q->url_tpl) {
        if (tpl_render(q->url_tpl, ctx, &st->text, NULL, err, errlen))
            return -1;
    } else {
        sbuf_puts(&st->text, q->url);
    }
    /* curl never sends a fragment, and query parameters must go before one. */
    const char *path = sbuf_str(&st->text);
    interp_join_url_to(url, q->host, path, strcspn(path, "#"));
    for (int i = 0; i < q->nquery; i++) {
        if (i == 0) {
            const char *qm = strchr(sbuf_str(url), '?');
            if (!qm)
                sbuf_putc(url, '?');
            else if (qm[1])
                sbuf_putc(url, '&');
        } else {
            sbuf_putc(url, '&');
        }
        interp_urlencode(url, q->query[i].name, strlen(q->query[i].name));
        sbuf_putc(url, '=');
        if (render_encoded(q->query[i].value, ctx, url, &st->text, err, errlen))
            return -1;
    }
    for (const char *p = sbuf_str(url); *p; p++)
        if ((unsigned char)*p <= ' ') {
            snprintf(err, errlen, "the URL after templating has a space or control "
                                  "character: \"%.200s\"", sbuf_str(url));
            return -1;
        }
    return 0;
}

static int render_body(const req_step *q, const tpl_ctx *ctx, ustate *st, char *err,
                       size_t errlen)
{
    sbuf *b = &st->body;
    sbuf_reset(b);
    switch (q->body_kind) {
    case BODY_NONE:
        return 0;
    case BODY_RAW:
        return tpl_render(q->raw_tpl, ctx, b, NULL, err, errlen);
    case BODY_FORM:
        for (int i = 0; i < q->nform; i++) {
            if (i)
                sbuf_putc(b, '&');
            interp_urlencode(b, q->form[i].name, strlen(q->form[i].name));
            sbuf_putc(b, '=');
            if (render_encoded(q->form[i].value, ctx, b, &st->text, err, errlen))
                return -1;
        }
        return 0;
    case BODY_JSON: {
        size_t at = 0;
        for (int i = 0; i < q->nholes; i++) {
            const json_hole *h = &q->holes[i];
            sbuf_add(b, q->json_text + at, h->at - at);
            at = h->at;
            sbuf_reset(&st->text);
            bool is_json = false;
            if (tpl_render(h->t, ctx, &st->text, h->typed ? &is_json : NULL, err, errlen))
                return -1;
            if (h->typed && is_json)
                sbuf_add(b, st->text.s, st->text.len);
            else if (h->typed)
                json_write_string_flags(b, sbuf_str(&st->text), st->text.len, 0);
            else {
                /* Inside a string: escaped text without quotes. */
                size_t mark = b->len;
                json_write_string_flags(b, sbuf_str(&st->text), st->text.len, 0);
                memmove(b->s + mark, b->s + mark + 1, b->len - mark - 2);
                b->len -= 2;
                b->s[b->len] = '\0';
            }
        }
        sbuf_puts(b, q->json_text + at);
        return 0;
    }
    }
    return 0;
}

typedef struct unset_check {
    const ustate *st;
    bool unset;
} unset_check;

static void note_unset(void *data, int slot)
{
    unset_check *u = data;
    if (!u->st->vars[slot].set)
        u->unset = true;
}

/* Templated headers go in front of the static list, in nodes the user owns: the static
 * part is shared, not copied. */
static int render_headers(const req_step *q, const tpl_ctx *ctx, ustate *st, char *err,
                          size_t errlen)
{
    if (!q->ndyn_headers) {
        st->req.headers = q->headers;
        return 0;
    }
    sbuf_reset(&st->hdr_text);
    if (st->nhdr_nodes < q->ndyn_headers) {
        st->nhdr_nodes = q->ndyn_headers;
        st->hdr_nodes = xrealloc(st->hdr_nodes, (size_t)st->nhdr_nodes * sizeof *st->hdr_nodes);
        st->hdr_offs = xrealloc(st->hdr_offs, (size_t)st->nhdr_nodes * sizeof *st->hdr_offs);
    }
    size_t *offs = st->hdr_offs;
    int rc = 0, n = 0;
    for (int i = 0; i < q->ndyn_headers && rc == 0; i++) {
        if (q->dyn_headers[i].optional) {
            unset_check uc = {st, false};
            tpl_foreach_variable(q->dyn_headers[i].value, note_unset, &uc);
            if (uc.unset)
                continue;
        }
        offs[n++] = st->hdr_text.len;
        sbuf_puts(&st->hdr_text, q->dyn_headers[i].name);
        size_t mark = st->hdr_text.len;
        sbuf_puts(&st->hdr_text, ": ");
        size_t vstart = st->hdr_text.len;
        if (tpl_render(q->dyn_headers[i].value, ctx, &st->hdr_text, NULL, err, errlen)) {
            rc = -1;
            break;
        }
        if (memchr(st->hdr_text.s + vstart, '\r', st->hdr_text.len - vstart) ||
            memchr(st->hdr_text.s + vstart, '\n', st->hdr_text.len - vstart)) {
            snprintf(err, errlen, "header %s: the value after templating has a line break",
                     q->dyn_headers[i].name);
            rc = -1;
            break;
        }
        if (st->hdr_text.len == vstart) {
            /* curl sends "Name;" as an empty header. */
            st->hdr_text.len = mark;
            sbuf_putc(&st->hdr_text, ';');
        }
        sbuf_putc(&st->hdr_text, '\0');
    }
    if (rc == 0 && n == 0)
        st->req.headers = q->headers;
    if (rc == 0 && n > 0) {
        for (int i = 0; i < n; i++) {
            st->hdr_nodes[i].data = st->hdr_text.s + offs[i];
            st->hdr_nodes[i].next = i + 1 < n ? &st->hdr_nodes[i + 1] : q->headers;
        }
        st->req.headers = st->hdr_nodes;
    }
    return rc;
}

/* A templated basic_auth into the user's own buffer and options: the rendered user and
 * password go with this request only (every dynamic request sets its options again on
 * whichever pooled handle runs it). */
static int render_auth(const req_step *q, const tpl_ctx *ctx, ustate *st, char *err,
                       size_t errlen)
{
    if (q->auth_optional) {
        unset_check uc = {st, false};
        for (int i = 0; i < 2; i++)
            if (q->auth[i])
                tpl_foreach_variable(q->auth[i], note_unset, &uc);
        if (uc.unset)
            return 0;   /* the class's, before its variables are set: no authentication */
    }
    sbuf *a = &st->auth;
    sbuf_reset(a);
    if (tpl_render(q->auth[0], ctx, a, NULL, err, errlen))
        return -1;
    size_t user_len = a->len;
    if (q->auth[1]) {
        sbuf_putc(a, '\0');
        if (tpl_render(q->auth[1], ctx, a, NULL, err, errlen))
            return -1;
    } else {
        const char *colon = memchr(sbuf_str(a), ':', a->len);
        if (!colon) {
            /* The value is a credential: not in the message. */
            snprintf(err, errlen, "basic_auth after templating has no ':' between the user "
                                  "and the password");
            return -1;
        }
        user_len = (size_t)(colon - a->s);
        a->s[user_len] = '\0';
    }
    if (memchr(a->s, '\0', user_len) || memchr(a->s + user_len + 1, '\0', a->len - user_len - 1)) {
        snprintf(err, errlen, "basic_auth after templating has a NUL character");
        return -1;
    }
    static const http_opts defaults = {.version = 1};
    st->auth_opts = q->opts ? *q->opts : defaults;
    st->auth_opts.userpwd = NULL;
    st->auth_opts.username = a->s;
    st->auth_opts.password = a->s + user_len + 1;
    st->req.opts = &st->auth_opts;
    return 0;
}

/* The request of a step with templates, in the user's own buffers. */
static const http_req *render_request(render *r, const req_step *q, char *err, size_t errlen)
{
    ustate *st = r->st;
    tpl_ctx ctx = ctx_of(r);
    st->req = q->req;
    if (render_url(q, &ctx, st, err, errlen) || render_body(q, &ctx, st, err, errlen) ||
        render_headers(q, &ctx, st, err, errlen) ||
        (q->auth[0] && render_auth(q, &ctx, st, err, errlen)))
        return NULL;
    st->req.url = sbuf_str(&st->url);
    st->req.link_local = interp_link_local(st->req.url);
    if (q->body_kind != BODY_NONE) {
        st->req.body = sbuf_str(&st->body);
        st->req.body_len = st->body.len;
    }
    st->req.dynamic = true;
    return &st->req;
}

/* ---- checks ------------------------------------------------------------------------- */

typedef struct json_test {
    const check *c;
    sbuf *tmp;
    bool pass;
} json_test;

static bool json_check_one(void *data, const jmatch *m)
{
    json_test *t = data;
    switch (t->c->op) {
    case CHECK_EQUALS:
        t->pass = jpath_equals(m, t->c->text, t->c->len);
        break;
    case CHECK_MATCHES:
        sbuf_reset(t->tmp);
        t->pass = jpath_value(m, t->tmp) && regexec(&t->c->re, sbuf_str(t->tmp), 0, NULL, 0) == 0;
        break;
    default:
        t->pass = true;
        break;
    }
    return !t->pass; /* any match that passes is enough */
}

/* True when the check passes. */
static bool run_check(user *u, ustate *st, const check *c, const http_result *res)
{
    const char *body = st ? sbuf_str(&st->resp) : "";
    size_t blen = st ? st->resp.len : 0;
    switch (c->kind) {
    case CHECK_STATUS:
        for (int i = 0; i < c->nstatuses; i++)
            if (c->statuses[i] == res->status)
                return true;
        return false;
    case CHECK_BODY_CONTAINS:
        return memmem(body, blen, c->text, c->len) != NULL;
    case CHECK_BODY_NOT_CONTAINS:
        return memmem(body, blen, c->text, c->len) == NULL;
    case CHECK_MAX_TIME:
        return res->rt_us <= c->max_us;
    case CHECK_HEADER: {
        const char *v = http_response_header(&u->http, c->header);
        if (c->op == CHECK_EXISTS)
            return v != NULL;
        if (c->op == CHECK_ABSENT)
            return v == NULL;
        if (!v)
            return false;
        if (c->op == CHECK_EQUALS)
            return strcmp(v, c->text) == 0;
        return regexec(&c->re, v, 0, NULL, 0) == 0;
    }
    case CHECK_JSON: {
        json_test t = {c, &st->text, false};
        size_t n = jpath_each(c->path, body, blen, json_check_one, &t);
        if (c->op == CHECK_EXISTS)
            return n > 0;
        if (c->op == CHECK_ABSENT)
            return n == 0;
        return t.pass;
    }
    }
    return true;
}

/* A check on a body cut at BODY_LIMIT can only pass when the kept part decides it (the
 * text it must contain is there); otherwise what was cut off might change the answer,
 * and a load test must not pass what it did not see. The checks the kept part can never
 * decide are not run: scanning 16 MiB holds the loop, and every user, for tens of ms. */
static bool body_never_decides(const check *c)
{
    return c->kind == CHECK_BODY_NOT_CONTAINS || c->kind == CHECK_JSON;
}

/* Decides success or failure: Locust's status rule unless the step names the statuses it
 * accepts, then every check in order; the first that fails names the failure. */
static bool judge(user *u, ustate *st, const req_step *q, const http_result *res, char *text,
                  size_t len)
{
    if (res->code != CURLE_OK || (!q->has_status_check && res->status >= 400 &&
                                  res->status <= 599))
        return http_failure_text(res, q->name_explicit ? q->name : q->req.url, text, len);
    bool cut = st && q->needs_body && res->bytes > st->resp.len;
    for (int i = 0; i < q->nchecks; i++) {
        const check *c = &q->checks[i];
        bool undecided = cut && body_never_decides(c);
        bool pass = !undecided && run_check(u, st, c, res);
        if (cut && !pass && c->kind == CHECK_BODY_CONTAINS)
            undecided = true;
        /* Checks after the first failure do not run, so they count neither way. */
        stats_log_checks(u->env->stats, 1, !pass);
        if (pass)
            continue;
        if (undecided)
            snprintf(text, len, "CheckFailed('body over %u MiB, not checked')",
                     BODY_LIMIT >> 20);
        else if (c->kind == CHECK_STATUS)
            snprintf(text, len, "CheckFailed('status %ld, expected %s')", res->status, c->label);
        else
            snprintf(text, len, "CheckFailed('%s')", c->label);
        return true;
    }
    return false;
}

/* ---- captures ----------------------------------------------------------------------- */

typedef struct pick_state {
    const capture *c;
    sbuf *out;
    size_t seen;
    bool found;
    enum jvalue_kind kind;
} pick_state;

static bool pick_one(void *data, const jmatch *m)
{
    pick_state *p = data;
    p->seen++;
    /* random: reservoir sampling keeps each match with equal chance in one pass */
    if (p->c->pick == PICK_RANDOM && p->seen > 1 && rng_below(p->seen) != 0)
        return true;
    sbuf_reset(p->out);
    p->found = jpath_value(m, p->out);
    p->kind = m->kind;
    return p->c->pick != PICK_FIRST;
}

/* Fills `out` with what the capture finds; false when it finds nothing. */
static bool capture_value(user *u, ustate *st, const capture *c, const http_result *res,
                          sbuf *out, bool *json)
{
    *json = false;
    switch (c->kind) {
    case CAPTURE_STATUS:
        sbuf_printf(out, "%ld", res->status);
        *json = true;
        return true;
    case CAPTURE_HEADER: {
        const char *v = http_response_header(&u->http, c->name);
        if (!v)
            return false;
        sbuf_puts(out, v);
        return true;
    }
    case CAPTURE_COOKIE:
        return http_cookie(&u->http, c->name, out);
    case CAPTURE_REGEX: {
        regmatch_t m[10];
        if (regexec(&c->re, sbuf_str(&st->resp), 10, m, 0) != 0 || m[c->group].rm_so < 0)
            return false;
        sbuf_add(out, st->resp.s + m[c->group].rm_so,
                 (size_t)(m[c->group].rm_eo - m[c->group].rm_so));
        return true;
    }
    case CAPTURE_JSON: {
        pick_state p = {c, out, 0, false, JV_NULL};
        jpath_each(c->path, sbuf_str(&st->resp), st->resp.len, pick_one, &p);
        /* A string is plain text; numbers, booleans and objects stay JSON, so a JSON body
         * can use them with their own type. */
        *json = p.found && p.kind != JV_STRING;
        return p.found;
    }
    }
    return false;
}

/* Returns false when a required capture found nothing (an exception: the task ends). */
static bool run_captures(user *u, ustate *st, const step *s, const http_result *res)
{
    const req_step *q = &s->r;
    sbuf *tmp = &st->text;
    for (int i = 0; i < q->ncaptures; i++) {
        const capture *c = &q->captures[i];
        sbuf_reset(tmp);
        bool json = false;
        bool found = capture_value(u, st, c, res, tmp, &json);
        uvar *v = &st->vars[c->slot];
        if (!found && c->def) {
            sbuf_reset(tmp);
            sbuf_add(tmp, c->def, c->def_len);
            found = true;
            json = false;
        }
        if (!found) {
            if (!c->required)
                continue;
            char msg[300];
            snprintf(msg, sizeof msg, "capture \"%s\" found nothing", c->var);
            user_exception(u, msg, s->where);
            return false;
        }
        sbuf_reset(&v->v);
        sbuf_add(&v->v, tmp->s ? tmp->s : "", tmp->len);
        v->set = true;
        v->json = json;
    }
    return true;
}

/* ---- running ------------------------------------------------------------------------ */

_Static_assert((int)STATS_NPHASES == (int)HTTP_NPHASES,
               "stats keeps the timing phases of http_result in the same order");

/* Runs one request step; returns false when the task must end. */
static bool run_request(user *u, const program *p, step *s)
{
    req_step *q = &s->r;
    ustate *st = NULL;
    if (q->dynamic || q->needs_body || q->ncaptures || p->scope->nvars || p->scope->nsources)
        st = state_of(u, p->scope);
    const http_req *req = &q->req;
    char err[512];
    if (q->dynamic) {
        render r = {u, st};
        req = render_request(&r, q, err, sizeof err);
        if (!req) {
            if (st->data_stop) {
                user_stop(u);
                return false;
            }
            user_exception(u, err, s->where);
            return false;
        }
    }
    if (!q->entry)
        q->entry = stats_entry_get(u->env->stats, q->method, q->name, user_now(u));
    if (q->needs_body) {
        sbuf_reset(&st->resp);
        u->http.body = &st->resp;
        u->http.body_limit = BODY_LIMIT;
    }
    http_result res;
    int rc = user_http(u, req, &res, err, sizeof err);
    u->http.body = NULL;
    if (rc == USER_CANCELLED)
        return false;
    if (rc != USER_OK) {
        user_exception(u, err, s->where);
        return false;
    }
    char text[512];
    bool failed = judge(u, st, q, &res, text, sizeof text);
    user_report(u, q->entry, res.rt_us, res.bytes, failed ? text : NULL);
    stats_log_timing(u->env->stats, q->entry, res.phase_us);
    if (!failed && q->ncaptures && !run_captures(u, st, s, &res))
        return false;
    if (!failed)
        return true;
    switch (q->on_failure) {
    case ON_FAILURE_END_TASK:
        return false;
    case ON_FAILURE_STOP_USER:
        user_stop(u);
        return false;
    default:
        return true;
    }
}

static void run_steps(user *u, program *p)
{
    for (int i = 0; i < p->n; i++) {
        step *s = &p->steps[i];
        switch (s->kind) {
        case STEP_REQUEST:
            if (!run_request(u, p, s))
                return;
            break;
        case STEP_THINK: {
            double t = s->think.a;
            if (s->think.kind == WAIT_BETWEEN)
                t += (s->think.b - s->think.a) * rng_double();
            if (user_sleep(u, t) != USER_OK)
                return;
            break;
        }
        }
    }
}

/* Between tasks a user keeps its working buffers for the next one, but not the rare big
 * one (a large response body kept for checks, a long rendered body): thousands of idle
 * users would each hold their largest ever. Below this, reuse saves allocating per
 * request. */
#define INTERP_KEEP (64u * 1024)

static void trim(sbuf *b)
{
    if (b->cap > INTERP_KEEP)
        sbuf_free(b);
}

void interp_run(user *u, void *data)
{
    ustate *st = u->vars;
    if (st)
        st->task++;
    run_steps(u, data);
    st = u->vars;
    if (st) {
        trim(&st->url);
        trim(&st->body);
        trim(&st->resp);
        trim(&st->text);
        trim(&st->hdr_text);
    }
}
