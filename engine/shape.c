#include "shape.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timespan.h"
#include "xalloc.h"

/* Users and rates beyond these are typos, not tests. */
#define MAX_USERS 10000000L
#define MAX_RATE 1e7

static int duration_of(jck *c, const json_value *v, double *out)
{
    if (v && v->type == JSON_NUMBER)
        return jck_number_value(c, v, "duration", 0, true, out);
    if (v && v->type == JSON_STRING && timespan_parse_seconds(v->str.s, out) == 0 && *out > 0)
        return 0;
    if (!v)
        return -1;
    return jck_fail(c, v->line, v->col, "\"duration\" must be seconds (a number > 0) or a time "
                                        "span such as \"90s\", \"5m\" or \"1h30m\"");
}

static int stage_common(jck *c, const json_value *st, const char *const *keys, double *dur)
{
    if (st->type != JSON_OBJECT)
        return jck_wrong_type(c, st, "stage", "an object");
    if (jck_keys(c, st, "stage", keys))
        return -1;
    const json_value *d = json_get(st, "duration");
    if (!d)
        return jck_fail(c, st->line, st->col, "a stage needs \"duration\"");
    return duration_of(c, d, dur);
}

int shape_from_json(jck *c, const json_value *v, bool (*class_ok)(const char *, void *),
                    void *data, shape *out)
{
    static const char *const keys[] = {"duration", "users", "spawn_rate", "classes",
                                       "description", NULL};
    memset(out, 0, sizeof *out);
    if (v->type != JSON_ARRAY || v->arr.count == 0)
        return jck_wrong_type(c, v, "stages", "a non-empty list of stages");
    out->stages = xcalloc(v->arr.count, sizeof *out->stages);
    for (size_t i = 0; i < v->arr.count; i++) {
        const json_value *st = &v->arr.items[i];
        shape_stage *s = &out->stages[out->n];
        long users = 0;
        if (stage_common(c, st, keys, &s->duration) ||
            jck_int(c, st, "users", 0, MAX_USERS, &users) ||
            jck_number(c, st, "spawn_rate", 0, true, &s->spawn_rate))
            goto fail;
        out->n++;
        if (!json_get(st, "users")) {
            jck_fail(c, st->line, st->col, "a stage needs \"users\"");
            goto fail;
        }
        s->users = (unsigned)users;
        if (!json_get(st, "spawn_rate"))
            s->spawn_rate = users > 0 ? (double)users : 1;  /* at once */
        const json_value *cl = json_get(st, "classes");
        if (cl) {
            if (cl->type != JSON_ARRAY || cl->arr.count == 0) {
                jck_wrong_type(c, cl, "classes", "a non-empty list of class names");
                goto fail;
            }
            s->classes = xcalloc(cl->arr.count, sizeof *s->classes);
            for (size_t k = 0; k < cl->arr.count; k++) {
                const json_value *n = &cl->arr.items[k];
                if (n->type != JSON_STRING) {
                    jck_wrong_type(c, n, "classes", "a list of class names");
                    goto fail;
                }
                if (class_ok && !class_ok(n->str.s, data)) {
                    jck_fail(c, n->line, n->col, "no user class \"%s\"", n->str.s);
                    goto fail;
                }
                s->classes[s->nclasses++] = xstrdup(n->str.s);
            }
        }
        out->total += s->duration;
    }
    return 0;
fail:
    shape_free(out);
    return -1;
}

/* Splits s at sep in place, keeping empty fields (strtok would merge them, so "2s::4"
 * would silently shift the fields). Returns the number of fields, at most max. */
static int split(char *s, char sep, char **f, int max)
{
    int n = 0;
    for (;;) {
        if (n == max)
            return max + 1;
        f[n++] = s;
        char *p = strchr(s, sep);
        if (!p)
            return n;
        *p = '\0';
        s = p + 1;
    }
}

static int parse_stage(char *item, shape_stage *s)
{
    char *f[5];
    int nf = split(item, ':', f, 4);
    if (nf < 3 || nf > 4)
        return -1;
    char *end = NULL;
    long users = strtol(f[1], &end, 10);
    if (!*f[1] || *end || users < 0 || users > MAX_USERS)
        return -1;
    double rate = strtod(f[2], &end);
    if (!*f[2] || *end || !(rate > 0) || !isfinite(rate))
        return -1;
    if (timespan_parse_seconds(f[0], &s->duration) || !(s->duration > 0))
        return -1;
    s->users = (unsigned)users;
    s->spawn_rate = rate;
    if (nf == 4) {
        size_t nc = 1;
        for (const char *p = f[3]; *p; p++)
            nc += *p == '+';
        char **names = xcalloc(nc, sizeof *names);
        int got = split(f[3], '+', names, (int)nc);
        s->classes = xcalloc(nc, sizeof *s->classes);
        for (int k = 0; k < got; k++) {
            if (!*names[k]) {
                free(names);
                return -1;
            }
            s->classes[s->nclasses++] = xstrdup(names[k]);
        }
        free(names);
    }
    return 0;
}

int shape_parse(const char *text, shape *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *copy = xstrdup(text);
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    char **items = xcalloc(cap, sizeof *items);
    int n = split(copy, ',', items, (int)cap);
    out->stages = xcalloc(cap, sizeof *out->stages);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        shape_stage *s = &out->stages[out->n++];
        char *as_given = xstrdup(items[i]);
        if (parse_stage(items[i], s)) {
            snprintf(err, errlen, "--stages: stage %d must be DURATION:USERS:SPAWN_RATE"
                                  "[:Class+Class] with DURATION > 0 (\"30s\", \"2m\"), USERS >= 0 "
                                  "and SPAWN_RATE > 0, e.g. \"1m:50:10\" (not \"%.60s\")",
                     i + 1, as_given);
            rc = -1;
        }
        free(as_given);
        out->total += s->duration;
    }
    free(items);
    free(copy);
    if (rc)
        shape_free(out);
    return rc;
}

int arrival_from_json(jck *c, const json_value *v, arrival *out)
{
    static const char *const keys[] = {"rate", "start_rate", "stages", "max_users",
                                       "description", NULL};
    static const char *const stage_keys[] = {"duration", "rate", "description", NULL};
    memset(out, 0, sizeof *out);
    if (v->type != JSON_OBJECT)
        return jck_wrong_type(c, v, "arrival_rate", "an object");
    if (jck_keys(c, v, "arrival_rate", keys))
        return -1;
    const json_value *rate = json_get(v, "rate"), *stages = json_get(v, "stages");
    if (!rate == !stages)
        return jck_fail(c, v->line, v->col, "\"arrival_rate\" takes \"rate\" (constant) or "
                                            "\"stages\" (ramping), one of them");
    long cap = 0;
    if (jck_int(c, v, "max_users", 1, MAX_USERS, &cap))
        return -1;
    out->max_users = (unsigned)cap;
    if (rate) {
        if (jck_number(c, v, "rate", 0, true, &out->start_rate))
            return -1;
        if (out->start_rate > MAX_RATE)
            return jck_fail(c, rate->line, rate->col, "\"rate\" is at most %g", MAX_RATE);
        if (json_get(v, "start_rate")) {
            const json_value *sr = json_get(v, "start_rate");
            return jck_fail(c, sr->line, sr->col, "\"start_rate\" goes with \"stages\"");
        }
        out->on = true;
        return 0;
    }
    if (jck_number(c, v, "start_rate", 0, false, &out->start_rate))
        return -1;
    if (stages->type != JSON_ARRAY || stages->arr.count == 0)
        return jck_wrong_type(c, stages, "stages", "a non-empty list of stages");
    shape *s = &out->stages;
    s->stages = xcalloc(stages->arr.count, sizeof *s->stages);
    for (size_t i = 0; i < stages->arr.count; i++) {
        const json_value *st = &stages->arr.items[i];
        shape_stage *x = &s->stages[s->n];
        if (stage_common(c, st, stage_keys, &x->duration) ||
            jck_number(c, st, "rate", 0, false, &x->rate)) {
            arrival_free(out);
            return -1;
        }
        if (!json_get(st, "rate") || x->rate > MAX_RATE) {
            jck_fail(c, st->line, st->col, "a stage needs \"rate\" (0 to %g iterations per "
                                           "second)", MAX_RATE);
            arrival_free(out);
            return -1;
        }
        s->total += x->duration;
        s->n++;
    }
    out->on = true;
    return 0;
}

int shape_stage_at(const shape *s, double elapsed)
{
    double t = 0;
    for (int i = 0; i < s->n; i++) {
        t += s->stages[i].duration;
        if (elapsed < t)
            return i;
    }
    return -1;
}

double arrival_rate_at(const arrival *a, double elapsed)
{
    if (a->stages.n == 0)
        return a->start_rate;
    double from = a->start_rate, t = 0;
    for (int i = 0; i < a->stages.n; i++) {
        const shape_stage *s = &a->stages.stages[i];
        if (elapsed < t + s->duration)
            return from + (s->rate - from) * (elapsed - t) / s->duration;
        t += s->duration;
        from = s->rate;
    }
    return 0;
}

double arrival_due(const arrival *a, double elapsed)
{
    if (elapsed <= 0)
        return 0;
    if (a->stages.n == 0)
        return a->start_rate * elapsed;
    /* Each stage ramps linearly: its area is a trapezoid. */
    double from = a->start_rate, t = 0, due = 0;
    for (int i = 0; i < a->stages.n; i++) {
        const shape_stage *s = &a->stages.stages[i];
        double span = elapsed - t < s->duration ? elapsed - t : s->duration;
        double to = from + (s->rate - from) * span / s->duration;
        due += (from + to) / 2 * span;
        if (elapsed <= t + s->duration)
            return due;
        t += s->duration;
        from = s->rate;
    }
    return due;
}

double arrival_length(const arrival *a)
{
    return a->stages.total;
}

void shape_free(shape *s)
{
    for (int i = 0; s->stages && i < s->n; i++) {
        for (int k = 0; k < s->stages[i].nclasses; k++)
            free(s->stages[i].classes[k]);
        free(s->stages[i].classes);
    }
    /* A stage that failed half-way may hold classes past n. */
    free(s->stages);
    memset(s, 0, sizeof *s);
}

void arrival_free(arrival *a)
{
    shape_free(&a->stages);
    memset(a, 0, sizeof *a);
}

void shape_copy(shape *out, const shape *s)
{
    memset(out, 0, sizeof *out);
    if (!s->n)
        return;
    out->stages = xcalloc((size_t)s->n, sizeof *out->stages);
    for (int i = 0; i < s->n; i++) {
        out->stages[i] = s->stages[i];
        out->stages[i].classes = NULL;
        out->stages[i].nclasses = 0;
        if (s->stages[i].nclasses) {
            out->stages[i].classes = xcalloc((size_t)s->stages[i].nclasses, sizeof(char *));
            for (int k = 0; k < s->stages[i].nclasses; k++)
                out->stages[i].classes[k] = xstrdup(s->stages[i].classes[k]);
            out->stages[i].nclasses = s->stages[i].nclasses;
        }
    }
    out->n = s->n;
    out->total = s->total;
}
