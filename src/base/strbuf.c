#include "base/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(rt_strbuf *b, size_t extra) {
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->s = p;
    b->cap = cap;
    return 1;
}

void rt_strbuf_putn(rt_strbuf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void rt_strbuf_puts(rt_strbuf *b, const char *s) {
    rt_strbuf_putn(b, s, strlen(s));
}

void rt_strbuf_putc(rt_strbuf *b, char c) {
    rt_strbuf_putn(b, &c, 1);
}

void rt_strbuf_printf(rt_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *rt_strbuf_take(rt_strbuf *b) {
    char *s = b->s;
    int oom = b->oom;
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    if (oom) {
        free(s);
        return NULL;
    }
    return s ? s : calloc(1, 1);
}

void rt_strbuf_free(rt_strbuf *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
