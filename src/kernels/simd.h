/* Vector primitives under every hand-written kernel, in AVX-512, AVX2+FMA and portable versions; the version is
 * chosen once at run time from cpuid (no -march in the build). */
#ifndef RETOOL_KERNELS_SIMD_H
#define RETOOL_KERNELS_SIMD_H

#include <stdint.h>

typedef struct kern_simd {
    const char *isa;                                                   /* "avx512", "avx2" or "generic" */
    float (*dot)(const float *a, const float *b, int64_t n);           /* sum a[i]*b[i] */
    void (*axpy)(float *y, float a, const float *x, int64_t n);        /* y += a*x */
    float (*sumsq)(const float *x, int64_t n);                         /* sum x[i]^2 */
    void (*scale_mul)(float *y, const float *x, float s, const float *w, int64_t n); /* y = x*s*w */
} kern_simd;

/* The primitives for this CPU (selected on first use). */
const kern_simd *kern_simd_get(void);

/* Forces a version ("avx512", "avx2", "generic") for tests; returns 0 when this CPU lacks it. */
int kern_simd_force(const char *isa);

#endif
