#include "opt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "sbuf.h"
#include "threshold.h"
#include "timespan.h"
#include "xalloc.h"

/* How an option's value is read and stored. */
enum kind {
    K_FLAG,      /* bool; "true"/"false" in config files and env */
    K_HEADFUL,   /* no storage: cancels headless set by a lower-precedence source */
    K_STR,       /* char *, never NULL */
    K_NSTR,      /* char *, NULL when not given; "" is stored as NULL */
    K_WEBHOST,   /* char *, "*" is stored as "" */
    K_DEMO,      /* char *, PORT or HOST:PORT; "" is stored as NULL */
    K_INT,       /* int within [min, max] */
    K_PROCESSES, /* int, -1 or >= 1 */
    K_FLOAT,     /* double > 0 */
    K_LIST,      /* opt_list */
    K_RUNTIME,   /* int seconds, from a time span */
    K_LOGLEVEL,  /* int, enum log_level */
    K_STOPTIME,  /* double seconds, a number or a time span */
    K_HELP,      /* -h: command line only */
    K_VERSION,   /* -V: command line only */
    K_CONFIG,    /* --config FILE: command line only */
    K_REMOVED,   /* the step-load flags: always an error */
    K_ALIAS,     /* deprecated name of another option */
    K_THRESHOLD, /* opt_list of thresholds, each checked (engine/threshold.h); repeatable */
};

enum group { G_COMMON, G_WEB, G_MASTER, G_WORKER, G_TAG, G_STATS, G_LOG, G_OTHER, G_CICADA };

static const struct {
    const char *title, *desc;
} groups[] = {
    [G_COMMON] = {"Common options", NULL},
    [G_WEB] = {"Web UI options", NULL},
    [G_MASTER] = {"Master options",
                  "Options for running a cicada master node when running distributed. A master "
                  "node needs worker nodes that connect to it before it can run load tests."},
    [G_WORKER] = {"Worker options",
                  "Options for running a cicada worker node when running distributed. Only the "
                  "LOCUSTFILE (-f option) needs to be specified when starting a worker, since "
                  "other options such as -u, -r, -t are specified on the master node."},
    [G_TAG] = {"Tag options",
               "Tasks can be tagged. These options select which tasks to include or exclude "
               "during a test."},
    [G_STATS] = {"Request statistics options", NULL},
    [G_LOG] = {"Logging options", NULL},
    [G_OTHER] = {"Other options", NULL},
    [G_CICADA] = {"cicada options", NULL},
};

struct optdef {
    const char *lng;     /* long name without "--"; also the config-file key */
    char shrt;           /* short letter, 0 for none */
    bool long_first;     /* Locust declares "--web-port", "-P": argparse names it that way */
    enum kind kind;
    size_t off;          /* the field in struct options */
    size_t set;          /* offsetof the set_ flag + 1; 0 for none */
    int min, max;        /* K_INT range */
    const char *env;     /* LOCUST_ variable, NULL for none */
    const char *metavar;
    const char *dflt;    /* default as shown in --help, NULL when there is none to show */
    enum group group;
    const char *help;    /* NULL: not in --help */
    const char *alias;   /* K_ALIAS: long name of the option it stands for */
    bool cli;            /* command line only: an action, not a setting to keep in a file */
    const char *notice;  /* K_ALIAS: the deprecation line */
};

#define F(field) offsetof(struct options, field)
#define SET(field) (offsetof(struct options, field) + 1)

static const char step_load_msg[] =
    "The step load feature was removed in Locust 1.3. You can achieve similar results using a "
    "LoadTestShape class. See https://docs.locust.io/en/stable/custom-load-shape.html";

/* In --help order within each group; the hidden names come last. */
static const struct optdef defs[] = {
    {.lng = "help", .shrt = 'h', .kind = K_HELP, .group = G_COMMON,
     .help = "show this help message and exit"},
    {.lng = "locustfile", .shrt = 'f', .kind = K_STR, .off = F(locustfile),
     .env = "LOCUST_LOCUSTFILE", .metavar = "LOCUSTFILE", .dflt = "locustfile.json",
     .group = G_COMMON, .help = "Scenario file to run (JSON), e.g. 'examples/demo.json'."},
    {.lng = "config", .kind = K_CONFIG, .off = F(config), .metavar = "CONFIG", .group = G_COMMON,
     .help = "Config file path, read after ~/.locust.conf and ./locust.conf"},
    {.lng = "host", .shrt = 'H', .kind = K_NSTR, .off = F(host), .set = SET(set_host),
     .env = "LOCUST_HOST", .metavar = "HOST", .group = G_COMMON,
     .help = "Host to load test in the following format: http://10.21.32.33"},
    {.lng = "stages", .kind = K_NSTR, .off = F(stages), .env = "CICADA_STAGES",
     .metavar = "STAGES", .group = G_COMMON,
     .help = "A load shape: stages DURATION:USERS:SPAWN_RATE[:Class+Class], comma-separated "
             "(\"1m:10:5,5m:100:10,1m:0:10\"); the test ends after the last. Overrides the "
             "scenario's \"stages\"."},
    {.lng = "arrival-rate", .kind = K_FLOAT, .off = F(arrival_rate),
     .env = "CICADA_ARRIVAL_RATE", .metavar = "RATE", .group = G_COMMON,
     .help = "Open model: start RATE task iterations per second whatever the response times, "
             "with users started as needed up to -u. Overrides the scenario's "
             "\"arrival_rate\"."},
    {.lng = "users", .shrt = 'u', .kind = K_INT, .off = F(num_users), .set = SET(set_num_users),
     .min = 0, .max = INT_MAX, .env = "LOCUST_USERS", .metavar = "NUM_USERS", .dflt = "1",
     .group = G_COMMON,
     .help = "Peak number of concurrent users. Primarily used together with --headless or "
             "--autostart. Can be changed during a test by keyboard inputs w, W (spawn 1, 10 "
             "users) and s, S (stop 1, 10 users)"},
    {.lng = "spawn-rate", .shrt = 'r', .kind = K_FLOAT, .off = F(spawn_rate),
     .set = SET(set_spawn_rate), .env = "LOCUST_SPAWN_RATE", .metavar = "SPAWN_RATE",
     .dflt = "1", .group = G_COMMON,
     .help = "Rate to spawn users at (users per second). Primarily used together with "
             "--headless or --autostart"},
    {.lng = "run-time", .shrt = 't', .kind = K_RUNTIME, .off = F(run_time),
     .set = SET(set_run_time), .env = "LOCUST_RUN_TIME", .metavar = "RUN_TIME",
     .group = G_COMMON,
     .help = "Stop after the specified amount of time, e.g. (300s, 20m, 3h, 1h30m, etc.). Only "
             "used together with --headless or --autostart. Defaults to run forever."},
    {.lng = "list", .shrt = 'l', .kind = K_FLAG, .off = F(list_commands), .group = G_COMMON,
     .help = "Show list of possible User classes and exit"},
    {.lng = "processes", .kind = K_PROCESSES, .off = F(processes), .env = "LOCUST_PROCESSES",
     .metavar = "PROCESSES", .group = G_COMMON,
     .help = "Number of worker processes to fork (-1: one per CPU). Without --worker this "
             "process becomes their master."},

    {.lng = "web-host", .kind = K_WEBHOST, .off = F(web_host), .env = "LOCUST_WEB_HOST",
     .metavar = "WEB_HOST", .dflt = "*", .group = G_WEB,
     .help = "Host to bind the web interface to. Defaults to '*' (all interfaces)"},
    {.lng = "web-port", .shrt = 'P', .long_first = true, .kind = K_INT, .off = F(web_port),
     .min = 1, .max = 65535, .env = "LOCUST_WEB_PORT", .metavar = "WEB_PORT", .dflt = "8089",
     .group = G_WEB, .help = "Port on which to run web host"},
    {.lng = "headless", .kind = K_FLAG, .off = F(headless), .env = "LOCUST_HEADLESS",
     .group = G_WEB,
     .help = "Disable the web interface, and start the test immediately. Use -u and -t to "
             "control user count and run time"},
    {.lng = "autostart", .kind = K_FLAG, .off = F(autostart), .env = "LOCUST_AUTOSTART",
     .group = G_WEB,
     .help = "Starts the test immediately (without disabling the web UI). Use -u and -t to "
             "control user count and run time"},
    {.lng = "autoquit", .kind = K_INT, .off = F(autoquit), .min = -1, .max = INT_MAX,
     .env = "LOCUST_AUTOQUIT", .metavar = "AUTOQUIT", .dflt = "-1", .group = G_WEB,
     .help = "Quits entirely, X seconds after the run is finished. Only used together with "
             "--autostart. The default (-1) is to keep running until you shut it down using "
             "CTRL+C"},
    {.lng = "headful", .kind = K_HEADFUL, .env = "LOCUST_HEADFUL", .group = G_WEB,
     .help = "Cancel --headless set in a config file or the environment"},
    {.lng = "web-auth", .kind = K_NSTR, .off = F(web_auth), .env = "LOCUST_WEB_AUTH",
     .metavar = "WEB_AUTH", .group = G_WEB,
     .help = "Turn on Basic Auth for the web interface. Should be supplied in the following "
             "format: username:password"},
    {.lng = "tls-cert", .kind = K_NSTR, .off = F(tls_cert), .env = "LOCUST_TLS_CERT",
     .metavar = "TLS_CERT", .group = G_WEB,
     .help = "Optional path to TLS certificate to use to serve over HTTPS (needs --tls-key)"},
    {.lng = "tls-key", .kind = K_NSTR, .off = F(tls_key), .env = "LOCUST_TLS_KEY",
     .metavar = "TLS_KEY", .group = G_WEB,
     .help = "Optional path to TLS private key to use to serve over HTTPS (needs --tls-cert)"},
    {.lng = "class-picker", .kind = K_FLAG, .off = F(class_picker),
     .env = "LOCUST_USERCLASS_PICKER", .group = G_WEB,
     .help = "Enable select boxes in the web interface to choose from all available User "
             "classes"},

    {.lng = "master", .kind = K_FLAG, .off = F(master), .env = "LOCUST_MODE_MASTER",
     .group = G_MASTER,
     .help = "Set cicada to run in distributed mode with this process as master"},
    {.lng = "master-bind-host", .kind = K_STR, .off = F(master_bind_host),
     .set = SET(set_master_bind_host), .env = "LOCUST_MASTER_BIND_HOST",
     .metavar = "MASTER_BIND_HOST", .dflt = "*", .group = G_MASTER,
     .help = "Interfaces (hostname, ip) that the master should bind to. Only used when running "
             "with --master. '*' means all available interfaces."},
    {.lng = "master-bind-port", .kind = K_INT, .off = F(master_bind_port), .min = 1,
     .max = 65535, .env = "LOCUST_MASTER_BIND_PORT", .metavar = "MASTER_BIND_PORT",
     .dflt = "5557", .group = G_MASTER,
     .help = "Port that the master should bind to. Only used when running with --master."},
    {.lng = "expect-workers", .kind = K_INT, .off = F(expect_workers),
     .set = SET(set_expect_workers), .min = 1, .max = INT_MAX, .env = "LOCUST_EXPECT_WORKERS",
     .metavar = "EXPECT_WORKERS", .dflt = "1", .group = G_MASTER,
     .help = "How many workers master should expect to connect before starting the test "
             "(only when --headless/autostart is used)."},
    {.lng = "expect-workers-max-wait", .kind = K_INT, .off = F(expect_workers_max_wait),
     .min = 0, .max = INT_MAX, .env = "LOCUST_EXPECT_WORKERS_MAX_WAIT",
     .metavar = "EXPECT_WORKERS_MAX_WAIT", .dflt = "0", .group = G_MASTER,
     .help = "How long should the master wait for workers to connect before giving up. "
             "0 waits forever"},

    {.lng = "worker", .kind = K_FLAG, .off = F(worker), .env = "LOCUST_MODE_WORKER",
     .group = G_WORKER,
     .help = "Set cicada to run in distributed mode with this process as worker"},
    {.lng = "master-host", .kind = K_STR, .off = F(master_host),
     .env = "LOCUST_MASTER_NODE_HOST", .metavar = "MASTER_NODE_HOST", .dflt = "127.0.0.1",
     .group = G_WORKER,
     .help = "Host or IP address of the master for distributed load testing. Only used when "
             "running with --worker."},
    {.lng = "master-port", .kind = K_INT, .off = F(master_port), .min = 1, .max = 65535,
     .env = "LOCUST_MASTER_NODE_PORT", .metavar = "MASTER_NODE_PORT", .dflt = "5557",
     .group = G_WORKER,
     .help = "The port to connect to that is used by the master for distributed load testing. "
             "Only used when running with --worker."},
    {.lng = "worker-report-interval", .kind = K_FLOAT, .off = F(worker_report_interval),
     .env = "CICADA_WORKER_REPORT_INTERVAL", .metavar = "SECONDS", .dflt = "3",
     .group = G_WORKER,
     .help = "Seconds between a worker's statistics reports to its master (a final report "
             "always follows the end of a test)."},
    {.lng = "master-timeout", .kind = K_FLOAT, .off = F(master_timeout),
     .env = "CICADA_MASTER_TIMEOUT", .metavar = "SECONDS", .dflt = "10", .group = G_WORKER,
     .help = "A worker that hears nothing from its master for this long stops its users and "
             "exits (or, with --reconnect, waits for a master)."},
    {.lng = "reconnect", .kind = K_FLAG, .off = F(reconnect), .env = "CICADA_RECONNECT",
     .group = G_WORKER,
     .help = "A worker whose master went silent (--master-timeout) stops its users and waits "
             "for a master to answer again, however long, instead of exiting; so does one "
             "started before its master."},

    {.lng = "tags", .shrt = 'T', .kind = K_LIST, .off = F(tags), .env = "LOCUST_TAGS",
     .metavar = "TAG", .group = G_TAG,
     .help = "List of tags to include in the test, so only tasks with any matching tags will "
             "be executed (also comma-separated)"},
    {.lng = "exclude-tags", .shrt = 'E', .kind = K_LIST, .off = F(exclude_tags),
     .env = "LOCUST_EXCLUDE_TAGS", .metavar = "TAG", .group = G_TAG,
     .help = "List of tags to exclude from the test, so only tasks with no matching tags will "
             "be executed (also comma-separated)"},

    {.lng = "csv", .kind = K_NSTR, .off = F(csv_prefix), .env = "LOCUST_CSV",
     .metavar = "CSV_PREFIX", .group = G_STATS,
     .help = "Store current request stats to files in CSV format. Setting this option will "
             "generate three files: [CSV_PREFIX]_stats.csv, [CSV_PREFIX]_stats_history.csv and "
             "[CSV_PREFIX]_failures.csv"},
    {.lng = "csv-full-history", .kind = K_FLAG, .off = F(stats_history_enabled),
     .env = "LOCUST_CSV_FULL_HISTORY", .group = G_STATS,
     .help = "Store each stats entry in CSV format to _stats_history.csv file. You must also "
             "specify the '--csv' argument to enable this."},
    {.lng = "print-stats", .kind = K_FLAG, .off = F(print_stats), .env = "LOCUST_PRINT_STATS",
     .group = G_STATS, .help = "Print stats in the console"},
    {.lng = "only-summary", .kind = K_FLAG, .off = F(only_summary),
     .env = "LOCUST_ONLY_SUMMARY", .group = G_STATS, .help = "Only print the summary stats"},
    {.lng = "reset-stats", .kind = K_FLAG, .off = F(reset_stats), .env = "LOCUST_RESET_STATS",
     .group = G_STATS,
     .help = "Reset statistics once spawning has been completed. Should be set on both master "
             "and workers when running in distributed mode"},
    {.lng = "html", .kind = K_NSTR, .off = F(html_file), .env = "LOCUST_HTML",
     .metavar = "HTML_FILE", .group = G_STATS,
     .help = "Store HTML report to file path specified"},
    {.lng = "json", .kind = K_FLAG, .off = F(json), .env = "LOCUST_JSON", .group = G_STATS,
     .help = "Prints the final stats in JSON format to stdout"},
    {.lng = "threshold", .kind = K_THRESHOLD, .off = F(thresholds), .env = "CICADA_THRESHOLD",
     .metavar = "THRESHOLD", .group = G_STATS,
     .help = "A pass criterion, repeatable: [REQUEST:]METRIC OP VALUE [abort[=DELAY]], METRIC "
             "being pN (p95, p99.9), avg or max in ms, fail_ratio or checks (the check pass "
             "rate) as 0.01 or 1%, or rps (requests/s over the run); e.g. 'p95<500', "
             "'GET /api/items:p99<800', 'fail_ratio<1%', 'rps>=100'. Added to the scenario's "
             "\"thresholds\". A failed threshold, or one with no samples, makes the exit code "
             "3; with abort the test ends as soon as it fails (checked every second after "
             "DELAY, default 10s). See docs/scenario.md"},
    {.lng = "junit", .kind = K_NSTR, .off = F(junit_file), .env = "CICADA_JUNIT",
     .metavar = "JUNIT_FILE", .group = G_STATS,
     .help = "Write a JUnit XML file at the end: a test case per threshold, and one for "
             "request failures unless --exit-code-on-error is 0"},

    {.lng = "skip-log-setup", .kind = K_FLAG, .off = F(skip_log_setup),
     .env = "LOCUST_SKIP_LOG_SETUP", .group = G_LOG,
     .help = "Disable the logging setup: only warnings and errors are printed, bare"},
    {.lng = "loglevel", .shrt = 'L', .long_first = true, .kind = K_LOGLEVEL, .off = F(loglevel),
     .env = "LOCUST_LOGLEVEL", .metavar = "LOGLEVEL", .dflt = "INFO", .group = G_LOG,
     .help = "Choose between DEBUG/INFO/WARNING/ERROR/CRITICAL."},
    {.lng = "logfile", .kind = K_NSTR, .off = F(logfile), .env = "LOCUST_LOGFILE",
     .metavar = "LOGFILE", .group = G_LOG,
     .help = "Path to log file. If not set, log will go to stderr"},

    {.lng = "show-task-ratio", .kind = K_FLAG, .off = F(show_task_ratio), .group = G_OTHER,
     .help = "Print table of the User classes' task execution ratio. Use this with non-zero "
             "--users if some classes define a non-zero fixed_count."},
    {.lng = "show-task-ratio-json", .kind = K_FLAG, .off = F(show_task_ratio_json),
     .group = G_OTHER,
     .help = "Print json data of the User classes' task execution ratio. Use this with non-zero "
             "--users if some classes define a non-zero fixed_count."},
    {.lng = "version", .shrt = 'V', .long_first = true, .kind = K_VERSION, .group = G_OTHER,
     .help = "Show program's version number and exit"},
    {.lng = "exit-code-on-error", .kind = K_INT, .off = F(exit_code_on_error), .min = 0,
     .max = 255, .env = "LOCUST_EXIT_CODE_ON_ERROR", .metavar = "EXIT_CODE_ON_ERROR",
     .dflt = "1", .group = G_OTHER,
     .help = "Sets the process exit code to use when a test result contain any failure or "
             "error"},
    {.lng = "stop-timeout", .shrt = 's', .kind = K_STOPTIME, .off = F(stop_timeout),
     .set = SET(set_stop_timeout), .env = "LOCUST_STOP_TIMEOUT", .metavar = "STOP_TIMEOUT",
     .dflt = "0", .group = G_OTHER,
     .help = "Seconds (e.g. 2.5) or time span (e.g. 1m30s) to wait for a simulated user to "
             "complete any executing task before exiting. 0 terminates immediately. Only "
             "needs to be specified for the master process when running distributed."},
    {.lng = "equal-weights", .kind = K_FLAG, .off = F(equal_weights), .group = G_OTHER,
     .help = "Use equally distributed task weights, overriding the weights specified in the "
             "locustfile."},
    {.lng = "enable-rebalancing", .kind = K_FLAG, .off = F(enable_rebalancing),
     .group = G_OTHER,
     .help = "Allow to automatically rebalance users if new workers are added or removed "
             "during a test run."},

    {.lng = "max-names", .kind = K_INT, .off = F(max_names), .min = 10, .max = INT_MAX,
     .env = "LOCUST_MAX_NAMES", .metavar = "MAX_NAMES", .dflt = "10000", .group = G_CICADA,
     .help = "Most distinct request names kept in the statistics (bounds memory when URLs "
             "are used as names)"},
    {.lng = "web-root", .kind = K_NSTR, .off = F(web_root), .env = "LOCUST_WEB_ROOT",
     .metavar = "WEB_ROOT", .group = G_CICADA,
     .help = "Serve the dashboard's files from this directory instead of the built-in copy "
             "(for developing the web UI)"},
    {.lng = "demo-target", .kind = K_DEMO, .off = F(demo_target), .metavar = "[HOST:]PORT",
     .group = G_CICADA,
     .help = "Serve the built-in demo web application on this address instead of running a "
             "test"},
    {.lng = "from-har", .kind = K_NSTR, .off = F(from_har), .metavar = "HAR_FILE",
     .group = G_CICADA, .cli = true,
     .help = "Convert a HAR file recorded in a browser's developer tools into a scenario "
             "printed on stdout, and exit (see docs/har.md)"},
    {.lng = "har-static", .kind = K_FLAG, .off = F(har_static), .group = G_CICADA,
     .cli = true,
     .help = "With --from-har: keep the requests for static assets (scripts, styles, "
             "images, fonts, media)"},

    {.lng = "clients", .shrt = 'c', .kind = K_ALIAS, .alias = "users",
     .notice = "[DEPRECATED] The -c/--clients parameter has been renamed -u/--users"},
    {.lng = "hatch-rate", .kind = K_ALIAS, .alias = "spawn-rate", .env = "LOCUST_HATCH_RATE",
     .notice = "[DEPRECATED] The --hatch-rate parameter has been renamed --spawn-rate"},
    {.lng = "no-web", .kind = K_ALIAS, .alias = "headless",
     .notice = "[DEPRECATED] The --no-web parameter has been renamed --headless"},
    {.lng = "slave", .kind = K_ALIAS, .alias = "worker",
     .notice = "[DEPRECATED] The --slave parameter has been renamed --worker"},
    {.lng = "expect-slaves", .kind = K_ALIAS, .alias = "expect-workers",
     .notice = "[DEPRECATED] The --expect-slaves parameter has been renamed --expect-workers"},
    {.lng = "step-load", .kind = K_REMOVED},
    {.lng = "step-users", .kind = K_REMOVED},
    {.lng = "step-clients", .kind = K_REMOVED},
    {.lng = "step-time", .kind = K_REMOVED},
};

#define NDEFS (sizeof defs / sizeof defs[0])

/* ---- lookup -------------------------------------------------------------------------- */

static const struct optdef *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strlen(defs[i].lng) == len && memcmp(defs[i].lng, name, len) == 0)
            return &defs[i];
    return NULL;
}

static const struct optdef *find_short(char c)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (defs[i].shrt && defs[i].shrt == c)
            return &defs[i];
    return NULL;
}

/* The option a deprecated name stands for, or d itself. */
static const struct optdef *target(const struct optdef *d)
{
    return d->kind == K_ALIAS ? find_long(d->alias, strlen(d->alias)) : d;
}

static bool takes_value(const struct optdef *d)
{
    switch (target(d)->kind) {
    case K_FLAG: case K_HEADFUL: case K_HELP: case K_VERSION: case K_REMOVED:
        return false;
    default:
        return true;
    }
}

static bool cli_only(const struct optdef *d)
{
    return d->cli || d->kind == K_HELP || d->kind == K_VERSION || d->kind == K_CONFIG;
}

const char *opt_config_key(size_t i)
{
    for (size_t k = 0; k < NDEFS; k++) {
        const struct optdef *d = &defs[k];
        if (cli_only(d) || d->kind == K_ALIAS || d->kind == K_REMOVED)
            continue;
        if (i-- == 0)
            return d->lng;
    }
    return NULL;
}

/* ---- lists and defaults ---------------------------------------------------------------- */

static void list_add(opt_list *l, const char *s, size_t len)
{
    l->v = xrealloc(l->v, (size_t)(l->n + 1) * sizeof *l->v);
    l->v[l->n++] = xstrndup(s, len);
}

static void list_free(opt_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Replaces *dst with *src, leaving *src empty. */
static void list_move(opt_list *dst, opt_list *src)
{
    list_free(dst);
    *dst = *src;
    src->v = NULL;
    src->n = 0;
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? xstrdup(s) : NULL;
}

static void set_defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    o->locustfile = xstrdup("locustfile.json");
    o->num_users = 1;
    o->spawn_rate = 1.0;
    o->web_host = xstrdup("");
    o->web_port = 8089;
    o->autoquit = -1;
    o->master_bind_host = xstrdup("*");
    o->master_bind_port = 5557;
    o->expect_workers = 1;
    o->master_host = xstrdup("127.0.0.1");
    o->master_port = 5557;
    o->worker_report_interval = 3;
    o->master_timeout = 10;
    o->max_names = 10000;
    o->loglevel = LOG_INFO;
    o->exit_code_on_error = 1;
}

void opt_free(struct options *o)
{
    char **strs[] = {&o->locustfile, &o->config, &o->host, &o->stages, &o->web_host, &o->web_auth,
                     &o->tls_cert, &o->tls_key, &o->web_root, &o->master_bind_host,
                     &o->master_host, &o->csv_prefix, &o->html_file, &o->logfile,
                     &o->demo_target, &o->from_har, &o->junit_file};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    list_free(&o->user_classes);
    list_free(&o->tags);
    list_free(&o->exclude_tags);
    list_free(&o->thresholds);
    memset(o, 0, sizeof *o);
}

/* ---- parse state and errors ------------------------------------------------------------ */

enum src { SRC_CLI, SRC_ENV, SRC_FILE };

/* Where a value came from, for error messages. */
struct where {
    enum src src;
    const struct optdef *named; /* the option as the user named it (maybe an alias) */
    const char *name;           /* SRC_ENV: the variable; SRC_FILE: the path */
    int line, col;              /* SRC_FILE: 1-based position of the value (or the key) */
};

struct ctx {
    struct options *o;
    struct options dflt;        /* defaults, for "key =" which resets an option */
    char *err;
    size_t errlen;
    bool noticed[NDEFS];        /* deprecation lines already printed */
    bool layer_headful;         /* the source being applied set headful */
    int layer;                  /* counts sources applied (layer_begin) */
    int threshold_layer;        /* the source the thresholds come from */
    sbuf quote;                 /* scratch for quoted values in messages */
};

/* Keeps messages to one line whatever the input held (newlines in paths or values). */
static void fill_err(struct ctx *c, const char *msg)
{
    if (!c->err || c->errlen == 0)
        return;
    snprintf(c->err, c->errlen, "%s", msg);
    for (char *p = c->err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static int failf(struct ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failf(struct ctx *c, int code, const char *fmt, ...)
{
    sbuf b = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    fill_err(c, sbuf_str(&b));
    sbuf_free(&b);
    return code;
}

/* The value in Python repr style, 'like this', with control characters escaped. Valid
 * until the next call. */
static const char *q(struct ctx *c, const char *s)
{
    sbuf_reset(&c->quote);
    sbuf_putc(&c->quote, '\'');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            sbuf_puts(&c->quote, "\\n");
        else if (*p == '\t')
            sbuf_puts(&c->quote, "\\t");
        else if (*p == '\\' || *p == '\'')
            sbuf_printf(&c->quote, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            sbuf_printf(&c->quote, "\\x%02x", *p);
        else
            sbuf_putc(&c->quote, (char)*p);
    }
    sbuf_putc(&c->quote, '\'');
    return sbuf_str(&c->quote);
}

/* "-u/--users", "--web-port/-P" or "--csv": argparse's name for an option. */
static void put_names(sbuf *b, const struct optdef *d)
{
    if (d->shrt && !d->long_first)
        sbuf_printf(b, "-%c/", d->shrt);
    sbuf_printf(b, "--%s", d->lng);
    if (d->shrt && d->long_first)
        sbuf_printf(b, "/-%c", d->shrt);
}

/* Fails with a message prefixed by where the value came from. With subject, the option is
 * named too: "argument -u/--users: ", "LOCUST_USERS: ", "locust.conf:3:9: users: ".
 * Without it, the message is Locust's own sentence and stands alone on the command line. */
static int wfail(struct ctx *c, const struct where *w, bool subject, int code,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int wfail(struct ctx *c, const struct where *w, bool subject, int code,
                 const char *fmt, ...)
{
    sbuf b = SBUF_INIT;
    va_list ap;
    if (w->src == SRC_CLI && subject) {
        sbuf_puts(&b, "argument ");
        put_names(&b, w->named);
        sbuf_puts(&b, ": ");
    } else if (w->src == SRC_ENV) {
        sbuf_printf(&b, "%s: ", w->name);
    } else if (w->src == SRC_FILE) {
        sbuf_printf(&b, "%s:%d:%d: ", w->name, w->line, w->col);
        if (subject)
            sbuf_printf(&b, "%s: ", w->named->lng);
    }
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    fill_err(c, sbuf_str(&b));
    sbuf_free(&b);
    return code;
}

static void notice(struct ctx *c, const struct optdef *d)
{
    size_t i = (size_t)(d - defs);
    if (!c->noticed[i])
        fprintf(stderr, "%s\n", d->notice);
    c->noticed[i] = true;
}

/* ---- values ---------------------------------------------------------------------------- */

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* An optionally signed decimal integer that fits an int, nothing else. */
static int parse_int(const char *s, int *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    long long v = 0;
    if (!is_digit(*p))
        return -1;
    for (; is_digit(*p); p++) {
        v = v * 10 + (*p - '0');
        if (v > (long long)INT_MAX + 1)
            return -1;
    }
    if (*p)
        return -1;
    v = *s == '-' ? -v : v;
    if (v > INT_MAX || v < INT_MIN)
        return -1;
    *out = (int)v;
    return 0;
}

/* A finite decimal number with optional sign, fraction and exponent ("2", "-1.5", "1e3"). */
static int parse_float(const char *s, double *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    bool digits = false;
    for (; is_digit(*p); p++)
        digits = true;
    if (*p == '.')
        for (p++; is_digit(*p); p++)
            digits = true;
    if (!digits)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '+' || *p == '-';
        if (!is_digit(*p))
            return -1;
        while (is_digit(*p))
            p++;
    }
    if (*p)
        return -1;
    *out = strtod(s, NULL);
    return isfinite(*out) ? 0 : -1;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

/* PORT or HOST:PORT, the port 0..65535 (0 picks a free one, logged at start). */
static bool valid_demo_target(const char *s)
{
    const char *colon = strrchr(s, ':');
    int port;
    if (colon == s)
        return false;
    return parse_int(colon ? colon + 1 : s, &port) == 0 && is_digit(colon ? colon[1] : *s) &&
           port >= 0 && port <= 65535;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Parses "[a, b]" (or a plain value, one element) into *out. Elements are trimmed and may
 * be quoted; "[]" is empty. On error returns -1 with *bad set to the offset of the empty
 * element in s. */
static int parse_list(const char *s, opt_list *out, size_t *bad)
{
    size_t len = strlen(s);
    if (len < 2 || s[0] != '[' || s[len - 1] != ']') {
        list_add(out, s, len);
        return 0;
    }
    const char *p = s + 1, *end = s + len - 1;
    while (p < end && is_space(*p))
        p++;
    if (p == end)
        return 0;
    for (;;) {
        const char *e = p;
        while (e < end && *e != ',')
            e++;
        const char *a = p, *b = e;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        if (b - a >= 2 && (*a == '"' || *a == '\'') && b[-1] == *a) {
            a++;
            b--;
        }
        if (a == b) {
            *bad = (size_t)(a - s);
            return -1;
        }
        list_add(out, a, (size_t)(b - a));
        if (e == end)
            return 0;
        p = e + 1;
    }
}

/* ---- applying one value ---------------------------------------------------------------- */

static void mark_set(struct options *o, const struct optdef *d, bool given)
{
    if (d->set)
        *(bool *)((char *)o + d->set - 1) = given;
}

/* Puts an option back to its default, as "key =" in a config file or an empty env var. */
static void reset(struct ctx *c, const struct optdef *d)
{
    char *f = (char *)c->o + d->off;
    const char *df = (const char *)&c->dflt + d->off;
    switch (d->kind) {
    case K_FLAG:
        *(bool *)f = *(const bool *)df;
        break;
    case K_STR: case K_NSTR: case K_WEBHOST: case K_DEMO:
        set_str((char **)f, *(char *const *)df);
        break;
    case K_INT: case K_PROCESSES: case K_RUNTIME: case K_LOGLEVEL:
        *(int *)f = *(const int *)df;
        break;
    case K_FLOAT: case K_STOPTIME:
        *(double *)f = *(const double *)df;
        break;
    case K_LIST: case K_THRESHOLD:
        list_free((opt_list *)f);
        break;
    default:
        break;
    }
    mark_set(c->o, d, false);
}

static int apply_int(struct ctx *c, const struct where *w, const struct optdef *d,
                     const char *val, int *f)
{
    int v;
    if (parse_int(val, &v) != 0)
        return wfail(c, w, true, OPT_EXIT_USAGE, "invalid int value: %s", q(c, val));
    if (d->kind == K_PROCESSES && (v == 0 || v < -1))
        return wfail(c, w, true, OPT_EXIT_USAGE, "invalid value: %s (must be -1 or >= 1)",
                     q(c, val));
    if (d->kind == K_INT && (v < d->min || v > d->max)) {
        if (d->max == INT_MAX)
            return wfail(c, w, true, OPT_EXIT_USAGE, "invalid value: %s (must be >= %d)",
                         q(c, val), d->min);
        return wfail(c, w, true, OPT_EXIT_USAGE, "invalid value: %s (must be %d..%d)",
                     q(c, val), d->min, d->max);
    }
    *f = v;
    return 0;
}

static int apply_list(struct ctx *c, const struct where *w, const char *val, opt_list *list,
                      opt_list *f)
{
    opt_list tmp = {0};
    size_t bad;
    if (list) {
        list_move(f, list);
        return 0;
    }
    if (parse_list(val, &tmp, &bad) != 0) {
        struct where at = *w;
        at.col += (int)bad;
        list_free(&tmp);
        return wfail(c, &at, true, OPT_EXIT_USAGE, "empty element in list %s", q(c, val));
    }
    list_move(f, &tmp);
    return 0;
}

/* Thresholds: one per --threshold, or in a file or variable one or a [list]. Each is
 * checked here, so a typo is a usage error before anything starts. A source replaces the
 * thresholds of lower ones; within one source they add up. */
static int apply_threshold(struct ctx *c, const struct where *w, const char *val, opt_list *f)
{
    opt_list tmp = {0};
    size_t bad;
    int rc = 0;
    if (w->src == SRC_CLI)
        list_add(&tmp, val, strlen(val));
    else if (parse_list(val, &tmp, &bad) != 0)
        rc = wfail(c, w, true, OPT_EXIT_USAGE, "empty element in list %s", q(c, val));
    for (int i = 0; i < tmp.n && rc == 0; i++) {
        threshold t;
        char msg[256];
        size_t pos;
        if (threshold_parse(tmp.v[i], &t, msg, sizeof msg, &pos) == 0) {
            threshold_free(&t);
            continue;
        }
        struct where at = *w;
        if (w->src == SRC_FILE && tmp.n == 1 && val[0] != '[')
            at.col += (int)pos;
        rc = wfail(c, &at, true, OPT_EXIT_USAGE, "%s: %s (at character %zu)", q(c, tmp.v[i]),
                   msg, pos + 1);
    }
    if (rc == 0) {
        if (c->threshold_layer != c->layer)
            list_free(f);
        c->threshold_layer = c->layer;
        for (int i = 0; i < tmp.n; i++)
            list_add(f, tmp.v[i], strlen(tmp.v[i]));
    }
    list_free(&tmp);
    return rc;
}

/* Stores one value of the option w->named. val is NULL for a bare flag; list carries the
 * values of a list option given on the command line (taken over), else NULL. */
static int apply(struct ctx *c, const struct where *w, const char *val, opt_list *list)
{
    const struct optdef *d = target(w->named);
    char *f = (char *)c->o + d->off;
    long secs;
    double num;
    bool b = true;
    int rc = 0;

    if (w->named->kind == K_ALIAS)
        notice(c, w->named);
    if (w->src != SRC_CLI && val && !*val) {
        reset(c, d);
        return 0;
    }
    switch (d->kind) {
    case K_FLAG: case K_HEADFUL:
        if (val && parse_bool(val, &b) != 0)
            return wfail(c, w, true, OPT_EXIT_USAGE,
                         "invalid boolean value: %s (use true or false)", q(c, val));
        if (d->kind == K_FLAG)
            *(bool *)f = b;
        else
            c->layer_headful |= b;
        break;
    case K_STR: case K_NSTR:
        set_str((char **)f, d->kind == K_NSTR && !*val ? NULL : val);
        break;
    case K_WEBHOST:
        set_str((char **)f, strcmp(val, "*") == 0 ? "" : val);
        break;
    case K_DEMO:
        if (*val && !valid_demo_target(val))
            return wfail(c, w, true, OPT_EXIT_USAGE, "invalid value: %s (use PORT or HOST:PORT)",
                         q(c, val));
        set_str((char **)f, *val ? val : NULL);
        break;
    case K_INT: case K_PROCESSES:
        rc = apply_int(c, w, d, val, (int *)f);
        break;
    case K_FLOAT:
        if (parse_float(val, &num) != 0)
            return wfail(c, w, true, OPT_EXIT_USAGE, "invalid float value: %s", q(c, val));
        if (num <= 0)
            return wfail(c, w, true, OPT_EXIT_USAGE, "invalid value: %s (must be > 0)",
                         q(c, val));
        *(double *)f = num;
        break;
    case K_LIST:
        rc = apply_list(c, w, val, list, (opt_list *)f);
        break;
    case K_THRESHOLD:
        rc = apply_threshold(c, w, val, (opt_list *)f);
        break;
    case K_RUNTIME:
        if (timespan_parse(val, &secs) != 0)
            return wfail(c, w, false, OPT_EXIT_VALIDATION,
                         "Valid --run-time formats are: 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.");
        if (secs > INT_MAX)
            return wfail(c, w, true, OPT_EXIT_VALIDATION,
                         "too long: %s (at most %d seconds)", q(c, val), INT_MAX);
        *(int *)f = (int)secs;
        break;
    case K_LOGLEVEL:
        if (log_level_parse(val) < 0)
            return wfail(c, w, false, OPT_EXIT_VALIDATION,
                         "Invalid --loglevel. Valid values are: DEBUG/INFO/WARNING/ERROR/CRITICAL");
        *(int *)f = log_level_parse(val);
        break;
    case K_STOPTIME:
        if (timespan_parse_seconds(val, (double *)f) != 0)
            return wfail(c, w, true, OPT_EXIT_USAGE,
                         "invalid value: %s (use seconds, e.g. 2.5, or a time span, e.g. 1m30s)",
                         q(c, val));
        break;
    default:
        break;
    }
    if (rc == 0)
        mark_set(c->o, d, true);
    return rc;
}

/* Every source is applied as one layer: headful set in it cancels headless from the same
 * or a lower layer, while headless from a higher layer wins again. */
static void layer_begin(struct ctx *c)
{
    c->layer_headful = false;
    c->layer++;
}

static void layer_end(struct ctx *c)
{
    if (c->layer_headful)
        c->o->headless = false;
}

/* ---- config files ---------------------------------------------------------------------- */

static const char *skip_space(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

/* One line of a ConfigArgParse-style file: "key = value", "key: value", "key value", a
 * bare "key" (true), comments (# or ; at the start, or after a space), [sections]. */
static int apply_line(struct ctx *c, const char *path, int ln, const char *line)
{
    const char *p = skip_space(line), *key = p, *v, *e;
    struct where w = {.src = SRC_FILE, .name = path, .line = ln};
    bool sep = false;

    if (!*p || *p == '#' || *p == ';' || *p == '[' || strncmp(p, "---", 3) == 0)
        return 0;
    while (*p && !is_space(*p) && !strchr(":=;#", *p))
        p++;
    w.col = (int)(key - line) + 1;
    if (p == key)
        return wfail(c, &w, false, OPT_EXIT_USAGE, "expected 'key = value'");
    if (*p && !is_space(*p) && *p != ':' && *p != '=') {
        w.col = (int)(p - line) + 1;
        return wfail(c, &w, false, OPT_EXIT_USAGE, "expected '=', ':' or a space after the key");
    }
    w.named = find_long(key, (size_t)(p - key));
    if (!w.named) {
        char *k = xstrndup(key, (size_t)(p - key));
        int rc = wfail(c, &w, false, OPT_EXIT_USAGE, "unknown key %s", q(c, k));
        free(k);
        return rc;
    }
    if (cli_only(w.named))
        return wfail(c, &w, false, OPT_EXIT_USAGE, "'%s' can only be given on the command line",
                     w.named->lng);
    if (w.named->kind == K_REMOVED)
        return wfail(c, &w, false, OPT_EXIT_VALIDATION, "%s", step_load_msg);
    v = skip_space(p);
    if (*v == ':' || *v == '=') {
        sep = true;
        v = skip_space(v + 1);
    }
    for (e = v; *e && !((*e == '#' || *e == ';') && is_space(e[-1])); e++)
        ;
    while (e > v && is_space(e[-1]))
        e--;
    if (e == v && !sep) {
        if (takes_value(w.named))
            return wfail(c, &w, true, OPT_EXIT_USAGE, "expected one argument");
        return apply(c, &w, NULL, NULL);
    }
    if (e - v >= 2 && (*v == '"' || *v == '\'') && e[-1] == *v) {
        v++;
        e--;
    }
    w.col = (int)(v - line) + 1;
    char *val = xstrndup(v, (size_t)(e - v));
    int rc = apply(c, &w, val, NULL);
    free(val);
    return rc;
}

static int read_file(const char *path, sbuf *out)
{
    FILE *f = fopen(path, "rb");
    char buf[4096];
    size_t n;
    if (!f)
        return -1;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sbuf_add(out, buf, n);
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    errno = saved;
    return bad ? -1 : 0;
}

/* Applies a config file. A default file (optional) that does not exist, or is not a regular
 * file, is skipped; the --config file must be readable. */
static int apply_file(struct ctx *c, const char *path, bool optional)
{
    sbuf text = SBUF_INIT;
    struct stat st;
    int rc = 0, ln = 1;

    if (optional && (stat(path, &st) != 0 || !S_ISREG(st.st_mode)))
        return 0;
    if (read_file(path, &text) != 0) {
        rc = optional ? failf(c, OPT_EXIT_USAGE, "%s: can't read: %s", path, strerror(errno))
                      : failf(c, OPT_EXIT_USAGE, "argument --config: can't open %s: %s",
                              q(c, path), strerror(errno));
        sbuf_free(&text);
        return rc;
    }
    layer_begin(c);
    for (size_t pos = 0; rc == 0 && pos < text.len; ln++) {
        char *p = text.s + pos, *end = text.s + text.len;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        char *nul = memchr(p, '\0', (size_t)(eol - p));
        if (nul) {
            struct where w = {.src = SRC_FILE, .name = path, .line = ln,
                              .col = (int)(nul - p) + 1};
            rc = wfail(c, &w, false, OPT_EXIT_USAGE, "unexpected NUL byte");
            break;
        }
        *eol = '\0';
        if (eol > p && eol[-1] == '\r')
            eol[-1] = '\0';
        rc = apply_line(c, path, ln, p);
        pos = (size_t)(eol - text.s) + 1;
    }
    layer_end(c);
    sbuf_free(&text);
    return rc;
}

/* ---- environment ----------------------------------------------------------------------- */

static const char *env_get(char **env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* Deprecated names go first so that the current name wins when both are set. */
static int apply_env(struct ctx *c, char **env)
{
    int rc = 0;
    layer_begin(c);
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t i = 0; i < NDEFS && rc == 0; i++) {
            const struct optdef *d = &defs[i];
            const char *val = d->env ? env_get(env, d->env) : NULL;
            if (!val || (d->kind == K_ALIAS) != (pass == 0))
                continue;
            struct where w = {.src = SRC_ENV, .named = d, .name = d->env};
            rc = apply(c, &w, val, NULL);
        }
    }
    layer_end(c);
    return rc;
}

/* ---- command line ---------------------------------------------------------------------- */

struct cli_item {
    const struct optdef *d; /* as named on the command line */
    const char *val;        /* NULL for flags and lists */
    opt_list list;          /* list values, split at commas */
};

struct cli {
    struct cli_item *items;
    int n;
    opt_list positional;
    sbuf unknown;                  /* unrecognized arguments, space-separated */
    bool removed;                  /* a step-load flag was given */
    const char *config;
    bool help, version;
};

static void cli_free(struct cli *cl)
{
    for (int i = 0; i < cl->n; i++)
        list_free(&cl->items[i].list);
    free(cl->items);
    list_free(&cl->positional);
    sbuf_free(&cl->unknown);
}

static struct cli_item *cli_push(struct cli *cl, const struct optdef *d, const char *val)
{
    cl->items = xrealloc(cl->items, (size_t)(cl->n + 1) * sizeof *cl->items);
    cl->items[cl->n] = (struct cli_item){.d = d, .val = val};
    return &cl->items[cl->n++];
}

/* argparse's rule: "-x", "--x" are options; "-", "-5" and "-1.5" are values. */
static bool option_like(const char *a)
{
    const char *p = a + 1;
    if (a[0] != '-' || a[1] == '\0')
        return false;
    while (is_digit(*p))
        p++;
    if (*p == '.' && is_digit(p[1]))
        for (p++; is_digit(*p); p++)
            ;
    return !(*p == '\0' && p > a + 1 && (is_digit(a[1]) || a[1] == '.'));
}

/* Adds the comma-separated values of one argument ("a,b"); "" adds none. */
static int cli_split(struct ctx *c, const struct optdef *d, const char *tok, opt_list *l)
{
    const char *p = tok, *e;
    if (!*tok)
        return 0;
    do {
        e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) {
            struct where w = {.src = SRC_CLI, .named = d};
            return wfail(c, &w, true, OPT_EXIT_USAGE, "empty tag in %s", q(c, tok));
        }
        list_add(l, p, len);
        if (e)   /* NULL + 1 is undefined even when unused */
            p = e + 1;
    } while (e);
    return 0;
}

/* Records option d, given as argv[*i] with an explicit value (after '=' or glued to a short
 * flag) or none, taking its value from the next arguments if needed. */
static int cli_option(struct ctx *c, struct cli *cl, const struct optdef *d,
                      const char *explicit_val, int argc, char **argv, int *i)
{
    struct where w = {.src = SRC_CLI, .named = d};
    const struct optdef *t = target(d);

    if (d->kind == K_REMOVED) {
        cl->removed = true;
        return 0;
    }
    if (!takes_value(d)) {
        if (explicit_val)
            return wfail(c, &w, true, OPT_EXIT_USAGE, "ignored explicit argument %s",
                         q(c, explicit_val));
        if (d->kind == K_HELP)
            cl->help = true;
        else if (d->kind == K_VERSION)
            cl->version = true;
        else
            cli_push(cl, d, NULL);
        return 0;
    }
    if (t->kind == K_LIST) {
        struct cli_item *it = cli_push(cl, d, NULL);
        if (explicit_val)
            return cli_split(c, d, explicit_val, &it->list);
        for (; *i + 1 < argc && !option_like(argv[*i + 1]) && strcmp(argv[*i + 1], "--"); ++*i)
            if (cli_split(c, d, argv[*i + 1], &it->list) != 0)
                return OPT_EXIT_USAGE;
        return 0;
    }
    if (!explicit_val) {
        if (*i + 1 >= argc || option_like(argv[*i + 1]) || strcmp(argv[*i + 1], "--") == 0)
            return wfail(c, &w, true, OPT_EXIT_USAGE, "expected one argument");
        explicit_val = argv[++*i];
    }
    if (t->kind == K_CONFIG)
        cl->config = explicit_val;
    else
        cli_push(cl, d, explicit_val);
    return 0;
}

static int cli_long(struct ctx *c, struct cli *cl, int argc, char **argv, int *i)
{
    const char *a = argv[*i] + 2, *eq = strchr(a, '=');
    const struct optdef *d = find_long(a, eq ? (size_t)(eq - a) : strlen(a));
    if (!d) {
        sbuf_printf(&cl->unknown, "%s%s", cl->unknown.len ? " " : "", argv[*i]);
        return 0;
    }
    return cli_option(c, cl, d, eq ? eq + 1 : NULL, argc, argv, i);
}

/* "-u5", "-u=5", "-u 5" and clusters of flags such as "-lu5". */
static int cli_short(struct ctx *c, struct cli *cl, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    for (size_t j = 1; a[j];) {
        const struct optdef *d = find_short(a[j]);
        if (!d && j == 1) {
            sbuf_printf(&cl->unknown, "%s%s", cl->unknown.len ? " " : "", a);
            return 0;
        }
        if (!d) {
            struct where w = {.src = SRC_CLI, .named = find_short(a[j - 1])};
            return wfail(c, &w, true, OPT_EXIT_USAGE, "ignored explicit argument %s",
                         q(c, a + j));
        }
        if (takes_value(d)) {
            const char *rest = a + j + 1;
            rest += *rest == '=';
            return cli_option(c, cl, d, a[j + 1] ? rest : NULL, argc, argv, i);
        }
        int rc = cli_option(c, cl, d, NULL, argc, argv, i);
        if (rc || cl->help || cl->version)
            return rc;
        j++;
    }
    return 0;
}

/* Splits argv into options and positional class names. Stops at -h or -V, as argparse
 * does; unknown flags are reported together at the end. */
static int cli_scan(struct ctx *c, struct cli *cl, int argc, char **argv)
{
    bool rest_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (rest_positional || !option_like(a))
            list_add(&cl->positional, a, strlen(a));
        else if (strcmp(a, "--") == 0)
            rest_positional = true;
        else if (a[1] == '-')
            rc = cli_long(c, cl, argc, argv, &i);
        else
            rc = cli_short(c, cl, argc, argv, &i);
        if (rc)
            return rc;
        if (cl->help || cl->version)
            return 0;
    }
    if (cl->unknown.len)
        return failf(c, OPT_EXIT_USAGE, "unrecognized arguments: %s", sbuf_str(&cl->unknown));
    if (cl->removed)
        return failf(c, OPT_EXIT_VALIDATION, "%s", step_load_msg);
    return 0;
}

static int apply_cli(struct ctx *c, struct cli *cl)
{
    int rc = 0;
    layer_begin(c);
    for (int i = 0; i < cl->n && rc == 0; i++) {
        struct where w = {.src = SRC_CLI, .named = cl->items[i].d};
        rc = apply(c, &w, cl->items[i].val, target(cl->items[i].d)->kind == K_LIST
                                                 ? &cl->items[i].list : NULL);
    }
    layer_end(c);
    if (cl->positional.n)
        list_move(&c->o->user_classes, &cl->positional);
    return rc;
}

/* ---- validation and entry point -------------------------------------------------------- */

/* Checks between options, in the order Locust makes them. */
static int validate(struct ctx *c)
{
    const struct options *o = c->o;
    const char *colon = o->web_auth ? strchr(o->web_auth, ':') : NULL;

    if (o->stats_history_enabled && !o->csv_prefix)
        return failf(c, OPT_EXIT_USAGE, "'--csv-full-history' requires '--csv'.");
    if (o->autoquit != -1 && !o->autostart)
        return failf(c, OPT_EXIT_VALIDATION,
                     "--autoquit is only meaningful in combination with --autostart");
    if (o->master && o->worker)
        return failf(c, OPT_EXIT_CONFLICT,
                     "The --master argument cannot be combined with --worker");
    if (o->master && o->processes)
        return failf(c, OPT_EXIT_VALIDATION,
                     "--master cannot be combined with --processes. Remove --master, as it is "
                     "implicit as long as --worker is not set.");
    if (o->expect_workers_max_wait && !o->set_expect_workers)
        return failf(c, OPT_EXIT_CONFLICT, "The --expect-workers-max-wait argument only makes "
                     "sense when combined with --expect-workers");
    if (o->set_run_time && o->worker)
        return failf(c, OPT_EXIT_VALIDATION,
                     "--run-time should be specified on the master node, and not on worker nodes");
    if (o->web_auth && (!colon || strchr(colon + 1, ':')))
        return failf(c, OPT_EXIT_VALIDATION,
                     "Credentials supplied with --web-auth should have the format: "
                     "username:password");
    if (o->tls_cert && !o->tls_key)
        return failf(c, OPT_EXIT_VALIDATION, "--tls-cert requires --tls-key (HTTPS needs both)");
    if (o->tls_key && !o->tls_cert)
        return failf(c, OPT_EXIT_VALIDATION, "--tls-key requires --tls-cert (HTTPS needs both)");
    if (o->har_static && !o->from_har)
        return failf(c, OPT_EXIT_VALIDATION, "--har-static only applies to --from-har");
    return OPT_OK;
}

static int parse_sources(struct ctx *c, struct cli *cl, int argc, char **argv, char **env,
                         const char *home, const char *cwd_conf)
{
    int rc = cli_scan(c, cl, argc, argv);
    if (rc || cl->help || cl->version) {
        c->o->help = cl->help;
        c->o->version = cl->version;
        return rc;
    }
    if (home) {
        char *path = xmalloc(strlen(home) + sizeof "/.locust.conf");
        sprintf(path, "%s/.locust.conf", home);
        rc = apply_file(c, path, true);
        free(path);
    }
    if (rc == 0 && cwd_conf)
        rc = apply_file(c, cwd_conf, true);
    if (rc == 0 && cl->config) {
        set_str(&c->o->config, cl->config);
        rc = apply_file(c, cl->config, false);
    }
    if (rc == 0)
        rc = apply_env(c, env);
    if (rc == 0)
        rc = apply_cli(c, cl);
    return rc ? rc : validate(c);
}

int opt_parse(struct options *o, int argc, char **argv, char **env, const char *home,
              const char *cwd_conf, char *err, size_t errlen)
{
    struct ctx c = {.o = o, .err = err, .errlen = errlen};
    struct cli cl = {0};
    if (err && errlen)
        err[0] = '\0';
    set_defaults(o);
    set_defaults(&c.dflt);
    int rc = parse_sources(&c, &cl, argc, argv, env, home, cwd_conf);
    cli_free(&cl);
    opt_free(&c.dflt);
    sbuf_free(&c.quote);
    return rc;
}

/* ---- --help ---------------------------------------------------------------------------- */

enum { HELP_COL = 24, HELP_WIDTH = 98 };

/* Length of the word at p; "[default: 8089]" counts as one word. */
static size_t word_len(const char *p)
{
    size_t n = 0;
    int depth = 0;
    for (; p[n] && (p[n] != ' ' || depth > 0); n++)
        depth += (p[n] == '[') - (p[n] == ']');
    return n;
}

/* Writes text word-wrapped, the cursor being at column indent already. */
static void wrap(FILE *f, const char *text, int indent)
{
    int col = indent;
    bool first = true;
    for (const char *p = text; *p;) {
        while (*p == ' ')
            p++;
        size_t len = word_len(p);
        if (!len)
            break;
        if (!first && col + 1 + (int)len > HELP_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            first = true;
        }
        fprintf(f, "%s%.*s", first ? "" : " ", (int)len, p);
        col += (int)len + !first;
        first = false;
        p += len;
    }
    fputc('\n', f);
}

static void put_form(sbuf *b, const struct optdef *d, bool is_short)
{
    const char *mv = d->kind == K_LIST ? "[TAG ...]" : d->metavar;
    if (b->len)
        sbuf_puts(b, ", ");
    if (is_short)
        sbuf_printf(b, "-%c", d->shrt);
    else
        sbuf_printf(b, "--%s", d->lng);
    if (mv)
        sbuf_printf(b, " %s", mv);
}

static void help_option(FILE *f, const struct optdef *d)
{
    sbuf inv = SBUF_INIT, text = SBUF_INIT;
    if (d->shrt && !d->long_first)
        put_form(&inv, d, true);
    put_form(&inv, d, false);
    if (d->shrt && d->long_first)
        put_form(&inv, d, true);
    sbuf_puts(&text, d->help);
    if (d->dflt)
        sbuf_printf(&text, " [default: %s]", d->dflt);
    if (d->env)
        sbuf_printf(&text, " [env: %s]", d->env);
    if (inv.len <= HELP_COL - 4)
        fprintf(f, "  %-*s", HELP_COL - 2, sbuf_str(&inv));
    else
        fprintf(f, "  %s\n%*s", sbuf_str(&inv), HELP_COL, "");
    wrap(f, sbuf_str(&text), HELP_COL);
    sbuf_free(&inv);
    sbuf_free(&text);
}

void opt_print_help(void *stream)
{
    FILE *f = stream;
    fputs("Usage: cicada [OPTIONS] [UserClass ...]\n", f);
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        fprintf(f, "\n%s:\n", groups[g].title);
        if (groups[g].desc) {
            fputs("  ", f);
            wrap(f, groups[g].desc, 2);
            fputc('\n', f);
        }
        for (size_t i = 0; i < NDEFS; i++)
            if (defs[i].help && defs[i].group == g)
                help_option(f, &defs[i]);
    }
    fputs("\nUser classes:\n", f);
    fprintf(f, "  %-*s", HELP_COL - 2, "UserClass");
    wrap(f, "Optionally specify which User classes that should be used (available User "
            "classes can be listed with -l or --list)", HELP_COL);
    fputs("\nConfig files ~/.locust.conf, ./locust.conf and --config take the long names as keys "
          "(users = 10);\nprecedence: command line > LOCUST_* environment > --config > "
          "./locust.conf > ~/.locust.conf.\n", f);
    fputs("Deprecated names, still accepted with a notice: -c/--clients (-u), --hatch-rate (-r),\n"
          "--no-web (--headless), --slave (--worker), --expect-slaves (--expect-workers).\n", f);
    fputs("\nExit codes: 0 a clean run; --exit-code-on-error (default 1) when a request failed "
          "or a step\nraised an exception; 1 bad settings; 2 command-line errors; 3 a threshold "
          "failed or had no\nsamples (this wins over the failures code).\n", f);
}
