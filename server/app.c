#include "app.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "console.h"
#include "coro.h"
#include "csv.h"
#include "http.h"
#include "log.h"
#include "runner.h"
#include "sbuf.h"
#include "stats.h"
#include "xalloc.h"

#define LOGGER "cicada.main"

struct app {
    struct options *o;
    scenario *sc;
    struct ev_loop *loop;
    stats *stats;
    http *http;
    runner *runner;
    csv_writer *csv;
    ev_periodic tick;       /* every whole second: snapshots, CSV rows */
    ev_timer printer;       /* the periodic console table */
    ev_signal sigint, sigterm;
    int name_width;
    int signals;            /* interrupts received */
    bool quitting;          /* end the process once the test has stopped */
    bool forced;            /* a second interrupt: users were abandoned */
};

#define APP_OF(ptr, field) ((app *)((char *)(ptr) - offsetof(app, field)))

static void print_out(const sbuf *b)
{
    fputs(sbuf_str(b), stderr);
    fflush(stderr);
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

static void on_test_stop(void *data)
{
    app *a = data;
    if (a->quitting)
        ev_break(a->loop, EVBREAK_ALL);
}

static void on_run_time(void *data)
{
    app *a = data;
    log_info(LOGGER, "--run-time limit reached, shutting down");
    app_quit(a);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    app *a = w->signum == SIGINT ? APP_OF(w, sigint) : APP_OF(w, sigterm);
    if (++a->signals > 1) {
        /* A second interrupt does not wait for users to finish. */
        log_info(LOGGER, "Second interrupt: stopping at once");
        a->forced = true;
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (w->signum == SIGTERM)
        log_info(LOGGER, "Got SIGTERM signal");
    else
        log_info(LOGGER, "Got SIGINT signal");
    app_quit(a);
}

static void on_tick(struct ev_loop *loop, ev_periodic *w, int revents)
{
    (void)revents;
    app *a = APP_OF(w, tick);
    double now = ev_now(loop);
    stats_tick(a->stats, now);
    if (a->csv)
        csv_writer_tick(a->csv, a->stats, now, runner_user_count(a->runner));
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

/* Each user holds a socket (two while reconnecting); Locust raises the limit too. */
static void raise_fd_limit(unsigned users)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)users + 64 > rl.rlim_cur)
        log_warning(LOGGER,
                    "%u users need more open files than the limit allows (%llu, hard limit "
                    "%llu): raise it with `ulimit -n` or the users will fail to connect",
                    users, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
}

app *app_new(struct options *o, scenario *sc, char *err, size_t errlen, int *exit_code)
{
    *exit_code = 1;
    if (scenario_resolve(sc, o->host, err, errlen))
        return NULL;
    app *a = xcalloc(1, sizeof *a);
    a->o = o;
    a->sc = sc;
    a->loop = ev_default_loop(EVFLAG_AUTO);
    a->name_width = console_name_width();
    if (o->csv_prefix) {
        a->csv = csv_writer_open(o->csv_prefix, o->stats_history_enabled, err, errlen);
        if (!a->csv) {
            free(a);
            return NULL;
        }
    }
    a->stats = stats_new((size_t)o->max_names, o->stats_history_enabled, ev_time());
    a->http = http_new(a->loop);
    runner_config cfg = {
        .stop_timeout = o->stop_timeout,
        .reset_stats = o->reset_stats,
        .run_time = o->run_time,
        .node = "local",
    };
    runner_hooks hooks = {
        .data = a,
        .test_stop = on_test_stop,
        .run_time_reached = on_run_time,
    };
    a->runner = runner_new(a->loop, a->http, a->stats, sc->run, sc->nrun, &cfg, &hooks, err,
                           errlen);
    if (!a->runner) {
        app_finish(a);
        *exit_code = 1;
        return NULL;
    }
    ev_periodic_init(&a->tick, on_tick, 0., 1., NULL);
    ev_periodic_start(a->loop, &a->tick);
    ev_signal_init(&a->sigint, on_signal, SIGINT);
    ev_signal_start(a->loop, &a->sigint);
    ev_signal_init(&a->sigterm, on_signal, SIGTERM);
    ev_signal_start(a->loop, &a->sigterm);
    *exit_code = 0;
    return a;
}

void app_run(app *a)
{
    struct options *o = a->o;
    log_info(LOGGER, "Starting cicada %s", CICADA_VERSION);
    unsigned users = o->set_num_users ? (unsigned)o->num_users : 1;
    double rate = o->set_spawn_rate ? o->spawn_rate : 1;
    raise_fd_limit(users);
    if (!o->only_summary) {
        ev_timer_init(&a->printer, on_print, 2., 2.);
        ev_timer_start(a->loop, &a->printer);
    }
    if (!o->run_time)
        log_info(LOGGER, "No run time limit set, use CTRL+C to interrupt");
    char err[512];
    if (runner_start(a->runner, users, rate, err, sizeof err)) {
        log_error(LOGGER, "%s", err);
        return;
    }
    console_keys_start(a->loop, on_key, a);
    ev_run(a->loop, 0);
}

int app_finish(app *a)
{
    console_keys_stop(a->loop);
    int code = 0;
    if (a->runner) {
        size_t nexc;
        stats_exceptions(a->stats, &nexc);
        code = stats_error_count(a->stats) || nexc ? a->o->exit_code_on_error : 0;
        log_info(LOGGER, "Shutting down (exit code %d)", code);
        double now = ev_time();
        stats_tick(a->stats, now);
        sbuf b = SBUF_INIT;
        console_stats_table(&b, a->stats, now, false, a->name_width);
        console_percentiles(&b, a->stats, a->name_width);
        console_error_report(&b, a->stats, a->name_width);
        print_out(&b);
        sbuf_free(&b);
        if (a->csv && csv_writer_close(a->csv, a->stats, now, runner_user_count(a->runner)))
            code = code ? code : 1;
        a->csv = NULL;
    }
    if (a->csv)
        csv_writer_close(a->csv, a->stats, ev_time(), 0);
    ev_periodic_stop(a->loop, &a->tick);
    ev_timer_stop(a->loop, &a->printer);
    ev_signal_stop(a->loop, &a->sigint);
    ev_signal_stop(a->loop, &a->sigterm);
    runner_free(a->runner);
    http_free(a->http);
    stats_free(a->stats);
    coro_pool_release();
    ev_loop_destroy(a->loop);
    free(a);
    return code;
}
