/* Numbers formatted the way Python prints them.
 *
 * Locust writes its CSV files and JSON from Python, and users' scripts parse what it
 * writes, so cicada prints a float exactly as Python's repr() would ("1.0", "0.1",
 * "1e-05", "1.5e+16") and fixed-point values as Python's '{:.2f}' would.
 *
 * Both functions assume the C locale for LC_NUMERIC (cicada never changes it). */
#ifndef CICADA_NUMFMT_H
#define CICADA_NUMFMT_H

#include <stddef.h>

/* Buffer sizes that always suffice: the longest repr is 24 characters
 * ("-2.2250738585072014e-308"); the longest fixed-point text is "-" + 309 integer
 * digits + "." + NUMFMT_MAX_DECIMALS digits. Both include the terminating NUL. */
#define NUMFMT_REPR_SIZE 32
#define NUMFMT_MAX_DECIMALS 20
#define NUMFMT_FIXED_SIZE 336

/* Writes Python's repr(v) into buf, NUL-terminated, and returns its length: the shortest
 * decimal that reads back as exactly v (the nearest one when several are equally short),
 * in positional notation when the decimal exponent is in [-4, 16) and as "d.ddde+XX"
 * otherwise; "nan", "inf" and "-inf" for the non-finite values. */
size_t numfmt_repr(char buf[NUMFMT_REPR_SIZE], double v);

/* Writes Python's format(v, '.<decimals>f') into buf, NUL-terminated, and returns its
 * length: v correctly rounded (ties to even on the exact binary value, so 2.675 gives
 * "2.67"); "nan", "inf", "-inf" for the non-finite values. decimals is clamped to
 * [0, NUMFMT_MAX_DECIMALS]. */
size_t numfmt_fixed(char buf[NUMFMT_FIXED_SIZE], double v, int decimals);

#endif
