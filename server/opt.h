/* Options: the command line, locust.conf files and LOCUST_* environment variables, merged
 * with Locust 2.12's precedence (CLI > env > --config > ./locust.conf > ~/.locust.conf >
 * defaults) and validated before anything starts.
 *
 * Every Locust 2.12 flag that applies is here under its Locust name ("dest" in Locust's
 * parser), plus the newer --json and --processes and a few of cicada's own. */
#ifndef CICADA_OPT_H
#define CICADA_OPT_H

#include <stdbool.h>
#include <stddef.h>

/* A string list (-T a b, tags = [a, b], positional class names). Owned by struct options. */
typedef struct opt_list {
    char **v;
    int n;
} opt_list;

struct options {
    /* Common */
    char *locustfile;          /* -f/--locustfile; default "locustfile.json" */
    char *config;              /* --config */
    char *host;                /* -H/--host; NULL when not given */
    char *stages;              /* --stages: a load shape, overriding the scenario's; or NULL */
    double arrival_rate;       /* --arrival-rate: iterations/s (open model); 0 = not given */
    int num_users;             /* -u/--users (-c/--clients deprecated); see set_num_users */
    double spawn_rate;         /* -r/--spawn-rate (--hatch-rate deprecated) */
    int run_time;              /* -t/--run-time, whole seconds; 0 = no limit */
    bool list_commands;        /* -l/--list */
    opt_list user_classes;     /* positional: run only these classes */

    /* Web UI */
    char *web_host;            /* --web-host; "" = all interfaces ("*" is stored as "") */
    int web_port;              /* -P/--web-port; 8089 */
    bool headless;             /* --headless (--no-web deprecated); --headful clears it */
    bool autostart;            /* --autostart */
    int autoquit;              /* --autoquit seconds; -1 = never */
    char *web_auth;            /* --web-auth user:pass */
    char *tls_cert, *tls_key;  /* --tls-cert, --tls-key */
    bool class_picker;         /* --class-picker */
    char *web_root;            /* --web-root DIR (cicada): serve web/ from disk */

    /* Master */
    bool master;               /* --master */
    char *master_bind_host;    /* --master-bind-host; "*" */
    int master_bind_port;      /* --master-bind-port; 5557 */
    int expect_workers;        /* --expect-workers (--expect-slaves deprecated); 1 */
    int expect_workers_max_wait; /* --expect-workers-max-wait seconds; 0 = forever */
    bool enable_rebalancing;   /* --enable-rebalancing */

    /* Worker */
    bool worker;               /* --worker (--slave deprecated) */
    char *master_host;         /* --master-host; "127.0.0.1" */
    int master_port;           /* --master-port; 5557 */
    int processes;             /* --processes N (-1 = one per CPU); 0 = not given */
    double worker_report_interval; /* --worker-report-interval seconds; 3 */
    double master_timeout;     /* --master-timeout seconds; 10 */
    bool reconnect;            /* --reconnect: a worker waits for its master, never exits */

    /* Tag filtering */
    opt_list tags;             /* -T/--tags */
    opt_list exclude_tags;     /* -E/--exclude-tags */

    /* Statistics and output */
    char *csv_prefix;          /* --csv */
    bool stats_history_enabled; /* --csv-full-history (requires --csv) */
    bool print_stats;          /* --print-stats */
    bool only_summary;         /* --only-summary */
    bool reset_stats;          /* --reset-stats */
    char *html_file;           /* --html */
    bool json;                 /* --json: final stats as JSON on stdout */
    opt_list thresholds;       /* --threshold (cicada): pass criteria, each already checked
                                * with threshold_parse */
    char *junit_file;          /* --junit FILE (cicada): thresholds as JUnit XML */
    int max_names;             /* --max-names (cicada): distinct request names kept; 10000 */

    /* Logging */
    bool skip_log_setup;       /* --skip-log-setup */
    int loglevel;              /* -L/--loglevel, as enum log_level; LOG_INFO */
    char *logfile;             /* --logfile */

    /* Step load (removed in Locust 1.3): any of these is an error */

    /* Other */
    bool show_task_ratio;      /* --show-task-ratio */
    bool show_task_ratio_json; /* --show-task-ratio-json */
    bool version;              /* -V/--version */
    bool help;                 /* -h/--help */
    int exit_code_on_error;    /* --exit-code-on-error; 1 */
    double stop_timeout;       /* -s/--stop-timeout seconds; 0 = stop at once */
    bool equal_weights;        /* --equal-weights */
    char *demo_target;         /* --demo-target [HOST:]PORT (cicada): serve the demo app */
    char *from_har;            /* --from-har FILE (cicada): print a scenario made from a HAR
                                * recording, and exit; command line only */
    bool har_static;           /* --har-static (cicada): keep static assets; command line only */

    /* Which options were given anywhere (CLI, env or a config file), for defaults that
     * depend on the mode (headless -u defaults to 1; the web form is prefilled).
     * set_expect_workers: --expect-workers-max-wait is only valid with it. */
    bool set_num_users, set_spawn_rate, set_run_time, set_host, set_stop_timeout;
    bool set_expect_workers;
    bool set_master_bind_host;  /* --processes binds 127.0.0.1 unless it was given */
};

/* Exit codes for opt_parse failures, as Locust: 2 for usage errors (unknown flag, bad
 * value, bad config line), 1 for validation errors between options, 255 for the mode
 * conflicts Locust exits -1 for (--master with --worker, --expect-workers-max-wait
 * without --expect-workers). */
enum { OPT_OK = 0, OPT_EXIT_VALIDATION = 1, OPT_EXIT_USAGE = 2, OPT_EXIT_CONFLICT = 255 };

/* Fills *o from defaults, ~/.locust.conf, ./locust.conf, --config, the environment and
 * argv, in that order of increasing precedence, then validates the combination.
 * env is a NULL-terminated "KEY=value" array (environ). home is the directory for
 * ~/.locust.conf (NULL to skip it); cwd_conf is the path of ./locust.conf (NULL to skip).
 * Missing default files are skipped; a missing --config file is an error. An empty value
 * in a config file or LOCUST_* variable ("host =") puts the option back to its default.
 * A higher source replaces a list and can set a flag to false; headful in a source cancels
 * headless from the same or a lower one. With -h or -V, parsing stops there: o->help or
 * o->version is set and nothing else is read.
 * Deprecation notices are written to stderr as one line each (once per name).
 * *o is overwritten (not freed) first. Returns OPT_OK, or an exit code with a one-line
 * message (naming the flag, variable, or file:line:column) in err. *o must be released
 * with opt_free in both cases; its pointers do not refer to argv or env. */
int opt_parse(struct options *o, int argc, char **argv, char **env, const char *home,
              const char *cwd_conf, char *err, size_t errlen);

/* Releases everything *o owns and zeroes it (a second call does nothing). */
void opt_free(struct options *o);

/* Writes the --help text to the given stream (a FILE *). */
void opt_print_help(void *stream);

/* The config-file keys opt_parse accepts (long option names without "--", e.g.
 * "spawn-rate"), in --help order, deprecated names excluded. Returns the i-th key, or NULL
 * when i is past the end. The strings are static. */
const char *opt_config_key(size_t i);

#endif
