/* `retool dashboard`: the operations dashboard (serve/dash.h) on its own, over a review queue and an audit log
 * written by earlier or running `retool serve` processes. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "serve/dash.h"

int cmd_dashboard(int argc, char **argv) {
    dash_config dc;
    memset(&dc, 0, sizeof dc);
    const char *host = "127.0.0.1";
    long long port = 8080;
    const cli_flag flags[] = {
        {"review-queue", CLI_FLAG_STRING, &dc.review_queue, "FILE", "the review queue of retool serve (JSONL)"},
        {"audit-log", CLI_FLAG_STRING, &dc.audit_log, "FILE", "the audit log of retool serve (JSONL)"},
        {"dashboard-token-file", CLI_FLAG_STRING, &dc.token_file, "FILE", "the secret token (required)"},
        {"host", CLI_FLAG_STRING, &host, "ADDR", "IPv4 address to listen on (default 127.0.0.1)"},
        {"port", CLI_FLAG_INT, &port, "PORT", "port (default 8080; 0 picks a free one and prints it)"},
        {"reviewer", CLI_FLAG_STRING, &dc.reviewer, "NAME",
         "recorded with decisions that name no reviewer "
         "(default dashboard)"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv,
                       "retool dashboard --review-queue FILE --audit-log FILE --dashboard-token-file FILE [--port P]",
                       "Serves the operations dashboard under /ui/: the flagged answers to approve or reject (the "
                       "same queue file and locking as retool review), every tool call of the audit log, and the "
                       "cost and health of the pilot. Every page needs the token. SIGTERM or SIGINT stops it. See "
                       "docs/SERVE.md.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    if (args.npositional) {
        cli_args_free(&args);
        return cli_fail("dashboard", CLI_EXIT_USAGE, "takes no arguments");
    }
    cli_args_free(&args);
    if (!dc.token_file)
        return cli_fail("dashboard", CLI_EXIT_USAGE,
                        "--dashboard-token-file FILE is required: the dashboard can "
                        "approve answers and is never served without a token");
    if (!dc.review_queue && !dc.audit_log)
        return cli_fail("dashboard", CLI_EXIT_USAGE, "give --review-queue FILE, --audit-log FILE or both");
    if (port < 0 || port > 65535) return cli_fail("dashboard", CLI_EXIT_USAGE, "--port must be 0..65535");
    sigset_t set;
    cli_block_stop_signals(&set);
    dash *d = NULL;
    dash_server *srv = NULL;
    rt_error err;
    rt_status st = dash_open(&d, &dc, &err);
    if (!st) st = dash_server_start(&srv, d, host, (int)port, &err);
    if (st) {
        dash_close(d);
        return cli_fail_err("dashboard", &err);
    }
    printf("retool dashboard: listening on http://%s:%d/ui/\n", host, dash_server_port(srv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    rt_log_info("dashboard: signal %d, shutting down", sig);
    dash_server_stop(srv);
    dash_close(d);
    return CLI_EXIT_OK;
}
