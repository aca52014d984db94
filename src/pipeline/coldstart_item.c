#include "pipeline/coldstart_item.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "data/synth.h"
#include "reward/reward.h"
#include "rollout/bind.h"
#include "rollout/interp.h"
#include "rollout/prompt.h"
#include "rollout/score.h"

static void drop(pipe_cs_item *it, pipe_cs_reason r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void drop(pipe_cs_item *it, pipe_cs_reason r, const char *fmt, ...) {
    it->reason = r;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->detail, sizeof it->detail, fmt, ap);
    va_end(ap);
}

static int no_tool_family(const data_problem *p) {
    const data_family *f = p->family ? data_family_find(p->family) : NULL;
    return f && !f->needs_tool;
}

int pipe_cs_item_needs_rewrite(const data_problem *p) {
    return !(p->program && *p->program) && !no_tool_family(p);
}

static rt_status alloc_blocks(pipe_cs_item *it, size_t n, rt_error *err) {
    it->tr.segs = calloc(n + 1, sizeof *it->tr.segs);
    it->tr.codes = calloc(n ? n : 1, sizeof *it->tr.codes);
    it->tr.claimed = calloc(n ? n : 1, sizeof *it->tr.claimed);
    if (!it->tr.segs || !it->tr.codes || !it->tr.claimed) return rt_err_set(err, RT_ENOMEM, "out of memory");
    it->tr.n_blocks = n;
    return RT_OK;
}

/* The worked text solution, then the boxed reference answer. */
static rt_status prepare_text(pipe_cs_item *it, const data_problem *p, rt_error *err) {
    if (!p->text_solution || !*p->text_solution) {
        drop(it, PIPE_CS_NO_SOLUTION, "no text_solution");
        return RT_OK;
    }
    rt_status st = alloc_blocks(it, 0, err);
    if (st) return st;
    rt_strbuf lead = {0};
    rt_strbuf_puts(&lead, p->text_solution);
    rt_strbuf_putc(&lead, '\n');
    char *l = rt_strbuf_take(&lead);
    it->tr.segs[0] = l ? pipe_cs_answer_segment(l, p->answer) : NULL;
    free(l);
    return it->tr.segs[0] ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
}

/* The reference program in one block, after a planted failing attempt when the dice say so. */
static rt_status prepare_template(pipe_cs_item *it, const data_problem *p, const pipe_coldstart_config *cfg,
                                  rt_rng *rng, rt_error *err) {
    double u = rt_rng_uniform(rng);
    uint64_t kind = rt_rng_u64(rng);
    char *prog = strdup(p->program);
    if (!prog) return rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t n = strlen(prog);
    while (n > 0 && strchr(" \t\r\n", prog[n - 1]))
        prog[--n] = '\0';
    char *broken = u < cfg->repair_rate ? pipe_cs_break_program(prog, kind) : NULL;
    it->repair = broken != NULL;
    it->from_template = 1;
    rt_status st = alloc_blocks(it, broken ? 2 : 1, err);
    if (st) {
        free(prog);
        free(broken);
        return st;
    }
    size_t b = 0;
    if (broken) it->tr.codes[b++] = broken;
    it->tr.codes[b] = prog;
    for (size_t i = 0; i < it->tr.n_blocks; i++) {
        it->tr.segs[i] = pipe_cs_code_segment("", it->tr.codes[i]);
        if (!it->tr.segs[i]) return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    return RT_OK;
}

rt_status pipe_cs_item_prepare(pipe_cs_item *it, const data_problem *p, size_t index, const pipe_coldstart_config *cfg,
                               rt_rng *rng, pipe_cs_rewrite_fn rewrite, void *rewrite_ctx, rt_error *err) {
    memset(it, 0, sizeof *it);
    it->p = p;
    it->index = index;
    it->tools = cfg->mode == PIPE_CS_CODE;
    rt_status st;
    if (cfg->mode == PIPE_CS_TEXT || no_tool_family(p)) {
        st = prepare_text(it, p, err);
    } else if (!pipe_cs_item_needs_rewrite(p)) {
        st = prepare_template(it, p, cfg, rng, err);
    } else {
        if (!rewrite) return rt_err_set(err, RT_EINVAL, "no reference program and no rewriting model");
        char *draft = NULL;
        st = rewrite(rewrite_ctx, p, &draft, err);
        if (st) return rt_err_prefix(err, "rewriting");
        rt_error perr;
        if (pipe_cs_trace_parse(draft, 1, &it->tr, &perr) != RT_OK) drop(it, PIPE_CS_FORMAT, "draft: %s", perr.msg);
        free(draft);
    }
    if (st || it->reason != PIPE_CS_KEPT) return st;
    size_t n = it->tr.n_blocks ? it->tr.n_blocks : 1;
    it->outputs = calloc(n, sizeof *it->outputs);
    it->status = calloc(n, sizeof *it->status);
    it->latency = calloc(n, sizeof *it->latency);
    if (!it->outputs || !it->status || !it->latency) return rt_err_set(err, RT_ENOMEM, "out of memory");
    return RT_OK;
}

/* Checks the blocks' statuses; for a template, fills the final segment from the last block's real output. */
static rt_status check_runs(pipe_cs_item *it, rt_error *err) {
    size_t nb = it->tr.n_blocks;
    for (size_t b = 0; b < nb; b++)
        if (it->status[b] == ROLLOUT_EXEC_SANDBOX_ERROR) {
            drop(it, PIPE_CS_SANDBOX_ERROR, "block %zu: %s", b + 1, it->outputs[b]);
            return RT_OK;
        }
    if (!it->from_template) return RT_OK;
    if (it->repair && it->status[0] != ROLLOUT_EXEC_ERROR) {
        drop(it, PIPE_CS_CODE_ERROR, "the planted failing block ran (%s)", rollout_exec_status_name(it->status[0]));
        return RT_OK;
    }
    if (it->status[nb - 1] != ROLLOUT_EXEC_OK) {
        drop(it, PIPE_CS_CODE_ERROR, "the program failed (%s): %s", rollout_exec_status_name(it->status[nb - 1]),
             it->outputs[nb - 1]);
        return RT_OK;
    }
    char *ans = pipe_cs_last_line(it->outputs[nb - 1]);
    if (!ans) return rt_err_set(err, RT_ENOMEM, "out of memory");
    if (!*ans) {
        free(ans);
        drop(it, PIPE_CS_WRONG_ANSWER, "the program printed nothing");
        return RT_OK;
    }
    it->tr.segs[nb] = pipe_cs_answer_segment("", ans);
    free(ans);
    return it->tr.segs[nb] ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
}

static rt_status push_text(rollout_trajectory *t, tok_tokenizer *tok, rt_strbuf *text, const char *s, uint8_t mask,
                           size_t *ntok, rt_error *err) {
    tok_ids ids;
    memset(&ids, 0, sizeof ids);
    rt_status st = tok_encode(tok, s, strlen(s), TOK_ENCODE_NO_SPECIAL, &ids, err);
    for (size_t i = 0; !st && i < ids.len; i++)
        st = rollout_trajectory_push(t, ids.ids[i], 0.0f, mask, err);
    if (ntok) *ntok = ids.len;
    tok_ids_free(&ids);
    rt_strbuf_puts(text, s);
    return st;
}

/* Token ids segment by segment (model text mask 1, interpreter blocks mask 0) and the text they spell. */
static rt_status assemble(pipe_cs_item *it, tok_tokenizer *tok, rollout_trajectory *t, char **text_out, rt_error *err) {
    rt_strbuf text = {0};
    rt_status st = RT_OK;
    for (size_t b = 0; !st && b < it->tr.n_blocks; b++) {
        st = push_text(t, tok, &text, it->tr.segs[b], 1, NULL, err);
        if (st) break;
        /* The block exactly as the engine appends it (rollout/interp.h). */
        int after_newline = text.len > 0 && text.s[text.len - 1] == '\n';
        rollout_tokenizer rtok = rollout_tokenizer_ops(tok);
        char *block = NULL;
        int32_t *ids = NULL;
        size_t nids = 0;
        st = rollout_interp_block(&rtok, after_newline, it->outputs[b], &block, &ids, &nids, err);
        if (st) break;
        rollout_tool_call call = {.response_index = t->n_response,
                                  .code = strdup(it->tr.codes[b]),
                                  .output = strdup(it->outputs[b]),
                                  .status = it->status[b],
                                  .latency_s = it->latency[b]};
        for (size_t i = 0; !st && i < nids; i++) st = rollout_trajectory_push(t, ids[i], 0.0f, 0, err);
        call.n_tokens = nids;
        rt_strbuf_puts(&text, block);
        free(block);
        free(ids);
        if (!st && (!call.code || !call.output)) st = rt_err_set(err, RT_ENOMEM, "out of memory");
        if (!st) st = rollout_trajectory_add_call(t, &call, err);
        if (st) {
            free(call.code);
            free(call.output);
        }
        if (!st && it->status[b] != ROLLOUT_EXEC_OK) t->flags |= ROLLOUT_FLAG_TOOL_ERROR;
    }
    if (!st) st = push_text(t, tok, &text, it->tr.segs[it->tr.n_blocks], 1, NULL, err);
    char *s = rt_strbuf_take(&text);
    if (!st && !s) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    if (st) {
        free(s);
        return st;
    }
    *text_out = s;
    return RT_OK;
}

/* Reads the assembled text back as the engine would and checks it splits into exactly what was run and shown. */
static void verify_format(pipe_cs_item *it, const char *text) {
    pipe_cs_trace back;
    rt_error perr;
    if (pipe_cs_trace_parse(text, it->tools, &back, &perr) != RT_OK) {
        drop(it, PIPE_CS_FORMAT, "%s", perr.msg);
        return;
    }
    if (back.n_blocks != it->tr.n_blocks) {
        drop(it, PIPE_CS_FORMAT, "the engine would read %zu code blocks, not %zu", back.n_blocks, it->tr.n_blocks);
    } else {
        for (size_t b = 0; b < back.n_blocks && it->reason == PIPE_CS_KEPT; b++) {
            if (strcmp(back.codes[b], it->tr.codes[b]) != 0)
                drop(it, PIPE_CS_FORMAT, "block %zu: the engine would run other code", b + 1);
            else if (!back.claimed[b] || strcmp(back.claimed[b], it->outputs[b]) != 0)
                drop(it, PIPE_CS_FORMAT, "block %zu: the real output changes how the trace parses", b + 1);
        }
    }
    pipe_cs_trace_free(&back);
}

rt_status pipe_cs_item_build(pipe_cs_item *it, tok_tokenizer *tok, rollout_trajectory *t, char **text_out,
                             rt_error *err) {
    *text_out = NULL;
    char *text = NULL;
    rt_status st = assemble(it, tok, t, &text, err);
    if (st) return st;
    verify_format(it, text);
    char *decoded = NULL;
    if (it->reason == PIPE_CS_KEPT) {
        st = tok_decode(tok, t->response_ids, t->n_response, 0, &decoded, NULL, err);
        if (!st && strcmp(decoded, text) != 0) drop(it, PIPE_CS_FORMAT, "the token ids do not decode to the trace");
    }
    free(decoded);
    if (st || it->reason != PIPE_CS_KEPT) {
        free(text);
        return st;
    }
    *text_out = text;
    return RT_OK;
}

rt_status pipe_cs_item_finish(pipe_cs_item *it, const pipe_coldstart_config *cfg, tok_tokenizer *tok,
                              rollout_trajectory *t, rt_error *err) {
    rt_status st = check_runs(it, err);
    if (st || it->reason != PIPE_CS_KEPT) return st;
    const data_problem *p = it->p;
    char *text = NULL;
    st = pipe_cs_item_build(it, tok, t, &text, err);
    reward_options ro;
    reward_options_default(&ro);
    if (!st && it->reason == PIPE_CS_KEPT) {
        t->response_text = text;
        text = NULL;
        st = rollout_score(t, p->answer, &ro, err);
        if (!st && t->reward <= 0)
            drop(it, PIPE_CS_WRONG_ANSWER, "answer '%s', expected '%s'", t->answer ? t->answer : "(none)", p->answer);
    }
    free(text);
    if (st || it->reason != PIPE_CS_KEPT) return st;
    tok_ids prompt;
    memset(&prompt, 0, sizeof prompt);
    st = rollout_prompt_ids(tok, cfg->template_kind, it->tools, p->prompt, &prompt, err);
    if (!st) {
        t->prompt_ids = prompt.ids;
        t->n_prompt = prompt.len;
        prompt.ids = NULL;
        st = tok_decode(tok, t->prompt_ids, t->n_prompt, 0, &t->prompt_text, NULL, err);
    }
    tok_ids_free(&prompt);
    rt_strbuf id = {0};
    if (p->family) rt_strbuf_printf(&id, "%s/", p->family);
    if (p->id)
        rt_strbuf_puts(&id, p->id);
    else
        rt_strbuf_printf(&id, "r%zu", it->index + 1);
    t->id = rt_strbuf_take(&id);
    if (!st && !t->id) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    t->prompt_index = (int64_t)it->index;
    t->sample_index = 0;
    t->stop = ROLLOUT_STOP_STRING;
    return st;
}

void pipe_cs_item_free(pipe_cs_item *it) {
    for (size_t b = 0; it->outputs && b < it->tr.n_blocks; b++)
        free(it->outputs[b]);
    free(it->outputs);
    free(it->status);
    free(it->latency);
    pipe_cs_trace_free(&it->tr);
    memset(it, 0, sizeof *it);
}
