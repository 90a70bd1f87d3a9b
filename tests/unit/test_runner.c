/* engine/runner: Locust's runner state machine over real users on a real libev loop, with
 * requests to a loopback HTTP/1.1 keep-alive target (a forked child): ramps, class
 * distribution, edits, stop timeouts, run time, restarts. Task functions written against
 * user.h record what each user does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "coro.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "loopback.h"
#include "runner.h"
#include "stats.h"
#include "user.h"
#include "xalloc.h"

static stats *S;

#include "usertrace.h"

static uclass make_class(const char *name, int weight, utask *tasks, int ntasks, wait_spec w)
{
    uclass c = {.name = (char *)name, .weight = weight, .wait = w, .tasks = tasks,
                .ntasks = ntasks};
    user_class_prepare(&c);
    return c;
}

/* on_start: records the user's class. */
static void born(user *u, void *data)
{
    (void)data;
    note(u, "born:%s", u->cls->name);
}

/* ---- the runner and its hooks -------------------------------------------------------- */

static runner *R;

static struct {
    int test_start, test_stop, complete, run_time;
    unsigned complete_users;
    uint64_t requests_at_start, requests_at_complete;
    size_t entries_at_start;
    double start_at, complete_at, run_time_at, stop_at;
} hk;

static void on_test_start(void *data)
{
    assert_ptr_equal(data, &hk);
    hk.test_start++;
    hk.start_at = ev_now(loop);
    hk.requests_at_start = stats_total(S)->num_requests;
    stats_sorted(S, &hk.entries_at_start);
}

static void on_complete(void *data, unsigned users)
{
    (void)data;
    assert_int_equal(runner_state(R), RUNNER_RUNNING);
    hk.complete++;
    hk.complete_users = users;
    hk.complete_at = ev_now(loop);
    hk.requests_at_complete = stats_total(S)->num_requests;
}

static void on_test_stop(void *data)
{
    (void)data;
    assert_int_equal(runner_state(R), RUNNER_STOPPED);
    hk.test_stop++;
    hk.stop_at = ev_now(loop);
}

static void on_run_time(void *data)
{
    (void)data;
    hk.run_time++;
    hk.run_time_at = ev_now(loop);
}

/* A runner over classes, with every hook (run_time_reached only when asked). */
static runner *make_runner(uclass **classes, int n, double stop_timeout, bool reset_stats,
                           bool run_time_hook)
{
    runner_config cfg = {.stop_timeout = stop_timeout, .reset_stats = reset_stats,
                         .node = "local"};
    runner_hooks hooks = {.data = &hk, .test_start = on_test_start,
                          .spawning_complete = on_complete, .test_stop = on_test_stop,
                          .run_time_reached = run_time_hook ? on_run_time : NULL};
    char err[256] = "";
    R = runner_new(loop, H, S, classes, n, &cfg, &hooks, err, sizeof err);
    if (!R)
        fail_msg("runner_new: %s", err);
    return R;
}

/* Frees the runner made by make_runner (teardown frees it when a test failed first). */
static void free_runner(runner *r)
{
    assert_ptr_equal(r, R);
    runner_free(r);
    R = NULL;
}

static void start(runner *r, unsigned users, double rate)
{
    char err[256] = "";
    if (runner_start(r, users, rate, err, sizeof err) != 0)
        fail_msg("runner_start(%u, %g): %s", users, rate, err);
    assert_int_equal(runner_state(r), RUNNER_SPAWNING);
}

/* Stops the test and waits until every user has finished. */
static void stop_and_wait(runner *r, double secs)
{
    runner_stop(r);
    RUN_UNTIL(runner_state(r) == RUNNER_STOPPED, secs);
    assert_int_equal(runner_user_count(r), 0);
}

/* The users whose on_stop began, in order (tok "stop"), as "6 5 4". */
static const char *stop_order(void)
{
    static char buf[1024];
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < nrec; i++)
        if (strcmp(recs[i].tok, "stop") == 0 && n < sizeof buf - 16)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%u", n ? " " : "", recs[i].user);
    return buf;
}

static char urls[8][128];

static http_req get(int i, const char *path)
{
    snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d%s", tgt.port, path);
    return (http_req){.method = "GET", .kind = HTTP_GET, .url = urls[i]};
}

static int log_matches;
static const char *log_wanted;

static void observe(void *data, int level, const char *line)
{
    (void)data, (void)level;
    const char *m = strstr(line, "/cicada.runners: ");
    if (m && strcmp(m + 17, log_wanted) == 0)
        log_matches++;
}

static int setup(void **state)
{
    (void)state;
    alarm(40); /* last resort if the loop itself stops turning */
    loop = ev_loop_new(EVFLAG_AUTO);
    ev_init(&watchdog, watchdog_cb);
    H = http_new(loop);
    S = stats_new(100, false, ev_now(loop));
    nrec = 0;
    overflow = false;
    memset(&hk, 0, sizeof hk);
    R = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    runner_free(R);
    stats_free(S);
    http_free(H);
    ev_loop_destroy(loop);
    struct coro_stats cs;
    coro_stats(&cs);
    assert_int_equal(cs.in_use, 0);
    coro_pool_release();
    alarm(0);
    assert_false(overflow);
    return 0;
}

/* ---- spawning ------------------------------------------------------------------------ */

static void test_ramp_in_iterations(void **state)
{
    (void)state;
    http_req ok = get(0, "/ok");
    struct script a = {.req = &ok};
    utask tasks[] = {task("A", 1, &a)};
    uclass c = make_class("A", 1, tasks, 1, (wait_spec){WAIT_CONSTANT, 0.05, 0});
    c.on_stop = task("stop", 1, &nothing);
    uclass *cls[] = {&c};
    runner *r = make_runner(cls, 1, 0, true, false);
    unsigned conns = tgt_conns();
    assert_int_equal(runner_state(r), RUNNER_READY);
    assert_string_equal(runner_state_name(runner_state(r)), "ready");
    start(r, 10, 5);
    assert_int_equal(hk.test_start, 1);
    assert_int_equal(runner_target(r), 10);
    assert_int_equal(runner_user_count(r), 0); /* the first iteration comes from the loop */
    RUN_UNTIL(runner_user_count(r) > 0, 1);
    double t1 = ev_now(loop);
    assert_int_equal(runner_user_count(r), 5);
    run_for(0.5);
    assert_int_equal(runner_user_count(r), 5);
    assert_int_equal(runner_state(r), RUNNER_SPAWNING);
    assert_string_equal(runner_state_name(runner_state(r)), "spawning");
    assert_true(stats_total(S)->num_requests > 0);
    assert_int_equal(hk.complete, 0);
    RUN_UNTIL(runner_user_count(r) == 10, 1.5);
    assert_between(ev_now(loop) - t1, 0.95, 1.1);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 0.5);
    assert_string_equal(runner_state_name(runner_state(r)), "running");
    assert_int_equal(hk.complete, 1);
    assert_int_equal(hk.complete_users, 10);
    assert_int_equal(hk.requests_at_complete, 0); /* reset_stats */
    assert_int_equal(runner_class_users(r, 0), 10);
    assert_int_equal(c.count, 10);
    assert_int_equal(runner_class_count(r), 1);
    /* Each user on its own keep-alive connection, which it keeps. */
    RUN_UNTIL(tgt_conns() == conns + 10, 1);
    run_for(0.2);
    assert_int_equal(tgt_conns(), conns + 10);
    assert_int_equal(tgt_ports_since(conns), 10);
    assert_ptr_equal(runner_class(r, 0), &c);
    stop_and_wait(r, 1);
    assert_int_equal(hk.test_stop, 1);
    assert_int_equal(hk.test_start, 1);
    assert_string_equal(runner_state_name(runner_state(r)), "stopped");
    assert_string_equal(stop_order(), "10 9 8 7 6 5 4 3 2 1");
    assert_int_equal(c.count, 0);
    free_runner(r);
    user_class_release(&c);
}

static void test_class_weights_follow_dispatch(void **state)
{
    (void)state;
    utask tasks[] = {task("T", 1, &nothing)};
    uclass b = make_class("B", 1, tasks, 1, (wait_spec){WAIT_CONSTANT, 10, 0});
    uclass a = make_class("A", 3, tasks, 1, (wait_spec){WAIT_CONSTANT, 10, 0});
    uclass *cls[] = {&b, &a};
    runner *r = make_runner(cls, 2, 0, false, false);
    /* Classes in name order. */
    assert_ptr_equal(runner_class(r, 0), &a);
    assert_ptr_equal(runner_class(r, 1), &b);
    dispatch_class dc[] = {{"A", 3, 0}, {"B", 1, 0}};
    const char *worker = "local";
    char err[256] = "";
    dispatch *d = dispatch_new(dc, 2, &worker, 1, err, sizeof err);
    assert_non_null(d);
    /* The smooth weighted round-robin of 3:1 is A A B A A A B A. */
    static const unsigned want[8][2] = {{1, 0}, {2, 0}, {2, 1}, {3, 1},
                                        {4, 1}, {5, 1}, {5, 2}, {6, 2}};
    for (unsigned n = 1; n <= 8; n++) {
        start(r, n, 100);
        assert_int_equal(dispatch_start(d, n, 100, NULL, 0, err, sizeof err), 0);
        while (dispatch_next(d, NULL))
            ;
        RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
        const unsigned *map = dispatch_worker_users(d, 0);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(runner_class_users(r, i), map[i]);
            assert_int_equal(runner_class_users(r, i), want[n - 1][i]);
            assert_int_equal(runner_class(r, i)->count, want[n - 1][i]);
        }
        assert_int_equal(hk.complete, n);
        assert_int_equal(hk.complete_users, n);
    }
    /* Editing a running test neither clears the stats nor starts a new test. */
    assert_int_equal(hk.test_start, 1);
    dispatch_free(d);
    stop_and_wait(r, 1);
    free_runner(r);
    user_class_release(&a);
    user_class_release(&b);
}

static void test_edit_stops_newest_first(void **state)
{
    (void)state;
    utask tasks[] = {task("T", 1, &nothing)};
    uclass a = make_class("A", 3, tasks, 1, (wait_spec){WAIT_CONSTANT, 10, 0});
    uclass b = make_class("B", 1, tasks, 1, (wait_spec){WAIT_CONSTANT, 10, 0});
    a.on_start = b.on_start = (utask){.name = "born", .weight = 1, .fn = born};
    a.on_stop = b.on_stop = task("stop", 1, &nothing);
    uclass *cls[] = {&a, &b};
    runner *r = make_runner(cls, 2, 0, false, false);
    start(r, 8, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
    for (uint32_t i = 1; i <= 8; i++)
        assert_string_equal(trace(i), i <= 6 ? "born:A T" : "born:B T");
    /* Down to 4: dispatch takes back the last four of A A B A A A B A, so A keeps 3 and
     * B 1, and within each class the newest users go first. */
    start(r, 4, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
    assert_string_equal(stop_order(), "6 5 4 8");
    assert_int_equal(runner_class_users(r, 0), 3);
    assert_int_equal(runner_class_users(r, 1), 1);
    assert_int_equal(runner_user_count(r), 4);
    /* Up to 6: two more of A, as new users. */
    start(r, 6, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
    assert_int_equal(runner_class_users(r, 0), 5);
    assert_int_equal(runner_class_users(r, 1), 1);
    assert_string_equal(trace(9), "born:A T");
    assert_string_equal(trace(10), "born:A T");
    assert_int_equal(hk.test_start, 1);
    stop_and_wait(r, 1);
    assert_string_equal(stop_order(), "6 5 4 8 10 9 3 2 1 7");
    free_runner(r);
    user_class_release(&a);
    user_class_release(&b);
}

/* ---- stopping ------------------------------------------------------------------------ */

static void test_stop_kills_at_once_without_timeout(void **state)
{
    (void)state;
    http_req slow = get(0, "/slow?ms=2000"), ok = get(1, "/ok");
    struct script a = {.req = &slow}, stop = {.req = &ok};
    utask tasks[] = {task("A", 1, &a)};
    uclass c = make_class("A", 1, tasks, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    c.on_stop = task("stop", 1, &stop);
    uclass *cls[] = {&c};
    runner *r = make_runner(cls, 1, 0, false, false);
    unsigned reqs = tgt_requests();
    start(r, 4, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING && tgt_requests() == reqs + 4, 1);
    double t0 = ev_now(loop);
    runner_stop(r);
    /* Every request cancelled; on_stop now waits for its own request. */
    assert_int_equal(runner_state(r), RUNNER_CLEANUP);
    assert_string_equal(runner_state_name(runner_state(r)), "cleanup");
    assert_int_equal(runner_user_count(r), 4);
    assert_int_equal(runner_class_users(r, 0), 0);
    RUN_UNTIL(runner_state(r) == RUNNER_STOPPED, 1);
    assert_between(hk.stop_at - t0, 0, 0.5);
    for (uint32_t i = 1; i <= 4; i++)
        assert_string_equal(trace(i), "A A:http=-2 stop stop:http=0");
    assert_int_equal(hk.test_stop, 1);
    assert_int_equal(stats_total(S)->num_requests, 4);
    runner_stop(r); /* already stopped: nothing happens */
    assert_int_equal(hk.test_stop, 1);
    assert_int_equal(runner_state(r), RUNNER_STOPPED);
    free_runner(r);
    user_class_release(&c);
}

static void test_stop_timeout(void **state)
{
    (void)state;
    struct script lng = {.sleep = 5}, shrt = {.sleep = 0.3};
    utask tl[] = {task("Long", 1, &lng)}, ts[] = {task("Short", 1, &shrt)},
          ti[] = {task("Idle", 1, &nothing)};
    uclass l = make_class("Long", 1, tl, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    uclass s = make_class("Short", 1, ts, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    uclass i = make_class("Idle", 1, ti, 1, (wait_spec){WAIT_CONSTANT, 10, 0});
    l.on_stop = s.on_stop = i.on_stop = task("stop", 1, &nothing);
    uclass *cls[] = {&l, &s, &i};
    runner *r = make_runner(cls, 3, 1, false, false);
    start(r, 3, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
    run_for(0.05);
    /* Class order is Idle, Long, Short: users 1, 2, 3. */
    assert_string_equal(trace(1), "Idle");
    assert_string_equal(trace(2), "Long");
    assert_string_equal(trace(3), "Short");
    log_wanted = "Not all users finished their tasks & terminated in 1 seconds. Stopping them...";
    log_matches = 0;
    log_set_observer(observe, NULL);
    char lerr[64];
    assert_int_equal(log_setup(LOG_INFO, NULL, false, lerr, sizeof lerr), 0);
    double t0 = ev_now(loop);
    runner_stop(r);
    assert_int_equal(runner_state(r), RUNNER_CLEANUP);
    /* Between tasks: stopped at once. */
    assert_string_equal(trace(1), "Idle stop");
    char err[128] = "";
    assert_int_equal(runner_start(r, 3, 1, err, sizeof err), -1);
    assert_string_equal(err, "the previous test is still stopping; try again shortly");
    assert_int_equal(runner_state(r), RUNNER_CLEANUP);
    RUN_UNTIL(runner_state(r) == RUNNER_STOPPED, 2);
    log_set_observer(NULL, NULL);
    assert_int_equal(log_setup(LOG_WARNING, NULL, false, lerr, sizeof lerr), 0);
    /* A short task is finished; a long one is killed at the deadline. */
    assert_string_equal(trace(3), "Short Short:sleep=0 stop");
    assert_between(time_of(3, "stop") - t0, 0.2, 0.3);
    assert_string_equal(trace(2), "Long Long:sleep=-2 stop");
    assert_between(time_of(2, "stop") - t0, 1.0, 1.15);
    assert_between(hk.stop_at - t0, 1.0, 1.15);
    assert_int_equal(log_matches, 1);
    assert_int_equal(hk.test_stop, 1);
    free_runner(r);
    user_class_release(&l);
    user_class_release(&s);
    user_class_release(&i);
}

static void test_on_stop_grace(void **state)
{
    (void)state;
    /* RUNNER_ON_STOP_GRACE is 10 s: this test takes that long. */
    struct script stop = {.sleep = 1000};
    utask tasks[] = {task("A", 1, &nothing)};
    uclass c = make_class("A", 1, tasks, 1, (wait_spec){WAIT_CONSTANT, 1000, 0});
    c.on_stop = task("stop", 1, &stop);
    uclass *cls[] = {&c};
    runner *r = make_runner(cls, 1, 0, false, false);
    start(r, 1, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
    double t0 = ev_now(loop);
    runner_stop(r);
    assert_string_equal(trace(1), "A stop");
    RUN_UNTIL(runner_state(r) == RUNNER_STOPPED, RUNNER_ON_STOP_GRACE + 1);
    assert_string_equal(trace(1), "A stop stop:sleep=-2");
    assert_between(time_of(1, "stop:sleep=-2") - t0, RUNNER_ON_STOP_GRACE,
                   RUNNER_ON_STOP_GRACE + 0.15);
    assert_int_equal(hk.test_stop, 1);
    free_runner(r);
    user_class_release(&c);
}

static void test_users_that_stop_themselves(void **state)
{
    (void)state;
    struct script now = {.stop_self = true}, later = {.sleep = 0.05, .stop_self = true};
    utask tn[] = {task("Now", 1, &now)}, tl[] = {task("Later", 1, &later)};
    uclass n = make_class("Now", 1, tn, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    uclass l = make_class("Later", 1, tl, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    n.on_stop = l.on_stop = task("stop", 1, &nothing);
    uclass *cls[] = {&n, &l};
    runner *r = make_runner(cls, 2, 0, false, false);
    /* Users that end inside their first task are not replaced: the ramp ends. */
    start(r, 4, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
    assert_int_equal(runner_class_users(r, 1), 0);
    assert_int_equal(runner_class_users(r, 0), 2);
    RUN_UNTIL(runner_user_count(r) == 0, 1);
    assert_int_equal(runner_state(r), RUNNER_RUNNING);
    assert_int_equal(n.count, 0);
    assert_int_equal(l.count, 0);
    for (uint32_t i = 1; i <= 4; i++)
        assert_string_equal(trace(i), i <= 2 ? "Later Later:sleep=0 stop" : "Now stop");
    runner_stop(r);
    assert_int_equal(runner_state(r), RUNNER_STOPPED);
    assert_int_equal(hk.test_stop, 1);
    free_runner(r);
    user_class_release(&n);
    user_class_release(&l);
}

/* ---- tests, run time, errors --------------------------------------------------------- */

static void test_run_time(void **state)
{
    (void)state;
    utask tasks[] = {task("A", 1, &nothing)};
    uclass c = make_class("A", 1, tasks, 1, (wait_spec){WAIT_CONSTANT, 10, 0});
    uclass *cls[] = {&c};
    /* With a hook, the hook decides. */
    runner *r = make_runner(cls, 1, 0, false, true);
    runner_set_run_time(r, 0.2);
    start(r, 2, 100);
    RUN_UNTIL(hk.run_time == 1, 1);
    assert_between(hk.run_time_at - hk.start_at, 0.199, 0.3);
    assert_int_equal(runner_state(r), RUNNER_RUNNING);
    stop_and_wait(r, 1);
    runner_set_run_time(r, 0);
    start(r, 2, 100);
    run_for(0.3);
    assert_int_equal(hk.run_time, 1);
    stop_and_wait(r, 1);
    free_runner(r);
    /* Without one, the runner stops the test. */
    memset(&hk, 0, sizeof hk);
    r = make_runner(cls, 1, 0, false, false);
    runner_set_run_time(r, 0.2);
    start(r, 2, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_STOPPED, 1);
    assert_between(hk.stop_at - hk.start_at, 0.199, 0.3);
    assert_int_equal(hk.test_stop, 1);
    free_runner(r);
    user_class_release(&c);
}

static void test_restart_clears_stats(void **state)
{
    (void)state;
    http_req ok = get(0, "/ok");
    struct script a = {.req = &ok};
    utask tasks[] = {task("A", 1, &a)};
    uclass c = make_class("A", 1, tasks, 1, (wait_spec){WAIT_CONSTANT, 0.01, 0});
    uclass *cls[] = {&c};
    runner *r = make_runner(cls, 1, 0, false, false);
    stats_log_exception(S, "old", "old", "local");
    start(r, 2, 100);
    assert_int_equal(hk.test_start, 1);
    size_t nx;
    stats_exceptions(S, &nx);
    assert_int_equal(nx, 0);
    RUN_UNTIL(stats_total(S)->num_requests >= 6, 2);
    /* Nothing waits on on_stop: stopped as soon as runner_stop returns. */
    runner_stop(r);
    assert_int_equal(runner_state(r), RUNNER_STOPPED);
    assert_int_equal(hk.test_stop, 1);
    uint64_t before = stats_total(S)->num_requests;
    assert_true(before >= 6);
    size_t n;
    stats_sorted(S, &n);
    assert_int_equal(n, 1);
    start(r, 2, 100);
    assert_int_equal(hk.test_start, 2);
    assert_int_equal(hk.requests_at_start, 0);
    assert_int_equal(hk.entries_at_start, 0);
    RUN_UNTIL(count(3, "A:http=0") >= 1 && count(4, "A:http=0") >= 1, 1);
    stop_and_wait(r, 1);
    assert_int_equal(hk.test_stop, 2);
    free_runner(r);
    user_class_release(&c);
}

static void test_errors(void **state)
{
    (void)state;
    utask tasks[] = {task("A", 1, &nothing)};
    uclass a = make_class("A", 1, tasks, 1, (wait_spec){WAIT_CONSTANT, 1, 0});
    uclass a2 = make_class("A", 2, tasks, 1, (wait_spec){WAIT_CONSTANT, 1, 0});
    uclass z = make_class("Z", 0, tasks, 1, (wait_spec){WAIT_CONSTANT, 1, 0});
    runner_config cfg = {0};
    char err[256] = "";
    uclass *none[] = {NULL};
    assert_null(runner_new(loop, H, S, none, 0, &cfg, NULL, err, sizeof err));
    assert_string_equal(err, "No User class found!");
    uclass *dup[] = {&a, &a2};
    assert_null(runner_new(loop, H, S, dup, 2, &cfg, NULL, err, sizeof err));
    assert_string_equal(err, "duplicate user class name \"A\"");
    uclass *zero[] = {&z};
    assert_null(runner_new(loop, H, S, zero, 1, &cfg, NULL, err, sizeof err));
    assert_string_equal(err, "no user class has a weight or a fixed count");
    uclass *one[] = {&a, &z};
    runner *r = R = runner_new(loop, H, S, one, 2, &cfg, NULL, err, sizeof err);
    assert_non_null(r);
    static const double bad[] = {0, -1, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(runner_start(r, 1, bad[i], err, sizeof err), -1);
        assert_string_equal(err, "spawn rate must be a number > 0");
        assert_int_equal(runner_state(r), RUNNER_READY);
    }
    /* Hooks are optional. */
    assert_int_equal(runner_start(r, 2, 100, err, sizeof err), 0);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
    assert_int_equal(runner_class_users(r, 0), 2);
    assert_int_equal(runner_class_users(r, 1), 0);
    runner_stop(r);
    assert_int_equal(runner_state(r), RUNNER_STOPPED);
    free_runner(r);
    runner_free(NULL);
    assert_string_equal(runner_state_name(RUNNER_STOPPING), "stopping");
    assert_string_equal(runner_state_name(RUNNER_MISSING), "missing");
    assert_string_equal(runner_state_name(99), "unknown");
    user_class_release(&a);
    user_class_release(&a2);
    user_class_release(&z);
}

static void test_free_with_live_users(void **state)
{
    (void)state;
    http_req slow = get(0, "/slow?ms=2000");
    struct script fetch = {.req = &slow}, nap = {.sleep = 5};
    utask tf[] = {task("F", 1, &fetch)}, tn[] = {task("N", 1, &nap)},
          ti[] = {task("I", 1, &nothing)};
    uclass f = make_class("F", 1, tf, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    uclass n = make_class("N", 1, tn, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    uclass i = make_class("I", 1, ti, 1, (wait_spec){WAIT_CONSTANT, 10, 0});
    f.on_stop = n.on_stop = i.on_stop = task("stop", 1, &fetch);
    uclass *cls[] = {&f, &n, &i};
    runner *r = make_runner(cls, 3, 5, false, false);
    unsigned reqs = tgt_requests();
    start(r, 12, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING && tgt_requests() == reqs + 4, 1);
    /* Some users stopping (in a task, or in on_stop), some running, some recycled. */
    start(r, 6, 100);
    RUN_UNTIL(runner_state(r) == RUNNER_RUNNING, 1);
    assert_int_equal(runner_user_count(r), 12);
    assert_true(http_in_flight(H) > 0);
    free_runner(r);
    assert_int_equal(http_in_flight(H), 0);
    struct coro_stats cs;
    coro_stats(&cs);
    assert_int_equal(cs.in_use, 0);
    user_class_release(&f);
    user_class_release(&n);
    user_class_release(&i);
}

int main(void)
{
    char err[64];
    /* The runner's INFO lines would drown the test report. */
    if (log_setup(LOG_WARNING, NULL, false, err, sizeof err) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ramp_in_iterations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_class_weights_follow_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_stops_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_kills_at_once_without_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_stop_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_that_stop_themselves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_clears_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_live_users, setup, teardown),
    };
    return cmocka_run_group_tests(tests, tgt_start, tgt_stop);
}
