#include "rollout/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/timer.h"
#include "rollout/interp.h"
#include "rollout/protocol.h"
#include "rollout/toolcall.h"

rollout_config rollout_config_defaults(void) {
    rollout_config c;
    memset(&c, 0, sizeof c);
    c.tools = ROLLOUT_TOOLS_STATELESS;
    c.budget.max_tool_calls = 8;
    c.budget.max_response_tokens = 4096;
    c.budget.max_interpreter_tokens = 2048;
    c.budget.call_timeout_s = 10.0;
    c.shape = rollout_shape_defaults();
    c.sampling.temperature = 1.0f;
    c.sampling.top_p = 1.0f;
    c.max_concurrent = 64;
    c.stop_string = ROLLOUT_ANSWER_CLOSE;
    return c;
}

/* DECODE: its next-token distribution is ready; FEED: tokens wait to be prefilled by the next batched call (the
 * prompt after begin, an interpreter block); WAIT: its code runs. */
enum slot_state { SLOT_FREE = 0, SLOT_DECODE, SLOT_FEED, SLOT_WAIT };

typedef struct slot {
    enum slot_state state;
    size_t req;              /* index of the request */
    int64_t seq;             /* policy handle */
    rollout_trajectory *t;
    char *text;              /* bytes of the response so far */
    size_t text_len, text_cap;
    char *own;               /* bytes of the model's tokens only (mask 1): what the reward reads */
    size_t own_len, own_cap;
    size_t seg_start;        /* text offset after the last interpreter block: code is searched from here */
    size_t scan_from;        /* text offset up to which </code> and the stop string were searched */
    size_t interp_tokens;
    size_t calls_run;
    double t_start;
    double call_start;
    uint64_t ticket;         /* of the call in flight */
    char *code;              /* of the call in flight */
    const int32_t *feed;     /* SLOT_FEED: the tokens to prefill */
    size_t feed_n;
    int feed_is_prompt;
    int32_t *feed_own;       /* feed when the slot owns it (an interpreter block) */
} slot;

typedef struct engine {
    const rollout_config *cfg;
    const rollout_policy *policy;
    const rollout_tokenizer *tok;
    const rollout_executor *exec;
    rollout_stats *stats;
    slot *slots;
    size_t nslots;
    size_t live;
    uint64_t next_ticket;
    int batched;             /* the policy has begin and advance: prefills are batched into one call per round */
} engine;

/* Appends n bytes to the buffer *buf (length *len, capacity *cap), keeping it NUL-terminated. */
static rt_status buf_append(char **buf, size_t *len, size_t *cap, const char *bytes, size_t n, rt_error *err) {
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *len + n + 1) c *= 2;
        char *p = realloc(*buf, c);
        if (!p) return rt_err_set(err, RT_ENOMEM, "out of memory holding response text");
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, bytes, n);
    *len += n;
    (*buf)[*len] = '\0';
    return RT_OK;
}

static rt_status text_append(slot *s, const char *bytes, size_t n, rt_error *err) {
    return buf_append(&s->text, &s->text_len, &s->text_cap, bytes, n, err);
}

static rt_status text_append_token(engine *e, slot *s, int32_t id, rt_error *err) {
    char buf[256];
    size_t n = e->tok->token_bytes(e->tok->ctx, id, buf, sizeof buf);
    char *bytes = buf;
    if (n > sizeof buf) {
        bytes = malloc(n);
        if (!bytes) return rt_err_set(err, RT_ENOMEM, "out of memory");
        e->tok->token_bytes(e->tok->ctx, id, bytes, n);
    }
    /* Only the model's own tokens come here (mask 1): they make both the response and the model's text. */
    rt_status st = text_append(s, bytes, n, err);
    if (!st) st = buf_append(&s->own, &s->own_len, &s->own_cap, bytes, n, err);
    if (!st && e->cfg->on_token) e->cfg->on_token(e->cfg->on_token_ctx, s->req, bytes, n, 1);
    if (bytes != buf) free(bytes);
    return st;
}

/* Writes one JSONL line for call c to the audit log; a line that cannot be built or written is an error (an audit
 * log that loses lines silently is not one). */
static rt_status audit_call(engine *e, const slot *s, const rollout_tool_call *c, rt_error *err) {
    FILE *fp = e->cfg->audit;
    if (!fp) return RT_OK;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "time", rt_time_wall());
    cJSON_AddStringToObject(o, "trajectory", s->t->id ? s->t->id : "");
    cJSON_AddNumberToObject(o, "call", (double)s->t->n_calls - 1);
    if (c->code) cJSON_AddStringToObject(o, "code", c->code);
    else cJSON_AddNullToObject(o, "code");
    cJSON_AddStringToObject(o, "output", c->output ? c->output : "");
    cJSON_AddStringToObject(o, "status", c->refused ? "refused" : rollout_exec_status_name(c->status));
    cJSON_AddNumberToObject(o, "latency_s", c->latency_s);
    char *line = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!line) return rt_err_set(err, RT_ENOMEM, "audit log: out of memory formatting call %zu", s->t->n_calls - 1);
    errno = 0;
    int bad = fprintf(fp, "%s\n", line) < 0;
    bad |= fflush(fp) != 0;
    bad |= ferror(fp) != 0;
    cJSON_free(line);
    if (bad)
        return rt_err_errno(err, RT_EIO, errno ? errno : EIO, "writing the audit log (trajectory %s, call %zu)",
                            s->t->id ? s->t->id : "", s->t->n_calls - 1);
    return RT_OK;
}

static void slot_finish(engine *e, slot *s, rollout_stop stop, uint32_t flags) {
    rollout_trajectory *t = s->t;
    t->stop = stop;
    t->flags |= flags;
    t->wall_s = rt_time_now() - s->t_start;
    /* The text is for reading: bytes of a character cut at the end, or tokens that are not UTF-8 on their own, become
     * U+FFFD (the ids stay exact). */
    t->response_text = rollout_utf8_sanitize(s->text ? s->text : "");
    t->model_text = rollout_utf8_sanitize(s->own ? s->own : "");
    free(s->text);
    free(s->own);
    s->text = s->own = NULL;
    if (s->state != SLOT_FREE) {
        if (s->seq >= 0) e->policy->close(e->policy->ctx, s->seq);
        if (e->cfg->tools == ROLLOUT_TOOLS_STATEFUL && e->exec && e->exec->session_close)
            e->exec->session_close(e->exec->ctx, (uint64_t)s->req + 1);
    }
    free(s->code);
    free(s->feed_own);
    if (e->cfg->on_done) e->cfg->on_done(e->cfg->on_done_ctx, s->req, t);
    memset(s, 0, sizeof *s);
    s->state = SLOT_FREE;
    e->live--;
}

/* Appends the interpreter block for output (mask 0) and prefills it; ends the trajectory at a budget instead. */
static rt_status append_interpreter(engine *e, slot *s, rollout_tool_call *call, rt_error *err) {
    rollout_trajectory *t = s->t;
    int after_newline = s->text_len > 0 && s->text[s->text_len - 1] == '\n';
    char *block = NULL;
    int32_t *ids = NULL;
    size_t nids = 0;
    rt_status st = rollout_interp_block(e->tok, after_newline, call->output, &block, &ids, &nids, err);
    if (st) return st;
    call->response_index = t->n_response;
    uint32_t budget_flag = 0;
    if (s->interp_tokens + nids > e->cfg->budget.max_interpreter_tokens)
        budget_flag = ROLLOUT_FLAG_BUDGET_INTERPRETER;
    else if (t->n_response + nids >= e->cfg->budget.max_response_tokens)
        budget_flag = ROLLOUT_FLAG_BUDGET_RESPONSE;
    else if (e->policy->max_seq_len && t->n_prompt + t->n_response + nids >= e->policy->max_seq_len)
        budget_flag = ROLLOUT_FLAG_CONTEXT;
    if (budget_flag) {
        call->n_tokens = 0;
        st = rollout_trajectory_add_call(t, call, err);
        if (!st) st = audit_call(e, s, &t->calls[t->n_calls - 1], err);
        free(ids);
        free(block);
        if (!st) slot_finish(e, s, ROLLOUT_STOP_BUDGET, budget_flag);
        return st;
    }
    for (size_t i = 0; i < nids && !st; i++) st = rollout_trajectory_push(t, ids[i], 0.0f, 0, err);
    if (!st) st = text_append(s, block, strlen(block), err);
    if (!st && e->cfg->on_token) e->cfg->on_token(e->cfg->on_token_ctx, s->req, block, strlen(block), 0);
    free(block);
    call->n_tokens = nids;
    if (!st) st = rollout_trajectory_add_call(t, call, err);
    if (st) {
        free(ids);
        return st;
    }
    st = audit_call(e, s, &t->calls[t->n_calls - 1], err);
    if (st) {
        free(ids);
        return st;
    }
    s->interp_tokens += nids;
    s->seg_start = s->scan_from = s->text_len;
    if (e->batched) {
        /* Prefilled by the next round's batched call, with every other block and prompt due then. */
        s->feed = s->feed_own = ids;
        s->feed_n = nids;
        s->feed_is_prompt = 0;
        s->state = SLOT_FEED;
        return RT_OK;
    }
    double t0 = rt_time_now();
    rt_error perr;
    rt_status pst = e->policy->append(e->policy->ctx, s->seq, ids, nids, &perr);
    e->stats->t_prefill += rt_time_now() - t0;
    e->stats->interpreter_tokens += nids;
    free(ids);
    if (pst) {
        rt_log_warn("rollout %s: append-prefill failed: %s", t->id, perr.msg);
        slot_finish(e, s, ROLLOUT_STOP_ERROR, 0);
        return RT_OK;
    }
    s->state = SLOT_DECODE;
    return RT_OK;
}

/* The model closed a code block at text offset close_end: run it, refuse it, or answer a format error. */
static rt_status start_tool_call(engine *e, slot *s, size_t close_end, rt_error *err) {
    rollout_tool_call call;
    memset(&call, 0, sizeof call);
    char *code = NULL;
    rollout_code_status cs = rollout_extract_code(s->text + s->seg_start, close_end - s->seg_start, &code);
    if (cs == ROLLOUT_CODE_NOMEM) return rt_err_set(err, RT_ENOMEM, "out of memory copying the code of a tool call");
    if (code) {
        char *clean = rollout_utf8_sanitize(code);
        free(code);
        code = clean;
        if (!code) return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    if (cs != ROLLOUT_CODE_FOUND) {
        s->t->flags |= ROLLOUT_FLAG_FORMAT_ERROR | ROLLOUT_FLAG_TOOL_ERROR; /* the call failed: it could not run */
        call.status = ROLLOUT_EXEC_ERROR;
        call.output = strdup(ROLLOUT_MSG_NO_FENCE);
        return call.output ? append_interpreter(e, s, &call, err) : rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    if (s->calls_run >= e->cfg->budget.max_tool_calls) {
        s->t->flags |= ROLLOUT_FLAG_BUDGET_TOOL_CALLS;
        call.code = code;
        call.refused = 1;
        call.status = ROLLOUT_EXEC_ERROR;
        call.output = strdup(ROLLOUT_MSG_TOOL_BUDGET);
        return call.output ? append_interpreter(e, s, &call, err) : rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    rollout_exec_request req = {.code = code,
                                .timeout_s = e->cfg->budget.call_timeout_s,
                                .session = e->cfg->tools == ROLLOUT_TOOLS_STATEFUL ? (uint64_t)s->req + 1 : 0};
    s->ticket = ++e->next_ticket;
    s->code = code;
    s->call_start = rt_time_now();
    s->state = SLOT_WAIT;
    s->calls_run++;
    e->stats->tool_calls++;
    rt_error serr;
    if (e->exec->submit(e->exec->ctx, s->ticket, &req, &serr) != RT_OK) {
        /* The model sees the failure as an interpreter error; the rollout goes on. */
        s->state = SLOT_DECODE;
        s->code = NULL;
        call.code = code;
        call.status = ROLLOUT_EXEC_SANDBOX_ERROR;
        call.output = rollout_shape_output(&e->cfg->shape, ROLLOUT_EXEC_SANDBOX_ERROR, NULL, serr.msg);
        s->t->flags |= ROLLOUT_FLAG_TOOL_ERROR;
        return call.output ? append_interpreter(e, s, &call, err) : rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    return RT_OK;
}

static rt_status finish_tool_call(engine *e, slot *s, rollout_exec_result *res, rt_error *err) {
    rollout_tool_call call;
    memset(&call, 0, sizeof call);
    call.code = s->code;
    s->code = NULL;
    call.status = res->status;
    call.latency_s = rt_time_now() - s->call_start;
    call.output = rollout_shape_output(&e->cfg->shape, res->status, res->stdout_text, res->stderr_text);
    if (res->status != ROLLOUT_EXEC_OK) s->t->flags |= ROLLOUT_FLAG_TOOL_ERROR;
    if (!call.output) {
        free(call.code);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    return append_interpreter(e, s, &call, err);
}

static int is_stop_id(const rollout_config *cfg, int32_t id) {
    for (size_t i = 0; i < cfg->n_stop_ids; i++)
        if (cfg->stop_ids[i] == id) return 1;
    return 0;
}

/* Handles one sampled token of slot s. */
static rt_status on_token(engine *e, slot *s, int32_t id, float logprob, rt_error *err) {
    rollout_trajectory *t = s->t;
    rt_status st = rollout_trajectory_push(t, id, logprob, 1, err);
    if (!st) st = text_append_token(e, s, id, err);
    if (st) return st;
    if (is_stop_id(e->cfg, id)) {
        slot_finish(e, s, ROLLOUT_STOP_EOS, 0);
        return RT_OK;
    }
    const char *stop = e->cfg->stop_string;
    if (stop && *stop) {
        size_t sl = strlen(stop);
        size_t from = s->scan_from >= sl ? s->scan_from - sl + 1 : 0;
        if (from < s->seg_start) from = s->seg_start;
        if (s->text_len > from && memmem(s->text + from, s->text_len - from, stop, sl)) {
            slot_finish(e, s, ROLLOUT_STOP_STRING, 0);
            return RT_OK;
        }
    }
    if (e->cfg->tools != ROLLOUT_TOOLS_NONE) {
        size_t close_end = rollout_find_code_close(s->text, s->text_len, s->scan_from);
        if (close_end && close_end > s->seg_start) {
            s->scan_from = s->text_len;
            if (t->n_response >= e->cfg->budget.max_response_tokens) {
                slot_finish(e, s, ROLLOUT_STOP_BUDGET, ROLLOUT_FLAG_BUDGET_RESPONSE);
                return RT_OK;
            }
            return start_tool_call(e, s, close_end, err);
        }
    }
    s->scan_from = s->text_len;
    if (t->n_response >= e->cfg->budget.max_response_tokens) {
        slot_finish(e, s, ROLLOUT_STOP_BUDGET, ROLLOUT_FLAG_BUDGET_RESPONSE);
    } else if (e->policy->max_seq_len && t->n_prompt + t->n_response >= e->policy->max_seq_len) {
        slot_finish(e, s, ROLLOUT_STOP_BUDGET, ROLLOUT_FLAG_CONTEXT);
    }
    return RT_OK;
}

static rt_status admit(engine *e, size_t req_index, const rollout_request *req, rollout_trajectory *t, rt_error *err) {
    slot *s = NULL;
    for (size_t i = 0; i < e->nslots; i++)
        if (e->slots[i].state == SLOT_FREE) {
            s = &e->slots[i];
            break;
        }
    if (!s) return rt_err_set(err, RT_EINTERNAL, "no free rollout slot");
    rollout_trajectory_init(t);
    char id[64];
    snprintf(id, sizeof id, "p%lld-s%lld", (long long)req->prompt_index, (long long)req->sample_index);
    t->id = strdup(id);
    t->prompt_index = req->prompt_index;
    t->sample_index = req->sample_index;
    t->prompt_ids = malloc((req->n_prompt ? req->n_prompt : 1) * sizeof(int32_t));
    if (!t->id || !t->prompt_ids) return rt_err_set(err, RT_ENOMEM, "out of memory");
    memcpy(t->prompt_ids, req->prompt, req->n_prompt * sizeof(int32_t));
    t->n_prompt = req->n_prompt;
    memset(s, 0, sizeof *s);
    s->req = req_index;
    s->t = t;
    s->seq = -1;
    s->t_start = rt_time_now();
    s->state = SLOT_DECODE;
    e->live++;
    rt_rng root;
    rt_rng_seed(&root, e->cfg->seed);
    rt_rng by_prompt = rt_rng_split(&root, (uint64_t)req->prompt_index);
    rt_rng by_sample = rt_rng_split(&by_prompt, (uint64_t)req->sample_index);
    uint64_t seed = rt_rng_u64(&by_sample);
    rt_error perr;
    if (e->batched) {
        if (e->policy->begin(e->policy->ctx, req->prompt, req->n_prompt, &e->cfg->sampling, seed, &s->seq, &perr)) {
            rt_log_warn("rollout %s: cannot open the sequence: %s", t->id, perr.msg);
            s->seq = -1;
            slot_finish(e, s, ROLLOUT_STOP_ERROR, 0);
            return RT_OK;
        }
        s->feed = req->prompt;
        s->feed_n = req->n_prompt;
        s->feed_is_prompt = 1;
        s->state = SLOT_FEED;
        return RT_OK;
    }
    double t0 = rt_time_now();
    rt_status pst = e->policy->open(e->policy->ctx, req->prompt, req->n_prompt, &e->cfg->sampling, seed, &s->seq, &perr);
    e->stats->t_prefill += rt_time_now() - t0;
    if (pst) {
        rt_log_warn("rollout %s: cannot open the sequence: %s", t->id, perr.msg);
        s->seq = -1;
        slot_finish(e, s, ROLLOUT_STOP_ERROR, 0);
        return RT_OK;
    }
    e->stats->prompt_tokens += req->n_prompt;
    return RT_OK;
}

static slot *slot_by_ticket(engine *e, uint64_t ticket) {
    for (size_t i = 0; i < e->nslots; i++)
        if (e->slots[i].state == SLOT_WAIT && e->slots[i].ticket == ticket) return &e->slots[i];
    return NULL;
}

/* Takes every ready result (waiting up to wait_s for the first). */
static rt_status drain_results(engine *e, double wait_s, rt_error *err) {
    uint64_t ticket;
    rollout_exec_result res;
    while (e->exec->poll(e->exec->ctx, wait_s, &ticket, &res)) {
        wait_s = 0;
        slot *s = slot_by_ticket(e, ticket);
        rt_status st = RT_OK;
        if (s) st = finish_tool_call(e, s, &res, err);
        free(res.stdout_text);
        free(res.stderr_text);
        if (st) return st;
    }
    return RT_OK;
}

static void check_wall(engine *e) {
    if (e->cfg->budget.wall_s <= 0) return;
    double now = rt_time_now();
    for (size_t i = 0; i < e->nslots; i++) {
        slot *s = &e->slots[i];
        if (s->state != SLOT_FREE && now - s->t_start > e->cfg->budget.wall_s)
            slot_finish(e, s, ROLLOUT_STOP_BUDGET, ROLLOUT_FLAG_BUDGET_WALL);
    }
}

rt_status rollout_run(const rollout_config *cfg, const rollout_policy *policy, const rollout_tokenizer *tok,
                      const rollout_executor *exec, const rollout_request *reqs, size_t n, rollout_trajectory *out,
                      rollout_stats *stats, rt_error *err) {
    if (cfg->max_concurrent == 0) return rt_err_set(err, RT_EINVAL, "max_concurrent must be at least 1");
    if (cfg->tools != ROLLOUT_TOOLS_NONE && !exec)
        return rt_err_set(err, RT_EINVAL, "tool-integrated rollouts need an executor");
    rollout_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    engine e = {.cfg = cfg, .policy = policy, .tok = tok, .exec = exec, .stats = stats,
                .batched = policy->begin && policy->advance};
    e.nslots = cfg->max_concurrent < n ? cfg->max_concurrent : (n ? n : 1);
    e.slots = calloc(e.nslots, sizeof *e.slots);
    int64_t *seqs = malloc(e.nslots * sizeof *seqs);
    size_t *idx = malloc(e.nslots * sizeof *idx);
    int32_t *tokens = malloc(e.nslots * sizeof *tokens);
    float *lps = malloc(e.nslots * sizeof *lps);
    rollout_feed *feeds = malloc(e.nslots * sizeof *feeds);
    rt_error *ferr = malloc(e.nslots * sizeof *ferr);
    size_t *fidx = malloc(e.nslots * sizeof *fidx);
    rt_status st = RT_OK;
    if (!e.slots || !seqs || !idx || !tokens || !lps || !feeds || !ferr || !fidx) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    double t_begin = rt_time_now();
    size_t next = 0;
    while (!st && (next < n || e.live > 0)) {
        while (!st && next < n && e.live < e.nslots) {
            st = admit(&e, next, &reqs[next], &out[next], err);
            next++;
        }
        if (st) break;
        size_t nb = 0, nf = 0;
        for (size_t i = 0; i < e.nslots; i++) {
            if (e.slots[i].state == SLOT_DECODE) {
                seqs[nb] = e.slots[i].seq;
                idx[nb++] = i;
            } else if (e.slots[i].state == SLOT_FEED) {
                feeds[nf] = (rollout_feed){.seq = e.slots[i].seq, .ids = e.slots[i].feed, .n = e.slots[i].feed_n};
                fidx[nf++] = i;
            }
        }
        if (e.batched && nb + nf > 0) {
            double t0 = rt_time_now();
            st = policy->advance(policy->ctx, feeds, nf, ferr, seqs, nb, tokens, lps, err);
            double dt = rt_time_now() - t0;
            if (nf == 0) stats->t_decode += dt;
            else if (nb == 0) stats->t_prefill += dt;
            else stats->t_fused += dt;
            if (st) break;
            stats->model_calls++;
            if (nf > 0) stats->prefill_calls++;
            for (size_t k = 0; k < nf; k++) {
                slot *s = &e.slots[fidx[k]];
                if (ferr[k].status) {
                    rt_log_warn("rollout %s: %s failed: %s", s->t->id, s->feed_is_prompt ? "prefill" : "append-prefill",
                                ferr[k].msg);
                    slot_finish(&e, s, ROLLOUT_STOP_ERROR, 0);
                    continue;
                }
                if (s->feed_is_prompt) stats->prompt_tokens += s->feed_n;
                else stats->interpreter_tokens += s->feed_n;
                free(s->feed_own);
                s->feed = s->feed_own = NULL;
                s->feed_n = 0;
                s->state = SLOT_DECODE;
            }
            if (nb > 0) {
                stats->decode_steps++;
                stats->decoded_tokens += nb;
                if (nb > stats->max_batch) stats->max_batch = nb;
            }
            for (size_t k = 0; k < nb && !st; k++) st = on_token(&e, &e.slots[idx[k]], tokens[k], lps[k], err);
            if (!st && exec) st = drain_results(&e, 0.0, err);
        } else if (nb > 0) {
            double t0 = rt_time_now();
            st = policy->step(policy->ctx, seqs, nb, tokens, lps, err);
            stats->t_decode += rt_time_now() - t0;
            if (st) break;
            stats->model_calls++;
            stats->decode_steps++;
            stats->decoded_tokens += nb;
            if (nb > stats->max_batch) stats->max_batch = nb;
            for (size_t k = 0; k < nb && !st; k++) st = on_token(&e, &e.slots[idx[k]], tokens[k], lps[k], err);
            if (!st && exec) st = drain_results(&e, 0.0, err);
        } else if (e.live > 0) {
            double t0 = rt_time_now();
            st = drain_results(&e, 0.05, err);
            stats->t_idle += rt_time_now() - t0;
        }
        check_wall(&e);
    }
    if (st) {
        /* Close whatever is still live; the trajectories made so far stay valid for the caller to free. */
        for (size_t i = 0; e.slots && i < e.nslots; i++)
            if (e.slots[i].state != SLOT_FREE) slot_finish(&e, &e.slots[i], ROLLOUT_STOP_ERROR, 0);
        for (size_t i = next; i < n; i++) rollout_trajectory_init(&out[i]);
    }
    stats->t_total = rt_time_now() - t_begin;
    free(e.slots);
    free(seqs);
    free(idx);
    free(tokens);
    free(lps);
    free(feeds);
    free(ferr);
    free(fidx);
    return st;
}
