/* Finding tool calls in generated text: where a code block closes, and which code it holds. */
#ifndef RETOOL_ROLLOUT_TOOLCALL_H
#define RETOOL_ROLLOUT_TOOLCALL_H

#include <stddef.h>

typedef enum rollout_code_status {
    ROLLOUT_CODE_FOUND = 0,   /* code extracted from the last ```python fence */
    ROLLOUT_CODE_NO_FENCE,    /* a <code> ... </code> block without a ```python fence */
    ROLLOUT_CODE_NO_OPEN,     /* </code> with no <code> before it in the segment */
    ROLLOUT_CODE_NOMEM,       /* the code was found but could not be copied (out of memory) */
} rollout_code_status;

/* Finds the first ROLLOUT_CODE_CLOSE that ends after offset from (text before from was searched already; a tag split
 * across tokens straddles from); returns the offset just past the tag, or 0 when there is none. */
size_t rollout_find_code_close(const char *text, size_t len, size_t from);

/* Extracts the code of the block that ends at text[0, close_end) (close_end is just past "</code>"): the text after
 * the last "```python" fence inside the last "<code>", up to the closing ``` fence (or "</code>" when the fence is
 * unclosed), with the newline after the fence and trailing whitespace removed. *code is malloc'd on FOUND and NULL
 * otherwise (NOMEM when the copy failed). */
rollout_code_status rollout_extract_code(const char *text, size_t close_end, char **code);

#endif
