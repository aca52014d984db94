/* The method's evaluation and analysis metrics (ReTool, arXiv 2504.11536) over a set of trajectories with several
 * samples per prompt: pass@1, pass@k, maj@k, response length, code ratio, code lines, correct-code count, pass rate
 * of the last code block (correct / incorrect answers), invocation timing, self-corrections, tool errors, budget
 * flags; for the whole set and per family. Definitions in docs/EVAL.md. */
#ifndef RETOOL_PIPELINE_METRICS_H
#define RETOOL_PIPELINE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "rollout/ops.h"
#include "rollout/trajectory.h"

#define PIPE_METRICS_MAX_K 24

/* The metrics of one set of trajectories. Means are NaN (JSON null) when their denominator is 0. */
typedef struct pipe_metrics {
    char *family;                         /* family name, or NULL for the whole set */
    size_t n_responses;                   /* trajectories */
    size_t n_prompts;                     /* distinct prompt indices */
    size_t samples_min;                   /* fewest samples of any prompt (pass@k / maj@k go up to this k) */
    size_t samples_max;                   /* most samples of any prompt */
    size_t n_correct;                     /* trajectories with reward > 0 */
    double pass1;                         /* mean over prompts of (correct samples / samples) */
    size_t n_k;                           /* entries in k, pass_at_k, maj_at_k */
    size_t k[PIPE_METRICS_MAX_K];         /* 1, 2, 4, ... up to samples_min, and samples_min itself */
    double pass_at_k[PIPE_METRICS_MAX_K]; /* unbiased estimator 1 - C(n-c,k)/C(n,k), mean over prompts */
    double maj_at_k[PIPE_METRICS_MAX_K];  /* majority vote over the first k samples (by sample index) */
    double response_length;               /* mean response tokens (model + interpreter) */
    double model_tokens;                  /* mean model-written response tokens (mask 1) */
    double code_ratio;                    /* share of responses with at least one code call */
    double code_lines;                    /* mean non-empty code lines per response (all responses) */
    double code_calls;                    /* mean code calls per response */
    double correct_code;                  /* mean calls per response that ran ok */
    size_t n_with_code;                   /* responses with at least one call */
    size_t n_code_correct;                /* ... of them with a correct answer */
    size_t n_code_incorrect;              /* ... of them with a wrong answer */
    double last_pass;                     /* share of responses with code whose last call ran ok */
    double last_pass_correct;             /* the same over correct answers */
    double last_pass_incorrect;           /* the same over wrong answers */
    double invocation_timing;     /* mean (start of the first code block / response length) over responses with code */
    size_t n_timing;              /* responses the timing was measured on (they need response_text) */
    int timing_in_tokens;         /* 1: measured in tokens (a tokenizer was given); 0: in bytes of response_text */
    double self_corrections;      /* mean repairs per response (a failing call followed later by one that runs ok) */
    double self_correction_ratio; /* share of responses with at least one repair */
    size_t calls_total;           /* every tool call, refused ones included */
    size_t calls_ok, calls_error, calls_timeout, calls_sandbox_error, calls_refused;
    double tool_errors;                 /* mean calls per response that failed (error, timeout, sandbox error) */
    size_t flag_counts[ROLLOUT_NFLAGS]; /* trajectories with each flag bit set */
} pipe_metrics;

/* The whole set and its families (sorted by name). */
typedef struct pipe_metrics_report {
    pipe_metrics all;
    pipe_metrics *families;
    size_t n_families;
} pipe_metrics_report;

typedef struct pipe_metrics_options {
    /* Family per prompt index (families[prompt_index]; NULL entries have no family), or NULL: then a trajectory id of
     * the form "FAMILY/..." gives the family, and ids without '/' give none. */
    const char *const *families;
    size_t n_families;
    /* Measures invocation timing in tokens when given (token bytes must concatenate to response_text); else timing
     * is measured in bytes of response_text (recorded in timing_in_tokens). */
    const rollout_tokenizer *tok;
} pipe_metrics_options;

/* Computes the metrics of n trajectories (opt may be NULL). Fails on n == 0 or a prompt index outside the family map.
 */
rt_status pipe_metrics_compute(const rollout_trajectory *t, size_t n, const pipe_metrics_options *opt,
                               pipe_metrics_report *out, rt_error *err);

/* Frees what pipe_metrics_compute allocated and zeroes r. */
void pipe_metrics_report_free(pipe_metrics_report *r);

/* The unbiased pass@k estimator of Chen et al. (2021) for n samples of which c are correct: 1 - C(n-c,k)/C(n,k). */
double pipe_pass_at_k(size_t n, size_t c, size_t k);

/* The report as JSON: {"version", "all": {...}, "families": {"NAME": {...}}}; NaN means are null. */
cJSON *pipe_metrics_report_to_json(const pipe_metrics_report *r);

/* Prints the report as a plain-text table (one column for the whole set, one per family). */
void pipe_metrics_report_print(FILE *fp, const pipe_metrics_report *r);

/* Reads a family map from a JSONL dataset: line i (prompt index i) may carry a string field "family". *out gets
 * a malloc'd array of *n malloc'd strings (NULL where absent); free with pipe_families_free. Errors name file:line. */
rt_status pipe_families_read(const char *path, char ***out, size_t *n, rt_error *err);

/* Frees a family map. */
void pipe_families_free(char **families, size_t n);

#endif
