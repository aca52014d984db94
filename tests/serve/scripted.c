#include "scripted.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Scripts by keyword in the prompt (first match wins). */
static const char *const keys[] = {"repair", "fail", "twice", "sleep", "seeded", "long", "slowly", "tool", NULL};
static const char *const scripts[] = {
    "Try.\n<code>\n```python\nraise ValueError('bad')\n```\n</code>Fix.\n<code>\n```python\nprint(2)\n```\n</code>"
    "<answer>\n\\boxed{2}\n</answer>",
    "Try.\n<code>\n```python\nraise ValueError('bad')\n```\n</code>Anyway <answer>\n\\boxed{1}\n</answer>",
    "A.\n<code>\n```python\nprint(1)\n```\n</code>B.\n<code>\n```python\nprint(2)\n```\n</code>"
    "<answer>\n\\boxed{3}\n</answer>",
    "Wait.\n<code>\n```python\nimport time\ntime.sleep(20)\n```\n</code><answer>\n\\boxed{5}\n</answer>",
    NULL, /* seeded: built per sequence from its seed */
    NULL, /* long: never ends */
    "Let me compute.\n<code>\n```python\nprint(6*7)\n```\n</code>So <answer>\n\\boxed{42}\n</answer>", /* 2 ms/token */
    "Let me compute.\n<code>\n```python\nprint(6*7)\n```\n</code>So <answer>\n\\boxed{42}\n</answer>",
};

typedef struct seq {
    int live;
    char script[256];
    int endless;
    int slow;
    size_t pos;
} seq;

static seq seqs[SCRIPTED_MAX_SEQS];
static size_t opened;
static float last_temp;

static rt_status s_open(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling, uint64_t seed,
                        int64_t *out, rt_error *err) {
    (void)ctx;
    char text[512];
    size_t m = n < sizeof text - 1 ? n : sizeof text - 1;
    for (size_t i = 0; i < m; i++) text[i] = (char)prompt[i];
    text[m] = 0;
    for (int64_t i = 0; i < SCRIPTED_MAX_SEQS; i++) {
        if (seqs[i].live) continue;
        seq *s = &seqs[i];
        memset(s, 0, sizeof *s);
        s->live = 1;
        const char *script = "<answer>\n\\boxed{7}\n</answer>";
        for (int k = 0; keys[k]; k++) {
            if (!strstr(text, keys[k])) continue;
            if (!strcmp(keys[k], "seeded")) {
                snprintf(s->script, sizeof s->script, "<answer>\n\\boxed{%d}\n</answer>", (int)(seed % 3));
                script = NULL;
            } else if (!strcmp(keys[k], "slowly")) {
                s->slow = 1;
                script = scripts[k];
            } else if (!strcmp(keys[k], "long")) {
                s->endless = 1;
                script = "";
            } else {
                script = scripts[k];
            }
            break;
        }
        if (script) snprintf(s->script, sizeof s->script, "%s", script);
        opened++;
        last_temp = sampling->temperature;
        *out = i;
        return RT_OK;
    }
    return rt_err_set(err, RT_EBUSY, "scripted policy: all sequences live");
}

static rt_status s_append(void *ctx, int64_t q, const int32_t *ids, size_t n, rt_error *err) {
    (void)ctx;
    (void)q;
    (void)ids;
    (void)n;
    (void)err;
    return RT_OK;
}

static rt_status s_step(void *ctx, const int64_t *q, size_t n, int32_t *tokens, float *logprobs, rt_error *err) {
    (void)ctx;
    (void)err;
    int slow = 0;
    for (size_t i = 0; i < n; i++) slow |= seqs[q[i]].slow;
    if (slow) usleep(2000);
    for (size_t i = 0; i < n; i++) {
        seq *s = &seqs[q[i]];
        size_t len = strlen(s->script);
        tokens[i] = s->endless ? 'x' : s->pos < len ? (unsigned char)s->script[s->pos] : SCRIPTED_EOS;
        s->pos++;
        logprobs[i] = 0;
    }
    return RT_OK;
}

static void s_close(void *ctx, int64_t q) {
    (void)ctx;
    seqs[q].live = 0;
}

static rt_status t_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, rt_error *err) {
    (void)ctx;
    *ids = malloc((len ? len : 1) * sizeof **ids);
    if (!*ids) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) (*ids)[i] = (unsigned char)text[i];
    *n = len;
    return RT_OK;
}

static size_t t_bytes(void *ctx, int32_t id, char *buf, size_t cap) {
    (void)ctx;
    if (id >= 256) return 0;
    if (cap) buf[0] = (char)id;
    return 1;
}

static rt_status prompt(void *ctx, const serve_message *msgs, size_t n, int32_t **ids, size_t *n_ids, rt_error *err) {
    const char *c = msgs[n - 1].content;
    return t_encode(ctx, c, strlen(c), ids, n_ids, err);
}

static const int32_t stops[] = {SCRIPTED_EOS};

serve_backend scripted_backend(void) {
    memset(seqs, 0, sizeof seqs);
    opened = 0;
    serve_backend b = {.policy = {.open = s_open, .append = s_append, .step = s_step, .close = s_close},
                       .tok = {.encode = t_encode, .token_bytes = t_bytes},
                       .max_seqs = SCRIPTED_MAX_SEQS,
                       .stop_ids = stops,
                       .n_stop_ids = 1,
                       .context_len = 4096,
                       .prompt = prompt};
    return b;
}

size_t scripted_opened(void) { return opened; }
float scripted_last_temperature(void) { return last_temp; }
