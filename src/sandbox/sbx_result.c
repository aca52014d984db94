/* Turns a worker's "done" frame into an sbx_result: bytes, flags, times, fetched files, and the status decided from
 * how the child ended (deadline, output cap, signal, MemoryError, memory-cgroup kills). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sbx_pool_internal.h"

static double num(const cJSON *o, const char *k, double d) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : d;
}

static const char *str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int flag(const cJSON *o, const char *k) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static char *take(const unsigned char *p, size_t n) {
    char *q = malloc(n + 1);
    if (!q) return NULL;
    if (n) memcpy(q, p, n);
    q[n] = 0;
    return q;
}

void sbx_result_from_worker(sbx_job *job, const cJSON *hdr, const unsigned char *body, size_t body_len,
                            int64_t oom_kills) {
    sbx_result *r = &job->res;
    const cJSON *blobs = cJSON_GetObjectItemCaseSensitive(hdr, "blobs");
    size_t lo = 0, le = 0, lf = 0;
    int nb = cJSON_GetArraySize(blobs);
    if (nb == 2 || nb == 3) {
        lo = (size_t)cJSON_GetArrayItem(blobs, 0)->valuedouble;
        le = (size_t)cJSON_GetArrayItem(blobs, 1)->valuedouble;
        if (nb == 3) lf = (size_t)cJSON_GetArrayItem(blobs, 2)->valuedouble;
    }
    if (lo > body_len || le > body_len - lo || lf > body_len - lo - le) lo = le = lf = 0;
    r->out = take(body, lo);
    r->out_len = r->out ? lo : 0;
    r->err = take(body + lo, le);
    r->err_len = r->err ? le : 0;
    r->out_truncated = flag(hdr, "out_trunc");
    r->err_truncated = flag(hdr, "err_trunc");
    r->exit_code = (int)num(hdr, "rc", -1);
    r->signal = (int)num(hdr, "sig", 0);
    r->wall_s = num(hdr, "wall", 0);
    r->cpu_s = num(hdr, "cpu", 0);
    /* Fetched files: [name, length] entries, their bytes one after the other in the third blob. */
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(hdr, "files");
    int nf = cJSON_GetArraySize(files);
    size_t off = lo + le, end = off + lf;
    if (nf > 0 && (r->files = calloc((size_t)nf, sizeof *r->files))) {
        const cJSON *f;
        cJSON_ArrayForEach(f, files) {
            const cJSON *nm = cJSON_GetArrayItem(f, 0), *ln = cJSON_GetArrayItem(f, 1);
            if (!cJSON_IsString(nm) || !cJSON_IsNumber(ln) || ln->valuedouble < 0 ||
                ln->valuedouble > (double)(end - off))
                break;
            size_t n = (size_t)ln->valuedouble;
            sbx_file *o = &r->files[r->nfiles];
            o->data = (unsigned char *)take(body + off, n);
            o->name = strdup(nm->valuestring);
            off += n;
            if (!o->data || !o->name) {
                free(o->data);
                free(o->name);
                continue;
            }
            o->len = n;
            r->nfiles++;
        }
    }
    const cJSON *missing = cJSON_GetObjectItemCaseSensitive(hdr, "missing");
    const cJSON *m;
    size_t moff = 0;
    cJSON_ArrayForEach(m, missing) {
        if (cJSON_IsString(m) && moff < sizeof r->message)
            moff += (size_t)snprintf(r->message + moff, sizeof r->message - moff, "%sfetch %s", moff ? "; " : "",
                                     m->valuestring);
    }
    const char *why = str(hdr, "why"), *exc = str(hdr, "exc");
    if (!strcmp(why, "timeout")) {
        r->status = SBX_TIMEOUT;
        snprintf(r->message, sizeof r->message, "wall-clock limit of %g s reached", job->limits.wall_s);
    } else if (!strcmp(why, "output")) {
        r->status = SBX_OUTPUT_LIMIT;
        snprintf(r->message, sizeof r->message, "output over the cap of %lld bytes",
                 (long long)job->limits.output_bytes);
    } else if (!strcmp(why, "full")) { /* only the light tier's import hook may say so, and only once per job */
        r->status = SBX_ERROR;
        snprintf(r->message, sizeof r->message, "the program wrote to the sandbox's status channel");
    } else if (!strcmp(why, "session")) {
        r->status = SBX_SANDBOX_ERROR;
        snprintf(r->message, sizeof r->message, "the session is no longer alive");
    } else if (!strcmp(exc, "SandboxSetup")) {
        r->status = SBX_SANDBOX_ERROR;
        snprintf(r->message, sizeof r->message, "sandbox setup failed: %.400s", r->err ? r->err : "");
    } else if (!strcmp(exc, "MemoryError") || (r->signal == SIGKILL && oom_kills > 0)) {
        /* before the CPU guess below: an OOM kill counted during this job is evidence, and cpu_s sums every process
         * of the run (the run cgroup), while RLIMIT_CPU applies to each process alone */
        r->status = SBX_MEMORY;
        snprintf(r->message, sizeof r->message, "memory limit of %lld MiB reached", (long long)job->limits.memory_mb);
    } else if (r->signal == SIGXCPU || (r->signal == SIGKILL && r->cpu_s >= job->limits.cpu_s - 0.05)) {
        r->status = SBX_TIMEOUT;
        snprintf(r->message, sizeof r->message, "CPU limit of %g s reached", job->limits.cpu_s);
    } else if (r->exit_code == 0 && r->signal == 0 && !exc[0]) {
        r->status = SBX_OK;
    } else {
        r->status = SBX_ERROR;
        if (r->signal)
            snprintf(r->message, sizeof r->message, "killed by signal %d (%s)", r->signal, strsignal(r->signal));
    }
}
