/* Reinforcement learning with tool-integrated rollouts (the ReTool method): each step samples K trajectories for a
 * batch of problems through the rollout engine (the sandbox runs the code), scores them by outcome (+1 / -1), and
 * updates the policy with PPO (critic with a value head, GAE) or GRPO (group-normalised advantages). Interpreter
 * tokens are masked from every loss and from the KL. */
#ifndef RETOOL_TRAIN_RL_H
#define RETOOL_TRAIN_RL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "model/model.h"
#include "rollout/engine.h"
#include "rollout/prompt.h"
#include "train/policy_loss.h"

typedef enum train_algo { TRAIN_ALGO_PPO = 0, TRAIN_ALGO_GRPO } train_algo;

/* Parses "ppo" or "grpo". */
rt_status train_algo_parse(const char *name, train_algo *out, rt_error *err);

/* "ppo" or "grpo". */
const char *train_algo_name(train_algo a);

/* A reward for one finished trajectory; the default scores the boxed answer the model itself wrote against truth
 * (rollout_score). A custom one should read the model's text with rollout_model_text, not response_text (which holds
 * interpreter output a program controls). */
typedef double (*train_reward_fn)(void *ctx, const rollout_trajectory *t, const char *truth);

typedef struct train_rl_config {
    const char *model_dir;       /* starting policy (and critic, unless critic_dir) with its tokenizer */
    const char *critic_dir;      /* critic's starting model; NULL = a copy of the policy with a value head */
    const char *data_path;       /* problems JSONL */
    const char *format;          /* its layout ("auto") */
    const char *out_dir;         /* run directory */
    const char *sandbox;         /* "local", URLs, or "none" (text-only RL) */
    int sandbox_workers;
    int resume;                  /* continue the run in out_dir (its config.json is used) */
    train_algo algo;
    int64_t steps;               /* total steps */
    int64_t prompts_per_step;
    int64_t samples;             /* K per prompt */
    rollout_template template_kind; /* AUTO (default): the model folder's; resolved before config.json is written */
    rollout_config rollout;      /* tools mode, budgets, sampling, concurrency */
    double lr, critic_lr, weight_decay, clip_norm;
    int64_t warmup_steps;        /* learning-rate warm-up of the policy */
    int64_t critic_warmup;       /* steps that update only the critic (PPO) */
    int64_t ppo_epochs;          /* passes over a step's trajectories */
    int64_t minibatches;         /* optimizer steps per pass */
    int64_t micro_tokens;        /* rows of one forward/backward (gradients accumulate over them; bounds activations) */
    float clip_low, clip_high, value_clip;
    float gamma, lambda;
    int whiten;                  /* whiten PPO advantages over the batch */
    double kl_coef;              /* KL penalty to the frozen starting policy (0 = none: no reference is loaded) */
    train_kl_kind kl_kind;
    double entropy_coef;
    int grpo_scale_std;          /* GRPO: divide by the group's std (default 1) */
    int drop_flat_groups;        /* skip groups whose rewards are all equal (no signal) */
    int drop_void;               /* drop trajectories with neither code nor a final answer */
    int resample_on_correct;     /* rStar2-Agent: roll out 2K per prompt, train on K (train_roc_select) */
    int64_t save_every, keep_last;
    uint64_t seed;
    int threads;
    int f32;
    int recompute;               /* keep only each layer's input; backward recomputes the rest */
    int kv_bf16;                 /* rollouts keep keys and values as bf16 (half the cache; sampling within bf16
                                  * rounding of f32; the update recomputes every log-prob it uses) */
    int quiet;
    model_lora_cfg lora;         /* rank > 0: policy and critic train LoRA adapters on one shared frozen bf16 base;
                                  * the KL reference is that base with the adapters off */
    train_reward_fn reward_fn;   /* NULL: boxed-answer equivalence, +1 / -1 */
    void *reward_ctx;
} train_rl_config;

/* The reference recipe's defaults: PPO, lr 1e-6, critic lr 2e-6, clip 0.2 / 0.28, gamma = lambda = 1, KL 0, critic
 * warm-up 0 (the recipe uses 20 at its scale), 1 PPO epoch, 1 minibatch, 8 prompts x 4 samples, 8 tool calls. */
train_rl_config train_rl_defaults(void);

/* The configuration as JSON (what config.json holds) and back; unknown or mistyped fields are named. */
cJSON *train_rl_config_to_json(const train_rl_config *c);
rt_status train_rl_config_from_json(const cJSON *o, train_rl_config *c, rt_error *err);

typedef struct train_rl_result {
    int64_t steps;
    double first_reward, last_reward;  /* mean reward of the first and the last step run */
    double first_accuracy, last_accuracy;
} train_rl_result;

/* Runs RL until cfg->steps; writes config.json, metrics.jsonl, rollouts/step-N.jsonl, checkpoints/, RUN/model. */
rt_status train_rl_run(const train_rl_config *cfg, train_rl_result *res, rt_error *err);

#endif
