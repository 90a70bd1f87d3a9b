/* Tests for engine/dispatch: the essential cases of Locust 2.12's test_dispatch.py with
 * the maps Locust produces (checked against Locust's own UsersDispatcher), plus invariants
 * over random configurations checked against an independent reference model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "dispatch.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const dispatch_class U123[] = {{"User1", 1, 0}, {"User2", 1, 0}, {"User3", 1, 0}};
static const char *const W123[] = {"1", "2", "3"};

/* ---- helpers -------------------------------------------------------------------------- */

static dispatch *mk(const dispatch_class *c, size_t nc, const char *const *w, size_t nw)
{
    char err[256] = "";
    dispatch *d = dispatch_new(c, nc, w, nw, err, sizeof err);
    if (!d)
        fail_msg("dispatch_new: %s", err);
    return d;
}

static void start_sub(dispatch *d, unsigned target, double rate, const char *const *sub,
                      size_t nsub)
{
    char err[256] = "";
    if (dispatch_start(d, target, rate, sub, nsub, err, sizeof err) != 0)
        fail_msg("dispatch_start: %s", err);
}

static void start(dispatch *d, unsigned target, double rate)
{
    start_sub(d, target, rate, NULL, 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The map as "id:n,n,n id:n,n,n": workers in id order, counts in class-name order. */
static const char *map(const dispatch *d)
{
    static char buf[1 << 16];
    const char *ids[64];
    size_t nw = dispatch_worker_count(d), len = 0;
    assert_true(nw <= N(ids));
    for (size_t i = 0; i < nw; i++)
        ids[i] = dispatch_worker_id(d, i);
    qsort(ids, nw, sizeof *ids, cmp_str);
    buf[0] = '\0';
    for (size_t i = 0; i < nw; i++) {
        size_t w;
        assert_true(dispatch_find_worker(d, ids[i], &w));
        const unsigned *u = dispatch_worker_users(d, w);
        len += snprintf(buf + len, sizeof buf - len, "%s%s:", i ? " " : "", ids[i]);
        for (size_t c = 0; c < dispatch_class_count(d); c++)
            len += snprintf(buf + len, sizeof buf - len, "%s%u", c ? "," : "", u[c]);
    }
    return buf;
}

/* Users per class as "Name=n Name=n". */
static const char *totals(const dispatch *d)
{
    static char buf[4096];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < dispatch_class_count(d); c++)
        len += snprintf(buf + len, sizeof buf - len, "%s%s=%u", c ? " " : "",
                        dispatch_class_name(d, c), dispatch_class_total(d, c));
    return buf;
}

static void assert_delay(double got, double want)
{
    if (fabs(got - want) > 1e-12)
        fail_msg("delay %.12f, want %.12f", got, want);
}

/* Runs one iteration and checks the map it yields and the delay before the next one. */
static void step(dispatch *d, const char *want, double want_delay)
{
    double delay = -1;
    assert_true(dispatch_next(d, &delay));
    assert_string_equal(map(d), want);
    assert_delay(delay, want_delay);
}

/* Checks that the ramp is over. */
static void finished(dispatch *d)
{
    double delay = -1;
    assert_false(dispatch_next(d, &delay));
    assert_delay(delay, 0);
    assert_false(dispatch_in_progress(d));
}

/* Runs the ramp to its end; returns the number of iterations. */
static unsigned run(dispatch *d)
{
    unsigned n = 0;
    while (dispatch_next(d, NULL))
        assert_true(++n < 10000000);
    return n;
}

/* The order in which one worker receives users at rate 1, as class-name initials. */
static const char *sequence(const dispatch_class *c, size_t nc, unsigned users)
{
    static char buf[256];
    const char *const w[] = {"w"};
    dispatch *d = mk(c, nc, w, 1);
    unsigned before[16] = {0};
    start(d, users, 1);
    for (unsigned i = 0; i < users; i++) {
        assert_true(dispatch_next(d, NULL));
        buf[i] = '?';
        for (size_t k = 0; k < nc; k++) {
            if (dispatch_class_total(d, k) != before[k]) {
                buf[i] = dispatch_class_name(d, k)[0];
                before[k] = dispatch_class_total(d, k);
            }
        }
    }
    buf[users] = '\0';
    finished(d);
    dispatch_free(d);
    return buf;
}

/* ---- class and worker order ----------------------------------------------------------- */

static void test_smooth_weighted_sequences(void **state)
{
    (void)state;
    const dispatch_class ab[] = {{"B", 1, 0}, {"A", 3, 0}};
    assert_string_equal(sequence(ab, 2, 16), "AABAAABAAABAAABA");
    const dispatch_class cde[] = {{"E", 6, 0}, {"C", 2, 0}, {"D", 5, 0}};
    assert_string_equal(sequence(cde, 3, 13), "EDCEDEDEDECDE");
    const dispatch_class abf[] = {{"A", 3, 0}, {"B", 1, 0}, {"F", 1, 2}};
    assert_string_equal(sequence(abf, 3, 10), "FFAABAAABA");
    /* 2*w/min = 2.5 and 3.5 round half to even, as Python's round(): 2 and 4. */
    const dispatch_class half[] = {{"A", 4, 0}, {"B", 5, 0}, {"C", 7, 0}};
    assert_string_equal(sequence(half, 3, 8), "CABCCABC");
    /* Fractional weights: 1.5, 2 and 2.4 become 2, 3 and 3. */
    const dispatch_class frac[] = {{"A", 1.5, 0}, {"B", 2, 0}, {"C", 2.4, 0}};
    assert_string_equal(sequence(frac, 3, 8), "BCABCABC");
    /* Two fixed classes interleave by their own weighted round-robin. */
    const dispatch_class fixed2[] = {{"A", 1, 1}, {"B", 1, 3}, {"C", 1, 0}};
    assert_string_equal(sequence(fixed2, 3, 6), "BABBCC");
}

static void test_hosts_fill_evenly(void **state)
{
    (void)state;
    const dispatch_class ab[] = {{"A", 3, 0}, {"B", 1, 0}};
    const char *const w[] = {"hostB_1", "hostA_2", "hostA_1"};
    dispatch *d = mk(ab, 2, w, 3);
    assert_string_equal(dispatch_worker_id(d, 0), "hostA_1");
    assert_string_equal(dispatch_worker_id(d, 1), "hostB_1");
    assert_string_equal(dispatch_worker_id(d, 2), "hostA_2");
    start(d, 7, 100);
    step(d, "hostA_1:2,1 hostA_2:1,1 hostB_1:2,0", 0);
    finished(d);
    dispatch_free(d);
}

static void test_users_are_distributed_evenly_across_hosts(void **state)
{
    (void)state;
    const char *const w[] = {"hostname1_worker1", "hostname1_worker2", "hostname2_worker1",
                             "hostname2_worker2", "hostname3_worker1", "hostname3_worker2",
                             "hostname4_worker1", "hostname4_worker2", "plainid"};
    dispatch *d = mk(U123, 3, w, N(w));
    const char *const want[] = {"hostname1_worker1", "hostname2_worker1", "hostname3_worker1",
                                "hostname4_worker1", "plainid", "hostname1_worker2",
                                "hostname2_worker2", "hostname3_worker2", "hostname4_worker2"};
    for (size_t i = 0; i < N(want); i++)
        assert_string_equal(dispatch_worker_id(d, i), want[i]);
    start(d, 6, 6);
    assert_true(dispatch_next(d, NULL));
    for (size_t i = 0; i < N(want); i++)
        assert_int_equal(dispatch_worker_total(d, i), i < 6 ? 1 : 0);
    dispatch_free(d);
}

/* ---- ramp-up and ramp-down at various rates ------------------------------------------- */

static void test_ramp_up_rate_0_5(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 0.5);
    assert_true(dispatch_in_progress(d));
    step(d, "1:1,0,0 2:0,0,0 3:0,0,0", 2);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,0", 2);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,1", 2);
    step(d, "1:2,0,0 2:0,1,0 3:0,0,1", 2);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,1", 2);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,2", 2);
    step(d, "1:3,0,0 2:0,2,0 3:0,0,2", 2);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,2", 2);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,3", 0);
    finished(d);
    finished(d);
    dispatch_free(d);
}

static void test_ramp_up_rate_1(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 1);
    step(d, "1:1,0,0 2:0,0,0 3:0,0,0", 1);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,0", 1);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,1", 1);
    step(d, "1:2,0,0 2:0,1,0 3:0,0,1", 1);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,1", 1);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,2", 1);
    step(d, "1:3,0,0 2:0,2,0 3:0,0,2", 1);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,2", 1);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,3", 0);
    finished(d);
    dispatch_free(d);
}

static void test_ramp_up_rate_4(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 4);
    step(d, "1:2,0,0 2:0,1,0 3:0,0,1", 1);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,2", 1);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,3", 0);
    finished(d);
    dispatch_free(d);
}

static void test_ramp_up_rate_10_7(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 30, 10.7);
    step(d, "1:4,0,0 2:0,3,0 3:0,0,3", 10 / 10.7);
    step(d, "1:7,0,0 2:0,7,0 3:0,0,6", 10 / 10.7);
    step(d, "1:10,0,0 2:0,10,0 3:0,0,10", 0);
    finished(d);
    dispatch_free(d);
}

static void test_ramp_up_rate_greater_than_target(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 1, 100);
    step(d, "1:1,0,0 2:0,0,0 3:0,0,0", 0);
    finished(d);
    dispatch_free(d);
}

static void test_ramp_down_rate_0_5(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 9);
    run(d);
    start(d, 0, 0.5);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,2", 2);
    step(d, "1:3,0,0 2:0,2,0 3:0,0,2", 2);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,2", 2);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,1", 2);
    step(d, "1:2,0,0 2:0,1,0 3:0,0,1", 2);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,1", 2);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,0", 2);
    step(d, "1:1,0,0 2:0,0,0 3:0,0,0", 2);
    step(d, "1:0,0,0 2:0,0,0 3:0,0,0", 0);
    finished(d);
    dispatch_free(d);
}

static void test_ramp_down_rate_1_and_4(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 9);
    run(d);
    start(d, 6, 1);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,2", 1);
    step(d, "1:3,0,0 2:0,2,0 3:0,0,2", 1);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,2", 0);
    finished(d);
    start(d, 0, 4);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,0", 1);
    step(d, "1:0,0,0 2:0,0,0 3:0,0,0", 0);
    finished(d);
    dispatch_free(d);
}

static void test_ramp_down_rate_10_7(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 30, 100);
    step(d, "1:10,0,0 2:0,10,0 3:0,0,10", 0);
    start(d, 0, 10.7);
    step(d, "1:7,0,0 2:0,7,0 3:0,0,6", 10 / 10.7);
    step(d, "1:4,0,0 2:0,3,0 3:0,0,3", 10 / 10.7);
    step(d, "1:0,0,0 2:0,0,0 3:0,0,0", 0);
    finished(d);
    dispatch_free(d);
}

static void test_wait_between_iterations(void **state)
{
    (void)state;
    const double rates[] = {0.15, 0.5, 1, 2, 2.4, 3, 4, 9, 10.7, 5000.5};
    const double want[] = {1 / 0.15, 2, 1, 1, 2 / 2.4, 1, 1, 1, 10 / 10.7, 5000 / 5000.5};
    for (size_t i = 0; i < N(rates); i++) {
        dispatch *d = mk(U123, 3, W123, 3);
        double delay;
        start(d, 100000, rates[i]);
        assert_true(dispatch_next(d, &delay));
        assert_delay(delay, want[i]);
        dispatch_free(d);
    }
}

static void test_target_equal_to_current_yields_once(void **state)
{
    (void)state;
    const double rates[] = {0.15, 0.5, 1, 2, 2.4, 3, 4, 9};
    for (size_t i = 0; i < N(rates); i++) {
        dispatch *d = mk(U123, 3, W123, 3);
        start(d, 9, 9);
        run(d);
        start(d, 9, rates[i]);
        assert_true(dispatch_in_progress(d));
        step(d, "1:3,0,0 2:0,3,0 3:0,0,3", 0);
        finished(d);
        dispatch_free(d);
    }
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 0, 1);
    step(d, "1:0,0,0 2:0,0,0 3:0,0,0", 0);
    finished(d);
    dispatch_free(d);
}

static void test_distribution_respected_during_ramp(void **state)
{
    (void)state;
    const dispatch_class c[] = {{"User1", 1, 0}, {"User2", 2, 0}};
    const char *const w[] = {"1", "2", "3", "4"};
    dispatch *d = mk(c, 2, w, 4);
    start(d, 75, 5);
    step(d, "1:1,1 2:1,0 3:0,1 4:0,1", 1);
    assert_string_equal(totals(d), "User1=2 User2=3");
    step(d, "1:1,2 2:1,2 3:0,2 4:1,1", 1);
    assert_string_equal(totals(d), "User1=3 User2=7");
    step(d, "1:1,3 2:2,2 3:1,3 4:1,2", 1);
    assert_string_equal(totals(d), "User1=5 User2=10");
    assert_int_equal(run(d), 12);
    assert_string_equal(totals(d), "User1=25 User2=50");
    dispatch_free(d);
}

static void test_edit_target_mid_ramp(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 1);
    for (int i = 0; i < 5; i++)
        assert_true(dispatch_next(d, NULL));
    assert_string_equal(map(d), "1:2,0,0 2:0,2,0 3:0,0,1");
    start(d, 2, 100);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,0", 0);
    start(d, 6, 2);
    step(d, "1:2,0,0 2:0,1,0 3:0,0,1", 1);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,2", 0);
    finished(d);
    assert_int_equal(dispatch_target(d), 6);
    assert_int_equal(dispatch_user_count(d), 6);
    dispatch_free(d);
}

static void test_ramp_up_then_down_is_symmetric(void **state)
{
    (void)state;
    const double weights[][5] = {{1, 1, 1, 1, 1}, {1, 2, 3, 4, 5}, {1, 3, 5, 7, 9}};
    const unsigned counts[][2] = {{30, 15}, {54, 21}, {14165, 1476}};
    const char *const names[] = {"User1", "User2", "User3", "User4", "User5"};
    const char *const w[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
    const size_t nworkers[] = {1, 3, 5, 9};
    for (size_t wi = 0; wi < N(weights); wi++) {
        for (size_t nc = 1; nc <= 5; nc++) {
            dispatch_class c[5];
            for (size_t k = 0; k < nc; k++)
                c[k] = (dispatch_class){names[k], weights[wi][k], 0};
            for (size_t ci = 0; ci < N(counts); ci++) {
                for (size_t nw = 0; nw < N(nworkers); nw++) {
                    dispatch *d = mk(c, nc, w, nworkers[nw]);
                    start(d, counts[ci][1], 5000);
                    run(d);
                    char first[4096];
                    snprintf(first, sizeof first, "%s", map(d));
                    start(d, counts[ci][0], 5000);
                    run(d);
                    start(d, counts[ci][1], 5000);
                    run(d);
                    assert_string_equal(map(d), first);
                    dispatch_free(d);
                }
            }
        }
    }
}

/* Locust keeps both round-robins where they are on a ramp-down, so going down and up
 * again does not restore the earlier map: here B loses its user and worker 3 its only one. */
static void test_ramp_down_then_up_continues_round_robins(void **state)
{
    (void)state;
    const dispatch_class ab[] = {{"A", 3, 0}, {"B", 1, 0}};
    dispatch *d = mk(ab, 2, W123, 3);
    start(d, 3, 100);
    step(d, "1:1,0 2:1,0 3:0,1", 0);
    start(d, 2, 100);
    step(d, "1:1,0 2:1,0 3:0,0", 0);
    start(d, 3, 100);
    step(d, "1:2,0 2:1,0 3:0,0", 0);
    dispatch_free(d);
}

/* ---- fixed_count ---------------------------------------------------------------------- */

struct fixed_case {
    unsigned fixed[5];
    double weight[5];
    unsigned target;
    const char *want;
};

static void check_fixed_cases(const struct fixed_case *cases, size_t n, size_t nclasses)
{
    const char *const names[] = {"User1", "User2", "User3", "User4", "User5"};
    const char *const w[] = {"1"};
    for (size_t i = 0; i < n; i++) {
        dispatch_class c[5];
        for (size_t k = 0; k < nclasses; k++)
            c[k] = (dispatch_class){names[k], cases[i].weight[k], cases[i].fixed[k]};
        dispatch *d = mk(c, nclasses, w, 1);
        start(d, cases[i].target, 0.5);
        run(d);
        assert_string_equal(totals(d), cases[i].want);
        dispatch_free(d);
    }
}

static void test_fixed_count_ramp_up(void **state)
{
    (void)state;
    const struct fixed_case three[] = {
        {{1}, {0, 1, 1}, 3, "User1=1 User2=1 User3=1"},
        {{1}, {0, 1, 1}, 9, "User1=1 User2=4 User3=4"},
        {{8}, {0, 1, 1}, 10, "User1=8 User2=1 User3=1"},
        {{2}, {0, 1, 1}, 1000, "User1=2 User2=499 User3=499"},
        {{100}, {0, 1, 1}, 1000, "User1=100 User2=450 User3=450"},
        {{960}, {0, 1, 1}, 1000, "User1=960 User2=20 User3=20"},
        {{9990}, {0, 1, 1}, 10000, "User1=9990 User2=5 User3=5"},
        {{100}, {0, 1, 1}, 100, "User1=100 User2=0 User3=0"},
        /* Not enough users for the fixed count. */
        {{100}, {0, 1, 1}, 40, "User1=40 User2=0 User3=0"},
    };
    check_fixed_cases(three, N(three), 3);
    const struct fixed_case five[] = {
        {{0}, {1, 1, 1, 1, 1}, 5, "User1=1 User2=1 User3=1 User4=1 User5=1"},
        {{1, 1}, {0, 0, 1, 1, 1}, 5, "User1=1 User2=1 User3=1 User4=1 User5=1"},
        {{5, 2}, {0, 0, 1, 1, 1}, 10, "User1=5 User2=2 User3=1 User4=1 User5=1"},
        {{9, 1}, {0, 0, 5, 3, 2}, 20, "User1=9 User2=1 User3=5 User4=3 User5=2"},
        {{996}, {0, 1, 1, 1, 1}, 1000, "User1=996 User2=1 User3=1 User4=1 User5=1"},
        {{500}, {0, 2, 1, 1, 1}, 1000, "User1=500 User2=200 User3=100 User4=100 User5=100"},
        {{250, 250}, {0, 0, 3, 1, 1}, 1000,
         "User1=250 User2=250 User3=300 User4=100 User5=100"},
        {{1, 1, 1, 1}, {0, 0, 0, 0, 100}, 1000, "User1=1 User2=1 User3=1 User4=1 User5=996"},
        /* Only fixed classes: the ramp stops at their total. */
        {{1, 1, 1, 1, 1}, {0}, 5, "User1=1 User2=1 User3=1 User4=1 User5=1"},
        {{13, 26, 39, 52, 1}, {0}, 131, "User1=13 User2=26 User3=39 User4=52 User5=1"},
        {{10, 10, 10, 10, 10}, {0}, 100, "User1=10 User2=10 User3=10 User4=10 User5=10"},
        {{10, 10, 10, 10, 10}, {0}, 50, "User1=10 User2=10 User3=10 User4=10 User5=10"},
        /* Fewer users than the fixed total: the fixed round-robin decides. */
        {{10, 10, 10, 10, 10}, {0}, 7, "User1=2 User2=2 User3=1 User4=1 User5=1"},
    };
    check_fixed_cases(five, N(five), 5);
}

static void test_only_fixed_classes_end_ramp_early(void **state)
{
    (void)state;
    const dispatch_class c[] = {{"A", 1, 2}, {"B", 1, 3}};
    const char *const w[] = {"1", "2"};
    dispatch *d = mk(c, 2, w, 2);
    start(d, 10, 2);
    step(d, "1:0,1 2:1,0", 1);
    step(d, "1:0,2 2:2,0", 1);
    /* Locust waits out the iteration that found no class to add before it stops. */
    step(d, "1:0,3 2:2,0", 1);
    finished(d);
    start(d, 10, 2);
    step(d, "1:0,3 2:2,0", 1);
    finished(d);
    dispatch_free(d);
}

static void test_fixed_partial_ramp_down_and_up(void **state)
{
    (void)state;
    const dispatch_class c[] = {{"User1", 1, 50}, {"User2", 1, 50}};
    const char *const w[] = {"1"};
    dispatch *d = mk(c, 2, w, 1);
    start(d, 30, 0.5);
    run(d);
    assert_string_equal(totals(d), "User1=15 User2=15");
    start(d, 20, 0.5);
    run(d);
    assert_string_equal(totals(d), "User1=10 User2=10");
    start(d, 100, 0.5);
    run(d);
    assert_string_equal(totals(d), "User1=50 User2=50");
    dispatch_free(d);
}

static void test_fixed_topped_up_first(void **state)
{
    (void)state;
    const dispatch_class c[] = {{"A", 3, 0}, {"B", 1, 0}, {"F", 1, 2}};
    const char *const w[] = {"w"};
    dispatch *d = mk(c, 3, w, 1);
    start(d, 6, 100);
    step(d, "w:3,1,2", 0);
    /* LIFO: A, B, A, A, then one F. */
    start(d, 1, 1);
    step(d, "w:2,1,2", 1);
    step(d, "w:2,0,2", 1);
    step(d, "w:1,0,2", 1);
    step(d, "w:0,0,2", 1);
    step(d, "w:0,0,1", 0);
    finished(d);
    /* F first, then the weighted round-robin where it stopped (AAB A|AABA). */
    start(d, 6, 1);
    step(d, "w:0,0,2", 1);
    step(d, "w:1,0,2", 1);
    step(d, "w:2,0,2", 1);
    step(d, "w:2,1,2", 1);
    step(d, "w:3,1,2", 0);
    finished(d);
    dispatch_free(d);
}

/* With every fixed class still full after a ramp-down, Locust 2.12 never returns from
 * its generator; here the ramp-up goes on with weighted classes. */
static void test_fixed_full_after_ramp_down(void **state)
{
    (void)state;
    const dispatch_class c[] = {{"A", 1, 2}, {"B", 1, 1}, {"C", 1, 0}};
    const char *const w[] = {"w"};
    dispatch *d = mk(c, 3, w, 1);
    start(d, 10, 100);
    step(d, "w:2,1,7", 0);
    start(d, 5, 100);
    step(d, "w:2,1,2", 0);
    start(d, 10, 100);
    step(d, "w:2,1,7", 0);
    finished(d);
    dispatch_free(d);
}

static void test_fixed_ramp_up_down_up_restores_counts(void **state)
{
    (void)state;
    const unsigned fixed[][5] = {{100, 100, 50, 50, 200}, {100, 150, 50, 50, 0},
                                 {200, 100, 50, 0, 0}, {200, 100, 0, 0, 0},
                                 {200, 0, 0, 0, 0}, {0, 0, 0, 0, 0}};
    const char *const names[] = {"User1", "User2", "User3", "User4", "User5"};
    const char *const w[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
    const size_t nworkers[] = {3, 5, 9};
    for (size_t fi = 0; fi < N(fixed); fi++) {
        dispatch_class c[5];
        unsigned sum = 0, min = UINT32_MAX;
        for (size_t k = 0; k < 5; k++) {
            c[k] = (dispatch_class){names[k], 1, fixed[fi][k]};
            sum += fixed[fi][k];
            min = fixed[fi][k] < min ? fixed[fi][k] : min;
        }
        const unsigned targets[] = {sum, sum + 100};
        const unsigned downs[] = {0, min ? min - 1 : 0};
        for (size_t nw = 0; nw < N(nworkers); nw++) {
            dispatch *d = mk(c, 5, w, nworkers[nw]);
            for (size_t di = 0; di < 2; di++) {
                for (size_t ti = 0; ti < 2; ti++) {
                    start(d, targets[ti], 1000);
                    run(d);
                    for (size_t k = 0; k < 5; k++)
                        if (fixed[fi][k])
                            assert_int_equal(dispatch_class_total(d, k), fixed[fi][k]);
                    start(d, downs[di], 1000);
                    run(d);
                    for (size_t k = 0; k < 5; k++)
                        if (fixed[fi][k])
                            assert_int_not_equal(dispatch_class_total(d, k), fixed[fi][k]);
                    start(d, targets[ti], 1000);
                    run(d);
                    for (size_t k = 0; k < 5; k++)
                        if (fixed[fi][k])
                            assert_int_equal(dispatch_class_total(d, k), fixed[fi][k]);
                }
            }
            dispatch_free(d);
        }
    }
}

/* ---- weight 0 ------------------------------------------------------------------------- */

static void test_weight_zero_never_gets_users(void **state)
{
    (void)state;
    const dispatch_class c[] = {{"A", 0, 0}, {"B", 1, 0}, {"C", 2, 0}};
    const char *const w[] = {"1", "2"};
    dispatch *d = mk(c, 3, w, 2);
    assert_int_equal(dispatch_class_count(d), 3);
    start(d, 3, 2);
    step(d, "1:0,0,1 2:0,1,0", 1);
    step(d, "1:0,0,2 2:0,1,0", 0);
    finished(d);
    /* Naming it in a subset changes nothing. */
    const char *const sub[] = {"A", "B", "C"};
    start_sub(d, 6, 100, sub, 3);
    step(d, "1:0,1,2 2:0,1,2", 0);
    const char *const only[] = {"A"};
    start_sub(d, 9, 100, only, 1);
    step(d, "1:0,1,2 2:0,1,2", 1);
    finished(d);
    dispatch_free(d);

    const dispatch_class none[] = {{"A", 0, 0}};
    d = mk(none, 1, w, 2);
    start(d, 5, 1);
    step(d, "1:0 2:0", 1);
    finished(d);
    dispatch_free(d);
}

/* ---- class subsets (load-shape stages) ------------------------------------------------ */

static void test_subset_each_dispatch(void **state)
{
    (void)state;
    const char *const w[] = {"1"};
    const char *const u1[] = {"User1"}, *const u2[] = {"User2"}, *const u3[] = {"User3"};
    dispatch *d = mk(U123, 3, w, 1);
    start(d, 3, 3);
    step(d, "1:1,1,1", 0);
    start_sub(d, 4, 1, u1, 1);
    step(d, "1:2,1,1", 0);
    start_sub(d, 5, 1, u2, 1);
    step(d, "1:2,2,1", 0);
    start_sub(d, 6, 1, u3, 1);
    step(d, "1:2,2,2", 0);
    dispatch_free(d);
}

static void test_subset_one_kind_then_others(void **state)
{
    (void)state;
    const char *const w[] = {"1"};
    const char *const u2[] = {"User2"}, *const u3[] = {"User3"};
    const char *const all[] = {"User3", "User1", "User2"};
    dispatch *d = mk(U123, 3, w, 1);
    start_sub(d, 10, 10, u2, 1);
    step(d, "1:0,10,0", 0);
    start_sub(d, 40, 30, u3, 1);
    step(d, "1:0,10,30", 0);
    dispatch_free(d);

    d = mk(U123, 3, w, 1);
    start_sub(d, 10, 10, u2, 1);
    step(d, "1:0,10,0", 0);
    start_sub(d, 40, 30, all, 3);
    step(d, "1:10,20,10", 0);
    /* NULL keeps the previous subset. */
    start(d, 43, 3);
    step(d, "1:11,21,11", 0);
    dispatch_free(d);
}

static void test_subset_multiple_workers(void **state)
{
    (void)state;
    const char *const u1[] = {"User1"}, *const u2[] = {"User2"}, *const u3[] = {"User3"};
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 9);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,3", 0);
    start_sub(d, 12, 3, u3, 1);
    step(d, "1:3,0,1 2:0,3,1 3:0,0,4", 0);
    start_sub(d, 15, 3, u2, 1);
    step(d, "1:3,1,1 2:0,4,1 3:0,1,4", 0);
    start_sub(d, 18, 3, u1, 1);
    step(d, "1:4,1,1 2:1,4,1 3:1,1,4", 0);
    dispatch_free(d);

    d = mk(U123, 3, W123, 3);
    start_sub(d, 60, 60, u2, 1);
    step(d, "1:0,20,0 2:0,20,0 3:0,20,0", 0);
    dispatch_free(d);
}

static void test_subset_ramp_down_is_lifo(void **state)
{
    (void)state;
    const char *const u3[] = {"User3"};
    const char *const all[] = {"User1", "User2", "User3"};
    dispatch *d = mk(U123, 3, W123, 3);
    start_sub(d, 20, 20, u3, 1);
    step(d, "1:0,0,7 2:0,0,7 3:0,0,6", 0);
    start_sub(d, 9, 20, u3, 1);
    step(d, "1:0,0,3 2:0,0,3 3:0,0,3", 0);
    start_sub(d, 3, 20, all, 3);
    step(d, "1:0,0,1 2:0,0,1 3:0,0,1", 0);
    start_sub(d, 21, 21, all, 3);
    step(d, "1:0,6,1 2:0,0,7 3:6,0,1", 0);
    start_sub(d, 9, 20, all, 3);
    step(d, "1:0,2,1 2:0,0,3 3:2,0,1", 0);
    dispatch_free(d);
}

/* ---- workers joining and leaving ------------------------------------------------------ */

static void add(dispatch *d, const char *id)
{
    char err[256] = "";
    if (dispatch_add_worker(d, id, err, sizeof err) != 0)
        fail_msg("dispatch_add_worker: %s", err);
}

static void del(dispatch *d, const char *id)
{
    char err[256] = "";
    if (dispatch_remove_worker(d, id, err, sizeof err) != 0)
        fail_msg("dispatch_remove_worker: %s", err);
}

static void test_remove_worker_during_ramp_up(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 3);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,1", 1);
    step(d, "1:2,0,0 2:0,2,0 3:0,0,2", 1);
    del(d, "2");
    assert_string_equal(map(d), "1:1,1,1 3:1,1,1");
    assert_true(dispatch_in_progress(d));
    step(d, "1:2,1,2 3:1,2,1", 0);
    finished(d);
    dispatch_free(d);
}

static void test_remove_worker_between_ramps(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 9, 3);
    run(d);
    del(d, "2");
    assert_string_equal(map(d), "1:2,1,2 3:1,2,1");
    start(d, 18, 3);
    step(d, "1:2,2,2 3:2,2,2", 1);
    step(d, "1:3,2,3 3:2,3,2", 1);
    step(d, "1:3,3,3 3:3,3,3", 0);
    finished(d);
    dispatch_free(d);
}

static void test_remove_worker_during_ramp_down(void **state)
{
    (void)state;
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 18, 3);
    run(d);
    start(d, 9, 3);
    step(d, "1:5,0,0 2:0,5,0 3:0,0,5", 1);
    del(d, "2");
    assert_string_equal(map(d), "1:3,2,3 3:2,3,2");
    step(d, "1:2,2,2 3:2,2,2", 1);
    step(d, "1:2,1,2 3:1,2,1", 0);
    finished(d);
    dispatch_free(d);
}

static void test_remove_worker_with_fixed_class(void **state)
{
    (void)state;
    const dispatch_class c[] = {{"User1", 1, 2}, {"User2", 1, 0}, {"User3", 1, 0}};
    dispatch *d = mk(c, 3, W123, 3);
    start(d, 9, 3);
    step(d, "1:1,0,0 2:1,0,0 3:0,1,0", 1);
    step(d, "1:1,0,1 2:1,1,0 3:0,1,1", 1);
    del(d, "2");
    assert_string_equal(map(d), "1:1,2,0 3:1,0,2");
    step(d, "1:1,4,0 3:1,0,3", 0);
    assert_string_equal(totals(d), "User1=2 User2=4 User3=3");
    dispatch_free(d);
}

static void test_remove_last_worker(void **state)
{
    (void)state;
    const char *const w[] = {"1"};
    dispatch *d = mk(U123, 3, w, 1);
    start(d, 9, 3);
    step(d, "1:1,1,1", 1);
    step(d, "1:2,2,2", 1);
    del(d, "1");
    assert_int_equal(dispatch_worker_count(d), 0);
    assert_int_equal(dispatch_user_count(d), 0);
    assert_string_equal(totals(d), "User1=0 User2=0 User3=0");
    finished(d);
    /* A worker joining later starts from nothing. */
    add(d, "2");
    assert_string_equal(map(d), "2:0,0,0");
    start(d, 3, 3);
    step(d, "2:1,1,1", 0);
    dispatch_free(d);
}

/* Locust sorts workers only when one joins: after a removal the others keep their order,
 * even where the index within a host has changed. */
static void test_remove_worker_keeps_order(void **state)
{
    (void)state;
    const char *const w[] = {"b_2", "a_2", "b_1", "a_1"};
    dispatch *d = mk(U123, 3, w, 4);
    assert_string_equal(dispatch_worker_id(d, 0), "a_1");
    assert_string_equal(dispatch_worker_id(d, 1), "b_1");
    assert_string_equal(dispatch_worker_id(d, 2), "a_2");
    assert_string_equal(dispatch_worker_id(d, 3), "b_2");
    start(d, 3, 3);
    step(d, "a_1:1,0,0 a_2:0,0,1 b_1:0,1,0 b_2:0,0,0", 0);
    del(d, "a_1");
    assert_string_equal(dispatch_worker_id(d, 0), "b_1");
    assert_string_equal(dispatch_worker_id(d, 1), "a_2");
    assert_string_equal(dispatch_worker_id(d, 2), "b_2");
    assert_string_equal(map(d), "a_2:0,1,0 b_1:1,0,0 b_2:0,0,1");
    add(d, "c_1");
    assert_string_equal(dispatch_worker_id(d, 0), "a_2");
    assert_string_equal(dispatch_worker_id(d, 1), "b_1");
    assert_string_equal(dispatch_worker_id(d, 2), "c_1");
    assert_string_equal(dispatch_worker_id(d, 3), "b_2");
    assert_string_equal(map(d), "a_2:1,0,0 b_1:0,1,0 b_2:0,0,0 c_1:0,0,1");
    dispatch_free(d);
}

static void test_add_worker_during_ramp_up(void **state)
{
    (void)state;
    const char *const w[] = {"hostname1_worker1", "hostname2_worker1"};
    dispatch *d = mk(U123, 3, w, 2);
    start(d, 11, 3);
    step(d, "hostname1_worker1:1,0,1 hostname2_worker1:0,1,0", 1);
    step(d, "hostname1_worker1:1,1,1 hostname2_worker1:1,1,1", 1);
    add(d, "hostname1_worker2");
    assert_string_equal(map(d), "hostname1_worker1:2,0,0 hostname1_worker2:0,0,2 "
                                "hostname2_worker1:0,2,0");
    step(d, "hostname1_worker1:3,0,0 hostname1_worker2:0,0,3 hostname2_worker1:0,3,0", 1);
    step(d, "hostname1_worker1:4,0,0 hostname1_worker2:0,0,3 hostname2_worker1:0,4,0", 0);
    finished(d);
    dispatch_free(d);
}

static void test_add_worker_between_ramps(void **state)
{
    (void)state;
    const char *const w[] = {"1", "3"};
    dispatch *d = mk(U123, 3, w, 2);
    start(d, 9, 3);
    run(d);
    assert_string_equal(map(d), "1:2,1,2 3:1,2,1");
    add(d, "2");
    assert_string_equal(map(d), "1:3,0,0 2:0,3,0 3:0,0,3");
    start(d, 18, 3);
    step(d, "1:4,0,0 2:0,4,0 3:0,0,4", 1);
    step(d, "1:5,0,0 2:0,5,0 3:0,0,5", 1);
    step(d, "1:6,0,0 2:0,6,0 3:0,0,6", 0);
    finished(d);
    dispatch_free(d);
}

static void test_add_worker_during_ramp_down(void **state)
{
    (void)state;
    const char *const w[] = {"1", "3"};
    dispatch *d = mk(U123, 3, w, 2);
    start(d, 18, 3);
    run(d);
    start(d, 9, 3);
    step(d, "1:3,2,3 3:2,3,2", 1);
    add(d, "2");
    assert_string_equal(map(d), "1:5,0,0 2:0,5,0 3:0,0,5");
    step(d, "1:4,0,0 2:0,4,0 3:0,0,4", 1);
    step(d, "1:3,0,0 2:0,3,0 3:0,0,3", 0);
    finished(d);
    dispatch_free(d);
}

static void test_add_worker_with_fixed_class(void **state)
{
    (void)state;
    const dispatch_class c[] = {{"User1", 1, 2}, {"User2", 1, 0}, {"User3", 1, 0}};
    const char *const w[] = {"hostname1_worker1", "hostname2_worker1"};
    dispatch *d = mk(c, 3, w, 2);
    start(d, 11, 3);
    step(d, "hostname1_worker1:1,1,0 hostname2_worker1:1,0,0", 1);
    step(d, "hostname1_worker1:1,2,0 hostname2_worker1:1,0,2", 1);
    add(d, "hostname1_worker2");
    assert_string_equal(map(d), "hostname1_worker1:1,0,1 hostname1_worker2:0,1,1 "
                                "hostname2_worker1:1,1,0");
    step(d, "hostname1_worker1:1,1,1 hostname1_worker2:0,2,1 hostname2_worker1:1,1,1", 1);
    step(d, "hostname1_worker1:1,1,2 hostname1_worker2:0,2,1 hostname2_worker1:1,2,1", 0);
    assert_string_equal(totals(d), "User1=2 User2=5 User3=4");
    dispatch_free(d);
}

static void test_rebalance_with_subset(void **state)
{
    (void)state;
    const char *const u1[] = {"User1"}, *const u2[] = {"User2"}, *const u3[] = {"User3"};
    dispatch *d = mk(U123, 3, W123, 3);
    start_sub(d, 9, 3, u2, 1);
    step(d, "1:0,1,0 2:0,1,0 3:0,1,0", 1);
    step(d, "1:0,2,0 2:0,2,0 3:0,2,0", 1);
    del(d, "2");
    assert_string_equal(map(d), "1:0,3,0 3:0,3,0");
    step(d, "1:0,5,0 3:0,4,0", 0);
    start_sub(d, 16, 7, u3, 1);
    step(d, "1:0,5,3 3:0,4,4", 0);
    assert_string_equal(totals(d), "User1=0 User2=9 User3=7");
    dispatch_free(d);

    const char *const w[] = {"1", "3"};
    d = mk(U123, 3, w, 2);
    start_sub(d, 11, 3, u1, 1);
    step(d, "1:2,0,0 3:1,0,0", 1);
    step(d, "1:3,0,0 3:3,0,0", 1);
    add(d, "2");
    assert_string_equal(map(d), "1:2,0,0 2:2,0,0 3:2,0,0");
    step(d, "1:3,0,0 2:3,0,0 3:3,0,0", 1);
    step(d, "1:4,0,0 2:4,0,0 3:3,0,0", 0);
    start_sub(d, 18, 7, u3, 1);
    step(d, "1:4,0,2 2:4,0,2 3:3,0,3", 0);
    assert_string_equal(totals(d), "User1=11 User2=0 User3=7");
    dispatch_free(d);
}

/* ---- errors --------------------------------------------------------------------------- */

static void expect_new_error(const dispatch_class *c, size_t nc, const char *const *w,
                             size_t nw, const char *want)
{
    char err[256] = "";
    assert_null(dispatch_new(c, nc, w, nw, err, sizeof err));
    assert_string_equal(err, want);
}

static void test_new_errors(void **state)
{
    (void)state;
    const char *const w[] = {"1"};
    expect_new_error(U123, 0, w, 1, "no user classes to dispatch");
    const dispatch_class noname[] = {{"A", 1, 0}, {NULL, 1, 0}};
    expect_new_error(noname, 2, w, 1, "user class #2 has no name");
    const dispatch_class empty[] = {{"", 1, 0}};
    expect_new_error(empty, 1, w, 1, "user class #1 has no name");
    const dispatch_class neg[] = {{"A", -1, 0}};
    expect_new_error(neg, 1, w, 1, "user class \"A\": weight must be a number >= 0 (got -1)");
    const dispatch_class nan[] = {{"A", NAN, 0}};
    expect_new_error(nan, 1, w, 1, "user class \"A\": weight must be a number >= 0 (got nan)");
    const dispatch_class inf[] = {{"A", INFINITY, 0}};
    expect_new_error(inf, 1, w, 1, "user class \"A\": weight must be a number >= 0 (got inf)");
    const dispatch_class ratio[] = {{"A", 1e-3, 0}, {"B", 2e6, 0}};
    expect_new_error(ratio, 2, w, 1,
                     "user class \"B\": weight 2e+06 is more than 1e+09 times the smallest "
                     "weight 0.001");
    const dispatch_class dup[] = {{"B", 1, 0}, {"A", 1, 0}, {"B", 2, 0}};
    expect_new_error(dup, 3, w, 1, "duplicate user class name \"B\"");
    const char *const noid[] = {"1", ""};
    expect_new_error(U123, 3, noid, 2, "worker id must not be empty");
    const char *const nullid[] = {NULL};
    expect_new_error(U123, 3, nullid, 1, "worker id must not be empty");
    const char *const dupid[] = {"a_1", "b_1", "a_1"};
    expect_new_error(U123, 3, dupid, 3, "duplicate worker id \"a_1\"");
    /* A NULL error buffer is allowed. */
    assert_null(dispatch_new(U123, 0, w, 1, NULL, 0));
    dispatch_free(NULL);
    /* Large ratios below the limit, fixed classes and weight 0 are fine. */
    const dispatch_class ok[] = {{"A", 1, 0}, {"B", 1e9, 0}, {"C", 0, 0}, {"D", 1e-9, 7}};
    dispatch *d = mk(ok, 4, NULL, 0);
    assert_int_equal(dispatch_worker_count(d), 0);
    finished(d);
    start(d, 3, 1);
    finished(d);
    dispatch_free(d);
}

static void test_start_errors(void **state)
{
    (void)state;
    char err[256];
    dispatch *d = mk(U123, 3, W123, 3);
    const double bad[] = {0, -1, NAN, INFINITY, 5e-324};
    const char *const want[] = {"spawn rate must be a number > 0 (got 0)",
                                "spawn rate must be a number > 0 (got -1)",
                                "spawn rate must be a number > 0 (got nan)",
                                "spawn rate must be a number > 0 (got inf)",
                                "spawn rate must be a number > 0 (got 4.94066e-324)"};
    for (size_t i = 0; i < N(bad); i++) {
        assert_int_equal(dispatch_start(d, 3, bad[i], NULL, 0, err, sizeof err), -1);
        assert_string_equal(err, want[i]);
    }
    const char *const unknown[] = {"User1", "Nope"};
    assert_int_equal(dispatch_start(d, 3, 1, unknown, 2, err, sizeof err), -1);
    assert_string_equal(err, "unknown user class \"Nope\"");
    const char *const nul[] = {NULL};
    assert_int_equal(dispatch_start(d, 3, 1, nul, 1, err, sizeof err), -1);
    assert_string_equal(err, "unknown user class \"\"");
    const char *const twice[] = {"User2", "User1", "User2"};
    assert_int_equal(dispatch_start(d, 3, 1, twice, 3, err, sizeof err), -1);
    assert_string_equal(err, "user class \"User2\" given twice");
    /* Nothing changed: no ramp, and the subset is still all classes. */
    assert_false(dispatch_in_progress(d));
    finished(d);
    start(d, 3, 3);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,1", 0);
    /* An empty subset lets no class grow. */
    const char *const none[] = {"User1"};
    start_sub(d, 6, 3, none, 0);
    step(d, "1:1,0,0 2:0,1,0 3:0,0,1", 1);
    finished(d);
    dispatch_free(d);
}

static void test_worker_errors(void **state)
{
    (void)state;
    char err[256];
    dispatch *d = mk(U123, 3, W123, 3);
    start(d, 3, 3);
    run(d);
    assert_int_equal(dispatch_add_worker(d, "", err, sizeof err), -1);
    assert_string_equal(err, "worker id must not be empty");
    assert_int_equal(dispatch_add_worker(d, NULL, err, sizeof err), -1);
    assert_string_equal(err, "worker id must not be empty");
    assert_int_equal(dispatch_add_worker(d, "2", err, sizeof err), -1);
    assert_string_equal(err, "duplicate worker id \"2\"");
    assert_int_equal(dispatch_remove_worker(d, "4", err, sizeof err), -1);
    assert_string_equal(err, "no worker with id \"4\"");
    assert_int_equal(dispatch_remove_worker(d, NULL, err, sizeof err), -1);
    assert_string_equal(err, "no worker with id \"\"");
    assert_string_equal(map(d), "1:1,0,0 2:0,1,0 3:0,0,1");
    size_t i;
    assert_false(dispatch_find_worker(d, "4", &i));
    assert_false(dispatch_find_worker(d, NULL, &i));
    assert_true(dispatch_find_worker(d, "3", &i));
    assert_int_equal(i, 2);
    assert_false(dispatch_find_class(d, "User4", &i));
    assert_false(dispatch_find_class(d, NULL, &i));
    assert_true(dispatch_find_class(d, "User2", &i));
    assert_int_equal(i, 1);
    dispatch_free(d);
}

/* ---- --show-task-ratio distribution --------------------------------------------------- */

static const char *ratio(const dispatch_class *c, size_t n, unsigned users)
{
    static char buf[256];
    unsigned out[8];
    size_t len = 0;
    dispatch_ratio_counts(c, n, users, out);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += snprintf(buf + len, sizeof buf - len, "%s%u", i ? "," : "", out[i]);
    return buf;
}

static void test_ratio_counts(void **state)
{
    (void)state;
    const dispatch_class ab[] = {{"A", 3, 0}, {"B", 1, 0}};
    assert_string_equal(ratio(ab, 2, 0), "3,1");
    /* Half to even: 7.5 -> 8 and 2.5 -> 2. */
    assert_string_equal(ratio(ab, 2, 10), "8,2");
    assert_string_equal(ratio(ab, 2, 3), "2,1");
    const dispatch_class even[] = {{"A", 1, 0}, {"B", 1, 0}, {"C", 2, 0}};
    assert_string_equal(ratio(even, 3, 5), "1,1,2");
    assert_string_equal(ratio(even, 3, 6), "2,2,3");
    const dispatch_class fixed[] = {{"F", 1, 2}, {"A", 1, 0}, {"B", 3, 0}};
    assert_string_equal(ratio(fixed, 3, 0), "2,0,0");
    assert_string_equal(ratio(fixed, 3, 10), "2,2,6");
    assert_string_equal(ratio(fixed, 3, 1), "2,0,0");
    const dispatch_class frac[] = {{"A", 1.5, 0}, {"B", 1, 0}};
    assert_string_equal(ratio(frac, 2, 0), "2,1");
    const dispatch_class zero[] = {{"A", 0, 0}, {"B", 2, 0}};
    assert_string_equal(ratio(zero, 2, 0), "0,2");
    const dispatch_class allzero[] = {{"A", 0, 0}};
    assert_string_equal(ratio(allzero, 1, 5), "0");
}

/* ---- invariants over random configurations -------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rndn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* An independent model of a ramp from zero: the order in which classes get users (fixed
 * classes to their counts, then the weighted cycle repeated) and the order of workers. */
struct model {
    size_t nc, nw;
    const char *name[8];
    double weight[8];
    unsigned fixed[8];
    char id[16][24];
    char order[16][24];      /* workers in dispatch order */
    unsigned *seq;           /* class of user i, name-order index */
    unsigned nseq;           /* users the classes can take */
};

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One period of nginx's smooth weighted round-robin over vals[]. */
static unsigned swrr_period(const double *vals, const unsigned *idx, size_t n, unsigned *out)
{
    double min = 0;
    long long w[8], cur[8] = {0}, total = 0;
    for (size_t i = 0; i < n; i++)
        min = (i == 0 || vals[i] < min) ? vals[i] : min;
    for (size_t i = 0; i < n; i++)
        total += w[i] = llrint(2 * vals[i] / min);
    for (long long k = 0; k < total; k++) {
        size_t best = 0;
        for (size_t i = 0; i < n; i++) {
            cur[i] += w[i];
            if (cur[i] > cur[best])
                best = i;
        }
        cur[best] -= total;
        out[k] = idx[best];
    }
    return (unsigned)total;
}

static void model_sequence(struct model *m, unsigned users)
{
    unsigned fidx[8], widx[8], nf = 0, nwt = 0, fcyc[4096], wcyc[4096], have[8] = {0};
    double fv[8], wv[8];
    for (unsigned c = 0; c < m->nc; c++) {
        if (m->fixed[c]) {
            fv[nf] = m->fixed[c];
            fidx[nf++] = c;
        } else if (m->weight[c] > 0) {
            wv[nwt] = m->weight[c];
            widx[nwt++] = c;
        }
    }
    unsigned fl = nf ? swrr_period(fv, fidx, nf, fcyc) : 0;
    unsigned wl = nwt ? swrr_period(wv, widx, nwt, wcyc) : 0;
    unsigned fixed_total = 0;
    for (unsigned i = 0; i < nf; i++)
        fixed_total += m->fixed[fidx[i]];
    free(m->seq);
    m->seq = malloc((users + 1) * sizeof *m->seq);
    m->nseq = 0;
    for (unsigned k = 0; m->nseq < users && m->nseq < fixed_total; k++) {
        unsigned c = fcyc[k % fl];
        if (have[c] < m->fixed[c]) {
            have[c]++;
            m->seq[m->nseq++] = c;
        }
    }
    for (unsigned k = 0; wl && m->nseq < users; k++)
        m->seq[m->nseq++] = wcyc[k % wl];
}

static void model_workers(struct model *m)
{
    /* Index within host: how many ids on the same host sort before this one. */
    size_t idx[16];
    for (size_t i = 0; i < m->nw; i++) {
        size_t hl = strcspn(m->id[i], "_");
        idx[i] = 0;
        for (size_t j = 0; j < m->nw; j++)
            if (strcspn(m->id[j], "_") == hl && strncmp(m->id[i], m->id[j], hl) == 0 &&
                strcmp(m->id[j], m->id[i]) < 0)
                idx[i]++;
    }
    size_t k = 0;
    for (size_t level = 0; level < m->nw; level++) {
        const char *tmp[16];
        size_t n = 0;
        for (size_t i = 0; i < m->nw; i++)
            if (idx[i] == level)
                tmp[n++] = m->id[i];
        qsort(tmp, n, sizeof *tmp, cmp_cstr);
        for (size_t i = 0; i < n; i++)
            snprintf(m->order[k++], sizeof m->order[0], "%s", tmp[i]);
    }
}

/* The map must be the first `users` users of the model, dealt round-robin to workers. */
static void check_model(const dispatch *d, const struct model *m, unsigned users)
{
    assert_int_equal(dispatch_worker_count(d), m->nw);
    assert_true(users <= m->nseq);
    assert_int_equal(dispatch_user_count(d), users);
    unsigned want[16][8];
    memset(want, 0, sizeof want);
    for (unsigned i = 0; i < users; i++)
        want[i % m->nw][m->seq[i]]++;
    unsigned ctotal[8] = {0}, wmin = UINT32_MAX, wmax = 0;
    for (size_t w = 0; w < m->nw; w++) {
        assert_string_equal(dispatch_worker_id(d, w), m->order[w]);
        const unsigned *row = dispatch_worker_users(d, w);
        unsigned sum = 0;
        for (size_t c = 0; c < m->nc; c++) {
            assert_int_equal(row[c], want[w][c]);
            sum += row[c];
            ctotal[c] += row[c];
        }
        assert_int_equal(dispatch_worker_total(d, w), sum);
        wmin = sum < wmin ? sum : wmin;
        wmax = sum > wmax ? sum : wmax;
    }
    assert_true(wmax - wmin <= 1);
    for (size_t c = 0; c < m->nc; c++)
        assert_int_equal(dispatch_class_total(d, c), ctotal[c]);
}

static void random_model(struct model *m)
{
    static const char *const pool[] = {"Zeta", "alpha", "Beta", "Gamma", "delta", "B2", "Aa", "C"};
    const char *names[8];
    memcpy(names, pool, sizeof names);
    for (size_t i = 7; i > 0; i--) {
        size_t j = rndn((unsigned)i + 1);
        const char *t = names[i];
        names[i] = names[j];
        names[j] = t;
    }
    m->nc = 1 + rndn(6);
    memcpy(m->name, names, m->nc * sizeof *names);
    qsort(m->name, m->nc, sizeof *m->name, cmp_cstr);
    bool usable = false;
    for (size_t c = 0; c < m->nc; c++) {
        static const double w[] = {0, 1, 1, 2, 3, 5, 6, 1.5, 2.4};
        m->weight[c] = w[rndn(N(w))];
        m->fixed[c] = rndn(5) == 0 ? 1 + rndn(6) : 0;
        usable |= m->weight[c] > 0 || m->fixed[c];
    }
    if (!usable)
        m->weight[0] = 1;
    m->nw = 0;
    size_t want = 1 + rndn(10);
    while (m->nw < want) {
        static const char *const hosts[] = {"ha", "hb", "hab", "h"};
        unsigned h = rndn(5);
        if (h < 4)
            snprintf(m->id[m->nw], sizeof m->id[0], "%s_%x", hosts[h], rndn(4096));
        else
            snprintf(m->id[m->nw], sizeof m->id[0], "%x", rndn(4096));
        bool dup = false;
        for (size_t i = 0; i < m->nw; i++)
            dup |= strcmp(m->id[i], m->id[m->nw]) == 0;
        if (!dup)
            m->nw++;
    }
    model_workers(m);
}

static double random_rate(void)
{
    static const double r[] = {0.5, 1, 2.4, 3, 4, 10.7, 100, 5000};
    return rndn(4) ? r[rndn(N(r))] : 0.1 + (double)rndn(50000) / 1000;
}

/* Adds or removes a random worker, updating the model. Adding re-sorts the workers;
 * removing keeps the order of the others, as Locust does. */
static void random_worker_change(dispatch *d, struct model *m)
{
    if (m->nw > 1 && rndn(2)) {
        size_t i = rndn((unsigned)m->nw), o = 0;
        del(d, m->id[i]);
        while (strcmp(m->order[o], m->id[i]) != 0)
            o++;
        memmove(m->order[o], m->order[o + 1], (m->nw - o - 1) * sizeof m->order[0]);
        memmove(m->id[i], m->id[i + 1], (m->nw - i - 1) * sizeof m->id[0]);
        m->nw--;
        return;
    }
    if (m->nw < 16) {
        snprintf(m->id[m->nw], sizeof m->id[0], "%s_%x", rndn(2) ? "ha" : "hz", 4096 + rndn(4096));
        for (size_t i = 0; i < m->nw; i++)
            if (strcmp(m->id[i], m->id[m->nw]) == 0)
                return;
        add(d, m->id[m->nw++]);
    }
    model_workers(m);
}

/* Ramps to target, possibly abandoning the ramp early (a mid-ramp edit), checking each
 * iteration: it moves toward the target by exactly one step (fewer only when no class can
 * take more users), waits step/rate between iterations and none after the last. */
static void random_ramp(dispatch *d, struct model *m, unsigned target)
{
    double rate = random_rate();
    double fstep = floor(rate) < 1 ? 1 : floor(rate);
    unsigned stepn = (unsigned)fstep, stop_after = rndn(3) ? UINT32_MAX : rndn(5);
    start(d, target, rate);
    for (unsigned it = 0; it < stop_after; it++) {
        unsigned before = dispatch_user_count(d);
        double delay;
        if (!dispatch_next(d, &delay)) {
            unsigned reach = target < m->nseq ? target : m->nseq;
            assert_int_equal(dispatch_user_count(d), reach);
            return;
        }
        unsigned now = dispatch_user_count(d), want;
        if (it == 0 && before == target)
            want = target;
        else if (before < target)
            want = before + stepn < target ? before + stepn : target;
        else
            want = before - target > stepn ? before - stepn : target;
        if (want > m->nseq)
            want = m->nseq > before ? m->nseq : before;
        assert_int_equal(now, want);
        check_model(d, m, now);
        assert_delay(delay, now == target ? 0 : fstep / rate);
        if (rndn(20) == 0) {
            random_worker_change(d, m);
            check_model(d, m, now);
        }
    }
}

static void test_random_invariants(void **state)
{
    (void)state;
    rng_state = 12345;
    struct model m = {0};
    for (int round = 0; round < 400; round++) {
        random_model(&m);
        model_sequence(&m, 3000);
        dispatch_class c[8];
        for (size_t i = 0; i < m.nc; i++)
            c[i] = (dispatch_class){m.name[m.nc - 1 - i], m.weight[m.nc - 1 - i],
                                    m.fixed[m.nc - 1 - i]};
        const char *ids[16];
        for (size_t i = 0; i < m.nw; i++)
            ids[i] = m.id[i];
        dispatch *d = mk(c, m.nc, ids, m.nw);
        for (size_t i = 0; i < m.nc; i++)
            assert_string_equal(dispatch_class_name(d, i), m.name[i]);
        /* Up through rising targets, then down through falling ones. */
        unsigned target = 0;
        for (unsigned k = 0, n = 1 + rndn(4); k < n; k++) {
            target += rndn(400);
            random_ramp(d, &m, target);
        }
        while (target > 0 && rndn(4)) {
            target = rndn(target);
            random_ramp(d, &m, target);
        }
        dispatch_free(d);
    }
    free(m.seq);
}

/* Locust's large-scale case: 100 000 users, 50 classes, 1000 workers, 5000 users/s. */
static void test_large_scale(void **state)
{
    (void)state;
    static const unsigned weights[50] = {
        5,  55, 37, 2,  97, 41, 33, 19, 19, 34, 78, 76, 28, 62, 69, 5,  55,
        37, 2,  97, 41, 33, 19, 19, 34, 78, 76, 28, 62, 69, 41, 33, 19, 19,
        34, 78, 76, 28, 62, 69, 41, 33, 19, 19, 34, 78, 76, 28, 62, 69};
    char names[50][16], ids[1000][16];
    dispatch_class c[50];
    const char *w[1000];
    for (int mode = 0; mode < 3; mode++) {
        for (int i = 0; i < 50; i++) {
            snprintf(names[i], sizeof names[i], "User%d", i);
            bool fixed = mode == 1 || (mode == 2 && i >= 25);
            c[i] = (dispatch_class){names[i], weights[i], fixed ? 2000 : 0};
        }
        for (int i = 0; i < 1000; i++) {
            snprintf(ids[i], sizeof ids[i], "%d", i);
            w[i] = ids[i];
        }
        dispatch *d = mk(c, 50, w, 1000);
        start(d, 100000, 5000);
        assert_int_equal(run(d), 20);
        assert_int_equal(dispatch_user_count(d), 100000);
        for (size_t i = 0; i < 1000; i++)
            assert_int_equal(dispatch_worker_total(d, i), 100);
        if (mode == 1)
            for (size_t i = 0; i < 50; i++)
                assert_int_equal(dispatch_class_total(d, i), 2000);
        start(d, 0, 5000);
        assert_int_equal(run(d), 20);
        assert_int_equal(dispatch_user_count(d), 0);
        dispatch_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smooth_weighted_sequences),
        cmocka_unit_test(test_hosts_fill_evenly),
        cmocka_unit_test(test_users_are_distributed_evenly_across_hosts),
        cmocka_unit_test(test_ramp_up_rate_0_5),
        cmocka_unit_test(test_ramp_up_rate_1),
        cmocka_unit_test(test_ramp_up_rate_4),
        cmocka_unit_test(test_ramp_up_rate_10_7),
        cmocka_unit_test(test_ramp_up_rate_greater_than_target),
        cmocka_unit_test(test_ramp_down_rate_0_5),
        cmocka_unit_test(test_ramp_down_rate_1_and_4),
        cmocka_unit_test(test_ramp_down_rate_10_7),
        cmocka_unit_test(test_wait_between_iterations),
        cmocka_unit_test(test_target_equal_to_current_yields_once),
        cmocka_unit_test(test_distribution_respected_during_ramp),
        cmocka_unit_test(test_edit_target_mid_ramp),
        cmocka_unit_test(test_ramp_up_then_down_is_symmetric),
        cmocka_unit_test(test_ramp_down_then_up_continues_round_robins),
        cmocka_unit_test(test_fixed_count_ramp_up),
        cmocka_unit_test(test_only_fixed_classes_end_ramp_early),
        cmocka_unit_test(test_fixed_partial_ramp_down_and_up),
        cmocka_unit_test(test_fixed_topped_up_first),
        cmocka_unit_test(test_fixed_full_after_ramp_down),
        cmocka_unit_test(test_fixed_ramp_up_down_up_restores_counts),
        cmocka_unit_test(test_weight_zero_never_gets_users),
        cmocka_unit_test(test_subset_each_dispatch),
        cmocka_unit_test(test_subset_one_kind_then_others),
        cmocka_unit_test(test_subset_multiple_workers),
        cmocka_unit_test(test_subset_ramp_down_is_lifo),
        cmocka_unit_test(test_remove_worker_during_ramp_up),
        cmocka_unit_test(test_remove_worker_between_ramps),
        cmocka_unit_test(test_remove_worker_during_ramp_down),
        cmocka_unit_test(test_remove_worker_with_fixed_class),
        cmocka_unit_test(test_remove_last_worker),
        cmocka_unit_test(test_remove_worker_keeps_order),
        cmocka_unit_test(test_add_worker_during_ramp_up),
        cmocka_unit_test(test_add_worker_between_ramps),
        cmocka_unit_test(test_add_worker_during_ramp_down),
        cmocka_unit_test(test_add_worker_with_fixed_class),
        cmocka_unit_test(test_rebalance_with_subset),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_worker_errors),
        cmocka_unit_test(test_ratio_counts),
        cmocka_unit_test(test_random_invariants),
        cmocka_unit_test(test_large_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
