/* A local rewriting model: retool's own engine (rollout_run without tools, greedy) over a model folder. */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "pipeline/coldstart_rewrite.h"
#include "rollout/bind.h"
#include "rollout/engine.h"
#include "rollout/protocol.h"
#include "tokenizer/tokenizer.h"

struct pipe_rewriter_local {
    model m;
    tok_tokenizer *tok;
    rollout_model_policy *pol;
    int32_t stops[ROLLOUT_MAX_STOP_IDS];
    size_t n_stops;
    char *dir;
    tok_template tmpl; /* the folder's recorded template; 0: none (ChatML when the tokenizer has it, else the text) */
};

void pipe_rewriter_local_close(pipe_rewriter_local *r) {
    if (!r) return;
    rollout_model_policy_free(r->pol);
    model_free(&r->m);
    tok_free(r->tok);
    free(r->dir);
    free(r);
}

rt_status pipe_rewriter_local_open(const char *model_dir, pipe_rewriter_local **out, rt_error *err) {
    *out = NULL;
    pipe_rewriter_local *r = calloc(1, sizeof *r);
    if (!r) return rt_err_set(err, RT_ENOMEM, "out of memory");
    r->dir = strdup(model_dir);
    rt_status st = r->dir ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
    if (!st) st = tok_load(model_dir, &r->tok, err);
    rt_error ignored;
    rt_err_clear(&ignored);
    if (!st && tok_template_read(model_dir, &r->tmpl, &ignored)) r->tmpl = 0;
    model_opts mo = {.prec = MODEL_PREC_BF16, .frozen = 1};
    if (!st) st = model_load(&r->m, model_dir, &mo, err);
    if (!st && tok_vocab_size(r->tok) > (size_t)r->m.cfg.vocab_size)
        st = rt_err_set(err, RT_EINVAL, "%s: the tokenizer has %zu ids but the model only %lld", model_dir,
                        tok_vocab_size(r->tok), (long long)r->m.cfg.vocab_size);
    if (!st) st = rollout_model_policy_init(&r->pol, &r->m, 1, err);
    if (st) {
        pipe_rewriter_local_close(r);
        return st;
    }
    r->n_stops = rollout_stop_ids(&r->m, r->tok, r->stops);
    *out = r;
    return RT_OK;
}

rt_status pipe_rewriter_local_rewrite(pipe_rewriter_local *r, const data_problem *p, char **draft, rt_error *err) {
    *draft = NULL;
    char *prompt = pipe_rewriter_prompt(p);
    if (!prompt) return rt_err_set(err, RT_ENOMEM, "out of memory");
    tok_ids ids;
    memset(&ids, 0, sizeof ids);
    rt_status st;
    tok_message msg = {.role = "user", .content = prompt};
    if (r->tmpl) {
        st = tok_template_encode(r->tok, r->tmpl, &msg, 1, 1, 0, &ids, err);
    } else if (tok_token_id(r->tok, "<|im_start|>") >= 0) {
        st = tok_chat_encode(r->tok, &msg, 1, 1, 0, &ids, err);
    } else {
        st = tok_encode(r->tok, prompt, strlen(prompt), TOK_ENCODE_NO_SPECIAL, &ids, err);
    }
    free(prompt);
    size_t ctx = (size_t)r->m.cfg.max_position_embeddings;
    if (!st && ids.len + 1 >= ctx)
        st = rt_err_set(err, RT_ERANGE, "%s: the rewriting prompt (%zu tokens) does not fit the context (%zu)", r->dir,
                        ids.len, ctx);
    rollout_trajectory t;
    rollout_trajectory_init(&t);
    if (!st) {
        rollout_config rc = rollout_config_defaults();
        rc.tools = ROLLOUT_TOOLS_NONE;
        rc.sampling.temperature = 0;
        rc.budget.max_response_tokens = ctx - ids.len < 2048 ? ctx - ids.len : 2048;
        rc.max_concurrent = 1;
        rc.stop_ids = r->stops;
        rc.n_stop_ids = r->n_stops;
        rc.stop_string = ROLLOUT_ANSWER_CLOSE;
        rollout_request req = {.prompt = ids.ids, .n_prompt = ids.len};
        rollout_policy pol = rollout_model_policy_ops(r->pol);
        rollout_tokenizer tk = rollout_tokenizer_ops(r->tok);
        rollout_stats stats;
        st = rollout_run(&rc, &pol, &tk, NULL, &req, 1, &t, &stats, err);
    }
    if (!st && t.stop == ROLLOUT_STOP_ERROR) st = rt_err_set(err, RT_EINTERNAL, "%s: decoding failed", r->dir);
    if (!st) {
        *draft = strdup(t.response_text ? t.response_text : "");
        if (!*draft) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    rollout_trajectory_free(&t);
    tok_ids_free(&ids);
    return st;
}
