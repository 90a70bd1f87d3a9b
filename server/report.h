/* The HTML report (--html FILE, GET /stats/report): one self-contained file with the run
 * summary, request statistics, percentiles, failures, exceptions, charts over time and
 * task ratios. Chart.js is inlined once and the data rides along as compact JSON; every
 * string is inserted by the page's script as text, never as HTML. */
#ifndef CICADA_REPORT_H
#define CICADA_REPORT_H

#include <stdbool.h>

#include "history.h"
#include "runner.h"
#include "sbuf.h"
#include "scenario.h"
#include "stats.h"
#include "health.h"
#include "master.h"
#include "threshold.h"

typedef struct report_input {
    stats *stats;
    history *history;
    const scenario *scenario;
    const runner *runner;       /* may be NULL */
    const char *host;           /* may be NULL */
    unsigned planned_users;     /* for task ratios when no user runs */
    bool show_download_link;
    double now;
    const threshold_set *thresholds; /* evaluated; NULL or empty: none */
    const health *health;       /* the generator's measurements; may be NULL */
    master *master;             /* workers' CPU on a master; may be NULL */
} report_input;

/* Appends the report to out. Returns 0, or -1 when this build lacks the report template
 * (out then holds a one-line explanation). */
int report_render(sbuf *out, const report_input *in);

/* Writes the report to path (replacing it atomically: a temporary file, then rename).
 * Returns 0, or -1 with "--html PATH: reason" in err. */
int report_write(const char *path, const report_input *in, char *err, size_t errlen);

/* Checks, before a test starts, that path can be written (it is created empty, and
 * removed again if it did not exist). Returns 0 or -1 with a message in err. */
int report_check_path(const char *path, char *err, size_t errlen);

#endif
