/* The timing breakdown across modules: stats keeps a count, and per phase a sum and a
 * histogram (stats_log_timing); reset and clear zero them; a worker's report carries them
 * (wire), and merging every worker's reports gives exactly the breakdown of one process
 * that saw every request; a report whose breakdown does not hold together is refused
 * whole. The phase arithmetic itself is tested in test_http.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "rng.h"
#include "sbuf.h"
#include "stats.h"
#include "wire.h"

/* A wall-clock second far from 0, as ev_now gives. */
#define T 1700000000.0

enum { DNS, CONNECT, TLS, TTFB, TRANSFER };

/* Logs one request whose phases are p (its response time is their sum), as interp.c
 * does. */
static void log_request(stats *s, stats_entry *e, double now, const uint64_t p[STATS_NPHASES],
                        const char *error)
{
    uint64_t rt = 0;
    for (int i = 0; i < STATS_NPHASES; i++)
        rt += p[i];
    stats_log(s, e, now, (int64_t)rt, 10, error);
    stats_log_timing(s, e, p);
}

/* Fails unless a and b hold the same breakdown, bucket by bucket. */
static void assert_timing_same(const stats_entry *a, const stats_entry *b)
{
    if (a->timing.count != b->timing.count)
        fail_msg("%s %s: %llu requests with a breakdown, want %llu", a->method, a->name,
                 (unsigned long long)a->timing.count, (unsigned long long)b->timing.count);
    for (int p = 0; p < STATS_NPHASES; p++) {
        if (a->timing.total_us[p] != b->timing.total_us[p])
            fail_msg("%s %s %s: sum %llu, want %llu", a->method, a->name, stats_phase_names[p],
                     (unsigned long long)a->timing.total_us[p],
                     (unsigned long long)b->timing.total_us[p]);
        for (unsigned i = 0; i < HIST_BUCKETS; i++) {
            uint64_t x = hist_bucket_count(&a->timing.hist[p], i);
            uint64_t y = hist_bucket_count(&b->timing.hist[p], i);
            if (x != y)
                fail_msg("%s %s %s: bucket %u holds %llu, want %llu", a->method, a->name,
                         stats_phase_names[p], i, (unsigned long long)x,
                         (unsigned long long)y);
        }
    }
}

static void test_log_and_derived_values(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    stats_entry *a = stats_entry_get(s, "GET", "/a", T);
    stats_entry *b = stats_entry_get(s, "GET", "/b", T);
    assert_int_equal(a->timing.count, 0);
    assert_true(stats_phase_avg_ms(a, TTFB) == 0.0);

    static const uint64_t r1[STATS_NPHASES] = {20, 100, 0, 5000, 40};
    static const uint64_t r2[STATS_NPHASES] = {30, 0, 0, 7000, 60};
    static const uint64_t r3[STATS_NPHASES] = {10, 50, 0, 100, 0};
    log_request(s, a, T + 0.1, r1, NULL);
    log_request(s, a, T + 0.2, r2, "HTTPError('500 Server Error')");
    log_request(s, b, T + 0.3, r3, NULL);

    assert_int_equal(a->timing.count, 2);
    assert_int_equal(a->timing.total_us[TTFB], 12000);
    assert_int_equal(a->timing.hist[DNS].count, 2);
    assert_true(stats_phase_avg_ms(a, DNS) == 0.025);
    assert_true(stats_phase_avg_ms(a, TTFB) == 6.0);
    assert_true(stats_phase_avg_ms(a, TLS) == 0.0);
    /* Below 128 us the histogram is exact; Locust's rank rule picks the sample. */
    static const double ps[3] = {0.5, 0.95, 0.99};
    uint64_t v[3];
    stats_phase_percentiles_us(a, DNS, ps, 3, v);
    assert_int_equal(v[0], 30);
    assert_int_equal(v[2], 30);
    stats_phase_percentiles_us(a, CONNECT, ps, 3, v);
    assert_int_equal(v[0], 100);

    stats_entry *tot = stats_total(s);
    assert_int_equal(tot->timing.count, 3);
    assert_int_equal(tot->timing.total_us[CONNECT], 150);
    assert_int_equal(tot->timing.hist[TRANSFER].count, 3);

    /* The phases' averages add up to the average response time. */
    const stats_entry *es[3] = {a, b, tot};
    for (int i = 0; i < 3; i++) {
        double sum = 0;
        for (int p = 0; p < STATS_NPHASES; p++)
            sum += stats_phase_avg_ms(es[i], p);
        if (sum < stats_avg_rt_ms(es[i]) - 1e-9 || sum > stats_avg_rt_ms(es[i]) + 1e-9)
            fail_msg("%s: phases add up to %.9f ms, the average is %.9f ms", es[i]->name, sum,
                     stats_avg_rt_ms(es[i]));
    }
    assert_true(stats_memory(s) > 0);

    stats_reset(s, T + 1, false);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(es[i]->timing.count, 0);
        for (int p = 0; p < STATS_NPHASES; p++) {
            assert_int_equal(es[i]->timing.total_us[p], 0);
            assert_int_equal(es[i]->timing.hist[p].count, 0);
        }
    }
    /* Refilled after a reset (the kept chunks are reused), and zeroed by a clear. */
    log_request(s, a, T + 1.5, r3, NULL);
    assert_int_equal(a->timing.count, 1);
    assert_int_equal(a->timing.total_us[TTFB], 100);
    stats_clear(s, T + 2);
    assert_int_equal(a->timing.count, 0);
    assert_int_equal(tot->timing.hist[TTFB].count, 0);
    stats_free(s);
}

/* ---- distributed --------------------------------------------------------------------- */

static void parse_ok(const char *text, wire_msg *m)
{
    char err[256] = "";
    if (wire_parse(text, strlen(text), m, err, sizeof err) != 0)
        fail_msg("wire_parse: %s\n%s", err, text);
}

/* Encodes w as a worker's report, merges it into master as the master would, and resets
 * w (reports are deltas). */
static void send_report(stats *master, stats *w, double now)
{
    sbuf b = SBUF_INIT;
    json_writer jw;
    wire_begin(&jw, &b, WIRE_STATS);
    wire_put_stats(&jw, w);
    wire_end(&jw);
    wire_msg m;
    parse_ok(sbuf_str(&b), &m);
    char err[256] = "";
    if (wire_merge_stats(master, m.data, "w", now, err, sizeof err) != 0)
        fail_msg("wire_merge_stats: %s\n%s", err, sbuf_str(&b));
    wire_msg_free(&m);
    sbuf_free(&b);
    stats_reset(w, now, false);
}

/* Three workers' reports, merged directly (stats_merge_*) and over the wire, equal one
 * process that logged every request. */
static void test_merge_is_exact(void **state)
{
    (void)state;
    enum { WORKERS = 3, NAMES = 4 };
    rng_seed(23);
    stats *ref = stats_new(0, false, T);
    stats *direct = stats_new(0, false, T);
    stats *wired = stats_new(0, false, T);
    stats *w[WORKERS], *w2[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = stats_new(0, false, T);
        w2[i] = stats_new(0, false, T);
    }
    double now = T, next_report = T + 3;
    for (int step = 0; step < 3000; step++) {
        now = T + step * 0.01;
        if (now >= next_report) {
            for (int i = 0; i < WORKERS; i++) {
                size_t n;
                stats_entry *const *rows = stats_sorted(w[i], &n);
                for (size_t k = 0; k < n; k++)
                    if (rows[k]->num_requests)
                        stats_merge_entry(direct, rows[k], now);
                stats_merge_total(direct, stats_total(w[i]));
                stats_reset(w[i], now, false);
                send_report(wired, w2[i], now);
            }
            next_report += 3;
        }
        char name[16];
        snprintf(name, sizeof name, "/n%d", (int)rng_below(NAMES));
        uint64_t p[STATS_NPHASES];
        bool fresh = rng_below(10) == 0;    /* a new connection now and then */
        p[DNS] = rng_below(200);
        p[CONNECT] = fresh ? 50 + rng_below(2000) : 0;
        p[TLS] = fresh && rng_below(2) ? 1000 + rng_below(50000) : 0;
        p[TTFB] = rng_below(UINT64_C(1) << rng_below(24));
        p[TRANSFER] = rng_below(5000);
        int k = (int)rng_below(WORKERS);
        log_request(w[k], stats_entry_get(w[k], "GET", name, now), now, p, NULL);
        log_request(w2[k], stats_entry_get(w2[k], "GET", name, now), now, p, NULL);
        log_request(ref, stats_entry_get(ref, "GET", name, now), now, p, NULL);
    }
    for (int i = 0; i < WORKERS; i++) {
        size_t n;
        stats_entry *const *rows = stats_sorted(w[i], &n);
        for (size_t k = 0; k < n; k++)
            if (rows[k]->num_requests)
                stats_merge_entry(direct, rows[k], now);
        stats_merge_total(direct, stats_total(w[i]));
        send_report(wired, w2[i], now);
    }
    size_t n, nd, nw;
    stats_entry *const *rr = stats_sorted(ref, &n);
    stats_entry *const *dr = stats_sorted(direct, &nd);
    stats_entry *const *wr = stats_sorted(wired, &nw);
    assert_int_equal(n, NAMES);
    assert_int_equal(nd, n);
    assert_int_equal(nw, n);
    for (size_t i = 0; i < n; i++) {
        assert_timing_same(dr[i], rr[i]);
        assert_timing_same(wr[i], rr[i]);
    }
    assert_timing_same(stats_total(direct), stats_total(ref));
    assert_timing_same(stats_total(wired), stats_total(ref));
    assert_int_equal(stats_total(ref)->timing.count, 3000);
    for (int i = 0; i < WORKERS; i++) {
        stats_free(w[i]);
        stats_free(w2[i]);
    }
    stats_free(ref);
    stats_free(direct);
    stats_free(wired);
}

/* An entry of a hand-written report: two requests of 100 us each, whose breakdown is
 * `timings` (empty: none). */
static void report_text(sbuf *b, const char *timings)
{
    static const char *const entry =
        "{\"method\": \"%s\", \"name\": \"%s\", \"num_requests\": 2, \"num_none_requests\": 0, "
        "\"num_failures\": 0, \"total_rt_us\": 200, \"min_rt_us\": 100, \"max_rt_us\": 100, "
        "\"total_content_length\": 0, \"start_time\": 1700000000, "
        "\"last_request_ts\": 1700000001, \"hist\": [100, 2], \"secs\": []%s%s}";
    sbuf_reset(b);
    sbuf_puts(b, "{\"entries\": [");
    sbuf_printf(b, entry, "GET", "/a", *timings ? ", " : "", timings);
    sbuf_puts(b, "], \"total\": ");
    sbuf_printf(b, entry, "", "Aggregated", *timings ? ", " : "", timings);
    sbuf_puts(b, ", \"errors\": [], \"exceptions\": []}");
}

static int merge_text(stats *s, const char *text, char *err, size_t errlen)
{
    json_error je;
    json_value *v = json_parse(text, strlen(text), 0, &je);
    if (!v)
        fail_msg("test report is not JSON (%u:%u %s): %s", je.line, je.col, je.msg, text);
    int rc = wire_merge_stats(s, v, "w", T + 2, err, errlen);
    json_free(v);
    return rc;
}

#define PHASE(name, sum, idx, n) "\"" name "\": {\"sum_us\": " #sum ", \"hist\": [" #idx ", " #n "]}"
#define GOOD_PHASES                                                                       \
    PHASE("dns", 20, 10, 2) ", " PHASE("connect", 0, 0, 2) ", " PHASE("tls", 0, 0, 2)     \
        ", " PHASE("ttfb", 160, 80, 2) ", " PHASE("transfer", 20, 10, 2)

static void test_reports_checked(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    sbuf b = SBUF_INIT;
    char err[512];

    /* Without "timings" (no request had a breakdown): merged, nothing to show. */
    report_text(&b, "");
    assert_int_equal(merge_text(s, sbuf_str(&b), err, sizeof err), 0);
    stats_entry *a = stats_entry_get(s, "GET", "/a", T);
    assert_int_equal(a->num_requests, 2);
    assert_int_equal(a->timing.count, 0);

    report_text(&b, "\"timings\": {\"count\": 2, " GOOD_PHASES "}");
    if (merge_text(s, sbuf_str(&b), err, sizeof err) != 0)
        fail_msg("%s\n%s", err, sbuf_str(&b));
    assert_int_equal(a->timing.count, 2);
    assert_true(stats_phase_avg_ms(a, TTFB) == 0.08);
    assert_int_equal(stats_total(s)->timing.total_us[DNS], 20);

    static const char *const bad[] = {
        /* more requests with a breakdown than timed requests */
        "\"timings\": {\"count\": 3, " GOOD_PHASES "}",
        /* a phase holding fewer samples than count */
        "\"timings\": {\"count\": 2, " PHASE("dns", 20, 10, 1) ", " PHASE("connect", 0, 0, 2)
        ", " PHASE("tls", 0, 0, 2) ", " PHASE("ttfb", 160, 80, 2) ", "
        PHASE("transfer", 20, 10, 2) "}",
        /* a phase missing */
        "\"timings\": {\"count\": 2, " PHASE("dns", 20, 10, 2) ", " PHASE("connect", 0, 0, 2)
        ", " PHASE("ttfb", 160, 80, 2) ", " PHASE("transfer", 20, 10, 2) "}",
        /* a bucket that does not exist */
        "\"timings\": {\"count\": 2, " PHASE("dns", 20, 99999, 2) ", "
        PHASE("connect", 0, 0, 2) ", " PHASE("tls", 0, 0, 2) ", " PHASE("ttfb", 160, 80, 2)
        ", " PHASE("transfer", 20, 10, 2) "}",
        /* no sum */
        "\"timings\": {\"count\": 2, \"dns\": {\"hist\": [10, 2]}, " PHASE("connect", 0, 0, 2)
        ", " PHASE("tls", 0, 0, 2) ", " PHASE("ttfb", 160, 80, 2) ", "
        PHASE("transfer", 20, 10, 2) "}",
        "\"timings\": []",
        "\"timings\": {\"count\": -1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        report_text(&b, bad[i]);
        err[0] = '\0';
        if (merge_text(s, sbuf_str(&b), err, sizeof err) != -1)
            fail_msg("merged: %s", bad[i]);
        static const char want[] = "entry \"/a\": \"timings\" must be";
        if (strncmp(err, want, sizeof want - 1) != 0)
            fail_msg("error \"%s\" for %s", err, bad[i]);
        /* Refused whole: nothing of it was merged. */
        assert_int_equal(a->num_requests, 4);
        assert_int_equal(a->timing.count, 2);
        assert_int_equal(stats_total(s)->timing.count, 2);
    }
    sbuf_free(&b);
    stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_and_derived_values),
        cmocka_unit_test(test_merge_is_exact),
        cmocka_unit_test(test_reports_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
