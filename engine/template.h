/* Templates: "{{name}}" placeholders in scenario strings, compiled once at load.
 *
 *     "/api/products/{{product_id}}?session={{token}}"
 *     "{{random_int(1, 24)}}"  "{{random_choice(red, 'dark blue', green)}}"  "{{uuid()}}"
 *     "{{user_index}}"  "{{worker_index}}"  "{{time()}}"  "{{time_ms()}}"
 *     "{{env(HOME)}}"  "{{env(TOKEN, none)}}"  "{{accounts.username}}"
 *     "{{'{{'}}"   (quoted text stands for itself: a literal "{{"; '' is a quote)
 *
 * Compiling resolves every name to a slot (variables) or a source column (test data), so
 * rendering is concatenation: no parsing, no lookup by name, no allocation once the output
 * buffer has grown. env() is read at compile time. A name the scope does not know is a
 * compile error with its position; a variable that is known but has no value when the
 * template renders is a render error (the interpreter records it as an exception). */
#ifndef CICADA_TEMPLATE_H
#define CICADA_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

/* What names mean while compiling. The callbacks return a non-negative index, or -1 when
 * the name is unknown. */
typedef struct tpl_scope {
    void *data;
    /* A variable ("token"): its slot. */
    int (*variable)(void *data, const char *name);
    /* A test-data column ("accounts", "username"): an id the renderer passes back. */
    int (*column)(void *data, const char *source, const char *column);
} tpl_scope;

/* A variable's value at render time. */
typedef struct tpl_value {
    const char *s;          /* NULL: no value yet */
    size_t len;
    bool json;              /* s is JSON text (number, true, object ...), not a string */
} tpl_value;

/* What rendering needs from the user. */
typedef struct tpl_ctx {
    void *data;
    tpl_value (*variable)(void *data, int slot);
    /* The column's value for this user (NULL when the user could not get a row: the
     * callback has already recorded why); *json tells whether the cell is JSON text (a
     * number or object from a JSON-lines file) rather than a string. */
    const char *(*column)(void *data, int id, size_t *len, bool *json);
    uint32_t user_index;
    uint32_t worker_index;
    double now;             /* wall-clock seconds */
} tpl_ctx;

typedef struct tpl tpl;

/* Compiles s (len bytes). Returns NULL with a message in err and, in *err_offset, the byte
 * offset in s where the problem is (for a file:line:column). Unknown functions, bad
 * arguments (random_int(5, 1), random_choice()), unset env() without a default and
 * unknown names are errors. The result is owned by the caller: tpl_free. */
tpl *tpl_compile(const char *s, size_t len, const tpl_scope *scope, char *err, size_t errlen,
                 size_t *err_offset);
void tpl_free(tpl *t);

/* True when the template has no placeholder (after env() and quoted text are folded): its
 * text never changes and need not be rendered per request. */
bool tpl_is_static(const tpl *t);
/* The text of a static template (len in *len); NULL (and 0) for one that is not. */
const char *tpl_static_text(const tpl *t, size_t *len);

/* True when the template is exactly one placeholder and nothing else ("{{id}}"): in a JSON
 * body such a string takes the value's own type. */
bool tpl_is_single(const tpl *t);

/* Appends the rendered text to out. Returns 0, or -1 with a message in err (a variable
 * with no value yet: "variable \"token\" has no value yet"; a data column without a row).
 * When json_value is not NULL and the template is single, *json_value tells whether the
 * appended text is JSON (a captured number, object ...) rather than a plain string. */
int tpl_render(const tpl *t, const tpl_ctx *ctx, sbuf *out, bool *json_value, char *err,
               size_t errlen);

/* Calls fn for each variable slot the template uses (once per use). */
void tpl_foreach_variable(const tpl *t, void (*fn)(void *data, int slot), void *data);

#endif
