/* One column chunk of a row group read a page at a time into levels and values: its pages (dictionary, data v1 and
 * v2) decompressed (snappy, zstd, gzip), their repetition and definition levels decoded and checked against the
 * column's maximums, and their values decoded (PLAIN, dictionary, RLE booleans, DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT). Byte array values point into the page buffers (no
 * copy), which are kept until the entries pointing into them are dropped. Every error names the file, row group,
 * column and page. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/parquet_internal.h"

/* At most this many entries (values and nulls) in one data page, and held at once by a column (a row's and a
 * batch's): the memory bound of a page's levels and values. */
#define PQ_MAX_ENTRIES ((size_t)1 << 27)
/* A batch of entries handed to the row assembler stops at this many entries, or once it holds this many bytes of
 * streamed values. */
#define PQ_BATCH_ENTRIES 4096
#define PQ_BATCH_BYTES ((size_t)1 << 20)

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
    if (col->n + extra > PQ_MAX_ENTRIES)
        return fail(c, RT_ERANGE, "more than %zu entries held at once (one row's and a batch's)", PQ_MAX_ENTRIES);
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

/* v1 levels from the page's decompressed bytes: a 4-byte length, then the RLE data. */
static rt_status levels_v1(ctx *c, pq_src *src, size_t n, int max, int16_t *out, int32_t enc, const char *what) {
    if (max == 0) return levels(c, NULL, 0, n, 0, out, what);
    if (enc != PQ_ENC_RLE) return fail(c, RT_EUNSUPPORTED, "%s level encoding %d (only RLE is supported)", what, enc);
    uint8_t lb[4];
    if (src->total - src->pos < 4) return fail(c, RT_EFORMAT, "%s levels: no length", what);
    if (pq_src_read(src, lb, 4, c->err)) return where(c);
    uint32_t l = le32(lb);
    if (src->total - src->pos < l) return fail(c, RT_EFORMAT, "%s levels: length %u runs past the page", what, l);
    uint8_t *tmp = malloc(l ? l : 1);
    if (!tmp) return fail(c, RT_ENOMEM, "out of memory");
    rt_status st = pq_src_read(src, tmp, l, c->err) ? where(c) : levels(c, tmp, l, n, max, out, what);
    free(tmp);
    return st;
}

static void page_end(pq_page *pg) {
    free(pg->lens);
    free(pg->def);
    free(pg->rep);
    free(pg->vals);
    pq_src_close(&pg->src);
    memset(pg, 0, sizeof *pg);
}

/* Sets until for the store's buffers from index from on, and extends the arena block's to end. */
static void store_until(pq_store *st, size_t from, uint64_t end) {
    for (size_t i = from; i < st->n; i++)
        st->until[i] = end;
    if (st->block && st->block_idx < from && st->until[st->block_idx] < end) st->until[st->block_idx] = end;
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
    page_end(&col->pg);
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

/* Begins data page h (body: its compressed_size bytes): decompresses it whole when its values are small (or
 * starts streaming it), decodes all its levels, and decodes all its values unless they stream (PLAIN). */
static rt_status page_begin(ctx *c, pq_column *col, const pq_page_header *h, const uint8_t *body) {
    const pq_leaf_info *li = c->li;
    pq_page *pg = &col->pg;
    size_t n = (size_t)h->num_values;
    if (n > PQ_MAX_ENTRIES) return fail(c, RT_ERANGE, "%zu values in one page (at most %zu)", n, PQ_MAX_ENTRIES);
    memset(pg, 0, sizeof *pg);
    pg->active = 1;
    pg->encoding = h->encoding;
    pg->n = n;
    pg->nbits = 8;
    pg->def = malloc((n ? n : 1) * sizeof *pg->def);
    pg->rep = malloc((n ? n : 1) * sizeof *pg->rep);
    if (!pg->def || !pg->rep) return fail(c, RT_ENOMEM, "out of memory");
    size_t usize = (size_t)h->uncompressed_size, csize = (size_t)h->compressed_size;
    const uint8_t *vin = body;
    size_t vc = csize, vu = usize;
    int32_t codec = col->cc->codec;
    rt_status st;
    if (h->type == PQ_PAGE_DATA_V2) {
        size_t lv = (size_t)h->rep_length + (size_t)h->def_length;
        if (lv > csize || lv > usize)
            return fail(c, RT_EFORMAT, "levels of %zu bytes exceed the page (%zu compressed, %zu uncompressed)", lv,
                        csize, usize);
        if (h->num_nulls > h->num_values) return fail(c, RT_EFORMAT, "more nulls than values");
        if ((st = levels(c, body, (size_t)h->rep_length, n, li->max_rep, pg->rep, "repetition"))) return st;
        if ((st = levels(c, body + h->rep_length, (size_t)h->def_length, n, li->max_def, pg->def, "definition")))
            return st;
        vin = body + lv;
        vc = csize - lv;
        vu = usize - lv;
        if (!h->is_compressed) codec = PQ_CODEC_UNCOMPRESSED;
    }
    /* small: decompressed whole, values pointing into the buffer; large: streamed */
    uint8_t *buf = NULL;
    if (vu <= li->stream_min) {
        if (pq_codec_check(codec, vin, vc, vu, c->err)) return where(c);
        if (!(buf = malloc(vu ? vu : 1))) return fail(c, RT_ENOMEM, "out of memory (%zu bytes)", vu);
        st = pq_decompress(codec, vin, vc, buf, vu, c->err);
        if (!st) st = pq_src_open(&pg->src, PQ_CODEC_UNCOMPRESSED, buf, vu, vu, c->err);
    } else {
        st = pq_src_open(&pg->src, codec, vin, vc, vu, c->err);
    }
    if (st) {
        free(buf);
        return where(c);
    }
    if (h->type == PQ_PAGE_DATA) {
        st = levels_v1(c, &pg->src, n, li->max_rep, pg->rep, h->rep_encoding, "repetition");
        if (!st) st = levels_v1(c, &pg->src, n, li->max_def, pg->def, h->def_encoding, "definition");
    }
    for (size_t i = 0; !st && i < n; i++)
        pg->nv += pg->def[i] == li->max_def;
    if (!st && h->type == PQ_PAGE_DATA_V2 && (size_t)h->num_nulls != n - pg->nv)
        st = fail(c, RT_EFORMAT, "the header counts %d nulls where the levels give %zu", h->num_nulls, n - pg->nv);
    if (!st && li->max_rep > 0 && n > 0 && col->base + col->n == 0 && pg->rep[0] != 0)
        st = fail(c, RT_EFORMAT, "the first value of the column chunk continues a row (repetition level %d)",
                  pg->rep[0]);
    int delta_len = h->encoding == PQ_ENC_DELTA_LENGTH_BYTE_ARRAY &&
                    (li->type == PQ_BYTE_ARRAY || li->type == PQ_FIXED_LEN_BYTE_ARRAY);
    if (!st && !buf && delta_len) { /* the lengths now, the bytes as the values are read */
        if (!(pg->lens = malloc((pg->nv ? pg->nv : 1) * sizeof *pg->lens))) return fail(c, RT_ENOMEM, "out of memory");
        if (pg->nv && pq_delta_decode_src(&pg->src, pg->nv, pg->lens, c->err)) st = where(c);
    }
    if (st || (!buf && (h->encoding == PQ_ENC_PLAIN || delta_len))) {
        free(buf);
        pg->streaming = !st;
        return st;
    }
    /* every value now: from the small page's buffer, or from the rest of a large page read whole (encodings other
     * than PLAIN) */
    size_t rest = pg->src.total - pg->src.pos;
    const uint8_t *vp;
    if (buf) {
        vp = buf + pg->src.pos;
    } else {
        if (!(buf = malloc(rest ? rest : 1))) return fail(c, RT_ENOMEM, "out of memory (%zu bytes)", rest);
        st = pq_src_read(&pg->src, buf, rest, c->err);
        if (!st) st = pq_src_finish(&pg->src, c->err);
        if (st) {
            free(buf);
            return where(c);
        }
        vp = buf;
    }
    pq_src_close(&pg->src);
    if (!(pg->vals = malloc((pg->nv ? pg->nv : 1) * sizeof *pg->vals))) {
        free(buf);
        return fail(c, RT_ENOMEM, "out of memory");
    }
    size_t kept0 = col->store.n;
    st = values(c, h->encoding, vp, rest, pg->nv, pg->vals, &col->store, col->dict, col->dict_n, col->have_dict);
    /* byte arrays decoded without a dictionary point into the buffer: kept until the page's entries are dropped */
    int keep = !st && (li->type == PQ_BYTE_ARRAY || li->type == PQ_FIXED_LEN_BYTE_ARRAY) &&
               h->encoding != PQ_ENC_PLAIN_DICTIONARY && h->encoding != PQ_ENC_RLE_DICTIONARY;
    if (!keep)
        free(buf);
    else if (store_keep(&col->store, buf))
        st = fail(c, RT_ENOMEM, "out of memory");
    if (!st) store_until(&col->store, kept0, col->base + col->n + n);
    return st;
}

/* The next PLAIN value of a streamed page; *bytes counts the bytes of byte arrays. */
static rt_status stream_value(ctx *c, pq_column *col, pq_value *v, size_t *bytes) {
    pq_page *pg = &col->pg;
    pq_src *s = &pg->src;
    uint8_t b[8];
    rt_status st = RT_OK;
    switch (c->li->type) {
    case PQ_BOOLEAN:
        if (pg->nbits == 8) {
            st = pq_src_read(s, &pg->bits, 1, c->err);
            pg->nbits = 0;
        }
        v->i = (pg->bits >> pg->nbits++) & 1;
        break;
    case PQ_INT32:
    case PQ_FLOAT:
        if (!(st = pq_src_read(s, b, 4, c->err))) {
            uint32_t u = le32(b);
            float f;
            memcpy(&f, &u, 4);
            if (c->li->type == PQ_INT32)
                v->i = (int32_t)u;
            else
                v->d = f;
        }
        break;
    case PQ_INT64:
    case PQ_DOUBLE:
        if (!(st = pq_src_read(s, b, 8, c->err))) {
            uint64_t u = le64(b);
            if (c->li->type == PQ_INT64)
                v->i = (int64_t)u;
            else
                memcpy(&v->d, &u, 8);
        }
        break;
    default: { /* BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY */
        uint64_t l = (uint64_t)c->li->type_length;
        if (pg->lens) { /* DELTA_LENGTH_BYTE_ARRAY */
            int64_t dl = pg->lens[pg->vnext];
            if (dl < 0 || (c->li->type == PQ_FIXED_LEN_BYTE_ARRAY && (uint64_t)dl != l))
                return fail(c, RT_EFORMAT, "value %zu: length %lld%s", pg->vnext, (long long)dl,
                            dl < 0 ? "" : " in a FIXED_LEN_BYTE_ARRAY of another length");
            l = (uint64_t)dl;
        } else if (c->li->type == PQ_BYTE_ARRAY) {
            if (s->total - s->pos < 4)
                return fail(c, RT_EFORMAT, "value %zu: byte array length runs past the end", pg->vnext);
            if ((st = pq_src_read(s, b, 4, c->err))) break;
            l = le32(b);
        }
        if (s->total - s->pos < l)
            return fail(c, RT_EFORMAT, "value %zu: byte array of %llu bytes runs past the end", pg->vnext,
                        (unsigned long long)l);
        uint8_t *p = store_alloc(&col->store, l);
        if (!p) return fail(c, RT_ENOMEM, "out of memory");
        if ((st = pq_src_read(s, p, l, c->err))) break;
        v->s.p = p;
        v->s.len = l;
        *bytes += l;
    }
    }
    if (st) {
        rt_err_prefix(c->err, "value %zu", pg->vnext);
        return where(c);
    }
    return RT_OK;
}

/* Hands the page's next batch of entries to the column; ends the page after its last. */
static rt_status page_batch(ctx *c, pq_column *col) {
    pq_page *pg = &col->pg;
    size_t want = pg->n - pg->next < PQ_BATCH_ENTRIES ? pg->n - pg->next : PQ_BATCH_ENTRIES;
    rt_status st = grow(c, col, want);
    if (st) return st;
    size_t kept0 = col->store.n, bytes = 0, k = 0;
    for (; !st && k < want && bytes < PQ_BATCH_BYTES; k++) {
        size_t i = pg->next + k, o = col->n + k;
        col->def[o] = pg->def[i];
        col->rep[o] = pg->rep[i];
        col->rows += pg->rep[i] == 0;
        if (pg->def[i] != c->li->max_def)
            memset(&col->val[o], 0, sizeof col->val[o]);
        else if (pg->vals)
            col->val[o] = pg->vals[pg->vnext++];
        else if (!(st = stream_value(c, col, &col->val[o], &bytes)))
            pg->vnext++;
    }
    if (st) return st;
    col->n += k;
    pg->next += k;
    store_until(&col->store, kept0, col->base + col->n);
    if (pg->next < pg->n) return RT_OK;
    if (pg->streaming && pq_src_finish(&pg->src, c->err)) return where(c);
    page_end(pg);
    return RT_OK;
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
    page_end(&col->pg);
    col->li = *li;
    col->cc = cc;
    col->chunk = chunk;
    col->chunk_len = len;
    col->pos = 0;
    col->page = -1;
    col->seen = 0;
    col->dict = NULL;
    col->dict_n = 0;
    col->have_dict = 0;
    ctx c = {&col->li, -1, err};
    if (cc->type != li->type)
        return fail(&c, RT_EFORMAT, "chunk type %d differs from the schema's type %d", cc->type, li->type);
    if (cc->num_values < 0) return fail(&c, RT_EFORMAT, "%lld values in the column chunk", (long long)cc->num_values);
    col->done = cc->num_values == 0;
    return RT_OK;
}

/* Reads the dictionary page h (body: its compressed bytes). */
static rt_status dict_page(ctx *c, pq_column *col, const pq_page_header *h, const uint8_t *body) {
    if (!h->has_dict) return fail(c, RT_EFORMAT, "dictionary page without its header");
    if (col->have_dict) return fail(c, RT_EFORMAT, "a second dictionary page");
    if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICTIONARY)
        return fail(c, RT_EUNSUPPORTED, "dictionary encoding %d (PLAIN expected)", h->encoding);
    size_t us = (size_t)h->uncompressed_size;
    if (pq_codec_check(col->cc->codec, body, (size_t)h->compressed_size, us, c->err)) return where(c);
    if ((uint64_t)h->num_values > (uint64_t)us * 8) /* a value takes at least one bit */
        return fail(c, RT_EFORMAT, "dictionary of %d values in %zu bytes", h->num_values, us);
    uint8_t *buf = malloc(us ? us : 1);
    col->dict = malloc(((size_t)h->num_values ? (size_t)h->num_values : 1) * sizeof *col->dict);
    rt_status st = !buf || !col->dict ? fail(c, RT_ENOMEM, "out of memory") : RT_OK;
    if (!st && pq_decompress(col->cc->codec, body, (size_t)h->compressed_size, buf, us, c->err)) st = where(c);
    if (!st) st = plain(c, buf, us, (size_t)h->num_values, col->dict);
    if (buf && store_keep(&col->store, buf) && !st) st = fail(c, RT_ENOMEM, "out of memory");
    col->dict_n = (size_t)h->num_values;
    col->have_dict = 1;
    return st;
}

rt_status pq_column_more(pq_column *col, rt_error *err) {
    const pq_chunk *cc = col->cc;
    const uint8_t *chunk = col->chunk;
    size_t len = col->chunk_len;
    ctx c = {&col->li, col->page, err};
    rt_status st = RT_OK;
    if (col->pg.active) st = page_batch(&c, col);
    /* otherwise the next data page (after any dictionary and index pages), and its first batch */
    while (!st && !col->pg.active && col->seen < (uint64_t)cc->num_values) {
        c.page = ++col->page;
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
            st = dict_page(&c, col, &h, body);
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
            col->seen += (uint64_t)h.num_values;
            st = page_begin(&c, col, &h, body);
            if (!st) st = page_batch(&c, col);
            break;
        } else if (h.type != PQ_PAGE_INDEX) {
            st = fail(&c, RT_EFORMAT, "unknown page type %d", h.type);
        }
    }
    if (!st && !col->pg.active && col->seen >= (uint64_t)cc->num_values) {
        col->done = 1;
        free(col->chunk); /* every page decoded: the compressed bytes are no longer needed */
        col->chunk = NULL;
        col->chunk_len = col->pos = 0;
    }
    return st;
}
