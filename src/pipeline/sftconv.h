/* ReTool-SFT conversations into cold-start trajectories (`retool data convert X --model DIR`, docs/COLDSTART.md):
 * each row is a conversation, a list of {role, content} messages (system?, user, assistant) whose assistant turn
 * holds <code> blocks, each followed by its <interpreter> result, and ends with <answer>\boxed{...}</answer>. A row
 * becomes a trajectory for the model folder: the prompt is the messages before the assistant turn rendered with the
 * folder's template, the assistant text is read exactly as the rollout engine reads a response (the cold-start
 * parser, pipeline/coldstart_trace.h) and tokenised segment by segment, each interpreter block in the exact form the
 * engine appends it with mask 0, everything else mask 1. --verify runs every block again in the sandbox (one stateful
 * session per conversation) and drops a row whose recorded outputs differ from the real ones. */
#ifndef RETOOL_PIPELINE_SFTCONV_H
#define RETOOL_PIPELINE_SFTCONV_H

#include <stddef.h>

#include "base/error.h"
#include "rollout/prompt.h"
#include "rollout/shape.h"

/* Why a conversation was dropped. */
typedef enum pipe_sc_reason {
    PIPE_SC_KEPT = 0,
    PIPE_SC_LAYOUT,          /* no message list, no user message, or not exactly one assistant turn, last */
    PIPE_SC_FORMAT,          /* the assistant text does not parse as the engine parses a response (or no answer) */
    PIPE_SC_MISSING_OUTPUT,  /* a <code> block without the <interpreter> result after it */
    PIPE_SC_WRONG_ANSWER,    /* the row gives a truth and the boxed answer is not it */
    PIPE_SC_OUTPUT_MISMATCH, /* --verify: a recorded output is not what the block really prints */
    PIPE_SC_SANDBOX_ERROR,   /* --verify: the sandbox could not run a block */
    PIPE_SC_NREASONS
} pipe_sc_reason;

/* "kept", "layout", "format", "missing_output", "wrong_answer", "output_mismatch", "sandbox_error". */
const char *pipe_sc_reason_name(pipe_sc_reason r);

typedef struct pipe_sftconv_config {
    const char *in_path;            /* JSONL or Parquet rows with "messages" (or "conversations") */
    const char *out_path;           /* trajectory JSONL, written atomically */
    const char *model_dir;          /* folder with tokenizer.json (and its recorded template) */
    rollout_template template_kind; /* AUTO (default): the folder's recorded template */
    int verify;                     /* re-run every block in the local sandbox */
    int workers;                    /* local sandbox workers (default 2) */
    double call_timeout_s;          /* per block under --verify (default 10) */
    rollout_shape_config shape;     /* how real output is shaped (the engine's defaults) */
    const char *summary_path;       /* JSON summary (atomically), or NULL */
} pipe_sftconv_config;

/* Defaults: the folder's template, no verification, 2 workers, 10 s a block. */
pipe_sftconv_config pipe_sftconv_defaults(void);

typedef struct pipe_sftconv_summary {
    size_t read;                   /* rows read */
    size_t n[PIPE_SC_NREASONS];    /* n[PIPE_SC_KEPT] kept; the others dropped for that reason */
    size_t code_blocks;            /* code blocks in the kept trajectories */
    size_t blocks_run;             /* blocks run in the sandbox (--verify) */
    char first_drop[PIPE_SC_NREASONS][200]; /* the first dropped row of each reason, and why ("" when none) */
    double wall_s;
} pipe_sftconv_summary;

/* Converts, verifies and writes the trajectories; fills sum. A malformed file (bad JSON, an unreadable Parquet page)
 * is an error naming the file and row; a malformed conversation is counted, not an error. */
rt_status pipe_sftconv(const pipe_sftconv_config *cfg, pipe_sftconv_summary *sum, rt_error *err);

/* The summary as JSON ({"read", "kept", "dropped": {reason: n}, "code_blocks", "blocks_run", "wall_s", ...}). */
char *pipe_sftconv_summary_json(const pipe_sftconv_config *cfg, const pipe_sftconv_summary *sum);

/* Compares a recorded output with the real one under the --verify rule: trailing spaces and tabs of every line, and
 * blank lines and whitespace at either end, do not count ("\r\n" reads as "\n"). Non-zero when they match. */
int pipe_sc_output_matches(const char *recorded, const char *real);

#endif
