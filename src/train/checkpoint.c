#include "train/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "model/modeldir.h"
#include "model/safetensors.h"

static rt_status save_model(const model *m, const char *dir, rt_error *err) {
    rt_status st = model_save(m, dir, 0, err);
    if (st || !m->adam_m) return st;
    char path[4200];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    st_tensor t[2];
    memset(t, 0, sizeof t);
    const char *names[2] = {"adam_m", "adam_v"};
    const float *data[2] = {m->adam_m, m->adam_v};
    for (int i = 0; i < 2; i++) {
        t[i].name = (char *)names[i];
        t[i].dtype = ST_F32;
        t[i].ndim = 1;
        t[i].shape[0] = (int64_t)m->nparams;
        t[i].data = data[i];
        t[i].nbytes = m->nparams * sizeof(float);
    }
    char step[32];
    snprintf(step, sizeof step, "%" PRId64, m->adam_step);
    const char *meta[] = {"adam_step", step, NULL};
    return st_write_file(path, t, 2, meta, err);
}

static rt_status load_model(model *m, const char *dir, const model_opts *opts, rt_error *err) {
    rt_status st = model_load(m, dir, opts, err);
    if (st) return st;
    st = model_train_init(m, err);
    if (st) return st;
    char path[4200];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    if (!rt_path_exists(path)) return RT_OK; /* a model saved before its first step */
    st_set set;
    st = st_open_file(path, &set, err);
    if (st) return st;
    float *dst[2] = {m->adam_m, m->adam_v};
    const char *names[2] = {"adam_m", "adam_v"};
    int64_t shape[1] = {(int64_t)m->nparams};
    for (int i = 0; i < 2 && !st; i++) {
        const st_tensor *t;
        st = st_expect(&set, names[i], 1, shape, &t, err);
        if (!st) st = st_to_f32(t, dst[i], err);
    }
    const char *meta = set.metadata_json;
    cJSON *mj = meta ? cJSON_Parse(meta) : NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(mj, "adam_step");
    if (!st && !cJSON_IsString(s)) st = rt_err_set(err, RT_EFORMAT, "%s: metadata 'adam_step' missing", path);
    if (!st) m->adam_step = strtoll(s->valuestring, NULL, 10);
    cJSON_Delete(mj);
    st_close(&set);
    return st;
}

rt_status train_checkpoint_save(const train_rundir *rd, const model *policy, const model *critic,
                                const train_state *state, const char *tokenizer_dir, tok_template tmpl,
                                size_t keep_last, rt_error *err) {
    char tmp[4096], sub[4200];
    rt_status st = train_rundir_checkpoint_begin(rd, state->step, tmp, sizeof tmp, err);
    if (st) return st;
    snprintf(sub, sizeof sub, "%s/policy", tmp);
    st = save_model(policy, sub, err);
    char tokjson[4200];
    snprintf(tokjson, sizeof tokjson, "%s/tokenizer.json", tokenizer_dir ? tokenizer_dir : "");
    if (!st && tokenizer_dir && rt_path_exists(tokjson)) {
        st = model_dir_copy_tokenizer(tokenizer_dir, sub, NULL, err);
        if (!st && tmpl) st = tok_template_write(sub, tmpl, err);
    }
    if (!st && critic) {
        snprintf(sub, sizeof sub, "%s/critic", tmp);
        st = save_model(critic, sub, err);
    }
    if (!st) {
        cJSON *o = cJSON_CreateObject();
        char rng[4][24];
        cJSON *r = cJSON_CreateArray();
        for (int i = 0; i < 4; i++) {
            snprintf(rng[i], sizeof rng[i], "%" PRIu64, state->rng.s[i]);
            cJSON_AddItemToArray(r, cJSON_CreateString(rng[i]));
        }
        cJSON_AddNumberToObject(o, "version", TRAIN_CHECKPOINT_VERSION);
        cJSON_AddNumberToObject(o, "step", (double)state->step);
        cJSON_AddNumberToObject(o, "epoch", (double)state->epoch);
        cJSON_AddNumberToObject(o, "data_pos", (double)state->data_pos);
        cJSON_AddItemToObject(o, "rng", r);
        snprintf(sub, sizeof sub, "%s/state.json", tmp);
        st = rt_json_write_file(sub, o, err);
        cJSON_Delete(o);
    }
    if (!st) st = train_rundir_checkpoint_commit(rd, state->step, keep_last, err);
    if (st) return rt_err_prefix(err, "writing checkpoint step %lld", (long long)state->step);
    return RT_OK;
}

rt_status train_checkpoint_load(const char *dir, model *policy, const model_opts *opts, model *critic,
                                const model_opts *critic_opts, train_state *state, rt_error *err) {
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/state.json", dir);
    cJSON *o;
    rt_status st = rt_json_read_file(sub, &o, err);
    if (st) return rt_err_prefix(err, "checkpoint %s", dir);
    int64_t version = 0;
    memset(state, 0, sizeof *state);
    st = rt_json_get_int(o, "version", &version, err);
    if (!st && version != TRAIN_CHECKPOINT_VERSION)
        st = rt_err_set(err, RT_EUNSUPPORTED, "field 'version': checkpoint format %lld, this retool reads %d",
                        (long long)version, TRAIN_CHECKPOINT_VERSION);
    if (!st) st = rt_json_get_int(o, "step", &state->step, err);
    if (!st) st = rt_json_get_int(o, "epoch", &state->epoch, err);
    if (!st) st = rt_json_get_int(o, "data_pos", &state->data_pos, err);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rng");
    if (!st && (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != 4))
        st = rt_err_set(err, RT_EFORMAT, "field 'rng': expected 4 strings");
    for (int i = 0; !st && i < 4; i++) {
        const cJSON *x = cJSON_GetArrayItem(r, i);
        if (!cJSON_IsString(x)) st = rt_err_set(err, RT_EFORMAT, "field 'rng'[%d]: expected a string", i);
        else state->rng.s[i] = strtoull(x->valuestring, NULL, 10);
    }
    cJSON_Delete(o);
    if (st) return rt_err_prefix(err, "%s", sub);
    snprintf(sub, sizeof sub, "%s/policy", dir);
    st = load_model(policy, sub, opts, err);
    if (!st && critic) {
        snprintf(sub, sizeof sub, "%s/critic", dir);
        model_opts co = *critic_opts;
        co.share = policy->base; /* LoRA: the critic's adapters sit on the policy's frozen base */
        st = load_model(critic, sub, &co, err);
        if (st) model_free(policy);
    }
    if (st) return rt_err_prefix(err, "checkpoint %s", dir);
    return RT_OK;
}
