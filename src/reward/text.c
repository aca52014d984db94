
#include "reward/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

char *reward_replace(char *s, const char *from, const char *to, int whole_cmd) {
    if (!s) return NULL;
    size_t n = strlen(from);
    if (!strstr(s, from)) return s;
    rt_strbuf b = {0};
    for (size_t i = 0; s[i];) {
        if (strncmp(s + i, from, n) == 0 && !(whole_cmd && isalpha((unsigned char)s[i + n]))) {
            rt_strbuf_puts(&b, to);
            i += n;
        } else {
            rt_strbuf_putc(&b, s[i++]);
        }
    }
    free(s);
    return rt_strbuf_take(&b);
}

size_t reward_match_brace(const char *s, size_t i) {
    int depth = 0;
    for (size_t k = i; s[k]; k++) {
        if (s[k] == '\\' && s[k + 1]) {
            k++;
            continue;
        }
        if (s[k] == '{') depth++;
        if (s[k] == '}' && --depth == 0) return k + 1;
    }
    return 0;
}
