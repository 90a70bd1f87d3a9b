/* cicada.h: user behaviour in plain C (docs/c-api.md).
 *
 * A C locustfile defines user classes whose tasks read top to bottom: cicada_http,
 * cicada_sleep and cicada_wait_fd suspend the calling user until the network, the timer
 * or the file descriptor is ready, while thousands of other users run on the same thread.
 * Run it with `cicada -f mytest.c` (compiled and cached for you) or `-f mytest.so`, alone
 * or with JSON scenarios (`-f a.json,b.c`).
 *
 *     #include <cicada.h>
 *
 *     static void browse(cicada_user *u)
 *     {
 *         cicada_response r;
 *         cicada_http(u, &(cicada_request){.url = "/api/products"}, &r);
 *     }
 *
 *     static const cicada_task tasks[] = {{.name = "browse", .weight = 1, .fn = browse}};
 *
 *     static int setup(cicada_registry *reg)
 *     {
 *         return cicada_add_class(reg, &(cicada_class){
 *             .name = "Browser", .weight = 1, .wait = CICADA_WAIT_BETWEEN, .wait_a = 0.5,
 *             .wait_b = 1.5, .tasks = tasks, .ntasks = 1});
 *     }
 *     CICADA_PLUGIN(setup)
 *
 * Rules (the model's limits): task code runs on a small stack of its own (64 KiB: keep big
 * buffers off it, use cicada_context); it must never block the thread (no sleep(), no
 * blocking read(), no blocking DNS): wait with the functions marked "suspends". Functions
 * marked "task only" return CICADA_MISUSE (and log why) when called anywhere else.
 * Strings passed in are copied or used only during the call unless said otherwise;
 * strings returned are owned by cicada and valid until the user's next suspending call. */
#ifndef CICADA_H
#define CICADA_H

#include <stddef.h>

#define CICADA_API_VERSION 2

/* Return codes. */
enum {
    CICADA_OK = 0,
    CICADA_FAILED = -1,     /* the request could not even start (see the log) */
    CICADA_STOPPED = -2,    /* the user is being stopped: return from the task */
    CICADA_TIMEOUT = -3,    /* cicada_wait_fd: the timeout passed first */
    CICADA_MISUSE = -4,     /* called outside a task, or with bad arguments */
};

/* One simulated user (opaque). Valid during the calls cicada makes with it. */
typedef struct user cicada_user;

/* A task, on_start or on_stop: runs on the user's own coroutine. */
typedef void (*cicada_task_fn)(cicada_user *u);

typedef struct cicada_task {
    const char *name;       /* shown in ratios and exception locations */
    int weight;             /* >= 1 (0 counts as 1) */
    cicada_task_fn fn;
    const char *tags;       /* comma-separated, for -T/-E; may be NULL */
} cicada_task;

enum cicada_wait {
    CICADA_WAIT_CONSTANT,   /* wait_a seconds between tasks */
    CICADA_WAIT_BETWEEN,    /* uniformly between wait_a and wait_b */
    CICADA_WAIT_PACING,     /* a task starts every wait_a seconds (constant_pacing) */
    CICADA_WAIT_THROUGHPUT, /* wait_a tasks per second per user (constant_throughput) */
};

/* A user class, as Locust's User. Everything is copied by cicada_add_class except the
 * task functions. */
typedef struct cicada_class {
    const char *name;       /* unique among all classes of the test */
    int weight;             /* >= 0 */
    int fixed_count;        /* > 0: exactly this many users, weight ignored */
    const char *host;       /* base URL for relative URLs; NULL: --host or the form's */
    enum cicada_wait wait;
    double wait_a, wait_b;
    int sequential;         /* tasks in order (each `weight` times) instead of at random */
    cicada_task_fn on_start, on_stop;   /* may be NULL */
    const cicada_task *tasks;
    int ntasks;             /* >= 1 */
    size_t context_size;    /* bytes of zeroed per-user memory (cicada_context) */
} cicada_class;

/* What the plugin's setup function registers into (opaque). */
typedef struct cicada_registry cicada_registry;

/* Adds a user class. Returns CICADA_OK, or CICADA_MISUSE (logged) for a bad class. */
int cicada_add_class(cicada_registry *reg, const cicada_class *cls);

/* Event hooks (Locust's events). info is NULL except for CICADA_ON_REQUEST. */
enum cicada_event {
    CICADA_ON_TEST_START,   /* a test starts (statistics were just cleared) */
    CICADA_ON_TEST_STOP,    /* every user has stopped */
    CICADA_ON_SPAWNING_COMPLETE, /* the ramp is done */
    CICADA_ON_REQUEST,      /* after every request of any user, JSON or C */
};

typedef struct cicada_request_info {
    const char *type;       /* "GET", "POST", "redis", ... */
    const char *name;
    double response_time_ms;/* < 0: none */
    size_t size;
    const char *error;      /* NULL on success */
} cicada_request_info;

typedef void (*cicada_hook_fn)(void *data, const cicada_request_info *info);

/* Registers fn for an event; called on the loop, never on a task's stack. The plugin's
 * setup function itself is the "init" event. */
int cicada_on(cicada_registry *reg, enum cicada_event ev, cicada_hook_fn fn, void *data);

/* The plugin's entry: CICADA_PLUGIN(setup) defines it, with the API version cicada
 * checks before calling setup. */
#define CICADA_PLUGIN(setup)                                                               \
    const int cicada_plugin_api = CICADA_API_VERSION;                                      \
    int cicada_plugin_setup(cicada_registry *reg);                                         \
    int cicada_plugin_setup(cicada_registry *reg) { return setup(reg); }

/* ---- inside tasks ------------------------------------------------------------------ */

/* Which connection a request goes over (a scenario's "connection"). */
enum cicada_connection {
    CICADA_CONN_USER = 0,   /* keep-alive, one connection per user (Locust, k6) */
    CICADA_CONN_SHARED,     /* keep-alive from a pool shared by users */
    CICADA_CONN_REQUEST,    /* a new connection for every request */
};

typedef struct cicada_request {
    const char *method;     /* NULL: "GET" */
    const char *url;        /* absolute, or relative to the class's host */
    const char *const *headers; /* NULL-terminated "Name: value" lines; may be NULL */
    const char *body;       /* may be NULL; not copied: valid until the call returns */
    size_t body_len;
    const char *name;       /* statistics name; NULL: the URL's path and query */
    double timeout;         /* seconds; 0: 60 */
    int no_redirects;       /* 1: do not follow redirects */
    int manual;             /* 1: do not report; cicada_success/cicada_failure decide */
    /* The HTTP options of a scenario request (docs/scenario.md, "HTTP options"). The
     * strings are read during the call only. */
    int http2;              /* 1: HTTP/2 (ALPN on https://, prior knowledge on http://);
                             * 0: HTTP/1.1, as Locust */
    int insecure;           /* 1: do not verify the server's TLS certificate */
    const char *client_cert;/* PEM file of a client certificate, or NULL */
    const char *client_key; /* its key; NULL: in the certificate file */
    const char *auth;       /* "user:password" for Basic authentication, or NULL */
    int connection;         /* enum cicada_connection: which connection the request uses */
} cicada_request;

typedef struct cicada_response {
    long status;            /* 0 without a response */
    const char *body;       /* NUL-terminated (up to 16 MiB kept) */
    size_t body_len;
    int truncated;          /* 1: the body was longer than 16 MiB and was cut there */
    double response_time_ms;
    const char *error;      /* the failure text by Locust's rules (HTTP status >= 400,
                             * connection errors), or NULL */
} cicada_response;

/* Sends a request and suspends until the response. Reported to the statistics with
 * Locust's HttpUser rules unless req->manual. Task only. Returns CICADA_OK (a failed
 * request is still OK: see res->error), CICADA_FAILED, CICADA_STOPPED or CICADA_MISUSE. */
int cicada_http(cicada_user *u, const cicada_request *req, cicada_response *res);

/* A response header of the last request, or NULL. */
const char *cicada_header(cicada_user *u, const char *name);

/* For a manual request (req->manual): report it as a success, or as a failure with text
 * (copied), as Locust's catch_response. Once per request. */
void cicada_success(cicada_user *u);
void cicada_failure(cicada_user *u, const char *text);

/* Records a request of any protocol: type ("redis"), name, time in ms (< 0: none), size,
 * error text (NULL: success). Anywhere. */
void cicada_report(cicada_user *u, const char *type, const char *name, double rt_ms,
                   size_t size, const char *error);

/* Suspends for seconds. Task only. CICADA_OK, CICADA_STOPPED or CICADA_MISUSE. */
int cicada_sleep(cicada_user *u, double seconds);

/* Suspends until fd is ready (events: 1 read, 2 write, 3 both) or timeout seconds pass
 * (0: no timeout). The fd should be non-blocking. Task only. Returns the ready events
 * (> 0), CICADA_TIMEOUT, CICADA_STOPPED or CICADA_MISUSE. */
int cicada_wait_fd(cicada_user *u, int fd, int events, double timeout);

/* Records an exception (something that stopped the task) with where it happened. */
void cicada_exception(cicada_user *u, const char *msg, const char *where);

/* The user's zeroed memory of the class's context_size bytes (NULL for 0), kept until
 * the user ends. */
void *cicada_context(cicada_user *u);

/* Per-user variables of this C user: get returns NULL when unset; set copies the value. */
const char *cicada_get(cicada_user *u, const char *name);
int cicada_set(cicada_user *u, const char *name, const char *value);

/* 1-based, unique among live users; the worker's index in a distributed run (0 alone). */
unsigned cicada_user_index(cicada_user *u);
unsigned cicada_worker_index(cicada_user *u);
/* The host relative URLs go to (the class's, or --host), or NULL. */
const char *cicada_host(cicada_user *u);
/* Wall-clock seconds (the loop's time). */
double cicada_now(cicada_user *u);
/* Non-zero once the user is asked to stop: a long task should return. */
int cicada_stopping(cicada_user *u);

#endif
