/* The HTTP server glue: a real server on its own libev loop in a second thread, a real
 * client (libcurl easy) in the test thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "httpd.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- a server on a loop in its own thread --------------------------------------------- */

struct server {
    struct ev_loop *loop;
    struct httpd *srv;
    pthread_t thread;
    ev_async halt;
    ev_timer later;               /* answers the deferred request of /defer */
    struct httpd_req *waiting;    /* that request */
    atomic_int parked;            /* requests deferred and never answered */
    atomic_int aborted;           /* abort callbacks seen */
};

static void on_abort(void *data, struct httpd_req *req)
{
    struct server *s = data;
    (void)req;
    atomic_fetch_add(&s->aborted, 1);
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct server *s = (struct server *)((char *)w - offsetof(struct server, later));
    (void)loop, (void)revents;
    httpd_respond(s->waiting, 200, "text/plain", "deferred", 8, HTTPD_STATIC);
    s->waiting = NULL;
}

static const char *or_null(const char *s)
{
    return s ? s : "(null)";
}

static void echo(struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    size_t len;
    const char *body = httpd_body(req, &len);

    sbuf_printf(&b, "%s %s x=%s y=%s z=%s hdr=%s cookie=%s nocookie=%s len=%zu body=",
                httpd_method(req), httpd_path(req), or_null(httpd_query(req, "x")),
                or_null(httpd_query(req, "y")), or_null(httpd_query(req, "z")),
                or_null(httpd_header(req, "x-test")), or_null(httpd_cookie(req, "b")),
                or_null(httpd_cookie(req, "zz")), len);
    sbuf_add(&b, body, len);
    httpd_add_header(req, "X-Extra", "yes");
    size_t n = b.len;
    httpd_respond(req, 200, "text/plain", sbuf_take(&b), n, HTTPD_TAKE);
}

static void form(struct httpd_req *req)
{
    char out[256];
    snprintf(out, sizeof out, "a=%s|b=%s|c=%s|d=%s|e=%s", or_null(httpd_form(req, "a")),
             or_null(httpd_form(req, "b")), or_null(httpd_form(req, "c")),
             or_null(httpd_form(req, "d")), or_null(httpd_form(req, "e")));
    httpd_respond(req, 200, "text/plain", out, strlen(out), HTTPD_COPY);
}

static void handler(void *data, struct httpd_req *req)
{
    struct server *s = data;
    const char *p = httpd_path(req);

    if (strcmp(p, "/echo") == 0) {
        echo(req);
    } else if (strcmp(p, "/form") == 0) {
        form(req);
    } else if (strcmp(p, "/delay") == 0) {
        httpd_delay(req, 0.2);
        httpd_respond(req, 200, "text/plain", "late", 4, HTTPD_STATIC);
    } else if (strcmp(p, "/defer") == 0 || strcmp(p, "/defer-delay") == 0) {
        /* /defer-delay: answered after 0.05 s, but held back until 0.2 s. */
        if (p[6] == '-')
            httpd_delay(req, 0.2);
        httpd_defer(req, on_abort, s);
        s->waiting = req;
        ev_timer_set(&s->later, p[6] == '-' ? 0.05 : 0.1, 0.);
        ev_timer_start(s->loop, &s->later);
    } else if (strcmp(p, "/park") == 0) {
        httpd_defer(req, on_abort, s);
        atomic_fetch_add(&s->parked, 1);
    } else if (strcmp(p, "/park-delay") == 0) {
        httpd_delay(req, 30);
        httpd_respond(req, 200, "text/plain", "held", 4, HTTPD_STATIC);
        atomic_fetch_add(&s->parked, 1);
    } else if (strcmp(p, "/park-quiet") == 0) {
        httpd_defer(req, NULL, NULL);
        atomic_fetch_add(&s->parked, 1);
    } else if (strcmp(p, "/empty") == 0) {
        httpd_respond(req, 204, NULL, NULL, 0, HTTPD_COPY);
    } else if (strcmp(p, "/empty-take") == 0) {
        httpd_respond(req, 200, "text/plain", xstrdup(""), 0, HTTPD_TAKE);
    } else if (strcmp(p, "/silent") != 0) {
        httpd_respond(req, 404, "application/json", "{\"error\":\"not found\"}", 21,
                      HTTPD_STATIC);
    }
}

static void on_halt(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w, (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void *loop_thread(void *arg)
{
    struct server *s = arg;
    ev_run(s->loop, 0);
    return NULL;
}

/* Starts a server with cfg (handler and data filled in here); NULL with err on failure. */
static struct server *server_start(struct httpd_config cfg, char *err, size_t errlen)
{
    struct server *s = xcalloc(1, sizeof *s);

    s->loop = ev_loop_new(EVFLAG_AUTO);
    cfg.handler = handler;
    cfg.data = s;
    s->srv = httpd_start(s->loop, &cfg, err, errlen);
    if (!s->srv) {
        ev_loop_destroy(s->loop);
        free(s);
        return NULL;
    }
    ev_async_init(&s->halt, on_halt);
    ev_async_start(s->loop, &s->halt);
    ev_init(&s->later, on_later);
    pthread_create(&s->thread, NULL, loop_thread, s);
    return s;
}

static struct server *start_local(void)
{
    char err[256] = "";
    struct server *s = server_start((struct httpd_config){.host = "127.0.0.1", .max_body = 1024},
                                    err, sizeof err);
    assert_non_null(s);
    assert_string_equal(err, "");
    assert_true(httpd_port(s->srv) > 0);
    return s;
}

/* Stops the loop thread; the server is then only touched by the test thread. */
static void server_halt(struct server *s)
{
    ev_async_send(s->loop, &s->halt);
    pthread_join(s->thread, NULL);
}

static void server_free(struct server *s)
{
    httpd_stop(s->srv);
    ev_timer_stop(s->loop, &s->later);
    ev_async_stop(s->loop, &s->halt);
    ev_loop_destroy(s->loop);
    free(s);
}

static void server_stop(struct server *s)
{
    server_halt(s);
    server_free(s);
}

/* ---- a client ------------------------------------------------------------------------ */

struct reply {
    CURLcode rc;
    long status;
    sbuf body;
    sbuf headers;
    double secs;
};

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
    sbuf_add(userdata, p, size * n);
    return size * n;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t feed(char *buf, size_t size, size_t n, void *userdata)
{
    struct upload *u = userdata;
    size_t k = size * n < u->left ? size * n : u->left;
    memcpy(buf, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct request {
    const char *url;              /* full URL */
    const char *method;           /* NULL: GET, or POST when there is a body */
    const char *body;
    size_t len;
    bool chunked;                 /* send the body with chunked encoding */
    const char *header;           /* one extra request header */
    const char *cookie;
};

static void perform(const struct request *rq, struct reply *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    struct upload up = {rq->body, rq->len};

    memset(r, 0, sizeof *r);
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (rq->chunked) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
    } else if (rq->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)rq->len);
    }
    if (rq->method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->header)
        hdrs = curl_slist_append(hdrs, rq->header);
    if (!rq->header || strncmp(rq->header, "Expect:", 7) != 0)
        hdrs = curl_slist_append(hdrs, "Expect:");   /* no "100 Continue" round trip */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (rq->cookie)
        curl_easy_setopt(c, CURLOPT_COOKIE, rq->cookie);
    double t0 = now();
    r->rc = curl_easy_perform(c);
    r->secs = now() - t0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
}

static char *url(const struct server *s, const char *path)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d%s", httpd_port(s->srv), path);
    return buf;
}

static void get(const struct server *s, const char *path, struct reply *r)
{
    perform(&(struct request){.url = url(s, path)}, r);
}

static void reply_free(struct reply *r)
{
    sbuf_free(&r->body);
    sbuf_free(&r->headers);
}

/* A request made from its own thread. */
struct client {
    pthread_t thread;
    struct request rq;
    struct reply r;
    char url[256];
    double done;      /* when the reply was complete */
};

static void *client_thread(void *arg)
{
    struct client *c = arg;
    perform(&c->rq, &c->r);
    c->done = now();
    return NULL;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_get_with_query_header_cookie(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;

    perform(&(struct request){.url = url(s, "/echo?x=1&y=hello%20world&z"),
                              .header = "X-Test: abc", .cookie = "a=1; b=two"}, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(sbuf_str(&r.body), "GET /echo x=1 y=hello world z=(null) hdr=abc "
                                           "cookie=two nocookie=(null) len=0 body=");
    assert_non_null(strstr(sbuf_str(&r.headers), "Content-Type: text/plain\r\n"));
    assert_non_null(strstr(sbuf_str(&r.headers), "X-Extra: yes\r\n"));
    assert_null(strstr(sbuf_str(&r.headers), "Access-Control-Allow-Origin"));
    reply_free(&r);
    server_stop(s);
}

static void test_post_body(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;
    static const char body[] = "bin\0ary";
    static const char want[] = "POST /echo x=(null) y=(null) z=(null) hdr=(null) cookie=(null) "
                               "nocookie=(null) len=7 body=bin\0ary";

    perform(&(struct request){.url = url(s, "/echo"), .body = body, .len = 7}, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, sizeof want - 1);
    assert_memory_equal(r.body.s, want, sizeof want - 1);
    reply_free(&r);
    server_stop(s);
}

static void test_form_fields(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;
    const char *body = "a=1&b=hello+world%21&c=&d&&=x";

    perform(&(struct request){.url = url(s, "/form"), .body = body, .len = strlen(body)}, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(sbuf_str(&r.body), "a=1|b=hello world!|c=|d=|e=(null)");
    reply_free(&r);

    perform(&(struct request){.url = url(s, "/form"), .method = "PUT"}, &r);
    assert_string_equal(sbuf_str(&r.body), "a=(null)|b=(null)|c=(null)|d=(null)|e=(null)");
    reply_free(&r);
    server_stop(s);
}

static void test_not_found_and_methods(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;

    get(s, "/nope", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(sbuf_str(&r.body), "{\"error\":\"not found\"}");
    assert_non_null(strstr(sbuf_str(&r.headers), "Content-Type: application/json\r\n"));
    reply_free(&r);

    perform(&(struct request){.url = url(s, "/echo"), .method = "DELETE"}, &r);
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body.s, "DELETE /echo ", 13);
    reply_free(&r);
    server_stop(s);
}

static void test_empty_bodies(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;

    get(s, "/empty", &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body.len, 0);
    assert_null(strstr(sbuf_str(&r.headers), "Content-Type"));
    reply_free(&r);
    get(s, "/empty-take", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    reply_free(&r);
    server_stop(s);
}

/* Log lines seen by the observer (written from the loop thread). */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static sbuf log_seen;

static void observe(void *data, int level, const char *line)
{
    (void)data;
    pthread_mutex_lock(&log_lock);
    sbuf_printf(&log_seen, "%d %s\n", level, strstr(line, "/cicada.") + 1);
    pthread_mutex_unlock(&log_lock);
}

static void test_handler_without_response_is_500(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;

    sbuf_reset(&log_seen);
    log_set_observer(observe, NULL);
    get(s, "/silent", &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(sbuf_str(&r.body), "{\"success\":false,\"message\":\"internal server error\"}");
    reply_free(&r);
    server_halt(s);
    log_set_observer(NULL, NULL);
    assert_string_equal(sbuf_str(&log_seen),
                        "40 cicada.httpd: GET /silent: the handler gave no response\n");
    sbuf_free(&log_seen);
    server_free(s);
}

static void test_delay(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;

    get(s, "/delay", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(sbuf_str(&r.body), "late");
    assert_true(r.secs >= 0.2);
    assert_true(r.secs < 2.0);
    reply_free(&r);

    /* The loop is not blocked meanwhile: a request made during the delay is answered
     * before the delayed one. */
    struct client late = {.rq = {.url = late.url}};
    snprintf(late.url, sizeof late.url, "%s", url(s, "/delay"));
    pthread_create(&late.thread, NULL, client_thread, &late);
    usleep(50000);
    get(s, "/echo", &r);
    assert_int_equal(r.status, 200);
    double echo_done = now();
    reply_free(&r);
    pthread_join(late.thread, NULL);
    assert_int_equal(late.r.status, 200);
    assert_true(echo_done < late.done);
    reply_free(&late.r);
    server_stop(s);
}

static void test_defer(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;

    get(s, "/defer", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(sbuf_str(&r.body), "deferred");
    assert_true(r.secs >= 0.1);
    assert_true(r.secs < 2.0);
    reply_free(&r);

    get(s, "/defer-delay", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(sbuf_str(&r.body), "deferred");
    assert_true(r.secs >= 0.2);
    reply_free(&r);
    server_halt(s);
    httpd_stop(s->srv);
    assert_int_equal(atomic_load(&s->aborted), 0);
    s->srv = NULL;
    server_free(s);
}

static void test_body_limit(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;
    char *big = xmalloc(5000);
    memset(big, 'a', 5000);

    perform(&(struct request){.url = url(s, "/echo"), .body = big, .len = 1024}, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(sbuf_str(&r.body), "len=1024 body=aaaa"));
    reply_free(&r);

    perform(&(struct request){.url = url(s, "/echo"), .body = big, .len = 1025}, &r);
    assert_int_equal(r.status, 413);
    assert_string_equal(sbuf_str(&r.body), "{\"success\":false,\"message\":\"request body too large\"}");
    reply_free(&r);

    /* With "Expect: 100-continue" the client learns it before sending the body. */
    perform(&(struct request){.url = url(s, "/echo"), .body = big, .len = 2000,
                              .header = "Expect: 100-continue"}, &r);
    assert_int_equal(r.status, 413);
    assert_null(strstr(sbuf_str(&r.headers), "100 Continue"));
    reply_free(&r);
    perform(&(struct request){.url = url(s, "/echo"), .body = big, .len = 1000,
                              .header = "Expect: 100-continue"}, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(sbuf_str(&r.headers), "HTTP/1.1 100 Continue\r\n"));
    assert_non_null(strstr(sbuf_str(&r.body), "len=1000 body=aaaa"));
    reply_free(&r);

    perform(&(struct request){.url = url(s, "/echo"), .body = big, .len = 5000, .chunked = true},
            &r);
    assert_int_equal(r.status, 413);
    assert_string_equal(sbuf_str(&r.body), "{\"success\":false,\"message\":\"request body too large\"}");
    reply_free(&r);

    perform(&(struct request){.url = url(s, "/echo"), .body = big, .len = 1000, .chunked = true},
            &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(sbuf_str(&r.body), "len=1000 body=aaaa"));
    reply_free(&r);

    free(big);
    server_stop(s);
}

/* MHD's own messages go to our log: at DEBUG by default, as configured otherwise. */
static void check_mhd_log(struct httpd_config cfg, const char *want)
{
    char err[256];
    struct reply r;
    struct server *s = server_start(cfg, err, sizeof err);

    assert_non_null(s);
    sbuf_reset(&log_seen);
    log_set_observer(observe, NULL);
    perform(&(struct request){.url = url(s, "/echo"), .body = "x", .len = 1,
                              .header = "Content-Length: 99999999999999999999999"}, &r);
    assert_int_equal(r.status, 413);   /* from MHD: it cannot parse the length */
    reply_free(&r);
    server_halt(s);
    log_set_observer(NULL, NULL);
    assert_memory_equal(sbuf_str(&log_seen), want, strlen(want));
    sbuf_free(&log_seen);
    server_free(s);
}

static void test_mhd_messages_are_logged(void **state)
{
    (void)state;
    char err[128];
    /* The observer sees what the log writes: let DEBUG lines through. */
    assert_int_equal(log_setup(LOG_DEBUG, "/dev/null", false, err, sizeof err), 0);
    check_mhd_log((struct httpd_config){.host = "127.0.0.1"},
                  "10 cicada.httpd: Too large value of 'Content-Length' header. Closing "
                  "connection.\n");
    check_mhd_log((struct httpd_config){.host = "127.0.0.1", .logger = "cicada.web",
                                        .log_level = LOG_WARNING},
                  "30 cicada.web: Too large value of 'Content-Length' header. Closing "
                  "connection.\n");
    log_close();
    assert_int_equal(log_setup(LOG_INFO, NULL, false, err, sizeof err), 0);
}

static void test_default_body_limit_is_1mib(void **state)
{
    (void)state;
    char err[256];
    struct server *s = server_start((struct httpd_config){.host = "127.0.0.1"}, err, sizeof err);
    struct reply r;
    size_t n = HTTPD_DEFAULT_MAX_BODY + 1;
    char *big = xcalloc(1, n);

    assert_non_null(s);
    perform(&(struct request){.url = url(s, "/echo"), .body = big, .len = n - 1}, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    /* With "Expect: 100-continue" the answer comes before the body is sent. Without it,
     * the server answers and closes while the client still sends: a loaded machine may
     * then deliver the client a reset before the 413. */
    perform(&(struct request){.url = url(s, "/echo"), .body = big, .len = n,
                              .header = "Expect: 100-continue"}, &r);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    free(big);
    server_stop(s);
}

static int listening_socket(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_bind_error(void **state)
{
    (void)state;
    int port;
    int fd = listening_socket(&port);
    char err[256], want[256];
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

    struct httpd_config cfg = {.host = "127.0.0.1", .port = port, .handler = handler};
    assert_null(httpd_start(loop, &cfg, err, sizeof err));
    snprintf(want, sizeof want, "bind 127.0.0.1:%d: Address already in use", port);
    assert_string_equal(err, want);

    cfg.host = "";
    assert_null(httpd_start(loop, &cfg, err, sizeof err));
    snprintf(want, sizeof want, "bind *:%d: Address already in use", port);
    assert_string_equal(err, want);

    cfg.host = "192.0.2.1";   /* TEST-NET-1: not an address of this host */
    assert_null(httpd_start(loop, &cfg, err, sizeof err));
    snprintf(want, sizeof want, "bind 192.0.2.1:%d: Cannot assign requested address", port);
    assert_string_equal(err, want);

    cfg.host = "nosuch.invalid";
    assert_null(httpd_start(loop, &cfg, err, sizeof err));
    snprintf(want, sizeof want, "resolve nosuch.invalid:%d: ", port);
    assert_memory_equal(err, want, strlen(want));
    assert_true(strlen(err) > strlen(want));

    close(fd);
    ev_loop_destroy(loop);
}

static void test_ipv6_and_all_interfaces(void **state)
{
    (void)state;
    const char *hosts[] = {"[::1]", "::1", "", "*", NULL};
    char err[256];
    struct reply r;

    for (int i = 0; hosts[i]; i++) {
        struct server *s = server_start((struct httpd_config){.host = hosts[i]}, err, sizeof err);
        char u[128];
        assert_non_null(s);
        int port = httpd_port(s->srv);
        snprintf(u, sizeof u, "http://[::1]:%d/echo", port);
        perform(&(struct request){.url = u}, &r);
        assert_int_equal(r.status, 200);
        reply_free(&r);
        if (i >= 2) {   /* all interfaces: IPv4 reaches the dual-stack socket too */
            snprintf(u, sizeof u, "http://127.0.0.1:%d/echo", port);
            perform(&(struct request){.url = u}, &r);
            assert_int_equal(r.status, 200);
            reply_free(&r);
        }
        server_stop(s);
    }
}

static void test_connection_count(void **state)
{
    (void)state;
    struct server *s = start_local();
    struct reply r;

    for (int i = 0; i < 3; i++) {
        get(s, "/echo", &r);   /* a new easy handle each time: a new connection */
        assert_int_equal(r.status, 200);
        reply_free(&r);
    }
    server_halt(s);
    assert_int_equal(httpd_connections(s->srv), 3);
    server_free(s);
}

static int connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Returns true when the server closes fd within `ms`. */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    return poll(&p, 1, ms) == 1 && recv(fd, &c, 1, 0) == 0;
}

static void test_idle_timeout(void **state)
{
    (void)state;
    char err[256];
    struct server *s = server_start((struct httpd_config){.host = "127.0.0.1", .timeout = 1},
                                    err, sizeof err);
    assert_non_null(s);
    int fd = connect_to(httpd_port(s->srv));
    double t0 = now();
    assert_true(closed_within(fd, 5000));
    assert_true(now() - t0 >= 0.9);
    close(fd);
    server_stop(s);
}

/* At the limit MHD stops accepting: the next client waits in the backlog until a
 * connection closes, then it is served. */
static void test_connection_limit(void **state)
{
    (void)state;
    char err[256], buf[512];
    static const char request[] = "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    struct server *s = server_start(
        (struct httpd_config){.host = "127.0.0.1", .max_connections = 1}, err, sizeof err);
    assert_non_null(s);
    int first = connect_to(httpd_port(s->srv));
    usleep(100000);
    int second = connect_to(httpd_port(s->srv));
    assert_int_equal(send(second, request, sizeof request - 1, 0), sizeof request - 1);
    struct pollfd p = {.fd = second, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 300), 0);
    close(first);
    assert_int_equal(poll(&p, 1, 2000), 1);
    ssize_t n = recv(second, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
    close(second);
    server_stop(s);
}

static void start_clients(struct server *s, struct client *c, int n, const char *path)
{
    for (int i = 0; i < n; i++) {
        snprintf(c[i].url, sizeof c[i].url, "%s", url(s, path));
        c[i].rq = (struct request){.url = c[i].url};
        pthread_create(&c[i].thread, NULL, client_thread, &c[i]);
    }
    for (int tries = 0; atomic_load(&s->parked) < n && tries < 500; tries++)
        usleep(10000);
    assert_int_equal(atomic_load(&s->parked), n);
}

/* Stopping with requests in flight answers them (503 unless the application already
 * gave its response) and leaks nothing (ASan checks). */
static void check_stop_with_pending(const char *path, int want_aborts, long want_status,
                                    const char *want_body)
{
    struct server *s = start_local();
    struct client c[3];

    start_clients(s, c, 3, path);
    server_halt(s);
    assert_int_equal(atomic_load(&s->aborted), 0);
    httpd_stop(s->srv);
    assert_int_equal(atomic_load(&s->aborted), want_aborts);
    for (int i = 0; i < 3; i++) {
        pthread_join(c[i].thread, NULL);
        assert_int_equal(c[i].r.rc, CURLE_OK);
        assert_int_equal(c[i].r.status, want_status);
        assert_string_equal(sbuf_str(&c[i].r.body), want_body);
        reply_free(&c[i].r);
    }
    s->srv = NULL;
    server_free(s);
}

static void test_stop_with_deferred(void **state)
{
    (void)state;
    check_stop_with_pending("/park", 3, 503, "{\"success\":false,\"message\":\"server shutting down\"}");
}

static void test_stop_with_deferred_without_abort_callback(void **state)
{
    (void)state;
    check_stop_with_pending("/park-quiet", 0, 503, "{\"success\":false,\"message\":\"server shutting down\"}");
}

static void test_stop_with_delayed(void **state)
{
    (void)state;
    check_stop_with_pending("/park-delay", 0, 200, "held");
}

static void test_stop_null(void **state)
{
    (void)state;
    httpd_stop(NULL);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_query_header_cookie),
        cmocka_unit_test(test_post_body),
        cmocka_unit_test(test_form_fields),
        cmocka_unit_test(test_not_found_and_methods),
        cmocka_unit_test(test_empty_bodies),
        cmocka_unit_test(test_handler_without_response_is_500),
        cmocka_unit_test(test_delay),
        cmocka_unit_test(test_defer),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_mhd_messages_are_logged),
        cmocka_unit_test(test_default_body_limit_is_1mib),
        cmocka_unit_test(test_bind_error),
        cmocka_unit_test(test_ipv6_and_all_interfaces),
        cmocka_unit_test(test_connection_count),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_stop_with_deferred),
        cmocka_unit_test(test_stop_with_deferred_without_abort_callback),
        cmocka_unit_test(test_stop_with_delayed),
        cmocka_unit_test(test_stop_null),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
