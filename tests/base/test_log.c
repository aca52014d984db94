/* log: level filtering, level names, line format. */
#include <criterion/criterion.h>
#include <regex.h>

#include "base/log.h"

Test(log, filters_by_level_and_formats_lines) {
    char *mem = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&mem, &len);
    rt_log_set_stream(out);
    rt_log_set_level(RT_LOG_WARN);
    rt_log_info("hidden %d", 1);
    rt_log_warn("shown %d", 2);
    rt_log_error("also shown");
    rt_log_set_stream(NULL);
    fclose(out);
    cr_expect_null(strstr(mem, "hidden"));
    regex_t re;
    cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z WARN  shown 2\n"
                              "[0-9T:.Z-]+ ERROR also shown\n$",
                         REG_EXTENDED),
                 0);
    cr_expect_eq(regexec(&re, mem, 0, NULL, 0), 0, "got: %s", mem);
    regfree(&re);
    free(mem);
}

Test(log, parse_level_names) {
    rt_log_level l;
    cr_expect_eq(rt_log_parse_level("debug", &l), 0);
    cr_expect_eq(l, RT_LOG_DEBUG);
    cr_expect_eq(rt_log_parse_level("WARN", &l), 0);
    cr_expect_eq(l, RT_LOG_WARN);
    cr_expect_eq(rt_log_parse_level("off", &l), 0);
    cr_expect_eq(l, RT_LOG_OFF);
    cr_expect_eq(rt_log_parse_level("verbose", &l), -1);
    rt_log_set_level(RT_LOG_ERROR);
    cr_expect_eq(rt_log_get_level(), RT_LOG_ERROR);
}
