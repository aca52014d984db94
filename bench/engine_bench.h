/* Helpers shared by the engine benchmarks (header-only: each bench/<name>.c builds to its own binary). */
#ifndef RETOOL_BENCH_ENGINE_BENCH_H
#define RETOOL_BENCH_ENGINE_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/timer.h"
#include "model/model.h"

/* A Llama-shaped config (untied, no bias, MHA) of hidden C, L layers, vocabulary V, MLP width I, head size 64 or C/4. */
static inline model_config bench_config(int64_t C, int64_t L, int64_t V, int64_t I, int64_t maxpos) {
    model_config c;
    memset(&c, 0, sizeof c);
    c.arch = MODEL_ARCH_LLAMA;
    c.vocab_size = V;
    c.hidden_size = C;
    c.intermediate_size = I;
    c.num_layers = L;
    c.head_dim = C >= 256 ? 64 : 32;
    c.num_heads = C / c.head_dim;
    c.num_kv_heads = c.num_heads;
    c.max_position_embeddings = maxpos;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000;
    c.bos_token_id = c.eos_token_id = -1;
    snprintf(c.torch_dtype, sizeof c.torch_dtype, "float32");
    return c;
}

/* Reads "--name value" integer flags; returns def when absent. */
static inline long long bench_flag(int argc, char **argv, const char *name, long long def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return atoll(argv[i + 1]);
    return def;
}

static inline const char *bench_flag_s(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}

/* Exits with the message when st is not RT_OK (benchmarks only; library code never exits). */
static inline void bench_ok(rt_status st, const rt_error *err, const char *what) {
    if (st != RT_OK) {
        fprintf(stderr, "%s: %s\n", what, err->msg);
        exit(1);
    }
}

#endif
