#include "wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const char *const type_names[WIRE_NTYPES] = {
    [WIRE_UNKNOWN] = "unknown",
    [WIRE_HELLO] = "hello",
    [WIRE_HEARTBEAT] = "heartbeat",
    [WIRE_SPAWNING] = "spawning",
    [WIRE_SPAWNING_COMPLETE] = "spawning_complete",
    [WIRE_STATS] = "stats",
    [WIRE_STOPPED] = "stopped",
    [WIRE_QUIT] = "quit",
    [WIRE_ERROR] = "error",
    [WIRE_END_TEST] = "end_test",
    [WIRE_WELCOME] = "welcome",
    [WIRE_REFUSED] = "refused",
    [WIRE_SPAWN] = "spawn",
    [WIRE_STOP] = "stop",
    [WIRE_PONG] = "pong",
    [WIRE_REREGISTER] = "reregister",
};

const char *wire_type_name(int type)
{
    return type > 0 && type < WIRE_NTYPES ? type_names[type] : type_names[WIRE_UNKNOWN];
}

int wire_parse(const void *buf, size_t len, wire_msg *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    json_error je;
    m->root = json_parse(buf, len, 0, &je);
    if (!m->root) {
        snprintf(err, errlen, "not JSON (%u:%u: %s)", je.line, je.col, je.msg);
        return -1;
    }
    if (m->root->type != JSON_OBJECT) {
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    const json_value *t = json_get(m->root, "type");
    if (!t || t->type != JSON_STRING) {
        snprintf(err, errlen, "no \"type\" string");
        return -1;
    }
    m->type_name = t->str.s;
    for (int i = 1; i < WIRE_NTYPES; i++)
        if (strcmp(t->str.s, type_names[i]) == 0)
            m->type = i;
    m->data = json_get(m->root, "data");
    if (!m->data || m->data->type != JSON_OBJECT) {
        snprintf(err, errlen, "\"%.40s\" without a \"data\" object", t->str.s);
        m->data = NULL;
        return -1;
    }
    return 0;
}

void wire_msg_free(wire_msg *m)
{
    json_free(m->root);
    memset(m, 0, sizeof *m);
}

void wire_begin(json_writer *w, sbuf *b, int type)
{
    sbuf_reset(b);
    json_writer_init(w, b);
    json_begin_object(w);
    json_key(w, "type");
    json_put_string(w, wire_type_name(type));
    json_key(w, "data");
    json_begin_object(w);
}

void wire_end(json_writer *w)
{
    json_end_object(w);
    json_end_object(w);
}

/* ---- fields ------------------------------------------------------------------------- */

int wire_get_str(const json_value *d, const char *key, const char **out, char *err,
                 size_t errlen)
{
    const json_value *v = json_get(d, key);
    if (!v || v->type != JSON_STRING || strlen(v->str.s) != v->str.len) {
        snprintf(err, errlen, "field \"%s\" must be a string", key);
        return -1;
    }
    *out = v->str.s;
    return 0;
}

static bool as_uint(const json_value *v, uint64_t *out)
{
    if (!v || v->type != JSON_NUMBER || !v->num.is_int || v->num.i < 0)
        return false;
    *out = (uint64_t)v->num.i;
    return true;
}

int wire_get_uint(const json_value *d, const char *key, uint64_t *out, char *err,
                  size_t errlen)
{
    if (!as_uint(json_get(d, key), out)) {
        snprintf(err, errlen, "field \"%s\" must be an integer >= 0", key);
        return -1;
    }
    return 0;
}

int wire_get_num(const json_value *d, const char *key, double *out, char *err, size_t errlen)
{
    const json_value *v = json_get(d, key);
    if (!v || v->type != JSON_NUMBER) {
        snprintf(err, errlen, "field \"%s\" must be a number", key);
        return -1;
    }
    *out = v->num.d;
    return 0;
}

int wire_opt_num(const json_value *d, const char *key, double *out, char *err, size_t errlen)
{
    return json_get(d, key) ? wire_get_num(d, key, out, err, errlen) : 0;
}

/* ---- base64 ------------------------------------------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void wire_b64_encode(sbuf *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    sbuf_add(out, "", 0);   /* terminated even when there is nothing to encode */
    sbuf_reserve(out, out->len + (len + 2) / 3 * 4 + 1);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], i + 1 < len ? b64[(v >> 6) & 63] : '=',
                     i + 2 < len ? b64[v & 63] : '='};
        sbuf_add(out, q, 4);
    }
}

int wire_b64_decode(sbuf *out, const char *text, size_t len)
{
    if (len % 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + k];
            const char *at = c ? strchr(b64, c) : NULL;
            if (c == '=' && i + 4 == len && k >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!at || pad)
                return -1;
            v = v << 6 | (uint32_t)(at - b64);
        }
        char b[3] = {(char)(v >> 16), (char)(v >> 8), (char)v};
        sbuf_add(out, b, 3 - (size_t)pad);
    }
    return 0;
}

/* ---- stats reports ------------------------------------------------------------------ */

static void put_hist_bucket(void *data, unsigned idx, uint64_t count)
{
    json_writer *w = data;
    json_put_uint(w, idx);
    json_put_uint(w, count);
}

/* "timings": {"count": n, "dns": {"sum_us": s, "hist": [...]}, ...}; left out when no
 * request had a breakdown. */
static void put_timing(json_writer *w, const stats_timing *t)
{
    if (!t->count)
        return;
    json_key(w, "timings");
    json_begin_object(w);
    json_key(w, "count");
    json_put_uint(w, t->count);
    for (int p = 0; p < STATS_NPHASES; p++) {
        json_key(w, stats_phase_names[p]);
        json_begin_object(w);
        json_key(w, "sum_us");
        json_put_uint(w, t->total_us[p]);
        json_key(w, "hist");
        json_begin_array(w);
        hist_foreach(&t->hist[p], put_hist_bucket, w);
        json_end_array(w);
        json_end_object(w);
    }
    json_end_object(w);
}

static void put_entry(json_writer *w, const stats_entry *e)
{
    json_begin_object(w);
    json_key(w, "method");
    json_put_string(w, e->method);
    json_key(w, "name");
    json_put_string(w, e->name);
    json_key(w, "num_requests");
    json_put_uint(w, e->num_requests);
    json_key(w, "num_none_requests");
    json_put_uint(w, e->num_none_requests);
    json_key(w, "num_failures");
    json_put_uint(w, e->num_failures);
    json_key(w, "total_rt_us");
    json_put_uint(w, e->total_rt_us);
    json_key(w, "min_rt_us");
    json_put_uint(w, e->min_rt_us == UINT64_MAX ? 0 : e->min_rt_us);
    json_key(w, "max_rt_us");
    json_put_uint(w, e->max_rt_us);
    json_key(w, "total_content_length");
    json_put_uint(w, e->total_content_length);
    json_key(w, "start_time");
    json_put_double(w, e->start_time);
    json_key(w, "last_request_ts");
    json_put_double(w, e->last_request_ts);
    /* [index, count, index, count, ...]: flat pairs keep a report small. */
    json_key(w, "hist");
    json_begin_array(w);
    hist_foreach(&e->hist, put_hist_bucket, w);
    json_end_array(w);
    if (e->co_hist.count) {
        /* Open model: times from the intended start, the same way. */
        json_key(w, "co_hist");
        json_begin_array(w);
        hist_foreach(&e->co_hist, put_hist_bucket, w);
        json_end_array(w);
    }
    json_key(w, "secs");
    json_begin_array(w);
    for (unsigned i = 0; i < STATS_SEC_RING; i++) {
        const stats_sec *x = &e->secs[i];
        if (!x->reqs && !x->fails)
            continue;
        json_put_uint(w, x->sec);
        json_put_uint(w, x->reqs);
        json_put_uint(w, x->fails);
    }
    json_end_array(w);
    put_timing(w, &e->timing);
    json_end_object(w);
}

void wire_put_stats(json_writer *w, stats *s)
{
    size_t n;
    stats_entry *const *es = stats_sorted(s, &n);
    json_key(w, "entries");
    json_begin_array(w);
    for (size_t i = 0; i < n; i++)
        if (es[i]->num_requests || es[i]->num_failures)
            put_entry(w, es[i]);
    json_end_array(w);
    json_key(w, "total");
    put_entry(w, stats_total(s));
    stats_error *const *errs = stats_errors(s, &n);
    json_key(w, "errors");
    json_begin_array(w);
    for (size_t i = 0; i < n; i++) {
        json_begin_object(w);
        json_key(w, "method");
        json_put_string(w, errs[i]->entry->method);
        json_key(w, "name");
        json_put_string(w, errs[i]->entry->name);
        json_key(w, "error");
        json_put_string(w, errs[i]->error);
        json_key(w, "occurrences");
        json_put_uint(w, errs[i]->occurrences);
        json_end_object(w);
    }
    json_end_array(w);
    stats_exception *const *xs = stats_exceptions(s, &n);
    json_key(w, "exceptions");
    json_begin_array(w);
    for (size_t i = 0; i < n; i++) {
        json_begin_object(w);
        json_key(w, "msg");
        json_put_string(w, xs[i]->msg);
        json_key(w, "traceback");
        json_put_string(w, xs[i]->traceback);
        json_key(w, "count");
        json_put_uint(w, xs[i]->count);
        json_end_object(w);
    }
    json_end_array(w);
    uint64_t started, late, dropped;
    stats_iterations(s, &started, &late, &dropped);
    if (started || dropped) {
        json_key(w, "iterations");
        json_begin_array(w);
        json_put_uint(w, started);
        json_put_uint(w, late);
        json_put_uint(w, dropped);
        json_end_array(w);
    }
    uint64_t run, failed;
    stats_checks(s, &run, &failed);
    json_key(w, "checks");
    json_begin_array(w);
    json_put_uint(w, run);
    json_put_uint(w, failed);
    json_end_array(w);
}

/* Decodes an entry's "timings" (optional: absent means no breakdown) into t, whose
 * histograms the caller frees. Every phase must hold exactly count samples, and count can
 * be no more than the entry's timed requests. */
static int get_timing(const json_value *v, const stats_entry *e, stats_timing *t, char *err,
                      size_t errlen)
{
    const json_value *tv = json_get(v, "timings");
    if (!tv)
        return 0;
    if (tv->type != JSON_OBJECT || wire_get_uint(tv, "count", &t->count, err, errlen))
        goto bad;
    if (t->count > e->num_requests - e->num_none_requests)
        goto bad;
    for (int p = 0; p < STATS_NPHASES; p++) {
        const json_value *ph = json_get(tv, stats_phase_names[p]);
        if (!ph || ph->type != JSON_OBJECT ||
            wire_get_uint(ph, "sum_us", &t->total_us[p], err, errlen))
            goto bad;
        const json_value *h = json_get(ph, "hist");
        if (!h || h->type != JSON_ARRAY || h->arr.count % 2)
            goto bad;
        uint64_t samples = 0;
        for (size_t i = 0; i < h->arr.count; i += 2) {
            uint64_t idx, n;
            /* A sum that wraps could match any count: refused before it is added. */
            if (!as_uint(&h->arr.items[i], &idx) || !as_uint(&h->arr.items[i + 1], &n) ||
                idx >= HIST_BUCKETS || n > t->count - samples)
                goto bad;
            hist_add(&t->hist[p], (unsigned)idx, n);
            samples += n;
        }
        if (samples != t->count)
            goto bad;
    }
    return 0;
bad:
    snprintf(err, errlen, "entry \"%.100s\": \"timings\" must be {\"count\": n, and per "
             "phase {\"sum_us\": s, \"hist\": [index, count, ...]} holding n samples}, "
             "n at most the timed requests", e->name);
    return -1;
}

/* Decodes an entry into e (hist_init'ed by the caller; freed by the caller). */
static int get_entry(const json_value *v, stats_entry *e, char *err, size_t errlen)
{
    if (!v || v->type != JSON_OBJECT) {
        snprintf(err, errlen, "a stats entry must be an object");
        return -1;
    }
    static const struct {
        const char *key;
        size_t off;
    } counts[] = {
        {"num_requests", offsetof(stats_entry, num_requests)},
        {"num_none_requests", offsetof(stats_entry, num_none_requests)},
        {"num_failures", offsetof(stats_entry, num_failures)},
        {"total_rt_us", offsetof(stats_entry, total_rt_us)},
        {"min_rt_us", offsetof(stats_entry, min_rt_us)},
        {"max_rt_us", offsetof(stats_entry, max_rt_us)},
        {"total_content_length", offsetof(stats_entry, total_content_length)},
    };
    const char *method, *name;
    if (wire_get_str(v, "method", &method, err, errlen) ||
        wire_get_str(v, "name", &name, err, errlen))
        return -1;
    e->method = (char *)method;
    e->name = (char *)name;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (wire_get_uint(v, counts[i].key, (uint64_t *)((char *)e + counts[i].off), err,
                          errlen))
            return -1;
    if (wire_get_num(v, "start_time", &e->start_time, err, errlen) ||
        wire_get_num(v, "last_request_ts", &e->last_request_ts, err, errlen))
        return -1;
    if (e->num_failures > e->num_requests || e->num_none_requests > e->num_requests ||
        e->max_rt_us < e->min_rt_us) {
        snprintf(err, errlen, "entry \"%.100s\": counts that cannot be", name);
        return -1;
    }
    if (e->num_requests == e->num_none_requests)
        e->min_rt_us = UINT64_MAX;  /* no timed request: nothing to take a minimum of */
    const json_value *h = json_get(v, "hist"), *secs = json_get(v, "secs");
    if (!h || h->type != JSON_ARRAY || h->arr.count % 2) {
        snprintf(err, errlen, "entry \"%.100s\": \"hist\" must be [index, count, ...]", name);
        return -1;
    }
    uint64_t samples = 0;
    for (size_t i = 0; i < h->arr.count; i += 2) {
        uint64_t idx, n;
        /* A sum that wraps could match any count: refused before it is added. */
        if (!as_uint(&h->arr.items[i], &idx) || !as_uint(&h->arr.items[i + 1], &n) ||
            idx >= HIST_BUCKETS || n > e->num_requests - e->num_none_requests - samples) {
            snprintf(err, errlen, "entry \"%.100s\": bad histogram bucket, or more samples "
                                  "than timed requests", name);
            return -1;
        }
        hist_add(&e->hist, (unsigned)idx, n);
        samples += n;
    }
    const json_value *co = json_get(v, "co_hist");
    if (co && (co->type != JSON_ARRAY || co->arr.count % 2)) {
        snprintf(err, errlen, "entry \"%.100s\": \"co_hist\" must be [index, count, ...]", name);
        return -1;
    }
    uint64_t co_samples = 0;
    for (size_t i = 0; co && i < co->arr.count; i += 2) {
        uint64_t idx, cnt;
        if (!as_uint(&co->arr.items[i], &idx) || !as_uint(&co->arr.items[i + 1], &cnt) ||
            idx >= HIST_BUCKETS || cnt > e->num_requests - co_samples) {
            snprintf(err, errlen, "entry \"%.100s\": bad co_hist bucket", name);
            return -1;
        }
        hist_add(&e->co_hist, (unsigned)idx, cnt);
        co_samples += cnt;
    }
    if (samples != e->num_requests - e->num_none_requests) {
        snprintf(err, errlen, "entry \"%.100s\": the histogram holds %llu samples, not %llu",
                 name, (unsigned long long)samples,
                 (unsigned long long)(e->num_requests - e->num_none_requests));
        return -1;
    }
    if (!secs || secs->type != JSON_ARRAY || secs->arr.count % 3 ||
        secs->arr.count / 3 > STATS_SEC_RING) {
        snprintf(err, errlen, "entry \"%.100s\": \"secs\" must be [second, requests, "
                              "failures, ...]", name);
        return -1;
    }
    for (size_t i = 0; i < secs->arr.count; i += 3) {
        uint64_t sec, reqs, fails;
        if (!as_uint(&secs->arr.items[i], &sec) || !as_uint(&secs->arr.items[i + 1], &reqs) ||
            !as_uint(&secs->arr.items[i + 2], &fails) || sec > UINT32_MAX ||
            reqs > UINT32_MAX || fails > UINT32_MAX) {
            snprintf(err, errlen, "entry \"%.100s\": bad per-second counter", name);
            return -1;
        }
        stats_sec *x = &e->secs[i / 3];
        x->sec = (uint32_t)sec;
        x->reqs = (uint32_t)reqs;
        x->fails = (uint32_t)fails;
    }
    return get_timing(v, e, &e->timing, err, errlen);
}

static int check_array(const json_value *data, const char *key, const json_value **out,
                       char *err, size_t errlen)
{
    *out = json_get(data, key);
    if (!*out || (*out)->type != JSON_ARRAY) {
        snprintf(err, errlen, "field \"%s\" must be an array", key);
        return -1;
    }
    return 0;
}

/* "iterations": [started, late, dropped] of an open model; absent counts as none. */
static int get_iterations(const json_value *data, uint64_t *it, char *err, size_t errlen)
{
    const json_value *v = json_get(data, "iterations");
    it[0] = it[1] = it[2] = 0;
    if (!v)
        return 0;
    if (v->type != JSON_ARRAY || v->arr.count != 3 || !as_uint(&v->arr.items[0], &it[0]) ||
        !as_uint(&v->arr.items[1], &it[1]) || !as_uint(&v->arr.items[2], &it[2]) ||
        it[1] > it[0]) {
        snprintf(err, errlen, "field \"iterations\" must be [started, late, dropped] with "
                              "late <= started");
        return -1;
    }
    return 0;
}

/* "checks": [run, failed]; absent counts as none run. */
static int get_checks(const json_value *data, uint64_t *run, uint64_t *failed, char *err,
                      size_t errlen)
{
    const json_value *v = json_get(data, "checks");
    *run = *failed = 0;
    if (!v)
        return 0;
    if (v->type != JSON_ARRAY || v->arr.count != 2 || !as_uint(&v->arr.items[0], run) ||
        !as_uint(&v->arr.items[1], failed) || *failed > *run) {
        snprintf(err, errlen, "field \"checks\" must be [run, failed] with failed <= run");
        return -1;
    }
    return 0;
}

int wire_merge_stats(stats *s, const json_value *data, const char *node, double now,
                     char *err, size_t errlen)
{
    const json_value *entries, *errors, *excs;
    uint64_t checks_run, checks_failed, iters[3];
    if (check_array(data, "entries", &entries, err, errlen) ||
        check_array(data, "errors", &errors, err, errlen) ||
        check_array(data, "exceptions", &excs, err, errlen) ||
        get_checks(data, &checks_run, &checks_failed, err, errlen) ||
        get_iterations(data, iters, err, errlen))
        return -1;
    size_t n = entries->arr.count;
    stats_entry *dec = xcalloc(n + 1, sizeof *dec);
    int rc = -1;
    for (size_t i = 0; i <= n; i++)
        hist_init(&dec[i].hist);
    for (size_t i = 0; i < n; i++)
        if (get_entry(&entries->arr.items[i], &dec[i], err, errlen))
            goto out;
    if (get_entry(json_get(data, "total"), &dec[n], err, errlen))
        goto out;
    for (size_t i = 0; i < errors->arr.count; i++) {
        const json_value *x = &errors->arr.items[i];
        const char *m, *nm, *e;
        uint64_t occ;
        if (x->type != JSON_OBJECT) {
            snprintf(err, errlen, "an item of \"errors\" must be an object");
            goto out;
        }
        if (wire_get_str(x, "method", &m, err, errlen) ||
            wire_get_str(x, "name", &nm, err, errlen) ||
            wire_get_str(x, "error", &e, err, errlen) ||
            wire_get_uint(x, "occurrences", &occ, err, errlen))
            goto out;
    }
    for (size_t i = 0; i < excs->arr.count; i++) {
        const json_value *x = &excs->arr.items[i];
        const char *m, *tb;
        uint64_t count;
        if (x->type != JSON_OBJECT) {
            snprintf(err, errlen, "an item of \"exceptions\" must be an object");
            goto out;
        }
        if (wire_get_str(x, "msg", &m, err, errlen) ||
            wire_get_str(x, "traceback", &tb, err, errlen) ||
            wire_get_uint(x, "count", &count, err, errlen))
            goto out;
    }
    /* Everything checked: merge. */
    for (size_t i = 0; i < n; i++)
        stats_merge_entry(s, &dec[i], now);
    stats_merge_total(s, &dec[n]);
    for (size_t i = 0; i < errors->arr.count; i++) {
        const json_value *x = &errors->arr.items[i];
        const char *m = json_get(x, "method")->str.s, *nm = json_get(x, "name")->str.s;
        uint64_t occ = (uint64_t)json_get(x, "occurrences")->num.i;
        stats_add_error(s, stats_entry_get(s, m, nm, now), json_get(x, "error")->str.s, occ,
                        now);
    }
    for (size_t i = 0; i < excs->arr.count; i++) {
        const json_value *x = &excs->arr.items[i];
        stats_merge_exception(s, json_get(x, "msg")->str.s, json_get(x, "traceback")->str.s,
                              node, (uint64_t)json_get(x, "count")->num.i);
    }
    stats_log_checks(s, checks_run, checks_failed);
    stats_log_iterations(s, iters[0], iters[1], iters[2]);
    rc = 0;
out:
    for (size_t i = 0; i <= n; i++) {
        hist_free(&dec[i].hist);
        hist_free(&dec[i].co_hist);
        for (int p = 0; p < STATS_NPHASES; p++)
            hist_free(&dec[i].timing.hist[p]);
    }
    free(dec);
    return rc;
}
