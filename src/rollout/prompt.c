#include "rollout/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"auto", "chat", "plain", "chatml", "llama3"};

rt_status rollout_template_parse(const char *name, rollout_template *out, rt_error *err) {
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (rollout_template)i;
            return RT_OK;
        }
    return rt_err_set(err, RT_EINVAL, "unknown prompt template '%s' (auto, chat, plain, chatml or llama3)",
                      name ? name : "");
}

const char *rollout_template_name(rollout_template t) {
    return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static rollout_template from_tok(tok_template t) {
    return t == TOK_TEMPLATE_PLAIN    ? ROLLOUT_TEMPLATE_PLAIN
           : t == TOK_TEMPLATE_LLAMA3 ? ROLLOUT_TEMPLATE_LLAMA3
                                      : ROLLOUT_TEMPLATE_CHATML;
}

rt_status rollout_template_resolve(const char *dir, rollout_template requested, rollout_template *out, rt_error *err) {
    tok_template t;
    if (requested == ROLLOUT_TEMPLATE_AUTO) {
        if (tok_template_read(dir, &t, err)) return err->status;
        *out = from_tok(t);
        return RT_OK;
    }
    if (requested == ROLLOUT_TEMPLATE_CHAT) {
        rt_error ignored;
        rt_err_clear(&ignored);
        *out = tok_template_read(dir, &t, &ignored) == RT_OK && t != TOK_TEMPLATE_PLAIN ? from_tok(t)
                                                                                        : ROLLOUT_TEMPLATE_CHAT;
        return RT_OK;
    }
    *out = requested;
    return RT_OK;
}

rt_status rollout_template_family(const tok_tokenizer *tok, rollout_template t, tok_template *out, rt_error *err) {
    switch (t) {
    case ROLLOUT_TEMPLATE_PLAIN:
        *out = TOK_TEMPLATE_PLAIN;
        return RT_OK;
    case ROLLOUT_TEMPLATE_CHATML:
        *out = TOK_TEMPLATE_CHATML;
        return RT_OK;
    case ROLLOUT_TEMPLATE_LLAMA3:
        *out = TOK_TEMPLATE_LLAMA3;
        return RT_OK;
    case ROLLOUT_TEMPLATE_CHAT:
        if (tok_token_id(tok, "<|im_start|>") >= 0)
            *out = TOK_TEMPLATE_CHATML;
        else if (tok_token_id(tok, "<|start_header_id|>") >= 0)
            *out = TOK_TEMPLATE_LLAMA3;
        else
            return rt_err_set(err, RT_ENOTFOUND,
                              "chat template: the tokenizer has neither <|im_start|> (ChatML) nor <|start_header_id|> "
                              "(Llama 3); use the plain template");
        return RT_OK;
    case ROLLOUT_TEMPLATE_AUTO:
        break;
    }
    return rt_err_set(err, RT_EINVAL, "prompt template '%s' is not resolved (rollout_template_resolve)",
                      rollout_template_name(t));
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
    tok_template family;
    if (rollout_template_family(tok, t, &family, err)) return err->status;
    if (family == TOK_TEMPLATE_PLAIN) {
        /* One string: encoding "problem" and "\n" apart would split a merge such as ".\n" that training data has. */
        tok_message m = {.role = "user", .content = problem};
        return tok_template_encode(tok, family, &m, 1, 1, 0, out, err);
    }
    const char *ins = rollout_instructions(tools);
    size_t n = strlen(ins) + strlen(problem) + 32;
    char *text = malloc(n);
    if (!text) return rt_err_set(err, RT_ENOMEM, "out of memory");
    snprintf(text, n, "%s\n\nProblem: %s", ins, problem);
    tok_message m = {.role = "user", .content = text};
    rt_status st = tok_template_encode(tok, family, &m, 1, 1, 0, out, err);
    free(text);
    return st;
}
