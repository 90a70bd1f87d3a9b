/* Simulated users: Locust's lifecycle on coroutines.
 *
 *     on_start -> loop { pick a task (by weight, or in order) -> run it -> wait_time }
 *              -> on_stop when stopped
 *
 * A task, on_start and on_stop run as a coroutine (coro.h) holding a pooled stack; between
 * tasks a user is only this struct, its CURL handle and a timer. Task code calls the
 * functions marked "suspends" below, which return when the network or the timer is done;
 * everything else (submitting to curl, timers) happens on the loop's stack.
 *
 * This is the internal API both the JSON scenario interpreter and C plugins program
 * against, so the two cannot drift apart.
 *
 * Stopping (Locust's rules, LOCUST-REFERENCE.md §5.4): user_stop lets a user in a task
 * finish it; user_kill cancels whatever it waits for at once (its suspending calls then
 * return USER_CANCELLED and must make the task return). on_stop runs in both cases. */
#ifndef CICADA_USER_H
#define CICADA_USER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "stats.h"

typedef struct user user;
typedef struct uclass uclass;

/* Task body: runs on the user's coroutine. data is the task's own (the interpreter's
 * compiled steps, a plugin's pointer). */
typedef void (*task_fn)(user *u, void *data);

typedef struct utask {
    char *name;             /* shown in ratios and exception locations */
    int weight;             /* >= 1 */
    char **tags;
    int ntags;
    task_fn fn;             /* NULL for an absent on_start/on_stop */
    void *data;             /* borrowed from the class's owner */
} utask;

enum wait_kind {
    WAIT_CONSTANT,          /* a seconds */
    WAIT_BETWEEN,           /* uniform in [a, b] */
    WAIT_PACING,            /* task starts every a seconds (constant_pacing) */
    WAIT_THROUGHPUT,        /* a task starts per second per user (constant_throughput) */
};

typedef struct wait_spec {
    enum wait_kind kind;
    double a, b;
} wait_spec;

/* A user class. Built by the scenario loader (or a plugin), which owns the strings and
 * task data; the runner reads it; user_class_prepare fills the runtime fields. */
struct uclass {
    char *name;
    int weight;             /* >= 0 */
    int fixed_count;        /* > 0: exactly this many users, weight ignored */
    char *host;             /* base URL override, or NULL */
    char *base_host;        /* where relative URLs go this test (scenario_resolve, owned by
                             * the scenario: a --host from a message outlives it), or NULL */
    size_t context_size;    /* C classes: per-user memory for cicada_context */
    wait_spec wait;
    bool sequential;        /* tasks in order (each repeated `weight` times) */
    utask *tasks;
    int ntasks;
    utask on_start, on_stop;
    void *data;             /* owner's per-class data */
    /* Called when a user of the class has finished (after on_stop), before the runner
     * reuses its struct: frees what the owner keeps in user.vars. May be NULL. */
    void (*user_cleanup)(user *u);
    /* runtime */
    int order;              /* position in name order (the runner's class index) */
    uint32_t *cum_weight;   /* owned; prefix sums for weighted choice */
    uint32_t total_weight;
    int count;              /* live users of this class */
};

/* Prepares the runtime fields (call once after the tasks are final). */
void user_class_prepare(uclass *c);
/* Frees the runtime fields. */
void user_class_release(uclass *c);

/* What every user needs from its surroundings. Owned by the runner. */
typedef struct user_env {
    struct ev_loop *loop;
    http *http;
    stats *stats;
    const char *node;       /* "local" or this worker's id, for exceptions */
    /* Called once when a user has finished (on_stop done); the callee owns u again. */
    void (*on_dead)(struct user_env *env, user *u);
    /* Open model (NULL: closed, wait_time between tasks). Called when a user finished a
     * task: true with *intended set runs another iteration now (one that waited for a
     * free user); false parks the user until user_iterate. */
    bool (*next_iteration)(struct user_env *env, user *u, double *intended);
    /* internal: users whose start waits for a later loop iteration (user_start) */
    user *start_head, *start_tail;
    ev_timer start_timer;
    unsigned start_iter, started;
} user_env;

enum user_state { USER_IDLE, USER_STARTING, USER_WAITING, USER_IN_TASK, USER_STOPPING,
                  USER_DEAD };

/* Return codes of suspending calls. */
enum { USER_OK = 0, USER_CANCELLED = -2, USER_FAILED = -1 };

struct coro;

struct user {
    ev_timer timer;         /* wait_time and sleeps; first member (container_of) */
    http_client http;       /* this user's CURL handle */
    user_env *env;
    uclass *cls;
    struct coro *co;        /* the running task / on_start / on_stop, or NULL */
    const utask *task;      /* what co runs */
    uint32_t index;         /* 1-based, unique among live users */
    uint8_t state;          /* enum user_state */
    uint8_t op;             /* what the coroutine waits for (internal) */
    bool stop_requested;    /* graceful stop: end after this task */
    bool killed;            /* cancel everything now */
    bool start_queued;      /* in env's start queue (internal) */
    int seq_pos, seq_rep;   /* sequential task position */
    double pacing_last_run, pacing_last_wait;
    double op_seconds;      /* sleep length (internal) */
    const http_req *op_req; /* request to submit (internal) */
    int op_rc;              /* result code for the suspended call (internal) */
    void *op_err;           /* error buffer and result of the suspended call (internal) */
    user *prev, *next;      /* the runner's lists, in spawn order */
    double stop_deadline;   /* runner: when a graceful stop turns into a kill */
    bool kill_sent;         /* runner: the stop deadline has passed */
    void *vars;             /* per-user variables (scenario interpreter) */
    double intended;        /* open model: when the current iteration should have started */
    int64_t delay_us;       /* open model: how late it started; -1 outside an iteration */
    int32_t idle_pos;       /* runner: position among parked users; -1 when not parked */
    user *start_prev, *start_next; /* env's start queue (internal) */
    void (*op_cancel)(user *u, void *data); /* user_wait's cancel (internal) */
    void *op_cancel_data;
};

/* Prepares a user struct (allocated by the runner) for a new life: class, index, a fresh
 * cookie jar and connections. The http client is created on first use and recycled. */
void user_init(user *u, user_env *env, uclass *cls, uint32_t index);
/* Releases the HTTP client (its cookie jar; an easy handle goes back to the pool); the
 * struct itself is the caller's. */
void user_release(user *u);

/* Starts the lifecycle (on_start, then tasks): at once, or in a later loop iteration
 * when many users started in this one. */
void user_start(user *u);
/* Graceful stop: a waiting user goes to on_stop at once, one in a task after the task. */
void user_stop(user *u);
/* Open model: runs one iteration (a task) of a parked user, intended to start at
 * `intended` (loop time); the lateness is added to its response times in co_hist. */
void user_iterate(user *u, double intended);

/* Immediate stop: cancels the request or sleep in progress, then runs on_stop. Killing a
 * user already in on_stop cancels on_stop. Safe to call repeatedly. */
void user_kill(user *u);

/* ---- for task code (runs on the user's coroutine) ---------------------------------- */

/* Sends a request and suspends until it completes. On USER_OK, *out holds the result; the
 * caller reports it (user_report). USER_CANCELLED when the user was killed;
 * USER_FAILED when the request could not be started (err says why). */
int user_http(user *u, const http_req *req, http_result *out, char *err, size_t errlen);

/* Suspends for the given seconds. USER_OK, or USER_CANCELLED when killed meanwhile. */
int user_sleep(user *u, double seconds);

/* Suspends until user_wake(u, rc) (from an ev_io or a timer the caller armed) and returns
 * rc. If the user is killed meanwhile, cancel(u, data) runs (to stop those watchers) and
 * USER_CANCELLED is returned. */
int user_wait(user *u, void (*cancel)(user *u, void *data), void *data);
/* Resumes a user suspended in user_wait (from the loop, never from a task). */
void user_wake(user *u, int rc);

/* Called after every user_report when set (the C API's request event). */
extern void (*user_request_hook)(user *u, const stats_entry *e, int64_t rt_us, uint64_t bytes,
                                 const char *error);

/* Logs a request into the statistics: rt_us < 0 for none, error NULL for success. */
void user_report(user *u, stats_entry *e, int64_t rt_us, uint64_t bytes, const char *error);

/* Records an exception (a step that could not run) with where it happened. */
void user_exception(user *u, const char *msg, const char *where);

/* True once the user has been asked to stop or was killed (a long task may end early). */
bool user_stopping(const user *u);

/* The loop time, in wall-clock seconds. */
double user_now(const user *u);

#endif
