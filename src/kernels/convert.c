/* f32 <-> bf16 conversion, AVX-512 where present. */
#include <immintrin.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/pool.h"

static inline uint16_t bf16_round(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

__attribute__((target("avx512f"))) static void to_bf16_avx512(uint16_t *dst, const float *src, int64_t n) {
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(src + i);
        __m512i x = _mm512_castps_si512(v);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, bias), _mm512_and_si512(_mm512_srli_epi32(x, 16), one)), 16);
        __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(r));
    }
    for (; i < n; i++) dst[i] = bf16_round(src[i]);
}

static void to_bf16_generic(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_round(src[i]);
}

typedef struct conv_ctx {
    uint16_t *b;
    float *f;
    const float *cf;
    const uint16_t *cb;
} conv_ctx;

static int g_avx512 = -1;

static void to_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    conv_ctx *c = vc;
    if (g_avx512) to_bf16_avx512(c->b + b, c->cf + b, e - b);
    else to_bf16_generic(c->b + b, c->cf + b, e - b);
}

void kern_to_bf16(uint16_t *dst, const float *src, int64_t n) {
    if (g_avx512 < 0) {
        __builtin_cpu_init();
        g_avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    conv_ctx c = {.b = dst, .cf = src};
    kern_parallel_for(n, 1 << 16, to_task, &c);
}

static void from_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    conv_ctx *c = vc;
    for (int64_t i = b; i < e; i++) {
        uint32_t x = (uint32_t)c->cb[i] << 16;
        memcpy(&c->f[i], &x, 4);
    }
}

void kern_from_bf16(float *dst, const uint16_t *src, int64_t n) {
    conv_ctx c = {.f = dst, .cb = src};
    kern_parallel_for(n, 1 << 16, from_task, &c);
}
