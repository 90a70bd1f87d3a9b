/* An HTTP server on our own libev loop: libmicrohttpd in external-polling mode.
 *
 * One process runs one loop and no extra threads, so MHD is driven from watchers: its
 * epoll fd is an ev_io, MHD_get_timeout keeps one ev_timer armed, and an ev_prepare runs
 * MHD once more before the loop blocks whenever a suspended connection was resumed.
 * Used by the built-in demo target and the web dashboard.
 *
 * The handler sees each request once, complete (the body is collected and bounded here),
 * and answers with httpd_respond, either at once, after a delay (httpd_delay), or later
 * from any other callback on the same loop (httpd_defer). No response headers are added
 * beyond what MHD itself sends (Date, Content-Length ...): CORS and the like are up to
 * the caller, through httpd_add_header. */
#ifndef CICADA_HTTPD_H
#define CICADA_HTTPD_H

#include <ev.h>
#include <stddef.h>

/* A running server. Opaque; owned by whoever called httpd_start. */
struct httpd;

/* One request. Owned by the server: valid from the handler call until the response is
 * given (httpd_respond) or the request is aborted. */
struct httpd_req;

/* Called once per complete request, on the loop. It must call httpd_respond, or
 * httpd_defer and respond later. */
typedef void (*httpd_handler_fn)(void *data, struct httpd_req *req);

/* Called when a deferred request dies before the application responded (the server is
 * stopping). req is invalid once this returns; do not respond to it. */
typedef void (*httpd_abort_fn)(void *data, struct httpd_req *req);

#define HTTPD_DEFAULT_MAX_BODY (1024 * 1024)
#define HTTPD_DEFAULT_MAX_CONNECTIONS 10000
#define HTTPD_DEFAULT_TIMEOUT 60

struct httpd_config {
    const char *host;            /* numeric IPv4/IPv6 address ("::1", brackets allowed) or
                                  * host name; NULL, "" or "*": all interfaces (dual-stack
                                  * IPv6, or IPv4 when IPv6 is unavailable) */
    int port;                    /* 0: an ephemeral port (see httpd_port) */
    httpd_handler_fn handler;
    void *data;                  /* passed to handler */
    size_t max_body;             /* bigger request bodies get 413; 0: 1 MiB */
    unsigned max_connections;    /* 0: HTTPD_DEFAULT_MAX_CONNECTIONS */
    unsigned timeout;            /* idle connection timeout in seconds; 0: 60 */
    const char *logger;          /* logger name for MHD's messages; NULL: "cicada.httpd" */
    int log_level;               /* level of MHD's messages; 0: LOG_DEBUG, because nearly
                                  * all are about one client that hung up or misbehaved,
                                  * which a load test's target sees all the time */
    const char *const *error_headers; /* name, value, ..., NULL: added to the answers the
                                  * server gives itself (413, 500, 503), which are JSON
                                  * {"success": false, "message": ...} like the API's */
    const char *tls_cert_pem;    /* both set: serve HTTPS with this certificate chain and */
    const char *tls_key_pem;     /* private key (PEM text, copied by MHD at start) */
};

/* Opens the listening socket and starts serving on loop. The config is copied (the host
 * string need not outlive the call; error_headers must live as long as the server). Returns NULL with one line in err, formatted
 * "<step> <address>: <reason>" where step is resolve, socket, bind, listen, tls or start,
 * for example "bind 127.0.0.1:8089: Address already in use". */
struct httpd *httpd_start(struct ev_loop *loop, const struct httpd_config *cfg,
                          char *err, size_t errlen);

/* Stops serving and frees everything. Requests still waiting are answered at once:
 * with their response when the application gave one (a delay is cut short), else 503
 * after their abort callback. Open connections are closed. Must not be called from
 * inside a handler. NULL is allowed. */
void httpd_stop(struct httpd *srv);

/* The bound port (the real one when the config asked for 0). */
int httpd_port(const struct httpd *srv);

/* TCP connections accepted since start. */
unsigned long long httpd_connections(const struct httpd *srv);

/* Request method ("GET") and URL path without the query string, %-decoded. Owned by
 * the request. */
const char *httpd_method(const struct httpd_req *req);
const char *httpd_path(const struct httpd_req *req);

/* Looks up a query-string argument, a header (case-insensitive name) or a cookie.
 * Returns NULL when absent (a query argument given without "=" also counts as absent).
 * The value is decoded and owned by the request. */
const char *httpd_query(const struct httpd_req *req, const char *name);
const char *httpd_header(const struct httpd_req *req, const char *name);
const char *httpd_cookie(const struct httpd_req *req, const char *name);

/* The request body, NUL-terminated for convenience (it may also contain NULs). *len
 * gets its length when len is not NULL. Owned by the request; "" when there was none. */
const char *httpd_body(const struct httpd_req *req, size_t *len);

/* Looks up a field of an application/x-www-form-urlencoded body ("a=1&b=x+y"), decoded.
 * Returns NULL when absent. Owned by the request. */
const char *httpd_form(struct httpd_req *req, const char *name);

/* Adds a response header (copied). Call before httpd_respond. */
void httpd_add_header(struct httpd_req *req, const char *name, const char *value);

/* How httpd_respond treats the body. */
enum httpd_mem {
    HTTPD_COPY,     /* copied now */
    HTTPD_STATIC,   /* used in place: must stay valid and unchanged until httpd_stop */
    HTTPD_TAKE,     /* ownership passes to the server, which free()s it */
};

/* Answers the request: status, Content-Type (NULL: none) and body. Call exactly once per
 * request; afterwards the request belongs to the server and must not be touched. */
void httpd_respond(struct httpd_req *req, int status, const char *content_type,
                   const void *body, size_t len, enum httpd_mem mem);

/* Holds the response back until `seconds` from now (a timer on the loop; the connection
 * is suspended meanwhile, the loop never sleeps). The handler may still respond at once;
 * the response leaves when both the delay has passed and it was given. */
void httpd_delay(struct httpd_req *req, double seconds);

/* Lets the handler return without responding: the connection stays suspended until the
 * application calls httpd_respond from a later callback on the same loop. If the server
 * stops first, on_abort (may be NULL) is called with data. */
void httpd_defer(struct httpd_req *req, httpd_abort_fn on_abort, void *data);

#endif
