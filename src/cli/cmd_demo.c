#include <stdio.h>

#include "cli/cli.h"
#include "cli/commands.h"

int cmd_demo(int argc, char **argv) {
    cli_args args;
    static const cli_flag flags[] = {0};
    int rc = cli_parse(argc, argv, "retool demo", "The default demo (DESIGN.md section 8).", flags, 0, &args);
    if (rc) return rc;
    cli_args_free(&args);
    return cli_fail("demo", CLI_EXIT_FAILURE,
                    "the default demo is not built yet (issue 8: tasks, cold start, evaluation, the demo); "
                    "nothing was run");
}
