/* Byte-level BPE tokenizers in the Hugging Face tokenizer.json format (Qwen2/Qwen3, Llama 3, and those retool
 * trains): load, encode, decode, streaming decode, the prompt templates (ChatML, Llama 3, plain) and what a folder
 * records of them, and the public C API the rollout engine uses. Encoding follows the Hugging Face pipeline: added
 * tokens matched in the raw text, NFC normalizer, Split (regex, Isolated) and ByteLevel pre-tokenizers, BPE merges by
 * rank, optional post-processor template. A loaded tok_tokenizer is read-only apart from an internal encode cache
 * guarded by a mutex: one tokenizer may be shared by threads. See docs/TOKENIZER.md. */
#ifndef RETOOL_TOKENIZER_TOKENIZER_H
#define RETOOL_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct tok_tokenizer tok_tokenizer;

/* A growable array of token ids; zero-initialise, then free with tok_ids_free. */
typedef struct tok_ids {
    int32_t *ids;
    size_t len;
    size_t cap;
} tok_ids;

/* Flags for tok_encode. */
enum {
    TOK_ENCODE_ADD_SPECIAL = 1, /* apply the post-processor template (BOS/EOS), as Hugging Face's add_special_tokens */
    TOK_ENCODE_NO_SPECIAL = 2,  /* special added tokens in the text are plain text (untrusted text, user content) */
    TOK_ENCODE_NO_ADDED = 4,    /* no added token at all is matched in the text (implies TOK_ENCODE_NO_SPECIAL) */
};

/* Flags for tok_decode. */
enum {
    TOK_DECODE_SKIP_SPECIAL = 1, /* drop special added tokens, as Hugging Face's skip_special_tokens */
    TOK_DECODE_CLEANUP = 2,      /* apply clean_up_tokenization (" ." -> "." ...); tok_decode_cleanup_default says
                                    whether tokenizer_config.json asks for it; exact text needs it off */
};

/* Loads DIR/tokenizer.json (and DIR/tokenizer_config.json when present). Errors name the file and field. */
rt_status tok_load(const char *dir, tok_tokenizer **out, rt_error *err);

/* Loads from a tokenizer.json path and an optional tokenizer_config.json path (NULL: none). */
rt_status tok_load_files(const char *json_path, const char *config_path, tok_tokenizer **out, rt_error *err);

/* Frees a tokenizer (NULL is fine). */
void tok_free(tok_tokenizer *tok);

/* Number of ids: the largest id in the vocabulary or added tokens, plus one. */
size_t tok_vocab_size(const tok_tokenizer *tok);

/* Appends the ids of len bytes of UTF-8 text to out (flags: TOK_ENCODE_*). Invalid UTF-8 is an RT_EINVAL error. */
rt_status tok_encode(tok_tokenizer *tok, const char *text, size_t len, int flags, tok_ids *out, rt_error *err);

/* Decodes n ids to a malloc'd NUL-terminated string (*out_len excludes the NUL; may be NULL). Bytes that do not
 * form valid UTF-8 become U+FFFD, one per maximal ill-formed subsequence (as the reference does). Unknown ids are
 * an RT_ERANGE error. flags: TOK_DECODE_*. */
rt_status tok_decode(const tok_tokenizer *tok, const int32_t *ids, size_t n, int flags, char **out, size_t *out_len,
                     rt_error *err);

/* Non-zero when tokenizer_config.json sets clean_up_tokenization_spaces (absent: true, as the reference). */
int tok_decode_cleanup_default(const tok_tokenizer *tok);

/* The id of an added/special token by its exact content (e.g. "<|im_end|>"), or of a vocabulary token given in
 * its byte-level spelling; -1 when there is none. */
int32_t tok_token_id(const tok_tokenizer *tok, const char *content);

/* Non-zero when id is an added token marked special. */
int tok_is_special(const tok_tokenizer *tok, int32_t id);

/* The raw bytes a token stands for (added tokens: their content); NULL for an unknown id. */
const char *tok_token_bytes(const tok_tokenizer *tok, int32_t id, size_t *len);

/* Appends one id to out. */
rt_status tok_ids_push(tok_ids *out, int32_t id, rt_error *err);

/* Frees the array and zeroes it. */
void tok_ids_free(tok_ids *ids);

/* A streaming decoder for generation: push ids one at a time, get back only complete UTF-8 characters. The
 * concatenation of everything it emits (after tok_stream_finish) equals tok_decode of the same ids, flags 0. */
typedef struct tok_stream {
    const tok_tokenizer *tok;
    unsigned char pending[8]; /* bytes of a character not yet complete */
    size_t npending;
    char *text; /* output of the last call, NUL-terminated; owned by the stream */
    size_t text_len;
    size_t text_cap;
} tok_stream;

/* Starts a stream over tok. */
void tok_stream_init(tok_stream *s, const tok_tokenizer *tok);

/* Adds one id; *text (valid until the next call) gets the newly completed characters, possibly "". */
rt_status tok_stream_push(tok_stream *s, int32_t id, const char **text, size_t *len, rt_error *err);

/* Ends the stream: an incomplete character left over becomes U+FFFD in *text. */
rt_status tok_stream_finish(tok_stream *s, const char **text, size_t *len, rt_error *err);

/* Frees the stream's buffer. */
void tok_stream_free(tok_stream *s);

/* One chat message. */
typedef struct tok_message {
    const char *role;    /* "system", "user", "assistant", ... */
    const char *content; /* UTF-8 text */
} tok_message;

/* Renders messages with the Qwen template "<|im_start|>ROLE\nCONTENT<|im_end|>\n" straight to ids (the markers
 * by id; role and content encoded with TOK_ENCODE_NO_SPECIAL unless parse_special), then, when
 * add_generation_prompt, "<|im_start|>assistant\n". Appends to out. Needs the <|im_start|>/<|im_end|> tokens. */
rt_status tok_chat_encode(tok_tokenizer *tok, const tok_message *msgs, size_t n, int add_generation_prompt,
                          int parse_special, tok_ids *out, rt_error *err);

/* Renders messages with the Llama 3 Instruct template straight to ids: "<|begin_of_text|>", then per message
 * "<|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>" with CONTENT trimmed of surrounding whitespace
 * (Jinja's trim: Python's str.strip), then, when add_generation_prompt,
 * "<|start_header_id|>assistant<|end_header_id|>\n\n". Markers by id; role and content encoded with
 * TOK_ENCODE_NO_SPECIAL unless parse_special. Appends to out. Needs the four marker tokens. */
rt_status tok_llama3_encode(tok_tokenizer *tok, const tok_message *msgs, size_t n, int add_generation_prompt,
                            int parse_special, tok_ids *out, rt_error *err);

/* How a model folder is prompted (docs/TOKENIZER.md, "Prompt templates"): the folder's tokenizer_config.json says it
 * with "retool_template" (retool's own key) and "chat_template" (the Jinja string Hugging Face renders). */
typedef enum tok_template {
    TOK_TEMPLATE_PLAIN = 1, /* the last user message's content and "\n", no markers (models trained from scratch) */
    TOK_TEMPLATE_CHATML,    /* Qwen2/2.5/3: tok_chat_encode */
    TOK_TEMPLATE_LLAMA3,    /* Llama 3 Instruct: tok_llama3_encode */
} tok_template;

/* The template's name as retool_template records it: "plain", "chatml" or "llama3" ("?" for another value). */
const char *tok_template_name(tok_template t);

/* Parses "plain", "chatml" or "llama3". */
rt_status tok_template_parse(const char *name, tok_template *out, rt_error *err);

/* A Jinja chat_template that renders what retool renders for t (with add_generation_prompt for the chat families). */
const char *tok_template_jinja(tok_template t);

/* The family a Jinja chat_template renders, from its markers: "<|im_start|>" ChatML, "<|start_header_id|>" Llama 3.
 * Returns 0 when it is neither (or both). */
int tok_template_detect(const char *chat_template, tok_template *out);

/* How the folder dir is prompted, from dir/tokenizer_config.json: its "retool_template" when present, else the
 * family its "chat_template" renders. No file, no template, or one of unknown family: an error naming the file that
 * asks for an explicit template. */
rt_status tok_template_read(const char *dir, tok_template *out, rt_error *err);

/* Records t in dir/tokenizer_config.json (atomically): "retool_template" and a matching "chat_template"; the other
 * keys are kept. A folder without the file gets one holding just these two keys. */
rt_status tok_template_write(const char *dir, tok_template t, rt_error *err);

/* Renders messages with t straight to ids: tok_chat_encode, tok_llama3_encode, or for plain the content of the last
 * user message and "\n" in one string (add_generation_prompt and the other messages do not change it). */
rt_status tok_template_encode(tok_tokenizer *tok, tok_template t, const tok_message *msgs, size_t n,
                              int add_generation_prompt, int parse_special, tok_ids *out, rt_error *err);

/* Options for tok_train. */
typedef struct tok_train_opts {
    size_t vocab_size;    /* total ids, added tokens included */
    size_t min_frequency; /* a pair is merged only when it occurs at least this often (>= 1) */
    int tags_as_tokens;   /* add the rollout tags (<code>, </code>, ...) as added tokens (docs/TOKENIZER.md) */
    int verbose;          /* log progress */
} tok_train_opts;

/* Trains a byte-level BPE on the files (raw UTF-8 text) and writes OUT_DIR/tokenizer.json and
 * tokenizer_config.json (atomically; OUT_DIR is created). */
rt_status tok_train(const char *const *files, size_t nfiles, const tok_train_opts *opts, const char *out_dir,
                    rt_error *err);

#endif
