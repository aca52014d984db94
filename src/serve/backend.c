#include "serve/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "rollout/bind.h"
#include "tokenizer/tokenizer.h"

struct serve_model_backend {
    model m;
    tok_tokenizer *tok;
    rollout_model_policy *pol;
    size_t max_seqs;
    tok_template tmpl; /* resolved from the folder (or the caller's choice) */
    int32_t stops[ROLLOUT_MAX_STOP_IDS];
    size_t n_stops;
};

static rt_status build_prompt(void *ctx, const serve_message *msgs, size_t n, int32_t **ids, size_t *n_ids,
                              rt_error *err) {
    serve_model_backend *b = ctx;
    tok_ids out = {0};
    rt_status st;
    const char *last = msgs[n - 1].content;
    if (b->tmpl == TOK_TEMPLATE_PLAIN) {
        st = rollout_prompt_ids(b->tok, ROLLOUT_TEMPLATE_PLAIN, 1, last, &out, err);
    } else {
        /* The conversation as given, with the last user message phrased as in training. */
        const char *ins = rollout_instructions(1);
        size_t len = strlen(ins) + strlen(last) + 32;
        char *text = malloc(len);
        tok_message *tm = calloc(n, sizeof *tm);
        if (!text || !tm) {
            free(text);
            free(tm);
            return rt_err_set(err, RT_ENOMEM, "out of memory");
        }
        snprintf(text, len, "%s\n\nProblem: %s", ins, last);
        for (size_t i = 0; i < n; i++) {
            tm[i].role = msgs[i].role;
            tm[i].content = i + 1 == n ? text : msgs[i].content;
        }
        st = tok_template_encode(b->tok, b->tmpl, tm, n, 1, 0, &out, err);
        free(text);
        free(tm);
    }
    if (st) {
        tok_ids_free(&out);
        return st;
    }
    *ids = out.ids;
    *n_ids = out.len;
    return RT_OK;
}

rt_status serve_model_backend_open(const char *dir, size_t max_seqs, rollout_template tmpl, int f32,
                                   serve_model_backend **out, rt_error *err) {
    serve_model_backend *b = calloc(1, sizeof *b);
    if (!b) return rt_err_set(err, RT_ENOMEM, "out of memory");
    b->max_seqs = max_seqs;
    rt_status st = tok_load(dir, &b->tok, err);
    rollout_template resolved;
    if (!st) st = rollout_template_resolve(dir, tmpl, &resolved, err);
    if (!st) st = rollout_template_family(b->tok, resolved, &b->tmpl, err);
    model_opts mo = {.prec = f32 ? MODEL_PREC_F32 : MODEL_PREC_BF16, .frozen = !f32}; /* bf16 only */
    if (!st) st = model_load(&b->m, dir, &mo, err);
    if (!st && tok_vocab_size(b->tok) > (size_t)b->m.cfg.vocab_size)
        st = rt_err_set(err, RT_EINVAL, "%s: the tokenizer has %zu ids but the model only %lld", dir,
                        tok_vocab_size(b->tok), (long long)b->m.cfg.vocab_size);
    if (!st) st = rollout_model_policy_init(&b->pol, &b->m, max_seqs, err);
    if (st) {
        serve_model_backend_close(b);
        return st;
    }
    b->n_stops = rollout_stop_ids(&b->m, b->tok, b->stops);
    *out = b;
    return RT_OK;
}

serve_backend serve_model_backend_ops(serve_model_backend *b) {
    serve_backend s = {.policy = rollout_model_policy_ops(b->pol),
                       .tok = rollout_tokenizer_ops(b->tok),
                       .max_seqs = b->max_seqs,
                       .stop_ids = b->stops,
                       .n_stop_ids = b->n_stops,
                       .context_len = (size_t)b->m.cfg.max_position_embeddings,
                       .prompt = build_prompt,
                       .prompt_ctx = b};
    return s;
}

void serve_model_backend_close(serve_model_backend *b) {
    if (!b) return;
    rollout_model_policy_free(b->pol);
    model_free(&b->m);
    tok_free(b->tok);
    free(b);
}
