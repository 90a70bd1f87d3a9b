#include "health.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#define HEALTH_PROBE 0.05

double health_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void probe_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    health *h = (health *)((char *)w - offsetof(health, probe));
    /* ev_time, not ev_now: the loop's cached time hides the lag being measured. */
    double now = ev_time();
    double lag = (now - h->expected) * 1000.0;
    if (lag > h->lag_second_ms)
        h->lag_second_ms = lag;
    if (lag > h->lag_peak_ms)
        h->lag_peak_ms = lag;
    /* Late because the loop was busy, or because the process did not run: another
     * process had the core (or a system call blocked). Only the first is the
     * generator's own limit; told apart by the CPU it used since the last probe. */
    double used = health_cpu_seconds();
    if (lag > h->lag_own_peak_ms && used - h->probe_cpu >= 0.5 * (now - h->probe_at))
        h->lag_own_peak_ms = lag;
    h->probe_at = now;
    h->probe_cpu = used;
    if (now - h->second_began >= 1.0) {
        h->cpu_now = (used - h->cpu_used) / (now - h->cpu_at) * 100.0;
        if (h->cpu_now < 0)
            h->cpu_now = 0;
        if (h->cpu_now > h->cpu_peak)
            h->cpu_peak = h->cpu_now;
        if (h->cpu_now > HEALTH_CPU_LIMIT)
            h->hot_seconds++;
        h->cpu_used = used;
        h->cpu_at = now;
        h->lag_now_ms = h->lag_second_ms;
        h->lag_second_ms = 0;
        h->second_began = now;
    }
    h->expected = now + HEALTH_PROBE;
    ev_timer_set(w, HEALTH_PROBE, 0.);
    ev_timer_start(loop, w);
}

void health_start(health *h, struct ev_loop *loop)
{
    memset(h, 0, sizeof *h);
    h->loop = loop;
    h->cpu_at = h->second_began = h->probe_at = ev_time();
    h->cpu_used = h->probe_cpu = health_cpu_seconds();
    h->expected = h->cpu_at + HEALTH_PROBE;
    ev_timer_init(&h->probe, probe_cb, HEALTH_PROBE, 0.);
    ev_timer_start(loop, &h->probe);
}

void health_stop(health *h)
{
    if (h->loop)
        ev_timer_stop(h->loop, &h->probe);
}

void health_reset(health *h)
{
    h->cpu_peak = h->lag_peak_ms = h->lag_own_peak_ms = 0;
    h->hot_seconds = 0;
}

bool health_limited(const health *h, uint64_t late, uint64_t dropped, double worker_cpu_peak,
                    char *why, size_t len)
{
    why[0] = '\0';
    if (h->hot_seconds)
        snprintf(why, len, "its CPU was above %.0f%% of one core in %u s of the test (peak "
                           "%.0f%%)", HEALTH_CPU_LIMIT, h->hot_seconds, h->cpu_peak);
    else if (worker_cpu_peak > HEALTH_CPU_LIMIT)
        snprintf(why, len, "a worker's CPU was above %.0f%% of one core (peak %.0f%%)",
                 HEALTH_CPU_LIMIT, worker_cpu_peak);
    else if (h->lag_own_peak_ms > HEALTH_LAG_LIMIT_MS)
        snprintf(why, len, "its event loop fell %.0f ms behind", h->lag_own_peak_ms);
    else if (h->lag_peak_ms > HEALTH_LAG_LIMIT_MS)
        snprintf(why, len, "its event loop fell %.0f ms behind while the process was not "
                           "running (the machine gave its core to other work)",
                 h->lag_peak_ms);
    else if (late || dropped)
        snprintf(why, len, "%llu iterations could not start on time because every user "
                           "was busy: raise the cap on users",
                 (unsigned long long)(late + dropped));
    return why[0] != '\0';
}
