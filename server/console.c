#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define TYPE_WIDTH 8

int console_name_width(void)
{
    struct winsize ws;
    if (!isatty(STDERR_FILENO) || ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
        return 80;
    int w = (int)ws.ws_col - 80;
    return w < 0 ? 0 : w > 80 ? 80 : w;
}

static void dashes(sbuf *out, int n)
{
    for (int i = 0; i < n; i++)
        sbuf_putc(out, '-');
}

static void table_separator(sbuf *out, int name_col)
{
    static const int widths[] = {7, 13, 7, 7, 7, 7, 8, 11};
    dashes(out, TYPE_WIDTH);
    sbuf_putc(out, '|');
    dashes(out, name_col);
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        sbuf_putc(out, '|');
        dashes(out, widths[i]);
    }
    sbuf_putc(out, '\n');
}

static void table_row(sbuf *out, stats *s, const stats_entry *e, double now, bool current,
                      int name_col)
{
    char type[64], fails[64];
    snprintf(type, sizeof type, "%s%s", e->method, *e->method ? " " : "");
    snprintf(fails, sizeof fails, "%llu(%.2f%%)", (unsigned long long)e->num_failures,
             stats_fail_ratio(e) * 100);
    double rps = current ? stats_current_rps(s, e, now) : stats_total_rps(s, e);
    double fps = current ? stats_current_fail_per_sec(s, e, now) : stats_total_fail_per_sec(s, e);
    uint64_t min = e->min_rt_us == UINT64_MAX ? 0 : e->min_rt_us;
    sbuf_printf(out, "%-*s %-*s %7llu %12s |%7llu %7llu %7llu%7llu | %7.2f %11.2f\n",
                TYPE_WIDTH, type, name_col, e->name, (unsigned long long)e->num_requests, fails,
                (unsigned long long)stats_us_to_ms((uint64_t)(stats_avg_rt_ms(e) * 1000 + 0.5)),
                (unsigned long long)stats_us_to_ms(min),
                (unsigned long long)stats_us_to_ms(e->max_rt_us),
                (unsigned long long)stats_us_to_ms(stats_median_us(e)), rps, fps);
}

void console_stats_table(sbuf *out, stats *s, double now, bool current, int name_width)
{
    int name_col = name_width - TYPE_WIDTH + 4;
    sbuf_printf(out, "%-*s %-*s %7s %12s |%7s %7s %7s%7s | %7s %11s\n", TYPE_WIDTH, "Type",
                name_col, "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s",
                "failures/s");
    table_separator(out, name_col);
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    for (size_t i = 0; i < n; i++)
        table_row(out, s, rows[i], now, current, name_col);
    table_separator(out, name_col);
    table_row(out, s, stats_total(s), now, current, name_col);
    sbuf_putc(out, '\n');
}

static void percentile_separator(sbuf *out, int name_width)
{
    dashes(out, TYPE_WIDTH);
    sbuf_putc(out, '|');
    dashes(out, name_width);
    sbuf_putc(out, '|');
    dashes(out, 8);
    for (int i = 0; i < STATS_NPCT; i++) {
        sbuf_putc(out, '|');
        dashes(out, 6);
    }
    sbuf_putc(out, '\n');
}

/* One row of percentiles: of the measured times, or (corrected) of the times from each
 * open-model iteration's intended start, which may exceed the measured maximum. */
static void percentile_row(sbuf *out, const stats_entry *e, int name_width, bool corrected)
{
    sbuf_printf(out, "%-*s %-*s", TYPE_WIDTH, e->method, name_width, e->name);
    for (int i = 0; i < STATS_NPCT; i++) {
        double p = stats_percentiles[i];
        uint64_t us = corrected ? hist_percentile(&e->co_hist, p) : stats_percentile_us(e, p);
        sbuf_printf(out, i ? " %6llu" : " %8llu", (unsigned long long)stats_us_to_ms(us));
    }
    sbuf_printf(out, " %6llu\n",
                (unsigned long long)(corrected ? e->co_hist.count : e->num_requests));
}

/* A titled table of percentiles, one row per entry with samples, then Aggregated. */
static void percentile_table(sbuf *out, stats *s, int name_width, const char *title,
                             bool corrected)
{
    sbuf_puts(out, title);
    sbuf_printf(out, "%-*s %-*s %8s", TYPE_WIDTH, "Type", name_width, "Name",
                stats_percentile_labels[0]);
    for (int i = 1; i < STATS_NPCT; i++)
        sbuf_printf(out, " %6s", stats_percentile_labels[i]);
    sbuf_printf(out, " %6s\n", "# reqs");
    percentile_separator(out, name_width);
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    for (size_t i = 0; i < n; i++)
        if ((corrected ? rows[i]->co_hist.count : rows[i]->hist.count) > 0)
            percentile_row(out, rows[i], name_width, corrected);
    percentile_separator(out, name_width);
    const stats_entry *total = stats_total(s);
    if ((corrected ? total->co_hist.count : total->hist.count) > 0)
        percentile_row(out, total, name_width, corrected);
}

void console_percentiles(sbuf *out, stats *s, int name_width)
{
    percentile_table(out, s, name_width, "Response time percentiles (approximated)\n", false);
    sbuf_putc(out, '\n');
}

void console_open_model(sbuf *out, stats *s, int name_width)
{
    uint64_t started, late, dropped;
    stats_iterations(s, &started, &late, &dropped);
    if (!started && !dropped && !stats_total(s)->co_hist.count)
        return;
    percentile_table(out, s, name_width, "Response time percentiles from the intended start "
                                         "of each iteration (open model)\n", true);
    sbuf_printf(out, "Iterations: %llu started (%llu late: they waited for a free user), "
                     "%llu dropped\n\n",
                (unsigned long long)started, (unsigned long long)late,
                (unsigned long long)dropped);
}

void console_error_report(sbuf *out, stats *s, int name_width)
{
    size_t n;
    stats_error *const *errs = stats_errors(s, &n);
    if (!n)
        return;
    sbuf_puts(out, "Error report\n");
    sbuf_printf(out, "%-18s %-100s\n", "# occurrences", "Error");
    dashes(out, 18);
    sbuf_putc(out, '|');
    dashes(out, 80 + name_width - 19);
    sbuf_putc(out, '\n');
    for (size_t i = 0; i < n; i++) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "%s %s: %s", errs[i]->entry->method, errs[i]->entry->name,
                    errs[i]->error);
        sbuf_printf(out, "%-18llu %-100s\n", (unsigned long long)errs[i]->occurrences,
                    sbuf_str(&b));
        sbuf_free(&b);
    }
    dashes(out, 18);
    sbuf_putc(out, '|');
    dashes(out, 80 + name_width - 19);
    sbuf_puts(out, "\n\n");
}

void console_thresholds(sbuf *out, const threshold_set *set)
{
    if (!set->n)
        return;
    size_t failed = threshold_failed_count(set);
    int width = 0;
    for (size_t i = 0; i < set->n; i++) {
        int len = (int)strlen(set->v[i].text);
        width = len > width ? len : width;
    }
    width = width > 50 ? 50 : width;
    sbuf_printf(out, "Thresholds: %zu passed, %zu failed\n", set->n - failed, failed);
    sbuf line = SBUF_INIT;
    for (size_t i = 0; i < set->n; i++) {
        const threshold *t = &set->v[i];
        sbuf_reset(&line);
        threshold_describe(t, &line);
        const char *verdict = t->status == THRESHOLD_PASSED ? "passed"
                              : t->status == THRESHOLD_FAILED ? "FAILED" : "ERROR";
        sbuf_printf(out, "%-7s %-*s  %s\n", verdict, width, t->text, sbuf_str(&line));
    }
    sbuf_putc(out, '\n');
    sbuf_free(&line);
}

/* ---- keys --------------------------------------------------------------------------- */

static struct {
    ev_io io;
    struct termios saved;
    bool active;
    console_key_fn fn;
    void *data;
} keys;

static void restore_terminal(void)
{
    if (keys.active)
        tcsetattr(STDIN_FILENO, TCSANOW, &keys.saved);
    keys.active = false;
}

static void key_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    char buf[64];
    ssize_t n = read(w->fd, buf, sizeof buf);
    if (n <= 0) {
        /* stdin closed: stop watching, the run goes on. */
        ev_io_stop(loop, w);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        int delta = buf[i] == 'w' ? 1 : buf[i] == 'W' ? 10 : buf[i] == 's' ? -1
                                                       : buf[i] == 'S' ? -10 : 0;
        if (delta)
            keys.fn(keys.data, delta);
    }
}

void console_keys_start(struct ev_loop *loop, console_key_fn fn, void *data)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &keys.saved) != 0)
        return;
    struct termios t = keys.saved;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) != 0)
        return;
    static bool registered;
    if (!registered) {
        atexit(restore_terminal);
        registered = true;
    }
    keys.active = true;
    keys.fn = fn;
    keys.data = data;
    ev_io_init(&keys.io, key_cb, STDIN_FILENO, EV_READ);
    ev_io_start(loop, &keys.io);
}

void console_keys_stop(struct ev_loop *loop)
{
    if (keys.active)
        ev_io_stop(loop, &keys.io);
    restore_terminal();
}
