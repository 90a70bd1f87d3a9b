/* The JUnit XML file (--junit FILE) for CI servers: one test case per threshold, failed
 * with the threshold's description as message, and one for request failures when they
 * decide the exit code. The file says what the exit code says. */
#ifndef CICADA_JUNIT_H
#define CICADA_JUNIT_H

#include <stdbool.h>
#include <stddef.h>

#include "sbuf.h"
#include "stats.h"
#include "threshold.h"

typedef struct junit_input {
    const threshold_set *thresholds; /* evaluated (threshold_eval); borrowed */
    stats *stats;                    /* for the failures test case; borrowed */
    bool failures_case;              /* add "no request failures" (--exit-code-on-error
                                      * is not 0) */
    const char *suite;               /* the suite's name (the scenario file); borrowed */
    double start;                    /* epoch seconds the test started */
    double duration;                 /* seconds */
} junit_input;

/* Appends the XML document to out. */
void junit_render(sbuf *out, const junit_input *in);

/* Writes the file, replacing it atomically (a temporary file, then rename). Returns 0,
 * or -1 with "--junit PATH: reason" in err. */
int junit_write(const char *path, const junit_input *in, char *err, size_t errlen);

/* Checks before a test starts that path can be written (it is created empty, and removed
 * again if it did not exist). Returns 0, or -1 with "--junit PATH: reason" in err. */
int junit_check_path(const char *path, char *err, size_t errlen);

#endif
