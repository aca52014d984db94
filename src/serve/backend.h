/* What the server generates with: a rollout policy, its tokenizer, stop ids, and a prompt builder that turns chat
 * messages into prompt ids. The model backend binds these to a model folder (weights + tokenizer); tests bind them to
 * scripted stand-ins. */
#ifndef RETOOL_SERVE_BACKEND_H
#define RETOOL_SERVE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rollout/ops.h"
#include "rollout/prompt.h"
#include "serve/request.h"

typedef struct serve_backend {
    rollout_policy policy;          /* holds up to max_seqs live sequences */
    rollout_tokenizer tok;
    size_t max_seqs;
    const int32_t *stop_ids;        /* token ids that end a sample */
    size_t n_stop_ids;
    size_t context_len;             /* most tokens a sequence may hold (0 = no limit) */
    /* Builds the prompt ids (malloc'd) for the conversation msgs[0, n). */
    rt_status (*prompt)(void *ctx, const serve_message *msgs, size_t n, int32_t **ids, size_t *n_ids, rt_error *err);
    void *prompt_ctx;
} serve_backend;

typedef struct serve_model_backend serve_model_backend;

/* Loads a model folder (weights and tokenizer) with a policy of max_seqs live sequences. tmpl: ROLLOUT_TEMPLATE_AUTO
 * for the template the folder records, or a choice (rollout_template_resolve); with a chat template (ChatML, Llama 3)
 * the conversation is rendered and the last user message gets the tool-integrated instructions the model was trained
 * with, as in `retool generate`; plain sends the last user message and a newline. f32: f32 products, not bf16. */
rt_status serve_model_backend_open(const char *dir, size_t max_seqs, rollout_template tmpl, int f32,
                                   serve_model_backend **out, rt_error *err);

/* The backend interface (valid until serve_model_backend_close). */
serve_backend serve_model_backend_ops(serve_model_backend *b);

/* Frees the model, tokenizer and policy. NULL is fine. */
void serve_model_backend_close(serve_model_backend *b);

#endif
