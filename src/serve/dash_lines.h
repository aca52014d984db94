/* An offset index over an append-only JSONL file (the review queue, the audit log): built once, then extended by
 * reading only the bytes appended since the last refresh. Only whole lines (ending in a newline) are indexed, so a
 * line being written is picked up on a later refresh. A file replaced (rotated: another inode) or cut shorter is
 * indexed anew. Not thread-safe: the owner locks. */
#ifndef RETOOL_SERVE_DASH_LINES_H
#define RETOOL_SERVE_DASH_LINES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* What the owner does with lines as they are indexed. */
typedef struct dash_lines_ops {
    void (*reset)(void *ctx); /* the file was replaced: forget every line seen */
    /* Optional (NULL: none): reads a line's text into rec (rec_size bytes) without changing anything else. Called
     * on two threads at once over the lines of a chunk read, before line() is called on each of them in order. */
    void (*parse)(const char *text, size_t len, void *rec);
    size_t rec_size;
    /* Optional (NULL: none): told of a line's record a few lines before line() is called on it, to fetch what it
     * will touch into the cache. */
    void (*ahead)(void *ctx, const void *rec);
    /* Line number line_no (0-based) with its text (no newline) and what parse made of it (NULL without parse); an
     * error stops the refresh at this line. */
    rt_status (*line)(void *ctx, size_t line_no, const char *text, size_t len, const void *rec, rt_error *err);
    void *ctx;
} dash_lines_ops;

typedef struct dash_lines {
    char *path;
    int fd; /* -1 while the file does not exist */
    dev_t dev;
    ino_t ino;
    uint64_t *off; /* [n + 1]: start of each indexed line, then the end of the last one */
    size_t n, cap;
    char *buf; /* read buffer */
    size_t buf_cap;
    size_t chunk;           /* bytes read at a time (DASH_LINES_CHUNK; tests make it small) */
    int threads;            /* threads that run ops->parse: 2, or 1 (a bench compares them) */
    size_t *span, span_cap; /* per line of the chunk: its start in buf and its end */
    char *rec;              /* per line of the chunk: what ops->parse made of it */
    size_t rec_cap;
} dash_lines;

#define DASH_LINES_CHUNK (4u << 20)

/* Sets up an empty index of path (nothing read yet). */
rt_status dash_lines_init(dash_lines *x, const char *path, rt_error *err);

/* Indexes what was appended since the last call (or everything, after a replacement), calling ops per new line.
 * A missing file is an empty one. */
rt_status dash_lines_refresh(dash_lines *x, const dash_lines_ops *ops, rt_error *err);

/* Line i's text (malloc'd, NUL-terminated, without the newline); *len gets its length. */
rt_status dash_lines_read(const dash_lines *x, size_t i, char **text, size_t *len, rt_error *err);

/* Frees the index and closes the file. */
void dash_lines_free(dash_lines *x);

#endif
