/* The capped request body: pieces append in order and stay NUL-terminated; passing the cap drops everything, marks
 * the body too large and ignores what follows; exactly reaching the cap is allowed. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/body.h"

Test(body, appends_until_the_cap) {
    rt_body b = {0};
    cr_assert_eq(rt_body_append(&b, "ab", 2, 5), 0);
    cr_assert_eq(rt_body_append(&b, "cde", 3, 5), 0);
    cr_expect_eq(b.len, 5u);
    cr_expect_str_eq(b.buf, "abcde", "exactly at the cap is kept");
    cr_expect_eq(b.too_large, 0);
    cr_assert_eq(rt_body_append(&b, "f", 1, 5), 0);
    cr_expect(b.too_large, "one byte over the cap");
    cr_expect_null(b.buf);
    cr_expect_eq(b.len, 0u);
    cr_assert_eq(rt_body_append(&b, "g", 1, 5), 0);
    cr_expect_null(b.buf, "nothing is gathered once too large");
    rt_body_free(&b);
}

Test(body, many_small_pieces) {
    rt_body b = {0};
    char want[3001];
    for (int i = 0; i < 3000; i++) {
        char c = (char)('a' + i % 26);
        want[i] = c;
        cr_assert_eq(rt_body_append(&b, &c, 1, 1 << 20), 0);
    }
    want[3000] = 0;
    cr_expect_eq(b.len, 3000u);
    cr_expect_str_eq(b.buf, want);
    rt_body_free(&b);
    cr_expect_null(b.buf);
}
