/* Compiling a scenario's request steps (docs/scenario.md, "request"): URL, query, headers
 * and body with their templates, checks, captures, what a failure does, and HTTP options.
 * Everything is checked here, at load, with file:line:column errors; the interpreter
 * only runs what comes out. */
#ifndef CICADA_REQUEST_H
#define CICADA_REQUEST_H

#include "interp.h"
#include "json.h"
#include "jsonck.h"

/* What a request inherits from its class. */
typedef struct request_defaults {
    const json_value *headers;  /* the class's "headers" object, or NULL */
    long timeout_ms;
    bool follow;
    enum http_conn_mode conn;
    const http_opts *opts;      /* the class's HTTP options, or NULL for the defaults */
    const json_value *basic_auth; /* the class's "basic_auth" (templated per request), or NULL */
    enum on_failure on_failure;
    const char *base_dir;       /* the scenario file's directory, for relative paths */
} request_defaults;

/* Compiles v (a request object, or a "METHOD /url" string) into r, resolving template
 * names through scope (whose variables must already include every capture's name). */
int request_compile(jck *c, const json_value *v, const request_defaults *d, iscope *scope,
                    req_step *r);

/* The HTTP options in obj ("http_version", "verify_tls", "client_cert", "basic_auth") on
 * top of inherit. *out is NULL when obj sets none of them, else a new http_opts the caller
 * frees with request_opts_free. A basic_auth with placeholders leaves userpwd NULL: each
 * request compiles it as templates (request_compile). */
int request_opts(jck *c, const json_value *obj, const http_opts *inherit,
                 const char *base_dir, http_opts **out);
void request_opts_free(http_opts *o);

/* An HTTP method cicada sends: 1 to 32 letters, "-" or "_" (any case). */
bool request_method_ok(const char *m);

/* Checks a "headers" object: valid names, scalar values without line breaks. */
int request_check_headers(jck *c, const json_value *h);

/* The variables obj's captures define (its "capture" keys), as calls to fn. */
void request_capture_names(const json_value *v, void (*fn)(void *data, const char *name),
                           void *data);

/* A template compiled from a JSON string value, with errors placed in the file. */
int request_tpl(jck *c, const json_value *v, iscope *scope, tpl **out);

#endif
