/* The HTML report of one or several runs (docs/EVAL.md): one self-contained file (inline CSS and SVG; no
 * scripts, fonts, images or links to fetch) with the method's curves over training steps from each RUN/metrics.jsonl,
 * several runs overlaid, a table of final values, and sample trajectories from the newest RUN/rollouts/step-N.jsonl
 * with model text, code and interpreter output told apart. */
#ifndef RETOOL_PIPELINE_REPORT_H
#define RETOOL_PIPELINE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "pipeline/buf.h"
#include "rollout/trajectory.h"

typedef struct pipe_report_options {
    const char *const *runs; /* run directories */
    size_t n_runs;
    const char *out_path; /* the HTML file to write (atomically) */
    size_t samples;       /* sample trajectories shown per run (0 = none) */
    const char *title;    /* page title, or NULL for "retool report" */
    const char *headline; /* HTML shown right under the title, before the runs and curves (the caller escapes what it
                             puts there), or NULL */
} pipe_report_options;

/* Reads the runs and writes the report. Errors name the run and, for a bad metrics or rollouts file, file:line. */
rt_status pipe_report_write(const pipe_report_options *opt, rt_error *err);

/* Builds the report's HTML into b (what pipe_report_write writes). */
rt_status pipe_report_build(const pipe_report_options *opt, pipe_buf *b, rt_error *err);

/* Appends one trajectory rendered as HTML: header (id, reward, answer, truth, flags), prompt, and the response with
 * model text, <code> blocks, <interpreter> output (with the call's status) and the answer in distinct boxes. */
void pipe_report_trajectory(pipe_buf *b, const rollout_trajectory *t);

/* The newest rollouts file of a run (RUN/rollouts/step-N.jsonl with the largest N) into buf; *step gets N.
 * RT_ENOTFOUND when there is none. */
rt_status pipe_report_newest_rollouts(const char *run, char *buf, size_t n, int64_t *step, rt_error *err);

#endif
