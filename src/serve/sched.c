#include "serve/sched.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/timer.h"
#include "kernels/pool.h"

/* Per-request sampling inside one batch: the policy wrapper finds a sequence's request by its prompt pointer. */
typedef struct samp_entry {
    const int32_t *prompt;
    rollout_sampling sampling;
    int has_seed;
    uint64_t seed;
    uint64_t opened;
} samp_entry;

typedef struct samp_policy {
    const rollout_policy *inner;
    samp_entry *entries;
    size_t n;
} samp_policy;

/* The sampling and seed of a sequence opened for prompt: its request's, seeded per sample when the request is. */
static const rollout_sampling *sp_pick(samp_policy *p, const int32_t *prompt, const rollout_sampling *sampling,
                                       uint64_t *seed) {
    for (size_t i = 0; i < p->n; i++) {
        samp_entry *e = &p->entries[i];
        if (e->prompt != prompt) continue;
        if (e->has_seed) {
            /* Samples open in index order: sample k of a seeded request always gets the same seed. */
            rt_rng r;
            rt_rng_seed(&r, e->seed);
            rt_rng k = rt_rng_split(&r, e->opened);
            *seed = rt_rng_u64(&k);
        }
        e->opened++;
        return &e->sampling;
    }
    return sampling;
}
static rt_status sp_open(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling, uint64_t seed,
                         int64_t *seq, rt_error *err) {
    samp_policy *p = ctx;
    sampling = sp_pick(p, prompt, sampling, &seed);
    return p->inner->open(p->inner->ctx, prompt, n, sampling, seed, seq, err);
}
static rt_status sp_begin(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling, uint64_t seed,
                          int64_t *seq, rt_error *err) {
    samp_policy *p = ctx;
    sampling = sp_pick(p, prompt, sampling, &seed);
    return p->inner->begin(p->inner->ctx, prompt, n, sampling, seed, seq, err);
}
static rt_status sp_advance(void *ctx, const rollout_feed *feeds, size_t nf, rt_error *feed_err, const int64_t *seqs,
                            size_t n, int32_t *tokens, float *logprobs, rt_error *err) {
    samp_policy *p = ctx;
    return p->inner->advance(p->inner->ctx, feeds, nf, feed_err, seqs, n, tokens, logprobs, err);
}
static rt_status sp_append(void *ctx, int64_t seq, const int32_t *ids, size_t n, rt_error *err) {
    samp_policy *p = ctx;
    return p->inner->append(p->inner->ctx, seq, ids, n, err);
}
static rt_status sp_step(void *ctx, const int64_t *seqs, size_t n, int32_t *tokens, float *logprobs, rt_error *err) {
    samp_policy *p = ctx;
    return p->inner->step(p->inner->ctx, seqs, n, tokens, logprobs, err);
}
static void sp_close(void *ctx, int64_t seq) {
    samp_policy *p = ctx;
    p->inner->close(p->inner->ctx, seq);
}

struct serve_sched {
    serve_sched_config cfg;
    serve_metrics *metrics;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;   /* the scheduler: a job arrived or stop */
    pthread_cond_t done;   /* submitters: some job finished */
    serve_job *head, *tail;
    size_t queued;
    int stop;
    rt_rng rng;
};

static int same_budget(const serve_request *a, const serve_request *b) {
    return a->max_tool_calls == b->max_tool_calls && a->max_tool_seconds == b->max_tool_seconds &&
           a->max_tokens == b->max_tokens;
}

static void finish(serve_sched *s, serve_job **jobs, size_t nj) {
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < nj; i++) {
        jobs[i]->done = 1;
        /* After this a stream's reader may free the job: touch nothing of it afterwards. */
        if (jobs[i]->stream) serve_stream_finish(jobs[i]->stream);
    }
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
}

/* Where each rollout index of a batch goes: its job's stream and the sample. */
typedef struct text_map {
    serve_stream **stream;
    size_t *sample;
} text_map;

static void on_text(void *ctx, size_t index, const char *text, size_t len, int mask) {
    (void)mask;
    text_map *m = ctx;
    if (m->stream[index]) serve_stream_push(m->stream[index], m->sample[index], text, len);
}

static void run_batch(serve_sched *s, serve_job **jobs, size_t nj, uint64_t batch_seed) {
    size_t total = 0;
    for (size_t i = 0; i < nj; i++) total += (size_t)jobs[i]->req->n;
    rollout_request *reqs = calloc(total, sizeof *reqs);
    rollout_trajectory *out = calloc(total, sizeof *out);
    samp_entry *ents = calloc(nj, sizeof *ents);
    text_map tm = {.stream = calloc(total, sizeof *tm.stream), .sample = calloc(total, sizeof *tm.sample)};
    rt_error err;
    rt_err_clear(&err);
    rt_status st = reqs && out && ents && tm.stream && tm.sample ? RT_OK : rt_err_set(&err, RT_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; !st && i < nj; i++) {
        const serve_request *r = jobs[i]->req;
        ents[i] = (samp_entry){.prompt = jobs[i]->prompt,
                               .sampling = {.temperature = (float)r->temperature, .top_p = (float)r->top_p},
                               .has_seed = r->has_seed,
                               .seed = r->seed};
        for (int64_t j = 0; j < r->n; j++, k++) {
            reqs[k] = (rollout_request){.prompt = jobs[i]->prompt, .n_prompt = jobs[i]->n_prompt,
                                        .prompt_index = (int64_t)jobs[i]->number, .sample_index = j};
            tm.stream[k] = jobs[i]->stream;
            tm.sample[k] = (size_t)j;
        }
    }
    samp_policy sp = {.inner = &s->cfg.backend.policy, .entries = ents, .n = nj};
    rollout_policy pol = s->cfg.backend.policy;
    pol.ctx = &sp;
    pol.open = sp_open;
    pol.append = sp_append;
    pol.step = sp_step;
    pol.close = sp_close;
    int batched = pol.begin && pol.advance;
    pol.begin = batched ? sp_begin : NULL;
    pol.advance = batched ? sp_advance : NULL;
    rollout_config rc = rollout_config_defaults();
    const serve_request *r0 = jobs[0]->req;
    rc.tools = s->cfg.exec ? s->cfg.tools : ROLLOUT_TOOLS_NONE;
    rc.budget.max_tool_calls = (size_t)r0->max_tool_calls;
    rc.budget.call_timeout_s = r0->max_tool_seconds;
    rc.budget.max_response_tokens = (size_t)r0->max_tokens;
    rc.budget.max_interpreter_tokens = s->cfg.max_interpreter_tokens;
    rc.budget.wall_s = s->cfg.max_request_seconds;
    rc.shape = s->cfg.shape;
    rc.max_concurrent = total < s->cfg.backend.max_seqs ? total : s->cfg.backend.max_seqs;
    rc.stop_ids = s->cfg.backend.stop_ids;
    rc.n_stop_ids = s->cfg.backend.n_stop_ids;
    rc.seed = batch_seed;
    rc.audit = s->cfg.audit ? s->cfg.audit->fp : NULL;
    rc.on_token = on_text;
    rc.on_token_ctx = &tm;
    rollout_stats stats;
    if (!st)
        st = rollout_run(&rc, &pol, &s->cfg.backend.tok, s->cfg.exec, reqs, total, out, &stats, &err);
    if (!st && s->cfg.audit && serve_audit_maybe_rotate(s->cfg.audit, &err))
        rt_log_warn("serve: audit log: %s", err.msg);
    serve_metrics_add(s->metrics, &s->metrics->batches, 1);
    serve_metrics_add(s->metrics, &s->metrics->batched_samples, total);
    k = 0;
    for (size_t i = 0; i < nj; i++) {
        serve_job *j = jobs[i];
        size_t n = (size_t)j->req->n;
        j->status = st;
        if (st) {
            j->err = err;
            for (size_t q = 0; out && q < n; q++) rollout_trajectory_free(&out[k + q]);
        } else {
            j->traj = malloc(n * sizeof *j->traj);
            if (j->traj) memcpy(j->traj, &out[k], n * sizeof *j->traj);
            else {
                j->status = rt_err_set(&j->err, RT_ENOMEM, "out of memory");
                for (size_t q = 0; q < n; q++) rollout_trajectory_free(&out[k + q]);
            }
        }
        k += n;
    }
    free(reqs);
    free(out);
    free(ents);
    free(tm.stream);
    free(tm.sample);
    finish(s, jobs, nj);
}

static void *loop(void *arg) {
    serve_sched *s = arg;
    kern_thread_setup(); /* this thread runs the model: oneDNN single-threaded beside the pool */
    serve_job **batch = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stop) pthread_cond_wait(&s->wake, &s->mu);
        if (s->stop) break;
        /* Wait for company: up to window_s, or until a batch is full. */
        double deadline = rt_time_now() + s->cfg.window_s;
        for (;;) {
            size_t samples = 0;
            for (serve_job *j = s->head; j; j = j->next) samples += (size_t)j->req->n;
            if (samples >= s->cfg.max_batch || s->stop) break;
            double left = deadline - rt_time_now();
            if (left <= 0) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long long ns = ts.tv_nsec + (long long)(left * 1e9);
            ts.tv_sec += ns / 1000000000LL;
            ts.tv_nsec = ns % 1000000000LL;
            pthread_cond_timedwait(&s->wake, &s->mu, &ts);
        }
        if (s->stop) break;
        /* Take the first job and every waiting job with the same budgets, up to max_batch samples. */
        size_t nj = 0, samples = 0;
        serve_job **pp = &s->head, *prev = NULL;
        const serve_request *key = s->head->req;
        while (*pp) {
            serve_job *j = *pp;
            size_t n = (size_t)j->req->n;
            if (same_budget(key, j->req) && (nj == 0 || samples + n <= s->cfg.max_batch)) {
                if (nj == cap) {
                    size_t nc = cap ? cap * 2 : 16;
                    serve_job **nb = realloc(batch, nc * sizeof *nb);
                    if (!nb) break;
                    batch = nb;
                    cap = nc;
                }
                batch[nj++] = j;
                samples += n;
                *pp = j->next;
                if (s->tail == j) s->tail = prev;
                s->queued--;
                continue;
            }
            prev = j;
            pp = &j->next;
        }
        serve_metrics_gauge(s->metrics, &s->metrics->queue_depth, -(int64_t)nj);
        uint64_t seed = rt_rng_u64(&s->rng);
        pthread_mutex_unlock(&s->mu);
        if (nj) run_batch(s, batch, nj, seed);
        pthread_mutex_lock(&s->mu);
    }
    /* Shutting down: whatever still waits ends with an error. */
    for (serve_job *j = s->head, *next; j; j = next) {
        next = j->next;
        j->status = rt_err_set(&j->err, RT_EBUSY, "the server is shutting down");
        j->done = 1;
        if (j->stream) serve_stream_finish(j->stream);
    }
    serve_metrics_gauge(s->metrics, &s->metrics->queue_depth, -(int64_t)s->queued);
    s->head = s->tail = NULL;
    s->queued = 0;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
    free(batch);
    return NULL;
}

rt_status serve_sched_start(serve_sched **out, const serve_sched_config *cfg, serve_metrics *metrics, rt_error *err) {
    if (cfg->max_batch == 0 || cfg->max_batch > cfg->backend.max_seqs)
        return rt_err_set(err, RT_EINVAL, "the batch size must be 1..%zu (the policy's live sequences)",
                          cfg->backend.max_seqs);
    serve_sched *s = calloc(1, sizeof *s);
    if (!s) return rt_err_set(err, RT_ENOMEM, "out of memory");
    s->cfg = *cfg;
    s->metrics = metrics;
    rt_rng_seed(&s->rng, (uint64_t)(rt_time_wall() * 1e6));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->done, NULL);
    if (pthread_create(&s->thread, NULL, loop, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->wake);
        pthread_cond_destroy(&s->done);
        free(s);
        return rt_err_set(err, RT_EINTERNAL, "cannot start the scheduler thread");
    }
    *out = s;
    return RT_OK;
}

/* With s->mu held: queues job, or returns RT_EBUSY when stopping. */
static rt_status enqueue(serve_sched *s, serve_job *job, rt_error *err) {
    job->next = NULL;
    job->done = 0;
    if (s->stop) return rt_err_set(err, RT_EBUSY, "the server is shutting down");
    if (s->tail) s->tail->next = job;
    else s->head = job;
    s->tail = job;
    s->queued++;
    serve_metrics_gauge(s->metrics, &s->metrics->queue_depth, 1);
    pthread_cond_signal(&s->wake);
    return RT_OK;
}

void serve_sched_run(serve_sched *s, serve_job *job) {
    pthread_mutex_lock(&s->mu);
    job->status = enqueue(s, job, &job->err);
    while (!job->status && !job->done) pthread_cond_wait(&s->done, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

rt_status serve_sched_submit(serve_sched *s, serve_job *job, rt_error *err) {
    if (!job->stream) return rt_err_set(err, RT_EINVAL, "an asynchronous job needs a stream");
    pthread_mutex_lock(&s->mu);
    rt_status st = enqueue(s, job, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

void serve_sched_stop(serve_sched *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->stop = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
}

void serve_sched_free(serve_sched *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->done);
    free(s);
}
