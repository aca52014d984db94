/* Training checkpoints: the model (F32, so a resume is bit-exact), AdamW moments, RNG and data position, written into
 * a run directory's checkpoints/step-N atomically (a crash at any moment leaves the previous checkpoint whole). */
#ifndef RETOOL_TRAIN_CHECKPOINT_H
#define RETOOL_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "base/error.h"
#include "base/rng.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/rundir.h"

#define TRAIN_CHECKPOINT_VERSION 1

/* Where a run stands: enough to continue exactly. */
typedef struct train_state {
    int64_t step;        /* optimizer steps done */
    int64_t epoch;       /* passes over the data done */
    int64_t data_pos;    /* position in the current pass */
    rt_rng rng;          /* the run's random stream */
} train_state;

/* Writes checkpoints/step-{state->step}: policy/ (model folder + optimizer.safetensors), critic/ when critic is not
 * NULL, state.json; copies the tokenizer from tokenizer_dir when it holds one and then records the prompt template
 * tmpl in policy/ (0: the copied tokenizer_config.json as it is); keeps the newest keep_last (0 = all). */
rt_status train_checkpoint_save(const train_rundir *rd, const model *policy, const model *critic,
                                const train_state *state, const char *tokenizer_dir, tok_template tmpl,
                                size_t keep_last, rt_error *err);

/* Reads a checkpoint folder: the policy (and critic when critic is not NULL) with their AdamW moments, and the state.
 * The models are initialised here with opts (critic_opts for the critic). */
rt_status train_checkpoint_load(const char *dir, model *policy, const model_opts *opts, model *critic,
                                const model_opts *critic_opts, train_state *state, rt_error *err);

#endif
