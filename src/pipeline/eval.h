/* Evaluation (`retool eval`): K samples per problem through the rollout engine (pipe_generate), then the method's
 * metrics (pipe_metrics_compute) for the whole set and per family, as a table and JSON. docs/EVAL.md. */
#ifndef RETOOL_PIPELINE_EVAL_H
#define RETOOL_PIPELINE_EVAL_H

#include <cjson/cJSON.h>

#include "base/error.h"
#include "pipeline/generate.h"
#include "pipeline/metrics.h"

typedef struct pipe_eval_config {
    pipe_generate_config gen;  /* model, problems (gen.prompts_path), samples, sampling, budgets, sandbox, template;
                                  gen.out_path keeps the trajectories (NULL: a temporary file, removed after) */
    const char *families_path; /* JSONL whose record i has a "family" (NULL: the problems' own family fields) */
    const char *json_path;     /* metrics JSON, written atomically (NULL: none) */
} pipe_eval_config;

/* The paper's evaluation settings: 32 samples, T = 1.0, top-p 0.7, tool-integrated, local sandbox; the other
 * fields as pipe_generate_defaults. */
pipe_eval_config pipe_eval_defaults(void);

typedef struct pipe_eval_result {
    pipe_generate_summary gen;
    pipe_metrics_report report;
    double wall_s;
} pipe_eval_result;

/* Generates, scores and measures; fills res (free with pipe_eval_result_free) and writes cfg->json_path. */
rt_status pipe_eval(const pipe_eval_config *cfg, pipe_eval_result *res, rt_error *err);

/* The metrics report as JSON with an "eval" object added: model, data, samples, sampling, budgets, seed, wall time. */
cJSON *pipe_eval_to_json(const pipe_eval_config *cfg, const pipe_eval_result *res);

/* Frees what pipe_eval put in res. */
void pipe_eval_result_free(pipe_eval_result *res);

#endif
