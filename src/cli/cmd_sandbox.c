#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "sandbox/sandbox.h"

static int sandbox_run(int argc, char **argv) {
    double timeout = 10;
    long long memory = 1024, workers = 1;
    const char *stdin_path = NULL, *weaker = NULL;
    const cli_flag flags[] = {
        {"timeout", CLI_FLAG_DOUBLE, &timeout, "SECONDS", "wall-clock limit (default 10)"},
        {"memory-mb", CLI_FLAG_INT, &memory, "MB", "memory limit over the worker's baseline (default 1024)"},
        {"stdin", CLI_FLAG_STRING, &stdin_path, "FILE", "feed FILE to the program's stdin"},
        {"workers", CLI_FLAG_INT, &workers, "N", "worker processes to start (default 1)"},
        {"allow-weaker-isolation", CLI_FLAG_STRING, &weaker, "NAME,...",
         "run although the host lacks these protections (cgroup-memory, cgroup-pids, uid-separation)"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool sandbox run [--timeout S] [--memory-mb MB] [--stdin FILE] FILE.py",
                       "Runs one Python file in the sandbox (the same path the server and the RL rollouts use) and "
                       "prints its stdout, its stderr and a status line.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    if (args.npositional != 1) {
        cli_args_free(&args);
        return cli_fail("sandbox run", CLI_EXIT_USAGE, "expected exactly one FILE.py");
    }
    rt_error err;
    rt_err_clear(&err);
    unsigned allow_weaker = 0;
    if (sbx_weaker_parse(weaker, &allow_weaker, &err)) {
        cli_args_free(&args);
        return cli_fail("sandbox run", CLI_EXIT_USAGE, "%s", err.msg);
    }
    char *code = NULL, *in = NULL;
    size_t code_len = 0, in_len = 0;
    if (rt_file_read_all(args.positional[0], &code, &code_len, &err) ||
        (stdin_path && rt_file_read_all(stdin_path, &in, &in_len, &err))) {
        cli_args_free(&args);
        free(code);
        return cli_fail_err("sandbox run", &err);
    }
    sbx_config cfg;
    sbx_config_default(&cfg);
    cfg.workers = (int)workers;
    cfg.light_workers = -1; /* one file: the light tier would only add a process to start */
    cfg.allow_weaker = allow_weaker;
    sbx_pool *pool;
    if (sbx_pool_init(&pool, &cfg, &err)) {
        cli_args_free(&args);
        free(code);
        free(in);
        return cli_fail_err("sandbox run", &err);
    }
    sbx_request req = {.code = code, .code_len = code_len, .stdin_data = in, .stdin_len = in_len};
    req.limits.wall_s = timeout;
    req.limits.memory_mb = memory;
    sbx_result res;
    int status = CLI_EXIT_OK;
    if (sbx_pool_run(pool, &req, &res, &err)) {
        status = cli_fail_err("sandbox run", &err);
    } else {
        fwrite(res.out, 1, res.out_len, stdout);
        fwrite(res.err, 1, res.err_len, stderr);
        fflush(stdout);
        fprintf(stderr, "[sandbox] status=%s exit_code=%d signal=%d wall=%.3fs cpu=%.3fs%s%s%s%s\n",
                sbx_status_name(res.status), res.exit_code, res.signal, res.wall_s, res.cpu_s,
                res.out_truncated ? " stdout-truncated" : "", res.err_truncated ? " stderr-truncated" : "",
                res.message[0] ? " : " : "", res.message);
        if (res.status != SBX_OK) status = CLI_EXIT_FAILURE;
        sbx_result_free(&res);
    }
    sbx_pool_free(pool);
    free(code);
    free(in);
    cli_args_free(&args);
    return status;
}

int cmd_sandbox(int argc, char **argv) {
    static const cli_command subs[] = {
        {"run", "run one Python file in the sandbox and print the result", sandbox_run},
        {"serve", "serve the SandboxFusion-compatible HTTP API (POST /run_code, /run_jupyter, GET /v1/ping)",
         cmd_sandbox_serve},
        {"doctor", "report which sandbox protections are active on this host, which are not, and why",
         cmd_sandbox_doctor},
        {NULL, NULL, NULL},
    };
    return cli_dispatch_sub("sandbox", argc, argv, subs);
}
