/* Decoding ids to text (ByteLevel decoder: bytes joined, then lossy UTF-8; added tokens emitted as their content),
 * the optional clean_up_tokenization pass, and the streaming decoder. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Hugging Face's clean_up_tokenization: these replacements, each over the whole text, in this order. */
static int cleanup(char **buf, size_t *blen) {
    static const char *from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};
    static const char *to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
        size_t fl = strlen(from[k]), tl = strlen(to[k]), o = 0;
        char *s = *buf;
        for (size_t i = 0; i < *blen;) {
            if (i + fl <= *blen && memcmp(s + i, from[k], fl) == 0) {
                memmove(s + o, to[k], tl); /* tl < fl and o <= i: never overtakes unread text */
                o += tl;
                i += fl;
            } else {
                s[o++] = s[i++];
            }
        }
        *blen = o;
        s[o] = 0;
    }
    return 0;
}

rt_status tok_decode(const tok_tokenizer *tok, const int32_t *ids, size_t n, int flags, char **out, size_t *out_len,
                     rt_error *err) {
    char *bytes = NULL, *text = NULL;
    size_t nb = 0, cb = 0, nt = 0, ct = 0;
    *out = NULL;
    rt_status st = RT_OK;
    if (tok_buf_append(&text, &nt, &ct, "", 0)) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; i <= n && st == RT_OK; i++) {
        const tok_entry *e = NULL;
        if (i < n) {
            if (ids[i] < 0 || (size_t)ids[i] >= tok->nentries || !tok->entries[ids[i]].bytes) {
                st = rt_err_set(err, RT_ERANGE, "tokenizer: id %d at position %zu is not a token (vocabulary of %zu)",
                                ids[i], i, tok->nentries);
                break;
            }
            e = &tok->entries[ids[i]];
            if (e->special && (flags & TOK_DECODE_SKIP_SPECIAL)) continue;
            if (!e->added) {
                if (tok_buf_append(&bytes, &nb, &cb, e->bytes, e->len))
                    st = rt_err_set(err, RT_ENOMEM, "out of memory");
                continue;
            }
        }
        /* An added token or the end: flush the pending bytes, then the token's content. */
        if (nb && tok_utf8_lossy((const unsigned char *)bytes, nb, 1, &text, &nt, &ct, NULL))
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
        nb = 0;
        if (e && st == RT_OK && tok_buf_append(&text, &nt, &ct, e->bytes, e->len))
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    free(bytes);
    if (st) {
        free(text);
        return st;
    }
    if (flags & TOK_DECODE_CLEANUP) cleanup(&text, &nt);
    *out = text;
    if (out_len) *out_len = nt;
    return RT_OK;
}

void tok_stream_init(tok_stream *s, const tok_tokenizer *tok) {
    memset(s, 0, sizeof *s);
    s->tok = tok;
}

void tok_stream_free(tok_stream *s) {
    free(s->text);
    s->text = NULL;
    s->text_cap = s->text_len = 0;
}

/* Decodes pending + bytes into s->text, keeping an incomplete final character pending (unless final). */
static rt_status stream_feed(tok_stream *s, const char *bytes, size_t len, int final, rt_error *err) {
    unsigned char buf[64];
    const unsigned char *in = (const unsigned char *)bytes;
    size_t n = len;
    unsigned char *heap = NULL;
    if (s->npending) {
        unsigned char *dst = s->npending + len <= sizeof buf ? buf : (heap = malloc(s->npending + len));
        if (!dst) return rt_err_set(err, RT_ENOMEM, "out of memory");
        memcpy(dst, s->pending, s->npending);
        if (len) memcpy(dst + s->npending, bytes, len);
        in = dst;
        n = s->npending + len;
    }
    size_t used = 0;
    int rc = tok_utf8_lossy(in, n, final, &s->text, &s->text_len, &s->text_cap, &used);
    if (rc == 0) {
        s->npending = n - used; /* at most 3 bytes: an incomplete but so far valid character */
        memmove(s->pending, in + used, s->npending);
    }
    free(heap);
    return rc ? rt_err_set(err, RT_ENOMEM, "out of memory") : RT_OK;
}

rt_status tok_stream_push(tok_stream *s, int32_t id, const char **text, size_t *len, rt_error *err) {
    s->text_len = 0;
    if (tok_buf_append(&s->text, &s->text_len, &s->text_cap, "", 0)) return rt_err_set(err, RT_ENOMEM, "out of memory");
    const tok_tokenizer *tok = s->tok;
    if (id < 0 || (size_t)id >= tok->nentries || !tok->entries[id].bytes)
        return rt_err_set(err, RT_ERANGE, "tokenizer: id %d is not a token (vocabulary of %zu)", id, tok->nentries);
    const tok_entry *e = &tok->entries[id];
    rt_status st;
    if (e->added) {
        st = s->npending ? stream_feed(s, NULL, 0, 1, err) : RT_OK;
        if (st == RT_OK && tok_buf_append(&s->text, &s->text_len, &s->text_cap, e->bytes, e->len))
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
    } else {
        st = stream_feed(s, e->bytes, e->len, 0, err);
    }
    *text = s->text;
    if (len) *len = s->text_len;
    return st;
}

rt_status tok_stream_finish(tok_stream *s, const char **text, size_t *len, rt_error *err) {
    s->text_len = 0;
    if (tok_buf_append(&s->text, &s->text_len, &s->text_cap, "", 0)) return rt_err_set(err, RT_ENOMEM, "out of memory");
    rt_status st = s->npending ? stream_feed(s, NULL, 0, 1, err) : RT_OK;
    *text = s->text;
    if (len) *len = s->text_len;
    return st;
}
