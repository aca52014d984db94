/* Pool start and stop: prepares the launch (paths, environment, seccomp filters), sets up the worker cgroups where
 * the host allows them (warning when it does not), starts the supervisor thread and waits for every worker. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timer.h"
#include "sandbox/sbx_pool_internal.h"

void sbx_pool_shutdown(sbx_pool *p) {
    if (!p->thr_started) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    ssize_t ignored = write(p->wake[1], "s", 1);
    (void)ignored;
    pthread_join(p->thr, NULL);
    p->thr_started = 0;
}

static void pool_destroy(sbx_pool *p) {
    sbx_pool_shutdown(p);
    for (int i = 0; p->w && i < p->nw; i++)
        sbx_cgroup_destroy(&p->w[i].cg);
    sbx_cgroup_host_release(&p->cgh);
    if (p->wake[0] >= 0) close(p->wake[0]);
    if (p->wake[1] >= 0) close(p->wake[1]);
    sbx_launch_free(&p->launch);
    free(p->child_prog);
    free(p->w);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

rt_status sbx_pool_init(sbx_pool **out, const sbx_config *cfg_in, rt_error *err) {
    sbx_config d;
    sbx_config_default(&d);
    sbx_config cfg = cfg_in ? *cfg_in : d;
    if (cfg.workers <= 0) cfg.workers = d.workers;
    if (cfg.queue_max <= 0) cfg.queue_max = d.queue_max;
    if (!cfg.python) cfg.python = d.python;
    if (cfg.worker_memory_mb <= 0) cfg.worker_memory_mb = d.worker_memory_mb;
    if (cfg.worker_pids <= 0) cfg.worker_pids = d.worker_pids;
    if (cfg.tmpfs_mb <= 0) cfg.tmpfs_mb = d.tmpfs_mb;
    if (!cfg.uid_base) cfg.uid_base = d.uid_base;
    if (cfg.sessions_per_worker <= 0) cfg.sessions_per_worker = d.sessions_per_worker;
    if (cfg.session_idle_s <= 0) cfg.session_idle_s = d.session_idle_s;
    if (cfg.session_ttl_s <= 0) cfg.session_ttl_s = d.session_ttl_s;
    if (cfg.light_workers == 0) cfg.light_workers = d.light_workers;
    if (cfg.light_workers < 0) cfg.light_workers = 0;
    if (cfg.workers > 256) return rt_err_set(err, RT_EINVAL, "workers: %d is over 256", cfg.workers);
    if (cfg.light_workers > 256) return rt_err_set(err, RT_EINVAL, "light_workers: %d is over 256", cfg.light_workers);
    sbx_pool *p = calloc(1, sizeof *p);
    if (!p) return rt_err_set(err, RT_ENOMEM, "sandbox pool");
    p->cfg = cfg;
    p->wake[0] = p->wake[1] = -1;
    p->launch.zygote_fd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->nw = cfg.workers + cfg.light_workers;
    p->w = calloc((size_t)p->nw, sizeof *p->w);
    rt_status st = p->w ? RT_OK : rt_err_set(err, RT_ENOMEM, "sandbox workers");
    if (!st && pipe2(p->wake, O_CLOEXEC | O_NONBLOCK)) st = rt_err_errno(err, RT_EIO, errno, "sandbox wake pipe");
    if (!st) st = sbx_launch_prepare(&p->launch, &cfg, err);
    if (!st) st = sbx_seccomp_build(1, &p->child_prog, &p->child_prog_len, err);
    if (st) {
        pool_destroy(p);
        return st;
    }
    char why_mem[300] = "", why_pids[300] = "", why_cpu[300] = "";
    sbx_cgroup_host_acquire(&p->cgh, cfg.cgroup_root);
    for (int i = 0; i < p->nw; i++) {
        sbx_worker *w = &p->w[i];
        w->idx = i;
        w->light = i >= cfg.workers;
        w->fd = -1;
        w->state = SBX_W_DEAD;
        char name[64];
        snprintf(name, sizeof name, "retool-sbx-%d-%d", (int)getpid(), i);
        sbx_cgroup_create(&w->cg, &p->cgh, name, cfg.worker_memory_mb, cfg.worker_pids, why_mem, why_pids, why_cpu,
                          sizeof why_mem);
    }
    /* A controller is in force only when every worker has it (on v2 both share one folder: both or neither). */
    int mem_ok = p->cgh.mem != SBX_CG_NONE, pids_ok = p->cgh.pids != SBX_CG_NONE, cpu_ok = p->cgh.cpu != SBX_CG_NONE;
    for (int i = 0; i < p->nw; i++) {
        mem_ok &= p->w[i].cg.mem[0] != 0;
        pids_ok &= p->w[i].cg.pids[0] != 0;
        cpu_ok &= p->w[i].cg.cpu[0] != 0;
    }
    if (p->cgh.mem == SBX_CG_V2 && p->cgh.pids == SBX_CG_V2) mem_ok = pids_ok = mem_ok && pids_ok;
    for (int i = 0; i < p->nw; i++)
        sbx_cgroup_drop(&p->w[i].cg, !mem_ok, !pids_ok, !cpu_ok);
    if (!cpu_ok && !p->cgh.why_cpu[0]) snprintf(p->cgh.why_cpu, sizeof p->cgh.why_cpu, "%s", why_cpu);
    if (!mem_ok && !p->cgh.why_mem[0])
        snprintf(p->cgh.why_mem, sizeof p->cgh.why_mem, "%s", why_mem[0] ? why_mem : why_pids);
    if (!pids_ok && !p->cgh.why_pids[0])
        snprintf(p->cgh.why_pids, sizeof p->cgh.why_pids, "%s", why_pids[0] ? why_pids : why_mem);
    st = sbx_isolation_check(p, err);
    if (st) {
        pool_destroy(p);
        return st;
    }
    if (pthread_create(&p->thr, NULL, sbx_supervisor_main, p)) {
        pool_destroy(p);
        return rt_err_set(err, RT_EIO, "starting the sandbox supervisor thread");
    }
    p->thr_started = 1;
    double end = rt_time_now() + 120;
    pthread_mutex_lock(&p->mu);
    while (p->ready_count < p->nw && !p->start_failed && rt_time_now() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    int ok = p->ready_count >= p->nw;
    rt_error start_err = p->start_err;
    pthread_mutex_unlock(&p->mu);
    if (!ok) {
        pool_destroy(p);
        if (start_err.msg[0]) {
            *err = start_err;
            return start_err.status ? start_err.status : RT_EUNSUPPORTED;
        }
        return rt_err_set(err, RT_ETIMEOUT, "sandbox workers did not become ready within 120 s");
    }
    *out = p;
    return RT_OK;
}

void sbx_pool_free(sbx_pool *p) {
    if (p) pool_destroy(p);
}

void sbx_pool_stats(sbx_pool *p, sbx_stats *st) {
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&p->mu);
    st->workers = p->nw;
    st->light_workers = p->cfg.light_workers;
    for (int i = 0; i < p->nw; i++) {
        sbx_wstate s = p->w[i].state;
        st->workers_ready += s == SBX_W_IDLE || s == SBX_W_BUSY;
        st->running += s == SBX_W_BUSY;
    }
    st->queued = p->qlen;
    st->sessions = p->nsessions;
    st->submitted = p->submitted;
    st->completed = p->completed;
    st->rejected_busy = p->rejected_busy;
    st->worker_restarts = p->restarts;
    st->cgroup_memory = p->w[0].cg.mem[0] ? (int)p->cgh.mem : 0;
    st->cgroup_pids = p->w[0].cg.pids[0] ? (int)p->cgh.pids : 0;
    st->cgroup_cpu = p->w[0].cg.cpu[0] ? (int)p->cgh.cpu : 0;
    st->uid_mode = p->launch.uid_mode;
    st->code_uid = p->launch.uid_mode == SBX_UIDS_SELF     ? p->launch.own_uid
                   : p->launch.uid_mode == SBX_UIDS_SUBUID ? p->launch.sub_uid
                                                           : p->cfg.uid_base + 1;
    st->weaker = p->weaker;
    snprintf(st->weaker_why, sizeof st->weaker_why, "%s", p->weaker_why);
    snprintf(st->cgroup_why[0], sizeof st->cgroup_why[0], "%s", p->cgh.why_mem);
    snprintf(st->cgroup_why[1], sizeof st->cgroup_why[1], "%s", p->cgh.why_pids);
    snprintf(st->cgroup_why[2], sizeof st->cgroup_why[2], "%s", p->cgh.why_cpu);
    pthread_mutex_unlock(&p->mu);
}

int sbx_pool_worker_pids(sbx_pool *p, int *pids, int max) {
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nw && n < max; i++)
        if (p->w[i].pid > 0) pids[n++] = p->w[i].pid;
    pthread_mutex_unlock(&p->mu);
    return n;
}
