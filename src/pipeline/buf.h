/* A growable text buffer for building documents (HTML, SVG) piece by piece; an allocation failure is remembered
 * and reported once, at the end. */
#ifndef RETOOL_PIPELINE_BUF_H
#define RETOOL_PIPELINE_BUF_H

#include <stddef.h>

typedef struct pipe_buf {
    char *data; /* NUL-terminated when len > 0 or after the first append */
    size_t len;
    size_t cap;
    int failed; /* set once an allocation failed; later appends do nothing */
} pipe_buf;

/* Zeroes b. */
void pipe_buf_init(pipe_buf *b);

/* Frees b's memory and zeroes it. */
void pipe_buf_free(pipe_buf *b);

/* Appends len bytes. */
void pipe_buf_append(pipe_buf *b, const char *s, size_t len);

/* Appends a NUL-terminated string. */
void pipe_buf_puts(pipe_buf *b, const char *s);

/* Appends printf-formatted text. */
void pipe_buf_printf(pipe_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
