#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "assets.h"
#include "csv.h"
#include "httpd.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "numfmt.h"
#include "sbuf.h"
#include "statsjson.h"
#include "timespan.h"
#include "version.h"
#include "xalloc.h"

#define LOGGER "cicada.web"
#define WEB_LOG_LINES 500

struct web {
    web_env env;
    struct httpd *srv;
    char *auth_token;           /* base64 of "user:pass" */
    char *logs[WEB_LOG_LINES];  /* ring of recent log lines */
    size_t log_next, log_count;
    bool loopback_only;         /* bound to loopback: Host must name loopback too */
    sbuf stats_cache;           /* /stats/requests, at most a second old */
    double stats_cache_at;
    bool stats_cache_ok;
    ev_timer stats_refresh;     /* rebuilds stats_cache each second while it is polled */
    double stats_polled_at;
};

/* ---- small helpers ------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    sbuf b = SBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sbuf_add(&b, buf, n);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        sbuf_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return sbuf_take(&b);
}

static char *base64(const char *s)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    sbuf b = SBUF_INIT;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        sbuf_putc(&b, tab[(v >> 18) & 63]);
        sbuf_putc(&b, tab[(v >> 12) & 63]);
        sbuf_putc(&b, i + 1 < n ? tab[(v >> 6) & 63] : '=');
        sbuf_putc(&b, i + 2 < n ? tab[v & 63] : '=');
    }
    return sbuf_take(&b);
}

/* Compares in time that depends only on the expected value's length. */
static bool same_secret(const char *given, const char *expected)
{
    size_t glen = strlen(given), elen = strlen(expected);
    unsigned diff = glen != elen;
    for (size_t i = 0; i < elen; i++)
        diff |= (unsigned char)(i < glen ? given[i] : 0) ^ (unsigned char)expected[i];
    return diff == 0;
}

static const struct asset *find_asset(const char *path)
{
    for (const struct asset *a = assets_table; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

/* A web/ file: from --web-root when given (development), else compiled in. Returns a
 * new copy; NULL when there is no such file. */
static char *web_file(const web *w, const char *path, size_t *len)
{
    if (w->env.web_root) {
        char err[256];
        sbuf p = SBUF_INIT;
        sbuf_printf(&p, "%s/%s", w->env.web_root, path);
        char *s = read_file(sbuf_str(&p), len, err, sizeof err);
        sbuf_free(&p);
        return s;
    }
    const struct asset *a = find_asset(path);
    if (!a)
        return NULL;
    *len = a->len;
    return xmemdup(a->data, a->len + 1);
}

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return "text/plain; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".png") == 0)
        return "image/png";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "text/plain; charset=utf-8";
}

/* ---- responses ---------------------------------------------------------------------- */

static void common_headers(struct httpd_req *req)
{
    /* Locust answers every request with this header; scripts rely on it. */
    httpd_add_header(req, "Access-Control-Allow-Origin", "*");
    httpd_add_header(req, "Cache-Control", "no-store");
    httpd_add_header(req, "X-Content-Type-Options", "nosniff");
}

static void respond_sbuf(struct httpd_req *req, int status, const char *ctype, sbuf *b)
{
    common_headers(req);
    size_t len = b->len;
    httpd_respond(req, status, ctype, sbuf_take(b), len, HTTPD_TAKE);
}

static void respond_json(struct httpd_req *req, int status, sbuf *b)
{
    respond_sbuf(req, status, "application/json", b);
}

static void respond_error(struct httpd_req *req, int status, const char *msg,
                          const char *host)
{
    sbuf b = SBUF_INIT;
    json_writer w;
    json_writer_init(&w, &b);
    json_begin_object(&w);
    json_key(&w, "success");
    json_put_bool(&w, false);
    json_key(&w, "message");
    json_put_string(&w, msg);
    if (host) {
        json_key(&w, "host");
        json_put_string(&w, host);
    }
    json_end_object(&w);
    respond_json(req, status, &b);
}

static void respond_attachment(struct httpd_req *req, const char *ctype, const char *prefix,
                               const char *ext, sbuf *b, double now)
{
    char ts[NUMFMT_REPR_SIZE], disp[128];
    numfmt_repr(ts, now);
    snprintf(disp, sizeof disp, "attachment;filename=%s_%s.%s", prefix, ts, ext);
    httpd_add_header(req, "Content-Disposition", disp);
    respond_sbuf(req, 200, ctype, b);
}

/* ---- handlers ----------------------------------------------------------------------- */

static double now_of(const web *w)
{
    return ev_now(w->env.loop);
}

static void on_index(web *w, struct httpd_req *req)
{
    size_t len = 0;
    char *tpl = web_file(w, "templates/index.html", &len);
    if (!tpl) {
        respond_error(req, 404, "the dashboard page is missing from this build", NULL);
        return;
    }
    sbuf data = SBUF_INIT;
    json_writer j;
    json_writer_init(&j, &data);
    json_begin_object(&j);
    json_key(&j, "version");
    json_put_string(&j, cicada_version);
    json_key(&j, "host");
    const char *host = w->env.current_host(w->env.app);
    if (host)
        json_put_string(&j, host);
    else
        json_put_null(&j);
    json_key(&j, "num_users");
    if (w->env.num_users >= 0)
        json_put_int(&j, w->env.num_users);
    else
        json_put_null(&j);
    json_key(&j, "spawn_rate");
    if (w->env.spawn_rate > 0)
        json_put_double(&j, w->env.spawn_rate);
    else
        json_put_null(&j);
    json_key(&j, "run_time");
    if (w->env.run_time > 0) {
        char rt[32];
        snprintf(rt, sizeof rt, "%ds", w->env.run_time);
        json_put_string(&j, rt);
    } else {
        json_put_null(&j);
    }
    json_key(&j, "state");
    json_put_string(&j, runner_state_name(runner_state(w->env.runner)));
    json_key(&j, "locustfile");
    json_put_string(&j, w->env.scenario->files);
    json_key(&j, "classes");
    json_begin_array(&j);
    for (int i = 0; i < w->env.scenario->nrun; i++)
        json_put_string(&j, w->env.scenario->run[i]->name);
    json_end_array(&j);
    json_key(&j, "class_picker");
    json_put_bool(&j, w->env.class_picker);
    json_key(&j, "open_model");
    json_put_bool(&j, w->env.open_model);
    json_key(&j, "workload");
    if (w->env.workload)
        json_put_string(&j, w->env.workload);
    else
        json_put_null(&j);
    json_key(&j, "is_distributed");
    json_put_bool(&j, w->env.master != NULL);
    json_key(&j, "full_history");
    json_put_bool(&j, w->env.history_csv != NULL);
    json_end_object(&j);

    sbuf page = SBUF_INIT;
    const char *mark = strstr(tpl, "{{CICADA_DATA}}");
    if (mark) {
        sbuf_add(&page, tpl, (size_t)(mark - tpl));
        sbuf_add(&page, data.s, data.len);
        sbuf_puts(&page, mark + strlen("{{CICADA_DATA}}"));
    } else {
        sbuf_add(&page, tpl, len);
    }
    free(tpl);
    sbuf_free(&data);
    /* Clickjacking: a page of another origin may not frame the dashboard under a decoy
     * and have its Start or Stop clicked (those clicks would be same-origin). */
    httpd_add_header(req, "X-Frame-Options", "DENY");
    httpd_add_header(req, "Content-Security-Policy", "frame-ancestors 'none'");
    respond_sbuf(req, 200, "text/html; charset=utf-8", &page);
}

static void on_static(web *w, struct httpd_req *req)
{
    const char *path = httpd_path(req) + 1; /* "static/..." */
    size_t len = 0;
    char *body = strstr(path, "..") ? NULL : web_file(w, path, &len);
    if (!body) {
        respond_error(req, 404, "not found", NULL);
        return;
    }
    httpd_add_header(req, "Access-Control-Allow-Origin", "*");
    httpd_add_header(req, "Cache-Control", "no-cache");
    httpd_add_header(req, "X-Content-Type-Options", "nosniff");
    httpd_respond(req, 200, content_type(path), body, len, HTTPD_TAKE);
}

static void build_stats_cache(web *w, double now)
{
    sbuf_reset(&w->stats_cache);
    json_writer j;
    json_writer_init(&j, &w->stats_cache);
    statsjson_requests(&j, w->env.stats, w->env.runner, w->env.master, w->env.thresholds,
                       w->env.health, now);
    w->stats_cache_at = now;
    w->stats_cache_ok = true;
}

/* A table of hundreds of names takes a millisecond or more to build, and longer in a
 * process whose caches thousands of users keep cold; built when the poll arrives, that
 * time is the dashboard's wait. So while someone polls (in the last 5 s), the answer is
 * rebuilt every second ahead of the next poll, on the same loop, at the same cost as
 * building it on demand; a poll is answered from it at once. */
static void on_stats_refresh(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    web *w = t->data;
    double now = ev_now(loop);
    if (now - w->stats_polled_at > 5.0) {
        ev_timer_stop(loop, t);
        return;
    }
    build_stats_cache(w, now);
}

static void on_stats_requests(web *w, struct httpd_req *req)
{
    double now = now_of(w);
    w->stats_polled_at = now;
    /* Several open dashboards poll this: build it at most once a second. */
    if (!w->stats_cache_ok || now - w->stats_cache_at >= 1.0)
        build_stats_cache(w, now);
    if (!ev_is_active(&w->stats_refresh))
        ev_timer_again(w->env.loop, &w->stats_refresh);
    common_headers(req);
    httpd_respond(req, 200, "application/json", w->stats_cache.s, w->stats_cache.len,
                  HTTPD_COPY);
}

static void on_history(web *w, struct httpd_req *req)
{
    const char *since = httpd_query(req, "since");
    double t = 0;
    if (since && *since) {
        char *end;
        t = strtod(since, &end);
        if (*end || t != t) {
            respond_error(req, 400, "since must be a number of Unix seconds", NULL);
            return;
        }
    }
    sbuf b = SBUF_INIT;
    json_writer j;
    json_writer_init(&j, &b);
    history_write_json(w->env.history, &j, t);
    respond_json(req, 200, &b);
}

static void on_exceptions(web *w, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    json_writer j;
    json_writer_init(&j, &b);
    json_begin_object(&j);
    json_key(&j, "exceptions");
    statsjson_exceptions(&j, w->env.stats);
    json_end_object(&j);
    respond_json(req, 200, &b);
}

static void on_tasks(web *w, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    json_writer j;
    json_writer_init(&j, &b);
    statsjson_tasks(&j, w->env.scenario, w->env.runner,
                    w->env.num_users > 0 ? (unsigned)w->env.num_users : 0);
    respond_json(req, 200, &b);
}

static void on_logs(web *w, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    json_writer j;
    json_writer_init(&j, &b);
    json_begin_object(&j);
    json_key(&j, "master");
    json_begin_array(&j);
    size_t first = (w->log_next + WEB_LOG_LINES - w->log_count) % WEB_LOG_LINES;
    for (size_t i = 0; i < w->log_count; i++)
        json_put_string(&j, w->logs[(first + i) % WEB_LOG_LINES]);
    json_end_array(&j);
    json_key(&j, "workers");
    json_begin_object(&j);
    json_end_object(&j);
    json_end_object(&j);
    respond_json(req, 200, &b);
}

static void on_worker_count(web *w, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "{\"worker_count\":%u}", w->env.master ? master_worker_count(w->env.master) : 0);
    respond_json(req, 200, &b);
}

static void on_requests_csv(web *w, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    csv_requests(&b, w->env.stats);
    respond_attachment(req, "text/csv", "requests", "csv", &b, now_of(w));
}

static void on_failures_csv(web *w, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    csv_failures(&b, w->env.stats);
    respond_attachment(req, "text/csv", "failures", "csv", &b, now_of(w));
}

static void on_exceptions_csv(web *w, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    csv_exceptions(&b, w->env.stats);
    respond_attachment(req, "text/csv", "exceptions", "csv", &b, now_of(w));
}

static void on_history_csv(web *w, struct httpd_req *req)
{
    if (!w->env.history_csv) {
        sbuf b = SBUF_INIT;
        sbuf_puts(&b, "Error: Server was not started with option to generate full history.");
        respond_sbuf(req, 404, "text/plain; charset=utf-8", &b);
        return;
    }
    char err[512];
    size_t len = 0;
    char *text = read_file(w->env.history_csv, &len, err, sizeof err);
    if (!text) {
        respond_error(req, 404, err, NULL);
        return;
    }
    sbuf b = {text, len, len + 1};
    respond_attachment(req, "text/csv", "requests_full_history", "csv", &b, now_of(w));
}

static void on_report(web *w, struct httpd_req *req)
{
    const char *dl = httpd_query(req, "download");
    bool download = dl && *dl && strcmp(dl, "0") != 0 && strcasecmp(dl, "false") != 0;
    sbuf b = SBUF_INIT;
    w->env.report(w->env.app, &b, download);
    if (download)
        respond_attachment(req, "text/html; charset=utf-8", "report", "html", &b, now_of(w));
    else
        respond_sbuf(req, 200, "text/html; charset=utf-8", &b);
}

static void on_metrics(web *w, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    metrics_text(&b, w->env.stats, w->env.runner, now_of(w));
    respond_sbuf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static void on_stop(web *w, struct httpd_req *req)
{
    w->env.stop(w->env.app);
    w->stats_cache_ok = false;
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"success\":true,\"message\":\"Test stopped\"}");
    respond_json(req, 200, &b);
}

static void on_reset(web *w, struct httpd_req *req)
{
    w->env.reset(w->env.app);
    w->stats_cache_ok = false;
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "ok");
    respond_sbuf(req, 200, "text/plain; charset=utf-8", &b);
}

/* ---- /swarm ------------------------------------------------------------------------- */

/* Form fields of an application/x-www-form-urlencoded body, repeated names kept. */
typedef struct form {
    char **keys, **values;
    size_t n;
} form;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *form_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
                   hexval(s[i + 2]) >= 0) {
            out[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

static void form_parse(form *f, const char *body, size_t len)
{
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop > p) {
            f->keys = xrealloc(f->keys, (f->n + 1) * sizeof *f->keys);
            f->values = xrealloc(f->values, (f->n + 1) * sizeof *f->values);
            f->keys[f->n] = form_decode(p, (size_t)((eq ? eq : stop) - p));
            f->values[f->n] = eq ? form_decode(eq + 1, (size_t)(stop - eq - 1)) : xstrdup("");
            f->n++;
        }
        p = stop + 1;
    }
}

static const char *form_get(const form *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0)
            return f->values[i];
    return NULL;
}

static void form_free(form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->keys[i]);
        free(f->values[i]);
    }
    free(f->keys);
    free(f->values);
}

static bool parse_uint(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > 10000000)
        return false;
    *out = (unsigned)v;
    return true;
}

static bool parse_rate(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v > 0) || v > 1e9)
        return false;
    *out = v;
    return true;
}

static void on_swarm(web *w, struct httpd_req *req)
{
    const char *ctype = httpd_header(req, "Content-Type");
    const char *cur_host = w->env.current_host(w->env.app);
    if (ctype && strncasecmp(ctype, "multipart/", 10) == 0) {
        respond_error(req, 415,
                      "send the form as application/x-www-form-urlencoded", cur_host);
        return;
    }
    size_t len = 0;
    const char *body = httpd_body(req, &len);
    form f = {0};
    form_parse(&f, body, len);
    const char *users_s = form_get(&f, "user_count"), *rate_s = form_get(&f, "spawn_rate");
    const char *host_s = form_get(&f, "host"), *rt_s = form_get(&f, "run_time");
    unsigned users = 0;
    double rate = 0;
    long run_time = 0;
    char *host = NULL;
    char **classes = NULL;
    char err[512];
    if (!users_s || !rate_s) {
        respond_error(req, 400, "Missing user_count or spawn_rate from /swarm request",
                      cur_host);
        goto out;
    }
    if (!parse_uint(users_s, &users)) {
        respond_error(req, 400, "user_count must be a whole number >= 0", cur_host);
        goto out;
    }
    if (!parse_rate(rate_s, &rate)) {
        respond_error(req, 400, "spawn_rate must be a number > 0", cur_host);
        goto out;
    }
    if (rt_s && *rt_s && timespan_parse(rt_s, &run_time) != 0) {
        respond_error(req, 400,
                      "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.",
                      cur_host);
        goto out;
    }
    if (host_s && *host_s) {
        /* Locust strips angle brackets from the host field. */
        host = xmalloc(strlen(host_s) + 1);
        size_t k = 0;
        for (const char *p = host_s; *p; p++)
            if (*p != '<' && *p != '>')
                host[k++] = *p;
        host[k] = '\0';
    }
    if (w->env.class_picker) {
        size_t n = 0;
        for (size_t i = 0; i < f.n; i++)
            if (strcmp(f.keys[i], "user_classes") == 0)
                n++;
        if (n) {
            classes = xcalloc(n + 1, sizeof *classes);
            n = 0;
            for (size_t i = 0; i < f.n; i++)
                if (strcmp(f.keys[i], "user_classes") == 0)
                    classes[n++] = f.values[i];
        }
    }
    int started = w->env.swarm(w->env.app, users, rate, host, run_time, classes, err,
                               sizeof err);
    if (started < 0) {
        respond_error(req, 400, err, cur_host);
        goto out;
    }
    w->stats_cache_ok = false;
    sbuf b = SBUF_INIT;
    json_writer j;
    json_writer_init(&j, &b);
    json_begin_object(&j);
    json_key(&j, "success");
    json_put_bool(&j, true);
    json_key(&j, "message");
    /* Locust's words when a shape class, not the form, drives the test. */
    json_put_string(&j, started == 1 ? "Swarming started using shape class" :
                                       "Swarming started");
    json_key(&j, "host");
    const char *now_host = w->env.current_host(w->env.app);
    if (now_host)
        json_put_string(&j, now_host);
    else
        json_put_null(&j);
    if (run_time) {
        json_key(&j, "run_time");
        json_put_int(&j, run_time);
    }
    if (classes) {
        json_key(&j, "user_classes");
        json_begin_array(&j);
        for (char **c = classes; *c; c++)
            json_put_string(&j, *c);
        json_end_array(&j);
    }
    json_end_object(&j);
    respond_json(req, 200, &b);
out:
    free(classes);
    free(host);
    form_free(&f);
}

/* ---- routing ------------------------------------------------------------------------ */

typedef void (*handler_fn)(web *w, struct httpd_req *req);

static const struct route {
    const char *path;
    const char *method;     /* "GET" also takes HEAD */
    bool changes_state;
    handler_fn fn;
} routes[] = {
    {"/", "GET", false, on_index},
    {"/swarm", "POST", true, on_swarm},
    {"/stop", "GET", true, on_stop},
    {"/stats/reset", "GET", true, on_reset},
    {"/stats/requests", "GET", false, on_stats_requests},
    {"/stats/history", "GET", false, on_history},
    {"/stats/requests/csv", "GET", false, on_requests_csv},
    {"/stats/requests_full_history/csv", "GET", false, on_history_csv},
    {"/stats/failures/csv", "GET", false, on_failures_csv},
    {"/stats/report", "GET", false, on_report},
    {"/exceptions", "GET", false, on_exceptions},
    {"/exceptions/csv", "GET", false, on_exceptions_csv},
    {"/tasks", "GET", false, on_tasks},
    {"/logs", "GET", false, on_logs},
    {"/worker-count", "GET", false, on_worker_count},
    {"/metrics", "GET", false, on_metrics},
};

/* A state-changing request sent by a page of another origin (cross-site request
 * forgery): browsers say where a request comes from, scripts send neither header.
 * "same-site" is another origin too: another port of the same host (a page on
 * localhost:3000), or another subdomain; an <img src=".../stop"> sends no Origin, so
 * Sec-Fetch-Site is all there is to go by. */
static bool foreign_origin(struct httpd_req *req)
{
    const char *site = httpd_header(req, "Sec-Fetch-Site");
    if (site && (strcasecmp(site, "cross-site") == 0 || strcasecmp(site, "same-site") == 0))
        return true;
    const char *origin = httpd_header(req, "Origin");
    if (!origin)
        return false;
    const char *host = httpd_header(req, "Host");
    const char *o = strstr(origin, "://");
    if (!host || !o)
        return true; /* "null" and other opaque origins */
    return strcasecmp(o + 3, host) != 0;
}

/* Whether a Host header ("name", "name:port", "[v6]:port") names the loopback
 * interface: localhost, 127.0.0.0/8 or ::1. */
static bool loopback_host_header(const char *h)
{
    char name[64];
    size_t n;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (!close || (close[1] && close[1] != ':'))
            return false;
        n = (size_t)(close - h - 1);
        if (n >= sizeof name)
            return false;
        memcpy(name, h + 1, n);
        name[n] = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, name, &a6) == 1 &&
               (IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
    }
    const char *colon = strchr(h, ':');
    n = colon ? (size_t)(colon - h) : strlen(h);
    if (n >= sizeof name)
        return false;
    memcpy(name, h, n);
    name[n] = '\0';
    if (strcasecmp(name, "localhost") == 0 || strcasecmp(name, "localhost.") == 0)
        return true;
    struct in_addr a4;
    return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* DNS rebinding: a page of evil.example whose name then resolves to 127.0.0.1 talks to
 * a loopback dashboard as its own origin (the cross-origin guard passes, and so would
 * reading). Its requests still say "Host: evil.example:PORT": a dashboard bound to
 * loopback answers only requests for a loopback name. One with no Host at all (no
 * browser sends that) passes. */
static bool foreign_host(const web *w, struct httpd_req *req)
{
    const char *host = httpd_header(req, "Host");
    return w->loopback_only && host && !loopback_host_header(host);
}

static bool authorized(web *w, struct httpd_req *req)
{
    if (!w->auth_token)
        return true;
    const char *given = httpd_header(req, "Authorization");
    /* The scheme name is case-insensitive (RFC 7235); the token is compared in constant
     * time. */
    if (!given || strncasecmp(given, "Basic ", 6) != 0)
        return false;
    given += 6;
    while (*given == ' ')
        given++;
    return same_secret(given, w->auth_token);
}

static void handle(void *data, struct httpd_req *req)
{
    web *w = data;
    const char *path = httpd_path(req), *method = httpd_method(req);
    if (foreign_host(w, req)) {
        char shown[64];
        size_t k = 0;
        for (const char *p = httpd_header(req, "Host"); *p && k < sizeof shown - 1; p++)
            shown[k++] = *p > 0x20 && *p < 0x7f ? *p : '?';
        shown[k] = '\0';
        log_warning(LOGGER, "refused %s %s for Host \"%s\": the dashboard listens on "
                            "loopback and answers only localhost, 127.0.0.1 or [::1]",
                    method, path, shown);
        respond_error(req, 403, "the dashboard listens on a loopback address and answers "
                                "only requests for localhost, 127.0.0.1 or [::1]", NULL);
        return;
    }
    if (!authorized(w, req)) {
        httpd_add_header(req, "WWW-Authenticate", "Basic realm=\"cicada\"");
        respond_error(req, 401, "authentication required", NULL);
        return;
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strncmp(path, "/static/", 8) == 0) {
        if (get)
            on_static(w, req);
        else
            respond_error(req, 405, "Method Not Allowed", NULL);
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        if (strcmp(path, r->path) != 0)
            continue;
        bool ok = strcmp(r->method, "GET") == 0 ? get : strcmp(method, r->method) == 0;
        if (!ok) {
            httpd_add_header(req, "Allow", strcmp(r->method, "GET") == 0 ? "GET, HEAD"
                                                                          : r->method);
            respond_error(req, 405, "Method Not Allowed", NULL);
            return;
        }
        if (r->changes_state && foreign_origin(req)) {
            log_warning(LOGGER, "refused %s %s from another origin", method, path);
            respond_error(req, 403, "cross-origin requests may not change the test", NULL);
            return;
        }
        r->fn(w, req);
        return;
    }
    respond_error(req, 404, "not found", NULL);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static void on_log_line(void *data, int level, const char *line)
{
    (void)level;
    web *w = data;
    free(w->logs[w->log_next]);
    w->logs[w->log_next] = xstrdup(line);
    w->log_next = (w->log_next + 1) % WEB_LOG_LINES;
    if (w->log_count < WEB_LOG_LINES)
        w->log_count++;
}

static bool loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

web *web_start(const web_env *env, char *err, size_t errlen)
{
    web *w = xcalloc(1, sizeof *w);
    w->env = *env;
    char *cert = NULL, *key = NULL;
    if (env->tls_cert && env->tls_key) {
        char e[512];
        cert = read_file(env->tls_cert, NULL, e, sizeof e);
        if (!cert) {
            snprintf(err, errlen, "--tls-cert %s", e);
            free(w);
            return NULL;
        }
        key = read_file(env->tls_key, NULL, e, sizeof e);
        if (!key) {
            snprintf(err, errlen, "--tls-key %s", e);
            free(cert);
            free(w);
            return NULL;
        }
    }
    static const char *const error_headers[] = {"Access-Control-Allow-Origin", "*",
                                                "Cache-Control", "no-store", NULL};
    struct httpd_config cfg = {
        .error_headers = error_headers,
        .host = env->host,
        .port = env->port,
        .handler = handle,
        .data = w,
        .logger = LOGGER,
        .tls_cert_pem = cert,
        .tls_key_pem = key,
    };
    w->srv = httpd_start(env->loop, &cfg, err, errlen);
    free(cert);
    if (key) {
        /* The key stays in MHD's memory only. */
        memset(key, 0, strlen(key));
        free(key);
    }
    if (!w->srv) {
        free(w);
        return NULL;
    }
    if (env->auth)
        w->auth_token = base64(env->auth);
    w->loopback_only = env->host && loopback(env->host);
    ev_init(&w->stats_refresh, on_stats_refresh);
    w->stats_refresh.repeat = 1.0;
    w->stats_refresh.data = w;
    log_set_observer(on_log_line, w);
    const char *scheme = env->tls_cert ? "https" : "http";
    if (!env->host || !*env->host)
        log_info(LOGGER, "Starting web interface at %s://0.0.0.0:%d (accepting connections "
                         "from all network interfaces)", scheme, httpd_port(w->srv));
    else
        log_info(LOGGER, "Starting web interface at %s://%s:%d", scheme, env->host,
                 httpd_port(w->srv));
    if (!env->auth && !(env->host && loopback(env->host)))
        log_warning(LOGGER, "The web interface accepts connections from other machines and "
                            "has no --web-auth: anyone who can reach port %d can start a "
                            "load test. Use --web-host 127.0.0.1 or --web-auth user:pass.",
                    httpd_port(w->srv));
    return w;
}

int web_port(const web *w)
{
    return httpd_port(w->srv);
}

void web_stop(web *w)
{
    if (!w)
        return;
    log_set_observer(NULL, NULL);
    ev_timer_stop(w->env.loop, &w->stats_refresh);
    httpd_stop(w->srv);
    for (size_t i = 0; i < WEB_LOG_LINES; i++)
        free(w->logs[i]);
    free(w->auth_token);
    sbuf_free(&w->stats_cache);
    free(w);
}
