/* A non-HTTP user: each user keeps a TCP connection to a line echo server, sends a line,
 * waits for it to come back without blocking the thread (cicada_wait_fd), and reports the
 * round trip into the statistics as type "echo": it shows on the dashboard and in the
 * CSV files like any HTTP request.
 *
 *     ECHO_ADDR=127.0.0.1:7007 cicada -f examples/echo.c --headless -u 50 -r 10 -t 30s
 *
 * (any line echo server will do, e.g. `socat TCP-LISTEN:7007,fork,reuseaddr EXEC:cat`). */
#include <cicada.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;                 /* 0: not connected (the context starts zeroed) */
    char buf[256];
};

static struct sockaddr_in target(void)
{
    const char *addr = getenv("ECHO_ADDR");
    char host[64] = "127.0.0.1";
    int port = 7007;
    if (addr)
        sscanf(addr, "%63[^:]:%d", host, &port);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    return sa;
}

/* Connects without blocking the thread; reports the connect like a request. */
static void connect_user(cicada_user *u)
{
    struct conn *c = cicada_context(u);
    double t0 = cicada_now(u);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = target();
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc != 0 && errno == EINPROGRESS && cicada_wait_fd(u, fd, 2, 5) > 0) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        rc = soerr ? -1 : 0;
        errno = soerr;
    }
    double ms = (cicada_now(u) - t0) * 1000;
    if (rc != 0) {
        char why[128];
        snprintf(why, sizeof why, "connect: %s", strerror(errno));
        cicada_report(u, "echo", "connect", ms, 0, why);
        close(fd);
        return;
    }
    c->fd = fd;
    cicada_report(u, "echo", "connect", ms, 0, NULL);
}

static void ping(cicada_user *u)
{
    struct conn *c = cicada_context(u);
    if (!c->fd) {
        connect_user(u);
        return;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "ping %u\n", cicada_user_index(u));
    double t0 = cicada_now(u);
    const char *error = NULL;
    size_t got = 0;
    if (write(c->fd, line, (size_t)n) != n) {
        error = "write failed";
    } else {
        /* Read until the whole line is back (it may come in pieces). */
        while (got < (size_t)n) {
            int ready = cicada_wait_fd(u, c->fd, 1, 5);
            if (ready == CICADA_STOPPED)
                return;
            if (ready == CICADA_TIMEOUT) {
                error = "no answer within 5 s";
                break;
            }
            ssize_t k = read(c->fd, c->buf + got, sizeof c->buf - got);
            if (k <= 0) {
                error = k == 0 ? "the server closed the connection" : "read failed";
                break;
            }
            got += (size_t)k;
        }
        if (!error && (got != (size_t)n || memcmp(c->buf, line, (size_t)n) != 0))
            error = "the echo differs from what was sent";
    }
    cicada_report(u, "echo", "ping", (cicada_now(u) - t0) * 1000, got, error);
    if (error) {
        close(c->fd);
        c->fd = 0;
    }
}

static void hang_up(cicada_user *u)
{
    struct conn *c = cicada_context(u);
    if (c->fd)
        close(c->fd);
    c->fd = 0;
}

static const cicada_task tasks[] = {{.name = "ping", .weight = 1, .fn = ping}};

static int setup(cicada_registry *reg)
{
    return cicada_add_class(reg, &(cicada_class){
        .name = "EchoUser", .weight = 1, .wait = CICADA_WAIT_CONSTANT, .wait_a = 0.1,
        .on_start = connect_user, .on_stop = hang_up, .tasks = tasks, .ntasks = 1,
        .context_size = sizeof(struct conn)});
}
CICADA_PLUGIN(setup)
