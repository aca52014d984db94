/* `retool data gen|families|convert`: synthetic problems and dataset conversion (src/data/). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "pipeline/sftconv.h"

static int data_gen(int argc, char **argv) {
    const char *family = "all", *split_name = "train", *out = NULL;
    long long n = 0, seed = 0, level = 0;
    int unique = 0;
    const cli_flag flags[] = {
        {"family", CLI_FLAG_STRING, &family, "F", "a family (retool data families), or all (default) for each in turn"},
        {"n", CLI_FLAG_INT, &n, "N", "number of problems (required)"},
        {"split", CLI_FLAG_STRING, &split_name, "SPLIT", "train (default) or test; the two never share a problem"},
        {"seed", CLI_FLAG_INT, &seed, "S", "random seed (default 0); same seed, same problems on every machine"},
        {"level", CLI_FLAG_INT, &level, "L", "difficulty 1-3, or 0 (default) for levels 1, 2, 3 in turn"},
        {"unique", CLI_FLAG_BOOL, &unique, NULL, "no repeated problem in the output (fails if a family is too small)"},
        {"out", CLI_FLAG_STRING, &out, "FILE.jsonl", "output file (required), written atomically"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv,
                       "retool data gen --n N --out FILE.jsonl [--family F|all] [--split train|test] [--seed S] "
                       "[--level L] [--unique]",
                       "Generates synthetic exact-computation problems as JSONL: id, prompt, answer, family, level, "
                       "program (reference Python), text_solution (worked arithmetic).",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("data gen", CLI_EXIT_USAGE, "unexpected argument (all options are flags)");
    if (n <= 0) return cli_fail("data gen", CLI_EXIT_USAGE, "--n must be given and at least 1");
    if (!out) return cli_fail("data gen", CLI_EXIT_USAGE, "--out FILE.jsonl must be given");
    if (strcmp(family, "all") != 0 && !data_family_find(family)) {
        size_t nf;
        const data_family *const *fams = data_families(&nf);
        const char *cands[32];
        for (size_t i = 0; i < nf && i < 32; i++)
            cands[i] = fams[i]->name;
        const char *near = cli_closest(family, cands, nf < 32 ? nf : 32);
        return cli_fail("data gen", CLI_EXIT_USAGE, "no family '%s'%s%s%s (retool data families lists them)", family,
                        near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    }
    rt_error err;
    rt_err_clear(&err);
    data_gen_options o = {family, (size_t)n, DATA_SPLIT_TRAIN, (uint64_t)seed, (int)level, unique};
    if (data_split_parse(split_name, &o.split, &err)) return cli_fail_err("data gen", &err);
    data_problem *ps;
    if (data_generate(&o, &ps, &err)) return cli_fail_err("data gen", &err);
    rt_status st = data_problems_write_jsonl(out, ps, o.n, &err);
    for (size_t i = 0; i < o.n; i++)
        data_problem_free(&ps[i]);
    free(ps);
    if (st) return cli_fail_err("data gen", &err);
    printf("wrote %lld %s problems (family %s, level %s, seed %lld) to %s\n", n, split_name, family,
           level ? (level == 1   ? "1"
                    : level == 2 ? "2"
                                 : "3")
                 : "1-3",
           seed, out);
    return CLI_EXIT_OK;
}

static int data_families_cmd(int argc, char **argv) {
    cli_args args;
    int rc = cli_parse(argc, argv, "retool data families", "Lists the synthetic task families.", NULL, 0, &args);
    if (rc) return rc;
    cli_args_free(&args);
    size_t n;
    const data_family *const *f = data_families(&n);
    for (size_t i = 0; i < n; i++)
        printf("%-9s %-7s %s\n", f[i]->name, f[i]->needs_tool ? "tool" : "no-tool", f[i]->summary);
    return CLI_EXIT_OK;
}

/* --model: ReTool-SFT conversations into cold-start trajectories for that model folder (pipeline/sftconv.h). */
static int convert_conversations(const char *in, const char *out, const char *model, const char *tmpl, int verify,
                                 long long workers, double timeout, const char *summary) {
    pipe_sftconv_config c = pipe_sftconv_defaults();
    c.in_path = in;
    c.out_path = out;
    c.model_dir = model;
    c.verify = verify;
    c.summary_path = summary;
    rt_error err;
    rt_err_clear(&err);
    if (rollout_template_parse(tmpl, &c.template_kind, &err)) return cli_fail_err("data convert", &err);
    if (workers < 1 || timeout <= 0)
        return cli_fail("data convert", CLI_EXIT_USAGE, "--workers and --call-timeout must be positive");
    c.workers = (int)workers;
    c.call_timeout_s = timeout;
    pipe_sftconv_summary s;
    if (pipe_sftconv(&c, &s, &err)) return cli_fail_err("data convert", &err);
    printf("%-16s %6s\n", "reason", "rows");
    for (int r = 0; r < PIPE_SC_NREASONS; r++)
        printf("%-16s %6zu\n", pipe_sc_reason_name((pipe_sc_reason)r), s.n[r]);
    for (int r = 1; r < PIPE_SC_NREASONS; r++)
        if (s.first_drop[r][0]) printf("first %s: %s\n", pipe_sc_reason_name((pipe_sc_reason)r), s.first_drop[r]);
    printf("convert: kept %zu of %zu conversations (%zu code blocks%s) in %.1f s; out: %s\n", s.n[PIPE_SC_KEPT],
           s.read, s.code_blocks, verify ? ", every block re-run" : "", s.wall_s, out);
    return CLI_EXIT_OK;
}

static int data_convert(int argc, char **argv) {
    const char *format = "auto", *out = NULL, *model = NULL, *tmpl = "auto", *summary = NULL;
    int verify = 0;
    long long workers = 2;
    double timeout = 10;
    const cli_flag flags[] = {
        {"format", CLI_FLAG_STRING, &format, "F", "auto (default), retool, dapo, aime, math or gsm8k"},
        {"out", CLI_FLAG_STRING, &out, "FILE.jsonl", "output (required), written atomically"},
        {"model", CLI_FLAG_STRING, &model, "DIR",
         "rows are conversations (ReTool-SFT): write cold-start trajectories for this model folder"},
        {"template", CLI_FLAG_STRING, &tmpl, "NAME", CLI_TEMPLATE_HELP " (with --model)"},
        {"verify", CLI_FLAG_BOOL, &verify, NULL,
         "with --model: re-run every code block in the local sandbox and drop a conversation whose recorded output "
         "differs"},
        {"workers", CLI_FLAG_INT, &workers, "N", "local sandbox workers under --verify (default 2)"},
        {"call-timeout", CLI_FLAG_DOUBLE, &timeout, "S", "seconds per code block under --verify (default 10)"},
        {"summary", CLI_FLAG_STRING, &summary, "FILE.json", "with --model: the per-reason counts as JSON"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv,
                       "retool data convert IN.{jsonl,parquet} --out OUT.jsonl [--format F]\n"
                       "       retool data convert SFT.{jsonl,parquet} --model DIR --out TRACES.jsonl [--verify] "
                       "[--summary S.json]",
                       "Reads a dataset in a public layout (DAPO-Math-17k, AIME, MATH, GSM8K; see docs/DATA.md), as "
                       "JSONL or Parquet, and writes it in retool's layout: id, prompt, answer, family, level, "
                       "text_solution. With --model, reads ReTool-SFT conversations instead and writes cold-start "
                       "trajectories (token ids, interpreter blocks masked) that `retool sft` trains on; see "
                       "docs/COLDSTART.md.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    if (args.npositional != 1 || !out) {
        cli_args_free(&args);
        return cli_fail("data convert", CLI_EXIT_USAGE, "give one input file and --out FILE.jsonl");
    }
    if (!model && (verify || summary)) {
        cli_args_free(&args);
        return cli_fail("data convert", CLI_EXIT_USAGE, "--verify and --summary go with --model");
    }
    if (model) {
        char *in = strdup(args.positional[0]);
        cli_args_free(&args);
        if (!in) return cli_fail("data convert", CLI_EXIT_FAILURE, "out of memory");
        rc = convert_conversations(in, out, model, tmpl, verify, workers, timeout, summary);
        free(in);
        return rc;
    }
    rt_error err;
    rt_err_clear(&err);
    data_format f;
    data_dataset ds;
    rt_status st = data_format_parse(format, &f, &err);
    if (!st) st = data_dataset_read(args.positional[0], f, &ds, &err);
    cli_args_free(&args);
    if (st) return cli_fail_err("data convert", &err);
    st = data_problems_write_jsonl(out, ds.items, ds.n, &err);
    if (!st) printf("wrote %zu problems (layout %s) to %s\n", ds.n, data_format_name(ds.format), out);
    data_dataset_free(&ds);
    return st ? cli_fail_err("data convert", &err) : CLI_EXIT_OK;
}

int cmd_data(int argc, char **argv) {
    static const cli_command subs[] = {
        {"gen", "generate synthetic problems (JSONL)", data_gen},
        {"families", "list the synthetic task families", data_families_cmd},
        {"convert", "a public dataset layout into retool's JSONL; ReTool-SFT conversations into trajectories (--model)", data_convert},
        {"coldstart", "verified code-integrated (or text) cold-start traces as trajectory JSONL", cmd_data_coldstart},
        {NULL, NULL, NULL},
    };
    return cli_dispatch_sub("data", argc, argv, subs);
}
