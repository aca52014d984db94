#include "reward/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void reward_buf_putn(reward_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void reward_buf_puts(reward_buf *b, const char *s) {
    reward_buf_putn(b, s, strlen(s));
}

void reward_buf_putc(reward_buf *b, char c) {
    reward_buf_putn(b, &c, 1);
}

char *reward_buf_take(reward_buf *b) {
    if (b->oom) {
        free(b->s);
        b->s = NULL;
        return NULL;
    }
    if (!b->s) return calloc(1, 1);
    char *s = b->s;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

char *reward_replace(char *s, const char *from, const char *to, int whole_cmd) {
    if (!s) return NULL;
    size_t n = strlen(from);
    if (!strstr(s, from)) return s;
    reward_buf b = {0};
    for (size_t i = 0; s[i];) {
        if (strncmp(s + i, from, n) == 0 && !(whole_cmd && isalpha((unsigned char)s[i + n]))) {
            reward_buf_puts(&b, to);
            i += n;
        } else {
            reward_buf_putc(&b, s[i++]);
        }
    }
    free(s);
    return reward_buf_take(&b);
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
