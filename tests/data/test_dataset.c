/* Dataset readers: every public layout's sample maps to the right prompt and answer, autodetection and the explicit
 * format, and bad input named by file, line and field. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../base/tmpdir.h"
#include "data/dataset.h"

#define SAMPLES "tests/data/samples/"

static data_dataset read_ok(const char *file, data_format f, data_format want, size_t n) {
    data_dataset ds;
    rt_error err;
    cr_assert_eq(data_dataset_read(file, f, &ds, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(ds.format, want, "%s read as %s", file, data_format_name(ds.format));
    cr_assert_eq(ds.n, n, "%s: %zu problems", file, ds.n);
    return ds;
}

Test(dataset, dapo_strips_the_instruction_and_reads_the_ground_truth) {
    data_dataset ds = read_ok(SAMPLES "dapo.jsonl", DATA_FORMAT_AUTO, DATA_FORMAT_DAPO, 3);
    cr_expect_str_eq(ds.items[0].prompt, "Let $x$ be a positive integer with $x^2 = 144$. Find $x + 1$.");
    cr_expect_str_eq(ds.items[0].answer, "13");
    cr_expect_str_eq(ds.items[0].id, "5b1f6c1e-0001");
    cr_expect_str_eq(ds.items[2].answer, "24");
    data_dataset_free(&ds);
}

Test(dataset, aime_both_years) {
    data_dataset ds = read_ok(SAMPLES "aime2024.jsonl", DATA_FORMAT_AUTO, DATA_FORMAT_AIME, 2);
    cr_expect_str_eq(ds.items[0].prompt, "Find the remainder when $2^{10}$ is divided by $1000$.");
    cr_expect_str_eq(ds.items[0].answer, "24"); /* an integer in the file */
    cr_expect_str_eq(ds.items[0].id, "2024-I-1");
    data_dataset_free(&ds);
    ds = read_ok(SAMPLES "aime2025.jsonl", DATA_FORMAT_AUTO, DATA_FORMAT_AIME, 2);
    cr_expect_str_eq(ds.items[1].answer, "056");
    cr_expect_str_eq(ds.items[1].id, "1");
    data_dataset_free(&ds);
}

Test(dataset, math_answer_from_the_boxed_solution_or_the_answer_field) {
    data_dataset ds = read_ok(SAMPLES "math.jsonl", DATA_FORMAT_AUTO, DATA_FORMAT_MATH, 3);
    cr_expect_str_eq(ds.items[0].answer, "\\frac{3}{4}");
    cr_expect_str_eq(ds.items[1].answer, "2, 3");
    cr_expect_str_eq(ds.items[2].answer, "2\\sqrt{3}");
    cr_expect_str_eq(ds.items[2].family, "Algebra");
    cr_expect_eq(ds.items[2].level, 3);
    cr_expect(strstr(ds.items[0].text_solution, "Dividing by") != NULL);
    data_dataset_free(&ds);
    ds = read_ok(SAMPLES "math500.jsonl", DATA_FORMAT_AUTO, DATA_FORMAT_MATH, 1);
    cr_expect_str_eq(ds.items[0].answer, "(-2,2)");
    cr_expect_str_eq(ds.items[0].family, "Intermediate Algebra");
    cr_expect_eq(ds.items[0].level, 2);
    cr_expect_str_eq(ds.items[0].id, "test/intermediate_algebra/17.json");
    data_dataset_free(&ds);
}

Test(dataset, gsm8k_answer_after_the_hashes) {
    data_dataset ds = read_ok(SAMPLES "gsm8k.jsonl", DATA_FORMAT_AUTO, DATA_FORMAT_GSM8K, 2);
    cr_expect_str_eq(ds.items[0].answer, "31");
    cr_expect_str_eq(ds.items[1].answer, "36,000");
    cr_expect(strncmp(ds.items[0].prompt, "Ann has 3 boxes", 15) == 0);
    cr_expect_str_eq(ds.items[0].text_solution,
                     "She had 3*12=<<3*12=36>>36 pencils.\nShe has 36-5=<<36-5=31>>31 left.");
    data_dataset_free(&ds);
}

Test(dataset, retool_layout_and_explicit_format) {
    data_dataset ds = read_ok(SAMPLES "retool.jsonl", DATA_FORMAT_RETOOL, DATA_FORMAT_RETOOL, 2);
    cr_expect_str_eq(ds.items[0].program, "print(12*34)");
    cr_expect_eq(ds.items[0].level, 1);
    cr_expect_str_eq(ds.items[1].answer, "4");
    data_dataset_free(&ds);
    /* Forcing a layout that does not fit names the missing field and the line. */
    rt_error err;
    cr_expect_eq(data_dataset_read(SAMPLES "aime2025.jsonl", DATA_FORMAT_GSM8K, &ds, &err), RT_EFORMAT);
    cr_expect(strstr(err.msg, "aime2025.jsonl:1") && strstr(err.msg, "gsm8k layout") && strstr(err.msg, "'question'"),
              "%s", err.msg);
}

static rt_status read_text(const char *text, data_format f, data_dataset *ds, rt_error *err, char *path) {
    char dir[64];
    test_tmpdir(dir, sizeof dir);
    test_write(dir, "in.jsonl", text, strlen(text), path, 128);
    return data_dataset_read(path, f, ds, err);
}

static void expect_error(const char *text, data_format f, const char *where, const char *what) {
    data_dataset ds;
    rt_error err;
    char path[128];
    cr_expect_neq(read_text(text, f, &ds, &err, path), RT_OK, "accepted: %s", text);
    char want[200];
    snprintf(want, sizeof want, "%s%s", path, where);
    cr_expect(strstr(err.msg, want) != NULL, "error '%s' lacks '%s'", err.msg, want);
    cr_expect(strstr(err.msg, what) != NULL, "error '%s' lacks '%s'", err.msg, what);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    test_rmdir(path);
}

Test(dataset, bad_input_names_file_line_and_field) {
    expect_error("{\"question\":\"q\",\"answer\":\"#### 1\"}\n{\"question\":\"q\",\"answer\":\"no hashes\"}\n",
                 DATA_FORMAT_AUTO, ":2", "'answer': no '#### <answer>' line");
    expect_error("{\"question\":\"q\",\"answer\":\"#### \"}\n", DATA_FORMAT_AUTO, ":1", "nothing after '####'");
    expect_error("{\"problem\":\"p\",\"solution\":\"no box here\"}\n", DATA_FORMAT_AUTO, ":1",
                 "'solution': no \\boxed{} found");
    expect_error("{\"problem\":\"p\",\"solution\":\"\\\\boxed{1\"}\n", DATA_FORMAT_AUTO, ":1", "not closed");
    expect_error("{\"Problem\":\"p\",\"Answer\":1.5}\n", DATA_FORMAT_AUTO, ":1",
                 "'Answer': expected a string or an integer");
    expect_error("{\"prompt\":[{\"role\":\"user\",\"content\":\"x\"}],\"reward_model\":{}}\n", DATA_FORMAT_AUTO, ":1",
                 "'ground_truth'");
    expect_error("{\"prompt\":[{\"role\":\"system\",\"content\":\"x\"}],\"reward_model\":{\"ground_truth\":\"1\"}}\n",
                 DATA_FORMAT_AUTO, ":1", "no message with role 'user'");
    expect_error("{\"prompt\":[{\"content\":\"x\"}],\"reward_model\":{\"ground_truth\":\"1\"}}\n", DATA_FORMAT_AUTO,
                 ":1", "'prompt[0]'");
    expect_error("{\"text\":\"p\",\"label\":3}\n", DATA_FORMAT_AUTO, ":1",
                 "cannot tell the layout from the fields (text, label)");
    expect_error("{\"prompt\":\"p\",\"answer\":\"1\"}\n{\"prompt\":\"p\",\"answer\":\"1\"\n", DATA_FORMAT_AUTO, ":2",
                 "");
    expect_error("{\"prompt\":\"\",\"answer\":\"1\"}\n", DATA_FORMAT_AUTO, ":1", "problem text is empty");
    expect_error("[1,2]\n", DATA_FORMAT_RETOOL, ":1", "expected a JSON object");
    expect_error("", DATA_FORMAT_AUTO, "", "no problems");
}

Test(dataset, format_names) {
    data_format f;
    rt_error err;
    cr_expect_eq(data_format_parse("gsm8k", &f, &err), RT_OK);
    cr_expect_eq(f, DATA_FORMAT_GSM8K);
    cr_expect_eq(data_format_parse("parquet", &f, &err), RT_EINVAL);
    cr_expect(strstr(err.msg, "expected auto, retool, dapo, aime, math or gsm8k") != NULL);
    cr_expect_str_eq(data_format_name(DATA_FORMAT_DAPO), "dapo");
}

/* What --data, --prompts and eval read: the same reader takes Parquet (tests/node/parquet-writers/parquet_fixtures.mjs). */
Test(dataset, parquet_files_read_like_jsonl) {
    data_dataset ds = read_ok(RETOOL_FIXTURES "/parquet/dapo_shaped.parquet", DATA_FORMAT_AUTO, DATA_FORMAT_DAPO, 40);
    cr_expect_str_eq(ds.items[2].prompt, "What is 2 + 4?");
    cr_expect_str_eq(ds.items[2].answer, "6");
    cr_expect_str_eq(ds.items[2].id, "idx-2");
    data_dataset_free(&ds);
    ds = read_ok(RETOOL_FIXTURES "/parquet/aime_shaped.parquet", DATA_FORMAT_AUTO, DATA_FORMAT_AIME, 30);
    cr_expect_str_eq(ds.items[3].answer, "9"); /* an INT64 column */
    cr_expect_str_eq(ds.items[3].id, "2024-I-4");
    data_dataset_free(&ds);
    rt_error err;
    cr_expect_eq(data_dataset_read(RETOOL_FIXTURES "/parquet/aime_shaped.parquet", DATA_FORMAT_GSM8K, &ds, &err),
                 RT_EFORMAT);
    cr_expect(strstr(err.msg, "aime_shaped.parquet: row 1: gsm8k layout: field 'question'") != NULL, "%s", err.msg);
}
