/* 16-float vectors (GCC/clang vector extensions) and helpers for hand-written kernels. Kernels written with them are
 * compiled once per ISA by including their body in functions with different target attributes (see attention.c):
 * the same source becomes AVX-512, AVX2 (two halves) or SSE code. Helpers are macros or always_inline functions
 * without vector arguments, so that they take the ISA of the function they land in. Internal to kernels/. */
#ifndef RETOOL_KERNELS_VEC16_H
#define RETOOL_KERNELS_VEC16_H

#include <stdint.h>

#include "kernels/pool.h"
#include "kernels/simd.h"

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4))); /* for unaligned loads and stores */

#define V16_INLINE static inline __attribute__((always_inline))

/* The helpers are macros (statement expressions where they need locals), not functions: a v16 passed to or returned
 * from a function compiled without AVX-512 is an ABI question compilers warn about even when the call is inlined. */
#define v16_splat(x) ((v16){0} + (float)(x))
#define v16_load(p) (*(const v16 *)(p))    /* p 64-byte aligned */
#define v16_loadu(p) (*(const v16u *)(p))  /* any alignment */
#define v16_store(p, v) (*(v16 *)(p) = (v))
#define v16_storeu(p, v) (*(v16u *)(p) = (v))

/* mask ? a : b per lane (mask lanes are -1 or 0, as comparisons give). */
#define v16_select(mask, a, b)                                                                                     \
    ({                                                                                                             \
        v16 a_ = (a), b_ = (b);                                                                                    \
        v16i m_ = (mask), ai_, bi_;                                                                                \
        __builtin_memcpy(&ai_, &a_, sizeof ai_);                                                                   \
        __builtin_memcpy(&bi_, &b_, sizeof bi_);                                                                   \
        ai_ = (ai_ & m_) | (bi_ & ~m_);                                                                            \
        __builtin_memcpy(&a_, &ai_, sizeof a_);                                                                    \
        a_;                                                                                                        \
    })

#define v16_hsum(v)                                                                                                \
    ({                                                                                                             \
        v16 v_ = (v);                                                                                              \
        float s_ = 0;                                                                                              \
        for (int i_ = 0; i_ < 16; i_++) s_ += v_[i_];                                                              \
        s_;                                                                                                        \
    })

/* e^x, Cephes-style (range reduction by ln 2, degree-6 polynomial), ~2 ulp; x below -87 gives ~0, not exactly 0;
 * NaN stays NaN. */
#define v16_exp(xin)                                                                                               \
    ({                                                                                                             \
        v16 x_ = (xin);                                                                                            \
        const v16 hi_ = v16_splat(88.3762626647949f), lo_ = v16_splat(-87.3365447504f);                            \
        x_ = v16_select(x_ > hi_, hi_, x_);                                                                        \
        x_ = v16_select(x_ < lo_, lo_, x_);                                                                        \
        v16 fx_ = x_ * 1.44269504088896341f + 0.5f;                                                                \
        v16i ni_ = __builtin_convertvector(fx_, v16i);                                                             \
        v16 nf_ = __builtin_convertvector(ni_, v16);                                                               \
        v16i gt_ = nf_ > fx_; /* -1 where truncation rounded up (negative fx): floor */                            \
        nf_ = nf_ + __builtin_convertvector(gt_, v16);                                                             \
        ni_ = ni_ + gt_;                                                                                           \
        x_ = x_ - nf_ * 0.693359375f + nf_ * 2.12194440e-4f;                                                       \
        v16 y_ = x_ * 1.9875691500E-4f + 1.3981999507E-3f;                                                         \
        y_ = y_ * x_ + 8.3334519073E-3f;                                                                           \
        y_ = y_ * x_ + 4.1665795894E-2f;                                                                           \
        y_ = y_ * x_ + 1.6666665459E-1f;                                                                           \
        y_ = y_ * x_ + 5.0000001201E-1f;                                                                           \
        y_ = y_ * x_ * x_ + x_ + 1.0f;                                                                             \
        v16i e_ = (ni_ + 127) << 23;                                                                               \
        v16 scale_;                                                                                                \
        __builtin_memcpy(&scale_, &e_, sizeof scale_);                                                             \
        y_ * scale_;                                                                                               \
    })

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
