/* The end-of-run summary as JSON (--json), in the shape of newer Locust's: a list with
 * one serialized StatsEntry per request name (Aggregated left out, as Locust does),
 * indented by 4 spaces as Python's json.dumps(indent=4) writes it. docs/api.md describes
 * the fields and where cicada's numbers differ. */
#ifndef CICADA_SUMMARY_H
#define CICADA_SUMMARY_H

#include "sbuf.h"
#include "stats.h"

/* Appends the summary of s to out, with a final newline. */
void summary_json(sbuf *out, stats *s);

/* Appends the JSON text json (compact, valid) to out indented as Python's
 * json.dumps(indent=4): one member or element per line, "key": value, empty containers
 * as [] and {}. */
void summary_indent(sbuf *out, const char *json, size_t len);

#endif
