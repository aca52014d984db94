/* What a training step needs in memory, from the architecture and the batch alone (before anything is loaded), and
 * whether that fits in the memory this process may use (MemAvailable, and the cgroup's memory.max when set). */
#ifndef RETOOL_TRAIN_MEMPLAN_H
#define RETOOL_TRAIN_MEMPLAN_H

#include <stdint.h>

#include "base/error.h"
#include "model/config.h"

/* A training run's shape. */
typedef struct train_mem_req {
    int trained;         /* models trained with AdamW (SFT and GRPO 1; PPO 2: policy and critic) */
    int frozen;          /* frozen models in memory (the KL reference) */
    int64_t tokens;      /* rows of the largest forward/backward (SFT's batch, RL's micro-batch; RL packs at least
                          * one whole trajectory, so the plan takes rollout_len rows when that is more) */
    int64_t rollouts;    /* sequences decoded at once (0: no rollouts) */
    int64_t rollout_len; /* tokens each may cache (prompt, response and interpreter output) */
    int recompute;       /* activation recomputation: each layer's input kept, one layer's internals at a time */
    int lora_rank;       /* > 0: LoRA adapters of this rank on a frozen bf16 base held once (the KL reference is that
                          * base with the adapters off: frozen adds nothing) */
    unsigned lora_targets; /* MODEL_LORA_* bits (model/lora.h); 0 with a rank means all seven projections */
    int kv_bf16;           /* rollouts keep keys and values as bf16 (rl --kv-bf16): half the cache, plus one layer's
                            * f32 copy for the blocked attention kernel */
} train_mem_req;

/* Bytes, by what holds them. */
typedef struct train_mem_plan {
    double weights; /* f32 master weights and the bf16 copy (6 bytes a parameter), every model; LoRA: the bf16 base
                     * once and each trained model's f32 adapters */
    double grads;   /* f32 gradients (4), trained models (LoRA: of the adapters) */
    double optim;   /* AdamW m and v (8), trained models (LoRA: of the adapters) */
    double acts;    /* activations kept for backward and gradient scratch (one model's live at a time) */
    double head;    /* one chunk of f32 lm_head logits */
    double scratch; /* matrix-product scratch (bf16 operands widened to f32 where the CPU has no bf16 matmul) */
    double kv;      /* rollouts: KV cache (f32 or bf16, at its capacity for rollout_len; bf16 adds one layer's f32
                     * copy) and two rows of logits per live sequence */
    double infer;   /* rollouts: the inference workspace (a pass of at most MODEL_INFER_MAX_TOKENS tokens) */
    double runtime; /* tokenizer, libraries, buffers: a fixed allowance */
    double total;   /* weights, gradients, AdamW, scratch and runtime, plus the larger of the rollout phase (kv + infer)
                     * and the update phase (acts + head): rl never holds both */
} train_mem_plan;

/* Rows of q's largest forward/backward: its tokens, or with rollouts a whole trajectory (rollout_len) when that is
 * more (RL's micro-batches hold at least one trajectory, never a part). */
int64_t train_mem_rows(const train_mem_req *q);

/* Fills *p for configuration c and request q. */
void train_mem_plan_make(const model_config *c, const train_mem_req *q, train_mem_plan *p);

/* Parameters of rank-rank adapters on the projections of targets (MODEL_LORA_* bits; 0 = all) of c. */
double train_mem_lora_params(const model_config *c, int rank, unsigned targets);

/* The architecture behind a model folder: dir/config.json, or for a PEFT adapter folder its base's; *rank and
 * *targets receive the adapter's settings when dir is one and *rank is 0 (a LoRA run continued without flags). */
rt_status train_mem_model_config(const char *dir, model_config *c, int *rank, unsigned *targets, rt_error *err);

/* Bytes this process can still use: the smaller of /proc/meminfo's MemAvailable and the cgroup's memory.max minus
 * memory.current (cgroup v2); 0 when neither can be read. */
uint64_t train_mem_available(void);

/* RT_ENOMEM with a message naming what (e.g. "sft"), the plan's total and its largest parts, and the memory
 * available, when the plan does not fit; RT_OK otherwise (and when the available memory cannot be read). */
rt_status train_mem_check(const model_config *c, const train_mem_req *q, const char *what, rt_error *err);

#endif
