/* One column chunk of a row group read a page at a time into levels and values: its pages (dictionary, data v1 and
 * v2) decompressed (snappy, zstd, gzip), their repetition and definition levels decoded and checked against the
 * column's maximums, and their values decoded (PLAIN, dictionary, RLE booleans, DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT). Byte array values point into the page buffers (no
 * copy), which are kept until the entries pointing into them are dropped. Every error names the file, row group,
 * column and page. */
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "data/parquet_internal.h"

/* At most this many entries (values and nulls) in one column chunk: the memory bound of a row group. */
#define PQ_MAX_CHUNK_ENTRIES ((size_t)1 << 27)

typedef struct ctx {
    const pq_leaf_info *li;
    long page; /* -1 for the chunk itself */
    rt_error *err;
} ctx;

/* Prefixes an error set by a decoder with where it happened. */
static rt_status where(ctx *c) {
    if (c->page >= 0)
        return rt_err_prefix(c->err, "%s: row group %zu, column '%s', page %ld", c->li->path, c->li->row_group,
                             c->li->column, c->page);
    return rt_err_prefix(c->err, "%s: row group %zu, column '%s'", c->li->path, c->li->row_group, c->li->column);
}

static rt_status fail(ctx *c, rt_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static rt_status fail(ctx *c, rt_status st, const char *fmt, ...) {
    va_list ap;
    char msg[512];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rt_err_set(c->err, st, "%s", msg);
    return where(c);
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Hands buf to the store (freed with the column's row group, or earlier once the entries pointing into it are
 * dropped: its until is set after its page is decoded); frees it and fails when the store cannot grow. */
static int store_keep(pq_store *st, uint8_t *buf) {
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        uint8_t **b = realloc(st->bufs, cap * sizeof *b);
        if (b) st->bufs = b;
        uint64_t *u = b ? realloc(st->until, cap * sizeof *u) : NULL;
        if (u) st->until = u;
        if (!b || !u) {
            free(buf);
            return -1;
        }
        st->cap = cap;
    }
    st->until[st->n] = UINT64_MAX;
    st->bufs[st->n++] = buf;
    return 0;
}

/* n bytes of the store's arena that never move. */
static uint8_t *store_alloc(pq_store *st, size_t n) {
    if (st->block && st->block_cap - st->block_len >= n) {
        uint8_t *p = st->block + st->block_len;
        st->block_len += n;
        return p;
    }
    size_t cap = n > 65536 ? n : 65536;
    uint8_t *b = malloc(cap);
    if (!b || store_keep(st, b)) return NULL;
    st->block = b;
    st->block_idx = st->n - 1;
    st->block_len = n;
    st->block_cap = cap;
    return b;
}

static void store_clear(pq_store *st) {
    for (size_t i = 0; i < st->n; i++)
        free(st->bufs[i]);
    st->n = 0;
    st->block = NULL;
    st->block_len = st->block_cap = 0;
}

static const char *codec_name(int32_t codec) {
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        return "UNCOMPRESSED";
    case PQ_CODEC_SNAPPY:
        return "SNAPPY";
    case PQ_CODEC_GZIP:
        return "GZIP";
    case PQ_CODEC_ZSTD:
        return "ZSTD";
    case 3:
        return "LZO";
    case 4:
        return "BROTLI";
    case 5:
        return "LZ4";
    case 7:
        return "LZ4_RAW";
    default:
        return "unknown";
    }
}

/* Checks a declared decompressed size against what the compressed data can hold before the buffer for it is
 * allocated, so that a lying header cannot make the reader allocate gigabytes for a few bytes. */
static rt_status plausible(ctx *c, int32_t codec, const uint8_t *src, size_t slen, size_t dlen) {
    size_t n;
    unsigned long long fs;
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        if (slen != dlen) return fail(c, RT_EFORMAT, "uncompressed page of %zu bytes declares %zu", slen, dlen);
        return RT_OK;
    case PQ_CODEC_SNAPPY:
        if (snappy_uncompressed_length((const char *)src, slen, &n) != SNAPPY_OK)
            return fail(c, RT_EFORMAT, "snappy data is malformed");
        if (n != dlen) return fail(c, RT_EFORMAT, "snappy data holds %zu bytes where the header declares %zu", n, dlen);
        return RT_OK;
    case PQ_CODEC_ZSTD:
        fs = ZSTD_getFrameContentSize(src, slen);
        if (fs == ZSTD_CONTENTSIZE_ERROR) return fail(c, RT_EFORMAT, "zstd data is malformed");
        if (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != dlen)
            return fail(c, RT_EFORMAT, "zstd data holds %llu bytes where the header declares %zu", fs, dlen);
        return RT_OK;
    case PQ_CODEC_GZIP: /* deflate expands at most 1032 to 1 */
        if (dlen / 1032 > slen + 64)
            return fail(c, RT_EFORMAT, "gzip data of %zu bytes cannot hold the %zu the header declares", slen, dlen);
        return RT_OK;
    default:
        return RT_OK; /* decompress() names the unsupported codec */
    }
}

/* Decompresses [src, src+slen) into exactly dlen bytes at dst; the declared size must be the true one. */
static rt_status decompress(ctx *c, int32_t codec, const uint8_t *src, size_t slen, uint8_t *dst, size_t dlen) {
    if (codec == PQ_CODEC_UNCOMPRESSED) {
        if (slen != dlen) return fail(c, RT_EFORMAT, "uncompressed page of %zu bytes declares %zu", slen, dlen);
        if (dlen) memcpy(dst, src, dlen);
        return RT_OK;
    }
    if (codec == PQ_CODEC_SNAPPY) {
        size_t n;
        if (snappy_uncompressed_length((const char *)src, slen, &n) != SNAPPY_OK)
            return fail(c, RT_EFORMAT, "snappy data is malformed");
        if (n != dlen) return fail(c, RT_EFORMAT, "snappy data holds %zu bytes where the header declares %zu", n, dlen);
        if (snappy_uncompress((const char *)src, slen, (char *)dst, &n) != SNAPPY_OK || n != dlen)
            return fail(c, RT_EFORMAT, "snappy data is malformed");
        return RT_OK;
    }
    if (codec == PQ_CODEC_ZSTD) {
        unsigned long long fs = ZSTD_getFrameContentSize(src, slen);
        if (fs == ZSTD_CONTENTSIZE_ERROR) return fail(c, RT_EFORMAT, "zstd data is malformed");
        if (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != dlen)
            return fail(c, RT_EFORMAT, "zstd data holds %llu bytes where the header declares %zu", fs, dlen);
        size_t r = ZSTD_decompress(dst, dlen, src, slen);
        if (ZSTD_isError(r)) return fail(c, RT_EFORMAT, "zstd: %s", ZSTD_getErrorName(r));
        if (r != dlen) return fail(c, RT_EFORMAT, "zstd data holds %zu bytes where the header declares %zu", r, dlen);
        return RT_OK;
    }
    if (codec == PQ_CODEC_GZIP) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, 15 + 32) != Z_OK) return fail(c, RT_ENOMEM, "gzip: cannot start inflate");
        zs.next_in = (Bytef *)(uintptr_t)src;
        zs.avail_in = (uInt)slen;
        zs.next_out = dst;
        zs.avail_out = (uInt)dlen;
        int r = inflate(&zs, Z_FINISH);
        size_t out = zs.total_out;
        uInt left = zs.avail_out;
        inflateEnd(&zs);
        if (r == Z_STREAM_END && out == dlen) return RT_OK;
        if (r == Z_BUF_ERROR && left == 0)
            return fail(c, RT_EFORMAT, "gzip data holds more than the %zu bytes the header declares", dlen);
        if (r == Z_STREAM_END)
            return fail(c, RT_EFORMAT, "gzip data holds %zu bytes where the header declares %zu", out, dlen);
        return fail(c, RT_EFORMAT, "gzip data is malformed or truncated");
    }
    return fail(c, RT_EUNSUPPORTED, "compression codec %s (%d) is not supported (UNCOMPRESSED, SNAPPY, GZIP, ZSTD are)",
                codec_name(codec), codec);
}

static int type_width(const pq_leaf_info *li) {
    switch (li->type) {
    case PQ_INT32:
    case PQ_FLOAT:
        return 4;
    case PQ_INT64:
    case PQ_DOUBLE:
        return 8;
    case PQ_FIXED_LEN_BYTE_ARRAY:
        return li->type_length;
    default:
        return 0;
    }
}

/* PLAIN values: n of them from [p, p+len) into out; byte arrays point into p's buffer, which the caller keeps. */
static rt_status plain(ctx *c, const uint8_t *p, size_t len, size_t n, pq_value *out) {
    const pq_leaf_info *li = c->li;
    const uint8_t *end = p + len;
    if (li->type == PQ_BOOLEAN) {
        if (len < (n + 7) / 8) return fail(c, RT_EFORMAT, "%zu booleans need more than the %zu bytes present", n, len);
        for (size_t i = 0; i < n; i++)
            out[i].i = (p[i / 8] >> (i % 8)) & 1;
        return RT_OK;
    }
    if (li->type == PQ_BYTE_ARRAY) {
        for (size_t i = 0; i < n; i++) {
            if (end - p < 4) return fail(c, RT_EFORMAT, "value %zu: byte array length runs past the end", i);
            uint32_t l = le32(p);
            p += 4;
            if ((size_t)(end - p) < l)
                return fail(c, RT_EFORMAT, "value %zu: byte array of %u bytes runs past the end", i, l);
            out[i].s.p = p;
            out[i].s.len = l;
            p += l;
        }
        return RT_OK;
    }
    size_t w = (size_t)type_width(li);
    if (w == 0 && li->type != PQ_FIXED_LEN_BYTE_ARRAY) return fail(c, RT_EUNSUPPORTED, "physical type %d", li->type);
    if (w && len / w < n)
        return fail(c, RT_EFORMAT, "%zu values of %zu bytes need more than the %zu bytes present", n, w, len);
    for (size_t i = 0; i < n; i++, p += w) {
        switch (li->type) {
        case PQ_INT32:
            out[i].i = (int32_t)le32(p);
            break;
        case PQ_INT64:
            out[i].i = (int64_t)le64(p);
            break;
        case PQ_FLOAT: {
            uint32_t u = le32(p);
            float f;
            memcpy(&f, &u, 4);
            out[i].d = f;
            break;
        }
        case PQ_DOUBLE: {
            uint64_t u = le64(p);
            memcpy(&out[i].d, &u, 8);
            break;
        }
        default: /* FIXED_LEN_BYTE_ARRAY */
            out[i].s.p = p;
            out[i].s.len = w;
        }
    }
    return RT_OK;
}

/* Decodes n values of encoding enc from [p, p+len). */
static rt_status values(ctx *c, int32_t enc, const uint8_t *p, size_t len, size_t n, pq_value *out, pq_store *store,
                        const pq_value *dict, size_t dict_n, int have_dict) {
    const pq_leaf_info *li = c->li;
    rt_error *err = c->err;
    if (n == 0) return RT_OK; /* a page of nulls only: nothing to decode, whatever the encoding */
    switch (enc) {
    case PQ_ENC_PLAIN:
        return plain(c, p, len, n, out);
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY: {
        if (!have_dict) return fail(c, RT_EFORMAT, "dictionary-encoded page without a dictionary page");
        if (n == 0) return RT_OK;
        if (len < 1) return fail(c, RT_EFORMAT, "dictionary indices: no bit width");
        pq_rle r;
        uint32_t idx[256];
        if (pq_rle_init(&r, p + 1, len - 1, p[0], err)) return where(c);
        for (size_t i = 0; i < n; i += 256) {
            size_t k = n - i < 256 ? n - i : 256;
            if (pq_rle_get(&r, idx, k, err)) return where(c);
            for (size_t j = 0; j < k; j++) {
                if (idx[j] >= dict_n)
                    return fail(c, RT_EFORMAT, "dictionary index %u out of range (the dictionary holds %zu values)",
                                idx[j], dict_n);
                out[i + j] = dict[idx[j]];
            }
        }
        return RT_OK;
    }
    case PQ_ENC_RLE: {
        if (li->type != PQ_BOOLEAN) return fail(c, RT_EUNSUPPORTED, "RLE encoding for a non-boolean column");
        if (len < 4) return fail(c, RT_EFORMAT, "RLE booleans: no length");
        uint32_t l = le32(p);
        if (l > len - 4) return fail(c, RT_EFORMAT, "RLE booleans: length %u runs past the end", l);
        pq_rle r;
        uint32_t v[256];
        if (pq_rle_init(&r, p + 4, l, 1, err)) return where(c);
        for (size_t i = 0; i < n; i += 256) {
            size_t k = n - i < 256 ? n - i : 256;
            if (pq_rle_get(&r, v, k, err)) return where(c);
            for (size_t j = 0; j < k; j++)
                out[i + j].i = v[j];
        }
        return RT_OK;
    }
    case PQ_ENC_DELTA_BINARY_PACKED: {
        if (li->type != PQ_INT32 && li->type != PQ_INT64)
            return fail(c, RT_EFORMAT, "DELTA_BINARY_PACKED for a column that is not INT32 or INT64");
        int64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
        if (!tmp) return fail(c, RT_ENOMEM, "out of memory");
        size_t used;
        rt_status st = pq_delta_decode(p, len, n, tmp, &used, err);
        for (size_t i = 0; !st && i < n; i++)
            out[i].i = li->type == PQ_INT32 ? (int64_t)(int32_t)(uint32_t)(uint64_t)tmp[i] : tmp[i];
        free(tmp);
        return st ? where(c) : RT_OK;
    }
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    case PQ_ENC_DELTA_BYTE_ARRAY: {
        if (li->type != PQ_BYTE_ARRAY && li->type != PQ_FIXED_LEN_BYTE_ARRAY)
            return fail(c, RT_EFORMAT, "%s for a column that is not a byte array",
                        enc == PQ_ENC_DELTA_BYTE_ARRAY ? "DELTA_BYTE_ARRAY" : "DELTA_LENGTH_BYTE_ARRAY");
        int64_t *pre = NULL, *lens = malloc((n ? n : 1) * sizeof *lens);
        size_t used = 0, used2 = 0;
        rt_status st = lens ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
        if (!st && enc == PQ_ENC_DELTA_BYTE_ARRAY) {
            pre = malloc((n ? n : 1) * sizeof *pre);
            if (!pre) st = rt_err_set(err, RT_ENOMEM, "out of memory");
            if (!st) st = pq_delta_decode(p, len, n, pre, &used, err);
        }
        if (!st) st = pq_delta_decode(p + used, len - used, n, lens, &used2, err);
        const uint8_t *q = p + used + used2, *end = p + len;
        const uint8_t *prev = NULL;
        uint64_t prev_len = 0;
        for (size_t i = 0; !st && i < n; i++) {
            int64_t pl = pre ? pre[i] : 0;
            if (lens[i] < 0 || (size_t)(end - q) < (uint64_t)lens[i]) {
                st = rt_err_set(err, RT_EFORMAT, "value %zu: length %lld runs past the end", i, (long long)lens[i]);
            } else if (pl < 0 || (uint64_t)pl > prev_len) {
                st = rt_err_set(err, RT_EFORMAT, "value %zu: prefix length %lld longer than the previous value", i,
                                (long long)pl);
            } else if (pl > 0) {
                /* the prefix of the previous value, then the suffix, built in the store's arena */
                size_t need = (size_t)pl + (size_t)lens[i];
                uint8_t *v = store_alloc(store, need);
                if (!v) {
                    st = rt_err_set(err, RT_ENOMEM, "out of memory");
                } else {
                    memcpy(v, prev, (size_t)pl);
                    if (lens[i]) memcpy(v + pl, q, (size_t)lens[i]);
                    out[i].s.p = v;
                    out[i].s.len = need;
                }
            } else {
                out[i].s.p = q; /* the page buffer, kept by the caller */
                out[i].s.len = (uint64_t)lens[i];
            }
            if (!st) {
                q += lens[i];
                prev = out[i].s.p;
                prev_len = out[i].s.len;
            }
        }
        if (!st && li->type == PQ_FIXED_LEN_BYTE_ARRAY)
            for (size_t i = 0; !st && i < n; i++)
                if (out[i].s.len != (uint64_t)li->type_length)
                    st = rt_err_set(err, RT_EFORMAT, "value %zu: %llu bytes in a FIXED_LEN_BYTE_ARRAY(%d)", i,
                                    (unsigned long long)out[i].s.len, li->type_length);
        free(pre);
        free(lens);
        return st ? where(c) : RT_OK;
    }
    case PQ_ENC_BYTE_STREAM_SPLIT: {
        size_t w = (size_t)type_width(li);
        if (w == 0) return fail(c, RT_EFORMAT, "BYTE_STREAM_SPLIT for a column of no fixed width");
        if (len / w < n) return fail(c, RT_EFORMAT, "BYTE_STREAM_SPLIT: %zu values need more than %zu bytes", n, len);
        uint8_t *tmp = malloc(n * w + 1);
        if (!tmp) return fail(c, RT_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < w; k++)
                tmp[i * w + k] = p[k * n + i];
        rt_status st = plain(c, tmp, n * w, n, out);
        if (li->type != PQ_FIXED_LEN_BYTE_ARRAY)
            free(tmp); /* FLBA values point into it */
        else if (store_keep(store, tmp) && !st)
            st = fail(c, RT_ENOMEM, "out of memory");
        return st;
    }
    default:
        return fail(c, RT_EUNSUPPORTED, "value encoding %d is not supported", enc);
    }
}

static rt_status grow(ctx *c, pq_column *col, size_t extra) {
    if (col->cap && col->n + extra <= col->cap) return RT_OK;
    if (col->n + extra > PQ_MAX_CHUNK_ENTRIES)
        return fail(c, RT_ERANGE, "more than %zu entries in one column chunk", PQ_MAX_CHUNK_ENTRIES);
    size_t cap = col->cap ? col->cap : 1024;
    while (cap < col->n + extra)
        cap *= 2;
    int16_t *d = realloc(col->def, cap * sizeof *d);
    if (d) col->def = d;
    int16_t *r = realloc(col->rep, cap * sizeof *r);
    if (r) col->rep = r;
    pq_value *v = realloc(col->val, cap * sizeof *v);
    if (v) col->val = v;
    if (!d || !r || !v) return fail(c, RT_ENOMEM, "out of memory");
    col->cap = cap;
    return RT_OK;
}

/* Decodes n levels of maximum max (RLE hybrid over [p, p+len)) into out. */
static rt_status levels(ctx *c, const uint8_t *p, size_t len, size_t n, int max, int16_t *out, const char *what) {
    if (max == 0) {
        if (n) memset(out, 0, n * sizeof *out);
        return RT_OK;
    }
    int bw = 0;
    while ((1 << bw) <= max)
        bw++;
    pq_rle r;
    uint32_t v[256];
    if (pq_rle_init(&r, p, len, bw, c->err)) return where(c);
    for (size_t i = 0; i < n; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        if (pq_rle_get(&r, v, k, c->err)) {
            rt_err_prefix(c->err, "%s levels", what);
            return where(c);
        }
        for (size_t j = 0; j < k; j++) {
            if (v[j] > (uint32_t)max)
                return fail(c, RT_EFORMAT, "%s level %u exceeds the column's maximum %d", what, v[j], max);
            out[i + j] = (int16_t)v[j];
        }
    }
    return RT_OK;
}

/* v1 levels: a 4-byte length, then the RLE data; advances *p. */
static rt_status levels_v1(ctx *c, const uint8_t **p, const uint8_t *end, size_t n, int max, int16_t *out, int32_t enc,
                           const char *what) {
    if (max == 0) return levels(c, NULL, 0, n, 0, out, what);
    if (enc != PQ_ENC_RLE) return fail(c, RT_EUNSUPPORTED, "%s level encoding %d (only RLE is supported)", what, enc);
    if (end - *p < 4) return fail(c, RT_EFORMAT, "%s levels: no length", what);
    uint32_t l = le32(*p);
    *p += 4;
    if ((size_t)(end - *p) < l) return fail(c, RT_EFORMAT, "%s levels: length %u runs past the page", what, l);
    rt_status st = levels(c, *p, l, n, max, out, what);
    *p += l;
    return st;
}

void pq_column_free(pq_column *col) {
    free(col->def);
    free(col->rep);
    free(col->val);
    store_clear(&col->store);
    free(col->store.bufs);
    free(col->store.until);
    free(col->chunk);
    free(col->dict);
    memset(col, 0, sizeof *col);
}

void pq_column_drop(pq_column *col, size_t upto) {
    if (upto == 0 || upto > col->n) return;
    size_t left = col->n - upto;
    if (left) {
        memmove(col->def, col->def + upto, left * sizeof *col->def);
        memmove(col->rep, col->rep + upto, left * sizeof *col->rep);
        memmove(col->val, col->val + upto, left * sizeof *col->val);
    }
    col->n = left;
    col->base += upto;
    pq_store *st = &col->store;
    size_t k = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (st->until[i] <= col->base) {
            if (st->block && i == st->block_idx) {
                st->block = NULL;
                st->block_len = st->block_cap = 0;
            }
            free(st->bufs[i]);
            continue;
        }
        if (st->block && i == st->block_idx) st->block_idx = k;
        st->bufs[k] = st->bufs[i];
        st->until[k++] = st->until[i];
    }
    st->n = k;
}

static rt_status data_page(ctx *c, const pq_chunk *cc, const pq_page_header *h, const uint8_t *body, pq_column *col,
                           const pq_value *dict, size_t dict_n, int have_dict) {
    const pq_leaf_info *li = c->li;
    size_t n = (size_t)h->num_values;
    rt_status st = grow(c, col, n);
    if (st) return st;
    int16_t *def = col->def + col->n, *rep = col->rep + col->n;
    uint8_t *buf = NULL;
    const uint8_t *vp, *vend;
    size_t usize = (size_t)h->uncompressed_size, csize = (size_t)h->compressed_size;
    if (h->type == PQ_PAGE_DATA) {
        if ((st = plausible(c, cc->codec, body, csize, usize))) return st;
        buf = malloc(usize ? usize : 1);
        if (!buf) return fail(c, RT_ENOMEM, "out of memory (%zu bytes)", usize);
        st = decompress(c, cc->codec, body, csize, buf, usize);
        const uint8_t *p = buf, *end = buf + usize;
        if (!st) st = levels_v1(c, &p, end, n, li->max_rep, rep, h->rep_encoding, "repetition");
        if (!st) st = levels_v1(c, &p, end, n, li->max_def, def, h->def_encoding, "definition");
        vp = p;
        vend = end;
    } else {
        size_t lv = (size_t)h->rep_length + (size_t)h->def_length;
        if (lv > csize || lv > usize)
            return fail(c, RT_EFORMAT, "levels of %zu bytes exceed the page (%zu compressed, %zu uncompressed)", lv,
                        csize, usize);
        if (h->num_nulls > h->num_values) return fail(c, RT_EFORMAT, "more nulls than values");
        st = levels(c, body, (size_t)h->rep_length, n, li->max_rep, rep, "repetition");
        if (!st) st = levels(c, body + h->rep_length, (size_t)h->def_length, n, li->max_def, def, "definition");
        if (st) return st;
        size_t vu = usize - lv, vc = csize - lv;
        int32_t codec = h->is_compressed ? cc->codec : PQ_CODEC_UNCOMPRESSED;
        if ((st = plausible(c, codec, body + lv, vc, vu))) return st;
        buf = malloc(vu ? vu : 1);
        if (!buf) return fail(c, RT_ENOMEM, "out of memory (%zu bytes)", vu);
        st = decompress(c, codec, body + lv, vc, buf, vu);
        vp = buf;
        vend = buf + vu;
    }
    size_t nv = 0;
    for (size_t i = 0; !st && i < n; i++)
        nv += def[i] == li->max_def;
    if (!st && h->type == PQ_PAGE_DATA_V2 && (size_t)h->num_nulls != n - nv)
        st = fail(c, RT_EFORMAT, "the header counts %d nulls where the levels give %zu", h->num_nulls, n - nv);
    if (!st && li->max_rep > 0 && n > 0 && col->base + col->n == 0 && rep[0] != 0)
        st = fail(c, RT_EFORMAT, "the first value of the column chunk continues a row (repetition level %d)", rep[0]);
    pq_value *tmp = NULL;
    if (!st) {
        tmp = malloc((nv ? nv : 1) * sizeof *tmp);
        if (!tmp) st = fail(c, RT_ENOMEM, "out of memory");
    }
    size_t kept0 = col->store.n;
    if (!st) st = values(c, h->encoding, vp, (size_t)(vend - vp), nv, tmp, &col->store, dict, dict_n, have_dict);
    if (!st) {
        pq_value *val = col->val + col->n;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (def[i] == li->max_def)
                val[i] = tmp[k++];
            else
                memset(&val[i], 0, sizeof val[i]);
        }
        col->n += n;
    }
    free(tmp);
    /* byte arrays decoded without a dictionary point into the page's buffer: keep it with the row group */
    int keep = !st && (li->type == PQ_BYTE_ARRAY || li->type == PQ_FIXED_LEN_BYTE_ARRAY) &&
               h->encoding != PQ_ENC_PLAIN_DICTIONARY && h->encoding != PQ_ENC_RLE_DICTIONARY;
    if (!keep)
        free(buf);
    else if (store_keep(&col->store, buf))
        st = fail(c, RT_ENOMEM, "out of memory");
    if (!st) { /* what this page's values point into lives until they are dropped */
        uint64_t end = col->base + col->n;
        pq_store *sto = &col->store;
        for (size_t i = kept0; i < sto->n; i++)
            sto->until[i] = end;
        if (sto->block && sto->block_idx < kept0 && sto->until[sto->block_idx] < end) sto->until[sto->block_idx] = end;
    }
    return st;
}

rt_status pq_column_begin(const pq_leaf_info *li, const pq_chunk *cc, uint8_t *chunk, size_t len, pq_column *col,
                          rt_error *err) {
    col->n = 0;
    col->base = 0;
    col->rows = 0;
    col->done = 0;
    store_clear(&col->store);
    free(col->chunk);
    free(col->dict);
    col->li = *li;
    col->cc = cc;
    col->chunk = chunk;
    col->chunk_len = len;
    col->pos = 0;
    col->page = 0;
    col->seen = 0;
    col->dict = NULL;
    col->dict_n = 0;
    col->have_dict = 0;
    ctx c = {&col->li, -1, err};
    if (cc->type != li->type)
        return fail(&c, RT_EFORMAT, "chunk type %d differs from the schema's type %d", cc->type, li->type);
    if (cc->num_values < 0 || (uint64_t)cc->num_values > PQ_MAX_CHUNK_ENTRIES)
        return fail(&c, RT_ERANGE, "%lld values in one column chunk (at most %zu)", (long long)cc->num_values,
                    PQ_MAX_CHUNK_ENTRIES);
    col->done = cc->num_values == 0;
    return RT_OK;
}

rt_status pq_column_more(pq_column *col, rt_error *err) {
    const pq_chunk *cc = col->cc;
    const uint8_t *chunk = col->chunk;
    size_t len = col->chunk_len;
    ctx c = {&col->li, col->page, err};
    rt_status st = RT_OK;
    int got_data = 0;
    for (; !st && !got_data && col->seen < (uint64_t)cc->num_values; c.page = ++col->page) {
        if (col->pos >= len) {
            st = fail(&c, RT_EFORMAT, "column chunk ends after %llu of %lld values", (unsigned long long)col->seen,
                      (long long)cc->num_values);
            break;
        }
        pq_page_header h;
        size_t used;
        if ((st = pq_page_header_decode(chunk + col->pos, len - col->pos, &h, &used, err))) {
            where(&c);
            break;
        }
        col->pos += used;
        if ((size_t)h.compressed_size > len - col->pos) {
            st = fail(&c, RT_EFORMAT, "page of %d bytes runs past the end of the column chunk (%zu bytes left)",
                      h.compressed_size, len - col->pos);
            break;
        }
        const uint8_t *body = chunk + col->pos;
        col->pos += (size_t)h.compressed_size;
        if (h.type == PQ_PAGE_DICTIONARY) {
            if (!h.has_dict)
                st = fail(&c, RT_EFORMAT, "dictionary page without its header");
            else if (col->have_dict)
                st = fail(&c, RT_EFORMAT, "a second dictionary page");
            else if (h.encoding != PQ_ENC_PLAIN && h.encoding != PQ_ENC_PLAIN_DICTIONARY)
                st = fail(&c, RT_EUNSUPPORTED, "dictionary encoding %d (PLAIN expected)", h.encoding);
            if (st) break;
            size_t us = (size_t)h.uncompressed_size;
            if ((st = plausible(&c, cc->codec, body, (size_t)h.compressed_size, us))) break;
            if ((uint64_t)h.num_values > (uint64_t)us * 8) { /* a value takes at least one bit */
                st = fail(&c, RT_EFORMAT, "dictionary of %d values in %zu bytes", h.num_values, us);
                break;
            }
            uint8_t *buf = malloc(us ? us : 1);
            col->dict = malloc(((size_t)h.num_values ? (size_t)h.num_values : 1) * sizeof *col->dict);
            if (!buf || !col->dict) st = fail(&c, RT_ENOMEM, "out of memory");
            if (!st) st = decompress(&c, cc->codec, body, (size_t)h.compressed_size, buf, us);
            if (!st) st = plain(&c, buf, us, (size_t)h.num_values, col->dict);
            if (buf && store_keep(&col->store, buf) && !st) st = fail(&c, RT_ENOMEM, "out of memory");
            col->dict_n = (size_t)h.num_values;
            col->have_dict = 1;
        } else if (h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2) {
            if (h.type == PQ_PAGE_DATA ? !h.has_data : !h.has_v2) {
                st = fail(&c, RT_EFORMAT, "data page without its header");
                break;
            }
            if ((uint64_t)h.num_values > (uint64_t)cc->num_values - col->seen) {
                st = fail(&c, RT_EFORMAT, "page holds %d values, more than the %llu left in the column chunk",
                          h.num_values, (unsigned long long)((uint64_t)cc->num_values - col->seen));
                break;
            }
            size_t n0 = col->n;
            st = data_page(&c, cc, &h, body, col, col->dict, col->dict_n, col->have_dict);
            col->seen += (uint64_t)h.num_values;
            for (size_t k = n0; !st && k < col->n; k++)
                col->rows += col->rep[k] == 0;
            got_data = 1;
        } else if (h.type != PQ_PAGE_INDEX) {
            st = fail(&c, RT_EFORMAT, "unknown page type %d", h.type);
        }
    }
    if (!st && col->seen >= (uint64_t)cc->num_values) {
        col->done = 1;
        free(col->chunk); /* every page decoded: the compressed bytes are no longer needed */
        col->chunk = NULL;
        col->chunk_len = col->pos = 0;
    }
    return st;
}
