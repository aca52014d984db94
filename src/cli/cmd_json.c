#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "data/parquet.h"

static int json_check(int argc, char **argv) {
    int jsonl = 0, skip = 0;
    const cli_flag flags[] = {
        {"jsonl", CLI_FLAG_BOOL, &jsonl, NULL, "read one JSON value a line (default: guess from the .jsonl suffix)"},
        {"skip-bad", CLI_FLAG_BOOL, &skip, NULL, "count malformed JSONL lines and go on instead of stopping"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool json check [--jsonl] [--skip-bad] FILE...",
                       "Parses each file; prints 'FILE: ok (N records)' or the first error with its line and column. "
                       "A Parquet file (magic 'PAR1') is read row by row; errors name the row group, column and page.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    if (args.npositional == 0) {
        cli_args_free(&args);
        return cli_fail("json check", CLI_EXIT_USAGE, "no file given");
    }
    int status = CLI_EXIT_OK;
    for (int i = 0; i < args.npositional; i++) {
        const char *path = args.positional[i];
        size_t len = strlen(path);
        int as_jsonl = jsonl || (len > 6 && strcmp(path + len - 6, ".jsonl") == 0);
        rt_error err;
        rt_err_clear(&err);
        if (strcmp(path, "-") != 0 && data_parquet_sniff(path)) {
            data_parquet *pq = NULL;
            rt_status st = data_parquet_open(path, &pq, &err);
            int64_t rows = 0;
            while (st == RT_OK) {
                cJSON *row;
                st = data_parquet_next(pq, &row, &err);
                if (st || !row) break;
                rows++;
                cJSON_Delete(row);
            }
            data_parquet_close(pq);
            if (st == RT_OK)
                printf("%s: ok (%lld rows, Parquet)\n", path, (long long)rows);
            else
                status = cli_fail_err("json check", &err);
        } else if (as_jsonl) {
            rt_jsonl_reader r;
            rt_status st = rt_jsonl_open(&r, path, skip ? RT_JSONL_SKIP : RT_JSONL_STOP, &err);
            size_t records = 0;
            while (st == RT_OK) {
                cJSON *item;
                st = rt_jsonl_next(&r, &item, &err);
                if (st || !item) break;
                records++;
                cJSON_Delete(item);
            }
            if (st == RT_OK)
                printf("%s: ok (%zu records, %zu malformed lines skipped)\n", path, records, r.skipped);
            else
                status = cli_fail_err("json check", &err);
            if (r.path) rt_jsonl_close(&r);
        } else {
            cJSON *item;
            if (rt_json_read_file(path, &item, &err) == RT_OK) {
                printf("%s: ok\n", path);
                cJSON_Delete(item);
            } else {
                status = cli_fail_err("json check", &err);
            }
        }
    }
    cli_args_free(&args);
    return status;
}

int cmd_json(int argc, char **argv) {
    static const cli_command subs[] = {
        {"check", "validate JSON / JSONL files", json_check},
        {NULL, NULL, NULL},
    };
    return cli_dispatch_sub("json", argc, argv, subs);
}
