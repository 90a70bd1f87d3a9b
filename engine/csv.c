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

/* The three tables are rewritten whole every second through a temporary file and a
 * rename, so a write that fails (a full disk) leaves the last complete table, never a
 * truncated one. The history is appended to; a failed append is cut back to the last
 * whole row. Failures are logged (the first per file at once, a summary at close) and
 * make csv_writer_close fail, never the run. */
struct csv_writer {
    char *path[4];          /* stats, history, failures, exceptions */
    int hist_fd;
    int spare;              /* a descriptor held for the temporary file (see put_table) */
    off_t hist_len;         /* bytes of whole rows in the history file */
    bool full;
    unsigned failed[4];     /* writes that failed, per file */
    int first_errno[4];
    sbuf buf;
    sbuf tmp;
};

enum { F_STATS, F_HISTORY, F_FAILURES, F_EXCEPTIONS };

#define LOGGER "cicada.csv"

static void write_failed(csv_writer *w, int f, int e)
{
    if (!w->failed[f]++) {
        w->first_errno[f] = e;
        log_error(LOGGER, "--csv %s: %s (%s)", w->path[f], strerror(e),
                  f == F_HISTORY ? "rows are missing until a write succeeds"
                                 : "the file keeps the table of an earlier second");
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Writes w->buf as the whole table f: 0, or -1 with errno set. */
static int put_table(csv_writer *w, int f, bool sync)
{
    sbuf_reset(&w->tmp);
    sbuf_printf(&w->tmp, "%s.tmp%ld", w->path[f], (long)getpid());
    const char *tmp = sbuf_str(&w->tmp);
    /* Users short of descriptors (a low open-file limit) take every free one: the
     * spare is given up for the moment the table needs one, and taken back after. */
    if (w->spare >= 0)
        close(w->spare);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    w->spare = -1;
    if (fd < 0) {
        int e = errno;
        w->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
        errno = e;
        return -1;
    }
    /* A full disk may only show at fsync or close (delayed allocation, NFS). */
    if (write_all(fd, w->buf.s ? w->buf.s : "", w->buf.len) != 0 ||
        (sync && fsync(fd) != 0 && errno != EINVAL)) {
        int e = errno;
        close(fd);
        w->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
        unlink(tmp);
        errno = e;
        return -1;
    }
    int rc = close(fd), e = errno;
    w->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    errno = e;
    if (rc != 0 || rename(tmp, w->path[f]) != 0) {
        e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

static void rewrite(csv_writer *w, int f, bool sync)
{
    if (put_table(w, f, sync) != 0)
        write_failed(w, f, errno);
}

/* Appends w->buf to the history, whole or not at all. */
static void append_history(csv_writer *w)
{
    if (write_all(w->hist_fd, w->buf.s ? w->buf.s : "", w->buf.len) == 0) {
        w->hist_len += (off_t)w->buf.len;
        return;
    }
    int e = errno;
    if (ftruncate(w->hist_fd, w->hist_len) != 0 || lseek(w->hist_fd, w->hist_len, SEEK_SET) < 0)
        log_error(LOGGER, "--csv %s: cannot cut a partial row: %s", w->path[F_HISTORY],
                  strerror(errno));
    write_failed(w, F_HISTORY, e);
}

static void free_writer(csv_writer *w)
{
    if (w->spare >= 0)
        close(w->spare);
    for (int i = 0; i < 4; i++)
        free(w->path[i]);
    sbuf_free(&w->buf);
    sbuf_free(&w->tmp);
    free(w);
}

csv_writer *csv_writer_open(const char *prefix, bool full_history, char *err, size_t errlen)
{
    static const char *const suffix[4] = {"_stats.csv", "_stats_history.csv", "_failures.csv",
                                          "_exceptions.csv"};
    csv_writer *w = xcalloc(1, sizeof *w);
    w->full = full_history;
    w->hist_fd = -1;
    w->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* Every file is tried before any is changed: a run that cannot start leaves earlier
     * files as they were, and no new empty ones. */
    int fd[4] = {-1, -1, -1, -1};
    bool created[4] = {false};
    int bad = -1, e = 0;
    for (int i = 0; i < 4 && bad < 0; i++) {
        sbuf p = SBUF_INIT;
        sbuf_printf(&p, "%s%s", prefix, suffix[i]);
        w->path[i] = sbuf_take(&p);
        fd[i] = open(w->path[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd[i] >= 0)
            created[i] = true;
        else if (errno == EEXIST)
            fd[i] = open(w->path[i], O_WRONLY | O_CLOEXEC);
        if (fd[i] < 0) {
            bad = i;
            e = errno;
        }
    }
    for (int i = 0; i < 4; i++)
        if (i != F_HISTORY && fd[i] >= 0)
            close(fd[i]);
    /* Headers at once, as Locust writes them, so a run that ends early still leaves files
     * a parser accepts; a disk already full refuses the run here. */
    for (int i = 0; i < 4 && bad < 0; i++) {
        sbuf_reset(&w->buf);
        if (i == F_STATS)
            requests_header(&w->buf);
        else if (i == F_FAILURES)
            sbuf_puts(&w->buf, failures_header);
        else if (i == F_EXCEPTIONS)
            sbuf_puts(&w->buf, exceptions_header);
        else
            csv_history_header(&w->buf);
        int rc;
        if (i == F_HISTORY) {
            rc = ftruncate(fd[i], 0) == 0 ? write_all(fd[i], w->buf.s, w->buf.len) : -1;
            w->hist_len = (off_t)w->buf.len;
        } else
            rc = put_table(w, i, false);
        if (rc != 0) {
            bad = i;
            e = errno;
        }
    }
    if (bad >= 0) {
        snprintf(err, errlen, "--csv %s: %s", w->path[bad], strerror(e));
        if (fd[F_HISTORY] >= 0)
            close(fd[F_HISTORY]);
        for (int i = 0; i < 4; i++)
            if (created[i])
                unlink(w->path[i]);
        free_writer(w);
        return NULL;
    }
    w->hist_fd = fd[F_HISTORY];
    return w;
}

static void write_tables(csv_writer *w, stats *s, bool sync)
{
    sbuf_reset(&w->buf);
    csv_requests(&w->buf, s);
    rewrite(w, F_STATS, sync);
    sbuf_reset(&w->buf);
    csv_failures(&w->buf, s);
    rewrite(w, F_FAILURES, sync);
    sbuf_reset(&w->buf);
    csv_exceptions(&w->buf, s);
    rewrite(w, F_EXCEPTIONS, sync);
}

static void tick(csv_writer *w, stats *s, double now, unsigned user_count, bool sync)
{
    write_tables(w, s, sync);
    sbuf_reset(&w->buf);
    csv_history_rows(&w->buf, s, now, user_count, w->full);
    append_history(w);
}

void csv_writer_tick(csv_writer *w, stats *s, double now, unsigned user_count)
{
    tick(w, s, now, user_count, false);
}

int csv_writer_close(csv_writer *w, stats *s, double now, unsigned user_count)
{
    tick(w, s, now, user_count, true);
    if (fsync(w->hist_fd) != 0 && errno != EINVAL && errno != EROFS)
        write_failed(w, F_HISTORY, errno);
    if (close(w->hist_fd) != 0)
        write_failed(w, F_HISTORY, errno);
    int rc = 0;
    for (int i = 0; i < 4; i++) {
        if (!w->failed[i])
            continue;
        rc = -1;
        if (i == F_HISTORY)
            log_error(LOGGER, "--csv %s is incomplete: writing failed %u time%s (%s); the "
                              "rows that are there are whole", w->path[i], w->failed[i],
                      w->failed[i] == 1 ? "" : "s", strerror(w->first_errno[i]));
        else
            log_error(LOGGER, "--csv %s is not the final table: writing failed %u time%s (%s); "
                              "it holds the last table that could be written", w->path[i],
                      w->failed[i], w->failed[i] == 1 ? "" : "s",
                      strerror(w->first_errno[i]));
    }
    free_writer(w);
    return rc;
}

const char *csv_writer_history_path(const csv_writer *w)
{
    return w->path[F_HISTORY];
}
