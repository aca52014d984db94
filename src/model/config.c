/* config.json <-> model_config for LlamaForCausalLM and Qwen2ForCausalLM (Hugging Face transformers' field names). */
#include "model/config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"

#define SUPPORTED_ARCHS "LlamaForCausalLM, Qwen2ForCausalLM"

/* The largest size a single dimension may have; keeps every product of two or three dimensions inside int64_t. */
#define CONFIG_DIM_MAX ((int64_t)1 << 24)

static const char *arch_class(model_arch a) {
    return a == MODEL_ARCH_QWEN2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
}
static const char *arch_type(model_arch a) {
    return a == MODEL_ARCH_QWEN2 ? "qwen2" : "llama";
}

/* Reads the architecture from `architectures` (first entry) and/or `model_type`; they must agree when both exist. */
static rt_status config_read_arch(const cJSON *root, model_arch *arch, rt_error *err) {
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const char *type = NULL;
    if (rt_json_opt_string(root, "model_type", &type, err)) return err->status;
    int have_arch = 0;
    if (archs && !cJSON_IsNull(archs)) {
        if (!cJSON_IsArray(archs) || cJSON_GetArraySize(archs) < 1 || !cJSON_IsString(cJSON_GetArrayItem(archs, 0)))
            return rt_err_set(err, RT_EFORMAT, "field 'architectures': expected a list of class names");
        const char *name = cJSON_GetArrayItem(archs, 0)->valuestring;
        if (strcmp(name, "LlamaForCausalLM") == 0)
            *arch = MODEL_ARCH_LLAMA;
        else if (strcmp(name, "Qwen2ForCausalLM") == 0)
            *arch = MODEL_ARCH_QWEN2;
        else
            return rt_err_set(err, RT_EUNSUPPORTED, "field 'architectures': '%s' is not supported (supported: %s)",
                              name, SUPPORTED_ARCHS);
        have_arch = 1;
    }
    if (type) {
        model_arch t;
        if (strcmp(type, "llama") == 0)
            t = MODEL_ARCH_LLAMA;
        else if (strcmp(type, "qwen2") == 0)
            t = MODEL_ARCH_QWEN2;
        else
            return rt_err_set(err, RT_EUNSUPPORTED,
                              "field 'model_type': '%s' is not supported (supported: llama, qwen2, i.e. %s)", type,
                              SUPPORTED_ARCHS);
        if (have_arch && t != *arch)
            return rt_err_set(err, RT_EFORMAT, "field 'model_type': '%s' contradicts architectures '%s'", type,
                              arch_class(*arch));
        *arch = t;
        return RT_OK;
    }
    if (!have_arch)
        return rt_err_set(err, RT_EFORMAT, "field 'architectures': missing (and no 'model_type'); expected one of %s",
                          SUPPORTED_ARCHS);
    return RT_OK;
}

/* A token id field that may be an integer, a list of integers (the first one is kept) or null / absent (-1). */
static rt_status config_read_token(const cJSON *root, const char *key, int64_t *out, rt_error *err) {
    *out = -1;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!f || cJSON_IsNull(f)) return RT_OK;
    if (cJSON_IsArray(f)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, f) {
            double d = cJSON_IsNumber(item) ? item->valuedouble : NAN;
            if (!(d >= 0 && d < 9007199254740992.0 && d == floor(d)))
                return rt_err_set(err, RT_EFORMAT, "field '%s': expected a token id or a list of token ids", key);
        }
        if (cJSON_GetArraySize(f) > 0) *out = (int64_t)cJSON_GetArrayItem(f, 0)->valuedouble;
        return RT_OK;
    }
    if (rt_json_get_int(root, key, out, err)) return err->status;
    if (*out < 0) return rt_err_set(err, RT_EFORMAT, "field '%s': %lld is negative", key, (long long)*out);
    return RT_OK;
}

/* Fields retool cannot honour: refuse them instead of silently computing a different model. */
static rt_status config_refuse_unsupported(const cJSON *root, model_arch arch, rt_error *err) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (f && !cJSON_IsNull(f))
        return rt_err_set(err, RT_EUNSUPPORTED, "field 'rope_scaling': RoPE scaling is not supported (must be null)");
    const char *act = NULL;
    if (rt_json_opt_string(root, "hidden_act", &act, err)) return err->status;
    if (act && strcmp(act, "silu") != 0)
        return rt_err_set(err, RT_EUNSUPPORTED, "field 'hidden_act': '%s' is not supported (supported: silu)", act);
    int flag = 0;
    if (rt_json_opt_bool(root, "mlp_bias", &flag, err)) return err->status;
    if (flag) return rt_err_set(err, RT_EUNSUPPORTED, "field 'mlp_bias': MLP biases are not supported (must be false)");
    if (arch == MODEL_ARCH_QWEN2) {
        flag = 0;
        if (rt_json_opt_bool(root, "use_sliding_window", &flag, err)) return err->status;
        if (flag)
            return rt_err_set(err, RT_EUNSUPPORTED,
                              "field 'use_sliding_window': sliding-window attention is not supported (must be false)");
    }
    int64_t tp = 1;
    if (rt_json_opt_int(root, "pretraining_tp", &tp, err)) return err->status;
    if (tp != 1)
        return rt_err_set(err, RT_EUNSUPPORTED, "field 'pretraining_tp': %lld is not supported (must be 1)",
                          (long long)tp);
    return RT_OK;
}

static rt_status config_from_json(const cJSON *root, model_config *cfg, rt_error *err) {
    if (!cJSON_IsObject(root)) return rt_err_set(err, RT_EFORMAT, "expected a JSON object");
    memset(cfg, 0, sizeof *cfg);
    if (config_read_arch(root, &cfg->arch, err)) return err->status;
    if (config_refuse_unsupported(root, cfg->arch, err)) return err->status;
    if (rt_json_get_int(root, "vocab_size", &cfg->vocab_size, err) ||
        rt_json_get_int(root, "hidden_size", &cfg->hidden_size, err) ||
        rt_json_get_int(root, "intermediate_size", &cfg->intermediate_size, err) ||
        rt_json_get_int(root, "num_hidden_layers", &cfg->num_layers, err) ||
        rt_json_get_int(root, "num_attention_heads", &cfg->num_heads, err) ||
        rt_json_get_double(root, "rms_norm_eps", &cfg->rms_norm_eps, err))
        return err->status;
    cfg->num_kv_heads = cfg->num_heads;
    if (rt_json_opt_int(root, "num_key_value_heads", &cfg->num_kv_heads, err)) return err->status;
    cfg->head_dim = 0;
    if (rt_json_opt_int(root, "head_dim", &cfg->head_dim, err)) return err->status;
    if (cfg->head_dim == 0 && cfg->num_heads > 0) {
        if (cfg->hidden_size % cfg->num_heads != 0)
            return rt_err_set(err, RT_EFORMAT,
                              "field 'num_attention_heads': %lld does not divide hidden_size %lld (and no head_dim)",
                              (long long)cfg->num_heads, (long long)cfg->hidden_size);
        cfg->head_dim = cfg->hidden_size / cfg->num_heads;
    }
    cfg->rope_theta = 10000.0;
    if (rt_json_opt_double(root, "rope_theta", &cfg->rope_theta, err)) return err->status;
    /* transformers' defaults when the field is absent */
    cfg->max_position_embeddings = cfg->arch == MODEL_ARCH_QWEN2 ? 32768 : 2048;
    if (rt_json_opt_int(root, "max_position_embeddings", &cfg->max_position_embeddings, err)) return err->status;
    cfg->tie_word_embeddings = 0;
    if (rt_json_opt_bool(root, "tie_word_embeddings", &cfg->tie_word_embeddings, err)) return err->status;
    cfg->attention_bias = cfg->arch == MODEL_ARCH_QWEN2;
    int bias = cfg->attention_bias;
    if (rt_json_opt_bool(root, "attention_bias", &bias, err)) return err->status;
    if (cfg->arch == MODEL_ARCH_QWEN2 && !bias)
        return rt_err_set(err, RT_EUNSUPPORTED,
                          "field 'attention_bias': Qwen2ForCausalLM always has q/k/v biases (false is not supported)");
    cfg->attention_bias = bias;
    if (config_read_token(root, "bos_token_id", &cfg->bos_token_id, err) ||
        config_read_token(root, "eos_token_id", &cfg->eos_token_id, err))
        return err->status;
    const char *dtype = NULL;
    const char *dtype_key = "torch_dtype";
    if (rt_json_opt_string(root, "torch_dtype", &dtype, err)) return err->status;
    if (!dtype) {
        dtype_key = "dtype"; /* newer transformers write "dtype" */
        if (rt_json_opt_string(root, "dtype", &dtype, err)) return err->status;
    }
    if (!dtype) dtype = "float32";
    if (strcmp(dtype, "float32") && strcmp(dtype, "bfloat16") && strcmp(dtype, "float16"))
        return rt_err_set(err, RT_EUNSUPPORTED,
                          "field '%s': '%s' is not supported (supported: float32, bfloat16, float16)", dtype_key,
                          dtype);
    snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s", dtype);
    return RT_OK;
}

rt_status model_config_load(const char *path, model_config *cfg, rt_error *err) {
    cJSON *root = NULL;
    rt_status st = rt_json_read_file(path, &root, err);
    if (st) return st;
    st = config_from_json(root, cfg, err);
    cJSON_Delete(root);
    if (st) return rt_err_prefix(err, "%s", path);
    return model_config_validate(cfg, path, err);
}

static rt_status check_dim(const char *name, const char *field, int64_t v, int64_t lo, rt_error *err) {
    if (v < lo || v > CONFIG_DIM_MAX)
        return rt_err_set(err, RT_ERANGE, "%s: field '%s': %lld is outside [%lld, %lld]", name, field, (long long)v,
                          (long long)lo, (long long)CONFIG_DIM_MAX);
    return RT_OK;
}

rt_status model_config_validate(const model_config *cfg, const char *name, rt_error *err) {
    if (!name) name = "model config";
    if (cfg->arch != MODEL_ARCH_LLAMA && cfg->arch != MODEL_ARCH_QWEN2)
        return rt_err_set(err, RT_EUNSUPPORTED, "%s: unknown architecture %d (supported: %s)", name, (int)cfg->arch,
                          SUPPORTED_ARCHS);
    if (check_dim(name, "vocab_size", cfg->vocab_size, 1, err) ||
        check_dim(name, "hidden_size", cfg->hidden_size, 1, err) ||
        check_dim(name, "intermediate_size", cfg->intermediate_size, 1, err) ||
        check_dim(name, "num_hidden_layers", cfg->num_layers, 1, err) ||
        check_dim(name, "num_attention_heads", cfg->num_heads, 1, err) ||
        check_dim(name, "num_key_value_heads", cfg->num_kv_heads, 1, err) ||
        check_dim(name, "head_dim", cfg->head_dim, 2, err) ||
        check_dim(name, "max_position_embeddings", cfg->max_position_embeddings, 1, err))
        return err->status;
    if (cfg->num_layers > 4096)
        return rt_err_set(err, RT_ERANGE, "%s: field 'num_hidden_layers': %lld is more than 4096", name,
                          (long long)cfg->num_layers);
    if (cfg->num_heads % cfg->num_kv_heads != 0)
        return rt_err_set(err, RT_EFORMAT,
                          "%s: field 'num_key_value_heads': %lld does not divide num_attention_heads %lld", name,
                          (long long)cfg->num_kv_heads, (long long)cfg->num_heads);
    if (cfg->head_dim % 2 != 0)
        return rt_err_set(err, RT_EFORMAT, "%s: field 'head_dim': %lld is odd (rotary embeddings need an even size)",
                          name, (long long)cfg->head_dim);
    if (cfg->num_heads * cfg->head_dim > CONFIG_DIM_MAX)
        return rt_err_set(err, RT_ERANGE, "%s: field 'head_dim': num_attention_heads * head_dim is too large", name);
    if (!(cfg->rms_norm_eps > 0 && cfg->rms_norm_eps < 1))
        return rt_err_set(err, RT_ERANGE, "%s: field 'rms_norm_eps': %g is outside (0, 1)", name, cfg->rms_norm_eps);
    if (!(cfg->rope_theta > 0 && isfinite(cfg->rope_theta)))
        return rt_err_set(err, RT_ERANGE, "%s: field 'rope_theta': %g must be positive", name, cfg->rope_theta);
    if (cfg->bos_token_id >= cfg->vocab_size)
        return rt_err_set(err, RT_ERANGE, "%s: field 'bos_token_id': %lld is not below vocab_size %lld", name,
                          (long long)cfg->bos_token_id, (long long)cfg->vocab_size);
    if (cfg->eos_token_id >= cfg->vocab_size)
        return rt_err_set(err, RT_ERANGE, "%s: field 'eos_token_id': %lld is not below vocab_size %lld", name,
                          (long long)cfg->eos_token_id, (long long)cfg->vocab_size);
    if (cfg->bos_token_id < -1 || cfg->eos_token_id < -1)
        return rt_err_set(err, RT_ERANGE, "%s: fields 'bos_token_id' / 'eos_token_id' must be -1 (none) or an id",
                          name);
    if (cfg->torch_dtype[0] && strcmp(cfg->torch_dtype, "float32") && strcmp(cfg->torch_dtype, "bfloat16") &&
        strcmp(cfg->torch_dtype, "float16")) /* empty means float32 */
        return rt_err_set(err, RT_EUNSUPPORTED,
                          "%s: field 'torch_dtype': '%.15s' is not supported (supported: float32, bfloat16, float16)",
                          name, cfg->torch_dtype);
    if (cfg->arch == MODEL_ARCH_QWEN2 && !cfg->attention_bias)
        return rt_err_set(err, RT_EUNSUPPORTED, "%s: field 'attention_bias': Qwen2ForCausalLM always has q/k/v biases",
                          name);
    return RT_OK;
}

int64_t model_config_param_count(const model_config *cfg) {
    int64_t C = cfg->hidden_size, I = cfg->intermediate_size, V = cfg->vocab_size;
    int64_t q = cfg->num_heads * cfg->head_dim, kv = cfg->num_kv_heads * cfg->head_dim;
    int64_t layer = 2 * C                /* input and post-attention norms */
                    + q * C + 2 * kv * C /* q, k, v projections */
                    + C * q              /* o projection */
                    + 3 * C * I;         /* gate, up, down */
    if (cfg->attention_bias) layer += q + 2 * kv;
    return V * C + cfg->num_layers * layer + C + (cfg->tie_word_embeddings ? 0 : V * C);
}

static cJSON *config_to_json(const model_config *cfg) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON *archs = cJSON_AddArrayToObject(root, "architectures");
    if (archs) cJSON_AddItemToArray(archs, cJSON_CreateString(arch_class(cfg->arch)));
    cJSON_AddStringToObject(root, "model_type", arch_type(cfg->arch));
    cJSON_AddNumberToObject(root, "vocab_size", (double)cfg->vocab_size);
    cJSON_AddNumberToObject(root, "hidden_size", (double)cfg->hidden_size);
    cJSON_AddNumberToObject(root, "intermediate_size", (double)cfg->intermediate_size);
    cJSON_AddNumberToObject(root, "num_hidden_layers", (double)cfg->num_layers);
    cJSON_AddNumberToObject(root, "num_attention_heads", (double)cfg->num_heads);
    cJSON_AddNumberToObject(root, "num_key_value_heads", (double)cfg->num_kv_heads);
    cJSON_AddNumberToObject(root, "head_dim", (double)cfg->head_dim);
    cJSON_AddStringToObject(root, "hidden_act", "silu");
    cJSON_AddNumberToObject(root, "max_position_embeddings", (double)cfg->max_position_embeddings);
    cJSON_AddNumberToObject(root, "rms_norm_eps", cfg->rms_norm_eps);
    cJSON_AddNumberToObject(root, "rope_theta", cfg->rope_theta);
    cJSON_AddNullToObject(root, "rope_scaling");
    cJSON_AddBoolToObject(root, "tie_word_embeddings", cfg->tie_word_embeddings != 0);
    if (cfg->arch == MODEL_ARCH_LLAMA) {
        cJSON_AddBoolToObject(root, "attention_bias", cfg->attention_bias != 0);
        cJSON_AddBoolToObject(root, "mlp_bias", 0);
        cJSON_AddNumberToObject(root, "pretraining_tp", 1);
    } else {
        cJSON_AddBoolToObject(root, "use_sliding_window", 0);
        cJSON_AddNumberToObject(root, "sliding_window", (double)cfg->max_position_embeddings);
        cJSON_AddNumberToObject(root, "max_window_layers", (double)cfg->num_layers);
    }
    cJSON_AddNumberToObject(root, "attention_dropout", 0.0);
    cJSON_AddNumberToObject(root, "initializer_range", 0.02);
    if (cfg->bos_token_id >= 0)
        cJSON_AddNumberToObject(root, "bos_token_id", (double)cfg->bos_token_id);
    else
        cJSON_AddNullToObject(root, "bos_token_id");
    if (cfg->eos_token_id >= 0)
        cJSON_AddNumberToObject(root, "eos_token_id", (double)cfg->eos_token_id);
    else
        cJSON_AddNullToObject(root, "eos_token_id");
    cJSON_AddStringToObject(root, "torch_dtype", cfg->torch_dtype[0] ? cfg->torch_dtype : "float32");
    cJSON_AddBoolToObject(root, "use_cache", 1);
    return root;
}

rt_status model_config_save(const char *path, const model_config *cfg, rt_error *err) {
    if (model_config_validate(cfg, path, err)) return err->status;
    cJSON *root = config_to_json(cfg);
    if (!root) return rt_err_set(err, RT_ENOMEM, "%s: out of memory building config.json", path);
    rt_status st = rt_json_write_file(path, root, err);
    cJSON_Delete(root);
    return st;
}
