/* The chat templates rendered straight to ids. Qwen (ChatML): "<|im_start|>ROLE\nCONTENT<|im_end|>\n" per message
 * and "<|im_start|>assistant\n" as the generation prompt. Llama 3 Instruct: "<|begin_of_text|>", then
 * "<|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>" per message (content trimmed) and
 * "<|start_header_id|>assistant<|end_header_id|>\n\n". The result equals encoding the rendered string with the
 * reference, as long as the content holds no special token (which is the point: user text stays text). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

rt_status tok_chat_encode(tok_tokenizer *tok, const tok_message *msgs, size_t n, int add_generation_prompt,
                          int parse_special, tok_ids *out, rt_error *err) {
    int32_t start = tok_token_id(tok, "<|im_start|>"), end = tok_token_id(tok, "<|im_end|>");
    if (start < 0 || end < 0)
        return rt_err_set(err, RT_ENOTFOUND, "chat template: the tokenizer has no '%s' token",
                          start < 0 ? "<|im_start|>" : "<|im_end|>");
    int flags = parse_special ? 0 : TOK_ENCODE_NO_SPECIAL;
    size_t mark = out->len;
    char *buf = NULL;
    size_t bl = 0, bc = 0;
    rt_status st = RT_OK;
    for (size_t i = 0; i <= n && st == RT_OK; i++) {
        const char *role = i < n ? msgs[i].role : "assistant";
        const char *content = i < n ? msgs[i].content : "";
        if (i == n && !add_generation_prompt) break;
        if (!role || !content) {
            st = rt_err_set(err, RT_EINVAL, "chat template: message %zu has no %s", i, role ? "content" : "role");
            break;
        }
        bl = 0;
        if (tok_buf_append(&buf, &bl, &bc, role, strlen(role)) || tok_buf_append(&buf, &bl, &bc, "\n", 1) ||
            tok_buf_append(&buf, &bl, &bc, content, strlen(content))) {
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
            break;
        }
        st = tok_ids_push(out, start, err);
        if (st == RT_OK) st = tok_encode(tok, buf, bl, flags, out, err);
        if (st) {
            rt_err_prefix(err, "chat template: message %zu (%s)", i, role);
            break;
        }
        if (i < n) {
            st = tok_ids_push(out, end, err);
            if (st == RT_OK) st = tok_encode(tok, "\n", 1, flags, out, err);
        }
    }
    free(buf);
    if (st) out->len = mark;
    return st;
}

/* Python's str.isspace for one code point (what Jinja's trim strips). */
static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Trims content as Jinja's trim filter does: *start and *len of the part without leading/trailing whitespace. */
static void py_strip(const char *text, size_t *start, size_t *len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), a = 0, b = 0, i = 0;
    uint32_t c;
    while (a < n) { /* bytes that are not a plain UTF-8 sequence are never whitespace (tok_encode reports them) */
        size_t l = tok_utf8_next(s + a, n - a, &c);
        if (!l || !py_space(c)) break;
        a += l;
    }
    b = a;
    for (i = a; i < n;) { /* b: the end of the last non-space character */
        size_t l = tok_utf8_next(s + i, n - i, &c);
        if (!l) l = 1, c = 0;
        i += l;
        if (!py_space(c)) b = i;
    }
    *start = a;
    *len = b - a;
}

rt_status tok_llama3_encode(tok_tokenizer *tok, const tok_message *msgs, size_t n, int add_generation_prompt,
                            int parse_special, tok_ids *out, rt_error *err) {
    static const char *const names[] = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    int32_t id[4];
    for (size_t k = 0; k < 4; k++)
        if ((id[k] = tok_token_id(tok, names[k])) < 0)
            return rt_err_set(err, RT_ENOTFOUND, "Llama 3 chat template: the tokenizer has no '%s' token", names[k]);
    int flags = parse_special ? 0 : TOK_ENCODE_NO_SPECIAL;
    size_t mark = out->len;
    rt_status st = tok_ids_push(out, id[0], err);
    for (size_t i = 0; i <= n && st == RT_OK; i++) {
        if (i == n && !add_generation_prompt) break;
        const char *role = i < n ? msgs[i].role : "assistant";
        const char *content = i < n ? msgs[i].content : "";
        if (!role || !content) {
            st = rt_err_set(err, RT_EINVAL, "Llama 3 chat template: message %zu has no %s", i,
                            role ? "content" : "role");
            break;
        }
        size_t a, len;
        py_strip(content, &a, &len);
        st = tok_ids_push(out, id[1], err);
        if (!st) st = tok_encode(tok, role, strlen(role), flags, out, err);
        if (!st) st = tok_ids_push(out, id[2], err);
        /* "\n\n" and the content in one string, as the reference encodes the rendered text */
        char *buf = NULL;
        size_t bl = 0, bc = 0;
        if (!st && (tok_buf_append(&buf, &bl, &bc, "\n\n", 2) || tok_buf_append(&buf, &bl, &bc, content + a, len)))
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
        if (!st) st = tok_encode(tok, buf, bl, flags, out, err);
        free(buf);
        if (!st && i < n) st = tok_ids_push(out, id[3], err);
        if (st) rt_err_prefix(err, "Llama 3 chat template: message %zu (%s)", i, role);
    }
    if (st) out->len = mark;
    return st;
}
