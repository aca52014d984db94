/* Cold-start trace text: parsing a code-integrated trace exactly as the rollout engine reads a response (the blocks
 * it would run, the outputs a trace claims), assembling a trace with real interpreter blocks, and the template pieces
 * (code block, answer, a failing first attempt). Strings only; nothing runs here. */
#ifndef RETOOL_PIPELINE_COLDSTART_TRACE_H
#define RETOOL_PIPELINE_COLDSTART_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A trace split where the engine splits a response: model-written segments around the interpreter blocks. */
typedef struct pipe_cs_trace {
    char **segs;    /* n_blocks + 1 model-written segments: segs[i] (i < n_blocks) ends with block i's "</code>" */
    char **codes;   /* code of block i as rollout_extract_code returns it */
    char **claimed; /* the output block i claimed (NULL when the trace gives no <interpreter> block) */
    size_t n_blocks;
} pipe_cs_trace;

/* Parses text as the engine would read it: code blocks end at each "</code>" (rollout_find_code_close) and hold the
 * code rollout_extract_code finds; each may be followed by a claimed <interpreter> block; the last segment ends with
 * the one "<answer>...\boxed{...}...</answer>" of the trace. With tools == 0 any code or interpreter tag is a format
 * error. RT_EFORMAT names what is wrong. Free with pipe_cs_trace_free. */
rt_status pipe_cs_trace_parse(const char *text, int tools, pipe_cs_trace *out, rt_error *err);

/* Frees what t owns and zeroes it. */
void pipe_cs_trace_free(pipe_cs_trace *t);


/* The model-written code block for code: "<code>\n```python\nCODE\n```\n</code>" after lead (malloc'd). */
char *pipe_cs_code_segment(const char *lead, const char *code);

/* The final segment: lead, then "<answer>\n\boxed{ANSWER}\n</answer>" (malloc'd). */
char *pipe_cs_answer_segment(const char *lead, const char *answer);

/* A failing first attempt at program (malloc'd), of a kind picked by choice among those that apply: a misspelt
 * print (NameError), a missing import (NameError), or a dropped closing parenthesis (SyntaxError); NULL when none
 * applies. */
char *pipe_cs_break_program(const char *program, uint64_t choice);

/* The last non-empty line of output, trimmed of spaces (malloc'd; "" when there is none). */
char *pipe_cs_last_line(const char *output);

#endif
