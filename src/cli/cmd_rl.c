#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/lora_flags.h"
#include "train/dist.h"
#include "train/rl.h"

int cmd_rl(int argc, char **argv) {
    train_rl_config c = train_rl_defaults();
    cli_lora_flags lora = {0};
    const char *algo = "ppo", *tools = "python", *mode = "stateless", *tmpl = "auto", *resume = NULL, *kl = "k3";
    long long steps = 0, ppp = c.prompts_per_step, samples = c.samples, max_tokens = (long long)c.rollout.budget.max_response_tokens,
              max_calls = (long long)c.rollout.budget.max_tool_calls, max_interp = (long long)c.rollout.budget.max_interpreter_tokens,
              top_k = 0, conc = (long long)c.rollout.max_concurrent, warmup = 0, cwarm = 0, epochs = c.ppo_epochs,
              mbs = c.minibatches, micro = c.micro_tokens, save_every = 0, keep = c.keep_last, seed = (long long)c.seed, threads = c.threads,
              workers = c.sandbox_workers;
    double temp = c.rollout.sampling.temperature, top_p = c.rollout.sampling.top_p, timeout = c.rollout.budget.call_timeout_s,
           lr = c.lr, clr = c.critic_lr, wd = c.weight_decay, clip = c.clip_norm, clow = c.clip_low, chigh = c.clip_high,
           vclip = c.value_clip, gamma = c.gamma, lambda = c.lambda, klc = 0, ent = 0;
    int no_whiten = 0, drop_flat = 0, drop_void = 0, no_std = 0, resample = 0;
    const cli_flag flags[] = {
        {"algo", CLI_FLAG_STRING, &algo, "ppo|grpo", "PPO with a critic (default) or GRPO"},
        {"model", CLI_FLAG_STRING, &c.model_dir, "DIR", "starting policy (usually the cold-start SFT model)"},
        {"critic", CLI_FLAG_STRING, &c.critic_dir, "DIR",
         "starting critic (default: the policy with a new value head)"},
        {"data", CLI_FLAG_STRING, &c.data_path, "FILE",
         "problems, JSONL or Parquet (retool, DAPO, AIME, MATH, GSM8K layouts)"},
        {"format", CLI_FLAG_STRING, &c.format, "NAME", "layout of --data (default auto)"},
        {"out", CLI_FLAG_STRING, &c.out_dir, "RUN", "run directory"},
        {"resume", CLI_FLAG_STRING, &resume, "RUN", "continue RUN with its own config.json (--steps N sets the total)"},
        {"steps", CLI_FLAG_INT, &steps, "N", "total RL steps (default 10)"},
        {"prompts-per-step", CLI_FLAG_INT, &ppp, "N", "problems per step (default 8)"},
        {"samples", CLI_FLAG_INT, &samples, "K", "trajectories per problem (default 4)"},
        {"tools", CLI_FLAG_STRING, &tools, "python|none", "tool-integrated (default) or text-only RL"},
        {"mode", CLI_FLAG_STRING, &mode, "stateless|stateful",
         "code blocks alone (default) or one session per trajectory"},
        {"sandbox", CLI_FLAG_STRING, &c.sandbox, "SPEC", "local (default) or SandboxFusion URLs separated by commas"},
        {"workers", CLI_FLAG_INT, &workers, "N",
         "local sandbox workers with numpy/sympy (default 2; 2 light ones serve other code)"},
        {"template", CLI_FLAG_STRING, &tmpl, "NAME", CLI_TEMPLATE_HELP},
        {"temperature", CLI_FLAG_DOUBLE, &temp, "T", "rollout temperature (default 1)"},
        {"top-p", CLI_FLAG_DOUBLE, &top_p, "P", "rollout top-p (default 1)"},
        {"top-k", CLI_FLAG_INT, &top_k, "K", "rollout top-k (default off)"},
        {"max-tokens", CLI_FLAG_INT, &max_tokens, "N", "response tokens per trajectory (default 4096)"},
        {"max-tool-calls", CLI_FLAG_INT, &max_calls, "N", "code blocks run per trajectory (default 8)"},
        {"max-interpreter-tokens", CLI_FLAG_INT, &max_interp, "N", "interpreter tokens per trajectory (default 2048)"},
        {"call-timeout", CLI_FLAG_DOUBLE, &timeout, "S", "seconds per code block (default 10)"},
        {"concurrency", CLI_FLAG_INT, &conc, "N", "trajectories decoded together (default 64)"},
        {"lr", CLI_FLAG_DOUBLE, &lr, "X", "policy learning rate (default 1e-6)"},
        {"critic-lr", CLI_FLAG_DOUBLE, &clr, "X", "critic learning rate (default 2e-6)"},
        {"warmup", CLI_FLAG_INT, &warmup, "N", "policy learning-rate warm-up steps (default 0)"},
        {"critic-warmup", CLI_FLAG_INT, &cwarm, "N", "steps that train only the critic (default 0)"},
        {"weight-decay", CLI_FLAG_DOUBLE, &wd, "X", "AdamW weight decay (default 0)"},
        {"clip", CLI_FLAG_DOUBLE, &clip, "X", "gradient-norm clip (default 1)"},
        {"ppo-epochs", CLI_FLAG_INT, &epochs, "N", "passes over a step's trajectories (default 1)"},
        {"minibatches", CLI_FLAG_INT, &mbs, "N", "optimizer steps per pass (default 1)"},
        {"micro-tokens", CLI_FLAG_INT, &micro, "N",
         "rows of one forward/backward; gradients accumulate (default 2048)"},
        {"clip-low", CLI_FLAG_DOUBLE, &clow, "X", "ratio clip below 1 (default 0.2)"},
        {"clip-high", CLI_FLAG_DOUBLE, &chigh, "X", "ratio clip above 1 (default 0.28)"},
        {"value-clip", CLI_FLAG_DOUBLE, &vclip, "X", "value clip (default 0.5; 0 = off)"},
        {"gamma", CLI_FLAG_DOUBLE, &gamma, "X", "GAE discount (default 1)"},
        {"lambda", CLI_FLAG_DOUBLE, &lambda, "X", "GAE lambda (default 1)"},
        {"no-whiten", CLI_FLAG_BOOL, &no_whiten, NULL, "do not whiten PPO advantages"},
        {"kl-coef", CLI_FLAG_DOUBLE, &klc, "X", "KL penalty to the starting policy (default 0)"},
        {"kl", CLI_FLAG_STRING, &kl, "k1|k3", "KL estimator (default k3)"},
        {"entropy-coef", CLI_FLAG_DOUBLE, &ent, "X", "entropy bonus (default 0)"},
        {"grpo-no-std", CLI_FLAG_BOOL, &no_std, NULL, "GRPO: subtract the group mean only"},
        {"drop-flat-groups", CLI_FLAG_BOOL, &drop_flat, NULL, "skip groups whose rewards are all equal"},
        {"drop-void", CLI_FLAG_BOOL, &drop_void, NULL, "drop trajectories with neither code nor an answer"},
        {"resample-on-correct", CLI_FLAG_BOOL, &resample, NULL,
         "rStar2-Agent: roll out 2K per problem, train on K: correct ones with fewest tool errors, failed ones at "
         "random, in the oversampled proportion"},
        {"save-every", CLI_FLAG_INT, &save_every, "N", "checkpoint every N steps (default: at the end)"},
        {"keep-last", CLI_FLAG_INT, &keep, "N", "checkpoints kept (default 2)"},
        {"seed", CLI_FLAG_INT, &seed, "S", "seed of data order and sampling (default 1)"},
        {"threads", CLI_FLAG_INT, &threads, "N", "compute threads (default 2)"},
        {"f32", CLI_FLAG_BOOL, &c.f32, NULL, "f32 matrix products (default bf16)"},
        {"recompute", CLI_FLAG_BOOL, &c.recompute, NULL,
         "keep each layer's input only, recompute the rest in backward"},
        {"kv-bf16", CLI_FLAG_BOOL, &c.kv_bf16, NULL, "rollouts keep keys and values as bf16 (half the KV cache)"},
        {"quiet", CLI_FLAG_BOOL, &c.quiet, NULL, "no progress bar"},
        CLI_LORA_FLAG_ENTRIES(lora),
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool rl --algo ppo|grpo --model DIR --data PROBLEMS.{jsonl,parquet} --steps N --out RUN [flags]\n"
                                   "       retool rl --resume RUN [--steps N]",
                       "RL with tool-integrated rollouts: K trajectories per problem through the sandbox, outcome reward "
                       "+1/-1, PPO (critic, GAE) or GRPO updates with interpreter tokens masked from every loss. Data parallel "
                       "under mpirun (mpirun -np N retool rl ...): each rank rolls out its share of each step's prompts; "
                       "gradients are summed; rank 0 writes the run.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("rl", CLI_EXIT_USAGE, "unexpected argument (all inputs are flags; see --help)");
    c.steps = steps;
    if (resume) {
        c.out_dir = resume;
        c.resume = 1;
    } else {
        if (!c.model_dir || !c.data_path || !c.out_dir)
            return cli_fail("rl", CLI_EXIT_USAGE, "--model, --data and --out are required (or --resume RUN)");
        if (steps <= 0) c.steps = 10;
        rt_error aerr;
        if (train_algo_parse(algo, &c.algo, &aerr)) return cli_fail("rl", CLI_EXIT_USAGE, "--algo: %s", aerr.msg);
        if (strcmp(tools, "none") == 0) c.rollout.tools = ROLLOUT_TOOLS_NONE;
        else if (strcmp(tools, "python") != 0) return cli_fail("rl", CLI_EXIT_USAGE, "--tools: '%s' is not python or none", tools);
        else if (strcmp(mode, "stateful") == 0) c.rollout.tools = ROLLOUT_TOOLS_STATEFUL;
        else if (strcmp(mode, "stateless") != 0) return cli_fail("rl", CLI_EXIT_USAGE, "--mode: '%s' is not stateless or stateful", mode);
        if (strcmp(kl, "k1") == 0) c.kl_kind = TRAIN_KL_K1;
        else if (strcmp(kl, "k3") != 0) return cli_fail("rl", CLI_EXIT_USAGE, "--kl: '%s' is not k1 or k3", kl);
        rt_error err;
        if (rollout_template_parse(tmpl, &c.template_kind, &err)) return cli_fail_err("rl", &err);
        if (ppp < 1 || samples < 1 || max_tokens < 1 || conc < 1 || threads < 1 || epochs < 1 || mbs < 1)
            return cli_fail("rl", CLI_EXIT_USAGE, "counts must be positive (see --help)");
        c.prompts_per_step = ppp;
        c.samples = samples;
        c.sandbox_workers = (int)workers;
        c.rollout.sampling.temperature = (float)temp;
        c.rollout.sampling.top_p = (float)top_p;
        c.rollout.sampling.top_k = (int)top_k;
        c.rollout.budget.max_response_tokens = (size_t)max_tokens;
        c.rollout.budget.max_tool_calls = (size_t)max_calls;
        c.rollout.budget.max_interpreter_tokens = (size_t)max_interp;
        c.rollout.budget.call_timeout_s = timeout;
        c.rollout.max_concurrent = (size_t)conc;
        if (cli_lora_resolve("rl", &lora, &c.lora)) return CLI_EXIT_USAGE;
        c.lr = lr;
        c.critic_lr = clr;
        c.warmup_steps = warmup;
        c.critic_warmup = cwarm;
        c.weight_decay = wd;
        c.clip_norm = clip;
        c.ppo_epochs = epochs;
        c.minibatches = mbs;
        c.micro_tokens = micro;
        c.clip_low = (float)clow;
        c.clip_high = (float)chigh;
        c.value_clip = (float)vclip;
        c.gamma = (float)gamma;
        c.lambda = (float)lambda;
        c.whiten = !no_whiten;
        c.kl_coef = klc;
        c.entropy_coef = ent;
        c.grpo_scale_std = !no_std;
        c.drop_flat_groups = drop_flat;
        c.drop_void = drop_void;
        c.resample_on_correct = resample;
        c.save_every = save_every;
        c.keep_last = keep;
        c.seed = (uint64_t)seed;
        c.threads = (int)threads;
    }
    train_rl_result r;
    rt_error err;
    /* Under mpirun every rank runs this with its share of each step's prompts; rank 0 writes the run and prints. */
    if (dist_init(&err)) return cli_fail_err("rl", &err);
    int rank = dist_rank(), world = dist_size();
    if (train_rl_run(&c, &r, &err)) {
        if (world > 1) rt_err_prefix(&err, "rank %d of %d", rank, world);
        int code = cli_fail_err("rl", &err);
        dist_abort(code); /* the other ranks would wait in a collective forever */
        return code;
    }
    if (dist_finalize(&err)) return cli_fail_err("rl", &err);
    if (rank != 0) return CLI_EXIT_OK;
    printf("rl: %lld steps; reward %.3f -> %.3f, accuracy %.3f -> %.3f (first and last step of this run)\n",
           (long long)r.steps, r.first_reward, r.last_reward, r.first_accuracy, r.last_accuracy);
    printf("model: %s/model\n", c.out_dir);
    return CLI_EXIT_OK;
}
