/* JSON and JSONL reading on cJSON, with errors that name the file, line and field. */
#ifndef RETOOL_BASE_JSON_H
#define RETOOL_BASE_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

/* Parses a whole JSON file; a syntax error names path:line:column. Caller frees *out with cJSON_Delete. */
rt_status rt_json_read_file(const char *path, cJSON **out, rt_error *err);

/* Parses len bytes of JSON text; name (a file name or "stdin line 3") prefixes any error. */
rt_status rt_json_parse(const char *text, size_t len, const char *name, cJSON **out, rt_error *err);

/* Writes item to path atomically, pretty-printed, with a trailing newline. */
rt_status rt_json_write_file(const char *path, const cJSON *item, rt_error *err);

/* Non-zero when the len bytes at s are valid UTF-8 (no overlongs, no surrogates); *bad_at gets the first bad offset. */
int rt_utf8_valid(const char *s, size_t len, size_t *bad_at);

/* What a JSONL reader does with a malformed line. */
typedef enum rt_jsonl_mode { RT_JSONL_STOP = 0, RT_JSONL_SKIP } rt_jsonl_mode;

typedef struct rt_jsonl_reader {
    FILE *fp;
    char *path;
    int owns_fp;
    rt_jsonl_mode mode;
    size_t line_no;  /* number of the line last read (1-based) */
    size_t skipped;  /* malformed lines skipped in RT_JSONL_SKIP mode */
    char *line;
    size_t line_cap;
} rt_jsonl_reader;

/* Opens path for reading one JSON value a line ("-" reads stdin). Blank lines are ignored. */
rt_status rt_jsonl_open(rt_jsonl_reader *r, const char *path, rt_jsonl_mode mode, rt_error *err);

/* Reads the next value into *out (caller frees), or sets *out = NULL at the end. In STOP mode a malformed line
 * (bad JSON, invalid UTF-8, an embedded NUL, a truncated last line) is an RT_EFORMAT error naming path:line; in SKIP
 * mode it is counted in r->skipped, logged as a warning, and the next good line is returned. */
rt_status rt_jsonl_next(rt_jsonl_reader *r, cJSON **out, rt_error *err);

/* Closes the reader and frees its buffers. */
void rt_jsonl_close(rt_jsonl_reader *r);

/* Field getters: each fails with RT_EFORMAT "field 'key': expected ..." when the field is missing or mistyped.
 * The optional variants leave *out untouched and succeed when the field is absent (or JSON null). */
rt_status rt_json_get_string(const cJSON *obj, const char *key, const char **out, rt_error *err);
rt_status rt_json_get_int(const cJSON *obj, const char *key, int64_t *out, rt_error *err);
rt_status rt_json_get_double(const cJSON *obj, const char *key, double *out, rt_error *err);
rt_status rt_json_get_bool(const cJSON *obj, const char *key, int *out, rt_error *err);
rt_status rt_json_opt_string(const cJSON *obj, const char *key, const char **out, rt_error *err);
rt_status rt_json_opt_int(const cJSON *obj, const char *key, int64_t *out, rt_error *err);
rt_status rt_json_opt_double(const cJSON *obj, const char *key, double *out, rt_error *err);
rt_status rt_json_opt_bool(const cJSON *obj, const char *key, int *out, rt_error *err);

#endif
