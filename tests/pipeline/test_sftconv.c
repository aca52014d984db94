/* retool data convert --model: hand-built ReTool-SFT conversations (tests/fixtures/sftconv/retool_sft.jsonl) become
 * trajectories whose mask-0 spans decode to exactly the interpreter blocks the engine would append (written out here
 * by hand), whose mask-1 spans are the assistant's own text, whose prompt is the template rendered by hand; malformed
 * conversations are dropped with their reason; --verify re-runs the blocks in one stateful session and drops the one
 * whose recorded output lies; the CLI's output trains one `retool sft` step. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/fixtures.h"
#include "../base/tiny_model.h"
#include "../base/tmpdir.h"
#include "../cli/run_cli.h"
#include "base/fileio.h"
#include "base/json.h"
#include "base/log.h"
#include "pipeline/sftconv.h"
#include "rollout/trajectory.h"
#include "tokenizer/tokenizer.h"

#define CONVS "tests/fixtures/sftconv/retool_sft.jsonl"
#define TOKDIR FIXTURE_TOK_QWEN3

static char dir[256];
static tok_tokenizer *tok;

static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    test_tmpdir(dir, sizeof dir);
    rt_error e;
    cr_assert_eq(tok_load(TOKDIR, &tok, &e), RT_OK, "%s", e.msg);
}
static void teardown(void) {
    tok_free(tok);
    test_rmdir(dir);
}
/* No .timeout: Criterion 2.4.1 leaks 48 bytes in its runner when a test with a timeout runs for seconds (ASan). */
TestSuite(sftconv, .init = setup, .fini = teardown);

static void convert(int verify, const char *out, pipe_sftconv_summary *s) {
    pipe_sftconv_config c = pipe_sftconv_defaults();
    c.in_path = CONVS;
    c.out_path = out;
    c.model_dir = TOKDIR;
    c.verify = verify;
    rt_error e;
    cr_assert_eq(pipe_sftconv(&c, s, &e), RT_OK, "%s", e.msg);
}

static char *decode(const rollout_trajectory *t, size_t from, size_t to) {
    char *s = NULL;
    rt_error e;
    cr_assert_eq(tok_decode(tok, t->response_ids + from, to - from, 0, &s, NULL, &e), RT_OK, "%s", e.msg);
    return s;
}

/* The runs of equal mask in t, decoded, in order: spans[i] with masks[i]. Returns their count. */
static size_t mask_runs(const rollout_trajectory *t, char **spans, int *masks, size_t cap) {
    size_t n = 0, start = 0;
    for (size_t i = 1; i <= t->n_response; i++) {
        if (i < t->n_response && t->mask[i] == t->mask[start]) continue;
        cr_assert_lt(n, cap);
        masks[n] = t->mask[start];
        spans[n++] = decode(t, start, i);
        start = i;
    }
    return n;
}

/* Checks t's runs of mask against the hand-written expectation (mask 1 and mask 0 alternating from a 1). */
static void expect_runs(const rollout_trajectory *t, const char *const *want, size_t nwant) {
    char *spans[16];
    int masks[16];
    size_t n = mask_runs(t, spans, masks, 16);
    cr_expect_eq(n, nwant, "%s: %zu runs of equal mask, want %zu", t->id, n, nwant);
    for (size_t i = 0; i < n; i++) {
        if (i < nwant) {
            cr_expect_eq(masks[i], i % 2 == 0 ? 1 : 0, "%s: run %zu mask", t->id, i);
            cr_expect_str_eq(spans[i], want[i], "%s: run %zu", t->id, i);
        }
        free(spans[i]);
    }
    for (size_t i = 0; i < t->n_response; i++)
        cr_expect_eq(t->logprobs[i], 0.0f);
}

static const rollout_trajectory *find(const rollout_trajectory *t, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].id, id) == 0) return &t[i];
    cr_assert_fail("no trajectory %s", id);
    return NULL;
}

static const char *const TWO_BLOCKS[] = {
    "Let me compute it.\n<code>\n```python\nx = 6*7\nprint(x)\n```\n</code>",
    "\n<interpreter>\n42\n</interpreter>\n\n",
    "Now add one.\n<code>\n```python\nprint(x + 1)\n```\n</code>",
    "\n<interpreter>\n43\n</interpreter>\n\n",
    "So the answer is 43.\n<answer>\n\\boxed{43}\n</answer>",
};

Test(sftconv, masked_spans_are_exactly_the_interpreter_blocks) {
    char out[400];
    snprintf(out, sizeof out, "%s/t.jsonl", dir);
    pipe_sftconv_summary s;
    convert(0, out, &s);
    cr_expect_eq(s.read, 9u);
    cr_expect_eq(s.n[PIPE_SC_KEPT], 4u);
    cr_expect_eq(s.code_blocks, 4u);
    cr_expect_eq(s.blocks_run, 0u);
    rollout_trajectory *t;
    size_t n;
    rt_error e;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 4u);
    const char *order[] = {"two-blocks", "one-block", "no-code", "lying-output"};
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(t[i].id, order[i]);

    const rollout_trajectory *a = find(t, n, "two-blocks");
    expect_runs(a, TWO_BLOCKS, 5);
    cr_expect_eq(a->n_calls, 2u);
    cr_expect_str_eq(a->calls[0].code, "x = 6*7\nprint(x)");
    cr_expect_str_eq(a->calls[1].output, "43");
    cr_expect_str_eq(a->answer, "43");
    cr_expect_str_eq(a->truth, "43");
    cr_expect_eq(a->reward, 1.0);
    /* The system message goes where ChatML puts it; the user message verbatim; the generation prompt. */
    cr_expect_str_eq(a->prompt_text,
                     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nSolve the following "
                     "problem step by step. You can use <code> blocks.\n\nWhat is 6*7 + 1?<|im_end|>\n"
                     "<|im_start|>assistant\n");
    /* The prompt ids are the template's, not a re-encoding of the decoded text: its markers are single ids. */
    cr_expect_eq(a->prompt_ids[0], tok_token_id(tok, "<|im_start|>"));
    cr_expect_eq(a->prompt_ids[a->n_prompt - 2], tok_token_id(tok, "assistant"));

    /* The blank line after </code> and the recorded trailing spaces: the block as the engine appends it, the
     * output as recorded (nothing re-run). */
    const char *one[] = {"<code>\n```python\nprint(2**10)\n```\n</code>", "\n<interpreter>\n1024   \n</interpreter>\n\n",
                         "The result is 1024.\n<answer>\n\\boxed{1024}\n</answer>"};
    const rollout_trajectory *b = find(t, n, "one-block");
    expect_runs(b, one, 3);
    cr_expect_str_eq(b->answer, "1024");
    cr_expect_null(b->truth, "the row gives no truth");
    cr_expect_str_eq(b->prompt_text, "<|im_start|>user\nWhat is 2**10?<|im_end|>\n<|im_start|>assistant\n");

    const char *nocode[] = {"1+1 = 2.\n<answer>\n\\boxed{2}\n</answer>"};
    expect_runs(find(t, n, "no-code"), nocode, 1);
    /* Without --verify a recorded output is taken as it stands. */
    const char *lie[] = {"<code>\n```python\nprint(8*8)\n```\n</code>", "\n<interpreter>\n65\n</interpreter>\n\n",
                         "<answer>\n\\boxed{64}\n</answer>"};
    expect_runs(find(t, n, "lying-output"), lie, 3);
    rollout_trajectories_free(t, n);
}

Test(sftconv, malformed_conversations_are_dropped_with_their_reason) {
    char out[400];
    snprintf(out, sizeof out, "%s/t.jsonl", dir);
    pipe_sftconv_summary s;
    convert(0, out, &s);
    cr_expect_eq(s.n[PIPE_SC_LAYOUT], 1u);
    cr_expect_eq(s.n[PIPE_SC_FORMAT], 2u);
    cr_expect_eq(s.n[PIPE_SC_MISSING_OUTPUT], 1u);
    cr_expect_eq(s.n[PIPE_SC_WRONG_ANSWER], 1u);
    cr_expect_eq(s.n[PIPE_SC_OUTPUT_MISMATCH], 0u);
    cr_expect_eq(s.n[PIPE_SC_SANDBOX_ERROR], 0u);
    cr_expect(strstr(s.first_drop[PIPE_SC_LAYOUT], "row 7:") != NULL, "%s", s.first_drop[PIPE_SC_LAYOUT]);
    cr_expect(strstr(s.first_drop[PIPE_SC_MISSING_OUTPUT], "row 4:") != NULL);
    cr_expect(strstr(s.first_drop[PIPE_SC_FORMAT], "row 5:") != NULL, "%s", s.first_drop[PIPE_SC_FORMAT]);
    cr_expect(strstr(s.first_drop[PIPE_SC_WRONG_ANSWER], "row 8:") != NULL);

    /* One malformed conversation at a time: the reason each gets. */
    static const struct {
        const char *row;
        pipe_sc_reason reason;
    } cases[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"<code>\\n```"
         "python\\nprint(1)\\n```\\n</code>\\n<interpreter>\\n1\\n</interpreter>\\n<answer>\\n\\\\boxed{1}\\n</answer>"
         "\\ntrailing\"}]}",
         PIPE_SC_FORMAT},
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":\"<answer>\\n\\\\boxed{1}\\n</answer>\"}]}", PIPE_SC_LAYOUT},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"},"
         "{\"role\":\"user\",\"content\":\"q2\"}]}",
         PIPE_SC_LAYOUT},
        {"{\"messages\":\"not a list\"}", PIPE_SC_LAYOUT},
        {"{\"prompt\":\"q\"}", PIPE_SC_LAYOUT},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"<code>\\n```"
         "python\\nprint(1)\\n```\\n</code>\\n<code>\\n```python\\nprint(2)\\n```\\n</code>\\n<interpreter>\\n2\\n"
         "</interpreter>\\n<answer>\\n\\\\boxed{2}\\n</answer>\"}]}",
         PIPE_SC_MISSING_OUTPUT},
        /* The same row well formed is kept: the cases above fail for the reason named, not for another. */
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"<code>\\n```"
         "python\\nprint(1)\\n```\\n</code>\\n<interpreter>\\n1\\n</interpreter>\\n<answer>\\n\\\\boxed{1}\\n</answer>"
         "\"}]}",
         PIPE_SC_KEPT},
    };
    char in[400];
    snprintf(in, sizeof in, "%s/one.jsonl", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_error e;
        cr_assert_eq(rt_file_write_atomic(in, cases[i].row, strlen(cases[i].row), &e), RT_OK);
        pipe_sftconv_config c = pipe_sftconv_defaults();
        c.in_path = in;
        c.out_path = out;
        c.model_dir = TOKDIR;
        cr_assert_eq(pipe_sftconv(&c, &s, &e), RT_OK, "case %zu: %s", i, e.msg);
        cr_expect_eq(s.read, 1u);
        cr_expect_eq(s.n[cases[i].reason], 1u, "case %zu: not dropped as %s (%s)", i,
                     pipe_sc_reason_name(cases[i].reason), s.first_drop[1]);
    }
    /* A file that is not JSON is an error naming the file and line, not a drop. */
    rt_error e;
    cr_assert_eq(rt_file_write_atomic(in, "{\"messages\": [}\n", 16, &e), RT_OK);
    pipe_sftconv_config c = pipe_sftconv_defaults();
    c.in_path = in;
    c.out_path = out;
    c.model_dir = TOKDIR;
    cr_expect_neq(pipe_sftconv(&c, &s, &e), RT_OK);
    cr_expect(strstr(e.msg, "one.jsonl:1") != NULL, "%s", e.msg);
    cr_expect(strstr(strstr(e.msg, "one.jsonl:1") + 1, "one.jsonl") == NULL, "named once: %s", e.msg);
}

Test(sftconv, verify_runs_blocks_statefully_and_drops_a_lying_output) {
    char out[400];
    snprintf(out, sizeof out, "%s/v.jsonl", dir);
    pipe_sftconv_summary s;
    convert(1, out, &s);
    cr_expect_eq(s.n[PIPE_SC_KEPT], 3u);
    cr_expect_eq(s.n[PIPE_SC_OUTPUT_MISMATCH], 1u);
    cr_expect(strstr(s.first_drop[PIPE_SC_OUTPUT_MISMATCH], "row 9:") != NULL, "%s",
              s.first_drop[PIPE_SC_OUTPUT_MISMATCH]);
    /* two-blocks (2), one-block (1), lying-output (1); rows dropped for their layout, format or answer run nothing. */
    cr_expect_eq(s.blocks_run, 4u);
    cr_expect_eq(s.n[PIPE_SC_WRONG_ANSWER], 1u);
    rollout_trajectory *t;
    size_t n;
    rt_error e;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 3u);
    /* Block 2 reads x from block 1: it ran in the same session. */
    expect_runs(find(t, n, "two-blocks"), TWO_BLOCKS, 5);
    /* The real output replaces the recorded one (trailing spaces do not count as a difference). */
    const char *one[] = {"<code>\n```python\nprint(2**10)\n```\n</code>", "\n<interpreter>\n1024\n</interpreter>\n\n",
                         "The result is 1024.\n<answer>\n\\boxed{1024}\n</answer>"};
    expect_runs(find(t, n, "one-block"), one, 3);
    rollout_trajectories_free(t, n);
}

/* Llama 3: the system message in its own header block, the user message, the generation prompt; the response is
 * the same text as with ChatML (the template changes the prompt only). */
Test(sftconv, llama3_template_keeps_the_system_message) {
    char out[400];
    snprintf(out, sizeof out, "%s/l.jsonl", dir);
    pipe_sftconv_config c = pipe_sftconv_defaults();
    c.in_path = CONVS;
    c.out_path = out;
    c.model_dir = FIXTURE_TOK_LLAMA3;
    c.template_kind = ROLLOUT_TEMPLATE_LLAMA3;
    pipe_sftconv_summary s;
    rt_error e;
    cr_assert_eq(pipe_sftconv(&c, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.n[PIPE_SC_KEPT], 4u);
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 4u);
    cr_expect_str_eq(t[0].prompt_text,
                     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant."
                     "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nSolve the following problem step by "
                     "step. You can use <code> blocks.\n\nWhat is 6*7 + 1?<|eot_id|><|start_header_id|>assistant"
                     "<|end_header_id|>\n\n");
    cr_expect_str_eq(t[0].response_text, "Let me compute it.\n<code>\n```python\nx = 6*7\nprint(x)\n```\n</code>"
                                         "\n<interpreter>\n42\n</interpreter>\n\nNow add one.\n<code>\n```python\n"
                                         "print(x + 1)\n```\n</code>\n<interpreter>\n43\n</interpreter>\n\nSo the "
                                         "answer is 43.\n<answer>\n\\boxed{43}\n</answer>");
    rollout_trajectories_free(t, n);
}

/* A Parquet file is read the same way (data_records): DAPO-shaped rows hold a prompt, not a conversation. */
Test(sftconv, parquet_rows_without_a_conversation_are_layout_drops) {
    char out[400];
    snprintf(out, sizeof out, "%s/p.jsonl", dir);
    pipe_sftconv_config c = pipe_sftconv_defaults();
    c.in_path = RETOOL_FIXTURES "/parquet/dapo_shaped.parquet";
    c.out_path = out;
    c.model_dir = TOKDIR;
    pipe_sftconv_summary s;
    rt_error e;
    cr_assert_eq(pipe_sftconv(&c, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.read, 40u, "every row of the file");
    cr_expect_eq(s.n[PIPE_SC_LAYOUT], 40u);
    cr_expect_str_eq(s.first_drop[PIPE_SC_LAYOUT], "row 1: no \"messages\" (or \"conversations\") list");
}

Test(sftconv, output_comparison_rule) {
    cr_expect(pipe_sc_output_matches("42", "42"));
    cr_expect(pipe_sc_output_matches("a  \nb\t\n\n", "a\nb"));
    cr_expect(pipe_sc_output_matches("\n\na\r\nb", "a\nb\n"));
    cr_expect(pipe_sc_output_matches("", "\n  \n"));
    cr_expect_not(pipe_sc_output_matches("64", "65"));
    cr_expect_not(pipe_sc_output_matches("a\n\nb", "a\nb"), "an inner blank line counts");
    cr_expect_not(pipe_sc_output_matches("  a", "a"), "leading spaces count");
    cr_expect_not(pipe_sc_output_matches("", "0"));
}

static void tool_corpus(FILE *fp) {
    for (int i = 0; i < 60; i++)
        fprintf(fp,
                "What is %d*%d?\n<code>\n```python\nprint(%d*%d)\n```\n</code>\n<interpreter>\n%d\n</interpreter>\n\n"
                "<answer>\n\\boxed{%d}\n</answer>\n",
                i, i + 3, i, i + 3, i * (i + 3), i * (i + 3));
}

/* Outputs a program may print, as recorded (JSON-escaped): empty, multi-line, trailing spaces, non-ASCII, tag-like. */
static const char *const OUTS[] = {"", "1\\n2\\n3", "x   ", "\\u03c0 \\u2248 3.14159", "a <code> b", "[1, 2]\\n\\nend"};
static const char *const OUTS_RAW[] = {"", "1\n2\n3", "x   ", "\xcf\x80 \xe2\x89\x88 3.14159", "a <code> b",
                                       "[1, 2]\n\nend"};

/* 200 ReTool-SFT-shaped rows (JSONL): row i has 1 + i % 3 blocks; block b prints OUTS[(i + b) % 6] as recorded. */
static void write_200(const char *path) {
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    for (int i = 0; i < 200; i++) {
        fprintf(fp, "{\"id\":\"c%d\",\"answer\":\"%d\",\"messages\":[{\"role\":\"user\",\"content\":"
                    "\"What is %d+1?\"},{\"role\":\"assistant\",\"content\":\"",
                i + 1, i + 1, i);
        for (int b = 0; b < 1 + i % 3; b++)
            fprintf(fp, "Step %d.\\n<code>\\n```python\\nv = %d\\n```\\n</code>%s<interpreter>\\n%s\\n</interpreter>%s", b,
                    b, b % 2 ? "\\n\\n" : "\\n", OUTS[(i + b) % 6], b % 2 ? "\\n" : "\\n\\n");
        fprintf(fp, "So it is %d.\\n<answer>\\n\\\\boxed{%d}\\n</answer>\"}]}\n", i + 1, i + 1);
    }
    fclose(fp);
}

/* Every mask-0 run of every trajectory decodes to the block the engine appends for the recorded output, every
 * mask-1 run to the row's own text. */
static void check_200(const char *path, tok_tokenizer *tk) {
    rollout_trajectory *t;
    size_t n;
    rt_error e;
    cr_assert_eq(rollout_trajectory_read_file(path, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 200u);
    for (size_t i = 0; i < n; i++) {
        size_t nb = 1 + i % 3, k = 0, start = 0;
        char want[512];
        for (size_t j = 1; j <= t[i].n_response; j++) {
            if (j < t[i].n_response && t[i].mask[j] == t[i].mask[start]) continue;
            char *got = NULL;
            cr_assert_eq(tok_decode(tk, t[i].response_ids + start, j - start, 0, &got, NULL, &e), RT_OK);
            size_t b = k / 2;
            if (k % 2 == 1)
                snprintf(want, sizeof want, "\n<interpreter>\n%s\n</interpreter>\n\n", OUTS_RAW[(i + b) % 6]);
            else if (b < nb)
                snprintf(want, sizeof want, "Step %zu.\n<code>\n```python\nv = %zu\n```\n</code>", b, b);
            else
                snprintf(want, sizeof want, "So it is %zu.\n<answer>\n\\boxed{%zu}\n</answer>", i + 1, i + 1);
            cr_expect_eq(t[i].mask[start], k % 2 == 0, "%s run %zu", t[i].id, k);
            cr_expect_str_eq(got, want, "%s run %zu", t[i].id, k);
            free(got);
            k++;
            start = j;
        }
        cr_expect_eq(k, 2 * nb + 1, "%s: %zu runs", t[i].id, k);
        cr_expect_eq(t[i].n_calls, nb);
        char prompt[64];
        snprintf(prompt, sizeof prompt, "What is %zu+1?\n", i);
        cr_expect_str_eq(t[i].prompt_text, prompt, "the plain template");
        cr_expect_str_eq(t[i].answer, t[i].truth);
    }
    rollout_trajectories_free(t, n);
}

Test(sftconv, cli_converts_then_sft_trains_a_step) {
    char model[512], out[400], sum[400], run[400], args[3000];
    static char log[65536];
    tiny_model_spec spec = {tool_corpus, 300, 320, 32, 64, 1, 2, 512, 3};
    tiny_model_make(dir, &spec, model, sizeof model);
    snprintf(out, sizeof out, "%s/traces.jsonl", dir);
    snprintf(sum, sizeof sum, "%s/summary.json", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(args, sizeof args, "data convert %s --model %s --template plain --out %s --summary %s", CONVS, model,
             out, sum);
    cr_assert_eq(run_cli(args, log, sizeof log), 0, "%s", log);
    cr_expect(strstr(log, "kept 4 of 9") != NULL, "%s", log);
    cr_expect(strstr(log, "missing_output") != NULL, "%s", log);
    cJSON *j = NULL;
    rt_error e;
    cr_assert_eq(rt_json_read_file(sum, &j, &e), RT_OK, "%s", e.msg);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "dropped");
    cr_expect_eq(cJSON_GetObjectItemCaseSensitive(j, "kept")->valueint, 4);
    cr_expect_eq(cJSON_GetObjectItemCaseSensitive(d, "format")->valueint, 2);
    cr_expect_eq(cJSON_GetObjectItemCaseSensitive(d, "layout")->valueint, 1);
    cJSON_Delete(j);
    /* The plain template: the user message and a newline, the system message left out. */
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 4u);
    cr_expect_str_eq(t[1].prompt_text, "What is 2**10?\n");
    rollout_trajectories_free(t, n);

    /* 200 conversations of every shape of output: converted, and every masked run is an interpreter block. */
    char in200[400], out200[400];
    snprintf(in200, sizeof in200, "%s/sft200.jsonl", dir);
    snprintf(out200, sizeof out200, "%s/traces200.jsonl", dir);
    write_200(in200);
    snprintf(args, sizeof args, "data convert %s --model %s --template plain --out %s", in200, model, out200);
    cr_assert_eq(run_cli(args, log, sizeof log), 0, "%s", log);
    cr_expect(strstr(log, "kept 200 of 200") != NULL, "%s", log);
    tok_tokenizer *tiny = NULL;
    cr_assert_eq(tok_load(model, &tiny, &e), RT_OK, "%s", e.msg);
    check_200(out200, tiny);
    tok_free(tiny);

    snprintf(args, sizeof args,
             "sft --model %s --data %s --out %s --max-steps 1 --batch-tokens 512 --eval-frac 0 --f32 --threads 1 "
             "--quiet",
             model, out200, run);
    cr_assert_eq(run_cli(args, log, sizeof log), 0, "%s", log);
    char metrics[500];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", run);
    char *m = NULL;
    size_t mlen = 0;
    cr_assert_eq(rt_file_read_all(metrics, &m, &mlen, &e), RT_OK, "%s", e.msg);
    cr_expect(strstr(m, "\"loss\"") != NULL, "%s", m);
    free(m);

    /* Usage: --verify without --model, and a model folder that is not there. */
    snprintf(args, sizeof args, "data convert %s --out %s --verify", CONVS, out);
    cr_expect_eq(run_cli(args, log, sizeof log), 2, "%s", log);
    snprintf(args, sizeof args, "data convert %s --model %s/nope --out %s", CONVS, dir, out);
    cr_expect_eq(run_cli(args, log, sizeof log), 1, "%s", log);
    cr_expect(strstr(log, "nope") != NULL, "%s", log);
}

#define SFT_PQ RETOOL_FIXTURES "/parquet/retool_sft_shaped.parquet"
#define SFT_PQ_READBACK RETOOL_FIXTURES "/parquet/retool_sft_shaped.jsonl"

/* The outputs of a conversation's interpreter blocks, read from the assistant text by hand: the text between each
 * "<interpreter>" and the "</interpreter>" after it, less one newline at each end. Returns their count. */
static size_t interpreter_outputs(const char *text, char **outs, size_t cap) {
    size_t n = 0;
    for (const char *p = strstr(text, "<interpreter>"); p; p = strstr(p, "<interpreter>")) {
        p += strlen("<interpreter>");
        const char *q = strstr(p, "</interpreter>");
        cr_assert_not_null(q);
        const char *a = p, *b = q;
        if (a < b && *a == '\n') a++;
        if (b > a && b[-1] == '\n') b--;
        cr_assert_lt(n, cap);
        outs[n++] = strndup(a, (size_t)(b - a));
        p = q;
    }
    return n;
}

/* 200 ReTool-SFT-shaped conversations written by DuckDB as Parquet (tests/node/parquet-writers): all kept; every
 * mask-0 run decodes to the engine's interpreter block around exactly the output the conversation recorded, in order,
 * as DuckDB's own read-back of the file says; the prompt is the user message; one sft step trains on the result. */
Test(sftconv, duckdb_parquet_200_conversations_convert_and_train) {
    char model[512], out[400], run[400], args[3000];
    static char log[65536];
    tiny_model_spec spec = {tool_corpus, 300, 320, 32, 64, 1, 2, 512, 3};
    tiny_model_make(dir, &spec, model, sizeof model);
    snprintf(out, sizeof out, "%s/traces_pq.jsonl", dir);
    snprintf(run, sizeof run, "%s/run_pq", dir);
    snprintf(args, sizeof args, "data convert %s --model %s --template plain --out %s", SFT_PQ, model, out);
    cr_assert_eq(run_cli(args, log, sizeof log), 0, "%s", log);
    cr_expect(strstr(log, "kept 200 of 200") != NULL, "%s", log);

    rt_error e;
    char *rb = NULL;
    size_t rblen = 0;
    cr_assert_eq(rt_file_read_all(SFT_PQ_READBACK, &rb, &rblen, &e), RT_OK, "%s", e.msg);
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 200u);
    tok_tokenizer *tiny = NULL;
    cr_assert_eq(tok_load(model, &tiny, &e), RT_OK, "%s", e.msg);
    size_t row = 0, blocks = 0, empty = 0, multi = 0, nonascii = 0;
    for (char *line = rb, *nl; line < rb + rblen && *line; line = nl + 1, row++) {
        nl = strchr(line, '\n');
        cr_assert_not_null(nl);
        *nl = '\0';
        cr_assert_lt(row, n);
        cJSON *j = cJSON_Parse(line);
        cr_assert_not_null(j, "read-back row %zu", row);
        const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages"), *m, *user = NULL, *asst = NULL;
        cJSON_ArrayForEach(m, msgs) {
            const char *role = cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring;
            if (strcmp(role, "user") == 0) user = cJSON_GetObjectItemCaseSensitive(m, "content");
            if (strcmp(role, "assistant") == 0) asst = cJSON_GetObjectItemCaseSensitive(m, "content");
        }
        cr_assert(cJSON_IsString(user) && cJSON_IsString(asst), "read-back row %zu", row);
        char *want[8];
        size_t nw = interpreter_outputs(asst->valuestring, want, 8);
        cr_assert(nw >= 1 && nw <= 3, "row %zu: %zu blocks", row, nw);
        const rollout_trajectory *tr = &t[row];
        char prompt[512];
        snprintf(prompt, sizeof prompt, "%s\n", user->valuestring);
        cr_expect_str_eq(tr->prompt_text, prompt, "row %zu: the plain template", row);
        cr_expect_eq(tr->n_calls, nw, "row %zu", row);
        size_t k = 0, start = 0;
        for (size_t i = 1; i <= tr->n_response; i++) {
            if (i < tr->n_response && tr->mask[i] == tr->mask[start]) continue;
            if (tr->mask[start] == 0) {
                char *got = NULL;
                cr_assert_eq(tok_decode(tiny, tr->response_ids + start, i - start, 0, &got, NULL, &e), RT_OK);
                char block[1024];
                cr_assert_lt(k, nw, "row %zu: more masked runs than interpreter blocks", row);
                snprintf(block, sizeof block, "\n<interpreter>\n%s\n</interpreter>\n\n", want[k]);
                cr_expect_str_eq(got, block, "row %zu, masked run %zu", row, k);
                free(got);
                k++;
            }
            start = i;
        }
        cr_expect_eq(k, nw, "row %zu: %zu masked runs for %zu interpreter blocks", row, k, nw);
        for (size_t b = 0; b < nw; b++) {
            empty += want[b][0] == '\0';
            multi += strchr(want[b], '\n') != NULL;
            for (const char *c = want[b]; *c; c++)
                if ((unsigned char)*c >= 0x80) {
                    nonascii++;
                    break;
                }
            free(want[b]);
        }
        blocks += nw;
        cJSON_Delete(j);
    }
    cr_expect_eq(row, 200u);
    cr_expect_eq(blocks, 399u, "1 + i %% 3 blocks in row i: 67 + 2 * 67 + 3 * 66");
    cr_expect(empty > 0 && multi > 0 && nonascii > 0, "outputs: %zu empty, %zu multi-line, %zu non-ASCII", empty, multi,
              nonascii);
    tok_free(tiny);
    rollout_trajectories_free(t, n);
    free(rb);

    snprintf(args, sizeof args,
             "sft --model %s --data %s --out %s --max-steps 1 --batch-tokens 512 --eval-frac 0 --f32 --threads 1 "
             "--quiet",
             model, out, run);
    cr_assert_eq(run_cli(args, log, sizeof log), 0, "%s", log);
    char metrics[500];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", run);
    char *mt = NULL;
    size_t mlen = 0;
    cr_assert_eq(rt_file_read_all(metrics, &mt, &mlen, &e), RT_OK, "%s", e.msg);
    cr_expect(strstr(mt, "\"loss\"") != NULL, "%s", mt);
    free(mt);
}
