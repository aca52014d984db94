/* The engine against the independent PyTorch float64 reference (tests/model/ref_model.py) on random tiny models:
 * logits, log-probs, entropy, loss and every parameter gradient, in f32 mode (max error / max value < 1e-4), and the
 * bf16 mixed-precision mode within bf16's resolution. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "helpers.h"
#include "kernels/matmul.h"
#include "kernels/pool.h"
#include "model/safetensors.h"

static void init2(void) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
}
static void fini(void) {
    kern_shutdown();
}
TestSuite(parity, .init = init2, .fini = fini);

static void parity(const char *arch, int seed, model_precision prec, double tol_logits, double tol_grad) {
    char dir[256], cmd_batch[512];
    th_tmpdir(dir, sizeof dir);
    model m;
    th_ref_model(dir, arch, seed, prec, 0, &m);
    const int64_t lens[4] = {9, 1, 17, 4};
    int64_t start[5], N = 31, V = m.cfg.vocab_size;
    int32_t tokens[31], targets[31];
    th_batch(4, lens, V, (uint64_t)seed, tokens, targets, start);
    float weight[31];
    rt_rng r;
    rt_rng_seed(&r, 99);
    for (int64_t i = 0; i < N; i++) weight[i] = targets[i] < 0 || rt_rng_below(&r, 4) == 0 ? 0.0f : (float)rt_rng_uniform(&r);
    /* the batch for the reference */
    snprintf(cmd_batch, sizeof cmd_batch, "%s/batch.json", dir);
    FILE *f = fopen(cmd_batch, "w");
    fprintf(f, "{\"seqs\": [");
    for (int64_t s = 0; s < 4; s++) {
        fprintf(f, "%s[", s ? "," : "");
        for (int64_t i = start[s]; i < start[s + 1]; i++) fprintf(f, "%s%d", i > start[s] ? "," : "", tokens[i]);
        fprintf(f, "]");
    }
    fprintf(f, "], \"weights\": [");
    for (int64_t s = 0; s < 4; s++) {
        fprintf(f, "%s[", s ? "," : "");
        for (int64_t i = start[s]; i < start[s + 1]; i++) fprintf(f, "%s%.9g", i > start[s] ? "," : "", weight[i]);
        fprintf(f, "]");
    }
    fprintf(f, "]}\n");
    fclose(f);
    th_sh("/usr/bin/python3 tests/model/ref_model.py run %s %s/batch.json %s/ref.safetensors", dir, dir, dir);
    char path[512];
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    st_set ref;
    rt_error err;
    cr_assert_eq(st_open_file(path, &ref, &err), RT_OK, "%s", err.msg);
    float *want = malloc((m.nparams > (size_t)(N * V) ? m.nparams : (size_t)(N * V)) * sizeof(float));

    model_batch b = {4, start, tokens, targets};
    float *logits = malloc((size_t)(N * V) * sizeof(float));
    cr_assert_eq(model_logits(&m, &b, logits, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(st_to_f32(st_find(&ref, "logits"), want, &err), RT_OK);
    double e = th_rel_err(logits, want, N * V);
    cr_assert(e < tol_logits, "%s: logits error %g", arch, e);

    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    float logp[31], ent[31], dl[31], loss = 0;
    cr_assert_eq(model_forward(&m, &b, logp, ent, NULL, &err), RT_OK, "%s", err.msg);
    for (int64_t i = 0; i < N; i++) {
        dl[i] = -weight[i];
        loss -= weight[i] * logp[i];
    }
    cr_assert_eq(st_to_f32(st_find(&ref, "logp"), want, &err), RT_OK);
    cr_assert((e = th_rel_err(logp, want, N)) < tol_logits, "%s: log-prob error %g", arch, e);
    cr_assert_eq(st_to_f32(st_find(&ref, "entropy"), want, &err), RT_OK);
    cr_assert((e = th_rel_err(ent, want, N)) < tol_logits, "%s: entropy error %g", arch, e);
    cr_assert_eq(st_to_f32(st_find(&ref, "loss"), want, &err), RT_OK);
    cr_assert(fabs(loss - want[0]) < tol_logits * fabs(want[0]), "%s: loss %g vs %g", arch, loss, want[0]);
    cr_assert_eq(model_backward(&m, dl, NULL, NULL, &err), RT_OK, "%s", err.msg);
    size_t checked = 0;
    for (size_t i = 0; i < m.ntensors; i++) {
        char name[128];
        snprintf(name, sizeof name, "grad.%s", m.tensors[i].name);
        const st_tensor *t = st_find(&ref, name);
        cr_assert_not_null(t, "%s: the reference has no %s", arch, name);
        cr_assert_eq((size_t)st_numel(t), m.tensors[i].numel);
        cr_assert_eq(st_to_f32(t, want, &err), RT_OK);
        e = th_rel_err(m.grads + m.tensors[i].offset, want, (int64_t)m.tensors[i].numel);
        cr_assert(e < tol_grad, "%s: gradient of %s: error %g", arch, m.tensors[i].name, e);
        checked++;
    }
    cr_assert_eq(checked + 0, m.ntensors);
    st_close(&ref);
    free(want);
    free(logits);
    model_free(&m);
    th_sh("rm -rf %s", dir);
}

Test(parity, qwen2_bias_gqa_tied_f32) {
    parity("qwen2", 1, MODEL_PREC_F32, 1e-4, 1e-4);
}

Test(parity, llama_untied_mqa_f32) {
    parity("llama", 2, MODEL_PREC_F32, 1e-4, 1e-4);
}

Test(parity, qwen2_bf16_mixed_precision) {
    /* bf16 products: ~3 significant digits per product, a few products deep */
    parity("qwen2", 3, MODEL_PREC_BF16, 3e-2, 6e-2);
}
