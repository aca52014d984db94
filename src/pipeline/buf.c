#include "pipeline/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pipe_buf_init(pipe_buf *b) {
    memset(b, 0, sizeof *b);
}

void pipe_buf_free(pipe_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int reserve(pipe_buf *b, size_t extra) {
    if (b->failed) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return 0;
    }
    b->data = d;
    b->cap = cap;
    return 1;
}

void pipe_buf_append(pipe_buf *b, const char *s, size_t len) {
    if (!reserve(b, len)) return;
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void pipe_buf_puts(pipe_buf *b, const char *s) {
    pipe_buf_append(b, s, strlen(s));
}

void pipe_buf_printf(pipe_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
