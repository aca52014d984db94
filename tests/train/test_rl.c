/* RL learns a one-token bandit (PPO and GRPO raise the reward from chance to > 0.9), resumes bit-exactly, and logs
 * the method's metrics each step. Text-only rollouts here; tool-integrated rollouts are tested in tests/rollout. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/tiny_model.h"
#include "base/fileio.h"
#include "base/json.h"
#include "base/log.h"
#include "kernels/pool.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/modeldir.h"
#include "template_check.h"
#include "tokenizer/tokenizer.h"
#include "train/rl.h"

static char dir[64], model_dir[256], data[256];
static int32_t target;

/* +1 when the first response token is the target, else -1. */
static double bandit_reward(void *ctx, const rollout_trajectory *t, const char *truth) {
    (void)ctx;
    (void)truth;
    return t->n_response > 0 && t->response_ids[0] == target ? 1.0 : -1.0;
}

static void question_corpus(FILE *fp) {
    for (int i = 0; i < 50; i++)
        fprintf(fp, "question %d answer %d\n", i, i * 7);
}

static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/retool-rl-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    tiny_model_spec spec = {question_corpus, 270, 288, 32, 64, 1, 2, 64, 5};
    tiny_model_make(dir, &spec, model_dir, sizeof model_dir);
    rt_error e;
    snprintf(data, sizeof data, "%s/p.jsonl", dir);
    FILE *fp = fopen(data, "w");
    for (int i = 0; i < 4; i++)
        fprintf(fp, "{\"prompt\": \"question 1\", \"answer\": \"7\"}\n");
    fclose(fp);
    /* The target: the third most likely first token of the untrained model (so it must be learned). */
    tok_tokenizer *tok;
    cr_assert_eq(tok_load(model_dir, &tok, &e), RT_OK, "%s", e.msg);
    tok_ids ids = {0};
    cr_assert_eq(tok_encode(tok, "question 1\n", 11, TOK_ENCODE_NO_SPECIAL, &ids, &e), RT_OK);
    model m;
    model_opts mo = {.prec = MODEL_PREC_F32};
    cr_assert_eq(model_load(&m, model_dir, &mo, &e), RT_OK, "%s", e.msg);
    int64_t start[2] = {0, (int64_t)ids.len};
    int32_t tg[64];
    for (size_t i = 0; i < ids.len; i++)
        tg[i] = -1;
    model_batch b = {.nseq = 1, .start = start, .tokens = ids.ids, .targets = tg};
    float *logits = malloc(ids.len * 288 * sizeof(float));
    cr_assert_eq(model_logits(&m, &b, logits, &e), RT_OK);
    const float *last = logits + (ids.len - 1) * 288;
    int first = 0, second = -1, third = -1;
    for (int v = 1; v < 288; v++)
        if (last[v] > last[first]) first = v;
    for (int v = 0; v < 288; v++)
        if (v != first && (second < 0 || last[v] > last[second])) second = v;
    for (int v = 0; v < 288; v++)
        if (v != first && v != second && (third < 0 || last[v] > last[third])) third = v;
    target = third;
    free(logits);
    model_free(&m);
    tok_ids_free(&ids);
    tok_free(tok);
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(rl, .init = setup, .fini = teardown);

static train_rl_config bandit_cfg(const char *out, train_algo algo) {
    train_rl_config c = train_rl_defaults();
    c.model_dir = model_dir;
    c.data_path = data;
    c.out_dir = out;
    c.sandbox = "none";
    c.algo = algo;
    c.steps = 25;
    c.prompts_per_step = 2;
    c.samples = 8;
    c.template_kind = ROLLOUT_TEMPLATE_PLAIN;
    c.rollout.tools = ROLLOUT_TOOLS_NONE;
    c.rollout.budget.max_response_tokens = 1;
    c.rollout.sampling.top_k = 4; /* chance: 1 in 4 */
    c.lr = 2e-2;
    c.critic_lr = 2e-2;
    c.threads = 1;
    c.f32 = 1;
    c.quiet = 1;
    c.reward_fn = bandit_reward;
    return c;
}

static void learns(train_algo algo) {
    char out[300];
    snprintf(out, sizeof out, "%s/run", dir);
    train_rl_config c = bandit_cfg(out, algo);
    train_rl_result r;
    rt_error e;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(r.steps, 25);
    cr_expect_lt(r.first_accuracy, 0.6, "starts near chance (1 in 4): %f", r.first_accuracy);
    cr_expect_gt(r.last_accuracy, 0.9, "accuracy %f -> %f", r.first_accuracy, r.last_accuracy);
    char p[400];
    snprintf(p, sizeof p, "%s/rollouts/step-25.jsonl", out);
    cr_expect(rt_path_exists(p));
    snprintf(p, sizeof p, "%s/model/model.safetensors", out);
    cr_expect(rt_path_exists(p));
}

Test(rl, grpo_learns_the_right_response) {
    learns(TRAIN_ALGO_GRPO);
}
Test(rl, ppo_learns_the_right_response) {
    learns(TRAIN_ALGO_PPO);
}

Test(rl, metrics_have_the_method_curves) {
    char out[300];
    snprintf(out, sizeof out, "%s/run", dir);
    train_rl_config c = bandit_cfg(out, TRAIN_ALGO_PPO);
    c.steps = 2;
    train_rl_result r;
    rt_error e;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    char p[400];
    snprintf(p, sizeof p, "%s/metrics.jsonl", out);
    rt_jsonl_reader rd;
    cr_assert_eq(rt_jsonl_open(&rd, p, RT_JSONL_STOP, &e), RT_OK);
    cJSON *o;
    int lines = 0;
    const char *keys[] = {"reward",        "accuracy",           "response_length", "code_ratio",   "code_lines",
                          "tool_calls",    "tool_errors",        "code_pass_rate",  "kl",           "entropy",
                          "clip_frac",     "value_loss",         "grad_norm",       "tokens_per_s", "time_rollout_s",
                          "time_update_s", "time_sandbox_wait_s"};
    while (rt_jsonl_next(&rd, &o, &e) == RT_OK && o) {
        lines++;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            cr_expect_not_null(cJSON_GetObjectItemCaseSensitive(o, keys[k]), "metrics lack %s", keys[k]);
        cJSON_Delete(o);
    }
    rt_jsonl_close(&rd);
    cr_expect_eq(lines, 2);
}

/* Resample-on-correct rolls out 2K per prompt and trains on K: 2 prompts x 2 x 4 = 16 trajectories, 8 trained. */
Test(rl, resample_on_correct_oversamples_and_keeps_k) {
    char out[300];
    snprintf(out, sizeof out, "%s/roc", dir);
    train_rl_config c = bandit_cfg(out, TRAIN_ALGO_GRPO);
    c.steps = 1;
    c.samples = 4;
    c.resample_on_correct = 1;
    train_rl_result r;
    rt_error e;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    char p[400];
    snprintf(p, sizeof p, "%s/rollouts/step-1.jsonl", out);
    rollout_trajectory *t = NULL;
    size_t n = 0;
    cr_assert_eq(rollout_trajectory_read_file(p, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(n, 16u);
    rollout_trajectories_free(t, n);
    snprintf(p, sizeof p, "%s/metrics.jsonl", out);
    rt_jsonl_reader rd;
    cr_assert_eq(rt_jsonl_open(&rd, p, RT_JSONL_STOP, &e), RT_OK);
    cJSON *o = NULL;
    cr_assert_eq(rt_jsonl_next(&rd, &o, &e), RT_OK);
    cr_assert_not_null(o);
    cr_expect_eq(cJSON_GetObjectItem(o, "trained_trajectories")->valuedouble, 8.0);
    cr_expect_eq(cJSON_GetObjectItem(o, "dropped_resampled")->valuedouble, 8.0);
    cJSON_Delete(o);
    rt_jsonl_close(&rd);
}

/* The model folders of runs a and b hold the same bytes of weights. */
static void expect_same_weights(const char *a, const char *b, const char *what) {
    char pa[400], pb[400];
    snprintf(pa, sizeof pa, "%s/model/model.safetensors", a);
    snprintf(pb, sizeof pb, "%s/model/model.safetensors", b);
    char *wa, *wb;
    size_t la, lb;
    rt_error e;
    cr_assert_eq(rt_file_read_all(pa, &wa, &la, &e), RT_OK);
    cr_assert_eq(rt_file_read_all(pb, &wb, &lb, &e), RT_OK);
    cr_assert_eq(la, lb);
    cr_expect_eq(memcmp(wa, wb, la), 0, "%s", what);
    free(wa);
    free(wb);
}

Test(rl, resume_is_bit_exact) {
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/straight", dir);
    snprintf(b, sizeof b, "%s/resumed", dir);
    rt_error e;
    train_rl_result r;
    train_rl_config c = bandit_cfg(a, TRAIN_ALGO_PPO);
    c.steps = 6;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    c.out_dir = b;
    c.steps = 3;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    train_rl_config again = bandit_cfg(b, TRAIN_ALGO_PPO);
    again.resume = 1;
    again.steps = 6;
    cr_assert_eq(train_rl_run(&again, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(r.steps, 6);
    expect_same_weights(a, b, "resumed RL weights differ from the straight run");
}

/* --kv-bf16: the rollouts' keys and values in bf16; the run learns the bandit, records the choice in config.json, and a
 * resume (whose command line did not repeat the flag) takes it from there and stays bit-exact. */
Test(rl, kv_bf16_rollouts_learn_and_resume_bit_exact) {
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/kv16", dir);
    snprintf(b, sizeof b, "%s/kv16-resumed", dir);
    rt_error e;
    train_rl_result r;
    train_rl_config c = bandit_cfg(a, TRAIN_ALGO_GRPO);
    c.kv_bf16 = 1;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_gt(r.last_accuracy, 0.9, "accuracy %f -> %f", r.first_accuracy, r.last_accuracy);
    char p[400];
    snprintf(p, sizeof p, "%s/config.json", a);
    cJSON *cfg = NULL;
    cr_assert_eq(rt_json_read_file(p, &cfg, &e), RT_OK, "%s", e.msg);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(cfg, "kv_bf16")), "config.json records kv_bf16");
    cJSON_Delete(cfg);
    /* The same first step with f32 keys and values: the same seed draws the same tokens where the distributions are
     * this close, and their log-probs differ by the cache's rounding only (nonzero: the cache really was bf16). */
    char f[300];
    snprintf(f, sizeof f, "%s/kv32", dir);
    train_rl_config c32 = bandit_cfg(f, TRAIN_ALGO_GRPO);
    c32.steps = 1;
    cr_assert_eq(train_rl_run(&c32, &r, &e), RT_OK, "%s", e.msg);
    rt_jsonl_reader r16, r32;
    snprintf(p, sizeof p, "%s/rollouts/step-1.jsonl", a);
    cr_assert_eq(rt_jsonl_open(&r16, p, RT_JSONL_STOP, &e), RT_OK, "%s", e.msg);
    snprintf(p, sizeof p, "%s/rollouts/step-1.jsonl", f);
    cr_assert_eq(rt_jsonl_open(&r32, p, RT_JSONL_STOP, &e), RT_OK, "%s", e.msg);
    double most = 0;
    int same = 0;
    for (;;) {
        cJSON *t16 = NULL, *t32 = NULL;
        cr_assert_eq(rt_jsonl_next(&r16, &t16, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(rt_jsonl_next(&r32, &t32, &e), RT_OK, "%s", e.msg);
        cr_assert((t16 == NULL) == (t32 == NULL), "as many trajectories");
        if (!t16) break;
        const cJSON *i16 = cJSON_GetObjectItem(t16, "response_ids"), *i32 = cJSON_GetObjectItem(t32, "response_ids");
        if (cJSON_Compare(i16, i32, 1)) {
            same++;
            const cJSON *l16 = cJSON_GetObjectItem(t16, "logprobs"), *l32 = cJSON_GetObjectItem(t32, "logprobs");
            for (int k = 0; k < cJSON_GetArraySize(l16); k++)
                most =
                    fmax(most, fabs(cJSON_GetArrayItem(l16, k)->valuedouble - cJSON_GetArrayItem(l32, k)->valuedouble));
        }
        cJSON_Delete(t16);
        cJSON_Delete(t32);
    }
    rt_jsonl_close(&r16);
    rt_jsonl_close(&r32);
    cr_expect_gt(same, 0, "no trajectory drew the same tokens");
    cr_expect(most > 0 && most < 0.05, "bf16 vs f32 cache: log-probs differ by at most %g", most);
    c.out_dir = b;
    c.steps = 12;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    train_rl_config again = bandit_cfg(b, TRAIN_ALGO_GRPO);
    again.resume = 1;
    cr_assert_eq(train_rl_run(&again, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(r.steps, 25);
    expect_same_weights(a, b, "resumed RL weights differ from the straight bf16-KV run");
}

/* LoRA PPO with LoRA dropout: adapters on one frozen base shared by policy and critic, the KL reference being that
 * base with the adapters off (so the KL is 0 up to rounding at the first step, where B = 0, and not after); PEFT
 * adapters only are written (lora_dropout recorded), a resumed run is bit-exact (the same dropout masks), and a new
 * run starts from the adapter folder's adapters (its base planned and loaded, its dropout read). */
Test(rl, ppo_lora_reference_is_the_base_and_resume_is_bit_exact) {
    char a[300], b[300], pa[400], pb[400];
    snprintf(a, sizeof a, "%s/lora", dir);
    snprintf(b, sizeof b, "%s/lora-resumed", dir);
    rt_error e;
    train_rl_result r;
    train_rl_config c = bandit_cfg(a, TRAIN_ALGO_PPO);
    c.lora = (model_lora_cfg){4, 8.0, MODEL_LORA_ALL, 0.25};
    c.kl_coef = 1e-2;
    c.steps = 4;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    snprintf(pa, sizeof pa, "%s/model/adapter_model.safetensors", a);
    cr_expect(rt_path_exists(pa));
    snprintf(pa, sizeof pa, "%s/model/model.safetensors", a);
    cr_expect(!rt_path_exists(pa), "a LoRA run writes adapters, not a model");
    snprintf(pa, sizeof pa, "%s/metrics.jsonl", a);
    rt_jsonl_reader rd;
    cr_assert_eq(rt_jsonl_open(&rd, pa, RT_JSONL_STOP, &e), RT_OK);
    cJSON *o;
    double kl[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 4 && rt_jsonl_next(&rd, &o, &e) == RT_OK && o; i++) {
        kl[i] = cJSON_GetObjectItemCaseSensitive(o, "kl")->valuedouble;
        cJSON_Delete(o);
    }
    rt_jsonl_close(&rd);
    /* step 1: the policy is the base (B = 0); the reference's forward and the update's pack the sequences in other
     * orders and micro-batches, so the two log-probs may differ by rounding alone */
    cr_expect(fabs(kl[0]) < 1e-9, "step 1: the policy is the base (B = 0), KL %g", kl[0]);
    cr_expect_gt(kl[3], 1e-6, "step 4: the adapters moved the policy off the base (KL %g)", kl[3]);
    c.out_dir = b;
    c.steps = 2;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    train_rl_config again = bandit_cfg(b, TRAIN_ALGO_PPO);
    again.resume = 1;
    again.steps = 4;
    again.lora = c.lora;
    again.kl_coef = c.kl_coef;
    cr_assert_eq(train_rl_run(&again, &r, &e), RT_OK, "%s", e.msg);
    const char *files[] = {"model/adapter_model.safetensors", "checkpoints/step-4/critic/adapter_model.safetensors",
                           "checkpoints/step-4/critic/value_head.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        char *wa, *wb;
        size_t la, lb;
        cr_assert_eq(rt_file_read_all(pa, &wa, &la, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(rt_file_read_all(pb, &wb, &lb, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(la, lb);
        cr_expect_eq(memcmp(wa, wb, la), 0, "%s: resumed LoRA run differs from the straight one", files[i]);
        free(wa);
        free(wb);
    }
    /* GRPO from the adapter folder, no --lora-rank: the adapters' settings and base come from adapter_config.json */
    char from[400], next[300];
    snprintf(from, sizeof from, "%s/model", a);
    snprintf(next, sizeof next, "%s/lora-next", dir);
    train_rl_config g = bandit_cfg(next, TRAIN_ALGO_GRPO);
    g.model_dir = from;
    g.steps = 1;
    g.lr = 0; /* the adapters stay as they were read: the folder's, not fresh ones */
    cr_assert_eq(train_rl_run(&g, &r, &e), RT_OK, "%s", e.msg);
    snprintf(pa, sizeof pa, "%s/model/adapter_model.safetensors", next);
    cr_expect(rt_path_exists(pa), "a run from an adapter folder writes adapters");
    model fm, nm;
    model_opts lo = {.prec = MODEL_PREC_BF16};
    cr_assert_eq(model_load(&fm, from, &lo, &e), RT_OK, "%s", e.msg);
    snprintf(pa, sizeof pa, "%s/model", next);
    cr_assert_eq(model_load(&nm, pa, &lo, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(model_lora_config(&nm)->dropout, 0.25, "lora_dropout read from the adapter folder");
    cr_assert_eq(fm.nparams, nm.nparams);
    cr_expect_eq(memcmp(fm.params, nm.params, fm.nparams * sizeof(float)), 0,
                 "a run from an adapter folder trains its adapters (lr 0: unchanged), not fresh ones");
    model_free(&fm);
    model_free(&nm);
}

Test(rl, output_folders_record_the_template_rl_ran_with) {
    char out[300], p[600];
    rt_error e;
    train_rl_result r;
    /* run with plain on a folder whose tokenizer says ChatML: the model and checkpoint say plain */
    snprintf(out, sizeof out, "%s/plain", dir);
    train_rl_config c = bandit_cfg(out, TRAIN_ALGO_GRPO);
    c.steps = 1;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    snprintf(p, sizeof p, "%s/model", out);
    expect_recorded_template(p, "plain");
    snprintf(p, sizeof p, "%s/checkpoints/step-1/policy", out);
    expect_recorded_template(p, "plain");
    /* no template asked for: the folder's (ChatML, from its chat_template), written resolved in the run's config */
    snprintf(out, sizeof out, "%s/auto", dir);
    c = bandit_cfg(out, TRAIN_ALGO_GRPO);
    c.steps = 1;
    c.template_kind = ROLLOUT_TEMPLATE_AUTO;
    cr_assert_eq(train_rl_run(&c, &r, &e), RT_OK, "%s", e.msg);
    snprintf(p, sizeof p, "%s/model", out);
    expect_recorded_template(p, "chatml");
    snprintf(p, sizeof p, "%s/config.json", out);
    cJSON *cfg;
    cr_assert_eq(rt_json_read_file(p, &cfg, &e), RT_OK, "%s", e.msg);
    const cJSON *t = cJSON_GetObjectItem(cfg, "template");
    cr_expect(cJSON_IsString(t) && strcmp(t->valuestring, "chatml") == 0, "%s",
              cJSON_IsString(t) ? t->valuestring : "");
    cJSON_Delete(cfg);
}
