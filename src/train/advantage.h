/* Advantages for policy-gradient training from outcome rewards: GAE over the model-written tokens of a trajectory
 * (interpreter tokens are not steps of the policy and are skipped), whitening, and GRPO's group normalisation.
 * All arrays are per response token, length T; mask[t] = 1 for tokens the model wrote. */
#ifndef RETOOL_TRAIN_ADVANTAGE_H
#define RETOOL_TRAIN_ADVANTAGE_H

#include <stddef.h>
#include <stdint.h>

/* GAE(gamma, lambda) for one trajectory whose only reward, `reward`, comes after its last model-written token.
 * values[t] is the critic's estimate at token t. The timeline is the model-written tokens in order; masked tokens
 * get advantage 0 and return 0. adv and ret have length T. */
void train_gae(const float *values, const uint8_t *mask, size_t T, float reward, float gamma, float lambda,
               float *adv, float *ret);

/* Whitens x over the tokens where mask is 1 (all trajectories of a batch, concatenated): x = (x - mean) / (std + eps),
 * with the mean kept when center is 0 (shift-free scaling). Masked entries are left as they are. Returns the count. */
size_t train_whiten(float *x, const uint8_t *mask, size_t n, int center, float eps);

/* GRPO: for one group of G rewards, out[i] = (r[i] - mean) / (std + eps) (population std); when scale_std is 0 only the
 * mean is subtracted (Dr. GRPO). */
void train_grpo_group_advantages(const float *rewards, size_t G, int scale_std, float eps, float *out);

/* GRPO over a batch in group order: each run of equal group[i] is one group, of any size, and out[i] is item i's
 * advantage within its group (as train_grpo_group_advantages). */
void train_grpo_batch_advantages(const int64_t *group, const float *rewards, size_t n, int scale_std, float eps,
                                 float *out);

/* Non-zero when all G rewards of a group are equal: the group carries no learning signal. */
int train_group_is_flat(const float *rewards, size_t G);

#endif
