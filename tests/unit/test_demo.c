/* The demo target: the real server in a forked child, driven over HTTP with libcurl;
 * plus its static helpers (JSON reader, address parsing), reached by including the
 * source. A child exits through exit(), so under ASan a leak fails its exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "demo.c"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* ---- a demo target in a child process -------------------------------------------------- */

struct child {
    pid_t pid;
    int err_fd;        /* the child's stderr */
    sbuf log;          /* what it wrote there so far */
    char base[128];    /* "http://127.0.0.1:PORT" */
};

/* Reads the child's stderr until `want` was seen or ms passed (or EOF). */
static bool read_until(struct child *c, const char *want, int ms)
{
    struct pollfd p = {.fd = c->err_fd, .events = POLLIN};
    char buf[4096];

    while (!want || !strstr(sbuf_str(&c->log), want)) {
        if (poll(&p, 1, ms) != 1)
            return false;
        ssize_t n = read(c->err_fd, buf, sizeof buf);
        if (n <= 0)
            return want == NULL;
        sbuf_add(&c->log, buf, (size_t)n);
    }
    return true;
}

/* The one child a test runs at a time; static, so that the teardown can still reap it
 * after an assertion failed in the middle of a test. */
static struct child slot;
static struct child *running;

static void child_spawn(struct child *c, int (*run)(const void *), const void *arg)
{
    int p[2];
    pid_t parent = getpid();

    memset(c, 0, sizeof *c);
    assert_int_equal(pipe(p), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        /* Die with the test, whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(p[0]);
        dup2(p[1], 2);
        close(p[1]);
        exit(run(arg));
    }
    close(p[1]);
    c->err_fd = p[0];
    running = c;
}

/* Waits for the "listening" log line and takes the address from it. */
static void child_listening(struct child *c)
{
    static const char mark[] = "Demo target listening on ";

    assert_true(read_until(c, "\n", 5000));
    assert_true(read_until(c, mark, 5000));
    const char *url = strstr(sbuf_str(&c->log), mark) + sizeof mark - 1;
    size_t n = strcspn(url, "\n");
    assert_true(n < sizeof c->base);
    memcpy(c->base, url, n);
    c->base[n] = '\0';
}

/* Sends sig (0: none), waits for the exit and returns the exit status. */
static int child_finish(struct child *c, int sig)
{
    int status;

    if (sig)
        kill(c->pid, sig);
    running = NULL;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    read_until(c, NULL, 5000);
    close(c->err_fd);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int reap(void **state)
{
    (void)state;
    if (running) {
        kill(running->pid, SIGKILL);
        waitpid(running->pid, NULL, 0);
        close(running->err_fd);
        sbuf_free(&running->log);
        running = NULL;
    }
    return 0;
}

static int run_main(const void *arg)
{
    return demo_main(arg);
}

/* A demo on 127.0.0.1 with a given session bound and error rates (the real ones are
 * random; tests want each outcome on demand). */
struct variant {
    size_t max_sessions;
    double errors;     /* both error rates */
};

static int run_variant(const void *arg)
{
    const struct variant *v = arg;
    struct demo d = {0};

    demo_init(&d, v->max_sessions);
    d.product_errors = d.checkout_errors = v->errors;
    int rc = demo_serve(&d, "127.0.0.1:0");
    demo_free(&d);
    return rc;
}

static void start_variant(struct child *c, size_t max_sessions, double errors)
{
    static struct variant v;
    v = (struct variant){max_sessions, errors};
    child_spawn(c, run_variant, &v);
    child_listening(c);
}

static void stop(struct child *c)
{
    assert_int_equal(child_finish(c, SIGTERM), 0);
    sbuf_free(&c->log);
}

/* ---- an HTTP client (one keep-alive connection) -------------------------------------- */

struct client {
    CURL *curl;
    const struct child *target;
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

static void client_init(struct client *c, const struct child *target)
{
    memset(c, 0, sizeof *c);
    c->target = target;
    c->curl = curl_easy_init();
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->body);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &c->headers);
}

static void client_free(struct client *c)
{
    curl_easy_cleanup(c->curl);
    sbuf_free(&c->body);
    sbuf_free(&c->headers);
}

/* One request; body NULL for GET. Returns the response body. */
static const char *call(struct client *c, const char *method, const char *path,
                        const char *body, const char *cookie)
{
    char url[512];

    snprintf(url, sizeof url, "%s%s", c->target->base, path);
    sbuf_reset(&c->body);
    sbuf_reset(&c->headers);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body ? body : ""));
    }
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_COOKIE, cookie);
    assert_int_equal(curl_easy_perform(c->curl), CURLE_OK);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME, &c->secs);
    return sbuf_str(&c->body);
}

#define expect(c, want_status, want_body, ...)                      \
    do {                                                           \
        const char *got_ = call(c, __VA_ARGS__);                   \
        assert_string_equal(got_, want_body);                      \
        assert_int_equal((c)->status, want_status);                \
    } while (0)

/* Logs in and returns "session=TOKEN" (static buffer), checking the cookie's form. */
static const char *login(struct client *c, const char *body)
{
    static char cookie[64];
    const char *h;

    call(c, "POST", "/api/login", body, NULL);
    assert_int_equal(c->status, 200);
    h = strstr(sbuf_str(&c->headers), "Set-Cookie: session=");
    assert_non_null(h);
    h += strlen("Set-Cookie: ");
    assert_int_equal(strspn(h + 8, "0123456789abcdef"), 32);
    assert_memory_equal(h + 40, "; Path=/; HttpOnly\r\n", 20);
    snprintf(cookie, sizeof cookie, "%.40s", h);
    return cookie;
}

/* ---- the program: start, stop, errors -------------------------------------------------- */

static void test_main_serves_until_sigterm(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;

    child_spawn(t, run_main, "127.0.0.1:0");
    child_listening(t);
    assert_memory_equal(t->base, "http://127.0.0.1:", 17);
    client_init(&c, t);
    expect(&c, 200, "{\"status\":\"ok\"}", "GET", "/health", NULL, NULL);
    assert_non_null(strstr(sbuf_str(&c.headers), "Content-Type: application/json\r\n"));
    call(&c, "GET", "/", NULL, NULL);
    assert_int_equal(c.status, 200);
    assert_non_null(strstr(sbuf_str(&c.body), "<h1>cicada demo shop</h1>"));
    assert_non_null(strstr(sbuf_str(&c.headers), "Content-Type: text/html; charset=utf-8\r\n"));
    client_free(&c);
    assert_int_equal(child_finish(t, SIGTERM), 0);
    assert_non_null(strstr(sbuf_str(&t->log), "/INFO/cicada.demo: Demo target stopping after 2 requests\n"));
    sbuf_free(&t->log);
}

static void test_main_sigint_and_ipv6(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;

    child_spawn(t, run_main, "[::1]:0");
    child_listening(t);
    assert_memory_equal(t->base, "http://[::1]:", 13);
    client_init(&c, t);
    expect(&c, 200, "{\"status\":\"ok\"}", "GET", "/health", NULL, NULL);
    client_free(&c);
    assert_int_equal(child_finish(t, SIGINT), 0);
    sbuf_free(&t->log);
}

static void check_start_error(const char *arg, const char *want)
{
    struct child *t = &slot;

    child_spawn(t, run_main, arg);
    assert_int_equal(child_finish(t, 0), 1);
    assert_string_equal(sbuf_str(&t->log), want);
    sbuf_free(&t->log);
}

static void test_main_start_errors(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char arg[64], want[256];

    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    snprintf(arg, sizeof arg, "127.0.0.1:%d", ntohs(a.sin_port));
    snprintf(want, sizeof want,
             "cicada: error: --demo-target %s: bind: Address already in use\n", arg);
    check_start_error(arg, want);
    close(fd);

    check_start_error("8o8o", "cicada: error: --demo-target 8o8o: invalid port '8o8o' "
                              "(expected 0-65535)\n");
    check_start_error("nosuch.invalid:80", "cicada: error: --demo-target nosuch.invalid:80: "
                                           "resolve: Name or service not known\n");
}

struct hostport_case {
    const char *arg, *host;
    int port;
    const char *err;   /* NULL: valid */
};

static void test_parse_hostport(void **state)
{
    (void)state;
    static const struct hostport_case cases[] = {
        {"8080", "127.0.0.1", 8080, NULL},
        {"0", "127.0.0.1", 0, NULL},
        {"10.1.2.3:80", "10.1.2.3", 80, NULL},
        {"localhost:65535", "localhost", 65535, NULL},
        {"[::1]:8080", "::1", 8080, NULL},
        {"*:9000", "", 9000, NULL},
        {"0.0.0.0:9000", "0.0.0.0", 9000, NULL},
        {"", NULL, 0, "invalid port '' (expected 0-65535)"},
        {"65536", NULL, 0, "invalid port '65536' (expected 0-65535)"},
        {"-1", NULL, 0, "invalid port '-1' (expected 0-65535)"},
        {"h:+80", NULL, 0, "invalid port '+80' (expected 0-65535)"},
        {"h: 80", NULL, 0, "invalid port ' 80' (expected 0-65535)"},
        {"h:", NULL, 0, "invalid port '' (expected 0-65535)"},
        {"99999999999999999999", NULL, 0,
         "invalid port '99999999999999999999' (expected 0-65535)"},
        {":80", NULL, 0, "expected PORT or HOST:PORT"},
        {"::1:80", NULL, 0, "an IPv6 address needs brackets, as in [::1]:8080"},
        {"[::1]", NULL, 0, "expected [IPv6]:PORT"},
        {"[::1]80", NULL, 0, "expected [IPv6]:PORT"},
        {"[::1:80", NULL, 0, "expected [IPv6]:PORT"},
        {"[]:80", NULL, 0, "expected [IPv6]:PORT"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char host[256], err[256] = "";
        int port = -1;
        int rc = parse_hostport(cases[i].arg, host, sizeof host, &port, err, sizeof err);
        if (cases[i].err) {
            assert_int_equal(rc, -1);
            assert_string_equal(err, cases[i].err);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(host, cases[i].host);
            assert_int_equal(port, cases[i].port);
        }
    }
    char longhost[400], host[256], err[256];
    int port;
    memset(longhost, 'a', sizeof longhost);
    strcpy(longhost + 300, ":80");
    assert_int_equal(parse_hostport(longhost, host, sizeof host, &port, err, sizeof err), -1);
    assert_string_equal(err, "expected PORT or HOST:PORT");
    longhost[0] = '[';
    strcpy(longhost + 300, "]:80");
    assert_int_equal(parse_hostport(longhost, host, sizeof host, &port, err, sizeof err), -1);
    assert_string_equal(err, "expected [IPv6]:PORT");
}

/* ---- the shop -------------------------------------------------------------------------- */

static void test_login_cart_checkout(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;

    start_variant(t, 100, 0);
    client_init(&c, t);
    expect(&c, 401, "{\"error\":\"login required\"}", "GET", "/api/cart", NULL, NULL);
    expect(&c, 401, "{\"error\":\"login required\"}", "POST", "/api/cart",
           "{\"product_id\":1}", NULL);
    expect(&c, 401, "{\"error\":\"login required\"}", "POST", "/api/checkout", NULL, NULL);
    expect(&c, 401, "{\"error\":\"login required\"}", "GET", "/api/cart", NULL,
           "session=0123456789abcdef0123456789abcdef");

    const char *cookie = login(&c, "{\"username\":\"ann\",\"password\":\"secret\"}");
    char session[64];
    snprintf(session, sizeof session, "%s", cookie);
    assert_string_equal(sbuf_str(&c.body), "{\"status\":\"ok\",\"username\":\"ann\"}");
    expect(&c, 200, "{\"items\":[],\"total\":0.00}", "GET", "/api/cart", NULL, session);
    expect(&c, 200,
           "{\"items\":[{\"product_id\":3,\"name\":\"Merino Wool Socks\",\"price\":19.50,"
           "\"quantity\":2}],\"total\":39.00}",
           "POST", "/api/cart", "{\"product_id\":3,\"quantity\":2}", session);
    expect(&c, 200,
           "{\"items\":[{\"product_id\":3,\"name\":\"Merino Wool Socks\",\"price\":19.50,"
           "\"quantity\":2},{\"product_id\":5,\"name\":\"Ultralight Tent\",\"price\":349.00,"
           "\"quantity\":1}],\"total\":388.00}",
           "POST", "/api/cart", "product_id=5", session);
    expect(&c, 200, "{\"order_id\":1,\"items\":3,\"total\":388.00,\"status\":\"paid\"}",
           "POST", "/api/checkout", NULL, session);
    assert_true(c.secs >= 0.020);
    expect(&c, 200, "{\"items\":[],\"total\":0.00}", "GET", "/api/cart", NULL, session);
    expect(&c, 200, "{\"order_id\":2,\"items\":0,\"total\":0.00,\"status\":\"paid\"}",
           "POST", "/api/checkout", NULL, session);

    /* A second user has a cart of their own. */
    const char *other = login(&c, "username=bob&password=secret");
    assert_string_equal(sbuf_str(&c.body), "{\"status\":\"ok\",\"username\":\"bob\"}");
    assert_string_not_equal(other, session);
    call(&c, "POST", "/api/cart", "{\"product_id\":1}", other);
    assert_int_equal(c.status, 200);
    expect(&c, 200, "{\"items\":[],\"total\":0.00}", "GET", "/api/cart", NULL, session);

    expect(&c, 200, "{\"status\":\"logged out\"}", "POST", "/api/logout", NULL, session);
    assert_non_null(strstr(sbuf_str(&c.headers),
                           "Set-Cookie: session=; Path=/; Max-Age=0; HttpOnly\r\n"));
    expect(&c, 401, "{\"error\":\"login required\"}", "GET", "/api/cart", NULL, session);
    expect(&c, 200, "{\"status\":\"logged out\"}", "POST", "/api/logout", NULL, NULL);
    client_free(&c);
    stop(t);
}

static void test_login_failures(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;
    static const char *const bad[] = {
        "{\"username\":\"ann\",\"password\":\"secrets\"}",
        "{\"username\":\"ann\",\"password\":\"Secret\"}",
        "{\"username\":\"ann\"}",
        "{\"username\":\"ann\",\"password\":\"secret\\u0000\"}",
        "{\"username\":\"ann\",\"password\":[\"secret\"]}",
        "{}",
        "username=ann&password=wrong",
        "",
    };
    static const char *const malformed[] = {
        "{\"username\":\"ann\",\"password\":\"secret\"",
        "{\"username\":\"ann\" \"password\":\"secret\"}",
        "{\"password\":\"secret\"} x",
        "{'password':'secret'}",
        "{\"password\":secret}",
    };

    start_variant(t, 100, 0);
    client_init(&c, t);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(&c, 401, "{\"error\":\"invalid username or password\"}", "POST", "/api/login",
               bad[i], NULL);
    assert_null(strstr(sbuf_str(&c.headers), "Set-Cookie"));
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        expect(&c, 400, "{\"error\":\"invalid JSON\"}", "POST", "/api/login", malformed[i],
               NULL);

    login(&c, "{\"password\":\"secret\",\"username\":\"a\\\"b\\u00e9\\n\"}");
    assert_string_equal(sbuf_str(&c.body),
                        "{\"status\":\"ok\",\"username\":\"a\\\"b\xc3\xa9\\u000a\"}");
    login(&c, "  {\"password\":\"secret\"}  ");
    assert_string_equal(sbuf_str(&c.body), "{\"status\":\"ok\",\"username\":\"\"}");
    assert_true(c.secs >= 0.005);
    client_free(&c);
    stop(t);
}

static void test_cart_validation(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;
    static const char int_error[] = "{\"error\":\"product_id must be an integer\"}";
    static const char qty_error[] = "{\"error\":\"quantity must be 1..99\"}";

    start_variant(t, 100, 0);
    client_init(&c, t);
    char session[64];
    snprintf(session, sizeof session, "%s", login(&c, "username=a&password=secret"));
    expect(&c, 400, int_error, "POST", "/api/cart", "{}", session);
    expect(&c, 400, int_error, "POST", "/api/cart", "{\"product_id\":\"abc\"}", session);
    expect(&c, 400, int_error, "POST", "/api/cart", "{\"product_id\":1.5}", session);
    expect(&c, 400, int_error, "POST", "/api/cart", "{\"product_id\":null}", session);
    expect(&c, 400, int_error, "POST", "/api/cart", "product_id=", session);
    expect(&c, 400, qty_error, "POST", "/api/cart", "{\"product_id\":1,\"quantity\":0}",
           session);
    expect(&c, 400, qty_error, "POST", "/api/cart", "{\"product_id\":1,\"quantity\":100}",
           session);
    expect(&c, 400, qty_error, "POST", "/api/cart", "product_id=1&quantity=x", session);
    expect(&c, 400, "{\"error\":\"invalid JSON\"}", "POST", "/api/cart", "{\"product_id\":",
           session);
    expect(&c, 404, "{\"error\":\"product not found\"}", "POST", "/api/cart",
           "{\"product_id\":25}", session);
    expect(&c, 400, int_error, "POST", "/api/cart", "{\"product_id\":99999999999999999999999}",
           session);
    for (int i = 0; i < 10; i++) {
        call(&c, "POST", "/api/cart", "{\"product_id\":\"24\",\"quantity\":99}", session);
        assert_int_equal(c.status, 200);
    }
    expect(&c, 409, "{\"error\":\"cart limit reached\"}", "POST", "/api/cart",
           "{\"product_id\":24,\"quantity\":10}", session);
    expect(&c, 200,
           "{\"items\":[{\"product_id\":24,\"name\":\"Trail Gaiters\",\"price\":39.00,"
           "\"quantity\":999}],\"total\":38961.00}",
           "POST", "/api/cart", "{\"product_id\":24,\"quantity\":9}", session);
    client_free(&c);
    stop(t);
}

static void test_products_and_search(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;
    static const char water[] =
        "{\"query\":\"water\",\"results\":[{\"id\":2,\"name\":\"Waterproof Hiking Jacket\","
        "\"price\":189.00,\"stock\":12},{\"id\":4,\"name\":\"Insulated Water Bottle\","
        "\"price\":32.00,\"stock\":80},{\"id\":20,\"name\":\"Water Filter\",\"price\":49.00,"
        "\"stock\":29}],\"count\":3}";

    start_variant(t, 100, 0);
    client_init(&c, t);
    call(&c, "GET", "/api/products", NULL, NULL);
    assert_int_equal(c.status, 200);
    assert_true(c.secs >= 0.002);
    assert_memory_equal(sbuf_str(&c.body),
                        "[{\"id\":1,\"name\":\"Trail Running Shoes\",\"price\":129.00,"
                        "\"stock\":34},{\"id\":2,", 72);
    int n = 0;
    for (const char *p = sbuf_str(&c.body); (p = strstr(p, "{\"id\":")); p++)
        n++;
    assert_int_equal(n, 24);
    static const char last[] = ",{\"id\":24,\"name\":\"Trail Gaiters\",\"price\":39.00,\"stock\":19}]";
    assert_string_equal(sbuf_str(&c.body) + c.body.len - (sizeof last - 1), last);

    expect(&c, 200, "{\"id\":7,\"name\":\"Headlamp 400 lm\",\"price\":44.90,\"stock\":56}",
           "GET", "/api/products/7", NULL, NULL);
    static const char *const unknown[] = {"0", "25", "abc", "", "-1", "1x"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/products/%s", unknown[i]);
        expect(&c, 404, "{\"error\":\"product not found\"}", "GET", path, NULL, NULL);
    }
    expect(&c, 404, "{\"error\":\"not found\"}", "GET", "/api/products/1/reviews", NULL, NULL);

    expect(&c, 200, water, "GET", "/api/search?q=water", NULL, NULL);
    assert_true(c.secs >= 0.010);
    call(&c, "GET", "/api/search?q=WATER", NULL, NULL);
    assert_non_null(strstr(sbuf_str(&c.body), "\"count\":3}"));
    call(&c, "GET", "/api/search", NULL, NULL);
    assert_memory_equal(sbuf_str(&c.body), "{\"query\":\"\",\"results\":[{\"id\":1,", 31);
    assert_non_null(strstr(sbuf_str(&c.body), "\"count\":24}"));
    expect(&c, 200, "{\"query\":\"\\\"\\\\\",\"results\":[],\"count\":0}", "GET",
           "/api/search?q=%22%5C", NULL, NULL);
    client_free(&c);
    stop(t);
}

static void test_injected_errors(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;

    start_variant(t, 100, 1.0);
    client_init(&c, t);
    expect(&c, 503, "{\"error\":\"service unavailable\"}", "GET", "/api/products/1", NULL, NULL);
    char session[64];
    snprintf(session, sizeof session, "%s", login(&c, "username=a&password=secret"));
    call(&c, "POST", "/api/cart", "product_id=2", session);
    assert_int_equal(c.status, 200);
    expect(&c, 500, "{\"error\":\"payment gateway timeout\"}", "POST", "/api/checkout", NULL,
           session);
    /* A failed payment keeps the cart. */
    call(&c, "GET", "/api/cart", NULL, session);
    assert_non_null(strstr(sbuf_str(&c.body), "\"total\":189.00}"));
    client_free(&c);
    stop(t);
}

static void test_unknown_routes(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;

    start_variant(t, 100, 0);
    client_init(&c, t);
    expect(&c, 404, "{\"error\":\"not found\"}", "GET", "/nope", NULL, NULL);
    expect(&c, 404, "{\"error\":\"not found\"}", "GET", "/api/login", NULL, NULL);
    expect(&c, 404, "{\"error\":\"not found\"}", "DELETE", "/api/cart", NULL, NULL);
    expect(&c, 404, "{\"error\":\"not found\"}", "POST", "/health", NULL, NULL);
    client_free(&c);
    stop(t);
}

static void test_stats_count_exactly(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c, c2;

    start_variant(t, 100, 0);
    client_init(&c, t);
    expect(&c, 200, "{\"status\":\"ok\"}", "POST", "/__demo/reset", NULL, NULL);
    expect(&c, 200, "{\"requests\":0,\"by_route\":{},\"connections\":0}", "GET",
           "/__demo/stats", NULL, NULL);
    call(&c, "GET", "/health", NULL, NULL);
    call(&c, "GET", "/health", NULL, NULL);
    call(&c, "GET", "/api/products", NULL, NULL);
    call(&c, "GET", "/api/products/3", NULL, NULL);
    call(&c, "GET", "/api/cart", NULL, NULL);
    call(&c, "GET", "/nope", NULL, NULL);
    call(&c, "POST", "/api/login", "password=secret", NULL);
    expect(&c, 200,
           "{\"requests\":7,\"by_route\":{\"GET /health\":2,\"GET /api/products\":1,"
           "\"GET /api/products/{id}\":1,\"POST /api/login\":1,\"GET /api/cart\":1,"
           "\"other\":1},\"connections\":0}",
           "GET", "/__demo/stats", NULL, NULL);

    client_init(&c2, t);   /* a second connection */
    call(&c2, "GET", "/", NULL, NULL);
    expect(&c, 200,
           "{\"requests\":8,\"by_route\":{\"GET /\":1,\"GET /health\":2,\"GET /api/products\":1,"
           "\"GET /api/products/{id}\":1,\"POST /api/login\":1,\"GET /api/cart\":1,"
           "\"other\":1},\"connections\":1}",
           "GET", "/__demo/stats", NULL, NULL);
    client_free(&c2);

    expect(&c, 200, "{\"status\":\"ok\"}", "POST", "/__demo/reset", NULL, NULL);
    expect(&c, 200, "{\"requests\":0,\"by_route\":{},\"connections\":0}", "GET",
           "/__demo/stats", NULL, NULL);
    client_free(&c);
    assert_int_equal(child_finish(t, SIGTERM), 0);
    assert_non_null(strstr(sbuf_str(&t->log), "Demo target stopping after 0 requests\n"));
    sbuf_free(&t->log);
}

static void test_sessions_evict_oldest(void **state)
{
    (void)state;
    struct child *t = &slot;
    struct client c;
    char s[4][64];

    start_variant(t, 2, 0);
    client_init(&c, t);
    for (int i = 0; i < 3; i++)
        snprintf(s[i], sizeof s[i], "%s", login(&c, "password=secret"));
    expect(&c, 401, "{\"error\":\"login required\"}", "GET", "/api/cart", NULL, s[0]);
    expect(&c, 200, "{\"items\":[],\"total\":0.00}", "GET", "/api/cart", NULL, s[1]);
    expect(&c, 200, "{\"items\":[],\"total\":0.00}", "GET", "/api/cart", NULL, s[2]);
    /* Logging out frees a place: the next login evicts nobody. */
    call(&c, "POST", "/api/logout", NULL, s[1]);
    snprintf(s[3], sizeof s[3], "%s", login(&c, "password=secret"));
    expect(&c, 200, "{\"items\":[],\"total\":0.00}", "GET", "/api/cart", NULL, s[2]);
    expect(&c, 200, "{\"items\":[],\"total\":0.00}", "GET", "/api/cart", NULL, s[3]);
    client_free(&c);
    stop(t);
}

/* ---- the JSON reader ------------------------------------------------------------------ */

struct json_case {
    const char *json, *key;
    int rc;
    const char *value;
};

/* json_field on {"a":[[...]]} with `depth` arrays inside the object. */
static int nested_field(int depth)
{
    sbuf b = SBUF_INIT, out = SBUF_INIT;
    sbuf_puts(&b, "{\"a\":");
    for (int i = 0; i < depth; i++)
        sbuf_putc(&b, '[');
    for (int i = 0; i < depth; i++)
        sbuf_putc(&b, ']');
    sbuf_putc(&b, '}');
    int rc = json_field(b.s, b.len, "a", &out);
    sbuf_free(&b);
    sbuf_free(&out);
    return rc;
}

static void test_json_field(void **state)
{
    (void)state;
    static const struct json_case cases[] = {
        {"{\"a\":\"x\"}", "a", 1, "x"},
        {" { \"a\" : \"x\" , \"b\" : -12.5e+3 } ", "b", 1, "-12.5e+3"},
        {"{\"a\":0}", "a", 1, "0"},
        {"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "a", 1, "\"\\/\b\f\n\r\t"},
        {"{\"a\":\"\\u00e9\\u20AC\\ud83d\\ude00\"}", "a", 1, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
        {"{\"a\":\"\\ud83d\",\"b\":\"\\ude00x\"}", "a", 1, "\xef\xbf\xbd"},
        {"{\"a\":\"\\ud83d\\u0041\"}", "a", 1, "\xef\xbf\xbd" "A"},
        {"{\"a\":\"\\ude00x\"}", "a", 1, "\xef\xbf\xbdx"},
        {"{\"a\":\"1\",\"a\":\"2\"}", "a", 1, "1"},
        {"{\"\\u0061\":\"esc\"}", "a", 1, "esc"},
        {"{\"x\":{\"a\":\"nested\"},\"a\":[1,{\"b\":[]},\"s\"],\"c\":\"z\"}", "c", 1, "z"},
        {"{\"a\":{\"k\":1}}", "a", 0, NULL},
        {"{\"a\":[]}", "a", 0, NULL},
        {"{\"a\":true,\"b\":false,\"c\":null}", "a", 0, NULL},
        {"{}", "a", 0, NULL},
        {"{\"b\":1}", "a", 0, NULL},
        {"{\"a\\u0000\":\"x\"}", "a", 0, NULL},
        {"", "a", -1, NULL},
        {"[]", "a", -1, NULL},
        {"{", "a", -1, NULL},
        {"{\"a\"", "a", -1, NULL},
        {"{\"a\":", "a", -1, NULL},
        {"{\"a\":1", "a", -1, NULL},
        {"{\"a\":1,}", "a", -1, NULL},
        {"{\"a\":1 \"b\":2}", "a", -1, NULL},
        {"{\"a\":1}}", "a", -1, NULL},
        {"{a:1}", "a", -1, NULL},
        {"{\"a\":01}", "a", -1, NULL},
        {"{\"a\":1.}", "a", -1, NULL},
        {"{\"a\":1e}", "a", -1, NULL},
        {"{\"a\":-}", "a", -1, NULL},
        {"{\"a\":+1}", "a", -1, NULL},
        {"{\"a\":tru}", "a", -1, NULL},
        {"{\"a\":nul}", "a", -1, NULL},
        {"{\"a\":fals}", "a", -1, NULL},
        {"{\"a\":\"x}", "a", -1, NULL},
        {"{\"a\":\"x\\", "a", -1, NULL},
        {"{\"a\":\"\\x\"}", "a", -1, NULL},
        {"{\"a\":\"\\u12G4\"}", "a", -1, NULL},
        {"{\"a\":\"\\u12\"}", "a", -1, NULL},
        {"{\"a\":\"tab\there\"}", "a", -1, NULL},
        {"{\"a\":[1,2}", "a", -1, NULL},
        {"{\"a\":[1 2]}", "a", -1, NULL},
        {"{\"a\":[1,", "a", -1, NULL},
        {"{\"a\":{\"b\"}}", "a", -1, NULL},
        {"{\"a\":{\"b\":}}", "a", -1, NULL},
        {"{\"a\":{1:2}}", "a", -1, NULL},
        {"{\"a\":1}\"", "a", -1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sbuf out = SBUF_INIT;
        int rc = json_field(cases[i].json, strlen(cases[i].json), cases[i].key, &out);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].json, rc, cases[i].rc);
        assert_string_equal(sbuf_str(&out), cases[i].value ? cases[i].value : "");
        sbuf_free(&out);
    }

    /* A value with a NUL in it keeps its length; nesting is bounded. */
    sbuf out = SBUF_INIT;
    const char nul[] = "{\"a\":\"x\\u0000y\"}";
    assert_int_equal(json_field(nul, sizeof nul - 1, "a", &out), 1);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.s, "x\0y", 3);
    sbuf_free(&out);
    assert_int_equal(nested_field(JSON_MAX_DEPTH - 1), 0);
    assert_int_equal(nested_field(JSON_MAX_DEPTH), -1);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_main_serves_until_sigterm, reap),
        cmocka_unit_test_teardown(test_main_sigint_and_ipv6, reap),
        cmocka_unit_test_teardown(test_main_start_errors, reap),
        cmocka_unit_test_teardown(test_parse_hostport, reap),
        cmocka_unit_test_teardown(test_login_cart_checkout, reap),
        cmocka_unit_test_teardown(test_login_failures, reap),
        cmocka_unit_test_teardown(test_cart_validation, reap),
        cmocka_unit_test_teardown(test_products_and_search, reap),
        cmocka_unit_test_teardown(test_injected_errors, reap),
        cmocka_unit_test_teardown(test_unknown_routes, reap),
        cmocka_unit_test_teardown(test_stats_count_exactly, reap),
        cmocka_unit_test_teardown(test_sessions_evict_oldest, reap),
        cmocka_unit_test_teardown(test_json_field, reap),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
