/* Internal layout of a loaded tokenizer, shared by the tokenizer's own files only (not a public header). */
#ifndef RETOOL_TOKENIZER_TOK_INTERNAL_H
#define RETOOL_TOKENIZER_TOK_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

/* The GPT-2 pattern the ByteLevel pre-tokenizer uses when its use_regex is true. */
#define TOK_GPT2_PATTERN "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* One token's text: raw bytes for vocabulary tokens, the content for added tokens. */
typedef struct tok_entry {
    char *bytes; /* NULL for an unused id */
    uint32_t len;
    uint8_t added;   /* listed in added_tokens */
    uint8_t special; /* added token marked special */
} tok_entry;

typedef struct tok_added {
    char *content;
    size_t len;
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} tok_added;

/* A compiled regex with the behaviour of a Split step. */
typedef struct tok_regex {
    pcre2_code *code;
    int jit; /* JIT compiled */
} tok_regex;

typedef enum tok_pre_kind { TOK_PRE_SPLIT, TOK_PRE_BYTELEVEL } tok_pre_kind;

typedef struct tok_pre {
    tok_pre_kind kind;
    tok_regex re;         /* SPLIT, or BYTELEVEL with use_regex */
    int use_regex;        /* BYTELEVEL */
    int add_prefix_space; /* BYTELEVEL */
} tok_pre;

/* Bytes -> id hash table over tok->entries (keys are the entries' bytes; values ids). */
typedef struct tok_bytemap {
    int32_t *slots; /* -1 empty */
    uint32_t *hashes;
    size_t cap; /* power of two */
} tok_bytemap;

/* (left id, right id) -> (rank, merged id). */
typedef struct tok_mergemap {
    uint64_t *keys; /* (left << 32 | right) + 1; 0 empty */
    uint32_t *rank;
    int32_t *merged;
    size_t cap;
} tok_mergemap;

/* Encode cache: pre-token bytes -> ids, cleared wholesale when full. */
typedef struct tok_cache {
    pthread_mutex_t lock;
    uint32_t *slots; /* offset+1 into pool; 0 empty */
    size_t cap, count;
    unsigned char *pool; /* records: u32 hash, u32 keylen, u32 nids, key bytes, pad to 4, ids */
    size_t pool_len, pool_cap;
} tok_cache;

struct tok_tokenizer {
    tok_entry *entries; /* by id */
    size_t nentries;    /* vocab size: max id + 1 */
    tok_bytemap vocab;  /* model vocabulary, by raw bytes */
    tok_mergemap merges;
    int32_t byte_id[256]; /* id of each single byte */
    int ignore_merges;
    int nfc;
    tok_pre *pre;
    size_t npre;
    tok_added *added; /* sorted by length, longest first */
    size_t nadded;
    uint8_t added_first[256]; /* non-zero for bytes that start some added token */
    int32_t *post_single;     /* post-processor template for one sequence: ids, -1 = the sequence */
    size_t npost_single;
    int cleanup_default;
    tok_cache cache;
};

/* Hash of len bytes (FNV-1a folded). */
uint32_t tok_hash(const void *data, size_t len);

/* Byte-level alphabet: the code point that stands for byte b. */
uint32_t tok_byte_to_cp(unsigned b);

/* The byte a code point stands for, or -1 when it is not in the byte-level alphabet. */
int tok_cp_to_byte(uint32_t cp);

/* Converts a byte-level spelling (UTF-8) to raw bytes in out (capacity >= len); returns the length, or -1 when a
 * character is outside the alphabet or the text is not valid UTF-8. */
long tok_bytelevel_decode(const char *s, size_t len, char *out);

/* Appends the byte-level spelling of len raw bytes to a malloc'd growing buffer; returns 0 or -1 (no memory). */
int tok_bytelevel_encode(const char *s, size_t len, char **buf, size_t *blen, size_t *bcap);

rt_status tok_bytemap_init(tok_bytemap *m, size_t n, rt_error *err);
void tok_bytemap_free(tok_bytemap *m);
/* Inserts id (its key is entries[id]); an existing key keeps its first id. */
void tok_bytemap_put(tok_bytemap *m, const tok_entry *entries, int32_t id);
/* The id whose bytes equal s[0..len), or -1. */
int32_t tok_bytemap_get(const tok_bytemap *m, const tok_entry *entries, const char *s, size_t len);

rt_status tok_mergemap_init(tok_mergemap *m, size_t n, rt_error *err);
void tok_mergemap_free(tok_mergemap *m);
/* Returns 0, or 1 when the pair was already present (the first rank is kept). */
int tok_mergemap_put(tok_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t merged);
/* Looks a pair up; returns 1 and fills rank/merged when found. */
int tok_mergemap_get(const tok_mergemap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *merged);

/* Compiles a Hugging Face (Oniguruma-syntax) pattern for PCRE2 (UTF, UCP, JIT; \s as White_Space). */
rt_status tok_regex_compile(tok_regex *re, const char *pattern, size_t len, int literal, rt_error *err);
void tok_regex_free(tok_regex *re);
/* Finds the next match in s[0..len) at or after start; returns 1 with [*ms, *me), 0 when none, -1 on error. */
int tok_regex_next(const tok_regex *re, pcre2_match_data *md, const char *s, size_t len, size_t start, size_t *ms,
                   size_t *me, rt_error *err);

/* BPE of one pre-token (raw bytes), appending ids. Uses and fills the cache. */
rt_status tok_bpe_word(tok_tokenizer *tok, const char *s, size_t len, tok_ids *out, rt_error *err);

rt_status tok_cache_init(tok_cache *c, rt_error *err);
void tok_cache_free(tok_cache *c);

/* Lossy UTF-8 decode step: appends len bytes to buf, replacing each maximal ill-formed subsequence by U+FFFD.
 * When final is 0 an incomplete character at the end is not consumed: *consumed says how many bytes were. */
int tok_utf8_lossy(const unsigned char *s, size_t len, int final, char **buf, size_t *blen, size_t *bcap,
                   size_t *consumed);

/* Appends len bytes to a growing buffer; returns 0 or -1 (no memory). */
int tok_buf_append(char **buf, size_t *blen, size_t *bcap, const void *data, size_t len);

/* Decodes the UTF-8 character at s (len bytes left) into *cp; returns its length, or 0 when the bytes there are not a
 * plain UTF-8 sequence. */
size_t tok_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

#endif
