/* The fixture of the pipeline, train and serve tests: a tiny random-weight Llama model whose tokenizer is a BPE
 * trained (with the rollout tags as tokens) on a corpus the test writes. */
#ifndef RETOOL_TESTS_BASE_TINY_MODEL_H
#define RETOOL_TESTS_BASE_TINY_MODEL_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "model/config.h"
#include "model/modeldir.h"
#include "tokenizer/tokenizer.h"

typedef struct tiny_model_spec {
    void (*write_corpus)(FILE *fp); /* the tokenizer's training text */
    int64_t tok_vocab;              /* BPE vocabulary trained (<= vocab) */
    int64_t vocab, hidden, inter, layers, heads, max_pos;
    uint64_t seed; /* of the random weights */
} tiny_model_spec;

/* Trains the tokenizer in dir/tok (corpus in dir/corpus.txt) and writes the model with it to dir/model, whose path
 * goes to model_dir. Heads are 16 wide, one KV head per head; float32 weights. */
static inline void tiny_model_make(const char *dir, const tiny_model_spec *s, char *model_dir, size_t n) {
    char corpus[600], tokdir[600];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    snprintf(tokdir, sizeof tokdir, "%s/tok", dir);
    FILE *fp = fopen(corpus, "w");
    cr_assert_not_null(fp, "%s", corpus);
    s->write_corpus(fp);
    fclose(fp);
    tok_train_opts o = {.vocab_size = (int)s->tok_vocab, .min_frequency = 2, .tags_as_tokens = 1};
    const char *files[] = {corpus};
    rt_error e;
    cr_assert_eq(tok_train(files, 1, &o, tokdir, &e), RT_OK, "%s", e.msg);
    model_config c = {0};
    c.arch = MODEL_ARCH_LLAMA;
    c.vocab_size = s->vocab;
    c.hidden_size = s->hidden;
    c.intermediate_size = s->inter;
    c.num_layers = s->layers;
    c.num_heads = c.num_kv_heads = s->heads;
    c.head_dim = 16;
    c.max_position_embeddings = s->max_pos;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000;
    c.bos_token_id = c.eos_token_id = -1;
    snprintf(c.torch_dtype, sizeof c.torch_dtype, "float32");
    snprintf(model_dir, n, "%s/model", dir);
    cr_assert_eq(model_dir_init(&c, model_dir, s->seed, ST_F32, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(model_dir_copy_tokenizer(tokdir, model_dir, &c, &e), RT_OK, "%s", e.msg);
}

#endif
