/* libFuzzer target: options (server/opt.c) from all three sources at once. The input is
 * split at NUL bytes: the first part is ./locust.conf, parts that look like LOCUST_* or
 * CICADA_* assignments are the environment, the rest is the command line. Values with
 * their own syntax (run times, --stages, --threshold) are checked inside opt_parse. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "opt.h"

#define MAXARGS 64

static bool env_like(const char *s)
{
    return (strncmp(s, "LOCUST_", 7) == 0 || strncmp(s, "CICADA_", 7) == 0) &&
           strchr(s, '=') != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        fuzz_quiet_logs();
        init = true;
    }
    /* --config names a file to read whole: a device or /proc file could be endless. */
    if (memmem(data, size, "/dev/", 5) || memmem(data, size, "/proc/", 6) ||
        memmem(data, size, "/sys/", 5))
        return 0;
    char *buf = fuzz_cstr(data, size);
    char *argv[MAXARGS + 2], *env[MAXARGS + 1];
    int argc = 0, nenv = 0;
    argv[argc++] = "cicada";
    size_t conf_len = strlen(buf);
    for (size_t i = conf_len + 1; i < size;) {
        char *tok = buf + i;
        size_t n = strlen(tok);
        if (env_like(tok)) {
            if (nenv < MAXARGS)
                env[nenv++] = tok;
        } else if (argc < MAXARGS + 1) {
            argv[argc++] = tok;
        }
        i += n + 1;
    }
    argv[argc] = NULL;
    env[nenv] = NULL;
    const char *conf = fuzz_file(0, "locust.conf", buf, conf_len);

    struct options o;
    char err[1024];
    opt_parse(&o, argc, argv, env, NULL, conf, err, sizeof err);
    opt_free(&o);
    opt_free(&o);
    free(buf);
    return 0;
}
