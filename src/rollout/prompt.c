#include "rollout/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rt_status rollout_template_parse(const char *name, rollout_template *out, rt_error *err) {
    if (strcmp(name, "chat") == 0) *out = ROLLOUT_TEMPLATE_CHAT;
    else if (strcmp(name, "plain") == 0) *out = ROLLOUT_TEMPLATE_PLAIN;
    else return rt_err_set(err, RT_EINVAL, "unknown prompt template '%s' (chat or plain)", name);
    return RT_OK;
}

const char *rollout_instructions(int tools) {
    if (tools)
        return "Solve the problem step by step. You may write complete Python scripts inside <code> blocks, as "
               "<code>\n```python\n...\n```\n</code>; each one is run and its output comes back inside <interpreter> "
               "... </interpreter>. Use the results to reason further. Put the final answer at the end as "
               "<answer>\n\\boxed{...}\n</answer>.";
    return "Solve the problem step by step. Put the final answer at the end as <answer>\n\\boxed{...}\n</answer>.";
}

rt_status rollout_prompt_ids(tok_tokenizer *tok, rollout_template t, int tools, const char *problem, tok_ids *out,
                             rt_error *err) {
    if (t == ROLLOUT_TEMPLATE_PLAIN) {
        /* One string: encoding "problem" and "\n" apart would split a merge such as ".\n" that training data has. */
        size_t n = strlen(problem);
        char *text = malloc(n + 2);
        if (!text) return rt_err_set(err, RT_ENOMEM, "out of memory");
        memcpy(text, problem, n);
        text[n] = '\n';
        text[n + 1] = '\0';
        rt_status st = tok_encode(tok, text, n + 1, TOK_ENCODE_NO_SPECIAL, out, err);
        free(text);
        return st;
    }
    const char *ins = rollout_instructions(tools);
    size_t n = strlen(ins) + strlen(problem) + 32;
    char *text = malloc(n);
    if (!text) return rt_err_set(err, RT_ENOMEM, "out of memory");
    snprintf(text, n, "%s\n\nProblem: %s", ins, problem);
    tok_message m = {.role = "user", .content = text};
    rt_status st = tok_chat_encode(tok, &m, 1, 1, 0, out, err);
    free(text);
    return st;
}
