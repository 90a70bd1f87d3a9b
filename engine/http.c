#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* One per socket curl is watching; recycled through a free list. */
struct sock {
    ev_io io;
    http_shard *sh;
    struct sock *next_free;
};

struct http {
    struct ev_loop *loop;
    char user_agent[64];    /* "cicada/<version>" */
    http_shard **shards;
    size_t nshards;
    size_t open_hint;       /* a shard that may have room */
    int in_flight;
    struct sock *free_socks;
    struct finished {       /* collected before they are reported */
        CURL *easy;
        CURLcode code;
    } *done;
    size_t n_done, cap_done;
    bool draining;          /* inside check_done: nested calls only collect */
};

static int global_refs;

static void check_done(http_shard *sh);

/* ---- curl <-> libev ----------------------------------------------------------------- */

static void sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct sock *s = (struct sock *)w;
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
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            ev_io_stop(h->loop, &s->io);
            curl_multi_assign(sh->multi, fd, NULL);
            s->next_free = h->free_socks;
            h->free_socks = s;
        }
        return 0;
    }
    int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (!s) {
        s = h->free_socks;
        if (s)
            h->free_socks = s->next_free;
        else
            s = xmalloc(sizeof *s);
        s->sh = sh;
        ev_io_init(&s->io, sock_cb, fd, events);
        curl_multi_assign(sh->multi, fd, s);
    } else {
        /* libev forbids changing an active watcher; curl may also hand us a new socket
         * that reuses an old descriptor number, so always set the fd again. */
        ev_io_stop(h->loop, &s->io);
        ev_io_set(&s->io, fd, events);
    }
    ev_io_start(h->loop, &s->io);
    return 0;
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
    http_client *c = userp;
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

static void report(http *h, CURL *easy, CURLcode code)
{
    http_client *c = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&c);
    curl_multi_remove_handle(c->shard->multi, easy);
    h->in_flight--;
    c->busy = false;
    http_result r = {.code = code, .req = c->last, .bytes = c->bytes};
    http_times t;
    get_times(easy, &t);
    r.rt_us = t.total;
    http_phases(&t, r.phase_us);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (code != CURLE_OK) {
        curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &r.os_errno);
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

http *http_new(struct ev_loop *loop)
{
    if (global_refs++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        xoom();
    http *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    snprintf(h->user_agent, sizeof h->user_agent, "cicada/%s", cicada_version);
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
    while (h->free_socks) {
        struct sock *s = h->free_socks;
        h->free_socks = s->next_free;
        free(s);
    }
    free(h->done);
    free(h);
    if (--global_refs == 0)
        curl_global_cleanup();
}

static const char *h_user_agent(const http *h)
{
    return h->user_agent;
}

static void client_options(http_client *c)
{
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)c);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");   /* in-memory cookie jar */
    curl_easy_setopt(e, CURLOPT_USERAGENT, h_user_agent(c->h));
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 30L);  /* python-requests' limit */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_ADDRESS_SCOPE, (long)c->scope);
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
    c->easy = curl_easy_init();
    if (!c->easy)
        xoom();
    client_options(c);
}

void http_client_free(http_client *c)
{
    if (!c->easy)
        return;
    http_cancel(c);
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
    c->shard->clients--;
}

void http_client_recycle(http_client *c, unsigned id)
{
    http_cancel(c);
    curl_easy_setopt(c->easy, CURLOPT_COOKIELIST, "ALL");
    c->last = NULL;
    c->body = NULL;
    if (c->scope != id) {
        c->scope = id;
        curl_easy_setopt(c->easy, CURLOPT_ADDRESS_SCOPE, (long)id);
    }
}

static const http_opts default_opts = {.version = 1};

static void apply_opts(http_client *c, const http_req *r)
{
    CURL *e = c->easy;
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
    curl_easy_setopt(e, CURLOPT_USERPWD, o->userpwd);
}

static void apply(http_client *c, const http_req *r)
{
    CURL *e = c->easy;
    const http_req *p = c->last ? &c->applied : NULL;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
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
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (!p || p->timeout_ms != r->timeout_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if (!p || p->follow != r->follow)
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, r->follow ? 1L : 0L);
    if (!p || p->opts != r->opts)
        apply_opts(c, r);
    if (!p || p->conn != r->conn || p->link_local != r->link_local) {
        long fresh = r->conn == HTTP_CONN_REQUEST;
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, fresh);
        unsigned scope = (r->conn == HTTP_CONN_USER && !r->link_local) ? c->scope : 0;
        curl_easy_setopt(e, CURLOPT_ADDRESS_SCOPE, (long)scope);
    }
    c->last = r;
    c->applied = *r;
}

int http_submit(http_client *c, const http_req *req, char *err, size_t errlen)
{
    if (c->busy) {
        snprintf(err, errlen, "a request is already in flight for this user");
        return -1;
    }
    if (c->last != req || req->dynamic)
        apply(c, req);
    c->bytes = 0;
    CURLMcode mc = curl_multi_add_handle(c->shard->multi, c->easy);
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
        if (h->done[i].easy == c->easy)
            h->done[i].easy = NULL;
    curl_multi_remove_handle(c->shard->multi, c->easy);
    c->busy = false;
    h->in_flight--;
}

const char *http_response_header(http_client *c, const char *name)
{
    struct curl_header *h = NULL;
    /* request -1: the last response of the transfer, i.e. after redirects */
    if (curl_easy_header(c->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
        return NULL;
    /* curl_easy_header returns the first of repeated headers by index 0; take the last. */
    size_t amount = h->amount;
    if (amount > 1 &&
        curl_easy_header(c->easy, name, amount - 1, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

bool http_cookie(http_client *c, const char *name, sbuf *out)
{
    struct curl_slist *list = NULL;
    if (curl_easy_getinfo(c->easy, CURLINFO_COOKIELIST, &list) != CURLE_OK)
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
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        snprintf(buf, len, "InvalidResponse('%s')", curl_easy_strerror(r->code));
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
            snprintf(buf, len, "%s(%ld, '%s')", errno_class(r->os_errno), r->os_errno,
                     strerror((int)r->os_errno));
            break;
        }
        /* fall through */
    default:
        snprintf(buf, len, "CurlError(%d, '%s')", (int)r->code, curl_easy_strerror(r->code));
        break;
    }
    return true;
}
