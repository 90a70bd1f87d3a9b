#include "timespan.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads the digits at *p into *n and advances *p. Returns -1 when there are none or the
 * number does not fit a long. */
static int read_number(const char **p, long *n)
{
    const char *s = *p;
    long v = 0;
    if (!is_digit(*s))
        return -1;
    for (; is_digit(*s); s++) {
        int d = *s - '0';
        if (v > (LONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *p = s;
    *n = v;
    return 0;
}

int timespan_parse(const char *s, long *seconds)
{
    static const struct { char unit; long mult; } parts[] = {{'h', 3600}, {'m', 60}, {'s', 1}};
    const char *p = s;
    long total = 0, n;
    size_t next = 0;

    if (!s || read_number(&p, &n) != 0)
        return -1;
    if (*p == '\0') {
        *seconds = n;
        return 0;
    }
    for (;;) {
        while (next < 3 && parts[next].unit != *p)
            next++;
        if (next == 3 || n > (LONG_MAX - total) / parts[next].mult)
            return -1;
        total += n * parts[next].mult;
        next++;
        p++;
        if (*p == '\0')
            break;
        if (read_number(&p, &n) != 0)
            return -1;
    }
    *seconds = total;
    return 0;
}

/* True for "2", "2.5", "2." and ".5": what --stop-timeout accepts as plain seconds. */
static bool is_decimal(const char *s)
{
    bool digits = false;
    while (is_digit(*s)) {
        s++;
        digits = true;
    }
    if (*s == '.') {
        s++;
        while (is_digit(*s)) {
            s++;
            digits = true;
        }
    }
    return digits && *s == '\0';
}

int timespan_parse_seconds(const char *s, double *out)
{
    long n;
    if (!s)
        return -1;
    if (is_decimal(s)) {
        double v = strtod(s, NULL);
        if (!isfinite(v))
            return -1;
        *out = v;
        return 0;
    }
    if (timespan_parse(s, &n) != 0)
        return -1;
    *out = (double)n;
    return 0;
}
