/* Tests for server/har.c (--from-har): small crafted HAR documents converted and checked
 * (host choice, URLs, page grouping, pauses, static assets, names, headers, bodies, "{{",
 * redirects), every error with its exact text, the output loaded with scenario_load, and
 * the two options in opt_parse. The source is included to reach its helpers.
 *
 * HAR texts are written with single quotes, which stand for double quotes. Tests run in a
 * temporary directory, so paths in messages are short ("r.har:1:2: ..."). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "textpos.h"

#include "har.c"

#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interp.h"
#include "log.h"
#include "opt.h"
#include "scenario.h"

static char tmpdir[PATH_MAX];
static char oldcwd[PATH_MAX];
static char err[1024];
static har_report rep;

/* ---- building HAR documents -------------------------------------------------------------- */

typedef struct ent {
    const char *page;       /* pageref; NULL: none */
    const char *when;       /* startedDateTime; "+S" is S seconds after 09:00:00Z; NULL: none */
    const char *method;
    const char *url;
    const char *req;        /* more members of the request, starting with ", " */
    const char *resp;       /* the response's members; NULL: a 200 text/html */
} ent;

/* Single quotes become double quotes. */
static void put_dq(sbuf *b, const char *s)
{
    for (; *s; s++)
        sbuf_putc(b, *s == '\'' ? '"' : *s);
}

static char *har_doc(const char *pages, const ent *e, size_t n)
{
    sbuf b = SBUF_INIT;
    put_dq(&b, "{'log': {'version': '1.2', 'creator': {'name': 'test', 'version': '1'},\n");
    if (pages) {
        put_dq(&b, "'pages': ");
        put_dq(&b, pages);
        put_dq(&b, ",\n");
    }
    put_dq(&b, "'entries': [\n");
    for (size_t i = 0; i < n; i++) {
        sbuf_puts(&b, i ? ",\n{" : "{");
        if (e[i].page)
            sbuf_printf(&b, "\"pageref\": \"%s\", ", e[i].page);
        if (e[i].when && e[i].when[0] == '+') {
            double s = strtod(e[i].when + 1, NULL);
            sbuf_printf(&b, "\"startedDateTime\": \"2024-03-05T09:%02d:%06.3fZ\", ",
                        (int)(s / 60), fmod(s, 60));
        } else if (e[i].when) {
            sbuf_printf(&b, "\"startedDateTime\": \"%s\", ", e[i].when);
        }
        sbuf_printf(&b, "\"request\": {\"method\": \"%s\", \"url\": \"%s\"", e[i].method,
                    e[i].url);
        if (e[i].req)
            put_dq(&b, e[i].req);
        put_dq(&b, "}, 'response': {");
        put_dq(&b, e[i].resp ? e[i].resp : "'status': 200, 'content': {'mimeType': 'text/html'}");
        sbuf_puts(&b, "}}");
    }
    sbuf_puts(&b, "]}}\n");
    return sbuf_take(&b);
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    if (!f)
        fail_msg("cannot write %s", name);
    fputs(text, f);
    fclose(f);
}

/* Converts text (written to r.har), which must succeed; the caller frees the result.
 * The report stays in rep until the next conversion. */
static char *convert_text(const char *text, bool keep_static)
{
    write_file("r.har", text);
    har_opts o = {.keep_static = keep_static};
    har_report_free(&rep);
    err[0] = '\0';
    char *out = har_convert("r.har", &o, &rep, err, sizeof err);
    if (!out)
        fail_msg("conversion failed: %s\n--- HAR:\n%s", err, text);
    assert_string_equal(err, "");
    return out;
}

static char *convert(const char *pages, const ent *e, size_t n, bool keep_static)
{
    char *text = har_doc(pages, e, n);
    char *out = convert_text(text, keep_static);
    free(text);
    return out;
}

/* text (written to r.har) must fail with exactly want. */
static void expect_error_text(const char *text, const char *want)
{
    write_file("r.har", text);
    har_report_free(&rep);
    err[0] = '\0';
    char *out = har_convert("r.har", NULL, &rep, err, sizeof err);
    if (out) {
        free(out);
        fail_msg("converted, want error: %s\n--- HAR:\n%s", want, text);
    }
    if (strcmp(err, want) != 0)
        fail_msg("error\n  got:  %s\n  want: %s\n--- HAR:\n%s", err, want, text);
}

static void expect_error(const ent *e, size_t n, const char *want)
{
    char *text = har_doc(NULL, e, n);
    expect_error_text(text, want);
    free(text);
}

/* ---- reading the output ------------------------------------------------------------------ */

/* The value at a dotted path ("users.0.tasks.1.name"); NULL when absent. */
static const json_value *at(const json_value *v, const char *path)
{
    char key[128];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (v->type == JSON_ARRAY) {
            size_t i = (size_t)atoi(key);
            v = i < v->arr.count ? &v->arr.items[i] : NULL;
        } else {
            v = json_get(v, key);
        }
        path += n + (path[n] == '.');
    }
    return v;
}

static const char *str_at(const json_value *v, const char *path)
{
    const json_value *x = at(v, path);
    if (!x || x->type != JSON_STRING)
        fail_msg("no string at %s", path);
    return x->str.s;
}

/* The value at path as compact JSON ("" when absent). */
static const char *json_at(const json_value *v, const char *path)
{
    static sbuf b;
    sbuf_free(&b);
    const json_value *x = at(v, path);
    if (x)
        json_write_value(&b, x);
    return sbuf_str(&b);
}

static json_value *parse_out(const char *out)
{
    json_error je;
    json_value *doc = json_parse(out, strlen(out), 0, &je);
    if (!doc)
        fail_msg("output is not JSON: %u:%u: %s\n%s", je.line, je.col, je.msg, out);
    return doc;
}

/* The tasks in short: "Home: GET / ; think 1.8 ; GET /a as /a/[id] | Cart: ...". */
static const char *outline(const json_value *doc)
{
    static sbuf b;
    sbuf_free(&b);
    const json_value *tasks = at(doc, "users.0.tasks");
    for (size_t t = 0; tasks && t < tasks->arr.count; t++) {
        const json_value *task = &tasks->arr.items[t], *steps = json_get(task, "steps");
        sbuf_printf(&b, "%s%s:", t ? " | " : "", str_at(task, "name"));
        for (size_t s = 0; s < steps->arr.count; s++) {
            const json_value *st = &steps->arr.items[s], *think = json_get(st, "think");
            sbuf_puts(&b, s ? " ; " : " ");
            if (think) {
                sbuf_printf(&b, "think %s", think->num.text);
                continue;
            }
            sbuf_printf(&b, "%s %s", str_at(st, "request.method"), str_at(st, "request.url"));
            if (at(st, "request.name"))
                sbuf_printf(&b, " as %s", str_at(st, "request.name"));
        }
    }
    return sbuf_str(&b);
}

/* Converts and returns the outline. */
static const char *outline_of(const char *pages, const ent *e, size_t n, bool keep_static)
{
    char *out = convert(pages, e, n, keep_static);
    json_value *doc = parse_out(out);
    const char *o = outline(doc);
    json_free(doc);
    free(out);
    return o;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the whole output -------------------------------------------------------------------- */

static void test_full_output(void **state)
{
    (void)state;
    const char *pages =
        "[{'startedDateTime': '2024-03-05T09:15:30.000Z', 'id': 'page_1', 'title': 'Shop'},"
        " {'startedDateTime': '2024-03-05T09:15:40.000Z', 'id': 'page_2', 'title': 'Cart'}]";
    const ent e[] = {
        {"page_1", "2024-03-05T10:15:30.100+01:00", "get", "https://shop.example.com/",
         ", 'headers': [{'name': ':authority', 'value': 'shop.example.com'},"
         " {'name': 'accept', 'value': 'text/html'}, {'name': 'cookie', 'value': 's=1'},"
         " {'name': 'sec-fetch-mode', 'value': 'navigate'},"
         " {'name': 'user-agent', 'value': 'Mozilla/5.0'}]"},
        {"page_1", "2024-03-05T09:15:30.200Z", "GET", "https://shop.example.com/app.js", NULL,
         NULL},
        {"page_1", "2024-03-05T09:15:31.900Z", "GET",
         "https://shop.example.com/api/products/42?sort=price#top",
         ", 'headers': [{'name': 'X-Requested-With', 'value': 'XMLHttpRequest'}]", NULL},
        {"page_2", "2024-03-05T09:15:40.000Z", "POST", "https://shop.example.com/api/cart",
         ", 'headers': [{'name': 'Content-Type', 'value': 'application/json'}],"
         " 'postData': {'mimeType': 'application/json',"
         " 'text': '{\\'product_id\\':42,\\'quantity\\':1.50}'}",
         "'status': 201, 'content': {'mimeType': 'application/json'}"},
    };
    char *out = convert(pages, e, N(e), false);
    assert_string_equal(out,
        "{\n"
        "  \"description\": \"Recorded from r.har on 2024-03-05 (cicada --from-har).\",\n"
        "  \"host\": \"https://shop.example.com\",\n"
        "  \"users\": [\n"
        "    {\n"
        "      \"name\": \"Recorded\",\n"
        "      \"weight\": 1,\n"
        "      \"wait_time\": {\"between\": [1, 3]},\n"
        "      \"sequential\": true,\n"
        "      \"tasks\": [\n"
        "        {\n"
        "          \"name\": \"Shop\",\n"
        "          \"steps\": [\n"
        "            {\"request\": {\"method\": \"GET\", \"url\": \"/\", \"headers\": "
        "{\"accept\": \"text/html\"}}},\n"
        "            {\"think\": 1.8},\n"
        "            {\n"
        "              \"request\": {\n"
        "                \"method\": \"GET\",\n"
        "                \"url\": \"/api/products/42?sort=price\",\n"
        "                \"name\": \"/api/products/[id]\",\n"
        "                \"headers\": {\"X-Requested-With\": \"XMLHttpRequest\"}\n"
        "              }\n"
        "            }\n"
        "          ]\n"
        "        },\n"
        "        {\n"
        "          \"name\": \"Cart\",\n"
        "          \"steps\": [\n"
        "            {\n"
        "              \"request\": {\n"
        "                \"method\": \"POST\",\n"
        "                \"url\": \"/api/cart\",\n"
        "                \"headers\": {\"Content-Type\": \"application/json\"},\n"
        "                \"json\": {\"product_id\": 42, \"quantity\": 1.50}\n"
        "              }\n"
        "            }\n"
        "          ]\n"
        "        }\n"
        "      ]\n"
        "    }\n"
        "  ]\n"
        "}\n");
    free(out);
    assert_int_equal(rep.requests, 3);
    assert_int_equal(rep.tasks, 2);
    assert_int_equal(rep.static_skipped, 1);
    assert_string_equal(sbuf_str(&rep.warnings), "");
}

/* ---- host and URLs ----------------------------------------------------------------------- */

static void test_host_choice(void **state)
{
    (void)state;
    const ent e[] = {
        {NULL, NULL, "GET", "https://cdn.example.net/a", NULL, NULL},
        {NULL, NULL, "GET", "HTTPS://Shop.Example.COM:443/b?Q=A", NULL, NULL},
        {NULL, NULL, "GET", "https://shop.example.com/c", NULL, NULL},
        {NULL, NULL, "GET", "https://shop.example.com:443/c", NULL, NULL},
        {NULL, NULL, "GET", "http://shop.example.com:80", NULL, NULL},
        {NULL, NULL, "GET", "http://shop.example.com:8080?x", NULL, NULL},
        {NULL, NULL, "GET", "https://cdn.example.net", NULL, NULL},
    };
    char *out = convert(NULL, e, N(e), false);
    json_value *doc = parse_out(out);
    assert_string_equal(str_at(doc, "host"), "https://shop.example.com");
    assert_string_equal(outline(doc),
                        "requests: GET https://cdn.example.net/a ; GET /b?Q=A as /b ; GET /c ; "
                        "GET /c ; "
                        "GET http://shop.example.com/ ; GET http://shop.example.com:8080/?x as / "
                        "; GET https://cdn.example.net/");
    json_free(doc);
    free(out);

    /* a tie goes to the origin seen first */
    const ent tie[] = {
        {NULL, NULL, "GET", "http://b.example/1x", NULL, NULL},
        {NULL, NULL, "GET", "http://a.example/2x", NULL, NULL},
        {NULL, NULL, "GET", "http://a.example/3x", NULL, NULL},
        {NULL, NULL, "GET", "http://b.example/4x", NULL, NULL},
    };
    out = convert(NULL, tie, N(tie), false);
    doc = parse_out(out);
    assert_string_equal(str_at(doc, "host"), "http://b.example");
    assert_string_equal(outline(doc), "requests: GET /1x ; GET http://a.example/2x ; "
                                      "GET http://a.example/3x ; GET /4x");
    json_free(doc);
    free(out);
}

static void test_split_url(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        int kind;
        const char *origin, *rel;
    } cases[] = {
        {"http://h", URL_OK, "http://h", "/"},
        {"http://H:80/a", URL_OK, "http://h", "/a"},
        {"https://h:443?q", URL_OK, "https://h", "/?q"},
        {"https://h:8443/a#f", URL_OK, "https://h:8443", "/a"},
        {"http://h:/a", URL_OK, "http://h", "/a"},
        {"http://[::1]:8080/x", URL_OK, "http://[::1]:8080", "/x"},
        {"http://[::1]/x", URL_OK, "http://[::1]", "/x"},
        {"http://User:Pw@H.x/p", URL_OK, "http://User:Pw@h.x", "/p"},
        {"http://h/a b\x01\xc3\xa9?q=\x7f", URL_OK, "http://h", "/a%20b%01%C3%A9?q=%7F"},
        {"data:text/plain,x", URL_OTHER, NULL, NULL},
        {"blob:https://h/1", URL_OTHER, NULL, NULL},
        {"wss://h/socket", URL_OTHER, NULL, NULL},
        {"chrome-extension://abc/x.js", URL_OTHER, NULL, NULL},
        {"/relative", URL_RELATIVE, NULL, NULL},
        {"h/x", URL_RELATIVE, NULL, NULL},
        {"", URL_RELATIVE, NULL, NULL},
        {"http:///x", URL_NO_HOST, NULL, NULL},
        {"http://:80/x", URL_NO_HOST, NULL, NULL},
        {"http://u@/x", URL_NO_HOST, NULL, NULL},
        {"http://a b/x", URL_NO_HOST, NULL, NULL},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char *origin = NULL, *rel = NULL;
        int kind = split_url(cases[i].url, &origin, &rel);
        if (kind != cases[i].kind)
            fail_msg("%s: kind %d, want %d", cases[i].url, kind, cases[i].kind);
        if (kind == URL_OK) {
            assert_string_equal(origin, cases[i].origin);
            assert_string_equal(rel, cases[i].rel);
        }
        free(origin);
        free(rel);
    }
}

/* ---- pages and pauses -------------------------------------------------------------------- */

static void test_pages(void **state)
{
    (void)state;
    const char *pages = "[{'id': 'p1', 'title': 'Home'}, {'id': 'p2', 'title': 'Home'},"
                        " {'id': 'p3', 'title': ''}, {'id': 'p4', 'title': 'a\\nb'},"
                        " {'id': 'p5', 'title': 'requests'}]";
    const ent e[] = {
        {NULL, NULL, "GET", "http://h/e0", NULL, NULL},
        {"p2", NULL, "GET", "http://h/e1", NULL, NULL},
        {"p1", NULL, "GET", "http://h/e2", NULL, NULL},
        {"p2", NULL, "GET", "http://h/e3", NULL, NULL},
        {"p3", NULL, "GET", "http://h/e4", NULL, NULL},
        {"gone", NULL, "GET", "http://h/e5", NULL, NULL},
        {NULL, NULL, "GET", "http://h/e6", NULL, NULL},
        {"p4", NULL, "GET", "http://h/e7", NULL, NULL},
        {"p5", NULL, "GET", "http://h/e8", NULL, NULL},
        {"", NULL, "GET", "http://h/e9", NULL, NULL},
        {"p6", NULL, "GET", "http://h/x.css", NULL, NULL},
    };
    assert_string_equal(outline_of(pages, e, N(e), false),
                        "requests: GET /e0 ; GET /e6 ; GET /e9 | Home: GET /e1 ; GET /e3 | "
                        "Home (2): GET /e2 | p3: GET /e4 | gone: GET /e5 | a b: GET /e7 | "
                        "requests (2): GET /e8");
    assert_int_equal(rep.tasks, 7);

    /* log.pages of the wrong type is as good as none */
    assert_string_equal(outline_of("{}", e, 2, false), "requests: GET /e0 | p2: GET /e1");
}

static void test_think(void **state)
{
    (void)state;
    const ent e[] = {
        {"p", "+0", "GET", "http://h/a", NULL, NULL},
        {"p", "+0.5", "GET", "http://h/b", NULL, NULL},     /* 0.5: no pause */
        {"p", "+1.04", "GET", "http://h/c", NULL, NULL},    /* 0.54 */
        {"p", "+1.6", "GET", "http://h/d", NULL, NULL},     /* 0.56 */
        {"q", "+30", "GET", "http://h/e", NULL, NULL},      /* another task: no pause */
        {"p", "+3.93", "GET", "http://h/f", NULL, NULL},    /* 2.33 */
        {"p", "+30", "GET", "http://h/g", NULL, NULL},      /* 26.07: capped */
        {"p", NULL, "GET", "http://h/h", NULL, NULL},       /* no time: 10 s after /g */
        {"p", "+40", "GET", "http://h/i", NULL, NULL},
        {"p", "2024-03-05T11:00:42+02:00", "GET", "http://h/j", NULL, NULL},  /* 2 s later */
        {"p", "2024-03-05T08:30:44.5-0030", "GET", "http://h/k", NULL, NULL}, /* 2.5 s */
        {"p", "2024-03-05T09:00:44.5", "GET", "http://h/l", NULL, NULL},      /* as UTC */
        {"p", "2024-03-05 09:00:43", "GET", "http://h/m", NULL, NULL},        /* earlier */
        {"p", "+43.3", "GET", "http://h/n", NULL, NULL},    /* 0.3 */
        {"p", "+44", "GET", "http://h/o", NULL, NULL},      /* 0.7 */
    };
    assert_string_equal(outline_of(NULL, e, N(e), false),
                        "p: GET /a ; GET /b ; think 0.5 ; GET /c ; think 0.6 ; GET /d ; "
                        "think 2.3 ; GET /f ; think 10.0 ; GET /g ; GET /h ; think 10.0 ; GET /i ; "
                        "think 2.0 ; GET /j ; think 2.5 ; GET /k ; GET /l ; GET /m ; "
                        "GET /n ; think 0.7 ; GET /o | q: GET /e");
    assert_string_equal(sbuf_str(&rep.warnings), "");
}

static void test_parse_time(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double want;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:01.25Z", 1.25},
        {"1970-01-02T00:00:00+01:00", 86400 - 3600},
        {"1970-01-01T01:00:00-0130", 3600 + 5400},
        {"1970-01-01T00:00:00+02", -7200},
        {"1970-01-01 00:00:00,5", 0.5},
        {"2000-03-01T00:00:00Z", 951868800},
        {"2024-03-05T09:15:30.1234567Z", 1709630130.1234567},
        {"1969-12-31T23:59:59Z", -1},
    };
    for (size_t i = 0; i < N(good); i++) {
        double t = -12345;
        if (!parse_time(good[i].s, &t) || fabs(t - good[i].want) > 1e-6)
            fail_msg("%s: got %f, want %f", good[i].s, t, good[i].want);
    }
    static const char *const bad[] = {
        "", "yesterday", "2024-03-05", "2024-03-05T09:15", "2024-3-05T09:15:30Z",
        "2024-03-05T09:15:30.Z", "2024-03-05T09:15:30Zx", "2024-13-05T09:15:30Z",
        "2024-03-00T09:15:30Z", "2024-03-05T25:15:30Z", "2024-03-05T09:60:30Z",
        "2024-03-05T09:15:61Z", "2024-03-05T09:15:30+1", "2024-03-05T09:15:30+01:0",
        "2024-03-05X09:15:30Z",
    };
    for (size_t i = 0; i < N(bad); i++) {
        double t;
        if (parse_time(bad[i], &t))
            fail_msg("\"%s\" parsed", bad[i]);
    }
}

static void test_bad_time_warns(void **state)
{
    (void)state;
    const ent e[] = {
        {NULL, "+1", "GET", "http://h/a", NULL, NULL},
        {NULL, "5 past 9", "GET", "http://h/b", NULL, NULL},
        {NULL, "+9", "GET", "http://h/c", NULL, NULL},
    };
    char *out = convert(NULL, e, N(e), false);
    json_value *doc = parse_out(out);
    assert_string_equal(outline(doc), "requests: GET /a ; GET /b ; think 8.0 ; GET /c");
    assert_string_equal(str_at(doc, "description"),
                        "Recorded from r.har on 2024-03-05 (cicada --from-har).");
    json_free(doc);
    free(out);
    assert_string_equal(sbuf_str(&rep.warnings),
                        "r.har: entry 2: startedDateTime \"5 past 9\" is not an ISO 8601 date "
                        "and time: no pause recorded before this request\n");

    /* the date is the first dated entry's; without any, none is given */
    const ent late[] = {
        {NULL, NULL, "GET", "http://h/a", NULL, NULL},
        {NULL, "2023-12-31T23:59:59-05:00", "GET", "http://h/b", NULL, NULL},
    };
    out = convert(NULL, late, N(late), false);
    doc = parse_out(out);
    assert_string_equal(str_at(doc, "description"),
                        "Recorded from r.har on 2023-12-31 (cicada --from-har).");
    json_free(doc);
    free(out);
    out = convert(NULL, late, 1, false);
    doc = parse_out(out);
    assert_string_equal(str_at(doc, "description"), "Recorded from r.har (cicada --from-har).");
    json_free(doc);
    free(out);
}

/* ---- what is left out -------------------------------------------------------------------- */

static const ent assets[] = {
    {NULL, NULL, "GET", "http://h/", NULL, NULL},
    {NULL, NULL, "GET", "http://h/a.js", NULL, NULL},
    {NULL, NULL, "GET", "http://h/a.MJS?v=1", NULL, NULL},
    {NULL, NULL, "GET", "http://h/s/site.min.css", NULL, NULL},
    {NULL, NULL, "GET", "http://h/i/logo.PNG", NULL, NULL},
    {NULL, NULL, "GET", "http://h/i/p.jpg", NULL, NULL},
    {NULL, NULL, "GET", "http://h/i/p.jpeg", NULL, NULL},
    {NULL, NULL, "GET", "http://h/i/p.gif", NULL, NULL},
    {NULL, NULL, "GET", "http://h/i/p.svg", NULL, NULL},
    {NULL, NULL, "GET", "http://h/favicon.ico", NULL, NULL},
    {NULL, NULL, "GET", "http://h/i/p.webp", NULL, NULL},
    {NULL, NULL, "GET", "http://h/i/p.avif", NULL, NULL},
    {NULL, NULL, "GET", "http://h/f/a.woff", NULL, NULL},
    {NULL, NULL, "GET", "http://h/f/a.woff2", NULL, NULL},
    {NULL, NULL, "GET", "http://h/f/a.ttf", NULL, NULL},
    {NULL, NULL, "GET", "http://h/f/a.otf", NULL, NULL},
    {NULL, NULL, "GET", "http://h/f/a.eot", NULL, NULL},
    {NULL, NULL, "GET", "http://h/a.js.map", NULL, NULL},
    {NULL, NULL, "GET", "http://h/v/a.mp4", NULL, NULL},
    {NULL, NULL, "GET", "http://h/v/a.webm", NULL, NULL},
    {NULL, NULL, "GET", "http://h/img", NULL,
     "'status': 200, 'content': {'mimeType': 'image/png'}"},
    {NULL, NULL, "GET", "http://h/fnt", NULL, "'content': {'mimeType': 'font/woff2'}"},
    {NULL, NULL, "GET", "http://h/style", NULL,
     "'content': {'mimeType': 'text/css; charset=utf-8'}"},
    {NULL, NULL, "GET", "http://h/script", NULL,
     "'content': {'mimeType': 'Application/JavaScript'}"},
    {NULL, NULL, "GET", "http://h/script2", NULL, "'content': {'mimeType': ' text/javascript'}"},
    /* not static */
    {NULL, NULL, "GET", "http://h/data.json", NULL, NULL},
    {NULL, NULL, "GET", "http://h/js/app", NULL, NULL},
    {NULL, NULL, "GET", "http://h/x.jsx", NULL, NULL},
    {NULL, NULL, "GET", "http://h/p?f=a.js", NULL, NULL},
    {NULL, NULL, "GET", "http://h/j", NULL, "'content': {'mimeType': 'application/json'}"},
    {NULL, NULL, "GET", "http://h/n", NULL, "'content': {'mimeType': 'image/'}"},
    {NULL, NULL, "GET", "http://h/c", NULL, "'content': {'mimeType': 'text/csv'}"},
    {NULL, NULL, "GET", "http://h/.", NULL, "'status': 0"},
    {NULL, NULL, "GET", "http://h/cached", NULL,
     "'status': 200, '_fromCache': 'disk', 'content': {'size': 0}"},
};

static void test_static_assets(void **state)
{
    (void)state;
    assert_string_equal(outline_of(NULL, assets, N(assets), false),
                        "requests: GET / ; GET /data.json ; GET /js/app ; GET /x.jsx ; "
                        "GET /p?f=a.js as /p ; GET /j ; GET /n ; GET /c ; GET /. ; GET /cached");
    assert_int_equal(rep.static_skipped, 24);
    assert_int_equal(rep.requests, 10);

    char *out = convert(NULL, assets, N(assets), true);
    json_value *doc = parse_out(out);
    assert_int_equal(at(doc, "users.0.tasks.0.steps")->arr.count, N(assets));
    assert_string_equal(str_at(doc, "users.0.tasks.0.steps.1.request.url"), "/a.js");
    assert_string_equal(str_at(doc, "users.0.tasks.0.steps.2.request.url"), "/a.MJS?v=1");
    json_free(doc);
    free(out);
    assert_int_equal(rep.static_skipped, 0);
}

static void test_other_schemes(void **state)
{
    (void)state;
    const ent e[] = {
        {NULL, NULL, "GET", "data:image/png;base64,AAAA", NULL, NULL},
        {NULL, NULL, "GET", "blob:https://h/4f1c", NULL, NULL},
        {NULL, NULL, "GET", "wss://h/live", NULL, NULL},
        {NULL, NULL, "GET", "chrome-extension://abc/x", NULL, NULL},
        {NULL, NULL, "GET", "https://h/ok", NULL, NULL},
        {NULL, NULL, "GET", "about:blank", NULL, NULL},
    };
    assert_string_equal(outline_of(NULL, e, N(e), false), "requests: GET /ok");
    assert_int_equal(rep.other_skipped, 5);

    /* nothing left */
    const ent none[] = {e[0], e[1], {NULL, NULL, "GET", "https://h/a.css", NULL, NULL}};
    expect_error(none, N(none),
                 "r.har: no requests to replay; left out 1 static asset (--har-static keeps "
                 "them), 2 non-HTTP URLs");
    assert_int_equal(rep.other_skipped, 2);
    assert_int_equal(rep.static_skipped, 1);
}

static void test_redirects(void **state)
{
    (void)state;
    const ent e[] = {
        {NULL, NULL, "POST", "http://h/login", NULL,
         "'status': 302, 'redirectURL': '/home', 'content': {}"},
        {NULL, NULL, "GET", "http://h/other", NULL, NULL},
        {NULL, NULL, "GET", "http://h/home", NULL,
         "'status': 301, 'redirectURL': 'https://h/home/', 'content': {}"},
        {NULL, NULL, "GET", "https://h/home/", NULL,
         "'status': 307, 'redirectURL': 'next?a=1', 'content': {}"},
        {NULL, NULL, "GET", "https://h/home/next?a=1", NULL,
         "'status': 303, 'redirectURL': '//cdn.h/x', 'content': {}"},
        {NULL, NULL, "GET", "https://cdn.h/x", NULL, NULL},
        {NULL, NULL, "GET", "http://h/home", NULL, NULL},          /* again: replayed */
        {NULL, NULL, "GET", "http://h/r", NULL,
         "'status': 308, 'redirectURL': '?page=2', 'content': {}"},
        {NULL, NULL, "GET", "http://h/r?page=2", NULL, NULL},
        {NULL, NULL, "GET", "http://h/s", NULL,
         "'status': 200, 'redirectURL': '/t', 'content': {}"},     /* not a redirect */
        {NULL, NULL, "GET", "http://h/t", NULL, NULL},
        {NULL, NULL, "GET", "http://h/u", NULL,
         "'status': 302, 'redirectURL': 'ftp://h/x', 'content': {}"},
        {NULL, NULL, "GET", "http://h/logo.png", NULL,
         "'status': 302, 'redirectURL': '/v', 'content': {}"},     /* static: not replayed */
        {NULL, NULL, "GET", "http://h/v", NULL, NULL},
        {NULL, NULL, "GET", "http://h/w", NULL, "'status': '302', 'redirectURL': '/y'"},
        {NULL, NULL, "GET", "http://h/y", NULL, NULL},
        {NULL, NULL, "GET", "http://h/shop/item", NULL,
         "'status': 302, 'redirectURL': 'list#top', 'content': {}"},
        {NULL, NULL, "GET", "http://h/shop/list", NULL, NULL},
        {NULL, NULL, "GET", "http://h/z", NULL,
         "'status': 302, 'redirectURL': '/never-fetched', 'content': {}"},
    };
    assert_string_equal(outline_of(NULL, e, N(e), false),
                        "requests: POST /login ; GET /other ; GET /home ; GET /r ; GET /s ; "
                        "GET /t ; GET /u ; GET /v ; GET /w ; GET /y ; GET /shop/item ; GET /z");
    assert_int_equal(rep.redirects_skipped, 6);
    assert_int_equal(rep.static_skipped, 1);
}

/* ---- names ------------------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *rel, *name;
    } cases[] = {
        {"/", NULL},
        {"/api/products", NULL},
        {"/api/products?q=1", "/api/products"},
        {"/?q=1", "/"},
        {"/api/products/42", "/api/products/[id]"},
        {"/u/7/orders/0012", "/u/[id]/orders/[id]"},
        {"/o/550e8400-e29b-41d4-a716-446655440000", "/o/[id]"},
        {"/o/550E8400-E29B-41D4-A716-446655440000/x", "/o/[id]/x"},
        {"/o/550e8400-e29b-41d4-a716-44665544000g", NULL},
        {"/o/550e8400e29b-41d4-a716-4466554400001", NULL},
        {"/h/deadbeefdeadbeef", "/h/[id]"},
        {"/h/deadbeefdeadbee", NULL},
        {"/h/0123456789ABCDEF0", "/h/[id]"},
        {"/t/abc123def456", "/t/[id]"},
        {"/t/abc123def45", NULL},
        {"/t/abcdefghijklmn", NULL},
        {"/t/abc-123-def-456", NULL},
        {"/t/product2023_a", NULL},
        {"/a//b/", NULL},
        {"/a/1/", "/a/[id]/"},
        {"/a/1?x=2/3", "/a/[id]"},
        {"/v2/items", NULL},
        {"/file.json", NULL},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char *name = request_name(cases[i].rel);
        if (cases[i].name ? !name || strcmp(name, cases[i].name) : name != NULL)
            fail_msg("%s: got %s, want %s", cases[i].rel, name ? name : "(none)",
                     cases[i].name ? cases[i].name : "(none)");
        free(name);
    }
}

/* ---- headers ----------------------------------------------------------------------------- */

static void test_headers(void **state)
{
    (void)state;
    const char *all =
        ", 'headers': [{'name': ':authority', 'value': 'h'}, {'name': ':method', 'value': 'POST'},"
        " {'name': 'Host', 'value': 'h'}, {'name': 'Accept', 'value': 'application/json'},"
        " {'name': 'accept', 'value': 'text/plain'}, {'name': 'Accept-Encoding', 'value': 'gzip'},"
        " {'name': 'Accept-Language', 'value': 'en'},"
        " {'name': 'Authorization', 'value': 'Bearer t'},"
        " {'name': 'Connection', 'value': 'keep-alive'}, {'name': 'Content-Length', 'value': '3'},"
        " {'name': 'Content-Type', 'value': 'text/plain'}, {'name': 'Cookie', 'value': 'a=1'},"
        " {'name': 'Origin', 'value': 'http://h'}, {'name': 'Referer', 'value': 'http://h/'},"
        " {'name': 'sec-ch-ua', 'value': 'x'}, {'name': 'Sec-Fetch-Site', 'value': 'same-origin'},"
        " {'name': 'User-Agent', 'value': 'Mozilla'}, {'name': 'x-csrf-token', 'value': 'abc'},"
        " {'name': 'X-Empty', 'value': ''}, {'name': 'x-bad name', 'value': '1'},"
        " {'name': 'X-Multi', 'value': 'a\\r\\nb'}, {'name': 'X-No-Value'},"
        " {'name': 'x-a\\tb', 'value': '1'},"
        " {'name': 7, 'value': '1'}, 'junk']";
    sbuf req = SBUF_INIT;
    sbuf_printf(&req, "%s, 'postData': {'mimeType': 'text/plain', 'text': 'abc'}", all);
    const ent e[] = {
        {NULL, NULL, "POST", "http://h/with-body", sbuf_str(&req), NULL},
        {NULL, NULL, "GET", "http://h/no-body", all, NULL},
        {NULL, NULL, "GET", "http://h/none", ", 'headers': {'Accept': 'x'}", NULL},
    };
    char *out = convert(NULL, e, N(e), false);
    sbuf_free(&req);
    json_value *doc = parse_out(out);
    assert_string_equal(json_at(doc, "users.0.tasks.0.steps.0.request.headers"),
                        "{\"Accept\":\"application/json, text/plain\","
                        "\"Authorization\":\"Bearer t\",\"Content-Type\":\"text/plain\","
                        "\"x-csrf-token\":\"abc\",\"X-Empty\":\"\"}");
    assert_string_equal(json_at(doc, "users.0.tasks.0.steps.1.request.headers"),
                        "{\"Accept\":\"application/json, text/plain\","
                        "\"Authorization\":\"Bearer t\",\"x-csrf-token\":\"abc\","
                        "\"X-Empty\":\"\"}");
    assert_string_equal(json_at(doc, "users.0.tasks.0.steps.2.request.headers"), "");
    json_free(doc);
    free(out);
    assert_string_equal(sbuf_str(&rep.warnings),
                        "r.har: entry 1: header \"x-bad name\" left out: not a valid header name\n"
                        "r.har: entry 1: header \"X-Multi\" left out: its value has a line "
                        "break or NUL\n"
                        "r.har: entry 1: header \"x-a?b\" left out: not a valid header name\n"
                        "r.har: entry 2: header \"x-bad name\" left out: not a valid header name\n"
                        "r.har: entry 2: header \"X-Multi\" left out: its value has a line "
                        "break or NUL\n"
                        "r.har: entry 2: header \"x-a?b\" left out: not a valid header name\n");
}

/* ---- bodies ------------------------------------------------------------------------------ */

/* One POST with postData (its members) converted: the request object as compact JSON. */
static const char *post(const char *post_data, const char *content_type)
{
    static char out_req[4096];
    sbuf req = SBUF_INIT;
    if (content_type)
        sbuf_printf(&req, ", 'headers': [{'name': 'Content-Type', 'value': '%s'}]",
                    content_type);
    if (post_data)
        sbuf_printf(&req, ", 'postData': {%s}", post_data);
    const ent e[] = {{NULL, NULL, "POST", "http://h/p", sbuf_str(&req), NULL}};
    char *out = convert(NULL, e, 1, false);
    sbuf_free(&req);
    json_value *doc = parse_out(out);
    snprintf(out_req, sizeof out_req, "%s", json_at(doc, "users.0.tasks.0.steps.0"));
    json_free(doc);
    free(out);
    return out_req;
}

static void test_bodies(void **state)
{
    (void)state;
    /* JSON */
    assert_string_equal(
        post("'mimeType': 'application/json',"
             " 'text': '{\\'a\\': [1, 2.50, \\'x\\'], \\'b\\': null}'",
             "application/json"),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"headers\":{\"Content-Type\":"
        "\"application/json\"},\"json\":{\"a\":[1,2.50,\"x\"],\"b\":null}}}");
    assert_string_equal(post("'mimeType': 'application/vnd.api+json; charset=UTF-8', 'text': '7'",
                             NULL),
                        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"json\":7}}");
    /* JSON that is not JSON, or has a key twice, or a byte order mark: sent as text */
    assert_string_equal(post("'mimeType': 'application/json', 'text': '{oops'", NULL),
                        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"body\":\"{oops\"}}");
    assert_string_equal(
        post("'mimeType': 'application/json', 'text': '{\\'a\\':1,\\'a\\':2}'", NULL),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\","
        "\"body\":\"{\\\"a\\\":1,\\\"a\\\":2}\"}}");
    assert_string_equal(post("'mimeType': 'application/json', 'text': '\\ufeff1'", NULL),
                        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"body\":\"\xEF\xBB\xBF"
                        "1\"}}");
    /* forms: decoded from the text; a repeated name gives pairs */
    assert_string_equal(
        post("'mimeType': 'application/x-www-form-urlencoded; charset=UTF-8',"
             " 'text': 'user=demo%40x.com&pw=a+b%2Bc&flag&=v&&e=%zz%4', 'params': ["
             "{'name': 'user', 'value': 'demo%40x.com'}]",
             "application/x-www-form-urlencoded"),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"headers\":{\"Content-Type\":"
        "\"application/x-www-form-urlencoded\"},\"form\":{\"user\":\"demo@x.com\","
        "\"pw\":\"a b+c\",\"flag\":\"\",\"\":\"v\",\"e\":\"%zz%4\"}}}");
    assert_string_equal(
        post("'mimeType': 'application/x-www-form-urlencoded', 'text': 'a=1&b=%C3%A9&a=2'", NULL),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"form\":[[\"a\",\"1\"],"
        "[\"b\",\"\xC3\xA9\"],[\"a\",\"2\"]]}}");
    /* from params when there is no text */
    assert_string_equal(
        post("'mimeType': 'application/x-www-form-urlencoded', 'params': [{'name': 'a', "
             "'value': 'x y'}, {'name': 'b'}, {'value': 'nameless'}, {'name': 'c', 'value': 3}]",
             NULL),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"form\":{\"a\":\"x y\",\"b\":\"\","
        "\"c\":\"\"}}}");
    /* decoded bytes that are not text, and a form of no pairs: sent as recorded */
    assert_string_equal(
        post("'mimeType': 'application/x-www-form-urlencoded', 'text': 'a=%FF'", NULL),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"body\":\"a=%FF\"}}");
    assert_string_equal(
        post("'mimeType': 'application/x-www-form-urlencoded', 'text': 'a=%00'", NULL),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"body\":\"a=%00\"}}");
    assert_string_equal(
        post("'mimeType': 'application/x-www-form-urlencoded', 'text': 'a=1&b\\u0000c=2'", NULL),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"body\":\"a=1&b\\u0000c=2\"}}");
    assert_string_equal(post("'mimeType': 'application/x-www-form-urlencoded', 'text': '&'",
                             NULL),
                        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"body\":\"&\"}}");
    /* other text, multipart with its text */
    assert_string_equal(post("'mimeType': 'text/plain', 'text': 'hello\\nworld'", "text/plain"),
                        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"headers\":"
                        "{\"Content-Type\":\"text/plain\"},\"body\":\"hello\\nworld\"}}");
    assert_string_equal(
        post("'mimeType': 'multipart/form-data; boundary=XX', 'text': '--XX\\r\\n--XX--'",
             "multipart/form-data; boundary=XX"),
        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\",\"headers\":{\"Content-Type\":"
        "\"multipart/form-data; boundary=XX\"},\"body\":\"--XX\\r\\n--XX--\"}}");
    /* bodies the file does not hold */
    assert_string_equal(
        post("'mimeType': 'multipart/form-data; boundary=XX', 'params': [{'name': 'f', "
             "'fileName': 'a.png'}]", "multipart/form-data; boundary=XX"),
        "{\"description\":\"The request body (multipart/form-data) is not in the HAR file: add "
        "it as \\\"body\\\" or \\\"form\\\".\",\"request\":{\"method\":\"POST\",\"url\":\"/p\"}}");
    assert_string_equal(post("'mimeType': 'application/octet-stream '", NULL),
                        "{\"description\":\"The request body (application/octet-stream) is not "
                        "in the HAR file: add it as \\\"body\\\" or \\\"form\\\".\",\"request\":"
                        "{\"method\":\"POST\",\"url\":\"/p\"}}");
    assert_string_equal(post("'comment': 'nothing'", NULL),
                        "{\"description\":\"The request body is not in the HAR file: add it as "
                        "\\\"body\\\" or \\\"form\\\".\",\"request\":{\"method\":\"POST\","
                        "\"url\":\"/p\"}}");
    /* no body: empty text, postData not an object, none at all */
    assert_string_equal(post("'mimeType': 'application/json', 'text': ''", "application/json"),
                        "{\"request\":{\"method\":\"POST\",\"url\":\"/p\"}}");
    const ent e[] = {{NULL, NULL, "POST", "http://h/p", ", 'postData': 'x'", NULL}};
    char *out = convert(NULL, e, 1, false);
    assert_non_null(strstr(out, "{\"request\": {\"method\": \"POST\", \"url\": \"/p\"}}"));
    free(out);
}

static void test_deep_json_body(void **state)
{
    (void)state;
    sbuf text = SBUF_INIT;
    for (int depth = BODY_MAX_DEPTH; depth <= BODY_MAX_DEPTH + 1; depth++) {
        sbuf_reset(&text);
        sbuf_puts(&text, "'mimeType': 'application/json', 'text': '");
        for (int i = 0; i < depth; i++)
            sbuf_putc(&text, '[');
        for (int i = 0; i < depth; i++)
            sbuf_putc(&text, ']');
        sbuf_putc(&text, '\'');
        const char *r = post(sbuf_str(&text), NULL);
        assert_non_null(strstr(r, depth == BODY_MAX_DEPTH ? "\"json\":[[" : "\"body\":\"[["));
    }
    /* the deepest "json" body still loads */
    sbuf_reset(&text);
    sbuf_printf(&text, ", 'postData': {'mimeType': 'application/json', 'text': '");
    for (int i = 0; i < BODY_MAX_DEPTH; i++)
        sbuf_putc(&text, '[');
    for (int i = 0; i < BODY_MAX_DEPTH; i++)
        sbuf_putc(&text, ']');
    sbuf_puts(&text, "'}");
    const ent e[] = {{NULL, NULL, "POST", "http://h/p", sbuf_str(&text), NULL}};
    char *out = convert(NULL, e, 1, false);
    write_file("s.json", out);
    scenario *sc = scenario_load("s.json", &(scenario_opts){0}, err, sizeof err);
    if (!sc)
        fail_msg("%s", err);
    scenario_free(sc);
    free(out);
    sbuf_free(&text);
}

/* ---- "{{" -------------------------------------------------------------------------------- */

/* Recorded text holding "{{" is written with cicada's literal {{'{{'}}, so it loads and is
 * sent exactly as recorded, never read as a template. */
static void test_template_literals(void **state)
{
    (void)state;
    const ent e[] = {
        {NULL, NULL, "GET", "http://h/a?q={{x}}", NULL, NULL},
        {NULL, NULL, "GET", "http://h/b{{", ", 'headers': [{'name': 'X-T', 'value': 'a{{{b'}]", NULL},
        {NULL, NULL, "POST", "http://h/c",
         ", 'postData': {'mimeType': 'application/json', 'text': '{\\'{{k}}\\': [\\'{{v}}\\', 1, null]}'}",
         NULL},
        {NULL, NULL, "POST", "http://h/d",
         ", 'postData': {'mimeType': 'application/x-www-form-urlencoded', 'text': '{{=%7B%7B'}",
         NULL},
        {NULL, NULL, "POST", "http://h/e", ", 'postData': {'mimeType': 'text/plain', 'text': 'x{{{{y}}'}",
         NULL},
        {NULL, NULL, "GET", "http://h/g?q={x}", ", 'headers': [{'name': 'X-T', 'value': '}}'}]",
         NULL},
    };
    char *out = convert(NULL, e, N(e), false);
    json_value *doc = parse_out(out);
    assert_string_equal(outline(doc), "requests: GET /a?q={{'{{'}}x}} as /a ; GET /b{{'{{'}} as /b{{ ; "
                                      "POST /c ; POST /d ; POST /e ; GET /g?q={x} as /g");
    assert_string_equal(json_at(doc, "users.0.tasks.0.steps.1.request.headers"),
                        "{\"X-T\":\"a{{'{{'}}{b\"}");
    assert_string_equal(json_at(doc, "users.0.tasks.0.steps.2.request.json"),
                        "{\"{{k}}\":[\"{{'{{'}}v}}\",1,null]}");
    assert_string_equal(json_at(doc, "users.0.tasks.0.steps.3.request.form"),
                        "{\"{{\":\"{{'{{'}}\"}");
    assert_string_equal(json_at(doc, "users.0.tasks.0.steps.4.request.body"),
                        "\"x{{'{{'}}{{'{{'}}y}}\"");
    json_free(doc);
    assert_string_equal(sbuf_str(&rep.warnings), "");
    /* it loads, and every request is static text equal to the recording */
    write_file("s.json", out);
    scenario *sc = scenario_load("s.json", &(scenario_opts){0}, err, sizeof err);
    if (!sc)
        fail_msg("%s", err);
    const program *p = sc->all[0].tasks[0].data;
    for (int i = 0; i < p->n; i++)
        assert_false(p->steps[i].r.dynamic);
    assert_string_equal(p->steps[0].r.url, "/a?q={{x}}");
    assert_string_equal(p->steps[0].r.name, "/a");
    assert_string_equal(p->steps[1].r.name, "/b{{");
    bool seen = false;
    for (const struct curl_slist *h = p->steps[1].r.headers; h; h = h->next)
        seen |= strcmp(h->data, "X-T: a{{{b") == 0;
    assert_true(seen);
    assert_string_equal(p->steps[2].r.body, "{\"{{k}}\":[\"{{v}}\",1,null]}");
    assert_string_equal(p->steps[3].r.body, "%7B%7B=%7B%7B");
    assert_string_equal(p->steps[4].r.body, "x{{{{y}}");
    scenario_free(sc);
    free(out);
}

/* ---- layout and helpers ------------------------------------------------------------------ */

static const char *pretty_of(const char *json)
{
    static sbuf out;
    sbuf scratch = SBUF_INIT;
    json_value *v = json_parse(json, strlen(json), 0, NULL);
    assert_non_null(v);
    sbuf_free(&out);
    pretty(&out, &scratch, v, 0, 0);
    json_free(v);
    sbuf_free(&scratch);
    return sbuf_str(&out);
}

static void test_pretty(void **state)
{
    (void)state;
    assert_string_equal(pretty_of("{}"), "{}");
    assert_string_equal(pretty_of("[ ]"), "[]");
    assert_string_equal(pretty_of("\"<&>\\u0001\""), "\"<&>\\u0001\"");
    assert_string_equal(pretty_of("{\"a\":[1,2.50],\"b\":{\"c\":null,\"d\":{}},\"e\":[]}"),
                        "{\"a\": [1, 2.50], \"b\": {\"c\": null, \"d\": {}}, \"e\": []}");
    /* arrays of arrays or objects: one item a line */
    assert_string_equal(pretty_of("[[1],{\"a\":true}]"), "[\n  [1],\n  {\"a\": true}\n]");
    /* up to 100 characters on a line */
    char json[256], want[256];
    snprintf(json, sizeof json, "{\"k\":[\"%089d\"]}", 0);
    snprintf(want, sizeof want, "{\"k\": [\"%089d\"]}", 0);
    assert_int_equal(strlen(want), 100);
    assert_string_equal(pretty_of(json), want);
    snprintf(json, sizeof json, "{\"k\":[\"%090d\"]}", 0);
    snprintf(want, sizeof want, "{\n  \"k\": [\n    \"%090d\"\n  ]\n}", 0);
    assert_string_equal(pretty_of(json), want);
    snprintf(json, sizeof json, "{\"k\":[\"%088d\"],\"j\":1}", 0);
    snprintf(want, sizeof want, "{\n  \"k\": [\"%088d\"],\n  \"j\": 1\n}", 0);
    assert_string_equal(pretty_of(json), want);
    snprintf(json, sizeof json, "{\"k\":[1,\"%0100d\"]}", 0);
    snprintf(want, sizeof want, "{\n  \"k\": [\n    1,\n    \"%0100d\"\n  ]\n}", 0);
    assert_string_equal(pretty_of(json), want);
    snprintf(json, sizeof json, "{\"%0100d\":{\"a\":1}}", 0);
    snprintf(want, sizeof want, "{\n  \"%0100d\": {\n    \"a\": 1\n  }\n}", 0);
    assert_string_equal(pretty_of(json), want);
}

static void test_valid_utf8(void **state)
{
    (void)state;
    static const char *const good[] = {"", "abc", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                       "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF"};
    static const char *const bad[] = {"\x80", "\xC0\xAF", "\xC1\xBF", "\xC3", "\xC3\x28",
                                      "\xE0\x80\xAF", "\xED\xA0\x80", "\xF0\x80\x80\x80",
                                      "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF8", "\xFF"};
    for (size_t i = 0; i < N(good); i++)
        if (!valid_utf8((const unsigned char *)good[i], strlen(good[i])))
            fail_msg("good[%zu] rejected", i);
    for (size_t i = 0; i < N(bad); i++)
        if (valid_utf8((const unsigned char *)bad[i], strlen(bad[i])))
            fail_msg("bad[%zu] accepted", i);
    assert_false(valid_utf8((const unsigned char *)"a\0b", 3));
}

/* ---- errors ------------------------------------------------------------------------------ */

static const char *pos_of(const char *text, const char *marker)
{
    return text_pos("r.har", text, marker);
}

/* text must fail with "r.har:L:C: msg", L:C being where marker first occurs. */
static void expect_at(const char *text, const char *marker, const char *msg)
{
    char want[1024];
    snprintf(want, sizeof want, "%s: %s", pos_of(text, marker), msg);
    expect_error_text(text, want);
}

static void expect_entry_at(const ent *e, size_t n, const char *marker, const char *msg)
{
    char *text = har_doc(NULL, e, n);
    expect_at(text, marker, msg);
    free(text);
}

static void test_errors(void **state)
{
    (void)state;
    expect_at("{\"log\": {\"entries\": [}}", "}}", "expected a value, found '}'");
    assert_int_equal(rep.requests, 0);
    expect_error_text("", "r.har:1:1: unexpected end of input");
    expect_at("[1]", "[", "not a HAR file: no \"log\" object");
    expect_at("{}", "{", "not a HAR file: no \"log\" object");
    expect_at("{\"log\": []}", "[]", "not a HAR file: no \"log\" object");
    expect_at("{\"log\": {}}", "{}", "not a HAR file: \"log\" has no \"entries\" array");
    expect_at("{\"log\": {\"entries\": {}}}", "{}}",
              "not a HAR file: \"log\" has no \"entries\" array");
    expect_error_text("{\"log\": {\"entries\": []}}",
                      "r.har: no requests to replay: log.entries is empty");
    expect_at("{\"log\": {\"entries\": [{\"request\": {\"url\": \"http://h/\"}}, 3]}}", "3]",
              "entry 2: not an object");
    expect_at("{\"log\": {\"entries\": [{}]}}", "{}", "entry 1: no \"request\" object");
    expect_at("{\"log\": {\"entries\": [{\"request\": \"GET /\"}]}}", "\"GET",
              "entry 1: no \"request\" object");
    expect_at("{\"log\": {\"entries\": [{\"request\": {\"method\": \"GET\"}}]}}",
              "{\"method", "entry 1: request has no \"url\"");
    expect_at("{\"log\": {\"entries\": [{\"request\": {\"url\": null}}]}}", "null",
              "entry 1: request has no \"url\"");
    /* a key given twice is allowed: the last one counts */
    expect_at("{\"log\": {\"entries\": [{\"request\": {\"url\": \"http://h/\", \"url\": 1}}]}}",
              "1}", "entry 1: request has no \"url\"");
    expect_at("{\"log\": {\"entries\": [{\"request\": {\"method\": 1, \"url\": \"http://h/\"}}]}}",
              "1,", "entry 1: request \"method\" must be a string");

    const ent rel[] = {{NULL, NULL, "GET", "http://h/ok", NULL, NULL},
                       {NULL, NULL, "GET", "/api/x", NULL, NULL}};
    expect_entry_at(rel, N(rel), "\"/api/x", "entry 2: \"/api/x\" is not an absolute URL");
    const ent nohost[] = {{NULL, NULL, "GET", "https:///x", NULL, NULL}};
    expect_entry_at(nohost, 1, "\"https", "entry 1: URL \"https:///x\" has no valid host");
    const ent badm[] = {{NULL, NULL, "GE T", "http://h/", NULL, NULL}};
    expect_entry_at(badm, 1, "\"GE T", "entry 1: \"GE T\" is not an HTTP method");
    const ent nom[] = {{NULL, NULL, "", "http://h/", NULL, NULL}};
    expect_entry_at(nom, 1, "\"\",", "entry 1: \"\" is not an HTTP method");
    const ent longm[] = {
        {NULL, NULL, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", "http://h/", NULL, NULL}};
    expect_entry_at(longm, 1, "\"ABC",
                    "entry 1: \"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG\" is not an HTTP method");
    const ent okm[] = {{NULL, NULL, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", "http://h/", NULL, NULL},
                       {NULL, NULL, "m-search_x", "http://h/", NULL, NULL}};
    assert_string_equal(outline_of(NULL, okm, N(okm), false),
                        "requests: ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF / ; M-SEARCH_X /");
    /* control characters in a message are made visible, keeping it on one line */
    const ent ctl[] = {{NULL, NULL, "GET", "\\n/x", NULL, NULL}};
    expect_entry_at(ctl, 1, "\"\\n", "entry 1: \"?/x\" is not an absolute URL");
}

static void test_unreadable(void **state)
{
    (void)state;
    har_report r;
    char e[256];
    assert_null(har_convert("missing.har", NULL, &r, e, sizeof e));
    assert_string_equal(e, "missing.har: cannot read: No such file or directory");
    har_report_free(&r);
    mkdir("dir.har", 0700);
    assert_null(har_convert("dir.har", NULL, &r, e, sizeof e));
    assert_string_equal(e, "dir.har: cannot read: Is a directory");
    har_report_free(&r);
}

/* ---- the output loads --------------------------------------------------------------------- */

static const program *prog(const scenario *sc, int task)
{
    return sc->all[0].tasks[task].data;
}

static void test_loads(void **state)
{
    (void)state;
    const char *pages = "[{'id': 'a', 'title': 'Products'}, {'id': 'b', 'title': 'Checkout'}]";
    const ent e[] = {
        {"a", "+0", "GET", "https://shop.example.com/api/products?page=2",
         ", 'headers': [{'name': 'Accept', 'value': 'application/json'}]", NULL},
        {"a", "+2.25", "GET", "https://shop.example.com/api/products/17", NULL, NULL},
        {"b", "+5", "POST", "https://shop.example.com/api/login",
         ", 'headers': [{'name': 'content-type', 'value': 'application/x-www-form-urlencoded'}],"
         " 'postData': {'mimeType': 'application/x-www-form-urlencoded', 'text': 'u=a+b&p=%26'}",
         NULL},
        {"b", "+5.1", "PATCH", "https://api.example.com/cart/abc123def456ghi",
         ", 'postData': {'mimeType': 'application/json', 'text': '{\\'qty\\': 2}'}", NULL},
        {"b", "+5.4", "DELETE", "https://shop.example.com/x", ", 'postData': {'params': []}",
         NULL},
    };
    char *out = convert(pages, e, N(e), false);
    write_file("s.json", out);
    free(out);
    scenario *sc = scenario_load("s.json", &(scenario_opts){0}, err, sizeof err);
    if (!sc)
        fail_msg("%s", err);
    assert_int_equal(sc->nall, 1);
    const uclass *u = &sc->all[0];
    assert_string_equal(u->name, "Recorded");
    assert_int_equal(u->weight, 1);
    assert_true(u->sequential);
    assert_int_equal(u->wait.kind, WAIT_BETWEEN);
    assert_true(u->wait.a == 1 && u->wait.b == 3);
    assert_int_equal(u->ntasks, 2);
    assert_string_equal(u->tasks[0].name, "Products");
    assert_string_equal(u->tasks[1].name, "Checkout");

    const program *p = prog(sc, 0);
    assert_int_equal(p->n, 3);
    assert_string_equal(p->steps[0].r.method, "GET");
    assert_string_equal(p->steps[0].r.url, "/api/products?page=2");
    assert_string_equal(p->steps[0].r.name, "/api/products");
    assert_string_equal(p->steps[0].r.headers->data, "Accept: application/json");
    assert_int_equal(p->steps[1].kind, STEP_THINK);
    assert_true(p->steps[1].think.a == 2.3);
    assert_string_equal(p->steps[2].r.url, "/api/products/17");
    assert_string_equal(p->steps[2].r.name, "/api/products/[id]");

    p = prog(sc, 1);
    assert_int_equal(p->n, 3);
    assert_string_equal(p->steps[0].r.method, "POST");
    assert_string_equal(p->steps[0].r.body, "u=a+b&p=%26");
    assert_string_equal(p->steps[0].r.headers->data,
                        "content-type: application/x-www-form-urlencoded");
    assert_string_equal(p->steps[1].r.method, "PATCH");
    assert_string_equal(p->steps[1].r.url, "https://api.example.com/cart/abc123def456ghi");
    assert_string_equal(p->steps[1].r.name, "/cart/[id]");
    assert_string_equal(p->steps[1].r.body, "{\"qty\":2}");
    assert_string_equal(p->steps[2].r.method, "DELETE");
    assert_null(p->steps[2].r.body);
    assert_int_equal(scenario_resolve(sc, NULL, err, sizeof err), 0);
    assert_string_equal(p->steps[2].r.abs_url, "https://shop.example.com/x");
    scenario_free(sc);
}

/* ---- summary and options ------------------------------------------------------------------ */

static void test_summary(void **state)
{
    (void)state;
    har_report r = {.requests = 1, .tasks = 1};
    sbuf b = SBUF_INIT;
    har_summary(&r, &b);
    assert_string_equal(sbuf_str(&b), "wrote 1 request in 1 task");
    r = (har_report){.requests = 12, .tasks = 3, .static_skipped = 8, .other_skipped = 1,
                     .redirects_skipped = 2};
    sbuf_reset(&b);
    har_summary(&r, &b);
    assert_string_equal(sbuf_str(&b),
                        "wrote 12 requests in 3 tasks; left out 8 static assets (--har-static "
                        "keeps them), 1 non-HTTP URL, 2 requests the replay makes by following "
                        "redirects");
    r = (har_report){.requests = 2, .tasks = 2, .other_skipped = 2, .redirects_skipped = 1};
    sbuf_reset(&b);
    har_summary(&r, &b);
    assert_string_equal(sbuf_str(&b),
                        "wrote 2 requests in 2 tasks; left out 2 non-HTTP URLs, 1 request the "
                        "replay makes by following a redirect");
    sbuf_free(&b);
}

static int parse_args(struct options *o, char *buf, size_t len, const char *conf, ...)
{
    char *argv[16] = {"cicada"};
    int argc = 1;
    va_list ap;
    va_start(ap, conf);
    for (const char *a; argc < 15 && (a = va_arg(ap, const char *));)
        argv[argc++] = (char *)a;
    va_end(ap);
    char *env[] = {"LOCUST_FROM_HAR=x.har", "LOCUST_HAR_STATIC=true", NULL};
    return opt_parse(o, argc, argv, env, NULL, conf, buf, len);
}

static void test_options(void **state)
{
    (void)state;
    struct options o;
    char e[512];
    assert_int_equal(parse_args(&o, e, sizeof e, NULL, NULL), OPT_OK);
    assert_null(o.from_har);
    assert_false(o.har_static);
    opt_free(&o);

    assert_int_equal(parse_args(&o, e, sizeof e, NULL, "--from-har", "rec.har", NULL), OPT_OK);
    assert_string_equal(o.from_har, "rec.har");
    assert_false(o.har_static);
    opt_free(&o);

    assert_int_equal(parse_args(&o, e, sizeof e, NULL, "--har-static", "--from-har=r.har", NULL),
                     OPT_OK);
    assert_string_equal(o.from_har, "r.har");
    assert_true(o.har_static);
    opt_free(&o);

    assert_int_equal(parse_args(&o, e, sizeof e, NULL, "--from-har", NULL), OPT_EXIT_USAGE);
    assert_string_equal(e, "argument --from-har: expected one argument");
    opt_free(&o);
    assert_int_equal(parse_args(&o, e, sizeof e, NULL, "--har-static", NULL),
                     OPT_EXIT_VALIDATION);
    assert_string_equal(e, "--har-static only applies to --from-har");
    opt_free(&o);
    assert_int_equal(parse_args(&o, e, sizeof e, NULL, "--har-static=yes", NULL), OPT_EXIT_USAGE);
    assert_string_equal(e, "argument --har-static: ignored explicit argument 'yes'");
    opt_free(&o);

    /* command line only: not config-file keys */
    write_file("c.conf", "from-har = a.har\n");
    assert_int_equal(parse_args(&o, e, sizeof e, "c.conf", NULL), OPT_EXIT_USAGE);
    assert_string_equal(e, "c.conf:1:1: 'from-har' can only be given on the command line");
    opt_free(&o);
    write_file("c.conf", "# a comment\nhar-static\n");
    assert_int_equal(parse_args(&o, e, sizeof e, "c.conf", NULL), OPT_EXIT_USAGE);
    assert_string_equal(e, "c.conf:2:1: 'har-static' can only be given on the command line");
    opt_free(&o);
    for (size_t i = 0; opt_config_key(i); i++)
        if (strstr(opt_config_key(i), "har"))
            fail_msg("%s is a config key", opt_config_key(i));

    /* in --help, among cicada's options */
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    opt_print_help(f);
    fclose(f);
    const char *group = strstr(text, "\ncicada options:\n");
    assert_non_null(group);
    assert_non_null(strstr(group, "  --from-har HAR_FILE   Convert a HAR file"));
    assert_non_null(strstr(group, "  --har-static          With --from-har: keep"));
    free(text);
}

/* ---- setup -------------------------------------------------------------------------------- */

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
    strcpy(tmpdir, "/tmp/cicada-har-XXXXXX");
    if (!mkdtemp(tmpdir) || chdir(tmpdir) != 0)
        return -1;
    char e[256];
    return log_setup(LOG_INFO, "/dev/null", true, e, sizeof e);
}

static int group_teardown(void **state)
{
    (void)state;
    har_report_free(&rep);
    log_close();
    int rc = chdir(oldcwd);
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_output),
        cmocka_unit_test(test_host_choice),
        cmocka_unit_test(test_split_url),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_think),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_bad_time_warns),
        cmocka_unit_test(test_static_assets),
        cmocka_unit_test(test_other_schemes),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_deep_json_body),
        cmocka_unit_test(test_template_literals),
        cmocka_unit_test(test_pretty),
        cmocka_unit_test(test_valid_utf8),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_loads),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
