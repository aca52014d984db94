#include <stdlib.h>
#include <string.h>

#include "data/boxed.h"
#include "reward/reward.h"

/* The last occurrence of needle in [s, end), or NULL. */
static const char *last_of(const char *s, const char *end, const char *needle) {
    const char *hit = NULL;
    size_t n = strlen(needle);
    for (const char *p = s; p + n <= end; p++)
        if (memcmp(p, needle, n) == 0) hit = p;
    return hit;
}

rt_status reward_extract(const char *response, char **answer, rt_error *err) {
    *answer = NULL;
    const char *s = response, *end = response + strlen(response);
    const char *open = last_of(s, end, "<answer>");
    if (open) {
        s = open + strlen("<answer>");
        const char *close = strstr(s, "</answer>");
        if (close) end = close;
    }
    size_t a, b;
    data_boxed_result r = data_boxed_last(s, (size_t)(end - s), &a, &b);
    if (r != DATA_BOXED_FOUND)
        return rt_err_set(err, RT_ENOTFOUND, "no answer: %s%s", data_boxed_result_name(r),
                          open ? " inside the last <answer> block" : "");
    *answer = strndup(s + a, b - a);
    if (!*answer) return rt_err_set(err, RT_ENOMEM, "extracting an answer: out of memory");
    return RT_OK;
}
