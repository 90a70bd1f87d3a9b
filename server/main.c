/* cicada: Locust, native. The command line entry point. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "demo.h"
#include "dispatch.h"
#include "har.h"
#include "json.h"
#include "log.h"
#include "opt.h"
#include "ratio.h"
#include "rng.h"
#include "sbuf.h"
#include "scenario.h"
#include "version.h"
#include "xalloc.h"

extern char **environ;

/* --list, --show-task-ratio, --show-task-ratio-json: print and exit 0. */
static int print_info(const struct options *o, const scenario *sc)
{
    if (o->list_commands) {
        printf("Available Users:\n");
        for (int i = 0; i < sc->nall; i++)
            printf("    %s\n", sc->all[i].name);
        return 0;
    }
    dispatch_class *dc = xcalloc((size_t)sc->nrun, sizeof *dc);
    unsigned *counts = xcalloc((size_t)sc->nrun, sizeof *counts);
    for (int i = 0; i < sc->nrun; i++) {
        dc[i].name = sc->run[i]->name;
        dc[i].weight = sc->run[i]->weight;
        dc[i].fixed_count = (unsigned)sc->run[i]->fixed_count;
    }
    dispatch_ratio_counts(dc, (size_t)sc->nrun, o->set_num_users ? (unsigned)o->num_users : 0,
                          counts);
    sbuf b = SBUF_INIT;
    if (o->show_task_ratio)
        ratio_text(&b, sc->run, counts, sc->nrun);
    else {
        ratio_json(&b, sc->run, counts, sc->nrun, 4, JSON_W_ASCII);
        sbuf_putc(&b, '\n');
    }
    fputs(sbuf_str(&b), stdout);
    sbuf_free(&b);
    free(counts);
    free(dc);
    return 0;
}

/* --from-har: the scenario on stdout; warnings and a summary on stderr. Returns the exit
 * code. */
static int from_har(const struct options *o)
{
    har_opts ho = {.keep_static = o->har_static};
    har_report rep;
    char err[1024];
    char *text = har_convert(o->from_har, &ho, &rep, err, sizeof err);
    const char *w = sbuf_str(&rep.warnings);
    for (const char *nl; (nl = strchr(w, '\n')); w = nl + 1)
        fprintf(stderr, "cicada: warning: %.*s\n", (int)(nl - w), w);
    int rc = 0;
    if (!text) {
        fprintf(stderr, "cicada: error: %s\n", err);
        rc = 1;
    } else if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "cicada: error: cannot write the scenario to stdout\n");
        rc = 1;
    } else {
        sbuf sum = SBUF_INIT;
        har_summary(&rep, &sum);
        fprintf(stderr, "cicada: %s: %s\n", o->from_har, sbuf_str(&sum));
        sbuf_free(&sum);
    }
    free(text);
    har_report_free(&rep);
    return rc;
}

/* Modes that later parts of cicada provide; refused clearly until then. */
static const char *unsupported(const struct options *o)
{
    if (o->master || o->worker || o->processes)
        return "distributed runs (--master, --worker, --processes) are not available in this "
               "build of cicada";
    if (o->json)
        return "--json is not available in this build of cicada";
    return NULL;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    struct options o;
    char err[1024];
    int rc = opt_parse(&o, argc, argv, environ, getenv("HOME"), "locust.conf", err, sizeof err);
    if (rc != OPT_OK) {
        fprintf(stderr, "cicada: error: %s\n", err);
        opt_free(&o);
        return rc;
    }
    if (o.help) {
        opt_print_help(stdout);
        opt_free(&o);
        return 0;
    }
    if (o.version) {
        printf("cicada %s\n", cicada_version);
        opt_free(&o);
        return 0;
    }
    if (o.from_har) {
        rc = from_har(&o);
        opt_free(&o);
        return rc;
    }
    if (o.demo_target) {
        log_setup(o.loglevel, o.logfile, o.skip_log_setup, err, sizeof err);
        rc = demo_main(o.demo_target);
        log_close();
        opt_free(&o);
        return rc;
    }
    if (log_setup(o.loglevel, o.logfile, o.skip_log_setup, err, sizeof err) != 0) {
        fprintf(stderr, "cicada: error: %s\n", err);
        opt_free(&o);
        return 1;
    }
    rng_seed(0);

    bool is_default = strcmp(o.locustfile, SCENARIO_DEFAULT_FILE) == 0;
    char *path = scenario_find(o.locustfile, is_default, err, sizeof err);
    scenario *sc = NULL;
    if (path) {
        scenario_opts so = {
            .classes = o.user_classes.v, .nclasses = o.user_classes.n,
            .tags = o.tags.v, .ntags = o.tags.n,
            .exclude_tags = o.exclude_tags.v, .nexclude_tags = o.exclude_tags.n,
            .equal_weights = o.equal_weights,
        };
        sc = scenario_load(path, &so, err, sizeof err);
        free(path);
    }
    if (!sc) {
        fprintf(stderr, "cicada: error: %s\n", err);
        opt_free(&o);
        log_close();
        return 1;
    }

    if (o.list_commands || o.show_task_ratio || o.show_task_ratio_json) {
        rc = print_info(&o, sc);
    } else if (unsupported(&o)) {
        fprintf(stderr, "cicada: error: %s\n", unsupported(&o));
        rc = 1;
    } else {
        app *a = app_new(&o, sc, err, sizeof err, &rc);
        if (!a) {
            fprintf(stderr, "cicada: error: %s\n", err);
        } else {
            app_run(a);
            rc = app_finish(a);
        }
    }
    scenario_free(sc);
    opt_free(&o);
    log_close();
    return rc;
}
