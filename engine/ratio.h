/* Task ratios, as Locust's --show-task-ratio, --show-task-ratio-json and GET /tasks show
 * them: how users split across classes, and tasks within each class. */
#ifndef CICADA_RATIO_H
#define CICADA_RATIO_H

#include "json.h"
#include "sbuf.h"
#include "user.h"

/* counts[i] users of classes[i] (running counts for /tasks, or the planned distribution
 * from dispatch_ratio_counts for the command line). */

/* Locust's text: " Task ratio per User class" and " Total task ratio" trees. */
void ratio_text(sbuf *out, uclass *const *classes, const unsigned *counts, int n);

/* {"per_class": {...}, "total": {...}}; indent 4 like Python's json.dumps(indent=4), or
 * compact when indent is 0. Names are escaped with json_flags (JSON_W_ASCII as Python
 * does; add JSON_W_HTML for JSON that goes into a page). */
void ratio_json(sbuf *out, uclass *const *classes, const unsigned *counts, int n, int indent,
                unsigned json_flags);

#endif
