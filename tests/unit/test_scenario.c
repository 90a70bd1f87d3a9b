/* Tests for engine/scenario.c: loading scenario files (docs/scenario.md), every error with
 * its exact text and file:line:column, what a successful load compiles, class selection,
 * tag filtering, host resolution and finding the default file.
 *
 * The tests run inside a temporary directory, so file names in messages are short
 * ("s.json:2:11: ..."). Most error cases put the offending member alone on line 2 of a
 * template; its column is where the named marker text starts on that line. */
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "textpos.h"

#include "interp.h"
#include "log.h"
#include "sbuf.h"
#include "scenario.h"

static char tmpdir[PATH_MAX];
static char oldcwd[PATH_MAX];
static sbuf logged; /* warnings the loader logged, one per line */
static char err[2048];

static const scenario_opts no_opts = {0};

/* ---- helpers ------------------------------------------------------------------------ */

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    if (!f)
        fail_msg("cannot write %s", name);
    fputs(text, f);
    fclose(f);
}

static scenario *load_opts(const char *text, const scenario_opts *o)
{
    write_file("s.json", text);
    err[0] = '\0';
    scenario *sc = scenario_load("s.json", o, err, sizeof err);
    if (!sc)
        fail_msg("load failed: %s\n--- file:\n%s", err, text);
    assert_string_equal(err, "");
    return sc;
}

static scenario *load(const char *text)
{
    return load_opts(text, &no_opts);
}

/* Loads text, which must fail with exactly want. */
static void expect_error_opts(const char *text, const scenario_opts *o, const char *want)
{
    write_file("s.json", text);
    err[0] = '\0';
    scenario *sc = scenario_load("s.json", o, err, sizeof err);
    if (sc) {
        scenario_free(sc);
        fail_msg("loaded, want error: %s\n--- file:\n%s", want, text);
    }
    if (strcmp(err, want) != 0)
        fail_msg("error\n  got:  %s\n  want: %s\n--- file:\n%s", err, want, text);
}

static void expect_error(const char *text, const char *want)
{
    expect_error_opts(text, &no_opts, want);
}

static const char *pos_of(const char *text, const char *marker)
{
    return text_pos("s.json", text, marker);
}

/* text must fail with "s.json:L:C: msg", where L:C is the first occurrence of marker. */
static void expect_at(const char *text, const char *marker, const char *msg)
{
    char want[1024];
    snprintf(want, sizeof want, "%s: %s", pos_of(text, marker), msg);
    expect_error(text, want);
}

/* Asserts a step's location: the position of marker, then what follows it. */
static void assert_where(const char *where, const char *text, const char *marker, const char *rest)
{
    char want[512];
    snprintf(want, sizeof want, "%s %s", pos_of(text, marker), rest);
    assert_string_equal(where, want);
}

/* Templates: line 2 holds one member (the hole) of the object named. */
#define AT_TOP "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]}],\n%s}"
#define AT_CLASS "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}],\n%s}]}"
#define AT_NAMELESS_CLASS "{\"users\": [{\"tasks\": [{\"request\": \"/x\"}],\n%s}]}"
#define AT_TASK "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\",\n%s}]}]}"
#define AT_STEP                                                                                    \
    "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"steps\": [{\"request\": \"/x\",\n"              \
    "%s}]}]}]}"
#define AT_REQUEST                                                                                 \
    "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": {\"url\": \"/x\",\n%s}}]}]}"
#define AT_URLLESS_REQUEST "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": {\n%s}}]}]}"
#define AT_THINK "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"steps\": [{\"think\": {\n%s}}]}]}]}"
#define AT_WAIT                                                                                    \
    "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}], \"wait_time\": {\n"        \
    "%s}}]}"
/* A class whose single task is the hole. */
#define TASK_IS "{\"users\": [{\"name\": \"A\", \"tasks\": [\n%s]}]}"
/* A class whose single task has one step, the hole. */
#define STEP_IS "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"steps\": [\n%s]}]}]}"
/* A task whose request is the hole. */
#define REQUEST_IS "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\":\n%s}]}]}"

static char *fill(const char *tmpl, const char *hole)
{
    static char text[4096];
    snprintf(text, sizeof text, tmpl, hole);
    return text;
}

/* The hole (line 2) must fail with msg at the start of marker within it. */
static void hole(const char *tmpl, const char *member, const char *marker, const char *msg)
{
    const char *m = strstr(member, marker);
    if (!m)
        fail_msg("marker \"%s\" not in \"%s\"", marker, member);
    char want[1024];
    snprintf(want, sizeof want, "s.json:2:%d: %s", (int)(m - member) + 1, msg);
    expect_error(fill(tmpl, member), want);
}

static const req_step *task_req(const uclass *u, int task, int index)
{
    const program *p = u->tasks[task].data;
    assert_true(index < p->n);
    assert_int_equal(p->steps[index].kind, STEP_REQUEST);
    return &p->steps[index].r;
}

/* The header list as "a|b|c". */
static const char *headers_of(const req_step *r)
{
    static char out[1024];
    out[0] = '\0';
    for (const struct curl_slist *l = r->headers; l; l = l->next) {
        if (out[0])
            strcat(out, "|");
        strcat(out, l->data);
    }
    return out;
}

static void observe(void *data, int level, const char *line)
{
    (void)data;
    sbuf_printf(&logged, "%d %s\n", level, line);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    if (!getcwd(oldcwd, sizeof oldcwd))
        return -1;
    strcpy(tmpdir, "/tmp/cicada-scenario-XXXXXX");
    if (!mkdtemp(tmpdir) || chdir(tmpdir) != 0)
        return -1;
    char e[256];
    if (log_setup(LOG_INFO, "/dev/null", true, e, sizeof e) != 0)
        return -1;
    log_set_observer(observe, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    log_set_observer(NULL, NULL);
    log_close();
    sbuf_free(&logged);
    if (chdir(oldcwd) != 0)
        return -1;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- syntax and the top level ------------------------------------------------------- */

static void test_invalid_json(void **state)
{
    (void)state;
    expect_error("{\"users\": [}", "s.json:1:12: expected a value, found '}'");
    expect_error("{\"users\": [],\n \"users\": []}", "s.json:2:2: duplicate key \"users\"");
    expect_error("", "s.json:1:1: unexpected end of input");
    expect_error("{\"users\": []} x", "s.json:1:15: trailing characters after the JSON value");
    expect_error("{\"users\": [{\"name\": \"A\",}]}", "s.json:1:25: trailing comma before '}'");
}

static void test_top_level_not_object(void **state)
{
    (void)state;
    expect_error("[1]", "s.json:1:1: \"scenario\" must be an object with \"users\", not an array");
    expect_error("\n  \"users\"",
                 "s.json:2:3: \"scenario\" must be an object with \"users\", not a string");
    expect_error("null", "s.json:1:1: \"scenario\" must be an object with \"users\", not a null");
}

static void test_file_errors(void **state)
{
    (void)state;
    err[0] = '\0';
    assert_null(scenario_load("nope.json", &no_opts, err, sizeof err));
    assert_string_equal(err, "Could not find 'nope.json'. See --help for available options.");
    assert_int_equal(mkdir("d.json", 0755), 0);
    assert_null(scenario_load("d.json", &no_opts, err, sizeof err));
    assert_string_equal(err, "d.json: cannot read: Is a directory");
    assert_null(scenario_load("", &no_opts, err, sizeof err));
    assert_string_equal(err, "No User class found!");
    assert_null(scenario_load(",", &no_opts, err, sizeof err));
    assert_string_equal(err, "No User class found!");
    /* a Python locustfile: the parse error, and why it cannot load */
    write_file("locustfile.py", "from locust import HttpUser\n");
    assert_null(scenario_load("locustfile.py", &no_opts, err, sizeof err));
    assert_string_equal(err, "locustfile.py:1:1: invalid literal, expected true, false or null "
                             "(a Python locustfile: cicada runs JSON scenarios, see "
                             "docs/scenario.md, and C locustfiles, see docs/c-api.md)");
}

static void test_missing_and_empty(void **state)
{
    (void)state;
    expect_error("{}", "s.json:1:1: scenario needs \"users\": a list of user classes");
    expect_error("{\"host\": \"http://h\"}",
                 "s.json:1:1: scenario needs \"users\": a list of user classes");
    expect_at("{\"users\": []}", "[]", "\"users\" must be a non-empty array of user classes");
    expect_at("{\"users\": {}}", "{}", "\"users\" must be a non-empty array of user classes");
    expect_at("{\"users\": [\"A\"]}", "\"A\"", "\"user class\" must be an object, not a string");
    expect_at("{\"users\": [{\"tasks\": [{\"request\": \"/x\"}]}]}", "{\"tasks",
              "user class needs a \"name\"");
    expect_at("{\"users\": [{\"name\": \"A\"}]}", "{\"name", "user class \"A\" needs \"tasks\"");
    expect_at("{\"users\": [{\"name\": \"A\", \"tasks\": []}]}", "[]",
              "\"tasks\" must be a non-empty array of tasks");
    expect_at("{\"users\": [{\"name\": \"A\", \"tasks\": {}}]}", "{}}",
              "\"tasks\" must be a non-empty array of tasks");
    /* a task with neither steps nor request, with both, with no step */
    hole(TASK_IS, "{\"name\": \"t\"}", "{", "a task needs \"steps\" or a single \"request\"");
    hole(TASK_IS, "{\"request\": \"/x\", \"steps\": [{\"think\": 1}]}", "{",
         "a task needs \"steps\" or a single \"request\"");
    hole(TASK_IS, "{\"steps\": []}", "[]", "a task needs at least one step");
    /* a step with zero or two actions */
    hole(STEP_IS, "{}", "{", "a step needs exactly one action: \"request\" or \"think\"");
    hole(STEP_IS, "{\"description\": \"nothing\"}", "{",
         "a step needs exactly one action: \"request\" or \"think\"");
    hole(STEP_IS, "{\"request\": \"/x\", \"think\": 1}", "{",
         "a step needs exactly one action: \"request\" or \"think\"");
    /* a request without a url */
    hole(REQUEST_IS, "{\"method\": \"GET\"}", "{", "request needs a \"url\"");
}

/* ---- unknown keys ------------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    hole(AT_TOP, "\"hots\": \"http://h\"", "\"hots\"",
         "unknown key \"hots\" in scenario (did you mean \"host\"?)");
    hole(AT_TOP, "\"version\": 2", "\"version\"",
         "unknown key \"version\" in scenario (expected one of: description, host, data, users, "
         "stages, arrival_rate, thresholds)");

    hole(AT_CLASS, "\"wieght\": 1", "\"wieght\"",
         "unknown key \"wieght\" in user class (did you mean \"weight\"?)");
    hole(AT_CLASS, "\"Headers\": {}", "\"Headers\"",
         "unknown key \"Headers\" in user class (did you mean \"headers\"?)");
    hole(AT_CLASS, "\"min_wait\": 1", "\"min_wait\"",
         "unknown key \"min_wait\" in user class (expected one of: name, description, weight, "
         "fixed_count, host, headers, wait_time, sequential, timeout, redirects, connection, "
         "on_failure, http_version, verify_tls, client_cert, basic_auth, variables, on_start, "
         "on_stop, tasks)");

    hole(AT_TASK, "\"wieght\": 2", "\"wieght\"",
         "unknown key \"wieght\" in task (did you mean \"weight\"?)");
    hole(AT_TASK, "\"priority\": 2", "\"priority\"",
         "unknown key \"priority\" in task (expected one of: name, description, weight, tags, "
         "steps, request)");

    hole(AT_STEP, "\"thinc\": 1", "\"thinc\"",
         "unknown key \"thinc\" in step (did you mean \"think\"?)");
    hole(AT_STEP, "\"sleep\": 1", "\"sleep\"",
         "unknown key \"sleep\" in step (expected one of: request, think, description)");

    hole(AT_REQUEST, "\"heders\": {}", "\"heders\"",
         "unknown key \"heders\" in request (did you mean \"headers\"?)");
    hole(AT_REQUEST, "\"data\": \"x\"", "\"data\"",
         "unknown key \"data\" in request (expected one of: method, url, name, query, headers, "
         "json, form, body, timeout, redirects, connection, check, capture, on_failure, "
         "http_version, verify_tls, client_cert, basic_auth)");

    hole(AT_THINK, "\"betwen\": [1, 2]", "\"betwen\"",
         "unknown key \"betwen\" in think (did you mean \"between\"?)");
    hole(AT_THINK, "\"random\": 1", "\"random\"",
         "unknown key \"random\" in think (expected one of: constant, between)");

    hole(AT_WAIT, "\"constant_pacin\": 1", "\"constant_pacin\"",
         "unknown key \"constant_pacin\" in wait_time (did you mean \"constant_pacing\"?)");
    hole(AT_WAIT, "\"poisson\": 1", "\"poisson\"",
         "unknown key \"poisson\" in wait_time (expected one of: constant, between, "
         "constant_pacing, constant_throughput)");
}

/* ---- wrong types -------------------------------------------------------------------- */

static void test_wrong_types_top_and_class(void **state)
{
    (void)state;
    hole(AT_TOP, "\"host\": 8080", "8080", "\"host\" must be a string, not a number");
    hole(AT_TOP, "\"description\": [\"a\"]", "[", "\"description\" must be a string, not an array");
    hole(AT_TOP, "\"description\": \"a\\u0000b\"", "\"a",
         "\"description\" must not contain NUL characters");

    hole(AT_NAMELESS_CLASS, "\"name\": 5", "5", "\"name\" must be a string, not a number");
    hole(AT_CLASS, "\"description\": {}", "{}", "\"description\" must be a string, not an object");
    hole(AT_CLASS, "\"weight\": \"3\"", "\"3\"", "\"weight\" must be an integer, not a string");
    hole(AT_CLASS, "\"weight\": 1.5", "1.5", "\"weight\" must be an integer, not a number");
    hole(AT_CLASS, "\"weight\": 1e2", "1e2", "\"weight\" must be an integer, not a number");
    hole(AT_CLASS, "\"fixed_count\": true", "true",
         "\"fixed_count\" must be an integer, not a boolean");
    hole(AT_CLASS, "\"host\": [\"http://h\"]", "[", "\"host\" must be a string, not an array");
    hole(AT_CLASS, "\"headers\": [\"Accept: x\"]", "[",
         "\"headers\" must be an object of header names and values, not an array");
    hole(AT_CLASS, "\"wait_time\": \"1s\"", "\"1s\"",
         "\"wait_time\" must be a number or one of {\"constant\": s}, {\"between\": [min, max]}, "
         "{\"constant_pacing\": s}, {\"constant_throughput\": n}, not a string");
    hole(AT_CLASS, "\"sequential\": 1", "1", "\"sequential\" must be true or false, not a number");
    hole(AT_CLASS, "\"timeout\": \"5\"", "\"5\"", "\"timeout\" must be a number, not a string");
    hole(AT_CLASS, "\"redirects\": \"yes\"", "\"yes\"",
         "\"redirects\" must be true or false, not a string");
    hole(AT_CLASS, "\"connection\": 1", "1", "\"connection\" must be a string, not a number");
    hole(AT_CLASS, "\"connection\": \"pool\"", "\"pool\"",
         "\"connection\" must be \"user\", \"shared\" or \"request\", not \"pool\"");
    hole(AT_CLASS, "\"on_start\": {\"request\": \"/x\"}", "{",
         "\"on_start\" must be an array of steps, not an object");
    hole(AT_CLASS, "\"on_stop\": \"POST /logout\"", "\"POST",
         "\"on_stop\" must be an array of steps, not a string");
    hole(AT_CLASS, "\"on_start\": [\"GET /x\"]", "\"GET",
         "\"step\" must be an object such as {\"request\": ...}, not a string");
    expect_at("{\"users\": [{\"name\": \"A\", \"tasks\": [\"GET /x\"]}]}", "\"GET",
              "\"task\" must be an object, not a string");
}

static void test_wrong_types_task_and_step(void **state)
{
    (void)state;
    hole(AT_TASK, "\"name\": 1", "1", "\"name\" must be a string, not a number");
    hole(AT_TASK, "\"description\": false", "false",
         "\"description\" must be a string, not a boolean");
    hole(AT_TASK, "\"weight\": \"2\"", "\"2\"", "\"weight\" must be an integer, not a string");
    hole(AT_TASK, "\"tags\": \"slow\"", "\"slow\"",
         "\"tags\" must be an array of strings, not a string");
    hole(AT_TASK, "\"tags\": [\"a\", 1]", "1",
         "\"tags\" must be an array of strings, not a number");
    hole(AT_TASK, "\"tags\": [\"a\", \"\"]", "\"\"",
         "a tag must be a non-empty string without NUL");
    hole(TASK_IS, "{\"steps\": {\"request\": \"/x\"}}", "{\"request",
         "\"steps\" must be an array of steps, not an object");
    hole(REQUEST_IS, "5", "5",
         "\"request\" must be an object or a \"METHOD /url\" string, not a number");
    hole(REQUEST_IS, "[\"GET\", \"/x\"]", "[",
         "\"request\" must be an object or a \"METHOD /url\" string, not an array");
    hole(STEP_IS, "[{\"request\": \"/x\"}]", "[",
         "\"step\" must be an object such as {\"request\": ...}, not an array");
    hole(AT_STEP, "\"description\": 1", "1", "\"description\" must be a string, not a number");
}

static void test_wrong_types_request(void **state)
{
    (void)state;
    hole(AT_REQUEST, "\"method\": 1", "1", "\"method\" must be a string, not a number");
    hole(AT_URLLESS_REQUEST, "\"url\": 1", "1", "\"url\" must be a string, not a number");
    hole(AT_REQUEST, "\"name\": null", "null", "\"name\" must be a string, not a null");
    hole(AT_REQUEST, "\"query\": \"a=b\"", "\"a=b\"",
         "\"query\" must be an object or an array of [name, value] pairs, not a string");
    hole(AT_REQUEST, "\"query\": [[\"a\"]]", "[\"a\"]",
         "each item of \"query\" must be a [name, value] pair");
    hole(AT_REQUEST, "\"query\": [\"a\", \"b\"]", "\"a\"",
         "each item of \"query\" must be a [name, value] pair");
    hole(AT_REQUEST, "\"query\": {\"a\": {}}", "{}",
         "a query value must be a string, number or boolean, not an object");
    hole(AT_REQUEST, "\"query\": [[null, \"x\"]]", "null",
         "a name must be a string, number or boolean, not a null");
    hole(AT_REQUEST, "\"query\": [[\"k\", [1]]]", "[1]",
         "a query value must be a string, number or boolean, not an array");
    hole(AT_REQUEST, "\"headers\": \"X-A: 1\"", "\"X-A",
         "\"headers\" must be an object of header names and values, not a string");
    hole(AT_REQUEST, "\"headers\": {\"X-A\": [1]}", "[1]",
         "a header value must be a string, number or boolean, not an array");
    hole(AT_REQUEST, "\"headers\": {\"X-A\": null}", "null",
         "a header value must be a string, number or boolean, not a null");
    hole(AT_REQUEST, "\"form\": \"a=b\"", "\"a=b\"",
         "\"form\" must be an object or an array of [name, value] pairs, not a string");
    hole(AT_REQUEST, "\"form\": 3", "3",
         "\"form\" must be an object or an array of [name, value] pairs, not a number");
    hole(AT_REQUEST, "\"form\": [[\"a\", \"b\", \"c\"]]", "[\"a\"",
         "each item of \"form\" must be a [name, value] pair");
    hole(AT_REQUEST, "\"form\": {\"a\": {\"b\": 1}}", "{\"b",
         "a form value must be a string, number or boolean, not an object");
    hole(AT_REQUEST, "\"body\": {\"a\": 1}", "{", "\"body\" must be a string, not an object");
    hole(AT_REQUEST, "\"timeout\": \"1\"", "\"1\"", "\"timeout\" must be a number, not a string");
    hole(AT_REQUEST, "\"redirects\": 0", "0", "\"redirects\" must be true or false, not a number");
    hole(AT_REQUEST, "\"connection\": \"keep-alive\"", "\"keep",
         "\"connection\" must be \"user\", \"shared\" or \"request\", not \"keep-alive\"");
}

static void test_wrong_types_think_and_wait(void **state)
{
    (void)state;
    hole(STEP_IS, "{\"think\": \"1s\"}", "\"1s\"",
         "\"think\" must be a number of seconds or {\"between\": [min, max]}, not a string");
    hole(STEP_IS, "{\"think\": {}}", "{}",
         "\"think\" takes exactly one of \"constant\" or \"between\"");
    hole(STEP_IS, "{\"think\": {\"constant\": 1, \"between\": [1, 2]}}", "{\"constant",
         "\"think\" takes exactly one of \"constant\" or \"between\"");
    hole(AT_THINK, "\"constant\": \"1\"", "\"1\"", "\"constant\" must be a number, not a string");
    hole(AT_THINK, "\"between\": \"1-2\"", "\"1-2\"", "\"between\" must be [min, max] in seconds");
    hole(AT_THINK, "\"between\": [1, 2, 3]", "[", "\"between\" must be [min, max] in seconds");
    hole(AT_THINK, "\"between\": [\"1\", 2]", "\"1\"", "\"min\" must be a number, not a string");
    hole(AT_THINK, "\"between\": [1, null]", "null", "\"max\" must be a number, not a null");

    hole(AT_CLASS, "\"wait_time\": {}", "{}", "\"wait_time\" takes exactly one kind of wait");
    hole(AT_CLASS, "\"wait_time\": {\"constant\": 1, \"constant_pacing\": 2}", "{",
         "\"wait_time\" takes exactly one kind of wait");
    hole(AT_WAIT, "\"constant\": [1]", "[1]", "\"constant\" must be a number, not an array");
    hole(AT_WAIT, "\"between\": [1]", "[1]", "\"between\" must be [min, max] in seconds");
    hole(AT_WAIT, "\"constant_pacing\": \"10\"", "\"10\"",
         "\"constant_pacing\" must be a number, not a string");
    hole(AT_WAIT, "\"constant_throughput\": true", "true",
         "\"constant_throughput\" must be a number, not a boolean");
}

/* ---- impossible values -------------------------------------------------------------- */

static void test_out_of_range(void **state)
{
    (void)state;
    hole(AT_CLASS, "\"weight\": -1", "-1", "\"weight\" must be between 0 and 1000000, not -1");
    hole(AT_CLASS, "\"weight\": 1000001", "1000001",
         "\"weight\" must be between 0 and 1000000, not 1000001");
    hole(AT_CLASS, "\"fixed_count\": -1", "-1",
         "\"fixed_count\" must be between 0 and 10000000, not -1");
    hole(AT_CLASS, "\"fixed_count\": 10000001", "10000001",
         "\"fixed_count\" must be between 0 and 10000000, not 10000001");
    hole(AT_TASK, "\"weight\": 0", "0", "\"weight\" must be between 1 and 1000000, not 0");
    hole(AT_TASK, "\"weight\": -3", "-3", "\"weight\" must be between 1 and 1000000, not -3");
    hole(AT_CLASS, "\"timeout\": 0", "0", "\"timeout\" must be greater than 0, not 0");
    hole(AT_CLASS, "\"timeout\": -1.5", "-1.5", "\"timeout\" must be greater than 0, not -1.5");
    hole(AT_REQUEST, "\"timeout\": 0.0", "0.0", "\"timeout\" must be greater than 0, not 0.0");
    hole(AT_CLASS, "\"wait_time\": -1", "-1", "\"wait_time\" must be at least 0, not -1");
    hole(AT_WAIT, "\"constant\": -2", "-2", "\"constant\" must be at least 0, not -2");
    hole(AT_WAIT, "\"between\": [2, 1]", "[", "\"between\": max (1) is less than min (2)");
    hole(AT_WAIT, "\"between\": [0.5, 0.25]", "[",
         "\"between\": max (0.25) is less than min (0.5)");
    hole(AT_WAIT, "\"between\": [-1, 1]", "-1", "\"min\" must be at least 0, not -1");
    hole(AT_WAIT, "\"between\": [0, -0.5]", "-0.5", "\"max\" must be at least 0, not -0.5");
    hole(AT_WAIT, "\"constant_pacing\": 0", "0",
         "\"constant_pacing\" must be greater than 0, not 0");
    hole(AT_WAIT, "\"constant_throughput\": 0", "0",
         "\"constant_throughput\" must be greater than 0, not 0");
    hole(AT_WAIT, "\"constant_throughput\": -0.5", "-0.5",
         "\"constant_throughput\" must be greater than 0, not -0.5");
    hole(STEP_IS, "{\"think\": -1}", "-1", "\"think\" must be at least 0, not -1");
    hole(AT_THINK, "\"constant\": -0.1", "-0.1", "\"constant\" must be at least 0, not -0.1");
    hole(AT_THINK, "\"between\": [3, 2]", "[", "\"between\": max (2) is less than min (3)");
}

/* ---- names -------------------------------------------------------------------------- */

/* Variable names, in "variables" and in captures: the error points at the name itself,
 * also for a capture deep in a task (not at its class). */
static void test_variable_names(void **state)
{
    (void)state;
    const char *rule = "letters, digits and '_', not starting with a digit";
    const char *builtin = "user_index and worker_index are built into templates";
    char msg[256];
    snprintf(msg, sizeof msg, "\"9a\" is not a variable name (%s)", rule);
    hole(AT_CLASS, "\"variables\": {\"ok\": 1, \"9a\": 1}", "\"9a", msg);
    snprintf(msg, sizeof msg, "\"worker_index\" is not a variable name (%s)", builtin);
    hole(AT_CLASS, "\"variables\": {\"worker_index\": 1}", "\"worker", msg);
    const char *deep = "{\"users\": [{\"name\": \"A\",\n"
                       " \"on_start\": [{\"request\": {\"url\": \"/s\",\n"
                       "   \"capture\": {\"t\": \"$.t\"}}}],\n"
                       " \"tasks\": [{\"steps\": [{\"think\": 1},\n"
                       "   {\"request\": {\"url\": \"/x\", \"capture\": {\"a-b\": \"$.x\"}}}]}]}]}";
    snprintf(msg, sizeof msg, "\"a-b\" cannot be captured: not a variable name (%s)", rule);
    expect_at(deep, "\"a-b\"", msg);
    const char *own = "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": {\"url\": \"/x\",\n"
                      " \"capture\": {\"user_index\": {\"status\": true}}}}]}]}";
    snprintf(msg, sizeof msg, "\"user_index\" cannot be captured: not a variable name (%s)",
             builtin);
    expect_at(own, "\"user_index\"", msg);
}

static void test_class_names(void **state)
{
    (void)state;
    const char *msg_fmt = "user class name \"%s\" may only hold letters, digits, '_', '-' and '.'";
    const char *bad[] = {"a b", "", "Shop/Buyer", "x,y", "caf\\u00e9", "a\\tb"};
    const char *shown[] = {"a b", "", "Shop/Buyer", "x,y", "caf\xc3\xa9", "a\tb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char member[128], value[64], msg[256];
        snprintf(member, sizeof member, "\"name\": \"%s\"", bad[i]);
        snprintf(value, sizeof value, "\"%s\"", bad[i]);
        snprintf(msg, sizeof msg, msg_fmt, shown[i]);
        hole(AT_NAMELESS_CLASS, member, value, msg);
    }
    /* at most 200 characters */
    char name[202], member[256], msg[512];
    memset(name, 'n', 201);
    name[201] = '\0';
    snprintf(member, sizeof member, "\"name\": \"%s\"", name);
    snprintf(msg, sizeof msg, msg_fmt, name);
    hole(AT_NAMELESS_CLASS, member, "\"nn", msg);
    name[200] = '\0';
    snprintf(member, sizeof member, "\"name\": \"%s\"", name);
    scenario *sc200 = load(fill(AT_NAMELESS_CLASS, member));
    assert_int_equal(strlen(sc200->all[0].name), 200);
    scenario_free(sc200);

    scenario *sc =
        load("{\"users\": [{\"name\": \"Ok_-.9\", \"tasks\": [{\"request\": \"/x\"}]}]}");
    assert_string_equal(sc->all[0].name, "Ok_-.9");
    scenario_free(sc);
}

static void test_duplicate_names(void **state)
{
    (void)state;
    expect_at("{\"users\": [\n"
              "  {\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]},\n"
              "  {\"name\": \"B\", \"tasks\": [{\"request\": \"/x\"}]},\n"
              "  {\"name\": \"A\", \"tasks\": [{\"request\": \"/y\"}]}]}",
              "{\"name\": \"A\", \"tasks\": [{\"request\": \"/y",
              "user class \"A\" is already defined in s.json");

    write_file("a.json", "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]}]}");
    write_file("b.json", "{\"users\": [{\"name\": \"B\", \"tasks\": [{\"request\": \"/x\"}]},\n"
                         "           {\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]}]}");
    assert_null(scenario_load("a.json,b.json", &no_opts, err, sizeof err));
    assert_string_equal(err, "b.json:2:12: user class \"A\" is already defined in a.json");
    assert_null(scenario_load("a.json, b.json", &no_opts, err, sizeof err));
    assert_string_equal(err, "b.json:2:12: user class \"A\" is already defined in a.json");
    /* an error in the second file names that file */
    write_file(
        "c.json",
        "{\"users\": [{\"name\": \"C\", \"tasks\": [{\"request\": \"/x\", \"wieght\": 1}]}]}");
    assert_null(scenario_load("a.json,c.json", &no_opts, err, sizeof err));
    assert_string_equal(err,
                        "c.json:1:54: unknown key \"wieght\" in task (did you mean \"weight\"?)");
    assert_null(scenario_load("a.json,missing.json", &no_opts, err, sizeof err));
    assert_string_equal(err, "Could not find 'missing.json'. See --help for available options.");

    /* two files, one run */
    write_file("b.json", "{\"users\": [{\"name\": \"B\", \"tasks\": [{\"request\": \"/x\"}]}]}");
    scenario *sc = scenario_load("a.json,b.json", &no_opts, err, sizeof err);
    assert_non_null(sc);
    assert_string_equal(sc->files, "a.json,b.json");
    assert_int_equal(sc->nall, 2);
    assert_int_equal(sc->nrun, 2);
    assert_string_equal(sc->run[0]->name, "A");
    assert_string_equal(sc->run[1]->name, "B");
    scenario_free(sc);

    /* duplicate task names, given or derived */
    hole(TASK_IS, "{\"name\": \"t\", \"request\": \"/x\"}, {\"name\": \"t\", \"request\": \"/y\"}",
         "{\"name\": \"t\", \"request\": \"/y",
         "two tasks of user class \"A\" are named \"t\"; give them distinct \"name\"s");
    hole(TASK_IS, "{\"request\": \"/x\"}, {\"request\": \"GET /x\"}", "{\"request\": \"GET",
         "two tasks of user class \"A\" are named \"GET /x\"; give them distinct \"name\"s");
    hole(AT_TASK, "\"name\": \"\"", "\"\"", "task \"name\" must not be empty");
}

/* ---- requests ----------------------------------------------------------------------- */

static void test_request_errors(void **state)
{
    (void)state;
    hole(AT_REQUEST, "\"method\": \"GE T\"", "\"GE T\"", "\"GE T\" is not an HTTP method");
    hole(AT_REQUEST, "\"method\": \"\"", "\"\"", "\"\" is not an HTTP method");
    hole(AT_REQUEST, "\"method\": \"GET/1\"", "\"GET", "\"GET/1\" is not an HTTP method");
    hole(REQUEST_IS, "\"G@T /x\"", "\"G@T", "\"G@T\" is not an HTTP method");
    hole(REQUEST_IS, "\" /x\"", "\" /x", "\"\" is not an HTTP method");
    hole(AT_URLLESS_REQUEST, "\"url\": \"\"", "\"\"",
         "\"url\" must be non-empty and without spaces");
    hole(AT_URLLESS_REQUEST, "\"url\": \"/a b\"", "\"/a b\"",
         "\"url\" must be non-empty and without spaces");
    hole(AT_URLLESS_REQUEST, "\"url\": \"/a\\nb\"", "\"/a",
         "\"url\" must be non-empty and without spaces");
    hole(REQUEST_IS, "\"GET /a b\"", "\"GET", "\"url\" must be non-empty and without spaces");
    hole(REQUEST_IS, "\"\"", "\"\"", "\"url\" must be non-empty and without spaces");
    hole(REQUEST_IS, "\"GET \"", "\"GET", "\"url\" must be non-empty and without spaces");
    hole(AT_REQUEST, "\"json\": {}, \"form\": []", "[]",
         "a request takes only one of \"json\", \"form\" and \"body\"");
    hole(AT_REQUEST, "\"json\": 1, \"body\": \"x\"", "\"x\"",
         "a request takes only one of \"json\", \"form\" and \"body\"");
    hole(AT_REQUEST, "\"body\": \"x\", \"form\": {}", "\"x\"",
         "a request takes only one of \"json\", \"form\" and \"body\"");
    hole(AT_REQUEST, "\"headers\": {\"Bad Name\": \"x\"}", "\"Bad",
         "\"Bad Name\" is not a valid header name");
    hole(AT_REQUEST, "\"headers\": {\"\": \"x\"}", "\"\"", "\"\" is not a valid header name");
    hole(AT_REQUEST, "\"headers\": {\"X:Y\": \"x\"}", "\"X:Y",
         "\"X:Y\" is not a valid header name");
    hole(AT_REQUEST, "\"headers\": {\"X-A\": \"a\\nb\"}", "\"a",
         "header value must not contain line breaks or NUL");
    hole(AT_REQUEST, "\"headers\": {\"X-A\": \"a\\r\"}", "\"a",
         "header value must not contain line breaks or NUL");
    hole(AT_REQUEST, "\"headers\": {\"X-A\": \"a\\u0000\"}", "\"a",
         "header value must not contain line breaks or NUL");
    hole(AT_CLASS, "\"headers\": {\"X-A\": \"ok\", \"X(B)\": \"x\"}", "\"X(B)",
         "\"X(B)\" is not a valid header name");
    hole(AT_REQUEST, "\"name\": \"\"", "\"\"", "request \"name\" must not be empty");
}

static void test_bad_hosts(void **state)
{
    (void)state;
    const char *msg = "\"host\" must be a base URL such as \"http://127.0.0.1:8080\"";
    const char *bad[] = {"\"localhost:8080\"", "\"http://\"", "\"https://\"",  "\"http:// x\"",
                         "\"ftp://h\"",        "\"\"",        "\"http:///x\"", "\"//h\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char member[64];
        snprintf(member, sizeof member, "\"host\": %s", bad[i]);
        hole(AT_TOP, member, bad[i], msg);
        hole(AT_CLASS, member, bad[i], msg);
    }
    const char *good[] = {"http://a", "https://h:1/p", "HTTP://H", "http://[::1]:8080"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char member[64];
        snprintf(member, sizeof member, "\"host\": \"%s\"", good[i]);
        scenario *sc = load(fill(AT_CLASS, member));
        assert_string_equal(sc->all[0].host, good[i]);
        scenario_free(sc);
        sc = load(fill(AT_TOP, member));
        assert_string_equal(scenario_host(sc, NULL), good[i]);
        scenario_free(sc);
    }
}

/* ---- successful loads --------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    const char *text = "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]}]}";
    scenario *sc = load(text);
    assert_string_equal(sc->files, "s.json");
    assert_int_equal(sc->nall, 1);
    assert_int_equal(sc->nrun, 1);
    assert_ptr_equal(sc->run[0], &sc->all[0]);
    const uclass *u = sc->run[0];
    assert_string_equal(u->name, "A");
    assert_int_equal(u->weight, 1);
    assert_int_equal(u->fixed_count, 0);
    assert_null(u->host);
    assert_int_equal(u->wait.kind, WAIT_CONSTANT);
    assert_true(u->wait.a == 0.0);
    assert_false(u->sequential);
    assert_null(u->on_start.fn);
    assert_null(u->on_stop.fn);
    assert_int_equal(u->ntasks, 1);
    assert_string_equal(u->tasks[0].name, "GET /x");
    assert_int_equal(u->tasks[0].weight, 1);
    assert_int_equal(u->tasks[0].ntags, 0);
    assert_ptr_equal(u->tasks[0].fn, interp_run);
    const program *p = u->tasks[0].data;
    assert_int_equal(p->n, 1);
    assert_where(p->steps[0].where, text, "\"/x\"", "(user class \"A\", task 1)");
    assert_string_equal(p->steps[0].where, "s.json:1:48 (user class \"A\", task 1)");
    const req_step *r = task_req(u, 0, 0);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->url, "/x");
    assert_null(r->name);
    assert_false(r->name_explicit);
    assert_null(r->headers);
    assert_null(r->body);
    assert_int_equal(r->body_len, 0);
    assert_int_equal(r->timeout_ms, 60000);
    assert_true(r->follow);
    assert_int_equal(r->conn, HTTP_CONN_USER);
    assert_null(scenario_host(sc, NULL));
    scenario_free(sc);
}

static void test_class_settings(void **state)
{
    (void)state;
    const char *text =
        "{\"description\": \"d\", \"host\": \"http://file\", \"users\": [\n"
        " {\"name\": \"A\", \"weight\": 3, \"fixed_count\": 2, \"sequential\": true,\n"
        "  \"timeout\": 2.5, \"redirects\": false, \"connection\": \"shared\",\n"
        "  \"host\": \"http://cls\", \"description\": \"class\",\n"
        "  \"wait_time\": {\"between\": [0.5, 2]},\n"
        "  \"on_start\": [{\"request\": {\"method\": \"post\", \"url\": \"/login\"}}],\n"
        "  \"on_stop\": [{\"think\": 0.25}, {\"request\": \"POST /logout\"}],\n"
        "  \"tasks\": [\n"
        "   {\"name\": \"t\", \"weight\": 4, \"tags\": [\"a\", \"b\"], \"description\": \"x\",\n"
        "    \"steps\": [{\"request\": {\"url\": \"/1\", \"timeout\": 0.0005,\n"
        "                             \"redirects\": true, \"connection\": \"request\",\n"
        "                             \"method\": \"PATCH\"}},\n"
        "              {\"think\": {\"between\": [1, 1.5]}, \"description\": \"pause\"},\n"
        "              {\"think\": {\"constant\": 0.5}},\n"
        "              {\"request\": {\"url\": \"/2\", \"timeout\": 1e300}}]}]},\n"
        " {\"name\": \"B\", \"wait_time\": 1.5, \"tasks\": [{\"request\": \"/b\"}]},\n"
        " {\"name\": \"C\", \"wait_time\": {\"constant\": 2},\n"
        "  \"tasks\": [{\"request\": \"/c\"}]},\n"
        " {\"name\": \"D\", \"wait_time\": {\"constant_pacing\": 10},\n"
        "  \"tasks\": [{\"request\": \"/d\"}]},\n"
        " {\"name\": \"E\", \"wait_time\": {\"constant_throughput\": 0.5}, \"timeout\": 1e300,\n"
        "  \"tasks\": [{\"request\": \"/e\"}]}]}";
    scenario *sc = load(text);
    assert_int_equal(sc->nrun, 5);
    const uclass *a = sc->run[0];
    assert_int_equal(a->weight, 3);
    assert_int_equal(a->fixed_count, 2);
    assert_true(a->sequential);
    assert_string_equal(a->host, "http://cls");
    assert_int_equal(a->wait.kind, WAIT_BETWEEN);
    assert_true(a->wait.a == 0.5 && a->wait.b == 2.0);

    assert_ptr_equal(a->on_start.fn, interp_run);
    assert_string_equal(a->on_start.name, "on_start");
    const program *ps = a->on_start.data;
    assert_int_equal(ps->n, 1);
    assert_where(ps->steps[0].where, text, "{\"request\": {\"method\": \"post\"",
                 "(user class \"A\", on_start, step 1)");
    assert_string_equal(ps->steps[0].where, "s.json:6:16 (user class \"A\", on_start, step 1)");
    assert_string_equal(ps->steps[0].r.method, "POST");
    assert_int_equal(ps->steps[0].r.timeout_ms, 2500);
    assert_false(ps->steps[0].r.follow);
    assert_int_equal(ps->steps[0].r.conn, HTTP_CONN_SHARED);
    assert_string_equal(a->on_stop.name, "on_stop");
    const program *pe = a->on_stop.data;
    assert_int_equal(pe->n, 2);
    assert_int_equal(pe->steps[0].kind, STEP_THINK);
    assert_int_equal(pe->steps[0].think.kind, WAIT_CONSTANT);
    assert_true(pe->steps[0].think.a == 0.25);
    assert_string_equal(pe->steps[1].r.method, "POST");
    assert_string_equal(pe->steps[1].r.url, "/logout");
    assert_where(pe->steps[1].where, text, "{\"request\": \"POST /logout",
                 "(user class \"A\", on_stop, step 2)");

    assert_int_equal(a->ntasks, 1);
    const utask *t = &a->tasks[0];
    assert_string_equal(t->name, "t");
    assert_int_equal(t->weight, 4);
    assert_int_equal(t->ntags, 2);
    assert_string_equal(t->tags[0], "a");
    assert_string_equal(t->tags[1], "b");
    const program *p = t->data;
    assert_int_equal(p->n, 4);
    const req_step *r = &p->steps[0].r;
    assert_where(p->steps[0].where, text, "{\"request\": {\"url\": \"/1\"",
                 "(user class \"A\", task \"t\", step 1)");
    assert_string_equal(r->method, "PATCH");
    assert_int_equal(r->timeout_ms, 1); /* whole milliseconds, at least 1 */
    assert_true(r->follow);
    assert_int_equal(r->conn, HTTP_CONN_REQUEST);
    assert_int_equal(p->steps[1].kind, STEP_THINK);
    assert_int_equal(p->steps[1].think.kind, WAIT_BETWEEN);
    assert_true(p->steps[1].think.a == 1.0 && p->steps[1].think.b == 1.5);
    assert_where(p->steps[1].where, text, "{\"think\": {\"between\": [1, 1.5]}",
                 "(user class \"A\", task \"t\", step 2)");
    assert_int_equal(p->steps[2].think.kind, WAIT_CONSTANT);
    assert_true(p->steps[2].think.a == 0.5);
    /* a huge timeout is clamped, not overflowed */
    assert_true(p->steps[3].r.timeout_ms >= 1000L * 1000 * 1000);
    assert_int_equal(p->steps[3].r.timeout_ms, LONG_MAX / 2);

    assert_int_equal(sc->run[1]->wait.kind, WAIT_CONSTANT);
    assert_true(sc->run[1]->wait.a == 1.5);
    assert_int_equal(sc->run[2]->wait.kind, WAIT_CONSTANT);
    assert_true(sc->run[2]->wait.a == 2.0);
    assert_int_equal(sc->run[3]->wait.kind, WAIT_PACING);
    assert_true(sc->run[3]->wait.a == 10.0);
    assert_int_equal(sc->run[4]->wait.kind, WAIT_THROUGHPUT);
    assert_true(sc->run[4]->wait.a == 0.5);
    assert_int_equal(task_req(sc->run[4], 0, 0)->timeout_ms, LONG_MAX / 2);
    /* class B takes the defaults again, not A's */
    const req_step *rb = task_req(sc->run[1], 0, 0);
    assert_int_equal(rb->timeout_ms, 60000);
    assert_true(rb->follow);
    assert_int_equal(rb->conn, HTTP_CONN_USER);
    assert_null(sc->run[1]->host);
    scenario_free(sc);
}

static void test_headers_and_bodies(void **state)
{
    (void)state;
    scenario *sc = load(
        "{\"users\": [{\"name\": \"A\",\n"
        " \"headers\": {\"Accept\": \"a/b\", \"X-Both\": \"class\", \"X-Num\": 5, \"X-T\": true},\n"
        " \"tasks\": [\n"
        "  {\"name\": \"json\", \"request\": {\"method\": \"POST\", \"url\": \"/j\",\n"
        "   \"headers\": {\"x-both\": \"req\", \"X-Empty\": \"\", \"X-F\": false, \"X-D\": 1.50},\n"
        "   \"json\": {\"a\": 1.50, \"b\": [1e3, -0, \"s\", null, true], \"c\": {}}}},\n"
        "  {\"name\": \"get\", \"request\": \"/g\"},\n"
        "  {\"name\": \"form\", \"request\": {\"url\": \"/f\",\n"
        "   \"form\": {\"a b\": \"c&d\", \"n\": 1}}},\n"
        "  {\"name\": \"pairs\", \"request\": {\"url\": \"/p\",\n"
        "   \"form\": [[\"k\", 1], [\"k\", \"\\u00e9\"]]}},\n"
        "  {\"name\": \"raw\", \"request\": {\"url\": \"/r\", \"body\": \"hello\\u0000x\"}},\n"
        "  {\"name\": \"own-ct\", \"request\": {\"url\": \"/o\", \"body\": \"<x/>\",\n"
        "   \"headers\": {\"content-type\": \"text/xml\", \"expect\": \"100-continue\"}}},\n"
        "  {\"name\": \"empty\", \"request\": {\"url\": \"/e\", \"body\": \"\"}},\n"
        "  {\"name\": \"json-string\", \"request\": {\"url\": \"/s\", \"json\": \"x\\\"y\"}}]},\n"
        " {\"name\": \"B\", \"headers\": {\"Content-Type\": \"application/vnd.x+json\"},\n"
        "  \"tasks\": [{\"request\": {\"url\": \"/b\", \"json\": [1, 2]}},\n"
        "             {\"request\": \"/c\"}]}]}");
    const uclass *a = sc->run[0];
    const req_step *r = task_req(a, 0, 0);
    assert_string_equal(headers_of(r),
                        "Accept: a/b|X-Num: 5|X-T: true|x-both: req|X-Empty;|"
                        "X-F: false|X-D: 1.50|Content-Type: application/json|Expect:");
    assert_string_equal(r->body, "{\"a\":1.50,\"b\":[1e3,-0,\"s\",null,true],\"c\":{}}");
    assert_int_equal(r->body_len, strlen(r->body));

    r = task_req(a, 1, 0);
    assert_string_equal(headers_of(r), "Accept: a/b|X-Both: class|X-Num: 5|X-T: true");
    assert_null(r->body);

    r = task_req(a, 2, 0);
    assert_string_equal(r->body, "a+b=c%26d&n=1");
    assert_int_equal(r->body_len, 13);
    assert_string_equal(headers_of(r), "Accept: a/b|X-Both: class|X-Num: 5|X-T: true|"
                                       "Content-Type: application/x-www-form-urlencoded|Expect:");
    r = task_req(a, 3, 0);
    assert_string_equal(r->body, "k=1&k=%C3%A9");

    r = task_req(a, 4, 0);
    assert_int_equal(r->body_len, 7);
    assert_memory_equal(r->body, "hello\0x", 7);
    /* a raw body: no content type at all (curl would add a form one) */
    assert_string_equal(headers_of(r),
                        "Accept: a/b|X-Both: class|X-Num: 5|X-T: true|Content-Type:|Expect:");

    r = task_req(a, 5, 0);
    assert_string_equal(r->body, "<x/>");
    assert_string_equal(headers_of(r), "Accept: a/b|X-Both: class|X-Num: 5|X-T: true|"
                                       "content-type: text/xml|expect: 100-continue");
    r = task_req(a, 6, 0);
    assert_non_null(r->body);
    assert_int_equal(r->body_len, 0);
    assert_string_equal(headers_of(r),
                        "Accept: a/b|X-Both: class|X-Num: 5|X-T: true|Content-Type:|Expect:");
    r = task_req(a, 7, 0);
    assert_string_equal(r->body, "\"x\\\"y\"");

    /* a class Content-Type wins over the default of a json body */
    r = task_req(sc->run[1], 0, 0);
    assert_string_equal(r->body, "[1,2]");
    assert_string_equal(headers_of(r), "Content-Type: application/vnd.x+json|Expect:");
    r = task_req(sc->run[1], 1, 0);
    assert_string_equal(headers_of(r), "Content-Type: application/vnd.x+json");
    scenario_free(sc);
}

static void test_request_shorthand_and_task_names(void **state)
{
    (void)state;
    scenario *sc = load("{\"users\": [{\"name\": \"A\", \"tasks\": [\n"
                        "  {\"request\": \"POST /x\"},\n"
                        "  {\"request\": \"/y?a=1\"},\n"
                        "  {\"request\": \"delete   /z\"},\n"
                        "  {\"steps\": [{\"think\": 1}, {\"request\": \"PUT http://h/abs\"}]},\n"
                        "  {\"steps\": [{\"think\": 1}]},\n"
                        "  {\"request\": {\"url\": \"/s\", \"query\": {\"q\": \"a b\"}}},\n"
                        "  {\"request\": {\"url\": \"/item/7\", \"name\": \"/item/[id]\"}},\n"
                        "  {\"request\": {\"url\": \"/o\", \"method\": \"options\"}},\n"
                        "  {\"request\": \"M-SEARCH /ssdp\"}]}]}");
    const uclass *a = sc->run[0];
    assert_int_equal(a->ntasks, 9);
    assert_string_equal(a->tasks[0].name, "POST /x");
    assert_string_equal(task_req(a, 0, 0)->method, "POST");
    assert_string_equal(task_req(a, 0, 0)->url, "/x");
    assert_string_equal(a->tasks[1].name, "GET /y?a=1");
    assert_string_equal(task_req(a, 1, 0)->method, "GET");
    assert_string_equal(a->tasks[2].name, "DELETE /z");
    assert_string_equal(task_req(a, 2, 0)->url, "/z");
    assert_string_equal(a->tasks[3].name, "PUT http://h/abs");
    assert_string_equal(task_req(a, 3, 1)->url, "http://h/abs");
    assert_string_equal(a->tasks[4].name, "task 5");
    assert_string_equal(a->tasks[5].name, "GET /s?q=a+b");
    assert_string_equal(a->tasks[6].name, "GET /item/[id]");
    assert_string_equal(task_req(a, 6, 0)->name, "/item/[id]");
    assert_true(task_req(a, 6, 0)->name_explicit);
    assert_string_equal(a->tasks[7].name, "OPTIONS /o");
    assert_string_equal(a->tasks[8].name, "M-SEARCH /ssdp");
    scenario_free(sc);
}

static void assert_query(const char *request, const char *want_url)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": %s}]}]}",
             request);
    scenario *sc = load(text);
    const req_step *r = task_req(sc->run[0], 0, 0);
    if (strcmp(r->url, want_url) != 0)
        fail_msg("%s gave \"%s\", want \"%s\"", request, r->url, want_url);
    scenario_free(sc);
}

static void test_query(void **state)
{
    (void)state;
    assert_query("{\"url\": \"/s\", \"query\": {\"q\": \"a b\", \"x\": \"\\u00e9&=/?#+%\"}}",
                 "/s?q=a+b&x=%C3%A9%26%3D%2F%3F%23%2B%25");
    assert_query(
        "{\"url\": \"/s\", \"query\": {\"safe\": \"AZaz09-._~\", \"n\": 1.50, \"t\": true}}",
        "/s?safe=AZaz09-._~&n=1.50&t=true");
    assert_query(
        "{\"url\": \"/s\", \"query\": [[\"k\", \"1\"], [\"k\", 2], [\"f\", false], [3, \"x\"]]}",
        "/s?k=1&k=2&f=false&3=x");
    assert_query("{\"url\": \"/s?a=1\", \"query\": {\"b\": \"2\"}}", "/s?a=1&b=2");
    assert_query("{\"url\": \"/s?\", \"query\": {\"b\": \"2\"}}", "/s?b=2");
    assert_query("{\"url\": \"/s#top\", \"query\": {\"b\": \"2\"}}", "/s?b=2#top");
    assert_query("{\"url\": \"/s?a=1#top\", \"query\": [[\"b\", \"2\"]]}", "/s?a=1&b=2#top");
    assert_query("{\"url\": \"/s\", \"query\": {}}", "/s");
    assert_query("{\"url\": \"/s?a=1\", \"query\": []}", "/s?a=1");
    assert_query("{\"url\": \"http://h:1/p\", \"query\": {\"\": \"\"}}", "http://h:1/p?=");
}

/* ---- selection, tags, weights ------------------------------------------------------- */

static const char *const three_classes =
    "{\"users\": [\n"
    " {\"name\": \"A\", \"weight\": 5, \"tasks\": [\n"
    "   {\"name\": \"a1\", \"weight\": 3, \"tags\": [\"x\"], \"request\": \"/a1\"},\n"
    "   {\"name\": \"a2\", \"weight\": 7, \"tags\": [\"y\", \"slow\"], \"request\": \"/a2\"},\n"
    "   {\"name\": \"a3\", \"request\": \"/a3\"}]},\n"
    " {\"name\": \"B\", \"tasks\": [\n"
    "   {\"name\": \"b1\", \"tags\": [\"z\"], \"request\": \"/b1\"}]},\n"
    " {\"name\": \"C\", \"weight\": 2, \"tasks\": [{\"name\": \"c1\", \"request\": \"/c1\"}]}]}";

static void assert_tasks(const uclass *u, const char *want)
{
    char got[256] = "";
    for (int i = 0; i < u->ntasks; i++) {
        char one[64];
        snprintf(one, sizeof one, "%s%s:%d", i ? " " : "", u->tasks[i].name, u->tasks[i].weight);
        strcat(got, one);
    }
    assert_string_equal(got, want);
}

static void test_tags(void **state)
{
    (void)state;
    char *x[] = {"x"}, *y[] = {"y"}, *xy[] = {"x", "y"}, *slow[] = {"slow"}, *none[] = {"nope"};

    sbuf_reset(&logged);
    scenario_opts o = {.tags = x, .ntags = 1};
    scenario *sc = load_opts(three_classes, &o);
    assert_int_equal(sc->nrun, 1);
    assert_string_equal(sc->run[0]->name, "A");
    assert_tasks(sc->run[0], "a1:3");
    assert_int_equal(sc->nall, 3);
    /* classes left with no task are skipped, with a warning */
    assert_string_equal(
        sbuf_str(&logged),
        "30 User class B had no tasks left after filtering by tags; it will not run\n"
        "30 User class C had no tasks left after filtering by tags; it will not run\n");
    scenario_free(sc);

    o = (scenario_opts){.exclude_tags = x, .nexclude_tags = 1};
    sc = load_opts(three_classes, &o);
    assert_int_equal(sc->nrun, 3);
    assert_tasks(sc->run[0], "a2:7 a3:1");
    assert_tasks(sc->run[1], "b1:1");
    assert_tasks(sc->run[2], "c1:1");
    assert_int_equal(sc->run[0]->total_weight, 8); /* prepared after filtering */
    scenario_free(sc);

    sbuf_reset(&logged);
    o = (scenario_opts){.tags = xy, .ntags = 2, .exclude_tags = slow, .nexclude_tags = 1};
    sc = load_opts(three_classes, &o);
    assert_int_equal(sc->nrun, 1);
    assert_tasks(sc->run[0], "a1:3");
    scenario_free(sc);

    o = (scenario_opts){.tags = y, .ntags = 1, .equal_weights = true};
    sc = load_opts(three_classes, &o);
    assert_tasks(sc->run[0], "a2:1");
    scenario_free(sc);

    o = (scenario_opts){.tags = none, .ntags = 1};
    expect_error_opts(three_classes, &o,
                      "No tasks left to run after filtering by --tags/--exclude-tags.");
    char *all[] = {"x", "y", "z"};
    o = (scenario_opts){.exclude_tags = all, .nexclude_tags = 3};
    sc = load_opts(three_classes, &o);
    assert_int_equal(sc->nrun, 2); /* a3 and c1 have no tags */
    assert_tasks(sc->run[0], "a3:1");
    assert_tasks(sc->run[1], "c1:1");
    scenario_free(sc);
}

static void test_class_selection(void **state)
{
    (void)state;
    char *ca[] = {"C", "A"};
    scenario_opts o = {.classes = ca, .nclasses = 2};
    scenario *sc = load_opts(three_classes, &o);
    assert_int_equal(sc->nrun, 2);
    assert_string_equal(sc->run[0]->name, "A"); /* file order, not argument order */
    assert_string_equal(sc->run[1]->name, "C");
    assert_int_equal(sc->nall, 3);
    scenario_free(sc);

    char *bad[] = {"X", "A", "Y"};
    o = (scenario_opts){.classes = bad, .nclasses = 3};
    expect_error_opts(three_classes, &o, "Unknown User(s): X, Y");
    char *one[] = {"b"};
    o = (scenario_opts){.classes = one, .nclasses = 1};
    expect_error_opts(three_classes, &o, "Unknown User(s): b");

    /* selection and tags together: the selected class loses all its tasks */
    char *b[] = {"B"}, *x[] = {"x"};
    o = (scenario_opts){.classes = b, .nclasses = 1, .tags = x, .ntags = 1};
    expect_error_opts(three_classes, &o,
                      "No tasks left to run after filtering by --tags/--exclude-tags.");

    /* --list: every class, whatever the selection and the tags say (Locust lists first) */
    o = (scenario_opts){.classes = bad, .nclasses = 3, .tags = x, .ntags = 1,
                        .list_only = true};
    sc = load_opts(three_classes, &o);
    assert_int_equal(sc->nall, 3);
    assert_int_equal(sc->nrun, 0);
    assert_string_equal(sc->all[0].name, "A");
    assert_string_equal(sc->all[2].name, "C");
    scenario_free(sc);
}

static void test_weights(void **state)
{
    (void)state;
    scenario *sc = load(
        "{\"users\": [\n"
        " {\"name\": \"Z\", \"weight\": 0, \"tasks\": [{\"request\": \"/z\"}]},\n"
        " {\"name\": \"F\", \"weight\": 0, \"fixed_count\": 3,\n"
        "  \"tasks\": [{\"request\": \"/f\"}]},\n"
        " {\"name\": \"W\", \"weight\": 2, \"tasks\": [{\"request\": \"/w\"}]}]}");
    assert_int_equal(sc->nall, 3);
    assert_int_equal(sc->nrun, 2);
    assert_string_equal(sc->run[0]->name, "F");
    assert_string_equal(sc->run[1]->name, "W");
    scenario_free(sc);

    expect_error(
        "{\"users\": [{\"name\": \"Z\", \"weight\": 0, \"tasks\": [{\"request\": \"/z\"}]}]}",
        "There are no users with weight > 0.");
    char *z[] = {"Z"};
    scenario_opts o = {.classes = z, .nclasses = 1};
    expect_error_opts(
        "{\"users\": [{\"name\": \"Z\", \"weight\": 0, \"tasks\": [{\"request\": \"/z\"}]},"
        " {\"name\": \"Y\", \"tasks\": [{\"request\": \"/y\"}]}]}",
        &o, "There are no users with weight > 0.");

    /* --equal-weights: every class and task weighs 1; weight-0 classes are still dropped
     * first, as Locust drops them before its init event applies the option */
    o = (scenario_opts){.equal_weights = true};
    sc = load_opts(three_classes, &o);
    assert_int_equal(sc->nrun, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sc->run[i]->weight, 1);
    assert_tasks(sc->run[0], "a1:1 a2:1 a3:1");
    assert_int_equal(sc->run[0]->total_weight, 3);
    scenario_free(sc);
    sc = load_opts(
        "{\"users\": [{\"name\": \"Z\", \"weight\": 0, \"tasks\": [{\"request\": \"/z\"}]},\n"
        " {\"name\": \"F\", \"weight\": 0, \"fixed_count\": 2,\n"
        "  \"tasks\": [{\"request\": \"/f\"}]},\n"
        " {\"name\": \"W\", \"weight\": 9, \"tasks\": [{\"request\": \"/w\"}]}]}",
        &o);
    assert_int_equal(sc->nrun, 2);
    assert_string_equal(sc->run[0]->name, "F");
    assert_int_equal(sc->run[0]->weight, 1);
    assert_int_equal(sc->run[0]->fixed_count, 2);
    assert_string_equal(sc->run[1]->name, "W");
    assert_int_equal(sc->run[1]->weight, 1);
    scenario_free(sc);
    expect_error_opts(
        "{\"users\": [{\"name\": \"Z\", \"weight\": 0, \"tasks\": [{\"request\": \"/z\"}]}]}", &o,
        "There are no users with weight > 0.");
}

/* ---- hosts -------------------------------------------------------------------------- */

static void test_resolve_hosts(void **state)
{
    (void)state;
    scenario *sc = load("{\"host\": \"http://file\", \"users\": [\n"
                        " {\"name\": \"A\", \"host\": \"http://cls/api\", \"tasks\": [\n"
                        "   {\"request\": \"/x\"},\n"
                        "   {\"request\": \"http://abs:9/p?q=1#frag\"},\n"
                        "   {\"request\": {\"url\": \"/n/7\", \"name\": \"/n/[id]\"}}]},\n"
                        " {\"name\": \"B\", \"tasks\": [{\"request\": \"/x\"}],\n"
                        "  \"on_start\": [{\"request\": \"/login\"}]}]}");
    assert_int_equal(scenario_resolve(sc, NULL, err, sizeof err), 0);
    const uclass *a = sc->run[0], *b = sc->run[1];
    assert_string_equal(task_req(a, 0, 0)->abs_url, "http://cls/api/x");
    assert_string_equal(task_req(a, 0, 0)->name, "/api/x");
    assert_string_equal(task_req(a, 0, 0)->req.url, "http://cls/api/x");
    assert_string_equal(task_req(a, 1, 0)->abs_url, "http://abs:9/p?q=1#frag");
    assert_string_equal(task_req(a, 1, 0)->name, "/p?q=1");
    assert_string_equal(task_req(a, 2, 0)->name, "/n/[id]");
    assert_string_equal(task_req(a, 2, 0)->abs_url, "http://cls/api/n/7");
    assert_string_equal(task_req(b, 0, 0)->abs_url, "http://file/x");
    assert_string_equal(task_req(b, 0, 0)->name, "/x");
    const program *ps = b->on_start.data;
    assert_string_equal(ps->steps[0].r.abs_url, "http://file/login");
    assert_null(scenario_host(sc, NULL)); /* the classes disagree */

    /* --host overrides every class and the file */
    assert_int_equal(scenario_resolve(sc, "http://o:1/v2/", err, sizeof err), 0);
    assert_string_equal(task_req(a, 0, 0)->abs_url, "http://o:1/v2/x");
    assert_string_equal(task_req(a, 0, 0)->name, "/v2/x");
    assert_string_equal(task_req(a, 1, 0)->abs_url, "http://abs:9/p?q=1#frag");
    assert_string_equal(task_req(b, 0, 0)->abs_url, "http://o:1/v2/x");
    assert_string_equal(ps->steps[0].r.abs_url, "http://o:1/v2/login");
    const char *host = "http://o:1/v2/";
    assert_ptr_equal(scenario_host(sc, host), host);

    assert_int_equal(scenario_resolve(sc, "localhost:8080", err, sizeof err), -1);
    assert_string_equal(err, "--host \"localhost:8080\" must be a base URL such as "
                             "\"http://127.0.0.1:8080\"");
    scenario_free(sc);

    /* one host for all: the file's, or the one class's */
    sc = load("{\"host\": \"http://file\", \"users\": [\n"
              " {\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]},\n"
              " {\"name\": \"B\", \"tasks\": [{\"request\": \"/x\"}]}]}");
    assert_string_equal(scenario_host(sc, NULL), "http://file");
    scenario_free(sc);
    sc = load("{\"users\": [{\"name\": \"A\", \"host\": \"http://h\",\n"
              "  \"tasks\": [{\"request\": \"/x\"}]}]}");
    assert_string_equal(scenario_host(sc, NULL), "http://h");
    scenario_free(sc);
    /* one class with a host, one without: no common host */
    sc = load("{\"users\": [{\"name\": \"A\", \"host\": \"http://h\",\n"
              "  \"tasks\": [{\"request\": \"/x\"}]},\n"
              " {\"name\": \"B\", \"tasks\": [{\"request\": \"http://abs/x\"}]}]}");
    assert_null(scenario_host(sc, NULL));
    assert_int_equal(scenario_resolve(sc, NULL, err, sizeof err), 0);
    assert_string_equal(task_req(sc->run[1], 0, 0)->name, "/x");
    scenario_free(sc);
}

static void test_resolve_without_host(void **state)
{
    (void)state;
    const char *text = "{\"users\": [{\"name\": \"A\", \"tasks\": [\n"
                       "  {\"name\": \"t\", \"steps\": [{\"request\": \"http://h/ok\"},\n"
                       "                          {\"request\": \"/rel\"}]}]}]}";
    scenario *sc = load(text);
    assert_int_equal(scenario_resolve(sc, NULL, err, sizeof err), -1);
    assert_string_equal(err, "s.json:3:27 (user class \"A\", task \"t\", step 2): relative URL "
                             "\"/rel\" but no host: set \"host\" in the scenario or its user "
                             "class, or use --host");
    assert_string_equal(pos_of(text, "{\"request\": \"/rel"), "s.json:3:27");
    assert_int_equal(scenario_resolve(sc, "http://given", err, sizeof err), 0);
    assert_string_equal(task_req(sc->run[0], 0, 1)->abs_url, "http://given/rel");
    scenario_free(sc);

    text = "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}],\n"
           "  \"on_stop\": [{\"think\": 1}, {\"request\": \"POST /bye\"}]}]}";
    sc = load(text);
    assert_string_equal(pos_of(text, "{\"request\": \"POST"), "s.json:2:29");
    /* on_start and on_stop are resolved before the tasks, so on_stop is named here */
    assert_int_equal(scenario_resolve(sc, NULL, err, sizeof err), -1);
    assert_string_equal(err, "s.json:2:29 (user class \"A\", on_stop, step 2): relative URL "
                             "\"/bye\" but no host: set \"host\" in the scenario or its user "
                             "class, or use --host");
    scenario_free(sc);

    text = "{\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"http://h/x\"},\n"
           "  {\"request\": \"/y\"}]}]}";
    sc = load(text);
    assert_string_equal(pos_of(text, "\"/y\""), "s.json:2:15");
    assert_int_equal(scenario_resolve(sc, NULL, err, sizeof err), -1);
    assert_string_equal(err, "s.json:2:15 (user class \"A\", task 2): relative URL \"/y\" but no "
                             "host: set \"host\" in the scenario or its user class, or use --host");
    scenario_free(sc);
}

/* ---- finding the file --------------------------------------------------------------- */

static void test_find(void **state)
{
    (void)state;
    char *p = scenario_find("given.json", false, err, sizeof err);
    assert_string_equal(p, "given.json");
    free(p);

    assert_int_equal(mkdir("proj", 0755), 0);
    assert_int_equal(mkdir("proj/a", 0755), 0);
    assert_int_equal(mkdir("proj/a/b", 0755), 0);
    write_file("proj/locustfile.json", "{}");
    char proj[PATH_MAX], want[PATH_MAX + 32];
    assert_non_null(realpath("proj", proj));
    snprintf(want, sizeof want, "%s/locustfile.json", proj);

    assert_int_equal(chdir("proj/a/b"), 0);
    p = scenario_find(SCENARIO_DEFAULT_FILE, true, err, sizeof err);
    assert_non_null(p);
    assert_string_equal(p, want);
    free(p);
    assert_int_equal(chdir(".."), 0);
    p = scenario_find(SCENARIO_DEFAULT_FILE, true, err, sizeof err);
    assert_string_equal(p, want);
    free(p);
    assert_int_equal(chdir(".."), 0);
    p = scenario_find(SCENARIO_DEFAULT_FILE, true, err, sizeof err);
    assert_string_equal(p, "locustfile.json"); /* right here: the plain name */
    free(p);
    assert_int_equal(chdir(tmpdir), 0);

    /* nowhere up to the root */
    assert_int_equal(mkdir("empty", 0755), 0);
    assert_int_equal(mkdir("empty/deep", 0755), 0);
    assert_int_equal(chdir("empty/deep"), 0);
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/../locustfile.json", tmpdir);
    if (access("/tmp/locustfile.json", F_OK) == 0 || access("/locustfile.json", F_OK) == 0 ||
        access(probe, F_OK) == 0) {
        assert_int_equal(chdir(tmpdir), 0);
        skip();
    }
    err[0] = '\0';
    assert_null(scenario_find(SCENARIO_DEFAULT_FILE, true, err, sizeof err));
    assert_string_equal(err, "Could not find 'locustfile.json'. See --help for available options.");
    assert_int_equal(chdir(tmpdir), 0);
}

/* A worker (opts.root: its copy of the master's files) reads nothing outside that copy:
 * a data file "../" above it is refused; one inside, relative or absolute, loads. */
static void test_root_confines_files(void **state)
{
    (void)state;
    char root[PATH_MAX + 16], path[PATH_MAX + 64], text[1024];
    snprintf(root, sizeof root, "%s/root", tmpdir);
    assert_int_equal(mkdir("root", 0700), 0);
    assert_int_equal(mkdir("root/t", 0700), 0);
    write_file("root/in.csv", "user,pass\na,b\n");
    write_file("out.csv", "user,pass\nsecret,s3cret\n");
    scenario_opts o = {.root = root};
    snprintf(path, sizeof path, "%s/t/s.json", root);
    static const char *const ok[] = {"../in.csv", "/in.csv"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(text, sizeof text, "{\"data\": {\"d\": {\"file\": \"%s\"}},\n"
                 "\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]}]}", ok[i]);
        write_file("root/t/s.json", text);
        err[0] = '\0';
        scenario *sc = scenario_load(path, &o, err, sizeof err);
        if (!sc)
            fail_msg("%s: %s", ok[i], err);
        scenario_free(sc);
    }
    static const char *const bad[] = {"../../out.csv", "/../out.csv", "/t/../../out.csv"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(text, sizeof text, "{\"data\": {\"d\": {\"file\": \"%s\"}},\n"
                 "\"users\": [{\"name\": \"A\", \"tasks\": [{\"request\": \"/x\"}]}]}", bad[i]);
        write_file("root/t/s.json", text);
        err[0] = '\0';
        assert_null(scenario_load(path, &o, err, sizeof err));
        if (!strstr(err, "outside the files the master sent"))
            fail_msg("%s: %s", bad[i], err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_top_level_not_object),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_missing_and_empty),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types_top_and_class),
        cmocka_unit_test(test_wrong_types_task_and_step),
        cmocka_unit_test(test_wrong_types_request),
        cmocka_unit_test(test_wrong_types_think_and_wait),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_variable_names),
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_bad_hosts),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_class_settings),
        cmocka_unit_test(test_headers_and_bodies),
        cmocka_unit_test(test_request_shorthand_and_task_names),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_class_selection),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_resolve_hosts),
        cmocka_unit_test(test_resolve_without_host),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_root_confines_files),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
