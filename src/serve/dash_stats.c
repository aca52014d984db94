#include "serve/dash_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/review.h"

typedef struct bucket {
    size_t calls, refused, errors, timeouts, answers, flagged, budget, lat_n, lat_at, wall_n;
    double wall_sum;
} bucket;

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of n sorted values (nearest rank), or NAN. */
static double quantile(const float *v, size_t n, double q) {
    if (!n) return NAN;
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

static void num_or_null(cJSON *o, const char *k, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static int bucket_of(double t, double t0, double width, int nb) {
    int b = width > 0 ? (int)((t - t0) / width) : 0;
    return b < 0 ? 0 : b >= nb ? nb - 1 : b;
}

/* Distinct trajectories (request, sample) per bucket, from keys bucket<<48 | request<<16 | sample, sorted. */
static size_t count_answers(uint64_t *keys, size_t n, bucket *bk) {
    qsort(keys, n, sizeof *keys, cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && keys[i] == keys[i - 1]) continue;
        bk[keys[i] >> 48].answers++;
    }
    /* The total counts a trajectory once even when its calls fall in two buckets. */
    for (size_t i = 0; i < n; i++)
        keys[i] &= (1ull << 48) - 1;
    qsort(keys, n, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < n; i++)
        distinct += !i || keys[i] != keys[i - 1];
    return distinct;
}

rt_status dash_stats_json(const dash_queue *q, const dash_audit *a, serve_metrics *live, int nb, cJSON **out,
                          rt_error *err) {
    if (nb < 1 || nb > 256) return rt_err_set(err, RT_EINVAL, "buckets must be 1..256, not %d", nb);
    size_t nc = a->n;
    double t0 = INFINITY, t1 = -INFINITY;
    for (size_t i = 0; i < nc; i++)
        if (!a->c[i].blank) t0 = fmin(t0, a->c[i].time), t1 = fmax(t1, a->c[i].time);
    for (size_t i = 0; i < q->n; i++)
        t0 = fmin(t0, q->e[i].time), t1 = fmax(t1, q->e[i].time);
    if (!(t0 <= t1)) t0 = t1 = 0;
    double width = (t1 - t0) / nb;
    bucket *bk = calloc((size_t)nb, sizeof *bk);
    float *lat = malloc((nc ? nc : 1) * sizeof *lat);
    uint64_t *keys = malloc((nc ? nc : 1) * sizeof *keys);
    int *tag_flagged = calloc(DASH_MAX_TAGS * 6, sizeof *tag_flagged);
    if (!bk || !lat || !keys || !tag_flagged) {
        free(bk), free(lat), free(keys), free(tag_flagged);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    size_t nkeys = 0;
    for (size_t i = 0; i < nc; i++) {
        const dash_call *c = &a->c[i];
        if (c->blank) continue;
        bucket *b = &bk[bucket_of(c->time, t0, width, nb)];
        b->calls++;
        b->refused += c->status == DASH_CALL_REFUSED;
        b->errors += c->status == DASH_CALL_ERROR || c->status == DASH_CALL_SANDBOX_ERROR;
        b->timeouts += c->status == DASH_CALL_TIMEOUT;
        if (c->status != DASH_CALL_REFUSED) b->lat_n++;
        keys[nkeys++] = (uint64_t)bucket_of(c->time, t0, width, nb) << 48 | (uint64_t)c->request << 16 | c->sample;
    }
    /* Latencies grouped by bucket (a counting sort), each group sorted for its quantiles. */
    size_t at = 0;
    for (int b = 0; b < nb; b++)
        bk[b].lat_at = at, at += bk[b].lat_n, bk[b].lat_n = 0;
    for (size_t i = 0; i < nc; i++) {
        const dash_call *c = &a->c[i];
        if (c->blank || c->status == DASH_CALL_REFUSED) continue;
        bucket *b = &bk[bucket_of(c->time, t0, width, nb)];
        lat[b->lat_at + b->lat_n++] = c->latency_s;
    }
    for (int b = 0; b < nb; b++)
        qsort(lat + bk[b].lat_at, bk[b].lat_n, sizeof *lat, cmp_float);
    size_t answers = count_answers(keys, nkeys, bk);
    size_t flagged = 0, budget = 0, wall_n = 0, calls = 0, refused = 0, errors = 0, timeouts = 0;
    double wall_sum = 0;
    for (size_t i = 0; i < q->n; i++) {
        const dash_entry *e = &q->e[i];
        bucket *b = &bk[bucket_of(e->time, t0, width, nb)];
        int hit = (e->reasons & SERVE_REVIEW_BUDGET) != 0;
        b->flagged++, b->budget += hit, b->wall_sum += e->wall_s, b->wall_n++;
        flagged++, budget += hit, wall_sum += e->wall_s, wall_n++;
        int *t = &tag_flagged[e->tag * 6];
        t[0]++, t[1] += hit, t[2] += e->tool_calls, t[3] += e->samples, t[4] += e->status == DASH_PENDING;
        t[5] += (int)lround(e->wall_s * 1000);
    }
    cJSON *o = cJSON_CreateObject(), *series = cJSON_AddArrayToObject(o, "series");
    for (int b = 0; b < nb; b++) {
        const bucket *k = &bk[b];
        calls += k->calls, refused += k->refused, errors += k->errors, timeouts += k->timeouts;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "t0", t0 + width * b);
        cJSON_AddNumberToObject(s, "t1", t0 + width * (b + 1));
        cJSON_AddNumberToObject(s, "tool_calls", (double)k->calls);
        cJSON_AddNumberToObject(s, "answers_with_tools", (double)k->answers);
        num_or_null(s, "calls_per_answer", k->answers ? (double)k->calls / (double)k->answers : NAN);
        cJSON_AddNumberToObject(s, "refused", (double)k->refused);
        cJSON_AddNumberToObject(s, "errors", (double)k->errors);
        cJSON_AddNumberToObject(s, "timeouts", (double)k->timeouts);
        num_or_null(s, "latency_p50", quantile(lat + k->lat_at, k->lat_n, 0.5));
        num_or_null(s, "latency_p99", quantile(lat + k->lat_at, k->lat_n, 0.99));
        cJSON_AddNumberToObject(s, "flagged", (double)k->flagged);
        cJSON_AddNumberToObject(s, "budget_hits", (double)k->budget);
        num_or_null(s, "flagged_wall_s", k->wall_n ? k->wall_sum / (double)k->wall_n : NAN);
        cJSON_AddItemToArray(series, s);
    }
    /* Whole-run latency quantiles: every group is sorted; merge by sorting the whole array once. */
    qsort(lat, at, sizeof *lat, cmp_float);
    cJSON *t = cJSON_AddObjectToObject(o, "totals");
    cJSON_AddNumberToObject(t, "tool_calls", (double)calls);
    cJSON_AddNumberToObject(t, "answers_with_tools", (double)answers);
    num_or_null(t, "calls_per_answer", answers ? (double)calls / (double)answers : NAN);
    num_or_null(t, "latency_p50", quantile(lat, at, 0.5));
    num_or_null(t, "latency_p99", quantile(lat, at, 0.99));
    cJSON_AddNumberToObject(t, "refused", (double)refused);
    cJSON_AddNumberToObject(t, "errors", (double)errors);
    cJSON_AddNumberToObject(t, "timeouts", (double)timeouts);
    cJSON_AddNumberToObject(t, "flagged", (double)flagged);
    cJSON_AddNumberToObject(t, "budget_hits", (double)budget);
    num_or_null(t, "flagged_wall_s", wall_n ? wall_sum / (double)wall_n : NAN);
    size_t pending = 0;
    for (size_t i = 0; i < q->n; i++)
        pending += q->e[i].status == DASH_PENDING;
    cJSON_AddNumberToObject(t, "pending", (double)pending);
    cJSON *tags = cJSON_AddArrayToObject(o, "tags");
    for (size_t g = 0; g < q->ntags; g++) {
        const int *k = &tag_flagged[g * 6];
        if (!k[0]) continue;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "tag", g ? q->tags[g] : "(none)");
        cJSON_AddNumberToObject(s, "flagged", k[0]);
        cJSON_AddNumberToObject(s, "budget_hits", k[1]);
        cJSON_AddNumberToObject(s, "tool_calls", k[2]);
        cJSON_AddNumberToObject(s, "samples", k[3]);
        cJSON_AddNumberToObject(s, "pending", k[4]);
        cJSON_AddNumberToObject(s, "flagged_wall_s", k[5] / 1000.0 / k[0]);
        cJSON_AddItemToArray(tags, s);
    }
    if (live) {
        cJSON *l = cJSON_AddObjectToObject(o, "live");
        pthread_mutex_lock(&live->mu);
        cJSON_AddNumberToObject(l, "answered", (double)live->answered);
        cJSON_AddNumberToObject(l, "samples", (double)live->samples);
        cJSON_AddNumberToObject(l, "flagged", (double)live->flagged);
        cJSON_AddNumberToObject(l, "tool_calls", (double)live->tool_calls);
        cJSON_AddNumberToObject(l, "tool_refused", (double)live->tool_refused);
        cJSON_AddNumberToObject(l, "completion_tokens", (double)live->completion_tokens);
        num_or_null(l, "time_per_answer_s", live->answered ? live->answer_seconds / (double)live->answered : NAN);
        num_or_null(l, "review_rate", live->answered ? (double)live->flagged / (double)live->answered : NAN);
        pthread_mutex_unlock(&live->mu);
    } else {
        cJSON_AddNullToObject(o, "live");
    }
    free(bk), free(lat), free(keys), free(tag_flagged);
    *out = o;
    return RT_OK;
}
