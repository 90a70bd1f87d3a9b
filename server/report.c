#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "json.h"
#include "outfile.h"
#include "statsjson.h"
#include "xalloc.h"

static const struct asset *asset(const char *path)
{
    for (const struct asset *a = assets_table; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

/* A script inlined into <script>: "</script" inside it would end the element early. */
static void put_script(sbuf *out, const char *js, size_t len)
{
    const char *p = js, *end = js + len;
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), "</", 2);
        if (!hit) {
            sbuf_add(out, p, (size_t)(end - p));
            break;
        }
        sbuf_add(out, p, (size_t)(hit - p));
        sbuf_puts(out, "<\\/");
        p = hit + 2;
    }
}

static void report_data(sbuf *out, const report_input *in)
{
    static const double ps[8] = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0};
    static const char *const pk[8] = {"0.5", "0.6", "0.7", "0.8", "0.9", "0.95", "0.99", "1.0"};
    stats *s = in->stats;
    stats_entry *total = stats_total(s);
    json_writer w;
    json_writer_init(&w, out);
    json_begin_object(&w);
    const char *file = strrchr(in->scenario->files, '/');
    file = file ? file + 1 : in->scenario->files;
    sbuf title = SBUF_INIT;
    sbuf_printf(&title, "Test Report for %s", file);
    json_key(&w, "title");
    json_put_string(&w, sbuf_str(&title));
    sbuf_free(&title);
    json_key(&w, "locustfile");
    json_put_string(&w, in->scenario->files);
    json_key(&w, "host");
    if (in->host)
        json_put_string(&w, in->host);
    else
        json_put_null(&w);
    double start = total->start_time;
    double end = total->last_request_ts > 0 ? total->last_request_ts : start;
    json_key(&w, "start_time");
    json_put_double(&w, start);
    json_key(&w, "end_time");
    json_put_double(&w, end);
    json_key(&w, "duration");
    json_put_double(&w, end - start);
    json_key(&w, "stats");
    json_begin_array(&w);
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    for (size_t i = 0; i < n; i++)
        statsjson_row(&w, s, rows[i], in->now);
    statsjson_row(&w, s, total, in->now);
    json_end_array(&w);
    json_key(&w, "response_times");
    json_begin_array(&w);
    for (size_t i = 0; i <= n; i++) {
        const stats_entry *e = i < n ? rows[i] : total;
        if (!e->hist.count)
            continue;
        uint64_t v[8];
        stats_percentiles_us(e, ps, 8, v);
        json_begin_object(&w);
        json_key(&w, "method");
        json_put_string(&w, e->method);
        json_key(&w, "name");
        json_put_string(&w, e->name);
        json_key(&w, "percentiles");
        json_begin_object(&w);
        for (int k = 0; k < 8; k++) {
            json_key(&w, pk[k]);
            json_put_uint(&w, stats_us_to_ms(v[k]));
        }
        json_end_object(&w);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key(&w, "failures");
    statsjson_errors(&w, s);
    json_key(&w, "exceptions");
    statsjson_exceptions(&w, s);
    json_key(&w, "history");
    history_write_json(in->history, &w, 0);
    json_key(&w, "tasks");
    statsjson_tasks(&w, in->scenario, in->runner, in->planned_users);
    json_key(&w, "thresholds");
    if (in->thresholds)
        threshold_write_json(in->thresholds, &w);
    else
        json_put_raw(&w, "[]", 2);
    json_key(&w, "generator");
    statsjson_generator(&w, s, in->health, in->master);
    json_key(&w, "show_download_link");
    json_put_bool(&w, in->show_download_link);
    json_end_object(&w);
}

int report_render(sbuf *out, const report_input *in)
{
    const struct asset *tpl = asset("templates/report.html");
    if (!tpl) {
        sbuf_puts(out, "the HTML report template is missing from this build");
        return -1;
    }
    const char *p = (const char *)tpl->data, *end = p + tpl->len;
    while (p < end) {
        const char *mark = strstr(p, "{{");
        if (!mark || mark >= end) {
            sbuf_add(out, p, (size_t)(end - p));
            break;
        }
        sbuf_add(out, p, (size_t)(mark - p));
        const struct asset *js = NULL;
        if (strncmp(mark, "{{CHART_JS}}", 12) == 0) {
            js = asset("static/chart.umd.min.js");
            p = mark + 12;
        } else if (strncmp(mark, "{{REPORT_JS}}", 13) == 0) {
            js = asset("static/report.js");
            p = mark + 13;
        } else if (strncmp(mark, "{{REPORT_DATA}}", 15) == 0) {
            report_data(out, in);
            p = mark + 15;
            continue;
        } else {
            sbuf_add(out, "{{", 2);
            p = mark + 2;
            continue;
        }
        if (js)
            put_script(out, (const char *)js->data, js->len);
    }
    return 0;
}

int report_write(const char *path, const report_input *in, char *err, size_t errlen)
{
    sbuf b = SBUF_INIT;
    int rc = -1;
    if (report_render(&b, in))
        snprintf(err, errlen, "--html %s: %s", path, sbuf_str(&b));
    else
        rc = outfile_write("--html", path, b.s, b.len, err, errlen);
    sbuf_free(&b);
    return rc;
}

int report_check_path(const char *path, char *err, size_t errlen)
{
    return outfile_check("--html", path, err, errlen);
}
