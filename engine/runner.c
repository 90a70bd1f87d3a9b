#include "runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

#define LOGGER "cicada.runners"

/* A doubly linked list of users in spawn order. */
typedef struct ulist {
    user *head, *tail;
    unsigned n;
} ulist;

struct runner {
    struct ev_loop *loop;
    stats *stats;
    user_env env;
    runner_config cfg;
    runner_hooks hooks;
    uclass **classes;       /* name order */
    int nclasses;
    dispatch *disp;
    int state;
    ulist *active;          /* per class: users running, spawn order */
    ulist stopping;         /* users asked to stop, until on_stop is done */
    unsigned target;
    uint32_t next_index;
    user *free_users;       /* recycled structs, CURL handles kept */
    ev_timer spawn_timer;
    ev_timer reap_timer;    /* enforces stop deadlines */
    ev_timer run_timer;
    bool stop_logged;       /* "Not all users finished" said for this stop */
    bool remote;            /* a master's: the users run on workers */
    runner_remote rem;
    double rate;            /* spawn rate of the latest ramp */
    shape shape;            /* the load shape driving the test (n == 0: none) */
    int stage;              /* its current stage */
    double shape_began;
    ev_timer shape_timer;
    /* open model */
    bool open;
    arrival arr;            /* owned copy */
    double share;           /* this process's part of the rate */
    unsigned cap;           /* users at most */
    double arr_began, arr_last_t, arr_last_due;
    uint64_t released;      /* arrivals dealt with (started, queued or dropped) */
    struct parked {
        user **u;           /* parked users of a class, most recent last */
        size_t n, cap;
        int64_t swrr;       /* smooth weighted round-robin credit of the class */
    } *idle;                /* per class */
    double *backlog;        /* intended starts waiting for a free user (a ring) */
    size_t bl_head, bl_len;
    ev_timer arr_timer;
};

/* Iterations that may wait for a free user; beyond this they are dropped. */
#define RUNNER_BACKLOG 65536

static void end_shape(runner *r);
static dispatch *make_dispatch(runner *r, char *err, size_t errlen);
static void shape_cb(struct ev_loop *loop, ev_timer *w, int revents);

const char *runner_state_name(int state)
{
    static const char *const names[] = {"ready", "spawning", "running", "cleanup",
                                        "stopping", "stopped", "missing"};
    return state >= 0 && state <= RUNNER_MISSING ? names[state] : "unknown";
}

/* ---- lists -------------------------------------------------------------------------- */

static void list_push(ulist *l, user *u)
{
    u->next = NULL;
    u->prev = l->tail;
    if (l->tail)
        l->tail->next = u;
    else
        l->head = u;
    l->tail = u;
    l->n++;
}

static void list_remove(ulist *l, user *u)
{
    if (u->prev)
        u->prev->next = u->next;
    else
        l->head = u->next;
    if (u->next)
        u->next->prev = u->prev;
    else
        l->tail = u->prev;
    u->prev = u->next = NULL;
    l->n--;
}

/* ---- users -------------------------------------------------------------------------- */

static void finish_stop(runner *r)
{
    if (r->state != RUNNER_CLEANUP)
        return;
    ev_timer_stop(r->loop, &r->reap_timer);
    r->state = RUNNER_STOPPED;
    log_info(LOGGER, "All users stopped");
    if (r->hooks.test_stop)
        r->hooks.test_stop(r->hooks.data);
}

static void on_dead(user_env *env, user *u)
{
    runner *r = (runner *)((char *)env - offsetof(runner, env));
    if (u->stop_deadline > 0) {
        list_remove(&r->stopping, u);
    } else {
        /* A user that ended by itself (its task stopped it). */
        list_remove(&r->active[u->cls->order], u);
        u->cls->count--;
    }
    u->next = r->free_users;
    r->free_users = u;
    if (r->state == RUNNER_CLEANUP && r->stopping.n == 0) {
        unsigned left = 0;
        for (int i = 0; i < r->nclasses; i++)
            left += r->active[i].n;
        if (left == 0)
            finish_stop(r);
    }
}

/* Starts a user of class c; intended is its first iteration's start (open model). */
static void spawn_at(runner *r, uclass *c, double intended)
{
    user *u = r->free_users;
    if (u)
        r->free_users = u->next;
    else
        u = xcalloc(1, sizeof *u);
    if (++r->next_index == 0)
        r->next_index = 1;  /* 0 would disable connection affinity */
    user_init(u, &r->env, c, r->next_index);
    u->stop_deadline = 0;
    u->kill_sent = false;
    list_push(&r->active[c->order], u);
    c->count++;
    u->intended = intended;
    user_start(u);
}

static void spawn_one(runner *r, uclass *c)
{
    spawn_at(r, c, 0);
}

static void reap_arm(runner *r)
{
    if (!ev_is_active(&r->reap_timer))
        ev_timer_again(r->loop, &r->reap_timer);
}

/* Moves u from its class list to the stopping list and asks it to stop. */
static void unpark(runner *r, user *u)
{
    if (u->idle_pos < 0)
        return;
    struct parked *p = &r->idle[u->cls->order];
    user *last = p->u[--p->n];
    p->u[u->idle_pos] = last;
    last->idle_pos = u->idle_pos;
    u->idle_pos = -1;
}

static void stop_one(runner *r, user *u, double now)
{
    unpark(r, u);
    list_remove(&r->active[u->cls->order], u);
    u->cls->count--;
    list_push(&r->stopping, u);
    if (r->cfg.stop_timeout > 0) {
        u->stop_deadline = now + r->cfg.stop_timeout;
        user_stop(u);
    } else {
        /* No stop timeout: Locust kills at once; on_stop still gets its grace. */
        u->stop_deadline = now;
        u->kill_sent = true;
        user_kill(u);
    }
}

static void reap_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    runner *r = (runner *)((char *)w - offsetof(runner, reap_timer));
    double now = ev_now(loop);
    /* Walk by saved successor: a kill can finish the user and unlink it. */
    for (user *u = r->stopping.head, *next; u; u = next) {
        next = u->next;
        if (!u->kill_sent && now >= u->stop_deadline) {
            u->kill_sent = true;
            /* A user already in on_stop finished its task in time: on_stop gets its
             * grace like everyone's. */
            if (u->state == USER_STOPPING)
                continue;
            /* Said before the kill: killing the last user can end the test at once. */
            if (r->state == RUNNER_CLEANUP && !r->stop_logged) {
                r->stop_logged = true;
                log_info(LOGGER, "Not all users finished their tasks & terminated in %g "
                                 "seconds. Stopping them...", r->cfg.stop_timeout);
            }
            user_kill(u);
        } else if (u->kill_sent && now >= u->stop_deadline + RUNNER_ON_STOP_GRACE) {
            /* The second kill cancels an on_stop that outlived its grace. */
            user_kill(u);
        }
    }
    if (r->stopping.n == 0)
        ev_timer_stop(loop, w);
}

/* ---- spawning ----------------------------------------------------------------------- */

static void log_spawned(runner *r)
{
    sbuf b = SBUF_INIT;
    sbuf_putc(&b, '{');
    unsigned total = 0;
    for (int i = 0; i < r->nclasses; i++) {
        unsigned n = runner_class_users(r, i);
        sbuf_printf(&b, "%s\"%s\": %u", i ? ", " : "", r->classes[i]->name, n);
        total += n;
    }
    sbuf_putc(&b, '}');
    log_info(LOGGER, "All users spawned: %s (%u total users)", sbuf_str(&b), total);
    sbuf_free(&b);
}

static void spawning_complete(runner *r)
{
    r->state = RUNNER_RUNNING;
    log_spawned(r);
    if (r->cfg.reset_stats) {
        log_info(LOGGER, "Resetting stats");
        stats_reset(r->stats, ev_now(r->loop), false);
    }
    if (r->hooks.spawning_complete)
        r->hooks.spawning_complete(r->hooks.data, runner_user_count(r));
}

/* Brings every class to the dispatcher's current numbers: spawns first, then stops,
 * newest users first. */
static void apply_map(runner *r)
{
    if (r->remote) {
        r->rem.plan(r->rem.data, r->disp);
        return;
    }
    const unsigned *want = dispatch_worker_users(r->disp, 0);
    double now = ev_now(r->loop);
    /* Counted once: a user that ends inside user_start is not replaced in this
     * iteration (as in Locust), and looping on the live count would never end. */
    for (int i = 0; i < r->nclasses; i++)
        for (unsigned k = r->active[i].n; k < want[i]; k++)
            spawn_one(r, r->classes[i]);
    for (int i = 0; i < r->nclasses; i++)
        while (r->active[i].n > want[i])
            stop_one(r, r->active[i].tail, now);
    if (r->stopping.n)
        reap_arm(r);
}

static void spawn_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    runner *r = (runner *)((char *)w - offsetof(runner, spawn_timer));
    double began = ev_time();
    double delay = 0;
    if (!dispatch_next(r->disp, &delay)) {
        spawning_complete(r);
        return;
    }
    apply_map(r);
    if (r->state != RUNNER_SPAWNING)
        return; /* a hook stopped the test meanwhile */
    /* The delay counts from when this iteration began, as Locust's does. */
    double wait = delay - (ev_time() - began);
    ev_timer_set(w, wait > 0 ? wait : 0, 0.);
    ev_timer_start(loop, w);
}

static void run_time_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    runner *r = (runner *)((char *)w - offsetof(runner, run_timer));
    if (r->hooks.run_time_reached)
        r->hooks.run_time_reached(r->hooks.data);
    else
        runner_stop(r);
}

static void begin_test(runner *r)
{
    stats_clear(r->stats, ev_now(r->loop));
    r->stop_logged = false;
    if (r->hooks.test_start)
        r->hooks.test_start(r->hooks.data);
    if (r->cfg.run_time > 0) {
        ev_timer_set(&r->run_timer, r->cfg.run_time, 0.);
        ev_timer_start(r->loop, &r->run_timer);
    }
}

/* ---- open model ------------------------------------------------------------------- */

static runner *runner_of_env(user_env *env)
{
    return (runner *)((char *)env - offsetof(runner, env));
}

static bool open_next(user_env *env, user *u, double *intended)
{
    runner *r = runner_of_env(env);
    if (r->bl_len) {
        *intended = r->backlog[r->bl_head];
        r->bl_head = (r->bl_head + 1) % RUNNER_BACKLOG;
        r->bl_len--;
        stats_log_iterations(r->stats, 1, 1, 0);
        return true;
    }
    struct parked *p = &r->idle[u->cls->order];
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->u = xrealloc(p->u, p->cap * sizeof *p->u);
    }
    u->idle_pos = (int32_t)p->n;
    p->u[p->n++] = u;
    return false;
}

static unsigned live_users(const runner *r)
{
    unsigned n = 0;
    for (int i = 0; i < r->nclasses; i++)
        n += r->active[i].n;
    return n;
}

/* The class of the next iteration: a smooth weighted round-robin over the class
 * weights (nginx's), so iterations follow the weights however few users are busy. A
 * fixed_count class counts as its fixed count. */
static int next_class(runner *r)
{
    int64_t total = 0;
    int best = -1;
    for (int i = 0; i < r->nclasses; i++) {
        const uclass *c = r->classes[i];
        int64_t w = c->fixed_count > 0 ? c->fixed_count : c->weight;
        if (w <= 0)
            continue;
        total += w;
        r->idle[i].swrr += w;
        if (best < 0 || r->idle[i].swrr > r->idle[best].swrr)
            best = i;
    }
    if (best >= 0)
        r->idle[best].swrr -= total;
    return best;
}

static void arrive(runner *r, double intended)
{
    int c = next_class(r);
    struct parked *p = c >= 0 ? &r->idle[c] : NULL;
    if (p && p->n) {
        user *u = p->u[--p->n];
        u->idle_pos = -1;
        stats_log_iterations(r->stats, 1, 0, 0);
        user_iterate(u, intended);
        return;
    }
    if (p && live_users(r) < r->cap) {
        stats_log_iterations(r->stats, 1, 0, 0);
        spawn_at(r, r->classes[c], intended);
        return;
    }
    if (r->bl_len < RUNNER_BACKLOG) {
        if (!r->backlog)
            r->backlog = xmalloc(RUNNER_BACKLOG * sizeof *r->backlog);
        r->backlog[(r->bl_head + r->bl_len++) % RUNNER_BACKLOG] = intended;
        return;
    }
    stats_log_iterations(r->stats, 0, 0, 1);
}

static void arrival_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    runner *r = (runner *)((char *)w - offsetof(runner, arr_timer));
    if (r->remote) {
        /* A master only keeps the time: its workers start the iterations. */
        log_info(LOGGER, "The arrival rate's last stage has ended");
        if (r->hooks.shape_done)
            r->hooks.shape_done(r->hooks.data);
        else
            runner_stop(r);
        return;
    }
    double now = ev_now(loop), el = now - r->arr_began;
    double length = arrival_length(&r->arr);
    bool over = length > 0 && el >= length;
    if (over)
        el = length;
    double due = arrival_due(&r->arr, el) * r->share;
    /* Arrival j is due when the integral of the rate crosses j; those that fell between
     * two wakes get their own intended times, interpolated. */
    while ((double)(r->released + 1) <= due + 1e-9 && r->state != RUNNER_CLEANUP) {
        double j = (double)(r->released + 1), t = now;
        if (due > r->arr_last_due)
            t = r->arr_last_t + (j - r->arr_last_due) / (due - r->arr_last_due) *
                                    (r->arr_began + el - r->arr_last_t);
        if (t < r->arr_last_t)
            t = r->arr_last_t;
        r->released++;
        arrive(r, t);
    }
    r->arr_last_t = r->arr_began + el;
    r->arr_last_due = due;
    if (r->state != RUNNER_SPAWNING && r->state != RUNNER_RUNNING)
        return;
    if (over) {
        log_info(LOGGER, "The arrival rate's last stage has ended");
        ev_timer_stop(loop, w);
        if (r->hooks.shape_done)
            r->hooks.shape_done(r->hooks.data);
        else
            runner_stop(r);
        return;
    }
    double rate = arrival_rate_at(&r->arr, el) * r->share;
    double wait = rate > 0 ? ((double)(r->released + 1) - due) / rate : 0.25;
    if (wait < 0.0005)
        wait = 0.0005;
    if (wait > 0.25)
        wait = 0.25; /* ramps and stage ends are looked at often enough */
    if (length > 0 && el + wait > length)
        wait = length - el;
    ev_timer_set(w, wait, 0.);
    ev_timer_start(loop, w);
}

static void end_open(runner *r)
{
    ev_timer_stop(r->loop, &r->arr_timer);
    if (r->bl_len)
        stats_log_iterations(r->stats, 0, 0, r->bl_len);
    r->bl_len = r->bl_head = 0;
    for (int c = 0; r->idle && c < r->nclasses; c++) {
        for (size_t i = 0; i < r->idle[c].n; i++)
            r->idle[c].u[i]->idle_pos = -1;
        r->idle[c].n = 0;
    }
    r->open = false;
    r->env.next_iteration = NULL;
}

int runner_start_arrival(runner *r, const arrival *a, unsigned max_users, double share,
                         double elapsed, char *err, size_t errlen)
{
    if (r->state == RUNNER_CLEANUP || r->state == RUNNER_STOPPING) {
        snprintf(err, errlen, "the previous test is still stopping; try again shortly");
        return -1;
    }
    if (max_users == 0 && !r->remote) {
        snprintf(err, errlen, "an arrival rate needs a cap on users: -u or \"max_users\"");
        return -1;
    }
    bool fresh = r->state == RUNNER_READY || r->state == RUNNER_STOPPED;
    end_shape(r);
    if (!fresh) {
        /* A closed test becoming open: its users are stopped first, the new model
         * starts fresh. */
        snprintf(err, errlen, "stop the running test before starting an arrival rate");
        return -1;
    }
    arrival_free(&r->arr);
    r->arr = *a;
    shape_copy(&r->arr.stages, &a->stages);
    r->share = share > 0 ? share : 1;
    r->cap = max_users;
    r->target = max_users;
    r->rate = 1e9;
    begin_test(r);
    r->state = RUNNER_RUNNING;
    if (r->remote) {
        r->rem.open(r->rem.data, &r->arr, max_users);
        if (arrival_length(&r->arr) > 0) {
            ev_timer_set(&r->arr_timer, arrival_length(&r->arr), 0.);
            ev_timer_start(r->loop, &r->arr_timer);
        }
        log_info(LOGGER, "Open model: %g iterations/s%s, users up to %u, shared by the workers",
                 a->start_rate, a->stages.n ? " ramping by stages" : "", max_users);
        return 0;
    }
    r->open = true;
    r->env.next_iteration = open_next;
    if (!(elapsed > 0))
        elapsed = 0;
    r->arr_began = ev_now(r->loop) - elapsed;
    r->arr_last_t = ev_now(r->loop);
    /* What fell due before this process joined is not its to start. */
    r->arr_last_due = arrival_due(&r->arr, elapsed) * r->share;
    r->released = (uint64_t)r->arr_last_due;
    r->bl_len = r->bl_head = 0;
    if (!r->idle)
        r->idle = xcalloc((size_t)r->nclasses, sizeof *r->idle);
    for (int c = 0; c < r->nclasses; c++)
        r->idle[c].swrr = 0;
    log_info(LOGGER, "Open model: %g iterations/s%s, users up to %u", a->start_rate * r->share,
             a->stages.n ? " ramping by stages" : "", max_users);
    ev_timer_set(&r->arr_timer, 0., 0.);
    ev_timer_start(r->loop, &r->arr_timer);
    if (r->hooks.spawning_complete)
        r->hooks.spawning_complete(r->hooks.data, 0);
    return 0;
}

void runner_set_arrival_share(runner *r, double share, unsigned max_users)
{
    if (!r->open || !(share > 0))
        return;
    /* Keep what was released: only arrivals from now on follow the new share. */
    double el = ev_now(r->loop) - r->arr_began;
    double due_new = arrival_due(&r->arr, el) * share;
    r->released = (uint64_t)due_new;
    r->arr_last_due = due_new;
    r->arr_last_t = ev_now(r->loop);
    r->share = share;
    r->cap = max_users;
}

bool runner_open(const runner *r)
{
    return r->open;
}

/* ---- public ------------------------------------------------------------------------- */

/* A new dispatcher over the classes and the workers of the current one (a master's), or
 * the one local worker. */
static dispatch *make_dispatch(runner *r, char *err, size_t errlen)
{
    dispatch_class *dc = xcalloc((size_t)r->nclasses, sizeof *dc);
    for (int i = 0; i < r->nclasses; i++) {
        dc[i].name = r->classes[i]->name;
        dc[i].weight = r->classes[i]->weight;
        dc[i].fixed_count = (unsigned)r->classes[i]->fixed_count;
    }
    const char *local = "local";
    const char **ids = &local;
    size_t n = 1;
    if (r->remote) {
        n = r->disp ? dispatch_worker_count(r->disp) : 0;
        ids = xcalloc(n + 1, sizeof *ids);
        for (size_t w = 0; w < n; w++)
            ids[w] = dispatch_worker_id(r->disp, w);
    }
    dispatch *d = dispatch_new(dc, (size_t)r->nclasses, ids, n, err, errlen);
    if (ids != &local)
        free(ids);
    free(dc);
    return d;
}

runner *runner_new(struct ev_loop *loop, http *h, stats *s, uclass **classes, int nclasses,
                   const runner_config *cfg, const runner_hooks *hooks, char *err,
                   size_t errlen)
{
    if (nclasses <= 0) {
        snprintf(err, errlen, "No User class found!");
        return NULL;
    }
    bool any = false;
    for (int i = 0; i < nclasses; i++)
        any |= classes[i]->weight > 0 || classes[i]->fixed_count > 0;
    if (!any) {
        snprintf(err, errlen, "no user class has a weight or a fixed count");
        return NULL;
    }
    runner *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->stats = s;
    r->cfg = *cfg;
    if (hooks)
        r->hooks = *hooks;
    r->env.loop = loop;
    r->env.http = h;
    r->env.stats = s;
    r->env.node = cfg->node ? cfg->node : "local";
    r->env.on_dead = on_dead;
    if (cfg->remote) {
        r->remote = true;
        r->rem = *cfg->remote;
    }
    r->classes = xmalloc((size_t)nclasses * sizeof *r->classes);
    memcpy(r->classes, classes, (size_t)nclasses * sizeof *classes);
    r->nclasses = nclasses;
    for (int i = 0; i < nclasses; i++)
        r->classes[i]->count = 0;
    r->active = xcalloc((size_t)nclasses, sizeof *r->active);
    r->disp = make_dispatch(r, err, errlen);
    if (!r->disp) {
        free(r->active);
        free(r->classes);
        free(r);
        return NULL;
    }
    /* The dispatcher's map rows are in its own class order: index our classes the same
     * way rather than assume both sorts agree. */
    for (int i = 0; i < nclasses; i++) {
        size_t c = 0;
        dispatch_find_class(r->disp, classes[i]->name, &c);
        r->classes[c] = classes[i];
        classes[i]->order = (int)c;
    }
    ev_init(&r->spawn_timer, spawn_cb);
    ev_init(&r->reap_timer, reap_cb);
    r->reap_timer.repeat = 0.1;
    ev_init(&r->run_timer, run_time_cb);
    ev_init(&r->shape_timer, shape_cb);
    ev_init(&r->arr_timer, arrival_cb);
    r->stage = -1;
    r->state = RUNNER_READY;
    return r;
}

static void free_list(user *u)
{
    while (u) {
        user *next = u->next;
        user_release(u);
        free(u);
        u = next;
    }
}

void runner_free(runner *r)
{
    if (!r)
        return;
    ev_timer_stop(r->loop, &r->spawn_timer);
    ev_timer_stop(r->loop, &r->reap_timer);
    ev_timer_stop(r->loop, &r->run_timer);
    end_shape(r);
    end_open(r);
    arrival_free(&r->arr);
    for (int c = 0; r->idle && c < r->nclasses; c++)
        free(r->idle[c].u);
    free(r->idle);
    free(r->backlog);
    /* Users still alive here are abandoned mid-flight: release without on_stop. */
    for (int i = 0; i < r->nclasses; i++)
        free_list(r->active[i].head);
    free_list(r->stopping.head);
    free_list(r->free_users);
    dispatch_free(r->disp);
    free(r->active);
    free(r->classes);
    free(r);
}

int runner_start(runner *r, unsigned users, double spawn_rate, char *err, size_t errlen)
{
    return runner_start_classes(r, users, spawn_rate, NULL, 0, err, errlen);
}

static int start_ramp(runner *r, unsigned users, double spawn_rate, char **subset,
                      size_t nsubset, char *err, size_t errlen);

static void end_shape(runner *r)
{
    ev_timer_stop(r->loop, &r->shape_timer);
    shape_free(&r->shape);
    r->stage = -1;
}

int runner_start_classes(runner *r, unsigned users, double spawn_rate, char **subset,
                         size_t nsubset, char *err, size_t errlen)
{
    if (r->shape.n && (r->state == RUNNER_SPAWNING || r->state == RUNNER_RUNNING))
        log_info(LOGGER, "The test was changed by hand: the load shape no longer drives it");
    int rc = start_ramp(r, users, spawn_rate, subset, nsubset, err, errlen);
    if (rc == 0)
        end_shape(r);
    return rc;
}

/* A stage's classes, or every class (a stage without a list undoes an earlier one's). */
static int start_stage(runner *r, const shape_stage *st, char *err, size_t errlen)
{
    char **names = st->classes;
    size_t n = (size_t)st->nclasses;
    char **all = NULL;
    if (!names) {
        all = xcalloc((size_t)r->nclasses + 1, sizeof *all);
        for (int i = 0; i < r->nclasses; i++)
            all[i] = r->classes[i]->name;
        names = all;
        n = (size_t)r->nclasses;
    }
    int rc = start_ramp(r, st->users, st->spawn_rate, names, n, err, errlen);
    free(all);
    return rc;
}

/* Wakes at the end of the current stage, not by polling, so stages start on time. */
static void shape_arm(runner *r)
{
    double end = r->shape_began;
    for (int i = 0; i <= r->stage; i++)
        end += r->shape.stages[i].duration;
    double wait = end - ev_now(r->loop);
    ev_timer_stop(r->loop, &r->shape_timer);
    ev_timer_set(&r->shape_timer, wait > 0 ? wait : 0, 0.);
    ev_timer_start(r->loop, &r->shape_timer);
}

static void shape_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    runner *r = (runner *)((char *)w - offsetof(runner, shape_timer));
    /* ev_now can trail the timer by rounding: a stage ends when its end has come. */
    int stage = shape_stage_at(&r->shape, ev_now(loop) - r->shape_began + 1e-6);
    if (stage == r->stage) {
        shape_arm(r);
        return;
    }
    if (stage < 0) {
        log_info(LOGGER, "The load shape has ended (%d stages, %g s)", r->shape.n,
                 r->shape.total);
        end_shape(r);
        if (r->hooks.shape_done)
            r->hooks.shape_done(r->hooks.data);
        else
            runner_stop(r);
        return;
    }
    const shape_stage *st = &r->shape.stages[stage];
    log_info(LOGGER, "Load shape stage %d of %d: %u users at %g/s for %g s", stage + 1,
             r->shape.n, st->users, st->spawn_rate, st->duration);
    char err[256];
    r->stage = stage;
    if (start_stage(r, st, err, sizeof err))
        log_error(LOGGER, "load shape stage %d: %s", stage + 1, err);
    shape_arm(r);
}

int runner_start_shape(runner *r, const shape *s, char *err, size_t errlen)
{
    if (!s->n) {
        snprintf(err, errlen, "the load shape has no stage");
        return -1;
    }
    shape copy;
    shape_copy(&copy, s);
    int rc = start_stage(r, &copy.stages[0], err, errlen);
    if (rc) {
        shape_free(&copy);
        return -1;
    }
    end_shape(r);
    r->shape = copy;
    r->stage = 0;
    r->shape_began = ev_now(r->loop);
    log_info(LOGGER, "Load shape stage 1 of %d: %u users at %g/s for %g s", copy.n,
             copy.stages[0].users, copy.stages[0].spawn_rate, copy.stages[0].duration);
    shape_arm(r);
    return 0;
}

int runner_shape_stage(const runner *r)
{
    return r->shape.n ? r->stage : -1;
}

static int start_ramp(runner *r, unsigned users, double spawn_rate, char **subset,
                      size_t nsubset, char *err, size_t errlen)
{
    if (!(spawn_rate > 0) || !isfinite(spawn_rate)) {
        snprintf(err, errlen, "spawn rate must be a number > 0");
        return -1;
    }
    if (r->state == RUNNER_CLEANUP || r->state == RUNNER_STOPPING) {
        snprintf(err, errlen, "the previous test is still stopping; try again shortly");
        return -1;
    }
    bool fresh = r->state == RUNNER_READY || r->state == RUNNER_STOPPED;
    if (fresh) {
        /* A new test starts from an empty distribution, as Locust makes a new dispatcher. */
        dispatch *d = make_dispatch(r, err, errlen);
        if (!d)
            return -1;
        dispatch_free(r->disp);
        r->disp = d;
    }
    if (dispatch_start(r->disp, users, spawn_rate, (const char *const *)subset, nsubset, err,
                       errlen) != 0)
        return -1;
    r->target = users;
    r->rate = spawn_rate;
    if (fresh)
        begin_test(r);
    log_info(LOGGER, "Ramping to %u users at a rate of %.2f per second", users, spawn_rate);
    r->state = RUNNER_SPAWNING;
    ev_timer_stop(r->loop, &r->spawn_timer);
    ev_timer_set(&r->spawn_timer, 0., 0.);
    ev_timer_start(r->loop, &r->spawn_timer);
    return 0;
}

void runner_stop(runner *r)
{
    if (r->state != RUNNER_SPAWNING && r->state != RUNNER_RUNNING)
        return;
    ev_timer_stop(r->loop, &r->spawn_timer);
    ev_timer_stop(r->loop, &r->run_timer);
    end_shape(r);
    end_open(r);
    r->state = RUNNER_CLEANUP;
    if (r->remote) {
        r->rem.stop(r->rem.data);
        return;
    }
    double now = ev_now(r->loop);
    for (int i = 0; i < r->nclasses; i++)
        while (r->active[i].tail)
            stop_one(r, r->active[i].tail, now);
    if (r->stopping.n == 0)
        finish_stop(r);  /* every user was between tasks with no on_stop */
    else
        reap_arm(r);
}

void runner_set_stop_timeout(runner *r, double seconds)
{
    r->cfg.stop_timeout = seconds;
}

void runner_set_run_time(runner *r, double seconds)
{
    r->cfg.run_time = seconds;
}

void runner_arm_run_time(runner *r, double seconds)
{
    ev_timer_stop(r->loop, &r->run_timer);
    if (seconds > 0) {
        ev_timer_set(&r->run_timer, seconds, 0.);
        ev_timer_start(r->loop, &r->run_timer);
    }
}

int runner_state(const runner *r)
{
    return r->state;
}

unsigned runner_user_count(const runner *r)
{
    if (r->remote)
        return r->rem.users(r->rem.data);
    unsigned n = r->stopping.n;
    for (int i = 0; i < r->nclasses; i++)
        n += r->active[i].n;
    return n;
}

unsigned runner_target(const runner *r)
{
    return r->target;
}

unsigned runner_class_users(const runner *r, int i)
{
    return r->remote ? dispatch_class_total(r->disp, (size_t)i) : r->active[i].n;
}

/* ---- workers and masters ------------------------------------------------------------ */

int runner_set_counts(runner *r, const unsigned *counts, char *err, size_t errlen)
{
    if (r->state == RUNNER_CLEANUP || r->state == RUNNER_STOPPING) {
        snprintf(err, errlen, "the previous test is still stopping");
        return -1;
    }
    if (r->state == RUNNER_READY || r->state == RUNNER_STOPPED)
        begin_test(r);
    r->state = RUNNER_SPAWNING;
    double now = ev_now(r->loop);
    unsigned target = 0;
    for (int i = 0; i < r->nclasses; i++) {
        target += counts[i];
        for (unsigned k = r->active[i].n; k < counts[i]; k++)
            spawn_one(r, r->classes[i]);
    }
    for (int i = 0; i < r->nclasses; i++)
        while (r->active[i].n > counts[i])
            stop_one(r, r->active[i].tail, now);
    if (r->stopping.n)
        reap_arm(r);
    r->target = target;
    if (r->state == RUNNER_SPAWNING)
        spawning_complete(r);
    return 0;
}

int runner_add_worker(runner *r, const char *id, char *err, size_t errlen)
{
    if (dispatch_add_worker(r->disp, id, err, errlen))
        return -1;
    /* The add recomputed the map; a ramp in progress sends it with its next iteration. */
    if ((r->state == RUNNER_SPAWNING || r->state == RUNNER_RUNNING) &&
        !dispatch_in_progress(r->disp))
        apply_map(r);
    return 0;
}

int runner_remove_worker(runner *r, const char *id, char *err, size_t errlen)
{
    size_t w;
    if (!dispatch_find_worker(r->disp, id, &w)) {
        snprintf(err, errlen, "no worker \"%s\"", id);
        return -1;
    }
    if (dispatch_remove_worker(r->disp, id, err, errlen))
        return -1;
    /* The plan now spreads every user over the others; the master moves them there at the
     * spawn rate (a ramp in progress sends it with its next iteration). */
    if ((r->state == RUNNER_SPAWNING || r->state == RUNNER_RUNNING) &&
        dispatch_worker_count(r->disp) > 0 && !dispatch_in_progress(r->disp))
        apply_map(r);
    return 0;
}

double runner_spawn_rate(const runner *r)
{
    return r->rate;
}

void runner_remote_stopped(runner *r)
{
    finish_stop(r);
}

const dispatch *runner_dispatch(const runner *r)
{
    return r->disp;
}

int runner_class_count(const runner *r)
{
    return r->nclasses;
}

uclass *runner_class(const runner *r, int i)
{
    return r->classes[i];
}
