/* Per-token policy and value losses of PPO/GRPO and their gradients with respect to the model's outputs (the new
 * log-prob of each taken token, the critic's value). The engine's backward turns these into parameter gradients.
 * Losses are summed over tokens with mask 1 and divided by `norm` (token-level normalisation: the number of valid
 * tokens in the whole batch, so every token weighs the same). */
#ifndef RETOOL_TRAIN_POLICY_LOSS_H
#define RETOOL_TRAIN_POLICY_LOSS_H

#include <stddef.h>
#include <stdint.h>

typedef struct train_pg_stats {
    double loss;          /* the clipped surrogate, normalised */
    double clip_frac;     /* share of valid tokens whose gradient the clip removed */
    double approx_kl;     /* mean of (old - new) log-prob over valid tokens */
    size_t tokens;        /* valid tokens seen */
} train_pg_stats;

/* PPO's clipped surrogate with separate low/high clip (ratio in [1 - clip_low, 1 + clip_high]):
 * loss_t = -min(ratio_t A_t, clip(ratio_t) A_t), ratio_t = exp(logp_t - old_logp_t). Writes dlogp[t] = d loss / d logp_t
 * (0 where masked or clipped). */
void train_ppo_policy_loss(const float *logp, const float *old_logp, const float *adv, const uint8_t *mask, size_t T,
                           float clip_low, float clip_high, double norm, float *dlogp, train_pg_stats *stats);

/* The critic's clipped value loss: 0.5 max((v - R)^2, (v_clip - R)^2), v_clip = old_v + clip(v - old_v, -c, c)
 * (c <= 0 turns clipping off). Writes dv[t]; returns the normalised loss. */
double train_value_loss(const float *v, const float *old_v, const float *ret, const uint8_t *mask, size_t T,
                        float clip, double norm, float *dv);

typedef enum train_kl_kind { TRAIN_KL_K1 = 0, TRAIN_KL_K3 } train_kl_kind;

/* KL penalty to a frozen reference, coef * estimator(logp, ref_logp), added to the loss: k1 = logp - ref,
 * k3 = exp(ref - logp) - (ref - logp) - 1. Adds its gradient into dlogp; returns the normalised (unscaled) KL. */
double train_kl_penalty(const float *logp, const float *ref_logp, const uint8_t *mask, size_t T, train_kl_kind kind,
                        float coef, double norm, float *dlogp);

#endif
