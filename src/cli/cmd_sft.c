#include <math.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/lora_flags.h"
#include "kernels/pool.h"
#include "train/dist.h"
#include "train/sft.h"

int cmd_sft(int argc, char **argv) {
    train_sft_config c = train_sft_defaults();
    const char *model = NULL, *data = NULL, *out = NULL;
    long long epochs = c.epochs, batch = c.batch_tokens, max_len = 0, warmup = c.warmup_steps, eval_every = 0,
              save_every = 0, keep = c.keep_last, seed = (long long)c.seed, max_steps = 0;
    double lr = c.lr, min_lr = c.min_lr, wd = c.weight_decay, clip = c.clip_norm, eval_frac = c.eval_frac;
    int resume = 0, constant = 0, f32 = 0, quiet = 0, recompute = 0;
    long long threads = 2;
    cli_lora_flags lora = {0};
    const cli_flag flags[] = {
        {"model", CLI_FLAG_STRING, &model, "DIR", "starting model folder (Hugging Face layout)"},
        {"data", CLI_FLAG_STRING, &data, "FILE", "trajectory JSONL (cold-start traces or rollouts)"},
        {"out", CLI_FLAG_STRING, &out, "RUN", "run directory to write"},
        {"resume", CLI_FLAG_BOOL, &resume, NULL, "continue from the newest checkpoint in RUN"},
        {"epochs", CLI_FLAG_INT, &epochs, "N", "passes over the data (default 1)"},
        {"max-steps", CLI_FLAG_INT, &max_steps, "N", "stop after N steps in all, with a checkpoint (0 = no limit)"},
        {"batch-tokens", CLI_FLAG_INT, &batch, "N", "tokens per packed batch (default 4096)"},
        {"max-seq-len", CLI_FLAG_INT, &max_len, "N", "cut longer samples (default: the model's context)"},
        {"lr", CLI_FLAG_DOUBLE, &lr, "X", "peak learning rate (default 1e-4)"},
        {"min-lr", CLI_FLAG_DOUBLE, &min_lr, "X", "final learning rate of the cosine schedule (default 1e-5)"},
        {"constant-lr", CLI_FLAG_BOOL, &constant, NULL, "no decay after warm-up"},
        {"warmup", CLI_FLAG_INT, &warmup, "N", "warm-up steps (default 10)"},
        {"weight-decay", CLI_FLAG_DOUBLE, &wd, "X", "AdamW weight decay (default 0.01)"},
        {"clip", CLI_FLAG_DOUBLE, &clip, "X", "global gradient-norm clip (default 1; 0 = off)"},
        {"eval-frac", CLI_FLAG_DOUBLE, &eval_frac, "X", "share of samples held out (default 0.05)"},
        {"eval-every", CLI_FLAG_INT, &eval_every, "N", "held-out loss every N steps (default: each epoch)"},
        {"save-every", CLI_FLAG_INT, &save_every, "N", "checkpoint every N steps (default: at the end)"},
        {"keep-last", CLI_FLAG_INT, &keep, "N", "checkpoints kept (default 2)"},
        {"seed", CLI_FLAG_INT, &seed, "S", "data order and held-out split (default 1)"},
        {"f32", CLI_FLAG_BOOL, &f32, NULL, "pure f32 matrix products (default: bf16 with f32 accumulation)"},
        {"recompute", CLI_FLAG_BOOL, &recompute, NULL, "keep each layer's input only, recompute the rest in backward"},
        {"threads", CLI_FLAG_INT, &threads, "N", "compute threads (default 2)"},
        {"quiet", CLI_FLAG_BOOL, &quiet, NULL, "no progress bar"},
        CLI_LORA_FLAG_ENTRIES(lora),
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool sft --model DIR --data TRACES.jsonl --out RUN [flags]",
                       "Supervised fine-tuning on trajectories; only tokens the model wrote are learned (prompt and "
                       "interpreter output are context). Writes RUN/config.json, metrics.jsonl, checkpoints/ and the "
                       "final model folder RUN/model. Data parallel under mpirun (mpirun -np N retool sft ...): each rank "
                       "trains on its share of every batch; gradients are summed; rank 0 writes the run.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("sft", CLI_EXIT_USAGE, "unexpected argument (all inputs are flags; see --help)");
    if (!model || !data || !out) return cli_fail("sft", CLI_EXIT_USAGE, "--model, --data and --out are required");
    if (cli_lora_resolve("sft", &lora, &c.lora)) return CLI_EXIT_USAGE;
    c.model_dir = model;
    c.data_path = data;
    c.out_dir = out;
    c.resume = resume;
    c.epochs = epochs;
    c.max_steps = max_steps;
    c.batch_tokens = batch;
    c.max_seq_len = max_len;
    c.lr = lr;
    c.min_lr = min_lr;
    c.cosine = !constant;
    c.warmup_steps = warmup;
    c.weight_decay = wd;
    c.clip_norm = clip;
    c.eval_frac = eval_frac;
    c.eval_every = eval_every;
    c.save_every = save_every;
    c.keep_last = keep;
    c.seed = (uint64_t)seed;
    c.f32 = f32;
    c.recompute = recompute;
    c.quiet = quiet;
    train_sft_result r;
    rt_error err;
    if (threads < 1) return cli_fail("sft", CLI_EXIT_USAGE, "--threads must be at least 1");
    if (kern_init((int)threads, &err)) return cli_fail_err("sft", &err);
    /* Under mpirun every rank runs this; rank 0 alone writes the run and prints the summary. */
    if (dist_init(&err)) return cli_fail_err("sft", &err);
    int rank = dist_rank(), world = dist_size();
    if (train_sft_run(&c, &r, &err)) {
        if (world > 1) rt_err_prefix(&err, "rank %d of %d", rank, world);
        int code = cli_fail_err("sft", &err);
        dist_abort(code); /* the other ranks would wait in a collective forever */
        return code;
    }
    if (dist_finalize(&err)) return cli_fail_err("sft", &err);
    if (rank != 0) return CLI_EXIT_OK;
    printf("sft: %lld steps on %zu samples (%zu held out, %zu cut to the context); loss %.4f -> %.4f", (long long)r.steps,
           r.train_samples, r.eval_samples, r.truncated, r.first_loss, r.last_loss);
    if (!isnan(r.eval_loss)) printf(", held-out %.4f", r.eval_loss);
    printf("\n%s: %s/model\n", c.lora.rank ? "adapter (PEFT layout)" : "model", out);
    return CLI_EXIT_OK;
}
