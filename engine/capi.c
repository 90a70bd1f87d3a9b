#include "capi.h"

#include <curl/curl.h>
#include <ev.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro.h"
#include "http.h"
#include "interp.h"
#include "log.h"
#include "request.h"
#include "sbuf.h"
#include "stats.h"
#include "xalloc.h"

#define LOGGER "cicada.capi"
#define CAPI_BODY_LIMIT (16u << 20)
#define CAPI_MAX_HEADERS 64

/* What a C user keeps (user.vars). */
typedef struct cstate {
    void *context;
    char **var_names, **var_values;
    int nvars;
    sbuf url, body;
    http_req req;
    http_opts opts;
    struct curl_slist hdr[CAPI_MAX_HEADERS];
    /* a manual request waiting for cicada_success/cicada_failure */
    stats_entry *pending;
    int64_t pending_rt;
    uint64_t pending_bytes;
    char *pending_error;
    /* cicada_wait_fd */
    ev_io io;
    ev_timer timer;
    user *owner;
} cstate;

static capi_hook *hooks;
static int nhooks;
static unsigned worker_index;

void capi_set_worker_index(unsigned index)
{
    worker_index = index;
}

/* ---- registry ----------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

int cicada_add_class(cicada_registry *reg, const cicada_class *cls)
{
    const char *why = NULL;
    if (!reg || !cls)
        why = "no class";
    else if (!cls->name || !*cls->name)
        why = "a class needs a name";
    else if (cls->weight < 0 || cls->fixed_count < 0)
        why = "weight and fixed_count must be >= 0";
    else if (!cls->tasks || cls->ntasks < 1)
        why = "a class needs at least one task";
    else if (cls->wait < CICADA_WAIT_CONSTANT || cls->wait > CICADA_WAIT_THROUGHPUT ||
             !(cls->wait_a >= 0) || !(cls->wait_b >= 0) || !isfinite(cls->wait_a) ||
             !isfinite(cls->wait_b) ||
             (cls->wait == CICADA_WAIT_BETWEEN && cls->wait_b < cls->wait_a) ||
             ((cls->wait == CICADA_WAIT_PACING || cls->wait == CICADA_WAIT_THROUGHPUT) &&
              !(cls->wait_a > 0)))
        why = "a bad wait time";
    for (int i = 0; !why && i < cls->ntasks; i++)
        if (!cls->tasks[i].fn || cls->tasks[i].weight < 0)
            why = "every task needs a function and a weight >= 0";
    if (why) {
        log_error(LOGGER, "%s: cicada_add_class(%s): %s", reg ? reg->file : "?",
                  cls && cls->name ? cls->name : "?", why);
        if (reg)
            reg->errors++;
        return CICADA_MISUSE;
    }
    reg->classes = xrealloc(reg->classes, (size_t)(reg->nclasses + 1) * sizeof *reg->classes);
    capi_class *c = &reg->classes[reg->nclasses++];
    c->c = *cls;
    c->c.name = xstrdup(cls->name);
    c->c.host = dup_or_null(cls->host);
    c->tasks = xcalloc((size_t)cls->ntasks, sizeof *c->tasks);
    for (int i = 0; i < cls->ntasks; i++) {
        c->tasks[i] = cls->tasks[i];
        c->tasks[i].name = dup_or_null(cls->tasks[i].name);
        c->tasks[i].tags = dup_or_null(cls->tasks[i].tags);
    }
    c->c.tasks = c->tasks;
    return CICADA_OK;
}

int cicada_on(cicada_registry *reg, enum cicada_event ev, cicada_hook_fn fn, void *data)
{
    if (!reg || !fn || ev < CICADA_ON_TEST_START || ev > CICADA_ON_REQUEST) {
        log_error(LOGGER, "cicada_on: a bad event or no function");
        return CICADA_MISUSE;
    }
    reg->hooks = xrealloc(reg->hooks, (size_t)(reg->nhooks + 1) * sizeof *reg->hooks);
    reg->hooks[reg->nhooks++] = (capi_hook){ev, fn, data};
    return CICADA_OK;
}

void capi_registry_free(cicada_registry *r)
{
    for (int i = 0; i < r->nclasses; i++) {
        capi_class *c = &r->classes[i];
        free((char *)c->c.name);
        free((char *)c->c.host);
        for (int k = 0; k < c->c.ntasks; k++) {
            free((char *)c->tasks[k].name);
            free((char *)c->tasks[k].tags);
        }
        free(c->tasks);
    }
    free(r->classes);
    free(r->hooks);
    memset(r, 0, sizeof *r);
}

/* ---- events ------------------------------------------------------------------------- */

static void request_hook(user *u, const stats_entry *e, int64_t rt_us, uint64_t bytes,
                         const char *error)
{
    (void)u;
    cicada_request_info info = {e->method, e->name, rt_us < 0 ? -1.0 : (double)rt_us / 1000.0,
                                (size_t)bytes, error};
    for (int i = 0; i < nhooks; i++)
        if (hooks[i].ev == CICADA_ON_REQUEST)
            hooks[i].fn(hooks[i].data, &info);
}

void capi_add_hooks(const cicada_registry *r)
{
    if (!r->nhooks)
        return;
    hooks = xrealloc(hooks, (size_t)(nhooks + r->nhooks) * sizeof *hooks);
    for (int i = 0; i < r->nhooks; i++) {
        hooks[nhooks++] = r->hooks[i];
        /* The request event costs a call per request only when someone listens. */
        if (r->hooks[i].ev == CICADA_ON_REQUEST)
            user_request_hook = request_hook;
    }
}

void capi_fire(enum cicada_event ev)
{
    for (int i = 0; i < nhooks; i++)
        if (hooks[i].ev == ev)
            hooks[i].fn(hooks[i].data, NULL);
}

void capi_clear_hooks(void)
{
    free(hooks);
    hooks = NULL;
    nhooks = 0;
    user_request_hook = NULL;
}

/* ---- users -------------------------------------------------------------------------- */

static cstate *state_of(user *u)
{
    if (!u->vars) {
        cstate *st = xcalloc(1, sizeof *st);
        st->owner = u;
        if (u->cls->context_size)
            st->context = xcalloc(1, u->cls->context_size);
        u->vars = st;
    }
    return u->vars;
}

void capi_user_cleanup(user *u)
{
    cstate *st = u->vars;
    if (!st)
        return;
    for (int i = 0; i < st->nvars; i++) {
        free(st->var_names[i]);
        free(st->var_values[i]);
    }
    free(st->var_names);
    free(st->var_values);
    free(st->pending_error);
    free(st->context);
    sbuf_free(&st->url);
    sbuf_free(&st->body);
    free(st);
    u->vars = NULL;
}

static void settle_pending(user *u, struct cstate *st, const char *error);

void capi_run_task(user *u, void *data)
{
    state_of(u);
    cicada_task_fn fn = (cicada_task_fn)data;
    fn(u);
    /* A manual request the task never judged counts as its status says, now. */
    cstate *st = u->vars;
    if (st)
        settle_pending(u, st, st->pending_error);
}

/* Task only: the calling code must be this user's own coroutine. */
static bool in_task(user *u, const char *fn)
{
    if (u && u->co && coro_current() == u->co)
        return true;
    log_error(LOGGER, "%s called outside a task of that user: it must be called from a task, "
                      "on_start or on_stop function", fn);
    return false;
}

static void settle_pending(user *u, cstate *st, const char *error)
{
    if (!st->pending)
        return;
    user_report(u, st->pending, st->pending_rt, st->pending_bytes, error);
    st->pending = NULL;
    free(st->pending_error);
    st->pending_error = NULL;
}

/* Locust's default name: the path and query of the URL requested. */
static const char *default_name(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return url;
    p += 3;
    p += strcspn(p, "/?");
    return *p ? p : "/";
}

int cicada_http(cicada_user *u, const cicada_request *req, cicada_response *res)
{
    if (!in_task(u, "cicada_http"))
        return CICADA_MISUSE;
    if (!req || !req->url || !res) {
        log_error(LOGGER, "cicada_http: a request needs a url and a response to fill");
        return CICADA_MISUSE;
    }
    cstate *st = state_of(u);
    /* A manual request nobody judged counts as its status says. */
    settle_pending(u, st, st->pending_error);
    memset(res, 0, sizeof *res);
    const char *method = req->method ? req->method : "GET";
    if (!request_method_ok(method)) {
        log_error(LOGGER, "cicada_http: \"%s\" is not an HTTP method", method);
        return CICADA_MISUSE;
    }
    sbuf_reset(&st->url);
    if (interp_is_absolute(req->url)) {
        sbuf_puts(&st->url, req->url);
    } else if (u->cls->base_host) {
        interp_join_url_to(&st->url, u->cls->base_host, req->url, strlen(req->url));
    } else {
        log_error(LOGGER, "cicada_http: relative URL \"%.200s\" but no host: set the class's "
                          "host or use --host", req->url);
        return CICADA_MISUSE;
    }
    int nh = 0;
    for (int i = 0; req->headers && req->headers[i]; i++) {
        if (nh == CAPI_MAX_HEADERS) {
            log_error(LOGGER, "cicada_http: more than %d headers", CAPI_MAX_HEADERS);
            return CICADA_MISUSE;
        }
        st->hdr[nh].data = (char *)req->headers[i];
        st->hdr[nh].next = NULL;
        if (nh)
            st->hdr[nh - 1].next = &st->hdr[nh];
        nh++;
    }
    http_req *r = &st->req;
    memset(r, 0, sizeof *r);
    r->method = method;
    r->kind = !strcmp(method, "GET") ? HTTP_GET : !strcmp(method, "HEAD") ? HTTP_HEAD
              : !strcmp(method, "POST") ? HTTP_POST : HTTP_OTHER;
    r->url = sbuf_str(&st->url);
    r->headers = nh ? st->hdr : NULL;
    r->body = req->body;
    r->body_len = req->body ? req->body_len : 0;
    r->timeout_ms = req->timeout > 0 ? (long)ceil(req->timeout * 1000) : 60000;
    r->follow = !req->no_redirects;
    r->dynamic = true;
    switch (req->connection) {
    case CICADA_CONN_USER: r->conn = HTTP_CONN_USER; break;
    case CICADA_CONN_SHARED: r->conn = HTTP_CONN_SHARED; break;
    case CICADA_CONN_REQUEST: r->conn = HTTP_CONN_REQUEST; break;
    default:
        log_error(LOGGER, "cicada_http: connection %d is not a cicada_connection",
                  req->connection);
        return CICADA_MISUSE;
    }
    r->link_local = interp_link_local(r->url);
    if (req->http2 || req->insecure || req->client_cert || req->client_key || req->auth) {
        st->opts = (http_opts){.version = req->http2 ? 2 : 1, .insecure = req->insecure,
                               .client_cert = req->client_cert,
                               .client_key = req->client_key, .userpwd = req->auth};
        r->opts = &st->opts;
    }
    sbuf_reset(&st->body);
    u->http.body = &st->body;
    u->http.body_limit = CAPI_BODY_LIMIT;
    char err[256];
    http_result hr;
    int rc = user_http(u, r, &hr, err, sizeof err);
    u->http.body = NULL;
    if (rc == USER_CANCELLED)
        return CICADA_STOPPED;
    const char *name = req->name ? req->name : default_name(st->url.s);
    stats_entry *e = stats_entry_get(u->env->stats, method, name, user_now(u));
    if (rc != USER_OK) {
        user_exception(u, err, name);
        return CICADA_FAILED;
    }
    static char failure[512];
    bool failed = http_failure_text(&hr, name, failure, sizeof failure);
    res->status = hr.status;
    res->body = sbuf_str(&st->body);
    res->body_len = st->body.len;
    res->truncated = hr.bytes > st->body.len;
    res->response_time_ms = (double)hr.rt_us / 1000.0;
    res->error = failed ? failure : NULL;
    if (req->manual) {
        st->pending = e;
        st->pending_rt = hr.rt_us;
        st->pending_bytes = hr.bytes;
        st->pending_error = failed ? xstrdup(failure) : NULL;
    } else {
        user_report(u, e, hr.rt_us, hr.bytes, failed ? failure : NULL);
    }
    return CICADA_OK;
}

const char *cicada_header(cicada_user *u, const char *name)
{
    return u && name ? http_response_header(&u->http, name) : NULL;
}

void cicada_success(cicada_user *u)
{
    cstate *st = u ? u->vars : NULL;
    if (!st || !st->pending) {
        log_error(LOGGER, "cicada_success without a manual request waiting");
        return;
    }
    settle_pending(u, st, NULL);
}

void cicada_failure(cicada_user *u, const char *text)
{
    cstate *st = u ? u->vars : NULL;
    if (!st || !st->pending) {
        log_error(LOGGER, "cicada_failure without a manual request waiting");
        return;
    }
    settle_pending(u, st, text && *text ? text : "failure");
}

void cicada_report(cicada_user *u, const char *type, const char *name, double rt_ms,
                   size_t size, const char *error)
{
    if (!u || !type || !name) {
        log_error(LOGGER, "cicada_report needs a user, a type and a name");
        return;
    }
    stats_entry *e = stats_entry_get(u->env->stats, type, name, user_now(u));
    user_report(u, e, rt_ms < 0 ? -1 : (int64_t)llround(rt_ms * 1000.0), size, error);
}

int cicada_sleep(cicada_user *u, double seconds)
{
    if (!in_task(u, "cicada_sleep"))
        return CICADA_MISUSE;
    return user_sleep(u, seconds) == USER_OK ? CICADA_OK : CICADA_STOPPED;
}

static void fd_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    cstate *st = (cstate *)((char *)w - offsetof(cstate, io));
    ev_io_stop(loop, w);
    ev_timer_stop(loop, &st->timer);
    user_wake(st->owner, (revents & EV_READ ? 1 : 0) | (revents & EV_WRITE ? 2 : 0));
}

static void fd_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    cstate *st = (cstate *)((char *)w - offsetof(cstate, timer));
    ev_io_stop(loop, &st->io);
    user_wake(st->owner, CICADA_TIMEOUT);
}

static void fd_cancel(user *u, void *data)
{
    cstate *st = data;
    ev_io_stop(u->env->loop, &st->io);
    ev_timer_stop(u->env->loop, &st->timer);
}

int cicada_wait_fd(cicada_user *u, int fd, int events, double timeout)
{
    if (!in_task(u, "cicada_wait_fd"))
        return CICADA_MISUSE;
    if (fd < 0 || events < 1 || events > 3 || timeout < 0) {
        log_error(LOGGER, "cicada_wait_fd: a bad fd, events or timeout");
        return CICADA_MISUSE;
    }
    cstate *st = state_of(u);
    ev_io_init(&st->io, fd_ready, fd, (events & 1 ? EV_READ : 0) | (events & 2 ? EV_WRITE : 0));
    ev_io_start(u->env->loop, &st->io);
    ev_timer_init(&st->timer, fd_timeout, timeout, 0.);
    if (timeout > 0)
        ev_timer_start(u->env->loop, &st->timer);
    int rc = user_wait(u, fd_cancel, st);
    return rc == USER_CANCELLED ? CICADA_STOPPED : rc;
}

void cicada_exception(cicada_user *u, const char *msg, const char *where)
{
    if (u && msg)
        user_exception(u, msg, where ? where : u->task && u->task->name ? u->task->name : "?");
}

void *cicada_context(cicada_user *u)
{
    return u ? state_of(u)->context : NULL;
}

const char *cicada_get(cicada_user *u, const char *name)
{
    cstate *st = u ? u->vars : NULL;
    for (int i = 0; st && name && i < st->nvars; i++)
        if (!strcmp(st->var_names[i], name))
            return st->var_values[i];
    return NULL;
}

int cicada_set(cicada_user *u, const char *name, const char *value)
{
    if (!u || !name || !value)
        return CICADA_MISUSE;
    cstate *st = state_of(u);
    for (int i = 0; i < st->nvars; i++)
        if (!strcmp(st->var_names[i], name)) {
            free(st->var_values[i]);
            st->var_values[i] = xstrdup(value);
            return CICADA_OK;
        }
    st->var_names = xrealloc(st->var_names, (size_t)(st->nvars + 1) * sizeof(char *));
    st->var_values = xrealloc(st->var_values, (size_t)(st->nvars + 1) * sizeof(char *));
    st->var_names[st->nvars] = xstrdup(name);
    st->var_values[st->nvars++] = xstrdup(value);
    return CICADA_OK;
}

unsigned cicada_user_index(cicada_user *u)
{
    return u ? u->index : 0;
}

unsigned cicada_worker_index(cicada_user *u)
{
    (void)u;
    return worker_index;
}

const char *cicada_host(cicada_user *u)
{
    return u ? u->cls->base_host : NULL;
}

double cicada_now(cicada_user *u)
{
    return u ? user_now(u) : 0;
}

int cicada_stopping(cicada_user *u)
{
    return u ? user_stopping(u) : 1;
}
