#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

const double stats_percentiles[STATS_NPCT] = {0.50, 0.66, 0.75, 0.80, 0.90, 0.95,
                                              0.98, 0.99, 0.999, 0.9999, 1.0};
const char *const stats_percentile_labels[STATS_NPCT] = {
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"};
const char *const stats_phase_names[STATS_NPHASES] = {"dns", "connect", "tls", "ttfb",
                                                      "transfer"};

/* Open-addressing table of indices into an array, keyed by a 64-bit hash. */
typedef struct idx_table {
    uint32_t *slot;     /* index + 1; 0 = empty */
    uint64_t *hash;
    size_t cap;         /* power of two */
    size_t used;
} idx_table;

struct stats {
    stats_entry total;
    stats_entry **entries;
    size_t n_entries, cap_entries;
    idx_table entry_idx;
    size_t max_names;
    bool window_all;
    bool warned_names;
    stats_entry *other[16];     /* overflow entries, by method, once the cap is reached */
    size_t n_other;

    stats_entry **sorted;       /* visible entries by (name, method) */
    size_t n_sorted;
    bool sorted_dirty;

    stats_error **errors;
    size_t n_errors, cap_errors;
    idx_table error_idx;
    bool errors_dirty;          /* sorted order to rebuild */
    stats_error **errors_sorted;
    uint64_t error_total;

    stats_exception **exceptions;
    size_t n_exceptions, cap_exceptions;

    uint64_t checks_run, checks_failed; /* scenario checks (stats_log_checks) */
    uint64_t iterations, iterations_late, iterations_dropped; /* open model */
};

/* ---- hashing ------------------------------------------------------------------------ */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t hash_pair(const char *a, const char *b)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = hash_bytes(h, a, strlen(a) + 1);
    return hash_bytes(h, b, strlen(b));
}

static void idx_grow(idx_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    uint32_t *slot = xcalloc(cap, sizeof *slot);
    uint64_t *hash = xcalloc(cap, sizeof *hash);
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i])
            continue;
        size_t j = t->hash[i] & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i];
        hash[j] = t->hash[i];
    }
    free(t->slot);
    free(t->hash);
    t->slot = slot;
    t->hash = hash;
    t->cap = cap;
}

/* Calls eq(data, index) for each candidate with this hash; returns the matching index or
 * -1, leaving *pos at the empty slot where it would go. */
static long idx_find(const idx_table *t, uint64_t h, bool (*eq)(const void *, uint32_t),
                     const void *data, size_t *pos)
{
    if (!t->cap) {
        *pos = 0;
        return -1;
    }
    size_t j = h & (t->cap - 1);
    while (t->slot[j]) {
        if (t->hash[j] == h && eq(data, t->slot[j] - 1))
            return (long)(t->slot[j] - 1);
        j = (j + 1) & (t->cap - 1);
    }
    *pos = j;
    return -1;
}

static void idx_insert(idx_table *t, uint64_t h, uint32_t index)
{
    if ((t->used + 1) * 2 > t->cap)
        idx_grow(t);
    size_t j = h & (t->cap - 1);
    while (t->slot[j])
        j = (j + 1) & (t->cap - 1);
    t->slot[j] = index + 1;
    t->hash[j] = h;
    t->used++;
}

static void idx_clear(idx_table *t)
{
    if (t->cap) {
        memset(t->slot, 0, t->cap * sizeof *t->slot);
        memset(t->hash, 0, t->cap * sizeof *t->hash);
    }
    t->used = 0;
}

static void idx_free(idx_table *t)
{
    free(t->slot);
    free(t->hash);
    memset(t, 0, sizeof *t);
}

/* ---- entries ------------------------------------------------------------------------ */

static void timing_zero(stats_timing *t)
{
    t->count = 0;
    for (int p = 0; p < STATS_NPHASES; p++) {
        t->total_us[p] = 0;
        hist_clear(&t->hist[p]);
    }
}

static void entry_zero(stats_entry *e, double now)
{
    e->num_requests = e->num_none_requests = e->num_failures = 0;
    e->total_rt_us = e->max_rt_us = e->total_content_length = 0;
    e->min_rt_us = UINT64_MAX;
    e->start_time = now;
    e->last_request_ts = 0;
    hist_clear(&e->hist);
    hist_clear(&e->co_hist);
    timing_zero(&e->timing);
    memset(e->secs, 0, sizeof e->secs);
    if (e->snaps) {
        /* The empty state at `now` is the baseline until real snapshots exist, as Locust
         * caches one at reset. */
        for (unsigned i = 0; i < STATS_SNAPS; i++) {
            e->snaps[i].sec = 0;
            e->snaps[i].num_requests = 0;
            hist_clear(&e->snaps[i].h);
        }
        e->snaps[(uint32_t)now % STATS_SNAPS].sec = (uint32_t)now;
    }
}

static void entry_init(stats_entry *e, const char *method, const char *name, bool windowed,
                       double now)
{
    memset(e, 0, sizeof *e);
    e->method = xstrdup(method);
    e->name = xstrdup(name);
    hist_init(&e->hist);
    for (int p = 0; p < STATS_NPHASES; p++)
        hist_init(&e->timing.hist[p]);
    if (windowed) {
        e->snaps = xcalloc(STATS_SNAPS, sizeof *e->snaps);
        for (unsigned i = 0; i < STATS_SNAPS; i++)
            hist_init(&e->snaps[i].h);
    }
    entry_zero(e, now);
}

static void entry_free(stats_entry *e)
{
    free(e->method);
    free(e->name);
    hist_free(&e->hist);
    hist_free(&e->co_hist);
    for (int p = 0; p < STATS_NPHASES; p++)
        hist_free(&e->timing.hist[p]);
    if (e->snaps) {
        for (unsigned i = 0; i < STATS_SNAPS; i++)
            hist_free(&e->snaps[i].h);
        free(e->snaps);
    }
}

static inline void entry_log(stats_entry *e, uint32_t sec, double now, int64_t rt_us,
                             uint64_t bytes, bool fail)
{
    e->num_requests++;
    e->last_request_ts = now;
    stats_sec *slot = &e->secs[sec & (STATS_SEC_RING - 1)];
    if (slot->sec != sec) {
        slot->sec = sec;
        slot->reqs = slot->fails = 0;
    }
    slot->reqs++;
    if (rt_us < 0) {
        e->num_none_requests++;
    } else {
        uint64_t rt = (uint64_t)rt_us;
        e->total_rt_us += rt;
        if (rt < e->min_rt_us)
            e->min_rt_us = rt;
        if (rt > e->max_rt_us)
            e->max_rt_us = rt;
        hist_record(&e->hist, rt);
    }
    e->total_content_length += bytes;
    if (fail) {
        e->num_failures++;
        slot->fails++;
    }
}

stats *stats_new(size_t max_names, bool window_all, double now)
{
    stats *s = xcalloc(1, sizeof *s);
    s->max_names = max_names ? max_names : STATS_DEFAULT_MAX_NAMES;
    s->window_all = window_all;
    entry_init(&s->total, "", "Aggregated", true, now);
    s->total.index = UINT32_MAX;
    s->total.visible = true;
    return s;
}

static void errors_drop(stats *s)
{
    for (size_t i = 0; i < s->n_errors; i++) {
        free(s->errors[i]->error);
        free(s->errors[i]);
    }
    s->n_errors = 0;
    s->error_total = 0;
    s->errors_dirty = true;
    idx_clear(&s->error_idx);
}

static void exceptions_drop(stats *s)
{
    for (size_t i = 0; i < s->n_exceptions; i++) {
        free(s->exceptions[i]->msg);
        free(s->exceptions[i]->traceback);
        free(s->exceptions[i]->nodes);
        free(s->exceptions[i]);
    }
    s->n_exceptions = 0;
}

void stats_free(stats *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_entries; i++) {
        entry_free(s->entries[i]);
        free(s->entries[i]);
    }
    for (size_t i = 0; i < s->n_other; i++) {
        entry_free(s->other[i]);
        free(s->other[i]);
    }
    entry_free(&s->total);
    errors_drop(s);
    exceptions_drop(s);
    idx_free(&s->entry_idx);
    idx_free(&s->error_idx);
    free(s->entries);
    free(s->sorted);
    free(s->errors);
    free(s->errors_sorted);
    free(s->exceptions);
    free(s);
}

stats_entry *stats_total(stats *s)
{
    return &s->total;
}

struct entry_key {
    const stats *s;
    const char *method, *name;
};

static bool entry_eq(const void *data, uint32_t index)
{
    const struct entry_key *k = data;
    const stats_entry *e = k->s->entries[index];
    return strcmp(e->name, k->name) == 0 && strcmp(e->method, k->method) == 0;
}

/* Requests past the name cap land in one entry per method. */
static stats_entry *other_entry(stats *s, const char *method, double now)
{
    for (size_t i = 0; i < s->n_other; i++)
        if (strcmp(s->other[i]->method, method) == 0)
            return s->other[i];
    if (!s->warned_names) {
        s->warned_names = true;
        log_warning("cicada.stats",
                    "More than %zu distinct request names: further names are counted as "
                    "\"%s\". Give requests with dynamic URLs a \"name\" to group them "
                    "(or raise --max-names).",
                    s->max_names, STATS_OTHER_NAME);
    }
    if (s->n_other == sizeof s->other / sizeof s->other[0])
        return s->other[s->n_other - 1];
    stats_entry *e = xmalloc(sizeof *e);
    entry_init(e, method, STATS_OTHER_NAME, s->window_all, now);
    e->index = UINT32_MAX - 1;
    s->other[s->n_other++] = e;
    s->sorted_dirty = true;
    return e;
}

stats_entry *stats_entry_get(stats *s, const char *method, const char *name, double now)
{
    struct entry_key key = {s, method, name};
    uint64_t h = hash_pair(method, name);
    size_t pos;
    long i = idx_find(&s->entry_idx, h, entry_eq, &key, &pos);
    if (i >= 0)
        return s->entries[i];
    if (s->n_entries >= s->max_names)
        return other_entry(s, method, now);
    if (s->n_entries == s->cap_entries) {
        s->cap_entries = s->cap_entries ? s->cap_entries * 2 : 32;
        s->entries = xrealloc(s->entries, s->cap_entries * sizeof *s->entries);
    }
    stats_entry *e = xmalloc(sizeof *e);
    entry_init(e, method, name, s->window_all, now);
    e->index = (uint32_t)s->n_entries;
    s->entries[s->n_entries++] = e;
    idx_insert(&s->entry_idx, h, e->index);
    return e;
}

/* ---- failures ----------------------------------------------------------------------- */

struct error_key {
    const stats *s;
    const stats_entry *entry;
    const char *error;
};

static bool error_eq(const void *data, uint32_t index)
{
    const struct error_key *k = data;
    const stats_error *e = k->s->errors[index];
    return e->entry == k->entry && strcmp(e->error, k->error) == 0;
}

static stats_error *error_get(stats *s, stats_entry *entry, const char *error, double now)
{
    struct error_key key = {s, entry, error};
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = hash_bytes(h, &entry, sizeof entry);
    h = hash_bytes(h, error, strlen(error));
    size_t pos;
    long i = idx_find(&s->error_idx, h, error_eq, &key, &pos);
    if (i >= 0)
        return s->errors[i];
    if (s->n_errors >= STATS_MAX_ERRORS && strcmp(error, STATS_OTHER_ERROR) != 0)
        return error_get(s, entry, STATS_OTHER_ERROR, now);
    if (s->n_errors == s->cap_errors) {
        s->cap_errors = s->cap_errors ? s->cap_errors * 2 : 32;
        s->errors = xrealloc(s->errors, s->cap_errors * sizeof *s->errors);
        s->errors_sorted = xrealloc(s->errors_sorted, s->cap_errors * sizeof *s->errors);
    }
    stats_error *e = xcalloc(1, sizeof *e);
    e->entry = entry;
    e->error = xstrdup(error);
    e->first_seen = now;
    s->errors[s->n_errors] = e;
    idx_insert(&s->error_idx, h, (uint32_t)s->n_errors);
    s->n_errors++;
    s->errors_dirty = true;
    return e;
}

void stats_add_error(stats *s, stats_entry *e, const char *error, uint64_t occurrences,
                     double now)
{
    stats_error *err = error_get(s, e, error, now);
    err->occurrences += occurrences;
    err->last_seen = now;
    s->error_total += occurrences;
}

/* ---- logging ------------------------------------------------------------------------ */

void stats_log(stats *s, stats_entry *e, double now, int64_t rt_us, uint64_t bytes,
               const char *error)
{
    uint32_t sec = (uint32_t)now;
    bool fail = error != NULL;
    if (!e->visible) {
        e->visible = true;
        s->sorted_dirty = true;
    }
    entry_log(e, sec, now, rt_us, bytes, fail);
    entry_log(&s->total, sec, now, rt_us, bytes, fail);
    if (fail)
        stats_add_error(s, e, error, 1, now);
}

static inline void timing_log(stats_timing *t, const uint64_t *us)
{
    t->count++;
    for (int p = 0; p < STATS_NPHASES; p++) {
        t->total_us[p] += us[p];
        hist_record(&t->hist[p], us[p]);
    }
}

void stats_log_timing(stats *s, stats_entry *e, const uint64_t phase_us[STATS_NPHASES])
{
    timing_log(&e->timing, phase_us);
    timing_log(&s->total.timing, phase_us);
}

static void nodes_add(char **nodes, const char *node)
{
    /* nodes is a ", "-joined set; membership by exact item match. */
    size_t n = strlen(node);
    for (const char *p = *nodes; p && *p;) {
        const char *end = strstr(p, ", ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, node, n) == 0)
            return;
        if (!end)
            break;
        p = end + 2;
    }
    size_t old = *nodes ? strlen(*nodes) : 0;
    char *joined = xmalloc(old + 2 + n + 1);
    if (old) {
        memcpy(joined, *nodes, old);
        memcpy(joined + old, ", ", 2);
        memcpy(joined + old + 2, node, n + 1);
    } else {
        memcpy(joined, node, n + 1);
    }
    free(*nodes);
    *nodes = joined;
}

uint64_t stats_merge_exception(stats *s, const char *msg, const char *traceback,
                               const char *node, uint64_t count)
{
    for (size_t i = 0; i < s->n_exceptions; i++) {
        stats_exception *x = s->exceptions[i];
        if (strcmp(x->msg, msg) == 0 && strcmp(x->traceback, traceback) == 0) {
            x->count += count;
            nodes_add(&x->nodes, node);
            return x->count;
        }
    }
    if (s->n_exceptions >= STATS_MAX_EXCEPTIONS) {
        /* Keep counting in the last slot rather than growing without bound. */
        return s->exceptions[s->n_exceptions - 1]->count += count;
    }
    if (s->n_exceptions == s->cap_exceptions) {
        s->cap_exceptions = s->cap_exceptions ? s->cap_exceptions * 2 : 16;
        s->exceptions = xrealloc(s->exceptions, s->cap_exceptions * sizeof *s->exceptions);
    }
    stats_exception *x = xcalloc(1, sizeof *x);
    x->msg = xstrdup(msg);
    x->traceback = xstrdup(traceback);
    nodes_add(&x->nodes, node);
    x->count = count;
    s->exceptions[s->n_exceptions++] = x;
    return count;
}

uint64_t stats_log_exception(stats *s, const char *msg, const char *traceback,
                             const char *node)
{
    return stats_merge_exception(s, msg, traceback, node, 1);
}

/* ---- snapshots, reset, clear -------------------------------------------------------- */

static void entry_snapshot(stats_entry *e, uint32_t sec)
{
    /* Taken just after second `sec` began, so it is the state at the end of sec - 1:
     * Locust caches the same state under that key. */
    uint32_t key = sec - 1;
    stats_snap *snap = &e->snaps[key % STATS_SNAPS];
    if (snap->sec == key)
        return;
    snap->sec = key;
    snap->num_requests = e->num_requests;
    hist_copy(&snap->h, &e->hist);
}

void stats_tick(stats *s, double now)
{
    uint32_t sec = (uint32_t)now;
    entry_snapshot(&s->total, sec);
    if (!s->window_all)
        return;
    for (size_t i = 0; i < s->n_entries; i++)
        if (s->entries[i]->visible)
            entry_snapshot(s->entries[i], sec);
    for (size_t i = 0; i < s->n_other; i++)
        entry_snapshot(s->other[i], sec);
}

void stats_reset(stats *s, double now, bool with_exceptions)
{
    entry_zero(&s->total, now);
    for (size_t i = 0; i < s->n_entries; i++)
        entry_zero(s->entries[i], now);
    for (size_t i = 0; i < s->n_other; i++)
        entry_zero(s->other[i], now);
    errors_drop(s);
    if (with_exceptions)
        exceptions_drop(s);
    s->checks_run = s->checks_failed = 0;
    s->iterations = s->iterations_late = s->iterations_dropped = 0;
}

void stats_clear(stats *s, double now)
{
    stats_reset(s, now, true);
    for (size_t i = 0; i < s->n_entries; i++)
        s->entries[i]->visible = false;
    for (size_t i = 0; i < s->n_other; i++)
        s->other[i]->visible = false;
    s->sorted_dirty = true;
}

/* ---- derived values ----------------------------------------------------------------- */

double stats_avg_rt_ms(const stats_entry *e)
{
    uint64_t n = e->num_requests - e->num_none_requests;
    return n ? (double)e->total_rt_us / (double)n / 1000.0 : 0.0;
}

double stats_min_rt_ms(const stats_entry *e)
{
    return e->min_rt_us == UINT64_MAX ? 0.0 : (double)e->min_rt_us / 1000.0;
}

double stats_max_rt_ms(const stats_entry *e)
{
    return (double)e->max_rt_us / 1000.0;
}

double stats_avg_content_length(const stats_entry *e)
{
    return e->num_requests ? (double)e->total_content_length / (double)e->num_requests : 0.0;
}

double stats_fail_ratio(const stats_entry *e)
{
    if (e->num_requests == 0)
        return e->num_failures ? 1.0 : 0.0;
    return (double)e->num_failures / (double)e->num_requests;
}

static double total_span(stats *s)
{
    if (s->total.last_request_ts <= 0)
        return 0;
    return s->total.last_request_ts - s->total.start_time;
}

double stats_total_rps(stats *s, const stats_entry *e)
{
    double span = total_span(s);
    return span > 0 ? (double)e->num_requests / span : 0.0;
}

double stats_total_fail_per_sec(stats *s, const stats_entry *e)
{
    double span = total_span(s);
    return span > 0 ? (double)e->num_failures / span : 0.0;
}

static double current_rate(stats *s, const stats_entry *e, double now, bool fails)
{
    int64_t last = (int64_t)now;
    int64_t start = last - 12;
    if (start < (int64_t)s->total.start_time)
        start = (int64_t)s->total.start_time;
    int64_t end = last - 2;
    if (end <= start)
        return 0.0;
    uint64_t sum = 0;
    for (int64_t t = start; t < end; t++) {
        const stats_sec *slot = &e->secs[(uint32_t)t & (STATS_SEC_RING - 1)];
        if (slot->sec == (uint32_t)t)
            sum += fails ? slot->fails : slot->reqs;
    }
    return (double)sum / (double)(end - start);
}

double stats_current_rps(stats *s, const stats_entry *e, double now)
{
    return current_rate(s, e, now, false);
}

double stats_current_fail_per_sec(stats *s, const stats_entry *e, double now)
{
    return current_rate(s, e, now, true);
}

static uint64_t clamp(const stats_entry *e, uint64_t v)
{
    if (e->min_rt_us != UINT64_MAX && v < e->min_rt_us)
        return e->min_rt_us;
    if (v > e->max_rt_us)
        return e->max_rt_us;
    return v;
}

uint64_t stats_percentile_us(const stats_entry *e, double p)
{
    if (e->hist.count == 0)
        return 0;
    return clamp(e, hist_percentile(&e->hist, p));
}

void stats_percentiles_us(const stats_entry *e, const double *ps, int n, uint64_t *out)
{
    hist_percentiles(&e->hist, ps, n, out);
    if (e->hist.count)
        for (int i = 0; i < n; i++)
            out[i] = clamp(e, out[i]);
}

double stats_phase_avg_ms(const stats_entry *e, int p)
{
    const stats_timing *t = &e->timing;
    return t->count ? (double)t->total_us[p] / (double)t->count / 1000.0 : 0.0;
}

void stats_phase_percentiles_us(const stats_entry *e, int p, const double *ps, int n,
                                uint64_t *out)
{
    hist_percentiles(&e->timing.hist[p], ps, n, out);
}

uint64_t stats_median_us(const stats_entry *e)
{
    if (e->hist.count == 0)
        return 0;
    return clamp(e, hist_median(&e->hist));
}

bool stats_current_percentile_us(const stats_entry *e, double now, double p, uint64_t *out)
{
    if (!e->snaps)
        return false;
    /* Locust's search order: t-10, t-11, t-9, t-12, t-8, ... up to 8 seconds either way. */
    uint32_t t = (uint32_t)now;
    for (int i = 0; i <= 8; i++) {
        for (int sign = 0; sign < 2; sign++) {
            if (i == 0 && sign)
                continue;
            uint32_t key = sign ? t - STATS_WINDOW + (uint32_t)i : t - STATS_WINDOW - (uint32_t)i;
            const stats_snap *snap = &e->snaps[key % STATS_SNAPS];
            if (snap->sec != key)
                continue;
            if (e->hist.count == snap->h.count) {
                *out = 0;
                return true;
            }
            *out = clamp(e, hist_percentile_since(&e->hist, &snap->h, p));
            return true;
        }
    }
    return false;
}

uint64_t stats_us_to_ms(uint64_t us)
{
    return (uint64_t)rint((double)us / 1000.0);
}

/* ---- listings ----------------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
    const stats_entry *x = *(stats_entry *const *)a;
    const stats_entry *y = *(stats_entry *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->method, y->method);
}

stats_entry *const *stats_sorted(stats *s, size_t *n)
{
    if (s->sorted_dirty || !s->sorted) {
        s->sorted = xrealloc(s->sorted, (s->n_entries + s->n_other + 1) * sizeof *s->sorted);
        s->n_sorted = 0;
        for (size_t i = 0; i < s->n_entries; i++)
            if (s->entries[i]->visible)
                s->sorted[s->n_sorted++] = s->entries[i];
        for (size_t i = 0; i < s->n_other; i++)
            if (s->other[i]->visible)
                s->sorted[s->n_sorted++] = s->other[i];
        if (s->n_sorted)
            qsort(s->sorted, s->n_sorted, sizeof *s->sorted, entry_cmp);
        s->sorted_dirty = false;
    }
    *n = s->n_sorted;
    return s->sorted;
}

static int error_cmp(const void *a, const void *b)
{
    const stats_error *x = *(stats_error *const *)a;
    const stats_error *y = *(stats_error *const *)b;
    int c = entry_cmp(&x->entry, &y->entry);
    return c ? c : strcmp(x->error, y->error);
}

stats_error *const *stats_errors(stats *s, size_t *n)
{
    if (s->errors_dirty) {
        if (s->n_errors) {
            memcpy(s->errors_sorted, s->errors, s->n_errors * sizeof *s->errors);
            qsort(s->errors_sorted, s->n_errors, sizeof *s->errors_sorted, error_cmp);
        }
        s->errors_dirty = false;
    }
    *n = s->n_errors;
    return s->errors_sorted;
}

void stats_log_checks(stats *s, uint64_t run, uint64_t failed)
{
    s->checks_run += run;
    s->checks_failed += failed;
}

void stats_checks(const stats *s, uint64_t *run, uint64_t *failed)
{
    *run = s->checks_run;
    *failed = s->checks_failed;
}

uint64_t stats_error_count(stats *s)
{
    return s->error_total;
}

stats_exception *const *stats_exceptions(stats *s, size_t *n)
{
    *n = s->n_exceptions;
    return s->exceptions;
}

/* ---- merging (distributed runs) ----------------------------------------------------- */

static void entry_merge(stats_entry *dst, const stats_entry *src)
{
    dst->num_requests += src->num_requests;
    dst->num_none_requests += src->num_none_requests;
    dst->num_failures += src->num_failures;
    dst->total_rt_us += src->total_rt_us;
    dst->total_content_length += src->total_content_length;
    if (src->min_rt_us < dst->min_rt_us)
        dst->min_rt_us = src->min_rt_us;
    if (src->max_rt_us > dst->max_rt_us)
        dst->max_rt_us = src->max_rt_us;
    if (src->last_request_ts > dst->last_request_ts)
        dst->last_request_ts = src->last_request_ts;
    if (src->start_time > 0 && src->start_time < dst->start_time)
        dst->start_time = src->start_time;
    hist_merge(&dst->hist, &src->hist);
    hist_merge(&dst->co_hist, &src->co_hist);
    dst->timing.count += src->timing.count;
    for (int p = 0; p < STATS_NPHASES; p++) {
        dst->timing.total_us[p] += src->timing.total_us[p];
        hist_merge(&dst->timing.hist[p], &src->timing.hist[p]);
    }
    for (unsigned i = 0; i < STATS_SEC_RING; i++) {
        const stats_sec *from = &src->secs[i];
        if (!from->reqs && !from->fails)
            continue;
        stats_sec *to = &dst->secs[from->sec & (STATS_SEC_RING - 1)];
        if (to->sec != from->sec) {
            /* Only replace an older second; a delta for a second long gone is dropped. */
            if ((int32_t)(from->sec - to->sec) < 0)
                continue;
            to->sec = from->sec;
            to->reqs = to->fails = 0;
        }
        to->reqs += from->reqs;
        to->fails += from->fails;
    }
}

void stats_merge_entry(stats *s, const stats_entry *delta, double now)
{
    stats_entry *e = stats_entry_get(s, delta->method, delta->name, now);
    if (!e->visible && delta->num_requests) {
        e->visible = true;
        s->sorted_dirty = true;
    }
    entry_merge(e, delta);
}

void stats_merge_total(stats *s, const stats_entry *delta)
{
    entry_merge(&s->total, delta);
}

static size_t entry_memory(const stats_entry *e)
{
    size_t bytes = strlen(e->name) + strlen(e->method) + 2 + hist_memory(&e->hist) +
                   hist_memory(&e->co_hist) - 2 * sizeof(hist);
    for (int p = 0; p < STATS_NPHASES; p++)
        bytes += hist_memory(&e->timing.hist[p]) - sizeof(hist);
    if (e->snaps)
        for (unsigned j = 0; j < STATS_SNAPS; j++)
            bytes += sizeof e->snaps[j] + hist_memory(&e->snaps[j].h) - sizeof(hist);
    return bytes;
}

/* Counts every block the statistics own, arrays at their capacity, so that a slow leak
 * (a table that keeps growing, histograms that never stop widening) shows here and not
 * only as RSS. Allocator overhead is not included. */
size_t stats_memory(stats *s)
{
    size_t bytes = sizeof *s + entry_memory(&s->total);
    for (size_t i = 0; i < s->n_entries; i++)
        bytes += sizeof *s->entries[i] + entry_memory(s->entries[i]);
    for (size_t i = 0; i < s->n_other; i++)
        bytes += sizeof *s->other[i] + entry_memory(s->other[i]);
    bytes += s->cap_entries * sizeof *s->entries;
    if (s->sorted)
        bytes += (s->n_entries + s->n_other + 1) * sizeof *s->sorted;
    bytes += s->entry_idx.cap * (sizeof(uint32_t) + sizeof(uint64_t));
    bytes += s->error_idx.cap * (sizeof(uint32_t) + sizeof(uint64_t));
    bytes += 2 * s->cap_errors * sizeof *s->errors;
    for (size_t i = 0; i < s->n_errors; i++)
        bytes += sizeof *s->errors[i] + strlen(s->errors[i]->error) + 1;
    bytes += s->cap_exceptions * sizeof *s->exceptions;
    for (size_t i = 0; i < s->n_exceptions; i++) {
        const stats_exception *x = s->exceptions[i];
        bytes += sizeof *x + strlen(x->msg) + strlen(x->traceback) + 2 +
                 (x->nodes ? strlen(x->nodes) + 1 : 0);
    }
    return bytes;
}

size_t stats_entry_count(const stats *s)
{
    return s->n_entries + s->n_other;
}

/* ---- open model --------------------------------------------------------------------- */

void stats_log_corrected(stats *s, stats_entry *e, int64_t us)
{
    if (us < 0)
        return;
    hist_record(&e->co_hist, (uint64_t)us);
    hist_record(&s->total.co_hist, (uint64_t)us);
}

void stats_log_iterations(stats *s, uint64_t started, uint64_t late, uint64_t dropped)
{
    s->iterations += started;
    s->iterations_late += late;
    s->iterations_dropped += dropped;
}

void stats_iterations(const stats *s, uint64_t *started, uint64_t *late, uint64_t *dropped)
{
    *started = s->iterations;
    *late = s->iterations_late;
    *dropped = s->iterations_dropped;
}
