/* The streaming decompressors of the Parquet reader against the libraries' own compressors: our raw snappy decoder
 * on libsnappy's output (random, repetitive and run-length inputs, read in pieces of every size), hand-made streams
 * that lie or break the format, and ZSTD/GZIP streams whose declared sizes lie. */
#include <criterion/criterion.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "data/parquet_internal.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* n bytes of kind 0: random; 1: text-like with repeats near and far (up to 60 KB back); 2: long runs. */
static uint8_t *make_input(size_t n, int kind) {
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n;) {
        if (kind == 0 || i < 16) {
            b[i++] = (uint8_t)rnd();
        } else if (kind == 1) {
            size_t back = 1 + rnd() % (i < 60000 ? i : 60000), len = 4 + rnd() % 80;
            for (size_t k = 0; k < len && i < n; k++, i++)
                b[i] = b[i - back]; /* overlapping when back < len */
            if (i < n) b[i++] = (uint8_t)('a' + rnd() % 26);
        } else {
            uint8_t v = (uint8_t)rnd();
            size_t len = 1 + rnd() % 5000;
            for (size_t k = 0; k < len && i < n; k++)
                b[i++] = v;
        }
    }
    return b;
}

static char *snappy_pack(const uint8_t *in, size_t n, size_t *clen) {
    *clen = snappy_max_compressed_length(n);
    char *c = malloc(*clen);
    cr_assert_eq(snappy_compress((const char *)in, n, c, clen), SNAPPY_OK);
    return c;
}

/* Decodes c with pq_snappy in pieces of step bytes (0: random sizes) and compares with want. */
static void decode_in_pieces(const char *c, size_t clen, const uint8_t *want, size_t n, size_t step) {
    pq_snappy s;
    rt_error err;
    cr_assert_eq(pq_snappy_init(&s, (const uint8_t *)c, clen, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(s.total, n);
    uint8_t *out = malloc(n ? n : 1);
    for (size_t at = 0; at < n;) {
        size_t k = step ? step : 1 + rnd() % 100000;
        if (k > n - at) k = n - at;
        cr_assert_eq(pq_snappy_read(&s, out + at, k, &err), RT_OK, "at %zu of %zu: %s", at, n, err.msg);
        at += k;
    }
    cr_assert_eq(pq_snappy_end(&s, &err), RT_OK, "%s", err.msg);
    cr_assert(n == 0 || memcmp(out, want, n) == 0, "the decoded bytes differ from libsnappy's input (n %zu)", n);
    uint8_t one;
    cr_assert_neq(pq_snappy_read(&s, &one, 1, &err), RT_OK, "a byte past the declared length");
    free(out);
    pq_snappy_free(&s);
}

Test(parquet_codec, snappy_round_trip_of_libsnappy_output) {
    const size_t sizes[] = {0, 1, 7, 60, 61, 255, 65535, 65536, 65537, 200000, 1500000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int kind = 0; kind < 3; kind++) {
            size_t n = sizes[si], clen;
            uint8_t *in = make_input(n, kind);
            char *c = snappy_pack(in, n, &clen);
            decode_in_pieces(c, clen, in, n, 0);
            decode_in_pieces(c, clen, in, n, 1);
            decode_in_pieces(c, clen, in, n, 4096);
            decode_in_pieces(c, clen, in, n, n ? n : 1);
            free(c);
            free(in);
        }
}

/* Decodes all of [c, c+len) (declared length from its preamble) in one read; returns the status and leaves the
 * message in err. */
static rt_status decode_all(const uint8_t *c, size_t len, rt_error *err) {
    pq_snappy s;
    rt_status st = pq_snappy_init(&s, c, len, err);
    if (st) return st;
    uint8_t *out = malloc(s.total ? s.total : 1);
    st = pq_snappy_read(&s, out, s.total, err);
    if (!st) st = pq_snappy_end(&s, err);
    free(out);
    pq_snappy_free(&s);
    return st;
}

Test(parquet_codec, snappy_every_truncation_is_an_error) {
    size_t n = 100000, clen;
    uint8_t *in = make_input(n, 1);
    char *c = snappy_pack(in, n, &clen);
    for (size_t cut = 0; cut < clen; cut += cut < 200 ? 1 : 97) {
        rt_error err;
        cr_assert_neq(decode_all((const uint8_t *)c, cut, &err), RT_OK, "cut at %zu of %zu decoded", cut, clen);
        cr_assert(strstr(err.msg, "snappy data"), "cut at %zu: %s", cut, err.msg);
    }
    free(c);
    free(in);
}

static void expect_error(const uint8_t *c, size_t len, const char *needle) {
    rt_error err;
    cr_assert_eq(decode_all(c, len, &err), RT_EFORMAT, "no error where '%s' was expected", needle);
    cr_expect(strstr(err.msg, needle), "'%s' lacks '%s'", err.msg, needle);
}

Test(parquet_codec, snappy_malformed_streams) {
    /* a literal "abcd", then copies; the first byte of each is the declared length */
    const uint8_t offset_zero[] = {8, 0x0c, 'a', 'b', 'c', 'd', 0x01, 0x00};      /* copy-1 of 4, offset 0 */
    const uint8_t before_start[] = {8, 0x0c, 'a', 'b', 'c', 'd', 0x01, 0x05};     /* offset 5 > 4 produced */
    const uint8_t copy_past_length[] = {6, 0x0c, 'a', 'b', 'c', 'd', 0x01, 0x04}; /* 4 + 4 > 6 declared */
    const uint8_t literal_past_length[] = {3, 0x0c, 'a', 'b', 'c', 'd'};          /* 4 > 3 declared */
    const uint8_t longer_than_data[] = {9, 0x0c, 'a', 'b', 'c', 'd', 0x01, 0x04}; /* 8 produced of 9 */
    const uint8_t trailing[] = {4, 0x0c, 'a', 'b', 'c', 'd', 0x00};               /* a byte past the end */
    const uint8_t literal_cut[] = {8, 0x1c, 'a', 'b'};                            /* a literal of 8, 2 present */
    const uint8_t long_literal_len_cut[] = {200, 1, 0xf0};                        /* 1 length byte missing */
    const uint8_t length_overlong[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_error(offset_zero, sizeof offset_zero, "reaches 0 bytes back");
    expect_error(before_start, sizeof before_start, "reaches 5 bytes back");
    expect_error(copy_past_length, sizeof copy_past_length, "runs past the 6 bytes it declares");
    expect_error(literal_past_length, sizeof literal_past_length, "runs past the 3 bytes it declares");
    expect_error(longer_than_data, sizeof longer_than_data, "ends after 8 of the 9 bytes");
    expect_error(trailing, sizeof trailing, "continues for 1 bytes past");
    expect_error(literal_cut, sizeof literal_cut, "runs past the end");
    expect_error(long_literal_len_cut, sizeof long_literal_len_cut, "length runs past the end");
    expect_error(length_overlong, sizeof length_overlong, "longer than 32 bits");
    /* the same copies, valid: abcd then abcdabcd by an overlapping copy of 8 at offset 4 */
    const uint8_t good[] = {12, 0x0c, 'a', 'b', 'c', 'd', 0x11, 0x04};
    pq_snappy s;
    rt_error err;
    uint8_t out[12];
    cr_assert_eq(pq_snappy_init(&s, good, sizeof good, &err), RT_OK);
    cr_assert_eq(pq_snappy_read(&s, out, 12, &err), RT_OK, "%s", err.msg);
    cr_expect(memcmp(out, "abcdabcdabcd", 12) == 0);
    cr_expect_eq(pq_snappy_end(&s, &err), RT_OK);
    pq_snappy_free(&s);
}

/* A valid stream no known writer makes: a copy 70,000 bytes back. The decoder refuses it before using it, and the
 * page source then decompresses the page whole with libsnappy and goes on where it was. */
Test(parquet_codec, snappy_copy_beyond_the_window) {
    size_t lit = 70000, n = lit + 64;
    uint8_t *in = make_input(lit, 0);
    uint8_t *c = malloc(lit + 32);
    size_t k = 0;
    uint32_t v = (uint32_t)n;
    while (v >= 0x80) {
        c[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    c[k++] = (uint8_t)v;
    c[k++] = 62 << 2; /* a literal whose length - 1 follows in 3 bytes */
    c[k++] = (uint8_t)((lit - 1) & 0xff);
    c[k++] = (uint8_t)(((lit - 1) >> 8) & 0xff);
    c[k++] = (uint8_t)((lit - 1) >> 16);
    memcpy(c + k, in, lit);
    k += lit;
    c[k++] = (63 << 2) | 3; /* a copy of 64 with a 4-byte offset */
    c[k++] = (uint8_t)(lit & 0xff);
    c[k++] = (uint8_t)((lit >> 8) & 0xff);
    c[k++] = (uint8_t)(lit >> 16);
    c[k++] = 0;
    size_t ref_n = n;
    char *ref = malloc(n);
    cr_assert_eq(snappy_uncompress((const char *)c, k, ref, &ref_n), SNAPPY_OK, "libsnappy rejects the stream");

    pq_snappy s;
    rt_error err;
    uint8_t *out = malloc(n);
    cr_assert_eq(pq_snappy_init(&s, c, k, &err), RT_OK);
    cr_assert_eq(pq_snappy_read(&s, out, n, &err), RT_EUNSUPPORTED);
    cr_expect(strstr(err.msg, "beyond the streaming window"), "%s", err.msg);
    pq_snappy_free(&s);

    pq_src src;
    cr_assert_eq(pq_src_open(&src, PQ_CODEC_SNAPPY, c, k, n, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(pq_src_read(&src, out, 1000, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(pq_src_read(&src, out + 1000, n - 1000, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(pq_src_finish(&src, &err), RT_OK, "%s", err.msg);
    cr_expect(memcmp(out, ref, n) == 0, "the bytes differ from libsnappy's");
    pq_src_close(&src);
    free(out);
    free(ref);
    free(c);
    free(in);
}

/* Reads a stream of codec through pq_src in pieces of 1 to 5,000 bytes; compares with want. */
static void src_round_trip(int32_t codec, const uint8_t *c, size_t clen, const uint8_t *want, size_t n) {
    pq_src s;
    rt_error err;
    cr_assert_eq(pq_src_open(&s, codec, c, clen, n, &err), RT_OK, "%s", err.msg);
    uint8_t *out = malloc(n);
    for (size_t at = 0; at < n;) {
        size_t k = 1 + rnd() % 5000;
        if (k > n - at) k = n - at;
        cr_assert_eq(pq_src_read(&s, out + at, k, &err), RT_OK, "codec %d at %zu: %s", codec, at, err.msg);
        at += k;
    }
    cr_assert_eq(pq_src_finish(&s, &err), RT_OK, "codec %d: %s", codec, err.msg);
    cr_expect(memcmp(out, want, n) == 0, "codec %d: the bytes differ", codec);
    free(out);
    pq_src_close(&s);
}

/* Opens codec's stream declaring n bytes, reads as many as it can and finishes: the status and message. */
static rt_status src_lying(int32_t codec, const uint8_t *c, size_t clen, size_t n, rt_error *err) {
    pq_src s;
    rt_status st = pq_src_open(&s, codec, c, clen, n, err);
    uint8_t *out = malloc(n);
    if (!st) st = pq_src_read(&s, out, n, err);
    if (!st) st = pq_src_finish(&s, err);
    free(out);
    pq_src_close(&s);
    return st;
}

static uint8_t *gzip_compress(const uint8_t *in, size_t n, size_t *clen) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, n) + 32;
    uint8_t *c = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = c;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *clen = zs.total_out;
    deflateEnd(&zs);
    return c;
}

Test(parquet_codec, streams_of_every_codec_and_lying_sizes) {
    size_t n = 300000;
    uint8_t *in = make_input(n, 1);
    size_t sn, zn = ZSTD_compressBound(n), gn;
    char *s = snappy_pack(in, n, &sn);
    uint8_t *z = malloc(zn);
    zn = ZSTD_compress(z, zn, in, n, 3);
    cr_assert(!ZSTD_isError(zn));
    uint8_t *g = gzip_compress(in, n, &gn);
    src_round_trip(PQ_CODEC_UNCOMPRESSED, in, n, in, n);
    src_round_trip(PQ_CODEC_SNAPPY, (const uint8_t *)s, sn, in, n);
    src_round_trip(PQ_CODEC_ZSTD, z, zn, in, n);
    src_round_trip(PQ_CODEC_GZIP, g, gn, in, n);

    rt_error err;
    /* declared sizes one more and one less than the data holds */
    cr_expect_eq(src_lying(PQ_CODEC_SNAPPY, (const uint8_t *)s, sn, n + 1, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "where the header declares"), "%s", err.msg);
    cr_expect_eq(src_lying(PQ_CODEC_ZSTD, z, zn, n - 1, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "where the header declares"), "%s", err.msg);
    cr_expect_eq(src_lying(PQ_CODEC_GZIP, g, gn, n + 1, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "gzip data holds 300000 bytes where the header declares 300001"), "%s", err.msg);
    cr_expect_eq(src_lying(PQ_CODEC_GZIP, g, gn, n - 1, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "more than the 299999 bytes"), "%s", err.msg);
    cr_expect_eq(src_lying(PQ_CODEC_UNCOMPRESSED, in, n, n - 1, &err), RT_EFORMAT);
    /* a zstd frame without its content size, so that only the stream tells */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    size_t zn2 = ZSTD_compress2(cc, z, ZSTD_compressBound(n), in, n);
    cr_assert(!ZSTD_isError(zn2));
    ZSTD_freeCCtx(cc);
    cr_expect_eq(src_lying(PQ_CODEC_ZSTD, z, zn2, n + 1, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "zstd data ends after 300000 of the 300001 bytes"), "%s", err.msg);
    cr_expect_eq(src_lying(PQ_CODEC_ZSTD, z, zn2, n - 1, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "more than the 299999 bytes"), "%s", err.msg);
    cr_expect_eq(src_lying(PQ_CODEC_ZSTD, z, zn2 - 5, n, &err), RT_EFORMAT, "a truncated frame");
    cr_expect_eq(src_lying(PQ_CODEC_GZIP, g, gn - 20, n, &err), RT_EFORMAT, "a truncated gzip stream");
    cr_expect_eq(src_lying(PQ_CODEC_SNAPPY, (const uint8_t *)s, sn - 3, n, &err), RT_EFORMAT);
    free(s);
    free(z);
    free(g);
    free(in);
}

/* A DELTA_BINARY_PACKED encoder written from Encodings.md (blocks of 128 deltas, 4 miniblocks of 32, the last block
 * padded); returns the bytes written to out. */
static size_t put_uvarint(uint8_t *out, uint64_t v) {
    size_t k = 0;
    while (v >= 0x80) {
        out[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[k++] = (uint8_t)v;
    return k;
}

static uint64_t zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static size_t delta_encode(const int64_t *v, size_t n, uint8_t *out) {
    size_t k = put_uvarint(out, 128);
    k += put_uvarint(out + k, 4);
    k += put_uvarint(out + k, n);
    k += put_uvarint(out + k, zigzag(n ? v[0] : 0));
    for (size_t b = 1; b < n; b += 128) {
        uint64_t d[128] = {0};
        size_t nd = n - b < 128 ? n - b : 128;
        int64_t min = INT64_MAX;
        for (size_t i = 0; i < nd; i++) {
            int64_t x = (int64_t)((uint64_t)v[b + i] - (uint64_t)v[b + i - 1]);
            if (x < min) min = x;
        }
        for (size_t i = 0; i < nd; i++)
            d[i] = (uint64_t)v[b + i] - (uint64_t)v[b + i - 1] - (uint64_t)min;
        k += put_uvarint(out + k, zigzag(min));
        uint8_t *widths = out + k;
        k += 4;
        for (int m = 0; m < 4; m++) {
            uint64_t mx = 0;
            for (int i = 0; i < 32; i++)
                if (m * 32 + i < (int)nd && d[m * 32 + i] > mx) mx = d[m * 32 + i];
            int bw = 0;
            while (bw < 64 && (mx >> bw))
                bw++;
            widths[m] = (uint8_t)bw;
            memset(out + k, 0, (size_t)bw * 4);
            for (int i = 0; i < 32; i++)
                for (int bit = 0; bit < bw; bit++)
                    if ((d[m * 32 + i] >> bit) & 1)
                        out[k + (size_t)(i * bw + bit) / 8] |= (uint8_t)(1 << ((i * bw + bit) % 8));
            k += (size_t)bw * 4;
        }
    }
    return k;
}

/* The buffer decoder and the stream decoder (the page read through pq_src) against the encoder: the same values,
 * and every truncation an error for both. */
Test(parquet_codec, delta_binary_packed_from_a_buffer_and_from_a_stream) {
    size_t n = 1000;
    int64_t *v = malloc(n * sizeof *v), *got = malloc(n * sizeof *got);
    for (size_t i = 0; i < n; i++)
        v[i] = i % 97 == 0 ? (int64_t)rnd() << 20 : (i ? v[i - 1] : 0) + (int64_t)(rnd() % 1000) - 300;
    v[500] = INT64_MIN;
    v[501] = INT64_MAX;
    uint8_t *enc = malloc(n * 10 + 1024);
    size_t len = delta_encode(v, n, enc), used;
    rt_error err;
    cr_assert_eq(pq_delta_decode(enc, len, n, got, &used, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(used, len);
    cr_expect(memcmp(got, v, n * sizeof *v) == 0, "buffer decoder");
    pq_src s;
    cr_assert_eq(pq_src_open(&s, PQ_CODEC_UNCOMPRESSED, enc, len, len, &err), RT_OK);
    memset(got, 0, n * sizeof *got);
    cr_assert_eq(pq_delta_decode_src(&s, n, got, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(s.pos, len, "the stream is left after the values");
    cr_expect(memcmp(got, v, n * sizeof *v) == 0, "stream decoder");
    pq_src_close(&s);
    for (size_t cut = 0; cut < len; cut++) {
        rt_status a = pq_delta_decode(enc, cut, n, got, &used, &err);
        cr_assert_eq(pq_src_open(&s, PQ_CODEC_UNCOMPRESSED, enc, cut, cut, &err), RT_OK);
        rt_status b = pq_delta_decode_src(&s, n, got, &err);
        pq_src_close(&s);
        cr_assert(a != RT_OK && b != RT_OK, "cut at %zu of %zu: buffer %d, stream %d", cut, len, a, b);
        cr_assert(strstr(err.msg, "DELTA_BINARY_PACKED") || strstr(err.msg, "varint"), "%s", err.msg);
    }
    free(enc);
    free(got);
    free(v);
}
