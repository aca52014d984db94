/* The lm_head fused with the softmax in row chunks: the vectorised row kernels against a float64 softmax and finite
 * differences (log-prob and entropy gradients), the chunked model against one chunk and against the PyTorch float64
 * reference (tests/model/ref_model.py), and a critic's forward that skips the lm_head. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "helpers.h"
#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/simd.h"
#include "model/safetensors.h"

static void init2(void) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
}
static void fini(void) {
    kern_shutdown();
}
TestSuite(head, .init = init2, .fini = fini);

/* a * logp[t] + b * entropy of the row z[V], in float64 from the definition. */
static double row_loss(const float *z, int64_t V, int32_t t, double a, double b, double *logp, double *ent) {
    double mx = -INFINITY, s = 0, h = 0;
    for (int64_t i = 0; i < V; i++)
        mx = fmax(mx, z[i]);
    for (int64_t i = 0; i < V; i++)
        s += exp(z[i] - mx);
    double lse = mx + log(s);
    for (int64_t i = 0; i < V; i++)
        if (z[i] > -INFINITY) h -= exp(z[i] - lse) * (z[i] - lse);
    *logp = t >= 0 ? z[t] - lse : 0.0;
    *ent = h;
    return a * *logp + b * h;
}

Test(head, row_kernels_match_float64_and_finite_differences) {
    const char *isas[] = {"generic", "avx2", "avx512"};
    const int64_t V = 1043; /* 65 vectors of 16 and a tail of 3 */
    const int64_t R = 3;
    rt_rng r;
    rt_rng_seed(&r, 8);
    float *z = malloc((size_t)(R * V) * 4), *g = malloc((size_t)(R * V) * 4);
    for (int64_t i = 0; i < R * V; i++)
        z[i] = (float)(3.0 * rt_rng_normal(&r));
    z[V + 7] = -INFINITY; /* a masked-out logit: probability 0, gradient 0 */
    int32_t tg[3] = {5, -1, 1040};
    float dl[3] = {0.7f, -0.4f, 1.1f}, de[3] = {-1.3f, 0.9f, 0.25f};
    for (int k = 0; k < 3; k++) {
        if (!kern_simd_force(isas[k])) continue;
        float lp[3], ent[3], lse[3];
        kern_logits_stats_rows(z, R, V, tg, lp, ent, lse);
        for (int64_t row = 0; row < R; row++) {
            double wl, we;
            row_loss(z + row * V, V, tg[row], 1, 0, &wl, &we);
            cr_assert(fabs(lp[row] - wl) < 1e-5 * (1 + fabs(wl)), "%s: logp %g vs %g", isas[k], lp[row], wl);
            cr_assert(fabs(ent[row] - we) < 1e-5 * (1 + fabs(we)), "%s: entropy %g vs %g", isas[k], ent[row], we);
        }
        memcpy(g, z, (size_t)(R * V) * 4);
        kern_logits_grad_rows(g, R, V, tg, lse, ent, dl, de);
        cr_assert_eq(g[V + 7], 0.0f, "%s: gradient of a -inf logit", isas[k]);
        /* finite differences of a * logp + b * entropy (row 1 has no target: its log-prob term is 0) */
        for (int64_t row = 0; row < R; row++) {
            float *zr = z + row * V;
            int64_t picks[5] = {0, 5, 777, 1040, 1042};
            for (int p = 0; p < 5; p++) {
                int64_t j = picks[p];
                float keep = zr[j];
                double h = 1e-2, l1, l2, x, y;
                zr[j] = keep + (float)h;
                l1 = row_loss(zr, V, tg[row], dl[row], de[row], &x, &y);
                zr[j] = keep - (float)h;
                l2 = row_loss(zr, V, tg[row], dl[row], de[row], &x, &y);
                zr[j] = keep;
                double fd = (l1 - l2) / (2 * h), an = g[row * V + j];
                cr_assert(fabs(fd - an) <= 1e-4 + 1e-2 * fabs(fd), "%s: row %lld d/dz[%lld]: fd %g, kernel %g", isas[k],
                          (long long)row, (long long)j, fd, an);
            }
        }
    }
    kern_simd_force("generic");
    if (!kern_simd_force("avx512")) kern_simd_force("avx2");
    free(z), free(g);
}

/* forward (logp, entropy) and backward (dlogp and dent) with head_rows rows per chunk; gradients into grads. */
static void run_chunked(model *m, const model_batch *b, int64_t head_rows, const float *dl, const float *de,
                        float *logp, float *ent, float *grads) {
    rt_error err;
    m->head_rows = head_rows;
    model_zero_grad(m);
    cr_assert_eq(model_forward(m, b, logp, ent, NULL, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_backward(m, dl, de, NULL, &err), RT_OK, "%s", err.msg);
    memcpy(grads, m->grads, m->nparams * sizeof(float));
}

Test(head, chunks_equal_one_chunk_and_the_torch_reference) {
    char dir[256], path[512];
    th_tmpdir(dir, sizeof dir);
    model m;
    th_ref_model(dir, "qwen2", 5, MODEL_PREC_F32, 0, &m);
    const int64_t lens[3] = {11, 3, 9};
    int64_t start[4], N = 23, V = m.cfg.vocab_size;
    int32_t tokens[23], targets[23];
    th_batch(3, lens, V, 5, tokens, targets, start);
    float w[23], dl[23], de[23], zero[23] = {0};
    rt_rng r;
    rt_rng_seed(&r, 3);
    for (int64_t i = 0; i < N; i++) {
        w[i] = targets[i] < 0 ? 0.0f : (float)rt_rng_uniform(&r);
        dl[i] = -w[i];
        de[i] = (float)rt_rng_normal(&r);
    }
    snprintf(path, sizeof path, "%s/batch.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"seqs\": [");
    for (int64_t s = 0; s < 3; s++)
        for (int64_t i = start[s]; i < start[s + 1]; i++)
            fprintf(f, "%s%s%d%s", i == start[s] && s ? "," : "", i == start[s] ? "[" : ",", tokens[i],
                    i + 1 == start[s + 1] ? "]" : "");
    fprintf(f, "], \"weights\": [");
    for (int64_t s = 0; s < 3; s++)
        for (int64_t i = start[s]; i < start[s + 1]; i++)
            fprintf(f, "%s%s%.9g%s", i == start[s] && s ? "," : "", i == start[s] ? "[" : ",", w[i],
                    i + 1 == start[s + 1] ? "]" : "");
    fprintf(f, "]}\n");
    fclose(f);
    th_sh("/usr/bin/python3 tests/model/ref_model.py run %s %s/batch.json %s/ref.safetensors", dir, dir, dir);
    rt_error err;
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    model_batch b = {3, start, tokens, targets};
    float lp1[23], en1[23], lp3[23], en3[23];
    float *g1 = malloc(m.nparams * 4), *g3 = malloc(m.nparams * 4), *want = malloc(m.nparams * 4);
    /* log-prob and entropy gradients together: 3 rows a chunk (8 chunks, the last short) against one chunk */
    run_chunked(&m, &b, N, dl, de, lp1, en1, g1);
    run_chunked(&m, &b, 3, dl, de, lp3, en3, g3);
    cr_assert(th_rel_err(lp3, lp1, N) < 1e-6, "log-probs differ by chunking");
    cr_assert(th_rel_err(en3, en1, N) < 1e-6, "entropies differ by chunking");
    cr_assert(th_rel_err(g3, g1, (int64_t)m.nparams) < 1e-5, "gradients differ by chunking");
    /* the chunked path against the reference (log-prob loss only: the reference differentiates -sum w logp) */
    run_chunked(&m, &b, 3, dl, zero, lp3, en3, g3);
    st_set ref;
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    cr_assert_eq(st_open_file(path, &ref, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(st_to_f32(st_find(&ref, "logp"), want, &err), RT_OK);
    cr_assert(th_rel_err(lp3, want, N) < 1e-4, "log-probs against the reference");
    cr_assert_eq(st_to_f32(st_find(&ref, "entropy"), want, &err), RT_OK);
    cr_assert(th_rel_err(en3, want, N) < 1e-4, "entropies against the reference");
    for (size_t i = 0; i < m.ntensors; i++) {
        char name[128];
        snprintf(name, sizeof name, "grad.%s", m.tensors[i].name);
        cr_assert_eq(st_to_f32(st_find(&ref, name), want, &err), RT_OK, "%s", name);
        double e = th_rel_err(g3 + m.tensors[i].offset, want, (int64_t)m.tensors[i].numel);
        cr_assert(e < 1e-4, "gradient of %s: error %g", m.tensors[i].name, e);
    }
    st_close(&ref);
    free(g1), free(g3), free(want);
    model_free(&m);
    th_sh("rm -rf %s", dir);
}

Test(head, a_value_only_forward_skips_the_lm_head) {
    char dir[256];
    th_tmpdir(dir, sizeof dir);
    model m;
    th_ref_model(dir, "llama", 6, MODEL_PREC_F32, 1, &m); /* untied: the lm_head has a gradient of its own */
    const int64_t lens[2] = {7, 5};
    int64_t start[3], N = 12;
    int32_t tokens[12], targets[12];
    th_batch(2, lens, m.cfg.vocab_size, 9, tokens, targets, start);
    rt_error err;
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    for (int64_t i = 0; i < m.cfg.hidden_size; i++)
        m.p.value_w[i] = 0.1f * (float)(i % 7 - 3); /* loaded as zero */
    model_batch b = {2, start, tokens, targets};
    float v1[12], v2[12], lp[12], dv[12];
    for (int64_t i = 0; i < N; i++)
        dv[i] = 0.1f * (float)(i % 5) - 0.2f;
    float *g = malloc(m.nparams * 4);
    /* with the lm_head run (log-probs asked for) and no log-prob gradient */
    model_zero_grad(&m);
    cr_assert_eq(model_forward(&m, &b, lp, NULL, v1, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_backward(&m, NULL, NULL, dv, &err), RT_OK, "%s", err.msg);
    memcpy(g, m.grads, m.nparams * 4);
    /* values only: the same values and gradients, and no lm_head gradient */
    model_zero_grad(&m);
    cr_assert_eq(model_forward(&m, &b, NULL, NULL, v2, &err), RT_OK, "%s", err.msg);
    cr_assert_arr_eq(v1, v2, sizeof v1);
    cr_assert_eq(model_backward(&m, NULL, NULL, dv, &err), RT_OK, "%s", err.msg);
    cr_assert(th_rel_err(m.grads, g, (int64_t)m.nparams) < 1e-6);
    const model_tensor *t = model_find_tensor(&m, "lm_head.weight");
    cr_assert_not_null(t);
    for (size_t i = 0; i < t->numel; i++)
        cr_assert_eq(m.grads[t->offset + i], 0.0f);
    /* a log-prob gradient after such a forward is refused */
    cr_assert_eq(model_forward(&m, &b, NULL, NULL, v2, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_backward(&m, dv, NULL, NULL, &err), RT_EINVAL);
    cr_assert(strstr(err.msg, "skipped the lm_head"), "%s", err.msg);
    free(g);
    model_free(&m);
    th_sh("rm -rf %s", dir);
}
