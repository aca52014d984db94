#include "serve/stream.h"

#include <stdlib.h>
#include <string.h>

#include "base/json.h"

rt_status serve_stream_init(serve_stream *s, size_t n, rt_error *err) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->raw = calloc(n ? n : 1, sizeof *s->raw);
    s->sent = calloc(n ? n : 1, sizeof *s->sent);
    s->closed = calloc(n ? n : 1, sizeof *s->closed);
    if (!s->raw || !s->sent || !s->closed) {
        free(s->raw);
        free(s->sent);
        free(s->closed);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    return RT_OK;
}

void serve_stream_destroy(serve_stream *s) {
    if (!s->raw) return;
    for (size_t i = 0; i < s->n; i++) rt_strbuf_free(&s->raw[i]);
    free(s->raw);
    free(s->sent);
    free(s->closed);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    memset(s, 0, sizeof *s);
}

void serve_stream_push(serve_stream *s, size_t i, const char *text, size_t len) {
    pthread_mutex_lock(&s->mu);
    if (i < s->n) rt_strbuf_putn(&s->raw[i], text, len);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void serve_stream_finish(serve_stream *s) {
    pthread_mutex_lock(&s->mu);
    s->done = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

rt_status serve_stream_take_locked(serve_stream *s, size_t i, const serve_request *req, char **out, size_t *len,
                                   rt_error *err) {
    *out = NULL;
    *len = 0;
    rt_strbuf *b = &s->raw[i];
    if (b->oom) return rt_err_set(err, RT_ENOMEM, "out of memory");
    if (s->closed[i] || !b->s || b->len <= s->sent[i]) return RT_OK;
    size_t limit = b->len;
    /* The final text ends at a NUL byte (it is a C string) and at the earliest stop string; until then, hold back what
     * a stop string could still start with. */
    const char *nul = memchr(b->s, 0, b->len);
    size_t longest = 0, stop_at = nul ? (size_t)(nul - b->s) : b->len;
    for (size_t k = 0; k < req->n_stop; k++) {
        size_t sl = strlen(req->stop[k]);
        if (sl > longest) longest = sl;
        char *p = memmem(b->s, b->len, req->stop[k], sl);
        if (p && (size_t)(p - b->s) < stop_at) stop_at = (size_t)(p - b->s);
    }
    if (stop_at < b->len) {
        limit = stop_at;
        s->closed[i] = 1;
    } else if (longest > 1 && !s->done) {
        limit = b->len >= longest - 1 ? b->len - (longest - 1) : 0;
    }
    /* Whole characters only; a byte that is surely invalid (4 bytes follow it, or the text is complete) becomes U+FFFD
     * exactly as the final text's repair (rollout_utf8_sanitize) makes it; one that may still become valid waits. */
    rt_strbuf o = {0};
    size_t pos = s->sent[i];
    while (pos < limit) {
        size_t bad;
        if (rt_utf8_valid(b->s + pos, b->len - pos, &bad)) bad = b->len - pos;
        size_t good_end = pos + bad;
        if (good_end >= limit) {
            size_t end = limit;
            while (end > pos && end < b->len && ((unsigned char)b->s[end] & 0xC0) == 0x80) end--;
            rt_strbuf_putn(&o, b->s + pos, end - pos);
            pos = end;
            break;
        }
        rt_strbuf_putn(&o, b->s + pos, good_end - pos);
        pos = good_end;
        if (pos + 4 > b->len && !s->done) break;
        rt_strbuf_puts(&o, "\xef\xbf\xbd");
        pos++;
    }
    if (s->closed[i] && pos < limit) s->closed[i] = 0; /* not all of it could go yet */
    s->sent[i] = pos;
    if (o.oom) {
        rt_strbuf_free(&o);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    *len = o.len;
    *out = o.len ? rt_strbuf_take(&o) : NULL;
    if (!o.len) rt_strbuf_free(&o);
    return *len && !*out ? rt_err_set(err, RT_ENOMEM, "out of memory") : RT_OK;
}
