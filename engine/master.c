#include "master.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "dispatch.h"
#include "log.h"
#include "sbuf.h"
#include "wire.h"
#include "xalloc.h"
#include "zsock.h"

#define LOGGER "cicada.master"
#define BATCH 256
#define CPU_WARNING 90.0

typedef struct mworker {
    char *id;               /* routing id: printable, NUL-free */
    char *host;
    unsigned index;         /* order of first hello, stable */
    int state;              /* RUNNER_READY ... RUNNER_MISSING */
    bool in_plan;           /* known to the dispatcher */
    bool waits_for_data;    /* cannot take part in this test (no share of its test data
                             * left, or it failed to load it): planned from the next */
    unsigned user_count;
    double cpu;
    uint64_t rss;
    double last_seen;
    double missing_since;
    unsigned *sent;         /* counts last sent, per dispatcher class; NULL: none */
    uint64_t test_sent;     /* the test whose files it has */
    long slot;              /* its share of the test data in this test; -1: none */
    bool stop_pending;      /* asked to stop, "stopped" not yet heard */
    bool cpu_warned;
    unsigned bad_logged;    /* kinds of malformed messages already logged */
} mworker;

struct master {
    struct ev_loop *loop;
    stats *stats;
    const scenario *sc;
    master_config cfg;
    master_hooks hooks;
    runner *r;
    void *ctx;
    zsock z;
    char *endpoint;
    mworker **w;
    size_t nw;
    unsigned next_index;
    uint64_t test;
    double stop_timeout;
    sbuf settings;          /* the test's settings object for its first spawn orders */
    sbuf files;             /* the array of the scenario's files (JSON) */
    char *main_paths;       /* the scenario files as workers load them, ','-joined */
    unsigned slots;         /* test data shares in this test */
    bool *slot_taken;
    ev_timer check;
    ev_timer stop_deadline;
    ev_timer converge;      /* moves users toward the plan at the spawn rate */
    sbuf out;
    uint64_t bad_frames;    /* malformed messages since the last warning */
    double bad_logged_at;
    bool open;              /* an open-model test: workers get shares of a rate */
    double open_began;
    arrival arr;
    unsigned open_cap;
};

#define M_OF(ptr, field) ((master *)((char *)(ptr) - offsetof(master, field)))

/* ---- the table ---------------------------------------------------------------------- */

static mworker *find(master *m, const char *id)
{
    for (size_t i = 0; i < m->nw; i++)
        if (strcmp(m->w[i]->id, id) == 0)
            return m->w[i];
    return NULL;
}

static bool live(const mworker *w)
{
    return w->state != RUNNER_MISSING;
}

unsigned master_worker_count(const master *m)
{
    unsigned n = 0;
    for (size_t i = 0; i < m->nw; i++)
        n += live(m->w[i]);
    return n;
}

static void forget(master *m, mworker *w)
{
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i] == w) {
            memmove(&m->w[i], &m->w[i + 1], (m->nw - i - 1) * sizeof *m->w);
            m->nw--;
            break;
        }
    if (w->slot >= 0 && (unsigned)w->slot < m->slots)
        m->slot_taken[w->slot] = false;
    free(w->id);
    free(w->host);
    free(w->sent);
    free(w);
}

static void changed(master *m)
{
    if (m->hooks.workers_changed)
        m->hooks.workers_changed(m->hooks.data);
}

static bool test_running(const master *m)
{
    int st = m->r ? runner_state(m->r) : RUNNER_READY;
    return st == RUNNER_SPAWNING || st == RUNNER_RUNNING;
}

/* ---- sending ------------------------------------------------------------------------ */

static void send_to(master *m, mworker *w)
{
    if (zsock_send(&m->z, w->id, strlen(w->id), m->out.s, m->out.len) != 0)
        log_debug(LOGGER, "cannot send to worker %s: %s", w->id, zmq_strerror(errno));
}

static void send_raw(master *m, const char *id, size_t idlen)
{
    if (zsock_send(&m->z, id, idlen, m->out.s, m->out.len) != 0)
        log_debug(LOGGER, "cannot send to a worker: %s", zmq_strerror(errno));
}

static void send_simple(master *m, mworker *w, int type)
{
    json_writer j;
    wire_begin(&j, &m->out, type);
    wire_end(&j);
    send_to(m, w);
}

/* ---- tests and plans ---------------------------------------------------------------- */

static void put_list(json_writer *j, const char *key, char **v, int n)
{
    json_key(j, key);
    json_begin_array(j);
    for (int i = 0; i < n; i++)
        json_put_string(j, v[i]);
    json_end_array(j);
}

/* Reads every file the scenario read into m->files, as they are now. */
static void read_files(master *m)
{
    sbuf_reset(&m->files);
    json_writer j;
    json_writer_init(&j, &m->files);
    json_begin_array(&j);
    const sbuf *deps = &m->sc->deps;
    sbuf b64 = SBUF_INIT, text = SBUF_INIT;
    for (size_t at = 0; at < deps->len; at += strlen(deps->s + at) + 1) {
        const char *path = deps->s + at;
        /* A file read twice (two classes, one certificate) goes once. */
        bool seen = false;
        for (size_t k = 0; k < at && !seen; k += strlen(deps->s + k) + 1)
            seen = strcmp(deps->s + k, path) == 0;
        if (seen)
            continue;
        sbuf_reset(&text);
        FILE *f = fopen(path, "rb");
        if (!f) {
            log_warning(LOGGER, "cannot read %s for the workers: %s", path, strerror(errno));
            continue;
        }
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            sbuf_add(&text, chunk, n);
        fclose(f);
        sbuf_reset(&b64);
        wire_b64_encode(&b64, text.s ? text.s : "", text.len);
        json_begin_object(&j);
        json_key(&j, "path");
        json_put_string(&j, path);
        json_key(&j, "base64");
        json_put_stringn(&j, b64.s ? b64.s : "", b64.len);
        json_end_object(&j);
    }
    json_end_array(&j);
    /* The scenario files themselves, as the worker must load them (in -f order). */
    sbuf main_paths = SBUF_INIT;
    char *list = xstrdup(m->sc->files);
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ')
            p++;
        char *real = realpath(p, NULL);
        sbuf_printf(&main_paths, "%s%s", main_paths.len ? "," : "", real ? real : p);
        free(real);
    }
    free(list);
    free(m->main_paths);
    m->main_paths = sbuf_take(&main_paths);
    sbuf_free(&b64);
    sbuf_free(&text);
}

void master_test_start(master *m, const master_test *t)
{
    m->test++;
    m->stop_timeout = t->stop_timeout;
    sbuf_reset(&m->settings);
    json_writer j;
    json_writer_init(&j, &m->settings);
    json_begin_object(&j);
    json_key(&j, "host");
    if (t->host)
        json_put_string(&j, t->host);
    else
        json_put_null(&j);
    put_list(&j, "classes", t->classes, t->nclasses);
    put_list(&j, "tags", t->tags, t->ntags);
    put_list(&j, "exclude_tags", t->exclude_tags, t->nexclude_tags);
    json_key(&j, "equal_weights");
    json_put_bool(&j, t->equal_weights);
    json_end_object(&j);
    read_files(m);
    /* Workers waiting for a share of the test data join this test. */
    for (size_t i = 0; i < m->nw; i++) {
        mworker *w = m->w[i];
        free(w->sent);
        w->sent = NULL;
        w->slot = -1;
        if (w->waits_for_data && live(w)) {
            char err[200];
            w->waits_for_data = false;
            if (runner_add_worker(m->r, w->id, err, sizeof err) == 0)
                w->in_plan = true;
        }
    }
    /* Every worker in the plan gets a share of the test data; rows never repeat across
     * shares, so "unique" stays unique. */
    const dispatch *d = runner_dispatch(m->r);
    m->slots = (unsigned)dispatch_worker_count(d);
    free(m->slot_taken);
    m->slot_taken = xcalloc(m->slots + 1, sizeof *m->slot_taken);
    for (size_t k = 0; k < m->slots; k++) {
        mworker *w = find(m, dispatch_worker_id(d, k));
        if (w) {
            w->slot = (long)k;
            m->slot_taken[k] = true;
        }
    }
}

/* The first spawn order of a test to a worker carries the test: its share of the data,
 * the settings and every file the scenario read. */
static void put_test(master *m, const mworker *w, json_writer *j)
{
    if (w->test_sent == m->test)
        return;
    json_key(j, "data_slot");
    json_put_uint(j, w->slot >= 0 ? (uint64_t)w->slot : 0);
    json_key(j, "data_slots");
    json_put_uint(j, w->slot >= 0 ? m->slots : 1);
    json_key(j, "settings");
    json_put_raw(j, m->settings.s, m->settings.len);
    json_key(j, "main");
    json_put_string(j, m->main_paths);
    json_key(j, "files");
    json_put_raw(j, m->files.s, m->files.len);
}

/* A spawn order's common fields; the caller adds the counts (or the arrival rate). */
static void begin_spawn(master *m, json_writer *j)
{
    wire_begin(j, &m->out, WIRE_SPAWN);
    json_key(j, "test");
    json_put_uint(j, m->test);
    json_key(j, "stop_timeout");
    json_put_double(j, m->stop_timeout);
}

static void send_spawn(master *m, mworker *w, const dispatch *d, const unsigned *row)
{
    json_writer j;
    begin_spawn(m, &j);
    json_key(&j, "counts");
    json_begin_object(&j);
    size_t nc = dispatch_class_count(d);
    for (size_t c = 0; c < nc; c++) {
        json_key(&j, dispatch_class_name(d, c));
        json_put_uint(&j, row[c]);
    }
    json_end_object(&j);
    put_test(m, w, &j);
    wire_end(&j);
    send_to(m, w);
    w->test_sent = m->test;
}

/* Open model: each worker in the plan gets an equal share of the rate and of the cap. */
static void send_arrivals(master *m, const dispatch *d)
{
    size_t n = 0;
    for (size_t k = 0; k < dispatch_worker_count(d); k++) {
        mworker *w = find(m, dispatch_worker_id(d, k));
        n += w && live(w);
    }
    for (size_t k = 0; k < dispatch_worker_count(d) && n; k++) {
        mworker *w = find(m, dispatch_worker_id(d, k));
        if (!w || !live(w))
            continue;
        unsigned cap = (unsigned)((m->open_cap + n - 1 - k) / n); /* the first get the rest */
        json_writer j;
        begin_spawn(m, &j);
        json_key(&j, "counts");
        json_begin_object(&j);
        json_end_object(&j);
        json_key(&j, "arrival");
        json_begin_object(&j);
        if (m->arr.stages.n) {
            json_key(&j, "start_rate");
            json_put_double(&j, m->arr.start_rate);
            json_key(&j, "stages");
            json_begin_array(&j);
            for (int i = 0; i < m->arr.stages.n; i++) {
                json_begin_object(&j);
                json_key(&j, "duration");
                json_put_double(&j, m->arr.stages.stages[i].duration);
                json_key(&j, "rate");
                json_put_double(&j, m->arr.stages.stages[i].rate);
                json_end_object(&j);
            }
            json_end_array(&j);
        } else {
            json_key(&j, "rate");
            json_put_double(&j, m->arr.start_rate);
        }
        json_end_object(&j);
        json_key(&j, "share");
        json_put_double(&j, 1.0 / (double)n);
        /* A worker that joins late picks up the ramp where the test is. */
        json_key(&j, "elapsed");
        json_put_double(&j, ev_now(m->loop) - m->open_began);
        json_key(&j, "max_users");
        json_put_uint(&j, cap ? cap : 1);
        put_test(m, w, &j);
        wire_end(&j);
        send_to(m, w);
        w->test_sent = m->test;
    }
}

static void remote_open(void *data, const arrival *a, unsigned max_users)
{
    master *m = data;
    arrival_free(&m->arr);
    m->arr = *a;
    shape_copy(&m->arr.stages, &a->stages);
    m->open_cap = max_users;
    m->open = true;
    m->open_began = ev_now(m->loop);
    send_arrivals(m, runner_dispatch(m->r));
}

/* Moves what the workers run toward the dispatcher's map, starting and stopping at most
 * floor(spawn rate) users each per second: a ramp's iteration fits at once, and a
 * rebalance (a worker joined, or one is lost and the others take over its users) goes at
 * the spawn rate instead of all at once. Wakes again each second until the map is met. */
static void converge(master *m)
{
    const dispatch *d = runner_dispatch(m->r);
    size_t nc = dispatch_class_count(d);
    double rate = runner_spawn_rate(m->r);
    unsigned budget = rate >= 1 ? (rate > 1e6 ? 1000000u : (unsigned)rate) : 1;
    unsigned adds = budget, dels = budget;
    bool pending = false;
    unsigned *row = xcalloc(nc + 1, sizeof *row);
    for (size_t k = 0; k < dispatch_worker_count(d); k++) {
        mworker *w = find(m, dispatch_worker_id(d, k));
        if (!w || !live(w))
            continue;
        const unsigned *want = dispatch_worker_users(d, k);
        if (!w->sent)
            w->sent = xcalloc(nc, sizeof *w->sent);
        bool fresh = w->test_sent != m->test, any = false;
        for (size_t c = 0; c < nc; c++) {
            row[c] = w->sent[c];
            if (want[c] > row[c]) {
                unsigned take = want[c] - row[c] < adds ? want[c] - row[c] : adds;
                row[c] += take;
                adds -= take;
            } else if (want[c] < row[c]) {
                unsigned take = row[c] - want[c] < dels ? row[c] - want[c] : dels;
                row[c] -= take;
                dels -= take;
            }
            pending |= row[c] != want[c];
            any |= row[c] > 0;
        }
        if (memcmp(row, w->sent, nc * sizeof *row) == 0 && !(fresh && any))
            continue;
        memcpy(w->sent, row, nc * sizeof *row);
        send_spawn(m, w, d, row);
    }
    free(row);
    ev_timer_stop(m->loop, &m->converge);
    if (pending) {
        ev_timer_set(&m->converge, 1.0, 0.);
        ev_timer_start(m->loop, &m->converge);
    }
}

static void converge_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    master *m = M_OF(t, converge);
    if (m->r && !m->open &&
        (runner_state(m->r) == RUNNER_SPAWNING || runner_state(m->r) == RUNNER_RUNNING))
        converge(m);
}

static void plan(void *data, const dispatch *d)
{
    master *m = data;
    if (m->open) {
        send_arrivals(m, d);
        return;
    }
    converge(m);
}

static void all_stopped(master *m)
{
    ev_timer_stop(m->loop, &m->stop_deadline);
    ev_timer_stop(m->loop, &m->converge);
    m->open = false;
    for (size_t i = 0; i < m->nw; i++) {
        free(m->w[i]->sent);
        m->w[i]->sent = NULL;
        m->w[i]->stop_pending = false;
    }
    runner_remote_stopped(m->r);
    /* Workers that waited for a share of the test data can be planned for the next. */
    for (size_t i = 0; i < m->nw; i++) {
        mworker *w = m->w[i];
        char err[200];
        if (w->waits_for_data && live(w) && runner_add_worker(m->r, w->id, err, sizeof err) == 0) {
            w->waits_for_data = false;
            w->in_plan = true;
        }
    }
}

static void check_stopped(master *m)
{
    if (!m->r || runner_state(m->r) != RUNNER_CLEANUP)
        return;
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i]->stop_pending && live(m->w[i]))
            return;
    all_stopped(m);
}

static void remote_stop(void *data)
{
    master *m = data;
    ev_timer_stop(m->loop, &m->converge);
    for (size_t i = 0; i < m->nw; i++) {
        mworker *w = m->w[i];
        if (!live(w))
            continue;
        send_simple(m, w, WIRE_STOP);
        w->stop_pending = true;
    }
    /* Workers get the stop timeout and on_stop's grace, then a little for the network. */
    ev_timer_set(&m->stop_deadline, m->stop_timeout + RUNNER_ON_STOP_GRACE + 5.0, 0.);
    ev_timer_start(m->loop, &m->stop_deadline);
    check_stopped(m);
}

static unsigned remote_users(void *data)
{
    master *m = data;
    unsigned n = 0;
    for (size_t i = 0; i < m->nw; i++)
        if (live(m->w[i]))
            n += m->w[i]->user_count;
    return n;
}

runner_remote master_remote(master *m)
{
    return (runner_remote){.data = m, .plan = plan, .stop = remote_stop, .users = remote_users,
                           .open = remote_open};
}

void master_set_runner(master *m, runner *r)
{
    m->r = r;
}

static void stop_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    master *m = M_OF(t, stop_deadline);
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i]->stop_pending && live(m->w[i]))
            log_warning(LOGGER, "Worker %s did not report its users stopped in time",
                        m->w[i]->id);
    all_stopped(m);
}

/* ---- joining and leaving ------------------------------------------------------------ */

static bool free_slot(master *m, mworker *w)
{
    for (unsigned k = 0; k < m->slots; k++)
        if (!m->slot_taken[k]) {
            m->slot_taken[k] = true;
            w->slot = (long)k;
            return true;
        }
    return false;
}

/* Puts a worker into the plan, unless the test running needs a data share it cannot get. */
static void join_plan(master *m, mworker *w)
{
    if (w->in_plan || !m->r)
        return;
    if (test_running(m) && m->sc->nsources > 0 && w->slot < 0 && !free_slot(m, w)) {
        w->waits_for_data = true;
        log_warning(LOGGER, "Worker %s joined a test that uses test data, which is shared out "
                            "when a test starts: it gets users from the next test", w->id);
        return;
    }
    char err[200];
    if (runner_add_worker(m->r, w->id, err, sizeof err) == 0)
        w->in_plan = true;
    else
        log_warning(LOGGER, "%s", err);
}

/* Users the plan gives w: those the others take over when it leaves. A worker killed
 * before its first heartbeat or spawning_complete has reported none, yet its users move all
 * the same. An open-model test plans rates, not users (the map may be an earlier closed
 * test's): there, the users w last reported. */
static unsigned plan_users(const master *m, const mworker *w)
{
    const dispatch *d = runner_dispatch(m->r);
    size_t k;
    if (m->open || !dispatch_find_worker(d, w->id, &k))
        return w->user_count;
    return dispatch_worker_total(d, k);
}

/* why: "quit", "is missing", or the worker's error when it cannot run this test
 * (refused). */
static void leave_plan(master *m, mworker *w, const char *why, bool refused)
{
    w->waits_for_data = false;
    if (!w->in_plan)
        return;
    w->in_plan = false;
    unsigned users = plan_users(m, w);
    bool running = test_running(m);
    char err[200];
    if (runner_remove_worker(m->r, w->id, err, sizeof err))
        log_warning(LOGGER, "%s", err);
    free(w->sent);
    w->sent = NULL;
    /* Only workers in the plan can take over: one waiting for the next test cannot. */
    unsigned planned = 0;
    for (size_t i = 0; i < m->nw; i++)
        planned += live(m->w[i]) && m->w[i]->in_plan;
    if (running && planned > 0 && users)
        log_info(LOGGER, "Worker %s %s: its %u users will be replaced on the other workers",
                 w->id, refused ? "cannot run this test" : why, users);
    if (running && planned == 0 && m->hooks.no_workers) {
        char text[600];
        if (refused)
            snprintf(text, sizeof text, "No worker can run this test, stopping it: worker %s: %s",
                     w->id, why);
        else
            snprintf(text, sizeof text, "%s", strcmp(why, "quit") == 0
                                                  ? "The last worker quit, stopping test."
                                                  : "The last worker went missing, stopping test.");
        m->hooks.no_workers(m->hooks.data, text, refused);
    }
}

static void go_missing(master *m, mworker *w, double now)
{
    log_warning(LOGGER, "Worker %s failed to send heartbeat, setting state to missing.", w->id);
    w->state = RUNNER_MISSING;
    w->missing_since = now;
    leave_plan(m, w, "is missing", false);
    w->user_count = 0;
    check_stopped(m);
    changed(m);
}

static void check_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    master *m = M_OF(t, check);
    double now = ev_now(loop);
    for (size_t i = 0; i < m->nw; i++) {
        mworker *w = m->w[i];
        if (live(w) && now - w->last_seen > m->cfg.heartbeat_timeout) {
            go_missing(m, w, now);
        } else if (!live(w) && now - w->missing_since > m->cfg.missing_forget) {
            log_info(LOGGER, "Worker %s has been missing for %g s: forgotten", w->id,
                     m->cfg.missing_forget);
            forget(m, w);
            i--;
            changed(m);
        }
    }
}

/* ---- receiving ---------------------------------------------------------------------- */

static void malformed(master *m, mworker *w, unsigned kind, const char *id, const char *what)
{
    if (w && (w->bad_logged & (1u << kind)))
        return;
    if (w)
        w->bad_logged |= 1u << kind;
    log_warning(LOGGER, "dropped a malformed message from %s: %s", w ? w->id : id, what);
    (void)m;
}

static void on_hello(master *m, const char *id, const wire_msg *msg)
{
    uint64_t proto = 0;
    const char *version = "unknown", *host = "";
    char err[200];
    bool ok = wire_get_uint(msg->data, "protocol", &proto, err, sizeof err) == 0;
    wire_get_str(msg->data, "version", &version, err, sizeof err);
    wire_get_str(msg->data, "host", &host, err, sizeof err);
    if (!ok || proto != WIRE_PROTOCOL) {
        json_writer j;
        char reason[300];
        snprintf(reason, sizeof reason,
                 "this master (cicada %s) speaks protocol version %d and the worker (cicada "
                 "%.40s) speaks %s%llu",
                 m->cfg.version, WIRE_PROTOCOL, version, ok ? "" : "an unknown one, not ",
                 (unsigned long long)proto);
        log_error(LOGGER, "Refused worker %s: %s", id, reason);
        wire_begin(&j, &m->out, WIRE_REFUSED);
        json_key(&j, "reason");
        json_put_string(&j, reason);
        wire_end(&j);
        send_raw(m, id, strlen(id));
        return;
    }
    mworker *w = find(m, id);
    bool fresh = !w;
    if (fresh) {
        w = xcalloc(1, sizeof *w);
        w->id = xstrdup(id);
        w->host = xstrdup(host);
        w->index = m->next_index++;
        w->slot = -1;
        m->w = xrealloc(m->w, (m->nw + 1) * sizeof *m->w);
        m->w[m->nw++] = w;
    }
    w->last_seen = ev_now(m->loop);
    json_writer j;
    wire_begin(&j, &m->out, WIRE_WELCOME);
    json_key(&j, "protocol");
    json_put_int(&j, WIRE_PROTOCOL);
    json_key(&j, "index");
    json_put_uint(&j, w->index);
    wire_end(&j);
    send_to(m, w);
    if (!fresh && live(w))
        return;  /* a hello repeated while the first was on its way */
    w->state = RUNNER_READY;
    log_info(LOGGER, "Worker %s (index %u) reported as ready. %u workers connected.", w->id,
             w->index, master_worker_count(m));
    join_plan(m, w);
    changed(m);
}

static int state_of(const char *s)
{
    static const struct {
        const char *name;
        int state;
    } states[] = {{"ready", RUNNER_READY},       {"spawning", RUNNER_SPAWNING},
                  {"running", RUNNER_RUNNING},   {"stopping", RUNNER_STOPPING},
                  {"cleanup", RUNNER_STOPPING},  {"stopped", RUNNER_READY}};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(s, states[i].name) == 0)
            return states[i].state;
    return -1;
}

static void on_heartbeat(master *m, mworker *w, const wire_msg *msg)
{
    const char *state;
    uint64_t users = 0, rss = 0;
    double cpu = 0;
    char err[200];
    if (wire_get_str(msg->data, "state", &state, err, sizeof err) ||
        wire_get_uint(msg->data, "user_count", &users, err, sizeof err) ||
        wire_get_num(msg->data, "cpu", &cpu, err, sizeof err) ||
        wire_get_uint(msg->data, "rss", &rss, err, sizeof err) || state_of(state) < 0) {
        malformed(m, w, WIRE_HEARTBEAT, w->id, "heartbeat");
        return;
    }
    send_simple(m, w, WIRE_PONG);
    if (!live(w)) {
        log_info(LOGGER, "Worker %s self-healed with heartbeat, setting state to %s.", w->id,
                 state);
        w->state = state_of(state);
        w->user_count = (unsigned)users;
        int st = state_of(state);
        if (!test_running(m) && (st == RUNNER_SPAWNING || st == RUNNER_RUNNING)) {
            /* It missed the stop while it was away: its users must not run on. */
            send_simple(m, w, WIRE_STOP);
            if (m->r && runner_state(m->r) == RUNNER_CLEANUP)
                w->stop_pending = true;
        }
        join_plan(m, w);
        changed(m);
    } else {
        w->state = state_of(state);
        w->user_count = (unsigned)users;
    }
    w->cpu = cpu;
    w->rss = rss;
    if (cpu > CPU_WARNING && !w->cpu_warned) {
        w->cpu_warned = true;
        log_warning(LOGGER, "Worker %s (index %u) exceeded cpu threshold (%.0f%%): the load "
                            "generator, not the target, may be the bottleneck (will only log "
                            "this once per worker)", w->id, w->index, cpu);
    }
}

static void on_message(master *m, const char *id, const wire_msg *msg)
{
    if (msg->type == WIRE_HELLO) {
        on_hello(m, id, msg);
        return;
    }
    mworker *w = find(m, id);
    if (!w) {
        /* A worker from before this master (it restarted): ask it to start over. */
        json_writer j;
        wire_begin(&j, &m->out, WIRE_REREGISTER);
        wire_end(&j);
        send_raw(m, id, strlen(id));
        return;
    }
    w->last_seen = ev_now(m->loop);
    char err[300];
    switch (msg->type) {
    case WIRE_HEARTBEAT:
        on_heartbeat(m, w, msg);
        return;
    case WIRE_SPAWNING:
        if (live(w))
            w->state = RUNNER_SPAWNING;
        return;
    case WIRE_SPAWNING_COMPLETE: {
        uint64_t users;
        if (wire_get_uint(msg->data, "user_count", &users, err, sizeof err)) {
            malformed(m, w, msg->type, id, err);
            return;
        }
        if (live(w)) {
            w->state = RUNNER_RUNNING;
            w->user_count = (unsigned)users;
        }
        return;
    }
    case WIRE_STATS: {
        uint64_t users;
        if (wire_get_uint(msg->data, "user_count", &users, err, sizeof err) ||
            wire_merge_stats(m->stats, msg->data, w->id, ev_now(m->loop), err, sizeof err)) {
            malformed(m, w, msg->type, id, err);
            return;
        }
        if (live(w))
            w->user_count = (unsigned)users;
        return;
    }
    case WIRE_STOPPED:
        w->stop_pending = false;
        w->user_count = 0;
        if (live(w))
            w->state = RUNNER_READY;
        check_stopped(m);
        return;
    case WIRE_QUIT:
        log_info(LOGGER, "Worker %s quit. %u workers connected.", w->id,
                 master_worker_count(m) - live(w));
        /* Not counted among the workers left while its users are dealt out. */
        w->state = RUNNER_MISSING;
        leave_plan(m, w, "quit", false);
        w->stop_pending = false;
        forget(m, w);
        check_stopped(m);
        changed(m);
        return;
    case WIRE_ERROR: {
        const char *text = "?";
        wire_get_str(msg->data, "message", &text, err, sizeof err);
        log_error(LOGGER, "Worker %s: %s", w->id, text);
        /* It cannot run this test (no compiler, a file it could not write): its share
         * goes to the others, and it is planned again from the next test. */
        if (w->in_plan && test_running(m)) {
            leave_plan(m, w, text, true);
            w->waits_for_data = true;
        }
        return;
    }
    case WIRE_END_TEST: {
        const char *reason = "a worker asked";
        wire_get_str(msg->data, "reason", &reason, err, sizeof err);
        if (m->hooks.end_test && test_running(m))
            m->hooks.end_test(m->hooks.data, reason);
        return;
    }
    default:
        malformed(m, w, 31, id, "a message type this master does not take");
    }
}

static bool printable_id(const sbuf *id)
{
    if (id->len == 0 || id->len > 255)
        return false;
    for (size_t i = 0; i < id->len; i++)
        if ((unsigned char)id->s[i] < 0x21 || (unsigned char)id->s[i] > 0x7e)
            return false;
    return true;
}

static void on_readable(zsock *z, void *data)
{
    master *m = data;
    for (int i = 0; i < BATCH; i++) {
        int rc = zsock_recv(z, WIRE_MAX_MESSAGE);
        if (rc == 0)
            return;
        if (rc < 0 || !printable_id(&z->id)) {
            /* Garbage on the port arrives as many messages: said once a second at most. */
            m->bad_frames++;
            double now = ev_now(m->loop);
            if (now - m->bad_logged_at >= 1.0) {
                log_warning(LOGGER, "dropped %llu malformed messages (bad framing or peer id)",
                            (unsigned long long)m->bad_frames);
                m->bad_logged_at = now;
                m->bad_frames = 0;
            }
            continue;
        }
        wire_msg msg;
        char err[256];
        const char *id = sbuf_str(&z->id);
        if (wire_parse(z->msg.s, z->msg.len, &msg, err, sizeof err))
            malformed(m, find(m, id), 30, id, err);
        else
            on_message(m, id, &msg);
        wire_msg_free(&msg);
    }
}

/* ---- life --------------------------------------------------------------------------- */

size_t master_workers(master *m, master_worker_info *out, size_t max)
{
    double now = ev_now(m->loop);
    for (size_t i = 0; i < m->nw && i < max; i++) {
        const mworker *w = m->w[i];
        out[i] = (master_worker_info){
            .id = w->id,
            .host = w->host,
            .state = w->state == RUNNER_STOPPING ? "stopping" : runner_state_name(w->state),
            .index = w->index,
            .user_count = live(w) ? w->user_count : 0,
            .cpu = w->cpu,
            .rss = w->rss,
            .heartbeat_age = now - w->last_seen,
        };
    }
    return m->nw;
}

master *master_new(struct ev_loop *loop, stats *s, const scenario *sc, const master_config *cfg,
                   const master_hooks *hooks, char *err, size_t errlen)
{
    master *m = xcalloc(1, sizeof *m);
    m->loop = loop;
    m->stats = s;
    m->sc = sc;
    m->cfg = *cfg;
    if (hooks)
        m->hooks = *hooks;
    sbuf ep = SBUF_INIT;
    bool v6 = strchr(cfg->bind_host, ':') != NULL;
    sbuf_printf(&ep, v6 ? "tcp://[%s]:%d" : "tcp://%s:%d", cfg->bind_host, cfg->bind_port);
    m->endpoint = sbuf_take(&ep);
    m->ctx = zmq_ctx_new();
    void *sock = zmq_socket(m->ctx, ZMQ_ROUTER);
    int one = 1, idle = 30;
    zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle);
    if (v6 || strcmp(cfg->bind_host, "*") == 0)
        zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof one);
    /* A frame header from garbage on the port can claim any size: libzmq refuses bigger
     * frames before allocating them. */
    int64_t maxmsg = WIRE_MAX_MESSAGE;
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind(sock, m->endpoint) != 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errlen, "The cicada master port (%d) was busy. Close any "
                                  "applications using that port - perhaps an old instance of "
                                  "cicada master is still running? (--master-bind-port)",
                     cfg->bind_port);
        else
            snprintf(err, errlen, "--master-bind-host %s: cannot bind %s: %s", cfg->bind_host,
                     m->endpoint, zmq_strerror(errno));
        int zero = 0;
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(sock);
        zmq_ctx_term(m->ctx);
        free(m->endpoint);
        free(m);
        return NULL;
    }
    zsock_init(&m->z, loop, sock, true, on_readable, m);
    ev_init(&m->check, check_cb);
    m->check.repeat = 1.0;
    ev_timer_again(loop, &m->check);
    ev_init(&m->stop_deadline, stop_deadline_cb);
    ev_init(&m->converge, converge_cb);
    log_info(LOGGER, "Master listening for workers at %s", m->endpoint);
    const char *h = cfg->bind_host;
    if (!*h || strcmp(h, "*") == 0 || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 ||
        strcmp(h, "[::]") == 0)
        log_warning(LOGGER, "The master port %d listens on all interfaces, with no "
                            "authentication or encryption: anyone who can reach it can join "
                            "as a worker and receive the scenario and its data files. Bind "
                            "it to a private address with --master-bind-host (see "
                            "docs/security.md).", cfg->bind_port);
    return m;
}

double master_worker_cpu_peak(const master *m)
{
    double peak = 0;
    for (size_t i = 0; i < m->nw; i++)
        if (live(m->w[i]) && m->w[i]->cpu > peak)
            peak = m->w[i]->cpu;
    return peak;
}

void master_quit_workers(master *m)
{
    for (size_t i = 0; i < m->nw; i++)
        if (live(m->w[i]))
            send_simple(m, m->w[i], WIRE_QUIT);
}

void master_free(master *m)
{
    if (!m)
        return;
    ev_timer_stop(m->loop, &m->check);
    ev_timer_stop(m->loop, &m->stop_deadline);
    ev_timer_stop(m->loop, &m->converge);
    zsock_close(&m->z, 1000);
    zmq_ctx_term(m->ctx);
    while (m->nw)
        forget(m, m->w[0]);
    free(m->w);
    free(m->slot_taken);
    free(m->endpoint);
    sbuf_free(&m->settings);
    arrival_free(&m->arr);
    free(m->main_paths);
    sbuf_free(&m->files);
    sbuf_free(&m->out);
    free(m);
}
