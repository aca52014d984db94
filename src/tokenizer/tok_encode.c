/* Encoding text to ids: added tokens matched in the raw text (longest first, lstrip/rstrip/single_word), the NFC
 * normalizer, the pre-tokenizer sequence (Split regexes, then ByteLevel), BPE, and the post-processor template. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/json.h"
#include "tokenizer/tok_internal.h"

rt_status tok_ids_push(tok_ids *out, int32_t id, rt_error *err) {
    if (out->len == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 64;
        int32_t *n = realloc(out->ids, cap * sizeof *n);
        if (!n) return rt_err_set(err, RT_ENOMEM, "out of memory for %zu token ids", cap);
        out->ids = n;
        out->cap = cap;
    }
    out->ids[out->len++] = id;
    return RT_OK;
}

void tok_ids_free(tok_ids *ids) {
    free(ids->ids);
    memset(ids, 0, sizeof *ids);
}

typedef struct enc_ctx {
    tok_tokenizer *tok;
    pcre2_match_data *md;
    tok_ids *out;
    rt_error *err;
    int flags;
} enc_ctx;

static rt_status pre_level(enc_ctx *c, size_t level, const char *s, size_t len);

/* Splits s by re with Isolated behaviour (matches and the gaps between them are pieces), feeding level + 1. */
static rt_status split_isolated(enc_ctx *c, const tok_regex *re, size_t level, const char *s, size_t len) {
    size_t prev = 0, pos = 0;
    while (pos <= len) {
        size_t ms, me;
        int r = tok_regex_next(re, c->md, s, len, pos, &ms, &me, c->err);
        if (r < 0) return c->err ? c->err->status : RT_EINTERNAL;
        if (r == 0) break;
        if (ms > prev) {
            rt_status st = pre_level(c, level + 1, s + prev, ms - prev);
            if (st) return st;
        }
        if (me > ms) {
            rt_status st = pre_level(c, level + 1, s + ms, me - ms);
            if (st) return st;
            prev = pos = me;
        } else { /* empty match: step over one character */
            prev = ms;
            pos = ms + 1;
            while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80)
                pos++;
        }
    }
    if (prev < len) return pre_level(c, level + 1, s + prev, len - prev);
    return RT_OK;
}

static rt_status pre_level(enc_ctx *c, size_t level, const char *s, size_t len) {
    if (len == 0) return RT_OK;
    tok_tokenizer *tok = c->tok;
    if (level >= tok->npre) return tok_bpe_word(tok, s, len, c->out, c->err);
    const tok_pre *p = &tok->pre[level];
    if (p->kind == TOK_PRE_SPLIT) return split_isolated(c, &p->re, level, s, len);
    /* ByteLevel: optional prefix space, optional GPT-2 regex; the byte mapping itself is implicit (BPE on bytes). */
    char *tmp = NULL;
    if (p->add_prefix_space && s[0] != ' ') {
        tmp = malloc(len + 1);
        if (!tmp) return rt_err_set(c->err, RT_ENOMEM, "out of memory");
        tmp[0] = ' ';
        memcpy(tmp + 1, s, len);
        s = tmp;
        len++;
    }
    rt_status st = p->use_regex ? split_isolated(c, &p->re, level, s, len) : pre_level(c, level + 1, s, len);
    free(tmp);
    return st;
}

/* Unicode White_Space, as Rust's char::is_whitespace (used by lstrip / rstrip). */
static int is_white_space(uint32_t cp) {
    return (cp >= 9 && cp <= 13) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

static int is_word_char(uint32_t cp) {
    if (cp == '_') return 1;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
           (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

/* The code point ending at s[end) (end > 0). */
static uint32_t cp_before(const char *s, size_t end) {
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    utf8proc_int32_t cp = 0;
    utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(end - i), &cp);
    return (uint32_t)cp;
}

static uint32_t cp_at(const char *s, size_t len, size_t i) {
    utf8proc_int32_t cp = 0;
    utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
    return (uint32_t)cp;
}

/* The longest added token of the wanted kind (normalized or not) starting at s[i], or NULL. */
static const tok_added *match_added(const tok_tokenizer *tok, const char *s, size_t len, size_t i, int normalized,
                                    int flags) {
    for (size_t k = 0; k < tok->nadded; k++) {
        const tok_added *a = &tok->added[k];
        if (a->len > len - i || (unsigned char)a->content[0] != (unsigned char)s[i]) continue;
        if ((a->normalized && tok->nfc) != normalized) continue;
        if (a->special && (flags & TOK_ENCODE_NO_SPECIAL)) continue;
        if (memcmp(a->content, s + i, a->len) != 0) continue;
        if (a->single_word &&
            ((i > 0 && is_word_char(cp_before(s, i))) || (i + a->len < len && is_word_char(cp_at(s, len, i + a->len)))))
            continue;
        return a;
    }
    return NULL;
}

typedef struct section {
    size_t start, len;
    const tok_added *added; /* NULL for text */
} section;

/* Cuts s into text sections and added tokens; applies lstrip/rstrip to the neighbouring text. */
static rt_status split_added(const tok_tokenizer *tok, const char *s, size_t len, int normalized, int flags,
                             section **out, size_t *nout, rt_error *err) {
    size_t n = 0, cap = 8, start = 0;
    section *secs = malloc(cap * sizeof *secs);
    if (!secs) return rt_err_set(err, RT_ENOMEM, "out of memory");
    int any = 0;
    for (size_t k = 0; k < tok->nadded; k++)
        if ((tok->added[k].normalized && tok->nfc) == normalized) any = 1;
    for (size_t i = 0; any && !(flags & TOK_ENCODE_NO_ADDED) && i < len;) {
        if (!tok->added_first[(unsigned char)s[i]]) {
            i++;
            continue;
        }
        const tok_added *a = match_added(tok, s, len, i, normalized, flags);
        if (!a) {
            i++;
            continue;
        }
        if (n + 2 > cap) {
            cap *= 2;
            section *ns = realloc(secs, cap * sizeof *ns);
            if (!ns) {
                free(secs);
                return rt_err_set(err, RT_ENOMEM, "out of memory");
            }
            secs = ns;
        }
        if (i > start) secs[n++] = (section){start, i - start, NULL};
        secs[n++] = (section){i, a->len, a};
        i += a->len;
        start = i;
    }
    if (start < len || n == 0) {
        if (n + 1 > cap) {
            section *ns = realloc(secs, (cap + 1) * sizeof *ns);
            if (!ns) {
                free(secs);
                return rt_err_set(err, RT_ENOMEM, "out of memory");
            }
            secs = ns;
        }
        secs[n++] = (section){start, len - start, NULL};
    }
    for (size_t k = 0; k < n; k++) {
        if (!secs[k].added) continue;
        if (secs[k].added->lstrip && k > 0 && !secs[k - 1].added)
            while (secs[k - 1].len > 0) {
                size_t end = secs[k - 1].start + secs[k - 1].len;
                uint32_t cp = cp_before(s, end);
                if (!is_white_space(cp)) break;
                size_t b = end - 1;
                while (b > secs[k - 1].start && ((unsigned char)s[b] & 0xC0) == 0x80)
                    b--;
                secs[k - 1].len = b - secs[k - 1].start;
            }
        if (secs[k].added->rstrip && k + 1 < n && !secs[k + 1].added)
            while (secs[k + 1].len > 0) {
                uint32_t cp = cp_at(s, secs[k + 1].start + secs[k + 1].len, secs[k + 1].start);
                if (!is_white_space(cp)) break;
                size_t b = secs[k + 1].start + 1;
                while (b < secs[k + 1].start + secs[k + 1].len && ((unsigned char)s[b] & 0xC0) == 0x80)
                    b++;
                secs[k + 1].len -= b - secs[k + 1].start;
                secs[k + 1].start = b;
            }
    }
    *out = secs;
    *nout = n;
    return RT_OK;
}

static rt_status encode_normalized(enc_ctx *c, const char *s, size_t len) {
    section *secs;
    size_t n;
    rt_status st = split_added(c->tok, s, len, 1, c->flags, &secs, &n, c->err);
    for (size_t k = 0; st == RT_OK && k < n; k++) {
        if (secs[k].added)
            st = tok_ids_push(c->out, secs[k].added->id, c->err);
        else
            st = pre_level(c, 0, s + secs[k].start, secs[k].len);
    }
    free(secs);
    return st;
}

static int is_ascii(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

static rt_status encode_text(enc_ctx *c, const char *s, size_t len) {
    section *secs;
    size_t n;
    rt_status st = split_added(c->tok, s, len, 0, c->flags, &secs, &n, c->err);
    for (size_t k = 0; st == RT_OK && k < n; k++) {
        const char *t = s + secs[k].start;
        size_t tl = secs[k].len;
        if (secs[k].added) {
            st = tok_ids_push(c->out, secs[k].added->id, c->err);
        } else if (tl == 0) {
            continue;
        } else if (!c->tok->nfc || is_ascii(t, tl)) {
            st = encode_normalized(c, t, tl);
        } else {
            utf8proc_uint8_t *norm = NULL;
            utf8proc_ssize_t nl = utf8proc_map((const utf8proc_uint8_t *)t, (utf8proc_ssize_t)tl, &norm,
                                               UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (nl < 0)
                st = rt_err_set(c->err, RT_EINVAL, "NFC normalisation failed: %s", utf8proc_errmsg(nl));
            else
                st = encode_normalized(c, (const char *)norm, (size_t)nl);
            free(norm);
        }
    }
    free(secs);
    return st;
}

rt_status tok_encode(tok_tokenizer *tok, const char *text, size_t len, int flags, tok_ids *out, rt_error *err) {
    size_t bad;
    if (!rt_utf8_valid(text, len, &bad))
        return rt_err_set(err, RT_EINVAL, "tokenizer: text is not valid UTF-8 (byte %zu of %zu)", bad, len);
    if (flags & TOK_ENCODE_NO_ADDED) flags |= TOK_ENCODE_NO_SPECIAL;
    enc_ctx c = {tok, pcre2_match_data_create(16, NULL), out, err, flags};
    if (!c.md) return rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t start = out->len;
    rt_status st = RT_OK;
    if ((flags & TOK_ENCODE_ADD_SPECIAL) && tok->post_single) {
        for (size_t i = 0; st == RT_OK && i < tok->npost_single; i++)
            st = tok->post_single[i] < 0 ? encode_text(&c, text, len) : tok_ids_push(out, tok->post_single[i], err);
    } else {
        st = encode_text(&c, text, len);
    }
    pcre2_match_data_free(c.md);
    if (st) out->len = start;
    return st;
}
