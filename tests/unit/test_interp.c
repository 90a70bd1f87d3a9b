/* Tests for engine/interp.c: URL joining, absolute-URL detection, and what
 * interp_resolve prepares for the HTTP client (URL, default name, link-local flag). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "interp.h"
#include "xalloc.h"

static void assert_join(const char *host, const char *path, const char *want)
{
    char *got = interp_join_url(host, path);
    if (strcmp(got, want) != 0)
        fail_msg("join(%s, \"%s\") = \"%s\", want \"%s\"", host ? host : "NULL", path, got,
                 want);
    free(got);
}

static void test_join_url(void **state)
{
    (void)state;
    assert_join("http://h", "/x", "http://h/x");
    assert_join("http://h/", "/x", "http://h/x");          /* no doubled slash */
    assert_join("http://h/", "x", "http://h/x");
    assert_join("http://h", "x", "http://h/x");            /* no leading slash */
    assert_join("http://h:8080/api", "/v1?a=1", "http://h:8080/api/v1?a=1");
    assert_join("http://h/api/", "/v1", "http://h/api/v1");
    assert_join("http://h", "?q=1", "http://h?q=1");       /* query only: as Locust */
    assert_join("http://h/", "?q=1", "http://h/?q=1");
    assert_join("http://h", "", "http://h");
    assert_join("http://h/", "", "http://h/");
    assert_join("http://h", "//x", "http://h//x");
    assert_join("http://h", "https://other/y", "https://other/y"); /* absolute passthrough */
    assert_join("http://h", "HTTP://Other/y", "HTTP://Other/y");
    assert_join(NULL, "/x", "/x");                         /* no host: path copied */
    assert_join(NULL, "http://a/b", "http://a/b");
}

static void test_is_absolute(void **state)
{
    (void)state;
    assert_true(interp_is_absolute("http://h"));
    assert_true(interp_is_absolute("https://h/x"));
    assert_true(interp_is_absolute("HTTP://H"));
    assert_true(interp_is_absolute("HttpS://h"));
    assert_true(interp_is_absolute("http://"));
    assert_false(interp_is_absolute("/x"));
    assert_false(interp_is_absolute(""));
    assert_false(interp_is_absolute("http:/h"));
    assert_false(interp_is_absolute("http:"));
    assert_false(interp_is_absolute("ftp://h"));
    assert_false(interp_is_absolute("httpx://h"));
    assert_false(interp_is_absolute(" http://h"));
    assert_false(interp_is_absolute("h/http://x"));
}

/* A program of n request steps with the given methods and URLs (names derived). */
static program make_program(int n, const char *const *methods, const char *const *urls)
{
    program p = {xcalloc((size_t)n, sizeof(step)), n};
    for (int i = 0; i < n; i++) {
        step *s = &p.steps[i];
        s->kind = STEP_REQUEST;
        char where[64];
        snprintf(where, sizeof where, "t.json:%d:5 (task \"t\", step %d)", i + 2, i + 1);
        s->where = xstrdup(where);
        s->r.method = xstrdup(methods[i]);
        s->r.url = xstrdup(urls[i]);
        s->r.timeout_ms = 1000 + i;
        s->r.follow = i % 2 == 0;
        s->r.conn = HTTP_CONN_SHARED;
    }
    return p;
}

static void test_resolve_fills_request(void **state)
{
    (void)state;
    const char *m[] = {"GET", "HEAD", "POST", "DELETE"};
    const char *u[] = {"/a?x=1#frag", "b", "http://other:81?q", "https://o"};
    program p = make_program(4, m, u);
    p.steps[2].r.body = xstrdup("{}");
    p.steps[2].r.body_len = 2;
    char err[256] = "";
    assert_int_equal(interp_resolve(&p, "http://h:8/base", err, sizeof err), 0);
    assert_string_equal(err, "");

    const req_step *r = &p.steps[0].r;
    assert_string_equal(r->abs_url, "http://h:8/base/a?x=1#frag");
    assert_string_equal(r->name, "/base/a?x=1");
    assert_ptr_equal(r->req.url, r->abs_url);
    assert_ptr_equal(r->req.method, r->method);
    assert_int_equal(r->req.kind, HTTP_GET);
    assert_int_equal(r->req.timeout_ms, 1000);
    assert_true(r->req.follow);
    assert_int_equal(r->req.conn, HTTP_CONN_SHARED);
    assert_false(r->req.link_local);
    assert_false(r->req.dynamic);
    assert_null(r->req.body);

    r = &p.steps[1].r;
    assert_string_equal(r->abs_url, "http://h:8/base/b");
    assert_string_equal(r->name, "/base/b");
    assert_int_equal(r->req.kind, HTTP_HEAD);
    assert_false(r->req.follow);

    r = &p.steps[2].r;
    assert_string_equal(r->abs_url, "http://other:81?q");
    assert_string_equal(r->name, "/?q");
    assert_int_equal(r->req.kind, HTTP_POST);
    assert_ptr_equal(r->req.body, r->body);
    assert_int_equal(r->req.body_len, 2);

    r = &p.steps[3].r;
    assert_string_equal(r->name, "/");
    assert_int_equal(r->req.kind, HTTP_OTHER);
    interp_free(&p);
    assert_null(p.steps);
    assert_int_equal(p.n, 0);
}

static void test_resolve_again_with_new_host(void **state)
{
    (void)state;
    const char *m[] = {"GET", "GET"};
    const char *u[] = {"/x", "/y"};
    program p = make_program(2, m, u);
    p.steps[1].r.name = xstrdup("fixed");
    p.steps[1].r.name_explicit = true;
    char err[256];
    assert_int_equal(interp_resolve(&p, "http://a", err, sizeof err), 0);
    assert_string_equal(p.steps[0].r.name, "/x");
    /* a cached stats entry survives a host change that keeps the name... */
    stats_entry *marker = (stats_entry *)&p;
    p.steps[0].r.entry = marker;
    p.steps[1].r.entry = marker;
    assert_int_equal(interp_resolve(&p, "http://b:9", err, sizeof err), 0);
    assert_string_equal(p.steps[0].r.abs_url, "http://b:9/x");
    assert_ptr_equal(p.steps[0].r.entry, marker);
    /* ...and is dropped when the derived name changes; explicit names never change */
    assert_int_equal(interp_resolve(&p, "http://c/pre", err, sizeof err), 0);
    assert_string_equal(p.steps[0].r.abs_url, "http://c/pre/x");
    assert_string_equal(p.steps[0].r.name, "/pre/x");
    assert_null(p.steps[0].r.entry);
    assert_string_equal(p.steps[1].r.name, "fixed");
    assert_string_equal(p.steps[1].r.abs_url, "http://c/pre/y");
    assert_ptr_equal(p.steps[1].r.entry, marker);
    interp_free(&p);
}

static void test_resolve_relative_without_host(void **state)
{
    (void)state;
    const char *m[] = {"GET", "GET"};
    const char *u[] = {"http://ok/1", "/rel"};
    program p = make_program(2, m, u);
    char err[256] = "";
    assert_int_equal(interp_resolve(&p, NULL, err, sizeof err), -1);
    assert_string_equal(err,
                        "t.json:3:5 (task \"t\", step 2): relative URL \"/rel\" but no host: set "
                        "\"host\" in the scenario or its user class, or use --host");
    interp_free(&p);
}

static void test_resolve_skips_think_steps(void **state)
{
    (void)state;
    program p = {xcalloc(1, sizeof(step)), 1};
    p.steps[0].kind = STEP_THINK;
    p.steps[0].where = xstrdup("w");
    char err[64] = "";
    assert_int_equal(interp_resolve(&p, NULL, err, sizeof err), 0);
    interp_free(&p);
}

static bool link_local_of(const char *url)
{
    const char *m[] = {"GET"};
    const char *u[] = {url};
    program p = make_program(1, m, u);
    char err[256];
    assert_int_equal(interp_resolve(&p, NULL, err, sizeof err), 0);
    bool ll = p.steps[0].r.req.link_local;
    interp_free(&p);
    return ll;
}

static void test_link_local(void **state)
{
    (void)state;
    assert_true(link_local_of("http://[fe80::1]:80/x"));
    assert_true(link_local_of("http://[FE80::1%25eth0]/x"));
    assert_true(link_local_of("https://[febf::2]/"));
    assert_true(link_local_of("http://[fe9a::1]/"));
    assert_false(link_local_of("http://[::1]:80/x"));
    assert_false(link_local_of("http://[fec0::1]/x"));
    assert_false(link_local_of("http://[2001:db8::1]/x"));
    assert_false(link_local_of("http://127.0.0.1/x"));
    assert_false(link_local_of("http://fe80.example/x"));
    assert_true(link_local_of("http://user:pw@[fe80::1]/x"));
    assert_false(link_local_of("http://user@127.0.0.1/x?next=[fe80::1]"));

    /* a link-local host joined with a relative URL */
    const char *m[] = {"GET"};
    const char *u[] = {"/x"};
    program p = make_program(1, m, u);
    char err[256];
    assert_int_equal(interp_resolve(&p, "http://[fe80::1]:80", err, sizeof err), 0);
    assert_true(p.steps[0].r.req.link_local);
    assert_string_equal(p.steps[0].r.req.url, "http://[fe80::1]:80/x");
    assert_int_equal(interp_resolve(&p, "http://[::1]:80", err, sizeof err), 0);
    assert_false(p.steps[0].r.req.link_local);
    interp_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_url),
        cmocka_unit_test(test_is_absolute),
        cmocka_unit_test(test_resolve_fills_request),
        cmocka_unit_test(test_resolve_again_with_new_host),
        cmocka_unit_test(test_resolve_relative_without_host),
        cmocka_unit_test(test_resolve_skips_think_steps),
        cmocka_unit_test(test_link_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
