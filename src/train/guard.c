#include "train/guard.h"

#include <math.h>

const char *train_nonfinite_grad(const model *m) {
    if (!m->grads) return NULL;
    for (size_t t = 0; t < m->ntensors; t++) {
        const float *g = m->grads + m->tensors[t].offset;
        for (size_t i = 0; i < m->tensors[t].numel; i++)
            if (!isfinite(g[i])) return m->tensors[t].name;
    }
    return NULL;
}

rt_status train_guard(const model *m, double loss, const char *what, int64_t step, rt_error *err) {
    const char *bad = train_nonfinite_grad(m);
    if (isfinite(loss) && !bad) return RT_OK;
    return rt_err_set(err, RT_ERANGE,
                      "%s step %lld diverged: loss %g, %s%s; the step was not applied and the last checkpoint is "
                      "intact",
                      what, (long long)step, loss, bad ? "first non-finite gradient in " : "gradients finite",
                      bad ? bad : "");
}
