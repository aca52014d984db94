/* LoRA adapters in Hugging Face PEFT's layout: adapter_config.json (peft_type LORA, task_type CAUSAL_LM, r,
 * lora_alpha, target_modules, lora_dropout, bias "none", fan_in_fan_out false, base_model_name_or_path) and
 * adapter_model.safetensors (base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight [r, in], ...lora_B.weight
 * [out, r]). A value head, when the model has one, goes in value_head.safetensors beside them. */
#ifndef RETOOL_MODEL_PEFT_H
#define RETOOL_MODEL_PEFT_H

#include <stddef.h>

#include "model/model.h"

/* Reads dir/adapter_config.json into cfg; base (cap bytes, may be NULL) receives base_model_name_or_path ("" when
 * absent). Errors name the file and field (unsupported settings such as bias other than "none", fan_in_fan_out,
 * use_dora or target modules retool has no product for are refused). */
rt_status model_peft_read_config(const char *dir, model_lora_cfg *cfg, char *base, size_t cap, rt_error *err);

/* Writes m's adapters (and value head) into dir in PEFT's layout, each file atomically; base_name is written as
 * base_model_name_or_path. */
rt_status model_peft_save(const model *m, const char *dir, const char *base_name, rt_error *err);

/* Reads the adapter tensors of dir into m (a LoRA model built with the same config): every tensor of the file must be
 * one of m's, with its shape; errors name the file and tensor. Reads value_head.safetensors when m has a value head
 * and the file exists. */
rt_status model_peft_load(model *m, const char *dir, rt_error *err);

/* Writes out_dir (must not exist; written as a temporary folder renamed into place): base_dir's weights with the
 * adapter of adapter_dir merged in (W + (alpha/r) B A in f32, stored in W's dtype), its config.json, tokenizer and generation_config.json (copied as it is).
 * Errors name the adapter tensor that is misshaped or matches no base weight. */
rt_status model_peft_merge(const char *base_dir, const char *adapter_dir, const char *out_dir, rt_error *err);

/* Whether dir holds an adapter (adapter_config.json). */
int model_peft_is_adapter(const char *dir);

#endif
