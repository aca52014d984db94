/* SandboxFusion's HTTP API mapped onto the executor: request bodies in, response bodies out (exact field names as
 * SandboxFusion and the RL stacks that call it, e.g. verl, use them). Pure functions: no I/O. */
#ifndef RETOOL_SANDBOX_FUSION_H
#define RETOOL_SANDBOX_FUSION_H

#include <cjson/cJSON.h>

#include "sandbox/sandbox.h"

/* A parsed /run_code or /run_jupyter request; owns its buffers. */
typedef struct sbx_fusion_req {
    char *code; /* run_code */
    size_t code_len;
    char **cells; /* run_jupyter */
    size_t ncells;
    double cell_timeout_s, total_timeout_s;
    char *stdin_data;
    size_t stdin_len;
    sbx_file *files;
    size_t nfiles;
    char **fetch;
    size_t nfetch;
    sbx_limits limits;
    char language[64];
} sbx_fusion_req;

/* The most JSON values (and fetch_files names) a request may hold: a body past it is refused before it is parsed,
 * so that the parse costs at most a few MiB whatever the body (a 16 MiB array of zeros would cost ~730 MB). */
#define SBX_FUSION_MAX_VALUES 65536
#define SBX_FUSION_MAX_FETCH 1024

/* Parses a /run_code body (jupyter = 0) or a /run_jupyter body (jupyter = 1). RT_EINVAL names the bad field;
 * RT_EUNSUPPORTED when the language (or kernel) is not python. default_memory_mb replaces memory_limit_MB = -1;
 * a memory_limit_MB over max_memory_mb is refused (RT_EINVAL naming the cap). */
rt_status sbx_fusion_parse(const char *body, size_t len, int jupyter, int64_t default_memory_mb, int64_t max_memory_mb,
                           sbx_fusion_req *req, rt_error *err);

/* An upper bound on the JSON values in s (stops counting past max): one per '[', '{', ',' and ':' outside strings,
 * plus one. Linear, no allocation. */
size_t sbx_json_count_values(const char *s, size_t len, size_t max);

/* Frees a parsed request. */
void sbx_fusion_req_free(sbx_fusion_req *req);

/* The /run_code response for a result. */
cJSON *sbx_fusion_run_response(const sbx_result *res);

/* A response with status SandboxError and message (run_result and compile_result null). */
cJSON *sbx_fusion_error_response(const char *message);

/* Adds `cells` entries for run_jupyter: one {stdout, stderr, display, error} per executed cell. */
void sbx_fusion_add_cell(cJSON *cells, const sbx_result *res);

/* Returns a NUL-terminated copy of len bytes that is valid UTF-8: each invalid byte and each NUL becomes U+FFFD. */
char *sbx_utf8_sanitize(const char *s, size_t len);

#endif
