/* The whole model by finite differences (log-probs, entropy and the value head together), the tensor table against
 * the I/O half's layout, AdamW against its formula, the schedules, save/load round trips, and bad inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "helpers.h"
#include "kernels/matmul.h"
#include "kernels/pool.h"
#include "model/layout.h"
#include "model/optim.h"
#include "model/safetensors.h"

static void init2(void) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
}
static void fini(void) {
    kern_shutdown();
}
TestSuite(model, .init = init2, .fini = fini);

static model_config tiny_config(int tied, int bias) {
    model_config c;
    memset(&c, 0, sizeof c);
    c.arch = bias ? MODEL_ARCH_QWEN2 : MODEL_ARCH_LLAMA;
    c.vocab_size = 23;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 4;
    c.max_position_embeddings = 64;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000;
    c.tie_word_embeddings = tied;
    c.attention_bias = bias;
    c.bos_token_id = c.eos_token_id = -1;
    snprintf(c.torch_dtype, sizeof c.torch_dtype, "float32");
    return c;
}

Test(model, tensor_table_matches_layout) {
    for (int v = 0; v < 4; v++) {
        model_config c = tiny_config(v & 1, v >> 1);
        model m;
        model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
        rt_error err;
        cr_assert_eq(model_init(&m, &c, &o, &err), RT_OK, "%s", err.msg);
        size_t n = model_tensor_specs(&c, NULL);
        model_tensor_spec *specs = calloc(n, sizeof *specs);
        model_tensor_specs(&c, specs);
        cr_assert_eq(n, m.ntensors);
        int64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            const model_tensor *t = model_find_tensor(&m, specs[i].name);
            cr_assert_not_null(t, "no %s", specs[i].name);
            cr_assert_eq(t->ndim, specs[i].ndim);
            cr_assert_eq(t->shape[0], specs[i].shape[0]);
            if (t->ndim == 2) cr_assert_eq(t->shape[1], specs[i].shape[1]);
            total += (int64_t)t->numel;
        }
        cr_assert_eq(total, model_config_param_count(&c));
        free(specs);
        model_free(&m);
    }
}

typedef struct fd_ctx {
    model *m;
    model_batch b;
    const float *a, *bb, *c;
    float *logp, *ent, *val;
} fd_ctx;

static double fd_loss(fd_ctx *x) {
    rt_error err;
    cr_assert_eq(model_forward(x->m, &x->b, x->logp, x->ent, x->val, &err), RT_OK, "%s", err.msg);
    double s = 0;
    int64_t N = x->b.start[x->b.nseq];
    for (int64_t i = 0; i < N; i++) s += (double)x->a[i] * x->logp[i] + (double)x->bb[i] * x->ent[i] + (double)x->c[i] * x->val[i];
    return s;
}

Test(model, whole_model_finite_differences) {
    for (int v = 0; v < 2; v++) {
        model_config c = tiny_config(v, v);
        model m;
        model_opts o = {.prec = MODEL_PREC_F32, .value_head = 1};
        rt_error err;
        cr_assert_eq(model_init(&m, &c, &o, &err), RT_OK, "%s", err.msg);
        model_init_random(&m, 7 + v, 0.3);
        rt_rng r;
        rt_rng_seed(&r, 11);
        for (size_t i = 0; i < m.nparams; i++) m.params[i] += (float)(0.1 * rt_rng_normal(&r)); /* norms, biases, value */
        cr_assert_eq(model_train_init(&m, &err), RT_OK);
        const int64_t lens[3] = {6, 2, 5};
        int64_t start[4];
        int32_t tok[13], tgt[13];
        th_batch(3, lens, c.vocab_size, 5, tok, tgt, start);
        float a[13], bb[13], cc[13], logp[13], ent[13], val[13];
        for (int i = 0; i < 13; i++) {
            a[i] = (float)rt_rng_normal(&r);
            bb[i] = (float)rt_rng_normal(&r);
            cc[i] = (float)rt_rng_normal(&r);
        }
        fd_ctx x = {&m, {3, start, tok, tgt}, a, bb, cc, logp, ent, val};
        fd_loss(&x);
        cr_assert_eq(model_backward(&m, a, bb, cc, &err), RT_OK, "%s", err.msg);
        /* a few elements of every tensor */
        for (size_t ti = 0; ti < m.ntensors; ti++) {
            const model_tensor *t = &m.tensors[ti];
            for (int k = 0; k < 3; k++) {
                size_t j = t->offset + rt_rng_below(&r, t->numel);
                float keep = m.params[j];
                double h = 1e-2;
                m.params[j] = keep + (float)h;
                double lp = fd_loss(&x);
                m.params[j] = keep - (float)h;
                double lm = fd_loss(&x);
                m.params[j] = keep;
                double fd = (lp - lm) / (2 * h), an = m.grads[j];
                cr_assert(fabs(fd - an) <= 3e-3 + 3e-2 * fmax(fabs(fd), fabs(an)), "%s[%zu]: fd %g, backward %g",
                          t->name, j - t->offset, fd, an);
            }
        }
        model_free(&m);
    }
}

Test(model, adamw_matches_formula_and_decays_only_matrices) {
    model_config c = tiny_config(0, 1);
    model m;
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
    rt_error err;
    cr_assert_eq(model_init(&m, &c, &o, &err), RT_OK, "%s", err.msg);
    model_init_random(&m, 1, 0.02);
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    float *p0 = malloc(m.nparams * 4);
    memcpy(p0, m.params, m.nparams * 4);
    model_adamw opt = {0.01, 0.9, 0.95, 1e-8, 0.1};
    rt_rng r;
    rt_rng_seed(&r, 3);
    double mref[2] = {0, 0}, vref[2] = {0, 0}, pref[2];
    const model_tensor *w = model_find_tensor(&m, "model.layers.1.mlp.up_proj.weight");
    const model_tensor *nrm = model_find_tensor(&m, "model.norm.weight");
    size_t idx[2] = {w->offset + 5, nrm->offset + 3};
    pref[0] = p0[idx[0]];
    pref[1] = p0[idx[1]];
    for (int step = 1; step <= 3; step++) {
        for (size_t i = 0; i < m.nparams; i++) m.grads[i] = (float)rt_rng_normal(&r);
        for (int k = 0; k < 2; k++) {
            double g = m.grads[idx[k]], wd = k == 0 ? 0.1 : 0.0;
            mref[k] = 0.9 * mref[k] + 0.1 * g;
            vref[k] = 0.95 * vref[k] + 0.05 * g * g;
            double mh = mref[k] / (1 - pow(0.9, step)), vh = vref[k] / (1 - pow(0.95, step));
            pref[k] -= 0.01 * (mh / (sqrt(vh) + 1e-8) + wd * pref[k]);
        }
        model_adamw_step(&m, &opt, 0.01);
    }
    for (int k = 0; k < 2; k++) cr_assert(fabs(m.params[idx[k]] - pref[k]) < 1e-6, "%g vs %g", m.params[idx[k]], pref[k]);
    /* the optimizer state round-trips exactly, step count included */
    char dir[256], path[300];
    th_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    cr_assert_eq(model_save_optimizer(&m, path, &err), RT_OK, "%s", err.msg);
    model m2;
    cr_assert_eq(model_init(&m2, &c, &o, &err), RT_OK);
    cr_assert_eq(model_load_optimizer(&m2, path, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(m2.adam_step, 3);
    cr_assert_arr_eq(m2.adam_m, m.adam_m, m.nparams * 4);
    cr_assert_arr_eq(m2.adam_v, m.adam_v, m.nparams * 4);
    model_free(&m2);
    th_sh("rm -rf %s", dir);
    free(p0);
    model_free(&m);
}

Test(model, clipping_and_schedules) {
    model_config c = tiny_config(1, 0);
    model m;
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
    rt_error err;
    cr_assert_eq(model_init(&m, &c, &o, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    for (size_t i = 0; i < m.ntensors; i++)
        for (size_t j = 0; j < m.tensors[i].numel; j++) m.grads[m.tensors[i].offset + j] = 2.0f;
    double n0 = model_grad_norm(&m);
    cr_assert(fabs(n0 - 2 * sqrt((double)model_config_param_count(&c))) < 1e-3 * n0);
    cr_assert(fabs(model_clip_grad(&m, 1.0) - n0) < 1e-9);
    cr_assert(fabs(model_grad_norm(&m) - 1.0) < 1e-4);
    model_lr_schedule s = {MODEL_LR_COSINE, 1.0, 0.1, 10, 110};
    cr_assert(fabs(model_lr_at(&s, 0) - 0.1) < 1e-12);
    cr_assert(fabs(model_lr_at(&s, 9) - 1.0) < 1e-12);
    cr_assert(fabs(model_lr_at(&s, 10) - 1.0) < 1e-12);
    cr_assert(fabs(model_lr_at(&s, 60) - 0.55) < 1e-12);
    cr_assert(fabs(model_lr_at(&s, 110) - 0.1) < 1e-12);
    cr_assert(fabs(model_lr_at(&s, 500) - 0.1) < 1e-12);
    s.kind = MODEL_LR_CONSTANT;
    cr_assert(fabs(model_lr_at(&s, 60) - 1.0) < 1e-12);
    model_free(&m);
}

Test(model, gradient_accumulation_equals_one_batch) {
    model_config c = tiny_config(1, 1);
    model m;
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
    rt_error err;
    cr_assert_eq(model_init(&m, &c, &o, &err), RT_OK, "%s", err.msg);
    model_init_random(&m, 2, 0.2);
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    const int64_t lens[2] = {7, 4};
    int64_t start[3];
    int32_t tok[11], tgt[11];
    th_batch(2, lens, c.vocab_size, 8, tok, tgt, start);
    float w[11];
    for (int i = 0; i < 11; i++) w[i] = tgt[i] < 0 ? 0.f : 0.1f;
    model_batch whole = {2, start, tok, tgt};
    float loss;
    cr_assert_eq(model_xent_step(&m, &whole, w, &loss, NULL, &err), RT_OK, "%s", err.msg);
    float *g1 = malloc(m.nparams * 4);
    memcpy(g1, m.grads, m.nparams * 4);
    model_zero_grad(&m);
    int64_t s0[2] = {0, 7}, s1[2] = {0, 4};
    model_batch b0 = {1, s0, tok, tgt}, b1 = {1, s1, tok + 7, tgt + 7};
    float l0, l1;
    cr_assert_eq(model_xent_step(&m, &b0, w, &l0, NULL, &err), RT_OK);
    cr_assert_eq(model_xent_step(&m, &b1, w + 7, &l1, NULL, &err), RT_OK);
    cr_assert(fabs(l0 + l1 - loss) < 1e-5 * fabs(loss));
    cr_assert(th_rel_err(m.grads, g1, (int64_t)m.nparams) < 1e-5);
    free(g1);
    model_free(&m);
}

Test(model, save_load_round_trip_f32_and_bf16) {
    model_config c = tiny_config(0, 1);
    model m, m2;
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
    rt_error err;
    cr_assert_eq(model_init(&m, &c, &o, &err), RT_OK, "%s", err.msg);
    model_init_random(&m, 4, 0.02);
    char dir[256];
    th_tmpdir(dir, sizeof dir);
    cr_assert_eq(model_save(&m, dir, 0, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_load(&m2, dir, &o, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(m2.nparams, m.nparams);
    for (size_t i = 0; i < m.ntensors; i++)
        cr_assert_arr_eq(m.params + m.tensors[i].offset, m2.params + m.tensors[i].offset, m.tensors[i].numel * 4);
    model_free(&m2);
    cr_assert_eq(model_save(&m, dir, 1, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_load(&m2, dir, &o, &err), RT_OK, "%s", err.msg);
    cr_assert_str_eq(m2.cfg.torch_dtype, "bfloat16");
    for (size_t i = 0; i < m.nparams; i++) {
        uint16_t b = st_f32_to_bf16(m.params[i]);
        cr_assert_eq(m2.params[i], st_bf16_to_f32(b));
    }
    model_free(&m2);
    model_free(&m);
    th_sh("rm -rf %s", dir);
}

Test(model, bad_inputs_name_the_problem) {
    char dir[256];
    th_tmpdir(dir, sizeof dir);
    model m;
    rt_error err;
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s llama 1", dir);
    /* a wrongly shaped tensor: rewrite the file without lm_head */
    th_sh("/usr/bin/python3 -c \"import sys; sys.path.insert(0,'tests/model'); import ref_model as r; "
          "t=r.read_st('%s/model.safetensors'); del t['lm_head.weight']; r.write_st('%s/model.safetensors', t)\"",
          dir, dir);
    cr_assert_neq(model_load(&m, dir, &o, &err), RT_OK);
    cr_assert(strstr(err.msg, "lm_head.weight") != NULL, "%s", err.msg);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s llama 1", dir);
    cr_assert_eq(model_load(&m, dir, &o, &err), RT_OK, "%s", err.msg);
    int64_t start[2] = {0, 3};
    int32_t tok[3] = {1, 2, 999}, tgt[3] = {2, 999, -1};
    model_batch b = {1, start, tok, tgt};
    float lp[3];
    cr_assert_eq(model_forward(&m, &b, lp, NULL, NULL, &err), RT_ERANGE);
    cr_assert(strstr(err.msg, "token 2") != NULL, "%s", err.msg);
    tok[2] = 3;
    cr_assert_eq(model_forward(&m, &b, lp, NULL, NULL, &err), RT_ERANGE);
    cr_assert(strstr(err.msg, "target 1") != NULL, "%s", err.msg);
    cr_assert_neq(model_backward(&m, lp, NULL, NULL, &err), RT_OK);
    model_free(&m);
    th_sh("rm -rf %s", dir);
}

/* The training loop end to end: a tiny model learns "next = (token + 3) mod V" within a few hundred AdamW steps, in f32
 * and in mixed precision; the final log-prob of the right next token must be close to 0 (a model that learned nothing
 * sits at -log V). */
static void learns(model_precision prec) {
    model_config c = tiny_config(1, 1);
    model m;
    model_opts o = {.prec = prec};
    rt_error err;
    cr_assert_eq(model_init(&m, &c, &o, &err), RT_OK, "%s", err.msg);
    model_init_random(&m, 3, 0.05);
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    enum { S = 4, T = 12, N = S * T };
    int64_t start[S + 1];
    int32_t tok[N], tgt[N];
    float w[N], loss = 0, first = 0;
    rt_rng r;
    rt_rng_seed(&r, 8);
    model_adamw opt = {3e-3, 0.9, 0.99, 1e-8, 0.0};
    model_lr_schedule sch = {MODEL_LR_COSINE, 3e-3, 3e-4, 10, 300};
    for (int step = 0; step < 300; step++) {
        for (int s = 0; s <= S; s++) start[s] = s * T;
        for (int s = 0; s < S; s++) {
            int32_t x = (int32_t)rt_rng_below(&r, (uint64_t)c.vocab_size);
            for (int t = 0; t < T; t++) {
                tok[s * T + t] = x;
                x = (int32_t)((x + 3) % c.vocab_size);
                tgt[s * T + t] = t + 1 < T ? x : -1;
                w[s * T + t] = t + 1 < T ? 1.0f / (float)(S * (T - 1)) : 0.0f;
            }
        }
        model_batch b = {S, start, tok, tgt};
        model_zero_grad(&m);
        cr_assert_eq(model_xent_step(&m, &b, w, &loss, NULL, &err), RT_OK, "%s", err.msg);
        if (step == 0) first = loss;
        model_clip_grad(&m, 1.0);
        model_adamw_step(&m, &opt, model_lr_at(&sch, step));
    }
    cr_assert(first > 2.5f, "initial loss %g should be near log(%lld)", first, (long long)c.vocab_size);
    cr_assert(loss < 0.3f, "loss after 300 steps: %g (from %g)", loss, first);
    model_free(&m);
}

Test(model, training_learns_a_pattern_f32) {
    learns(MODEL_PREC_F32);
}

Test(model, training_learns_a_pattern_bf16) {
    learns(MODEL_PREC_BF16);
}
