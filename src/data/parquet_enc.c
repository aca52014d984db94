/* Parquet's integer encodings: the RLE / bit-packed hybrid (levels, dictionary indices, booleans) and
 * DELTA_BINARY_PACKED (integers, byte array lengths), as Encodings.md defines them. Every read is bounds-checked;
 * the arithmetic of deltas wraps in unsigned integers as the format intends. */
#include <stdlib.h>
#include <string.h>

#include "data/parquet_internal.h"

static rt_status uvarint(const uint8_t **p, const uint8_t *end, uint64_t *out, rt_error *err) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return rt_err_set(err, RT_EFORMAT, "varint runs past the end of the data");
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return RT_OK;
        }
    }
    return rt_err_set(err, RT_EFORMAT, "varint longer than 64 bits");
}

/* bw bits starting at bit pos of [base, end), LSB first; bits past end read as zero (the caller has checked that
 * the value itself lies within). */
static uint64_t bits_at(const uint8_t *base, const uint8_t *end, uint64_t pos, int bw) {
    uint64_t v = 0;
    int got = 0;
    const uint8_t *q = base + (pos >> 3);
    int shift = (int)(pos & 7);
    while (got < bw) {
        uint64_t byte = q < end ? *q : 0;
        v |= (byte >> shift) << got;
        got += 8 - shift;
        shift = 0;
        q++;
    }
    return bw == 64 ? v : v & ((UINT64_C(1) << bw) - 1);
}

rt_status pq_rle_init(pq_rle *r, const uint8_t *p, size_t len, int bw, rt_error *err) {
    memset(r, 0, sizeof *r);
    if (bw < 0 || bw > 32) return rt_err_set(err, RT_EFORMAT, "bit width %d out of range 0..32", bw);
    r->p = p;
    r->end = p + len;
    r->bw = bw;
    return RT_OK;
}

rt_status pq_rle_get(pq_rle *r, uint32_t *out, size_t n, rt_error *err) {
    size_t i = 0;
    while (i < n) {
        if (r->run_left == 0) {
            uint64_t h;
            if (r->p >= r->end) return rt_err_set(err, RT_EFORMAT, "RLE data ends after %zu of %zu values", i, n);
            if (uvarint(&r->p, r->end, &h, err)) return RT_EFORMAT;
            if (h & 1) {
                uint64_t groups = h >> 1;
                if (groups == 0 || groups > ((uint64_t)1 << 40))
                    return rt_err_set(err, RT_EFORMAT, "bit-packed run of %llu groups", (unsigned long long)groups);
                uint64_t nbytes = groups * (uint64_t)r->bw;
                uint64_t avail = (uint64_t)(r->end - r->p);
                r->packed = 1;
                r->run_left = groups * 8;
                r->packed_start = r->p;
                /* writers may leave the last run's padding out; values past the bytes present are an error */
                r->packed_end = r->p + (nbytes < avail ? nbytes : avail);
                r->p = r->packed_end;
                r->bitpos = 0;
            } else {
                uint64_t count = h >> 1;
                if (count == 0) return rt_err_set(err, RT_EFORMAT, "RLE run of length 0");
                int nb = (r->bw + 7) / 8;
                if (r->end - r->p < nb) return rt_err_set(err, RT_EFORMAT, "RLE run value runs past the end");
                uint64_t v = 0;
                for (int b = 0; b < nb; b++)
                    v |= (uint64_t)r->p[b] << (8 * b);
                r->p += nb;
                if (r->bw < 32 && (v >> r->bw))
                    return rt_err_set(err, RT_EFORMAT, "RLE value wider than %d bits", r->bw);
                r->packed = 0;
                r->rle_value = v;
                r->run_left = count;
            }
        }
        size_t take = n - i < r->run_left ? n - i : (size_t)r->run_left;
        if (r->packed) {
            uint64_t need_bits = (r->bitpos + (uint64_t)take * (uint64_t)r->bw);
            if (need_bits > (uint64_t)(r->packed_end - r->packed_start) * 8)
                return rt_err_set(err, RT_EFORMAT, "bit-packed run runs past the end of the data");
            for (size_t k = 0; k < take; k++) {
                out[i + k] = (uint32_t)bits_at(r->packed_start, r->packed_end, r->bitpos, r->bw);
                r->bitpos += (uint64_t)r->bw;
            }
        } else {
            for (size_t k = 0; k < take; k++)
                out[i + k] = (uint32_t)r->rle_value;
        }
        r->run_left -= take;
        i += take;
    }
    return RT_OK;
}

/* Where DELTA_BINARY_PACKED bytes come from: a buffer, or a page's decompressing stream (then miniblocks are read
 * into scratch). */
typedef struct reader {
    const uint8_t *p, *end;
    pq_src *src;
    uint8_t *scratch;
    size_t scratch_cap;
} reader;

static size_t left(const reader *r) {
    return r->src ? r->src->total - r->src->pos : (size_t)(r->end - r->p);
}

/* The next n bytes (NULL with err set when they are not there). */
static const uint8_t *take(reader *r, size_t n, rt_error *err) {
    if (left(r) < n) {
        rt_err_set(err, RT_EFORMAT, "DELTA_BINARY_PACKED runs past the end of the data");
        return NULL;
    }
    if (!r->src) {
        const uint8_t *q = r->p;
        r->p += n;
        return q;
    }
    if (n > r->scratch_cap) {
        uint8_t *b = realloc(r->scratch, n);
        if (!b) {
            rt_err_set(err, RT_ENOMEM, "out of memory");
            return NULL;
        }
        r->scratch = b;
        r->scratch_cap = n;
    }
    return pq_src_read(r->src, r->scratch, n, err) ? NULL : r->scratch;
}

static rt_status rd_uvarint(reader *r, uint64_t *out, rt_error *err) {
    if (!r->src) return uvarint(&r->p, r->end, out, err);
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const uint8_t *b = take(r, 1, err);
        if (!b) return rt_err_set(err, RT_EFORMAT, "varint runs past the end of the data");
        v |= (uint64_t)(*b & 0x7f) << shift;
        if (!(*b & 0x80)) {
            *out = v;
            return RT_OK;
        }
    }
    return rt_err_set(err, RT_EFORMAT, "varint longer than 64 bits");
}

static rt_status delta(reader *r, size_t n, int64_t *out, rt_error *err) {
    uint64_t block, minis, total, first_u;
    if (rd_uvarint(r, &block, err) || rd_uvarint(r, &minis, err) || rd_uvarint(r, &total, err) ||
        rd_uvarint(r, &first_u, err))
        return rt_err_prefix(err, "DELTA_BINARY_PACKED header");
    if (block == 0 || block % 128 || block > 65536 || minis == 0 || block % minis || (block / minis) % 32)
        return rt_err_set(err, RT_EFORMAT, "DELTA_BINARY_PACKED: block size %llu with %llu miniblocks is invalid",
                          (unsigned long long)block, (unsigned long long)minis);
    if (total != n)
        return rt_err_set(err, RT_EFORMAT, "DELTA_BINARY_PACKED holds %llu values where %zu are expected",
                          (unsigned long long)total, n);
    uint64_t per_mini = block / minis;
    uint64_t cur = (first_u >> 1) ^ (uint64_t) - (int64_t)(first_u & 1);
    uint8_t widths[65536 / 32];
    size_t i = 0;
    if (n > 0) out[i++] = (int64_t)cur;
    while (i < n) {
        uint64_t md_u;
        if (rd_uvarint(r, &md_u, err)) return rt_err_prefix(err, "DELTA_BINARY_PACKED block");
        uint64_t min_delta = (md_u >> 1) ^ (uint64_t) - (int64_t)(md_u & 1);
        const uint8_t *w = take(r, minis, err);
        if (!w) return rt_err_prefix(err, "DELTA_BINARY_PACKED: bit widths");
        memcpy(widths, w, minis);
        for (uint64_t m = 0; m < minis && i < n; m++) {
            int bw = widths[m];
            if (bw > 64) return rt_err_set(err, RT_EFORMAT, "DELTA_BINARY_PACKED: bit width %d", bw);
            uint64_t nbytes = per_mini * (uint64_t)bw / 8;
            const uint8_t *q = take(r, nbytes, err);
            if (!q) return rt_err_prefix(err, "DELTA_BINARY_PACKED: miniblock");
            for (uint64_t k = 0; k < per_mini && i < n; k++) {
                uint64_t d = bw ? bits_at(q, q + nbytes, k * (uint64_t)bw, bw) : 0;
                cur = cur + min_delta + d;
                out[i++] = (int64_t)cur;
            }
        }
    }
    return RT_OK;
}

rt_status pq_delta_decode(const uint8_t *p, size_t len, size_t n, int64_t *out, size_t *used, rt_error *err) {
    reader r = {p, p + len, NULL, NULL, 0};
    rt_status st = delta(&r, n, out, err);
    if (!st) *used = (size_t)(r.p - p);
    return st;
}

rt_status pq_delta_decode_src(pq_src *src, size_t n, int64_t *out, rt_error *err) {
    reader r = {NULL, NULL, src, NULL, 0};
    rt_status st = delta(&r, n, out, err);
    free(r.scratch);
    return st;
}
