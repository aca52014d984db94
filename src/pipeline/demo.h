/* The default demo (README.md, The demo): from nothing, a small model learns exact-computation problems two ways on the
 * same data and for the same steps — text-only (text cold start + text RL) and tool-integrated (code cold start + RL
 * with the sandbox) — evaluated before and after RL on held-out problems, with a side-by-side table, summary.json and
 * report.html. Every stage leaves its output on disk and is skipped when that output is already there (resumable). */
#ifndef RETOOL_PIPELINE_DEMO_H
#define RETOOL_PIPELINE_DEMO_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "rollout/prompt.h"
#include "train/rl.h"

typedef struct pipe_demo_config {
    const char *out_dir;          /* default runs/demo */
    uint64_t seed;
    const char *families;         /* "all" or one family */
    int level;                    /* operand sizes (1-3; 0 = mixed) */
    int64_t train_problems, test_problems;
    int64_t tokenizer_vocab;
    const char *model_config;     /* config.json of the model to create */
    rollout_template template_kind;
    int threads, sandbox_workers;
    int64_t sft_max_steps, sft_batch_tokens, sft_warmup;
    double sft_lr, sft_min_lr;
    train_algo rl_algo;
    int64_t rl_steps, rl_prompts_per_step, rl_samples, rl_max_tokens, rl_max_tool_calls;
    double rl_lr, rl_temperature;
    int rl_drop_flat_groups;
    int64_t eval_samples, eval_max_tokens;
    double eval_temperature, eval_top_p;
    int quiet;
} pipe_demo_config;

/* Reads a demo configuration (configs/demo.json); every field is required and named when wrong. Strings point into
 * *keep (free it with cJSON_Delete after the run). */
rt_status pipe_demo_config_load(const char *path, pipe_demo_config *c, cJSON **keep, rt_error *err);

/* Runs (or resumes) the demo into c->out_dir. */
rt_status pipe_demo_run(const pipe_demo_config *c, rt_error *err);

#endif
