/* JSON: a strict parser that keeps source positions, and a streaming writer.
 *
 * The parser exists so scenario and HAR files can report errors at a place in the file
 * ("demo.json:12:7: unknown key \"wieght\" in task"): every value and every object key
 * carries its 1-based line and column. Columns count characters (code points), a tab
 * counts as one, and only '\n' starts a new line.
 *
 * Input is RFC 8259 JSON and nothing else: no comments, trailing commas, NaN/Infinity,
 * leading zeros or raw control characters in strings; it must be valid UTF-8 (a leading
 * byte order mark is skipped). Parsing is linear in the input size; nesting is limited to
 * JSON_MAX_DEPTH levels.
 *
 * A parsed document lives in one arena, so json_free() of the root frees every value,
 * string and key at once; nothing inside a tree is freed on its own.
 *
 * The writer builds JSON text into an sbuf without a tree (web API answers, --json). */
#ifndef CICADA_JSON_H
#define CICADA_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

/* Deepest nesting of arrays and objects json_parse accepts, and the writer supports. */
#define JSON_MAX_DEPTH 200
#define JSON_WRITER_MAX_DEPTH 64

/* json_parse flag: accept an object with the same key twice (json_get then finds the
 * last one). Without it a repeated key is an error at the second occurrence. */
#define JSON_ALLOW_DUPLICATE_KEYS 1u

typedef enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_member json_member;
typedef struct json_value json_value;

/* A parsed value. Every pointer in it points into the document's arena. */
struct json_value {
    json_type type;
    unsigned line, col;           /* 1-based position of the value's first character */
    union {
        struct {
            const char *s;        /* decoded UTF-8, NUL-terminated; may hold NULs (\u0000) */
            size_t len;
        } str;                    /* JSON_STRING */
        struct {
            double d;             /* nearest double (never inf: such input is an error) */
            int64_t i;            /* the value when is_int, else 0 */
            bool is_int;          /* no fraction or exponent, and fits int64_t */
            const char *text;     /* the literal as written, e.g. "1.10", NUL-terminated */
        } num;                    /* JSON_NUMBER */
        struct {
            json_value *items;    /* NULL when count is 0 */
            size_t count;
        } arr;                    /* JSON_ARRAY */
        struct {
            json_member *members; /* in source order; NULL when count is 0 */
            size_t count;
        } obj;                    /* JSON_OBJECT */
    };
};

struct json_member {
    const char *key;              /* decoded, NUL-terminated; may hold NULs */
    size_t key_len;
    unsigned line, col;           /* position of the key's opening quote */
    json_value value;
};

/* Where and why parsing failed. line and col are 1-based and point at the offending
 * character (at the end of the input for "unexpected end of input"); both are 0 when
 * json_parse_file could not read the file. msg is one line without a position, e.g.
 * "expected ',' or '}' after object member, found ']'". */
typedef struct json_error {
    unsigned line, col;
    char msg[160];
} json_error;

/* Parses len bytes of text (need not be NUL-terminated; not referenced after return;
 * NULL counts as empty).
 * flags: 0 or JSON_ALLOW_DUPLICATE_KEYS. Returns the root value, which the caller
 * releases with json_free(); on error returns NULL and fills *err (err may be NULL). */
json_value *json_parse(const char *text, size_t len, unsigned flags, json_error *err);

/* Reads the whole file at path and parses it as json_parse does. When the file cannot be
 * read, err->msg is "cannot read: <strerror>" with line and col 0; callers prefix the
 * path to every message. */
json_value *json_parse_file(const char *path, unsigned flags, json_error *err);

/* Frees a whole document. root must be a value returned by json_parse or
 * json_parse_file (or NULL); every pointer into the tree becomes invalid. */
void json_free(json_value *root);

/* The value of key in obj (the last such member if keys repeat), or NULL when obj is
 * NULL, not an object, or lacks the key. Linear in the object's size. */
const json_value *json_get(const json_value *obj, const char *key);

/* The i-th member of obj in source order, or NULL when obj is not an object or i is out
 * of range. */
const json_member *json_member_at(const json_value *obj, size_t i);

/* "null", "boolean", "number", "string", "array" or "object": the words for error
 * messages such as "expected a number, found a string". Static storage. */
const char *json_type_name(json_type type);

/* Appends s (len bytes, may hold NULs) as a quoted JSON string. Escapes '"', '\\' and
 * control characters, and <, > and & (as JSON_W_HTML) so the text can sit inside an HTML
 * <script>.
 * Other UTF-8 passes through; each byte that is not valid UTF-8 becomes U+FFFD, so the
 * output is always valid JSON. */
void json_write_string(sbuf *b, const char *s, size_t len);

/* json_write_string_flags options. */
#define JSON_W_HTML 1u   /* write <, > and & as \\u003c ..., so the text can sit in an HTML
                          * <script> whatever it holds ("</script>", "<!--") */
#define JSON_W_ASCII 2u  /* escape non-ASCII as \\uXXXX, as Python's json.dumps does */

/* json_write_string with a choice of escapes (flags: 0 or JSON_W_*). */
void json_write_string_flags(sbuf *b, const char *s, size_t len, unsigned flags);

/* Appends v compactly (no spaces); numbers keep their source text and strings are
 * escaped only where JSON requires, so a request body says exactly what its file says. */
void json_write_value(sbuf *b, const json_value *v);

/* Streaming writer: the calls below append to b and place commas and colons
 * themselves. Inside an object each value follows a json_key(). Nesting is limited to
 * JSON_WRITER_MAX_DEPTH; misuse (a value without its key, mismatched ends) is a
 * programming error and fails an assertion. The writer owns nothing. */
typedef struct json_writer {
    sbuf *b;
    unsigned depth;
    uint64_t nonempty;            /* bit d-1: level d has an element, so the next needs ',' */
    uint64_t objects;             /* bit d-1: level d is an object */
    bool after_key;
} json_writer;

/* Starts writing into b (not cleared: output is appended). */
void json_writer_init(json_writer *w, sbuf *b);
/* Open and close an object or an array (a value, so inside an object it needs a key). */
void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);
/* Writes an object key (a C string), escaped as json_write_string does. */
void json_key(json_writer *w, const char *key);
/* A string value from a C string; json_put_stringn takes len bytes that may hold NULs. */
void json_put_string(json_writer *w, const char *s);
void json_put_stringn(json_writer *w, const char *s, size_t len);
/* Integers in decimal. */
void json_put_int(json_writer *w, int64_t v);
void json_put_uint(json_writer *w, uint64_t v);
/* As Python's repr (2.0 -> 2.0, 0.1 -> 0.1); NaN and infinities become null. */
void json_put_double(json_writer *w, double v);
/* true/false and null. */
/* v rounded to at most `decimals` (1..9) decimal places, trailing zeros dropped but one
 * kept ("96.0", "0.985478"): several times faster than json_put_double, for tables of
 * rates and averages where the 17th digit is noise. NaN and infinities become null. */
void json_put_decimal(json_writer *w, double v, int decimals);
void json_put_bool(json_writer *w, bool v);
void json_put_null(json_writer *w);
/* len bytes of text that the caller guarantees to be one valid JSON value. */
void json_put_raw(json_writer *w, const char *json, size_t len);

#endif
