/* layout: tensor names, shapes and order as Hugging Face stores them; the count and sizes agree with the parameter
 * count computed from the config alone. */
#include <math.h>

#include "helpers.h"
#include "model/config.h"
#include "model/layout.h"

static model_config tiny(model_arch arch, int bias, int tied) {
    model_config c = {.arch = arch,
                      .vocab_size = 50,
                      .hidden_size = 16,
                      .intermediate_size = 40,
                      .num_layers = 3,
                      .num_heads = 4,
                      .num_kv_heads = 2,
                      .head_dim = 4,
                      .max_position_embeddings = 64,
                      .rms_norm_eps = 1e-5,
                      .rope_theta = 1e4,
                      .tie_word_embeddings = tied,
                      .attention_bias = bias,
                      .bos_token_id = -1,
                      .eos_token_id = -1};
    return c;
}

static const model_tensor_spec *find(const model_tensor_spec *s, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0) return &s[i];
    return NULL;
}

Test(layout, qwen2_tied_names_shapes_order) {
    model_config c = tiny(MODEL_ARCH_QWEN2, 1, 1);
    size_t n = model_tensor_specs(&c, NULL);
    cr_assert_eq(n, 1 + 3 * 12 + 1u, "embed, 12 per layer with biases, final norm; no lm_head when tied");
    model_tensor_spec *s = calloc(n, sizeof *s);
    cr_assert_eq(model_tensor_specs(&c, s), n);
    const char *layer1[] = {"input_layernorm.weight",  "self_attn.q_proj.weight", "self_attn.q_proj.bias",
                            "self_attn.k_proj.weight", "self_attn.k_proj.bias",   "self_attn.v_proj.weight",
                            "self_attn.v_proj.bias",   "self_attn.o_proj.weight", "post_attention_layernorm.weight",
                            "mlp.gate_proj.weight",    "mlp.up_proj.weight",      "mlp.down_proj.weight"};
    cr_expect_str_eq(s[0].name, "model.embed_tokens.weight");
    for (int i = 0; i < 12; i++) {
        char want[96];
        snprintf(want, sizeof want, "model.layers.1.%s", layer1[i]);
        cr_expect_str_eq(s[1 + 12 + i].name, want);
    }
    cr_expect_str_eq(s[n - 1].name, "model.norm.weight");
    struct {
        const char *name;
        int ndim;
        int64_t d0, d1;
        model_init_kind init;
    } want[] = {
        {"model.embed_tokens.weight", 2, 50, 16, MODEL_INIT_NORMAL},
        {"model.layers.0.input_layernorm.weight", 1, 16, 0, MODEL_INIT_ONES},
        {"model.layers.0.self_attn.q_proj.weight", 2, 16, 16, MODEL_INIT_NORMAL},
        {"model.layers.0.self_attn.q_proj.bias", 1, 16, 0, MODEL_INIT_ZEROS},
        {"model.layers.0.self_attn.k_proj.weight", 2, 8, 16, MODEL_INIT_NORMAL},
        {"model.layers.0.self_attn.k_proj.bias", 1, 8, 0, MODEL_INIT_ZEROS},
        {"model.layers.2.self_attn.v_proj.weight", 2, 8, 16, MODEL_INIT_NORMAL},
        {"model.layers.2.self_attn.v_proj.bias", 1, 8, 0, MODEL_INIT_ZEROS},
        {"model.layers.2.self_attn.o_proj.weight", 2, 16, 16, MODEL_INIT_NORMAL_SCALED},
        {"model.layers.2.post_attention_layernorm.weight", 1, 16, 0, MODEL_INIT_ONES},
        {"model.layers.2.mlp.gate_proj.weight", 2, 40, 16, MODEL_INIT_NORMAL},
        {"model.layers.2.mlp.up_proj.weight", 2, 40, 16, MODEL_INIT_NORMAL},
        {"model.layers.2.mlp.down_proj.weight", 2, 16, 40, MODEL_INIT_NORMAL_SCALED},
        {"model.norm.weight", 1, 16, 0, MODEL_INIT_ONES},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const model_tensor_spec *t = find(s, n, want[i].name);
        cr_assert_not_null(t, "%s", want[i].name);
        cr_expect_eq(t->ndim, want[i].ndim, "%s", t->name);
        cr_expect_eq(t->shape[0], want[i].d0, "%s", t->name);
        if (t->ndim == 2) cr_expect_eq(t->shape[1], want[i].d1, "%s", t->name);
        cr_expect_eq(t->init, want[i].init, "%s", t->name);
    }
    cr_expect_null(find(s, n, "lm_head.weight"));
    cr_expect_float_eq(model_tensor_init_std(&c, find(s, n, "model.layers.0.mlp.down_proj.weight")), 0.02 / sqrt(6.0),
                       1e-15);
    cr_expect_float_eq(model_tensor_init_std(&c, &s[0]), 0.02, 1e-15);
    cr_expect_eq(model_tensor_init_std(&c, &s[1]), 0.0);
    free(s);
}

Test(layout, llama_untied_has_lm_head_and_no_bias) {
    model_config c = tiny(MODEL_ARCH_LLAMA, 0, 0);
    size_t n = model_tensor_specs(&c, NULL);
    cr_assert_eq(n, 1 + 3 * 9 + 1 + 1u);
    model_tensor_spec *s = calloc(n, sizeof *s);
    model_tensor_specs(&c, s);
    cr_expect_str_eq(s[n - 1].name, "lm_head.weight");
    cr_expect_eq(s[n - 1].shape[0], 50);
    cr_expect_eq(s[n - 1].shape[1], 16);
    cr_expect_null(find(s, n, "model.layers.0.self_attn.q_proj.bias"));
    free(s);
}

/* The sum of the specs' sizes equals the parameter count from the config, for every combination. */
Test(layout, sizes_sum_to_param_count) {
    for (int arch = 0; arch < 2; arch++)
        for (int bias = 0; bias < 2; bias++)
            for (int tied = 0; tied < 2; tied++) {
                if (arch == MODEL_ARCH_QWEN2 && !bias) continue;
                model_config c = tiny((model_arch)arch, bias, tied);
                c.head_dim = 6; /* head_dim * heads != hidden: o_proj and q_proj are not square */
                size_t n = model_tensor_specs(&c, NULL);
                model_tensor_spec *s = calloc(n, sizeof *s);
                model_tensor_specs(&c, s);
                int64_t total = 0;
                for (size_t i = 0; i < n; i++)
                    total += model_tensor_spec_numel(&s[i]);
                cr_expect_eq(total, model_config_param_count(&c), "arch %d bias %d tied %d", arch, bias, tied);
                cr_expect_eq(find(s, n, "model.layers.0.self_attn.o_proj.weight")->shape[1], 24);
                free(s);
            }
}
