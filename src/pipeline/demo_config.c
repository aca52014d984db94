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
    const cJSON *sft, *rl, *ev;
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
    if (!st) st = rt_json_get_int(rl, "max_tokens", &c->rl_max_tokens, err);
    if (!st) st = rt_json_get_int(rl, "max_tool_calls", &c->rl_max_tool_calls, err);
    if (!st) st = rt_json_get_double(rl, "temperature", &c->rl_temperature, err);
    if (!st) st = section(o, "eval", &ev, err);
    if (!st) st = rt_json_get_int(ev, "samples", &c->eval_samples, err);
    if (!st) st = rt_json_get_double(ev, "temperature", &c->eval_temperature, err);
    if (!st) st = rt_json_get_int(ev, "max_tokens", &c->eval_max_tokens, err);
    if (!st) st = rollout_template_parse(tmpl, &c->template_kind, err);
    if (!st) {
        if (strcmp(algo, "grpo") == 0) c->rl_algo = TRAIN_ALGO_GRPO;
        else if (strcmp(algo, "ppo") == 0) c->rl_algo = TRAIN_ALGO_PPO;
        else st = rt_err_set(err, RT_EFORMAT, "field 'rl.algo': '%s' is not ppo or grpo", algo);
    }
    if (!st && (level < 0 || level > 3)) st = rt_err_set(err, RT_EFORMAT, "field 'level': expected 0 to 3");
    if (!st && (c->train_problems < 1 || c->test_problems < 1 || threads < 1 || workers < 1 || c->rl_samples < 1 ||
                c->eval_samples < 1))
        st = rt_err_set(err, RT_EFORMAT, "counts must be positive (problems, threads, workers, samples)");
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
