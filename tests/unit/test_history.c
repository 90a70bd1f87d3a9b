/* Tests for engine/history.c: the chart history a reloaded dashboard and the HTML report
 * get back. One point per second; bounded (a long test merges pairs of points and doubles
 * the interval, never holding more than HISTORY_CAP); per-name averages for the first
 * HISTORY_NAMES names; a statistics reset or a new test starts it again; and
 * /stats/history's JSON with its `since`. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"
#include "json.h"
#include "log.h"
#include "sbuf.h"
#include "stats.h"

#define T0 1000000.0

/* One second of a test: the requests of (T0+sec, T0+sec+1), then the once-a-second
 * tick and sample at its end, as the app's timer does. */
static void second(history *h, stats *s, int sec, unsigned users, stats_entry *e, int n,
                   int64_t rt_us)
{
    for (int i = 0; i < n; i++)
        stats_log(s, e, T0 + sec + (i + 1.0) / (n + 1), rt_us, 10, NULL);
    stats_tick(s, T0 + sec + 1);
    history_sample(h, s, T0 + sec + 1, users);
}

static void test_one_point_per_second(void **state)
{
    (void)state;
    stats *s = stats_new(100, false, T0);
    history *h = history_new();
    stats_entry *a = stats_entry_get(s, "GET", "/a", T0);
    for (int sec = 0; sec < 5; sec++)
        second(h, s, sec, 3, a, 4, (sec + 1) * 1000);
    assert_int_equal(history_interval(h), 1);
    assert_int_equal(history_len(h), 5);
    for (size_t i = 0; i < 5; i++) {
        const history_point *p = history_at(h, i);
        assert_true(p->time == T0 + i + 1);
        assert_true(p->users == 3);
        /* the interval's own requests: 4 at (i+1) ms */
        assert_true(fabs(p->avg_rt - (double)(i + 1)) < 1e-9);
        assert_true(p->rps >= 0 && p->fps == 0);
    }
    assert_int_equal(history_names(h), 1);
    assert_string_equal(history_name(h, 0), "GET /a");
    assert_true(fabs(history_name_value(h, 0, 4) - 5.0) < 1e-6);

    /* A second with no request: no average (a gap in the chart), not a zero. */
    second(h, s, 5, 3, a, 0, 0);
    assert_true(isnan(history_at(h, 5)->avg_rt));
    assert_true(isnan(history_name_value(h, 0, 5)));
    history_free(h);
    stats_free(s);
}

static void test_names_appear_later_and_are_capped(void **state)
{
    (void)state;
    stats *s = stats_new(1000, false, T0);
    history *h = history_new();
    stats_entry *a = stats_entry_get(s, "GET", "/a", T0);
    second(h, s, 0, 1, a, 2, 2000);
    char name[32];
    for (int i = 0; i < HISTORY_NAMES + 10; i++) {
        snprintf(name, sizeof name, "/n%03d", i);
        stats_log(s, stats_entry_get(s, "POST", name, T0 + 1.5), T0 + 1.5, 7000, 0, NULL);
    }
    second(h, s, 1, 1, a, 0, 0);
    assert_int_equal(history_names(h), HISTORY_NAMES);
    for (size_t k = 0; k < history_names(h); k++) {
        if (strcmp(history_name(h, k), "GET /a") == 0)
            continue;
        /* not seen in the first second, 7 ms in the second */
        assert_true(isnan(history_name_value(h, k, 0)));
        assert_true(fabs(history_name_value(h, k, 1) - 7.0) < 1e-6);
    }
    history_free(h);
    stats_free(s);
}

static void test_long_tests_stay_bounded(void **state)
{
    (void)state;
    stats *s = stats_new(100, false, T0);
    history *h = history_new();
    stats_entry *a = stats_entry_get(s, "GET", "/a", T0);
    int sec = 0;
    for (; sec < HISTORY_CAP; sec++)
        second(h, s, sec, (unsigned)sec, a, sec % 2 ? 1 : 0, 4000);
    assert_int_equal(history_len(h), HISTORY_CAP);
    assert_int_equal(history_interval(h), 1);

    /* The ring is full: neighbours merge, two seconds a point. */
    second(h, s, sec, (unsigned)sec, a, 0, 0);
    sec++;
    assert_int_equal(history_interval(h), 2);
    assert_int_equal(history_len(h), HISTORY_CAP / 2 + 1);
    const history_point *p0 = history_at(h, 0), *plast = history_at(h, HISTORY_CAP / 2 - 1);
    assert_true(p0->time == T0 + 2);                       /* the pair's end */
    assert_true(p0->users == 0.5);                         /* mean of 0 and 1 */
    assert_true(fabs(p0->avg_rt - 4.0) < 1e-9);            /* one second had no request */
    assert_true(plast->time == T0 + HISTORY_CAP);
    assert_true(fabs(history_name_value(h, 0, 0) - 4.0) < 1e-6);
    assert_true(isnan(history_name_value(h, 0, HISTORY_CAP / 2 + 1)));

    /* From here a point averages two seconds. */
    size_t len = history_len(h);
    second(h, s, sec, (unsigned)sec, a, 0, 0);
    sec++;
    assert_int_equal(history_len(h), len);
    second(h, s, sec, (unsigned)sec, a, 0, 0);
    sec++;
    assert_int_equal(history_len(h), len + 1);
    assert_true(history_at(h, len)->time == T0 + sec);
    assert_true(history_at(h, len)->users == sec - 1.5);

    /* Ten hours: never more than HISTORY_CAP points, 16 s each, in time order. */
    for (; sec < 10 * 3600; sec++) {
        second(h, s, sec, 1, a, 0, 0);
        assert_true(history_len(h) <= HISTORY_CAP);
    }
    assert_int_equal(history_interval(h), 16);
    for (size_t i = 1; i < history_len(h); i++)
        assert_true(history_at(h, i)->time > history_at(h, i - 1)->time);
    assert_true(history_at(h, history_len(h) - 1)->time <= T0 + sec);
    assert_true(history_at(h, history_len(h) - 1)->time > T0 + sec - 16);
    history_free(h);
    stats_free(s);
}

static void test_reset_and_clear(void **state)
{
    (void)state;
    stats *s = stats_new(100, false, T0);
    history *h = history_new();
    stats_entry *a = stats_entry_get(s, "GET", "/a", T0);
    second(h, s, 0, 2, a, 3, 9000);
    second(h, s, 1, 2, a, 3, 9000);
    /* Counters going down (a reset the history was not told of) give no average, not a
     * huge or negative one; the next second's is right again. */
    stats_reset(s, T0 + 2.1, true);
    second(h, s, 2, 2, a, 1, 3000);
    assert_true(isnan(history_at(h, 2)->avg_rt));
    second(h, s, 3, 2, a, 2, 5000);
    assert_true(fabs(history_at(h, 3)->avg_rt - 5.0) < 1e-9);

    stats_reset(s, T0 + 4, true);
    history_clear(h);
    assert_int_equal(history_len(h), 0);
    assert_int_equal(history_names(h), 0);
    assert_int_equal(history_interval(h), 1);
    second(h, s, 4, 2, a, 1, 6000);
    assert_int_equal(history_len(h), 1);
    assert_int_equal(history_names(h), 1);
    assert_true(fabs(history_at(h, 0)->avg_rt - 6.0) < 1e-9);
    history_free(h);
    stats_free(s);
}

static void test_json_and_since(void **state)
{
    (void)state;
    stats *s = stats_new(100, false, T0);
    history *h = history_new();
    stats_entry *a = stats_entry_get(s, "GET", "/a<b>", T0);
    second(h, s, 0, 4, a, 2, 1500);
    second(h, s, 1, 5, a, 0, 0);

    sbuf b = SBUF_INIT;
    json_writer w;
    json_writer_init(&w, &b);
    history_write_json(h, &w, 0);
    assert_string_equal(
        sbuf_str(&b),
        "{\"interval\":1,\"columns\":[\"time\",\"user_count\",\"current_rps\","
        "\"current_fail_per_sec\",\"response_time_percentile_0.5\","
        "\"response_time_percentile_0.95\",\"avg_response_time\"],"
        "\"points\":[[1000001,4,0.0,0.0,null,null,1.5],[1000002,5,0.0,0.0,1.5,1.5,null]],"
        "\"names\":[\"GET /a\\u003cb\\u003e\"],\"series\":[[1.5,null]]}");

    /* since: only later points, and the series cut the same way. */
    sbuf_reset(&b);
    json_writer_init(&w, &b);
    history_write_json(h, &w, T0 + 1);
    assert_non_null(strstr(sbuf_str(&b), "\"points\":[[1000002,5,"));
    assert_non_null(strstr(sbuf_str(&b), "\"series\":[[null]]}"));
    sbuf_reset(&b);
    json_writer_init(&w, &b);
    history_write_json(h, &w, T0 + 2);
    assert_non_null(strstr(sbuf_str(&b), "\"points\":[],"));
    assert_non_null(strstr(sbuf_str(&b), "\"series\":[[]]}"));
    sbuf_free(&b);
    history_free(h);
    stats_free(s);
}

static int quiet(void **state)
{
    (void)state;
    char err[128];
    return log_setup(LOG_ERROR, "/dev/null", false, err, sizeof err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_point_per_second),
        cmocka_unit_test(test_names_appear_later_and_are_capped),
        cmocka_unit_test(test_long_tests_stay_bounded),
        cmocka_unit_test(test_reset_and_clear),
        cmocka_unit_test(test_json_and_since),
    };
    int rc = cmocka_run_group_tests(tests, quiet, NULL);
    log_close();
    return rc;
}
