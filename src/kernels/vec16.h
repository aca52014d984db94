/* 16-float vectors (GCC/clang vector extensions) and helpers for hand-written kernels. Kernels written with them are
 * compiled once per ISA by including their body in functions with different target attributes (see attention.c):
 * the same source becomes AVX-512, AVX2 (two halves) or SSE code. Every helper is always_inline so that it takes the
 * ISA of the function it lands in. Internal to kernels/. */
#ifndef RETOOL_KERNELS_VEC16_H
#define RETOOL_KERNELS_VEC16_H

#include <stdint.h>

#include "kernels/pool.h"
#include "kernels/simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* the helpers are always inlined: no vector crosses a call */
/* Defines name_avx512, name_avx2 and name_generic, three compilations of the always_inline task body, and
 * name_pick() returning the one for this CPU (following kern_simd_get, so kern_simd_force applies). */
#define KERN_MULTIVERSION(name, body)                                                                               \
    __attribute__((target("avx512f,fma"))) static void name##_avx512(void *c, int64_t b, int64_t e, int tid) {      \
        body(c, b, e, tid);                                                                                         \
    }                                                                                                               \
    __attribute__((target("avx2,fma"))) static void name##_avx2(void *c, int64_t b, int64_t e, int tid) {           \
        body(c, b, e, tid);                                                                                         \
    }                                                                                                               \
    static void name##_generic(void *c, int64_t b, int64_t e, int tid) {                                           \
        body(c, b, e, tid);                                                                                         \
    }                                                                                                               \
    static kern_task_fn name##_pick(void) {                                                                         \
        const char *isa_ = kern_simd_get()->isa;                                                                    \
        return isa_[3] == '5' ? name##_avx512 : isa_[3] == '2' ? name##_avx2 : name##_generic;                     \
    }

#endif

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4))); /* for unaligned loads and stores */

#define V16_INLINE static inline __attribute__((always_inline))

V16_INLINE v16 v16_splat(float x) {
    return (v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}

V16_INLINE v16 v16_load(const float *p) { /* p 64-byte aligned */
    return *(const v16 *)p;
}

V16_INLINE void v16_store(float *p, v16 v) {
    *(v16 *)p = v;
}

/* mask ? a : b per lane (mask lanes are -1 or 0, as comparisons give). */
V16_INLINE v16 v16_select(v16i mask, v16 a, v16 b) {
    v16i ai, bi;
    __builtin_memcpy(&ai, &a, sizeof ai);
    __builtin_memcpy(&bi, &b, sizeof bi);
    ai = (ai & mask) | (bi & ~mask);
    __builtin_memcpy(&a, &ai, sizeof a);
    return a;
}

V16_INLINE v16 v16_loadu(const float *p) {
    return *(const v16u *)p;
}

V16_INLINE void v16_storeu(float *p, v16 v) {
    *(v16u *)p = v;
}

V16_INLINE v16 v16_max(v16 a, v16 b) {
    return v16_select(a > b, a, b);
}

V16_INLINE float v16_hsum(v16 v) {
    float s = 0;
    for (int i = 0; i < 16; i++) s += v[i];
    return s;
}

V16_INLINE float v16_hmax(v16 v) {
    float m = v[0];
    for (int i = 1; i < 16; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* e^x, Cephes-style (range reduction by ln 2, degree-6 polynomial), ~2 ulp; x below -87 gives ~0, not exactly 0. */
V16_INLINE v16 v16_exp(v16 x) {
    const v16 hi = v16_splat(88.3762626647949f), lo = v16_splat(-87.3365447504f);
    x = v16_select(x > hi, hi, x); /* NaN compares false: it stays NaN */
    x = v16_select(x < lo, lo, x);
    v16 fx = x * v16_splat(1.44269504088896341f) + v16_splat(0.5f);
    v16i ni = __builtin_convertvector(fx, v16i);
    v16 nf = __builtin_convertvector(ni, v16);
    v16i gt = nf > fx; /* -1 where truncation rounded up (negative fx): floor */
    nf = nf + __builtin_convertvector(gt, v16);
    ni = ni + gt;
    x = x - nf * v16_splat(0.693359375f) + nf * v16_splat(2.12194440e-4f);
    v16 y = v16_splat(1.9875691500E-4f);
    y = y * x + v16_splat(1.3981999507E-3f);
    y = y * x + v16_splat(8.3334519073E-3f);
    y = y * x + v16_splat(4.1665795894E-2f);
    y = y * x + v16_splat(1.6666665459E-1f);
    y = y * x + v16_splat(5.0000001201E-1f);
    y = y * x * x + x + v16_splat(1.0f);
    v16i e = (ni + 127) << 23;
    v16 scale;
    __builtin_memcpy(&scale, &e, sizeof scale);
    return y * scale;
}

/* Defines name_avx512, name_avx2 and name_generic, three compilations of the always_inline task body, and
 * name_pick() returning the one for this CPU (following kern_simd_get, so kern_simd_force applies). */
#define KERN_MULTIVERSION(name, body)                                                                               \
    __attribute__((target("avx512f,fma"))) static void name##_avx512(void *c, int64_t b, int64_t e, int tid) {      \
        body(c, b, e, tid);                                                                                         \
    }                                                                                                               \
    __attribute__((target("avx2,fma"))) static void name##_avx2(void *c, int64_t b, int64_t e, int tid) {           \
        body(c, b, e, tid);                                                                                         \
    }                                                                                                               \
    static void name##_generic(void *c, int64_t b, int64_t e, int tid) {                                           \
        body(c, b, e, tid);                                                                                         \
    }                                                                                                               \
    static kern_task_fn name##_pick(void) {                                                                         \
        const char *isa_ = kern_simd_get()->isa;                                                                    \
        return isa_[3] == '5' ? name##_avx512 : isa_[3] == '2' ? name##_avx2 : name##_generic;                     \
    }

#endif
