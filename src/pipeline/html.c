#include "pipeline/html.h"

#include <string.h>

#include "base/json.h"

#define REPLACEMENT "\xEF\xBF\xBD"

/* Length of the valid UTF-8 sequence starting at s[0] (at most len bytes), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t len) {
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || n > len) return 0;
    return rt_utf8_valid((const char *)s, n, NULL) ? n : 0;
}

void pipe_html_escape(pipe_buf *b, const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < len;) {
        const char *rep = NULL;
        size_t adv = 1;
        unsigned char c = u[i];
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
                rep = REPLACEMENT;
            } else if (c >= 0x80) {
                adv = utf8_seq(u + i, len - i);
                if (adv == 0) {
                    rep = REPLACEMENT;
                    adv = 1;
                }
            }
        }
        if (rep) {
            pipe_buf_append(b, s + run, i - run);
            pipe_buf_puts(b, rep);
            run = i + adv;
        }
        i += adv;
    }
    pipe_buf_append(b, s + run, len - run);
}

void pipe_html_escape_str(pipe_buf *b, const char *s) {
    if (s) pipe_html_escape(b, s, strlen(s));
}
