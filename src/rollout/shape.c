#include "rollout/shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "rollout/protocol.h"

rollout_shape_config rollout_shape_defaults(void) {
    rollout_shape_config c = {.head_chars = 200, .tail_chars = 200, .stdout_with_error = 1};
    return c;
}

static const char *const status_names[] = {"ok", "error", "timeout", "sandbox_error"};

const char *rollout_exec_status_name(rollout_exec_status status) {
    return (unsigned)status < 4 ? status_names[status] : "unknown";
}

int rollout_exec_status_parse(const char *name, rollout_exec_status *out) {
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (rollout_exec_status)i;
            return 0;
        }
    }
    return -1;
}

char *rollout_last_line(const char *text) {
    if (!text) return strdup("");
    size_t end = strlen(text);
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ')) end--;
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n') start--;
    return strndup(text + start, end - start);
}

/* Byte offset of code point number k in s (or strlen(s) when s is shorter). */
static size_t utf8_offset(const char *s, size_t len, size_t k) {
    size_t i = 0;
    while (i < len && k > 0) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        k--;
    }
    return i;
}

static size_t utf8_count(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

char *rollout_truncate_middle(const char *text, size_t head, size_t tail) {
    size_t len = strlen(text);
    size_t chars = utf8_count(text, len);
    if (chars <= head + tail) return strdup(text);
    size_t head_end = utf8_offset(text, len, head);
    size_t tail_start = utf8_offset(text, len, chars - tail);
    size_t out_len = head_end + 3 + (len - tail_start);
    char *out = malloc(out_len + 1);
    if (!out) return NULL;
    memcpy(out, text, head_end);
    memcpy(out + head_end, "...", 3);
    memcpy(out + head_end + 3, text + tail_start, len - tail_start);
    out[out_len] = '\0';
    return out;
}

char *rollout_utf8_sanitize(const char *text) {
    size_t len = strlen(text), bad;
    if (rt_utf8_valid(text, len, &bad)) return strdup(text);
    /* Each invalid byte becomes U+FFFD (3 bytes). */
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        size_t rest = len - i, at;
        if (rt_utf8_valid(text + i, rest, &at)) at = rest;
        memcpy(out + o, text + i, at);
        o += at;
        i += at;
        if (i < len) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

char *rollout_shape_output(const rollout_shape_config *cfg, rollout_exec_status status, const char *out,
                           const char *err) {
    char *full = NULL;
    if (status == ROLLOUT_EXEC_TIMEOUT) {
        full = strdup(ROLLOUT_MSG_TIMEOUT);
    } else if (status == ROLLOUT_EXEC_OK) {
        full = strdup(out ? out : "");
    } else {
        char *line = rollout_last_line(err && *err ? err : (status == ROLLOUT_EXEC_SANDBOX_ERROR ? "SandboxError" : ""));
        if (!line) return NULL;
        if (status == ROLLOUT_EXEC_SANDBOX_ERROR && strncmp(line, "SandboxError", 12) != 0) {
            size_t n = strlen(line) + 16;
            char *tagged = malloc(n);
            if (tagged) snprintf(tagged, n, "SandboxError: %s", line);
            free(line);
            line = tagged;
            if (!line) return NULL;
        }
        const char *so = cfg->stdout_with_error && out ? out : "";
        size_t n = strlen(so) + strlen(line) + 2;
        full = malloc(n);
        if (full) {
            size_t sl = strlen(so);
            int sep = sl > 0 && so[sl - 1] != '\n';
            snprintf(full, n, "%s%s%s", so, sep ? "\n" : "", line);
        }
        free(line);
    }
    if (!full) return NULL;
    /* Drop trailing newlines: the block adds its own. */
    size_t fl = strlen(full);
    while (fl > 0 && full[fl - 1] == '\n') full[--fl] = '\0';
    char *clean = rollout_utf8_sanitize(full);
    free(full);
    if (!clean) return NULL;
    char *cut = rollout_truncate_middle(clean, cfg->head_chars, cfg->tail_chars);
    free(clean);
    return cut;
}
