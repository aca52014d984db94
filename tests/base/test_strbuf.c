/* rt_strbuf: appends, printf, take/free. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

Test(strbuf, builds_text) {
    rt_strbuf b = {0};
    char *s = rt_strbuf_take(&b);
    cr_assert_str_eq(s, "");
    free(s);
    rt_strbuf_puts(&b, "ab");
    rt_strbuf_putc(&b, 'c');
    rt_strbuf_putn(&b, "defg", 2);
    for (int i = 0; i < 100; i++)
        rt_strbuf_printf(&b, "%d,", i);
    s = rt_strbuf_take(&b);
    cr_assert(strncmp(s, "abcde0,1,2,", 11) == 0);
    cr_assert_eq(strlen(s), 5 + 10 * 2 + 90 * 3);
    cr_assert(strcmp(s + strlen(s) - 3, "99,") == 0);
    free(s);
    cr_assert(b.s == NULL && b.len == 0);
    rt_strbuf_puts(&b, "x");
    rt_strbuf_free(&b);
    cr_assert(b.s == NULL);
}
