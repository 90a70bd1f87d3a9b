/* HAR import (--from-har): turns a flow recorded in a browser's developer tools (HAR 1.2,
 * "Save all as HAR") into a scenario file that replays it (docs/har.md).
 *
 * One user class "Recorded" runs one task per recorded page, in recorded order; the
 * requests keep their method, URL, query and body, a few headers (Accept, Authorization,
 * X-*, and Content-Type with a body) and their pacing ({"think": s} steps). Static assets,
 * non-HTTP URLs and requests the replay makes by itself (redirects it follows) are left
 * out. The output is pretty-printed JSON that scenario_load accepts as it is. */
#ifndef CICADA_HAR_H
#define CICADA_HAR_H

#include <stdbool.h>
#include <stddef.h>

#include "sbuf.h"

typedef struct har_opts {
    bool keep_static;       /* --har-static: keep scripts, styles, images, fonts, media */
} har_opts;

/* What a conversion kept and left out. */
typedef struct har_report {
    int requests;           /* request steps written */
    int tasks;              /* tasks written (one per page, plus "requests") */
    int static_skipped;     /* static assets left out (always 0 with keep_static) */
    int other_skipped;      /* data:, blob: and other non-HTTP URLs */
    int redirects_skipped;  /* requests a followed redirect makes again by itself */
    sbuf warnings;          /* one line per request skipped or altered, each ending in '\n',
                             * e.g. "shop.har: entry 7: skipped: ..."; owned */
} har_report;

/* Converts the HAR file at path. Returns the scenario text (NUL-terminated, ending in a
 * newline; the caller frees it), or NULL with one line in err naming the file and the
 * place: "rec.har:3:5: expected ..." for a syntax error, "rec.har:40:7: entry 12: request
 * has no \"url\"" for a malformed entry (entries count from 1), "rec.har: no requests to
 * replay ..." when nothing is left. *rep is overwritten (not freed) first and filled in
 * both cases; release it with har_report_free. */
char *har_convert(const char *path, const har_opts *o, har_report *rep, char *err,
                  size_t errlen);

/* Appends one line (without '\n') summing up *rep for the console, e.g. "wrote 12
 * requests in 3 tasks; left out 8 static assets (--har-static keeps them)". */
void har_summary(const har_report *rep, sbuf *out);

/* Frees what *rep owns and zeroes it. */
void har_report_free(har_report *rep);

#endif
