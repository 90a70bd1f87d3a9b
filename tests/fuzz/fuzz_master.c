/* libFuzzer target: a master reading what workers send it (engine/master.c on top of
 * engine/wire.c): hellos, heartbeats, spawn reports, stats reports, errors, quits, from
 * several workers in any order, with or without a test running. The master port takes
 * messages from anyone who can reach it, so none may crash it or corrupt its plan.
 *
 * master.o is linked as the program links it, over a fake socket layer (fakezmq.h). Each
 * input is a list of messages separated by NUL bytes; a message's first byte picks which
 * worker sent it, the rest is the frame. The first byte of the input picks whether a test
 * is running. Everything the master sends back must be a well-formed message. */
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"
#include "master.h"
#include "runner.h"
#include "sbuf.h"
#include "scenario.h"
#include "fakezmq.h"
#include "stats.h"

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

    fake_deliver(data + 1, size - 1);

    master_workers(cur, (master_worker_info[8]){0}, 8);
    runner_free(r);
    master_free(cur);
    cur = NULL;
    stats_free(s);
    return 0;
}
