/* libFuzzer target: JSON paths (engine/jsonpath.c), which checks and captures run on the
 * target's response bodies: a body is whatever the system under test sends. The input is
 * a path, a NUL, and a body; without a NUL the whole input is a body for a set of fixed
 * paths. Each match must lie inside the body, and a body that is JSON has exactly one
 * match for "$". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "jsonpath.h"
#include "sbuf.h"

static const char *doc;
static size_t doc_len;

static bool on_match(void *data, const jmatch *m)
{
    (void)data;
    if (m->text < doc || m->len > doc_len || m->text + m->len > doc + doc_len)
        abort();
    sbuf v = SBUF_INIT;
    jpath_value(m, &v);
    sbuf_free(&v);
    static const char *const lits[] = {"5", "true", "null", "\"ok\"", "[1,2]", "{\"a\":1}",
                                       "-0.0e0", "\"\\u00e9\""};
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++)
        jpath_equals(m, lits[i], strlen(lits[i]));
    jpath_equals(m, m->text, m->len);
    return true;
}

static void run(const char *path, const char *body, size_t len)
{
    char err[256];
    size_t off = 0;
    jpath *p = jpath_compile(path, err, sizeof err, &off);
    if (!p) {
        if (off > strlen(path))
            abort();   /* the error points inside the path */
        return;
    }
    doc = body;
    doc_len = len;
    jpath_each(p, body, len, on_match, NULL);
    jpath_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly the body's bytes, so ASan sees any read past its end. */
    const uint8_t *nul = memchr(data, 0, size);
    if (nul) {
        char *path = fuzz_cstr(data, (size_t)(nul - data));
        size_t len = size - (size_t)(nul - data) - 1;
        char *body = malloc(len ? len : 1);
        memcpy(body, nul + 1, len);
        run(path, body, len);
        free(body);
        free(path);
        return 0;
    }
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    static const char *const paths[] = {"$", "$.token", "$.items[0].id", "$.items[-1]",
                                        "$.items[*].id", "$[\"odd key\"]", "$[0][1]"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        run(paths[i], body, size);
    json_value *v = json_parse(body, size, 0, NULL);
    if (v) {
        char err[64];
        size_t off;
        jpath *root = jpath_compile("$", err, sizeof err, &off);
        doc = body;
        doc_len = size;
        if (jpath_each(root, body, size, on_match, NULL) != 1)
            abort();   /* the scanner refused a document the parser accepts */
        jpath_free(root);
        json_free(v);
    }
    free(body);
    return 0;
}
