/* Fast pseudo-random numbers for wait times, task choice and test data (xoshiro256**).
 * Not for anything secret. One generator per process, seeded from the kernel. */
#ifndef CICADA_RNG_H
#define CICADA_RNG_H

#include <stdint.h>

/* Seeds the process generator: from getrandom() when seed is 0, else deterministically. */
void rng_seed(uint64_t seed);

/* Next 64 random bits. */
uint64_t rng_next(void);

/* Uniform double in [0, 1). */
static inline double rng_double(void)
{
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0, without modulo bias worth mentioning (n << 2^64). */
static inline uint64_t rng_below(uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next() * n) >> 64);
}

#endif
