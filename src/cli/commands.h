/* One entry point per command; each lives in src/cli/cmd_<name>.c. Add a command: declare it here, add it to the
 * table in commands.c. */
#ifndef RETOOL_CLI_COMMANDS_H
#define RETOOL_CLI_COMMANDS_H

#include "model/config.h"

/* `retool demo`: the default demo (docs/ARCHITECTURE.md, "The default demo"). */
int cmd_demo(int argc, char **argv);

/* `retool data gen|families|convert`: synthetic task families and dataset layouts (src/data/). */
int cmd_data(int argc, char **argv);

/* `retool data coldstart`: verified cold-start traces (src/cli/cmd_data_coldstart.c). */
int cmd_data_coldstart(int argc, char **argv);

/* `retool eval --model DIR --data FILE`: generate K samples per problem and print the method's metrics. */
int cmd_eval(int argc, char **argv);

/* `retool eval-metrics FILE.jsonl`: the method's metrics of a trajectory file, as a table or JSON. */
int cmd_eval_metrics(int argc, char **argv);

/* `retool json check FILE...`: validates JSON / JSONL files and names the first bad line. */
int cmd_json(int argc, char **argv);

/* `retool model init|info`: random model folders from a config.json; architecture, parameters and memory. */
int cmd_model(int argc, char **argv);

/* `retool model merge` (cmd_model_merge.c). */
int cmd_model_merge(int argc, char **argv);
/* Prints `model info`'s memory plan of a training step (train sft|grpo|ppo, tokens rows a forward/backward, kl: a
 * reference model, recompute: activation recomputation, rollouts live sequences of rollout_tokens, lora_rank > 0:
 * LoRA adapters on a frozen base) and whether it
 * fits now; returns an exit code. */
int cmd_model_info_plan(const model_config *c, const char *train, long long tokens, int kl, int recompute,
                        long long rollouts, long long rollout_tokens, long long lora_rank, int kv_bf16);

/* `retool report RUN...`: one self-contained HTML report of runs' curves and sample trajectories. */
int cmd_report(int argc, char **argv);

/* `retool sft`: supervised fine-tuning on trajectory JSONL. */
int cmd_sft(int argc, char **argv);

/* `retool score --model DIR`: log-probabilities of each token after the first, for JSON id arrays on stdin. */
int cmd_score(int argc, char **argv);

/* `retool tokenizer encode|decode|train`: Hugging Face byte-level BPE tokenizers and the BPE trainer. */
int cmd_tokenizer(int argc, char **argv);

/* `retool generate`: tool-integrated rollouts for a file of problems, scored, as trajectory JSONL. */
int cmd_generate(int argc, char **argv);

/* `retool rl`: PPO / GRPO with tool-integrated rollouts. */
int cmd_rl(int argc, char **argv);

/* `retool sandbox run|serve|doctor`: isolated Python execution, the SandboxFusion-compatible server, host checks. */
int cmd_sandbox(int argc, char **argv);

/* `retool sandbox serve`: the HTTP server (src/cli/cmd_sandbox_serve.c). */
int cmd_sandbox_serve(int argc, char **argv);

/* `retool sandbox doctor`: which protections are active (src/cli/cmd_sandbox_doctor.c). */
int cmd_sandbox_doctor(int argc, char **argv);

/* `retool serve`: the OpenAI-compatible server with tool-integrated answers, budgets, review flags, metrics. */
int cmd_serve(int argc, char **argv);

/* `retool review list|show|approve|reject`: the review queue of flagged answers (src/cli/cmd_review.c). */
int cmd_review(int argc, char **argv);

/* `retool dashboard`: the operations dashboard on its own (src/cli/cmd_dashboard.c). */
int cmd_dashboard(int argc, char **argv);

/* `retool chat`: interactive tool-integrated answers, streamed with the interpreter output. */
int cmd_chat(int argc, char **argv);

#endif
