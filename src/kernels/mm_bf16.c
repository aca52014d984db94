/* bf16 products of few rows on AVX2 + FMA (CPUs where oneDNN has no bf16 matmul): C[M,N] (+)= A[M,K] . B[N,K]^T.
 * K is taken in chunks of KC; in each chunk A's rows are widened to f32 once (the caller's workspace: M x KC floats,
 * in L2) and B's rows a block of NB at a time (NB x KC floats), zero-padded to whole tiles and a multiple of 8
 * along K. A tile of 4 rows of A by 3 rows of B keeps 12 dot-product accumulators in registers; their horizontal sums
 * go into C once per chunk. No widened copy of B outlives its block: the weights stay bf16. */
#include <immintrin.h>
#include <string.h>

#include "kernels/matmul.h"

#define KC 1024 /* K per chunk (floats), a multiple of 8: fewer horizontal sums per output */
#define MR 4    /* rows of A per tile */
#define NR 3    /* rows of B per tile */
#define NB 24   /* rows of B widened at a time: NB x KC floats = 96 KiB, in L2 beside A's chunk */

int kern_mm_bf16_small_available(void) {
    static int avail = -1;
    if (avail < 0) {
        __builtin_cpu_init();
        avail = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return avail;
}

size_t kern_mm_bf16_small_ws(int64_t M) {
    return (size_t)((M + MR - 1) / MR * MR) * KC + (size_t)NB * KC;
}

#define T_AVX2 __attribute__((target("avx2,fma")))

/* dst[r][0..kp) = src[r][k0 .. k0+kc) widened, zero beyond kc (up to kp, a multiple of 8), for r < rows; zero rows
 * from rows to rows_pad. */
T_AVX2 static void widen_rows(float *dst, int64_t kp, const uint16_t *src, int64_t ld, int64_t rows, int64_t rows_pad,
                              int64_t kc) {
    for (int64_t r = 0; r < rows; r++) {
        const uint16_t *s = src + r * ld;
        float *d = dst + r * kp;
        int64_t j = 0;
        for (; j + 8 <= kc; j += 8) {
            __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + j)));
            _mm256_storeu_ps(d + j, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
        }
        for (; j < kc; j++) {
            uint32_t bits = (uint32_t)s[j] << 16;
            memcpy(&d[j], &bits, sizeof bits);
        }
        for (; j < kp; j++)
            d[j] = 0.0f;
    }
    if (rows_pad > rows) memset(dst + rows * kp, 0, (size_t)((rows_pad - rows) * kp) * sizeof(float));
}

/* The 4 sums of a[0..3] as one vector: lane i = sum of a[i]'s 8 lanes. */
T_AVX2 static inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* out[j][i] = sum_k a[i][k] * b[j][k] for the tile's 4 rows i of a and 3 rows j of b (kp floats each, kp % 8 == 0). */
T_AVX2 static void tile_4x3(const float *a, const float *b, int64_t kp, __m128 out[NR]) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    const float *a0 = a, *a1 = a + kp, *a2 = a + 2 * kp, *a3 = a + 3 * kp;
    const float *b0 = b, *b1 = b + kp, *b2 = b + 2 * kp;
    for (int64_t k = 0; k < kp; k += 8) {
        __m256 w0 = _mm256_loadu_ps(b0 + k), w1 = _mm256_loadu_ps(b1 + k), w2 = _mm256_loadu_ps(b2 + k);
        __m256 x = _mm256_loadu_ps(a0 + k);
        c00 = _mm256_fmadd_ps(x, w0, c00);
        c01 = _mm256_fmadd_ps(x, w1, c01);
        c02 = _mm256_fmadd_ps(x, w2, c02);
        x = _mm256_loadu_ps(a1 + k);
        c10 = _mm256_fmadd_ps(x, w0, c10);
        c11 = _mm256_fmadd_ps(x, w1, c11);
        c12 = _mm256_fmadd_ps(x, w2, c12);
        x = _mm256_loadu_ps(a2 + k);
        c20 = _mm256_fmadd_ps(x, w0, c20);
        c21 = _mm256_fmadd_ps(x, w1, c21);
        c22 = _mm256_fmadd_ps(x, w2, c22);
        x = _mm256_loadu_ps(a3 + k);
        c30 = _mm256_fmadd_ps(x, w0, c30);
        c31 = _mm256_fmadd_ps(x, w1, c31);
        c32 = _mm256_fmadd_ps(x, w2, c32);
    }
    out[0] = hsum4(c00, c10, c20, c30);
    out[1] = hsum4(c01, c11, c21, c31);
    out[2] = hsum4(c02, c12, c22, c32);
}

T_AVX2 static void run_avx2(float *ws, const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb, float *C,
                            int64_t ldc, int64_t M, int64_t N, int64_t K, int accumulate) {
    int64_t mp = (M + MR - 1) / MR * MR;
    float *wa = ws, *wb = ws + mp * KC;
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t kc = K - k0 < KC ? K - k0 : KC, kp = (kc + 7) / 8 * 8;
        int add = accumulate || k0 > 0;
        widen_rows(wa, kp, A + k0, lda, M, mp, kc);
        for (int64_t n0 = 0; n0 < N; n0 += NB) {
            int64_t nb = N - n0 < NB ? N - n0 : NB, np = (nb + NR - 1) / NR * NR;
            widen_rows(wb, kp, B + n0 * ldb + k0, ldb, nb, np, kc);
            for (int64_t m = 0; m < mp; m += MR) {
                int64_t mr = M - m < MR ? M - m : MR;
                for (int64_t j = 0; j < np; j += NR) {
                    __m128 out[NR];
                    tile_4x3(wa + m * kp, wb + j * kp, kp, out);
                    for (int64_t jj = 0; jj < NR && j + jj < nb; jj++) {
                        float s[4];
                        _mm_storeu_ps(s, out[jj]);
                        float *c = C + m * ldc + n0 + j + jj;
                        for (int64_t i = 0; i < mr; i++)
                            c[i * ldc] = add ? c[i * ldc] + s[i] : s[i];
                    }
                }
            }
        }
    }
}

void kern_mm_bf16_small(const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb, float *C, int64_t ldc,
                        int64_t M, int64_t N, int64_t K, int accumulate, float *ws) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int64_t m = 0; m < M; m++)
                memset(C + m * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    run_avx2(ws, A, lda, B, ldb, C, ldc, M, N, K, accumulate);
}
