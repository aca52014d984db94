/* Cold-start data (`retool data coldstart`): text-reasoning traces rewritten into code-integrated traces (by
 * template from a family's reference program, or by a rewriting model), then the method's two verifications: the
 * format parses exactly as the rollout engine parses it, and every code block really runs in the sandbox, its real
 * output replacing what the trace claimed, the trace kept only when its final answer is right. Output: trajectory
 * JSONL (token ids, mask 0 exactly on the interpreter blocks) that `retool sft` reads. docs/COLDSTART.md. */
#ifndef RETOOL_PIPELINE_COLDSTART_H
#define RETOOL_PIPELINE_COLDSTART_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "data/problem.h"
#include "rollout/prompt.h"
#include "rollout/shape.h"

typedef enum pipe_cs_mode {
    PIPE_CS_CODE = 0, /* code-integrated traces (tool families); text traces for the families that need no tool */
    PIPE_CS_TEXT,     /* text-only traces: the worked text solution, then the boxed answer (mask all 1) */
} pipe_cs_mode;

/* Why a trace was dropped. */
typedef enum pipe_cs_reason {
    PIPE_CS_KEPT = 0,
    PIPE_CS_FORMAT,        /* a tag or code block does not parse as the engine parses it */
    PIPE_CS_WRONG_ANSWER,  /* the final boxed answer (after real outputs) is not the reference answer */
    PIPE_CS_CODE_ERROR,    /* the last code block failed (error, timeout), or a planted failing block ran ok */
    PIPE_CS_SANDBOX_ERROR, /* the sandbox could not run a block */
    PIPE_CS_NO_SOLUTION,   /* text mode: the record has no text solution */
    PIPE_CS_NREASONS
} pipe_cs_reason;

/* The reason's name: "kept", "format", "wrong_answer", "code_error", "sandbox_error", "no_solution". */
const char *pipe_cs_reason_name(pipe_cs_reason r);

/* A rewriting model: turns a record without a reference program into a draft code-integrated trace (text with
 * <code> blocks, optionally claimed <interpreter> outputs, and the final <answer>); *draft is malloc'd. */
typedef rt_status (*pipe_cs_rewrite_fn)(void *ctx, const data_problem *p, char **draft, rt_error *err);

typedef struct pipe_coldstart_config {
    const char *in_path;       /* traces: JSONL {prompt, text_solution, answer, program?, family?} (or a dataset) */
    const char *out_path;      /* trajectory JSONL, written atomically */
    const char *tokenizer_dir; /* folder with tokenizer.json (the model's tokenizer) */
    rollout_template template_kind; /* AUTO (default): the one tokenizer_dir records (rollout_template_resolve) */
    pipe_cs_mode mode;
    double repair_rate; /* share of code traces with a failing first block and its repair (0..1) */
    uint64_t seed;
    const char *sandbox;        /* "local" (default) or SandboxFusion URLs separated by commas */
    int workers;                /* local sandbox workers (default 2) */
    double call_timeout_s;      /* per code block (default 10) */
    rollout_shape_config shape; /* how real output is shaped (the engine's defaults) */
    const char *rewriter;       /* for records without a program: an http(s) OpenAI-compatible endpoint, or NULL */
    const char *rewriter_model; /* model name sent to the endpoint (default "default") */
    pipe_cs_rewrite_fn rewrite; /* a rewriter given in code (takes precedence over rewriter); may be NULL */
    void *rewrite_ctx;
    int quiet; /* no progress bar */
} pipe_coldstart_config;

/* Defaults: the tokenizer folder's template, code mode, repair rate 0.1, seed 0, local sandbox with 2 workers, 10 s a
 * block. */
pipe_coldstart_config pipe_coldstart_defaults(void);

/* Counts for one family (or the whole set). */
typedef struct pipe_cs_counts {
    char *family;               /* NULL for the whole set and for records without a family */
    size_t read, repairs;       /* records read; kept traces with a repair */
    size_t n[PIPE_CS_NREASONS]; /* n[PIPE_CS_KEPT] kept; the others dropped for that reason */
} pipe_cs_counts;

typedef struct pipe_coldstart_summary {
    pipe_cs_counts all;
    pipe_cs_counts *families; /* sorted by first appearance */
    size_t n_families;
    size_t code_blocks; /* blocks run in the sandbox */
    double wall_s;
} pipe_coldstart_summary;

/* Builds, verifies and writes the cold-start traces; fills sum (free with pipe_coldstart_summary_free). */
rt_status pipe_coldstart(const pipe_coldstart_config *cfg, pipe_coldstart_summary *sum, rt_error *err);

/* Frees what pipe_coldstart put in sum. */
void pipe_coldstart_summary_free(pipe_coldstart_summary *sum);

#endif
