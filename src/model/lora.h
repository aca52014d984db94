/* LoRA adapters on a frozen bf16 base (PEFT's formula): each targeted projection W [out, in] reads
 * W + (alpha / r) B A with A [r, in] and B [out, r] in f32, trained with their own gradients and AdamW state (the
 * model's params / grads / adam buffers then hold only these and a value head). retool fuses q/k/v and gate/up into
 * one product each: the adapters of a fused group share one product x . [A_q; A_k; A_v]^T, then each B writes its own
 * rows of the fused output. Names are PEFT's (base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight). */
#ifndef RETOOL_MODEL_LORA_H
#define RETOOL_MODEL_LORA_H

#include "model/model_internal.h"

/* Target projections (bits of model_lora_cfg.targets), in PEFT's module names q_proj, k_proj, ... */
enum {
    MODEL_LORA_Q = 1 << 0,
    MODEL_LORA_K = 1 << 1,
    MODEL_LORA_V = 1 << 2,
    MODEL_LORA_O = 1 << 3,
    MODEL_LORA_GATE = 1 << 4,
    MODEL_LORA_UP = 1 << 5,
    MODEL_LORA_DOWN = 1 << 6,
    MODEL_LORA_ALL = (1 << 7) - 1,
    MODEL_LORA_NTARGETS = 7
};

/* PEFT's module name of target bit i (0 .. MODEL_LORA_NTARGETS-1): "q_proj", ..., "down_proj". */
const char *model_lora_target_name(int i);

/* Writes the targets' PEFT module names, comma-separated ("q_proj,v_proj"), into out (cap bytes). */
void model_lora_targets_str(unsigned targets, char *out, size_t cap);

/* Parses a comma-separated target list ("q,k,v,o,gate,up,down" or PEFT names "q_proj,..."); errors name the bad
 * entry. */
rt_status model_lora_parse_targets(const char *list, unsigned *out, rt_error *err);

/* Checks rank, alpha, targets and dropout; errors name the field. */
rt_status model_lora_check(const model_lora_cfg *cfg, rt_error *err);

/* Appends the adapters' tensors to m's table (A's of a fused group back to back, then their B's) starting at float
 * offset *off, and creates m->lora. The table must have room for model_lora_ntensors more entries. */
rt_status model_lora_build(model *m, const model_lora_cfg *cfg, size_t *off, rt_error *err);

/* Number of tensors model_lora_build adds for cfg on m's config. */
size_t model_lora_ntensors(const model *m, const model_lora_cfg *cfg);

/* m's LoRA settings, or NULL when it has no adapters. */
const model_lora_cfg *model_lora_config(const model *m);

/* Frees m->lora (not the tensors: they live in m->params). */
void model_lora_free(model *m);

/* PEFT's initialisation: every A uniform in [-1/sqrt(in), 1/sqrt(in)] (kaiming_uniform with a = sqrt(5)), every B
 * zero, so the adapted model starts equal to the base; deterministic in seed. */
void model_lora_init_random(model *m, uint64_t seed);

/* LoRA dropout of adapter target (0 .. MODEL_LORA_NTARGETS-1) of layer l on M rows of K inputs: out = x * mask, the
 * mask 0 with probability p, else 1/(1-p) (x NULL: out = the mask), a pure function of (key, l, target, row, column):
 * a training pass and its backward (or its recomputation) draw the same mask, any thread count, any machine. out
 * may be x. */
void lora_dropout_apply(uint64_t key, double p, int64_t l, int target, int64_t M, int64_t K, const float *x,
                        float *out);

/* out[M, N] += (alpha/r) (dropout(x) . A^T) . B^T for each adapter of matrix w of layer l (nothing when none);
 * dropout only while m->lora_dropout_key is set, each adapter with its own mask. */
rt_status lora_forward(const model *m, float *out, const float *x, int64_t l, model_wkind w, int64_t M, rt_error *err);

/* Backward of lora_forward given dy[M, N] and x[M, K]: accumulates the adapters' gradients and adds their input
 * gradient into dx (when not NULL). */
rt_status lora_backward(model *m, float *dx, const float *dy, const float *x, int64_t l, model_wkind w, int64_t M,
                        rt_error *err);

#endif
