/* libFuzzer target: the JSON parser every loader sits on (scenario files, HAR files, wire
 * messages, JSON-lines test data). Beyond not crashing, a document that parses must be
 * written back (json_write_value) as JSON that parses again to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The first byte picks the flags, so both modes are explored from one corpus. */
    unsigned flags = data[0] & 1 ? JSON_ALLOW_DUPLICATE_KEYS : 0;
    json_error err;
    json_value *v = json_parse((const char *)data + 1, size - 1, flags, &err);
    if (!v) {
        if (!err.msg[0] || !err.line || !err.col)
            abort();   /* every syntax error has a message and a place */
        return 0;
    }
    sbuf a = SBUF_INIT, b = SBUF_INIT;
    json_write_value(&a, v);
    json_value *again = json_parse(a.s, a.len, JSON_ALLOW_DUPLICATE_KEYS, &err);
    if (!again)
        abort();
    json_write_value(&b, again);
    if (a.len != b.len || memcmp(a.s, b.s, a.len) != 0)
        abort();
    json_free(again);
    json_free(v);
    sbuf_free(&a);
    sbuf_free(&b);
    return 0;
}
