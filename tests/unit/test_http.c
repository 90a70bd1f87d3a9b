/* engine/http: libcurl multi on a real libev loop against a loopback HTTP/1.1 keep-alive
 * target (a forked child), checking results, failure texts, cancellation, and which
 * connections each client opens (the target records every client port). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http.h"
#include "loopback.h"
#include "sbuf.h"

static int setup(void **state)
{
    (void)state;
    alarm(30); /* last resort if the loop itself stops turning */
    loop = ev_loop_new(EVFLAG_AUTO);
    ev_init(&watchdog, watchdog_cb);
    H = http_new(loop);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_free(H);
    ev_loop_destroy(loop);
    alarm(0);
    return 0;
}

/* ---- clients ------------------------------------------------------------------------- */

struct call {
    http_client c;
    http_result r;
    int calls;
    sbuf body;
};

static void on_done(http_client *c, const http_result *r)
{
    struct call *k = c->owner;
    k->r = *r;
    k->calls++;
}

static void call_init(struct call *k, unsigned id)
{
    memset(k, 0, sizeof *k);
    http_client_init(H, &k->c, id, on_done, k);
}

static void call_free(struct call *k)
{
    http_client_free(&k->c);
    sbuf_free(&k->body);
}

/* Submits req on k (its body collected fresh) without waiting. */
static void submit(struct call *k, const http_req *req)
{
    char err[256] = "";
    sbuf_reset(&k->body);
    k->c.body = &k->body;
    if (http_submit(&k->c, req, err, sizeof err) != 0)
        fail_msg("http_submit %s: %s", req->url, err);
}

/* Makes one request on k and waits for its result. */
static const http_result *fetch(struct call *k, const http_req *req)
{
    int before = k->calls;
    submit(k, req);
    RUN_UNTIL(k->calls > before, 5);
    assert_int_equal(k->calls, before + 1);
    return &k->r;
}

static char urls[16][128];

/* An absolute URL on the target (up to 16 alive at once, rotating). */
static const char *url(const char *path)
{
    static int next;
    char *u = urls[next++ % 16];
    snprintf(u, sizeof urls[0], "http://127.0.0.1:%d%s", tgt.port, path);
    return u;
}

static http_req get(const char *path)
{
    return (http_req){.method = "GET", .kind = HTTP_GET, .url = url(path)};
}

/* ---- requests and results ------------------------------------------------------------ */

static void test_get(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req req = get("/ok");
    const http_result *r = fetch(&k, &req);
    assert_int_equal(r->code, CURLE_OK);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->bytes, 2);
    assert_true(r->rt_us > 0);
    assert_ptr_equal(r->req, &req);
    assert_string_equal(sbuf_str(&k.body), "ok");
    assert_string_equal(tgt.shm->last_method, "GET");
    char buf[64] = "untouched";
    assert_false(http_failure_text(r, "/ok", buf, sizeof buf));
    assert_string_equal(buf, "untouched");
    assert_int_equal(http_in_flight(H), 0);
    call_free(&k);
}

static void test_methods_on_one_client(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    static const char payload[] = "a=1&b=\0binary\r\n\r\nGET / HTTP/1.1";
    http_req post = {.method = "POST", .kind = HTTP_POST, .url = url("/echo"),
                     .body = payload, .body_len = sizeof payload - 1};
    http_req head = {.method = "HEAD", .kind = HTTP_HEAD, .url = url("/ok")};
    http_req purge = {.method = "PURGE", .kind = HTTP_OTHER, .url = url("/echo")};
    http_req patch = {.method = "PATCH", .kind = HTTP_OTHER, .url = url("/echo"),
                      .body = "xyz", .body_len = 3};
    http_req empty_post = {.method = "POST", .kind = HTTP_POST, .url = url("/echo")};
    http_req echo = get("/echo");

    /* The body arrives byte for byte, NUL and CRLFs included. */
    const http_result *r = fetch(&k, &post);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->bytes, 5 + sizeof payload - 1);
    assert_int_equal(k.body.len, 5 + sizeof payload - 1);
    assert_memory_equal(k.body.s, "POST ", 5);
    assert_memory_equal(k.body.s + 5, payload, sizeof payload - 1);

    /* Each switch of method on the same handle sends exactly that method. */
    r = fetch(&k, &head);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->bytes, 0);
    assert_string_equal(tgt.shm->last_method, "HEAD");

    r = fetch(&k, &echo);
    assert_string_equal(sbuf_str(&k.body), "GET ");

    r = fetch(&k, &purge);
    assert_int_equal(r->status, 200);
    assert_string_equal(sbuf_str(&k.body), "PURGE ");

    r = fetch(&k, &patch);
    assert_string_equal(sbuf_str(&k.body), "PATCH xyz");

    r = fetch(&k, &empty_post);
    assert_string_equal(sbuf_str(&k.body), "POST ");

    r = fetch(&k, &head);
    assert_int_equal(r->bytes, 0);
    assert_string_equal(tgt.shm->last_method, "HEAD");

    r = fetch(&k, &post);
    assert_int_equal(r->bytes, 5 + sizeof payload - 1);
    r = fetch(&k, &echo);
    assert_string_equal(sbuf_str(&k.body), "GET ");
    call_free(&k);
}

/* The interpreter renders every templated request into one struct per user: what changed
 * must be applied even though the pointer is the same. */
static void test_request_rewritten_in_place(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    struct curl_slist *cookie = curl_slist_append(NULL, "Cookie: a=1");
    http_req r = {.method = "POST", .kind = HTTP_POST, .url = url("/echo"), .body = "xy",
                  .body_len = 2, .dynamic = true};
    fetch(&k, &r);
    assert_string_equal(sbuf_str(&k.body), "POST xy");

    r = (http_req){.method = "GET", .kind = HTTP_GET, .url = url("/cookie"),
                   .headers = cookie, .dynamic = true};
    fetch(&k, &r);
    assert_string_equal(sbuf_str(&k.body), "a=1");

    r.headers = NULL;
    fetch(&k, &r);
    assert_string_equal(sbuf_str(&k.body), "none");

    /* a static request after it is applied in full too */
    http_req echo = get("/echo");
    r = (http_req){.method = "GET", .kind = HTTP_GET, .url = url("/cookie"),
                   .headers = cookie, .dynamic = true};
    fetch(&k, &r);
    fetch(&k, &echo);
    assert_string_equal(sbuf_str(&k.body), "GET ");
    http_req plain = get("/cookie");
    fetch(&k, &plain);
    assert_string_equal(sbuf_str(&k.body), "none");
    curl_slist_free_all(cookie);
    call_free(&k);
}

static void test_busy_client_refuses(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req slow = get("/slow?ms=50");
    submit(&k, &slow);
    char err[128] = "";
    assert_int_equal(http_submit(&k.c, &slow, err, sizeof err), -1);
    assert_string_equal(err, "a request is already in flight for this user");
    assert_int_equal(http_in_flight(H), 1);
    RUN_UNTIL(k.calls == 1, 5);
    assert_int_equal(k.r.status, 200);
    assert_int_equal(http_in_flight(H), 0);
    call_free(&k);
}

/* ---- failure texts ------------------------------------------------------------------- */

static void expect_failure(const http_result *r, const char *name, const char *want)
{
    char buf[256] = "";
    assert_true(http_failure_text(r, name, buf, sizeof buf));
    assert_string_equal(buf, want);
}

static void test_http_errors(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req missing = get("/missing"), fail = get("/fail");
    const http_result *r = fetch(&k, &missing);
    assert_int_equal(r->code, CURLE_OK);
    assert_int_equal(r->status, 404);
    assert_int_equal(r->bytes, 9);
    expect_failure(r, "/missing", "HTTPError('404 Client Error: Not Found for url: /missing')");
    r = fetch(&k, &fail);
    assert_int_equal(r->status, 500);
    expect_failure(r, "/fail",
                   "HTTPError('500 Server Error: Internal Server Error for url: /fail')");
    call_free(&k);
}

static void test_connection_refused(void **state)
{
    (void)state;
    /* A port that was just bound and released has nobody listening. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/ok", ntohs(a.sin_port));
    http_req req = {.method = "GET", .kind = HTTP_GET, .url = u};
    struct call k;
    call_init(&k, 1);
    const http_result *r = fetch(&k, &req);
    assert_int_equal(r->code, CURLE_COULDNT_CONNECT);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->os_errno, ECONNREFUSED);
    expect_failure(r, "/ok", "ConnectionRefusedError(111, 'Connection refused')");
    call_free(&k);
}

static void test_read_timeout(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req slow = get("/slow?ms=1000"), ok = get("/ok");
    slow.timeout_ms = 150;
    ev_now_update(loop);
    double t0 = ev_now(loop);
    const http_result *r = fetch(&k, &slow);
    double took = ev_now(loop) - t0;
    assert_int_equal(r->code, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(r->status, 0);
    assert_true(r->connected);
    assert_true(took > 0.14 && took < 0.9);
    expect_failure(r, "/slow", "ReadTimeout('no complete response within 0.15 s')");
    /* The same on a connection that is reused: it was connected all the same. */
    assert_int_equal(fetch(&k, &ok)->status, 200);
    unsigned conns = tgt_conns();
    r = fetch(&k, &slow);
    assert_int_equal(tgt_conns(), conns);
    assert_int_equal(r->code, CURLE_OPERATION_TIMEDOUT);
    expect_failure(r, "/slow", "ReadTimeout('no complete response within 0.15 s')");
    call_free(&k);
}

static void test_connect_timeout(void **state)
{
    (void)state;
    /* A listener that never accepts, its backlog full: the next SYN goes unanswered. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    int filler[4];
    for (int i = 0; i < 4; i++) {
        filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(filler[i], (struct sockaddr *)&a, sizeof a);
    }
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/ok", ntohs(a.sin_port));
    http_req req = {.method = "GET", .kind = HTTP_GET, .url = u, .timeout_ms = 200};
    struct call k;
    call_init(&k, 1);
    const http_result *r = fetch(&k, &req);
    assert_int_equal(r->code, CURLE_OPERATION_TIMEDOUT);
    assert_false(r->connected);
    expect_failure(r, "/ok", "ConnectTimeout('could not connect within 0.2 s')");
    call_free(&k);
    for (int i = 0; i < 4; i++)
        close(filler[i]);
    close(lfd);
}

static void test_remote_disconnected(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req close_req = get("/close");
    const http_result *r = fetch(&k, &close_req);
    assert_int_equal(r->code, CURLE_GOT_NOTHING);
    assert_int_equal(r->status, 0);
    expect_failure(r, "/close",
                   "RemoteDisconnected('Remote end closed connection without response')");
    call_free(&k);
}

static void test_invalid_response(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req garbage = get("/garbage");
    const http_result *r = fetch(&k, &garbage);
    /* Not a status line, so curl takes it for HTTP/0.9, which it refuses. */
    assert_int_equal(r->code, CURLE_UNSUPPORTED_PROTOCOL);
    assert_int_equal(r->status, 0);
    expect_failure(r, "/garbage", "InvalidResponse('malformed status line')");
    /* curl's own message says what was wrong with the headers. */
    http_req nocolon = get("/nocolon");
    r = fetch(&k, &nocolon);
    assert_int_equal(r->code, CURLE_WEIRD_SERVER_REPLY);
    expect_failure(r, "/nocolon", "InvalidResponse('header line without a colon')");
    call_free(&k);
}

static void test_failure_texts_without_network(void **state)
{
    (void)state;
    http_req req = {.method = "GET", .url = "http://x/", .timeout_ms = 1500};
    http_result r = {.code = CURLE_OK, .status = 399, .req = &req};
    char buf[128] = "untouched";
    assert_false(http_failure_text(&r, "/x", buf, sizeof buf));
    r.status = 200;
    assert_false(http_failure_text(&r, "/x", buf, sizeof buf));
    assert_string_equal(buf, "untouched");
    r.status = 400;
    expect_failure(&r, "/x", "HTTPError('400 Client Error: Bad Request for url: /x')");
    r.status = 499;
    expect_failure(&r, "/x", "HTTPError('499 Client Error: Unknown for url: /x')");
    r.status = 503;
    expect_failure(&r, "/x", "HTTPError('503 Server Error: Service Unavailable for url: /x')");
    r = (http_result){.code = CURLE_OPERATION_TIMEDOUT, .req = &req};
    expect_failure(&r, "/x", "ConnectTimeout('could not connect within 1.5 s')");
    r.connected = true;
    expect_failure(&r, "/x", "ReadTimeout('no complete response within 1.5 s')");
    r = (http_result){.code = CURLE_RECV_ERROR, .os_errno = ECONNRESET, .req = &req};
    expect_failure(&r, "/x", "ConnectionResetError(104, 'Connection reset by peer')");
    r = (http_result){.code = CURLE_COULDNT_CONNECT, .req = &req};
    expect_failure(&r, "/x", "CurlError(7, 'Couldn't connect to server')");
    r = (http_result){.code = CURLE_COULDNT_RESOLVE_HOST, .req = &req};
    expect_failure(&r, "/x", "NameResolutionError('Failed to resolve host of /x')");
    r = (http_result){.code = CURLE_TOO_MANY_REDIRECTS, .req = &req};
    expect_failure(&r, "/x", "TooManyRedirects('Exceeded 30 redirects.')");
    r = (http_result){.code = CURLE_PARTIAL_FILE, .req = &req};
    expect_failure(&r, "/x",
                   "IncompleteRead('connection closed before the whole body arrived')");
    r = (http_result){.code = CURLE_WEIRD_SERVER_REPLY, .req = &req};
    expect_failure(&r, "/x", "InvalidResponse('Weird server reply')");
    r.detail = HTTP_DETAIL_NUL_IN_HEADER;
    expect_failure(&r, "/x", "InvalidResponse('NUL byte in a header')");
    r.detail = HTTP_DETAIL_BAD_LENGTH;
    expect_failure(&r, "/x", "InvalidResponse('invalid Content-Length')");
    r = (http_result){.code = CURLE_RECV_ERROR, .req = &req,
                      .detail = HTTP_DETAIL_HEADERS_TOO_LARGE};
    expect_failure(&r, "/x", "InvalidResponse('response headers too large')");
    r.detail = HTTP_DETAIL_BAD_CHUNK;
    expect_failure(&r, "/x", "InvalidResponse('malformed chunked encoding')");
    r = (http_result){.code = CURLE_OUT_OF_MEMORY, .req = &req,
                      .detail = HTTP_DETAIL_LINE_TOO_LONG};
    expect_failure(&r, "/x", "InvalidResponse('response header line too long')");
    r.detail = HTTP_DETAIL_NONE;
    expect_failure(&r, "/x", "CurlError(27, 'Out of memory')");
    r = (http_result){.code = CURLE_SEND_ERROR, .req = &req,
                      .detail = HTTP_DETAIL_CONNECTION_DIED};
    expect_failure(&r, "/x",
                   "RemoteDisconnected('Remote end closed connection without response')");
}

static void test_reason(void **state)
{
    (void)state;
    assert_string_equal(http_reason(200), "OK");
    assert_string_equal(http_reason(302), "Found");
    assert_string_equal(http_reason(404), "Not Found");
    assert_string_equal(http_reason(418), "I'm a Teapot");
    assert_string_equal(http_reason(429), "Too Many Requests");
    assert_string_equal(http_reason(500), "Internal Server Error");
    assert_string_equal(http_reason(503), "Service Unavailable");
    assert_string_equal(http_reason(299), "Unknown");
    assert_string_equal(http_reason(0), "Unknown");
}

/* ---- cancellation -------------------------------------------------------------------- */

static void cancel_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l, (void)revents;
    http_cancel(w->data);
}

static void test_cancel(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req slow = get("/slow?ms=300"), ok = get("/ok");
    unsigned reqs = tgt_requests();

    /* Cancelled before the loop ever ran. */
    submit(&k, &slow);
    assert_int_equal(http_in_flight(H), 1);
    http_cancel(&k.c);
    assert_int_equal(http_in_flight(H), 0);
    http_cancel(&k.c); /* a no-op now */
    assert_int_equal(http_in_flight(H), 0);

    /* Cancelled while the target holds the answer back. */
    submit(&k, &slow);
    ev_timer t;
    ev_timer_init(&t, cancel_cb, 0.1, 0.);
    t.data = &k.c;
    ev_timer_start(loop, &t);
    RUN_UNTIL(http_in_flight(H) == 0, 2);
    assert_int_equal(tgt_requests(), reqs + 1);
    run_for(0.4); /* past the time the answer arrives */
    assert_int_equal(k.calls, 0);

    /* The client works on. */
    assert_int_equal(fetch(&k, &ok)->status, 200);
    assert_int_equal(k.calls, 1);
    call_free(&k);
}

/* ---- connections --------------------------------------------------------------------- */

static unsigned body_port(const struct call *k)
{
    return (unsigned)strtoul(sbuf_str(&k->body), NULL, 10);
}

static void test_one_connection_per_client(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 7);
    http_req ok = get("/ok");
    unsigned conns = tgt_conns(), reqs = tgt_requests();
    for (int i = 0; i < 100; i++)
        assert_int_equal(fetch(&k, &ok)->status, 200);
    assert_int_equal(tgt_requests(), reqs + 100);
    assert_int_equal(tgt_conns(), conns + 1);
    assert_int_equal(tgt_ports_since(conns), 1);
    call_free(&k);
}

static void test_clients_keep_their_own_connection(void **state)
{
    (void)state;
    struct call a, b;
    call_init(&a, 1);
    call_init(&b, 2);
    http_req port = get("/port");
    unsigned conns = tgt_conns();
    unsigned pa = 0, pb = 0;
    for (int round = 0; round < 10; round++) {
        /* Both in flight at once, then one after the other in both orders. */
        int ca = a.calls, cb = b.calls;
        submit(&a, &port);
        submit(&b, &port);
        RUN_UNTIL(a.calls == ca + 1 && b.calls == cb + 1, 5);
        if (round == 0) {
            pa = body_port(&a);
            pb = body_port(&b);
            assert_true(pa != 0 && pb != 0 && pa != pb);
        }
        assert_int_equal(body_port(&a), pa);
        assert_int_equal(body_port(&b), pb);
        fetch(&a, &port);
        assert_int_equal(body_port(&a), pa);
        fetch(&b, &port);
        assert_int_equal(body_port(&b), pb);
        fetch(&b, &port);
        assert_int_equal(body_port(&b), pb);
        fetch(&a, &port);
        assert_int_equal(body_port(&a), pa);
    }
    assert_int_equal(tgt_conns(), conns + 2);
    assert_int_equal(tgt_ports_since(conns), 2);
    call_free(&a);
    call_free(&b);
}

static void test_connection_per_request(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 3);
    http_req port = get("/port");
    port.conn = HTTP_CONN_REQUEST;
    unsigned conns = tgt_conns();
    unsigned seen[5];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fetch(&k, &port)->status, 200);
        seen[i] = body_port(&k);
        for (int j = 0; j < i; j++)
            assert_true(seen[j] != seen[i]);
    }
    assert_int_equal(tgt_conns(), conns + 5);
    assert_int_equal(tgt_ports_since(conns), 5);
    call_free(&k);
}

static void test_shared_connections(void **state)
{
    (void)state;
    struct call a, b;
    call_init(&a, 1);
    call_init(&b, 2);
    http_req port = get("/port");
    port.conn = HTTP_CONN_SHARED;
    unsigned conns = tgt_conns();
    fetch(&a, &port);
    unsigned pa = body_port(&a);
    fetch(&b, &port);
    assert_int_equal(body_port(&b), pa);
    fetch(&a, &port);
    assert_int_equal(body_port(&a), pa);
    assert_int_equal(tgt_conns(), conns + 1);

    /* The same clients back on their own connections. */
    http_req own = get("/port");
    fetch(&a, &own);
    fetch(&b, &own);
    assert_true(body_port(&a) != body_port(&b));
    assert_int_equal(tgt_conns(), conns + 3);
    assert_int_equal(tgt_ports_since(conns), 3);
    call_free(&a);
    call_free(&b);
}

static bool calls_at(const struct call *k, int n, int calls)
{
    for (int i = 0; i < n; i++)
        if (k[i].calls != calls)
            return false;
    return true;
}

/* 150 clients span three shards (multi handles of 64): every client keeps its own
 * connection across rounds, in every shard. */
static void test_pool_keeps_idle_connections(void **state)
{
    (void)state;
    enum { N = 150 };
    static struct call k[N];
    for (int i = 0; i < N; i++)
        call_init(&k[i], (unsigned)i + 1);
    http_req ok = get("/ok");
    unsigned conns = tgt_conns();
    for (int round = 1; round <= 2; round++) {
        for (int i = 0; i < N; i++)
            submit(&k[i], &ok);
        RUN_UNTIL(calls_at(k, N, round), 5);
        for (int i = 0; i < N; i++)
            assert_int_equal(k[i].r.status, 200);
        assert_int_equal(tgt_ports_since(conns), N);
    }
    assert_int_equal(tgt_conns(), conns + N);
    for (int i = 0; i < N; i++)
        call_free(&k[i]);
}

/* ---- timing breakdown ---------------------------------------------------------------- */

static uint64_t phase_sum(const uint64_t *p)
{
    uint64_t sum = 0;
    for (int i = 0; i < HTTP_NPHASES; i++)
        sum += p[i];
    return sum;
}

/* Phases from libcurl's cumulative times: {namelookup, connect, appconnect, pretransfer,
 * starttransfer, total} -> {dns, connect, tls, ttfb, transfer}. */
static void test_phases_arithmetic(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        http_times t;
        uint64_t want[HTTP_NPHASES];
    } cases[] = {
        {"new http connection", {50, 150, 0, 160, 5160, 5200}, {50, 100, 0, 5010, 40}},
        {"new https connection", {50, 150, 2150, 2160, 7150, 7200}, {50, 100, 2000, 5000, 50}},
        {"reused connection: no connect, no TLS", {5, 0, 0, 20, 5020, 5060},
         {5, 0, 0, 5015, 40}},
        {"connection refused: the rest is connect", {50, 0, 0, 0, 0, 300}, {50, 250, 0, 0, 0}},
        {"name not resolved: all dns", {0, 0, 0, 0, 0, 700}, {700, 0, 0, 0, 0}},
        {"TLS handshake failed", {50, 150, 0, 0, 0, 900}, {50, 100, 750, 0, 0}},
        {"read timeout: the rest is ttfb", {50, 150, 0, 160, 0, 150000},
         {50, 100, 0, 149850, 0}},
        {"body cut short: the rest is transfer", {50, 150, 0, 160, 5160, 9000},
         {50, 100, 0, 5010, 3840}},
        /* Redirects: curl adds the hops' times up, and a sum can pass a later point. */
        {"redirect http -> https", {100, 300, 2250, 2260, 9000, 9500},
         {100, 200, 1950, 6750, 500}},
        {"out of order: clamped, still adds up", {400, 300, 0, 350, 200, 1000},
         {400, 0, 0, 0, 600}},
        {"nothing at all", {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}},
        {"a point past the total", {50, 150, 0, 160, 9999, 5000}, {50, 100, 0, 4850, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t got[HTTP_NPHASES];
        http_phases(&cases[i].t, got);
        for (int p = 0; p < HTTP_NPHASES; p++)
            if (got[p] != cases[i].want[p])
                fail_msg("%s: phase %d = %llu, want %llu", cases[i].what, p,
                         (unsigned long long)got[p], (unsigned long long)cases[i].want[p]);
        assert_int_equal(phase_sum(got), (uint64_t)cases[i].t.total);
    }
}

/* Real transfers: the phases add up to rt_us; a new connection spends time connecting,
 * a reused one none, and a slow answer is time to first byte. */
static void test_phases_of_real_requests(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req ok = get("/ok"), slow = get("/slow?ms=60");
    const http_result *r = fetch(&k, &ok);
    assert_int_equal(r->status, 200);
    assert_int_equal(phase_sum(r->phase_us), (uint64_t)r->rt_us);
    assert_true(r->phase_us[HTTP_CONNECT] > 0);
    assert_int_equal(r->phase_us[HTTP_TLS], 0);
    r = fetch(&k, &slow);
    assert_int_equal(r->status, 200);
    assert_int_equal(phase_sum(r->phase_us), (uint64_t)r->rt_us);
    assert_int_equal(r->phase_us[HTTP_CONNECT], 0);
    if (r->phase_us[HTTP_TTFB] < 55000)
        fail_msg("ttfb %llu us for a 60 ms answer", (unsigned long long)r->phase_us[HTTP_TTFB]);
    /* A read timeout leaves the time waited in ttfb. */
    http_req slower = get("/slow?ms=1000");
    slower.timeout_ms = 100;
    r = fetch(&k, &slower);
    assert_int_equal(r->code, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(phase_sum(r->phase_us), (uint64_t)r->rt_us);
    if (r->phase_us[HTTP_TTFB] < 90000 || r->phase_us[HTTP_TRANSFER] != 0)
        fail_msg("timed out: ttfb %llu us, transfer %llu us",
                 (unsigned long long)r->phase_us[HTTP_TTFB],
                 (unsigned long long)r->phase_us[HTTP_TRANSFER]);
    call_free(&k);
}

/* ---- cookies ------------------------------------------------------------------------- */

static void test_cookies(void **state)
{
    (void)state;
    struct call a, b;
    call_init(&a, 1);
    call_init(&b, 2);
    http_req set = get("/setcookie?v=alpha"), show = get("/cookie");
    fetch(&a, &show);
    assert_string_equal(sbuf_str(&a.body), "none");
    fetch(&a, &set);
    fetch(&a, &show);
    assert_string_equal(sbuf_str(&a.body), "sid=alpha");
    fetch(&b, &show);
    assert_string_equal(sbuf_str(&b.body), "none");
    fetch(&a, &show);
    assert_string_equal(sbuf_str(&a.body), "sid=alpha");
    http_req port = get("/port");
    fetch(&a, &port);
    unsigned before = body_port(&a);
    /* A recycled client is a new user: no cookies, not the old user's connection. */
    http_client_recycle(&a.c, 3);
    fetch(&a, &show);
    assert_string_equal(sbuf_str(&a.body), "none");
    fetch(&a, &port);
    assert_true(body_port(&a) != before);
    call_free(&a);
    call_free(&b);
}

/* ---- pooled easy handles ------------------------------------------------------------ */

/* A client that released its handle between tasks: another client takes it over, and
 * cookies and connections stay with each client all the same. */
static void test_handles_pass_between_clients(void **state)
{
    (void)state;
    struct call a, b;
    call_init(&a, 1);
    call_init(&b, 2);
    http_req set = get("/setcookie?v=alpha"), show = get("/cookie"), port = get("/port");
    fetch(&a, &set);
    fetch(&a, &port);
    unsigned pa = body_port(&a);
    struct http_handle *ha = a.c.hd;
    http_client_release(&a.c);
    /* b has no handle: it takes a's (the only idle one) rather than making one. */
    fetch(&b, &show);
    assert_ptr_equal(b.c.hd, ha);
    assert_null(a.c.hd);
    assert_string_equal(sbuf_str(&b.body), "none");
    fetch(&b, &port);
    assert_true(body_port(&b) != pa);
    /* a gets a handle again (a new one: b holds the other) with its own jar and
     * connection. */
    fetch(&a, &show);
    assert_string_equal(sbuf_str(&a.body), "sid=alpha");
    assert_true(a.c.hd != ha);
    fetch(&a, &port);
    assert_int_equal(body_port(&a), pa);
    /* A released handle its client takes back is the same one. */
    http_client_release(&a.c);
    struct http_handle *ha2 = a.c.hd;
    fetch(&a, &port);
    assert_ptr_equal(a.c.hd, ha2);
    call_free(&a);
    call_free(&b);
}

/* A request rewritten between two users' lives (a new test resolves its URL again) is
 * applied afresh by a handle that made it before, even at the same address. */
static void test_new_user_reapplies_requests(void **state)
{
    (void)state;
    struct call a, b;
    call_init(&a, 1);
    http_req req = get("/ok");
    assert_int_equal(fetch(&a, &req)->status, 200);
    call_free(&a);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/fail", tgt.port);
    req.url = u;
    call_init(&b, 2);
    assert_int_equal(fetch(&b, &req)->status, 500);
    call_free(&b);
}

/* A URL parsed once (http_req_parse) makes the same request as the string. */
static void test_parsed_url(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req req = get("/echo?x=1"), plain = get("/port");
    http_req_parse(&req);
    assert_non_null(req.uh);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fetch(&k, &req)->status, 200);
        assert_string_equal(sbuf_str(&k.body), "GET ");
        assert_int_equal(fetch(&k, &plain)->status, 200);
    }
    http_req_unparse(&req);
    assert_null(req.uh);
    call_free(&k);
}

/* The server drops a kept-alive connection while the client is idle (its watcher is
 * parked): the next request opens a new connection, whether the loop saw the close
 * before or not, and a socket that takes over the descriptor number is watched. */
static void test_server_closes_idle_connection(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req bye = get("/bye"), ok = get("/ok");
    unsigned conns = tgt_conns();
    for (int i = 0; i < 10; i++) {
        assert_int_equal(fetch(&k, &bye)->status, 200);
        if (i % 2)
            run_for(0.05);
        const http_result *r = fetch(&k, &ok);
        assert_int_equal(r->code, CURLE_OK);
        assert_int_equal(r->status, 200);
    }
    /* Each /bye drops the connection it came on: one for the first, one per /ok after. */
    assert_int_equal(tgt_conns(), conns + 11);
    call_free(&k);
}

/* A server that drops each reused connection as the request arrives: curl retries on a
 * new connection every time, not only the first five times a pooled handle sees it. */
static void test_dropped_keepalive_retried(void **state)
{
    (void)state;
    struct call k;
    call_init(&k, 1);
    http_req drop = get("/drop");
    unsigned conns = tgt_conns();
    for (int i = 0; i < 20; i++) {
        const http_result *r = fetch(&k, &drop);
        assert_int_equal(r->code, CURLE_OK);
        assert_int_equal(r->status, 200);
    }
    /* The first request's connection, then one per retry. */
    assert_int_equal(tgt_conns(), conns + 20);
    call_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_on_one_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_rewritten_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_client_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_disconnected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_response, setup, teardown),
        cmocka_unit_test(test_failure_texts_without_network),
        cmocka_unit_test(test_reason),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_connection_per_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clients_keep_their_own_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_per_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_keeps_idle_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handles_pass_between_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_user_reapplies_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parsed_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_closes_idle_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_keepalive_retried, setup, teardown),
        cmocka_unit_test(test_phases_arithmetic),
        cmocka_unit_test_setup_teardown(test_phases_of_real_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, tgt_start, tgt_stop);
}
