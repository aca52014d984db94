/* The sandbox executor: a pool of isolated Python workers (docs/SANDBOX.md). Submission never blocks: a bounded
 * queue answers RT_EBUSY when full. Results arrive by callback (on the pool's supervisor thread) or by polling a job.
 * Stateful sessions keep one child alive so variables persist across code cells. */
#ifndef RETOOL_SANDBOX_SANDBOX_H
#define RETOOL_SANDBOX_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum sbx_status {
    SBX_OK = 0,        /* exited with code 0 */
    SBX_ERROR,         /* non-zero exit, uncaught exception or killed by a signal */
    SBX_TIMEOUT,       /* wall-clock or CPU limit reached; the process tree was killed */
    SBX_MEMORY,        /* memory limit reached (MemoryError or killed by the memory cgroup) */
    SBX_OUTPUT_LIMIT,  /* stdout or stderr exceeded the output cap; the process tree was killed */
    SBX_SANDBOX_ERROR, /* the sandbox itself failed (worker died, setup failed, bad request) */
} sbx_status;

/* Per-run limits; a zero field takes the default shown. */
typedef struct sbx_limits {
    double wall_s;        /* wall-clock timeout (10 s) */
    double cpu_s;         /* CPU seconds (= wall_s) */
    int64_t memory_mb;    /* address space on top of the worker's own (+ 64 MiB of headroom) (1024 MiB): the same on
                           * both tiers (a light-tier run that imports numpy/sympy/mpmath is rerun on the full
                           * tier); -1 = no limit */
    int64_t output_bytes; /* cap per stream, stdout and stderr each (1 MiB) */
    int64_t file_bytes;   /* largest file the program may write (16 MiB) */
    int64_t nproc;        /* processes and threads (64) */
    int64_t fetch_bytes;  /* all fetched files together (8 MiB); each one is also capped at output_bytes */
} sbx_limits;

/* A file placed in the work dir before the run, or fetched from it after. name is relative, without "..". */
typedef struct sbx_file {
    char *name;
    unsigned char *data;
    size_t len;
} sbx_file;

typedef struct sbx_request {
    const char *code; /* Python source, UTF-8 */
    size_t code_len;
    const char *stdin_data; /* may be NULL: stdin is then /dev/null */
    size_t stdin_len;
    const sbx_file *files; /* written into the work dir (the program's cwd) */
    size_t nfiles;
    const char *const *fetch; /* work-dir files returned in the result */
    size_t nfetch;
    sbx_limits limits;
} sbx_request;

typedef struct sbx_result {
    sbx_status status;
    char *out; /* stdout bytes (not NUL-terminated text: may hold any bytes; a NUL follows) */
    size_t out_len;
    char *err; /* stderr bytes, a NUL follows */
    size_t err_len;
    int out_truncated, err_truncated;
    int exit_code;        /* exit status, or -1 when killed by a signal */
    int signal;           /* the signal that killed it, 0 if none */
    double wall_s, cpu_s; /* wall-clock time of the run, CPU time of the process tree */
    double queue_s;       /* time spent waiting for a worker */
    sbx_file *files;      /* fetched files */
    size_t nfiles;
    char message[512]; /* why, for SBX_SANDBOX_ERROR and limits; missing fetched files */
} sbx_result;

/* The pool's configuration; zero fields take the defaults shown. */
typedef struct sbx_config {
    int workers;              /* full workers: numpy and sympy preloaded; they also hold sessions (2) */
    int light_workers;        /* extra workers with only the standard library preloaded, for programs that name no
                               * third-party package: a much cheaper fork (2; -1 = none) */
    int queue_max;            /* waiting jobs before RT_EBUSY (64) */
    const char *python;       /* interpreter ("/usr/bin/python3") */
    int64_t worker_memory_mb; /* memory cgroup limit per worker, where writable (4096) */
    int64_t worker_pids;      /* pids cgroup limit per worker, where writable (512) */
    int64_t tmpfs_mb;         /* size of each run's /tmp, /work and /dev/shm (64) */
    uint32_t uid_base; /* worker i's root maps to host uid uid_base+2i, its uid 1000 to uid_base+2i+1 (0x70000000 =
                        * 1879048192: above Debian's /etc/subuid ranges (100000-600100000) and
                        * systemd-nspawn's (524288-1879048191); refused where it overlaps /etc/subuid) */
    int sessions_per_worker; /* live sessions one worker may hold (8) */
    double session_idle_s;   /* idle sessions are evicted after this (300) */
    double session_ttl_s;    /* sessions are evicted this long after opening (3600) */
    unsigned allow_weaker;   /* SBX_WEAK_* protections the pool may start without (0: refuse when one is missing) */
    const char *cgroup_root; /* a cgroup2 folder to use as this process's own (tests); NULL: the host's cgroups */
} sbx_config;

/* Protections a host may not offer (sbx_config.allow_weaker, `--allow-weaker-isolation NAME,...`). */
enum {
    SBX_WEAK_CGROUP_MEMORY = 1u << 0, /* "cgroup-memory": no per-worker memory cgroup; only each run's RLIMIT_AS */
    SBX_WEAK_CGROUP_PIDS = 1u << 1,   /* "cgroup-pids": no per-worker pids cgroup; only each run's RLIMIT_NPROC */
    SBX_WEAK_UID_SEPARATION = 1u << 2 /* "uid-separation": no host uids of their own for the workers and the code
                                       * (not root, no /etc/subuid range): all run as the server's own uid */
};

/* Parses a comma-separated list of the names above into *mask; RT_EINVAL names an unknown one. */
rt_status sbx_weaker_parse(const char *list, unsigned *mask, rt_error *err);

/* The name of one SBX_WEAK_* bit. */
const char *sbx_weaker_name(unsigned bit);

typedef struct sbx_pool sbx_pool;
typedef struct sbx_job sbx_job;
typedef struct sbx_session sbx_session;

/* Called once per finished job on the supervisor thread; res is valid only during the call. Must not block. */
typedef void (*sbx_callback)(const sbx_result *res, void *user);

/* Fills cfg with the defaults. */
void sbx_config_default(sbx_config *cfg);

/* Fills lim with the defaults. */
void sbx_limits_default(sbx_limits *lim);

/* Starts the pool: launches the workers and waits until each has imported numpy and sympy. */
rt_status sbx_pool_init(sbx_pool **out, const sbx_config *cfg, rt_error *err);

/* Kills every worker and child, fails queued jobs with SBX_SANDBOX_ERROR, waits for all of them, frees the pool. */
void sbx_pool_free(sbx_pool *pool);

/* Stops the pool without freeing it: kills every worker and child, fails queued and running jobs with
 * SBX_SANDBOX_ERROR (waiters wake up), refuses new jobs. sbx_pool_free still has to be called. */
void sbx_pool_shutdown(sbx_pool *pool);

/* Queues req. With cb: cb runs when done and *job_out is untouched. Without: *job_out is a job to poll/wait/free.
 * Never blocks; RT_EBUSY when the queue is full, RT_EINVAL for a bad request (names the field). */
rt_status sbx_pool_submit(sbx_pool *pool, const sbx_request *req, sbx_callback cb, void *user, sbx_job **job_out,
                          rt_error *err);

/* Non-zero when the job has finished. */
int sbx_job_done(sbx_job *job);

/* Waits up to timeout_s (< 0: forever) for the job; returns non-zero when it has finished. */
int sbx_job_wait(sbx_job *job, double timeout_s);

/* The job's result, valid once sbx_job_done and until sbx_job_free. */
const sbx_result *sbx_job_result(sbx_job *job);

/* Frees a job; a job still queued or running is cancelled (its process tree is killed). */
void sbx_job_free(sbx_job *job);

/* Runs req and waits for it: a convenience over submit + wait; res is the caller's to sbx_result_free. */
rt_status sbx_pool_run(sbx_pool *pool, const sbx_request *req, sbx_result *res, rt_error *err);

/* Frees the buffers held by a result (not the struct itself). */
void sbx_result_free(sbx_result *res);

/* Deep-copies src into dst (the caller frees dst with sbx_result_free). */
rt_status sbx_result_copy(sbx_result *dst, const sbx_result *src);

/* A short name for a status: "ok", "error", "timeout", "memory", "output-limit", "sandbox-error". */
const char *sbx_status_name(sbx_status status);

/* Opens a stateful session: one child whose globals persist across cells. lim (memory_mb, cpu_s over all cells,
 * nproc, file_bytes) applies to the whole session; files are placed in its work dir. Blocks until it is open. */
rt_status sbx_session_open(sbx_pool *pool, const sbx_limits *lim, const sbx_file *files, size_t nfiles,
                           sbx_session **out, rt_error *err);

/* Runs one cell (cells run in order); like sbx_pool_submit. The value of a final expression is printed, as in a
 * notebook. A cell that times out or passes the output cap kills the session: later cells fail with
 * SBX_SANDBOX_ERROR. */
rt_status sbx_session_submit(sbx_session *s, const char *code, size_t code_len, const sbx_limits *lim, sbx_callback cb,
                             void *user, sbx_job **job_out, rt_error *err);

/* Runs one cell and waits for it; res is the caller's to sbx_result_free. */
rt_status sbx_session_run(sbx_session *s, const char *code, size_t code_len, const sbx_limits *lim, sbx_result *res,
                          rt_error *err);

/* Non-zero while the session's child is alive (not evicted, not killed by a timeout). */
int sbx_session_alive(sbx_session *s);

/* Closes the session: kills its child and frees everything; waits until the worker confirms. */
void sbx_session_close(sbx_session *s);

/* Counters of the pool, for tests, doctor and the server. */
typedef struct sbx_stats {
    int workers, workers_ready; /* every worker process, light ones included */
    int light_workers;
    int queued, running;
    int sessions;
    int64_t submitted, completed, rejected_busy, worker_restarts;
    int cgroup_memory, cgroup_pids; /* the worker cgroups' mechanism: 0 none, 1 cgroup v1, 2 cgroup v2 */
    int cgroup_cpu;                 /* the cgroup that accounts a run's CPU (cpu_s): 0 none, 1 v1 cpuacct, 2 v2 */
    int uid_mode;                   /* SBX_UIDS_* */
    unsigned code_uid;              /* the host uid worker 0's code runs as */
    unsigned weaker;                /* SBX_WEAK_* protections not in force (the pool was allowed to start without) */
    char weaker_why[700];           /* why each is missing */
    char cgroup_why[3][400];        /* why the memory / pids / CPU cgroups are not in force ("" when they are) */
} sbx_stats;

/* How the workers' uids are mapped: root: each worker a pair of host uids of its own (uid_base + 2i: its root, +1:
 * the code); an ordinary user with an /etc/subuid and /etc/subgid range and newuidmap/newgidmap: the worker is the
 * user's own uid, its code the range's uid i; otherwise: everything runs as the user's own uid. */
enum { SBX_UIDS_RANGE = 0, SBX_UIDS_SUBUID = 1, SBX_UIDS_SELF = 2 };

/* Fills st with a snapshot of the pool's counters. */
void sbx_pool_stats(sbx_pool *pool, sbx_stats *st);

/* Host pids of the live worker processes (at most max); returns how many. For leak checks in tests. */
int sbx_pool_worker_pids(sbx_pool *pool, int *pids, int max);

#endif
