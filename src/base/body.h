/* A request body gathered piece by piece up to a size cap (the HTTP servers): past the cap the bytes are dropped and
 * the body is marked too large, so the server can answer 413 once the whole request has been read. */
#ifndef RETOOL_BASE_BODY_H
#define RETOOL_BASE_BODY_H

#include <stddef.h>

typedef struct rt_body {
    char *buf; /* NUL-terminated after len bytes; NULL while empty or once too large */
    size_t len, cap;
    int too_large; /* the body passed the cap: everything was dropped */
} rt_body;

/* Appends n bytes unless the total would pass max (then drops the body and sets too_large); -1 only when out of
 * memory. */
int rt_body_append(rt_body *b, const char *data, size_t n, size_t max);

/* Frees the body's bytes. */
void rt_body_free(rt_body *b);

#endif
