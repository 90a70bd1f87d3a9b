/* Tests for engine/csv.c: Locust's CSV files byte for byte.
 *
 * The expected rows were produced by Locust 2.12's own StatsCSV code (locust/stats.py)
 * fed the same requests at the same (mocked) times, except where a comment names one of
 * cicada's documented differences. */
#include <dirent.h>
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

#include "csv.h"
#include "log.h"
#include "sbuf.h"
#include "stats.h"
#include "xalloc.h"

#define REQ_HEADER                                                                            \
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"      \
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%," \
    "75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n"
#define HISTORY_HEADER                                                                      \
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%," \
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time," \
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"         \
    "Total Average Content Size\r\n"
#define NA11 "N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A"

#define HTTP500 "HTTPError('500 Server Error: INTERNAL SERVER ERROR for url: /b')"
#define REFUSED "ConnectionRefusedError(111, 'Connection refused')"

static void assert_field(const char *in, bool last, const char *want)
{
    sbuf b = SBUF_INIT;
    csv_field(&b, in, last);
    assert_string_equal(sbuf_str(&b), want);
    sbuf_free(&b);
}

static void test_field_quoting(void **state)
{
    (void)state;
    assert_field("plain", false, "plain,");
    assert_field("plain", true, "plain\r\n");
    assert_field("", false, ",");
    assert_field("a,b", false, "\"a,b\",");
    assert_field("say \"hi\"", false, "\"say \"\"hi\"\"\",");
    assert_field("\"", true, "\"\"\"\"\r\n");
    assert_field("cr\rhere", false, "\"cr\rhere\",");
    assert_field("two\nlines", true, "\"two\nlines\"\r\n");
    assert_field("semi;colon 'q' tab\t", false, "semi;colon 'q' tab\t,");
}

/* Locust's reference run: two entries, failures, times in whole milliseconds. */
static stats *reference_stats(bool full)
{
    stats *s = stats_new(100, full, 1000.0);
    stats_entry *a = stats_entry_get(s, "GET", "/a", 1000.0);
    stats_entry *b = stats_entry_get(s, "POST", "/b,\"c\"", 1000.0);
    stats_log(s, a, 1001.25, 12000, 100, NULL);
    stats_log(s, a, 1002.5, 20000, 300, NULL);
    stats_log(s, b, 1003.0, 7000, 10, HTTP500);
    stats_log(s, a, 1004.0, 50000, 0, NULL);
    stats_log(s, b, 1005.0, 3000, 0, REFUSED);
    return s;
}

#define ROW_A_TIMES "20,27.333333333333332,12.0,50.0,133.33333333333334"
#define ROW_B_TIMES "3,5.0,3.0,7.0,5.0"
#define ROW_T_TIMES "12,18.4,3.0,50.0,82.0"

static void test_requests_table(void **state)
{
    (void)state;
    stats *s = reference_stats(false);
    sbuf b = SBUF_INIT;
    csv_requests(&b, s);
    assert_string_equal(
        sbuf_str(&b),
        REQ_HEADER
        "GET,/a,3,0," ROW_A_TIMES ",0.6,0.0,20,20,50,50,50,50,50,50,50,50,50\r\n"
        "POST,\"/b,\"\"c\"\"\",2,2," ROW_B_TIMES ",0.4,0.4,7,7,7,7,7,7,7,7,7,7,7\r\n"
        ",Aggregated,5,2," ROW_T_TIMES ",1.0,0.4,12,20,20,50,50,50,50,50,50,50,50\r\n");
    sbuf_free(&b);
    stats_free(s);
}

static void test_failures_table(void **state)
{
    (void)state;
    stats *s = reference_stats(false);
    sbuf b = SBUF_INIT;
    csv_failures(&b, s);
    assert_string_equal(sbuf_str(&b), "Method,Name,Error,Occurrences\r\n"
                                      "POST,\"/b,\"\"c\"\"\",\"" REFUSED "\",1\r\n"
                                      "POST,\"/b,\"\"c\"\"\"," HTTP500 ",1\r\n");
    /* the same failure again counts, it does not add a row */
    stats_log(s, stats_entry_get(s, "POST", "/b,\"c\"", 1006.0), 1006.0, 1000, 0, REFUSED);
    sbuf_reset(&b);
    csv_failures(&b, s);
    assert_string_equal(sbuf_str(&b), "Method,Name,Error,Occurrences\r\n"
                                      "POST,\"/b,\"\"c\"\"\",\"" REFUSED "\",2\r\n"
                                      "POST,\"/b,\"\"c\"\"\"," HTTP500 ",1\r\n");
    sbuf_free(&b);
    stats_free(s);

    s = stats_new(10, false, 1.0);
    b = (sbuf)SBUF_INIT;
    csv_failures(&b, s);
    assert_string_equal(sbuf_str(&b), "Method,Name,Error,Occurrences\r\n");
    sbuf_free(&b);
    stats_free(s);
}

static void test_exceptions_table(void **state)
{
    (void)state;
    stats *s = stats_new(10, false, 1.0);
    sbuf b = SBUF_INIT;
    csv_exceptions(&b, s);
    assert_string_equal(sbuf_str(&b), "Count,Message,Traceback,Nodes\r\n");
    const char *where = "shop.json:22:11 (user class \"Buyer\", task \"shop\", step 3)";
    stats_log_exception(s, "could not start: bad URL", where, "local");
    stats_log_exception(s, "multi", "line 1\nline 2", "local");
    stats_log_exception(s, "could not start: bad URL", where, "worker-1");
    stats_log_exception(s, "could not start: bad URL", where, "local");
    sbuf_reset(&b);
    csv_exceptions(&b, s);
    assert_string_equal(sbuf_str(&b),
                        "Count,Message,Traceback,Nodes\r\n"
                        "3,could not start: bad URL,\"shop.json:22:11 (user class \"\"Buyer\"\", "
                        "task \"\"shop\"\", step 3)\",\"local, worker-1\"\r\n"
                        "1,multi,\"line 1\nline 2\",local\r\n");
    sbuf_free(&b);
    stats_free(s);
}

static void test_history_header(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    csv_history_header(&b);
    assert_string_equal(sbuf_str(&b), HISTORY_HEADER);
    sbuf_free(&b);
}

static void test_history_rows(void **state)
{
    (void)state;
    /* Aggregated only, with whole-run percentiles */
    stats *s = reference_stats(false);
    sbuf b = SBUF_INIT;
    csv_history_rows(&b, s, 1005.9, 7, false);
    assert_string_equal(sbuf_str(&b), "1005,7,,Aggregated,0.666667,0.000000,"
                                      "12,20,20,50,50,50,50,50,50,50,50,5,2," ROW_T_TIMES "\r\n");
    sbuf_free(&b);
    stats_free(s);

    /* full history: every entry, then Aggregated, all with current percentiles (the
     * baseline is the empty state at 1000, so they equal the whole-run ones here) */
    s = reference_stats(true);
    b = (sbuf)SBUF_INIT;
    for (int t = 1001; t <= 1005; t++)
        stats_tick(s, t + 0.01);
    csv_history_rows(&b, s, 1005.9, 7, true);
    assert_string_equal(sbuf_str(&b),
                        "1005,7,GET,/a,0.666667,0.000000,20,20,50,50,50,50,50,50,50,50,50,3,0,"
                        ROW_A_TIMES "\r\n"
                        "1005,7,POST,\"/b,\"\"c\"\"\",0.000000,0.000000,7,7,7,7,7,7,7,7,7,7,7,2,2,"
                        ROW_B_TIMES "\r\n"
                        "1005,7,,Aggregated,0.666667,0.000000,12,20,20,50,50,50,50,50,50,50,50,5,2,"
                        ROW_T_TIMES "\r\n");
    sbuf_free(&b);
    stats_free(s);
}

static void test_no_request_rows(void **state)
{
    (void)state;
    stats *s = stats_new(10, false, 1000.0);
    sbuf b = SBUF_INIT;
    csv_requests(&b, s);
    assert_string_equal(sbuf_str(&b),
                        REQ_HEADER ",Aggregated,0,0,0,0.0,0,0,0,0.0,0.0," NA11 "\r\n");
    sbuf_reset(&b);
    csv_history_rows(&b, s, 1000.5, 0, false);
    assert_string_equal(sbuf_str(&b),
                        "1000,0,,Aggregated,0.000000,0.000000," NA11 ",0,0,0,0.0,0,0,0\r\n");

    /* after a reset the entries stay listed, zeroed, with N/A percentiles */
    stats_log(s, stats_entry_get(s, "GET", "/a", 1001.0), 1001.0, 5000, 10, NULL);
    stats_reset(s, 1002.0, true);
    sbuf_reset(&b);
    csv_requests(&b, s);
    assert_string_equal(sbuf_str(&b), REQ_HEADER
                        "GET,/a,0,0,0,0.0,0,0,0,0.0,0.0," NA11 "\r\n"
                        ",Aggregated,0,0,0,0.0,0,0,0,0.0,0.0," NA11 "\r\n");
    sbuf_free(&b);
    stats_free(s);
}

static void test_untimed_and_zero_time_rows(void **state)
{
    (void)state;
    /* a request without a response time: counted, not timed; Average is the float 0.0 */
    stats *s = stats_new(10, false, 1000.0);
    stats_log(s, stats_entry_get(s, "GET", "/none", 1001.0), 1001.0, -1, 0, REFUSED);
    sbuf b = SBUF_INIT;
    csv_requests(&b, s);
    assert_string_equal(sbuf_str(&b), REQ_HEADER
                        "GET,/none,1,1,0,0.0,0,0,0.0,1.0,1.0,0,0,0,0,0,0,0,0,0,0,0\r\n"
                        ",Aggregated,1,1,0,0.0,0,0,0.0,1.0,1.0,0,0,0,0,0,0,0,0,0,0,0\r\n");
    sbuf_reset(&b);
    csv_history_rows(&b, s, 1001.5, 0, false);
    assert_string_equal(sbuf_str(&b), "1001,0,,Aggregated,0.000000,0.000000,"
                                      "0,0,0,0,0,0,0,0,0,0,0,1,1,0,0.0,0,0,0.0\r\n");
    stats_free(s);

    /* a 0 ms response: Min is "min or 0" and Max max(0, t), both the integer 0 */
    s = stats_new(10, false, 1000.0);
    stats_log(s, stats_entry_get(s, "GET", "/zero", 1001.0), 1001.0, 0, 0, NULL);
    sbuf_reset(&b);
    csv_requests(&b, s);
    assert_string_equal(sbuf_str(&b), REQ_HEADER
                        "GET,/zero,1,0,0,0.0,0,0,0.0,1.0,0.0,0,0,0,0,0,0,0,0,0,0,0\r\n"
                        ",Aggregated,1,0,0,0.0,0,0,0.0,1.0,0.0,0,0,0,0,0,0,0,0,0,0,0\r\n");
    sbuf_free(&b);
    stats_free(s);
}

/* ---- files -------------------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    sbuf b = SBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sbuf_add(&b, buf, n);
    fclose(f);
    return sbuf_take(&b);
}

static void assert_file(const char *dir, const char *name, const char *want)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *got = slurp(path);
    assert_string_equal(got, want);
    free(got);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void remove_dir(const char *dir)
{
    static const char *const names[] = {"run_stats.csv", "run_stats_history.csv",
                                        "run_failures.csv", "run_exceptions.csv"};
    char path[512];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
        rmdir(path);
    }
    rmdir(dir);
}

static void test_writer_open_errors(void **state)
{
    (void)state;
    char err[512] = "";
    int fds = count_fds();
    assert_null(csv_writer_open("/nonexistent-cicada-dir/run", false, err, sizeof err));
    assert_string_equal(err,
                        "--csv /nonexistent-cicada-dir/run_stats.csv: No such file or directory");

    /* a later file that cannot be created: the earlier ones are closed again */
    char dir[] = "/tmp/cicada-csv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char blocker[512];
    snprintf(blocker, sizeof blocker, "%s/run_failures.csv", dir);
    assert_int_equal(mkdir(blocker, 0755), 0);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    assert_null(csv_writer_open(prefix, false, err, sizeof err));
    char want[600];
    snprintf(want, sizeof want, "--csv %s: Is a directory", blocker);
    assert_string_equal(err, want);
    assert_int_equal(count_fds(), fds);

    /* all four are tried before any is changed: an earlier run's file keeps its content,
     * and no new empty file is left behind */
    char old[512];
    snprintf(old, sizeof old, "%s/run_stats.csv", dir);
    FILE *f = fopen(old, "w");
    assert_non_null(f);
    fputs("an earlier run\r\n", f);
    fclose(f);
    assert_null(csv_writer_open(prefix, false, err, sizeof err));
    assert_file(dir, "run_stats.csv", "an earlier run\r\n");
    snprintf(old, sizeof old, "%s/run_stats_history.csv", dir);
    assert_int_equal(access(old, F_OK), -1);
    assert_int_equal(count_fds(), fds);
    remove_dir(dir);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/cicada-csv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char prefix[512], err[512] = "";
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    int fds = count_fds();

    stats *s = stats_new(10, false, 1000.0);
    csv_writer *w = csv_writer_open(prefix, false, err, sizeof err);
    assert_non_null(w);
    assert_string_equal(err, "");
    char hist_path[512];
    snprintf(hist_path, sizeof hist_path, "%s/run_stats_history.csv", dir);
    assert_string_equal(csv_writer_history_path(w), hist_path);
    /* all four are created at once, with their headers, as Locust does */
    assert_file(dir, "run_stats_history.csv", HISTORY_HEADER);
    assert_file(dir, "run_stats.csv", REQ_HEADER);
    assert_file(dir, "run_failures.csv", "Method,Name,Error,Occurrences\r\n");
    assert_file(dir, "run_exceptions.csv", "Count,Message,Traceback,Nodes\r\n");

    stats_entry *r = stats_entry_get(s, "GET", "/r", 1000.0);
    stats_log(s, r, 1000.5, 10000, 50, NULL);
    csv_writer_tick(w, s, 1001.5, 3);
    assert_file(dir, "run_stats.csv",
                REQ_HEADER "GET,/r,1,0,10,10.0,10.0,10.0,50.0,2.0,0.0,10,10,10,10,10,10,10,10,10,"
                           "10,10\r\n"
                           ",Aggregated,1,0,10,10.0,10.0,10.0,50.0,2.0,0.0,10,10,10,10,10,10,10,10,"
                           "10,10,10\r\n");
    stats_log(s, r, 1002.25, 30000, 0, "HTTPError('404 Client Error: NOT FOUND for url: /r')");
    stats_log_exception(s, "boom", "t.json:1:1", "local");
    csv_writer_tick(w, s, 1002.5, 3);
    assert_int_equal(csv_writer_close(w, s, 1003.2, 0), 0);
    assert_int_equal(count_fds(), fds);

#define FINAL "2,1,10,20.0,10.0,30.0,25.0"
#define P30 "30,30,30,30,30,30,30,30,30,30,30"
    assert_file(dir, "run_stats.csv",
                REQ_HEADER "GET,/r," FINAL ",0.8888888888888888,0.4444444444444444," P30 "\r\n"
                           ",Aggregated," FINAL ",0.8888888888888888,0.4444444444444444," P30
                           "\r\n");
    /* header, one row per tick, and the final row written by close; the last row's
     * current rate is anchored at `now` (a documented difference: Locust anchors it at
     * the last request and would print 0.000000) */
    assert_file(dir, "run_stats_history.csv",
                HISTORY_HEADER
                "1001,3,,Aggregated,0.000000,0.000000,10,10,10,10,10,10,10,10,10,10,10,1,0,10,"
                "10.0,10.0,10.0,50.0\r\n"
                "1002,3,,Aggregated,0.000000,0.000000," P30 "," FINAL "\r\n"
                "1003,0,,Aggregated,1.000000,0.000000," P30 "," FINAL "\r\n");
    assert_file(dir, "run_failures.csv",
                "Method,Name,Error,Occurrences\r\n"
                "GET,/r,HTTPError('404 Client Error: NOT FOUND for url: /r'),1\r\n");
    assert_file(dir, "run_exceptions.csv",
                "Count,Message,Traceback,Nodes\r\n1,boom,t.json:1:1,local\r\n");
    stats_free(s);
    remove_dir(dir);
}

static void test_writer_full_history(void **state)
{
    (void)state;
    char dir[] = "/tmp/cicada-csv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char prefix[512], err[512] = "";
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    stats *s = stats_new(10, true, 1000.0);
    csv_writer *w = csv_writer_open(prefix, true, err, sizeof err);
    assert_non_null(w);
    stats_log(s, stats_entry_get(s, "GET", "/b", 1000.0), 1000.5, 4000, 1, NULL);
    stats_log(s, stats_entry_get(s, "GET", "/a", 1000.0), 1000.6, 6000, 1, NULL);
    csv_writer_tick(w, s, 1001.5, 2);
    assert_int_equal(csv_writer_close(w, s, 1002.5, 2), 0);
#define P0 "0,0,0,0,0,0,0,0,0,0,0"
#define P4 "4,4,4,4,4,4,4,4,4,4,4"
#define P6 "6,6,6,6,6,6,6,6,6,6,6"
    /* current percentiles need a snapshot 2..18 s old: none yet at 1001 (Locust's None,
     * printed 0), the creation-time one at 1002 */
    const char *want =
        HISTORY_HEADER
        "1001,2,GET,/a,0.000000,0.000000," P0 ",1,0,6,6.0,6.0,6.0,1.0\r\n"
        "1001,2,GET,/b,0.000000,0.000000," P0 ",1,0,4,4.0,4.0,4.0,1.0\r\n"
        "1001,2,,Aggregated,0.000000,0.000000," P0 ",2,0,4,5.0,4.0,6.0,1.0\r\n"
        "1002,2,GET,/a,0.000000,0.000000," P6 ",1,0,6,6.0,6.0,6.0,1.0\r\n"
        "1002,2,GET,/b,0.000000,0.000000," P4 ",1,0,4,4.0,4.0,4.0,1.0\r\n"
        "1002,2,,Aggregated,0.000000,0.000000," P6 ",2,0,4,5.0,4.0,6.0,1.0\r\n";
    assert_file(dir, "run_stats_history.csv", want);
    stats_free(s);
    remove_dir(dir);
}

static int quiet(void **state)
{
    (void)state;
    char err[128];
    return log_setup(LOG_ERROR, "/dev/null", false, err, sizeof err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_quoting),
        cmocka_unit_test(test_requests_table),
        cmocka_unit_test(test_failures_table),
        cmocka_unit_test(test_exceptions_table),
        cmocka_unit_test(test_history_header),
        cmocka_unit_test(test_history_rows),
        cmocka_unit_test(test_no_request_rows),
        cmocka_unit_test(test_untimed_and_zero_time_rows),
        cmocka_unit_test(test_writer_open_errors),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_full_history),
    };
    int rc = cmocka_run_group_tests(tests, quiet, NULL);
    log_close();
    return rc;
}
