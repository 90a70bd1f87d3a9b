#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "capi.h"
#include "fdlimit.h"
#include "health.h"
#include "log.h"
#include "rng.h"
#include "runner.h"
#include "sbuf.h"
#include "scenario.h"
#include "shape.h"
#include "stats.h"
#include "wire.h"
#include "xalloc.h"
#include "zsock.h"

#define LOGGER "cicada.worker"
#define BATCH 64

struct worker {
    struct ev_loop *loop;
    worker_config cfg;
    void (*done)(void *data, int code);
    void *done_data;
    void *ctx;
    zsock z;
    char *id;
    char *endpoint;
    http *http;
    stats *stats;
    scenario *sc;
    runner *runner;
    uint64_t test;          /* the test the scenario was loaded for; 0: none */
    char *root;             /* the temporary directory the master's files go in */
    bool welcomed;
    bool leaving;           /* quit asked (by the master or by a signal) */
    int exit_code;
    unsigned index;
    double last_master;     /* when the master was last heard from */
    double hello_since;     /* when the current round of hellos began */
    unsigned hellos;        /* hellos sent on the current socket while waiting */
    double cpu_at, cpu_used;/* for the CPU % of the last heartbeat interval */
    double cpu;             /* the last CPU % measured */
    ev_timer hello_timer;
    ev_timer beat_timer;
    ev_timer report_timer;
    ev_timer end_timer;     /* ends the worker from the loop, not from a callback */
    sbuf out;
};

#define W_OF(ptr, field) ((worker *)((char *)(ptr) - offsetof(worker, field)))

const char *worker_id(const worker *w)
{
    return w->id;
}

stats *worker_stats(worker *w)
{
    return w->stats;
}

/* ---- sending ------------------------------------------------------------------------ */

static void send_out(worker *w)
{
    if (zsock_send(&w->z, NULL, 0, w->out.s, w->out.len))
        log_warning(LOGGER, "cannot send to the master: %s", zmq_strerror(errno));
}

static void send_simple(worker *w, int type)
{
    json_writer j;
    wire_begin(&j, &w->out, type);
    wire_end(&j);
    send_out(w);
}

static void send_hello(worker *w)
{
    json_writer j;
    wire_begin(&j, &w->out, WIRE_HELLO);
    json_key(&j, "protocol");
    json_put_int(&j, WIRE_PROTOCOL);
    json_key(&j, "version");
    json_put_string(&j, w->cfg.version);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_key(&j, "host");
    json_put_string(&j, host);
    json_key(&j, "pid");
    json_put_int(&j, getpid());
    wire_end(&j);
    send_out(w);
}

static const char *state_name(worker *w)
{
    if (!w->runner)
        return "ready";
    int st = runner_state(w->runner);
    if (st == RUNNER_CLEANUP)
        return "stopping";
    if (st == RUNNER_STOPPED)
        return "ready";
    return runner_state_name(st);
}

static unsigned user_count(worker *w)
{
    return w->runner ? runner_user_count(w->runner) : 0;
}

static void put_classes(worker *w, json_writer *j)
{
    json_key(j, "classes");
    json_begin_object(j);
    for (int i = 0; w->runner && i < runner_class_count(w->runner); i++) {
        json_key(j, runner_class(w->runner, i)->name);
        json_put_uint(j, runner_class_users(w->runner, i));
    }
    json_end_object(j);
}

static void send_stats(worker *w)
{
    json_writer j;
    wire_begin(&j, &w->out, WIRE_STATS);
    wire_put_stats(&j, w->stats);
    json_key(&j, "user_count");
    json_put_uint(&j, user_count(w));
    put_classes(w, &j);
    wire_end(&j);
    send_out(w);
    /* Reports are deltas: what was sent is forgotten here. */
    stats_reset(w->stats, ev_now(w->loop), true);
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void send_heartbeat(worker *w)
{
    double now = ev_time();
    /* Measured over at least half a second: two beats close together (after the process
     * was paused) would otherwise divide a little work by almost no time. */
    if (now - w->cpu_at >= 0.5) {
        double used = health_cpu_seconds();
        w->cpu = (used - w->cpu_used) / (now - w->cpu_at) * 100.0;
        w->cpu_at = now;
        w->cpu_used = used;
    }
    double cpu = w->cpu;
    json_writer j;
    wire_begin(&j, &w->out, WIRE_HEARTBEAT);
    json_key(&j, "state");
    json_put_string(&j, state_name(w));
    json_key(&j, "user_count");
    json_put_uint(&j, user_count(w));
    json_key(&j, "cpu");
    json_put_decimal(&j, cpu < 0 ? 0 : cpu, 1);
    json_key(&j, "rss");
    json_put_uint(&j, rss_bytes());
    wire_end(&j);
    send_out(w);
}

/* ---- ending ------------------------------------------------------------------------- */

static void end_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    worker *w = W_OF(t, end_timer);
    w->done(w->done_data, w->exit_code);
}

static void end(worker *w, int code)
{
    if (ev_is_active(&w->end_timer))
        return;
    w->exit_code = code;
    ev_timer_stop(w->loop, &w->beat_timer);
    ev_timer_stop(w->loop, &w->report_timer);
    ev_timer_stop(w->loop, &w->hello_timer);
    ev_timer_set(&w->end_timer, 0., 0.);
    ev_timer_start(w->loop, &w->end_timer);
}

/* Stops the users; `leaving` decides what follows their stop (on_test_stop). */
static void stop_users(worker *w)
{
    if (!w->runner)
        return;
    int st = runner_state(w->runner);
    if (st == RUNNER_SPAWNING || st == RUNNER_RUNNING)
        runner_stop(w->runner);
}

static bool busy(worker *w)
{
    if (!w->runner)
        return false;
    int st = runner_state(w->runner);
    return st == RUNNER_SPAWNING || st == RUNNER_RUNNING || st == RUNNER_CLEANUP;
}

/* ---- runner hooks ------------------------------------------------------------------- */

static void on_test_start(void *data)
{
    (void)data;
    capi_fire(CICADA_ON_TEST_START);
}

static void on_spawning_complete(void *data, unsigned users)
{
    worker *w = data;
    capi_fire(CICADA_ON_SPAWNING_COMPLETE);
    json_writer j;
    wire_begin(&j, &w->out, WIRE_SPAWNING_COMPLETE);
    json_key(&j, "user_count");
    json_put_uint(&j, users);
    put_classes(w, &j);
    wire_end(&j);
    send_out(w);
}

static void on_test_stop(void *data)
{
    worker *w = data;
    capi_fire(CICADA_ON_TEST_STOP);
    send_stats(w);
    send_simple(w, WIRE_STOPPED);
    if (w->leaving) {
        send_simple(w, WIRE_QUIT);
        end(w, w->exit_code);
    }
}

static void on_end_test(void *data, const char *reason)
{
    worker *w = data;
    json_writer j;
    wire_begin(&j, &w->out, WIRE_END_TEST);
    json_key(&j, "reason");
    json_put_string(&j, reason);
    wire_end(&j);
    send_out(w);
}

/* ---- the master's files ------------------------------------------------------------- */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

/* Empties the temporary directory (everything in it is ours: mkdtemp made it). */
static void remove_files(worker *w)
{
    nftw(w->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool safe_path(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *s = p; *s; s++)
        if (s[0] == '/' && s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))
            return false;
    return true;
}

static int write_file(worker *w, const char *path, const char *text, size_t len, char *err,
                      size_t errlen)
{
    if (!safe_path(path)) {
        snprintf(err, errlen, "refusing the file path \"%.200s\"", path);
        return -1;
    }
    sbuf full = SBUF_INIT;
    sbuf_printf(&full, "%s%s", w->root, path);
    /* mkdir -p of the directories under root */
    for (char *s = full.s + strlen(w->root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        if (mkdir(full.s, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", full.s, strerror(errno));
            sbuf_free(&full);
            return -1;
        }
        *s = '/';
    }
    int fd = open(full.s, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (fd < 0 || done < len || close(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", full.s, strerror(errno));
        if (fd >= 0)
            close(fd);
        sbuf_free(&full);
        return -1;
    }
    sbuf_free(&full);
    return 0;
}

static char **string_list(const json_value *v, int *n)
{
    *n = 0;
    if (!v || v->type != JSON_ARRAY || !v->arr.count)
        return NULL;
    char **out = xcalloc(v->arr.count + 1, sizeof *out);
    for (size_t i = 0; i < v->arr.count; i++)
        if (v->arr.items[i].type == JSON_STRING)
            out[(*n)++] = (char *)v->arr.items[i].str.s;
    return out;
}

static void drop_test(worker *w)
{
    /* The hooks belong to the test's C locustfiles, which go with it. */
    if (w->sc)
        capi_clear_hooks();
    runner_free(w->runner);
    w->runner = NULL;
    scenario_free(w->sc);
    w->sc = NULL;
    remove_files(w);
    w->test = 0;
}

/* Loads the test a spawn order describes (its files, options and data share). */
static int load_test(worker *w, const json_value *d, uint64_t test, char *err, size_t errlen)
{
    const json_value *files = json_get(d, "files"), *set = json_get(d, "settings");
    const char *main_paths;
    if (!files || files->type != JSON_ARRAY || !set || set->type != JSON_OBJECT ||
        wire_get_str(d, "main", &main_paths, err, errlen)) {
        snprintf(err, errlen, "the first spawn order of a test must carry its files");
        return -1;
    }
    drop_test(w);
    for (size_t i = 0; i < files->arr.count; i++) {
        const json_value *f = &files->arr.items[i];
        const char *path;
        const json_value *text = json_get(f, "base64");
        sbuf bytes = SBUF_INIT;
        if (f->type != JSON_OBJECT || wire_get_str(f, "path", &path, err, errlen) || !text ||
            text->type != JSON_STRING ||
            wire_b64_decode(&bytes, text->str.s, text->str.len)) {
            sbuf_free(&bytes);
            snprintf(err, errlen, "a file must be {\"path\", \"base64\"}");
            return -1;
        }
        int rc = write_file(w, path, bytes.s ? bytes.s : "", bytes.len, err, errlen);
        sbuf_free(&bytes);
        if (rc)
            return -1;
    }
    /* The main paths, each under root. */
    sbuf paths = SBUF_INIT;
    char *list = xstrdup(main_paths);
    int bad = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        bad |= !safe_path(p);
        sbuf_printf(&paths, "%s%s%s", paths.len ? "," : "", w->root, p);
    }
    free(list);
    if (bad || !paths.len) {
        snprintf(err, errlen, "refusing the scenario paths \"%.200s\"", main_paths);
        sbuf_free(&paths);
        return -1;
    }
    uint64_t slot = 0, slots = 1;
    if (wire_get_uint(d, "data_slot", &slot, err, errlen) ||
        wire_get_uint(d, "data_slots", &slots, err, errlen) || slots == 0 || slot >= slots ||
        slots > 100000) {
        snprintf(err, errlen, "the spawn order's test data share is missing or bad");
        sbuf_free(&paths);
        return -1;
    }
    scenario_opts so = {.root = w->root, .worker_index = w->index,
                        .data_slot = (unsigned)slot, .data_slots = (unsigned)slots};
    so.classes = string_list(json_get(set, "classes"), &so.nclasses);
    so.tags = string_list(json_get(set, "tags"), &so.ntags);
    so.exclude_tags = string_list(json_get(set, "exclude_tags"), &so.nexclude_tags);
    const json_value *eq = json_get(set, "equal_weights");
    so.equal_weights = eq && eq->type == JSON_TRUE;
    w->sc = scenario_load(sbuf_str(&paths), &so, err, errlen);
    sbuf_free(&paths);
    free(so.classes);
    free(so.tags);
    free(so.exclude_tags);
    if (!w->sc)
        return -1;
    const char *host = NULL;
    const json_value *hv = json_get(set, "host");
    if (hv && hv->type == JSON_STRING)
        host = hv->str.s;
    if (scenario_resolve(w->sc, host, err, errlen))
        return -1;
    scenario_set_stop_test(w->sc, on_end_test, w);
    runner_config cfg = {.node = w->id, .worker = true};
    runner_hooks hooks = {.data = w, .test_start = on_test_start,
                          .spawning_complete = on_spawning_complete, .test_stop = on_test_stop};
    w->runner = runner_new(w->loop, w->http, w->stats, w->sc->run, w->sc->nrun, &cfg, &hooks,
                           err, errlen);
    if (!w->runner)
        return -1;
    w->test = test;
    return 0;
}

static void send_error(worker *w, const char *msg)
{
    log_error(LOGGER, "%s", msg);
    json_writer j;
    wire_begin(&j, &w->out, WIRE_ERROR);
    json_key(&j, "message");
    json_put_string(&j, msg);
    wire_end(&j);
    send_out(w);
}

/* Open model: this worker's share of the master's rate and cap. */
static void on_arrival(worker *w, const json_value *d, const json_value *av)
{
    char err[512];
    jck c = {.path = "spawn order", .err = err, .errlen = sizeof err};
    arrival a;
    double share = 0;
    uint64_t cap = 0;
    double elapsed = 0;
    if (wire_opt_num(d, "elapsed", &elapsed, err, sizeof err) || elapsed < 0 ||
        arrival_from_json(&c, av, &a) ||
        wire_get_num(d, "share", &share, err, sizeof err) || !(share > 0) || share > 1 ||
        wire_get_uint(d, "max_users", &cap, err, sizeof err) || cap == 0 || cap > 10000000) {
        send_error(w, "a malformed arrival rate in a spawn order");
        return;
    }
    if (runner_open(w->runner))
        runner_set_arrival_share(w->runner, share, (unsigned)cap);
    else if (runner_start_arrival(w->runner, &a, (unsigned)cap, share, elapsed, err,
                                  sizeof err))
        send_error(w, err);
    arrival_free(&a);
}

static void on_spawn(worker *w, const json_value *d)
{
    char err[1024];
    uint64_t test;
    const json_value *counts = json_get(d, "counts");
    if (wire_get_uint(d, "test", &test, err, sizeof err) || test == 0 || !counts ||
        counts->type != JSON_OBJECT) {
        log_warning(LOGGER, "dropped a malformed spawn order from the master");
        return;
    }
    send_simple(w, WIRE_SPAWNING);
    if (test != w->test) {
        if (busy(w))
            log_warning(LOGGER, "a new test began while the last one ran: its users are "
                                "dropped");
        if (load_test(w, d, test, err, sizeof err)) {
            drop_test(w);
            send_error(w, err);
            return;
        }
    }
    double st;
    if (json_get(d, "stop_timeout") && wire_get_num(d, "stop_timeout", &st, err, sizeof err) == 0)
        runner_set_stop_timeout(w->runner, st);
    const json_value *av = json_get(d, "arrival");
    if (av) {
        on_arrival(w, d, av);
        return;
    }
    int n = runner_class_count(w->runner);
    unsigned *want = xcalloc((size_t)n, sizeof *want);
    for (size_t i = 0; i < counts->obj.count; i++) {
        const json_member *m = &counts->obj.members[i];
        int c = 0;
        while (c < n && strcmp(runner_class(w->runner, c)->name, m->key) != 0)
            c++;
        if (c == n || m->value.type != JSON_NUMBER || !m->value.num.is_int ||
            m->value.num.i < 0 || m->value.num.i > 10000000) {
            log_warning(LOGGER, "spawn order: no class \"%s\" here, or a bad count", m->key);
            continue;
        }
        want[c] = (unsigned)m->value.num.i;
    }
    unsigned total = 0;
    for (int c = 0; c < n; c++)
        total += want[c];
    fdlimit_check(total);
    if (runner_set_counts(w->runner, want, err, sizeof err))
        send_error(w, err);
    free(want);
}

/* ---- receiving ---------------------------------------------------------------------- */

static void on_message(worker *w, const wire_msg *m)
{
    w->last_master = ev_now(w->loop);
    switch (m->type) {
    case WIRE_WELCOME: {
        uint64_t proto = 0, index = 0;
        char err[200];
        if (wire_get_uint(m->data, "protocol", &proto, err, sizeof err) ||
            wire_get_uint(m->data, "index", &index, err, sizeof err))
            log_warning(LOGGER, "malformed welcome from the master: %s", err);
        if (w->welcomed)
            return;
        w->welcomed = true;
        w->index = (unsigned)index;
        ev_timer_stop(w->loop, &w->hello_timer);
        log_info(LOGGER, "Connected to the master at %s as %s (index %u)", w->endpoint, w->id,
                 w->index);
        ev_timer_again(w->loop, &w->beat_timer);
        ev_timer_again(w->loop, &w->report_timer);
        return;
    }
    case WIRE_REFUSED: {
        const char *reason = "no reason given";
        wire_get_str(m->data, "reason", &reason, NULL, 0);
        log_error(LOGGER, "The master refused this worker: %s", reason);
        drop_test(w);
        end(w, 1);
        return;
    }
    case WIRE_SPAWN:
        if (!w->leaving)
            on_spawn(w, m->data);
        return;
    case WIRE_STOP:
        if (busy(w))
            stop_users(w);
        else
            send_simple(w, WIRE_STOPPED);
        return;
    case WIRE_QUIT:
        log_info(LOGGER, "The master asked this worker to quit");
        w->leaving = true;
        w->exit_code = 0;
        if (busy(w))
            stop_users(w);
        else
            end(w, 0);
        return;
    case WIRE_PONG:
        return;
    case WIRE_REREGISTER:
        /* The master does not know us (it restarted): start over. */
        log_warning(LOGGER, "The master does not know this worker; saying hello again");
        drop_test(w);
        w->welcomed = false;
        w->hello_since = ev_now(w->loop);
        send_hello(w);
        ev_timer_again(w->loop, &w->hello_timer);
        return;
    default:
        log_warning(LOGGER, "dropped a \"%.40s\" message from the master", m->type_name);
    }
}

static void on_readable(zsock *z, void *data)
{
    worker *w = data;
    for (int i = 0; i < BATCH; i++) {
        int rc = zsock_recv(z, WIRE_MAX_MESSAGE);
        if (rc == 0)
            return;
        if (rc < 0) {
            log_warning(LOGGER, "dropped a malformed message from the master");
            continue;
        }
        wire_msg m;
        char err[256];
        if (wire_parse(z->msg.s, z->msg.len, &m, err, sizeof err))
            log_warning(LOGGER, "dropped a message from the master: %s", err);
        else
            on_message(w, &m);
        wire_msg_free(&m);
    }
}

/* ---- timers ------------------------------------------------------------------------- */

/* Gives the worker a new id ("host_pid_random") and opens its DEALER to the master under
 * it, dropping the old socket (and what was queued on it) if any. Returns 0, or -1 with
 * one line in err. */
static int open_socket(worker *w, char *err, size_t errlen)
{
    char host[200] = "";
    gethostname(host, sizeof host - 1);
    for (char *p = host; *p; p++)
        if (*p == '_')
            *p = '-';   /* '_' separates the host from the rest in the id */
    sbuf id = SBUF_INIT;
    sbuf_printf(&id, "%s_%d_%08x", host, (int)getpid(), (unsigned)(rng_next() & 0xffffffffu));
    free(w->id);
    w->id = sbuf_take(&id);
    if (w->z.sock)
        zsock_close(&w->z, 0);
    void *sock = zmq_socket(w->ctx, ZMQ_DEALER);
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, w->id, strlen(w->id));
    int one = 1, idle = 30;
    /* "::1" or a host name that resolves to IPv6 only needs it; IPv4 keeps working. */
    zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof one);
    int64_t maxmsg = WIRE_MAX_MESSAGE;
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle);
    if (zmq_connect(sock, w->endpoint) != 0) {
        snprintf(err, errlen, "--master-host %s: %s", w->cfg.master_host,
                 zmq_strerror(errno));
        zmq_close(sock);
        w->z.sock = NULL;
        return -1;
    }
    zsock_init(&w->z, w->loop, sock, false, on_readable, w);
    w->hellos = 0;
    return 0;
}

/* --reconnect, the master silent: the users stop at once and the test goes (it was the
 * lost master's), then hellos go out as at the start until a master answers. The id is
 * new, so a master that was only slow sees a new worker (and the old one go missing,
 * its users moved) rather than a worker it believes runs users. */
static void start_over(worker *w)
{
    char err[300];
    drop_test(w);
    stats_reset(w->stats, ev_now(w->loop), true);
    w->welcomed = false;
    ev_timer_stop(w->loop, &w->beat_timer);
    ev_timer_stop(w->loop, &w->report_timer);
    if (open_socket(w, err, sizeof err)) {
        log_error(LOGGER, "cannot connect to the master again: %s", err);
        end(w, 1);
        return;
    }
    w->hello_since = w->last_master = ev_now(w->loop);
    log_info(LOGGER, "Waiting for a master at %s as %s", w->endpoint, w->id);
    send_hello(w);
    ev_timer_again(w->loop, &w->hello_timer);
}

static void hello_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    worker *w = W_OF(t, hello_timer);
    if (!w->cfg.reconnect && ev_now(loop) - w->hello_since > w->cfg.connect_timeout) {
        log_error(LOGGER, "Failed to connect to the cicada master at %s: no answer in %g s",
                  w->endpoint, w->cfg.connect_timeout);
        end(w, 1);
        return;
    }
    /* Waiting without a limit: hellos to a master that is not there queue on the socket,
     * so a fresh one now and then keeps that queue short (a new id, as start_over's). */
    if (w->cfg.reconnect && ++w->hellos >= 60) {
        char err[300];
        if (open_socket(w, err, sizeof err)) {
            log_error(LOGGER, "cannot connect to the master again: %s", err);
            end(w, 1);
            return;
        }
    }
    send_hello(w);
}

static void beat_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    worker *w = W_OF(t, beat_timer);
    if (ev_now(loop) - w->last_master > w->cfg.master_timeout && w->cfg.reconnect &&
        !w->leaving) {
        log_warning(LOGGER, "No word from the master for %g s: stopping the users and "
                            "waiting for a master (--reconnect)", w->cfg.master_timeout);
        start_over(w);
        return;
    }
    if (ev_now(loop) - w->last_master > w->cfg.master_timeout) {
        log_error(LOGGER, "No word from the master for %g s: stopping the users and quitting",
                  w->cfg.master_timeout);
        w->leaving = true;
        w->exit_code = 1;
        if (w->runner)
            runner_set_stop_timeout(w->runner, 0);
        if (busy(w))
            stop_users(w);
        else
            end(w, 1);
        return;
    }
    send_heartbeat(w);
}

static void report_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    worker *w = W_OF(t, report_timer);
    if (busy(w))
        send_stats(w);
}

/* ---- life --------------------------------------------------------------------------- */

worker *worker_new(struct ev_loop *loop, const worker_config *cfg,
                   void (*done)(void *data, int code), void *data, char *err, size_t errlen)
{
    worker *w = xcalloc(1, sizeof *w);
    w->loop = loop;
    w->cfg = *cfg;
    w->done = done;
    w->done_data = data;
    sbuf ep = SBUF_INIT;
    bool v6 = strchr(cfg->master_host, ':') != NULL;
    sbuf_printf(&ep, v6 ? "tcp://[%s]:%d" : "tcp://%s:%d", cfg->master_host, cfg->master_port);
    w->endpoint = sbuf_take(&ep);
    const char *tmp = getenv("TMPDIR");
    sbuf root = SBUF_INIT;
    sbuf_printf(&root, "%s/cicada-worker-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root.s)) {
        snprintf(err, errlen, "cannot create a temporary directory %s: %s", root.s,
                 strerror(errno));
        sbuf_free(&root);
        free(w->endpoint);
        free(w);
        return NULL;
    }
    w->root = sbuf_take(&root);
    w->ctx = zmq_ctx_new();
    if (open_socket(w, err, errlen)) {
        zmq_ctx_term(w->ctx);
        rmdir(w->root);
        free(w->root);
        free(w->id);
        free(w->endpoint);
        free(w);
        return NULL;
    }
    w->http = http_new(loop);
    w->stats = stats_new(cfg->max_names, false, ev_time());
    ev_init(&w->hello_timer, hello_cb);
    w->hello_timer.repeat = 1.0;
    ev_init(&w->beat_timer, beat_cb);
    w->beat_timer.repeat = cfg->heartbeat_interval;
    ev_init(&w->report_timer, report_cb);
    w->report_timer.repeat = cfg->report_interval;
    ev_init(&w->end_timer, end_cb);
    w->hello_since = w->last_master = ev_now(loop);
    w->cpu_at = ev_time();
    w->cpu_used = health_cpu_seconds();
    log_info(LOGGER, "Starting worker %s, connecting to the master at %s", w->id, w->endpoint);
    send_hello(w);
    ev_timer_again(loop, &w->hello_timer);
    return w;
}

void worker_leave(worker *w)
{
    if (w->leaving) {
        end(w, w->exit_code);
        return;
    }
    w->leaving = true;
    if (w->runner)
        runner_set_stop_timeout(w->runner, 0);
    if (busy(w)) {
        stop_users(w);
    } else {
        send_simple(w, WIRE_QUIT);
        end(w, 0);
    }
}

void worker_free(worker *w)
{
    if (!w)
        return;
    ev_timer_stop(w->loop, &w->hello_timer);
    ev_timer_stop(w->loop, &w->beat_timer);
    ev_timer_stop(w->loop, &w->report_timer);
    ev_timer_stop(w->loop, &w->end_timer);
    drop_test(w);
    http_free(w->http);
    stats_free(w->stats);
    /* A short linger lets the last messages (stats, quit) reach the master. */
    zsock_close(&w->z, 500);
    zmq_ctx_term(w->ctx);
    rmdir(w->root);
    free(w->root);
    sbuf_free(&w->out);
    free(w->id);
    free(w->endpoint);
    free(w);
}
