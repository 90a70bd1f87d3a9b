#include "metrics.h"

#include <string.h>

#include "hist.h"

/* Upper bounds of the response-time histogram, in seconds (Prometheus' "le"). */
static const double bounds_s[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                  0.5,   1,      2.5,   5,    10,   30,    60};
#define NBOUNDS (sizeof bounds_s / sizeof bounds_s[0])

/* Label values escape backslash, double quote and newline. */
static void label(sbuf *out, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == '"')
            sbuf_putc(out, '\\');
        if (*p == '\n') {
            sbuf_puts(out, "\\n");
            continue;
        }
        sbuf_putc(out, *p);
    }
}

static void labels(sbuf *out, const stats_entry *e)
{
    sbuf_puts(out, "{method=\"");
    label(out, e->method);
    sbuf_puts(out, "\",name=\"");
    label(out, e->name);
    sbuf_putc(out, '"');
}

static void header(sbuf *out, const char *name, const char *type, const char *help)
{
    sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct bins {
    uint64_t n[NBOUNDS];
};

/* Counts each histogram bucket under the first bound its reported value fits in: exact
 * to cicada's histogram resolution (under 1%). */
static void bin(void *data, unsigned idx, uint64_t count)
{
    struct bins *b = data;
    double v = (double)hist_bucket_value(idx) / 1e6;
    for (size_t i = 0; i < NBOUNDS; i++)
        if (v <= bounds_s[i]) {
            b->n[i] += count;
            return;
        }
}

static void histogram(sbuf *out, const stats_entry *e)
{
    struct bins b = {{0}};
    hist_foreach(&e->hist, bin, &b);
    uint64_t cum = 0;
    for (size_t i = 0; i < NBOUNDS; i++) {
        cum += b.n[i];
        sbuf_puts(out, "cicada_response_time_seconds_bucket");
        labels(out, e);
        sbuf_printf(out, ",le=\"%g\"} %llu\n", bounds_s[i], (unsigned long long)cum);
    }
    sbuf_puts(out, "cicada_response_time_seconds_bucket");
    labels(out, e);
    sbuf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)e->hist.count);
    sbuf_puts(out, "cicada_response_time_seconds_sum");
    labels(out, e);
    sbuf_printf(out, "} %.6f\n", (double)e->total_rt_us / 1e6);
    sbuf_puts(out, "cicada_response_time_seconds_count");
    labels(out, e);
    sbuf_printf(out, "} %llu\n", (unsigned long long)e->hist.count);
}

void metrics_text(sbuf *out, stats *s, const runner *r, double now)
{
    header(out, "cicada_users", "gauge", "Simulated users running.");
    sbuf_printf(out, "cicada_users %u\n", r ? runner_user_count(r) : 0);
    header(out, "cicada_state", "gauge", "1 for the runner's current state.");
    int state = r ? runner_state(r) : RUNNER_READY;
    for (int i = RUNNER_READY; i <= RUNNER_MISSING; i++)
        sbuf_printf(out, "cicada_state{state=\"%s\"} %d\n", runner_state_name(i), i == state);
    stats_entry *total = stats_total(s);
    header(out, "cicada_current_rps", "gauge", "Requests per second over the last 10 s.");
    sbuf_printf(out, "cicada_current_rps %.3f\n", stats_current_rps(s, total, now));
    header(out, "cicada_current_fail_per_sec", "gauge",
           "Failures per second over the last 10 s.");
    sbuf_printf(out, "cicada_current_fail_per_sec %.3f\n",
                stats_current_fail_per_sec(s, total, now));
    size_t nexc;
    stats_exception *const *xs = stats_exceptions(s, &nexc);
    uint64_t exc = 0;
    for (size_t i = 0; i < nexc; i++)
        exc += xs[i]->count;
    header(out, "cicada_exceptions_total", "counter", "Steps that could not run.");
    sbuf_printf(out, "cicada_exceptions_total %llu\n", (unsigned long long)exc);

    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    header(out, "cicada_requests_total", "counter", "Requests by method and name.");
    for (size_t i = 0; i < n; i++) {
        sbuf_puts(out, "cicada_requests_total");
        labels(out, rows[i]);
        sbuf_printf(out, "} %llu\n", (unsigned long long)rows[i]->num_requests);
    }
    header(out, "cicada_failures_total", "counter", "Failed requests by method and name.");
    for (size_t i = 0; i < n; i++) {
        sbuf_puts(out, "cicada_failures_total");
        labels(out, rows[i]);
        sbuf_printf(out, "} %llu\n", (unsigned long long)rows[i]->num_failures);
    }
    header(out, "cicada_response_bytes_total", "counter", "Response body bytes received.");
    for (size_t i = 0; i < n; i++) {
        sbuf_puts(out, "cicada_response_bytes_total");
        labels(out, rows[i]);
        sbuf_printf(out, "} %llu\n", (unsigned long long)rows[i]->total_content_length);
    }
    header(out, "cicada_response_time_seconds", "histogram",
           "Response times by method and name.");
    for (size_t i = 0; i < n; i++)
        histogram(out, rows[i]);
}
