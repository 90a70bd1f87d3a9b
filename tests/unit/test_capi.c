/* engine/capi: the C API of include/cicada.h. The registry (cicada_add_class validation
 * and copies, cicada_on, capi_registry_free), the event hooks, and the task API on real
 * users driven by a real libev loop against the loopback target (loopback.h): suspending
 * calls, variables, context memory, reports into the statistics, fd waits, and misuse
 * from outside a task.
 *
 * Task functions run on coroutines, where a failing cmocka assertion must not jump out:
 * they record what they see into `seen` and the test body asserts afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <sys/socket.h>

#include "capi.h"
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

/* ---- log capture ---------------------------------------------------------------------- */

static int capi_errors;
static char capi_last[512];

static void observe(void *data, int level, const char *line)
{
    (void)data;
    const char *m = strstr(line, "/cicada.capi: ");
    if (level == LOG_ERROR && m) {
        capi_errors++;
        snprintf(capi_last, sizeof capi_last, "%s", m + 14);
    }
}

static void capture(void)
{
    capi_errors = 0;
    capi_last[0] = 0;
    log_set_observer(observe, NULL);
}

static void no_task(cicada_user *u)
{
    (void)u;
}

/* ---- registry: cicada_add_class ---------------------------------------------------------- */

static const cicada_task one_task[] = {{.name = "t", .weight = 1, .fn = no_task}};

static cicada_class good_class(void)
{
    return (cicada_class){.name = "C", .weight = 1, .tasks = one_task, .ntasks = 1};
}

/* Adds cls and expects a refusal whose message ends with why. */
static void refused(cicada_registry *reg, const cicada_class *cls, const char *why)
{
    int before = reg->errors, classes = reg->nclasses;
    capture();
    assert_int_equal(cicada_add_class(reg, cls), CICADA_MISUSE);
    log_set_observer(NULL, NULL);
    assert_int_equal(capi_errors, 1);
    char want[256];
    snprintf(want, sizeof want, "t.c: cicada_add_class(%s): %s",
             cls && cls->name ? cls->name : "?", why);
    assert_string_equal(capi_last, want);
    assert_int_equal(reg->errors, before + 1);
    assert_int_equal(reg->nclasses, classes);
}

static void test_add_class_validation(void **state)
{
    (void)state;
    cicada_registry reg = {.file = "t.c"};
    refused(&reg, NULL, "no class");
    cicada_class c = good_class();
    c.name = NULL;
    refused(&reg, &c, "a class needs a name");
    c.name = "";
    refused(&reg, &c, "a class needs a name");
    c = good_class();
    c.weight = -1;
    refused(&reg, &c, "weight and fixed_count must be >= 0");
    c = good_class();
    c.fixed_count = -2;
    refused(&reg, &c, "weight and fixed_count must be >= 0");
    c = good_class();
    c.tasks = NULL;
    refused(&reg, &c, "a class needs at least one task");
    c = good_class();
    c.ntasks = 0;
    refused(&reg, &c, "a class needs at least one task");

    static const struct {
        int wait;
        double a, b;
    } bad_waits[] = {
        {-1, 0, 0}, {CICADA_WAIT_THROUGHPUT + 1, 0, 0}, {CICADA_WAIT_CONSTANT, -1, 0},
        {CICADA_WAIT_CONSTANT, NAN, 0}, {CICADA_WAIT_CONSTANT, INFINITY, 0},
        {CICADA_WAIT_CONSTANT, 0, -1}, {CICADA_WAIT_BETWEEN, 2, 1},
        {CICADA_WAIT_PACING, 0, 0}, {CICADA_WAIT_THROUGHPUT, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad_waits / sizeof bad_waits[0]; i++) {
        c = good_class();
        c.wait = (enum cicada_wait)bad_waits[i].wait;
        c.wait_a = bad_waits[i].a;
        c.wait_b = bad_waits[i].b;
        refused(&reg, &c, "a bad wait time");
    }
    cicada_task no_fn[] = {{.name = "a", .weight = 1, .fn = no_task}, {.name = "b"}};
    c = good_class();
    c.tasks = no_fn;
    c.ntasks = 2;
    refused(&reg, &c, "every task needs a function and a weight >= 0");
    cicada_task negative[] = {{.name = "a", .weight = -1, .fn = no_task}};
    c = good_class();
    c.tasks = negative;
    refused(&reg, &c, "every task needs a function and a weight >= 0");

    /* Accepted: every wait kind with sensible values, weight 0 and fixed counts. */
    capture();
    c = good_class();
    c.wait = CICADA_WAIT_BETWEEN, c.wait_a = 1, c.wait_b = 1;
    assert_int_equal(cicada_add_class(&reg, &c), CICADA_OK);
    c.wait = CICADA_WAIT_PACING, c.wait_a = 0.5;
    assert_int_equal(cicada_add_class(&reg, &c), CICADA_OK);
    c.wait = CICADA_WAIT_THROUGHPUT, c.wait_a = 3, c.wait_b = 0;
    c.weight = 0, c.fixed_count = 4;
    assert_int_equal(cicada_add_class(&reg, &c), CICADA_OK);
    cicada_task zero[] = {{.weight = 0, .fn = no_task}};
    c = good_class();
    c.tasks = zero;
    assert_int_equal(cicada_add_class(&reg, &c), CICADA_OK);
    log_set_observer(NULL, NULL);
    assert_int_equal(capi_errors, 0);
    assert_int_equal(reg.nclasses, 4);
    assert_null(reg.classes[3].tasks[0].name);  /* the loader names it "task 1" */
    assert_int_equal(reg.errors, 18);
    capi_registry_free(&reg);
}

static void test_add_class_without_registry(void **state)
{
    (void)state;
    cicada_class c = good_class();
    capture();
    assert_int_equal(cicada_add_class(NULL, &c), CICADA_MISUSE);
    log_set_observer(NULL, NULL);
    assert_int_equal(capi_errors, 1);
    assert_string_equal(capi_last, "?: cicada_add_class(C): no class");
}

static void test_add_class_copies(void **state)
{
    (void)state;
    char name[] = "Shopper", host[] = "http://127.0.0.1:1", tname[] = "browse",
         tags[] = "a, b";
    cicada_task tasks[] = {{.name = tname, .weight = 3, .fn = no_task, .tags = tags},
                           {.name = "other", .weight = 1, .fn = no_task}};
    cicada_class c = {.name = name, .weight = 2, .fixed_count = 0, .host = host,
                      .wait = CICADA_WAIT_BETWEEN, .wait_a = 0.5, .wait_b = 1.5,
                      .sequential = 1, .on_start = no_task, .tasks = tasks, .ntasks = 2,
                      .context_size = 100};
    cicada_registry reg = {.file = "t.c"};
    assert_int_equal(cicada_add_class(&reg, &c), CICADA_OK);
    /* The plugin may reuse or free what it passed. */
    memset(name, 'x', sizeof name - 1);
    memset(host, 'x', sizeof host - 1);
    memset(tname, 'x', sizeof tname - 1);
    memset(tags, 'x', sizeof tags - 1);
    tasks[0].weight = 99;
    tasks[1].fn = NULL;
    assert_int_equal(reg.nclasses, 1);
    const capi_class *k = &reg.classes[0];
    assert_string_equal(k->c.name, "Shopper");
    assert_string_equal(k->c.host, "http://127.0.0.1:1");
    assert_ptr_not_equal(k->c.name, name);
    assert_ptr_equal(k->c.tasks, k->tasks);
    assert_ptr_not_equal(k->tasks, tasks);
    assert_string_equal(k->tasks[0].name, "browse");
    assert_string_equal(k->tasks[0].tags, "a, b");
    assert_int_equal(k->tasks[0].weight, 3);
    assert_ptr_equal(k->tasks[0].fn, no_task);
    assert_string_equal(k->tasks[1].name, "other");
    assert_null(k->tasks[1].tags);
    assert_ptr_equal(k->tasks[1].fn, no_task);
    assert_int_equal(k->c.weight, 2);
    assert_int_equal(k->c.wait, CICADA_WAIT_BETWEEN);
    assert_true(k->c.wait_a == 0.5 && k->c.wait_b == 1.5);
    assert_int_equal(k->c.sequential, 1);
    assert_ptr_equal(k->c.on_start, no_task);
    assert_null(k->c.on_stop);
    assert_int_equal(k->c.context_size, 100);
    /* No host stays no host. */
    c = good_class();
    c.name = "NoHost";
    assert_int_equal(cicada_add_class(&reg, &c), CICADA_OK);
    assert_null(reg.classes[1].c.host);
    /* Freed in full (ASan's leak check) and zeroed. */
    capi_registry_free(&reg);
    assert_null(reg.classes);
    assert_int_equal(reg.nclasses, 0);
    assert_null(reg.hooks);
    assert_int_equal(reg.nhooks, 0);
    /* Freeing an empty registry is harmless. */
    capi_registry_free(&reg);
}

/* ---- hooks ----------------------------------------------------------------------------- */

static char fired[1024];

static void hook(void *data, const cicada_request_info *info)
{
    size_t n = strlen(fired);
    if (info)
        snprintf(fired + n, sizeof fired - n, "%s[%s %s %.3f %zu %s] ", (const char *)data,
                 info->type, info->name, info->response_time_ms, info->size,
                 info->error ? info->error : "ok");
    else
        snprintf(fired + n, sizeof fired - n, "%s ", (const char *)data);
}

static void test_on_validation(void **state)
{
    (void)state;
    cicada_registry reg = {.file = "t.c"};
    capture();
    assert_int_equal(cicada_on(&reg, (enum cicada_event)-1, hook, NULL), CICADA_MISUSE);
    assert_int_equal(cicada_on(&reg, (enum cicada_event)(CICADA_ON_REQUEST + 1), hook, NULL),
                     CICADA_MISUSE);
    assert_int_equal(cicada_on(&reg, CICADA_ON_TEST_START, NULL, NULL), CICADA_MISUSE);
    assert_int_equal(cicada_on(NULL, CICADA_ON_TEST_START, hook, NULL), CICADA_MISUSE);
    log_set_observer(NULL, NULL);
    assert_int_equal(capi_errors, 4);
    assert_string_equal(capi_last, "cicada_on: a bad event or no function");
    assert_int_equal(reg.nhooks, 0);
    /* A refused hook is not a class error: setup may go on. */
    assert_int_equal(reg.errors, 0);
    capi_registry_free(&reg);
}

static void test_hooks_fire_per_event(void **state)
{
    (void)state;
    cicada_registry a = {.file = "a.c"}, b = {.file = "b.c"};
    assert_int_equal(cicada_on(&a, CICADA_ON_TEST_START, hook, "a-start"), CICADA_OK);
    assert_int_equal(cicada_on(&a, CICADA_ON_TEST_STOP, hook, "a-stop"), CICADA_OK);
    assert_int_equal(cicada_on(&b, CICADA_ON_TEST_START, hook, "b-start"), CICADA_OK);
    assert_int_equal(cicada_on(&b, CICADA_ON_SPAWNING_COMPLETE, hook, "b-spawned"),
                     CICADA_OK);
    assert_int_equal(a.nhooks, 2);
    assert_null(user_request_hook);
    capi_add_hooks(&a);
    capi_add_hooks(&b);
    /* No request hook: requests cost no call. */
    assert_null(user_request_hook);
    fired[0] = 0;
    capi_fire(CICADA_ON_TEST_START);
    capi_fire(CICADA_ON_SPAWNING_COMPLETE);
    capi_fire(CICADA_ON_REQUEST);   /* from the program: never with info; none here */
    capi_fire(CICADA_ON_TEST_STOP);
    assert_string_equal(fired, "a-start b-start b-spawned a-stop ");
    /* The program's copy outlives the registries. */
    capi_registry_free(&a);
    capi_registry_free(&b);
    fired[0] = 0;
    capi_fire(CICADA_ON_TEST_START);
    assert_string_equal(fired, "a-start b-start ");
    capi_clear_hooks();
    fired[0] = 0;
    capi_fire(CICADA_ON_TEST_START);
    assert_string_equal(fired, "");
}

/* ---- users ----------------------------------------------------------------------------- */

static int dead;

static void on_dead(user_env *e, user *u)
{
    (void)e;
    note(u, "dead");
    dead++;
}

static char base[64];

/* A C class as scenario.c's load_plugin makes it: utasks whose fn is capi_run_task and
 * whose data is the plugin's function. */
static uclass c_class(utask *tasks, cicada_task_fn *fns, int n, size_t context_size)
{
    for (int i = 0; i < n; i++)
        tasks[i] = (utask){.name = "ctask", .weight = 1, .fn = capi_run_task,
                           .data = *(void **)&fns[i]};
    uclass c = {.name = "C", .weight = 1, .wait = {WAIT_CONSTANT, 0.01, 0}, .tasks = tasks,
                .ntasks = n, .context_size = context_size, .user_cleanup = capi_user_cleanup,
                .base_host = base};
    user_class_prepare(&c);
    return c;
}

static user *alive[8];

static user *spawn(uclass *c, uint32_t index)
{
    assert_true(index < 8 && !alive[index]);
    user *u = alive[index] = xcalloc(1, sizeof *u);
    user_init(u, &env, c, index);
    user_start(u);
    return u;
}

static void reap(user *u)
{
    alive[u->index] = NULL;
    user_release(u);
    free(u);
}

static int setup(void **state)
{
    (void)state;
    alarm(30);
    loop = ev_loop_new(EVFLAG_AUTO);
    ev_init(&watchdog, watchdog_cb);
    H = http_new(loop);
    S = stats_new(100, false, ev_now(loop));
    env = (user_env){.loop = loop, .http = H, .stats = S, .node = "local", .on_dead = on_dead};
    snprintf(base, sizeof base, "http://127.0.0.1:%d", tgt.port);
    nrec = 0;
    overflow = false;
    dead = 0;
    (void)nothing;  /* usertrace.h's scripted tasks are not used here */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_set_observer(NULL, NULL);
    capi_clear_hooks();
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

static stats_entry *entry(const char *method, const char *name)
{
    return stats_entry_get(S, method, name, ev_now(loop));
}

/* What tasks saw (asserted after the loop ran them). */
static struct {
    int rc[16];
    long status[8];
    char text[8][64];
    double t[4];
    void *ptr[4];
    int steps;
} seen;

/* ---- variables and context, across suspensions ------------------------------------------ */

static void vars_task(cicada_user *u)
{
    int *ctx = cicada_context(u);
    seen.ptr[0] = ctx;
    seen.rc[0] = ctx ? ctx[0] + ctx[9] : -1;   /* zeroed */
    seen.rc[1] = cicada_get(u, "who") == NULL;
    seen.rc[2] = cicada_set(u, "who", "first");
    seen.rc[3] = cicada_set(u, "who", "second");   /* replaced */
    seen.rc[4] = cicada_set(u, "other", "x");
    ctx[9] = 42;
    seen.t[0] = cicada_now(u);
    seen.rc[5] = cicada_sleep(u, 0.05);
    seen.t[1] = cicada_now(u);
    seen.ptr[1] = cicada_context(u);
    seen.rc[6] = ctx[9];
    snprintf(seen.text[0], sizeof seen.text[0], "%s", cicada_get(u, "who"));
    snprintf(seen.text[1], sizeof seen.text[1], "%s", cicada_get(u, "other"));
    seen.rc[7] = cicada_set(u, NULL, "v");
    seen.rc[8] = cicada_set(u, "k", NULL);
    seen.rc[9] = (int)cicada_user_index(u);
    seen.rc[10] = cicada_stopping(u);
    snprintf(seen.text[2], sizeof seen.text[2], "%s", cicada_host(u) ? cicada_host(u) : "-");
    seen.rc[11] = cicada_get(u, "nope") == NULL && cicada_get(u, NULL) == NULL;
    seen.steps++;
    note(u, "vars");
}

static void test_vars_and_context(void **state)
{
    (void)state;
    utask tasks[1];
    cicada_task_fn fns[] = {vars_task};
    uclass c = c_class(tasks, fns, 1, 10 * sizeof(int));
    memset(&seen, 0, sizeof seen);
    user *u = spawn(&c, 3);
    RUN_UNTIL(seen.steps == 1, 2);
    user_stop(u);
    RUN_UNTIL(dead == 1, 1);
    assert_non_null(seen.ptr[0]);
    assert_ptr_equal(seen.ptr[0], seen.ptr[1]);
    assert_int_equal(seen.rc[0], 0);
    assert_int_equal(seen.rc[1], 1);
    assert_int_equal(seen.rc[2], CICADA_OK);
    assert_int_equal(seen.rc[3], CICADA_OK);
    assert_int_equal(seen.rc[4], CICADA_OK);
    assert_int_equal(seen.rc[5], CICADA_OK);
    assert_true(seen.t[1] - seen.t[0] >= 0.049);
    assert_int_equal(seen.rc[6], 42);
    assert_string_equal(seen.text[0], "second");
    assert_string_equal(seen.text[1], "x");
    assert_int_equal(seen.rc[7], CICADA_MISUSE);
    assert_int_equal(seen.rc[8], CICADA_MISUSE);
    assert_int_equal(seen.rc[9], 3);
    assert_int_equal(seen.rc[10], 0);
    assert_string_equal(seen.text[2], base);
    assert_int_equal(seen.rc[11], 1);
    /* The user's state went with it (capi_user_cleanup; ASan checks the frees). */
    assert_null(u->vars);
    reap(u);
    user_class_release(&c);
}

static void test_no_context_and_null_user(void **state)
{
    (void)state;
    utask tasks[1];
    cicada_task_fn fns[] = {vars_task};
    uclass c = c_class(tasks, fns, 1, 0);
    user u = {.cls = &c, .env = &env};
    assert_null(cicada_context(&u));
    assert_null(cicada_get(&u, "who"));
    assert_int_equal(cicada_set(&u, "who", "me"), CICADA_OK);
    assert_string_equal(cicada_get(&u, "who"), "me");
    capi_user_cleanup(&u);
    assert_null(u.vars);
    capi_user_cleanup(&u);  /* twice is harmless */
    /* A NULL user never crashes. */
    assert_null(cicada_context(NULL));
    assert_null(cicada_get(NULL, "x"));
    assert_int_equal(cicada_set(NULL, "x", "y"), CICADA_MISUSE);
    assert_int_equal(cicada_user_index(NULL), 0);
    assert_null(cicada_host(NULL));
    assert_true(cicada_now(NULL) == 0);
    assert_int_equal(cicada_stopping(NULL), 1);
    assert_null(cicada_header(NULL, "x"));
    capi_set_worker_index(7);
    assert_int_equal(cicada_worker_index(&u), 7);
    capi_set_worker_index(0);
    assert_int_equal(cicada_worker_index(NULL), 0);
    user_class_release(&c);
}

/* ---- cicada_report into the statistics, through a fake user ---------------------------- */

static void test_report_into_stats(void **state)
{
    (void)state;
    utask tasks[1];
    cicada_task_fn fns[] = {no_task};
    uclass c = c_class(tasks, fns, 1, 0);
    /* Not a live user: cicada_report needs only the env (it works anywhere). */
    user u = {.cls = &c, .env = &env, .index = 1, .delay_us = -1};
    cicada_registry reg = {.file = "t.c"};
    assert_int_equal(cicada_on(&reg, CICADA_ON_REQUEST, hook, "req"), CICADA_OK);
    capi_add_hooks(&reg);
    assert_non_null(user_request_hook);
    fired[0] = 0;
    cicada_report(&u, "redis", "GET key", 12.5, 42, NULL);
    cicada_report(&u, "redis", "GET key", 7.25, 0, "WRONGTYPE");
    cicada_report(&u, "redis", "PING", -1, 0, NULL);
    stats_entry *e = entry("redis", "GET key");
    assert_int_equal(e->num_requests, 2);
    assert_int_equal(e->num_failures, 1);
    assert_int_equal(e->total_rt_us, 19750);
    assert_int_equal(e->min_rt_us, 7250);
    assert_int_equal(e->max_rt_us, 12500);
    assert_int_equal(e->total_content_length, 42);
    stats_entry *p = entry("redis", "PING");
    assert_int_equal(p->num_requests, 1);
    assert_int_equal(p->num_none_requests, 1);
    assert_int_equal(stats_total(S)->num_requests, 3);
    size_t n;
    stats_error *const *errs = stats_errors(S, &n);
    assert_int_equal(n, 1);
    assert_string_equal(errs[0]->error, "WRONGTYPE");
    assert_ptr_equal(errs[0]->entry, e);
    /* The request event saw each, with the time in ms and the error. */
    assert_string_equal(fired, "req[redis GET key 12.500 42 ok] "
                               "req[redis GET key 7.250 0 WRONGTYPE] "
                               "req[redis PING -1.000 0 ok] ");
    /* Without a type or name: logged, not recorded. */
    capture();
    cicada_report(&u, NULL, "x", 1, 0, NULL);
    cicada_report(&u, "x", NULL, 1, 0, NULL);
    cicada_report(NULL, "x", "y", 1, 0, NULL);
    log_set_observer(NULL, NULL);
    assert_int_equal(capi_errors, 3);
    assert_string_equal(capi_last, "cicada_report needs a user, a type and a name");
    assert_int_equal(stats_total(S)->num_requests, 3);
    capi_clear_hooks();
    assert_null(user_request_hook);
    capi_registry_free(&reg);
    user_class_release(&c);
}

/* ---- misuse: task-only calls from elsewhere --------------------------------------------- */

static void sleeper(cicada_user *u)
{
    note(u, "sleep");
    seen.rc[u->index] = cicada_sleep(u, 10);
    note(u, "woke");
}

static user *victim;

/* Calls task-only functions with another user (victim), from its own task. */
static void intruder(cicada_user *u)
{
    cicada_response r;
    seen.rc[4] = cicada_sleep(victim, 0.01);
    seen.rc[5] = cicada_http(victim, &(cicada_request){.url = "/ok"}, &r);
    seen.rc[6] = cicada_wait_fd(victim, 0, 1, 0.01);
    seen.steps++;
    note(u, "intruded");
    cicada_sleep(u, 10);
}

static void test_misuse_outside_a_task(void **state)
{
    (void)state;
    utask tasks[1];
    cicada_task_fn fns[] = {sleeper};
    uclass c = c_class(tasks, fns, 1, 0);
    memset(&seen, 0, sizeof seen);
    user *u = spawn(&c, 1);
    RUN_UNTIL(count(1, "sleep") == 1, 1);
    /* From the loop's stack (the test itself, as a hook would). */
    cicada_response r = {.status = 123};
    capture();
    assert_int_equal(cicada_http(u, &(cicada_request){.url = "/ok"}, &r), CICADA_MISUSE);
    assert_string_equal(capi_last, "cicada_http called outside a task of that user: it must "
                                   "be called from a task, on_start or on_stop function");
    assert_int_equal(cicada_sleep(u, 0.1), CICADA_MISUSE);
    assert_string_equal(capi_last, "cicada_sleep called outside a task of that user: it "
                                   "must be called from a task, on_start or on_stop function");
    assert_int_equal(cicada_wait_fd(u, 0, 1, 0.1), CICADA_MISUSE);
    assert_string_equal(capi_last, "cicada_wait_fd called outside a task of that user: it "
                                   "must be called from a task, on_start or on_stop function");
    assert_int_equal(cicada_http(NULL, &(cicada_request){.url = "/ok"}, &r), CICADA_MISUSE);
    assert_int_equal(cicada_sleep(NULL, 0.1), CICADA_MISUSE);
    assert_int_equal(cicada_wait_fd(NULL, 0, 1, 0.1), CICADA_MISUSE);
    log_set_observer(NULL, NULL);
    assert_int_equal(capi_errors, 6);
    /* The response was left alone; nothing was sent or counted; the user sleeps on. */
    assert_int_equal(r.status, 123);
    assert_int_equal(stats_total(S)->num_requests, 0);
    assert_int_equal(count(1, "woke"), 0);
    /* From another user's task. */
    victim = u;
    utask itasks[1];
    cicada_task_fn ifns[] = {intruder};
    uclass ic = c_class(itasks, ifns, 1, 0);
    capture();
    user *v = spawn(&ic, 2);
    RUN_UNTIL(seen.steps == 1, 1);
    log_set_observer(NULL, NULL);
    assert_int_equal(seen.rc[4], CICADA_MISUSE);
    assert_int_equal(seen.rc[5], CICADA_MISUSE);
    assert_int_equal(seen.rc[6], CICADA_MISUSE);
    assert_int_equal(capi_errors, 3);
    assert_int_equal(count(1, "woke"), 0);
    /* Both stop cleanly: killed sleeps return CICADA_STOPPED. */
    user_kill(u);
    user_kill(v);
    RUN_UNTIL(dead == 2, 1);
    assert_int_equal(seen.rc[1], CICADA_STOPPED);
    reap(u);
    reap(v);
    user_class_release(&c);
    user_class_release(&ic);
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static void http_task(cicada_user *u)
{
    cicada_response r;
    seen.rc[0] = cicada_http(u, &(cicada_request){.url = "/ok"}, &r);
    seen.status[0] = r.status;
    snprintf(seen.text[0], sizeof seen.text[0], "%s|%zu|%s|%s", r.body, r.body_len,
             r.error ? r.error : "-", cicada_header(u, "Content-Length") ?
             cicada_header(u, "Content-Length") : "-");
    seen.t[0] = r.response_time_ms;
    seen.rc[1] = cicada_http(u, &(cicada_request){.url = "/fail", .name = "failing"}, &r);
    seen.status[1] = r.status;
    snprintf(seen.text[1], sizeof seen.text[1], "%s", r.error ? r.error : "-");
    static const char body[] = "hello";
    static const char *const hdrs[] = {"X-Test: 1", NULL};
    seen.rc[2] = cicada_http(u, &(cicada_request){.method = "POST", .url = "/echo",
                                                  .headers = hdrs, .body = body,
                                                  .body_len = 5, .name = "echo"}, &r);
    snprintf(seen.text[2], sizeof seen.text[2], "%s", r.body);
    /* Manual: the task decides. */
    seen.rc[3] = cicada_http(u, &(cicada_request){.url = "/ok", .name = "judged",
                                                  .manual = 1}, &r);
    cicada_failure(u, "not what I wanted");
    cicada_failure(u, "twice");     /* logged, ignored */
    seen.rc[4] = cicada_http(u, &(cicada_request){.url = "/fail", .name = "forgiven",
                                                  .manual = 1}, &r);
    cicada_success(u);
    /* Absolute URL; a bad method; no URL. */
    char abs[128];
    snprintf(abs, sizeof abs, "%s/ok", base);
    seen.rc[5] = cicada_http(u, &(cicada_request){.url = abs}, &r);
    seen.rc[6] = cicada_http(u, &(cicada_request){.method = "GE T", .url = "/ok"}, &r);
    seen.rc[7] = cicada_http(u, &(cicada_request){.url = NULL}, &r);
    seen.rc[8] = cicada_http(u, &(cicada_request){.url = "/ok"}, NULL);
    seen.steps++;
    note(u, "http");
    cicada_sleep(u, 10);
}

static void test_http_requests(void **state)
{
    (void)state;
    utask tasks[1];
    cicada_task_fn fns[] = {http_task};
    uclass c = c_class(tasks, fns, 1, 0);
    memset(&seen, 0, sizeof seen);
    unsigned before = tgt_requests();
    capture();
    user *u = spawn(&c, 1);
    RUN_UNTIL(seen.steps == 1, 5);
    log_set_observer(NULL, NULL);
    assert_int_equal(seen.rc[0], CICADA_OK);
    assert_int_equal(seen.status[0], 200);
    assert_string_equal(seen.text[0], "ok|2|-|2");
    assert_true(seen.t[0] > 0);
    /* A 500 is still CICADA_OK: the error says it failed, by Locust's rules. */
    assert_int_equal(seen.rc[1], CICADA_OK);
    assert_int_equal(seen.status[1], 500);
    assert_non_null(strstr(seen.text[1], "500"));
    assert_int_equal(seen.rc[2], CICADA_OK);
    assert_string_equal(seen.text[2], "POST hello");
    assert_int_equal(seen.rc[3], CICADA_OK);
    assert_int_equal(seen.rc[4], CICADA_OK);
    assert_int_equal(seen.rc[5], CICADA_OK);
    assert_int_equal(seen.rc[6], CICADA_MISUSE);
    assert_int_equal(seen.rc[7], CICADA_MISUSE);
    assert_int_equal(seen.rc[8], CICADA_MISUSE);
    assert_int_equal(tgt_requests() - before, 6);
    /* Named by the URL's path by default, or by req.name. */
    assert_int_equal(entry("GET", "/ok")->num_requests, 2);
    assert_int_equal(entry("GET", "/ok")->num_failures, 0);
    assert_int_equal(entry("GET", "failing")->num_failures, 1);
    assert_int_equal(entry("POST", "echo")->num_requests, 1);
    assert_int_equal(entry("GET", "judged")->num_requests, 1);
    assert_int_equal(entry("GET", "judged")->num_failures, 1);
    assert_int_equal(entry("GET", "forgiven")->num_requests, 1);
    assert_int_equal(entry("GET", "forgiven")->num_failures, 0);
    size_t n;
    stats_error *const *errs = stats_errors(S, &n);
    bool judged = false;
    for (size_t i = 0; i < n; i++)
        judged |= strcmp(errs[i]->error, "not what I wanted") == 0 &&
                  strcmp(errs[i]->entry->name, "judged") == 0;
    assert_true(judged);
    /* The second verdict, the bad method, the missing URL and response were logged. */
    assert_int_equal(capi_errors, 4);
    user_kill(u);
    RUN_UNTIL(dead == 1, 1);
    reap(u);
    user_class_release(&c);
}

static void relative_task(cicada_user *u)
{
    cicada_response r;
    seen.rc[0] = cicada_http(u, &(cicada_request){.url = "/ok"}, &r);
    seen.steps++;
    cicada_sleep(u, 10);
}

static void test_relative_url_without_host(void **state)
{
    (void)state;
    utask tasks[1];
    cicada_task_fn fns[] = {relative_task};
    uclass c = c_class(tasks, fns, 1, 0);
    c.base_host = NULL;
    memset(&seen, 0, sizeof seen);
    capture();
    user *u = spawn(&c, 1);
    RUN_UNTIL(seen.steps == 1, 1);
    log_set_observer(NULL, NULL);
    assert_int_equal(seen.rc[0], CICADA_MISUSE);
    assert_string_equal(capi_last, "cicada_http: relative URL \"/ok\" but no host: set the "
                                   "class's host or use --host");
    user_kill(u);
    RUN_UNTIL(dead == 1, 1);
    reap(u);
    user_class_release(&c);
}

/* ---- cicada_wait_fd ---------------------------------------------------------------------- */

static int pair[2];

static void fd_task(cicada_user *u)
{
    double t0 = cicada_now(u);
    seen.rc[0] = cicada_wait_fd(u, pair[0], 1, 0.1);    /* nothing to read: timeout */
    seen.t[0] = cicada_now(u) - t0;
    seen.rc[1] = cicada_wait_fd(u, pair[1], 2, 1);      /* writable at once */
    seen.rc[2] = cicada_wait_fd(u, pair[0], 0, 1);      /* bad events */
    seen.rc[3] = cicada_wait_fd(u, pair[0], 4, 1);
    seen.rc[4] = cicada_wait_fd(u, -1, 1, 1);           /* bad fd */
    seen.rc[5] = cicada_wait_fd(u, pair[0], 1, -1);     /* bad timeout */
    seen.steps++;
    note(u, "waiting");
    seen.rc[6] = cicada_wait_fd(u, pair[0], 1, 0);      /* no timeout: until readable */
    seen.steps++;
    note(u, "waiting");
    seen.rc[7] = cicada_wait_fd(u, pair[0], 1, 0);      /* killed meanwhile */
    seen.steps++;
}

static void test_wait_fd(void **state)
{
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
    utask tasks[1];
    cicada_task_fn fns[] = {fd_task};
    uclass c = c_class(tasks, fns, 1, 0);
    memset(&seen, 0, sizeof seen);
    capture();
    user *u = spawn(&c, 1);
    RUN_UNTIL(seen.steps == 1, 2);
    log_set_observer(NULL, NULL);
    assert_int_equal(seen.rc[0], CICADA_TIMEOUT);
    assert_true(seen.t[0] >= 0.099 && seen.t[0] < 0.5);
    assert_int_equal(seen.rc[1], 2);
    for (int i = 2; i <= 5; i++)
        assert_int_equal(seen.rc[i], CICADA_MISUSE);
    assert_int_equal(capi_errors, 4);
    assert_string_equal(capi_last, "cicada_wait_fd: a bad fd, events or timeout");
    /* Without a timeout it waits as long as it takes. */
    run_for(0.15);
    assert_int_equal(seen.steps, 1);
    assert_int_equal(write(pair[1], "x", 1), 1);
    RUN_UNTIL(seen.steps == 2, 1);
    assert_int_equal(seen.rc[6], 1);
    char b;
    assert_int_equal(read(pair[0], &b, 1), 1);
    /* Killed while waiting: CICADA_STOPPED, and the watchers are gone (a write afterwards
     * wakes nobody). */
    run_for(0.05);
    user_kill(u);
    assert_int_equal(seen.steps, 3);
    assert_int_equal(seen.rc[7], CICADA_STOPPED);
    RUN_UNTIL(dead == 1, 1);
    assert_int_equal(write(pair[1], "y", 1), 1);
    run_for(0.05);
    reap(u);
    user_class_release(&c);
    close(pair[0]);
    close(pair[1]);
}

static void forever_task(cicada_user *u)
{
    seen.steps++;
    cicada_wait_fd(u, pair[0], 1, 0);
    seen.steps++;
}

/* A user released while it waits in cicada_wait_fd (runner_free: a worker dropping a test
 * whose users still run, on REREGISTER or a new test) must leave no watcher in the loop:
 * capi_user_cleanup frees the ev_io it is in. If user_release discarded the coroutine without
 * calling user_wait's cancel, the watcher would stay active in freed memory and the loop
 * would call it when the fd becomes readable (heap-use-after-free). */
static void test_release_while_waiting_on_fd(void **state)
{
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
    utask tasks[1];
    cicada_task_fn fns[] = {forever_task};
    uclass c = c_class(tasks, fns, 1, 0);
    memset(&seen, 0, sizeof seen);
    user *u = spawn(&c, 1);
    RUN_UNTIL(seen.steps == 1, 1);
    int waiting = ev_run(loop, EVRUN_NOWAIT);
    reap(u);
    int after = ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(after, waiting - 1);
    assert_int_equal(write(pair[1], "x", 1), 1);
    run_for(0.05);
    assert_int_equal(seen.steps, 1);
    user_class_release(&c);
    close(pair[0]);
    close(pair[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_class_validation),
        cmocka_unit_test(test_add_class_without_registry),
        cmocka_unit_test(test_add_class_copies),
        cmocka_unit_test(test_on_validation),
        cmocka_unit_test(test_hooks_fire_per_event),
        cmocka_unit_test_setup_teardown(test_vars_and_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_context_and_null_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_into_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misuse_outside_a_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_url_without_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_while_waiting_on_fd, setup, teardown),
    };
    return cmocka_run_group_tests(tests, tgt_start, tgt_stop);
}
