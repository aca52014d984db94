/* SwiGLU: a = silu(gate) * up, vectorised 16 lanes at a time (one source, compiled per ISA). */
#include <math.h>

#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/vec16.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

typedef struct sw_ctx {
    float *out;
    const float *a, *gu;
    int64_t I;
} sw_ctx;

V16_INLINE void fwd_body(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    sw_ctx *c = vc;
    const v16 one = v16_splat(1.0f);
    for (int64_t r = b; r < e; r++) {
        const float *g = c->gu + r * 2 * c->I, *u = g + c->I;
        float *a = c->out + r * c->I;
        int64_t i = 0;
        for (; i + 16 <= c->I; i += 16) {
            v16 gv = v16_loadu(g + i);
            v16_storeu(a + i, gv / (one + v16_exp(-gv)) * v16_loadu(u + i));
        }
        for (; i < c->I; i++) a[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}
KERN_MULTIVERSION(sw_fwd, fwd_body)

void kern_swiglu_fwd(float *a, const float *gu, int64_t N, int64_t I) {
    sw_ctx c = {a, NULL, gu, I};
    kern_parallel_for(N, 8, sw_fwd_pick(), &c);
}

V16_INLINE void bwd_body(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    sw_ctx *c = vc;
    const v16 one = v16_splat(1.0f);
    for (int64_t r = b; r < e; r++) {
        const float *g = c->gu + r * 2 * c->I, *u = g + c->I, *da = c->a + r * c->I;
        float *dg = c->out + r * 2 * c->I, *du = dg + c->I;
        int64_t i = 0;
        for (; i + 16 <= c->I; i += 16) {
            v16 gv = v16_loadu(g + i), dav = v16_loadu(da + i), sg = one / (one + v16_exp(-gv));
            v16_storeu(du + i, dav * gv * sg);
            v16_storeu(dg + i, dav * v16_loadu(u + i) * sg * (one + gv * (one - sg)));
        }
        for (; i < c->I; i++) {
            float sg = 1.0f / (1.0f + expf(-g[i]));
            du[i] = da[i] * g[i] * sg;
            dg[i] = da[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
        }
    }
}
KERN_MULTIVERSION(sw_bwd, bwd_body)

void kern_swiglu_bwd(float *dgu, const float *da, const float *gu, int64_t N, int64_t I) {
    sw_ctx c = {dgu, da, gu, I};
    kern_parallel_for(N, 8, sw_bwd_pick(), &c);
}
