/* Test data: rows from CSV or JSON-lines files that users draw from.
 *
 *     "data": {"accounts": {"file": "accounts.csv", "mode": "unique",
 *                           "on_exhausted": "stop_user"}}
 *
 * A source is loaded once and shared by all users (strings live in one block). Modes:
 * - sequential: rows in file order across all users, wrapping around ("recycle") or
 *   running out ("stop_user", "stop_test");
 * - random: any row, each time;
 * - unique: no two live users hold the same row (login accounts); a row goes back to the
 *   pool when its user stops; when all are held, the next user cannot get one.
 * In distributed runs each worker loads only its share of the rows (row i goes to worker
 * i % workers), so unique rows are never held twice across workers. */
#ifndef CICADA_DATA_H
#define CICADA_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum data_mode { DATA_SEQUENTIAL, DATA_RANDOM, DATA_UNIQUE };
enum data_exhausted { DATA_RECYCLE, DATA_STOP_USER, DATA_STOP_TEST };

typedef struct data_source data_source;

/* Loads path (".csv": a header row names the columns, RFC 4180 quoting; ".jsonl" or
 * ".ndjson": one JSON object per line, its keys the columns, a line lacking a key holding
 * an empty string there) keeping the rows with
 * index % workers == worker. Returns NULL with "path:line: reason" in err (unreadable
 * file, ragged CSV row, a line that is not an object, no rows, no columns). */
data_source *data_load(const char *name, const char *path, enum data_mode mode,
                       enum data_exhausted on_exhausted, unsigned worker, unsigned workers,
                       char *err, size_t errlen);
void data_free(data_source *d);

const char *data_name(const data_source *d);
size_t data_rows(const data_source *d);
enum data_mode data_mode_of(const data_source *d);
enum data_exhausted data_on_exhausted(const data_source *d);

/* Column index by name, or -1. */
int data_column(const data_source *d, const char *name);
size_t data_columns(const data_source *d);
const char *data_column_name(const data_source *d, size_t c);

/* Takes a row for a user: the next (sequential), any (random) or a free one (unique).
 * Returns the row index, or -1 when none is left (sequential without recycling that has
 * gone through every row; unique with every row held). */
long data_take(data_source *d);
/* Gives a unique row back (no-op for other modes). */
void data_release(data_source *d, long row);

/* A cell: the text of row r, column c (JSON-lines values that are not strings keep their
 * JSON text; *json tells which). Owned by the source. */
const char *data_cell(const data_source *d, long r, size_t c, size_t *len, bool *json);

/* Rows held right now (unique mode), for tests and the dashboard. */
size_t data_held(const data_source *d);

#endif
