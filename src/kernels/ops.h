/* The transformer's own kernels, forward and backward side by side, f32, threaded on the pool. Shapes use the letters
 * of docs/CONTRIBUTING.md: N packed tokens (all sequences of a batch back to back), C channels, NH query heads,
 * KVH key/value heads, HS head size, I MLP width, V vocabulary. Backward functions accumulate (+=) into gradients. */
#ifndef RETOOL_KERNELS_OPS_H
#define RETOOL_KERNELS_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* ---- bf16 conversion ---- */

/* dst[n] = bf16(src[n]) with round-to-nearest-even (NaN stays NaN). */
void kern_to_bf16(uint16_t *dst, const float *src, int64_t n);

/* dst[n] = f32(src[n]). */
void kern_from_bf16(float *dst, const uint16_t *src, int64_t n);

/* ---- RMSNorm ---- */

/* y[N,C] = x * rstd * w with rstd[N] = 1/sqrt(mean(x^2) + eps) (rstd saved for backward). */
void kern_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps);

/* dx[N,C] += d(y)/dx . dy; dw[C] += sum over rows of dy * x * rstd. */
void kern_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                      int64_t N, int64_t C);

/* ---- RoPE (Hugging Face rotate_half convention) ---- */

/* cos/sin table [max_pos, HS/2], computed once as Hugging Face does (f32 inverse frequencies and angles). */
typedef struct kern_rope {
    int64_t head_dim, max_pos;
    float *cos, *sin;
} kern_rope;

/* Builds the table for positions [0, max_pos). */
rt_status kern_rope_init(kern_rope *r, int64_t head_dim, double theta, int64_t max_pos, rt_error *err);

/* Frees the table. */
void kern_rope_free(kern_rope *r);

/* x[N, ld] rows hold nheads heads of HS values from column 0; rotates each head by its row's position pos[N]. */
void kern_rope_fwd(const kern_rope *r, float *x, int64_t ld, int64_t N, int64_t nheads, const int64_t *pos);

/* dx = R(pos)^T dy, in place on the same layout as kern_rope_fwd. */
void kern_rope_bwd(const kern_rope *r, float *dx, int64_t ld, int64_t N, int64_t nheads, const int64_t *pos);

/* ---- causal attention with grouped-query heads over packed sequences ---- */

/* The packed layout of a batch: sequence b occupies rows [start[b], start[b+1]); pos[r] = r - start of its sequence. */
typedef struct kern_packing {
    int64_t nseq;
    const int64_t *start; /* [nseq + 1] */
    const int64_t *pos;   /* [N] */
} kern_packing;

/* qkv[N, (NH + 2*KVH)*HS] (q heads, then k heads, then v heads, RoPE applied): out[N, NH*HS] = causal softmax(q.k^T /
 * sqrt(HS)) . v within each sequence; lse[N, NH] saved for backward. No (NH, T, T) matrix is kept. */
rt_status kern_attn_fwd(float *out, float *lse, const float *qkv, const kern_packing *pk, int64_t NH, int64_t KVH,
                        int64_t HS, rt_error *err);

/* dqkv[N, (NH+2KVH)*HS] += gradients of q, k, v given dout[N, NH*HS]; recomputes the probabilities row by row from
 * lse (flash-attention style). */
rt_status kern_attn_bwd(float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv,
                        const kern_packing *pk, int64_t NH, int64_t KVH, int64_t HS, rt_error *err);

/* One sequence's part of a causal attention call: nq query rows at positions p0 .. p0+nq-1 against the keys and values
 * of positions [0, p0+nq) (a KV cache plus the new rows, or the sequence's own rows when training). Head h of query
 * row i is at q + i*q_ld + h*HS; kv head g of position j at k (v) + j*kv_ld + g*HS; output like q at out_ld. */
typedef struct kern_attn_seq {
    const float *q;
    int64_t q_ld;
    const float *k, *v;
    int64_t kv_ld;
    const float *kt; /* instead of k, when not NULL: keys transposed, kv head g's dimension d at kt + (g*HS + d)*kt_ld */
    int64_t kt_ld;
    int64_t p0, nq;
    float *out;
    int64_t out_ld;
    float *lse; /* [nq, NH] or NULL */
} kern_attn_seq;

/* Causal grouped-query attention for several sequences (the blocked kernel of kern_attn_fwd). */
rt_status kern_attn_seqs_fwd(const kern_attn_seq *seqs, int64_t nseq, int64_t NH, int64_t KVH, int64_t HS,
                             rt_error *err);

/* One decoding row for kern_attn_decode: the NH*HS query heads of a token at position nk-1 against keys stored
 * transposed (kv head g's dimension d at kt + (g*HS + d)*kt_ld, 64-byte aligned rows, kt_ld a multiple of 16) and value
 * rows at v + j*v_ld + g*HS. With kt16 and v16 set instead of kt and v, the same layout holds bf16 values. */
typedef struct kern_attn_dec {
    const float *q;
    const float *kt;
    int64_t kt_ld;
    const float *v;
    int64_t v_ld;
    int64_t nk;
    float *out; /* NH*HS */
    const uint16_t *kt16, *v16;
} kern_attn_dec;

/* Attention of n decoding rows (each its own sequence), the query heads of a kv group scored together. */
rt_status kern_attn_decode(const kern_attn_dec *rows, int64_t n, int64_t NH, int64_t KVH, int64_t HS, rt_error *err);

/* Frees the workspace the attention kernels keep between calls (it grows to the longest sequence seen). */
void kern_attn_release(void);

/* One query row against nk keys: out[HS] = softmax(q.K^T * scale) . V with K, V rows at a stride (in floats);
 * scratch holds nk floats. Returns the log-sum-exp of the scaled scores. */
float kern_attn_row(float *out, const float *q, const float *K, const float *V, int64_t stride, int64_t nk,
                    int64_t HS, float scale, float *scratch);

/* ---- SwiGLU ---- */

/* gu[N, 2I] holds gate (columns [0, I)) then up ([I, 2I)); a[N, I] = silu(gate) * up. */
void kern_swiglu_fwd(float *a, const float *gu, int64_t N, int64_t I);

/* dgu[N, 2I] = gradients of gate and up given da[N, I] (written, not accumulated). */
void kern_swiglu_bwd(float *dgu, const float *da, const float *gu, int64_t N, int64_t I);

/* ---- softmax over the vocabulary: log-probs, entropy, and their gradients ---- */

/* For one row of logits z[V]: returns log softmax(z)[target] (target < 0: 0) and sets *entropy and *lse. */
float kern_logits_stats(const float *z, int64_t V, int64_t target, float *entropy, float *lse);

/* Overwrites z[V] with d/dz of (dlogp * logp[target] + dent * entropy), using lse and entropy from kern_logits_stats. */
void kern_logits_grad(float *z, int64_t V, int64_t target, float lse, float entropy, float dlogp, float dent);

/* kern_logits_stats over rows [rows, V] in parallel, f32 exponentials (16 lanes) summed blockwise into doubles: lse and
 * entropy [rows]; logp [rows] (may be NULL) of targets [rows] (NULL or -1: 0). */
void kern_logits_stats_rows(const float *z, int64_t rows, int64_t V, const int32_t *targets, float *logp,
                            float *entropy, float *lse);

/* kern_logits_grad over rows [rows, V] in parallel (dlogp, dent [rows], either may be NULL meaning zero). */
void kern_logits_grad_rows(float *z, int64_t rows, int64_t V, const int32_t *targets, const float *lse,
                           const float *entropy, const float *dlogp, const float *dent);

/* In place softmax of x[n]. */
void kern_softmax(float *x, int64_t n);

#endif
