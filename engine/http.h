/* HTTP client: libcurl's multi interface driven by the engine's libev loop.
 *
 * Each user owns one http_client: its own cookie jar, and by default its own keep-alive
 * connection, as each Locust HttpUser has its own session. The CURL easy handles that run
 * the requests are pooled (see http_client) and never reset. Requests are immutable
 * compiled descriptions (http_req) shared by all users that run the same step; a handle
 * re-applies options only when the request differs from its previous one, so users
 * looping over one request do no setopt work at all.
 *
 * All libcurl calls happen on the loop's stack: a user's coroutine hands its request over
 * and yields; completions are collected after curl_multi_socket_action returns and only
 * then reported, so no task code ever runs inside a libcurl callback.
 *
 * Why per-user connections need a trick: in the multi interface every easy handle draws
 * from one connection pool. Connections are pooled by a key that includes the IPv6 scope
 * id, and the scope id only affects connect() for link-local IPv6 addresses; giving each
 * client its own scope id (CURLOPT_ADDRESS_SCOPE) therefore gives it its own connections
 * at no memory cost (a CURLSH sharing connections would cost another easy handle, ~5.7
 * KiB, per user). Requests to link-local IPv6 literals fall back to the shared pool.
 * tests/e2e verify the affinity. */
#ifndef CICADA_HTTP_H
#define CICADA_HTTP_H

#include <curl/curl.h>
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "sbuf.h"

typedef struct http http;

enum http_method_kind { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_OTHER };

/* How a user's connections are reused. */
enum http_conn_mode {
    HTTP_CONN_USER,     /* keep-alive, one connection per user (default; Locust, k6) */
    HTTP_CONN_SHARED,   /* keep-alive from a pool shared by users (in groups of 64) */
    HTTP_CONN_REQUEST,  /* a new connection for every request */
};

/* Connection options that rarely change: shared by the requests of a class. */
typedef struct http_opts {
    int version;                    /* 1: HTTP/1.1 (default, as Locust); 2: HTTP/2 (ALPN on
                                     * https://, prior knowledge on http://) */
    bool insecure;                  /* do not verify the server's TLS certificate */
    const char *client_cert;        /* PEM file of a client certificate, or NULL */
    const char *client_key;         /* its key (NULL: in the certificate file) */
    const char *userpwd;            /* "user:password" for Basic authentication, or NULL */
    /* Basic authentication as two parts (CURLOPT_USERNAME/PASSWORD), which win over
     * userpwd: a scenario's templated basic_auth, rendered per request. */
    const char *username, *password;
} http_opts;

/* A compiled request. Owned by whoever compiled it (a scenario step); must outlive every
 * request made with it. */
typedef struct http_req {
    const char *method;             /* "GET", "POST", ... as sent */
    enum http_method_kind kind;
    const char *url;                /* absolute */
    struct curl_slist *headers;     /* may be NULL; shared, never modified by curl */
    const char *body;               /* NULL = no body */
    size_t body_len;
    long timeout_ms;                /* whole request; 0 = none */
    bool follow;                    /* follow redirects */
    bool link_local;                /* URL host is a link-local IPv6 literal */
    bool dynamic;                   /* url/body/headers change between uses: re-apply */
    enum http_conn_mode conn;
    const http_opts *opts;          /* NULL: the defaults */
    CURLU *uh;                      /* url parsed once (http_req_parse), or NULL */
} http_req;

/* Parses a request's URL once for all the requests made with it; otherwise curl parses
 * and re-prints the URL for every request. Only for a request whose URL stays as it is
 * (not dynamic); call http_req_unparse before changing the URL or freeing the request. A
 * URL curl cannot parse is left to curl, which reports it when the request is made. */
void http_req_parse(http_req *r);
void http_req_unparse(http_req *r);

/* Where a request's time went, as consecutive phases (docs/api.md, "timings"). The order
 * is the same everywhere (stats, the wire protocol, the API). */
enum http_phase {
    HTTP_DNS,       /* name resolution (a cached name takes a few microseconds) */
    HTTP_CONNECT,   /* TCP connect; 0 on a reused connection */
    HTTP_TLS,       /* TLS handshake; 0 without TLS or on a reused connection */
    HTTP_TTFB,      /* connection ready to the first response byte: sending the request
                     * and the server's wait */
    HTTP_TRANSFER,  /* first response byte to the last */
    HTTP_NPHASES
};

/* libcurl's timestamps for one transfer (CURLINFO_*_TIME_T): microseconds from its start,
 * 0 for a point not reached. With redirects curl adds up every hop's times. */
typedef struct http_times {
    int64_t namelookup, connect, appconnect, pretransfer, starttransfer, total;
} http_times;

/* Splits t into phases (microseconds) that add up to t->total exactly, so the phases'
 * averages add up to the average response time. A phase whose end was not reached (a
 * reused connection, no TLS) is 0; a request that failed before its first response byte
 * puts the time it has left into the phase it was in: dns before the name resolved,
 * connect before TCP connected, tls before the request could go out (a proxy's CONNECT
 * counts there too), ttfb while waiting for an answer. */
void http_phases(const http_times *t, uint64_t out[HTTP_NPHASES]);

/* What curl's error message adds to a failure's code (see http_failure_text). */
enum http_detail {
    HTTP_DETAIL_NONE,
    HTTP_DETAIL_NO_COLON,           /* a header line without a colon */
    HTTP_DETAIL_NUL_IN_HEADER,
    HTTP_DETAIL_BAD_LENGTH,         /* a Content-Length that is not a number */
    HTTP_DETAIL_HEADERS_TOO_LARGE,  /* curl's cap on a response's headers */
    HTTP_DETAIL_LINE_TOO_LONG,      /* curl's cap on one header line */
    HTTP_DETAIL_BAD_CHUNK,          /* chunked encoding that does not parse */
    HTTP_DETAIL_CONNECTION_DIED,    /* closed with nothing sent back, even after a retry */
};

/* What came back. */
typedef struct http_result {
    CURLcode code;          /* CURLE_OK when a response arrived */
    long status;            /* HTTP status; 0 without a response */
    int64_t rt_us;          /* request start to last body byte */
    uint64_t phase_us[HTTP_NPHASES]; /* rt_us by enum http_phase; adds up to rt_us */
    uint64_t bytes;         /* body bytes received (after decoding) */
    long os_errno;          /* errno behind a connection error */
    bool connected;         /* a connection was established (for timeout texts) */
    enum http_detail detail;
    const http_req *req;
} http_result;

/* Per-user client. Embedded in the user; the fields are the engine's business.
 *
 * A client does not own an easy handle: handles are pooled and a client holds one from
 * its first request of a task until http_client_release (the end of the task), so a
 * program has as many handles as users are mid-task at once. What must outlive a handle
 * stays with the client: its cookie jar (a CURLSH) and its connections, which live in
 * its shard's pool under its scope id whichever handle drives them. */
typedef struct http_client {
    struct http_handle *hd;     /* easy handle attached, or NULL */
    CURLSH *jar;                /* this user's cookies */
    http *h;
    struct http_shard *shard;   /* the multi handle this client belongs to */
    const http_req *req;        /* the request in flight, or made last */
    unsigned scope;             /* this client's CURLOPT_ADDRESS_SCOPE */
    bool busy;                  /* a request is in flight */
    uint64_t bytes;
    sbuf *body;                 /* when set, the response body is appended here ... */
    size_t body_limit;          /* ... up to this many bytes (0: no limit) */
    void (*done)(struct http_client *c, const http_result *r);
    void *owner;
} http_client;

/* Creates the multi handle on the loop. Free with http_free after every client. */
http *http_new(struct ev_loop *loop);
void http_free(http *h);

/* Sets up a client: id distinguishes its connections from other users' (any value unique
 * among live clients; 0 is not allowed). done is called on the loop when a request
 * finishes. */
void http_client_init(http *h, http_client *c, unsigned id,
                      void (*done)(http_client *c, const http_result *r), void *owner);

/* Cancels any request in flight and frees the client's cookie jar. */
void http_client_free(http_client *c);

/* Gives the client's easy handle back to the pool, for any client to take (the client
 * takes it back at its next request if nobody did meanwhile). Call between tasks: the
 * response headers and cookies of the last request are no longer needed. A no-op while a
 * request is in flight. */
void http_client_release(http_client *c);

/* Forgets cookies and applied options, for reuse by a new user. */
void http_client_recycle(http_client *c, unsigned id);

/* Starts a request. Returns 0, or -1 with a message in err (the request was not sent). */
int http_submit(http_client *c, const http_req *req, char *err, size_t errlen);

/* Abandons the request in flight, if any; done is not called. */
void http_cancel(http_client *c);

/* After a request: the value of a response header (the last one of that name, of the final
 * response after redirects), or NULL. Valid until the client's next request. */
const char *http_response_header(http_client *c, const char *name);

/* After a request: appends the value of the cookie `name` the client holds for any domain
 * (the most recently set) to out. Returns false when there is none. */
bool http_cookie(http_client *c, const char *name, sbuf *out);

/* Number of requests in flight. */
int http_in_flight(const http *h);

/* Writes the failure text for a result into buf (Locust's HttpUser wording where there is
 * one: "HTTPError('404 Client Error: Not Found for url: /x')", "ConnectionRefusedError(111,
 * 'Connection refused')"), with name standing for the URL. Returns false (buf untouched)
 * when the result is a success by Locust's rule: a response with a status outside 400-599. Texts never
 * contain per-request values, so failures group. */
bool http_failure_text(const http_result *r, const char *name, char *buf, size_t len);

/* The standard reason phrase for a status ("Not Found"), or "Unknown". */
const char *http_reason(long status);

#endif
