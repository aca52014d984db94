/* libFuzzer target for the Parquet reader (data_parquet_open / data_parquet_next). Built only by
 * tests/long/fuzz_parquet.sh (clang -fsanitize=fuzzer,address -DRETOOL_FUZZ); in the normal build this file compiles
 * to nothing. The input is the file. Properties: no crash or sanitizer report; every row is a JSON object; every
 * error message starts with the file's path. */
#ifdef RETOOL_FUZZ
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/parquet.h"

static char dir[64], in_path[128];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/retool-fuzz-pq-XXXXXX");
        if (!mkdtemp(dir)) abort();
        snprintf(in_path, sizeof in_path, "%s/in.parquet", dir);
    }
    FILE *fp = fopen(in_path, "wb");
    if (!fp) abort();
    if (size && fwrite(data, 1, size, fp) != size) abort();
    fclose(fp);
    rt_error err;
    data_parquet *pq;
    rt_status st = data_parquet_open(in_path, &pq, &err);
    if (st == RT_OK) {
        for (;;) {
            cJSON *row;
            st = data_parquet_next(pq, &row, &err);
            if (st || !row) break;
            if (!cJSON_IsObject(row)) abort();
            char *s = cJSON_PrintUnformatted(row);
            if (!s) abort();
            free(s);
            cJSON_Delete(row);
        }
        data_parquet_close(pq);
    }
    if (st && strncmp(err.msg, in_path, strlen(in_path)) != 0) {
        fprintf(stderr, "error does not name the file: %s\n", err.msg);
        abort();
    }
    return 0;
}
#endif
