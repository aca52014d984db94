/* Parity with Hugging Face's tokenizers.js on the real Qwen3 and Llama 3 files: ids (with and without
 * add_special_tokens), decodes (whole, cut in the middle of characters, skip_special_tokens), the exact round trip,
 * and the streaming decoder against the batch decoder. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/json.h"
#include "tok_test_util.h"

static void check_ids(const char *what, size_t i, const cJSON *ref, const tok_ids *ids, const char *s) {
    size_t n = (size_t)cJSON_GetArraySize(ref), k = 0;
    const cJSON *it;
    int same = n == ids->len;
    cJSON_ArrayForEach(it, ref) {
        if (!same) break;
        same = ids->ids[k++] == (int32_t)it->valuedouble;
    }
    cr_expect(same, "%s: string %zu (%.80s...): ids differ from the reference (%zu vs %zu ids)", what, i, s, ids->len,
              n);
}

static void check_decode(tok_tokenizer *tok, const char *what, size_t i, const cJSON *ref, const int32_t *ids, size_t n,
                         int flags) {
    if (cJSON_IsNull(ref)) return; /* the reference refuses to decode [] */
    char *text;
    size_t len;
    rt_error err;
    rt_err_clear(&err);
    cr_assert_eq(tok_decode(tok, ids, n, flags, &text, &len, &err), RT_OK, "%s", err.msg);
    cr_expect(strlen(ref->valuestring) == len && memcmp(ref->valuestring, text, len) == 0,
              "%s: string %zu: decode differs: '%.60s' vs reference '%.60s'", what, i, text, ref->valuestring);
    free(text);
}

/* Concatenated streaming output must equal the batch decode (flags 0). */
static void check_stream(tok_tokenizer *tok, size_t i, const int32_t *ids, size_t n) {
    char *want;
    size_t wl;
    rt_error err;
    rt_err_clear(&err);
    cr_assert_eq(tok_decode(tok, ids, n, 0, &want, &wl, &err), RT_OK, "%s", err.msg);
    tok_stream s;
    tok_stream_init(&s, tok);
    char *got = malloc(wl + 1);
    size_t gl = 0;
    for (size_t k = 0; k <= n; k++) {
        const char *t;
        size_t tl;
        if (k < n)
            cr_assert_eq(tok_stream_push(&s, ids[k], &t, &tl, &err), RT_OK, "%s", err.msg);
        else
            cr_assert_eq(tok_stream_finish(&s, &t, &tl, &err), RT_OK, "%s", err.msg);
        cr_assert(rt_utf8_valid(t, tl, NULL), "string %zu: stream emitted invalid UTF-8 at id %zu", i, k);
        cr_assert(gl + tl <= wl, "string %zu: stream emitted more than the batch decode", i);
        memcpy(got + gl, t, tl);
        gl += tl;
    }
    cr_expect(gl == wl && memcmp(got, want, wl) == 0, "string %zu: stream output differs from tok_decode", i);
    tok_stream_free(&s);
    free(got);
    free(want);
}

static void parity(const char *tokdir) {
    char *dir = tt_mkdtemp();
    char *corpus = tt_corpus(dir, 2400);
    cJSON *strings = tt_read_jsonl(corpus);
    cJSON *ref = tt_ref_encode(tokdir, corpus, dir);
    tok_tokenizer *tok = tt_load(tokdir);
    int cleanup = tok_decode_cleanup_default(tok) ? TOK_DECODE_CLEANUP : 0;
    cr_assert_eq(cJSON_GetArraySize(strings), cJSON_GetArraySize(ref));
    cr_assert_geq(cJSON_GetArraySize(strings), 2000);
    size_t i = 0;
    const cJSON *s = strings->child, *r = ref->child;
    for (; s && r; s = s->next, r = r->next, i++) {
        const char *text = s->valuestring;
        size_t len = strlen(text);
        tok_ids ids = {0}, plain = {0};
        rt_error err;
        rt_err_clear(&err);
        cr_assert_eq(tok_encode(tok, text, len, TOK_ENCODE_ADD_SPECIAL, &ids, &err), RT_OK, "%zu: %s", i, err.msg);
        cr_assert_eq(tok_encode(tok, text, len, 0, &plain, &err), RT_OK, "%zu: %s", i, err.msg);
        check_ids("add_special_tokens", i, cJSON_GetObjectItem(r, "ids"), &ids, text);
        check_ids("plain", i, cJSON_GetObjectItem(r, "ids_plain"), &plain, text);
        size_t n = ids.len;
        check_decode(tok, "decode", i, cJSON_GetObjectItem(r, "dec"), ids.ids, n, cleanup);
        check_decode(tok, "decode half", i, cJSON_GetObjectItem(r, "dec_half"), ids.ids, (n + 1) / 2, cleanup);
        if (n) check_decode(tok, "decode tail", i, cJSON_GetObjectItem(r, "dec_tail"), ids.ids + 1, n - 1, cleanup);
        check_decode(tok, "decode skip", i, cJSON_GetObjectItem(r, "dec_skip"), ids.ids, n,
                     cleanup | TOK_DECODE_SKIP_SPECIAL);
        /* exact round trip: the text itself, NFC-normalised when the tokenizer normalises (utf8proc, not ours) */
        char *back;
        size_t bl;
        cr_assert_eq(tok_decode(tok, plain.ids, plain.len, 0, &back, &bl, &err), RT_OK, "%s", err.msg);
        char *want = (char *)utf8proc_NFC((const utf8proc_uint8_t *)text);
        int nfc = strstr(tokdir, "qwen") != NULL;
        const char *w = nfc ? want : text;
        cr_expect(bl == strlen(w) && memcmp(back, w, bl) == 0, "string %zu: decode(encode(s)) != s: '%.60s'", i, text);
        free(want);
        free(back);
        check_stream(tok, i, ids.ids, n);
        check_stream(tok, i, ids.ids, (n + 1) / 2);
        tok_ids_free(&ids);
        tok_ids_free(&plain);
    }
    tok_free(tok);
    cJSON_Delete(strings);
    cJSON_Delete(ref);
    free(corpus);
    tt_rmdir(dir);
}

Test(parity, qwen3_matches_reference) {
    parity(TT_QWEN3);
}

Test(parity, llama3_matches_reference) {
    parity(TT_LLAMA3);
}
