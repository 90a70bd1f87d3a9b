/* Locust's statistics CSV files (LOCUST-REFERENCE.md §4), byte-compatible: same names,
 * header rows, column order, number formats (Python's), CRLF line ends and minimal
 * quoting, so pipelines that parse Locust's files parse ours.
 *
 * One difference on purpose: Locust flushes every 10 s and never at exit, so short runs
 * and interrupted runs lose rows. csv_writer_close writes a final snapshot and fsyncs. */
#ifndef CICADA_CSV_H
#define CICADA_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "sbuf.h"
#include "stats.h"

/* Appends one field, quoted when it holds a comma, a quote, CR or LF (csv.QUOTE_MINIMAL). */
void csv_field(sbuf *b, const char *s, bool last);

/* The requests table (header + one row per entry + Aggregated), as _stats.csv and
 * /stats/requests/csv. */
void csv_requests(sbuf *out, stats *s);
/* The failures table (_failures.csv, /stats/failures/csv). */
void csv_failures(sbuf *out, stats *s);
/* The exceptions table (_exceptions.csv, /exceptions/csv). */
void csv_exceptions(sbuf *out, stats *s);
/* The history header, and the rows for one second (Aggregated only, or every entry then
 * Aggregated with current percentiles when full). */
void csv_history_header(sbuf *out);
void csv_history_rows(sbuf *out, stats *s, double now, unsigned user_count, bool full);

typedef struct csv_writer csv_writer;

/* Creates PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv and
 * PREFIX_exceptions.csv with their headers. Returns NULL with "--csv PREFIX_stats.csv: reason"
 * in err when a file cannot be written (existing files are left as they were, new ones
 * removed), so the run can refuse to start. */
csv_writer *csv_writer_open(const char *prefix, bool full_history, char *err, size_t errlen);

/* Once a second: rewrites the three tables (a temporary file, then a rename) and appends
 * the history rows. Write errors (disk full) are logged once per file and counted, never
 * fatal: a table keeps its last complete version, the history only whole rows. */
void csv_writer_tick(csv_writer *w, stats *s, double now, unsigned user_count);

/* Writes the final tables and a last history row, fsyncs and closes every file. Returns
 * 0, or -1 if any write of the run failed (each such file is named in a log line). */
int csv_writer_close(csv_writer *w, stats *s, double now, unsigned user_count);

/* Path of PREFIX_stats_history.csv (owned by the writer). */
const char *csv_writer_history_path(const csv_writer *w);

#endif
