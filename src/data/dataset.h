/* Reading problem files: retool's own JSONL and the layouts public math RL data ships in (DAPO-Math-17k, AIME
 * 2024/2025, MATH, GSM8K), mapped onto data_problem by the field mapping in docs/DATA.md. JSONL or Parquet (read by
 * retool's own reader, data/parquet.h, since Debian packages none usable from C), told apart by the magic bytes. */
#ifndef RETOOL_DATA_DATASET_H
#define RETOOL_DATA_DATASET_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/error.h"
#include "base/json.h"
#include "data/problem.h"

typedef enum data_format {
    DATA_FORMAT_AUTO = 0, /* decided from the first record's fields */
    DATA_FORMAT_RETOOL,   /* {"prompt", "answer", ...}: what retool data gen writes */
    DATA_FORMAT_DAPO,     /* {"prompt": [{"role", "content"}], "reward_model": {"ground_truth"}, ...} */
    DATA_FORMAT_AIME,     /* {"Problem", "Answer"} (AIME 2024) or {"problem", "answer"} (AIME 2025) */
    DATA_FORMAT_MATH,     /* {"problem", "solution"} with the answer boxed in the solution (or an "answer" field) */
    DATA_FORMAT_GSM8K,    /* {"question", "answer"} with the answer after "####" */
} data_format;

typedef struct data_dataset {
    data_problem *items;
    size_t n, cap;
    data_format format; /* the format used (the detected one under DATA_FORMAT_AUTO) */
} data_dataset;

/* Parses a format name: auto, retool, dapo, aime, math, gsm8k. */
rt_status data_format_parse(const char *name, data_format *out, rt_error *err);

/* The name of a format. */
const char *data_format_name(data_format f);

/* Decides the format of a record from its fields (docs/DATA.md gives the order); RT_EFORMAT listing the fields
 * when none fits. */
rt_status data_format_detect(const cJSON *record, data_format *out, rt_error *err);

/* Maps one record of format f onto *out (zeroed first); errors name the field. */
rt_status data_record_map(const cJSON *record, data_format f, data_problem *out, rt_error *err);

/* Reads a JSONL or Parquet file of problems (Parquet when it starts with "PAR1"); every error names
 * path:line (JSONL) or "path: row N" (Parquet) and, for a mapping error, the field. */
rt_status data_dataset_read(const char *path, data_format f, data_dataset *out, rt_error *err);

/* The records of a file, one JSON object at a time: JSONL lines, or Parquet rows (when it starts with "PAR1"; see
 * data_parquet_sniff). What data_dataset_read reads problems through, for readers of other row layouts. */
typedef struct data_parquet data_parquet;
typedef struct data_records {
    rt_jsonl_reader jl;
    data_parquet *pq;
} data_records;

/* Opens path ("-": JSONL from stdin). */
rt_status data_records_open(data_records *r, const char *path, rt_error *err);

/* The next record into *rec (caller frees), or *rec = NULL at the end. */
rt_status data_records_next(data_records *r, cJSON **rec, rt_error *err);

/* Prefixes err with where the record last read lies: "PATH:LINE" (JSONL) or "PATH: row N" (Parquet). */
rt_status data_records_prefix(const data_records *r, const char *path, rt_error *err);

/* Closes the reader. */
void data_records_close(data_records *r);

/* Frees every problem and the array. */
void data_dataset_free(data_dataset *ds);

#endif
