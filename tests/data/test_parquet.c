/* The Parquet reader against two independent writers (DuckDB and arrow-rs,
 * tests/node/parquet-writers/parquet_fixtures.mjs): every row equals the writer's own read-back; and malformed files
 * (every truncation, every flipped byte, bad magic) are errors naming the file, never crashes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/tmpdir.h"
#include "base/fileio.h"
#include "base/json.h"
#include "data/parquet.h"
#include "data/parquet_internal.h"

#define PQDIR RETOOL_FIXTURES "/parquet/"

/* Deep equality; numbers within a float's precision (FLOAT columns read back in single precision). Writes where
 * they differ into why. */
static int json_eq(const cJSON *a, const cJSON *b, char *why, size_t n, const char *at) {
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
        double x = a->valuedouble, y = b->valuedouble;
        double tol = 1e-6 * fmax(1.0, fmax(fabs(x), fabs(y)));
        if (fabs(x - y) <= tol) return 1;
        snprintf(why, n, "%s: %.17g vs %.17g", at, x, y);
        return 0;
    }
    if ((a->type & 0xff) != (b->type & 0xff)) {
        char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
        snprintf(why, n, "%s: %s vs %s", at, sa, sb);
        free(sa);
        free(sb);
        return 0;
    }
    if (cJSON_IsString(a)) {
        if (strcmp(a->valuestring, b->valuestring) == 0) return 1;
        snprintf(why, n, "%s: \"%s\" vs \"%s\"", at, a->valuestring, b->valuestring);
        return 0;
    }
    if (cJSON_IsArray(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
            snprintf(why, n, "%s: %d vs %d elements", at, cJSON_GetArraySize(a), cJSON_GetArraySize(b));
            return 0;
        }
        int i = 0;
        for (const cJSON *x = a->child, *y = b->child; x; x = x->next, y = y->next, i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%d]", at, i);
            if (!json_eq(x, y, why, n, sub)) return 0;
        }
        return 1;
    }
    if (cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
            snprintf(why, n, "%s: %d vs %d fields", at, cJSON_GetArraySize(a), cJSON_GetArraySize(b));
            return 0;
        }
        for (const cJSON *x = a->child; x; x = x->next) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", at, x->string);
            if (!y) {
                snprintf(why, n, "%s: missing in the read-back", sub);
                return 0;
            }
            if (!json_eq(x, y, why, n, sub)) return 0;
        }
        return 1;
    }
    return 1; /* null, true, false: the type matched */
}

/* Reads name.parquet row by row, streaming every page whose values exceed stream_min bytes, and compares with
 * name.jsonl; returns the rows read. */
static size_t compare_streamed(const char *name, size_t stream_min) {
    char pq_path[512], js_path[512];
    snprintf(pq_path, sizeof pq_path, PQDIR "%s.parquet", name);
    snprintf(js_path, sizeof js_path, PQDIR "%s.jsonl", name);
    rt_error err;
    data_parquet *pq;
    cr_assert_eq(data_parquet_open(pq_path, &pq, &err), RT_OK, "%s", err.msg);
    pq_set_stream_min(pq, stream_min);
    rt_jsonl_reader r;
    cr_assert_eq(rt_jsonl_open(&r, js_path, RT_JSONL_STOP, &err), RT_OK, "%s", err.msg);
    size_t rows = 0;
    for (;;) {
        cJSON *want, *got;
        cr_assert_eq(rt_jsonl_next(&r, &want, &err), RT_OK, "%s", err.msg);
        cr_assert_eq(data_parquet_next(pq, &got, &err), RT_OK, "%s", err.msg);
        if (!want || !got) {
            cr_assert(!want && !got, "%s: retool read %s rows than the writer (%zu)", name, want ? "fewer" : "more",
                      rows);
            break;
        }
        char why[1024] = "";
        char at[64];
        snprintf(at, sizeof at, "row %zu", rows + 1);
        int ok = json_eq(got, want, why, sizeof why, at);
        cJSON_Delete(want);
        cJSON_Delete(got);
        cr_assert(ok, "%s (streaming above %zu bytes): %s (retool vs the writer)", name, stream_min, why);
        rows++;
    }
    cr_expect_eq((int64_t)rows, data_parquet_num_rows(pq));
    cr_expect_eq((int64_t)rows, data_parquet_row_no(pq));
    rt_jsonl_close(&r);
    data_parquet_close(pq);
    return rows;
}

static size_t compare_with_readback(const char *name) {
    return compare_streamed(name, PQ_STREAM_MIN_DEFAULT);
}

Test(parquet, duckdb_every_type_and_codec) {
    const char *names[] = {"duck_types_uncompressed", "duck_types_snappy", "duck_types_gzip", "duck_types_zstd",
                           "duck_types_v2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect_eq(compare_with_readback(names[i]), 2500, "%s", names[i]);
}

Test(parquet, duckdb_nested_lists_structs_and_nulls) {
    cr_expect_eq(compare_with_readback("duck_nested"), 300);
    cr_expect_eq(compare_with_readback("duck_nested_v2"), 300);
}

Test(parquet, duckdb_public_layouts) {
    cr_expect_eq(compare_with_readback("dapo_shaped"), 40);
    cr_expect_eq(compare_with_readback("aime_shaped"), 30);
    cr_expect_eq(compare_with_readback("gsm8k_shaped"), 25);
    cr_expect_eq(compare_with_readback("retool_sft_shaped"), 200);
}

Test(parquet, arrow_rs_encodings_codecs_and_row_groups) {
    const char *names[] = {"rs_plain_v1_snappy", "rs_dict_v1_gzip", "rs_delta_v2_zstd", "rs_dict_v2_uncompressed"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect_eq(compare_with_readback(names[i]), 400, "%s", names[i]);
}

Test(parquet, arrow_rs_nested) {
    cr_expect_eq(compare_with_readback("rs_nested_v1"), 400);
    cr_expect_eq(compare_with_readback("rs_nested_v2"), 400);
    /* pages of a few rows each: one page decoded at a time, lists read across pages */
    cr_expect_eq(compare_with_readback("rs_nested_small_pages_v1"), 400);
    cr_expect_eq(compare_with_readback("rs_nested_small_pages_v2"), 400);
    cr_expect_eq(compare_with_readback("rs_required_v1"), 50);
    cr_expect_eq(compare_with_readback("rs_required_v2"), 50);
    cr_expect_eq(compare_with_readback("tiny_dict_v1"), 20);
    cr_expect_eq(compare_with_readback("tiny_delta_v2"), 20);
    cr_expect_eq(compare_with_readback("tiny_snappy"), 20);
}

/* Every fixture with every page streamed (what the reader does with pages over 1 MiB): every codec through the
 * streaming decoders, every encoding after a streamed page's levels, PLAIN values read one at a time. */
Test(parquet, every_fixture_streamed) {
    const char *names[] = {"duck_types_uncompressed",
                           "duck_types_snappy",
                           "duck_types_gzip",
                           "duck_types_zstd",
                           "duck_types_v2",
                           "duck_nested",
                           "duck_nested_v2",
                           "dapo_shaped",
                           "aime_shaped",
                           "gsm8k_shaped",
                           "retool_sft_shaped",
                           "rs_plain_v1_snappy",
                           "rs_dict_v1_gzip",
                           "rs_delta_v2_zstd",
                           "rs_dict_v2_uncompressed",
                           "rs_nested_v1",
                           "rs_nested_v2",
                           "rs_nested_small_pages_v1",
                           "rs_nested_small_pages_v2",
                           "rs_required_v1",
                           "rs_required_v2",
                           "tiny_dict_v1",
                           "tiny_delta_v2",
                           "tiny_snappy"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect_gt(compare_streamed(names[i], 0), 0, "%s", names[i]);
}

/* Reads every row of path, streaming pages larger than stream_min; returns the status of the first failure (RT_OK
 * when all rows read); *rows (when not NULL) gets the rows delivered. */
static rt_status read_all_streamed(const char *path, size_t stream_min, rt_error *err, size_t *rows) {
    data_parquet *pq;
    if (rows) *rows = 0;
    rt_status st = data_parquet_open(path, &pq, err);
    if (st) return st;
    pq_set_stream_min(pq, stream_min);
    for (;;) {
        cJSON *row;
        st = data_parquet_next(pq, &row, err);
        if (st || !row) break;
        cJSON_Delete(row);
        if (rows) ++*rows;
    }
    data_parquet_close(pq);
    return st;
}

static rt_status read_all(const char *path, rt_error *err) {
    return read_all_streamed(path, PQ_STREAM_MIN_DEFAULT, err, NULL);
}

static char *load(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, PQDIR "%s.parquet", name);
    char *data;
    rt_error err;
    cr_assert_eq(rt_file_read_all(path, &data, len, &err), RT_OK, "%s", err.msg);
    return data;
}

Test(parquet, every_truncation_is_an_error) {
    char dir[64], path[600];
    test_tmpdir(dir, sizeof dir);
    size_t len;
    char *data = load("tiny_dict_v1", &len);
    for (size_t cut = 0; cut < len; cut++) {
        test_write(dir, "t.parquet", data, cut, path, sizeof path);
        rt_error err;
        cr_assert_neq(read_all(path, &err), RT_OK, "cut at %zu of %zu read fine", cut, len);
        cr_assert(strncmp(err.msg, path, strlen(path)) == 0, "cut at %zu: '%s' does not name the file", cut, err.msg);
    }
    free(data);
    test_rmdir(dir);
}

Test(parquet, bad_magic) {
    char dir[64], path[600];
    test_tmpdir(dir, sizeof dir);
    size_t len;
    char *data = load("tiny_dict_v1", &len);
    rt_error err;
    data[0] = 'Q';
    test_write(dir, "a.parquet", data, len, path, sizeof path);
    cr_assert_eq(read_all(path, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "magic") && strstr(err.msg, "start"), "%s", err.msg);
    cr_expect(!data_parquet_sniff(path));
    data[0] = 'P';
    data[len - 1] = '2';
    test_write(dir, "b.parquet", data, len, path, sizeof path);
    cr_assert_eq(read_all(path, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "magic") && strstr(err.msg, "end"), "%s", err.msg);
    cr_expect(data_parquet_sniff(path), "the start decides, so that a truncated file is reported as one");
    data[len - 1] = '1';
    test_write(dir, "c.parquet", data, len, path, sizeof path);
    cr_expect(data_parquet_sniff(path));
    free(data);
    test_rmdir(dir);
}

/* Flips every byte of a file in turn (n_flips ways, at most three): each read either succeeds or fails with a message
 * naming the file, and the errors include the classes the reader promises to catch. */
static void sweep(const char *name, size_t stream_min, size_t n_flips, const char *const *must_see, size_t n_must) {
    char dir[64], path[600];
    test_tmpdir(dir, sizeof dir);
    size_t len;
    char *data = load(name, &len);
    char *copy = malloc(len);
    int *seen = calloc(n_must, sizeof *seen);
    size_t errors = 0;
    const unsigned char flips[] = {0xff, 0x01, 0x80};
    for (size_t at = 0; at < len; at++)
        for (size_t f = 0; f < n_flips && f < sizeof flips; f++) {
            memcpy(copy, data, len);
            copy[at] = (char)(copy[at] ^ flips[f]);
            test_write(dir, "f.parquet", copy, len, path, sizeof path);
            rt_error err;
            size_t rows;
            if (read_all_streamed(path, stream_min, &err, &rows) == RT_OK) continue;
            errors++;
            /* row groups are read one at a time: a fault in the second (of 10 rows each) comes after the first's
             * rows were delivered */
            if (strstr(err.msg, ": row group 1, column"))
                cr_expect_eq(rows, 10, "%s byte %zu: %zu rows before '%s'", name, at, rows, err.msg);
            cr_assert(strncmp(err.msg, path, strlen(path)) == 0, "%s byte %zu: '%s' does not name the file", name, at,
                      err.msg);
            for (size_t k = 0; k < n_must; k++)
                if (strstr(err.msg, must_see[k])) seen[k] = 1;
        }
    cr_expect_gt(errors, 0);
    for (size_t k = 0; k < n_must; k++)
        cr_expect(seen[k], "%s: no flipped byte gave an error with '%s'", name, must_see[k]);
    free(seen);
    free(copy);
    free(data);
    test_rmdir(dir);
}

Test(parquet, flipped_bytes_dictionary_file, .timeout = 120) {
    const char *must[] = {"dictionary index",    "exceeds the column's maximum",          "page header",
                          "row group 1, column", "runs past the end of the column chunk", ", page "};
    sweep("tiny_dict_v1", PQ_STREAM_MIN_DEFAULT, 3, must, sizeof must / sizeof must[0]);
}

Test(parquet, flipped_bytes_delta_file, .timeout = 120) {
    const char *must[] = {"DELTA_BINARY_PACKED", "file metadata"};
    sweep("tiny_delta_v2", PQ_STREAM_MIN_DEFAULT, 3, must, sizeof must / sizeof must[0]);
}

Test(parquet, flipped_bytes_snappy_file, .timeout = 120) {
    const char *must[] = {"snappy", "where the header declares"};
    sweep("tiny_snappy", PQ_STREAM_MIN_DEFAULT, 3, must, sizeof must / sizeof must[0]);
}

/* The same file with every page streamed: the hand-written snappy decoder meets each byte flipped (one way). */
Test(parquet, flipped_bytes_snappy_file_streamed, .timeout = 120) {
    const char *must[] = {"snappy data", "value "};
    sweep("tiny_snappy", 0, 1, must, sizeof must / sizeof must[0]);
}
