/* The memory plan of a training step (train/memplan.h): its parts against hand-computed sizes, `retool model info`
 * printing it, and `retool sft` / `retool rl` refusing a configuration that cannot fit before doing any work. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "helpers.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "train/memplan.h"

static char dir[64], out[65536], args[2048];
static void setup(void) {
    mio_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    mio_rmdir(dir);
}
TestSuite(memplan, .init = setup, .fini = teardown);

/* ~4.4 trillion parameters: 64 layers of hidden 65536 and MLP 262144 (tens of terabytes to train). */
static const char *huge_config =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 32000, "
    "\"hidden_size\": 65536, \"intermediate_size\": 262144, \"num_hidden_layers\": 64, \"num_attention_heads\": 512, "
    "\"num_key_value_heads\": 512, \"max_position_embeddings\": 4096, \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, "
    "\"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\"}";

Test(memplan, parts_match_hand_computed_sizes) {
    model_config c;
    rt_error err;
    cr_assert_eq(model_config_load("configs/model-tiny.json", &c, &err), RT_OK, "%s", err.msg);
    /* tiny: 857216 parameters (test_cli_model); PPO trains two models and keeps a reference */
    train_mem_req q = {2, 1, 100, 3, 50, 0, 0, 0, 0};
    train_mem_plan p;
    train_mem_plan_make(&c, &q, &p);
    cr_expect_eq(p.weights, 6.0 * 857216 * 3, "f32 + bf16 for policy, critic and reference");
    cr_expect_eq(p.grads, 4.0 * 857216 * 2);
    cr_expect_eq(p.optim, 8.0 * 857216 * 2);
    /* KV: 3 sequences x (50 tokens held in a cache of 64 positions x 2 (K,V) x 4 layers x 4 kv heads x 32 x 4 bytes
     * + two rows of 512 f32 logits) */
    cr_expect_eq(p.kv, 3.0 * (64.0 * 2 * 4 * 4 * 32 * 4 + 2 * 512 * 4));
    /* the lm_head chunk: all 100 rows (fewer than the budget's) of 512 f32 logits */
    cr_expect_eq(p.head, 100.0 * 512 * 4);
    /* activations grow linearly with rows: at least the residual stream kept per layer, 4 x (L+1) x C bytes a row */
    train_mem_req q2 = q, q3 = q;
    q2.tokens = 200;
    q3.tokens = 300;
    train_mem_plan p2, p3;
    train_mem_plan_make(&c, &q2, &p2);
    train_mem_plan_make(&c, &q3, &p3);
    cr_expect(fabs((p3.acts - p2.acts) - (p2.acts - p.acts)) < 1e-6 * p3.acts, "activations linear in rows");
    cr_expect((p2.acts - p.acts) / 100 > 4.0 * 5 * 128, "per row: more than the residual stream");
    /* recomputation keeps the residual stream of every layer but the internals of one */
    train_mem_req qr = q;
    qr.recompute = 1;
    train_mem_plan pr;
    train_mem_plan_make(&c, &qr, &pr);
    cr_expect(pr.acts < p.acts && pr.acts > 100.0 * 4 * 5 * 128, "recomputed %g, kept %g", pr.acts, p.acts);
    /* the inference workspace of the 3 x 50 tokens a prefill pass may hold: per token 4 bytes x (3 x 128 + 1 + 384
     * (q, k, v) + 128 (attention) + 3 x 344 (MLP)), two 8-byte indices, 2 bytes x 688 (the widest bf16 operand) and
     * two kernel descriptors */
    double per = 4.0 * (3 * 128 + 1 + 384 + 128 + 3 * 344) + 16 + 2 * 688 + sizeof(kern_attn_seq) + sizeof(kern_attn_dec);
    cr_expect_eq(p.infer, 150 * per);
    /* rollouts and the update never hold their buffers at once: the larger of the two phases */
    double fixed = p.weights + p.grads + p.optim + p.scratch + p.runtime;
    double phases = fmax(p.kv + p.infer, p.acts + p.head);
    cr_expect(fabs(p.total - (fixed + phases)) < 1e-6 * p.total);
    train_mem_req sft = q;
    sft.rollouts = 0;
    train_mem_plan ps;
    train_mem_plan_make(&c, &sft, &ps);
    cr_expect(ps.kv == 0 && ps.infer == 0 && fabs(ps.total - (fixed + ps.acts + ps.head)) < 1e-6 * ps.total, "no rollouts");
}

Test(memplan, rl_plans_a_whole_trajectory_when_it_exceeds_the_micro_batch) {
    model_config c;
    rt_error err;
    cr_assert_eq(model_config_load("configs/model-tiny.json", &c, &err), RT_OK, "%s", err.msg);
    /* micro-batches of 100 rows, trajectories of up to 300 tokens: a forward holds one whole trajectory, 300 rows */
    train_mem_req q = {1, 0, 100, 2, 300, 0, 0, 0, 0}, q300 = q, sft = q;
    q300.tokens = 300;
    cr_expect_eq(train_mem_rows(&q), 300);
    train_mem_plan p, p300;
    train_mem_plan_make(&c, &q, &p);
    train_mem_plan_make(&c, &q300, &p300);
    cr_expect_eq(p.acts, p300.acts);
    cr_expect_eq(p.head, 300.0 * 512 * 4, "all 300 rows of 512 f32 logits in one chunk");
    /* the cache of a 300-token trajectory: 320 positions (multiples of 64) */
    cr_expect_eq(p.kv, 2.0 * (320.0 * 2 * 4 * 4 * 32 * 4 + 2 * 512 * 4));
    sft.rollouts = 0; /* no rollouts: the tokens are the rows */
    cr_expect_eq(train_mem_rows(&sft), 100);
    /* bf16 keys and values (rl --kv-bf16): 2 bytes a value in all 4 layers, plus one layer's f32 copy that the blocked
     * kernel reads, at the same 320 positions */
    train_mem_req qb = q;
    qb.kv_bf16 = 1;
    train_mem_plan pb;
    train_mem_plan_make(&c, &qb, &pb);
    cr_expect_eq(pb.kv, 2.0 * (320.0 * 2 * 4 * 32 * (4 * 2 + 4) + 2 * 512 * 4));
    cr_expect_eq(pb.acts, p.acts, "the update does not change");
}

Test(memplan, lora_plans_the_base_once_and_the_adapters_state) {
    model_config c;
    rt_error err;
    cr_assert_eq(model_config_load("configs/model-tiny.json", &c, &err), RT_OK, "%s", err.msg);
    /* tiny: C 128, I 344, 4 heads and 4 KV heads of 32, 4 layers: rank 8 on q,k,v,o (in + out = 256 each), gate, up,
     * down (in + out = 472 each): 8 x (4 x 256 + 3 x 472) x 4 layers */
    double T = 8.0 * (4 * 256 + 3 * 472) * 4;
    cr_expect_eq(train_mem_lora_params(&c, 8, 0), T);
    cr_expect_eq(train_mem_lora_params(&c, 8, 1u << 0), 8.0 * 256 * 4, "q only");
    /* PPO with a KL reference: the bf16 base once (the reference is that base), f32 adapters of policy and critic */
    train_mem_req q = {2, 1, 100, 3, 50, 0, 8, 0, 0};
    train_mem_plan p;
    train_mem_plan_make(&c, &q, &p);
    cr_expect_eq(p.weights, 2.0 * 857216 + 4.0 * T * 2);
    cr_expect_eq(p.grads, 4.0 * T * 2);
    cr_expect_eq(p.optim, 8.0 * T * 2);
    train_mem_req full = q;
    full.lora_rank = 0;
    train_mem_plan pf;
    train_mem_plan_make(&c, &full, &pf);
    cr_expect_eq(p.acts, pf.acts, "activations do not depend on what is trained");
}

Test(memplan, info_prints_the_step_plan) {
    snprintf(args, sizeof args,
             "model info configs/model-tiny.json --train ppo --tokens 100 --kl --rollouts 3 "
             "--rollout-tokens 50");
    cr_assert_eq(mio_cli(args, out, sizeof out), 0, "%s", out);
    cr_expect(mio_has(out, "memory for one ppo step (policy and critic, 100 rows a forward/backward, KL reference, 3 "
                           "rollouts of 50 tokens)"),
              "%s", out);
    cr_expect(mio_has(out, "AdamW m and v") && mio_has(out, "rollout KV cache") && mio_has(out, "total"), "%s", out);
    snprintf(args, sizeof args, "model info configs/model-tiny.json --train dpo");
    cr_expect_eq(mio_cli(args, out, sizeof out), 2, "%s", out);
    cr_expect(mio_has(out, "--train must be sft, grpo or ppo"), "%s", out);
}

Test(memplan, sft_and_rl_refuse_what_cannot_fit_before_any_work) {
    char path[256], run[256];
    mio_write(dir, "config.json", huge_config, path, sizeof path);
    /* no weights, no tokenizer, no data: the refusal comes before any of them is read */
    snprintf(run, sizeof run, "%s/sft-run", dir);
    snprintf(args, sizeof args, "sft --model %s --data %s/absent.jsonl --out %s --quiet", dir, dir, run);
    cr_assert_eq(mio_cli(args, out, sizeof out), 1, "%s", out);
    cr_expect(mio_has(out, "sft needs about") && mio_has(out, "GiB is available"), "%s", out);
    cr_expect(!rt_path_exists(run), "nothing written");
    snprintf(run, sizeof run, "%s/rl-run", dir);
    snprintf(args, sizeof args, "rl --algo ppo --model %s --data %s/absent.jsonl --out %s --quiet", dir, dir, run);
    cr_assert_eq(mio_cli(args, out, sizeof out), 1, "%s", out);
    cr_expect(mio_has(out, "rl (PPO) needs about") && mio_has(out, "GiB is available"), "%s", out);
    cr_expect(!rt_path_exists(run), "nothing written");
    /* info says so too */
    snprintf(args, sizeof args, "model info %s/config.json", dir);
    cr_assert_eq(mio_cli(args, out, sizeof out), 0, "%s", out);
    cr_expect(mio_has(out, "does NOT fit"), "%s", out);
}
