/* Request statistics, as Locust keeps them (LOCUST-REFERENCE.md §3), fed by one event per
 * finished request.
 *
 * - One entry per (method, name) plus the Aggregated entry, which sees every request.
 * - Failures keyed by (method, name, error text) with occurrence counts; exceptions keyed by
 *   (message, traceback) with counts and the nodes they came from.
 * - Per-second request/failure counters for "current" rates, and once-a-second histogram
 *   snapshots for "current" percentiles (Locust's ~10 s window).
 *
 * Differences from Locust, on purpose: times are kept in microseconds (integers) and
 * histograms have <1% error instead of 2 significant digits; percentiles and the median
 * are clamped to the exact [min, max]; current rates are anchored at `now`, so they fall to
 * zero when traffic stops; the number of distinct names is capped.
 *
 * Entries are never freed while the stats live: a new test (stats_clear) zeroes and hides
 * them, so a stats_entry pointer cached by a scenario step stays valid for the whole
 * process. Single-threaded: everything runs on the engine's loop. Times ("now") are wall
 * clock seconds (ev_now), which also name the per-second buckets. */
#ifndef CICADA_STATS_H
#define CICADA_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define STATS_SEC_RING 16     /* per-second counters kept (power of two) */
#define STATS_SNAPS 20        /* seconds of histogram snapshots (Locust keeps 20) */
#define STATS_WINDOW 10       /* current-percentile window, seconds */
#define STATS_DEFAULT_MAX_NAMES 10000
#define STATS_MAX_ERRORS 5000 /* distinct failure keys; more are grouped */
#define STATS_MAX_EXCEPTIONS 1000
#define STATS_OTHER_NAME "(other names)"
#define STATS_OTHER_ERROR "(more distinct errors than cicada keeps)"

/* Locust's percentile lists (stats.py PERCENTILES_TO_REPORT). */
#define STATS_NPCT 11
extern const double stats_percentiles[STATS_NPCT];
/* Their column labels: "50%", "66%", ..., "99.9%", "99.99%", "100%". */
extern const char *const stats_percentile_labels[STATS_NPCT];

typedef struct stats_sec {
    uint32_t sec;   /* wall-clock second this slot counts */
    uint32_t reqs;
    uint32_t fails;
} stats_sec;

typedef struct stats_snap {
    uint32_t sec;           /* 0 = unused */
    uint64_t num_requests;
    hist h;
} stats_snap;

/* The timing breakdown's phases (http.h's enum http_phase, in the same order): DNS,
 * connect, TLS, time to first byte, transfer. */
#define STATS_NPHASES 5
/* Their names in the API and the wire protocol: "dns", "connect", "tls", "ttfb",
 * "transfer". */
extern const char *const stats_phase_names[STATS_NPHASES];

/* Where the requests' time went: per phase a sum and a histogram (microseconds), over the
 * requests logged with a breakdown. Exact to merge, like the response-time histogram. */
typedef struct stats_timing {
    uint64_t count;                     /* requests with a breakdown */
    uint64_t total_us[STATS_NPHASES];
    hist hist[STATS_NPHASES];
} stats_timing;

typedef struct stats_entry {
    char *method;           /* owned; "" for Aggregated */
    char *name;             /* owned */
    uint32_t index;         /* position in stats.entries; UINT32_MAX for Aggregated */
    bool visible;           /* false after stats_clear until its next request */
    uint64_t num_requests;  /* every request, failures included */
    uint64_t num_none_requests; /* requests logged without a response time */
    uint64_t num_failures;
    uint64_t total_rt_us;   /* sum over requests with a time */
    uint64_t min_rt_us;     /* UINT64_MAX until the first timed request */
    uint64_t max_rt_us;
    uint64_t total_content_length;
    double start_time;      /* when counting started (creation, reset or clear) */
    double last_request_ts; /* 0 = no request yet */
    hist hist;
    hist co_hist;           /* open model: response time plus the delay of its iteration's
                             * start, so a slow target cannot hide behind fewer requests */
    stats_sec secs[STATS_SEC_RING];
    stats_snap *snaps;      /* owned; STATS_SNAPS slots, or NULL when not windowed */
    stats_timing timing;    /* the breakdown of the requests' times (stats_log_timing) */
} stats_entry;

typedef struct stats_error {
    stats_entry *entry;     /* borrowed; the (method, name) the failure belongs to */
    char *error;            /* owned error text */
    uint64_t occurrences;
    double first_seen, last_seen;
} stats_error;

typedef struct stats_exception {
    char *msg;              /* owned */
    char *traceback;        /* owned: where it happened */
    char *nodes;            /* owned: ", "-joined node ids ("local", worker ids) */
    uint64_t count;
} stats_exception;

typedef struct stats stats;

/* Creates empty statistics. max_names caps distinct (method, name) entries; requests
 * beyond it count under STATS_OTHER_NAME, with one warning in the log. window_all keeps
 * current-percentile snapshots for every entry (--csv-full-history needs them); the
 * Aggregated entry always has them. Free with stats_free. */
stats *stats_new(size_t max_names, bool window_all, double now);
void stats_free(stats *s);

/* The Aggregated entry (owned by s). */
stats_entry *stats_total(stats *s);

/* Finds or creates the entry for (method, name). The returned pointer stays valid until
 * stats_free. Strings are copied. */
stats_entry *stats_entry_get(stats *s, const char *method, const char *name, double now);

/* Logs one request into e and the Aggregated entry: rt_us < 0 means "no response time"
 * (counted, but not in times); error NULL means success, otherwise a failure with that
 * text (copied into the failures table when new). */
void stats_log(stats *s, stats_entry *e, double now, int64_t rt_us, uint64_t bytes,
               const char *error);

/* Logs one request's timing breakdown (microseconds per phase, adding up to its response
 * time) into e and the Aggregated entry; called right after stats_log for the same
 * request. A few additions and one histogram increment per phase. */
void stats_log_timing(stats *s, stats_entry *e, const uint64_t phase_us[STATS_NPHASES]);

/* Records an exception raised by task code (a step that could not run). node is "local"
 * or a worker id. Returns how many times this (msg, traceback) has now been seen. */
uint64_t stats_log_exception(stats *s, const char *msg, const char *traceback,
                             const char *node);

/* stats_log_exception for count occurrences at once (a worker's report, node being the
 * worker's id). Returns the new total for (msg, traceback). */
uint64_t stats_merge_exception(stats *s, const char *msg, const char *traceback,
                               const char *node, uint64_t count);

/* Adds count occurrences of an already-counted failure (the master merging a worker's
 * report; the requests themselves arrive through stats_merge_entry). */
void stats_add_error(stats *s, stats_entry *e, const char *error, uint64_t occurrences,
                     double now);

/* Once a second: takes the histogram snapshots the current percentiles are measured
 * against (a copy of each windowed entry's allocated chunks: Aggregated only, unless
 * window_all). */
void stats_tick(stats *s, double now);

/* Locust's reset_all (--reset-stats, /stats/reset): zero every entry but keep them listed,
 * drop failures; drop exceptions too when with_exceptions. */
void stats_reset(stats *s, double now, bool with_exceptions);
/* Locust's clear_all (a new test): zero and hide every entry, drop failures and
 * exceptions. */
void stats_clear(stats *s, double now);

/* Derived values (LOCUST-REFERENCE.md §3.2); times in milliseconds. */
double stats_avg_rt_ms(const stats_entry *e);
double stats_min_rt_ms(const stats_entry *e);      /* 0 without requests */
double stats_max_rt_ms(const stats_entry *e);
double stats_avg_content_length(const stats_entry *e);
double stats_fail_ratio(const stats_entry *e);
/* Whole-run rates: count / (Aggregated last request - Aggregated start). */
double stats_total_rps(stats *s, const stats_entry *e);
double stats_total_fail_per_sec(stats *s, const stats_entry *e);
/* Current rates: mean over the whole seconds in [now-12, now-2), not before the start. */
double stats_current_rps(stats *s, const stats_entry *e, double now);
double stats_current_fail_per_sec(stats *s, const stats_entry *e, double now);

/* Average of phase p (0 .. STATS_NPHASES-1) over the requests with a breakdown, in
 * milliseconds; 0 without any. */
double stats_phase_avg_ms(const stats_entry *e, int p);
/* Percentiles of phase p (ps ascending) in microseconds, within 1% (the histogram's
 * resolution); 0 without any. */
void stats_phase_percentiles_us(const stats_entry *e, int p, const double *ps, int n,
                                uint64_t *out);

/* Whole-run percentile / median in microseconds, clamped to [min, max]; 0 when empty. */
uint64_t stats_percentile_us(const stats_entry *e, double p);
uint64_t stats_median_us(const stats_entry *e);
/* Several whole-run percentiles at once (ps ascending), clamped like the above. */
void stats_percentiles_us(const stats_entry *e, const double *ps, int n, uint64_t *out);
/* Percentile over about the last STATS_WINDOW seconds (Locust's current percentile).
 * Returns false when there is no snapshot to measure from (Locust's None). */
bool stats_current_percentile_us(const stats_entry *e, double now, double p, uint64_t *out);

/* Microseconds to whole milliseconds, rounding half to even as Python's round() does.
 * Every integer millisecond cicada prints goes through this, so Min <= Median <= p100 <=
 * Max also holds in the printed numbers. */
uint64_t stats_us_to_ms(uint64_t us);

/* Visible entries sorted by (name, method), Aggregated excluded. The array is owned by s
 * and valid until the next call that adds or hides entries. */
stats_entry *const *stats_sorted(stats *s, size_t *n);

/* Failures sorted by (name, method, error). Owned by s; valid until the next stats call
 * that logs, resets or clears. */
stats_error *const *stats_errors(stats *s, size_t *n);
/* Total failure occurrences in the table. */
uint64_t stats_error_count(stats *s);

/* Counts scenario checks: run evaluated, failed of them did not hold (a master adds a
 * worker's report the same way). Zeroed by stats_reset and stats_clear, like failures;
 * the check pass rate of a threshold is 1 - failed/run. */
void stats_log_checks(stats *s, uint64_t run, uint64_t failed);
/* The counts since the last reset. */
void stats_checks(const stats *s, uint64_t *run, uint64_t *failed);

/* Exceptions in the order first seen. Owned by s, same validity as stats_errors. */
stats_exception *const *stats_exceptions(stats *s, size_t *n);

/* Merges a worker's delta for one entry into (method, name) and the Aggregated entry is
 * NOT touched (the worker sends its own total, merged with stats_merge_total). */
void stats_merge_entry(stats *s, const stats_entry *delta, double now);
/* Merges a worker's Aggregated delta into the Aggregated entry. */
void stats_merge_total(stats *s, const stats_entry *delta);

/* Open model: records a response time measured from the iteration's intended start into
 * e's and the Aggregated entry's co_hist. */
void stats_log_corrected(stats *s, stats_entry *e, int64_t us);
/* Open model: iterations started (on time or late), of which late (they waited for a free
 * user), and dropped (never started: no user free, the backlog full or the test over). */
void stats_log_iterations(stats *s, uint64_t started, uint64_t late, uint64_t dropped);
void stats_iterations(const stats *s, uint64_t *started, uint64_t *late, uint64_t *dropped);

/* Bytes the statistics hold (entries, histograms, tables, failures, exceptions), without
 * the allocator's overhead. */
size_t stats_memory(stats *s);
/* Distinct (method, name) entries, the overflow ones included. */
size_t stats_entry_count(const stats *s);

#endif
