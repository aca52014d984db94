/* BPE training time: a 4k vocabulary on 20 MB of mixed text (the target: under a minute on 2 cores).
 *   build/bench/tokenizer_train [MB [VOCAB]]     (default: 20 MB, 4096)
 * The text is tests/tokenizer/gen_corpus.py --text (seed 2). The trainer is single-threaded. There is no
 * reference trainer to race (tokenizers.js cannot train), so the figure is compared with the target. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/timer.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char **argv) {
    double mb = argc > 1 ? atof(argv[1]) : 20.0;
    size_t vocab = argc > 2 ? (size_t)atol(argv[2]) : 4096;
    char dir[] = "/tmp/retool-bench-train-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256], out[256], cmd[1024];
    snprintf(path, sizeof path, "%s/text.txt", dir);
    snprintf(out, sizeof out, "%s/tok", dir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/tokenizer/gen_corpus.py --text '%s' %.0f 2", path,
             mb * 1048576.0);
    if (system(cmd) != 0) return 1;
    const char *files[] = {path};
    tok_train_opts o = {vocab, 2, 1, 0};
    rt_error err;
    rt_err_clear(&err);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    double t0 = rt_time_now();
    rt_status st = tok_train(files, 1, &o, out, &err);
    double t = rt_time_now() - t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (st) {
        fprintf(stderr, "tokenizer_train: %s\n", err.msg);
        return 1;
    }
    tok_tokenizer *tok;
    if (tok_load(out, &tok, &err)) {
        fprintf(stderr, "tokenizer_train: the trained tokenizer does not load: %s\n", err.msg);
        return 1;
    }
    printf("tokenizer train: %.1f MB -> vocabulary %zu in %.2f s wall, %.2f s CPU, one thread (target < 60 s: %.0fx "
           "under), peak RSS %.0f MB\n",
           mb, tok_vocab_size(tok), t, cpu, 60.0 / t, (double)ru.ru_maxrss / 1024.0);
    tok_free(tok);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
