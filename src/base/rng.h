/* A seedable, splittable random number generator (xoshiro256** seeded through SplitMix64). The streams depend only on
 * the seed and the split path, so they are identical on every machine and every thread count. */
#ifndef RETOOL_BASE_RNG_H
#define RETOOL_BASE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_rng {
    uint64_t s[4];
} rt_rng;

/* Initialises rng from a 64-bit seed. */
void rt_rng_seed(rt_rng *rng, uint64_t seed);

/* Derives an independent child stream identified by key (e.g. a sequence index) without advancing parent. */
rt_rng rt_rng_split(const rt_rng *parent, uint64_t key);

/* The next 64 random bits. */
uint64_t rt_rng_u64(rt_rng *rng);

/* A uniform integer in [0, n) without modulo bias; n must be > 0. */
uint64_t rt_rng_below(rt_rng *rng, uint64_t n);

/* A uniform integer in [lo, hi] (inclusive); requires lo <= hi. */
int64_t rt_rng_range(rt_rng *rng, int64_t lo, int64_t hi);

/* A uniform double in [0, 1) with 53 random bits. */
double rt_rng_uniform(rt_rng *rng);

/* A uniform float in [0, 1) with 24 random bits. */
float rt_rng_uniform_f32(rt_rng *rng);

/* Fills out[0, n) with a uniform random permutation of 0 .. n-1 (Fisher-Yates, drawing from the top down). */
void rt_rng_permutation(rt_rng *rng, int64_t *out, size_t n);

/* A standard normal sample (Box-Muller; uses two uniforms per call, no cached state). */
double rt_rng_normal(rt_rng *rng);

#endif
