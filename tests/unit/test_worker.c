/* Tests for engine/worker.c: the real worker on a libev loop against a fake master written
 * here with a raw libzmq ROUTER (not on the loop). The worker's users make real requests
 * to the loopback target of loopback.h. Covered: hello, heartbeats after welcome, spawn
 * orders carrying the scenario (written under the worker's temporary directory and loaded
 * from there), reports, stop, quit, refusal, a silent master, reregister, and spawn orders
 * the worker must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <zmq.h>

#include "coro.h"
#include "log.h"
#include "loopback.h"
#include "stats.h"
#include "wire.h"
#include "worker.h"

static worker *W;
static struct {
    int calls, code;
} done;
static void *zctx, *router;     /* the fake master */
static int mport;
static ev_timer ticker;         /* wakes the loop often: the fake master is not on it */
static sbuf logged;
static char tmpdir[64];         /* TMPDIR for the worker, and the master's files */
static char scenario_path[PATH_MAX];
static stats *FS;               /* the fake master's merge of the worker's reports */

/* What the fake master has received, in order. */
static struct {
    int types[4096];
    int n;
    char id[256];               /* the worker's routing id */
    char text[65536];           /* the last message */
    int reports;
    uint64_t report_users;      /* user_count of the last report */
} fm;

static void on_done(void *data, int code)
{
    assert_ptr_equal(data, &done);
    done.calls++;
    done.code = code;
}

static void observe(void *data, int level, const char *line)
{
    (void)data, (void)level;
    sbuf_puts(&logged, line);
    sbuf_putc(&logged, '\n');
}

static bool logged_has(const char *text)
{
    return logged.s && strstr(logged.s, text) != NULL;
}

#define assert_logged(text)                                                               \
    do {                                                                                  \
        if (!logged_has(text))                                                            \
            fail_msg("not logged: %s\n--- log:\n%s", text, sbuf_str(&logged));            \
    } while (0)

static void tick(struct ev_loop *l, ev_timer *t, int revents)
{
    (void)l, (void)t, (void)revents;
}

/* ---- the fake master ---------------------------------------------------------------- */

/* Reads one message if there is one: [id, payload], a payload that parses. Stats reports
 * are merged into FS on the way, as a master does. */
static bool fm_try(wire_msg *m)
{
    char id[256];
    int n = zmq_recv(router, id, sizeof id - 1, ZMQ_DONTWAIT);
    if (n < 0)
        return false;
    id[n] = 0;
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(router, ZMQ_RCVMORE, &more, &len);
    assert_true(more);
    snprintf(fm.id, sizeof fm.id, "%s", id);
    n = zmq_recv(router, fm.text, sizeof fm.text - 1, 0);
    assert_true(n >= 0 && (size_t)n < sizeof fm.text);
    fm.text[n] = 0;
    zmq_getsockopt(router, ZMQ_RCVMORE, &more, &len);
    assert_false(more);
    char err[256];
    if (wire_parse(fm.text, (size_t)n, m, err, sizeof err))
        fail_msg("the worker sent a bad message (%s): %s", err, fm.text);
    if (fm.n < (int)(sizeof fm.types / sizeof fm.types[0]))
        fm.types[fm.n++] = m->type;
    if (m->type == WIRE_STATS) {
        if (wire_merge_stats(FS, m->data, id, ev_now(loop), err, sizeof err))
            fail_msg("the worker's report does not merge (%s): %s", err, fm.text);
        assert_int_equal(wire_get_uint(m->data, "user_count", &fm.report_users, err,
                                       sizeof err), 0);
        fm.reports++;
    }
    return true;
}

/* Skips heartbeats and reports unless one of those is wanted. */
static bool skipped(int type, int want)
{
    return type != want && (type == WIRE_HEARTBEAT || type == WIRE_STATS);
}

/* The next message of interest (within secs), which must be of type. */
static void fm_expect(int type, wire_msg *m, double secs)
{
    bool have = false;
    for (;;) {
        have = false;
        RUN_UNTIL(have || (have = fm_try(m)), secs);
        if (!skipped(m->type, type))
            break;
        wire_msg_free(m);
    }
    if (m->type != type)
        fail_msg("want \"%s\", got %s", wire_type_name(type), fm.text);
}

static void fm_expect_only(int type)
{
    wire_msg m;
    fm_expect(type, &m, 2);
    wire_msg_free(&m);
}

/* Runs the loop for secs, reading everything; returns how many of type came. */
static int fm_drain(double secs, int type)
{
    int first = fm.n;
    ev_now_update(loop);
    double end = ev_now(loop) + secs;
    while (ev_now(loop) < end) {
        wire_msg m;
        while (fm_try(&m))
            wire_msg_free(&m);
        ev_run(loop, EVRUN_ONCE);
    }
    wire_msg m;
    while (fm_try(&m))
        wire_msg_free(&m);
    int n = 0;
    for (int i = first; i < fm.n; i++)
        n += fm.types[i] == type;
    return n;
}

static void fm_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fm_send(const char *fmt, ...)
{
    sbuf b = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    assert_int_equal(zmq_send(router, fm.id, strlen(fm.id), ZMQ_SNDMORE), (int)strlen(fm.id));
    assert_int_equal(zmq_send(router, b.s, b.len, 0), (int)b.len);
    sbuf_free(&b);
}

static const char *scenario_text(void)
{
    static char text[1024];
    snprintf(text, sizeof text,
             "{\"host\": \"http://127.0.0.1:%d\",\n"
             " \"users\": [\n"
             "  {\"name\": \"A\", \"weight\": 3, \"wait_time\": 0.05, "
             "\"tasks\": [{\"request\": \"/ok\"}]},\n"
             "  {\"name\": \"B\", \"weight\": 1, \"wait_time\": 0.05, "
             "\"tasks\": [{\"request\": \"/fail\"}]}]}\n",
             tgt.port);
    return text;
}

/* A spawn order. files_path/main NULL: the scenario's own; files false: none at all. */
static void send_spawn(uint64_t test, unsigned a, unsigned b, bool files, const char *path,
                       const char *main_path, const char *b64)
{
    sbuf out = SBUF_INIT, enc = SBUF_INIT;
    json_writer j;
    wire_begin(&j, &out, WIRE_SPAWN);
    json_key(&j, "test");
    json_put_uint(&j, test);
    json_key(&j, "stop_timeout");
    json_put_double(&j, 0);
    json_key(&j, "counts");
    json_begin_object(&j);
    json_key(&j, "A");
    json_put_uint(&j, a);
    json_key(&j, "B");
    json_put_uint(&j, b);
    json_end_object(&j);
    if (files) {
        const char *text = scenario_text();
        wire_b64_encode(&enc, text, strlen(text));
        json_key(&j, "data_slot");
        json_put_uint(&j, 0);
        json_key(&j, "data_slots");
        json_put_uint(&j, 1);
        json_key(&j, "settings");
        static const char settings[] = "{\"host\":null,\"classes\":[],\"tags\":[],"
                                       "\"exclude_tags\":[],\"equal_weights\":false}";
        json_put_raw(&j, settings, strlen(settings));
        json_key(&j, "main");
        json_put_string(&j, main_path ? main_path : scenario_path);
        json_key(&j, "files");
        json_begin_array(&j);
        json_begin_object(&j);
        json_key(&j, "path");
        json_put_string(&j, path ? path : scenario_path);
        json_key(&j, "base64");
        json_put_string(&j, b64 ? b64 : sbuf_str(&enc));
        json_end_object(&j);
        json_end_array(&j);
    }
    wire_end(&j);
    assert_int_equal(zmq_send(router, fm.id, strlen(fm.id), ZMQ_SNDMORE), (int)strlen(fm.id));
    assert_int_equal(zmq_send(router, out.s, out.len, 0), (int)out.len);
    sbuf_free(&out);
    sbuf_free(&enc);
}

/* ---- set-up ------------------------------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static worker_config config(void)
{
    return (worker_config){.master_host = "127.0.0.1", .master_port = mport,
                           .report_interval = 0.2, .heartbeat_interval = 0.1,
                           .master_timeout = 5, .connect_timeout = 5, .version = "wv-1"};
}

static void start_worker(const worker_config *cfg)
{
    char err[256] = "";
    W = worker_new(loop, cfg, on_done, &done, err, sizeof err);
    if (!W)
        fail_msg("worker_new: %s", err);
}

/* Starts a worker and welcomes it. */
static void start_welcomed(const worker_config *cfg)
{
    start_worker(cfg);
    fm_expect_only(WIRE_HELLO);
    fm_send("{\"type\":\"welcome\",\"data\":{\"protocol\":1,\"index\":3}}");
}

static int setup(void **state)
{
    (void)state;
    alarm(30); /* last resort if the loop itself stops turning */
    char err[256];
    if (log_setup(LOG_DEBUG, "/dev/null", false, err, sizeof err))
        return -1;
    sbuf_reset(&logged);
    log_set_observer(observe, NULL);
    loop = ev_loop_new(EVFLAG_AUTO);
    ev_init(&watchdog, watchdog_cb);
    ev_timer_init(&ticker, tick, 0.005, 0.005);
    ev_timer_start(loop, &ticker);
    memset(&done, 0, sizeof done);
    memset(&fm, 0, sizeof fm);
    zctx = zmq_ctx_new();
    router = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(router, "tcp://127.0.0.1:*") != 0)
        return -1;
    char ep[256];
    size_t len = sizeof ep;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);
    mport = atoi(strrchr(ep, ':') + 1);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cicada-test-worker-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    setenv("TMPDIR", tmpdir, 1);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/project", tmpdir);
    mkdir(dir, 0700);
    snprintf(scenario_path, sizeof scenario_path, "%s/s.json", dir);
    write_text(scenario_path, scenario_text());
    FS = stats_new(0, false, ev_now(loop));
    W = NULL;
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The worker's temporary directory (made under TMPDIR), or "" when there is none. */
static const char *worker_root(void)
{
    static char root[PATH_MAX];
    root[0] = 0;
    DIR *d = opendir(tmpdir);
    if (!d)
        return root;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "cicada-worker-", 14) == 0)
            snprintf(root, sizeof root, "%s/%s", tmpdir, e->d_name);
    closedir(d);
    return root;
}

static int teardown(void **state)
{
    (void)state;
    worker_free(W);
    W = NULL;
    /* Everything the master sent is gone with the worker. */
    bool left = worker_root()[0] != 0;
    zmq_close(router);
    zmq_ctx_term(zctx);
    stats_free(FS);
    ev_timer_stop(loop, &ticker);
    ev_loop_destroy(loop);
    nftw(tmpdir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    unsetenv("TMPDIR");
    log_set_observer(NULL, NULL);
    log_close();
    sbuf_free(&logged);
    struct coro_stats cs;
    coro_stats(&cs);
    coro_pool_release();
    alarm(0);
    assert_false(left);
    assert_int_equal(cs.in_use, 0);
    return 0;
}

/* ---- connecting --------------------------------------------------------------------- */

static void test_hello_then_heartbeats(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_worker(&cfg);
    wire_msg m;
    fm_expect(WIRE_HELLO, &m, 2);
    char err[128];
    uint64_t proto = 0, pid = 0;
    const char *version = "", *host = "";
    assert_int_equal(wire_get_uint(m.data, "protocol", &proto, err, sizeof err), 0);
    assert_int_equal(proto, 1);
    assert_int_equal(wire_get_str(m.data, "version", &version, err, sizeof err), 0);
    assert_string_equal(version, "wv-1");
    assert_int_equal(wire_get_uint(m.data, "pid", &pid, err, sizeof err), 0);
    assert_int_equal(pid, (uint64_t)getpid());
    char hn[256] = "";
    gethostname(hn, sizeof hn - 1);
    assert_int_equal(wire_get_str(m.data, "host", &host, err, sizeof err), 0);
    assert_string_equal(host, hn);
    wire_msg_free(&m);
    /* The routing id is the worker's id: host_pid_8hex, printable. */
    assert_string_equal(fm.id, worker_id(W));
    char want[300];
    for (char *p = hn; *p; p++)
        if (*p == '_')
            *p = '-';
    snprintf(want, sizeof want, "%s_%d_", hn, (int)getpid());
    assert_memory_equal(fm.id, want, strlen(want));
    assert_int_equal(strlen(fm.id), strlen(want) + 8);
    assert_true(strspn(fm.id + strlen(want), "0123456789abcdef") == 8);

    /* No heartbeat before the welcome; the hello is repeated meanwhile (once a second). */
    assert_int_equal(fm_drain(1.1, WIRE_HEARTBEAT), 0);
    int hellos = 0;
    for (int i = 0; i < fm.n; i++)
        hellos += fm.types[i] == WIRE_HELLO;
    assert_int_equal(hellos, 2);

    fm_send("{\"type\":\"welcome\",\"data\":{\"protocol\":1,\"index\":0}}");
    fm_expect(WIRE_HEARTBEAT, &m, 1);
    const char *st = "";
    uint64_t users = 99, rss = 0;
    double cpu = -1;
    assert_int_equal(wire_get_str(m.data, "state", &st, err, sizeof err), 0);
    assert_string_equal(st, "ready");
    assert_int_equal(wire_get_uint(m.data, "user_count", &users, err, sizeof err), 0);
    assert_int_equal(users, 0);
    assert_int_equal(wire_get_num(m.data, "cpu", &cpu, err, sizeof err), 0);
    assert_true(cpu >= 0);
    assert_int_equal(wire_get_uint(m.data, "rss", &rss, err, sizeof err), 0);
    assert_true(rss > 0);
    wire_msg_free(&m);
    /* Heartbeats every heartbeat_interval (0.1 s), and no more hellos. */
    int first = fm.n;
    int beats = fm_drain(0.6, WIRE_HEARTBEAT);
    if (beats < 4 || beats > 8)
        fail_msg("%d heartbeats in 0.6 s, want about 6", beats);
    for (int i = first; i < fm.n; i++)
        assert_int_not_equal(fm.types[i], WIRE_HELLO);
    /* Nothing to report while no user runs. */
    assert_int_equal(fm.reports, 0);
    assert_int_equal(done.calls, 0);
}

static void test_refused_ends_with_1(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_worker(&cfg);
    fm_expect_only(WIRE_HELLO);
    fm_send("{\"type\":\"refused\",\"data\":{\"reason\":\"speaks protocol 7\"}}");
    RUN_UNTIL(done.calls == 1, 2);
    assert_int_equal(done.code, 1);
    assert_logged("The master refused this worker: speaks protocol 7");
}

static void test_no_master_ends_with_1(void **state)
{
    (void)state;
    /* Nobody welcomes it: it gives up after connect_timeout. */
    worker_config cfg = config();
    cfg.connect_timeout = 0.5;
    start_worker(&cfg);
    RUN_UNTIL(done.calls == 1, 3);
    assert_int_equal(done.code, 1);
    assert_logged("Failed to connect to the cicada master at tcp://127.0.0.1:");
}

static void test_silent_master_ends_with_1(void **state)
{
    (void)state;
    /* Welcomed, then never answered: after master_timeout the worker ends. */
    worker_config cfg = config();
    cfg.master_timeout = 0.4;
    start_welcomed(&cfg);
    ev_now_update(loop);
    double t0 = ev_now(loop);
    RUN_UNTIL(fm_drain(0.05, WIRE_HEARTBEAT) >= 0 && done.calls == 1, 2);
    assert_int_equal(done.code, 1);
    assert_true(ev_now(loop) - t0 >= 0.35);
    assert_logged("No word from the master for 0.4 s: stopping the users and quitting");
}

static void test_pongs_keep_it_alive(void **state)
{
    (void)state;
    worker_config cfg = config();
    cfg.master_timeout = 0.8;
    start_welcomed(&cfg);
    /* Answering every heartbeat, as a master does, for two and a half master_timeouts. */
    ev_now_update(loop);
    double end = ev_now(loop) + 2.0;
    while (ev_now(loop) < end) {
        wire_msg m;
        while (fm_try(&m)) {
            if (m.type == WIRE_HEARTBEAT)
                fm_send("{\"type\":\"pong\",\"data\":{}}");
            wire_msg_free(&m);
        }
        ev_run(loop, EVRUN_ONCE);
    }
    assert_int_equal(done.calls, 0);
}

/* ---- tests -------------------------------------------------------------------------- */

/* The counts in a spawning_complete (or report) message. */
static void classes_of(const wire_msg *m, uint64_t *a, uint64_t *b)
{
    char err[128];
    const json_value *c = json_get(m->data, "classes");
    assert_non_null(c);
    assert_int_equal(wire_get_uint(c, "A", a, err, sizeof err), 0);
    assert_int_equal(wire_get_uint(c, "B", b, err, sizeof err), 0);
}

static void test_spawn_runs_users_and_reports(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_welcomed(&cfg);
    unsigned reqs = tgt_requests();
    send_spawn(1, 3, 1, true, NULL, NULL, NULL);
    fm_expect_only(WIRE_SPAWNING);
    wire_msg m;
    fm_expect(WIRE_SPAWNING_COMPLETE, &m, 2);
    char err[128];
    uint64_t users = 0, a = 0, b = 0;
    assert_int_equal(wire_get_uint(m.data, "user_count", &users, err, sizeof err), 0);
    assert_int_equal(users, 4);
    classes_of(&m, &a, &b);
    assert_int_equal(a, 3);
    assert_int_equal(b, 1);
    wire_msg_free(&m);

    /* The scenario went under the worker's own directory, at its absolute path. */
    char copy[PATH_MAX * 2];
    snprintf(copy, sizeof copy, "%s%s", worker_root(), scenario_path);
    FILE *f = fopen(copy, "r");
    if (!f)
        fail_msg("no copy of the scenario at %s", copy);
    char text[1024] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    assert_string_equal(text, scenario_text());

    /* Heartbeats say running; reports come every report_interval with the users. */
    fm_expect(WIRE_HEARTBEAT, &m, 1);
    const char *st = "";
    assert_int_equal(wire_get_str(m.data, "state", &st, err, sizeof err), 0);
    assert_string_equal(st, "running");
    assert_int_equal(wire_get_uint(m.data, "user_count", &users, err, sizeof err), 0);
    assert_int_equal(users, 4);
    wire_msg_free(&m);
    fm_expect(WIRE_STATS, &m, 1);
    classes_of(&m, &a, &b);
    assert_int_equal(a + b, 4);
    wire_msg_free(&m);
    RUN_UNTIL(fm_drain(0.05, WIRE_STATS) >= 0 && stats_total(FS)->num_failures > 0 &&
                  stats_total(FS)->num_requests > stats_total(FS)->num_failures, 2);
    assert_int_equal(fm.report_users, 4);

    /* A later order of the same test changes the counts, without files. */
    send_spawn(1, 1, 0, false, NULL, NULL, NULL);
    fm_expect_only(WIRE_SPAWNING);
    fm_expect(WIRE_SPAWNING_COMPLETE, &m, 2);
    classes_of(&m, &a, &b);
    assert_int_equal(a, 1);
    assert_int_equal(b, 0);
    wire_msg_free(&m);

    /* Stop: the final report, then stopped; after it the worker is ready and idle. */
    fm_send("{\"type\":\"stop\",\"data\":{}}");
    fm_expect_only(WIRE_STOPPED);
    assert_int_equal(fm.types[fm.n - 2], WIRE_STATS);
    assert_int_equal(fm.report_users, 0);
    /* What the worker reported is what the target saw, less at most the requests that
     * were cut off by the stop (stop_timeout 0). */
    uint64_t counted = stats_total(FS)->num_requests;
    unsigned seen = tgt_requests() - reqs;
    assert_true(counted > 0);
    assert_true(counted <= seen && seen <= counted + 4);
    fm_expect(WIRE_HEARTBEAT, &m, 1);
    assert_int_equal(wire_get_str(m.data, "state", &st, err, sizeof err), 0);
    assert_string_equal(st, "ready");
    wire_msg_free(&m);
    int reports = fm.reports;
    fm_drain(0.5, WIRE_STATS);
    assert_int_equal(fm.reports, reports);  /* nothing runs: nothing to report */
    /* stop when nothing runs: stopped at once. */
    fm_send("{\"type\":\"stop\",\"data\":{}}");
    fm_expect_only(WIRE_STOPPED);

    /* A new test: files again. */
    send_spawn(2, 0, 1, true, NULL, NULL, NULL);
    fm_expect_only(WIRE_SPAWNING);
    fm_expect(WIRE_SPAWNING_COMPLETE, &m, 2);
    classes_of(&m, &a, &b);
    assert_int_equal(a + b, 1);
    wire_msg_free(&m);
    assert_int_equal(done.calls, 0);
}

/* A spawn order's answers. */
static void spawned(void)
{
    fm_expect_only(WIRE_SPAWNING);
    fm_expect_only(WIRE_SPAWNING_COMPLETE);
}

static void test_quit_ends_with_0(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_welcomed(&cfg);
    fm_send("{\"type\":\"quit\",\"data\":{}}");
    RUN_UNTIL(done.calls == 1, 2);
    assert_int_equal(done.code, 0);
    /* Once: the caller frees the worker from that call. */
    run_for(0.2);
    assert_int_equal(done.calls, 1);
}

static void test_quit_while_running(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_welcomed(&cfg);
    send_spawn(1, 2, 0, true, NULL, NULL, NULL);
    spawned();
    fm_send("{\"type\":\"quit\",\"data\":{}}");
    /* The users stop first: their last report, stopped, then quit, then the end. */
    fm_expect_only(WIRE_STOPPED);
    assert_int_equal(fm.types[fm.n - 2], WIRE_STATS);
    fm_expect_only(WIRE_QUIT);
    RUN_UNTIL(done.calls == 1, 2);
    assert_int_equal(done.code, 0);
}

static void test_leave(void **state)
{
    (void)state;
    /* Ctrl-C on the worker: it tells the master and ends with 0. */
    worker_config cfg = config();
    start_welcomed(&cfg);
    send_spawn(1, 1, 1, true, NULL, NULL, NULL);
    spawned();
    worker_leave(W);
    fm_expect_only(WIRE_STOPPED);
    fm_expect_only(WIRE_QUIT);
    RUN_UNTIL(done.calls == 1, 2);
    assert_int_equal(done.code, 0);
}

static void test_silent_master_while_running(void **state)
{
    (void)state;
    worker_config cfg = config();
    cfg.master_timeout = 0.4;
    start_welcomed(&cfg);
    send_spawn(1, 2, 1, true, NULL, NULL, NULL);
    spawned();
    /* The users are stopped at once and the worker ends with 1. */
    RUN_UNTIL(fm_drain(0.05, WIRE_HEARTBEAT) >= 0 && done.calls == 1, 2);
    assert_int_equal(done.code, 1);
    bool stopped = false;
    for (int i = 0; i < fm.n; i++)
        stopped |= fm.types[i] == WIRE_STOPPED;
    assert_true(stopped);
}

static void test_silent_master_with_reconnect(void **state)
{
    (void)state;
    /* --reconnect: the users stop at once and the test goes, but the worker stays and says
     * hello again, under a new id, until a master answers; then it takes a test anew. */
    worker_config cfg = config();
    cfg.master_timeout = 0.4;
    cfg.reconnect = true;
    start_welcomed(&cfg);
    char old_id[sizeof fm.id];
    snprintf(old_id, sizeof old_id, "%s", fm.id);
    send_spawn(1, 2, 1, true, NULL, NULL, NULL);
    spawned();
    char copy[PATH_MAX * 2];
    snprintf(copy, sizeof copy, "%s%s", worker_root(), scenario_path);
    assert_int_equal(access(copy, F_OK), 0);
    RUN_UNTIL(fm_drain(0.05, WIRE_HEARTBEAT) >= 0 &&
              logged_has("waiting for a master (--reconnect)"), 2);
    assert_logged("No word from the master for 0.4 s: stopping the users and waiting for a "
                  "master (--reconnect)");
    fm_expect_only(WIRE_HELLO);
    assert_string_not_equal(fm.id, old_id);
    assert_int_equal(access(copy, F_OK), -1);
    /* Unanswered for longer than master_timeout: still waiting, saying hello each second. */
    assert_int_equal(fm_drain(1.2, WIRE_HELLO), 1);
    assert_int_equal(done.calls, 0);
    fm_send("{\"type\":\"welcome\",\"data\":{\"protocol\":1,\"index\":0}}");
    wire_msg m;
    fm_expect(WIRE_HEARTBEAT, &m, 1);
    char err[64];
    uint64_t users = 9;
    assert_int_equal(wire_get_uint(m.data, "user_count", &users, err, sizeof err), 0);
    assert_int_equal(users, 0);
    wire_msg_free(&m);
    send_spawn(1, 1, 0, true, NULL, NULL, NULL);
    spawned();
    fm_send("{\"type\":\"quit\",\"data\":{}}");
    RUN_UNTIL(done.calls == 1, 2);
    assert_int_equal(done.code, 0);
}

static void test_reconnect_waits_for_a_first_master(void **state)
{
    (void)state;
    /* --reconnect: no connect_timeout either; Ctrl-C still ends it. */
    worker_config cfg = config();
    cfg.connect_timeout = 0.5;
    cfg.reconnect = true;
    start_worker(&cfg);
    assert_int_equal(fm_drain(1.3, WIRE_HELLO), 2);
    assert_int_equal(done.calls, 0);
    worker_leave(W);
    RUN_UNTIL(done.calls == 1, 2);
    assert_int_equal(done.code, 0);
}

/* Regression (engine/worker.c, hello_cb): connect_timeout counted from the worker's start,
 * not from the reregister, so a worker older than it gave up at the first unanswered
 * hello of a restarted master ("Failed to connect") instead of waiting its time. */
static void test_reregister_waits_connect_timeout_again(void **state)
{
    (void)state;
    worker_config cfg = config();
    cfg.connect_timeout = 1.5;
    start_welcomed(&cfg);
    run_for(1.6);
    fm_send("{\"type\":\"reregister\",\"data\":{}}");
    fm_expect_only(WIRE_HELLO);
    assert_int_equal(fm_drain(1.2, WIRE_HELLO), 1);
    assert_int_equal(done.calls, 0);
    RUN_UNTIL(done.calls == 1, 2);
    assert_int_equal(done.code, 1);
    assert_logged("Failed to connect to the cicada master at tcp://127.0.0.1:");
}

static void test_reregister(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_welcomed(&cfg);
    send_spawn(1, 1, 0, true, NULL, NULL, NULL);
    spawned();
    /* The master restarted: the worker drops its test and says hello again. */
    char copy[PATH_MAX * 2];
    snprintf(copy, sizeof copy, "%s%s", worker_root(), scenario_path);
    assert_int_equal(access(copy, F_OK), 0);
    fm_send("{\"type\":\"reregister\",\"data\":{}}");
    fm_expect_only(WIRE_HELLO);
    assert_int_equal(access(copy, F_OK), -1);
    fm_send("{\"type\":\"welcome\",\"data\":{\"protocol\":1,\"index\":0}}");
    wire_msg m;
    fm_expect(WIRE_HEARTBEAT, &m, 1);
    char err[64];
    uint64_t users = 9;
    assert_int_equal(wire_get_uint(m.data, "user_count", &users, err, sizeof err), 0);
    assert_int_equal(users, 0);
    wire_msg_free(&m);
    /* Test 1 again is a new test to it: the files are needed and taken. */
    send_spawn(1, 1, 0, true, NULL, NULL, NULL);
    spawned();
}

/* ---- orders refused ----------------------------------------------------------------- */

/* The error message the worker sends back for the order just sent. */
static void expect_error(const char *want_prefix)
{
    wire_msg m;
    fm_expect_only(WIRE_SPAWNING);
    fm_expect(WIRE_ERROR, &m, 2);
    const char *text = "";
    char err[64];
    assert_int_equal(wire_get_str(m.data, "message", &text, err, sizeof err), 0);
    if (strncmp(text, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("error\n  got:  %s\n  want: %s...", text, want_prefix);
    wire_msg_free(&m);
}

static void test_bad_spawn_orders(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_welcomed(&cfg);
    char outside[PATH_MAX + 16];

    /* A path with "..": refused, nothing written outside the worker's directory. */
    snprintf(outside, sizeof outside, "%s/../x.json", scenario_path);
    send_spawn(1, 1, 0, true, outside, NULL, NULL);
    expect_error("refusing the file path \"");
    send_spawn(1, 1, 0, true, "/../escaped.json", NULL, NULL);
    expect_error("refusing the file path \"/../escaped.json\"");
    char escaped[PATH_MAX];
    snprintf(escaped, sizeof escaped, "%s/escaped.json", tmpdir);
    assert_int_equal(access(escaped, F_OK), -1);
    send_spawn(1, 1, 0, true, "relative/s.json", NULL, NULL);
    expect_error("refusing the file path \"relative/s.json\"");
    send_spawn(1, 1, 0, true, "/..", NULL, NULL);
    expect_error("refusing the file path \"/..\"");

    /* Not base64. */
    send_spawn(1, 1, 0, true, NULL, NULL, "not base64!");
    expect_error("a file must be {\"path\", \"base64\"}");
    /* The first order of a test without its files. */
    send_spawn(1, 1, 0, false, NULL, NULL, NULL);
    expect_error("the first spawn order of a test must carry its files");
    /* A main file that was not sent. */
    snprintf(outside, sizeof outside, "%s/other.json", tmpdir);
    send_spawn(1, 1, 0, true, NULL, outside, NULL);
    wire_msg m;
    fm_expect_only(WIRE_SPAWNING);
    fm_expect(WIRE_ERROR, &m, 2);
    wire_msg_free(&m);

    /* Orders without a test number or counts are dropped unanswered. */
    fm_send("{\"type\":\"spawn\",\"data\":{\"counts\":{\"A\":1}}}");
    fm_send("{\"type\":\"spawn\",\"data\":{\"test\":0,\"counts\":{\"A\":1}}}");
    fm_send("{\"type\":\"spawn\",\"data\":{\"test\":1}}");
    assert_int_equal(fm_drain(0.3, WIRE_SPAWNING), 0);
    assert_logged("dropped a malformed spawn order from the master");

    /* After all that a good order still works, and unknown classes are skipped. */
    send_spawn(1, 2, 0, true, NULL, NULL, NULL);
    fm_expect_only(WIRE_SPAWNING);
    fm_expect(WIRE_SPAWNING_COMPLETE, &m, 2);
    char err[64];
    uint64_t users = 0;
    assert_int_equal(wire_get_uint(m.data, "user_count", &users, err, sizeof err), 0);
    assert_int_equal(users, 2);
    wire_msg_free(&m);
    fm_send("{\"type\":\"spawn\",\"data\":{\"test\":1,\"counts\":{\"A\":1,\"Nope\":5,\"B\":-1}}}");
    fm_expect_only(WIRE_SPAWNING);
    fm_expect(WIRE_SPAWNING_COMPLETE, &m, 2);
    assert_int_equal(wire_get_uint(m.data, "user_count", &users, err, sizeof err), 0);
    assert_int_equal(users, 1);
    wire_msg_free(&m);
    assert_logged("spawn order: no class \"Nope\" here, or a bad count");
    /* Garbage from the master is dropped too. */
    fm_send("not json");
    fm_send("{\"type\":\"rebalance\",\"data\":{}}");
    fm_drain(0.2, WIRE_ERROR);
    assert_logged("dropped a message from the master: not JSON");
    assert_logged("dropped a \"rebalance\" message from the master");
    assert_int_equal(done.calls, 0);
}

/* Regression (engine/worker.c load_test): the "main" paths of a spawn order are not checked as
 * file paths are (safe_path): each is appended to the worker's directory as given, so
 * "/../x.json" loads <TMPDIR>/x.json, outside the worker's directory, and "x.json" (not
 * absolute) loads "<TMPDIR>/cicada-worker-XXXXXXx.json", a sibling of it. worker.h says
 * absolute paths are taken under that directory "so nothing outside it is touched", and
 * docs/protocol.md that a path with ".." is refused. Here the scenario outside is
 * loaded and run (spawning_complete), where an error was due. */
static void test_main_path_escapes(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_welcomed(&cfg);
    char outside[PATH_MAX];
    snprintf(outside, sizeof outside, "%s/x.json", tmpdir);
    write_text(outside, scenario_text());
    send_spawn(1, 1, 0, true, NULL, "/../x.json", NULL);
    expect_error("refusing");
}

/* Regression (engine/worker.c load_test, found by tests/fuzz/fuzz_worker): a first spawn
 * order whose test data share is missing or bad was refused, but the list of main paths
 * already built leaked (LeakSanitizer at exit, under `make SAN=1 unit`). */
static void test_spawn_without_data_share(void **state)
{
    (void)state;
    worker_config cfg = config();
    start_welcomed(&cfg);
    sbuf enc = SBUF_INIT;
    const char *text = scenario_text();
    wire_b64_encode(&enc, text, strlen(text));
    static const char *const shares[] = {"", "\"data_slot\":0,",
                                         "\"data_slot\":2,\"data_slots\":2,"};
    for (size_t i = 0; i < sizeof shares / sizeof shares[0]; i++) {
        fm_send("{\"type\":\"spawn\",\"data\":{\"test\":1,\"counts\":{\"A\":1},%s"
                "\"settings\":{},\"main\":\"%s\",\"files\":[{\"path\":\"%s\","
                "\"base64\":\"%s\"}]}}",
                shares[i], scenario_path, scenario_path, enc.s);
        expect_error("the spawn order's test data share is missing or bad");
    }
    sbuf_free(&enc);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_hello_then_heartbeats),
        T(test_refused_ends_with_1),
        T(test_no_master_ends_with_1),
        T(test_silent_master_ends_with_1),
        T(test_pongs_keep_it_alive),
        T(test_spawn_runs_users_and_reports),
        T(test_quit_ends_with_0),
        T(test_quit_while_running),
        T(test_leave),
        T(test_silent_master_while_running),
        T(test_silent_master_with_reconnect),
        T(test_reconnect_waits_for_a_first_master),
        T(test_reregister),
        T(test_reregister_waits_connect_timeout_again),
        T(test_bad_spawn_orders),
        T(test_main_path_escapes),
        T(test_spawn_without_data_share),
    };
    return cmocka_run_group_tests(tests, tgt_start, tgt_stop);
}
