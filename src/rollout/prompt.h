/* Turning a problem into prompt ids (docs/ARCHITECTURE.md): with a chat template (ChatML or Llama 3), one user message
 * holding the instructions and the problem (the tool-integrated or the text-only instructions), ending with the
 * generation prompt; or plain, the problem text and a newline (small models trained from scratch without a chat
 * template). Which one a model folder needs is what the folder records (tok_template_read, docs/TOKENIZER.md);
 * rollout_template_resolve turns a user's choice (or none) into that. */
#ifndef RETOOL_ROLLOUT_PROMPT_H
#define RETOOL_ROLLOUT_PROMPT_H

#include "base/error.h"
#include "tokenizer/tokenizer.h"

typedef enum rollout_template {
    ROLLOUT_TEMPLATE_AUTO = 0, /* the model folder's recorded template (the default of every config) */
    ROLLOUT_TEMPLATE_CHAT,     /* the folder's chat family: its recorded one when ChatML or Llama 3, else the one whose
                                  markers the tokenizer has (<|im_start|> first) */
    ROLLOUT_TEMPLATE_PLAIN,    /* the problem text and "\n" */
    ROLLOUT_TEMPLATE_CHATML,   /* Qwen's <|im_start|>role ... <|im_end|> */
    ROLLOUT_TEMPLATE_LLAMA3,   /* Llama 3 Instruct */
} rollout_template;

/* Parses "auto", "chat", "plain", "chatml" or "llama3". */
rt_status rollout_template_parse(const char *name, rollout_template *out, rt_error *err);

/* The name rollout_template_parse reads back. */
const char *rollout_template_name(rollout_template t);

/* Resolves requested for the model (or tokenizer) folder dir into *out: AUTO becomes the folder's recorded template
 * (tok_template_read; a folder that records none, or one retool does not know, is an error naming its
 * tokenizer_config.json); CHAT becomes the folder's family when it records ChatML or Llama 3 and stays CHAT
 * otherwise; the others are kept. */
rt_status rollout_template_resolve(const char *dir, rollout_template requested, rollout_template *out, rt_error *err);

/* The tokenizer-level template of a resolved t (CHAT: by the markers tok has). AUTO is an error. */
rt_status rollout_template_family(const tok_tokenizer *tok, rollout_template t, tok_template *out, rt_error *err);

/* The instructions for tool-integrated (tools non-zero) or text-only reasoning. */
const char *rollout_instructions(int tools);

/* Appends the prompt ids of problem to out (t resolved: not AUTO). The problem text never turns into special
 * tokens. */
rt_status rollout_prompt_ids(tok_tokenizer *tok, rollout_template t, int tools, const char *problem, tok_ids *out,
                             rt_error *err);

#endif
