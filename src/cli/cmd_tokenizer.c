/* `retool tokenizer encode|decode|train`: the tokenizer layer from the command line (docs/TOKENIZER.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

/* Decodes the JSON string literal that starts line (already validated by the JSONL reader) into exact bytes; unlike
 * cJSON's valuestring this keeps U+0000. Returns 0, or -1 for a lone surrogate or no memory. */
static int json_string_bytes(const char *line, char **out, size_t *len) {
    while (*line == ' ' || *line == '\t' || *line == '\r')
        line++;
    if (*line != '"') return -1;
    size_t cap = strlen(line) + 1, o = 0;
    char *b = malloc(cap);
    if (!b) return -1;
    for (const char *p = line + 1; *p && *p != '"'; p++) {
        if (*p != '\\') {
            b[o++] = *p;
            continue;
        }
        p++;
        const char *simple = strchr("\"\\/bfnrt", *p);
        if (simple && *p) {
            b[o++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        unsigned long cp = strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && p[1] == '\\' && p[2] == 'u') {
            unsigned long lo = strtoul((char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            free(b);
            return -1;
        }
        if (cp < 0x80) {
            b[o++] = (char)cp;
        } else if (cp < 0x800) {
            b[o++] = (char)(0xC0 | (cp >> 6));
            b[o++] = (char)(0x80 | (cp & 63));
        } else if (cp < 0x10000) {
            b[o++] = (char)(0xE0 | (cp >> 12));
            b[o++] = (char)(0x80 | ((cp >> 6) & 63));
            b[o++] = (char)(0x80 | (cp & 63));
        } else {
            b[o++] = (char)(0xF0 | (cp >> 18));
            b[o++] = (char)(0x80 | ((cp >> 12) & 63));
            b[o++] = (char)(0x80 | ((cp >> 6) & 63));
            b[o++] = (char)(0x80 | (cp & 63));
        }
    }
    *out = b;
    *len = o;
    return 0;
}

/* Writes text as a JSON string literal and a newline (control characters, U+0000 included, escaped). */
static void print_json_string(const char *s, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c == '\r') {
            fputs("\\r", stdout);
        } else if (c < 0x20 || c == 0x7F) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    fputs("\"\n", stdout);
}

/* Reads stdin one JSON value a line; calls fn on each (with the raw line); stops at the first failure. */
static int for_each_line(const char *cmd, tok_tokenizer *tok, int flags,
                         rt_status (*fn)(tok_tokenizer *, const cJSON *, const char *, int, const char *, rt_error *)) {
    rt_jsonl_reader r;
    rt_error err;
    rt_err_clear(&err);
    if (rt_jsonl_open(&r, "-", RT_JSONL_STOP, &err)) return cli_fail_err(cmd, &err);
    int rc = CLI_EXIT_OK;
    for (;;) {
        cJSON *item;
        if (rt_jsonl_next(&r, &item, &err)) {
            rc = cli_fail_err(cmd, &err);
            break;
        }
        if (!item) break;
        char where[64];
        snprintf(where, sizeof where, "stdin line %zu", r.line_no);
        rt_status st = fn(tok, item, r.line, flags, where, &err);
        cJSON_Delete(item);
        if (st) {
            rc = cli_fail_err(cmd, &err);
            break;
        }
    }
    rt_jsonl_close(&r);
    return rc;
}

static rt_status encode_one(tok_tokenizer *tok, const cJSON *item, const char *line, int flags, const char *where,
                            rt_error *err) {
    if (!cJSON_IsString(item)) return rt_err_set(err, RT_EFORMAT, "%s: expected a JSON string", where);
    char *text;
    size_t len;
    if (json_string_bytes(line, &text, &len))
        return rt_err_set(err, RT_EFORMAT, "%s: the string holds a lone UTF-16 surrogate", where);
    tok_ids ids = {0};
    rt_status st = tok_encode(tok, text, len, flags, &ids, err);
    free(text);
    if (st) return rt_err_prefix(err, "%s", where);
    putchar('[');
    for (size_t i = 0; i < ids.len; i++)
        printf(i ? ",%d" : "%d", ids.ids[i]);
    fputs("]\n", stdout);
    tok_ids_free(&ids);
    return RT_OK;
}

static rt_status decode_one(tok_tokenizer *tok, const cJSON *item, const char *line, int flags, const char *where,
                            rt_error *err) {
    (void)line;
    if (!cJSON_IsArray(item)) return rt_err_set(err, RT_EFORMAT, "%s: expected a JSON array of ids", where);
    tok_ids ids = {0};
    const cJSON *it;
    size_t k = 0;
    cJSON_ArrayForEach(it, item) {
        if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int32_t)it->valuedouble) {
            tok_ids_free(&ids);
            return rt_err_set(err, RT_EFORMAT, "%s: element %zu is not an integer id", where, k);
        }
        if (tok_ids_push(&ids, (int32_t)it->valuedouble, err)) return rt_err_prefix(err, "%s", where);
        k++;
    }
    char *text;
    size_t len;
    rt_status st = tok_decode(tok, ids.ids, ids.len, flags, &text, &len, err);
    tok_ids_free(&ids);
    if (st) return rt_err_prefix(err, "%s", where);
    print_json_string(text, len);
    free(text);
    return RT_OK;
}

static int tok_encode_cmd(int argc, char **argv) {
    const char *dir = NULL;
    int add_special = 0, no_special = 0, no_added = 0;
    const cli_flag flags[] = {
        {"tokenizer", CLI_FLAG_STRING, &dir, "DIR", "folder with tokenizer.json (and tokenizer_config.json)"},
        {"add-special-tokens", CLI_FLAG_BOOL, &add_special, NULL,
         "apply the post-processor template (BOS/EOS), as the reference's add_special_tokens"},
        {"split-special-tokens", CLI_FLAG_BOOL, &no_special, NULL,
         "treat special tokens written in the text as plain text"},
        {"no-added-tokens", CLI_FLAG_BOOL, &no_added, NULL, "match no added token at all in the text"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool tokenizer encode --tokenizer DIR [flags] < strings.jsonl",
                       "Reads one JSON string a line on stdin; writes one JSON array of token ids a line.", flags,
                       sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (!dir) return cli_fail("tokenizer encode", CLI_EXIT_USAGE, "--tokenizer DIR is required");
    if (npos) return cli_fail("tokenizer encode", CLI_EXIT_USAGE, "unexpected argument (input comes on stdin)");
    rt_error err;
    rt_err_clear(&err);
    tok_tokenizer *tok;
    if (tok_load(dir, &tok, &err)) return cli_fail_err("tokenizer encode", &err);
    int f = (add_special ? TOK_ENCODE_ADD_SPECIAL : 0) | (no_special ? TOK_ENCODE_NO_SPECIAL : 0) |
            (no_added ? TOK_ENCODE_NO_ADDED : 0);
    rc = for_each_line("tokenizer encode", tok, f, encode_one);
    tok_free(tok);
    return rc;
}

static int tok_decode_cmd(int argc, char **argv) {
    const char *dir = NULL;
    int skip = 0, exact = 0, cleanup = 0;
    const cli_flag flags[] = {
        {"tokenizer", CLI_FLAG_STRING, &dir, "DIR", "folder with tokenizer.json (and tokenizer_config.json)"},
        {"skip-special-tokens", CLI_FLAG_BOOL, &skip, NULL, "leave special tokens out of the text"},
        {"exact", CLI_FLAG_BOOL, &exact, NULL,
         "never apply clean_up_tokenization_spaces (default: as tokenizer_config.json says, like the reference)"},
        {"clean-up-spaces", CLI_FLAG_BOOL, &cleanup, NULL, "always apply clean_up_tokenization_spaces"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool tokenizer decode --tokenizer DIR [flags] < ids.jsonl",
                       "Reads one JSON array of ids a line on stdin; writes one JSON string a line.", flags,
                       sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (!dir) return cli_fail("tokenizer decode", CLI_EXIT_USAGE, "--tokenizer DIR is required");
    if (npos) return cli_fail("tokenizer decode", CLI_EXIT_USAGE, "unexpected argument (input comes on stdin)");
    if (exact && cleanup) return cli_fail("tokenizer decode", CLI_EXIT_USAGE, "--exact and --clean-up-spaces conflict");
    rt_error err;
    rt_err_clear(&err);
    tok_tokenizer *tok;
    if (tok_load(dir, &tok, &err)) return cli_fail_err("tokenizer decode", &err);
    int do_cleanup = cleanup || (!exact && tok_decode_cleanup_default(tok));
    int f = (skip ? TOK_DECODE_SKIP_SPECIAL : 0) | (do_cleanup ? TOK_DECODE_CLEANUP : 0);
    rc = for_each_line("tokenizer decode", tok, f, decode_one);
    tok_free(tok);
    return rc;
}

static int tok_train_cmd(int argc, char **argv) {
    long long vocab = 0, minf = 2;
    const char *out = NULL;
    int tags_text = 0, quiet = 0;
    const cli_flag flags[] = {
        {"vocab-size", CLI_FLAG_INT, &vocab, "N", "total number of ids, added tokens included"},
        {"out", CLI_FLAG_STRING, &out, "DIR", "folder to write tokenizer.json and tokenizer_config.json into"},
        {"min-frequency", CLI_FLAG_INT, &minf, "K", "merge only pairs seen at least K times (default 2)"},
        {"tags-as-text", CLI_FLAG_BOOL, &tags_text, NULL,
         "leave the rollout tags (<code>, </code>, ...) as plain text instead of added tokens"},
        {"quiet", CLI_FLAG_BOOL, &quiet, NULL, "no progress lines"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool tokenizer train --vocab-size N --out DIR [flags] CORPUS...",
                       "Trains a byte-level BPE tokenizer on raw UTF-8 text files (Hugging Face tokenizer.json).",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    if (!out || vocab <= 0 || args.npositional == 0) {
        cli_args_free(&args);
        return cli_fail("tokenizer train", CLI_EXIT_USAGE, "%s",
                        !out         ? "--out DIR is required"
                        : vocab <= 0 ? "--vocab-size N (N > 0) is required"
                                     : "no corpus file given");
    }
    if (minf < 1) {
        cli_args_free(&args);
        return cli_fail("tokenizer train", CLI_EXIT_USAGE, "--min-frequency must be >= 1");
    }
    tok_train_opts o = {(size_t)vocab, (size_t)minf, !tags_text, !quiet};
    rt_error err;
    rt_err_clear(&err);
    rt_status st = tok_train((const char *const *)args.positional, (size_t)args.npositional, &o, out, &err);
    cli_args_free(&args);
    if (st) return cli_fail_err("tokenizer train", &err);
    printf("wrote %s/tokenizer.json and %s/tokenizer_config.json\n", out, out);
    return CLI_EXIT_OK;
}

int cmd_tokenizer(int argc, char **argv) {
    static const cli_command subs[] = {
        {"encode", "JSON strings on stdin -> JSON arrays of ids", tok_encode_cmd},
        {"decode", "JSON arrays of ids on stdin -> JSON strings", tok_decode_cmd},
        {"train", "train a byte-level BPE tokenizer on text files", tok_train_cmd},
        {NULL, NULL, NULL},
    };
    return cli_dispatch_sub("tokenizer", argc, argv, subs);
}
