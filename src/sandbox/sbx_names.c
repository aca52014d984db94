/* The one rule for file names that cross into or out of a run's work dir (checked by the pool before a job leaves,
 * again by the zygote where it writes or fetches them). */
#include <string.h>

#include "sandbox/sbx_internal.h"

int sbx_name_ok(const char *name) {
    if (!name || !*name || name[0] == '/' || strlen(name) > 255) return 0;
    const char *s = name;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
        s += n;
        if (*s == '/') s++;
        if (e && !*s) return 0;
    }
    return 1;
}
