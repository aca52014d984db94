/* Helpers for the tokenizer tests: temp folders, running the reference (node) and the CLI, reading JSONL. */
#ifndef RETOOL_TESTS_TOK_TEST_UTIL_H
#define RETOOL_TESTS_TOK_TEST_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "../base/fixtures.h"
#include "tokenizer/tokenizer.h"

#define TT_QWEN3 FIXTURE_TOK_QWEN3
#define TT_LLAMA3 FIXTURE_TOK_LLAMA3

/* A fresh folder under /tmp (removed by tt_rmdir). Aborts the test on failure. */
char *tt_mkdtemp(void);
/* Removes a folder made by tt_mkdtemp, with its files. */
void tt_rmdir(char *dir);
/* Runs a shell command; returns its exit status (fails the test when it cannot be started). */
int tt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a JSONL file into a cJSON array (one item a line). Fails the test on error. */
cJSON *tt_read_jsonl(const char *path);
/* Writes the parity corpus (tests/tokenizer/gen_corpus.py) to DIR/corpus.jsonl with n strings; returns the path. */
char *tt_corpus(const char *dir, int n);
/* Runs the reference encoder on corpus for a tokenizer folder; returns the parsed output array. */
cJSON *tt_ref_encode(const char *tokdir, const char *corpus, const char *dir);
/* Loads a tokenizer, failing the test with its error message on failure. */
tok_tokenizer *tt_load(const char *dir);
/* Path of the retool binary (RETOOL_BIN or build/retool). */
const char *tt_retool(void);

#endif
