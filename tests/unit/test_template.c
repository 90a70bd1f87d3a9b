/* Tests for engine/template.c: every placeholder form, every compile error with its
 * message and offset, rendering through a fake user (values set and unset, the JSON flag,
 * data columns), the random functions' ranges, env() folding, and no growth of a reused
 * output buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"
#include "sbuf.h"
#include "template.h"

/* ---- a fake scope and user ------------------------------------------------------------ */

static const char *const var_names[] = {"token", "id", "count", "user_index"};
enum { NVARS = 4, COL_USERNAME = 7, COL_PASSWORD = 8 };
static int scope_calls;

static int fake_variable(void *data, const char *name)
{
    (void)data;
    scope_calls++;
    for (int i = 0; i < NVARS; i++)
        if (!strcmp(var_names[i], name))
            return i;
    return -1;
}

static int fake_column(void *data, const char *source, const char *column)
{
    (void)data;
    if (strcmp(source, "accounts"))
        return -1;
    if (!strcmp(column, "username"))
        return COL_USERNAME;
    if (!strcmp(column, "password"))
        return COL_PASSWORD;
    return -1;
}

static const tpl_scope scope = {NULL, fake_variable, fake_column};

typedef struct fake_user {
    tpl_value vars[NVARS];
    bool has_row;
} fake_user;

static tpl_value user_variable(void *data, int slot)
{
    fake_user *u = data;
    assert_in_range(slot, 0, NVARS - 1);
    return u->vars[slot];
}

static const char *user_column(void *data, int id, size_t *len, bool *json)
{
    fake_user *u = data;
    if (!u->has_row)
        return NULL;
    /* "password" stands for a JSON-lines number here, to see the type travel. */
    const char *s = id == COL_USERNAME ? "alice" : id == COL_PASSWORD ? "pw 1" : NULL;
    assert_non_null(s);
    *len = strlen(s);
    *json = id == COL_PASSWORD;
    return s;
}

static fake_user user;
static tpl_ctx ctx;

static int setup(void **state)
{
    (void)state;
    memset(&user, 0, sizeof user);
    user.vars[0] = (tpl_value){"abc", 3, false};
    user.vars[2] = (tpl_value){"42", 2, true};
    user.has_row = true;
    ctx = (tpl_ctx){&user, user_variable, user_column, 17, 3, 1700000000.75};
    rng_seed(12345);
    return 0;
}

static tpl *compile_ok(const char *s)
{
    char err[200] = "";
    size_t off = 999;
    tpl *t = tpl_compile(s, strlen(s), &scope, err, sizeof err, &off);
    if (!t)
        fail_msg("compile of \"%s\" failed at %zu: %s", s, off, err);
    return t;
}

/* Renders t into a fresh buffer; returns the text (caller frees) and the JSON flag. */
static char *render(const tpl *t, bool *json)
{
    sbuf out = SBUF_INIT;
    char err[200] = "";
    if (tpl_render(t, &ctx, &out, json, err, sizeof err) != 0)
        fail_msg("render failed: %s", err);
    return sbuf_take(&out);
}

static void check_render(const char *s, const char *want, bool want_json)
{
    tpl *t = compile_ok(s);
    bool json = !want_json;
    char *got = render(t, &json);
    assert_string_equal(got, want);
    if (json != want_json)
        fail_msg("\"%s\": json flag %d, expected %d", s, json, want_json);
    free(got);
    tpl_free(t);
}

/* ---- compile errors ------------------------------------------------------------------- */

struct error_case {
    const char *tpl;
    const char *at;    /* the error offset is where this first occurs in tpl */
    const char *msg;
};

static const struct error_case error_cases[] = {
    {"abc {{ token", "{{", "unclosed '{{'"},
    {"{{", "{{", "unclosed '{{'"},
    {"{{ token }", "{{", "unclosed '{{'"},
    {"{{ token }} and {{ id", "{{ id", "unclosed '{{'"},
    {"x {{ random_int(1, 2 ", "{{", "unclosed '{{'"},
    {"x {{ random_int(1, ", "{{", "unclosed '{{'"},
    {"{{ accounts.", "{{", "unclosed '{{'"},
    {"{{ token x", "{{", "unclosed '{{'"},
    {"/p/{{ nope", "{{", "unclosed '{{'"},
    {"{{ foo(1, ", "{{", "unclosed '{{'"},
    {"{{ shop.x", "{{", "unclosed '{{'"},
    {"{{ random_choice(a, 'b", "{{", "unclosed '{{'"},
    {"{{}}", "{{", "empty placeholder '{{}}'"},
    {"a {{  }} b", "{{", "empty placeholder '{{}}'"},
    {"{{ 5 }}", "5", "expected a name or a function call after '{{', found '5'"},
    {"{{{token}}", "{t", "expected a name or a function call after '{{', found '{'"},
    {"{{\x01}}", "\x01", "expected a name or a function call after '{{', found byte 0x01"},
    {"/p/{{ nope }}", "nope", "unknown variable \"nope\""},
    {"{{ token x }}", "x", "expected '}}', found 'x'"},
    {"{{ token . x }}", ".", "expected '}}', found '.'"},
    {"{{ accounts . username }}", "accounts", "unknown variable \"accounts\""},
    {"{{ random_choice(a) b }}", "b }", "expected '}}', found 'b'"},
    {"{{ accounts. }}", " }}", "expected a column name after '.', found ' '"},
    {"{{ accounts.username.x }}", ".x", "expected '}}', found '.'"},
    {"{{ accounts.email }}", "accounts", "unknown data column \"accounts.email\""},
    {"{{ shop.username }}", "shop", "unknown data column \"shop.username\""},
    {"{{ foo() }}", "foo", "unknown function \"foo\""},
    {"{{ token(1) }}", "token", "unknown function \"token\""},
    {"{{ user_index() }}", "user_index", "unknown function \"user_index\""},
    {"{{ random_int(1) }}", "random_int", "random_int takes 2 arguments, found 1"},
    {"{{ random_int() }}", "random_int", "random_int takes 2 arguments, found 0"},
    {"{{ random_int(1, 2, 3) }}", "3", "random_int takes 2 arguments, found 3"},
    {"{{ random_int(a, 2) }}", "a,", "random_int: expected an integer, found \"a\""},
    {"{{ random_int(1, '2') }}", "'2'", "random_int: expected an integer, found \"2\""},
    {"{{ random_int(1.5, 2) }}", "1.5", "random_int: expected an integer, found \"1.5\""},
    {"{{ random_int(-, 2) }}", "-", "random_int: expected an integer, found \"-\""},
    {"{{ random_int(+1, 2) }}", "+1", "random_int: expected an integer, found \"+1\""},
    {"{{ random_int(1 2, 3) }}", "1 2", "random_int: expected an integer, found \"1 2\""},
    {"{{ random_int(1, 9223372036854775808) }}", "9223",
     "random_int: 9223372036854775808 is out of range"},
    {"{{ random_int(-9223372036854775809, 0) }}", "-9223",
     "random_int: -9223372036854775809 is out of range"},
    {"{{ random_int(5, 1) }}", "1)",
     "random_int: the high bound 1 is less than the low bound 5"},
    {"{{ random_int(1, ) }}", ") }}", "expected an argument, found ')'"},
    {"{{ random_int(, 1) }}", ", 1", "expected an argument, found ','"},
    {"{{ random_choice() }}", "random_choice", "random_choice needs at least one item"},
    {"{{ random_choice(  ) }}", "random_choice", "random_choice needs at least one item"},
    {"{{ random_choice(a, 'b) }}", "'b", "unterminated quoted argument"},
    {"{{ random_choice('a' b) }}", "b)", "expected ',' or ')', found 'b'"},
    {"{{ random_choice(a }}", "}}", "expected ',' or ')', found '}'"},
    {"{{ random_choice(a, }}", "}}", "expected an argument, found '}'"},
    {"{{ uuid(1) }}", "1", "uuid takes no arguments"},
    {"{{ time(x) }}", "x", "time takes no arguments"},
    {"{{ time_ms(1, 2) }}", "1", "time_ms takes no arguments"},
    {"{{ env() }}", "env", "env takes 1 or 2 arguments, found 0"},
    {"{{ env(A, b, c) }}", "c)", "env takes 1 or 2 arguments, found 3"},
    {"x{{ env(CICADA_TEST_UNSET) }}", "CICADA",
     "environment variable CICADA_TEST_UNSET is not set"},
};

static void test_compile_errors(void **state)
{
    (void)state;
    unsetenv("CICADA_TEST_UNSET");
    for (size_t i = 0; i < sizeof error_cases / sizeof *error_cases; i++) {
        const struct error_case *e = &error_cases[i];
        char err[200] = "";
        size_t off = 999;
        tpl *t = tpl_compile(e->tpl, strlen(e->tpl), &scope, err, sizeof err, &off);
        if (t)
            fail_msg("\"%s\" compiled", e->tpl);
        const char *at = strstr(e->tpl, e->at);
        assert_non_null(at);
        if (strcmp(err, e->msg) || off != (size_t)(at - e->tpl))
            fail_msg("\"%s\": got \"%s\" at %zu, expected \"%s\" at %zu", e->tpl, err, off,
                     e->msg, (size_t)(at - e->tpl));
    }
}

static void test_error_message_is_cut_to_buffer(void **state)
{
    (void)state;
    char err[8];
    size_t off = 0;
    assert_null(tpl_compile("{{ nope }}", 10, &scope, err, sizeof err, &off));
    assert_string_equal(err, "unknown");
    assert_int_equal(off, 3);
    /* Neither buffer is required. */
    assert_null(tpl_compile("{{ nope }}", 10, &scope, NULL, 0, NULL));
}

static void test_without_scope(void **state)
{
    (void)state;
    char err[100];
    size_t off;
    assert_null(tpl_compile("{{token}}", 9, NULL, err, sizeof err, &off));
    assert_string_equal(err, "unknown variable \"token\"");
    assert_null(tpl_compile("{{a.b}}", 7, NULL, err, sizeof err, &off));
    assert_string_equal(err, "unknown data column \"a.b\"");
    tpl_scope none = {NULL, NULL, NULL};
    assert_null(tpl_compile("{{token}}", 9, &none, err, sizeof err, &off));
    tpl *t = tpl_compile("{{user_index}}", 14, NULL, err, sizeof err, &off);
    assert_non_null(t);
    tpl_free(t);
}

/* ---- static templates ----------------------------------------------------------------- */

static void test_static(void **state)
{
    (void)state;
    tpl *t = compile_ok("plain text }} with closing braces } {");
    assert_true(tpl_is_static(t));
    assert_false(tpl_is_single(t));
    size_t len = 99;
    assert_string_equal(tpl_static_text(t, &len), "plain text }} with closing braces } {");
    assert_int_equal(len, 37);
    bool json = true;
    char *got = render(t, &json);
    assert_string_equal(got, "plain text }} with closing braces } {");
    assert_false(json);
    free(got);
    tpl_free(t);

    t = compile_ok("");
    assert_true(tpl_is_static(t));
    assert_false(tpl_is_single(t));
    assert_string_equal(tpl_static_text(t, &len), "");
    assert_int_equal(len, 0);
    got = render(t, NULL);
    assert_string_equal(got, "");
    free(got);
    tpl_free(t);

    t = compile_ok("/a/{{token}}");
    assert_false(tpl_is_static(t));
    assert_null(tpl_static_text(t, &len));
    assert_int_equal(len, 0);
    tpl_free(t);
    tpl_free(NULL);
}

static void test_nul_bytes_in_text(void **state)
{
    (void)state;
    char err[100];
    size_t off;
    tpl *t = tpl_compile("a\0b{{token}}\0", 13, &scope, err, sizeof err, &off);
    assert_non_null(t);
    sbuf out = SBUF_INIT;
    assert_int_equal(tpl_render(t, &ctx, &out, NULL, err, sizeof err), 0);
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.s, "a\0babc\0", 8);
    sbuf_free(&out);
    tpl_free(t);
}

/* ---- variables and columns ------------------------------------------------------------ */

static void test_variables(void **state)
{
    (void)state;
    check_render("/api/{{token}}/x?n={{ count }}", "/api/abc/x?n=42", false);
    check_render("{{token}}{{token}}", "abcabc", false);
    check_render("{{\ttoken  }}", "abc", false);
    check_render("}}{{token}}}}", "}}abc}}", false);
    /* A single placeholder takes the value's kind. */
    check_render("{{ count }}", "42", true);
    check_render("{{token}}", "abc", false);
    user.vars[1] = (tpl_value){"{\"a\": 1}", 8, true};
    check_render("{{id}}", "{\"a\": 1}", true);
    check_render("x{{id}}", "x{\"a\": 1}", false);
    user.vars[1] = (tpl_value){"", 0, false};
    check_render("[{{id}}]", "[]", false);
}

static void test_single(void **state)
{
    (void)state;
    static const struct {
        const char *tpl;
        bool single;
    } cases[] = {
        {"{{token}}", true},        {" {{token}}", false},   {"{{token}} ", false},
        {"{{token}}{{id}}", false}, {"{{ uuid() }}", true}, {"{{accounts.username}}", true},
        {"{{env(HOME)}}", false},   {"text", false},
    };
    setenv("HOME", "/root", 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tpl *t = compile_ok(cases[i].tpl);
        if (tpl_is_single(t) != cases[i].single)
            fail_msg("tpl_is_single(\"%s\") != %d", cases[i].tpl, cases[i].single);
        tpl_free(t);
    }
}

static void test_variable_without_value(void **state)
{
    (void)state;
    tpl *t = compile_ok("a{{token}}b{{id}}c");
    sbuf out = SBUF_INIT;
    sbuf_puts(&out, "prefix:");
    char err[100] = "";
    bool json = true;
    assert_int_equal(tpl_render(t, &ctx, &out, &json, err, sizeof err), -1);
    assert_string_equal(err, "variable \"id\" has no value yet");
    /* Nothing of the failed render stays. */
    assert_string_equal(sbuf_str(&out), "prefix:");
    assert_int_equal(out.len, 7);
    assert_false(json);
    user.vars[1] = (tpl_value){"7", 1, true};
    assert_int_equal(tpl_render(t, &ctx, &out, &json, err, sizeof err), 0);
    assert_string_equal(sbuf_str(&out), "prefix:aabcb7c");
    assert_false(json);
    sbuf_free(&out);
    tpl_free(t);

    /* On an empty, never-allocated buffer as well. */
    t = compile_ok("{{id}}");
    user.vars[1] = (tpl_value){NULL, 0, false};
    assert_int_equal(tpl_render(t, &ctx, &out, NULL, err, sizeof err), -1);
    assert_int_equal(out.len, 0);
    assert_null(out.s);
    tpl_free(t);
}

static void test_columns(void **state)
{
    (void)state;
    check_render("{{accounts.username}}:{{ accounts.password }}", "alice:pw 1", false);
    check_render("{{accounts.username}}", "alice", false);
    user.has_row = false;
    tpl *t = compile_ok("u={{accounts.username}}");
    sbuf out = SBUF_INIT;
    char err[100] = "";
    assert_int_equal(tpl_render(t, &ctx, &out, NULL, err, sizeof err), -1);
    assert_string_equal(err, "no row of data source \"accounts\" for this user");
    assert_string_equal(sbuf_str(&out), "");
    sbuf_free(&out);
    tpl_free(t);
}

static void test_indexes(void **state)
{
    (void)state;
    scope_calls = 0;
    /* The scope also knows a variable "user_index": the built-in wins. */
    check_render("u{{user_index}}w{{ worker_index }}", "u17w3", false);
    assert_int_equal(scope_calls, 0);
    check_render("{{user_index}}", "17", true);
    check_render("{{worker_index}}", "3", true);
    ctx.user_index = UINT32_MAX;
    ctx.worker_index = 0;
    check_render("{{user_index}}/{{worker_index}}", "4294967295/0", false);
}

static void test_time(void **state)
{
    (void)state;
    check_render("{{time()}}", "1700000000", true);
    check_render("{{ time_ms( ) }}", "1700000000750", true);
    check_render("t={{time()}}", "t=1700000000", false);
    ctx.now = 5.0;
    check_render("{{time()}} {{time_ms()}}", "5 5000", false);
}

/* ---- functions ------------------------------------------------------------------------ */

static void test_random_int(void **state)
{
    (void)state;
    tpl *t = compile_ok("{{ random_int(1, 6) }}");
    assert_true(tpl_is_single(t));
    int counts[7] = {0};
    sbuf out = SBUF_INIT;
    char err[100];
    for (int i = 0; i < 6000; i++) {
        sbuf_reset(&out);
        bool json = false;
        assert_int_equal(tpl_render(t, &ctx, &out, &json, err, sizeof err), 0);
        assert_true(json);
        assert_int_equal(out.len, 1);
        int v = out.s[0] - '0';
        assert_in_range(v, 1, 6);
        counts[v]++;
    }
    for (int v = 1; v <= 6; v++)
        assert_in_range(counts[v], 850, 1150);
    tpl_free(t);

    check_render("{{random_int(-3, -3)}}", "-3", true);
    check_render("{{random_int(0,0)}}", "0", true);
    check_render("{{random_int( 7 , 7 )}}", "7", true);

    /* The whole int64_t range, and ranges that cross zero. */
    t = compile_ok("{{random_int(-9223372036854775808, 9223372036854775807)}}");
    int negative = 0;
    for (int i = 0; i < 100; i++) {
        sbuf_reset(&out);
        assert_int_equal(tpl_render(t, &ctx, &out, NULL, err, sizeof err), 0);
        negative += out.s[0] == '-';
        char *end;
        strtoll(out.s, &end, 10);
        assert_true(*end == '\0');
    }
    assert_in_range(negative, 25, 75);
    tpl_free(t);

    t = compile_ok("{{random_int(-2, 2)}}");
    int seen[5] = {0};
    for (int i = 0; i < 1000; i++) {
        sbuf_reset(&out);
        assert_int_equal(tpl_render(t, &ctx, &out, NULL, err, sizeof err), 0);
        long v = strtol(out.s, NULL, 10);
        assert_in_range(v + 2, 0, 4);
        seen[v + 2]++;
    }
    for (int i = 0; i < 5; i++)
        assert_true(seen[i] > 100);
    tpl_free(t);

    t = compile_ok("{{random_int(9223372036854775806, 9223372036854775807)}}");
    for (int i = 0; i < 20; i++) {
        sbuf_reset(&out);
        assert_int_equal(tpl_render(t, &ctx, &out, NULL, err, sizeof err), 0);
        assert_true(!strcmp(out.s, "9223372036854775806") ||
                    !strcmp(out.s, "9223372036854775807"));
    }
    tpl_free(t);
    sbuf_free(&out);
}

static void test_random_choice(void **state)
{
    (void)state;
    static const char *const want[] = {"red", "dark blue", "it's", "", "a b", "x,y)"};
    tpl *t = compile_ok("<{{ random_choice(red, 'dark blue' ,'it''s', '',  a b  , 'x,y)') }}>");
    int counts[6] = {0};
    sbuf out = SBUF_INIT;
    char err[100];
    for (int i = 0; i < 3000; i++) {
        sbuf_reset(&out);
        assert_int_equal(tpl_render(t, &ctx, &out, NULL, err, sizeof err), 0);
        size_t k = 0;
        while (k < 6 && (out.len != strlen(want[k]) + 2 ||
                         memcmp(out.s + 1, want[k], out.len - 2) != 0))
            k++;
        if (k == 6 || out.s[0] != '<' || out.s[out.len - 1] != '>')
            fail_msg("unexpected choice \"%s\"", out.s);
        counts[k]++;
    }
    for (int k = 0; k < 6; k++)
        assert_in_range(counts[k], 400, 600);
    tpl_free(t);
    sbuf_free(&out);

    check_render("{{random_choice(only)}}", "only", false);
    check_render("{{random_choice('{{x}}')}}", "{{x}}", false);
    /* Items and literal text share one block. */
    check_render("a{{random_choice(b)}}c{{random_choice(d)}}e", "abcde", false);
}

static void test_uuid(void **state)
{
    (void)state;
    tpl *t = compile_ok("{{uuid()}}");
    sbuf out = SBUF_INIT;
    char err[100], prev[37] = "";
    int variants[4] = {0};
    for (int i = 0; i < 400; i++) {
        sbuf_reset(&out);
        bool json = true;
        assert_int_equal(tpl_render(t, &ctx, &out, &json, err, sizeof err), 0);
        assert_false(json);
        assert_int_equal(out.len, 36);
        for (int k = 0; k < 36; k++) {
            char c = out.s[k];
            if (k == 8 || k == 13 || k == 18 || k == 23)
                assert_int_equal(c, '-');
            else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                fail_msg("not lower-case hex: %s", out.s);
        }
        assert_int_equal(out.s[14], '4');
        const char *v = strchr("89ab", out.s[19]);
        assert_non_null(v);
        variants[v - "89ab"]++;
        assert_string_not_equal(out.s, prev);
        memcpy(prev, out.s, 37);
    }
    for (int k = 0; k < 4; k++)
        assert_true(variants[k] > 50);
    sbuf_free(&out);
    tpl_free(t);
}

static void test_env(void **state)
{
    (void)state;
    setenv("CICADA_TPL_HOST", "example.com", 1);
    unsetenv("CICADA_TPL_NONE");
    tpl *t = compile_ok("https://{{ env(CICADA_TPL_HOST) }}/x");
    assert_true(tpl_is_static(t));
    size_t len;
    assert_string_equal(tpl_static_text(t, &len), "https://example.com/x");
    assert_int_equal(len, 21);
    /* Folded at compile time: later changes do not show. */
    setenv("CICADA_TPL_HOST", "other", 1);
    char *got = render(t, NULL);
    assert_string_equal(got, "https://example.com/x");
    free(got);
    tpl_free(t);

    check_render("{{env(CICADA_TPL_NONE, none)}}", "none", false);
    check_render("{{env(CICADA_TPL_NONE, 'a, b')}}!", "a, b!", false);
    check_render("[{{env(CICADA_TPL_NONE, '')}}]", "[]", false);
    check_render("{{env(CICADA_TPL_HOST, none)}}", "other", false);
    check_render("{{env('CICADA_TPL_HOST')}}", "other", false);

    t = compile_ok("{{env(CICADA_TPL_NONE, x)}}");
    assert_true(tpl_is_static(t));
    assert_false(tpl_is_single(t));
    tpl_free(t);

    /* Folded text joins the literal text around it. */
    t = compile_ok("a{{env(CICADA_TPL_HOST)}}b{{token}}");
    assert_false(tpl_is_static(t));
    got = render(t, NULL);
    assert_string_equal(got, "aotherbabc");
    free(got);
    tpl_free(t);
    unsetenv("CICADA_TPL_HOST");
}

static void collect_slot(void *data, int slot)
{
    sbuf_printf(data, "%d,", slot);
}

static void test_foreach_variable(void **state)
{
    (void)state;
    tpl *t = compile_ok("{{token}}/{{id}}{{user_index}}{{accounts.username}}{{uuid()}}{{token}}");
    sbuf slots = SBUF_INIT;
    tpl_foreach_variable(t, collect_slot, &slots);
    assert_string_equal(sbuf_str(&slots), "0,1,0,");
    tpl_free(t);
    sbuf_reset(&slots);
    t = compile_ok("static");
    tpl_foreach_variable(t, collect_slot, &slots);
    assert_string_equal(sbuf_str(&slots), "");
    tpl_free(t);
    sbuf_free(&slots);
}

/* Rendering is concatenation into out: once out has grown, it stays as it is. */
static void test_render_does_not_grow_buffer(void **state)
{
    (void)state;
    user.vars[1] = (tpl_value){"17", 2, true};
    tpl *t = compile_ok("/api/{{token}}/{{ id }}?r={{random_int(1, 1000000)}}&c="
                        "{{random_choice(a, bbbbbbbb)}}&u={{uuid()}}&t={{time_ms()}}&"
                        "{{accounts.username}}&{{user_index}}");
    sbuf out = SBUF_INIT;
    char err[100];
    sbuf_reserve(&out, 200);
    size_t cap = out.cap;
    char *s = out.s;
    for (int i = 0; i < 1000; i++) {
        sbuf_reset(&out);
        assert_int_equal(tpl_render(t, &ctx, &out, NULL, err, sizeof err), 0);
        assert_true(out.len >= 83);
    }
    assert_int_equal(out.cap, cap);
    assert_ptr_equal(out.s, s);
    sbuf_free(&out);
    tpl_free(t);
}

static void test_quoted_text_and_column_types(void **state)
{
    (void)state;
    char err[200];
    size_t off = 0;
    tpl *t = tpl_compile("a{{'{{'}}b{{ 'it''s' }}", 23, &scope, err, sizeof err, &off);
    assert_non_null(t);
    assert_true(tpl_is_static(t));
    size_t n;
    assert_string_equal(tpl_static_text(t, &n), "a{{bit's");
    tpl_free(t);
    assert_null(tpl_compile("{{'open}}", 9, &scope, err, sizeof err, &off));
    assert_string_equal(err, "unterminated quoted text");
    assert_int_equal(off, 2);

    user.has_row = true;
    sbuf b = SBUF_INIT;
    bool json = false;
    t = tpl_compile("{{accounts.password}}", 21, &scope, err, sizeof err, &off);
    assert_non_null(t);
    assert_int_equal(tpl_render(t, &ctx, &b, &json, err, sizeof err), 0);
    assert_true(json);
    tpl_free(t);
    t = tpl_compile("{{accounts.username}}", 21, &scope, err, sizeof err, &off);
    sbuf_reset(&b);
    assert_int_equal(tpl_render(t, &ctx, &b, &json, err, sizeof err), 0);
    assert_false(json);
    assert_string_equal(sbuf_str(&b), "alice");
    tpl_free(t);
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_quoted_text_and_column_types, setup),
        cmocka_unit_test_setup(test_compile_errors, setup),
        cmocka_unit_test_setup(test_error_message_is_cut_to_buffer, setup),
        cmocka_unit_test_setup(test_without_scope, setup),
        cmocka_unit_test_setup(test_static, setup),
        cmocka_unit_test_setup(test_nul_bytes_in_text, setup),
        cmocka_unit_test_setup(test_variables, setup),
        cmocka_unit_test_setup(test_single, setup),
        cmocka_unit_test_setup(test_variable_without_value, setup),
        cmocka_unit_test_setup(test_columns, setup),
        cmocka_unit_test_setup(test_indexes, setup),
        cmocka_unit_test_setup(test_time, setup),
        cmocka_unit_test_setup(test_random_int, setup),
        cmocka_unit_test_setup(test_random_choice, setup),
        cmocka_unit_test_setup(test_uuid, setup),
        cmocka_unit_test_setup(test_env, setup),
        cmocka_unit_test_setup(test_foreach_variable, setup),
        cmocka_unit_test_setup(test_render_does_not_grow_buffer, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
