/* Training utilities over the model's flat buffers: AdamW, global-norm clipping, learning-rate schedules. */
#ifndef RETOOL_MODEL_OPTIM_H
#define RETOOL_MODEL_OPTIM_H

#include <stdint.h>

#include "model/model.h"

typedef struct model_adamw {
    double lr, beta1, beta2, eps, weight_decay;
} model_adamw;

/* Sensible defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
model_adamw model_adamw_defaults(void);

/* One AdamW step (decoupled weight decay on 2-D tensors only, bias-corrected moments) at learning rate lr, then
 * refreshes the bf16 copy. Gradients are left as they are (zero them for the next step). */
void model_adamw_step(model *m, const model_adamw *opt, double lr);

/* The global L2 norm of all gradients. */
double model_grad_norm(const model *m);

/* Scales the gradients so their global norm is at most max_norm (no-op when max_norm <= 0); returns the norm before. */
double model_clip_grad(model *m, double max_norm);

/* Scales every gradient by s (e.g. 1/micro-batches when accumulating). */
void model_scale_grad(model *m, float s);

typedef enum model_lr_kind { MODEL_LR_CONSTANT = 0, MODEL_LR_COSINE } model_lr_kind;

typedef struct model_lr_schedule {
    model_lr_kind kind;
    double peak, min_lr;
    int64_t warmup_steps, total_steps;
} model_lr_schedule;

/* The learning rate at step (0-based): linear warm-up to peak over warmup_steps, then constant or cosine decay to
 * min_lr at total_steps. */
double model_lr_at(const model_lr_schedule *s, int64_t step);

#endif
