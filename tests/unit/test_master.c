/* Tests for engine/master.c: the real master on a libev loop, against fake workers written
 * here with raw libzmq (DEALERs with chosen routing ids, not on the loop). They cover the
 * worker table (hello, refusal of another protocol, heartbeats, missing and back, unknown
 * ids, garbage), stats reports, and the plans a master's runner sends: spawn orders with
 * the scenario's files, the stop, and a missing worker's users moving to the others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <zmq.h>

#include "log.h"
#include "loopback.h"
#include "master.h"
#include "runner.h"
#include "scenario.h"
#include "stats.h"
#include "wire.h"

#define VERSION "test-1.0"

static master *M;
static stats *S;
static scenario *SC;
static runner *RN;
static int port;
static ev_timer ticker;         /* wakes the loop often: the fakes are not on it */
static sbuf logged;             /* every log line, '\n'-separated */
static char tmpdir[64];
static char scenario_path[PATH_MAX];

static struct {
    int changed, no_workers, end_test, test_start, test_stop;
    bool refused;           /* the last no_workers call's */
    char why[256], reason[256];
} hk;

#define assert_same_double(got, want)                                                     \
    do {                                                                                   \
        double got_ = (got), want_ = (want);                                               \
        if (got_ != want_)                                                                 \
            fail_msg("%s = %.17g, want %.17g", #got, got_, want_);                         \
    } while (0)

/* ---- fake workers ------------------------------------------------------------------- */

typedef struct fake {
    void *sock;
    char id[64];
    char text[65536];           /* the last message received, as text */
} fake;

static void *zctx;
static fake fakes[8];
static int nfakes;

static fake *fake_new(const char *id)
{
    assert_true(nfakes < 8);
    fake *f = &fakes[nfakes++];
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", id);
    f->sock = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(f->sock, ZMQ_ROUTING_ID, id, strlen(id));
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    assert_int_equal(zmq_connect(f->sock, ep), 0);
    return f;
}

static void fake_send(fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fake_send(fake *f, const char *fmt, ...)
{
    sbuf b = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    assert_int_equal(zmq_send(f->sock, b.s, b.len, 0), (int)b.len);
    sbuf_free(&b);
}

static void fake_hello(fake *f, int protocol, const char *host)
{
    fake_send(f, "{\"type\":\"hello\",\"data\":{\"protocol\":%d,\"version\":\"w-2.0\","
                 "\"host\":\"%s\",\"pid\":42}}", protocol, host);
}

static void fake_heartbeat(fake *f, const char *state, unsigned users)
{
    fake_send(f, "{\"type\":\"heartbeat\",\"data\":{\"state\":\"%s\",\"user_count\":%u,"
                 "\"cpu\":12.5,\"rss\":1048576}}", state, users);
}

/* Reads one message if there is one; fails on a message that is not the protocol's. */
static bool fake_try(fake *f, wire_msg *m)
{
    int n = zmq_recv(f->sock, f->text, sizeof f->text - 1, ZMQ_DONTWAIT);
    if (n < 0)
        return false;
    assert_true((size_t)n < sizeof f->text);
    f->text[n] = 0;
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(f->sock, ZMQ_RCVMORE, &more, &len);
    assert_int_equal(more, 0);
    char err[256];
    if (wire_parse(f->text, (size_t)n, m, err, sizeof err))
        fail_msg("%s got a bad message (%s): %s", f->id, err, f->text);
    return true;
}

/* The next message f gets (within secs), which must be of type. */
static void fake_expect(fake *f, int type, wire_msg *m, double secs)
{
    bool have = false;
    RUN_UNTIL(have || (have = fake_try(f, m)), secs);
    if (m->type != type)
        fail_msg("%s: want \"%s\", got %s", f->id, wire_type_name(type), f->text);
}

/* The next message, which must be of type; freed here. */
static void fake_expect_only(fake *f, int type)
{
    wire_msg m;
    fake_expect(f, type, &m, 2);
    wire_msg_free(&m);
}

/* Nothing comes for f within secs. */
static void fake_quiet(fake *f, double secs)
{
    run_for(secs);
    wire_msg m;
    if (fake_try(f, &m)) {
        wire_msg_free(&m);
        fail_msg("%s: want nothing, got %s", f->id, f->text);
    }
}

/* hello and welcome, with the index the master gave. */
static unsigned join(fake *f)
{
    fake_hello(f, WIRE_PROTOCOL, "host-of-test");
    wire_msg m;
    fake_expect(f, WIRE_WELCOME, &m, 2);
    uint64_t idx = 99, proto = 0;
    char err[128];
    assert_int_equal(wire_get_uint(m.data, "index", &idx, err, sizeof err), 0);
    assert_int_equal(wire_get_uint(m.data, "protocol", &proto, err, sizeof err), 0);
    assert_int_equal(proto, WIRE_PROTOCOL);
    wire_msg_free(&m);
    return (unsigned)idx;
}

/* ---- the master's side -------------------------------------------------------------- */

static void on_changed(void *data)
{
    assert_ptr_equal(data, &hk);
    hk.changed++;
}

static void on_no_workers(void *data, const char *why, bool refused)
{
    (void)data;
    hk.refused = refused;
    hk.no_workers++;
    snprintf(hk.why, sizeof hk.why, "%s", why);
}

static void on_end_test(void *data, const char *reason)
{
    (void)data;
    hk.end_test++;
    snprintf(hk.reason, sizeof hk.reason, "%s", reason);
}

static const char *test_host = "http://override.invalid:1";

static void on_test_start(void *data)
{
    (void)data;
    hk.test_start++;
    master_test t = {.host = test_host, .stop_timeout = 2.5};
    master_test_start(M, &t);
}

static void on_test_stop(void *data)
{
    (void)data;
    hk.test_stop++;
}

static void start_master(double heartbeat_timeout, double missing_forget)
{
    master_config cfg = {.bind_host = "127.0.0.1", .bind_port = port,
                         .heartbeat_timeout = heartbeat_timeout,
                         .missing_forget = missing_forget, .version = VERSION};
    master_hooks hooks = {.data = &hk, .workers_changed = on_changed,
                          .no_workers = on_no_workers, .end_test = on_end_test};
    char err[256] = "";
    M = master_new(loop, S, SC, &cfg, &hooks, err, sizeof err);
    if (!M)
        fail_msg("master_new: %s", err);
}

/* A master with its runner, as server/app.c makes them. */
static void start_master_runner(double heartbeat_timeout)
{
    start_master(heartbeat_timeout, 60);
    runner_remote rr = master_remote(M);
    runner_config cfg = {.node = "master", .remote = &rr};
    runner_hooks hooks = {.data = &hk, .test_start = on_test_start, .test_stop = on_test_stop};
    char err[256] = "";
    RN = runner_new(loop, NULL, S, SC->run, SC->nrun, &cfg, &hooks, err, sizeof err);
    if (!RN)
        fail_msg("runner_new: %s", err);
    master_set_runner(M, RN);
}

/* The table entry of id (fails when there is none). */
static master_worker_info info_of(const char *id)
{
    master_worker_info info[8];
    size_t n = master_workers(M, info, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (strcmp(info[i].id, id) == 0)
            return info[i];
    fail_msg("no worker %s in the table", id);
    return info[0];
}

static const char *state_of(const char *id)
{
    return info_of(id).state;
}

static size_t table_size(void)
{
    master_worker_info info[8];
    return master_workers(M, info, 8);
}

static bool logged_has(const char *text)
{
    return logged.s && strstr(logged.s, text) != NULL;
}

static int logged_count(const char *text)
{
    int n = 0;
    for (const char *p = logged.s; p && (p = strstr(p, text)); p += strlen(text))
        n++;
    return n;
}

#define assert_logged(text)                                                               \
    do {                                                                                  \
        if (!logged_has(text))                                                            \
            fail_msg("not logged: %s\n--- log:\n%s", text, sbuf_str(&logged));            \
    } while (0)

static void observe(void *data, int level, const char *line)
{
    (void)data, (void)level;
    sbuf_puts(&logged, line);
    sbuf_putc(&logged, '\n');
}

static void tick(struct ev_loop *l, ev_timer *t, int revents)
{
    (void)l, (void)t, (void)revents;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Two classes, 3:1, aimed at a closed port (no request is made here anyway). */
#define SCENARIO                                                                          \
    "{\"host\": \"http://127.0.0.1:9\",\n"                                                \
    " \"users\": [\n"                                                                     \
    "  {\"name\": \"A\", \"weight\": 3, \"wait_time\": 1, \"tasks\": [{\"request\": \"/a\"}]},\n" \
    "  {\"name\": \"B\", \"weight\": 1, \"wait_time\": 1, \"tasks\": [{\"request\": \"/b\"}]}]}\n"

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
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
    memset(&hk, 0, sizeof hk);
    zctx = zmq_ctx_new();
    nfakes = 0;
    port = free_port();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cicada-test-master-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(scenario_path, sizeof scenario_path, "%s/s.json", tmpdir);
    write_text(scenario_path, SCENARIO);
    SC = scenario_load(scenario_path, &(scenario_opts){0}, err, sizeof err);
    if (!SC) {
        fprintf(stderr, "scenario_load: %s\n", err);
        return -1;
    }
    S = stats_new(0, false, ev_now(loop));
    M = NULL;
    RN = NULL;
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    runner_free(RN);
    master_free(M);
    while (nfakes)
        zmq_close(fakes[--nfakes].sock);
    zmq_ctx_term(zctx);
    scenario_free(SC);
    stats_free(S);
    ev_timer_stop(loop, &ticker);
    ev_loop_destroy(loop);
    nftw(tmpdir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    log_set_observer(NULL, NULL);
    log_close();
    sbuf_free(&logged);
    alarm(0);
    return 0;
}

/* ---- joining ------------------------------------------------------------------------ */

static void test_hello_gets_welcome_with_indexes(void **state)
{
    (void)state;
    start_master(30, 60);
    fake *a = fake_new("host-a_1_aaaaaaaa"), *b = fake_new("host-b_2_bbbbbbbb");
    assert_int_equal(join(a), 0);
    assert_int_equal(master_worker_count(M), 1);
    assert_int_equal(hk.changed, 1);
    assert_int_equal(join(b), 1);
    assert_int_equal(master_worker_count(M), 2);
    assert_int_equal(hk.changed, 2);
    assert_logged("Worker host-b_2_bbbbbbbb (index 1) reported as ready. 2 workers connected.");

    /* A repeated hello (the first welcome crossed it) keeps the index and changes nothing. */
    assert_int_equal(join(a), 0);
    assert_int_equal(master_worker_count(M), 2);
    assert_int_equal(hk.changed, 2);

    master_worker_info info[8];
    assert_int_equal(master_workers(M, info, 8), 2);
    assert_string_equal(info[0].id, "host-a_1_aaaaaaaa");
    assert_string_equal(info[0].host, "host-of-test");
    assert_string_equal(info[0].state, "ready");
    assert_int_equal(info[0].index, 0);
    assert_int_equal(info[0].user_count, 0);
    assert_string_equal(info[1].id, "host-b_2_bbbbbbbb");
    assert_int_equal(info[1].index, 1);
    assert_true(info[1].heartbeat_age >= 0 && info[1].heartbeat_age < 1);
    /* max limits what is filled, not what is counted. */
    assert_int_equal(master_workers(M, info, 1), 2);

    /* Indexes are never reused: a worker that quit leaves a gap. */
    fake_send(a, "{\"type\":\"quit\",\"data\":{}}");
    RUN_UNTIL(table_size() == 1, 2);
    assert_int_equal(hk.changed, 3);
    fake *c = fake_new("host-c_3_cccccccc");
    assert_int_equal(join(c), 2);
}

static void test_wrong_protocol_refused(void **state)
{
    (void)state;
    start_master(30, 60);
    fake *z = fake_new("old_7_00000000");
    fake_hello(z, 2, "h");
    wire_msg m;
    fake_expect(z, WIRE_REFUSED, &m, 2);
    const char *reason = "";
    char err[128];
    assert_int_equal(wire_get_str(m.data, "reason", &reason, err, sizeof err), 0);
    /* Both sides' versions, of the protocol and of cicada. */
    assert_string_equal(reason, "this master (cicada " VERSION ") speaks protocol version 1 "
                                "and the worker (cicada w-2.0) speaks 2");
    wire_msg_free(&m);
    assert_logged("Refused worker old_7_00000000: this master");
    assert_int_equal(master_worker_count(M), 0);
    assert_int_equal(table_size(), 0);
    assert_int_equal(hk.changed, 0);

    /* No protocol at all, or not an integer. */
    fake_send(z, "{\"type\":\"hello\",\"data\":{\"version\":\"0.1\"}}");
    fake_expect(z, WIRE_REFUSED, &m, 2);
    assert_int_equal(wire_get_str(m.data, "reason", &reason, err, sizeof err), 0);
    assert_non_null(strstr(reason, "protocol version 1"));
    assert_non_null(strstr(reason, "(cicada 0.1)"));
    assert_non_null(strstr(reason, "unknown"));
    wire_msg_free(&m);
    fake_send(z, "{\"type\":\"hello\",\"data\":{\"protocol\":\"1\"}}");
    fake_expect_only(z, WIRE_REFUSED);
    assert_int_equal(table_size(), 0);

    /* A refused id may come back speaking the right version; refusals took no index. */
    assert_int_equal(join(z), 0);
    assert_int_equal(master_worker_count(M), 1);
}

/* ---- heartbeats --------------------------------------------------------------------- */

static void test_heartbeat_gets_pong_and_updates_info(void **state)
{
    (void)state;
    start_master(30, 60);
    fake *a = fake_new("wa");
    join(a);
    fake_heartbeat(a, "running", 5);
    fake_expect_only(a, WIRE_PONG);
    master_worker_info i = info_of("wa");
    assert_string_equal(i.state, "running");
    assert_int_equal(i.user_count, 5);
    assert_same_double(i.cpu, 12.5);
    assert_int_equal(i.rss, 1048576);
    /* Locust's worker states map onto the master's table. */
    fake_heartbeat(a, "stopping", 2);
    fake_expect_only(a, WIRE_PONG);
    assert_string_equal(state_of("wa"), "stopping");
    fake_heartbeat(a, "stopped", 0);
    fake_expect_only(a, WIRE_PONG);
    assert_string_equal(state_of("wa"), "ready");
    fake_heartbeat(a, "spawning", 1);
    fake_expect_only(a, WIRE_PONG);
    assert_string_equal(state_of("wa"), "spawning");
    assert_int_equal(info_of("wa").user_count, 1);

    /* A malformed heartbeat gets no pong and changes nothing; it is logged once. */
    fake_heartbeat(a, "dancing", 9);
    fake_send(a, "{\"type\":\"heartbeat\",\"data\":{\"state\":\"running\",\"user_count\":-1,"
                 "\"cpu\":1,\"rss\":1}}");
    fake_send(a, "{\"type\":\"heartbeat\",\"data\":{\"state\":\"running\",\"user_count\":3}}");
    fake_quiet(a, 0.2);
    assert_string_equal(state_of("wa"), "spawning");
    assert_int_equal(info_of("wa").user_count, 1);
    assert_int_equal(logged_count("dropped a malformed message from wa: heartbeat"), 1);

    /* A busy worker is worth a warning, once. */
    for (int k = 0; k < 2; k++) {
        fake_send(a, "{\"type\":\"heartbeat\",\"data\":{\"state\":\"running\",\"user_count\":3,"
                     "\"cpu\":97.0,\"rss\":1}}");
        fake_expect_only(a, WIRE_PONG);
    }
    assert_int_equal(logged_count("Worker wa (index 0) exceeded cpu threshold (97%)"), 1);
}

/* Heartbeats for the fakes in keep_alive, from the loop; what they get is read there:
 * spawn orders into keep_plan (when given), the rest dropped. */
struct plan;
static fake *keep_alive[4];
static struct plan *keep_plan[4];
static ev_timer beat;
static void read_spawn(fake *f, const wire_msg *m, struct plan *p);

static void beat_cb(struct ev_loop *l, ev_timer *t, int revents)
{
    (void)l, (void)t, (void)revents;
    for (int i = 0; i < 4; i++) {
        if (!keep_alive[i])
            continue;
        fake_heartbeat(keep_alive[i], "running", 1);
        wire_msg m;
        while (fake_try(keep_alive[i], &m)) {
            if (m.type == WIRE_SPAWN && keep_plan[i])
                read_spawn(keep_alive[i], &m, keep_plan[i]);
            wire_msg_free(&m);
        }
    }
}

static void keep_alive_start(fake *f, struct plan *p)
{
    memset(keep_alive, 0, sizeof keep_alive);
    memset(keep_plan, 0, sizeof keep_plan);
    keep_alive[0] = f;
    keep_plan[0] = p;
    ev_timer_init(&beat, beat_cb, 0.05, 0.05);
    ev_timer_start(loop, &beat);
}

static void test_missing_and_back(void **state)
{
    (void)state;
    start_master(0.5, 60);
    fake *a = fake_new("wa"), *b = fake_new("wb");
    join(a);
    join(b);
    keep_alive_start(b, NULL);
    int changed = hk.changed;
    /* The master looks once a second: missing within heartbeat_timeout + 1 s. */
    RUN_UNTIL(strcmp(state_of("wa"), "missing") == 0, 2.5);
    assert_string_equal(state_of("wb"), "running");
    assert_int_equal(master_worker_count(M), 1);
    assert_int_equal(table_size(), 2);  /* listed until missing_forget */
    assert_int_equal(hk.changed, changed + 1);
    assert_int_equal(info_of("wa").user_count, 0);
    assert_true(info_of("wa").heartbeat_age > 0.5);
    assert_logged("Worker wa failed to send heartbeat, setting state to missing.");
    /* No test runs: losing a worker stops nothing. */
    assert_int_equal(hk.no_workers, 0);

    /* A heartbeat brings it back, with its index and the state it reports. */
    fake_heartbeat(a, "running", 4);
    fake_expect_only(a, WIRE_PONG);
    assert_string_equal(state_of("wa"), "running");
    assert_int_equal(info_of("wa").user_count, 4);
    assert_int_equal(info_of("wa").index, 0);
    assert_int_equal(master_worker_count(M), 2);
    assert_int_equal(hk.changed, changed + 2);
    assert_logged("Worker wa self-healed with heartbeat, setting state to running.");
    ev_timer_stop(loop, &beat);
}

static void test_missing_is_forgotten(void **state)
{
    (void)state;
    start_master(0.2, 0.5);
    fake *a = fake_new("wa");
    join(a);
    RUN_UNTIL(strcmp(state_of("wa"), "missing") == 0, 2.5);
    RUN_UNTIL(table_size() == 0, 2.5);
    assert_logged("Worker wa has been missing for 0.5 s: forgotten");
    /* Forgotten means unknown: it must say hello again. */
    fake_heartbeat(a, "running", 1);
    fake_expect_only(a, WIRE_REREGISTER);
    assert_int_equal(join(a), 1);
}

/* ---- unknown peers and garbage ------------------------------------------------------ */

static void test_unknown_id_gets_reregister(void **state)
{
    (void)state;
    start_master(30, 60);
    fake *g = fake_new("ghost");
    /* A master that restarted hears from workers it never welcomed. */
    fake_heartbeat(g, "running", 3);
    fake_expect_only(g, WIRE_REREGISTER);
    fake_send(g, "{\"type\":\"spawning_complete\",\"data\":{\"user_count\":3}}");
    fake_expect_only(g, WIRE_REREGISTER);
    fake_send(g, "{\"type\":\"stopped\",\"data\":{}}");
    fake_expect_only(g, WIRE_REREGISTER);
    assert_int_equal(table_size(), 0);
    assert_int_equal(hk.changed, 0);
    assert_int_equal(stats_total(S)->num_requests, 0);
}

static void test_garbage_is_dropped(void **state)
{
    (void)state;
    start_master(30, 60);
    fake *a = fake_new("wa");
    join(a);
    fake_heartbeat(a, "running", 2);
    fake_expect_only(a, WIRE_PONG);
    int changed = hk.changed;
    /* Not JSON, not an object, no type, no data, empty, msgpack. */
    static const char *const junk[] = {
        "not json", "[1,2]", "{\"data\":{}}", "{\"type\":\"heartbeat\"}",
        "{\"type\":\"heartbeat\",\"data\":[]}", "", "\x82\xa4type\xa9heartbeat"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_int_equal(zmq_send(a->sock, junk[i], strlen(junk[i]), 0), (int)strlen(junk[i]));
    /* Two frames where one is expected. */
    assert_int_equal(zmq_send(a->sock, "{}", 2, ZMQ_SNDMORE), 2);
    assert_int_equal(zmq_send(a->sock, "{}", 2, 0), 2);
    /* Types a worker does not send, or this version does not know. */
    fake_send(a, "{\"type\":\"welcome\",\"data\":{\"protocol\":1,\"index\":5}}");
    fake_send(a, "{\"type\":\"spawn\",\"data\":{}}");
    fake_send(a, "{\"type\":\"rebalance\",\"data\":{}}");
    /* Fields of the wrong type. */
    fake_send(a, "{\"type\":\"spawning_complete\",\"data\":{\"user_count\":\"9\"}}");
    fake_send(a, "{\"type\":\"stats\",\"data\":{\"user_count\":9}}");
    /* An id that is not printable (a space), from a peer the master never saw. */
    fake *bad = fake_new("bad id");
    fake_hello(bad, 1, "h");
    fake_quiet(a, 0.3);
    fake_quiet(bad, 0.01);

    assert_int_equal(table_size(), 1);
    assert_int_equal(master_worker_count(M), 1);
    assert_string_equal(state_of("wa"), "running");
    assert_int_equal(info_of("wa").user_count, 2);
    assert_int_equal(info_of("wa").index, 0);
    assert_int_equal(hk.changed, changed);
    assert_int_equal(stats_total(S)->num_requests, 0);
    assert_logged("dropped 1 malformed messages (bad framing or peer id)");
    assert_logged("dropped a malformed message from wa: not JSON");
    assert_logged("dropped a malformed message from wa: field \"user_count\" must be an "
                  "integer >= 0");
    assert_logged("dropped a malformed message from wa: field \"entries\" must be an array");
    assert_logged("dropped a malformed message from wa: a message type this master does "
                  "not take");
    /* Still served. */
    fake_heartbeat(a, "running", 2);
    fake_expect_only(a, WIRE_PONG);
}

/* ---- stats reports ------------------------------------------------------------------ */

static void send_report(fake *f, stats *w, unsigned users)
{
    sbuf b = SBUF_INIT;
    json_writer j;
    wire_begin(&j, &b, WIRE_STATS);
    wire_put_stats(&j, w);
    json_key(&j, "user_count");
    json_put_uint(&j, users);
    wire_end(&j);
    assert_int_equal(zmq_send(f->sock, b.s, b.len, 0), (int)b.len);
    sbuf_free(&b);
}

static void test_stats_reports_merge(void **state)
{
    (void)state;
    start_master(30, 60);
    fake *a = fake_new("wa"), *b = fake_new("wb");
    join(a);
    join(b);
    double now = ev_now(loop);
    stats *wa = stats_new(0, false, now), *wb = stats_new(0, false, now);
    stats_entry *ea = stats_entry_get(wa, "GET", "/a", now);
    for (int i = 0; i < 10; i++)
        stats_log(wa, ea, now, 1000 + i, 10, i % 5 ? NULL : "HTTPError(500)");
    stats_entry *eb = stats_entry_get(wb, "GET", "/a", now);
    stats_log(wb, eb, now, 90000, 10, "HTTPError(500)");
    stats_log(wb, stats_entry_get(wb, "POST", "/b", now), now, -1, 0, NULL);
    stats_log_exception(wa, "KeyError", "tb", "local");
    stats_log_exception(wb, "KeyError", "tb", "local");
    send_report(a, wa, 7);
    send_report(b, wb, 3);
    RUN_UNTIL(stats_total(S)->num_requests == 12, 2);
    stats_entry *m = stats_entry_get(S, "GET", "/a", now);
    assert_int_equal(m->num_requests, 11);
    assert_int_equal(m->num_failures, 3);
    assert_int_equal(m->min_rt_us, 1000);
    assert_int_equal(m->max_rt_us, 90000);
    /* Percentiles as one process that saw every request has them. */
    stats *ref = stats_new(0, false, now);
    stats_entry *r = stats_entry_get(ref, "GET", "/a", now);
    for (int i = 0; i < 10; i++)
        stats_log(ref, r, now, 1000 + i, 10, NULL);
    stats_log(ref, r, now, 90000, 10, NULL);
    for (int p = 0; p < STATS_NPCT; p++)
        assert_int_equal(stats_percentile_us(m, stats_percentiles[p]),
                         stats_percentile_us(r, stats_percentiles[p]));
    stats_free(ref);
    assert_int_equal(stats_entry_get(S, "POST", "/b", now)->num_none_requests, 1);
    assert_int_equal(stats_error_count(S), 3);
    size_t n;
    stats_exception *const *x = stats_exceptions(S, &n);
    assert_int_equal(n, 1);
    assert_int_equal(x[0]->count, 2);
    assert_string_equal(x[0]->nodes, "wa, wb");
    /* The report's user count is the worker's. */
    assert_int_equal(info_of("wa").user_count, 7);
    assert_int_equal(info_of("wb").user_count, 3);

    /* A report that does not add up merges nothing and is logged with its reason. */
    send_report(a, wa, 7);  /* wa was not reset: the same again, but broken below */
    fake_send(a, "{\"type\":\"stats\",\"data\":{\"user_count\":1,\"entries\":[{\"method\":"
                 "\"GET\",\"name\":\"/a\",\"num_requests\":2,\"num_none_requests\":0,"
                 "\"num_failures\":0,\"total_rt_us\":2,\"min_rt_us\":1,\"max_rt_us\":1,"
                 "\"total_content_length\":0,\"start_time\":1,\"last_request_ts\":1,"
                 "\"hist\":[1,1],\"secs\":[]}],\"total\":{},\"errors\":[],"
                 "\"exceptions\":[]}}");
    RUN_UNTIL(stats_total(S)->num_requests == 22, 2);
    run_for(0.1);
    assert_int_equal(stats_total(S)->num_requests, 22);
    assert_int_equal(info_of("wa").user_count, 7);
    assert_logged("dropped a malformed message from wa: entry \"/a\": the histogram holds 1 "
                  "samples, not 2");
    stats_free(wa);
    stats_free(wb);
}

/* Regression (engine/wire.c wire_merge_stats, shown through engine/master.c on_message): a report
 * whose "errors" (or "exceptions") array holds a non-object is refused without a message,
 * and on_message then logs its `char err[300]`, never written: the log line carries stack
 * garbage (or reads past the buffer). */
static void test_refused_report_is_explained(void **state)
{
    (void)state;
    start_master(30, 60);
    fake *a = fake_new("wa");
    join(a);
    fake_send(a, "{\"type\":\"stats\",\"data\":{\"user_count\":1,\"entries\":[],\"total\":"
                 "{\"method\":\"\",\"name\":\"Aggregated\",\"num_requests\":0,"
                 "\"num_none_requests\":0,\"num_failures\":0,\"total_rt_us\":0,"
                 "\"min_rt_us\":0,\"max_rt_us\":0,\"total_content_length\":0,"
                 "\"start_time\":1,\"last_request_ts\":0,\"hist\":[],\"secs\":[]},"
                 "\"errors\":[7],\"exceptions\":[]}}");
    RUN_UNTIL(logged_has("dropped a malformed message from wa: "), 2);
    const char *line = strstr(logged.s, "dropped a malformed message from wa: ");
    const char *why = line + strlen("dropped a malformed message from wa: ");
    if (strncmp(why, "an item of \"errors\" must be an object", 37) != 0)
        fail_msg("the reason logged is not one: %.80s", why);
}

/* ---- leaving ------------------------------------------------------------------------ */

static void test_worker_quit_and_master_quit(void **state)
{
    (void)state;
    start_master(30, 60);
    fake *a = fake_new("wa"), *b = fake_new("wb"), *c = fake_new("wc");
    join(a);
    join(b);
    join(c);
    fake_send(b, "{\"type\":\"quit\",\"data\":{}}");
    RUN_UNTIL(table_size() == 2, 2);
    assert_int_equal(master_worker_count(M), 2);
    assert_logged("Worker wb quit. 2 workers connected.");
    /* Gone means unknown. */
    fake_heartbeat(b, "ready", 0);
    fake_expect_only(b, WIRE_REREGISTER);
    /* The master ending tells every worker still there. */
    master_quit_workers(M);
    fake_expect_only(a, WIRE_QUIT);
    fake_expect_only(c, WIRE_QUIT);
    fake_quiet(b, 0.05);
}

static void test_bind_busy(void **state)
{
    (void)state;
    start_master(30, 60);
    master_config cfg = {.bind_host = "127.0.0.1", .bind_port = port, .heartbeat_timeout = 3,
                         .missing_forget = 60, .version = VERSION};
    char err[256] = "";
    master *m2 = master_new(loop, S, SC, &cfg, NULL, err, sizeof err);
    assert_null(m2);
    char want[64];
    snprintf(want, sizeof want, "The cicada master port (%d) was busy.", port);
    assert_memory_equal(err, want, strlen(want));
    cfg.bind_host = "no-such-interface.invalid";
    assert_null(master_new(loop, S, SC, &cfg, NULL, err, sizeof err));
    const char *want2 = "--master-bind-host no-such-interface.invalid: cannot bind ";
    assert_memory_equal(err, want2, strlen(want2));
}

/* ---- plans -------------------------------------------------------------------------- */

/* Reads spawn orders for f until none comes for a while; the last counts of A and B, how
 * many orders came and whether the first carried the test. */
struct plan {
    int orders;
    uint64_t a, b, test;
    bool first_had_files;
    char main[PATH_MAX];
    char files_path[PATH_MAX];
    sbuf file;                  /* the scenario as sent, decoded */
    char host[128];
    double stop_timeout;
    uint64_t data_slot, data_slots;
};

static void read_spawn(fake *f, const wire_msg *m, struct plan *p)
{
    char err[256];
    const json_value *c = json_get(m->data, "counts");
    assert_non_null(c);
    assert_int_equal(c->type, JSON_OBJECT);
    assert_int_equal(c->obj.count, 2);
    assert_int_equal(wire_get_uint(c, "A", &p->a, err, sizeof err), 0);
    assert_int_equal(wire_get_uint(c, "B", &p->b, err, sizeof err), 0);
    assert_int_equal(wire_get_uint(m->data, "test", &p->test, err, sizeof err), 0);
    assert_int_equal(wire_get_num(m->data, "stop_timeout", &p->stop_timeout, err, sizeof err),
                     0);
    const json_value *files = json_get(m->data, "files");
    if (p->orders++ == 0) {
        p->first_had_files = files != NULL;
        if (!files)
            return;
        assert_int_equal(files->type, JSON_ARRAY);
        assert_int_equal(files->arr.count, 1);
        const char *path, *b64, *main_paths, *host;
        assert_int_equal(wire_get_str(&files->arr.items[0], "path", &path, err, sizeof err), 0);
        assert_int_equal(wire_get_str(&files->arr.items[0], "base64", &b64, err, sizeof err),
                         0);
        snprintf(p->files_path, sizeof p->files_path, "%s", path);
        sbuf_reset(&p->file);
        assert_int_equal(wire_b64_decode(&p->file, b64, strlen(b64)), 0);
        assert_int_equal(wire_get_str(m->data, "main", &main_paths, err, sizeof err), 0);
        snprintf(p->main, sizeof p->main, "%s", main_paths);
        const json_value *set = json_get(m->data, "settings");
        assert_non_null(set);
        assert_int_equal(wire_get_str(set, "host", &host, err, sizeof err), 0);
        snprintf(p->host, sizeof p->host, "%s", host);
        assert_int_equal(wire_get_uint(m->data, "data_slot", &p->data_slot, err, sizeof err), 0);
        assert_int_equal(wire_get_uint(m->data, "data_slots", &p->data_slots, err, sizeof err),
                         0);
    } else if (files) {
        fail_msg("%s: a later spawn order of the same test carries the files again", f->id);
    }
}

/* Collects f's spawn orders until `quiet` seconds pass without one. */
static void collect_spawns(fake *f, struct plan *p, double quiet)
{
    for (;;) {
        bool have = false;
        wire_msg m;
        ev_now_update(loop);
        expired = false;
        ev_timer_set(&watchdog, quiet, 0.);
        ev_timer_start(loop, &watchdog);
        while (!expired && !have)
            if (!(have = fake_try(f, &m)))
                ev_run(loop, EVRUN_ONCE);
        ev_timer_stop(loop, &watchdog);
        if (!have)
            return;
        if (m.type != WIRE_SPAWN)
            fail_msg("%s: want spawn orders, got %s", f->id, f->text);
        read_spawn(f, &m, p);
        wire_msg_free(&m);
    }
}

static void test_plan_spawn_and_stop(void **state)
{
    (void)state;
    start_master_runner(30);
    fake *a = fake_new("wa"), *b = fake_new("wb");
    join(a);
    join(b);
    char err[256] = "";
    assert_int_equal(runner_start(RN, 8, 100, err, sizeof err), 0);
    assert_int_equal(hk.test_start, 1);
    struct plan pa = {0}, pb = {0};
    collect_spawns(a, &pa, 0.3);
    collect_spawns(b, &pb, 0.05);
    /* 8 users at 3:1 over two workers, each the half. */
    assert_int_equal(pa.a + pb.a, 6);
    assert_int_equal(pa.b + pb.b, 2);
    assert_int_equal(pa.a + pa.b, 4);
    assert_int_equal(pb.a + pb.b, 4);
    assert_int_equal(pa.test, 1);
    assert_same_double(pa.stop_timeout, 2.5);
    /* The first order of the test carries it: the scenario, byte for byte, by its real
     * path, and the settings. */
    assert_true(pa.first_had_files && pb.first_had_files);
    char real[PATH_MAX];
    assert_non_null(realpath(scenario_path, real));
    assert_string_equal(pa.files_path, real);
    assert_string_equal(pa.main, real);
    assert_string_equal(sbuf_str(&pa.file), SCENARIO);
    assert_string_equal(pa.host, test_host);
    /* Each worker its own share of the test data. */
    assert_int_equal(pa.data_slots, 2);
    assert_int_equal(pb.data_slots, 2);
    assert_int_not_equal(pa.data_slot, pb.data_slot);
    RUN_UNTIL(runner_state(RN) == RUNNER_RUNNING, 2);

    /* The workers' word is what the master counts. */
    fake_send(a, "{\"type\":\"spawning\",\"data\":{}}");
    fake_send(a, "{\"type\":\"spawning_complete\",\"data\":{\"user_count\":4}}");
    fake_send(b, "{\"type\":\"spawning_complete\",\"data\":{\"user_count\":3}}");
    RUN_UNTIL(runner_user_count(RN) == 7, 2);
    assert_string_equal(state_of("wa"), "running");

    /* A worker's task may end the whole test. */
    fake_send(b, "{\"type\":\"end_test\",\"data\":{\"reason\":\"data ran out\"}}");
    RUN_UNTIL(hk.end_test == 1, 2);
    assert_string_equal(hk.reason, "data ran out");

    /* Stop: every worker is told, and the test has stopped once all have said so. */
    runner_stop(RN);
    fake_expect_only(a, WIRE_STOP);
    fake_expect_only(b, WIRE_STOP);
    assert_int_equal(runner_state(RN), RUNNER_CLEANUP);
    fake_send(a, "{\"type\":\"stopped\",\"data\":{}}");
    run_for(0.1);
    assert_int_equal(runner_state(RN), RUNNER_CLEANUP);
    assert_int_equal(hk.test_stop, 0);
    fake_send(b, "{\"type\":\"stopped\",\"data\":{}}");
    RUN_UNTIL(runner_state(RN) == RUNNER_STOPPED, 2);
    assert_int_equal(hk.test_stop, 1);
    assert_int_equal(runner_user_count(RN), 0);
    assert_string_equal(state_of("wa"), "ready");
    /* end_test outside a test does nothing. */
    fake_send(b, "{\"type\":\"end_test\",\"data\":{\"reason\":\"late\"}}");
    run_for(0.1);
    assert_int_equal(hk.end_test, 1);

    /* The next test is test 2 and carries the files again. */
    struct plan qa = {0};
    assert_int_equal(runner_start(RN, 2, 100, err, sizeof err), 0);
    collect_spawns(a, &qa, 0.3);
    assert_int_equal(qa.test, 2);
    assert_true(qa.first_had_files);
    assert_int_equal(qa.a + qa.b, 1);
    sbuf_free(&pa.file);
    sbuf_free(&pb.file);
    sbuf_free(&qa.file);
    runner_stop(RN);
}

static void test_missing_worker_users_move(void **state)
{
    (void)state;
    start_master_runner(0.5);
    fake *a = fake_new("wa"), *b = fake_new("wb");
    join(a);
    join(b);
    struct plan pa = {0}, pb = {0};
    keep_alive_start(a, &pa);
    char err[256] = "";
    assert_int_equal(runner_start(RN, 4, 100, err, sizeof err), 0);
    collect_spawns(b, &pb, 0.2);
    assert_int_equal(pb.a + pb.b, 2);
    RUN_UNTIL(pa.orders > 0, 1);
    assert_int_equal(pa.a + pa.b, 2);
    assert_int_equal(runner_state(RN), RUNNER_RUNNING);
    /* wb says nothing more: missing, and wa takes over its users. wb never reported a
     * user count (no heartbeat, no spawning_complete): the log still says how many users
     * move, as the plan had them. */
    RUN_UNTIL(strcmp(state_of("wb"), "missing") == 0, 2.5);
    assert_logged("Worker wb failed to send heartbeat, setting state to missing.");
    assert_logged("Worker wb is missing: its 2 users will be replaced on the other workers");
    assert_int_equal(hk.no_workers, 0);
    RUN_UNTIL(pa.a + pa.b == 4, 2);
    assert_int_equal(pa.a, 3);
    assert_int_equal(pa.b, 1);
    assert_int_equal(pa.test, 1);
    /* Then wa goes silent too: no worker is left, and the program is told. */
    ev_timer_stop(loop, &beat);
    RUN_UNTIL(hk.no_workers == 1, 2.5);
    assert_string_equal(hk.why, "The last worker went missing, stopping test.");
    assert_false(hk.refused);
    assert_int_equal(master_worker_count(M), 0);
    sbuf_free(&pa.file);
    sbuf_free(&pb.file);
}

/* Regression (engine/master.c, on_message WIRE_QUIT -> leave_plan): the quitting worker is still
 * in the table, and live, when leave_plan counts the workers left, so
 * master_worker_count() is 1 when the last worker quits: the no_workers hook ("The last
 * worker quit, stopping test.") never fires, and the log says instead "Worker wa quit: its
 * 2 users will be replaced on the other workers" when there are none. A headless master
 * (server/app.c on_no_workers -> app_quit) then runs on with no worker and no user until
 * -t, or forever. (The missing path is right: go_missing marks the worker first.)
 * */
static void test_last_worker_quits(void **state)
{
    (void)state;
    start_master_runner(30);
    fake *a = fake_new("wa");
    join(a);
    char err[256] = "";
    assert_int_equal(runner_start(RN, 2, 100, err, sizeof err), 0);
    fake_expect_only(a, WIRE_SPAWN);
    RUN_UNTIL(runner_state(RN) == RUNNER_RUNNING, 2);
    fake_send(a, "{\"type\":\"quit\",\"data\":{}}");
    RUN_UNTIL(table_size() == 0, 2);
    assert_false(logged_has("users will be replaced on the other workers"));
    assert_int_equal(hk.no_workers, 1);
    assert_string_equal(hk.why, "The last worker quit, stopping test.");
    assert_false(hk.refused);
}

static void test_worker_joins_running_test(void **state)
{
    (void)state;
    start_master_runner(30);
    fake *a = fake_new("wa"), *b = fake_new("wb");
    join(a);
    char err[256] = "";
    assert_int_equal(runner_start(RN, 2, 100, err, sizeof err), 0);
    struct plan pa = {0};
    collect_spawns(a, &pa, 0.2);
    assert_int_equal(pa.a + pa.b, 2);
    RUN_UNTIL(runner_state(RN) == RUNNER_RUNNING, 2);
    /* A worker joining the running test gets its share at once, with the test's files;
     * the first worker gives up what it hands over. */
    join(b);
    struct plan pb = {0};
    collect_spawns(b, &pb, 0.3);
    collect_spawns(a, &pa, 0.05);
    assert_true(pb.first_had_files);
    assert_int_equal(pb.test, 1);
    assert_int_equal(pa.a + pa.b + pb.a + pb.b, 2);
    assert_int_equal(pb.a + pb.b, 1);
    /* wa leaves: wb gets everything. */
    fake_send(a, "{\"type\":\"quit\",\"data\":{}}");
    bool all = false;
    RUN_UNTIL(all || (collect_spawns(b, &pb, 0.02), all = pb.a + pb.b == 2), 2);
    assert_int_equal(hk.no_workers, 0);
    sbuf_free(&pa.file);
    sbuf_free(&pb.file);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_hello_gets_welcome_with_indexes),
        T(test_wrong_protocol_refused),
        T(test_heartbeat_gets_pong_and_updates_info),
        T(test_missing_and_back),
        T(test_missing_is_forgotten),
        T(test_unknown_id_gets_reregister),
        T(test_garbage_is_dropped),
        T(test_stats_reports_merge),
        T(test_refused_report_is_explained),
        T(test_worker_quit_and_master_quit),
        T(test_bind_busy),
        T(test_plan_spawn_and_stop),
        T(test_missing_worker_users_move),
        T(test_last_worker_quits),
        T(test_worker_joins_running_test),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
