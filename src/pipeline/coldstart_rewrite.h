/* The rewriting model of cold-start construction, for traces that have no reference program (real datasets): an
 * OpenAI-compatible chat-completions endpoint (libcurl) asked to rewrite a worked text solution into a
 * code-integrated draft. Whatever it returns is only a draft: pipe_coldstart parses it, runs its code and keeps it only
 * when it verifies. */
#ifndef RETOOL_PIPELINE_COLDSTART_REWRITE_H
#define RETOOL_PIPELINE_COLDSTART_REWRITE_H

#include "base/error.h"
#include "data/problem.h"

typedef struct pipe_rewriter pipe_rewriter;

/* Opens the rewriter spec names: an http(s):// base URL of an OpenAI-compatible server (POST BASE/v1/chat/completions
 * unless the URL already ends in /chat/completions; model is the "model" field sent, NULL: "default"), or else a
 * local model folder (with its tokenizer) that retool's own engine runs greedily. */
rt_status pipe_rewriter_open(const char *spec, const char *model, pipe_rewriter **out, rt_error *err);

/* Asks for a draft of p (malloc'd *draft): the first choice's message content. */
rt_status pipe_rewriter_rewrite(void *rewriter, const data_problem *p, char **draft, rt_error *err);

/* Frees the rewriter (NULL is fine). */
void pipe_rewriter_close(pipe_rewriter *r);

typedef struct pipe_rewriter_local pipe_rewriter_local;

/* Loads a local rewriting model (model folder with tokenizer.json; prompted with the template the folder records, else
 * ChatML when the tokenizer has <|im_start|>, else the bare text). */
rt_status pipe_rewriter_local_open(const char *model_dir, pipe_rewriter_local **out, rt_error *err);

/* Greedy decoding of a draft for p, up to the model's context or 2048 tokens, stopping at </answer>. */
rt_status pipe_rewriter_local_rewrite(pipe_rewriter_local *r, const data_problem *p, char **draft, rt_error *err);

/* Frees the local rewriter (NULL is fine). */
void pipe_rewriter_local_close(pipe_rewriter_local *r);

/* The instruction sent with each record (malloc'd): the protocol, the problem, its worked solution and answer. */
char *pipe_rewriter_prompt(const data_problem *p);

#endif
