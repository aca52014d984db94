/* Loading a frozen bf16 base: fused groups mapped in place when the file stores them as BF16 back to back, else
 * converted into one bf16 allocation. */
#include "model/frozen.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"

/* One matrix as the products read it: the tensors it is made of, in order (q, k, v or gate, up or one). */
typedef struct group {
    const char *names[3];
    int n;
    int64_t rows[3], cols;
    const uint16_t **dst;
    float **dst32;
    const st_tensor *t[3];
    int mapped;
} group;

/* Converts t (any float dtype) to bf16 into out, chunk by chunk (no f32 copy of the whole tensor). */
static rt_status to_bf16(const st_tensor *t, uint16_t *out, rt_error *err) {
    size_t n = (size_t)st_numel(t);
    if (t->dtype == ST_BF16) {
        memcpy(out, t->data, n * 2);
        return RT_OK;
    }
    enum { CHUNK = 1 << 14 };
    float buf[CHUNK];
    size_t es = st_dtype_size(t->dtype);
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        st_tensor part = *t;
        part.ndim = 1;
        part.shape[0] = (int64_t)k;
        part.data = (const char *)t->data + i * es;
        part.nbytes = k * es;
        rt_status st = st_to_f32(&part, buf, err);
        if (st) return st;
        kern_to_bf16(out + i, buf, (int64_t)k);
    }
    return RT_OK;
}

/* Whether g's tensors can be read in place: BF16, aligned, stored back to back in order. */
static int mappable(const group *g) {
    for (int i = 0; i < g->n; i++) {
        if (g->t[i]->dtype != ST_BF16 || !st_aligned(g->t[i])) return 0;
        if (i && (g->t[i - 1]->file != g->t[i]->file ||
                  (const char *)g->t[i - 1]->data + g->t[i - 1]->nbytes != (const char *)g->t[i]->data))
            return 0;
    }
    return 1;
}

static size_t group_numel(const group *g) {
    size_t n = 0;
    for (int i = 0; i < g->n; i++)
        n += (size_t)(g->rows[i] * g->cols);
    return n;
}

/* The matrix groups of the model (names filled into namebuf, 3 x 96 bytes per group). */
static size_t list_groups(model_base *b, group *gs, char (*names)[96]) {
    const model_config *c = &b->cfg;
    int64_t C = c->hidden_size, HS = c->head_dim, I = c->intermediate_size;
    int64_t Q = c->num_heads * HS, KV = c->num_kv_heads * HS;
    size_t n = 0, k = 0;
#define GROUP(dst_, dst32_, cols_, ...)                                                                                \
    do {                                                                                                               \
        group *g = &gs[n++];                                                                                           \
        memset(g, 0, sizeof *g);                                                                                       \
        g->dst = (dst_);                                                                                               \
        g->dst32 = (dst32_);                                                                                           \
        g->cols = (cols_);                                                                                             \
        __VA_ARGS__                                                                                                    \
    } while (0)
#define PART(rows_, fmt, ...)                                                                                          \
    snprintf(names[k], 96, fmt, __VA_ARGS__);                                                                          \
    g->names[g->n] = names[k++];                                                                                       \
    g->rows[g->n++] = (rows_);
    GROUP(&b->w.embed, &b->p.embed, C, PART(c->vocab_size, "%s", "model.embed_tokens.weight"));
    for (int64_t l = 0; l < c->num_layers; l++) {
        model_layer16 *L = &b->w.layers[l];
        model_layer *L32 = &b->p.layers[l];
        long long li = (long long)l;
        GROUP(&L->qkv_w, &L32->qkv_w, C,
              PART(Q, "model.layers.%lld.self_attn.q_proj.weight", li)
                  PART(KV, "model.layers.%lld.self_attn.k_proj.weight", li)
                      PART(KV, "model.layers.%lld.self_attn.v_proj.weight", li));
        GROUP(&L->o_w, &L32->o_w, Q, PART(C, "model.layers.%lld.self_attn.o_proj.weight", li));
        GROUP(&L->gu_w, &L32->gu_w, C,
              PART(I, "model.layers.%lld.mlp.gate_proj.weight", li)
                  PART(I, "model.layers.%lld.mlp.up_proj.weight", li));
        GROUP(&L->down_w, &L32->down_w, I, PART(C, "model.layers.%lld.mlp.down_proj.weight", li));
    }
    if (!c->tie_word_embeddings) GROUP(&b->w.lm_head, &b->p.lm_head, C, PART(c->vocab_size, "%s", "lm_head.weight"));
#undef PART
#undef GROUP
    return n;
}

/* Reads the norms and biases into b->small and points b->p at them. */
static rt_status load_small(model_base *b, rt_error *err) {
    const model_config *c = &b->cfg;
    int64_t C = c->hidden_size, HS = c->head_dim;
    int64_t qkv = (c->num_heads + 2 * c->num_kv_heads) * HS;
    size_t per = (size_t)(2 * C + (c->attention_bias ? qkv : 0));
    b->small = malloc(((size_t)c->num_layers * per + (size_t)C) * sizeof(float) + 64);
    if (!b->small) return rt_err_set(err, RT_ENOMEM, "no memory for the norms");
    float *s = b->small;
    char name[96];
    const st_tensor *t;
    rt_status st = RT_OK;
    int64_t shape[1];
#define READ(dst, n, ...)                                                                                              \
    do {                                                                                                               \
        snprintf(name, sizeof name, __VA_ARGS__);                                                                      \
        shape[0] = (n);                                                                                                \
        if ((st = st_expect(&b->set, name, 1, shape, &t, err)) != RT_OK) return st;                                    \
        if ((st = st_to_f32(t, (dst), err)) != RT_OK) return st;                                                       \
    } while (0)
    for (int64_t l = 0; l < c->num_layers; l++) {
        model_layer *L = &b->p.layers[l];
        long long li = (long long)l;
        L->ln1 = s, s += C;
        READ(L->ln1, C, "model.layers.%lld.input_layernorm.weight", li);
        L->ln2 = s, s += C;
        READ(L->ln2, C, "model.layers.%lld.post_attention_layernorm.weight", li);
        if (c->attention_bias) {
            int64_t Q = c->num_heads * HS, KV = c->num_kv_heads * HS;
            L->qkv_b = s, s += qkv;
            READ(L->qkv_b, Q, "model.layers.%lld.self_attn.q_proj.bias", li);
            READ(L->qkv_b + Q, KV, "model.layers.%lld.self_attn.k_proj.bias", li);
            READ(L->qkv_b + Q + KV, KV, "model.layers.%lld.self_attn.v_proj.bias", li);
        }
    }
    b->p.final_norm = s;
    READ(b->p.final_norm, C, "%s", "model.norm.weight");
#undef READ
    return st;
}

static rt_status load_matrices(model_base *b, rt_error *err) {
    size_t ng = 2 + 4 * (size_t)b->cfg.num_layers;
    group *gs = calloc(ng, sizeof *gs);
    char(*names)[96] = calloc(3 * ng, 96);
    rt_status st = RT_OK;
    if (!gs || !names) st = rt_err_set(err, RT_ENOMEM, "no memory for the tensor list");
    ng = st ? 0 : list_groups(b, gs, names);
    size_t own = 0;
    for (size_t i = 0; i < ng && !st; i++) {
        group *g = &gs[i];
        for (int j = 0; j < g->n && !st; j++) {
            int64_t shape[2] = {g->rows[j], g->cols};
            st = st_expect(&b->set, g->names[j], 2, shape, &g->t[j], err);
        }
        if (st) break;
        g->mapped = !b->f32 && mappable(g);
        if (!g->mapped) own += group_numel(g);
    }
    size_t es = b->f32 ? 4 : 2;
    if (!st && own) {
        void *p = NULL;
        if (posix_memalign(&p, 64, own * es + 64) != 0)
            st = rt_err_set(err, RT_ENOMEM, "no memory for %.1f MiB of weights", (double)(own * es) / 1048576.0);
        b->own = p;
    }
    size_t at = 0;
    for (size_t i = 0; i < ng && !st; i++) {
        group *g = &gs[i];
        size_t bytes = group_numel(g) * 2;
        if (g->mapped) {
            *g->dst = g->t[0]->data;
            b->mapped_bytes += bytes;
            continue;
        }
        if (b->f32)
            *g->dst32 = (float *)b->own + at;
        else
            *g->dst = (uint16_t *)b->own + at;
        for (int j = 0; j < g->n && !st; j++) {
            if (b->f32)
                st = st_to_f32(g->t[j], (float *)b->own + at, err);
            else
                st = to_bf16(g->t[j], (uint16_t *)b->own + at, err);
            at += (size_t)(g->rows[j] * g->cols);
        }
        b->copied_bytes += bytes;
    }
    if (b->cfg.tie_word_embeddings) b->w.lm_head = b->w.embed, b->p.lm_head = b->p.embed;
    free(gs);
    free(names);
    return st;
}

rt_status model_base_load(model_base **out, const char *dir, int f32, rt_error *err) {
    *out = NULL;
    model_base *b = calloc(1, sizeof *b);
    if (!b) return rt_err_set(err, RT_ENOMEM, "loading %s: no memory", dir);
    b->refs = 1;
    b->f32 = f32 != 0;
    char path[4096];
    b->dir = realpath(dir, NULL);
    if (!b->dir) b->dir = strdup(dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    rt_status st = model_config_load(path, &b->cfg, err);
    if (!st) st = model_config_validate(&b->cfg, path, err);
    if (!st) {
        b->p.layers = calloc((size_t)b->cfg.num_layers, sizeof *b->p.layers);
        b->w.layers = calloc((size_t)b->cfg.num_layers, sizeof *b->w.layers);
        if (!b->p.layers || !b->w.layers) st = rt_err_set(err, RT_ENOMEM, "no memory");
    }
    if (!st) st = st_open_dir(dir, &b->set, err);
    if (!st) st = load_small(b, err);
    if (!st) st = load_matrices(b, err);
    if (!st && !b->mapped_bytes) st_close(&b->set); /* everything copied: the files are not needed */
    if (st) {
        model_base_release(b);
        return rt_err_prefix(err, "loading %s", dir);
    }
    *out = b;
    return RT_OK;
}

void model_base_release(model_base *b) {
    if (!b || --b->refs > 0) return;
    st_close(&b->set);
    free(b->dir);
    free(b->own);
    free(b->small);
    free(b->p.layers);
    free(b->w.layers);
    free(b);
}
