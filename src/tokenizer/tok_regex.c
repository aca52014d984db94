/* Pre-tokenizer regexes through PCRE2 (UTF + UCP + JIT). Hugging Face patterns are written for Oniguruma, whose
 * \s is Unicode White_Space; PCRE2's \s under UCP also matches U+180E, so \s and \S are rewritten to
 * \p{White_Space} / \P{White_Space}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Rewrites \s and \S; copies every other escape pair unchanged. Literal patterns are quoted with \Q...\E. */
static char *rewrite_pattern(const char *p, size_t len, int literal) {
    size_t cap = len * 16 + 16, o = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    if (literal) {
        for (size_t i = 0; i < len; i++) {
            /* \x{..} for every byte of non-alphanumerics keeps \E inside the text harmless. */
            unsigned char c = (unsigned char)p[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80)
                out[o++] = (char)c;
            else
                o += (size_t)snprintf(out + o, cap - o, "\\x{%02x}", c);
        }
        out[o] = 0;
        return out;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 1 < len) {
            char n = p[i + 1];
            const char *rep = n == 's' ? "\\p{White_Space}" : n == 'S' ? "\\P{White_Space}" : NULL;
            if (rep) {
                size_t rl = strlen(rep);
                memcpy(out + o, rep, rl);
                o += rl;
            } else {
                out[o++] = p[i];
                out[o++] = n;
            }
            i++;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = 0;
    return out;
}

rt_status tok_regex_compile(tok_regex *re, const char *pattern, size_t len, int literal, rt_error *err) {
    memset(re, 0, sizeof *re);
    char *pat = rewrite_pattern(pattern, len, literal);
    if (!pat) return rt_err_set(err, RT_ENOMEM, "out of memory compiling a regex");
    int code;
    PCRE2_SIZE off;
    re->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    free(pat);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return rt_err_set(err, RT_EUNSUPPORTED, "regex /%.*s/: %s (near offset %zu)", (int)len, pattern,
                          (const char *)msg, (size_t)off);
    }
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    return RT_OK;
}

void tok_regex_free(tok_regex *re) {
    if (re->code) pcre2_code_free(re->code);
    re->code = NULL;
}

int tok_regex_next(const tok_regex *re, pcre2_match_data *md, const char *s, size_t len, size_t start, size_t *ms,
                   size_t *me, rt_error *err) {
    /* The text was validated as UTF-8 once, before pre-tokenisation. */
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter has a larger (heap) budget; same semantics */
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        rt_err_set(err, RT_EINTERNAL, "pre-tokenizer regex failed on a %zu-byte text: %s", len, (const char *)msg);
        return -1;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}
