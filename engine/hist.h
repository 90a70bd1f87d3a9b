/* Response-time histogram: log-linear (HDR style), microsecond values, at most 0.79%
 * relative error, fixed worst-case memory, exact merge.
 *
 * Values below 128 us have a bucket each. Above, every power of two [2^m, 2^(m+1)) is cut
 * into 64 equal buckets, so a bucket is at most 1/64 of its lower bound wide and its
 * midpoint is within 1/128 of any value in it. Buckets are grouped in chunks (one per
 * power of two) allocated on first use: a typical entry whose times span 0.5-50 ms holds
 * 8 chunks (4 KiB); the worst case is 15 KiB. Counts are exact, so merging two histograms
 * (workers into the master) gives exactly the histogram of all their samples.
 *
 * Percentiles follow Locust's rule (stats.py calculate_response_time_percentile): the
 * value of the sample of rank floor(n*p), 0-based, clamped to n-1; the median uses rank
 * floor((n-1)/2) as Locust's median_from_dict does. The histogram reports a bucket's
 * midpoint; callers clamp it to the exact min and max they track. */
#ifndef CICADA_HIST_H
#define CICADA_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_LINEAR 128u        /* exact buckets for 0..127 us */
#define HIST_SUB 64u            /* buckets per power of two above that */
#define HIST_CHUNKS 30u         /* chunk 0 = linear; chunk c covers [2^(c+6), 2^(c+7)) */
#define HIST_MAX_US (UINT64_C(1) << 36)  /* ~19 h; larger values count in the top bucket */
#define HIST_BUCKETS (HIST_LINEAR + (HIST_CHUNKS - 1) * HIST_SUB)

typedef struct hist {
    uint64_t *chunk[HIST_CHUNKS];   /* owned; NULL until a value lands in it */
    uint64_t count;                 /* samples recorded */
} hist;

/* Initialises an empty histogram (no memory is allocated until the first record). */
void hist_init(hist *h);
/* Releases the chunks. The histogram may be reused after hist_init. */
void hist_free(hist *h);
/* Sets every count to zero, keeping the chunks (no allocation when refilled). */
void hist_clear(hist *h);

/* Bucket index (0 .. HIST_BUCKETS-1) of a value in microseconds. */
static inline unsigned hist_index(uint64_t us)
{
    if (us < HIST_LINEAR)
        return (unsigned)us;
    if (us >= HIST_MAX_US)
        us = HIST_MAX_US - 1;
    unsigned msb = 63u - (unsigned)__builtin_clzll(us);
    unsigned c = msb - 6u;
    return HIST_LINEAR + (c - 1u) * HIST_SUB + (unsigned)((us >> c) & (HIST_SUB - 1u));
}

/* Allocates chunk c (internal to hist_add; exposed for the inline fast path). */
uint64_t *hist_chunk_alloc(hist *h, unsigned c);

/* Adds n samples to bucket idx (as returned by hist_index). */
static inline void hist_add(hist *h, unsigned idx, uint64_t n)
{
    unsigned c, i;
    if (idx < HIST_LINEAR) {
        c = 0;
        i = idx;
    } else {
        c = 1u + (idx - HIST_LINEAR) / HIST_SUB;
        i = (idx - HIST_LINEAR) % HIST_SUB;
    }
    uint64_t *k = h->chunk[c];
    if (__builtin_expect(!k, 0))
        k = hist_chunk_alloc(h, c);
    k[i] += n;
    h->count += n;
}

/* Records one sample of us microseconds. */
static inline void hist_record(hist *h, uint64_t us)
{
    hist_add(h, hist_index(us), 1);
}

/* Lowest value in bucket idx, and the value reported for it (its midpoint, rounded down;
 * exact for buckets one microsecond wide). */
uint64_t hist_bucket_low(unsigned idx);
uint64_t hist_bucket_value(unsigned idx);

/* Count in bucket idx. */
uint64_t hist_bucket_count(const hist *h, unsigned idx);

/* dst += src, bucket by bucket. */
void hist_merge(hist *dst, const hist *src);
/* Makes dst equal to src, reusing dst's chunks. */
void hist_copy(hist *dst, const hist *src);

/* Value of the sample of rank floor(count*p) (p in 0..1), as Locust computes percentiles;
 * 0 when empty. */
uint64_t hist_percentile(const hist *h, double p);
/* Locust's median: the sample of rank floor((count-1)/2); 0 when empty. */
uint64_t hist_median(const hist *h);

/* Several percentiles in one walk: ps[0..n) ascending, results in out[0..n). Same values
 * as calling hist_percentile for each (a table row needs four or five). */
void hist_percentiles(const hist *h, const double *ps, int n, uint64_t *out);

/* The same two on the difference now - base, where base is an earlier copy of now (the
 * "current" percentiles over a recent window). Buckets where base exceeds now count 0. */
uint64_t hist_percentile_since(const hist *now, const hist *base, double p);

/* Calls fn for each non-empty bucket in increasing order (for serialisation). */
void hist_foreach(const hist *h, void (*fn)(void *data, unsigned idx, uint64_t count),
                  void *data);

/* Bytes of memory the histogram holds (for the stats memory report). */
size_t hist_memory(const hist *h);

#endif
