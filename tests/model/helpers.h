/* Shared helpers of the engine tests: temporary folders, running the Python reference, comparing tensors. */
#ifndef RETOOL_TESTS_MODEL_HELPERS_H
#define RETOOL_TESTS_MODEL_HELPERS_H

#include <stdint.h>

#include "model/model.h"

/* A fresh temporary directory (path in buf). */
void th_tmpdir(char *buf, size_t n);

/* Runs a shell command; asserts it exits 0. */
void th_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* max |a - b| / max |b| over n values. */
double th_rel_err(const float *a, const float *b, int64_t n);

/* Writes the Python reference's model (ARCH qwen2 or llama) into dir and loads it with prec. */
void th_ref_model(const char *dir, const char *arch, int seed, model_precision prec, int value_head, model *m);

/* Fills a packed batch of nseq random sequences with the given lengths (tokens, start, next-token targets). */
void th_batch(int64_t nseq, const int64_t *lens, int64_t V, uint64_t seed, int32_t *tokens, int32_t *targets,
              int64_t *start);

#endif
