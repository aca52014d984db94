/* Rotary position embeddings, Hugging Face rotate_half convention: the first and second halves of a head are the real
 * and imaginary parts. The table is built once; forward rotates by +angle, backward by -angle. */
#include <math.h>
#include <stdlib.h>

#include "kernels/ops.h"
#include "kernels/pool.h"

rt_status kern_rope_init(kern_rope *r, int64_t head_dim, double theta, int64_t max_pos, rt_error *err) {
    r->cos = r->sin = NULL;
    if (head_dim <= 0 || head_dim % 2 || max_pos <= 0 || !(theta > 0))
        return rt_err_set(err, RT_EINVAL, "rope: bad head_dim %lld, theta %g or max positions %lld",
                          (long long)head_dim, theta, (long long)max_pos);
    int64_t h = head_dim / 2;
    r->head_dim = head_dim;
    r->max_pos = max_pos;
    r->cos = malloc((size_t)(max_pos * h) * sizeof(float));
    r->sin = malloc((size_t)(max_pos * h) * sizeof(float));
    if (!r->cos || !r->sin) {
        kern_rope_free(r);
        return rt_err_set(err, RT_ENOMEM, "rope: no memory for a %lld-position table", (long long)max_pos);
    }
    for (int64_t i = 0; i < h; i++) {
        /* As transformers computes it: inv_freq in f32, angle = f32(pos) * inv_freq in f32, then cos/sin. */
        float inv = (float)(1.0 / pow(theta, (double)(2 * i) / (double)head_dim));
        for (int64_t p = 0; p < max_pos; p++) {
            float ang = (float)p * inv;
            r->cos[p * h + i] = (float)cos((double)ang);
            r->sin[p * h + i] = (float)sin((double)ang);
        }
    }
    return RT_OK;
}

void kern_rope_free(kern_rope *r) {
    free(r->cos);
    free(r->sin);
    r->cos = r->sin = NULL;
}

typedef struct rope_ctx {
    const kern_rope *r;
    float *x;
    int64_t ld, nheads;
    const int64_t *pos;
    float sign; /* +1 forward, -1 backward */
} rope_ctx;

static void rope_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    rope_ctx *c = vc;
    int64_t HS = c->r->head_dim, h = HS / 2;
    for (int64_t row = b; row < e; row++) {
        const float *cs = c->r->cos + c->pos[row] * h, *sn = c->r->sin + c->pos[row] * h;
        for (int64_t hd = 0; hd < c->nheads; hd++) {
            float *x = c->x + row * c->ld + hd * HS;
            for (int64_t i = 0; i < h; i++) {
                float a = x[i], bb = x[i + h], s = c->sign * sn[i];
                x[i] = a * cs[i] - bb * s;
                x[i + h] = bb * cs[i] + a * s;
            }
        }
    }
}

void kern_rope_fwd(const kern_rope *r, float *x, int64_t ld, int64_t N, int64_t nheads, const int64_t *pos) {
    rope_ctx c = {r, x, ld, nheads, pos, 1.0f};
    kern_parallel_for(N, 32, rope_task, &c);
}

void kern_rope_bwd(const kern_rope *r, float *dx, int64_t ld, int64_t N, int64_t nheads, const int64_t *pos) {
    rope_ctx c = {r, dx, ld, nheads, pos, -1.0f};
    kern_parallel_for(N, 32, rope_task, &c);
}
