/* Shared by the unit tests that drive real HTTP on a real libev loop (test_http,
 * test_user, test_runner): a loopback HTTP/1.1 keep-alive target server run in a forked
 * child, and a libev loop with a watchdog to run tests against it.
 *
 * Provides:
 *   tgt_start / tgt_stop     cmocka group setup/teardown: fork the target on a free
 *                            loopback port (tgt.port) / kill it and unmap its counters
 *   tgt_requests, tgt_conns, tgt_ports_since, tgt.shm->last_method
 *                            what the target has seen, read from shared memory
 *   loop, H, watchdog        the loop, the http client and the watchdog timer; each test
 *                            file's own setup/teardown creates and frees loop and H and
 *                            initialises watchdog with watchdog_cb
 *   RUN_UNTIL(cond, secs)    runs the loop until cond holds, failing the test after secs
 *   run_for(secs)            runs the loop for secs
 *
 * Everything is static (each test binary is one translation unit and gets its own copy);
 * the entry points are marked unused so a file that needs only some of them builds
 * without warnings. The header includes cmocka.h (with its prerequisites) and http.h. */
#ifndef CICADA_TEST_LOOPBACK_H
#define CICADA_TEST_LOOPBACK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

/* ---- loopback target: a keep-alive HTTP/1.1 server in a forked child ------------------
 *
 *   /ok 200 "ok"   /fail 500   /slow?ms=N 200 after N ms   /close: closes, no answer
 *   /bye 200 "bye", then closes the connection (a keep-alive the server drops)
 *   /drop: 200 "ok" on a new connection; on a reused one closes it with no answer (a
 *   keep-alive the server dropped as the request arrived)
 *   /nocolon: a 200 with a header line that has no colon
 *   /garbage: a malformed status line   /echo: "<METHOD> <body>"   /port: client port
 *   /setcookie?v=X: Set-Cookie sid=X   /cookie: the Cookie header or "none"   else 404
 *
 * It counts requests and records the client port of every connection it accepts in
 * shared memory, so a test sees how many connections a client really opened. */

#define TGT_SLOTS 256   /* connections open at once */
#define TGT_PORTS 8192  /* connections recorded */
#define TGT_GARBAGE "HTTP/1.1 2x0 Broken\r\nContent-Length: 0\r\n\r\n"

struct tgt_shm {
    atomic_uint requests;               /* complete requests parsed */
    atomic_uint conns;                  /* connections accepted */
    char last_method[16];
    unsigned short ports[TGT_PORTS];    /* client port of each accepted connection */
};

static struct {
    pid_t pid;
    int port;
    struct tgt_shm *shm;
} tgt;

struct tconn {
    int fd;                 /* -1: free slot */
    unsigned short port;
    double due;             /* > 0: out is held back until then (/slow) */
    bool bye;               /* close once the answer is sent (/bye) */
    unsigned served;        /* requests read on this connection */
    size_t len, outlen;
    char in[16384];
    char out[20000];
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void tgt_reply(struct tconn *c, int status, const char *extra, const char *body,
                      size_t n, bool head)
{
    int h = snprintf(c->out, sizeof c->out,
                     "HTTP/1.1 %d Whatever\r\nContent-Length: %zu\r\n%s\r\n", status, n, extra);
    if (head || n > sizeof c->out - (size_t)h)
        n = 0;
    memcpy(c->out + h, body, n);
    c->outlen = (size_t)h + n;
}

/* Copies the value of header name (with its colon) out of the NUL-terminated head. */
static bool tgt_header(const char *head, const char *name, char *val, size_t len)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, nl) != 0)
            continue;
        const char *v = l + 2 + nl;
        while (*v == ' ')
            v++;
        size_t n = strcspn(v, "\r");
        if (n >= len)
            n = len - 1;
        memcpy(val, v, n);
        val[n] = 0;
        return true;
    }
    return false;
}

/* Parses and answers one request. Returns the bytes it used, 0 when the request is not
 * complete yet, -1 to close the connection without an answer. */
static long tgt_request(struct tconn *c)
{
    char *end = memmem(c->in, c->len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end + 4 - c->in);
    *end = 0;
    char val[512];
    size_t clen = 0;
    if (tgt_header(c->in, "Content-Length:", val, sizeof val))
        clen = strtoul(val, NULL, 10);
    if (c->len < head + clen) {
        *end = '\r';
        return 0;
    }
    char method[16] = "", target[1024] = "";
    sscanf(c->in, "%15s %1023s", method, target);
    atomic_fetch_add(&tgt.shm->requests, 1);
    c->served++;
    memcpy(tgt.shm->last_method, method, sizeof method);
    char *query = strchr(target, '?');
    if (query)
        *query++ = 0;
    const char *body = c->in + head;
    bool hd = strcmp(method, "HEAD") == 0;
    char buf[16384];
    if (strcmp(target, "/ok") == 0) {
        tgt_reply(c, 200, "", "ok", 2, hd);
    } else if (strcmp(target, "/fail") == 0) {
        tgt_reply(c, 500, "", "fail", 4, hd);
    } else if (strcmp(target, "/slow") == 0) {
        long ms = query && strncmp(query, "ms=", 3) == 0 ? atol(query + 3) : 0;
        tgt_reply(c, 200, "", "slow", 4, hd);
        c->due = mono() + (double)ms / 1000.0;
    } else if (strcmp(target, "/close") == 0) {
        return -1;
    } else if (strcmp(target, "/drop") == 0) {
        if (c->served > 1)
            return -1;
        tgt_reply(c, 200, "", "ok", 2, hd);
    } else if (strcmp(target, "/nocolon") == 0) {
        tgt_reply(c, 200, "no colon here\r\n", "ok", 2, hd);
    } else if (strcmp(target, "/bye") == 0) {
        tgt_reply(c, 200, "", "bye", 3, hd);
        c->bye = true;
    } else if (strcmp(target, "/garbage") == 0) {
        c->outlen = strlen(TGT_GARBAGE);
        memcpy(c->out, TGT_GARBAGE, c->outlen);
    } else if (strcmp(target, "/echo") == 0) {
        int n = snprintf(buf, sizeof buf, "%s ", method);
        size_t m = clen < sizeof buf - (size_t)n ? clen : sizeof buf - (size_t)n;
        memcpy(buf + n, body, m);
        tgt_reply(c, 200, "", buf, (size_t)n + m, hd);
    } else if (strcmp(target, "/port") == 0) {
        int n = snprintf(buf, sizeof buf, "%u", c->port);
        tgt_reply(c, 200, "", buf, (size_t)n, hd);
    } else if (strcmp(target, "/setcookie") == 0) {
        snprintf(buf, sizeof buf, "Set-Cookie: sid=%s; Path=/\r\n",
                 query && strncmp(query, "v=", 2) == 0 ? query + 2 : "x");
        tgt_reply(c, 200, buf, "set", 3, hd);
    } else if (strcmp(target, "/cookie") == 0) {
        if (!tgt_header(c->in, "Cookie:", val, sizeof val))
            strcpy(val, "none");
        tgt_reply(c, 200, "", val, strlen(val), hd);
    } else {
        tgt_reply(c, 404, "", "not found", 9, hd);
    }
    return (long)(head + clen);
}

static void tgt_close(struct tconn *c)
{
    close(c->fd);
    c->fd = -1;
}

/* Answers what is buffered on c, unless an answer is being held back. */
static void tgt_process(struct tconn *c)
{
    while (c->fd >= 0 && c->due == 0) {
        long used = tgt_request(c);
        if (used == 0)
            return;
        if (used < 0) {
            tgt_close(c);
            return;
        }
        c->len -= (size_t)used;
        memmove(c->in, c->in + used, c->len);
        if (c->due == 0 && (send(c->fd, c->out, c->outlen, MSG_NOSIGNAL) < 0 || c->bye))
            tgt_close(c);
    }
}

static void tgt_accept(int lfd, struct tconn *conns)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = accept(lfd, (struct sockaddr *)&a, &al);
    if (fd < 0)
        return;
    for (int i = 0; i < TGT_SLOTS; i++) {
        if (conns[i].fd >= 0)
            continue;
        struct tconn *c = &conns[i];
        c->fd = fd;
        c->port = ntohs(a.sin_port);
        c->len = 0;
        c->due = 0;
        c->bye = false;
        c->served = 0;
        unsigned k = atomic_load(&tgt.shm->conns);
        if (k < TGT_PORTS)
            tgt.shm->ports[k] = c->port;
        atomic_fetch_add(&tgt.shm->conns, 1);
        return;
    }
    close(fd);
}

static _Noreturn void tgt_serve(int lfd)
{
    struct tconn *conns = calloc(TGT_SLOTS, sizeof *conns);
    static struct pollfd pf[TGT_SLOTS + 1];
    if (!conns)
        _exit(1);
    for (int i = 0; i < TGT_SLOTS; i++)
        conns[i].fd = -1;
    for (;;) {
        double now = mono(), next = -1;
        pf[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < TGT_SLOTS; i++) {
            pf[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
            if (conns[i].fd >= 0 && conns[i].due > 0 && (next < 0 || conns[i].due < next))
                next = conns[i].due;
        }
        int ms = next < 0 ? -1 : next <= now ? 0 : (int)((next - now) * 1000) + 1;
        if (poll(pf, TGT_SLOTS + 1, ms) < 0 && errno != EINTR)
            _exit(1);
        if (pf[0].revents & POLLIN)
            tgt_accept(lfd, conns);
        now = mono();
        for (int i = 0; i < TGT_SLOTS; i++) {
            struct tconn *c = &conns[i];
            if (c->fd < 0)
                continue;
            if (pf[i + 1].revents && c->fd == pf[i + 1].fd) {
                ssize_t n = read(c->fd, c->in + c->len, sizeof c->in - c->len);
                if (n <= 0) {
                    tgt_close(c);
                    continue;
                }
                c->len += (size_t)n;
            }
            if (c->due > 0 && now >= c->due) {
                c->due = 0;
                if (send(c->fd, c->out, c->outlen, MSG_NOSIGNAL) < 0) {
                    tgt_close(c);
                    continue;
                }
            }
            tgt_process(c);
        }
    }
}

__attribute__((unused)) static int tgt_start(void **state)
{
    (void)state;
    tgt.shm = mmap(NULL, sizeof *tgt.shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (tgt.shm == MAP_FAILED)
        return -1;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 512) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    tgt.port = ntohs(a.sin_port);
    pid_t parent = getpid();
    tgt.pid = fork();
    if (tgt.pid < 0)
        return -1;
    if (tgt.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        tgt_serve(lfd);
    }
    close(lfd);
    return 0;
}

__attribute__((unused)) static int tgt_stop(void **state)
{
    (void)state;
    kill(tgt.pid, SIGKILL);
    waitpid(tgt.pid, NULL, 0);
    munmap(tgt.shm, sizeof *tgt.shm);
    return 0;
}

/* Distinct client ports among the connections accepted since mark. */
__attribute__((unused)) static unsigned tgt_ports_since(unsigned mark)
{
    unsigned n = atomic_load(&tgt.shm->conns), distinct = 0;
    assert_true(n <= TGT_PORTS);
    for (unsigned i = mark; i < n; i++) {
        unsigned j = mark;
        while (j < i && tgt.shm->ports[j] != tgt.shm->ports[i])
            j++;
        distinct += j == i;
    }
    return distinct;
}

__attribute__((unused)) static unsigned tgt_conns(void)
{
    return atomic_load(&tgt.shm->conns);
}

__attribute__((unused)) static unsigned tgt_requests(void)
{
    return atomic_load(&tgt.shm->requests);
}

/* ---- the loop, with a watchdog ------------------------------------------------------- */

static struct ev_loop *loop;
static http *H __attribute__((unused));
static ev_timer watchdog;
static bool expired;

__attribute__((unused)) static void watchdog_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w, (void)revents;
    expired = true;
    ev_break(l, EVBREAK_ONE);
}

/* Runs the loop until cond holds; fails the test when it does not within secs. */
#define RUN_UNTIL(cond, secs)                                                             \
    do {                                                                                  \
        ev_now_update(loop);                                                              \
        expired = false;                                                                  \
        ev_timer_set(&watchdog, (secs), 0.);                                              \
        ev_timer_start(loop, &watchdog);                                                  \
        while (!expired && !(cond))                                                       \
            ev_run(loop, EVRUN_ONCE);                                                     \
        ev_timer_stop(loop, &watchdog);                                                   \
        if (!(cond))                                                                      \
            fail_msg("%s still false after %g s", #cond, (double)(secs));                 \
    } while (0)

/* Runs the loop for secs. */
__attribute__((unused)) static void run_for(double secs)
{
    ev_now_update(loop);
    expired = false;
    ev_timer_set(&watchdog, secs, 0.);
    ev_timer_start(loop, &watchdog);
    while (!expired)
        ev_run(loop, EVRUN_ONCE);
}

#endif
