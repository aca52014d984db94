/* Inference against the training forward: KV-cache decoding, append-prefill, batched steps over sequences of
 * different lengths, forks and truncation all give the logits of a full forward of the same ids. Sampling against
 * sort-based references and its own definition (greedy = argmax, top-k / top-p sets, seeds, frequencies). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "helpers.h"
#include "kernels/matmul.h"
#include "kernels/pool.h"
#include "model/infer.h"
#include "model/sample.h"

static void init2(void) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
}
static void fini(void) {
    kern_shutdown();
}
TestSuite(infer, .init = init2, .fini = fini);

/* An f32 Qwen2-shaped model of 2 layers and heads of 8 (tied, q/k/v biases), random weights of scale 0.3. */
static void qwen_small(model *m, int64_t vocab, int64_t hidden, int64_t mlp, int64_t heads, int64_t kv_heads,
                       int64_t positions, uint64_t seed) {
    model_config c;
    memset(&c, 0, sizeof c);
    c.arch = MODEL_ARCH_QWEN2;
    c.vocab_size = vocab;
    c.hidden_size = hidden;
    c.intermediate_size = mlp;
    c.num_layers = 2;
    c.num_heads = heads;
    c.num_kv_heads = kv_heads;
    c.head_dim = 8;
    c.max_position_embeddings = positions;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000;
    c.tie_word_embeddings = 1;
    c.attention_bias = 1;
    c.bos_token_id = c.eos_token_id = -1;
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
    rt_error err;
    cr_assert_eq(model_init(m, &c, &o, &err), RT_OK, "%s", err.msg);
    model_init_random(m, seed, 0.3);
}

static void tiny(model *m, int seed) {
    qwen_small(m, 37, 32, 48, 4, 2, 128, (uint64_t)seed);
    rt_rng r;
    rt_rng_seed(&r, (uint64_t)seed + 100);
    for (size_t i = 0; i < m->nparams; i++) m->params[i] += (float)(0.1 * rt_rng_normal(&r));
}

/* logits [len, V] of a full forward of ids */
static float *full(model *m, const int32_t *ids, int64_t len) {
    int64_t start[2] = {0, len};
    model_batch b = {1, start, ids, NULL};
    float *z = malloc((size_t)(len * m->cfg.vocab_size) * sizeof(float));
    rt_error err;
    cr_assert_eq(model_logits(m, &b, z, &err), RT_OK, "%s", err.msg);
    return z;
}

static void same(const float *a, const float *b, int64_t V, const char *what) {
    double e = th_rel_err(a, b, V);
    cr_assert(e < 1e-5, "%s: error %g", what, e);
}

Test(infer, prefill_append_decode_equal_full_forward) {
    model m;
    tiny(&m, 1);
    int64_t V = m.cfg.vocab_size;
    int32_t ids[12] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
    float *ref = full(&m, ids, 12);
    model_kv *kv;
    rt_error err;
    cr_assert_eq(model_kv_init(&kv, &m, &err), RT_OK);
    int64_t id;
    cr_assert_eq(model_seq_new(kv, &id, &err), RT_OK);
    float *all = malloc((size_t)(12 * V) * sizeof(float)), last[37];
    int64_t off[2] = {0, 5};
    cr_assert_eq(model_infer(&m, kv, 1, &id, off, ids, last, all, &err), RT_OK, "%s", err.msg);
    for (int64_t t = 0; t < 5; t++) same(all + t * V, ref + t * V, V, "prefill");
    same(last, ref + 4 * V, V, "prefill last");
    off[1] = 3; /* append-prefill of 3 tokens (as interpreter output enters) */
    cr_assert_eq(model_infer(&m, kv, 1, &id, off, ids + 5, last, all, &err), RT_OK, "%s", err.msg);
    for (int64_t t = 0; t < 3; t++) same(all + t * V, ref + (5 + t) * V, V, "append");
    for (int64_t t = 8; t < 12; t++) {
        cr_assert_eq(model_decode(&m, kv, 1, &id, ids + t, last, &err), RT_OK, "%s", err.msg);
        same(last, ref + t * V, V, "decode");
    }
    cr_assert_eq(model_seq_len(kv, id), 12);
    /* truncate back to 6 and continue with different tokens: equals the full forward of the new ids */
    cr_assert_eq(model_seq_truncate(kv, id, 6, &err), RT_OK);
    int32_t ids2[9] = {3, 1, 4, 1, 5, 9, 7, 7, 0};
    float *ref2 = full(&m, ids2, 9);
    off[1] = 3;
    cr_assert_eq(model_infer(&m, kv, 1, &id, off, ids2 + 6, last, all, &err), RT_OK, "%s", err.msg);
    for (int64_t t = 0; t < 3; t++) same(all + t * V, ref2 + (6 + t) * V, V, "after truncate");
    model_kv_free(kv);
    free(ref);
    free(ref2);
    free(all);
    model_free(&m);
}

Test(infer, batched_steps_over_sequences_of_different_lengths) {
    model m;
    tiny(&m, 2);
    int64_t V = m.cfg.vocab_size;
    enum { S = 5, T = 20 };
    int32_t ids[S][T];
    int64_t plen[S] = {1, 7, 3, 12, 5};
    rt_rng r;
    rt_rng_seed(&r, 9);
    float *ref[S];
    for (int s = 0; s < S; s++) {
        for (int t = 0; t < T; t++) ids[s][t] = (int32_t)rt_rng_below(&r, (uint64_t)V);
        ref[s] = full(&m, ids[s], T);
    }
    model_kv *kv;
    rt_error err;
    cr_assert_eq(model_kv_init(&kv, &m, &err), RT_OK);
    int64_t sid[S], off[S + 1];
    float logits[S * 37];
    /* prefill all five prompts in one call */
    int32_t packed[S * T];
    off[0] = 0;
    for (int s = 0; s < S; s++) {
        cr_assert_eq(model_seq_new(kv, &sid[s], &err), RT_OK);
        memcpy(packed + off[s], ids[s], (size_t)plen[s] * sizeof(int32_t));
        off[s + 1] = off[s] + plen[s];
    }
    cr_assert_eq(model_infer(&m, kv, S, sid, off, packed, logits, NULL, &err), RT_OK, "%s", err.msg);
    for (int s = 0; s < S; s++) same(logits + s * V, ref[s] + (plen[s] - 1) * V, V, "batched prefill");
    /* decode steps; sequence 2 leaves the batch for two steps (waiting on the sandbox), then returns with an append */
    int64_t pos[S];
    for (int s = 0; s < S; s++) pos[s] = plen[s];
    for (int step = 0; step < 6; step++) {
        int64_t bid[S], n = 0;
        int32_t tok[S];
        int who[S];
        for (int s = 0; s < S; s++) {
            if (s == 2 && (step == 1 || step == 2)) continue;
            bid[n] = sid[s];
            tok[n] = ids[s][pos[s]];
            who[n++] = s;
        }
        cr_assert_eq(model_decode(&m, kv, n, bid, tok, logits, &err), RT_OK, "%s", err.msg);
        for (int64_t i = 0; i < n; i++) {
            same(logits + i * V, ref[who[i]] + pos[who[i]] * V, V, "batched decode");
            pos[who[i]]++;
        }
    }
    /* a mixed call: an append of 3 tokens to one sequence and one decode token for another */
    int64_t mid[2] = {sid[2], sid[0]}, moff[3] = {0, 3, 4};
    int32_t mtok[4] = {ids[2][pos[2]], ids[2][pos[2] + 1], ids[2][pos[2] + 2], ids[0][pos[0]]};
    cr_assert_eq(model_infer(&m, kv, 2, mid, moff, mtok, logits, NULL, &err), RT_OK, "%s", err.msg);
    same(logits, ref[2] + (pos[2] + 2) * V, V, "mixed append");
    same(logits + V, ref[0] + pos[0] * V, V, "mixed decode");
    /* errors: a freed sequence, a repeated id */
    model_seq_free(kv, sid[4]);
    cr_assert_neq(model_decode(&m, kv, 1, &sid[4], mtok, logits, &err), RT_OK);
    int64_t dup[2] = {sid[0], sid[0]};
    cr_assert_neq(model_decode(&m, kv, 2, dup, mtok, logits, &err), RT_OK);
    model_kv_free(kv);
    for (int s = 0; s < S; s++) free(ref[s]);
    model_free(&m);
}

Test(infer, fork_shares_the_prompt) {
    model m;
    tiny(&m, 3);
    int64_t V = m.cfg.vocab_size;
    int32_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[8] = {1, 2, 3, 4, 5, 0, 0, 1};
    float *ra = full(&m, a, 8), *rb = full(&m, b, 8), logits[2 * 37];
    model_kv *kv;
    rt_error err;
    cr_assert_eq(model_kv_init(&kv, &m, &err), RT_OK);
    int64_t ids[2], off[2] = {0, 5};
    cr_assert_eq(model_seq_new(kv, &ids[0], &err), RT_OK);
    cr_assert_eq(model_infer(&m, kv, 1, ids, off, a, logits, NULL, &err), RT_OK);
    cr_assert_eq(model_seq_fork(kv, ids[0], &ids[1], &err), RT_OK);
    for (int t = 5; t < 8; t++) {
        int32_t tok[2] = {a[t], b[t]};
        cr_assert_eq(model_decode(&m, kv, 2, ids, tok, logits, &err), RT_OK, "%s", err.msg);
        same(logits, ra + t * V, V, "fork a");
        same(logits + V, rb + t * V, V, "fork b");
    }
    model_kv_free(kv);
    free(ra);
    free(rb);
    model_free(&m);
}

/* ---- sampling ---- */

static int cmp_desc(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

Test(infer, sampling_sets_and_determinism) {
    enum { V = 200 };
    float z[V], sorted[V];
    rt_rng r;
    rt_rng_seed(&r, 17);
    for (int i = 0; i < V; i++) z[i] = (float)(2 * rt_rng_normal(&r));
    model_sample_buf b;
    cr_assert(model_sample_buf_init(&b, V));
    /* greedy = argmax */
    model_sampler g = {0, 0, 1};
    int best = 0;
    for (int i = 1; i < V; i++)
        if (z[i] > z[best]) best = i;
    cr_assert_eq(model_sample(&g, z, &b, &r, NULL), best);
    /* top-k: exactly the k largest logits */
    model_sampler k = {1.0, 10, 1};
    int64_t n = model_sample_support(&k, z, &b);
    cr_assert_eq(n, 10);
    memcpy(sorted, z, sizeof z);
    qsort(sorted, V, sizeof(float), cmp_desc);
    for (int64_t i = 0; i < n; i++) cr_assert(z[b.idx[i]] >= sorted[9], "top-k kept %g below %g", z[b.idx[i]], sorted[9]);
    /* top-p: the smallest most-probable set reaching p, by a sort-based reference, at two temperatures */
    double temps[2] = {1.0, 0.7}, ps[3] = {0.5, 0.7, 0.95};
    for (int ti = 0; ti < 2; ti++)
        for (int pi = 0; pi < 3; pi++) {
            model_sampler p = {temps[ti], 0, ps[pi]};
            n = model_sample_support(&p, z, &b);
            double pr[V], sum = 0, mx = -1e30;
            for (int i = 0; i < V; i++) mx = fmax(mx, z[i] / temps[ti]);
            for (int i = 0; i < V; i++) sum += (pr[i] = exp(z[i] / temps[ti] - mx));
            float ps_sorted[V];
            for (int i = 0; i < V; i++) ps_sorted[i] = (float)(pr[i] / sum);
            qsort(ps_sorted, V, sizeof(float), cmp_desc);
            int64_t want = 0;
            double acc = 0;
            while (acc < ps[pi] - 1e-6) acc += ps_sorted[want++];
            cr_assert(llabs(n - want) <= 1, "top-p %g at T %g: %lld tokens, reference %lld", ps[pi], temps[ti],
                      (long long)n, (long long)want);
            for (int64_t i = 0; i < n; i++) cr_assert(pr[b.idx[i]] / sum >= ps_sorted[n - 1] * (1 - 1e-5));
        }
    /* top-k then top-p */
    model_sampler kp = {1.0, 5, 0.999};
    cr_assert_leq(model_sample_support(&kp, z, &b), 5);
    /* same seed, same draws; another seed, other draws; draws stay inside the support */
    model_sampler s = {1.0, 50, 0.9};
    rt_rng root;
    rt_rng_seed(&root, 1234);
    rt_rng r1 = rt_rng_split(&root, 7), r2 = rt_rng_split(&root, 7), r3 = rt_rng_split(&root, 8);
    int differ = 0;
    int64_t support = model_sample_support(&s, z, &b);
    int in_support[V] = {0};
    for (int64_t i = 0; i < support; i++) in_support[b.idx[i]] = 1;
    for (int i = 0; i < 64; i++) {
        int32_t t1 = model_sample(&s, z, &b, &r1, NULL), t2 = model_sample(&s, z, &b, &r2, NULL);
        int32_t t3 = model_sample(&s, z, &b, &r3, NULL);
        cr_assert_eq(t1, t2);
        cr_assert(in_support[t1] && in_support[t3]);
        differ += t1 != t3;
    }
    cr_assert_gt(differ, 0);
    model_sample_buf_free(&b);
}

Test(infer, sampling_frequencies_and_logp) {
    enum { V = 4 };
    float z[V] = {0.0f, 1.0f, 2.0f, -1.0f};
    double p[V], sum = 0;
    for (int i = 0; i < V; i++) sum += (p[i] = exp(z[i]));
    model_sample_buf b;
    cr_assert(model_sample_buf_init(&b, V));
    model_sampler s = {1.0, 0, 1.0};
    rt_rng r;
    rt_rng_seed(&r, 5);
    int count[V] = {0};
    const int draws = 40000;
    for (int i = 0; i < draws; i++) {
        float lp;
        int32_t t = model_sample(&s, z, &b, &r, &lp);
        count[t]++;
        cr_assert(fabs(lp - log(p[t] / sum)) < 1e-5);
    }
    for (int i = 0; i < V; i++) {
        double want = p[i] / sum, sd = sqrt(want * (1 - want) / draws);
        cr_assert(fabs((double)count[i] / draws - want) < 5 * sd, "token %d: %g vs %g", i, (double)count[i] / draws, want);
    }
    /* top-p 0.6 keeps {2, 1} (0.665 + 0.245 >= 0.6 only after 2 alone is 0.665 >= 0.6: just {2}) */
    model_sampler tp = {1.0, 0, 0.6};
    cr_assert_eq(model_sample_support(&tp, z, &b), 1);
    cr_assert_eq(b.idx[0], 2);
    tp.top_p = 0.7;
    cr_assert_eq(model_sample_support(&tp, z, &b), 2);
    int32_t stop[2] = {7, 9};
    cr_assert(model_is_stop(stop, 2, 9) && !model_is_stop(stop, 2, 8));
    model_sample_buf_free(&b);
}

Test(infer, wide_heads_groups_of_five_and_cache_growth) {
    /* HS 32 (vector paths), 10 query heads over 2 kv heads (head blocks of 4 and 1), 90 tokens (the cache grows past
     * its first 64 positions while in use) */
    model_config c;
    memset(&c, 0, sizeof c);
    c.arch = MODEL_ARCH_LLAMA;
    c.vocab_size = 29;
    c.hidden_size = 64;
    c.intermediate_size = 40;
    c.num_layers = 2;
    c.num_heads = 10;
    c.num_kv_heads = 2;
    c.head_dim = 32;
    c.max_position_embeddings = 256;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000;
    c.bos_token_id = c.eos_token_id = -1;
    model m;
    model_opts o = {.prec = MODEL_PREC_F32, .value_head = 0};
    rt_error err;
    cr_assert_eq(model_init(&m, &c, &o, &err), RT_OK, "%s", err.msg);
    model_init_random(&m, 12, 0.3);
    int64_t V = c.vocab_size;
    int32_t ids[90];
    rt_rng r;
    rt_rng_seed(&r, 4);
    for (int i = 0; i < 90; i++) ids[i] = (int32_t)rt_rng_below(&r, (uint64_t)V);
    float *ref = full(&m, ids, 90), logits[2 * 29];
    model_kv *kv;
    cr_assert_eq(model_kv_init(&kv, &m, &err), RT_OK);
    int64_t sid[2], off[2] = {0, 50};
    cr_assert_eq(model_seq_new(kv, &sid[0], &err), RT_OK);
    cr_assert_eq(model_infer(&m, kv, 1, sid, off, ids, logits, NULL, &err), RT_OK, "%s", err.msg);
    same(logits, ref + 49 * V, V, "prefill 50");
    for (int t = 50; t < 70; t++) {
        cr_assert_eq(model_decode(&m, kv, 1, sid, ids + t, logits, &err), RT_OK, "%s", err.msg);
        same(logits, ref + t * V, V, "decode past growth");
    }
    cr_assert_eq(model_seq_fork(kv, sid[0], &sid[1], &err), RT_OK);
    for (int t = 70; t < 90; t++) {
        int32_t tok[2] = {ids[t], ids[t]};
        cr_assert_eq(model_decode(&m, kv, 2, sid, tok, logits, &err), RT_OK, "%s", err.msg);
        same(logits, ref + t * V, V, "decode original");
        same(logits + V, ref + t * V, V, "decode fork");
    }
    model_kv_free(kv);
    free(ref);
    model_free(&m);
}

Test(infer, bf16_decoding_matches_bf16_forward) {
    model f;
    tiny(&f, 5);
    model m;
    model_opts o = {.prec = MODEL_PREC_BF16, .value_head = 0};
    rt_error err;
    cr_assert_eq(model_init(&m, &f.cfg, &o, &err), RT_OK, "%s", err.msg);
    memcpy(m.params, f.params, f.nparams * sizeof(float));
    model_sync_bf16(&m);
    int64_t V = m.cfg.vocab_size;
    int32_t ids[10] = {1, 5, 2, 7, 7, 3, 0, 9, 4, 4};
    float *ref = full(&m, ids, 10), *ref32 = full(&f, ids, 10), logits[37];
    /* bf16 products really are used: the bf16 forward differs from the f32 one, but not by much */
    double d32 = th_rel_err(ref, ref32, 10 * V);
    cr_assert(d32 > 1e-6 && d32 < 5e-2, "bf16 vs f32 forward: %g", d32);
    model_kv *kv;
    cr_assert_eq(model_kv_init(&kv, &m, &err), RT_OK);
    int64_t id, off[2] = {0, 6};
    cr_assert_eq(model_seq_new(kv, &id, &err), RT_OK);
    cr_assert_eq(model_infer(&m, kv, 1, &id, off, ids, logits, NULL, &err), RT_OK, "%s", err.msg);
    cr_assert(th_rel_err(logits, ref + 5 * V, V) < 1e-3, "prefill: %g", th_rel_err(logits, ref + 5 * V, V));
    for (int t = 6; t < 10; t++) {
        cr_assert_eq(model_decode(&m, kv, 1, &id, ids + t, logits, &err), RT_OK, "%s", err.msg);
        double e = th_rel_err(logits, ref + t * V, V);
        cr_assert(e < 1e-3, "decode %d: %g", t, e);
    }
    model_kv_free(kv);
    free(ref);
    free(ref32);
    model_free(&m);
    model_free(&f);
}

Test(infer, cache_grows_by_a_quarter_within_its_limit) {
    /* capacities by hand: multiples of 64, a quarter more (or what is needed), no more than the limit rounded up */
    cr_expect_eq(model_kv_seq_capacity(0, 50, 0), 64);
    cr_expect_eq(model_kv_seq_capacity(128, 100, 0), 128, "fits: unchanged");
    cr_expect_eq(model_kv_seq_capacity(64, 65, 0), 128, "64 + 16 rounded up");
    cr_expect_eq(model_kv_seq_capacity(512, 513, 0), 640);
    cr_expect_eq(model_kv_seq_capacity(64, 1000, 0), 1024, "what is needed, rounded up");
    cr_expect_eq(model_kv_seq_capacity(512, 522, 520), 576, "the limit 520 rounded up, not 640");
    cr_expect_eq(model_kv_seq_capacity(576, 600, 520), 768, "past the limit: a quarter more again");
    /* a cache under a limit of 520: 512 prefilled, 10 appended (576 positions, not 640), then 78 more past the limit;
     * the logits stay those of a full forward */
    model m;
    rt_error err;
    qwen_small(&m, 23, 16, 24, 2, 1, 1024, 5); /* 1024 positions: long sequences stay cheap */
    int64_t V = m.cfg.vocab_size, n = 600;
    int32_t ids[600];
    rt_rng r;
    rt_rng_seed(&r, 8);
    for (int64_t i = 0; i < n; i++)
        ids[i] = (int32_t)rt_rng_below(&r, (uint64_t)V);
    float *ref = full(&m, ids, n), logits[23];
    model_kv *kv;
    cr_assert_eq(model_kv_init(&kv, &m, &err), RT_OK);
    model_kv_set_seq_limit(kv, 520);
    size_t per_pos = 2 * 2 * 1 * 8 * sizeof(float); /* K and V, 2 layers, 1 kv head of 8 */
    int64_t sid, off[2] = {0, 512};
    cr_assert_eq(model_seq_new(kv, &sid, &err), RT_OK);
    cr_assert_eq(model_infer(&m, kv, 1, &sid, off, ids, logits, NULL, &err), RT_OK, "%s", err.msg);
    same(logits, ref + 511 * V, V, "prefill 512");
    cr_expect_eq(model_kv_bytes(kv), 512 * per_pos);
    off[1] = 10;
    cr_assert_eq(model_infer(&m, kv, 1, &sid, off, ids + 512, logits, NULL, &err), RT_OK, "%s", err.msg);
    same(logits, ref + 521 * V, V, "append 10 across the growth");
    cr_expect_eq(model_kv_bytes(kv), 576 * per_pos, "%zu bytes", model_kv_bytes(kv));
    for (int64_t t = 522; t < n; t++) {
        cr_assert_eq(model_decode(&m, kv, 1, &sid, ids + t, logits, &err), RT_OK, "%s", err.msg);
        same(logits, ref + t * V, V, "decode past the limit");
    }
    cr_expect_eq(model_kv_bytes(kv), 768 * per_pos);
    model_seq_free(kv, sid);
    cr_expect_eq(model_kv_bytes(kv), 0, "freed");
    model_kv_free(kv);
    free(ref);
    model_free(&m);
}

Test(infer, a_call_of_more_tokens_than_a_pass_is_sliced_and_equals_a_full_forward) {
    /* 700 + 600 prompt tokens in one call: passes of 1024 tokens cut the second prompt at its 324th token */
    cr_assert_eq(MODEL_INFER_MAX_TOKENS, 1024);
    model m;
    rt_error err;
    qwen_small(&m, 19, 16, 24, 2, 1, 1024, 6);
    int64_t V = m.cfg.vocab_size;
    static int32_t ids[1301];
    rt_rng r;
    rt_rng_seed(&r, 9);
    for (int i = 0; i < 1301; i++) ids[i] = (int32_t)rt_rng_below(&r, (uint64_t)V);
    float *ref0 = full(&m, ids, 700), *ref1 = full(&m, ids + 700, 601);
    float logits[2 * 19], *all = malloc(1300 * sizeof(float) * 19);
    model_kv *kv;
    cr_assert_eq(model_kv_init(&kv, &m, &err), RT_OK);
    int64_t sid[2], off[3] = {0, 700, 1300};
    cr_assert_eq(model_seq_new(kv, &sid[0], &err), RT_OK);
    cr_assert_eq(model_seq_new(kv, &sid[1], &err), RT_OK);
    /* a refused input (a token outside the vocabulary in the second pass) runs nothing */
    ids[1200] = 19;
    cr_expect_eq(model_infer(&m, kv, 2, sid, off, ids, logits, all, &err), RT_ERANGE);
    cr_expect_eq(model_seq_len(kv, sid[0]), 0, "nothing cached");
    cr_expect_eq(model_seq_len(kv, sid[1]), 0);
    rt_rng_seed(&r, 9);
    for (int i = 0; i < 1301; i++) ids[i] = (int32_t)rt_rng_below(&r, (uint64_t)V);
    cr_assert_eq(model_infer(&m, kv, 2, sid, off, ids, logits, all, &err), RT_OK, "%s", err.msg);
    same(logits, ref0 + 699 * V, V, "first prompt");
    same(logits + V, ref1 + 599 * V, V, "second prompt, cut between passes");
    for (int t = 0; t < 700; t++) same(all + t * V, ref0 + t * V, V, "every row, first prompt");
    for (int t = 0; t < 600; t++) same(all + (700 + t) * V, ref1 + t * V, V, "every row, second prompt");
    cr_expect_eq(model_seq_len(kv, sid[1]), 600);
    cr_assert_eq(model_decode(&m, kv, 1, &sid[1], ids + 1300, logits, &err), RT_OK, "%s", err.msg);
    same(logits, ref1 + 600 * V, V, "decoding after");
    model_kv_free(kv);
    free(all);
    free(ref0);
    free(ref1);
    model_free(&m);
}
