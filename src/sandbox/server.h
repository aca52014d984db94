/* The SandboxFusion-compatible HTTP server over libmicrohttpd: POST /run_code, POST /run_jupyter, GET /v1/ping.
 * 429 when the pool's queue is full, 413 over the body cap, 400 for malformed requests, never a hang. */
#ifndef RETOOL_SANDBOX_SERVER_H
#define RETOOL_SANDBOX_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "sandbox/audit.h"
#include "sandbox/sandbox.h"

/* Everything one request can make the server hold is capped here (docs/SANDBOX.md, "Limits per client"). */
typedef struct sbx_server_config {
    const char *host;          /* IPv4 address to bind ("127.0.0.1") */
    int port;                  /* 0 picks a free port */
    size_t max_body_bytes;     /* larger bodies get 413, before they are read when Content-Length says so (16 MiB) */
    int max_connections;       /* concurrent connections (256) */
    int max_client_conns;      /* concurrent connections from one peer address (32) */
    double read_timeout_s;     /* a connection idle this long, or a body not in this long after its headers, is
                                  dropped (30); a request waiting on the sandbox never times out this way */
    int64_t default_memory_mb; /* used for memory_limit_MB = -1 (1024) */
    int64_t max_memory_mb;     /* memory_limit_MB over this gets 400 (2048) */
    double max_run_timeout_s;  /* run_timeout, total_timeout and cell_timeout are capped to this (300) */
    int64_t max_fetch_bytes;   /* fetch_files of one request, all files together (8 MiB) */
    int64_t max_answer_bytes;  /* stdout + stderr of all cells of one /run_jupyter request (8 MiB) */
    sbx_audit *audit;          /* may be NULL */
} sbx_server_config;

typedef struct sbx_server sbx_server;

/* Fills cfg with the defaults. */
void sbx_server_config_default(sbx_server_config *cfg);

/* Starts serving pool; the pool must outlive the server. */
rt_status sbx_server_start(sbx_server **out, sbx_pool *pool, const sbx_server_config *cfg, rt_error *err);

/* The port actually bound. */
int sbx_server_port(const sbx_server *s);

/* Waits for the requests still in the sandbox (shut the pool down first to fail them at once) and for their answers
 * to be sent (5 s at most), stops, frees. */
void sbx_server_stop(sbx_server *s);

/* A minimal HTTP/1.1 client for loopback use (tests, benchmarks, remote sandboxes): sends method path with body
 * (may be NULL) to host:port; *status gets the HTTP status, *resp the body (malloc'd, NUL-terminated). */
rt_status sbx_http_request(const char *host, int port, const char *method, const char *path, const char *body,
                           size_t body_len, double timeout_s, int *status, char **resp, size_t *resp_len,
                           rt_error *err);

#endif
