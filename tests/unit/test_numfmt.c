/* numfmt: Python's repr() and '{:.Nf}' for doubles. Expected texts come from CPython 3.11. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "numfmt.h"

struct repr_case {
    double v;
    const char *want;
};

static const struct repr_case repr_cases[] = {
    {0.0, "0.0"},
    {-0.0, "-0.0"},
    {1.0, "1.0"},
    {-1.0, "-1.0"},
    {2.0, "2.0"},
    {0.1, "0.1"},
    {0.2, "0.2"},
    {0.1 + 0.2, "0.30000000000000004"},
    {1.0 / 3, "0.3333333333333333"},
    {2.0 / 3, "0.6666666666666666"},
    {2.5, "2.5"},
    {-2.5, "-2.5"},
    {1234.5678, "1234.5678"},
    {6.387760931033881, "6.387760931033881"},
    {100.0, "100.0"},
    {140.0, "140.0"},
    {150.0, "150.0"},
    {12.0, "12.0"},
    {1e-05, "1e-05"},
    {2.5e-05, "2.5e-05"},
    {0.0001, "0.0001"},
    {0.00012345, "0.00012345"},
    {1e-4 * 0.9, "9e-05"},
    {7.0e-4, "0.0007"},
    {1e-6 * 3, "3e-06"},
    {123456789.0, "123456789.0"},
    {1e15, "1000000000000000.0"},
    {999999999999999.9, "999999999999999.9"},
    {1e16, "1e+16"},
    {-1e16, "-1e+16"},
    {1.5e16, "1.5e+16"},
    {9007199254740992.0, "9007199254740992.0"},
    {9007199254740993.0, "9007199254740992.0"},
    {123456789012345678.0, "1.2345678901234568e+17"},
    {18446744073709551616.0, "1.8446744073709552e+19"},
    {1e21, "1e+21"},
    {1e22, "1e+22"},
    {1e23, "1e+23"},
    {1e100, "1e+100"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {-2.2250738585072014e-308, "-2.2250738585072014e-308"},
    {5e-324, "5e-324"},
    {-5e-324, "-5e-324"},
    {4.9406564584124654e-323, "5e-323"},
    {1e-300, "1e-300"},
    {3.141592653589793, "3.141592653589793"},
    {2.718281828459045, "2.718281828459045"},
    {0.5, "0.5"},
    {0.25, "0.25"},
    {0.125, "0.125"},
    {0.3, "0.3"},
    {0.7, "0.7"},
    {1.10, "1.1"},
    {9.95, "9.95"},
    {99.5, "99.5"},
    {4.35, "4.35"},
    {1e-07, "1e-07"},
    {1.5e-10, "1.5e-10"},
    {12345.6789e10, "123456789000000.0"},
    {33.333333333333336, "33.333333333333336"},
    {1024.0, "1024.0"},
    {4294967296.0, "4294967296.0"},
    {0.1 * 3, "0.30000000000000004"},
    {1.0 - 1e-16, "0.9999999999999999"},
    {1.0 + 2.220446049250313e-16, "1.0000000000000002"},
    {100.0 / 7, "14.285714285714286"},
    {-1234567.125, "-1234567.125"},
    /* Powers of two, where the doubles below are twice as dense as those above: the
     * nearest 16-digit decimal does not read back, but the next one up does. */
    {0x1p-1017, "7.120236347223045e-307"},
    {0x1p-1007, "7.291122019556398e-304"},
    {0x1p-957, "8.209073602596753e-289"},
    {0x1p-1074, "5e-324"},
    {0x1p-1022, "2.2250738585072014e-308"},
    {0x1p1023, "8.98846567431158e+307"},
    {0x1p63, "9.223372036854776e+18"},
    {0x1p-20, "9.5367431640625e-07"},
    {NAN, "nan"},
    {-NAN, "nan"},
    {INFINITY, "inf"},
    {-INFINITY, "-inf"},
};

static void test_repr_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof repr_cases / sizeof repr_cases[0]; i++) {
        char buf[NUMFMT_REPR_SIZE];
        memset(buf, 'X', sizeof buf);
        size_t n = numfmt_repr(buf, repr_cases[i].v);
        assert_string_equal(buf, repr_cases[i].want);
        assert_int_equal(n, strlen(repr_cases[i].want));
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void assert_round_trip(double v)
{
    char buf[NUMFMT_REPR_SIZE];
    size_t n = numfmt_repr(buf, v);
    assert_true(n < NUMFMT_REPR_SIZE);
    assert_int_equal(n, strlen(buf));
    double back = strtod(buf, NULL);
    if (memcmp(&back, &v, sizeof v) != 0)
        fail_msg("%a printed as %s reads back as %a", v, buf, back);
}

/* Random bit patterns cover every exponent; random small-scale values cover the numbers
 * cicada really prints (times, rates). */
static void test_repr_round_trips(void **state)
{
    (void)state;
    uint64_t s = 0x9E3779B97F4A7C15u;
    int checked = 0;
    while (checked < 100000) {
        uint64_t bits = xorshift(&s);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        assert_round_trip(v);
        assert_round_trip((double)(bits >> 11) / 1000.0);
        checked++;
    }
}

struct fixed_case {
    double v;
    int decimals;
    const char *want;
};

static const struct fixed_case fixed_cases[] = {
    {0.125, 2, "0.12"},
    {0.375, 2, "0.38"},
    {2.675, 2, "2.67"},
    {1.005, 2, "1.00"},
    {0.5, 0, "0"},
    {1.5, 0, "2"},
    {2.5, 0, "2"},
    {3.5, 0, "4"},
    {-2.5, 0, "-2"},
    {-0.001, 2, "-0.00"},
    {-0.0, 2, "-0.00"},
    {0.0, 3, "0.000"},
    {123.456, 1, "123.5"},
    {6.387760931033881, 2, "6.39"},
    {1234.5678, 2, "1234.57"},
    {99.995, 2, "100.00"},
    {0.045, 2, "0.04"},
    {1.45, 1, "1.4"},
    {1000000000000000.2, 2, "1000000000000000.25"},
    {1.0 / 3, 20, "0.33333333333333331483"},
    {1e22, 2, "10000000000000000000000.00"},
    {1.0 / 3, 25, "0.33333333333333331483"},   /* clamped to 20 */
    {2.5, -1, "2"},                              /* clamped to 0 */
    {NAN, 2, "nan"},
    {-NAN, 2, "nan"},
    {INFINITY, 2, "inf"},
    {-INFINITY, 1, "-inf"},
};

static void test_fixed_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fixed_cases / sizeof fixed_cases[0]; i++) {
        char buf[NUMFMT_FIXED_SIZE];
        size_t n = numfmt_fixed(buf, fixed_cases[i].v, fixed_cases[i].decimals);
        assert_string_equal(buf, fixed_cases[i].want);
        assert_int_equal(n, strlen(fixed_cases[i].want));
    }
}

/* The widest possible output fits the documented buffer. */
static void test_fixed_largest(void **state)
{
    (void)state;
    char buf[NUMFMT_FIXED_SIZE];
    size_t n = numfmt_fixed(buf, -1.7976931348623157e308, NUMFMT_MAX_DECIMALS);
    assert_int_equal(n, 1 + 309 + 1 + NUMFMT_MAX_DECIMALS);
    assert_int_equal(strlen(buf), n);
    assert_memory_equal(buf, "-1797693134862315708", 20);
    assert_string_equal(buf + n - 21, ".00000000000000000000");
    assert_true(strtod(buf, NULL) == -1.7976931348623157e308);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repr_table),
        cmocka_unit_test(test_repr_round_trips),
        cmocka_unit_test(test_fixed_table),
        cmocka_unit_test(test_fixed_largest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
