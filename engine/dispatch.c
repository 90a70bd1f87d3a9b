#include "dispatch.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* Largest accepted weight ratio: normalised weights stay far from int64 overflow. */
#define MAX_WEIGHT_RATIO 1e9

#define NO_CLASS SIZE_MAX

/* A smooth weighted round-robin (nginx style) over some classes. Locust replays its
 * first sum(weight) picks forever; running it on gives the same sequence, because after
 * that many picks every current weight is back to zero. */
struct swrr {
    size_t n;          /* members */
    size_t *cls;       /* member class indexes, in name order (capacity: all classes) */
    int64_t *weight;   /* normalised weights */
    int64_t *current;
    int64_t total;     /* sum of weight */
};

struct dclass {
    char *name;
    double weight;
    unsigned fixed;
};

enum ramp_state {
    RAMP_IDLE,   /* no ramp, or the last one is over */
    RAMP_FIRST,  /* started, nothing yielded yet */
    RAMP_ON,     /* iterations in progress */
    RAMP_LAST,   /* the last iteration was yielded; the next call ends the ramp */
};

struct dispatch {
    size_t nclass;
    struct dclass *cls;     /* sorted by name */
    bool *active;           /* class may get new users (the subset) */
    bool *scratch;          /* subset being validated */

    size_t nwork, capwork;
    char **work;            /* ids, in dispatch order */
    unsigned *users;        /* nwork x nclass counts, row per worker */
    unsigned *wtotal;       /* per worker */
    unsigned *ctotal;       /* per class */
    unsigned count;         /* users in the map */
    size_t next_worker;     /* round-robin position in work */

    /* Users in order of addition, as worker * nclass + class, for LIFO removal. */
    size_t *added;
    size_t nadded, capadded;

    /* The user generator. */
    struct swrr fixed, weighted;
    bool try_fixed;         /* a removal happened: top fixed classes up first */
    bool in_fixed;          /* topping fixed classes up */

    enum ramp_state state;
    unsigned target, step;
    double wait;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A class that can ever get users. */
static bool eligible(const struct dclass *k)
{
    return k->fixed || k->weight > 0;
}

/* ---- smooth weighted round-robin ------------------------------------------------------ */

static void swrr_alloc(struct swrr *s, size_t cap)
{
    s->cls = xcalloc(cap, sizeof *s->cls);
    s->weight = xcalloc(cap, sizeof *s->weight);
    s->current = xcalloc(cap, sizeof *s->current);
}

static void swrr_free(struct swrr *s)
{
    free(s->cls);
    free(s->weight);
    free(s->current);
}

/* Rebuilds s over the active classes that are fixed (want_fixed) or weighted with a
 * weight > 0, normalising each value v to round(2 * v / min v), half to even as Python's
 * round() does. */
static void swrr_build(struct swrr *s, const dispatch *d, bool want_fixed)
{
    double min = 0;
    s->n = 0;
    for (size_t c = 0; c < d->nclass; c++) {
        const struct dclass *k = &d->cls[c];
        double v = want_fixed ? k->fixed : k->fixed ? 0 : k->weight;
        if (!d->active[c] || v <= 0)
            continue;
        if (s->n == 0 || v < min)
            min = v;
        s->cls[s->n++] = c;
    }
    s->total = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct dclass *k = &d->cls[s->cls[i]];
        double v = want_fixed ? k->fixed : k->weight;
        s->weight[i] = (int64_t)rint(2.0 * v / min);
        s->current[i] = 0;
        s->total += s->weight[i];
    }
}

/* Next class of the cycle; s must have members. Ties go to the first in name order. */
static size_t swrr_next(struct swrr *s)
{
    size_t best = 0;
    for (size_t i = 0; i < s->n; i++) {
        s->current[i] += s->weight[i];
        if (s->current[i] > s->current[best])
            best = i;
    }
    s->current[best] -= s->total;
    return s->cls[best];
}

/* ---- user generator ------------------------------------------------------------------- */

static void gen_reset(dispatch *d)
{
    swrr_build(&d->fixed, d, true);
    swrr_build(&d->weighted, d, false);
    d->in_fixed = false;
}

static bool fixed_all_full(const dispatch *d)
{
    for (size_t i = 0; i < d->fixed.n; i++) {
        size_t c = d->fixed.cls[i];
        if (d->ctotal[c] < d->cls[c].fixed)
            return false;
    }
    return true;
}

/* The class of the next user, or NO_CLASS when no class can take one. After a removal,
 * fixed classes below their count are topped up first, in their own round-robin order.
 * (Locust 2.12 loops forever here when a fixed class was already full as the top-up
 * began and another one still needs users; this ends the top-up once all are full.) */
static size_t gen_next(dispatch *d)
{
    if (d->try_fixed) {
        d->try_fixed = false;
        d->in_fixed = true;
    }
    if (d->in_fixed) {
        if (!fixed_all_full(d)) {
            for (;;) {
                size_t c = swrr_next(&d->fixed);
                if (d->ctotal[c] < d->cls[c].fixed)
                    return c;
            }
        }
        d->in_fixed = false;
    }
    return d->weighted.n ? swrr_next(&d->weighted) : NO_CLASS;
}

/* ---- the map -------------------------------------------------------------------------- */

static void place(dispatch *d, size_t c)
{
    size_t w = d->next_worker;
    d->next_worker = (w + 1) % d->nwork;
    d->users[w * d->nclass + c]++;
    d->wtotal[w]++;
    d->ctotal[c]++;
    d->count++;
    if (d->nadded == d->capadded) {
        d->capadded = d->capadded ? 2 * d->capadded : 64;
        d->added = xrealloc(d->added, d->capadded * sizeof *d->added);
    }
    d->added[d->nadded++] = w * d->nclass + c;
}

static void unplace_last(dispatch *d)
{
    size_t cell = d->added[--d->nadded];
    d->users[cell]--;
    d->wtotal[cell / d->nclass]--;
    d->ctotal[cell % d->nclass]--;
    d->count--;
    d->try_fixed = true;
}

/* Adds users toward the target, one iteration's worth. Returns false when no class could
 * take a user. */
static bool ramp_up(dispatch *d)
{
    unsigned goal = d->target - d->count > d->step ? d->count + d->step : d->target;
    while (d->count < goal) {
        size_t c = gen_next(d);
        if (c == NO_CLASS)
            return false;
        place(d, c);
    }
    return true;
}

static void ramp_down(dispatch *d)
{
    unsigned goal = d->count - d->target > d->step ? d->count - d->step : d->target;
    while (d->count > goal)
        unplace_last(d);
}

/* Recomputes the map from zero over the current workers, as a ramp-up of `users` users
 * with fresh round-robins, so that later iterations continue smoothly from it. */
static void rebalance(dispatch *d, unsigned users)
{
    memset(d->ctotal, 0, d->nclass * sizeof *d->ctotal);
    d->count = 0;
    d->nadded = 0;
    d->next_worker = 0;
    d->try_fixed = true;
    gen_reset(d);
    if (d->nwork == 0)
        return;
    memset(d->users, 0, d->nwork * d->nclass * sizeof *d->users);
    memset(d->wtotal, 0, d->nwork * sizeof *d->wtotal);
    while (d->count < users) {
        size_t c = gen_next(d);
        if (c == NO_CLASS)
            break;
        place(d, c);
    }
}

/* ---- workers -------------------------------------------------------------------------- */

struct wkey {
    char *id;
    size_t hostlen;
    size_t index;  /* workers before this one on its host, in id order */
};

static int cmp_host_id(const void *a, const void *b)
{
    const struct wkey *x = a, *y = b;
    size_t n = x->hostlen < y->hostlen ? x->hostlen : y->hostlen;
    int r = memcmp(x->id, y->id, n);
    if (r == 0 && x->hostlen != y->hostlen)
        return x->hostlen < y->hostlen ? -1 : 1;
    return r ? r : strcmp(x->id, y->id);
}

static int cmp_index_id(const void *a, const void *b)
{
    const struct wkey *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Orders d->work by (index within host, id) so that hosts fill evenly. */
static void sort_workers(dispatch *d)
{
    if (d->nwork == 0)
        return;
    struct wkey *k = xmalloc(d->nwork * sizeof *k);
    for (size_t i = 0; i < d->nwork; i++) {
        k[i].id = d->work[i];
        k[i].hostlen = strcspn(k[i].id, "_");
    }
    qsort(k, d->nwork, sizeof *k, cmp_host_id);
    for (size_t i = 0; i < d->nwork; i++) {
        bool same = i > 0 && k[i].hostlen == k[i - 1].hostlen &&
                    memcmp(k[i].id, k[i - 1].id, k[i].hostlen) == 0;
        k[i].index = same ? k[i - 1].index + 1 : 0;
    }
    qsort(k, d->nwork, sizeof *k, cmp_index_id);
    for (size_t i = 0; i < d->nwork; i++)
        d->work[i] = k[i].id;
    free(k);
}

static void grow_workers(dispatch *d, size_t need)
{
    if (need <= d->capwork)
        return;
    size_t cap = d->capwork ? d->capwork : 4;
    while (cap < need)
        cap *= 2;
    d->work = xrealloc(d->work, cap * sizeof *d->work);
    d->users = xrealloc(d->users, cap * d->nclass * sizeof *d->users);
    d->wtotal = xrealloc(d->wtotal, cap * sizeof *d->wtotal);
    d->capwork = cap;
}

static bool find_worker(const dispatch *d, const char *id, size_t *w)
{
    for (size_t i = 0; i < d->nwork; i++) {
        if (strcmp(d->work[i], id) == 0) {
            *w = i;
            return true;
        }
    }
    return false;
}

static int check_new_worker(const dispatch *d, const char *id, char *err, size_t errlen)
{
    size_t w;
    if (!id || !*id) {
        seterr(err, errlen, "worker id must not be empty");
        return -1;
    }
    if (find_worker(d, id, &w)) {
        seterr(err, errlen, "duplicate worker id \"%s\"", id);
        return -1;
    }
    return 0;
}

int dispatch_add_worker(dispatch *d, const char *id, char *err, size_t errlen)
{
    if (check_new_worker(d, id, err, errlen) < 0)
        return -1;
    grow_workers(d, d->nwork + 1);
    d->work[d->nwork++] = xstrdup(id);
    sort_workers(d);
    rebalance(d, d->count);
    return 0;
}

int dispatch_remove_worker(dispatch *d, const char *id, char *err, size_t errlen)
{
    size_t w;
    if (!id || !find_worker(d, id, &w)) {
        seterr(err, errlen, "no worker with id \"%s\"", id ? id : "");
        return -1;
    }
    free(d->work[w]);
    memmove(&d->work[w], &d->work[w + 1], (d->nwork - w - 1) * sizeof *d->work);
    d->nwork--;
    rebalance(d, d->count);
    return 0;
}

/* ---- creation ------------------------------------------------------------------------- */

static int cmp_class(const void *a, const void *b)
{
    return strcmp(((const struct dclass *)a)->name, ((const struct dclass *)b)->name);
}

static int check_classes(const dispatch_class *classes, size_t n, char *err, size_t errlen)
{
    if (n == 0) {
        seterr(err, errlen, "no user classes to dispatch");
        return -1;
    }
    double min = 0;
    for (size_t i = 0; i < n; i++) {
        const dispatch_class *k = &classes[i];
        if (!k->name || !*k->name) {
            seterr(err, errlen, "user class #%zu has no name", i + 1);
            return -1;
        }
        if (!isfinite(k->weight) || k->weight < 0) {
            seterr(err, errlen, "user class \"%s\": weight must be a number >= 0 (got %g)",
                   k->name, k->weight);
            return -1;
        }
        if (!k->fixed_count && k->weight > 0 && (min == 0 || k->weight < min))
            min = k->weight;
    }
    for (size_t i = 0; i < n; i++) {
        const dispatch_class *k = &classes[i];
        if (!k->fixed_count && min > 0 && k->weight / min > MAX_WEIGHT_RATIO) {
            seterr(err, errlen,
                   "user class \"%s\": weight %g is more than %g times the smallest weight %g",
                   k->name, k->weight, MAX_WEIGHT_RATIO, min);
            return -1;
        }
    }
    return 0;
}

dispatch *dispatch_new(const dispatch_class *classes, size_t nclasses,
                       const char *const *workers, size_t nworkers, char *err, size_t errlen)
{
    if (check_classes(classes, nclasses, err, errlen) < 0)
        return NULL;
    dispatch *d = xcalloc(1, sizeof *d);
    d->nclass = nclasses;
    d->cls = xcalloc(nclasses, sizeof *d->cls);
    for (size_t i = 0; i < nclasses; i++) {
        d->cls[i].name = xstrdup(classes[i].name);
        d->cls[i].weight = classes[i].weight;
        d->cls[i].fixed = classes[i].fixed_count;
    }
    qsort(d->cls, nclasses, sizeof *d->cls, cmp_class);
    for (size_t i = 1; i < nclasses; i++) {
        if (strcmp(d->cls[i].name, d->cls[i - 1].name) == 0) {
            seterr(err, errlen, "duplicate user class name \"%s\"", d->cls[i].name);
            dispatch_free(d);
            return NULL;
        }
    }
    d->active = xmalloc(nclasses * sizeof *d->active);
    d->scratch = xmalloc(nclasses * sizeof *d->scratch);
    for (size_t i = 0; i < nclasses; i++)
        d->active[i] = eligible(&d->cls[i]);
    d->ctotal = xcalloc(nclasses, sizeof *d->ctotal);
    swrr_alloc(&d->fixed, nclasses);
    swrr_alloc(&d->weighted, nclasses);
    grow_workers(d, nworkers);
    for (size_t i = 0; i < nworkers; i++) {
        if (check_new_worker(d, workers[i], err, errlen) < 0) {
            dispatch_free(d);
            return NULL;
        }
        d->work[d->nwork++] = xstrdup(workers[i]);
    }
    sort_workers(d);
    rebalance(d, 0);
    return d;
}

void dispatch_free(dispatch *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nclass; i++)
        free(d->cls[i].name);
    for (size_t i = 0; i < d->nwork; i++)
        free(d->work[i]);
    free(d->cls);
    free(d->active);
    free(d->scratch);
    free(d->work);
    free(d->users);
    free(d->wtotal);
    free(d->ctotal);
    free(d->added);
    swrr_free(&d->fixed);
    swrr_free(&d->weighted);
    free(d);
}

/* ---- ramps ---------------------------------------------------------------------------- */

static int cmp_name_class(const void *key, const void *elem)
{
    return strcmp(key, ((const struct dclass *)elem)->name);
}

bool dispatch_find_class(const dispatch *d, const char *name, size_t *c)
{
    const struct dclass *k = name ? bsearch(name, d->cls, d->nclass, sizeof *d->cls,
                                            cmp_name_class) : NULL;
    if (!k)
        return false;
    *c = (size_t)(k - d->cls);
    return true;
}

/* Marks the classes named in subset in d->scratch. */
static int parse_subset(dispatch *d, const char *const *subset, size_t n, char *err,
                        size_t errlen)
{
    memset(d->scratch, 0, d->nclass * sizeof *d->scratch);
    for (size_t i = 0; i < n; i++) {
        size_t c;
        if (!dispatch_find_class(d, subset[i], &c)) {
            seterr(err, errlen, "unknown user class \"%s\"", subset[i] ? subset[i] : "");
            return -1;
        }
        if (d->scratch[c]) {
            seterr(err, errlen, "user class \"%s\" given twice", subset[i]);
            return -1;
        }
        d->scratch[c] = true;
    }
    return 0;
}

/* Makes the subset in d->scratch the active one. Classes that can never get users are
 * left out, as Locust never sees them: naming them changes nothing. Returns true if the
 * active set changed. */
static bool apply_subset(dispatch *d)
{
    bool changed = false;
    for (size_t c = 0; c < d->nclass; c++) {
        bool want = d->scratch[c] && eligible(&d->cls[c]);
        changed |= want != d->active[c];
        d->active[c] = want;
    }
    return changed;
}

int dispatch_start(dispatch *d, unsigned target, double spawn_rate,
                   const char *const *subset, size_t nsubset, char *err, size_t errlen)
{
    if (!isfinite(spawn_rate) || spawn_rate <= 0 || !isfinite(1 / spawn_rate)) {
        seterr(err, errlen, "spawn rate must be a number > 0 (got %g)", spawn_rate);
        return -1;
    }
    if (subset) {
        if (parse_subset(d, subset, nsubset, err, errlen) < 0)
            return -1;
        if (apply_subset(d))
            gen_reset(d);
    }
    double step = floor(spawn_rate);
    if (step < 1)
        step = 1;
    d->wait = step / spawn_rate;
    d->step = step >= (double)UINT_MAX ? UINT_MAX : (unsigned)step;
    d->target = target;
    d->state = RAMP_FIRST;
    return 0;
}

bool dispatch_next(dispatch *d, double *delay)
{
    if (delay)
        *delay = 0;
    bool over = d->state == RAMP_IDLE || d->state == RAMP_LAST ||
                (d->state == RAMP_ON && d->count == d->target);
    if (over || d->nwork == 0) {
        d->state = RAMP_IDLE;
        return false;
    }
    /* A ramp to the current count still yields the map once (ramp_down does nothing). */
    bool stuck = false;
    if (d->count < d->target)
        stuck = !ramp_up(d);
    else
        ramp_down(d);
    d->state = d->count == d->target || stuck ? RAMP_LAST : RAMP_ON;
    /* Locust waits out even an iteration that found no class to add before it stops. */
    if (d->count != d->target && delay)
        *delay = d->wait;
    return true;
}

bool dispatch_in_progress(const dispatch *d)
{
    return d->state != RAMP_IDLE;
}

/* ---- accessors ------------------------------------------------------------------------ */

size_t dispatch_worker_count(const dispatch *d)
{
    return d->nwork;
}

const char *dispatch_worker_id(const dispatch *d, size_t w)
{
    return d->work[w];
}

bool dispatch_find_worker(const dispatch *d, const char *id, size_t *w)
{
    return id && find_worker(d, id, w);
}

size_t dispatch_class_count(const dispatch *d)
{
    return d->nclass;
}

const char *dispatch_class_name(const dispatch *d, size_t c)
{
    return d->cls[c].name;
}

const unsigned *dispatch_worker_users(const dispatch *d, size_t w)
{
    return d->users + w * d->nclass;
}

unsigned dispatch_worker_total(const dispatch *d, size_t w)
{
    return d->wtotal[w];
}

unsigned dispatch_class_total(const dispatch *d, size_t c)
{
    return d->ctotal[c];
}

unsigned dispatch_user_count(const dispatch *d)
{
    return d->count;
}

unsigned dispatch_target(const dispatch *d)
{
    return d->target;
}

/* ---- --show-task-ratio ---------------------------------------------------------------- */

void dispatch_ratio_counts(const dispatch_class *classes, size_t n, unsigned users,
                           unsigned *out)
{
    double fixed = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (classes[i].fixed_count)
            fixed += classes[i].fixed_count;
        else
            total += classes[i].weight;
    }
    double num = users ? users : fixed > 0 ? 1 : total;
    double weighted = num - fixed > 0 ? num - fixed : 0;
    for (size_t i = 0; i < n; i++) {
        const dispatch_class *k = &classes[i];
        if (k->fixed_count)
            out[i] = k->fixed_count;
        else
            out[i] = total > 0 ? (unsigned)rint(k->weight / total * weighted) : 0;
    }
}
