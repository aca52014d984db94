/* The transformer (Llama / Qwen2): parameters in one allocation (gradients, AdamW moments and the bf16 copy in one
 * each, carved the same way), loading and saving Hugging Face model folders, and the training path: forward over a
 * packed batch of sequences with per-token log-probs, entropy and an optional value head, and backward for every
 * parameter. Matrix products run in bf16 with f32 accumulation by default (MODEL_PREC_BF16) or in f32. */
#ifndef RETOOL_MODEL_MODEL_H
#define RETOOL_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "kernels/ops.h"
#include "model/config.h"

typedef enum model_precision { MODEL_PREC_BF16 = 0, MODEL_PREC_F32 } model_precision;

/* One layer's parameters (views into a model's buffer). q, k, v weights are adjacent ([(NH+2KVH)*HS, C], one product),
 * and so are gate and up ([2I, C]). qkv_b is NULL without attention bias. */
typedef struct model_layer {
    float *ln1, *qkv_w, *qkv_b, *o_w, *ln2, *gu_w, *down_w;
} model_layer;

/* Views of all parameters (or of their gradients) in one buffer. lm_head equals embed when tied; value_w/value_b are
 * NULL without a value head. */
typedef struct model_views {
    float *embed, *final_norm, *lm_head, *value_w, *value_b;
    model_layer *layers;
} model_views;

/* A named tensor of the buffer: its Hugging Face name, shape, offset (in floats) and whether AdamW decays it. */
typedef struct model_tensor {
    char name[96];
    int ndim;
    int64_t shape[2];
    size_t offset, numel;
    int decay;
} model_tensor;

/* bf16 views of one layer's matrices as the products read them (q/k/v and gate/up fused as above). */
typedef struct model_layer16 {
    const uint16_t *qkv_w, *o_w, *gu_w, *down_w;
} model_layer16;

/* bf16 views of every matrix (lm_head equals embed when tied). */
typedef struct model_views16 {
    const uint16_t *embed, *lm_head;
    model_layer16 *layers;
} model_views16;

typedef struct model_acts model_acts; /* forward activations kept for backward (model.c) */
typedef struct model_base model_base; /* a frozen base (model/frozen.h) */
typedef struct model_lora model_lora; /* LoRA adapters on a frozen base (model/lora.h) */

/* LoRA settings: effective weight W + (alpha / rank) B A on each targeted projection (PEFT's formula). */
typedef struct model_lora_cfg {
    int rank;         /* 0: no adapters */
    double alpha;     /* scale numerator (alpha / rank) */
    unsigned targets; /* MODEL_LORA_Q | ... (model/lora.h) */
    double dropout;   /* PEFT's lora_dropout: on each adapter's input in training passes (model.lora_dropout_key) */
} model_lora_cfg;

typedef struct model {
    model_config cfg;
    model_precision prec;
    int value_head;
    int64_t qkv_dim; /* (NH + 2*KVH) * HS */
    model_tensor *tensors;
    size_t ntensors;
    size_t nparams; /* floats in each buffer */
    float *params;  /* f32 master weights */
    float *grads;   /* allocated by model_train_init */
    float *adam_m, *adam_v;
    uint16_t *params_bf16; /* bf16 copy used by the products (MODEL_PREC_BF16); refresh with model_sync_bf16 */
    model_views p, g;
    model_views16 w16;         /* the matrices as bf16 products read them (into params_bf16 or the frozen base) */
    model_base *base;          /* frozen mode: the base weights (shared, refcounted); params / grads / adam then hold
                                * only the trainable tensors (LoRA adapters, value head) */
    model_lora *lora;          /* adapters (frozen mode with a LoRA rank), or NULL */
    int lora_off;              /* non-zero: products skip the adapters (the base alone, e.g. the KL reference) */
    uint64_t lora_dropout_key; /* non-zero: the forwards and backwards that follow are training passes that apply
                                * the adapters' dropout, masks drawn from this key (lora_dropout_apply); 0 (inference,
                                * rollouts, old and reference log-probs): none. Set it before a forward, keep it for
                                * that forward's backward. */
    kern_rope rope;
    model_acts *acts;
    int64_t adam_step;
    int64_t head_rows; /* lm_head rows per chunk in training (0: MODEL_HEAD_BYTES of f32 logits) */
    int recompute;     /* keep only each layer's input; backward recomputes the rest (one more forward, ~1/L of the
                          activations) */
} model;

/* The f32 logits a training forward or backward holds at once (one chunk of rows of the lm_head). */
#define MODEL_HEAD_BYTES ((uint64_t)128 << 20)

/* Options for creating a model. */
typedef struct model_opts {
    model_precision prec;
    int value_head;      /* add a scalar value head ([C] weight + bias on the final normed hidden state) */
    int frozen;          /* model_load: hold the base frozen, as bf16 only (memory-mapped where the file allows; f32
                          * with MODEL_PREC_F32), no f32 master copy, no gradients for it (docs/ENGINE.md) */
    model_lora_cfg lora; /* rank > 0: LoRA adapters on the frozen base (implies frozen) */
    model_base *share;   /* frozen mode: use this loaded base instead of reading one (PPO's critic) */
    const char *adapter; /* frozen mode: a PEFT adapter folder to load (its config gives lora when rank is 0) */
} model_opts;

/* Allocates a model for cfg with zeroed parameters (validates cfg first). */
rt_status model_init(model *m, const model_config *cfg, const model_opts *opts, rt_error *err);

/* Frees everything the model holds. */
void model_free(model *m);

/* Fills the parameters like Hugging Face's initialisation: normal(0, std) matrices (output projections scaled by
 * 1/sqrt(2*layers)), unit norms, zero biases; deterministic in seed. A frozen-mode model initialises its LoRA
 * adapters instead (model_lora_init_random). */
void model_init_random(model *m, uint64_t seed, double std);

/* Loads config.json and the weights (any float dtype, sharded or not) of a model folder; a missing or misshaped
 * tensor is an error naming the folder and the tensor. A value head, when requested, is read from value_head.weight /
 * value_head.bias if present, else zero. With opts->frozen, a LoRA rank, an adapter, or when dir is itself a PEFT
 * adapter folder (its base then comes from base_model_name_or_path), the base is loaded frozen (model/frozen.h). */
rt_status model_load(model *m, const char *dir, const model_opts *opts, rt_error *err);

/* Writes config.json and model.safetensors (F32, or BF16 when bf16 is set) into dir (created if needed), atomically.
 * A LoRA model writes its adapters in PEFT's layout instead (model/peft.h), plus value_head.safetensors when it has a
 * value head. */
rt_status model_save(const model *m, const char *dir, int bf16, rt_error *err);

/* Writes the AdamW moments and step count to path (safetensors: adam_m.<name>, adam_v.<name>; metadata format
 * retool-adamw, version 1, adam_step), atomically. */
rt_status model_save_optimizer(const model *m, const char *path, rt_error *err);

/* Reads what model_save_optimizer wrote (allocating the training state if needed); names the missing tensor. */
rt_status model_load_optimizer(model *m, const char *path, rt_error *err);

/* The tensor named name, or NULL. */
const model_tensor *model_find_tensor(const model *m, const char *name);

/* Copies the f32 master weights into the bf16 copy (after loading, initialising or an optimizer step). */
void model_sync_bf16(model *m);

/* A packed batch: sequence b is tokens[start[b] .. start[b+1]); targets[r] is the token whose log-prob row r
 * predicts (usually tokens[r+1]), or -1 for none. N = start[nseq]. No token attends across sequences. */
typedef struct model_batch {
    int64_t nseq;
    const int64_t *start;
    const int32_t *tokens;
    const int32_t *targets;
} model_batch;

/* Forward over the batch, keeping what backward needs. Outputs (each [N], may be NULL): logp of each target (0 where
 * the target is -1), entropy of each row's next-token distribution, value (needs the value head). */
rt_status model_forward(model *m, const model_batch *b, float *logp, float *entropy, float *value, rt_error *err);

/* Backward of the last model_forward: accumulates into the gradients d(loss)/d(parameters) given dlogp, dent,
 * dvalue ([N] each, any may be NULL meaning zero). Call model_train_init once first. */
rt_status model_backward(model *m, const float *dlogp, const float *dent, const float *dvalue, rt_error *err);

/* The full logits [N, V] of a batch (no activations kept for backward); for tests and scoring small vocabularies. */
rt_status model_logits(model *m, const model_batch *b, float *logits, rt_error *err);

/* Frees the activations the last forward kept (the next forward allocates them again); a backward needs a forward
 * after it. RL releases each model's after its part of a step, so that only one model's are live at a time. */
void model_release_activations(model *m);

/* Allocates gradients and AdamW moments (zeroed). */
rt_status model_train_init(model *m, rt_error *err);

/* Sets every gradient to zero (start of a step; gradients accumulate over micro-batches otherwise). */
void model_zero_grad(model *m);

/* Cross-entropy step on a batch: forward, then backward of loss = -sum_r weight[r] * logp[r] (weights [N], e.g. 0 on
 * interpreter output, 1/count elsewhere). Returns the loss in *loss; logp may be NULL. */
rt_status model_xent_step(model *m, const model_batch *b, const float *weight, float *loss, float *logp, rt_error *err);

#endif
