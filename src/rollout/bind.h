/* Binds the rollout interfaces (ops.h) to retool's own layers: the transformer engine as the policy (KV cache,
 * batched decode, append-prefill, sampling with a seed per sequence) and a tokenizer.json tokenizer. */
#ifndef RETOOL_ROLLOUT_BIND_H
#define RETOOL_ROLLOUT_BIND_H

#include <stddef.h>

#include "base/error.h"
#include "model/infer.h"
#include "model/model.h"
#include "rollout/ops.h"
#include "tokenizer/tokenizer.h"

typedef struct rollout_model_policy rollout_model_policy;

/* A policy over model m (loaded, not owned) with its own KV cache for up to max_seqs live sequences. */
rt_status rollout_model_policy_init(rollout_model_policy **out, model *m, size_t max_seqs, rt_error *err);

/* Frees the cache and every sequence. */
void rollout_model_policy_free(rollout_model_policy *p);

/* The policy interface over p. */
rollout_policy rollout_model_policy_ops(rollout_model_policy *p);

/* Stores the policy's keys and values as bf16 (on = 1) or f32 (0, the default); only while no sequence is live. */
rt_status rollout_model_policy_kv_bf16(rollout_model_policy *p, int on, rt_error *err);

/* The most tokens a sequence is expected to hold (a rollout's budget): no cache grows past it unless its sequence does
 * (model_kv_set_seq_limit). */
void rollout_model_policy_seq_limit(rollout_model_policy *p, int64_t tokens);

/* Tokens prefilled through open, append and advance's feeds so far (prompt + interpreter tokens: never the context
 * again). */
size_t rollout_model_policy_prefilled(const rollout_model_policy *p);

/* Model calls made so far (each open, append, step and advance that computed something counts one). */
size_t rollout_model_policy_calls(const rollout_model_policy *p);

/* Forced decoding, for benchmarks and tests: returns the tokens a sequence opened for prompt[0, n) emits instead of
 * sampling (*len of them, kept alive by the caller), or NULL to sample. */
typedef const int32_t *(*rollout_force_fn)(void *ctx, const int32_t *prompt, size_t n, size_t *len);

/* Sequences opened from now on replay fn's tokens, each reported with its log-prob under the sampling distribution
 * (as model_sample reports it), then sample; fn NULL turns it off. The model and cache run exactly as in sampling. */
void rollout_model_policy_force(rollout_model_policy *p, rollout_force_fn fn, void *ctx);

/* The next-token logits [V] that sequence seq holds (for tests), or NULL. */
const float *rollout_model_policy_logits(const rollout_model_policy *p, int64_t seq);

#define ROLLOUT_MAX_STOP_IDS 4

/* The ids that end a response: the model's EOS (config.json) and the end markers the tokenizer has (<|im_end|>,
 * <|endoftext|>, <|eot_id|>), without repeats; writes at most ROLLOUT_MAX_STOP_IDS into out, returns how many. */
size_t rollout_stop_ids(const model *m, const tok_tokenizer *tok, int32_t *out);

/* The tokenizer interface over tok (not owned). Encoding never parses special tokens in interpreter output. */
rollout_tokenizer rollout_tokenizer_ops(tok_tokenizer *tok);

#endif
