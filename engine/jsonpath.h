/* JSON paths for checks and captures, evaluated on the response text without building a
 * tree (no allocation per request).
 *
 *     $                the whole document
 *     $.token          a member       $["odd key"]  the same, quoted
 *     $.items[0].id    an element     $.items[-1]   the last element
 *     $.items[*].id    every element (checks: any must pass; captures: pick one)
 *
 * The scanner validates what it walks through; a body that is not JSON (or breaks off)
 * simply has no match. */
#ifndef CICADA_JSONPATH_H
#define CICADA_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "sbuf.h"

typedef struct jpath jpath;

/* Compiles a path. Returns NULL with a message in err and the byte offset of the problem
 * in *err_offset ("expected '.' or '[' after the member name", "index out of range").
 * Owned by the caller: jpath_free. */
jpath *jpath_compile(const char *s, char *err, size_t errlen, size_t *err_offset);
void jpath_free(jpath *p);

/* The path as written (owned by p). */
const char *jpath_text(const jpath *p);

/* Kinds of JSON value a match can be. */
enum jvalue_kind { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

/* One match: the value's source text (for a string, with its quotes and escapes). */
typedef struct jmatch {
    const char *text;
    size_t len;
    enum jvalue_kind kind;
} jmatch;

/* Calls fn for each match in document order, stopping early when fn returns false.
 * Returns the number of matches visited (0 when the body is not JSON or nothing
 * matches). */
size_t jpath_each(const jpath *p, const char *doc, size_t len,
                  bool (*fn)(void *data, const jmatch *m), void *data);

/* The value of a match as a variable holds it: strings decoded (escapes resolved, UTF-8),
 * everything else as its JSON text. Appends to out; returns false for a malformed string. */
bool jpath_value(const jmatch *m, sbuf *out);

/* True when the match equals the JSON literal lit (lit_len bytes, e.g. "5", "true",
 * "\"ok\"", "[1,2]"): same kind and value (numbers compared as numbers, strings after
 * decoding, arrays and objects by their compact text). */
bool jpath_equals(const jmatch *m, const char *lit, size_t lit_len);

#endif
