/* Causal grouped-query attention over packed sequences. Forward: one query row at a time (scores of one row in a
 * scratch vector, never the T x T matrix), log-sum-exp saved. Backward: per (sequence, kv head) task, probabilities
 * recomputed row by row from the saved log-sum-exp, so each task owns its k and v gradients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/simd.h"

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

typedef struct attn_ctx {
    float *out, *lse, *dqkv;
    const float *qkv, *dout, *cout, *clse;
    const kern_packing *pk;
    int64_t NH, KVH, HS, maxT;
    float *scratch; /* [threads, maxT] */
} attn_ctx;

static void fwd_task(void *vc, int64_t b, int64_t e, int tid) {
    attn_ctx *c = vc;
    int64_t NH = c->NH, HS = c->HS, ld = (NH + 2 * c->KVH) * HS, grp = NH / c->KVH;
    float scale = 1.0f / sqrtf((float)HS);
    float *scratch = c->scratch + (size_t)tid * (size_t)c->maxT;
    for (int64_t it = b; it < e; it++) {
        int64_t r = it / NH, h = it % NH, g = h / grp, t = c->pk->pos[r], r0 = r - t;
        const float *q = c->qkv + r * ld + h * HS;
        const float *K = c->qkv + r0 * ld + (NH + g) * HS;
        const float *V = c->qkv + r0 * ld + (NH + c->KVH + g) * HS;
        c->lse[r * NH + h] = kern_attn_row(c->out + r * NH * HS + h * HS, q, K, V, ld, t + 1, HS, scale, scratch);
    }
}

static int64_t max_len(const kern_packing *pk) {
    int64_t m = 1;
    for (int64_t b = 0; b < pk->nseq; b++)
        if (pk->start[b + 1] - pk->start[b] > m) m = pk->start[b + 1] - pk->start[b];
    return m;
}

rt_status kern_attn_fwd(float *out, float *lse, const float *qkv, const kern_packing *pk, int64_t NH, int64_t KVH,
                        int64_t HS, rt_error *err) {
    int64_t N = pk->start[pk->nseq];
    attn_ctx c = {.out = out, .lse = lse, .qkv = qkv, .pk = pk, .NH = NH, .KVH = KVH, .HS = HS, .maxT = max_len(pk)};
    c.scratch = malloc((size_t)kern_threads() * (size_t)c.maxT * sizeof(float));
    if (!c.scratch) return rt_err_set(err, RT_ENOMEM, "attention: no memory for %lld-long score rows", (long long)c.maxT);
    kern_parallel_for(N * NH, 4, fwd_task, &c);
    free(c.scratch);
    return RT_OK;
}

static void bwd_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    attn_ctx *c = vc;
    const kern_simd *s = kern_simd_get();
    int64_t NH = c->NH, KVH = c->KVH, HS = c->HS, ld = (NH + 2 * KVH) * HS, grp = NH / KVH;
    float scale = 1.0f / sqrtf((float)HS);
    for (int64_t it = b; it < e; it++) {
        int64_t seq = it / KVH, g = it % KVH, r0 = c->pk->start[seq], T = c->pk->start[seq + 1] - r0;
        const float *K = c->qkv + r0 * ld + (NH + g) * HS, *V = c->qkv + r0 * ld + (NH + KVH + g) * HS;
        float *dK = c->dqkv + r0 * ld + (NH + g) * HS, *dV = c->dqkv + r0 * ld + (NH + KVH + g) * HS;
        for (int64_t h = g * grp; h < (g + 1) * grp; h++) {
            for (int64_t t = 0; t < T; t++) {
                int64_t r = r0 + t;
                const float *q = c->qkv + r * ld + h * HS, *dout = c->dout + r * NH * HS + h * HS;
                float *dq = c->dqkv + r * ld + h * HS;
                float D = s->dot(dout, c->cout + r * NH * HS + h * HS, HS), lse = c->clse[r * NH + h];
                for (int64_t j = 0; j <= t; j++) {
                    float p = expf(s->dot(q, K + j * ld, HS) * scale - lse);
                    float dp = s->dot(dout, V + j * ld, HS);
                    float ds = p * (dp - D) * scale;
                    s->axpy(dq, ds, K + j * ld, HS);
                    s->axpy(dK + j * ld, ds, q, HS);
                    s->axpy(dV + j * ld, p, dout, HS);
                }
            }
        }
    }
}

void kern_attn_bwd(float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv,
                   const kern_packing *pk, int64_t NH, int64_t KVH, int64_t HS) {
    attn_ctx c = {.dqkv = dqkv, .dout = dout, .cout = out, .clse = lse, .qkv = qkv, .pk = pk,
                  .NH = NH, .KVH = KVH, .HS = HS};
    kern_parallel_for(pk->nseq * KVH, 1, bwd_task, &c);
}
