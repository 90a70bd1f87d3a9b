/* Tests for engine/request.c: compiling request steps from JSON (parsed with json_parse)
 * against a small scope (a few variables and one data source loaded from a temporary
 * CSV): what is static and what is templated (the dynamic flag, the URL template, query
 * pairs, templated headers and their optional flag for class headers, body kinds and the
 * layout of a JSON body's holes), default names, header merging and content types, every
 * check kind and its failure label, every capture kind, HTTP options (inheritance,
 * overrides, bad values, client certificate paths) and every error with its exact
 * file:line:col.
 *
 * To keep the JSON readable, test texts write '`' for '"'; they are one line, so a
 * position is "r.json:1:<column of a marker>". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "data.h"
#include "interp.h"
#include "json.h"
#include "jsonck.h"
#include "request.h"
#include "sbuf.h"
#include "xalloc.h"

static char tmpdir[PATH_MAX];
static char err[1024];
static jck ck = {"r.json", err, sizeof err};
static iscope scope;
static data_source *accounts;
static request_defaults defaults;
static const char *class_headers;   /* the class's "headers" for the next compile, or NULL */
static program prog;                /* holds the step under test; freed after each test */

static const char *const var_names[] = {"token", "n", "late", "tok", "etag", "sess", "csrf",
                                        "code", "ids"};
enum { V_TOKEN, V_N, V_LATE, V_TOK, V_ETAG, V_SESS, V_CSRF, V_CODE, V_IDS, NVARS };

/* ---- helpers ------------------------------------------------------------------------ */

/* The text with '`' turned into '"', in one of two static buffers (so two results can be
 * used together). */
static const char *dq(const char *s)
{
    static char buf[2][4096];
    static int which;
    char *b = buf[which ^= 1];
    size_t n = strlen(s);
    assert_true(n < sizeof buf[0]);
    for (size_t i = 0; i <= n; i++)
        b[i] = s[i] == '`' ? '"' : s[i];
    return b;
}

static json_value *parse(const char *text)
{
    json_error je;
    json_value *v = json_parse(text, strlen(text), 0, &je);
    if (!v)
        fail_msg("bad test input %s: %u:%u: %s", text, je.line, je.col, je.msg);
    return v;
}

/* Compiles text (with '`' quotes) into the test's step; returns the result code. */
static int compile(const char *text)
{
    interp_free(&prog);
    prog.steps = xcalloc(1, sizeof *prog.steps);
    prog.n = 1;
    json_value *cls = class_headers ? parse(dq(class_headers)) : NULL;
    json_value *v = parse(dq(text));
    defaults.headers = cls;
    err[0] = '\0';
    int rc = request_compile(&ck, v, &defaults, &scope, &prog.steps[0].r);
    defaults.headers = NULL;
    json_free(v);
    json_free(cls);
    return rc;
}

static req_step *ok(const char *text)
{
    if (compile(text) != 0)
        fail_msg("compile failed: %s\n  for: %s", err, dq(text));
    assert_string_equal(err, "");
    return &prog.steps[0].r;
}

/* "r.json:1:C: msg", C being the column where marker starts in text. */
static void bad(const char *text, const char *marker, const char *msg)
{
    const char *m = strstr(text, marker);
    if (!m)
        fail_msg("marker %s not in %s", marker, text);
    char want[1024];
    snprintf(want, sizeof want, "r.json:1:%d: %s", (int)(m - text) + 1, dq(msg));
    if (compile(text) == 0)
        fail_msg("compiled, want error: %s\n  for: %s", want, dq(text));
    if (strcmp(err, want) != 0)
        fail_msg("error\n  got:  %s\n  want: %s\n  for:  %s", err, want, dq(text));
}

/* The static header list as "a|b|c". */
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

/* Rendering compiled templates: token = "T0K", n = 5 (JSON), the rest unset; the data
 * source's first row. */
static tpl_value var_value(void *data, int slot)
{
    (void)data;
    if (slot == V_TOKEN)
        return (tpl_value){"T0K", 3, false};
    if (slot == V_N)
        return (tpl_value){"5", 1, true};
    return (tpl_value){NULL, 0, false};
}

static const char *column_value(void *data, int id, size_t *len, bool *json)
{
    (void)data;
    assert_int_equal(id >> 16, 0);
    return data_cell(accounts, 0, (size_t)(id & 0xffff), len, json);
}

static const char *render(const tpl *t)
{
    static sbuf out;
    static char text[512];
    tpl_ctx ctx = {NULL, var_value, column_value, 7, 0, 1000.0};
    sbuf_reset(&out);
    char e[128];
    if (tpl_render(t, &ctx, &out, NULL, e, sizeof e) != 0)
        fail_msg("render: %s", e);
    snprintf(text, sizeof text, "%s", sbuf_str(&out));
    sbuf_free(&out);
    return text;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    if (!f)
        fail_msg("cannot write %s", name);
    fputs(text, f);
    fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/cicada-request-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/accounts.csv", tmpdir);
    write_file(path, "username,password\nalice,pw1\nbob,pw2\n");
    snprintf(path, sizeof path, "%s/client.pem", tmpdir);
    write_file(path, "cert\n");
    snprintf(path, sizeof path, "%s/client.key", tmpdir);
    write_file(path, "key\n");
    char e[256];
    snprintf(path, sizeof path, "%s/accounts.csv", tmpdir);
    accounts = data_load("accounts", path, DATA_SEQUENTIAL, DATA_RECYCLE, 0, 1, e, sizeof e);
    if (!accounts)
        return -1;
    scope.nvars = NVARS;
    scope.vars = xcalloc(NVARS, sizeof *scope.vars);
    scope.initial = xcalloc(NVARS, sizeof *scope.initial);
    for (int i = 0; i < NVARS; i++)
        scope.vars[i] = xstrdup(var_names[i]);
    scope.sources = xcalloc(1, sizeof *scope.sources);
    scope.sources[0] = accounts;
    scope.per_task = xcalloc(1, sizeof *scope.per_task);
    scope.nsources = 1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    interp_scope_free(&scope);
    data_free(accounts);
    char path[PATH_MAX + 32];
    static const char *const files[] = {"accounts.csv", "client.pem", "client.key"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    return rmdir(tmpdir);
}

static int setup(void **state)
{
    (void)state;
    memset(&defaults, 0, sizeof defaults);
    defaults.timeout_ms = 60000;
    defaults.follow = true;
    defaults.conn = HTTP_CONN_USER;
    defaults.on_failure = ON_FAILURE_CONTINUE;
    defaults.base_dir = tmpdir;
    class_headers = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    interp_free(&prog);
    return 0;
}

/* ---- static requests -------------------------------------------------------------- */

static void test_string_forms(void **state)
{
    (void)state;
    req_step *r = ok("`GET /api/products`");
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->url, "/api/products");
    assert_null(r->name);               /* derived from the URL per host, at resolve */
    assert_false(r->name_explicit);
    assert_false(r->dynamic);
    assert_null(r->headers);
    assert_null(r->body);
    assert_int_equal(r->body_kind, BODY_NONE);
    assert_int_equal(r->timeout_ms, 60000);
    assert_true(r->follow);
    assert_int_equal(r->conn, HTTP_CONN_USER);
    assert_null(r->opts);
    assert_null(r->own_opts);
    assert_int_equal(r->on_failure, ON_FAILURE_CONTINUE);
    assert_int_equal(r->nchecks, 0);
    assert_int_equal(r->ncaptures, 0);
    assert_false(r->needs_body);

    r = ok("`/x?a=1`");                 /* a URL alone means GET */
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->url, "/x?a=1");
    r = ok("`post   http://h:1/x`");    /* upper-cased; spaces after the method skipped */
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->url, "http://h:1/x");
    r = ok("`M-SEARCH_X *`");
    assert_string_equal(r->method, "M-SEARCH_X");
    assert_string_equal(r->url, "*");
}

static void test_object_defaults_and_overrides(void **state)
{
    (void)state;
    req_step *r = ok("{`url`: `/x`}");
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->url, "/x");
    assert_false(r->dynamic);

    r = ok("{`method`: `patch`, `url`: `/x`, `name`: `/x/[id]`, `timeout`: 0.25, "
           "`redirects`: false, `connection`: `shared`, `on_failure`: `stop_user`}");
    assert_string_equal(r->method, "PATCH");
    assert_string_equal(r->name, "/x/[id]");
    assert_true(r->name_explicit);
    assert_int_equal(r->timeout_ms, 250);
    assert_false(r->follow);
    assert_int_equal(r->conn, HTTP_CONN_SHARED);
    assert_int_equal(r->on_failure, ON_FAILURE_STOP_USER);

    r = ok("{`url`: `/x`, `timeout`: 0.0001, `connection`: `request`, "
           "`on_failure`: `end_task`}");
    assert_int_equal(r->timeout_ms, 1);          /* rounded up, never 0 (no limit) */
    assert_int_equal(r->conn, HTTP_CONN_REQUEST);
    assert_int_equal(r->on_failure, ON_FAILURE_END_TASK);
    r = ok("{`url`: `/x`, `timeout`: 1e300}");
    assert_int_equal(r->timeout_ms, LONG_MAX / 2);

    /* what the class gives */
    http_opts cls = {.version = 2, .insecure = true};
    defaults.timeout_ms = 1500;
    defaults.follow = false;
    defaults.conn = HTTP_CONN_REQUEST;
    defaults.on_failure = ON_FAILURE_END_TASK;
    defaults.opts = &cls;
    r = ok("`/x`");
    assert_int_equal(r->timeout_ms, 1500);
    assert_false(r->follow);
    assert_int_equal(r->conn, HTTP_CONN_REQUEST);
    assert_int_equal(r->on_failure, ON_FAILURE_END_TASK);
    assert_ptr_equal(r->opts, &cls);
    assert_null(r->own_opts);
    r = ok("{`url`: `/x`, `redirects`: true, `connection`: `user`, `on_failure`: `continue`}");
    assert_true(r->follow);
    assert_int_equal(r->conn, HTTP_CONN_USER);
    assert_int_equal(r->on_failure, ON_FAILURE_CONTINUE);
    assert_ptr_equal(r->opts, &cls);
    /* a request's own options start from the class's */
    r = ok("{`url`: `/x`, `basic_auth`: `u:p`}");
    assert_non_null(r->own_opts);
    assert_ptr_equal(r->opts, r->own_opts);
    assert_int_equal(r->own_opts->version, 2);
    assert_true(r->own_opts->insecure);
    assert_string_equal(r->own_opts->userpwd, "u:p");
}

static void test_static_query(void **state)
{
    (void)state;
    static const struct {
        const char *req, *url;
    } cases[] = {
        {"{`url`: `/s`, `query`: {`q`: `a b`, `n`: 5, `t`: true, `e`: ``}}",
         "/s?q=a+b&n=5&t=true&e="},
        {"{`url`: `/s?x=1`, `query`: {`q`: `&=?/é`}}", "/s?x=1&q=%26%3D%3F%2F%C3%A9"},
        {"{`url`: `/s?`, `query`: {`q`: `1`}}", "/s?q=1"},
        /* as python-requests joins them: after whatever the query holds */
        {"{`url`: `/s?x=1&`, `query`: {`q`: `1`}}", "/s?x=1&&q=1"},
        {"{`url`: `/s#frag`, `query`: {`q`: `1`}}", "/s?q=1#frag"},
        {"{`url`: `/s?x#frag`, `query`: {`q`: `1`}}", "/s?x&q=1#frag"},
        {"{`url`: `/s`, `query`: [[`a`, `1`], [`a`, 2], [3, false]]}", "/s?a=1&a=2&3=false"},
        {"{`url`: `/s`, `query`: {`a b`: `~_.-`}}", "/s?a+b=~_.-"},
        {"{`url`: `/s`, `query`: {}}", "/s"},
        {"{`url`: `/s`, `query`: []}", "/s"},
        /* quoted text is not a placeholder: still static */
        {"{`url`: `/s`, `query`: {`q`: `{{'{{'}}x}}`}}", "/s?q=%7B%7Bx%7D%7D"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        req_step *r = ok(cases[i].req);
        if (strcmp(r->url, cases[i].url) != 0)
            fail_msg("%s: url %s, want %s", dq(cases[i].req), r->url, cases[i].url);
        assert_false(r->dynamic);
        assert_null(r->query);
        assert_null(r->name);
    }
}

/* ---- templates: what becomes dynamic ----------------------------------------------- */

static void test_templated_url(void **state)
{
    (void)state;
    req_step *r = ok("{`url`: `/items/{{n}}/{{accounts.username}}`}");
    assert_true(r->dynamic);
    assert_non_null(r->url_tpl);
    assert_string_equal(render(r->url_tpl), "/items/5/alice");
    assert_string_equal(r->url, "/items/{{n}}/{{accounts.username}}");
    /* named as written, so every rendering counts in one row */
    assert_string_equal(r->name, "/items/{{n}}/{{accounts.username}}");
    assert_true(r->name_explicit);
    assert_null(r->headers);

    /* an absolute URL is named by its path and query, without the fragment */
    r = ok("{`url`: `http://h:8080/a/{{n}}?q=1#frag`}");
    assert_string_equal(r->name, "/a/{{n}}?q=1");
    r = ok("{`url`: `HTTPS://h/{{n}}`}");
    assert_string_equal(r->name, "/{{n}}");
    /* without a path, as the static URL's name ("/?q=1") */
    r = ok("{`url`: `http://h?q={{n}}#f`}");
    assert_string_equal(r->name, "/?q={{n}}");
    r = ok("{`url`: `/a/{{n}}#frag`}");
    assert_string_equal(r->name, "/a/{{n}}");
    /* a given name wins */
    r = ok("{`url`: `/a/{{n}}`, `name`: `/a/[n]`}");
    assert_string_equal(r->name, "/a/[n]");

    /* templates that fold away at load leave a static request */
    setenv("CICADA_REQUEST_TEST", "v1", 1);
    r = ok("{`url`: `/e/{{env(CICADA_REQUEST_TEST)}}/{{'{{'}}`}");
    assert_false(r->dynamic);
    assert_null(r->url_tpl);
    assert_string_equal(r->url, "/e/v1/{{");
    assert_null(r->name);
    unsetenv("CICADA_REQUEST_TEST");

    /* the "METHOD /url" string is a template too, named as written */
    r = ok("`GET /x/{{n}}`");
    assert_true(r->dynamic);
    assert_string_equal(render(r->url_tpl), "/x/5");
    assert_string_equal(r->name, "/x/{{n}}");
    r = ok("`GET /x/{{'{{'}}`");
    assert_false(r->dynamic);
    assert_string_equal(r->url, "/x/{{");
}

static void test_templated_query(void **state)
{
    (void)state;
    /* one templated value makes every parameter a template, in order */
    req_step *r = ok("{`url`: `/s`, `query`: {`a`: `x y`, `b`: `{{n}}`, `c`: 7}}");
    assert_true(r->dynamic);
    assert_null(r->url_tpl);
    assert_string_equal(r->url, "/s");
    assert_int_equal(r->nquery, 3);
    assert_string_equal(r->query[0].name, "a");
    assert_string_equal(render(r->query[0].value), "x y");   /* encoded when sent */
    assert_string_equal(r->query[1].name, "b");
    assert_string_equal(render(r->query[1].value), "5");
    assert_string_equal(r->query[2].name, "c");
    assert_string_equal(render(r->query[2].value), "7");
    assert_false(r->query[0].optional);
    assert_string_equal(r->name, "/s?a=x y&b={{n}}&c=7");

    r = ok("{`url`: `/s?x=1`, `query`: [[`k`, `{{accounts.password}}`], [`k`, 2]]}");
    assert_int_equal(r->nquery, 2);
    assert_string_equal(render(r->query[0].value), "pw1");
    assert_string_equal(r->name, "/s?x=1&k={{accounts.password}}&k=2");

    /* with a templated URL, static parameters are rendered with it */
    r = ok("{`url`: `/i/{{n}}`, `query`: {`q`: `1`}}");
    assert_non_null(r->url_tpl);
    assert_int_equal(r->nquery, 1);
    assert_string_equal(r->url, "/i/{{n}}");
    assert_string_equal(r->name, "/i/{{n}}?q=1");
}

static void test_headers(void **state)
{
    (void)state;
    req_step *r = ok("{`url`: `/x`, `headers`: {`A`: `1`, `Num`: 2.50, `Yes`: true, `Empty`: ``}}");
    assert_false(r->dynamic);
    /* an empty value is sent as an empty header ("Name;" in curl's terms) */
    assert_string_equal(headers_of(r), "A: 1|Num: 2.50|Yes: true|Empty;");

    /* class headers first, the request's own win by case-insensitive name */
    class_headers = "{`Accept`: `json`, `X-Class`: `c`, `Authorization`: `Bearer {{token}}`, "
                    "`x-own`: `class`}";
    r = ok("{`url`: `/x`, `headers`: {`X-OWN`: `own`, `X-Id`: `{{n}}`}}");
    assert_string_equal(headers_of(r), "Accept: json|X-Class: c|X-OWN: own");
    assert_true(r->dynamic);
    assert_int_equal(r->ndyn_headers, 2);
    assert_string_equal(r->dyn_headers[0].name, "Authorization");
    assert_string_equal(render(r->dyn_headers[0].value), "Bearer T0K");
    assert_true(r->dyn_headers[0].optional);      /* a class header waits for its value */
    assert_string_equal(r->dyn_headers[1].name, "X-Id");
    assert_false(r->dyn_headers[1].optional);     /* the request's own does not */
    /* a static request of the class is dynamic through the class's templated header */
    r = ok("`/y`");
    assert_true(r->dynamic);
    assert_int_equal(r->ndyn_headers, 1);
    assert_string_equal(r->name, "/y");
    assert_true(r->name_explicit);
    /* overriding the templated class header makes the request static again */
    r = ok("{`url`: `/y`, `headers`: {`authorization`: `Basic x`}}");
    assert_false(r->dynamic);
    assert_int_equal(r->ndyn_headers, 0);
    assert_null(r->name);
    assert_string_equal(headers_of(r), "Accept: json|X-Class: c|x-own: class|authorization: Basic x");
}

static void test_body_kinds_and_content_types(void **state)
{
    (void)state;
    req_step *r = ok("{`method`: `POST`, `url`: `/x`, `json`: {`a`: [1, 2.50, `x`, null], "
                     "`b`: {`c`: true}, `s`: `q\\`\\u00e9`, `l`: `{{'{{'}}`}}");
    assert_false(r->dynamic);
    assert_int_equal(r->body_kind, BODY_NONE);
    assert_string_equal(r->body, "{\"a\":[1,2.50,\"x\",null],\"b\":{\"c\":true},"
                                 "\"s\":\"q\\\"\xc3\xa9\",\"l\":\"{{\"}");
    assert_int_equal(r->body_len, strlen(r->body));
    assert_string_equal(headers_of(r), "Content-Type: application/json|Expect:");
    r = ok("{`url`: `/x`, `json`: 5}");
    assert_string_equal(r->body, "5");
    r = ok("{`url`: `/x`, `json`: `{{'{{'}}x`}");
    assert_string_equal(r->body, "\"{{x\"");

    r = ok("{`url`: `/x`, `form`: {`a`: `x y`, `b`: 1, `c`: `&`}}");
    assert_string_equal(r->body, "a=x+y&b=1&c=%26");
    assert_string_equal(headers_of(r),
                        "Content-Type: application/x-www-form-urlencoded|Expect:");
    r = ok("{`url`: `/x`, `form`: [[`a`, 1], [`a`, 2]]}");
    assert_string_equal(r->body, "a=1&a=2");
    r = ok("{`url`: `/x`, `form`: {}}");
    assert_string_equal(r->body, "");
    assert_int_equal(r->body_len, 0);

    /* a raw body has no content type: curl's default is removed */
    r = ok("{`url`: `/x`, `body`: `a\\u0000b`}");
    assert_int_equal(r->body_len, 3);
    assert_memory_equal(r->body, "a\0b", 4);
    assert_string_equal(headers_of(r), "Content-Type:|Expect:");
    r = ok("{`url`: `/x`, `body`: ``}");
    assert_int_equal(r->body_len, 0);
    assert_string_equal(headers_of(r), "Content-Type:|Expect:");
    /* a POST without a body goes out without curl's form content type, as requests does */
    r = ok("`POST /x`");
    assert_null(r->body);
    assert_string_equal(headers_of(r), "Content-Type:|Expect:");

    /* a content type or Expect of the request's or the class's wins */
    r = ok("{`url`: `/x`, `json`: 1, `headers`: {`content-type`: `text/x`, `EXPECT`: `100-continue`}}");
    assert_string_equal(headers_of(r), "content-type: text/x|EXPECT: 100-continue");
    class_headers = "{`Content-Type`: `application/vnd+json`}";
    r = ok("{`url`: `/x`, `json`: 1}");
    assert_string_equal(headers_of(r), "Content-Type: application/vnd+json|Expect:");
    r = ok("{`url`: `/x`}");
    assert_string_equal(headers_of(r), "Content-Type: application/vnd+json");
}

static void test_templated_bodies(void **state)
{
    (void)state;
    /* holes: a whole-string placeholder takes its value's type, one in text is text */
    req_step *r = ok("{`method`: `POST`, `url`: `/x`, `json`: {`id`: `{{n}}`, "
                     "`note`: `x {{n}} y`, `arr`: [`{{token}}`, 1, `{{'{{'}}`], `k`: `plain`}}");
    assert_true(r->dynamic);
    assert_int_equal(r->body_kind, BODY_JSON);
    assert_null(r->body);
    assert_string_equal(r->json_text, "{\"id\":,\"note\":\"\",\"arr\":[,1,\"{{\"],\"k\":\"plain\"}");
    assert_int_equal(r->nholes, 3);
    assert_int_equal(r->holes[0].at, 6);
    assert_true(r->holes[0].typed);
    assert_string_equal(render(r->holes[0].t), "5");
    assert_int_equal(r->holes[1].at, 15);
    assert_false(r->holes[1].typed);
    assert_string_equal(render(r->holes[1].t), "x 5 y");
    assert_int_equal(r->holes[2].at, 24);
    assert_true(r->holes[2].typed);
    assert_string_equal(render(r->holes[2].t), "T0K");
    assert_string_equal(headers_of(r), "Content-Type: application/json|Expect:");
    assert_string_equal(r->name, "/x");

    r = ok("{`url`: `/x`, `json`: `{{accounts.username}}`}");
    assert_string_equal(r->json_text, "");
    assert_int_equal(r->nholes, 1);
    assert_int_equal(r->holes[0].at, 0);
    assert_true(r->holes[0].typed);

    r = ok("{`url`: `/x`, `form`: {`a`: `1`, `b`: `{{token}} x`}}");
    assert_int_equal(r->body_kind, BODY_FORM);
    assert_int_equal(r->nform, 2);
    assert_string_equal(r->form[0].name, "a");
    assert_string_equal(render(r->form[0].value), "1");
    assert_string_equal(render(r->form[1].value), "T0K x");
    assert_null(r->body);
    assert_string_equal(headers_of(r), "Content-Type: application/x-www-form-urlencoded|Expect:");

    r = ok("{`url`: `/x`, `body`: `<{{accounts.password}}>`}");
    assert_int_equal(r->body_kind, BODY_RAW);
    assert_string_equal(render(r->raw_tpl), "<pw1>");
    assert_string_equal(headers_of(r), "Content-Type:|Expect:");
}

/* ---- checks ------------------------------------------------------------------------ */

static void test_checks(void **state)
{
    (void)state;
    /* compiled in a fixed order, whatever the file's: status, body, JSON, headers, time */
    req_step *r = ok("{`url`: `/x`, `check`: {`max_time`: 0.8, `headers`: {`Content-Type`: `json`, "
                     "`X-A`: {`exists`: true}, `X-B`: {`exists`: false}, `X-C`: {`matches`: `^a`}, "
                     "`X-D`: {`equals`: `v 1`}}, "
                     "`json`: {`$.id`: 5, `$.s`: `ok`, `$.t`: [`a`, 1], `$.o`: {`equals`: {`k`: null}}, "
                     "`$.e`: {`exists`: true}, `$.a`: {`exists`: false}, "
                     "`$.m`: {`matches`: `^[0-9]+$`}, `$[*].id`: {`equals`: 2.0}}, "
                     "`body_not_contains`: [`error`, `fail`], `body_contains`: `ok`, "
                     "`status`: [200, 201, 204]}}");
    static const struct {
        enum check_kind kind;
        enum check_op op;
        const char *text, *header, *label;
    } want[] = {
        {CHECK_STATUS, CHECK_EQUALS, NULL, NULL, "200, 201 or 204"},
        {CHECK_BODY_CONTAINS, CHECK_EQUALS, "ok", NULL, "body lacks \"ok\""},
        {CHECK_BODY_NOT_CONTAINS, CHECK_EQUALS, "error", NULL, "body contains \"error\""},
        {CHECK_BODY_NOT_CONTAINS, CHECK_EQUALS, "fail", NULL, "body contains \"fail\""},
        {CHECK_JSON, CHECK_EQUALS, "5", NULL, "$.id is not 5"},
        {CHECK_JSON, CHECK_EQUALS, "\"ok\"", NULL, "$.s is not \"ok\""},
        {CHECK_JSON, CHECK_EQUALS, "[\"a\",1]", NULL, "$.t is not [\"a\",1]"},
        {CHECK_JSON, CHECK_EQUALS, "{\"k\":null}", NULL, "$.o is not {\"k\":null}"},
        {CHECK_JSON, CHECK_EXISTS, NULL, NULL, "$.e missing"},
        {CHECK_JSON, CHECK_ABSENT, NULL, NULL, "$.a present"},
        {CHECK_JSON, CHECK_MATCHES, NULL, NULL, "$.m does not match ^[0-9]+$"},
        {CHECK_JSON, CHECK_EQUALS, "2.0", NULL, "$[*].id is not 2.0"},
        {CHECK_HEADER, CHECK_MATCHES, NULL, "Content-Type",
         "header Content-Type does not match json"},
        {CHECK_HEADER, CHECK_EXISTS, NULL, "X-A", "header X-A missing"},
        {CHECK_HEADER, CHECK_ABSENT, NULL, "X-B", "header X-B present"},
        {CHECK_HEADER, CHECK_MATCHES, NULL, "X-C", "header X-C does not match ^a"},
        {CHECK_HEADER, CHECK_EQUALS, "v 1", "X-D", "header X-D is not v 1"},
        {CHECK_MAX_TIME, CHECK_EQUALS, NULL, NULL, "slower than 0.8 s"},
    };
    assert_int_equal(r->nchecks, sizeof want / sizeof want[0]);
    for (int i = 0; i < r->nchecks; i++) {
        const check *k = &r->checks[i];
        if (k->kind != want[i].kind || k->op != want[i].op || strcmp(k->label, want[i].label))
            fail_msg("check %d: kind %d op %d label %s, want %d %d %s", i, k->kind, k->op,
                     k->label, want[i].kind, want[i].op, want[i].label);
        if (want[i].text) {
            assert_string_equal(k->text, want[i].text);
            assert_int_equal(k->len, strlen(want[i].text));
        } else {
            assert_null(k->text);
        }
        if (want[i].header)
            assert_string_equal(k->header, want[i].header);
        else
            assert_null(k->header);
        assert_int_equal(k->has_re, k->op == CHECK_MATCHES);
        assert_int_equal(k->path != NULL, k->kind == CHECK_JSON);
    }
    assert_int_equal(r->checks[0].nstatuses, 3);
    assert_int_equal(r->checks[0].statuses[0], 200);
    assert_int_equal(r->checks[0].statuses[2], 204);
    assert_string_equal(jpath_text(r->checks[11].path), "$[*].id");
    assert_int_equal(r->checks[17].max_us, 800000);
    assert_true(r->has_status_check);
    assert_true(r->needs_body);
    assert_false(r->dynamic);

    r = ok("{`url`: `/x`, `check`: {`status`: 404}}");
    assert_int_equal(r->nchecks, 1);
    assert_string_equal(r->checks[0].label, "404");
    assert_true(r->has_status_check);
    assert_false(r->needs_body);
    r = ok("{`url`: `/x`, `check`: {`status`: [200, 201]}}");
    assert_string_equal(r->checks[0].label, "200 or 201");
    /* header checks and times do not need the body */
    r = ok("{`url`: `/x`, `check`: {`headers`: {`A`: `b`}, `max_time`: 1e-3}}");
    assert_false(r->needs_body);
    assert_false(r->has_status_check);
    assert_int_equal(r->checks[1].max_us, 1000);
    assert_string_equal(r->checks[1].label, "slower than 0.001 s");
    r = ok("{`url`: `/x`, `check`: {}}");
    assert_int_equal(r->nchecks, 0);
    /* labels are cut, so failure texts stay short */
    char text[400];
    char longs[200];
    memset(longs, 'x', 150);
    longs[150] = '\0';
    snprintf(text, sizeof text, "{`url`: `/x`, `check`: {`body_contains`: `%s`}}", longs);
    r = ok(text);
    char label[200];
    snprintf(label, sizeof label, "body lacks \"%.100s\"", longs);
    assert_string_equal(r->checks[0].label, label);
    assert_int_equal(r->checks[0].len, 150);
}

static void test_check_errors(void **state)
{
    (void)state;
    bad("{`url`: `/x`, `check`: []}", "[]", "`check` must be an object, not an array");
    bad("{`url`: `/x`, `check`: {`stauts`: 200}}", "`stauts`",
        "unknown key `stauts` in check (did you mean `status`?)");
    bad("{`url`: `/x`, `check`: {`status`: []}}", "[]", "`status` needs at least one code");
    bad("{`url`: `/x`, `check`: {`status`: 99}}", "99", "a status must be a code from 100 to 599");
    bad("{`url`: `/x`, `check`: {`status`: [200, 600]}}", "600",
        "a status must be a code from 100 to 599");
    bad("{`url`: `/x`, `check`: {`status`: `200`}}", "`200`",
        "a status must be a code from 100 to 599");
    bad("{`url`: `/x`, `check`: {`status`: 200.0}}", "200.0",
        "a status must be a code from 100 to 599");
    bad("{`url`: `/x`, `check`: {`body_contains`: ``}}", "``}",
        "`body_contains` must be a non-empty string or a list of them, not a string");
    bad("{`url`: `/x`, `check`: {`body_not_contains`: [`a`, 5]}}", "5]",
        "`body_not_contains` must be a non-empty string or a list of them, not a number");
    bad("{`url`: `/x`, `check`: {`json`: {}}}", "{}",
        "`json` must be an object of JSON paths and expectations, not an object");
    bad("{`url`: `/x`, `check`: {`json`: [1]}}", "[1]",
        "`json` must be an object of JSON paths and expectations, not an array");
    /* a bad path is placed at the character that is wrong */
    bad("{`url`: `/x`, `check`: {`json`: {`token`: 1}}}", "token",
        "bad JSON path: a path starts with '$'");
    bad("{`url`: `/x`, `check`: {`json`: {`$.a`: {`equal`: 1}}}}", "`equal`",
        "unknown key `equal` in check (did you mean `equals`?)");
    bad("{`url`: `/x`, `check`: {`json`: {`$.a`: {`equals`: 1, `exists`: true}}}}", "{`equals`",
        "a check takes one of `equals`, `exists` or `matches`");
    bad("{`url`: `/x`, `check`: {`json`: {`$.a`: {}}}}", "{}}",
        "a check takes one of `equals`, `exists` or `matches`");
    bad("{`url`: `/x`, `check`: {`json`: {`$.a`: {`exists`: `yes`}}}}", "`yes`",
        "`exists` must be true or false, not a string");
    bad("{`url`: `/x`, `check`: {`json`: {`$.a`: {`matches`: 5}}}}", "5}",
        "`matches` must be a regular expression (a string), not a number");
    bad("{`url`: `/x`, `check`: {`headers`: {}}}", "{}",
        "`headers` must be an object of header names and expectations, not an object");
    bad("{`url`: `/x`, `check`: {`headers`: {`A`: 5}}}", "5}",
        "`matches` must be a regular expression (a string), not a number");
    bad("{`url`: `/x`, `check`: {`headers`: {`A`: {`exists`: 1}}}}", "1}",
        "`exists` must be true or false, not a number");
    bad("{`url`: `/x`, `check`: {`max_time`: 0}}", "0}",
        "`max_time` must be greater than 0, not 0");
    bad("{`url`: `/x`, `check`: {`max_time`: `1`}}", "`1`",
        "`max_time` must be a number, not a string");
    /* a bad regular expression names itself; the reason is the C library's */
    assert_int_equal(compile("{`url`: `/x`, `check`: {`headers`: {`A`: `(`}}}"), -1);
    const char *prefix = "r.json:1:42: bad regular expression \"(\": ";
    if (strncmp(err, prefix, strlen(prefix)) != 0 || strlen(err) == strlen(prefix))
        fail_msg("got %s", err);
}

/* ---- captures ---------------------------------------------------------------------- */

static void test_captures(void **state)
{
    (void)state;
    req_step *r = ok("{`url`: `/x`, `capture`: {`tok`: `$.token`, "
                     "`ids`: {`json`: `$[*].id`, `pick`: `random`}, "
                     "`n`: {`json`: `$[*].id`, `pick`: `last`, `default`: 0}, "
                     "`etag`: {`header`: `ETag`, `required`: false}, "
                     "`sess`: {`cookie`: `session`, `default`: `none`, `required`: true}, "
                     "`csrf`: {`regex`: `value=.([a-z]+)(x)?`}, "
                     "`late`: {`regex`: `[0-9]+`, `group`: 0, `default`: true}, "
                     "`code`: {`status`: true}, "
                     "`token`: {`json`: `$.t`, `pick`: `first`}}}");
    assert_int_equal(r->ncaptures, 9);
    const capture *c = r->captures;
    assert_string_equal(c[0].var, "tok");
    assert_int_equal(c[0].slot, V_TOK);
    assert_int_equal(c[0].kind, CAPTURE_JSON);
    assert_string_equal(jpath_text(c[0].path), "$.token");
    assert_int_equal(c[0].pick, PICK_FIRST);
    assert_true(c[0].required);
    assert_null(c[0].def);

    assert_int_equal(c[1].slot, V_IDS);
    assert_int_equal(c[1].pick, PICK_RANDOM);
    assert_int_equal(c[2].slot, V_N);
    assert_int_equal(c[2].pick, PICK_LAST);
    assert_string_equal(c[2].def, "0");     /* a default makes the capture optional */
    assert_int_equal(c[2].def_len, 1);
    assert_false(c[2].required);

    assert_int_equal(c[3].kind, CAPTURE_HEADER);
    assert_string_equal(c[3].name, "ETag");
    assert_false(c[3].required);
    assert_null(c[3].def);

    assert_int_equal(c[4].kind, CAPTURE_COOKIE);
    assert_string_equal(c[4].name, "session");
    assert_string_equal(c[4].def, "none");
    assert_true(c[4].required);             /* as the file says, after the default */

    assert_int_equal(c[5].kind, CAPTURE_REGEX);
    assert_true(c[5].has_re);
    assert_int_equal(c[5].group, 1);
    assert_int_equal(c[6].group, 0);
    assert_string_equal(c[6].def, "true");

    assert_int_equal(c[7].kind, CAPTURE_STATUS);
    assert_int_equal(c[7].slot, V_CODE);
    assert_int_equal(c[8].slot, V_TOKEN);
    assert_int_equal(c[8].pick, PICK_FIRST);
    assert_true(r->needs_body);
    assert_false(r->dynamic);

    /* header, cookie and status captures do not need the body */
    r = ok("{`url`: `/x`, `capture`: {`etag`: {`header`: `ETag`}, `code`: {`status`: true},"
           " `sess`: {`cookie`: `s`}}}");
    assert_false(r->needs_body);
    r = ok("{`url`: `/x`, `capture`: {}}");
    assert_int_equal(r->ncaptures, 0);
}

static void test_capture_errors(void **state)
{
    (void)state;
    bad("{`url`: `/x`, `capture`: [`tok`]}", "[`tok`]",
        "`capture` must be an object of variable names, not an array");
    bad("{`url`: `/x`, `capture`: {`tok`: 5}}", "5}",
        "`tok` must be a JSON path or an object such as {`header`: ...}, not a number");
    bad("{`url`: `/x`, `capture`: {`tok`: `$.a[`}}", "`}",
        "bad JSON path: expected an index, '*' or a quoted key after '['");
    bad("{`url`: `/x`, `capture`: {`tok`: {`jsn`: `$.a`}}}", "`jsn`",
        "unknown key `jsn` in capture (did you mean `json`?)");
    bad("{`url`: `/x`, `capture`: {`tok`: {`json`: 5}}}", "5}", "`json` must be a JSON path, not a number");
    bad("{`url`: `/x`, `capture`: {`tok`: {`json`: `x`}}}", "x`}}}",
        "bad JSON path: a path starts with '$'");
    bad("{`url`: `/x`, `capture`: {`tok`: {`json`: `$`, `pick`: `any`}}}", "`any`",
        "`pick` must be `first`, `last` or `random`, not `any`");
    bad("{`url`: `/x`, `capture`: {`tok`: {`header`: `A`, `pick`: `last`}}}", "`last`",
        "`pick` goes with a `json` capture");
    bad("{`url`: `/x`, `capture`: {`tok`: {`header`: 5}}}", "5}", "`header` must be a string, not a number");
    bad("{`url`: `/x`, `capture`: {`tok`: {`cookie`: true}}}", "true",
        "`cookie` must be a string, not a boolean");
    bad("{`url`: `/x`, `capture`: {`tok`: {`regex`: 5}}}", "5}",
        "`matches` must be a regular expression (a string), not a number");
    bad("{`url`: `/x`, `capture`: {`tok`: {`regex`: `(a)`, `group`: 2}}}", "`(a)`",
        "the regular expression has no group 2");
    bad("{`url`: `/x`, `capture`: {`tok`: {`regex`: `a`}}}", "`a`",
        "the regular expression has no group 1");
    bad("{`url`: `/x`, `capture`: {`tok`: {`regex`: `(a)`, `group`: 10}}}", "10",
        "`group` must be between 0 and 9, not 10");
    bad("{`url`: `/x`, `capture`: {`tok`: {`regex`: `(a)`, `group`: 1.5}}}", "1.5",
        "`group` must be an integer, not a number");
    bad("{`url`: `/x`, `capture`: {`tok`: {`header`: `A`, `group`: 1}}}", "1}",
        "`group` goes with a `regex` capture");
    bad("{`url`: `/x`, `capture`: {`tok`: {`status`: false}}}", "false",
        "`status` capture must be true");
    bad("{`url`: `/x`, `capture`: {`tok`: {}}}", "{}",
        "a capture takes exactly one of `json`, `header`, `regex`, `cookie` or `status`");
    /* (header and cookie together would be the same error, but the compiler leaks the
     * first name then: engine/request.c compile_capture overwrites capture.name) */
    bad("{`url`: `/x`, `capture`: {`tok`: {`json`: `$`, `header`: `A`}}}", "{`json`",
        "a capture takes exactly one of `json`, `header`, `regex`, `cookie` or `status`");
    bad("{`url`: `/x`, `capture`: {`tok`: {`required`: false}}}", "{`required`",
        "a capture takes exactly one of `json`, `header`, `regex`, `cookie` or `status`");
    bad("{`url`: `/x`, `capture`: {`tok`: {`header`: `A`, `default`: null}}}", "null",
        "`default` must be a string, number or boolean, not a null");
    bad("{`url`: `/x`, `capture`: {`tok`: {`header`: `A`, `required`: `no`}}}", "`no`",
        "`required` must be true or false, not a string");
}

static void collect(void *data, const char *name)
{
    sbuf_printf(data, "%s,", name);
}

static void test_capture_names(void **state)
{
    (void)state;
    static const struct {
        const char *req, *want;
    } cases[] = {
        {"{`url`: `/x`, `capture`: {`a`: `$.a`, `b`: {`status`: true}}}", "a,b,"},
        {"{`url`: `/x`, `capture`: {`1bad`: `$`}}", "1bad,"},   /* checked by the caller */
        {"{`url`: `/x`, `capture`: []}", ""},
        {"{`url`: `/x`}", ""},
        {"`GET /x`", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_value *v = parse(dq(cases[i].req));
        sbuf got = SBUF_INIT;
        sbuf_puts(&got, "");
        request_capture_names(v, collect, &got);
        assert_string_equal(sbuf_str(&got), cases[i].want);
        sbuf_free(&got);
        json_free(v);
    }
}

/* ---- HTTP options ------------------------------------------------------------------ */

/* request_opts on text; *out as it returns (the caller frees it). */
static int opts(const char *text, const http_opts *inherit, http_opts **out)
{
    json_value *v = parse(dq(text));
    err[0] = '\0';
    int rc = request_opts(&ck, v, inherit, tmpdir, out);
    json_free(v);
    return rc;
}

static void opts_bad(const char *text, const char *marker, const char *msg)
{
    http_opts *o = NULL;
    const char *m = strstr(text, marker);
    assert_non_null(m);
    char want[1024];
    snprintf(want, sizeof want, "r.json:1:%d: %s", (int)(m - text) + 1, dq(msg));
    assert_int_equal(opts(text, NULL, &o), -1);
    if (strcmp(err, want) != 0)
        fail_msg("error\n  got:  %s\n  want: %s", err, want);
    request_opts_free(o);
}

static void test_opts(void **state)
{
    (void)state;
    http_opts *o = (http_opts *)1;
    assert_int_equal(opts("{`url`: `/x`, `timeout`: 1}", NULL, &o), 0);
    assert_null(o);                         /* nothing set: the class's are used */

    assert_int_equal(opts("{`http_version`: `2`}", NULL, &o), 0);
    assert_int_equal(o->version, 2);
    assert_false(o->insecure);
    assert_null(o->client_cert);
    assert_null(o->client_key);
    assert_null(o->userpwd);
    request_opts_free(o);
    static const struct {
        const char *text;
        int version;
    } versions[] = {{"{`http_version`: `1.1`}", 1}, {"{`http_version`: `1`}", 1},
                    {"{`http_version`: 2}", 2}, {"{`http_version`: 1.1}", 1}};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        assert_int_equal(opts(versions[i].text, NULL, &o), 0);
        assert_int_equal(o->version, versions[i].version);
        request_opts_free(o);
    }

    assert_int_equal(opts("{`verify_tls`: false, `basic_auth`: [`u`, `p:w`]}", NULL, &o), 0);
    assert_int_equal(o->version, 1);
    assert_true(o->insecure);
    assert_string_equal(o->userpwd, "u:p:w");
    request_opts_free(o);
    assert_int_equal(opts("{`verify_tls`: true, `basic_auth`: `user:`}", NULL, &o), 0);
    assert_false(o->insecure);
    assert_string_equal(o->userpwd, "user:");
    request_opts_free(o);

    /* client certificates: relative to the scenario's directory, checked at load */
    char cert[PATH_MAX + 32], key[PATH_MAX + 32];
    snprintf(cert, sizeof cert, "%s/client.pem", tmpdir);
    snprintf(key, sizeof key, "%s/client.key", tmpdir);
    assert_int_equal(opts("{`client_cert`: `client.pem`}", NULL, &o), 0);
    assert_string_equal(o->client_cert, cert);
    assert_null(o->client_key);
    request_opts_free(o);
    assert_int_equal(opts("{`client_cert`: {`cert`: `client.pem`, `key`: `client.key`}}", NULL, &o), 0);
    assert_string_equal(o->client_cert, cert);
    assert_string_equal(o->client_key, key);
    request_opts_free(o);
    char text[PATH_MAX + 64];
    snprintf(text, sizeof text, "{`client_cert`: `%s`}", key);
    assert_int_equal(opts(text, NULL, &o), 0);      /* an absolute path as it is */
    assert_string_equal(o->client_cert, key);
    request_opts_free(o);

    /* inheriting: what the object does not set comes from the class */
    http_opts cls = {.version = 2, .insecure = true, .client_cert = cert, .client_key = key,
                     .userpwd = "a:b"};
    assert_int_equal(opts("{`basic_auth`: `c:d`}", &cls, &o), 0);
    assert_int_equal(o->version, 2);
    assert_true(o->insecure);
    assert_string_equal(o->client_cert, cert);
    assert_string_equal(o->client_key, key);
    assert_string_equal(o->userpwd, "c:d");
    assert_string_equal(cls.userpwd, "a:b");
    request_opts_free(o);
    /* a new certificate comes without the class's key */
    assert_int_equal(opts("{`client_cert`: `client.key`, `http_version`: `1.1`, "
                          "`verify_tls`: true}", &cls, &o), 0);
    assert_string_equal(o->client_cert, key);
    assert_null(o->client_key);
    assert_int_equal(o->version, 1);
    assert_false(o->insecure);
    assert_string_equal(o->userpwd, "a:b");
    request_opts_free(o);
    request_opts_free(NULL);
}

/* basic_auth with placeholders: templates of the request (its own or its class's), names
 * checked at load; folded ones ({{env(X)}}) are static again. */
static void test_templated_basic_auth(void **state)
{
    (void)state;
    req_step *r = ok("{`url`: `/x`, `basic_auth`: [`{{accounts.username}}`, `{{accounts.password}}`]}");
    assert_true(r->dynamic);
    assert_non_null(r->auth[0]);
    assert_non_null(r->auth[1]);
    assert_false(r->auth_optional);
    assert_string_equal(render(r->auth[0]), "alice");
    assert_string_equal(render(r->auth[1]), "pw1");
    assert_non_null(r->opts);
    assert_null(r->opts->userpwd);              /* never the placeholders as text */
    assert_string_equal(r->name, "/x");         /* one row for every user's credentials */

    r = ok("{`url`: `/x`, `basic_auth`: `{{accounts.username}}:{{token}}`}");
    assert_true(r->dynamic);
    assert_string_equal(render(r->auth[0]), "alice:T0K");
    assert_null(r->auth[1]);
    assert_null(r->opts->userpwd);

    /* static credentials stay static */
    r = ok("{`url`: `/x`, `basic_auth`: [`u`, `p`]}");
    assert_false(r->dynamic);
    assert_null(r->auth[0]);
    assert_string_equal(r->opts->userpwd, "u:p");

    /* folded at load: static, in the request's own options */
    setenv("CICADA_REQUEST_PW", "s3cret", 1);
    r = ok("{`url`: `/x`, `verify_tls`: false, `basic_auth`: [`api`, `{{env(CICADA_REQUEST_PW)}}`]}");
    assert_false(r->dynamic);
    assert_null(r->auth[0]);
    assert_string_equal(r->opts->userpwd, "api:s3cret");
    assert_true(r->opts->insecure);
    unsetenv("CICADA_REQUEST_PW");

    /* the class's: every request compiles it with the class's scope, and leaves it out
     * while a variable it names is unset (like a class header) */
    json_value *cls = parse(dq("{`verify_tls`: false, `basic_auth`: [`{{accounts.username}}`, `{{tok}}`]}"));
    http_opts *co = NULL;
    assert_int_equal(request_opts(&ck, cls, NULL, tmpdir, &co), 0);
    assert_null(co->userpwd);
    defaults.opts = co;
    defaults.basic_auth = json_get(cls, "basic_auth");
    r = ok("`GET /y`");
    assert_true(r->dynamic);
    assert_true(r->auth_optional);
    assert_string_equal(render(r->auth[0]), "alice");
    assert_ptr_equal(r->opts, co);
    /* a request's own static credentials win over the class's templates */
    r = ok("{`url`: `/y`, `basic_auth`: `c:d`}");
    assert_false(r->dynamic);
    assert_null(r->auth[0]);
    assert_string_equal(r->opts->userpwd, "c:d");
    assert_true(r->opts->insecure);
    /* the class's templates folded: the request gets options of its own */
    json_value *cls2 = parse(dq("{`basic_auth`: `{{'{{'}}u:p`}"));
    defaults.basic_auth = json_get(cls2, "basic_auth");
    r = ok("`GET /z`");
    assert_false(r->dynamic);
    assert_non_null(r->own_opts);
    assert_string_equal(r->opts->userpwd, "{{u:p");
    assert_true(r->opts->insecure);
    interp_free(&prog);
    defaults.opts = NULL;
    defaults.basic_auth = NULL;
    request_opts_free(co);
    json_free(cls);
    json_free(cls2);
}

static void test_templated_basic_auth_errors(void **state)
{
    (void)state;
    bad("{`url`: `/x`, `basic_auth`: [`{{acounts.username}}`, `p`]}", "acounts",
        "unknown data column `acounts.username`");
    bad("{`url`: `/x`, `basic_auth`: [`u`, `{{pasword}}`]}", "pasword",
        "unknown variable `pasword`");
    bad("{`url`: `/x`, `basic_auth`: `{{token}}:{{nope}}`}", "nope", "unknown variable `nope`");
    bad("{`url`: `/x`, `basic_auth`: `{{'{{'}}:{{env(CICADA_REQUEST_UNSET_X)}}`}",
        "CICADA_REQUEST_UNSET_X)", "environment variable CICADA_REQUEST_UNSET_X is not set");
    setenv("CICADA_REQUEST_PW", "nocolon", 1);  /* the default's ':' is not used */
    bad("{`url`: `/x`, `basic_auth`: `{{env(CICADA_REQUEST_PW, 'a:b')}}`}", "`{{env",
        "`basic_auth` has no ':' between the user and the password");
    unsetenv("CICADA_REQUEST_PW");
    /* client certificates are read at load: a placeholder is an error where it starts */
    opts_bad("{`client_cert`: `certs/{{accounts.username}}.pem`}", "{{accounts",
             "`client_cert` takes a file path, not a template: certificates are checked when "
             "the file loads");
    opts_bad("{`client_cert`: {`cert`: `client.pem`, `key`: `{{k}}.key`}}", "{{k}}",
             "`client_cert` takes a file path, not a template: certificates are checked when "
             "the file loads");
    bad("{`url`: `/x`, `client_cert`: `{{n}}.pem`}", "{{n}}",
        "`client_cert` takes a file path, not a template: certificates are checked when "
        "the file loads");
}

static void test_opts_errors(void **state)
{
    (void)state;
    opts_bad("{`http_version`: `3`}", "`3`", "`http_version` must be `1.1` or `2`");
    opts_bad("{`http_version`: `2.0`}", "`2.0`", "`http_version` must be `1.1` or `2`");
    opts_bad("{`http_version`: [2]}", "[2]",
             "`http_version` must be a string, number or boolean, not an array");
    opts_bad("{`verify_tls`: `no`}", "`no`", "`verify_tls` must be true or false, not a string");
    opts_bad("{`client_cert`: ``}", "``", "`client_cert` must be a file path, not a string");
    opts_bad("{`client_cert`: 5}", "5", "`client_cert` must be a file path, not a number");
    opts_bad("{`client_cert`: {`key`: `client.key`}}", "{`key`", "`client_cert` needs `cert`");
    opts_bad("{`client_cert`: {`cert`: `client.pem`, `kye`: `client.key`}}", "`kye`",
             "unknown key `kye` in client_cert (did you mean `key`?)");
    opts_bad("{`basic_auth`: `nocolon`}", "`nocolon`",
             "`basic_auth` must be [`user`, `password`] or `user:password`, not a string");
    opts_bad("{`basic_auth`: [`u`]}", "[`u`]",
             "`basic_auth` must be [`user`, `password`] or `user:password`, not an array");
    opts_bad("{`basic_auth`: [`u`, 1]}", "[`u`",
             "`basic_auth` must be [`user`, `password`] or `user:password`, not an array");
    opts_bad("{`basic_auth`: {}}", "{}",
             "`basic_auth` must be [`user`, `password`] or `user:password`, not an object");
}

/* The message of a missing certificate names the path it tried. */
static void test_opts_missing_file_message(void **state)
{
    (void)state;
    http_opts *o = NULL;
    assert_int_equal(opts("{`client_cert`: `nope.pem`}", NULL, &o), -1);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "r.json:1:17: %s/nope.pem: cannot read: No such file or directory", tmpdir);
    assert_string_equal(err, want);
    request_opts_free(o);
    assert_int_equal(opts("{`client_cert`: {`cert`: `client.pem`, `key`: `nope.key`}}", NULL, &o), -1);
    snprintf(want, sizeof want, "r.json:1:47: %s/nope.key: cannot read: No such file or directory", tmpdir);
    assert_string_equal(err, want);
    request_opts_free(o);
    assert_int_equal(opts("{`client_cert`: {`cert`: `/nonexistent/c.pem`}}", NULL, &o), -1);
    assert_string_equal(err, "r.json:1:26: /nonexistent/c.pem: cannot read: No such file or directory");
    request_opts_free(o);
    /* through a request: the options it had made are freed */
    assert_int_equal(compile("{`url`: `/x`, `basic_auth`: `a:b`, `client_cert`: `nope.pem`}"), -1);
    snprintf(want, sizeof want, "r.json:1:51: %s/nope.pem: cannot read: No such file or directory", tmpdir);
    assert_string_equal(err, want);
    assert_null(prog.steps[0].r.own_opts);
}

/* ---- request errors ---------------------------------------------------------------- */

static void test_request_errors(void **state)
{
    (void)state;
    bad("5", "5", "`request` must be an object or a `METHOD /url` string, not a number");
    bad("[`/x`]", "[", "`request` must be an object or a `METHOD /url` string, not an array");
    bad("{`url`: `/x`, `urll`: 1}", "`urll`", "unknown key `urll` in request (did you mean `url`?)");
    bad("{`method`: `GET`}", "{", "request needs a `url`");
    bad("{`url`: 5}", "5", "`url` must be a string, not a number");
    bad("{`url`: `/x`, `method`: 1}", "1", "`method` must be a string, not a number");
    bad("{`url`: `/x`, `method`: `GE T`}", "`GE T`", "`GE T` is not an HTTP method");
    bad("{`url`: `/x`, `method`: `GET1`}", "`GET1`", "`GET1` is not an HTTP method");
    bad("{`url`: `/x`, `method`: ``}", "``", "`` is not an HTTP method");
    bad("{`url`: `/x`, `method`: `ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG`}", "`ABC",
        "`ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG` is not an HTTP method");
    bad("`G3T /x`", "`G3T", "`G3T` is not an HTTP method");
    bad("`GET `", "`GET", "`url` must be non-empty and without spaces");
    bad("`GET /a b`", "`GET", "`url` must be non-empty and without spaces");
    bad("``", "``", "`url` must be non-empty and without spaces");
    bad("{`url`: ``}", "``", "`url` must be non-empty and without spaces");
    bad("{`url`: `/a\\tb`}", "`/a", "`url` must be non-empty and without spaces");
    /* a template that folds into a space is caught too */
    bad("{`url`: `/a{{' '}}b`}", "`/a", "`url` must be non-empty and without spaces");
    bad("{`url`: `/x`, `name`: ``}", "``}", "request `name` must not be empty");
    bad("{`url`: `/x`, `name`: 5}", "5", "`name` must be a string, not a number");
    bad("{`url`: `/x`, `timeout`: 0}", "0", "`timeout` must be greater than 0, not 0");
    bad("{`url`: `/x`, `timeout`: `1`}", "`1`", "`timeout` must be a number, not a string");
    bad("{`url`: `/x`, `redirects`: 1}", "1", "`redirects` must be true or false, not a number");
    bad("{`url`: `/x`, `connection`: `pool`}", "`pool`",
        "`connection` must be `user`, `shared` or `request`, not `pool`");
    bad("{`url`: `/x`, `on_failure`: `stop`}", "`stop`",
        "`on_failure` must be `continue`, `end_task` or `stop_user`, not `stop`");
    bad("{`url`: `/x`, `http_version`: `3`}", "`3`", "`http_version` must be `1.1` or `2`");
    /* bodies */
    bad("{`url`: `/x`, `json`: 1, `form`: {}}", "{}", "a request takes only one of `json`, `form` and `body`");
    bad("{`url`: `/x`, `json`: 1, `body`: ``}", "``}", "a request takes only one of `json`, `form` and `body`");
    bad("{`url`: `/x`, `form`: {}, `body`: `b`}", "`b`", "a request takes only one of `json`, `form` and `body`");
    bad("{`url`: `/x`, `json`: 1, `form`: {}, `body`: `b`}", "`b`",
        "a request takes only one of `json`, `form` and `body`");
    bad("{`url`: `/x`, `body`: 5}", "5", "`body` must be a string, not a number");
    bad("{`url`: `/x`, `form`: `a=1`}", "`a=1`",
        "`form` must be an object or an array of [name, value] pairs, not a string");
    bad("{`url`: `/x`, `form`: [[`a`]]}", "[`a`]", "each item of `form` must be a [name, value] pair");
    bad("{`url`: `/x`, `form`: {`a`: [1]}}", "[1]",
        "a form value must be a string, number or boolean, not an array");
    /* query */
    bad("{`url`: `/x`, `query`: `q=1`}", "`q=1`",
        "`query` must be an object or an array of [name, value] pairs, not a string");
    bad("{`url`: `/x`, `query`: [`q`, `1`]}", "`q`", "each item of `query` must be a [name, value] pair");
    bad("{`url`: `/x`, `query`: [[`q`, 1, 2]]}", "[`q`", "each item of `query` must be a [name, value] pair");
    bad("{`url`: `/x`, `query`: [[{}, 1]]}", "{}", "a name must be a string, number or boolean, not an object");
    bad("{`url`: `/x`, `query`: {`q`: null}}", "null",
        "a query value must be a string, number or boolean, not a null");
    /* headers */
    bad("{`url`: `/x`, `headers`: []}", "[]",
        "`headers` must be an object of header names and values, not an array");
    bad("{`url`: `/x`, `headers`: {`Bad Name`: `1`}}", "`Bad Name`", "`Bad Name` is not a valid header name");
    bad("{`url`: `/x`, `headers`: {`A:B`: `1`}}", "`A:B`", "`A:B` is not a valid header name");
    bad("{`url`: `/x`, `headers`: {``: `1`}}", "``:", "`` is not a valid header name");
    bad("{`url`: `/x`, `headers`: {`A`: `a\\nb`}}", "`a", "header value must not contain line breaks or NUL");
    bad("{`url`: `/x`, `headers`: {`A`: `a\\u0000b`}}", "`a", "header value must not contain line breaks or NUL");
    bad("{`url`: `/x`, `headers`: {`A`: {}}}", "{}}",
        "a header value must be a string, number or boolean, not an object");
}

static void test_template_errors(void **state)
{
    (void)state;
    /* the column is the name's, inside the string */
    bad("{`url`: `/x/{{nope}}`}", "nope", "unknown variable `nope`");
    bad("{`url`: `/x/{{accounts.nope}}`}", "accounts.nope", "unknown data column `accounts.nope`");
    bad("{`url`: `/x/{{other.x}}`}", "other.x", "unknown data column `other.x`");
    bad("{`url`: `/x/{{n`}", "{{n", "unclosed '{{'");
    bad("{`url`: `/x`, `query`: {`q`: `{{nope}}`}}", "nope", "unknown variable `nope`");
    bad("{`url`: `/x`, `query`: [[`q`, `a{{nope}}`]]}", "nope", "unknown variable `nope`");
    bad("{`url`: `/x`, `headers`: {`A`: `{{nope}}`}}", "nope", "unknown variable `nope`");
    bad("{`url`: `/x`, `json`: {`a`: [1, {`b`: `x{{nope}}`}]}}", "nope", "unknown variable `nope`");
    bad("{`url`: `/x`, `form`: {`a`: `{{random_int(5, 1)}}`}}", "1)",
        "random_int: the high bound 1 is less than the low bound 5");
    bad("{`url`: `/x`, `body`: `{{nope()}}`}", "nope", "unknown function `nope`");
    /* multi-byte characters before the name count one column each */
    assert_int_equal(compile("{`url`: `/\xc3\xa9\xe6\x97\xa5/{{nope}}`}"), -1);
    assert_string_equal(err, "r.json:1:16: unknown variable \"nope\"");
    /* class headers are compiled with the request: their errors are theirs */
    class_headers = "{`A`: `{{nope}}`}";
    assert_int_equal(compile("`/x`"), -1);
    assert_string_equal(err, "r.json:1:10: unknown variable \"nope\"");
}

static void test_request_tpl_and_check_headers(void **state)
{
    (void)state;
    json_value *v = parse("[\"a{{token}}b\", \"{{x}}\", {\"A\": 1, \"B\": true, \"C\": \"\"}, "
                          "{\"D\": null}]");
    tpl *t = NULL;
    assert_int_equal(request_tpl(&ck, &v->arr.items[0], &scope, &t), 0);
    assert_string_equal(render(t), "aT0Kb");
    tpl_free(t);
    t = NULL;
    assert_int_equal(request_tpl(&ck, &v->arr.items[1], &scope, &t), -1);
    assert_null(t);
    assert_string_equal(err, "r.json:1:20: unknown variable \"x\"");
    assert_int_equal(request_check_headers(&ck, &v->arr.items[2]), 0);
    assert_int_equal(request_check_headers(&ck, &v->arr.items[3]), -1);
    assert_string_equal(err, "r.json:1:62: a header value must be a string, number or boolean, "
                             "not a null");
    json_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_string_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_defaults_and_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templated_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templated_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_kinds_and_content_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templated_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capture_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capture_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templated_basic_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templated_basic_auth_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opts_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opts_missing_file_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_tpl_and_check_headers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
