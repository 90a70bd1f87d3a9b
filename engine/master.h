/* A master: owns the plan, the workers and the merged statistics (docs/protocol.md).
 *
 * The master's runner (runner.h, remote mode) decides how many users of each class run
 * on each worker; this module carries those plans to the workers over a ZeroMQ ROUTER,
 * with the scenario's files in the first order of each test, and keeps the worker table:
 *   - a hello of another protocol version is refused, with the reason, on both sides;
 *   - a worker silent for `heartbeat_timeout` seconds is "missing": it leaves the plan and
 *     the others take over its users at the spawn rate; a heartbeat brings it back;
 *   - each heartbeat is answered, so workers can tell a dead master;
 *   - stats reports are merged into the master's statistics (exactly: histograms merge
 *     bucket by bucket), exceptions under the worker's id;
 *   - malformed messages are logged (once per worker and kind) and dropped.
 * Everything runs on the engine's loop. */
#ifndef CICADA_MASTER_H
#define CICADA_MASTER_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner.h"
#include "scenario.h"
#include "stats.h"

typedef struct master_config {
    const char *bind_host;      /* "*" or an interface (borrowed) */
    int bind_port;
    double heartbeat_timeout;   /* seconds of silence before a worker is missing */
    double missing_forget;      /* seconds a missing worker stays listed */
    const char *version;        /* cicada's version, for the log */
} master_config;

/* What the master tells the program. Any may be NULL. */
typedef struct master_hooks {
    void *data;
    void (*workers_changed)(void *data);            /* joined, left, missing, back */
    /* The last worker left a running test. refused: it could not run the test (its
     * scenario did not load there; why says its error), a failed start, not an end. */
    void (*no_workers)(void *data, const char *why, bool refused);
    void (*end_test)(void *data, const char *reason); /* a worker's task ended the test */
} master_hooks;

/* What a spawn order says besides the counts: the test's settings, all borrowed and read
 * when a test starts. */
typedef struct master_test {
    const char *host;           /* --host or the web form's; NULL: the scenario's */
    double stop_timeout;
    char **classes;             /* class selection, tags, as the master loaded them */
    int nclasses;
    char **tags;
    int ntags;
    char **exclude_tags;
    int nexclude_tags;
    bool equal_weights;
} master_test;

/* One worker as the dashboard shows it (master_workers). */
typedef struct master_worker_info {
    const char *id;
    const char *host;
    const char *state;          /* ready, spawning, running, stopping, missing */
    unsigned index;
    unsigned user_count;
    double cpu;                 /* % of one core over the last heartbeat interval */
    uint64_t rss;               /* bytes */
    double heartbeat_age;       /* seconds since it was last heard from */
} master_worker_info;

typedef struct master master;

/* Binds the ROUTER. sc (borrowed) names the files sent to workers. Returns NULL with one
 * line in err when the port cannot be bound. */
master *master_new(struct ev_loop *loop, stats *s, const scenario *sc, const master_config *cfg,
                   const master_hooks *hooks, char *err, size_t errlen);

/* The remote hooks for the master's runner (runner_config.remote); then master_set_runner
 * with the runner made from them. */
runner_remote master_remote(master *m);
void master_set_runner(master *m, runner *r);

/* A new test begins (the runner's test_start): settings for its spawn orders. */
void master_test_start(master *m, const master_test *t);

/* Workers that can take users (ready, spawning or running). */
unsigned master_worker_count(const master *m);

/* The table as of now, in index order: fills up to max entries, returns how many there
 * are. Strings are owned by the master, valid until the next loop iteration. */
size_t master_workers(master *m, master_worker_info *out, size_t max);

/* The highest CPU % a live worker reported in its last heartbeat (0 without workers). */
double master_worker_cpu_peak(const master *m);

/* Sends quit to every worker (the master is ending). */
void master_quit_workers(master *m);

/* Frees everything (after master_quit_workers, the messages get up to 1 s to leave). */
void master_free(master *m);

#endif
