/* LoRA on a frozen base, and frozen-base inference: forward and adapter gradients against the PyTorch reference
 * written from PEFT's formula (tests/model/ref_model.py), with and without LoRA dropout (the reference given the same
 * masks), finite differences, merge = unmerged, the PEFT layout read back by an independent Python reader, bit-exact
 * resume, and frozen bf16 inference = the full model's. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "helpers.h"
#include "kernels/pool.h"
#include "model/frozen.h"
#include "model/infer.h"
#include "model/lora.h"
#include "model/optim.h"
#include "model/peft.h"
#include "model/safetensors.h"

static void init2(void) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
}
static void fini(void) {
    kern_shutdown();
}
TestSuite(lora, .init = init2, .fini = fini);

enum { NSEQ = 3, NTOK = 22 };
static const int64_t lens[NSEQ] = {9, 4, 9};

/* Loads the reference model of dir as a frozen base with fresh adapters (rank 4, alpha 8) on targets, then fills
 * every adapter with random values (B non-zero, so every gradient is). */
static void lora_model_p(model *m, const char *dir, unsigned targets, model_precision prec, int value_head,
                         double dropout) {
    model_opts o = {.prec = prec, .value_head = value_head, .lora = {4, 8.0, targets, dropout}};
    rt_error err;
    cr_assert_eq(model_load(m, dir, &o, &err), RT_OK, "%s", err.msg);
    cr_assert_not_null(m->lora);
    rt_rng r;
    rt_rng_seed(&r, 5);
    for (size_t i = 0; i < m->nparams; i++)
        m->params[i] = (float)(0.3 * rt_rng_normal(&r));
}

static void lora_model(model *m, const char *dir, unsigned targets, model_precision prec, int value_head) {
    lora_model_p(m, dir, targets, prec, value_head, 0.0);
}

static void batch(const model *m, int32_t *tokens, int32_t *targets, int64_t *start, float *weight) {
    th_batch(NSEQ, lens, m->cfg.vocab_size, 7, tokens, targets, start);
    for (int64_t i = 0; i < NTOK; i++)
        weight[i] = targets[i] < 0 ? 0.0f : 0.1f + 0.05f * (float)(i % 5);
}

static void write_batch_json(const char *path, const int32_t *tokens, const int64_t *start, const float *weight) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"seqs\": [");
    for (int64_t s = 0; s < NSEQ; s++) {
        fprintf(f, "%s[", s ? "," : "");
        for (int64_t i = start[s]; i < start[s + 1]; i++)
            fprintf(f, "%s%d", i > start[s] ? "," : "", tokens[i]);
        fprintf(f, "]");
    }
    fprintf(f, "], \"weights\": [");
    for (int64_t s = 0; s < NSEQ; s++) {
        fprintf(f, "%s[", s ? "," : "");
        for (int64_t i = start[s]; i < start[s + 1]; i++)
            fprintf(f, "%s%.9g", i > start[s] ? "," : "", weight[i]);
        fprintf(f, "]");
    }
    fprintf(f, "]}\n");
    fclose(f);
}

/* Input width of adapter target t (MODEL_LORA_* bit index) on m's config. */
static int64_t target_in(const model *m, int t) {
    const model_config *c = &m->cfg;
    return t == 3 ? c->num_heads * c->head_dim : t == 6 ? c->intermediate_size : c->hidden_size;
}

/* Writes every adapted module's dropout mask over the batch's N rows, as mask.model.layers.{l}.{module} [N, in]. */
static void write_masks(const model *m, uint64_t key, double p, int64_t N, const char *path) {
    int64_t L = m->cfg.num_layers;
    st_tensor *ts = calloc((size_t)(L * MODEL_LORA_NTARGETS), sizeof *ts);
    char(*names)[96] = calloc((size_t)(L * MODEL_LORA_NTARGETS), 96);
    size_t n = 0;
    for (int64_t l = 0; l < L; l++)
        for (int t = 0; t < MODEL_LORA_NTARGETS; t++) {
            if (!(model_lora_config(m)->targets & (1u << t))) continue;
            int64_t K = target_in(m, t);
            float *mask = malloc((size_t)(N * K) * sizeof(float));
            lora_dropout_apply(key, p, l, t, N, K, NULL, mask);
            snprintf(names[n], 96, "mask.model.layers.%lld.%s.%s", (long long)l, t < 4 ? "self_attn" : "mlp",
                     model_lora_target_name(t));
            ts[n] = (st_tensor){.name = names[n],
                                .dtype = ST_F32,
                                .ndim = 2,
                                .shape = {N, K},
                                .data = mask,
                                .nbytes = (size_t)(N * K) * sizeof(float)};
            n++;
        }
    rt_error err;
    cr_assert_eq(st_write_file(path, ts, n, NULL, &err), RT_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        free((void *)ts[i].data);
    free(ts);
    free(names);
}

/* Logits, log-probs and every adapter gradient against the float64 reference of W + (alpha/r) B A; with dropout p > 0,
 * a training pass (key set) against the reference of x W^T + (alpha/r) (dropout(x) A^T) B^T given the same masks. */
static void parity_p(const char *arch, unsigned targets, size_t want_tensors, double p) {
    char dir[256], path[512], ad[512], masks[512] = "";
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s %s 11", dir, arch);
    model m;
    lora_model_p(&m, dir, targets, MODEL_PREC_F32, 0, p);
    cr_assert_eq(m.ntensors, want_tensors);
    snprintf(ad, sizeof ad, "%s/adapter", dir);
    rt_error err;
    cr_assert_eq(model_save(&m, ad, 0, &err), RT_OK, "%s", err.msg);
    int32_t tokens[NTOK], targets_[NTOK];
    int64_t start[NSEQ + 1];
    float weight[NTOK];
    batch(&m, tokens, targets_, start, weight);
    snprintf(path, sizeof path, "%s/batch.json", dir);
    write_batch_json(path, tokens, start, weight);
    if (p > 0) {
        m.lora_dropout_key = 0x1234;
        snprintf(masks, sizeof masks, "%s/masks.safetensors", dir);
        write_masks(&m, m.lora_dropout_key, p, NTOK, masks);
    }
    th_sh("/usr/bin/python3 tests/model/ref_model.py run %s %s %s/ref.safetensors %s %s", dir, path, dir, ad, masks);
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    st_set ref;
    cr_assert_eq(st_open_file(path, &ref, &err), RT_OK, "%s", err.msg);
    int64_t V = m.cfg.vocab_size;
    float *want = malloc((size_t)(NTOK * V) * sizeof(float)), *logits = malloc((size_t)(NTOK * V) * sizeof(float));
    model_batch b = {NSEQ, start, tokens, targets_};
    cr_assert_eq(model_logits(&m, &b, logits, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(st_to_f32(st_find(&ref, "logits"), want, &err), RT_OK);
    double e = th_rel_err(logits, want, NTOK * V);
    cr_assert(e < 1e-4, "%s: logits error %g", arch, e);
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    float logp[NTOK], dl[NTOK];
    cr_assert_eq(model_forward(&m, &b, logp, NULL, NULL, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(st_to_f32(st_find(&ref, "logp"), want, &err), RT_OK);
    cr_assert((e = th_rel_err(logp, want, NTOK)) < 1e-4, "%s: log-prob error %g", arch, e);
    for (int64_t i = 0; i < NTOK; i++)
        dl[i] = -weight[i];
    model_zero_grad(&m);
    cr_assert_eq(model_backward(&m, dl, NULL, NULL, &err), RT_OK, "%s", err.msg);
    for (size_t i = 0; i < m.ntensors; i++) {
        char name[160];
        snprintf(name, sizeof name, "grad.%s", m.tensors[i].name);
        const st_tensor *t = st_find(&ref, name);
        cr_assert_not_null(t, "the reference has no %s", name);
        cr_assert_eq((size_t)st_numel(t), m.tensors[i].numel);
        cr_assert_eq(st_to_f32(t, want, &err), RT_OK);
        e = th_rel_err(m.grads + m.tensors[i].offset, want, (int64_t)m.tensors[i].numel);
        cr_assert(e < 1e-4, "%s: gradient of %s: error %g", arch, m.tensors[i].name, e);
    }
    st_close(&ref);
    free(want);
    free(logits);
    model_free(&m);
    th_sh("rm -rf %s", dir);
}

static void parity(const char *arch, unsigned targets, size_t want_tensors) {
    parity_p(arch, targets, want_tensors, 0.0);
}

Test(lora, qwen2_all_targets_vs_reference) {
    parity("qwen2", MODEL_LORA_ALL, 2 * 2 * 7);
}

Test(lora, dropout_vs_reference_with_the_same_masks) {
    /* fused groups with several adapters, each its own mask (q and v of q/k/v: v's rows after k's), one adapter of a
     * group (gate of gate/up), and the single ones (o, down) */
    parity_p("qwen2", MODEL_LORA_Q | MODEL_LORA_V | MODEL_LORA_O | MODEL_LORA_GATE | MODEL_LORA_DOWN, 2 * 2 * 5, 0.3);
}

/* The masks: values 0 or 1/(1-p), about p dropped, a function of the key, layer, target and position only. */
Test(lora, dropout_masks_are_keyed_and_unbiased) {
    enum { M = 64, K = 200 };
    static float a[M * K], b[M * K], x[M * K];
    double p = 0.25;
    lora_dropout_apply(7, p, 1, 2, M, K, NULL, a);
    size_t dropped = 0;
    for (int i = 0; i < M * K; i++) {
        cr_assert(a[i] == 0.0f || a[i] == (float)(1 / (1 - p)), "mask value %g", a[i]);
        dropped += a[i] == 0.0f;
    }
    double frac = (double)dropped / (M * K); /* binomial: sd = sqrt(p (1-p) / 12800) = 0.004 */
    cr_expect(fabs(frac - p) < 0.02, "dropped %g, expected %g", frac, p);
    lora_dropout_apply(7, p, 1, 2, M, K, NULL, b);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "the same key draws the same mask");
    for (int i = 0; i < M * K; i++)
        x[i] = (float)(i % 13) - 6.0f;
    lora_dropout_apply(7, p, 1, 2, M, K, x, b);
    for (int i = 0; i < M * K; i++)
        cr_assert_eq(b[i], x[i] * a[i], "out = x * mask at %d", i);
    const int64_t other[3][3] = {{8, 1, 2}, {7, 0, 2}, {7, 1, 3}}; /* key, layer, target */
    for (int k = 0; k < 3; k++) {
        lora_dropout_apply((uint64_t)other[k][0], p, other[k][1], (int)other[k][2], M, K, NULL, b);
        size_t same = 0;
        for (int i = 0; i < M * K; i++)
            same += a[i] == b[i];
        cr_expect(same < (size_t)(0.7 * M * K), "case %d: masks agree on %zu of %d entries", k, same, M * K);
    }
    lora_dropout_apply(7, 0.0, 1, 2, M, K, x, b);
    cr_expect_eq(memcmp(b, x, sizeof x), 0, "p = 0 keeps every input unchanged");
}

/* Dropout 0 with a training key, and dropout 0.4 without a key (inference), equal the model without dropout exactly;
 * dropout 0.4 with a key differs. */
Test(lora, dropout_zero_or_off_equals_no_dropout) {
    char dir[256];
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s qwen2 18", dir);
    model m0, m4;
    lora_model_p(&m0, dir, MODEL_LORA_ALL, MODEL_PREC_BF16, 0, 0.0);
    lora_model_p(&m4, dir, MODEL_LORA_ALL, MODEL_PREC_BF16, 0, 0.4);
    int32_t tokens[NTOK], targets[NTOK];
    int64_t start[NSEQ + 1];
    float weight[NTOK];
    batch(&m0, tokens, targets, start, weight);
    model_batch b = {NSEQ, start, tokens, targets};
    rt_error err;
    float ref[NTOK], lp[NTOK];
    cr_assert_eq(model_forward(&m0, &b, ref, NULL, NULL, &err), RT_OK, "%s", err.msg);
    m0.lora_dropout_key = 99;
    cr_assert_eq(model_forward(&m0, &b, lp, NULL, NULL, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(memcmp(ref, lp, sizeof lp), 0, "dropout 0 with a key differs from no dropout");
    cr_assert_eq(model_forward(&m4, &b, lp, NULL, NULL, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(memcmp(ref, lp, sizeof lp), 0, "dropout 0.4 without a key (inference) differs from no dropout");
    m4.lora_dropout_key = 99;
    cr_assert_eq(model_forward(&m4, &b, lp, NULL, NULL, &err), RT_OK, "%s", err.msg);
    cr_expect_gt(th_rel_err(lp, ref, NTOK), 1e-4, "dropout 0.4 in a training pass changed nothing");
    model_free(&m0);
    model_free(&m4);
    th_sh("rm -rf %s", dir);
}

Test(lora, llama_some_targets_vs_reference) {
    /* k and up only: a fused group with one adapter in its middle / second half */
    parity("llama", MODEL_LORA_K | MODEL_LORA_UP | MODEL_LORA_O, 2 * 2 * 3);
}

static double xent(model *m, const model_batch *b, const float *weight) {
    float logp[NTOK];
    rt_error err;
    cr_assert_eq(model_forward(m, b, logp, NULL, NULL, &err), RT_OK, "%s", err.msg);
    double s = 0;
    for (int64_t i = 0; i < NTOK; i++)
        s -= (double)weight[i] * logp[i];
    return s;
}

Test(lora, adapter_gradients_match_finite_differences) {
    char dir[256];
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s qwen2 12", dir);
    model m;
    lora_model(&m, dir, MODEL_LORA_ALL, MODEL_PREC_F32, 0);
    int32_t tokens[NTOK], targets[NTOK];
    int64_t start[NSEQ + 1];
    float weight[NTOK], loss;
    batch(&m, tokens, targets, start, weight);
    model_batch b = {NSEQ, start, tokens, targets};
    rt_error err;
    cr_assert_eq(model_train_init(&m, &err), RT_OK);
    model_zero_grad(&m);
    cr_assert_eq(model_xent_step(&m, &b, weight, &loss, NULL, &err), RT_OK, "%s", err.msg);
    rt_rng r;
    rt_rng_seed(&r, 3);
    for (size_t t = 0; t < m.ntensors; t++) {
        for (int k = 0; k < 2; k++) {
            size_t i = m.tensors[t].offset + rt_rng_below(&r, m.tensors[t].numel);
            float keep = m.params[i], h = 2e-3f;
            m.params[i] = keep + h;
            double up = xent(&m, &b, weight);
            m.params[i] = keep - h;
            double down = xent(&m, &b, weight);
            m.params[i] = keep;
            double fd = (up - down) / (2 * h), g = m.grads[i];
            cr_assert(fabs(fd - g) < 2e-3 + 2e-2 * fabs(fd), "%s[%zu]: gradient %g, finite differences %g",
                      m.tensors[t].name, i - m.tensors[t].offset, g, fd);
        }
    }
    model_free(&m);
    th_sh("rm -rf %s", dir);
}

Test(lora, merged_model_equals_adapters) {
    char dir[256], out[512];
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s qwen2 13", dir);
    model lm, full;
    lora_model(&lm, dir, MODEL_LORA_ALL & ~MODEL_LORA_V, MODEL_PREC_F32, 0);
    rt_error err;
    char ad[512];
    snprintf(ad, sizeof ad, "%s/adapter", dir);
    cr_assert_eq(model_save(&lm, ad, 0, &err), RT_OK, "%s", err.msg);
    snprintf(out, sizeof out, "%s/merged", dir);
    th_sh("printf '{\\n  \"do_sample\": true,\\n  \"top_p\": 0.8\\n}\\n' > %s/generation_config.json", dir);
    cr_assert_eq(model_peft_merge(dir, ad, out, &err), RT_OK, "%s", err.msg);
    /* the base's sampling defaults, copied as they are */
    th_sh("cmp %s/generation_config.json %s/generation_config.json && grep -q top_p %s/generation_config.json", dir,
          out, out);
    cr_assert_neq(model_peft_merge(dir, ad, out, &err), RT_OK, "an existing folder is never overwritten");
    model_opts fo = {.prec = MODEL_PREC_F32};
    cr_assert_eq(model_load(&full, out, &fo, &err), RT_OK, "%s", err.msg);
    int32_t tokens[NTOK], targets[NTOK];
    int64_t start[NSEQ + 1];
    float weight[NTOK];
    batch(&lm, tokens, targets, start, weight);
    model_batch b = {NSEQ, start, tokens, targets};
    int64_t V = lm.cfg.vocab_size;
    float *a = malloc((size_t)(NTOK * V) * sizeof(float)), *c = malloc((size_t)(NTOK * V) * sizeof(float));
    cr_assert_eq(model_logits(&lm, &b, a, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_logits(&full, &b, c, &err), RT_OK, "%s", err.msg);
    double e = th_rel_err(a, c, NTOK * V);
    cr_assert(e < 1e-4, "merged vs adapters: %g", e);
    /* adapters off: the base alone, which differs (the adapters are not zero) */
    lm.lora_off = 1;
    cr_assert_eq(model_logits(&lm, &b, a, &err), RT_OK, "%s", err.msg);
    cr_assert(th_rel_err(a, c, NTOK * V) > 1e-2);
    free(a);
    free(c);
    model_free(&lm);
    model_free(&full);
    th_sh("rm -rf %s", dir);
}

Test(lora, peft_layout_read_back_independently) {
    char dir[256], ad[512];
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s llama 14", dir);
    model m, back;
    lora_model(&m, dir, MODEL_LORA_Q | MODEL_LORA_V | MODEL_LORA_DOWN, MODEL_PREC_F32, 1);
    snprintf(ad, sizeof ad, "%s/adapter", dir);
    rt_error err;
    cr_assert_eq(model_save(&m, ad, 0, &err), RT_OK, "%s", err.msg);
    /* an independent reader: config keys, PEFT's tensor names and shapes, and the values of two entries */
    const model_tensor *qa = model_find_tensor(&m, "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
    const model_tensor *db = model_find_tensor(&m, "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight");
    cr_assert(qa && db);
    th_sh("/usr/bin/python3 -c '"
          "import json,struct,sys,numpy as np\n"
          "d=sys.argv[1]; c=json.load(open(d+\"/adapter_config.json\"))\n"
          "assert c[\"peft_type\"]==\"LORA\" and c[\"task_type\"]==\"CAUSAL_LM\" and c[\"r\"]==4 and "
          "c[\"lora_alpha\"]==8\n"
          "assert sorted(c[\"target_modules\"])==[\"down_proj\",\"q_proj\",\"v_proj\"] and c[\"bias\"]==\"none\"\n"
          "assert c[\"fan_in_fan_out\"] is False and c[\"lora_dropout\"]==0 and c[\"base_model_name_or_path\"]\n"
          "b=open(d+\"/adapter_model.safetensors\",\"rb\").read(); n=struct.unpack(\"<Q\",b[:8])[0]\n"
          "h=json.loads(b[8:8+n]); h.pop(\"__metadata__\",None)\n"
          "assert len(h)==12, len(h)\n"
          "for l in range(2):\n"
          " for mod,o,i in ((\"self_attn.q_proj\",32,32),(\"self_attn.v_proj\",8,32),(\"mlp.down_proj\",32,40)):\n"
          "  p=\"base_model.model.model.layers.%%d.%%s.\"%%(l,mod)\n"
          "  assert h[p+\"lora_A.weight\"][\"shape\"]==[4,i], p\n"
          "  assert h[p+\"lora_B.weight\"][\"shape\"]==[o,4], p\n"
          "def get(k):\n"
          " a,e=h[k][\"data_offsets\"]; return np.frombuffer(b[8+n+a:8+n+e],dtype=np.float32)\n"
          "assert get(\"base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight\")[5]==np.float32(%.9g)\n"
          "assert get(\"base_model.model.model.layers.0.mlp.down_proj.lora_B.weight\")[37]==np.float32(%.9g)\n"
          "' %s",
          (double)m.params[qa->offset + 5], (double)m.params[db->offset + 37], ad);
    /* read back through the folder alone (its config names the base) */
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 1};
    cr_assert_eq(model_load(&back, ad, &o, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(back.nparams, m.nparams);
    for (size_t i = 0; i < m.ntensors; i++) {
        const model_tensor *t = &m.tensors[i];
        cr_assert_eq(memcmp(back.params + t->offset, m.params + t->offset, t->numel * sizeof(float)), 0,
                     "%s differs after the round trip", t->name);
    }
    model_free(&back);
    /* other LoRA settings than the adapter's: an error naming both */
    model_opts other = {.prec = MODEL_PREC_F32, .lora = {8, 16.0, MODEL_LORA_ALL, 0.0}};
    cr_assert_neq(model_load(&back, ad, &other, &err), RT_OK);
    cr_assert(strstr(err.msg, "rank 4 on q_proj,v_proj,down_proj, not the rank 8 on q_proj,k_proj,v_proj,o_proj"), "%s",
              err.msg);
    /* a misshaped tensor is an error naming it */
    th_sh("/usr/bin/python3 -c '"
          "import json,struct,sys\n"
          "p=sys.argv[1]; b=open(p,\"rb\").read(); n=struct.unpack(\"<Q\",b[:8])[0]; h=json.loads(b[8:8+n])\n"
          "k=\"base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight\"; h[k][\"shape\"]=[4,8]\n"
          "t=json.dumps(h).encode(); t+=b\" \"*((8-len(t)%%8)%%8)\n"
          "open(p,\"wb\").write(struct.pack(\"<Q\",len(t))+t+b[8+n:])' %s/adapter_model.safetensors",
          ad);
    cr_assert_neq(model_load(&back, ad, &o, &err), RT_OK);
    cr_assert(strstr(err.msg, "layers.0.self_attn.v_proj.lora_B.weight"), "%s", err.msg);
    model_free(&m);
    th_sh("rm -rf %s", dir);
}

Test(lora, resume_is_bit_exact) {
    char dir[256], ck[512], opt[600];
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s qwen2 15", dir);
    model a, b;
    model_opts o = {.prec = MODEL_PREC_BF16, .lora = {4, 16.0, MODEL_LORA_ALL, 0.0}};
    rt_error err;
    /* the base in bf16, as training runs it */
    cr_assert_eq(model_load(&a, dir, &(model_opts){.prec = MODEL_PREC_F32}, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_save(&a, dir, 1, &err), RT_OK, "%s", err.msg);
    model_free(&a);
    cr_assert_eq(model_load(&a, dir, &o, &err), RT_OK, "%s", err.msg);
    model_init_random(&a, 9, 0.02);
    cr_assert_eq(model_train_init(&a, &err), RT_OK);
    int32_t tokens[NTOK], targets[NTOK];
    int64_t start[NSEQ + 1];
    float weight[NTOK], loss;
    batch(&a, tokens, targets, start, weight);
    model_batch bt = {NSEQ, start, tokens, targets};
    model_adamw opt_ = model_adamw_defaults();
    for (int step = 0; step < 3; step++) {
        model_zero_grad(&a);
        cr_assert_eq(model_xent_step(&a, &bt, weight, &loss, NULL, &err), RT_OK, "%s", err.msg);
        model_adamw_step(&a, &opt_, 1e-2);
        if (step == 0) {
            snprintf(ck, sizeof ck, "%s/ck", dir);
            snprintf(opt, sizeof opt, "%s/optimizer.safetensors", ck);
            cr_assert_eq(model_save(&a, ck, 0, &err), RT_OK, "%s", err.msg);
            cr_assert_eq(model_save_optimizer(&a, opt, &err), RT_OK, "%s", err.msg);
        }
    }
    /* resume from step 1: the adapters and their AdamW state only, the base named by the adapter's config */
    th_sh("test ! -e %s/model.safetensors && test -e %s/adapter_model.safetensors", ck, ck);
    model_opts ro = {.prec = MODEL_PREC_BF16};
    cr_assert_eq(model_load(&b, ck, &ro, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_load_optimizer(&b, opt, &err), RT_OK, "%s", err.msg);
    for (int step = 1; step < 3; step++) {
        model_zero_grad(&b);
        cr_assert_eq(model_xent_step(&b, &bt, weight, &loss, NULL, &err), RT_OK, "%s", err.msg);
        model_adamw_step(&b, &opt_, 1e-2);
    }
    cr_assert_eq(a.nparams, b.nparams);
    cr_assert_eq(memcmp(a.params, b.params, a.nparams * sizeof(float)), 0, "resumed adapters differ");
    cr_assert_eq(memcmp(a.adam_v, b.adam_v, a.nparams * sizeof(float)), 0, "resumed AdamW state differs");
    model_free(&a);
    model_free(&b);
    th_sh("rm -rf %s", dir);
}

/* Frozen bf16 inference equals the full model in bf16 (bf16 weights: the same products), in both the training
 * forward and the KV-cache path; the retool-written bf16 file is read in place. */
Test(lora, frozen_base_equals_full_model) {
    char dir[256];
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s qwen2 16", dir);
    model full, fz;
    rt_error err;
    cr_assert_eq(model_load(&full, dir, &(model_opts){.prec = MODEL_PREC_F32}, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_save(&full, dir, 1, &err), RT_OK, "%s", err.msg);
    model_free(&full);
    cr_assert_eq(model_load(&full, dir, &(model_opts){.prec = MODEL_PREC_BF16}, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_load(&fz, dir, &(model_opts){.prec = MODEL_PREC_BF16, .frozen = 1}, &err), RT_OK, "%s", err.msg);
    cr_assert_null(fz.params_bf16);
    cr_assert_eq(fz.nparams, 0);
    cr_assert_eq(fz.base->copied_bytes, 0, "a retool bf16 file is read in place");
    cr_assert_gt(fz.base->mapped_bytes, 0);
    int32_t tokens[NTOK], targets[NTOK];
    int64_t start[NSEQ + 1];
    float weight[NTOK];
    batch(&full, tokens, targets, start, weight);
    model_batch b = {NSEQ, start, tokens, targets};
    int64_t V = full.cfg.vocab_size;
    float *a = malloc((size_t)(NTOK * V) * sizeof(float)), *c = malloc((size_t)(NTOK * V) * sizeof(float));
    cr_assert_eq(model_logits(&full, &b, a, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(model_logits(&fz, &b, c, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(memcmp(a, c, (size_t)(NTOK * V) * sizeof(float)), 0, "frozen forward differs");
    /* the KV-cache path: prefill of the first sequence, then decode its next token */
    model *ms[2] = {&full, &fz};
    float *out[2] = {a, c};
    for (int k = 0; k < 2; k++) {
        model_kv *kv;
        int64_t id, off[2] = {0, 8};
        cr_assert_eq(model_kv_init(&kv, ms[k], &err), RT_OK);
        cr_assert_eq(model_seq_new(kv, &id, &err), RT_OK);
        cr_assert_eq(model_infer(ms[k], kv, 1, &id, off, tokens, out[k], NULL, &err), RT_OK, "%s", err.msg);
        cr_assert_eq(model_decode(ms[k], kv, 1, &id, tokens + 8, out[k] + V, &err), RT_OK, "%s", err.msg);
        model_kv_free(kv);
    }
    cr_assert_eq(memcmp(a, c, (size_t)(2 * V) * sizeof(float)), 0, "frozen KV-cache path differs");
    free(a);
    free(c);
    model_free(&full);
    model_free(&fz);
    th_sh("rm -rf %s", dir);
}

/* A file in Hugging Face's (alphabetical) order: gate/up adjacent and read in place, q/k/v interleaved with their
 * biases and copied; an F32 file is converted whole. */
Test(lora, frozen_base_maps_what_the_layout_allows) {
    char dir[256];
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s qwen2 17", dir);
    model fz;
    rt_error err;
    model_opts o = {.prec = MODEL_PREC_BF16, .frozen = 1};
    cr_assert_eq(model_load(&fz, dir, &o, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(fz.base->mapped_bytes, 0, "F32 file: nothing in place");
    size_t total = fz.base->copied_bytes;
    model_free(&fz);
    th_sh("/usr/bin/python3 -c '"
          "import json,struct,sys,numpy as np\n"
          "p=sys.argv[1]; b=open(p,\"rb\").read(); n=struct.unpack(\"<Q\",b[:8])[0]; h=json.loads(b[8:8+n])\n"
          "h.pop(\"__metadata__\",None); out={}; parts=[]; off=0\n"
          "for k in sorted(h):\n"
          " a,e=h[k][\"data_offsets\"]; x=np.frombuffer(b[8+n+a:8+n+e],dtype=np.float32)\n"
          " r=((x.view(np.uint32)+0x8000)>>16).astype(np.uint16).tobytes()\n"
          " out[k]={\"dtype\":\"BF16\",\"shape\":h[k][\"shape\"],\"data_offsets\":[off,off+len(r)]}; off+=len(r); "
          "parts.append(r)\n"
          "t=json.dumps(out).encode(); t+=b\" \"*((8-len(t)%%8)%%8)\n"
          "open(p,\"wb\").write(struct.pack(\"<Q\",len(t))+t+b\"\".join(parts))' %s/model.safetensors",
          dir);
    cr_assert_eq(model_load(&fz, dir, &o, &err), RT_OK, "%s", err.msg);
    const model_config *c = &fz.cfg;
    size_t qkv = (size_t)(fz.qkv_dim * c->hidden_size) * 2 * (size_t)c->num_layers;
    cr_assert_eq(fz.base->copied_bytes, qkv);
    cr_assert_eq(fz.base->mapped_bytes + qkv, total);
    model_free(&fz);
    th_sh("rm -rf %s", dir);
}
