#include "history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* Running sums for one averaged value; NAN inputs are left out. */
typedef struct acc {
    double sum;
    unsigned n;
} acc;

static void acc_add(acc *a, double v)
{
    if (!isnan(v)) {
        a->sum += v;
        a->n++;
    }
}

static double acc_mean(const acc *a)
{
    return a->n ? a->sum / a->n : NAN;
}

/* Delta tracking of one entry's response times between samples. */
typedef struct tracker {
    const stats_entry *e;
    uint64_t n, rt_us;      /* timed requests and their sum at the last sample */
} tracker;

static double tracker_step(tracker *t)
{
    uint64_t n = t->e->num_requests - t->e->num_none_requests, rt = t->e->total_rt_us;
    double v = NAN;
    /* A reset makes the counters go down: start again from there. */
    if (n > t->n && rt >= t->rt_us)
        v = (double)(rt - t->rt_us) / (double)(n - t->n) / 1000.0;
    t->n = n;
    t->rt_us = rt;
    return v;
}

typedef struct name_series {
    tracker t;
    char *label;            /* "METHOD name" */
    float *v;               /* HISTORY_CAP values */
    acc pending;
} name_series;

struct history {
    history_point *p;       /* HISTORY_CAP */
    size_t len;
    unsigned stride;        /* seconds per point */
    tracker total;
    name_series names[HISTORY_NAMES];
    size_t nnames;
    /* the point being built while stride > 1 */
    unsigned pending_n;
    acc pend_users, pend_rps, pend_fps, pend_p50, pend_p95, pend_avg;
};

history *history_new(void)
{
    history *h = xcalloc(1, sizeof *h);
    h->p = xcalloc(HISTORY_CAP, sizeof *h->p);
    h->stride = 1;
    return h;
}

void history_clear(history *h)
{
    for (size_t i = 0; i < h->nnames; i++) {
        free(h->names[i].label);
        free(h->names[i].v);
    }
    history_point *p = h->p;
    memset(h, 0, sizeof *h);
    h->p = p;
    h->stride = 1;
}

void history_free(history *h)
{
    if (!h)
        return;
    history_clear(h);
    free(h->p);
    free(h);
}

static bool tracked(const history *h, const stats_entry *e)
{
    for (size_t i = 0; i < h->nnames; i++)
        if (h->names[i].t.e == e)
            return true;
    return false;
}

/* Starts following names as they appear, up to HISTORY_NAMES; their earlier points are
 * NAN. */
static void follow_new_names(history *h, stats *s)
{
    if (h->nnames == HISTORY_NAMES)
        return;
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    for (size_t i = 0; i < n && h->nnames < HISTORY_NAMES; i++) {
        if (tracked(h, rows[i]))
            continue;
        name_series *ns = &h->names[h->nnames++];
        memset(ns, 0, sizeof *ns);
        ns->t.e = rows[i];
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "%s %s", rows[i]->method, rows[i]->name);
        ns->label = sbuf_take(&b);
        ns->v = xmalloc(HISTORY_CAP * sizeof *ns->v);
        for (size_t k = 0; k < HISTORY_CAP; k++)
            ns->v[k] = NAN;
    }
}

static double mean2(double a, double b)
{
    if (isnan(a))
        return b;
    if (isnan(b))
        return a;
    return (a + b) / 2;
}

/* The ring is full: merge neighbours, doubling the interval. */
static void compress(history *h)
{
    size_t half = h->len / 2;
    for (size_t i = 0; i < half; i++) {
        const history_point *a = &h->p[2 * i], *b = &h->p[2 * i + 1];
        history_point m = {
            .time = b->time,
            .users = mean2(a->users, b->users),
            .rps = mean2(a->rps, b->rps),
            .fps = mean2(a->fps, b->fps),
            .p50 = mean2(a->p50, b->p50),
            .p95 = mean2(a->p95, b->p95),
            .avg_rt = mean2(a->avg_rt, b->avg_rt),
        };
        h->p[i] = m;
        for (size_t k = 0; k < h->nnames; k++) {
            float *v = h->names[k].v;
            v[i] = (float)mean2(v[2 * i], v[2 * i + 1]);
        }
    }
    for (size_t k = 0; k < h->nnames; k++)
        for (size_t i = half; i < HISTORY_CAP; i++)
            h->names[k].v[i] = NAN;
    h->len = half;
    h->stride *= 2;
}

static double current_ms(const stats_entry *e, double now, double p)
{
    uint64_t us;
    return stats_current_percentile_us(e, now, p, &us) ? (double)us / 1000.0 : NAN;
}

void history_sample(history *h, stats *s, double now, unsigned users)
{
    stats_entry *total = stats_total(s);
    /* From zero, as the names' trackers: the history starts with the statistics (a new
     * test or a reset zeroes them), so the first second's requests belong to the first
     * point. */
    h->total.e = total;
    follow_new_names(h, s);
    acc_add(&h->pend_users, users);
    acc_add(&h->pend_rps, stats_current_rps(s, total, now));
    acc_add(&h->pend_fps, stats_current_fail_per_sec(s, total, now));
    acc_add(&h->pend_p50, current_ms(total, now, 0.5));
    acc_add(&h->pend_p95, current_ms(total, now, 0.95));
    acc_add(&h->pend_avg, tracker_step(&h->total));
    for (size_t k = 0; k < h->nnames; k++)
        acc_add(&h->names[k].pending, tracker_step(&h->names[k].t));
    if (++h->pending_n < h->stride)
        return;

    if (h->len == HISTORY_CAP)
        compress(h);
    h->p[h->len] = (history_point){
        .time = floor(now),
        .users = acc_mean(&h->pend_users),
        .rps = acc_mean(&h->pend_rps),
        .fps = acc_mean(&h->pend_fps),
        .p50 = acc_mean(&h->pend_p50),
        .p95 = acc_mean(&h->pend_p95),
        .avg_rt = acc_mean(&h->pend_avg),
    };
    for (size_t k = 0; k < h->nnames; k++) {
        h->names[k].v[h->len] = (float)acc_mean(&h->names[k].pending);
        h->names[k].pending = (acc){0, 0};
    }
    h->len++;
    h->pending_n = 0;
    h->pend_users = h->pend_rps = h->pend_fps = h->pend_p50 = h->pend_p95 = h->pend_avg =
        (acc){0, 0};
}

size_t history_len(const history *h)
{
    return h->len;
}

const history_point *history_at(const history *h, size_t i)
{
    return &h->p[i];
}

unsigned history_interval(const history *h)
{
    return h->stride;
}

size_t history_names(const history *h)
{
    return h->nnames;
}

const char *history_name(const history *h, size_t k)
{
    return h->names[k].label;
}

double history_name_value(const history *h, size_t k, size_t i)
{
    return h->names[k].v[i];
}

/* Two decimals are plenty for a chart and keep the answer small. */
static void put_2dp(json_writer *w, double v)
{
    json_put_double(w, isnan(v) ? v : round(v * 100) / 100);
}

void history_write_json(const history *h, json_writer *w, double since)
{
    static const char *const columns[] = {"time", "user_count", "current_rps",
                                          "current_fail_per_sec",
                                          "response_time_percentile_0.5",
                                          "response_time_percentile_0.95",
                                          "avg_response_time"};
    size_t first = 0;
    while (first < h->len && h->p[first].time <= since)
        first++;
    json_begin_object(w);
    json_key(w, "interval");
    json_put_uint(w, h->stride);
    json_key(w, "columns");
    json_begin_array(w);
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
        json_put_string(w, columns[i]);
    json_end_array(w);
    json_key(w, "points");
    json_begin_array(w);
    for (size_t i = first; i < h->len; i++) {
        const history_point *p = &h->p[i];
        json_begin_array(w);
        json_put_int(w, (int64_t)p->time);
        json_put_int(w, (int64_t)llround(isnan(p->users) ? 0 : p->users));
        put_2dp(w, p->rps);
        put_2dp(w, p->fps);
        put_2dp(w, p->p50);
        put_2dp(w, p->p95);
        put_2dp(w, p->avg_rt);
        json_end_array(w);
    }
    json_end_array(w);
    json_key(w, "names");
    json_begin_array(w);
    for (size_t k = 0; k < h->nnames; k++)
        json_put_string(w, h->names[k].label);
    json_end_array(w);
    json_key(w, "series");
    json_begin_array(w);
    for (size_t k = 0; k < h->nnames; k++) {
        json_begin_array(w);
        for (size_t i = first; i < h->len; i++)
            put_2dp(w, h->names[k].v[i]);
        json_end_array(w);
    }
    json_end_array(w);
    json_end_object(w);
}
