/* A streaming Parquet reader: rows one at a time as cJSON objects keyed by the schema's field names, row groups read
 * one at a time and each column's pages one at a time (memory bounded by the compressed row group and one
 * decoded page per column), every malformed input an error naming the
 * file, row group, column and page. What it supports is listed in docs/DATA.md. */
#ifndef RETOOL_DATA_PARQUET_H
#define RETOOL_DATA_PARQUET_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "base/error.h"

typedef struct data_parquet data_parquet;

/* Opens path and reads its footer and schema; fails on a file that is not Parquet or uses what is unsupported. */
rt_status data_parquet_open(const char *path, data_parquet **out, rt_error *err);

/* Reads the next row into *row (caller frees with cJSON_Delete), or sets *row = NULL after the last one. */
rt_status data_parquet_next(data_parquet *pq, cJSON **row, rt_error *err);

/* The number of rows the footer declares. */
int64_t data_parquet_num_rows(const data_parquet *pq);

/* The 1-based number of the row last returned by data_parquet_next (0 before the first). */
int64_t data_parquet_row_no(const data_parquet *pq);

/* Closes the file and frees everything. */
void data_parquet_close(data_parquet *pq);

/* Non-zero when path is a regular file that starts with the Parquet magic "PAR1" (no JSON text does; a file that
 * lacks the magic at its end is then reported by data_parquet_open as truncated rather than as bad JSON). */
int data_parquet_sniff(const char *path);

#endif
