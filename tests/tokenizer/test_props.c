/* Properties on random input: decode(encode(s)) == s (NFC(s) for Qwen3, by utf8proc) for any valid UTF-8, with
 * every Unicode plane, controls and NUL; every id in range; and one tokenizer shared by two threads gives the same
 * ids as one thread. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/rng.h"
#include "tok_test_util.h"

/* A random scalar value: mostly ASCII and common blocks, sometimes anything (surrogates excluded). */
static uint32_t rand_cp(rt_rng *r) {
    switch (rt_rng_below(r, 6)) {
    case 0:
        return (uint32_t)rt_rng_below(r, 0x80);
    case 1:
        return (uint32_t)rt_rng_range(r, 0x20, 0x7E);
    case 2:
        return (uint32_t)rt_rng_range(r, 0x80, 0x7FF);
    case 3:
        return (uint32_t)rt_rng_range(r, 0x800, 0xD7FF);
    case 4:
        return (uint32_t)rt_rng_range(r, 0xE000, 0xFFFF);
    default:
        return (uint32_t)rt_rng_range(r, 0x10000, 0x10FFFF);
    }
}

static size_t rand_text(rt_rng *r, char *buf, size_t maxchars) {
    size_t n = (size_t)rt_rng_below(r, maxchars + 1), o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)utf8proc_encode_char((utf8proc_int32_t)rand_cp(r), (utf8proc_uint8_t *)buf + o);
    return o;
}

static void roundtrip(const char *tokdir, int nfc) {
    tok_tokenizer *tok = tt_load(tokdir);
    rt_rng r;
    rt_rng_seed(&r, 12345);
    char *buf = malloc(4 * 300 + 1);
    for (int k = 0; k < 1500; k++) {
        size_t len = rand_text(&r, buf, 300);
        tok_ids ids = {0};
        rt_error err;
        cr_assert_eq(tok_encode(tok, buf, len, TOK_ENCODE_NO_ADDED, &ids, &err), RT_OK, "%d: %s", k, err.msg);
        for (size_t i = 0; i < ids.len; i++)
            cr_assert(ids.ids[i] >= 0 && (size_t)ids.ids[i] < tok_vocab_size(tok));
        char *back;
        size_t bl;
        cr_assert_eq(tok_decode(tok, ids.ids, ids.len, 0, &back, &bl, &err), RT_OK, "%s", err.msg);
        utf8proc_uint8_t *want = NULL;
        utf8proc_ssize_t wl = (utf8proc_ssize_t)len;
        if (nfc) {
            wl = utf8proc_map((const utf8proc_uint8_t *)buf, (utf8proc_ssize_t)len, &want,
                              UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            cr_assert_geq(wl, 0);
        }
        const char *w = nfc ? (const char *)want : buf;
        cr_expect((size_t)wl == bl && memcmp(back, w, bl) == 0, "random string %d does not round-trip", k);
        free(want);
        free(back);
        tok_ids_free(&ids);
    }
    free(buf);
    tok_free(tok);
}

Test(props, qwen3_roundtrip_random_utf8) {
    roundtrip(TT_QWEN3, 1);
}

Test(props, llama3_roundtrip_random_utf8) {
    roundtrip(TT_LLAMA3, 0);
}

typedef struct job {
    tok_tokenizer *tok;
    char **texts;
    size_t *lens;
    int n;
    tok_ids *out;
} job;

static void *encode_all(void *arg) {
    job *j = arg;
    for (int i = 0; i < j->n; i++) {
        rt_error err;
        if (tok_encode(j->tok, j->texts[i], j->lens[i], 0, &j->out[i], &err)) return (void *)1;
    }
    return NULL;
}

Test(props, shared_by_threads) {
    tok_tokenizer *tok = tt_load(TT_QWEN3);
    enum { N = 600 };
    char **texts = calloc(N, sizeof *texts);
    size_t *lens = calloc(N, sizeof *lens);
    rt_rng r;
    rt_rng_seed(&r, 99);
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(4 * 80 + 1);
        lens[i] = rand_text(&r, texts[i], 80);
    }
    tok_ids *one = calloc(N, sizeof *one), *a = calloc(N, sizeof *a), *b = calloc(N, sizeof *b);
    job j1 = {tok, texts, lens, N, one};
    cr_assert_null(encode_all(&j1));
    tok_free(tok);
    tok = tt_load(TT_QWEN3); /* a cold cache, filled by both threads at once */
    job ja = {tok, texts, lens, N, a}, jb = {tok, texts, lens, N, b};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, encode_all, &ja);
    pthread_create(&tb, NULL, encode_all, &jb);
    void *ra, *rb;
    pthread_join(ta, &ra);
    pthread_join(tb, &rb);
    cr_assert(!ra && !rb);
    for (int i = 0; i < N; i++) {
        cr_expect(a[i].len == one[i].len && (!a[i].len || memcmp(a[i].ids, one[i].ids, a[i].len * 4) == 0));
        cr_expect(b[i].len == one[i].len && (!b[i].len || memcmp(b[i].ids, one[i].ids, b[i].len * 4) == 0));
        tok_ids_free(&one[i]);
        tok_ids_free(&a[i]);
        tok_ids_free(&b[i]);
        free(texts[i]);
    }
    free(one);
    free(a);
    free(b);
    free(texts);
    free(lens);
    tok_free(tok);
}
