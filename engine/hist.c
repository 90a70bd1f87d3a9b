#include "hist.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static unsigned chunk_size(unsigned c)
{
    return c == 0 ? HIST_LINEAR : HIST_SUB;
}

/* First bucket index of chunk c. */
static unsigned chunk_base(unsigned c)
{
    return c == 0 ? 0 : HIST_LINEAR + (c - 1) * HIST_SUB;
}

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
}

void hist_free(hist *h)
{
    for (unsigned c = 0; c < HIST_CHUNKS; c++)
        free(h->chunk[c]);
    hist_init(h);
}

void hist_clear(hist *h)
{
    for (unsigned c = 0; c < HIST_CHUNKS; c++)
        if (h->chunk[c])
            memset(h->chunk[c], 0, chunk_size(c) * sizeof(uint64_t));
    h->count = 0;
}

uint64_t *hist_chunk_alloc(hist *h, unsigned c)
{
    h->chunk[c] = xcalloc(chunk_size(c), sizeof(uint64_t));
    return h->chunk[c];
}

uint64_t hist_bucket_low(unsigned idx)
{
    if (idx < HIST_LINEAR)
        return idx;
    unsigned c = 1 + (idx - HIST_LINEAR) / HIST_SUB;
    unsigned i = (idx - HIST_LINEAR) % HIST_SUB;
    return (uint64_t)(HIST_SUB + i) << c;
}

uint64_t hist_bucket_value(unsigned idx)
{
    if (idx < HIST_LINEAR)
        return idx;
    unsigned c = 1 + (idx - HIST_LINEAR) / HIST_SUB;
    return hist_bucket_low(idx) + ((UINT64_C(1) << c) - 1) / 2;
}

uint64_t hist_bucket_count(const hist *h, unsigned idx)
{
    unsigned c = idx < HIST_LINEAR ? 0 : 1 + (idx - HIST_LINEAR) / HIST_SUB;
    const uint64_t *k = h->chunk[c];
    return k ? k[idx - chunk_base(c)] : 0;
}

void hist_merge(hist *dst, const hist *src)
{
    for (unsigned c = 0; c < HIST_CHUNKS; c++) {
        const uint64_t *s = src->chunk[c];
        if (!s)
            continue;
        uint64_t *d = dst->chunk[c] ? dst->chunk[c] : hist_chunk_alloc(dst, c);
        for (unsigned i = 0; i < chunk_size(c); i++)
            d[i] += s[i];
    }
    dst->count += src->count;
}

void hist_copy(hist *dst, const hist *src)
{
    for (unsigned c = 0; c < HIST_CHUNKS; c++) {
        size_t bytes = chunk_size(c) * sizeof(uint64_t);
        if (src->chunk[c]) {
            if (!dst->chunk[c])
                dst->chunk[c] = xmalloc(bytes);
            memcpy(dst->chunk[c], src->chunk[c], bytes);
        } else if (dst->chunk[c]) {
            memset(dst->chunk[c], 0, bytes);
        }
    }
    dst->count = src->count;
}

/* Sum of a chunk's counts: four independent sums, several times faster than the
 * bucket-by-bucket walk with its compare, so a percentile walk can step over
 * whole chunks that end below the rank it looks for (a dashboard computes thousands of
 * percentiles per poll). */
static uint64_t chunk_sum(const uint64_t *k, unsigned n)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (unsigned i = 0; i < n; i += 4) { /* chunks hold 64 or 128 counts */
        s0 += k[i];
        s1 += k[i + 1];
        s2 += k[i + 2];
        s3 += k[i + 3];
    }
    return s0 + s1 + s2 + s3;
}

/* Value of the sample of the given 0-based rank in (now - base); base may be NULL. */
static uint64_t value_at_rank(const hist *now, const hist *base, uint64_t rank)
{
    uint64_t seen = 0;
    for (unsigned c = 0; c < HIST_CHUNKS; c++) {
        const uint64_t *k = now->chunk[c];
        if (!k)
            continue;
        const uint64_t *b = base ? base->chunk[c] : NULL;
        if (!base) {
            uint64_t sum = chunk_sum(k, chunk_size(c));
            if (seen + sum <= rank) {
                seen += sum;
                continue;
            }
        }
        for (unsigned i = 0; i < chunk_size(c); i++) {
            uint64_t n = k[i];
            if (b)
                n = n > b[i] ? n - b[i] : 0;
            seen += n;
            if (seen > rank)
                return hist_bucket_value(chunk_base(c) + i);
        }
    }
    return 0;
}

/* Samples in now - base, counting only positive differences. */
static uint64_t count_since(const hist *now, const hist *base)
{
    uint64_t total = 0;
    for (unsigned c = 0; c < HIST_CHUNKS; c++) {
        const uint64_t *k = now->chunk[c];
        const uint64_t *b = base->chunk[c];
        if (!k)
            continue;
        for (unsigned i = 0; i < chunk_size(c); i++)
            total += b ? (k[i] > b[i] ? k[i] - b[i] : 0) : k[i];
    }
    return total;
}

static uint64_t rank_of(uint64_t n, double p)
{
    /* Same double arithmetic as Locust's int(num_requests * percent). */
    uint64_t rank = (uint64_t)((double)n * p);
    return rank >= n ? n - 1 : rank;
}

uint64_t hist_percentile(const hist *h, double p)
{
    if (h->count == 0)
        return 0;
    return value_at_rank(h, NULL, rank_of(h->count, p));
}

uint64_t hist_median(const hist *h)
{
    if (h->count == 0)
        return 0;
    return value_at_rank(h, NULL, (h->count - 1) / 2);
}

void hist_percentiles(const hist *h, const double *ps, int n, uint64_t *out)
{
    if (h->count == 0) {
        for (int i = 0; i < n; i++)
            out[i] = 0;
        return;
    }
    int next = 0;
    uint64_t seen = 0, rank = rank_of(h->count, ps[0]);
    for (unsigned c = 0; c < HIST_CHUNKS && next < n; c++) {
        const uint64_t *k = h->chunk[c];
        if (!k)
            continue;
        uint64_t sum = chunk_sum(k, chunk_size(c));
        if (seen + sum <= rank) {
            seen += sum;
            continue;
        }
        for (unsigned i = 0; i < chunk_size(c) && next < n; i++) {
            seen += k[i];
            while (next < n && seen > rank) {
                out[next++] = hist_bucket_value(chunk_base(c) + i);
                if (next < n)
                    rank = rank_of(h->count, ps[next]);
            }
        }
    }
}

uint64_t hist_percentile_since(const hist *now, const hist *base, double p)
{
    uint64_t n = count_since(now, base);
    if (n == 0)
        return 0;
    return value_at_rank(now, base, rank_of(n, p));
}

void hist_foreach(const hist *h, void (*fn)(void *data, unsigned idx, uint64_t count),
                  void *data)
{
    for (unsigned c = 0; c < HIST_CHUNKS; c++) {
        const uint64_t *k = h->chunk[c];
        if (!k)
            continue;
        for (unsigned i = 0; i < chunk_size(c); i++)
            if (k[i])
                fn(data, chunk_base(c) + i, k[i]);
    }
}

size_t hist_memory(const hist *h)
{
    size_t bytes = sizeof *h;
    for (unsigned c = 0; c < HIST_CHUNKS; c++)
        if (h->chunk[c])
            bytes += chunk_size(c) * sizeof(uint64_t);
    return bytes;
}
