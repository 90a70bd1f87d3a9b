/* The scenario interpreter: runs a task's compiled steps as user task code.
 *
 * scenario.c compiles the JSON into these structures once, at load; nothing is parsed
 * while the test runs. A step without templates carries everything libcurl needs (method,
 * header list, body) plus its statistics entry, so running it costs one pointer handed to
 * the user's HTTP client. A step with templates renders its URL, headers and body into
 * buffers of the user's own (grown once, then reused); checks and captures read the
 * response in place (JSON paths are scanned, not parsed into a tree).
 *
 * Absolute URLs depend on the host, which the web UI can change between tests, so
 * interp_resolve rebuilds them per test.
 *
 * The interpreter only uses the user API (user.h), the same one C plugins use. */
#ifndef CICADA_INTERP_H
#define CICADA_INTERP_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "data.h"
#include "http.h"
#include "jsonpath.h"
#include "stats.h"
#include "template.h"
#include "user.h"

enum step_kind { STEP_REQUEST, STEP_THINK };

/* What a failed request does to its task. */
enum on_failure { ON_FAILURE_CONTINUE, ON_FAILURE_END_TASK, ON_FAILURE_STOP_USER };

/* What a class's templates can name: its variables and the scenario's data sources. One
 * per class, shared by its programs; owned by the scenario. */
typedef struct iscope {
    char **vars;                /* variable names; a variable's slot is its index */
    int nvars;
    tpl_value *initial;         /* "variables": a starting value per slot (s NULL: none) */
    data_source **sources;      /* borrowed from the scenario */
    bool *per_task;             /* per source: a fresh row for every task */
    int nsources;
    unsigned worker_index;      /* for {{worker_index}} */
    /* Ends the whole test (test data ran out with on_exhausted: stop_test). */
    void (*stop_test)(void *data, const char *reason);
    void *stop_test_data;
} iscope;

enum check_kind { CHECK_STATUS, CHECK_BODY_CONTAINS, CHECK_BODY_NOT_CONTAINS, CHECK_JSON,
                  CHECK_HEADER, CHECK_MAX_TIME };
enum check_op { CHECK_EQUALS, CHECK_EXISTS, CHECK_ABSENT, CHECK_MATCHES };

typedef struct check {
    enum check_kind kind;
    enum check_op op;
    long *statuses;             /* CHECK_STATUS */
    int nstatuses;
    char *text;                 /* body substring or the literal to equal */
    char *header;               /* CHECK_HEADER: the header's name */
    size_t len;
    jpath *path;                /* CHECK_JSON */
    regex_t re;                 /* CHECK_MATCHES */
    bool has_re;
    int64_t max_us;             /* CHECK_MAX_TIME */
    char *label;                /* failure text: "$.token not found" */
} check;

enum capture_kind { CAPTURE_JSON, CAPTURE_HEADER, CAPTURE_REGEX, CAPTURE_COOKIE,
                    CAPTURE_STATUS };
enum capture_pick { PICK_FIRST, PICK_LAST, PICK_RANDOM };

typedef struct capture {
    char *var;                  /* variable name, for messages */
    int slot;
    enum capture_kind kind;
    jpath *path;                /* CAPTURE_JSON */
    enum capture_pick pick;
    char *name;                 /* CAPTURE_HEADER, CAPTURE_COOKIE */
    regex_t re;                 /* CAPTURE_REGEX */
    bool has_re;
    int group;
    char *def;                  /* default value (owned), or NULL */
    size_t def_len;
    bool required;              /* nothing found and no default: an exception */
} capture;

/* A name and a templated value (query parameters, form fields, dynamic headers). */
typedef struct tpl_pair {
    char *name;
    tpl *value;
    bool optional;              /* a class header: left out while its variables are unset */
} tpl_pair;

/* A JSON body with templates: literal JSON text between holes. A hole that is a whole
 * string ("{{id}}") takes the value's type; one inside a string is text. */
typedef struct json_hole {
    size_t at;                  /* offset in text where the hole goes */
    tpl *t;
    bool typed;
} json_hole;

enum body_kind { BODY_NONE, BODY_RAW, BODY_JSON, BODY_FORM };

typedef struct req_step {
    char *method;               /* upper case, as sent */
    char *url;                  /* as written, static query appended (relative/absolute) */
    char *name;                 /* statistics name; by default the URL's path and query */
    bool name_explicit;         /* given in the file (else derived per host) */
    struct curl_slist *headers; /* the static headers + content type; owned */
    char *body;                 /* a static body (owned); NULL = none or templated */
    size_t body_len;
    long timeout_ms;
    bool follow;
    enum http_conn_mode conn;
    const http_opts *opts;      /* the class's (owned by the scenario) or own_opts */
    http_opts *own_opts;        /* options this request sets itself (owned), or NULL */
    /* templates (all NULL/0 for a static request) */
    bool dynamic;
    tpl *url_tpl;               /* the URL without query */
    tpl_pair *query;            /* all query parameters when any is templated */
    int nquery;
    tpl_pair *dyn_headers;      /* headers with templated values */
    int ndyn_headers;
    enum body_kind body_kind;   /* for a templated body */
    tpl *raw_tpl;
    char *json_text;            /* BODY_JSON: literal text with holes */
    json_hole *holes;
    int nholes;
    tpl_pair *form;             /* BODY_FORM */
    int nform;
    /* Templated basic_auth: the user and password, or (auth[1] NULL) "user:password"
     * split at its first ':' once rendered. Sent with CURLOPT_USERNAME/PASSWORD from
     * the user's own buffers, so one user's credentials never reach another's request. */
    tpl *auth[2];
    bool auth_optional;         /* the class's: not sent while its variables are unset */
    /* response handling */
    check *checks;
    int nchecks;
    bool has_status_check;
    capture *captures;
    int ncaptures;
    bool needs_body;            /* checks or captures read the body */
    enum on_failure on_failure;
    /* per test */
    char *host;                 /* the base URL relative URLs join (owned), or NULL */
    char *abs_url;              /* owned; url resolved against the host */
    http_req req;               /* what the HTTP client gets (static requests) */
    stats_entry *entry;         /* resolved on first use; valid for the process */
} req_step;

typedef struct step {
    enum step_kind kind;
    char *where;                /* "file:line:col (task \"x\", step n)", for exceptions */
    req_step r;                 /* STEP_REQUEST */
    wait_spec think;            /* STEP_THINK: WAIT_CONSTANT or WAIT_BETWEEN */
} step;

/* A task's steps. Owned by the scenario. */
typedef struct program {
    step *steps;
    int n;
    const iscope *scope;        /* the class's */
} program;

/* Task body for utask.fn; data is a program. */
void interp_run(user *u, void *data);

/* uclass.user_cleanup for classes the interpreter runs: frees a user's variables and
 * buffers and gives back the test data rows it held. */
void interp_user_cleanup(user *u);

/* Builds each request's absolute URL against host (NULL when none is known: relative URLs
 * are then an error). Returns 0, or -1 with "file:line:col: ..." in err. */
int interp_resolve(program *p, const char *host, char *err, size_t errlen);

/* Frees what a program owns (not the program struct itself). */
void interp_free(program *p);

/* Frees what a scope owns (not the data sources). */
void interp_scope_free(iscope *s);

/* Joins a base URL and a path the way Locust's HttpSession does ("http://h" + "/x"),
 * without doubling a slash. Returns a new string (caller frees), or the path itself
 * copied when it is already absolute. */
char *interp_join_url(const char *host, const char *path);

/* The same join, appended to out, taking the first pl bytes of path (a request renders
 * its URL into a buffer the user keeps: no allocation per request). */
void interp_join_url_to(sbuf *out, const char *host, const char *path, size_t pl);

/* True for "http://..." and "https://..." (any case). */
bool interp_is_absolute(const char *url);

/* True when an absolute URL's host is a link-local IPv6 literal ([fe80::...]), whose
 * connections must keep the scope id the user gave (no per-user connection affinity). */
bool interp_link_local(const char *url);

/* application/x-www-form-urlencoded, as python-requests encodes params and form data. */
void interp_urlencode(sbuf *b, const char *s, size_t n);

#endif
