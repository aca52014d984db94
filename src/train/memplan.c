#include "train/memplan.h"

#include <stdio.h>
#include <string.h>

#include "kernels/matmul.h"
#include "model/infer.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/peft.h"

#define RUNTIME_BYTES (512.0 * 1024 * 1024)

/* Bytes of the activations and gradient scratch one model keeps for n rows (as model/forward.c allocates them,
 * without the lm_head chunk). */
static double acts_bytes(const model_config *c, double n, double head_rows, int recompute) {
    double L = recompute ? 1.0 : (double)c->num_layers, LX = (double)c->num_layers, C = (double)c->hidden_size,
           I = (double)c->intermediate_size;
    double A = (double)(c->num_heads * c->head_dim), Q = A + 2.0 * (double)(c->num_kv_heads * c->head_dim);
    double NH = (double)c->num_heads, V = (double)c->vocab_size;
    double W = C > Q ? C : Q;
    if (2 * I > W) W = 2 * I;
    double per_row = 16 /* pos, tokens, targets */
                     + 4 * ((LX + 1) * C + 3 * L * C + 2 * L + L * Q + L * A + L * NH + L * 2 * I + L * I) /* kept */
                     + 4 * (C + 3)                             /* final norm, lse, entropy */
                     + 4 * (2 * C + Q + A + 2 * I + I);        /* gradient scratch */
    double bf = n * W > head_rows * V ? n * W : head_rows * V; /* two bf16 scratch buffers */
    return n * per_row + 2 * 2 * bf;
}

int64_t train_mem_rows(const train_mem_req *q) {
    int64_t n = q->tokens > 0 ? q->tokens : 1;
    return q->rollouts > 0 && q->rollout_len > n ? q->rollout_len : n; /* RL never splits a trajectory */
}

void train_mem_plan_make(const model_config *c, const train_mem_req *q, train_mem_plan *p) {
    memset(p, 0, sizeof *p);
    double P = (double)model_config_param_count(c), V = (double)c->vocab_size, C = (double)c->hidden_size;
    double I = (double)c->intermediate_size, n = (double)train_mem_rows(q);
    double rows = (double)(MODEL_HEAD_BYTES / (4 * (uint64_t)c->vocab_size));
    if (rows < 16) rows = 16;
    if (rows > n) rows = n;
    if (q->lora_rank > 0) {
        double T = train_mem_lora_params(c, q->lora_rank, q->lora_targets);
        p->weights = 2.0 * P + 4.0 * T * q->trained;
        p->grads = 4.0 * T * q->trained;
        p->optim = 8.0 * T * q->trained;
    } else {
        int models = q->trained + q->frozen;
        p->weights = 6.0 * P * models;
        p->grads = 4.0 * P * q->trained;
        p->optim = 8.0 * P * q->trained;
    }
    p->acts = acts_bytes(c, n, rows, q->recompute); /* RL releases each model's after its part of the step */
    p->head = 4.0 * rows * V;
    if (!kern_bf16_native()) {
        /* both operands of the largest product, widened: a chunk of logits (the lm_head's weight gradient) and the
         * lm_head's weight unless a chunk is few enough rows to widen it block by block, or an MLP's */
        double lm = rows * V + (rows <= KERN_WIDE_BLOCK_MAX_M ? rows * C : V * C), mlp = n * 2 * I + 2 * I * C;
        p->scratch = 4.0 * (lm > mlp ? lm : mlp);
    }
    if (q->rollouts > 0) {
        /* keys and values (f32, or bf16 plus an f32 copy of one layer's for the blocked kernel) at the cache's capacity
         * for the budget (rl limits its growth to it), and two rows of f32 logits a sequence (its own and its row of
         * the batch's) */
        double kv_layer = 2.0 * (double)(c->num_kv_heads * c->head_dim);
        double kv_tok = q->kv_bf16 ? kv_layer * (2.0 * (double)c->num_layers + 4.0) : kv_layer * 4.0 * c->num_layers;
        double cap = (double)model_kv_seq_capacity(0, q->rollout_len, q->rollout_len);
        p->kv = (double)q->rollouts * (cap * kv_tok + 8.0 * V);
        double pass = (double)q->rollouts * (double)q->rollout_len;
        p->infer = model_infer_workspace_bytes(c, (int64_t)(pass < MODEL_INFER_MAX_TOKENS ? pass : MODEL_INFER_MAX_TOKENS));
    }
    p->runtime = RUNTIME_BYTES;
    /* rl frees each phase's buffers before the other's: rollouts (KV cache, workspace) and the update (activations,
     * lm_head chunk) never hold theirs at once */
    double rollout = p->kv + p->infer, update = p->acts + p->head;
    p->total = p->weights + p->grads + p->optim + p->scratch + p->runtime + (rollout > update ? rollout : update);
}

double train_mem_lora_params(const model_config *c, int rank, unsigned targets) {
    double C = (double)c->hidden_size, I = (double)c->intermediate_size, A = (double)(c->num_heads * c->head_dim);
    double KV = (double)(c->num_kv_heads * c->head_dim);
    /* in + out of q, k, v, o, gate, up, down (MODEL_LORA_* bit order) */
    const double io[MODEL_LORA_NTARGETS] = {C + A, C + KV, C + KV, A + C, C + I, C + I, I + C};
    if (!targets) targets = MODEL_LORA_ALL;
    double per_layer = 0;
    for (int i = 0; i < MODEL_LORA_NTARGETS; i++)
        if (targets & (1u << i)) per_layer += (double)rank * io[i];
    return per_layer * (double)c->num_layers;
}

rt_status train_mem_model_config(const char *dir, model_config *c, int *rank, unsigned *targets, rt_error *err) {
    char path[4200], base[4096];
    const char *arch = dir;
    if (model_peft_is_adapter(dir)) {
        model_lora_cfg lc;
        rt_status st = model_peft_read_config(dir, &lc, base, sizeof base, err);
        if (st) return st;
        if (!base[0])
            return rt_err_set(err, RT_EINVAL, "%s/adapter_config.json: no base_model_name_or_path to plan memory for",
                              dir);
        if (*rank == 0) {
            *rank = lc.rank;
            *targets = lc.targets;
        }
        arch = base;
    }
    snprintf(path, sizeof path, "%s/config.json", arch);
    return model_config_load(path, c, err);
}

/* The value of "key:" in /proc/meminfo, in bytes (0 when absent). */
static uint64_t meminfo(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ':' && sscanf(line + k + 1, "%llu", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* A number from the cgroup v2 file name of this process's cgroup; 0 when absent or "max". */
static uint64_t cgroup_value(const char *name) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return 0;
    char line[4096], path[4400];
    path[0] = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/%s", line + 3, name);
        }
    fclose(f);
    if (!path[0] || !(f = fopen(path, "r"))) return 0;
    unsigned long long v = 0;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    return ok ? (uint64_t)v : 0;
}

uint64_t train_mem_available(void) {
    uint64_t avail = meminfo("MemAvailable"), max = cgroup_value("memory.max");
    if (max > 0) {
        uint64_t cur = cgroup_value("memory.current"), left = max > cur ? max - cur : 0;
        if (!avail || left < avail) avail = left;
    }
    return avail;
}

rt_status train_mem_check(const model_config *c, const train_mem_req *q, const char *what, rt_error *err) {
    train_mem_plan p;
    train_mem_plan_make(c, q, &p);
    uint64_t avail = train_mem_available();
    if (!avail || p.total <= (double)avail) return RT_OK;
    const double G = 1024.0 * 1024 * 1024;
    return rt_err_set(err, RT_ENOMEM,
                      "%s needs about %.1f GiB (weights %.1f, gradients %.1f, AdamW %.1f, activations of %lld rows "
                      "%.1f, lm_head chunk %.1f, product scratch %.1f, rollout KV %.1f, inference workspace %.1f, runtime %.1f) "
                      "but %.1f GiB "
                      "is available; `retool model info` shows the plan: use a smaller batch, micro-batch or model",
                      what, p.total / G, p.weights / G, p.grads / G, p.optim / G, (long long)train_mem_rows(q),
                      p.acts / G, p.head / G, p.scratch / G, p.kv / G, p.infer / G, p.runtime / G, (double)avail / G);
}
