/* LoRA settings in a run's config.json ("lora": {"rank", "alpha", "dropout", "targets"}), shared by sft and rl, and
 * the keys of LoRA dropout's masks. */
#ifndef RETOOL_TRAIN_LORA_CONFIG_H
#define RETOOL_TRAIN_LORA_CONFIG_H

#include <cjson/cJSON.h>

#include "base/error.h"
#include "base/rng.h"
#include "model/model.h"

/* Adds "lora": {...} to o. */
void train_lora_config_json(cJSON *o, const model_lora_cfg *c);

/* Reads "lora" from o when present (else rank 0); errors name the field. */
rt_status train_lora_config_from_json(const cJSON *o, model_lora_cfg *c, rt_error *err);

/* A non-zero LoRA dropout key (model.lora_dropout_key) for one training pass, a function of the run's generator (its
 * seed), tag (what the pass is: kind and step) and index (micro-batch, rank): a resumed run draws the same masks. */
uint64_t train_lora_dropout_key(const rt_rng *rng, uint64_t tag, uint64_t index);

#endif
