/* The thread pool: a generation counter under a mutex, workers waiting on a condition variable, chunks of a job
 * handed out by an atomic counter. */
#include "kernels/pool.h"

#include "kernels/ops.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define POOL_MAX_THREADS 256

typedef struct pool_job {
    kern_task_fn fn;
    void *ctx;
    int64_t n, chunk;
    atomic_llong next;
} pool_job;

static struct {
    pthread_mutex_t mu, submit;
    pthread_cond_t start_cv, done_cv;
    pthread_t threads[POOL_MAX_THREADS];
    int nthreads;          /* compute threads including the caller */
    uint64_t generation;   /* bumped for each job */
    int open;              /* workers may still join the current job */
    int active;            /* workers inside the current job */
    int stop;
    pool_job *job;
} g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
            .submit = PTHREAD_MUTEX_INITIALIZER,
            .start_cv = PTHREAD_COND_INITIALIZER,
            .done_cv = PTHREAD_COND_INITIALIZER,
            .nthreads = 1};

static _Thread_local int t_in_task;
static _Thread_local int t_tid;

static void (*g_set_num_threads)(int);
static pthread_once_t g_omp_once = PTHREAD_ONCE_INIT;

static void omp_lookup(void) {
    *(void **)&g_set_num_threads = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
}

void kern_thread_setup(void) {
    /* libdnnl in Debian is built with OpenMP (libgomp): its team size is the calling thread's nthreads-var. Setting it
     * to 1 makes oneDNN run inline on the caller, so libgomp never starts (or spins) a team of its own. */
    static _Thread_local int done;
    if (done) return;
    done = 1;
    pthread_once(&g_omp_once, omp_lookup);
    if (g_set_num_threads) g_set_num_threads(1);
}

static void run_chunks(pool_job *job, int tid) {
    for (;;) {
        int64_t b = atomic_fetch_add(&job->next, job->chunk);
        if (b >= job->n) break;
        int64_t e = b + job->chunk < job->n ? b + job->chunk : job->n;
        job->fn(job->ctx, b, e, tid);
    }
}

/* A worker joins a job only while it is open; the submitter closes it once every chunk is claimed and waits only for
 * the workers that joined. A worker the scheduler wakes late (a busy machine) finds the job closed and costs nothing. */
static void *worker_main(void *arg) {
    int tid = (int)(intptr_t)arg;
    t_tid = tid;
    t_in_task = 1;
    kern_thread_setup();
    uint64_t seen = 0;
    pthread_mutex_lock(&g_pool.mu);
    for (;;) {
        while (!g_pool.stop && g_pool.generation == seen) pthread_cond_wait(&g_pool.start_cv, &g_pool.mu);
        if (g_pool.stop) break;
        seen = g_pool.generation;
        if (!g_pool.open) continue;
        pool_job *job = g_pool.job;
        g_pool.active++;
        pthread_mutex_unlock(&g_pool.mu);
        run_chunks(job, tid);
        pthread_mutex_lock(&g_pool.mu);
        if (--g_pool.active == 0 && !g_pool.open) pthread_cond_signal(&g_pool.done_cv);
    }
    pthread_mutex_unlock(&g_pool.mu);
    return NULL;
}

void kern_shutdown(void) {
    kern_attn_release();
    pthread_mutex_lock(&g_pool.mu);
    g_pool.stop = 1;
    pthread_cond_broadcast(&g_pool.start_cv);
    pthread_mutex_unlock(&g_pool.mu);
    for (int i = 1; i < g_pool.nthreads; i++) pthread_join(g_pool.threads[i], NULL);
    g_pool.nthreads = 1;
    g_pool.stop = 0;
}

rt_status kern_init(int nthreads, rt_error *err) {
    if (nthreads <= 0) nthreads = 1;
    if (nthreads > POOL_MAX_THREADS) return rt_err_set(err, RT_EINVAL, "threads: %d is above %d", nthreads, POOL_MAX_THREADS);
    kern_thread_setup();
    if (nthreads == g_pool.nthreads) return RT_OK;
    kern_shutdown();
    for (int i = 1; i < nthreads; i++) {
        int rc = pthread_create(&g_pool.threads[i], NULL, worker_main, (void *)(intptr_t)i);
        if (rc != 0) {
            g_pool.nthreads = i;
            kern_shutdown();
            return rt_err_errno(err, RT_EINTERNAL, rc, "starting compute thread %d of %d", i, nthreads);
        }
        g_pool.nthreads = i + 1;
    }
    return RT_OK;
}

int kern_threads(void) {
    return g_pool.nthreads;
}

void kern_parallel_for(int64_t n, int64_t grain, kern_task_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int nt = g_pool.nthreads;
    if (t_in_task || nt == 1 || n <= grain) {
        fn(ctx, 0, n, t_in_task ? t_tid : 0);
        return;
    }
    /* About four chunks per thread balance uneven items (attention rows late in a sequence cost more). */
    int64_t chunk = (n + 4 * nt - 1) / (4 * nt);
    if (chunk < grain) chunk = grain;
    pool_job job = {.fn = fn, .ctx = ctx, .n = n, .chunk = chunk};
    atomic_init(&job.next, 0);
    pthread_mutex_lock(&g_pool.submit); /* one job at a time when several threads submit */
    pthread_mutex_lock(&g_pool.mu);
    g_pool.job = &job;
    g_pool.open = 1;
    g_pool.active = 0;
    g_pool.generation++;
    pthread_cond_broadcast(&g_pool.start_cv);
    pthread_mutex_unlock(&g_pool.mu);
    t_in_task = 1;
    run_chunks(&job, 0);
    t_in_task = 0;
    pthread_mutex_lock(&g_pool.mu);
    g_pool.open = 0; /* every chunk is claimed: nobody needs to join any more */
    while (g_pool.active > 0) pthread_cond_wait(&g_pool.done_cv, &g_pool.mu);
    g_pool.job = NULL;
    pthread_mutex_unlock(&g_pool.mu);
    pthread_mutex_unlock(&g_pool.submit);
}
