/* The model backend of `retool serve` prompts a model as its folder says (tokenizer_config.json): plain, ChatML,
 * or an error naming the file when the folder says nothing; an explicit template overrides the folder. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/tiny_model.h"
#include "base/fileio.h"
#include "base/log.h"
#include "serve/backend.h"

static char dir[64], model_dir[256];

static void corpus(FILE *fp) {
    for (int i = 0; i < 200; i++)
        fprintf(fp, "Compute %d*%d.\n\\boxed{%d}\n", i, i + 3, i * (i + 3));
}
static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/retool-sbt-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    tiny_model_spec spec = {corpus, 300, 320, 32, 64, 1, 2, 256, 3};
    tiny_model_make(dir, &spec, model_dir, sizeof model_dir);
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(backend_template, .init = setup, .fini = teardown);

/* The prompt ids the backend opened with tmpl builds for a system message and a user message. */
static tok_ids backend_prompt(rollout_template tmpl) {
    serve_model_backend *b = NULL;
    rt_error e;
    cr_assert_eq(serve_model_backend_open(model_dir, 1, tmpl, 1, &b, &e), RT_OK, "%s", e.msg);
    serve_backend ops = serve_model_backend_ops(b);
    serve_message msgs[] = {{"system", "be brief"}, {"user", "Compute 12*15."}};
    tok_ids out = {0};
    cr_assert_eq(ops.prompt(ops.prompt_ctx, msgs, 2, &out.ids, &out.len, &e), RT_OK, "%s", e.msg);
    out.cap = out.len;
    serve_model_backend_close(b);
    return out;
}

static void expect_same(const tok_ids *a, const tok_ids *b, const char *what) {
    cr_expect(a->len == b->len && memcmp(a->ids, b->ids, a->len * sizeof(int32_t)) == 0, "%s", what);
}

Test(backend_template, follows_the_folder) {
    rt_error e;
    tok_tokenizer *tok;
    cr_assert_eq(tok_load(model_dir, &tok, &e), RT_OK, "%s", e.msg);
    /* plain: the last user message and a newline */
    tok_ids plain = {0};
    cr_assert_eq(tok_encode(tok, "Compute 12*15.\n", 15, TOK_ENCODE_NO_SPECIAL, &plain, &e), RT_OK);
    cr_assert_eq(tok_template_write(model_dir, TOK_TEMPLATE_PLAIN, &e), RT_OK, "%s", e.msg);
    tok_ids got = backend_prompt(ROLLOUT_TEMPLATE_AUTO);
    expect_same(&got, &plain, "a plain folder: the plain prompt");
    tok_ids_free(&got);
    /* ChatML: the conversation, the last message phrased as in training */
    char user[2048];
    snprintf(user, sizeof user, "%s\n\nProblem: Compute 12*15.", rollout_instructions(1));
    tok_message msgs[] = {{"system", "be brief"}, {"user", user}};
    tok_ids chat = {0};
    cr_assert_eq(tok_chat_encode(tok, msgs, 2, 1, 0, &chat, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(tok_template_write(model_dir, TOK_TEMPLATE_CHATML, &e), RT_OK, "%s", e.msg);
    got = backend_prompt(ROLLOUT_TEMPLATE_AUTO);
    expect_same(&got, &chat, "a ChatML folder: the ChatML prompt");
    tok_ids_free(&got);
    /* an explicit choice wins */
    got = backend_prompt(ROLLOUT_TEMPLATE_PLAIN);
    expect_same(&got, &plain, "--template plain on a ChatML folder");
    tok_ids_free(&got);
    /* a folder that says nothing: refused at open, naming the file */
    char path[400];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", model_dir);
    cr_assert_eq(rt_file_write_atomic(path, "{}", 2, &e), RT_OK);
    serve_model_backend *b = NULL;
    rt_err_clear(&e);
    cr_expect_neq(serve_model_backend_open(model_dir, 1, ROLLOUT_TEMPLATE_AUTO, 1, &b, &e), RT_OK);
    cr_expect(strstr(e.msg, path) && strstr(e.msg, "--template"), "%s", e.msg);
    cr_expect_null(b);
    tok_ids_free(&plain);
    tok_ids_free(&chat);
    tok_free(tok);
}
