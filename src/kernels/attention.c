/* Causal grouped-query attention over packed sequences. Forward: one query row at a time (scores of one row in a
 * scratch vector, never the T x T matrix), log-sum-exp saved. Backward: per (sequence, kv head) task, probabilities
 * recomputed row by row from the saved log-sum-exp, so each task owns its k and v gradients. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/simd.h"
#include "kernels/vec16.h"

#if defined(__GNUC__) && !defined(__clang__)
/* ISO C mode turns off multiply-add contraction in GCC; these kernels want fused multiply-adds (clang fuses within
 * an expression by default). */
#pragma GCC optimize("fp-contract=fast")
#endif

float kern_attn_row(float *out, const float *q, const float *K, const float *V, int64_t stride, int64_t nk,
                    int64_t HS, float scale, float *scratch) {
    const kern_simd *s = kern_simd_get();
    float mx = -INFINITY;
    for (int64_t j = 0; j < nk; j++) {
        float v = s->dot(q, K + j * stride, HS) * scale;
        scratch[j] = v;
        mx = v > mx ? v : mx;
    }
    float sum = 0;
    for (int64_t j = 0; j < nk; j++) {
        scratch[j] = expf(scratch[j] - mx);
        sum += scratch[j];
    }
    float inv = 1.0f / sum;
    memset(out, 0, (size_t)HS * sizeof(float));
    for (int64_t j = 0; j < nk; j++) s->axpy(out, scratch[j] * inv, V + j * stride, HS);
    return mx + logf(sum);
}

/* ---- blocked kernels for training: per (sequence, kv head) task, K and V copied into padded compact buffers (K also
 * transposed), query rows taken four at a time; scores of four rows against all keys are one register-blocked pass. */

#define ROWS 4

static int64_t r16(int64_t x) {
    return (x + 15) & ~(int64_t)15;
}

typedef uint16_t v16h __attribute__((vector_size(32), aligned(2))); /* 16 bf16 values */

/* 16 floats at element i of B: f32 values (aligned, or any alignment for loadu_kv), or bf16 values widened (a bf16 is
 * the top half of a float). The decoding kernels take bf as a constant, so each caller compiles to one kind of load. */
#define load_bf16(B, i) ((v16)(__builtin_convertvector(*(const v16h *)((const uint16_t *)(B) + (i)), v16i) << 16))
#define load_kv(B, i, bf) ((bf) ? load_bf16(B, i) : v16_load((const float *)(B) + (i)))
#define loadu_kv(B, i, bf) ((bf) ? load_bf16(B, i) : v16_loadu((const float *)(B) + (i)))
V16_INLINE float elem_kv(const void *B, int64_t i, int bf) {
    if (!bf) return ((const float *)B)[i];
    uint32_t u = (uint32_t)((const uint16_t *)B)[i] << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* S[4][lds] (first nk columns) = A[4 rows, stride lda] . Bt[HSp][ldb] (columns [0, nk)); nk, HSp multiples of 16;
 * Bt f32 or (bf) bf16. wide: 32 columns at a time (8 accumulators: AVX-512's 32 registers hold them; with AVX2's 16
 * they spill, so the AVX2 and generic versions take 16 columns at a time). */
V16_INLINE void scores4_x(float *S, int64_t lds, const float *A, int64_t lda, const void *Bt, int64_t ldb, int64_t HSp,
                          int64_t nk, int bf, int wide) {
    int64_t j = 0;
    for (; wide && j + 32 <= nk; j += 32) {
        v16 z = v16_splat(0), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        for (int64_t d = 0; d < HSp; d++) {
            v16 b0 = load_kv(Bt, d * ldb + j, bf), b1 = load_kv(Bt, d * ldb + j + 16, bf);
            float a0 = A[d], a1 = A[lda + d], a2 = A[2 * lda + d], a3 = A[3 * lda + d];
            c00 += b0 * a0, c01 += b1 * a0, c10 += b0 * a1, c11 += b1 * a1;
            c20 += b0 * a2, c21 += b1 * a2, c30 += b0 * a3, c31 += b1 * a3;
        }
        v16_store(S + j, c00), v16_store(S + j + 16, c01), v16_store(S + lds + j, c10);
        v16_store(S + lds + j + 16, c11), v16_store(S + 2 * lds + j, c20), v16_store(S + 2 * lds + j + 16, c21);
        v16_store(S + 3 * lds + j, c30), v16_store(S + 3 * lds + j + 16, c31);
    }
    for (; j < nk; j += 16) {
        v16 z = v16_splat(0), c0 = z, c1 = z, c2 = z, c3 = z;
        for (int64_t d = 0; d < HSp; d++) {
            v16 b = load_kv(Bt, d * ldb + j, bf);
            c0 += b * A[d], c1 += b * A[lda + d];
            c2 += b * A[2 * lda + d], c3 += b * A[3 * lda + d];
        }
        v16_store(S + j, c0), v16_store(S + lds + j, c1), v16_store(S + 2 * lds + j, c2), v16_store(S + 3 * lds + j, c3);
    }
}
V16_INLINE void scores4(float *S, int64_t lds, const float *A, int64_t lda, const float *Bt, int64_t ldb, int64_t HSp,
                        int64_t nk, int wide) {
    scores4_x(S, lds, A, lda, Bt, ldb, HSp, nk, 0, wide);
}

/* S[0..nk) = A[0..HSp) . Bt[d][j] for one query row (decoding a KV group that holds a single head); Bt f32 or (bf)
 * bf16. */
V16_INLINE void scores1(float *S, const float *A, const void *Bt, int64_t ldb, int64_t HSp, int64_t nk, int bf) {
    int64_t j = 0;
    for (; j + 32 <= nk; j += 32) {
        v16 z = v16_splat(0), c0 = z, c1 = z;
        for (int64_t d = 0; d < HSp; d++) {
            c0 += load_kv(Bt, d * ldb + j, bf) * A[d];
            c1 += load_kv(Bt, d * ldb + j + 16, bf) * A[d];
        }
        v16_store(S + j, c0), v16_store(S + j + 16, c1);
    }
    for (; j < nk; j += 16) {
        v16 c0 = v16_splat(0);
        for (int64_t d = 0; d < HSp; d++) c0 += load_kv(Bt, d * ldb + j, bf) * A[d];
        v16_store(S + j, c0);
    }
}

/* o[HSp] = sum over j < nk of p[j] * X[j][HSp] (rows of X at stride HSp). */
V16_INLINE void pv(float *o, const float *p, int64_t nk, const float *X, int64_t HSp) {
    for (int64_t c = 0; c < HSp; c += 16) {
        v16 z = v16_splat(0), a0 = z, a1 = z, a2 = z, a3 = z;
        int64_t j = 0;
        for (; j + 4 <= nk; j += 4) {
            a0 += v16_load(X + j * HSp + c) * p[j];
            a1 += v16_load(X + (j + 1) * HSp + c) * p[j + 1];
            a2 += v16_load(X + (j + 2) * HSp + c) * p[j + 2];
            a3 += v16_load(X + (j + 3) * HSp + c) * p[j + 3];
        }
        for (; j < nk; j++) a0 += v16_load(X + j * HSp + c) * p[j];
        v16_store(o + c, (a0 + a1) + (a2 + a3));
    }
}

/* Bt[HSp][ldb] (columns [0, nk)) += sum over 4 rows r of A[r][d] * X[r][j]. */
V16_INLINE void rank4(float *Bt, int64_t ldb, const float *A, int64_t lda, const float *X, int64_t ldx, int64_t HSp,
                      int64_t nk) {
    for (int64_t d = 0; d < HSp; d++) {
        float a0 = A[d], a1 = A[lda + d], a2 = A[2 * lda + d], a3 = A[3 * lda + d];
        float *b = Bt + d * ldb;
        for (int64_t j = 0; j < nk; j += 16)
            v16_store(b + j, v16_load(b + j) + v16_load(X + j) * a0 + v16_load(X + ldx + j) * a1 +
                                 v16_load(X + 2 * ldx + j) * a2 + v16_load(X + 3 * ldx + j) * a3);
    }
}

typedef struct attn_ctx {
    const kern_attn_seq *seqs; /* forward */
    const kern_attn_dec *dec;  /* decoding */
    float *out, *lse, *dqkv;
    const float *qkv, *dout, *cout, *clse;
    const kern_packing *pk;
    int64_t NH, KVH, HS, HSp, Tp;
    float *ws;       /* per thread: ws_floats each */
    size_t ws_floats;
} attn_ctx;

/* The per-thread workspace, carved. */
typedef struct attn_ws {
    float *Kt, *Vt, *dKt, *dVt; /* [HSp][Tp] */
    float *Kc, *Vc, *Qc, *dOc;  /* [Tp][HSp] */
    float *S, *P;               /* [ROWS][Tp] */
    float *D;                   /* [Tp] */
    float *o;                   /* [HSp] */
} attn_ws;

static size_t ws_size(int64_t Tp, int64_t HSp) {
    return (size_t)(8 * Tp * HSp + 2 * ROWS * Tp + Tp + HSp);
}

static attn_ws ws_carve(const attn_ctx *c, int tid) {
    float *p = c->ws + (size_t)tid * c->ws_floats;
    size_t m = (size_t)(c->Tp * c->HSp);
    attn_ws w = {p, p + m, p + 2 * m, p + 3 * m, p + 4 * m, p + 5 * m, p + 6 * m, p + 7 * m, NULL, NULL, NULL, NULL};
    w.S = p + 8 * m;
    w.P = w.S + ROWS * c->Tp;
    w.D = w.P + ROWS * c->Tp;
    w.o = w.D + c->Tp;
    return w;
}

/* Copies T rows of HS values (stride ld) into X[Tp][HSp] (zero padded), times s. */
static void copy_rows(float *X, const float *src, int64_t ld, int64_t T, int64_t Tp, int64_t HS, int64_t HSp, float s) {
    memset(X, 0, (size_t)(Tp * HSp) * sizeof(float));
    for (int64_t t = 0; t < T; t++)
        for (int64_t d = 0; d < HS; d++) X[t * HSp + d] = src[t * ld + d] * s;
}

/* Copies T rows of HS values (stride ld) transposed into X[HSp][Tp] (zero padded); in blocks of 16 rows so that both
 * the rows read and the columns written stay in L1. */
static void copy_cols(float *X, const float *src, int64_t ld, int64_t T, int64_t Tp, int64_t HS, int64_t HSp) {
    memset(X, 0, (size_t)(Tp * HSp) * sizeof(float));
    for (int64_t t0 = 0; t0 < T; t0 += 16) {
        int64_t nb = T - t0 < 16 ? T - t0 : 16;
        for (int64_t d = 0; d < HS; d++) {
            float *x = X + d * Tp + t0;
            const float *s = src + t0 * ld + d;
            for (int64_t k = 0; k < nb; k++) x[k] = s[k * ld];
        }
    }
}

/* dst rows (stride ld, HS values) += X[HSp][Tp] transposed, for T rows; blocked like copy_cols. */
static void add_cols_back(float *dst, int64_t ld, const float *X, int64_t T, int64_t Tp, int64_t HS) {
    for (int64_t t0 = 0; t0 < T; t0 += 16) {
        int64_t nb = T - t0 < 16 ? T - t0 : 16;
        for (int64_t d = 0; d < HS; d++) {
            const float *x = X + d * Tp + t0;
            float *o = dst + t0 * ld + d;
            for (int64_t k = 0; k < nb; k++) o[k * ld] += x[k];
        }
    }
}

/* The maximum of row[0, n). */
V16_INLINE float max_row(const float *row, int64_t n) {
    float mx = -INFINITY;
    int64_t j = 0;
    if (n >= 16) {
        v16 m = v16_load(row);
        for (j = 16; j + 16 <= n; j += 16) {
            v16 x = v16_load(row + j);
            m = v16_select(x > m, x, m);
        }
        for (int k = 0; k < 16; k++) mx = m[k] > mx ? m[k] : mx;
    }
    for (; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    return mx;
}

/* Turns row[0, nk) of scores into exp(row - m), zero past n1; returns their sum. */
V16_INLINE float exp_row(float *row, int64_t n1, int64_t nk, float m) {
    v16 vm = v16_splat(m), acc = v16_splat(0);
    for (int64_t j = 0; j < nk; j += 16) {
        v16 e = v16_exp(v16_load(row + j) - vm);
        if (j + 16 > n1)
            for (int k = 0; k < 16; k++)
                if (j + k >= n1) e[k] = 0;
        v16_store(row + j, e);
        acc += e;
    }
    return v16_hsum(acc);
}

V16_INLINE void fwd_body(void *vc, int64_t b, int64_t e, int tid, int wide) {
    attn_ctx *c = vc;
    attn_ws w = ws_carve(c, tid);
    int64_t NH = c->NH, KVH = c->KVH, HS = c->HS, HSp = c->HSp, grp = NH / KVH, Tp = c->Tp;
    float scale = 1.0f / sqrtf((float)HS);
    for (int64_t it = b; it < e; it++) {
        const kern_attn_seq *d = &c->seqs[it / KVH];
        int64_t g = it % KVH, p0 = d->p0, nq = d->nq, Tk = p0 + nq;
        if (d->kt) {
            memset(w.Kt, 0, (size_t)(Tp * HSp) * sizeof(float));
            for (int64_t k = 0; k < HS; k++) memcpy(w.Kt + k * Tp, d->kt + (g * HS + k) * d->kt_ld, (size_t)Tk * 4);
        } else {
            copy_cols(w.Kt, d->k + g * HS, d->kv_ld, Tk, Tp, HS, HSp);
        }
        copy_rows(w.Vc, d->v + g * HS, d->kv_ld, Tk, Tp, HS, HSp, 1.0f);
        for (int64_t h = g * grp; h < (g + 1) * grp; h++) {
            copy_rows(w.Qc, d->q + h * HS, d->q_ld, nq, r16(nq) + ROWS, HS, HSp, scale);
            for (int64_t i0 = 0; i0 < nq; i0 += ROWS) {
                int64_t t0 = p0 + i0, nk = r16(t0 + ROWS < Tk ? t0 + ROWS : Tk);
                scores4(w.S, Tp, w.Qc + i0 * HSp, HSp, w.Kt, Tp, HSp, nk, wide);
                for (int64_t r = 0; r < ROWS && i0 + r < nq; r++) {
                    int64_t i = i0 + r, n1 = p0 + i + 1, nv = r16(n1);
                    float *row = w.S + r * Tp, mx = max_row(row, n1);
                    float sum = exp_row(row, n1, nv, mx);
                    if (d->lse) d->lse[i * NH + h] = mx + logf(sum);
                    pv(w.o, row, nv, w.Vc, HSp);
                    float inv = 1.0f / sum, *o = d->out + i * d->out_ld + h * HS;
                    for (int64_t k = 0; k < HS; k++) o[k] = w.o[k] * inv;
                }
            }
        }
    }
}

V16_INLINE void bwd_body(void *vc, int64_t b, int64_t e, int tid, int wide) {
    attn_ctx *c = vc;
    attn_ws w = ws_carve(c, tid);
    int64_t NH = c->NH, KVH = c->KVH, HS = c->HS, HSp = c->HSp, ld = (NH + 2 * KVH) * HS, grp = NH / KVH;
    float scale = 1.0f / sqrtf((float)HS);
    for (int64_t it = b; it < e; it++) {
        int64_t seq = it / KVH, g = it % KVH, r0 = c->pk->start[seq], T = c->pk->start[seq + 1] - r0, Tp = c->Tp;
        const float *K = c->qkv + r0 * ld + (NH + g) * HS, *V = c->qkv + r0 * ld + (NH + KVH + g) * HS;
        copy_cols(w.Kt, K, ld, T, Tp, HS, HSp);
        copy_cols(w.Vt, V, ld, T, Tp, HS, HSp);
        copy_rows(w.Kc, K, ld, T, Tp, HS, HSp, 1.0f);
        memset(w.dKt, 0, (size_t)(Tp * HSp) * sizeof(float));
        memset(w.dVt, 0, (size_t)(Tp * HSp) * sizeof(float));
        for (int64_t h = g * grp; h < (g + 1) * grp; h++) {
            copy_rows(w.Qc, c->qkv + r0 * ld + h * HS, ld, T, r16(T) + ROWS, HS, HSp, scale);
            copy_rows(w.dOc, c->dout + r0 * NH * HS + h * HS, NH * HS, T, r16(T) + ROWS, HS, HSp, 1.0f);
            for (int64_t t = 0; t < T; t++) {
                const float *o = c->cout + (r0 + t) * NH * HS + h * HS;
                float s = 0;
                for (int64_t d = 0; d < HS; d++) s += o[d] * w.dOc[t * HSp + d];
                w.D[t] = s;
            }
            for (int64_t t0 = 0; t0 < T; t0 += ROWS) {
                int64_t nk = r16(t0 + ROWS < T ? t0 + ROWS : T);
                scores4(w.S, Tp, w.Qc + t0 * HSp, HSp, w.Kt, Tp, HSp, nk, wide);
                scores4(w.P, Tp, w.dOc + t0 * HSp, HSp, w.Vt, Tp, HSp, nk, wide);
                for (int64_t r = 0; r < ROWS; r++) {
                    int64_t t = t0 + r;
                    float *srow = w.S + r * Tp, *prow = w.P + r * Tp;
                    if (t >= T) {
                        memset(srow, 0, (size_t)nk * sizeof(float));
                        memset(prow, 0, (size_t)nk * sizeof(float));
                        continue;
                    }
                    exp_row(srow, t + 1, nk, c->clse[(r0 + t) * NH + h]); /* probabilities */
                    v16 vD = v16_splat(w.D[t]);
                    for (int64_t j = 0; j < nk; j += 16) /* ds = p * (dp - D), zero where p is */
                        v16_store(prow + j, v16_load(srow + j) * (v16_load(prow + j) - vD));
                    pv(w.o, prow, nk, w.Kc, HSp);
                    float *dq = c->dqkv + (r0 + t) * ld + h * HS;
                    for (int64_t d = 0; d < HS; d++) dq[d] += scale * w.o[d];
                }
                rank4(w.dKt, Tp, w.Qc + t0 * HSp, HSp, w.P, Tp, HSp, nk);
                rank4(w.dVt, Tp, w.dOc + t0 * HSp, HSp, w.S, Tp, HSp, nk);
            }
        }
        float *dK = c->dqkv + r0 * ld + (NH + g) * HS, *dV = c->dqkv + r0 * ld + (NH + KVH + g) * HS;
        add_cols_back(dK, ld, w.dKt, T, Tp, HS);
        add_cols_back(dV, ld, w.dVt, T, Tp, HS);
    }
}

/* o[HS] = sum over j < nk of p[j] * X[j*ldx .. +HS) (unaligned rows; X f32 or (bf) bf16). */
V16_INLINE void pv_u(float *o, const float *p, int64_t nk, const void *X, int64_t ldx, int64_t HS, int bf) {
    int64_t c = 0;
    for (; c + 16 <= HS; c += 16) {
        v16 z = v16_splat(0), a0 = z, a1 = z;
        int64_t j = 0;
        for (; j + 2 <= nk; j += 2) {
            a0 += loadu_kv(X, j * ldx + c, bf) * p[j];
            a1 += loadu_kv(X, (j + 1) * ldx + c, bf) * p[j + 1];
        }
        for (; j < nk; j++) a0 += loadu_kv(X, j * ldx + c, bf) * p[j];
        v16_storeu(o + c, a0 + a1);
    }
    for (; c < HS; c++) {
        float s = 0;
        for (int64_t j = 0; j < nk; j++) s += p[j] * elem_kv(X, j * ldx + c, bf);
        o[c] = s;
    }
}

/* pv_u for two rows of probabilities (two heads of a kv group) in one pass over X: each sum in the same order as
 * pv_u's, so the results are pv_u's to the bit. */
V16_INLINE void pv2_u(float *o0, float *o1, const float *p, const float *q, int64_t nk, const void *X, int64_t ldx,
                      int64_t HS, int bf) {
    int64_t c = 0;
    for (; c + 16 <= HS; c += 16) {
        v16 z = v16_splat(0), a0 = z, a1 = z, b0 = z, b1 = z;
        int64_t j = 0;
        for (; j + 2 <= nk; j += 2) {
            v16 x0 = loadu_kv(X, j * ldx + c, bf), x1 = loadu_kv(X, (j + 1) * ldx + c, bf);
            a0 += x0 * p[j];
            a1 += x1 * p[j + 1];
            b0 += x0 * q[j];
            b1 += x1 * q[j + 1];
        }
        for (; j < nk; j++) {
            v16 x = loadu_kv(X, j * ldx + c, bf);
            a0 += x * p[j];
            b0 += x * q[j];
        }
        v16_storeu(o0 + c, a0 + a1);
        v16_storeu(o1 + c, b0 + b1);
    }
    for (; c < HS; c++) {
        float s = 0, t = 0;
        for (int64_t j = 0; j < nk; j++) {
            float x = elem_kv(X, j * ldx + c, bf);
            s += p[j] * x;
            t += q[j] * x;
        }
        o0[c] = s;
        o1[c] = t;
    }
}

/* Decoding rows it in [b, e): (row, kv group) pairs; keys and values f32 or (bf) bf16. */
V16_INLINE void dec_rows(attn_ctx *c, int64_t b, int64_t e, int tid, int bf, int wide) {
    attn_ws w = ws_carve(c, tid);
    int64_t NH = c->NH, KVH = c->KVH, HS = c->HS, grp = NH / KVH, Tp = c->Tp;
    float scale = 1.0f / sqrtf((float)HS);
    for (int64_t it = b; it < e; it++) {
        const kern_attn_dec *d = &c->dec[it / KVH];
        int64_t g = it % KVH, nk = d->nk, nv = r16(nk);
        const void *kt = bf ? (const void *)(d->kt16 + g * HS * d->kt_ld) : (const void *)(d->kt + g * HS * d->kt_ld);
        const void *v = bf ? (const void *)(d->v16 + g * HS) : (const void *)(d->v + g * HS);
        for (int64_t h0 = g * grp; h0 < (g + 1) * grp; h0 += ROWS) {
            int64_t nh = (g + 1) * grp - h0 < ROWS ? (g + 1) * grp - h0 : ROWS;
            if (nh < ROWS) memset(w.Qc + nh * HS, 0, (size_t)((ROWS - nh) * HS) * sizeof(float));
            for (int64_t r = 0; r < nh; r++)
                for (int64_t k = 0; k < HS; k++) w.Qc[r * HS + k] = d->q[(h0 + r) * HS + k] * scale;
            if (nh == 1) /* one head in the group (no GQA): score one row, not four */
                scores1(w.S, w.Qc, kt, d->kt_ld, HS, nv, bf);
            else
                scores4_x(w.S, Tp, w.Qc, HS, kt, d->kt_ld, HS, nv, bf, wide);
            float inv[ROWS];
            for (int64_t r = 0; r < nh; r++) {
                float *row = w.S + r * Tp, mx = max_row(row, nk);
                inv[r] = 1.0f / exp_row(row, nk, nv, mx);
            }
            for (int64_t r = 0; r < nh; r += 2) { /* two heads per pass over the values */
                float *o = d->out + (h0 + r) * HS;
                if (r + 1 < nh)
                    pv2_u(o, o + HS, w.S + r * Tp, w.S + (r + 1) * Tp, nk, v, d->v_ld, HS, bf);
                else
                    pv_u(o, w.S + r * Tp, nk, v, d->v_ld, HS, bf);
            }
            for (int64_t r = 0; r < nh; r++)
                for (int64_t k = 0; k < HS; k++) d->out[(h0 + r) * HS + k] *= inv[r];
        }
    }
}

/* A batch's rows all hold f32 or all bf16 caches (one model_kv): the first row says which. */
V16_INLINE void dec_body(void *vc, int64_t b, int64_t e, int tid, int wide) {
    attn_ctx *c = vc;
    if (c->dec[0].kt16) dec_rows(c, b, e, tid, 1, wide);
    else dec_rows(c, b, e, tid, 0, wide);
}

#define T_AVX512 __attribute__((target("avx512f,fma")))
#define T_AVX2 __attribute__((target("avx2,fma")))
/* Each body compiled per ISA; only AVX-512 has the registers for 32-column score blocks. */
#define ATTN_VERSIONS(name, body)                                                                                  \
    T_AVX512 static void name##_avx512(void *c, int64_t b, int64_t e, int tid) {                                   \
        body(c, b, e, tid, 1);                                                                                     \
    }                                                                                                              \
    T_AVX2 static void name##_avx2(void *c, int64_t b, int64_t e, int tid) {                                       \
        body(c, b, e, tid, 0);                                                                                     \
    }                                                                                                              \
    static void name##_generic(void *c, int64_t b, int64_t e, int tid) {                                           \
        body(c, b, e, tid, 0);                                                                                     \
    }
ATTN_VERSIONS(fwd, fwd_body)
ATTN_VERSIONS(bwd, bwd_body)
ATTN_VERSIONS(attn_dec, dec_body)

static kern_task_fn attn_dec_pick(void) {
    const char *isa = kern_simd_get()->isa;
    return !strcmp(isa, "avx512") ? attn_dec_avx512 : !strcmp(isa, "avx2") ? attn_dec_avx2 : attn_dec_generic;
}

/* The versions matching kern_simd_get()'s choice. */
static void pick(kern_task_fn *fwd, kern_task_fn *bwd) {
    const char *isa = kern_simd_get()->isa;
    if (!strcmp(isa, "avx512")) *fwd = fwd_avx512, *bwd = bwd_avx512;
    else if (!strcmp(isa, "avx2")) *fwd = fwd_avx2, *bwd = bwd_avx2;
    else *fwd = fwd_generic, *bwd = bwd_generic;
}

/* The workspace is kept between calls (a training step calls attention twice per layer with the same sizes), so
 * that large blocks are not mapped and faulted in again each time; callers are serialised on its lock. */
static pthread_mutex_t g_ws_mu = PTHREAD_MUTEX_INITIALIZER;
static float *g_ws;
static size_t g_ws_floats;

static rt_status ctx_init(attn_ctx *c, int64_t maxT, int64_t HS, rt_error *err) {
    c->Tp = r16(maxT) + 16; /* room for the padded rows of the last block */
    c->HSp = r16(HS);
    c->ws_floats = (ws_size(c->Tp, c->HSp) + 15) & ~(size_t)15;
    size_t need = (size_t)kern_threads() * c->ws_floats;
    pthread_mutex_lock(&g_ws_mu);
    if (need > g_ws_floats) {
        free(g_ws);
        g_ws_floats = 0;
        void *p = NULL;
        if (posix_memalign(&p, 64, need * sizeof(float)) != 0) {
            g_ws = NULL;
            pthread_mutex_unlock(&g_ws_mu);
            return rt_err_set(err, RT_ENOMEM, "attention: no memory for the workspace of %lld-token sequences",
                              (long long)maxT);
        }
        g_ws = p;
        g_ws_floats = need;
    }
    c->ws = g_ws;
    return RT_OK; /* the lock is held until ctx_done */
}

static void ctx_done(void) {
    pthread_mutex_unlock(&g_ws_mu);
}

void kern_attn_release(void) {
    pthread_mutex_lock(&g_ws_mu);
    free(g_ws);
    g_ws = NULL;
    g_ws_floats = 0;
    pthread_mutex_unlock(&g_ws_mu);
}

rt_status kern_attn_seqs_fwd(const kern_attn_seq *seqs, int64_t nseq, int64_t NH, int64_t KVH, int64_t HS,
                             rt_error *err) {
    attn_ctx c = {.seqs = seqs, .NH = NH, .KVH = KVH, .HS = HS};
    int64_t maxT = 1;
    for (int64_t b = 0; b < nseq; b++)
        if (seqs[b].p0 + seqs[b].nq > maxT) maxT = seqs[b].p0 + seqs[b].nq;
    rt_status st = ctx_init(&c, maxT, HS, err);
    if (st != RT_OK) return st;
    kern_task_fn fwd, bwd;
    pick(&fwd, &bwd);
    kern_parallel_for(nseq * KVH, 1, fwd, &c);
    ctx_done();
    return RT_OK;
}

rt_status kern_attn_decode(const kern_attn_dec *rows, int64_t n, int64_t NH, int64_t KVH, int64_t HS, rt_error *err) {
    attn_ctx c = {.dec = rows, .NH = NH, .KVH = KVH, .HS = HS};
    int64_t maxT = 1;
    for (int64_t i = 0; i < n; i++)
        if (rows[i].nk > maxT) maxT = rows[i].nk;
    rt_status st = ctx_init(&c, maxT, HS, err);
    if (st != RT_OK) return st;
    kern_parallel_for(n * KVH, 1, attn_dec_pick(), &c);
    ctx_done();
    return RT_OK;
}

rt_status kern_attn_fwd(float *out, float *lse, const float *qkv, const kern_packing *pk, int64_t NH, int64_t KVH,
                        int64_t HS, rt_error *err) {
    kern_attn_seq *seqs = malloc((size_t)pk->nseq * sizeof *seqs);
    if (!seqs) return rt_err_set(err, RT_ENOMEM, "attention: no memory for %lld sequences", (long long)pk->nseq);
    int64_t ld = (NH + 2 * KVH) * HS;
    for (int64_t b = 0; b < pk->nseq; b++) {
        int64_t r0 = pk->start[b];
        kern_attn_seq d = {.q = qkv + r0 * ld, .q_ld = ld, .k = qkv + r0 * ld + NH * HS,
                           .v = qkv + r0 * ld + (NH + KVH) * HS, .kv_ld = ld, .p0 = 0, .nq = pk->start[b + 1] - r0,
                           .out = out + r0 * NH * HS, .out_ld = NH * HS, .lse = lse + r0 * NH};
        seqs[b] = d;
    }
    rt_status st = kern_attn_seqs_fwd(seqs, pk->nseq, NH, KVH, HS, err);
    free(seqs);
    return st;
}

rt_status kern_attn_bwd(float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv,
                        const kern_packing *pk, int64_t NH, int64_t KVH, int64_t HS, rt_error *err) {
    attn_ctx c = {.dqkv = dqkv, .dout = dout, .cout = out, .clse = lse, .qkv = qkv, .pk = pk,
                  .NH = NH, .KVH = KVH, .HS = HS};
    int64_t maxT = 1;
    for (int64_t b = 0; b < pk->nseq; b++)
        if (pk->start[b + 1] - pk->start[b] > maxT) maxT = pk->start[b + 1] - pk->start[b];
    rt_status st = ctx_init(&c, maxT, HS, err);
    if (st != RT_OK) return st;
    kern_task_fn fwd, bwd;
    pick(&fwd, &bwd);
    kern_parallel_for(pk->nseq * KVH, 1, bwd, &c);
    ctx_done();
    return RT_OK;
}
