/* Internal to reward/: a growable string and the few string edits the normaliser and translators need. */
#ifndef RETOOL_REWARD_TEXT_H
#define RETOOL_REWARD_TEXT_H

#include <stddef.h>

typedef struct reward_buf {
    char *s;
    size_t len, cap;
    int oom; /* set once an allocation failed; the content is then incomplete */
} reward_buf;

/* Appends n bytes. */
void reward_buf_putn(reward_buf *b, const char *s, size_t n);
/* Appends a NUL-terminated string. */
void reward_buf_puts(reward_buf *b, const char *s);
/* Appends one byte. */
void reward_buf_putc(reward_buf *b, char c);
/* Returns the NUL-terminated content (caller frees) or NULL when an allocation failed (the buffer is freed). */
char *reward_buf_take(reward_buf *b);

/* A copy of s with every occurrence of from replaced by to (from is matched only when not followed by a letter if
 * whole_cmd is set, so "\left" does not match inside "\leftarrow"). NULL on allocation failure. Frees s. */
char *reward_replace(char *s, const char *from, const char *to, int whole_cmd);

/* The index just past the '}' matching the '{' at s[i], skipping escaped characters, or 0 when unbalanced. */
size_t reward_match_brace(const char *s, size_t i);

#endif
