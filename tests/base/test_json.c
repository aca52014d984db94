/* json: parse errors with line and column, JSONL stop and skip modes, UTF-8 checks, field getters. */
#include <criterion/criterion.h>

#include "base/json.h"
#include "base/log.h"
#include "tmpdir.h"

static char dir[64];
static void setup(void) {
    test_tmpdir(dir, sizeof dir);
    rt_log_set_level(RT_LOG_OFF);
}
static void teardown(void) { test_rmdir(dir); }

TestSuite(json, .init = setup, .fini = teardown);

Test(json, reads_valid_file) {
    char path[256];
    const char *text = "{\n  \"a\": 1,\n  \"b\": [true, null]\n}\n";
    test_write(dir, "ok.json", text, strlen(text), path, sizeof path);
    cJSON *j;
    rt_error e;
    cr_assert_eq(rt_json_read_file(path, &j, &e), RT_OK, "%s", e.msg);
    int64_t a;
    cr_expect_eq(rt_json_get_int(j, "a", &a, &e), RT_OK);
    cr_expect_eq(a, 1);
    cJSON_Delete(j);
}

Test(json, syntax_error_names_file_line_column) {
    char path[256], want[300];
    const char *text = "{\n  \"a\": 1,\n  \"b\" 2\n}\n";
    test_write(dir, "bad.json", text, strlen(text), path, sizeof path);
    cJSON *j;
    rt_error e;
    cr_assert_eq(rt_json_read_file(path, &j, &e), RT_EFORMAT);
    cr_expect_null(j);
    snprintf(want, sizeof want, "%s:3:", path);
    cr_expect(strncmp(e.msg, want, strlen(want)) == 0, "got '%s', want prefix '%s'", e.msg, want);
}

Test(json, truncated_file_is_reported) {
    char path[256];
    const char *text = "{\"a\": [1, 2,";
    test_write(dir, "trunc.json", text, strlen(text), path, sizeof path);
    cJSON *j;
    rt_error e;
    cr_assert_eq(rt_json_read_file(path, &j, &e), RT_EFORMAT);
    cr_expect(strstr(e.msg, "ends too early") != NULL, "%s", e.msg);
}

Test(json, unbalanced_text_with_an_error_inside_is_a_syntax_error_there) {
    const char *t = "{\n  \"model\": {\n  oops\n}";
    cJSON *j;
    rt_error e;
    cr_assert_eq(rt_json_parse(t, strlen(t), "tok.json", &j, &e), RT_EFORMAT);
    cr_expect(strncmp(e.msg, "tok.json:3:", 11) == 0 && strstr(e.msg, "syntax error"), "%s", e.msg);
}

Test(json, invalid_utf8_is_rejected_with_position) {
    char path[256];
    const char text[] = "{\"a\": \"x\xff\"}";
    test_write(dir, "bin.json", text, sizeof text - 1, path, sizeof path);
    cJSON *j;
    rt_error e;
    cr_assert_eq(rt_json_read_file(path, &j, &e), RT_EFORMAT);
    cr_expect(strstr(e.msg, ":1:9: invalid UTF-8") != NULL, "%s", e.msg);
}

Test(json, trailing_garbage_is_rejected) {
    cJSON *j;
    rt_error e;
    cr_expect_eq(rt_json_parse("{} x", 4, "t", &j, &e), RT_EFORMAT);
    cr_expect(strstr(e.msg, "t:1:4: unexpected text") != NULL, "%s", e.msg);
}

Test(json, missing_file) {
    cJSON *j;
    rt_error e;
    cr_expect_eq(rt_json_read_file("/nonexistent/x.json", &j, &e), RT_ENOTFOUND);
    cr_expect(strstr(e.msg, "/nonexistent/x.json") != NULL);
}

Test(json, utf8_validator_cases) {
    size_t at;
    cr_expect(rt_utf8_valid("h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10, &at)); /* é € 😀 */
    cr_expect_not(rt_utf8_valid("\xc0\xaf", 2, &at));                          /* overlong '/' */
    cr_expect_eq(at, 0u);
    cr_expect_not(rt_utf8_valid("ab\xed\xa0\x80", 5, &at)); /* surrogate D800 */
    cr_expect_eq(at, 2u);
    cr_expect_not(rt_utf8_valid("a\xe2\x82", 3, &at)); /* cut in two */
    cr_expect_eq(at, 1u);
    cr_expect_not(rt_utf8_valid("\xf4\x90\x80\x80", 4, &at)); /* above U+10FFFF */
    cr_expect_not(rt_utf8_valid("\x80", 1, &at));             /* lone continuation */
}

static const char *jsonl_text = "{\"prompt\": \"a\", \"answer\": 1}\n"
                                "\n"
                                "{\"prompt\": \"b\" \"answer\": 2}\n"
                                "[1, 2]\r\n"
                                "{\"prompt\": \"c\xfe\"}\n"
                                "{\"prompt\": \"d\"";

Test(json, jsonl_stop_mode_names_the_line) {
    char path[256], want[300];
    test_write(dir, "d.jsonl", jsonl_text, strlen(jsonl_text), path, sizeof path);
    rt_jsonl_reader r;
    rt_error e;
    cr_assert_eq(rt_jsonl_open(&r, path, RT_JSONL_STOP, &e), RT_OK);
    cJSON *item;
    cr_assert_eq(rt_jsonl_next(&r, &item, &e), RT_OK);
    cr_assert_not_null(item);
    cJSON_Delete(item);
    cr_expect_eq(rt_jsonl_next(&r, &item, &e), RT_EFORMAT);
    cr_expect_null(item);
    snprintf(want, sizeof want, "%s:3:", path);
    cr_expect(strncmp(e.msg, want, strlen(want)) == 0, "got '%s'", e.msg);
    rt_jsonl_close(&r);
}

Test(json, jsonl_skip_mode_counts_bad_lines) {
    char path[256];
    test_write(dir, "d.jsonl", jsonl_text, strlen(jsonl_text), path, sizeof path);
    rt_jsonl_reader r;
    rt_error e;
    cr_assert_eq(rt_jsonl_open(&r, path, RT_JSONL_SKIP, &e), RT_OK);
    cJSON *item;
    int good = 0;
    size_t lines[4];
    while (rt_jsonl_next(&r, &item, &e) == RT_OK && item) {
        lines[good++] = r.line_no;
        cJSON_Delete(item);
    }
    cr_expect_eq(good, 2);
    cr_expect_eq(lines[0], 1u);
    cr_expect_eq(lines[1], 4u);
    cr_expect_eq(r.skipped, 3u, "bad JSON, bad UTF-8 and the truncated last line");
    rt_jsonl_close(&r);
}

Test(json, jsonl_truncated_last_line_message) {
    char path[256];
    const char *text = "{\"a\": 1}\n{\"a\": ";
    test_write(dir, "t.jsonl", text, strlen(text), path, sizeof path);
    rt_jsonl_reader r;
    rt_error e;
    cr_assert_eq(rt_jsonl_open(&r, path, RT_JSONL_STOP, &e), RT_OK);
    cJSON *item;
    cr_assert_eq(rt_jsonl_next(&r, &item, &e), RT_OK);
    cJSON_Delete(item);
    cr_expect_eq(rt_jsonl_next(&r, &item, &e), RT_EFORMAT);
    cr_expect(strstr(e.msg, ":2:") && strstr(e.msg, "truncated"), "%s", e.msg);
    rt_jsonl_close(&r);
}

Test(json, jsonl_nul_byte_is_an_error) {
    char path[256];
    const char text[] = "{\"a\": \"x\0y\"}\n";
    test_write(dir, "n.jsonl", text, sizeof text - 1, path, sizeof path);
    rt_jsonl_reader r;
    rt_error e;
    cr_assert_eq(rt_jsonl_open(&r, path, RT_JSONL_STOP, &e), RT_OK);
    cJSON *item;
    cr_expect_eq(rt_jsonl_next(&r, &item, &e), RT_EFORMAT);
    cr_expect(strstr(e.msg, ":1:") && strstr(e.msg, "NUL"), "%s", e.msg);
    rt_jsonl_close(&r);
}

Test(json, field_getters_name_the_field) {
    cJSON *j;
    rt_error e;
    const char *t = "{\"s\": \"x\", \"n\": 2.5, \"i\": 3, \"b\": true, \"z\": null}";
    cr_assert_eq(rt_json_parse(t, strlen(t), "t", &j, &e), RT_OK);
    const char *s;
    int64_t i;
    double d;
    int b;
    cr_expect_eq(rt_json_get_string(j, "s", &s, &e), RT_OK);
    cr_expect_str_eq(s, "x");
    cr_expect_eq(rt_json_get_int(j, "n", &i, &e), RT_EFORMAT);
    cr_expect_str_eq(e.msg, "field 'n': expected an integer");
    cr_expect_eq(rt_json_get_double(j, "n", &d, &e), RT_OK);
    cr_expect_float_eq(d, 2.5, 0);
    cr_expect_eq(rt_json_get_bool(j, "b", &b, &e), RT_OK);
    cr_expect_eq(b, 1);
    cr_expect_eq(rt_json_get_string(j, "missing", &s, &e), RT_EFORMAT);
    cr_expect_str_eq(e.msg, "field 'missing': missing (expected a string)");
    cr_expect_eq(rt_json_get_string(j, "i", &s, &e), RT_EFORMAT);
    i = 7;
    cr_expect_eq(rt_json_opt_int(j, "z", &i, &e), RT_OK, "null counts as absent");
    cr_expect_eq(i, 7);
    cr_expect_eq(rt_json_opt_int(j, "i", &i, &e), RT_OK);
    cr_expect_eq(i, 3);
    cr_expect_eq(rt_json_opt_bool(j, "s", &b, &e), RT_EFORMAT);
    cJSON_Delete(j);
}
