/* The BPE trainer through the CLI: the tokenizer it writes loads in the reference and encodes the parity corpus
 * identically, has the requested size, keeps the rollout tags whole (or not, with --tags-as-text), round-trips
 * exactly, and is deterministic. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_test_util.h"

/* Writes the corpus strings as raw text (one a line) for training. */
static void corpus_text(const char *dir, const char *corpus) {
    cr_assert_eq(tt_sh("/usr/bin/python3 -c 'import json,sys\n"
                       "with open(sys.argv[2], \"w\") as f:\n"
                       "    for l in open(sys.argv[1]): f.write(json.loads(l) + \"\\n\")' '%s' '%s/train.txt'",
                       corpus, dir),
                 0);
}

static size_t encode_len(tok_tokenizer *tok, const char *s) {
    tok_ids ids = {0};
    rt_error err;
    cr_assert_eq(tok_encode(tok, s, strlen(s), 0, &ids, &err), RT_OK, "%s", err.msg);
    size_t n = ids.len;
    tok_ids_free(&ids);
    return n;
}

Test(train, trained_tokenizer_matches_reference) {
    char *dir = tt_mkdtemp();
    char *corpus = tt_corpus(dir, 600);
    corpus_text(dir, corpus);
    cr_assert_eq(tt_sh("%s tokenizer train --quiet --vocab-size 800 --out '%s/tok' '%s/train.txt' > /dev/null",
                       tt_retool(), dir, dir),
                 0);
    cr_assert_eq(tt_sh("%s tokenizer train --quiet --vocab-size 800 --out '%s/tok2' '%s/train.txt' > /dev/null",
                       tt_retool(), dir, dir),
                 0);
    cr_expect_eq(tt_sh("cmp -s '%s/tok/tokenizer.json' '%s/tok2/tokenizer.json'", dir, dir), 0,
                 "training twice must give the same file");
    char tokdir[512];
    snprintf(tokdir, sizeof tokdir, "%s/tok", dir);
    tok_tokenizer *tok = tt_load(tokdir);
    cr_expect_eq(tok_vocab_size(tok), 800);
    int32_t close_code = tok_token_id(tok, "</code>");
    cr_expect_geq(close_code, 0, "</code> must be an added token");
    cr_expect(!tok_is_special(tok, close_code), "the tags are added tokens but not special (not skipped on decode)");
    cr_expect_eq(encode_len(tok, "</code>"), 1);
    cr_expect_eq(encode_len(tok, "x</code>y"), 3);
    cJSON *strings = tt_read_jsonl(corpus);
    cJSON *ref = tt_ref_encode(tokdir, corpus, dir);
    size_t i = 0, mismatches = 0, roundtrip = 0;
    const cJSON *s = strings->child, *r = ref->child;
    for (; s && r; s = s->next, r = r->next, i++) {
        tok_ids ids = {0};
        rt_error err;
        cr_assert_eq(tok_encode(tok, s->valuestring, strlen(s->valuestring), 0, &ids, &err), RT_OK, "%s", err.msg);
        const cJSON *want = cJSON_GetObjectItem(r, "ids_plain");
        int same = (size_t)cJSON_GetArraySize(want) == ids.len;
        size_t k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, want) if (same) same = ids.ids[k++] == it->valueint;
        mismatches += !same;
        char *back;
        size_t bl;
        cr_assert_eq(tok_decode(tok, ids.ids, ids.len, 0, &back, &bl, &err), RT_OK);
        roundtrip += bl == strlen(s->valuestring) && memcmp(back, s->valuestring, bl) == 0;
        free(back);
        tok_ids_free(&ids);
    }
    cr_expect_eq(i, 600);
    cr_expect_eq(mismatches, 0, "%zu of %zu strings encode differently in the reference", mismatches, i);
    cr_expect_eq(roundtrip, i, "decode(encode(s)) == s for %zu of %zu", roundtrip, i);
    tok_free(tok);
    cJSON_Delete(strings);
    cJSON_Delete(ref);
    free(corpus);
    tt_rmdir(dir);
}

Test(train, tags_as_text_and_bad_sizes) {
    char *dir = tt_mkdtemp();
    char *corpus = tt_corpus(dir, 200);
    corpus_text(dir, corpus);
    cr_assert_eq(tt_sh("%s tokenizer train --quiet --tags-as-text --vocab-size 300 --out '%s/tok' '%s/train.txt' "
                       "> /dev/null",
                       tt_retool(), dir, dir),
                 0);
    char tokdir[512];
    snprintf(tokdir, sizeof tokdir, "%s/tok", dir);
    tok_tokenizer *tok = tt_load(tokdir);
    cr_expect_eq(tok_vocab_size(tok), 300);
    cr_expect_gt(encode_len(tok, "</code>"), 1, "with --tags-as-text the tag is ordinary text");
    cr_expect_geq(tok_token_id(tok, "<|im_end|>"), 0, "chat markers are always added tokens");
    tok_free(tok);
    cr_expect_eq(tt_sh("%s tokenizer train --quiet --vocab-size 100 --out '%s/x' '%s/train.txt' 2> /dev/null",
                       tt_retool(), dir, dir),
                 2, "a vocabulary smaller than the byte alphabet is a usage error");
    cr_expect_eq(tt_sh("%s tokenizer train --quiet --vocab-size 1000 --out '%s/x' '%s/missing.txt' 2> /dev/null",
                       tt_retool(), dir, dir),
                 1);
    cr_expect_eq(tt_sh("printf 'a\\377b' > '%s/bad.txt'; %s tokenizer train --quiet --vocab-size 1000 --out '%s/x' "
                       "'%s/bad.txt' 2> /dev/null",
                       dir, tt_retool(), dir, dir),
                 1, "invalid UTF-8 in the corpus is refused");
    free(corpus);
    tt_rmdir(dir);
}
