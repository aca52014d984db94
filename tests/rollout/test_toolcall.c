/* Code extraction and output shaping, against hand-written expectations. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/protocol.h"
#include "rollout/shape.h"
#include "rollout/toolcall.h"

static rollout_code_status extract(const char *text, char **code) {
    size_t close = rollout_find_code_close(text, strlen(text), 0);
    cr_assert_neq(close, 0u, "no </code> in: %s", text);
    return rollout_extract_code(text, close, code);
}

Test(toolcall, simple_block) {
    char *code;
    cr_expect_eq(extract("I compute.\n<code>\n```python\nprint(2**10)\n```\n</code>", &code), ROLLOUT_CODE_FOUND);
    cr_expect_str_eq(code, "print(2**10)");
    free(code);
}

Test(toolcall, last_of_several_blocks_and_last_fence) {
    char *code;
    const char *t = "<code>\n```python\nold()\n```\n</code>\n<interpreter>\n1\n</interpreter>\n"
                    "<code>\n```python\na = 1\n```\n```python\nb = 2\nprint(b)\n```\n</code>";
    size_t first = rollout_find_code_close(t, strlen(t), 0);
    cr_assert_neq(first, 0u);
    cr_expect_eq(rollout_extract_code(t, first, &code), ROLLOUT_CODE_FOUND);
    cr_expect_str_eq(code, "old()");
    free(code);
    size_t second = rollout_find_code_close(t, strlen(t), first);
    cr_assert_gt(second, first);
    cr_expect_eq(rollout_extract_code(t, second, &code), ROLLOUT_CODE_FOUND);
    cr_expect_str_eq(code, "b = 2\nprint(b)");
    free(code);
}

Test(toolcall, nested_fence_inside_string_ends_at_first_closing_fence) {
    /* Code after the last ```python fence, up to the next ``` : a fence inside a string ends it (as the reference
     * regex does). */
    char *code;
    cr_expect_eq(extract("<code>\n```python\ns = 'x'\nprint(s)\n```\n</code>", &code), ROLLOUT_CODE_FOUND);
    cr_expect_str_eq(code, "s = 'x'\nprint(s)");
    free(code);
}

Test(toolcall, unclosed_fence_runs_to_code_close) {
    char *code;
    cr_expect_eq(extract("<code>\n```python\nprint(1)\n</code>", &code), ROLLOUT_CODE_FOUND);
    cr_expect_str_eq(code, "print(1)");
    free(code);
}

Test(toolcall, fence_with_suffix_and_crlf) {
    char *code;
    cr_expect_eq(extract("<code>```python3 \r\nx=1\r\nprint(x)\r\n```</code>", &code), ROLLOUT_CODE_FOUND);
    cr_expect_str_eq(code, "x=1\r\nprint(x)");
    free(code);
}

Test(toolcall, no_fence_and_no_open) {
    char *code;
    cr_expect_eq(extract("<code>print(1)</code>", &code), ROLLOUT_CODE_NO_FENCE);
    cr_expect_null(code);
    cr_expect_eq(extract("text </code>", &code), ROLLOUT_CODE_NO_OPEN);
    cr_expect_null(code);
}

Test(toolcall, close_tag_split_across_tokens_is_found_from_scan_point) {
    const char *t = "<code>\n```python\nprint(1)\n```\n</code>";
    size_t len = strlen(t);
    /* Pretend everything but the last 3 bytes was scanned before: the tag straddles the scan point. */
    cr_expect_eq(rollout_find_code_close(t, len, len - 3), len);
    cr_expect_eq(rollout_find_code_close(t, len - 1, len - 4), 0u);
}

Test(shape, ok_output_and_trailing_newlines) {
    rollout_shape_config c = rollout_shape_defaults();
    char *o = rollout_shape_output(&c, ROLLOUT_EXEC_OK, "408\n\n", "");
    cr_expect_str_eq(o, "408");
    free(o);
    o = rollout_shape_output(&c, ROLLOUT_EXEC_OK, NULL, NULL);
    cr_expect_str_eq(o, "");
    free(o);
}

Test(shape, error_keeps_stdout_and_last_traceback_line) {
    rollout_shape_config c = rollout_shape_defaults();
    const char *tb = "Traceback (most recent call last):\n  File \"<string>\", line 2, in <module>\n"
                     "ZeroDivisionError: division by zero\n";
    char *o = rollout_shape_output(&c, ROLLOUT_EXEC_ERROR, "partial\n", tb);
    cr_expect_str_eq(o, "partial\nZeroDivisionError: division by zero");
    free(o);
    c.stdout_with_error = 0;
    o = rollout_shape_output(&c, ROLLOUT_EXEC_ERROR, "partial\n", tb);
    cr_expect_str_eq(o, "ZeroDivisionError: division by zero");
    free(o);
}

Test(shape, timeout_and_sandbox_error) {
    rollout_shape_config c = rollout_shape_defaults();
    char *o = rollout_shape_output(&c, ROLLOUT_EXEC_TIMEOUT, "lots", "");
    cr_expect_str_eq(o, "Timeout Error");
    free(o);
    o = rollout_shape_output(&c, ROLLOUT_EXEC_SANDBOX_ERROR, NULL, "connection refused");
    cr_expect_str_eq(o, "SandboxError: connection refused");
    free(o);
}

Test(shape, truncation_counts_code_points) {
    char *o = rollout_truncate_middle("abcdefghij", 3, 2);
    cr_expect_str_eq(o, "abc...ij");
    free(o);
    o = rollout_truncate_middle("abcde", 3, 2);
    cr_expect_str_eq(o, "abcde");
    free(o);
    /* é is 2 bytes, € 3 bytes: cut by characters, never inside one. */
    o = rollout_truncate_middle("\xc3\xa9\xc3\xa9\xc3\xa9xyz\xe2\x82\xac\xe2\x82\xac", 2, 1);
    cr_expect_str_eq(o, "\xc3\xa9\xc3\xa9...\xe2\x82\xac");
    free(o);
    rollout_shape_config c = rollout_shape_defaults();
    char big[1001];
    for (int i = 0; i < 1000; i++) big[i] = (char)('a' + i % 26);
    big[1000] = '\0';
    o = rollout_shape_output(&c, ROLLOUT_EXEC_OK, big, NULL);
    cr_expect_eq(strlen(o), 403u);
    cr_expect_eq(strncmp(o, big, 200), 0);
    cr_expect_eq(strncmp(o + 200, "...", 3), 0);
    cr_expect_eq(strcmp(o + 203, big + 800), 0);
    free(o);
}

Test(shape, invalid_utf8_is_replaced) {
    rollout_shape_config c = rollout_shape_defaults();
    char *o = rollout_shape_output(&c, ROLLOUT_EXEC_OK, "a\xff" "b\xc3", NULL);
    cr_expect_str_eq(o, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    free(o);
}
