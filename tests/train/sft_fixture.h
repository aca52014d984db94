/* A tiny random Llama model folder and small trajectory files for training tests. */
#ifndef RETOOL_TESTS_TRAIN_SFT_FIXTURE_H
#define RETOOL_TESTS_TRAIN_SFT_FIXTURE_H

#include <stdio.h>

#include "model/config.h"
#include "model/modeldir.h"
#include "rollout/trajectory.h"

/* Writes a tiny model (vocab 32, hidden 32, 2 layers) into dir/model; returns 0 on success. */
static inline int fixture_model(const char *dir, char *model_dir, size_t n) {
    model_config c = {0};
    c.arch = MODEL_ARCH_LLAMA;
    c.vocab_size = 32;
    c.hidden_size = 32;
    c.intermediate_size = 64;
    c.num_layers = 2;
    c.num_heads = 2;
    c.num_kv_heads = 2;
    c.head_dim = 16;
    c.max_position_embeddings = 128;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000;
    c.bos_token_id = -1;
    c.eos_token_id = 2;
    snprintf(c.torch_dtype, sizeof c.torch_dtype, "float32");
    snprintf(model_dir, n, "%s/model", dir);
    rt_error e;
    return model_dir_init(&c, model_dir, 7, ST_F32, &e) == RT_OK ? 0 : -1;
}

/* Writes a copy task: prompt [1, a, b], response [a, b, 5 (masked "interpreter"), a, b, last, 2], mask 0 on 5;
 * last is the final token and is masked when mask_last is 0 (its value: last_value). */
static inline int fixture_data(const char *path, int count, int mask_last, int last_value) {
    FILE *fp = fopen(path, "w");
    if (!fp) return -1;
    for (int i = 0; i < count; i++) {
        int a = 6 + i % 13, b = 6 + (i * 7) % 17;
        rollout_trajectory t;
        rollout_trajectory_init(&t);
        int32_t prompt[3] = {1, a, b};
        t.prompt_ids = prompt;
        t.n_prompt = 3;
        rt_error e;
        int32_t resp[] = {a, b, 5, a, b, 2, last_value};
        uint8_t mask[] = {1, 1, 0, 1, 1, 1, (uint8_t)mask_last};
        for (int k = 0; k < 7; k++) rollout_trajectory_push(&t, resp[k], -1.0f, mask[k], &e);
        rollout_trajectory_write(fp, &t, &e);
        t.prompt_ids = NULL;
        rollout_trajectory_free(&t);
    }
    fclose(fp);
    return 0;
}

#endif
