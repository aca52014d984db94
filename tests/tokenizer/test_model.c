/* A hand-made tokenizer.json with hand-computed expectations: BPE rank order and leftmost ties, Split by a literal,
 * added tokens (special or not, lstrip/rstrip), the post-processor template, lossy UTF-8 decoding, the streaming
 * decoder, and errors naming the field for unsupported or broken files. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "tok_test_util.h"

/* GPT-2 bytes_to_unicode, written out independently of src/tokenizer. */
static void byte_spelling(int b, char out[3]) {
    int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    int cp = b;
    if (!printable) {
        int n = 0;
        for (int c = 0; c < b; c++)
            if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
        cp = 256 + n;
    }
    if (cp < 128) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 63));
        out[2] = 0;
    }
}

static cJSON *added(int id, const char *content, int special, int strip) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "content", content);
    cJSON_AddBoolToObject(o, "special", special);
    cJSON_AddBoolToObject(o, "lstrip", strip);
    cJSON_AddBoolToObject(o, "rstrip", strip);
    cJSON_AddFalseToObject(o, "normalized");
    return o;
}

/* vocab: bytes 0..255, "ab" 256, "abc" 257, "bc" 258, "aa" 259; merges a+b, ab+c, b+c, a+a (ranks 0..3);
 * added "<x>" 300 (special), "[y]" 301 (not special, lstrip+rstrip); Split on " " then ByteLevel;
 * post-processor: <x> then the sequence. */
static cJSON *tiny_json(void) {
    cJSON *root = cJSON_CreateObject();
    cJSON *at = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON_AddItemToArray(at, added(300, "<x>", 1, 0));
    cJSON_AddItemToArray(at, added(301, "[y]", 0, 1));
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *pres = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON *split = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "String", " ");
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddFalseToObject(split, "invert");
    cJSON_AddItemToArray(pres, split);
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddFalseToObject(bl, "add_prefix_space");
    cJSON_AddFalseToObject(bl, "use_regex");
    cJSON_AddItemToArray(pres, bl);
    cJSON *post = cJSON_AddObjectToObject(root, "post_processor");
    cJSON_AddStringToObject(post, "type", "TemplateProcessing");
    cJSON *single = cJSON_AddArrayToObject(post, "single");
    cJSON *sp = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(sp, "SpecialToken"), "id", "<x>");
    cJSON_AddItemToArray(single, sp);
    cJSON *sq = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(sq, "Sequence"), "id", "A");
    cJSON_AddItemToArray(single, sq);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "decoder"), "type", "ByteLevel");
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int b = 0; b < 256; b++) {
        char s[3];
        byte_spelling(b, s);
        cJSON_AddNumberToObject(vocab, s, b);
    }
    cJSON_AddNumberToObject(vocab, "ab", 256);
    cJSON_AddNumberToObject(vocab, "abc", 257);
    cJSON_AddNumberToObject(vocab, "bc", 258);
    cJSON_AddNumberToObject(vocab, "aa", 259);
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    cJSON_AddItemToArray(merges, cJSON_CreateString("a b"));
    cJSON *m1 = cJSON_CreateArray(); /* the array form */
    cJSON_AddItemToArray(m1, cJSON_CreateString("ab"));
    cJSON_AddItemToArray(m1, cJSON_CreateString("c"));
    cJSON_AddItemToArray(merges, m1);
    cJSON_AddItemToArray(merges, cJSON_CreateString("b c"));
    cJSON_AddItemToArray(merges, cJSON_CreateString("a a"));
    return root;
}

static char *write_tok(cJSON *root) {
    char *dir = tt_mkdtemp();
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    rt_error err;
    cr_assert_eq(rt_json_write_file(path, root, &err), RT_OK, "%s", err.msg);
    cJSON_Delete(root);
    return dir;
}

static void expect_ids(tok_tokenizer *tok, const char *text, int flags, const int32_t *want, size_t n) {
    tok_ids ids = {0};
    rt_error err;
    cr_assert_eq(tok_encode(tok, text, strlen(text), flags, &ids, &err), RT_OK, "%s", err.msg);
    int same = ids.len == n;
    for (size_t i = 0; same && i < n; i++)
        same = ids.ids[i] == want[i];
    cr_expect(same, "'%s' (flags %d): got %zu ids, first %d", text, flags, ids.len, ids.len ? ids.ids[0] : -1);
    tok_ids_free(&ids);
}

#define IDS(...) (const int32_t[]){__VA_ARGS__}, sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)

Test(model, bpe_ranks_ties_added_tokens_template) {
    char *dir = write_tok(tiny_json());
    tok_tokenizer *tok = tt_load(dir);
    cr_expect_eq(tok_vocab_size(tok), 302);
    expect_ids(tok, "abc", 0, IDS(257));       /* a+b (rank 0), then ab+c (rank 1) */
    expect_ids(tok, "bcab", 0, IDS(258, 256)); /* a+b first, then b+c */
    expect_ids(tok, "aaa", 0, IDS(259, 'a'));  /* equal ranks: leftmost first */
    expect_ids(tok, "ab ab", 0, IDS(256, ' ', 256));
    expect_ids(tok, "a <x> b", 0, IDS('a', ' ', 300, ' ', 'b'));
    expect_ids(tok, "a<x>", TOK_ENCODE_NO_SPECIAL, IDS('a', '<', 'x', '>'));
    expect_ids(tok, "a  [y] \t b", 0, IDS('a', 301, 'b'));         /* lstrip + rstrip eat the white space */
    expect_ids(tok, "a[y]", TOK_ENCODE_NO_SPECIAL, IDS('a', 301)); /* not special: still matched */
    expect_ids(tok, "a[y]", TOK_ENCODE_NO_ADDED, IDS('a', '[', 'y', ']'));
    expect_ids(tok, "ab", TOK_ENCODE_ADD_SPECIAL, IDS(300, 256));
    expect_ids(tok, "", 0, NULL, 0);
    cr_expect_eq(tok_token_id(tok, "<x>"), 300);
    cr_expect_eq(tok_token_id(tok, "abc"), 257);
    cr_expect_eq(tok_token_id(tok, "zzz"), -1);
    cr_expect(tok_is_special(tok, 300) && !tok_is_special(tok, 301) && !tok_is_special(tok, 256));
    tok_ids ids = {0};
    rt_error err;
    cr_expect_eq(tok_encode(tok, "a\xff", 2, 0, &ids, &err), RT_EINVAL, "invalid UTF-8 must be refused");
    tok_ids_free(&ids);
    tok_free(tok);
    tt_rmdir(dir);
}

static void expect_decode(tok_tokenizer *tok, const int32_t *ids, size_t n, int flags, const char *want) {
    char *text;
    size_t len;
    rt_error err;
    cr_assert_eq(tok_decode(tok, ids, n, flags, &text, &len, &err), RT_OK, "%s", err.msg);
    cr_expect(len == strlen(want) && memcmp(text, want, len) == 0, "decode: got '%s', want '%s'", text, want);
    free(text);
}

Test(model, lossy_decode_and_stream) {
    char *dir = write_tok(tiny_json());
    tok_tokenizer *tok = tt_load(dir);
    /* one U+FFFD per maximal ill-formed subsequence (WHATWG / Rust from_utf8_lossy) */
    expect_decode(tok, IDS(0xF0, 0x9F), 0, "\xEF\xBF\xBD");
    expect_decode(tok, IDS(0xFF, 'A'), 0,
                  "\xEF\xBF\xBD"
                  "A");
    expect_decode(tok, IDS(0xE2, 0x82, 'A'), 0,
                  "\xEF\xBF\xBD"
                  "A");
    expect_decode(tok, IDS(0xED, 0xA0, 0x80), 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    expect_decode(tok, IDS(0xC3, 300, 0xA9), 0, "\xEF\xBF\xBD<x>\xEF\xBF\xBD"); /* added tokens split byte runs */
    expect_decode(tok, IDS(0xC3, 0xA9, 300, 257), TOK_DECODE_SKIP_SPECIAL,
                  "\xC3\xA9"
                  "abc");
    expect_decode(tok, IDS('a', ' ', '.', ' ', 'n', '\'', 't'), TOK_DECODE_CLEANUP, "a.n't");
    char *text;
    rt_error err;
    cr_expect_eq(tok_decode(tok, IDS(270), 0, &text, NULL, &err), RT_ERANGE, "an unused id must be refused");
    cr_expect_eq(tok_decode(tok, IDS(-1), 0, &text, NULL, &err), RT_ERANGE);
    cr_expect_eq(tok_decode(tok, IDS(302), 0, &text, NULL, &err), RT_ERANGE);
    /* stream: "é" = C3 A9 arrives byte by byte; the euro sign E2 82 AC likewise; then a cut character at the end */
    tok_stream s;
    tok_stream_init(&s, tok);
    const char *t;
    size_t tl;
    const int32_t seq[] = {0xC3, 0xA9, 0xE2, 0x82, 0xAC, 'x', 0xF0, 0x9F};
    const char *want[] = {"", "\xC3\xA9", "", "", "\xE2\x82\xAC", "x", "", ""};
    for (size_t i = 0; i < 8; i++) {
        cr_assert_eq(tok_stream_push(&s, seq[i], &t, &tl, &err), RT_OK, "%s", err.msg);
        cr_expect(tl == strlen(want[i]) && memcmp(t, want[i], tl) == 0, "stream step %zu: got '%s'", i, t);
    }
    cr_assert_eq(tok_stream_finish(&s, &t, &tl, &err), RT_OK);
    cr_expect(tl == 3 && memcmp(t, "\xEF\xBF\xBD", 3) == 0, "finish must flush the cut character as U+FFFD");
    cr_expect_eq(tok_stream_push(&s, 999, &t, &tl, &err), RT_ERANGE);
    tok_stream_free(&s);
    tok_free(tok);
    tt_rmdir(dir);
}

/* Loads a mutated tiny tokenizer; expects status and a message containing needle. */
static void expect_load_error(cJSON *root, rt_status want, const char *needle) {
    char *dir = write_tok(root);
    tok_tokenizer *tok = NULL;
    rt_error err;
    rt_err_clear(&err);
    rt_status st = tok_load(dir, &tok, &err);
    cr_expect_eq(st, want, "want status %d, got %d (%s)", want, st, err.msg);
    cr_expect(strstr(err.msg, needle) != NULL, "error '%s' should mention '%s'", err.msg, needle);
    cr_expect(strstr(err.msg, "tokenizer.json") != NULL, "error '%s' should name the file", err.msg);
    cr_expect_null(tok);
    tt_rmdir(dir);
}

Test(model, bad_files_name_the_field) {
    cJSON *j = tiny_json();
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "model"), "type", cJSON_CreateString("Unigram"));
    expect_load_error(j, RT_EUNSUPPORTED, "model.type");

    j = tiny_json();
    cJSON *pres = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "pre_tokenizer"), "pretokenizers");
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(pres, 0), "type", cJSON_CreateString("Whitespace"));
    expect_load_error(j, RT_EUNSUPPORTED, "pre_tokenizer.pretokenizers[0].type");

    j = tiny_json();
    cJSON *norm = cJSON_CreateObject();
    cJSON_AddStringToObject(norm, "type", "NFKC");
    cJSON_ReplaceItemInObject(j, "normalizer", norm);
    expect_load_error(j, RT_EUNSUPPORTED, "normalizer.type");

    j = tiny_json();
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "decoder"), "type", cJSON_CreateString("Metaspace"));
    expect_load_error(j, RT_EUNSUPPORTED, "decoder.type");

    j = tiny_json(); /* a merge whose result is missing from the vocabulary */
    cJSON_AddItemToArray(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "merges"), cJSON_CreateString("b d"));
    expect_load_error(j, RT_EFORMAT, "model.merges[4]: 'b' + 'd': the merged token is not in model.vocab");

    j = tiny_json();
    cJSON_AddItemToArray(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "merges"), cJSON_CreateString("a b c"));
    expect_load_error(j, RT_EFORMAT, "model.merges[4]");

    j = tiny_json();
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "vocab"), "a");
    expect_load_error(j, RT_EFORMAT, "no token for byte 0x61");

    j = tiny_json();
    cJSON_ReplaceItemInObject(
        cJSON_GetArrayItem(pres = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "pre_tokenizer"), "pretokenizers"), 0),
        "behavior", cJSON_CreateString("MergedWithNext"));
    expect_load_error(j, RT_EUNSUPPORTED, "pre_tokenizer.pretokenizers[0].behavior");

    j = tiny_json();
    cJSON_DeleteItemFromObject(j, "model");
    expect_load_error(j, RT_EFORMAT, "model");

    /* a syntax error names the file and line; a missing folder names the path */
    char *dir = tt_mkdtemp();
    tt_sh("printf '{\\n  \"model\": {\\n  oops\\n}' > '%s/tokenizer.json'", dir);
    tok_tokenizer *tok = NULL;
    rt_error err;
    cr_expect_neq(tok_load(dir, &tok, &err), RT_OK);
    cr_expect(strstr(err.msg, "tokenizer.json:3") != NULL, "syntax error should name line 3: %s", err.msg);
    tt_rmdir(dir);
    cr_expect_neq(tok_load("/nonexistent/retool-tok", &tok, &err), RT_OK);
    cr_expect(strstr(err.msg, "/nonexistent/retool-tok/tokenizer.json") != NULL, "%s", err.msg);
}
