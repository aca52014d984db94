/* Softmax over the vocabulary: log-prob of a target, entropy, and the gradient of a weighted sum of both. */
#include <math.h>

#include "kernels/ops.h"

float kern_logits_stats(const float *z, int64_t V, int64_t target, float *entropy, float *lse) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    double sum = 0, sz = 0; /* sum e^(z-mx), sum e^(z-mx) * (z-mx) */
    for (int64_t i = 0; i < V; i++) {
        double d = (double)z[i] - mx, e = exp(d);
        sum += e;
        sz += e * d;
    }
    double l = log(sum);
    *lse = (float)(mx + l);
    *entropy = (float)(l - sz / sum);
    return target >= 0 ? (float)((double)z[target] - mx - l) : 0.0f;
}

void kern_logits_grad(float *z, int64_t V, int64_t target, float lse, float entropy, float dlogp, float dent) {
    /* d logp_y / dz_j = [j == y] - p_j;  d H / dz_j = -p_j (log p_j + H). Without a target logp is the constant 0. */
    if (target < 0) dlogp = 0.0f;
    for (int64_t j = 0; j < V; j++) {
        float lp = z[j] - lse, p = expf(lp);
        z[j] = p > 0 ? -dlogp * p - dent * p * (lp + entropy) : 0.0f;
    }
    if (target >= 0) z[target] += dlogp;
}

void kern_softmax(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        s += x[i];
    }
    float inv = (float)(1.0 / s);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}
