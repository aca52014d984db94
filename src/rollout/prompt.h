/* Turning a problem into prompt ids (docs/ARCHITECTURE.md): with the chat template, one user message holding the
 * instructions and the problem (the tool-integrated or the text-only instructions), ending with the generation prompt;
 * or plain, the problem text and a newline (small models trained from scratch without a chat template). */
#ifndef RETOOL_ROLLOUT_PROMPT_H
#define RETOOL_ROLLOUT_PROMPT_H

#include "base/error.h"
#include "tokenizer/tokenizer.h"

typedef enum rollout_template { ROLLOUT_TEMPLATE_CHAT = 0, ROLLOUT_TEMPLATE_PLAIN } rollout_template;

/* Parses "chat" or "plain". */
rt_status rollout_template_parse(const char *name, rollout_template *out, rt_error *err);

/* The instructions for tool-integrated (tools non-zero) or text-only reasoning. */
const char *rollout_instructions(int tools);

/* Appends the prompt ids of problem to out. The problem text never turns into special tokens. */
rt_status rollout_prompt_ids(tok_tokenizer *tok, rollout_template t, int tools, const char *problem, tok_ids *out,
                             rt_error *err);

#endif
