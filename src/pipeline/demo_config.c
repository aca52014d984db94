#include <string.h>

#include "base/json.h"
#include "pipeline/demo.h"

static rt_status section(const cJSON *o, const char *key, const cJSON **out, rt_error *err) {
    *out = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsObject(*out)) return rt_err_set(err, RT_EFORMAT, "field '%s': expected an object", key);
    return RT_OK;
}

rt_status pipe_demo_config_load(const char *path, pipe_demo_config *c, cJSON **keep, rt_error *err) {
    memset(c, 0, sizeof *c);
    c->out_dir = "runs/demo";
    c->seed = 1;
    cJSON *o;
    rt_status st = rt_json_read_file(path, &o, err);
    if (st) return st;
    *keep = o;
    const cJSON *sft, *rl, *ev, *budgets, *bt, *bx;
    int64_t level = 0, threads = 0, workers = 0;
    const char *tmpl = NULL, *algo = NULL;
    st = rt_json_get_string(o, "families", &c->families, err);
    if (!st) st = rt_json_get_int(o, "level", &level, err);
    if (!st) st = rt_json_get_int(o, "train_problems", &c->train_problems, err);
    if (!st) st = rt_json_get_int(o, "test_problems", &c->test_problems, err);
    if (!st) st = rt_json_get_int(o, "tokenizer_vocab", &c->tokenizer_vocab, err);
    if (!st) st = rt_json_get_string(o, "model_config", &c->model_config, err);
    if (!st) st = rt_json_get_string(o, "template", &tmpl, err);
    if (!st) st = rt_json_get_int(o, "threads", &threads, err);
    if (!st) st = rt_json_get_int(o, "sandbox_workers", &workers, err);
    if (!st) st = section(o, "sft", &sft, err);
    if (!st) st = rt_json_get_int(sft, "max_steps", &c->sft_max_steps, err);
    if (!st) st = rt_json_get_int(sft, "batch_tokens", &c->sft_batch_tokens, err);
    if (!st) st = rt_json_get_double(sft, "lr", &c->sft_lr, err);
    if (!st) st = rt_json_get_double(sft, "min_lr", &c->sft_min_lr, err);
    if (!st) st = rt_json_get_int(sft, "warmup", &c->sft_warmup, err);
    if (!st) st = section(o, "rl", &rl, err);
    if (!st) st = rt_json_get_string(rl, "algo", &algo, err);
    if (!st) st = rt_json_get_int(rl, "steps", &c->rl_steps, err);
    if (!st) st = rt_json_get_int(rl, "prompts_per_step", &c->rl_prompts_per_step, err);
    if (!st) st = rt_json_get_int(rl, "samples", &c->rl_samples, err);
    if (!st) st = rt_json_get_double(rl, "lr", &c->rl_lr, err);
    if (!st) st = rt_json_get_double(rl, "temperature", &c->rl_temperature, err);
    if (!st) st = rt_json_get_bool(rl, "drop_flat_groups", &c->rl_drop_flat_groups, err);
    if (!st) st = rt_json_get_int(rl, "critic_warmup", &c->rl_critic_warmup, err);
    if (!st) st = section(o, "eval", &ev, err);
    if (!st) st = rt_json_get_int(ev, "samples", &c->eval_samples, err);
    if (!st) st = rt_json_get_double(ev, "temperature", &c->eval_temperature, err);
    if (!st) st = rt_json_get_double(ev, "top_p", &c->eval_top_p, err);
    if (!st && (cJSON_HasObjectItem(rl, "max_tokens") || cJSON_HasObjectItem(ev, "max_tokens") ||
                cJSON_HasObjectItem(rl, "max_tool_calls")))
        st = rt_err_set(err, RT_EFORMAT,
                        "fields 'rl.max_tokens', 'rl.max_tool_calls' and 'eval.max_tokens' moved: each pipeline has its "
                        "own budget in 'budgets.text' and 'budgets.tool' (see configs/demo.json)");
    if (!st) st = section(o, "budgets", &budgets, err);
    if (!st) st = section(budgets, "text", &bt, err);
    if (!st) st = section(budgets, "tool", &bx, err);
    if (!st) st = rt_json_get_int(bt, "max_tokens", &c->max_response_tokens[0], err);
    if (!st) st = rt_json_get_int(bx, "max_tokens", &c->max_response_tokens[1], err);
    if (!st) st = rt_json_get_int(bx, "max_tool_calls", &c->max_tool_calls, err);
    if (!st) st = rollout_template_parse(tmpl, &c->template_kind, err);
    if (!st && train_algo_parse(algo, &c->rl_algo, err)) st = rt_err_prefix(err, "field 'rl.algo'");
    if (!st && (level < 0 || level > 3)) st = rt_err_set(err, RT_EFORMAT, "field 'level': expected 0 to 3");
    if (!st && (c->train_problems < 1 || c->test_problems < 1 || threads < 1 || workers < 1 || c->rl_samples < 1 ||
                c->eval_samples < 1))
        st = rt_err_set(err, RT_EFORMAT, "counts must be positive (problems, threads, workers, samples)");
    if (!st && (c->max_response_tokens[0] < 1 || c->max_response_tokens[1] < 1 || c->max_tool_calls < 0))
        st = rt_err_set(err, RT_EFORMAT, "field 'budgets': max_tokens must be positive, max_tool_calls not negative");
    c->level = (int)level;
    c->threads = (int)threads;
    c->sandbox_workers = (int)workers;
    if (st) {
        cJSON_Delete(o);
        *keep = NULL;
        return rt_err_prefix(err, "%s", path);
    }
    return RT_OK;
}

cJSON *pipe_demo_settings_json(const pipe_demo_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddStringToObject(o, "families", c->families);
    cJSON_AddNumberToObject(o, "level", c->level);
    cJSON_AddNumberToObject(o, "train_problems", (double)c->train_problems);
    cJSON_AddNumberToObject(o, "test_problems", (double)c->test_problems);
    cJSON_AddNumberToObject(o, "tokenizer_vocab", (double)c->tokenizer_vocab);
    cJSON_AddStringToObject(o, "model_config", c->model_config);
    cJSON_AddStringToObject(o, "template", rollout_template_name(c->template_kind));
    cJSON_AddNumberToObject(o, "sft.max_steps", (double)c->sft_max_steps);
    cJSON_AddNumberToObject(o, "sft.batch_tokens", (double)c->sft_batch_tokens);
    cJSON_AddNumberToObject(o, "sft.lr", c->sft_lr);
    cJSON_AddNumberToObject(o, "sft.min_lr", c->sft_min_lr);
    cJSON_AddNumberToObject(o, "sft.warmup", (double)c->sft_warmup);
    cJSON_AddStringToObject(o, "rl.algo", train_algo_name(c->rl_algo));
    cJSON_AddNumberToObject(o, "rl.steps", (double)c->rl_steps);
    cJSON_AddNumberToObject(o, "rl.prompts_per_step", (double)c->rl_prompts_per_step);
    cJSON_AddNumberToObject(o, "rl.samples", (double)c->rl_samples);
    cJSON_AddNumberToObject(o, "rl.lr", c->rl_lr);
    cJSON_AddNumberToObject(o, "rl.temperature", c->rl_temperature);
    cJSON_AddBoolToObject(o, "rl.drop_flat_groups", c->rl_drop_flat_groups);
    cJSON_AddNumberToObject(o, "rl.critic_warmup", (double)c->rl_critic_warmup);
    cJSON_AddNumberToObject(o, "eval.samples", (double)c->eval_samples);
    cJSON_AddNumberToObject(o, "eval.temperature", c->eval_temperature);
    cJSON_AddNumberToObject(o, "eval.top_p", c->eval_top_p);
    cJSON_AddNumberToObject(o, "budgets.text.max_tokens", (double)c->max_response_tokens[0]);
    cJSON_AddNumberToObject(o, "budgets.tool.max_tokens", (double)c->max_response_tokens[1]);
    cJSON_AddNumberToObject(o, "budgets.tool.max_tool_calls", (double)c->max_tool_calls);
    return o;
}
