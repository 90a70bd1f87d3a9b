/* libFuzzer target: a master reading what workers send it (engine/master.c on top of
 * engine/wire.c): hellos, heartbeats, spawn reports, stats reports, errors, quits, from
 * several workers in any order, with or without a test running. The master port takes
 * messages from anyone who can reach it, so none may crash it or corrupt its plan.
 *
 * master.o is linked as the program links it, but the socket layer below it is replaced:
 * this file defines the zsock_* functions master.c calls, and the few zmq_* calls it makes
 * to set its socket up (a real context and bind per input cost milliseconds, and the
 * master must start afresh for each input so that a finding replays). Each input is a list of messages
 * separated by NUL bytes (JSON text holds none); a message's first byte picks which worker
 * sent it, the rest is the frame. The first byte of the input picks whether a test is
 * running. Everything the master sends back must be a well-formed message. */
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "fuzz.h"
#include "http.h"
#include "master.h"
#include "runner.h"
#include "sbuf.h"
#include "scenario.h"
#include "stats.h"
#include "wire.h"
#include "zsock.h"

/* ---- the fake socket layer ---------------------------------------------------------- */

static struct {
    const uint8_t *p, *end;     /* messages not yet read */
} in;
static zsock *master_z;         /* the master's socket: its callback reads a batch */

void zsock_init(zsock *z, struct ev_loop *loop, void *sock, bool router, zsock_cb cb,
                void *data)
{
    memset(z, 0, sizeof *z);
    z->sock = sock;
    z->loop = loop;
    z->router = router;
    z->cb = cb;
    z->data = data;
    master_z = z;
}

static int fake_ctx, fake_sock;

void *zmq_ctx_new(void)
{
    return &fake_ctx;
}

int zmq_ctx_term(void *ctx)
{
    return ctx == &fake_ctx ? 0 : (abort(), -1);
}

void *zmq_socket(void *ctx, int type)
{
    (void)type;
    return ctx == &fake_ctx ? &fake_sock : (abort(), NULL);
}

int zmq_setsockopt(void *s, int option, const void *value, size_t len)
{
    (void)option;
    return s == &fake_sock && value && len ? 0 : (abort(), -1);
}

int zmq_bind(void *s, const char *endpoint)
{
    return s == &fake_sock && endpoint ? 0 : (abort(), -1);
}

int zmq_close(void *s)
{
    return s == &fake_sock ? 0 : (abort(), -1);
}

const char *zmq_strerror(int errnum)
{
    (void)errnum;
    return "fake";
}

void zsock_close(zsock *z, int linger_ms)
{
    (void)linger_ms;
    zmq_close(z->sock);
    sbuf_free(&z->id);
    sbuf_free(&z->msg);
}

int zsock_recv(zsock *z, size_t max)
{
    if (in.p >= in.end)
        return 0;
    const uint8_t *nul = memchr(in.p, 0, (size_t)(in.end - in.p));
    const uint8_t *stop = nul ? nul : in.end, *msg = in.p;
    in.p = nul ? nul + 1 : in.end;
    if (stop == msg)
        return -1;   /* as an empty frame list */
    static const char *const ids[] = {"host-1_abc", "host-2_def", "host-3_ghi", "w\x01"};
    sbuf_reset(&z->id);
    sbuf_puts(&z->id, ids[msg[0] % 4]);
    sbuf_reset(&z->msg);
    sbuf_add(&z->msg, msg + 1, (size_t)(stop - msg - 1));
    return z->msg.len > max ? -1 : 1;
}

int zsock_send(zsock *z, const void *id, size_t idlen, const void *buf, size_t len)
{
    (void)z, (void)id, (void)idlen;
    wire_msg m;
    char err[256];
    if (wire_parse(buf, len, &m, err, sizeof err) != 0 || m.type == WIRE_UNKNOWN) {
        fprintf(stderr, "the master sent a malformed message: %s\n%.*s\n", err, (int)len,
                (const char *)buf);
        abort();
    }
    wire_msg_free(&m);
    return 0;
}

/* ---- the program around the master --------------------------------------------------- */

static const char scenario_text[] =
    "{\"host\": \"http://127.0.0.1:1\", \"users\": ["
    "{\"name\": \"A\", \"weight\": 2, \"tasks\": [{\"request\": \"GET /a\"}]},"
    "{\"name\": \"B\", \"fixed_count\": 1, \"tasks\": [{\"request\": \"POST /b\"}]}"
    "]}";

static struct ev_loop *loop;
static http *h;
static scenario *sc;
static master *cur;

static void on_test_start(void *data)
{
    (void)data;
    master_test t = {.stop_timeout = 1};
    master_test_start(cur, &t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    if (!loop) {
        fuzz_quiet_logs();
        loop = ev_default_loop(EVFLAG_AUTO);
        h = http_new(loop);
        const char *path = fuzz_file(0, "master.json", scenario_text, sizeof scenario_text - 1);
        scenario_opts so = {0};
        sc = scenario_load(path, &so, err, sizeof err);
        if (!sc || scenario_resolve(sc, NULL, err, sizeof err)) {
            fprintf(stderr, "fuzz_master: %s\n", err);
            abort();
        }
    }
    if (size < 1)
        return 0;
    stats *s = stats_new(100, false, ev_now(loop));
    master_config mc = {.bind_host = "127.0.0.1", .bind_port = 0, .heartbeat_timeout = 3,
                        .missing_forget = 60, .version = "fuzz"};
    cur = master_new(loop, s, sc, &mc, NULL, err, sizeof err);
    if (!cur) {
        fprintf(stderr, "fuzz_master: %s\n", err);
        abort();
    }
    runner_remote remote = master_remote(cur);
    runner_config cfg = {.node = "master", .remote = &remote, .stop_timeout = 1};
    runner_hooks hooks = {.test_start = on_test_start};
    runner *r = runner_new(loop, h, s, sc->run, sc->nrun, &cfg, &hooks, err, sizeof err);
    if (!r)
        abort();
    master_set_runner(cur, r);
    if (data[0] & 1 && runner_start(r, 1 + data[0] / 2 % 20, 100, err, sizeof err) != 0)
        abort();

    in.p = data + 1;
    in.end = data + size;
    while (in.p < in.end)
        master_z->cb(master_z, master_z->data);

    master_workers(cur, (master_worker_info[8]){0}, 8);
    runner_free(r);
    master_free(cur);
    cur = NULL;
    stats_free(s);
    return 0;
}
