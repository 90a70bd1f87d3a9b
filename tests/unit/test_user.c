/* engine/user: Locust's user lifecycle on coroutines, driven by a real libev loop, with
 * real requests to a loopback HTTP/1.1 keep-alive target (a forked child). Task functions
 * written against user.h record what they see; the tests check order, timing and results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "coro.h"
#include "http.h"
#include "log.h"
#include "loopback.h"
#include "stats.h"
#include "user.h"
#include "xalloc.h"

static stats *S;
static user_env env;

#include "usertrace.h"

static int dead;

static void on_dead(user_env *e, user *u)
{
    assert_ptr_equal(e, &env);
    assert_int_equal(u->state, USER_DEAD);
    note(u, "dead");
    dead++;
}

static uclass make_class(utask *tasks, int ntasks, wait_spec w)
{
    uclass c = {.name = "U", .weight = 1, .wait = w, .tasks = tasks, .ntasks = ntasks};
    user_class_prepare(&c);
    return c;
}

/* Users alive in the current test, so teardown can release them after a failure. */
static user *alive[8];

static user *spawn(uclass *c, uint32_t index)
{
    assert_true(index < 8 && !alive[index]);
    user *u = alive[index] = xcalloc(1, sizeof *u);
    user_init(u, &env, c, index);
    assert_int_equal(u->state, USER_IDLE);
    user_start(u);
    return u;
}

static void reap(user *u)
{
    alive[u->index] = NULL;
    user_release(u);
    free(u);
}

/* Calls fn(u) after some seconds, from the loop. */
struct act {
    ev_timer t;
    void (*fn)(user *u);
    user *u;
};

static void act_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l, (void)revents;
    struct act *a = (struct act *)w;
    a->fn(a->u);
}

static void act_at(struct act *a, double after, void (*fn)(user *u), user *u)
{
    ev_timer_init(&a->t, act_cb, after, 0.);
    a->fn = fn;
    a->u = u;
    ev_timer_start(loop, &a->t);
}

static char urls[8][128];

static http_req get(int i, const char *path)
{
    snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d%s", tgt.port, path);
    return (http_req){.method = "GET", .kind = HTTP_GET, .url = urls[i]};
}

static int setup(void **state)
{
    (void)state;
    alarm(30); /* last resort if the loop itself stops turning */
    loop = ev_loop_new(EVFLAG_AUTO);
    ev_init(&watchdog, watchdog_cb);
    H = http_new(loop);
    S = stats_new(100, false, ev_now(loop));
    env = (user_env){.loop = loop, .http = H, .stats = S, .node = "local", .on_dead = on_dead};
    nrec = 0;
    overflow = false;
    dead = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++)
        if (alive[i])
            reap(alive[i]);
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

/* ---- lifecycle ----------------------------------------------------------------------- */

static void test_lifecycle_order(void **state)
{
    (void)state;
    struct script start = {.sleep = 0.05};
    utask tasks[] = {task("A", 1, &nothing)};
    uclass c = make_class(tasks, 1, (wait_spec){WAIT_CONSTANT, 0.1, 0});
    c.on_start = task("start", 1, &start);
    c.on_stop = task("stop", 1, &nothing);
    user *u = spawn(&c, 1);
    assert_int_equal(u->state, USER_STARTING);
    RUN_UNTIL(count(1, "A") == 3, 2);
    assert_int_equal(u->state, USER_WAITING);
    user_stop(u);
    /* on_stop does not suspend, so the user is finished when user_stop returns. */
    assert_int_equal(dead, 1);
    assert_int_equal(u->state, USER_DEAD);
    assert_string_equal(trace(1), "start start:sleep=0 A A A stop dead");
    double a[3];
    assert_int_equal(times(1, "A", a, 3), 3);
    /* The first task right after on_start, then one wait between tasks. */
    assert_between(a[0] - time_of(1, "start:sleep=0"), 0, 0.005);
    assert_between(a[1] - a[0], 0.099, 0.2);
    assert_between(a[2] - a[1], 0.099, 0.2);
    assert_between(time_of(1, "stop") - a[2], 0, 0.05);
    reap(u);
    user_class_release(&c);
}

static void test_wait_constant_and_between(void **state)
{
    (void)state;
    utask tasks[] = {task("A", 1, &nothing)};
    uclass fixed = make_class(tasks, 1, (wait_spec){WAIT_CONSTANT, 0.1, 0});
    uclass between = make_class(tasks, 1, (wait_spec){WAIT_BETWEEN, 0.05, 0.15});
    user *u1 = spawn(&fixed, 1), *u2 = spawn(&between, 2);
    RUN_UNTIL(count(1, "A") >= 6 && count(2, "A") >= 6, 3);
    user_stop(u1);
    user_stop(u2);
    assert_int_equal(dead, 2);
    double a[6], b[6];
    assert_int_equal(times(1, "A", a, 6), 6);
    assert_int_equal(times(2, "A", b, 6), 6);
    double lo = 1, hi = 0;
    for (int i = 1; i < 6; i++) {
        assert_between(a[i] - a[i - 1], 0.099, 0.2);
        assert_between(b[i] - b[i - 1], 0.049, 0.25);
        lo = fmin(lo, b[i] - b[i - 1]);
        hi = fmax(hi, b[i] - b[i - 1]);
    }
    assert_true(hi - lo > 0.002); /* drawn, not constant */
    reap(u1);
    reap(u2);
    user_class_release(&fixed);
    user_class_release(&between);
}

static void test_constant_pacing_and_throughput(void **state)
{
    (void)state;
    struct script s100 = {.sleep = 0.1}, s50 = {.sleep = 0.05};
    utask tp[] = {task("A", 1, &s100)}, tt[] = {task("A", 1, &s50)};
    uclass pacing = make_class(tp, 1, (wait_spec){WAIT_PACING, 0.3, 0});
    uclass throughput = make_class(tt, 1, (wait_spec){WAIT_THROUGHPUT, 4, 0});
    user *u1 = spawn(&pacing, 1), *u2 = spawn(&throughput, 2);
    RUN_UNTIL(count(1, "A") >= 4, 3);
    user_stop(u1);
    user_stop(u2);
    RUN_UNTIL(dead == 2, 1);
    /* Locust's formula: the first wait is a whole period after the task ends; then each
     * wait is the period minus the task's time, so starts are a period apart (a late
     * start shortens the next wait: the starts keep to their grid). */
    double a[4], b[4];
    assert_int_equal(times(1, "A", a, 4), 4);
    assert_between(a[1] - a[0], 0.399, 0.45);
    assert_between(a[2] - a[1], 0.28, 0.34);
    assert_between(a[3] - a[2], 0.28, 0.34);
    assert_between(a[3] - a[1], 0.58, 0.64);
    assert_int_equal(times(2, "A", b, 4), 4);
    assert_between(b[1] - b[0], 0.299, 0.34);
    assert_between(b[2] - b[1], 0.23, 0.29);
    assert_between(b[3] - b[2], 0.23, 0.29);
    assert_between(b[3] - b[1], 0.48, 0.54);
    reap(u1);
    reap(u2);
    user_class_release(&pacing);
    user_class_release(&throughput);
}

/* ---- choosing tasks ------------------------------------------------------------------ */

static void test_sequential_with_weights(void **state)
{
    (void)state;
    utask tasks[] = {task("A", 2, &nothing), task("B", 1, &nothing)};
    uclass c = make_class(tasks, 2, (wait_spec){WAIT_CONSTANT, 0, 0});
    c.sequential = true;
    user *u = spawn(&c, 1);
    RUN_UNTIL(count(1, "A") + count(1, "B") >= 9, 2);
    user_stop(u);
    assert_int_equal(dead, 1);
    const char *t = trace(1);
    assert_int_equal(strncmp(t, "A A B A A B A A B", 17), 0);
    reap(u);
    user_class_release(&c);
}

static void tally(user *u, void *data)
{
    (void)u;
    ++*(long *)data;
}

static void tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l, (void)revents;
    ++*(int *)w->data;
}

static void test_weighted_random_choice(void **state)
{
    (void)state;
    long na = 0, nb = 0;
    utask tasks[] = {{.name = "A", .weight = 1, .fn = tally, .data = &na},
                     {.name = "B", .weight = 3, .fn = tally, .data = &nb}};
    uclass c = make_class(tasks, 2, (wait_spec){WAIT_CONSTANT, 0, 0});
    assert_int_equal(c.total_weight, 4);
    int ticks = 0;
    ev_timer tick;
    ev_timer_init(&tick, tick_cb, 0.01, 0.01);
    tick.data = &ticks;
    ev_timer_start(loop, &tick);
    unsigned iter = ev_iteration(loop);
    user *u = spawn(&c, 1);
    /* Tasks that never suspend, with no wait: the user must still go through the loop
     * between tasks, or neither the ticker nor the deadline would ever fire. */
    run_for(0.3);
    ev_timer_stop(loop, &tick);
    user_stop(u);
    assert_int_equal(dead, 1);
    long n = na + nb;
    unsigned loops = ev_iteration(loop) - iter;
    assert_true(n >= 500);
    assert_true(loops >= (unsigned)n - 1);
    assert_true(ticks >= 15);
    double p = (double)nb / (double)n, sd = sqrt(0.75 * 0.25 / (double)n);
    if (fabs(p - 0.75) > 5 * sd + 0.001)
        fail_msg("B chosen %ld of %ld times (%.4f), expected 0.75", nb, n, p);
    reap(u);
    user_class_release(&c);
}

/* ---- stopping ------------------------------------------------------------------------ */

static void test_stop_or_kill_while_waiting(void **state)
{
    (void)state;
    http_req ok = get(0, "/ok");
    struct script stop = {.req = &ok};
    utask tasks[] = {task("A", 1, &nothing)};
    uclass c = make_class(tasks, 1, (wait_spec){WAIT_CONSTANT, 10, 0});
    c.on_stop = task("stop", 1, &stop);
    unsigned conns = tgt_conns();
    user *u1 = spawn(&c, 1), *u2 = spawn(&c, 2);
    assert_int_equal(u1->state, USER_WAITING);
    run_for(0.05);
    ev_now_update(loop);
    double t0 = ev_now(loop);
    user_stop(u1);
    user_kill(u2);
    /* Both went to on_stop at once, which now waits for its request. */
    assert_string_equal(trace(1), "A stop");
    assert_string_equal(trace(2), "A stop");
    assert_int_equal(u1->state, USER_STOPPING);
    assert_int_equal(u2->state, USER_STOPPING);
    assert_between(time_of(1, "stop") - t0, 0, 0.001);
    RUN_UNTIL(dead == 2, 2);
    /* A killed user's on_stop runs in full, requests included. */
    assert_string_equal(trace(1), "A stop stop:http=0 dead");
    assert_string_equal(trace(2), "A stop stop:http=0 dead");
    assert_int_equal(stats_total(S)->num_requests, 2);
    assert_int_equal(tgt_ports_since(conns), 2); /* each user its own connection */
    reap(u1);
    reap(u2);
    user_class_release(&c);
}

static void test_stop_lets_the_task_finish(void **state)
{
    (void)state;
    struct script a = {.sleep = 0.2, .show_stopping = true}, start = {.sleep = 0.1};
    utask tasks[] = {task("A", 1, &a)};
    uclass c = make_class(tasks, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    c.on_stop = task("stop", 1, &nothing);
    uclass c2 = c;
    c2.on_start = task("start", 1, &start);
    user *u1 = spawn(&c, 1), *u2 = spawn(&c2, 2);
    double t0 = ev_now(loop);
    struct act s1, s2;
    act_at(&s1, 0.1, user_stop, u1);
    act_at(&s2, 0.05, user_stop, u2);
    RUN_UNTIL(dead == 2, 2);
    /* In a task: the task runs to its end, then on_stop; no further task. */
    assert_string_equal(trace(1), "A A:sleep=0 A:stopping=1 stop dead");
    assert_between(time_of(1, "A:sleep=0") - t0, 0.199, 0.3);
    assert_between(time_of(1, "stop") - time_of(1, "A:sleep=0"), 0, 0.001);
    /* In on_start: on_start runs to its end, then on_stop, no task at all. */
    assert_string_equal(trace(2), "start start:sleep=0 stop dead");
    assert_between(time_of(2, "stop") - t0, 0.099, 0.2);
    reap(u1);
    reap(u2);
    user_class_release(&c);
}

static void test_kill_cancels_request(void **state)
{
    (void)state;
    http_req slow = get(0, "/slow?ms=2000"), ok = get(1, "/ok");
    struct script a = {.req = &slow}, stop = {.req = &ok};
    utask tasks[] = {task("A", 1, &a)};
    uclass c = make_class(tasks, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    c.on_stop = task("stop", 1, &stop);
    unsigned reqs = tgt_requests();
    user *u = spawn(&c, 1);
    double t0 = ev_now(loop);
    struct act k;
    act_at(&k, 0.1, user_kill, u);
    RUN_UNTIL(dead == 1, 1);
    assert_string_equal(trace(1), "A A:http=-2 stop stop:http=0 dead");
    assert_between(time_of(1, "A:http=-2") - t0, 0.099, 0.2);
    assert_int_equal(http_in_flight(H), 0);
    /* Only on_stop's request is in the statistics. */
    size_t n;
    stats_entry *const *e = stats_sorted(S, &n);
    assert_int_equal(n, 1);
    assert_string_equal(e[0]->name, "stop");
    assert_int_equal(e[0]->num_requests, 1);
    assert_int_equal(stats_total(S)->num_requests, 1);
    assert_int_equal(tgt_requests(), reqs + 2);
    reap(u);
    user_class_release(&c);
}

static void test_second_kill_cancels_on_stop(void **state)
{
    (void)state;
    http_req slow = get(0, "/slow?ms=2000");
    struct script a = {.sleep = 5}, sleeper = {.sleep = 5}, fetcher = {.req = &slow};
    utask tasks[] = {task("A", 1, &a)};
    uclass c1 = make_class(tasks, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    uclass c2 = c1;
    c1.on_stop = task("stop", 1, &sleeper);
    c2.on_stop = task("stop", 1, &fetcher);
    user *u1 = spawn(&c1, 1), *u2 = spawn(&c2, 2);
    double t0 = ev_now(loop);
    struct act k1, k2, k3, k4;
    act_at(&k1, 0.1, user_kill, u1);
    act_at(&k2, 0.1, user_kill, u2);
    act_at(&k3, 0.2, user_kill, u1);
    act_at(&k4, 0.2, user_kill, u2);
    RUN_UNTIL(dead == 2, 1);
    assert_string_equal(trace(1), "A A:sleep=-2 stop stop:sleep=-2 dead");
    assert_string_equal(trace(2), "A A:sleep=-2 stop stop:http=-2 dead");
    assert_between(time_of(1, "dead") - t0, 0.199, 0.3);
    assert_between(time_of(2, "dead") - t0, 0.199, 0.3);
    assert_int_equal(http_in_flight(H), 0);
    assert_int_equal(stats_total(S)->num_requests, 0);
    user_kill(u1); /* finished: nothing happens */
    user_stop(u1);
    assert_int_equal(dead, 2);
    reap(u1);
    reap(u2);
    user_class_release(&c1);
}

static void test_task_kills_its_own_user(void **state)
{
    (void)state;
    http_req ok = get(0, "/ok");
    struct script a = {.kill_self = true, .sleep = 1, .req = &ok, .show_stopping = true};
    struct script b = {.stop_self = true, .sleep = 0.05, .show_stopping = true};
    utask ta[] = {task("A", 1, &a)}, tb[] = {task("B", 1, &b)};
    uclass ca = make_class(ta, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    uclass cb = make_class(tb, 1, (wait_spec){WAIT_CONSTANT, 0, 0});
    ca.on_stop = cb.on_stop = task("stop", 1, &nothing);
    unsigned reqs = tgt_requests();
    user *u1 = spawn(&ca, 1);
    /* Nothing suspended: killed, cancelled, on_stop and finished within user_start. */
    assert_int_equal(dead, 1);
    assert_string_equal(trace(1), "A A:sleep=-2 A:http=-2 A:stopping=1 stop dead");
    /* Stopping itself only ends the user after the task. */
    user *u2 = spawn(&cb, 2);
    RUN_UNTIL(dead == 2, 1);
    assert_string_equal(trace(2), "B B:sleep=0 B:stopping=1 stop dead");
    assert_int_equal(tgt_requests(), reqs);
    reap(u1);
    reap(u2);
    user_class_release(&ca);
    user_class_release(&cb);
}

/* ---- exceptions ---------------------------------------------------------------------- */

static int error_lines;
static char last_error[512];

static void observe(void *data, int level, const char *line)
{
    (void)data;
    if (level == LOG_ERROR && strstr(line, "/cicada.user: ")) {
        error_lines++;
        snprintf(last_error, sizeof last_error, "%s", strstr(line, "/cicada.user: ") + 14);
    }
}

static void raiser(user *u, void *data)
{
    (void)data;
    note(u, "E");
    user_exception(u, "boom", "task E");
    user_exception(u, "boom", "task E");
    user_exception(u, "bang", "task E");
}

static void test_user_exception(void **state)
{
    (void)state;
    utask tasks[] = {{.name = "E", .weight = 1, .fn = raiser}};
    uclass c = make_class(tasks, 1, (wait_spec){WAIT_CONSTANT, 0.01, 0});
    error_lines = 0;
    log_set_observer(observe, NULL);
    user *u = spawn(&c, 1);
    assert_int_equal(error_lines, 2);
    assert_string_equal(last_error, "task E: bang");
    RUN_UNTIL(count(1, "E") == 3, 1);
    user_stop(u);
    log_set_observer(NULL, NULL);
    /* Logged the first time only, counted every time. */
    assert_int_equal(error_lines, 2);
    size_t n;
    stats_exception *const *x = stats_exceptions(S, &n);
    assert_int_equal(n, 2);
    assert_string_equal(x[0]->msg, "boom");
    assert_string_equal(x[0]->traceback, "task E");
    assert_string_equal(x[0]->nodes, "local");
    assert_int_equal(x[0]->count, 6);
    assert_string_equal(x[1]->msg, "bang");
    assert_int_equal(x[1]->count, 3);
    assert_int_equal(stats_total(S)->num_requests, 0);
    reap(u);
    user_class_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_constant_and_between, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constant_pacing_and_throughput, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequential_with_weights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weighted_random_choice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_or_kill_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_lets_the_task_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_cancels_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_kill_cancels_on_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_kills_its_own_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_exception, setup, teardown),
    };
    return cmocka_run_group_tests(tests, tgt_start, tgt_stop);
}
