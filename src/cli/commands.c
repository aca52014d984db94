#include "cli/commands.h"

#include <stddef.h>

#include "cli/cli.h"

/* The commands `retool --help` lists, in the order shown. */
const cli_command cli_commands[] = {
    {"demo", "run the default demo: text-only vs tool-integrated RL side by side (not built yet)", cmd_demo},
    {"json", "check JSON and JSONL files, naming the first bad line and column", cmd_json},
    {"sandbox", "run Python in the isolated sandbox: run FILE.py, serve (SandboxFusion API), doctor", cmd_sandbox},
    {NULL, NULL, NULL},
};
