/* The local runner: Locust's state machine for one process's users
 * (LOCUST-REFERENCE.md §5).
 *
 *     ready/stopped --start--> spawning --ramp done--> running
 *     spawning/running --start (edit)--> spawning
 *     spawning/running --stop--> cleanup --all users gone--> stopped
 *
 * The ramp follows the dispatcher (dispatch.h): iterations of floor(rate) users spaced so
 * the rate holds, spawns before stops, ramp-down in reverse order of spawning. Stopping
 * honours --stop-timeout: users between tasks stop at once, users in a task get up to
 * stop_timeout seconds to finish it, then are killed; on_stop always runs, for at most
 * RUNNER_ON_STOP_GRACE seconds more.
 *
 * The runner owns the users and their memory. It knows nothing of hosts, files or the
 * web: callers prepare the scenario before runner_start and react to the hooks. */
#ifndef CICADA_RUNNER_H
#define CICADA_RUNNER_H

#include <ev.h>
#include <stdbool.h>

#include "dispatch.h"
#include "http.h"
#include "shape.h"
#include "stats.h"
#include "user.h"

#define RUNNER_ON_STOP_GRACE 10.0

enum runner_state {
    RUNNER_READY,
    RUNNER_SPAWNING,
    RUNNER_RUNNING,
    RUNNER_CLEANUP,
    RUNNER_STOPPING,
    RUNNER_STOPPED,
    RUNNER_MISSING,
};

/* Locust's state strings: "ready", "spawning", "running", "cleanup", "stopping",
 * "stopped", "missing". */
const char *runner_state_name(int state);

/* Notifications, all called on the loop. Any may be NULL. */
typedef struct runner_hooks {
    void *data;
    void (*test_start)(void *data);                 /* stats were just cleared */
    void (*spawning_complete)(void *data, unsigned user_count);
    void (*test_stop)(void *data);                  /* every user has finished */
    void (*run_time_reached)(void *data);           /* -t elapsed: stop or quit */
    void (*shape_done)(void *data);                 /* the load shape's last stage ended */
} runner_hooks;

/* A master's runner has no users of its own: every dispatch iteration is a plan for the
 * workers, which the master sends them; the users it reports are theirs. */
typedef struct runner_remote {
    void *data;
    /* The dispatcher's map changed (an iteration, a rebalance): send each worker its row
     * (dispatch_worker_users). Rows are absolute counts per class. */
    void (*plan)(void *data, const struct dispatch *d);
    /* The test is stopping: tell the workers; call runner_remote_stopped once all have
     * stopped. */
    void (*stop)(void *data);
    /* Users alive on all workers, as they last reported. */
    unsigned (*users)(void *data);
    /* An open-model test starts: give each worker its share of the rate and the cap. */
    void (*open)(void *data, const arrival *a, unsigned max_users);
} runner_remote;

typedef struct runner_config {
    double stop_timeout;    /* seconds a user in a task may take to finish it; 0 = none */
    bool reset_stats;       /* --reset-stats: reset when spawning completes */
    double run_time;        /* seconds from the start of a test; 0 = unlimited */
    const char *node;       /* "local" or a worker id (borrowed) */
    const runner_remote *remote; /* a master's runner (copied); NULL: users run here */
    bool worker;            /* a worker's runner: counts come from runner_set_counts */
} runner_config;

typedef struct runner runner;

/* Creates a runner over the given classes (borrowed; each must be prepared with
 * user_class_prepare and outlive the runner). Returns NULL with a message in err when the
 * classes cannot be dispatched (no class with a weight or fixed count, bad weights). */
runner *runner_new(struct ev_loop *loop, http *h, stats *s, uclass **classes, int nclasses,
                   const runner_config *cfg, const runner_hooks *hooks, char *err,
                   size_t errlen);

/* Kills every user at once (no on_stop) and frees everything. For the end of the process,
 * after the test has stopped. */
void runner_free(runner *r);

/* Starts a test (from ready or stopped: clears the stats first) or changes the running
 * one (spawning or running: no clear). Returns 0, or -1 with a message in err (nothing
 * changed): a rate that is not > 0, or a runner that is still stopping. */
int runner_start(runner *r, unsigned users, double spawn_rate, char *err, size_t errlen);

/* runner_start for a subset of the classes (names; the web UI's class picker): only they
 * get new users. subset NULL keeps the previous choice (all classes at first). */
int runner_start_classes(runner *r, unsigned users, double spawn_rate, char **subset,
                         size_t nsubset, char *err, size_t errlen);

/* Starts a test driven by a load shape (copied): each stage ramps to its users at its
 * spawn rate, for its classes; after the last stage the shape_done hook fires (or the
 * test stops). A runner_start during the test ends the shape and takes over. Returns -1
 * with err as runner_start does. */
int runner_start_shape(runner *r, const shape *s, char *err, size_t errlen);
/* Starts an open-model test (copied), `elapsed` seconds into it (a worker joining a
 * running test picks up the ramp where it is): iterations start at the rate a gives (times share,
 * this process's part of a distributed rate), each taken by a parked user, or by a new
 * one while fewer than max_users run (classes by weight, as the dispatcher deals them);
 * when all are busy an iteration waits in a backlog and starts late, and past the
 * backlog's bound it is dropped. Stats get the counts and the response times measured
 * from each iteration's intended start. A rate with stages ends the test after the last
 * (shape_done). Returns -1 with err for a cap of 0 or a runner still stopping. */
int runner_start_arrival(runner *r, const arrival *a, unsigned max_users, double share,
                         double elapsed, char *err, size_t errlen);
/* A worker's new part of the rate (workers joined or left). */
void runner_set_arrival_share(runner *r, double share, unsigned max_users);
/* True while an open-model test runs. */
bool runner_open(const runner *r);

/* The stage a shape-driven test is in (0-based), or -1 without a shape. */
int runner_shape_stage(const runner *r);

/* Stops the test (a no-op unless spawning or running). The state goes to cleanup, then
 * to stopped when the last user has finished (hook test_stop). */
void runner_stop(runner *r);

/* Changes the stop timeout (a /swarm or a master's spawn message may carry one). */
void runner_set_stop_timeout(runner *r, double seconds);
/* Changes the run time of the next test; 0 = none. */
void runner_set_run_time(runner *r, double seconds);
/* Ends the current test `seconds` from now (the run_time_reached hook fires then),
 * replacing any earlier limit; 0 removes the limit. */
void runner_arm_run_time(runner *r, double seconds);

/* A worker: brings the users of each class (name order, runner_class) to counts[i] at
 * once, starting a test first when none runs (stats cleared, test_start). The state is
 * spawning meanwhile and running after (spawning_complete). Returns -1 with err while the
 * previous test is still stopping. */
int runner_set_counts(runner *r, const unsigned *counts, char *err, size_t errlen);

/* A master: a worker joined. The plan is recomputed over all workers; the remote plan hook
 * gets the new map (the master moves users toward it at the spawn rate). Returns -1 with
 * err for a duplicate id. */
int runner_add_worker(runner *r, const char *id, char *err, size_t errlen);
/* A master: a worker left or went missing. The plan is recomputed over the others, which
 * take over its users (the master moves them at the spawn rate). Returns -1 with err for
 * an unknown id. */
int runner_remove_worker(runner *r, const char *id, char *err, size_t errlen);
/* The spawn rate of the latest ramp (a master paces rebalancing with it). */
double runner_spawn_rate(const runner *r);
/* A master: every worker has stopped its users (after the remote stop hook). */
void runner_remote_stopped(runner *r);
/* The dispatcher (a master reads the plan and the worker list from it). */
const struct dispatch *runner_dispatch(const runner *r);

int runner_state(const runner *r);
/* Users alive, stopping ones included (Locust's user_count). */
unsigned runner_user_count(const runner *r);
/* Target of the current ramp. */
unsigned runner_target(const runner *r);
/* Live users (not stopping) of the class at name-order index i. */
unsigned runner_class_users(const runner *r, int i);
/* Number of classes, and the class at name-order index i. */
int runner_class_count(const runner *r);
uclass *runner_class(const runner *r, int i);

#endif
