/* Sampling the next token from logits: greedy, temperature, top-k, top-p (nucleus, found by selection rather than by
 * sorting the vocabulary), with one random stream per sequence; and stopping on token ids. */
#ifndef RETOOL_MODEL_SAMPLE_H
#define RETOOL_MODEL_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

typedef struct model_sampler {
    double temperature; /* <= 0: greedy (argmax) */
    int64_t top_k;      /* <= 0 or >= V: off */
    double top_p;       /* >= 1: off */
} model_sampler;

/* Scratch for model_sample: V floats and V indices. */
typedef struct model_sample_buf {
    int64_t V;
    float *prob;
    int32_t *idx;
    double mx, lsum; /* of the last softmax: logp(i) = logits[i] / T - mx - lsum */
} model_sample_buf;

/* Allocates scratch for a vocabulary of V; returns 0 when out of memory. */
int model_sample_buf_init(model_sample_buf *b, int64_t V);

/* Frees the scratch. */
void model_sample_buf_free(model_sample_buf *b);

/* Draws a token from logits[V] (not modified) with s and rng. *logp (may be NULL) receives the token's log-probability
 * under the temperature-scaled full distribution (before top-k / top-p), the behaviour log-prob PPO needs; greedy
 * reports it at temperature 1. Ties in greedy go to the lowest id. */
int32_t model_sample(const model_sampler *s, const float *logits, model_sample_buf *b, rt_rng *rng, float *logp);

/* The candidate set sampling draws from (after top-k and top-p), for tests: its size, ids in b->idx[0..size). */
int64_t model_sample_support(const model_sampler *s, const float *logits, model_sample_buf *b);

/* 1 when tok is one of stop[0..n). */
int model_is_stop(const int32_t *stop, size_t n, int32_t tok);

#endif
