#include "httpd.h"

#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct form_field {
    const char *name, *value;     /* point into httpd_req.form_buf */
};

struct httpd_req {
    struct httpd *srv;
    struct MHD_Connection *conn;
    const char *method, *path;    /* owned by MHD for the request's lifetime */
    sbuf body;
    sbuf headers;                 /* response headers as "name\0value\0" pairs */
    struct MHD_Response *resp;    /* the answer, until it is queued */
    unsigned status;
    ev_timer delay;
    httpd_abort_fn on_abort;
    void *abort_data;
    struct httpd_req *prev, *next; /* in httpd.suspended while suspended */
    char *form_buf;
    struct form_field *form;
    size_t nform;
    bool too_large;               /* the body went over max_body: answer 413 */
    bool dispatched;              /* the handler has seen it */
    bool deferred;
    bool delaying;                /* the delay timer is running */
    bool suspended;
    bool form_parsed;
};

struct httpd {
    struct ev_loop *loop;
    struct MHD_Daemon *mhd;
    ev_io io;                     /* MHD's epoll fd */
    ev_timer tick;                /* MHD_get_timeout */
    ev_prepare kick;              /* MHD_run before blocking, after a resume */
    const char *const *error_headers; /* borrowed from the config */
    httpd_handler_fn handler;
    void *data;
    size_t max_body;
    char *logger;
    int log_level;
    int port;
    unsigned long long connections;
    struct httpd_req *suspended;
    bool stopping;
};

static const char json_type[] = "application/json";

/* ---- driving MHD from the loop ----------------------------------------------------- */

/* MHD's rule: run after every wake-up, then never block longer than its timeout. */
static void drive(struct httpd *srv)
{
    MHD_UNSIGNED_LONG_LONG ms;

    MHD_run(srv->mhd);
    ev_timer_stop(srv->loop, &srv->tick);
    if (MHD_get_timeout(srv->mhd, &ms) == MHD_YES) {
        ev_timer_set(&srv->tick, (double)ms / 1000.0, 0.);
        ev_timer_start(srv->loop, &srv->tick);
    }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    drive((struct httpd *)((char *)w - offsetof(struct httpd, io)));
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    drive((struct httpd *)((char *)w - offsetof(struct httpd, tick)));
}

static void on_kick(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    ev_prepare_stop(loop, w);
    drive((struct httpd *)((char *)w - offsetof(struct httpd, kick)));
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct httpd *srv = cls;
    char line[512];

    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_msg(srv->log_level, srv->logger, "%s", line);
}

/* A closed connection may have been the one over the connection limit (or over the
 * fd limit), for which MHD took the listening socket out of its epoll set. It puts it
 * back only at the start of its next run, which nothing would trigger, so queued
 * clients would hang: run MHD once more before the loop blocks. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct httpd *srv = cls;

    (void)conn, (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        srv->connections++;
    else
        ev_prepare_start(srv->loop, &srv->kick);
}

/* ---- suspension ----------------------------------------------------------------------- */

static void suspend(struct httpd_req *req)
{
    struct httpd *srv = req->srv;

    MHD_suspend_connection(req->conn);
    req->suspended = true;
    req->prev = NULL;
    req->next = srv->suspended;
    if (srv->suspended)
        srv->suspended->prev = req;
    srv->suspended = req;
}

static void unlink_req(struct httpd_req *req)
{
    if (req->prev)
        req->prev->next = req->next;
    else
        req->srv->suspended = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
    req->suspended = false;
}

/* MHD calls the access handler again after the resume, which queues the response; the
 * ev_prepare makes sure that happens before the loop next blocks. */
static void wake(struct httpd_req *req)
{
    unlink_req(req);
    MHD_resume_connection(req->conn);
    ev_prepare_start(req->srv->loop, &req->srv->kick);
}

static void on_delay(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct httpd_req *req = (struct httpd_req *)((char *)w - offsetof(struct httpd_req, delay));

    (void)loop, (void)revents;
    req->delaying = false;
    if (req->suspended && req->resp)
        wake(req);
}

/* ---- responses ----------------------------------------------------------------------- */

static struct MHD_Response *make_response(const void *body, size_t len, enum httpd_mem mem)
{
    if (len == 0) {
        if (mem == HTTPD_TAKE)
            free((void *)body);
        return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    enum MHD_ResponseMemoryMode mode = mem == HTTPD_COPY ? MHD_RESPMEM_MUST_COPY
                                     : mem == HTTPD_STATIC ? MHD_RESPMEM_PERSISTENT
                                     : MHD_RESPMEM_MUST_FREE;
    return MHD_create_response_from_buffer(len, (void *)body, mode);
}

void httpd_respond(struct httpd_req *req, int status, const char *content_type,
                   const void *body, size_t len, enum httpd_mem mem)
{
    struct MHD_Response *resp = make_response(body, len, mem);

    if (!resp)
        xoom();
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; i < req->headers.len;) {
        const char *name = req->headers.s + i;
        const char *value = name + strlen(name) + 1;
        MHD_add_response_header(resp, name, value);
        i = (size_t)(value + strlen(value) + 1 - req->headers.s);
    }
    req->resp = resp;
    req->status = (unsigned)status;
    if (req->suspended && !req->delaying)
        wake(req);
}

static void respond_error(struct httpd_req *req, int status, const char *json)
{
    for (const char *const *h = req->srv->error_headers; h && h[0] && h[1]; h += 2)
        httpd_add_header(req, h[0], h[1]);
    httpd_respond(req, status, json_type, json, strlen(json), HTTPD_STATIC);
}

void httpd_add_header(struct httpd_req *req, const char *name, const char *value)
{
    sbuf_add(&req->headers, name, strlen(name) + 1);
    sbuf_add(&req->headers, value, strlen(value) + 1);
}

void httpd_delay(struct httpd_req *req, double seconds)
{
    if (seconds <= 0)
        return;
    ev_timer_stop(req->srv->loop, &req->delay);
    ev_timer_set(&req->delay, seconds, 0.);
    ev_timer_start(req->srv->loop, &req->delay);
    req->delaying = true;
}

void httpd_defer(struct httpd_req *req, httpd_abort_fn on_abort, void *data)
{
    req->deferred = true;
    req->on_abort = on_abort;
    req->abort_data = data;
}

/* ---- the access handler ------------------------------------------------------------- */

/* MHD itself rejects a Content-Length it cannot parse or that overflows. */
static bool declared_too_large(const struct httpd_req *req)
{
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > req->srv->max_body;
}

static void take_upload(struct httpd_req *req, const char *data, size_t n)
{
    if (req->too_large || req->body.len + n > req->srv->max_body) {
        /* A chunked body has no declared length; MHD cannot answer in the middle of an
         * upload, so the rest is read and dropped, and 413 is sent at the end. */
        req->too_large = true;
        sbuf_free(&req->body);
        return;
    }
    sbuf_add(&req->body, data, n);
}

static void dispatch(struct httpd_req *req)
{
    struct httpd *srv = req->srv;

    req->dispatched = true;
    if (req->too_large) {
        respond_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "{\"success\":false,\"message\":\"request body too large\"}");
        return;
    }
    if (srv->stopping) {
        respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"success\":false,\"message\":\"server shutting down\"}");
        return;
    }
    srv->handler(srv->data, req);
    if (!req->resp && !req->deferred) {
        log_error(srv->logger, "%s %s: the handler gave no response", req->method, req->path);
        respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"success\":false,\"message\":\"internal server error\"}");
    }
}

static enum MHD_Result queue(struct httpd_req *req)
{
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->resp);

    MHD_destroy_response(req->resp);
    req->resp = NULL;
    return r;
}

static struct httpd_req *new_req(struct httpd *srv, struct MHD_Connection *conn,
                                 const char *url, const char *method)
{
    struct httpd_req *req = xcalloc(1, sizeof *req);

    req->srv = srv;
    req->conn = conn;
    req->method = method;
    req->path = url;
    ev_init(&req->delay, on_delay);
    return req;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload, size_t *upload_size, void **con_cls)
{
    struct httpd_req *req = *con_cls;

    (void)version;
    if (!req) {
        req = *con_cls = new_req(cls, conn, url, method);
        if (!declared_too_large(req))
            return MHD_YES;
        /* Answering before the body is read makes MHD skip "100 Continue", drop the
         * body and close the connection afterwards. */
        req->too_large = true;
        dispatch(req);
        return queue(req);
    }
    if (*upload_size > 0) {
        take_upload(req, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!req->dispatched)
        dispatch(req);
    if (req->resp && !req->delaying)
        return queue(req);
    suspend(req);
    return MHD_YES;
}

static void free_req(struct httpd_req *req)
{
    ev_timer_stop(req->srv->loop, &req->delay);
    if (req->resp)
        MHD_destroy_response(req->resp);
    sbuf_free(&req->body);
    sbuf_free(&req->headers);
    free(req->form_buf);
    free(req->form);
    free(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    if (*con_cls)
        free_req(*con_cls);
    *con_cls = NULL;
}

/* ---- request accessors --------------------------------------------------------------- */

const char *httpd_method(const struct httpd_req *req)
{
    return req->method;
}

const char *httpd_path(const struct httpd_req *req)
{
    return req->path;
}

const char *httpd_query(const struct httpd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *httpd_header(const struct httpd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *httpd_cookie(const struct httpd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const char *httpd_body(const struct httpd_req *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return sbuf_str(&req->body);
}

static char *form_decode(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '+')
            *p = ' ';
    MHD_http_unescape(s);
    return s;
}

static void parse_form(struct httpd_req *req)
{
    size_t len, n = 1;
    const char *body = httpd_body(req, &len);

    req->form_parsed = true;
    req->form_buf = xmemdup(body, len + 1);
    for (const char *p = req->form_buf; (p = strchr(p, '&')); p++)
        n++;
    req->form = xcalloc(n, sizeof *req->form);
    for (char *field = req->form_buf; field;) {
        char *next = strchr(field, '&');
        if (next)
            *next++ = '\0';
        char *eq = strchr(field, '=');
        if (eq)
            *eq++ = '\0';
        if (*field) {
            req->form[req->nform].name = form_decode(field);
            req->form[req->nform++].value = eq ? form_decode(eq) : "";
        }
        field = next;
    }
}

const char *httpd_form(struct httpd_req *req, const char *name)
{
    if (!req->form_parsed)
        parse_form(req);
    for (size_t i = 0; i < req->nform; i++)
        if (strcmp(req->form[i].name, name) == 0)
            return req->form[i].value;
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------- */

static bool is_any(const char *host)
{
    return !host || !*host || strcmp(host, "*") == 0;
}

/* The address as a user writes it, for error lines: "*:8089", "[::1]:8089". */
static void format_addr(char *out, size_t n, const char *host, int port)
{
    if (is_any(host))
        snprintf(out, n, "*:%d", port);
    else if (strchr(host, ':') && host[0] != '[')
        snprintf(out, n, "[%s]:%d", host, port);
    else
        snprintf(out, n, "%s:%d", host, port);
}

/* Returns a listening non-blocking socket, or -1 with errno kept from the failed call. */
static int bind_listen(const struct sockaddr *sa, socklen_t salen, bool dual_stack,
                       const char *where, char *err, size_t errlen)
{
    int one = 1, zero = 0;
    const char *step = "bind";
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket %s: %s", where, strerror(e));
        errno = e;
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (dual_stack)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, sa, salen) == 0) {
        step = "listen";
        if (listen(fd, SOMAXCONN) == 0)
            return fd;
    }
    int e = errno;
    close(fd);
    snprintf(err, errlen, "%s %s: %s", step, where, strerror(e));
    errno = e;
    return -1;
}

/* All interfaces: one dual-stack IPv6 socket, or IPv4 where the host has no IPv6. */
static int listen_any(int port, const char *where, char *err, size_t errlen)
{
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                              .sin6_addr = in6addr_any};
    int fd = bind_listen((struct sockaddr *)&a6, sizeof a6, true, where, err, errlen);
    if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
        return fd;
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY)};
    return bind_listen((struct sockaddr *)&a4, sizeof a4, false, where, err, errlen);
}

static int listen_host(const char *host, int port, const char *where, char *err, size_t errlen)
{
    char name[256], service[16];
    size_t n = strlen(host);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;

    if (host[0] == '[' && n >= 2 && host[n - 1] == ']')
        snprintf(name, sizeof name, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(name, sizeof name, "%s", host);
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(name, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "resolve %s: %s", where, gai_strerror(rc));
        return -1;
    }
    int fd = bind_listen(res->ai_addr, res->ai_addrlen, false, where, err, errlen);
    freeaddrinfo(res);
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static struct MHD_Daemon *start_mhd(struct httpd *srv, int fd, const struct httpd_config *cfg)
{
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    bool tls = cfg->tls_cert_pem && cfg->tls_key_pem;
    /* Without TLS the two options are passed as MHD_OPTION_END-terminated no-ops. */
    return MHD_start_daemon(
        flags | (tls ? MHD_USE_TLS : 0), 0, NULL, NULL, on_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT,
        cfg->max_connections ? cfg->max_connections : HTTPD_DEFAULT_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout ? cfg->timeout : HTTPD_DEFAULT_TIMEOUT,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cfg->tls_cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, cfg->tls_key_pem,
        MHD_OPTION_END);
}

struct httpd *httpd_start(struct ev_loop *loop, const struct httpd_config *cfg,
                          char *err, size_t errlen)
{
    char where[300];

    format_addr(where, sizeof where, cfg->host, cfg->port);
    int fd = is_any(cfg->host) ? listen_any(cfg->port, where, err, errlen)
                               : listen_host(cfg->host, cfg->port, where, err, errlen);
    if (fd < 0)
        return NULL;

    struct httpd *srv = xcalloc(1, sizeof *srv);
    srv->loop = loop;
    srv->handler = cfg->handler;
    srv->data = cfg->data;
    srv->error_headers = cfg->error_headers;
    srv->max_body = cfg->max_body ? cfg->max_body : HTTPD_DEFAULT_MAX_BODY;
    srv->logger = xstrdup(cfg->logger ? cfg->logger : "cicada.httpd");
    srv->log_level = cfg->log_level ? cfg->log_level : LOG_DEBUG;
    srv->port = bound_port(fd);
    if (cfg->tls_cert_pem && cfg->tls_key_pem && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "tls %s: this libmicrohttpd was built without TLS", where);
        close(fd);
        free(srv->logger);
        free(srv);
        return NULL;
    }
    srv->mhd = start_mhd(srv, fd, cfg);
    if (!srv->mhd) {
        snprintf(err, errlen, "%s %s: libmicrohttpd refused to start%s",
                 cfg->tls_cert_pem ? "tls" : "start", where,
                 cfg->tls_cert_pem ? " (is the certificate and key pair valid PEM?)" : "");
        close(fd);
        free(srv->logger);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    ev_io_init(&srv->io, on_io, info->epoll_fd, EV_READ);
    /* A loop that also runs thousands of users handles hundreds of events per turn: the
     * server's go first, so the dashboard answers within a turn, not after it. */
    ev_set_priority(&srv->io, EV_MAXPRI);
    ev_io_start(loop, &srv->io);
    ev_init(&srv->tick, on_tick);
    ev_set_priority(&srv->tick, EV_MAXPRI);
    ev_prepare_init(&srv->kick, on_kick);
    drive(srv);
    return srv;
}

void httpd_stop(struct httpd *srv)
{
    if (!srv)
        return;
    srv->stopping = true;
    /* MHD forbids stopping with suspended connections: answer and resume them all,
     * then let one MHD_run queue those answers before the daemon closes everything. */
    while (srv->suspended) {
        struct httpd_req *req = srv->suspended;
        ev_timer_stop(srv->loop, &req->delay);
        req->delaying = false;
        if (!req->resp) {
            if (req->on_abort)
                req->on_abort(req->abort_data, req);
            respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"success\":false,\"message\":\"server shutting down\"}");
        }
        if (req->suspended)
            wake(req);
    }
    MHD_run(srv->mhd);
    MHD_stop_daemon(srv->mhd);   /* also closes the listening socket */
    ev_io_stop(srv->loop, &srv->io);
    ev_timer_stop(srv->loop, &srv->tick);
    ev_prepare_stop(srv->loop, &srv->kick);
    free(srv->logger);
    free(srv);
}

int httpd_port(const struct httpd *srv)
{
    return srv->port;
}

unsigned long long httpd_connections(const struct httpd *srv)
{
    return srv->connections;
}
