#include "cli/commands.h"

#include <stddef.h>

#include "cli/cli.h"

/* The commands `retool --help` lists, in the order shown. */
const cli_command cli_commands[] = {
    {"demo", "run the default demo: text-only vs tool-integrated RL side by side (not built yet)", cmd_demo},
    {"data", "generate synthetic problems, list the families, convert public dataset layouts", cmd_data},
    {"json", "check JSON and JSONL files, naming the first bad line and column", cmd_json},
    {NULL, NULL, NULL},
};
