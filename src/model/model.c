/* The model's parameter buffer: the tensor table (Hugging Face names, shapes, offsets), allocation, views, random
 * initialisation and the bf16 copy. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "model/lora.h"
#include "model/model_internal.h"

#define ALIGN_FLOATS 16

size_t model_add_tensor(model *m, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1, int decay) {
    model_tensor *t = &m->tensors[m->ntensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim > 1 ? d1 : 1;
    t->numel = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
    t->offset = *off;
    t->decay = decay;
    *off += (t->numel + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    return t->offset;
}

/* Builds the table; offsets are filled in, views are set by set_views. Adjacent tensors that one product reads as a
 * whole (q/k/v, gate/up) are laid out without padding between them. */
static rt_status build_table(model *m, rt_error *err) {
    const model_config *c = &m->cfg;
    int64_t C = c->hidden_size, HS = c->head_dim, NH = c->num_heads, KVH = c->num_kv_heads, I = c->intermediate_size;
    size_t cap = 8 + (size_t)c->num_layers * 12;
    m->tensors = calloc(cap, sizeof *m->tensors);
    m->p.layers = calloc((size_t)c->num_layers, sizeof(model_layer));
    m->g.layers = calloc((size_t)c->num_layers, sizeof(model_layer));
    if (!m->tensors || !m->p.layers || !m->g.layers) return rt_err_set(err, RT_ENOMEM, "model: no memory for the tensor table");
    size_t off = 0;
    char name[96];
    model_add_tensor(m, &off, "model.embed_tokens.weight", 2, c->vocab_size, C, 1);
    for (int64_t l = 0; l < c->num_layers; l++) {
        snprintf(name, sizeof name, "model.layers.%lld.input_layernorm.weight", (long long)l);
        model_add_tensor(m, &off, name, 1, C, 0, 0);
        /* q, k, v weights back to back (sizes are multiples of C; padding only after v). */
        const char *qkv[3] = {"q", "k", "v"};
        int64_t rows[3] = {NH * HS, KVH * HS, KVH * HS};
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "model.layers.%lld.self_attn.%s_proj.weight", (long long)l, qkv[i]);
            size_t o = off;
            model_add_tensor(m, &off, name, 2, rows[i], C, 1);
            if (i < 2) off = o + (size_t)(rows[i] * C);
        }
        off = (m->tensors[m->ntensors - 1].offset + m->tensors[m->ntensors - 1].numel + ALIGN_FLOATS - 1) /
              ALIGN_FLOATS * ALIGN_FLOATS;
        if (c->attention_bias) {
            for (int i = 0; i < 3; i++) {
                snprintf(name, sizeof name, "model.layers.%lld.self_attn.%s_proj.bias", (long long)l, qkv[i]);
                size_t o = off;
                model_add_tensor(m, &off, name, 1, rows[i], 0, 0);
                if (i < 2) off = o + (size_t)rows[i];
            }
            off = (m->tensors[m->ntensors - 1].offset + m->tensors[m->ntensors - 1].numel + ALIGN_FLOATS - 1) /
                  ALIGN_FLOATS * ALIGN_FLOATS;
        }
        snprintf(name, sizeof name, "model.layers.%lld.self_attn.o_proj.weight", (long long)l);
        model_add_tensor(m, &off, name, 2, C, NH * HS, 1);
        snprintf(name, sizeof name, "model.layers.%lld.post_attention_layernorm.weight", (long long)l);
        model_add_tensor(m, &off, name, 1, C, 0, 0);
        snprintf(name, sizeof name, "model.layers.%lld.mlp.gate_proj.weight", (long long)l);
        size_t o = off;
        model_add_tensor(m, &off, name, 2, I, C, 1);
        off = o + (size_t)(I * C);
        snprintf(name, sizeof name, "model.layers.%lld.mlp.up_proj.weight", (long long)l);
        model_add_tensor(m, &off, name, 2, I, C, 1);
        snprintf(name, sizeof name, "model.layers.%lld.mlp.down_proj.weight", (long long)l);
        model_add_tensor(m, &off, name, 2, C, I, 1);
    }
    model_add_tensor(m, &off, "model.norm.weight", 1, C, 0, 0);
    if (!c->tie_word_embeddings) model_add_tensor(m, &off, "lm_head.weight", 2, c->vocab_size, C, 1);
    if (m->value_head) {
        model_add_tensor(m, &off, "value_head.weight", 1, C, 0, 0);
        model_add_tensor(m, &off, "value_head.bias", 1, 1, 0, 0);
    }
    m->nparams = off;
    return RT_OK;
}

/* Points the views of base (params or grads) at their tensors. */
static void set_views(const model *m, float *base, model_views *v) {
    if (!base) {
        model_layer *keep = v->layers;
        memset(v, 0, sizeof *v);
        v->layers = keep;
        return;
    }
    size_t i = 0;
    v->embed = base + m->tensors[i++].offset;
    for (int64_t l = 0; l < m->cfg.num_layers; l++) {
        model_layer *L = &v->layers[l];
        L->ln1 = base + m->tensors[i++].offset;
        L->qkv_w = base + m->tensors[i].offset;
        i += 3;
        L->qkv_b = NULL;
        if (m->cfg.attention_bias) {
            L->qkv_b = base + m->tensors[i].offset;
            i += 3;
        }
        L->o_w = base + m->tensors[i++].offset;
        L->ln2 = base + m->tensors[i++].offset;
        L->gu_w = base + m->tensors[i].offset;
        i += 2;
        L->down_w = base + m->tensors[i++].offset;
    }
    v->final_norm = base + m->tensors[i++].offset;
    v->lm_head = m->cfg.tie_word_embeddings ? v->embed : base + m->tensors[i++].offset;
    v->value_w = v->value_b = NULL;
    if (m->value_head) {
        v->value_w = base + m->tensors[i++].offset;
        v->value_b = base + m->tensors[i++].offset;
    }
}

/* Points the bf16 matrix views at params_bf16 (same offsets as the f32 views). */
static rt_status set_views16(model *m, rt_error *err) {
    m->w16.layers = calloc((size_t)m->cfg.num_layers, sizeof *m->w16.layers);
    if (!m->w16.layers) return rt_err_set(err, RT_ENOMEM, "model: no memory for the weight views");
#define B16(f) (m->params_bf16 + (f - m->params))
    m->w16.embed = B16(m->p.embed);
    m->w16.lm_head = B16(m->p.lm_head);
    for (int64_t l = 0; l < m->cfg.num_layers; l++) {
        const model_layer *L = &m->p.layers[l];
        m->w16.layers[l] = (model_layer16){B16(L->qkv_w), B16(L->o_w), B16(L->gu_w), B16(L->down_w)};
    }
#undef B16
    return RT_OK;
}

/* Frozen mode's views of a trainable buffer: only the value head (the adapters are reached through m->lora). */
static void set_frozen_views(const model *m, float *base, model_views *v) {
    v->value_w = v->value_b = NULL;
    if (!base || !m->value_head) return;
    v->value_w = base + m->tensors[m->ntensors - 2].offset;
    v->value_b = base + m->tensors[m->ntensors - 1].offset;
}

static float *alloc_floats(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n * sizeof(float) + 64) != 0) return NULL;
    memset(p, 0, n * sizeof(float));
    return p;
}

/* The fields model_init and model_init_frozen set alike, after checking the shape RoPE needs. */
static rt_status init_shape(model *m, const model_config *cfg, model_precision prec, const model_opts *opts,
                            rt_error *err) {
    if (cfg->head_dim % 2) return rt_err_set(err, RT_EUNSUPPORTED, "model: head_dim %lld is odd (RoPE needs pairs)",
                                             (long long)cfg->head_dim);
    m->cfg = *cfg;
    m->prec = prec;
    m->value_head = opts ? opts->value_head : 0;
    m->qkv_dim = (cfg->num_heads + 2 * cfg->num_kv_heads) * cfg->head_dim;
    return RT_OK;
}

/* RoPE tables for every position the model takes (4096 when the config names none). */
static rt_status init_rope(model *m, rt_error *err) {
    const model_config *cfg = &m->cfg;
    int64_t maxpos = cfg->max_position_embeddings > 0 ? cfg->max_position_embeddings : 4096;
    return kern_rope_init(&m->rope, cfg->head_dim, cfg->rope_theta, maxpos, err);
}

rt_status model_init(model *m, const model_config *cfg, const model_opts *opts, rt_error *err) {
    memset(m, 0, sizeof *m);
    rt_status st = model_config_validate(cfg, "model config", err);
    if (st != RT_OK) return st;
    if ((st = init_shape(m, cfg, opts ? opts->prec : MODEL_PREC_BF16, opts, err)) != RT_OK) return st;
    if ((st = build_table(m, err)) != RT_OK) goto fail;
    m->params = alloc_floats(m->nparams);
    if (!m->params) {
        st = rt_err_set(err, RT_ENOMEM, "model: no memory for %zu parameters (%.1f MiB)", m->nparams,
                        (double)m->nparams * 4 / 1048576.0);
        goto fail;
    }
    set_views(m, m->params, &m->p);
    if (m->prec == MODEL_PREC_BF16) {
        void *p = NULL;
        if (posix_memalign(&p, 64, m->nparams * sizeof(uint16_t) + 64) != 0) {
            st = rt_err_set(err, RT_ENOMEM, "model: no memory for the bf16 weight copy");
            goto fail;
        }
        memset(p, 0, m->nparams * sizeof(uint16_t));
        m->params_bf16 = p;
        if ((st = set_views16(m, err)) != RT_OK) goto fail;
    }
    if ((st = init_rope(m, err)) != RT_OK) goto fail;
    return RT_OK;
fail:
    model_free(m);
    return st;
}

rt_status model_init_frozen(model *m, model_base *base, const model_opts *opts, rt_error *err) {
    memset(m, 0, sizeof *m);
    const model_config *cfg = &base->cfg;
    model_precision prec = opts ? opts->prec : MODEL_PREC_BF16;
    if ((prec == MODEL_PREC_F32) != base->f32)
        return rt_err_set(err, RT_EINVAL, "model: the frozen base is held in %s, the model asks %s products",
                          base->f32 ? "f32" : "bf16", prec == MODEL_PREC_F32 ? "f32" : "bf16");
    rt_status st = init_shape(m, cfg, prec, opts, err);
    if (st != RT_OK) return st;
    m->base = base;
    base->refs++;
    m->w16 = base->w;
    const model_lora_cfg *lc = opts && opts->lora.rank > 0 ? &opts->lora : NULL;
    size_t cap = 2 + (lc ? model_lora_ntensors(m, lc) : 0), off = 0;
    m->tensors = calloc(cap, sizeof *m->tensors);
    m->p.layers = calloc((size_t)cfg->num_layers, sizeof(model_layer));
    m->g.layers = calloc((size_t)cfg->num_layers, sizeof(model_layer));
    if (!m->tensors || !m->p.layers || !m->g.layers) {
        st = rt_err_set(err, RT_ENOMEM, "model: no memory for the tensor table");
        goto fail;
    }
    if (lc && (st = model_lora_build(m, lc, &off, err)) != RT_OK) goto fail;
    if (m->value_head) {
        model_add_tensor(m, &off, "value_head.weight", 1, cfg->hidden_size, 0, 0);
        model_add_tensor(m, &off, "value_head.bias", 1, 1, 0, 0);
    }
    m->nparams = off;
    if (!(m->params = alloc_floats(m->nparams))) {
        st = rt_err_set(err, RT_ENOMEM, "model: no memory for %zu trainable parameters", m->nparams);
        goto fail;
    }
    set_frozen_views(m, m->params, &m->p);
    if ((st = init_rope(m, err)) != RT_OK) goto fail;
    return RT_OK;
fail:
    model_free(m);
    return st;
}

void model_free(model *m) {
    model_acts_free(m);
    model_lora_free(m);
    if (m->base) model_base_release(m->base);
    else free(m->w16.layers);
    kern_rope_free(&m->rope);
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->params_bf16);
    free(m->tensors);
    free(m->p.layers);
    free(m->g.layers);
    memset(m, 0, sizeof *m);
}

rt_status model_train_init(model *m, rt_error *err) {
    if (m->grads) return RT_OK;
    m->grads = alloc_floats(m->nparams);
    m->adam_m = alloc_floats(m->nparams);
    m->adam_v = alloc_floats(m->nparams);
    if (!m->grads || !m->adam_m || !m->adam_v) {
        free(m->grads);
        free(m->adam_m);
        free(m->adam_v);
        m->grads = m->adam_m = m->adam_v = NULL;
        return rt_err_set(err, RT_ENOMEM, "model: no memory for gradients and AdamW state (%.1f MiB)",
                          (double)m->nparams * 12 / 1048576.0);
    }
    if (m->base) set_frozen_views(m, m->grads, &m->g);
    else set_views(m, m->grads, &m->g);
    return RT_OK;
}

void model_zero_grad(model *m) {
    if (m->grads) memset(m->grads, 0, m->nparams * sizeof(float));
}

const model_tensor *model_find_tensor(const model *m, const char *name) {
    for (size_t i = 0; i < m->ntensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

void model_sync_bf16(model *m) {
    if (m->params_bf16) kern_to_bf16(m->params_bf16, m->params, (int64_t)m->nparams);
}

void model_init_random(model *m, uint64_t seed, double std) {
    if (m->base) { /* frozen: only the adapters are this model's (the value head stays zero) */
        model_lora_init_random(m, seed);
        return;
    }
    rt_rng root;
    rt_rng_seed(&root, seed);
    double out_std = std / sqrt(2.0 * (double)m->cfg.num_layers);
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        rt_rng r = rt_rng_split(&root, i);
        if (t->ndim == 2) {
            int is_out = strstr(t->name, "o_proj") || strstr(t->name, "down_proj");
            double s = is_out ? out_std : std;
            for (size_t j = 0; j < t->numel; j++) p[j] = (float)(rt_rng_normal(&r) * s);
        } else if (strstr(t->name, "norm")) {
            for (size_t j = 0; j < t->numel; j++) p[j] = 1.0f;
        } else {
            memset(p, 0, t->numel * sizeof(float));
        }
    }
    model_sync_bf16(m);
}
