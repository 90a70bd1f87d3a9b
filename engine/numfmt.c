#include "numfmt.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A finite magnitude as d[0].d[1]d[2]... x 10^exp, digits as ASCII. */
typedef struct digits {
    char d[24];
    int n;
    int exp;
} digits;

/* Reads glibc's "%.*e" text ("-1.2345e-07"); the decimal point is skipped whatever it is. */
static void digits_parse(digits *dg, const char *s)
{
    dg->n = 0;
    for (; *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            dg->d[dg->n++] = *s;
    dg->exp = atoi(s + 1);
}

/* Adds one unit in the last place; "99" becomes "10" with the exponent raised. */
static void digits_bump(digits *dg)
{
    int i = dg->n - 1;
    while (i >= 0 && dg->d[i] == '9')
        dg->d[i--] = '0';
    if (i >= 0) {
        dg->d[i]++;
        return;
    }
    dg->d[0] = '1';
    dg->exp++;
}

static bool digits_read_back(const digits *dg, double v)
{
    char s[48];
    int k = snprintf(s, sizeof s, "%s%c.%.*se%d", signbit(v) ? "-" : "", dg->d[0],
                     dg->n - 1, dg->d + 1, dg->exp);
    return k > 0 && strtod(s, NULL) == v;
}

/* The shortest digits that read back as v. printf rounds to the nearest p-digit decimal,
 * which is the right candidate whenever any p-digit decimal reads back, except just above
 * a power of two: there the doubles below are twice as dense as those above, so the
 * nearest candidate (below v) can miss while the next one up still reads back. Python
 * (David Gay's dtoa) returns that one, so it is tried too. */
static void shortest(digits *dg, double v)
{
    char s[48];
    int e2;
    bool pow2 = fabs(frexp(v, &e2)) == 0.5;
    /* For a normal double away from a power of two, a shortest form of k <= 15 digits is
     * exactly its 15-digit rounding with the zeros dropped (its rounding interval is
     * narrower than that decimal grid), so three tries find it, not seventeen. Subnormals
     * have wider intervals and take the long way. */
    bool fast = !pow2 && fpclassify(v) == FP_NORMAL;
    for (int p = fast ? 15 : 1; p < 17; p++) {
        snprintf(s, sizeof s, "%.*e", p - 1, v);
        digits_parse(dg, s);
        if (strtod(s, NULL) == v)
            return;
        if (pow2) {
            digits_bump(dg);
            if (digits_read_back(dg, v))
                return;
        }
    }
    snprintf(s, sizeof s, "%.16e", v);
    digits_parse(dg, s);
}

static size_t copy(char *buf, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf, s, n + 1);
    return n;
}

size_t numfmt_repr(char buf[NUMFMT_REPR_SIZE], double v)
{
    if (isnan(v))
        return copy(buf, "nan");
    if (isinf(v))
        return copy(buf, v < 0 ? "-inf" : "inf");
    digits dg;
    shortest(&dg, v);
    while (dg.n > 1 && dg.d[dg.n - 1] == '0')
        dg.n--;

    char *o = buf;
    if (signbit(v))
        *o++ = '-';
    int e = dg.exp;
    if (e < -4 || e >= 16) {
        *o++ = dg.d[0];
        if (dg.n > 1) {
            *o++ = '.';
            memcpy(o, dg.d + 1, (size_t)dg.n - 1);
            o += dg.n - 1;
        }
        o += sprintf(o, "e%c%02d", e < 0 ? '-' : '+', abs(e));
        return (size_t)(o - buf);
    }
    if (e >= 0) {
        for (int i = 0; i <= e; i++)
            *o++ = i < dg.n ? dg.d[i] : '0';
        *o++ = '.';
        if (dg.n > e + 1) {
            memcpy(o, dg.d + e + 1, (size_t)(dg.n - e - 1));
            o += dg.n - e - 1;
        } else {
            *o++ = '0';
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > e; i--)
            *o++ = '0';
        memcpy(o, dg.d, (size_t)dg.n);
        o += dg.n;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

size_t numfmt_fixed(char buf[NUMFMT_FIXED_SIZE], double v, int decimals)
{
    if (isnan(v))
        return copy(buf, "nan");
    if (isinf(v))
        return copy(buf, v < 0 ? "-inf" : "inf");
    if (decimals < 0)
        decimals = 0;
    if (decimals > NUMFMT_MAX_DECIMALS)
        decimals = NUMFMT_MAX_DECIMALS;
    /* glibc rounds the exact binary value, ties to even, as Python does. */
    return (size_t)snprintf(buf, NUMFMT_FIXED_SIZE, "%.*f", decimals, v);
}
