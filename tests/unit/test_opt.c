/* Tests for server/opt.c: command line, config files, LOCUST_* variables, precedence and
 * validation, with Locust 2.12's messages and exit codes. */
#include <limits.h>
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

#include "log.h"
#include "opt.h"
#include "sbuf.h"
#include "xalloc.h"

/* ---- fixture --------------------------------------------------------------------------- */

/* A temporary directory holding home/.locust.conf, locust.conf (the ./locust.conf stand-in)
 * and extra.conf (for --config), plus the last parse's result. */
struct fx {
    char dir[64];
    char home[128], home_conf[160], cwd_conf[128], extra[128];
    struct options o;
    int rc;
    char err[512];
    char *notices; /* what opt_parse wrote to stderr */
};

static int setup(void **state)
{
    struct fx *fx = xcalloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/cicada-test-opt-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->home, sizeof fx->home, "%s/home", fx->dir);
    snprintf(fx->home_conf, sizeof fx->home_conf, "%s/.locust.conf", fx->home);
    snprintf(fx->cwd_conf, sizeof fx->cwd_conf, "%s/locust.conf", fx->dir);
    snprintf(fx->extra, sizeof fx->extra, "%s/extra.conf", fx->dir);
    if (mkdir(fx->home, 0700) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    opt_free(&fx->o);
    free(fx->notices);
    unlink(fx->home_conf);
    rmdir(fx->cwd_conf); /* some tests make it a directory */
    unlink(fx->cwd_conf);
    unlink(fx->extra);
    rmdir(fx->home);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp_fd(int fd)
{
    sbuf b = SBUF_INIT;
    char buf[512];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        sbuf_add(&b, buf, (size_t)n);
    sbuf_puts(&b, "");
    return sbuf_take(&b);
}

/* Parses argv (NULL-terminated, without the program name) with stderr captured into
 * fx->notices. Every message must be one line. */
static int run(struct fx *fx, char **env, char **args)
{
    char *argv[64] = {"cicada"};
    int argc = 1;
    while (args[argc - 1])
        argv[argc] = args[argc - 1], argc++;
    char path[] = "/tmp/cicada-test-opt-err-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    opt_free(&fx->o);
    memset(fx->err, 'x', sizeof fx->err);
    fx->rc = opt_parse(&fx->o, argc, argv, env, fx->home, fx->cwd_conf, fx->err, sizeof fx->err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    free(fx->notices);
    fx->notices = slurp_fd(fd);
    close(fd);
    assert_null(strchr(fx->err, '\n'));
    if (fx->rc == OPT_OK)
        assert_string_equal(fx->err, "");
    return fx->rc;
}

#define ARGS(...) ((char *[]){__VA_ARGS__, NULL})
#define ENV(...) ((char *[]){__VA_ARGS__, NULL})
/* Parse that must succeed. */
#define OK(fx, ...) ok_(fx, NULL, ARGS(__VA_ARGS__))
#define OK_ENV(fx, env, ...) ok_(fx, env, ARGS(__VA_ARGS__))
/* Parse that must fail with this exit code and message. */
#define FAIL(fx, code, msg, ...) fail_(fx, NULL, code, msg, ARGS(__VA_ARGS__))
#define FAIL_ENV(fx, env, code, msg, ...) fail_(fx, env, code, msg, ARGS(__VA_ARGS__))

static void ok_(struct fx *fx, char **env, char **args)
{
    if (run(fx, env, args) != OPT_OK)
        fail_msg("unexpected error %d: %s", fx->rc, fx->err);
}

static void fail_(struct fx *fx, char **env, int code, const char *msg, char **args)
{
    run(fx, env, args);
    assert_string_equal(fx->err, msg);
    assert_int_equal(fx->rc, code);
}

static void assert_list(const opt_list *l, int n, ...)
{
    va_list ap;
    assert_int_equal(l->n, n);
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(l->v[i], va_arg(ap, const char *));
    va_end(ap);
}

/* Every field as text, to compare whole results. */
static char *dump(const struct options *o)
{
    sbuf b = SBUF_INIT;
    const opt_list *lists[] = {&o->user_classes, &o->tags, &o->exclude_tags};
#define S(x) (x ? x : "(null)")
    sbuf_printf(&b, "f=%s config=%s H=%s u=%d r=%g t=%d l=%d wh=%s P=%d headless=%d "
                "autostart=%d autoquit=%d auth=%s cert=%s key=%s picker=%d root=%s ",
                S(o->locustfile), S(o->config), S(o->host), o->num_users, o->spawn_rate,
                o->run_time, o->list_commands, S(o->web_host), o->web_port, o->headless,
                o->autostart, o->autoquit, S(o->web_auth), S(o->tls_cert), S(o->tls_key),
                o->class_picker, S(o->web_root));
    sbuf_printf(&b, "master=%d mbh=%s mbp=%d ew=%d ewmw=%d rebal=%d worker=%d mh=%s mp=%d "
                "proc=%d csv=%s hist=%d ps=%d os=%d rs=%d html=%s json=%d mn=%d ",
                o->master, S(o->master_bind_host), o->master_bind_port, o->expect_workers,
                o->expect_workers_max_wait, o->enable_rebalancing, o->worker, S(o->master_host),
                o->master_port, o->processes, S(o->csv_prefix), o->stats_history_enabled,
                o->print_stats, o->only_summary, o->reset_stats, S(o->html_file), o->json,
                o->max_names);
    sbuf_printf(&b, "skip=%d L=%d logfile=%s str=%d strj=%d V=%d h=%d ecoe=%d s=%g eq=%d "
                "demo=%s set=%d%d%d%d%d%d",
                o->skip_log_setup, o->loglevel, S(o->logfile), o->show_task_ratio,
                o->show_task_ratio_json, o->version, o->help, o->exit_code_on_error,
                o->stop_timeout, o->equal_weights, S(o->demo_target), o->set_num_users,
                o->set_spawn_rate, o->set_run_time, o->set_host, o->set_stop_timeout,
                o->set_expect_workers);
#undef S
    for (size_t i = 0; i < 3; i++) {
        sbuf_puts(&b, " [");
        for (int k = 0; k < lists[i]->n; k++)
            sbuf_printf(&b, "%s%s", k ? "|" : "", lists[i]->v[k]);
        sbuf_puts(&b, "]");
    }
    return sbuf_take(&b);
}

/* Parses args and returns dump() of the result; the parse must succeed. */
static char *dump_of(struct fx *fx, char **env, char **args)
{
    ok_(fx, env, args);
    return dump(&fx->o);
}

static void assert_same(struct fx *fx, char **env_a, char **args_a, char **env_b, char **args_b)
{
    char *a = dump_of(fx, env_a, args_a);
    char *b = dump_of(fx, env_b, args_b);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* An option taking a value gives the same result in every spelling: "-u 5", "-u5", "-u=5",
 * "--users 5", "--users=5". Leaves fx->o holding the result. */
static void value_forms(struct fx *fx, char shrt, const char *lng, const char *val)
{
    char s[8], s_glued[128], s_eq[128], l[64], l_eq[128];
    snprintf(s, sizeof s, "-%c", shrt);
    snprintf(s_glued, sizeof s_glued, "-%c%s", shrt, val);
    snprintf(s_eq, sizeof s_eq, "-%c=%s", shrt, val);
    snprintf(l, sizeof l, "--%s", lng);
    snprintf(l_eq, sizeof l_eq, "--%s=%s", lng, val);
    char *want = dump_of(fx, NULL, ARGS(l, (char *)val));
    char *forms[][2] = {{l_eq, NULL}, {s, (char *)val}, {s_glued, NULL}, {s_eq, NULL}};
    for (size_t i = 0; i < (shrt ? 4 : 1); i++) {
        char *got = dump_of(fx, NULL, forms[i][1] ? ARGS(forms[i][0], forms[i][1])
                                                  : ARGS(forms[i][0]));
        assert_string_equal(got, want);
        free(got);
    }
    free(want);
    assert_string_equal(fx->notices, "");
    OK(fx, l, (char *)val);
}

/* A flag gives the same result as "-x" and "--long". */
static void flag_forms(struct fx *fx, char shrt, const char *lng)
{
    char s[8], l[64];
    snprintf(s, sizeof s, "-%c", shrt);
    snprintf(l, sizeof l, "--%s", lng);
    if (shrt)
        assert_same(fx, NULL, ARGS(s), NULL, ARGS(l));
    OK(fx, l);
    assert_string_equal(fx->notices, "");
}

/* ---- defaults and plain flags ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    struct fx *fx = *state;
    OK(fx, NULL);
    const struct options *o = &fx->o;
    assert_string_equal(o->locustfile, "locustfile.json");
    assert_null(o->config);
    assert_null(o->host);
    assert_int_equal(o->num_users, 1);
    assert_true(o->spawn_rate == 1.0);
    assert_int_equal(o->run_time, 0);
    assert_false(o->list_commands);
    assert_int_equal(o->user_classes.n, 0);
    assert_string_equal(o->web_host, "");
    assert_int_equal(o->web_port, 8089);
    assert_false(o->headless || o->autostart || o->class_picker);
    assert_int_equal(o->autoquit, -1);
    assert_null(o->web_auth);
    assert_null(o->tls_cert);
    assert_null(o->tls_key);
    assert_null(o->web_root);
    assert_false(o->master || o->worker || o->enable_rebalancing);
    assert_string_equal(o->master_bind_host, "*");
    assert_int_equal(o->master_bind_port, 5557);
    assert_int_equal(o->expect_workers, 1);
    assert_int_equal(o->expect_workers_max_wait, 0);
    assert_string_equal(o->master_host, "127.0.0.1");
    assert_int_equal(o->master_port, 5557);
    assert_int_equal(o->processes, 0);
    assert_int_equal(o->tags.n, 0);
    assert_int_equal(o->exclude_tags.n, 0);
    assert_null(o->csv_prefix);
    assert_false(o->stats_history_enabled || o->print_stats || o->only_summary);
    assert_false(o->reset_stats || o->json);
    assert_null(o->html_file);
    assert_int_equal(o->max_names, 10000);
    assert_false(o->skip_log_setup);
    assert_int_equal(o->loglevel, LOG_INFO);
    assert_null(o->logfile);
    assert_false(o->show_task_ratio || o->show_task_ratio_json || o->version || o->help);
    assert_int_equal(o->exit_code_on_error, 1);
    assert_true(o->stop_timeout == 0);
    assert_false(o->equal_weights);
    assert_null(o->demo_target);
    assert_false(o->set_num_users || o->set_spawn_rate || o->set_run_time || o->set_host);
    assert_false(o->set_stop_timeout || o->set_expect_workers);
    assert_string_equal(fx->notices, "");
}

static void test_common_options(void **state)
{
    struct fx *fx = *state;
    value_forms(fx, 'f', "locustfile", "a.json");
    assert_string_equal(fx->o.locustfile, "a.json");
    value_forms(fx, 'H', "host", "http://10.21.32.33");
    assert_string_equal(fx->o.host, "http://10.21.32.33");
    assert_true(fx->o.set_host);
    value_forms(fx, 'u', "users", "50");
    assert_int_equal(fx->o.num_users, 50);
    assert_true(fx->o.set_num_users);
    value_forms(fx, 'r', "spawn-rate", "2.5");
    assert_true(fx->o.spawn_rate == 2.5);
    assert_true(fx->o.set_spawn_rate);
    value_forms(fx, 't', "run-time", "1h30m");
    assert_int_equal(fx->o.run_time, 5400);
    assert_true(fx->o.set_run_time);
    flag_forms(fx, 'l', "list");
    assert_true(fx->o.list_commands);
    value_forms(fx, 0, "processes", "4");
    assert_int_equal(fx->o.processes, 4);
    OK(fx, "--processes", "-1");
    assert_int_equal(fx->o.processes, -1);
    OK(fx, "--processes", "-1", "--worker");
    assert_true(fx->o.worker);
}

static void test_short_clusters(void **state)
{
    struct fx *fx = *state;
    OK(fx, "-lu5");
    assert_true(fx->o.list_commands);
    assert_int_equal(fx->o.num_users, 5);
    OK(fx, "-lTa,b");
    assert_list(&fx->o.tags, 2, "a", "b");
    FAIL(fx, 2, "argument -l/--list: ignored explicit argument 'z'", "-lz");
    FAIL(fx, 2, "argument --headless: ignored explicit argument 'true'", "--headless=true");
}

static void test_web_options(void **state)
{
    struct fx *fx = *state;
    value_forms(fx, 0, "web-host", "127.0.0.1");
    assert_string_equal(fx->o.web_host, "127.0.0.1");
    OK(fx, "--web-host", "*");
    assert_string_equal(fx->o.web_host, "");
    value_forms(fx, 'P', "web-port", "9000");
    assert_int_equal(fx->o.web_port, 9000);
    flag_forms(fx, 0, "headless");
    assert_true(fx->o.headless);
    flag_forms(fx, 0, "autostart");
    assert_true(fx->o.autostart);
    OK(fx, "--autostart", "--autoquit", "10");
    assert_int_equal(fx->o.autoquit, 10);
    OK(fx, "--autostart", "--autoquit=0");
    assert_int_equal(fx->o.autoquit, 0);
    OK(fx, "--autoquit", "-1");
    assert_int_equal(fx->o.autoquit, -1);
    flag_forms(fx, 0, "headful");
    assert_false(fx->o.headless);
    value_forms(fx, 0, "web-auth", "admin:secret");
    assert_string_equal(fx->o.web_auth, "admin:secret");
    OK(fx, "--tls-cert", "c.pem", "--tls-key=k.pem");
    assert_string_equal(fx->o.tls_cert, "c.pem");
    assert_string_equal(fx->o.tls_key, "k.pem");
    flag_forms(fx, 0, "class-picker");
    assert_true(fx->o.class_picker);
}

static void test_master_worker_options(void **state)
{
    struct fx *fx = *state;
    flag_forms(fx, 0, "master");
    assert_true(fx->o.master);
    value_forms(fx, 0, "master-bind-host", "10.0.0.1");
    assert_string_equal(fx->o.master_bind_host, "10.0.0.1");
    value_forms(fx, 0, "master-bind-port", "6000");
    assert_int_equal(fx->o.master_bind_port, 6000);
    value_forms(fx, 0, "expect-workers", "3");
    assert_int_equal(fx->o.expect_workers, 3);
    assert_true(fx->o.set_expect_workers);
    OK(fx, "--expect-workers", "2", "--expect-workers-max-wait", "30");
    assert_int_equal(fx->o.expect_workers_max_wait, 30);
    OK(fx, "--expect-workers=2", "--expect-workers-max-wait=31");
    assert_int_equal(fx->o.expect_workers_max_wait, 31);
    flag_forms(fx, 0, "enable-rebalancing");
    assert_true(fx->o.enable_rebalancing);
    flag_forms(fx, 0, "worker");
    assert_true(fx->o.worker);
    value_forms(fx, 0, "master-host", "master.local");
    assert_string_equal(fx->o.master_host, "master.local");
    value_forms(fx, 0, "master-port", "6001");
    assert_int_equal(fx->o.master_port, 6001);
    OK(fx, "--worker");
    assert_false(fx->o.reconnect);
    flag_forms(fx, 0, "reconnect");
    assert_true(fx->o.reconnect);
    OK_ENV(fx, ENV("CICADA_RECONNECT=true"), "--worker");
    assert_true(fx->o.reconnect);
    write_file(fx->cwd_conf, "reconnect = true\n");
    OK(fx, "--worker");
    assert_true(fx->o.reconnect);
    write_file(fx->cwd_conf, "");
}

static void test_tags(void **state)
{
    struct fx *fx = *state;
    OK(fx, "-T", "a", "b", "-u", "2");
    assert_list(&fx->o.tags, 2, "a", "b");
    assert_int_equal(fx->o.num_users, 2);
    OK(fx, "--tags", "a,b", "c");
    assert_list(&fx->o.tags, 3, "a", "b", "c");
    OK(fx, "--tags=a,b", "Cls");
    assert_list(&fx->o.tags, 2, "a", "b");
    assert_list(&fx->o.user_classes, 1, "Cls");
    OK(fx, "-Tx", "Cls");
    assert_list(&fx->o.tags, 1, "x");
    assert_list(&fx->o.user_classes, 1, "Cls");
    OK(fx, "-T=y");
    assert_list(&fx->o.tags, 1, "y");
    /* nargs='*': the list goes on until the next option or "--" */
    OK(fx, "-T", "a", "--", "Cls");
    assert_list(&fx->o.tags, 1, "a");
    assert_list(&fx->o.user_classes, 1, "Cls");
    OK(fx, "-T");
    assert_int_equal(fx->o.tags.n, 0);
    OK(fx, "-T", "", "a");
    assert_list(&fx->o.tags, 1, "a");
    /* a repeated list option replaces, as argparse's store action */
    OK(fx, "-T", "a", "-T", "b");
    assert_list(&fx->o.tags, 1, "b");
    OK(fx, "-E", "slow", "flaky");
    assert_list(&fx->o.exclude_tags, 2, "slow", "flaky");
    OK(fx, "--exclude-tags=x,y");
    assert_list(&fx->o.exclude_tags, 2, "x", "y");
    OK(fx, "-Ez");
    assert_list(&fx->o.exclude_tags, 1, "z");
    FAIL(fx, 2, "argument -T/--tags: empty tag in 'a,,b'", "-T", "a,,b");
    FAIL(fx, 2, "argument -E/--exclude-tags: empty tag in 'a,'", "--exclude-tags=a,");
    FAIL(fx, 2, "argument -T/--tags: empty tag in ',a'", "-T", "x", ",a");
}

/* Regression (server/opt.c, cli_split; found by tests/fuzz/fuzz_opt): the last value of a
 * comma-separated argument stepped the pointer past NULL, undefined behaviour that clang's
 * UBSan reports (this build's may not): a single value, the last after a comma. */
static void test_tags_last_value(void **state)
{
    struct fx *fx = *state;
    OK(fx, "-T", "solo");
    assert_list(&fx->o.tags, 1, "solo");
    OK(fx, "-E", "a,b,last");
    assert_list(&fx->o.exclude_tags, 3, "a", "b", "last");
}

static void test_stats_options(void **state)
{
    struct fx *fx = *state;
    value_forms(fx, 0, "csv", "out/run");
    assert_string_equal(fx->o.csv_prefix, "out/run");
    OK(fx, "--csv", "p", "--csv-full-history");
    assert_true(fx->o.stats_history_enabled);
    flag_forms(fx, 0, "print-stats");
    assert_true(fx->o.print_stats);
    flag_forms(fx, 0, "only-summary");
    assert_true(fx->o.only_summary);
    flag_forms(fx, 0, "reset-stats");
    assert_true(fx->o.reset_stats);
    value_forms(fx, 0, "html", "report.html");
    assert_string_equal(fx->o.html_file, "report.html");
    flag_forms(fx, 0, "json");
    assert_true(fx->o.json);
    OK(fx, "--csv", "");
    assert_null(fx->o.csv_prefix);
}

static void test_logging_options(void **state)
{
    struct fx *fx = *state;
    flag_forms(fx, 0, "skip-log-setup");
    assert_true(fx->o.skip_log_setup);
    value_forms(fx, 'L', "loglevel", "DEBUG");
    assert_int_equal(fx->o.loglevel, LOG_DEBUG);
    OK(fx, "-L", "warning");
    assert_int_equal(fx->o.loglevel, LOG_WARNING);
    OK(fx, "--loglevel=Error");
    assert_int_equal(fx->o.loglevel, LOG_ERROR);
    OK(fx, "-LCRITICAL");
    assert_int_equal(fx->o.loglevel, LOG_CRITICAL);
    value_forms(fx, 0, "logfile", "run.log");
    assert_string_equal(fx->o.logfile, "run.log");
}

static void test_other_options(void **state)
{
    struct fx *fx = *state;
    flag_forms(fx, 0, "show-task-ratio");
    assert_true(fx->o.show_task_ratio);
    flag_forms(fx, 0, "show-task-ratio-json");
    assert_true(fx->o.show_task_ratio_json);
    value_forms(fx, 0, "exit-code-on-error", "0");
    assert_int_equal(fx->o.exit_code_on_error, 0);
    value_forms(fx, 's', "stop-timeout", "2.5");
    assert_true(fx->o.stop_timeout == 2.5);
    assert_true(fx->o.set_stop_timeout);
    OK(fx, "-s", "1m");
    assert_true(fx->o.stop_timeout == 60);
    OK(fx, "--stop-timeout=10");
    assert_true(fx->o.stop_timeout == 10);
    flag_forms(fx, 0, "equal-weights");
    assert_true(fx->o.equal_weights);
}

static void test_cicada_options(void **state)
{
    struct fx *fx = *state;
    value_forms(fx, 0, "max-names", "500");
    assert_int_equal(fx->o.max_names, 500);
    value_forms(fx, 0, "web-root", "web");
    assert_string_equal(fx->o.web_root, "web");
    value_forms(fx, 0, "demo-target", "8080");
    assert_string_equal(fx->o.demo_target, "8080");
    OK(fx, "--demo-target", "127.0.0.1:8080");
    assert_string_equal(fx->o.demo_target, "127.0.0.1:8080");
    OK(fx, "--demo-target=localhost:1");
    assert_string_equal(fx->o.demo_target, "localhost:1");
    OK(fx, "--demo-target", "[::1]:65535");
    assert_string_equal(fx->o.demo_target, "[::1]:65535");
    OK(fx, "--demo-target", "127.0.0.1:0"); /* a free port, logged at start */
    assert_string_equal(fx->o.demo_target, "127.0.0.1:0");
}

static void test_help_and_version_stop_parsing(void **state)
{
    struct fx *fx = *state;
    write_file(fx->cwd_conf, "bogus-key = 1\n");
    OK(fx, "-h");
    assert_true(fx->o.help);
    OK(fx, "--help", "-u", "--bogus");
    assert_true(fx->o.help);
    assert_int_equal(fx->o.num_users, 1);
    OK(fx, "--bogus", "-V");
    assert_true(fx->o.version);
    assert_false(fx->o.help);
    OK(fx, "--version");
    assert_true(fx->o.version);
    OK(fx, "-lh");
    assert_true(fx->o.help);
    FAIL(fx, 2, "argument -h/--help: ignored explicit argument 'x'", "--help=x");
    FAIL(fx, 2, "argument -u/--users: expected one argument", "-u", "-h");
}

static void test_positional_user_classes(void **state)
{
    struct fx *fx = *state;
    OK(fx, "WebUser", "-u", "3", "ApiUser");
    assert_list(&fx->o.user_classes, 2, "WebUser", "ApiUser");
    OK(fx, "--", "-u", "--x");
    assert_list(&fx->o.user_classes, 2, "-u", "--x");
    assert_int_equal(fx->o.num_users, 1);
    OK(fx, "-", "-5");
    assert_list(&fx->o.user_classes, 2, "-", "-5");
}

/* ---- command-line errors ----------------------------------------------------------------- */

static void test_unknown_flags(void **state)
{
    struct fx *fx = *state;
    FAIL(fx, 2, "unrecognized arguments: --bogus", "--bogus");
    FAIL(fx, 2, "unrecognized arguments: --user", "--user", "5");
    FAIL(fx, 2, "unrecognized arguments: --spawn", "--spawn", "2");
    FAIL(fx, 2, "unrecognized arguments: --head", "--head");
    FAIL(fx, 2, "unrecognized arguments: -x --bogus=1 -9x", "-x", "--bogus=1", "-u", "4", "-9x");
    FAIL(fx, 2, "unrecognized arguments: ---users", "---users", "4");
    /* hidden help-less names are still exact-match only */
    FAIL(fx, 2, "unrecognized arguments: --hatch", "--hatch", "1");
}

static void test_missing_values(void **state)
{
    struct fx *fx = *state;
    FAIL(fx, 2, "argument -u/--users: expected one argument", "-u");
    FAIL(fx, 2, "argument -u/--users: expected one argument", "--users");
    FAIL(fx, 2, "argument -H/--host: expected one argument", "-H", "-u", "5");
    FAIL(fx, 2, "argument -t/--run-time: expected one argument", "-t", "--");
    FAIL(fx, 2, "argument --web-port/-P: expected one argument", "-P");
    FAIL(fx, 2, "argument --loglevel/-L: expected one argument", "--loglevel");
    FAIL(fx, 2, "argument --config: expected one argument", "--config");
    FAIL(fx, 2, "argument -c/--clients: expected one argument", "-c");
}

static void test_bad_values(void **state)
{
    struct fx *fx = *state;
    FAIL(fx, 2, "argument -u/--users: invalid int value: 'abc'", "-u", "abc");
    FAIL(fx, 2, "argument -u/--users: invalid int value: '5x'", "-u5x");
    FAIL(fx, 2, "argument -u/--users: invalid int value: ''", "--users=");
    FAIL(fx, 2, "argument -u/--users: invalid int value: '2147483648'", "-u", "2147483648");
    FAIL(fx, 2, "argument -u/--users: invalid int value: '99999999999999999999'", "-u",
         "99999999999999999999");
    FAIL(fx, 2, "argument --autoquit: invalid value: '-2147483648' (must be >= -1)",
         "--autoquit", "-2147483648");
    FAIL(fx, 2, "argument --autoquit: invalid int value: '-2147483649'", "--autoquit",
         "-2147483649");
    FAIL(fx, 2, "argument -u/--users: invalid int value: '1.5'", "-u", "1.5");
    FAIL(fx, 2, "argument -u/--users: invalid value: '-1' (must be >= 0)", "-u", "-1");
    OK(fx, "-u", "0");
    assert_int_equal(fx->o.num_users, 0);
    OK(fx, "-u", "+7");
    assert_int_equal(fx->o.num_users, 7);
    FAIL(fx, 2, "argument -r/--spawn-rate: invalid float value: 'fast'", "-r", "fast");
    FAIL(fx, 2, "argument -r/--spawn-rate: invalid float value: 'inf'", "-r", "inf");
    FAIL(fx, 2, "argument -r/--spawn-rate: invalid float value: 'nan'", "-r", "nan");
    FAIL(fx, 2, "argument -r/--spawn-rate: invalid float value: '1e999'", "-r", "1e999");
    FAIL(fx, 2, "argument -r/--spawn-rate: invalid value: '0' (must be > 0)", "-r", "0");
    FAIL(fx, 2, "argument -r/--spawn-rate: invalid value: '-2' (must be > 0)", "-r", "-2");
    OK(fx, "-r", "1e1");
    assert_true(fx->o.spawn_rate == 10);
    OK(fx, "-r", ".5");
    assert_true(fx->o.spawn_rate == 0.5);
    FAIL(fx, 2, "argument --web-port/-P: invalid value: '0' (must be 1..65535)", "-P", "0");
    FAIL(fx, 2, "argument --web-port/-P: invalid value: '65536' (must be 1..65535)", "-P65536");
    OK(fx, "-P", "65535");
    OK(fx, "-P", "1");
    FAIL(fx, 2, "argument --master-bind-port: invalid value: '0' (must be 1..65535)",
         "--master-bind-port", "0");
    FAIL(fx, 2, "argument --master-port: invalid value: '70000' (must be 1..65535)",
         "--master-port=70000");
    FAIL(fx, 2, "argument --expect-workers: invalid value: '0' (must be >= 1)",
         "--expect-workers", "0");
    FAIL(fx, 2, "argument --expect-workers-max-wait: invalid value: '-1' (must be >= 0)",
         "--expect-workers-max-wait", "-1");
    FAIL(fx, 2, "argument --processes: invalid value: '0' (must be -1 or >= 1)",
         "--processes", "0");
    FAIL(fx, 2, "argument --processes: invalid value: '-2' (must be -1 or >= 1)",
         "--processes", "-2");
    FAIL(fx, 2, "argument --processes: invalid int value: 'all'", "--processes", "all");
    FAIL(fx, 2, "argument --max-names: invalid value: '9' (must be >= 10)", "--max-names", "9");
    OK(fx, "--max-names", "10");
    FAIL(fx, 2, "argument --exit-code-on-error: invalid value: '256' (must be 0..255)",
         "--exit-code-on-error", "256");
    FAIL(fx, 2, "argument --exit-code-on-error: invalid value: '-1' (must be 0..255)",
         "--exit-code-on-error", "-1");
    FAIL(fx, 2, "argument --autoquit: invalid value: '-2' (must be >= -1)", "--autoquit", "-2");
    FAIL(fx, 2, "argument -s/--stop-timeout: invalid value: 'soon' (use seconds, e.g. 2.5, or "
         "a time span, e.g. 1m30s)", "-s", "soon");
    FAIL(fx, 2, "argument -s/--stop-timeout: invalid value: '-1' (use seconds, e.g. 2.5, or "
         "a time span, e.g. 1m30s)", "-s", "-1");
}

static void test_run_time_and_loglevel_messages(void **state)
{
    struct fx *fx = *state;
    const char *rt = "Valid --run-time formats are: 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.";
    FAIL(fx, 1, rt, "-t", "1m30");
    FAIL(fx, 1, rt, "--run-time=5s30m");
    FAIL(fx, 1, rt, "-t1d");
    FAIL(fx, 1, rt, "-t", "");
    FAIL(fx, 1, "argument -t/--run-time: too long: '600000000h' (at most 2147483647 seconds)",
         "-t", "600000000h");
    OK(fx, "-t", "2147483647");
    assert_int_equal(fx->o.run_time, INT_MAX);
    FAIL(fx, 1, "Invalid --loglevel. Valid values are: DEBUG/INFO/WARNING/ERROR/CRITICAL",
         "-L", "verbose");
    FAIL(fx, 1, "Invalid --loglevel. Valid values are: DEBUG/INFO/WARNING/ERROR/CRITICAL",
         "--loglevel=");
}

static void test_demo_target_values(void **state)
{
    struct fx *fx = *state;
    const char *bad[] = {":80", "host:", "65536", "x:99999", "abc", "+80", "host:-1", "h:8o"};
    char want[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(want, sizeof want,
                 "argument --demo-target: invalid value: '%s' (use PORT or HOST:PORT)", bad[i]);
        FAIL(fx, 2, want, "--demo-target", (char *)bad[i]);
    }
}

static void test_messages_stay_on_one_line(void **state)
{
    struct fx *fx = *state;
    FAIL(fx, 2, "argument -u/--users: invalid int value: '1\\n2'", "-u", "1\n2");
    FAIL(fx, 2, "argument -H/--host: expected one argument", "-H");
    FAIL(fx, 2, "unrecognized arguments: --a?b", "--a\nb");
    FAIL(fx, 2, "argument -r/--spawn-rate: invalid float value: 'a\\x01\\'b'", "-r", "a\x01'b");
}

static void test_small_error_buffer(void **state)
{
    (void)state;
    struct options o;
    char err[8];
    char *argv[] = {"cicada", "--bogus", NULL};
    assert_int_equal(opt_parse(&o, 2, argv, NULL, NULL, NULL, err, sizeof err), 2);
    assert_string_equal(err, "unrecog");
    opt_free(&o);
    assert_int_equal(opt_parse(&o, 2, argv, NULL, NULL, NULL, NULL, 0), 2);
    opt_free(&o);
    opt_free(&o);
    assert_int_equal(opt_parse(&o, 0, argv, NULL, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(err, "");
    opt_free(&o);
}

/* ---- deprecated and removed names ------------------------------------------------------ */

static void test_deprecated_aliases(void **state)
{
    struct fx *fx = *state;
    OK(fx, "-c", "7");
    assert_int_equal(fx->o.num_users, 7);
    assert_true(fx->o.set_num_users);
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The -c/--clients parameter has been renamed -u/--users\n");
    OK(fx, "-c8", "--clients=9");
    assert_int_equal(fx->o.num_users, 9);
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The -c/--clients parameter has been renamed -u/--users\n");
    OK(fx, "--hatch-rate", "3");
    assert_true(fx->o.spawn_rate == 3);
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The --hatch-rate parameter has been renamed --spawn-rate\n");
    OK(fx, "--no-web");
    assert_true(fx->o.headless);
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The --no-web parameter has been renamed --headless\n");
    OK(fx, "--slave");
    assert_true(fx->o.worker);
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The --slave parameter has been renamed --worker\n");
    OK(fx, "--expect-slaves", "4");
    assert_int_equal(fx->o.expect_workers, 4);
    assert_true(fx->o.set_expect_workers);
    assert_string_equal(fx->notices, "[DEPRECATED] The --expect-slaves parameter has been "
                                     "renamed --expect-workers\n");
    OK(fx, "--hatch-rate=2", "-c", "3", "--hatch-rate", "4");
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The --hatch-rate parameter has been renamed --spawn-rate\n"
                        "[DEPRECATED] The -c/--clients parameter has been renamed -u/--users\n");
    assert_true(fx->o.spawn_rate == 4);
    /* the new name given later wins, as for any repeated option */
    OK(fx, "--hatch-rate", "2", "-r", "5");
    assert_true(fx->o.spawn_rate == 5);
    FAIL(fx, 2, "argument --hatch-rate: invalid float value: 'x'", "--hatch-rate", "x");
    FAIL(fx, 2, "argument --no-web: ignored explicit argument '1'", "--no-web=1");
}

static void test_deprecated_in_config_and_env(void **state)
{
    struct fx *fx = *state;
    write_file(fx->cwd_conf, "clients = 6\nhatch-rate: 2\nno-web\nexpect-slaves 3\n");
    OK(fx, NULL);
    assert_int_equal(fx->o.num_users, 6);
    assert_true(fx->o.spawn_rate == 2);
    assert_true(fx->o.headless);
    assert_int_equal(fx->o.expect_workers, 3);
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The -c/--clients parameter has been renamed -u/--users\n"
                        "[DEPRECATED] The --hatch-rate parameter has been renamed --spawn-rate\n"
                        "[DEPRECATED] The --no-web parameter has been renamed --headless\n"
                        "[DEPRECATED] The --expect-slaves parameter has been renamed "
                        "--expect-workers\n");
    write_file(fx->cwd_conf, "slave = true\n");
    OK(fx, NULL);
    assert_true(fx->o.worker);
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The --slave parameter has been renamed --worker\n");
    unlink(fx->cwd_conf);
    OK_ENV(fx, ENV("LOCUST_HATCH_RATE=7"), NULL);
    assert_true(fx->o.spawn_rate == 7);
    assert_string_equal(fx->notices,
                        "[DEPRECATED] The --hatch-rate parameter has been renamed --spawn-rate\n");
    /* both set: the current name wins whatever the order in the environment */
    OK_ENV(fx, ENV("LOCUST_SPAWN_RATE=3", "LOCUST_HATCH_RATE=7"), NULL);
    assert_true(fx->o.spawn_rate == 3);
    OK_ENV(fx, ENV("LOCUST_HATCH_RATE=7", "LOCUST_SPAWN_RATE=3"), NULL);
    assert_true(fx->o.spawn_rate == 3);
    /* the command line still beats the deprecated variable */
    OK_ENV(fx, ENV("LOCUST_HATCH_RATE=7"), "-r", "1.5");
    assert_true(fx->o.spawn_rate == 1.5);
    FAIL_ENV(fx, ENV("LOCUST_HATCH_RATE=x"), 2, "LOCUST_HATCH_RATE: invalid float value: 'x'",
             NULL);
}

static void test_step_load_removed(void **state)
{
    struct fx *fx = *state;
    const char *msg = "The step load feature was removed in Locust 1.3. You can achieve similar "
                      "results using a LoadTestShape class. See "
                      "https://docs.locust.io/en/stable/custom-load-shape.html";
    FAIL(fx, 1, msg, "--step-load");
    FAIL(fx, 1, msg, "--step-users", "5");
    FAIL(fx, 1, msg, "--step-clients");
    FAIL(fx, 1, msg, "--step-time", "1m");
    FAIL(fx, 1, msg, "--step-time=1m", "--headless");
    /* argparse reports unknown arguments first */
    FAIL(fx, 2, "unrecognized arguments: --bogus", "--step-load", "--bogus");
    char want[512];
    write_file(fx->extra, "users = 2\n  step-load = true\n");
    snprintf(want, sizeof want, "%s:2:3: %s", fx->extra, msg);
    FAIL(fx, 1, want, "--config", fx->extra);
    write_file(fx->extra, "step-time 5m\n");
    snprintf(want, sizeof want, "%s:1:1: %s", fx->extra, msg);
    FAIL(fx, 1, want, "--config", fx->extra);
}

/* ---- config files ---------------------------------------------------------------------- */

static void test_config_syntax(void **state)
{
    struct fx *fx = *state;
    write_file(fx->extra,
               "# a comment\n"
               "; another comment\n"
               "\n"
               "   \t\n"
               "[locust]\n"
               "---\n"
               "users = 10\n"
               "spawn-rate: 2.5\n"
               "run-time 1h30m\n"
               "host=http://example.com:8080/x\n"
               "  locustfile   =   my.json   # trailing comment\n"
               "csv = out ; semicolon comment\n"
               "web-auth = a:b#c\n"
               "headless\n"
               "print-stats # bare key with a comment\n"
               "html = \"report file.html\"\n"
               "logfile = 'run.log'\n"
               "tags = [a, b]\n"
               "exclude-tags = [\"x\", 'y' ,z]\n"
               "loglevel = debug\r\n"
               "max-names = 20");
    OK(fx, "--config", fx->extra);
    const struct options *o = &fx->o;
    assert_string_equal(o->config, fx->extra);
    assert_int_equal(o->num_users, 10);
    assert_true(o->set_num_users);
    assert_true(o->spawn_rate == 2.5);
    assert_int_equal(o->run_time, 5400);
    assert_string_equal(o->host, "http://example.com:8080/x");
    assert_string_equal(o->locustfile, "my.json");
    assert_string_equal(o->csv_prefix, "out");
    assert_string_equal(o->web_auth, "a:b#c");
    assert_true(o->headless);
    assert_true(o->print_stats);
    assert_string_equal(o->html_file, "report file.html");
    assert_string_equal(o->logfile, "run.log");
    assert_list(&o->tags, 2, "a", "b");
    assert_list(&o->exclude_tags, 3, "x", "y", "z");
    assert_int_equal(o->loglevel, LOG_DEBUG);
    assert_int_equal(o->max_names, 20);
    assert_string_equal(fx->notices, "");
}

static void test_config_booleans(void **state)
{
    struct fx *fx = *state;
    const char *yes[] = {"true", "TRUE", "True", "yes", "YES", "1"};
    const char *no[] = {"false", "FALSE", "no", "No", "0"};
    char text[64];
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        snprintf(text, sizeof text, "headless = %s\n", yes[i]);
        write_file(fx->extra, text);
        OK(fx, "--config", fx->extra);
        assert_true(fx->o.headless);
    }
    write_file(fx->cwd_conf, "headless = true\n");
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        snprintf(text, sizeof text, "headless = %s\n", no[i]);
        write_file(fx->extra, text);
        OK(fx, "--config", fx->extra);
        assert_false(fx->o.headless);
    }
}

static void test_config_lists(void **state)
{
    struct fx *fx = *state;
    write_file(fx->extra, "tags = []\n");
    OK(fx, "--config", fx->extra);
    assert_int_equal(fx->o.tags.n, 0);
    write_file(fx->extra, "tags = [ ]\n");
    OK(fx, "--config", fx->extra);
    assert_int_equal(fx->o.tags.n, 0);
    write_file(fx->extra, "tags = single\n");
    OK(fx, "--config", fx->extra);
    assert_list(&fx->o.tags, 1, "single");
    write_file(fx->extra, "tags = a, b\n");
    OK(fx, "--config", fx->extra);
    assert_list(&fx->o.tags, 1, "a, b");
    write_file(fx->extra, "tags = [only]\n");
    OK(fx, "--config", fx->extra);
    assert_list(&fx->o.tags, 1, "only");
    char want[256];
    write_file(fx->extra, "tags = [a, , b]\n");
    snprintf(want, sizeof want, "%s:1:12: tags: empty element in list '[a, , b]'", fx->extra);
    FAIL(fx, 2, want, "--config", fx->extra);
    write_file(fx->extra, "exclude-tags = [a,]\n");
    snprintf(want, sizeof want, "%s:1:19: exclude-tags: empty element in list '[a,]'",
             fx->extra);
    FAIL(fx, 2, want, "--config", fx->extra);
}

static void test_config_empty_value_resets(void **state)
{
    struct fx *fx = *state;
    write_file(fx->home_conf, "host = http://a\nusers = 5\ntags = [a]\nheadless = true\n"
                              "web-host = 10.0.0.1\nrun-time = 1m\n");
    write_file(fx->cwd_conf, "host =\nusers:\ntags =\nheadless =\nweb-host =\nrun-time = \n");
    OK(fx, NULL);
    assert_null(fx->o.host);
    assert_false(fx->o.set_host);
    assert_int_equal(fx->o.num_users, 1);
    assert_false(fx->o.set_num_users);
    assert_int_equal(fx->o.tags.n, 0);
    assert_false(fx->o.headless);
    assert_string_equal(fx->o.web_host, "");
    assert_int_equal(fx->o.run_time, 0);
    assert_false(fx->o.set_run_time);
    write_file(fx->cwd_conf, "processes = 2\n");
    write_file(fx->extra, "processes =\n");
    OK(fx, "--config", fx->extra);
    assert_int_equal(fx->o.processes, 0);
}

static void test_config_errors(void **state)
{
    struct fx *fx = *state;
    char want[512];
    struct { const char *text, *msg; int code; } cases[] = {
        {"users = 1\nbogus-key = 1\n", "2:1: unknown key 'bogus-key'", 2},
        {"\n\n    user = 4\n", "3:5: unknown key 'user'", 2},
        {"users = abc\n", "1:9: users: invalid int value: 'abc'", 2},
        {"users    :   -3\n", "1:14: users: invalid value: '-3' (must be >= 0)", 2},
        {"headless = maybe\n", "1:12: headless: invalid boolean value: 'maybe' (use true or "
                               "false)", 2},
        {"= 5\n", "1:1: expected 'key = value'", 2},
        {"  : x\n", "1:3: expected 'key = value'", 2},
        {"headless#x\n", "1:9: expected '=', ':' or a space after the key", 2},
        {"users;3\n", "1:6: expected '=', ':' or a space after the key", 2},
        {"users\n", "1:1: users: expected one argument", 2},
        {"  run-time # none\n", "1:3: run-time: expected one argument", 2},
        {"config = other.conf\n", "1:1: 'config' can only be given on the command line", 2},
        {"help = true\n", "1:1: 'help' can only be given on the command line", 2},
        {"version\n", "1:1: 'version' can only be given on the command line", 2},
        {"run-time = 1m30\n", "1:12: Valid --run-time formats are: 20, 20s, 3m, 2h, 1h20m, "
                              "3h30m10s, etc.", 1},
        {"loglevel = loud\n", "1:12: Invalid --loglevel. Valid values are: DEBUG/INFO/WARNING/"
                              "ERROR/CRITICAL", 1},
        {"web-port = 0\n", "1:12: web-port: invalid value: '0' (must be 1..65535)", 2},
        {"spawn-rate = 0\n", "1:14: spawn-rate: invalid value: '0' (must be > 0)", 2},
        {"demo-target = x\n", "1:15: demo-target: invalid value: 'x' (use PORT or HOST:PORT)", 2},
        {"users = 1\nhost = a\n\x01\n", "3:1: unknown key '\\x01'", 2},
        {"users = 2\nusers = 3\n-u = 4\n", "3:1: unknown key '-u'", 2},
        {"--users = 4\n", "1:1: unknown key '--users'", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(fx->extra, cases[i].text);
        snprintf(want, sizeof want, "%s:%s", fx->extra, cases[i].msg);
        FAIL(fx, cases[i].code, want, "--config", fx->extra);
    }
    /* a NUL byte is reported, not silently cut */
    FILE *f = fopen(fx->extra, "wb");
    fwrite("users = 1\nho\0st = x\n", 1, 20, f);
    fclose(f);
    snprintf(want, sizeof want, "%s:2:3: unexpected NUL byte", fx->extra);
    FAIL(fx, 2, want, "--config", fx->extra);
    /* the default files report errors the same way */
    write_file(fx->home_conf, "users = many\n");
    snprintf(want, sizeof want, "%s:1:9: users: invalid int value: 'many'", fx->home_conf);
    FAIL(fx, 2, want, NULL);
    unlink(fx->home_conf);
    write_file(fx->cwd_conf, "\n\nnope\n");
    snprintf(want, sizeof want, "%s:3:1: unknown key 'nope'", fx->cwd_conf);
    FAIL(fx, 2, want, NULL);
}

static void test_config_files_missing(void **state)
{
    struct fx *fx = *state;
    char want[512];
    OK(fx, NULL); /* neither ~/.locust.conf nor ./locust.conf exist */
    snprintf(want, sizeof want, "argument --config: can't open '%s': No such file or directory",
             fx->extra);
    FAIL(fx, 2, want, "--config", fx->extra);
    snprintf(want, sizeof want, "argument --config: can't open '%s': Is a directory", fx->home);
    FAIL(fx, 2, want, "--config", fx->home);
    FAIL(fx, 2, "argument --config: can't open '': No such file or directory", "--config=");
    /* a directory where ./locust.conf would be is not a config file: skipped */
    assert_int_equal(mkdir(fx->cwd_conf, 0700), 0);
    OK(fx, NULL);
    rmdir(fx->cwd_conf);
    /* the last --config wins */
    write_file(fx->extra, "users = 4\n");
    OK(fx, "--config", "/nonexistent/x.conf", "--config", fx->extra);
    assert_int_equal(fx->o.num_users, 4);
    assert_string_equal(fx->o.config, fx->extra);
    /* without home or ./locust.conf paths nothing is read */
    write_file(fx->cwd_conf, "users = 9\n");
    struct options o;
    char err[128];
    char *argv[] = {"cicada", NULL};
    assert_int_equal(opt_parse(&o, 1, argv, NULL, NULL, NULL, err, sizeof err), OPT_OK);
    assert_int_equal(o.num_users, 1);
    opt_free(&o);
}

/* ---- environment ----------------------------------------------------------------------- */

/* Each variable gives the same result as the equivalent command line. */
static void test_env_matches_cli(void **state)
{
    struct fx *fx = *state;
    struct { char *env[3]; char *args[5]; } cases[] = {
        {{"LOCUST_LOCUSTFILE=x.json"}, {"-f", "x.json"}},
        {{"LOCUST_HOST=http://h"}, {"-H", "http://h"}},
        {{"LOCUST_USERS=12"}, {"-u", "12"}},
        {{"LOCUST_SPAWN_RATE=0.5"}, {"-r", "0.5"}},
        {{"LOCUST_RUN_TIME=3h30m10s"}, {"-t", "3h30m10s"}},
        {{"LOCUST_WEB_HOST=*"}, {"--web-host", "*"}},
        {{"LOCUST_WEB_HOST=::1"}, {"--web-host", "::1"}},
        {{"LOCUST_WEB_PORT=8090"}, {"-P", "8090"}},
        {{"LOCUST_HEADLESS=true"}, {"--headless"}},
        {{"LOCUST_AUTOSTART=true", "LOCUST_AUTOQUIT=5"}, {"--autostart", "--autoquit", "5"}},
        {{"LOCUST_HEADFUL=true"}, {"--headful"}},
        {{"LOCUST_WEB_AUTH=u:p"}, {"--web-auth", "u:p"}},
        {{"LOCUST_TLS_CERT=c", "LOCUST_TLS_KEY=k"}, {"--tls-cert", "c", "--tls-key", "k"}},
        {{"LOCUST_USERCLASS_PICKER=true"}, {"--class-picker"}},
        {{"LOCUST_MODE_MASTER=true"}, {"--master"}},
        {{"LOCUST_MASTER_BIND_HOST=0.0.0.0"}, {"--master-bind-host", "0.0.0.0"}},
        {{"LOCUST_MASTER_BIND_PORT=5000"}, {"--master-bind-port", "5000"}},
        {{"LOCUST_EXPECT_WORKERS=4"}, {"--expect-workers", "4"}},
        {{"LOCUST_EXPECT_WORKERS=2", "LOCUST_EXPECT_WORKERS_MAX_WAIT=9"},
         {"--expect-workers", "2", "--expect-workers-max-wait", "9"}},
        {{"LOCUST_MODE_WORKER=yes"}, {"--worker"}},
        {{"LOCUST_MASTER_NODE_HOST=m"}, {"--master-host", "m"}},
        {{"LOCUST_MASTER_NODE_PORT=5001"}, {"--master-port", "5001"}},
        {{"LOCUST_TAGS=[a, b]"}, {"-T", "a", "b"}},
        {{"LOCUST_TAGS=a b"}, {"-T", "a b"}},
        {{"LOCUST_EXCLUDE_TAGS=[x]"}, {"-E", "x"}},
        {{"LOCUST_CSV=pre"}, {"--csv", "pre"}},
        {{"LOCUST_CSV=pre", "LOCUST_CSV_FULL_HISTORY=true"}, {"--csv", "pre",
                                                              "--csv-full-history"}},
        {{"LOCUST_PRINT_STATS=1"}, {"--print-stats"}},
        {{"LOCUST_ONLY_SUMMARY=TRUE"}, {"--only-summary"}},
        {{"LOCUST_RESET_STATS=true"}, {"--reset-stats"}},
        {{"LOCUST_HTML=r.html"}, {"--html", "r.html"}},
        {{"LOCUST_SKIP_LOG_SETUP=true"}, {"--skip-log-setup"}},
        {{"LOCUST_LOGLEVEL=warning"}, {"-L", "WARNING"}},
        {{"LOCUST_LOGFILE=l.log"}, {"--logfile", "l.log"}},
        {{"LOCUST_EXIT_CODE_ON_ERROR=3"}, {"--exit-code-on-error", "3"}},
        {{"LOCUST_STOP_TIMEOUT=1m"}, {"-s", "60"}},
        {{"LOCUST_PROCESSES=-1"}, {"--processes", "-1"}},
        {{"LOCUST_JSON=true"}, {"--json"}},
        {{"LOCUST_MAX_NAMES=100"}, {"--max-names", "100"}},
        {{"LOCUST_WEB_ROOT=web"}, {"--web-root", "web"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *from_env = dump_of(fx, cases[i].env, ARGS(NULL));
        char *from_cli = dump_of(fx, NULL, cases[i].args);
        if (strcmp(from_env, from_cli) != 0)
            fail_msg("%s\n env: %s\n cli: %s", cases[i].env[0], from_env, from_cli);
        free(from_env);
        free(from_cli);
    }
}

static void test_env_values_and_errors(void **state)
{
    struct fx *fx = *state;
    OK_ENV(fx, ENV("LOCUST_FOO=1", "LOCUST_MASTER=true", "LOCUST_SLAVE=true", "CSVFILEBASE=x",
                   "LOCUST_USERSX=5", "LOCUST_USERS", "PATH=/bin"), NULL);
    char *def = dump(&fx->o);
    OK(fx, NULL);
    char *plain = dump(&fx->o);
    assert_string_equal(def, plain);
    free(def);
    free(plain);
    OK_ENV(fx, ENV("LOCUST_TAGS=[\"q\", 'r']"), NULL);
    assert_list(&fx->o.tags, 2, "q", "r");
    OK_ENV(fx, ENV("LOCUST_TAGS=[]"), NULL);
    assert_int_equal(fx->o.tags.n, 0);
    FAIL_ENV(fx, ENV("LOCUST_USERS=abc"), 2, "LOCUST_USERS: invalid int value: 'abc'", NULL);
    FAIL_ENV(fx, ENV("LOCUST_WEB_PORT=0"), 2,
             "LOCUST_WEB_PORT: invalid value: '0' (must be 1..65535)", NULL);
    FAIL_ENV(fx, ENV("LOCUST_HEADLESS=maybe"), 2,
             "LOCUST_HEADLESS: invalid boolean value: 'maybe' (use true or false)", NULL);
    FAIL_ENV(fx, ENV("LOCUST_RUN_TIME=1m30"), 1, "LOCUST_RUN_TIME: Valid --run-time formats "
             "are: 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.", NULL);
    FAIL_ENV(fx, ENV("LOCUST_LOGLEVEL=x"), 1, "LOCUST_LOGLEVEL: Invalid --loglevel. Valid "
             "values are: DEBUG/INFO/WARNING/ERROR/CRITICAL", NULL);
    FAIL_ENV(fx, ENV("LOCUST_TAGS=[a,,b]"), 2, "LOCUST_TAGS: empty element in list '[a,,b]'",
             NULL);
}

static void test_env_empty_resets(void **state)
{
    struct fx *fx = *state;
    write_file(fx->cwd_conf, "host = http://conf\nusers = 8\nheadless = true\n");
    OK_ENV(fx, ENV("LOCUST_HOST=", "LOCUST_USERS=", "LOCUST_HEADLESS="), NULL);
    assert_null(fx->o.host);
    assert_int_equal(fx->o.num_users, 1);
    assert_false(fx->o.set_num_users);
    assert_false(fx->o.headless);
}

/* ---- precedence ------------------------------------------------------------------------ */

static void test_precedence_five_layers(void **state)
{
    struct fx *fx = *state;
    char **env = ENV("LOCUST_USERS=4", "LOCUST_HOST=http://env", "LOCUST_RUN_TIME=4m");
    write_file(fx->home_conf, "users = 1\nhost = http://home\nrun-time = 1m\nspawn-rate = 1\n");
    write_file(fx->cwd_conf, "users = 2\nhost = http://cwd\nrun-time = 2m\n");
    write_file(fx->extra, "users = 3\nhost = http://extra\nrun-time = 3m\n");

    OK_ENV(fx, env, "--config", fx->extra, "-u", "5", "-H", "http://cli", "-t", "5m");
    assert_int_equal(fx->o.num_users, 5);
    assert_string_equal(fx->o.host, "http://cli");
    assert_int_equal(fx->o.run_time, 300);
    assert_true(fx->o.spawn_rate == 1);

    OK_ENV(fx, env, "--config", fx->extra);
    assert_int_equal(fx->o.num_users, 4);
    assert_string_equal(fx->o.host, "http://env");
    assert_int_equal(fx->o.run_time, 240);

    OK(fx, "--config", fx->extra);
    assert_int_equal(fx->o.num_users, 3);
    assert_string_equal(fx->o.host, "http://extra");
    assert_int_equal(fx->o.run_time, 180);

    OK(fx, NULL);
    assert_int_equal(fx->o.num_users, 2);
    assert_string_equal(fx->o.host, "http://cwd");
    assert_int_equal(fx->o.run_time, 120);

    unlink(fx->cwd_conf);
    OK(fx, NULL);
    assert_int_equal(fx->o.num_users, 1);
    assert_string_equal(fx->o.host, "http://home");
    assert_int_equal(fx->o.run_time, 60);
    assert_true(fx->o.set_num_users && fx->o.set_host && fx->o.set_run_time);

    unlink(fx->home_conf);
    OK(fx, NULL);
    assert_int_equal(fx->o.num_users, 1);
    assert_null(fx->o.host);
    assert_int_equal(fx->o.run_time, 0);
    assert_false(fx->o.set_num_users || fx->o.set_host || fx->o.set_run_time);

    /* a layer without the option leaves the lower one's value */
    write_file(fx->home_conf, "users = 1\nhost = http://home\n");
    write_file(fx->extra, "run-time = 3m\n");
    OK_ENV(fx, ENV("LOCUST_RUN_TIME=4m"), "--config", fx->extra, "-u", "5");
    assert_int_equal(fx->o.num_users, 5);
    assert_string_equal(fx->o.host, "http://home");
    assert_int_equal(fx->o.run_time, 240);
}

static void test_lists_are_replaced(void **state)
{
    struct fx *fx = *state;
    write_file(fx->home_conf, "tags = [a, b]\nexclude-tags = [z]\n");
    write_file(fx->cwd_conf, "tags = [c]\n");
    OK(fx, NULL);
    assert_list(&fx->o.tags, 1, "c");
    assert_list(&fx->o.exclude_tags, 1, "z");
    OK_ENV(fx, ENV("LOCUST_TAGS=[d, e]"), NULL);
    assert_list(&fx->o.tags, 2, "d", "e");
    OK_ENV(fx, ENV("LOCUST_TAGS=[d, e]"), "-T", "f");
    assert_list(&fx->o.tags, 1, "f");
    assert_list(&fx->o.exclude_tags, 1, "z");
    OK(fx, "-E");
    assert_int_equal(fx->o.exclude_tags.n, 0);
}

static void test_headful_and_false_flags(void **state)
{
    struct fx *fx = *state;
    write_file(fx->home_conf, "headless = true\n");
    OK(fx, NULL);
    assert_true(fx->o.headless);
    OK_ENV(fx, ENV("LOCUST_HEADFUL=true"), NULL);
    assert_false(fx->o.headless);
    OK(fx, "--headful");
    assert_false(fx->o.headless);
    /* headless in a higher source wins over headful in a lower one */
    OK_ENV(fx, ENV("LOCUST_HEADFUL=true"), "--headless");
    assert_true(fx->o.headless);
    write_file(fx->cwd_conf, "headful = true\n");
    write_file(fx->extra, "headless = yes\n");
    OK(fx, "--config", fx->extra);
    assert_true(fx->o.headless);
    /* in one source headful wins, as in Locust */
    OK(fx, "--headless", "--headful");
    assert_false(fx->o.headless);
    write_file(fx->extra, "headful\nheadless\n");
    OK(fx, "--config", fx->extra);
    assert_false(fx->o.headless);
    OK_ENV(fx, ENV("LOCUST_HEADFUL=false"), "--headless");
    assert_true(fx->o.headless);
    /* an explicit false in a higher source turns a flag off */
    unlink(fx->cwd_conf);
    OK_ENV(fx, ENV("LOCUST_HEADLESS=false"), NULL);
    assert_false(fx->o.headless);
    write_file(fx->extra, "print-stats = true\n");
    OK_ENV(fx, ENV("LOCUST_PRINT_STATS=no"), "--config", fx->extra);
    assert_false(fx->o.print_stats);
}

/* ---- validation between options -------------------------------------------------------- */

static void test_validation(void **state)
{
    struct fx *fx = *state;
    FAIL(fx, 1, "--autoquit is only meaningful in combination with --autostart",
         "--autoquit", "5");
    FAIL(fx, 1, "--autoquit is only meaningful in combination with --autostart",
         "--headless", "--autoquit=0");
    FAIL(fx, 2, "'--csv-full-history' requires '--csv'.", "--csv-full-history");
    FAIL(fx, 2, "'--csv-full-history' requires '--csv'.", "--csv-full-history", "--csv=");
    FAIL(fx, 255, "The --master argument cannot be combined with --worker",
         "--master", "--worker");
    FAIL_ENV(fx, ENV("LOCUST_MODE_WORKER=true"), 255,
             "The --master argument cannot be combined with --worker", "--master");
    FAIL(fx, 255, "The --expect-workers-max-wait argument only makes sense when combined with "
         "--expect-workers", "--master", "--expect-workers-max-wait", "10");
    OK(fx, "--expect-workers-max-wait", "0");
    write_file(fx->cwd_conf, "expect-workers = 2\n");
    OK(fx, "--master", "--expect-workers-max-wait", "10");
    unlink(fx->cwd_conf);
    FAIL(fx, 1, "--run-time should be specified on the master node, and not on worker nodes",
         "--worker", "-t", "10s");
    FAIL(fx, 1, "--run-time should be specified on the master node, and not on worker nodes",
         "--slave", "-t", "0");
    OK(fx, "--master", "-t", "10s");
    const char *auth = "Credentials supplied with --web-auth should have the format: "
                       "username:password";
    FAIL(fx, 1, auth, "--web-auth", "nocolon");
    FAIL(fx, 1, auth, "--web-auth", "a:b:c");
    OK(fx, "--web-auth", ":");
    OK(fx, "--web-auth", "");
    assert_null(fx->o.web_auth);
    FAIL(fx, 1, "--tls-cert requires --tls-key (HTTPS needs both)", "--tls-cert", "c.pem");
    FAIL(fx, 1, "--tls-key requires --tls-cert (HTTPS needs both)", "--tls-key", "k.pem");
    FAIL(fx, 1, "--tls-key requires --tls-cert (HTTPS needs both)", "--tls-cert=",
         "--tls-key=k");
    FAIL(fx, 1, "--master cannot be combined with --processes. Remove --master, as it is "
         "implicit as long as --worker is not set.", "--master", "--processes", "4");
    FAIL_ENV(fx, ENV("LOCUST_PROCESSES=2"), 1, "--master cannot be combined with --processes. "
             "Remove --master, as it is implicit as long as --worker is not set.", "--master");
    /* the first broken rule, in Locust's order */
    FAIL(fx, 2, "'--csv-full-history' requires '--csv'.", "--csv-full-history", "--master",
         "--worker", "--autoquit", "1");
    FAIL(fx, 1, "--autoquit is only meaningful in combination with --autostart",
         "--master", "--worker", "--autoquit", "1");
}

/* ---- --help, the key list and conf/locust.conf ----------------------------------------- */

static char *help_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    opt_print_help(f);
    fclose(f);
    return text;
}

static void test_help(void **state)
{
    (void)state;
    char *text = help_text();
    assert_int_equal(strncmp(text, "Usage: cicada [OPTIONS] [UserClass ...]\n", 40), 0);
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        if (nl - line >= 100)
            fail_msg("help line too long: %.*s", (int)(nl - line), line);
    const char *must[] = {
        "\nCommon options:\n", "\nWeb UI options:\n", "\nMaster options:\n",
        "\nWorker options:\n", "\nTag options:\n", "\nRequest statistics options:\n",
        "\nLogging options:\n", "\nOther options:\n", "\ncicada options:\n",
        "\nUser classes:\n", "  -h, --help ", "--version, -V ", "--config CONFIG ",
        "-u NUM_USERS, --users NUM_USERS\n", "--web-port WEB_PORT, -P WEB_PORT\n",
        "-T [TAG ...], --tags [TAG ...]\n", "--master-host MASTER_NODE_HOST\n",
        "--loglevel LOGLEVEL, -L LOGLEVEL\n", "[default: 8089]", "[default: locustfile.json]",
        "[default: 5557]", "[default: INFO]", "[default: 10000]", "--demo-target [HOST:]PORT",
        "-c/--clients", "--hatch-rate", "--no-web", "--slave", "--expect-slaves",
    };
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        if (!strstr(text, must[i]))
            fail_msg("help lacks \"%s\"", must[i]);
    const char *envs[] = {
        "LOCUST_LOCUSTFILE", "LOCUST_HOST", "LOCUST_USERS", "LOCUST_SPAWN_RATE",
        "LOCUST_RUN_TIME", "LOCUST_WEB_HOST", "LOCUST_WEB_PORT", "LOCUST_HEADLESS",
        "LOCUST_AUTOSTART", "LOCUST_AUTOQUIT", "LOCUST_HEADFUL", "LOCUST_WEB_AUTH",
        "LOCUST_TLS_CERT", "LOCUST_TLS_KEY", "LOCUST_USERCLASS_PICKER", "LOCUST_MODE_MASTER",
        "LOCUST_MASTER_BIND_HOST", "LOCUST_MASTER_BIND_PORT", "LOCUST_EXPECT_WORKERS]",
        "LOCUST_EXPECT_WORKERS_MAX_WAIT", "LOCUST_MODE_WORKER", "LOCUST_MASTER_NODE_HOST",
        "LOCUST_MASTER_NODE_PORT", "LOCUST_TAGS", "LOCUST_EXCLUDE_TAGS", "LOCUST_CSV]",
        "LOCUST_CSV_FULL_HISTORY", "LOCUST_PRINT_STATS", "LOCUST_ONLY_SUMMARY",
        "LOCUST_RESET_STATS", "LOCUST_HTML", "LOCUST_SKIP_LOG_SETUP", "LOCUST_LOGLEVEL",
        "LOCUST_LOGFILE", "LOCUST_EXIT_CODE_ON_ERROR", "LOCUST_STOP_TIMEOUT",
        "LOCUST_PROCESSES", "LOCUST_JSON", "LOCUST_MAX_NAMES", "LOCUST_WEB_ROOT",
    };
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
        if (!strstr(text, envs[i]))
            fail_msg("help lacks %s", envs[i]);
    char flag[64];
    for (size_t i = 0; opt_config_key(i); i++) {
        snprintf(flag, sizeof flag, "--%s ", opt_config_key(i));
        char *at = strstr(text, flag);
        if (!at) {
            snprintf(flag, sizeof flag, "--%s\n", opt_config_key(i));
            at = strstr(text, flag);
        }
        if (!at)
            fail_msg("help lacks --%s", opt_config_key(i));
    }
    free(text);
}

static void test_config_keys(void **state)
{
    (void)state;
    size_t n = 0;
    while (opt_config_key(n))
        n++;
    assert_int_equal(n, 53);
    assert_string_equal(opt_config_key(0), "locustfile");
    assert_string_equal(opt_config_key(n - 1), "demo-target");
    assert_null(opt_config_key(n + 100));
    for (size_t i = 0; i < n; i++) {
        const char *k = opt_config_key(i);
        const char *not[] = {"help", "version", "config", "clients", "hatch-rate", "no-web",
                             "slave", "expect-slaves", "step-load", "step-time"};
        for (size_t j = 0; j < sizeof not / sizeof not[0]; j++)
            assert_string_not_equal(k, not[j]);
    }
}

/* --threshold adds one each time and checks the syntax; a file or variable gives one or a
 * [list], several lines of one file add up, and a higher source replaces a lower one's. */
static void test_thresholds(void **state)
{
    struct fx *fx = *state;
    OK(fx, "--threshold", "p95<500", "--threshold=GET /a, b:p99<800", "--threshold",
       "fail_ratio<1% abort=5s");
    assert_list(&fx->o.thresholds, 3, "p95<500", "GET /a, b:p99<800", "fail_ratio<1% abort=5s");
    OK(fx, "--junit", "out.xml");
    assert_string_equal(fx->o.junit_file, "out.xml");
    assert_int_equal(fx->o.thresholds.n, 0);

    FAIL(fx, OPT_EXIT_USAGE, "argument --threshold: 'p95<abc': expected a number after the "
         "comparison (at character 5)", "--threshold", "p95<abc");
    FAIL(fx, OPT_EXIT_USAGE, "argument --threshold: expected one argument", "--threshold");

    write_file(fx->cwd_conf, "threshold = [p95<500, rps>=10]\nthreshold = checks>=0.9\n");
    OK(fx, NULL);
    assert_list(&fx->o.thresholds, 3, "p95<500", "rps>=10", "checks>=0.9");
    OK_ENV(fx, ENV("CICADA_THRESHOLD=max<1s"), NULL);
    assert_list(&fx->o.thresholds, 1, "max<1s");
    OK_ENV(fx, ENV("CICADA_THRESHOLD=max<1s"), "--threshold", "avg<5", "--threshold", "p50<1");
    assert_list(&fx->o.thresholds, 2, "avg<5", "p50<1");

    write_file(fx->cwd_conf, "threshold = p95 < 5 parsecs\n");
    run(fx, NULL, ARGS(NULL));
    assert_int_equal(fx->rc, OPT_EXIT_USAGE);
    char want[300];
    snprintf(want, sizeof want, "%s:1:21: threshold: 'p95 < 5 parsecs': unknown option "
             "\"parsecs\" (the option is abort or abort=DELAY) (at character 9)", fx->cwd_conf);
    assert_string_equal(fx->err, want);
    write_file(fx->cwd_conf, "");
    FAIL_ENV(fx, ENV("CICADA_THRESHOLD=[p95<1, nope<2]"), OPT_EXIT_USAGE,
             "CICADA_THRESHOLD: 'nope<2': unknown metric \"nope\": use pN (p50, p95, p99.9), "
             "avg, max, fail_ratio, rps or checks (at character 1)", NULL);
}

/* conf/locust.conf documents every key, in --help order, each as "# key = default" on its
 * own line; uncommented, the file is accepted and yields the defaults. */
static void test_example_conf(void **state)
{
    struct fx *fx = *state;
    FILE *f = fopen("conf/locust.conf", "r");
    if (!f)
        fail_msg("conf/locust.conf not found (run from the repository root)");
    char line[256], key[64];
    sbuf conf = SBUF_INIT;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        int end = 0;
        assert_true(strlen(line) < 100);
        if (sscanf(line, "# %63[a-z0-9-] =%n", key, &end) != 1 || end == 0)
            continue;
        if (!opt_config_key(n))
            fail_msg("conf/locust.conf documents '%s', which opt_parse does not accept", key);
        if (strcmp(key, opt_config_key(n)) != 0)
            fail_msg("conf/locust.conf: '%s' where '%s' was expected", key, opt_config_key(n));
        sbuf_puts(&conf, line + 2);
        n++;
    }
    fclose(f);
    if (opt_config_key(n))
        fail_msg("conf/locust.conf does not document '%s'", opt_config_key(n));
    write_file(fx->extra, sbuf_str(&conf));
    sbuf_free(&conf);
    char *want = dump_of(fx, NULL, ARGS(NULL));
    ok_(fx, NULL, ARGS("--config", fx->extra));
    assert_string_equal(fx->notices, "");
    /* same as the defaults, but for config, which names the file, and "given" marks */
    free(fx->o.config);
    fx->o.config = NULL;
    fx->o.set_num_users = fx->o.set_spawn_rate = fx->o.set_stop_timeout = false;
    fx->o.set_expect_workers = false;
    char *got = dump(&fx->o);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_common_options),
        T(test_short_clusters),
        T(test_web_options),
        T(test_master_worker_options),
        T(test_tags),
        T(test_tags_last_value),
        T(test_stats_options),
        T(test_logging_options),
        T(test_other_options),
        T(test_cicada_options),
        T(test_help_and_version_stop_parsing),
        T(test_positional_user_classes),
        T(test_unknown_flags),
        T(test_missing_values),
        T(test_bad_values),
        T(test_run_time_and_loglevel_messages),
        T(test_demo_target_values),
        T(test_messages_stay_on_one_line),
        T(test_small_error_buffer),
        T(test_deprecated_aliases),
        T(test_deprecated_in_config_and_env),
        T(test_step_load_removed),
        T(test_config_syntax),
        T(test_config_booleans),
        T(test_config_lists),
        T(test_config_empty_value_resets),
        T(test_config_errors),
        T(test_config_files_missing),
        T(test_env_matches_cli),
        T(test_env_values_and_errors),
        T(test_env_empty_resets),
        T(test_precedence_five_layers),
        T(test_lists_are_replaced),
        T(test_headful_and_false_flags),
        T(test_validation),
        T(test_help),
        T(test_thresholds),
        T(test_config_keys),
        T(test_example_conf),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
