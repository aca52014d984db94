/* The interpreter block as it enters a response, in one place for the engine and for cold-start traces:
 * "\n<interpreter>\nOUTPUT\n</interpreter>\n\n" (no leading newline when the text before already ends with one).
 * The tags are encoded as the tokenizer encodes them; the output is untrusted text, encoded with no added token
 * matched, so a program cannot print its way into a tag token. */
#ifndef RETOOL_ROLLOUT_INTERP_H
#define RETOOL_ROLLOUT_INTERP_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rollout/ops.h"

/* Builds the block after text that does (after_newline) or does not end with a newline: its text (malloc'd) and ids
 * (malloc'd, *n of them). */
rt_status rollout_interp_block(const rollout_tokenizer *tok, int after_newline, const char *output, char **text,
                               int32_t **ids, size_t *n, rt_error *err);

#endif
