#include "http.h"

#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdlimit.h"
#include "log.h"
#include "version.h"
#include "xalloc.h"


/* Clients are spread over several multi handles ("shards") of at most HTTP_SHARD_SIZE
 * clients each. libcurl 7.88 walks every connection of a multi handle's pool on each
 * curl_multi_remove_handle (to find the last connection used, multi.c), so with one
 * multi handle and one keep-alive connection per user, every request would cost time in
 * proportion to the number of users: at 10,000 users that walk took over half the CPU.
 * A shard bounds it; each shard has its own pool, DNS cache and timer. */
#define HTTP_SHARD_SIZE 64

typedef struct http_shard {
    http *h;
    CURLM *multi;
    ev_timer timer;
    int running;
    unsigned clients;       /* clients assigned to this shard */
} http_shard;

/* A pooled easy handle. A handle stays attached to the last client that used it (its
 * cookie jar set, its scope applied) while idle, so a client that gets its own handle
 * back changes no option; an idle handle is taken over from its client only when another
 * client needs one, least recently used first. */
typedef struct http_handle {
    CURL *easy;
    http_client *client;            /* attached to, or NULL */
    struct http_handle *prev, *next;    /* the idle list, when idle */
    bool idle;
    const http_req *last;           /* request applied last; NULL: apply everything */
    http_req applied;               /* its values when applied: a dynamic request's struct
                                     * is rewritten in place, so the pointer says nothing */
    unsigned scope;                 /* CURLOPT_ADDRESS_SCOPE in effect */
    unsigned gen;                   /* http.gen when last applied */
    CURLU *uh;                      /* the applied request's parsed URL (a copy) */
    struct curl_slist ua;           /* our User-Agent before the request's headers */
    http *h;
    int sock_errno;                 /* socket() failed in open_cb: curl keeps no errno then */
    bool retried;                   /* the request in flight was resubmitted once */
    long fresh;                     /* CURLOPT_FRESH_CONNECT and FORBID_REUSE in effect */
    char errbuf[CURL_ERROR_SIZE];   /* curl's message for the last failure */
} http_handle;

/* One per socket curl is watching; recycled through a free list.
 *
 * When a transfer ends curl stops watching its keep-alive socket, and watches it again
 * when the next request goes out. Stopping and restarting the ev_io costs nothing by
 * itself, but the two land in different loop iterations, and libev then re-registers the
 * descriptor with epoll: one system call per request. So the watcher of a socket curl
 * opened through open_cb stays registered while curl ignores it ("parked"), and is taken
 * back as it is when curl asks for the same descriptor again. close_cb stops it before
 * the descriptor can be closed and its number reused. An idle socket only becomes readable
 * when the server closes it (or misbehaves): the watcher then stops for good, and curl
 * notices the dead connection by itself before reusing it. */
struct sock {
    ev_io io;
    http_shard *sh;
    struct sock *next_free;
    bool parked;
};

/* What the loop knows about a descriptor curl opened. */
struct fdslot {
    struct sock *parked;    /* its watcher, while curl is not watching it */
    bool ours;              /* opened through open_cb, so closed through close_cb */
};

struct http {
    struct ev_loop *loop;
    char user_agent[80];    /* "User-Agent: cicada/<version>" */
    http_shard **shards;
    size_t nshards;
    size_t open_hint;       /* a shard that may have room */
    int in_flight;
    struct sock *free_socks;
    struct fdslot *fds;     /* by descriptor */
    size_t nfds;
    http_handle *idle_head, *idle_tail; /* idle handles, most recently used first */
    bool env_proxy;         /* the environment names a proxy (http_proxy, ...) */
    long fd_cap;            /* sockets get descriptors below this, or 0 (see open_cb) */
    /* Bumped whenever a user starts a life: requests may have been rewritten since a
     * handle applied them (a new test resolves URLs again, possibly at the same address),
     * so handles re-apply everything once. */
    unsigned gen;
    struct finished {       /* collected before they are reported */
        CURL *easy;
        CURLcode code;
    } *done;
    size_t n_done, cap_done;
    bool draining;          /* inside check_done: nested calls only collect */
};

static int global_refs;

/* ---- curl's memory ------------------------------------------------------------------- */

/* libcurl allocates and frees some twenty blocks per request (its receive buffer of 16
 * KiB, a connection struct it throws away when it finds one to reuse, the stored response
 * headers, ...). glibc serves blocks over 1 KiB, and smaller ones beyond seven of a size,
 * on its slow path, with bin sorting and coalescing: a tenth of the generator's
 * instructions. The loop's thread therefore keeps the blocks curl frees, by size, and
 * hands them back when curl asks for that size again. Every block is an ordinary glibc
 * block, so either side may free what the other allocated; other threads (curl's
 * resolver) use glibc directly. Sanitizer builds bypass the cache, so that AddressSanitizer
 * sees each block's real life. */
#if defined(__SANITIZE_ADDRESS__)
#define CMEM_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CMEM_CACHE 0
#endif
#endif
#ifndef CMEM_CACHE
#define CMEM_CACHE 1
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CMEM_VALGRIND 1
#endif
#endif

#define CMEM_LARGEST 32768  /* bytes; the receive buffer is 16385 */
#define CMEM_KEEP 256       /* blocks kept per size: a burst of transfers' worth */

static struct cmem_bin {
    void *head;             /* free blocks, linked through their first word */
    unsigned n;
} cmem_bins[CMEM_LARGEST / 16 + 1];
static _Thread_local bool cmem_here;    /* this thread runs the loop */

/* The usable size glibc gives a request of n bytes (chunks are 16-aligned with an 8-byte
 * header, 32 bytes at least); blocks of one usable size are interchangeable. */
static size_t cmem_usable(size_t n)
{
    size_t u = ((n + 8 + 15) & ~(size_t)15) - 8;
    return u < 24 ? 24 : u;
}

static void *cmem_take(size_t n)
{
    if (!CMEM_CACHE || !cmem_here || n == 0 || n > CMEM_LARGEST - 8)
        return NULL;
    struct cmem_bin *b = &cmem_bins[cmem_usable(n) / 16];
    void *p = b->head;
    if (p) {
        b->head = *(void **)p;
        b->n--;
    }
    return p;
}

/* malloc_usable_size also checks that the block is in use, which reads the next block's
 * header: with thousands of users that line is cold (3.4% of the generator's CPU at
 * 20,000 users, in perf). A block being freed is in use, so its own header is enough:
 * glibc keeps the chunk size in the word below the block, with flags in the low three bits
 * (2: mmapped). Trusted only when malloc is glibc's and the header agrees with
 * malloc_usable_size on a probe. */
static bool cmem_glibc;

static size_t chunk_header(const void *p)
{
    return *(const size_t *)((uintptr_t)p - sizeof(size_t));
}

static size_t cmem_size_of(void *p)
{
    if (cmem_glibc) {
        size_t hdr = chunk_header(p);
        return hdr & 2 ? 0 : (hdr & ~(size_t)7) - 8;
    }
    return malloc_usable_size(p);
}

static bool cmem_probe(void)
{
#ifdef CMEM_VALGRIND
    /* valgrind replaces malloc without changing the symbol dladdr sees. */
    if (RUNNING_ON_VALGRIND)
        return false;
#endif
#ifdef __GLIBC__
    Dl_info m, c;
    if (!dladdr((void *)malloc, &m) || !dladdr((void *)gnu_get_libc_version, &c) ||
        !m.dli_fname || !c.dli_fname || strcmp(m.dli_fname, c.dli_fname) != 0)
        return false;
    static const size_t sizes[] = {1, 24, 100, 1288, 16385, CMEM_LARGEST};
    bool ok = true;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        if (!p)
            xoom();
        size_t hdr = chunk_header(p);
        ok &= !(hdr & 2) && (hdr & ~(size_t)7) - 8 == malloc_usable_size(p);
        free(p);
    }
    return ok;
#else
    return false;
#endif
}

/* Set once curl was refused memory: until then, CURLE_OUT_OF_MEMORY means that a response
 * overflowed one of curl's capped buffers (a header line over 100 KiB), which curl reports
 * with that code and no message. */
static bool cm_refused;

static void *cm_note(void *p, size_t n)
{
    if (!p && n)
        cm_refused = true;
    return p;
}

static void *cm_malloc(size_t n)
{
    void *p = cmem_take(n);
    return p ? p : cm_note(malloc(n), n);
}

static void cm_free(void *p)
{
    if (!p)
        return;     /* curl frees many a NULL pointer: some hundred per request */
    if (CMEM_CACHE && cmem_here) {
        /* glibc's heap chunks have a usable size of 8 modulo 16; mmapped ones do not. */
        size_t u = cmem_size_of(p);
        if (u <= CMEM_LARGEST && u % 16 == 8) {
            struct cmem_bin *b = &cmem_bins[u / 16];
            if (b->n < CMEM_KEEP) {
                *(void **)p = b->head;
                b->head = p;
                b->n++;
                return;
            }
        }
    }
    free(p);
}

/* curl grows its buffers (the request it writes, header lines) by doubling. */
static void *cm_realloc(void *p, size_t n)
{
    if (!p)
        return cm_malloc(n);
    size_t u = malloc_usable_size(p);
    if (n && n <= u)
        return p;
    void *q = cmem_take(n);
    if (!q)
        return cm_note(realloc(p, n), n);
    memcpy(q, p, u);
    cm_free(p);
    return q;
}

static void *cm_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return cm_note(NULL, 1);
    void *p = cmem_take(n * size);
    if (!p)
        return cm_note(calloc(n, size), n * size);
    memset(p, 0, n * size);
    return p;
}

static char *cm_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cm_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void cmem_drain(void)
{
    for (size_t i = 0; i < sizeof cmem_bins / sizeof cmem_bins[0]; i++) {
        while (cmem_bins[i].head) {
            void *p = cmem_bins[i].head;
            cmem_bins[i].head = *(void **)p;
            free(p);
        }
        cmem_bins[i].n = 0;
    }
}

static void check_done(http_shard *sh);

/* ---- curl <-> libev ----------------------------------------------------------------- */

static void sock_free(http *h, struct sock *s)
{
    ev_io_stop(h->loop, &s->io);
    s->parked = false;
    s->next_free = h->free_socks;
    h->free_socks = s;
}

static struct fdslot *fdslot(http *h, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < h->nfds ? &h->fds[fd] : NULL;
}

static void sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct sock *s = (struct sock *)w;
    if (s->parked) {
        http *h = s->sh->h;
        fdslot(h, w->fd)->parked = NULL;
        sock_free(h, s);
        return;
    }
    int action = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
                 (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(s->sh->multi, w->fd, action, &s->sh->running);
    check_done(s->sh);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    http_shard *sh = (http_shard *)((char *)w - offsetof(http_shard, timer));
    curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &sh->running);
    check_done(sh);
}

static int curl_socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    http_shard *sh = userp;
    http *h = sh->h;
    struct sock *s = socketp;
    struct fdslot *slot = fdslot(h, fd);
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(sh->multi, fd, NULL);
            /* A watcher for writing would wake the loop at once: only reading parks. A
             * socket dropped while connecting (a connection attempt that lost or failed)
             * may be closed without close_cb: it is not trusted from now on. */
            if (slot && slot->ours && s->io.events == EV_READ) {
                s->parked = true;
                slot->parked = s;
            } else {
                sock_free(h, s);
                if (slot)
                    slot->ours = false;
            }
        }
        return 0;
    }
    int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (!s && slot && slot->parked) {
        s = slot->parked;
        slot->parked = NULL;
        s->parked = false;
        s->sh = sh;
        curl_multi_assign(sh->multi, fd, s);
        if (s->io.events == events)
            return 0;   /* still registered as it was: no system call */
    }
    if (!s) {
        /* A connection's socket is first watched for writing (connecting); one first
         * watched for reading is not a connection (curl's resolver wake-up pipe), even if
         * it got the number of a connection's socket that curl closed by other means. */
        if (slot && !(events & EV_WRITE))
            slot->ours = false;
        s = h->free_socks;
        if (s)
            h->free_socks = s->next_free;
        else
            s = xmalloc(sizeof *s);
        s->sh = sh;
        s->parked = false;
        ev_io_init(&s->io, sock_cb, fd, events);
        curl_multi_assign(sh->multi, fd, s);
    } else {
        /* libev forbids changing an active watcher. */
        ev_io_stop(h->loop, &s->io);
        ev_io_set(&s->io, fd, events);
    }
    ev_io_start(h->loop, &s->io);
    return 0;
}

static curl_socket_t open_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    http_handle *hd = clientp;
    http *h = hd->h;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd < 0) {
        hd->sock_errno = errno;
        return CURL_SOCKET_BAD;
    }
    /* Users short of descriptors must not take the last ones: the dashboard (to stop the
     * test), the master's socket and the output files need them. Descriptors are given
     * lowest first, so a number this high means only the reserve is left. */
    if (h->fd_cap && fd >= h->fd_cap) {
        close(fd);
        hd->sock_errno = EMFILE;
        return CURL_SOCKET_BAD;
    }
    if ((size_t)fd >= h->nfds) {
        size_t n = h->nfds ? h->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        h->fds = xrealloc(h->fds, n * sizeof *h->fds);
        memset(h->fds + h->nfds, 0, (n - h->nfds) * sizeof *h->fds);
        h->nfds = n;
    }
    /* A parked watcher on this number is stale: its socket was closed without close_cb. */
    if (h->fds[fd].parked)
        sock_free(h, h->fds[fd].parked);
    h->fds[fd].parked = NULL;
    h->fds[fd].ours = true;
    return fd;
}

static int close_cb(void *clientp, curl_socket_t fd)
{
    http *h = clientp;
    struct fdslot *slot = fdslot(h, fd);
    if (slot) {
        if (slot->parked)
            sock_free(h, slot->parked);
        slot->parked = NULL;
        slot->ours = false;
    }
    return close(fd);
}

static int curl_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    http_shard *sh = userp;
    ev_timer_stop(sh->h->loop, &sh->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&sh->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(sh->h->loop, &sh->timer);
    }
    return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userp)
{
    http_client *c = ((http_handle *)userp)->client;
    size_t n = size * nmemb;
    c->bytes += n;
    if (c->body) {
        size_t room = n;
        if (c->body_limit && c->body->len + n > c->body_limit)
            room = c->body->len < c->body_limit ? c->body_limit - c->body->len : 0;
        if (room)
            sbuf_add(c->body, ptr, room);
    }
    return n;
}

/* ---- completions -------------------------------------------------------------------- */

static int64_t get_time(CURL *easy, CURLINFO info)
{
    curl_off_t v = 0;
    curl_easy_getinfo(easy, info, &v);
    return v > 0 ? (int64_t)v : 0;
}

static void get_times(CURL *easy, http_times *t)
{
    t->namelookup = get_time(easy, CURLINFO_NAMELOOKUP_TIME_T);
    t->connect = get_time(easy, CURLINFO_CONNECT_TIME_T);
    t->appconnect = get_time(easy, CURLINFO_APPCONNECT_TIME_T);
    t->pretransfer = get_time(easy, CURLINFO_PRETRANSFER_TIME_T);
    t->starttransfer = get_time(easy, CURLINFO_STARTTRANSFER_TIME_T);
    t->total = get_time(easy, CURLINFO_TOTAL_TIME_T);
}

void http_phases(const http_times *t, uint64_t out[HTTP_NPHASES])
{
    int64_t total = t->total > 0 ? t->total : 0;
    /* Every phase starts where the previous one ended, so the phases add up to the total
     * whatever curl reports: redirects add up hops, and points not reached are 0. */
    const int64_t end[HTTP_NPHASES] = {t->namelookup, t->connect, t->appconnect,
                                       t->starttransfer, total};
    int open = HTTP_TRANSFER;
    if (t->starttransfer <= 0)
        open = t->pretransfer > 0 ? HTTP_TTFB
             : t->connect > 0     ? HTTP_TLS
             : t->namelookup > 0  ? HTTP_CONNECT
                                  : HTTP_DNS;
    int64_t prev = 0;
    for (int i = 0; i < HTTP_NPHASES; i++) {
        int64_t e = i < open ? end[i] : total;
        if (e < prev)
            e = prev;
        if (e > total)
            e = total;
        out[i] = (uint64_t)(e - prev);
        prev = e;
    }
}

/* What curl's message says beyond its code, for failure texts: curl's messages may hold
 * per-response values (sizes, versions), which would keep failures from grouping. */
static enum http_detail detail_of(CURLcode code, const char *msg)
{
    if (code == CURLE_WEIRD_SERVER_REPLY) {
        if (strncmp(msg, "Header without colon", 20) == 0)
            return HTTP_DETAIL_NO_COLON;
        if (strncmp(msg, "Nul byte in header", 18) == 0)
            return HTTP_DETAIL_NUL_IN_HEADER;
        if (strstr(msg, "Content-Length"))
            return HTTP_DETAIL_BAD_LENGTH;
    }
    if (code == CURLE_RECV_ERROR && strncmp(msg, "Too large response headers", 26) == 0)
        return HTTP_DETAIL_HEADERS_TOO_LARGE;
    if (code == CURLE_RECV_ERROR && strstr(msg, "chunk"))
        return HTTP_DETAIL_BAD_CHUNK;
    if (code == CURLE_SEND_ERROR && strncmp(msg, "Connection died", 15) == 0)
        return HTTP_DETAIL_CONNECTION_DIED;
    if (code == CURLE_OUT_OF_MEMORY && !cm_refused)
        return HTTP_DETAIL_LINE_TOO_LONG;
    return HTTP_DETAIL_NONE;
}

static void report(http *h, CURL *easy, CURLcode code)
{
    http_handle *hd = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&hd);
    http_client *c = hd->client;
    curl_multi_remove_handle(c->shard->multi, easy);
    /* curl retries a request that got nothing back on a reused connection (the server
     * closed it as the request arrived) on a new one, up to 5 times; but libcurl 7.88
     * counts those retries per easy handle, not per request, and our handles are reused
     * without a reset: every sixth such retry failed as "Connection died, tried 5 times
     * before giving up" although it was the request's first. Having given up, curl has
     * reset its count, so one resubmission is the retry curl meant to make. */
    if (code == CURLE_SEND_ERROR && !hd->retried && c->bytes == 0 &&
        strncmp(hd->errbuf, "Connection died", 15) == 0) {
        hd->retried = true;
        hd->errbuf[0] = 0;
        if (curl_multi_add_handle(c->shard->multi, easy) == CURLM_OK)
            return;
    }
    h->in_flight--;
    c->busy = false;
    http_result r = {.code = code, .req = c->req, .bytes = c->bytes};
    int sock_errno = hd->sock_errno;
    hd->sock_errno = 0;
    http_times t;
    get_times(easy, &t);
    r.rt_us = t.total;
    http_phases(&t, r.phase_us);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (code != CURLE_OK) {
        r.detail = detail_of(code, hd->errbuf);
        curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &r.os_errno);
        if (!r.os_errno)
            r.os_errno = sock_errno;
        long sent = 0;
        /* A reused connection reports no connect time: that the request went out shows
         * it was connected all the same. */
        curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent);
        r.connected = t.connect > 0 || sent > 0;
        /* A transfer that failed after the status line still counts as no response. */
        r.status = 0;
    }
    c->done(c, &r);
}

static void check_done(http_shard *sh)
{
    http *h = sh->h;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(sh->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        /* CURLMsg does not survive remove_handle: keep the two values we need. */
        if (h->n_done == h->cap_done) {
            h->cap_done = h->cap_done ? h->cap_done * 2 : 64;
            h->done = xrealloc(h->done, h->cap_done * sizeof *h->done);
        }
        h->done[h->n_done].easy = m->easy_handle;
        h->done[h->n_done].code = m->data.result;
        h->n_done++;
    }
    /* Reporting resumes users, who submit new requests and may get here again: only the
     * outermost call reports, so the list is never walked twice. */
    if (h->draining)
        return;
    h->draining = true;
    /* Index loop: reports may append (a user's next request can finish at once) or remove
     * (a cancelled user) entries while we walk. */
    for (size_t i = 0; i < h->n_done; i++) {
        struct finished f = h->done[i];
        if (f.easy)
            report(h, f.easy, f.code);
    }
    h->n_done = 0;
    h->draining = false;
}

/* ---- public ------------------------------------------------------------------------- */

/* True when a variable such as http_proxy or ALL_PROXY is set (no_proxy alone is not). */
static bool env_names_proxy(void)
{
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (n >= 6 && strncasecmp(*e + n - 6, "_proxy", 6) == 0 &&
            !(n == 8 && strncasecmp(*e, "no", 2) == 0))
            return true;
    }
    return false;
}

http *http_new(struct ev_loop *loop)
{
    if (global_refs++ == 0 &&
        curl_global_init_mem(CURL_GLOBAL_DEFAULT, cm_malloc, cm_free, cm_realloc, cm_strdup,
                             cm_calloc) != CURLE_OK)
        xoom();
    cmem_here = true;
    if (global_refs == 1)
        cmem_glibc = cmem_probe();
    http *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    snprintf(h->user_agent, sizeof h->user_agent, "User-Agent: cicada/%s", cicada_version);
    h->env_proxy = env_names_proxy();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        h->fd_cap = rl.rlim_cur > 2 * FDLIMIT_RESERVE ? (long)(rl.rlim_cur - FDLIMIT_RESERVE)
                                                       : (long)rl.rlim_cur / 2;
    return h;
}

static http_shard *shard_new(http *h)
{
    http_shard *sh = xcalloc(1, sizeof *sh);
    sh->h = h;
    sh->multi = curl_multi_init();
    if (!sh->multi)
        xoom();
    ev_init(&sh->timer, timer_cb);
    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_fn);
    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
    curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, curl_timer_fn);
    curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
    /* Room for every client's connections (a user may talk to a few hosts): curl would
     * otherwise close idle ones beyond four per running transfer. */
    curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_SHARD_SIZE * 4);
    h->shards = xrealloc(h->shards, (h->nshards + 1) * sizeof *h->shards);
    h->shards[h->nshards++] = sh;
    return sh;
}

/* The first shard with room, or a new one. */
static http_shard *shard_for_client(http *h)
{
    for (size_t n = 0; n < h->nshards; n++) {
        size_t i = (h->open_hint + n) % h->nshards;
        if (h->shards[i]->clients < HTTP_SHARD_SIZE) {
            h->open_hint = i;
            return h->shards[i];
        }
    }
    h->open_hint = h->nshards;
    return shard_new(h);
}

void http_free(http *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nshards; i++) {
        curl_multi_cleanup(h->shards[i]->multi);
        ev_timer_stop(h->loop, &h->shards[i]->timer);
        free(h->shards[i]);
    }
    free(h->shards);
    while (h->idle_head) {
        http_handle *hd = h->idle_head;
        h->idle_head = hd->next;
        curl_easy_cleanup(hd->easy);
        curl_url_cleanup(hd->uh);
        free(hd);
    }
    while (h->free_socks) {
        struct sock *s = h->free_socks;
        h->free_socks = s->next_free;
        free(s);
    }
    free(h->done);
    free(h->fds);
    free(h);
    if (--global_refs == 0) {
        curl_global_cleanup();
        cmem_drain();
    }
}

/* ---- handles and clients ------------------------------------------------------------ */

static void idle_unlink(http *h, http_handle *hd)
{
    if (hd->prev)
        hd->prev->next = hd->next;
    else
        h->idle_head = hd->next;
    if (hd->next)
        hd->next->prev = hd->prev;
    else
        h->idle_tail = hd->prev;
    hd->prev = hd->next = NULL;
    hd->idle = false;
}

static void idle_push(http *h, http_handle *hd, bool front)
{
    hd->idle = true;
    if (front) {
        hd->prev = NULL;
        hd->next = h->idle_head;
        if (h->idle_head)
            h->idle_head->prev = hd;
        else
            h->idle_tail = hd;
        h->idle_head = hd;
    } else {
        hd->next = NULL;
        hd->prev = h->idle_tail;
        if (h->idle_tail)
            h->idle_tail->next = hd;
        else
            h->idle_head = hd;
        h->idle_tail = hd;
    }
}

static http_handle *handle_new(http *h)
{
    http_handle *hd = xcalloc(1, sizeof *hd);
    CURL *e = hd->easy = curl_easy_init();
    if (!e)
        xoom();
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)hd);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, hd);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, hd->errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cb);
    hd->h = h;
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, hd);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, h);
    /* Turns the cookie engine on; the jar itself is the attached client's share. */
    curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");
    /* The User-Agent goes with the request's headers (see headers_for), except through a
     * proxy, whose CONNECT request only carries CURLOPT_USERAGENT. */
    if (h->env_proxy)
        curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent + strlen("User-Agent: "));
    else
        hd->ua.data = h->user_agent;
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 30L);  /* python-requests' limit */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* A handle serves many users, and a TLS session one of them negotiated must not let
     * another skip its handshake; python-requests does not resume sessions either. */
    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    /* Without proxy variables curl would still read five of them from the environment
     * for every request, to find none: say "no proxy for any host" once instead. */
    if (!h->env_proxy)
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    return hd;
}

/* Takes hd away from its client (the handle stays idle, attached to nobody). */
static void handle_detach(http_handle *hd)
{
    if (!hd->client)
        return;
    hd->client->hd = NULL;
    hd->client = NULL;
    curl_easy_setopt(hd->easy, CURLOPT_SHARE, NULL);
}

/* The client's handle: its own if still attached, else the least recently used idle one,
 * else a new one. */
static http_handle *attach(http_client *c)
{
    http *h = c->h;
    http_handle *hd = c->hd;
    if (hd) {
        if (hd->idle)
            idle_unlink(h, hd);
        return hd;
    }
    hd = h->idle_tail;
    if (hd) {
        idle_unlink(h, hd);
        if (hd->client)
            hd->client->hd = NULL;
    } else {
        hd = handle_new(h);
    }
    hd->client = c;
    c->hd = hd;
    curl_easy_setopt(hd->easy, CURLOPT_SHARE, c->jar);
    return hd;
}

static CURLSH *jar_new(void)
{
    CURLSH *sh = curl_share_init();
    if (!sh || curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) != CURLSHE_OK)
        xoom();
    return sh;
}

void http_client_init(http *h, http_client *c, unsigned id,
                      void (*done)(http_client *c, const http_result *r), void *owner)
{
    memset(c, 0, sizeof *c);
    c->h = h;
    c->shard = shard_for_client(h);
    c->shard->clients++;
    c->done = done;
    c->owner = owner;
    c->scope = id;
    c->jar = jar_new();
    h->gen++;
}

/* Cancels, and leaves the client without a handle, so its jar is free to go. */
static void client_drop_handle(http_client *c)
{
    http_cancel(c);
    http_handle *hd = c->hd;
    if (!hd)
        return;
    if (hd->idle)
        idle_unlink(c->h, hd);
    handle_detach(hd);
    /* Attached to nobody: the first to be taken. */
    idle_push(c->h, hd, false);
}

void http_client_free(http_client *c)
{
    if (!c->jar)
        return;
    client_drop_handle(c);
    curl_share_cleanup(c->jar);
    c->jar = NULL;
    c->shard->clients--;
}

void http_client_recycle(http_client *c, unsigned id)
{
    client_drop_handle(c);
    curl_share_cleanup(c->jar);
    c->jar = jar_new();
    c->req = NULL;
    c->body = NULL;
    c->scope = id;
    c->h->gen++;
}

void http_client_release(http_client *c)
{
    http_handle *hd = c->hd;
    if (!hd || hd->idle || c->busy)
        return;
    idle_push(c->h, hd, true);
}

static const http_opts default_opts = {.version = 1};

static void apply_opts(CURL *e, const http_req *r)
{
    const http_opts *o = r->opts ? r->opts : &default_opts;
    long version = CURL_HTTP_VERSION_1_1;
    if (o->version == 2)
        version = strncasecmp(r->url, "https:", 6) == 0 ? CURL_HTTP_VERSION_2TLS
                                                       : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, version);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    curl_easy_setopt(e, CURLOPT_SSLCERT, o->client_cert);
    curl_easy_setopt(e, CURLOPT_SSLKEY, o->client_key);
    /* USERPWD sets (or, with NULL, clears) both parts: what a previous request on this
     * handle set does not carry over to the next. */
    curl_easy_setopt(e, CURLOPT_USERPWD, o->userpwd);
    if (o->username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, o->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, o->password ? o->password : "");
    }
}

/* The header list to send: the request's own, after our User-Agent unless it has one.
 * curl would otherwise print "User-Agent: %s\r\n" from CURLOPT_USERAGENT anew for every
 * request. The handle's own node goes in front, so the request's list stays untouched. */
static struct curl_slist *headers_for(http_handle *hd, struct curl_slist *list)
{
    if (!hd->ua.data)
        return list;    /* through a proxy: CURLOPT_USERAGENT */
    for (struct curl_slist *l = list; l; l = l->next)
        if (strncasecmp(l->data, "User-Agent:", 11) == 0 ||
            strncasecmp(l->data, "User-Agent;", 11) == 0)
            return list;
    hd->ua.next = list;
    return &hd->ua;
}

void http_req_parse(http_req *r)
{
    http_req_unparse(r);
    if (r->dynamic || !r->url)
        return;
    CURLU *uh = curl_url();
    if (!uh)
        xoom();
    /* The flags curl itself parses CURLOPT_URL with. */
    if (curl_url_set(uh, CURLUPART_URL, r->url,
                     CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_url_cleanup(uh);
        return;
    }
    r->uh = uh;
}

void http_req_unparse(http_req *r)
{
    curl_url_cleanup(r->uh);
    r->uh = NULL;
}

/* libcurl 7.88 breaks a reused HTTP/2 connection without TLS (prior knowledge): every
 * request after the first on it fails with "Error in the HTTP2 framing layer"
 * (curl/curl#10634, fixed in 8.0.0). That is the libcurl of Debian 12, so such requests
 * take a new connection each there, and the log says so once. HTTP/2 over TLS is not
 * affected. */
static bool h2c_needs_fresh(const http_req *r)
{
    static int broken = -1;
    const http_opts *o = r->opts;
    if (!o || o->version != 2 || !r->url || strncasecmp(r->url, "http:", 5) != 0)
        return false;
    if (broken < 0) {
        broken = (curl_version_info(CURLVERSION_NOW)->version_num >> 8) == 0x0758;
        if (broken)
            log_warning("cicada.http", "libcurl %s cannot reuse an HTTP/2 connection "
                        "without TLS (curl/curl#10634, fixed in 8.0.0): each HTTP/2 "
                        "request to an http:// URL opens a new connection",
                        curl_version_info(CURLVERSION_NOW)->version);
    }
    return broken;
}

static void apply(http_handle *hd, const http_req *r)
{
    CURL *e = hd->easy;
    const http_req *p = hd->last ? &hd->applied : NULL;
    /* With CURLOPT_CURLU curl copies the parsed URL instead of parsing the string; the
     * string is still set, as it is what curl reports and resolves redirects against.
     * The handle keeps its own copy: the request's may be freed while the handle still
     * points to it (a new host from the web UI resolves the URLs again mid-test). */
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_url_cleanup(hd->uh);
    hd->uh = NULL;
    if (r->uh && !r->dynamic && !(hd->uh = curl_url_dup(r->uh)))
        xoom();
    curl_easy_setopt(e, CURLOPT_CURLU, hd->uh);
    if (!p || p->kind != r->kind || p->method != r->method || p->body != r->body ||
        p->body_len != r->body_len || r->dynamic) {
        if (r->kind == HTTP_HEAD) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
        } else {
            /* HTTPGET resets NOBODY and any earlier POST state. */
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
            if (r->body || r->kind == HTTP_POST) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
            }
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                             r->kind == HTTP_OTHER ? r->method : NULL);
        }
    }
    if (!p || p->headers != r->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_for(hd, r->headers));
    if (!p || p->timeout_ms != r->timeout_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if (!p || p->follow != r->follow)
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, r->follow ? 1L : 0L);
    /* A dynamic request's options may change behind the same pointer (the C API fills
     * one per user). */
    if (!p || p->opts != r->opts || r->dynamic)
        apply_opts(e, r);
    long fresh = r->conn == HTTP_CONN_REQUEST || h2c_needs_fresh(r);
    if (!p || hd->fresh != fresh) {
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, fresh);
        hd->fresh = fresh;
    }
    hd->last = r;
    hd->applied = *r;
}

int http_submit(http_client *c, const http_req *req, char *err, size_t errlen)
{
    if (c->busy) {
        snprintf(err, errlen, "a request is already in flight for this user");
        return -1;
    }
    http_handle *hd = attach(c);
    if (hd->gen != c->h->gen) {
        hd->gen = c->h->gen;
        hd->last = NULL;
    }
    if (hd->last != req || req->dynamic)
        apply(hd, req);
    /* The handle may have served another client since: the scope says whose connections
     * it draws from. */
    unsigned scope = (req->conn == HTTP_CONN_USER && !req->link_local) ? c->scope : 0;
    if (hd->scope != scope) {
        hd->scope = scope;
        curl_easy_setopt(hd->easy, CURLOPT_ADDRESS_SCOPE, (long)scope);
    }
    c->req = req;
    c->bytes = 0;
    hd->retried = false;
    hd->errbuf[0] = 0;
    CURLMcode mc = curl_multi_add_handle(c->shard->multi, hd->easy);
    if (mc != CURLM_OK) {
        snprintf(err, errlen, "cannot start request: %s", curl_multi_strerror(mc));
        return -1;
    }
    c->busy = true;
    c->h->in_flight++;
    return 0;
}

void http_cancel(http_client *c)
{
    if (!c->busy)
        return;
    /* Drop a completion that was collected but not reported yet. */
    http *h = c->h;
    for (size_t i = 0; i < h->n_done; i++)
        if (h->done[i].easy == c->hd->easy)
            h->done[i].easy = NULL;
    curl_multi_remove_handle(c->shard->multi, c->hd->easy);
    c->busy = false;
    h->in_flight--;
}

const char *http_response_header(http_client *c, const char *name)
{
    struct curl_header *h = NULL;
    if (!c->hd)
        return NULL;
    /* request -1: the last response of the transfer, i.e. after redirects */
    if (curl_easy_header(c->hd->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
        return NULL;
    /* curl_easy_header returns the first of repeated headers by index 0; take the last. */
    size_t amount = h->amount;
    if (amount > 1 &&
        curl_easy_header(c->hd->easy, name, amount - 1, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

bool http_cookie(http_client *c, const char *name, sbuf *out)
{
    struct curl_slist *list = NULL;
    /* The jar is the client's wherever its handle went, but reading it takes a handle. */
    bool held = c->hd && !c->hd->idle;
    http_handle *hd = attach(c);
    CURLcode rc = curl_easy_getinfo(hd->easy, CURLINFO_COOKIELIST, &list);
    if (!held)
        http_client_release(c);
    if (rc != CURLE_OK)
        return false;
    /* Netscape format: domain, tailmatch, path, secure, expires, name, value (tabs). The
     * jar keeps the newest setting of a (domain, path, name), so the last match wins. */
    const char *value = NULL;
    size_t vlen = 0;
    for (struct curl_slist *l = list; l; l = l->next) {
        const char *f = l->data;
        for (int i = 0; i < 5 && f; i++) {
            f = strchr(f, '\t');
            if (f)
                f++;
        }
        if (!f)
            continue;
        const char *tab = strchr(f, '\t');
        if (!tab || (size_t)(tab - f) != strlen(name) || strncmp(f, name, strlen(name)) != 0)
            continue;
        value = tab + 1;
        vlen = strlen(value);
    }
    if (value)
        sbuf_add(out, value, vlen);
    curl_slist_free_all(list);
    return value != NULL;
}

int http_in_flight(const http *h)
{
    return h->in_flight;
}

/* ---- failure texts ------------------------------------------------------------------ */

const char *http_reason(long status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a Teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

/* Python's exception class for an errno, as python-requests surfaces it. */
static const char *errno_class(long e)
{
    switch (e) {
    case ECONNREFUSED: return "ConnectionRefusedError";
    case ECONNRESET: return "ConnectionResetError";
    case ECONNABORTED: return "ConnectionAbortedError";
    case EPIPE: return "BrokenPipeError";
    case ETIMEDOUT: return "TimeoutError";
    case EHOSTUNREACH:
    case ENETUNREACH: return "OSError";
    case EADDRNOTAVAIL: return "OSError";
    default: return "OSError";
    }
}

/* Limits of the generator's own machine, not the target's fault: the failure text says
 * what to change, since the bare errno reads like a target problem. */
static const char *errno_advice(long e)
{
    switch (e) {
    case EADDRNOTAVAIL:
        return ": no free local port for a new connection; reuse connections (keep-alive), "
               "widen net.ipv4.ip_local_port_range or spread the load over more source "
               "addresses or machines";
    case EMFILE:
        return ": no free file descriptor for a new connection; raise the open-file limit "
               "(ulimit -n) or run fewer users per process";
    case ENFILE:
        return ": the system's open-file table is full (fs.file-max)";
    default:
        return "";
    }
}

bool http_failure_text(const http_result *r, const char *name, char *buf, size_t len)
{
    if (r->code == CURLE_OK) {
        if (r->status < 400 || r->status > 599)
            return false; /* python-requests' raise_for_status rule */
        snprintf(buf, len, "HTTPError('%ld %s Error: %s for url: %s')", r->status,
                 r->status < 500 ? "Client" : "Server", http_reason(r->status), name);
        return true;
    }
    long ms = r->req ? r->req->timeout_ms : 0;
    switch (r->code) {
    case CURLE_OPERATION_TIMEDOUT:
        if (r->connected)
            snprintf(buf, len, "ReadTimeout('no complete response within %g s')", ms / 1000.0);
        else
            snprintf(buf, len, "ConnectTimeout('could not connect within %g s')", ms / 1000.0);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(buf, len, "NameResolutionError('Failed to resolve host of %s')", name);
        break;
    case CURLE_GOT_NOTHING:
        snprintf(buf, len,
                 "RemoteDisconnected('Remote end closed connection without response')");
        break;
    case CURLE_TOO_MANY_REDIRECTS:
        snprintf(buf, len, "TooManyRedirects('Exceeded 30 redirects.')");
        break;
    case CURLE_PARTIAL_FILE:
        snprintf(buf, len, "IncompleteRead('connection closed before the whole body arrived')");
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* What curl says when the status line is not HTTP/1.x (it takes it for HTTP/0.9). */
        snprintf(buf, len, "InvalidResponse('malformed status line')");
        break;
    case CURLE_WEIRD_SERVER_REPLY:
        if (r->detail == HTTP_DETAIL_NO_COLON) {
            snprintf(buf, len, "InvalidResponse('header line without a colon')");
            break;
        }
        if (r->detail == HTTP_DETAIL_NUL_IN_HEADER) {
            snprintf(buf, len, "InvalidResponse('NUL byte in a header')");
            break;
        }
        if (r->detail == HTTP_DETAIL_BAD_LENGTH) {
            snprintf(buf, len, "InvalidResponse('invalid Content-Length')");
            break;
        }
        /* fall through */
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        snprintf(buf, len, "InvalidResponse('%s')", curl_easy_strerror(r->code));
        break;
    case CURLE_OUT_OF_MEMORY:
        if (r->detail == HTTP_DETAIL_LINE_TOO_LONG) {
            snprintf(buf, len, "InvalidResponse('response header line too long')");
            break;
        }
        snprintf(buf, len, "CurlError(%d, '%s')", (int)r->code, curl_easy_strerror(r->code));
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        snprintf(buf, len, "SSLError('%s')", curl_easy_strerror(r->code));
        break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        if (r->os_errno) {
            snprintf(buf, len, "%s(%ld, '%s%s')", errno_class(r->os_errno), r->os_errno,
                     strerror((int)r->os_errno), errno_advice(r->os_errno));
            break;
        }
        if (r->detail == HTTP_DETAIL_HEADERS_TOO_LARGE) {
            snprintf(buf, len, "InvalidResponse('response headers too large')");
            break;
        }
        if (r->detail == HTTP_DETAIL_BAD_CHUNK) {
            snprintf(buf, len, "InvalidResponse('malformed chunked encoding')");
            break;
        }
        if (r->detail == HTTP_DETAIL_CONNECTION_DIED) {
            snprintf(buf, len,
                     "RemoteDisconnected('Remote end closed connection without response')");
            break;
        }
        /* fall through */
    default:
        snprintf(buf, len, "CurlError(%d, '%s')", (int)r->code, curl_easy_strerror(r->code));
        break;
    }
    return true;
}
