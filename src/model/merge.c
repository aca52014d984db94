/* `retool model merge`: a base folder plus a PEFT LoRA adapter into a plain Hugging Face folder, tensor by tensor
 * (W + (alpha/r) B A computed in f32, stored in W's dtype), written into a temporary folder renamed into place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "kernels/matmul.h"
#include "model/config.h"
#include "model/modeldir.h"
#include "model/peft.h"
#include "model/safetensors.h"

/* The merged values of base tensor w (its adapter A [r, in], B [out, r] checked), in w's dtype, into *out. */
static rt_status merge_one(const st_tensor *w, const st_tensor *A, const st_tensor *B, const model_lora_cfg *c,
                           void **out, rt_error *err) {
    int64_t rows = w->shape[0], cols = w->shape[1], r = c->rank;
    const int64_t ash[2] = {r, cols}, bsh[2] = {rows, r};
    const st_tensor *ab[2] = {A, B};
    const int64_t *want[2] = {ash, bsh};
    for (int k = 0; k < 2; k++)
        if (ab[k]->ndim != 2 || ab[k]->shape[0] != want[k][0] || ab[k]->shape[1] != want[k][1])
            return rt_err_set(err, RT_EFORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld] for %s",
                              ab[k]->file, ab[k]->name, (long long)ab[k]->shape[0],
                              (long long)(ab[k]->ndim > 1 ? ab[k]->shape[1] : 0), (long long)want[k][0],
                              (long long)want[k][1], w->name);
    size_t n = (size_t)(rows * cols);
    float *wf = malloc(n * sizeof(float)), *af = malloc((size_t)(r * cols) * sizeof(float));
    float *bf = malloc((size_t)(rows * r) * sizeof(float));
    rt_status st = wf && af && bf ? RT_OK : rt_err_set(err, RT_ENOMEM, "merge: no memory for %s", w->name);
    if (!st) st = st_to_f32(w, wf, err);
    if (!st) st = st_to_f32(A, af, err);
    if (!st) st = st_to_f32(B, bf, err);
    if (!st) {
        float s = (float)(c->alpha / c->rank);
        for (int64_t i = 0; i < rows * r; i++)
            bf[i] *= s;
        kern_gemm g = {KERN_F32, 0, 0, rows, cols, r, bf, r, af, cols, wf, cols, 1};
        st = kern_gemm_run(&g, err);
    }
    if (!st) {
        size_t es = st_dtype_size(w->dtype);
        void *o = malloc(n * es + 1);
        if (!o)
            st = rt_err_set(err, RT_ENOMEM, "merge: no memory for %s", w->name);
        else if (w->dtype == ST_F32)
            memcpy(o, wf, n * 4);
        else if (w->dtype == ST_BF16)
            st_f32_to_bf16_n(wf, o, n);
        else if (w->dtype == ST_F16)
            for (size_t i = 0; i < n; i++)
                ((uint16_t *)o)[i] = st_f32_to_f16(wf[i]);
        else
            st = rt_err_set(err, RT_EUNSUPPORTED, "merge: %s is %s; merging supports F32, BF16, F16", w->name,
                            st_dtype_name(w->dtype));
        if (st)
            free(o);
        else
            *out = o;
    }
    free(wf);
    free(af);
    free(bf);
    return st;
}

/* Writes the merged tensors of base with adapter ad into dir. */
static rt_status write_merged(const st_set *base, const st_set *ad, const model_lora_cfg *c, const char *dir,
                              rt_error *err) {
    st_tensor *ts = calloc(base->ntensors + 1, sizeof *ts);
    void **owned = calloc(base->ntensors + 1, sizeof *owned);
    rt_status st = ts && owned ? RT_OK : rt_err_set(err, RT_ENOMEM, "merge: no memory");
    size_t used = 0;
    char name[512];
    for (size_t i = 0; i < base->ntensors && !st; i++) {
        const st_tensor *w = &base->tensors[i];
        ts[i] = *w;
        size_t len = strlen(w->name);
        if (len > 7 && !strcmp(w->name + len - 7, ".weight") && w->ndim == 2) {
            snprintf(name, sizeof name, "base_model.model.%.*s.lora_A.weight", (int)(len - 7), w->name);
            const st_tensor *A = st_find(ad, name);
            snprintf(name, sizeof name, "base_model.model.%.*s.lora_B.weight", (int)(len - 7), w->name);
            const st_tensor *B = st_find(ad, name);
            if (!A != !B)
                st = rt_err_set(err, RT_EFORMAT, "%s: '%s' has only one of lora_A / lora_B", ad->origin, w->name);
            if (!st && A) {
                st = merge_one(w, A, B, c, &owned[i], err);
                if (!st) ts[i].data = owned[i], used += 2;
            }
        }
    }
    if (!st && used != ad->ntensors) { /* an adapter tensor that matches no base weight */
        for (size_t i = 0; i < ad->ntensors && !st; i++) {
            const char *n = ad->tensors[i].name, *tail = strstr(n, ".lora_");
            if (strncmp(n, "base_model.model.", 17) || !tail) {
                st = rt_err_set(err, RT_EFORMAT, "%s: tensor '%s' is not a LoRA A or B weight", ad->origin, n);
                break;
            }
            snprintf(name, sizeof name, "%.*s.weight", (int)(tail - n - 17), n + 17);
            if (!st_find(base, name))
                st = rt_err_set(err, RT_EFORMAT, "%s: tensor '%s' adapts '%s', which the base does not have",
                                ad->origin, n, name);
        }
        if (!st) st = rt_err_set(err, RT_EFORMAT, "%s: adapter tensors left unmerged", ad->origin);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char *meta[] = {"format", "pt", NULL};
    if (!st) st = st_write_file(path, ts, base->ntensors, meta, err);
    for (size_t i = 0; owned && i < base->ntensors; i++)
        free(owned[i]);
    free(owned);
    free(ts);
    return st;
}

/* Copies file src into folder dir as name (atomically). */
static rt_status copy_file(const char *src, const char *dir, const char *name, rt_error *err) {
    char *data = NULL, path[4200];
    size_t len = 0;
    rt_status st = rt_file_read_all(src, &data, &len, err);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!st) st = rt_file_write_atomic(path, data, len, err);
    free(data);
    return st;
}

rt_status model_peft_merge(const char *base_dir, const char *adapter_dir, const char *out_dir, rt_error *err) {
    if (rt_path_exists(out_dir)) return rt_err_set(err, RT_EINVAL, "%s exists; merge writes a new folder", out_dir);
    model_lora_cfg c;
    model_config cfg;
    char path[4200], tmp[4096];
    rt_status st = model_peft_read_config(adapter_dir, &c, NULL, 0, err);
    snprintf(path, sizeof path, "%s/config.json", base_dir);
    if (!st) st = model_config_load(path, &cfg, err);
    if (st) return st;
    st_set base, ad;
    memset(&base, 0, sizeof base);
    memset(&ad, 0, sizeof ad);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", adapter_dir);
    st = st_open_dir(base_dir, &base, err);
    if (!st) st = st_open_file(path, &ad, err);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out_dir, (long)getpid());
    if (!st) st = rt_mkdir_p(tmp, err);
    if (!st) st = write_merged(&base, &ad, &c, tmp, err);
    snprintf(path, sizeof path, "%s/config.json", tmp);
    if (!st) st = model_config_save(path, &cfg, err);
    snprintf(path, sizeof path, "%s/tokenizer.json", base_dir);
    if (!st && rt_path_exists(path)) st = model_dir_copy_tokenizer(base_dir, tmp, &cfg, err);
    snprintf(path, sizeof path, "%s/generation_config.json", base_dir); /* the base's sampling defaults, as they are */
    if (!st && rt_path_exists(path)) st = copy_file(path, tmp, "generation_config.json", err);
    st_close(&base);
    st_close(&ad);
    if (!st && rename(tmp, out_dir) != 0) st = rt_err_set(err, RT_EIO, "renaming %s to %s failed", tmp, out_dir);
    if (st) {
        snprintf(path, sizeof path, "%s/model.safetensors", tmp); /* leave nothing half-written behind */
        unlink(path);
        const char *rest[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"};
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", tmp, rest[i]);
            unlink(path);
        }
        rmdir(tmp);
        return rt_err_prefix(err, "merging %s into %s", adapter_dir, base_dir);
    }
    return RT_OK;
}
