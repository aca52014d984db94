/* Inference: a KV cache holding many live sequences, and one call that runs new tokens of several sequences through
 * the model together (matrix products over all of them): a prompt's prefill, one decoding step of a whole batch, and
 * appending a run of tokens to a live sequence (interpreter output) are the same call with different shapes. */
#ifndef RETOOL_MODEL_INFER_H
#define RETOOL_MODEL_INFER_H

#include <stdint.h>

#include "base/error.h"
#include "model/model.h"

typedef struct model_kv model_kv;

/* An empty cache for model m (sequences grow on demand). */
rt_status model_kv_init(model_kv **kv, const model *m, rt_error *err);

/* Frees the cache and every sequence in it. */
void model_kv_free(model_kv *kv);

/* Stores keys and values as bf16 (on = 1; half the memory and cache traffic, rounded to nearest even) or f32 (on = 0,
 * the default: decoding then equals a full forward to float rounding). Only while no sequence is live. */
rt_status model_kv_set_bf16(model_kv *kv, int on, rt_error *err);

/* 1 when kv stores bf16 keys and values. */
int model_kv_is_bf16(const model_kv *kv);

/* Tells the cache the most tokens a sequence is expected to hold (a rollout's budget; 0: no limit): no sequence's
 * cache then grows past it (rounded up to 64 positions) unless the sequence itself does, so a plan of the cache's
 * memory at the budget is an upper bound. */
void model_kv_set_seq_limit(model_kv *kv, int64_t tokens);

/* Positions a sequence's cache of capacity cap holds once it must hold need under limit (0: none): cap when need fits,
 * else a quarter more (or need), rounded up to 64, but no more than limit rounded up to 64 when need fits in that. */
int64_t model_kv_seq_capacity(int64_t cap, int64_t need, int64_t limit);

/* Bytes of keys and values the live sequences' caches hold (their capacity, not only what is filled). */
size_t model_kv_bytes(const model_kv *kv);

/* Creates an empty sequence; *id is its handle (reused after model_seq_free). */
rt_status model_seq_new(model_kv *kv, int64_t *id, rt_error *err);

/* Creates a copy of sequence src (same cached tokens), e.g. one prompt prefilled once for a whole group. */
rt_status model_seq_fork(model_kv *kv, int64_t src, int64_t *id, rt_error *err);

/* Releases a sequence's cache. */
void model_seq_free(model_kv *kv, int64_t id);

/* Tokens cached for sequence id (its next position), or -1 when id is not live. */
int64_t model_seq_len(const model_kv *kv, int64_t id);

/* Forgets everything after the first len tokens of sequence id. */
rt_status model_seq_truncate(model_kv *kv, int64_t id, int64_t len, rt_error *err);

/* Tokens one pass of model_infer runs at most: its workspace (model_infer_workspace_bytes) is sized for this many. */
#define MODEL_INFER_MAX_TOKENS 1024

/* Bytes of model_infer's workspace for tokens new tokens (activations of one layer, f32 and bf16). */
double model_infer_workspace_bytes(const model_config *c, int64_t tokens);

/* Appends tokens[off[i] .. off[i+1]) to sequence ids[i] for i < n (distinct ids, at least one token each) and runs
 * them through the model, in passes of at most MODEL_INFER_MAX_TOKENS tokens (a longer call is sliced; its results are
 * the same); logits[n, V] receives the next-token logits after each sequence's last new token. all_logits (may be
 * NULL) receives [off[n], V]: the logits after every new token. Nothing runs when any input is refused. */
rt_status model_infer(model *m, model_kv *kv, int64_t n, const int64_t *ids, const int64_t *off, const int32_t *tokens,
                      float *logits, float *all_logits, rt_error *err);

/* One decoding step for n sequences, one token each: model_infer with off = 0, 1, ..., n. */
rt_status model_decode(model *m, model_kv *kv, int64_t n, const int64_t *ids, const int32_t *tokens, float *logits,
                       rt_error *err);

#endif
