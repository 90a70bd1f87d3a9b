/* Tests for the CI outputs: server/junit.c (a test case per threshold, the failures case,
 * escaping of markup, control characters and invalid UTF-8, writing and the path check)
 * and server/summary.c (--json: Locust's entry fields, its rounded response-time keys and
 * Python's indent=4 layout). */
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
#include "junit.h"
#include "stats.h"
#include "summary.h"
#include "threshold.h"

#define T0 1795000000.0

static void add(threshold_set *set, const char *text)
{
    char e[256];
    size_t pos;
    if (threshold_set_parse(set, text, e, sizeof e, &pos))
        fail_msg("%s: %s", text, e);
}

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("missing: %s\n--- in ---\n%s", want, text);
}

static void test_junit_cases(void **state)
{
    (void)state;
    stats *s = stats_new(100, false, T0);
    stats_entry *e = stats_entry_get(s, "GET", "/a<b>", T0);
    for (int i = 0; i < 10; i++)
        stats_log(s, e, T0 + 1, 2000, 0, i ? NULL : "HTTPError('500 \"x\" & \x01')");
    threshold_set set = {0};
    add(&set, "p95<500");
    add(&set, "fail_ratio<1%");
    add(&set, "checks>=0.9");
    threshold_eval(&set, s);
    junit_input in = {.thresholds = &set, .stats = s, .failures_case = true,
                      .suite = "demo.json", .start = T0, .duration = 12.5};
    sbuf b = SBUF_INIT;
    junit_render(&b, &in);
    const char *x = sbuf_str(&b);
    assert_has(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    assert_has(x, "<testsuites name=\"cicada\" tests=\"4\" failures=\"3\" errors=\"0\" "
                  "time=\"12.500\">");
    assert_has(x, "<testsuite name=\"demo.json\" tests=\"4\" failures=\"3\" errors=\"0\" "
                  "skipped=\"0\" time=\"12.500\" timestamp=\"2026-11-18T");
    assert_has(x, "<testcase classname=\"cicada.thresholds\" name=\"p95&lt;500\" "
                  "time=\"12.500\"/>");
    assert_has(x, "<testcase classname=\"cicada.thresholds\" name=\"fail_ratio&lt;1%\" "
                  "time=\"12.500\">\n      <failure type=\"threshold\" message=\"fail_ratio of "
                  "all requests: 10%, limit &lt; 1%\">");
    assert_has(x, "<failure type=\"no samples\" message=\"no samples: no check ran\">");
    assert_has(x, "<testcase classname=\"cicada.requests\" name=\"no request failures\"");
    assert_has(x, "<failure type=\"failures\" message=\"1 failed requests of 10, 0 "
                  "exceptions\">1 x GET /a&lt;b&gt;: HTTPError(&apos;500 &quot;x&quot; &amp; "
                  "?&apos;)&#10;</failure>");
    assert_has(x, "</testsuite>\n</testsuites>\n");

    /* without the failures case (--exit-code-on-error 0), nor thresholds */
    threshold_set none = {0};
    junit_input in2 = {.thresholds = &none, .stats = s, .suite = "d\xff.json"};
    sbuf_reset(&b);
    junit_render(&b, &in2);
    assert_has(sbuf_str(&b), "tests=\"0\" failures=\"0\"");
    assert_has(sbuf_str(&b), "<testsuite name=\"d\xef\xbf\xbd.json\"");
    assert_null(strstr(sbuf_str(&b), "<testcase"));
    sbuf_free(&b);
    threshold_set_free(&set);
    stats_free(s);
}

static void test_junit_passing_failures_case(void **state)
{
    (void)state;
    stats *s = stats_new(100, false, T0);
    stats_log(s, stats_entry_get(s, "GET", "/", T0), T0, 1000, 0, NULL);
    threshold_set set = {0};
    junit_input in = {.thresholds = &set, .stats = s, .failures_case = true};
    sbuf b = SBUF_INIT;
    junit_render(&b, &in);
    assert_has(sbuf_str(&b), "tests=\"1\" failures=\"0\"");
    assert_has(sbuf_str(&b), "name=\"no request failures\" time=\"0.000\"/>");
    sbuf_free(&b);
    stats_free(s);
}

static void test_junit_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/cicada-junit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/out.xml", dir);
    /* the check leaves no file behind */
    assert_int_equal(junit_check_path(path, err, sizeof err), 0);
    assert_int_equal(access(path, F_OK), -1);
    stats *s = stats_new(100, false, T0);
    threshold_set set = {0};
    junit_input in = {.thresholds = &set, .stats = s};
    assert_int_equal(junit_write(path, &in, err, sizeof err), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char head[40] = "";
    assert_non_null(fgets(head, sizeof head, f));
    fclose(f);
    assert_string_equal(head, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    unlink(path);
    snprintf(path, sizeof path, "%s/missing/out.xml", dir);
    assert_int_equal(junit_check_path(path, err, sizeof err), -1);
    char want[300];
    snprintf(want, sizeof want, "--junit %s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_int_equal(junit_write(path, &in, err, sizeof err), -1);
    assert_string_equal(err, want);
    rmdir(dir);
    stats_free(s);
}

/* ---- --json --------------------------------------------------------------------------- */

static void test_summary_indent(void **state)
{
    (void)state;
    const char *in = "[{\"a\":1,\"b\":[],\"c\":{},\"d\":\"x,:{[\\\"]\",\"e\":[1,2]}]";
    sbuf b = SBUF_INIT;
    summary_indent(&b, in, strlen(in));
    assert_string_equal(sbuf_str(&b),
                        "[\n"
                        "    {\n"
                        "        \"a\": 1,\n"
                        "        \"b\": [],\n"
                        "        \"c\": {},\n"
                        "        \"d\": \"x,:{[\\\"]\",\n"
                        "        \"e\": [\n"
                        "            1,\n"
                        "            2\n"
                        "        ]\n"
                        "    }\n"
                        "]");
    sbuf_reset(&b);
    summary_indent(&b, "[]", 2);
    assert_string_equal(sbuf_str(&b), "[]");
    sbuf_free(&b);
}

static void test_summary_json(void **state)
{
    (void)state;
    stats *s = stats_new(100, false, T0);
    stats_entry *a = stats_entry_get(s, "GET", "/a", T0);
    stats_entry *b = stats_entry_get(s, "POST", "/b", T0);
    stats_entry_get(s, "GET", "/unused", T0);
    stats_log(s, a, T0 + 1, 4400, 10, NULL);      /* 4.4 ms -> bucket 4 */
    stats_log(s, a, T0 + 1, 4600, 10, NULL);      /* 4.6 ms -> 5 */
    stats_log(s, a, T0 + 2, 147000, 10, "x");     /* 147 ms -> 150 */
    stats_log(s, a, T0 + 2, 3432000, 10, NULL);   /* 3.432 s -> 3400 */
    stats_log(s, b, T0 + 3, -1, 0, NULL);         /* no response time */
    sbuf out = SBUF_INIT;
    summary_json(&out, s);
    assert_int_equal(out.s[out.len - 1], '\n');
    assert_has(sbuf_str(&out), "[\n    {\n        \"name\": \"/a\",\n        \"method\": \"GET\",\n");
    json_error je;
    json_value *v = json_parse(out.s, out.len, 0, &je);
    assert_non_null(v);
    assert_int_equal(v->type, JSON_ARRAY);
    assert_int_equal(v->arr.count, 2);   /* no entry without requests, no Aggregated */
    const json_value *e = &v->arr.items[0];
    const char *keys[] = {"name", "method", "last_request_timestamp", "start_time",
                          "num_requests", "num_none_requests", "num_failures",
                          "total_response_time", "max_response_time", "min_response_time",
                          "total_content_length", "response_times", "num_reqs_per_sec",
                          "num_fail_per_sec"};
    assert_int_equal(e->obj.count, sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_string_equal(e->obj.members[i].key, keys[i]);
    assert_int_equal(json_get(e, "num_requests")->num.i, 4);
    assert_int_equal(json_get(e, "num_failures")->num.i, 1);
    assert_true(json_get(e, "total_response_time")->num.d == 3588.0);
    assert_true(json_get(e, "min_response_time")->num.d == 4.4);
    assert_true(json_get(e, "max_response_time")->num.d == 3432.0);
    assert_true(json_get(e, "last_request_timestamp")->num.d == T0 + 2);
    const json_value *rt = json_get(e, "response_times");
    assert_int_equal(rt->obj.count, 4);
    assert_int_equal(json_get(rt, "4")->num.i, 1);
    assert_int_equal(json_get(rt, "5")->num.i, 1);
    assert_int_equal(json_get(rt, "150")->num.i, 1);
    assert_int_equal(json_get(rt, "3400")->num.i, 1);
    char k1[16], k2[16];
    snprintf(k1, sizeof k1, "%.0f", T0 + 1);
    snprintf(k2, sizeof k2, "%.0f", T0 + 2);
    assert_int_equal(json_get(json_get(e, "num_reqs_per_sec"), k1)->num.i, 2);
    assert_int_equal(json_get(json_get(e, "num_reqs_per_sec"), k2)->num.i, 2);
    assert_int_equal(json_get(e, "num_fail_per_sec")->obj.count, 1);
    const json_value *p = &v->arr.items[1];
    assert_string_equal(json_get(p, "name")->str.s, "/b");
    assert_int_equal(json_get(p, "num_none_requests")->num.i, 1);
    assert_int_equal(json_get(p, "min_response_time")->type, JSON_NULL);
    assert_int_equal(json_get(p, "response_times")->obj.count, 0);
    json_free(v);
    sbuf_free(&out);
    stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junit_cases),
        cmocka_unit_test(test_junit_passing_failures_case),
        cmocka_unit_test(test_junit_files),
        cmocka_unit_test(test_summary_indent),
        cmocka_unit_test(test_summary_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
