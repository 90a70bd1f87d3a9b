/* Is the load generator the bottleneck? Measures this process's CPU (each second, % of
 * one core: one loop runs on one core) and the event loop's lag (how late a 50 ms timer
 * fires: work that hogs the loop delays every user's requests and timers), and, with the
 * open model's late and dropped iterations and the workers' CPU on a master, says whether
 * the generator, not the target, limited the test.
 *
 * Thresholds: CPU above HEALTH_CPU_LIMIT % in any second, a loop lag above
 * HEALTH_LAG_LIMIT_MS, or an iteration that could not start on time. */
#ifndef CICADA_HEALTH_H
#define CICADA_HEALTH_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTH_CPU_LIMIT 90.0
#define HEALTH_LAG_LIMIT_MS 50.0

typedef struct health {
    struct ev_loop *loop;
    ev_timer probe;             /* every HEALTH_PROBE seconds */
    double expected;            /* when the probe should fire */
    double cpu_at, cpu_used;    /* the last CPU sample */
    double second_began;
    double cpu_now;             /* % of one core over the last whole second */
    double cpu_peak;            /* since health_reset */
    double lag_now_ms;          /* the worst lag in the last second */
    double lag_second_ms;       /* building the next lag_now_ms */
    double lag_peak_ms;         /* since health_reset */
    double lag_own_peak_ms;     /* the same, of lags while the process was running: its
                                 * own work, not a machine too busy to give it a core */
    double probe_at, probe_cpu; /* the last probe: when, and the CPU used by then */
    unsigned hot_seconds;       /* seconds above the CPU limit since health_reset */
} health;

/* Starts measuring on loop (h is the caller's, e.g. embedded). */
void health_start(health *h, struct ev_loop *loop);
void health_stop(health *h);
/* Forgets the peaks (a new test). */
void health_reset(health *h);

/* The verdict: true when the generator limited the test; writes one line into why (e.g.
 * "CPU at 97% of one core in 12 s of the test") when it did, an empty string otherwise.
 * A loop that fell behind while the process was hardly running (it used less than half
 * of the time since the last probe) was held up by the machine, not by its own work, and
 * the line says so. late/dropped are the open model's iterations; worker_cpu_peak the
 * highest CPU a worker reported (0 when not a master). */
bool health_limited(const health *h, uint64_t late, uint64_t dropped, double worker_cpu_peak,
                    char *why, size_t len);

/* This process's CPU right now, % of one core over the last second. Shared with the
 * worker's heartbeat. */
double health_cpu_seconds(void);

#endif
