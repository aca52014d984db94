/* Locating the final \boxed{...} answer in LaTeX text. It lives in data/ because the MATH reader needs it for the
 * boxed answer inside a reference solution; reward/ (a layer above) uses it to extract a model's answer. */
#ifndef RETOOL_DATA_BOXED_H
#define RETOOL_DATA_BOXED_H

#include <stddef.h>

/* Why data_boxed_last found no answer. */
typedef enum data_boxed_result {
    DATA_BOXED_FOUND = 0,
    DATA_BOXED_NONE,         /* no \boxed or \fbox in the text */
    DATA_BOXED_UNTERMINATED, /* the last \boxed{ has no matching } (e.g. a truncated generation) */
    DATA_BOXED_EMPTY,        /* the last box holds only white space */
} data_boxed_result;

/* Finds the last "\boxed{...}" or "\fbox{...}" in text[0..len) (braces nested, "\{" and "\}" escaped), or the
 * brace-less "\boxed X" form (X runs to the next '$' or newline, as the math-eval tools read it). On success sets
 * [*start, *end) to the content span, trimmed of white space. */
data_boxed_result data_boxed_last(const char *text, size_t len, size_t *start, size_t *end);

/* A short English description of a result ("no \\boxed{} found", ...). */
const char *data_boxed_result_name(data_boxed_result r);

#endif
