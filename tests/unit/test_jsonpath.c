/* Tests for engine/jsonpath.c: path compile errors with offsets, every path form on nested
 * documents, malformed documents (no crash, no match), decoding of matched strings,
 * jpath_equals, and linear scanning of long documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jsonpath.h"
#include "sbuf.h"
#include "xalloc.h"

static jpath *compile_ok(const char *s)
{
    char err[200] = "";
    size_t off = 999;
    jpath *p = jpath_compile(s, err, sizeof err, &off);
    if (!p)
        fail_msg("compile of %s failed at %zu: %s", s, off, err);
    assert_string_equal(jpath_text(p), s);
    return p;
}

/* Collects matches as "text|text|..." and their kinds as letters. */
typedef struct collected {
    sbuf texts;
    char kinds[64];
    size_t calls, stop_after;
} collected;

static bool collect(void *data, const jmatch *m)
{
    collected *c = data;
    if (c->calls)
        sbuf_putc(&c->texts, '|');
    sbuf_add(&c->texts, m->text, m->len);
    if (c->calls < sizeof c->kinds - 1)
        c->kinds[c->calls] = "nBNsAO"[m->kind];
    c->calls++;
    return c->calls != c->stop_after;
}

/* Runs path on doc (len bytes) and checks the matches ("" for none; NULL: any text) and
 * their kinds (NULL: any). */
static void check_len(const char *path, const char *doc, size_t len, const char *want,
                      const char *kinds)
{
    jpath *p = compile_ok(path);
    collected c = {SBUF_INIT, "", 0, 0};
    size_t n = jpath_each(p, doc, len, collect, &c);
    if ((want && strcmp(sbuf_str(&c.texts), want)) || n != c.calls ||
        (kinds && strcmp(c.kinds, kinds)))
        fail_msg("%s on %.60s: got \"%s\" (%s, %zu returned, %zu calls), expected \"%s\" (%s)",
                 path, doc, sbuf_str(&c.texts), c.kinds, n, c.calls, want ? want : "",
                 kinds ? kinds : "");
    sbuf_free(&c.texts);
    jpath_free(p);
}

static void check(const char *path, const char *doc, const char *want, const char *kinds)
{
    check_len(path, doc, strlen(doc), want, kinds);
}

/* ---- compiling ------------------------------------------------------------------------ */

struct error_case {
    const char *path;
    size_t offset;
    const char *msg;
};

static const struct error_case error_cases[] = {
    {"", 0, "a path starts with '$'"},
    {"token", 0, "a path starts with '$'"},
    {".token", 0, "a path starts with '$'"},
    {"$token", 1, "expected '.' or '[' after '$'"},
    {"$ .a", 1, "expected '.' or '[' after '$'"},
    {"$.", 2, "expected a member name after '.'"},
    {"$.1a", 2, "expected a member name after '.'"},
    {"$..a", 2, "expected a member name after '.'"},
    {"$.*", 2, "expected a member name after '.'"},
    {"$.a b", 3, "expected '.' or '[' after the member name"},
    {"$.a.b c", 5, "expected '.' or '[' after the member name"},
    {"$.a[0]x", 6, "expected '.' or '[' after ']'"},
    {"$['a']]", 6, "expected '.' or '[' after ']'"},
    {"$[", 2, "expected an index, '*' or a quoted key after '['"},
    {"$[x]", 2, "expected an index, '*' or a quoted key after '['"},
    {"$[]", 2, "expected an index, '*' or a quoted key after '['"},
    {"$[ 0]", 2, "expected an index, '*' or a quoted key after '['"},
    {"$[1", 3, "expected ']' after the index"},
    {"$[1.5]", 3, "expected ']' after the index"},
    {"$[-]", 3, "expected a digit in the index"},
    {"$[-x]", 3, "expected a digit in the index"},
    {"$[-0]", 2, "index out of range"},
    {"$[2147483648]", 2, "index out of range"},
    {"$.a[-2147483648]", 4, "index out of range"},
    {"$[99999999999999999999999]", 2, "index out of range"},
    {"$[*", 3, "expected ']' after '*'"},
    {"$[*x]", 3, "expected ']' after '*'"},
    {"$['abc", 2, "unterminated quoted key"},
    {"$[\"abc']", 2, "unterminated quoted key"},
    {"$['a\\", 2, "unterminated quoted key"},
    {"$[\"a\\n\"]", 4, "invalid escape in a quoted key (only \\\", \\' and \\\\)"},
    {"$['a'x", 5, "expected ']' after the quoted key"},
    {"$['a'", 5, "expected ']' after the quoted key"},
};

static void test_compile_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof *error_cases; i++) {
        const struct error_case *e = &error_cases[i];
        char err[200] = "";
        size_t off = 999;
        jpath *p = jpath_compile(e->path, err, sizeof err, &off);
        if (p)
            fail_msg("%s compiled", e->path);
        if (strcmp(err, e->msg) || off != e->offset)
            fail_msg("%s: got \"%s\" at %zu, expected \"%s\" at %zu", e->path, err, off, e->msg,
                     e->offset);
    }
    /* Neither error buffer is required. */
    assert_null(jpath_compile("x", NULL, 0, NULL));
}

static void test_step_limit(void **state)
{
    (void)state;
    sbuf s = SBUF_INIT;
    sbuf_putc(&s, '$');
    for (int i = 0; i < 32; i++)
        sbuf_puts(&s, i % 2 ? "[0]" : ".a");
    jpath *p = compile_ok(s.s);
    jpath_free(p);
    size_t at = s.len;
    sbuf_puts(&s, "[*]");
    char err[100];
    size_t off;
    assert_null(jpath_compile(s.s, err, sizeof err, &off));
    assert_string_equal(err, "a path has at most 32 steps");
    assert_int_equal(off, at);
    sbuf_free(&s);
}

static void test_compile_forms(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "$", "$.a", "$._x9", "$.$ref", "$.x-y", "$.a.b.c", "$[0]", "$[-1]", "$[*]",
        "$['a b']", "$[\"a b\"]", "$['it\\'s']", "$[\"q\\\"\"]", "$['back\\\\slash']", "$['']",
        "$.items[*].id", "$[2147483647]", "$[-2147483647]", "$['a]['][0]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        jpath_free(compile_ok(ok[i]));
    jpath_free(NULL);
}

/* ---- matching ------------------------------------------------------------------------- */

static const char doc[] =
    "{\"token\": \"abc\", \"user\": {\"id\": 42, \"name\": \"Ann\",\n"
    " \"tags\": [\"a\", \"b\", \"c\"]},\n"
    " \"items\": [{\"id\": 1, \"price\": 9.5}, {\"id\": 2, \"price\": 10}, {\"id\": 3}],\n"
    " \"odd key\": true, \"t\\u006fken2\": null, \"a.b\": {\"c\": -1e3}, \"$ref\": \"r\",\n"
    " \"x-y\": false, \"empty\": [], \"obj\": {}, \"q\\\"k\": 7, \"it's\": 8, \"s\\\\\": 9,\n"
    " \"emoji\\ud83d\\ude00\": 10, \"caf\\u00e9\": 11}";

static void test_members(void **state)
{
    (void)state;
    check("$.token", doc, "\"abc\"", "s");
    check("$.user.id", doc, "42", "N");
    check("$.user.name", doc, "\"Ann\"", "s");
    check("$[\"odd key\"]", doc, "true", "B");
    check("$['odd key']", doc, "true", "B");
    check("$.token2", doc, "null", "n");
    check("$[\"a.b\"].c", doc, "-1e3", "N");
    check("$.a.b", doc, "", "");
    check("$.$ref", doc, "\"r\"", "s");
    check("$.x-y", doc, "false", "B");
    check("$['q\"k']", doc, "7", "N");
    check("$[\"q\\\"k\"]", doc, "7", "N");
    check("$[\"it's\"]", doc, "8", "N");
    check("$['it\\'s']", doc, "8", "N");
    check("$['s\\\\']", doc, "9", "N");
    check("$['emoji\xf0\x9f\x98\x80']", doc, "10", "N");
    check("$['caf\xc3\xa9']", doc, "11", "N");
    check("$.missing", doc, "", "");
    check("$.Token", doc, "", "");
    check("$.tok", doc, "", "");
    check("$.tokens", doc, "", "");
}

static void test_whole_and_containers(void **state)
{
    (void)state;
    check("$", "  {\"a\": [1, 2]}\n", "{\"a\": [1, 2]}", "O");
    check("$", "[]", "[]", "A");
    check("$", " 5 ", "5", "N");
    check("$", "\"s\"", "\"s\"", "s");
    check("$", "null", "null", "n");
    check("$.user", doc, "{\"id\": 42, \"name\": \"Ann\",\n \"tags\": [\"a\", \"b\", \"c\"]}",
          "O");
    check("$.user.tags", doc, "[\"a\", \"b\", \"c\"]", "A");
    check("$.empty", doc, "[]", "A");
    check("$.obj", doc, "{}", "O");
}

/* Regression (engine/jsonpath.c, found by tests/fuzz/fuzz_jsonpath): a body starting with
 * a UTF-8 byte order mark, which json_parse and python-requests accept, had no match. */
static void test_byte_order_mark(void **state)
{
    (void)state;
    check("$", "\xEF\xBB\xBF" "5", "5", "N");
    check("$.a", "\xEF\xBB\xBF" "{\"a\": \"x\"}", "\"x\"", "s");
    /* Only at the start, and only the whole mark. */
    check("$", " \xEF\xBB\xBF" "5", "", "");
    check("$", "\xEF\xBB" "5", "", "");
}

static void test_indexes(void **state)
{
    (void)state;
    check("$.user.tags[0]", doc, "\"a\"", "s");
    check("$.user.tags[2]", doc, "\"c\"", "s");
    check("$.user.tags[3]", doc, "", "");
    check("$.user.tags[-1]", doc, "\"c\"", "s");
    check("$.user.tags[-3]", doc, "\"a\"", "s");
    check("$.user.tags[-4]", doc, "", "");
    check("$.items[1]", doc, "{\"id\": 2, \"price\": 10}", "O");
    check("$.items[-1].id", doc, "3", "N");
    check("$.items[-2].price", doc, "10", "N");
    check("$.empty[0]", doc, "", "");
    check("$.empty[-1]", doc, "", "");
    check("$[0][1]", "[[1, 2], [3, 4]]", "2", "N");
    check("$[-1][-2]", "[[1, 2], [3, 4]]", "3", "N");
    check("$[1]", "[1]", "", "");
    check("$[1]", " [ 1 , [ ] , 3 ] ", "[ ]", "A");
}

static void test_wildcards(void **state)
{
    (void)state;
    check("$.items[*].id", doc, "1|2|3", "NNN");
    check("$.items[*].price", doc, "9.5|10", "NN");
    check("$.items[*]", doc, "{\"id\": 1, \"price\": 9.5}|{\"id\": 2, \"price\": 10}|{\"id\": 3}",
          "OOO");
    check("$.empty[*]", doc, "", "");
    check("$.obj[*]", doc, "", "");
    /* On an object, every member value. */
    check("$.user[*]", doc, "42|\"Ann\"|[\"a\", \"b\", \"c\"]", "NsA");
    check("$[*][*]", "[[1, 2], [], [3]]", "1|2|3", "NNN");
    check("$[*][-1]", "[[1, 2], [], [3], 4]", "2|3", "NN");
    check("$[*].a[0]", "[{\"a\": [\"x\"]}, {\"b\": [1]}, {\"a\": []}, {\"a\": [true, 1]}]",
          "\"x\"|true", "sB");
    check("$['a']['b'][*]", "{\"a\": {\"b\": [null, false, {}]}}", "null|false|{}", "nBO");
}

static void test_repeated_keys(void **state)
{
    (void)state;
    check("$.a", "{\"a\": 1, \"b\": 2, \"a\": 3}", "1|3", "NN");
    check("$.a", "{\"a\": 1, \"\\u0061\": 2}", "1|2", "NN");
}

static void test_no_match_in_non_containers(void **state)
{
    (void)state;
    check("$.token.x", doc, "", "");
    check("$.token[0]", doc, "", "");
    check("$.token[*]", doc, "", "");
    check("$.user[0]", doc, "", "");
    check("$.user[-1]", doc, "", "");
    check("$.items.id", doc, "", "");
    check("$.user.id.x", doc, "", "");
    check("$.a", "[{\"a\": 1}]", "", "");
    check("$[0]", "{\"0\": 1}", "", "");
    check("$['0']", "{\"0\": 1}", "1", "N");
    check("$.a", "5", "", "");
    check("$[0]", "\"[1]\"", "", "");
}

static void test_no_false_match_in_strings(void **state)
{
    (void)state;
    check("$.token", "{\"s\": \"{\\\"token\\\": 1}\", \"t\": 2}", "", "");
    check("$.token", "{\"a\\\"token\": 1}", "", "");
    check("$.token", "{\"token\\\"\": 1}", "", "");
    check("$.token", "{\"x\": [\"token\", {\"y\": \"]}\"}], \"token\": 5}", "5", "N");
    check("$[1]", "[\"a,b\", \"c\"]", "\"c\"", "s");
}

static void test_stop_early(void **state)
{
    (void)state;
    jpath *p = compile_ok("$.items[*].id");
    collected c = {SBUF_INIT, "", 0, 2};
    assert_int_equal(jpath_each(p, doc, strlen(doc), collect, &c), 2);
    assert_string_equal(sbuf_str(&c.texts), "1|2");
    sbuf_free(&c.texts);
    jpath_free(p);

    /* More matches than the first walk keeps: delivered by a second walk. */
    sbuf many = SBUF_INIT;
    sbuf want = SBUF_INIT;
    sbuf_putc(&many, '[');
    for (int i = 0; i < 20; i++) {
        sbuf_printf(&many, "%s{\"v\": %d}", i ? ", " : "", i);
        sbuf_printf(&want, "%s%d", i ? "|" : "", i);
    }
    sbuf_putc(&many, ']');
    check("$[*].v", many.s, want.s, "NNNNNNNNNNNNNNNNNNNN");
    p = compile_ok("$[*].v");
    c = (collected){SBUF_INIT, "", 0, 12};
    assert_int_equal(jpath_each(p, many.s, many.len, collect, &c), 12);
    assert_string_equal(sbuf_str(&c.texts), "0|1|2|3|4|5|6|7|8|9|10|11");
    sbuf_free(&c.texts);
    jpath_free(p);
    sbuf_free(&many);
    sbuf_free(&want);
}

/* ---- malformed documents -------------------------------------------------------------- */

static void test_malformed(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "",
        "   ",
        "{\"token\": \"abc",
        "{\"token\": \"abc\"",
        "{\"token\": \"abc\",",
        "{\"token\": \"abc\", }",
        "{\"token\": \"abc\"} x",
        "{\"token\": \"abc\"}}",
        "{\"token\": \"abc\"} {}",
        "{\"token\" \"abc\"}",
        "{\"token\": }",
        "{token: \"abc\"}",
        "{'token': \"abc\"}",
        "{\"token\": 'abc'}",
        "{\"token\": \"abc\" \"b\": 1}",
        "{\"x\": \"\\q\", \"token\": 1}",
        "{\"x\": \"\\u12G4\", \"token\": 1}",
        "{\"x\": \"\\u12\", \"token\": 1}",
        "{\"x\": \"a\tb\", \"token\": 1}",
        "{\"x\": \"a\nb\", \"token\": 1}",
        "{\"token\": 01}",
        "{\"token\": 1.}",
        "{\"token\": -}",
        "{\"token\": 1e}",
        "{\"token\": 1e+}",
        "{\"token\": +1}",
        "{\"token\": .5}",
        "{\"token\": 0x10}",
        "{\"token\": tru}",
        "{\"token\": True}",
        "{\"token\": nul}",
        "{\"token\": falsey}",
        "{\"token\": NaN}",
        "{\"token\": [1, 2}",
        "{\"token\": [1 2]}",
        "{\"token\": 1, \"x\": [}",
        "{\"token\": 1, \"x\": {\"a\"}}",
        "{\"token\": 1]",
        "[\"token\"",
        "\"token",
        "\"token\\",
        "\"token\\u00",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        check("$.token", docs[i], "", "");
        check("$", docs[i], "", "");
        check("$[*]", docs[i], "", "");
    }
    /* Matches before the malformation are not reported either. */
    check("$[*]", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,", "", "");
    check("$[*]", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] 13", "", "");
    /* A NUL inside the given length. */
    check_len("$.a", "{\"a\": 1}\0", 9, "", "");
    check_len("$.a", "{\"a\": \"x\0\"}", 11, "", "");
    check_len("$.a", "{\"a\": 1}\0garbage", 8, "1", "N");
    /* A document cut short by len. */
    check_len("$.a", "{\"a\": 123}", 8, "", "");
    check_len("$.a", "{\"a\": tru", 8, "", "");
    jpath *p = compile_ok("$");
    assert_int_equal(jpath_each(p, NULL, 0, collect, NULL), 0);
    jpath_free(p);
}

static char *nested(int levels, const char *inner)
{
    sbuf s = SBUF_INIT;
    for (int i = 0; i < levels; i++)
        sbuf_putc(&s, '[');
    sbuf_puts(&s, inner);
    for (int i = 0; i < levels; i++)
        sbuf_putc(&s, ']');
    return sbuf_take(&s);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *ok = nested(200, "1");
    char *deep = nested(201, "1");
    char *inner = nested(197, "1");
    check("$", ok, ok, "A");
    check("$[0][0][0]", ok, inner, "A");
    free(inner);
    check("$", deep, "", "");
    check("$[0]", deep, "", "");
    free(ok);
    free(deep);
    /* Objects count as levels too, mixed with arrays. */
    sbuf obj = SBUF_INIT;
    for (int i = 0; i < 199; i++)
        sbuf_puts(&obj, i % 2 ? "[" : "{\"a\": ");
    sbuf_puts(&obj, "{}");
    for (int i = 198; i >= 0; i--)
        sbuf_puts(&obj, i % 2 ? "]" : "}");
    check("$.a[0].a[0].a", obj.s, NULL, "A");
    sbuf_reset(&obj);
    for (int i = 0; i < 200; i++)
        sbuf_puts(&obj, i % 2 ? "[" : "{\"a\": ");
    sbuf_puts(&obj, "{}");
    for (int i = 199; i >= 0; i--)
        sbuf_puts(&obj, i % 2 ? "]" : "}");
    check("$.a", obj.s, "", "");
    sbuf_free(&obj);
    /* Far deeper than the limit: no crash (the walker's recursion is bounded). */
    char *abyss = nested(1000000, "");
    check("$[0]", abyss, "", "");
    free(abyss);
    sbuf s = SBUF_INIT;
    for (int i = 0; i < 1000000; i++)
        sbuf_puts(&s, "{\"a\":");
    check("$.a.a", s.s, "", "");
    sbuf_free(&s);
}

/* ---- values --------------------------------------------------------------------------- */

static void check_value(const char *text, enum jvalue_kind kind, const char *want,
                        size_t want_len)
{
    jmatch m = {text, strlen(text), kind};
    sbuf out = SBUF_INIT;
    sbuf_puts(&out, ">");
    if (!jpath_value(&m, &out))
        fail_msg("jpath_value(%s) failed", text);
    if (out.len != want_len + 1 || memcmp(out.s + 1, want, want_len))
        fail_msg("jpath_value(%s) = \"%s\"", text, out.s);
    sbuf_free(&out);
}

static void test_value(void **state)
{
    (void)state;
    check_value("\"abc\"", JV_STRING, "abc", 3);
    check_value("\"\"", JV_STRING, "", 0);
    check_value("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", JV_STRING, "a\"b\\c/d\b\f\n\r\t", 12);
    check_value("\"\\u0041\\u00e9\\u20AC\"", JV_STRING, "A\xc3\xa9\xe2\x82\xac", 6);
    check_value("\"\\ud83d\\ude00!\"", JV_STRING, "\xf0\x9f\x98\x80!", 5);
    check_value("\"\\uD83D\\uDE00\"", JV_STRING, "\xf0\x9f\x98\x80", 4);
    check_value("\"\\udbff\\udfff\"", JV_STRING, "\xf4\x8f\xbf\xbf", 4);
    /* Lone surrogates become U+FFFD. */
    check_value("\"\\ud83d\"", JV_STRING, "\xef\xbf\xbd", 3);
    check_value("\"\\ude00x\"", JV_STRING, "\xef\xbf\xbdx", 4);
    check_value("\"\\ud83d\\u0041\"", JV_STRING, "\xef\xbf\xbd" "A", 4);
    check_value("\"\\ud83d\\ud83d\\ude00\"", JV_STRING, "\xef\xbf\xbd\xf0\x9f\x98\x80", 7);
    check_value("\"\\u0000x\"", JV_STRING, "\0x", 2);
    check_value("\"\\u07ff\\u0800\"", JV_STRING, "\xdf\xbf\xe0\xa0\x80", 5);
    check_value("\"caf\xc3\xa9\"", JV_STRING, "caf\xc3\xa9", 5);
    /* Other kinds keep their text. */
    check_value("1.50", JV_NUMBER, "1.50", 4);
    check_value("true", JV_BOOL, "true", 4);
    check_value("null", JV_NULL, "null", 4);
    check_value("{\"a\": [1, \"\\u0041\"]}", JV_OBJECT, "{\"a\": [1, \"\\u0041\"]}", 20);
    check_value("[ ]", JV_ARRAY, "[ ]", 3);

    /* From a match. */
    jpath *p = compile_ok("$.user.name");
    collected c = {SBUF_INIT, "", 0, 0};
    jpath_each(p, doc, strlen(doc), collect, &c);
    jmatch m = {c.texts.s, c.texts.len, JV_STRING};
    sbuf out = SBUF_INIT;
    assert_true(jpath_value(&m, &out));
    assert_string_equal(sbuf_str(&out), "Ann");
    sbuf_free(&out);
    sbuf_free(&c.texts);
    jpath_free(p);
}

static void test_value_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",      "\"",        "\"abc",    "abc\"",       "\"a\\\"",     "\"a\\q\"",
        "\"a\"b\"", "\"\\u12\"", "\"\\uxyzw\"", "\"a\nb\"", "\"a\" ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        jmatch m = {bad[i], strlen(bad[i]), JV_STRING};
        sbuf out = SBUF_INIT;
        sbuf_puts(&out, "keep");
        if (jpath_value(&m, &out))
            fail_msg("jpath_value(%s) succeeded", bad[i]);
        assert_string_equal(out.s, "keep");
        assert_int_equal(out.len, 4);
        sbuf_free(&out);
    }
}

/* ---- equality ------------------------------------------------------------------------- */

/* jpath_equals reads the match's kind from its text, so m.kind is left as JV_NULL. */
static bool equals(const char *text, const char *lit)
{
    jmatch m = {text, strlen(text), JV_NULL};
    return jpath_equals(&m, lit, strlen(lit));
}

static void test_equals(void **state)
{
    (void)state;
    /* numbers */
    assert_true(equals("1", "1"));
    assert_true(equals("1", "1.0"));
    assert_true(equals("1.0", "1"));
    assert_true(equals("1", "1e0"));
    assert_true(equals("100", "1E2"));
    assert_true(equals("-0", "0"));
    assert_true(equals("0.1", "1e-1"));
    assert_true(equals("5", " 5 "));
    assert_false(equals("1", "2"));
    assert_false(equals("1", "-1"));
    assert_false(equals("1", "1.0000001"));
    /* longer than the number buffer */
    assert_true(equals("1", "1.00000000000000000000000000000000000000000000000000000000000000001"));
    assert_false(equals("1", "1x"));
    assert_false(equals("1", "01"));
    assert_false(equals("1", ""));
    assert_false(equals("1", "1 2"));
    /* strings */
    assert_true(equals("\"a\"", "\"a\""));
    assert_true(equals("\"a\"", "\"\\u0061\""));
    assert_true(equals("\"\\u00e9\"", "\"\xc3\xa9\""));
    assert_true(equals("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""));
    assert_true(equals("\"a\\/b\"", "\"a/b\""));
    assert_true(equals("\"\"", "\"\""));
    assert_false(equals("\"a\"", "\"b\""));
    assert_false(equals("\"ab\"", "\"a\""));
    assert_false(equals("\"a\"", "\"ab\""));
    assert_false(equals("\"a\"", "\"A\""));
    assert_false(equals("\"a\"", "a"));
    assert_false(equals("\"a\"", "\"a"));
    /* literals */
    assert_true(equals("true", "true"));
    assert_true(equals("false", "false"));
    assert_true(equals("null", "null"));
    assert_true(equals("null", " null\n"));
    assert_false(equals("true", "false"));
    assert_false(equals("false", "true"));
    assert_false(equals("true", "True"));
    assert_false(equals("true", "tru"));
    /* containers */
    assert_true(equals("[1, 2]", "[1,2]"));
    assert_true(equals("[ 1 ,\n\t2 ]", "[1,2]"));
    assert_true(equals("{ \"a\" : [1, {\"b\": null}] }", "{\"a\":[1,{\"b\":null}]}"));
    assert_true(equals("[]", "[ ]"));
    assert_true(equals("[\"a b\"]", "[ \"a b\" ]"));
    assert_true(equals("[\"a\\\" b\"]", "[\"a\\\" b\"]"));
    assert_false(equals("[\"a\\\" b\"]", "[\"a\\\"b\"]"));
    assert_false(equals("[\"a b\"]", "[\"ab\"]"));
    assert_false(equals("[1, 2]", "[2, 1]"));
    assert_false(equals("[1, 2]", "[1, 2, 3]"));
    assert_false(equals("[1, 2, 3]", "[1, 2]"));
    assert_false(equals("[1]", "[1.0]"));
    assert_false(equals("{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1}"));
    assert_false(equals("[1, 2]", "[1, 2"));
    /* kinds that differ */
    assert_false(equals("1", "\"1\""));
    assert_false(equals("\"1\"", "1"));
    assert_false(equals("true", "1"));
    assert_false(equals("null", "false"));
    assert_false(equals("false", "null"));
    assert_false(equals("0", "false"));
    assert_false(equals("[]", "{}"));
    assert_false(equals("{}", "[]"));
    assert_false(equals("\"[]\"", "[]"));
    /* a malformed match */
    assert_false(equals("[1, 2", "[1, 2"));
    assert_false(equals("\"a", "\"a"));
}

static void test_equals_on_matches(void **state)
{
    (void)state;
    jpath *p = compile_ok("$.items[*].price");
    collected c = {SBUF_INIT, "", 0, 0};
    jpath_each(p, doc, strlen(doc), collect, &c);
    assert_string_equal(c.texts.s, "9.5|10");
    jmatch m = {c.texts.s + 4, 2, JV_NUMBER};
    assert_true(jpath_equals(&m, "10.0", 4));
    assert_true(jpath_equals(&m, "10.0garbage", 4));
    assert_false(jpath_equals(&m, "10.5", 4));
    sbuf_free(&c.texts);
    jpath_free(p);
}

/* ---- long documents ------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool count_and_last(void *data, const jmatch *m)
{
    long *v = data;
    v[0]++;
    v[1] = strtol(m->text, NULL, 10);
    return true;
}

/* A 1 MB array of objects, walked whole several times: a quadratic walker would take
 * minutes (tens of thousands of elements, each rescanned), a linear one milliseconds. */
static void test_long_document(void **state)
{
    (void)state;
    sbuf s = SBUF_INIT;
    sbuf_putc(&s, '[');
    long n = 0;
    for (; s.len < 1000000; n++)
        sbuf_printf(&s, "%s{\"id\": %ld, \"name\": \"user \\\"%ld\\\"\", \"tags\": [1, 2.5]}",
                    n ? ",\n" : "", n, n);
    sbuf_putc(&s, ']');
    jpath *all = compile_ok("$[*].id");
    jpath *last = compile_ok("$[-1].id");
    jpath *none = compile_ok("$.id");
    double start = now();
    for (int round = 0; round < 5; round++) {
        long got[2] = {0, -1};
        assert_int_equal(jpath_each(all, s.s, s.len, count_and_last, got), n);
        assert_int_equal(got[0], n);
        assert_int_equal(got[1], n - 1);
        got[0] = 0;
        assert_int_equal(jpath_each(last, s.s, s.len, count_and_last, got), 1);
        assert_int_equal(got[1], n - 1);
        assert_int_equal(jpath_each(none, s.s, s.len, count_and_last, got), 0);
    }
    double elapsed = now() - start;
    if (elapsed > 5.0)
        fail_msg("20 walks of %zu bytes took %.2f s", s.len, elapsed);
    jpath_free(all);
    jpath_free(last);
    jpath_free(none);
    sbuf_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_step_limit),
        cmocka_unit_test(test_compile_forms),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_whole_and_containers),
        cmocka_unit_test(test_indexes),
        cmocka_unit_test(test_byte_order_mark),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_repeated_keys),
        cmocka_unit_test(test_no_match_in_non_containers),
        cmocka_unit_test(test_no_false_match_in_strings),
        cmocka_unit_test(test_stop_early),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_value),
        cmocka_unit_test(test_value_malformed),
        cmocka_unit_test(test_equals),
        cmocka_unit_test(test_equals_on_matches),
        cmocka_unit_test(test_long_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
