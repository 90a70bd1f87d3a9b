#include "statsjson.h"

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "ratio.h"
#include "xalloc.h"

static void put_ms(json_writer *w, uint64_t us)
{
    json_put_uint(w, stats_us_to_ms(us));
}

/* Locust 2.12's safe_name: the name with &, <, > (and quotes) HTML-escaped. */
static void put_safe_name(json_writer *w, const char *name)
{
    if (!strpbrk(name, "&<>")) {
        json_put_string(w, name);
        return;
    }
    sbuf b = SBUF_INIT;
    for (const char *p = name; *p; p++) {
        switch (*p) {
        case '&': sbuf_puts(&b, "&amp;"); break;
        case '<': sbuf_puts(&b, "&lt;"); break;
        case '>': sbuf_puts(&b, "&gt;"); break;
        default: sbuf_putc(&b, *p);
        }
    }
    json_put_stringn(w, sbuf_str(&b), b.len);
    sbuf_free(&b);
}

/* "timings": per phase its average and percentiles in milliseconds with three decimals
 * (phases are often well under a millisecond); null when no request had a breakdown. */
static void put_timings(json_writer *w, const stats_entry *e)
{
    static const double ps[3] = {0.50, 0.95, 0.99};
    static const char *const pk[3] = {"p50", "p95", "p99"};
    json_key(w, "timings");
    if (!e->timing.count) {
        json_put_null(w);
        return;
    }
    json_begin_object(w);
    json_key(w, "count");
    json_put_uint(w, e->timing.count);
    for (int p = 0; p < STATS_NPHASES; p++) {
        uint64_t v[3];
        stats_phase_percentiles_us(e, p, ps, 3, v);
        json_key(w, stats_phase_names[p]);
        json_begin_object(w);
        json_key(w, "avg");
        json_put_decimal(w, stats_phase_avg_ms(e, p), 3);
        for (int k = 0; k < 3; k++) {
            json_key(w, pk[k]);
            json_put_decimal(w, (double)v[k] / 1000.0, 3);
        }
        json_end_object(w);
    }
    json_end_object(w);
}

/* Row values use six decimals: a fast form (a table has hundreds of rows, polled by
 * every open dashboard) that loses only noise; the top-level figures are exact. */
void statsjson_row(json_writer *w, stats *s, const stats_entry *e, double now)
{
    static const double ps[3] = {0.90, 0.95, 0.99};
    uint64_t pct[3];
    stats_percentiles_us(e, ps, 3, pct);
    json_begin_object(w);
    json_key(w, "method");
    json_put_string(w, e->method);
    json_key(w, "name");
    json_put_string(w, e->name);
    json_key(w, "safe_name");
    put_safe_name(w, e->name);
    json_key(w, "num_requests");
    json_put_uint(w, e->num_requests);
    json_key(w, "num_failures");
    json_put_uint(w, e->num_failures);
    json_key(w, "avg_response_time");
    json_put_decimal(w, stats_avg_rt_ms(e), 6);
    json_key(w, "min_response_time");
    put_ms(w, e->min_rt_us == UINT64_MAX ? 0 : e->min_rt_us);
    json_key(w, "max_response_time");
    put_ms(w, e->max_rt_us);
    json_key(w, "median_response_time");
    put_ms(w, stats_median_us(e));
    json_key(w, "ninetieth_response_time");
    put_ms(w, pct[0]);
    json_key(w, "ninety_ninth_response_time");
    put_ms(w, pct[2]);
    json_key(w, "response_time_percentile_0.95");
    put_ms(w, pct[1]);
    json_key(w, "response_time_percentile_0.99");
    put_ms(w, pct[2]);
    json_key(w, "current_rps");
    json_put_decimal(w, stats_current_rps(s, e, now), 6);
    json_key(w, "current_fail_per_sec");
    json_put_decimal(w, stats_current_fail_per_sec(s, e, now), 6);
    json_key(w, "total_rps");
    json_put_decimal(w, stats_total_rps(s, e), 6);
    json_key(w, "total_fail_per_sec");
    json_put_decimal(w, stats_total_fail_per_sec(s, e), 6);
    json_key(w, "avg_content_length");
    json_put_decimal(w, stats_avg_content_length(e), 6);
    put_timings(w, e);
    if (e->co_hist.count) {
        /* Open model: the same percentiles measured from each iteration's intended start
         * (what a user arriving on time would have waited). */
        static const double cps[] = {0.5, 0.95, 0.99};
        static const char *const keys[] = {"0.5", "0.95", "0.99"};
        json_key(w, "intended_start_percentiles");
        json_begin_object(w);
        for (int i = 0; i < 3; i++) {
            json_key(w, keys[i]);
            json_put_uint(w, stats_us_to_ms(hist_percentile(&e->co_hist, cps[i])));
        }
        json_end_object(w);
    }
    json_end_object(w);
}

void statsjson_errors(json_writer *w, stats *s)
{
    size_t n;
    stats_error *const *errs = stats_errors(s, &n);
    json_begin_array(w);
    for (size_t i = 0; i < n && i < STATSJSON_MAX_ROWS; i++) {
        json_begin_object(w);
        json_key(w, "method");
        json_put_string(w, errs[i]->entry->method);
        json_key(w, "name");
        json_put_string(w, errs[i]->entry->name);
        json_key(w, "error");
        json_put_string(w, errs[i]->error);
        json_key(w, "occurrences");
        json_put_uint(w, errs[i]->occurrences);
        json_end_object(w);
    }
    json_end_array(w);
}

static void put_current_pct(json_writer *w, const stats_entry *e, double now, double p)
{
    uint64_t us;
    if (stats_current_percentile_us(e, now, p, &us))
        put_ms(w, us);
    else
        json_put_null(w);
}

void statsjson_generator(json_writer *w, stats *s, const health *h, master *m)
{
    uint64_t started, late, dropped;
    stats_iterations(s, &started, &late, &dropped);
    double worker_peak = m ? master_worker_cpu_peak(m) : 0;
    char why[256] = "";
    bool limited = h && health_limited(h, late, dropped, worker_peak, why, sizeof why);
    json_begin_object(w);
    json_key(w, "cpu_percent");
    json_put_decimal(w, h ? h->cpu_now : 0, 1);
    json_key(w, "cpu_percent_peak");
    json_put_decimal(w, h ? h->cpu_peak : 0, 1);
    json_key(w, "loop_lag_ms");
    json_put_decimal(w, h ? h->lag_now_ms : 0, 1);
    json_key(w, "loop_lag_ms_peak");
    json_put_decimal(w, h ? h->lag_peak_ms : 0, 1);
    json_key(w, "iterations");
    json_put_uint(w, started);
    json_key(w, "iterations_late");
    json_put_uint(w, late);
    json_key(w, "iterations_dropped");
    json_put_uint(w, dropped);
    json_key(w, "limited");
    json_put_bool(w, limited);
    json_key(w, "reason");
    if (limited)
        json_put_string(w, why);
    else
        json_put_null(w);
    json_end_object(w);
}

void statsjson_requests(json_writer *w, stats *s, const runner *r, master *m,
                        const threshold_set *thresholds, const health *h, double now)
{
    stats_entry *total = stats_total(s);
    json_begin_object(w);
    json_key(w, "stats");
    json_begin_array(w);
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    for (size_t i = 0; i < n && i < STATSJSON_MAX_ROWS; i++)
        statsjson_row(w, s, rows[i], now);
    statsjson_row(w, s, total, now);
    json_end_array(w);
    json_key(w, "errors");
    statsjson_errors(w, s);
    json_key(w, "current_rps");
    json_put_double(w, stats_current_rps(s, total, now));
    json_key(w, "current_fail_per_sec");
    json_put_double(w, stats_current_fail_per_sec(s, total, now));
    json_key(w, "total_rps");
    json_put_double(w, stats_total_rps(s, total));
    json_key(w, "total_fail_per_sec");
    json_put_double(w, stats_total_fail_per_sec(s, total));
    json_key(w, "fail_ratio");
    json_put_double(w, stats_fail_ratio(total));
    json_key(w, "total_avg_response_time");
    json_put_double(w, stats_avg_rt_ms(total));
    json_key(w, "current_response_time_percentile_50");
    put_current_pct(w, total, now, 0.5);
    json_key(w, "current_response_time_percentile_95");
    put_current_pct(w, total, now, 0.95);
    json_key(w, "current_response_time_percentiles");
    json_begin_object(w);
    json_key(w, "response_time_percentile_0.5");
    put_current_pct(w, total, now, 0.5);
    json_key(w, "response_time_percentile_0.95");
    put_current_pct(w, total, now, 0.95);
    json_end_object(w);
    json_key(w, "state");
    json_put_string(w, runner_state_name(r ? runner_state(r) : RUNNER_READY));
    json_key(w, "user_count");
    json_put_uint(w, r ? runner_user_count(r) : 0);
    json_key(w, "worker_count");
    json_put_uint(w, m ? master_worker_count(m) : 0);
    json_key(w, "generator");
    statsjson_generator(w, s, h, m);
    json_key(w, "thresholds");
    if (thresholds)
        threshold_write_json(thresholds, w);
    else
        json_put_raw(w, "[]", 2);
    if (m) {
        /* As Locust's: one object per worker, plus where it runs and when it last spoke. */
        master_worker_info info[256];
        size_t nw = master_workers(m, info, sizeof info / sizeof info[0]);
        json_key(w, "workers");
        json_begin_array(w);
        for (size_t i = 0; i < nw && i < sizeof info / sizeof info[0]; i++) {
            json_begin_object(w);
            json_key(w, "id");
            json_put_string(w, info[i].id);
            json_key(w, "host");
            json_put_string(w, info[i].host);
            json_key(w, "index");
            json_put_uint(w, info[i].index);
            json_key(w, "state");
            json_put_string(w, info[i].state);
            json_key(w, "user_count");
            json_put_uint(w, info[i].user_count);
            json_key(w, "cpu_usage");
            json_put_decimal(w, info[i].cpu, 1);
            json_key(w, "memory_usage");
            json_put_uint(w, info[i].rss);
            json_key(w, "heartbeat_age");
            json_put_decimal(w, info[i].heartbeat_age, 1);
            json_end_object(w);
        }
        json_end_array(w);
    }
    json_end_object(w);
}

void statsjson_exceptions(json_writer *w, stats *s)
{
    size_t n;
    stats_exception *const *xs = stats_exceptions(s, &n);
    json_begin_array(w);
    for (size_t i = 0; i < n; i++) {
        json_begin_object(w);
        json_key(w, "count");
        json_put_uint(w, xs[i]->count);
        json_key(w, "msg");
        json_put_string(w, xs[i]->msg);
        json_key(w, "traceback");
        json_put_string(w, xs[i]->traceback);
        json_key(w, "nodes");
        json_put_string(w, xs[i]->nodes);
        json_end_object(w);
    }
    json_end_array(w);
}

void statsjson_tasks(json_writer *w, const scenario *sc, const runner *r, unsigned planned)
{
    unsigned *counts = xcalloc((size_t)sc->nrun + 1, sizeof *counts);
    unsigned running = 0;
    for (int i = 0; r && i < sc->nrun; i++)
        running += counts[i] = runner_class_users(r, sc->run[i]->order);
    if (running == 0) {
        dispatch_class *dc = xcalloc((size_t)sc->nrun + 1, sizeof *dc);
        for (int i = 0; i < sc->nrun; i++)
            dc[i] = (dispatch_class){sc->run[i]->name, sc->run[i]->weight,
                                     (unsigned)sc->run[i]->fixed_count};
        dispatch_ratio_counts(dc, (size_t)sc->nrun, planned, counts);
        free(dc);
    }
    sbuf b = SBUF_INIT;
    ratio_json(&b, sc->run, counts, sc->nrun, 0, JSON_W_ASCII | JSON_W_HTML);
    json_put_raw(w, sbuf_str(&b), b.len);
    sbuf_free(&b);
    free(counts);
}
