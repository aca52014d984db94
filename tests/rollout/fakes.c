#include "fakes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_status policy_open_seq(fake_policy *p, const int32_t *prompt, size_t n, int prefill, int64_t *seq,
                                 rt_error *err) {
    if (n == 0 || prompt[0] < 0 || (size_t)prompt[0] >= p->nscripts)
        return rt_err_set(err, RT_EINVAL, "no script for this prompt");
    for (int64_t i = 0; i < FAKE_MAX_SEQS; i++) {
        if (!p->seqs[i].live) {
            memset(&p->seqs[i], 0, sizeof p->seqs[i]);
            p->seqs[i].live = 1;
            p->seqs[i].script = p->scripts[prompt[0]];
            p->seqs[i].first = prompt[0];
            if (prefill) {
                p->seqs[i].prefilled = n;
                p->total_prefilled += n;
            }
            p->opened++;
            *seq = i;
            return RT_OK;
        }
    }
    return rt_err_set(err, RT_EBUSY, "fake policy full");
}

static rt_status policy_open(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling,
                             uint64_t seed, int64_t *seq, rt_error *err) {
    (void)sampling;
    (void)seed;
    return policy_open_seq(ctx, prompt, n, 1, seq, err);
}

static rt_status policy_begin(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling,
                              uint64_t seed, int64_t *seq, rt_error *err) {
    (void)sampling;
    (void)seed;
    return policy_open_seq(ctx, prompt, n, 0, seq, err);
}

static rt_status policy_append(void *ctx, int64_t seq, const int32_t *ids, size_t n, rt_error *err) {
    fake_policy *p = ctx;
    if (!p->seqs[seq].live) return rt_err_set(err, RT_EINVAL, "append to a closed sequence");
    /* After begin the first feed is the prompt: it is prefilled but not an append. */
    int is_prompt = !p->unbatched && !p->seqs[seq].fed_prompt;
    p->seqs[seq].fed_prompt = 1;
    for (size_t i = 0; !is_prompt && i < n && p->seqs[seq].appended < 8192; i++)
        p->seqs[seq].appended_ids[p->seqs[seq].appended++] = ids[i];
    p->seqs[seq].prefilled += n;
    p->total_prefilled += n;
    return RT_OK;
}

static rt_status policy_step(void *ctx, const int64_t *seqs, size_t n, int32_t *tokens, float *logprobs,
                             rt_error *err) {
    fake_policy *p = ctx;
    if (n > p->max_batch) p->max_batch = n;
    p->calls++;
    for (size_t i = 0; i < n; i++) {
        if (!p->seqs[seqs[i]].live) return rt_err_set(err, RT_EINVAL, "step on a closed sequence");
        if (!p->unbatched && !p->seqs[seqs[i]].fed_prompt)
            return rt_err_set(err, RT_EINVAL, "step on a sequence whose prompt was never fed");
        const char *s = p->seqs[seqs[i]].script;
        size_t pos = p->seqs[seqs[i]].pos++;
        if (pos < strlen(s)) tokens[i] = (unsigned char)s[pos];
        else tokens[i] = p->eos_at_end ? FAKE_EOS : ' ';
        logprobs[i] = -0.5f - (float)(pos % 7) * 0.125f;
    }
    return RT_OK;
}

static rt_status policy_advance(void *ctx, const rollout_feed *feeds, size_t nf, rt_error *feed_err,
                                const int64_t *seqs, size_t n, int32_t *tokens, float *logprobs, rt_error *err) {
    fake_policy *p = ctx;
    for (size_t j = 0; j < nf; j++)
        for (size_t i = 0; i < n; i++)
            if (feeds[j].seq == seqs[i]) return rt_err_set(err, RT_EINVAL, "sequence both fed and stepped");
    rt_status st = policy_step(ctx, seqs, n, tokens, logprobs, err);
    if (st) return st;
    if (nf > 0) p->feed_calls++;
    if (nf > 0 && n > 0) p->fused_calls++;
    if (nf > p->max_feeds) p->max_feeds = nf;
    for (size_t j = 0; j < nf; j++) {
        rt_err_clear(&feed_err[j]);
        if (feeds[j].n == 0) {
            rt_err_set(&feed_err[j], RT_EINVAL, "empty feed");
            continue;
        }
        if (p->fail_feed_of && p->seqs[feeds[j].seq].first == p->fail_feed_of) {
            rt_err_set(&feed_err[j], RT_ERANGE, "scripted feed failure");
            continue;
        }
        policy_append(ctx, feeds[j].seq, feeds[j].ids, feeds[j].n, &feed_err[j]);
    }
    return RT_OK;
}

static void policy_close(void *ctx, int64_t seq) {
    fake_policy *p = ctx;
    p->seqs[seq].live = 0;
    p->closed++;
}

rollout_policy fake_policy_ops(fake_policy *p) {
    rollout_policy ops = {.ctx = p,
                          .open = policy_open,
                          .append = policy_append,
                          .step = policy_step,
                          .close = policy_close,
                          .max_seq_len = 0,
                          .begin = p->unbatched ? NULL : policy_begin,
                          .advance = p->unbatched ? NULL : policy_advance};
    return ops;
}

static rt_status tok_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, rt_error *err) {
    (void)ctx;
    *ids = malloc((len ? len : 1) * sizeof **ids);
    if (!*ids) return rt_err_set(err, RT_ENOMEM, "oom");
    for (size_t i = 0; i < len; i++) (*ids)[i] = (unsigned char)text[i];
    *n = len;
    return RT_OK;
}

static size_t tok_bytes(void *ctx, int32_t id, char *buf, size_t cap) {
    (void)ctx;
    if (id == FAKE_EOS) {
        const char *e = "<eos>";
        if (cap >= 5) memcpy(buf, e, 5);
        return 5;
    }
    if (cap >= 1) buf[0] = (char)id;
    return 1;
}

rollout_tokenizer fake_tokenizer_ops(void) {
    rollout_tokenizer t = {.ctx = NULL, .encode = tok_encode, .token_bytes = tok_bytes};
    return t;
}

/* Runs one of the few code shapes the fake understands. */
static void fake_run(fake_executor *x, const char *code, uint64_t session, rollout_exec_result *r, int *never) {
    memset(r, 0, sizeof *r);
    long long a, b;
    char tail[8];
    *never = 0;
    if (strstr(code, "while True")) {
        r->status = ROLLOUT_EXEC_TIMEOUT;
        *never = x->timeout_never_returns;
    } else if (sscanf(code, "x = %lld%1s", &a, tail) == 1) {
        if (session) {
            x->session_x[session] = a;
            x->session_has_x[session] = 1;
        }
        r->status = ROLLOUT_EXEC_OK;
    } else if (strcmp(code, "print(x)") == 0) {
        if (session && x->session_has_x[session]) {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld\n", x->session_x[session]);
            r->stdout_text = strdup(buf);
            r->status = ROLLOUT_EXEC_OK;
        } else {
            r->status = ROLLOUT_EXEC_ERROR;
            r->stderr_text = strdup("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n"
                                    "NameError: name 'x' is not defined\n");
        }
    } else if (sscanf(code, "print(%lld*%lld)%1s", &a, &b, tail) == 2 ||
               sscanf(code, "# slow\nprint(%lld*%lld)%1s", &a, &b, tail) == 2) {
        char buf[48];
        snprintf(buf, sizeof buf, "%lld\n", a * b);
        r->stdout_text = strdup(buf);
        r->status = ROLLOUT_EXEC_OK;
    } else if (sscanf(code, "print_answer(%lld)%1s", &a, tail) == 1) {
        /* A program that prints the protocol's answer block (the reward must not take it as the model's answer). */
        char buf[64];
        snprintf(buf, sizeof buf, "<answer>\n\\boxed{%lld}\n</answer>\n", a);
        r->stdout_text = strdup(buf);
        r->status = ROLLOUT_EXEC_OK;
    } else if (strncmp(code, "print('A'*", 10) == 0) {
        long long k = atoll(code + 10);
        r->stdout_text = malloc((size_t)k + 2);
        memset(r->stdout_text, 'A', (size_t)k);
        r->stdout_text[k] = '\n';
        r->stdout_text[k + 1] = '\0';
        r->status = ROLLOUT_EXEC_OK;
    } else {
        r->status = ROLLOUT_EXEC_ERROR;
        r->stderr_text = strdup("  File \"<string>\", line 1\nSyntaxError: invalid syntax\n");
    }
}

static rt_status exec_submit(void *ctx, uint64_t ticket, const rollout_exec_request *req, rt_error *err) {
    fake_executor *x = ctx;
    if (x->fail_submit) return rt_err_set(err, RT_EBUSY, "sandbox pool is full (429)");
    if (x->njobs >= 256) return rt_err_set(err, RT_EBUSY, "fake executor full");
    fake_exec_job *j = &x->jobs[x->njobs++];
    int never;
    fake_run(x, req->code, req->session, &j->result, &never);
    j->ticket = ticket;
    j->ready_after = never ? -1 : (strstr(req->code, "slow") ? x->delay_for_slow : x->delay);
    x->submitted++;
    return RT_OK;
}

static int exec_poll(void *ctx, double wait_s, uint64_t *ticket, rollout_exec_result *result) {
    (void)wait_s;
    fake_executor *x = ctx;
    for (size_t i = 0; i < x->njobs; i++) {
        if (x->jobs[i].ready_after == 0) {
            *ticket = x->jobs[i].ticket;
            *result = x->jobs[i].result;
            x->jobs[i] = x->jobs[--x->njobs];
            return 1;
        }
    }
    for (size_t i = 0; i < x->njobs; i++)
        if (x->jobs[i].ready_after > 0) x->jobs[i].ready_after--;
    return 0;
}

static void exec_session_close(void *ctx, uint64_t session) {
    fake_executor *x = ctx;
    if (session <= FAKE_MAX_SEQS) x->session_has_x[session] = 0;
    x->sessions_closed++;
}

rollout_executor fake_executor_ops(fake_executor *x) {
    rollout_executor e = {.ctx = x, .submit = exec_submit, .poll = exec_poll, .session_close = exec_session_close};
    return e;
}

rt_status fake_rollout_one(const rollout_config *cfg, fake_policy *pol, fake_executor *ex, const char *script,
                           rollout_trajectory *t, rt_error *err) {
    const char *scripts[] = {script};
    pol->scripts = scripts;
    pol->nscripts = 1;
    rollout_policy p = fake_policy_ops(pol);
    rollout_tokenizer tk = fake_tokenizer_ops();
    rollout_executor x = fake_executor_ops(ex);
    int32_t prompt[3] = {0, 7, 7};
    rollout_request req = {.prompt = prompt, .n_prompt = 3};
    rollout_stats st;
    rt_status s = rollout_run(cfg, &p, &tk, &x, &req, 1, t, &st, err);
    pol->scripts = NULL;
    pol->nscripts = 0;
    return s;
}
