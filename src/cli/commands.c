#include "cli/commands.h"

#include <stddef.h>

#include "cli/cli.h"

/* The commands `retool --help` lists, in the order shown. */
const cli_command cli_commands[] = {
    {"demo", "run the default demo: text-only vs tool-integrated RL side by side (not built yet)", cmd_demo},
    {"json", "check JSON and JSONL files, naming the first bad line and column", cmd_json},
    {"model", "create a randomly initialised model folder; describe a model and the memory it needs", cmd_model},
    {"score", "teacher-forced log-probabilities of token-id lines (JSON arrays) read on stdin", cmd_score},
    {NULL, NULL, NULL},
};
