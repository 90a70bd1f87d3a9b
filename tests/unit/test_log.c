/* Tests for engine/log.c: Locust's line format, level filtering, bare mode, log files. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "sbuf.h"

/* Every line the observer saw, "LEVEL|line\n" each. */
static sbuf seen;

static void observe(void *data, int level, const char *line)
{
    assert_ptr_equal(data, &seen);
    sbuf_printf(&seen, "%d|%s\n", level, line);
}

static int setup(void **state)
{
    (void)state;
    sbuf_reset(&seen);
    log_set_observer(observe, &seen);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_set_observer(NULL, NULL);
    log_close();
    char err[256];
    log_setup(LOG_INFO, NULL, false, err, sizeof err);
    return 0;
}

static char *host(void)
{
    static char h[256];
    if (gethostname(h, sizeof h - 1) != 0)
        strcpy(h, "localhost");
    return h;
}

static void assert_matches(const char *text, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("\"%s\" does not match /%s/", text, pattern);
}

/* Tests that only look at the observer keep the console clean. */
#define QUIET "/dev/null"

static void setup_ok(int level, const char *file, bool skip)
{
    char err[256] = "";
    if (log_setup(level, file, skip, err, sizeof err) != 0)
        fail_msg("log_setup: %s", err);
}

static void test_line_format(void **state)
{
    (void)state;
    setup_ok(LOG_INFO, QUIET, false);
    time_t before = time(NULL);
    log_info("cicada.test", "hello %d %s", 42, "world");
    time_t after = time(NULL);
    const char *line = sbuf_str(&seen);
    char pattern[600];
    snprintf(pattern, sizeof pattern,
             "^20\\|\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3}\\] "
             "%s/INFO/cicada\\.test: hello 42 world\n$", host());
    assert_matches(line, pattern);

    /* the timestamp is local time, now */
    struct tm tm = {0};
    int ms = -1;
    assert_int_equal(sscanf(line, "20|[%d-%d-%d %d:%d:%d,%d]", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms), 7);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    assert_in_range(t, before - 1, after + 1);
    assert_in_range(ms, 0, 999);
}

static void test_level_names_in_lines(void **state)
{
    (void)state;
    setup_ok(LOG_DEBUG, QUIET, false);
    log_debug("a", "d");
    log_warning("b.c", "w");
    log_error("x", "e");
    log_msg(LOG_CRITICAL, "y", "c");
    char pattern[800];
    const char *ts = "\\[[0-9-]{10} [0-9:]{8},[0-9]{3}\\] ";
    snprintf(pattern, sizeof pattern,
             "^10\\|%s%s/DEBUG/a: d\n30\\|%s%s/WARNING/b\\.c: w\n40\\|%s%s/ERROR/x: e\n"
             "50\\|%s%s/CRITICAL/y: c\n$",
             ts, host(), ts, host(), ts, host(), ts, host());
    assert_matches(sbuf_str(&seen), pattern);
}

static void test_level_filtering(void **state)
{
    (void)state;
    setup_ok(LOG_WARNING, QUIET, false);
    assert_false(log_enabled(LOG_DEBUG));
    assert_false(log_enabled(LOG_INFO));
    assert_true(log_enabled(LOG_WARNING));
    assert_true(log_enabled(LOG_CRITICAL));
    log_debug("t", "no debug");
    log_info("t", "no info");
    assert_string_equal(sbuf_str(&seen), "");
    log_warning("t", "yes warning");
    log_error("t", "yes error");
    const char *s = sbuf_str(&seen);
    assert_non_null(strstr(s, "/WARNING/t: yes warning\n"));
    assert_non_null(strstr(s, "/ERROR/t: yes error\n"));
    assert_null(strstr(s, "no "));

    sbuf_reset(&seen);
    setup_ok(LOG_ERROR, QUIET, false);
    log_warning("t", "dropped");
    assert_string_equal(sbuf_str(&seen), "");
    setup_ok(LOG_DEBUG, QUIET, false);
    assert_true(log_enabled(LOG_DEBUG));
    log_debug("t", "kept");
    assert_non_null(strstr(sbuf_str(&seen), "/DEBUG/t: kept\n"));
}

static void test_level_parse(void **state)
{
    (void)state;
    assert_int_equal(log_level_parse("DEBUG"), LOG_DEBUG);
    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("Info"), LOG_INFO);
    assert_int_equal(log_level_parse("wArNiNg"), LOG_WARNING);
    assert_int_equal(log_level_parse("error"), LOG_ERROR);
    assert_int_equal(log_level_parse("CRITICAL"), LOG_CRITICAL);
    /* Locust rejects these too ("Invalid --loglevel") */
    assert_int_equal(log_level_parse("warn"), -1);
    assert_int_equal(log_level_parse("fatal"), -1);
    assert_int_equal(log_level_parse(""), -1);
    assert_int_equal(log_level_parse("INFO "), -1);
    assert_int_equal(log_level_parse("20"), -1);
}

static void test_skip_log_setup_is_bare(void **state)
{
    (void)state;
    setup_ok(LOG_DEBUG, QUIET, true); /* the level given is ignored: warnings and up */
    assert_false(log_enabled(LOG_INFO));
    log_info("t", "hidden");
    log_warning("t", "careful %d", 1);
    log_error("t", "broken");
    assert_string_equal(sbuf_str(&seen), "30|careful 1\n40|broken\n");
}

/* Runs fn with stderr sent to a file and returns what it wrote (caller frees). */
static char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/cicada-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
    close(fd);
    unlink(path);
    return buf;
}

static void log_two(void)
{
    log_info("cicada.main", "to stderr");
    log_debug("cicada.main", "not this");
    log_error("cicada.x", "and this");
}

static void test_writes_lines_to_stderr(void **state)
{
    (void)state;
    setup_ok(LOG_INFO, NULL, false);
    char *out = capture_stderr(log_two);
    char pattern[600];
    snprintf(pattern, sizeof pattern,
             "^\\[[0-9-]{10} [0-9:]{8},[0-9]{3}\\] %s/INFO/cicada\\.main: to stderr\n"
             "\\[[0-9-]{10} [0-9:]{8},[0-9]{3}\\] %s/ERROR/cicada\\.x: and this\n$",
             host(), host());
    assert_matches(out, pattern);
    free(out);

    setup_ok(LOG_INFO, NULL, true);
    out = capture_stderr(log_two);
    assert_string_equal(out, "and this\n");
    free(out);
}

static void test_logfile_appends(void **state)
{
    (void)state;
    char dir[] = "/tmp/cicada-logdir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/run.log", dir);
    FILE *f = fopen(path, "w");
    fputs("earlier line\n", f);
    fclose(f);

    setup_ok(LOG_INFO, path, false);
    log_info("cicada.main", "first");
    log_debug("cicada.main", "filtered");
    log_warning("cicada.main", "second");
    char *err = capture_stderr(log_two); /* the file, not stderr, gets the lines */
    assert_string_equal(err, "");
    free(err);
    log_close();

    f = fopen(path, "r");
    char text[4096] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    char pattern[1200];
    const char *ts = "\\[[0-9-]{10} [0-9:]{8},[0-9]{3}\\] ";
    snprintf(pattern, sizeof pattern,
             "^earlier line\n%s%s/INFO/cicada\\.main: first\n%s%s/WARNING/cicada\\.main: second\n"
             "%s%s/INFO/cicada\\.main: to stderr\n%s%s/ERROR/cicada\\.x: and this\n$",
             ts, host(), ts, host(), ts, host(), ts, host());
    assert_matches(text, pattern);
    unlink(path);
    rmdir(dir);
}

static void test_logfile_error(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(log_setup(LOG_INFO, "/nonexistent-cicada-dir/x.log", false, err, sizeof err),
                     -1);
    assert_string_equal(err, "--logfile /nonexistent-cicada-dir/x.log: No such file or directory");
    char dir[] = "/tmp/cicada-logdir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(log_setup(LOG_INFO, dir, false, err, sizeof err), -1);
    char want[300];
    snprintf(want, sizeof want, "--logfile %s: Is a directory", dir);
    assert_string_equal(err, want);
    rmdir(dir);
}

static void test_long_message_is_cut_not_overflowed(void **state)
{
    (void)state;
    setup_ok(LOG_INFO, QUIET, true);
    char big[6000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_warning("t", "%s", big);
    const char *s = sbuf_str(&seen);
    assert_int_equal(strlen(s), strlen("30|") + 4095 + 1);
}

/* Text from a hostile worker or target cannot drive the terminal (ESC sequences, a \r
 * that rewrites the line); newlines and tabs stay. */
static void test_control_characters_are_replaced(void **state)
{
    (void)state;
    setup_ok(LOG_INFO, QUIET, true);
    log_error("t", "Worker w: %s", "\x1b]0;owned\x07\x1b[2Jx\ry\x7f\tz\nnext");
    assert_string_equal(sbuf_str(&seen), "40|Worker w: ?]0;owned??[2Jx?y?\tz\nnext\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_names_in_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filtering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_log_setup_is_bare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_lines_to_stderr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logfile_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logfile_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message_is_cut_not_overflowed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_control_characters_are_replaced, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sbuf_free(&seen);
    return rc;
}
