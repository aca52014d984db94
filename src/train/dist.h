/* Data parallelism over Open MPI: a thin layer the trainers call. MPI is initialised only when the process was
 * started by an MPI launcher (mpirun sets OMPI_COMM_WORLD_SIZE / PMIX_RANK), so the plain binary never needs one; in
 * a single process every collective is a no-op (rank 0 of 1). Only the calling (main) thread uses MPI. */
#ifndef RETOOL_TRAIN_DIST_H
#define RETOOL_TRAIN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Initialises MPI when launched by mpirun (MPI_Init_thread, funneled), else nothing; safe to call more than once. */
rt_status dist_init(rt_error *err);

/* Finalises MPI when dist_init initialised it (every rank must call it on success). */
rt_status dist_finalize(rt_error *err);

/* Ends every rank of the job at once with exit code code (after a failure on one rank, so the others do not wait in
 * a collective forever); in a single process it only returns. */
void dist_abort(int code);

/* This process's rank (0 in a single process). */
int dist_rank(void);

/* The number of ranks (1 in a single process). */
int dist_size(void);

/* In-place sum over ranks of buf[0, n). */
rt_status dist_allreduce_f32(float *buf, size_t n, rt_error *err);

/* In-place sum over ranks of buf[0, n) (doubles: counts and metric sums). */
rt_status dist_allreduce_f64(double *buf, size_t n, rt_error *err);

/* Copies rank 0's buf[0, n) into every rank's buf. */
rt_status dist_broadcast(void *buf, size_t n, rt_error *err);

/* Gathers every rank's bytes on rank 0: *out (malloc'd, rank order, concatenated) and *out_n; on other ranks *out is
 * NULL and *out_n 0. */
rt_status dist_gather_bytes(const void *buf, size_t n, char **out, size_t *out_n, rt_error *err);

/* Waits until every rank gets here. */
rt_status dist_barrier(rt_error *err);

/* FNV-1a-style 64-bit hash (8 bytes a step) of buf[0, n), continuing from h (start with DIST_HASH_INIT). */
#define DIST_HASH_INIT 0xcbf29ce484222325ull
uint64_t dist_hash(const void *buf, size_t n, uint64_t h);

/* Checks that every rank holds the same hash as rank 0; when any differs, every rank returns an error naming what
 * and how many ranks disagree. */
rt_status dist_check_same(uint64_t hash, const char *what, rt_error *err);

#endif
