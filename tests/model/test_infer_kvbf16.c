/* The bf16 KV cache (model_kv_set_bf16): prefill, decoding (the decode kernel reading bf16), appends (the blocked
 * kernel over f32 copies), batched steps, cache growth and forks give a full f32 forward's logits within bf16
 * tolerance; the decode and blocked paths, which see the same rounded keys and values, agree to float rounding; and
 * the element type cannot change under live sequences. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "helpers.h"
#include "kernels/pool.h"
#include "model/infer.h"

static void init2(void) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
}
static void fini(void) {
    kern_shutdown();
}
TestSuite(kvbf16, .init = init2, .fini = fini);

/* HS 32 (the vector paths), heads over kv_heads groups, 160 positions. */
static void make(model *m, int64_t heads, int64_t kv_heads) {
    model_config c;
    memset(&c, 0, sizeof c);
    c.arch = MODEL_ARCH_QWEN2;
    c.attention_bias = 1;
    c.vocab_size = 41;
    c.hidden_size = 64; /* any: the heads are 32 wide */
    c.intermediate_size = 48;
    c.num_layers = 2;
    c.num_heads = heads;
    c.num_kv_heads = kv_heads;
    c.head_dim = 32;
    c.max_position_embeddings = 160;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000;
    c.bos_token_id = c.eos_token_id = -1;
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
    rt_error err;
    cr_assert_eq(model_init(m, &c, &o, &err), RT_OK, "%s", err.msg);
    model_init_random(m, 21, 0.1);
}

static float *full(model *m, const int32_t *ids, int64_t len) {
    int64_t start[2] = {0, len};
    model_batch b = {1, start, ids, NULL};
    float *z = malloc((size_t)(len * m->cfg.vocab_size) * sizeof(float));
    rt_error err;
    cr_assert_eq(model_logits(m, &b, z, &err), RT_OK, "%s", err.msg);
    return z;
}

/* Relative error of a against the f32 forward: within bf16 tolerance; returns it. */
static double near(const float *a, const float *ref, int64_t V, const char *what, int t) {
    double e = th_rel_err(a, ref, V);
    cr_assert(e < 1e-2, "%s at %d: error %g against the f32 forward", what, t, e);
    return e;
}

static void check(int64_t heads, int64_t kv_heads) {
    model m;
    make(&m, heads, kv_heads);
    int64_t V = m.cfg.vocab_size, N = 120;
    int32_t ids[120];
    rt_rng r;
    rt_rng_seed(&r, 8);
    for (int64_t i = 0; i < N; i++) ids[i] = (int32_t)rt_rng_below(&r, (uint64_t)V);
    float *ref = full(&m, ids, N);
    model_kv *kv;
    rt_error err;
    cr_assert_eq(model_kv_init(&kv, &m, &err), RT_OK);
    cr_assert_eq(model_kv_set_bf16(kv, 1, &err), RT_OK, "%s", err.msg);
    cr_assert(model_kv_is_bf16(kv));
    /* Sequence a: prefill 20 (blocked), decode to 60 (decode kernel; the cache grows past 64 later), append 12
     * (blocked over the bf16 cache), then a and its fork decode together to N. */
    int64_t sid[3];
    cr_assert_eq(model_seq_new(kv, &sid[0], &err), RT_OK);
    float *logits = malloc((size_t)(2 * V) * sizeof(float)), *all = malloc((size_t)(N * V) * sizeof(float));
    int64_t off[2] = {0, 20};
    cr_assert_eq(model_infer(&m, kv, 1, sid, off, ids, logits, NULL, &err), RT_OK, "%s", err.msg);
    double worst = near(logits, ref + 19 * V, V, "prefill", 19);
    cr_assert_eq(model_seq_new(kv, &sid[2], &err), RT_OK); /* b: the same ids, one prefill of 72 (blocked only) */
    int64_t offb[2] = {0, 72};
    cr_assert_eq(model_infer(&m, kv, 1, &sid[2], offb, ids, NULL, all, &err), RT_OK, "%s", err.msg);
    for (int64_t t = 20; t < 60; t++) {
        cr_assert_eq(model_decode(&m, kv, 1, sid, ids + t, logits, &err), RT_OK, "%s", err.msg);
        worst = fmax(worst, near(logits, ref + t * V, V, "decode", (int)t));
        /* the same rounded keys and values through the blocked kernel: equal to float rounding */
        double e = th_rel_err(logits, all + t * V, V);
        cr_assert(e < 1e-5, "decode vs blocked prefill over the bf16 cache at %lld: %g", (long long)t, e);
    }
    int64_t offa[2] = {0, 12};
    cr_assert_eq(model_infer(&m, kv, 1, sid, offa, ids + 60, logits, NULL, &err), RT_OK, "%s", err.msg);
    worst = fmax(worst, near(logits, ref + 71 * V, V, "append", 71));
    cr_assert(th_rel_err(logits, all + 71 * V, V) < 1e-5, "append vs blocked prefill");
    cr_assert_eq(model_seq_fork(kv, sid[0], &sid[1], &err), RT_OK, "%s", err.msg);
    for (int64_t t = 72; t < N; t++) {
        int32_t tok[2] = {ids[t], ids[t]};
        cr_assert_eq(model_decode(&m, kv, 2, sid, tok, logits, &err), RT_OK, "%s", err.msg);
        worst = fmax(worst, near(logits, ref + t * V, V, "decode after growth", (int)t));
        near(logits + V, ref + t * V, V, "fork", (int)t);
    }
    /* bf16 rounding must show: the same run with an f32 cache is exact to float rounding, this one is not. */
    cr_assert_gt(worst, 1e-5, "a bf16 cache should differ from the f32 forward (worst error %g)", worst);
    cr_assert_eq(model_kv_set_bf16(kv, 0, &err), RT_EINVAL, "the element type cannot change under live sequences");
    model_kv_free(kv);
    free(logits);
    free(all);
    free(ref);
    model_free(&m);
}

Test(kvbf16, gqa_groups_of_four) { check(8, 2); }
Test(kvbf16, one_head_per_group) { check(2, 2); }
Test(kvbf16, groups_of_five) { check(10, 2); }
