/* Loading a model folder into the parameter buffer and writing it back (config.json + model.safetensors). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "model/model.h"
#include "model/safetensors.h"

rt_status model_load(model *m, const char *dir, const model_opts *opts, rt_error *err) {
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
            for (size_t j = 0; j < t->numel; j++) conv[t->offset + j] = st_f32_to_bf16(m->params[t->offset + j]);
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
