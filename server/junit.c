#include "junit.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "outfile.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!len || len > n || (len == 2 && p[0] < 0xc2))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if (len == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
        return 0;
    if (len == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || p[0] > 0xf4 ||
                     (p[0] == 0xf4 && p[1] >= 0x90)))
        return 0;
    return len;
}

/* Text for an attribute or element: markup escaped, and what XML 1.0 cannot hold
 * (control characters, invalid UTF-8) replaced, so any CI parser takes the file. */
static void put_text(sbuf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        switch (c) {
        case '&': sbuf_puts(out, "&amp;"); i++; continue;
        case '<': sbuf_puts(out, "&lt;"); i++; continue;
        case '>': sbuf_puts(out, "&gt;"); i++; continue;
        case '"': sbuf_puts(out, "&quot;"); i++; continue;
        case '\'': sbuf_puts(out, "&apos;"); i++; continue;
        case '\n': sbuf_puts(out, "&#10;"); i++; continue;
        case '\t': sbuf_puts(out, "&#9;"); i++; continue;
        default: break;
        }
        size_t len = utf8_len(p + i, n - i);
        if (c < 0x20 || c == 0x7f || !len) {
            sbuf_puts(out, len ? "?" : "\xef\xbf\xbd");
            i += len ? len : 1;
            continue;
        }
        sbuf_add(out, p + i, len);
        i += len;
    }
}

static void put_case(sbuf *out, const char *classname, const char *name, double time,
                     const char *failure_type, const char *message, const char *body)
{
    sbuf_puts(out, "    <testcase classname=\"");
    put_text(out, classname);
    sbuf_puts(out, "\" name=\"");
    put_text(out, name);
    sbuf_printf(out, "\" time=\"%.3f\"", time);
    if (!failure_type) {
        sbuf_puts(out, "/>\n");
        return;
    }
    sbuf_puts(out, ">\n      <failure type=\"");
    put_text(out, failure_type);
    sbuf_puts(out, "\" message=\"");
    put_text(out, message);
    sbuf_puts(out, "\">");
    put_text(out, body ? body : message);
    sbuf_puts(out, "</failure>\n    </testcase>\n");
}

/* The failures test case's message and, in body, the error report's lines. */
static bool failures_text(stats *s, sbuf *msg, sbuf *body)
{
    size_t nerr, nexc;
    stats_error *const *errs = stats_errors(s, &nerr);
    stats_exception *const *excs = stats_exceptions(s, &nexc);
    uint64_t fails = stats_error_count(s), exc = 0;
    for (size_t i = 0; i < nexc; i++)
        exc += excs[i]->count;
    if (!fails && !exc)
        return false;
    sbuf_printf(msg, "%llu failed requests of %llu, %llu exceptions",
                (unsigned long long)fails, (unsigned long long)stats_total(s)->num_requests,
                (unsigned long long)exc);
    for (size_t i = 0; i < nerr && i < 100; i++)
        sbuf_printf(body, "%llu x %s %s: %s\n", (unsigned long long)errs[i]->occurrences,
                    errs[i]->entry->method, errs[i]->entry->name, errs[i]->error);
    for (size_t i = 0; i < nexc && i < 100; i++)
        sbuf_printf(body, "%llu x exception %s (%s)\n", (unsigned long long)excs[i]->count,
                    excs[i]->msg, excs[i]->traceback);
    return true;
}

void junit_render(sbuf *out, const junit_input *in)
{
    const threshold_set *set = in->thresholds;
    size_t tests = set->n + in->failures_case;
    size_t failed = threshold_failed_count(set);
    sbuf msg = SBUF_INIT, body = SBUF_INIT;
    bool had_failures = in->failures_case && failures_text(in->stats, &msg, &body);
    failed += had_failures;

    char stamp[32] = "1970-01-01T00:00:00";
    time_t t = (time_t)in->start;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    sbuf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sbuf_printf(out, "<testsuites name=\"cicada\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                     "time=\"%.3f\">\n", tests, failed, in->duration);
    sbuf_puts(out, "  <testsuite name=\"");
    put_text(out, in->suite ? in->suite : "cicada");
    sbuf_printf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" "
                     "time=\"%.3f\" timestamp=\"%s\">\n", tests, failed, in->duration, stamp);
    sbuf text = SBUF_INIT;
    for (size_t i = 0; i < set->n; i++) {
        const threshold *th = &set->v[i];
        sbuf_reset(&text);
        threshold_describe(th, &text);
        const char *type = th->status == THRESHOLD_PASSED ? NULL
                           : th->status == THRESHOLD_ERROR ? "no samples" : "threshold";
        put_case(out, "cicada.thresholds", th->text, in->duration, type, sbuf_str(&text),
                 NULL);
    }
    if (in->failures_case)
        put_case(out, "cicada.requests", "no request failures", in->duration,
                 had_failures ? "failures" : NULL, sbuf_str(&msg), sbuf_str(&body));
    sbuf_puts(out, "  </testsuite>\n</testsuites>\n");
    sbuf_free(&text);
    sbuf_free(&msg);
    sbuf_free(&body);
}

int junit_write(const char *path, const junit_input *in, char *err, size_t errlen)
{
    sbuf b = SBUF_INIT;
    junit_render(&b, in);
    int rc = outfile_write("--junit", path, b.s, b.len, err, errlen);
    sbuf_free(&b);
    return rc;
}

int junit_check_path(const char *path, char *err, size_t errlen)
{
    return outfile_check("--junit", path, err, errlen);
}
