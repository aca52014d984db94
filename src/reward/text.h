/* Internal to reward/: the few string edits the normaliser and the sympy translator need. */
#ifndef RETOOL_REWARD_TEXT_H
#define RETOOL_REWARD_TEXT_H

#include <stddef.h>

/* A copy of s with every occurrence of from replaced by to (from is matched only when not followed by a letter if
 * whole_cmd is set, so "\left" does not match inside "\leftarrow"). NULL on allocation failure. Frees s. */
char *reward_replace(char *s, const char *from, const char *to, int whole_cmd);

/* The index just past the '}' matching the '{' at s[i], skipping escaped characters, or 0 when unbalanced. */
size_t reward_match_brace(const char *s, size_t i);

#endif
