/* retool data gen|families|convert through the built binary: outputs, exit codes, suggestions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../base/tmpdir.h"
#include "../cli/run_cli.h"
#include "base/fileio.h"

static char out[65536];

Test(data_cli, families_lists_every_family) {
    cr_assert_eq(run_cli("data families", out, sizeof out), 0, "%s", out);
    const char *names[] = {"mul ",    "modpow ", "digitsum ", "count ", "series ", "binom ",
                           "gcdlcm ", "base ",   "add ",      "sub ",   "compare "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect(strstr(out, names[i]), "lacks %s", names[i]);
    cr_expect(strstr(out, "no-tool") != NULL);
}

Test(data_cli, gen_writes_jsonl_with_every_field) {
    char dir[64], cmd[256], *text;
    size_t len;
    rt_error err;
    test_tmpdir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "data gen --family binom --n 4 --split test --seed 5 --level 2 --out %s/b.jsonl", dir);
    cr_assert_eq(run_cli(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "wrote 4 test problems") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s/b.jsonl", dir);
    cr_assert_eq(rt_file_read_all(cmd, &text, &len, &err), RT_OK);
    size_t lines = 0;
    for (char *l = text; (l = strstr(l, "{\"id\":\"binom-")); l++)
        lines++;
    cr_expect_eq(lines, 4, "%s", text);
    const char *keys[] = {"\"prompt\":\"Compute C(",
                          "\"answer\":\"",
                          "\"family\":\"binom\"",
                          "\"level\":2",
                          "\"program\":\"import math;print(math.comb(",
                          "\"text_solution\":\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_expect(strstr(text, keys[i]), "lacks %s", keys[i]);
    free(text);
    test_rmdir(dir);
}

Test(data_cli, usage_errors) {
    cr_expect_eq(run_cli("data gen --family mull --n 3 --out /tmp/x.jsonl", out, sizeof out), 2);
    cr_expect(strstr(out, "did you mean 'mul'") != NULL, "%s", out);
    cr_expect_eq(run_cli("data gen --out /tmp/x.jsonl", out, sizeof out), 2);
    cr_expect(strstr(out, "--n") != NULL, "%s", out);
    cr_expect_eq(run_cli("data gen --n 3", out, sizeof out), 2);
    cr_expect_eq(run_cli("data gen --n 3 --split dev --out /tmp/x.jsonl", out, sizeof out), 2);
    cr_expect(strstr(out, "expected train or test") != NULL, "%s", out);
    cr_expect_eq(run_cli("data gen --n 3 --level 7 --out /tmp/x.jsonl", out, sizeof out), 2);
    cr_expect_eq(run_cli("data genn", out, sizeof out), 2);
    cr_expect_eq(
        run_cli("data convert tests/data/samples/gsm8k.jsonl --format csv --out /tmp/x.jsonl", out, sizeof out), 2);
}

Test(data_cli, convert_maps_a_public_layout) {
    char dir[64], cmd[256], *text;
    size_t len;
    rt_error err;
    test_tmpdir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "data convert tests/data/samples/gsm8k.jsonl --out %s/g.jsonl", dir);
    cr_assert_eq(run_cli(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "wrote 2 problems (layout gsm8k)") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s/g.jsonl", dir);
    cr_assert_eq(rt_file_read_all(cmd, &text, &len, &err), RT_OK);
    cr_expect(strstr(text, "\"answer\":\"31\"") != NULL, "%s", text);
    free(text);
    snprintf(cmd, sizeof cmd, "data convert tests/data/samples/math.jsonl --format gsm8k --out %s/m.jsonl", dir);
    cr_expect_eq(run_cli(cmd, out, sizeof out), 1);
    cr_expect(strstr(out, "math.jsonl:1") && strstr(out, "'question'"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s/m.jsonl", dir);
    cr_expect(!rt_path_exists(cmd), "a failed convert left an output file");
    test_rmdir(dir);
}

/* Converts in (relative to build/fixtures/parquet) into dir/name and returns the output's text. */
static char *convert_fixture(const char *dir, const char *in, const char *name, const char *expect) {
    char cmd[512], *text;
    size_t len;
    rt_error err;
    snprintf(cmd, sizeof cmd, "data convert %s/parquet/%s --out %s/%s", RETOOL_FIXTURES, in, dir, name);
    cr_assert_eq(run_cli(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, expect) != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s/%s", dir, name);
    cr_assert_eq(rt_file_read_all(cmd, &text, &len, &err), RT_OK, "%s", err.msg);
    return text;
}

/* A Parquet file converts exactly as the writer's own JSONL read-back of it does. */
Test(data_cli, convert_reads_parquet_like_its_jsonl_readback) {
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    char *a = convert_fixture(dir, "dapo_shaped.parquet", "a.jsonl", "wrote 40 problems (layout dapo)");
    char *b = convert_fixture(dir, "dapo_shaped.jsonl", "b.jsonl", "wrote 40 problems (layout dapo)");
    cr_expect_str_eq(a, b);
    cr_expect(strstr(a, "\"prompt\":\"What is 2 + 4?\"") && strstr(a, "\"answer\":\"6\"") &&
                  strstr(a, "\"id\":\"idx-2\""),
              "%s", a);
    free(a);
    free(b);
    a = convert_fixture(dir, "aime_shaped.parquet", "c.jsonl", "wrote 30 problems (layout aime)");
    b = convert_fixture(dir, "aime_shaped.jsonl", "d.jsonl", "wrote 30 problems (layout aime)");
    cr_expect_str_eq(a, b);
    cr_expect(strstr(a, "\"id\":\"2024-I-3\"") && strstr(a, "\"answer\":\"4\""), "%s", a);
    free(a);
    free(b);
    a = convert_fixture(dir, "gsm8k_shaped.parquet", "e.jsonl", "wrote 25 problems (layout gsm8k)");
    b = convert_fixture(dir, "gsm8k_shaped.jsonl", "f.jsonl", "wrote 25 problems (layout gsm8k)");
    cr_expect_str_eq(a, b);
    cr_expect(strstr(a, "\"answer\":\"8\"") != NULL, "%s", a);
    free(a);
    free(b);
    test_rmdir(dir);
}

Test(data_cli, convert_parquet_errors_name_the_row) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "data convert %s/parquet/duck_nested.parquet --format aime --out /tmp/never.jsonl",
             RETOOL_FIXTURES);
    cr_expect_eq(run_cli(cmd, out, sizeof out), 1);
    cr_expect(strstr(out, "duck_nested.parquet: row 1") && strstr(out, "'problem'"), "%s", out);
    snprintf(cmd, sizeof cmd, "data convert %s/parquet/duck_nested.parquet --out /tmp/never.jsonl", RETOOL_FIXTURES);
    cr_expect_eq(run_cli(cmd, out, sizeof out), 1);
    cr_expect(strstr(out, "duck_nested.parquet: row 1: dapo layout: field 'reward_model'"), "%s", out);
}

Test(data_cli, json_check_reads_parquet_and_names_where_it_breaks) {
    char cmd[700], dir[64], path[600];
    snprintf(cmd, sizeof cmd, "json check %s/parquet/duck_nested.parquet", RETOOL_FIXTURES);
    cr_assert_eq(run_cli(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "duck_nested.parquet: ok (300 rows, Parquet)") != NULL, "%s", out);
    /* the dictionary file with its page data overwritten by 0xff bytes, footer intact */
    snprintf(cmd, sizeof cmd, "%s/parquet/tiny_dict_v1.parquet", RETOOL_FIXTURES);
    char *data;
    size_t len;
    rt_error err;
    cr_assert_eq(rt_file_read_all(cmd, &data, &len, &err), RT_OK, "%s", err.msg);
    test_tmpdir(dir, sizeof dir);
    memset(data + 4, 0xff, 40);
    test_write(dir, "bad.parquet", data, len, path, sizeof path);
    free(data);
    snprintf(cmd, sizeof cmd, "json check %s", path);
    cr_expect_eq(run_cli(cmd, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "bad.parquet: row group 0, column 'id', page 0") != NULL, "%s", out);
    cr_expect(strstr(out, "(reading row 1)") != NULL, "the row being read: %s", out);
    test_rmdir(dir);
}

Test(data_cli, a_truncated_parquet_file_is_reported_as_one) {
    char cmd[700], dir[64], path[600], *data;
    size_t len;
    rt_error err;
    snprintf(cmd, sizeof cmd, "%s/parquet/aime_shaped.parquet", RETOOL_FIXTURES);
    cr_assert_eq(rt_file_read_all(cmd, &data, &len, &err), RT_OK, "%s", err.msg);
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "cut.parquet", data, len / 2, path, sizeof path);
    free(data);
    snprintf(cmd, sizeof cmd, "data convert %s --out %s/x.jsonl", path, dir);
    cr_expect_eq(run_cli(cmd, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "cut.parquet: no Parquet magic 'PAR1' at the end (truncated") != NULL, "%s", out);
    test_rmdir(dir);
}
