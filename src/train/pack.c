#include "train/pack.h"

#include <stdlib.h>
#include <string.h>

void train_packed_reset(train_packed *p) {
    p->n_rows = 0;
    p->n_targets = 0;
    p->batch.nseq = 0;
    if (p->start) p->start[0] = 0;
}

void train_packed_free(train_packed *p) {
    free(p->start);
    free(p->tokens);
    free(p->targets);
    free(p->traj);
    free(p->resp_row);
    memset(p, 0, sizeof *p);
}

size_t train_packed_len(const rollout_trajectory *t, size_t max_len) {
    size_t n = t->n_prompt + t->n_response;
    return max_len && n > max_len ? max_len : n;
}

static rt_status grow(train_packed *p, size_t rows, size_t seqs, rt_error *err) {
    if (rows > p->cap_rows) {
        size_t cap = p->cap_rows ? p->cap_rows : 1024;
        while (cap < rows) cap *= 2;
        int32_t *t = realloc(p->tokens, cap * sizeof *t);
        if (t) p->tokens = t;
        int32_t *g = realloc(p->targets, cap * sizeof *g);
        if (g) p->targets = g;
        if (!t || !g) return rt_err_set(err, RT_ENOMEM, "out of memory packing %zu tokens", cap);
        p->cap_rows = cap;
    }
    if (seqs + 1 > p->cap_seq) {
        size_t cap = p->cap_seq ? p->cap_seq : 16;
        while (cap < seqs + 1) cap *= 2;
        int64_t *s = realloc(p->start, cap * sizeof *s);
        if (s) p->start = s;
        int64_t *tr = realloc(p->traj, cap * sizeof *tr);
        if (tr) p->traj = tr;
        int64_t *rr = realloc(p->resp_row, cap * sizeof *rr);
        if (rr) p->resp_row = rr;
        if (!s || !tr || !rr) return rt_err_set(err, RT_ENOMEM, "out of memory packing %zu sequences", cap);
        if (p->cap_seq == 0) s[0] = 0;
        p->cap_seq = cap;
    }
    return RT_OK;
}

rt_status train_packed_add(train_packed *p, const rollout_trajectory *t, int64_t idx, size_t max_len, int *cut,
                           rt_error *err) {
    size_t n = train_packed_len(t, max_len);
    if (cut) *cut = n < t->n_prompt + t->n_response;
    if (n == 0) return RT_OK;
    size_t seq = (size_t)p->batch.nseq;
    rt_status st = grow(p, p->n_rows + n, seq + 1, err);
    if (st) return st;
    if (seq == 0) p->start[0] = 0;
    int32_t *tok = p->tokens + p->n_rows;
    int32_t *tgt = p->targets + p->n_rows;
    for (size_t i = 0; i < n; i++) tok[i] = i < t->n_prompt ? t->prompt_ids[i] : t->response_ids[i - t->n_prompt];
    for (size_t i = 0; i < n; i++) {
        size_t next = i + 1;
        tgt[i] = -1;
        if (next < n && next >= t->n_prompt && t->mask[next - t->n_prompt]) {
            tgt[i] = tok[next];
            p->n_targets++;
        }
    }
    p->traj[seq] = idx;
    p->resp_row[seq] = (int64_t)p->n_rows + (int64_t)t->n_prompt - 1;
    p->n_rows += n;
    p->start[seq + 1] = (int64_t)p->n_rows;
    p->batch.nseq = (int64_t)seq + 1;
    p->batch.start = p->start;
    p->batch.tokens = p->tokens;
    p->batch.targets = p->targets;
    return RT_OK;
}
