#include "cli/cli.h"
#include "cli/commands.h"

int cmd_sandbox_serve(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail("sandbox serve", CLI_EXIT_FAILURE, "not built yet");
}

int cmd_sandbox_doctor(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail("sandbox doctor", CLI_EXIT_FAILURE, "not built yet");
}
