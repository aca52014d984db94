/* Tool-integrated generation for a file of problems (`retool generate`): the problems' prompts, K samples each,
 * decoded together through the rollout engine with the sandbox behind it, scored against the reference answers, and
 * written as trajectory JSONL (ids and decoded text both). */
#ifndef RETOOL_PIPELINE_GENERATE_H
#define RETOOL_PIPELINE_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rollout/engine.h"
#include "rollout/prompt.h"

typedef struct pipe_generate_config {
    const char *model_dir;        /* model folder with its tokenizer */
    const char *prompts_path;     /* problems (JSONL; retool, DAPO, AIME, MATH, GSM8K layouts) */
    const char *format;           /* dataset layout name, "auto" by default */
    const char *out_path;         /* trajectory JSONL */
    const char *audit_path;       /* tool-call audit log (JSONL), or NULL */
    const char *sandbox;          /* "local" (in-process pool), comma-separated http(s) URLs, or NULL for none */
    int sandbox_workers;          /* local pool size (default 2) */
    int64_t samples;              /* per problem (default 1) */
    int64_t limit;                /* first N problems only (0 = all) */
    rollout_template template_kind; /* AUTO (default): the model folder's (rollout_template_resolve) */
    rollout_config rollout;       /* tools mode, budgets, sampling, concurrency, seed */
    int threads;                  /* compute threads (default 2) */
    int f32;                      /* f32 weights and products (default: bf16 products) */
    int quiet;
} pipe_generate_config;

/* Defaults: auto layout, 1 sample, the model folder's template, the rollout defaults, 2 threads, local sandbox with 2
 * workers. */
pipe_generate_config pipe_generate_defaults(void);

typedef struct pipe_generate_summary {
    size_t problems, trajectories, correct, with_code, tool_calls, tool_errors;
    rollout_stats stats;
    rollout_template template_kind; /* the template the prompts were built with (resolved) */
} pipe_generate_summary;

/* Runs generation and writes cfg->out_path atomically. */
rt_status pipe_generate(const pipe_generate_config *cfg, pipe_generate_summary *sum, rt_error *err);

#endif
