/* error: messages, errno text, prefixes, truncation of over-long context. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/error.h"

Test(error, set_and_prefix) {
    rt_error e;
    cr_expect_eq(rt_err_set(&e, RT_EFORMAT, "field '%s': expected %s", "lr", "a number"), RT_EFORMAT);
    cr_expect_str_eq(e.msg, "field 'lr': expected a number");
    cr_expect_eq(rt_err_prefix(&e, "%s:%d", "config.json", 3), RT_EFORMAT);
    cr_expect_str_eq(e.msg, "config.json:3: field 'lr': expected a number");
    rt_err_clear(&e);
    cr_expect_eq(e.status, RT_OK);
    cr_expect_str_eq(e.msg, "");
}

Test(error, errno_text_appended) {
    rt_error e;
    rt_err_errno(&e, RT_EIO, ENOENT, "cannot open %s", "x.json");
    cr_expect_str_eq(e.msg, "cannot open x.json: No such file or directory");
}

Test(error, null_error_is_allowed) {
    cr_expect_eq(rt_err_set(NULL, RT_EINVAL, "ignored"), RT_EINVAL);
}

Test(error, long_prefix_is_truncated_not_overflowed) {
    rt_error e;
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rt_err_set(&e, RT_EIO, "%s", big);
    cr_expect_eq(strlen(e.msg), RT_ERROR_MSG_MAX - 1);
    rt_err_prefix(&e, "%s", big);
    cr_expect_eq(strlen(e.msg), RT_ERROR_MSG_MAX - 1);
    rt_err_set(&e, RT_EIO, "tail");
    rt_err_prefix(&e, "%s", big);
    cr_expect_eq(strlen(e.msg), RT_ERROR_MSG_MAX - 1);
    cr_expect_eq(e.msg[RT_ERROR_MSG_MAX - 3], ':');
}

Test(error, every_status_has_a_name) {
    for (int s = RT_OK; s <= RT_EINTERNAL; s++) cr_expect_str_neq(rt_status_name((rt_status)s), "unknown status");
}
