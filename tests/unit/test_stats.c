/* Tests for engine/stats.c: logging, Locust's derived values, current rates and
 * percentiles, failures, exceptions, the name cap, reset/clear and distributed merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "rng.h"
#include "stats.h"

/* A wall-clock second far from 0, as ev_now gives. */
#define T 1700000000.0

#define assert_same_double(got, want)                                                     \
    do {                                                                                   \
        double got_ = (got), want_ = (want);                                               \
        if (got_ != want_)                                                                 \
            fail_msg("%s = %.17g, want %.17g", #got, got_, want_);                         \
    } while (0)

/* Sends log lines (the name-cap warning) to /dev/null rather than the test output; the
 * observer still sees them. */
static void quiet_logs(bool quiet)
{
    char err[128];
    if (quiet)
        assert_int_equal(log_setup(LOG_INFO, "/dev/null", false, err, sizeof err), 0);
    else
        log_close();
}

/* Requests (or failures) counted for wall-clock second t, 0 if the ring has moved on. */
static uint32_t sec_count(const stats_entry *e, uint32_t t, bool fails)
{
    const stats_sec *slot = &e->secs[t % STATS_SEC_RING];
    if (slot->sec != t)
        return 0;
    return fails ? slot->fails : slot->reqs;
}

static void test_log_updates_entry_and_total(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    stats_entry *a = stats_entry_get(s, "GET", "/a", T);
    stats_entry *b = stats_entry_get(s, "POST", "/b", T);
    stats_entry *tot = stats_total(s);
    assert_ptr_equal(stats_entry_get(s, "GET", "/a", T + 1), a);
    assert_ptr_not_equal(stats_entry_get(s, "POST", "/a", T), a);
    assert_string_equal(tot->name, "Aggregated");
    assert_string_equal(tot->method, "");

    /* Fresh entry: Locust's zeros. */
    assert_same_double(stats_avg_rt_ms(a), 0.0);
    assert_same_double(stats_min_rt_ms(a), 0.0);
    assert_same_double(stats_max_rt_ms(a), 0.0);
    assert_int_equal(stats_percentile_us(a, 0.5), 0);
    assert_int_equal(stats_median_us(a), 0);

    stats_log(s, a, T + 0.5, 1000, 100, NULL);
    stats_log(s, a, T + 1.25, 3000, 50, "boom");
    stats_log(s, a, T + 1.75, -1, 7, NULL);
    stats_log(s, b, T + 2.5, 500, 10, NULL);
    stats_log(s, b, T + 2.5, 0, 0, NULL);
    stats_log(s, b, T + 3.0, -5, 3, "late");

    assert_int_equal(a->num_requests, 3);
    assert_int_equal(a->num_none_requests, 1);
    assert_int_equal(a->num_failures, 1);
    assert_int_equal(a->total_rt_us, 4000);
    assert_int_equal(a->min_rt_us, 1000);
    assert_int_equal(a->max_rt_us, 3000);
    assert_int_equal(a->total_content_length, 157);
    assert_int_equal(a->hist.count, 2);     /* the none-time request is not in it */
    assert_same_double(a->last_request_ts, T + 1.75);
    assert_int_equal(sec_count(a, (uint32_t)T, false), 1);
    assert_int_equal(sec_count(a, (uint32_t)T + 1, false), 2);
    assert_int_equal(sec_count(a, (uint32_t)T + 1, true), 1);
    assert_int_equal(sec_count(a, (uint32_t)T, true), 0);

    assert_int_equal(b->num_requests, 3);
    assert_int_equal(b->num_none_requests, 1);
    assert_int_equal(b->num_failures, 1);
    assert_int_equal(b->total_rt_us, 500);
    assert_int_equal(b->min_rt_us, 0);      /* 0 is a real time */
    assert_int_equal(b->max_rt_us, 500);
    assert_int_equal(b->hist.count, 2);

    assert_int_equal(tot->num_requests, 6);
    assert_int_equal(tot->num_none_requests, 2);
    assert_int_equal(tot->num_failures, 2);
    assert_int_equal(tot->total_rt_us, 4500);
    assert_int_equal(tot->min_rt_us, 0);
    assert_int_equal(tot->max_rt_us, 3000);
    assert_int_equal(tot->total_content_length, 170);
    assert_int_equal(tot->hist.count, 4);
    assert_same_double(tot->last_request_ts, T + 3.0);
    assert_int_equal(sec_count(tot, (uint32_t)T + 2, false), 2);
    assert_int_equal(sec_count(tot, (uint32_t)T + 3, true), 1);

    /* avg over requests with a time: num_requests - num_none_requests. */
    assert_same_double(stats_avg_rt_ms(a), 2.0);
    assert_same_double(stats_avg_rt_ms(b), 0.25);
    assert_same_double(stats_avg_rt_ms(tot), 4500.0 / 4 / 1000);
    assert_same_double(stats_min_rt_ms(a), 1.0);
    assert_same_double(stats_max_rt_ms(a), 3.0);
    assert_same_double(stats_min_rt_ms(b), 0.0);
    stats_free(s);
}

static void test_derived_values(void **state)
{
    (void)state;
    stats_entry e;
    memset(&e, 0, sizeof e);
    e.min_rt_us = UINT64_MAX;
    /* fail_ratio with no requests: 1.0 with failures, 0.0 without. */
    assert_same_double(stats_fail_ratio(&e), 0.0);
    e.num_failures = 2;
    assert_same_double(stats_fail_ratio(&e), 1.0);
    assert_same_double(stats_avg_content_length(&e), 0.0);
    e.num_requests = 3;
    e.num_failures = 1;
    assert_same_double(stats_fail_ratio(&e), 1.0 / 3.0);
    e.total_content_length = 1000;
    assert_same_double(stats_avg_content_length(&e), 1000.0 / 3.0);
    /* Only none-time requests: avg 0, not a division by zero. */
    e.num_none_requests = 3;
    assert_same_double(stats_avg_rt_ms(&e), 0.0);
    e.num_none_requests = 1;
    e.total_rt_us = 3001;
    assert_same_double(stats_avg_rt_ms(&e), 3001.0 / 2.0 / 1000.0);

    /* total_rps: count / (Aggregated last - Aggregated start), per-name rows too. */
    stats *s = stats_new(0, false, T + 0.5);
    stats_entry *a = stats_entry_get(s, "GET", "/a", T + 4);
    stats_entry *b = stats_entry_get(s, "GET", "/b", T + 4);
    assert_same_double(stats_total_rps(s, stats_total(s)), 0.0);
    assert_same_double(stats_total_fail_per_sec(s, stats_total(s)), 0.0);
    stats_log(s, a, T + 4.5, 10, 0, NULL);
    stats_log(s, a, T + 5.0, 10, 0, "x");
    stats_log(s, b, T + 5.5, 10, 0, "y");
    stats_log(s, a, T + 10.5, 10, 0, "x");
    /* Span 10 s from the Aggregated timestamps, although b started at T+4 and last
     * logged at T+5.5. */
    assert_same_double(stats_total_rps(s, a), 3 / 10.0);
    assert_same_double(stats_total_rps(s, b), 1 / 10.0);
    assert_same_double(stats_total_rps(s, stats_total(s)), 4 / 10.0);
    assert_same_double(stats_total_fail_per_sec(s, a), 2 / 10.0);
    assert_same_double(stats_total_fail_per_sec(s, b), 1 / 10.0);
    assert_same_double(stats_total_fail_per_sec(s, stats_total(s)), 3 / 10.0);
    assert_same_double(stats_fail_ratio(a), 2.0 / 3.0);
    assert_same_double(stats_fail_ratio(stats_total(s)), 3.0 / 4.0);
    stats_free(s);

    /* A request at the very start time: zero span gives 0, not infinity. */
    s = stats_new(0, false, T);
    stats_log(s, stats_entry_get(s, "GET", "/", T), T, 10, 0, NULL);
    assert_same_double(stats_total_rps(s, stats_total(s)), 0.0);
    assert_same_double(stats_total_fail_per_sec(s, stats_total(s)), 0.0);
    stats_free(s);
}

static void test_percentile_constants(void **state)
{
    (void)state;
    static const double want[] = {0.50, 0.66, 0.75, 0.80, 0.90, 0.95,
                                  0.98, 0.99, 0.999, 0.9999, 1.0};
    static const char *labels[] = {"50%", "66%", "75%", "80%", "90%", "95%",
                                   "98%", "99%", "99.9%", "99.99%", "100%"};
    for (int i = 0; i < STATS_NPCT; i++) {
        assert_same_double(stats_percentiles[i], want[i]);
        assert_string_equal(stats_percentile_labels[i], labels[i]);
    }
}

/* Locust's current_rps, anchored at now: mean of per_sec[t] over t in
 * [max(now-12, start), now-2), whole seconds. */
static double ref_rate(const uint32_t *per_sec, size_t n, double start, double now)
{
    int64_t last = (int64_t)now, from = last - 12, to = last - 2;
    if (from < (int64_t)start)
        from = (int64_t)start;
    if (to <= from)
        return 0.0;
    uint64_t sum = 0;
    for (int64_t t = from; t < to; t++) {
        int64_t k = t - (int64_t)T;
        if (k >= 0 && (size_t)k < n)
            sum += per_sec[k];
    }
    return (double)sum / (double)(to - from);
}

static void test_current_rates(void **state)
{
    (void)state;
    enum { SECS = 20 };
    uint32_t reqs[SECS] = {0}, fails[SECS] = {0}, a_reqs[SECS] = {0};
    /* Start mid-second: the window starts at int(start). */
    stats *s = stats_new(0, false, T + 0.7);
    stats_entry *a = stats_entry_get(s, "GET", "/a", T + 0.7);
    stats_entry *b = stats_entry_get(s, "GET", "/b", T + 0.7);
    stats_entry *tot = stats_total(s);
    for (int k = 0; k < SECS; k++) {
        double now = T + k + 0.5;
        /* Second k: k+1 requests, k%3 of them failures; /a takes the even ones. */
        reqs[k] = (uint32_t)k + 1;
        fails[k] = (uint32_t)k % 3;
        for (int i = 0; i <= k; i++) {
            stats_entry *e = i % 2 ? b : a;
            a_reqs[k] += e == a;
            stats_log(s, e, now, 1000, 0, i < k % 3 ? "err" : NULL);
        }
        assert_same_double(stats_current_rps(s, tot, now), ref_rate(reqs, SECS, T + 0.7, now));
        assert_same_double(stats_current_fail_per_sec(s, tot, now),
                            ref_rate(fails, SECS, T + 0.7, now));
        assert_same_double(stats_current_rps(s, a, now), ref_rate(a_reqs, SECS, T + 0.7, now));
        /* Worked values. The first seconds give 0 (empty window). */
        switch (k) {
        case 0:
            assert_same_double(stats_current_rps(s, tot, T + 0.9), 0.0);
            break;
        case 2:
            assert_same_double(stats_current_rps(s, tot, T + 1.5), 0.0);
            assert_same_double(stats_current_rps(s, tot, T + 2.99), 0.0);
            break;
        case 3:
            assert_same_double(stats_current_rps(s, tot, now), 1.0);      /* [T, T+1) */
            break;
        case 5:
            assert_same_double(stats_current_rps(s, tot, now), 2.0);      /* (1+2+3)/3 */
            break;
        case 15:
            assert_same_double(stats_current_rps(s, tot, now), 8.5);      /* 4..13 / 10 */
            assert_same_double(stats_current_fail_per_sec(s, tot, now), 0.9);
            assert_same_double(stats_current_rps(s, b, now), 4.0);        /* (k+1)/2 each */
            break;
        }
    }
    /* Traffic stopped after T+19: the mean falls (Locust would freeze at its last value). */
    assert_same_double(stats_current_rps(s, tot, T + 25.5), 119.0 / 10);  /* 14..20 */
    assert_same_double(stats_current_fail_per_sec(s, tot, T + 25.5), 7.0 / 10);
    assert_same_double(stats_current_rps(s, tot, T + 31.0), 20.0 / 10);
    assert_same_double(stats_current_rps(s, tot, T + 32.0), 0.0);
    assert_same_double(stats_current_rps(s, tot, T + 40.0), 0.0);
    assert_same_double(stats_current_fail_per_sec(s, tot, T + 40.0), 0.0);
    assert_same_double(stats_current_rps(s, a, T + 40.0), 0.0);
    /* Long after, the ring slots of the same index must not count again. */
    assert_same_double(stats_current_rps(s, tot, T + 15.5 + 16 * 4), 0.0);

    /* A reset moves the start: nothing before it counts, the first seconds give 0. */
    stats_reset(s, T + 50.2, false);
    assert_same_double(stats_current_rps(s, tot, T + 52.5), 0.0);
    stats_log(s, a, T + 50.5, 1000, 0, NULL);
    stats_log(s, a, T + 51.5, 1000, 0, NULL);
    stats_log(s, a, T + 51.6, 1000, 0, NULL);
    assert_same_double(stats_current_rps(s, tot, T + 52.5), 0.0);
    assert_same_double(stats_current_rps(s, tot, T + 53.5), 1.0);
    assert_same_double(stats_current_rps(s, tot, T + 54.5), 1.5);
    assert_same_double(stats_current_rps(s, a, T + 54.5), 1.5);
    assert_same_double(stats_current_rps(s, b, T + 54.5), 0.0);
    stats_free(s);
}

static void test_percentiles_clamped(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    stats_entry *e = stats_entry_get(s, "GET", "/same", T);
    for (int i = 0; i < 50; i++)
        stats_log(s, e, T + 1, 1234, 0, NULL);
    /* The bucket reports 1239; the exact max is 1234. */
    assert_int_equal(hist_percentile(&e->hist, 0.5), 1239);
    for (int i = 0; i < STATS_NPCT; i++)
        assert_int_equal(stats_percentile_us(e, stats_percentiles[i]), 1234);
    assert_int_equal(stats_median_us(e), 1234);

    /* And below the min: 1310 is reported as 1303 by its bucket. */
    stats_entry *f = stats_entry_get(s, "GET", "/low", T);
    for (int i = 0; i < 5; i++)
        stats_log(s, f, T + 1, 1310, 0, NULL);
    assert_int_equal(hist_median(&f->hist), 1303);
    assert_int_equal(stats_median_us(f), 1310);
    assert_int_equal(stats_percentile_us(f, 1.0), 1310);

    /* Only none-time requests: 0. */
    stats_entry *g = stats_entry_get(s, "GET", "/none", T);
    stats_log(s, g, T + 1, -1, 0, NULL);
    assert_int_equal(stats_percentile_us(g, 0.5), 0);
    assert_int_equal(stats_median_us(g), 0);
    stats_free(s);
}

static void test_locust_example_ms(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    stats_entry *e = stats_entry_get(s, "GET", "/", T);
    for (int64_t ms = 1; ms <= 4; ms++)
        stats_log(s, e, T + 1, ms * 1000, 0, NULL);
    assert_int_equal(stats_us_to_ms(stats_percentile_us(e, 0.50)), 3);
    assert_int_equal(stats_us_to_ms(stats_percentile_us(e, 0.25)), 2);
    assert_int_equal(stats_us_to_ms(stats_percentile_us(e, 0.75)), 4);
    assert_int_equal(stats_us_to_ms(stats_median_us(e)), 2);
    assert_int_equal(stats_percentile_us(e, 0.75), 4000);   /* 4015 clamped to max */
    assert_int_equal(stats_percentile_us(e, 1.0), 4000);
    assert_int_equal(stats_percentile_us(e, 0.0), 1003);
    stats_free(s);
}

static void test_percentile_ordering_random(void **state)
{
    (void)state;
    rng_seed(3);
    stats *s = stats_new(0, false, T);
    for (int trial = 0; trial < 20; trial++) {
        char name[32];
        snprintf(name, sizeof name, "/r%d", trial);
        stats_entry *e = stats_entry_get(s, "GET", name, T);
        int n = 1 + (int)rng_below(trial < 10 ? 10 : 5000);
        for (int i = 0; i < n; i++) {
            /* Every third entry: a narrow range, where clamping decides the ends. */
            uint64_t v = trial % 3 == 0 ? 1000 + rng_below(100)
                                        : rng_below(UINT64_C(1) << rng_below(32));
            stats_log(s, e, T + 1, (int64_t)v, 0, NULL);
        }
        uint64_t prev = e->min_rt_us;
        for (int i = 0; i < STATS_NPCT; i++) {
            uint64_t p = stats_percentile_us(e, stats_percentiles[i]);
            uint64_t h = hist_percentile(&e->hist, stats_percentiles[i]);
            uint64_t want = h < e->min_rt_us ? e->min_rt_us : h > e->max_rt_us ? e->max_rt_us : h;
            assert_int_equal(p, want);
            assert_true(p >= prev);
            assert_true(stats_us_to_ms(p) >= stats_us_to_ms(prev));
            prev = p;
        }
        assert_true(prev <= e->max_rt_us);
        uint64_t med = stats_median_us(e);
        assert_in_range(med, e->min_rt_us, stats_percentile_us(e, 1.0));
        assert_true(stats_us_to_ms(e->min_rt_us) <= stats_us_to_ms(med));
        assert_true(stats_us_to_ms(prev) <= stats_us_to_ms(e->max_rt_us));
    }
    stats_free(s);
}

static void test_us_to_ms_rounds_half_even(void **state)
{
    (void)state;
    static const uint64_t in[] = {0, 1, 499, 500, 501, 1000, 1499, 1500, 1501,
                                  2500, 2501, 3500, 4500, 999999, 1234500, 1235500};
    static const uint64_t want[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 4, 1000, 1234, 1236};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        if (stats_us_to_ms(in[i]) != want[i])
            fail_msg("stats_us_to_ms(%llu) = %llu, want %llu", (unsigned long long)in[i],
                     (unsigned long long)stats_us_to_ms(in[i]), (unsigned long long)want[i]);
}

/* Runs 30 seconds with one sample of 10+k us in second k, ticking only at the seconds
 * listed; then the percentile 0 at T+30.5 shows which baseline was used (10 + key + 1).
 * Returns -1 when there is none. */
static int64_t baseline_probe(const int *ticks, size_t nticks, bool per_name)
{
    stats *s = stats_new(0, per_name, T);
    stats_entry *e = stats_entry_get(s, "GET", "/", T);
    for (int k = 0; k <= 30; k++) {
        for (size_t i = 0; i < nticks; i++)
            if (ticks[i] == k)
                stats_tick(s, T + k);
        if (k < 30)
            stats_log(s, e, T + k + 0.5, 10 + k, 0, NULL);
    }
    uint64_t v = 999, w = 999;
    bool ok = stats_current_percentile_us(stats_total(s), T + 30.5, 0.0, &v);
    bool ok_e = stats_current_percentile_us(e, T + 30.5, 0.0, &w);
    if (per_name) {
        assert_int_equal(ok_e, ok);
        if (ok)
            assert_int_equal(w, v);
    } else {
        assert_false(ok_e);
        assert_int_equal(w, 999);
    }
    stats_free(s);
    return ok ? (int64_t)v : -1;
}

static void test_current_percentile_baseline_order(void **state)
{
    (void)state;
    /* Query at t = T+30; a tick at second k stores key k-1. */
    int all[30];
    for (int k = 0; k < 30; k++)
        all[k] = k + 1;
    for (int per_name = 0; per_name < 2; per_name++) {
        /* t-10 (key 20) preferred. */
        assert_int_equal(baseline_probe(all, 30, per_name), 31);
        /* Without key 20: t-11 (19) before t-9 (21). */
        int no20[29], n = 0;
        for (int k = 1; k <= 30; k++)
            if (k != 21)
                no20[n++] = k;
        assert_int_equal(baseline_probe(no20, 29, per_name), 30);
        /* t-9 (21) before t-12 (18) and t-8 (22). */
        int t9[] = {19, 22, 23};
        assert_int_equal(baseline_probe(t9, 3, per_name), 32);
        /* t-12 (18) before t-8 (22). */
        int t12[] = {19, 23};
        assert_int_equal(baseline_probe(t12, 2, per_name), 29);
        /* t-18 (12) before t-2 (28). */
        int t18[] = {13, 29};
        assert_int_equal(baseline_probe(t18, 2, per_name), 23);
        /* t-2 (28) is the last accepted. */
        int t2[] = {29};
        assert_int_equal(baseline_probe(t2, 1, per_name), 39);
        /* t-19 (11), t-1 (29) and the creation baseline (t-30) are outside: none. */
        int outside[] = {12, 30};
        assert_int_equal(baseline_probe(outside, 2, per_name), -1);
        assert_int_equal(baseline_probe(NULL, 0, per_name), -1);
    }
}

static void test_current_percentile_window(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    stats_entry *tot = stats_total(s);
    stats_entry *e = stats_entry_get(s, "GET", "/", T);
    uint64_t v = 999;
    /* Before any usable snapshot: the creation baseline (key T) is first usable at T+2. */
    stats_log(s, e, T + 0.5, 100, 0, NULL);
    assert_false(stats_current_percentile_us(tot, T + 0.5, 0.5, &v));
    stats_tick(s, T + 1);
    stats_log(s, e, T + 1.5, 100, 0, NULL);
    assert_false(stats_current_percentile_us(tot, T + 1.5, 0.5, &v));
    assert_int_equal(v, 999);
    /* An entry without snapshots (window_all false) never has one. */
    assert_null(e->snaps);
    assert_false(stats_current_percentile_us(e, T + 1.5, 0.5, &v));
    stats_tick(s, T + 2);
    assert_true(stats_current_percentile_us(tot, T + 2.5, 0.5, &v));
    assert_int_equal(v, 100);
    assert_false(stats_current_percentile_us(e, T + 2.5, 0.5, &v));

    /* Seconds 2..19: 100 us; 20..29: 50 us; one sample a second; a tick every second. */
    for (int k = 2; k < 30; k++) {
        if (k > 2)
            stats_tick(s, T + k);
        stats_log(s, e, T + k + 0.5, k < 20 ? 100 : 50, 0, NULL);
        if (k != 25)
            continue;
        /* t = T+25: baseline key T+15, window = seconds 16..25: 4 x 100, 6 x 50. */
        assert_true(stats_current_percentile_us(tot, T + 25.5, 0.50, &v));
        assert_int_equal(v, 50);                        /* rank 5 */
        assert_true(stats_current_percentile_us(tot, T + 25.5, 0.66, &v));
        assert_int_equal(v, 100);                       /* rank 6 */
        assert_true(stats_current_percentile_us(tot, T + 25.5, 1.0, &v));
        assert_int_equal(v, 100);
    }
    /* t = T+29: window = seconds 20..29, the 100s have left it. */
    for (int i = 0; i < STATS_NPCT; i++) {
        assert_true(stats_current_percentile_us(tot, T + 29.5, stats_percentiles[i], &v));
        assert_int_equal(v, 50);
    }
    /* Whole-run percentiles still see them. */
    assert_int_equal(stats_percentile_us(tot, 1.0), 100);
    /* Traffic stops; ten seconds later the window is empty: 0, not "none". */
    for (int k = 30; k <= 41; k++)
        stats_tick(s, T + k);
    assert_true(stats_current_percentile_us(tot, T + 38.5, 0.5, &v));
    assert_int_equal(v, 50);                            /* baseline T+28: second 29 left */
    assert_true(stats_current_percentile_us(tot, T + 39.5, 0.5, &v));
    assert_int_equal(v, 0);
    assert_true(stats_current_percentile_us(tot, T + 41.5, 1.0, &v));
    assert_int_equal(v, 0);
    stats_free(s);
}

static void test_current_percentile_clamped(void **state)
{
    (void)state;
    stats *s = stats_new(0, true, T);
    stats_entry *e = stats_entry_get(s, "GET", "/", T);
    assert_non_null(e->snaps);
    for (int k = 0; k < 15; k++) {
        stats_tick(s, T + k);
        stats_log(s, e, T + k + 0.5, 1234, 0, NULL);
    }
    uint64_t v = 0;
    assert_true(stats_current_percentile_us(e, T + 14.5, 1.0, &v));
    assert_int_equal(v, 1234);
    assert_true(stats_current_percentile_us(stats_total(s), T + 14.5, 0.5, &v));
    assert_int_equal(v, 1234);
    stats_free(s);
}

static void test_window_all_snapshots(void **state)
{
    (void)state;
    quiet_logs(true);
    for (int all = 0; all < 2; all++) {
        stats *s = stats_new(2, all, T);
        stats_entry *e[3];
        e[0] = stats_entry_get(s, "GET", "/a", T);
        e[1] = stats_entry_get(s, "GET", "/b", T);
        e[2] = stats_entry_get(s, "GET", "/c", T);   /* past the cap: "(other names)" */
        assert_string_equal(e[2]->name, STATS_OTHER_NAME);
        for (int k = 0; k < 12; k++) {
            stats_tick(s, T + k);
            for (int i = 0; i < 3; i++)
                stats_log(s, e[i], T + k + 0.5, 10 + i, 0, NULL);
        }
        for (int i = 0; i < 3; i++) {
            uint64_t v = 0;
            bool ok = stats_current_percentile_us(e[i], T + 11.5, 0.5, &v);
            assert_int_equal(ok, all);
            assert_int_equal(e[i]->snaps != NULL, all);
            if (all)
                assert_int_equal(v, 10 + i);
        }
        uint64_t v = 0;
        assert_true(stats_current_percentile_us(stats_total(s), T + 11.5, 1.0, &v));
        assert_int_equal(v, 12);
        assert_non_null(stats_total(s)->snaps);
        stats_free(s);
    }
    quiet_logs(false);
}

static void test_failures_table(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    stats_entry *gb = stats_entry_get(s, "GET", "/b", T);
    stats_entry *ga = stats_entry_get(s, "GET", "/a", T);
    stats_entry *pa = stats_entry_get(s, "POST", "/a", T);
    for (int i = 0; i < 3; i++)
        stats_log(s, gb, T + 1, 10, 0, "e1");
    stats_log(s, ga, T + 2, 10, 0, "e2");
    stats_log(s, ga, T + 3, 10, 0, "e2");
    stats_log(s, pa, T + 4, 10, 0, "e1");
    stats_log(s, ga, T + 5, 10, 0, "e1");
    stats_log(s, ga, T + 5.5, 10, 0, NULL);
    stats_add_error(s, ga, "e1", 5, T + 6);
    assert_int_equal(stats_error_count(s), 12);
    assert_int_equal(ga->num_failures, 3);   /* stats_add_error counts no requests */

    size_t n;
    stats_error *const *errs = stats_errors(s, &n);
    assert_int_equal(n, 4);
    struct { stats_entry *e; const char *err; uint64_t occ; double first, last; } want[] = {
        {ga, "e1", 6, T + 5, T + 6},
        {ga, "e2", 2, T + 2, T + 3},
        {pa, "e1", 1, T + 4, T + 4},
        {gb, "e1", 3, T + 1, T + 1},
    };
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(errs[i]->entry, want[i].e);
        assert_string_equal(errs[i]->error, want[i].err);
        assert_int_equal(errs[i]->occurrences, want[i].occ);
        assert_same_double(errs[i]->first_seen, want[i].first);
        assert_same_double(errs[i]->last_seen, want[i].last);
        sum += errs[i]->occurrences;
    }
    assert_int_equal(sum, stats_error_count(s));
    /* A new failure re-sorts the list. */
    stats_log(s, pa, T + 7, 10, 0, "a0");
    errs = stats_errors(s, &n);
    assert_int_equal(n, 5);
    assert_ptr_equal(errs[2]->entry, pa);
    assert_string_equal(errs[2]->error, "a0");
    assert_string_equal(errs[3]->error, "e1");
    stats_free(s);
}

static void test_failures_overflow(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    stats_entry *e = stats_entry_get(s, "GET", "/e", T);
    stats_entry *f = stats_entry_get(s, "GET", "/f", T);
    char text[32];
    for (int i = 0; i < STATS_MAX_ERRORS; i++) {
        snprintf(text, sizeof text, "err-%05d", i);
        stats_add_error(s, e, text, 1, T);
    }
    size_t n;
    stats_errors(s, &n);
    assert_int_equal(n, STATS_MAX_ERRORS);
    /* Past the limit: new texts are grouped per entry, known ones still count. */
    stats_add_error(s, e, "new-1", 2, T);
    stats_add_error(s, e, "new-2", 1, T);
    stats_log(s, f, T, 10, 0, "new-3");
    stats_add_error(s, e, "err-00007", 3, T);
    assert_int_equal(stats_error_count(s), STATS_MAX_ERRORS + 2 + 1 + 1 + 3);
    stats_error *const *errs = stats_errors(s, &n);
    assert_int_equal(n, STATS_MAX_ERRORS + 2);
    bool seen_e = false, seen_f = false;
    for (size_t i = 0; i < n; i++) {
        assert_true(strcmp(errs[i]->error, "new-1") != 0);
        assert_true(strcmp(errs[i]->error, "new-3") != 0);
        if (strcmp(errs[i]->error, STATS_OTHER_ERROR) == 0) {
            if (errs[i]->entry == e) {
                assert_int_equal(errs[i]->occurrences, 3);
                seen_e = true;
            } else {
                assert_ptr_equal(errs[i]->entry, f);
                assert_int_equal(errs[i]->occurrences, 1);
                seen_f = true;
            }
        } else if (strcmp(errs[i]->error, "err-00007") == 0) {
            assert_int_equal(errs[i]->occurrences, 4);
        }
    }
    assert_true(seen_e && seen_f);
    /* Sorted: all of /e (STATS_OTHER_ERROR "(" sorts before "err-"), then /f. */
    assert_string_equal(errs[0]->error, STATS_OTHER_ERROR);
    assert_ptr_equal(errs[n - 1]->entry, f);
    stats_free(s);
}

static void test_exceptions(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    assert_int_equal(stats_log_exception(s, "boom", "tb1", "local"), 1);
    assert_int_equal(stats_log_exception(s, "boom", "tb1", "worker-1"), 2);
    assert_int_equal(stats_log_exception(s, "boom", "tb1", "local"), 3);
    assert_int_equal(stats_log_exception(s, "boom", "tb1", "work"), 4);
    assert_int_equal(stats_log_exception(s, "boom", "tb1", "worker-1"), 5);
    assert_int_equal(stats_log_exception(s, "boom", "tb1", "worker-10"), 6);
    assert_int_equal(stats_log_exception(s, "boom", "tb2", "worker-2"), 1);
    assert_int_equal(stats_log_exception(s, "bang", "tb1", "local"), 1);
    size_t n;
    stats_exception *const *x = stats_exceptions(s, &n);
    assert_int_equal(n, 3);
    assert_string_equal(x[0]->msg, "boom");
    assert_string_equal(x[0]->traceback, "tb1");
    assert_int_equal(x[0]->count, 6);
    assert_string_equal(x[0]->nodes, "local, worker-1, work, worker-10");
    assert_string_equal(x[1]->traceback, "tb2");
    assert_string_equal(x[1]->nodes, "worker-2");
    assert_int_equal(x[1]->count, 1);
    assert_string_equal(x[2]->msg, "bang");
    assert_string_equal(x[2]->nodes, "local");
    /* Past the limit, more distinct exceptions count in the last slot. */
    char msg[32];
    for (int i = 3; i < STATS_MAX_EXCEPTIONS; i++) {
        snprintf(msg, sizeof msg, "x%d", i);
        assert_int_equal(stats_log_exception(s, msg, "tb", "local"), 1);
    }
    assert_int_equal(stats_log_exception(s, "one too many", "tb", "local"), 2);
    x = stats_exceptions(s, &n);
    assert_int_equal(n, STATS_MAX_EXCEPTIONS);
    assert_int_equal(x[n - 1]->count, 2);
    assert_int_equal(stats_log_exception(s, "boom", "tb1", "local"), 7);
    stats_free(s);
}

struct captured {
    int warnings;
    int lines;
    char last[512];
};

static void capture(void *data, int level, const char *line)
{
    struct captured *c = data;
    c->lines++;
    if (level == LOG_WARNING)
        c->warnings++;
    snprintf(c->last, sizeof c->last, "%s", line);
}

static void test_name_cap(void **state)
{
    (void)state;
    struct captured cap = {0};
    quiet_logs(true);
    log_set_observer(capture, &cap);
    stats *s = stats_new(10, false, T);
    char name[32];
    stats_entry *first[15];
    for (int i = 0; i < 15; i++) {
        snprintf(name, sizeof name, "/n%02d", i);
        first[i] = stats_entry_get(s, "GET", name, T);
        stats_log(s, first[i], T + 1, 100, 0, NULL);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "/p%02d", i);
        stats_log(s, stats_entry_get(s, "POST", name, T), T + 1, 100, 0, NULL);
    }
    /* Known names still find their own entry after the cap. */
    assert_ptr_equal(stats_entry_get(s, "GET", "/n03", T), first[3]);
    stats_log(s, stats_entry_get(s, "GET", "/n14", T), T + 1, 100, 0, NULL);
    log_set_observer(NULL, NULL);
    quiet_logs(false);

    assert_int_equal(cap.warnings, 1);
    assert_int_equal(cap.lines, 1);
    assert_non_null(strstr(cap.last, "WARNING/cicada.stats: More than 10 distinct request names"));
    assert_non_null(strstr(cap.last, "\"" STATS_OTHER_NAME "\""));

    for (int i = 10; i < 15; i++)
        assert_ptr_equal(first[i], first[10]);
    assert_string_equal(first[10]->name, STATS_OTHER_NAME);
    assert_string_equal(first[10]->method, "GET");
    assert_int_equal(first[10]->num_requests, 6);

    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    assert_int_equal(n, 12);
    assert_ptr_equal(rows[0], first[10]);                 /* "(" < "/" */
    assert_string_equal(rows[1]->name, STATS_OTHER_NAME);
    assert_string_equal(rows[1]->method, "POST");
    assert_int_equal(rows[1]->num_requests, 3);
    for (int i = 0; i < 10; i++)
        assert_ptr_equal(rows[2 + i], first[i]);
    assert_int_equal(stats_total(s)->num_requests, 19);
    stats_free(s);
}

static void test_reset_and_clear(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    stats_entry *ga = stats_entry_get(s, "GET", "/a", T);
    stats_entry *pa = stats_entry_get(s, "POST", "/a", T);
    stats_entry *gb = stats_entry_get(s, "GET", "/b", T);
    size_t n;
    /* Created but not yet requested: not listed. */
    stats_sorted(s, &n);
    assert_int_equal(n, 0);
    stats_log(s, ga, T + 1, 100, 10, NULL);
    stats_log(s, pa, T + 1, 200, 10, "bad");
    stats_log(s, gb, T + 2, -1, 10, NULL);
    stats_log_exception(s, "boom", "tb", "local");

    stats_reset(s, T + 5.5, false);
    stats_entry *const *rows = stats_sorted(s, &n);
    assert_int_equal(n, 3);
    stats_entry *all[] = {ga, pa, gb, stats_total(s)};
    for (int i = 0; i < 4; i++) {
        stats_entry *e = all[i];
        assert_true(e->visible);
        assert_int_equal(e->num_requests, 0);
        assert_int_equal(e->num_none_requests, 0);
        assert_int_equal(e->num_failures, 0);
        assert_int_equal(e->total_rt_us, 0);
        assert_int_equal(e->min_rt_us, UINT64_MAX);
        assert_int_equal(e->max_rt_us, 0);
        assert_int_equal(e->total_content_length, 0);
        assert_int_equal(e->hist.count, 0);
        assert_same_double(e->start_time, T + 5.5);
        assert_same_double(e->last_request_ts, 0);
        assert_int_equal(sec_count(e, (uint32_t)T + 1, false), 0);
    }
    assert_ptr_equal(rows[0], ga);
    assert_ptr_equal(rows[1], pa);
    assert_ptr_equal(rows[2], gb);
    stats_errors(s, &n);
    assert_int_equal(n, 0);
    assert_int_equal(stats_error_count(s), 0);
    stats_exceptions(s, &n);
    assert_int_equal(n, 1);
    /* Failures after a reset start from zero. */
    stats_log(s, pa, T + 6, 200, 10, "bad");
    stats_error *const *errs = stats_errors(s, &n);
    assert_int_equal(n, 1);
    assert_int_equal(errs[0]->occurrences, 1);
    stats_reset(s, T + 7, true);
    stats_exceptions(s, &n);
    assert_int_equal(n, 0);
    /* The snapshot baseline moved to the reset: nothing from before it counts. */
    uint64_t v = 1;
    assert_true(stats_current_percentile_us(stats_total(s), T + 9.5, 0.5, &v));
    assert_int_equal(v, 0);

    stats_log(s, gb, T + 8, 100, 10, "x");
    stats_log_exception(s, "boom", "tb", "local");
    stats_clear(s, T + 10);
    stats_sorted(s, &n);
    assert_int_equal(n, 0);
    stats_errors(s, &n);
    assert_int_equal(n, 0);
    stats_exceptions(s, &n);
    assert_int_equal(n, 0);
    assert_false(gb->visible);
    assert_int_equal(gb->num_requests, 0);
    assert_same_double(gb->start_time, T + 10);
    assert_int_equal(stats_total(s)->num_requests, 0);
    /* The cached pointers still work; an entry comes back on its next request. */
    assert_ptr_equal(stats_entry_get(s, "GET", "/b", T + 11), gb);
    stats_log(s, gb, T + 11, 300, 1, NULL);
    rows = stats_sorted(s, &n);
    assert_int_equal(n, 1);
    assert_ptr_equal(rows[0], gb);
    assert_int_equal(gb->num_requests, 1);
    assert_int_equal(stats_total(s)->num_requests, 1);
    stats_log(s, ga, T + 11, 300, 1, NULL);
    rows = stats_sorted(s, &n);
    assert_int_equal(n, 2);
    assert_ptr_equal(rows[0], ga);
    assert_ptr_equal(rows[1], gb);
    stats_free(s);
}

static void test_sorted_byte_order(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    static const char *const names[][2] = {
        {"POST", "/b"}, {"GET", "/\xc3\xa9"}, {"GET", "/B"}, {"PUT", "/a"},
        {"GET", "/a"}, {"DELETE", "/a"}, {"GET", "/a/"}, {"GET", "/z"}, {"GET", "Z"},
    };
    /* Byte order: '/' 0x2f < 'Z' 0x5a; "B" < "a"; 0xc3 > 'z'; methods break ties. */
    static const char *const want[][2] = {
        {"GET", "/B"}, {"DELETE", "/a"}, {"GET", "/a"}, {"PUT", "/a"}, {"GET", "/a/"},
        {"POST", "/b"}, {"GET", "/z"}, {"GET", "/\xc3\xa9"}, {"GET", "Z"},
    };
    const size_t count = sizeof names / sizeof names[0];
    for (size_t i = 0; i < count; i++)
        stats_log(s, stats_entry_get(s, names[i][0], names[i][1], T), T + 1, 10, 0, NULL);
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    assert_int_equal(n, count);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(rows[i]->method, want[i][0]);
        assert_string_equal(rows[i]->name, want[i][1]);
    }
    stats_free(s);
}

/* Compares two entries field by field, every histogram bucket and the per-second counts
 * of the last STATS_SEC_RING seconds before end. */
static void assert_entry_same(const stats_entry *a, const stats_entry *b, uint32_t end)
{
    assert_string_equal(a->method, b->method);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->num_requests, b->num_requests);
    assert_int_equal(a->num_none_requests, b->num_none_requests);
    assert_int_equal(a->num_failures, b->num_failures);
    assert_int_equal(a->total_rt_us, b->total_rt_us);
    assert_int_equal(a->min_rt_us, b->min_rt_us);
    assert_int_equal(a->max_rt_us, b->max_rt_us);
    assert_int_equal(a->total_content_length, b->total_content_length);
    assert_same_double(a->last_request_ts, b->last_request_ts);
    assert_same_double(a->start_time, b->start_time);
    assert_int_equal(a->hist.count, b->hist.count);
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        assert_int_equal(hist_bucket_count(&a->hist, i), hist_bucket_count(&b->hist, i));
    for (uint32_t t = end - STATS_SEC_RING + 1; t <= end; t++) {
        assert_int_equal(sec_count(a, t, false), sec_count(b, t, false));
        assert_int_equal(sec_count(a, t, true), sec_count(b, t, true));
    }
}

/* Locust's worker report: every entry with a request or failure, the total and the
 * failures go to the master, then the worker resets. */
static void report(stats *master, stats *w, double now)
{
    size_t n;
    stats_entry *const *rows = stats_sorted(w, &n);
    for (size_t i = 0; i < n; i++)
        if (rows[i]->num_requests || rows[i]->num_failures)
            stats_merge_entry(master, rows[i], now);
    stats_merge_total(master, stats_total(w));
    stats_error *const *errs = stats_errors(w, &n);
    for (size_t i = 0; i < n; i++) {
        stats_entry *e = stats_entry_get(master, errs[i]->entry->method, errs[i]->entry->name,
                                         now);
        stats_add_error(master, e, errs[i]->error, errs[i]->occurrences, now);
    }
    stats_reset(w, now, false);
}

static void test_merge_equals_single(void **state)
{
    (void)state;
    enum { WORKERS = 3, NAMES = 6 };
    static const char *const methods[] = {"GET", "POST"};
    static const char *const errors[] = {"HTTPError(500)", "timeout", "refused"};
    rng_seed(17);
    stats *ref = stats_new(0, false, T);
    stats *master = stats_new(0, false, T);
    stats *w[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        w[i] = stats_new(0, false, T);
    double next_report = T + 0.6;
    double now = T;
    for (int step = 0; step < 4000; step++) {
        now = T + step * 0.01 + (step / 100) * 0.003;     /* ~40 s, uneven */
        if (now >= next_report) {
            for (int i = 0; i < WORKERS; i++)
                report(master, w[i], now);
            next_report += 3.0;
        }
        char name[16];
        snprintf(name, sizeof name, "/item/%d", (int)rng_below(NAMES));
        const char *method = methods[rng_below(2)];
        int64_t rt = rng_below(20) == 0 ? -1 : (int64_t)rng_below(UINT64_C(1) << rng_below(24));
        uint64_t bytes = rng_below(5000);
        const char *err = rng_below(10) == 0 ? errors[rng_below(3)] : NULL;
        stats *wk = w[rng_below(WORKERS)];
        stats_log(wk, stats_entry_get(wk, method, name, now), now, rt, bytes, err);
        stats_log(ref, stats_entry_get(ref, method, name, now), now, rt, bytes, err);
    }
    for (int i = 0; i < WORKERS; i++)
        report(master, w[i], now + 0.01);

    uint32_t end = (uint32_t)now;
    size_t n, m;
    stats_entry *const *rr = stats_sorted(ref, &n);
    stats_entry *const *mr = stats_sorted(master, &m);
    assert_int_equal(n, 2 * NAMES);
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++) {
        assert_entry_same(mr[i], rr[i], end);
        for (double t = now - 15; t <= now + 3; t += 0.5) {
            assert_same_double(stats_current_rps(master, mr[i], t),
                                stats_current_rps(ref, rr[i], t));
            assert_same_double(stats_current_fail_per_sec(master, mr[i], t),
                                stats_current_fail_per_sec(ref, rr[i], t));
        }
        for (int p = 0; p < STATS_NPCT; p++)
            assert_int_equal(stats_percentile_us(mr[i], stats_percentiles[p]),
                             stats_percentile_us(rr[i], stats_percentiles[p]));
        assert_same_double(stats_total_rps(master, mr[i]), stats_total_rps(ref, rr[i]));
    }
    assert_entry_same(stats_total(master), stats_total(ref), end);
    assert_same_double(stats_avg_rt_ms(stats_total(master)), stats_avg_rt_ms(stats_total(ref)));

    stats_error *const *re = stats_errors(ref, &n);
    stats_error *const *me = stats_errors(master, &m);
    assert_int_equal(m, n);
    assert_true(n > 10);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(me[i]->entry->name, re[i]->entry->name);
        assert_string_equal(me[i]->entry->method, re[i]->entry->method);
        assert_string_equal(me[i]->error, re[i]->error);
        assert_int_equal(me[i]->occurrences, re[i]->occurrences);
    }
    assert_int_equal(stats_error_count(master), stats_error_count(ref));
    assert_int_equal(stats_error_count(master), stats_total(ref)->num_failures);

    /* A delta without requests creates no visible row. */
    stats_entry *e = stats_entry_get(w[0], "GET", "/quiet", now);
    stats_merge_entry(master, e, now);
    stats_sorted(master, &m);
    assert_int_equal(m, 2 * NAMES);
    for (int i = 0; i < WORKERS; i++)
        stats_free(w[i]);
    stats_free(ref);
    stats_free(master);
}

static void test_merge_drops_stale_seconds(void **state)
{
    (void)state;
    stats *master = stats_new(0, false, T);
    stats *old = stats_new(0, false, T);
    stats_entry *me = stats_entry_get(master, "GET", "/", T);
    /* The master's slot for T+20 holds a newer second than the delta's T+4. */
    stats_log(master, me, T + 20.5, 10, 0, NULL);
    stats_log(old, stats_entry_get(old, "GET", "/", T), T + 4.5, 10, 0, "x");
    stats_merge_entry(master, stats_entry_get(old, "GET", "/", T), T + 21);
    assert_int_equal(sec_count(me, (uint32_t)T + 20, false), 1);
    assert_int_equal(sec_count(me, (uint32_t)T + 4, false), 0);
    assert_int_equal(me->num_requests, 2);
    assert_int_equal(me->num_failures, 1);
    /* A newer second replaces an older one in the same slot. */
    stats_log(old, stats_entry_get(old, "GET", "/", T), T + 36.5, 10, 0, NULL);
    stats_reset(old, T + 36.6, false);
    stats_log(old, stats_entry_get(old, "GET", "/", T), T + 36.7, 10, 0, NULL);
    stats_merge_entry(master, stats_entry_get(old, "GET", "/", T), T + 37);
    assert_int_equal(sec_count(me, (uint32_t)T + 36, false), 1);
    assert_int_equal(sec_count(me, (uint32_t)T + 20, false), 0);
    assert_int_equal(me->num_requests, 3);
    stats_free(old);
    stats_free(master);
}

/* What make soak watches: the statistics' size grows with what they hold (names, failure
 * keys, histogram ranges) and not with the number of requests. */
static void test_memory_tracks_content_not_requests(void **state)
{
    (void)state;
    stats *s = stats_new(100, false, T);
    size_t empty = stats_memory(s);
    assert_int_equal(stats_entry_count(s), 0);
    stats_entry *a = stats_entry_get(s, "GET", "/a", T);
    size_t used = 0;
    /* The first seconds fill the window of snapshots; after that nothing new is held. */
    for (int k = 0; k < 130; k++) {
        if (k == 30) {
            used = stats_memory(s);
            assert_true(used > empty);
        }
        for (int i = 0; i < 1000; i++)
            stats_log(s, a, T + k + i * 0.001, 1000 + i % 50, 10, i % 10 ? NULL : "boom");
        stats_tick(s, T + 1 + k);
    }
    assert_int_equal(stats_memory(s), used);
    stats_log(s, stats_entry_get(s, "GET", "/b", T + 200), T + 200, 1000, 10, "other");
    assert_int_equal(stats_entry_count(s), 2);
    assert_true(stats_memory(s) > used);
    stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_updates_entry_and_total),
        cmocka_unit_test(test_derived_values),
        cmocka_unit_test(test_percentile_constants),
        cmocka_unit_test(test_current_rates),
        cmocka_unit_test(test_percentiles_clamped),
        cmocka_unit_test(test_locust_example_ms),
        cmocka_unit_test(test_percentile_ordering_random),
        cmocka_unit_test(test_us_to_ms_rounds_half_even),
        cmocka_unit_test(test_current_percentile_baseline_order),
        cmocka_unit_test(test_current_percentile_window),
        cmocka_unit_test(test_current_percentile_clamped),
        cmocka_unit_test(test_window_all_snapshots),
        cmocka_unit_test(test_failures_table),
        cmocka_unit_test(test_failures_overflow),
        cmocka_unit_test(test_exceptions),
        cmocka_unit_test(test_name_cap),
        cmocka_unit_test(test_reset_and_clear),
        cmocka_unit_test(test_sorted_byte_order),
        cmocka_unit_test(test_merge_equals_single),
        cmocka_unit_test(test_merge_drops_stale_seconds),
        cmocka_unit_test(test_memory_tracks_content_not_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
