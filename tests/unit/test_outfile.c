/* Tests for server/outfile.c: the start-up check (what the write will need), whole-or-
 * nothing writes that keep the old file when they fail, and paths that are not regular
 * files written through, not replaced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "outfile.h"

static char *slurp(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_check(void **state)
{
    (void)state;
    char dir[] = "/tmp/cicada-outfile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[512], want[600];

    /* a new file: fine, and nothing is left behind */
    snprintf(path, sizeof path, "%s/r.html", dir);
    assert_int_equal(outfile_check("--html", path, err, sizeof err), 0);
    assert_int_equal(access(path, F_OK), -1);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1);

    /* an existing read-only file: the rename replaces it, so it is fine too */
    assert_int_equal(outfile_write("--html", path, "old", 3, err, sizeof err), 0);
    assert_int_equal(chmod(path, 0444), 0);
    assert_int_equal(outfile_check("--html", path, err, sizeof err), 0);
    assert_string_equal(slurp(path), "old");
    unlink(path);

    /* a directory */
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(outfile_check("--html", path, err, sizeof err), -1);
    snprintf(want, sizeof want, "--html %s: Is a directory", path);
    assert_string_equal(err, want);
    rmdir(path);

    /* a missing directory */
    snprintf(path, sizeof path, "%s/missing/j.xml", dir);
    assert_int_equal(outfile_check("--junit", path, err, sizeof err), -1);
    snprintf(want, sizeof want, "--junit %s: No such file or directory", path);
    assert_string_equal(err, want);

    /* a device is checked by opening it */
    assert_int_equal(outfile_check("--html", "/dev/null", err, sizeof err), 0);
    rmdir(dir);
}

static void test_write_keeps_the_old_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/cicada-outfile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], tmp[300], err[512], want[600];
    snprintf(path, sizeof path, "%s/r.html", dir);
    assert_int_equal(outfile_write("--html", path, "first", 5, err, sizeof err), 0);
    assert_string_equal(slurp(path), "first");
    assert_int_equal(outfile_write("--html", path, "second", 6, err, sizeof err), 0);
    assert_string_equal(slurp(path), "second");

    /* the temporary file cannot be made: an error naming the option and the path, and the
     * old file as it was */
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    assert_int_equal(mkdir(tmp, 0755), 0);
    assert_int_equal(outfile_write("--html", path, "third", 5, err, sizeof err), -1);
    snprintf(want, sizeof want, "--html %s: Is a directory", path);
    assert_string_equal(err, want);
    assert_string_equal(slurp(path), "second");
    rmdir(tmp);
    unlink(path);
    rmdir(dir);
}

static void test_write_through_devices(void **state)
{
    (void)state;
    char err[512];
    struct stat before, after;
    /* /dev/null stays a device: a rename would have put a regular file there */
    assert_int_equal(stat("/dev/null", &before), 0);
    assert_int_equal(outfile_write("--html", "/dev/null", "x", 1, err, sizeof err), 0);
    assert_int_equal(stat("/dev/null", &after), 0);
    assert_true(S_ISCHR(after.st_mode));
    assert_int_equal(before.st_ino, after.st_ino);
    /* a full device: the error says so */
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(outfile_write("--junit", "/dev/full", "x", 1, err, sizeof err), -1);
        assert_string_equal(err, "--junit /dev/full: No space left on device");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_write_keeps_the_old_file),
        cmocka_unit_test(test_write_through_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
