/* Thresholds: a test's pass criteria (docs/scenario.md, "Thresholds"), written as
 *
 *     [REQUEST:]METRIC OP VALUE[UNIT] [abort[=DELAY]]
 *
 * e.g. "p95<500", "GET /api/items:p99<800ms", "fail_ratio<1%", "rps>=100",
 * "checks>=0.99 abort=30s". METRIC is pN (any percentile, p50 .. p99.9 .. p100; k6's
 * p(95) too), avg or max in milliseconds (units ms, s), fail_ratio or checks (the check
 * pass rate) as a fraction or a percentage (unit %), or rps (requests per second over the
 * run). REQUEST is everything before the last ':': "METHOD name" or a bare name, which
 * takes every method of that name. OP is <, <=, > or >=.
 *
 * Evaluation reads the statistics and nothing else: a threshold whose metric has no
 * sample (no matching request, no check run) is an error, which fails like a broken
 * limit. During a test, thresholds marked abort are checked once a second after their
 * delay; one that fails then is "tripped": it keeps the value it failed with, and the
 * caller ends the test.
 *
 * The module knows nothing of the program: it parses, evaluates, describes and writes
 * JSON, and the app decides what a verdict does (exit code, reports). */
#ifndef CICADA_THRESHOLD_H
#define CICADA_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "hist.h"
#include "json.h"
#include "jsonck.h"
#include "sbuf.h"
#include "stats.h"

/* Seconds of a test before an abort threshold is first checked, unless it says. */
#define THRESHOLD_DEFAULT_DELAY 10.0

enum threshold_metric {
    THRESHOLD_PERCENTILE,   /* response time percentile, ms */
    THRESHOLD_AVG,          /* average response time, ms */
    THRESHOLD_MAX,          /* slowest response, ms */
    THRESHOLD_FAIL_RATIO,   /* failures / requests */
    THRESHOLD_RPS,          /* requests / s over the whole run */
    THRESHOLD_CHECKS,       /* checks that held / checks run (all requests) */
};

enum threshold_op { THRESHOLD_LT, THRESHOLD_LE, THRESHOLD_GT, THRESHOLD_GE };

enum threshold_status {
    THRESHOLD_PASSED,
    THRESHOLD_FAILED,
    THRESHOLD_ERROR,        /* no samples: counts as failed */
};

typedef struct threshold {
    char *text;             /* as written, trimmed (owned) */
    char *request;          /* "METHOD name" or a name; NULL = all requests (owned) */
    enum threshold_metric metric;
    double pct;             /* THRESHOLD_PERCENTILE: 0 < pct <= 1 */
    enum threshold_op op;
    double limit;           /* ms, a fraction (0..1) or requests/s */
    bool abort_on_fail;
    double delay;           /* seconds of the test before the abort check starts */
    /* The latest evaluation. */
    bool evaluated;
    enum threshold_status status;
    double value;           /* measured, in the limit's unit; meaningless on error */
    bool tripped;           /* failed during the test and ended it: value is frozen */
} threshold;

/* An ordered list of thresholds. Zero-initialised is an empty set. */
typedef struct threshold_set {
    threshold *v;           /* owned */
    size_t n;
    hist scratch;           /* merges the entries of a name that has several methods */
} threshold_set;

/* Parses one threshold from text into *out (overwritten; release with threshold_free).
 * Returns 0, or -1 with a message in err and the 0-based offset in text where the
 * problem is in *errpos ("expected <, <=, > or >= after \"p95\""). */
int threshold_parse(const char *text, threshold *out, char *err, size_t errlen,
                    size_t *errpos);
/* Releases what t owns. */
void threshold_free(threshold *t);

/* Appends a copy of t (its evaluation reset) to set. */
void threshold_set_add(threshold_set *set, const threshold *t);
/* Parses text and appends it: threshold_parse's contract. */
int threshold_set_parse(threshold_set *set, const char *text, char *err, size_t errlen,
                        size_t *errpos);
/* Appends a scenario's "thresholds" list: each item a string in the syntax above or an
 * object {"threshold": "...", "abort_on_fail": bool, "abort_delay": seconds or "30s"}.
 * Returns 0, or -1 with "file:line:col: ..." in c's buffer (a column inside a string
 * points at the character at fault). Nothing is appended on error. */
int threshold_set_load_json(threshold_set *set, jck *c, const json_value *list);
/* Forgets every evaluation and trip (a new test starts). */
void threshold_set_restart(threshold_set *set);
/* Releases everything and leaves an empty set. */
void threshold_set_free(threshold_set *set);

/* Evaluates every threshold that has not tripped against s. Returns how many are not
 * passed (failed or error). No allocation once the scratch histogram has grown. */
size_t threshold_eval(threshold_set *set, stats *s);

/* The once-a-second check during a test: evaluates the abort thresholds whose delay has
 * passed since s started counting and that have samples. The first that fails is marked
 * tripped and returned (owned by set); NULL when none fails. */
const threshold *threshold_check_abort(threshold_set *set, stats *s, double now);

/* Counts of the last evaluation: not passed (failed or error). */
size_t threshold_failed_count(const threshold_set *set);

/* "passed", "failed" or "error". */
const char *threshold_status_name(enum threshold_status st);

/* Appends one line (no newline) saying what was measured against what:
 * "p95 of all requests 123.4 ms, limit < 500 ms", "fail_ratio 2.5%, limit < 1%",
 * "no samples: no request named \"GET /x\"". t must have been evaluated. */
void threshold_describe(const threshold *t, sbuf *out);

/* Writes the set as a JSON array of {"threshold", "request", "metric", "op", "limit",
 * "unit", "abort_on_fail", "status", "value", "text"} (docs/api.md). Before any
 * evaluation status is null. */
void threshold_write_json(const threshold_set *set, json_writer *w);

#endif
