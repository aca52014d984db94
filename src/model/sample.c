/* Sampling. top-k and top-p pick their candidate set with a three-way quickselect on probabilities (expected O(V)):
 * the accepted candidates gather at the front of the index array, in no particular order, which sampling does not
 * need. */
#include "model/sample.h"

#include <math.h>
#include <stdlib.h>

int model_sample_buf_init(model_sample_buf *b, int64_t V) {
    b->V = V;
    b->prob = malloc((size_t)V * sizeof(float));
    b->idx = malloc((size_t)V * sizeof(int32_t));
    if (!b->prob || !b->idx) {
        model_sample_buf_free(b);
        return 0;
    }
    return 1;
}

void model_sample_buf_free(model_sample_buf *b) {
    free(b->prob);
    free(b->idx);
    b->prob = NULL;
    b->idx = NULL;
}

int model_is_stop(const int32_t *stop, size_t n, int32_t tok) {
    for (size_t i = 0; i < n; i++)
        if (stop[i] == tok) return 1;
    return 0;
}

static int32_t argmax(const float *z, int64_t V) {
    int64_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (z[i] > z[best]) best = i;
    return (int32_t)best;
}

/* prob = softmax(z / T); returns log of the normaliser's terms: logp(i) = z_i/T - mx - log(sum). */
static void softmax_t(const float *z, int64_t V, double T, float *prob, double *mx_out, double *lsum_out) {
    double mx = -INFINITY;
    for (int64_t i = 0; i < V; i++) mx = z[i] / T > mx ? z[i] / T : mx;
    double sum = 0;
    for (int64_t i = 0; i < V; i++) {
        prob[i] = (float)exp(z[i] / T - mx);
        sum += prob[i];
    }
    for (int64_t i = 0; i < V; i++) prob[i] = (float)(prob[i] / sum);
    *mx_out = mx;
    *lsum_out = log(sum);
}

/* Partitions idx[lo, hi) by prob around pivot into > | == | <; returns the bounds of the == block. */
static void partition3(const float *p, int32_t *idx, int64_t lo, int64_t hi, float pivot, int64_t *eq_lo,
                       int64_t *eq_hi) {
    int64_t lt = lo, i = lo, gt = hi; /* [lo,lt): >, [lt,i): ==, [gt,hi): < */
    while (i < gt) {
        float v = p[idx[i]];
        if (v > pivot) {
            int32_t t = idx[lt];
            idx[lt++] = idx[i];
            idx[i++] = t;
        } else if (v < pivot) {
            int32_t t = idx[--gt];
            idx[gt] = idx[i];
            idx[i] = t;
        } else {
            i++;
        }
    }
    *eq_lo = lt;
    *eq_hi = gt;
}

static float pivot_of(const float *p, const int32_t *idx, int64_t lo, int64_t hi) {
    float a = p[idx[lo]], b = p[idx[lo + (hi - lo) / 2]], c = p[idx[hi - 1]], t;
    if (a > b) t = a, a = b, b = t;
    if (b > c) t = b, b = c, c = t;
    if (a > b) t = a, a = b, b = t;
    return b; /* median of three */
}

/* Moves the k most probable of idx[0, n) to the front (any order among themselves). */
static void select_top_k(const float *p, int32_t *idx, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n;
    while (hi - lo > 1) {
        int64_t el, eh;
        partition3(p, idx, lo, hi, pivot_of(p, idx, lo, hi), &el, &eh);
        if (k < el) hi = el;
        else if (k <= eh) return;
        else lo = eh;
    }
}

/* The smallest prefix set whose mass reaches need (the most probable first): returns its size, the set at the front. */
static int64_t select_top_p(const float *p, int32_t *idx, int64_t n, double need) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t el, eh;
        partition3(p, idx, lo, hi, pivot_of(p, idx, lo, hi), &el, &eh);
        double gt = 0, eq = 0;
        for (int64_t i = lo; i < el; i++) gt += p[idx[i]];
        for (int64_t i = el; i < eh; i++) eq += p[idx[i]];
        if (gt >= need && el > lo) {
            hi = el;
        } else if (gt + eq >= need || eh == hi) {
            double each = eh > el ? eq / (double)(eh - el) : 0;
            int64_t take = each > 0 ? (int64_t)ceil((need - gt) / each - 1e-9) : 0;
            if (take < 1) take = 1;
            if (take > eh - el) take = eh - el;
            return el + take;
        } else {
            need -= gt + eq;
            lo = eh;
        }
    }
    return lo > 0 ? lo : 1;
}

int64_t model_sample_support(const model_sampler *s, const float *logits, model_sample_buf *b) {
    int64_t V = b->V;
    if (s->temperature <= 0) {
        b->idx[0] = argmax(logits, V);
        return 1;
    }
    softmax_t(logits, V, s->temperature, b->prob, &b->mx, &b->lsum);
    for (int64_t i = 0; i < V; i++) b->idx[i] = (int32_t)i;
    int64_t n = V;
    if (s->top_k > 0 && s->top_k < V) {
        select_top_k(b->prob, b->idx, V, s->top_k);
        n = s->top_k;
    }
    if (s->top_p < 1) {
        double mass = 0;
        for (int64_t i = 0; i < n; i++) mass += b->prob[b->idx[i]];
        n = select_top_p(b->prob, b->idx, n, s->top_p * mass);
    }
    return n;
}

/* A draw from the whole temperature-scaled distribution (no top-k, no top-p): one pass for the maximum, one for the
 * exponentials and their sum (kept unnormalised), one cumulative scan to the drawn mass; no index array. */
static int32_t sample_full(double T, const float *z, model_sample_buf *b, rt_rng *rng, float *logp) {
    int64_t V = b->V;
    float zmax = z[0];
    for (int64_t i = 1; i < V; i++)
        zmax = z[i] > zmax ? z[i] : zmax;
    double mx = T == 1.0 ? (double)zmax : zmax / T, sum = 0;
    float *p = b->prob;
    if (T == 1.0)
        for (int64_t i = 0; i < V; i++)
            sum += p[i] = (float)exp(z[i] - mx);
    else
        for (int64_t i = 0; i < V; i++)
            sum += p[i] = (float)exp(z[i] / T - mx);
    b->mx = mx;
    b->lsum = log(sum);
    double u = rt_rng_uniform(rng) * sum, acc = 0;
    int32_t tok = (int32_t)(V - 1);
    for (int64_t i = 0; i < V; i++) {
        acc += p[i];
        if (u < acc) {
            tok = (int32_t)i;
            break;
        }
    }
    /* u past the last partial sum (rounding): the last possible token */
    while (p[tok] == 0.0f && tok > 0)
        tok--;
    if (logp) *logp = (float)(z[tok] / T - mx - b->lsum);
    return tok;
}

int32_t model_sample(const model_sampler *s, const float *logits, model_sample_buf *b, rt_rng *rng, float *logp) {
    int64_t V = b->V;
    if (s->temperature <= 0) {
        int32_t t = argmax(logits, V);
        if (logp) {
            double mx, lsum;
            softmax_t(logits, V, 1.0, b->prob, &mx, &lsum);
            *logp = (float)(logits[t] - mx - lsum);
        }
        return t;
    }
    if ((s->top_k <= 0 || s->top_k >= V) && s->top_p >= 1) return sample_full(s->temperature, logits, b, rng, logp);
    int64_t n = model_sample_support(s, logits, b);
    double mass = 0;
    for (int64_t i = 0; i < n; i++) mass += b->prob[b->idx[i]];
    double u = rt_rng_uniform(rng) * mass, acc = 0;
    int32_t tok = b->idx[n - 1];
    for (int64_t i = 0; i < n; i++) {
        acc += b->prob[b->idx[i]];
        if (u < acc) {
            tok = b->idx[i];
            break;
        }
    }
    if (logp) *logp = (float)(logits[tok] / s->temperature - b->mx - b->lsum);
    return tok;
}
