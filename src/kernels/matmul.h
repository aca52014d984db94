/* Matrix products through oneDNN's matmul primitive, f32 or bf16 (bf16 inputs, f32 output and accumulation).
 * Row-major, BLAS-like: C[M,N] = op(A)[M,K] . op(B)[K,N] (+ C when accumulate). The work is split over the pool's
 * threads (each runs oneDNN single-threaded on its slice of C); primitives are created once per slice shape and
 * cached per thread. */
#ifndef RETOOL_KERNELS_MATMUL_H
#define RETOOL_KERNELS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum kern_dtype { KERN_F32 = 0, KERN_BF16 } kern_dtype;

/* One product. A is [M,K] (lda) or, when trans_a, stored [K,M]; B is [K,N] (ldb) or, when trans_b, stored [N,K]
 * (so X.W^T for a [N,K] weight is trans_b = 1). A and B are float* for KERN_F32 and uint16_t* (bf16) for KERN_BF16. */
typedef struct kern_gemm {
    kern_dtype dtype;
    int trans_a, trans_b;
    int64_t M, N, K;
    const void *A;
    int64_t lda;
    const void *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
    int accumulate; /* 1: C += product; 0: C = product */
} kern_gemm;

/* Where oneDNN has no bf16 matmul, bf16 products X.W^T of at most this many rows (decoding, the lm_head of a decoding
 * step) run on kern_mm_bf16_small instead of being widened for oneDNN's f32 matmul. */
#define KERN_SMALL_MAX_M 96

/* 1 when this CPU has AVX2 and FMA, which kern_mm_bf16_small needs. */
int kern_mm_bf16_small_available(void);

/* Floats of workspace kern_mm_bf16_small needs for M rows (about (M + 24) x 1024). */
size_t kern_mm_bf16_small_ws(int64_t M);

/* C[M,N] (+)= A[M,K] . B[N,K]^T on the calling thread, A and B bf16 (row strides lda, ldb; any alignment), f32
 * accumulation; A and B widened to f32 a cache-sized block at a time in registers' reach (ws: kern_mm_bf16_small_ws(M)
 * floats), never B whole. Only where kern_mm_bf16_small_available(). */
void kern_mm_bf16_small(const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb, float *C, int64_t ldc,
                        int64_t M, int64_t N, int64_t K, int accumulate, float *ws);

/* Where bf16 is widened, a product of at most this many rows widens its B operand a cache-sized block at a time
 * (larger ones widen both operands whole). */
#define KERN_WIDE_BLOCK_MAX_M 256

/* Runs the product on the pool's threads. bf16 products run on every CPU: natively where oneDNN has a bf16 matmul
 * for it (AVX-512 and newer), else with both operands widened to f32 (exact) and oneDNN's f32 matmul (the same
 * products, f32 accumulation as natively; kern_gemm_impl_name says which). Fails only when oneDNN cannot create or
 * run the primitive, or memory runs out. */
rt_status kern_gemm_run(const kern_gemm *g, rt_error *err);

/* out[M,N] (+)= x[M,K] . w[N,K]^T: a linear layer's forward (and the weight gradient's transposes below). */
rt_status kern_mm_xwt(kern_dtype dt, float *out, const void *x, const void *w, int64_t M, int64_t N, int64_t K,
                      int accumulate, rt_error *err);

/* dx[M,K] (+)= dy[M,N] . w[N,K]: a linear layer's input gradient. */
rt_status kern_mm_dx(kern_dtype dt, float *dx, const void *dy, const void *w, int64_t M, int64_t N, int64_t K,
                     int accumulate, rt_error *err);

/* dw[N,K] (+)= dy[M,N]^T . x[M,K]: a linear layer's weight gradient. */
rt_status kern_mm_dw(kern_dtype dt, float *dw, const void *dy, const void *x, int64_t M, int64_t N, int64_t K,
                     int accumulate, rt_error *err);

/* 1 when this CPU, as oneDNN sees it, has a native bf16 matmul (AVX-512 or better): a CPU capability, never a trial
 * run. Where it is 1, a bf16 product that fails is an error; where it is 0, bf16 products are widened to f32. */
int kern_bf16_native(void);

/* The oneDNN implementation chosen for the last primitive created with this dtype (e.g. "brg:avx512_core_bf16"). */
const char *kern_gemm_impl_name(kern_dtype dt);

/* Frees the calling thread's cached primitives and every other thread's (call only while no product is running). */
void kern_gemm_cache_clear(void);

#endif
