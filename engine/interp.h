/* The scenario interpreter: runs a task's compiled steps as user task code.
 *
 * scenario.c compiles the JSON into these structures once, at load; nothing is parsed
 * while the test runs. Each request step carries everything libcurl needs (method, header
 * list, body) plus its statistics entry, so a step that runs a million times costs one
 * pointer handed to the user's HTTP client each time. Absolute URLs depend on the host,
 * which the web UI can change between tests, so interp_resolve rebuilds them per test.
 *
 * The interpreter only uses the user API (user.h), the same one C plugins use. */
#ifndef CICADA_INTERP_H
#define CICADA_INTERP_H

#include <stdbool.h>

#include "http.h"
#include "stats.h"
#include "user.h"

enum step_kind { STEP_REQUEST, STEP_THINK };

typedef struct req_step {
    char *method;               /* upper case, as sent */
    char *url;                  /* as written, query appended (relative or absolute) */
    char *name;                 /* statistics name; by default the URL's path and query */
    bool name_explicit;         /* given in the file (else derived per host) */
    struct curl_slist *headers; /* class defaults + step headers + content type; owned */
    char *body;                 /* owned; NULL = none */
    size_t body_len;
    long timeout_ms;
    bool follow;
    enum http_conn_mode conn;
    /* per test */
    char *abs_url;              /* owned; url resolved against the host */
    http_req req;               /* what the HTTP client gets */
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
} program;

/* Task body for utask.fn; data is a program. */
void interp_run(user *u, void *data);

/* Builds each request's absolute URL against host (NULL when none is known: relative URLs
 * are then an error). Returns 0, or -1 with "file:line:col: ..." in err. */
int interp_resolve(program *p, const char *host, char *err, size_t errlen);

/* Frees what a program owns (not the program struct itself). */
void interp_free(program *p);

/* Joins a base URL and a path the way Locust's HttpSession does ("http://h" + "/x"),
 * without doubling a slash. Returns a new string (caller frees), or the path itself
 * copied when it is already absolute. */
char *interp_join_url(const char *host, const char *path);

/* True for "http://..." and "https://..." (any case). */
bool interp_is_absolute(const char *url);

#endif
