/* Loading tokenizer.json (+ tokenizer_config.json): BPE model, normalizer, pre-tokenizers, decoder, post-processor
 * and added tokens. Every unsupported or malformed part is an error naming its field. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "tokenizer/tok_internal.h"

static int is_null(const cJSON *j) {
    return !j || cJSON_IsNull(j);
}

static rt_status load_normalizer(tok_tokenizer *tok, const cJSON *n, const char *field, rt_error *err) {
    if (is_null(n)) return RT_OK;
    const char *type;
    if (rt_json_get_string(n, "type", &type, err)) return rt_err_prefix(err, "%s", field);
    if (strcmp(type, "NFC") == 0) {
        tok->nfc = 1;
        return RT_OK;
    }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(items)) return rt_err_set(err, RT_EFORMAT, "%s.normalizers: expected an array", field);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, items) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.normalizers[%d]", field, i++);
            rt_status st = load_normalizer(tok, it, sub, err);
            if (st) return st;
        }
        return RT_OK;
    }
    return rt_err_set(err, RT_EUNSUPPORTED,
                      "%s.type: unsupported normalizer '%s' (retool supports NFC, Sequence, null)", field, type);
}

static rt_status add_pre(tok_tokenizer *tok, tok_pre *p, rt_error *err) {
    tok_pre *np = realloc(tok->pre, (tok->npre + 1) * sizeof *np);
    if (!np) return rt_err_set(err, RT_ENOMEM, "out of memory");
    tok->pre = np;
    tok->pre[tok->npre++] = *p;
    return RT_OK;
}

static rt_status load_pre(tok_tokenizer *tok, const cJSON *n, const char *field, rt_error *err) {
    if (is_null(n)) return RT_OK;
    const char *type;
    if (rt_json_get_string(n, "type", &type, err)) return rt_err_prefix(err, "%s", field);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(n, "pretokenizers");
        if (!cJSON_IsArray(items)) return rt_err_set(err, RT_EFORMAT, "%s.pretokenizers: expected an array", field);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, items) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", field, i++);
            rt_status st = load_pre(tok, it, sub, err);
            if (st) return st;
        }
        return RT_OK;
    }
    tok_pre p;
    memset(&p, 0, sizeof p);
    if (strcmp(type, "Split") == 0) {
        p.kind = TOK_PRE_SPLIT;
        const char *behavior = "Isolated";
        int invert = 0;
        if (rt_json_opt_string(n, "behavior", &behavior, err) || rt_json_opt_bool(n, "invert", &invert, err))
            return rt_err_prefix(err, "%s", field);
        if (strcmp(behavior, "Isolated") != 0)
            return rt_err_set(err, RT_EUNSUPPORTED, "%s.behavior: unsupported '%s' (retool supports Isolated)", field,
                              behavior);
        if (invert) return rt_err_set(err, RT_EUNSUPPORTED, "%s.invert: true is not supported", field);
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const cJSON *rx = pat ? cJSON_GetObjectItemCaseSensitive(pat, "Regex") : NULL;
        const cJSON *lit = pat ? cJSON_GetObjectItemCaseSensitive(pat, "String") : NULL;
        const cJSON *src = cJSON_IsString(rx) ? rx : cJSON_IsString(lit) ? lit : NULL;
        if (!src)
            return rt_err_set(err, RT_EFORMAT, "%s.pattern: expected {\"Regex\": ...} or {\"String\": ...}", field);
        rt_status st = tok_regex_compile(&p.re, src->valuestring, strlen(src->valuestring), src == lit, err);
        if (st) return rt_err_prefix(err, "%s.pattern", field);
        return add_pre(tok, &p, err);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        p.kind = TOK_PRE_BYTELEVEL;
        p.use_regex = 1;
        if (rt_json_opt_bool(n, "add_prefix_space", &p.add_prefix_space, err) ||
            rt_json_opt_bool(n, "use_regex", &p.use_regex, err))
            return rt_err_prefix(err, "%s", field);
        if (p.use_regex) {
            rt_status st = tok_regex_compile(&p.re, TOK_GPT2_PATTERN, strlen(TOK_GPT2_PATTERN), 0, err);
            if (st) return st;
        }
        return add_pre(tok, &p, err);
    }
    return rt_err_set(err, RT_EUNSUPPORTED,
                      "%s.type: unsupported pre-tokenizer '%s' (retool supports Split, ByteLevel, Sequence)", field,
                      type);
}

static rt_status load_decoder(const cJSON *n, const char *field, rt_error *err) {
    if (is_null(n)) return rt_err_set(err, RT_EUNSUPPORTED, "%s: missing; retool needs the ByteLevel decoder", field);
    const char *type;
    if (rt_json_get_string(n, "type", &type, err)) return rt_err_prefix(err, "%s", field);
    if (strcmp(type, "ByteLevel") == 0) return RT_OK;
    return rt_err_set(err, RT_EUNSUPPORTED, "%s.type: unsupported decoder '%s' (retool supports ByteLevel)", field,
                      type);
}

/* Fills tok->post_single from a TemplateProcessing "single" template, searching a Sequence. */
static rt_status load_post(tok_tokenizer *tok, const cJSON *n, const char *field, rt_error *err) {
    if (is_null(n)) return RT_OK;
    const char *type;
    if (rt_json_get_string(n, "type", &type, err)) return rt_err_prefix(err, "%s", field);
    if (strcmp(type, "ByteLevel") == 0) return RT_OK;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(n, "processors");
        if (!cJSON_IsArray(items)) return rt_err_set(err, RT_EFORMAT, "%s.processors: expected an array", field);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, items) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.processors[%d]", field, i++);
            rt_status st = load_post(tok, it, sub, err);
            if (st) return st;
        }
        return RT_OK;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(n, "single");
        if (!cJSON_IsArray(single)) return rt_err_set(err, RT_EFORMAT, "%s.single: expected an array", field);
        if (tok->post_single) return rt_err_set(err, RT_EUNSUPPORTED, "%s: more than one TemplateProcessing", field);
        size_t cnt = (size_t)cJSON_GetArraySize(single);
        tok->post_single = malloc((cnt + 1) * sizeof *tok->post_single);
        if (!tok->post_single) return rt_err_set(err, RT_ENOMEM, "out of memory");
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, single) {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
            const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
            if (sq) {
                tok->post_single[tok->npost_single++] = -1;
            } else if (sp) {
                const char *name;
                if (rt_json_get_string(sp, "id", &name, err))
                    return rt_err_prefix(err, "%s.single[%d].SpecialToken", field, i);
                int32_t id = tok_token_id(tok, name);
                if (id < 0)
                    return rt_err_set(err, RT_EFORMAT, "%s.single[%d].SpecialToken.id: unknown token '%s'", field, i,
                                      name);
                tok->post_single[tok->npost_single++] = id;
            } else {
                return rt_err_set(err, RT_EFORMAT, "%s.single[%d]: expected SpecialToken or Sequence", field, i);
            }
            i++;
        }
        return RT_OK;
    }
    return rt_err_set(err, RT_EUNSUPPORTED,
                      "%s.type: unsupported post-processor '%s' (retool supports ByteLevel, TemplateProcessing, "
                      "Sequence)",
                      field, type);
}

/* Checks the BPE model's options and returns its vocab and merges. */
static rt_status check_model(const cJSON *model, const cJSON **vocab, const cJSON **merges, int *ignore_merges,
                             rt_error *err) {
    if (!cJSON_IsObject(model)) return rt_err_set(err, RT_EFORMAT, "model: expected an object");
    const char *type = NULL;
    if (rt_json_opt_string(model, "type", &type, err)) return rt_err_prefix(err, "model");
    if (type && strcmp(type, "BPE") != 0)
        return rt_err_set(err, RT_EUNSUPPORTED, "model.type: unsupported model '%s' (retool supports BPE)", type);
    *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(*vocab)) return rt_err_set(err, RT_EFORMAT, "model.vocab: expected an object");
    if (!cJSON_IsArray(*merges)) return rt_err_set(err, RT_EFORMAT, "model.merges: expected an array");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (!is_null(d)) return rt_err_set(err, RT_EUNSUPPORTED, "model.dropout: BPE dropout is not supported");
    int bf = 0;
    *ignore_merges = 0;
    if (rt_json_opt_bool(model, "byte_fallback", &bf, err) ||
        rt_json_opt_bool(model, "ignore_merges", ignore_merges, err))
        return rt_err_prefix(err, "model");
    if (bf) return rt_err_set(err, RT_EUNSUPPORTED, "model.byte_fallback: true is not supported (byte-level BPE)");
    const char *keys[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const char *v = NULL;
        if (rt_json_opt_string(model, keys[i], &v, err)) return rt_err_prefix(err, "model");
        if (v && *v) return rt_err_set(err, RT_EUNSUPPORTED, "model.%s: '%s' is not supported", keys[i], v);
    }
    return RT_OK;
}

static rt_status load_vocab(tok_tokenizer *tok, const cJSON *vocab, const cJSON *added, rt_error *err) {
    int64_t maxid = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 2147483646.0 ||
            it->valuedouble != (double)(int64_t)it->valuedouble)
            return rt_err_set(err, RT_EFORMAT, "model.vocab['%s']: expected an id in [0, 2^31)", it->string);
        if ((int64_t)it->valuedouble > maxid) maxid = (int64_t)it->valuedouble;
    }
    int i = 0;
    cJSON_ArrayForEach(it, added) {
        int64_t id;
        if (rt_json_get_int(it, "id", &id, err)) return rt_err_prefix(err, "added_tokens[%d]", i);
        if (id < 0 || id > 2147483646) return rt_err_set(err, RT_EFORMAT, "added_tokens[%d].id: out of range", i);
        if (id > maxid) maxid = id;
        i++;
    }
    tok->nentries = (size_t)(maxid + 1);
    tok->entries = calloc(tok->nentries ? tok->nentries : 1, sizeof *tok->entries);
    if (!tok->entries) return rt_err_set(err, RT_ENOMEM, "out of memory for %zu tokens", tok->nentries);
    size_t nvocab = 0;
    cJSON_ArrayForEach(it, vocab) {
        size_t id = (size_t)it->valuedouble, klen = strlen(it->string);
        if (tok->entries[id].bytes)
            return rt_err_set(err, RT_EFORMAT, "model.vocab['%s']: id %zu is used twice", it->string, id);
        char *b = malloc(klen + 1);
        if (!b) return rt_err_set(err, RT_ENOMEM, "out of memory");
        long n = tok_bytelevel_decode(it->string, klen, b);
        if (n < 0) { /* not in the byte-level alphabet: kept as its text, never produced by BPE */
            memcpy(b, it->string, klen);
            n = -(long)klen - 1;
        }
        tok->entries[id].bytes = b;
        tok->entries[id].len = (uint32_t)(n < 0 ? -n - 1 : n);
        tok->entries[id].added = n < 0 ? 2 : 0; /* 2: outside the alphabet, left out of the byte map */
        nvocab++;
    }
    rt_status st = tok_bytemap_init(&tok->vocab, nvocab, err);
    if (st) return st;
    for (size_t id = 0; id < tok->nentries; id++)
        if (tok->entries[id].bytes && tok->entries[id].added == 0)
            tok_bytemap_put(&tok->vocab, tok->entries, (int32_t)id);
    for (size_t id = 0; id < tok->nentries; id++)
        if (tok->entries[id].added == 2) tok->entries[id].added = 0;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        tok->byte_id[b] = tok_bytemap_get(&tok->vocab, tok->entries, &c, 1);
        if (tok->byte_id[b] < 0)
            return rt_err_set(err, RT_EFORMAT, "model.vocab: no token for byte 0x%02X (byte-level alphabet incomplete)",
                              b);
    }
    return RT_OK;
}

static rt_status load_merges(tok_tokenizer *tok, const cJSON *merges, rt_error *err) {
    size_t n = (size_t)cJSON_GetArraySize(merges);
    rt_status st = tok_mergemap_init(&tok->merges, n, err);
    if (st) return st;
    size_t rank = 0;
    char *buf = NULL;
    size_t cap = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, merges) {
        const char *a, *b;
        size_t la, lb;
        if (cJSON_IsString(it)) {
            const char *sp = strchr(it->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                free(buf);
                return rt_err_set(err, RT_EFORMAT,
                                  "model.merges[%zu]: '%s': expected two tokens separated by one space", rank,
                                  it->valuestring);
            }
            a = it->valuestring;
            la = (size_t)(sp - a);
            b = sp + 1;
            lb = strlen(b);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                   cJSON_IsString(it->child->next)) {
            a = it->child->valuestring;
            la = strlen(a);
            b = it->child->next->valuestring;
            lb = strlen(b);
        } else {
            free(buf);
            return rt_err_set(err, RT_EFORMAT, "model.merges[%zu]: expected \"A B\" or [\"A\", \"B\"]", rank);
        }
        if (la + lb + 1 > cap) {
            cap = (la + lb + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return rt_err_set(err, RT_ENOMEM, "out of memory");
            }
            buf = nb;
        }
        long ra = tok_bytelevel_decode(a, la, buf);
        long rb = ra < 0 ? -1 : tok_bytelevel_decode(b, lb, buf + ra);
        int32_t ia = ra < 0 ? -1 : tok_bytemap_get(&tok->vocab, tok->entries, buf, (size_t)ra);
        int32_t ib = rb < 0 ? -1 : tok_bytemap_get(&tok->vocab, tok->entries, buf + ra, (size_t)rb);
        int32_t im = rb < 0 ? -1 : tok_bytemap_get(&tok->vocab, tok->entries, buf, (size_t)(ra + rb));
        if (ia < 0 || ib < 0 || im < 0) {
            const char *what = ia < 0 ? "left token" : ib < 0 ? "right token" : "merged token";
            rt_err_set(err, RT_EFORMAT, "model.merges[%zu]: '%.*s' + '%.*s': the %s is not in model.vocab", rank,
                       (int)la, a, (int)lb, b, what);
            free(buf);
            return err ? err->status : RT_EFORMAT;
        }
        tok_mergemap_put(&tok->merges, ia, ib, (uint32_t)rank, im);
        rank++;
    }
    free(buf);
    return RT_OK;
}

static int cmp_added(const void *x, const void *y) {
    const tok_added *a = x, *b = y;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static rt_status load_added(tok_tokenizer *tok, const cJSON *added, rt_error *err) {
    size_t n = (size_t)cJSON_GetArraySize(added);
    tok->added = calloc(n ? n : 1, sizeof *tok->added);
    if (!tok->added) return rt_err_set(err, RT_ENOMEM, "out of memory");
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, added) {
        tok_added *a = &tok->added[tok->nadded];
        int64_t id;
        const char *content;
        a->normalized = -1;
        if (rt_json_get_int(it, "id", &id, err) || rt_json_get_string(it, "content", &content, err) ||
            rt_json_opt_bool(it, "special", &a->special, err) || rt_json_opt_bool(it, "lstrip", &a->lstrip, err) ||
            rt_json_opt_bool(it, "rstrip", &a->rstrip, err) ||
            rt_json_opt_bool(it, "single_word", &a->single_word, err) ||
            rt_json_opt_bool(it, "normalized", &a->normalized, err))
            return rt_err_prefix(err, "added_tokens[%d]", i);
        if (a->normalized < 0) a->normalized = !a->special;
        a->len = strlen(content);
        if (a->len == 0) return rt_err_set(err, RT_EFORMAT, "added_tokens[%d].content: empty", i);
        if (!rt_utf8_valid(content, a->len, NULL))
            return rt_err_set(err, RT_EFORMAT, "added_tokens[%d].content: not valid UTF-8", i);
        a->content = strdup(content);
        if (!a->content) return rt_err_set(err, RT_ENOMEM, "out of memory");
        a->id = (int32_t)id;
        tok->nadded++;
        tok_entry *e = &tok->entries[id];
        if (!e->bytes || e->len != a->len || memcmp(e->bytes, content, a->len) != 0) {
            if (e->bytes && tok_bytemap_get(&tok->vocab, tok->entries, e->bytes, e->len) == (int32_t)id)
                return rt_err_set(err, RT_EUNSUPPORTED, "added_tokens[%d]: id %lld is a different model.vocab token", i,
                                  (long long)id);
            free(e->bytes);
            e->bytes = strdup(content);
            if (!e->bytes) return rt_err_set(err, RT_ENOMEM, "out of memory");
            e->len = (uint32_t)a->len;
        }
        e->added = 1;
        e->special = (uint8_t)a->special;
        i++;
    }
    qsort(tok->added, tok->nadded, sizeof *tok->added, cmp_added);
    for (size_t k = 0; k < tok->nadded; k++)
        tok->added_first[(unsigned char)tok->added[k].content[0]] = 1;
    return RT_OK;
}

static rt_status load_config(tok_tokenizer *tok, const char *path, rt_error *err) {
    tok->cleanup_default = 1;
    if (!path) return RT_OK;
    cJSON *cfg;
    rt_status st = rt_json_read_file(path, &cfg, err);
    if (st) return st;
    st = rt_json_opt_bool(cfg, "clean_up_tokenization_spaces", &tok->cleanup_default, err);
    if (st) rt_err_prefix(err, "%s", path);
    cJSON_Delete(cfg);
    return st;
}

static rt_status load_json(tok_tokenizer *tok, const cJSON *root, rt_error *err) {
    const cJSON *vocab, *merges;
    rt_status st =
        check_model(cJSON_GetObjectItemCaseSensitive(root, "model"), &vocab, &merges, &tok->ignore_merges, err);
    if (st) return st;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!is_null(added) && !cJSON_IsArray(added)) return rt_err_set(err, RT_EFORMAT, "added_tokens: expected an array");
    if (is_null(added)) added = NULL;
    if ((st = load_vocab(tok, vocab, added, err))) return st;
    if ((st = load_merges(tok, merges, err))) return st;
    if (added && (st = load_added(tok, added, err))) return st;
    if ((st = load_normalizer(tok, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer", err))) return st;
    if ((st = load_pre(tok, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer", err))) return st;
    size_t nbl = 0;
    for (size_t i = 0; i < tok->npre; i++)
        nbl += tok->pre[i].kind == TOK_PRE_BYTELEVEL;
    if (nbl != 1 || tok->pre[tok->npre - 1].kind != TOK_PRE_BYTELEVEL)
        return rt_err_set(err, RT_EUNSUPPORTED,
                          "pre_tokenizer: retool needs exactly one ByteLevel pre-tokenizer, last in the sequence");
    if ((st = load_decoder(cJSON_GetObjectItemCaseSensitive(root, "decoder"), "decoder", err))) return st;
    return load_post(tok, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), "post_processor", err);
}

rt_status tok_load_files(const char *json_path, const char *config_path, tok_tokenizer **out, rt_error *err) {
    *out = NULL;
    tok_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return rt_err_set(err, RT_ENOMEM, "out of memory");
    cJSON *root = NULL;
    rt_status st = rt_json_read_file(json_path, &root, err);
    if (st == RT_OK) {
        st = load_json(tok, root, err);
        if (st) rt_err_prefix(err, "%s", json_path);
    }
    cJSON_Delete(root);
    if (st == RT_OK) st = load_config(tok, config_path, err);
    if (st == RT_OK) st = tok_cache_init(&tok->cache, err);
    if (st) {
        tok_free(tok);
        return st;
    }
    *out = tok;
    return RT_OK;
}

rt_status tok_load(const char *dir, tok_tokenizer **out, rt_error *err) {
    size_t n = strlen(dir) + 32;
    char *jp = malloc(n), *cp = malloc(n);
    if (!jp || !cp) {
        free(jp);
        free(cp);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    snprintf(jp, n, "%s/tokenizer.json", dir);
    snprintf(cp, n, "%s/tokenizer_config.json", dir);
    rt_status st = tok_load_files(jp, rt_path_exists(cp) ? cp : NULL, out, err);
    free(jp);
    free(cp);
    return st;
}

void tok_free(tok_tokenizer *tok) {
    if (!tok) return;
    for (size_t i = 0; i < tok->nentries; i++)
        free(tok->entries[i].bytes);
    free(tok->entries);
    tok_bytemap_free(&tok->vocab);
    tok_mergemap_free(&tok->merges);
    for (size_t i = 0; i < tok->npre; i++)
        tok_regex_free(&tok->pre[i].re);
    free(tok->pre);
    for (size_t i = 0; i < tok->nadded; i++)
        free(tok->added[i].content);
    free(tok->added);
    free(tok->post_single);
    if (tok->cache.slots || tok->cache.pool) tok_cache_free(&tok->cache);
    free(tok);
}

size_t tok_vocab_size(const tok_tokenizer *tok) {
    return tok->nentries;
}

int tok_decode_cleanup_default(const tok_tokenizer *tok) {
    return tok->cleanup_default;
}

int32_t tok_token_id(const tok_tokenizer *tok, const char *content) {
    size_t len = strlen(content);
    for (size_t i = 0; i < tok->nadded; i++)
        if (tok->added[i].len == len && memcmp(tok->added[i].content, content, len) == 0) return tok->added[i].id;
    char *buf = malloc(len + 1);
    if (!buf) return -1;
    long n = tok_bytelevel_decode(content, len, buf);
    int32_t id = n < 0 ? -1 : tok_bytemap_get(&tok->vocab, tok->entries, buf, (size_t)n);
    free(buf);
    return id;
}

int tok_is_special(const tok_tokenizer *tok, int32_t id) {
    return id >= 0 && (size_t)id < tok->nentries && tok->entries[id].special;
}

const char *tok_token_bytes(const tok_tokenizer *tok, int32_t id, size_t *len) {
    if (id < 0 || (size_t)id >= tok->nentries || !tok->entries[id].bytes) return NULL;
    if (len) *len = tok->entries[id].len;
    return tok->entries[id].bytes;
}
