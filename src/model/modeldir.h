/* Hugging Face model folders written by retool: config.json, model.safetensors, generation_config.json (and the
 * tokenizer files copied in), each written atomically; random initialisation for training from scratch. */
#ifndef RETOOL_MODEL_MODELDIR_H
#define RETOOL_MODEL_MODELDIR_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/config.h"
#include "model/layout.h"
#include "model/safetensors.h"

/* Writes dir (created when missing): model.safetensors with tensors (f32 in memory: dtype ST_F32) stored as dtype
 * (ST_F32 or ST_BF16), config.json (torch_dtype set to match) and generation_config.json. Every tensor of
 * model_tensor_specs(cfg) must be given with its shape; extra tensors (e.g. a value head) are written after them. */
rt_status model_dir_write(const char *dir, const model_config *cfg, const st_tensor *tensors, size_t n, st_dtype dtype,
                          rt_error *err);

/* Writes a randomly initialised model folder: normal(0, 0.02) weights, ones for norms, zeros for biases,
 * normal(0, 0.02 / sqrt(2 * layers)) for o_proj and down_proj; identical for a seed on every machine. */
rt_status model_dir_init(const model_config *cfg, const char *out_dir, uint64_t seed, st_dtype dtype, rt_error *err);

/* Fills out (model_tensor_spec_numel(spec) floats) with the initial values of spec, the index-th tensor of the
 * layout: a function of (seed, index) only. */
void model_init_tensor(const model_config *cfg, const model_tensor_spec *spec, uint64_t seed, size_t index, float *out);

/* Copies tokenizer.json and tokenizer_config.json from tok_dir into dir (byte copies, atomic); refuses a tokenizer
 * whose token ids do not fit in cfg's vocab_size (cfg may be NULL to skip the check). */
rt_status model_dir_copy_tokenizer(const char *tok_dir, const char *dir, const model_config *cfg, rt_error *err);

/* The largest token id in a tokenizer.json (model.vocab values and added_tokens ids) into *max_id. */
rt_status model_tokenizer_max_id(const char *tokenizer_json, int64_t *max_id, rt_error *err);

#endif
