#include "app.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capi.h"
#include "console.h"
#include "coro.h"
#include "csv.h"
#include "fdlimit.h"
#include "history.h"
#include "http.h"
#include "junit.h"
#include "log.h"
#include "master.h"
#include "report.h"
#include "runner.h"
#include "sbuf.h"
#include "stats.h"
#include "summary.h"
#include "threshold.h"
#include "web.h"
#include "version.h"
#include "worker.h"
#include "xalloc.h"

#define LOGGER "cicada.main"

struct app {
    struct options *o;
    scenario *sc;
    struct ev_loop *loop;
    stats *stats;
    history *history;
    http *http;
    runner *runner;
    master *master;         /* --master: the worker table (the runner plans for it) */
    health health;          /* is the generator the bottleneck? */
    worker *worker;         /* --worker: everything else is unused */
    int fail_code;          /* exit code of a worker, or 1 when a master gave up */
    csv_writer *csv;
    web *web;
    char *host;             /* a host set from the web form, else NULL (owned) */
    shape cli_shape;        /* --stages */
    const shape *shape;     /* the load shape tests follow (--stages or the scenario's), or NULL */
    arrival cli_arrival;    /* --arrival-rate */
    char *workload;         /* the dashboard's note on the shape or rate, or NULL */
    const arrival *arrival; /* the open model tests follow, or NULL */
    char *history_csv;      /* PREFIX_stats_history.csv with --csv-full-history (owned) */
    ev_periodic tick;       /* every whole second: snapshots, history, CSV rows */
    ev_timer printer;       /* the periodic console table */
    ev_timer autoquit;      /* --autoquit after the test ends */
    ev_timer end_test;      /* a task asked to end the test (test data ran out) */
    ev_timer expect;        /* a headless master waits for --expect-workers */
    double expect_began;
    double expect_logged;   /* when "Waiting for workers" was last said (0: never) */
    ev_signal sigint, sigterm;
    ev_timer footprint;     /* --loglevel DEBUG: what the statistics hold (make soak) */
    int name_width;
    int signals;            /* interrupts received */
    bool quitting;          /* end the process once the test has stopped */
    threshold_set thresholds; /* the scenario's, then --threshold's */
    int spare_fd;           /* held for --html/--junit at the end (see app_finish), or -1 */
};

#define APP_OF(ptr, field) ((app *)((char *)(ptr) - offsetof(app, field)))

static void print_out(const sbuf *b)
{
    fputs(sbuf_str(b), stderr);
    fflush(stderr);
}

static bool web_mode(const app *a)
{
    return !a->o->headless;
}

/* Ends the process after the test stops (now, if nothing runs). */
static void app_quit(app *a)
{
    a->quitting = true;
    int st = runner_state(a->runner);
    if (st == RUNNER_SPAWNING || st == RUNNER_RUNNING)
        runner_stop(a->runner);  /* ends in on_test_stop, which breaks the loop */
    else if (st != RUNNER_CLEANUP)
        ev_break(a->loop, EVBREAK_ALL);
}

static const char *current_host(void *data)
{
    app *a = data;
    return scenario_host(a->sc, a->host ? a->host : a->o->host);
}

/* ---- hooks -------------------------------------------------------------------------- */

static void on_test_start(void *data)
{
    app *a = data;
    history_clear(a->history);
    health_reset(&a->health);
    capi_fire(CICADA_ON_TEST_START);
    threshold_set_restart(&a->thresholds);
    if (a->master) {
        struct options *o = a->o;
        master_test t = {
            .host = a->host ? a->host : o->host,
            .stop_timeout = o->stop_timeout,
            .classes = o->user_classes.v, .nclasses = o->user_classes.n,
            .tags = o->tags.v, .ntags = o->tags.n,
            .exclude_tags = o->exclude_tags.v, .nexclude_tags = o->exclude_tags.n,
            .equal_weights = o->equal_weights,
        };
        master_test_start(a->master, &t);
    }
}

static void on_spawning_complete(void *data, unsigned users)
{
    (void)data;
    (void)users;
    capi_fire(CICADA_ON_SPAWNING_COMPLETE);
}

static void on_test_stop(void *data)
{
    app *a = data;
    capi_fire(CICADA_ON_TEST_STOP);
    if (a->quitting) {
        ev_break(a->loop, EVBREAK_ALL);
        return;
    }
    if (a->o->autostart && a->o->autoquit >= 0) {
        log_info(LOGGER, "Test stopped: quitting in %d seconds (--autoquit)", a->o->autoquit);
        ev_timer_set(&a->autoquit, a->o->autoquit, 0.);
        ev_timer_start(a->loop, &a->autoquit);
    }
}

/* The cap on users of an open-model test: the scenario's max_users, else -u (or the
 * form's user count). */
static unsigned arrival_cap(const app *a, unsigned users)
{
    return a->arrival->max_users ? a->arrival->max_users : users;
}

/* The users a test started here will run in this process (a master's run on workers,
 * which check their own limit). */
static void check_fd_limit(const app *a, unsigned users)
{
    if (!a->master)
        fdlimit_check(users);
}

static unsigned shape_peak(const shape *s)
{
    unsigned peak = 0;
    for (int i = 0; i < s->n; i++)
        if (s->stages[i].users > peak)
            peak = s->stages[i].users;
    return peak;
}

static void on_shape_done(void *data)
{
    app *a = data;
    if (web_mode(a))
        runner_stop(a->runner);
    else
        app_quit(a);
}

static void on_run_time(void *data)
{
    app *a = data;
    if (web_mode(a)) {
        /* The dashboard stays up: a test ends, the process does not. */
        log_info(LOGGER, "--run-time limit reached, stopping test");
        runner_stop(a->runner);
        return;
    }
    log_info(LOGGER, "--run-time limit reached, shutting down");
    app_quit(a);
}

/* Called from inside a user's task: the test ends from the loop, a moment later. */
static void request_end_test(void *data, const char *reason)
{
    app *a = data;
    if (ev_is_active(&a->end_test))
        return;
    log_info(LOGGER, "Ending the test: %s", reason);
    ev_timer_set(&a->end_test, 0., 0.);
    ev_timer_start(a->loop, &a->end_test);
}

static void on_end_test(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    app *a = APP_OF(w, end_test);
    if (web_mode(a))
        runner_stop(a->runner);
    else
        app_quit(a);
}

static void on_autoquit(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    app_quit(APP_OF(w, autoquit));
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    app *a = w->signum == SIGINT ? APP_OF(w, sigint) : APP_OF(w, sigterm);
    if (++a->signals > 1) {
        /* A second interrupt does not wait for users to finish. */
        log_info(LOGGER, "Second interrupt: stopping at once");
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    log_info(LOGGER, "Got %s signal", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
    if (a->worker)
        worker_leave(a->worker);
    else
        app_quit(a);
}

/* After a test stops, the charts go on until the current rates have fallen to zero. */
static bool history_settling(const history *h)
{
    size_t n = history_len(h);
    if (n == 0)
        return false;
    const history_point *p = history_at(h, n - 1);
    return p->rps > 0 || p->fps > 0 || p->users > 0;
}

/* Once a second while a test runs: ends it when an abort threshold fails, and keeps the
 * verdict the dashboard shows current. */
static void check_thresholds(app *a, double now, int state)
{
    if (!a->thresholds.n || state == RUNNER_READY)
        return;
    if (state == RUNNER_SPAWNING || state == RUNNER_RUNNING) {
        const threshold *t = threshold_check_abort(&a->thresholds, a->stats, now);
        if (t) {
            sbuf b = SBUF_INIT;
            threshold_describe(t, &b);
            log_warning(LOGGER, "Threshold %s failed: %s", t->text, sbuf_str(&b));
            request_end_test(a, "a threshold marked abort failed");
            sbuf_free(&b);
        }
    }
    threshold_eval(&a->thresholds, a->stats);
}

static void on_tick(struct ev_loop *loop, ev_periodic *w, int revents)
{
    (void)revents;
    app *a = APP_OF(w, tick);
    double now = ev_now(loop);
    stats_tick(a->stats, now);
    int st = runner_state(a->runner);
    if ((st != RUNNER_READY && st != RUNNER_STOPPED) || history_settling(a->history))
        history_sample(a->history, a->stats, now, runner_user_count(a->runner));
    if (a->csv)
        csv_writer_tick(a->csv, a->stats, now, runner_user_count(a->runner));
    check_thresholds(a, now, st);
}

/* A long run's memory check (bench/soak.sh) needs the statistics' own size in every
 * process, workers included, which have no dashboard; a DEBUG line costs nothing unless
 * asked for. */
#define FOOTPRINT_EVERY 10.0

static void on_footprint(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    app *a = APP_OF(w, footprint);
    stats *s = a->worker ? worker_stats(a->worker) : a->stats;
    size_t errors;
    stats_errors(s, &errors);
    /* The stack pool only grows, to the most users ever inside a task at once, and so do
     * the easy handles they hold: a step in RSS that comes with a step here is a new peak
     * of concurrency, not a leak. */
    struct coro_stats cs;
    coro_stats(&cs);
    log_debug(LOGGER, "Statistics memory: %zu entries, %zu errors, %zu bytes; task stacks: "
              "%zu mapped, %zu in use", stats_entry_count(s), errors, stats_memory(s),
              cs.stacks, cs.in_use);
}

static void start_footprint(app *a)
{
    ev_timer_init(&a->footprint, on_footprint, FOOTPRINT_EVERY, FOOTPRINT_EVERY);
    if (log_enabled(LOG_DEBUG))
        ev_timer_start(a->loop, &a->footprint);
}

static void on_print(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    app *a = APP_OF(w, printer);
    sbuf b = SBUF_INIT;
    console_stats_table(&b, a->stats, ev_now(loop), true, a->name_width);
    print_out(&b);
    sbuf_free(&b);
}

static void on_key(void *data, int delta)
{
    app *a = data;
    if (runner_state(a->runner) == RUNNER_SPAWNING) {
        log_warning(LOGGER, "Already spawning users, can't spawn more right now");
        return;
    }
    if (runner_state(a->runner) != RUNNER_RUNNING)
        return;
    long target = (long)runner_target(a->runner) + delta;
    char err[256];
    if (runner_start(a->runner, target < 0 ? 0 : (unsigned)target, 100, err, sizeof err))
        log_warning(LOGGER, "%s", err);
}

/* ---- the web UI's actions ----------------------------------------------------------- */

static int web_swarm(void *data, unsigned users, double rate, const char *host,
                     long run_time, char **classes, char *err, size_t errlen)
{
    app *a = data;
    int st = runner_state(a->runner);
    bool fresh = st == RUNNER_READY || st == RUNNER_STOPPED;
    if (a->master && master_worker_count(a->master) == 0) {
        snprintf(err, errlen, "You can't start a distributed test before at least one worker "
                              "processes has connected");
        return -1;
    }
    if (host) {
        if (scenario_resolve(a->sc, host, err, errlen)) {
            /* The value came from the form's host field: name that, not --host. */
            if (strncmp(err, "--host ", 7) == 0)
                memmove(err, err + 2, strlen(err + 2) + 1);
            return -1;
        }
        free(a->host);
        a->host = xstrdup(host);
    }
    if (fresh) {
        ev_timer_stop(a->loop, &a->autoquit);
        /* A test from the form runs as long as the form says, not as -t said. */
        runner_set_run_time(a->runner, 0);
    }
    size_t n = 0;
    while (classes && classes[n])
        n++;
    int follows_shape = 0;
    check_fd_limit(a, fresh && a->arrival ? arrival_cap(a, users)
                      : fresh && a->shape ? shape_peak(a->shape) : users);
    if (fresh && a->arrival) {
        /* Open model: the form's user count is the cap on users. */
        if (runner_start_arrival(a->runner, a->arrival, arrival_cap(a, users), 1.0, 0, err,
                                 errlen))
            return -1;
    } else if (fresh && a->shape) {
        /* A test with a load shape follows it; the form's users and rate do not apply. */
        log_info(LOGGER, "Starting the load shape (the form's user count and spawn rate are "
                         "not used)");
        if (runner_start_shape(a->runner, a->shape, err, errlen))
            return -1;
        follows_shape = 1;
    } else if (runner_start_classes(a->runner, users, rate, classes, n, err, errlen)) {
        return -1;
    }
    /* As Locust: a run_time, even with an edit, ends the test that long from now. */
    if (run_time > 0)
        runner_arm_run_time(a->runner, (double)run_time);
    return follows_shape;
}

static void web_stop_test(void *data)
{
    app *a = data;
    runner_stop(a->runner);
}

static void web_reset(void *data)
{
    app *a = data;
    log_info(LOGGER, "Resetting stats");
    stats_reset(a->stats, ev_now(a->loop), true);
    history_clear(a->history);
}

static report_input report_of(app *a, bool download)
{
    return (report_input){
        .stats = a->stats,
        .history = a->history,
        .scenario = a->sc,
        .runner = a->runner,
        .host = current_host(a),
        .planned_users = a->o->set_num_users ? (unsigned)a->o->num_users : 0,
        .show_download_link = !download && web_mode(a),
        .now = ev_now(a->loop),
        .thresholds = &a->thresholds,
        .health = &a->health,
        .master = a->master,
    };
}

static void web_report(void *data, void *out, bool download)
{
    app *a = data;
    report_input in = report_of(a, download);
    report_render(out, &in);
}

/* ---- distributed ------------------------------------------------------------------- */

static void on_no_workers(void *data, const char *why, bool refused)
{
    app *a = data;
    if (web_mode(a)) {
        log_warning(LOGGER, "%s", why);
        runner_stop(a->runner);
        return;
    }
    /* A test no worker could load never ran: a start-up error (1), as a scenario that
     * does not load locally, not a clean run. Workers that left a test end it. */
    if (refused) {
        log_error(LOGGER, "%s", why);
        a->fail_code = 1;
    } else {
        log_warning(LOGGER, "%s", why);
    }
    app_quit(a);
}

static void on_workers_changed(void *data)
{
    (void)data;
}

static void on_worker_done(void *data, int code)
{
    app *a = data;
    a->fail_code = code;
    ev_break(a->loop, EVBREAK_ALL);
}

/* A headless (or autostarted) master starts once --expect-workers are ready. */
static void start_test(app *a);

static void on_expect(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    app *a = APP_OF(w, expect);
    struct options *o = a->o;
    unsigned have = master_worker_count(a->master);
    if (have >= (unsigned)o->expect_workers) {
        ev_timer_stop(loop, w);
        start_test(a);
        return;
    }
    double waited = ev_now(loop) - a->expect_began;
    if (o->expect_workers_max_wait > 0 && waited >= o->expect_workers_max_wait) {
        ev_timer_stop(loop, w);
        log_error(LOGGER, "Gave up waiting for workers to connect: %u of %d after %d seconds "
                          "(--expect-workers-max-wait)", have, o->expect_workers,
                  o->expect_workers_max_wait);
        a->fail_code = 1;
        app_quit(a);
        return;
    }
    if (waited >= a->expect_logged + 5.0 || a->expect_logged == 0) {
        a->expect_logged = waited > 0 ? waited : 1e-9;
        log_info(LOGGER, "Waiting for workers to be ready, %u of %d connected", have,
                 o->expect_workers);
    }
}

static app *worker_app(app *a, char *err, size_t errlen)
{
    struct options *o = a->o;
    worker_config cfg = {
        .master_host = o->master_host,
        .master_port = o->master_port,
        .report_interval = o->worker_report_interval,
        .heartbeat_interval = 1.0,
        .master_timeout = o->master_timeout,
        .connect_timeout = 60.0,
        .reconnect = o->reconnect,
        .max_names = (size_t)o->max_names,
        .version = cicada_version,
    };
    a->worker = worker_new(a->loop, &cfg, on_worker_done, a, err, errlen);
    if (!a->worker)
        return NULL;
    ev_signal_init(&a->sigint, on_signal, SIGINT);
    ev_signal_start(a->loop, &a->sigint);
    ev_signal_init(&a->sigterm, on_signal, SIGTERM);
    ev_signal_start(a->loop, &a->sigterm);
    start_footprint(a);
    return a;
}

/* ---- set-up ------------------------------------------------------------------------- */

static int start_web(app *a, char *err, size_t errlen)
{
    struct options *o = a->o;
    web_env env = {
        .loop = a->loop,
        .stats = a->stats,
        .runner = a->runner,
        .master = a->master,
        .health = &a->health,
        .open_model = a->arrival != NULL,
        .workload = a->workload,
        .history = a->history,
        .scenario = a->sc,
        .host = o->web_host,
        .port = o->web_port,
        .auth = o->web_auth,
        .tls_cert = o->tls_cert,
        .tls_key = o->tls_key,
        .web_root = o->web_root,
        .history_csv = a->history_csv,
        .num_users = o->set_num_users ? o->num_users : -1,
        .spawn_rate = o->set_spawn_rate ? o->spawn_rate : -1,
        .run_time = o->run_time,
        .class_picker = o->class_picker,
        .app = a,
        .swarm = web_swarm,
        .stop = web_stop_test,
        .reset = web_reset,
        .current_host = current_host,
        .report = web_report,
        .thresholds = &a->thresholds,
    };
    a->web = web_start(&env, err, errlen);
    /* httpd keeps bind's errno for this (free does not change errno in glibc). */
    int e = errno;
    if (!a->web && (e == EADDRINUSE || e == EACCES)) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " (-P/--web-port %d: %s)", o->web_port,
                 e == EADDRINUSE ? "another program listens on the dashboard's port; choose "
                                   "a free one"
                                 : "a port below 1024 needs root or CAP_NET_BIND_SERVICE");
    }
    return a->web ? 0 : -1;
}

/* Releases everything, writing nothing. */
static void app_free(app *a)
{
    if (a->spare_fd >= 0)
        close(a->spare_fd);
    if (a->csv)
        csv_writer_close(a->csv, a->stats, ev_time(), 0);
    web_stop(a->web);
    ev_periodic_stop(a->loop, &a->tick);
    ev_timer_stop(a->loop, &a->printer);
    ev_timer_stop(a->loop, &a->autoquit);
    ev_timer_stop(a->loop, &a->end_test);
    ev_timer_stop(a->loop, &a->footprint);
    ev_signal_stop(a->loop, &a->sigint);
    ev_signal_stop(a->loop, &a->sigterm);
    runner_free(a->runner);
    health_stop(&a->health);
    master_free(a->master);
    worker_free(a->worker);
    ev_timer_stop(a->loop, &a->expect);
    http_free(a->http);
    history_free(a->history);
    stats_free(a->stats);
    coro_pool_release();
    ev_loop_destroy(a->loop);
    free(a->history_csv);
    free(a->host);
    shape_free(&a->cli_shape);
    free(a->workload);
    arrival_free(&a->cli_arrival);
    threshold_set_free(&a->thresholds);
    free(a);
}

app *app_new(struct options *o, scenario *sc, char *err, size_t errlen, int *exit_code)
{
    *exit_code = 1;
    fdlimit_raise();
    if (o->worker) {
        app *a = xcalloc(1, sizeof *a);
        a->spare_fd = -1;
        a->o = o;
        a->loop = ev_default_loop(EVFLAG_AUTO);
        ev_init(&a->tick, NULL);
        ev_init(&a->printer, NULL);
        ev_init(&a->autoquit, NULL);
        ev_init(&a->end_test, NULL);
        ev_init(&a->expect, NULL);
        ev_init(&a->sigint, NULL);
        ev_init(&a->sigterm, NULL);
        ev_init(&a->footprint, NULL);
        if (!worker_app(a, err, errlen)) {
            app_free(a);
            return NULL;
        }
        *exit_code = 0;
        return a;
    }
    /* Without a host the dashboard can still ask for one; a headless run cannot. */
    if (scenario_resolve(sc, o->host, err, errlen)) {
        if (o->headless || o->autostart)
            return NULL;
        log_warning(LOGGER, "%s; enter a host in the dashboard's form", err);
    }
    if (o->html_file && report_check_path(o->html_file, err, errlen))
        return NULL;
    if (o->junit_file && junit_check_path(o->junit_file, err, errlen))
        return NULL;
    if (o->stages && o->arrival_rate > 0) {
        snprintf(err, errlen, "--stages (users) and --arrival-rate (iterations) exclude each "
                              "other");
        return NULL;
    }
    shape cli = {0};
    if (o->stages && shape_parse(o->stages, &cli, err, errlen))
        return NULL;
    for (int i = 0; i < cli.n; i++)
        for (int k = 0; k < cli.stages[i].nclasses; k++) {
            bool known = false;
            for (int c = 0; c < sc->nrun && !known; c++)
                known = strcmp(sc->run[c]->name, cli.stages[i].classes[k]) == 0;
            if (!known) {
                snprintf(err, errlen, "--stages: stage %d names \"%s\", which is not a user "
                                      "class of this test", i + 1, cli.stages[i].classes[k]);
                shape_free(&cli);
                return NULL;
            }
        }
    threshold_set thr = {0};
    for (size_t i = 0; i < sc->thresholds.n; i++)
        threshold_set_add(&thr, &sc->thresholds.v[i]);
    for (int i = 0; i < o->thresholds.n; i++) {
        char msg[256];
        size_t pos;
        /* opt_parse checked them already; this only guards against a mismatch. */
        if (threshold_set_parse(&thr, o->thresholds.v[i], msg, sizeof msg, &pos)) {
            snprintf(err, errlen, "--threshold %s: %s", o->thresholds.v[i], msg);
            threshold_set_free(&thr);
            shape_free(&cli);
            return NULL;
        }
    }
    app *a = xcalloc(1, sizeof *a);
    a->spare_fd = o->html_file || o->junit_file ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
    a->thresholds = thr;
    a->cli_shape = cli;
    a->shape = cli.n ? &a->cli_shape : sc->shape.n ? &sc->shape : NULL;
    if (o->arrival_rate > 0) {
        a->cli_arrival.on = true;
        a->cli_arrival.start_rate = o->arrival_rate;
        a->cli_arrival.max_users = sc->arrival.max_users;
        a->arrival = &a->cli_arrival;
        a->shape = NULL;
    } else if (sc->arrival.on && !cli.n) {
        a->arrival = &sc->arrival;
    }
    sbuf note = SBUF_INIT;
    if (a->arrival && a->arrival->stages.n)
        sbuf_printf(&note, "This test follows an arrival rate (open model): %d stages over %g s. "
                           "The number of users is the cap on users; the spawn rate is not "
                           "used.", a->arrival->stages.n, arrival_length(a->arrival));
    else if (a->arrival)
        sbuf_printf(&note, "This test follows an arrival rate (open model): %g iterations per "
                           "second. The number of users is the cap on users; the spawn rate is "
                           "not used.", a->arrival->start_rate);
    else if (a->shape)
        sbuf_printf(&note, "This test follows a load shape: %d stages over %g s. The number of "
                           "users and the spawn rate are not used.", a->shape->n, a->shape->total);
    a->workload = note.len ? sbuf_take(&note) : NULL;
    sbuf_free(&note);
    /* As Locust with a shape class: -u and -r are ignored, said once rather than silently. */
    if (a->shape && (o->set_num_users || o->set_spawn_rate))
        log_warning(LOGGER, "The load shape sets the number of users and the spawn rate: "
                            "-u/--users and -r/--spawn-rate are ignored");
    a->o = o;
    a->sc = sc;
    a->loop = ev_default_loop(EVFLAG_AUTO);
    a->name_width = console_name_width();
    a->stats = stats_new((size_t)o->max_names, o->stats_history_enabled, ev_time());
    a->history = history_new();
    a->http = http_new(a->loop);
    ev_init(&a->tick, NULL);
    ev_init(&a->printer, on_print);
    ev_init(&a->autoquit, on_autoquit);
    ev_init(&a->end_test, on_end_test);
    ev_init(&a->expect, on_expect);
    ev_init(&a->footprint, NULL);
    ev_init(&a->sigint, NULL);
    ev_init(&a->sigterm, NULL);
    if (o->csv_prefix && o->stats_history_enabled) {
        sbuf p = SBUF_INIT;
        sbuf_printf(&p, "%s_stats_history.csv", o->csv_prefix);
        a->history_csv = sbuf_take(&p);
    }
    runner_config cfg = {
        .stop_timeout = o->stop_timeout,
        .reset_stats = o->reset_stats,
        /* The web UI's tests get their run time from the form. */
        .run_time = web_mode(a) && !o->autostart ? 0 : o->run_time,
        .node = "local",
    };
    runner_remote remote;
    if (o->master || o->processes) {
        master_config mc = {
            .bind_host = o->master_bind_host,
            .bind_port = o->master_bind_port,
            .heartbeat_timeout = 3.0,
            .missing_forget = 60.0,
            .version = cicada_version,
        };
        master_hooks mh = {
            .data = a,
            .workers_changed = on_workers_changed,
            .no_workers = on_no_workers,
            .end_test = request_end_test,
        };
        a->master = master_new(a->loop, a->stats, sc, &mc, &mh, err, errlen);
        if (!a->master) {
            app_free(a);
            return NULL;
        }
        remote = master_remote(a->master);
        cfg.remote = &remote;
        cfg.node = "master";
    }
    runner_hooks hooks = {
        .data = a,
        .test_start = on_test_start,
        .test_stop = on_test_stop,
        .run_time_reached = on_run_time,
        .shape_done = on_shape_done,
        .spawning_complete = on_spawning_complete,
    };
    a->runner = runner_new(a->loop, a->http, a->stats, sc->run, sc->nrun, &cfg, &hooks, err,
                           errlen);
    if (a->master && a->runner)
        master_set_runner(a->master, a->runner);
    /* Everything that can refuse to start comes before any file is written. */
    if (!a->runner || (web_mode(a) && start_web(a, err, errlen))) {
        app_free(a);
        return NULL;
    }
    if (o->csv_prefix) {
        a->csv = csv_writer_open(o->csv_prefix, o->stats_history_enabled, err, errlen);
        if (!a->csv) {
            app_free(a);
            return NULL;
        }
    }
    scenario_set_stop_test(sc, request_end_test, a);
    health_start(&a->health, a->loop);
    ev_periodic_init(&a->tick, on_tick, 0., 1., NULL);
    ev_periodic_start(a->loop, &a->tick);
    ev_signal_init(&a->sigint, on_signal, SIGINT);
    ev_signal_start(a->loop, &a->sigint);
    ev_signal_init(&a->sigterm, on_signal, SIGTERM);
    ev_signal_start(a->loop, &a->sigterm);
    start_footprint(a);
    *exit_code = 0;
    return a;
}

static void start_test(app *a)
{
    struct options *o = a->o;
    unsigned users = o->set_num_users ? (unsigned)o->num_users : 1;
    double rate = o->set_spawn_rate ? o->spawn_rate : 1;
    if (o->run_time)
        log_info(LOGGER, "Run time limit set to %d seconds", o->run_time);
    else
        log_info(LOGGER, "No run time limit set, use CTRL+C to interrupt");
    check_fd_limit(a, a->arrival ? arrival_cap(a, users)
                      : a->shape ? shape_peak(a->shape) : users);
    char err[512];
    int rc = a->arrival ? runner_start_arrival(a->runner, a->arrival, arrival_cap(a, users), 1.0,
                                               0, err, sizeof err)
             : a->shape ? runner_start_shape(a->runner, a->shape, err, sizeof err)
                        : runner_start(a->runner, users, rate, err, sizeof err);
    if (rc) {
        log_error(LOGGER, "%s", err);
        a->fail_code = 1;
        ev_break(a->loop, EVBREAK_ALL);
    }
}

void app_run(app *a)
{
    struct options *o = a->o;
    log_info(LOGGER, "Starting cicada %s", cicada_version);
    if (a->worker) {
        ev_run(a->loop, 0);
        return;
    }
    if (!o->only_summary && (o->print_stats || !web_mode(a))) {
        ev_timer_set(&a->printer, 2., 2.);
        ev_timer_start(a->loop, &a->printer);
    }
    if (!web_mode(a) || o->autostart) {
        if (a->master) {
            a->expect_began = ev_now(a->loop);
            ev_timer_set(&a->expect, 0., 0.1);
            ev_timer_start(a->loop, &a->expect);
        } else {
            start_test(a);
        }
    }
    if (!web_mode(a))
        console_keys_start(a->loop, on_key, a);
    ev_run(a->loop, 0);
}

/* --junit: the file says what the exit code says. Returns 0 or -1 (logged). */
static int write_junit(app *a)
{
    const stats_entry *total = stats_total(a->stats);
    double end = total->last_request_ts > 0 ? total->last_request_ts : total->start_time;
    junit_input in = {
        .thresholds = &a->thresholds,
        .stats = a->stats,
        .failures_case = a->o->exit_code_on_error != 0,
        .suite = a->sc->files,
        .start = total->start_time,
        .duration = end - total->start_time,
    };
    char err[512];
    if (junit_write(a->o->junit_file, &in, err, sizeof err) == 0)
        return 0;
    log_error(LOGGER, "%s", err);
    return -1;
}

/* One line on whether the load generator, not the target, limited the test. */
static void generator_verdict(app *a, sbuf *b)
{
    uint64_t started, late, dropped;
    stats_iterations(a->stats, &started, &late, &dropped);
    double worker_peak = a->master ? master_worker_cpu_peak(a->master) : 0;
    char why[256];
    if (health_limited(&a->health, late, dropped, worker_peak, why, sizeof why))
        sbuf_printf(b, "Generator: the load generator, not the target, limited this test: "
                       "%s.\n\n", why);
    else
        sbuf_printf(b, "Generator: CPU peak %.0f%% of one core, event loop at most %.0f ms "
                       "behind: not a limit.\n\n", a->health.cpu_peak,
                    a->health.lag_peak_ms);
}

int app_finish(app *a)
{
    if (a->worker) {
        int rc = a->fail_code;
        app_free(a);
        return rc;
    }
    if (a->master)
        master_quit_workers(a->master);
    console_keys_stop(a->loop);
    size_t nexc;
    stats_exceptions(a->stats, &nexc);
    int code = stats_error_count(a->stats) || nexc ? a->o->exit_code_on_error : 0;
    /* The test's own pass criteria are the more specific verdict than "there were
     * failures", so a failed threshold decides the code. */
    if (a->thresholds.n && threshold_eval(&a->thresholds, a->stats))
        code = APP_EXIT_THRESHOLDS;
    if (a->fail_code)
        code = a->fail_code;
    log_info(LOGGER, "Shutting down (exit code %d)", code);
    int logged = code;
    double now = ev_time();
    stats_tick(a->stats, now);
    sbuf b = SBUF_INIT;
    /* As Locust: --json replaces the summary tables (stdout gets the JSON). */
    if (!a->o->json) {
        console_stats_table(&b, a->stats, now, false, a->name_width);
        console_percentiles(&b, a->stats, a->name_width);
        console_open_model(&b, a->stats, a->name_width);
        console_error_report(&b, a->stats, a->name_width);
        /* After Locust's tables, not among them: scripts that read Locust's summary find
         * the Error report right after the percentiles, as Locust prints it. */
        generator_verdict(a, &b);
    }
    console_thresholds(&b, &a->thresholds);
    print_out(&b);
    if (a->o->json) {
        sbuf_reset(&b);
        summary_json(&b, a->stats);
        if (fputs(sbuf_str(&b), stdout) == EOF || fflush(stdout) != 0) {
            log_error(LOGGER, "--json: cannot write to stdout");
            code = code ? code : 1;
        }
    }
    sbuf_free(&b);
    if (a->csv && csv_writer_close(a->csv, a->stats, now, runner_user_count(a->runner)))
        code = code ? code : 1;
    a->csv = NULL;
    /* Under a low open-file limit the users' idle connections hold every descriptor
     * until app_free: the spare one is for the report. */
    if (a->spare_fd >= 0) {
        close(a->spare_fd);
        a->spare_fd = -1;
    }
    if (a->o->html_file) {
        char err[512];
        report_input in = report_of(a, true);
        if (report_write(a->o->html_file, &in, err, sizeof err)) {
            log_error(LOGGER, "%s", err);
            code = code ? code : 1;
        }
    }
    if (a->o->junit_file && write_junit(a))
        code = code ? code : 1;
    if (code != logged)
        log_error(LOGGER, "Exit code %d, not %d: an output could not be written (see above)",
                  code, logged);
    app_free(a);
    return code;
}
