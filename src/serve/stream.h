/* Token-level streaming of one request: the rollout engine's text pieces are collected per choice (on the
 * scheduler's thread) and taken out (on the connection's thread) as the longest new text that is safe to send: whole
 * UTF-8 characters only, never a byte that a stop string could still cut, nothing after a stop string. What was sent
 * is always a prefix of the final content, so the rest is sent when the answer is complete. */
#ifndef RETOOL_SERVE_STREAM_H
#define RETOOL_SERVE_STREAM_H

#include <pthread.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "serve/request.h"

typedef struct serve_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* signalled on every piece and when done */
    size_t n;               /* choices */
    rt_strbuf *raw;         /* [n] the raw text so far */
    size_t *sent;           /* [n] bytes of raw already taken */
    int *closed;            /* [n] a stop string was reached: nothing more to take */
    int done;               /* the job finished (successfully or not) */
} serve_stream;

/* Sets up n empty choices. */
rt_status serve_stream_init(serve_stream *s, size_t n, rt_error *err);

/* Frees the buffers and the lock. */
void serve_stream_destroy(serve_stream *s);

/* Appends a piece of choice i's text and wakes the reader. */
void serve_stream_push(serve_stream *s, size_t i, const char *text, size_t len);

/* Marks the job done and wakes the reader. */
void serve_stream_finish(serve_stream *s);

/* With s->mu held: the new text of choice i that is safe to send (malloc'd in *out, *len bytes; *out NULL when there
 * is none), given the request's stop strings. Advances what counts as sent. Once done, it is all the rest. */
rt_status serve_stream_take_locked(serve_stream *s, size_t i, const serve_request *req, char **out, size_t *len,
                                   rt_error *err);

#endif
