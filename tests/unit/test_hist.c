/* Tests for engine/hist.c: bucketing error bound, percentiles against exact order
 * statistics (Locust's ranks), exact merge, copy, clear and the windowed percentile. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"
#include "rng.h"
#include "xalloc.h"

static const double pcts[] = {0.50, 0.66, 0.75, 0.80, 0.90, 0.95,
                              0.98, 0.99, 0.999, 0.9999, 1.0};
#define NPCTS (sizeof pcts / sizeof pcts[0])

/* One past the highest value of bucket idx. */
static uint64_t bucket_end(unsigned idx)
{
    return idx + 1 < HIST_BUCKETS ? hist_bucket_low(idx + 1) : HIST_MAX_US;
}

/* Log-uniform over [1, 2^36) us. */
static uint64_t log_uniform(void)
{
    return (uint64_t)exp2(rng_double() * 36.0);
}

/* Checks v lands in a bucket that contains it and reports it within 1/128. */
static void check_bucket_of(uint64_t v)
{
    unsigned idx = hist_index(v);
    if (idx >= HIST_BUCKETS)
        fail_msg("hist_index(%llu) = %u, out of range", (unsigned long long)v, idx);
    uint64_t low = hist_bucket_low(idx), rep = hist_bucket_value(idx);
    if (v < low || v >= bucket_end(idx))
        fail_msg("%llu not in bucket %u [%llu, %llu)", (unsigned long long)v, idx,
                 (unsigned long long)low, (unsigned long long)bucket_end(idx));
    uint64_t err = rep > v ? rep - v : v - rep;
    if (err * 128 > v)
        fail_msg("value %llu reported as %llu (error %llu > 1/128)", (unsigned long long)v,
                 (unsigned long long)rep, (unsigned long long)err);
}

static void test_linear_range_is_exact(void **state)
{
    (void)state;
    hist h;
    hist_init(&h);
    for (uint64_t v = 0; v < 128; v++) {
        assert_int_equal(hist_index(v), v);
        assert_int_equal(hist_bucket_low((unsigned)v), v);
        assert_int_equal(hist_bucket_value((unsigned)v), v);
        hist_record(&h, v);
    }
    assert_int_equal(hist_index(128), 128);
    assert_int_equal(h.count, 128);
    for (unsigned i = 0; i < 128; i++)
        assert_int_equal(hist_bucket_count(&h, i), 1);
    /* Ranks 0..127 hold exactly the values 0..127. */
    assert_int_equal(hist_percentile(&h, 0.5), 64);
    assert_int_equal(hist_percentile(&h, 0.0), 0);
    assert_int_equal(hist_percentile(&h, 1.0), 127);
    assert_int_equal(hist_percentile(&h, 0.99), 126);   /* floor(128 * 0.99) = 126 */
    assert_int_equal(hist_median(&h), 63);              /* floor(127 / 2) */
    /* Only the linear chunk was allocated. */
    assert_int_equal(hist_memory(&h), sizeof h + 128 * sizeof(uint64_t));
    hist_free(&h);
}

static void test_bucket_bounds_contiguous(void **state)
{
    (void)state;
    assert_int_equal(HIST_BUCKETS, 128 + 29 * 64);
    assert_int_equal(hist_bucket_low(0), 0);
    for (unsigned idx = 0; idx < HIST_BUCKETS; idx++) {
        uint64_t low = hist_bucket_low(idx), end = bucket_end(idx);
        uint64_t width = end - low;
        if (end <= low)
            fail_msg("bucket %u: end %llu <= low %llu", idx, (unsigned long long)end,
                     (unsigned long long)low);
        assert_int_equal(hist_index(low), idx);
        assert_int_equal(hist_index(end - 1), idx);
        assert_in_range(hist_bucket_value(idx), low, end - 1);
        if (idx < 128) {
            assert_int_equal(width, 1);
        } else {
            /* A power of two, at most 1/64 of the lower bound. */
            assert_int_equal(width & (width - 1), 0);
            assert_true(width * 64 <= low);
            /* Midpoint rounded down. */
            assert_int_equal(hist_bucket_value(idx), low + (width - 1) / 2);
        }
        if (idx > 0)
            assert_int_equal(hist_index(low - 1), idx - 1);
    }
    assert_int_equal(hist_bucket_low(HIST_BUCKETS - 1), UINT64_C(127) << 29);
    /* The documented worked examples. */
    assert_int_equal(hist_bucket_value(hist_index(1000)), 1003);
    assert_int_equal(hist_bucket_value(hist_index(2000)), 2007);
    assert_int_equal(hist_bucket_value(hist_index(3000)), 2991);
    assert_int_equal(hist_bucket_value(hist_index(4000)), 4015);
    assert_int_equal(hist_bucket_value(hist_index(1234)), 1239);
}

static void test_relative_error_bound(void **state)
{
    (void)state;
    unsigned prev = 0;
    for (uint64_t v = 0; v < (UINT64_C(1) << 20); v++) {
        unsigned idx = hist_index(v);
        assert_true(idx == prev || idx == prev + 1);   /* monotonic, no gaps */
        prev = idx;
        check_bucket_of(v);
    }
    /* Around every power of two and every sub-bucket edge above the dense sweep. */
    for (unsigned m = 20; m < 36; m++) {
        uint64_t base = UINT64_C(1) << m, step = base >> 6;
        for (uint64_t k = 0; k <= 64; k++)
            for (int d = -2; d <= 2; d++) {
                uint64_t v = base + k * step + (uint64_t)(int64_t)d;
                if (v < HIST_MAX_US)
                    check_bucket_of(v);
            }
    }
    rng_seed(1);
    for (int i = 0; i < 1000000; i++)
        check_bucket_of(log_uniform());
}

static void test_values_past_max_in_top_bucket(void **state)
{
    (void)state;
    const unsigned top = HIST_BUCKETS - 1;
    assert_int_equal(hist_index(HIST_MAX_US - 1), top);
    assert_int_equal(hist_index(HIST_MAX_US), top);
    assert_int_equal(hist_index(HIST_MAX_US + 1), top);
    assert_int_equal(hist_index(UINT64_MAX), top);
    assert_int_equal(hist_index(HIST_MAX_US - (UINT64_C(1) << 29) - 1), top - 1);
    hist h;
    hist_init(&h);
    hist_record(&h, HIST_MAX_US);
    hist_record(&h, UINT64_MAX);
    hist_record(&h, HIST_MAX_US * 3);
    assert_int_equal(hist_bucket_count(&h, top), 3);
    assert_int_equal(h.count, 3);
    assert_int_equal(hist_bucket_count(&h, top - 1), 0);
    assert_int_equal(hist_percentile(&h, 1.0), hist_bucket_value(top));
    assert_int_equal(hist_median(&h), hist_bucket_value(top));
    /* One chunk of the top power of two. */
    assert_int_equal(hist_memory(&h), sizeof h + HIST_SUB * sizeof(uint64_t));
    hist_free(&h);
}

static void test_empty(void **state)
{
    (void)state;
    hist h, b;
    hist_init(&h);
    hist_init(&b);
    assert_int_equal(h.count, 0);
    assert_int_equal(hist_percentile(&h, 0.5), 0);
    assert_int_equal(hist_percentile(&h, 1.0), 0);
    assert_int_equal(hist_median(&h), 0);
    assert_int_equal(hist_percentile_since(&h, &b, 0.5), 0);
    assert_int_equal(hist_memory(&h), sizeof h);
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        assert_int_equal(hist_bucket_count(&h, i), 0);
    hist_free(&h);
    hist_free(&b);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Compares a histogram result with the exact sample: the reported value of the sample's
 * own bucket, so within 1/128 (1% asked). */
static void check_close(uint64_t got, uint64_t exact, const char *what, size_t n, double p)
{
    uint64_t err = got > exact ? got - exact : exact - got;
    if (got != hist_bucket_value(hist_index(exact)) || (double)err > (double)exact / 100 + 1)
        fail_msg("%s n=%zu p=%g: got %llu, exact %llu", what, n, p, (unsigned long long)got,
                 (unsigned long long)exact);
}

enum dataset { UNIFORM, LOGNORMAL, BIMODAL, ALL_EQUAL, N_DATASETS };

static uint64_t sample(enum dataset d)
{
    switch (d) {
    case UNIFORM:
        return rng_below(2000000);
    case LOGNORMAL: {
        /* Box-Muller normal; median 20 ms, sigma 1.2 in log space. */
        double u1 = 1.0 - rng_double(), u2 = rng_double();
        double z = sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
        return (uint64_t)exp(log(20000.0) + 1.2 * z);
    }
    case BIMODAL:
        return rng_below(10) < 7 ? 800 + rng_below(400) : 200000 + rng_below(200000);
    default:
        return 777777;
    }
}

static void test_percentiles_match_exact_ranks(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 4, 5, 10, 37, 100, 999, 1000, 12345, 100000};
    uint64_t *v = xcalloc(100000, sizeof *v);
    rng_seed(7);
    for (int d = 0; d < N_DATASETS; d++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            hist h;
            hist_init(&h);
            for (size_t i = 0; i < n; i++) {
                v[i] = sample((enum dataset)d);
                hist_record(&h, v[i]);
            }
            assert_int_equal(h.count, n);
            qsort(v, n, sizeof *v, cmp_u64);
            for (size_t k = 0; k < NPCTS; k++) {
                size_t rank = (size_t)((double)n * pcts[k]);   /* Python's int(n * p) */
                if (rank >= n)
                    rank = n - 1;
                check_close(hist_percentile(&h, pcts[k]), v[rank], "percentile", n, pcts[k]);
            }
            check_close(hist_percentile(&h, 0.0), v[0], "p0", n, 0.0);
            check_close(hist_median(&h), v[(n - 1) / 2], "median", n, 0.5);
            hist_free(&h);
        }
    }
    free(v);
}

static void test_two_and_one_samples(void **state)
{
    (void)state;
    hist h;
    hist_init(&h);
    hist_record(&h, 5);
    assert_int_equal(hist_median(&h), 5);
    for (size_t k = 0; k < NPCTS; k++)
        assert_int_equal(hist_percentile(&h, pcts[k]), 5);
    hist_record(&h, 1000000);
    uint64_t big = hist_bucket_value(hist_index(1000000));
    assert_int_equal(hist_median(&h), 5);                  /* rank floor(1/2) = 0 */
    assert_int_equal(hist_percentile(&h, 0.49), 5);        /* rank 0 */
    for (size_t k = 0; k < NPCTS; k++)
        assert_int_equal(hist_percentile(&h, pcts[k]), big); /* rank 1 */
    hist_free(&h);
}

/* Locust's documented example: {1, 2, 3, 4} ms. */
static void test_locust_example(void **state)
{
    (void)state;
    hist h;
    hist_init(&h);
    for (uint64_t ms = 1; ms <= 4; ms++)
        hist_record(&h, ms * 1000);
    assert_int_equal(hist_percentile(&h, 0.50), 2991);    /* rank 2: 3 ms */
    assert_int_equal(hist_percentile(&h, 0.25), 2007);    /* rank 1: 2 ms */
    assert_int_equal(hist_percentile(&h, 0.75), 4015);    /* rank 3: 4 ms */
    assert_int_equal(hist_median(&h), 2007);              /* rank 1: 2 ms */
    assert_int_equal((hist_percentile(&h, 0.50) + 500) / 1000, 3);
    assert_int_equal((hist_percentile(&h, 0.25) + 500) / 1000, 2);
    assert_int_equal((hist_percentile(&h, 0.75) + 500) / 1000, 4);
    assert_int_equal((hist_median(&h) + 500) / 1000, 2);
    hist_free(&h);
}

static void assert_hist_equal(const hist *a, const hist *b)
{
    assert_int_equal(a->count, b->count);
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (hist_bucket_count(a, i) != hist_bucket_count(b, i))
            fail_msg("bucket %u: %llu != %llu", i,
                     (unsigned long long)hist_bucket_count(a, i),
                     (unsigned long long)hist_bucket_count(b, i));
}

static void test_merge_is_exact(void **state)
{
    (void)state;
    rng_seed(11);
    for (unsigned k = 2; k <= 8; k++) {
        hist all, merged, part[8];
        hist_init(&all);
        hist_init(&merged);
        for (unsigned j = 0; j < k; j++)
            hist_init(&part[j]);
        for (int i = 0; i < 20000; i++) {
            uint64_t v = i % 5 == 0 ? rng_below(300) : log_uniform();
            hist_record(&all, v);
            hist_record(&part[rng_below(k)], v);
        }
        for (unsigned j = 0; j < k; j++)
            hist_merge(&merged, &part[j]);
        assert_hist_equal(&merged, &all);
        assert_int_equal(hist_memory(&merged), hist_memory(&all));
        /* Merging into a histogram that already holds data. */
        for (unsigned j = 1; j < k; j++)
            hist_merge(&part[0], &part[j]);
        assert_hist_equal(&part[0], &all);
        for (size_t p = 0; p < NPCTS; p++)
            assert_int_equal(hist_percentile(&part[0], pcts[p]), hist_percentile(&all, pcts[p]));
        assert_int_equal(hist_median(&merged), hist_median(&all));
        /* An empty source changes nothing. */
        hist empty;
        hist_init(&empty);
        hist_merge(&merged, &empty);
        assert_hist_equal(&merged, &all);
        hist_free(&all);
        hist_free(&merged);
        for (unsigned j = 0; j < k; j++)
            hist_free(&part[j]);
    }
}

static void test_copy(void **state)
{
    (void)state;
    hist src, dst, fresh;
    hist_init(&src);
    hist_init(&dst);
    hist_init(&fresh);
    for (uint64_t v = 1; v < 100000; v = v * 3 + 1)
        hist_record(&src, v);
    /* dst holds chunks src has not: the copy must zero them. */
    hist_record(&dst, HIST_MAX_US);
    hist_record(&dst, 5);
    hist_record(&dst, 5);
    hist_copy(&dst, &src);
    assert_hist_equal(&dst, &src);
    assert_int_equal(hist_bucket_count(&dst, HIST_BUCKETS - 1), 0);
    assert_int_equal(hist_bucket_count(&dst, 5), 0);
    hist_copy(&fresh, &src);
    assert_hist_equal(&fresh, &src);
    assert_int_equal(hist_memory(&fresh), hist_memory(&src));
    /* The copy is independent of the source. */
    hist_record(&src, 42);
    assert_int_equal(hist_bucket_count(&fresh, 42), 0);
    assert_int_equal(fresh.count + 1, src.count);
    /* Copying an empty histogram empties dst. */
    hist empty;
    hist_init(&empty);
    hist_copy(&fresh, &empty);
    assert_hist_equal(&fresh, &empty);
    assert_int_equal(hist_percentile(&fresh, 1.0), 0);
    hist_free(&src);
    hist_free(&dst);
    hist_free(&fresh);
}

static void test_clear_keeps_chunks(void **state)
{
    (void)state;
    hist h;
    hist_init(&h);
    for (unsigned m = 0; m < 36; m += 5)
        hist_record(&h, UINT64_C(1) << m);
    size_t mem = hist_memory(&h);
    assert_true(mem > sizeof h);
    hist_clear(&h);
    assert_int_equal(hist_memory(&h), mem);
    assert_int_equal(h.count, 0);
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        assert_int_equal(hist_bucket_count(&h, i), 0);
    assert_int_equal(hist_percentile(&h, 0.5), 0);
    assert_int_equal(hist_median(&h), 0);
    hist_record(&h, UINT64_C(1) << 10);
    assert_int_equal(hist_memory(&h), mem);
    assert_int_equal(h.count, 1);
    assert_int_equal(hist_percentile(&h, 1.0), hist_bucket_value(hist_index(1024)));
    hist_free(&h);
    assert_int_equal(hist_memory(&h), sizeof h);
    assert_int_equal(h.count, 0);
}

static void test_percentile_since(void **state)
{
    (void)state;
    rng_seed(23);
    for (int trial = 0; trial < 6; trial++) {
        hist now, base, only;
        hist_init(&now);
        hist_init(&base);
        hist_init(&only);
        /* Before the copy: small values; after: a different range, so some chunks exist
         * only in now and some buckets shrink to nothing in the difference. */
        int before = 1000 * trial, after = 1 + 3000 * trial;
        for (int i = 0; i < before; i++)
            hist_record(&now, 100 + rng_below(20000));
        hist_copy(&base, &now);
        for (int i = 0; i < after; i++) {
            uint64_t v = i % 2 ? 5000 + rng_below(20000) : log_uniform();
            hist_record(&now, v);
            hist_record(&only, v);
        }
        for (size_t k = 0; k < NPCTS; k++)
            assert_int_equal(hist_percentile_since(&now, &base, pcts[k]),
                             hist_percentile(&only, pcts[k]));
        assert_int_equal(hist_percentile_since(&now, &base, 0.0), hist_percentile(&only, 0.0));
        /* Nothing new since the copy. */
        hist_copy(&base, &now);
        assert_int_equal(hist_percentile_since(&now, &base, 0.5), 0);
        hist_free(&now);
        hist_free(&base);
        hist_free(&only);
    }
}

static void test_percentile_since_ignores_negative_buckets(void **state)
{
    (void)state;
    hist now, base;
    hist_init(&now);
    hist_init(&base);
    for (int i = 0; i < 3; i++)
        hist_record(&now, 100);
    hist_record(&now, 120);
    for (int i = 0; i < 5; i++)
        hist_record(&base, 100);
    /* Difference: bucket 100 -> 0 (not -2), bucket 120 -> 1. */
    for (double p = 0.0; p <= 1.0; p += 0.125)
        assert_int_equal(hist_percentile_since(&now, &base, p), 120);
    hist_free(&now);
    hist_free(&base);
}

struct visit {
    unsigned idx[HIST_BUCKETS];
    uint64_t count[HIST_BUCKETS];
    size_t n;
};

static void visit_cb(void *data, unsigned idx, uint64_t count)
{
    struct visit *v = data;
    if (v->n == HIST_BUCKETS)
        fail_msg("more visits than buckets");
    v->idx[v->n] = idx;
    v->count[v->n++] = count;
}

static void test_foreach_visits_nonempty_in_order(void **state)
{
    (void)state;
    hist h;
    hist_init(&h);
    static struct visit v;
    hist_foreach(&h, visit_cb, &v);
    assert_int_equal(v.n, 0);
    rng_seed(5);
    for (int i = 0; i < 3000; i++)
        hist_record(&h, i % 3 ? log_uniform() : rng_below(128));
    hist_record(&h, UINT64_MAX);
    memset(&v, 0, sizeof v);
    hist_foreach(&h, visit_cb, &v);
    size_t nonempty = 0;
    uint64_t sum = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (hist_bucket_count(&h, i)) {
            assert_true(nonempty < v.n);
            assert_int_equal(v.idx[nonempty], i);
            assert_int_equal(v.count[nonempty], hist_bucket_count(&h, i));
            sum += v.count[nonempty];
            nonempty++;
        }
    assert_int_equal(v.n, nonempty);
    assert_int_equal(sum, h.count);
    assert_int_equal(v.idx[v.n - 1], HIST_BUCKETS - 1);
    /* Allocated chunks whose buckets are all zero again (after a copy) are skipped. */
    hist other, small;
    hist_init(&other);
    hist_init(&small);
    hist_record(&other, UINT64_C(1) << 20);
    hist_record(&small, 5);
    hist_record(&small, 5);
    hist_copy(&other, &small);
    memset(&v, 0, sizeof v);
    hist_foreach(&other, visit_cb, &v);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.idx[0], 5);
    assert_int_equal(v.count[0], 2);
    hist_free(&h);
    hist_free(&other);
    hist_free(&small);
}

static const double stats_ps[11] = {0.5,   0.66, 0.75,  0.8,    0.9, 0.95,
                                     0.98,  0.99, 0.999, 0.9999, 1.0};

/* hist_percentiles gives the same values as one hist_percentile call per p. */
static void test_percentiles_in_one_walk(void **state)
{
    (void)state;
    hist h;
    hist_init(&h);
    uint64_t out[11];
    hist_percentiles(&h, stats_ps, 11, out);
    for (int i = 0; i < 11; i++)
        assert_int_equal(out[i], 0);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hist_record(&h, 50 + x % 200000);
    }
    hist_percentiles(&h, stats_ps, 11, out);
    for (int i = 0; i < 11; i++)
        assert_int_equal(out[i], hist_percentile(&h, stats_ps[i]));
    hist_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_in_one_walk),
        cmocka_unit_test(test_linear_range_is_exact),
        cmocka_unit_test(test_bucket_bounds_contiguous),
        cmocka_unit_test(test_relative_error_bound),
        cmocka_unit_test(test_values_past_max_in_top_bucket),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_percentiles_match_exact_ranks),
        cmocka_unit_test(test_two_and_one_samples),
        cmocka_unit_test(test_locust_example),
        cmocka_unit_test(test_merge_is_exact),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_clear_keeps_chunks),
        cmocka_unit_test(test_percentile_since),
        cmocka_unit_test(test_percentile_since_ignores_negative_buckets),
        cmocka_unit_test(test_foreach_visits_nonempty_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
