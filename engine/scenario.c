#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "data.h"
#include "interp.h"
#include "json.h"
#include "jsonck.h"
#include "log.h"
#include "request.h"
#include "sbuf.h"
#include "plugin.h"
#include "shape.h"
#include "threshold.h"
#include "xalloc.h"

/* What the scenario keeps per class (uclass.data). */
typedef struct sclass {
    char *file;             /* the file the class came from */
    char *file_host;        /* that file's top-level "host", or NULL */
    iscope scope;           /* the class's variables and the file's data sources */
    http_opts *opts;        /* the class's HTTP options, or NULL */
    program on_start, on_stop;
    program *progs;         /* one per task, file order */
    utask *all_tasks;       /* before tag filtering */
    int nall_tasks;
} sclass;

/* Loading context: where we are, and what steps inherit from their class. */
typedef struct ctx {
    jck j;
    char *dir;              /* the file's directory, for relative paths */
    request_defaults defaults;
    iscope *scope;
    data_source **sources;  /* the file's data sources (owned by the scenario) */
    bool *per_task;         /* per source: a fresh row for every task */
    int nsources;
    const scenario_opts *opts;
} ctx;

static bool valid_host(const char *h)
{
    if (!interp_is_absolute(h))
        return false;
    for (const unsigned char *p = (const unsigned char *)h; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    /* A base URL needs a host name: "http://:80" and "http://user@/" have none. */
    const char *p = strstr(h, "://") + 3;
    size_t authority = strcspn(p, "/?#");
    const char *at = memchr(p, '@', authority);
    if (at) {
        authority -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (authority && *p == '[')
        return authority > 2 && memchr(p, ']', authority) != NULL;
    size_t name = strcspn(p, ":/?#");
    return name > 0 && name <= authority;
}

/* ---- steps -------------------------------------------------------------------------- */

static int compile_between(ctx *c, const json_value *a, wait_spec *w)
{
    if (a->type != JSON_ARRAY || a->arr.count != 2)
        return jck_fail(&c->j, a->line, a->col, "\"between\" must be [min, max] in seconds");
    w->kind = WAIT_BETWEEN;
    if (jck_number_value(&c->j, &a->arr.items[0], "min", 0, false, &w->a) ||
        jck_number_value(&c->j, &a->arr.items[1], "max", 0, false, &w->b))
        return -1;
    if (w->b < w->a)
        return jck_fail(&c->j, a->line, a->col, "\"between\": max (%g) is less than min (%g)",
                        w->b, w->a);
    return 0;
}

static int compile_think(ctx *c, const json_value *v, wait_spec *w)
{
    if (v->type == JSON_NUMBER) {
        w->kind = WAIT_CONSTANT;
        return jck_number_value(&c->j, v, "think", 0, false, &w->a);
    }
    if (v->type != JSON_OBJECT)
        return jck_wrong_type(&c->j, v, "think",
                              "a number of seconds or {\"between\": [min, max]}");
    static const char *const keys[] = {"constant", "between", NULL};
    if (jck_keys(&c->j, v, "think", keys))
        return -1;
    if (v->obj.count != 1)
        return jck_fail(&c->j, v->line, v->col,
                        "\"think\" takes exactly one of \"constant\" or \"between\"");
    const json_member *m = &v->obj.members[0];
    if (strcmp(m->key, "constant") == 0) {
        w->kind = WAIT_CONSTANT;
        return jck_number_value(&c->j, &m->value, "constant", 0, false, &w->a);
    }
    return compile_between(c, &m->value, w);
}

/* key names the array in errors: "steps", "on_start" or "on_stop". */
static int compile_steps(ctx *c, const json_value *arr, const char *key, program *p,
                         const char *where)
{
    p->scope = c->scope;
    if (arr->type != JSON_ARRAY)
        return jck_wrong_type(&c->j, arr, key, "an array of steps");
    p->n = (int)arr->arr.count;
    p->steps = xcalloc(arr->arr.count ? arr->arr.count : 1, sizeof *p->steps);
    static const char *const step_keys[] = {"request", "think", "description", NULL};
    for (size_t i = 0; i < arr->arr.count; i++) {
        const json_value *sv = &arr->arr.items[i];
        step *s = &p->steps[i];
        sbuf w = SBUF_INIT;
        sbuf_printf(&w, "%s:%u:%u (%s, step %zu)", c->j.path, sv->line, sv->col, where, i + 1);
        s->where = sbuf_take(&w);
        if (sv->type != JSON_OBJECT)
            return jck_wrong_type(&c->j, sv, "step", "an object such as {\"request\": ...}");
        if (jck_keys(&c->j, sv, "step", step_keys))
            return -1;
        const json_value *req = json_get(sv, "request"), *think = json_get(sv, "think");
        const char *desc = NULL;
        if (jck_string(&c->j, sv, "description", &desc))
            return -1;
        if (!req == !think)
            return jck_fail(&c->j, sv->line, sv->col,
                            "a step needs exactly one action: \"request\" or \"think\"");
        if (req) {
            s->kind = STEP_REQUEST;
            if (request_compile(&c->j, req, &c->defaults, c->scope, &s->r))
                return -1;
        } else {
            s->kind = STEP_THINK;
            if (compile_think(c, think, &s->think))
                return -1;
        }
    }
    return 0;
}

/* ---- classes and tasks -------------------------------------------------------------- */

static int compile_wait(ctx *c, const json_value *v, wait_spec *w)
{
    if (v->type == JSON_NUMBER) {
        w->kind = WAIT_CONSTANT;
        return jck_number_value(&c->j, v, "wait_time", 0, false, &w->a);
    }
    if (v->type != JSON_OBJECT)
        return jck_wrong_type(&c->j, v, "wait_time",
                              "a number or one of {\"constant\": s}, {\"between\": [min, "
                              "max]}, {\"constant_pacing\": s}, {\"constant_throughput\": n}");
    static const char *const keys[] = {"constant", "between", "constant_pacing",
                                       "constant_throughput", NULL};
    if (jck_keys(&c->j, v, "wait_time", keys))
        return -1;
    if (v->obj.count != 1)
        return jck_fail(&c->j, v->line, v->col, "\"wait_time\" takes exactly one kind of wait");
    const json_member *m = &v->obj.members[0];
    if (strcmp(m->key, "between") == 0)
        return compile_between(c, &m->value, w);
    if (strcmp(m->key, "constant") == 0) {
        w->kind = WAIT_CONSTANT;
        return jck_number_value(&c->j, &m->value, "constant", 0, false, &w->a);
    }
    w->kind = strcmp(m->key, "constant_pacing") == 0 ? WAIT_PACING : WAIT_THROUGHPUT;
    return jck_number_value(&c->j, &m->value, m->key, 0, true, &w->a);
}

static bool name_ok(const char *s)
{
    if (!*s || strlen(s) > 200)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
            return false;
    return true;
}

/* Locust names a task after its function; ours default to the first request. */
static char *default_task_name(const program *p, int index)
{
    for (int i = 0; i < p->n; i++)
        if (p->steps[i].kind == STEP_REQUEST) {
            const req_step *r = &p->steps[i].r;
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "%s %s", r->method, r->name ? r->name : r->url);
            return sbuf_take(&b);
        }
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "task %d", index + 1);
    return sbuf_take(&b);
}

static int compile_task(ctx *c, const json_value *tv, const char *cls, int index, utask *t,
                        program *p)
{
    static const char *const keys[] = {"name", "description", "weight", "tags", "steps",
                                       "request", NULL};
    p->scope = c->scope;
    if (tv->type != JSON_OBJECT)
        return jck_wrong_type(&c->j, tv, "task", "an object");
    if (jck_keys(&c->j, tv, "task", keys))
        return -1;
    const char *name = NULL, *desc = NULL;
    long weight = 1;
    if (jck_string(&c->j, tv, "name", &name) || jck_string(&c->j, tv, "description", &desc) ||
        jck_int(&c->j, tv, "weight", 1, 1000000, &weight))
        return -1;
    if (name && !*name) {
        const json_value *nv = json_get(tv, "name");
        return jck_fail(&c->j, nv->line, nv->col, "task \"name\" must not be empty");
    }
    t->weight = (int)weight;
    const json_value *tags = json_get(tv, "tags");
    if (tags) {
        if (tags->type != JSON_ARRAY)
            return jck_wrong_type(&c->j, tags, "tags", "an array of strings");
        t->tags = xcalloc(tags->arr.count + 1, sizeof *t->tags);
        for (size_t i = 0; i < tags->arr.count; i++) {
            const json_value *g = &tags->arr.items[i];
            if (g->type != JSON_STRING)
                return jck_wrong_type(&c->j, g, "tags", "an array of strings");
            if (!g->str.len || strlen(g->str.s) != g->str.len)
                return jck_fail(&c->j, g->line, g->col,
                                "a tag must be a non-empty string without NUL");
            t->tags[t->ntags++] = xstrdup(g->str.s);
        }
    }
    const json_value *steps = json_get(tv, "steps"), *req = json_get(tv, "request");
    if (!steps == !req)
        return jck_fail(&c->j, tv->line, tv->col,
                        "a task needs \"steps\" or a single \"request\"");
    sbuf where = SBUF_INIT;
    if (name)
        sbuf_printf(&where, "user class \"%s\", task \"%s\"", cls, name);
    else
        sbuf_printf(&where, "user class \"%s\", task %d", cls, index + 1);
    int rc;
    if (steps) {
        rc = compile_steps(c, steps, "steps", p, sbuf_str(&where));
        if (rc == 0 && p->n == 0)
            rc = jck_fail(&c->j, steps->line, steps->col, "a task needs at least one step");
    } else {
        p->n = 1;
        p->steps = xcalloc(1, sizeof *p->steps);
        p->steps[0].kind = STEP_REQUEST;
        sbuf w = SBUF_INIT;
        sbuf_printf(&w, "%s:%u:%u (%s)", c->j.path, req->line, req->col, sbuf_str(&where));
        p->steps[0].where = sbuf_take(&w);
        rc = request_compile(&c->j, req, &c->defaults, c->scope, &p->steps[0].r);
    }
    sbuf_free(&where);
    if (rc)
        return -1;
    t->name = name ? xstrdup(name) : default_task_name(p, index);
    t->fn = interp_run;
    t->data = p;
    return 0;
}

/* ---- variables ---------------------------------------------------------------------- */

static bool var_name_ok(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return strcmp(s, "user_index") != 0 && strcmp(s, "worker_index") != 0;
}

/* Why var_name_ok refused s, for the error. */
static const char *var_name_rule(const char *s)
{
    if (strcmp(s, "user_index") == 0 || strcmp(s, "worker_index") == 0)
        return "user_index and worker_index are built into templates";
    return "letters, digits and '_', not starting with a digit";
}

/* The member named name of the first "capture" object inside v, so an error about a
 * captured variable points at the capture rather than at its class. */
static const json_member *capture_member(const json_value *v, const char *name)
{
    const json_member *r;
    if (v->type == JSON_ARRAY) {
        for (size_t i = 0; i < v->arr.count; i++)
            if ((r = capture_member(&v->arr.items[i], name)))
                return r;
    } else if (v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->obj.count; i++) {
            const json_member *m = &v->obj.members[i];
            if (strcmp(m->key, "capture") == 0 && m->value.type == JSON_OBJECT)
                for (size_t k = 0; k < m->value.obj.count; k++)
                    if (strcmp(m->value.obj.members[k].key, name) == 0)
                        return &m->value.obj.members[k];
            if ((r = capture_member(&m->value, name)))
                return r;
        }
    }
    return NULL;
}

static void scope_add(void *data, const char *name)
{
    iscope *s = data;
    for (int i = 0; i < s->nvars; i++)
        if (strcmp(s->vars[i], name) == 0)
            return;
    s->vars = xrealloc(s->vars, (size_t)(s->nvars + 1) * sizeof *s->vars);
    s->initial = xrealloc(s->initial, (size_t)(s->nvars + 1) * sizeof *s->initial);
    s->vars[s->nvars] = xstrdup(name);
    s->initial[s->nvars] = (tpl_value){NULL, 0, false};
    s->nvars++;
}

/* Capture names in a list of steps (their requests' "capture" keys). */
static void collect_captures(const json_value *steps, iscope *s)
{
    if (!steps || steps->type != JSON_ARRAY)
        return;
    for (size_t i = 0; i < steps->arr.count; i++) {
        const json_value *req = json_get(&steps->arr.items[i], "request");
        if (req)
            request_capture_names(req, scope_add, s);
    }
}

/* The class's variables, before anything is compiled: "variables" with their starting
 * values, then every capture's name, so templates can be checked against them. */
static int build_scope(ctx *c, const json_value *cv, iscope *s)
{
    const json_value *vars = json_get(cv, "variables");
    if (vars) {
        if (vars->type != JSON_OBJECT)
            return jck_wrong_type(&c->j, vars, "variables",
                                  "an object of variable names and starting values");
        for (size_t i = 0; i < vars->obj.count; i++) {
            const json_member *m = &vars->obj.members[i];
            if (!var_name_ok(m->key))
                return jck_fail(&c->j, m->line, m->col, "\"%s\" is not a variable name (%s)",
                                m->key, var_name_rule(m->key));
            const char *t;
            size_t n;
            if (jck_scalar_text(&c->j, &m->value, "a variable's starting value", &t, &n))
                return -1;
            scope_add(s, m->key);
            s->initial[s->nvars - 1] = (tpl_value){xmemdup(t, n + 1), n,
                                                   m->value.type != JSON_STRING};
            ((char *)s->initial[s->nvars - 1].s)[n] = '\0';
        }
    }
    collect_captures(json_get(cv, "on_start"), s);
    collect_captures(json_get(cv, "on_stop"), s);
    const json_value *tasks = json_get(cv, "tasks");
    for (size_t i = 0; tasks && tasks->type == JSON_ARRAY && i < tasks->arr.count; i++) {
        const json_value *tv = &tasks->arr.items[i];
        collect_captures(json_get(tv, "steps"), s);
        const json_value *req = json_get(tv, "request");
        if (req)
            request_capture_names(req, scope_add, s);
    }
    for (int i = 0; i < s->nvars; i++)
        if (!var_name_ok(s->vars[i])) {
            const json_member *m = capture_member(cv, s->vars[i]);
            return jck_fail(&c->j, m ? m->line : cv->line, m ? m->col : cv->col,
                            "\"%s\" cannot be captured: not a variable name (%s)",
                            s->vars[i], var_name_rule(s->vars[i]));
        }
    s->sources = c->nsources ? xmemdup(c->sources, (size_t)c->nsources * sizeof *c->sources)
                             : NULL;
    s->nsources = c->nsources;
    s->per_task = xcalloc((size_t)c->nsources + 1, sizeof *s->per_task);
    if (c->nsources)
        memcpy(s->per_task, c->per_task, (size_t)c->nsources * sizeof *s->per_task);
    s->worker_index = c->opts->worker_index;
    return 0;
}

static const char *const class_keys[] = {
    "name", "description", "weight", "fixed_count", "host", "headers", "wait_time",
    "sequential", "timeout", "redirects", "connection", "on_failure", "http_version",
    "verify_tls", "client_cert", "basic_auth", "variables", "on_start", "on_stop", "tasks",
    NULL};

static int class_defaults(ctx *c, const json_value *cv, sclass *sc)
{
    request_defaults *d = &c->defaults;
    memset(d, 0, sizeof *d);
    d->timeout_ms = (long)(SCENARIO_DEFAULT_TIMEOUT * 1000);
    d->follow = true;
    d->conn = HTTP_CONN_USER;
    d->base_dir = c->dir;
    double t = -1;
    static const char *const conns[] = {"user", "shared", "request", NULL};
    static const char *const failures[] = {"continue", "end_task", "stop_user", NULL};
    int conn = 0, on_failure = 0;
    if (jck_number(&c->j, cv, "timeout", 0, true, &t) ||
        jck_bool(&c->j, cv, "redirects", &d->follow) ||
        jck_choice(&c->j, cv, "connection", conns, &conn) ||
        jck_choice(&c->j, cv, "on_failure", failures, &on_failure) ||
        request_opts(&c->j, cv, NULL, c->dir, &sc->opts))
        return -1;
    if (t > 0)
        d->timeout_ms = t * 1000 > (double)LONG_MAX / 2 ? LONG_MAX / 2 : (long)ceil(t * 1000);
    d->conn = conn == 0 ? HTTP_CONN_USER : conn == 1 ? HTTP_CONN_SHARED : HTTP_CONN_REQUEST;
    d->on_failure = (enum on_failure)on_failure;
    d->opts = sc->opts;
    d->basic_auth = json_get(cv, "basic_auth");
    d->headers = json_get(cv, "headers");
    return d->headers ? request_check_headers(&c->j, d->headers) : 0;
}

static int compile_class(ctx *c, const json_value *cv, const char *file_host, uclass *u)
{
    sclass *sc = xcalloc(1, sizeof *sc);
    u->data = sc;
    u->user_cleanup = interp_user_cleanup;
    sc->file = xstrdup(c->j.path);
    sc->file_host = file_host ? xstrdup(file_host) : NULL;
    c->scope = &sc->scope;
    if (cv->type != JSON_OBJECT)
        return jck_wrong_type(&c->j, cv, "user class", "an object");
    if (jck_keys(&c->j, cv, "user class", class_keys))
        return -1;
    const char *name = NULL, *host = NULL, *desc = NULL;
    long weight = 1, fixed = 0;
    if (jck_string(&c->j, cv, "name", &name) || jck_string(&c->j, cv, "description", &desc) ||
        jck_int(&c->j, cv, "weight", 0, 1000000, &weight) ||
        jck_int(&c->j, cv, "fixed_count", 0, 10000000, &fixed) ||
        jck_string(&c->j, cv, "host", &host) ||
        jck_bool(&c->j, cv, "sequential", &u->sequential))
        return -1;
    if (!name)
        return jck_fail(&c->j, cv->line, cv->col, "user class needs a \"name\"");
    if (!name_ok(name)) {
        const json_value *nv = json_get(cv, "name");
        return jck_fail(&c->j, nv->line, nv->col,
                        "user class name \"%s\" may only hold letters, digits, '_', '-' and "
                        "'.'", name);
    }
    u->name = xstrdup(name);
    u->weight = (int)weight;
    u->fixed_count = (int)fixed;
    if (host) {
        if (!valid_host(host)) {
            const json_value *hv = json_get(cv, "host");
            return jck_fail(&c->j, hv->line, hv->col,
                            "\"host\" must be a base URL such as \"http://127.0.0.1:8080\"");
        }
        u->host = xstrdup(host);
    }
    const json_value *wv = json_get(cv, "wait_time");
    if ((wv && compile_wait(c, wv, &u->wait)) || class_defaults(c, cv, sc) ||
        build_scope(c, cv, &sc->scope))
        return -1;

    sbuf where = SBUF_INIT;
    int rc = 0;
    const json_value *on_start = json_get(cv, "on_start"), *on_stop = json_get(cv, "on_stop");
    if (on_start) {
        sbuf_printf(&where, "user class \"%s\", on_start", name);
        rc = compile_steps(c, on_start, "on_start", &sc->on_start, sbuf_str(&where));
        u->on_start = (utask){.name = xstrdup("on_start"), .weight = 1, .fn = interp_run,
                              .data = &sc->on_start};
    }
    if (rc == 0 && on_stop) {
        sbuf_reset(&where);
        sbuf_printf(&where, "user class \"%s\", on_stop", name);
        rc = compile_steps(c, on_stop, "on_stop", &sc->on_stop, sbuf_str(&where));
        u->on_stop = (utask){.name = xstrdup("on_stop"), .weight = 1, .fn = interp_run,
                             .data = &sc->on_stop};
    }
    sbuf_free(&where);
    if (rc)
        return -1;

    const json_value *tasks = json_get(cv, "tasks");
    if (!tasks)
        return jck_fail(&c->j, cv->line, cv->col, "user class \"%s\" needs \"tasks\"", name);
    if (tasks->type != JSON_ARRAY || tasks->arr.count == 0)
        return jck_fail(&c->j, tasks->line, tasks->col,
                        "\"tasks\" must be a non-empty array of tasks");
    size_t n = tasks->arr.count;
    sc->progs = xcalloc(n, sizeof *sc->progs);
    sc->all_tasks = xcalloc(n, sizeof *sc->all_tasks);
    for (size_t i = 0; i < n; i++) {
        sc->nall_tasks = (int)i + 1;
        if (compile_task(c, &tasks->arr.items[i], name, (int)i, &sc->all_tasks[i],
                         &sc->progs[i]))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(sc->all_tasks[j].name, sc->all_tasks[i].name) == 0) {
                const json_value *tv = &tasks->arr.items[i];
                return jck_fail(&c->j, tv->line, tv->col,
                                "two tasks of user class \"%s\" are named \"%s\"; give them "
                                "distinct \"name\"s", name, sc->all_tasks[i].name);
            }
    }
    return 0;
}

static void free_task(utask *t)
{
    free(t->name);
    for (int i = 0; i < t->ntags; i++)
        free(t->tags[i]);
    free(t->tags);
}

static void free_class(uclass *u)
{
    sclass *sc = u->data;
    free(u->name);
    free(u->host);
    free(u->base_host);
    free(u->tasks);
    free_task(&u->on_start);
    free_task(&u->on_stop);
    user_class_release(u);
    if (!sc)
        return;
    interp_free(&sc->on_start);
    interp_free(&sc->on_stop);
    for (int i = 0; i < sc->nall_tasks; i++) {
        free_task(&sc->all_tasks[i]);
        if (sc->progs)
            interp_free(&sc->progs[i]);
    }
    interp_scope_free(&sc->scope);
    request_opts_free(sc->opts);
    free(sc->all_tasks);
    free(sc->progs);
    free(sc->file);
    free(sc->file_host);
    free(sc);
}

void scenario_free(scenario *sc)
{
    if (!sc)
        return;
    for (int i = 0; i < sc->nall; i++)
        free_class(&sc->all[i]);
    for (int i = 0; i < sc->nsources; i++)
        data_free(sc->sources[i]);
    free(sc->sources);
    free(sc->all);
    free(sc->run);
    free(sc->files);
    sbuf_free(&sc->deps);
    shape_free(&sc->shape);
    threshold_set_free(&sc->thresholds);
    arrival_free(&sc->arrival);
    for (int i = 0; i < sc->nplugins; i++) {
        capi_registry_free(sc->plugins[i]);
        free(sc->plugins[i]);
    }
    free(sc->plugins);
    free(sc);
}

/* ---- test data ---------------------------------------------------------------------- */

static int load_data(ctx *c, const json_value *data, scenario *sc)
{
    if (data->type != JSON_OBJECT)
        return jck_wrong_type(&c->j, data, "data", "an object of data source names");
    static const char *const keys[] = {"file", "mode", "per", "on_exhausted", "description",
                                       NULL};
    static const char *const modes[] = {"sequential", "random", "unique", NULL};
    static const char *const pers[] = {"user", "task", NULL};
    static const char *const outs[] = {"recycle", "stop_user", "stop_test", NULL};
    c->sources = xcalloc(data->obj.count + 1, sizeof *c->sources);
    c->per_task = xcalloc(data->obj.count + 1, sizeof *c->per_task);
    for (size_t i = 0; i < data->obj.count; i++) {
        const json_member *m = &data->obj.members[i];
        const json_value *v = &m->value;
        if (!var_name_ok(m->key))
            return jck_fail(&c->j, m->line, m->col, "\"%s\" is not a data source name "
                            "(letters, digits and '_')", m->key);
        for (int k = 0; k < sc->nsources; k++)
            if (strcmp(data_name(sc->sources[k]), m->key) == 0)
                return jck_fail(&c->j, m->line, m->col, "data source \"%s\" is defined twice",
                                m->key);
        if (v->type != JSON_OBJECT)
            return jck_wrong_type(&c->j, v, m->key, "an object such as {\"file\": \"x.csv\"}");
        const char *file = NULL, *desc = NULL;
        int mode = 0, per = 0, out = -1;
        if (jck_keys(&c->j, v, "data source", keys) || jck_string(&c->j, v, "file", &file) ||
            jck_string(&c->j, v, "description", &desc) ||
            jck_choice(&c->j, v, "mode", modes, &mode) ||
            jck_choice(&c->j, v, "per", pers, &per) ||
            jck_choice(&c->j, v, "on_exhausted", outs, &out))
            return -1;
        if (!file)
            return jck_fail(&c->j, v->line, v->col, "data source \"%s\" needs a \"file\"",
                            m->key);
        if (mode == DATA_UNIQUE && per == 1) {
            const json_value *pv = json_get(v, "per");
            return jck_fail(&c->j, pv->line, pv->col,
                            "a unique row belongs to its user: \"per\" must be \"user\"");
        }
        if (out < 0)
            out = mode == DATA_UNIQUE ? DATA_STOP_USER : DATA_RECYCLE;
        if (mode == DATA_UNIQUE && out == DATA_RECYCLE) {
            const json_value *ov = json_get(v, "on_exhausted");
            return jck_fail(&c->j, ov->line, ov->col,
                            "unique rows cannot be shared: \"on_exhausted\" must be "
                            "\"stop_user\" or \"stop_test\"");
        }
        const json_value *fv = json_get(v, "file");
        char *path = jck_file(&c->j, fv, file, c->dir);
        if (!path)
            return -1;
        char err[512];
        data_source *d = data_load(m->key, path, (enum data_mode)mode,
                                   (enum data_exhausted)out, c->opts->data_slot,
                                   c->opts->data_slots ? c->opts->data_slots : 1, err,
                                   sizeof err);
        free(path);
        if (!d)
            return jck_fail(&c->j, fv->line, fv->col, "%s", err);
        sc->sources = xrealloc(sc->sources, (size_t)(sc->nsources + 1) * sizeof *sc->sources);
        sc->sources[sc->nsources++] = d;
        c->sources[c->nsources] = d;
        c->per_task[c->nsources++] = per == 1;
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------------------ */

static bool class_known(const char *name, void *data)
{
    const scenario *sc = data;
    for (int i = 0; i < sc->nall; i++)
        if (strcmp(sc->all[i].name, name) == 0)
            return true;
    return false;
}

/* "stages" (a load shape) and "arrival_rate" (an open model): one test has one workload,
 * so they exclude each other and only one file of a -f list may give them. */
static int load_workload(ctx *c, const json_value *doc, scenario *sc)
{
    const json_value *st = json_get(doc, "stages"), *ar = json_get(doc, "arrival_rate");
    if (st && ar)
        return jck_fail(&c->j, ar->line, ar->col, "\"arrival_rate\" and \"stages\" "
                                                  "exclude each other");
    if ((st || ar) && (sc->shape.n || sc->arrival.on)) {
        const json_value *v = st ? st : ar;
        return jck_fail(&c->j, v->line, v->col, "another scenario file already gives the "
                                                "workload (\"stages\" or \"arrival_rate\")");
    }
    if (st)
        return shape_from_json(&c->j, st, class_known, sc, &sc->shape);
    if (ar)
        return arrival_from_json(&c->j, ar, &sc->arrival);
    return 0;
}

/* ---- C locustfiles ------------------------------------------------------------------ */

static void c_task(utask *t, const char *name, int weight, const char *tags, cicada_task_fn fn)
{
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->weight = weight > 0 ? weight : 1;
    t->fn = fn ? capi_run_task : NULL;
    /* A function pointer carried as data: POSIX guarantees the round trip (dlsym). */
    t->data = fn ? *(void **)&fn : NULL;
    if (tags && *tags) {
        char *copy = xstrdup(tags);
        for (char *save = NULL, *tag = strtok_r(copy, ",", &save); tag;
             tag = strtok_r(NULL, ",", &save)) {
            while (*tag == ' ')
                tag++;
            if (!*tag)
                continue;
            t->tags = xrealloc(t->tags, (size_t)(t->ntags + 1) * sizeof *t->tags);
            t->tags[t->ntags++] = xstrdup(tag);
        }
        free(copy);
    }
}

/* A C locustfile's classes join the scenario's beside JSON ones: the same uclass, with
 * C functions as tasks. */
static int load_plugin(const char *path, scenario *sc, const scenario_opts *o, char *err,
                       size_t errlen)
{
    char *real = realpath(path, NULL);
    const char *rec = real ? real : path;
    sbuf_add(&sc->deps, rec, strlen(rec) + 1);
    free(real);
    cicada_registry *reg = xcalloc(1, sizeof *reg);
    sc->plugins = xrealloc(sc->plugins, (size_t)(sc->nplugins + 1) * sizeof *sc->plugins);
    sc->plugins[sc->nplugins++] = reg;
    if (plugin_load(path, reg, err, errlen))
        return -1;
    for (int i = 0; i < reg->nclasses; i++) {
        const cicada_class *cc = &reg->classes[i].c;
        for (int j = 0; j < sc->nall; j++)
            if (strcmp(sc->all[j].name, cc->name) == 0) {
                const sclass *other = sc->all[j].data;
                snprintf(err, errlen, "%s: user class \"%s\" is already defined in %s", path,
                         cc->name, other->file);
                return -1;
            }
        sc->all = xrealloc(sc->all, (size_t)(sc->nall + 1) * sizeof *sc->all);
        uclass *u = &sc->all[sc->nall++];
        memset(u, 0, sizeof *u);
        sclass *s = xcalloc(1, sizeof *s);
        u->data = s;
        s->file = xstrdup(path);
        u->name = xstrdup(cc->name);
        u->weight = cc->weight;
        u->fixed_count = cc->fixed_count;
        u->host = cc->host ? xstrdup(cc->host) : NULL;
        static const enum wait_kind kinds[] = {WAIT_CONSTANT, WAIT_BETWEEN, WAIT_PACING,
                                               WAIT_THROUGHPUT};
        u->wait = (wait_spec){kinds[cc->wait], cc->wait_a, cc->wait_b};
        u->sequential = cc->sequential != 0;
        u->context_size = cc->context_size;
        u->user_cleanup = capi_user_cleanup;
        c_task(&u->on_start, "on_start", 1, NULL, cc->on_start);
        c_task(&u->on_stop, "on_stop", 1, NULL, cc->on_stop);
        s->all_tasks = xcalloc((size_t)cc->ntasks, sizeof *s->all_tasks);
        for (int k = 0; k < cc->ntasks; k++) {
            char fallback[32];
            snprintf(fallback, sizeof fallback, "task %d", k + 1);
            const cicada_task *t = &cc->tasks[k];
            c_task(&s->all_tasks[k], t->name && *t->name ? t->name : fallback, t->weight,
                   t->tags, t->fn);
        }
        s->nall_tasks = cc->ntasks;
    }
    capi_add_hooks(reg);
    capi_set_worker_index(o->worker_index);
    return 0;
}

static int load_file(const char *path, scenario *sc, const scenario_opts *o, char *err,
                     size_t errlen)
{
    json_error je;
    json_value *doc = json_parse_file(path, 0, &je);
    if (!doc) {
        if (je.line == 0 && access(path, F_OK) != 0)
            snprintf(err, errlen, "Could not find '%s'. See --help for available options.",
                     path);
        else if (je.line == 0)
            snprintf(err, errlen, "%s: %s", path, je.msg);
        else {
            /* A Locust user's first try is -f locustfile.py: say why it cannot load. */
            size_t n = strlen(path);
            bool py = n > 3 && strcmp(path + n - 3, ".py") == 0;
            snprintf(err, errlen, "%s:%u:%u: %s%s", path, je.line, je.col, je.msg,
                     py ? " (a Python locustfile: cicada runs JSON scenarios, see "
                          "docs/scenario.md, and C locustfiles, see docs/c-api.md)"
                        : "");
        }
        return -1;
    }
    char *real = realpath(path, NULL);
    const char *rec = real ? real : path;
    sbuf_add(&sc->deps, rec, strlen(rec) + 1);
    free(real);
    char *copy = xstrdup(path);
    ctx c = {.j = {.path = path, .err = err, .errlen = errlen, .root = o->root,
                   .files = &sc->deps},
             .dir = xstrdup(dirname(copy)), .opts = o};
    free(copy);
    int rc = -1;
    static const char *const top_keys[] = {"description", "host", "data", "users", "stages", "arrival_rate",
                                           "thresholds", NULL};
    const char *host = NULL, *desc = NULL;
    const json_value *users, *data;
    if (doc->type != JSON_OBJECT) {
        jck_wrong_type(&c.j, doc, "scenario", "an object with \"users\"");
        goto out;
    }
    if (jck_keys(&c.j, doc, "scenario", top_keys) || jck_string(&c.j, doc, "host", &host) ||
        jck_string(&c.j, doc, "description", &desc))
        goto out;
    if (host && !valid_host(host)) {
        const json_value *hv = json_get(doc, "host");
        jck_fail(&c.j, hv->line, hv->col,
                 "\"host\" must be a base URL such as \"http://127.0.0.1:8080\"");
        goto out;
    }
    if ((data = json_get(doc, "data")) && load_data(&c, data, sc))
        goto out;
    users = json_get(doc, "users");
    if (!users) {
        jck_fail(&c.j, doc->line, doc->col, "scenario needs \"users\": a list of user classes");
        goto out;
    }
    if (users->type != JSON_ARRAY || users->arr.count == 0) {
        jck_fail(&c.j, users->line, users->col,
                 "\"users\" must be a non-empty array of user classes");
        goto out;
    }
    for (size_t i = 0; i < users->arr.count; i++) {
        const json_value *cv = &users->arr.items[i];
        sc->all = xrealloc(sc->all, (size_t)(sc->nall + 1) * sizeof *sc->all);
        uclass *u = &sc->all[sc->nall++];
        memset(u, 0, sizeof *u);
        if (compile_class(&c, cv, host, u))
            goto out;
        for (int j = 0; j < sc->nall - 1; j++)
            if (strcmp(sc->all[j].name, u->name) == 0) {
                const sclass *other = sc->all[j].data;
                jck_fail(&c.j, cv->line, cv->col, "user class \"%s\" is already defined in %s",
                         u->name, other->file);
                goto out;
            }
    }
    if (load_workload(&c, doc, sc))
        goto out;
    const json_value *thr = json_get(doc, "thresholds");
    if (thr && threshold_set_load_json(&sc->thresholds, &c.j, thr))
        goto out;
    rc = 0;
out:
    free(c.dir);
    free(c.sources);
    free(c.per_task);
    json_free(doc);
    return rc;
}

static bool has_any_tag(const utask *t, char **tags, int n)
{
    for (int i = 0; i < t->ntags; i++)
        for (int j = 0; j < n; j++)
            if (strcmp(t->tags[i], tags[j]) == 0)
                return true;
    return false;
}

/* Applies -T/-E and --equal-weights to a class's task list. */
static void filter_tasks(uclass *u, const scenario_opts *o)
{
    sclass *sc = u->data;
    free(u->tasks);
    u->tasks = xcalloc((size_t)sc->nall_tasks, sizeof *u->tasks);
    u->ntasks = 0;
    for (int i = 0; i < sc->nall_tasks; i++) {
        const utask *t = &sc->all_tasks[i];
        if (o->ntags && !has_any_tag(t, o->tags, o->ntags))
            continue;
        if (o->nexclude_tags && has_any_tag(t, o->exclude_tags, o->nexclude_tags))
            continue;
        u->tasks[u->ntasks] = *t;
        if (o->equal_weights)
            u->tasks[u->ntasks].weight = 1;
        u->ntasks++;
    }
}

static int select_classes(scenario *sc, const scenario_opts *o, char *err, size_t errlen)
{
    sbuf unknown = SBUF_INIT;
    for (int i = 0; i < o->nclasses; i++) {
        bool found = false;
        for (int j = 0; j < sc->nall; j++)
            found |= strcmp(sc->all[j].name, o->classes[i]) == 0;
        if (!found)
            sbuf_printf(&unknown, "%s%s", unknown.len ? ", " : "", o->classes[i]);
    }
    if (unknown.len) {
        snprintf(err, errlen, "Unknown User(s): %s", sbuf_str(&unknown));
        sbuf_free(&unknown);
        return -1;
    }
    sc->run = xcalloc((size_t)sc->nall, sizeof *sc->run);
    for (int j = 0; j < sc->nall; j++) {
        uclass *u = &sc->all[j];
        bool chosen = o->nclasses == 0;
        for (int i = 0; i < o->nclasses; i++)
            chosen |= strcmp(u->name, o->classes[i]) == 0;
        if (!chosen)
            continue;
        filter_tasks(u, o);
        if (u->ntasks == 0) {
            log_warning("cicada.main",
                        "User class %s had no tasks left after filtering by tags; it will "
                        "not run", u->name);
            continue;
        }
        if (u->weight == 0 && u->fixed_count == 0)
            continue; /* Locust drops these too, before --equal-weights applies */
        if (o->equal_weights)
            u->weight = 1;
        user_class_prepare(u);
        sc->run[sc->nrun++] = u;
    }
    if (sc->nrun == 0) {
        bool filtered = o->ntags || o->nexclude_tags;
        snprintf(err, errlen, "%s",
                 filtered ? "No tasks left to run after filtering by --tags/--exclude-tags."
                          : "There are no users with weight > 0.");
        return -1;
    }
    return 0;
}

scenario *scenario_load(const char *paths, const scenario_opts *o, char *err, size_t errlen)
{
    scenario *sc = xcalloc(1, sizeof *sc);
    sc->files = xstrdup(paths);
    char *list = xstrdup(paths);
    int rc = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p && rc == 0;
         p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ')
            p++;
        rc = plugin_path(p) ? load_plugin(p, sc, o, err, errlen)
                            : load_file(p, sc, o, err, errlen);
    }
    free(list);
    if (rc == 0 && sc->nall == 0) {
        snprintf(err, errlen, "No User class found!");
        rc = -1;
    }
    if (rc == 0 && !o->list_only)
        rc = select_classes(sc, o, err, errlen);
    if (rc) {
        scenario_free(sc);
        return NULL;
    }
    return sc;
}

static const char *class_host(const uclass *u, const char *override)
{
    const sclass *sc = u->data;
    return override ? override : u->host ? u->host : sc->file_host;
}

int scenario_resolve(scenario *sc, const char *host_override, char *err, size_t errlen)
{
    if (host_override && !valid_host(host_override)) {
        snprintf(err, errlen,
                 "--host \"%s\" must be a base URL such as \"http://127.0.0.1:8080\"",
                 host_override);
        return -1;
    }
    for (int i = 0; i < sc->nrun; i++) {
        uclass *u = sc->run[i];
        sclass *c = u->data;
        const char *host = class_host(u, host_override);
        free(u->base_host);
        u->base_host = host ? xstrdup(host) : NULL;
        if (interp_resolve(&c->on_start, host, err, errlen) ||
            interp_resolve(&c->on_stop, host, err, errlen))
            return -1;
        for (int t = 0; c->progs && t < c->nall_tasks; t++)
            if (interp_resolve(&c->progs[t], host, err, errlen))
                return -1;
    }
    return 0;
}

void scenario_set_stop_test(scenario *sc, void (*fn)(void *data, const char *reason),
                            void *data)
{
    for (int i = 0; i < sc->nall; i++) {
        sclass *c = sc->all[i].data;
        c->scope.stop_test = fn;
        c->scope.stop_test_data = data;
    }
}

const char *scenario_host(const scenario *sc, const char *host_override)
{
    if (host_override)
        return host_override;
    const char *common = NULL;
    for (int i = 0; i < sc->nrun; i++) {
        const char *h = class_host(sc->run[i], NULL);
        if (!h || (common && strcmp(common, h) != 0))
            return NULL;
        common = h;
    }
    return common;
}

char *scenario_find(const char *arg, bool is_default, char *err, size_t errlen)
{
    if (!is_default)
        return xstrdup(arg);
    char *dir = getcwd(NULL, 0);
    if (!dir)
        xoom();
    for (;;) {
        sbuf p = SBUF_INIT;
        sbuf_printf(&p, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", arg);
        if (access(sbuf_str(&p), R_OK) == 0) {
            free(dir);
            /* Shown in reports: the plain name when it is right here. */
            char *cwd = getcwd(NULL, 0);
            char *found = sbuf_take(&p);
            if (cwd && strlen(found) > strlen(cwd) &&
                strncmp(found, cwd, strlen(cwd)) == 0 && found[strlen(cwd)] == '/' &&
                !strchr(found + strlen(cwd) + 1, '/')) {
                char *plain = xstrdup(found + strlen(cwd) + 1);
                free(found);
                found = plain;
            }
            free(cwd);
            return found;
        }
        sbuf_free(&p);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            if (strcmp(dir, "/") == 0)
                break;
            dir[1] = '\0';
            continue;
        }
        *slash = '\0';
    }
    free(dir);
    snprintf(err, errlen, "Could not find '%s'. See --help for available options.", arg);
    return NULL;
}
