/* Page decompression: whole (libsnappy, libzstd, zlib into one buffer) for small pages, and streaming (our own
 * snappy decoder, ZSTD_decompressStream, zlib's inflate) for large ones, so that a 65 MB page never sits in memory
 * whole. Both check that the data holds exactly the size the page header declares. Errors carry no context: the
 * column reader prefixes the file, row group, column and page. */
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "data/parquet_internal.h"

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

rt_status pq_codec_check(int32_t codec, const uint8_t *src, size_t slen, size_t dlen, rt_error *err) {
    size_t n;
    unsigned long long fs;
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        if (slen != dlen) return rt_err_set(err, RT_EFORMAT, "uncompressed page of %zu bytes declares %zu", slen, dlen);
        return RT_OK;
    case PQ_CODEC_SNAPPY:
        if (snappy_uncompressed_length((const char *)src, slen, &n) != SNAPPY_OK)
            return rt_err_set(err, RT_EFORMAT, "snappy data is malformed");
        if (n != dlen)
            return rt_err_set(err, RT_EFORMAT, "snappy data holds %zu bytes where the header declares %zu", n, dlen);
        return RT_OK;
    case PQ_CODEC_ZSTD:
        fs = ZSTD_getFrameContentSize(src, slen);
        if (fs == ZSTD_CONTENTSIZE_ERROR) return rt_err_set(err, RT_EFORMAT, "zstd data is malformed");
        if (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != dlen)
            return rt_err_set(err, RT_EFORMAT, "zstd data holds %llu bytes where the header declares %zu", fs, dlen);
        return RT_OK;
    case PQ_CODEC_GZIP: /* deflate expands at most 1032 to 1 */
        if (dlen / 1032 > slen + 64)
            return rt_err_set(err, RT_EFORMAT, "gzip data of %zu bytes cannot hold the %zu the header declares", slen,
                              dlen);
        return RT_OK;
    default:
        return rt_err_set(err, RT_EUNSUPPORTED,
                          "compression codec %s (%d) is not supported (UNCOMPRESSED, SNAPPY, GZIP, ZSTD are)",
                          codec_name(codec), codec);
    }
}

rt_status pq_decompress(int32_t codec, const uint8_t *src, size_t slen, uint8_t *dst, size_t dlen, rt_error *err) {
    rt_status st = pq_codec_check(codec, src, slen, dlen, err);
    if (st) return st;
    if (codec == PQ_CODEC_UNCOMPRESSED) {
        if (dlen) memcpy(dst, src, dlen);
        return RT_OK;
    }
    if (codec == PQ_CODEC_SNAPPY) {
        size_t n = dlen;
        if (snappy_uncompress((const char *)src, slen, (char *)dst, &n) != SNAPPY_OK || n != dlen)
            return rt_err_set(err, RT_EFORMAT, "snappy data is malformed");
        return RT_OK;
    }
    if (codec == PQ_CODEC_ZSTD) {
        size_t r = ZSTD_decompress(dst, dlen, src, slen);
        if (ZSTD_isError(r)) return rt_err_set(err, RT_EFORMAT, "zstd: %s", ZSTD_getErrorName(r));
        if (r != dlen)
            return rt_err_set(err, RT_EFORMAT, "zstd data holds %zu bytes where the header declares %zu", r, dlen);
        return RT_OK;
    }
    /* GZIP */
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return rt_err_set(err, RT_ENOMEM, "gzip: cannot start inflate");
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
        return rt_err_set(err, RT_EFORMAT, "gzip data holds more than the %zu bytes the header declares", dlen);
    if (r == Z_STREAM_END)
        return rt_err_set(err, RT_EFORMAT, "gzip data holds %zu bytes where the header declares %zu", out, dlen);
    return rt_err_set(err, RT_EFORMAT, "gzip data is malformed or truncated");
}

rt_status pq_src_open(pq_src *s, int32_t codec, const uint8_t *in, size_t len, size_t total, rt_error *err) {
    memset(s, 0, sizeof *s);
    s->codec = codec;
    s->in = in;
    s->in_len = len;
    s->total = total;
    rt_status st = pq_codec_check(codec, in, len, total, err);
    if (st) return st;
    if (codec == PQ_CODEC_SNAPPY) return pq_snappy_init(&s->sn, in, len, err);
    if (codec == PQ_CODEC_ZSTD) {
        ZSTD_DStream *zs = ZSTD_createDStream();
        if (!zs) return rt_err_set(err, RT_ENOMEM, "zstd: out of memory");
        s->zs = zs;
        s->zpos = 0;
        return RT_OK;
    }
    if (codec == PQ_CODEC_GZIP) {
        z_stream *gz = calloc(1, sizeof *gz);
        if (!gz) return rt_err_set(err, RT_ENOMEM, "out of memory");
        if (inflateInit2(gz, 15 + 32) != Z_OK) {
            free(gz);
            return rt_err_set(err, RT_ENOMEM, "gzip: cannot start inflate");
        }
        gz->next_in = (Bytef *)(uintptr_t)in;
        gz->avail_in = (uInt)len;
        s->gz = gz;
    }
    return RT_OK;
}

void pq_src_close(pq_src *s) {
    pq_snappy_free(&s->sn);
    if (s->zs) ZSTD_freeDStream(s->zs);
    if (s->gz) {
        inflateEnd(s->gz);
        free(s->gz);
    }
    free(s->flat);
    memset(s, 0, sizeof *s);
}

/* A snappy copy that reaches past the streaming window (no known writer makes one; libsnappy and the snap crate
 * compress in independent 64 KiB blocks): the whole page decompressed by libsnappy, served from where we are. */
static rt_status go_flat(pq_src *s, rt_error *err) {
    s->flat = malloc(s->total ? s->total : 1);
    if (!s->flat) return rt_err_set(err, RT_ENOMEM, "out of memory (%zu bytes)", s->total);
    size_t n = s->total;
    if (snappy_uncompress((const char *)s->in, s->in_len, (char *)s->flat, &n) != SNAPPY_OK || n != s->total)
        return rt_err_set(err, RT_EFORMAT, "snappy data is malformed");
    pq_snappy_free(&s->sn);
    return RT_OK;
}

static rt_status zstd_read(pq_src *s, uint8_t *dst, size_t n, rt_error *err) {
    ZSTD_outBuffer out = {dst, n, 0};
    ZSTD_inBuffer in = {s->in, s->in_len, s->zpos};
    while (out.pos < out.size) {
        size_t in0 = in.pos, out0 = out.pos;
        size_t r = ZSTD_decompressStream(s->zs, &out, &in);
        s->zpos = in.pos;
        if (ZSTD_isError(r)) return rt_err_set(err, RT_EFORMAT, "zstd: %s", ZSTD_getErrorName(r));
        s->zend = r == 0;
        if (in.pos == in0 && out.pos == out0)
            return rt_err_set(err, RT_EFORMAT, "zstd data ends after %zu of the %zu bytes the header declares",
                              s->pos + out.pos, s->total);
    }
    return RT_OK;
}

static rt_status gzip_read(pq_src *s, uint8_t *dst, size_t n, rt_error *err) {
    z_stream *gz = s->gz;
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        gz->next_out = dst;
        gz->avail_out = k;
        int r = inflate(gz, Z_NO_FLUSH);
        size_t got = k - gz->avail_out;
        if (r == Z_STREAM_END) s->gzdone = 1;
        if (r == Z_BUF_ERROR && !got) return rt_err_set(err, RT_EFORMAT, "gzip data is truncated");
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
            return rt_err_set(err, RT_EFORMAT, "gzip data is malformed (%s)", gz->msg ? gz->msg : "inflate failed");
        if (got < k && s->gzdone)
            return rt_err_set(err, RT_EFORMAT, "gzip data holds %zu bytes where the header declares %zu", s->pos + got,
                              s->total);
        dst += got;
        n -= got;
        s->pos += got;
    }
    return RT_OK;
}

rt_status pq_src_read(pq_src *s, uint8_t *dst, size_t n, rt_error *err) {
    if (n > s->total - s->pos)
        return rt_err_set(err, RT_EFORMAT, "%zu bytes asked for at byte %zu of a page of %zu", n, s->pos, s->total);
    rt_status st = RT_OK;
    if (s->flat || s->codec == PQ_CODEC_UNCOMPRESSED) {
        if (n) memcpy(dst, (s->flat ? s->flat : s->in) + s->pos, n);
    } else if (s->codec == PQ_CODEC_SNAPPY) {
        st = pq_snappy_read(&s->sn, dst, n, err);
        if (st == RT_EUNSUPPORTED) { /* a copy beyond the window, reported before it was used */
            rt_err_clear(err);
            if ((st = go_flat(s, err))) return st;
            memcpy(dst, s->flat + s->pos, n);
        }
    } else if (s->codec == PQ_CODEC_ZSTD) {
        st = zstd_read(s, dst, n, err);
    } else {
        return gzip_read(s, dst, n, err); /* counts s->pos itself */
    }
    if (!st) s->pos += n;
    return st;
}

rt_status pq_src_finish(pq_src *s, rt_error *err) {
    uint8_t scratch[4096];
    while (s->pos < s->total) { /* what the values left unread */
        size_t k = s->total - s->pos < sizeof scratch ? s->total - s->pos : sizeof scratch;
        rt_status st = pq_src_read(s, scratch, k, err);
        if (st) return st;
    }
    if (s->flat || s->codec == PQ_CODEC_UNCOMPRESSED) return RT_OK; /* sizes checked whole */
    if (s->codec == PQ_CODEC_SNAPPY) return pq_snappy_end(&s->sn, err);
    if (s->codec == PQ_CODEC_ZSTD) { /* the frame must end here: its epilogue read, nothing more produced */
        ZSTD_inBuffer in = {s->in, s->in_len, s->zpos};
        while (!s->zend || in.pos < in.size) {
            ZSTD_outBuffer out = {scratch, 1, 0};
            size_t in0 = in.pos;
            size_t r = ZSTD_decompressStream(s->zs, &out, &in);
            s->zpos = in.pos;
            if (ZSTD_isError(r)) return rt_err_set(err, RT_EFORMAT, "zstd: %s", ZSTD_getErrorName(r));
            if (out.pos)
                return rt_err_set(err, RT_EFORMAT, "zstd data holds more than the %zu bytes the header declares",
                                  s->total);
            s->zend = r == 0;
            if (in.pos == in0) return rt_err_set(err, RT_EFORMAT, "zstd data is truncated");
        }
        return RT_OK;
    }
    z_stream *gz = s->gz; /* GZIP */
    while (!s->gzdone) {
        gz->next_out = scratch;
        gz->avail_out = 1;
        int r = inflate(gz, Z_NO_FLUSH);
        if (gz->avail_out == 0)
            return rt_err_set(err, RT_EFORMAT, "gzip data holds more than the %zu bytes the header declares", s->total);
        if (r == Z_STREAM_END) break;
        if (r != Z_OK) return rt_err_set(err, RT_EFORMAT, "gzip data is malformed or truncated");
    }
    return RT_OK;
}
