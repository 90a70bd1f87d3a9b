/* cicada: Locust, native. The command line entry point. */
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "assets.h"
#include "demo.h"
#include "dispatch.h"
#include "har.h"
#include "json.h"
#include "log.h"
#include "opt.h"
#include "plugin.h"
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

/* Forked workers wait at this gate until the parent has bound its ports: a parent that
 * cannot start (the master or dashboard port taken) closes it and they end without a
 * word, instead of connecting to whatever holds the port. */
static void gate_wait(int fd)
{
    char c;
    ssize_t k;
    while ((k = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    close(fd);
    if (k != 1)
        _exit(1);
}

/* Opens the gate for n children (started is true), or closes it on them. */
static void gate_release(int *fd, int n, bool started)
{
    if (*fd < 0)
        return;
    for (int i = 0; started && i < n; i++)
        while (write(*fd, "g", 1) < 0 && errno == EINTR)
            ;
    close(*fd);
    *fd = -1;
}

/* --processes: forks the local workers. Returns the number of children started; in a
 * child, *is_child is set and the options say --worker to the parent's port. In the
 * parent, *gate is the write end of the children's gate (see gate_wait). */
static int fork_workers(struct options *o, pid_t *pids, int max, bool *is_child, int *gate)
{
    int n = o->processes;
    if (n < 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    if (n > max)
        n = max;
    /* With --worker this process is one of the N. */
    int children = o->worker ? n - 1 : n;
    if (!o->worker) {
        if (!o->set_expect_workers)
            o->expect_workers = n;
        o->master = true;
        /* Its workers are its own children: the master port need not (and, having no
         * authentication, should not) be reachable from other machines. */
        if (!o->set_master_bind_host) {
            free(o->master_bind_host);
            o->master_bind_host = xstrdup("127.0.0.1");
        }
    }
    int started = 0;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        fprintf(stderr, "cicada: error: cannot start the workers: %s\n", strerror(errno));
        exit(1);
    }
    for (int i = 0; i < children; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "cicada: warning: cannot fork worker %d: %s\n", i + 1,
                    strerror(errno));
            break;
        }
        if (pid == 0) {
            /* A worker must not outlive the process that forked it. */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            close(pfd[1]);
            gate_wait(pfd[0]);
            *is_child = true;
            if (!o->worker) {
                o->worker = true;
                o->master = false;
                free(o->master_host);
                o->master_host = xstrdup(strcmp(o->master_bind_host, "*") == 0
                                             ? "127.0.0.1" : o->master_bind_host);
                o->master_port = o->master_bind_port;
            }
            o->processes = 0;
            rng_seed(0);
            return 0;
        }
        pids[started++] = pid;
    }
    close(pfd[0]);
    *gate = pfd[1];
    o->processes = 0;
    return started;
}

/* Waits a moment for the forked workers to end (the master told them to quit), then
 * ends the rest. */
static void reap_workers(pid_t *pids, int n)
{
    for (int tries = 0; tries < 50; tries++) {
        int left = 0;
        for (int i = 0; i < n; i++) {
            if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) == pids[i])
                pids[i] = 0;
            left += pids[i] > 0;
        }
        if (!left)
            return;
        usleep(100000);
    }
    for (int i = 0; i < n; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
}

/* Runs a test (or a worker, sc NULL) to its end; returns the exit code. gate: the
 * forked workers' gate, opened once the ports are bound (-1: none). */
static int run(struct options *o, scenario *sc, int *gate, int nchildren)
{
    char err[1024];
    int rc;
    app *a = app_new(o, sc, err, sizeof err, &rc);
    gate_release(gate, nchildren, a != NULL);
    if (!a) {
        fprintf(stderr, "cicada: error: %s\n", err);
        return rc;
    }
    app_run(a);
    return app_finish(a);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
    /* glibc gives the heap's free top back to the kernel once it exceeds 128 KiB, and a
     * message of a few hundred KiB (a worker's stats report, a /stats poll) frees that much
     * when it is done: every report then faulted its pages in again. A master taking
     * reports from 100 workers spent three quarters of its CPU in page faults (48,500
     * faults in 15 s; 3,600 with this). Up to 64 MiB of free heap stays mapped instead. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    /* Setting the trim threshold also pins the mmap threshold at 128 KiB, so every larger
     * block (a /stats/requests answer of 300-400 KiB copied for the server, a CSV
     * download) was a fresh mmap whose pages faulted in one by one: 1.5 ms of a poll's
     * answer on this VM. Up to 1 MiB now comes from the heap that stays mapped; larger
     * blocks (bodies up to 16 MiB) are still mapped apart and given back when freed. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
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
    /* C locustfiles are compiled against the cicada.h this binary carries. */
    for (const struct asset *as = assets_table; as->path; as++)
        if (strcmp(as->path, "include/cicada.h") == 0)
            plugin_setup((const char *)as->data, as->len, cicada_version);

    pid_t pids[1024];
    int nchildren = 0, gate = -1;
    bool is_child = false;
    /* --list and the task ratios print what -f holds and exit, on a worker too (as in
     * Locust): only a worker that runs goes without files. */
    bool info = o.list_commands || o.show_task_ratio || o.show_task_ratio_json;
    if (o.worker && o.processes && !info)
        nchildren = fork_workers(&o, pids, (int)(sizeof pids / sizeof pids[0]), &is_child,
                                 &gate);
    if (o.worker && !info) {
        /* A worker needs no files: the master sends them with the test. */
        rc = run(&o, NULL, &gate, nchildren);
        reap_workers(pids, nchildren);
        opt_free(&o);
        log_close();
        return rc;
    }

    bool is_default = strcmp(o.locustfile, SCENARIO_DEFAULT_FILE) == 0;
    char *path = scenario_find(o.locustfile, is_default, err, sizeof err);
    scenario *sc = NULL;
    if (path) {
        scenario_opts so = {
            .classes = o.user_classes.v, .nclasses = o.user_classes.n,
            .tags = o.tags.v, .ntags = o.tags.n,
            .exclude_tags = o.exclude_tags.v, .nexclude_tags = o.exclude_tags.n,
            .equal_weights = o.equal_weights,
            .list_only = o.list_commands,
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

    if (info) {
        rc = print_info(&o, sc);
    } else {
        /* The scenario loaded: now the local workers (they get it from this master). */
        if (o.processes)
            nchildren = fork_workers(&o, pids, (int)(sizeof pids / sizeof pids[0]), &is_child,
                                     &gate);
        if (is_child) {
            scenario_free(sc);
            rc = run(&o, NULL, &gate, 0);
            opt_free(&o);
            log_close();
            return rc;
        }
        rc = run(&o, sc, &gate, nchildren);
    }
    reap_workers(pids, nchildren);
    scenario_free(sc);
    opt_free(&o);
    log_close();
    return rc;
}
