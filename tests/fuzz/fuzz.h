/* Helpers shared by the libFuzzer targets in tests/fuzz/ (built by `make fuzz`).
 *
 * Loaders that take a path (scenario, test data, HAR, locust.conf) are fed through files
 * in one private directory on tmpfs, made at the first call and removed at exit, so a
 * target writes nowhere else and a run costs no disk I/O. */
#ifndef CICADA_FUZZ_H
#define CICADA_FUZZ_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static char fuzz_dir_path[64];

static inline int fuzz_remove_one(const char *path, const struct stat *st, int flag,
                                  struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static inline void fuzz_dir_remove(void)
{
    nftw(fuzz_dir_path, fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The private directory; aborts when none can be made (nothing could be tested). */
static inline const char *fuzz_dir(void)
{
    if (fuzz_dir_path[0])
        return fuzz_dir_path;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/cicada-fuzz-XXXXXX", base);
    if (!mkdtemp(fuzz_dir_path)) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz_dir_remove);
    return fuzz_dir_path;
}

/* Writes len bytes to name in the private directory; returns the path (static storage,
 * one per name slot: slot 0..3). */
static inline const char *fuzz_file(int slot, const char *name, const void *data, size_t len)
{
    static char paths[4][512];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(paths[slot], "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(paths[slot]);
        abort();
    }
    return paths[slot];
}

/* Log lines are formatted (a bad format argument would show) but go nowhere. */
static inline void fuzz_quiet_logs(void)
{
    char err[256];
    if (log_setup(LOG_DEBUG, "/dev/null", false, err, sizeof err) != 0) {
        fprintf(stderr, "log_setup: %s\n", err);
        abort();
    }
}

/* A NUL-terminated copy of the input (the parsers of C strings need one). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
