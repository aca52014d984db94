/* A growable NUL-terminated string for building text piece by piece. An allocation failure is remembered (oom) and
 * reported once by rt_strbuf_take, so callers append freely and check at the end. */
#ifndef RETOOL_BASE_STRBUF_H
#define RETOOL_BASE_STRBUF_H

#include <stddef.h>

typedef struct rt_strbuf {
    char *s;
    size_t len, cap;
    int oom; /* set once an allocation failed; the content is then incomplete */
} rt_strbuf;

/* Appends n bytes. */
void rt_strbuf_putn(rt_strbuf *b, const char *s, size_t n);
/* Appends a NUL-terminated string. */
void rt_strbuf_puts(rt_strbuf *b, const char *s);
/* Appends one byte. */
void rt_strbuf_putc(rt_strbuf *b, char c);
/* Appends printf-formatted text. */
void rt_strbuf_printf(rt_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the content (caller frees; "" when nothing was appended) or NULL after an allocation failure; the buffer
 * is left empty either way. */
char *rt_strbuf_take(rt_strbuf *b);
/* Frees the content without returning it. */
void rt_strbuf_free(rt_strbuf *b);

#endif
