/* The tensor list of a Llama / Qwen2 model in Hugging Face's order (embeddings, layers, final norm, lm_head). */
#include "model/layout.h"

#include <math.h>
#include <stdio.h>

/* Appends one spec (when out is not NULL) and returns the new count. */
static size_t add(model_tensor_spec *out, size_t n, const char *name, int ndim, int64_t d0, int64_t d1,
                  model_init_kind init) {
    if (out) {
        model_tensor_spec *s = &out[n];
        snprintf(s->name, sizeof s->name, "%s", name);
        s->ndim = ndim;
        s->shape[0] = d0;
        s->shape[1] = ndim > 1 ? d1 : 0;
        s->init = init;
    }
    return n + 1;
}

size_t model_tensor_specs(const model_config *cfg, model_tensor_spec *out) {
    const int64_t C = cfg->hidden_size, I = cfg->intermediate_size, V = cfg->vocab_size;
    const int64_t Q = cfg->num_heads * cfg->head_dim, KV = cfg->num_kv_heads * cfg->head_dim;
    size_t n = 0;
    char name[96];
    n = add(out, n, "model.embed_tokens.weight", 2, V, C, MODEL_INIT_NORMAL);
    for (int64_t l = 0; l < cfg->num_layers; l++) {
#define LAYER(suffix, nd, a, b, init)                                                                                  \
    do {                                                                                                               \
        snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, suffix);                                     \
        n = add(out, n, name, nd, a, b, init);                                                                         \
    } while (0)
        LAYER("input_layernorm.weight", 1, C, 0, MODEL_INIT_ONES);
        LAYER("self_attn.q_proj.weight", 2, Q, C, MODEL_INIT_NORMAL);
        if (cfg->attention_bias) LAYER("self_attn.q_proj.bias", 1, Q, 0, MODEL_INIT_ZEROS);
        LAYER("self_attn.k_proj.weight", 2, KV, C, MODEL_INIT_NORMAL);
        if (cfg->attention_bias) LAYER("self_attn.k_proj.bias", 1, KV, 0, MODEL_INIT_ZEROS);
        LAYER("self_attn.v_proj.weight", 2, KV, C, MODEL_INIT_NORMAL);
        if (cfg->attention_bias) LAYER("self_attn.v_proj.bias", 1, KV, 0, MODEL_INIT_ZEROS);
        LAYER("self_attn.o_proj.weight", 2, C, Q, MODEL_INIT_NORMAL_SCALED);
        LAYER("post_attention_layernorm.weight", 1, C, 0, MODEL_INIT_ONES);
        LAYER("mlp.gate_proj.weight", 2, I, C, MODEL_INIT_NORMAL);
        LAYER("mlp.up_proj.weight", 2, I, C, MODEL_INIT_NORMAL);
        LAYER("mlp.down_proj.weight", 2, C, I, MODEL_INIT_NORMAL_SCALED);
#undef LAYER
    }
    n = add(out, n, "model.norm.weight", 1, C, 0, MODEL_INIT_ONES);
    if (!cfg->tie_word_embeddings) n = add(out, n, "lm_head.weight", 2, V, C, MODEL_INIT_NORMAL);
    return n;
}

double model_tensor_init_std(const model_config *cfg, const model_tensor_spec *spec) {
    switch (spec->init) {
    case MODEL_INIT_NORMAL:
        return MODEL_INIT_STD;
    case MODEL_INIT_NORMAL_SCALED:
        return MODEL_INIT_STD / sqrt(2.0 * (double)cfg->num_layers);
    default:
        return 0.0;
    }
}

int64_t model_tensor_spec_numel(const model_tensor_spec *spec) {
    return spec->ndim > 1 ? spec->shape[0] * spec->shape[1] : spec->shape[0];
}
