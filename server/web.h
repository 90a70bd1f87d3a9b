/* The web dashboard and its JSON API (docs/api.md) on the engine's loop.
 *
 * The web module only reads engine state (stats, runner, history, scenario) and asks the
 * app to act (start, stop, reset) through the callbacks below, so the app stays the one
 * place that decides what a test is. */
#ifndef CICADA_WEB_H
#define CICADA_WEB_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "health.h"
#include "history.h"
#include "master.h"
#include "runner.h"
#include "scenario.h"
#include "stats.h"
#include "threshold.h"

typedef struct web web;

/* What the dashboard shows and how it acts. Everything is borrowed and must outlive the
 * web server. */
typedef struct web_env {
    struct ev_loop *loop;
    stats *stats;
    runner *runner;
    master *master;             /* a master's worker table, or NULL when local */
    const health *health;       /* the generator's own measurements, or NULL */
    bool open_model;            /* tests follow an arrival rate (extra percentiles) */
    const char *workload;       /* how tests started here run ("a load shape: ..."), or NULL */
    history *history;
    scenario *scenario;
    /* settings */
    const char *host;           /* listen address; "" = all interfaces */
    int port;
    const char *auth;           /* "user:pass" for Basic auth, or NULL */
    const char *tls_cert;       /* PEM files for HTTPS, or NULL */
    const char *tls_key;
    const char *web_root;       /* serve web/ from this directory instead of the binary */
    const char *history_csv;    /* the --csv-full-history file, or NULL */
    int num_users;              /* -u for the form, or -1 */
    double spawn_rate;          /* -r for the form, or -1 */
    int run_time;               /* -t for the form, or 0 */
    bool class_picker;
    /* actions, answered by the app */
    void *app;
    /* Starts or edits a test. host NULL keeps the current one; run_time 0 = none; classes
     * (NULL-terminated, or NULL for all) with the class picker. Returns 0, 1 when the test
     * started follows the load shape (the form's counts unused), or -1 with a message in
     * err (nothing changed). */
    int (*swarm)(void *app, unsigned users, double rate, const char *host, long run_time,
                 char **classes, char *err, size_t errlen);
    void (*stop)(void *app);
    void (*reset)(void *app);
    /* The host requests go to now (for the header), or NULL when unknown. */
    const char *(*current_host)(void *app);
    /* Writes the HTML report into out. */
    void (*report)(void *app, void *out_sbuf, bool download);
    /* The test's thresholds, evaluated by the app every second (NULL: none). */
    const threshold_set *thresholds;
} web_env;

/* Starts serving. Returns NULL with one line in err ("bind 0.0.0.0:8089: Address already
 * in use", "--tls-cert x.pem: No such file or directory"). */
web *web_start(const web_env *env, char *err, size_t errlen);

/* The port bound (useful with port 0). */
int web_port(const web *w);

/* Stops serving and frees everything. NULL is allowed. */
void web_stop(web *w);

#endif
