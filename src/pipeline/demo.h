/* The default demo (README.md, The demo): from nothing, a small model learns exact-computation problems two ways on the
 * same data and for the same steps — text-only (text cold start + text RL) and tool-integrated (code cold start + RL
 * with the sandbox) — evaluated before and after RL on held-out problems, with a side-by-side table, summary.json and
 * report.html. Every stage leaves its output on disk and is skipped when that output is already there (resumable);
 * DIR/settings.json records what the run was made with, and a run asked to resume with other settings stops. */
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
    const char *sandbox;          /* the tool pipeline's sandbox spec (rollout/exec_spec.h); NULL: "local" */
    int64_t sft_max_steps, sft_batch_tokens, sft_warmup;
    double sft_lr, sft_min_lr;
    train_algo rl_algo;
    int64_t rl_steps, rl_prompts_per_step, rl_samples;
    int64_t rl_critic_warmup; /* PPO: steps that train only the critic */
    double rl_lr, rl_temperature;
    int rl_drop_flat_groups;
    int64_t eval_samples;
    double eval_temperature, eval_top_p;
    /* Budgets of each pipeline, for its RL rollouts and its evaluations alike: [0] text-only, [1] tool-integrated.
     * Each fits its own cold-start traces (text traces spell out every step and run longer). */
    int64_t max_response_tokens[2];
    int64_t max_tool_calls;
    int quiet;
} pipe_demo_config;

/* The settings a demo's results depend on, as one flat JSON object ("seed", "rl.algo", "budgets.text.max_tokens",
 * ...): what DIR/settings.json holds and summary.json reports. Threads, workers and quiet are not among them. */
cJSON *pipe_demo_settings_json(const pipe_demo_config *c);

/* Reads a demo configuration (configs/demo.json); every field is required and named when wrong. Strings point into
 * *keep (free it with cJSON_Delete after the run). */
rt_status pipe_demo_config_load(const char *path, pipe_demo_config *c, cJSON **keep, rt_error *err);

/* Runs (or resumes) the demo into c->out_dir. */
rt_status pipe_demo_run(const pipe_demo_config *c, rt_error *err);

#endif
