#include "train/advantage.h"

#include <math.h>

void train_gae(const float *values, const uint8_t *mask, size_t T, float reward, float gamma, float lambda,
               float *adv, float *ret) {
    /* Walk back over model-written tokens: delta_t = r_t + gamma V(next) - V(t), next being the next model token. */
    double gae = 0.0;
    double next_value = 0.0; /* after the last model token the episode has ended */
    int seen_last = 0;
    for (size_t i = T; i-- > 0;) {
        if (!mask[i]) {
            adv[i] = 0.0f;
            ret[i] = 0.0f;
            continue;
        }
        double r = seen_last ? 0.0 : (double)reward;
        seen_last = 1;
        double delta = r + (double)gamma * next_value - (double)values[i];
        gae = delta + (double)gamma * (double)lambda * gae;
        adv[i] = (float)gae;
        ret[i] = (float)(gae + (double)values[i]);
        next_value = (double)values[i];
    }
}

size_t train_whiten(float *x, const uint8_t *mask, size_t n, int center, float eps) {
    double sum = 0.0, sq = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!mask[i]) continue;
        sum += x[i];
        count++;
    }
    if (count == 0) return 0;
    double mean = sum / (double)count;
    for (size_t i = 0; i < n; i++)
        if (mask[i]) sq += ((double)x[i] - mean) * ((double)x[i] - mean);
    double var = count > 1 ? sq / (double)(count - 1) : 0.0; /* unbiased, as torch.var */
    double inv = 1.0 / (sqrt(var) + (double)eps);
    for (size_t i = 0; i < n; i++) {
        if (!mask[i]) continue;
        double v = ((double)x[i] - mean) * inv;
        if (!center) v += mean;
        x[i] = (float)v;
    }
    return count;
}

void train_grpo_group_advantages(const float *rewards, size_t G, int scale_std, float eps, float *out) {
    double mean = 0.0, sq = 0.0;
    for (size_t i = 0; i < G; i++) mean += rewards[i];
    mean /= (double)G;
    for (size_t i = 0; i < G; i++) sq += ((double)rewards[i] - mean) * ((double)rewards[i] - mean);
    double std = sqrt(sq / (double)G);
    for (size_t i = 0; i < G; i++) {
        double a = (double)rewards[i] - mean;
        if (scale_std) a /= std + (double)eps;
        out[i] = (float)a;
    }
}

void train_grpo_batch_advantages(const int64_t *group, const float *rewards, size_t n, int scale_std, float eps,
                                 float *out) {
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && group[j] == group[i];) j++;
        train_grpo_group_advantages(rewards + i, j - i, scale_std, eps, out + i);
    }
}

int train_group_is_flat(const float *rewards, size_t G) {
    for (size_t i = 1; i < G; i++)
        if (rewards[i] != rewards[0]) return 0;
    return 1;
}
