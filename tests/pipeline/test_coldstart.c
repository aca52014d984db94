/* retool data coldstart: kept traces re-parse with the engine's parser, interpreter blocks carry mask 0 and decode to
 * what /usr/bin/python3 really prints (run here, independently of the sandbox), claimed outputs are replaced, wrong
 * programs and wrong answers are dropped with their reason, repairs show a real error then a working block, text
 * mode has no code, and the seed decides everything. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/fixtures.h"
#include "../base/tmpdir.h"
#include "../cli/run_cli.h"
#include "base/fileio.h"
#include "base/log.h"
#include "data/synth.h"
#include "pipeline/coldstart.h"
#include "pipeline/coldstart_trace.h"
#include "rollout/protocol.h"
#include "rollout/toolcall.h"
#include "rollout/trajectory.h"
#include "tokenizer/tokenizer.h"

#define TOKDIR FIXTURE_TOK_QWEN3

static char dir[256], in_path[512];
static tok_tokenizer *tok;

/* Synthetic problems of every family plus planted bad records: a program printing a wrong answer, a failing one. */
static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    test_tmpdir(dir, sizeof dir);
    data_gen_options o = {.family = NULL, .n = 22, .split = DATA_SPLIT_TRAIN, .seed = 5, .level = 0};
    data_problem *ps = NULL;
    rt_error e;
    cr_assert_eq(data_generate(&o, &ps, &e), RT_OK, "%s", e.msg);
    snprintf(in_path, sizeof in_path, "%s/in.jsonl", dir);
    cr_assert_eq(data_problems_write_jsonl(in_path, ps, o.n, &e), RT_OK, "%s", e.msg);
    for (size_t i = 0; i < o.n; i++)
        data_problem_free(&ps[i]);
    free(ps);
    FILE *fp = fopen(in_path, "a");
    fprintf(fp, "{\"id\":\"bad\",\"prompt\":\"Compute 6*7.\",\"answer\":\"42\",\"family\":\"mul\",\"program\":"
                "\"print(6*8)\",\"text_solution\":\"6*7=42.\"}\n");
    fprintf(fp, "{\"id\":\"crash\",\"prompt\":\"Compute 6*7.\",\"answer\":\"42\",\"family\":\"mul\",\"program\":"
                "\"print(6//0)\",\"text_solution\":\"6*7=42.\"}\n");
    fclose(fp);
    cr_assert_eq(tok_load(TOKDIR, &tok, &e), RT_OK, "%s", e.msg);
}
static void teardown(void) {
    tok_free(tok);
    test_rmdir(dir);
}
/* No .timeout: Criterion 2.4.1 leaks 48 bytes in its runner when a test with a timeout runs for seconds (ASan). */
TestSuite(coldstart, .init = setup, .fini = teardown);

static pipe_coldstart_config cfg_for(const char *out, pipe_cs_mode mode, double rate, uint64_t seed) {
    pipe_coldstart_config c = pipe_coldstart_defaults();
    c.in_path = in_path;
    c.out_path = out;
    c.tokenizer_dir = TOKDIR;
    c.mode = mode;
    c.repair_rate = rate;
    c.seed = seed;
    c.quiet = 1;
    return c;
}

/* What /usr/bin/python3 shows for code, shaped as the engine documents it (stdout without trailing newlines; on
 * error stdout then the last stderr line). Run outside the sandbox: an independent truth. */
static char *python_output(const char *code, int *ok) {
    char src[300], errp[300], cmd[1400];
    snprintf(src, sizeof src, "%s/prog.py", dir);
    snprintf(errp, sizeof errp, "%s/prog.err", dir);
    FILE *fp = fopen(src, "w");
    fputs(code, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "cd %s && /usr/bin/python3 %s 2>%s", dir, src, errp);
    FILE *p = popen(cmd, "r");
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    *ok = st == 0;
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    if (*ok) return strdup(out);
    char *err = NULL;
    size_t elen = 0;
    rt_error e;
    cr_assert_eq(rt_file_read_all(errp, &err, &elen, &e), RT_OK);
    while (elen > 0 && err[elen - 1] == '\n')
        err[--elen] = '\0';
    char *last = strrchr(err, '\n');
    /* The sandbox prints tracebacks without CPython's "Did you mean" hints (noted in docs/COLDSTART.md). */
    char *hint = strstr(last ? last : err, ". Did you mean");
    if (hint) *hint = '\0';
    char *res = malloc(n + elen + 2);
    sprintf(res, "%s%s%s", out, n ? "\n" : "", last ? last + 1 : err);
    free(err);
    return res;
}

static char *decode_span(const rollout_trajectory *t, size_t from, size_t to) {
    char *s = NULL;
    rt_error e;
    cr_assert_eq(tok_decode(tok, t->response_ids + from, to - from, 0, &s, NULL, &e), RT_OK, "%s", e.msg);
    return s;
}

/* Checks one kept code trace against the engine's parser and real Python; returns its number of calls. */
static void check_code_trace(const rollout_trajectory *t) {
    char *text = decode_span(t, 0, t->n_response);
    cr_assert_str_eq(text, t->response_text, "ids must decode to the text");
    /* The mask-0 spans, in order. */
    size_t spans[16][2], ns = 0;
    for (size_t i = 0; i < t->n_response; i++) {
        if (t->mask[i] == 0 && (i == 0 || t->mask[i - 1] == 1)) {
            cr_assert_lt(ns, 16u);
            spans[ns][0] = i;
        }
        if (t->mask[i] == 0 && (i + 1 == t->n_response || t->mask[i + 1] == 1)) spans[ns++][1] = i + 1;
    }
    cr_assert_eq(ns, t->n_calls, "%s: one masked span per call", t->id);
    /* Walk the text as the engine does: each </code> closes a block whose code is what ran. */
    size_t len = strlen(text), seg = 0;
    for (size_t k = 0; k < t->n_calls; k++) {
        size_t close_end = rollout_find_code_close(text, len, seg);
        cr_assert_gt(close_end, 0u, "%s: block %zu not found by the engine's parser", t->id, k);
        char *code = NULL;
        cr_assert_eq(rollout_extract_code(text + seg, close_end - seg, &code), ROLLOUT_CODE_FOUND);
        cr_expect_str_eq(code, t->calls[k].code);
        /* Model text up to </code> is mask 1 and ends exactly where the masked span starts. */
        char *before = decode_span(t, 0, spans[k][0]);
        cr_expect_eq(strlen(before), close_end, "%s: the interpreter span starts right after </code>", t->id);
        free(before);
        int ok = 0;
        char *real = python_output(code, &ok);
        char want[70000];
        snprintf(want, sizeof want, "\n<interpreter>\n%s\n</interpreter>\n\n", real);
        char *span = decode_span(t, spans[k][0], spans[k][1]);
        cr_expect_str_eq(span, want, "%s: block %zu: [%s] vs [%s]", t->id, k, span, want);
        cr_expect_eq(t->calls[k].status == ROLLOUT_EXEC_OK, ok);
        cr_expect_eq(t->calls[k].response_index, spans[k][0]);
        seg = close_end + strlen(want); /* the engine's lead "\n" is part of the block */
        free(span);
        free(real);
        free(code);
    }
    cr_expect_eq(rollout_find_code_close(text, len, seg), 0u, "no block after the last call");
    const char *tail = text + len - strlen(ROLLOUT_ANSWER_CLOSE);
    cr_expect_str_eq(tail, ROLLOUT_ANSWER_CLOSE, "the trace ends at </answer>");
    cr_expect_str_eq(t->answer, t->truth);
    cr_expect_eq(t->reward, 1.0);
    for (size_t i = 0; i < t->n_prompt; i++)
        cr_assert_geq(t->prompt_ids[i], 0);
    cr_expect_gt(t->n_prompt, 0u);
    free(text);
}

Test(coldstart, kept_traces_parse_as_the_engine_reads_them_with_real_outputs) {
    char out[600];
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    pipe_coldstart_config c = cfg_for(out, PIPE_CS_CODE, 0.5, 1);
    pipe_coldstart_summary s;
    rt_error e;
    cr_assert_eq(pipe_coldstart(&c, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.all.read, 24u);
    cr_expect_eq(s.all.n[PIPE_CS_WRONG_ANSWER], 1u, "the program printing 48 for 6*7");
    cr_expect_eq(s.all.n[PIPE_CS_CODE_ERROR], 1u, "the program dividing by zero");
    cr_expect_eq(s.all.n[PIPE_CS_KEPT], 22u);
    cr_expect_gt(s.all.repairs, 0u);
    size_t fam_total = 0, mul_wrong = 0;
    for (size_t i = 0; i < s.n_families; i++) {
        fam_total += s.families[i].read;
        if (strcmp(s.families[i].family, "mul") == 0) mul_wrong = s.families[i].n[PIPE_CS_WRONG_ANSWER];
    }
    cr_expect_eq(fam_total, 24u);
    cr_expect_eq(mul_wrong, 1u);
    pipe_coldstart_summary_free(&s);
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 22u);
    size_t with_code = 0, repairs = 0;
    for (size_t i = 0; i < n; i++) {
        cr_expect(strstr(t[i].id, "bad") == NULL && strstr(t[i].id, "crash") == NULL, "%s kept", t[i].id);
        char fam[64];
        snprintf(fam, sizeof fam, "%.*s", (int)strcspn(t[i].id, "/"), t[i].id);
        const data_family *f = data_family_find(fam);
        check_code_trace(&t[i]);
        if (f && !f->needs_tool) cr_expect_eq(t[i].n_calls, 0u, "%s: a no-tool family answers in text", t[i].id);
        with_code += t[i].n_calls > 0;
        if (t[i].n_calls == 2) {
            /* A repair: a real error first, then a working block. */
            repairs++;
            cr_expect_eq(t[i].calls[0].status, ROLLOUT_EXEC_ERROR);
            cr_expect(strstr(t[i].calls[0].output, "Error") != NULL, "%s", t[i].calls[0].output);
            cr_expect_eq(t[i].calls[1].status, ROLLOUT_EXEC_OK);
        }
    }
    cr_expect_gt(with_code, 10u);
    cr_expect_gt(repairs, 0u);
    rollout_trajectories_free(t, n);
}

/* A rewriting model stand-in: drafts with a wrong claimed output, a format error, or a wrong final answer. */
static rt_status fake_rewrite(void *ctx, const data_problem *p, char **draft, rt_error *err) {
    (void)ctx;
    (void)err;
    if (strstr(p->prompt, "claim"))
        *draft = strdup("Let me compute.\n<code>\n```python\nprint(6*7)\n```\n</code>\n<interpreter>\n41\n"
                        "</interpreter>\n\nSo <answer>\n\\boxed{42}\n</answer>");
    else if (strstr(p->prompt, "nofence"))
        *draft = strdup("<code>\nprint(6*7)\n</code>\n<answer>\n\\boxed{42}\n</answer>");
    else
        *draft = strdup("<code>\n```python\nprint(6*7)\n```\n</code>\n\n<answer>\n\\boxed{41}\n</answer>");
    return RT_OK;
}

Test(coldstart, drafts_get_real_outputs_and_are_checked) {
    char in[600], out[600];
    snprintf(in, sizeof in, "%s/drafts.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    FILE *fp = fopen(in, "w");
    fprintf(fp, "{\"prompt\":\"claim 6*7\",\"answer\":\"42\"}\n{\"prompt\":\"nofence 6*7\",\"answer\":\"42\"}\n"
                "{\"prompt\":\"wrong 6*7\",\"answer\":\"42\"}\n");
    fclose(fp);
    pipe_coldstart_config c = cfg_for(out, PIPE_CS_CODE, 0, 1);
    c.in_path = in;
    pipe_coldstart_summary s;
    rt_error e;
    /* No rewriting model: an honest error naming the record. */
    cr_expect_eq(pipe_coldstart(&c, &s, &e), RT_EINVAL);
    cr_expect(strstr(e.msg, "record 1") && strstr(e.msg, "rewriting model"), "%s", e.msg);
    c.rewriter = "/some/model/dir";
    cr_expect_neq(pipe_coldstart(&c, &s, &e), RT_OK);
    cr_expect(strstr(e.msg, "/some/model/dir") != NULL, "%s", e.msg);
    cr_expect_not(rt_path_exists(out));
    c.rewriter = NULL;
    c.rewrite = fake_rewrite;
    cr_assert_eq(pipe_coldstart(&c, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.all.n[PIPE_CS_KEPT], 1u);
    cr_expect_eq(s.all.n[PIPE_CS_FORMAT], 1u);
    cr_expect_eq(s.all.n[PIPE_CS_WRONG_ANSWER], 1u);
    pipe_coldstart_summary_free(&s);
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 1u);
    check_code_trace(&t[0]);
    cr_expect_str_eq(t[0].calls[0].output, "42", "the real output replaces the claimed 41");
    cr_expect(strstr(t[0].response_text, "41") == NULL, "%s", t[0].response_text);
    cr_expect(strncmp(t[0].response_text, "Let me compute.\n<code>", 22) == 0, "%s", t[0].response_text);
    rollout_trajectories_free(t, n);
}

Test(coldstart, text_mode_has_no_code) {
    char out[600];
    snprintf(out, sizeof out, "%s/text.jsonl", dir);
    pipe_coldstart_config c = cfg_for(out, PIPE_CS_TEXT, 0.5, 1);
    pipe_coldstart_summary s;
    rt_error e;
    cr_assert_eq(pipe_coldstart(&c, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.code_blocks, 0u);
    /* The planted records' text solutions are right: in text mode they are kept (nothing runs). */
    cr_expect_eq(s.all.n[PIPE_CS_KEPT], 24u);
    pipe_coldstart_summary_free(&s);
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(t[i].n_calls, 0u);
        cr_expect(strstr(t[i].response_text, "<code>") == NULL);
        cr_expect(strstr(t[i].prompt_text, "<code>") == NULL, "text prompt: no tool instructions");
        for (size_t k = 0; k < t[i].n_response; k++)
            cr_assert_eq(t[i].mask[k], 1);
        char *text = decode_span(&t[i], 0, t[i].n_response);
        cr_expect_str_eq(text, t[i].response_text);
        free(text);
        cr_expect_str_eq(t[i].answer, t[i].truth);
    }
    rollout_trajectories_free(t, n);
}

static void read_ids(const char *path, rollout_trajectory **t, size_t *n) {
    rt_error e;
    cr_assert_eq(rollout_trajectory_read_file(path, t, n, &e), RT_OK, "%s", e.msg);
}

static int same_tokens(const rollout_trajectory *a, size_t na, const rollout_trajectory *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].n_response != b[i].n_response || memcmp(a[i].response_ids, b[i].response_ids, a[i].n_response * 4) ||
            memcmp(a[i].mask, b[i].mask, a[i].n_response) || a[i].n_prompt != b[i].n_prompt)
            return 0;
    return 1;
}

Test(coldstart, the_seed_decides_everything) {
    char a[600], b[600], c2[600];
    snprintf(a, sizeof a, "%s/a.jsonl", dir);
    snprintf(b, sizeof b, "%s/b.jsonl", dir);
    snprintf(c2, sizeof c2, "%s/c.jsonl", dir);
    pipe_coldstart_summary s;
    rt_error e;
    pipe_coldstart_config c = cfg_for(a, PIPE_CS_CODE, 0.5, 11);
    cr_assert_eq(pipe_coldstart(&c, &s, &e), RT_OK, "%s", e.msg);
    pipe_coldstart_summary_free(&s);
    c.out_path = b;
    c.workers = 3; /* other scheduling, same result */
    cr_assert_eq(pipe_coldstart(&c, &s, &e), RT_OK, "%s", e.msg);
    pipe_coldstart_summary_free(&s);
    c.out_path = c2;
    c.seed = 12;
    cr_assert_eq(pipe_coldstart(&c, &s, &e), RT_OK, "%s", e.msg);
    pipe_coldstart_summary_free(&s);
    rollout_trajectory *ta, *tb, *tc;
    size_t na, nb, nc;
    read_ids(a, &ta, &na);
    read_ids(b, &tb, &nb);
    read_ids(c2, &tc, &nc);
    cr_expect(same_tokens(ta, na, tb, nb), "same seed, same traces");
    cr_expect_not(same_tokens(ta, na, tc, nc), "another seed plants other repairs");
    rollout_trajectories_free(ta, na);
    rollout_trajectories_free(tb, nb);
    rollout_trajectories_free(tc, nc);
}

Test(coldstart, trace_parser_rejects_what_the_engine_would_misread) {
    const char *bad[] = {
        "<code>\nprint(1)\n</code>\n<answer>\n\\boxed{1}\n</answer>",                               /* no fence */
        "print(1)\n</code>\n<answer>\n\\boxed{1}\n</answer>",                                       /* no <code> */
        "<code>\n```python\nprint(1)\n```\n</code>\n<interpreter>\n1\n<answer>\\boxed{1}</answer>", /* unclosed */
        "<answer>\n\\boxed{1}\n</answer><code>\n```python\nprint(1)\n```\n</code>\n<answer>\\boxed{1}</answer>",
        "<answer>\n\\boxed{1}\n</answer>\nmore",                                     /* text after */
        "<answer>\n1\n</answer>",                                                    /* no box */
        "<code>\n```python\nprint(1)\n```\n<answer>\n\\boxed{1}\n</answer>",         /* never closed */
        "Result: <interpreter>\n1\n</interpreter>\n<answer>\n\\boxed{1}\n</answer>", /* fake interpreter */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pipe_cs_trace t;
        rt_error e;
        cr_expect_eq(pipe_cs_trace_parse(bad[i], 1, &t, &e), RT_EFORMAT, "case %zu accepted", i);
    }
    pipe_cs_trace t;
    rt_error e;
    const char *good = "A\n<code>\n```python\nx=1\nprint(x)\n```\n</code>\n<interpreter>\n7\n</interpreter>\n\nB "
                       "<code>\n```python\nprint(2)\n```\n</code>\n<answer>\n\\boxed{2}\n</answer>\n";
    cr_assert_eq(pipe_cs_trace_parse(good, 1, &t, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(t.n_blocks, 2u);
    cr_expect_str_eq(t.codes[0], "x=1\nprint(x)");
    cr_expect_str_eq(t.claimed[0], "7");
    cr_expect_null(t.claimed[1]);
    cr_expect_str_eq(t.segs[1], "B <code>\n```python\nprint(2)\n```\n</code>");
    cr_expect_str_eq(t.segs[2], "<answer>\n\\boxed{2}\n</answer>");
    pipe_cs_trace_free(&t);
    cr_expect_eq(
        pipe_cs_trace_parse("<code>\n```python\nprint(2)\n```\n</code>\n<answer>\\boxed{2}</answer>", 0, &t, &e),
        RT_EFORMAT, "text traces hold no code");
}

Test(coldstart, broken_programs_really_fail) {
    const char *progs[] = {"print(701*46)", "import math;print(math.comb(20,15))", "print(sum(range(1,284)))"};
    for (size_t i = 0; i < 3; i++)
        for (uint64_t k = 0; k < 3; k++) {
            char *b = pipe_cs_break_program(progs[i], k);
            cr_assert_not_null(b);
            cr_expect_str_neq(b, progs[i]);
            int ok = 1;
            char *out = python_output(b, &ok);
            cr_expect_not(ok, "%s ran", b);
            cr_expect(strstr(out, "Error") != NULL, "%s: %s", b, out);
            free(out);
            free(b);
        }
    cr_expect_null(pipe_cs_break_program("x", 0));
}

Test(coldstart, an_unreachable_sandbox_drops_code_traces_as_sandbox_errors) {
    char out[600];
    snprintf(out, sizeof out, "%s/unreach.jsonl", dir);
    pipe_coldstart_config c = cfg_for(out, PIPE_CS_CODE, 0, 1);
    c.sandbox = "http://127.0.0.1:9"; /* nothing listens on the discard port */
    pipe_coldstart_summary s;
    rt_error e;
    cr_assert_eq(pipe_coldstart(&c, &s, &e), RT_OK, "%s", e.msg);
    size_t no_tool = 0;
    for (size_t i = 0; i < s.n_families; i++) {
        const data_family *f = data_family_find(s.families[i].family);
        cr_assert_not_null(f);
        if (!f->needs_tool) no_tool += s.families[i].read;
    }
    cr_expect_gt(no_tool, 0u);
    cr_expect_eq(s.all.n[PIPE_CS_KEPT], no_tool, "only the text traces of no-tool families stand");
    cr_expect_eq(s.all.n[PIPE_CS_SANDBOX_ERROR], s.all.read - no_tool);
    pipe_coldstart_summary_free(&s);
}

Test(coldstart, cli_reports_per_family_and_names_bad_inputs) {
    char args[2048];
    static char out[65536];
    snprintf(args, sizeof args, "data coldstart --in %s --out %s/cli.jsonl --tokenizer %s --template plain --quiet",
             in_path, dir, TOKDIR);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "wrong_answer") && strstr(out, "code_error") && strstr(out, "sandbox_error"), "%s", out);
    cr_expect(strstr(out, "\nmul ") != NULL, "a row per family: %s", out);
    cr_expect(strstr(out, "kept 22 of 24") != NULL, "%s", out);
    snprintf(args, sizeof args, "data coldstart --in %s/none.jsonl --out %s/x.jsonl --tokenizer %s", dir, dir, TOKDIR);
    cr_expect_eq(run_cli(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "none.jsonl") != NULL, "%s", out);
    snprintf(args, sizeof args, "data coldstart --in %s --out %s/x.jsonl --tokenizer %s --mode maybe", in_path, dir,
             TOKDIR);
    cr_expect_eq(run_cli(args, out, sizeof out), 2, "%s", out);
    snprintf(args, sizeof args, "data coldstart --in %s --out %s/x.jsonl --tokenizer %s --repair-rate 2", in_path, dir,
             TOKDIR);
    cr_expect_eq(run_cli(args, out, sizeof out), 2, "%s", out);
    cr_expect_eq(run_cli("data coldstart --in x.jsonl", out, sizeof out), 2, "%s", out);
    snprintf(args, sizeof args, "%s/x.jsonl", dir);
    cr_expect_not(rt_path_exists(args), "nothing written on failure");
}
