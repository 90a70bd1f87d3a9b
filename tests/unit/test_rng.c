/* Tests for engine/rng.c: xoshiro256** seeded by splitmix64, and its helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rng.h"

/* Reference values from an independent implementation of splitmix64 seeding and
 * xoshiro256** (Blackman and Vigna). */
static void test_fixed_seed_sequence(void **state)
{
    (void)state;
    rng_seed(1);
    assert_int_equal(rng_next(), UINT64_C(0xb3f2af6d0fc710c5));
    assert_int_equal(rng_next(), UINT64_C(0x853b559647364cea));
    assert_int_equal(rng_next(), UINT64_C(0x92f89756082a4514));
    assert_int_equal(rng_next(), UINT64_C(0x642e1c7bc266a3a7));
    rng_seed(12345);
    assert_int_equal(rng_next(), UINT64_C(0xbe6a36374160d49b));
    assert_int_equal(rng_next(), UINT64_C(0x214aaa0637a688c6));
}

static void test_same_seed_same_sequence(void **state)
{
    (void)state;
    uint64_t a[64], b[64];
    rng_seed(42);
    for (int i = 0; i < 64; i++)
        a[i] = rng_next();
    rng_seed(7);
    assert_true(rng_next() != a[0]);
    rng_seed(42);
    for (int i = 0; i < 64; i++)
        b[i] = rng_next();
    assert_memory_equal(a, b, sizeof a);
}

static void test_random_seed_differs(void **state)
{
    (void)state;
    rng_seed(0);
    uint64_t a = rng_next(), a2 = rng_next();
    rng_seed(0);
    uint64_t b = rng_next(), b2 = rng_next();
    /* Two kernel seeds colliding on 128 bits does not happen. */
    assert_false(a == b && a2 == b2);
}

static void test_below_bounds(void **state)
{
    (void)state;
    rng_seed(3);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(rng_below(1), 0);
    int seen[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t v = rng_below(7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int k = 0; k < 7; k++)
        assert_in_range(seen[k], 9000, 11000);
    for (int i = 0; i < 10000; i++)
        assert_true(rng_below(UINT64_MAX) < UINT64_MAX);
}

static void test_double_range_and_uniformity(void **state)
{
    (void)state;
    rng_seed(99);
    enum { N = 200000, BINS = 10 };
    int bins[BINS] = {0};
    double sum = 0, lo = 1, hi = 0;
    for (int i = 0; i < N; i++) {
        double d = rng_double();
        assert_true(d >= 0.0);
        assert_true(d < 1.0);
        bins[(int)(d * BINS)]++;
        sum += d;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* each bin holds 20000 +- 3%: a coarse check, far beyond chance failures */
    for (int k = 0; k < BINS; k++)
        assert_in_range(bins[k], 19400, 20600);
    assert_true(sum / N > 0.495 && sum / N < 0.505);
    assert_true(lo < 0.001);
    assert_true(hi > 0.999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_seed_sequence),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_random_seed_differs),
        cmocka_unit_test(test_below_bounds),
        cmocka_unit_test(test_double_range_and_uniformity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
