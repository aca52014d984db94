/* The supervisor thread: launches workers (and relaunches dead ones), dispatches jobs to idle workers, reads their
 * frames, enforces a backstop deadline, evicts idle sessions, and on shutdown kills every worker and fails what is
 * left. Everything it touches is guarded by pool->mu, which it drops around blocking I/O and callbacks. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timer.h"
#include "sandbox/sbx_pool_internal.h"

static void wake(sbx_pool *p) {
    ssize_t ignored = write(p->wake[1], "w", 1);
    (void)ignored;
}

rt_status sbx_pool_enqueue(sbx_pool *p, sbx_job *job, sbx_session *s, sbx_job **job_out, rt_error *err) {
    pthread_mutex_lock(&p->mu);
    rt_status st = RT_OK;
    if (p->stop) {
        st = rt_err_set(err, RT_EBUSY, "the sandbox pool is shutting down");
    } else if (!s && p->qlen >= p->cfg.queue_max) {
        p->rejected_busy++;
        st = rt_err_set(err, RT_EBUSY, "sandbox busy: %d jobs queued (the limit) and %d workers", p->qlen, p->nw);
    } else if (job->kind == SBX_JOB_OPEN && p->nsessions >= p->cfg.workers * p->cfg.sessions_per_worker) {
        p->rejected_busy++;
        st = rt_err_set(err, RT_EBUSY, "sandbox busy: all %d session slots are in use", p->nsessions);
    }
    if (st) {
        pthread_mutex_unlock(&p->mu);
        free(job->hdr);
        free(job->payload);
        free(job);
        return st;
    }
    if (job->kind == SBX_JOB_OPEN) {
        s = NULL;
        job->session->next = p->sessions;
        job->session->t_open = job->session->t_last = rt_time_now();
        p->sessions = job->session;
        p->nsessions++;
    }
    if (s) {
        if (s->tail)
            s->tail->next = job;
        else
            s->head = job;
        s->tail = job;
        s->t_last = rt_time_now();
    } else {
        if (p->qtail)
            p->qtail->next = job;
        else
            p->qhead = job;
        p->qtail = job;
        p->qlen++;
    }
    p->submitted++;
    if (!job->cb) *job_out = job;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    return RT_OK;
}

static int list_remove(sbx_job **head, sbx_job **tail, sbx_job *job) {
    sbx_job *prev = NULL;
    for (sbx_job *j = *head; j; prev = j, j = j->next) {
        if (j != job) continue;
        if (prev)
            prev->next = j->next;
        else
            *head = j->next;
        if (*tail == j) *tail = prev;
        j->next = NULL;
        return 1;
    }
    return 0;
}

int sbx_queue_remove(sbx_pool *p, sbx_job *job) {
    if (list_remove(&p->qhead, &p->qtail, job)) {
        p->qlen--;
        return 1;
    }
    return job->session && list_remove(&job->session->head, &job->session->tail, job);
}

void sbx_session_unlink(sbx_pool *p, sbx_session *s) {
    for (sbx_session **pp = &p->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            p->nsessions--;
            return;
        }
}

/* ---- workers ---- */

static void worker_start(sbx_pool *p, sbx_worker *w) {
    pid_t pid;
    int fd;
    rt_error err;
    rt_err_clear(&err);
    pthread_mutex_unlock(&p->mu);
    rt_status st = sbx_launch_worker(&p->launch, w->idx,
                                     (w->cg.mem[0] || w->cg.pids[0] || w->cg.cpu[0]) ? &w->cg : NULL, &pid, &fd, &err);
    if (!st) {
        char init[512];
        const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
        snprintf(init, sizeof init,
                 "{\"t\":\"init\",\"full\":%s,\"tmpfs_mb\":%lld,\"uid\":%d,\"acct\":%d,\"env\":{%s%s%s%s%s%s%s}}",
                 w->light ? "false" : "true", (long long)p->cfg.tmpfs_mb,
                 p->launch.uid_mode == SBX_UIDS_SELF ? 0 : 1000, w->cg.run[0] != 0,
                 ct ? "\"OPENBLAS_CORETYPE\":\"" : "", ct ? ct : "", ct ? "\"" : "", ct && l2 ? "," : "",
                 l2 ? "\"OPENBLAS_L2_SIZE\":\"" : "", l2 ? l2 : "", l2 ? "\"" : "");
        const void *blobs[1] = {p->child_prog};
        size_t lens[1] = {p->child_prog_len * sizeof *p->child_prog};
        if (sbx_proto_send(fd, init, blobs, lens, 1)) {
            st = rt_err_errno(&err, RT_EIO, errno, "sending the sandbox worker its configuration");
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(fd);
        } else {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
    }
    pthread_mutex_lock(&p->mu);
    if (st) {
        w->state = SBX_W_DEAD;
        w->fails++;
        w->restart_at = rt_time_now() + (w->fails > 3 ? 2.0 : 0.2);
        if (p->ready_count < p->nw && !p->start_failed) {
            p->start_failed = 1;
            p->start_err = err;
            pthread_cond_broadcast(&p->cv);
        }
        rt_log_warn("sandbox worker %d failed to start: %s", w->idx, err.msg);
        return;
    }
    w->pid = pid;
    w->fd = fd;
    w->state = SBX_W_STARTING;
    w->deadline = rt_time_now() + 60;
    w->oom_before = sbx_cgroup_oom_kills(&w->cg);
}

static void session_child_gone(sbx_pool *p, sbx_session *s) {
    (void)p;
    s->alive = 0;
    s->child_live = 0;
}

/* The worker died (or was killed): reap it, fail its job, orphan its sessions, schedule a restart. */
static void worker_dead(sbx_pool *p, sbx_worker *w, const char *why) {
    int status = 0;
    kill(w->pid, SIGKILL);
    waitpid(w->pid, &status, 0);
    close(w->fd);
    w->fd = -1;
    w->pid = 0;
    sbx_reader_free(&w->rd);
    int64_t oom = sbx_cgroup_oom_kills(&w->cg);
    int oom_killed = oom > w->oom_before && w->oom_before >= 0;
    for (sbx_session *s = p->sessions; s; s = s->next)
        if (s->worker == w->idx) {
            session_child_gone(p, s);
            s->worker = -1;
        }
    w->nsessions = 0;
    sbx_job *job = w->cur;
    w->cur = NULL;
    int was_starting = w->state == SBX_W_STARTING;
    w->state = SBX_W_DEAD;
    w->restart_at = rt_time_now();
    p->restarts++;
    if (job) {
        if (job->session) job->session->busy = 0;
        char msg[300];
        if (w->deadline_kill) {
            job->res.status = SBX_TIMEOUT;
            job->res.wall_s = job->limits.wall_s;
            snprintf(msg, sizeof msg, "wall-clock limit of %g s reached (the worker was killed)", job->limits.wall_s);
            sbx_job_fail(p, job, SBX_TIMEOUT, msg);
        } else if (oom_killed) {
            snprintf(msg, sizeof msg, "memory limit reached: the worker's memory cgroup killed it");
            sbx_job_fail(p, job, SBX_MEMORY, msg);
        } else {
            snprintf(msg, sizeof msg, "sandbox worker %d died (%s, wait status %d)", w->idx, why, status);
            sbx_job_fail(p, job, SBX_SANDBOX_ERROR, msg);
        }
    }
    w->deadline_kill = 0;
    if (was_starting) {
        w->fails++;
        w->restart_at = rt_time_now() + (w->fails > 3 ? 2.0 : 0.2);
        if (p->ready_count < p->nw && !p->start_failed && w->fails > 2) {
            p->start_failed = 1;
            rt_err_set(&p->start_err, RT_EUNSUPPORTED, "sandbox worker %d exited while starting (%s, status %d)",
                       w->idx, why, status);
            pthread_cond_broadcast(&p->cv);
        }
    }
    if (!p->stop) rt_log_debug("sandbox worker %d restarting after: %s", w->idx, why);
}

static void handle_frame(sbx_pool *p, sbx_worker *w, const char *hdr_text, unsigned char *body, size_t body_len) {
    cJSON *hdr = cJSON_Parse(hdr_text);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(hdr, "t");
    const char *type = cJSON_IsString(t) ? t->valuestring : "";
    if (!strcmp(type, "ready")) {
        if (w->state == SBX_W_STARTING) {
            w->state = SBX_W_IDLE;
            w->idle_since = rt_time_now();
            w->fails = 0;
            p->ready_count++;
            pthread_cond_broadcast(&p->cv);
        }
    } else if (w->cur) {
        sbx_job *job = w->cur;
        sbx_session *s = job->session;
        w->cur = NULL;
        w->state = SBX_W_IDLE; /* the next job may go now: it waits in the socket while the worker pre-forks */
        w->idle_since = rt_time_now();
        if (s) {
            s->busy = 0;
            s->t_last = rt_time_now();
        }
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(hdr, "why");
        if (!strcmp(type, "done") && w->light && !s && !job->rerouted && cJSON_IsString(why) &&
            !strcmp(why->valuestring, "full") && !job->abandoned) {
            /* It imported a full-tier preload: run it again, from the start, on a full worker (ahead of the queue). */
            job->rerouted = 1;
            job->light_ok = 0;
            job->worker = -1;
            job->next = p->qhead;
            p->qhead = job;
            if (!p->qtail) p->qtail = job;
            p->qlen++;
        } else if (!strcmp(type, "done")) {
            int64_t oom = sbx_cgroup_oom_kills(&w->cg);
            sbx_result_from_worker(job, hdr, body, body_len, oom > w->oom_before && w->oom_before >= 0);
            w->oom_before = oom;
            if (s && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hdr, "session_alive"))) {
                session_child_gone(p, s);
                if (s->worker == w->idx) w->nsessions--;
                s->worker = -1;
            }
            sbx_job_finish(p, job);
        } else if (!strcmp(type, "opened")) {
            s->alive = s->child_live = 1;
            job->res.status = SBX_OK;
            sbx_job_finish(p, job);
        } else if (!strcmp(type, "closed")) {
            if (s->child_live && s->worker == w->idx) w->nsessions--;
            session_child_gone(p, s);
            s->worker = -1;
            job->res.status = SBX_OK;
            sbx_job_finish(p, job);
        } else {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(hdr, "message");
            if (job->kind == SBX_JOB_OPEN && s->worker == w->idx) {
                w->nsessions--;
                s->worker = -1;
            }
            sbx_job_fail(p, job, SBX_SANDBOX_ERROR, cJSON_IsString(m) ? m->valuestring : "sandbox worker error");
        }
    } else if (!strcmp(type, "error")) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(hdr, "message");
        rt_log_warn("sandbox worker %d: %s", w->idx, cJSON_IsString(m) ? m->valuestring : "error");
    }
    cJSON_Delete(hdr);
    free(body);
}

/* Sends job to idle worker w (lock held; dropped during the write). */
static void dispatch_to(sbx_pool *p, sbx_worker *w, sbx_job *job) {
    w->state = SBX_W_BUSY;
    w->cur = job;
    job->worker = w->idx;
    job->t_start = rt_time_now();
    w->deadline = job->t_start + job->limits.wall_s + 5.0;
    if (job->session) {
        job->session->busy = 1;
        if (job->kind == SBX_JOB_OPEN) {
            job->session->worker = w->idx;
            w->nsessions++;
        }
    }
    int fd = w->fd;
    pthread_mutex_unlock(&p->mu);
    const void *blobs[1] = {job->payload};
    size_t lens[1] = {job->payload_len};
    int rc = sbx_proto_send(fd, job->hdr, blobs, lens, job->payload ? 1 : 0);
    int e = errno;
    pthread_mutex_lock(&p->mu);
    if (rc && w->cur == job) {
        rt_log_warn("sandbox worker %d: sending a job failed: %s", w->idx, strerror(e));
        kill(w->pid, SIGKILL);
    }
}

/* Session jobs that can be settled without a worker: cells of a dead session fail, closes of a dead one succeed.
 * Starts over from the head after each one: a callback may have changed the list. */
static void settle_dead_sessions(sbx_pool *p) {
    for (;;) {
        sbx_session *s = p->sessions;
        while (s && !(s->head && !s->busy && !s->child_live))
            s = s->next;
        if (!s) return;
        sbx_job *job = s->head;
        s->head = job->next;
        if (!s->head) s->tail = NULL;
        job->next = NULL;
        if (job->kind == SBX_JOB_CLOSE) {
            job->res.status = SBX_OK;
            sbx_job_finish(p, job);
        } else {
            sbx_job_fail(p, job, SBX_SANDBOX_ERROR,
                         "the session is no longer alive (closed, evicted, timed out, or its worker died)");
        }
    }
}

#define LIGHT_WAIT_S 0.05

/* The job idle worker w takes next (lock held): a full worker serves its own sessions first, then the queue's head;
 * a light worker takes the first queued run that the light tier may serve; full workers leave those runs to it. */
static sbx_job *next_job(sbx_pool *p, sbx_worker *w) {
    if (w->light) {
        for (sbx_job *j = p->qhead; j; j = j->next)
            if (j->kind == SBX_JOB_RUN && j->light_ok) {
                sbx_queue_remove(p, j);
                return j;
            }
        return NULL;
    }
    for (sbx_session *s = p->sessions; s; s = s->next)
        if (s->worker == w->idx && s->child_live && !s->busy && s->head) {
            if (s->head->kind == SBX_JOB_RUN && !s->alive) continue; /* settled above */
            sbx_job *job = s->head;
            s->head = job->next;
            if (!s->head) s->tail = NULL;
            job->next = NULL;
            return job;
        }
    int light_alive = 0; /* light runs wait for the light tier while it is up: on a full worker they cost more */
    for (int i = p->cfg.workers; i < p->nw; i++)
        light_alive |= p->w[i].state != SBX_W_DEAD;
    /* ... but not for long: when the light workers are all held (one client's slow runs), a light run that has
     * waited LIGHT_WAIT_S goes to an idle full worker, so that the others' quick runs are not stuck behind them. */
    double stale = rt_time_now() - LIGHT_WAIT_S;
    for (sbx_job *j = p->qhead; j; j = j->next)
        if ((j->kind != SBX_JOB_OPEN || w->nsessions < p->cfg.sessions_per_worker) &&
            !(j->light_ok && light_alive && j->t_submit > stale)) {
            sbx_queue_remove(p, j);
            return j;
        }
    return NULL;
}

/* Gives queued jobs to idle workers: light workers first (the runs they can take leave the full workers free for the
 * others), and within a tier the one idle longest (one that has just answered may still be forking its next child). */
static void dispatch(sbx_pool *p) {
    settle_dead_sessions(p);
    unsigned char tried[512] = {0};
    for (;;) {
        sbx_worker *w = NULL;
        for (int i = 0; i < p->nw; i++) {
            sbx_worker *c = &p->w[i];
            if (c->state != SBX_W_IDLE || tried[i]) continue;
            if (!w || c->light > w->light || (c->light == w->light && c->idle_since < w->idle_since)) w = c;
        }
        if (!w || p->stop) return;
        tried[w->idx] = 1;
        sbx_job *job = next_job(p, w);
        if (job) dispatch_to(p, w, job);
    }
}

static void evict_sessions(sbx_pool *p, double now) {
    for (sbx_session *s = p->sessions; s; s = s->next) {
        if (!s->alive || s->evicting || s->busy || s->head) continue;
        int idle = now - s->t_last > p->cfg.session_idle_s, old = now - s->t_open > p->cfg.session_ttl_s;
        if (!idle && !old) continue;
        sbx_job *job = calloc(1, sizeof *job);
        char hdr[96];
        snprintf(hdr, sizeof hdr, "{\"t\":\"close\",\"session\":%llu}", (unsigned long long)s->sid);
        if (!job || !(job->hdr = strdup(hdr))) {
            free(job);
            continue;
        }
        job->pool = p;
        job->kind = SBX_JOB_CLOSE;
        job->session = s;
        job->worker = -1;
        job->abandoned = 1;
        job->limits.wall_s = 10;
        job->t_submit = now;
        s->alive = 0;
        s->evicting = 1;
        s->head = s->tail = job;
        rt_log_debug("sandbox session %llu evicted (%s)", (unsigned long long)s->sid, idle ? "idle" : "ttl");
    }
}

static void shutdown_all(sbx_pool *p) {
    for (int i = 0; i < p->nw; i++) {
        sbx_worker *w = &p->w[i];
        if (w->state != SBX_W_DEAD) worker_dead(p, w, "pool shutting down");
        sbx_cgroup_destroy(&w->cg);
    }
    while (p->qhead) {
        sbx_job *job = p->qhead;
        sbx_queue_remove(p, job);
        sbx_job_fail(p, job, SBX_SANDBOX_ERROR, "the sandbox pool shut down before the job ran");
    }
    for (sbx_session *s = p->sessions; s; s = s->next) {
        session_child_gone(p, s);
        while (s->head) {
            sbx_job *job = s->head;
            s->head = job->next;
            if (!s->head) s->tail = NULL;
            sbx_job_fail(p, job, SBX_SANDBOX_ERROR, "the sandbox pool shut down");
        }
        s->pool = NULL;
    }
    p->sessions = NULL;
}

void *sbx_supervisor_main(void *arg) {
    sbx_pool *p = arg;
    struct pollfd *pfd = calloc((size_t)p->nw + 1, sizeof *pfd);
    int *who = calloc((size_t)p->nw + 1, sizeof *who);
    pthread_mutex_lock(&p->mu);
    if (!pfd || !who) {
        /* No poll table: the pool cannot run; sbx_pool_init reports this instead of waiting for workers. */
        rt_err_set(&p->start_err, RT_ENOMEM, "sandbox supervisor: out of memory for %d poll entries", p->nw + 1);
        p->start_failed = 1;
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
    }
    while (!p->stop) {
        double now = rt_time_now();
        for (int i = 0; i < p->nw; i++) {
            sbx_worker *w = &p->w[i];
            if (w->state == SBX_W_DEAD && now >= w->restart_at) worker_start(p, w);
            if ((w->state == SBX_W_BUSY || w->state == SBX_W_STARTING) && now > w->deadline && !w->deadline_kill) {
                w->deadline_kill = w->state == SBX_W_BUSY;
                kill(w->pid, SIGKILL);
            }
        }
        evict_sessions(p, now);
        dispatch(p);
        int n = 0;
        pfd[n].fd = p->wake[0];
        pfd[n].events = POLLIN;
        who[n++] = -1;
        for (int i = 0; i < p->nw; i++)
            if (p->w[i].state != SBX_W_DEAD) {
                pfd[n].fd = p->w[i].fd;
                pfd[n].events = POLLIN;
                who[n++] = i;
            }
        pthread_mutex_unlock(&p->mu);
        int rc = poll(pfd, (nfds_t)n, 50);
        pthread_mutex_lock(&p->mu);
        if (rc <= 0) continue;
        if (pfd[0].revents) {
            char buf[256];
            while (read(p->wake[0], buf, sizeof buf) > 0) {
            }
        }
        for (int k = 1; k < n; k++) {
            if (!pfd[k].revents) continue;
            sbx_worker *w = &p->w[who[k]];
            if (w->state == SBX_W_DEAD || w->fd != pfd[k].fd) continue;
            int fr = sbx_reader_fill(&w->rd, w->fd);
            char *hdr;
            unsigned char *body;
            size_t blen;
            int got;
            while ((got = sbx_reader_next(&w->rd, &hdr, &body, &blen)) == 1) {
                handle_frame(p, w, hdr, body, blen);
                free(hdr);
            }
            if (got < 0)
                worker_dead(p, w, "malformed frame");
            else if (fr <= 0)
                worker_dead(p, w, fr == 0 ? "control socket closed" : "control socket error");
        }
    }
    shutdown_all(p);
    pthread_mutex_unlock(&p->mu);
    free(pfd);
    free(who);
    return NULL;
}
