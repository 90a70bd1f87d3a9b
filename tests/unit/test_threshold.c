/* Tests for engine/threshold.c: the expression syntax (every metric, operator, unit and
 * option, and each error with the offset it points at), the scenario's "thresholds" list
 * (strings and objects, errors at file:line:col, nothing added on error), evaluation of
 * each kind passing and failing, no samples as an error, names with several methods, the
 * abort check's delay and trip, descriptions and the JSON the dashboard reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "json.h"
#include "jsonck.h"
#include "scenario.h"
#include "stats.h"
#include "threshold.h"
#include "wire.h"

#define T0 1000000.0

/* ---- parsing -------------------------------------------------------------------------- */

static threshold parse_ok(const char *text)
{
    threshold t;
    char err[256] = "";
    size_t pos = 99;
    if (threshold_parse(text, &t, err, sizeof err, &pos) != 0)
        fail_msg("\"%s\" did not parse: %s (at %zu)", text, err, pos);
    return t;
}

static void assert_parse_error(const char *text, const char *want, size_t want_pos)
{
    threshold t;
    char err[256] = "";
    size_t pos = 999;
    if (threshold_parse(text, &t, err, sizeof err, &pos) == 0) {
        threshold_free(&t);
        fail_msg("\"%s\" parsed, expected: %s", text, want);
    }
    if (!strstr(err, want))
        fail_msg("\"%s\"\n  got:  %s\n  want: ...%s...", text, err, want);
    if (pos != want_pos)
        fail_msg("\"%s\": error at %zu, expected %zu (%s)", text, pos, want_pos, err);
}

static void test_parse_percentile(void **state)
{
    (void)state;
    threshold t = parse_ok("p95<500");
    assert_int_equal(t.metric, THRESHOLD_PERCENTILE);
    assert_true(t.pct == 0.95);
    assert_int_equal(t.op, THRESHOLD_LT);
    assert_true(t.limit == 500);
    assert_null(t.request);
    assert_false(t.abort_on_fail);
    assert_true(t.delay == THRESHOLD_DEFAULT_DELAY);
    assert_string_equal(t.text, "p95<500");
    threshold_free(&t);

    t = parse_ok("  p99.9 <= 1.5s  ");
    assert_true(t.pct > 0.9989 && t.pct < 0.9991);
    assert_int_equal(t.op, THRESHOLD_LE);
    assert_true(t.limit == 1500);
    assert_string_equal(t.text, "p99.9 <= 1.5s");
    threshold_free(&t);

    t = parse_ok("p(95)<200ms");
    assert_true(t.pct == 0.95);
    assert_true(t.limit == 200);
    threshold_free(&t);

    t = parse_ok("p100<1e3");
    assert_true(t.pct == 1.0);
    assert_true(t.limit == 1000);
    threshold_free(&t);

    t = parse_ok("avg>2");
    assert_int_equal(t.metric, THRESHOLD_AVG);
    assert_int_equal(t.op, THRESHOLD_GT);
    threshold_free(&t);

    t = parse_ok("max<=0.5");
    assert_int_equal(t.metric, THRESHOLD_MAX);
    assert_true(t.limit == 0.5);
    threshold_free(&t);
}

static void test_parse_request_names(void **state)
{
    (void)state;
    threshold t = parse_ok("GET /api/items:p99<800");
    assert_string_equal(t.request, "GET /api/items");
    assert_true(t.pct == 0.99);
    threshold_free(&t);

    /* the last colon separates: names may hold colons */
    t = parse_ok("http://h:8080/a?b=c:d : avg < 5");
    assert_string_equal(t.request, "http://h:8080/a?b=c:d");
    assert_int_equal(t.metric, THRESHOLD_AVG);
    threshold_free(&t);

    t = parse_ok("Login page:fail_ratio<=0");
    assert_string_equal(t.request, "Login page");
    threshold_free(&t);
}

static void test_parse_ratios_rates_and_options(void **state)
{
    (void)state;
    threshold t = parse_ok("fail_ratio<0.01");
    assert_int_equal(t.metric, THRESHOLD_FAIL_RATIO);
    assert_true(t.limit == 0.01);
    threshold_free(&t);

    t = parse_ok("fail_ratio<1%");
    assert_true(t.limit == 0.01);
    threshold_free(&t);

    t = parse_ok("rps>=100");
    assert_int_equal(t.metric, THRESHOLD_RPS);
    assert_int_equal(t.op, THRESHOLD_GE);
    assert_true(t.limit == 100);
    threshold_free(&t);

    t = parse_ok("checks>=99.5% abort");
    assert_int_equal(t.metric, THRESHOLD_CHECKS);
    assert_true(t.limit > 0.99499 && t.limit < 0.99501);
    assert_true(t.abort_on_fail);
    assert_true(t.delay == THRESHOLD_DEFAULT_DELAY);
    threshold_free(&t);

    t = parse_ok("p95<500 abort=30");
    assert_true(t.abort_on_fail);
    assert_true(t.delay == 30);
    threshold_free(&t);

    t = parse_ok("p95<500\tabort=1m30s");
    assert_true(t.delay == 90);
    threshold_free(&t);

    t = parse_ok("p95<500 abort=0.5");
    assert_true(t.delay == 0.5);
    threshold_free(&t);
}

static void test_parse_errors(void **state)
{
    (void)state;
    assert_parse_error("", "empty threshold", 0);
    assert_parse_error("   ", "empty threshold", 0);
    assert_parse_error("p95", "expected <, <=, > or >= after \"p95\"", 3);
    assert_parse_error("p95 = 500", "expected <, <=, > or >=", 4);
    assert_parse_error("p95<", "expected a number after the comparison", 4);
    assert_parse_error("p95< abc", "expected a number", 5);
    assert_parse_error("p95<-5", "expected a number", 4);
    assert_parse_error("latency<5", "unknown metric \"latency\": use pN", 0);
    assert_parse_error("<5", "expected a metric", 0);
    assert_parse_error("p0<5", "above p0 and at most p100", 0);
    assert_parse_error("p101<5", "above p0 and at most p100", 0);
    assert_parse_error("p(95<5", "unknown metric", 0);
    assert_parse_error("fail_ratio<2", "a ratio is at most 1", 11);
    assert_parse_error("fail_ratio<150%", "a ratio is at most 1", 11);
    assert_parse_error("fail_ratio<1ms", "unit \"ms\" does not fit", 12);
    assert_parse_error("rps>=5%", "unit \"%\" does not fit", 6);
    assert_parse_error("p95<500x", "unit \"x\" does not fit", 7);
    assert_parse_error(" :p95<5", "no request name before ':'", 1);
    assert_parse_error("GET /x:checks>=0.9", "checks is the pass rate of every check", 0);
    assert_parse_error("p95<500 abortt", "unknown option \"abortt\"", 8);
    assert_parse_error("p95<500 abort=soon", "abort delay \"soon\"", 14);
    assert_parse_error("p95<500 abort=-1", "abort delay", 14);
    assert_parse_error("p95<500 ms", "unknown option \"ms\"", 8);
}

/* ---- the scenario's list -------------------------------------------------------------- */

static char err[512];
static jck ck = {"s.json", err, sizeof err};

static json_value *parse_json(const char *text)
{
    json_error je;
    json_value *v = json_parse(text, strlen(text), 0, &je);
    if (!v)
        fail_msg("bad test input %s: %u:%u: %s", text, je.line, je.col, je.msg);
    err[0] = '\0';
    return v;
}

static void test_load_json(void **state)
{
    (void)state;
    json_value *v = parse_json("[\"p95<500\", {\"threshold\": \"GET /x:fail_ratio<1%\", "
                               "\"abort_on_fail\": true, \"abort_delay\": \"1m\", "
                               "\"description\": \"why\"},\n {\"threshold\": \"rps>=5 abort\", "
                               "\"abort_on_fail\": false}, {\"threshold\": \"max<1 abort\", "
                               "\"abort_delay\": 2.5}]");
    threshold_set set = {0};
    assert_int_equal(threshold_set_load_json(&set, &ck, v), 0);
    assert_int_equal(set.n, 4);
    assert_string_equal(set.v[0].text, "p95<500");
    assert_false(set.v[0].abort_on_fail);
    assert_string_equal(set.v[1].request, "GET /x");
    assert_true(set.v[1].abort_on_fail);
    assert_true(set.v[1].delay == 60);
    /* the object's key wins over the option in the string */
    assert_false(set.v[2].abort_on_fail);
    /* abort from the string, delay from the object */
    assert_true(set.v[3].abort_on_fail);
    assert_true(set.v[3].delay == 2.5);
    json_free(v);
    threshold_set_free(&set);
    assert_int_equal(set.n, 0);
}

static void assert_load_error(const char *text, const char *want)
{
    json_value *v = parse_json(text);
    threshold_set set = {0};
    threshold pre = parse_ok("p50<1");
    threshold_set_add(&set, &pre);
    threshold_free(&pre);
    assert_int_equal(threshold_set_load_json(&set, &ck, v), -1);
    if (strcmp(err, want) != 0)
        fail_msg("%s\n  got:  %s\n  want: %s", text, err, want);
    /* nothing added, what was there stays */
    assert_int_equal(set.n, 1);
    assert_string_equal(set.v[0].text, "p50<1");
    threshold_set_free(&set);
    json_free(v);
}

static void test_load_json_errors(void **state)
{
    (void)state;
    assert_load_error("{\"p95\": 5}",
                      "s.json:1:1: \"thresholds\" must be an array of thresholds, not an object");
    assert_load_error("[\"p95<5\", 5]",
                      "s.json:1:11: \"threshold\" must be a string such as \"p95<500\", not a "
                      "number");
    assert_load_error("[\"p95<5\",\n  \"p95 < abc\"]",
                      "s.json:2:10: threshold: expected a number after the comparison");
    assert_load_error("[{\"treshold\": \"p95<5\"}]",
                      "s.json:1:3: unknown key \"treshold\" in threshold (did you mean "
                      "\"threshold\"?)");
    assert_load_error("[{\"abort_on_fail\": true}]",
                      "s.json:1:2: a threshold object needs \"threshold\": "
                      "\"[REQUEST:]METRIC<VALUE\"");
    assert_load_error("[{\"threshold\": \"p95<5\", \"abort_on_fail\": 1}]",
                      "s.json:1:42: \"abort_on_fail\" must be true or false, not a number");
    assert_load_error("[{\"threshold\": \"p95<5\", \"abort_delay\": 5}]",
                      "s.json:1:40: \"abort_delay\" needs \"abort_on_fail\": true (or abort in "
                      "the threshold)");
    assert_load_error("[{\"threshold\": \"p95<5\", \"abort_on_fail\": true, "
                      "\"abort_delay\": \"later\"}]",
                      "s.json:1:63: \"abort_delay\" must be seconds (30) or a time span "
                      "(\"1m30s\")");
    assert_load_error("[{\"threshold\": \"p95<5\", \"abort_on_fail\": true, "
                      "\"abort_delay\": -1}]",
                      "s.json:1:63: \"abort_delay\" must be at least 0, not -1");
}

/* A -f list gathers every file's thresholds, in order; a bad one names its file. */
static void test_scenario_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/cicada-thr-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[64], b[64], list[160];
    snprintf(a, sizeof a, "%s/a.json", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    FILE *f = fopen(a, "w");
    fputs("{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]}],\n"
          " \"thresholds\": [\"p95<500\", \"rps>=1\"]}", f);
    fclose(f);
    f = fopen(b, "w");
    fputs("{\"users\": [{\"name\": \"B\", \"tasks\": [{\"request\": \"/y\"}]}],\n"
          " \"thresholds\": [{\"threshold\": \"checks>=0.9\", \"abort_on_fail\": true}]}", f);
    fclose(f);
    snprintf(list, sizeof list, "%s,%s", a, b);
    scenario_opts o = {0};
    char e[512];
    scenario *sc = scenario_load(list, &o, e, sizeof e);
    if (!sc)
        fail_msg("%s", e);
    assert_int_equal(sc->thresholds.n, 3);
    assert_string_equal(sc->thresholds.v[0].text, "p95<500");
    assert_string_equal(sc->thresholds.v[1].text, "rps>=1");
    assert_string_equal(sc->thresholds.v[2].text, "checks>=0.9");
    assert_true(sc->thresholds.v[2].abort_on_fail);
    scenario_free(sc);

    f = fopen(b, "w");
    fputs("{\"users\": [{\"name\": \"B\", \"tasks\": [{\"request\": \"/y\"}]}],\n"
          " \"thresholds\": [\"p95<500\", \"p95<5 abortt\"]}", f);
    fclose(f);
    assert_null(scenario_load(list, &o, e, sizeof e));
    char want[256];
    snprintf(want, sizeof want, "%s:2:35: threshold: unknown option \"abortt\" (the option "
             "is abort or abort=DELAY)", b);
    assert_string_equal(e, want);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

/* ---- evaluation ----------------------------------------------------------------------- */

typedef struct fixture {
    stats *s;
    threshold_set set;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->s = stats_new(100, false, T0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    threshold_set_free(&f->set);
    stats_free(f->s);
    free(f);
    return 0;
}

/* Adds a threshold; returns its index (the set's array moves as it grows). */
static size_t add(fixture *f, const char *text)
{
    char e[256];
    size_t pos;
    if (threshold_set_parse(&f->set, text, e, sizeof e, &pos))
        fail_msg("%s: %s", text, e);
    return f->set.n - 1;
}

#define TH(i) (&f->set.v[i])

/* GET /a: 90 x 10 ms and 10 x 100 ms; POST /a: 10 x 1000 ms, 5 failed; GET /b: 4
 * requests, 1 failed. All between T0 and T0 + 10 s, so 124 requests in 10 s. */
static void fill(fixture *f)
{
    stats *s = f->s;
    stats_entry *ga = stats_entry_get(s, "GET", "/a", T0);
    stats_entry *pa = stats_entry_get(s, "POST", "/a", T0);
    stats_entry *gb = stats_entry_get(s, "GET", "/b", T0);
    for (int i = 0; i < 100; i++)
        stats_log(s, ga, T0 + 1, i < 90 ? 10000 : 100000, 10, NULL);
    for (int i = 0; i < 10; i++)
        stats_log(s, pa, T0 + 2, 1000000, 10, i < 5 ? "HTTPError('500')" : NULL);
    for (int i = 0; i < 4; i++)
        stats_log(s, gb, i == 3 ? T0 + 10 : T0 + 3, 5000, 10, i == 0 ? "boom" : NULL);
}

static void assert_status(const threshold *t, enum threshold_status want)
{
    if (!t->evaluated || t->status != want) {
        sbuf b = SBUF_INIT;
        threshold_describe(t, &b);
        fail_msg("%s: %s, expected %s (%s)", t->text,
                 t->evaluated ? threshold_status_name(t->status) : "not evaluated",
                 threshold_status_name(want), sbuf_str(&b));
    }
}

static void test_eval_percentiles(void **state)
{
    fixture *f = *state;
    fill(f);
    size_t a = add(f, "GET /a:p95<200");
    size_t b = add(f, "GET /a:p95<50");
    size_t c = add(f, "GET /a:p50<=11");
    size_t d = add(f, "GET /a:p100>=99");
    /* the bare name takes both methods: 110 samples, the slowest 10 are POST's 1 s */
    size_t e = add(f, "/a:p95>500");
    size_t g = add(f, "/a:p90<=100");
    size_t h = add(f, "p99.9<2s");
    assert_int_equal(threshold_eval(&f->set, f->s), 1);
    assert_status(TH(a), THRESHOLD_PASSED);
    assert_true(TH(a)->value >= 99 && TH(a)->value <= 100);
    assert_status(TH(b), THRESHOLD_FAILED);
    assert_status(TH(c), THRESHOLD_PASSED);
    assert_status(TH(d), THRESHOLD_PASSED);
    /* a bucket's midpoint, within 1/128 of 100 ms */
    assert_true(TH(d)->value > 99 && TH(d)->value <= 100);
    assert_status(TH(e), THRESHOLD_PASSED);
    /* clamped to the exact maximum */
    assert_true(TH(e)->value == 1000);
    assert_status(TH(g), THRESHOLD_PASSED);
    assert_status(TH(h), THRESHOLD_PASSED);
    assert_int_equal(threshold_failed_count(&f->set), 1);
}

static void test_eval_avg_max(void **state)
{
    fixture *f = *state;
    fill(f);
    size_t a = add(f, "GET /a:avg<20");
    size_t b = add(f, "GET /a:avg<18");
    size_t c = add(f, "max<1s");
    size_t d = add(f, "max<=1s");
    size_t e = add(f, "GET /a:max<0.2s");
    threshold_eval(&f->set, f->s);
    assert_status(TH(a), THRESHOLD_PASSED);
    assert_true(TH(a)->value == 19);
    assert_status(TH(b), THRESHOLD_FAILED);
    assert_status(TH(c), THRESHOLD_FAILED);
    assert_true(TH(c)->value == 1000);
    assert_status(TH(d), THRESHOLD_PASSED);
    assert_status(TH(e), THRESHOLD_PASSED);
}

static void test_eval_fail_ratio(void **state)
{
    fixture *f = *state;
    fill(f);
    size_t a = add(f, "GET /b:fail_ratio<=25%");
    size_t b = add(f, "GET /b:fail_ratio<0.25");
    size_t c = add(f, "/a:fail_ratio<0.05");      /* 5 of 110 */
    size_t d = add(f, "fail_ratio<0.05");         /* 6 of 114 */
    size_t e = add(f, "GET /a:fail_ratio<=0");
    threshold_eval(&f->set, f->s);
    assert_status(TH(a), THRESHOLD_PASSED);
    assert_true(TH(a)->value == 0.25);
    assert_status(TH(b), THRESHOLD_FAILED);
    assert_status(TH(c), THRESHOLD_PASSED);
    assert_status(TH(d), THRESHOLD_FAILED);
    assert_true(TH(d)->value == 6.0 / 114);
    assert_status(TH(e), THRESHOLD_PASSED);
}

static void test_eval_rps(void **state)
{
    fixture *f = *state;
    fill(f);
    size_t a = add(f, "rps>=11.4");    /* 114 requests in 10 s */
    size_t b = add(f, "rps>=12");
    size_t c = add(f, "GET /a:rps>=10");
    size_t d = add(f, "/a:rps>11");    /* 110 in 10 s */
    size_t e = add(f, "/a:rps<=11");
    threshold_eval(&f->set, f->s);
    assert_status(TH(a), THRESHOLD_PASSED);
    assert_true(TH(a)->value > 11.39 && TH(a)->value < 11.41);
    assert_status(TH(b), THRESHOLD_FAILED);
    assert_status(TH(c), THRESHOLD_PASSED);
    assert_status(TH(d), THRESHOLD_FAILED);
    assert_status(TH(e), THRESHOLD_PASSED);
}

static void test_eval_checks(void **state)
{
    fixture *f = *state;
    size_t a = add(f, "checks>=0.95");
    size_t b = add(f, "checks>=99%");
    stats_log_checks(f->s, 60, 2);
    stats_log_checks(f->s, 40, 1);
    assert_int_equal(threshold_eval(&f->set, f->s), 1);
    assert_status(TH(a), THRESHOLD_PASSED);
    assert_true(TH(a)->value == 0.97);
    assert_status(TH(b), THRESHOLD_FAILED);
    sbuf s = SBUF_INIT;
    threshold_describe(TH(b), &s);
    assert_string_equal(sbuf_str(&s), "checks held: 97%, limit >= 99%");
    sbuf_free(&s);
    /* a reset forgets the checks: no samples again */
    stats_reset(f->s, T0 + 1, true);
    threshold_eval(&f->set, f->s);
    assert_status(TH(a), THRESHOLD_ERROR);
}

static void test_eval_no_samples(void **state)
{
    fixture *f = *state;
    const char *texts[] = {"p95<500", "avg<1", "max<1", "fail_ratio<1", "rps>=0",
                           "checks>=0", "GET /nope:p50<1"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add(f, texts[i]);
    /* empty stats: every one is an error, which counts as not passed */
    assert_int_equal(threshold_eval(&f->set, f->s), f->set.n);
    for (size_t i = 0; i < f->set.n; i++)
        assert_status(&f->set.v[i], THRESHOLD_ERROR);
    sbuf b = SBUF_INIT;
    threshold_describe(&f->set.v[0], &b);
    assert_string_equal(sbuf_str(&b), "no samples: no requests");

    fill(f);
    /* p95 is POST's 1 s */
    assert_int_equal(threshold_eval(&f->set, f->s), 5);
    enum threshold_status want[] = {THRESHOLD_FAILED, THRESHOLD_FAILED, THRESHOLD_FAILED,
                                    THRESHOLD_PASSED, THRESHOLD_PASSED, THRESHOLD_ERROR,
                                    THRESHOLD_ERROR};
    for (size_t i = 0; i < f->set.n; i++)
        assert_status(&f->set.v[i], want[i]);
    sbuf_reset(&b);
    threshold_describe(&f->set.v[5], &b);
    assert_string_equal(sbuf_str(&b), "no samples: no check ran");
    sbuf_reset(&b);
    threshold_describe(&f->set.v[6], &b);
    assert_string_equal(sbuf_str(&b), "no samples: no request named \"GET /nope\"");
    sbuf_free(&b);
}

static void test_abort_check(void **state)
{
    fixture *f = *state;
    size_t a = add(f, "fail_ratio<0.01 abort=5");
    size_t b = add(f, "GET /nope:p95<1 abort=0");    /* no samples: never trips */
    size_t c = add(f, "fail_ratio<0.01");               /* not marked abort */
    fill(f);
    assert_null(threshold_check_abort(&f->set, f->s, T0 + 4));
    assert_false(TH(a)->evaluated);
    assert_true(TH(b)->evaluated);
    assert_int_equal(TH(b)->status, THRESHOLD_ERROR);
    assert_false(TH(c)->evaluated);
    assert_ptr_equal(threshold_check_abort(&f->set, f->s, T0 + 5), TH(a));
    assert_true(TH(a)->tripped);
    double value = TH(a)->value;
    /* a trip is final: the value it failed with stays, even if the ratio recovers */
    stats_entry *ok = stats_entry_get(f->s, "GET", "/ok", T0);
    for (int i = 0; i < 10000; i++)
        stats_log(f->s, ok, T0 + 6, 1000, 0, NULL);
    assert_null(threshold_check_abort(&f->set, f->s, T0 + 7));
    threshold_eval(&f->set, f->s);
    assert_int_equal(TH(a)->status, THRESHOLD_FAILED);
    assert_true(TH(a)->value == value);
    assert_int_equal(TH(c)->status, THRESHOLD_PASSED);
    sbuf s = SBUF_INIT;
    threshold_describe(TH(a), &s);
    assert_non_null(strstr(sbuf_str(&s), "(ended the test)"));
    sbuf_free(&s);
    /* a new test forgets */
    threshold_set_restart(&f->set);
    assert_false(TH(a)->tripped);
    assert_false(TH(a)->evaluated);
    threshold_eval(&f->set, f->s);
    assert_int_equal(TH(a)->status, THRESHOLD_PASSED);
}

static void test_describe(void **state)
{
    fixture *f = *state;
    fill(f);
    size_t a = add(f, "GET /a:p95<50");
    add(f, "GET /b:fail_ratio<1%");
    add(f, "rps>=100");
    size_t d = add(f, "avg<2s");
    sbuf s = SBUF_INIT;
    threshold_describe(TH(a), &s);
    assert_string_equal(sbuf_str(&s), "p95 of GET /a: not measured yet, limit < 50 ms");
    threshold_eval(&f->set, f->s);
    const char *want[] = {
        NULL,
        "fail_ratio of GET /b: 25%, limit < 1%",
        "rps of all requests: 11.4 req/s, limit >= 100 req/s",
        NULL,
    };
    for (int i = 0; i < 4; i++) {
        sbuf_reset(&s);
        threshold_describe(&f->set.v[i], &s);
        if (want[i])
            assert_string_equal(sbuf_str(&s), want[i]);
    }
    sbuf_reset(&s);
    threshold_describe(TH(d), &s);
    assert_non_null(strstr(sbuf_str(&s), "avg of all requests: "));
    assert_non_null(strstr(sbuf_str(&s), " ms, limit < 2000 ms"));
    sbuf_free(&s);
}

static void test_write_json(void **state)
{
    fixture *f = *state;
    fill(f);
    add(f, "GET /b:fail_ratio<1% abort");
    add(f, "p99.9<2s");
    add(f, "checks>=0.9");
    sbuf b = SBUF_INIT;
    json_writer w;
    json_writer_init(&w, &b);
    threshold_write_json(&f->set, &w);
    json_value *before = parse_json(sbuf_str(&b));
    assert_int_equal(before->arr.count, 3);
    assert_int_equal(json_get(&before->arr.items[0], "status")->type, JSON_NULL);
    json_free(before);

    threshold_eval(&f->set, f->s);
    sbuf_reset(&b);
    json_writer_init(&w, &b);
    threshold_write_json(&f->set, &w);
    json_value *v = parse_json(sbuf_str(&b));
    const json_value *t0 = &v->arr.items[0], *t1 = &v->arr.items[1], *t2 = &v->arr.items[2];
    assert_string_equal(json_get(t0, "threshold")->str.s, "GET /b:fail_ratio<1% abort");
    assert_string_equal(json_get(t0, "request")->str.s, "GET /b");
    assert_string_equal(json_get(t0, "metric")->str.s, "fail_ratio");
    assert_string_equal(json_get(t0, "op")->str.s, "<");
    assert_true(json_get(t0, "limit")->num.d == 0.01);
    assert_string_equal(json_get(t0, "unit")->str.s, "ratio");
    assert_int_equal(json_get(t0, "abort_on_fail")->type, JSON_TRUE);
    assert_int_equal(json_get(t0, "aborted")->type, JSON_FALSE);
    assert_string_equal(json_get(t0, "status")->str.s, "failed");
    assert_true(json_get(t0, "value")->num.d == 0.25);
    assert_string_equal(json_get(t0, "text")->str.s, "fail_ratio of GET /b: 25%, limit < 1%");
    assert_int_equal(json_get(t1, "request")->type, JSON_NULL);
    assert_string_equal(json_get(t1, "metric")->str.s, "p99.9");
    assert_true(json_get(t1, "limit")->num.d == 2000);
    assert_string_equal(json_get(t1, "unit")->str.s, "ms");
    assert_string_equal(json_get(t1, "status")->str.s, "passed");
    assert_string_equal(json_get(t2, "status")->str.s, "error");
    assert_int_equal(json_get(t2, "value")->type, JSON_NULL);
    assert_string_equal(json_get(t2, "text")->str.s, "no samples: no check ran");
    json_free(v);
    sbuf_free(&b);
}

/* A master's check pass rate: each worker's report carries its check counts (deltas), and
 * the master adds them up. */
static void test_checks_over_reports(void **state)
{
    fixture *f = *state;
    size_t a = add(f, "checks>=0.9");
    stats *w1 = stats_new(100, false, T0), *w2 = stats_new(100, false, T0);
    stats_log_checks(w1, 50, 0);
    stats_log_checks(w2, 50, 10);
    stats *workers[] = {w1, w2};
    for (int i = 0; i < 2; i++) {
        sbuf b = SBUF_INIT;
        json_writer w;
        wire_begin(&w, &b, WIRE_STATS);
        wire_put_stats(&w, workers[i]);
        wire_end(&w);
        wire_msg m;
        char e[256];
        assert_int_equal(wire_parse(b.s, b.len, &m, e, sizeof e), 0);
        assert_int_equal(wire_merge_stats(f->s, m.data, "w", T0, e, sizeof e), 0);
        wire_msg_free(&m);
        sbuf_free(&b);
    }
    uint64_t run, failed;
    stats_checks(f->s, &run, &failed);
    assert_int_equal(run, 100);
    assert_int_equal(failed, 10);
    threshold_eval(&f->set, f->s);
    assert_status(TH(a), THRESHOLD_PASSED);
    assert_true(TH(a)->value == 0.9);
    /* a malformed count changes nothing */
    const char *bad[] = {"{\"entries\": [], \"errors\": [], \"exceptions\": [], "
                         "\"checks\": [1, 2]}",
                         "{\"entries\": [], \"errors\": [], \"exceptions\": [], "
                         "\"checks\": [1]}"};
    for (int i = 0; i < 2; i++) {
        json_value *v = parse_json(bad[i]);
        char e[256];
        assert_int_equal(wire_merge_stats(f->s, v, "w", T0, e, sizeof e), -1);
        json_free(v);
    }
    stats_checks(f->s, &run, &failed);
    assert_int_equal(run, 100);
    stats_free(w1);
    stats_free(w2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_percentile),
        cmocka_unit_test(test_parse_request_names),
        cmocka_unit_test(test_parse_ratios_rates_and_options),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_load_json),
        cmocka_unit_test(test_load_json_errors),
        cmocka_unit_test(test_scenario_files),
        cmocka_unit_test_setup_teardown(test_eval_percentiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_avg_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_fail_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_rps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_no_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks_over_reports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
