/* `retool serve`: the OpenAI-compatible server over a model folder, with the sandbox behind its tool calls. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "kernels/pool.h"
#include "rollout/exec_spec.h"
#include "serve/audit.h"
#include "serve/backend.h"
#include "serve/server.h"

static const char *base_name(const char *dir) {
    static char buf[256];
    snprintf(buf, sizeof buf, "%s", dir);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    const char *slash = strrchr(buf, '/');
    return slash ? slash + 1 : buf;
}

int cmd_serve(int argc, char **argv) {
    serve_config c;
    serve_config_default(&c);
    const char *model_dir = NULL, *sandbox = "local", *audit_path = NULL, *tmpl_name = "auto", *tools = "stateless";
    const char *model_name = NULL;
    long long port = c.port, workers = 2, threads = 2, max_concurrent = c.max_concurrent, batch = 16;
    long long max_calls = c.caps.max_tool_calls, max_tokens = c.caps.max_tokens, max_n = c.caps.max_n;
    long long audit_max = 64LL << 20, audit_keep = 5, max_body_kb = 1024, interp = 2048;
    double max_secs = c.caps.max_tool_seconds, agreement = c.review.min_agreement, window_ms = 10, request_s = 0;
    int f32 = 0, dashboard = 0;
    const char *token_file = NULL;
    const cli_flag flags[] = {
        {"model", CLI_FLAG_STRING, &model_dir, "DIR", "model folder with its tokenizer (required)"},
        {"model-name", CLI_FLAG_STRING, &model_name, "NAME", "the id clients use (default: the folder's name)"},
        {"host", CLI_FLAG_STRING, &c.host, "ADDR", "IPv4 address to listen on (default 127.0.0.1)"},
        {"port", CLI_FLAG_INT, &port, "PORT", "port (default 8000; 0 picks a free one and prints it)"},
        {"sandbox", CLI_FLAG_STRING, &sandbox, "SPEC", "local (default), SandboxFusion URLs separated by commas, or none"},
        {"workers", CLI_FLAG_INT, &workers, "N", "local sandbox workers with numpy/sympy (default 2; 2 light ones serve other code)"},
        {"tools", CLI_FLAG_STRING, &tools, "MODE", "stateless (default: each code block runs alone) or stateful"},
        {"max-tool-calls", CLI_FLAG_INT, &max_calls, "N", "cap on tool calls per answer (default 8)"},
        {"max-tool-seconds", CLI_FLAG_DOUBLE, &max_secs, "S", "cap on one tool call's wall-clock time (default 10)"},
        {"max-tokens", CLI_FLAG_INT, &max_tokens, "N", "cap on response tokens per answer (default 1024)"},
        {"max-n", CLI_FLAG_INT, &max_n, "N", "cap on samples per request (default 8)"},
        {"max-interpreter-tokens", CLI_FLAG_INT, &interp, "N", "interpreter-output tokens per answer (default 2048)"},
        {"max-request-seconds", CLI_FLAG_DOUBLE, &request_s, "S", "wall-clock cap of one answer (default none)"},
        {"max-concurrent", CLI_FLAG_INT, &max_concurrent, "N", "requests in flight before 429 (default 64)"},
        {"max-body-kb", CLI_FLAG_INT, &max_body_kb, "KB", "largest request body before 413 (default 1024)"},
        {"batch", CLI_FLAG_INT, &batch, "N", "samples decoded together at most (default 16)"},
        {"batch-window-ms", CLI_FLAG_DOUBLE, &window_ms, "MS", "how long a request waits for others to batch with "
                                                              "(default 10)"},
        {"review-queue", CLI_FLAG_STRING, &c.review_queue, "FILE", "append flagged answers (JSONL) to FILE"},
        {"review-agreement", CLI_FLAG_DOUBLE, &agreement, "F", "flag when the samples' majority share is below F "
                                                               "(default 1: any disagreement)"},
        {"audit-log", CLI_FLAG_STRING, &audit_path, "FILE", "append one JSON line per tool call to FILE"},
        {"audit-max-bytes", CLI_FLAG_INT, &audit_max, "N", "rotate the audit log at N bytes (default 64 MiB; 0 never)"},
        {"audit-keep", CLI_FLAG_INT, &audit_keep, "K", "rotated audit logs kept, FILE.1 .. FILE.K (default 5)"},
        {"dashboard", CLI_FLAG_BOOL, &dashboard, NULL, "serve the operations dashboard under /ui/ (needs a token)"},
        {"dashboard-token-file", CLI_FLAG_STRING, &token_file, "FILE", "the dashboard's secret token (required with "
                                                                       "--dashboard)"},
        {"template", CLI_FLAG_STRING, &tmpl_name, "NAME", CLI_TEMPLATE_HELP},
        {"threads", CLI_FLAG_INT, &threads, "N", "compute threads (default 2)"},
        {"f32", CLI_FLAG_BOOL, &f32, NULL, "f32 products instead of bf16"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool serve --model DIR [--host ADDR] [--port PORT] [--sandbox SPEC] ...",
                       "Serves the model with an OpenAI-compatible API: POST /v1/chat/completions (tool-integrated "
                       "answers, streaming, n samples), GET /v1/models, GET /health, GET /metrics, and with "
                       "--dashboard the operations dashboard under /ui/. Requests set "
                       "their budgets within the caps; answers that look shaky are flagged and queued for review "
                       "(retool review). SIGTERM or SIGINT stops it cleanly. See docs/SERVE.md.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    cli_args_free(&args);
    const char *cmd = "serve";
    if (!model_dir) return cli_fail(cmd, CLI_EXIT_USAGE, "--model DIR is required");
    if (port < 0 || port > 65535) return cli_fail(cmd, CLI_EXIT_USAGE, "--port must be 0..65535");
    if (workers < 1 || workers > 256) return cli_fail(cmd, CLI_EXIT_USAGE, "--workers must be 1..256");
    if (max_calls < 0 || max_tokens < 1 || max_n < 1 || max_secs <= 0 || interp < 1)
        return cli_fail(cmd, CLI_EXIT_USAGE, "--max-tool-calls must be >= 0, --max-tool-seconds > 0, --max-tokens, "
                                             "--max-n and --max-interpreter-tokens >= 1");
    if (max_concurrent < 1 || max_concurrent > 100000) return cli_fail(cmd, CLI_EXIT_USAGE, "--max-concurrent must be 1..100000");
    if (batch < 1 || batch > 1024) return cli_fail(cmd, CLI_EXIT_USAGE, "--batch must be 1..1024");
    if (max_n > batch) return cli_fail(cmd, CLI_EXIT_USAGE, "--max-n (%lld) must not exceed --batch (%lld)", max_n, batch);
    if (agreement < 0 || agreement > 1) return cli_fail(cmd, CLI_EXIT_USAGE, "--review-agreement must be 0..1");
    if (audit_max < 0 || audit_keep < 1) return cli_fail(cmd, CLI_EXIT_USAGE, "--audit-max-bytes >= 0, --audit-keep >= 1");
    if (max_body_kb < 1 || window_ms < 0 || request_s < 0)
        return cli_fail(cmd, CLI_EXIT_USAGE, "--max-body-kb >= 1, --batch-window-ms and --max-request-seconds >= 0");
    if (token_file && !dashboard) return cli_fail(cmd, CLI_EXIT_USAGE, "--dashboard-token-file needs --dashboard");
    if (dashboard && !token_file)
        return cli_fail(cmd, CLI_EXIT_USAGE, "--dashboard needs --dashboard-token-file FILE: the dashboard can approve "
                                             "answers and is never served without a token");
    rollout_template tmpl;
    rt_error err;
    rt_err_clear(&err);
    if (rollout_template_parse(tmpl_name, &tmpl, &err)) return cli_fail_err(cmd, &err);
    if (!strcmp(tools, "stateless")) c.sched.tools = ROLLOUT_TOOLS_STATELESS;
    else if (!strcmp(tools, "stateful")) c.sched.tools = ROLLOUT_TOOLS_STATEFUL;
    else return cli_fail(cmd, CLI_EXIT_USAGE, "--tools must be stateless or stateful, not %s", tools);
    c.port = (int)port;
    c.model_name = model_name ? model_name : base_name(model_dir);
    c.max_concurrent = (int)max_concurrent;
    c.max_body_bytes = (size_t)max_body_kb << 10;
    c.caps.max_tool_calls = max_calls;
    c.caps.max_tool_seconds = max_secs;
    c.caps.max_tokens = max_tokens;
    c.caps.max_n = max_n;
    c.review.min_agreement = agreement;
    c.sched.max_batch = (size_t)batch;
    c.sched.window_s = window_ms / 1000.0;
    c.sched.max_interpreter_tokens = (size_t)interp;
    c.sched.max_request_seconds = request_s;
    /* Block the stop signals before any thread starts, so only sigwait below receives them. */
    sigset_t set;
    cli_block_stop_signals(&set);
    serve_model_backend *mb = NULL;
    rollout_exec_spec *exec = NULL;
    serve_audit audit;
    memset(&audit, 0, sizeof audit);
    serve_server *srv = NULL;
    dash *dsh = NULL;
    rt_status st = kern_init((int)threads, &err);
    if (!st) st = serve_model_backend_open(model_dir, (size_t)batch, tmpl, f32, &mb, &err);
    if (!st && strcmp(sandbox, "none")) st = rollout_exec_spec_open(sandbox, (int)workers, &exec, &err);
    rollout_executor xops;
    memset(&xops, 0, sizeof xops);
    if (!st && exec) {
        xops = rollout_exec_spec_ops(exec);
        c.sched.exec = &xops;
    }
    if (!st && audit_path) {
        st = serve_audit_open(&audit, audit_path, audit_max, (int)audit_keep, &err);
        if (!st) c.sched.audit = &audit;
    }
    if (!st && dashboard) {
        /* The live metrics are the server's: set once it has started. */
        dash_config dc = {c.review_queue, audit_path, token_file, NULL, NULL};
        st = dash_open(&dsh, &dc, &err);
        c.dashboard = dsh;
    }
    if (!st) {
        c.sched.backend = serve_model_backend_ops(mb);
        st = serve_server_start(&srv, &c, &err);
    }
    if (!st && dsh) dash_set_live(dsh, serve_server_metrics(srv));
    if (st) {
        dash_close(dsh);
        rt_error cerr;
        if (serve_audit_close(&audit, &cerr)) rt_log_error("serve: %s", cerr.msg);
        rollout_exec_spec_close(exec);
        serve_model_backend_close(mb);
        return cli_fail_err(cmd, &err);
    }
    printf("retool serve: model %s listening on http://%s:%d (sandbox %s)\n", c.model_name, c.host,
           serve_server_port(srv), exec ? sandbox : "none: text only");
    if (dsh) printf("retool serve: dashboard at http://%s:%d/ui/\n", c.host, serve_server_port(srv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    rt_log_info("serve: signal %d, shutting down", sig);
    serve_server_stop(srv);
    dash_close(dsh);
    st = serve_audit_close(&audit, &err);
    rollout_exec_spec_close(exec);
    serve_model_backend_close(mb);
    return st ? cli_fail_err(cmd, &err) : CLI_EXIT_OK;
}
