#include "threshold.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timespan.h"
#include "xalloc.h"

static const char metrics_help[] = "pN (p50, p95, p99.9), avg, max, fail_ratio, rps or checks";

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_word(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '_' ||
           ch == '.' || ch == '(' || ch == ')';
}

static bool is_time(enum threshold_metric m)
{
    return m == THRESHOLD_PERCENTILE || m == THRESHOLD_AVG || m == THRESHOLD_MAX;
}

static bool is_ratio(enum threshold_metric m)
{
    return m == THRESHOLD_FAIL_RATIO || m == THRESHOLD_CHECKS;
}

/* ---- parsing ------------------------------------------------------------------------ */

typedef struct parse {
    const char *text;
    char *err;
    size_t errlen;
    size_t *errpos;
} parse;

static int pfail(parse *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pfail(parse *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    *p->errpos = at;
    return -1;
}

/* A decimal number without sign: digits, an optional fraction and exponent. Returns its
 * length (0 when there is none) and the value. */
static size_t scan_number(const char *s, double *out)
{
    size_t n = 0;
    bool digits = false;
    while (is_digit(s[n])) {
        n++;
        digits = true;
    }
    if (s[n] == '.')
        for (n++; is_digit(s[n]); n++)
            digits = true;
    if (!digits)
        return 0;
    if (s[n] == 'e' || s[n] == 'E') {
        size_t k = n + 1;
        k += s[k] == '+' || s[k] == '-';
        if (is_digit(s[k])) {
            while (is_digit(s[k]))
                k++;
            n = k;
        }
    }
    char buf[64];
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return isfinite(*out) ? n : 0;
}

/* The metric name text[at, at+len). */
static int parse_metric(parse *p, size_t at, size_t len, threshold *t)
{
    static const struct {
        const char *name;
        enum threshold_metric m;
    } names[] = {
        {"avg", THRESHOLD_AVG}, {"max", THRESHOLD_MAX}, {"fail_ratio", THRESHOLD_FAIL_RATIO},
        {"rps", THRESHOLD_RPS}, {"checks", THRESHOLD_CHECKS},
    };
    const char *s = p->text + at;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == len && memcmp(s, names[i].name, len) == 0) {
            t->metric = names[i].m;
            return 0;
        }
    if (len >= 2 && s[0] == 'p') {
        /* p95, p99.9, and k6's p(95) */
        bool paren = s[1] == '(';
        double v;
        size_t n = scan_number(s + 1 + paren, &v);
        if (n && 1 + paren + n + paren == len && (!paren || s[len - 1] == ')')) {
            if (!(v > 0 && v <= 100))
                return pfail(p, at, "percentile \"%.*s\" must be above p0 and at most p100",
                             (int)len, s);
            t->metric = THRESHOLD_PERCENTILE;
            t->pct = v / 100;
            return 0;
        }
    }
    return pfail(p, at, "unknown metric \"%.*s\": use %s", (int)len, s, metrics_help);
}

/* The unit after the number: ms or s for times, % for ratios, none for rps. */
static int parse_unit(parse *p, size_t at, size_t len, threshold *t, double *v)
{
    const char *u = p->text + at;
    bool none = len == 0;
    if (is_time(t->metric) && (none || (len == 2 && memcmp(u, "ms", 2) == 0)))
        return 0;
    if (is_time(t->metric) && len == 1 && *u == 's') {
        *v *= 1000;
        return 0;
    }
    if (is_ratio(t->metric) && (none || (len == 1 && *u == '%'))) {
        if (!none)
            *v /= 100;
        return 0;
    }
    if (t->metric == THRESHOLD_RPS && none)
        return 0;
    const char *want = is_time(t->metric) ? "ms (the default) or s"
                       : is_ratio(t->metric) ? "a fraction (0.01) or a percentage (1%)"
                                             : "a number of requests per second";
    return pfail(p, at, "unit \"%.*s\" does not fit this metric: use %s", (int)len, u, want);
}

/* "abort" or "abort=DELAY" words after the limit. */
static int parse_options(parse *p, size_t i, size_t end, threshold *t)
{
    const char *s = p->text;
    while (i < end) {
        if (!is_space(s[i]))
            return pfail(p, i, "unexpected \"%.*s\" after the limit", (int)(end - i), s + i);
        while (i < end && is_space(s[i]))
            i++;
        size_t w = i;
        while (i < end && !is_space(s[i]) && s[i] != '=')
            i++;
        if (i - w != 5 || memcmp(s + w, "abort", 5) != 0)
            return pfail(p, w, "unknown option \"%.*s\" (the option is abort or abort=DELAY)",
                         (int)(i - w), s + w);
        t->abort_on_fail = true;
        if (i < end && s[i] == '=') {
            size_t d = ++i;
            while (i < end && !is_space(s[i]))
                i++;
            char buf[64];
            size_t n = i - d < sizeof buf - 1 ? i - d : sizeof buf - 1;
            memcpy(buf, s + d, n);
            buf[n] = '\0';
            if (timespan_parse_seconds(buf, &t->delay) != 0 || t->delay < 0)
                return pfail(p, d, "abort delay \"%s\" must be seconds (30) or a time span "
                             "(1m30s)", buf);
        }
    }
    return 0;
}

int threshold_parse(const char *text, threshold *out, char *err, size_t errlen,
                    size_t *errpos)
{
    parse p = {text, err, errlen, errpos};
    threshold t = {.delay = THRESHOLD_DEFAULT_DELAY};
    memset(out, 0, sizeof *out);
    size_t a = 0, b = strlen(text);
    while (a < b && is_space(text[a]))
        a++;
    while (b > a && is_space(text[b - 1]))
        b--;
    if (a == b)
        return pfail(&p, 0, "empty threshold: use [REQUEST:]METRIC<VALUE, e.g. p95<500");
    /* The request is everything before the last ':', since names may hold colons and
     * the rest of the syntax never does. */
    const char *colon = memrchr(text + a, ':', b - a);
    size_t i = a;
    if (colon) {
        size_t ne = (size_t)(colon - text);
        while (ne > a && is_space(text[ne - 1]))
            ne--;
        if (ne == a)
            return pfail(&p, (size_t)(colon - text), "no request name before ':'");
        i = (size_t)(colon - text) + 1;
        while (i < b && is_space(text[i]))
            i++;
        t.request = xstrndup(text + a, ne - a);
    }
    size_t m = i;
    while (i < b && is_word(text[i]))
        i++;
    if (i == m) {
        pfail(&p, m, "expected a metric: %s", metrics_help);
        goto out;
    }
    if (parse_metric(&p, m, i - m, &t))
        goto out;
    if (t.metric == THRESHOLD_CHECKS && t.request) {
        pfail(&p, a, "checks is the pass rate of every check: it takes no request name");
        goto out;
    }
    size_t mend = i;
    while (i < b && is_space(text[i]))
        i++;
    if (text[i] == '<' || text[i] == '>') {
        bool eq = text[i + 1] == '=';
        t.op = text[i] == '<' ? (eq ? THRESHOLD_LE : THRESHOLD_LT)
                              : (eq ? THRESHOLD_GE : THRESHOLD_GT);
        i += 1 + eq;
    } else {
        pfail(&p, i, "expected <, <=, > or >= after \"%.*s\"", (int)(mend - m), text + m);
        goto out;
    }
    while (i < b && is_space(text[i]))
        i++;
    double v = 0;
    size_t n = scan_number(text + i, &v);
    if (!n || i + n > b) {
        pfail(&p, i, "expected a number after the comparison");
        goto out;
    }
    size_t num = i;
    i += n;
    size_t u = i;
    while (i < b && !is_space(text[i]))
        i++;
    if (parse_unit(&p, u, i - u, &t, &v))
        goto out;
    if (is_ratio(t.metric) && v > 1) {
        pfail(&p, num, "a ratio is at most 1 (100%%)");
        goto out;
    }
    t.limit = v;
    if (parse_options(&p, i, b, &t))
        goto out;
    t.text = xstrndup(text + a, b - a);
    *out = t;
    return 0;
out:
    free(t.request);
    return -1;
}

void threshold_free(threshold *t)
{
    free(t->text);
    free(t->request);
    memset(t, 0, sizeof *t);
}

/* ---- sets --------------------------------------------------------------------------- */

void threshold_set_add(threshold_set *set, const threshold *t)
{
    set->v = xrealloc(set->v, (set->n + 1) * sizeof *set->v);
    threshold *c = &set->v[set->n++];
    *c = *t;
    c->text = xstrdup(t->text);
    c->request = t->request ? xstrdup(t->request) : NULL;
    c->evaluated = c->tripped = false;
    c->value = 0;
}

int threshold_set_parse(threshold_set *set, const char *text, char *err, size_t errlen,
                        size_t *errpos)
{
    threshold t;
    if (threshold_parse(text, &t, err, errlen, errpos))
        return -1;
    set->v = xrealloc(set->v, (set->n + 1) * sizeof *set->v);
    set->v[set->n++] = t;
    return 0;
}

static int load_item(threshold_set *set, jck *c, const json_value *v)
{
    static const char *const keys[] = {"threshold", "abort_on_fail", "abort_delay",
                                       "description", NULL};
    const json_value *sv = v;
    bool has_abort = false, abort_on_fail = false;
    double delay = -1;
    if (v->type == JSON_OBJECT) {
        const char *desc = NULL;
        const json_value *dv;
        if (jck_keys(c, v, "threshold", keys) || jck_string(c, v, "description", &desc) ||
            jck_bool(c, v, "abort_on_fail", &abort_on_fail))
            return -1;
        has_abort = json_get(v, "abort_on_fail") != NULL;
        sv = json_get(v, "threshold");
        if (!sv)
            return jck_fail(c, v->line, v->col, "a threshold object needs \"threshold\": "
                            "\"[REQUEST:]METRIC<VALUE\"");
        if ((dv = json_get(v, "abort_delay"))) {
            if (dv->type == JSON_STRING) {
                if (timespan_parse_seconds(dv->str.s, &delay) != 0 || delay < 0)
                    return jck_fail(c, dv->line, dv->col, "\"abort_delay\" must be seconds "
                                    "(30) or a time span (\"1m30s\")");
            } else if (jck_number_value(c, dv, "abort_delay", 0, false, &delay)) {
                return -1;
            }
        }
    }
    if (sv->type != JSON_STRING)
        return jck_wrong_type(c, sv, "threshold", "a string such as \"p95<500\"");
    char msg[256];
    size_t pos = 0;
    if (strlen(sv->str.s) != sv->str.len)
        return jck_fail(c, sv->line, sv->col, "a threshold cannot hold a NUL character");
    if (threshold_set_parse(set, sv->str.s, msg, sizeof msg, &pos))
        return jck_fail(c, sv->line, jck_string_col(sv, pos), "threshold: %s", msg);
    threshold *t = &set->v[set->n - 1];
    if (has_abort)
        t->abort_on_fail = abort_on_fail;
    if (delay >= 0) {
        /* A delay only applies to the abort check: without one it is a mistake. */
        const json_value *dv = json_get(v, "abort_delay");
        if (!t->abort_on_fail)
            return jck_fail(c, dv->line, dv->col, "\"abort_delay\" needs \"abort_on_fail\": "
                            "true (or abort in the threshold)");
        t->delay = delay;
    }
    return 0;
}

int threshold_set_load_json(threshold_set *set, jck *c, const json_value *list)
{
    if (list->type != JSON_ARRAY)
        return jck_wrong_type(c, list, "thresholds", "an array of thresholds");
    size_t n0 = set->n;
    for (size_t i = 0; i < list->arr.count; i++) {
        if (load_item(set, c, &list->arr.items[i]) == 0)
            continue;
        while (set->n > n0)
            threshold_free(&set->v[--set->n]);
        return -1;
    }
    return 0;
}

void threshold_set_restart(threshold_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        set->v[i].evaluated = set->v[i].tripped = false;
        set->v[i].value = 0;
    }
}

void threshold_set_free(threshold_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        threshold_free(&set->v[i]);
    free(set->v);
    hist_free(&set->scratch);
    memset(set, 0, sizeof *set);
}

/* ---- evaluation --------------------------------------------------------------------- */

/* "GET /x" names the entry (GET, /x); a bare "/x" names every method's. */
static bool entry_matches(const stats_entry *e, const char *request)
{
    if (strcmp(e->name, request) == 0)
        return true;
    size_t ml = strlen(e->method);
    return ml && strncmp(request, e->method, ml) == 0 && request[ml] == ' ' &&
           strcmp(request + ml + 1, e->name) == 0;
}

/* What the matching entries add up to. */
typedef struct sample {
    uint64_t reqs, fails, timed, total_rt, min_rt, max_rt;
    double rps;
    size_t n;
    const stats_entry *one;     /* the entry when n == 1 */
} sample;

static void sample_add(sample *x, stats *s, const stats_entry *e)
{
    x->reqs += e->num_requests;
    x->fails += e->num_failures;
    x->timed += e->num_requests - e->num_none_requests;
    x->total_rt += e->total_rt_us;
    if (e->min_rt_us < x->min_rt)
        x->min_rt = e->min_rt_us;
    if (e->max_rt_us > x->max_rt)
        x->max_rt = e->max_rt_us;
    x->rps += stats_total_rps(s, e);
    x->one = e;
    x->n++;
}

static uint64_t sample_percentile_us(threshold_set *set, const sample *x, stats *s,
                                     const char *request, double p)
{
    if (x->n == 1)
        return stats_percentile_us(x->one, p);
    /* A name with several methods: one histogram of all of them (exact, since merging
     * histograms is), clamped to the exact extremes as stats_percentile_us does. */
    hist_clear(&set->scratch);
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    for (size_t i = 0; i < n; i++)
        if (entry_matches(rows[i], request))
            hist_merge(&set->scratch, &rows[i]->hist);
    uint64_t v = hist_percentile(&set->scratch, p);
    return v < x->min_rt ? x->min_rt : v > x->max_rt ? x->max_rt : v;
}

static bool holds(enum threshold_op op, double v, double limit)
{
    switch (op) {
    case THRESHOLD_LT: return v < limit;
    case THRESHOLD_LE: return v <= limit;
    case THRESHOLD_GT: return v > limit;
    case THRESHOLD_GE: return v >= limit;
    }
    return false;
}

static void eval_one(threshold_set *set, threshold *t, stats *s)
{
    t->evaluated = true;
    t->status = THRESHOLD_ERROR;
    t->value = 0;
    if (t->metric == THRESHOLD_CHECKS) {
        uint64_t run, failed;
        stats_checks(s, &run, &failed);
        if (!run)
            return;
        t->value = (double)(run - failed) / (double)run;
    } else {
        sample x = {.min_rt = UINT64_MAX};
        if (!t->request) {
            sample_add(&x, s, stats_total(s));
        } else {
            size_t n;
            stats_entry *const *rows = stats_sorted(s, &n);
            for (size_t i = 0; i < n; i++)
                if (entry_matches(rows[i], t->request))
                    sample_add(&x, s, rows[i]);
        }
        if (!x.reqs || (is_time(t->metric) && !x.timed))
            return;
        switch (t->metric) {
        case THRESHOLD_PERCENTILE:
            t->value = (double)sample_percentile_us(set, &x, s, t->request, t->pct) / 1000.0;
            break;
        case THRESHOLD_AVG:
            t->value = (double)x.total_rt / (double)x.timed / 1000.0;
            break;
        case THRESHOLD_MAX:
            t->value = (double)x.max_rt / 1000.0;
            break;
        case THRESHOLD_FAIL_RATIO:
            t->value = (double)x.fails / (double)x.reqs;
            break;
        case THRESHOLD_RPS:
            t->value = x.rps;
            break;
        case THRESHOLD_CHECKS:
            break;
        }
    }
    t->status = holds(t->op, t->value, t->limit) ? THRESHOLD_PASSED : THRESHOLD_FAILED;
}

size_t threshold_eval(threshold_set *set, stats *s)
{
    for (size_t i = 0; i < set->n; i++)
        if (!set->v[i].tripped)
            eval_one(set, &set->v[i], s);
    return threshold_failed_count(set);
}

const threshold *threshold_check_abort(threshold_set *set, stats *s, double now)
{
    double started = stats_total(s)->start_time;
    for (size_t i = 0; i < set->n; i++) {
        threshold *t = &set->v[i];
        if (!t->abort_on_fail || t->tripped || now - started < t->delay)
            continue;
        eval_one(set, t, s);
        /* No samples yet is not a reason to stop: the test may not have reached it. */
        if (t->status == THRESHOLD_FAILED) {
            t->tripped = true;
            return t;
        }
    }
    return NULL;
}

size_t threshold_failed_count(const threshold_set *set)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += set->v[i].evaluated && set->v[i].status != THRESHOLD_PASSED;
    return n;
}

const char *threshold_status_name(enum threshold_status st)
{
    return st == THRESHOLD_PASSED ? "passed" : st == THRESHOLD_FAILED ? "failed" : "error";
}

/* ---- describing --------------------------------------------------------------------- */

static const char *op_text(enum threshold_op op)
{
    static const char *const ops[] = {"<", "<=", ">", ">="};
    return ops[op];
}

/* v with at most `decimals` decimals, trailing zeros dropped ("500", "0.25"). */
static void put_num(sbuf *out, double v, int decimals)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    if (strchr(buf, '.')) {
        char *e = buf + strlen(buf);
        while (e[-1] == '0')
            *--e = '\0';
        if (e[-1] == '.')
            e[-1] = '\0';
    }
    sbuf_puts(out, strcmp(buf, "-0") == 0 ? "0" : buf);
}

static void put_value(sbuf *out, enum threshold_metric m, double v)
{
    if (is_time(m)) {
        put_num(out, v, 2);
        sbuf_puts(out, " ms");
    } else if (is_ratio(m)) {
        put_num(out, v * 100, 3);
        sbuf_putc(out, '%');
    } else {
        put_num(out, v, 2);
        sbuf_puts(out, " req/s");
    }
}

static void put_metric(sbuf *out, const threshold *t)
{
    static const char *const names[] = {
        [THRESHOLD_AVG] = "avg", [THRESHOLD_MAX] = "max",
        [THRESHOLD_FAIL_RATIO] = "fail_ratio", [THRESHOLD_RPS] = "rps",
        [THRESHOLD_CHECKS] = "checks",
    };
    if (t->metric == THRESHOLD_PERCENTILE) {
        sbuf_putc(out, 'p');
        put_num(out, t->pct * 100, 4);
    } else {
        sbuf_puts(out, names[t->metric]);
    }
}

void threshold_describe(const threshold *t, sbuf *out)
{
    if (t->evaluated && t->status == THRESHOLD_ERROR) {
        if (t->metric == THRESHOLD_CHECKS)
            sbuf_puts(out, "no samples: no check ran");
        else if (t->request)
            sbuf_printf(out, "no samples: no request named \"%s\"", t->request);
        else
            sbuf_puts(out, "no samples: no requests");
        return;
    }
    if (t->metric == THRESHOLD_CHECKS) {
        sbuf_puts(out, "checks held");
    } else {
        put_metric(out, t);
        sbuf_printf(out, " of %s", t->request ? t->request : "all requests");
    }
    sbuf_puts(out, ": ");
    if (t->evaluated)
        put_value(out, t->metric, t->value);
    else
        sbuf_puts(out, "not measured yet");
    sbuf_printf(out, ", limit %s ", op_text(t->op));
    put_value(out, t->metric, t->limit);
    if (t->tripped)
        sbuf_puts(out, " (ended the test)");
}

void threshold_write_json(const threshold_set *set, json_writer *w)
{
    sbuf b = SBUF_INIT;
    json_begin_array(w);
    for (size_t i = 0; i < set->n; i++) {
        const threshold *t = &set->v[i];
        json_begin_object(w);
        json_key(w, "threshold");
        json_put_string(w, t->text);
        json_key(w, "request");
        if (t->request)
            json_put_string(w, t->request);
        else
            json_put_null(w);
        json_key(w, "metric");
        sbuf_reset(&b);
        put_metric(&b, t);
        json_put_string(w, sbuf_str(&b));
        json_key(w, "op");
        json_put_string(w, op_text(t->op));
        json_key(w, "limit");
        json_put_double(w, t->limit);
        json_key(w, "unit");
        json_put_string(w, is_time(t->metric) ? "ms" : is_ratio(t->metric) ? "ratio" : "req/s");
        json_key(w, "abort_on_fail");
        json_put_bool(w, t->abort_on_fail);
        json_key(w, "aborted");
        json_put_bool(w, t->tripped);
        json_key(w, "status");
        if (t->evaluated)
            json_put_string(w, threshold_status_name(t->status));
        else
            json_put_null(w);
        json_key(w, "value");
        if (t->evaluated && t->status != THRESHOLD_ERROR)
            json_put_double(w, t->value);
        else
            json_put_null(w);
        json_key(w, "text");
        sbuf_reset(&b);
        threshold_describe(t, &b);
        json_put_string(w, sbuf_str(&b));
        json_end_object(w);
    }
    json_end_array(w);
    sbuf_free(&b);
}
