/* SwiGLU: a = silu(gate) * up. */
#include <math.h>

#include "kernels/ops.h"
#include "kernels/pool.h"

typedef struct sw_ctx {
    float *out;
    const float *a, *gu;
    int64_t I;
} sw_ctx;

static void fwd_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    sw_ctx *c = vc;
    for (int64_t r = b; r < e; r++) {
        const float *g = c->gu + r * 2 * c->I, *u = g + c->I;
        float *a = c->out + r * c->I;
        for (int64_t i = 0; i < c->I; i++) a[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void kern_swiglu_fwd(float *a, const float *gu, int64_t N, int64_t I) {
    sw_ctx c = {a, NULL, gu, I};
    kern_parallel_for(N, 8, fwd_task, &c);
}

static void bwd_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    sw_ctx *c = vc;
    for (int64_t r = b; r < e; r++) {
        const float *g = c->gu + r * 2 * c->I, *u = g + c->I, *da = c->a + r * c->I;
        float *dg = c->out + r * 2 * c->I, *du = dg + c->I;
        for (int64_t i = 0; i < c->I; i++) {
            float sg = 1.0f / (1.0f + expf(-g[i]));
            du[i] = da[i] * g[i] * sg;
            dg[i] = da[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
        }
    }
}

void kern_swiglu_bwd(float *dgu, const float *da, const float *gu, int64_t N, int64_t I) {
    sw_ctx c = {dgu, da, gu, I};
    kern_parallel_for(N, 8, bwd_task, &c);
}
