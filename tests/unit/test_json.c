/* json: parser errors with exact positions, values, positions of values and keys, the
 * writer, and parse -> write -> parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "json.h"
#include "sbuf.h"

static json_value *parse_ok(const char *text, unsigned flags)
{
    json_error err;
    json_value *v = json_parse(text, strlen(text), flags, &err);
    if (!v)
        fail_msg("parse failed at %u:%u: %s\ninput: %s", err.line, err.col, err.msg, text);
    return v;
}

/* ---- errors --------------------------------------------------------------------------- */

struct error_case {
    const char *text;
    size_t len;                /* 0: strlen(text) */
    unsigned flags;
    unsigned line, col;
    const char *msg;
};

static const struct error_case error_cases[] = {
    /* structure */
    {"{\"a\": 1 \"b\": 2}", 0, 0, 1, 9,
     "expected ',' or '}' after object member, found '\"'"},
    {"[1 2]", 0, 0, 1, 4, "expected ',' or ']' after array element, found '2'"},
    {"[12abc]", 0, 0, 1, 4, "expected ',' or ']' after array element, found 'a'"},
    {"{\"a\" 1}", 0, 0, 1, 6, "expected ':' after object key, found '1'"},
    {"{\"a\":1,2}", 0, 0, 1, 8, "expected a string key after ',', found '2'"},
    {"{'a': 1}", 0, 0, 1, 2, "expected a string key or '}', found \"'\""},
    {"{\n  \"name\": \"x\",\n  \"wait\": [1, 2,]\n}", 0, 0, 3, 17, "trailing comma before ']'"},
    {"{\"a\": 1,}", 0, 0, 1, 9, "trailing comma before '}'"},
    {"{\"a\": 1 // c\n}", 0, 0, 1, 9, "comments are not allowed in JSON"},
    {"/* x */ 1", 0, 0, 1, 1, "comments are not allowed in JSON"},
    {"[1/2]", 0, 0, 1, 3, "expected ',' or ']' after array element, found '/'"},
    {"{} x", 0, 0, 1, 4, "trailing characters after the JSON value"},
    {"1 2", 0, 0, 1, 3, "trailing characters after the JSON value"},
    {"[.5]", 0, 0, 1, 2, "expected a value, found '.'"},
    {"+1", 0, 0, 1, 1, "expected a value, found '+'"},
    {"[\x01]", 0, 0, 1, 2, "expected a value, found U+0001"},
    {"[1\0]", 4, 0, 1, 3, "expected ',' or ']' after array element, found U+0000"},
    /* end of input */
    {"", 0, 0, 1, 1, "unexpected end of input"},
    {"   \n  ", 0, 0, 2, 3, "unexpected end of input"},
    {"{\"a\": ", 0, 0, 1, 7, "unexpected end of input"},
    {"[1, 2", 0, 0, 1, 6, "unexpected end of input"},
    {"{\"a\"", 0, 0, 1, 5, "unexpected end of input"},
    {"{", 0, 0, 1, 2, "unexpected end of input"},
    {"tru", 0, 0, 1, 4, "unexpected end of input"},
    {"1e+", 0, 0, 1, 4, "unexpected end of input"},
    {"-", 0, 0, 1, 2, "unexpected end of input"},
    /* literals */
    {"[tru]", 0, 0, 1, 2, "invalid literal, expected true, false or null"},
    {"True", 0, 0, 1, 1, "invalid literal, expected true, false or null"},
    {"[undefined]", 0, 0, 1, 2, "invalid literal, expected true, false or null"},
    {"[NaN]", 0, 0, 1, 2, "NaN and Infinity are not allowed in JSON"},
    {"Infinity", 0, 0, 1, 1, "NaN and Infinity are not allowed in JSON"},
    {"[1, -Infinity]", 0, 0, 1, 5, "NaN and Infinity are not allowed in JSON"},
    /* numbers */
    {"01", 0, 0, 1, 1, "leading zeros are not allowed"},
    {"[-012]", 0, 0, 1, 3, "leading zeros are not allowed"},
    {"[1.]", 0, 0, 1, 4, "expected a digit after '.', found ']'"},
    {"[1.e5]", 0, 0, 1, 4, "expected a digit after '.', found 'e'"},
    {"[1e]", 0, 0, 1, 4, "expected a digit in the exponent, found ']'"},
    {"[-]", 0, 0, 1, 3, "expected a digit after '-', found ']'"},
    {"[1e400]", 0, 0, 1, 2, "number out of range"},
    {"-1e400", 0, 0, 1, 1, "number out of range"},
    /* strings */
    {"[\"abc", 0, 0, 1, 2, "unterminated string"},
    {"\"ab\\", 0, 0, 1, 1, "unterminated string"},
    {"\"\\u12", 0, 0, 1, 1, "unterminated string"},
    {"\"ab\\qc\"", 0, 0, 1, 4, "invalid escape \\q"},
    {"\"\\\x01\"", 0, 0, 1, 2, "invalid escape sequence"},
    {"\"\\u12g4\"", 0, 0, 1, 2, "invalid \\u escape: expected 4 hex digits"},
    {"\"\\ud800\"", 0, 0, 1, 2, "invalid \\u escape: lone surrogate \\uD800"},
    {"\"x\\udc00\"", 0, 0, 1, 3, "invalid \\u escape: lone surrogate \\uDC00"},
    {"\"\\ud800\\u0041\"", 0, 0, 1, 2, "invalid \\u escape: lone surrogate \\uD800"},
    {"\"\\ud800\\u00\"", 0, 0, 1, 8, "invalid \\u escape: expected 4 hex digits"},
    {"\"a\tb\"", 0, 0, 1, 3, "unescaped control character U+0009 in string"},
    {"[\"ab\ncd\"]", 0, 0, 1, 5, "unescaped control character U+000A in string"},
    {"\"a\0\"", 4, 0, 1, 3, "unescaped control character U+0000 in string"},
    /* UTF-8 */
    {"\"\xc3\xa9\xff\"", 0, 0, 1, 3, "invalid UTF-8"},
    {"\"\xc0\xaf\"", 0, 0, 1, 2, "invalid UTF-8"},          /* overlong '/' */
    {"\"\xe0\x80\xaf\"", 0, 0, 1, 2, "invalid UTF-8"},      /* overlong, 3 bytes */
    {"\"\xed\xa0\x80\"", 0, 0, 1, 2, "invalid UTF-8"},      /* encoded surrogate */
    {"\"\xf4\x90\x80\x80\"", 0, 0, 1, 2, "invalid UTF-8"},  /* above U+10FFFF */
    {"\"\xf5\x80\x80\x80\"", 0, 0, 1, 2, "invalid UTF-8"},
    {"\"ab\x80\"", 0, 0, 1, 4, "invalid UTF-8"},            /* stray continuation */
    {"\"\xe2\x82\"", 0, 0, 1, 2, "invalid UTF-8"},          /* cut short */
    {"\"\xe2\x82", 0, 0, 1, 2, "invalid UTF-8"},            /* cut by the end */
    {"[\xff]", 0, 0, 1, 2, "invalid UTF-8"},
    {"[1,\xc3]", 0, 0, 1, 4, "invalid UTF-8"},
    /* columns count characters, not bytes; tabs count as one */
    {"{\"h\xc3\xa9llo\": \"w\xc3\xb6rld\", \"\xc3\xbc\": tru}", 0, 0, 1, 25,
     "invalid literal, expected true, false or null"},
    {"[\"\xf0\x9f\x98\x80\", x]", 0, 0, 1, 7, "invalid literal, expected true, false or null"},
    {"{\"a\": \xe2\x80\x9cx\xe2\x80\x9d}", 0, 0, 1, 7,
     "expected a value, found '\xe2\x80\x9c' (U+201C)"},
    {"{\t\"a\":\tx}", 0, 0, 1, 8, "invalid literal, expected true, false or null"},
    {"[\"\xe6\x97\xa5\xe6\x9c\xac\",\n  \"\xe6\x97\xa5\", \"\xe6\x9c\xac\"\n  \"x\"]", 0, 0, 3, 3,
     "expected ',' or ']' after array element, found '\"'"},
    {"\"\xc3\xa9\xc3\xa9\\x\"", 0, 0, 1, 4, "invalid escape \\x"},
    /* byte order mark: skipped, and not counted as a column */
    {"\xEF\xBB\xBF{\"a\": x}", 0, 0, 1, 7, "invalid literal, expected true, false or null"},
    {"\xEF\xBB\xBF", 0, 0, 1, 1, "unexpected end of input"},
    {"[\xEF\xBB\xBF]", 0, 0, 1, 2, "expected a value, found '\xEF\xBB\xBF' (U+FEFF)"},
    /* duplicate keys, at the second occurrence */
    {"{\"a\": 1,\n \"b\": 2,\n \"a\": 3}", 0, 0, 3, 2, "duplicate key \"a\""},
    {"{\"a\":1,\"\\u0061\":2}", 0, 0, 1, 8, "duplicate key \"a\""},
    {"{\"x\": {\"q\\\"\\n\": 1, \"q\\\"\\n\": 2}}", 0, 0, 1, 20, "duplicate key \"q\\\"\\n\""},
    {"{\"a\": 1, \"a\": 2", 0, JSON_ALLOW_DUPLICATE_KEYS, 1, 16, "unexpected end of input"},
};

static void check_error(const struct error_case *c)
{
    size_t len = c->len ? c->len : strlen(c->text);
    json_error err;
    memset(&err, 0x55, sizeof err);
    json_value *v = json_parse(c->text, len, c->flags, &err);
    if (v) {
        json_free(v);
        fail_msg("parsed but should fail: %s", c->text);
    }
    if (err.line != c->line || err.col != c->col || strcmp(err.msg, c->msg) != 0)
        fail_msg("input: %s\n  got  %u:%u: %s\n  want %u:%u: %s", c->text, err.line, err.col,
                 err.msg, c->line, c->col, c->msg);
}

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++)
        check_error(&error_cases[i]);
}

static void test_error_without_err(void **state)
{
    (void)state;
    assert_null(json_parse("[1,", 3, 0, NULL));
    assert_null(json_parse(NULL, 0, 0, NULL));
    json_error err;
    assert_null(json_parse(NULL, 5, 0, &err));
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 1);
    assert_string_equal(err.msg, "unexpected end of input");
}

/* Builds "[[[...]]]" with n levels. */
static char *nested(int n)
{
    char *s = malloc((size_t)n * 2 + 1);
    memset(s, '[', (size_t)n);
    memset(s + n, ']', (size_t)n);
    s[2 * n] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *ok = nested(JSON_MAX_DEPTH), *deep = nested(JSON_MAX_DEPTH + 1);
    json_value *v = parse_ok(ok, 0);
    const json_value *inner = v;
    for (int i = 1; i < JSON_MAX_DEPTH; i++)
        inner = &inner->arr.items[0];
    assert_int_equal(inner->type, JSON_ARRAY);
    assert_int_equal(inner->arr.count, 0);
    assert_int_equal(inner->col, JSON_MAX_DEPTH);
    json_free(v);

    json_error err;
    assert_null(json_parse(deep, strlen(deep), 0, &err));
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, JSON_MAX_DEPTH + 1);
    assert_string_equal(err.msg, "nesting deeper than 200 levels");
    free(ok);
    free(deep);

    /* Objects count too. */
    sbuf b = SBUF_INIT;
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        sbuf_puts(&b, "{\"k\":");
    sbuf_puts(&b, "{}");
    assert_null(json_parse(b.s, b.len, 0, &err));
    assert_int_equal(err.col, 5 * JSON_MAX_DEPTH + 1);
    assert_string_equal(err.msg, "nesting deeper than 200 levels");
    sbuf_free(&b);
}

/* ---- values --------------------------------------------------------------------------- */

static void test_value_kinds(void **state)
{
    (void)state;
    json_value *v = parse_ok("{\"n\": null, \"t\": true, \"f\": false, \"i\": -42, \"d\": 2.5,"
                             " \"s\": \"hi\", \"a\": [1, \"x\"], \"o\": {}, \"e\": []}", 0);
    assert_int_equal(v->type, JSON_OBJECT);
    assert_int_equal(v->obj.count, 9);
    assert_int_equal(json_get(v, "n")->type, JSON_NULL);
    assert_int_equal(json_get(v, "t")->type, JSON_TRUE);
    assert_int_equal(json_get(v, "f")->type, JSON_FALSE);

    const json_value *i = json_get(v, "i");
    assert_int_equal(i->type, JSON_NUMBER);
    assert_true(i->num.is_int);
    assert_int_equal(i->num.i, -42);
    assert_true(i->num.d == -42.0);
    assert_string_equal(i->num.text, "-42");

    const json_value *d = json_get(v, "d");
    assert_false(d->num.is_int);
    assert_int_equal(d->num.i, 0);
    assert_true(d->num.d == 2.5);

    const json_value *s = json_get(v, "s");
    assert_int_equal(s->type, JSON_STRING);
    assert_int_equal(s->str.len, 2);
    assert_string_equal(s->str.s, "hi");

    const json_value *a = json_get(v, "a");
    assert_int_equal(a->type, JSON_ARRAY);
    assert_int_equal(a->arr.count, 2);
    assert_int_equal(a->arr.items[0].num.i, 1);
    assert_string_equal(a->arr.items[1].str.s, "x");

    assert_int_equal(json_get(v, "o")->type, JSON_OBJECT);
    assert_int_equal(json_get(v, "o")->obj.count, 0);
    assert_null(json_get(v, "o")->obj.members);
    assert_int_equal(json_get(v, "e")->arr.count, 0);
    assert_null(json_get(v, "e")->arr.items);

    assert_null(json_get(v, "missing"));
    assert_null(json_get(a, "x"));
    assert_null(json_get(NULL, "x"));
    assert_string_equal(json_member_at(v, 0)->key, "n");
    assert_string_equal(json_member_at(v, 8)->key, "e");
    assert_null(json_member_at(v, 9));
    assert_null(json_member_at(a, 0));
    assert_null(json_member_at(NULL, 0));
    json_free(v);
    json_free(NULL);

    v = parse_ok("  \"top\"  ", 0);
    assert_int_equal(v->type, JSON_STRING);
    assert_int_equal(v->col, 3);
    json_free(v);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(json_type_name(JSON_NULL), "null");
    assert_string_equal(json_type_name(JSON_FALSE), "boolean");
    assert_string_equal(json_type_name(JSON_TRUE), "boolean");
    assert_string_equal(json_type_name(JSON_NUMBER), "number");
    assert_string_equal(json_type_name(JSON_STRING), "string");
    assert_string_equal(json_type_name(JSON_ARRAY), "array");
    assert_string_equal(json_type_name(JSON_OBJECT), "object");
}

static void test_numbers(void **state)
{
    (void)state;
    json_value *v = parse_ok("[12345678901234567890, 9223372036854775807, -9223372036854775808,"
                             " 9223372036854775808, -9223372036854775809, 1.10, -0, 1E5,"
                             " 0.5e-3, 1e-400, 0]", 0);
    const json_value *n = v->arr.items;
    assert_int_equal(v->arr.count, 11);

    assert_false(n[0].num.is_int);
    assert_string_equal(n[0].num.text, "12345678901234567890");
    assert_true(n[0].num.d == 12345678901234567890.0);

    assert_true(n[1].num.is_int);
    assert_true(n[1].num.i == INT64_MAX);
    assert_true(n[2].num.is_int);
    assert_true(n[2].num.i == INT64_MIN);
    assert_false(n[3].num.is_int);
    assert_false(n[4].num.is_int);
    assert_string_equal(n[4].num.text, "-9223372036854775809");

    assert_false(n[5].num.is_int);
    assert_string_equal(n[5].num.text, "1.10");
    assert_true(n[5].num.d == 1.1);

    assert_true(n[6].num.is_int);
    assert_int_equal(n[6].num.i, 0);
    assert_true(signbit(n[6].num.d));

    assert_false(n[7].num.is_int);
    assert_true(n[7].num.d == 100000.0);
    assert_true(n[8].num.d == 0.0005);
    assert_true(n[9].num.d == 0.0);          /* underflow is not an error */
    assert_true(n[10].num.is_int);

    sbuf b = SBUF_INIT;
    json_write_value(&b, v);
    assert_string_equal(b.s, "[12345678901234567890,9223372036854775807,-9223372036854775808,"
                             "9223372036854775808,-9223372036854775809,1.10,-0,1E5,0.5e-3,"
                             "1e-400,0]");
    sbuf_free(&b);
    json_free(v);
}

static void test_strings(void **state)
{
    (void)state;
    json_value *v = parse_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\\u0000x"
                             "\xc3\xa9\"", 0);
    static const char want[] = "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0x\xc3\xa9";
    assert_int_equal(v->type, JSON_STRING);
    assert_int_equal(v->str.len, sizeof want - 1);
    assert_memory_equal(v->str.s, want, sizeof want);  /* with the terminating NUL */
    json_free(v);

    /* Keys decode the same way and keep embedded NULs. */
    v = parse_ok("{\"a\\u0000b\": 1, \"\\ud834\\udd1e\": 2}", 0);
    const json_member *m = json_member_at(v, 0);
    assert_int_equal(m->key_len, 3);
    assert_memory_equal(m->key, "a\0b", 4);
    assert_string_equal(json_member_at(v, 1)->key, "\xf0\x9d\x84\x9e");
    assert_non_null(json_get(v, "\xf0\x9d\x84\x9e"));
    json_free(v);
}

static void test_positions(void **state)
{
    (void)state;
    const char *text =
        "{\n"
        "  \"name\": \"d\xc3\xa9mo\",\n"
        "\t\"tasks\": [\n"
        "    {\"w\xc3\xa9ight\": 3, \"req\": {\"url\": \"/\"}},\n"
        "    [true,\n"
        "       null]\n"
        "  ]\n"
        "}\n";
    json_value *v = parse_ok(text, 0);
    assert_int_equal(v->line, 1);
    assert_int_equal(v->col, 1);

    const json_member *name = json_member_at(v, 0);
    assert_int_equal(name->line, 2);
    assert_int_equal(name->col, 3);
    assert_int_equal(name->value.line, 2);
    assert_int_equal(name->value.col, 11);

    const json_member *tasks = json_member_at(v, 1);
    assert_int_equal(tasks->line, 3);
    assert_int_equal(tasks->col, 2);
    assert_int_equal(tasks->value.line, 3);
    assert_int_equal(tasks->value.col, 11);

    const json_value *t0 = &tasks->value.arr.items[0];
    assert_int_equal(t0->line, 4);
    assert_int_equal(t0->col, 5);
    const json_member *weight = json_member_at(t0, 0);
    assert_int_equal(weight->line, 4);
    assert_int_equal(weight->col, 6);
    assert_int_equal(weight->value.col, 16);  /* "wéight" is 8 characters, 9 bytes */
    const json_member *req = json_member_at(t0, 1);
    assert_int_equal(req->col, 19);
    assert_int_equal(req->value.col, 26);
    const json_member *url = json_member_at(&req->value, 0);
    assert_int_equal(url->line, 4);
    assert_int_equal(url->col, 27);
    assert_int_equal(url->value.col, 34);

    const json_value *t1 = &tasks->value.arr.items[1];
    assert_int_equal(t1->line, 5);
    assert_int_equal(t1->col, 5);
    assert_int_equal(t1->arr.items[0].line, 5);
    assert_int_equal(t1->arr.items[0].col, 6);
    assert_int_equal(t1->arr.items[1].line, 6);
    assert_int_equal(t1->arr.items[1].col, 8);
    json_free(v);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    const char *text = "{\"a\": 1, \"b\": 2, \"a\": 3}";
    json_error err;
    assert_null(json_parse(text, strlen(text), 0, &err));
    assert_int_equal(err.col, 18);

    json_value *v = parse_ok(text, JSON_ALLOW_DUPLICATE_KEYS);
    assert_int_equal(v->obj.count, 3);
    assert_int_equal(json_get(v, "a")->num.i, 3);  /* the last one */
    assert_int_equal(json_member_at(v, 0)->value.num.i, 1);
    json_free(v);

    /* Same key in different objects is fine. */
    v = parse_ok("{\"a\": {\"a\": 1}, \"b\": {\"a\": 2}}", 0);
    json_free(v);
}

/* Objects past the linear-scan size use a hash table: every key must still be found,
 * including a repeat of the first and of the last one. */
static void test_duplicate_keys_big_object(void **state)
{
    (void)state;
    for (int dup = 0; dup < 300; dup += 37) {
        sbuf b = SBUF_INIT;
        sbuf_putc(&b, '{');
        for (int i = 0; i < 300; i++)
            sbuf_printf(&b, "\"k%d\":%d,", i, i);
        size_t col = b.len + 1;
        sbuf_printf(&b, "\"k%d\":0}", dup);
        json_error err;
        assert_null(json_parse(b.s, b.len, 0, &err));
        assert_int_equal(err.col, col);
        char want[64];
        snprintf(want, sizeof want, "duplicate key \"k%d\"", dup);
        assert_string_equal(err.msg, want);

        /* Without the repeat, all 301 distinct keys parse. */
        b.len = col - 1;
        sbuf_puts(&b, "\"last\":0}");
        json_value *v = parse_ok(b.s, 0);
        assert_int_equal(v->obj.count, 301);
        assert_int_equal(json_get(v, "k299")->num.i, 299);
        json_free(v);
        sbuf_free(&b);
    }
}

static void test_duplicate_long_key_is_cut(void **state)
{
    (void)state;
    char key[101];
    memset(key, 'k', 100);
    key[100] = '\0';
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "{\"%s\":1,\"%s\":2}", key, key);
    json_error err;
    assert_null(json_parse(b.s, b.len, 0, &err));
    assert_string_equal(err.msg,
                        "duplicate key \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\" (cut)");
    assert_int_equal(err.col, 107);
    sbuf_free(&b);
}

static void test_bom(void **state)
{
    (void)state;
    json_value *v = parse_ok("\xEF\xBB\xBF{\"a\": 1}", 0);
    assert_int_equal(v->col, 1);
    assert_int_equal(json_member_at(v, 0)->col, 2);
    json_free(v);
}

/* A minified file is one long line: positions must be right at its far end, and
 * computing them must not rescan the line for every value. */
static void test_long_line(void **state)
{
    (void)state;
    enum { N = 200000 };
    sbuf b = SBUF_INIT;
    sbuf_putc(&b, '[');
    for (int i = 0; i < N; i++)
        sbuf_puts(&b, "\"\xc3\xa9\",");
    sbuf_puts(&b, "1]");
    json_value *v = parse_ok(b.s, 0);
    assert_int_equal(v->arr.count, N + 1);
    assert_int_equal(v->arr.items[N].col, 2 + 4 * N);
    json_free(v);

    b.len -= 2;
    sbuf_puts(&b, "x]");
    json_error err;
    assert_null(json_parse(b.s, b.len, 0, &err));
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 2 + 4 * N);
    sbuf_free(&b);
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/cicada-test-json-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_parse_file(void **state)
{
    (void)state;
    char *path = write_temp("{\n  \"users\": [1, 2]\n}\n");
    json_error err;
    json_value *v = json_parse_file(path, 0, &err);
    assert_non_null(v);
    assert_int_equal(json_get(v, "users")->arr.items[1].num.i, 2);
    assert_int_equal(json_get(v, "users")->line, 2);
    json_free(v);
    unlink(path);
    free(path);

    path = write_temp("{\n  \"users\": [1, 2,]\n}\n");
    assert_null(json_parse_file(path, 0, &err));
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 18);
    assert_string_equal(err.msg, "trailing comma before ']'");
    unlink(path);
    free(path);

    assert_null(json_parse_file("/nonexistent/cicada.json", 0, &err));
    assert_int_equal(err.line, 0);
    assert_int_equal(err.col, 0);
    assert_string_equal(err.msg, "cannot read: No such file or directory");

    assert_null(json_parse_file("/tmp", 0, &err));
    assert_int_equal(err.line, 0);
    assert_string_equal(err.msg, "cannot read: Is a directory");
    assert_null(json_parse_file("/nonexistent", 0, NULL));
}

/* ---- writer --------------------------------------------------------------------------- */

static void test_write_string(void **state)
{
    (void)state;
    static const char in[] = "a\"b\\c/d</e\b\f\n\r\t\x01\x1f\x7f\0z \xc3\xa9 \xf0\x9f\x98\x80"
                             " \xff \xc3 \xed\xa0\x80 end";
    sbuf b = SBUF_INIT;
    json_write_string(&b, in, sizeof in - 1);
    assert_string_equal(b.s, "\"a\\\"b\\\\c/d\\u003c/e\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\\u0000z "
                             "\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbd \xef\xbf\xbd "
                             "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end\"");
    sbuf_reset(&b);
    json_write_string(&b, NULL, 0);
    assert_string_equal(b.s, "\"\"");

    /* What it writes is valid JSON that reads back as the (repaired) input. */
    sbuf_reset(&b);
    json_write_string(&b, in, 29);
    json_value *v = parse_ok(b.s, 0);
    assert_int_equal(v->str.len, 29);
    assert_memory_equal(v->str.s, in, 29);
    json_free(v);
    sbuf_free(&b);
}

static void test_writer(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "pre:");
    json_writer w;
    json_writer_init(&w, &b);
    json_begin_object(&w);
    json_key(&w, "s");
    json_put_string(&w, "x\"y");
    json_key(&w, "n");
    json_put_stringn(&w, "a\0b", 3);
    json_key(&w, "ints");
    json_begin_array(&w);
    json_put_int(&w, INT64_MIN);
    json_put_int(&w, 0);
    json_put_uint(&w, UINT64_MAX);
    json_end_array(&w);
    json_key(&w, "doubles");
    json_begin_array(&w);
    json_put_double(&w, 2.0);
    json_put_double(&w, 0.1);
    json_put_double(&w, 1e-5);
    json_put_double(&w, -0.0);
    json_put_double(&w, NAN);
    json_put_double(&w, INFINITY);
    json_put_double(&w, -INFINITY);
    json_end_array(&w);
    json_key(&w, "empty_o");
    json_begin_object(&w);
    json_end_object(&w);
    json_key(&w, "empty_a");
    json_begin_array(&w);
    json_end_array(&w);
    json_key(&w, "nested");
    json_begin_array(&w);
    json_begin_object(&w);
    json_key(&w, "t");
    json_put_bool(&w, true);
    json_key(&w, "f");
    json_put_bool(&w, false);
    json_end_object(&w);
    json_begin_array(&w);
    json_put_null(&w);
    json_end_array(&w);
    json_put_raw(&w, "{\"r\":1}", 7);
    json_end_array(&w);
    json_key(&w, "last");
    json_put_null(&w);
    json_end_object(&w);
    assert_int_equal(w.depth, 0);
    assert_string_equal(b.s, "pre:{\"s\":\"x\\\"y\",\"n\":\"a\\u0000b\","
                             "\"ints\":[-9223372036854775808,0,18446744073709551615],"
                             "\"doubles\":[2.0,0.1,1e-05,-0.0,null,null,null],"
                             "\"empty_o\":{},\"empty_a\":[],"
                             "\"nested\":[{\"t\":true,\"f\":false},[null],{\"r\":1}],"
                             "\"last\":null}");

    /* A bare top-level value, and a writer reused on the same buffer. */
    sbuf_reset(&b);
    json_writer_init(&w, &b);
    json_put_double(&w, 6.387760931033881);
    assert_string_equal(b.s, "6.387760931033881");
    sbuf_free(&b);
}

static void test_writer_max_depth(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    json_writer w;
    json_writer_init(&w, &b);
    for (int i = 0; i < JSON_WRITER_MAX_DEPTH; i++) {
        json_begin_array(&w);
        json_put_int(&w, i);
    }
    for (int i = 0; i < JSON_WRITER_MAX_DEPTH; i++)
        json_end_array(&w);
    json_value *v = parse_ok(b.s, 0);
    const json_value *inner = v;
    for (int i = 1; i < JSON_WRITER_MAX_DEPTH; i++) {
        assert_int_equal(inner->arr.count, 2);
        inner = &inner->arr.items[1];
    }
    assert_int_equal(inner->arr.items[0].num.i, JSON_WRITER_MAX_DEPTH - 1);
    json_free(v);
    sbuf_free(&b);
}

/* ---- round trip ----------------------------------------------------------------------- */

static void assert_same_tree(const json_value *a, const json_value *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case JSON_NUMBER:
        assert_string_equal(a->num.text, b->num.text);
        break;
    case JSON_STRING:
        assert_int_equal(a->str.len, b->str.len);
        assert_memory_equal(a->str.s, b->str.s, a->str.len + 1);
        break;
    case JSON_ARRAY:
        assert_int_equal(a->arr.count, b->arr.count);
        for (size_t i = 0; i < a->arr.count; i++)
            assert_same_tree(&a->arr.items[i], &b->arr.items[i]);
        break;
    case JSON_OBJECT:
        assert_int_equal(a->obj.count, b->obj.count);
        for (size_t i = 0; i < a->obj.count; i++) {
            const json_member *ma = &a->obj.members[i], *mb = &b->obj.members[i];
            assert_int_equal(ma->key_len, mb->key_len);
            assert_memory_equal(ma->key, mb->key, ma->key_len + 1);
            assert_same_tree(&ma->value, &mb->value);
        }
        break;
    default:
        break;
    }
}

static void test_write_ascii_and_html(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    /* Python: json.dumps("a</b é😀") == '"a</b \\u00e9\\ud83d\\ude00"' */
    const char in[] = "a</b \xc3\xa9\xf0\x9f\x98\x80";
    json_write_string_flags(&b, in, sizeof in - 1, JSON_W_ASCII);
    assert_string_equal(sbuf_str(&b), "\"a</b \\u00e9\\ud83d\\ude00\"");
    sbuf_reset(&b);
    json_write_string_flags(&b, in, sizeof in - 1, JSON_W_HTML | JSON_W_ASCII);
    assert_string_equal(sbuf_str(&b), "\"a\\u003c/b \\u00e9\\ud83d\\ude00\"");
    sbuf_reset(&b);
    /* Nothing can end or comment out the <script> the JSON sits in. */
    json_write_string_flags(&b, "<!--<script>&", 13, JSON_W_HTML);
    assert_string_equal(sbuf_str(&b), "\"\\u003c!--\\u003cscript\\u003e\\u0026\"");
    sbuf_reset(&b);
    json_write_string_flags(&b, "\xff", 1, JSON_W_ASCII);
    assert_string_equal(sbuf_str(&b), "\"\\ufffd\"");
    sbuf_free(&b);
}

static void test_put_decimal(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    json_writer w;
    json_writer_init(&w, &b);
    json_begin_array(&w);
    json_put_decimal(&w, 96.0, 6);
    json_put_decimal(&w, 0.9854775363414026, 6);
    json_put_decimal(&w, 0.0, 6);
    json_put_decimal(&w, 2.5, 1);
    json_put_decimal(&w, 1234.56789, 2);
    json_put_decimal(&w, -0.0000004, 6);     /* rounds to zero: no "-0" */
    json_put_decimal(&w, -3.25, 6);
    json_put_decimal(&w, 0.1 + 0.2, 9);
    json_put_decimal(&w, 1e300, 6);          /* too large for the fast form */
    json_put_decimal(&w, 0.0 / 0.0, 6);
    json_end_array(&w);
    assert_string_equal(sbuf_str(&b), "[96.0,0.985478,0.0,2.5,1234.57,0.0,-3.25,0.3,1e+300,null]");
    sbuf_free(&b);
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *text =
        "\xEF\xBB\xBF{\n"
        "  \"name\": \"d\xc3\xa9mo \\u2603 \\ud83d\\ude00\",\n"
        "  \"host\": \"http://127.0.0.1:8080\",\n"
        "  \"users\": [\n"
        "    {\"weight\": 3, \"wait\": [0.5, 1.10], \"id\": 12345678901234567890,\n"
        "     \"tasks\": [{\"get\": \"/items?id=1&x=</script>\", \"headers\": {}},\n"
        "               {\"post\": \"/cart\", \"json\": {\"n\": -0, \"e\": 6.02E23,"
        " \"z\": \"\\u0000\\t\\\"\"}}]},\n"
        "    [], [[]], {\"\": null, \"t\": true, \"f\": false}\n"
        "  ]\n"
        "}\n";
    json_value *a = parse_ok(text, 0);
    sbuf out1 = SBUF_INIT, out2 = SBUF_INIT;
    json_write_value(&out1, a);
    json_value *b = parse_ok(out1.s, 0);
    assert_same_tree(a, b);
    json_write_value(&out2, b);
    assert_string_equal(out1.s, out2.s);
    assert_string_equal(out1.s,
        "{\"name\":\"d\xc3\xa9mo \xe2\x98\x83 \xf0\x9f\x98\x80\",\"host\":\"http://127.0.0.1:8080\","
        "\"users\":[{\"weight\":3,\"wait\":[0.5,1.10],\"id\":12345678901234567890,"
        "\"tasks\":[{\"get\":\"/items?id=1&x=</script>\",\"headers\":{}},"
        "{\"post\":\"/cart\",\"json\":{\"n\":-0,\"e\":6.02E23,\"z\":\"\\u0000\\t\\\"\"}}]},"
        "[],[[]],{\"\":null,\"t\":true,\"f\":false}]}");
    json_free(a);
    json_free(b);
    sbuf_free(&out1);
    sbuf_free(&out2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_without_err),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_value_kinds),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_duplicate_keys_big_object),
        cmocka_unit_test(test_duplicate_long_key_is_cut),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_write_string),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_max_depth),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_put_decimal),
        cmocka_unit_test(test_write_ascii_and_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
