/* A worker: runs the users a master plans for it and reports back (docs/protocol.md).
 *
 * It needs no files: the first spawn order of each test carries the scenario and the
 * files it reads, which the worker writes under a private temporary directory and loads
 * from there (absolute paths are taken under that directory, so nothing outside it is
 * touched). Then:
 *   - spawn orders carry absolute user counts per class, applied at once (the master
 *     paces the ramp);
 *   - a heartbeat goes out every second (state, users, CPU %, RSS) and the master answers
 *     each one; with no word from the master for `master_timeout` seconds the worker stops
 *     its users and ends (or, with `reconnect`, drops the test and says hello again, under
 *     a new id, until a master answers);
 *   - statistics go out as deltas every `report_interval` seconds and once more when the
 *     users have stopped, before "stopped";
 *   - "quit" from the master ends the worker after its users stop.
 * Everything runs on the engine's loop. */
#ifndef CICADA_WORKER_H
#define CICADA_WORKER_H

#include <ev.h>
#include <stddef.h>

#include "http.h"

typedef struct worker_config {
    const char *master_host;    /* borrowed */
    int master_port;
    double report_interval;     /* seconds between stats reports (> 0) */
    double heartbeat_interval;  /* seconds between heartbeats (> 0) */
    double master_timeout;      /* seconds of master silence before giving up (> 0) */
    double connect_timeout;     /* seconds to wait for the master's welcome (> 0) */
    bool reconnect;             /* a silent master: wait for one (no time limit) instead of
                                 * ending; the welcome is then awaited for ever too */
    size_t max_names;           /* --max-names */
    const char *version;        /* cicada's version, sent in the hello */
} worker_config;

typedef struct worker worker;

/* Connects to the master and says hello. done(data, code) is called on the loop when the
 * worker should end (0: the master said quit; 1: refused, lost or failed); the caller then
 * breaks the loop and frees the worker. Returns NULL with one line in err when the socket
 * cannot be set up (a bad host). */
worker *worker_new(struct ev_loop *loop, const worker_config *cfg,
                   void (*done)(void *data, int code), void *data, char *err, size_t errlen);

/* Stops the users (at once) and tells the master this worker is leaving (Ctrl-C). done
 * follows when they have stopped. */
void worker_leave(worker *w);

/* Frees everything: users, scenario, socket, and the temporary directory. */
void worker_free(worker *w);

/* This worker's routing id ("host_pid_random"), owned by w. */
const char *worker_id(const worker *w);

/* The statistics this worker collects between reports (owned by w). */
struct stats *worker_stats(worker *w);

#endif
