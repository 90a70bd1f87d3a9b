/* Tests for engine/wire.c: parsing and building messages, the field getters, base64 of
 * file contents, and stats reports (wire_put_stats on a worker, wire_merge_stats on the
 * master): a report must carry everything exactly, merging every worker's reports must
 * give the statistics of one process that saw every request, and a malformed report must
 * be refused whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "rng.h"
#include "sbuf.h"
#include "stats.h"
#include "wire.h"

/* A wall-clock second far from 0, as ev_now gives. */
#define T 1700000000.0

#define assert_same_double(got, want)                                                     \
    do {                                                                                   \
        double got_ = (got), want_ = (want);                                               \
        if (got_ != want_)                                                                 \
            fail_msg("%s = %.17g, want %.17g", #got, got_, want_);                         \
    } while (0)

/* ---- messages ----------------------------------------------------------------------- */

static void parse_ok(const char *text, wire_msg *m)
{
    char err[256] = "";
    if (wire_parse(text, strlen(text), m, err, sizeof err) != 0)
        fail_msg("wire_parse(%s): %s", text, err);
    assert_non_null(m->root);
    assert_non_null(m->data);
    assert_int_equal(m->data->type, JSON_OBJECT);
}

/* text must be refused with exactly want. */
static void parse_bad(const char *text, size_t len, const char *want)
{
    wire_msg m;
    char err[256] = "";
    int rc = wire_parse(text, len, &m, err, sizeof err);
    wire_msg_free(&m);
    if (rc != -1)
        fail_msg("wire_parse(%.*s) = %d, want -1 (%s)", (int)len, text, rc, want);
    if (strcmp(err, want) != 0)
        fail_msg("wire_parse(%.*s)\n  got:  %s\n  want: %s", (int)len, text, err, want);
}

static void test_parse_valid(void **state)
{
    (void)state;
    wire_msg m;
    parse_ok("{\"type\": \"heartbeat\", \"data\": {\"state\": \"running\", \"user_count\": 3}}",
             &m);
    assert_int_equal(m.type, WIRE_HEARTBEAT);
    assert_string_equal(m.type_name, "heartbeat");
    assert_non_null(json_get(m.data, "user_count"));
    wire_msg_free(&m);
    assert_null(m.root);

    /* Every name this version knows maps back to its type. */
    for (int t = 1; t < WIRE_NTYPES; t++) {
        char text[128];
        snprintf(text, sizeof text, "{\"data\":{},\"type\":\"%s\"}", wire_type_name(t));
        parse_ok(text, &m);
        assert_int_equal(m.type, t);
        wire_msg_free(&m);
    }

    /* A frame need not be NUL-terminated: only len bytes are read. */
    const char framed[] = "{\"type\":\"pong\",\"data\":{}}GARBAGE";
    char err[128] = "";
    assert_int_equal(wire_parse(framed, sizeof framed - 1 - 7, &m, err, sizeof err), 0);
    assert_int_equal(m.type, WIRE_PONG);
    wire_msg_free(&m);
}

static void test_parse_unknown_type_kept(void **state)
{
    (void)state;
    /* A newer peer's message is not an error: the caller logs its name and drops it. */
    wire_msg m;
    parse_ok("{\"type\": \"rebalance\", \"data\": {\"x\": 1}}", &m);
    assert_int_equal(m.type, WIRE_UNKNOWN);
    assert_string_equal(m.type_name, "rebalance");
    wire_msg_free(&m);
    parse_ok("{\"type\": \"unknown\", \"data\": {}}", &m);
    assert_int_equal(m.type, WIRE_UNKNOWN);
    wire_msg_free(&m);
    /* Names are case-sensitive. */
    parse_ok("{\"type\": \"Hello\", \"data\": {}}", &m);
    assert_int_equal(m.type, WIRE_UNKNOWN);
    assert_string_equal(m.type_name, "Hello");
    wire_msg_free(&m);
    assert_string_equal(wire_type_name(WIRE_UNKNOWN), "unknown");
    assert_string_equal(wire_type_name(-1), "unknown");
    assert_string_equal(wire_type_name(WIRE_NTYPES), "unknown");
    assert_string_equal(wire_type_name(WIRE_SPAWNING_COMPLETE), "spawning_complete");
    assert_string_equal(wire_type_name(WIRE_REREGISTER), "reregister");
}

/* The messages of the parse errors, each one line. */
static void test_parse_error_messages(void **state)
{
    (void)state;
    wire_msg m;
    char err[256];
    parse_bad("", 0, "not JSON (1:1: unexpected end of input)");
    parse_bad(NULL, 0, "not JSON (1:1: unexpected end of input)");
    parse_bad("{\"type\": \"hello\", \"data\": {}", 26,
              "not JSON (1:27: unexpected end of input)");
    /* msgpack (what Locust speaks) is not JSON. */
    const char mp[] = "\x82\xa4type\xa5hello";
    assert_int_equal(wire_parse(mp, sizeof mp - 1, &m, err, sizeof err), -1);
    assert_memory_equal(err, "not JSON (1:1: ", 15);
    assert_null(strchr(err, '\n'));
    wire_msg_free(&m);
    parse_bad("[1, 2]", 6, "not a JSON object");
    parse_bad("\"hello\"", 7, "not a JSON object");
    parse_bad("{\"data\": {}}", 12, "no \"type\" string");
    parse_bad("{\"type\": 1, \"data\": {}}", 23, "no \"type\" string");
    parse_bad("{\"type\": null, \"data\": {}}", 26, "no \"type\" string");
    parse_bad("{\"type\": \"hello\"}", 17, "\"hello\" without a \"data\" object");
    parse_bad("{\"type\": \"hello\", \"data\": []}", 29, "\"hello\" without a \"data\" object");
    parse_bad("{\"type\": \"hello\", \"data\": null}", 31,
              "\"hello\" without a \"data\" object");
    /* A long type name is cut in the message, not the buffer. */
    char text[600], want[80];
    snprintf(text, sizeof text, "{\"type\": \"%0500d\", \"data\": 1}", 0);
    snprintf(want, sizeof want, "\"%040d\" without a \"data\" object", 0);
    parse_bad(text, strlen(text), want);
    /* A failed parse leaves nothing to use and is safe to free twice. */
    assert_int_equal(wire_parse("[]", 2, &m, err, sizeof err), -1);
    assert_null(m.data);
    wire_msg_free(&m);
    wire_msg_free(&m);
}

static void test_begin_end(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    json_writer w;
    sbuf_puts(&b, "left over from the last message");
    wire_begin(&w, &b, WIRE_STOP);
    wire_end(&w);
    assert_string_equal(sbuf_str(&b), "{\"type\":\"stop\",\"data\":{}}");

    wire_begin(&w, &b, WIRE_WELCOME);
    json_key(&w, "protocol");
    json_put_int(&w, WIRE_PROTOCOL);
    json_key(&w, "index");
    json_put_uint(&w, 7);
    wire_end(&w);
    assert_string_equal(sbuf_str(&b), "{\"type\":\"welcome\",\"data\":{\"protocol\":1,\"index\":7}}");

    /* What is built parses back. */
    wire_msg m;
    parse_ok(b.s, &m);
    assert_int_equal(m.type, WIRE_WELCOME);
    uint64_t idx = 0;
    char err[128];
    assert_int_equal(wire_get_uint(m.data, "index", &idx, err, sizeof err), 0);
    assert_int_equal(idx, 7);
    wire_msg_free(&m);
    sbuf_free(&b);
}

/* ---- field getters ------------------------------------------------------------------ */

static void test_getters(void **state)
{
    (void)state;
    wire_msg m;
    parse_ok("{\"type\": \"hello\", \"data\": {\"s\": \"text\", \"nul\": \"a\\u0000b\", "
             "\"i\": 42, \"zero\": 0, \"neg\": -1, \"frac\": 1.5, \"exp\": 1e3, "
             "\"big\": 18446744073709551615, \"max\": 9223372036854775807, "
             "\"n\": -2.25, \"str_num\": \"3\", \"t\": true, \"null\": null}}",
             &m);
    const json_value *d = m.data;
    char err[128];
    const char *s = NULL;
    uint64_t u = 99;
    double x = 99;

    assert_int_equal(wire_get_str(d, "s", &s, err, sizeof err), 0);
    assert_string_equal(s, "text");
    /* A NUL would cut a C string where the peer did not mean it. */
    s = NULL;
    assert_int_equal(wire_get_str(d, "nul", &s, err, sizeof err), -1);
    assert_string_equal(err, "field \"nul\" must be a string");
    assert_null(s);
    assert_int_equal(wire_get_str(d, "i", &s, err, sizeof err), -1);
    assert_string_equal(err, "field \"i\" must be a string");
    assert_int_equal(wire_get_str(d, "absent", &s, err, sizeof err), -1);
    assert_string_equal(err, "field \"absent\" must be a string");

    assert_int_equal(wire_get_uint(d, "i", &u, err, sizeof err), 0);
    assert_int_equal(u, 42);
    assert_int_equal(wire_get_uint(d, "zero", &u, err, sizeof err), 0);
    assert_int_equal(u, 0);
    assert_int_equal(wire_get_uint(d, "max", &u, err, sizeof err), 0);
    assert_int_equal(u, INT64_MAX);
    static const char *const not_uint[] = {"neg", "frac", "exp", "big", "str_num", "t", "null",
                                           "absent"};
    for (size_t i = 0; i < sizeof not_uint / sizeof not_uint[0]; i++) {
        u = 99;
        err[0] = 0;
        if (wire_get_uint(d, not_uint[i], &u, err, sizeof err) != -1)
            fail_msg("wire_get_uint(%s) accepted %llu", not_uint[i], (unsigned long long)u);
        char want[128];
        snprintf(want, sizeof want, "field \"%s\" must be an integer >= 0", not_uint[i]);
        assert_string_equal(err, want);
        assert_int_equal(u, 99);
    }

    assert_int_equal(wire_get_num(d, "n", &x, err, sizeof err), 0);
    assert_same_double(x, -2.25);
    assert_int_equal(wire_get_num(d, "exp", &x, err, sizeof err), 0);
    assert_same_double(x, 1000.0);
    assert_int_equal(wire_get_num(d, "i", &x, err, sizeof err), 0);
    assert_same_double(x, 42.0);
    x = 99;
    assert_int_equal(wire_get_num(d, "str_num", &x, err, sizeof err), -1);
    assert_string_equal(err, "field \"str_num\" must be a number");
    assert_int_equal(wire_get_num(d, "absent", &x, err, sizeof err), -1);
    assert_string_equal(err, "field \"absent\" must be a number");
    assert_same_double(x, 99);

    /* Optional: absent leaves the default, present must be right. */
    x = 7;
    assert_int_equal(wire_opt_num(d, "absent", &x, err, sizeof err), 0);
    assert_same_double(x, 7);
    assert_int_equal(wire_opt_num(d, "frac", &x, err, sizeof err), 0);
    assert_same_double(x, 1.5);
    assert_int_equal(wire_opt_num(d, "null", &x, err, sizeof err), -1);
    assert_string_equal(err, "field \"null\" must be a number");
    assert_same_double(x, 1.5);
    wire_msg_free(&m);
}

/* ---- base64 ------------------------------------------------------------------------- */

static void b64_round_trip(const void *data, size_t len, const char *want)
{
    sbuf enc = SBUF_INIT, dec = SBUF_INIT;
    wire_b64_encode(&enc, data, len);
    assert_int_equal(enc.len, (len + 2) / 3 * 4);
    /* By length: the empty case is not terminated (test_b64_empty_is_terminated). */
    if (want && enc.len)
        assert_memory_equal(enc.s, want, enc.len);
    assert_int_equal(enc.len, want ? strlen(want) : enc.len);
    assert_int_equal(wire_b64_decode(&dec, enc.s ? enc.s : "", enc.len), 0);
    assert_int_equal(dec.len, len);
    if (len)
        assert_memory_equal(dec.s, data, len);
    sbuf_free(&enc);
    sbuf_free(&dec);
}

static void test_b64_round_trips(void **state)
{
    (void)state;
    /* RFC 4648 §10's vectors: every padding case. */
    b64_round_trip("", 0, "");
    b64_round_trip("f", 1, "Zg==");
    b64_round_trip("fo", 2, "Zm8=");
    b64_round_trip("foo", 3, "Zm9v");
    b64_round_trip("foob", 4, "Zm9vYg==");
    b64_round_trip("fooba", 5, "Zm9vYmE=");
    b64_round_trip("foobar", 6, "Zm9vYmFy");
    /* Bytes that are not text: NUL, 0xff, and the two last alphabet characters. */
    b64_round_trip("\0", 1, "AA==");
    b64_round_trip("\xff\xff", 2, "//8=");
    b64_round_trip("\xfb\xef\xbe", 3, "++++");
    b64_round_trip("\0\xff\0", 3, "AP8A");
    unsigned char all[256 * 3 + 1];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (unsigned char)(i * 7 + (i >> 8));
    for (size_t len = 0; len <= sizeof all; len += (len < 12 ? 1 : 97))
        b64_round_trip(all, len, NULL);
    b64_round_trip(all, sizeof all, NULL);

    /* encode appends; decode appends. */
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "x:");
    wire_b64_encode(&b, "hi", 2);
    assert_string_equal(sbuf_str(&b), "x:aGk=");
    sbuf_reset(&b);
    sbuf_puts(&b, ">");
    assert_int_equal(wire_b64_decode(&b, "aGk=", 4), 0);
    assert_string_equal(sbuf_str(&b), ">hi");
    sbuf_free(&b);
}

/* Regression (engine/wire.c wire_b64_encode, with engine/sbuf.c sbuf_reserve): encoding zero
 * bytes into an empty sbuf leaves it with memory (sbuf_reserve allocated 64 bytes) but
 * no terminating NUL, against sbuf.h's "always NUL-terminated": sbuf_str then returns
 * uninitialised bytes (ASan: heap-buffer-overflow reading it as a string). master.c's
 * read_files passes lengths along, so an empty file is sent right today; any caller that
 * reads the text as a C string is not. */
static void test_b64_empty_is_terminated(void **state)
{
    (void)state;
    sbuf enc = SBUF_INIT;
    wire_b64_encode(&enc, "", 0);
    assert_int_equal(enc.len, 0);
    assert_true(enc.s == NULL || enc.s[0] == '\0');
    sbuf_free(&enc);
}

static void b64_bad(const char *text, size_t len)
{
    sbuf out = SBUF_INIT;
    if (wire_b64_decode(&out, text, len) != -1)
        fail_msg("wire_b64_decode(\"%.*s\") accepted it (%zu bytes)", (int)len, text, out.len);
    sbuf_free(&out);
}

static void test_b64_rejects(void **state)
{
    (void)state;
    /* Wrong length. */
    b64_bad("Zg=", 3);
    b64_bad("Zm9vY", 5);
    b64_bad("Z", 1);
    /* Characters outside the alphabet (URL-safe base64, whitespace, NUL, high bytes). */
    b64_bad("Zm9-", 4);
    b64_bad("Zm9_", 4);
    b64_bad("Zm 9", 4);
    b64_bad("Zm9v\nYmFy", 9);
    b64_bad("Zm\0v", 4);
    b64_bad("Zm\xffv", 4);
    b64_bad("Zm9v.mFy", 8);
    /* '=' only as the last one or two characters of the text. */
    b64_bad("Zg==Zm9v", 8);
    b64_bad("Zm8=Zm9v", 8);
    b64_bad("Z=9v", 4);
    b64_bad("=m9v", 4);
    b64_bad("Zm=v", 4);
    b64_bad("Z===", 4);
    b64_bad("====", 4);
    b64_bad("Zm9vZ===", 8);
    /* A bad character after good groups: the good prefix may be there, but it fails. */
    sbuf out = SBUF_INIT;
    assert_int_equal(wire_b64_decode(&out, "Zm9vYmFy!!!!", 12), -1);
    assert_true(out.len <= 6);
    sbuf_free(&out);
}

/* ---- stats reports ------------------------------------------------------------------ */

/* Encodes s as a worker's stats message. */
static void encode(sbuf *b, stats *s)
{
    json_writer w;
    wire_begin(&w, b, WIRE_STATS);
    wire_put_stats(&w, s);
    json_key(&w, "user_count");
    json_put_uint(&w, 3);
    wire_end(&w);
}

/* Encodes s, parses the message as the master would and merges it into into. */
static void send_report(stats *into, stats *s, const char *node, double now)
{
    sbuf b = SBUF_INIT;
    encode(&b, s);
    wire_msg m;
    parse_ok(b.s, &m);
    assert_int_equal(m.type, WIRE_STATS);
    char err[256] = "";
    if (wire_merge_stats(into, m.data, node, now, err, sizeof err) != 0)
        fail_msg("wire_merge_stats: %s\n%s", err, b.s);
    wire_msg_free(&m);
    sbuf_free(&b);
}

static uint32_t sec_count(const stats_entry *e, uint32_t t, bool fails)
{
    const stats_sec *slot = &e->secs[t % STATS_SEC_RING];
    if (slot->sec != t)
        return 0;
    return fails ? slot->fails : slot->reqs;
}

/* Everything a report carries, equal; per-second counters over the ring ending at end. */
static void assert_entry_same(const stats_entry *a, const stats_entry *b, uint32_t end)
{
    assert_string_equal(a->method, b->method);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->num_requests, b->num_requests);
    assert_int_equal(a->num_none_requests, b->num_none_requests);
    assert_int_equal(a->num_failures, b->num_failures);
    assert_int_equal(a->total_rt_us, b->total_rt_us);
    assert_int_equal(a->min_rt_us, b->min_rt_us);
    assert_int_equal(a->max_rt_us, b->max_rt_us);
    assert_int_equal(a->total_content_length, b->total_content_length);
    assert_same_double(a->last_request_ts, b->last_request_ts);
    assert_same_double(a->start_time, b->start_time);
    assert_int_equal(a->hist.count, b->hist.count);
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (hist_bucket_count(&a->hist, i) != hist_bucket_count(&b->hist, i))
            fail_msg("%s %s: bucket %u holds %llu, want %llu", a->method, a->name, i,
                     (unsigned long long)hist_bucket_count(&a->hist, i),
                     (unsigned long long)hist_bucket_count(&b->hist, i));
    uint64_t pa[STATS_NPCT], pb[STATS_NPCT];
    stats_percentiles_us(a, stats_percentiles, STATS_NPCT, pa);
    stats_percentiles_us(b, stats_percentiles, STATS_NPCT, pb);
    for (int p = 0; p < STATS_NPCT; p++)
        assert_int_equal(pa[p], pb[p]);
    assert_int_equal(stats_median_us(a), stats_median_us(b));
    for (uint32_t t = end - STATS_SEC_RING + 1; t <= end; t++) {
        assert_int_equal(sec_count(a, t, false), sec_count(b, t, false));
        assert_int_equal(sec_count(a, t, true), sec_count(b, t, true));
    }
    /* The open model's corrected times. */
    assert_int_equal(a->co_hist.count, b->co_hist.count);
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        assert_int_equal(hist_bucket_count(&a->co_hist, i), hist_bucket_count(&b->co_hist, i));
    /* The timing breakdown, phase by phase. */
    assert_int_equal(a->timing.count, b->timing.count);
    for (int p = 0; p < STATS_NPHASES; p++) {
        assert_int_equal(a->timing.total_us[p], b->timing.total_us[p]);
        assert_int_equal(a->timing.hist[p].count, b->timing.hist[p].count);
        for (unsigned i = 0; i < HIST_BUCKETS; i++)
            assert_int_equal(hist_bucket_count(&a->timing.hist[p], i),
                             hist_bucket_count(&b->timing.hist[p], i));
    }
}

static void assert_errors_same(stats *a, stats *b)
{
    size_t n, m;
    stats_error *const *ea = stats_errors(a, &n);
    stats_error *const *eb = stats_errors(b, &m);
    assert_int_equal(n, m);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(ea[i]->entry->method, eb[i]->entry->method);
        assert_string_equal(ea[i]->entry->name, eb[i]->entry->name);
        assert_string_equal(ea[i]->error, eb[i]->error);
        assert_int_equal(ea[i]->occurrences, eb[i]->occurrences);
    }
    assert_int_equal(stats_error_count(a), stats_error_count(b));
}

static void assert_all_same(stats *a, stats *b, uint32_t end)
{
    size_t n, m;
    stats_entry *const *ra = stats_sorted(a, &n);
    stats_entry *const *rb = stats_sorted(b, &m);
    assert_int_equal(n, m);
    for (size_t i = 0; i < n; i++)
        assert_entry_same(ra[i], rb[i], end);
    assert_entry_same(stats_total(a), stats_total(b), end);
    assert_errors_same(a, b);
    uint64_t run_a, failed_a, run_b, failed_b;
    stats_checks(a, &run_a, &failed_a);
    stats_checks(b, &run_b, &failed_b);
    assert_int_equal(run_a, run_b);
    assert_int_equal(failed_a, failed_b);
    uint64_t it_a[3], it_b[3];
    stats_iterations(a, &it_a[0], &it_a[1], &it_a[2]);
    stats_iterations(b, &it_b[0], &it_b[1], &it_b[2]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(it_a[i], it_b[i]);
}

/* One worker's statistics with every kind of value: timed and untimed requests, errors,
 * several seconds, zero-byte and big responses, exceptions. */
static stats *sample_stats(void)
{
    stats *s = stats_new(0, false, T);
    stats_entry *a = stats_entry_get(s, "GET", "/a", T);
    stats_entry *b = stats_entry_get(s, "POST", "/b \"quoted\" \xc3\xa9", T);
    stats_entry *c = stats_entry_get(s, "GET", "/only-untimed", T);
    stats_entry_get(s, "GET", "/never", T);  /* no request: not in the report */
    static const int64_t times[] = {0, 1, 127, 128, 129, 5000, 5001, 77777, 1234567,
                                    (int64_t)1 << 37};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        stats_log(s, a, T + 0.1 + (double)i * 0.45, times[i], i * 100, NULL);
        if (i % 3 == 0 && times[i] >= 10) {
            uint64_t t = (uint64_t)times[i];
            const uint64_t ph[STATS_NPHASES] = {t / 10, t / 10, 0, t / 2, t - t / 10 * 2 - t / 2};
            stats_log_timing(s, a, ph);
        }
    }
    stats_log_checks(s, 12, 5);
    stats_log_corrected(s, a, 5000);
    stats_log_corrected(s, a, 250000);
    stats_log_iterations(s, 9, 2, 1);
    stats_log(s, a, T + 2.0, -1, 0, "ConnectionRefusedError(111)");
    stats_log(s, a, T + 2.2, 3000, 12, "HTTPError('500 Server Error')");
    stats_log(s, a, T + 4.7, 3100, 12, "HTTPError('500 Server Error')");
    stats_log(s, b, T + 3.3, 250000, 1 << 20, NULL);
    stats_log(s, b, T + 3.31, 250001, 0, "timeout\nwith a newline");
    stats_log(s, c, T + 1.5, -1, 0, NULL);
    stats_log(s, c, T + 1.6, -1, 0, "refused");
    stats_log_exception(s, "KeyError: 'id'", "task T, step 2", "local");
    stats_log_exception(s, "KeyError: 'id'", "task T, step 2", "local");
    stats_log_exception(s, "ValueError", "on_start", "local");
    return s;
}

static void test_report_round_trip(void **state)
{
    (void)state;
    stats *w = sample_stats();
    /* The master's stats began later; the entries it makes for the report begin then too,
     * and the earlier start of the worker's counting wins. */
    stats *m = stats_new(0, false, T + 3);
    send_report(m, w, "worker-1", T + 5);
    assert_all_same(m, w, (uint32_t)T + 5);
    size_t n;
    stats_sorted(m, &n);
    assert_int_equal(n, 3);  /* "/never" had no request */
    stats_entry *a = stats_entry_get(m, "GET", "/a", T + 5);
    assert_int_equal(a->num_requests, 13);
    assert_int_equal(a->num_failures, 3);
    assert_int_equal(a->min_rt_us, 0);
    assert_int_equal(a->max_rt_us, (uint64_t)1 << 37);
    stats_entry *c = stats_entry_get(m, "GET", "/only-untimed", T + 5);
    assert_int_equal(c->num_requests, 2);
    assert_int_equal(c->num_none_requests, 2);
    assert_int_equal(c->min_rt_us, UINT64_MAX);  /* no timed request: no minimum */
    assert_int_equal(stats_min_rt_ms(c), 0);

    /* Exceptions keep their counts, under the node named by the master. */
    assert_true(a->timing.count >= 2);
    uint64_t run, failed;
    stats_checks(m, &run, &failed);
    assert_int_equal(run, 12);
    assert_int_equal(failed, 5);
    assert_int_equal(a->co_hist.count, 2);
    uint64_t started, late, dropped;
    stats_iterations(m, &started, &late, &dropped);
    assert_int_equal(started, 9);
    assert_int_equal(late, 2);
    assert_int_equal(dropped, 1);
    stats_exception *const *x = stats_exceptions(m, &n);
    assert_int_equal(n, 2);
    assert_string_equal(x[0]->msg, "KeyError: 'id'");
    assert_string_equal(x[0]->traceback, "task T, step 2");
    assert_int_equal(x[0]->count, 2);
    assert_string_equal(x[0]->nodes, "worker-1");
    assert_string_equal(x[1]->msg, "ValueError");
    assert_int_equal(x[1]->count, 1);

    /* The same report again from another worker: everything doubles, nodes join. */
    send_report(m, w, "worker-2", T + 6);
    a = stats_entry_get(m, "GET", "/a", T + 6);
    assert_int_equal(a->num_requests, 26);
    assert_int_equal(a->hist.count, 2 * 12);
    assert_int_equal(sec_count(a, (uint32_t)T + 2, true), 4);
    x = stats_exceptions(m, &n);
    assert_int_equal(x[0]->count, 4);
    assert_string_equal(x[0]->nodes, "worker-1, worker-2");
    assert_int_equal(stats_error_count(m), 2 * 5);
    stats_free(m);
    stats_free(w);
}

static void test_empty_report(void **state)
{
    (void)state;
    /* A worker with nothing to say still sends a well-formed report, which changes
     * nothing. */
    stats *w = stats_new(0, false, T);
    stats *m = stats_new(0, false, T);
    stats_entry_get(w, "GET", "/x", T);
    send_report(m, w, "w", T + 1);
    size_t n;
    stats_sorted(m, &n);
    assert_int_equal(n, 0);
    assert_int_equal(stats_total(m)->num_requests, 0);
    assert_int_equal(stats_total(m)->min_rt_us, UINT64_MAX);
    assert_same_double(stats_total(m)->start_time, T);
    stats_exceptions(m, &n);
    assert_int_equal(n, 0);
    stats_free(w);
    stats_free(m);
}

static void test_workers_merge_to_one_process(void **state)
{
    (void)state;
    /* Workers report deltas every 3 s and reset, as worker.c does; what the master adds up
     * must be what one process that logged every request holds. */
    enum { WORKERS = 2, NAMES = 5 };
    static const char *const methods[] = {"GET", "POST"};
    static const char *const errors[] = {"HTTPError(500)", "timeout", "refused"};
    static const char *const excs[] = {"KeyError", "IndexError"};
    static const char *const nodes[WORKERS] = {"host_1_aa", "host_2_bb"};
    rng_seed(23);
    stats *ref = stats_new(0, false, T);
    stats *master = stats_new(0, false, T);
    stats *w[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        w[i] = stats_new(0, false, T);
    double next_report = T + 0.7, now = T;
    for (int step = 0; step < 3000; step++) {
        now = T + step * 0.01 + (step / 100) * 0.003;
        if (now >= next_report) {
            for (int i = 0; i < WORKERS; i++) {
                send_report(master, w[i], nodes[i], now);
                stats_reset(w[i], now, true);
            }
            next_report += 3.0;
        }
        char name[16];
        snprintf(name, sizeof name, "/item/%d", (int)rng_below(NAMES));
        const char *method = methods[rng_below(2)];
        int64_t rt = rng_below(20) == 0 ? -1 : (int64_t)rng_below(UINT64_C(1) << rng_below(24));
        uint64_t bytes = rng_below(5000);
        const char *err = rng_below(10) == 0 ? errors[rng_below(3)] : NULL;
        int k = (int)rng_below(WORKERS);
        stats_log(w[k], stats_entry_get(w[k], method, name, now), now, rt, bytes, err);
        stats_log(ref, stats_entry_get(ref, method, name, now), now, rt, bytes, err);
        if (rt >= 0 && rng_below(2)) {
            uint64_t ph[STATS_NPHASES];
            for (int p = 0; p < STATS_NPHASES; p++)
                ph[p] = rng_below((uint64_t)rt / STATS_NPHASES + 1);
            stats_log_timing(w[k], stats_entry_get(w[k], method, name, now), ph);
            stats_log_timing(ref, stats_entry_get(ref, method, name, now), ph);
        }
        if (rng_below(50) == 0) {
            stats_log_checks(w[k], 3, 1);
            stats_log_checks(ref, 3, 1);
        }
        if (rt >= 0 && rng_below(3) == 0) {
            int64_t co = rt + (int64_t)rng_below(100000);
            stats_log_corrected(w[k], stats_entry_get(w[k], method, name, now), co);
            stats_log_corrected(ref, stats_entry_get(ref, method, name, now), co);
            stats_log_iterations(w[k], 1, co > rt + 50000, 0);
            stats_log_iterations(ref, 1, co > rt + 50000, 0);
        }
        /* Each worker raises each exception, some of them several times. */
        if (step % 250 == 7) {
            int kx = (step / 250) % 2, x = (step / 500) % 2;
            stats_log_exception(w[kx], excs[x], "tb", nodes[kx]);
            stats_log_exception(ref, excs[x], "tb", "local");
        }
    }
    for (int i = 0; i < WORKERS; i++)
        send_report(master, w[i], nodes[i], now + 0.01);

    size_t n;
    stats_sorted(ref, &n);
    assert_int_equal(n, 2 * NAMES);
    assert_all_same(master, ref, (uint32_t)now);
    assert_true(stats_error_count(ref) > 100);
    assert_true(stats_total(ref)->timing.count > 100);
    uint64_t run, failed;
    stats_checks(ref, &run, &failed);
    assert_true(run > 0);
    for (double t = now - 15; t <= now + 3; t += 0.5)
        assert_same_double(stats_current_rps(master, stats_total(master), t),
                           stats_current_rps(ref, stats_total(ref), t));
    assert_same_double(stats_total_rps(master, stats_total(master)),
                       stats_total_rps(ref, stats_total(ref)));

    size_t nm, nr;
    stats_exception *const *xm = stats_exceptions(master, &nm);
    stats_exception *const *xr = stats_exceptions(ref, &nr);
    assert_int_equal(nm, nr);
    assert_int_equal(nm, 2);
    for (size_t i = 0; i < nr; i++) {
        size_t j = 0;
        while (j < nm && strcmp(xm[j]->msg, xr[i]->msg) != 0)
            j++;
        assert_true(j < nm);
        assert_int_equal(xm[j]->count, xr[i]->count);
        /* Both workers raised it; each is named once. */
        assert_true(strcmp(xm[j]->nodes, "host_1_aa, host_2_bb") == 0 ||
                    strcmp(xm[j]->nodes, "host_2_bb, host_1_aa") == 0);
    }
    for (int i = 0; i < WORKERS; i++)
        stats_free(w[i]);
    stats_free(ref);
    stats_free(master);
}

/* ---- malformed reports -------------------------------------------------------------- */

/* A report built from parts (JSON text), so each case breaks exactly one thing. */
#define ENTRY(method, name, reqs, none, fails, total, min, max, hist, secs)                 \
    "{\"method\":\"" method "\",\"name\":\"" name "\",\"num_requests\":" #reqs              \
    ",\"num_none_requests\":" #none ",\"num_failures\":" #fails ",\"total_rt_us\":" #total  \
    ",\"min_rt_us\":" #min ",\"max_rt_us\":" #max ",\"total_content_length\":10"           \
    ",\"start_time\":1700000000.5,\"last_request_ts\":1700000001.25,\"hist\":" hist          \
    ",\"secs\":" secs "}"
/* Two requests of 100 and 300 us, one failed, in second T+1. */
#define GOOD_A ENTRY("GET", "/a", 2, 0, 1, 400, 100, 300, "[100,1,203,1]", "[1700000001,2,1]")
#define GOOD_TOTAL                                                                          \
    ENTRY("", "Aggregated", 2, 0, 1, 400, 100, 300, "[100,1,203,1]", "[1700000001,2,1]")
#define GOOD_ERRORS "[{\"method\":\"GET\",\"name\":\"/a\",\"error\":\"boom\",\"occurrences\":1}]"
#define GOOD_EXCS "[{\"msg\":\"KeyError\",\"traceback\":\"tb\",\"count\":2}]"
#define REPORT(entries, total, errors, excs)                                                \
    "{\"entries\":" entries ",\"total\":" total ",\"errors\":" errors ",\"exceptions\":"    \
    excs ",\"user_count\":1}"

/* The target's state as text (every visible entry, failures, exceptions), to show that a
 * refused report changed nothing. */
static char *snapshot(stats *s)
{
    sbuf b = SBUF_INIT;
    encode(&b, s);
    size_t n, e, x;
    stats_entry *const *rows = stats_sorted(s, &n);
    stats_errors(s, &e);
    stats_exception *const *xs = stats_exceptions(s, &x);
    sbuf_printf(&b, " entries=%zu errors=%zu/%llu exceptions=%zu", n, e,
                (unsigned long long)stats_error_count(s), x);
    for (size_t i = 0; i < x; i++)
        sbuf_printf(&b, " [%s]", xs[i]->nodes);
    for (size_t i = 0; i < n; i++)
        sbuf_printf(&b, " %s:%.17g", rows[i]->name, rows[i]->start_time);
    sbuf_printf(&b, " total:%.17g", stats_total(s)->start_time);
    uint64_t run, failed;
    stats_checks(s, &run, &failed);
    sbuf_printf(&b, " checks:%llu/%llu", (unsigned long long)run, (unsigned long long)failed);
    uint64_t it[3];
    stats_iterations(s, &it[0], &it[1], &it[2]);
    sbuf_printf(&b, " iterations:%llu/%llu/%llu", (unsigned long long)it[0],
                (unsigned long long)it[1], (unsigned long long)it[2]);
    for (size_t i = 0; i < n; i++)
        sbuf_printf(&b, " co:%llu", (unsigned long long)rows[i]->co_hist.count);
    return sbuf_take(&b);
}

static int merge_text(stats *s, const char *data, char *err, size_t errlen)
{
    json_error je;
    json_value *v = json_parse(data, strlen(data), 0, &je);
    if (!v)
        fail_msg("test report is not JSON (%u:%u %s): %s", je.line, je.col, je.msg, data);
    int rc = wire_merge_stats(s, v, "bad-worker", T + 10, err, errlen);
    json_free(v);
    return rc;
}

/* data must be refused with an error that starts with want (is exactly want unless
 * prefix), and leave s as it was. */
static void merge_refused(stats *s, const char *data, const char *want, bool prefix)
{
    char *before = snapshot(s);
    char err[512] = "";
    int rc = merge_text(s, data, err, sizeof err);
    char *after = snapshot(s);
    if (rc != -1)
        fail_msg("merged, want error: %s\n%s", want, data);
    if (prefix ? strncmp(err, want, strlen(want)) != 0 : strcmp(err, want) != 0)
        fail_msg("error\n  got:  %s\n  want: %s%s\n%s", err, want, prefix ? "..." : "", data);
    if (strcmp(before, after) != 0)
        fail_msg("a refused report changed the stats:\n%s\n%s\n%s", before, after, data);
    free(before);
    free(after);
}

static void merge_bad(stats *s, const char *data, const char *want)
{
    merge_refused(s, data, want, false);
}

static void test_malformed_reports(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    /* Something to leave alone. */
    stats_entry *a = stats_entry_get(s, "GET", "/a", T);
    stats_log(s, a, T + 0.5, 5000, 10, NULL);
    stats_log(s, a, T + 0.6, 7000, 10, "boom");
    stats_log_exception(s, "KeyError", "tb", "local");
    char err[512];

    /* The good parts merge: each case below fails for the one thing it breaks. */
    stats *ok = stats_new(0, false, T);
    assert_int_equal(merge_text(ok, REPORT("[" GOOD_A "]", GOOD_TOTAL, GOOD_ERRORS, GOOD_EXCS),
                                err, sizeof err), 0);
    stats_entry *oa = stats_entry_get(ok, "GET", "/a", T);
    assert_int_equal(oa->num_requests, 2);
    assert_int_equal(stats_percentile_us(oa, 1.0), 300);
    assert_int_equal(stats_error_count(ok), 1);
    stats_free(ok);

    /* Missing or ill-typed arrays. */
    merge_bad(s, "{\"total\":" GOOD_TOTAL ",\"errors\":[],\"exceptions\":[]}",
              "field \"entries\" must be an array");
    merge_bad(s, "{\"entries\":{},\"total\":" GOOD_TOTAL ",\"errors\":[],\"exceptions\":[]}",
              "field \"entries\" must be an array");
    merge_bad(s, "{\"entries\":[" GOOD_A "],\"total\":" GOOD_TOTAL ",\"exceptions\":[]}",
              "field \"errors\" must be an array");
    merge_bad(s, "{\"entries\":[" GOOD_A "],\"total\":" GOOD_TOTAL ",\"errors\":[]}",
              "field \"exceptions\" must be an array");
    merge_bad(s, "{\"entries\":[" GOOD_A "],\"errors\":[],\"exceptions\":[]}",
              "a stats entry must be an object");
    merge_bad(s, REPORT("[" GOOD_A "]", "[]", "[]", "[]"), "a stats entry must be an object");
    merge_bad(s, REPORT("[" GOOD_A ",3]", GOOD_TOTAL, "[]", "[]"),
              "a stats entry must be an object");

    /* Bad entry fields (a good entry first: nothing of it may be merged either). */
    merge_bad(s, REPORT("[" GOOD_A "," ENTRY("GET", "/b", -1, 0, 0, 0, 0, 0, "[]", "[]") "]",
                        GOOD_TOTAL, "[]", "[]"),
              "field \"num_requests\" must be an integer >= 0");
    merge_bad(s, REPORT("[" GOOD_A "," ENTRY("GET", "/b", 1.5, 0, 0, 0, 0, 0, "[]", "[]") "]",
                        GOOD_TOTAL, "[]", "[]"),
              "field \"num_requests\" must be an integer >= 0");
    merge_bad(s, REPORT("[" GOOD_A "," ENTRY("GET", "/b", 1, 0, 0, "\"5\"", 5, 5, "[5,1]",
                                              "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "field \"total_rt_us\" must be an integer >= 0");
    merge_bad(s, REPORT("[{\"method\":\"GET\",\"num_requests\":0}]", GOOD_TOTAL, "[]", "[]"),
              "field \"name\" must be a string");
    merge_bad(s, REPORT("[{\"method\":7,\"name\":\"/b\"}]", GOOD_TOTAL, "[]", "[]"),
              "field \"method\" must be a string");
    merge_bad(s, REPORT("[{\"method\":\"GET\",\"name\":\"/b\",\"num_requests\":0,"
                        "\"num_none_requests\":0,\"num_failures\":0,\"total_rt_us\":0,"
                        "\"min_rt_us\":0,\"max_rt_us\":0,\"total_content_length\":0,"
                        "\"last_request_ts\":0,\"hist\":[],\"secs\":[]}]",
                        GOOD_TOTAL, "[]", "[]"),
              "field \"start_time\" must be a number");
    /* Counts that cannot be. */
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 3, 400, 100, 300, "[100,1,203,1]",
                                  "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": counts that cannot be");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 3, 0, 400, 100, 300, "[100,1,203,1]",
                                  "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": counts that cannot be");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 300, 100, "[100,1,203,1]",
                                  "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": counts that cannot be");
    /* The total is checked like any entry. */
    merge_bad(s, REPORT("[" GOOD_A "]", ENTRY("", "Aggregated", 2, 0, 5, 400, 100, 300,
                                              "[100,1,203,1]", "[]"), "[]", "[]"),
              "entry \"Aggregated\": counts that cannot be");

    /* Histograms: samples must match the timed requests; buckets must exist. */
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 3, 0, 0, 400, 100, 300, "[100,1,203,1]",
                                  "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": the histogram holds 2 samples, not 3");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 1, 0, 400, 100, 300, "[100,1,203,1]",
                                  "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": bad histogram bucket, or more samples than timed requests");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[100,1,203]",
                                  "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": \"hist\" must be [index, count, ...]");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "{}", "[]") "]",
                        GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": \"hist\" must be [index, count, ...]");
    char bad_bucket[2048];
    snprintf(bad_bucket, sizeof bad_bucket,
             REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[100,1,%u,1]", "[]") "]",
                    GOOD_TOTAL, "[]", "[]"),
             HIST_BUCKETS);
    merge_bad(s, bad_bucket,
              "entry \"/a\": bad histogram bucket, or more samples than timed requests");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[-1,1,100,1]",
                                  "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": bad histogram bucket, or more samples than timed requests");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[100,1,203,\"1\"]",
                                  "[]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": bad histogram bucket, or more samples than timed requests");

    /* Per-second counters. */
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[100,1,203,1]",
                                  "[1700000001,2]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": \"secs\" must be [second, requests, failures, ...]");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[100,1,203,1]",
                                  "null") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": \"secs\" must be [second, requests, failures, ...]");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[100,1,203,1]",
                                  "[4294967296,2,0]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": bad per-second counter");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[100,1,203,1]",
                                  "[1700000001,-2,0]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": bad per-second counter");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300, "[100,1,203,1]",
                                  "[1700000001,2,0.5]") "]", GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": bad per-second counter");
    /* More seconds than the ring holds. */
    sbuf many = SBUF_INIT, secs = SBUF_INIT;
    sbuf_puts(&secs, "[");
    for (int i = 0; i <= STATS_SEC_RING; i++)
        sbuf_printf(&secs, "%s%d,1,0", i ? "," : "", 1700000000 + i);
    sbuf_puts(&secs, "]");
    sbuf_printf(&many,
                "{\"entries\":[{\"method\":\"GET\",\"name\":\"/a\",\"num_requests\":2,"
                "\"num_none_requests\":2,\"num_failures\":0,\"total_rt_us\":0,\"min_rt_us\":0,"
                "\"max_rt_us\":0,\"total_content_length\":0,\"start_time\":1,"
                "\"last_request_ts\":2,\"hist\":[],\"secs\":%s}],\"total\":" GOOD_TOTAL
                ",\"errors\":[],\"exceptions\":[]}",
                secs.s);
    merge_bad(s, many.s, "entry \"/a\": \"secs\" must be [second, requests, failures, ...]");
    sbuf_free(&many);
    sbuf_free(&secs);

    /* Failures and exceptions are checked before anything merges too. */
    merge_bad(s, REPORT("[" GOOD_A "]", GOOD_TOTAL,
                        "[{\"method\":\"GET\",\"name\":\"/a\",\"error\":\"boom\"}]", GOOD_EXCS),
              "field \"occurrences\" must be an integer >= 0");
    merge_bad(s, REPORT("[" GOOD_A "]", GOOD_TOTAL,
                        "[{\"method\":\"GET\",\"name\":\"/a\",\"occurrences\":1}]", GOOD_EXCS),
              "field \"error\" must be a string");
    merge_bad(s, REPORT("[" GOOD_A "]", GOOD_TOTAL, GOOD_ERRORS,
                        "[{\"msg\":\"KeyError\",\"traceback\":\"tb\",\"count\":-2}]"),
              "field \"count\" must be an integer >= 0");
    merge_bad(s, REPORT("[" GOOD_A "]", GOOD_TOTAL, GOOD_ERRORS,
                        "[{\"msg\":\"KeyError\",\"count\":2}]"),
              "field \"traceback\" must be a string");

    /* Timing breakdowns: optional, but whole when there. */
#define TIMED(timings)                                                                      \
    REPORT("[" GOOD_A "]", "{\"method\":\"\",\"name\":\"Aggregated\",\"num_requests\":2,"       \
           "\"num_none_requests\":0,\"num_failures\":1,\"total_rt_us\":400,\"min_rt_us\":100,"   \
           "\"max_rt_us\":300,\"total_content_length\":10,\"start_time\":1700000000.5,"         \
           "\"last_request_ts\":1700000001.25,\"hist\":[100,1,203,1],\"secs\":[],"              \
           "\"timings\":" timings "}", "[]", "[]")
#define PHASE(h) "{\"sum_us\":10,\"hist\":" h "}"
#define PHASES(h) "\"dns\":" PHASE(h) ",\"connect\":" PHASE(h) ",\"tls\":" PHASE(h)          \
                  ",\"ttfb\":" PHASE(h) ",\"transfer\":" PHASE(h)
    static const char timing_err[] =
        "entry \"Aggregated\": \"timings\" must be {\"count\": n, and per phase {\"sum_us\": s, "
        "\"hist\": [index, count, ...]} holding n samples}, n at most the timed requests";
    stats *t = stats_new(0, false, T);
    assert_int_equal(merge_text(t, TIMED("{\"count\":2," PHASES("[5,2]") "}"), err,
                                sizeof err), 0);
    assert_int_equal(stats_total(t)->timing.count, 2);
    assert_int_equal(stats_total(t)->timing.total_us[3], 10);
    stats_free(t);
    merge_bad(s, TIMED("{\"count\":3," PHASES("[5,3]") "}"), timing_err);
    merge_bad(s, TIMED("{\"count\":2," PHASES("[5,1]") "}"), timing_err);
    merge_bad(s, TIMED("{\"count\":2,\"dns\":" PHASE("[5,2]") "}"), timing_err);
    merge_bad(s, TIMED("{\"count\":2," PHASES("[99999,2]") "}"), timing_err);
    merge_bad(s, TIMED("[]"), timing_err);
    /* Checks: [run, failed]. */
    merge_bad(s, "{\"entries\":[],\"total\":" GOOD_TOTAL ",\"errors\":[],\"exceptions\":[],"
                 "\"checks\":[1,2]}",
              "field \"checks\" must be [run, failed] with failed <= run");
    merge_bad(s, "{\"entries\":[],\"total\":" GOOD_TOTAL ",\"errors\":[],\"exceptions\":[],"
                 "\"checks\":[1]}",
              "field \"checks\" must be [run, failed] with failed <= run");

    /* The open model's corrected times and iteration counts. */
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300,
                                  "[100,1,203,1],\"co_hist\":[100,1,203]", "[]") "]",
                        GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": \"co_hist\" must be [index, count, ...]");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300,
                                  "[100,1,203,1],\"co_hist\":{}", "[]") "]",
                        GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": \"co_hist\" must be [index, count, ...]");
    merge_bad(s, REPORT("[" ENTRY("GET", "/a", 2, 0, 0, 400, 100, 300,
                                  "[100,1,203,1],\"co_hist\":[100000,1]", "[]") "]",
                        GOOD_TOTAL, "[]", "[]"),
              "entry \"/a\": bad co_hist bucket");
    merge_bad(s, "{\"entries\":[],\"total\":" GOOD_TOTAL ",\"errors\":[],\"exceptions\":[],"
                 "\"iterations\":[1,2,0]}",
              "field \"iterations\" must be [started, late, dropped] with late <= started");
    merge_bad(s, "{\"entries\":[],\"total\":" GOOD_TOTAL ",\"errors\":[],\"exceptions\":[],"
                 "\"iterations\":[1,0]}",
              "field \"iterations\" must be [started, late, dropped] with late <= started");

    /* And after all that, s still takes a good report. */
    assert_int_equal(merge_text(s, REPORT("[" GOOD_A "]", GOOD_TOTAL, GOOD_ERRORS, GOOD_EXCS),
                                err, sizeof err), 0);
    assert_int_equal(a->num_requests, 4);
    assert_int_equal(stats_error_count(s), 2);
    size_t n;
    stats_exception *const *x = stats_exceptions(s, &n);
    assert_int_equal(n, 1);
    assert_int_equal(x[0]->count, 3);
    assert_string_equal(x[0]->nodes, "local, bad-worker");
    stats_free(s);
}

/* Regression (engine/wire.c, wire_merge_stats): an item of "errors" or "exceptions" that is not
 * an object makes the merge fail (rightly: nothing changes) but without a word in err: the
 * `x->type != JSON_OBJECT` test returns -1 before anything writes the message. err then
 * holds whatever the caller's buffer held; master.c's on_message passes an uninitialised
 * `char err[300]` to its log (reading stack garbage, possibly past the buffer). */
static void test_non_object_failure_has_a_message(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    merge_refused(s, REPORT("[" GOOD_A "]", GOOD_TOTAL, "[3]", GOOD_EXCS),
                  "an item of \"errors\" must be an object", true);
    merge_refused(s, REPORT("[" GOOD_A "]", GOOD_TOTAL, GOOD_ERRORS, "[null]"),
                  "an item of \"exceptions\" must be an object", true);
    stats_free(s);
}

/* Regression (engine/wire.c, get_entry): the histogram's sample count is summed in a uint64_t
 * without an overflow check, so counts that wrap around 2^64 pass the "samples == timed
 * requests" test. This entry claims no request at all, yet its histogram holds
 * (2^63 - 1) * 2 + 2 = 2^64 samples: the report is merged, and the target's buckets then
 * hold counts no request produced (its hist.count wraps to 0 while buckets are not
 * empty). The header promises a malformed report changes nothing. */
static void test_hist_count_overflow(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    merge_refused(s, REPORT("[" ENTRY("GET", "/a", 0, 0, 0, 0, 0, 0,
                                      "[100,9223372036854775807,101,9223372036854775807,"
                                      "102,2]", "[]") "]", GOOD_TOTAL, "[]", "[]"),
                  "entry \"/a\": ", true);
    stats_free(s);
}

/* Regression (engine/wire.c, get_timing): the same unchecked sum for the phases' histograms: a
 * "timings" of count 0 whose histograms hold 2^64 samples each is merged. */
static void test_timing_count_overflow(void **state)
{
    (void)state;
    stats *s = stats_new(0, false, T);
    merge_refused(s, TIMED("{\"count\":0," PHASES("[5,9223372036854775807,6,9223372036854775807,"
                                                   "7,2]") "}"),
                  "entry \"Aggregated\": ", true);
    stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_unknown_type_kept),
        cmocka_unit_test(test_parse_error_messages),
        cmocka_unit_test(test_begin_end),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_b64_round_trips),
        cmocka_unit_test(test_b64_empty_is_terminated),
        cmocka_unit_test(test_b64_rejects),
        cmocka_unit_test(test_report_round_trip),
        cmocka_unit_test(test_empty_report),
        cmocka_unit_test(test_workers_merge_to_one_process),
        cmocka_unit_test(test_malformed_reports),
        cmocka_unit_test(test_non_object_failure_has_a_message),
        cmocka_unit_test(test_hist_count_overflow),
        cmocka_unit_test(test_timing_count_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
