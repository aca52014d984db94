/* The divergence guard names the first tensor whose gradient is not finite, and lets finite steps through. */
#include <criterion/criterion.h>
#include <math.h>

#include "model/model.h"
#include "train/guard.h"

static void tiny(model *m) {
    model_config c = {0};
    c.arch = MODEL_ARCH_LLAMA;
    c.vocab_size = 16;
    c.hidden_size = 16;
    c.intermediate_size = 32;
    c.num_layers = 2;
    c.num_heads = 2;
    c.num_kv_heads = 2;
    c.head_dim = 8;
    c.max_position_embeddings = 16;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000;
    c.bos_token_id = c.eos_token_id = -1;
    model_opts o = {.prec = MODEL_PREC_F32};
    rt_error e;
    cr_assert_eq(model_init(m, &c, &o, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(model_train_init(m, &e), RT_OK, "%s", e.msg);
}

Test(guard, names_the_first_bad_tensor) {
    model m;
    tiny(&m);
    rt_error e;
    cr_expect_eq(train_guard(&m, 1.5, "sft", 3, &e), RT_OK);
    const model_tensor *t = model_find_tensor(&m, "model.layers.1.mlp.down_proj.weight");
    cr_assert_not_null(t);
    m.grads[t->offset + t->numel / 2] = NAN;
    cr_expect_eq(train_guard(&m, 1.5, "sft", 3, &e), RT_ERANGE);
    cr_expect(strstr(e.msg, "model.layers.1.mlp.down_proj.weight") != NULL, "%s", e.msg);
    cr_expect(strstr(e.msg, "sft step 3") != NULL, "%s", e.msg);
    m.grads[t->offset + t->numel / 2] = 0;
    const model_tensor *first = &m.tensors[0];
    m.grads[first->offset] = INFINITY;
    m.grads[t->offset] = NAN;
    cr_expect_str_eq(train_nonfinite_grad(&m), first->name, "the first tensor in order is named");
    model_zero_grad(&m);
    cr_expect_eq(train_guard(&m, NAN, "policy update", 1, &e), RT_ERANGE);
    cr_expect(strstr(e.msg, "loss nan") && strstr(e.msg, "gradients finite"), "%s", e.msg);
    model_free(&m);
}
