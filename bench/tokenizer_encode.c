/* Encode throughput of retool's tokenizer vs Hugging Face's tokenizers.js (the reference), same text, same run.
 *   build/bench/tokenizer_encode [MB [TOKENIZER_DIR...]]     (default: 10 MB, the Qwen3 and Llama 3 fixtures)
 * Generates MB of mixed text (tests/tokenizer/gen_corpus.py --text), encodes it line by line on one thread with
 * retool, then with node tests/node/tokenizer_ref.mjs bench, checks both produced the same number of tokens, and
 * prints MB/s, the ratios by wall time and by CPU time (the steadier one on a loaded machine; node's includes its
 * GC threads), and peak memory (retool: this process's max RSS; reference: node's RSS at the end). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../tests/base/fixtures.h"
#include "base/fileio.h"
#include "base/timer.h"
#include "tokenizer/tokenizer.h"

static double max_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_one(const char *tokdir, const char *text_path, const char *text, size_t len) {
    rt_error err;
    rt_err_clear(&err);
    double t0 = rt_time_now();
    tok_tokenizer *tok;
    if (tok_load(tokdir, &tok, &err)) {
        fprintf(stderr, "tokenizer_encode: %s\n", err.msg);
        return 1;
    }
    double t_load = rt_time_now() - t0;
    tok_ids ids = {0};
    size_t tokens = 0;
    t0 = rt_time_now();
    double c0 = cpu_now();
    for (size_t i = 0; i <= len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        ids.len = 0;
        if (tok_encode(tok, text + i, e - i, 0, &ids, &err)) {
            fprintf(stderr, "tokenizer_encode: %s\n", err.msg);
            return 1;
        }
        tokens += ids.len;
        i = e + 1;
    }
    double t_enc = rt_time_now() - t0, c_enc = cpu_now() - c0;
    double rss = max_rss_mb();
    tok_ids_free(&ids);
    tok_free(tok);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "node tests/node/tokenizer_ref.mjs bench '%s' '%s'", tokdir, text_path);
    FILE *p = popen(cmd, "r");
    char line[512] = {0};
    double ref_s = 0, ref_rss = 0, ref_cpu = 0;
    long long ref_tokens = -1;
    if (p && fgets(line, sizeof line, p)) {
        const char *s = strstr(line, "\"seconds\":"), *t = strstr(line, "\"tokens\":"),
                   *r = strstr(line, "\"rss_mb\":");
        if (s) ref_s = atof(s + 10);
        if (t) ref_tokens = atoll(t + 9);
        if (r) ref_rss = atof(r + 9);
        const char *c = strstr(line, "\"cpu_seconds\":");
        if (c) ref_cpu = atof(c + 14);
    }
    if (p) pclose(p);
    double mb = (double)len / 1048576.0;
    printf("%s: %.1f MB, %zu tokens\n", tokdir, mb, tokens);
    printf("  retool        load %.2f s, encode %.2f s wall = %6.2f MB/s, %.2f s CPU, peak RSS %.0f MB (text "
           "included)\n",
           t_load, t_enc, mb / t_enc, c_enc, rss);
    if (ref_s <= 0 || ref_tokens < 0) {
        printf("  reference     did not run (install it: scripts/install-deps.sh --test)\n");
        return 1;
    }
    printf("  tokenizers.js encode %.2f s wall = %6.2f MB/s, %.2f s CPU, RSS %.0f MB\n", ref_s, mb / ref_s, ref_cpu,
           ref_rss);
    printf("  ratio         retool is %.1fx the reference by wall time, %.1fx by CPU time%s\n", ref_s / t_enc,
           ref_cpu / c_enc, (long long)tokens == ref_tokens ? "" : "  (TOKEN COUNTS DIFFER)");
    return (long long)tokens == ref_tokens ? 0 : 1;
}

int main(int argc, char **argv) {
    double mb = argc > 1 ? atof(argv[1]) : 10.0;
    const char *defaults[] = {FIXTURE_TOK_QWEN3, FIXTURE_TOK_LLAMA3};
    const char *const *dirs = argc > 2 ? (const char *const *)argv + 2 : defaults;
    int ndirs = argc > 2 ? argc - 2 : 2;
    char dir[] = "/tmp/retool-bench-tok-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256], cmd[512];
    snprintf(path, sizeof path, "%s/text.txt", dir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/tokenizer/gen_corpus.py --text '%s' %.0f 1", path,
             mb * 1048576.0);
    if (system(cmd) != 0) return 1;
    char *text;
    size_t len;
    rt_error err;
    if (rt_file_read_all(path, &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < ndirs; i++)
        rc |= bench_one(dirs[i], path, text, len);
    free(text);
    unlink(path);
    rmdir(dir);
    return rc;
}
