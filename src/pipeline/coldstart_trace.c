#include "pipeline/coldstart_trace.h"

#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "reward/reward.h"
#include "rollout/protocol.h"
#include "rollout/toolcall.h"

static int is_ws(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static size_t count_of(const char *s, const char *needle) {
    size_t n = 0, k = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + k, needle))
        n++;
    return n;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Checks one model-written segment (index k; final: the last one, which carries the answer). */
static rt_status check_segment(const char *s, size_t k, int final, int tools, rt_error *err) {
    if (strstr(s, ROLLOUT_INTERP_OPEN) || strstr(s, ROLLOUT_INTERP_CLOSE))
        return rt_err_set(err, RT_EFORMAT, "segment %zu: an interpreter tag outside the block after </code>", k + 1);
    if (!tools && (strstr(s, ROLLOUT_CODE_OPEN) || strstr(s, ROLLOUT_CODE_CLOSE)))
        return rt_err_set(err, RT_EFORMAT, "a text-only trace holds a <code> tag");
    if (!final) {
        if (strstr(s, ROLLOUT_ANSWER_OPEN) || strstr(s, ROLLOUT_ANSWER_CLOSE))
            return rt_err_set(err, RT_EFORMAT, "segment %zu: <answer> before the last code block", k + 1);
        return RT_OK;
    }
    if (tools && strstr(s, ROLLOUT_CODE_OPEN))
        return rt_err_set(err, RT_EFORMAT, "a <code> block after the last </code> is never closed");
    if (count_of(s, ROLLOUT_ANSWER_OPEN) != 1 || count_of(s, ROLLOUT_ANSWER_CLOSE) != 1)
        return rt_err_set(err, RT_EFORMAT, "the trace needs exactly one <answer> ... </answer> (found %zu and %zu)",
                          count_of(s, ROLLOUT_ANSWER_OPEN), count_of(s, ROLLOUT_ANSWER_CLOSE));
    if (!ends_with(s, ROLLOUT_ANSWER_CLOSE))
        return rt_err_set(err, RT_EFORMAT, "text after </answer> (generation stops there)");
    if (strstr(s, ROLLOUT_ANSWER_CLOSE) < strstr(s, ROLLOUT_ANSWER_OPEN))
        return rt_err_set(err, RT_EFORMAT, "</answer> before <answer>");
    const char *inner = strstr(s, ROLLOUT_ANSWER_OPEN);
    if (!strstr(inner, "\\boxed{")) return rt_err_set(err, RT_EFORMAT, "no \\boxed{} inside <answer>");
    char *ans = NULL;
    rt_error e2;
    if (reward_extract(s, &ans, &e2) != RT_OK) return rt_err_set(err, RT_EFORMAT, "no final answer: %s", e2.msg);
    free(ans);
    return RT_OK;
}

static rt_status grow(pipe_cs_trace *t, size_t *cap, rt_error *err) {
    if (t->n_blocks < *cap) return RT_OK;
    size_t nc = *cap ? *cap * 2 : 4;
    char **a = realloc(t->segs, (nc + 1) * sizeof *a);
    if (!a) return rt_err_set(err, RT_ENOMEM, "out of memory");
    t->segs = a;
    char **b = realloc(t->codes, nc * sizeof *b);
    if (!b) return rt_err_set(err, RT_ENOMEM, "out of memory");
    t->codes = b;
    char **c = realloc(t->claimed, nc * sizeof *c);
    if (!c) return rt_err_set(err, RT_ENOMEM, "out of memory");
    t->claimed = c;
    *cap = nc;
    return RT_OK;
}

static rt_status parse_blocks(const char *text, int tools, pipe_cs_trace *t, size_t *seg_out, rt_error *err) {
    size_t len = strlen(text), seg = 0, cap = 0;
    const size_t ilen = strlen(ROLLOUT_INTERP_OPEN), clen = strlen(ROLLOUT_INTERP_CLOSE);
    while (tools) {
        size_t close_end = rollout_find_code_close(text, len, seg);
        if (!close_end) break;
        size_t k = t->n_blocks;
        char *code = NULL;
        rollout_code_status cs = rollout_extract_code(text + seg, close_end - seg, &code);
        if (cs == ROLLOUT_CODE_NO_FENCE)
            return rt_err_set(err, RT_EFORMAT, "code block %zu: <code> without a ```python fence", k + 1);
        if (cs == ROLLOUT_CODE_NO_OPEN)
            return rt_err_set(err, RT_EFORMAT, "code block %zu: </code> without <code> before it", k + 1);
        if (!code) return rt_err_set(err, RT_ENOMEM, "out of memory");
        rt_status st = grow(t, &cap, err);
        char *segtext = st ? NULL : strndup(text + seg, close_end - seg);
        if (!st && !segtext) st = rt_err_set(err, RT_ENOMEM, "out of memory");
        if (st) {
            free(code);
            return st;
        }
        t->segs[k] = segtext;
        t->codes[k] = code;
        t->claimed[k] = NULL;
        t->n_blocks++;
        st = check_segment(segtext, k, 0, tools, err);
        if (st) return st;
        size_t p = close_end;
        while (p < len && is_ws(text[p]))
            p++;
        if (strncmp(text + p, ROLLOUT_INTERP_OPEN, ilen) == 0) {
            const char *c0 = text + p + ilen;
            const char *c1 = strstr(c0, ROLLOUT_INTERP_CLOSE);
            if (!c1) return rt_err_set(err, RT_EFORMAT, "code block %zu: <interpreter> without </interpreter>", k + 1);
            const char *e = c1;
            if (*c0 == '\n' && c0 < e) c0++;
            if (e > c0 && e[-1] == '\n') e--;
            t->claimed[k] = strndup(c0, (size_t)(e - c0));
            if (!t->claimed[k]) return rt_err_set(err, RT_ENOMEM, "out of memory");
            p = (size_t)(c1 - text) + clen;
            while (p < len && is_ws(text[p]))
                p++;
        }
        seg = p;
    }
    *seg_out = seg;
    return RT_OK;
}

rt_status pipe_cs_trace_parse(const char *text, int tools, pipe_cs_trace *out, rt_error *err) {
    memset(out, 0, sizeof *out);
    size_t seg = 0;
    rt_status st = parse_blocks(text, tools, out, &seg, err);
    if (!st) {
        if (!out->segs) {
            out->segs = malloc(sizeof *out->segs);
            if (!out->segs) st = rt_err_set(err, RT_ENOMEM, "out of memory");
        }
    }
    if (!st) {
        char *final = strdup(text + seg);
        if (!final) {
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
        } else {
            size_t n = strlen(final);
            while (n > 0 && is_ws(final[n - 1]))
                final[--n] = '\0';
            out->segs[out->n_blocks] = final;
            st = check_segment(final, out->n_blocks, 1, tools, err);
            if (st) {
                /* segs[n_blocks] is owned: count it for the free below. */
                pipe_cs_trace_free(out);
                return st;
            }
            return RT_OK;
        }
    }
    if (out->segs) out->segs[out->n_blocks] = NULL;
    pipe_cs_trace_free(out);
    return st;
}

void pipe_cs_trace_free(pipe_cs_trace *t) {
    for (size_t i = 0; i < t->n_blocks; i++) {
        free(t->segs[i]);
        free(t->codes[i]);
        free(t->claimed[i]);
    }
    if (t->segs) free(t->segs[t->n_blocks]);
    free(t->segs);
    free(t->codes);
    free(t->claimed);
    memset(t, 0, sizeof *t);
}

char *pipe_cs_code_segment(const char *lead, const char *code) {
    rt_strbuf b = {0};
    rt_strbuf_printf(&b, "%s" ROLLOUT_CODE_OPEN "\n" ROLLOUT_PY_FENCE "\n%s\n" ROLLOUT_FENCE "\n" ROLLOUT_CODE_CLOSE,
                     lead ? lead : "", code);
    return rt_strbuf_take(&b);
}

char *pipe_cs_answer_segment(const char *lead, const char *answer) {
    rt_strbuf b = {0};
    rt_strbuf_printf(&b, "%s" ROLLOUT_ANSWER_OPEN "\n\\boxed{%s}\n" ROLLOUT_ANSWER_CLOSE, lead ? lead : "", answer);
    return rt_strbuf_take(&b);
}

/* program with bytes [at, at + cut) replaced by ins. */
static char *splice(const char *program, size_t at, size_t cut, const char *ins) {
    rt_strbuf b = {0};
    rt_strbuf_putn(&b, program, at);
    rt_strbuf_puts(&b, ins);
    rt_strbuf_puts(&b, program + at + cut);
    return rt_strbuf_take(&b);
}

char *pipe_cs_break_program(const char *program, uint64_t choice) {
    enum { MISSPELL, NO_IMPORT, NO_PAREN };
    int kinds[3];
    size_t nk = 0;
    const char *pr = strstr(program, "print(");
    if (pr) kinds[nk++] = MISSPELL;
    /* "import M;..." or "import M\n..." where M is used later: dropping the import raises NameError. */
    size_t imp_end = 0;
    if (strncmp(program, "import ", 7) == 0) {
        size_t e = strcspn(program, ";\n");
        if (program[e]) {
            char mod[64];
            size_t ml = e - 7;
            if (ml > 0 && ml < sizeof mod - 1) {
                memcpy(mod, program + 7, ml);
                mod[ml] = '.';
                mod[ml + 1] = '\0';
                if (strstr(program + e, mod)) {
                    imp_end = e + 1;
                    kinds[nk++] = NO_IMPORT;
                }
            }
        }
    }
    const char *paren = strrchr(program, ')');
    if (paren) kinds[nk++] = NO_PAREN;
    if (nk == 0) return NULL;
    switch (kinds[choice % nk]) {
    case MISSPELL:
        return splice(program, (size_t)(pr - program), 6, "prnt(");
    case NO_IMPORT:
        return splice(program, 0, imp_end, "");
    default:
        return splice(program, (size_t)(paren - program), 1, "");
    }
}

char *pipe_cs_last_line(const char *output) {
    size_t n = strlen(output);
    while (n > 0 && is_ws(output[n - 1]))
        n--;
    size_t s = n;
    while (s > 0 && output[s - 1] != '\n')
        s--;
    while (s < n && is_ws(output[s]))
        s++;
    return strndup(output + s, n - s);
}
