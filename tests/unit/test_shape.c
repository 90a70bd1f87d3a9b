/* Tests for engine/shape.c: --stages parsing (every malformed form is refused, empty
 * fields included), the scenario's "stages" and "arrival_rate" with their error
 * positions, which stage runs when, and the arrival integral and rate of constant and
 * ramping rates (the open model starts iterations from them, so an error here is a wrong
 * request rate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "jsonck.h"
#include "shape.h"

static char err[512];
static json_value *doc;

static const json_value *parse(const char *text)
{
    json_error je;
    json_free(doc);
    doc = json_parse(text, strlen(text), 0, &je);
    if (!doc)
        fail_msg("bad test JSON: %s", je.msg);
    return doc;
}

static bool only_ab(const char *name, void *data)
{
    (void)data;
    return !strcmp(name, "A") || !strcmp(name, "B");
}

static int from_json(const char *text, shape *out)
{
    jck c = {.path = "s.json", .err = err, .errlen = sizeof err};
    err[0] = '\0';
    return shape_from_json(&c, parse(text), only_ab, NULL, out);
}

static int arrival_json(const char *text, arrival *out)
{
    jck c = {.path = "s.json", .err = err, .errlen = sizeof err};
    err[0] = '\0';
    return arrival_from_json(&c, parse(text), out);
}

static void test_parse_stages(void **state)
{
    (void)state;
    shape s;
    assert_int_equal(shape_parse("30s:10:5,1m30s:50:2.5:A+B,10:0:10", &s, err, sizeof err), 0);
    assert_int_equal(s.n, 3);
    assert_true(s.stages[0].duration == 30 && s.stages[0].users == 10 &&
                s.stages[0].spawn_rate == 5 && s.stages[0].nclasses == 0);
    assert_true(s.stages[1].duration == 90 && s.stages[1].users == 50 &&
                s.stages[1].spawn_rate == 2.5);
    assert_int_equal(s.stages[1].nclasses, 2);
    assert_string_equal(s.stages[1].classes[0], "A");
    assert_string_equal(s.stages[1].classes[1], "B");
    assert_true(s.stages[2].duration == 10 && s.stages[2].users == 0);
    assert_true(s.total == 130);
    shape copy;
    shape_copy(&copy, &s);
    shape_free(&s);
    /* the copy owns its class names */
    assert_string_equal(copy.stages[1].classes[1], "B");
    shape_free(&copy);
}

static void test_parse_stage_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int stage;
    } bad[] = {
        {"", 1},          {"2s", 1},        {"2s:4", 1},         {"2s:x:1", 1},
        {"2s:4:0", 1},    {"2s:-1:1", 1},   {"0s:4:1", 1},       {"soon:4:1", 1},
        {"2s::4:1", 1},   {"2s:4:1:", 1},   {"2s:4:1:A+", 1},    {"2s:4:1:+A", 1},
        {"2s:4:1::A", 1}, {"2s:4:1:A:B", 1}, {"2s:4:1,", 2},      {"2s:4:1,,3s:1:1", 2},
        {"2s:4:1,3s", 2}, {"2s:4:nan", 1},  {"2s:4:inf", 1},     {"2s:4:1e400", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shape s;
        err[0] = '\0';
        if (shape_parse(bad[i].text, &s, err, sizeof err) != -1)
            fail_msg("\"%s\" was accepted", bad[i].text);
        char want[64];
        snprintf(want, sizeof want, "--stages: stage %d must be ", bad[i].stage);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("\"%s\": %s", bad[i].text, err);
        assert_int_equal(s.n, 0);
        assert_null(s.stages);
    }
}

static void test_stages_from_json(void **state)
{
    (void)state;
    shape s;
    assert_int_equal(from_json("[{\"duration\": \"1m\", \"users\": 10, \"spawn_rate\": 2},"
                               " {\"duration\": 30, \"users\": 4, \"classes\": [\"B\"],"
                               "  \"description\": \"only B\"}]", &s), 0);
    assert_int_equal(s.n, 2);
    assert_true(s.stages[0].duration == 60 && s.stages[0].spawn_rate == 2);
    /* no spawn_rate: the users come at once */
    assert_true(s.stages[1].spawn_rate == 4 && s.stages[1].nclasses == 1);
    assert_true(s.total == 90);
    shape_free(&s);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"[]", "s.json:1:1: \"stages\" must be a non-empty list of stages"},
        {"{}", "s.json:1:1: \"stages\" must be a non-empty list of stages"},
        {"[{\"users\": 1}]", "s.json:1:2: a stage needs \"duration\""},
        {"[{\"duration\": 1}]", "s.json:1:2: a stage needs \"users\""},
        {"[{\"duration\": 0, \"users\": 1}]", "s.json:1:15: "},
        {"[{\"duration\": \"1m30\", \"users\": 1}]", "s.json:1:15: \"duration\" must be"},
        {"[{\"duration\": 1, \"users\": -1}]", "s.json:1:27: \"users\" must be between 0"},
        {"[{\"duration\": 1, \"users\": 1, \"spawn_rate\": 0}]", "s.json:1:44: "},
        {"[{\"duration\": 1, \"users\": 1, \"classes\": [\"C\"]}]",
         "s.json:1:42: no user class \"C\""},
        {"[{\"duration\": 1, \"users\": 1, \"clases\": [\"A\"]}]", "s.json:1:30: unknown key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (from_json(bad[i].text, &s) != -1)
            fail_msg("%s was accepted", bad[i].text);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("%s: got \"%s\", want \"%s...\"", bad[i].text, err, bad[i].msg);
        assert_null(s.stages);
    }
}

static void test_stage_at(void **state)
{
    (void)state;
    shape s;
    assert_int_equal(shape_parse("2s:1:1,3s:2:1", &s, err, sizeof err), 0);
    assert_int_equal(shape_stage_at(&s, 0), 0);
    assert_int_equal(shape_stage_at(&s, 1.999), 0);
    assert_int_equal(shape_stage_at(&s, 2), 1);
    assert_int_equal(shape_stage_at(&s, 4.9), 1);
    assert_int_equal(shape_stage_at(&s, 5), -1);
    shape_free(&s);
}

static void test_constant_rate(void **state)
{
    (void)state;
    arrival a;
    assert_int_equal(arrival_json("{\"rate\": 50, \"max_users\": 20}", &a), 0);
    assert_true(a.on && a.start_rate == 50 && a.max_users == 20 && a.stages.n == 0);
    assert_true(arrival_due(&a, 0) == 0 && arrival_due(&a, -1) == 0);
    assert_true(arrival_due(&a, 2) == 100);
    assert_true(arrival_rate_at(&a, 1e6) == 50);
    assert_true(arrival_length(&a) == 0);  /* no end of its own */
    arrival_free(&a);
}

static void test_ramping_rate(void **state)
{
    (void)state;
    arrival a;
    /* 10 -> 30 over 2 s, hold 30 for 1 s, 30 -> 0 over 2 s */
    assert_int_equal(arrival_json("{\"start_rate\": 10, \"stages\": [{\"duration\": 2, \"rate\": 30},"
                                  " {\"duration\": 1, \"rate\": 30}, {\"duration\": \"2s\", "
                                  "\"rate\": 0}]}", &a), 0);
    assert_true(arrival_length(&a) == 5);
    assert_true(arrival_rate_at(&a, 0) == 10);
    assert_true(arrival_rate_at(&a, 1) == 20);
    assert_true(arrival_rate_at(&a, 2.5) == 30);
    assert_true(arrival_rate_at(&a, 4) == 15);
    assert_true(arrival_rate_at(&a, 5) == 0);
    /* the integral: trapezoids 40 + 30 + 30 */
    assert_true(arrival_due(&a, 1) == 15);
    assert_true(arrival_due(&a, 2) == 40);
    assert_true(arrival_due(&a, 3) == 70);
    assert_true(arrival_due(&a, 4) == 92.5);
    assert_true(arrival_due(&a, 5) == 100);
    assert_true(arrival_due(&a, 60) == 100);
    arrival_free(&a);
}

static void test_arrival_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{}", "s.json:1:1: \"arrival_rate\" takes \"rate\" (constant) or \"stages\""},
        {"{\"rate\": 1, \"stages\": []}", "s.json:1:1: \"arrival_rate\" takes"},
        {"{\"rate\": 0}", "s.json:1:10: "},
        {"{\"rate\": 1e8}", "s.json:1:10: \"rate\" is at most"},
        {"{\"rate\": 5, \"start_rate\": 1}", "s.json:1:27: \"start_rate\" goes with \"stages\""},
        {"{\"rate\": 5, \"max_users\": 0}", "s.json:1:26: "},
        {"{\"stages\": [{\"duration\": 1}]}", "s.json:1:13: a stage needs \"rate\""},
        {"{\"stages\": [{\"rate\": 1}]}", "s.json:1:13: a stage needs \"duration\""},
        {"{\"stages\": [{\"duration\": 1, \"rate\": -1}]}", "s.json:1:37: "},
        {"{\"rat\": 5}", "s.json:1:2: unknown key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        arrival a;
        if (arrival_json(bad[i].text, &a) != -1)
            fail_msg("%s was accepted", bad[i].text);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("%s: got \"%s\", want \"%s...\"", bad[i].text, err, bad[i].msg);
        assert_false(a.on);
        assert_null(a.stages.stages);
    }
}

static int teardown(void **state)
{
    (void)state;
    json_free(doc);
    doc = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_stages),
        cmocka_unit_test(test_parse_stage_errors),
        cmocka_unit_test(test_stages_from_json),
        cmocka_unit_test(test_stage_at),
        cmocka_unit_test(test_constant_rate),
        cmocka_unit_test(test_ramping_rate),
        cmocka_unit_test(test_arrival_errors),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
