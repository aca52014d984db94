/* libFuzzer target for the model readers: safetensors headers (st_open_file) and config.json (model_config_load).
 * Built only by tests/long/fuzz_model_io.sh (clang -fsanitize=fuzzer,address -DRETOOL_FUZZ); in the normal build this
 * file compiles to nothing. The first input byte picks the reader (even: safetensors, odd: config); the rest is the
 * file. Whatever parses must be fully readable, convert to f32, and survive a write -> read round trip unchanged. */
#ifdef RETOOL_FUZZ
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "model/config.h"
#include "model/safetensors.h"

static char dir[64], in_path[128], out_path[128];

static void write_input(const uint8_t *data, size_t size) {
    FILE *fp = fopen(in_path, "wb");
    if (!fp) abort();
    if (size && fwrite(data, 1, size, fp) != size) abort();
    fclose(fp);
}

/* Reads every byte of every tensor, converts the float ones, writes them back out and reads that copy. */
static void exercise(const st_set *set) {
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < set->ntensors; i++) {
        const st_tensor *t = &set->tensors[i];
        const unsigned char *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sink ^= p[k];
        if (t->dtype == ST_F32 || t->dtype == ST_BF16 || t->dtype == ST_F16 || t->dtype == ST_F64) {
            size_t n = (size_t)st_numel(t);
            if (n > (1u << 22)) continue;
            float *f = malloc(n * sizeof *f + 4);
            rt_error e;
            if (st_to_f32(t, f, &e) != RT_OK) abort();
            free(f);
        }
    }
    rt_error e;
    if (st_write_file(out_path, set->tensors, set->ntensors, NULL, &e) != RT_OK) {
        /* names that are not valid UTF-8 are refused by the writer; nothing else may fail */
        if (!strstr(e.msg, "not UTF-8")) {
            fprintf(stderr, "write failed: %s\n", e.msg);
            abort();
        }
        return;
    }
    st_set back;
    if (st_open_file(out_path, &back, &e) != RT_OK) {
        fprintf(stderr, "re-read failed: %s\n", e.msg);
        abort();
    }
    if (back.ntensors != set->ntensors) abort();
    for (size_t i = 0; i < set->ntensors; i++) {
        const st_tensor *a = &set->tensors[i], *b = st_find(&back, a->name);
        if (!b || b->dtype != a->dtype || b->ndim != a->ndim || b->nbytes != a->nbytes ||
            memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) || memcmp(a->data, b->data, a->nbytes))
            abort();
    }
    st_close(&back);
    (void)sink;
}

static void cleanup(void) {
    unlink(in_path);
    unlink(out_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/retool-fuzz-XXXXXX");
    if (!mkdtemp(dir)) abort();
    snprintf(in_path, sizeof in_path, "%s/in", dir);
    snprintf(out_path, sizeof out_path, "%s/out.safetensors", dir);
    rt_log_set_level(RT_LOG_ERROR);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    write_input(data + 1, size - 1);
    rt_error e;
    if (data[0] % 2 == 0) {
        st_set set;
        if (st_open_file(in_path, &set, &e) == RT_OK) {
            exercise(&set);
            st_close(&set);
        } else if (!strstr(e.msg, in_path)) {
            fprintf(stderr, "error does not name the file: %s\n", e.msg);
            abort();
        }
    } else {
        model_config c;
        if (model_config_load(in_path, &c, &e) == RT_OK) {
            (void)model_config_param_count(&c);
            if (model_config_save(out_path, &c, &e) != RT_OK) abort();
            model_config d;
            if (model_config_load(out_path, &d, &e) != RT_OK || memcmp(&c, &d, sizeof c) != 0) {
                fprintf(stderr, "config round trip differs: %s\n", e.msg);
                abort();
            }
        } else if (!strstr(e.msg, in_path)) {
            fprintf(stderr, "error does not name the file: %s\n", e.msg);
            abort();
        }
    }
    return 0;
}
#else
typedef int fuzz_safetensors_needs_RETOOL_FUZZ; /* keeps the normal build's translation unit non-empty */
#endif
