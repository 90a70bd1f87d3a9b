/* libFuzzer target: the dashboard's request handling (server/web.c): routing, Basic auth,
 * the cross-origin check, the /swarm form (field decoding, numbers, run time, host,
 * class picker) and query arguments (/stats/history?since, /stats/report?download).
 *
 * web.o is linked as the program links it, but the HTTP layer below it is replaced: this
 * file defines the httpd_* functions web.c calls, so web_start hands its handler to us and
 * each input becomes one request given straight to it, with no socket or libmicrohttpd in
 * between (MHD parses HTTP itself; what reaches cicada is method, path, arguments, headers
 * and body). An input reads:
 *
 *     METHOD\n/path?query\nName: value\n...\n\nbody
 *
 * The first byte picks settings (auth, class picker), so both sides of each are reached. */
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "history.h"
#include "json.h"
#include "http.h"
#include "httpd.h"
#include "runner.h"
#include "sbuf.h"
#include "scenario.h"
#include "stats.h"
#include "web.h"

/* ---- the fake HTTP layer ------------------------------------------------------------ */

struct httpd {
    httpd_handler_fn handler;
    void *data;
};

/* Every server web_start made, in order: the handler is reached through them. */
static struct httpd *servers[4];
static int nservers;

struct httpd_req {
    char *method, *path, *query, *body;
    size_t body_len;
    char *hname[32], *hvalue[32];
    int nh;
    char *qvalue[8];            /* decoded query values handed out, freed with the request */
    int nq;
    int status;                 /* 0 until httpd_respond */
};

struct httpd *httpd_start(struct ev_loop *loop, const struct httpd_config *cfg, char *err,
                          size_t errlen)
{
    (void)loop, (void)err, (void)errlen;
    struct httpd *s = calloc(1, sizeof *s);
    s->handler = cfg->handler;
    s->data = cfg->data;
    if (nservers == 4)
        abort();
    servers[nservers++] = s;
    return s;
}

void httpd_stop(struct httpd *srv)
{
    free(srv);
}

int httpd_port(const struct httpd *srv)
{
    (void)srv;
    return 8089;
}

const char *httpd_method(const struct httpd_req *req)
{
    return req->method;
}

const char *httpd_path(const struct httpd_req *req)
{
    return req->path;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* As MHD: the value of name=value in a &-separated query, %-decoded; NULL without "=". */
const char *httpd_query(const struct httpd_req *req, const char *name)
{
    struct httpd_req *r = (struct httpd_req *)req;
    size_t nl = strlen(name);
    for (const char *p = r->query; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=' &&
            r->nq < 8) {
            const char *v = p + nl + 1;
            char *out = malloc((size_t)(end - v) + 1), *o = out;
            for (; v < end; v++) {
                if (*v == '%' && v + 2 < end && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    *o++ = (char)(hexval(v[1]) * 16 + hexval(v[2]));
                    v += 2;
                } else {
                    *o++ = *v;
                }
            }
            *o = '\0';
            r->qvalue[r->nq++] = out;
            return out;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

const char *httpd_header(const struct httpd_req *req, const char *name)
{
    for (int i = 0; i < req->nh; i++)
        if (strcasecmp(req->hname[i], name) == 0)
            return req->hvalue[i];
    return NULL;
}

const char *httpd_body(const struct httpd_req *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body;
}

void httpd_add_header(struct httpd_req *req, const char *name, const char *value)
{
    if (!req || !name || !value || req->status)
        abort();   /* headers go before the response */
}

void httpd_respond(struct httpd_req *req, int status, const char *content_type,
                   const void *body, size_t len, enum httpd_mem mem)
{
    if (req->status || status < 100 || status > 599 || (len && !body))
        abort();   /* exactly one response per request */
    req->status = status;
    /* Answers echo what the request held (the host, a bad value): escaping must keep
     * every JSON answer JSON. */
    if (content_type && strncmp(content_type, "application/json", 16) == 0) {
        json_error je;
        json_value *v = json_parse(body, len, 0, &je);
        if (!v) {
            fprintf(stderr, "a JSON answer does not parse (%u:%u: %s):\n%.*s\n", je.line,
                    je.col, je.msg, (int)len, (const char *)body);
            abort();
        }
        json_free(v);
    }
    if (mem == HTTPD_TAKE)
        free((void *)body);
}

/* ---- the app around the dashboard ---------------------------------------------------- */

static const char scenario_text[] =
    "{\"host\": \"http://127.0.0.1:1\", \"users\": ["
    "{\"name\": \"A\", \"weight\": 2, \"tasks\": [{\"request\": \"GET /a\"}]},"
    "{\"name\": \"B\", \"tasks\": [{\"name\": \"t\", \"steps\": [{\"request\": \"POST /b\"}]}]}"
    "]}";

static struct {
    struct ev_loop *loop;
    stats *stats;
    history *history;
    http *http;
    scenario *sc;
    runner *runner;
    web *web[4];                /* one per combination of settings */
} app;

static int fake_swarm(void *a, unsigned users, double rate, const char *host, long run_time,
                      char **classes, char *err, size_t errlen)
{
    (void)a, (void)err, (void)errlen;
    if (users > 10000000 || !(rate > 0) || rate > 1e9 || run_time < 0)
        abort();
    if (host && (strchr(host, '<') || strchr(host, '>')))
        abort();   /* the form's host loses its angle brackets, as in Locust */
    /* Each name is read, so ASan sees a dangling one; none can outgrow the body. */
    for (char **c = classes; c && *c; c++)
        if (strlen(*c) > HTTPD_DEFAULT_MAX_BODY)
            abort();
    return 0;
}

static void fake_stop(void *a)
{
    (void)a;
}

static const char *fake_host(void *a)
{
    (void)a;
    return "http://127.0.0.1:1";
}

static void fake_report(void *a, void *out, bool download)
{
    (void)a;
    sbuf_puts(out, download ? "<html>download</html>" : "<html></html>");
}

static void setup(void)
{
    fuzz_quiet_logs();
    char err[512];
    app.loop = ev_default_loop(EVFLAG_AUTO);
    app.stats = stats_new(100, false, ev_now(app.loop));
    app.history = history_new();
    app.http = http_new(app.loop);
    /* Rows whose names and errors need escaping in every format the dashboard answers
     * with (JSON, CSV, Prometheus text). */
    double now = ev_now(app.loop);
    stats_entry *e = stats_entry_get(app.stats, "GET", "/a?q=\"x\"&<script>\\", now);
    stats_log(app.stats, e, now, 1500, 10, NULL);
    stats_log(app.stats, e, now, 250000, 0, "HTTPError('500 Server Error: \"\\n\" for url: x')");
    e = stats_entry_get(app.stats, "POST", "/caf\xc3\xa9 \xff\xfe,\r\n", now);
    stats_log(app.stats, e, now, 90, 3, NULL);
    stats_log_exception(app.stats, "ValueError: </script>\x01", "Traceback:\n  \"t\"", "local");
    const char *path = fuzz_file(0, "web.json", scenario_text, sizeof scenario_text - 1);
    scenario_opts so = {0};
    app.sc = scenario_load(path, &so, err, sizeof err);
    if (!app.sc || scenario_resolve(app.sc, NULL, err, sizeof err)) {
        fprintf(stderr, "fuzz_web: %s\n", err);
        abort();
    }
    runner_config cfg = {.node = "local"};
    app.runner = runner_new(app.loop, app.http, app.stats, app.sc->run, app.sc->nrun, &cfg,
                            NULL, err, sizeof err);
    if (!app.runner) {
        fprintf(stderr, "fuzz_web: %s\n", err);
        abort();
    }
    for (int i = 0; i < 4; i++) {
        web_env env = {
            .loop = app.loop,
            .stats = app.stats,
            .runner = app.runner,
            .history = app.history,
            .scenario = app.sc,
            .host = "127.0.0.1",
            .auth = i & 1 ? "user:pa:ss" : NULL,
            .num_users = 10,
            .spawn_rate = 1,
            .class_picker = i & 2,
            .swarm = fake_swarm,
            .stop = fake_stop,
            .reset = fake_stop,
            .current_host = fake_host,
            .report = fake_report,
        };
        app.web[i] = web_start(&env, err, sizeof err);
        if (!app.web[i])
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!app.loop)
        setup();
    if (size < 1)
        return 0;
    unsigned sel = data[0] & 3;
    char *buf = fuzz_cstr(data + 1, size - 1);
    size_t len = size - 1;
    struct httpd_req req = {0};

    /* Method and path lines, then headers up to an empty line; the body is the rest and
     * may hold anything, NULs included. */
    char *p = buf, *end = buf + len;
    char *lines[2] = {"", ""};
    for (int i = 0; i < 2 && p < end; i++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        lines[i] = p;
        if (!nl) {
            p = end;
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    while (p < end && req.nh < 32) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl)
            *nl = '\0';
        if (!*p) {
            p = nl ? nl + 1 : end;
            break;
        }
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            req.hname[req.nh] = p;
            req.hvalue[req.nh++] = v;
        }
        p = nl ? nl + 1 : end;
    }
    req.body = p < end ? p : end;
    req.body_len = (size_t)(end - req.body);
    req.method = lines[0];
    req.path = lines[1];
    char *q = strchr(req.path, '?');
    if (q) {
        *q = '\0';
        req.query = q + 1;
    }

    struct httpd *srv = servers[sel];
    srv->handler(srv->data, &req);
    if (!req.status)
        abort();   /* nothing here defers: every request must be answered */
    for (int i = 0; i < req.nq; i++)
        free(req.qvalue[i]);
    free(buf);
    return 0;
}
