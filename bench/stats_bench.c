/* What recording one request in the statistics costs (issue 7's goal: under 100 ns), on
 * the path a finished request takes: stats_log (the entry and Aggregated: counters, the
 * per-second ring, the response-time histogram) and stats_log_timing (five phase
 * histograms), as engine/user.c's user_report and the HTTP completion call them.
 *
 * Cases, each the median of ROUNDS timed runs of N records:
 *   one name        every record into the same entry (hot caches)
 *   1000 names      round-robin over 1,000 entries (each record touches cold lines)
 *   with timings    stats_log + stats_log_timing, one name
 *   failures        stats_log with an error text (the failures table lookup), one name
 * Response times and sizes vary (a fixed pseudo-random sequence) so that histogram buckets
 * change as they do under load. Run: make bench-stats. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.h"

#define N 4000000
#define ROUNDS 7
#define NAMES 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t rng = 88172645463325252ull;

static inline uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

enum bench_case { ONE, MANY, TIMINGS, FAILURES };

/* Nanoseconds per record of one timed run. */
static double run(enum bench_case c)
{
    stats *s = stats_new(NAMES + 10, false, 0);
    stats_entry *e[NAMES];
    char name[32];
    for (int i = 0; i < NAMES; i++) {
        snprintf(name, sizeof name, "/item/%d", i);
        e[i] = stats_entry_get(s, "GET", name, 0);
    }
    /* The clock advances as in a run of 400,000 requests/s, so the per-second ring
     * turns over too. */
    double t0 = now_s(), t = 1000.0;
    for (int i = 0; i < N; i++) {
        uint64_t r = next();
        int64_t rt = (int64_t)(r % 50000);      /* 0-50 ms */
        stats_entry *x = c == MANY ? e[i % NAMES] : e[0];
        stats_log(s, x, t, rt, 100 + (r >> 40) % 10000,
                  c == FAILURES ? "HTTPError('500 Server Error')" : NULL);
        if (c == TIMINGS) {
            uint64_t ph[STATS_NPHASES] = {1, 0, 0, (uint64_t)rt, 3};
            stats_log_timing(s, x, ph);
        }
        t += 2.5e-6;
    }
    double ns = (now_s() - t0) * 1e9 / N;
    if (stats_total(s)->num_requests != N) {
        fprintf(stderr, "stats_bench: counted %llu of %d requests\n",
                (unsigned long long)stats_total(s)->num_requests, N);
        exit(1);
    }
    stats_free(s);
    return ns;
}

int main(void)
{
    static const struct {
        enum bench_case c;
        const char *what;
    } cases[] = {
        {ONE, "one name"},
        {MANY, "1000 names, round-robin"},
        {TIMINGS, "one name, with the timing breakdown"},
        {FAILURES, "one name, every request a failure"},
    };
    printf("Recording one request in the statistics (median of %d runs of %d records)\n",
           ROUNDS, N);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double ns[ROUNDS];
        for (int i = 0; i < ROUNDS; i++)
            ns[i] = run(cases[k].c);
        qsort(ns, ROUNDS, sizeof ns[0], cmp_double);
        printf("  %-40s %6.1f ns  (min %.1f, max %.1f)\n", cases[k].what, ns[ROUNDS / 2],
               ns[0], ns[ROUNDS - 1]);
    }
    return 0;
}
