/* progress: the bar's text (rate, percentage, ETA) for known values; line mode output; durations. */
#include <criterion/criterion.h>

#include "base/progress.h"

Test(progress, format_known_values) {
    rt_progress p;
    rt_progress_init(&p, "train", 100, "steps");
    p.done = 50;
    char buf[256];
    rt_progress_format(&p, 10.0, buf, sizeof buf);
    /* 50 steps in 10 s: 5 steps/s; 50 left: ETA 10 s; half the 24-cell bar filled. */
    cr_expect(strstr(buf, "train [############............] 50/100 steps  50.0% 5.0 steps/s") != NULL, "%s", buf);
    cr_expect(strstr(buf, "elapsed 10.0s eta 10.0s") != NULL, "%s", buf);
}

Test(progress, unknown_total) {
    rt_progress p;
    rt_progress_init(&p, "gen", 0, "tok");
    p.done = 300;
    char buf[256];
    rt_progress_format(&p, 120.0, buf, sizeof buf);
    cr_expect_str_eq(buf, "gen 300 tok 2.5 tok/s elapsed 2m00s");
}

Test(progress, durations) {
    char b[32];
    rt_format_duration(3725, b, sizeof b);
    cr_expect_str_eq(b, "1h02m");
    rt_format_duration(65.4, b, sizeof b);
    cr_expect_str_eq(b, "1m05s");
    rt_format_duration(0.25, b, sizeof b);
    cr_expect_str_eq(b, "0.2s");
    rt_format_duration(-1, b, sizeof b);
    cr_expect_str_eq(b, "?");
}

Test(progress, line_mode_prints_lines_not_carriage_returns) {
    char *mem = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&mem, &len);
    rt_progress p;
    rt_progress_init(&p, "x", 3, "it");
    rt_progress_set_output(&p, out, 0);
    p.line_interval = 0; /* every update prints */
    rt_progress_update(&p, 1);
    rt_progress_update(&p, 3);
    rt_progress_finish(&p);
    fclose(out);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += mem[i] == '\n';
    cr_expect_eq(lines, 3);
    cr_expect(strstr(mem, "1/3 it") != NULL, "%s", mem);
    cr_expect_null(strchr(mem, '\r'));
    cr_expect(strstr(mem, "3/3 it 100.0%") != NULL, "%s", mem);
    free(mem);
}

Test(progress, tty_mode_redraws_in_place) {
    char *mem = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&mem, &len);
    rt_progress p;
    rt_progress_init(&p, "x", 2, "it");
    rt_progress_set_output(&p, out, 1);
    rt_progress_update(&p, 1);
    rt_progress_finish(&p);
    fclose(out);
    cr_expect(mem[0] == '\r', "starts with a carriage return");
    cr_expect_eq(mem[len - 1], '\n');
    free(mem);
}
