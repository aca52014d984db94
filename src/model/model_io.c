/* Loading a model folder into the parameter buffer and writing it back (config.json + model.safetensors). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "model/frozen.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/peft.h"
#include "model/safetensors.h"

/* Reads value_head.weight / value_head.bias from the model folder dir into a frozen model's value head when present. */
static rt_status load_value_head(model *m, const char *dir, rt_error *err) {
    st_set set;
    rt_status st = st_open_dir(dir, &set, err);
    if (st) return st;
    const char *names[2] = {"value_head.weight", "value_head.bias"};
    for (int i = 0; i < 2 && !st; i++) {
        const model_tensor *t = model_find_tensor(m, names[i]);
        const st_tensor *found;
        if (!st_find(&set, names[i])) continue;
        st = st_expect(&set, names[i], t->ndim, t->shape, &found, err);
        if (!st) st = st_to_f32(found, m->params + t->offset, err);
    }
    st_close(&set);
    return st;
}

/* Frozen mode: the bf16 base of dir (or of the adapter's base_model_name_or_path when dir is an adapter folder, or
 * opts->share), adapters from opts->adapter or dir, fresh adapters (PEFT's initialisation) otherwise. */
static rt_status load_frozen(model *m, const char *dir, const model_opts *opts, rt_error *err) {
    model_opts o = opts ? *opts : (model_opts){.prec = MODEL_PREC_BF16};
    const char *adapter = o.adapter, *base_dir = dir;
    char from_cfg[4096] = "";
    rt_status st = RT_OK;
    if (!adapter && model_peft_is_adapter(dir)) adapter = dir;
    if (adapter) {
        model_lora_cfg file;
        if ((st = model_peft_read_config(adapter, &file, from_cfg, sizeof from_cfg, err)) != RT_OK) return st;
        if (o.lora.rank > 0 && (o.lora.rank != file.rank || o.lora.targets != file.targets)) {
            char have[128], want[128];
            model_lora_targets_str(file.targets, have, sizeof have);
            model_lora_targets_str(o.lora.targets, want, sizeof want);
            return rt_err_set(err, RT_EINVAL,
                              "%s: the adapter has rank %d on %s, not the rank %d on %s asked for; drop --lora-rank "
                              "and --lora-targets (the adapter's own are used) or match them",
                              adapter, file.rank, have, o.lora.rank, want);
        }
        double dropout = o.lora.dropout; /* a training setting: the flags' when given, else the file's */
        o.lora = file;
        if (opts && opts->lora.rank > 0) o.lora.dropout = dropout;
        if (adapter == dir) {
            if (!o.share && !from_cfg[0])
                return rt_err_set(err, RT_EINVAL, "%s: adapter_config.json names no base_model_name_or_path", dir);
            base_dir = from_cfg;
        }
    }
    model_base *base = o.share;
    if (!base && (st = model_base_load(&base, base_dir, o.prec == MODEL_PREC_F32, err)) != RT_OK) return st;
    if (o.share) base->refs++;
    st = model_init_frozen(m, base, &o, err);
    model_base_release(base); /* the model holds its own reference */
    if (st) return st;
    if (m->lora) model_lora_init_random(m, 0);
    if (!st && m->value_head && base_dir != from_cfg) st = load_value_head(m, base_dir, err);
    if (!st && adapter) st = model_peft_load(m, adapter, err);
    if (st) {
        model_free(m);
        return rt_err_prefix(err, "loading %s", dir);
    }
    return RT_OK;
}

rt_status model_load(model *m, const char *dir, const model_opts *opts, rt_error *err) {
    if ((opts && (opts->frozen || opts->lora.rank > 0 || opts->adapter || opts->share)) || model_peft_is_adapter(dir))
        return load_frozen(m, dir, opts, err);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    model_config cfg;
    rt_status st = model_config_load(path, &cfg, err);
    if (st != RT_OK) return st;
    if ((st = model_init(m, &cfg, opts, err)) != RT_OK) return rt_err_prefix(err, "loading %s", dir);
    st_set set;
    memset(&set, 0, sizeof set);
    if ((st = st_open_dir(dir, &set, err)) != RT_OK) {
        model_free(m);
        return st;
    }
    for (size_t i = 0; i < m->ntensors && st == RT_OK; i++) {
        const model_tensor *t = &m->tensors[i];
        if (m->value_head && !strncmp(t->name, "value_head.", 11) && !st_find(&set, t->name)) continue; /* zero */
        const st_tensor *found;
        st = st_expect(&set, t->name, t->ndim, t->shape, &found, err);
        if (st == RT_OK) st = st_to_f32(found, m->params + t->offset, err);
    }
    if (st == RT_OK && m->cfg.tie_word_embeddings && st_find(&set, "lm_head.weight")) {
        /* Some tied checkpoints also store lm_head.weight: it must equal the embedding. */
        const st_tensor *lm;
        const int64_t shape[2] = {m->cfg.vocab_size, m->cfg.hidden_size};
        st = st_expect(&set, "lm_head.weight", 2, shape, &lm, err);
    }
    st_close(&set);
    if (st != RT_OK) {
        model_free(m);
        return rt_err_prefix(err, "loading %s", dir);
    }
    model_sync_bf16(m);
    return RT_OK;
}

rt_status model_save(const model *m, const char *dir, int bf16, rt_error *err) {
    if (m->lora) return model_peft_save(m, dir, m->base->dir, err);
    if (m->base)
        return rt_err_set(err, RT_EINVAL, "saving %s: a frozen base without adapters has nothing of its own to save",
                          dir);
    rt_status st = rt_mkdir_p(dir, err);
    if (st != RT_OK) return st;
    char path[4096];
    model_config cfg = m->cfg;
    snprintf(cfg.torch_dtype, sizeof cfg.torch_dtype, "%s", bf16 ? "bfloat16" : "float32");
    snprintf(path, sizeof path, "%s/config.json", dir);
    if ((st = model_config_save(path, &cfg, err)) != RT_OK) return st;
    st_tensor *ts = calloc(m->ntensors, sizeof *ts);
    uint16_t *conv = bf16 ? malloc(m->nparams * sizeof(uint16_t) + 2) : NULL;
    if (!ts || (bf16 && !conv)) {
        free(ts);
        free(conv);
        return rt_err_set(err, RT_ENOMEM, "saving %s: no memory", dir);
    }
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        ts[i].name = (char *)t->name;
        ts[i].dtype = bf16 ? ST_BF16 : ST_F32;
        ts[i].ndim = t->ndim;
        ts[i].shape[0] = t->shape[0];
        ts[i].shape[1] = t->shape[1];
        if (bf16) {
            for (size_t j = 0; j < t->numel; j++)
                conv[t->offset + j] = st_f32_to_bf16(m->params[t->offset + j]);
            ts[i].data = conv + t->offset;
            ts[i].nbytes = t->numel * 2;
        } else {
            ts[i].data = m->params + t->offset;
            ts[i].nbytes = t->numel * 4;
        }
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char *meta[] = {"format", "pt", NULL};
    st = st_write_file(path, ts, m->ntensors, meta, err);
    free(ts);
    free(conv);
    return st;
}

rt_status model_save_optimizer(const model *m, const char *path, rt_error *err) {
    if (!m->adam_m) return rt_err_set(err, RT_EINVAL, "saving %s: the model has no optimizer state", path);
    st_tensor *ts = calloc(2 * m->ntensors, sizeof *ts);
    char *names = calloc(2 * m->ntensors, 112);
    if (!ts || !names) {
        free(ts);
        free(names);
        return rt_err_set(err, RT_ENOMEM, "saving %s: no memory", path);
    }
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < m->ntensors; i++) {
            const model_tensor *t = &m->tensors[i];
            st_tensor *o = &ts[k * m->ntensors + i];
            o->name = names + (k * m->ntensors + i) * 112;
            snprintf(o->name, 112, "%s.%s", k ? "adam_v" : "adam_m", t->name);
            o->dtype = ST_F32;
            o->ndim = t->ndim;
            o->shape[0] = t->shape[0];
            o->shape[1] = t->shape[1];
            o->data = (k ? m->adam_v : m->adam_m) + t->offset;
            o->nbytes = t->numel * 4;
        }
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)m->adam_step);
    const char *meta[] = {"format", "retool-adamw", "version", "1", "adam_step", step, NULL};
    rt_status st = st_write_file(path, ts, 2 * m->ntensors, meta, err);
    free(ts);
    free(names);
    return st;
}

rt_status model_load_optimizer(model *m, const char *path, rt_error *err) {
    rt_status st = model_train_init(m, err);
    if (st != RT_OK) return st;
    st_set set;
    memset(&set, 0, sizeof set);
    if ((st = st_open_file(path, &set, err)) != RT_OK) return st;
    long long step = -1;
    cJSON *meta = set.metadata_json ? cJSON_Parse(set.metadata_json) : NULL;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(meta, "version");
    const cJSON *stp = cJSON_GetObjectItemCaseSensitive(meta, "adam_step");
    if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "retool-adamw") && cJSON_IsString(ver) &&
        !strcmp(ver->valuestring, "1") && cJSON_IsString(stp))
        step = strtoll(stp->valuestring, NULL, 10);
    cJSON_Delete(meta);
    if (step < 0) {
        st_close(&set);
        return rt_err_set(err, RT_EFORMAT,
                          "%s: not a retool AdamW state (expected metadata format retool-adamw, version 1, adam_step)",
                          path);
    }
    char name[128];
    for (size_t k = 0; k < 2 && st == RT_OK; k++)
        for (size_t i = 0; i < m->ntensors && st == RT_OK; i++) {
            const model_tensor *t = &m->tensors[i];
            const st_tensor *found;
            snprintf(name, sizeof name, "%s.%s", k ? "adam_v" : "adam_m", t->name);
            st = st_expect(&set, name, t->ndim, t->shape, &found, err);
            if (st == RT_OK) st = st_to_f32(found, (k ? m->adam_v : m->adam_m) + t->offset, err);
        }
    st_close(&set);
    if (st != RT_OK) return rt_err_prefix(err, "loading optimizer state %s", path);
    m->adam_step = step;
    return RT_OK;
}
