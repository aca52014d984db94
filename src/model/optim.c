/* AdamW, clipping and schedules: flat loops over the model's one gradient buffer. */
#include "model/optim.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/ops.h"
#include "kernels/pool.h"

model_adamw model_adamw_defaults(void) {
    model_adamw a = {1e-3, 0.9, 0.999, 1e-8, 0.01};
    return a;
}

/* The optimizer's loops run over the one flat buffer in blocks of OPT_BLOCK floats handed to the pool's threads (a
 * block may span tensors); sums are kept per block and added in block order, so results do not depend on threads. */
#define OPT_BLOCK ((int64_t)1 << 18)

typedef struct adam_ctx {
    model *m;
    const model_adamw *o;
    float lr, bc1, bc2;
} adam_ctx;

/* The index of the tensor holding float i of the buffer (tensors are laid out in order). */
static size_t tensor_at(const model *m, size_t i) {
    size_t lo = 0, hi = m->ntensors;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (m->tensors[mid].offset <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void adam_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    adam_ctx *c = vc;
    model *m = c->m;
    const float b1 = (float)c->o->beta1, b2 = (float)c->o->beta2, eps = (float)c->o->eps;
    size_t lo = (size_t)(b * OPT_BLOCK),
           end = (size_t)(e * OPT_BLOCK) < m->nparams ? (size_t)(e * OPT_BLOCK) : m->nparams;
    for (size_t ti = tensor_at(m, lo); lo < end && ti < m->ntensors; ti++) {
        const model_tensor *t = &m->tensors[ti];
        size_t hi = t->offset + t->numel < end ? t->offset + t->numel : end;
        if (hi <= lo) continue;
        float wd = t->decay ? (float)c->o->weight_decay : 0.0f;
        float *p = m->params, *g = m->grads, *mm = m->adam_m, *vv = m->adam_v;
        for (size_t i = lo; i < hi; i++) {
            float gi = g[i];
            mm[i] = b1 * mm[i] + (1 - b1) * gi;
            vv[i] = b2 * vv[i] + (1 - b2) * gi * gi;
            float mhat = mm[i] / c->bc1, vhat = vv[i] / c->bc2;
            p[i] -= c->lr * (mhat / (sqrtf(vhat) + eps) + wd * p[i]);
        }
        /* the bf16 copy of what was just written, while it is in cache (a nested call runs on this thread) */
        if (m->params_bf16) kern_to_bf16(m->params_bf16 + lo, p + lo, (int64_t)(hi - lo));
        lo = hi;
    }
}

static int64_t nblocks(const model *m) {
    return (int64_t)((m->nparams + (size_t)OPT_BLOCK - 1) / (size_t)OPT_BLOCK);
}

void model_adamw_step(model *m, const model_adamw *opt, double lr) {
    if (!m->grads) return;
    m->adam_step++;
    adam_ctx c = {m, opt, (float)lr, (float)(1 - pow(opt->beta1, (double)m->adam_step)),
                  (float)(1 - pow(opt->beta2, (double)m->adam_step))};
    kern_parallel_for(nblocks(m), 1, adam_task, &c);
}

typedef struct norm_ctx {
    const model *m;
    double *part; /* [nblocks] */
    float scale;
} norm_ctx;

static void norm_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    norm_ctx *c = vc;
    for (int64_t k = b; k < e; k++) {
        size_t lo = (size_t)(k * OPT_BLOCK),
               hi = lo + (size_t)OPT_BLOCK < c->m->nparams ? lo + (size_t)OPT_BLOCK : c->m->nparams;
        double s = 0;
        for (size_t j = lo; j < hi; j++)
            s += (double)c->m->grads[j] * c->m->grads[j];
        c->part[k] = s;
    }
}

double model_grad_norm(const model *m) {
    if (!m->grads) return 0;
    int64_t nb = nblocks(m);
    double *part = calloc((size_t)nb, sizeof *part), s = 0;
    if (!part) { /* no memory for the partial sums: one pass on this thread */
        for (size_t j = 0; j < m->nparams; j++)
            s += (double)m->grads[j] * m->grads[j];
        return sqrt(s);
    }
    norm_ctx c = {m, part, 1.0f};
    kern_parallel_for(nb, 1, norm_task, &c);
    for (int64_t k = 0; k < nb; k++)
        s += part[k];
    free(part);
    return sqrt(s);
}

static void scale_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    norm_ctx *c = vc;
    float *g = c->m->grads;
    size_t lo = (size_t)(b * OPT_BLOCK),
           hi = (size_t)(e * OPT_BLOCK) < c->m->nparams ? (size_t)(e * OPT_BLOCK) : c->m->nparams;
    for (size_t i = lo; i < hi; i++)
        g[i] *= c->scale;
}

void model_scale_grad(model *m, float s) {
    if (!m->grads) return;
    norm_ctx c = {m, NULL, s};
    kern_parallel_for(nblocks(m), 1, scale_task, &c);
}

double model_clip_grad(model *m, double max_norm) {
    double n = model_grad_norm(m);
    if (max_norm > 0 && n > max_norm) model_scale_grad(m, (float)(max_norm / (n + 1e-6)));
    return n;
}

double model_lr_at(const model_lr_schedule *s, int64_t step) {
    if (s->warmup_steps > 0 && step < s->warmup_steps) return s->peak * (double)(step + 1) / (double)s->warmup_steps;
    if (s->kind == MODEL_LR_CONSTANT) return s->peak;
    int64_t span = s->total_steps - s->warmup_steps;
    if (span <= 0) return s->peak;
    double t = (double)(step - s->warmup_steps) / (double)span;
    if (t > 1) t = 1;
    return s->min_lr + 0.5 * (s->peak - s->min_lr) * (1 + cos(M_PI * t));
}
