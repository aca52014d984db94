/* The Qwen chat template rendered straight to ids: "<|im_start|>ROLE\nCONTENT<|im_end|>\n" per message and
 * "<|im_start|>assistant\n" as the generation prompt. The result equals encoding the rendered string with the
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
