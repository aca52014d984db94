/* The pool's private structures, shared by sbx_pool.c (jobs, requests, sessions) and sbx_supervisor.c (the thread
 * that owns the workers). */
#ifndef RETOOL_SANDBOX_POOL_INTERNAL_H
#define RETOOL_SANDBOX_POOL_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

#include "sandbox/sandbox.h"
#include "sandbox/sbx_internal.h"

typedef enum sbx_job_kind { SBX_JOB_RUN, SBX_JOB_OPEN, SBX_JOB_CLOSE } sbx_job_kind;

struct sbx_job {
    sbx_pool *pool;
    sbx_job_kind kind;
    char *hdr;              /* JSON header sent to the worker */
    unsigned char *payload; /* the code */
    size_t payload_len;
    sbx_limits limits;
    sbx_callback cb;
    void *user;
    sbx_session *session; /* cells, open and close */
    atomic_int done;
    int abandoned; /* the caller freed it before it finished */
    int worker;    /* index of the worker running it, -1 while queued */
    int light_ok;  /* a run the light tier may take */
    int rerouted;  /* it stopped on the light tier at a full-tier import and waits for a full worker */
    double t_submit, t_start;
    sbx_result res;
    sbx_job *next;
};

struct sbx_session {
    sbx_pool *pool; /* NULL once the pool is gone */
    uint64_t sid;
    int worker;     /* the worker holding its child, -1 until opened */
    int alive;      /* cells may run */
    int child_live; /* the worker still holds the child */
    int busy;       /* one of its jobs is on the worker */
    int evicting;
    double t_open, t_last;
    sbx_limits lim;
    sbx_job *head, *tail; /* cells and close, in order */
    sbx_session *next;    /* the pool's list */
};

typedef enum sbx_wstate { SBX_W_DEAD, SBX_W_STARTING, SBX_W_IDLE, SBX_W_BUSY } sbx_wstate;

typedef struct sbx_worker {
    int idx;
    int light;         /* standard library only preloaded */
    double idle_since; /* when it last became idle: the longest idle goes first (its child is surely ready) */
    pid_t pid;
    int fd;
    sbx_wstate state;
    sbx_reader rd;
    sbx_job *cur;
    double deadline;
    int deadline_kill;
    sbx_cgroup cg;
    int64_t oom_before;
    int nsessions;
    int fails;
    double restart_at;
} sbx_worker;

struct sbx_pool {
    sbx_config cfg;
    sbx_launch launch;
    struct sock_filter *child_prog;
    size_t child_prog_len;
    sbx_worker *w; /* [nw]: cfg.workers full ones, then cfg.light_workers light ones */
    int nw;
    pthread_t thr;
    int thr_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake[2];
    int stop;
    sbx_job *qhead, *qtail;
    int qlen;
    sbx_session *sessions;
    int nsessions;
    uint64_t next_sid;
    int ready_count;
    int start_failed;
    rt_error start_err;
    sbx_cgroup_host cgh;
    unsigned weaker; /* SBX_WEAK_* not in force */
    char weaker_why[700];
    int64_t submitted, completed, rejected_busy, restarts;
};

/* Queues job (on session s when not NULL) and wakes the supervisor; RT_EBUSY when full. */
rt_status sbx_pool_enqueue(sbx_pool *p, sbx_job *job, sbx_session *s, sbx_job **job_out, rt_error *err);

/* Takes job out of the main queue or its session's queue (lock held); returns 1 when it was queued. */
int sbx_queue_remove(sbx_pool *p, sbx_job *job);

/* Removes s from the pool's session list (lock held). */
void sbx_session_unlink(sbx_pool *p, sbx_session *s);

/* Marks job finished (lock held; may drop it to run a callback). */
void sbx_job_finish(sbx_pool *p, sbx_job *job);

/* Finishes job with status st and message msg (lock held). */
void sbx_job_fail(sbx_pool *p, sbx_job *job, sbx_status st, const char *msg);

/* The supervisor thread's body (sbx_supervisor.c); arg is the pool. */
void *sbx_supervisor_main(void *arg);

/* Sets p->weaker from what the pool got (cgroups, uid mode) and refuses (RT_EUNSUPPORTED, naming each protection
 * and the flag) when one is missing that p->cfg.allow_weaker does not name (sbx_weaker.c). */
rt_status sbx_isolation_check(sbx_pool *p, rt_error *err);

/* Fills job->res from a worker's "done" frame. */
void sbx_result_from_worker(sbx_job *job, const cJSON *hdr, const unsigned char *body, size_t body_len,
                            int64_t oom_kills);

#endif
