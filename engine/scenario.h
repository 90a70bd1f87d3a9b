/* Scenario files: user classes and their tasks in JSON (docs/scenario.md).
 *
 * Loading validates everything before anything runs: an unknown key, a wrong type or an
 * impossible value is one error line naming file:line:column, and the test does not
 * start. The result is a set of user classes (user.h) whose tasks are compiled programs
 * for the interpreter (interp.h). */
#ifndef CICADA_SCENARIO_H
#define CICADA_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#include "sbuf.h"
#include "shape.h"
#include "threshold.h"
#include "user.h"

#define SCENARIO_DEFAULT_FILE "locustfile.json"
#define SCENARIO_DEFAULT_TIMEOUT 60.0

/* Selection and filtering, from the command line. Arrays are borrowed. */
typedef struct scenario_opts {
    char **classes;         /* positional class names; none = all */
    int nclasses;
    char **tags;            /* -T: keep tasks with at least one of these */
    int ntags;
    char **exclude_tags;    /* -E: drop tasks with any of these */
    int nexclude_tags;
    bool equal_weights;     /* --equal-weights */
    bool list_only;         /* --list: every class loads; none is selected or filtered, so
                             * run is empty (Locust lists before it checks either) */
    unsigned worker_index;  /* {{worker_index}}: the index the master gave this worker */
    unsigned data_slot;     /* this process's share of the test data: rows i with */
    unsigned data_slots;    /* i % data_slots == data_slot (0 means 1: every row) */
    const char *root;       /* NULL, or the directory a worker keeps the master's files in:
                             * absolute paths in the scenario are taken under it */
} scenario_opts;

typedef struct scenario {
    char *files;            /* the -f value, for reports */
    uclass *all;            /* every class, in file order (for --list) */
    int nall;
    uclass **run;           /* the classes to run: selected, filtered, in file order */
    int nrun;
    struct data_source **sources; /* test data of every file (owned) */
    int nsources;
    sbuf deps;              /* every file loading read (scenarios first), absolute, each
                             * NUL-terminated: what a master sends its workers */
    shape shape;            /* "stages": a load shape (n == 0: none) */
    arrival arrival;        /* "arrival_rate": an open model (on == false: none) */
    struct cicada_registry **plugins; /* C locustfiles' registries (owned) */
    int nplugins;
    threshold_set thresholds; /* "thresholds" of every file, in order (docs/scenario.md) */
} scenario;

/* Finds the scenario file: an explicit -f list is returned as given (checked when
 * loading); the default "locustfile.json" is looked for in the current directory and
 * its parents, as Locust looks for locustfile.py. Returns a new string or NULL with the
 * error in err. */
char *scenario_find(const char *arg, bool is_default, char *err, size_t errlen);

/* Loads one file or a comma-separated list. Returns NULL with one line in err:
 * "file:line:col: message", or Locust's "Unknown User(s): X" for a selection that names
 * no class. Warnings (a class left with no task after tag filtering) go to the log. */
scenario *scenario_load(const char *paths, const scenario_opts *o, char *err, size_t errlen);

/* Resolves every request URL against host_override (--host, the web form), else the
 * class's host, else its file's host. Call before each test. Returns 0, or -1 with
 * "file:line:col: ..." in err for a relative URL with no host. */
int scenario_resolve(scenario *sc, const char *host_override, char *err, size_t errlen);

/* What to call when test data runs out and its source says "stop_test" (called from a
 * user's task: the callee must not stop users synchronously). */
void scenario_set_stop_test(scenario *sc, void (*fn)(void *data, const char *reason),
                            void *data);

/* The host a report shows: host_override, else the one host all classes to run share,
 * else NULL. Owned by the scenario or the caller's override. */
const char *scenario_host(const scenario *sc, const char *host_override);

void scenario_free(scenario *sc);

#endif
