#include "base/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rt_rng_seed(rt_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

rt_rng rt_rng_split(const rt_rng *parent, uint64_t key) {
    /* Hash the parent state and the key into a fresh seed: children with different keys are independent streams. */
    uint64_t x = parent->s[0] ^ rotl(parent->s[1], 17) ^ rotl(parent->s[2], 31) ^ rotl(parent->s[3], 47);
    uint64_t k = key;
    uint64_t mixed = splitmix64(&x) ^ splitmix64(&k);
    rt_rng child;
    rt_rng_seed(&child, mixed);
    return child;
}

uint64_t rt_rng_u64(rt_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rt_rng_below(rt_rng *rng, uint64_t n) {
    /* Lemire's method with rejection: unbiased. */
    uint64_t x = rt_rng_u64(rng);
    unsigned __int128 m = (unsigned __int128)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = (0 - n) % n;
        while (l < t) {
            x = rt_rng_u64(rng);
            m = (unsigned __int128)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int64_t rt_rng_range(rt_rng *rng, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX) return (int64_t)rt_rng_u64(rng);
    return (int64_t)((uint64_t)lo + rt_rng_below(rng, span + 1));
}

double rt_rng_uniform(rt_rng *rng) { return (double)(rt_rng_u64(rng) >> 11) * 0x1.0p-53; }

float rt_rng_uniform_f32(rt_rng *rng) { return (float)(rt_rng_u64(rng) >> 40) * 0x1.0p-24f; }

double rt_rng_normal(rt_rng *rng) {
    double u1 = 1.0 - rt_rng_uniform(rng); /* (0, 1]: log is finite */
    double u2 = rt_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void rt_rng_permutation(rt_rng *rng, int64_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (int64_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rt_rng_below(rng, i);
        int64_t t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}
