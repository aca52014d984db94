/* AdamW, clipping and schedules: flat loops over the model's one gradient buffer. */
#include "model/optim.h"

#include <math.h>

#include "kernels/pool.h"

model_adamw model_adamw_defaults(void) {
    model_adamw a = {1e-3, 0.9, 0.999, 1e-8, 0.01};
    return a;
}

typedef struct adam_ctx {
    model *m;
    const model_adamw *o;
    float lr, bc1, bc2;
} adam_ctx;

static void adam_task(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    adam_ctx *c = vc;
    model *m = c->m;
    const float b1 = (float)c->o->beta1, b2 = (float)c->o->beta2, eps = (float)c->o->eps;
    for (int64_t ti = b; ti < e; ti++) {
        const model_tensor *t = &m->tensors[ti];
        float wd = t->decay ? (float)c->o->weight_decay : 0.0f;
        float *p = m->params + t->offset, *g = m->grads + t->offset, *mm = m->adam_m + t->offset,
              *vv = m->adam_v + t->offset;
        for (size_t i = 0; i < t->numel; i++) {
            float gi = g[i];
            mm[i] = b1 * mm[i] + (1 - b1) * gi;
            vv[i] = b2 * vv[i] + (1 - b2) * gi * gi;
            float mhat = mm[i] / c->bc1, vhat = vv[i] / c->bc2;
            p[i] -= c->lr * (mhat / (sqrtf(vhat) + eps) + wd * p[i]);
        }
    }
}

void model_adamw_step(model *m, const model_adamw *opt, double lr) {
    if (!m->grads) return;
    m->adam_step++;
    adam_ctx c = {m, opt, (float)lr, (float)(1 - pow(opt->beta1, (double)m->adam_step)),
                  (float)(1 - pow(opt->beta2, (double)m->adam_step))};
    kern_parallel_for((int64_t)m->ntensors, 1, adam_task, &c);
    model_sync_bf16(m);
}

double model_grad_norm(const model *m) {
    double s = 0;
    if (!m->grads) return 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const float *g = m->grads + m->tensors[i].offset;
        for (size_t j = 0; j < m->tensors[i].numel; j++) s += (double)g[j] * g[j];
    }
    return sqrt(s);
}

void model_scale_grad(model *m, float s) {
    if (!m->grads) return;
    for (size_t i = 0; i < m->nparams; i++) m->grads[i] *= s;
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
