/* A frozen base model held as bf16 only: its matrices point into the memory-mapped safetensors file where the file's
 * layout allows (BF16, aligned, and fused groups q/k/v and gate/up stored back to back), else into one bf16
 * allocation; norms and biases as small f32 copies. No f32 master weights, no gradients. Several models (PPO's policy
 * and critic) can share one base. */
#ifndef RETOOL_MODEL_FROZEN_H
#define RETOOL_MODEL_FROZEN_H

#include "model/model.h"
#include "model/safetensors.h"

struct model_base {
    model_config cfg;
    int refs;
    char *dir;           /* the folder it was read from (absolute when resolvable) */
    st_set set;          /* the open files while some matrix points into them */
    int f32;             /* matrices held as f32 (for f32 products: tests, small models) instead of bf16 */
    void *own;           /* bf16 (or f32) allocation for the matrices that could not be mapped */
    float *small;        /* f32 norms and biases */
    model_views p;       /* f32 views of norms and biases (and of the matrices when f32) */
    model_views16 w;     /* bf16 views of every matrix (unless f32) */
    size_t mapped_bytes; /* matrix bytes read in place from the mapped file */
    size_t copied_bytes; /* matrix bytes in own */
};

/* Loads the base of model folder dir (config.json + weights) into *out (refs 1), its matrices as bf16 (or f32 when f32
 * is set: never mapped, for f32 products). Errors name the folder and tensor. */
rt_status model_base_load(model_base **out, const char *dir, int f32, rt_error *err);

/* Drops one reference; frees the base (unmapping its files) at the last. */
void model_base_release(model_base *b);

#endif
