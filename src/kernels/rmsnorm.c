/* RMSNorm forward and backward: y = x / sqrt(mean(x^2) + eps) * w. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/simd.h"
#include "kernels/vec16.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

typedef struct rms_ctx {
    float *y, *rstd, *dx, *dw_parts;
    const float *x, *w, *dy, *crstd;
    int64_t C;
    float eps;
} rms_ctx;

static void fwd_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    rms_ctx *c = vc;
    const kern_simd *s = kern_simd_get();
    for (int64_t r = b; r < e; r++) {
        const float *x = c->x + r * c->C;
        float rs = 1.0f / sqrtf(s->sumsq(x, c->C) / (float)c->C + c->eps);
        c->rstd[r] = rs;
        s->scale_mul(c->y + r * c->C, x, rs, c->w, c->C);
    }
}

/* y[N,C], rstd[N] from x[N,C], w[C]. */
void kern_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps) {
    rms_ctx c = {.y = y, .rstd = rstd, .x = x, .w = w, .C = C, .eps = eps};
    kern_parallel_for(N, 16, fwd_task, &c);
}

V16_INLINE void bwd_body(void *vc, int64_t b, int64_t e, int tid) {
    rms_ctx *c = vc;
    int64_t C = c->C;
    float *dw = c->dw_parts + (size_t)tid * (size_t)C;
    for (int64_t r = b; r < e; r++) {
        const float *x = c->x + r * C, *dy = c->dy + r * C, *w = c->w;
        float *dx = c->dx + r * C;
        float rs = c->crstd[r];
        v16 acc = v16_splat(0.0f);
        int64_t i = 0;
        for (; i + 16 <= C; i += 16) { /* sum of dy * w * x; dw += dy * x * rstd */
            v16 dyx = v16_loadu(dy + i) * v16_loadu(x + i);
            acc += dyx * v16_loadu(w + i);
            v16_storeu(dw + i, v16_loadu(dw + i) + dyx * rs);
        }
        float dot = v16_hsum(acc);
        for (; i < C; i++) {
            dot += dy[i] * w[i] * x[i];
            dw[i] += dy[i] * x[i] * rs;
        }
        float k = dot * rs * rs * rs / (float)C;
        for (i = 0; i + 16 <= C; i += 16)
            v16_storeu(dx + i, v16_loadu(dx + i) + v16_loadu(dy + i) * v16_loadu(w + i) * rs - v16_loadu(x + i) * k);
        for (; i < C; i++) dx[i] += dy[i] * w[i] * rs - k * x[i];
    }
}
KERN_MULTIVERSION(rms_bwd, bwd_body)

/* dx[N,C] +=, dw[C] += from dy[N,C], x[N,C], w[C], rstd[N]. */
void kern_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                      int64_t N, int64_t C) {
    int nt = kern_threads();
    float *parts = calloc((size_t)nt * (size_t)C, sizeof(float));
    rms_ctx c = {.dx = dx, .dw_parts = parts, .x = x, .w = w, .dy = dy, .crstd = rstd, .C = C};
    if (!parts) { /* out of memory for the partial sums: accumulate on one thread straight into dw */
        c.dw_parts = dw;
        rms_bwd_generic(&c, 0, N, 0);
        return;
    }
    kern_parallel_for(N, 16, rms_bwd_pick(), &c);
    for (int t = 0; t < nt; t++)
        for (int64_t i = 0; i < C; i++) dw[i] += parts[(size_t)t * (size_t)C + i];
    free(parts);
}
