/* Writes a trained byte-level BPE as Hugging Face tokenizer.json + tokenizer_config.json. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_train_internal.h"

const char *const *tok_train_added_tokens(int tags) {
    static const char *const with_tags[] = {"<|endoftext|>", "<|im_start|>",   "<|im_end|>", "<code>",    "</code>",
                                            "<interpreter>", "</interpreter>", "<answer>",   "</answer>", NULL};
    static const char *const plain[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", NULL};
    return tags ? with_tags : plain;
}

static cJSON *bytelevel_obj(void) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "ByteLevel");
    cJSON_AddFalseToObject(o, "add_prefix_space");
    cJSON_AddFalseToObject(o, "trim_offsets");
    cJSON_AddFalseToObject(o, "use_regex");
    return o;
}

static cJSON *added_obj(const char *content, size_t id, int special) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "content", content);
    cJSON_AddFalseToObject(o, "single_word");
    cJSON_AddFalseToObject(o, "lstrip");
    cJSON_AddFalseToObject(o, "rstrip");
    cJSON_AddFalseToObject(o, "normalized");
    cJSON_AddBoolToObject(o, "special", special);
    return o;
}

/* Byte-level spellings of every token: 256 bytes then the merges. */
static char **spellings(const int32_t (*merges)[2], size_t nmerges) {
    size_t n = 256 + nmerges;
    char **sp = calloc(n, sizeof *sp);
    size_t *len = calloc(n, sizeof *len);
    if (!sp || !len) goto fail;
    for (size_t b = 0; b < 256; b++) {
        char c = (char)b;
        size_t cap = 0;
        if (tok_bytelevel_encode(&c, 1, &sp[b], &len[b], &cap)) goto fail;
    }
    for (size_t k = 0; k < nmerges; k++) {
        size_t a = (size_t)merges[k][0], b = (size_t)merges[k][1], id = 256 + k;
        sp[id] = malloc(len[a] + len[b] + 1);
        if (!sp[id]) goto fail;
        memcpy(sp[id], sp[a], len[a]);
        memcpy(sp[id] + len[a], sp[b], len[b] + 1);
        len[id] = len[a] + len[b];
    }
    free(len);
    return sp;
fail:
    if (sp)
        for (size_t i = 0; i < n; i++)
            free(sp[i]);
    free(sp);
    free(len);
    return NULL;
}

rt_status tok_train_write(const char *out_dir, const int32_t (*merges)[2], size_t nmerges, const char *const *added,
                          int tags, rt_error *err) {
    rt_status st = rt_mkdir_p(out_dir, err);
    if (st) return st;
    char **sp = spellings(merges, nmerges);
    if (!sp) return rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t nvocab = 256 + nmerges;
    cJSON *root = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *at = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *atd = cJSON_CreateObject();
    for (size_t i = 0; added[i]; i++) {
        cJSON_AddItemToArray(at, added_obj(added[i], nvocab + i, i < TOK_TRAIN_NSPECIAL));
        char key[32];
        snprintf(key, sizeof key, "%zu", nvocab + i);
        cJSON *d = added_obj(added[i], nvocab + i, i < TOK_TRAIN_NSPECIAL);
        cJSON_DeleteItemFromObjectCaseSensitive(d, "id");
        cJSON_AddItemToObject(atd, key, d);
    }
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *pres = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON *split = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", TOK_TRAIN_PATTERN);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddFalseToObject(split, "invert");
    cJSON_AddItemToArray(pres, split);
    cJSON_AddItemToArray(pres, bytelevel_obj());
    cJSON_AddItemToObject(root, "post_processor", bytelevel_obj());
    cJSON_AddItemToObject(root, "decoder", bytelevel_obj());
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "");
    cJSON_AddStringToObject(model, "end_of_word_suffix", "");
    cJSON_AddFalseToObject(model, "fuse_unk");
    cJSON_AddFalseToObject(model, "byte_fallback");
    cJSON_AddFalseToObject(model, "ignore_merges");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (size_t i = 0; i < nvocab; i++)
        cJSON_AddNumberToObject(vocab, sp[i], (double)i);
    cJSON *ms = cJSON_AddArrayToObject(model, "merges");
    for (size_t k = 0; k < nmerges; k++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(sp[merges[k][0]]));
        cJSON_AddItemToArray(pair, cJSON_CreateString(sp[merges[k][1]]));
        cJSON_AddItemToArray(ms, pair);
    }
    cJSON_AddFalseToObject(cfg, "add_bos_token");
    cJSON_AddFalseToObject(cfg, "add_prefix_space");
    cJSON_AddItemToObject(cfg, "added_tokens_decoder", atd);
    cJSON_AddNullToObject(cfg, "bos_token");
    cJSON_AddStringToObject(cfg, "eos_token", "<|im_end|>");
    cJSON_AddStringToObject(cfg, "pad_token", "<|endoftext|>");
    cJSON_AddFalseToObject(cfg, "clean_up_tokenization_spaces");
    cJSON_AddNumberToObject(cfg, "model_max_length", 32768);
    cJSON_AddStringToObject(cfg, "tokenizer_class", "PreTrainedTokenizerFast");
    cJSON_AddStringToObject(cfg, "retool_trained_by", "retool tokenizer train");
    cJSON_AddBoolToObject(cfg, "retool_tags_as_tokens", tags);
    cJSON_AddStringToObject(cfg, "chat_template", tok_template_jinja(TOK_TEMPLATE_CHATML));
    for (size_t i = 0; i < nvocab; i++)
        free(sp[i]);
    free(sp);
    size_t n = strlen(out_dir) + 32;
    char *path = malloc(n);
    if (!path) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    if (st == RT_OK) {
        snprintf(path, n, "%s/tokenizer.json", out_dir);
        st = rt_json_write_file(path, root, err);
    }
    if (st == RT_OK) {
        snprintf(path, n, "%s/tokenizer_config.json", out_dir);
        st = rt_json_write_file(path, cfg, err);
    }
    free(path);
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    return st;
}
