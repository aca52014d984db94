/* LoRA settings in a run's config.json ("lora": {"rank", "alpha", "targets"}), shared by sft and rl. */
#ifndef RETOOL_TRAIN_LORA_CONFIG_H
#define RETOOL_TRAIN_LORA_CONFIG_H

#include <cjson/cJSON.h>

#include "base/error.h"
#include "model/model.h"

/* Adds "lora": {...} to o. */
void train_lora_config_json(cJSON *o, const model_lora_cfg *c);

/* Reads "lora" from o when present (else rank 0); errors name the field. */
rt_status train_lora_config_from_json(const cJSON *o, model_lora_cfg *c, rt_error *err);

#endif
