/* Tests for engine/jsonck.c: the "file:line:col: message" format and its truncation, the
 * article in wrong-type messages, unknown keys with suggestions or the list of allowed
 * keys, every typed getter (absent, wrong type, bounds, NUL in strings), choices, scalars
 * as text and string columns with multi-byte characters.
 *
 * Inputs are parsed with json_parse; their values sit on known lines and columns, so
 * every message is compared whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "jsonck.h"

static char err[512];
static jck ck = {"f.json", err, sizeof err};

static json_value *parse(const char *text)
{
    json_error je;
    json_value *v = json_parse(text, strlen(text), 0, &je);
    if (!v)
        fail_msg("bad test input %s: %u:%u: %s", text, je.line, je.col, je.msg);
    err[0] = '\0';
    return v;
}

static void assert_err(const char *want)
{
    if (strcmp(err, want) != 0)
        fail_msg("error\n  got:  %s\n  want: %s", err, want);
}

/* ---- jck_fail ------------------------------------------------------------------------- */

static void test_fail_format(void **state)
{
    (void)state;
    assert_int_equal(jck_fail(&ck, 3, 14, "bad %s %d", "thing", 7), -1);
    assert_err("f.json:3:14: bad thing 7");
    assert_int_equal(jck_fail(&ck, 1, 1, "%s", ""), -1);
    assert_err("f.json:1:1: ");
}

static void test_fail_truncates_to_the_buffer(void **state)
{
    (void)state;
    char small[12];
    jck c = {"f.json", small, sizeof small};
    /* the message is cut at the buffer's end, and stays terminated */
    assert_int_equal(jck_fail(&c, 2, 5, "a long message"), -1);
    assert_string_equal(small, "f.json:2:5:");
    char tiny[6];
    jck t = {"f.json", tiny, sizeof tiny};
    assert_int_equal(jck_fail(&t, 2, 5, "x"), -1);
    assert_string_equal(tiny, "f.jso");
    char fits[16];
    jck f = {"f.json", fits, sizeof fits};
    assert_int_equal(jck_fail(&f, 2, 5, "abcdefgh"), -1);
    assert_string_equal(fits, "f.json:2:5: abc");
}

/* ---- jck_wrong_type ------------------------------------------------------------------- */

static void test_wrong_type_articles(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"null", "f.json:1:1: \"k\" must be a string, not a null"},
        {"true", "f.json:1:1: \"k\" must be a string, not a boolean"},
        {"false", "f.json:1:1: \"k\" must be a string, not a boolean"},
        {"1.5", "f.json:1:1: \"k\" must be a string, not a number"},
        {"\"s\"", "f.json:1:1: \"k\" must be a string, not a string"},
        {"[1]", "f.json:1:1: \"k\" must be a string, not an array"},
        {"{}", "f.json:1:1: \"k\" must be a string, not an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_value *v = parse(cases[i].text);
        assert_int_equal(jck_wrong_type(&ck, v, "k", "a string"), -1);
        assert_err(cases[i].want);
        json_free(v);
    }
    /* the position is the value's */
    json_value *v = parse("{\n  \"a\":   [1]}");
    assert_int_equal(jck_wrong_type(&ck, json_get(v, "a"), "a", "an object"), -1);
    assert_err("f.json:2:10: \"a\" must be an object, not an array");
    json_free(v);
}

/* ---- jck_keys ------------------------------------------------------------------------- */

static const char *const allowed[] = {"weight", "name", "tasks", "description", NULL};

static void keys_error(const char *text, const char *want)
{
    json_value *v = parse(text);
    assert_int_equal(jck_keys(&ck, v, "task", allowed), -1);
    assert_err(want);
    json_free(v);
}

static void test_keys(void **state)
{
    (void)state;
    json_value *v = parse("{\"name\": 1, \"weight\": 2, \"tasks\": 3}");
    assert_int_equal(jck_keys(&ck, v, "task", allowed), 0);
    assert_err("");
    json_free(v);
    v = parse("{}");
    assert_int_equal(jck_keys(&ck, v, "task", allowed), 0);
    json_free(v);

    /* near misses (fewer than 3 edits, case-insensitive) are suggested */
    keys_error("{\"name\": 1, \"wieght\": 2}",
               "f.json:1:13: unknown key \"wieght\" in task (did you mean \"weight\"?)");
    keys_error("{\"Name\": 1}", "f.json:1:2: unknown key \"Name\" in task (did you mean \"name\"?)");
    keys_error("{\"task\": 1}", "f.json:1:2: unknown key \"task\" in task (did you mean \"tasks\"?)");
    keys_error("{\"nm\": 1}", "f.json:1:2: unknown key \"nm\" in task (did you mean \"name\"?)");
    keys_error("{\"xame\": 1}", "f.json:1:2: unknown key \"xame\" in task (did you mean \"name\"?)");
    /* the closest one wins; a tie goes to the first allowed */
    static const char *const close[] = {"abcd", "abxy", "abce", NULL};
    v = parse("{\"abce\": 0, \"abcx\": 1}");
    assert_int_equal(jck_keys(&ck, v, "thing", close), -1);
    assert_err("f.json:1:13: unknown key \"abcx\" in thing (did you mean \"abcd\"?)");
    json_free(v);
    v = parse("{\"aby\": 1}");
    assert_int_equal(jck_keys(&ck, v, "thing", close), -1);
    assert_err("f.json:1:2: unknown key \"aby\" in thing (did you mean \"abxy\"?)");
    json_free(v);
    /* otherwise every allowed key is listed */
    keys_error("{\"steps\": 1}",
               "f.json:1:2: unknown key \"steps\" in task (expected one of: weight, name, tasks, "
               "description)");
    keys_error("{\"\": 1}",
               "f.json:1:2: unknown key \"\" in task (expected one of: weight, name, tasks, "
               "description)");
    /* keys longer than 40 characters are never near */
    keys_error("{\"nameeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\": 1}",
               "f.json:1:2: unknown key \"nameeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\" in "
               "task (expected one of: weight, name, tasks, description)");
    /* a NUL inside a key never equals an allowed key */
    keys_error("{\"name\\u0000x\": 1}",
               "f.json:1:2: unknown key \"name\" in task (did you mean \"name\"?)");
    /* the first unknown key is reported, on its own line */
    keys_error("{\"name\": 1,\n   \"wait\": 2, \"zzzzzzzz\": 3}",
               "f.json:2:4: unknown key \"wait\" in task (expected one of: weight, name, tasks, "
               "description)");
}

/* ---- typed getters -------------------------------------------------------------------- */

static void test_string(void **state)
{
    (void)state;
    json_value *v = parse("{\"s\": \"abc\", \"e\": \"\", \"n\": 5, \"z\": \"a\\u0000b\"}");
    const char *out = "untouched";
    assert_int_equal(jck_string(&ck, v, "absent", &out), 0);
    assert_string_equal(out, "untouched");
    assert_int_equal(jck_string(&ck, v, "s", &out), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(jck_string(&ck, v, "e", &out), 0);
    assert_string_equal(out, "");
    out = "untouched";
    assert_int_equal(jck_string(&ck, v, "n", &out), -1);
    assert_err("f.json:1:28: \"n\" must be a string, not a number");
    assert_string_equal(out, "untouched");
    assert_int_equal(jck_string(&ck, v, "z", &out), -1);
    assert_err("f.json:1:36: \"z\" must not contain NUL characters");
    assert_string_equal(out, "untouched");
    json_free(v);
}

static void test_int(void **state)
{
    (void)state;
    json_value *v = parse("{\"a\": 5, \"lo\": -3, \"f\": 1.5, \"e\": 1e2, \"s\": \"5\", "
                          "\"big\": 99999999999999999999, \"z\": -0}");
    long out = 42;
    assert_int_equal(jck_int(&ck, v, "absent", 0, 10, &out), 0);
    assert_int_equal(out, 42);
    assert_int_equal(jck_int(&ck, v, "a", 0, 10, &out), 0);
    assert_int_equal(out, 5);
    /* bounds are inclusive */
    assert_int_equal(jck_int(&ck, v, "a", 5, 5, &out), 0);
    assert_int_equal(jck_int(&ck, v, "lo", -3, 0, &out), 0);
    assert_int_equal(out, -3);
    assert_int_equal(jck_int(&ck, v, "z", 0, 1, &out), 0);
    assert_int_equal(out, 0);
    out = 42;
    assert_int_equal(jck_int(&ck, v, "a", 6, 9, &out), -1);
    assert_err("f.json:1:7: \"a\" must be between 6 and 9, not 5");
    assert_int_equal(out, 42);
    assert_int_equal(jck_int(&ck, v, "lo", 0, 1000000, &out), -1);
    assert_err("f.json:1:16: \"lo\" must be between 0 and 1000000, not -3");
    assert_int_equal(jck_int(&ck, v, "f", 0, 10, &out), -1);
    assert_err("f.json:1:25: \"f\" must be an integer, not a number");
    assert_int_equal(jck_int(&ck, v, "e", 0, 1000, &out), -1);
    assert_err("f.json:1:35: \"e\" must be an integer, not a number");
    assert_int_equal(jck_int(&ck, v, "s", 0, 10, &out), -1);
    assert_err("f.json:1:45: \"s\" must be an integer, not a string");
    assert_int_equal(jck_int(&ck, v, "big", 0, 10, &out), -1);
    assert_err("f.json:1:57: \"big\" must be an integer, not a number");
    assert_int_equal(out, 42);
    json_free(v);
}

static void test_bool(void **state)
{
    (void)state;
    json_value *v = parse("{\"t\": true, \"f\": false, \"n\": null, \"s\": \"true\"}");
    bool out = true;
    assert_int_equal(jck_bool(&ck, v, "absent", &out), 0);
    assert_true(out);
    assert_int_equal(jck_bool(&ck, v, "f", &out), 0);
    assert_false(out);
    assert_int_equal(jck_bool(&ck, v, "t", &out), 0);
    assert_true(out);
    assert_int_equal(jck_bool(&ck, v, "n", &out), -1);
    assert_err("f.json:1:30: \"n\" must be true or false, not a null");
    assert_int_equal(jck_bool(&ck, v, "s", &out), -1);
    assert_err("f.json:1:41: \"s\" must be true or false, not a string");
    assert_true(out);
    json_free(v);
}

static void test_number(void **state)
{
    (void)state;
    json_value *v = parse("{\"a\": 0.5, \"z\": 0, \"neg\": -1e-3, \"s\": \"1\", \"i\": 7, "
                          "\"w\": 0.0}");
    double out = 9;
    assert_int_equal(jck_number(&ck, v, "absent", 0, true, &out), 0);
    assert_true(out == 9);
    assert_int_equal(jck_number(&ck, v, "a", 0, true, &out), 0);
    assert_true(out == 0.5);
    assert_int_equal(jck_number(&ck, v, "i", 0, true, &out), 0);
    assert_true(out == 7);
    /* at least lo, or greater than lo when strict */
    assert_int_equal(jck_number(&ck, v, "z", 0, false, &out), 0);
    assert_true(out == 0);
    out = 9;
    assert_int_equal(jck_number(&ck, v, "z", 0, true, &out), -1);
    assert_err("f.json:1:17: \"z\" must be greater than 0, not 0");
    assert_int_equal(jck_number(&ck, v, "w", 0, true, &out), -1);
    assert_err("f.json:1:57: \"w\" must be greater than 0, not 0.0");
    assert_int_equal(jck_number(&ck, v, "neg", 0, false, &out), -1);
    assert_err("f.json:1:27: \"neg\" must be at least 0, not -1e-3");
    assert_int_equal(jck_number(&ck, v, "a", 0.75, false, &out), -1);
    assert_err("f.json:1:7: \"a\" must be at least 0.75, not 0.5");
    assert_int_equal(jck_number(&ck, v, "a", 0.5, true, &out), -1);
    assert_err("f.json:1:7: \"a\" must be greater than 0.5, not 0.5");
    assert_int_equal(jck_number(&ck, v, "s", 0, false, &out), -1);
    assert_err("f.json:1:39: \"s\" must be a number, not a string");
    assert_true(out == 9);
    /* the value form names the key it is given, at the value */
    assert_int_equal(jck_number_value(&ck, json_get(v, "i"), "max", 10, false, &out), -1);
    assert_err("f.json:1:49: \"max\" must be at least 10, not 7");
    assert_int_equal(jck_number_value(&ck, v, "min", 0, false, &out), -1);
    assert_err("f.json:1:1: \"min\" must be a number, not an object");
    assert_int_equal(jck_number_value(&ck, json_get(v, "i"), "max", 7, false, &out), 0);
    assert_true(out == 7);
    json_free(v);
}

static void test_choice(void **state)
{
    (void)state;
    static const char *const one[] = {"only", NULL};
    static const char *const two[] = {"user", "task", NULL};
    static const char *const three[] = {"user", "shared", "request", NULL};
    json_value *v = parse("{\"c\": \"shared\", \"x\": \"pool\", \"n\": 3, \"z\": \"us\\u0000er\"}");
    int out = -1;
    assert_int_equal(jck_choice(&ck, v, "absent", three, &out), 0);
    assert_int_equal(out, -1);
    assert_int_equal(jck_choice(&ck, v, "c", three, &out), 0);
    assert_int_equal(out, 1);
    out = -1;
    assert_int_equal(jck_choice(&ck, v, "x", one, &out), -1);
    assert_err("f.json:1:22: \"x\" must be \"only\", not \"pool\"");
    assert_int_equal(jck_choice(&ck, v, "x", two, &out), -1);
    assert_err("f.json:1:22: \"x\" must be \"user\" or \"task\", not \"pool\"");
    assert_int_equal(jck_choice(&ck, v, "x", three, &out), -1);
    assert_err("f.json:1:22: \"x\" must be \"user\", \"shared\" or \"request\", not \"pool\"");
    assert_int_equal(jck_choice(&ck, v, "n", three, &out), -1);
    assert_err("f.json:1:35: \"n\" must be a string, not a number");
    assert_int_equal(jck_choice(&ck, v, "z", three, &out), -1);
    assert_err("f.json:1:43: \"z\" must not contain NUL characters");
    assert_int_equal(out, -1);
    json_free(v);
}

/* ---- scalars -------------------------------------------------------------------------- */

static void test_scalar(void **state)
{
    (void)state;
    json_value *v = parse("[\"a\\u0000b\", 1.50, -0, true, false, null, [], {}, \"\"]");
    const char *s = NULL;
    size_t n = 99;
    assert_true(jck_scalar(&v->arr.items[0], &s, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(s, "a\0b", 3);
    assert_true(jck_scalar(&v->arr.items[1], &s, &n));
    assert_string_equal(s, "1.50");     /* numbers as written */
    assert_int_equal(n, 4);
    assert_true(jck_scalar(&v->arr.items[2], &s, &n));
    assert_string_equal(s, "-0");
    assert_int_equal(n, 2);
    assert_true(jck_scalar(&v->arr.items[3], &s, &n));
    assert_string_equal(s, "true");
    assert_int_equal(n, 4);
    assert_true(jck_scalar(&v->arr.items[4], &s, &n));
    assert_string_equal(s, "false");
    assert_int_equal(n, 5);
    assert_true(jck_scalar(&v->arr.items[8], &s, &n));
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    s = "untouched";
    n = 99;
    for (int i = 5; i <= 7; i++)
        assert_false(jck_scalar(&v->arr.items[i], &s, &n));
    assert_string_equal(s, "untouched");
    assert_int_equal(n, 99);

    assert_int_equal(jck_scalar_text(&ck, &v->arr.items[1], "a header value", &s, &n), 0);
    assert_string_equal(s, "1.50");
    assert_int_equal(jck_scalar_text(&ck, &v->arr.items[5], "a header value", &s, &n), -1);
    assert_err("f.json:1:37: a header value must be a string, number or boolean, not a null");
    assert_int_equal(jck_scalar_text(&ck, &v->arr.items[6], "\"default\"", &s, &n), -1);
    assert_err("f.json:1:43: \"default\" must be a string, number or boolean, not an array");
    assert_int_equal(jck_scalar_text(&ck, &v->arr.items[7], "x", &s, &n), -1);
    assert_err("f.json:1:47: x must be a string, number or boolean, not an object");
    json_free(v);
}

/* ---- string columns ------------------------------------------------------------------- */

static void test_string_col(void **state)
{
    (void)state;
    /* the value's quote is at column 3: its first character is at column 4 */
    json_value *v = parse("[ \"ab{{x}}\", \"\xc3\xa9\xc3\xa9{{x}}\", \"\xe6\x97\xa5\xf0\x9f\x98\x80"
                          "{{x}}\", \"\\u00e9{{x}}\", \"\"]");
    const json_value *ascii = &v->arr.items[0], *two = &v->arr.items[1],
                     *wide = &v->arr.items[2], *esc = &v->arr.items[3], *empty = &v->arr.items[4];
    assert_int_equal(ascii->col, 3);
    assert_int_equal(jck_string_col(ascii, 0), 4);
    assert_int_equal(jck_string_col(ascii, 2), 6);          /* the "{{" */
    assert_int_equal(jck_string_col(ascii, 4), 8);
    /* "éé{{x}}": two 2-byte characters count as two columns */
    assert_int_equal(two->col, 14);
    assert_int_equal(jck_string_col(two, 4), 17);
    assert_int_equal(jck_string_col(two, 6), 19);           /* the "x" */
    /* inside a character: the column of the character itself */
    assert_int_equal(jck_string_col(two, 1), 16);
    assert_int_equal(jck_string_col(two, 3), 17);
    /* a 3-byte and a 4-byte character */
    assert_int_equal(wide->col, 25);
    assert_int_equal(jck_string_col(wide, 3), 27);
    assert_int_equal(jck_string_col(wide, 7), 28);
    /* offsets past the end stop at the end */
    assert_int_equal(jck_string_col(ascii, 100), 4 + 7);
    assert_int_equal(jck_string_col(empty, 5), empty->col + 1);
    /* escapes in the file are not accounted for: "\u00e9" counts as one column */
    assert_int_equal(esc->col, 36);
    assert_int_equal(jck_string_col(esc, 2), 38);
    json_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_format),
        cmocka_unit_test(test_fail_truncates_to_the_buffer),
        cmocka_unit_test(test_wrong_type_articles),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_scalar),
        cmocka_unit_test(test_string_col),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
