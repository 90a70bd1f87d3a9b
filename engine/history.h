/* The test's history, for charts and reports: one point per second, kept by the process
 * so a reloaded dashboard gets its charts back (Locust keeps them only in the browser).
 *
 * Bounded: at most HISTORY_CAP points. When the ring is full, neighbouring points merge
 * in pairs and the interval doubles (1 s, 2 s, 4 s ...), so a ten-hour test still fits,
 * at 16 s per point. Besides the Aggregated values, the average response time of the
 * first HISTORY_NAMES request names is kept, for the per-name chart. */
#ifndef CICADA_HISTORY_H
#define CICADA_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"
#include "stats.h"

#define HISTORY_CAP 3600
#define HISTORY_NAMES 50

typedef struct history_point {
    double time;            /* wall-clock end of the point's interval, Unix seconds */
    double users;           /* users running */
    double rps, fps;        /* current requests/s and failures/s (Aggregated) */
    double p50, p95;        /* current median and 95th percentile, ms; NAN when unknown */
    double avg_rt;          /* average response time over the interval, ms; NAN if none */
} history_point;

typedef struct history history;

/* An empty history. Free with history_free. */
history *history_new(void);
void history_free(history *h);

/* Forgets everything: with the statistics zeroed (a new test, or a statistics reset),
 * so that the next point counts the requests from there. */
void history_clear(history *h);

/* Adds the second ending at now. Call once a second (after stats_tick). Entries are
 * borrowed from s, which must outlive the history's use of them (stats entries live as
 * long as their stats). */
void history_sample(history *h, stats *s, double now, unsigned users);

/* Points held, oldest first, and seconds per point. */
size_t history_len(const history *h);
const history_point *history_at(const history *h, size_t i);
unsigned history_interval(const history *h);

/* Request names followed ("METHOD name"), and their average response time (ms) in point
 * i (NAN when the name had no request then). */
size_t history_names(const history *h);
const char *history_name(const history *h, size_t k);
double history_name_value(const history *h, size_t k, size_t i);

/* Writes the /stats/history object (docs/api.md) with the points whose time is > since
 * (0 for all). */
void history_write_json(const history *h, json_writer *w, double since);

#endif
