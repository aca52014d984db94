/* A run's metrics.jsonl as a table: the steps (ascending) by the numeric metrics logged at them. */
#ifndef RETOOL_PIPELINE_RUNLOG_H
#define RETOOL_PIPELINE_RUNLOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct pipe_runlog {
    size_t n_steps;
    int64_t *steps; /* ascending (lines with equal steps keep their file order) */
    size_t n_keys;
    char **keys;    /* metric names in order of first appearance ("step" excluded) */
    double *values; /* n_steps x n_keys, row-major; NaN where a line lacks the metric or it is not a number */
} pipe_runlog;

/* Reads a metrics.jsonl: every line must be a JSON object with an integer "step"; numeric fields become metrics,
 * other fields (strings, null, objects) are ignored. Errors name path:line. */
rt_status pipe_runlog_read(const char *path, pipe_runlog *out, rt_error *err);

/* Frees the table and zeroes it. */
void pipe_runlog_free(pipe_runlog *log);

/* Index of a metric name, or -1. */
long pipe_runlog_key(const pipe_runlog *log, const char *key);

/* Value of metric k at step row i (NaN when missing). */
double pipe_runlog_value(const pipe_runlog *log, size_t i, size_t k);

#endif
