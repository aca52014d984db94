#include <string.h>

#include "train/lora_config.h"
#include "base/json.h"
#include "train/rl.h"

train_rl_config train_rl_defaults(void) {
    train_rl_config c;
    memset(&c, 0, sizeof c);
    c.format = "auto";
    c.sandbox = "local";
    c.sandbox_workers = 2;
    c.algo = TRAIN_ALGO_PPO;
    c.steps = 10;
    c.prompts_per_step = 8;
    c.samples = 4;
    c.template_kind = ROLLOUT_TEMPLATE_AUTO;
    c.rollout = rollout_config_defaults();
    c.lr = 1e-6;
    c.critic_lr = 2e-6;
    c.weight_decay = 0.0;
    c.clip_norm = 1.0;
    c.ppo_epochs = 1;
    c.minibatches = 1;
    c.micro_tokens = 2048;
    c.clip_low = 0.2f;
    c.clip_high = 0.28f;
    c.value_clip = 0.5f;
    c.gamma = 1.0f;
    c.lambda = 1.0f;
    c.whiten = 1;
    c.kl_kind = TRAIN_KL_K3;
    c.grpo_scale_std = 1;
    c.keep_last = 2;
    c.seed = 1;
    c.threads = 2;
    return c;
}

static const char *tools_name(rollout_tools_mode m) {
    return m == ROLLOUT_TOOLS_NONE ? "none" : m == ROLLOUT_TOOLS_STATEFUL ? "stateful" : "stateless";
}

cJSON *train_rl_config_to_json(const train_rl_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "command", "rl");
    cJSON_AddStringToObject(o, "model", c->model_dir);
    if (c->critic_dir) cJSON_AddStringToObject(o, "critic", c->critic_dir);
    cJSON_AddStringToObject(o, "data", c->data_path);
    cJSON_AddStringToObject(o, "format", c->format);
    cJSON_AddStringToObject(o, "sandbox", c->sandbox ? c->sandbox : "none");
    cJSON_AddNumberToObject(o, "sandbox_workers", c->sandbox_workers);
    cJSON_AddStringToObject(o, "algo", train_algo_name(c->algo));
    cJSON_AddNumberToObject(o, "steps", (double)c->steps);
    cJSON_AddNumberToObject(o, "prompts_per_step", (double)c->prompts_per_step);
    cJSON_AddNumberToObject(o, "samples", (double)c->samples);
    cJSON_AddStringToObject(o, "template", rollout_template_name(c->template_kind));
    cJSON_AddStringToObject(o, "tools", tools_name(c->rollout.tools));
    cJSON_AddNumberToObject(o, "max_tool_calls", (double)c->rollout.budget.max_tool_calls);
    cJSON_AddNumberToObject(o, "max_response_tokens", (double)c->rollout.budget.max_response_tokens);
    cJSON_AddNumberToObject(o, "max_interpreter_tokens", (double)c->rollout.budget.max_interpreter_tokens);
    cJSON_AddNumberToObject(o, "call_timeout_s", c->rollout.budget.call_timeout_s);
    cJSON_AddNumberToObject(o, "wall_s", c->rollout.budget.wall_s);
    cJSON_AddNumberToObject(o, "temperature", c->rollout.sampling.temperature);
    cJSON_AddNumberToObject(o, "top_p", c->rollout.sampling.top_p);
    cJSON_AddNumberToObject(o, "top_k", c->rollout.sampling.top_k);
    cJSON_AddNumberToObject(o, "concurrency", (double)c->rollout.max_concurrent);
    cJSON_AddNumberToObject(o, "lr", c->lr);
    cJSON_AddNumberToObject(o, "critic_lr", c->critic_lr);
    cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(o, "clip_norm", c->clip_norm);
    cJSON_AddNumberToObject(o, "warmup_steps", (double)c->warmup_steps);
    cJSON_AddNumberToObject(o, "critic_warmup", (double)c->critic_warmup);
    cJSON_AddNumberToObject(o, "ppo_epochs", (double)c->ppo_epochs);
    cJSON_AddNumberToObject(o, "minibatches", (double)c->minibatches);
    cJSON_AddNumberToObject(o, "micro_tokens", (double)c->micro_tokens);
    cJSON_AddNumberToObject(o, "clip_low", c->clip_low);
    cJSON_AddNumberToObject(o, "clip_high", c->clip_high);
    cJSON_AddNumberToObject(o, "value_clip", c->value_clip);
    cJSON_AddNumberToObject(o, "gamma", c->gamma);
    cJSON_AddNumberToObject(o, "lambda", c->lambda);
    cJSON_AddBoolToObject(o, "whiten", c->whiten);
    cJSON_AddNumberToObject(o, "kl_coef", c->kl_coef);
    cJSON_AddStringToObject(o, "kl_kind", c->kl_kind == TRAIN_KL_K1 ? "k1" : "k3");
    cJSON_AddNumberToObject(o, "entropy_coef", c->entropy_coef);
    cJSON_AddBoolToObject(o, "grpo_scale_std", c->grpo_scale_std);
    cJSON_AddBoolToObject(o, "drop_flat_groups", c->drop_flat_groups);
    cJSON_AddBoolToObject(o, "drop_void", c->drop_void);
    cJSON_AddBoolToObject(o, "resample_on_correct", c->resample_on_correct);
    cJSON_AddNumberToObject(o, "save_every", (double)c->save_every);
    cJSON_AddNumberToObject(o, "keep_last", (double)c->keep_last);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "threads", c->threads);
    cJSON_AddBoolToObject(o, "f32", c->f32);
    if (c->lora.rank) train_lora_config_json(o, &c->lora);
    cJSON_AddBoolToObject(o, "recompute", c->recompute);
    cJSON_AddBoolToObject(o, "kv_bf16", c->kv_bf16);
    return o;
}

static rt_status get_i64(const cJSON *o, const char *k, int64_t *v, rt_error *err) { return rt_json_get_int(o, k, v, err); }

rt_status train_rl_config_from_json(const cJSON *o, train_rl_config *c, rt_error *err) {
    *c = train_rl_defaults();
    const char *algo = NULL, *tmpl = NULL, *tools = NULL, *kl = NULL;
    int64_t workers = 0, mtc = 0, mrt = 0, mit = 0, topk = 0, conc = 0, seed = 0, threads = 0;
    double temp = 0, topp = 0, clow = 0, chigh = 0, vclip = 0, gamma = 0, lambda = 0;
    rt_status st = rt_json_get_string(o, "model", &c->model_dir, err);
    if (!st) st = rt_json_opt_string(o, "critic", &c->critic_dir, err);
    if (!st) st = rt_json_get_string(o, "data", &c->data_path, err);
    if (!st) st = rt_json_get_string(o, "format", &c->format, err);
    if (!st) st = rt_json_get_string(o, "sandbox", &c->sandbox, err);
    if (!st) st = get_i64(o, "sandbox_workers", &workers, err);
    if (!st) st = rt_json_get_string(o, "algo", &algo, err);
    if (!st) st = get_i64(o, "steps", &c->steps, err);
    if (!st) st = get_i64(o, "prompts_per_step", &c->prompts_per_step, err);
    if (!st) st = get_i64(o, "samples", &c->samples, err);
    if (!st) st = rt_json_get_string(o, "template", &tmpl, err);
    if (!st) st = rt_json_get_string(o, "tools", &tools, err);
    if (!st) st = get_i64(o, "max_tool_calls", &mtc, err);
    if (!st) st = get_i64(o, "max_response_tokens", &mrt, err);
    if (!st) st = get_i64(o, "max_interpreter_tokens", &mit, err);
    if (!st) st = rt_json_get_double(o, "call_timeout_s", &c->rollout.budget.call_timeout_s, err);
    if (!st) st = rt_json_get_double(o, "wall_s", &c->rollout.budget.wall_s, err);
    if (!st) st = rt_json_get_double(o, "temperature", &temp, err);
    if (!st) st = rt_json_get_double(o, "top_p", &topp, err);
    if (!st) st = get_i64(o, "top_k", &topk, err);
    if (!st) st = get_i64(o, "concurrency", &conc, err);
    if (!st) st = rt_json_get_double(o, "lr", &c->lr, err);
    if (!st) st = rt_json_get_double(o, "critic_lr", &c->critic_lr, err);
    if (!st) st = rt_json_get_double(o, "weight_decay", &c->weight_decay, err);
    if (!st) st = rt_json_get_double(o, "clip_norm", &c->clip_norm, err);
    if (!st) st = get_i64(o, "warmup_steps", &c->warmup_steps, err);
    if (!st) st = get_i64(o, "critic_warmup", &c->critic_warmup, err);
    if (!st) st = get_i64(o, "ppo_epochs", &c->ppo_epochs, err);
    if (!st) st = get_i64(o, "minibatches", &c->minibatches, err);
    if (!st) st = rt_json_opt_int(o, "micro_tokens", &c->micro_tokens, err); /* runs before it: the default */
    if (!st) st = rt_json_get_double(o, "clip_low", &clow, err);
    if (!st) st = rt_json_get_double(o, "clip_high", &chigh, err);
    if (!st) st = rt_json_get_double(o, "value_clip", &vclip, err);
    if (!st) st = rt_json_get_double(o, "gamma", &gamma, err);
    if (!st) st = rt_json_get_double(o, "lambda", &lambda, err);
    if (!st) st = rt_json_get_bool(o, "whiten", &c->whiten, err);
    if (!st) st = rt_json_get_double(o, "kl_coef", &c->kl_coef, err);
    if (!st) st = rt_json_get_string(o, "kl_kind", &kl, err);
    if (!st) st = rt_json_get_double(o, "entropy_coef", &c->entropy_coef, err);
    if (!st) st = rt_json_get_bool(o, "grpo_scale_std", &c->grpo_scale_std, err);
    if (!st) st = rt_json_get_bool(o, "drop_flat_groups", &c->drop_flat_groups, err);
    if (!st) st = rt_json_get_bool(o, "drop_void", &c->drop_void, err);
    if (!st) st = rt_json_opt_bool(o, "resample_on_correct", &c->resample_on_correct, err);
    if (!st) st = get_i64(o, "save_every", &c->save_every, err);
    if (!st) st = get_i64(o, "keep_last", &c->keep_last, err);
    if (!st) st = get_i64(o, "seed", &seed, err);
    if (!st) st = get_i64(o, "threads", &threads, err);
    if (!st) st = rt_json_get_bool(o, "f32", &c->f32, err);
    if (!st) st = train_lora_config_from_json(o, &c->lora, err);
    if (!st) st = rt_json_opt_bool(o, "recompute", &c->recompute, err); /* runs before it: off */
    if (!st) st = rt_json_opt_bool(o, "kv_bf16", &c->kv_bf16, err);     /* runs before it: f32 */
    if (st) return st;
    if (train_algo_parse(algo, &c->algo, err)) return rt_err_prefix(err, "field 'algo'");
    st = rollout_template_parse(tmpl, &c->template_kind, err);
    if (st) return rt_err_prefix(err, "field 'template'");
    if (strcmp(tools, "none") == 0) c->rollout.tools = ROLLOUT_TOOLS_NONE;
    else if (strcmp(tools, "stateless") == 0) c->rollout.tools = ROLLOUT_TOOLS_STATELESS;
    else if (strcmp(tools, "stateful") == 0) c->rollout.tools = ROLLOUT_TOOLS_STATEFUL;
    else return rt_err_set(err, RT_EFORMAT, "field 'tools': '%s' is not none, stateless or stateful", tools);
    if (strcmp(kl, "k1") == 0) c->kl_kind = TRAIN_KL_K1;
    else if (strcmp(kl, "k3") == 0) c->kl_kind = TRAIN_KL_K3;
    else return rt_err_set(err, RT_EFORMAT, "field 'kl_kind': '%s' is not k1 or k3", kl);
    c->sandbox_workers = (int)workers;
    c->rollout.budget.max_tool_calls = (size_t)mtc;
    c->rollout.budget.max_response_tokens = (size_t)mrt;
    c->rollout.budget.max_interpreter_tokens = (size_t)mit;
    c->rollout.sampling.temperature = (float)temp;
    c->rollout.sampling.top_p = (float)topp;
    c->rollout.sampling.top_k = (int)topk;
    c->rollout.max_concurrent = (size_t)conc;
    c->clip_low = (float)clow;
    c->clip_high = (float)chigh;
    c->value_clip = (float)vclip;
    c->gamma = (float)gamma;
    c->lambda = (float)lambda;
    c->seed = (uint64_t)seed;
    c->threads = (int)threads;
    return RT_OK;
}

rt_status train_algo_parse(const char *name, train_algo *out, rt_error *err) {
    if (strcmp(name, "ppo") == 0) *out = TRAIN_ALGO_PPO;
    else if (strcmp(name, "grpo") == 0) *out = TRAIN_ALGO_GRPO;
    else return rt_err_set(err, RT_EINVAL, "'%s' is not ppo or grpo", name);
    return RT_OK;
}

const char *train_algo_name(train_algo a) { return a == TRAIN_ALGO_PPO ? "ppo" : "grpo"; }
