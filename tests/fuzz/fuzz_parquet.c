/* libFuzzer target for the Parquet reader (data_parquet_open / data_parquet_next). Built only by
 * tests/long/fuzz_parquet.sh (clang -fsanitize=fuzzer,address -DRETOOL_FUZZ); in the normal build this file compiles
 * to nothing. The input is the file, read twice: pages decompressed whole, then every page streamed. Properties: no
 * crash or sanitizer report; every row is a JSON object; every error message starts with the file's path; both
 * reads give the same rows and the same verdict. The input is also a raw snappy stream for the streaming decoder,
 * which must agree with libsnappy: the same bytes when libsnappy accepts it, an error when it does not. */
#ifdef RETOOL_FUZZ
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <snappy-c.h>

#include "data/parquet.h"
#include "data/parquet_internal.h"

static char dir[64], in_path[128];

/* Reads every row of in_path (streaming pages larger than stream_min) and prints them, one line each, into *text
 * (malloc'd); the status. */
static rt_status read_rows(size_t stream_min, char **text, rt_error *err) {
    data_parquet *pq;
    size_t len = 0;
    *text = NULL;
    FILE *mem = open_memstream(text, &len);
    if (!mem) abort();
    rt_status st = data_parquet_open(in_path, &pq, err);
    if (st == RT_OK) {
        pq_set_stream_min(pq, stream_min);
        for (;;) {
            cJSON *row;
            st = data_parquet_next(pq, &row, err);
            if (st || !row) break;
            if (!cJSON_IsObject(row)) abort();
            char *s = cJSON_PrintUnformatted(row);
            if (!s) abort();
            fprintf(mem, "%s\n", s);
            free(s);
            cJSON_Delete(row);
        }
        data_parquet_close(pq);
    }
    fclose(mem);
    if (st && strncmp(err->msg, in_path, strlen(in_path)) != 0) {
        fprintf(stderr, "error does not name the file: %s\n", err->msg);
        abort();
    }
    return st;
}

/* data as a raw snappy stream: our streaming decoder (read in pieces of 1,000 bytes) against libsnappy. */
static void snappy_differential(const uint8_t *data, size_t size) {
    size_t n;
    if (snappy_uncompressed_length((const char *)data, size, &n) != SNAPPY_OK || n > (1u << 20)) return;
    char *ref = malloc(n ? n : 1);
    uint8_t *got = malloc(n ? n : 1);
    size_t rn = n;
    int ref_ok = snappy_uncompress((const char *)data, size, ref, &rn) == SNAPPY_OK && rn == n;
    pq_src src;
    rt_error err;
    rt_status st = pq_src_open(&src, PQ_CODEC_SNAPPY, data, size, n, &err);
    for (size_t at = 0; !st && at < n; at += 1000)
        st = pq_src_read(&src, got + at, n - at < 1000 ? n - at : 1000, &err);
    if (!st) st = pq_src_finish(&src, &err);
    pq_src_close(&src);
    if (ref_ok != (st == RT_OK)) {
        fprintf(stderr, "libsnappy %s the stream, ours %s (%s)\n", ref_ok ? "accepts" : "rejects",
                st ? "rejects" : "accepts", st ? err.msg : "");
        abort();
    }
    if (ref_ok && n && memcmp(ref, got, n) != 0) abort();
    free(ref);
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/retool-fuzz-pq-XXXXXX");
        if (!mkdtemp(dir)) abort();
        snprintf(in_path, sizeof in_path, "%s/in.parquet", dir);
    }
    snappy_differential(data, size);
    FILE *fp = fopen(in_path, "wb");
    if (!fp) abort();
    if (size && fwrite(data, 1, size, fp) != size) abort();
    fclose(fp);
    rt_error e1, e2;
    char *whole, *streamed;
    rt_status s1 = read_rows(PQ_STREAM_MIN_DEFAULT, &whole, &e1), s2 = read_rows(0, &streamed, &e2);
    /* the same rows before the same kind of verdict (a lying page may fail at its start when whole, later when
     * streamed: the rows read before then agree) */
    size_t l1 = strlen(whole), l2 = strlen(streamed), l = l1 < l2 ? l1 : l2;
    if ((s1 == RT_OK) != (s2 == RT_OK) || memcmp(whole, streamed, l) != 0 || (!s1 && l1 != l2)) {
        fprintf(stderr, "whole and streamed reads differ: %s / %s\n", s1 ? e1.msg : "ok", s2 ? e2.msg : "ok");
        abort();
    }
    free(whole);
    free(streamed);
    return 0;
}
#endif
