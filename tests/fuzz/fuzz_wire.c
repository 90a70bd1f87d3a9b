/* libFuzzer target: a message on the master port or from the master (engine/wire.c), read
 * the way master.c and worker.c read each type: wire_parse, the field getters, base64 file
 * contents, and a stats report merged with wire_merge_stats. A report that merges is then
 * shown (the CSV tables, the HTML report) and sent on again (wire_put_stats), which must
 * merge too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "data.h"
#include "fuzz.h"
#include "history.h"
#include "json.h"
#include "report.h"
#include "sbuf.h"
#include "scenario.h"
#include "stats.h"
#include "wire.h"

#define NOW 1700000000.0

static scenario *sc;
static history *chart;
static size_t base_closers;     /* "</script" and "<!--" in the report of no statistics */

/* Occurrences of what would end or hide the report's inline script early, in any case. */
static size_t closers(const sbuf *b)
{
    size_t n = 0;
    for (const char *p = b->s; (p = strcasestr(p, "</script")); p++)
        n++;
    for (const char *p = b->s; (p = strstr(p, "<!--")); p++)
        n++;
    return n;
}

static size_t report_closers(stats *s)
{
    report_input in = {.stats = s, .history = chart, .scenario = sc, .now = NOW + 2};
    sbuf b = SBUF_INIT;
    if (report_render(&b, &in) != 0)
        abort();
    size_t n = closers(&b);
    sbuf_free(&b);
    return n;
}

static const char scenario_text[] =
    "{\"host\": \"http://127.0.0.1:1\", \"users\": [{\"name\": \"A\", \"tasks\": "
    "[{\"request\": \"GET /a\"}]}]}";

static void read_fields(const wire_msg *m)
{
    const json_value *d = m->data;
    const char *s;
    uint64_t u;
    double x;
    char err[256];
    switch (m->type) {
    case WIRE_HELLO:
        wire_get_uint(d, "protocol", &u, err, sizeof err);
        wire_get_str(d, "version", &s, err, sizeof err);
        wire_get_str(d, "host", &s, err, sizeof err);
        break;
    case WIRE_HEARTBEAT:
        wire_get_str(d, "state", &s, err, sizeof err);
        wire_get_uint(d, "user_count", &u, err, sizeof err);
        wire_get_num(d, "cpu", &x, err, sizeof err);
        wire_get_uint(d, "rss", &u, err, sizeof err);
        break;
    case WIRE_ERROR:
        wire_get_str(d, "message", &s, err, sizeof err);
        break;
    case WIRE_END_TEST:
    case WIRE_REFUSED:
        wire_get_str(d, "reason", &s, NULL, 0);
        break;
    case WIRE_WELCOME:
        wire_get_uint(d, "protocol", &u, err, sizeof err);
        wire_get_uint(d, "index", &u, err, sizeof err);
        break;
    case WIRE_SPAWN: {
        wire_get_uint(d, "test", &u, err, sizeof err);
        wire_get_str(d, "main", &s, err, sizeof err);
        wire_opt_num(d, "elapsed", &x, err, sizeof err);
        wire_get_num(d, "share", &x, err, sizeof err);
        wire_get_uint(d, "max_users", &u, err, sizeof err);
        wire_get_uint(d, "data_slot", &u, err, sizeof err);
        wire_get_num(d, "stop_timeout", &x, err, sizeof err);
        const json_value *files = json_get(d, "files");
        if (files && files->type == JSON_ARRAY)
            for (size_t i = 0; i < files->arr.count; i++) {
                const json_value *b64 = json_get(&files->arr.items[i], "base64");
                if (b64 && b64->type == JSON_STRING) {
                    sbuf bytes = SBUF_INIT;
                    wire_b64_decode(&bytes, b64->str.s, b64->str.len);
                    sbuf_free(&bytes);
                }
            }
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (!sc) {
        fuzz_quiet_logs();
        scenario_opts so = {0};
        sc = scenario_load(fuzz_file(1, "wire.json", scenario_text, sizeof scenario_text - 1),
                           &so, err, sizeof err);
        chart = history_new();
        stats *empty = stats_new(50, true, NOW);
        if (!sc || !chart || !empty)
            abort();
        base_closers = report_closers(empty);
        stats_free(empty);
    }
    wire_msg m;
    if (wire_parse(data, size, &m, err, sizeof err) != 0) {
        wire_msg_free(&m);
        return 0;
    }
    if (!m.data || m.data->type != JSON_OBJECT || !m.type_name)
        abort();
    read_fields(&m);
    /* Any type may carry a report: the merge must refuse what is not one, whatever else
     * the message holds. */
    stats *s = stats_new(50, true, NOW);
    if (wire_merge_stats(s, m.data, "fuzz-worker", NOW + 1, err, sizeof err) == 0) {
        /* Names, errors and exceptions come from the worker: each CSV table must still be
         * a table (data.c's RFC 4180 reader checks every row has the header's width). */
        sbuf out = SBUF_INIT;
        void (*const tables[])(sbuf *, stats *) = {csv_requests, csv_failures, csv_exceptions};
        for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
            sbuf_reset(&out);
            tables[i](&out, s);
            const char *path = fuzz_file(0, "table.csv", out.s, out.len);
            data_source *d = data_load("t", path, DATA_SEQUENTIAL, DATA_RECYCLE, 0, 1, err,
                                       sizeof err);
            if (!d && !strstr(err, "no rows")) {
                fprintf(stderr, "a CSV table does not read back: %s\n%s", err, out.s);
                abort();
            }
            data_free(d);
        }
        /* The HTML report carries them in an inline script: none may end it. */
        if (report_closers(s) != base_closers)
            abort();
        csv_history_rows(&out, s, NOW + 2, 1, true);
        stats_tick(s, NOW + 2);

        sbuf b = SBUF_INIT;
        json_writer w;
        wire_begin(&w, &b, WIRE_STATS);
        wire_put_stats(&w, s);
        wire_end(&w);
        wire_msg again;
        if (wire_parse(b.s, b.len, &again, err, sizeof err) != 0)
            abort();
        stats *s2 = stats_new(50, true, NOW);
        if (wire_merge_stats(s2, again.data, "fuzz-worker", NOW + 3, err, sizeof err) != 0) {
            fprintf(stderr, "a report wire_put_stats wrote does not merge: %s\n", err);
            abort();
        }
        stats_free(s2);
        wire_msg_free(&again);
        sbuf_free(&b);
        sbuf_free(&out);
    }
    stats_free(s);
    wire_msg_free(&m);
    return 0;
}
