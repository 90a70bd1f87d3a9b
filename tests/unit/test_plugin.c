/* engine/plugin: which paths are C locustfiles, and plugin_load of .c files (compiled into
 * a cache under a temporary $XDG_CACHE_HOME with the system compiler) and .so files:
 * success, compiler errors, no compiler, no entry point, an API version mismatch, a setup
 * that fails or registers no class, and the cache (reused, rebuilt on an edit or a new
 * cicada version).
 *
 * The plugins are dlopen'ed into this binary and call its cicada_* functions: the test
 * binaries are linked with -rdynamic, as cicada is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assets.h"
#include "capi.h"
#include "plugin.h"
#include "sbuf.h"

static char dir[256];       /* this test's temporary directory */
static char err[1024];
static cicada_registry reg;
static const char *header;
static size_t header_len;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cicada-test-plugin-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char cache[300];
    snprintf(cache, sizeof cache, "%s/xdg", dir);
    setenv("XDG_CACHE_HOME", cache, 1);
    unsetenv("CC");
    plugin_setup(header, header_len, "test-1");
    memset(&reg, 0, sizeof reg);
    err[0] = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    capi_registry_free(&reg);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("CC");
    return 0;
}

/* Writes dir/name with text; returns the path (static, one at a time). */
static const char *put(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The cached objects built from <stem>.c: how many, and the mtime of the last found. */
static int cached(const char *stem, struct timespec *mtime, char *name, size_t len)
{
    char cdir[512];
    snprintf(cdir, sizeof cdir, "%s/xdg/cicada", dir);
    DIR *d = opendir(cdir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(stem);
    while ((e = readdir(d))) {
        size_t el = strlen(e->d_name);
        if (strncmp(e->d_name, stem, sl) || e->d_name[sl] != '-' || el < 4 ||
            strcmp(e->d_name + el - 3, ".so"))
            continue;
        n++;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", cdir, e->d_name);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        if (mtime)
            *mtime = st.st_mtim;
        if (name)
            snprintf(name, len, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

/* Runs plugin_load with stderr (the compiler's messages) captured into out. */
static int load_quietly(const char *path, char *out, size_t outlen)
{
    char cap[512];
    snprintf(cap, sizeof cap, "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    int rc = plugin_load(path, &reg, err, sizeof err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(cap, "r");
    size_t n = f ? fread(out, 1, outlen - 1, f) : 0;
    out[n] = 0;
    if (f)
        fclose(f);
    return rc;
}

#define GOOD                                                                              \
    "#include <cicada.h>\n"                                                               \
    "static int started;\n"                                                               \
    "static void t(cicada_user *u) { (void)u; }\n"                                        \
    "static void h(void *d, const cicada_request_info *i) { (void)d, (void)i; }\n"        \
    "static const cicada_task tasks[] = {{.name = \"t\", .weight = 2, .fn = t}};\n"       \
    "static int setup(cicada_registry *reg)\n"                                            \
    "{\n"                                                                                 \
    "    started++;\n"                                                                    \
    "    cicada_on(reg, CICADA_ON_TEST_START, h, &started);\n"                            \
    "    return cicada_add_class(reg, &(cicada_class){.name = \"Good\", .weight = 1,\n"   \
    "        .tasks = tasks, .ntasks = 1});\n"                                            \
    "}\n"                                                                                 \
    "CICADA_PLUGIN(setup)\n"

/* ---- plugin_path ------------------------------------------------------------------------ */

static void test_plugin_path(void **state)
{
    (void)state;
    assert_true(plugin_path("x.c"));
    assert_true(plugin_path("dir/test.c"));
    assert_true(plugin_path("/abs/x.so"));
    assert_true(plugin_path("x.so"));
    assert_false(plugin_path(".c"));
    assert_false(plugin_path(".so"));
    assert_false(plugin_path("c"));
    assert_false(plugin_path("x.json"));
    assert_false(plugin_path("x.cc"));
    assert_false(plugin_path("x.C"));
    assert_false(plugin_path("x.so.1"));
    assert_false(plugin_path("dir.c/x.json"));
    assert_false(plugin_path(""));
}

/* ---- loading ---------------------------------------------------------------------------- */

static void test_load_c(void **state)
{
    (void)state;
    const char *p = put("good.c", GOOD);
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), 0);
    assert_ptr_equal(reg.file, p);
    assert_int_equal(reg.nclasses, 1);
    assert_string_equal(reg.classes[0].c.name, "Good");
    assert_int_equal(reg.classes[0].tasks[0].weight, 2);
    assert_int_equal(reg.nhooks, 1);
    assert_int_equal(reg.hooks[0].ev, CICADA_ON_TEST_START);
    assert_int_equal(reg.errors, 0);
    /* Cached as <stem>-<16 hex digits>.so, with cicada.h beside it for the compiler. */
    char name[256];
    assert_int_equal(cached("good", NULL, name, sizeof name), 1);
    assert_int_equal(strlen(name), strlen("good-") + 16 + 3);
    char h[512];
    snprintf(h, sizeof h, "%s/xdg/cicada/include/cicada.h", dir);
    struct stat st;
    assert_int_equal(stat(h, &st), 0);
    assert_int_equal((size_t)st.st_size, header_len);
}

/* Another user's cache directory, or one others can write to, could hold their object
 * under our name: refused, nothing compiled or loaded. */
static void test_cache_not_private_is_refused(void **state)
{
    (void)state;
    char cache[512];
    snprintf(cache, sizeof cache, "%s/xdg", dir);
    assert_int_equal(mkdir(cache, 0700), 0);
    snprintf(cache, sizeof cache, "%s/xdg/cicada", dir);
    assert_int_equal(mkdir(cache, 0700), 0);
    assert_int_equal(chmod(cache, 0777), 0);
    const char *p = put("shared.c", GOOD);
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not private to this user"));
    assert_int_equal(reg.nclasses, 0);
    assert_int_equal(cached("shared", NULL, NULL, 0), 0);
    assert_int_equal(chmod(cache, 0755), 0);     /* others may read, not write: fine */
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), 0);
}

static void test_cache_reuse_and_rebuild(void **state)
{
    (void)state;
    const char *p = put("reuse.c", GOOD);
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), 0);
    struct timespec m1, m2;
    char n1[256], n2[256];
    assert_int_equal(cached("reuse", &m1, n1, sizeof n1), 1);
    capi_registry_free(&reg);
    /* Again, with no compiler at all: the cached object is enough. */
    usleep(20000);
    setenv("CC", "/nonexistent/cc", 1);
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), 0);
    assert_int_equal(cached("reuse", &m2, n2, sizeof n2), 1);
    assert_string_equal(n1, n2);
    assert_true(m1.tv_sec == m2.tv_sec && m1.tv_nsec == m2.tv_nsec);
    assert_int_equal(reg.nclasses, 1);
    capi_registry_free(&reg);
    unsetenv("CC");
    /* An edit: a new object. */
    put("reuse.c", GOOD "/* edited */\n");
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), 0);
    assert_int_equal(cached("reuse", NULL, NULL, 0), 2);
    capi_registry_free(&reg);
    /* Another cicada (its version is in the key): another object. */
    plugin_setup(header, header_len, "test-2");
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), 0);
    assert_int_equal(cached("reuse", NULL, NULL, 0), 3);
}

static void test_compile_error(void **state)
{
    (void)state;
    const char *p = put("broken.c", "#include <cicada.h>\n\nint x = ;\n");
    char out[8192];
    assert_int_equal(load_quietly(p, out, sizeof out), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: the C compiler failed (its messages are above)", p);
    assert_string_equal(err, want);
    /* The compiler's own message, file:line first. */
    snprintf(want, sizeof want, "%s:3:", p);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "error"));
    /* Nothing half-built stays in the cache. */
    assert_int_equal(cached("broken", NULL, NULL, 0), 0);
    char cdir[512];
    snprintf(cdir, sizeof cdir, "%s/xdg/cicada", dir);
    DIR *d = opendir(cdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        assert_null(strstr(e->d_name, ".tmp"));
    closedir(d);
    assert_int_equal(reg.nclasses, 0);
}

static void test_no_compiler(void **state)
{
    (void)state;
    const char *p = put("nocc.c", GOOD);
    setenv("CC", "/nonexistent/cc", 1);
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: no C compiler (\"/nonexistent/cc\" could not run): "
                                "install gcc, or set CC", p);
    assert_string_equal(err, want);
    assert_int_equal(cached("nocc", NULL, NULL, 0), 0);
}

static void test_missing_source(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/absent.c", dir);
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot read: No such file or directory", p);
    assert_string_equal(err, want);
}

static void test_no_setup(void **state)
{
    (void)state;
    const char *p = put("nosetup.c", "#include <cicada.h>\nint helper(void) { return 1; }\n");
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: no CICADA_PLUGIN(setup) in it (see docs/c-api.md)", p);
    assert_string_equal(err, want);
    /* A setup function without the version is no entry either. */
    p = put("noversion.c", "#include <cicada.h>\n"
                           "int cicada_plugin_setup(cicada_registry *r);\n"
                           "int cicada_plugin_setup(cicada_registry *r) { (void)r; return 0; }\n");
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    assert_non_null(strstr(err, "no CICADA_PLUGIN(setup) in it"));
}

static void test_api_version_mismatch(void **state)
{
    (void)state;
    const char *p = put("future.c",
                        "#include <cicada.h>\n"
                        "static int called;\n"
                        "const int cicada_plugin_api = 999;\n"
                        "int cicada_plugin_setup(cicada_registry *reg);\n"
                        "int cicada_plugin_setup(cicada_registry *reg)\n"
                        "{ (void)reg; return ++called; }\n");
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: built for C API version 999; this cicada has version "
                                "%d: rebuild it", p, CICADA_API_VERSION);
    assert_string_equal(err, want);
    /* setup was not called. */
    assert_int_equal(reg.nclasses, 0);
}

static void test_setup_fails(void **state)
{
    (void)state;
    const char *p = put("fails.c",
                        "#include <cicada.h>\n"
                        "static int setup(cicada_registry *reg) { (void)reg; return 7; }\n"
                        "CICADA_PLUGIN(setup)\n");
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: its setup function failed (returned 7; 0 class errors "
                                "logged)", p);
    assert_string_equal(err, want);
}

static void test_bad_class_fails_setup(void **state)
{
    (void)state;
    /* setup ignores cicada_add_class's answer: the refusal still counts. */
    const char *p = put("badclass.c",
                        "#include <cicada.h>\n"
                        "static void t(cicada_user *u) { (void)u; }\n"
                        "static const cicada_task ok[] = {{.name = \"t\", .fn = t}};\n"
                        "static int setup(cicada_registry *reg)\n"
                        "{\n"
                        "    cicada_add_class(reg, &(cicada_class){.name = \"A\", .tasks = ok,"
                        " .ntasks = 1});\n"
                        "    cicada_add_class(reg, &(cicada_class){.name = \"B\"});\n"
                        "    return 0;\n"
                        "}\n"
                        "CICADA_PLUGIN(setup)\n");
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: its setup function failed (returned 0; 1 class errors "
                                "logged)", p);
    assert_string_equal(err, want);
    assert_int_equal(reg.nclasses, 1);
}

static void test_no_class(void **state)
{
    (void)state;
    const char *p = put("empty.c",
                        "#include <cicada.h>\n"
                        "static void h(void *d, const cicada_request_info *i)\n"
                        "{ (void)d, (void)i; }\n"
                        "static int setup(cicada_registry *reg)\n"
                        "{ return cicada_on(reg, CICADA_ON_TEST_STOP, h, 0); }\n"
                        "CICADA_PLUGIN(setup)\n");
    assert_int_equal(plugin_load(p, &reg, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: its setup function registered no user class", p);
    assert_string_equal(err, want);
}

/* Builds src into out with cc -shared -fPIC -I<dir with cicada.h>, as docs/c-api.md
 * says (the header from this binary, as cicada writes it into its cache). */
static void prebuild(const char *src, const char *out)
{
    char inc[512], incflag[600];
    snprintf(inc, sizeof inc, "%s/include", dir);
    assert_int_equal(mkdir(inc, 0700), 0);
    snprintf(incflag, sizeof incflag, "-I%s", inc);
    char h[600];
    snprintf(h, sizeof h, "%s/cicada.h", inc);
    FILE *f = fopen(h, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(header, 1, header_len, f), header_len);
    fclose(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("cc", "cc", "-shared", "-fPIC", incflag, "-o", out, src, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_load_prebuilt_so(void **state)
{
    (void)state;
    char src[512], so[512];
    snprintf(src, sizeof src, "%s", put("pre.c", GOOD));
    snprintf(so, sizeof so, "%s/pre.so", dir);
    prebuild(src, so);
    assert_int_equal(plugin_load(so, &reg, err, sizeof err), 0);
    assert_int_equal(reg.nclasses, 1);
    /* Not compiled: nothing in the cache. */
    assert_int_equal(cached("pre", NULL, NULL, 0), 0);
    capi_registry_free(&reg);
    /* A bare name is a file in the current directory, not a library search. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    int rc = plugin_load("pre.so", &reg, err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    capi_registry_free(&reg);
    /* A .so that is not there. */
    snprintf(so, sizeof so, "%s/absent.so", dir);
    assert_int_equal(plugin_load(so, &reg, err, sizeof err), -1);
    assert_non_null(strstr(err, "absent.so: cannot load: "));
}

int main(void)
{
    for (const struct asset *a = assets_table; a->path; a++)
        if (strcmp(a->path, "include/cicada.h") == 0) {
            header = (const char *)a->data;
            header_len = a->len;
        }
    if (!header) {
        fprintf(stderr, "include/cicada.h is not among the assets\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_path),
        cmocka_unit_test_setup_teardown(test_load_c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_not_private_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_reuse_and_rebuild, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_compiler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_setup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_version_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_class_fails_setup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_prebuilt_so, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
