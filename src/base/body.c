/* A capped request body (see body.h). */
#include "base/body.h"

#include <stdlib.h>
#include <string.h>

int rt_body_append(rt_body *b, const char *data, size_t n, size_t max) {
    if (b->too_large) return 0;
    if (b->len + n > max) {
        rt_body_free(b);
        b->too_large = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) return -1;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = 0;
    return 0;
}

void rt_body_free(rt_body *b) {
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}
