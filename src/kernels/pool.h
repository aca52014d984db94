/* The one thread pool every kernel shares. Workers block on a condition variable between jobs (never spin), and
 * every thread that calls oneDNN runs it single-threaded (its OpenMP team size is set to 1), so the pool's threads
 * are the only compute threads: no oversubscription between retool's kernels and the library's. */
#ifndef RETOOL_KERNELS_POOL_H
#define RETOOL_KERNELS_POOL_H

#include <stdint.h>

#include "base/error.h"

/* A job body: processes items [begin, end) on thread tid (0 .. kern_threads()-1). */
typedef void (*kern_task_fn)(void *ctx, int64_t begin, int64_t end, int tid);

/* Starts the pool with nthreads compute threads (the caller counts as one; <= 0 means 1). Calling it again with a
 * different count restarts the pool. Not thread-safe against concurrent kern_parallel_for. */
rt_status kern_init(int nthreads, rt_error *err);

/* Stops the pool's threads and frees the kernels' kept workspaces (kern_init may be called again afterwards). */
void kern_shutdown(void);

/* The number of compute threads (1 until kern_init is called). */
int kern_threads(void);

/* Runs fn over [0, n) split in chunks of at least grain items, handed out dynamically to the pool's threads; returns
 * when all are done. Nested calls (from inside a task) run serially on the calling thread. */
void kern_parallel_for(int64_t n, int64_t grain, kern_task_fn fn, void *ctx);

/* Makes the calling thread run oneDNN single-threaded (done automatically for pool threads, kern_init's caller and any
 * thread that runs a product; cheap after the first call on a thread). */
void kern_thread_setup(void);

#endif
