/* The update half of an RL step: teacher-forced forwards over a step's trajectories (log-probs, entropy, values) and
 * the optimizer steps of the policy (PPO clipped surrogate or GRPO) and of the critic. Internal to train/. */
#ifndef RETOOL_TRAIN_RL_UPDATE_H
#define RETOOL_TRAIN_RL_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/rng.h"
#include "model/model.h"
#include "model/optim.h"
#include "rollout/trajectory.h"
#include "train/policy_loss.h"

/* One trajectory with its per-response-token arrays (length t->n_response; entries where mask is 0 are unused). */
typedef struct rl_item {
    rollout_trajectory *t;
    float *adv, *ret; /* advantages and returns */
    float *old_logp;  /* log-probs under the policy that sampled (recomputed teacher-forced) */
    float *old_value; /* critic values before the update (PPO) */
    float *ref_logp;  /* reference policy log-probs (KL), or NULL */
} rl_item;

/* Allocates the arrays of an item for t. */
rt_status rl_item_init(rl_item *it, rollout_trajectory *t, int need_ref, rt_error *err);

/* Frees an item's arrays (not the trajectory). */
void rl_item_free(rl_item *it);

/* Teacher-forced forward over items[0, n) in packs of at most max_tokens; fills, per item and response token, the
 * log-prob (into logp_out[i] when not NULL) and the value (value_out[i]); entropy_sum/count accumulate the mean
 * entropy over model-written tokens (may be NULL). */
rt_status rl_forward(model *m, rl_item *items, size_t n, size_t max_len, size_t max_tokens, float **logp_out,
                     float **value_out, double *entropy_sum, size_t *entropy_count, rt_error *err);

typedef struct rl_policy_hp {
    float clip_low, clip_high;
    double kl_coef;
    train_kl_kind kl_kind;
    double entropy_coef;
    double clip_norm;
    double lr;
    model_adamw opt;
    int old_from_update;  /* on-policy (one epoch, one minibatch): the old log-probs are this update's own forward's */
    uint64_t dropout_key; /* LoRA dropout of this update's gradient passes (each micro-batch its own key from it); 0:
                           * none */
} rl_policy_hp;

/* Called by rl_critic_update for each item, between its micro-batch's forward and loss, when the forward's values
 * are the item's old values (it computes the item's advantages and returns). */
typedef rt_status (*rl_values_ready_fn)(void *ctx, rl_item *it, rt_error *err);

typedef struct rl_update_stats {
    double policy_loss, clip_frac, approx_kl, kl, entropy, grad_norm, value_loss, value_grad_norm;
    size_t updates;       /* policy optimizer steps taken */
    size_t value_updates; /* critic optimizer steps taken (a minibatch with no trained token takes none) */
    double t_forward, t_backward, t_optim; /* seconds in model forwards, backwards, clipping + AdamW */
    double t_policy, t_critic;             /* seconds spent on each model (their forwards, updates) in rl.c */
    double cpu_policy, cpu_critic;         /* the same in CPU seconds (all threads) */
    double policy_tokens, critic_tokens;   /* rows each model trained on */
} rl_update_stats;

/* One optimizer step of the policy on items[idx[0..n)] (token-level normalisation over their model-written tokens),
 * gradients accumulated over micro-batches of at most micro_tokens rows (one item alone may be longer), so that
 * activations are bounded by micro_tokens whatever the minibatch. Under mpirun every rank calls it with its share of
 * the minibatch (possibly empty): the normalisation counts every rank's tokens, gradients and statistics are summed
 * over ranks before the clip and the step. */
rt_status rl_policy_update(model *m, rl_item *items, const size_t *idx, size_t n, size_t max_len, size_t micro_tokens,
                           const rl_policy_hp *hp, rl_update_stats *st, rt_error *err);

/* One optimizer step of the critic (value head) on items[idx[0..n)], clipped value loss against the returns, in
 * micro-batches (data parallel like rl_policy_update). With values_ready (on-policy), the forward's values become each
 * item's old values and values_ready(ctx, item) runs before its loss; it is not called when the items hold no trained
 * token. dropout_key as rl_policy_hp's. */
rt_status rl_critic_update(model *critic, rl_item *items, const size_t *idx, size_t n, size_t max_len,
                           size_t micro_tokens, float value_clip, double clip_norm, double lr, const model_adamw *opt,
                           uint64_t dropout_key, rl_values_ready_fn values_ready, void *ctx, rl_update_stats *st,
                           rt_error *err);

#endif
