#include "tok_test_util.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

char *tt_mkdtemp(void) {
    char *d = strdup("/tmp/retool-tok-XXXXXX");
    cr_assert(d && mkdtemp(d), "mkdtemp failed");
    return d;
}

void tt_rmdir(char *dir) {
    if (!dir) return;
    tt_sh("rm -rf '%s'", dir);
    free(dir);
}

int tt_sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    cr_assert(rc != -1, "could not run: %s", cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

cJSON *tt_read_jsonl(const char *path) {
    rt_jsonl_reader r;
    rt_error err;
    rt_err_clear(&err);
    cr_assert_eq(rt_jsonl_open(&r, path, RT_JSONL_STOP, &err), RT_OK, "%s", err.msg);
    cJSON *arr = cJSON_CreateArray();
    for (;;) {
        cJSON *item;
        cr_assert_eq(rt_jsonl_next(&r, &item, &err), RT_OK, "%s", err.msg);
        if (!item) break;
        cJSON_AddItemToArray(arr, item);
    }
    rt_jsonl_close(&r);
    return arr;
}

char *tt_corpus(const char *dir, int n) {
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/corpus.jsonl", dir);
    cr_assert_eq(tt_sh("/usr/bin/python3 tests/tokenizer/gen_corpus.py '%s' %d", path, n), 0,
                 "corpus generation failed");
    return path;
}

cJSON *tt_ref_encode(const char *tokdir, const char *corpus, const char *dir) {
    char out[4096];
    snprintf(out, sizeof out, "%s/ref-%ld.jsonl", dir, random());
    cr_assert_eq(tt_sh("test -d tests/node/node_modules/@huggingface/tokenizers"), 0,
                 "the reference is not installed: run scripts/install-deps.sh --test");
    cr_assert_eq(tt_sh("node tests/node/tokenizer_ref.mjs encode '%s' '%s' '%s'", tokdir, corpus, out), 0,
                 "the reference (node tests/node/tokenizer_ref.mjs) failed on %s", tokdir);
    return tt_read_jsonl(out);
}

tok_tokenizer *tt_load(const char *dir) {
    tok_tokenizer *tok = NULL;
    rt_error err;
    rt_err_clear(&err);
    cr_assert_eq(tok_load(dir, &tok, &err), RT_OK, "loading %s: %s", dir, err.msg);
    return tok;
}

const char *tt_retool(void) {
    const char *b = getenv("RETOOL_BIN");
    return b && *b ? b : "build/retool";
}
