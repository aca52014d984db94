/* Model folders: the weights, config.json and generation_config.json written atomically; random initialisation;
 * tokenizer files copied in. */
#include "model/modeldir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/rng.h"

#define PATH_MAX_LEN 4096

static rt_status join(char *buf, const char *dir, const char *name, rt_error *err) {
    int n = snprintf(buf, PATH_MAX_LEN, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX_LEN) return rt_err_set(err, RT_EINVAL, "path too long: %s/%s", dir, name);
    return RT_OK;
}

static rt_status write_generation_config(const char *path, const model_config *cfg, rt_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return rt_err_set(err, RT_ENOMEM, "out of memory");
    cJSON_AddBoolToObject(root, "_from_model_config", 1);
    if (cfg->bos_token_id >= 0) cJSON_AddNumberToObject(root, "bos_token_id", (double)cfg->bos_token_id);
    if (cfg->eos_token_id >= 0) cJSON_AddNumberToObject(root, "eos_token_id", (double)cfg->eos_token_id);
    rt_status st = rt_json_write_file(path, root, err);
    cJSON_Delete(root);
    return st;
}

/* Writes the three files of a folder; tensors are already in their on-disk dtype. */
static rt_status write_folder(const char *dir, const model_config *cfg, const st_tensor *tensors, size_t n,
                              st_dtype dtype, rt_error *err) {
    char path[PATH_MAX_LEN];
    model_config c = *cfg;
    snprintf(c.torch_dtype, sizeof c.torch_dtype, "%s", dtype == ST_BF16 ? "bfloat16" : "float32");
    static const char *const meta[] = {"format", "pt", "written_by", "retool", NULL};
    if (rt_mkdir_p(dir, err) || join(path, dir, "model.safetensors", err) ||
        st_write_file(path, tensors, n, meta, err) || join(path, dir, "config.json", err) ||
        model_config_save(path, &c, err) || join(path, dir, "generation_config.json", err) ||
        write_generation_config(path, &c, err))
        return err->status;
    return RT_OK;
}

static rt_status check_args(const char *dir, const model_config *cfg, st_dtype dtype, rt_error *err) {
    if (model_config_validate(cfg, dir, err)) return err->status;
    if (dtype != ST_F32 && dtype != ST_BF16)
        return rt_err_set(err, RT_EINVAL, "%s: weights can be written as F32 or BF16, not %s", dir,
                          st_dtype_name(dtype));
    return RT_OK;
}

static void shape_text(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && i < ST_MAX_DIMS && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

static const st_tensor *find_given(const st_tensor *tensors, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (tensors[i].name && strcmp(tensors[i].name, name) == 0) return &tensors[i];
    return NULL;
}

static int is_spec(const model_tensor_spec *specs, size_t ns, const char *name) {
    for (size_t i = 0; i < ns; i++)
        if (strcmp(specs[i].name, name) == 0) return 1;
    return 0;
}

rt_status model_dir_write(const char *dir, const model_config *cfg, const st_tensor *tensors, size_t n, st_dtype dtype,
                          rt_error *err) {
    if (check_args(dir, cfg, dtype, err)) return err->status;
    size_t ns = model_tensor_specs(cfg, NULL);
    model_tensor_spec *specs = calloc(ns, sizeof *specs);
    st_tensor *out = calloc(ns + n, sizeof *out);
    rt_status st = RT_OK;
    size_t nout = 0;
    uint16_t *half = NULL;
    if (!specs || !out) {
        st = rt_err_set(err, RT_ENOMEM, "out of memory");
        goto done;
    }
    model_tensor_specs(cfg, specs);
    for (size_t i = 0; i < ns; i++) {
        const st_tensor *t = find_given(tensors, n, specs[i].name);
        if (!t) {
            st = rt_err_set(err, RT_EINVAL, "%s: tensor '%s' is missing from the tensors to write", dir, specs[i].name);
            goto done;
        }
        int same = t->ndim == specs[i].ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == specs[i].shape[d];
        if (!same) {
            char have[160], want[64];
            shape_text(have, sizeof have, t->ndim, t->shape);
            shape_text(want, sizeof want, specs[i].ndim, specs[i].shape);
            st = rt_err_set(err, RT_EINVAL, "%s: tensor '%s' has shape %s but the config needs %s", dir, t->name, have,
                            want);
            goto done;
        }
        out[nout++] = *t;
    }
    for (size_t i = 0; i < n; i++)
        if (!tensors[i].name || !is_spec(specs, ns, tensors[i].name)) out[nout++] = tensors[i];
    size_t total = 0;
    for (size_t i = 0; i < nout; i++) {
        if (out[i].dtype != ST_F32 || out[i].nbytes != (size_t)st_numel(&out[i]) * 4) {
            st = rt_err_set(err, RT_EINVAL, "%s: tensor '%s' must be f32 in memory with nbytes = 4 * its elements", dir,
                            out[i].name ? out[i].name : "(null)");
            goto done;
        }
        total += out[i].nbytes / 4;
    }
    if (dtype == ST_BF16) {
        half = malloc(total * 2 + 2);
        if (!half) {
            st = rt_err_set(err, RT_ENOMEM, "%s: out of memory for %zu bf16 values", dir, total);
            goto done;
        }
        size_t at = 0;
        for (size_t i = 0; i < nout; i++) {
            size_t cnt = out[i].nbytes / 4;
            if (cnt) st_f32_to_bf16_n(out[i].data, half + at, cnt);
            out[i].data = half + at;
            out[i].nbytes = cnt * 2;
            out[i].dtype = ST_BF16;
            at += cnt;
        }
    }
    st = write_folder(dir, cfg, out, nout, dtype, err);
done:
    free(half);
    free(out);
    free(specs);
    return st;
}

void model_init_tensor(const model_config *cfg, const model_tensor_spec *spec, uint64_t seed, size_t index,
                       float *out) {
    size_t n = (size_t)model_tensor_spec_numel(spec);
    if (spec->init == MODEL_INIT_ONES || spec->init == MODEL_INIT_ZEROS) {
        float v = spec->init == MODEL_INIT_ONES ? 1.0f : 0.0f;
        for (size_t i = 0; i < n; i++)
            out[i] = v;
        return;
    }
    rt_rng root;
    rt_rng_seed(&root, seed);
    rt_rng r = rt_rng_split(&root, (uint64_t)index);
    double std = model_tensor_init_std(cfg, spec);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(std * rt_rng_normal(&r));
}

rt_status model_dir_init(const model_config *cfg, const char *out_dir, uint64_t seed, st_dtype dtype, rt_error *err) {
    if (check_args(out_dir, cfg, dtype, err)) return err->status;
    size_t ns = model_tensor_specs(cfg, NULL), dsize = st_dtype_size(dtype);
    model_tensor_spec *specs = calloc(ns, sizeof *specs);
    st_tensor *ts = calloc(ns, sizeof *ts);
    rt_status st = RT_OK;
    unsigned char *block = NULL;
    float *scratch = NULL;
    if (!specs || !ts) {
        st = rt_err_set(err, RT_ENOMEM, "out of memory");
        goto done;
    }
    model_tensor_specs(cfg, specs);
    size_t total = 0, largest = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t cnt = (size_t)model_tensor_spec_numel(&specs[i]);
        total += cnt;
        if (cnt > largest) largest = cnt;
    }
    block = malloc(total * dsize + 8);
    if (dtype == ST_BF16) scratch = malloc(largest * sizeof *scratch + 8);
    if (!block || (dtype == ST_BF16 && !scratch)) {
        st = rt_err_set(err, RT_ENOMEM, "%s: out of memory for %zu parameters", out_dir, total);
        goto done;
    }
    size_t at = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t cnt = (size_t)model_tensor_spec_numel(&specs[i]);
        unsigned char *p = block + at * dsize;
        if (dtype == ST_F32) {
            model_init_tensor(cfg, &specs[i], seed, i, (float *)(void *)p);
        } else {
            model_init_tensor(cfg, &specs[i], seed, i, scratch);
            st_f32_to_bf16_n(scratch, (uint16_t *)(void *)p, cnt);
        }
        ts[i] =
            (st_tensor){.name = specs[i].name, .dtype = dtype, .ndim = specs[i].ndim, .data = p, .nbytes = cnt * dsize};
        memcpy(ts[i].shape, specs[i].shape, sizeof specs[i].shape);
        at += cnt;
    }
    st = write_folder(out_dir, cfg, ts, ns, dtype, err);
done:
    free(scratch);
    free(block);
    free(ts);
    free(specs);
    return st;
}

rt_status model_tokenizer_max_id(const char *tokenizer_json, int64_t *max_id, rt_error *err) {
    cJSON *root = NULL;
    if (rt_json_read_file(tokenizer_json, &root, err)) return err->status;
    int64_t mx = -1;
    int found = 0;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "model"), "vocab");
    const cJSON *e;
    if (cJSON_IsObject(vocab)) { /* BPE / WordPiece: {token: id} */
        found = 1;
        cJSON_ArrayForEach(e, vocab) if (cJSON_IsNumber(e) && e->valuedouble > (double)mx) mx = (int64_t)e->valuedouble;
    } else if (cJSON_IsArray(vocab)) { /* Unigram: [[piece, score], ...], ids are positions */
        found = 1;
        mx = (int64_t)cJSON_GetArraySize(vocab) - 1;
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (cJSON_IsArray(added)) cJSON_ArrayForEach(e, added) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            found = 1;
            if (cJSON_IsNumber(id) && id->valuedouble > (double)mx) mx = (int64_t)id->valuedouble;
        }
    cJSON_Delete(root);
    if (!found)
        return rt_err_set(err, RT_EFORMAT, "%s: no model.vocab or added_tokens (not a tokenizer.json?)",
                          tokenizer_json);
    *max_id = mx;
    return RT_OK;
}

/* Copies src to dst byte for byte, atomically. */
static rt_status copy_file(const char *src, const char *dst, rt_error *err) {
    char *data;
    size_t len;
    if (rt_file_read_all(src, &data, &len, err)) return err->status;
    rt_status st = rt_file_write_atomic(dst, data, len, err);
    free(data);
    return st;
}

rt_status model_dir_copy_tokenizer(const char *tok_dir, const char *dir, const model_config *cfg, rt_error *err) {
    static const char *const files[] = {"tokenizer.json", "tokenizer_config.json"};
    char src[PATH_MAX_LEN], dst[PATH_MAX_LEN];
    for (size_t i = 0; i < 2; i++) {
        if (join(src, tok_dir, files[i], err)) return err->status;
        if (!rt_path_exists(src))
            return rt_err_set(err, RT_ENOTFOUND, "%s: no %s in the tokenizer folder", tok_dir, files[i]);
    }
    if (cfg) {
        int64_t mx;
        if (join(src, tok_dir, files[0], err) || model_tokenizer_max_id(src, &mx, err)) return err->status;
        if (mx >= cfg->vocab_size)
            return rt_err_set(err, RT_EINVAL, "%s: token ids go up to %lld but the model's vocab_size is %lld", src,
                              (long long)mx, (long long)cfg->vocab_size);
    }
    if (rt_mkdir_p(dir, err)) return err->status;
    for (size_t i = 0; i < 2; i++)
        if (join(src, tok_dir, files[i], err) || join(dst, dir, files[i], err) || copy_file(src, dst, err))
            return err->status;
    return RT_OK;
}
