/* RMSNorm forward and backward: y = x / sqrt(mean(x^2) + eps) * w. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/simd.h"

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

static void bwd_task(void *vc, int64_t b, int64_t e, int tid) {
    rms_ctx *c = vc;
    int64_t C = c->C;
    float *dw = c->dw_parts + (size_t)tid * (size_t)C;
    for (int64_t r = b; r < e; r++) {
        const float *x = c->x + r * C, *dy = c->dy + r * C;
        float *dx = c->dx + r * C;
        float rs = c->crstd[r];
        double dot = 0; /* sum over i of dy_i * w_i * x_i */
        for (int64_t i = 0; i < C; i++) {
            dot += (double)(dy[i] * c->w[i]) * x[i];
            dw[i] += dy[i] * x[i] * rs;
        }
        float k = (float)dot * rs * rs * rs / (float)C;
        for (int64_t i = 0; i < C; i++) dx[i] += dy[i] * c->w[i] * rs - k * x[i];
    }
}

/* dx[N,C] +=, dw[C] += from dy[N,C], x[N,C], w[C], rstd[N]. */
void kern_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                      int64_t N, int64_t C) {
    int nt = kern_threads();
    float *parts = calloc((size_t)nt * (size_t)C, sizeof(float));
    rms_ctx c = {.dx = dx, .dw_parts = parts, .x = x, .w = w, .dy = dy, .crstd = rstd, .C = C};
    if (!parts) { /* out of memory for the partial sums: accumulate on one thread straight into dw */
        c.dw_parts = dw;
        bwd_task(&c, 0, N, 0);
        return;
    }
    kern_parallel_for(N, 16, bwd_task, &c);
    for (int t = 0; t < nt; t++)
        for (int64_t i = 0; i < C; i++) dw[i] += parts[(size_t)t * (size_t)C + i];
    free(parts);
}
