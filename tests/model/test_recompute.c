/* Activation recomputation (m.recompute): backward reruns each layer's forward from its kept input, so log-probs,
 * entropies, values and every gradient equal those of the run that kept all activations (same inputs, same code:
 * bit for bit), in f32 and bf16. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "helpers.h"
#include "kernels/pool.h"

static void init2(void) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
}
static void fini(void) {
    kern_shutdown();
}
TestSuite(recompute, .init = init2, .fini = fini);

static void step(model *m, const model_batch *b, int recompute, const float *dl, const float *de, const float *dv,
                 float *out, float *grads) {
    rt_error err;
    int64_t N = b->start[b->nseq];
    m->recompute = recompute;
    model_zero_grad(m);
    cr_assert_eq(model_forward(m, b, out, out + N, out + 2 * N, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_backward(m, dl, de, dv, &err), RT_OK, "%s", err.msg);
    memcpy(grads, m->grads, m->nparams * sizeof(float));
}

static void same_with_recompute(model_precision prec) {
    char dir[256];
    th_tmpdir(dir, sizeof dir);
    model m;
    th_ref_model(dir, "qwen2", 4, prec, 1, &m);
    rt_error err;
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    for (int64_t i = 0; i < m.cfg.hidden_size; i++) m.p.value_w[i] = 0.05f * (float)(i % 5 - 2);
    model_sync_bf16(&m);
    const int64_t lens[3] = {8, 2, 6};
    int64_t start[4], N = 16;
    int32_t tokens[16], targets[16];
    th_batch(3, lens, m.cfg.vocab_size, 2, tokens, targets, start);
    model_batch b = {3, start, tokens, targets};
    float dl[16], de[16], dv[16], kept[48], redo[48];
    rt_rng r;
    rt_rng_seed(&r, 1);
    for (int64_t i = 0; i < N; i++) {
        dl[i] = (float)rt_rng_normal(&r);
        de[i] = (float)rt_rng_normal(&r);
        dv[i] = (float)rt_rng_normal(&r);
    }
    float *g0 = malloc(m.nparams * 4), *g1 = malloc(m.nparams * 4);
    step(&m, &b, 0, dl, de, dv, kept, g0);
    step(&m, &b, 1, dl, de, dv, redo, g1);
    cr_assert_arr_eq(kept, redo, sizeof kept, "log-probs, entropies and values");
    size_t nonzero = 0;
    for (size_t i = 0; i < m.nparams; i++) {
        cr_assert_eq(g0[i], g1[i], "gradient %zu: %g kept, %g recomputed", i, g0[i], g1[i]);
        nonzero += g0[i] != 0;
    }
    cr_assert_gt(nonzero, m.nparams / 2, "the gradients are not trivially zero");
    free(g0), free(g1);
    model_free(&m);
    th_sh("rm -rf %s", dir);
}

Test(recompute, f32_equals_kept_activations) {
    same_with_recompute(MODEL_PREC_F32);
}

Test(recompute, bf16_equals_kept_activations) {
    same_with_recompute(MODEL_PREC_BF16);
}
