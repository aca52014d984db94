/* PEFT adapter folders: config, tensors, and the value head beside them. */
#include "model/peft.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "model/lora.h"
#include "model/safetensors.h"

int model_peft_is_adapter(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    return rt_path_exists(path);
}

/* Refuses a boolean setting that is present and true (fields retool does not implement). */
static rt_status refuse_true(const cJSON *o, const char *key, const char *path, rt_error *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsTrue(x))
        return rt_err_set(err, RT_EUNSUPPORTED, "%s: field '%s' is true; retool supports false", path, key);
    return RT_OK;
}

static rt_status parse_config(const cJSON *o, const char *path, model_lora_cfg *cfg, char *base, size_t cap,
                              rt_error *err) {
    const char *s = NULL;
    int64_t r = 0;
    double alpha = 0, dropout = 0;
    rt_status st = rt_json_get_string(o, "peft_type", &s, err);
    if (!st && strcmp(s, "LORA")) st = rt_err_set(err, RT_EUNSUPPORTED, "field 'peft_type': '%s', expected LORA", s);
    if (!st) st = rt_json_get_int(o, "r", &r, err);
    if (!st) st = rt_json_get_double(o, "lora_alpha", &alpha, err);
    if (!st) st = rt_json_opt_double(o, "lora_dropout", &dropout, err);
    if (!st && !rt_json_opt_string(o, "bias", &s, err) && s && strcmp(s, "none"))
        st = rt_err_set(err, RT_EUNSUPPORTED, "field 'bias': '%s'; retool supports \"none\"", s);
    const char *bools[] = {"fan_in_fan_out", "use_dora", "use_rslora"};
    for (int i = 0; i < 3 && !st; i++)
        st = refuse_true(o, bools[i], path, err);
    if (st) return rt_err_prefix(err, "%s", path);
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(o, "layers_to_transform");
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(o, "rank_pattern");
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(o, "alpha_pattern");
    if ((lp && !cJSON_IsNull(lp)) || (cJSON_IsObject(rp) && rp->child) || (cJSON_IsObject(ap) && ap->child))
        return rt_err_set(
            err, RT_EUNSUPPORTED,
            "%s: layers_to_transform / rank_pattern / alpha_pattern are set; retool supports one rank and "
            "alpha on every layer",
            path);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "target_modules");
    unsigned targets = 0;
    if (cJSON_IsString(t)) {
        st = model_lora_parse_targets(t->valuestring, &targets, err);
    } else if (cJSON_IsArray(t)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, t) {
            unsigned one;
            if (!cJSON_IsString(x))
                return rt_err_set(err, RT_EFORMAT, "%s: field 'target_modules': not a string", path);
            if ((st = model_lora_parse_targets(x->valuestring, &one, err)) != RT_OK) break;
            targets |= one;
        }
    } else {
        return rt_err_set(err, RT_EFORMAT, "%s: field 'target_modules': expected a list of module names", path);
    }
    if (st) return rt_err_prefix(err, "%s: field 'target_modules'", path);
    cfg->rank = (int)r;
    cfg->alpha = alpha;
    cfg->targets = targets;
    cfg->dropout = dropout;
    if (r != cfg->rank || (st = model_lora_check(cfg, err)) != RT_OK) return rt_err_prefix(err, "%s", path);
    if (base) {
        base[0] = 0;
        const char *b = NULL;
        if (!rt_json_opt_string(o, "base_model_name_or_path", &b, err) && b) snprintf(base, cap, "%s", b);
    }
    return RT_OK;
}

rt_status model_peft_read_config(const char *dir, model_lora_cfg *cfg, char *base, size_t cap, rt_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    cJSON *o;
    rt_status st = rt_json_read_file(path, &o, err);
    if (st) return st;
    st = parse_config(o, path, cfg, base, cap, err);
    cJSON_Delete(o);
    return st;
}

static rt_status write_config(const model_lora_cfg *c, const char *dir, const char *base_name, rt_error *err) {
    cJSON *o = cJSON_CreateObject(), *t = cJSON_CreateArray();
    for (int i = 0; i < MODEL_LORA_NTARGETS; i++)
        if (c->targets & (1u << i)) cJSON_AddItemToArray(t, cJSON_CreateString(model_lora_target_name(i)));
    cJSON_AddStringToObject(o, "base_model_name_or_path", base_name ? base_name : "");
    cJSON_AddStringToObject(o, "bias", "none");
    cJSON_AddBoolToObject(o, "fan_in_fan_out", 0);
    cJSON_AddBoolToObject(o, "inference_mode", 1);
    cJSON_AddNumberToObject(o, "lora_alpha", c->alpha);
    cJSON_AddNumberToObject(o, "lora_dropout", c->dropout);
    cJSON_AddStringToObject(o, "peft_type", "LORA");
    cJSON_AddNumberToObject(o, "r", c->rank);
    cJSON_AddItemToObject(o, "target_modules", t);
    cJSON_AddStringToObject(o, "task_type", "CAUSAL_LM");
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    rt_status st = rt_json_write_file(path, o, err);
    cJSON_Delete(o);
    return st;
}

/* Writes the tensors of m whose names start (or not, when !match) with prefix into path as F32. */
static rt_status write_tensors(const model *m, const char *path, const char *prefix, int match, rt_error *err) {
    st_tensor *ts = calloc(m->ntensors ? m->ntensors : 1, sizeof *ts);
    if (!ts) return rt_err_set(err, RT_ENOMEM, "saving %s: no memory", path);
    size_t n = 0, pl = strlen(prefix);
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if ((strncmp(t->name, prefix, pl) == 0) != match) continue;
        st_tensor *o = &ts[n++];
        o->name = (char *)t->name;
        o->dtype = ST_F32;
        o->ndim = t->ndim;
        o->shape[0] = t->shape[0];
        o->shape[1] = t->shape[1];
        o->data = m->params + t->offset;
        o->nbytes = t->numel * sizeof(float);
    }
    const char *meta[] = {"format", "pt", NULL};
    rt_status st = st_write_file(path, ts, n, meta, err);
    free(ts);
    return st;
}

rt_status model_peft_save(const model *m, const char *dir, const char *base_name, rt_error *err) {
    const model_lora_cfg *c = model_lora_config(m);
    if (!c) return rt_err_set(err, RT_EINVAL, "saving %s: the model has no LoRA adapters", dir);
    rt_status st = rt_mkdir_p(dir, err);
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    if (!st) st = write_tensors(m, path, "base_model.", 1, err);
    snprintf(path, sizeof path, "%s/value_head.safetensors", dir);
    if (!st && m->value_head) st = write_tensors(m, path, "base_model.", 0, err);
    if (!st) st = write_config(c, dir, base_name, err); /* last: a folder with a config is complete */
    return st;
}

/* Reads every tensor of file path into m: each must be one of m's (by name) with its shape. */
static rt_status read_tensors(model *m, const char *path, size_t *count, rt_error *err) {
    st_set set;
    rt_status st = st_open_file(path, &set, err);
    if (st) return st;
    for (size_t i = 0; i < set.ntensors && !st; i++) {
        const st_tensor *ft = &set.tensors[i];
        const model_tensor *t = model_find_tensor(m, ft->name);
        if (!t) {
            st = rt_err_set(err, RT_EFORMAT,
                            "%s: tensor '%s' is not an adapter of this model (its rank, targets or layer count differ, "
                            "or the module is one retool does not adapt)",
                            path, ft->name);
            break;
        }
        const st_tensor *found;
        st = st_expect(&set, t->name, t->ndim, t->shape, &found, err);
        if (!st) st = st_to_f32(found, m->params + t->offset, err);
        (*count)++;
    }
    st_close(&set);
    return st;
}

rt_status model_peft_load(model *m, const char *dir, rt_error *err) {
    const model_lora_cfg *c = model_lora_config(m);
    if (!c) return rt_err_set(err, RT_EINVAL, "loading %s: the model has no LoRA adapters", dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    size_t n = 0, want = model_lora_ntensors(m, c);
    rt_status st = read_tensors(m, path, &n, err);
    if (!st && n != want) {
        /* name the first adapter tensor the file lacks */
        st_set set;
        if (!(st = st_open_file(path, &set, err))) {
            for (size_t i = 0; i < m->ntensors; i++)
                if (!strncmp(m->tensors[i].name, "base_model.", 11) && !st_find(&set, m->tensors[i].name)) {
                    st = rt_err_set(err, RT_ENOTFOUND, "%s: tensor '%s' missing", path, m->tensors[i].name);
                    break;
                }
            st_close(&set);
        }
    }
    snprintf(path, sizeof path, "%s/value_head.safetensors", dir);
    size_t nv = 0;
    if (!st && m->value_head && rt_path_exists(path)) st = read_tensors(m, path, &nv, err);
    if (st) return rt_err_prefix(err, "loading adapter %s", dir);
    return RT_OK;
}
