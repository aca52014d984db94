#include "rollout/interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/protocol.h"

/* Appends the ids of s (encoded by fn) to *ids. */
static rt_status append_ids(const rollout_tokenizer *tok, int untrusted, const char *s, int32_t **ids, size_t *n,
                            size_t *cap, rt_error *err) {
    int32_t *part = NULL;
    size_t np = 0;
    rt_status st = untrusted && tok->encode_untrusted ? tok->encode_untrusted(tok->ctx, s, strlen(s), &part, &np, err)
                                                      : tok->encode(tok->ctx, s, strlen(s), &part, &np, err);
    if (st) return st;
    if (*n + np > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *n + np) c *= 2;
        int32_t *p = realloc(*ids, c * sizeof *p);
        if (!p) {
            free(part);
            return rt_err_set(err, RT_ENOMEM, "out of memory");
        }
        *ids = p;
        *cap = c;
    }
    if (np) memcpy(*ids + *n, part, np * sizeof *part);
    *n += np;
    free(part);
    return RT_OK;
}

rt_status rollout_interp_block(const rollout_tokenizer *tok, int after_newline, const char *output, char **text,
                               int32_t **ids, size_t *n, rt_error *err) {
    *text = NULL;
    *ids = NULL;
    *n = 0;
    const char *head = after_newline ? ROLLOUT_INTERP_OPEN "\n" : "\n" ROLLOUT_INTERP_OPEN "\n";
    const char *tail = "\n" ROLLOUT_INTERP_CLOSE "\n\n";
    size_t len = strlen(head) + strlen(output) + strlen(tail);
    char *t = malloc(len + 1);
    if (!t) return rt_err_set(err, RT_ENOMEM, "out of memory");
    snprintf(t, len + 1, "%s%s%s", head, output, tail);
    size_t cap = 0;
    rt_status st = append_ids(tok, 0, head, ids, n, &cap, err);
    if (!st && *output) st = append_ids(tok, 1, output, ids, n, &cap, err);
    if (!st) st = append_ids(tok, 0, tail, ids, n, &cap, err);
    if (st) {
        free(t);
        free(*ids);
        *ids = NULL;
        *n = 0;
        return st;
    }
    *text = t;
    return RT_OK;
}
