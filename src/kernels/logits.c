/* Softmax over the vocabulary: log-prob of a target, entropy, and the gradient of a weighted sum of both; one row in
 * double precision (the reference), and row batches vectorised and threaded (the training path). */
#include <math.h>

#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/vec16.h"

float kern_logits_stats(const float *z, int64_t V, int64_t target, float *entropy, float *lse) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; i++)
        mx = z[i] > mx ? z[i] : mx;
    double sum = 0, sz = 0; /* sum e^(z-mx), sum e^(z-mx) * (z-mx) */
    for (int64_t i = 0; i < V; i++) {
        double d = (double)z[i] - mx, e = exp(d);
        sum += e;
        sz += e * d;
    }
    double l = log(sum);
    *lse = (float)(mx + l);
    *entropy = (float)(l - sz / sum);
    return target >= 0 ? (float)((double)z[target] - mx - l) : 0.0f;
}

void kern_logits_grad(float *z, int64_t V, int64_t target, float lse, float entropy, float dlogp, float dent) {
    /* d logp_y / dz_j = [j == y] - p_j;  d H / dz_j = -p_j (log p_j + H). Without a target logp is the constant 0. */
    if (target < 0) dlogp = 0.0f;
    for (int64_t j = 0; j < V; j++) {
        float lp = z[j] - lse, p = expf(lp);
        z[j] = p > 0 ? -dlogp * p - dent * p * (lp + entropy) : 0.0f;
    }
    if (target >= 0) z[target] += dlogp;
}

void kern_softmax(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        s += x[i];
    }
    float inv = (float)(1.0 / s);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

/* ---- row batches, vectorised 16 lanes at a time (one source, compiled per ISA) ---- */

#define LOGITS_BLOCK 4096 /* f32 lane sums are flushed into doubles every block */

typedef struct logits_ctx {
    float *z;
    int64_t V;
    const int32_t *targets;
    float *logp, *entropy, *lse;
    const float *dlogp, *dent;
} logits_ctx;

V16_INLINE void stats_body(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    logits_ctx *c = vc;
    int64_t V = c->V;
    for (int64_t r = b; r < e; r++) {
        const float *z = c->z + r * V;
        v16 vm = v16_splat(-INFINITY);
        int64_t i = 0;
        for (; i + 16 <= V; i += 16) {
            v16 x = v16_loadu(z + i);
            vm = v16_select(x > vm, x, vm);
        }
        float mx = -INFINITY;
        for (int k = 0; k < 16; k++)
            mx = vm[k] > mx ? vm[k] : mx;
        for (; i < V; i++)
            mx = z[i] > mx ? z[i] : mx;
        double sum = 0, sz = 0;
        const v16 vmx = v16_splat(mx), lo = v16_splat(-87.0f);
        for (i = 0; i + 16 <= V;) {
            v16 s = v16_splat(0), s2 = s;
            int64_t end = i + LOGITS_BLOCK < V ? i + LOGITS_BLOCK : V;
            for (; i + 16 <= end; i += 16) {
                v16 d = v16_loadu(z + i) - vmx;
                v16 ex = v16_select(d > lo, v16_exp(d), v16_splat(0));
                s += ex;
                s2 += v16_select(d > lo, ex * d, v16_splat(0));
            }
            sum += v16_hsum(s);
            sz += v16_hsum(s2);
        }
        for (; i < V; i++) {
            float d = z[i] - mx, ex = expf(d);
            sum += ex;
            sz += ex > 0 ? (double)ex * d : 0.0;
        }
        double l = log(sum);
        c->lse[r] = (float)(mx + l);
        c->entropy[r] = (float)(l - sz / sum);
        int32_t t = c->targets ? c->targets[r] : -1;
        if (c->logp) c->logp[r] = t >= 0 ? (float)((double)z[t] - mx - l) : 0.0f;
    }
}
KERN_MULTIVERSION(logits_stats, stats_body)

void kern_logits_stats_rows(const float *z, int64_t rows, int64_t V, const int32_t *targets, float *logp,
                            float *entropy, float *lse) {
    logits_ctx c = {(float *)z, V, targets, logp, entropy, lse, NULL, NULL};
    kern_parallel_for(rows, 1, logits_stats_pick(), &c);
}

V16_INLINE void grad_body(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    logits_ctx *c = vc;
    int64_t V = c->V;
    for (int64_t r = b; r < e; r++) {
        float *z = c->z + r * V;
        int32_t t = c->targets ? c->targets[r] : -1;
        float dl = t >= 0 && c->dlogp ? c->dlogp[r] : 0.0f, de = c->dent ? c->dent[r] : 0.0f;
        float lse = c->lse[r], H = c->entropy[r];
        const v16 vlse = v16_splat(lse), vH = v16_splat(H), vdl = v16_splat(dl), vde = v16_splat(de),
                  lo = v16_splat(-87.0f), zero = v16_splat(0);
        int64_t i = 0;
        for (; i + 16 <= V; i += 16) {
            v16 lp = v16_loadu(z + i) - vlse, p = v16_exp(lp);
            v16_storeu(z + i, v16_select(lp > lo, zero - p * (vdl + vde * (lp + vH)), zero));
        }
        for (; i < V; i++) {
            float lp = z[i] - lse, p = expf(lp);
            z[i] = p > 0 ? -p * (dl + de * (lp + H)) : 0.0f;
        }
        if (t >= 0) z[t] += dl;
    }
}
KERN_MULTIVERSION(logits_grad, grad_body)

void kern_logits_grad_rows(float *z, int64_t rows, int64_t V, const int32_t *targets, const float *lse,
                           const float *entropy, const float *dlogp, const float *dent) {
    logits_ctx c = {z, V, targets, NULL, (float *)entropy, (float *)lse, dlogp, dent};
    kern_parallel_for(rows, 1, logits_grad_pick(), &c);
}
