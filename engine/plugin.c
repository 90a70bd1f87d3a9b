#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbuf.h"
#include "xalloc.h"

static const char *header_text;
static size_t header_size;
static const char *cicada_ver = "";

void plugin_setup(const char *header, size_t header_len, const char *version)
{
    header_text = header;
    header_size = header_len;
    cicada_ver = version ? version : "";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

bool plugin_path(const char *path)
{
    return ends_with(path, ".c") || ends_with(path, ".so");
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int read_file(const char *path, sbuf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sbuf_add(out, chunk, n);
    fclose(f);
    return 0;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static void cache_dir(sbuf *out)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        sbuf_printf(out, "%s/cicada", xdg);
    else if (home && *home)
        sbuf_printf(out, "%s/.cache/cicada", home);
    else
        sbuf_printf(out, "%s/cicada-cache-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                    (int)getuid());
}

static int write_whole(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, text + done, len - done);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)k;
    }
    return close(fd);
}

/* Runs the compiler; its messages go straight to our stderr. */
static int compile(const char *src, const char *inc, const char *out, char *err, size_t errlen)
{
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: cannot start the C compiler: %s", src, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        char incflag[4096];
        snprintf(incflag, sizeof incflag, "-I%s", inc);
        /* Stack-clash probes touch every page of a big frame, so an overflow hits the
         * guard page and is reported with the task's name. */
        execlp(cc, cc, "-std=gnu11", "-O2", "-g", "-fPIC", "-shared", "-Wall",
               "-fstack-clash-protection", incflag, "-o", out, src, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        snprintf(err, errlen, "%s: no C compiler (\"%s\" could not run): install gcc, or set "
                              "CC", src, cc);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "%s: the C compiler failed (its messages are above)", src);
        return -1;
    }
    return 0;
}

/* The shared object for src: from the cache when its key matches, else compiled. */
static char *build(const char *src, char *err, size_t errlen)
{
    sbuf text = SBUF_INIT, dir = SBUF_INIT, inc = SBUF_INIT, so = SBUF_INIT, tmp = SBUF_INIT;
    char *result = NULL;
    if (read_file(src, &text, err, errlen))
        goto out;
    uint64_t key = 1469598103934665603ull;
    key = fnv(key, text.s ? text.s : "", text.len);
    key = fnv(key, header_text ? header_text : "", header_size);
    key = fnv(key, cicada_ver, strlen(cicada_ver));
    cache_dir(&dir);
    sbuf_printf(&inc, "%s/include", sbuf_str(&dir));
    if (mkdirs(inc.s)) {
        snprintf(err, errlen, "%s: cannot create the cache directory %s: %s", src, inc.s,
                 strerror(errno));
        goto out;
    }
    /* What is in the cache gets loaded into this process: a directory someone else owns
     * or can write to (another user made /tmp/cicada-cache-UID first) would let them swap
     * an object for their own. */
    struct stat st;
    if (stat(dir.s, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022)) {
        snprintf(err, errlen, "%s: the cache directory %s is not private to this user "
                              "(owned by another user, or writable by others): set "
                              "XDG_CACHE_HOME to a directory of your own", src, dir.s);
        goto out;
    }
    const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
    sbuf_printf(&so, "%s/%.*s-%016llx.so", sbuf_str(&dir), (int)(strlen(base) - 2), base,
                (unsigned long long)key);
    if (access(so.s, R_OK) == 0) {
        result = sbuf_take(&so);
        goto out;
    }
    /* The header as this cicada knows it, for the compiler. */
    sbuf hpath = SBUF_INIT;
    sbuf_printf(&hpath, "%s/cicada.h", inc.s);
    int hw = header_text ? write_whole(hpath.s, header_text, header_size) : -1;
    sbuf_free(&hpath);
    if (hw) {
        snprintf(err, errlen, "%s: cannot write cicada.h into %s", src, inc.s);
        goto out;
    }
    sbuf_printf(&tmp, "%s.tmp%d", so.s, (int)getpid());
    if (compile(src, inc.s, tmp.s, err, errlen)) {
        unlink(tmp.s);
        goto out;
    }
    if (rename(tmp.s, so.s) != 0) {
        snprintf(err, errlen, "%s: cannot store %s: %s", src, so.s, strerror(errno));
        unlink(tmp.s);
        goto out;
    }
    result = sbuf_take(&so);
out:
    sbuf_free(&text);
    sbuf_free(&dir);
    sbuf_free(&inc);
    sbuf_free(&so);
    sbuf_free(&tmp);
    return result;
}

int plugin_load(const char *path, cicada_registry *reg, char *err, size_t errlen)
{
    reg->file = path;
    char *so = ends_with(path, ".c") ? build(path, err, errlen) : xstrdup(path);
    if (!so)
        return -1;
    /* dlopen searches the library path for a bare name: "./x.so" is what was meant. */
    sbuf p = SBUF_INIT;
    if (!strchr(so, '/'))
        sbuf_puts(&p, "./");
    sbuf_puts(&p, so);
    free(so);
    /* RTLD_NOW: a missing function is an error now, not a crash in the middle of a test. */
    void *h = dlopen(p.s, RTLD_NOW | RTLD_LOCAL);
    sbuf_free(&p);
    if (!h) {
        snprintf(err, errlen, "%s: cannot load: %s", path, dlerror());
        return -1;
    }
    const int *api = dlsym(h, "cicada_plugin_api");
    int (*setup)(cicada_registry *) = (int (*)(cicada_registry *))dlsym(h, "cicada_plugin_setup");
    if (!api || !setup) {
        snprintf(err, errlen, "%s: no CICADA_PLUGIN(setup) in it (see docs/c-api.md)", path);
        return -1;
    }
    if (*api != CICADA_API_VERSION) {
        snprintf(err, errlen, "%s: built for C API version %d; this cicada has version %d: "
                              "rebuild it", path, *api, CICADA_API_VERSION);
        return -1;
    }
    int rc = setup(reg);
    if (rc != 0 || reg->errors) {
        snprintf(err, errlen, "%s: its setup function failed (returned %d; %d class errors "
                              "logged)", path, rc, reg->errors);
        return -1;
    }
    if (!reg->nclasses) {
        snprintf(err, errlen, "%s: its setup function registered no user class", path);
        return -1;
    }
    return 0;
}
