/* Supervised fine-tuning on trajectories (cold-start traces and sampled rollouts share the trajectory JSONL format):
 * the loss covers only the response tokens the model wrote (mask 1); prompt and interpreter output are context.
 * Short samples are packed together (no attention across them); epochs, held-out loss, checkpoints, exact resume. */
#ifndef RETOOL_TRAIN_SFT_H
#define RETOOL_TRAIN_SFT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/model.h"

typedef struct train_sft_config {
    const char *model_dir;     /* starting model folder (with its tokenizer, copied into checkpoints) */
    const char *data_path;     /* trajectory JSONL */
    const char *out_dir;       /* run directory */
    int resume;                /* continue from the newest checkpoint in out_dir */
    int64_t epochs;
    int64_t max_steps;         /* stop (with a checkpoint) once this many steps are done in all; 0 = no limit */
    int64_t batch_tokens;      /* tokens per packed batch (default 4096) */
    int64_t max_seq_len;       /* longer samples are cut (0 = the model's max_position_embeddings) */
    double lr, min_lr, weight_decay, clip_norm;
    int64_t warmup_steps;
    int cosine;                /* cosine decay to min_lr, else constant */
    double eval_frac;          /* share of samples held out (default 0.05; at least 1 when > 0) */
    int64_t eval_every;        /* steps between held-out evaluations (0 = at each epoch's end only) */
    int64_t save_every;        /* steps between checkpoints (0 = at the end only) */
    int64_t keep_last;         /* checkpoints kept (default 2) */
    uint64_t seed;
    int f32;                   /* pure-f32 products instead of bf16 */
    int recompute;             /* keep only each layer's input; backward recomputes the rest */
    int quiet;                 /* no progress bar */
    model_lora_cfg lora;       /* rank > 0: LoRA adapters on the frozen base; RUN/model is then a PEFT adapter */
} train_sft_config;

/* Defaults: 1 epoch, 4096 tokens a batch, lr 1e-4 cosine to 1e-5, 10 warm-up steps, weight decay 0.01, clip 1.0,
 * 5% held out, keep 2 checkpoints, seed 1. */
train_sft_config train_sft_defaults(void);

/* Summary of a finished run. */
typedef struct train_sft_result {
    int64_t steps;
    double first_loss, last_loss;   /* mean training loss of the first and last step */
    double eval_loss;               /* held-out loss at the end (NAN when nothing is held out) */
    size_t train_samples, eval_samples, truncated;
} train_sft_result;

/* The steps a run will take in all: epochs x steps_per_epoch, capped by max_steps when it is set (> 0); saturates
 * instead of overflowing. The progress bar's total. */
int64_t train_sft_total_steps(int64_t steps_per_epoch, int64_t epochs, int64_t max_steps);

/* Runs SFT; writes out_dir/config.json, metrics.jsonl, checkpoints/, and the final model folder out_dir/model. */
rt_status train_sft_run(const train_sft_config *cfg, train_sft_result *res, rt_error *err);

#endif
