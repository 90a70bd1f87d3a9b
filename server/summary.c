#include "summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Locust's bucket for a response time in ms (stats.py _log_response_time): whole ms below
 * 100, then 2 significant digits up to 10 s, then whole seconds. Rounds half to even as
 * Python's round() does. */
static uint64_t locust_bucket_ms(double ms)
{
    double step = ms < 100 ? 1 : ms < 1000 ? 10 : ms < 10000 ? 100 : 1000;
    return (uint64_t)(rint(ms / step) * step);
}

typedef struct buckets {
    json_writer *w;
    uint64_t key, count;    /* the bucket being summed (count 0: none yet) */
} buckets;

static void put_bucket(buckets *b)
{
    char key[32];
    snprintf(key, sizeof key, "%llu", (unsigned long long)b->key);
    json_key(b->w, key);
    json_put_uint(b->w, b->count);
}

/* Histogram buckets come in increasing order, so equal Locust keys are neighbours. */
static void add_bucket(void *data, unsigned idx, uint64_t count)
{
    buckets *b = data;
    uint64_t key = locust_bucket_ms((double)hist_bucket_value(idx) / 1000.0);
    if (b->count && key != b->key) {
        put_bucket(b);
        b->count = 0;
    }
    b->key = key;
    b->count += count;
}

static int sec_cmp(const void *x, const void *y)
{
    const stats_sec *a = x, *b = y;
    return (a->sec > b->sec) - (a->sec < b->sec);
}

/* The per-second counters cicada keeps (the last STATS_SEC_RING seconds). */
static void put_per_sec(json_writer *w, const stats_entry *e, bool fails)
{
    stats_sec secs[STATS_SEC_RING];
    memcpy(secs, e->secs, sizeof secs);
    qsort(secs, STATS_SEC_RING, sizeof secs[0], sec_cmp);
    json_begin_object(w);
    for (unsigned i = 0; i < STATS_SEC_RING; i++) {
        uint32_t n = fails ? secs[i].fails : secs[i].reqs;
        if (!n)
            continue;
        char key[16];
        snprintf(key, sizeof key, "%u", secs[i].sec);
        json_key(w, key);
        json_put_uint(w, n);
    }
    json_end_object(w);
}

static void put_entry(json_writer *w, const stats_entry *e)
{
    json_begin_object(w);
    json_key(w, "name");
    json_put_string(w, e->name);
    json_key(w, "method");
    json_put_string(w, e->method);
    json_key(w, "last_request_timestamp");
    if (e->last_request_ts > 0)
        json_put_double(w, e->last_request_ts);
    else
        json_put_null(w);
    json_key(w, "start_time");
    json_put_double(w, e->start_time);
    json_key(w, "num_requests");
    json_put_uint(w, e->num_requests);
    json_key(w, "num_none_requests");
    json_put_uint(w, e->num_none_requests);
    json_key(w, "num_failures");
    json_put_uint(w, e->num_failures);
    json_key(w, "total_response_time");
    json_put_double(w, (double)e->total_rt_us / 1000.0);
    json_key(w, "max_response_time");
    json_put_double(w, (double)e->max_rt_us / 1000.0);
    json_key(w, "min_response_time");
    if (e->min_rt_us == UINT64_MAX)
        json_put_null(w);
    else
        json_put_double(w, (double)e->min_rt_us / 1000.0);
    json_key(w, "total_content_length");
    json_put_uint(w, e->total_content_length);
    json_key(w, "response_times");
    json_begin_object(w);
    buckets b = {.w = w};
    hist_foreach(&e->hist, add_bucket, &b);
    if (b.count)
        put_bucket(&b);
    json_end_object(w);
    json_key(w, "num_reqs_per_sec");
    put_per_sec(w, e, false);
    json_key(w, "num_fail_per_sec");
    put_per_sec(w, e, true);
    json_end_object(w);
}

void summary_json(sbuf *out, stats *s)
{
    sbuf compact = SBUF_INIT;
    json_writer w;
    json_writer_init(&w, &compact);
    json_begin_array(&w);
    size_t n;
    stats_entry *const *rows = stats_sorted(s, &n);
    for (size_t i = 0; i < n; i++)
        if (rows[i]->num_requests || rows[i]->num_failures)
            put_entry(&w, rows[i]);
    json_end_array(&w);
    summary_indent(out, compact.s, compact.len);
    sbuf_putc(out, '\n');
    sbuf_free(&compact);
}

static void newline(sbuf *out, int depth)
{
    sbuf_putc(out, '\n');
    for (int i = 0; i < depth * 4; i++)
        sbuf_putc(out, ' ');
}

void summary_indent(sbuf *out, const char *json, size_t len)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (in_str) {
            sbuf_putc(out, c);
            if (c == '\\' && i + 1 < len)
                sbuf_putc(out, json[++i]);
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            sbuf_putc(out, c);
            break;
        case '{': case '[':
            sbuf_putc(out, c);
            if (i + 1 < len && (json[i + 1] == '}' || json[i + 1] == ']')) {
                sbuf_putc(out, json[++i]);
                break;
            }
            newline(out, ++depth);
            break;
        case '}': case ']':
            newline(out, --depth);
            sbuf_putc(out, c);
            break;
        case ',':
            sbuf_putc(out, ',');
            newline(out, depth);
            break;
        case ':':
            sbuf_puts(out, ": ");
            break;
        default:
            sbuf_putc(out, c);
        }
    }
}
