/* HTML escaping of untrusted text (model output may hold anything): markup characters become entities, invalid
 * UTF-8 bytes and control characters become U+FFFD. */
#ifndef RETOOL_PIPELINE_HTML_H
#define RETOOL_PIPELINE_HTML_H

#include <stddef.h>

#include "pipeline/buf.h"

/* Appends len bytes of s to b, escaped for HTML text and attribute values (& < > " ' as entities; each byte of an
 * invalid UTF-8 sequence and each control character other than tab, newline and carriage return as U+FFFD). */
void pipe_html_escape(pipe_buf *b, const char *s, size_t len);

/* The same for a NUL-terminated string (NULL appends nothing). */
void pipe_html_escape_str(pipe_buf *b, const char *s);

#endif
