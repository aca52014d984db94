/* Prompt templates in the rollout layer: a user's choice (or none) resolved against the model folder's record, and
 * the prompt ids of each family checked against the tokenizer-level renderings and hand-listed Llama 3 ids. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tokenizer/tok_test_util.h" /* TT_QWEN3, TT_LLAMA3 (the macros only) */
#include "base/fileio.h"
#include "rollout/prompt.h"

static char dir[64];
static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/retool-prompt-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(prompt, .init = setup, .fini = teardown);

static void write_config(const char *json) {
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    rt_error e;
    cr_assert_eq(rt_file_write_atomic(path, json, strlen(json), &e), RT_OK, "%s", e.msg);
}

static rollout_template resolve(const char *folder, rollout_template want) {
    rollout_template got = (rollout_template)99;
    rt_error e;
    cr_assert_eq(rollout_template_resolve(folder, want, &got, &e), RT_OK, "%s", e.msg);
    return got;
}

Test(prompt, names_round_trip) {
    const char *names[] = {"auto", "chat", "plain", "chatml", "llama3"};
    rt_error e;
    for (size_t i = 0; i < 5; i++) {
        rollout_template t;
        cr_assert_eq(rollout_template_parse(names[i], &t, &e), RT_OK, "%s", e.msg);
        cr_expect_str_eq(rollout_template_name(t), names[i]);
    }
    rollout_template t;
    cr_expect_eq(rollout_template_parse("qwen", &t, &e), RT_EINVAL);
    cr_expect(strstr(e.msg, "'qwen'") && strstr(e.msg, "llama3"), "%s", e.msg);
}

Test(prompt, auto_is_what_the_folder_records) {
    /* retool's key */
    write_config("{\"retool_template\": \"plain\", \"chat_template\": \"{{ '<|im_start|>' }}\"}");
    cr_expect_eq(resolve(dir, ROLLOUT_TEMPLATE_AUTO), ROLLOUT_TEMPLATE_PLAIN);
    write_config("{\"retool_template\": \"llama3\"}");
    cr_expect_eq(resolve(dir, ROLLOUT_TEMPLATE_AUTO), ROLLOUT_TEMPLATE_LLAMA3);
    /* Hugging Face folders: the family of their chat_template */
    cr_expect_eq(resolve(TT_QWEN3, ROLLOUT_TEMPLATE_AUTO), ROLLOUT_TEMPLATE_CHATML);
    cr_expect_eq(resolve(TT_LLAMA3, ROLLOUT_TEMPLATE_AUTO), ROLLOUT_TEMPLATE_LLAMA3);
    /* an explicit choice is kept whatever the folder says */
    cr_expect_eq(resolve(TT_LLAMA3, ROLLOUT_TEMPLATE_PLAIN), ROLLOUT_TEMPLATE_PLAIN);
    cr_expect_eq(resolve(TT_LLAMA3, ROLLOUT_TEMPLATE_CHATML), ROLLOUT_TEMPLATE_CHATML);
    /* chat: the folder's chat family, else left to the tokenizer's markers */
    cr_expect_eq(resolve(TT_LLAMA3, ROLLOUT_TEMPLATE_CHAT), ROLLOUT_TEMPLATE_LLAMA3);
    cr_expect_eq(resolve(TT_QWEN3, ROLLOUT_TEMPLATE_CHAT), ROLLOUT_TEMPLATE_CHATML);
    write_config("{\"retool_template\": \"plain\"}");
    cr_expect_eq(resolve(dir, ROLLOUT_TEMPLATE_CHAT), ROLLOUT_TEMPLATE_CHAT);
}

Test(prompt, auto_without_a_known_template_is_an_error_naming_the_file) {
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    const char *bad[] = {"{\"chat_template\": \"### Instruction:\\n{{ messages[0]['content'] }}\\n### Response:\"}",
                         "{\"bos_token\": \"<s>\"}", NULL};
    for (size_t i = 0; i < 3; i++) {
        if (bad[i])
            write_config(bad[i]);
        else
            unlink(path); /* no tokenizer_config.json at all */
        rollout_template got;
        rt_error e;
        rt_err_clear(&e);
        cr_expect_neq(rollout_template_resolve(dir, ROLLOUT_TEMPLATE_AUTO, &got, &e), RT_OK, "case %zu", i);
        cr_expect(strstr(e.msg, path) && strstr(e.msg, "--template"), "case %zu: %s", i, e.msg);
    }
}

Test(prompt, each_family_renders_one_user_message_with_the_instructions) {
    const char *problem = "What is 6*7?";
    char user[2048];
    snprintf(user, sizeof user, "%s\n\nProblem: %s", rollout_instructions(1), problem);
    tok_message m = {"user", user};
    const char *folders[] = {TT_QWEN3, TT_LLAMA3};
    const rollout_template fam[] = {ROLLOUT_TEMPLATE_CHATML, ROLLOUT_TEMPLATE_LLAMA3};
    for (size_t f = 0; f < 2; f++) {
        tok_tokenizer *tok;
        rt_error e;
        cr_assert_eq(tok_load(folders[f], &tok, &e), RT_OK, "%s", e.msg);
        tok_ids got = {0}, chat = {0}, want = {0};
        cr_assert_eq(rollout_prompt_ids(tok, fam[f], 1, problem, &got, &e), RT_OK, "%s", e.msg);
        if (f == 0)
            cr_assert_eq(tok_chat_encode(tok, &m, 1, 1, 0, &want, &e), RT_OK, "%s", e.msg);
        else
            cr_assert_eq(tok_llama3_encode(tok, &m, 1, 1, 0, &want, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(got.len, want.len);
        cr_expect_eq(memcmp(got.ids, want.ids, got.len * sizeof(int32_t)), 0);
        /* chat resolves to the tokenizer's family */
        cr_assert_eq(rollout_prompt_ids(tok, ROLLOUT_TEMPLATE_CHAT, 1, problem, &chat, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(chat.len, want.len);
        cr_expect_eq(memcmp(chat.ids, want.ids, chat.len * sizeof(int32_t)), 0);
        if (f == 1) { /* Llama 3: BOS first, the assistant header and "\n\n" last (ids of the reference vocabulary) */
            static const int32_t tail[] = {128009, 128006, 78191, 128007, 271};
            cr_expect_eq(got.ids[0], 128000);
            cr_expect_eq(memcmp(got.ids + got.len - 5, tail, sizeof tail), 0);
        }
        /* an unresolved template is refused, not guessed */
        tok_ids none = {0};
        cr_expect_eq(rollout_prompt_ids(tok, ROLLOUT_TEMPLATE_AUTO, 1, problem, &none, &e), RT_EINVAL);
        cr_expect(strstr(e.msg, "rollout_template_resolve") != NULL, "%s", e.msg);
        tok_ids_free(&got);
        tok_ids_free(&chat);
        tok_ids_free(&want);
        tok_ids_free(&none);
        tok_free(tok);
    }
}
