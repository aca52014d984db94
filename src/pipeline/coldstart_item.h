/* One record of cold-start construction: its trace before the sandbox (template or rewritten draft), and after it
 * the verified trajectory (or the reason it is dropped). Internal to pipeline/coldstart. */
#ifndef RETOOL_PIPELINE_COLDSTART_ITEM_H
#define RETOOL_PIPELINE_COLDSTART_ITEM_H

#include <stddef.h>

#include "base/error.h"
#include "base/rng.h"
#include "data/problem.h"
#include "pipeline/coldstart.h"
#include "pipeline/coldstart_trace.h"
#include "rollout/trajectory.h"
#include "tokenizer/tokenizer.h"

typedef struct pipe_cs_item {
    const data_problem *p;
    size_t index;      /* record index in the input */
    int tools;         /* the prompt carries the tool instructions and the trace is read with tools on */
    int repair;        /* block 0 is a planted failing attempt, block 1 its repair */
    int from_template; /* the final answer is the last block's real output */
    pipe_cs_trace tr;  /* segments and codes (claimed outputs for drafts) */
    char **outputs;    /* real shaped output per block */
    rollout_exec_status *status;
    double *latency;
    pipe_cs_reason reason; /* PIPE_CS_KEPT while it stands */
    char detail[320];      /* why it was dropped */
} pipe_cs_item;

/* Non-zero when a code-mode record needs a rewriting model: no program, and not a family answered without tools. */
int pipe_cs_item_needs_rewrite(const data_problem *p);

/* Builds the item's trace for p (template, text, or a draft from rewrite); a draft that does not parse drops the
 * item (reason format) without an error. */
rt_status pipe_cs_item_prepare(pipe_cs_item *it, const data_problem *p, size_t index, const pipe_coldstart_config *cfg,
                               rt_rng *rng, pipe_cs_rewrite_fn rewrite, void *rewrite_ctx, rt_error *err);

/* After the blocks ran: assembles the trace with the real outputs, verifies format and answer, and fills t (token ids
 * segment by segment, mask 0 on interpreter blocks). A failed check sets it->reason and returns RT_OK. */
rt_status pipe_cs_item_finish(pipe_cs_item *it, const pipe_coldstart_config *cfg, tok_tokenizer *tok,
                              rollout_trajectory *t, rt_error *err);

/* The item's trace as token ids in t (segment by segment: model text mask 1, each block's outputs[b] as the engine
 * appends it, mask 0, with its call record), then read back as the engine reads it and decoded back to the text. A
 * failed check sets it->reason (PIPE_CS_FORMAT) and returns RT_OK; when kept, *text is the response text
 * (malloc'd). Uses tr, outputs, status and latency; not p. */
rt_status pipe_cs_item_build(pipe_cs_item *it, tok_tokenizer *tok, rollout_trajectory *t, char **text, rt_error *err);

/* Frees what the item owns. */
void pipe_cs_item_free(pipe_cs_item *it);

#endif
