/* The statistics as JSON, in Locust's shapes (docs/api.md): shared by the web API and the
 * HTML report, so both show the same numbers. */
#ifndef CICADA_STATSJSON_H
#define CICADA_STATSJSON_H

#include "health.h"
#include "json.h"
#include "master.h"
#include "runner.h"
#include "scenario.h"
#include "stats.h"
#include "threshold.h"

/* Most rows and errors /stats/requests lists, as Locust (the CSVs have everything). */
#define STATSJSON_MAX_ROWS 500

/* The whole /stats/requests object. runner may be NULL (then state "ready", 0 users);
 * thresholds may be NULL (an empty "thresholds" array). */
void statsjson_requests(json_writer *w, stats *s, const runner *r, master *m,
                        const threshold_set *thresholds, const health *h, double now);

/* The "generator" object: CPU, loop lag, the open model's iterations and whether the
 * generator limited the test (h may be NULL: nothing measured). */
void statsjson_generator(json_writer *w, stats *s, const health *h, master *m);

/* One row of "stats" (also the report's rows). */
void statsjson_row(json_writer *w, stats *s, const stats_entry *e, double now);

/* The "errors" array. */
void statsjson_errors(json_writer *w, stats *s);

/* The "exceptions" array (the value of /exceptions' key). */
void statsjson_exceptions(json_writer *w, stats *s);

/* The /tasks object: ratios from the users running, or from the planned distribution of
 * `planned` users when none run (0: Locust's default, the sum of the weights). */
void statsjson_tasks(json_writer *w, const scenario *sc, const runner *r, unsigned planned);

#endif
