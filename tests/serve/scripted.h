/* A scripted backend for the server tests: a byte-level tokenizer (id = byte, 256 = end of sequence), a prompt that is
 * the last user message's bytes, and a policy that replays a script chosen by a keyword in the prompt (see
 * scripted.c; "slowly" takes 2 ms a token), so tool traces, failures, budgets and disagreement come out exactly as the test wants. */
#ifndef RETOOL_TESTS_SERVE_SCRIPTED_H
#define RETOOL_TESTS_SERVE_SCRIPTED_H

#include "serve/backend.h"

#define SCRIPTED_EOS 256
#define SCRIPTED_MAX_SEQS 128

/* The backend (one global scripted policy; the server's scheduler is its only caller). */
serve_backend scripted_backend(void);

/* Sequences opened so far, and the sampling temperature the last one was opened with. */
size_t scripted_opened(void);
float scripted_last_temperature(void);

#endif
