#include "rollout/toolcall.h"

#include <stdlib.h>
#include <string.h>

#include "rollout/protocol.h"

static const char *mem_rfind(const char *hay, size_t len, const char *needle) {
    size_t n = strlen(needle);
    if (n > len) return NULL;
    for (size_t i = len - n + 1; i-- > 0;)
        if (memcmp(hay + i, needle, n) == 0) return hay + i;
    return NULL;
}

size_t rollout_find_code_close(const char *text, size_t len, size_t from) {
    size_t tag = strlen(ROLLOUT_CODE_CLOSE);
    size_t start = from >= tag ? from - tag + 1 : 0; /* a new tag ends after from */
    if (start >= len) return 0;
    const char *hit = memmem(text + start, len - start, ROLLOUT_CODE_CLOSE, tag);
    return hit ? (size_t)(hit - text) + tag : 0;
}

rollout_code_status rollout_extract_code(const char *text, size_t close_end, char **code) {
    *code = NULL;
    size_t close_len = strlen(ROLLOUT_CODE_CLOSE);
    size_t body_end = close_end - close_len; /* where "</code>" starts */
    const char *open = mem_rfind(text, body_end, ROLLOUT_CODE_OPEN);
    if (!open) return ROLLOUT_CODE_NO_OPEN;
    const char *body = open + strlen(ROLLOUT_CODE_OPEN);
    size_t body_len = (size_t)(text + body_end - body);
    const char *fence = mem_rfind(body, body_len, ROLLOUT_PY_FENCE);
    if (!fence) return ROLLOUT_CODE_NO_FENCE;
    const char *start = fence + strlen(ROLLOUT_PY_FENCE);
    const char *end = body + body_len;
    /* The rest of the fence line (e.g. "python3" or spaces) is not code. */
    const char *nl = memchr(start, '\n', (size_t)(end - start));
    start = nl ? nl + 1 : end;
    const char *closing = memmem(start, (size_t)(end - start), ROLLOUT_FENCE, strlen(ROLLOUT_FENCE));
    if (closing) end = closing;
    while (end > start && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t')) end--;
    *code = strndup(start, (size_t)(end - start));
    return *code ? ROLLOUT_CODE_FOUND : ROLLOUT_CODE_NOMEM;
}
