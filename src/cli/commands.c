#include "cli/commands.h"

#include <stddef.h>

#include "cli/cli.h"

/* The commands `retool --help` lists, in the order shown. */
const cli_command cli_commands[] = {
    {"demo", "run the default demo: text-only vs tool-integrated RL side by side, from nothing", cmd_demo},
    {"chat", "interactive: type a problem, watch the model write, run code and answer", cmd_chat},
    {"data", "generate synthetic problems, list the families, convert public dataset layouts", cmd_data},
    {"eval", "evaluate a model: K samples per problem, pass@1/pass@k/maj@k and the method's metrics per family",
     cmd_eval},
    {"eval-metrics", "the method's metrics of a trajectory file: pass@k, maj@k, code ratio, timing, ...",
     cmd_eval_metrics},
    {"json", "check JSON and JSONL files, naming the first bad line and column", cmd_json},
    {"model", "create a randomly initialised model folder; describe a model and the memory it needs", cmd_model},
    {"report", "write one self-contained HTML report: curves of runs over steps, sample trajectories", cmd_report},
    {"rl", "reinforcement learning (PPO or GRPO) with tool-integrated rollouts and outcome reward", cmd_rl},
    {"sft", "supervised fine-tuning on trajectories (cold-start traces), loss on model-written tokens only", cmd_sft},
    {"score", "teacher-forced log-probabilities of token-id lines (JSON arrays) read on stdin", cmd_score},
    {"tokenizer", "encode and decode with a tokenizer.json, or train a byte-level BPE tokenizer", cmd_tokenizer},
    {"generate", "tool-integrated rollouts for a file of problems, scored, written as trajectory JSONL", cmd_generate},
    {"sandbox", "run Python in the isolated sandbox: run FILE.py, serve (SandboxFusion API), doctor", cmd_sandbox},
    {"serve", "OpenAI-compatible server: tool-integrated answers, budgets, review flags, audit log, metrics",
     cmd_serve},
    {"review", "the review queue of flagged answers: list, show, approve, reject", cmd_review},
    {"dashboard", "the operations dashboard (review, audit, cost) over a queue and an audit log", cmd_dashboard},
    {NULL, NULL, NULL},
};
