#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "sandbox/doctor.h"
#include "sandbox/sandbox.h"
#include "sandbox/server.h"

int cmd_sandbox_serve(int argc, char **argv) {
    const char *host = "127.0.0.1", *audit_path = NULL, *weaker = NULL;
    long long port = 8080, workers = 2, light = 2, queue = 0, max_body_mb = 16, memory = 1024, max_memory = 2048,
              max_fetch_mb = 8, max_answer_mb = 8, client_conns = 32, read_timeout = 30, uid_base = 0x70000000;
    const cli_flag flags[] = {
        {"host", CLI_FLAG_STRING, &host, "ADDR", "IPv4 address to listen on (default 127.0.0.1)"},
        {"port", CLI_FLAG_INT, &port, "PORT", "port (default 8080; 0 picks a free one and prints it)"},
        {"workers", CLI_FLAG_INT, &workers, "N",
         "workers with numpy and sympy loaded; they also hold sessions (default 2)"},
        {"light-workers", CLI_FLAG_INT, &light, "N",
         "extra workers with only the standard library loaded, for code that names no numpy/sympy: a cheaper fork "
         "(default 2; 0 = none)"},
        {"queue", CLI_FLAG_INT, &queue, "N", "jobs that may wait for a worker before 429 (default 8 x all workers)"},
        {"audit-log", CLI_FLAG_STRING, &audit_path, "FILE", "append one JSON line per request to FILE"},
        {"max-body-mb", CLI_FLAG_INT, &max_body_mb, "MB", "largest request body (default 16)"},
        {"memory-mb", CLI_FLAG_INT, &memory, "MB", "memory per run when memory_limit_MB is -1 (default 1024)"},
        {"allow-weaker-isolation", CLI_FLAG_STRING, &weaker, "NAME,...",
         "start although the host lacks these protections (cgroup-memory, cgroup-pids, uid-separation; see "
         "`retool sandbox doctor`)"},
        {"uid-base", CLI_FLAG_INT, &uid_base, "UID",
         "first host uid of the workers, as root: 2 per worker (default 1879048192; must not overlap /etc/subuid)"},
        {"max-memory-mb", CLI_FLAG_INT, &max_memory, "MB",
         "largest memory_limit_MB a request may ask for (default 2048)"},
        {"max-fetch-mb", CLI_FLAG_INT, &max_fetch_mb, "MB", "fetch_files of one request, all together (default 8)"},
        {"max-answer-mb", CLI_FLAG_INT, &max_answer_mb, "MB",
         "stdout + stderr of all cells of one /run_jupyter request (default 8)"},
        {"client-connections", CLI_FLAG_INT, &client_conns, "N", "connections from one address at once (default 32)"},
        {"read-timeout", CLI_FLAG_INT, &read_timeout, "S",
         "drop a connection idle this long, or a body not in this long after its headers (default 30)"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool sandbox serve [--host ADDR] [--port PORT] [--workers N] [--audit-log FILE]",
                       "Serves SandboxFusion's API (POST /run_code, POST /run_jupyter, GET /v1/ping) on top of the "
                       "sandbox pool. SIGTERM or SIGINT stops it cleanly: no child is left behind.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    cli_args_free(&args);
    if (workers < 1 || workers > 256) return cli_fail("sandbox serve", CLI_EXIT_USAGE, "--workers must be 1..256");
    if (light < 0 || light > 256) return cli_fail("sandbox serve", CLI_EXIT_USAGE, "--light-workers must be 0..256");
    if (port < 0 || port > 65535) return cli_fail("sandbox serve", CLI_EXIT_USAGE, "--port must be 0..65535");
    if (max_body_mb < 1) return cli_fail("sandbox serve", CLI_EXIT_USAGE, "--max-body-mb must be at least 1");
    if (uid_base < 1 || uid_base > 4000000000LL)
        return cli_fail("sandbox serve", CLI_EXIT_USAGE, "--uid-base must be 1..4000000000");
    unsigned allow_weaker = 0;
    rt_error perr;
    if (sbx_weaker_parse(weaker, &allow_weaker, &perr))
        return cli_fail("sandbox serve", CLI_EXIT_USAGE, "%s", perr.msg);
    if (memory < 16 || max_memory < memory)
        return cli_fail("sandbox serve", CLI_EXIT_USAGE, "--memory-mb must be at least 16 and at most --max-memory-mb");
    if (max_fetch_mb < 1 || max_fetch_mb > 1024 || max_answer_mb < 1 || max_answer_mb > 1024)
        return cli_fail("sandbox serve", CLI_EXIT_USAGE, "--max-fetch-mb and --max-answer-mb must be 1..1024");
    if (client_conns < 1 || read_timeout < 1)
        return cli_fail("sandbox serve", CLI_EXIT_USAGE, "--client-connections and --read-timeout must be at least 1");
    /* Block the stop signals before any thread starts, so only sigwait below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Fixed thresholds (glibc otherwise raises both after each large free, up to 32 and 64 MiB): buffers of 256 KiB or
     * more are mapped and unmapped on their own, and a thread arena's free top past 1 MiB goes back to the system, so
     * the server's RSS returns near its idle size after a burst of large requests (docs/SANDBOX.md). */
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    mallopt(M_TRIM_THRESHOLD, 1 << 20);
    rt_error err;
    rt_err_clear(&err);
    sbx_audit *audit = NULL;
    if (audit_path && sbx_audit_open(&audit, audit_path, &err)) return cli_fail_err("sandbox serve", &err);
    sbx_config cfg;
    sbx_config_default(&cfg);
    cfg.workers = (int)workers;
    cfg.light_workers = light ? (int)light : -1;
    cfg.queue_max = queue > 0 ? (int)queue : 8 * (int)(workers + light);
    cfg.allow_weaker = allow_weaker;
    cfg.uid_base = (uint32_t)uid_base;
    sbx_pool *pool;
    if (sbx_pool_init(&pool, &cfg, &err)) {
        sbx_audit_close(audit);
        return cli_fail_err("sandbox serve", &err);
    }
    sbx_server_config scfg;
    sbx_server_config_default(&scfg);
    scfg.host = host;
    scfg.port = (int)port;
    scfg.audit = audit;
    scfg.max_body_bytes = (size_t)max_body_mb << 20;
    scfg.default_memory_mb = memory;
    scfg.max_memory_mb = max_memory;
    scfg.max_fetch_bytes = max_fetch_mb << 20;
    scfg.max_answer_bytes = max_answer_mb << 20;
    scfg.max_client_conns = (int)client_conns;
    scfg.read_timeout_s = (double)read_timeout;
    sbx_server *srv;
    if (sbx_server_start(&srv, pool, &scfg, &err)) {
        sbx_pool_free(pool);
        sbx_audit_close(audit);
        return cli_fail_err("sandbox serve", &err);
    }
    printf("retool sandbox: listening on http://%s:%d with %lld workers\n", host, sbx_server_port(srv), workers);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    rt_log_info("sandbox serve: signal %d, shutting down", sig);
    sbx_pool_shutdown(pool); /* kills every worker; requests in flight get SandboxError at once */
    sbx_server_stop(srv);
    sbx_pool_free(pool);
    sbx_audit_close(audit);
    return CLI_EXIT_OK;
}

int cmd_sandbox_doctor(int argc, char **argv) {
    cli_args args;
    int rc = cli_parse(argc, argv, "retool sandbox doctor",
                       "Starts a sandbox worker, probes it from inside, and lists each protection as active or "
                       "MISSING with the reason. Exit code 1 when any is missing.",
                       NULL, 0, &args);
    if (rc) return rc;
    cli_args_free(&args);
    rt_error err;
    rt_err_clear(&err);
    int missing = 0;
    if (sbx_doctor_run(stdout, &missing, &err)) return cli_fail_err("sandbox doctor", &err);
    printf("%s\n", missing ? "some protections are missing (see above)" : "all protections active");
    return missing ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
