/* The console: Locust's statistics tables (LOCUST-REFERENCE.md §3.11), the final summary,
 * and the w/W/s/S keys of a headless run. */
#ifndef CICADA_CONSOLE_H
#define CICADA_CONSOLE_H

#include <ev.h>
#include <stdbool.h>

#include "sbuf.h"
#include "stats.h"
#include "threshold.h"

/* Locust's STATS_NAME_WIDTH: terminal width - 80, between 0 and 80; 80 when stderr is
 * not a terminal, so piped output is stable. */
int console_name_width(void);

/* The requests table: current rates (periodic) or whole-run rates (summary). */
void console_stats_table(sbuf *out, stats *s, double now, bool current, int name_width);
/* "Response time percentiles (approximated)" table. */
void console_percentiles(sbuf *out, stats *s, int name_width);

/* Open model: the percentiles measured from each iteration's intended start, and the
 * iterations started, late and dropped. Nothing when the test was not open. */
void console_open_model(sbuf *out, stats *s, int name_width);
/* "Error report" table; nothing when there are no failures. */
void console_error_report(sbuf *out, stats *s, int name_width);
/* "Thresholds" block after the tables: one line per threshold with its verdict (passed,
 * FAILED, or ERROR for no samples), what was measured and the limit; nothing when the set
 * is empty. The set must have been evaluated. */
void console_thresholds(sbuf *out, const threshold_set *set);

/* Keyboard control of a headless run, when stdin is a terminal: w/W add 1/10 users,
 * s/S remove 1/10. The terminal is put in non-canonical, no-echo mode until
 * console_keys_stop (also restored at exit). fn gets the change in users. */
typedef void (*console_key_fn)(void *data, int delta);
void console_keys_start(struct ev_loop *loop, console_key_fn fn, void *data);
void console_keys_stop(struct ev_loop *loop);

#endif
