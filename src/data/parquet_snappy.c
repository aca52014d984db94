/* A streaming decoder of the raw snappy block format (format_description.txt in google/snappy), which libsnappy
 * decodes only whole: a varint length, then literals and copies, with copies served from a ring of the last
 * PQ_SNAPPY_WINDOW bytes produced. Every length and offset is checked against the input, the output so far and the
 * declared length. */
#include <stdlib.h>
#include <string.h>

#include "data/parquet_internal.h"

#define MASK (PQ_SNAPPY_WINDOW - 1)

rt_status pq_snappy_init(pq_snappy *s, const uint8_t *p, size_t len, rt_error *err) {
    memset(s, 0, sizeof *s);
    const uint8_t *end = p + len;
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        if (p >= end) return rt_err_set(err, RT_EFORMAT, "snappy data: the length runs past the end");
        if (shift > 28) return rt_err_set(err, RT_EFORMAT, "snappy data: the length is longer than 32 bits");
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    if (v > UINT32_MAX) return rt_err_set(err, RT_EFORMAT, "snappy data: the length is longer than 32 bits");
    s->p = p;
    s->end = end;
    s->total = v;
    s->hist = malloc(PQ_SNAPPY_WINDOW);
    if (!s->hist) return rt_err_set(err, RT_ENOMEM, "out of memory");
    return RT_OK;
}

void pq_snappy_free(pq_snappy *s) {
    free(s->hist);
    s->hist = NULL;
}

/* Appends [b, b+n) to the ring (only its last PQ_SNAPPY_WINDOW bytes matter). */
static void remember(pq_snappy *s, const uint8_t *b, size_t n) {
    if (n > PQ_SNAPPY_WINDOW) {
        s->produced += n - PQ_SNAPPY_WINDOW;
        b += n - PQ_SNAPPY_WINDOW;
        n = PQ_SNAPPY_WINDOW;
    }
    size_t at = (size_t)(s->produced & MASK), first = PQ_SNAPPY_WINDOW - at < n ? PQ_SNAPPY_WINDOW - at : n;
    memcpy(s->hist + at, b, first);
    if (n > first) memcpy(s->hist, b + first, n - first);
    s->produced += n;
}

/* Reads the next element's tag and its extra bytes into the literal or copy state. */
static rt_status element(pq_snappy *s, rt_error *err) {
    if (s->p >= s->end)
        return rt_err_set(err, RT_EFORMAT, "snappy data ends after %llu of the %llu bytes it declares (truncated)",
                          (unsigned long long)s->produced, (unsigned long long)s->total);
    uint8_t tag = *s->p++;
    size_t avail = (size_t)(s->end - s->p), len, extra;
    uint64_t off = 0;
    switch (tag & 3) {
    case 0:
        len = (size_t)(tag >> 2) + 1;
        if (len > 60) { /* 1 to 4 bytes of length follow */
            extra = len - 60;
            if (avail < extra) return rt_err_set(err, RT_EFORMAT, "snappy data: a literal's length runs past the end");
            len = 0;
            for (size_t i = 0; i < extra; i++)
                len |= (size_t)s->p[i] << (8 * i);
            len++;
            s->p += extra;
        }
        if (len > s->total - s->produced)
            return rt_err_set(err, RT_EFORMAT,
                              "snappy data: a literal of %zu bytes at byte %llu runs past the %llu bytes it declares",
                              len, (unsigned long long)s->produced, (unsigned long long)s->total);
        s->lit = len;
        return RT_OK;
    case 1:
        if (avail < 1) return rt_err_set(err, RT_EFORMAT, "snappy data: a copy's offset runs past the end");
        len = (size_t)((tag >> 2) & 7) + 4;
        off = (uint64_t)(tag >> 5) << 8 | s->p[0];
        s->p += 1;
        break;
    case 2:
        if (avail < 2) return rt_err_set(err, RT_EFORMAT, "snappy data: a copy's offset runs past the end");
        len = (size_t)(tag >> 2) + 1;
        off = (uint64_t)s->p[0] | (uint64_t)s->p[1] << 8;
        s->p += 2;
        break;
    default:
        if (avail < 4) return rt_err_set(err, RT_EFORMAT, "snappy data: a copy's offset runs past the end");
        len = (size_t)(tag >> 2) + 1;
        off = (uint64_t)s->p[0] | (uint64_t)s->p[1] << 8 | (uint64_t)s->p[2] << 16 | (uint64_t)s->p[3] << 24;
        s->p += 4;
    }
    if (off == 0 || off > s->produced)
        return rt_err_set(err, RT_EFORMAT, "snappy data: a copy at byte %llu reaches %llu bytes back",
                          (unsigned long long)s->produced, (unsigned long long)off);
    if (len > s->total - s->produced)
        return rt_err_set(err, RT_EFORMAT,
                          "snappy data: a copy of %zu bytes at byte %llu runs past the %llu bytes it declares", len,
                          (unsigned long long)s->produced, (unsigned long long)s->total);
    if (off > PQ_SNAPPY_WINDOW)
        return rt_err_set(err, RT_EUNSUPPORTED,
                          "snappy data: a copy at byte %llu reaches %llu bytes back, beyond the streaming window of %d",
                          (unsigned long long)s->produced, (unsigned long long)off, PQ_SNAPPY_WINDOW);
    s->copy_len = len;
    s->copy_off = (size_t)off;
    return RT_OK;
}

rt_status pq_snappy_read(pq_snappy *s, uint8_t *dst, size_t n, rt_error *err) {
    if (n > s->total - s->produced)
        return rt_err_set(err, RT_EFORMAT, "snappy data holds %llu bytes, fewer than the %llu asked for",
                          (unsigned long long)s->total, (unsigned long long)(s->produced + n));
    while (n) {
        if (s->lit) {
            size_t k = s->lit < n ? s->lit : n;
            if ((size_t)(s->end - s->p) < k)
                return rt_err_set(err, RT_EFORMAT, "snappy data: a literal at byte %llu runs past the end (truncated)",
                                  (unsigned long long)s->produced);
            memcpy(dst, s->p, k);
            s->p += k;
            s->lit -= k;
            remember(s, dst, k);
            dst += k;
            n -= k;
        } else if (s->copy_len) {
            size_t k = s->copy_len < n ? s->copy_len : n, off = s->copy_off;
            if (k <= off) { /* the source lies wholly in the ring: at most two pieces */
                size_t at = (size_t)((s->produced - off) & MASK);
                size_t first = PQ_SNAPPY_WINDOW - at < k ? PQ_SNAPPY_WINDOW - at : k;
                memcpy(dst, s->hist + at, first);
                if (k > first) memcpy(dst + first, s->hist, k - first);
                remember(s, dst, k);
            } else { /* overlapping: the pattern repeats, a byte at a time */
                for (size_t i = 0; i < k; i++) {
                    uint8_t b = s->hist[(s->produced - off) & MASK];
                    dst[i] = b;
                    s->hist[s->produced & MASK] = b;
                    s->produced++;
                }
            }
            s->copy_len -= k;
            dst += k;
            n -= k;
        } else {
            rt_status st = element(s, err);
            if (st) return st;
        }
    }
    return RT_OK;
}

rt_status pq_snappy_end(const pq_snappy *s, rt_error *err) {
    if (s->produced != s->total || s->lit || s->copy_len)
        return rt_err_set(err, RT_EFORMAT, "snappy data: %llu of its %llu bytes read", (unsigned long long)s->produced,
                          (unsigned long long)s->total);
    if (s->p != s->end)
        return rt_err_set(err, RT_EFORMAT, "snappy data continues for %zu bytes past the %llu bytes it declares",
                          (size_t)(s->end - s->p), (unsigned long long)s->total);
    return RT_OK;
}
