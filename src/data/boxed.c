#include "data/boxed.h"

#include <ctype.h>
#include <string.h>

/* The start of the last occurrence of needle in text[0..len) that is not followed by a letter, or -1. */
static long last_command(const char *text, size_t len, const char *needle) {
    size_t n = strlen(needle);
    if (len < n) return -1;
    for (size_t i = len - n + 1; i-- > 0;) {
        if (memcmp(text + i, needle, n) != 0) continue;
        if (i + n < len && isalpha((unsigned char)text[i + n])) continue; /* e.g. \boxedfoo is another macro */
        return (long)i;
    }
    return -1;
}

static void trim(const char *text, size_t *start, size_t *end) {
    while (*start < *end && isspace((unsigned char)text[*start]))
        (*start)++;
    while (*end > *start && isspace((unsigned char)text[*end - 1]))
        (*end)--;
}

data_boxed_result data_boxed_last(const char *text, size_t len, size_t *start, size_t *end) {
    long b = last_command(text, len, "\\boxed");
    long f = last_command(text, len, "\\fbox");
    if (b < 0 && f < 0) return DATA_BOXED_NONE;
    size_t i = (b > f) ? (size_t)b + strlen("\\boxed") : (size_t)f + strlen("\\fbox");
    size_t j = i;
    while (j < len && (text[j] == ' ' || text[j] == '\t'))
        j++;
    if (j < len && text[j] == '{') {
        int depth = 0;
        size_t k = j;
        for (; k < len; k++) {
            char c = text[k];
            if (c == '\\' && k + 1 < len) {
                k++; /* an escaped character (\{, \}, \\) never opens or closes a group */
                continue;
            }
            if (c == '{') depth++;
            if (c == '}' && --depth == 0) break;
        }
        if (k >= len) return DATA_BOXED_UNTERMINATED;
        *start = j + 1;
        *end = k;
    } else if (j > i && j < len) {
        /* "\boxed 42$": the math-eval form without braces. */
        size_t k = j;
        while (k < len && text[k] != '$' && text[k] != '\n')
            k++;
        *start = j;
        *end = k;
    } else {
        return DATA_BOXED_UNTERMINATED;
    }
    trim(text, start, end);
    return *start < *end ? DATA_BOXED_FOUND : DATA_BOXED_EMPTY;
}

const char *data_boxed_result_name(data_boxed_result r) {
    switch (r) {
    case DATA_BOXED_FOUND:
        return "found";
    case DATA_BOXED_NONE:
        return "no \\boxed{} found";
    case DATA_BOXED_UNTERMINATED:
        return "the last \\boxed{ is not closed";
    case DATA_BOXED_EMPTY:
        return "the last \\boxed{} is empty";
    }
    return "unknown";
}
