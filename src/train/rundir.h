/* A run directory (docs/ARCHITECTURE.md): config.json (the resolved configuration), metrics.jsonl (one line per step),
 * checkpoints/step-N/ (complete or absent: written under a temp name and renamed), rollouts/step-N.jsonl. */
#ifndef RETOOL_TRAIN_RUNDIR_H
#define RETOOL_TRAIN_RUNDIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "base/error.h"

typedef struct train_rundir {
    char *path;
    FILE *metrics;   /* metrics.jsonl, opened for appending */
} train_rundir;

/* Creates (or reopens) the run directory at path with its sub-folders; writes config (when not NULL) atomically as
 * config.json. Leftover temp folders of interrupted checkpoint writes are removed. */
rt_status train_rundir_open(train_rundir *rd, const char *path, const cJSON *config, rt_error *err);

/* Closes the metrics file and frees rd. */
void train_rundir_close(train_rundir *rd);

/* Appends one metrics line (the object gets "step": step first) and flushes it to disk. */
rt_status train_rundir_log_metrics(train_rundir *rd, int64_t step, const cJSON *metrics, rt_error *err);

/* Drops metrics lines with a step greater than step (used on resume so that a step is never logged twice). */
rt_status train_rundir_truncate_metrics(train_rundir *rd, int64_t step, rt_error *err);

/* Path of checkpoints/step-N into buf. */
void train_rundir_checkpoint_path(const train_rundir *rd, int64_t step, char *buf, size_t n);

/* Starts a checkpoint: makes an empty temp folder (checkpoints/.step-N.tmp) and writes its path into buf. */
rt_status train_rundir_checkpoint_begin(const train_rundir *rd, int64_t step, char *buf, size_t n, rt_error *err);

/* Completes a checkpoint: fsyncs every file in the temp folder, renames it to step-N, fsyncs checkpoints/, then removes
 * all but the newest keep_last complete checkpoints (keep_last 0 keeps all). */
rt_status train_rundir_checkpoint_commit(const train_rundir *rd, int64_t step, size_t keep_last, rt_error *err);

/* The newest complete checkpoint's step, or -1 when there is none. */
int64_t train_rundir_latest_checkpoint(const train_rundir *rd);

/* Path of rollouts/step-N.jsonl into buf (write it with rt_atomic_open / rt_atomic_commit). */
rt_status train_rundir_rollouts_path(const train_rundir *rd, int64_t step, char *buf, size_t n);

#endif
