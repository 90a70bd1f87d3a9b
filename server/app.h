/* One cicada process: the loop and everything on it (stats, HTTP, runner, output
 * writers, timers, signals), wired the way the options ask.
 *
 * main.c handles the commands that do not run a test (--help, --list, ...); everything
 * else is an app: app_new sets it up and refuses bad input before anything is sent,
 * app_run runs the loop until the test ends or is interrupted, app_finish writes every
 * output and returns the exit code. */
#ifndef CICADA_APP_H
#define CICADA_APP_H

#include <stddef.h>

#include "opt.h"
#include "scenario.h"

typedef struct app app;

/* The exit code of a test that failed a threshold (or has one with no samples): distinct
 * from --exit-code-on-error's "there were failures" (1) and from usage errors (2). It
 * wins over the failures code; a worker's or a master's own failure code wins over it. */
#define APP_EXIT_THRESHOLDS 3

/* Builds the app for options o and the loaded scenario (both borrowed; they must outlive
 * the app). Returns NULL with a one-line message in err and *exit_code set (1 for a bad
 * setting such as an unwritable --csv path or a relative URL without a host). */
app *app_new(struct options *o, scenario *sc, char *err, size_t errlen, int *exit_code);

/* Starts the test (headless) and runs the loop until the process should end. */
void app_run(app *a);

/* Prints the summary, closes output files, frees everything; returns the exit code. */
int app_finish(app *a);

#endif
