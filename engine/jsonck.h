/* Checking JSON input against what a file format expects, with errors that name the
 * file, line and column ("demo.json:14:9: unknown key \"wieght\" in task (did you mean
 * \"weight\"?)"). Shared by the scenario loader and the request compiler.
 *
 * Every function returns 0, or -1 after writing one line into the context's error buffer.
 * Getters leave *out untouched when the key is absent. */
#ifndef CICADA_JSONCK_H
#define CICADA_JSONCK_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

typedef struct jck {
    const char *path;       /* the file, for messages (borrowed) */
    char *err;              /* caller's buffer */
    size_t errlen;
    const char *root;       /* NULL, or a directory every absolute path lives under (a
                             * worker's copy of the master's files); borrowed */
    struct sbuf *files;     /* NULL, or where jck_file appends each path it resolves,
                             * NUL-terminated (what a master sends its workers); borrowed */
} jck;

/* The path of a file the scenario names (file, from JSON at v): relative to base_dir,
 * absolute ones under c->root. Returns a new string, or NULL after an error when the file
 * cannot be read. what names the key in that error. */
char *jck_file(jck *c, const json_value *v, const char *file, const char *base_dir);

/* Writes "path:line:col: message" and returns -1. */
int jck_fail(jck *c, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "\"key\" must be WANT, not a TYPE" at v. */
int jck_wrong_type(jck *c, const json_value *v, const char *key, const char *want);

/* Every key of obj must be in allowed (NULL-terminated); a near miss is suggested. what
 * names the object in the message ("task", "request"). */
int jck_keys(jck *c, const json_value *obj, const char *what, const char *const *allowed);

int jck_string(jck *c, const json_value *obj, const char *key, const char **out);
int jck_int(jck *c, const json_value *obj, const char *key, long lo, long hi, long *out);
int jck_bool(jck *c, const json_value *obj, const char *key, bool *out);
/* A number >= lo (> lo when strict). */
int jck_number(jck *c, const json_value *obj, const char *key, double lo, bool strict,
               double *out);
int jck_number_value(jck *c, const json_value *v, const char *key, double lo, bool strict,
                     double *out);
/* One of the NULL-terminated choices; *out gets its index. */
int jck_choice(jck *c, const json_value *obj, const char *key, const char *const *choices,
               int *out);

/* A scalar as text: strings as they are, numbers as written, booleans "true"/"false".
 * jck_scalar returns false for arrays, objects and null; jck_scalar_text fails there. */
bool jck_scalar(const json_value *v, const char **s, size_t *n);
int jck_scalar_text(jck *c, const json_value *v, const char *what, const char **s, size_t *n);

/* The column of byte `offset` within the string value v (its text after the quote,
 * counting characters; escapes in the file are not accounted for). */
unsigned jck_string_col(const json_value *v, size_t offset);

#endif
