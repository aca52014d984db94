/* A model's architecture, read from and written to a Hugging Face config.json (LlamaForCausalLM, Qwen2ForCausalLM). */
#ifndef RETOOL_MODEL_CONFIG_H
#define RETOOL_MODEL_CONFIG_H

#include <stdint.h>

#include "base/error.h"

typedef enum model_arch { MODEL_ARCH_LLAMA = 0, MODEL_ARCH_QWEN2 } model_arch;

typedef struct model_config {
    model_arch arch;
    int64_t vocab_size;
    int64_t hidden_size;             /* C */
    int64_t intermediate_size;       /* MLP width */
    int64_t num_layers;              /* num_hidden_layers */
    int64_t num_heads;               /* num_attention_heads (NH) */
    int64_t num_kv_heads;            /* num_key_value_heads (GQA); equals num_heads when absent */
    int64_t head_dim;                /* hidden_size / num_heads unless config.json says head_dim */
    int64_t max_position_embeddings;
    double rms_norm_eps;
    double rope_theta;
    int tie_word_embeddings;         /* lm_head shares embed_tokens */
    int attention_bias;              /* q/k/v projections have a bias (Qwen2: true; Llama: attention_bias) */
    int64_t bos_token_id;            /* -1 when absent */
    int64_t eos_token_id;            /* -1 when absent (first one when config.json has a list) */
    char torch_dtype[16];            /* "float32", "bfloat16" or "float16": the dtype of the weights on disk */
} model_config;

/* Reads config.json at path; every missing, mistyped or inconsistent field is an error naming path and field. */
rt_status model_config_load(const char *path, model_config *cfg, rt_error *err);

/* Writes cfg as a config.json that Hugging Face transformers loads (atomically). */
rt_status model_config_save(const char *path, const model_config *cfg, rt_error *err);

/* Checks the fields are consistent (positive sizes, heads divide, kv heads divide heads); names the bad field. */
rt_status model_config_validate(const model_config *cfg, const char *name, rt_error *err);

/* Number of parameters the architecture holds (embeddings counted once when tied). */
int64_t model_config_param_count(const model_config *cfg);

#endif
