/* libFuzzer target: a worker reading what its master sends it (engine/worker.c on top of
 * engine/wire.c): welcomes, refusals, spawn orders with the test's files (base64), counts,
 * settings and data shares, stops, quits. A worker runs what any process on the master's
 * address tells it, so no message may crash it, and the files it is sent must land in its
 * temporary directory and nowhere else.
 *
 * worker.o is linked as the program links it, over a fake socket layer (fakezmq.h). The
 * input is the master's messages separated by NUL bytes. TMPDIR points into this target's
 * private directory, so the worker's temporary directory is made there, and what is left
 * in it after worker_free is a file written outside that directory. A scenario the master
 * sends may name a C locustfile: CC is "false", so compiling one fails at once (the
 * plugin cache is in the private directory's "cache"). */
#include <dirent.h>
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakezmq.h"
#include "fuzz.h"
#include "worker.h"

static struct ev_loop *loop;

static void on_done(void *data, int code)
{
    (void)data, (void)code;
}

/* Anything in the private directory but the plugin cache is a file the worker wrote
 * outside its own. */
static void check_dir_empty(void)
{
    DIR *d = opendir(fuzz_dir());
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "cache")) {
            fprintf(stderr, "the worker left %s/%s\n", fuzz_dir(), e->d_name);
            abort();
        }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    if (!loop) {
        fuzz_quiet_logs();
        setenv("TMPDIR", fuzz_dir(), 1);
        setenv("CC", "false", 1);
        char cache[128];
        snprintf(cache, sizeof cache, "%s/cache", fuzz_dir());
        setenv("XDG_CACHE_HOME", cache, 1);
        loop = ev_default_loop(EVFLAG_AUTO);
    }
    /* A master may ask for millions of users; that only measures this machine's memory. */
    for (size_t i = 0, run = 0; i < size; i++)
        if ((run = data[i] >= '0' && data[i] <= '9' ? run + 1 : 0) > 4)
            return 0;
    worker_config cfg = {.master_host = "127.0.0.1", .master_port = 5557,
                         .report_interval = 3, .heartbeat_interval = 1, .master_timeout = 10,
                         .connect_timeout = 10, .max_names = 100, .version = "fuzz"};
    worker *w = worker_new(loop, &cfg, on_done, NULL, err, sizeof err);
    if (!w) {
        fprintf(stderr, "fuzz_worker: %s\n", err);
        abort();
    }
    fake_deliver(data, size);
    worker_free(w);
    check_dir_empty();
    return 0;
}
