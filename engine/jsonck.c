#include "jsonck.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbuf.h"

int jck_fail(jck *c, unsigned line, unsigned col, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "%s:%u:%u: ", c->path, line, col);
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *article(json_type t)
{
    return t == JSON_ARRAY || t == JSON_OBJECT ? "an" : "a";
}

int jck_wrong_type(jck *c, const json_value *v, const char *key, const char *want)
{
    return jck_fail(c, v->line, v->col, "\"%s\" must be %s, not %s %s", key, want,
                    article(v->type), json_type_name(v->type));
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (tolower((unsigned char)a[i - 1]) !=
                                 tolower((unsigned char)b[j - 1]));
            size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

int jck_keys(jck *c, const json_value *obj, const char *what, const char *const *allowed)
{
    for (size_t i = 0; i < obj->obj.count; i++) {
        const json_member *m = &obj->obj.members[i];
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (m->key_len == strlen(*a) && memcmp(m->key, *a, m->key_len) == 0)
                ok = true;
        if (ok)
            continue;
        const char *best = NULL;
        size_t best_d = 3;
        for (const char *const *a = allowed; *a; a++) {
            size_t d = edit_distance(m->key, *a);
            if (d < best_d) {
                best_d = d;
                best = *a;
            }
        }
        if (best)
            return jck_fail(c, m->line, m->col,
                            "unknown key \"%s\" in %s (did you mean \"%s\"?)", m->key, what,
                            best);
        sbuf b = SBUF_INIT;
        for (const char *const *a = allowed; *a; a++)
            sbuf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
        jck_fail(c, m->line, m->col, "unknown key \"%s\" in %s (expected one of: %s)", m->key,
                 what, sbuf_str(&b));
        sbuf_free(&b);
        return -1;
    }
    return 0;
}

int jck_string(jck *c, const json_value *obj, const char *key, const char **out)
{
    const json_value *v = json_get(obj, key);
    if (!v)
        return 0;
    if (v->type != JSON_STRING)
        return jck_wrong_type(c, v, key, "a string");
    if (strlen(v->str.s) != v->str.len)
        return jck_fail(c, v->line, v->col, "\"%s\" must not contain NUL characters", key);
    *out = v->str.s;
    return 0;
}

int jck_int(jck *c, const json_value *obj, const char *key, long lo, long hi, long *out)
{
    const json_value *v = json_get(obj, key);
    if (!v)
        return 0;
    if (v->type != JSON_NUMBER || !v->num.is_int)
        return jck_wrong_type(c, v, key, "an integer");
    if (v->num.i < lo || v->num.i > hi)
        return jck_fail(c, v->line, v->col, "\"%s\" must be between %ld and %ld, not %s", key,
                        lo, hi, v->num.text);
    *out = (long)v->num.i;
    return 0;
}

int jck_number_value(jck *c, const json_value *v, const char *key, double lo, bool strict,
                     double *out)
{
    if (v->type != JSON_NUMBER)
        return jck_wrong_type(c, v, key, "a number");
    double d = v->num.d;
    if (strict ? !(d > lo) : !(d >= lo))
        return jck_fail(c, v->line, v->col, "\"%s\" must be %s %g, not %s", key,
                        strict ? "greater than" : "at least", lo, v->num.text);
    *out = d;
    return 0;
}

int jck_number(jck *c, const json_value *obj, const char *key, double lo, bool strict,
               double *out)
{
    const json_value *v = json_get(obj, key);
    return v ? jck_number_value(c, v, key, lo, strict, out) : 0;
}

int jck_bool(jck *c, const json_value *obj, const char *key, bool *out)
{
    const json_value *v = json_get(obj, key);
    if (!v)
        return 0;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE)
        return jck_wrong_type(c, v, key, "true or false");
    *out = v->type == JSON_TRUE;
    return 0;
}

int jck_choice(jck *c, const json_value *obj, const char *key, const char *const *choices,
               int *out)
{
    const char *s = NULL;
    if (jck_string(c, obj, key, &s))
        return -1;
    if (!s)
        return 0;
    for (int i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    sbuf b = SBUF_INIT;
    for (int i = 0; choices[i]; i++)
        sbuf_printf(&b, "%s\"%s\"", i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
    const json_value *v = json_get(obj, key);
    jck_fail(c, v->line, v->col, "\"%s\" must be %s, not \"%s\"", key, sbuf_str(&b), s);
    sbuf_free(&b);
    return -1;
}

bool jck_scalar(const json_value *v, const char **s, size_t *n)
{
    switch (v->type) {
    case JSON_STRING:
        *s = v->str.s;
        *n = v->str.len;
        return true;
    case JSON_NUMBER:
        *s = v->num.text;
        *n = strlen(v->num.text);
        return true;
    case JSON_TRUE:
        *s = "true";
        *n = 4;
        return true;
    case JSON_FALSE:
        *s = "false";
        *n = 5;
        return true;
    default:
        return false;
    }
}

int jck_scalar_text(jck *c, const json_value *v, const char *what, const char **s, size_t *n)
{
    if (jck_scalar(v, s, n))
        return 0;
    return jck_fail(c, v->line, v->col, "%s must be a string, number or boolean, not %s %s",
                    what, article(v->type), json_type_name(v->type));
}

unsigned jck_string_col(const json_value *v, size_t offset)
{
    unsigned chars = 0;
    for (size_t i = 0; i < offset && i < v->str.len; i++)
        if (((unsigned char)v->str.s[i] & 0xC0) != 0x80)
            chars++;
    return v->col + 1 + chars;
}

/* Whether path, with links and ".." resolved, lies under dir. */
static bool inside(const char *dir, const char *path)
{
    char *d = realpath(dir, NULL), *p = realpath(path, NULL);
    size_t n = d ? strlen(d) : 0;
    bool ok = d && p && strncmp(p, d, n) == 0 && p[n] == '/';
    free(d);
    free(p);
    return ok;
}

char *jck_file(jck *c, const json_value *v, const char *file, const char *base_dir)
{
    sbuf p = SBUF_INIT;
    if (file[0] == '/' && c->root)
        sbuf_puts(&p, c->root);
    else if (file[0] != '/' && base_dir && *base_dir)
        sbuf_printf(&p, "%s/", base_dir);
    sbuf_puts(&p, file);
    if (access(sbuf_str(&p), R_OK) != 0) {
        jck_fail(c, v->line, v->col, "%s: cannot read: %s", sbuf_str(&p), strerror(errno));
        sbuf_free(&p);
        return NULL;
    }
    /* A worker reads only the files its master sent: "../" cannot climb out of them. */
    if (c->root && !inside(c->root, sbuf_str(&p))) {
        jck_fail(c, v->line, v->col, "%s: outside the files the master sent", file);
        sbuf_free(&p);
        return NULL;
    }
    if (c->files) {
        /* Recorded absolute, so a worker can rebuild the same tree under its root. */
        char *real = realpath(sbuf_str(&p), NULL);
        const char *rec = real ? real : sbuf_str(&p);
        sbuf_add(c->files, rec, strlen(rec) + 1);
        free(real);
    }
    return sbuf_take(&p);
}
