#include "helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/rng.h"

void th_tmpdir(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/retool-engine-XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
}

void th_sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

double th_rel_err(const float *a, const float *b, int64_t n) {
    double md = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = d; /* NaN propagates */
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return mb > 0 ? md / mb : md;
}

void th_ref_model(const char *dir, const char *arch, int seed, model_precision prec, int value_head, model *m) {
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s %s %d", dir, arch, seed);
    model_opts o = {.prec = prec, .value_head = value_head};
    rt_error err;
    cr_assert_eq(model_load(m, dir, &o, &err), RT_OK, "%s", err.msg);
}

void th_batch(int64_t nseq, const int64_t *lens, int64_t V, uint64_t seed, int32_t *tokens, int32_t *targets,
              int64_t *start) {
    rt_rng r;
    rt_rng_seed(&r, seed);
    start[0] = 0;
    for (int64_t s = 0; s < nseq; s++) {
        start[s + 1] = start[s] + lens[s];
        for (int64_t i = start[s]; i < start[s + 1]; i++) tokens[i] = (int32_t)rt_rng_below(&r, (uint64_t)V);
        for (int64_t i = start[s]; i < start[s + 1]; i++) targets[i] = i + 1 < start[s + 1] ? tokens[i + 1] : -1;
    }
}
