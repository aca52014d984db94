/* The tensors a Llama / Qwen2 model stores: Hugging Face names, shapes, order, and how each is initialised. */
#ifndef RETOOL_MODEL_LAYOUT_H
#define RETOOL_MODEL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"

typedef enum model_init_kind {
    MODEL_INIT_NORMAL = 0,   /* normal(0, 0.02) */
    MODEL_INIT_ONES,         /* RMSNorm gains */
    MODEL_INIT_ZEROS,        /* biases */
    MODEL_INIT_NORMAL_SCALED /* normal(0, 0.02 / sqrt(2 * num_layers)): o_proj and down_proj */
} model_init_kind;

typedef struct model_tensor_spec {
    char name[96];
    int ndim;
    int64_t shape[2];
    model_init_kind init;
} model_tensor_spec;

/* The standard deviation of normal initialisation (transformers' initializer_range). */
#define MODEL_INIT_STD 0.02

/* Fills out (when not NULL) with every tensor the architecture stores, in HF order and names; returns the count. */
size_t model_tensor_specs(const model_config *cfg, model_tensor_spec *out);

/* The standard deviation spec's init draws from (0 for ONES and ZEROS). */
double model_tensor_init_std(const model_config *cfg, const model_tensor_spec *spec);

/* Number of elements of spec. */
int64_t model_tensor_spec_numel(const model_tensor_spec *spec);

#endif
