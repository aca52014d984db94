/* The pool supervisor: one thread owns every worker's control socket. It dispatches queued jobs to idle workers,
 * collects results, enforces a backstop deadline, restarts dead workers and evicts idle sessions. Submitters only
 * take the mutex to queue: submission never blocks on a worker. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/timer.h"
#include "sandbox/sbx_internal.h"
#include "sandbox/sbx_pool_internal.h"

void sbx_config_default(sbx_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->workers = 2;
    cfg->light_workers = 2;
    cfg->queue_max = 64;
    cfg->python = "/usr/bin/python3";
    cfg->worker_memory_mb = 4096;
    cfg->worker_pids = 512;
    cfg->tmpfs_mb = 64;
    cfg->uid_base = 0x70000000u; /* above the /etc/subuid ranges Debian hands out and the nspawn range */
    cfg->sessions_per_worker = 8;
    cfg->session_idle_s = 300;
    cfg->session_ttl_s = 3600;
}

void sbx_limits_default(sbx_limits *lim) {
    memset(lim, 0, sizeof *lim);
    lim->wall_s = 10;
    lim->cpu_s = 10;
    lim->memory_mb = 1024;
    lim->output_bytes = 1 << 20;
    lim->file_bytes = 16 << 20;
    lim->nproc = 64;
    lim->fetch_bytes = 8 << 20;
}

const char *sbx_status_name(sbx_status status) {
    switch (status) {
    case SBX_OK:
        return "ok";
    case SBX_ERROR:
        return "error";
    case SBX_TIMEOUT:
        return "timeout";
    case SBX_MEMORY:
        return "memory";
    case SBX_OUTPUT_LIMIT:
        return "output-limit";
    case SBX_SANDBOX_ERROR:
        return "sandbox-error";
    }
    return "unknown";
}

void sbx_result_free(sbx_result *res) {
    free(res->out);
    free(res->err);
    for (size_t i = 0; i < res->nfiles; i++) {
        free(res->files[i].name);
        free(res->files[i].data);
    }
    free(res->files);
    res->out = res->err = NULL;
    res->files = NULL;
    res->nfiles = 0;
}

static void *dup_bytes(const void *p, size_t n) {
    char *q = malloc(n + 1);
    if (!q) return NULL;
    if (n) memcpy(q, p, n);
    q[n] = 0;
    return q;
}

rt_status sbx_result_copy(sbx_result *dst, const sbx_result *src) {
    *dst = *src;
    dst->out = dup_bytes(src->out ? src->out : "", src->out_len);
    dst->err = dup_bytes(src->err ? src->err : "", src->err_len);
    dst->files = src->nfiles ? calloc(src->nfiles, sizeof *dst->files) : NULL;
    int bad = !dst->out || !dst->err || (src->nfiles && !dst->files);
    for (size_t i = 0; !bad && i < src->nfiles; i++) {
        dst->files[i].name = dup_bytes(src->files[i].name, strlen(src->files[i].name));
        dst->files[i].data = dup_bytes(src->files[i].data, src->files[i].len);
        dst->files[i].len = src->files[i].len;
        bad = !dst->files[i].name || !dst->files[i].data;
    }
    if (bad) {
        sbx_result_free(dst);
        return RT_ENOMEM;
    }
    return RT_OK;
}

/* ---- jobs ---- */

static void job_destroy(sbx_job *job) {
    free(job->hdr);
    free(job->payload);
    sbx_result_free(&job->res);
    free(job);
}

/* Marks job finished (lock held); runs its callback without the lock, or wakes its waiter. */
void sbx_job_finish(sbx_pool *p, sbx_job *job) {
    if (!job->res.out) job->res.out = dup_bytes("", 0);
    if (!job->res.err) job->res.err = dup_bytes("", 0);
    job->res.queue_s = job->t_start > 0 ? job->t_start - job->t_submit : rt_time_now() - job->t_submit;
    p->completed++;
    if (job->cb) {
        pthread_mutex_unlock(&p->mu);
        job->cb(&job->res, job->user);
        pthread_mutex_lock(&p->mu);
        atomic_store(&job->done, 1);
        job_destroy(job);
        return;
    }
    if (job->abandoned) {
        job_destroy(job);
        return;
    }
    atomic_store(&job->done, 1);
    pthread_cond_broadcast(&p->cv);
}

/* Finishes job with a sandbox error carrying msg (lock held). */
void sbx_job_fail(sbx_pool *p, sbx_job *job, sbx_status st, const char *msg) {
    job->res.status = st;
    job->res.exit_code = -1;
    snprintf(job->res.message, sizeof job->res.message, "%s", msg);
    sbx_job_finish(p, job);
}

int sbx_job_done(sbx_job *job) {
    return atomic_load(&job->done);
}

int sbx_job_wait(sbx_job *job, double timeout_s) {
    if (atomic_load(&job->done)) return 1;
    sbx_pool *p = job->pool;
    double end = rt_time_now() + timeout_s;
    pthread_mutex_lock(&p->mu);
    while (!atomic_load(&job->done)) {
        if (timeout_s < 0) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        double left = end - rt_time_now();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + left;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&job->done);
}

const sbx_result *sbx_job_result(sbx_job *job) {
    return atomic_load(&job->done) ? &job->res : NULL;
}

void sbx_job_free(sbx_job *job) {
    if (!job) return;
    if (atomic_load(&job->done)) {
        job_destroy(job);
        return;
    }
    sbx_pool *p = job->pool;
    pthread_mutex_lock(&p->mu);
    if (atomic_load(&job->done)) {
        pthread_mutex_unlock(&p->mu);
        job_destroy(job);
        return;
    }
    job->abandoned = 1;
    if (sbx_queue_remove(p, job)) {
        job_destroy(job);
    } else if (job->worker >= 0) {
        sbx_worker *w = &p->w[job->worker];
        if (w->pid > 0) kill(w->pid, SIGKILL); /* kills the whole process tree; the supervisor restarts it */
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---- requests ---- */

static void limits_fill(sbx_limits *out, const sbx_limits *in) {
    sbx_limits d;
    sbx_limits_default(&d);
    *out = in ? *in : d;
    if (out->wall_s <= 0) out->wall_s = d.wall_s;
    if (out->cpu_s <= 0) out->cpu_s = out->wall_s;
    if (out->memory_mb == 0) out->memory_mb = d.memory_mb;
    if (out->output_bytes <= 0) out->output_bytes = d.output_bytes;
    if (out->file_bytes <= 0) out->file_bytes = d.file_bytes;
    if (out->nproc <= 0) out->nproc = d.nproc;
    if (out->fetch_bytes <= 0) out->fetch_bytes = d.fetch_bytes;
}

static rt_status limits_check(const sbx_limits *l, rt_error *err) {
    if (l->wall_s > 86400) return rt_err_set(err, RT_EINVAL, "limits.wall_s: %g s is over one day", l->wall_s);
    if (l->cpu_s > 86400) return rt_err_set(err, RT_EINVAL, "limits.cpu_s: %g s is over one day", l->cpu_s);
    if (l->memory_mb < -1 || l->memory_mb > (1 << 20))
        return rt_err_set(err, RT_EINVAL, "limits.memory_mb: %lld is not -1 or 1..1048576", (long long)l->memory_mb);
    if (l->output_bytes > (1ll << 30))
        return rt_err_set(err, RT_EINVAL, "limits.output_bytes: %lld is over 1 GiB", (long long)l->output_bytes);
    if (l->fetch_bytes > (1ll << 30))
        return rt_err_set(err, RT_EINVAL, "limits.fetch_bytes: %lld is over 1 GiB", (long long)l->fetch_bytes);
    if (l->nproc > 4096) return rt_err_set(err, RT_EINVAL, "limits.nproc: %lld is over 4096", (long long)l->nproc);
    return RT_OK;
}

static cJSON *limits_json(const sbx_limits *l) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "wall", l->wall_s);
    cJSON_AddNumberToObject(o, "cpu", l->cpu_s);
    cJSON_AddNumberToObject(o, "mem_mb", (double)l->memory_mb);
    cJSON_AddNumberToObject(o, "out_cap", (double)l->output_bytes);
    cJSON_AddNumberToObject(o, "fsize", (double)l->file_bytes);
    cJSON_AddNumberToObject(o, "nproc", (double)l->nproc);
    cJSON_AddNumberToObject(o, "fetch_cap", (double)l->fetch_bytes);
    return o;
}

static rt_status files_json(cJSON *msg, const sbx_file *files, size_t n, rt_error *err) {
    cJSON *o = cJSON_AddObjectToObject(msg, "files");
    for (size_t i = 0; i < n; i++) {
        if (!sbx_name_ok(files[i].name))
            return rt_err_set(err, RT_EINVAL, "files[%zu]: name '%s' must be a relative path without '.' or '..'", i,
                              files[i].name ? files[i].name : "(null)");
        char *b = sbx_b64_encode(files[i].data, files[i].len);
        if (!b) return rt_err_set(err, RT_ENOMEM, "files[%zu]: out of memory", i);
        cJSON_AddStringToObject(o, files[i].name, b);
        free(b);
    }
    return RT_OK;
}

static sbx_job *job_new(sbx_pool *p, sbx_job_kind kind, sbx_callback cb, void *user) {
    sbx_job *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    job->pool = p;
    job->kind = kind;
    job->cb = cb;
    job->user = user;
    job->worker = -1;
    job->t_submit = rt_time_now();
    return job;
}

static rt_status job_set_header(sbx_job *job, cJSON *msg, rt_error *err) {
    job->hdr = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    if (!job->hdr) return rt_err_set(err, RT_ENOMEM, "serialising a sandbox request");
    return RT_OK;
}

/* Builds the worker message for a run (session NULL) or a session cell. */
static rt_status job_build_run(sbx_job *job, const sbx_request *req, const sbx_session *s, rt_error *err) {
    if (!req->code) return rt_err_set(err, RT_EINVAL, "code: missing");
    sbx_limits lim;
    limits_fill(&lim, &req->limits);
    rt_status st = limits_check(&lim, err);
    if (st) return st;
    job->limits = lim;
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "t", "run");
    cJSON_AddItemToObject(msg, "limits", limits_json(&lim));
    if (s) cJSON_AddNumberToObject(msg, "session", (double)s->sid);
    st = files_json(msg, req->files, req->nfiles, err);
    if (!st && req->stdin_data && req->stdin_len) {
        char *b = sbx_b64_encode(req->stdin_data, req->stdin_len);
        if (!b)
            st = rt_err_set(err, RT_ENOMEM, "stdin: out of memory");
        else
            cJSON_AddStringToObject(msg, "stdin", b);
        free(b);
    }
    if (!st && req->nfetch) {
        cJSON *a = cJSON_AddArrayToObject(msg, "fetch");
        for (size_t i = 0; i < req->nfetch && !st; i++) {
            if (!sbx_name_ok(req->fetch[i]))
                st = rt_err_set(err, RT_EINVAL, "fetch_files[%zu]: '%s' must be a relative path without '..'", i,
                                req->fetch[i] ? req->fetch[i] : "(null)");
            else
                cJSON_AddItemToArray(a, cJSON_CreateString(req->fetch[i]));
        }
    }
    if (st) {
        cJSON_Delete(msg);
        return st;
    }
    job->payload = dup_bytes(req->code, req->code_len);
    job->payload_len = req->code_len;
    if (!job->payload) {
        cJSON_Delete(msg);
        return rt_err_set(err, RT_ENOMEM, "code: out of memory");
    }
    return job_set_header(job, msg, err);
}

rt_status sbx_pool_submit(sbx_pool *p, const sbx_request *req, sbx_callback cb, void *user, sbx_job **job_out,
                          rt_error *err) {
    if (!cb && !job_out) return rt_err_set(err, RT_EINVAL, "sbx_pool_submit: neither a callback nor a job pointer");
    sbx_job *job = job_new(p, SBX_JOB_RUN, cb, user);
    if (!job) return rt_err_set(err, RT_ENOMEM, "sandbox job");
    rt_status st = job_build_run(job, req, NULL, err);
    if (st) {
        job_destroy(job);
        return st;
    }
    job->light_ok = !sbx_code_needs_full(req->code, req->code_len);
    return sbx_pool_enqueue(p, job, NULL, job_out, err);
}

rt_status sbx_pool_run(sbx_pool *p, const sbx_request *req, sbx_result *res, rt_error *err) {
    sbx_job *job;
    rt_status st = sbx_pool_submit(p, req, NULL, NULL, &job, err);
    if (st) return st;
    sbx_job_wait(job, -1);
    st = sbx_result_copy(res, sbx_job_result(job));
    sbx_job_free(job);
    if (st) return rt_err_set(err, st, "copying a sandbox result");
    return RT_OK;
}

/* ---- sessions ---- */

rt_status sbx_session_open(sbx_pool *p, const sbx_limits *lim, const sbx_file *files, size_t nfiles, sbx_session **out,
                           rt_error *err) {
    sbx_session *s = calloc(1, sizeof *s);
    sbx_job *job = job_new(p, SBX_JOB_OPEN, NULL, NULL);
    if (!s || !job) {
        free(s);
        free(job);
        return rt_err_set(err, RT_ENOMEM, "sandbox session");
    }
    s->pool = p;
    s->worker = -1;
    limits_fill(&s->lim, lim);
    rt_status st = limits_check(&s->lim, err);
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "t", "open");
    cJSON_AddItemToObject(msg, "limits", limits_json(&s->lim));
    if (!st) st = files_json(msg, files, nfiles, err);
    if (st) {
        cJSON_Delete(msg);
        job_destroy(job);
        free(s);
        return st;
    }
    pthread_mutex_lock(&p->mu);
    s->sid = ++p->next_sid;
    pthread_mutex_unlock(&p->mu);
    cJSON_AddNumberToObject(msg, "session", (double)s->sid);
    if ((st = job_set_header(job, msg, err))) {
        job_destroy(job);
        free(s);
        return st;
    }
    job->limits = s->lim;
    job->limits.wall_s = 20;
    job->session = s;
    sbx_job *j;
    st = sbx_pool_enqueue(p, job, NULL, &j, err);
    if (st) {
        free(s);
        return st;
    }
    sbx_job_wait(j, -1);
    const sbx_result *r = sbx_job_result(j);
    if (r->status != SBX_OK) {
        st = rt_err_set(err, RT_EIO, "opening a sandbox session: %s", r->message);
        sbx_job_free(j);
        pthread_mutex_lock(&p->mu);
        sbx_session_unlink(p, s);
        pthread_mutex_unlock(&p->mu);
        free(s);
        return st;
    }
    sbx_job_free(j);
    *out = s;
    return RT_OK;
}

rt_status sbx_session_submit(sbx_session *s, const char *code, size_t code_len, const sbx_limits *lim, sbx_callback cb,
                             void *user, sbx_job **job_out, rt_error *err) {
    if (!s->pool) return rt_err_set(err, RT_EINVAL, "sandbox session: the pool is gone");
    if (!cb && !job_out) return rt_err_set(err, RT_EINVAL, "sbx_session_submit: neither a callback nor a job");
    sbx_job *job = job_new(s->pool, SBX_JOB_RUN, cb, user);
    if (!job) return rt_err_set(err, RT_ENOMEM, "sandbox job");
    sbx_request req = {.code = code, .code_len = code_len};
    if (lim) req.limits = *lim;
    rt_status st = job_build_run(job, &req, s, err);
    if (st) {
        job_destroy(job);
        return st;
    }
    job->session = s;
    return sbx_pool_enqueue(s->pool, job, s, job_out, err);
}

rt_status sbx_session_run(sbx_session *s, const char *code, size_t code_len, const sbx_limits *lim, sbx_result *res,
                          rt_error *err) {
    sbx_job *job;
    rt_status st = sbx_session_submit(s, code, code_len, lim, NULL, NULL, &job, err);
    if (st) return st;
    sbx_job_wait(job, -1);
    st = sbx_result_copy(res, sbx_job_result(job));
    sbx_job_free(job);
    return st ? rt_err_set(err, st, "copying a sandbox result") : RT_OK;
}

int sbx_session_alive(sbx_session *s) {
    if (!s->pool) return 0;
    pthread_mutex_lock(&s->pool->mu);
    int alive = s->alive;
    pthread_mutex_unlock(&s->pool->mu);
    return alive;
}

void sbx_session_close(sbx_session *s) {
    if (!s) return;
    sbx_pool *p = s->pool;
    if (p) {
        sbx_job *job = job_new(p, SBX_JOB_CLOSE, NULL, NULL);
        char hdr[96];
        snprintf(hdr, sizeof hdr, "{\"t\":\"close\",\"session\":%llu}", (unsigned long long)s->sid);
        if (job) job->hdr = strdup(hdr);
        if (job && job->hdr) {
            job->session = s;
            job->limits.wall_s = 10;
            sbx_job *j;
            rt_error err;
            if (sbx_pool_enqueue(p, job, s, &j, &err) == RT_OK) {
                sbx_job_wait(j, -1);
                sbx_job_free(j);
            }
        } else if (job) {
            job_destroy(job);
        }
        pthread_mutex_lock(&p->mu);
        sbx_session_unlink(p, s);
        pthread_mutex_unlock(&p->mu);
    }
    free(s);
}
