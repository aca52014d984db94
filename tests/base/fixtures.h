/* Paths of the test fixtures: tests/fixtures/ unpacked by the Makefile into $(BUILD)/fixtures/, which it passes to
 * every test and benchmark object as RETOOL_FIXTURES (relative to the repository root the tests run from). */
#ifndef RETOOL_TESTS_FIXTURES_H
#define RETOOL_TESTS_FIXTURES_H

#ifndef RETOOL_FIXTURES
#error "RETOOL_FIXTURES (the unpacked fixtures folder, $(BUILD)/fixtures) is set by the Makefile for tests and benches"
#endif

/* The Qwen3 and Llama 3 tokenizers (tokenizer.json, tokenizer_config.json; tests/fixtures/tokenizers/NOTICE). */
#define FIXTURE_TOK_QWEN3 RETOOL_FIXTURES "/tokenizers/qwen3"
#define FIXTURE_TOK_LLAMA3 RETOOL_FIXTURES "/tokenizers/llama3"

#endif
