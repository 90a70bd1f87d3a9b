/* Tests for engine/timespan.c: Locust run-time strings, parsed strictly. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timespan.h"

static void assert_span(const char *s, long want)
{
    long got = -42;
    if (timespan_parse(s, &got) != 0)
        fail_msg("timespan_parse(\"%s\") failed, want %ld", s, want);
    assert_int_equal(got, want);
}

static void assert_bad_span(const char *s)
{
    long got = -42;
    if (timespan_parse(s, &got) != -1)
        fail_msg("timespan_parse(\"%s\") accepted (%ld)", s, got);
    assert_int_equal(got, -42);
}

static void test_digits_are_seconds(void **state)
{
    (void)state;
    assert_span("20", 20);
    assert_span("0", 0);
    assert_span("007", 7);
    assert_span("86400", 86400);
}

static void test_units(void **state)
{
    (void)state;
    assert_span("1h30m", 5400);
    assert_span("3h30m10s", 12610);
    assert_span("90m", 5400);
    assert_span("300s", 300);
    assert_span("20m", 1200);
    assert_span("3h", 10800);
    assert_span("2h", 7200);
    assert_span("1h20m", 4800);
    assert_span("20s", 20);
    assert_span("1h10s", 3610);
    assert_span("1m1s", 61);
    assert_span("0h0m0s", 0);
    assert_span("100s", 100);
}

static void test_rejects_what_locust_half_accepts(void **state)
{
    (void)state;
    assert_bad_span("1m30");  /* Locust: 60 */
    assert_bad_span("5s30m"); /* Locust: 5 */
    assert_bad_span("1h1h");
    assert_bad_span("1s1m");
    assert_bad_span("1m1h");
}

static void test_rejects_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"1d", "abc", "", "-5", "1.5h", "h", "m", "s", "1hm", " 20", "20 ",
                         "+5", "1H", "1M", "1 h", "1h ", "0x10", "1e3", "1h30", "5ms", "1_000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_bad_span(bad[i]);
    long got = -42;
    assert_int_equal(timespan_parse(NULL, &got), -1);
    assert_int_equal(got, -42);
}

static void test_overflow(void **state)
{
    (void)state;
    assert_span("9223372036854775807", LONG_MAX);
    assert_bad_span("9223372036854775808");
    assert_bad_span("99999999999999999999999");
    assert_span("2562047788015215h1807s", LONG_MAX);
    assert_bad_span("2562047788015215h1808s");
    assert_bad_span("2562047788015216h");
    assert_bad_span("153722867280912931m");
    assert_span("9223372036854775807s", LONG_MAX);
    assert_bad_span("9223372036854775808s");
}

static void assert_secs(const char *s, double want)
{
    double got = -42;
    if (timespan_parse_seconds(s, &got) != 0)
        fail_msg("timespan_parse_seconds(\"%s\") failed", s);
    assert_true(got == want);
}

static void test_seconds(void **state)
{
    (void)state;
    assert_secs("2", 2);
    assert_secs("2.5", 2.5);
    assert_secs(".5", 0.5);
    assert_secs("2.", 2);
    assert_secs("0", 0);
    assert_secs("0.0", 0);
    assert_secs("1m", 60);
    assert_secs("1h30m", 5400);
    assert_secs("10s", 10);
}

static void test_seconds_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"-1", "-0.5", "", "abc", "1e3", "2.5s", ".", "1m30", " 2", "2 ",
                         "+2", "inf", "nan", "1,5", "0x1p3", "1..2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double got = -42;
        if (timespan_parse_seconds(bad[i], &got) != -1)
            fail_msg("timespan_parse_seconds(\"%s\") accepted (%g)", bad[i], got);
        assert_true(got == -42);
    }
    double got = -42;
    assert_int_equal(timespan_parse_seconds(NULL, &got), -1);
    /* 400 digits: finite as text, infinite as a double */
    char huge[402];
    huge[0] = '1';
    for (int i = 1; i < 401; i++)
        huge[i] = '0';
    huge[401] = '\0';
    assert_int_equal(timespan_parse_seconds(huge, &got), -1);
    assert_true(got == -42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digits_are_seconds),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_rejects_what_locust_half_accepts),
        cmocka_unit_test(test_rejects_garbage),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_seconds_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
