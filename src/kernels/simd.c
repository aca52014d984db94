/* The vector primitives: each written once per ISA with intrinsics, selected with __builtin_cpu_supports. */
#include "kernels/simd.h"

#include <immintrin.h>
#include <pthread.h>
#include <string.h>

/* ---- generic ---- */
static float dot_generic(const float *a, const float *b, int64_t n) {
    float s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) s[j] += a[i + j] * b[i + j];
    for (; i < n; i++) s[0] += a[i] * b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}
static void axpy_generic(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}
static float sumsq_generic(const float *x, int64_t n) {
    return dot_generic(x, x, n);
}
static void scale_mul_generic(float *y, const float *x, float s, const float *w, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * s * w[i];
}

/* ---- AVX2 + FMA ---- */
#define T_AVX2 __attribute__((target("avx2,fma")))
T_AVX2 static float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}
T_AVX2 static float dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
T_AVX2 static void axpy_avx2(float *y, float a, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}
T_AVX2 static float sumsq_avx2(const float *x, int64_t n) {
    return dot_avx2(x, x, n);
}
T_AVX2 static void scale_mul_avx2(float *y, const float *x, float s, const float *w, int64_t n) {
    __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
    for (; i < n; i++) y[i] = x[i] * s * w[i];
}

/* ---- AVX-512 ---- */
#define T_AVX512 __attribute__((target("avx512f")))
T_AVX512 static float dot_avx512(const float *a, const float *b, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
T_AVX512 static void axpy_avx512(float *y, float a, const float *x, int64_t n) {
    __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}
T_AVX512 static float sumsq_avx512(const float *x, int64_t n) {
    return dot_avx512(x, x, n);
}
T_AVX512 static void scale_mul_avx512(float *y, const float *x, float s, const float *w, int64_t n) {
    __m512 vs = _mm512_set1_ps(s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs), _mm512_loadu_ps(w + i)));
    for (; i < n; i++) y[i] = x[i] * s * w[i];
}

static const kern_simd k_generic = {"generic", dot_generic, axpy_generic, sumsq_generic, scale_mul_generic};
static const kern_simd k_avx2 = {"avx2", dot_avx2, axpy_avx2, sumsq_avx2, scale_mul_avx2};
static const kern_simd k_avx512 = {"avx512", dot_avx512, axpy_avx512, sumsq_avx512, scale_mul_avx512};
static const kern_simd *g_simd;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void simd_select(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) g_simd = &k_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) g_simd = &k_avx2;
    else g_simd = &k_generic;
}

const kern_simd *kern_simd_get(void) {
    pthread_once(&g_once, simd_select);
    return g_simd;
}

int kern_simd_force(const char *isa) {
    pthread_once(&g_once, simd_select);
    __builtin_cpu_init();
    if (!strcmp(isa, "generic")) g_simd = &k_generic;
    else if (!strcmp(isa, "avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) g_simd = &k_avx2;
    else if (!strcmp(isa, "avx512") && __builtin_cpu_supports("avx512f")) g_simd = &k_avx512;
    else return 0;
    return 1;
}
