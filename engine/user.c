#include "user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro.h"
#include "log.h"
#include "rng.h"
#include "xalloc.h"

enum { OP_NONE, OP_HTTP, OP_SLEEP, OP_WAIT };

/* A spawn rate of r starts floor(r) users at once; their first requests would all go out
 * before the loop could complete any, and every one of them would hold a task stack, an
 * easy handle and curl's receive buffer at the same moment, which sets the process's
 * peak memory (about 10 KiB more per user). Starting at most this many users per loop
 * iteration lets completions in between, for a few milliseconds' delay to the last users
 * of a big burst. */
#define USER_START_BATCH 64

/* The error buffer and result of a suspended user_http call (on the coroutine's stack,
 * which stays alive while it is suspended). Kept out of struct user to keep users small. */
struct op_err {
    char *buf;
    size_t len;
    http_result *out;
};

static void drive(user *u);
static void start_unqueue(user *u);

/* ---- classes ------------------------------------------------------------------------ */

void user_class_prepare(uclass *c)
{
    free(c->cum_weight);
    c->cum_weight = xcalloc((size_t)c->ntasks + 1, sizeof *c->cum_weight);
    uint32_t sum = 0;
    for (int i = 0; i < c->ntasks; i++) {
        sum += (uint32_t)c->tasks[i].weight;
        c->cum_weight[i] = sum;
    }
    c->total_weight = sum;
}

void user_class_release(uclass *c)
{
    free(c->cum_weight);
    c->cum_weight = NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

double user_now(const user *u)
{
    return ev_now(u->env->loop);
}

static void go_dead(user *u)
{
    u->state = USER_DEAD;
    u->task = NULL;
    if (u->cls->user_cleanup)
        u->cls->user_cleanup(u);
    u->vars = NULL;
    /* The runner owns u from here on and may reuse it at once. */
    u->env->on_dead(u->env, u);
}

static void task_entry(void *arg)
{
    user *u = arg;
    u->task->fn(u, u->task->data);
}

static void run_coroutine(user *u, const utask *t, enum user_state state)
{
    u->state = state;
    u->task = t;
    u->op = OP_NONE;
    u->co = coro_new(task_entry, u, t->name);
    drive(u);
}

static void go_stop(user *u)
{
    ev_timer_stop(u->env->loop, &u->timer);
    u->stop_requested = true;
    /* on_stop runs in full even after a kill, as in Locust; only a second kill (the
     * runner's last resort) cancels it. */
    u->killed = false;
    if (u->cls->on_stop.fn)
        run_coroutine(u, &u->cls->on_stop, USER_STOPPING);
    else
        go_dead(u);
}

static const utask *pick_task(user *u)
{
    uclass *c = u->cls;
    if (c->sequential) {
        const utask *t = &c->tasks[u->seq_pos];
        if (++u->seq_rep >= t->weight) {
            u->seq_rep = 0;
            u->seq_pos = (u->seq_pos + 1) % c->ntasks;
        }
        return t;
    }
    uint32_t r = (uint32_t)rng_below(c->total_weight);
    int lo = 0, hi = c->ntasks - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (c->cum_weight[mid] > r)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &c->tasks[lo];
}

static void run_task(user *u)
{
    if (u->env->next_iteration) {
        double late = user_now(u) - u->intended;
        u->delay_us = late > 0 ? (int64_t)(late * 1e6 + 0.5) : 0;
    }
    run_coroutine(u, pick_task(u), USER_IN_TASK);
}

/* Seconds to wait after a task, with Locust's wait_time semantics. */
static double wait_time(user *u)
{
    const wait_spec *w = &u->cls->wait;
    switch (w->kind) {
    case WAIT_CONSTANT:
        return w->a;
    case WAIT_BETWEEN:
        return w->a + rng_double() * (w->b - w->a);
    case WAIT_PACING:
    case WAIT_THROUGHPUT: {
        double period = w->kind == WAIT_PACING ? w->a : 1.0 / w->a;
        double now = user_now(u);
        if (u->pacing_last_run == 0) {
            /* Locust's constant_pacing waits a full period after the first task. */
            u->pacing_last_wait = period;
        } else {
            double run = now - u->pacing_last_run - u->pacing_last_wait;
            u->pacing_last_wait = period - run > 0 ? period - run : 0;
        }
        u->pacing_last_run = now;
        return u->pacing_last_wait;
    }
    }
    return 0;
}

static void coroutine_done(user *u)
{
    switch (u->state) {
    case USER_STARTING:
        if (u->stop_requested || u->killed)
            go_stop(u);
        else
            run_task(u);  /* Locust runs the first task right after on_start */
        return;
    case USER_IN_TASK:
        u->delay_us = -1;
        if (u->stop_requested || u->killed) {
            go_stop(u);
            return;
        }
        u->state = USER_WAITING;
        u->task = NULL;
        u->delay_us = -1;
        if (u->env->next_iteration) {
            double intended;
            if (u->env->next_iteration(u->env, u, &intended))
                user_iterate(u, intended);
            return;
        }
        /* Even a zero wait goes through the loop, so a user whose tasks make no request
         * cannot starve everything else. */
        ev_timer_set(&u->timer, wait_time(u), 0.);
        ev_timer_start(u->env->loop, &u->timer);
        return;
    case USER_STOPPING:
        go_dead(u);
        return;
    default:
        return;
    }
}

/* Resumes u's coroutine and carries out what it asks for, until it waits or ends. */
static void drive(user *u)
{
    for (;;) {
        if (coro_resume(u->co)) {
            u->co = NULL;
            /* Between tasks a user needs no easy handle: another user may take it. */
            http_client_release(&u->http);
            coroutine_done(u);  /* may hand u back to the runner */
            return;
        }
        switch (u->op) {
        case OP_HTTP: {
            struct op_err *e = u->op_err;
            if (http_submit(&u->http, u->op_req, e->buf, e->len) == 0)
                return;
            u->op_rc = USER_FAILED;
            continue;
        }
        case OP_SLEEP:
            ev_timer_set(&u->timer, u->op_seconds, 0.);
            ev_timer_start(u->env->loop, &u->timer);
            return;
        case OP_WAIT:
            return;  /* whoever armed the wait calls user_wake */
        default:
            /* A coroutine that yields without asking for anything is resumed at once. */
            continue;
        }
    }
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    user *u = (user *)w;
    if (u->state == USER_WAITING) {
        if (u->stop_requested)
            go_stop(u);
        else
            run_task(u);
        return;
    }
    if (u->op == OP_SLEEP) {
        u->op = OP_NONE;
        u->op_rc = USER_OK;
        drive(u);
    }
}

static void http_done(http_client *c, const http_result *r)
{
    user *u = c->owner;
    *((struct op_err *)u->op_err)->out = *r;
    u->op = OP_NONE;
    u->op_rc = USER_OK;
    drive(u);
}

void user_init(user *u, user_env *env, uclass *cls, uint32_t index)
{
    if (u->http.jar)
        http_client_recycle(&u->http, index);
    else
        http_client_init(env->http, &u->http, index, http_done, u);
    ev_init(&u->timer, timer_cb);
    u->env = env;
    u->cls = cls;
    u->co = NULL;
    u->task = NULL;
    u->index = index;
    u->state = USER_IDLE;
    u->op = OP_NONE;
    u->stop_requested = u->killed = false;
    u->start_queued = false;
    u->start_prev = u->start_next = NULL;
    u->seq_pos = u->seq_rep = 0;
    u->pacing_last_run = u->pacing_last_wait = 0;
    u->op_req = NULL;
    u->op_err = NULL;
    u->op_rc = USER_OK;
    u->vars = NULL;
    u->intended = 0;
    u->delay_us = -1;
    u->idle_pos = -1;
    u->op_cancel = NULL;
}

void user_iterate(user *u, double intended)
{
    u->intended = intended;
    /* Through the loop, as a zero wait_time is: back-to-back iterations of tasks that make
     * no request cannot starve the rest. */
    ev_timer_set(&u->timer, 0., 0.);
    ev_timer_start(u->env->loop, &u->timer);
}

void user_release(user *u)
{
    if (u->env) {
        ev_timer_stop(u->env->loop, &u->timer);
        start_unqueue(u);
    }
    /* Whatever a waiting task armed (an fd watcher) must not outlive the user. */
    if (u->op == OP_WAIT && u->op_cancel)
        u->op_cancel(u, u->op_cancel_data);
    u->op_cancel = NULL;
    if (u->co) {
        /* Abandoned mid-task at exit: nothing on its stack is unwound. */
        coro_discard(u->co);
        u->co = NULL;
    }
    if (u->vars && u->cls && u->cls->user_cleanup)
        u->cls->user_cleanup(u);
    u->vars = NULL;
    http_client_free(&u->http);
}

static void start_now(user *u)
{
    if (u->cls->on_start.fn)
        run_coroutine(u, &u->cls->on_start, USER_STARTING);
    else
        run_task(u);
}

static void start_unqueue(user *u)
{
    if (!u->start_queued)
        return;
    user_env *env = u->env;
    if (u->start_prev)
        u->start_prev->start_next = u->start_next;
    else
        env->start_head = u->start_next;
    if (u->start_next)
        u->start_next->start_prev = u->start_prev;
    else
        env->start_tail = u->start_prev;
    u->start_prev = u->start_next = NULL;
    u->start_queued = false;
    if (!env->start_head)
        ev_timer_stop(env->loop, &env->start_timer);
}

/* True while this loop iteration may start another user. */
static bool start_budget(user_env *env)
{
    unsigned it = ev_iteration(env->loop);
    if (env->start_iter != it) {
        env->start_iter = it;
        env->started = 0;
    }
    return env->started < USER_START_BATCH;
}

static void start_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    user_env *env = (user_env *)((char *)w - offsetof(user_env, start_timer));
    while (env->start_head && start_budget(env)) {
        user *u = env->start_head;
        start_unqueue(u);
        env->started++;
        start_now(u);
    }
    if (env->start_head) {
        ev_timer_set(w, 0., 0.);
        ev_timer_start(loop, w);
    }
}

void user_start(user *u)
{
    user_env *env = u->env;
    if (!env->start_head && start_budget(env)) {
        env->started++;
        start_now(u);
        return;
    }
    u->start_queued = true;
    u->start_next = NULL;
    u->start_prev = env->start_tail;
    if (env->start_tail)
        env->start_tail->start_next = u;
    else
        env->start_head = u;
    env->start_tail = u;
    if (!ev_is_active(&env->start_timer)) {
        ev_init(&env->start_timer, start_cb);
        ev_timer_set(&env->start_timer, 0., 0.);
        ev_timer_start(env->loop, &env->start_timer);
    }
}

/* A user that is not inside a coroutine stops the same way however urgent the stop.
 * Returns true when there is nothing more to do. */
static bool stop_outside_task(user *u)
{
    switch (u->state) {
    case USER_IDLE:
        start_unqueue(u);
        go_dead(u);
        return true;
    case USER_WAITING:
        go_stop(u);
        return true;
    case USER_DEAD:
        return true;
    default:
        return false;
    }
}

void user_stop(user *u)
{
    if (!stop_outside_task(u) && u->state != USER_STOPPING)
        u->stop_requested = true;
}

void user_kill(user *u)
{
    if (stop_outside_task(u))
        return;
    u->stop_requested = true;
    if (u->killed)
        return;
    u->killed = true;
    if (coro_current() == u->co)
        return;  /* the task killed its own user: its next suspending call returns */
    if (u->op == OP_HTTP)
        http_cancel(&u->http);
    else if (u->op == OP_SLEEP)
        ev_timer_stop(u->env->loop, &u->timer);
    else if (u->op == OP_WAIT && u->op_cancel)
        u->op_cancel(u, u->op_cancel_data);
    else
        return;
    u->op = OP_NONE;
    u->op_rc = USER_CANCELLED;
    drive(u);
}

/* ---- task API ----------------------------------------------------------------------- */

int user_http(user *u, const http_req *req, http_result *out, char *err, size_t errlen)
{
    if (u->killed)
        return USER_CANCELLED;
    struct op_err e = {err, errlen, out};
    u->op = OP_HTTP;
    u->op_req = req;
    u->op_err = &e;
    coro_yield();
    u->op = OP_NONE;
    u->op_err = NULL;
    return u->op_rc;
}

int user_sleep(user *u, double seconds)
{
    if (u->killed)
        return USER_CANCELLED;
    u->op = OP_SLEEP;
    u->op_seconds = seconds > 0 ? seconds : 0;
    coro_yield();
    u->op = OP_NONE;
    return u->op_rc;
}

int user_wait(user *u, void (*cancel)(user *u, void *data), void *data)
{
    if (u->killed)
        return USER_CANCELLED;
    u->op = OP_WAIT;
    u->op_cancel = cancel;
    u->op_cancel_data = data;
    coro_yield();
    u->op = OP_NONE;
    u->op_cancel = NULL;
    return u->op_rc;
}

void user_wake(user *u, int rc)
{
    if (u->op != OP_WAIT)
        return;
    u->op = OP_NONE;
    u->op_rc = rc;
    drive(u);
}

void (*user_request_hook)(user *u, const stats_entry *e, int64_t rt_us, uint64_t bytes,
                          const char *error);

void user_report(user *u, stats_entry *e, int64_t rt_us, uint64_t bytes, const char *error)
{
    stats_log(u->env->stats, e, user_now(u), rt_us, bytes, error);
    if (u->delay_us >= 0 && rt_us >= 0)
        stats_log_corrected(u->env->stats, e, rt_us + u->delay_us);
    if (user_request_hook)
        user_request_hook(u, e, rt_us, bytes, error);
}

void user_exception(user *u, const char *msg, const char *where)
{
    /* Logged the first time only: a broken step repeats at the request rate. */
    if (stats_log_exception(u->env->stats, msg, where, u->env->node) == 1)
        log_error("cicada.user", "%s: %s", where, msg);
}

bool user_stopping(const user *u)
{
    return u->stop_requested || u->killed;
}
