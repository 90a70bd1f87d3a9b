#include "demo.h"

#include "httpd.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define LOGGER "cicada.demo"
#define DEMO_MAX_SESSIONS 100000
#define DEMO_MAX_QUANTITY 99      /* per request */
#define DEMO_MAX_CART_ITEM 999    /* per product in a cart */
#define JSON_MAX_DEPTH 32

/* ---- the catalogue ------------------------------------------------------------------- */

struct product {
    int id;
    const char *name;
    int cents;
    int stock;
};

static const struct product products[] = {
    {1, "Trail Running Shoes", 12900, 34},     {2, "Waterproof Hiking Jacket", 18900, 12},
    {3, "Merino Wool Socks", 1950, 120},       {4, "Insulated Water Bottle", 3200, 80},
    {5, "Ultralight Tent", 34900, 7},          {6, "Down Sleeping Bag", 27900, 9},
    {7, "Headlamp 400 lm", 4490, 56},          {8, "Trekking Poles", 8900, 23},
    {9, "Daypack 24 L", 9900, 41},             {10, "Camping Stove", 6450, 18},
    {11, "Titanium Mug", 2700, 65},            {12, "First Aid Kit", 2990, 47},
    {13, "GPS Watch", 39900, 5},               {14, "Baseplate Compass", 2400, 38},
    {15, "Rain Poncho", 1500, 90},             {16, "Fleece Pullover", 6900, 27},
    {17, "Climbing Chalk Bag", 2200, 31},      {18, "Travel Hammock", 5900, 14},
    {19, "Solar Charger", 7900, 11},           {20, "Water Filter", 4900, 29},
    {21, "Folding Camp Chair", 4500, 16},      {22, "Bear Canister", 8400, 6},
    {23, "Wide-Brim Sun Hat", 2800, 52},       {24, "Trail Gaiters", 3900, 19},
};

#define NPRODUCTS ((int)(sizeof products / sizeof products[0]))

/* ---- routes and counters ------------------------------------------------------------- */

/* The counted routes come first; the two /__demo ones are not counted. */
enum route {
    R_INDEX, R_HEALTH, R_PRODUCTS, R_PRODUCT, R_SEARCH, R_LOGIN, R_CART_GET, R_CART_ADD,
    R_CHECKOUT, R_LOGOUT, R_OTHER, NCOUNTED, R_STATS = NCOUNTED, R_RESET
};

/* Keys of "by_route" in /__demo/stats. */
static const char *const route_names[NCOUNTED] = {
    "GET /", "GET /health", "GET /api/products", "GET /api/products/{id}", "GET /api/search",
    "POST /api/login", "GET /api/cart", "POST /api/cart", "POST /api/checkout",
    "POST /api/logout", "other",
};

/* ---- sessions: a hash table bounded by evicting the oldest ------------------------- */

struct session {
    char token[33];
    uint64_t hash;
    struct session *chain;            /* next in the bucket */
    struct session *older, *newer;    /* creation order */
    uint16_t qty[NPRODUCTS];          /* the cart */
};

struct demo {
    struct ev_loop *loop;
    struct httpd *srv;
    uint64_t rng;
    unsigned long long requests;
    unsigned long long by_route[NCOUNTED];
    unsigned long long conn_base;     /* httpd_connections at the last reset */
    unsigned long long orders;
    struct session **buckets;
    size_t nbuckets;                  /* a power of two */
    struct session *oldest, *newest;
    size_t nsessions, max_sessions;
    double product_errors;            /* share of GET /api/products/{id} answered 503 */
    double checkout_errors;           /* share of POST /api/checkout answered 500 */
    char *catalogue;                  /* the product list as JSON */
    char *product_json[NPRODUCTS];
};

static uint64_t rand_next(struct demo *d)
{
    /* splitmix64: fast, and good enough for latencies, error rates and tokens of a
     * demo app that makes no security claims. */
    uint64_t z = (d->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rand_unit(struct demo *d)
{
    return (double)(rand_next(d) >> 11) / 9007199254740992.0;
}

static bool chance(struct demo *d, double p)
{
    return rand_unit(d) < p;
}

/* Sends the response given next after a random lo..hi milliseconds. */
static void latency(struct demo *d, struct httpd_req *req, double lo_ms, double hi_ms)
{
    httpd_delay(req, (lo_ms + (hi_ms - lo_ms) * rand_unit(d)) / 1000.0);
}

static uint64_t hash_token(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static struct session **bucket_of(struct demo *d, uint64_t hash)
{
    return &d->buckets[hash & (d->nbuckets - 1)];
}

static struct session *session_find(struct demo *d, const char *token)
{
    if (!token)
        return NULL;
    uint64_t h = hash_token(token);
    for (struct session *s = *bucket_of(d, h); s; s = s->chain)
        if (s->hash == h && strcmp(s->token, token) == 0)
            return s;
    return NULL;
}

static void session_drop(struct demo *d, struct session *s)
{
    struct session **pp = bucket_of(d, s->hash);
    while (*pp != s)
        pp = &(*pp)->chain;
    *pp = s->chain;
    if (s->older)
        s->older->newer = s->newer;
    else
        d->oldest = s->newer;
    if (s->newer)
        s->newer->older = s->older;
    else
        d->newest = s->older;
    d->nsessions--;
    free(s);
}

static struct session *session_new(struct demo *d)
{
    if (d->nsessions == d->max_sessions)
        session_drop(d, d->oldest);
    struct session *s = xcalloc(1, sizeof *s);
    snprintf(s->token, sizeof s->token, "%016llx%016llx", (unsigned long long)rand_next(d),
             (unsigned long long)rand_next(d));
    s->hash = hash_token(s->token);
    struct session **b = bucket_of(d, s->hash);
    s->chain = *b;
    *b = s;
    s->older = d->newest;
    if (d->newest)
        d->newest->newer = s;
    else
        d->oldest = s;
    d->newest = s;
    d->nsessions++;
    return s;
}

/* ---- a minimal JSON reader for request bodies ------------------------------------ */

struct jcur {
    const char *p, *end;
    int depth;
};

static void jws(struct jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool jlit(struct jcur *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i];
        int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (x < 0)
            return -1;
        v = v * 16 + x;
    }
    return v;
}

static void put_utf8(sbuf *out, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    sbuf_add(out, b, n);
}

/* \uXXXX after the backslash-u; a lone surrogate becomes U+FFFD. */
static bool junicode(struct jcur *c, sbuf *out)
{
    if (c->end - c->p < 4 || hex4(c->p) < 0)
        return false;
    unsigned cp = (unsigned)hex4(c->p);
    c->p += 4;
    if (cp >= 0xd800 && cp < 0xdc00 && c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u'
        && hex4(c->p + 2) >= 0xdc00 && hex4(c->p + 2) < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)hex4(c->p + 2) - 0xdc00);
        c->p += 6;
    } else if (cp >= 0xd800 && cp < 0xe000) {
        cp = 0xfffd;
    }
    if (out)
        put_utf8(out, cp);
    return true;
}

/* A string at c->p (the opening quote); decoded into out unless out is NULL. */
static bool jstring(struct jcur *c, sbuf *out)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    c->p++;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"')
            return true;
        if ((unsigned char)ch < 0x20)
            return false;
        if (ch != '\\') {
            if (out)
                sbuf_putc(out, ch);
            continue;
        }
        if (c->p == c->end)
            return false;
        ch = *c->p++;
        const char *e = ch ? strchr(esc_in, ch) : NULL;
        if (e) {
            if (out)
                sbuf_putc(out, esc_out[e - esc_in]);
        } else if (ch != 'u' || !junicode(c, out)) {
            return false;
        }
    }
    return false;
}

static bool jdigits(struct jcur *c)
{
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start;
}

static bool jnumber(struct jcur *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (!jdigits(c))
        return false;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!jdigits(c))
            return false;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (!jdigits(c))
            return false;
    }
    return true;
}

static bool jvalue(struct jcur *c, sbuf *out);

/* An object or array at c->p; its members are checked, not kept. */
static bool jcontainer(struct jcur *c)
{
    char close = *c->p == '{' ? '}' : ']';
    bool object = close == '}';

    if (++c->depth > JSON_MAX_DEPTH)
        return false;
    c->p++;
    jws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        c->depth--;
        return true;
    }
    for (;;) {
        if (object) {
            if (c->p == c->end || *c->p != '"' || !jstring(c, NULL))
                return false;
            jws(c);
            if (c->p == c->end || *c->p++ != ':')
                return false;
        }
        if (!jvalue(c, NULL))
            return false;
        jws(c);
        if (c->p == c->end)
            return false;
        char ch = *c->p++;
        if (ch == close) {
            c->depth--;
            return true;
        }
        if (ch != ',')
            return false;
        jws(c);
    }
}

/* Any value after optional white space. A string's decoded text or a number's text goes
 * to out (when not NULL); other values leave out untouched. */
static bool jvalue(struct jcur *c, sbuf *out)
{
    jws(c);
    if (c->p == c->end)
        return false;
    const char *start = c->p;
    switch (*c->p) {
    case '"':
        return jstring(c, out);
    case '{':
    case '[':
        return jcontainer(c);
    case 't':
        return jlit(c, "true");
    case 'f':
        return jlit(c, "false");
    case 'n':
        return jlit(c, "null");
    default:
        if (!jnumber(c))
            return false;
        if (out)
            sbuf_add(out, start, (size_t)(c->p - start));
        return true;
    }
}

/* Reads field `key` of the JSON object in s[0..len). Returns 1 with its text appended
 * to out (a string decoded, a number as written), 0 when absent or not a string or
 * number, -1 when s is not one valid JSON object (out untouched in both cases). The
 * first of duplicate keys wins. */
static int json_field(const char *s, size_t len, const char *key, sbuf *out)
{
    struct jcur c = {s, s + len, 1};
    sbuf name = SBUF_INIT, val = SBUF_INIT, found = SBUF_INIT;
    bool ok, has = false;

    jws(&c);
    if (c.p == c.end || *c.p++ != '{')
        return -1;
    jws(&c);
    ok = c.p < c.end && *c.p == '}';
    if (ok)
        c.p++;
    else
        for (;;) {
            sbuf_reset(&name);
            sbuf_reset(&val);
            ok = c.p < c.end && *c.p == '"' && jstring(&c, &name);
            jws(&c);
            ok = ok && c.p < c.end && *c.p++ == ':';
            jws(&c);
            char first = c.p < c.end ? *c.p : '\0';
            ok = ok && jvalue(&c, &val);
            bool scalar = first == '"' || first == '-' || (first >= '0' && first <= '9');
            if (ok && !has && scalar && name.len == strlen(key)
                && memcmp(sbuf_str(&name), key, name.len) == 0) {
                sbuf_add(&found, sbuf_str(&val), val.len);
                has = true;
            }
            jws(&c);
            ok = ok && c.p < c.end;
            if (!ok)
                break;
            char ch = *c.p++;
            if (ch != ',') {
                ok = ch == '}';
                break;
            }
            jws(&c);
        }
    jws(&c);
    ok = ok && c.p == c.end;
    if (ok && has)
        sbuf_add(out, sbuf_str(&found), found.len);
    sbuf_free(&name);
    sbuf_free(&val);
    sbuf_free(&found);
    return ok ? has : -1;
}

/* ---- writing JSON -------------------------------------------------------------------- */

static const char json_type[] = "application/json";

static void put_string(sbuf *b, const char *s, size_t len)
{
    sbuf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            sbuf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            sbuf_printf(b, "\\u%04x", ch);
        else
            sbuf_putc(b, (char)ch);
    }
    sbuf_putc(b, '"');
}

static void put_price(sbuf *b, long long cents)
{
    sbuf_printf(b, "%lld.%02lld", cents / 100, cents % 100);
}

static void put_product(sbuf *b, const struct product *p)
{
    sbuf_printf(b, "{\"id\":%d,\"name\":", p->id);
    put_string(b, p->name, strlen(p->name));
    sbuf_puts(b, ",\"price\":");
    put_price(b, p->cents);
    sbuf_printf(b, ",\"stock\":%d}", p->stock);
}

static void reply(struct httpd_req *req, int status, const char *json)
{
    httpd_respond(req, status, json_type, json, strlen(json), HTTPD_STATIC);
}

static void reply_sbuf(struct httpd_req *req, int status, sbuf *b)
{
    size_t len = b->len;
    httpd_respond(req, status, json_type, sbuf_take(b), len, HTTPD_TAKE);
}

/* ---- reading requests ---------------------------------------------------------------- */

/* Reads a field of a JSON object body, or of a urlencoded form (any body that does not
 * start with '{', whatever its Content-Type says: clients often send JSON labelled as a
 * form). Returns 1 with the value in out, 0 when absent, -1 when the JSON is invalid. */
static int body_field(struct httpd_req *req, const char *name, sbuf *out)
{
    size_t len;
    const char *body = httpd_body(req, &len);
    size_t i = strspn(body, " \t\r\n");

    if (i < len && body[i] == '{')
        return json_field(body, len, name, out);
    const char *v = httpd_form(req, name);
    if (!v)
        return 0;
    sbuf_puts(out, v);
    return 1;
}

/* Parses a whole decimal integer in lo..hi. */
static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!(*s >= '0' && *s <= '9') && *s != '-')
        return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static const struct product *product_by_text(const char *id)
{
    long n;
    return parse_int(id, 1, NPRODUCTS, &n) ? &products[n - 1] : NULL;
}

static struct session *session_of(struct demo *d, struct httpd_req *req)
{
    return session_find(d, httpd_cookie(req, "session"));
}

/* ---- endpoints ----------------------------------------------------------------------- */

static const char index_html[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cicada demo shop</title></head>\n"
    "<body>\n<h1>cicada demo shop</h1>\n"
    "<p>A small JSON shop to load-test. Log in with any username and the password "
    "<code>secret</code>.</p>\n<ul>\n"
    "<li><code>GET /health</code></li>\n"
    "<li><code>GET /api/products</code> (2-6 ms)</li>\n"
    "<li><code>GET /api/products/{id}</code> (ids 1-24; 1-3 ms; 1% answer 503)</li>\n"
    "<li><code>GET /api/search?q=</code> (10-40 ms)</li>\n"
    "<li><code>POST /api/login</code> {\"username\", \"password\"} or a form: sets the "
    "<code>session</code> cookie (5-15 ms)</li>\n"
    "<li><code>GET /api/cart</code>, <code>POST /api/cart</code> {\"product_id\", "
    "\"quantity\"} (session; 1-4 ms)</li>\n"
    "<li><code>POST /api/checkout</code> (session; 20-60 ms; 2% answer 500)</li>\n"
    "<li><code>POST /api/logout</code></li>\n"
    "<li><code>GET /__demo/stats</code>, <code>POST /__demo/reset</code>: requests received "
    "(these two are not counted)</li>\n"
    "</ul>\n</body></html>\n";

static void get_index(struct httpd_req *req)
{
    httpd_respond(req, 200, "text/html; charset=utf-8", index_html, sizeof index_html - 1,
                  HTTPD_STATIC);
}

static void get_products(struct demo *d, struct httpd_req *req)
{
    latency(d, req, 2, 6);
    reply(req, 200, d->catalogue);
}

static void get_product(struct demo *d, struct httpd_req *req, const char *id)
{
    const struct product *p = product_by_text(id);

    latency(d, req, 1, 3);
    if (chance(d, d->product_errors))
        reply(req, 503, "{\"error\":\"service unavailable\"}");
    else if (!p)
        reply(req, 404, "{\"error\":\"product not found\"}");
    else
        reply(req, 200, d->product_json[p->id - 1]);
}

static void get_search(struct demo *d, struct httpd_req *req)
{
    const char *q = httpd_query(req, "q");
    sbuf b = SBUF_INIT;
    int count = 0;

    if (!q)
        q = "";
    latency(d, req, 10, 40);
    sbuf_puts(&b, "{\"query\":");
    put_string(&b, q, strlen(q));
    sbuf_puts(&b, ",\"results\":[");
    for (int i = 0; i < NPRODUCTS; i++) {
        if (!strcasestr(products[i].name, q))
            continue;
        if (count++)
            sbuf_putc(&b, ',');
        put_product(&b, &products[i]);
    }
    sbuf_printf(&b, "],\"count\":%d}", count);
    reply_sbuf(req, 200, &b);
}

static void post_login(struct demo *d, struct httpd_req *req)
{
    sbuf user = SBUF_INIT, pass = SBUF_INIT;
    int u = body_field(req, "username", &user);
    int p = body_field(req, "password", &pass);

    latency(d, req, 5, 15);
    if (u < 0 || p < 0) {
        reply(req, 400, "{\"error\":\"invalid JSON\"}");
    } else if (pass.len != 6 || memcmp(sbuf_str(&pass), "secret", 6) != 0) {
        reply(req, 401, "{\"error\":\"invalid username or password\"}");
    } else {
        struct session *s = session_new(d);
        char cookie[80];
        sbuf b = SBUF_INIT;
        snprintf(cookie, sizeof cookie, "session=%s; Path=/; HttpOnly", s->token);
        httpd_add_header(req, "Set-Cookie", cookie);
        sbuf_puts(&b, "{\"status\":\"ok\",\"username\":");
        put_string(&b, sbuf_str(&user), user.len);
        sbuf_putc(&b, '}');
        reply_sbuf(req, 200, &b);
    }
    sbuf_free(&user);
    sbuf_free(&pass);
}

static void put_cart(sbuf *b, const struct session *s)
{
    long long total = 0;
    bool first = true;

    sbuf_puts(b, "{\"items\":[");
    for (int i = 0; i < NPRODUCTS; i++) {
        if (!s->qty[i])
            continue;
        sbuf_printf(b, "%s{\"product_id\":%d,\"name\":", first ? "" : ",", products[i].id);
        put_string(b, products[i].name, strlen(products[i].name));
        sbuf_puts(b, ",\"price\":");
        put_price(b, products[i].cents);
        sbuf_printf(b, ",\"quantity\":%d}", s->qty[i]);
        total += (long long)products[i].cents * s->qty[i];
        first = false;
    }
    sbuf_puts(b, "],\"total\":");
    put_price(b, total);
    sbuf_putc(b, '}');
}

static void get_cart(struct demo *d, struct httpd_req *req, struct session *s)
{
    sbuf b = SBUF_INIT;

    latency(d, req, 1, 4);
    put_cart(&b, s);
    reply_sbuf(req, 200, &b);
}

/* Adds the item the request names to the cart. Returns NULL, or the error to answer
 * with its status in *status. */
static const char *cart_add(struct httpd_req *req, struct session *s, int *status)
{
    sbuf id = SBUF_INIT, qty = SBUF_INIT;
    int has_id = body_field(req, "product_id", &id);
    int has_qty = body_field(req, "quantity", &qty);
    long pid = 0, n = 1;
    const char *error = NULL;

    *status = 400;
    if (has_id < 0 || has_qty < 0)
        error = "{\"error\":\"invalid JSON\"}";
    else if (has_id == 0 || !parse_int(sbuf_str(&id), LONG_MIN, LONG_MAX, &pid))
        error = "{\"error\":\"product_id must be an integer\"}";
    else if (has_qty && !parse_int(sbuf_str(&qty), 1, DEMO_MAX_QUANTITY, &n))
        error = "{\"error\":\"quantity must be 1..99\"}";
    else if (pid < 1 || pid > NPRODUCTS)
        *status = 404, error = "{\"error\":\"product not found\"}";
    else if (s->qty[pid - 1] + n > DEMO_MAX_CART_ITEM)
        *status = 409, error = "{\"error\":\"cart limit reached\"}";
    else
        s->qty[pid - 1] = (uint16_t)(s->qty[pid - 1] + n);
    sbuf_free(&id);
    sbuf_free(&qty);
    return error;
}

static void post_cart(struct demo *d, struct httpd_req *req, struct session *s)
{
    int status;
    const char *error = cart_add(req, s, &status);

    latency(d, req, 1, 4);
    if (error) {
        reply(req, status, error);
        return;
    }
    sbuf b = SBUF_INIT;
    put_cart(&b, s);
    reply_sbuf(req, 200, &b);
}

static void post_checkout(struct demo *d, struct httpd_req *req, struct session *s)
{
    long long total = 0;
    int items = 0;
    sbuf b = SBUF_INIT;

    latency(d, req, 20, 60);
    if (chance(d, d->checkout_errors)) {
        reply(req, 500, "{\"error\":\"payment gateway timeout\"}");
        return;
    }
    for (int i = 0; i < NPRODUCTS; i++) {
        total += (long long)products[i].cents * s->qty[i];
        items += s->qty[i];
    }
    memset(s->qty, 0, sizeof s->qty);
    sbuf_printf(&b, "{\"order_id\":%llu,\"items\":%d,\"total\":", ++d->orders, items);
    put_price(&b, total);
    sbuf_puts(&b, ",\"status\":\"paid\"}");
    reply_sbuf(req, 200, &b);
}

static void post_logout(struct demo *d, struct httpd_req *req)
{
    struct session *s = session_of(d, req);

    if (s)
        session_drop(d, s);
    httpd_add_header(req, "Set-Cookie", "session=; Path=/; Max-Age=0; HttpOnly");
    reply(req, 200, "{\"status\":\"logged out\"}");
}

static void get_stats(struct demo *d, struct httpd_req *req)
{
    sbuf b = SBUF_INIT;
    bool first = true;

    sbuf_printf(&b, "{\"requests\":%llu,\"by_route\":{", d->requests);
    for (int r = 0; r < NCOUNTED; r++) {
        if (!d->by_route[r])
            continue;
        sbuf_printf(&b, "%s\"%s\":%llu", first ? "" : ",", route_names[r], d->by_route[r]);
        first = false;
    }
    sbuf_printf(&b, "},\"connections\":%llu}", httpd_connections(d->srv) - d->conn_base);
    reply_sbuf(req, 200, &b);
}

static void post_reset(struct demo *d, struct httpd_req *req)
{
    d->requests = 0;
    memset(d->by_route, 0, sizeof d->by_route);
    d->conn_base = httpd_connections(d->srv);
    reply(req, 200, "{\"status\":\"ok\"}");
}

/* ---- routing ------------------------------------------------------------------------- */

static const struct {
    const char *method, *path;
    enum route route;
} routes[] = {
    {"GET", "/", R_INDEX},
    {"GET", "/health", R_HEALTH},
    {"GET", "/api/products", R_PRODUCTS},
    {"GET", "/api/search", R_SEARCH},
    {"POST", "/api/login", R_LOGIN},
    {"GET", "/api/cart", R_CART_GET},
    {"POST", "/api/cart", R_CART_ADD},
    {"POST", "/api/checkout", R_CHECKOUT},
    {"POST", "/api/logout", R_LOGOUT},
    {"GET", "/__demo/stats", R_STATS},
    {"POST", "/__demo/reset", R_RESET},
};

static const char product_prefix[] = "/api/products/";

/* Sets *id to the {id} part for R_PRODUCT. */
static enum route route_of(const char *method, const char *path, const char **id)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(path, routes[i].path) == 0 && strcmp(method, routes[i].method) == 0)
            return routes[i].route;
    size_t n = sizeof product_prefix - 1;
    if (strcmp(method, "GET") == 0 && strncmp(path, product_prefix, n) == 0
        && !strchr(path + n, '/')) {
        *id = path + n;
        return R_PRODUCT;
    }
    return R_OTHER;
}

/* The routes that need a session, with their handlers. */
static void with_session(struct demo *d, struct httpd_req *req, enum route r)
{
    struct session *s = session_of(d, req);

    if (!s) {
        reply(req, 401, "{\"error\":\"login required\"}");
        return;
    }
    if (r == R_CART_GET)
        get_cart(d, req, s);
    else if (r == R_CART_ADD)
        post_cart(d, req, s);
    else
        post_checkout(d, req, s);
}

static void handle(void *data, struct httpd_req *req)
{
    struct demo *d = data;
    const char *id = NULL;
    enum route r = route_of(httpd_method(req), httpd_path(req), &id);

    if (r < NCOUNTED) {
        d->requests++;
        d->by_route[r]++;
    }
    switch (r) {
    case R_INDEX: get_index(req); break;
    case R_HEALTH: reply(req, 200, "{\"status\":\"ok\"}"); break;
    case R_PRODUCTS: get_products(d, req); break;
    case R_PRODUCT: get_product(d, req, id); break;
    case R_SEARCH: get_search(d, req); break;
    case R_LOGIN: post_login(d, req); break;
    case R_CART_GET:
    case R_CART_ADD:
    case R_CHECKOUT: with_session(d, req, r); break;
    case R_LOGOUT: post_logout(d, req); break;
    case R_STATS: get_stats(d, req); break;
    case R_RESET: post_reset(d, req); break;
    default: reply(req, 404, "{\"error\":\"not found\"}"); break;
    }
}

/* ---- set-up ------------------------------------------------------------------------- */

static void demo_init(struct demo *d, size_t max_sessions)
{
    struct timespec ts;
    sbuf b = SBUF_INIT;

    clock_gettime(CLOCK_REALTIME, &ts);
    d->rng = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 48);
    d->max_sessions = max_sessions;
    d->product_errors = 0.01;
    d->checkout_errors = 0.02;
    for (d->nbuckets = 1; d->nbuckets < max_sessions; d->nbuckets *= 2)
        ;
    d->buckets = xcalloc(d->nbuckets, sizeof *d->buckets);
    sbuf_putc(&b, '[');
    for (int i = 0; i < NPRODUCTS; i++) {
        sbuf one = SBUF_INIT;
        put_product(&one, &products[i]);
        sbuf_printf(&b, "%s%s", i ? "," : "", sbuf_str(&one));
        d->product_json[i] = sbuf_take(&one);
    }
    sbuf_putc(&b, ']');
    d->catalogue = sbuf_take(&b);
}

static void demo_free(struct demo *d)
{
    while (d->oldest)
        session_drop(d, d->oldest);
    free(d->buckets);
    free(d->catalogue);
    for (int i = 0; i < NPRODUCTS; i++)
        free(d->product_json[i]);
}

/* Splits "PORT", "HOST:PORT" or "[IPv6]:PORT". "*" becomes "" (all interfaces). */
static int parse_hostport(const char *arg, char *host, size_t hostlen, int *port,
                          char *err, size_t errlen)
{
    const char *colon = strrchr(arg, ':'), *portstr = arg;
    long n;

    snprintf(host, hostlen, "127.0.0.1");
    if (arg[0] == '[') {
        const char *rb = strchr(arg, ']');
        if (!rb || rb == arg + 1 || rb[1] != ':' || (size_t)(rb - arg) > hostlen) {
            snprintf(err, errlen, "expected [IPv6]:PORT");
            return -1;
        }
        snprintf(host, hostlen, "%.*s", (int)(rb - arg - 1), arg + 1);
        portstr = rb + 2;
    } else if (colon) {
        if (colon != strchr(arg, ':')) {
            snprintf(err, errlen, "an IPv6 address needs brackets, as in [::1]:8080");
            return -1;
        }
        if (colon == arg || (size_t)(colon - arg) >= hostlen) {
            snprintf(err, errlen, "expected PORT or HOST:PORT");
            return -1;
        }
        snprintf(host, hostlen, "%.*s", (int)(colon - arg), arg);
        portstr = colon + 1;
    }
    if (!(*portstr >= '0' && *portstr <= '9') || !parse_int(portstr, 0, 65535, &n)) {
        snprintf(err, errlen, "invalid port '%s' (expected 0-65535)", portstr);
        return -1;
    }
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    *port = (int)n;
    return 0;
}

/* A load test opens one connection per user: raises the soft fd limit to the hard one
 * and returns a connection limit that leaves room for the loop's own descriptors
 * (0, httpd's default, when the limit is small). */
static unsigned raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000)
        return 1000000;
    return rl.rlim_cur > 1024 ? (unsigned)rl.rlim_cur - 32 : 0;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w, (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void print_start_error(const char *arg, const char *err)
{
    /* httpd's errors read "<step> <address>: <reason>"; the flag already names the
     * address, so keep "<step>: <reason>". */
    const char *space = strchr(err, ' '), *reason = strstr(err, ": ");

    if (space && reason && space < reason)
        fprintf(stderr, "cicada: error: --demo-target %s: %.*s:%s\n", arg, (int)(space - err),
                err, reason + 1);
    else
        fprintf(stderr, "cicada: error: --demo-target %s: %s\n", arg, err);
}

/* Serves d (initialised, freed by the caller) until SIGINT or SIGTERM. */
static int demo_serve(struct demo *d, const char *hostport)
{
    char host[256], err[512];
    int port;
    ev_signal sigint, sigterm;

    if (parse_hostport(hostport, host, sizeof host, &port, err, sizeof err) != 0) {
        fprintf(stderr, "cicada: error: --demo-target %s: %s\n", hostport, err);
        return 1;
    }
    struct httpd_config cfg = {.host = host, .port = port, .handler = handle, .data = d,
                               .max_connections = raise_fd_limit(), .logger = LOGGER};
    signal(SIGPIPE, SIG_IGN);
    d->loop = ev_loop_new(EVFLAG_AUTO);
    ev_signal_init(&sigint, on_signal, SIGINT);
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_start(d->loop, &sigint);
    ev_signal_start(d->loop, &sigterm);
    d->srv = httpd_start(d->loop, &cfg, err, sizeof err);
    int rc = d->srv ? 0 : 1;
    if (d->srv) {
        bool v6 = strchr(host, ':') != NULL;
        log_info(LOGGER, "Demo target listening on http://%s%s%s:%d", v6 ? "[" : "",
                 *host ? host : "0.0.0.0", v6 ? "]" : "", httpd_port(d->srv));
        ev_run(d->loop, 0);
        log_info(LOGGER, "Demo target stopping after %llu requests", d->requests);
        httpd_stop(d->srv);
        d->srv = NULL;
    } else {
        print_start_error(hostport, err);
    }
    ev_signal_stop(d->loop, &sigint);
    ev_signal_stop(d->loop, &sigterm);
    ev_loop_destroy(d->loop);
    return rc;
}

int demo_main(const char *hostport)
{
    struct demo d = {0};

    demo_init(&d, DEMO_MAX_SESSIONS);
    int rc = demo_serve(&d, hostport);
    demo_free(&d);
    return rc;
}
