/* The thread pool: every item of every job runs exactly once, with many short jobs (workers joining late or not at
 * all), jobs submitted from two threads at once, nested calls, and restarts with other thread counts. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels/pool.h"

typedef struct count_ctx {
    atomic_int *hits;
    int nested;
} count_ctx;

static void inner(void *vc, int64_t b, int64_t e, int tid) {
    (void)tid;
    atomic_int *hits = vc;
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&hits[i], 1);
}

static void count_task(void *vc, int64_t b, int64_t e, int tid) {
    count_ctx *c = vc;
    cr_assert(tid >= 0 && tid < kern_threads());
    for (int64_t i = b; i < e; i++) {
        atomic_fetch_add(&c->hits[i], 1);
        if (c->nested) kern_parallel_for(4, 1, inner, c->hits + 1000 + i * 4); /* runs inline */
    }
}

static void run_jobs(int jobs, int nested) {
    atomic_int *hits = calloc(1000 + 4 * 1000, sizeof(atomic_int));
    for (int j = 0; j < jobs; j++) {
        int64_t n = 1 + (j * 37) % 1000;
        for (int64_t i = 0; i < 5000; i++) atomic_store(&hits[i], 0);
        count_ctx c = {hits, nested};
        kern_parallel_for(n, 1 + j % 3, count_task, &c);
        for (int64_t i = 0; i < 1000; i++) cr_assert_eq(atomic_load(&hits[i]), i < n ? 1 : 0, "job %d item %lld", j, (long long)i);
        if (nested)
            for (int64_t i = 0; i < 4000; i++)
                cr_assert_eq(atomic_load(&hits[1000 + i]), i < 4 * n ? 1 : 0, "job %d nested %lld", j, (long long)i);
    }
    free(hits);
}

Test(pool, every_item_once_over_many_short_jobs) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
    run_jobs(2000, 0);
    run_jobs(50, 1);
    cr_assert_eq(kern_init(3, NULL), RT_OK);
    cr_assert_eq(kern_threads(), 3);
    run_jobs(300, 0);
    cr_assert_eq(kern_init(1, NULL), RT_OK);
    run_jobs(50, 0);
    kern_shutdown();
}

static void *submitter(void *arg) {
    (void)arg;
    run_jobs(300, 0);
    return NULL;
}

Test(pool, two_submitting_threads) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, submitter, NULL), 0);
    run_jobs(300, 0);
    pthread_join(t, NULL);
    kern_shutdown();
}
