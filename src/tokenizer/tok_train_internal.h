/* Shared between the BPE trainer and its tokenizer.json writer (tokenizer layer only). */
#ifndef RETOOL_TOKENIZER_TOK_TRAIN_INTERNAL_H
#define RETOOL_TOKENIZER_TOK_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* The split regex of trained tokenizers: Qwen2's (single digits, so numbers tokenise digit by digit). */
#define TOK_TRAIN_PATTERN                                                                                              \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"  \
    "\\s+(?!\\S)|\\s+"

/* Number of special tokens at the head of the added-token list (the rest are the rollout tags). */
#define TOK_TRAIN_NSPECIAL 3

/* The added tokens of a trained tokenizer, NULL-terminated: <|endoftext|>, <|im_start|>, <|im_end|> (special),
 * then the rollout tags when tags is non-zero. */
const char *const *tok_train_added_tokens(int tags);

/* Writes OUT_DIR/tokenizer.json and tokenizer_config.json for 256 byte tokens, the merges (token 256 + k is
 * merges[k][0] + merges[k][1]) and the added tokens after them. */
rt_status tok_train_write(const char *out_dir, const int32_t (*merges)[2], size_t nmerges, const char *const *added,
                          int tags, rt_error *err);

#endif
