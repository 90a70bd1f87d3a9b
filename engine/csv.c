#include "csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "numfmt.h"
#include "xalloc.h"

void csv_field(sbuf *b, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        sbuf_putc(b, '"');
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                sbuf_putc(b, '"');
            sbuf_putc(b, *p);
        }
        sbuf_putc(b, '"');
    } else {
        sbuf_puts(b, s);
    }
    sbuf_puts(b, last ? "\r\n" : ",");
}

static void put_u64(sbuf *b, uint64_t v)
{
    sbuf_printf(b, "%llu,", (unsigned long long)v);
}

static void put_repr(sbuf *b, double v)
{
    char buf[NUMFMT_REPR_SIZE];
    numfmt_repr(buf, v);
    sbuf_puts(b, buf);
    sbuf_putc(b, ',');
}

/* Locust's int-or-float quirks: Min ("min or 0") and Max (max(0, t)) stay the integer 0
 * until a time above zero arrives, and Average Content Size is the integer 0 without
 * requests; every other time is a float. */
static void put_ms_or_zero(sbuf *b, bool set, double ms)
{
    if (set)
        put_repr(b, ms);
    else
        sbuf_puts(b, "0,");
}

/* Median, Average, Min, Max, Average Content Size, as Locust prints them. */
static void put_times(sbuf *b, const stats_entry *e)
{
    put_u64(b, stats_us_to_ms(stats_median_us(e)));
    put_repr(b, stats_avg_rt_ms(e)); /* 0.0 without timed requests, as in Locust */
    put_ms_or_zero(b, e->min_rt_us != UINT64_MAX && e->min_rt_us > 0, stats_min_rt_ms(e));
    put_ms_or_zero(b, e->max_rt_us > 0, stats_max_rt_ms(e));
    put_ms_or_zero(b, e->num_requests > 0, stats_avg_content_length(e));
}

static void put_percentiles(sbuf *b, const stats_entry *e, double now, bool current, bool last)
{
    for (int i = 0; i < STATS_NPCT; i++) {
        bool end = last && i == STATS_NPCT - 1;
        if (!e->num_requests) {
            sbuf_puts(b, end ? "N/A\r\n" : "N/A,");
            continue;
        }
        uint64_t us = 0;
        if (current) {
            if (!stats_current_percentile_us(e, now, stats_percentiles[i], &us))
                us = 0;
        } else {
            us = stats_percentile_us(e, stats_percentiles[i]);
        }
        sbuf_printf(b, "%llu%s", (unsigned long long)stats_us_to_ms(us), end ? "\r\n" : ",");
    }
}

static void requests_header(sbuf *out)
{
    sbuf_puts(out, "Type,Name,Request Count,Failure Count,Median Response Time,"
                   "Average Response Time,Min Response Time,Max Response Time,"
                   "Average Content Size,Requests/s,Failures/s");
    for (int i = 0; i < STATS_NPCT; i++)
        sbuf_printf(out, ",%s", stats_percentile_labels[i]);
    sbuf_puts(out, "\r\n");
}

static void request_row(sbuf *out, stats *s, const stats_entry *e)
{
    csv_field(out, e->method, false);
    csv_field(out, e->name, false);
    put_u64(out, e->num_requests);
    put_u64(out, e->num_failures);
    put_times(out, e);
    put_repr(out, stats_total_rps(s, e));
    put_repr(out, stats_total_fail_per_sec(s, e));
    put_percentiles(out, e, 0, false, true);
}

void csv_requests(sbuf *out, stats *s)
{
    requests_header(out);
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    for (size_t i = 0; i < n; i++)
        request_row(out, s, rows[i]);
    request_row(out, s, stats_total(s));
}

static const char failures_header[] = "Method,Name,Error,Occurrences\r\n";
static const char exceptions_header[] = "Count,Message,Traceback,Nodes\r\n";

void csv_failures(sbuf *out, stats *s)
{
    sbuf_puts(out, failures_header);
    size_t n;
    stats_error *const *errs = stats_errors(s, &n);
    for (size_t i = 0; i < n; i++) {
        csv_field(out, errs[i]->entry->method, false);
        csv_field(out, errs[i]->entry->name, false);
        csv_field(out, errs[i]->error, false);
        sbuf_printf(out, "%llu\r\n", (unsigned long long)errs[i]->occurrences);
    }
}

void csv_exceptions(sbuf *out, stats *s)
{
    sbuf_puts(out, exceptions_header);
    size_t n;
    stats_exception *const *xs = stats_exceptions(s, &n);
    for (size_t i = 0; i < n; i++) {
        sbuf_printf(out, "%llu,", (unsigned long long)xs[i]->count);
        csv_field(out, xs[i]->msg, false);
        csv_field(out, xs[i]->traceback, false);
        csv_field(out, xs[i]->nodes, true);
    }
}

void csv_history_header(sbuf *out)
{
    sbuf_puts(out, "Timestamp,User Count,Type,Name,Requests/s,Failures/s");
    for (int i = 0; i < STATS_NPCT; i++)
        sbuf_printf(out, ",%s", stats_percentile_labels[i]);
    sbuf_puts(out, ",Total Request Count,Total Failure Count,Total Median Response Time,"
                   "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
                   "Total Average Content Size\r\n");
}

static void history_row(sbuf *out, stats *s, const stats_entry *e, double now, unsigned users,
                        bool current)
{
    sbuf_printf(out, "%lld,%u,", (long long)now, users);
    csv_field(out, e->method, false);
    csv_field(out, e->name, false);
    sbuf_printf(out, "%.6f,%.6f,", stats_current_rps(s, e, now),
                stats_current_fail_per_sec(s, e, now));
    put_percentiles(out, e, now, current, false);
    put_u64(out, e->num_requests);
    put_u64(out, e->num_failures);
    put_times(out, e);
    /* put_times ends with a comma; the row ends here. */
    out->s[--out->len] = '\0';
    sbuf_puts(out, "\r\n");
}

void csv_history_rows(sbuf *out, stats *s, double now, unsigned user_count, bool full)
{
    if (full) {
        size_t n;
        stats_entry *const *rows = stats_sorted(s, &n);
        for (size_t i = 0; i < n; i++)
            history_row(out, s, rows[i], now, user_count, true);
    }
    history_row(out, s, stats_total(s), now, user_count, full);
}

/* ---- files -------------------------------------------------------------------------- */

struct csv_writer {
    char *path[4];          /* stats, history, failures, exceptions */
    int fd[4];
    bool full;
    bool failed;            /* a write error was logged */
    sbuf buf;
};

enum { F_STATS, F_HISTORY, F_FAILURES, F_EXCEPTIONS };

static int write_all(csv_writer *w, int f, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(w->fd[f], p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (!w->failed)
                log_error("cicada.csv", "writing %s: %s", w->path[f], strerror(errno));
            w->failed = true;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Tables are rewritten whole (a reader never sees a half-old file for long). */
static int rewrite(csv_writer *w, int f)
{
    if (lseek(w->fd[f], 0, SEEK_SET) < 0 || ftruncate(w->fd[f], 0) < 0) {
        if (!w->failed)
            log_error("cicada.csv", "rewriting %s: %s", w->path[f], strerror(errno));
        w->failed = true;
        return -1;
    }
    return write_all(w, f, w->buf.s ? w->buf.s : "", w->buf.len);
}

csv_writer *csv_writer_open(const char *prefix, bool full_history, char *err, size_t errlen)
{
    static const char *const suffix[4] = {"_stats.csv", "_stats_history.csv", "_failures.csv",
                                          "_exceptions.csv"};
    csv_writer *w = xcalloc(1, sizeof *w);
    w->full = full_history;
    for (int i = 0; i < 4; i++)
        w->fd[i] = -1;
    for (int i = 0; i < 4; i++) {
        sbuf p = SBUF_INIT;
        sbuf_printf(&p, "%s%s", prefix, suffix[i]);
        w->path[i] = sbuf_take(&p);
        w->fd[i] = open(w->path[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w->fd[i] < 0) {
            snprintf(err, errlen, "--csv %s: %s", w->path[i], strerror(errno));
            for (int j = 0; j <= i; j++) {
                if (w->fd[j] >= 0)
                    close(w->fd[j]);
                free(w->path[j]);
            }
            free(w);
            return NULL;
        }
    }
    /* Headers at once, as Locust writes them, so a run that ends early still leaves
     * files a parser accepts. */
    requests_header(&w->buf);
    write_all(w, F_STATS, w->buf.s, w->buf.len);
    write_all(w, F_FAILURES, failures_header, sizeof failures_header - 1);
    write_all(w, F_EXCEPTIONS, exceptions_header, sizeof exceptions_header - 1);
    sbuf_reset(&w->buf);
    csv_history_header(&w->buf);
    write_all(w, F_HISTORY, w->buf.s, w->buf.len);
    return w;
}

static void write_tables(csv_writer *w, stats *s)
{
    sbuf_reset(&w->buf);
    csv_requests(&w->buf, s);
    rewrite(w, F_STATS);
    sbuf_reset(&w->buf);
    csv_failures(&w->buf, s);
    rewrite(w, F_FAILURES);
    sbuf_reset(&w->buf);
    csv_exceptions(&w->buf, s);
    rewrite(w, F_EXCEPTIONS);
}

void csv_writer_tick(csv_writer *w, stats *s, double now, unsigned user_count)
{
    write_tables(w, s);
    sbuf_reset(&w->buf);
    csv_history_rows(&w->buf, s, now, user_count, w->full);
    write_all(w, F_HISTORY, w->buf.s, w->buf.len);
}

int csv_writer_close(csv_writer *w, stats *s, double now, unsigned user_count)
{
    csv_writer_tick(w, s, now, user_count);
    int rc = w->failed ? -1 : 0;
    for (int i = 0; i < 4; i++) {
        if (fsync(w->fd[i]) != 0 && errno != EINVAL && errno != EROFS) {
            log_error("cicada.csv", "flushing %s: %s", w->path[i], strerror(errno));
            rc = -1;
        }
        if (close(w->fd[i]) != 0)
            rc = -1;
        free(w->path[i]);
    }
    sbuf_free(&w->buf);
    free(w);
    return rc;
}

const char *csv_writer_history_path(const csv_writer *w)
{
    return w->path[F_HISTORY];
}
